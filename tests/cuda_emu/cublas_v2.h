/* The CUDA emulator's cuBLAS (see cuda_runtime.h): the calls cuda/ makes,
 * computed by the CPU's BLAS in column-major order, with cuBLAS's argument
 * checks (leading dimensions, device operands). */
#ifndef PCQ_CUDA_EMU_CUBLAS_H
#define PCQ_CUDA_EMU_CUBLAS_H

#include "cuda_runtime.h"

typedef struct emu_cublas *cublasHandle_t;

enum cublasStatus_t {
	CUBLAS_STATUS_SUCCESS = 0,
	CUBLAS_STATUS_NOT_INITIALIZED = 1,
	CUBLAS_STATUS_INVALID_VALUE = 7,
};

enum cublasOperation_t {
	CUBLAS_OP_N = 0,
	CUBLAS_OP_T = 1,
};

cublasStatus_t cublasCreate(cublasHandle_t *handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
			   cublasOperation_t transb, int m, int n, int k, const float *alpha,
			   const float *A, int lda, const float *B, int ldb, const float *beta,
			   float *C, int ldc);

#endif
