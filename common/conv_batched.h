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

/* col[e], e < CKK·G·P: row r = (c·kh + i)·kw + j, column g·P + q of
 * image g (of `in`, the chunk's first image): its pixel (c, oh·s − pad + i,
 * ow·s − pad + j), 0 in the padding. */
PCQ_HOST_DEVICE static inline float conv_col_at(const float *in, size_t e,
						 const struct conv_dims *d, int G)
{
	const size_t P = (size_t)d->OH * d->OW, GP = (size_t)G * P;
	const size_t r = e / GP, g = e % GP / P, q = e % P;
	const int j = (int)(r % d->kw), i = (int)(r / d->kw % d->kh), c = (int)(r / d->kw / d->kh);
	const int ih = (int)(q / d->OW) * d->stride - d->pad + i;
	const int iw = (int)(q % d->OW) * d->stride - d->pad + j;
	if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W)
		return 0.0f;
	return in[((g * d->C + c) * d->H + ih) * d->W + iw];
}

/* Where element e of a (G, K, P) tensor lies in y (K, G·P). */
PCQ_HOST_DEVICE static inline size_t conv_y_index(size_t e, const struct conv_dims *d, int G)
{
	const size_t P = (size_t)d->OH * d->OW;
	const size_t q = e % P, k = e / P % d->K, g = e / P / d->K;
	return k * G * P + g * P + q;
}

/* din[e], e < G·C·H·W: the sum of the col entries (gradients of the
 * columns) that read pixel e, in increasing row order as col2im. */
PCQ_HOST_DEVICE static inline float conv_im_grad_at(const float *col, size_t e,
						     const struct conv_dims *d, int G)
{
	const size_t P = (size_t)d->OH * d->OW, GP = (size_t)G * P;
	const int iw = (int)(e % d->W), ih = (int)(e / d->W % d->H);
	const int c = (int)(e / ((size_t)d->W * d->H) % d->C);
	const size_t g = e / ((size_t)d->W * d->H * d->C);
	float sum = 0.0f;
	for (int i = 0; i < d->kh; i++) {
		const int th = ih + d->pad - i;
		if (th < 0 || th % d->stride || th / d->stride >= d->OH)
			continue;
		for (int j = 0; j < d->kw; j++) {
			const int tw = iw + d->pad - j;
			if (tw < 0 || tw % d->stride || tw / d->stride >= d->OW)
				continue;
			const size_t r = ((size_t)c * d->kh + i) * d->kw + j;
			sum += col[r * GP + g * P + (size_t)(th / d->stride) * d->OW + tw / d->stride];
		}
	}
	return sum;
}

#endif
