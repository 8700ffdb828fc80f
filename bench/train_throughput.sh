#!/bin/sh
# Training throughput and peak memory of pcq-train against PyTorch on the
# same synthetic batches, in one run (issue 3). Prints one line per side
# and the ratio.
#   bench/train_throughput.sh [ARCH] [BATCHES]   (default resnet20 20)
# PyTorch: Debian's python3-torch (/usr/bin/python3), 2 threads, its
# OpenBLAS on the best core for this CPU (bench/peer_blas.sh).
set -eu
arch=${1:-resnet20}
batches=${2:-20}
batch=128
threads=${THREADS:-2}
py=${PYTHON_TORCH:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/peer_blas.sh"
blas_core=$(peer_blas_core "$py" torch)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Warm-up batches are excluded from both timings; the test split is tiny.
warmup=2
$py "$here/make_synthetic.py" "$tmp/synth.msgpack" 3 32 32 $(( (batches + warmup) * batch )) $batch 10

[ -n "$blas_core" ] && echo "PyTorch's OpenBLAS does not know this CPU: OPENBLAS_CORETYPE=$blas_core"
env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} $py "$here/torch_train.py" "$arch" \
	"$tmp/synth.msgpack" $batch "$threads" $warmup >"$tmp/torch.json"

# pcq-train: one epoch over the same images; its log gives the training
# time of the epoch (warm-up included, so the figure is conservative).
/usr/bin/time -f '%M' -o "$tmp/rss" "$here/../bin/pcq-train" --arch "$arch" \
	--data "dataset:$tmp/synth.msgpack" --epochs 1 --batch $batch --no-augment \
	--threads "$threads" --log "$tmp/log.json" -o "$tmp/model.msgpack" 2>"$tmp/train.err" ||
	{ cat "$tmp/train.err" >&2; exit 1; }

python3 - "$tmp/torch.json" "$tmp/log.json" "$tmp/rss" "$arch" "$threads" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
p = json.loads(open(sys.argv[2]).read().splitlines()[-1])
rss = int(open(sys.argv[3]).read().split()[-1]) / 1024
print(f"{sys.argv[4]} batch 128, {sys.argv[5]} threads")
print(f"  pytorch {t['torch']}: {t['images_per_second']:8.1f} images/s, peak RSS {t['peak_rss_mib']:7.1f} MiB")
print(f"  pcq-train:      {p['images_per_second']:8.1f} images/s, peak RSS {rss:7.1f} MiB")
print(f"  ratio (pcq/pytorch): speed {p['images_per_second'] / t['images_per_second']:.2f}x, "
      f"memory {rss / t['peak_rss_mib']:.2f}x")
PY
