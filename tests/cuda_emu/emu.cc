// The CUDA emulator's runtime (see cuda_runtime.h): device memory as host
// allocations it keeps a table of, launches run on the calling thread, and
// cuBLAS's SGEMM through the CPU's BLAS.
#include "cublas_v2.h"
#include "emu_stats.h"

#include <cblas.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <map>
#include <mutex>
#include <new>
#include <set>
#include <vector>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

thread_local cudaError_t last_error = cudaSuccess;

// Live device allocations: base address → size.
std::mutex table_lock;
std::map<uintptr_t, size_t> table;

// Live page-locked host allocations (cudaMallocHost): base address → size.
std::map<uintptr_t, size_t> pinned;

// Whether [p, p + bytes) lies inside one allocation of t (takes table_lock).
bool in_range(const std::map<uintptr_t, size_t> &t, const void *p, size_t bytes)
{
	const uintptr_t a = (uintptr_t)p;
	std::lock_guard<std::mutex> hold(table_lock);
	auto it = t.upper_bound(a);
	if (it == t.begin())
		return false;
	--it;
	return a - it->first < it->second && bytes <= it->second - (a - it->first);
}

// Whether [p, p + bytes) lies inside one live device allocation.
bool device_range(const void *p, size_t bytes)
{
	return in_range(table, p, bytes);
}

cudaError_t fail_with(cudaError_t e)
{
	last_error = e;
	return e;
}

}  // namespace

void emu_fail(cudaError_t e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "cuda emulator: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fail_with(e);
}

int emu_is_device(const void *p)
{
	return device_range(p, 1);
}

cudaError_t cudaGetDeviceCount(int *count)
{
	*count = 1;
	return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
	return device == 0 ? cudaSuccess : fail_with(cudaErrorInvalidValue);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device)
{
	if (device != 0)
		return fail_with(cudaErrorInvalidValue);
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "CUDA emulator on the CPU");
	p->major = 9;
	p->totalGlobalMem = (size_t)16 << 30;
	p->multiProcessorCount = 1;
	return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
	*p = NULL;
	if (bytes == 0)
		return cudaSuccess;
	void *m = malloc(bytes);
	if (!m)
		return fail_with(cudaErrorMemoryAllocation);
	memset(m, 0xff, bytes);  // never-written memory reads as NaN
	std::lock_guard<std::mutex> hold(table_lock);
	table[(uintptr_t)m] = bytes;
	*p = m;
	emu_count(EMU_MALLOC, bytes);
	return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
	if (!p)
		return cudaSuccess;
	{
		std::lock_guard<std::mutex> hold(table_lock);
		if (!table.erase((uintptr_t)p)) {
			fprintf(stderr, "cuda emulator: cudaFree(%p): not a device allocation\n", p);
			return fail_with(cudaErrorInvalidValue);
		}
	}
	free(p);
	emu_count(EMU_FREE, 0);
	return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t bytes)
{
	*p = malloc(bytes ? bytes : 1);
	if (!*p)
		return fail_with(cudaErrorMemoryAllocation);
	std::lock_guard<std::mutex> hold(table_lock);
	pinned[(uintptr_t)*p] = bytes ? bytes : 1;
	return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p)
{
	if (!p)
		return cudaSuccess;
	{
		std::lock_guard<std::mutex> hold(table_lock);
		if (!pinned.erase((uintptr_t)p)) {
			fprintf(stderr, "cuda emulator: cudaFreeHost(%p): not from cudaMallocHost\n", p);
			return fail_with(cudaErrorInvalidValue);
		}
	}
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
	const bool dst_device = kind != cudaMemcpyDeviceToHost,
		   src_device = kind != cudaMemcpyHostToDevice;
	if (bytes == 0)
		return cudaSuccess;
	if (device_range(dst, bytes) != dst_device || device_range(src, bytes) != src_device) {
		emu_fail(cudaErrorInvalidValue,
			 "cudaMemcpy of %zu bytes, kind %d: destination %p is %s device memory, "
			 "source %p is %s", bytes, (int)kind, dst,
			 device_range(dst, bytes) ? "in" : "not in", src,
			 device_range(src, bytes) ? "in" : "not in");
		return cudaErrorInvalidValue;
	}
	memcpy(dst, src, bytes);
	emu_count(kind == cudaMemcpyHostToDevice   ? EMU_H2D
		  : kind == cudaMemcpyDeviceToHost ? EMU_D2H
						   : EMU_D2D,
		  bytes);
	// A real GPU stages a copy from or to ordinary host memory through a
	// driver buffer; counted apart so tests can check the batches' path.
	const void *host = kind == cudaMemcpyHostToDevice   ? src
			   : kind == cudaMemcpyDeviceToHost ? dst
							    : NULL;
	if (host && !in_range(pinned, host, bytes))
		emu_count(kind == cudaMemcpyHostToDevice ? EMU_H2D_PAGEABLE : EMU_D2H_PAGEABLE, bytes);
	return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t bytes)
{
	if (bytes && !device_range(p, bytes)) {
		emu_fail(cudaErrorInvalidValue, "cudaMemset(%p, %zu bytes): not device memory", p,
			 bytes);
		return cudaErrorInvalidValue;
	}
	memset(p, value, bytes);
	emu_count(EMU_MEMSET, bytes);
	return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
	emu_count(EMU_SYNC, 0);
	return last_error;  // launches ran to completion when they were made
}

cudaError_t cudaGetLastError(void)
{
	cudaError_t e = last_error;
	last_error = cudaSuccess;
	return e;
}

const char *cudaGetErrorString(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return "no error";
	case cudaErrorInvalidValue: return "invalid argument";
	case cudaErrorMemoryAllocation: return "out of memory";
	case cudaErrorInvalidConfiguration: return "invalid configuration argument";
	case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
	}
	return "unknown error";
}

// The limits of every GPU since compute capability 3.0.
int emu_launch_ok(dim3 grid, dim3 block)
{
	const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
	if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu ||
	    grid.y > 65535 || grid.z > 65535 || threads == 0 || threads > 1024 ||
	    block.z > 64) {
		emu_fail(cudaErrorInvalidConfiguration,
			 "launch of grid (%u, %u, %u), blocks of (%u, %u, %u) threads", grid.x, grid.y,
			 grid.z, block.x, block.y, block.z);
		return 0;
	}
	return 1;
}

// Blocks with barriers run their threads as fibers: each runs until its
// next __syncthreads or its end, and a round ends when every live thread
// has; threads that returned no longer count. A fiber is started once
// (makecontext) and then switched to and from with _setjmp/_longjmp, which
// save no signal mask: no system call. Each fiber loops, running the
// thread body of every block it is given, so the fibers and their stacks
// serve every launch made by the host thread.
namespace {

#ifdef __SANITIZE_ADDRESS__
const size_t FIBER_STACK = 256 << 10;
#else
const size_t FIBER_STACK = 64 << 10;
#endif

struct fiber {
	jmp_buf env;
	char *stack;
	bool done;
	void *fake_stack;  // AddressSanitizer's, while switched out
};

struct scheduler {
	jmp_buf env;
	std::vector<fiber *> fibers;
	fiber *current;
	void (*thread)(void *);
	void *ctx;
	bool synced;
	const void *bottom;  // the scheduler's stack, for AddressSanitizer
	size_t size;
};

thread_local scheduler *sched;

// AddressSanitizer must be told of each change of stack.
inline void leaving(void **fake, const void *bottom, size_t size)
{
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_start_switch_fiber(fake, bottom, size);
#else
	(void)fake, (void)bottom, (void)size;
#endif
}

inline void arrived(void *fake, const void **bottom, size_t *size)
{
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_finish_switch_fiber(fake, bottom, size);
#else
	(void)fake, (void)bottom, (void)size;
#endif
}

// From the running fiber to the scheduler, until it is switched to again.
void yield_fiber(scheduler *s, fiber *f)
{
	if (!_setjmp(f->env)) {
		leaving(&f->fake_stack, s->bottom, s->size);
		_longjmp(s->env, 1);
	}
	arrived(f->fake_stack, &s->bottom, &s->size);
}

void fiber_main(void)
{
	scheduler *s = sched;
	fiber *f = s->current;
	arrived(NULL, &s->bottom, &s->size);
	yield_fiber(s, f);  // started: parked until its first block
	for (;;) {
		s->thread(s->ctx);
		f->done = true;
		yield_fiber(s, f);
	}
}

void switch_to(scheduler *s, fiber *f)
{
	void *fake = NULL;
	s->current = f;
	if (!_setjmp(s->env)) {
		leaving(&fake, f->stack, FIBER_STACK);
		_longjmp(f->env, 1);
	}
	arrived(fake, NULL, NULL);
	s->current = NULL;
}

// A new fiber, run up to its first yield.
fiber *start_fiber(scheduler *s)
{
	// the fiber's record in the first page of its mapping, its stack after
	char *m = (char *)mmap(NULL, 4096 + FIBER_STACK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	static_assert(sizeof(fiber) <= 4096, "a fiber's record fits its first page");
	fiber *f = new (m) fiber();
	f->stack = m + 4096;
	ucontext_t here, there;
	getcontext(&there);
	there.uc_stack.ss_sp = f->stack;
	there.uc_stack.ss_size = FIBER_STACK;
	there.uc_link = NULL;
	makecontext(&there, fiber_main, 0);
	s->current = f;
	void *fake = NULL;
	if (!_setjmp(s->env)) {
		leaving(&fake, f->stack, FIBER_STACK);
		swapcontext(&here, &there);
	}
	arrived(fake, NULL, NULL);
	s->current = NULL;
	return f;
}

dim3 thread_at(dim3 block, unsigned t)
{
	return dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
}

bool run_block_fibers(scheduler *s, dim3 block)
{
	const unsigned n = block.x * block.y * block.z;
	while (s->fibers.size() < n) {
		fiber *f = start_fiber(s);
		if (!f)
			return false;
		s->fibers.push_back(f);
	}
	for (unsigned t = 0; t < n; t++)
		s->fibers[t]->done = false;
	// Rounds alternate between thread order and its reverse, so that a
	// read of another thread's write without a barrier between them sees
	// the wrong value in one of the two.
	for (unsigned live = n, round = 0; live > 0; round++) {
		live = 0;
		for (unsigned i = 0; i < n; i++) {
			const unsigned t = round % 2 ? n - 1 - i : i;
			fiber *f = s->fibers[t];
			if (f->done)
				continue;
			threadIdx = thread_at(block, t);
			switch_to(s, f);
			live += !f->done;
		}
	}
	return true;
}

// Kernels seen to run without a barrier: their blocks run as plain loops.
std::mutex plain_lock;
std::set<const void *> plain_kernels;

}  // namespace

void __syncthreads(void)
{
	scheduler *s = sched;
	if (!s || !s->current) {
		fprintf(stderr, "cuda emulator: __syncthreads in a kernel whose first launch had "
				"no barrier; it is run without fibers\n");
		abort();
	}
	s->synced = true;
	yield_fiber(s, s->current);
}

void emu_run(const void *kernel, dim3 grid, dim3 block, void (*thread)(void *), void *ctx)
{
	bool plain;
	{
		std::lock_guard<std::mutex> hold(plain_lock);
		plain = plain_kernels.count(kernel) != 0;
	}
	gridDim = grid;
	blockDim = block;
	const unsigned n = block.x * block.y * block.z;
	static thread_local scheduler s;
	s.thread = thread;
	s.ctx = ctx;
	s.synced = false;
	for (unsigned z = 0; z < grid.z; z++)
		for (unsigned y = 0; y < grid.y; y++)
			for (unsigned x = 0; x < grid.x; x++) {
				blockIdx = dim3(x, y, z);
				if (plain) {
					for (unsigned t = 0; t < n; t++) {
						threadIdx = thread_at(block, t);
						thread(ctx);
					}
					continue;
				}
				sched = &s;
				bool ok = run_block_fibers(&s, block);
				sched = NULL;
				if (!ok) {
					emu_fail(cudaErrorMemoryAllocation, "no memory for fiber stacks");
					return;
				}
			}
	if (!plain && !s.synced) {
		std::lock_guard<std::mutex> hold(plain_lock);
		plain_kernels.insert(kernel);
	}
	emu_count(EMU_LAUNCH, 0);
}

// cuBLAS
struct emu_cublas {
	int unused;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle)
{
	*handle = new emu_cublas();
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle)
{
	if (!handle)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	delete handle;
	return CUBLAS_STATUS_SUCCESS;
}

// Column-major C (m×n) = alpha·op(A)·op(B) + beta·C, with cuBLAS's checks:
// each leading dimension at least its matrix's row count, operands in
// device memory, alpha and beta on the host (the default pointer mode).
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
			   cublasOperation_t transb, int m, int n, int k, const float *alpha,
			   const float *A, int lda, const float *B, int ldb, const float *beta,
			   float *C, int ldc)
{
	if (!handle)
		return CUBLAS_STATUS_NOT_INITIALIZED;
	const int a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
	const int b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
	if (m < 0 || n < 0 || k < 0 || lda < (a_rows > 1 ? a_rows : 1) ||
	    ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1)) {
		fprintf(stderr, "cuda emulator: cublasSgemm m %d n %d k %d lda %d ldb %d ldc %d: "
				"invalid\n", m, n, k, lda, ldb, ldc);
		return CUBLAS_STATUS_INVALID_VALUE;
	}
	if (m == 0 || n == 0)
		return CUBLAS_STATUS_SUCCESS;
	const size_t fl = sizeof(float);
	auto spans = [&](const float *p, int ld, int cols, int rows) {
		return cols == 0 || rows == 0 ||
		       device_range(p, ((size_t)ld * (cols - 1) + rows) * fl);
	};
	if (emu_is_device(alpha) || emu_is_device(beta) ||
	    (k > 0 && (!spans(A, lda, a_cols, a_rows) || !spans(B, ldb, b_cols, b_rows))) ||
	    !spans(C, ldc, n, m)) {
		fprintf(stderr, "cuda emulator: cublasSgemm m %d n %d k %d: an operand is not "
				"device memory of its size\n", m, n, k);
		return CUBLAS_STATUS_INVALID_VALUE;
	}
	cblas_sgemm(CblasColMajor, transa == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
		    transb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, *alpha, A, lda, B,
		    ldb, *beta, C, ldc);
	emu_count(EMU_SGEMM, 0);
	return CUBLAS_STATUS_SUCCESS;
}
