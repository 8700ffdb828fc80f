/* conv2d (conv2d.h) as a few large steps over a chunk of G images, the
 * formulation of the GPU convolution (cuda/gemm_layers.cu): one im2col for
 * the whole chunk into a column matrix col (CKK, G·P) — column g·P + q is
 * output pixel q of image g — so that each product is one GEMM whose inner
 * or outer dimension is G·P, not G GEMMs of P:
 *   forward   y (K, G·P) = w (K, CKK) · col;     out[g][k][q] = y[k][g·P + q] + b[k]
 *   backward  y[k][g·P + q] = dout[g][k][q];     dw (K, CKK) += y · colᵀ
 *             col ← wᵀ (CKK, K) · y;             din = the gather of col (col2im)
 * The element maps below are the kernels' bodies; tests/unit/
 * test_conv_batched.c runs the same steps on the CPU through them and
 * compares with conv2d_forward/backward. */
#ifndef PCQ_CONV_BATCHED_H
#define PCQ_CONV_BATCHED_H

#include "host_device.h"

#include <stddef.h>
#include <stdint.h>

struct conv_dims {
	int C, H, W, K, kh, kw, stride, pad, OH, OW;
};

/* The largest workspace one chunk may use: 64 Mi floats (256 MiB). */
#define CONV_BATCHED_MAX_FLOATS ((size_t)64 << 20)

PCQ_HOST_DEVICE static inline struct conv_dims conv_dims_of(int C, int H, int W, int K, int kh,
							     int kw, int stride, int pad)
{
	struct conv_dims d = {C, H, W, K, kh, kw, stride, pad, (H + 2 * pad - kh) / stride + 1,
			      (W + 2 * pad - kw) / stride + 1};
	return d;
}

/* Floats of workspace per image: its columns of col and of y. */
static inline size_t conv_batched_floats_per_image(const struct conv_dims *d)
{
	return (size_t)d->OH * d->OW * ((size_t)d->C * d->kh * d->kw + d->K);
}

/* Images per chunk for a batch of N within max_floats of workspace. */
static inline int conv_batched_chunk(const struct conv_dims *d, int N, size_t max_floats)
{
	size_t g = max_floats / conv_batched_floats_per_image(d);
	return g < 1 ? 1 : g < (size_t)N ? (int)g : N;
}

/* Index arithmetic within a chunk is 32-bit (a GPU divides 64-bit
 * integers in software): it needs the chunk's col, y and input to hold
 * fewer than 2^32 elements, which chunks within CONV_BATCHED_MAX_FLOATS
 * do; only a single image larger than that could not (checked here). */
static inline int conv_batched_fits(const struct conv_dims *d, int G)
{
	const size_t GP = (size_t)G * d->OH * d->OW;
	return GP * ((size_t)d->C * d->kh * d->kw + d->K) <= UINT32_MAX &&
	       (size_t)G * d->C * d->H * d->W <= UINT32_MAX;
}

/* im2col of thread t < C·G·P: channel c = t / (G·P) at column
 * u = t mod (G·P) — output pixel q of image g, u = g·P + q — writes the
 * kh·kw rows (c·kh + i)·kw + j of that column: pixel
 * (c, oh·s − pad + i, ow·s − pad + j) of image g of `in` (the chunk's
 * first image), 0 in the padding. One thread per column and channel, not
 * per entry: its divisions serve kh·kw entries, and neighbouring threads
 * write neighbouring columns. */
PCQ_HOST_DEVICE static inline void conv_col_fill(float *col, const float *in, uint32_t t,
						 const struct conv_dims *d, int G)
{
	const uint32_t P = (uint32_t)d->OH * d->OW, GP = (uint32_t)G * P;
	const uint32_t c = t / GP, u = t - c * GP, g = u / P, q = u - g * P;
	const int oh = (int)(q / d->OW), ow = (int)q - oh * d->OW;
	const float *src = in + ((size_t)g * d->C + c) * d->H * d->W;
	float *dst = col + (size_t)c * d->kh * d->kw * GP + u;
	for (int i = 0; i < d->kh; i++) {
		const int ih = oh * d->stride - d->pad + i;
		for (int j = 0; j < d->kw; j++, dst += GP) {
			const int iw = ow * d->stride - d->pad + j;
			*dst = ih < 0 || ih >= d->H || iw < 0 || iw >= d->W ? 0.0f
									     : src[ih * d->W + iw];
		}
	}
}

/* Where element e of a (G, K, P) tensor lies in y (K, G·P); *k its k. */
PCQ_HOST_DEVICE static inline uint32_t conv_y_index(uint32_t e, const struct conv_dims *d, int G,
						    uint32_t *k)
{
	const uint32_t P = (uint32_t)d->OH * d->OW, gk = e / P, q = e - gk * P;
	const uint32_t g = gk / d->K;
	*k = gk - g * d->K;
	return (*k * G + g) * P + q;
}

/* The range [*lo, *hi] of output positions whose kernel window covers
 * input position x + pad = tx along one dimension (n outputs, kernel k,
 * stride s): tap i = tx − o·s must lie in [0, k). */
PCQ_HOST_DEVICE static inline void conv_taps(int tx, int k, int s, int n, int *lo, int *hi)
{
	*lo = tx < k ? 0 : (tx - k) / s + 1;
	*hi = tx / s < n - 1 ? tx / s : n - 1;
}

/* din[e], e < G·C·H·W: the sum of the col entries (gradients of the
 * columns) that read pixel e, in increasing row order as col2im — row
 * (c·kh + i)·kw + j with i = ih + pad − oh·s, so the output rows are
 * walked downwards, and likewise the columns. */
PCQ_HOST_DEVICE static inline float conv_im_grad_at(const float *col, uint32_t e,
						     const struct conv_dims *d, int G)
{
	const uint32_t P = (uint32_t)d->OH * d->OW, GP = (uint32_t)G * P;
	const uint32_t HW = (uint32_t)d->H * d->W, gc = e / HW, p = e - gc * HW;
	const uint32_t g = gc / d->C, c = gc - g * d->C;
	const int ih = (int)(p / d->W), iw = (int)p - ih * d->W;
	const int th = ih + d->pad, tw = iw + d->pad;
	int oh_lo, oh_hi, ow_lo, ow_hi;
	conv_taps(th, d->kh, d->stride, d->OH, &oh_lo, &oh_hi);
	conv_taps(tw, d->kw, d->stride, d->OW, &ow_lo, &ow_hi);
	const float *at = col + (size_t)c * d->kh * d->kw * GP + (size_t)g * P;
	float sum = 0.0f;
	for (int oh = oh_hi; oh >= oh_lo; oh--) {
		const int i = th - oh * d->stride;
		for (int ow = ow_hi; ow >= ow_lo; ow--) {
			const int j = tw - ow * d->stride;
			sum += at[(size_t)(i * d->kw + j) * GP + (uint32_t)(oh * d->OW + ow)];
		}
	}
	return sum;
}

#endif
