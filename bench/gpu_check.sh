#!/bin/sh
# The GPU checks of issue 8 in one device call. The device machine reaches
# no package registry, so build here and carry the build and the Debian
# libraries the test binaries use (its CUDA libraries are its own):
#   sh bench/gpu_check.sh pack     here: copies those libraries to build/gpu-libs
#   sh bench/gpu_check.sh run      there (device tool, carry build/cuda/tests/cuda
#                                  and build/gpu-libs, about 45 MB): the GPU's name,
#                                  then every tests/cuda test; status 1 if one fails
set -eu
cd "$(dirname "$0")/.."
libs=build/gpu-libs
case "${1:-}" in
pack)
	mkdir -p "$libs"
	for t in build/cuda/tests/cuda/test_*; do
		case $t in *.d | *.o) continue ;; esac
		ldd "$t" | awk '$3 ~ /^\// {print $3}'
	done | sort -u | while read -r lib; do
		case $lib in
		*/libc.so* | */libm.so* | */libdl.so* | */libpthread.so* | */librt.so* | */cuda/*) ;;
		*) cp -L "$lib" "$libs/" ;;
		esac
	done
	du -sh "$libs" build/cuda/tests/cuda
	;;
run)
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
	rc=0
	for t in build/cuda/tests/cuda/test_*; do
		case $t in *.d | *.o) continue ;; esac
		echo "== $t"
		LD_LIBRARY_PATH="$PWD/$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$t" || rc=1
	done
	exit $rc
	;;
*)
	echo "usage: bench/gpu_check.sh pack|run" >&2
	exit 2
	;;
esac
