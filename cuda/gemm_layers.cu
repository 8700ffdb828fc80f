// The GEMM layers on the GPU (cuda_layers.h): convolution in chunks of
// images as conv_batched.h lays out (one im2col, one GEMM per product, a
// reorder), and the fully connected layer. Same products as
// common/conv2d.c's and linear.c's GEMM paths, summed in cuBLAS's order.
#include "conv_batched.h"
#include "cuda_check.h"
#include "cuda_layers.h"

namespace {

// The kernels of conv_batched.h's steps, d by value; n < 2^32 (checked
// by the callers: conv_batched_fits).
__global__ void col_k(float *col, const float *in, struct conv_dims d, int G, uint32_t n)
{
	uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
	if (t < n)
		conv_col_fill(col, in, t, &d, G);
}

// out (G, K, P) from y (K, G·P), plus the bias.
__global__ void out_from_y_k(float *out, const float *y, const float *b, struct conv_dims d,
			     int G, uint32_t n)
{
	uint32_t e = blockIdx.x * blockDim.x + threadIdx.x, k;
	if (e >= n)
		return;
	float v = y[conv_y_index(e, &d, G, &k)];
	out[e] = b ? __fadd_rn(v, b[k]) : v;
}

// y (K, G·P) from dout (G, K, P).
__global__ void y_from_dout_k(float *y, const float *dout, struct conv_dims d, int G, uint32_t n)
{
	uint32_t e = blockIdx.x * blockDim.x + threadIdx.x, k;
	if (e < n)
		y[conv_y_index(e, &d, G, &k)] = dout[e];
}

__global__ void im_grad_k(float *din, const float *col, struct conv_dims d, int G, uint32_t n)
{
	uint32_t e = blockIdx.x * blockDim.x + threadIdx.x;
	if (e < n)
		din[e] = conv_im_grad_at(col, e, &d, G);
}

// out[n][o] = b[o] for (N, O).
__global__ void fill_cols_k(float *out, const float *b, int n, int o)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e < (size_t)n * o)
		out[e] = b[e % o];
}

// db[k] += Σ_{n, q} dout[n][k][q] for (N, K, P): one block per k, summed
// in double in a fixed order (the same bits from run to run).
__global__ void bias_grad_conv_k(float *db, const float *dout, int N, int K, size_t P)
{
	__shared__ double part[CUDA_THREADS];
	const int k = blockIdx.x;
	double sum = 0;
	for (size_t j = threadIdx.x; j < (size_t)N * P; j += blockDim.x)
		sum += dout[(j / P * K + k) * P + j % P];
	part[threadIdx.x] = sum;
	for (int half = blockDim.x / 2; half > 0; half /= 2) {
		__syncthreads();
		if ((int)threadIdx.x < half)
			part[threadIdx.x] += part[threadIdx.x + half];
	}
	if (threadIdx.x == 0)
		db[k] = __fadd_rn(db[k], (float)part[0]);
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

// A chunk's indices are 32-bit (conv_batched_fits); a single image too
// large for that is refused rather than mis-indexed.
int chunk_refused(const struct conv_dims *d, int chunk)
{
	if (conv_batched_fits(d, chunk))
		return 0;
	fprintf(stderr, "cuda: a convolution of %d×%d×%d images is too large for the GPU "
		"path (one image's column matrix holds 2^32 elements or more)\n", d->C, d->H,
		d->W);
	return 1;
}

}  // namespace

extern "C" {

size_t cuda_conv2d_workspace_floats(int N, int C, int H, int W, int K, int kh, int kw,
				    int stride, int pad)
{
	const struct conv_dims d = conv_dims_of(C, H, W, K, kh, kw, stride, pad);
	return (size_t)conv_batched_chunk(&d, N, CONV_BATCHED_MAX_FLOATS) *
	       conv_batched_floats_per_image(&d);
}

int cuda_conv2d_forward(float *out, float *workspace, const float *in, const float *w,
			const float *b, int N, int C, int H, int W, int K, int kh, int kw,
			int stride, int pad)
{
	const struct conv_dims d = conv_dims_of(C, H, W, K, kh, kw, stride, pad);
	const size_t P = (size_t)d.OH * d.OW, CKK = (size_t)C * kh * kw;
	const int chunk = conv_batched_chunk(&d, N, CONV_BATCHED_MAX_FLOATS);
	if (chunk_refused(&d, chunk))
		return -1;
	for (int g0 = 0; g0 < N; g0 += chunk) {
		const int G = N - g0 < chunk ? N - g0 : chunk;
		const size_t GP = (size_t)G * P;
		float *col = workspace, *y = workspace + CKK * GP;
		col_k<<<cuda_blocks(C * GP), CUDA_THREADS>>>(col, in + (size_t)g0 * C * H * W, d, G,
							    (uint32_t)(C * GP));
		if (cuda_launched())
			return -1;
		// y (K, G·P) = w (K, CKK) · col (CKK, G·P)
		if (cuda_sgemm_rm(0, 0, K, (int)GP, (int)CKK, 1.0f, w, (int)CKK, col, (int)GP, 0.0f,
				  y, (int)GP))
			return -1;
		out_from_y_k<<<cuda_blocks(GP * K), CUDA_THREADS>>>(out + (size_t)g0 * K * P, y, b, d,
								     G, (uint32_t)(GP * K));
		if (cuda_launched())
			return -1;
	}
	return 0;
}

int cuda_conv2d_backward(float *din, float *dw, float *db, float *workspace, const float *dout,
			 const float *in, const float *w, int N, int C, int H, int W, int K,
			 int kh, int kw, int stride, int pad)
{
	const struct conv_dims d = conv_dims_of(C, H, W, K, kh, kw, stride, pad);
	const size_t P = (size_t)d.OH * d.OW, CKK = (size_t)C * kh * kw;
	const size_t image = (size_t)C * H * W;
	const int chunk = conv_batched_chunk(&d, N, CONV_BATCHED_MAX_FLOATS);
	if (chunk_refused(&d, chunk))
		return -1;
	for (int g0 = 0; g0 < N; g0 += chunk) {
		const int G = N - g0 < chunk ? N - g0 : chunk;
		const size_t GP = (size_t)G * P;
		float *col = workspace, *y = workspace + CKK * GP;
		col_k<<<cuda_blocks(C * GP), CUDA_THREADS>>>(col, in + g0 * image, d, G,
							    (uint32_t)(C * GP));
		y_from_dout_k<<<cuda_blocks(GP * K), CUDA_THREADS>>>(y, dout + (size_t)g0 * K * P, d,
								      G, (uint32_t)(GP * K));
		if (cuda_launched())
			return -1;
		// dw (K, CKK) += y (K, G·P) · colᵀ (G·P, CKK)
		if (cuda_sgemm_rm(0, 1, K, (int)CKK, (int)GP, 1.0f, y, (int)GP, col, (int)GP, 1.0f,
				  dw, (int)CKK))
			return -1;
		if (!din)
			continue;
		// col ← wᵀ (CKK, K) · y (K, G·P), then gathered into din
		if (cuda_sgemm_rm(1, 0, (int)CKK, (int)GP, K, 1.0f, w, (int)CKK, y, (int)GP, 0.0f,
				  col, (int)GP))
			return -1;
		im_grad_k<<<cuda_blocks(G * image), CUDA_THREADS>>>(din + g0 * image, col, d, G,
								     (uint32_t)(G * image));
		if (cuda_launched())
			return -1;
	}
	if (db) {
		bias_grad_conv_k<<<K, CUDA_THREADS>>>(db, dout, N, K, P);
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
