// FP32 layer kernels (cuda_layers.h). Written for clarity and the CPU's
// rounding first; none of them is tuned yet.
#include "cuda_check.h"
#include "cuda_layers.h"

#include <math.h>
#include <stdlib.h>

namespace {

// Batch norm reduces one channel per block: a power of two for the tree.
const int BN_THREADS = 256;

__global__ void relu_forward_k(float *out, const float *in, size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

__global__ void relu_backward_k(float *din, const float *dout, const float *x, size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		din[i] = x[i] <= 0.0f ? 0.0f : dout[i];
}

__global__ void add_forward_k(float *out, const float *a, const float *b, size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __fadd_rn(a[i], b[i]);
}

__global__ void add_backward_k(float *da, float *db, const float *dout, size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		da[i] = db[i] = dout[i];
}

__global__ void dropout_apply_k(float *out, const uint8_t *mask, const float *in, float scale,
				size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __fmul_rn(in[i], __fmul_rn((float)mask[i], scale));
}

// sgd.c's expressions, each product and sum rounded on its own.
__global__ void sgd_k(float *w, float *v, const float *g, float lr, float mu, float wd,
		      size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float d = __fadd_rn(g[i], __fmul_rn(wd, w[i]));
	if (mu == 0.0f) {
		w[i] = __fsub_rn(w[i], __fmul_rn(lr, d));
		return;
	}
	float vi = __fadd_rn(__fmul_rn(mu, v[i]), d);
	v[i] = vi;
	w[i] = __fsub_rn(w[i], __fmul_rn(lr, vi));
}

// Sums a[] and b[] of the block's threads into a[0] and b[0].
__device__ void block_sum2(double *a, double *b)
{
	for (int half = blockDim.x / 2; half > 0; half /= 2) {
		__syncthreads();
		if ((int)threadIdx.x < half) {
			a[threadIdx.x] += a[threadIdx.x + half];
			b[threadIdx.x] += b[threadIdx.x + half];
		}
	}
	__syncthreads();
}

// One block per channel c: element (n, c, i) of (N, C, HW).
__device__ size_t at(int n, int c, int i, int C, int HW)
{
	return ((size_t)n * C + c) * HW + i;
}

__global__ void bn_train_k(float *out, float *mean, float *invstd, const float *in,
			   const float *gamma, const float *beta, float *running_mean,
			   float *running_var, int N, int C, int HW, float eps, float momentum)
{
	__shared__ double s1[BN_THREADS], s2[BN_THREADS];
	__shared__ float alpha_shift[2];
	const int c = blockIdx.x;
	const size_t M = (size_t)N * HW;
	// shifted by the channel's first value, as batchnorm2d.c
	const double k = in[at(0, c, 0, C, HW)];
	double a = 0, b = 0;
	for (size_t j = threadIdx.x; j < M; j += blockDim.x) {
		double d = (double)in[at((int)(j / HW), c, (int)(j % HW), C, HW)] - k;
		a += d;
		b += d * d;
	}
	s1[threadIdx.x] = a;
	s2[threadIdx.x] = b;
	block_sum2(s1, s2);
	if (threadIdx.x == 0) {
		double dm = s1[0] / (double)M;
		double var = s2[0] / (double)M - dm * dm;
		if (var < 0)
			var = 0;
		double mu = k + dm, m = momentum;
		mean[c] = (float)mu;
		invstd[c] = (float)(1.0 / sqrt(var + eps));
		running_mean[c] = (float)((1 - m) * running_mean[c] + m * mu);
		running_var[c] = (float)((1 - m) * running_var[c] + m * var * M / (M - 1));
		float alpha = __fmul_rn(gamma[c], invstd[c]);
		alpha_shift[0] = alpha;
		alpha_shift[1] = __fsub_rn(beta[c], __fmul_rn(mean[c], alpha));
	}
	__syncthreads();
	const float alpha = alpha_shift[0], shift = alpha_shift[1];
	for (size_t j = threadIdx.x; j < M; j += blockDim.x) {
		size_t e = at((int)(j / HW), c, (int)(j % HW), C, HW);
		out[e] = __fadd_rn(__fmul_rn(in[e], alpha), shift);
	}
}

__global__ void bn_eval_k(float *out, const float *in, const float *gamma, const float *beta,
			  const float *running_mean, const float *running_var, int N, int C,
			  int HW, float eps)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e >= (size_t)N * C * HW)
		return;
	int c = (int)(e / HW % C);
	float alpha = (float)(gamma[c] / sqrt((double)running_var[c] + eps));
	float shift = __fsub_rn(beta[c], __fmul_rn(running_mean[c], alpha));
	out[e] = __fadd_rn(__fmul_rn(in[e], alpha), shift);
}

__global__ void bn_backward_k(float *din, float *dgamma, float *dbeta, const float *mean,
			      const float *invstd, const float *dout, const float *in,
			      const float *gamma, int N, int C, int HW)
{
	__shared__ double s1[BN_THREADS], s2[BN_THREADS];
	const int c = blockIdx.x;
	const size_t M = (size_t)N * HW;
	const float mu = mean[c];
	double sum_dy = 0, dotp = 0;
	for (size_t j = threadIdx.x; j < M; j += blockDim.x) {
		size_t e = at((int)(j / HW), c, (int)(j % HW), C, HW);
		sum_dy += dout[e];
		dotp += (double)__fsub_rn(in[e], mu) * dout[e];
	}
	s1[threadIdx.x] = sum_dy;
	s2[threadIdx.x] = dotp;
	block_sum2(s1, s2);
	sum_dy = s1[0];
	dotp = s2[0];
	if (threadIdx.x == 0) {
		dgamma[c] = __fadd_rn(dgamma[c], (float)(dotp * invstd[c]));
		dbeta[c] = __fadd_rn(dbeta[c], (float)sum_dy);
	}
	const float k = (float)(dotp * invstd[c] * invstd[c] / (double)M);
	const float grad_mean = (float)(sum_dy / (double)M);
	const float w = __fmul_rn(gamma[c], invstd[c]);
	for (size_t j = threadIdx.x; j < M; j += blockDim.x) {
		size_t e = at((int)(j / HW), c, (int)(j % HW), C, HW);
		float t = __fsub_rn(__fsub_rn(dout[e], grad_mean), __fmul_rn(__fsub_rn(in[e], mu), k));
		din[e] = __fmul_rn(t, w);
	}
}

// One thread per output: PyTorch's `v > max || isnan(v)` over the window
// clipped to the plane (maxpool2d.c).
__global__ void maxpool_forward_k(float *out, int32_t *argmax, const float *in, int planes,
				  int H, int W, int Ho, int Wo, int kernel, int stride, int pad)
{
	size_t o = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (o >= (size_t)planes * Ho * Wo)
		return;
	int ow = (int)(o % Wo), oh = (int)(o / Wo % Ho);
	size_t p = o / ((size_t)Ho * Wo);
	const float *x = in + p * H * W;
	int hs = max(oh * stride - pad, 0), he = min(oh * stride - pad + kernel, H);
	int ws = max(ow * stride - pad, 0), we = min(ow * stride - pad + kernel, W);
	float m = -INFINITY;
	int best = hs * W + ws;
	for (int h = hs; h < he; h++)
		for (int w = ws; w < we; w++) {
			float v = x[h * W + w];
			if (v > m || isnan(v)) {
				m = v;
				best = h * W + w;
			}
		}
	out[o] = m;
	argmax[o] = best;
}

// One thread per input pixel, gathering the outputs whose argmax it is in
// increasing output order: the CPU's scatter adds in that order too.
__global__ void maxpool_backward_k(float *din, const int32_t *argmax, const float *dout,
				   int planes, int H, int W, int Ho, int Wo, int kernel,
				   int stride, int pad)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e >= (size_t)planes * H * W)
		return;
	int w = (int)(e % W), h = (int)(e / W % H);
	size_t p = e / ((size_t)H * W);
	// outputs whose window [o·stride − pad, + kernel) holds h
	int a = h + pad - kernel + 1, b = w + pad - kernel + 1;
	int oh0 = a <= 0 ? 0 : (a + stride - 1) / stride, oh1 = min(Ho - 1, (h + pad) / stride);
	int ow0 = b <= 0 ? 0 : (b + stride - 1) / stride, ow1 = min(Wo - 1, (w + pad) / stride);
	float g = 0.0f;
	for (int oh = oh0; oh <= oh1; oh++)
		for (int ow = ow0; ow <= ow1; ow++) {
			size_t o = (p * Ho + oh) * Wo + ow;
			if (argmax[o] == h * W + w)
				g = __fadd_rn(g, dout[o]);
		}
	din[e] = g;
}

__global__ void gap_forward_k(float *out, const float *in, int planes, int HW)
{
	size_t p = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (p >= (size_t)planes)
		return;
	double sum = 0;
	for (int i = 0; i < HW; i++)
		sum += in[p * HW + i];
	out[p] = (float)(sum / (double)HW);
}

__global__ void gap_backward_k(float *din, const float *dout, int planes, int HW)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e < (size_t)planes * HW)
		din[e] = __fdiv_rn(dout[e / HW], (float)HW);
}

// One thread per row, as softmax_xent.c: first maximum, sums in double.
__global__ void softmax_xent_k(float *dlogits, double *row_loss, int *row_correct,
			       const float *logits, const int32_t *labels, int N, int K)
{
	int n = blockIdx.x * blockDim.x + threadIdx.x;
	if (n >= N)
		return;
	const float *z = logits + (size_t)n * K;
	const int y = labels[n];
	int best = 0;
	for (int k = 1; k < K; k++)
		if (z[k] > z[best])
			best = k;
	row_correct[n] = best == y;
	const double zmax = z[best];
	double sum = 0;
	for (int k = 0; k < K; k++)
		sum += exp((double)z[k] - zmax);
	const double lse = log(sum);
	row_loss[n] = lse - ((double)z[y] - zmax);
	if (dlogits)
		for (int k = 0; k < K; k++)
			dlogits[(size_t)n * K + k] =
				(float)((exp((double)z[k] - zmax - lse) - (k == y)) * (1.0 / N));
}

}  // namespace

extern "C" {

int cuda_relu_forward(float *out, const float *in, size_t n)
{
	relu_forward_k<<<cuda_blocks(n), CUDA_THREADS>>>(out, in, n);
	return cuda_launched();
}

int cuda_relu_backward(float *din, const float *dout, const float *x, size_t n)
{
	relu_backward_k<<<cuda_blocks(n), CUDA_THREADS>>>(din, dout, x, n);
	return cuda_launched();
}

int cuda_add_forward(float *out, const float *a, const float *b, size_t n)
{
	add_forward_k<<<cuda_blocks(n), CUDA_THREADS>>>(out, a, b, n);
	return cuda_launched();
}

int cuda_add_backward(float *da, float *db, const float *dout, size_t n)
{
	add_backward_k<<<cuda_blocks(n), CUDA_THREADS>>>(da, db, dout, n);
	return cuda_launched();
}

int cuda_dropout_apply(float *out, const uint8_t *mask, const float *in, float scale, size_t n)
{
	dropout_apply_k<<<cuda_blocks(n), CUDA_THREADS>>>(out, mask, in, scale, n);
	return cuda_launched();
}

int cuda_sgd_step(float *w, float *v, const float *g, float lr, float momentum,
		  float weight_decay, size_t n)
{
	sgd_k<<<cuda_blocks(n), CUDA_THREADS>>>(w, v, g, lr, momentum, weight_decay, n);
	return cuda_launched();
}

int cuda_batchnorm2d_forward_train(float *out, float *mean, float *invstd, const float *in,
				   const float *gamma, const float *beta, float *running_mean,
				   float *running_var, int N, int C, int HW, float eps,
				   float momentum)
{
	bn_train_k<<<C, BN_THREADS>>>(out, mean, invstd, in, gamma, beta, running_mean,
				      running_var, N, C, HW, eps, momentum);
	return cuda_launched();
}

int cuda_batchnorm2d_forward_eval(float *out, const float *in, const float *gamma,
				  const float *beta, const float *running_mean,
				  const float *running_var, int N, int C, int HW, float eps)
{
	bn_eval_k<<<cuda_blocks((size_t)N * C * HW), CUDA_THREADS>>>(out, in, gamma, beta, running_mean,
							       running_var, N, C, HW, eps);
	return cuda_launched();
}

int cuda_batchnorm2d_backward(float *din, float *dgamma, float *dbeta, const float *mean,
			      const float *invstd, const float *dout, const float *in,
			      const float *gamma, int N, int C, int HW)
{
	bn_backward_k<<<C, BN_THREADS>>>(din, dgamma, dbeta, mean, invstd, dout, in, gamma, N,
					 C, HW);
	return cuda_launched();
}

static int pooled(int n, int kernel, int stride, int pad)
{
	return (n + 2 * pad - kernel) / stride + 1;
}

int cuda_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int planes, int H,
			   int W, int kernel, int stride, int pad)
{
	int Ho = pooled(H, kernel, stride, pad), Wo = pooled(W, kernel, stride, pad);
	maxpool_forward_k<<<cuda_blocks((size_t)planes * Ho * Wo), CUDA_THREADS>>>(
		out, argmax, in, planes, H, W, Ho, Wo, kernel, stride, pad);
	return cuda_launched();
}

int cuda_maxpool2d_backward(float *din, const int32_t *argmax, const float *dout, int planes,
			    int H, int W, int kernel, int stride, int pad)
{
	int Ho = pooled(H, kernel, stride, pad), Wo = pooled(W, kernel, stride, pad);
	maxpool_backward_k<<<cuda_blocks((size_t)planes * H * W), CUDA_THREADS>>>(
		din, argmax, dout, planes, H, W, Ho, Wo, kernel, stride, pad);
	return cuda_launched();
}

int cuda_global_avgpool_forward(float *out, const float *in, int planes, int HW)
{
	gap_forward_k<<<cuda_blocks((size_t)planes), CUDA_THREADS>>>(out, in, planes, HW);
	return cuda_launched();
}

int cuda_global_avgpool_backward(float *din, const float *dout, int planes, int HW)
{
	gap_backward_k<<<cuda_blocks((size_t)planes * HW), CUDA_THREADS>>>(din, dout, planes, HW);
	return cuda_launched();
}

int cuda_softmax_xent(float *dlogits, double *loss, int *n_correct, double *row_loss,
		      int *row_correct, const float *logits, const int32_t *labels, int N,
		      int classes)
{
	softmax_xent_k<<<cuda_blocks((size_t)N), CUDA_THREADS>>>(dlogits, row_loss, row_correct,
							    logits, labels, N, classes);
	if (cuda_launched())
		return -1;
	// the batch's sums on the host, rows in order as the CPU adds them
	double *l = (double *)malloc((size_t)N * sizeof(double));
	int *ok = (int *)malloc((size_t)N * sizeof(int));
	int rc = -1;
	if (l && ok && cuda_download(l, row_loss, (size_t)N * sizeof(double)) == 0 &&
	    cuda_download(ok, row_correct, (size_t)N * sizeof(int)) == 0) {
		double total = 0;
		int correct = 0;
		for (int n = 0; n < N; n++) {
			total += l[n];
			correct += ok[n];
		}
		if (loss)
			*loss = total / N;
		if (n_correct)
			*n_correct = correct;
		rc = 0;
	}
	free(l);
	free(ok);
	return rc;
}

}  // extern "C"
