#!/bin/sh
# Integer inference speed of pcq-infer against PyTorch's int8 engine
# ('onednn', eager-mode static post-training quantization) and both FP32
# paths, in one run on the same machine (issue 6):
#   bench/int8_inference.sh [ARCH] [TEST_BATCHES]   (default resnet20 20)
# Synthetic 3x32x32 images. For pcq-infer: a model pre-trained one epoch,
# fused at 8 and 4 bits with K = 1 and K = 10, fine-tuned one epoch (to
# calibrate its ranges), quantized; images/s at batch 128 over the whole
# evaluation (input quantization included, JPEG decoding and
# normalisation excluded: pcq-infer's engine_seconds), and the latency of
# one image at batch 1. 2 threads unless THREADS says otherwise.
set -eu
arch=${1:-resnet20}
batches=${2:-20}
threads=${THREADS:-2}
py=${PYTHON_TORCH:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$py "$here/make_synthetic.py" "$tmp/synth.msgpack" 3 32 32 1280 $((batches * 128)) 10
data=dataset:$tmp/synth.msgpack
"$bin/pcq-train" --arch "$arch" --data "$data" --epochs 1 --batch 64 --lr 0.01 --no-augment \
	--threads "$threads" -o "$tmp/pre.msgpack" 2>/dev/null
"$bin/pcq-kmeans" fit --data "$data" --clusters 10 --no-augment -o "$tmp/km.msgpack" 2>/dev/null
"$bin/pcq-infer" "$tmp/pre.msgpack" --data "$data" --batch 128 --threads "$threads" --json \
	>"$tmp/fp32.json"
for bits in 8 4; do
	for k in 1 10; do
		km=
		[ "$k" -gt 1 ] && km="--kmeans $tmp/km.msgpack"
		"$bin/pcq-fuse" "$tmp/pre.msgpack" --bit $bits --clusters $k -o - |
			"$bin/pcq-train" - --data "$data" $km --batch 32 --no-augment --threads "$threads" \
				-o "$tmp/ft.msgpack" 2>/dev/null
		"$bin/pcq-quantize" "$tmp/ft.msgpack" -o "$tmp/int-$bits-$k.msgpack"
		"$bin/pcq-infer" "$tmp/int-$bits-$k.msgpack" --data "$data" $km --batch 128 \
			--threads "$threads" --json >"$tmp/int-$bits-$k.json"
		"$bin/pcq-infer" "$tmp/int-$bits-$k.msgpack" --data "$data" $km --batch 1 --limit 200 \
			--threads "$threads" --json >"$tmp/one-$bits-$k.json"
	done
done
$py "$here/torch_int8.py" "$arch" 128 "$threads" "$batches" >"$tmp/torch.json"

python3 - "$tmp" "$arch" "$threads" <<'PY'
import json, os, sys
d, arch, threads = sys.argv[1:]
j = lambda n: json.load(open(os.path.join(d, n)))
t = j('torch.json')
fp = j('fp32.json')
print(f"{arch}, batch 128, {threads} threads (PyTorch {t['torch']}, engine {t['engine']})")
print(f"  PyTorch FP32:          {t['fp32_images_per_second']:8.0f} images/s")
print(f"  pcq-infer FP32:        {fp['n'] / fp['seconds']:8.0f} images/s (whole evaluation)")
print(f"  PyTorch int8:          {t['int8_images_per_second']:8.0f} images/s, one image {t['int8_single_image_ms']:.2f} ms")
for bits in (8, 4):
    for k in (1, 10):
        r, one = j(f'int-{bits}-{k}.json'), j(f'one-{bits}-{k}.json')
        ips = r['n'] / r['engine_seconds']
        print(f"  pcq-infer {bits}-bit K={k:<2}:   {ips:8.0f} images/s, one image "
              f"{1000 * one['engine_seconds'] / one['n']:.2f} ms;  ratio to PyTorch int8 "
              f"{ips / t['int8_images_per_second']:.2f}x")
PY
