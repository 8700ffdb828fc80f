#!/bin/sh
# What one training step and one inference batch ask of the GPU, counted on
# the CUDA emulator (tests/cuda_emu, PCQ_EMU_STATS): kernel launches, cuBLAS
# SGEMMs, device-to-device copies, memsets, host<->device copies and their
# bytes, synchronisations. Exact counts of the real cuda/ code's calls, not
# timings: on a GPU each launch costs the host a few microseconds, so they
# bound how fast a small batch can go whatever the kernels do.
#   make CUDA=emu all && sh bench/device_calls.sh    (about 3 minutes)
# Each figure is the difference between runs of 3 and 1 batches of BATCH
# (default 32) synthetic 3x32x32 images (the same test split), halved.
set -eu
cd "$(dirname "$0")/.."
bin=${FROM:-build/emu}/bin
batch=${BATCH:-32}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
for n in 1 3; do
	/usr/bin/python3 bench/make_synthetic.py "$t/d$n.msgpack" 3 32 32 $((n * batch)) $batch 10
done
# per WHAT CMD...: CMD with DATA replaced by each data set, counted; prints
# the counts of two more batches, halved.
per() {
	what=$1
	shift
	rm -f "$t/stats"
	for n in 1 3; do
		cmd=$(echo "$*" | sed "s|DATA|dataset:$t/d$n.msgpack|")
		PCQ_EMU_STATS="$t/stats" $cmd >/dev/null 2>"$t/err" || { cat "$t/err"; exit 1; }
	done
	python3 - "$t/stats" "$what" <<'PY'
import sys
a, b = [dict(kv.split('=') for kv in line.split()) for line in open(sys.argv[1])]
d = {k: (int(b[k]) - int(a[k])) // 2 for k in a}
print(f"{sys.argv[2]:<40} {d['launch']:>7} {d['sgemm']:>6} {d['d2d']:>5} {d['memset']:>7} "
      f"{d['h2d']:>4} {d['h2d_bytes']:>9} {d['d2h']:>4} {d['d2h_bytes']:>9} {d['sync']:>5}")
PY
}
echo "batch $batch; per training step or inference batch:"
printf '%-40s %7s %6s %5s %7s %4s %9s %4s %9s %5s\n' "" launches sgemm d2d memsets up "bytes" down \
	"bytes" syncs
for arch in resnet20 alexnet-small; do
	"$bin/pcq-train" --arch $arch --data "dataset:$t/d1.msgpack" --epochs 1 --batch $batch \
		-o "$t/$arch.msgpack" >/dev/null 2>&1
	"$bin/pcq-fuse" "$t/$arch.msgpack" --bit 8 -o "$t/$arch-fused.msgpack"
	"$bin/pcq-train" "$t/$arch-fused.msgpack" --data "dataset:$t/d1.msgpack" --batch $batch \
		-o "$t/$arch-tuned.msgpack" >/dev/null 2>&1
	"$bin/pcq-quantize" "$t/$arch-tuned.msgpack" -o "$t/$arch-q.msgpack"
	# the test split is the same in both runs: the difference is training
	# steps (pcq-infer: batches of the train split) only
	per "$arch pre-training step" "$bin/pcq-train" --arch $arch --data DATA --epochs 1 \
		--batch $batch --no-augment --device cuda -o "$t/x.msgpack"
	per "$arch QAT 8-bit fine-tuning step" "$bin/pcq-train" "$t/$arch-fused.msgpack" \
		--data DATA --batch $batch --no-augment --device cuda -o "$t/x.msgpack"
	per "$arch FP32 inference batch" "$bin/pcq-infer" "$t/$arch.msgpack" --data DATA --split train \
		--batch $batch --device cuda
	per "$arch integer inference batch" "$bin/pcq-infer" "$t/$arch-q.msgpack" --data DATA --split train \
		--batch $batch --device cuda
done
