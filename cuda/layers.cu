// FP32 layer kernels (cuda_layers.h). Written for clarity and the CPU's
// rounding first; none of them is tuned yet.
#include "bn_parts.h"
#include "bn_sync.h"
#include "cuda_check.h"
#include "cuda_layers.h"
#include "pcg.h"
#include "window.h"

#include <math.h>
#include <stdlib.h>

namespace {

// Batch norm reduces one part of a channel per block: a power of two for
// the tree.
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

// One thread an element, each jumping the generator to its own draw.
__global__ void dropout_mask_k(uint8_t *mask, uint64_t state, uint64_t inc, uint64_t threshold,
			       size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		mask[i] = pcg_output(pcg_advance(state, inc, i)) >= threshold;
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

// Batch norm in three steps (bn_parts.h): block (p, c) sums part p of
// channel c into bn_partial; one thread per channel adds its parts in order
// and finishes (bn_coef); then one thread per element applies.
__device__ double bn_partial[2 * BN_MAX_CHANNELS * BN_PARTS_MAX];
__device__ float bn_coef[3 * BN_MAX_CHANNELS];

__global__ void bn_sums_k(const float *in, int N, int C, int HW, int parts)
{
	__shared__ double s1[BN_THREADS], s2[BN_THREADS];
	const int c = blockIdx.y, p = blockIdx.x;
	size_t j0, j1;
	bn_part_range((size_t)N * HW, parts, p, &j0, &j1);
	const double k = in[bn_at(0, c, C, HW)];
	double a = 0, b = 0;
	for (size_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
		double d = (double)in[bn_at(j, c, C, HW)] - k;
		a += d;
		b += d * d;
	}
	s1[threadIdx.x] = a;
	s2[threadIdx.x] = b;
	block_sum2(s1, s2);
	if (threadIdx.x == 0) {
		bn_partial[bn_partial_at(c, p, parts)] = s1[0];
		bn_partial[bn_partial_at(c, p, parts) + 1] = s2[0];
	}
}

// Each channel's two sums, its parts added in order, to totals[width·c ..]:
// with width 3 the forward's (Σ(x − k), Σ(x − k)², k), k the channel's first
// value; with width 2 the backward's (Σ dy, Σ (x − μ)·dy).
__global__ void bn_totals_k(double *totals, int width, const float *in, int C, int HW,
			    int parts)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	bn_total(bn_partial, c, parts, &totals[width * c], &totals[width * c + 1]);
	if (width == 3)
		totals[3 * c + 2] = in[bn_at(0, c, C, HW)];
}

__global__ void bn_train_finish_k(float *mean, float *invstd, const double *totals,
				  const float *gamma, const float *beta, float *running_mean,
				  float *running_var, size_t M, int C, float eps, float momentum)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	bn_train_finish(totals[3 * c], totals[3 * c + 1], totals[3 * c + 2], M, gamma[c], beta[c],
			eps, momentum, &mean[c], &invstd[c], &running_mean[c], &running_var[c],
			&bn_coef[2 * c], &bn_coef[2 * c + 1]);
}

__global__ void bn_apply_k(float *out, const float *in, int C, int HW, size_t n)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e >= n)
		return;
	const int c = (int)(e / HW % C);
	out[e] = in[e] * bn_coef[2 * c] + bn_coef[2 * c + 1];
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

__global__ void bn_grad_sums_k(const float *dout, const float *in, const float *mean, int N,
			       int C, int HW, int parts)
{
	__shared__ double s1[BN_THREADS], s2[BN_THREADS];
	const int c = blockIdx.y, p = blockIdx.x;
	size_t j0, j1;
	bn_part_range((size_t)N * HW, parts, p, &j0, &j1);
	const float mu = mean[c];
	double sum_dy = 0, dotp = 0;
	for (size_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
		const size_t e = bn_at(j, c, C, HW);
		sum_dy += dout[e];
		dotp += (double)(in[e] - mu) * dout[e];
	}
	s1[threadIdx.x] = sum_dy;
	s2[threadIdx.x] = dotp;
	block_sum2(s1, s2);
	if (threadIdx.x == 0) {
		bn_partial[bn_partial_at(c, p, parts)] = s1[0];
		bn_partial[bn_partial_at(c, p, parts) + 1] = s2[0];
	}
}

// The input gradient's coefficients from the whole batch's sums (global);
// the parameters' gradients from this rank's own (local; the same pointer
// without data-parallel ranks).
__global__ void bn_backward_finish_k(float *dgamma, float *dbeta, const float *invstd,
				     const float *gamma, const double *local,
				     const double *global, size_t M, int C)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	float dg = dgamma[c], db = dbeta[c];
	bn_backward_finish(global[2 * c], global[2 * c + 1], M, invstd[c], gamma[c], &dg, &db,
			   &bn_coef[3 * c], &bn_coef[3 * c + 1], &bn_coef[3 * c + 2]);
	if (local != global) {
		dg = dgamma[c] + (float)(local[2 * c + 1] * invstd[c]);
		db = dbeta[c] + (float)local[2 * c];
	}
	dgamma[c] = dg;
	dbeta[c] = db;
}

__global__ void bn_backward_apply_k(float *din, const float *dout, const float *in,
				    const float *mean, int C, int HW, size_t n)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e >= n)
		return;
	const int c = (int)(e / HW % C);
	din[e] = ((dout[e] - bn_coef[3 * c + 1]) - (in[e] - mean[c]) * bn_coef[3 * c]) *
		 bn_coef[3 * c + 2];
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
	int w = (int)(e % W), h = (int)(e / W % H), oh0, oh1, ow0, ow1;
	size_t p = e / ((size_t)H * W);
	window_holders(h, kernel, stride, pad, Ho, &oh0, &oh1);
	window_holders(w, kernel, stride, pad, Wo, &ow0, &ow1);
	float g = 0.0f;
	for (int oh = oh0; oh <= oh1; oh++)
		for (int ow = ow0; ow <= ow1; ow++) {
			size_t o = (p * Ho + oh) * Wo + ow;
			if (argmax[o] == h * W + w)
				g = __fadd_rn(g, dout[o]);
		}
	din[e] = g;
}

// One thread per output, as avgpool2d.c: the window clipped to the plane
// summed in float, rows then columns, over kernel² (count_include_pad).
__global__ void avgpool_forward_k(float *out, const float *in, int planes, int H, int W,
				  int Ho, int Wo, int kernel, int stride, int pad)
{
	size_t o = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (o >= (size_t)planes * Ho * Wo)
		return;
	int ow = (int)(o % Wo), oh = (int)(o / Wo % Ho), hs, he, ws, we;
	const float *x = in + o / ((size_t)Ho * Wo) * H * W;
	window_span(oh, kernel, stride, pad, H, &hs, &he);
	window_span(ow, kernel, stride, pad, W, &ws, &we);
	float sum = 0.0f;
	for (int h = hs; h < he; h++)
		for (int w = ws; w < we; w++)
			sum = __fadd_rn(sum, x[h * W + w]);
	out[o] = __fdiv_rn(sum, (float)(kernel * kernel));
}

// One thread per input pixel, gathering dout/kernel² of the outputs whose
// window holds it in increasing output order, the order of the CPU's
// scatter.
__global__ void avgpool_backward_k(float *din, const float *dout, int planes, int H, int W,
				   int Ho, int Wo, int kernel, int stride, int pad)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e >= (size_t)planes * H * W)
		return;
	int w = (int)(e % W), h = (int)(e / W % H), oh0, oh1, ow0, ow1;
	size_t p = e / ((size_t)H * W);
	window_holders(h, kernel, stride, pad, Ho, &oh0, &oh1);
	window_holders(w, kernel, stride, pad, Wo, &ow0, &ow1);
	const float div = (float)(kernel * kernel);
	float g = 0.0f;
	for (int oh = oh0; oh <= oh1; oh++)
		for (int ow = ow0; ow <= ow1; ow++)
			g = __fadd_rn(g, __fdiv_rn(dout[(p * Ho + oh) * Wo + ow], div));
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
// rows[n]: row n's loss; rows[N + n]: 1 if its top-1 is its label.
__global__ void softmax_xent_k(float *dlogits, double *rows, const float *logits,
			       const int32_t *labels, int N, int K)
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
	rows[N + n] = best == y;
	const double zmax = z[best];
	double sum = 0;
	for (int k = 0; k < K; k++)
		sum += exp((double)z[k] - zmax);
	const double lse = log(sum);
	rows[n] = lse - ((double)z[y] - zmax);
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

int cuda_dropout_mask(uint8_t *mask, uint64_t state, uint64_t inc, uint64_t threshold, size_t n)
{
	if (n == 0)
		return 0;
	dropout_mask_k<<<cuda_blocks(n), CUDA_THREADS>>>(mask, state, inc, threshold, n);
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

// The partial-sum table holds BN_MAX_CHANNELS channels.
static int bn_channels_fit(int C)
{
	if (C <= BN_MAX_CHANNELS)
		return 1;
	fprintf(stderr, "cuda: batch norm of %d channels: at most %d on the GPU\n", C,
		BN_MAX_CHANNELS);
	return 0;
}

// The channels' totals (3 + 2 + 2 doubles a channel: the forward's, the
// backward's own and the whole batch's), in device memory for the
// kernels and, with data-parallel ranks, copied through the host.
static double *bn_totals_d;
static double bn_totals_h[3 * BN_MAX_CHANNELS];

static int bn_totals_ready(void)
{
	if (!bn_totals_d)
		CUDA_CHECK(cudaMalloc((void **)&bn_totals_d, 7 * BN_MAX_CHANNELS * sizeof(double)));
	return 0;
}

int cuda_batchnorm2d_forward_train(float *out, float *mean, float *invstd, const float *in,
				   const float *gamma, const float *beta, float *running_mean,
				   float *running_var, int N, int C, int HW, float eps,
				   float momentum, double share)
{
	if (!bn_channels_fit(C) || bn_totals_ready())
		return -1;
	const int parts = bn_parts((size_t)N * HW);
	const size_t n = (size_t)N * C * HW, bytes = 3 * (size_t)C * sizeof(double);
	size_t M = (size_t)N * HW;
	bn_sums_k<<<dim3(parts, C), BN_THREADS>>>(in, N, C, HW, parts);
	bn_totals_k<<<cuda_blocks((size_t)C), CUDA_THREADS>>>(bn_totals_d, 3, in, C, HW, parts);
	if (share > 0) {   // every rank's statistics (bn_sync.h)
		CUDA_CHECK(cudaMemcpy(bn_totals_h, bn_totals_d, bytes, cudaMemcpyDeviceToHost));
		bn_sync_stats(bn_totals_h, C, &M);
		CUDA_CHECK(cudaMemcpy(bn_totals_d, bn_totals_h, bytes, cudaMemcpyHostToDevice));
	}
	bn_train_finish_k<<<cuda_blocks((size_t)C), CUDA_THREADS>>>(
		mean, invstd, bn_totals_d, gamma, beta, running_mean, running_var, M, C, eps,
		momentum);
	bn_apply_k<<<cuda_blocks(n), CUDA_THREADS>>>(out, in, C, HW, n);
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
			      const float *gamma, int N, int C, int HW, double share)
{
	if (!bn_channels_fit(C) || bn_totals_ready())
		return -1;
	const int parts = bn_parts((size_t)N * HW);
	const size_t n = (size_t)N * C * HW, bytes = 2 * (size_t)C * sizeof(double);
	size_t M = (size_t)N * HW;
	double *local = bn_totals_d + 3 * BN_MAX_CHANNELS, *global = local;
	bn_grad_sums_k<<<dim3(parts, C), BN_THREADS>>>(dout, in, mean, N, C, HW, parts);
	bn_totals_k<<<cuda_blocks((size_t)C), CUDA_THREADS>>>(local, 2, in, C, HW, parts);
	if (share > 0) {   // the whole batch's sums (bn_sync.h)
		global = local + 2 * BN_MAX_CHANNELS;
		CUDA_CHECK(cudaMemcpy(bn_totals_h, local, bytes, cudaMemcpyDeviceToHost));
		bn_sync_grads(bn_totals_h, C, share, &M);
		CUDA_CHECK(cudaMemcpy(global, bn_totals_h, bytes, cudaMemcpyHostToDevice));
	}
	bn_backward_finish_k<<<cuda_blocks((size_t)C), CUDA_THREADS>>>(dgamma, dbeta, invstd,
									 gamma, local, global, M, C);
	bn_backward_apply_k<<<cuda_blocks(n), CUDA_THREADS>>>(din, dout, in, mean, C, HW, n);
	return cuda_launched();
}

int cuda_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int planes, int H,
			   int W, int kernel, int stride, int pad)
{
	int Ho = window_out(H, kernel, stride, pad), Wo = window_out(W, kernel, stride, pad);
	maxpool_forward_k<<<cuda_blocks((size_t)planes * Ho * Wo), CUDA_THREADS>>>(
		out, argmax, in, planes, H, W, Ho, Wo, kernel, stride, pad);
	return cuda_launched();
}

int cuda_maxpool2d_backward(float *din, const int32_t *argmax, const float *dout, int planes,
			    int H, int W, int kernel, int stride, int pad)
{
	int Ho = window_out(H, kernel, stride, pad), Wo = window_out(W, kernel, stride, pad);
	maxpool_backward_k<<<cuda_blocks((size_t)planes * H * W), CUDA_THREADS>>>(
		din, argmax, dout, planes, H, W, Ho, Wo, kernel, stride, pad);
	return cuda_launched();
}

int cuda_avgpool2d_forward(float *out, const float *in, int planes, int H, int W, int kernel,
			   int stride, int pad)
{
	int Ho = window_out(H, kernel, stride, pad), Wo = window_out(W, kernel, stride, pad);
	avgpool_forward_k<<<cuda_blocks((size_t)planes * Ho * Wo), CUDA_THREADS>>>(
		out, in, planes, H, W, Ho, Wo, kernel, stride, pad);
	return cuda_launched();
}

int cuda_avgpool2d_backward(float *din, const float *dout, int planes, int H, int W,
			    int kernel, int stride, int pad)
{
	int Ho = window_out(H, kernel, stride, pad), Wo = window_out(W, kernel, stride, pad);
	avgpool_backward_k<<<cuda_blocks((size_t)planes * H * W), CUDA_THREADS>>>(
		din, dout, planes, H, W, Ho, Wo, kernel, stride, pad);
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

int cuda_softmax_xent(float *dlogits, double *loss, int *n_correct, double *rows,
		      double *host_rows, const float *logits, const int32_t *labels, int N,
		      int classes)
{
	softmax_xent_k<<<cuda_blocks((size_t)N), CUDA_THREADS>>>(dlogits, rows, logits, labels, N,
							    classes);
	if (cuda_launched())
		return -1;
	// the batch's sums on the host, rows in order as the CPU adds them;
	// one download, so one wait for the device
	if (cuda_download(host_rows, rows, 2 * (size_t)N * sizeof(double)))
		return -1;
	double total = 0;
	int correct = 0;
	for (int n = 0; n < N; n++) {
		total += host_rows[n];
		correct += host_rows[N + n] != 0;
	}
	if (loss)
		*loss = total / N;
	if (n_correct)
		*n_correct = correct;
	return 0;
}

}  // extern "C"
