# The tools' device path (--device, issue 8) end to end, without a GPU:
# "--device host" runs model_device.c's runner on host memory (devops_host),
# with --device cuda's bookkeeping: the model moved once, batches up and
# logits down, SGD on the device, checkpoints synced back, a resumed run
# carrying its velocities, fused models' per-cluster ranges. With
# PCQ_CONV=off the CPU path convolves as the host device does, so every
# run must give the CPU's numbers exactly: the same log lines and the same
# tensor bytes; the integer engine the same output integers.
. tests/e2e/lib.sh
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
export SOURCE_DATE_EPOCH=1700000000 PCQ_CONV=off

# same_run A B: the two runs' log lines but for timings, and every tensor
same_run() {
	for x in "$1" "$2"; do
		sed 's/,"seconds".*//' "$T/$x.log" >"$T/$x.log.cut"
		pcq-info --json "$T/$x.msgpack" >"$T/$x.info"
	done
	cmp -s "$T/$1.log.cut" "$T/$2.log.cut" || fail "$1 and $2 logged differently:
$(cat "$T/$1.log.cut" "$T/$2.log.cut")"
	python3 - "$T/$1.info" "$T/$2.info" <<'PY' || fail "$1 and $2 hold different tensors"
import json, sys
a, b = ([(t['name'], t['sha256']) for t in json.load(open(p))['tensors']] for p in sys.argv[1:])
bad = [x[0] for x, y in zip(a, b) if x != y]
assert len(a) == len(b) and not bad, bad[:5]
PY
}

train="--data $fm --limit 500 --batch 50 --lr 0.05 --seed 5"
pcq-train --arch resnet20 $train --epochs 2 --log "$T/cpu.log" -o "$T/cpu.msgpack" 2>/dev/null
pcq-train --arch resnet20 $train --epochs 2 --device host --log "$T/host.log" \
	-o "$T/host.msgpack" 2>/dev/null
same_run cpu host
# one epoch, then a second from the checkpoint
pcq-train --arch resnet20 $train --epochs 1 --device host --log "$T/resumed.log" \
	-o "$T/first.msgpack" 2>/dev/null
pcq-train --resume "$T/first.msgpack" $train --epochs 2 --device host --log "$T/resumed.log" \
	-o "$T/resumed.msgpack" 2>/dev/null
same_run cpu resumed

# PCQ fine-tuning, 4 bits, 3 clusters, dropout-free ResNet20.
pcq-kmeans fit --data "$fm" --limit 1000 --clusters 3 --seed 2 -o "$T/km.msgpack" 2>/dev/null
pcq-fuse "$T/cpu.msgpack" --bit 4 --clusters 3 -o "$T/fused.msgpack"
tune="--kmeans $T/km.msgpack --data $fm --limit 500 --batch 32 --lr 0.001 --epochs 2"
pcq-train "$T/fused.msgpack" $tune --log "$T/tuned-cpu.log" -o "$T/tuned-cpu.msgpack" 2>/dev/null
pcq-train "$T/fused.msgpack" $tune --device host --log "$T/tuned-host.log" \
	-o "$T/tuned-host.msgpack" 2>/dev/null
same_run tuned-cpu tuned-host

# AlexNetSmall (dropout, max pool, linear layers), one epoch.
small="--data $fm --limit 250 --batch 50 --lr 0.01 --seed 3 --epochs 1"
pcq-train --arch alexnet-small $small --log "$T/alex-cpu.log" -o "$T/alex-cpu.msgpack" 2>/dev/null
pcq-train --arch alexnet-small $small --device host --log "$T/alex-host.log" \
	-o "$T/alex-host.msgpack" 2>/dev/null
same_run alex-cpu alex-host

# AlexNetSmall fused at 8 bits (one cluster) and calibrated by a short
# fine-tuning, then both architectures quantized.
pcq-fuse "$T/alex-cpu.msgpack" --bit 8 -o "$T/alex-fused.msgpack"
alex_tune="--data $fm --limit 150 --batch 50 --epochs 1"
pcq-train "$T/alex-fused.msgpack" $alex_tune --log "$T/alex-tuned.log" \
	-o "$T/alex-tuned.msgpack" 2>/dev/null
pcq-train "$T/alex-fused.msgpack" $alex_tune --device host --log "$T/alex-tuned-host.log" \
	-o "$T/alex-tuned-host.msgpack" 2>/dev/null
same_run alex-tuned alex-tuned-host   # one cluster: QAT
pcq-quantize "$T/alex-tuned.msgpack" -o "$T/alex-q.msgpack"
pcq-quantize "$T/tuned-cpu.msgpack" -o "$T/q.msgpack"

# pcq-infer: pre-trained, fused (simulated and float) and quantized models
# (the integer engine: qdevice.c) give the same report and, for the
# quantized ones, the same output integers. The host device runs the integer
# kernels' per-element definitions (qkernels.h), slow on a CPU, so the
# quantized models get fewer images, in several batches, a partial one last
# (AlexNetSmall on 500 images would take two minutes).
for args in "$T/cpu.msgpack" "$T/tuned-cpu.msgpack --kmeans $T/km.msgpack" \
	"$T/tuned-cpu.msgpack --float" "$T/q.msgpack --kmeans $T/km.msgpack --limit 200 --batch 64" \
	"$T/alex-q.msgpack --limit 30 --batch 12"; do
	case $args in *--limit*) ;; *) args="$args --limit 500" ;; esac
	for d in cpu host; do
		pcq-infer $args --data "$fm" --json --device $d \
			--predictions "$T/pred-$d.msgpack" |
			sed 's/"seconds":[^,]*,//; s/"engine_seconds":[^,]*,//; s/"device":"[a-z]*",//' \
			>"$T/infer-$d.json"
		tensor_hashes "$T/pred-$d.msgpack" >"$T/pred-$d.txt"
	done
	cmp -s "$T/infer-cpu.json" "$T/infer-host.json" || fail "pcq-infer $args: the device differs"
	cmp -s "$T/pred-cpu.txt" "$T/pred-host.txt" ||
		fail "pcq-infer $args: the device's predictions differ"
done
pcq-infer "$T/q.msgpack" --kmeans "$T/km.msgpack" --data "$fm" --limit 10 --device host \
	--json >"$T/last.json"
[ "$(json "$T/last.json" "j['mode'] + ' ' + j['device']")" = "integer host" ] ||
	fail "the report does not say the integer engine ran on the host device"
echo "device path = CPU path: pre-training, resume, PCQ fine-tuning, AlexNetSmall, inference" \
	"(FP32, fused, integer)"
