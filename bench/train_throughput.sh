#!/bin/sh
# Training throughput and peak memory of pcq-train against PyTorch on the
# same synthetic batches, in one run (issue 3). Prints one line per side
# and the ratio.
#   bench/train_throughput.sh [ARCH] [BATCHES]   (default resnet20 20)
# PyTorch: Debian's python3-torch (/usr/bin/python3), 2 threads, its
# OpenBLAS on the best core for this CPU (bench/peer_blas.sh).
# ROUNDS=N (default 1) runs both sides N times, interleaved, and reports
# each side's best images/s with the spread (a shared machine's speed can
# swing within minutes) and its largest peak RSS.
set -eu
arch=${1:-resnet20}
batches=${2:-20}
batch=128
threads=${THREADS:-2}
rounds=${ROUNDS:-1}
. "$(dirname "$0")/torch_peer.sh"   # py, here, blas_core (PyTorch's BLAS on a core that knows this CPU), tmp

# Warm-up batches are excluded from both timings; the test split is tiny.
warmup=2
$py "$here/make_synthetic.py" "$tmp/synth.msgpack" 3 32 32 $(( (batches + warmup) * batch )) $batch 10

[ -n "$blas_core" ] && echo "PyTorch's OpenBLAS does not know this CPU: OPENBLAS_CORETYPE=$blas_core"
r=1
while [ $r -le "$rounds" ]; do
	env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} $py "$here/torch_train.py" "$arch" \
		"$tmp/synth.msgpack" $batch "$threads" $warmup >"$tmp/torch.$r.json"
	# pcq-train: one epoch over the same images; its log gives the
	# training time of the epoch (warm-up included, so the figure is
	# conservative).
	/usr/bin/time -f '%M' -o "$tmp/rss.$r" "$here/../bin/pcq-train" --arch "$arch" \
		--data "dataset:$tmp/synth.msgpack" --epochs 1 --batch $batch --no-augment \
		--threads "$threads" --log "$tmp/log.$r.json" -o "$tmp/model.msgpack" 2>"$tmp/train.err" ||
		{ cat "$tmp/train.err" >&2; exit 1; }
	r=$((r + 1))
done

python3 - "$tmp" "$rounds" "$arch" "$threads" <<'PY'
import json, sys
tmp, rounds, arch, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = [json.load(open(f"{tmp}/torch.{r}.json")) for r in range(1, rounds + 1)]
p = [json.loads(open(f"{tmp}/log.{r}.json").read().splitlines()[-1]) for r in range(1, rounds + 1)]
rss = [int(open(f"{tmp}/rss.{r}").read().split()[-1]) / 1024 for r in range(1, rounds + 1)]
ts = [x["images_per_second"] for x in t]
ps = [x["images_per_second"] for x in p]
trss = max(x["peak_rss_mib"] for x in t)
spread = lambda v: f" (best of {rounds}, spread {min(v):.1f}-{max(v):.1f})" if rounds > 1 else ""
print(f"{arch} batch 128, {threads} threads")
print(f"  pytorch {t[0]['torch']}: {max(ts):8.1f} images/s, peak RSS {trss:7.1f} MiB{spread(ts)}")
print(f"  pcq-train:      {max(ps):8.1f} images/s, peak RSS {max(rss):7.1f} MiB{spread(ps)}")
print(f"  ratio (pcq/pytorch): speed {max(ps) / max(ts):.2f}x, memory {max(rss) / trss:.2f}x")
PY
