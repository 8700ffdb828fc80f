/* Tests for linear.c: forward and every gradient against PyTorch
 * (tests/fixtures/conv.msgpack, gen_conv.py), against the plain loops on
 * random shapes (including one large enough for gemm's two-thread
 * split), the = / += conventions, and finite differences of the
 * backward. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "check.h"
#include "linear.h"
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

static const float *tensor(const struct pcqfile *f, const char *c, const char *t,
			   size_t n)
{
	char name[128];
	snprintf(name, sizeof(name), "%s.%s", c, t);
	return fixture_f32(f, name, n);
}

static void check_torch_case(const struct pcqfile *f, const char *name)
{
	/* the shape from attrs: fields n, in, out, bias ('linear_fields') */
	const struct value *v = attrs_find(&f->attrs, name);
	assert_non_null(v);
	assert_int_equal(v->type, VALUE_INT_ARRAY);
	assert_int_equal(v->n, 4);
	const struct linear_shape s = { .n = (int)v->ints[0], .in = (int)v->ints[1],
					.out = (int)v->ints[2] };
	const int bias = (int)v->ints[3];
	const size_t nin = (size_t)s.n * s.in, nout = (size_t)s.n * s.out;
	const size_t nw = (size_t)s.out * s.in;
	const float *in = tensor(f, name, "in", nin), *w = tensor(f, name, "w", nw);
	const float *dout = tensor(f, name, "dout", nout);
	const float *b = bias ? tensor(f, name, "b", s.out) : NULL;
	float *out = alloc(nout), *din = alloc(nin), *dw = alloc(nw), *db = alloc(s.out);
	fill_nan(out, nout);  /* both are overwritten, not added to */
	fill_nan(din, nin);

	linear_forward(out, in, w, b, &s);
	linear_backward(din, dw, bias ? db : NULL, dout, in, w, &s);
	/* Float sums of <= 10 products of O(1) terms in another order than
	 * PyTorch's: differences of a few ulps, inside 1e-5 + 1e-4·|ref|. */
	assert_close(out, tensor(f, name, "out", nout), nout, 1e-5, 1e-4, name);
	assert_close(din, tensor(f, name, "din", nin), nin, 1e-5, 1e-4, name);
	assert_close(dw, tensor(f, name, "dw", nw), nw, 1e-5, 1e-4, name);
	if (bias)
		assert_close(db, tensor(f, name, "db", s.out), s.out, 1e-5, 1e-4, name);

	/* dw and db accumulate; din is overwritten. The batch (inner
	 * dimension of dw's product) is a single block for BLAS at this
	 * size and db's column sums are formed before they are added, so a
	 * second call doubles both exactly. */
	float *dw1 = alloc(nw), *db1 = alloc(s.out), *din1 = alloc(nin);
	memcpy(dw1, dw, nw * sizeof(float));
	memcpy(db1, db, s.out * sizeof(float));
	memcpy(din1, din, nin * sizeof(float));
	linear_backward(din, dw, bias ? db : NULL, dout, in, w, &s);
	for (size_t i = 0; i < nw; i++)
		assert_true(dw[i] == 2 * dw1[i]);
	for (int o = 0; bias && o < s.out; o++)
		assert_true(db[o] == 2 * db1[o]);
	assert_memory_equal(din, din1, nin * sizeof(float));

	/* din NULL skips the input gradient and changes nothing else. */
	memset(dw, 0, nw * sizeof(float));
	linear_backward(NULL, dw, NULL, dout, in, w, &s);
	assert_memory_equal(dw, dw1, nw * sizeof(float));

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
	check_torch_case(&f, "linear");
	check_torch_case(&f, "linear_nobias");
	pcqfile_free(&f);
}

struct data {
	struct linear_shape s;
	size_t nin, nout, nw;
	float *in, *w, *b, *dout;
};

/* Random data; weights scaled by 1/sqrt(IN) so outputs are O(1). */
static struct data data_init(const struct linear_shape *s, uint64_t seed)
{
	struct data d = { .s = *s, .nin = (size_t)s->n * s->in,
			  .nout = (size_t)s->n * s->out, .nw = (size_t)s->out * s->in };
	d.in = alloc(d.nin);
	d.w = alloc(d.nw);
	d.b = alloc(s->out);
	d.dout = alloc(d.nout);
	fill_normal(d.in, d.nin, 0, 1, seed);
	fill_normal(d.w, d.nw, 0, 1 / sqrtf((float)s->in), seed + 1);
	fill_normal(d.b, s->out, 0, 0.5f, seed + 2);
	fill_normal(d.dout, d.nout, 0, 1, seed + 3);
	return d;
}

static void data_free(struct data *d)
{
	free(d->in);
	free(d->w);
	free(d->b);
	free(d->dout);
}

static void test_fast_matches_naive(void **state)
{
	(void)state;
	/* the last is above gemm's threshold for splitting over threads */
	const struct linear_shape shapes[] = {
		{ .n = 1, .in = 1, .out = 1 }, { .n = 5, .in = 17, .out = 3 },
		{ .n = 128, .in = 64, .out = 10 }, { .n = 64, .in = 300, .out = 200 },
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct linear_shape *s = &shapes[i];
		struct data d = data_init(s, 10 + 10 * i);
		float *out1 = alloc(d.nout), *out2 = alloc(d.nout);
		float *din1 = alloc(d.nin), *din2 = alloc(d.nin);
		float *dw1 = alloc(d.nw), *dw2 = alloc(d.nw);
		float *db1 = alloc(s->out), *db2 = alloc(s->out);
		fill_normal(db1, s->out, 0, 1, 5);  /* += onto something */
		memcpy(db2, db1, s->out * sizeof(float));
		linear_forward(out1, d.in, d.w, d.b, s);
		linear_forward_naive(out2, d.in, d.w, d.b, s);
		linear_backward(din1, dw1, db1, d.dout, d.in, d.w, s);
		linear_backward_naive(din2, dw2, db2, d.dout, d.in, d.w, s);
		/* Float sums of up to 300 (out), 200 (din) or 128 (dw, db)
		 * products, |sum| up to ~20, vs the oracle's double sums:
		 * ~sqrt(terms)·2^-24·|terms| < 1e-4 + 1e-4·|ref|. */
		char what[64];
		snprintf(what, sizeof(what), "shape %zu out", i);
		assert_close(out1, out2, d.nout, 1e-4, 1e-4, what);
		snprintf(what, sizeof(what), "shape %zu din", i);
		assert_close(din1, din2, d.nin, 1e-4, 1e-4, what);
		snprintf(what, sizeof(what), "shape %zu dw", i);
		assert_close(dw1, dw2, d.nw, 1e-4, 1e-4, what);
		snprintf(what, sizeof(what), "shape %zu db", i);
		assert_close(db1, db2, s->out, 1e-4, 1e-4, what);
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
}

/* L = Σ out·dout is bilinear in (in, w) and linear in b: central
 * differences are exact but for the float rounding of out (~1e-6 in L
 * over these ~20 outputs), divided by 2h = 0.5: ~2e-6, well inside
 * atol 1e-4 + rtol 1e-3. */
static void fd_forward(void *ctx, float *out)
{
	struct data *d = ctx;
	linear_forward(out, d->in, d->w, d->b, &d->s);
}

static void test_gradcheck(void **state)
{
	(void)state;
	const struct linear_shape s = { .n = 3, .in = 5, .out = 4 };
	struct data d = data_init(&s, 70);
	float *din = alloc(d.nin), *dw = alloc(d.nw), *db = alloc(s.out);
	linear_backward(din, dw, db, d.dout, d.in, d.w, &s);
	gradcheck(fd_forward, &d, d.in, d.nin, din, d.dout, d.nout, NULL, 0.25f, 1e-4,
		  1e-3, "din");
	gradcheck(fd_forward, &d, d.w, d.nw, dw, d.dout, d.nout, NULL, 0.25f, 1e-4, 1e-3,
		  "dw");
	gradcheck(fd_forward, &d, d.b, s.out, db, d.dout, d.nout, NULL, 0.25f, 1e-4, 1e-3,
		  "db");
	free(din);
	free(dw);
	free(db);
	data_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_fast_matches_naive),
		cmocka_unit_test(test_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
