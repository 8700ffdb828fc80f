/* Tests for dropout.c: the kept fraction and the 1/(1 − p) scaling, the
 * same mask for the same seed, p = 0 and p = 1, eval as the identity, in
 * place, and finite differences with the mask fixed by re-seeding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dropout.h"
#include "fixture.h"
#include "gradcheck.h"

static void test_rate_and_scale(void **state)
{
	(void)state;
	const size_t n = 100000;
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
	float *dy = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float));
	uint8_t *mask = malloc(n), *mask2 = malloc(n);
	assert_true(x && y && dy && dx && mask && mask2);
	fill_normal(x, n, 0, 1, 1);
	fill_normal(dy, n, 0, 1, 2);
	const float ps[3] = { 0.5f, 0.1f, 0.9f };
	for (int k = 0; k < 3; k++) {
		const float p = ps[k], scale = 1.0f / (1.0f - p);
		struct rng r;
		rng_seed(&r, 3, 0);
		dropout_forward_train(y, mask, x, p, &r, n);
		size_t kept = 0;
		for (size_t i = 0; i < n; i++) {
			kept += mask[i];
			assert_true(y[i] == (mask[i] ? x[i] * scale : 0.0f));
		}
		/* se of the kept fraction = √(p(1 − p)/n) <= 1.6e-3; 5 se. */
		assert_true(fabs((double)kept / n - (1 - p)) < 8e-3);
		dropout_backward(dx, mask, dy, p, n);
		for (size_t i = 0; i < n; i++)
			assert_true(dx[i] == (mask[i] ? dy[i] * scale : 0.0f));
		/* The same seed gives the same mask. */
		rng_seed(&r, 3, 0);
		dropout_forward_train(dx, mask2, x, p, &r, n);
		assert_memory_equal(mask, mask2, n);
		assert_memory_equal(dx, y, n * sizeof(float));
	}
	free(x), free(y), free(dy), free(dx), free(mask), free(mask2);
}

static void test_edges(void **state)
{
	(void)state;
	enum { n = 50 };
	float x[n], y[n];
	uint8_t mask[n];
	struct rng r;
	rng_seed(&r, 4, 0);
	fill_normal(x, n, 0, 1, 5);
	dropout_forward_train(y, mask, x, 0, &r, n);
	assert_memory_equal(y, x, sizeof(x));
	dropout_forward_train(y, mask, x, 1, &r, n);
	for (int i = 0; i < n; i++)
		assert_true(y[i] == 0 && mask[i] == 0);
	dropout_backward(y, mask, x, 1, n);
	for (int i = 0; i < n; i++)
		assert_true(y[i] == 0);
	dropout_forward_eval(y, x, n);
	assert_memory_equal(y, x, sizeof(x));
	/* In place. */
	memcpy(y, x, sizeof(x));
	rng_seed(&r, 6, 0);
	dropout_forward_train(y, mask, y, 0.5f, &r, n);
	for (int i = 0; i < n; i++)
		assert_true(y[i] == (mask[i] ? x[i] * 2 : 0.0f));
	dropout_forward_eval(y, y, n);
}

enum { N = 40 };

struct drop_ctx {
	const float *x;
	uint8_t *mask;
};

static void drop_fwd(void *ctx, float *out)
{
	const struct drop_ctx *c = ctx;
	struct rng r;
	rng_seed(&r, 7, 0);   /* the same mask on every call */
	dropout_forward_train(out, c->mask, c->x, 0.3f, &r, N);
}

static void test_gradcheck(void **state)
{
	(void)state;
	float x[N], out[N], dout[N], din[N];
	uint8_t mask[N];
	fill_normal(x, N, 0, 1, 8);
	fill_normal(dout, N, 0, 1, 9);
	struct drop_ctx ctx = { x, mask };
	drop_fwd(&ctx, out);
	dropout_backward(din, mask, dout, 0.3f, N);
	/* Linear in x: exact up to the float rounding of L (~1e-6)/2h. */
	gradcheck(drop_fwd, &ctx, x, N, din, dout, N, NULL, 1e-2f, 1e-4, 1e-4, "dropout dx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_and_scale),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_gradcheck),
	};
	set_program_name("test_dropout");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
