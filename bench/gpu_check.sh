#!/bin/sh
# The GPU checks and benchmark of issue 8 in one device call. The device
# machine reaches no package registry, so everything is built here and
# carried in one archive: the tools, the GPU tests, the Debian libraries
# they use (the device's CUDA libraries are its own) and a synthetic data set.
#   sh bench/gpu_check.sh pack   here, after make: build/gpu-pack.tar.xz (~35 MB)
#   sh bench/gpu_check.sh run    there, with carry ["build/gpu-pack.tar.xz"]:
#                                the GPU's name; every GPU test (status 1 if
#                                one fails); then pcq-train --device cuda and
#                                PyTorch on the GPU (bench/torch_train_cuda.py):
#                                images/s of ResNet20 and AlexNetSmall, batch 128;
#                                then ResNet20 fused (4 bits) and fine-tuned on
#                                the GPU, and pcq-infer of both models on the
#                                GPU against the CPU (status 1 if they differ)
set -eu
cd "$(dirname "$0")/.."
pack=build/gpu-pack.tar.xz
tests="build/cuda/tests/cuda/test_backend build/cuda/tests/cuda/test_layers
build/cuda/tests/unit/test_model_device"
case "${1:-}" in
pack)
	stage=build/gpu-stage
	rm -rf "$stage"
	mkdir -p "$stage/lib" "$stage/data"
	for t in $tests bin/pcq-train bin/pcq-fuse bin/pcq-infer; do
		ldd "$t" | awk '$3 ~ /^\// {print $3}'
	done | sort -u | while read -r lib; do
		case $lib in
		*/libc.so* | */libm.so* | */libdl.so* | */libpthread.so* | */librt.so* | */cuda/*) ;;
		*) cp -L "$lib" "$stage/lib/" ;;
		esac
	done
	cp $tests bin/pcq-train bin/pcq-fuse bin/pcq-infer "$stage/"
	/usr/bin/python3 bench/make_synthetic.py "$stage/data/synth.msgpack" 3 32 32 \
		$((22 * 128)) 128 10 >/dev/null
	tar -C "$stage" -cJf "$pack" .
	rm -rf "$stage"
	ls -la "$pack"
	;;
run)
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
	dir=$(mktemp -d)
	tar -C "$dir" -xJf "$pack"
	export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	rc=0
	for t in $tests; do
		echo "== $t"
		"$dir/$(basename "$t")" || rc=1
	done
	for arch in resnet20 alexnet-small; do
		echo "== pcq-train --device cuda, $arch"
		"$dir/pcq-train" --device cuda --arch "$arch" --data "dataset:$dir/data/synth.msgpack" \
			--epochs 1 --batch 128 --no-augment --log "$dir/$arch.json" \
			-o "$dir/$arch.msgpack" >"$dir/train.log" 2>&1 || rc=1
		tail -n 2 "$dir/train.log"
		tail -n 1 "$dir/$arch.json" 2>/dev/null || true
		echo "== PyTorch, $arch"
		python3 bench/torch_train_cuda.py "$arch" 128 22 2 || true
	done
	data="dataset:$dir/data/synth.msgpack"
	echo "== pcq-train --device cuda, ResNet20 fused at 4 bits, fine-tuned one epoch"
	"$dir/pcq-fuse" "$dir/resnet20.msgpack" --bit 4 -o "$dir/fused.msgpack" || rc=1
	"$dir/pcq-train" "$dir/fused.msgpack" --device cuda --data "$data" --batch 128 \
		--no-augment --log "$dir/tuned.json" -o "$dir/tuned.msgpack" >"$dir/train.log" 2>&1 || rc=1
	tail -n 2 "$dir/train.log"
	tail -n 1 "$dir/tuned.json" 2>/dev/null || true
	for model in resnet20 tuned; do
		echo "== pcq-infer $model.msgpack, GPU against CPU"
		for d in cpu cuda; do
			"$dir/pcq-infer" "$dir/$model.msgpack" --device $d --data "$data" --batch 128 \
				--json >"$dir/infer-$d.json" || rc=1
			python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sys.argv[2], j["top1"], j["loss"], j["seconds"])' \
				"$dir/infer-$d.json" $d || rc=1
		done
		python3 - "$dir/infer-cpu.json" "$dir/infer-cuda.json" <<'PY' || rc=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert abs(a['top1'] - b['top1']) <= 0.5 and abs(a['loss'] - b['loss']) <= 1e-3 * abs(a['loss']), (a, b)
PY
	done
	exit $rc
	;;
*)
	echo "usage: bench/gpu_check.sh pack|run" >&2
	exit 2
	;;
esac
