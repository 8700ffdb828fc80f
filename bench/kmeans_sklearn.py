"""The scikit-learn side of bench/kmeans_vs_sklearn.sh.

MiniBatchKMeans.partial_fit over shuffled mini-batches of the features
that pcq-kmeans exported, with pcq-kmeans' epoch loop and stop rule; then
the inertia over all training features of its centres and of pcq-kmeans'.
Arguments: FEATURES KMEANS K BATCH EPOCHS TOL SEED PCQ_SECONDS PCQ_BATCHES
PCQ_CONVERGED."""
import sys
import time

import msgpack
import numpy as np
from sklearn.cluster import MiniBatchKMeans


def tensor(f, name):
    t = next(t for t in f["tensors"] if t["name"] == name)
    assert t["dtype"] == "f32", t["dtype"]
    return np.frombuffer(t["data"], dtype="<f4").reshape(t["shape"])


def inertia(x, centres):
    """Sum over points of the squared distance to the nearest centre (float64)."""
    x = x.astype(np.float64)
    c = centres.astype(np.float64)
    total = 0.0
    for at in range(0, len(x), 8192):
        d = ((x[at:at + 8192, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        total += d.min(axis=1).sum()
    return total


def main():
    (feat_path, km_path, k, batch, epochs, tol, seed, pcq_seconds, pcq_batches,
     pcq_converged) = sys.argv[1:]
    k, batch, epochs, seed = int(k), int(batch), int(epochs), int(seed)
    tol, pcq_seconds = float(tol), float(pcq_seconds)
    with open(feat_path, "rb") as fp:
        x = np.ascontiguousarray(tensor(msgpack.unpackb(fp.read()), "features"))
    with open(km_path, "rb") as fp:
        pcq_centres = tensor(msgpack.unpackb(fp.read()), "centres")
    n = len(x)

    mbk = MiniBatchKMeans(n_clusters=k, batch_size=batch, random_state=seed, n_init=1)
    rng = np.random.default_rng(seed)
    prev, steps, converged = None, 0, False
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        for at in range(0, n, batch):
            mbk.partial_fit(x[order[at:at + batch]])
            steps += 1
            c = mbk.cluster_centers_
            if prev is not None and np.linalg.norm(c - prev) <= tol:
                converged = True
                break
            prev = c.copy()
        if converged:
            break
    seconds = time.perf_counter() - t0

    ours, theirs = inertia(x, pcq_centres), inertia(x, mbk.cluster_centers_)
    print(f"{n} points, {x.shape[1]} features, {k} clusters, batch {batch}, "
          f"at most {epochs} epochs, tol {tol:g}")
    print(f"pcq-kmeans: inertia {ours:.6g} ({ours / n:.6g} per point), fit {pcq_seconds:.3f} s, "
          f"{pcq_batches} batches, {'converged' if pcq_converged == '1' else 'not converged'}")
    print(f"sklearn   : inertia {theirs:.6g} ({theirs / n:.6g} per point), fit {seconds:.3f} s, "
          f"{steps} batches, {'converged' if converged else 'not converged'}")
    print(f"inertia pcq/sklearn {ours / theirs:.4f}; fit time sklearn/pcq "
          f"{seconds / max(pcq_seconds, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
