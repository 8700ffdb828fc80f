# What crosses between host and GPU (issue 8): the model, its gradients,
# velocities, statistics and activation ranges are allocated once and stay
# on the device; per image only the image goes up and its logits come down
# (in training its label goes up and its loss and hit come down instead of
# the logits: the loss is computed on the device). Checked on the CUDA
# emulator, which counts what a program asks of the GPU (PCQ_EMU_STATS,
# tests/cuda_emu/emu_stats.h): two runs that differ only in their number
# of images must differ in transfers by exactly those images' bytes, all
# from and to page-locked host memory (a GPU copies ordinary memory through
# a staging buffer), and not at all in allocations. Skipped elsewhere (make
# test-emu runs it).
. tests/e2e/lib.sh
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
[ -d /usr/share/datasets/fashion-mnist ] || skip "no Fashion-MNIST (dataset-fashion-mnist)"

train="--data $fm --batch 25 --epochs 1 --device cuda"
PCQ_EMU_STATS="$T/probe" pcq-train --arch resnet20 $train --limit 25 -o "$T/pre.msgpack" \
	>/dev/null 2>&1 || skip "no usable GPU"
[ -s "$T/probe" ] || skip "not the CUDA emulator: nothing counted the GPU calls"

# deltas CMD...: runs CMD with --limit 25 and --limit 50 (25 more images
# in each split, one more batch of 25), counting; prints the second run's counts minus the
# first's: allocations, their bytes, frees, bytes up, bytes down, and of
# those bytes up and down, the ones from or to ordinary host memory.
deltas() {
	rm -f "$T/stats"
	for n in 25 50; do
		PCQ_EMU_STATS="$T/stats" "$@" --limit $n >/dev/null 2>&1 || fail "$* --limit $n failed"
	done
	python3 - "$T/stats" <<'PY'
import sys
a, b = [dict(kv.split('=') for kv in line.split()) for line in open(sys.argv[1])]
print(*(int(b[k]) - int(a[k]) for k in ('malloc', 'malloc_bytes', 'free', 'h2d_bytes', 'd2h_bytes', 'h2d_pageable_bytes', 'd2h_pageable_bytes')))
PY
}
# expect WHAT UP DOWN CMD...: 25 more images in each split add UP bytes up,
# DOWN bytes down, all page-locked on the host, and no allocation.
expect() {
	what=$1 want="0 0 0 $2 $3 0 0"
	shift 3
	got=$(deltas "$@")
	[ "$got" = "$want" ] || fail "$what: 25 more images changed (allocations, their bytes," \
		"frees, bytes up, bytes down, of those from or to ordinary host memory) by $got," \
		"expected $want"
}

img=$((28 * 28 * 4)) row=$((10 * 4))   # a float image, a row of logits
# training: image and label (int32) up, loss and hit (a double each) down;
# test: image up, logits down
up=$((25 * (2 * img + 4))) down=$((25 * (16 + row)))
expect "pre-training" $up $down \
	pcq-train --arch resnet20 $train --lr 0.05 -o "$T/p.msgpack"
pcq-kmeans fit --data "$fm" --limit 500 --clusters 3 --seed 2 -o "$T/km.msgpack" 2>/dev/null
pcq-fuse "$T/pre.msgpack" --bit 4 --clusters 3 -o "$T/fused.msgpack"
expect "PCQ fine-tuning (4 bits, 3 clusters)" $up $down \
	pcq-train "$T/fused.msgpack" --kmeans "$T/km.msgpack" $train -o "$T/t.msgpack"
# the integer engine: the image's bytes and its cluster (int32) up, a byte a class down
pcq-quantize "$T/t.msgpack" -o "$T/q.msgpack"
expect "integer inference" $((25 * (28 * 28 + 4))) $((25 * 10)) \
	pcq-infer "$T/q.msgpack" --kmeans "$T/km.msgpack" --data "$fm" --batch 25 --device cuda
echo "--device cuda: no allocation per image; per image only the image, its label and its logits or loss cross, from and to page-locked memory"
