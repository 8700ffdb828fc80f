#!/bin/sh
# Fake-quantized fine-tuning throughput against FP32 pre-training of the
# same model at the same batch size, in one run (issue 5: fine-tuning must
# reach at least 0.7x). Synthetic 3x32x32 images; the fused model has K
# clusters (a k-means model fitted on the same images) and B bits.
#   bench/finetune_throughput.sh [ARCH] [BATCH] [BATCHES] [K] [BITS]
#   (default resnet20 32 60 10 4)
set -eu
arch=${1:-resnet20}
batch=${2:-32}
batches=${3:-60}
k=${4:-10}
bits=${5:-4}
threads=${THREADS:-2}
py=${PYTHON_TORCH:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$py "$here/make_synthetic.py" "$tmp/synth.msgpack" 3 32 32 $((batches * batch)) $batch 10
data=dataset:$tmp/synth.msgpack
common="--data $data --epochs 1 --batch $batch --no-augment --threads $threads"

"$bin/pcq-train" --arch "$arch" $common --lr 0.01 --log "$tmp/pre.json" \
	-o "$tmp/pre.msgpack" 2>/dev/null
"$bin/pcq-kmeans" fit --data "$data" --clusters "$k" --no-augment -o "$tmp/km.msgpack" 2>/dev/null
"$bin/pcq-fuse" "$tmp/pre.msgpack" --bit "$bits" --clusters "$k" -o "$tmp/fused.msgpack"
km=
[ "$k" -gt 1 ] && km="--kmeans $tmp/km.msgpack"
"$bin/pcq-train" "$tmp/fused.msgpack" $common $km --log "$tmp/ft.json" \
	-o "$tmp/ft.msgpack" 2>/dev/null

python3 - "$tmp/pre.json" "$tmp/ft.json" "$arch" "$batch" "$k" "$bits" "$threads" <<'PY'
import json, sys
pre, ft = (json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:3])
arch, batch, k, bits, threads = sys.argv[3:]
print(f"{arch} batch {batch}, {threads} threads, fused {bits}-bit K={k}")
print(f"  pre-training (FP32):        {pre['images_per_second']:8.1f} images/s")
print(f"  fine-tuning (fake-quant):   {ft['images_per_second']:8.1f} images/s")
print(f"  ratio (fine-tuning/pre-training): {ft['images_per_second'] / pre['images_per_second']:.2f}x")
PY
