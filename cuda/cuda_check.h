/* Checked CUDA and cuBLAS calls: a failure reports the call, file:line and
 * the library's message, and makes the enclosing function return -1 (a
 * missing or broken GPU is an environment problem the caller reports, not
 * an internal invariant). */
#ifndef PCQ_CUDA_CHECK_H
#define PCQ_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>

#define CUDA_CHECK(call)                                                      \
	do {                                                                  \
		cudaError_t e_ = (call);                                      \
		if (e_ != cudaSuccess) {                                      \
			fprintf(stderr, "cuda: %s failed at %s:%d: %s\n", #call, \
				__FILE__, __LINE__, cudaGetErrorString(e_));  \
			return -1;                                            \
		}                                                             \
	} while (0)

#define CUBLAS_CHECK(call)                                                    \
	do {                                                                  \
		cublasStatus_t s_ = (call);                                   \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                            \
			fprintf(stderr, "cublas: %s failed at %s:%d: status %d\n", \
				#call, __FILE__, __LINE__, (int)s_);           \
			return -1;                                            \
		}                                                             \
	} while (0)

// Kernel launches: one thread per element in blocks of CUDA_THREADS, and
// a launch's error (bad configuration, no device) as the caller's -1.
static const int CUDA_THREADS = 256;

static inline unsigned cuda_blocks(size_t n)
{
	return (unsigned)((n + CUDA_THREADS - 1) / CUDA_THREADS);
}

static inline int cuda_launched(void)
{
	CUDA_CHECK(cudaGetLastError());
	return 0;
}

#endif
