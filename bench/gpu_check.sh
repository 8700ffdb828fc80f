#!/bin/sh
# The GPU checks and benchmark of issue 8 in one device call. The device
# machine reaches no package registry, so everything is built here and
# carried in one archive: the tools, the GPU tests, the Debian libraries
# they use (the device's CUDA libraries are its own) and a synthetic data set.
#   sh bench/gpu_check.sh pack   here, after make: build/gpu-pack.tar.xz (~25 MB)
#   sh bench/gpu_check.sh run    there, with carry ["build/gpu-pack.tar.xz"]
#                                (status 1 if a test fails or the GPU's
#                                results differ from the CPU's):
#   1. the GPU's name; every GPU test (test_fuzz_pcqfile: the integer engine
#      on about 7,500 variants of two quantized models, against the CPU's);
#   2. training, batch 128, 20 timed batches: pcq-train --device $DEVICE and
#      PyTorch (bench/torch_train_cuda.py: TF32 and strict FP32), ResNet20
#      and AlexNetSmall, images/s; then ResNet20's time per layer (--profile);
#   3. a CIFAR-10-sized ResNet20 epoch on the GPU (50,000 synthetic 3x32x32
#      images with crops and flips, and 10,000 test images, made there with
#      numpy), its seconds;
#   4. ResNet20 fused at 4 bits, fine-tuned one epoch on the GPU, quantized;
#   5. pcq-infer of the FP32, fused and quantized models on 10,000 images,
#      GPU and CPU: the same top-1 (FP32 and fused: within float rounding;
#      integer: the same output integers), and the seconds of each;
#   6. where the machine has mpirun: one pre-training step on 2 ranks
#      sharing its GPU(s) against one process (common/dist.h).
#   DEVICE=host PYTHON=/usr/bin/python3 BIG="2000 1000" sh bench/gpu_check.sh run
#                                the same steps here, on the host device (devops_host)
#                                and smaller sets, without PyTorch: a check of the
#                                script before it spends GPU time
#   FROM=build/emu BATCHES=2 sh bench/gpu_check.sh pack, then
#   FROM=build/emu DEVICE=cuda PYTHON=/usr/bin/python3 BIG="300 200" sh bench/gpu_check.sh run
#                                after `make CUDA=emu all`: the same steps on the
#                                CUDA emulator (docs/TESTING.md), 2 batches of training
set -eu
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
BIG=${BIG:-50000 10000}
pack=build/gpu-pack.tar.xz
FROM=${FROM:-build/cuda}
tests="$FROM/tests/cuda/test_backend $FROM/tests/cuda/test_layers
$FROM/tests/unit/test_model_device $FROM/tests/unit/test_qengine $FROM/tests/unit/test_fuzz_pcqfile"
tools="bin/pcq-train bin/pcq-fuse bin/pcq-quantize bin/pcq-infer bin/pcq-info"
case "${1:-}" in
pack)
	stage=build/gpu-stage
	rm -rf "$stage"
	mkdir -p "$stage/lib" "$stage/data"
	for t in $tests $tools; do
		ldd "$t" | awk '$3 ~ /^\// {print $3}'
	done | sort -u | while read -r lib; do
		case $lib in
		*/libc.so* | */libm.so* | */libdl.so* | */libpthread.so* | */librt.so* | */cuda/*) ;;
		*) cp -L "$lib" "$stage/lib/" ;;
		esac
	done
	cp $tests $tools "$stage/"
	/usr/bin/python3 bench/make_synthetic.py "$stage/data/synth.msgpack" 3 32 32 \
		$((${BATCHES:-22} * 128)) 128 10 >/dev/null
	tar -C "$stage" -cJf "$pack" .
	rm -rf "$stage"
	ls -la "$pack"
	;;
run)
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
	dir=$(mktemp -d)
	tar -C "$dir" -xJf "$pack"
	export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	data="dataset:$dir/data/synth.msgpack"
	rc=0
	for t in $tests; do
		echo "== $t"
		"$dir/$(basename "$t")" || rc=1
	done
	for arch in resnet20 alexnet-small; do
		echo "== pcq-train --device $DEVICE, $arch"
		"$dir/pcq-train" --device $DEVICE --arch "$arch" --data "$data" --epochs 1 --batch 128 \
			--no-augment --log "$dir/$arch.json" -o "$dir/$arch.msgpack" \
			>"$dir/train.log" 2>&1 || rc=1
		tail -n 2 "$dir/train.log"
		tail -n 1 "$dir/$arch.json" 2>/dev/null || true
		echo "== PyTorch, $arch"
		[ "$DEVICE" != cuda ] || python3 bench/torch_train_cuda.py "$arch" 128 22 2 || true
	done
	echo "== pcq-train --device $DEVICE --profile, resnet20 (each layer's time, synchronised)"
	"$dir/pcq-train" --device $DEVICE --arch resnet20 --data "$data" --epochs 1 --batch 128 \
		--no-augment --profile -o "$dir/profiled.msgpack" 2>&1 | grep -v '^epoch' || rc=1
	echo "== a CIFAR-10-sized ResNet20 epoch on the GPU (50,000 synthetic images)"
	big=$data   # without numpy there, inference runs on the pack's 128 images
	# shellcheck disable=SC2086 # BIG is two numbers
	if "$PYTHON" bench/make_synthetic.py "$dir/data/big.msgpack" 3 32 32 $BIG 10; then
		big="dataset:$dir/data/big.msgpack"
		"$dir/pcq-train" --device $DEVICE --arch resnet20 --data "$big" \
			--epochs 1 --batch 128 --log "$dir/epoch.json" -o "$dir/epoch.msgpack" \
			>"$dir/train.log" 2>&1 || rc=1
		tail -n 1 "$dir/train.log"
		tail -n 1 "$dir/epoch.json" 2>/dev/null || true
	fi
	echo "== ResNet20 fused at 4 bits, fine-tuned one epoch on the GPU, quantized"
	"$dir/pcq-fuse" "$dir/resnet20.msgpack" --bit 4 -o "$dir/fused.msgpack" || rc=1
	"$dir/pcq-train" "$dir/fused.msgpack" --device $DEVICE --data "$data" --batch 128 \
		--no-augment --log "$dir/tuned.json" -o "$dir/tuned.msgpack" >"$dir/train.log" 2>&1 || rc=1
	tail -n 1 "$dir/train.log"
	tail -n 1 "$dir/tuned.json" 2>/dev/null || true
	"$dir/pcq-quantize" "$dir/tuned.msgpack" -o "$dir/quantized.msgpack" || rc=1
	for model in resnet20 alexnet-small tuned quantized; do
		echo "== pcq-infer $model.msgpack on 10,000 images, GPU against CPU"
		for d in cpu $DEVICE; do
			"$dir/pcq-infer" "$dir/$model.msgpack" --device $d --data "$big" --batch 256 \
				--json --predictions "$dir/pred-$d.msgpack" >"$dir/infer-$d.json" || rc=1
			python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sys.argv[2], j["mode"], "top1", j["top1"], "loss", j["loss"], "seconds", j["seconds"], "engine_seconds", j.get("engine_seconds"))' \
				"$dir/infer-$d.json" $d || rc=1
		done
		python3 - "$dir/infer-cpu.json" "$dir/infer-$DEVICE.json" <<'PY' || rc=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert abs(a['top1'] - b['top1']) <= 0.2 and abs(a['loss'] - b['loss']) <= 1e-3 * abs(a['loss']), (a, b)
PY
		if [ "$model" = quantized ]; then
			for d in cpu $DEVICE; do
				"$dir/pcq-info" --json "$dir/pred-$d.msgpack" | python3 -c 'import json,sys; print([(t["name"], t["sha256"]) for t in json.load(sys.stdin)["tensors"]])' >"$dir/pred-$d.txt"
			done
			cmp "$dir/pred-cpu.txt" "$dir/pred-$DEVICE.txt" && echo "integer outputs: identical" || rc=1
		fi
	done
	echo "== data-parallel training: a step on 2 ranks (mpirun) against one process"
	if command -v mpirun >/dev/null 2>&1; then
		step="--arch resnet20 --data $data --limit 128 --batch 128 --epochs 1 --device $DEVICE"
		"$dir/pcq-train" $step -o "$dir/rank1.msgpack" >/dev/null 2>&1 || rc=1
		OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 \
			-x LD_LIBRARY_PATH "$dir/pcq-train" $step -o "$dir/rank2.msgpack" \
			>"$dir/ranks.log" 2>&1 || { tail -n 5 "$dir/ranks.log"; rc=1; }
		for r in 1 2; do
			"$dir/pcq-infer" "$dir/rank$r.msgpack" --device cpu --data "$data" --limit 128 \
				--json >"$dir/rank$r.json" || rc=1
		done
		python3 - "$dir/rank1.json" "$dir/rank2.json" <<'PY' || rc=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print('one process: loss', a['loss'], 'top1', a['top1'], '; 2 ranks: loss', b['loss'], 'top1', b['top1'])
assert abs(a['loss'] - b['loss']) <= 1e-4 * abs(a['loss']), (a['loss'], b['loss'])
PY
	else
		echo "skipped: no mpirun on this machine (the emulator runs it: tests/e2e/test_ranks_cuda.sh)"
	fi
	exit $rc
	;;
*)
	echo "usage: bench/gpu_check.sh pack|run" >&2
	exit 2
	;;
esac
