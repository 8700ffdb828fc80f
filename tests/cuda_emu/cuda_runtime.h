/* The CUDA emulator (docs/TESTING.md): the part of the CUDA runtime that
 * cuda/ uses, on the CPU, so cuda/'s own source runs in the tests of a
 * machine without a GPU. The Makefile's CUDA=emu build compiles each .cu
 * file with the C++ compiler against this header, after rewriting every
 * launch `k<<<grid, block>>>(args)` into `emu_launch(k, grid, block, args)`.
 *
 * A launch runs every block in turn and every thread of a block, in
 * order; a kernel that calls __syncthreads runs its block's threads as
 * fibers that all reach each barrier before any passes it. The emulator
 * also checks what a GPU would refuse or crash on: launch configurations
 * (an empty grid, too many threads), pointers that are not device memory
 * (kernel arguments, copies, cuBLAS operands) and copies in the wrong
 * direction; fresh device memory is filled with 0xff bytes (NaN floats) so
 * that reading what was never written shows. It does not model the GPU's
 * memory ordering, warps or float units. */
#ifndef PCQ_CUDA_EMU_RUNTIME_H
#define PCQ_CUDA_EMU_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
/* One block runs at a time, so a function's statics are its block's. */
#define __shared__ static

struct dim3 {
	unsigned x, y, z;
	constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

extern thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

void __syncthreads(void);

/* The device's correctly rounded float operations; the emulator is built
 * with -ffp-contract=off, so no expression becomes an FMA either. */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline int min(int a, int b) { return a < b ? a : b; }

enum cudaError_t {
	cudaSuccess = 0,
	cudaErrorInvalidValue = 1,
	cudaErrorMemoryAllocation = 2,
	cudaErrorInvalidConfiguration = 9,
	cudaErrorIllegalAddress = 700,
};

enum cudaMemcpyKind {
	cudaMemcpyHostToDevice = 1,
	cudaMemcpyDeviceToHost = 2,
	cudaMemcpyDeviceToDevice = 3,
};

struct cudaDeviceProp {
	char name[256];
	int major, minor;
	size_t totalGlobalMem;
	int multiProcessorCount;
};

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);  /* host memory, as malloc */
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);

/* The emulator's own (tests/cuda_emu/emu.cc). */
int emu_is_device(const void *p);      /* inside a live device allocation */
int emu_launch_ok(dim3 grid, dim3 block);  /* else the error is recorded */
void emu_fail(cudaError_t e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emu_run(const void *kernel, dim3 grid, dim3 block, void (*thread)(void *), void *ctx);

/* The structs that cuda/ passes by value with device pointers in them:
 * each pointer member is checked as a pointer argument (emu_structs.cc). */
struct qk_node;
int emu_struct_ok(const qk_node &n, int i);

template <typename T> int emu_arg_ok(const T &arg, int i)
{
	if constexpr (std::is_pointer_v<T>) {
		if (arg && !emu_is_device((const void *)arg)) {
			emu_fail(cudaErrorIllegalAddress,
				 "kernel argument %d (%p) is not device memory", i, (const void *)arg);
			return 0;
		}
	} else if constexpr (std::is_same_v<T, qk_node>) {
		return emu_struct_ok(arg, i);
	}
	return 1;
}

/* k<<<grid, block>>>(args): the arguments converted to the kernel's
 * parameter types once, then each thread calls k with copies of them. */
template <typename... P, typename... A>
void emu_launch(void (*k)(P...), dim3 grid, dim3 block, A &&...a)
{
	static_assert(sizeof...(P) == sizeof...(A), "kernel launched with a wrong argument count");
	std::tuple<P...> args(std::forward<A>(a)...);
	int ok = emu_launch_ok(grid, block);
	std::apply([&](const auto &...x) {
		int i = 0;
		((ok = ok && emu_arg_ok(x, i++)), ...);
	}, args);
	if (!ok)
		return;
	struct call {
		void (*k)(P...);
		std::tuple<P...> *args;
		static void run(void *c)
		{
			call *self = (call *)c;
			std::apply(self->k, *self->args);
		}
	} c = {k, &args};
	emu_run((const void *)k, grid, block, call::run, &c);
}

#endif
