/* Tests for conv2d_dnnl.c: oneDNN's convolutions (direct and Winograd, a
 * plain or blocked input, a blocked output) against conv2d.c's direct
 * loops on random data, for the full planned batch and a smaller one;
 * and layout.c's reorders. Skipped, and said so, where oneDNN has no JIT
 * kernel (no AVX-512) or PCQ_CONV=off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv2d.h"
#include "conv2d_dnnl.h"
#include "fixture.h"
#include "gradcheck.h"
#include "layout.h"

static float *alloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	assert_non_null(p);
	return p;
}

static void test_layout_roundtrip(void **state)
{
	(void)state;
	const int n = 3, c = 32, hw = 7;
	const size_t z = (size_t)n * c * hw;
	float *a = alloc(z), *b = alloc(z), *back = alloc(z);
	for (size_t i = 0; i < z; i++)
		a[i] = (float)i;
	layout_to_blocked(b, a, n, c, hw);
	/* element (n=1, c=19, i=5): block 1 of image 1, lane 3 */
	assert_true(b[((size_t)(1 * 2 + 1) * hw + 5) * 16 + 3] == a[((size_t)1 * c + 19) * hw + 5]);
	layout_to_plain(back, b, n, c, hw);
	assert_memory_equal(a, back, z * sizeof(float));
	free(a), free(b), free(back);
}

struct conv_case {
	struct conv2d_shape s;
	int in_blocked, bias;
};

static const struct conv_case cases[] = {
	/* ResNet20: stage 1 (direct), stage 2 and 3 (Winograd), a stride-2
	 * 3x3 and the 1x1 stride-2 downsample, the first layer (plain input) */
	{{.n = 4, .c = 16, .h = 32, .w = 32, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 1, 0},
	{{.n = 4, .c = 32, .h = 16, .w = 16, .k = 32, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 1, 0},
	{{.n = 3, .c = 64, .h = 8, .w = 8, .k = 64, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 1, 1},
	{{.n = 3, .c = 16, .h = 32, .w = 32, .k = 32, .kh = 3, .kw = 3, .stride = 2, .pad = 1}, 1, 0},
	{{.n = 3, .c = 16, .h = 32, .w = 32, .k = 32, .kh = 1, .kw = 1, .stride = 2, .pad = 0}, 1, 0},
	{{.n = 3, .c = 3, .h = 32, .w = 32, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 0, 0},
	/* AlexNetSmall: 5x5 layers, 3x3 on 7x7 maps (Winograd), odd sizes */
	{{.n = 2, .c = 3, .h = 32, .w = 32, .k = 96, .kh = 5, .kw = 5, .stride = 1, .pad = 2}, 0, 1},
	{{.n = 2, .c = 96, .h = 15, .w = 15, .k = 64, .kh = 5, .kw = 5, .stride = 1, .pad = 2}, 1, 1},
	{{.n = 2, .c = 64, .h = 7, .w = 7, .k = 48, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 1, 1},
	{{.n = 2, .c = 32, .h = 13, .w = 11, .k = 16, .kh = 3, .kw = 3, .stride = 2, .pad = 1}, 1, 1},
};

/* conv2d_dnnl on the first `n` images of case t against the naive loops. */
static int check_case(size_t t, int n)
{
	const struct conv_case *cc = &cases[t];
	struct conv2d_shape s = cc->s;
	struct conv2d_dnnl *d = conv2d_dnnl_create(&s, cc->in_blocked, cc->bias,
						   CONV2D_DNNL_DW | (cc->in_blocked ? CONV2D_DNNL_DIN : 0));
	if (!d)
		return 0;
	s.n = n;
	const int oh = conv2d_out_h(&s), ow = conv2d_out_w(&s);
	const size_t zin = (size_t)n * s.c * s.h * s.w, zout = (size_t)n * s.k * oh * ow;
	const size_t zw = (size_t)s.k * s.c * s.kh * s.kw;
	float *in = alloc(zin), *w = alloc(zw), *b = alloc(s.k), *dout = alloc(zout);
	fill_normal(in, zin, 0, 1, 10 + t);
	fill_normal(w, zw, 0, 1 / sqrtf((float)(s.c * s.kh * s.kw)), 20 + t);
	fill_normal(b, s.k, 0, 0.5f, 30 + t);
	fill_normal(dout, zout, 0, 1, 40 + t);
	float *out = alloc(zout), *din = alloc(zin), *dw = alloc(zw), *db = alloc(s.k);
	float *out_ref = alloc(zout), *din_ref = alloc(zin), *dw_ref = alloc(zw), *db_ref = alloc(s.k);
	fill_normal(dw, zw, 0, 1, 50 + t);  /* += onto something */
	memcpy(dw_ref, dw, zw * sizeof(float));
	db[0] = db_ref[0] = 2;

	/* the kernels' layouts */
	float *in_k = alloc(zin), *dout_k = alloc(zout), *out_k = alloc(zout), *din_k = alloc(zin);
	if (cc->in_blocked)
		layout_to_blocked(in_k, in, n, s.c, s.h * s.w);
	else
		memcpy(in_k, in, zin * sizeof(float));
	layout_to_blocked(dout_k, dout, n, s.k, oh * ow);
	conv2d_dnnl_forward(d, n, out_k, in_k, w, cc->bias ? b : NULL);
	/* a plain input is the network's: no input gradient (as in a model) */
	conv2d_dnnl_backward(d, n, cc->in_blocked ? din_k : NULL, dw, cc->bias ? db : NULL, dout_k, in_k, w);
	layout_to_plain(out, out_k, n, s.k, oh * ow);
	if (cc->in_blocked)
		layout_to_plain(din, din_k, n, s.c, s.h * s.w);

	conv2d_forward_naive(out_ref, in, w, cc->bias ? b : NULL, &s);
	conv2d_backward_naive(din_ref, dw_ref, cc->bias ? db_ref : NULL, dout, in, w, &s);
	char what[96];
	const char *names[] = {"out", "din", "dw", "db"};
	const float *got[] = {out, din, dw, db}, *want[] = {out_ref, din_ref, dw_ref, db_ref};
	const size_t z[] = {zout, zin, zw, cc->bias ? (size_t)s.k : 1};
	/* Winograd's transforms round differently from a direct sum; both
	 * stay well inside this on unit-variance data. */
	for (int i = 0; i < 4; i++) {
		if (i == 1 && !cc->in_blocked)
			continue;
		snprintf(what, sizeof(what), "case %zu (%s) n=%d %s", t, conv2d_dnnl_kernel(d), n,
			 names[i]);
		assert_close(got[i], want[i], z[i], 1e-4, 1e-4, what);
	}
	if (n == cc->s.n)
		print_message("conv2d_dnnl: case %zu: %s\n", t, conv2d_dnnl_kernel(d));
	float *ps[] = {in, w, b, dout, out, din, dw, db, out_ref, din_ref, dw_ref, db_ref,
		       in_k, dout_k, out_k, din_k};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		free(ps[i]);
	conv2d_dnnl_free(d);
	return 1;
}

static void test_matches_naive(void **state)
{
	(void)state;
	int ran = 0;
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		ran += check_case(t, cases[t].s.n);
		ran += check_case(t, 1);   /* a second, smaller batch */
	}
	if (!ran)
		print_message("conv2d_dnnl: no oneDNN JIT kernel here: not tested\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_roundtrip),
		cmocka_unit_test(test_matches_naive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
