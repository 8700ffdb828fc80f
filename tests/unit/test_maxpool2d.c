/* Tests for maxpool2d.c: output sizes, forward values, saved indices and
 * the backward against PyTorch (AlexNetSmall's 3×3 stride 2 on 15×15 and
 * 8×8, with padding 1, 2×2 stride 2, windows with tied maxima or NaNs),
 * and finite differences on inputs without near-ties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "maxpool2d.h"

static const int32_t *fixture_i32(const struct pcqfile *f, const char *name, size_t numel)
{
	const struct tensor *t = pcqfile_tensor(f, name);
	if (!t || t->dtype != DTYPE_I32 || t->nbytes != numel * sizeof(int32_t))
		fail_msg("fixture tensor '%s': missing or not i32 of %zu", name, numel);
	return t->data;
}

static void check_case(const char *name, const struct maxpool2d_shape *s, int Ho, int Wo)
{
	struct pcqfile f;
	char key[96];
	fixture_load(&f, "layers.msgpack");
	assert_int_equal(maxpool2d_out_h(s), Ho);
	assert_int_equal(maxpool2d_out_w(s), Wo);
	const size_t n_in = (size_t)s->N * s->C * s->H * s->W;
	const size_t n_out = (size_t)s->N * s->C * Ho * Wo;
	float *out = malloc(n_out * sizeof(float)), *din = malloc(n_in * sizeof(float));
	int32_t *argmax = malloc(n_out * sizeof(int32_t));
	assert_true(out && din && argmax);

#define T(suffix, n) (snprintf(key, sizeof(key), "%s.%s", name, suffix), fixture_f32(&f, key, n))
	maxpool2d_forward(out, argmax, T("x", n_in), s);
	/* A maximum is a copy of an input: exact. */
	assert_close(out, T("out", n_out), n_out, 0, 0, name);
	snprintf(key, sizeof(key), "%s.argmax", name);
	assert_memory_equal(argmax, fixture_i32(&f, key, n_out), n_out * sizeof(int32_t));
	maxpool2d_backward(din, argmax, T("dout", n_out), s);
	/* Sums of at most 4 overlapping windows' dout: order may differ. */
	assert_close(din, T("dx", n_in), n_in, 1e-6, 1e-6, name);
#undef T
	free(out), free(din), free(argmax);
	pcqfile_free(&f);
}

static void test_matches_torch(void **state)
{
	(void)state;
	check_case("maxpool_k3s2_15", &(struct maxpool2d_shape){ .N = 2, .C = 3,
		   .H = 15, .W = 15, .kernel = 3, .stride = 2, .pad = 0 }, 7, 7);
	check_case("maxpool_k3s2_8", &(struct maxpool2d_shape){ .N = 2, .C = 3,
		   .H = 8, .W = 8, .kernel = 3, .stride = 2, .pad = 0 }, 3, 3);
	check_case("maxpool_k3s2p1_8", &(struct maxpool2d_shape){ .N = 2, .C = 3,
		   .H = 8, .W = 8, .kernel = 3, .stride = 2, .pad = 1 }, 4, 4);
	check_case("maxpool_k2s2_8", &(struct maxpool2d_shape){ .N = 2, .C = 3,
		   .H = 8, .W = 8, .kernel = 2, .stride = 2, .pad = 0 }, 4, 4);
	check_case("maxpool_ties", &(struct maxpool2d_shape){ .N = 1, .C = 2,
		   .H = 8, .W = 8, .kernel = 3, .stride = 2, .pad = 1 }, 4, 4);
	check_case("maxpool_nan", &(struct maxpool2d_shape){ .N = 1, .C = 1,
		   .H = 5, .W = 5, .kernel = 3, .stride = 2, .pad = 0 }, 2, 2);
}

struct pool_ctx {
	const struct maxpool2d_shape *s;
	const float *x;
	int32_t *argmax;
};

static void pool_fwd(void *ctx, float *out)
{
	const struct pool_ctx *c = ctx;
	maxpool2d_forward(out, c->argmax, c->x, c->s);
}

/* Distinct inputs 0.05 apart in random order: a step h = 1e-2 never
 * changes which element is a window's maximum (the kink of max). */
static void check_grad(const struct maxpool2d_shape *s)
{
	const size_t n_in = (size_t)s->N * s->C * s->H * s->W;
	const size_t n_out = (size_t)s->N * s->C * maxpool2d_out_h(s) * maxpool2d_out_w(s);
	float *x = malloc(n_in * sizeof(float)), *din = malloc(n_in * sizeof(float));
	float *out = malloc(n_out * sizeof(float)), *dout = malloc(n_out * sizeof(float));
	int32_t *argmax = malloc(n_out * sizeof(int32_t));
	size_t *perm = malloc(n_in * sizeof(size_t));
	assert_true(x && din && out && dout && argmax && perm);
	struct rng r;
	rng_seed(&r, 8, 0);
	for (size_t i = 0; i < n_in; i++)
		perm[i] = i;
	rng_shuffle(&r, perm, n_in);
	for (size_t i = 0; i < n_in; i++)
		x[i] = 0.05f * (float)perm[i] - 2.0f;
	fill_normal(dout, n_out, 0, 1, 9);
	maxpool2d_forward(out, argmax, x, s);
	maxpool2d_backward(din, argmax, dout, s);
	struct pool_ctx ctx = { s, x, argmax };
	/* Piecewise linear and no kink crossed: exact up to the float
	 * rounding of L (~1e-6)/2h. */
	gradcheck(pool_fwd, &ctx, x, n_in, din, dout, n_out, NULL, 1e-2f, 1e-4, 1e-4,
		  "maxpool dx");
	free(x), free(din), free(out), free(dout), free(argmax), free(perm);
}

static void test_gradcheck(void **state)
{
	(void)state;
	check_grad(&(struct maxpool2d_shape){ .N = 1, .C = 2, .H = 7, .W = 7,
		   .kernel = 3, .stride = 2, .pad = 0 });
	check_grad(&(struct maxpool2d_shape){ .N = 2, .C = 1, .H = 6, .W = 5,
		   .kernel = 3, .stride = 2, .pad = 1 });
	check_grad(&(struct maxpool2d_shape){ .N = 1, .C = 2, .H = 4, .W = 6,
		   .kernel = 2, .stride = 2, .pad = 0 });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_gradcheck),
	};
	set_program_name("test_maxpool2d");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
