#!/bin/sh
# Detects libraries and the GPU architecture; prints make variables for
# build/config.mk. Run by make after scripts/deps.sh.
set -eu

pc() { pkg-config "$@" 2>/dev/null; }

if pc --exists openblas; then
	echo "CONFIG_BLAS := OpenBLAS $(pc --modversion openblas)"
	echo "CONFIG_CFLAGS += $(pc --cflags openblas)"
	echo "CONFIG_LIBS += $(pc --libs openblas)"
else
	echo "configure: pkg-config finds no openblas; trying -lopenblas" >&2
	echo "CONFIG_BLAS := OpenBLAS (no pkg-config)"
	echo "CONFIG_LIBS += -lopenblas"
fi
echo "CONFIG_CFLAGS += $(pc --cflags libpng) "
echo "CONFIG_LIBS += -lmsgpackc -lnettle -ljpeg $(pc --libs libpng || echo -lpng) -lz"

# Compile for the GPU on this machine when there is one; otherwise nvcc's
# default architecture with PTX, which newer GPUs compile at load time.
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ' || true)
if [ -n "$cap" ]; then
	echo "CONFIG_CUDA_ARCH := -gencode arch=compute_$cap,code=[sm_$cap,compute_$cap]"
fi

# Vector code for the loops around the GEMMs: x86-64-v3 (AVX2, FMA) when
# this machine has it; the GEMMs themselves are OpenBLAS's, chosen at run
# time. Override with make CPU_FLAGS=... (e.g. CPU_FLAGS= for a generic build).
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null &&
	echo 'int main(void){return 0;}' | ${CC:-cc} -march=x86-64-v3 -x c -o /dev/null - 2>/dev/null; then
	echo "CONFIG_CPU_FLAGS := -march=x86-64-v3"
fi
