// The GEMM layers on the GPU (cuda_layers.h): convolution image by image
// through im2col and cuBLAS, and the fully connected layer. Same products
// as common/conv2d.c's and linear.c's GEMM paths, summed in cuBLAS's order.
#include "cuda_check.h"
#include "cuda_layers.h"

namespace {

// out[r][q] = b[r] for every row r of `rows` and column q of `cols`.
__global__ void fill_rows_k(float *out, const float *b, int rows, size_t cols)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e < rows * cols)
		out[e] = b[e / cols];
}

// out[n][o] = b[o] for (N, O).
__global__ void fill_cols_k(float *out, const float *b, int n, int o)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e < (size_t)n * o)
		out[e] = b[e % o];
}

// db[k] += Σ_{n, q} dout[n][k][q] for (N, K, P): one thread per k, images
// and pixels in order, so the same inputs give the same bits.
__global__ void bias_grad_conv_k(float *db, const float *dout, int N, int K, size_t P)
{
	int k = blockIdx.x * blockDim.x + threadIdx.x;
	if (k >= K)
		return;
	float sum = 0.0f;
	for (int n = 0; n < N; n++)
		for (size_t q = 0; q < P; q++)
			sum = __fadd_rn(sum, dout[((size_t)n * K + k) * P + q]);
	db[k] = __fadd_rn(db[k], sum);
}

// db[o] += Σ_n dout[n][o] for (N, O), rows in order as linear.c.
__global__ void bias_grad_linear_k(float *db, const float *dout, int N, int O)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o >= O)
		return;
	float sum = 0.0f;
	for (int n = 0; n < N; n++)
		sum = __fadd_rn(sum, dout[(size_t)n * O + o]);
	db[o] = __fadd_rn(db[o], sum);
}

int out_size(int n, int kernel, int stride, int pad)
{
	return (n + 2 * pad - kernel) / stride + 1;
}

}  // namespace

extern "C" {

int cuda_conv2d_forward(float *out, float *workspace, const float *in, const float *w,
			const float *b, int N, int C, int H, int W, int K, int kh, int kw,
			int stride, int pad)
{
	const int OH = out_size(H, kh, stride, pad), OW = out_size(W, kw, stride, pad);
	const size_t P = (size_t)OH * OW, CKK = (size_t)C * kh * kw;
	for (int n = 0; n < N; n++) {
		float *o = out + (size_t)n * K * P;
		if (b) {
			fill_rows_k<<<cuda_blocks(K * P), CUDA_THREADS>>>(o, b, K, P);
			if (cuda_launched())
				return -1;
		}
		// out_n (K, P) = w (K, CKK) · col (CKK, P) [+ b]
		if (cuda_im2col(workspace, in + (size_t)n * C * H * W, C, H, W, kh, kw, stride, pad) ||
		    cuda_sgemm_rm(0, 0, K, (int)P, (int)CKK, 1.0f, w, (int)CKK, workspace, (int)P,
				  b ? 1.0f : 0.0f, o, (int)P))
			return -1;
	}
	return 0;
}

int cuda_conv2d_backward(float *din, float *dw, float *db, float *workspace, const float *dout,
			 const float *in, const float *w, int N, int C, int H, int W, int K,
			 int kh, int kw, int stride, int pad)
{
	const int OH = out_size(H, kh, stride, pad), OW = out_size(W, kw, stride, pad);
	const size_t P = (size_t)OH * OW, CKK = (size_t)C * kh * kw;
	for (int n = 0; n < N; n++) {
		const float *g = dout + (size_t)n * K * P;
		// dw (K, CKK) += dout_n (K, P) · colᵀ (P, CKK)
		if (cuda_im2col(workspace, in + (size_t)n * C * H * W, C, H, W, kh, kw, stride, pad) ||
		    cuda_sgemm_rm(0, 1, K, (int)CKK, (int)P, 1.0f, g, (int)P, workspace, (int)P, 1.0f,
				  dw, (int)CKK))
			return -1;
		if (!din)
			continue;
		// dcol (CKK, P) = wᵀ (CKK, K) · dout_n (K, P); din_n = col2im(dcol)
		float *dx = din + (size_t)n * C * H * W;
		CUDA_CHECK(cudaMemset(dx, 0, (size_t)C * H * W * sizeof(float)));
		if (cuda_sgemm_rm(1, 0, (int)CKK, (int)P, K, 1.0f, w, (int)CKK, g, (int)P, 0.0f,
				  workspace, (int)P) ||
		    cuda_col2im(dx, workspace, C, H, W, kh, kw, stride, pad))
			return -1;
	}
	if (db) {
		bias_grad_conv_k<<<cuda_blocks((size_t)K), CUDA_THREADS>>>(db, dout, N, K, P);
		return cuda_launched();
	}
	return 0;
}

int cuda_linear_forward(float *out, const float *in, const float *w, const float *b, int N,
			int in_features, int out_features)
{
	if (b) {
		fill_cols_k<<<cuda_blocks((size_t)N * out_features), CUDA_THREADS>>>(out, b, N,
									      out_features);
		if (cuda_launched())
			return -1;
	}
	// out (N, O) = in (N, I) · wᵀ (I, O) [+ b]
	return cuda_sgemm_rm(0, 1, N, out_features, in_features, 1.0f, in, in_features, w,
			     in_features, b ? 1.0f : 0.0f, out, out_features);
}

int cuda_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
			 const float *w, int N, int in_features, int out_features)
{
	const int I = in_features, O = out_features;
	// din (N, I) = dout (N, O) · w (O, I); dw (O, I) += doutᵀ (O, N) · in (N, I)
	if ((din && cuda_sgemm_rm(0, 0, N, I, O, 1.0f, dout, O, w, I, 0.0f, din, I)) ||
	    cuda_sgemm_rm(1, 0, O, I, N, 1.0f, dout, O, in, I, 1.0f, dw, I))
		return -1;
	if (db) {
		bias_grad_linear_k<<<cuda_blocks((size_t)O), CUDA_THREADS>>>(db, dout, N, O);
		return cuda_launched();
	}
	return 0;
}

}  // extern "C"
