/* 2-D convolution, the plain-loop oracles (STYLE.md 5); see conv2d.h. */
#include "conv2d.h"

#include "check.h"
#include "conv2d_internal.h"

#include <string.h>

/* Direct loops with double accumulation, in the order of the equation. */
void conv2d_forward_naive(float *out, const float *in, const float *w,
			  const float *b, const struct conv2d_shape *s)
{
	conv2d_check_shape(s);
	const int oh_n = conv2d_out_h(s), ow_n = conv2d_out_w(s);
	for (int n = 0; n < s->n; n++)
	for (int k = 0; k < s->k; k++)
	for (int oh = 0; oh < oh_n; oh++)
	for (int ow = 0; ow < ow_n; ow++) {
		double sum = b ? b[k] : 0;
		for (int c = 0; c < s->c; c++)
		for (int i = 0; i < s->kh; i++)
		for (int j = 0; j < s->kw; j++) {
			int ih = oh * s->stride - s->pad + i, iw = ow * s->stride - s->pad + j;
			if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
				continue;
			sum += (double)in[(((size_t)n * s->c + c) * s->h + ih) * s->w + iw]
			     * w[(((size_t)k * s->c + c) * s->kh + i) * s->kw + j];
		}
		out[(((size_t)n * s->k + k) * oh_n + oh) * ow_n + ow] = (float)sum;
	}
}

/* The input pixel that output (oh, ow) reads through kernel tap (i, j),
 * or -1 in the padding. */
static long tap(const struct conv2d_shape *s, int n, int c, int oh, int ow, int i, int j)
{
	int ih = oh * s->stride - s->pad + i, iw = ow * s->stride - s->pad + j;
	if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
		return -1;
	return (((long)n * s->c + c) * s->h + ih) * s->w + iw;
}

void conv2d_backward_naive(float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w,
			   const struct conv2d_shape *s)
{
	conv2d_check_shape(s);
	const int oh_n = conv2d_out_h(s), ow_n = conv2d_out_w(s);
	const size_t p = (size_t)oh_n * ow_n;
	for (int k = 0; k < s->k; k++) {
		if (db) {
			double sum = 0;
			for (int n = 0; n < s->n; n++)
				for (size_t q = 0; q < p; q++)
					sum += dout[((size_t)n * s->k + k) * p + q];
			db[k] += (float)sum;
		}
		for (int c = 0; c < s->c; c++)
		for (int i = 0; i < s->kh; i++)
		for (int j = 0; j < s->kw; j++) {
			double sum = 0;
			for (int n = 0; n < s->n; n++)
			for (int oh = 0; oh < oh_n; oh++)
			for (int ow = 0; ow < ow_n; ow++) {
				long x = tap(s, n, c, oh, ow, i, j);
				if (x >= 0)
					sum += (double)in[x] * dout[((size_t)n * s->k + k) * p
								 + (size_t)oh * ow_n + ow];
			}
			dw[(((size_t)k * s->c + c) * s->kh + i) * s->kw + j] += (float)sum;
		}
	}
	if (!din)
		return;
	/* din[x] = Σ over every (k, oh, ow, i, j) whose tap is x, gathered
	 * per pixel so each sum is accumulated in double */
	for (int n = 0; n < s->n; n++)
	for (int c = 0; c < s->c; c++)
	for (int ih = 0; ih < s->h; ih++)
	for (int iw = 0; iw < s->w; iw++) {
		double sum = 0;
		for (int i = 0; i < s->kh; i++)
		for (int j = 0; j < s->kw; j++) {
			int yh = ih + s->pad - i, yw = iw + s->pad - j;
			if (yh < 0 || yw < 0 || yh % s->stride || yw % s->stride)
				continue;
			int oh = yh / s->stride, ow = yw / s->stride;
			if (oh >= oh_n || ow >= ow_n)
				continue;
			for (int k = 0; k < s->k; k++)
				sum += (double)w[(((size_t)k * s->c + c) * s->kh + i) * s->kw + j]
				     * dout[(((size_t)n * s->k + k) * oh_n + oh) * ow_n + ow];
		}
		din[(((size_t)n * s->c + c) * s->h + ih) * s->w + iw] = (float)sum;
	}
}
