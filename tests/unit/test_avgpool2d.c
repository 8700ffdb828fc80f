/* Tests for avgpool2d.c: output sizes, forward and backward against
 * PyTorch (3×3 stride 2 padding 1 with count_include_pad, 2×2 stride 2,
 * adaptive average pool to 1×1) and finite differences of both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "avgpool2d.h"
#include "check.h"
#include "fixture.h"
#include "gradcheck.h"

/* Ho, Wo = 1, 1 selects the global pool. */
static void check_case(const char *name, const struct avgpool2d_shape *s, int Ho, int Wo,
		       int global)
{
	struct pcqfile f;
	char key[96];
	fixture_load(&f, "layers.msgpack");
	if (!global) {
		assert_int_equal(avgpool2d_out_h(s), Ho);
		assert_int_equal(avgpool2d_out_w(s), Wo);
	}
	const size_t n_in = (size_t)s->N * s->C * s->H * s->W;
	const size_t n_out = (size_t)s->N * s->C * Ho * Wo;
	float *out = malloc(n_out * sizeof(float)), *din = malloc(n_in * sizeof(float));
	assert_true(out && din);

#define T(suffix, n) (snprintf(key, sizeof(key), "%s.%s", name, suffix), fixture_f32(&f, key, n))
	if (global) {
		avgpool2d_global_forward(out, T("x", n_in), s);
		avgpool2d_global_backward(din, T("dout", n_out), s);
	} else {
		avgpool2d_forward(out, T("x", n_in), s);
		avgpool2d_backward(din, T("dout", n_out), s);
	}
	/* Means of <= 64 values ~N(0, 1) summed in another order (PyTorch in
	 * float, the global pool here in double): a few ulps of the sum. */
	assert_close(out, T("out", n_out), n_out, 1e-6, 1e-5, name);
	/* dout/k² summed over <= 4 windows. */
	assert_close(din, T("dx", n_in), n_in, 1e-6, 1e-5, name);
#undef T
	free(out), free(din);
	pcqfile_free(&f);
}

static void test_matches_torch(void **state)
{
	(void)state;
	check_case("avgpool_k3s2p1_7", &(struct avgpool2d_shape){ .N = 2, .C = 3,
		   .H = 7, .W = 7, .kernel = 3, .stride = 2, .pad = 1 }, 4, 4, 0);
	check_case("avgpool_k2s2_8", &(struct avgpool2d_shape){ .N = 2, .C = 3,
		   .H = 8, .W = 8, .kernel = 2, .stride = 2, .pad = 0 }, 4, 4, 0);
	check_case("gavgpool_8", &(struct avgpool2d_shape){ .N = 2, .C = 4,
		   .H = 8, .W = 8 }, 1, 1, 1);
}

struct pool_ctx {
	const struct avgpool2d_shape *s;
	const float *x;
	int global;
};

static void pool_fwd(void *ctx, float *out)
{
	const struct pool_ctx *c = ctx;
	if (c->global)
		avgpool2d_global_forward(out, c->x, c->s);
	else
		avgpool2d_forward(out, c->x, c->s);
}

static void check_grad(const struct avgpool2d_shape *s, int global)
{
	const size_t n_in = (size_t)s->N * s->C * s->H * s->W;
	const size_t n_out = global ? (size_t)s->N * s->C :
		(size_t)s->N * s->C * avgpool2d_out_h(s) * avgpool2d_out_w(s);
	float *x = malloc(n_in * sizeof(float)), *din = malloc(n_in * sizeof(float));
	float *dout = malloc(n_out * sizeof(float));
	assert_true(x && din && dout);
	fill_normal(x, n_in, 0, 1, 12);
	fill_normal(dout, n_out, 0, 1, 13);
	if (global)
		avgpool2d_global_backward(din, dout, s);
	else
		avgpool2d_backward(din, dout, s);
	struct pool_ctx ctx = { s, x, global };
	/* Linear: exact up to the float rounding of L (~1e-6)/2h. */
	gradcheck(pool_fwd, &ctx, x, n_in, din, dout, n_out, NULL, 1e-2f, 1e-4, 1e-4,
		  "avgpool dx");
	free(x), free(din), free(dout);
}

static void test_gradcheck(void **state)
{
	(void)state;
	check_grad(&(struct avgpool2d_shape){ .N = 1, .C = 2, .H = 7, .W = 6,
		   .kernel = 3, .stride = 2, .pad = 1 }, 0);
	check_grad(&(struct avgpool2d_shape){ .N = 2, .C = 1, .H = 4, .W = 4,
		   .kernel = 2, .stride = 2, .pad = 0 }, 0);
	check_grad(&(struct avgpool2d_shape){ .N = 2, .C = 3, .H = 3, .W = 5 }, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_gradcheck),
	};
	set_program_name("test_avgpool2d");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
