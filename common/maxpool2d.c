/* MaxPool2d forward and backward (see maxpool2d.h), following PyTorch's
 * CPU kernel (aten/src/ATen/native/cpu/MaxPoolKernel.cpp: the window is
 * clipped to the plane, `val > maxval || isnan(val)` picks the maximum). */
#include "maxpool2d.h"

#include "check.h"
#include "layout.h"
#include "window.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static void check_shape(const struct maxpool2d_shape *s)
{
	CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0);
	CHECK(s->kernel > 0 && s->stride > 0 && s->pad >= 0);
	CHECK(2 * s->pad <= s->kernel);
	CHECK(s->H + 2 * s->pad >= s->kernel && s->W + 2 * s->pad >= s->kernel);
}

int maxpool2d_out_h(const struct maxpool2d_shape *s)
{
	return window_out(s->H, s->kernel, s->stride, s->pad);
}

int maxpool2d_out_w(const struct maxpool2d_shape *s)
{
	return window_out(s->W, s->kernel, s->stride, s->pad);
}

/* The maximum over rows [hs, he) and columns [ws, we) of a W-wide plane
 * and the index of its first occurrence, with PyTorch's rule
 * `v > m || isnan(v)`. Written so that m is a chain of maxss and the index
 * an integer select (a float ?: on both compiles to a branch, which random
 * data mispredicts: 10x slower); NaN, rare, takes a second scan. */
static int window_max(const float *x, int W, int hs, int he, int ws, int we,
		      float *max)
{
	float m = -INFINITY;
	int best = hs * W + ws, nan = 0;
	for (int h = hs; h < he; h++)
		for (int w = ws; w < we; w++) {
			const int i = h * W + w;
			const float v = x[i];
			const uint32_t gt = -(uint32_t)(v > m);
			best = (int)(((uint32_t)i & gt) | ((uint32_t)best & ~gt));
			m = v > m ? v : m;
			nan |= v != v;
		}
	if (nan) {
		/* After a NaN nothing is greater, and each later NaN wins. */
		for (int h = hs; h < he; h++)
			for (int w = ws; w < we; w++)
				if (isnan(x[h * W + w]))
					best = h * W + w;
		m = x[best];
	}
	*max = m;
	return best;
}

/* The blocked layout: plane p holds 16 channels' H×W maps interleaved;
 * the same rule lane by lane, argmax the pixel index h·W + w. The 16
 * lanes are two vectors of 8 (GCC kept arrays of them in memory, and each
 * window element waited for a store to be read back); a select is a
 * bitwise blend of the comparison's mask. */
_Static_assert(ACT_BLOCK == 16, "forward_blocked holds a block as two vectors");
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define BLEND(mask, a, b) (((a) & (mask)) | ((b) & ~(mask)))

static void forward_blocked(float *out, int32_t *argmax, const float *in,
			    const struct maxpool2d_shape *s)
{
	const int H = s->H, W = s->W, Ho = maxpool2d_out_h(s), Wo = maxpool2d_out_w(s);
	const long planes = (long)s->N * (s->C / ACT_BLOCK);
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		const float *x = in + (size_t)p * H * W * ACT_BLOCK;
		float *y = out + (size_t)p * Ho * Wo * ACT_BLOCK;
		int32_t *am = argmax + (size_t)p * Ho * Wo * ACT_BLOCK;
		for (int oh = 0; oh < Ho; oh++) {
			int hs, he;
			window_span(oh, s->kernel, s->stride, s->pad, H, &hs, &he);
			for (int ow = 0; ow < Wo; ow++) {
				int ws, we;
				window_span(ow, s->kernel, s->stride, s->pad, W, &ws, &we);
				v8f m[2];
				v8i best[2], nan = {0};
				for (int q = 0; q < 2; q++) {
					m[q] = (v8f){0} - INFINITY;
					best[q] = (v8i){0} + hs * W + ws;
				}
				for (int h = hs; h < he; h++)
					for (int w = ws; w < we; w++) {
						const int i = h * W + w;
						for (int q = 0; q < 2; q++) {
							v8f v;
							memcpy(&v, x + (size_t)i * ACT_BLOCK + 8 * q, sizeof(v));
							const v8i gt = v > m[q];
							best[q] = BLEND(gt, (v8i){0} + i, best[q]);
							m[q] = (v8f)BLEND(gt, (v8i)v, (v8i)m[q]);
							nan |= v != v;
						}
					}
				float mf[ACT_BLOCK];
				int32_t bf[ACT_BLOCK];
				memcpy(mf, m, sizeof(mf));
				memcpy(bf, best, sizeof(bf));
				int any_nan = 0;
				for (int l = 0; l < 8; l++)
					any_nan |= nan[l];
				for (int l = 0; any_nan && l < ACT_BLOCK; l++)
					for (int h = hs; h < he; h++)
						for (int w = ws; w < we; w++)
							if (isnan(x[(size_t)(h * W + w) * ACT_BLOCK + l])) {
								bf[l] = h * W + w;
								mf[l] = NAN;
							}
				const size_t o = ((size_t)oh * Wo + ow) * ACT_BLOCK;
				memcpy(y + o, mf, sizeof(mf));
				memcpy(am + o, bf, sizeof(bf));
			}
		}
	}
}

static void backward_blocked(float *din, const int32_t *argmax, const float *dout,
			     const struct maxpool2d_shape *s)
{
	const int H = s->H, W = s->W, Ho = maxpool2d_out_h(s), Wo = maxpool2d_out_w(s);
	const long planes = (long)s->N * (s->C / ACT_BLOCK);
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		float *dx = din + (size_t)p * H * W * ACT_BLOCK;
		const float *dy = dout + (size_t)p * Ho * Wo * ACT_BLOCK;
		const int32_t *am = argmax + (size_t)p * Ho * Wo * ACT_BLOCK;
		memset(dx, 0, (size_t)H * W * ACT_BLOCK * sizeof(float));
		for (int i = 0; i < Ho * Wo * ACT_BLOCK; i++) {
			CHECK(am[i] >= 0 && am[i] < H * W);
			dx[(size_t)am[i] * ACT_BLOCK + i % ACT_BLOCK] += dy[i];
		}
	}
}

void maxpool2d_forward(float *out, int32_t *argmax, const float *in,
		       const struct maxpool2d_shape *s)
{
	check_shape(s);
	if (s->blocked) {
		CHECK(s->C % ACT_BLOCK == 0);
		forward_blocked(out, argmax, in, s);
		return;
	}
	const int H = s->H, W = s->W, Ho = maxpool2d_out_h(s), Wo = maxpool2d_out_w(s);
	const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		const float *x = in + (size_t)p * H * W;
		float *y = out + (size_t)p * Ho * Wo;
		int32_t *am = argmax + (size_t)p * Ho * Wo;
		for (int oh = 0; oh < Ho; oh++) {
			int hs, he;
			window_span(oh, s->kernel, s->stride, s->pad, H, &hs, &he);
			for (int ow = 0; ow < Wo; ow++) {
				int ws, we;
				window_span(ow, s->kernel, s->stride, s->pad, W, &ws, &we);
				am[oh * Wo + ow] = window_max(x, W, hs, he, ws, we,
							      &y[oh * Wo + ow]);
			}
		}
	}
}

void maxpool2d_backward(float *din, const int32_t *argmax, const float *dout,
			const struct maxpool2d_shape *s)
{
	check_shape(s);
	if (s->blocked) {
		CHECK(s->C % ACT_BLOCK == 0);
		backward_blocked(din, argmax, dout, s);
		return;
	}
	const int H = s->H, W = s->W, Ho = maxpool2d_out_h(s), Wo = maxpool2d_out_w(s);
	const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		float *dx = din + (size_t)p * H * W;
		const float *dy = dout + (size_t)p * Ho * Wo;
		const int32_t *am = argmax + (size_t)p * Ho * Wo;
		memset(dx, 0, (size_t)H * W * sizeof(float));
		for (int i = 0; i < Ho * Wo; i++) {
			CHECK(am[i] >= 0 && am[i] < H * W);
			dx[am[i]] += dy[i];
		}
	}
}
