/* conv_batched.h, the GPU convolution's formulation: the same steps as
 * cuda/gemm_layers.cu (im2col of a chunk of images into one column matrix,
 * one GEMM per product, the (K, G·P) ↔ (G, K, P) reorders, the col2im
 * gather), run on the CPU through the same element maps and gemm(), give
 * conv2d_forward/backward's results: strides, padding, 1×1 and 5×5
 * kernels, chunks of one, two and all images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "conv2d.h"
#include "conv_batched.h"
#include "fixture.h"
#include "gemm.h"
#include "gradcheck.h"

/* cuda_conv2d_forward's steps, chunk by chunk. */
static void forward(float *out, float *ws, const float *in, const float *w, const float *b,
		    int N, const struct conv_dims *d, int chunk)
{
	const size_t P = (size_t)d->OH * d->OW, CKK = (size_t)d->C * d->kh * d->kw;
	for (int g0 = 0; g0 < N; g0 += chunk) {
		const int G = N - g0 < chunk ? N - g0 : chunk;
		const size_t GP = (size_t)G * P;
		float *col = ws, *y = ws + CKK * GP;
		const float *x = in + (size_t)g0 * d->C * d->H * d->W;
		for (uint32_t t = 0; t < d->C * GP; t++)
			conv_col_fill(col, x, t, d, G);
		gemm(0, 0, d->K, (int)GP, (int)CKK, 1.0f, w, (int)CKK, col, (int)GP, 0.0f, y,
		     (int)GP);
		float *o = out + (size_t)g0 * d->K * P;
		for (uint32_t e = 0, k; e < GP * d->K; e++) {
			const float v = y[conv_y_index(e, d, G, &k)];
			o[e] = v + (b ? b[k] : 0.0f);
		}
	}
}

/* cuda_conv2d_backward's steps (the bias gradient is a plain sum). */
static void backward(float *din, float *dw, float *ws, const float *dout, const float *in,
		     const float *w, int N, const struct conv_dims *d, int chunk)
{
	const size_t P = (size_t)d->OH * d->OW, CKK = (size_t)d->C * d->kh * d->kw;
	const size_t image = (size_t)d->C * d->H * d->W;
	for (int g0 = 0; g0 < N; g0 += chunk) {
		const int G = N - g0 < chunk ? N - g0 : chunk;
		const size_t GP = (size_t)G * P;
		float *col = ws, *y = ws + CKK * GP;
		for (uint32_t t = 0; t < d->C * GP; t++)
			conv_col_fill(col, in + g0 * image, t, d, G);
		const float *g = dout + (size_t)g0 * d->K * P;
		for (uint32_t e = 0, k; e < GP * d->K; e++)
			y[conv_y_index(e, d, G, &k)] = g[e];
		gemm(0, 1, d->K, (int)CKK, (int)GP, 1.0f, y, (int)GP, col, (int)GP, 1.0f, dw,
		     (int)CKK);
		gemm(1, 0, (int)CKK, (int)GP, d->K, 1.0f, w, (int)CKK, y, (int)GP, 0.0f, col,
		     (int)GP);
		for (uint32_t e = 0; e < G * image; e++)
			din[g0 * image + e] = conv_im_grad_at(col, e, d, G);
	}
}

static void check(const struct conv2d_shape *s, int chunk)
{
	const struct conv_dims d = conv_dims_of(s->c, s->h, s->w, s->k, s->kh, s->kw, s->stride,
						s->pad);
	assert_int_equal(d.OH, conv2d_out_h(s));
	assert_int_equal(d.OW, conv2d_out_w(s));
	const size_t zi = (size_t)s->n * s->c * s->h * s->w, zw = (size_t)s->k * s->c * s->kh * s->kw;
	const size_t zo = (size_t)s->n * s->k * d.OH * d.OW;
	float *in = malloc(zi * 4), *w = malloc(zw * 4), *b = malloc(s->k * 4), *g = malloc(zo * 4);
	fill_normal(in, zi, 0, 1, 1);
	fill_normal(w, zw, 0, 1, 2);
	fill_normal(b, s->k, 0, 1, 3);
	fill_normal(g, zo, 0, 1, 4);
	float *want = malloc(zo * 4), *got = malloc(zo * 4);
	float *din_want = malloc(zi * 4), *din_got = malloc(zi * 4);
	float *dw_want = calloc(zw, 4), *dw_got = calloc(zw, 4);
	float *ref_ws = malloc((conv2d_workspace_floats(s) + 1) * 4);
	float *ws = malloc(chunk * conv_batched_floats_per_image(&d) * 4);
	conv2d_forward(want, ref_ws, in, w, b, s);
	conv2d_backward(din_want, dw_want, NULL, ref_ws, g, in, w, s);
	forward(got, ws, in, w, b, s->n, &d, chunk);
	assert_close(got, want, zo, 1e-4, 1e-4, "forward");
	forward(got, ws, in, w, NULL, s->n, &d, chunk);   /* without bias */
	for (size_t e = 0; e < zo; e++)
		want[e] -= b[e / ((size_t)d.OH * d.OW) % s->k];
	assert_close(got, want, zo, 1e-4, 1e-4, "forward without bias");
	backward(din_got, dw_got, ws, g, in, w, s->n, &d, chunk);
	assert_close(din_got, din_want, zi, 1e-4, 1e-4, "input gradient");
	assert_close(dw_got, dw_want, zw, 1e-3, 1e-4, "weight gradient");
	float *ps[] = {in, w, b, g, want, got, din_want, din_got, dw_want, dw_got, ref_ws, ws};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		free(ps[i]);
}

static void test_matches_conv2d(void **state)
{
	(void)state;
	const struct conv2d_shape shapes[] = {
		{.n = 5, .c = 3, .h = 9, .w = 7, .k = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1},
		{.n = 4, .c = 5, .h = 8, .w = 8, .k = 6, .kh = 1, .kw = 1, .stride = 2, .pad = 0},
		{.n = 3, .c = 2, .h = 11, .w = 10, .k = 3, .kh = 5, .kw = 5, .stride = 2, .pad = 2},
		{.n = 3, .c = 16, .h = 8, .w = 8, .k = 32, .kh = 3, .kw = 3, .stride = 2, .pad = 1},
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const int chunks[] = {1, 2, shapes[i].n};
		for (int c = 0; c < 3; c++)
			check(&shapes[i], chunks[c]);
	}
}

/* The maps against their definitions, exactly: col entry (r, g·P + q) is
 * pixel (c, oh·s − pad + i, ow·s − pad + j) of image g (0 outside), and
 * the input gradient of a pixel sums the col entries that read it in
 * increasing row order r. Odd strides, padding wider than the stride,
 * kernels wider than the image. */
static void check_maps(int G, int C, int H, int W, int kh, int kw, int stride, int pad)
{
	const struct conv_dims d = conv_dims_of(C, H, W, 2, kh, kw, stride, pad);
	const size_t P = (size_t)d.OH * d.OW, GP = (size_t)G * P, CKK = (size_t)C * kh * kw;
	const size_t image = (size_t)C * H * W;
	float *in = malloc(G * image * 4), *col = malloc(CKK * GP * 4), *g = malloc(CKK * GP * 4);
	fill_normal(in, G * image, 0, 1, 5);
	fill_normal(g, CKK * GP, 0, 1, 6);
	memset(col, 0xff, CKK * GP * 4);
	for (uint32_t t = 0; t < C * GP; t++)
		conv_col_fill(col, in, t, &d, G);
	float *din = calloc(G * image, 4);
	for (size_t r = 0; r < CKK; r++) {
		const int j = (int)(r % kw), i = (int)(r / kw % kh), c = (int)(r / kw / kh);
		for (size_t u = 0; u < GP; u++) {
			const size_t n = u / P, q = u % P;
			const int ih = (int)(q / d.OW) * stride - pad + i;
			const int iw = (int)(q % d.OW) * stride - pad + j;
			const int inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
			const size_t at = ((n * C + c) * H + ih) * W + iw;
			assert_true(memcmp(&col[r * GP + u], inside ? &in[at] : &(float){0}, 4) == 0);
			if (inside)
				din[at] += g[r * GP + u];
		}
	}
	for (uint32_t e = 0; e < G * image; e++) {
		const float got = conv_im_grad_at(g, e, &d, G);
		assert_true(memcmp(&got, &din[e], 4) == 0);
	}
	free(in);
	free(col);
	free(g);
	free(din);
}

static void test_maps_exact(void **state)
{
	(void)state;
	check_maps(3, 2, 7, 6, 3, 3, 1, 1);
	check_maps(2, 3, 9, 8, 3, 3, 2, 1);
	check_maps(2, 2, 10, 11, 5, 5, 3, 2);
	check_maps(2, 1, 4, 5, 7, 6, 1, 3);
	check_maps(1, 4, 8, 8, 1, 1, 2, 0);
	check_maps(3, 2, 6, 7, 2, 3, 2, 0);
}

/* Chunks fill the workspace bound and never exceed the batch. */
static void test_chunk(void **state)
{
	(void)state;
	struct conv_dims d = conv_dims_of(16, 32, 32, 16, 3, 3, 1, 1);
	const size_t per = conv_batched_floats_per_image(&d);
	assert_int_equal(per, 1024 * (144 + 16));
	assert_int_equal(conv_batched_chunk(&d, 128, CONV_BATCHED_MAX_FLOATS), 128);
	assert_int_equal(conv_batched_chunk(&d, 1000, CONV_BATCHED_MAX_FLOATS),
			 (int)(CONV_BATCHED_MAX_FLOATS / per));
	assert_int_equal(conv_batched_chunk(&d, 128, per * 3 + 5), 3);
	assert_int_equal(conv_batched_chunk(&d, 128, per - 1), 1);
	/* 32-bit indices: any chunk within the bound fits; one image of
	 * 64×3000×3000 (5.2·10^9 column entries) does not */
	assert_true(conv_batched_fits(&d, conv_batched_chunk(&d, 1 << 20, CONV_BATCHED_MAX_FLOATS)));
	d = conv_dims_of(64, 3000, 3000, 64, 3, 3, 1, 1);
	assert_int_equal(conv_batched_chunk(&d, 1, CONV_BATCHED_MAX_FLOATS), 1);
	assert_false(conv_batched_fits(&d, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_conv2d),
		cmocka_unit_test(test_maps_exact),
		cmocka_unit_test(test_chunk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
