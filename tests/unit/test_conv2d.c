/* Tests for conv2d.c and im2col.c: forward and every gradient against
 * PyTorch (tests/fixtures/conv.msgpack, gen_conv.py), the optimised
 * functions against the direct loops on random shapes (both GEMM paths,
 * several bands per image, odd sizes), im2col/col2im against their naive
 * versions, the = / += conventions, thread-count behaviour, and finite
 * differences of the backward. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "check.h"
#include "conv2d.h"
#include "im2col.h"
#include "fixture.h"
#include "gradcheck.h"

static float *alloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	assert_non_null(p);
	return p;
}

static void fill_nan(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = NAN;
}

struct sizes {
	size_t in, w, out;
};

static struct sizes sizes_of(const struct conv2d_shape *s)
{
	return (struct sizes){
		.in = (size_t)s->n * s->c * s->h * s->w,
		.w = (size_t)s->k * s->c * s->kh * s->kw,
		.out = (size_t)s->n * s->k * conv2d_out_h(s) * conv2d_out_w(s),
	};
}

/* A case's shape from the fixture's attrs (fields: attrs 'conv_fields'). */
static struct conv2d_shape fixture_shape(const struct pcqfile *f, const char *name,
					 int *bias)
{
	const struct value *v = attrs_find(&f->attrs, name);
	assert_non_null(v);
	assert_int_equal(v->type, VALUE_INT_ARRAY);
	assert_int_equal(v->n, 10);
	const int64_t *x = v->ints;
	*bias = (int)x[9];
	return (struct conv2d_shape){ .n = (int)x[0], .c = (int)x[1], .h = (int)x[2],
		.w = (int)x[3], .k = (int)x[4], .kh = (int)x[5], .kw = (int)x[6],
		.stride = (int)x[7], .pad = (int)x[8] };
}

static const float *tensor(const struct pcqfile *f, const char *c, const char *t,
			   size_t n)
{
	char name[128];
	snprintf(name, sizeof(name), "%s.%s", c, t);
	return fixture_f32(f, name, n);
}

static void check_torch_case(const struct pcqfile *f, const char *name)
{
	int bias;
	const struct conv2d_shape s = fixture_shape(f, name, &bias);
	const struct sizes z = sizes_of(&s);
	const float *in = tensor(f, name, "in", z.in), *w = tensor(f, name, "w", z.w);
	const float *dout = tensor(f, name, "dout", z.out);
	const float *b = bias ? tensor(f, name, "b", s.k) : NULL;
	float *ws = alloc(conv2d_workspace_floats(&s));
	float *out = alloc(z.out), *din = alloc(z.in), *dw = alloc(z.w), *db = alloc(s.k);
	fill_nan(out, z.out);  /* both are overwritten, not added to */
	fill_nan(din, z.in);

	conv2d_forward(out, ws, in, w, b, &s);
	conv2d_backward(din, dw, bias ? db : NULL, ws, dout, in, w, &s);
	/* Float sums of <= ~160 products of O(1) terms, in another order than
	 * PyTorch's: rounding differences stay near sqrt(terms)·2^-24·|sum|,
	 * far inside 1e-5 + 1e-4·|ref| (|values| <= ~20 here). */
	assert_close(out, tensor(f, name, "out", z.out), z.out, 1e-5, 1e-4, name);
	assert_close(din, tensor(f, name, "din", z.in), z.in, 1e-5, 1e-4, name);
	assert_close(dw, tensor(f, name, "dw", z.w), z.w, 1e-5, 1e-4, name);
	if (bias)
		assert_close(db, tensor(f, name, "db", s.k), s.k, 1e-5, 1e-4, name);

	/* dw and db accumulate: the partial sums are formed anew and added,
	 * so a second call doubles them exactly; din is overwritten. */
	float *dw1 = alloc(z.w), *db1 = alloc(s.k), *din1 = alloc(z.in);
	memcpy(dw1, dw, z.w * sizeof(float));
	memcpy(db1, db, s.k * sizeof(float));
	memcpy(din1, din, z.in * sizeof(float));
	conv2d_backward(din, dw, bias ? db : NULL, ws, dout, in, w, &s);
	for (size_t i = 0; i < z.w; i++)
		assert_true(dw[i] == 2 * dw1[i]);
	for (int k = 0; bias && k < s.k; k++)
		assert_true(db[k] == 2 * db1[k]);
	assert_memory_equal(din, din1, z.in * sizeof(float));

	/* din NULL skips the input gradient and changes nothing else. */
	memset(dw, 0, z.w * sizeof(float));
	conv2d_backward(NULL, dw, NULL, ws, dout, in, w, &s);
	assert_memory_equal(dw, dw1, z.w * sizeof(float));

	free(ws);
	free(out);
	free(din);
	free(dw);
	free(db);
	free(dw1);
	free(db1);
	free(din1);
}

static void test_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "conv.msgpack");
	const char *cases[] = { "conv3x3", "conv3x3_s2_odd", "conv1x1_s2", "conv5x5_p2",
				"conv3x3_nonsquare" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_torch_case(&f, cases[i]);
	pcqfile_free(&f);
}

/* Random data for a shape: weights scaled by 1/sqrt(C·KH·KW) so outputs
 * are O(1), as in a trained network. */
struct data {
	struct conv2d_shape s;
	struct sizes z;
	float *in, *w, *b, *dout;
};

static struct data data_init(const struct conv2d_shape *s, uint64_t seed)
{
	struct data d = { .s = *s, .z = sizes_of(s) };
	d.in = alloc(d.z.in);
	d.w = alloc(d.z.w);
	d.b = alloc(s->k);
	d.dout = alloc(d.z.out);
	fill_normal(d.in, d.z.in, 0, 1, seed);
	fill_normal(d.w, d.z.w, 0, 1 / sqrtf((float)(s->c * s->kh * s->kw)), seed + 1);
	fill_normal(d.b, s->k, 0, 0.5f, seed + 2);
	fill_normal(d.dout, d.z.out, 0, 1, seed + 3);
	return d;
}

static void data_free(struct data *d)
{
	free(d->in);
	free(d->w);
	free(d->b);
	free(d->dout);
}

static const struct conv2d_shape random_shapes[] = {
	/* ResNet20 stage 1 at 32x32: several bands per image (GEMM path),
	 * direct on AVX-512 */
	{ .n = 3, .c = 16, .h = 32, .w = 32, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1 },
	/* direct: P not a multiple of 16, two blocks of 16 channels, one pixel */
	{ .n = 3, .c = 16, .h = 7, .w = 7, .k = 32, .kh = 3, .kw = 3, .stride = 1, .pad = 1 },
	{ .n = 2, .c = 32, .h = 5, .w = 6, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1 },
	{ .n = 2, .c = 16, .h = 1, .w = 1, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1 },
	/* stride 2 with odd sizes; 1x1 stride 2 (downsample) */
	{ .n = 2, .c = 5, .h = 13, .w = 11, .k = 7, .kh = 3, .kw = 3, .stride = 2, .pad = 1 },
	{ .n = 3, .c = 16, .h = 16, .w = 16, .k = 32, .kh = 1, .kw = 1, .stride = 2, .pad = 0 },
	/* large weights (C·KH·KW·K > 64Ki): whole images, untiled GEMMs */
	{ .n = 3, .c = 64, .h = 6, .w = 7, .k = 130, .kh = 3, .kw = 3, .stride = 1, .pad = 1 },
	/* 5x5 pad 2; a rectangular kernel; stride 3; no padding */
	{ .n = 2, .c = 3, .h = 15, .w = 15, .k = 9, .kh = 5, .kw = 5, .stride = 1, .pad = 2 },
	{ .n = 2, .c = 4, .h = 8, .w = 10, .k = 5, .kh = 3, .kw = 5, .stride = 1, .pad = 2 },
	{ .n = 1, .c = 3, .h = 10, .w = 9, .k = 4, .kh = 4, .kw = 2, .stride = 3, .pad = 1 },
	{ .n = 5, .c = 2, .h = 6, .w = 5, .k = 3, .kh = 3, .kw = 3, .stride = 1, .pad = 0 },
	/* a kernel larger than the image: taps that see only padding */
	{ .n = 2, .c = 2, .h = 2, .w = 3, .k = 3, .kh = 5, .kw = 5, .stride = 1, .pad = 2 },
	{ .n = 1, .c = 1, .h = 1, .w = 1, .k = 2, .kh = 3, .kw = 3, .stride = 2, .pad = 1 },
};

/* conv2d_forward/backward (whichever path they choose) and the GEMM path
 * itself against the direct loops. */
static void check_against_naive(size_t i, const struct conv2d_shape *s, int gemm_path)
{
	struct data d = data_init(s, 100 + 10 * i);
	const struct sizes z = d.z;
	float *ws = alloc(conv2d_workspace_floats(s));
	float *out1 = alloc(z.out), *out2 = alloc(z.out);
	float *din1 = alloc(z.in), *din2 = alloc(z.in);
	float *dw1 = alloc(z.w), *dw2 = alloc(z.w), *db1 = alloc(s->k), *db2 = alloc(s->k);
	fill_normal(dw1, z.w, 0, 1, 7);  /* += onto something */
	memcpy(dw2, dw1, z.w * sizeof(float));
	fill_nan(out1, z.out);
	fill_nan(din1, z.in);

	if (gemm_path) {
		conv2d_forward_gemm(out1, ws, d.in, d.w, d.b, s);
		conv2d_backward_gemm(din1, dw1, db1, ws, d.dout, d.in, d.w, s);
	} else {
		conv2d_forward(out1, ws, d.in, d.w, d.b, s);
		conv2d_backward(din1, dw1, db1, ws, d.dout, d.in, d.w, s);
	}
	conv2d_forward_naive(out2, d.in, d.w, d.b, s);
	conv2d_backward_naive(din2, dw2, db2, d.dout, d.in, d.w, s);
	/* Float sums (GEMM or direct) vs the oracle's double sums of up to
	 * N·OH·OW = 3072 (dw) or 576 (out) terms, |sum| up to ~60: rounding
	 * is ~sqrt(terms)·2^-24·|sum|, inside 1e-4 + 1e-4·|ref|. */
	const char *names[] = { "out", "din", "dw", "db" };
	const float *got[] = { out1, din1, dw1, db1 }, *want[] = { out2, din2, dw2, db2 };
	const size_t n[] = { z.out, z.in, z.w, (size_t)s->k };
	for (int t = 0; t < 4; t++) {
		char what[64];
		snprintf(what, sizeof(what), "shape %zu %s %s", i,
			 gemm_path ? "gemm" : conv2d_direct(s) ? "direct" : "default", names[t]);
		assert_close(got[t], want[t], n[t], 1e-4, 1e-4, what);
	}
	free(ws);
	free(out1);
	free(out2);
	free(din1);
	free(din2);
	free(dw1);
	free(dw2);
	free(db1);
	free(db2);
	data_free(&d);
}

static void test_fast_matches_naive(void **state)
{
	(void)state;
	int direct = 0;
	for (size_t i = 0; i < sizeof(random_shapes) / sizeof(random_shapes[0]); i++) {
		check_against_naive(i, &random_shapes[i], 0);
		check_against_naive(i, &random_shapes[i], 1);
		direct += conv2d_direct(&random_shapes[i]);
	}
	/* The direct kernels need AVX-512; say when they were not tested. */
	if (!direct)
		print_message("conv2d: no AVX-512: direct kernels not tested\n");
}

/* out and din are computed per image, so they do not depend on the
 * thread count; dw and db are sums of per-thread partials, which do. */
static void test_threads(void **state)
{
	(void)state;
	const struct conv2d_shape s = random_shapes[0];
	struct data d = data_init(&s, 31);
	const struct sizes z = d.z;
	/* at least two, whatever OMP_NUM_THREADS says */
	const int saved = omp_get_max_threads(), threads = saved > 2 ? saved : 2;
	omp_set_num_threads(1);
	const size_t ws1 = conv2d_workspace_floats(&s);
	omp_set_num_threads(threads);
	assert_true(conv2d_workspace_floats(&s) == ws1 * threads);
	float *ws = alloc(conv2d_workspace_floats(&s));
	float *out[2], *din[2], *dw[2], *db[2];
	for (int t = 0; t < 2; t++) {
		out[t] = alloc(z.out);
		din[t] = alloc(z.in);
		dw[t] = alloc(z.w);
		db[t] = alloc(s.k);
		omp_set_num_threads(t == 0 ? 1 : threads);
		conv2d_forward(out[t], ws, d.in, d.w, d.b, &s);
		conv2d_backward(din[t], dw[t], db[t], ws, d.dout, d.in, d.w, &s);
	}
	omp_set_num_threads(saved);
	assert_memory_equal(out[0], out[1], z.out * sizeof(float));
	assert_memory_equal(din[0], din[1], z.in * sizeof(float));
	/* sums of 3·1024 terms of |x| ~ 1 regrouped: see test_fast_matches_naive */
	assert_close(dw[0], dw[1], z.w, 1e-4, 1e-4, "dw 1 vs n threads");
	assert_close(db[0], db[1], s.k, 1e-4, 1e-4, "db 1 vs n threads");
	for (int t = 0; t < 2; t++) {
		free(out[t]);
		free(din[t]);
		free(dw[t]);
		free(db[t]);
	}
	free(ws);
	data_free(&d);
}

/* im2col copies and col2im adds in the same order as the naive loops, so
 * both agree bit for bit, for every band and with ld wider than a band. */
static void test_im2col_matches_naive(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(random_shapes) / sizeof(random_shapes[0]); i++) {
		const struct conv2d_shape *cs = &random_shapes[i];
		const struct im2col_shape s = { .c = cs->c, .h = cs->h, .w = cs->w,
			.kh = cs->kh, .kw = cs->kw, .stride = cs->stride, .pad = cs->pad };
		const int oh = im2col_out_h(&s), ow = im2col_out_w(&s);
		const size_t ckk = (size_t)s.c * s.kh * s.kw, hw = (size_t)s.c * s.h * s.w;
		const int ld = oh * ow + 3;
		float *im = alloc(hw), *col1 = alloc(ckk * ld), *col2 = alloc(ckk * ld);
		float *g = alloc(ckk * ld), *im1 = alloc(hw), *im2 = alloc(hw);
		fill_normal(im, hw, 0, 1, 40 + i);
		fill_normal(g, ckk * ld, 0, 1, 50 + i);
		fill_normal(im1, hw, 0, 1, 60 + i);
		memcpy(im2, im1, hw * sizeof(float));
		/* bands: all rows, then each split point of a two-band cut */
		for (int cut = 0; cut < oh; cut++) {
			const int bands[2][2] = { { 0, cut ? cut : oh }, { cut ? cut : oh, oh } };
			for (int k = 0; k < 2; k++) {
				const int oh0 = bands[k][0], oh1 = bands[k][1];
				for (size_t q = 0; q < ckk * ld; q++)
					col1[q] = col2[q] = 7;  /* beyond the band: untouched */
				im2col(col1, ld, im, oh0, oh1, &s);
				im2col_naive(col2, ld, im, oh0, oh1, &s);
				assert_memory_equal(col1, col2, ckk * ld * sizeof(float));
				col2im(im1, g, ld, oh0, oh1, &s);
				col2im_naive(im2, g, ld, oh0, oh1, &s);
				assert_memory_equal(im1, im2, hw * sizeof(float));
			}
		}
		free(im);
		free(col1);
		free(col2);
		free(g);
		free(im1);
		free(im2);
	}
}

/* Finite differences: L = Σ out·dout is bilinear in (in, w) and linear
 * in b, so central differences are exact in exact arithmetic for any h;
 * what remains is the float rounding of out (~1e-7 relative, summed over
 * ~100 outputs, so ~1e-6 in L) divided by 2h. h = 0.25 keeps that under
 * 1e-5, well inside atol 1e-4 + rtol 1e-3. */
struct fd_ctx {
	struct data *d;
	float *ws;
};

static void fd_forward(void *ctx, float *out)
{
	struct fd_ctx *c = ctx;
	conv2d_forward(out, c->ws, c->d->in, c->d->w, c->d->b, &c->d->s);
}

static void test_gradcheck(void **state)
{
	(void)state;
	const struct conv2d_shape shapes[] = {
		{ .n = 2, .c = 2, .h = 5, .w = 4, .k = 3, .kh = 3, .kw = 3, .stride = 2, .pad = 1 },
		{ .n = 1, .c = 3, .h = 4, .w = 6, .k = 2, .kh = 2, .kw = 3, .stride = 1, .pad = 0 },
		{ .n = 1, .c = 16, .h = 3, .w = 4, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1 },
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct conv2d_shape *s = &shapes[i];
		struct data d = data_init(s, 200 + 10 * i);
		float *ws = alloc(conv2d_workspace_floats(s));
		float *din = alloc(d.z.in), *dw = alloc(d.z.w), *db = alloc(s->k);
		conv2d_backward(din, dw, db, ws, d.dout, d.in, d.w, s);
		struct fd_ctx ctx = { &d, ws };
		gradcheck(fd_forward, &ctx, d.in, d.z.in, din, d.dout, d.z.out, NULL, 0.25f,
			  1e-4, 1e-3, "din");
		gradcheck(fd_forward, &ctx, d.w, d.z.w, dw, d.dout, d.z.out, NULL, 0.25f,
			  1e-4, 1e-3, "dw");
		gradcheck(fd_forward, &ctx, d.b, s->k, db, d.dout, d.z.out, NULL, 0.25f,
			  1e-4, 1e-3, "db");
		free(ws);
		free(din);
		free(dw);
		free(db);
		data_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_fast_matches_naive),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_im2col_matches_naive),
		cmocka_unit_test(test_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
