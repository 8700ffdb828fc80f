/* Tests for add.c: the sum, in place on either operand, the backward's
 * copies (overwriting, and skipping a copy onto dout itself), sizes on
 * both sides of the OpenMP threshold, and finite differences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "add.h"
#include "relu.h"
#include "check.h"
#include "fixture.h"
#include "gradcheck.h"

static void check_size(size_t n)
{
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	float *out = malloc(n * sizeof(float)), *da = malloc(n * sizeof(float));
	float *db = malloc(n * sizeof(float));
	assert_true(a && b && out && da && db);
	fill_normal(a, n, 0, 1, 1);
	fill_normal(b, n, 0, 1, 2);
	add_forward(out, a, b, n);
	for (size_t i = 0; i < n; i++)
		assert_true(out[i] == a[i] + b[i]);
	/* In place on a, then on b. */
	float *a2 = malloc(n * sizeof(float));
	assert_non_null(a2);
	memcpy(a2, a, n * sizeof(float));
	add_forward(a2, a2, b, n);
	assert_memory_equal(a2, out, n * sizeof(float));
	memcpy(a2, b, n * sizeof(float));
	add_forward(a2, a, a2, n);
	assert_memory_equal(a2, out, n * sizeof(float));

	/* Backward overwrites whatever da and db held. */
	fill_normal(da, n, 5, 1, 3);
	fill_normal(db, n, 5, 1, 4);
	add_backward(da, db, out, n);
	assert_memory_equal(da, out, n * sizeof(float));
	assert_memory_equal(db, out, n * sizeof(float));
	/* da may be dout itself. */
	fill_normal(db, n, 5, 1, 4);
	add_backward(out, db, out, n);
	assert_memory_equal(db, out, n * sizeof(float));
	free(a), free(b), free(out), free(da), free(db), free(a2);
}

static void test_sizes(void **state)
{
	(void)state;
	check_size(1);
	check_size(1000);
	check_size((1 << 16) + 3);
}

enum { N = 24 };

struct add_ctx {
	const float *a, *b;
};

static void add_fwd(void *ctx, float *out)
{
	const struct add_ctx *c = ctx;
	add_forward(out, c->a, c->b, N);
}

static void test_gradcheck(void **state)
{
	(void)state;
	float a[N], b[N], dout[N], da[N], db[N];
	fill_normal(a, N, 0, 1, 5);
	fill_normal(b, N, 0, 1, 6);
	fill_normal(dout, N, 0, 1, 7);
	add_backward(da, db, dout, N);
	struct add_ctx ctx = { a, b };
	/* Linear: exact up to the float rounding of L (~1e-6)/2h. */
	gradcheck(add_fwd, &ctx, a, N, da, dout, N, NULL, 1e-2f, 1e-4, 1e-4, "add da");
	gradcheck(add_fwd, &ctx, b, N, db, dout, N, NULL, 1e-2f, 1e-4, 1e-4, "add db");
}

/* add_relu_forward and add_relu_backward against add then relu.h's ReLU:
 * the same bits, with sums of exactly 0, -0, NaN and infinities among
 * them. */
static void test_add_relu_is_add_then_relu(void **state)
{
	(void)state;
	const size_t sizes[] = {7, (1 << 16) + 5};
	for (int k = 0; k < 2; k++) {
		const size_t n = sizes[k];
		float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
		float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
		float *dy = malloc(n * sizeof(float)), *dwant = malloc(n * sizeof(float));
		float *da = malloc(n * sizeof(float)), *db = malloc(n * sizeof(float));
		fill_normal(a, n, 0, 1, 5);
		fill_normal(b, n, 0, 1, 6);
		fill_normal(dy, n, 0, 1, 7);
		b[0] = -a[0];                       /* exactly 0 */
		a[1] = -0.0f, b[1] = -0.0f;         /* -0 */
		a[2] = NAN;
		a[3] = INFINITY, b[3] = -INFINITY;  /* NaN */
		a[4] = -INFINITY;
		dy[5] = NAN;
		add_forward(want, a, b, n);
		relu_forward(want, want, n);
		add_relu_forward(got, a, b, n);
		assert_memory_equal(got, want, n * sizeof(float));
		relu_backward(dwant, dy, want, n);
		add_relu_backward(da, db, dy, got, n);
		assert_memory_equal(da, dwant, n * sizeof(float));
		assert_memory_equal(db, dwant, n * sizeof(float));
		free(a), free(b), free(want), free(got), free(dy), free(dwant), free(da), free(db);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_gradcheck),
		cmocka_unit_test(test_add_relu_is_add_then_relu),
	};
	set_program_name("test_add");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
