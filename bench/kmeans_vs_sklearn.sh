#!/bin/sh
# pcq-kmeans fit against scikit-learn's MiniBatchKMeans (issue 4) on the
# SAME features: pcq-kmeans exports the (non-augmented) training features,
# scikit-learn runs partial_fit over shuffled mini-batches of them with the
# same epoch loop and stop rule (Frobenius norm of the change of all
# centres over one batch <= tol, never on the first batch), and both final
# models are scored by the inertia over the full training set, computed by
# the same Python code. Prints one line per side and the ratios.
#   bench/kmeans_vs_sklearn.sh [DATA] [extra pcq-kmeans options, e.g. --limit 5000]
# DATA defaults to the CIFAR-10 copy (scripts/cifar10-jpeg.sh). Knobs:
# CLUSTERS (10), PARTITIONS (4), BATCH (128), EPOCHS (100), TOL (1e-4),
# SEED (1), THREADS (2). scikit-learn: Debian's python3-sklearn
# (/usr/bin/python3, or PYTHON_SKLEARN).
# pcq-kmeans' fit time includes making each batch's features from the
# images; scikit-learn's starts from the features in memory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
if [ $# -gt 0 ]; then
	data=$1
	shift
else
	data=folder:$(sh "$root/scripts/cifar10-jpeg.sh")
fi
k=${CLUSTERS:-10} p=${PARTITIONS:-4} b=${BATCH:-128} e=${EPOCHS:-100}
tol=${TOL:-1e-4} seed=${SEED:-1} threads=${THREADS:-2}
py=${PYTHON_SKLEARN:-/usr/bin/python3}
$py -c 'import sklearn, msgpack, numpy' 2>/dev/null || {
	echo "kmeans_vs_sklearn: $py needs sklearn, msgpack and numpy:" \
		"apt-get install python3-sklearn python3-msgpack python3-numpy" >&2
	exit 1
}
. "$here/peer_blas.sh"   # numpy's BLAS on a core that knows this CPU
blas_core=$(peer_blas_core "$py" numpy)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$root/bin/pcq-kmeans" features --data "$data" --partitions "$p" --threads "$threads" "$@" \
	-o "$tmp/features.msgpack"
"$root/bin/pcq-kmeans" fit --data "$data" --no-augment --clusters "$k" --partitions "$p" \
	--batch "$b" --epochs "$e" --tol "$tol" --seed "$seed" --threads "$threads" "$@" \
	-o "$tmp/kmeans.msgpack" 2>"$tmp/fit.log" || { cat "$tmp/fit.log" >&2; exit 1; }
summary=$(grep '^pcq-kmeans: .* fitted in ' "$tmp/fit.log")
seconds=$(echo "$summary" | sed 's/.* fitted in \([0-9.]*\) s.*/\1/')
batches=$(echo "$summary" | sed 's/.* \([0-9]*\) batches.*/\1/')
converged=$(echo "$summary" | grep -q ' not converged' && echo 0 || echo 1)

OMP_NUM_THREADS=$threads env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} $py "$here/kmeans_sklearn.py" "$tmp/features.msgpack" \
	"$tmp/kmeans.msgpack" "$k" "$b" "$e" "$tol" "$seed" "$seconds" "$batches" "$converged"
