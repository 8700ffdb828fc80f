/* AvgPool2d and the global average pool, forward and backward (see
 * avgpool2d.h), following PyTorch's CPU kernel for count_include_pad
 * (aten/src/ATen/native/cpu/AvgPoolKernel.cpp: the divisor is the window
 * clipped to the padded plane, which without ceil_mode is kernel²). */
#include "avgpool2d.h"

#include "check.h"
#include "layout.h"
#include "window.h"

#include <stddef.h>
#include <string.h>

static void check_dims(const struct avgpool2d_shape *s)
{
	CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0);
}

static void check_shape(const struct avgpool2d_shape *s)
{
	check_dims(s);
	CHECK(s->kernel > 0 && s->stride > 0 && s->pad >= 0);
	CHECK(2 * s->pad <= s->kernel);
	CHECK(s->H + 2 * s->pad >= s->kernel && s->W + 2 * s->pad >= s->kernel);
}

int avgpool2d_out_h(const struct avgpool2d_shape *s)
{
	return window_out(s->H, s->kernel, s->stride, s->pad);
}

int avgpool2d_out_w(const struct avgpool2d_shape *s)
{
	return window_out(s->W, s->kernel, s->stride, s->pad);
}

void avgpool2d_forward(float *out, const float *in, const struct avgpool2d_shape *s)
{
	check_shape(s);
	const int H = s->H, W = s->W, Ho = avgpool2d_out_h(s), Wo = avgpool2d_out_w(s);
	const float div = (float)(s->kernel * s->kernel);
	const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		const float *x = in + (size_t)p * H * W;
		float *y = out + (size_t)p * Ho * Wo;
		for (int oh = 0; oh < Ho; oh++) {
			int hs, he;
			window_span(oh, s->kernel, s->stride, s->pad, H, &hs, &he);
			for (int ow = 0; ow < Wo; ow++) {
				int ws, we;
				window_span(ow, s->kernel, s->stride, s->pad, W, &ws, &we);
				float sum = 0;
				for (int h = hs; h < he; h++)
					for (int w = ws; w < we; w++)
						sum += x[h * W + w];
				y[oh * Wo + ow] = sum / div;
			}
		}
	}
}

void avgpool2d_backward(float *din, const float *dout, const struct avgpool2d_shape *s)
{
	check_shape(s);
	const int H = s->H, W = s->W, Ho = avgpool2d_out_h(s), Wo = avgpool2d_out_w(s);
	const float div = (float)(s->kernel * s->kernel);
	const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		float *dx = din + (size_t)p * H * W;
		const float *dy = dout + (size_t)p * Ho * Wo;
		memset(dx, 0, (size_t)H * W * sizeof(float));
		for (int oh = 0; oh < Ho; oh++) {
			int hs, he;
			window_span(oh, s->kernel, s->stride, s->pad, H, &hs, &he);
			for (int ow = 0; ow < Wo; ow++) {
				int ws, we;
				window_span(ow, s->kernel, s->stride, s->pad, W, &ws, &we);
				float g = dy[oh * Wo + ow] / div;
				for (int h = hs; h < he; h++)
					for (int w = ws; w < we; w++)
						dx[h * W + w] += g;
			}
		}
	}
}

void avgpool2d_global_forward(float *out, const float *in,
			      const struct avgpool2d_shape *s)
{
	check_dims(s);
	const size_t HW = (size_t)s->H * s->W;
	if (s->blocked) {
		/* out (N, C) plain: the one place blocked activations end */
		CHECK(s->C % ACT_BLOCK == 0);
		const long planes = (long)s->N * (s->C / ACT_BLOCK);
#pragma omp parallel for schedule(static)
		for (long p = 0; p < planes; p++) {
			const float *x = in + (size_t)p * HW * ACT_BLOCK;
			double sum[ACT_BLOCK] = {0};
			for (size_t i = 0; i < HW; i++)
#pragma omp simd
				for (int l = 0; l < ACT_BLOCK; l++)
					sum[l] += x[i * ACT_BLOCK + l];
			for (int l = 0; l < ACT_BLOCK; l++)
				out[p * ACT_BLOCK + l] = (float)(sum[l] / (double)HW);
		}
		return;
	}
	const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		const float *x = in + (size_t)p * HW;
		double sum = 0;
#pragma omp simd reduction(+ : sum)
		for (size_t i = 0; i < HW; i++)
			sum += x[i];
		out[p] = (float)(sum / (double)HW);
	}
}

void avgpool2d_global_backward(float *din, const float *dout,
			       const struct avgpool2d_shape *s)
{
	check_dims(s);
	const size_t HW = (size_t)s->H * s->W;
	if (s->blocked) {
		CHECK(s->C % ACT_BLOCK == 0);
		const long planes = (long)s->N * (s->C / ACT_BLOCK);
#pragma omp parallel for schedule(static)
		for (long p = 0; p < planes; p++) {
			float g[ACT_BLOCK];
			for (int l = 0; l < ACT_BLOCK; l++)
				g[l] = dout[p * ACT_BLOCK + l] / (float)HW;
			float *dx = din + (size_t)p * HW * ACT_BLOCK;
			for (size_t i = 0; i < HW; i++)
#pragma omp simd
				for (int l = 0; l < ACT_BLOCK; l++)
					dx[i * ACT_BLOCK + l] = g[l];
		}
		return;
	}
	const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		float g = dout[p] / (float)HW;
		float *dx = din + (size_t)p * HW;
#pragma omp simd
		for (size_t i = 0; i < HW; i++)
			dx[i] = g;
	}
}
