// GPU discovery and the cuBLAS handle behind the backend (common/backend.h).
// Built only when nvcc is found; a binary built with it still runs on a
// machine without a GPU: cudaGetDeviceCount then reports none.
#include "cuda_check.h"

#include <string.h>

extern "C" {

int cuda_device_count(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		cudaGetLastError();  // clear the sticky "no driver" error
		return 0;
	}
	return n;
}

int cuda_device_describe(int device, char *buf, size_t len)
{
	cudaDeviceProp p;
	CUDA_CHECK(cudaGetDeviceProperties(&p, device));
	snprintf(buf, len, "%s, compute capability %d.%d, %.1f GiB, %d SMs", p.name,
		 p.major, p.minor, (double)p.totalGlobalMem / (1 << 30),
		 p.multiProcessorCount);
	return 0;
}

// The GPU this process uses from now on (before any other CUDA call:
// data-parallel ranks sharing a machine take one each, common/dist.h).
int cuda_set_device(int device)
{
	CUDA_CHECK(cudaSetDevice(device));
	return 0;
}

static cublasHandle_t handle;

int cuda_blas_init(void)
{
	if (handle)
		return 0;
	CUBLAS_CHECK(cublasCreate(&handle));
	return 0;
}

void cuda_blas_free(void)
{
	if (handle)
		cublasDestroy(handle);
	handle = NULL;
}

// C = A·B for row-major float matrices in device memory (A: m×k, B: k×n),
// computed as the column-major product Bᵀ·Aᵀ so no transposes are needed.
int cuda_sgemm_nn(int m, int n, int k, const float *d_a, const float *d_b, float *d_c)
{
	const float one = 1.0f, zero = 0.0f;
	if (cuda_blas_init())
		return -1;
	CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one,
				 d_b, n, d_a, k, &zero, d_c, n));
	return 0;
}

// Row-major C (m×n) = alpha·op(A)·op(B) + beta·C on device memory, as
// gemm.h's gemm(): the column-major product Cᵀ = op(B)ᵀ·op(A)ᵀ, since a
// row-major matrix is its transpose in column-major order.
int cuda_sgemm_rm(int trans_a, int trans_b, int m, int n, int k, float alpha,
		  const float *d_a, int lda, const float *d_b, int ldb, float beta,
		  float *d_c, int ldc)
{
	if (cuda_blas_init())
		return -1;
	CUBLAS_CHECK(cublasSgemm(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
				 trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, d_b, ldb,
				 d_a, lda, &beta, d_c, ldc));
	return 0;
}

int cuda_alloc(void **d_p, size_t bytes)
{
	CUDA_CHECK(cudaMalloc(d_p, bytes));
	return 0;
}

void cuda_free(void *d_p)
{
	cudaFree(d_p);
}

int cuda_host_alloc(void **p, size_t bytes)
{
	CUDA_CHECK(cudaMallocHost(p, bytes ? bytes : 1));
	return 0;
}

void cuda_host_free(void *p)
{
	cudaFreeHost(p);
}

int cuda_copy(void *d_dst, const void *d_src, size_t bytes)
{
	CUDA_CHECK(cudaMemcpy(d_dst, d_src, bytes, cudaMemcpyDeviceToDevice));
	return 0;
}

int cuda_zero(void *d_p, size_t bytes)
{
	CUDA_CHECK(cudaMemset(d_p, 0, bytes));
	return 0;
}

int cuda_sync(void)
{
	CUDA_CHECK(cudaDeviceSynchronize());
	return 0;
}

int cuda_upload(void *d_dst, const void *src, size_t bytes)
{
	CUDA_CHECK(cudaMemcpy(d_dst, src, bytes, cudaMemcpyHostToDevice));
	return 0;
}

int cuda_download(void *dst, const void *d_src, size_t bytes)
{
	CUDA_CHECK(cudaMemcpy(dst, d_src, bytes, cudaMemcpyDeviceToHost));
	CUDA_CHECK(cudaDeviceSynchronize());
	return 0;
}

}  // extern "C"
