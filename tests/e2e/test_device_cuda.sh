# The tools with --device cuda end to end, where a GPU is usable: on a GPU,
# or with the tools built on the CUDA emulator (make test-emu runs this with
# build/emu's tools; docs/TESTING.md). Skipped otherwise.
# The GPU sums in another order than the CPU, so float results are compared
# within rounding where the same model is evaluated, and training only
# loosely: this short training at lr 0.05 is chaotic (the CPU's own
# convolution kernels, PCQ_CONV=off against the default, end it with
# velocities 70 % apart), so its first epoch's loss is the check. The
# integer engine must give the CPU's output integers exactly.
. tests/e2e/lib.sh
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
[ -d /usr/share/datasets/fashion-mnist ] || skip "no Fashion-MNIST (dataset-fashion-mnist)"
export SOURCE_DATE_EPOCH=1700000000

train="--data $fm --limit 100 --batch 50 --lr 0.05 --seed 5"
pcq-train --arch resnet20 $train --epochs 1 --log "$T/cpu.log" -o "$T/cpu.msgpack" 2>/dev/null
pcq-infer "$T/cpu.msgpack" --data "$fm" --limit 1 --device cuda >/dev/null 2>&1 ||
	skip "no usable GPU (pcq-infer --device cuda: $(pcq-infer "$T/cpu.msgpack" --data "$fm" \
		--limit 1 --device cuda 2>&1 | tail -n 1))"

# loss_of LOG LINE: the training loss of epoch LINE
loss_of() { sed -n "${2}p" "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])'; }
# close A B REL: |A - B| <= REL·|B|
close() { python3 -c 'import sys; a, b, r = map(float, sys.argv[1:]); sys.exit(abs(a - b) > r * abs(b))' "$@"; }

pcq-train --arch resnet20 $train --epochs 1 --device cuda --log "$T/gpu.log" \
	-o "$T/gpu1.msgpack" 2>/dev/null
[ "$(json "$T/gpu.log" "j['device']")" = cuda ] || fail "the epoch log does not say cuda"
close "$(loss_of "$T/gpu.log" 1)" "$(loss_of "$T/cpu.log" 1)" 1e-3 ||
	fail "first epoch's loss: GPU $(loss_of "$T/gpu.log" 1), CPU $(loss_of "$T/cpu.log" 1)"
pcq-train --resume "$T/gpu1.msgpack" $train --epochs 2 --device cuda --log "$T/gpu.log" \
	-o "$T/gpu.msgpack" 2>/dev/null
[ "$(wc -l <"$T/gpu.log")" -eq 2 ] || fail "the resumed run did not log epoch 2"

# report FILE: "top1 loss" of a pcq-infer --json report
report() { json "$1" "'%s %s' % (j['top1'], j['loss'])"; }
# same_eval MODEL_ARGS REL: pcq-infer on both devices, the same top-1 and
# the loss within REL; their predictions stay in $T/pred-{cpu,cuda}.msgpack.
same_eval() {
	for d in cpu cuda; do
		pcq-infer $1 --data "$fm" --limit 100 --json --device $d \
			--predictions "$T/pred-$d.msgpack" >"$T/infer-$d.json"
	done
	set -- "$1" "$2" $(report "$T/infer-cpu.json") $(report "$T/infer-cuda.json")
	[ "$3" = "$5" ] && close "$6" "$4" "$2" || fail "pcq-infer $1: CPU $3 $4, GPU $5 $6"
}
same_eval "$T/gpu.msgpack" 1e-5

# PCQ: 4 bits, 3 clusters, fine-tuned on the GPU; the fused model's
# simulated quantization flips a rounding now and then: 1e-3.
pcq-kmeans fit --data "$fm" --limit 1000 --clusters 3 --seed 2 -o "$T/km.msgpack" 2>/dev/null
pcq-fuse "$T/gpu.msgpack" --bit 4 --clusters 3 -o "$T/fused.msgpack"
pcq-train "$T/fused.msgpack" --kmeans "$T/km.msgpack" --data "$fm" --limit 100 --batch 50 \
	--lr 0.001 --epochs 1 --device cuda --log "$T/tuned.log" -o "$T/tuned.msgpack" 2>/dev/null
same_eval "$T/tuned.msgpack --kmeans $T/km.msgpack" 1e-3
same_eval "$T/tuned.msgpack --float" 1e-5
pcq-quantize "$T/tuned.msgpack" -o "$T/q.msgpack"
same_eval "$T/q.msgpack --kmeans $T/km.msgpack" 0
[ "$(json "$T/infer-cuda.json" "j['mode'] + ' ' + j['device']")" = "integer cuda" ] ||
	fail "the report does not say the integer engine ran on cuda"
[ "$(tensor_hashes "$T/pred-cpu.msgpack")" = "$(tensor_hashes "$T/pred-cuda.msgpack")" ] ||
	fail "the GPU's output integers differ"
echo "--device cuda: pre-training, resume, PCQ fine-tuning, inference (FP32, fused, integer)"
