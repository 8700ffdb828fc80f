/* The integer engine one output at a time (SPEC §9): the definitions
 * that qengine.c computes with its fast kernels, written once for the
 * device engine (qdevice.c), whose host devops run them in loops and whose
 * CUDA kernel (cuda/qengine.cu) runs one thread per output. Integer
 * arithmetic only, fixedpoint.h's rounding: the same bytes on every device.
 * Activations are NHWC as in qmodel.h; cl holds each image's cluster. */
#ifndef PCQ_QKERNELS_H
#define PCQ_QKERNELS_H

#include "fixedpoint.h"
#include "host_device.h"

#include <stddef.h>
#include <stdint.h>

enum qk_op { QK_WEIGHTED, QK_ADD, QK_MAXPOOL, QK_GLOBAL_AVGPOOL, QK_AVGPOOL_REQUANT, QK_FLATTEN };

/* One node as a device runs it; the pointers are the device's. */
struct qk_node {
	int op;                    /* enum qk_op */
	int c, h, w;               /* output per image */
	int ic, ih, iw;            /* input 0 per image */
	int kernel, stride, pad, relu, acc_shift, qmax;
	int per_channel;           /* weighted: m0, shift (K, c) */
	int out_wide;              /* output uint16 (more than 8 bits: a 16-bit
				    * residual branch), else uint8 */
	int a_wide, b_wide;        /* add: that input is uint16 */
	const int16_t *weight;     /* weighted: (kernel, kernel, ic, c), q_w − Z2: the
				    * threads of neighbouring output channels read
				    * neighbouring weights */
	const int32_t *bias;       /* weighted: (K, c) */
	const int32_t *in_zero, *out_zero, *m0, *shift;   /* (K) each, where used */
	const int32_t *b_zero, *a_mult, *b_mult;           /* add: (K) each */
};

PCQ_HOST_DEVICE static inline int32_t qk_clamp(int64_t v, int32_t lo, int32_t hi)
{
	return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

/* Element e of an activation, uint16 where wide. */
PCQ_HOST_DEVICE static inline int32_t qk_load(const uint8_t *x, int wide, size_t e)
{
	return wide ? ((const uint16_t *)x)[e] : x[e];
}

/* conv2d and linear (a 1×1 convolution of a 1×1 image): output byte
 * e = ((i·h + oy)·w + ox)·c + k is
 *   clamp(Z3 + M·(Σ (x − Z1)·(q_w − Z2) · 2^acc_shift + bias), lo, qmax)
 * (M and Z2 of channel k with per-channel weights)
 * over the window's taps inside the image (the padding is real zero,
 * x = Z1), lo = Z3 under a ReLU, else 0. The sums fit int32
 * (qmodel_load checks the bias's room); they are taken modulo 2^32 so
 * that no signed overflow is even possible. */
PCQ_HOST_DEVICE static inline int32_t qk_weighted_at(const struct qk_node *n, const uint8_t *x,
						     const int32_t *cl, size_t e)
{
	const int k = (int)(e % n->c);
	const size_t pix = e / n->c;
	const int ox = (int)(pix % n->w), oy = (int)(pix / n->w % n->h);
	const size_t i = pix / ((size_t)n->w * n->h);
	const int cluster = cl[i];
	const int32_t z1 = n->in_zero[cluster];
	const int16_t *w = n->weight + k;
	const uint8_t *xi = x + i * n->ih * n->iw * n->ic;
	uint32_t acc = 0;
	for (int ky = 0; ky < n->kernel; ky++) {
		const int iy = oy * n->stride - n->pad + ky;
		if (iy < 0 || iy >= n->ih)
			continue;
		for (int kx = 0; kx < n->kernel; kx++) {
			const int ix = ox * n->stride - n->pad + kx;
			if (ix < 0 || ix >= n->iw)
				continue;
			const uint8_t *p = xi + ((size_t)iy * n->iw + ix) * n->ic;
			const int16_t *q = w + (size_t)(ky * n->kernel + kx) * n->ic * n->c;
			for (int ch = 0; ch < n->ic; ch++)
				acc += (uint32_t)((p[ch] - z1) * q[(size_t)ch * n->c]);
		}
	}
	const uint32_t v = (acc << n->acc_shift) + (uint32_t)n->bias[(size_t)cluster * n->c + k];
	const int32_t z3 = n->out_zero[cluster];
	const size_t m = n->per_channel ? (size_t)cluster * n->c + k : (size_t)cluster;
	return qk_clamp((int64_t)z3 + fp_requantize((int32_t)v, n->m0[m], n->shift[m]),
			n->relu ? z3 : 0, n->qmax);
}

/* The residual add (requant.h's requant_add_u8 and requant_add_wide):
 * clamp(Z3 + round((a − Za)·Ma + (b − Zb)·Mb, 2^−shift), lo, qmax), the
 * sum exact in int64 (below 2^31 for byte inputs, as the CPU's int32). */
PCQ_HOST_DEVICE static inline int32_t qk_add_at(const struct qk_node *n, const uint8_t *a,
						const uint8_t *b, const int32_t *cl, size_t e)
{
	const int cluster = cl[e / ((size_t)n->c * n->h * n->w)];
	const int32_t z3 = n->out_zero[cluster];
	const int64_t sum =
		(int64_t)(qk_load(a, n->a_wide, e) - n->in_zero[cluster]) * n->a_mult[cluster] +
		(int64_t)(qk_load(b, n->b_wide, e) - n->b_zero[cluster]) * n->b_mult[cluster];
	return qk_clamp((int64_t)z3 + fp_div_pot64(sum, n->shift[cluster]), n->relu ? z3 : 0,
			n->qmax);
}

/* Max over the window's taps inside the image (padding never wins). */
PCQ_HOST_DEVICE static inline uint8_t qk_maxpool_at(const struct qk_node *n, const uint8_t *x,
						    size_t e)
{
	const int ch = (int)(e % n->c);
	const size_t pix = e / n->c;
	const int ox = (int)(pix % n->w), oy = (int)(pix / n->w % n->h);
	const size_t i = pix / ((size_t)n->w * n->h);
	uint8_t m = 0;
	for (int ky = 0; ky < n->kernel; ky++) {
		const int iy = oy * n->stride - n->pad + ky;
		for (int kx = 0; kx < n->kernel; kx++) {
			const int ix = ox * n->stride - n->pad + kx;
			if (iy < 0 || iy >= n->ih || ix < 0 || ix >= n->iw)
				continue;
			const uint8_t v = x[((i * n->ih + iy) * n->iw + ix) * n->ic + ch];
			m = v > m ? v : m;
		}
	}
	return m;
}

/* Σ over the image's P pixels of channel ch (as int32). */
PCQ_HOST_DEVICE static inline int32_t qk_channel_sum(const struct qk_node *n, const uint8_t *x,
						     size_t i, int ch)
{
	const int P = n->ih * n->iw;
	int32_t sum = 0;
	for (int p = 0; p < P; p++)
		sum += x[(i * P + p) * n->ic + ch];
	return sum;
}

/* The global average pool keeping the input's scale: (Σ + P/2) / P. */
PCQ_HOST_DEVICE static inline uint8_t qk_global_avgpool_at(const struct qk_node *n,
							   const uint8_t *x, size_t e)
{
	const int P = n->ih * n->iw;
	return (uint8_t)((qk_channel_sum(n, x, e / n->c, (int)(e % n->c)) + P / 2) / P);
}

/* The global average pool with its own output scale:
 * clamp(Z3 + M·((Σ − P·Z1)·2^acc_shift), 0, qmax). */
PCQ_HOST_DEVICE static inline int32_t qk_avgpool_requant_at(const struct qk_node *n,
							    const uint8_t *x, const int32_t *cl,
							    size_t e)
{
	const size_t i = e / n->c;
	const int cluster = cl[i];
	const int32_t base = n->ih * n->iw * n->in_zero[cluster];
	const int32_t v = (qk_channel_sum(n, x, i, (int)(e % n->c)) - base) * (1 << n->acc_shift);
	return qk_clamp((int64_t)n->out_zero[cluster] +
			fp_requantize(v, n->m0[cluster], n->shift[cluster]), 0, n->qmax);
}

/* NHWC to the (C, H, W) order of a linear layer's weights. */
PCQ_HOST_DEVICE static inline uint8_t qk_flatten_at(const struct qk_node *n, const uint8_t *x,
						    size_t e)
{
	const size_t hw = (size_t)n->ih * n->iw, per = hw * n->ic;
	const size_t i = e / per, r = e % per;
	return x[i * per + r % hw * n->ic + r / hw];
}

/* Output e of node n (a byte, or a uint16 value with out_wide); b is the
 * add's second input. */
PCQ_HOST_DEVICE static inline int32_t qk_at(const struct qk_node *n, const uint8_t *a,
					    const uint8_t *b, const int32_t *cl, size_t e)
{
	switch (n->op) {
	case QK_WEIGHTED: return qk_weighted_at(n, a, cl, e);
	case QK_ADD: return qk_add_at(n, a, b, cl, e);
	case QK_MAXPOOL: return qk_maxpool_at(n, a, e);
	case QK_GLOBAL_AVGPOOL: return qk_global_avgpool_at(n, a, e);
	case QK_AVGPOOL_REQUANT: return qk_avgpool_requant_at(n, a, cl, e);
	default: return qk_flatten_at(n, a, e);
	}
}

/* Writes output e of node n into out (uint16 with out_wide). */
PCQ_HOST_DEVICE static inline void qk_store(const struct qk_node *n, uint8_t *out,
					    const uint8_t *a, const uint8_t *b, const int32_t *cl,
					    size_t e)
{
	const int32_t v = qk_at(n, a, b, cl, e);
	if (n->out_wide)
		((uint16_t *)out)[e] = (uint16_t)v;
	else
		out[e] = (uint8_t)v;
}

#endif
