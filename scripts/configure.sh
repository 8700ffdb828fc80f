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
# oneDNN (common/igemm.c). Debian's libdnnl-dev ships no .pc file. It is
# linked --as-needed: the tools that never call the integer GEMM do not
# load its 40 MB library. It uses libgomp, the OpenMP of gcc -fopenmp.
if pc --exists dnnl; then
	echo "CONFIG_CFLAGS += $(pc --cflags dnnl)"
	echo "CONFIG_LIBS += -Wl,--as-needed $(pc --libs dnnl) -Wl,--no-as-needed"
else
	echo "CONFIG_LIBS += -Wl,--as-needed -ldnnl -Wl,--no-as-needed"
fi
# OpenMPI (common/dist.c): data-parallel training under mpirun. Linked
# --as-needed: only pcq-train loads it. Without it pcq-train is one rank.
if pc --exists ompi-c; then
	echo "CONFIG_CFLAGS += -DPCQ_MPI $(pc --cflags ompi-c)"
	echo "CONFIG_LIBS += -Wl,--as-needed $(pc --libs ompi-c) -Wl,--no-as-needed"
else
	echo "configure: pkg-config finds no ompi-c (libopenmpi-dev): pcq-train runs as one rank only" >&2
fi
echo "CONFIG_CFLAGS += $(pc --cflags libpng) "
echo "CONFIG_LIBS += -lmsgpackc -lnettle -ljpeg $(pc --libs libpng || echo -lpng) -lz"

# CUDA: a machine may have nvcc without cuBLAS, or its libraries outside
# nvcc's own tree, so detection is a real compile and link of a cuBLAS call.
# CONFIG_CUDA_LIBDIR stays empty when that fails; CUDA=auto then builds for
# the CPU only, CUDA=1 stops with the reason.
cuda_libdir=
if [ -n "${NVCC:-}" ] && [ -x "$NVCC" ]; then
	home=$(dirname "$(dirname "$NVCC")")
	probe=$(mktemp -d)
	trap 'rm -rf "$probe"' EXIT
	cat > "$probe/p.cu" <<'CU'
#include <cublas_v2.h>
#include <cuda_runtime.h>
int main(void) { int n = 0; cublasHandle_t h; cudaGetDeviceCount(&n); (void)h; return cublasGetVersion(0, &n) == CUBLAS_STATUS_SUCCESS ? 0 : 0; }
CU
	if "$NVCC" -c "$probe/p.cu" -o "$probe/p.o" 2>"$probe/err"; then
		for d in "$home/lib64" "$home/lib" "$home/targets/x86_64-linux/lib" \
			/usr/lib/x86_64-linux-gnu /usr/lib/cuda/lib64; do
			[ -e "$d/libcudart_static.a" ] || continue
			if ${CC:-cc} "$probe/p.o" -L"$d" -lcublas -lcudart_static -ldl -lrt -lpthread -lstdc++ \
				-o "$probe/p" 2>>"$probe/err"; then
				cuda_libdir=$d
				break
			fi
		done
		[ -n "$cuda_libdir" ] || echo "configure: $NVCC compiles but cuBLAS and the static CUDA runtime do not link (looked in $home/lib64, $home/lib, $home/targets/x86_64-linux/lib, /usr/lib/x86_64-linux-gnu)" >&2
	else
		echo "configure: $NVCC cannot compile a cuBLAS program: $(head -n 1 "$probe/err")" >&2
	fi
fi
echo "CONFIG_CUDA_LIBDIR := $cuda_libdir"

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
