#!/bin/sh
# Integer inference speed of pcq-infer against PyTorch's int8 engine
# ('onednn', eager-mode static post-training quantization) and both FP32
# paths, in one run on the same machine (issue 6):
#   bench/int8_inference.sh [ARCH] [TEST_BATCHES]   (default resnet20 20)
# Synthetic 3x32x32 images. For pcq-infer: a model pre-trained one epoch,
# fused at 8 and 4 bits with K = 1 and K = 10 (SETTINGS: BITS:K words, BITS
# with a pc suffix for per-channel weights, as PyTorch's onednn qconfig
# quantizes them, then an s suffix for the symmetric weight grid, as its
# qint8 weights are; default "8:1 8:10 4:1 4:10 8pc:1 4pc:10"), fine-tuned one epoch (to
# calibrate its ranges), quantized; images/s at batch 128 over the whole
# evaluation (input quantization included, JPEG decoding and
# normalisation excluded: pcq-infer's engine_seconds), and the latency of
# one image at batch 1. 2 threads unless THREADS says otherwise.
# This shared machine's speed drifts by 10-20% within minutes, so every
# measurement, PyTorch's included, is taken ROUNDS times (default 3),
# interleaved, and the best of each is reported with the spread.
# KEEP=DIR keeps the quantized models (int-BITS-K.msgpack) and the k-means
# model there, for build/*/bench/qengine_bench.
# BASELINE=DIR also times DIR/pcq-infer (the bin/ of another checkout,
# such as the commit before a change) on the same models in the same
# rounds, interleaved, and prints its images/s and this build's ratio to it.
set -eu
arch=${1:-resnet20}
batches=${2:-20}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
. "$(dirname "$0")/torch_peer.sh"   # py, here, blas_core (PyTorch's BLAS on a core that knows this CPU), tmp
bin=$here/../bin

$py "$here/make_synthetic.py" "$tmp/synth.msgpack" 3 32 32 1280 $((batches * 128)) 10
data=dataset:$tmp/synth.msgpack
"$bin/pcq-train" --arch "$arch" --data "$data" --epochs 1 --batch 64 --lr 0.01 --no-augment \
	--threads "$threads" -o "$tmp/pre.msgpack" 2>/dev/null
"$bin/pcq-kmeans" fit --data "$data" --clusters 10 --no-augment -o "$tmp/km.msgpack" 2>/dev/null
settings=${SETTINGS:-8:1 8:10 4:1 4:10 8pc:1 4pc:10}
for s in $settings; do
	bits=${s%%:*} k=${s#*:} km= pc= sym=
	[ "$k" -gt 1 ] && km="--kmeans $tmp/km.msgpack"
	case $bits in *pc | *pcs) pc=--per-channel ;; esac
	case $bits in *s) sym=--symmetric ;; esac
	"$bin/pcq-fuse" "$tmp/pre.msgpack" --bit "${bits%%[ps]*}" $pc $sym --clusters "$k" -o - |
		"$bin/pcq-train" - --data "$data" $km --batch 32 --no-augment --threads "$threads" \
			-o "$tmp/ft.msgpack" 2>/dev/null
	"$bin/pcq-quantize" "$tmp/ft.msgpack" -o "$tmp/int-$bits-$k.msgpack"
done
r=1
while [ $r -le $rounds ]; do
	env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} $py "$here/torch_int8.py" "$arch" 128 \
		"$threads" "$batches" >"$tmp/torch.$r.json"
	"$bin/pcq-infer" "$tmp/pre.msgpack" --data "$data" --batch 128 --threads "$threads" --json \
		>"$tmp/fp32.$r.json"
	for s in $settings; do
		bits=${s%%:*} k=${s#*:} km=
		[ "$k" -gt 1 ] && km="--kmeans $tmp/km.msgpack"
		"$bin/pcq-infer" "$tmp/int-$bits-$k.msgpack" --data "$data" $km --batch 128 \
			--threads "$threads" --json >"$tmp/int-$bits-$k.$r.json"
		"$bin/pcq-infer" "$tmp/int-$bits-$k.msgpack" --data "$data" $km --batch 1 \
			--limit 200 --threads "$threads" --json >"$tmp/one-$bits-$k.$r.json"
		[ -z "${BASELINE:-}" ] ||
			"$BASELINE/pcq-infer" "$tmp/int-$bits-$k.msgpack" --data "$data" $km \
				--batch 128 --threads "$threads" --json >"$tmp/base-$bits-$k.$r.json"
	done
	r=$((r + 1))
done

python3 - "$tmp" "$arch" "$threads" "$rounds" "$settings" "${BASELINE:-}" <<'PY'
import json, os, sys
d, arch, threads, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
baseline = sys.argv[6]
settings = [s.split(':') for s in sys.argv[5].split()]
def runs(name):
    return [json.load(open(os.path.join(d, f'{name}.{r}.json'))) for r in range(1, rounds + 1)]
def best(values):
    return max(values), f'(spread {min(values):.0f}-{max(values):.0f})'
t = runs('torch')
torch_fp32, sf = best([x['fp32_images_per_second'] for x in t])
torch_int8, si = best([x['int8_images_per_second'] for x in t])
torch_one = min(x['int8_single_image_ms'] for x in t)
fp32, sp = best([x['n'] / x['seconds'] for x in runs('fp32')])
print(f"{arch}, batch 128, {threads} threads (PyTorch {t[0]['torch']}, engine {t[0]['engine']}), "
      f"best of {rounds} rounds")
print(f"  PyTorch FP32:          {torch_fp32:8.0f} images/s {sf}")
print(f"  pcq-infer FP32:        {fp32:8.0f} images/s {sp} (whole evaluation)")
print(f"  PyTorch int8:          {torch_int8:8.0f} images/s {si}, one image {torch_one:.2f} ms")
for bits, k in settings:
    ips, spread = best([x['n'] / x['engine_seconds'] for x in runs(f'int-{bits}-{k}')])
    one = min(1000 * x['engine_seconds'] / x['n'] for x in runs(f'one-{bits}-{k}'))
    name = (f"{bits.replace('pc', '').replace('s', '')}-bit{' per-channel' if 'pc' in bits else ''}"
            f"{' symmetric' if bits.endswith('s') else ''} K={k}")
    print(f"  pcq-infer {name:<30} {ips:8.0f} images/s {spread}, one image "
          f"{one:.2f} ms;  ratio to PyTorch int8 {ips / torch_int8:.2f}x")
    if baseline:
        base, bspread = best([x['n'] / x['engine_seconds'] for x in runs(f'base-{bits}-{k}')])
        print(f"    baseline {baseline}: {base:8.0f} images/s {bspread};  "
              f"this build {ips / base:.2f}x")
PY
if [ -n "${KEEP:-}" ]; then
	mkdir -p "$KEEP"
	cp "$tmp"/int-*.msgpack "$tmp/km.msgpack" "$KEEP"/
fi
