/* Tests for relu.c: forward and backward against PyTorch (including
 * exact zeros, whose gradient is 0), in place, backward from the input
 * or the output, NaN in both directions, and finite differences away
 * from 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "relu.h"

enum { N = 2 * 3 * 4 * 4 };

static void test_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "layers.msgpack");
	const float *x = fixture_f32(&f, "relu.x", N);
	const float *dout = fixture_f32(&f, "relu.dout", N);
	float out[N], din[N], din2[N], buf[N];
	relu_forward(out, x, N);
	/* max(x, 0) and a select: exact. */
	assert_close(out, fixture_f32(&f, "relu.out", N), N, 0, 0, "relu out");
	relu_backward(din, dout, x, N);
	assert_close(din, fixture_f32(&f, "relu.dx", N), N, 0, 0, "relu dx from input");
	relu_backward(din2, dout, out, N);
	assert_memory_equal(din, din2, sizeof(din));

	/* In place, forward and backward. */
	memcpy(buf, x, sizeof(buf));
	relu_forward(buf, buf, N);
	assert_memory_equal(buf, out, sizeof(buf));
	memcpy(din2, dout, sizeof(din2));
	relu_backward(din2, din2, buf, N);
	assert_memory_equal(din, din2, sizeof(din));
	pcqfile_free(&f);
}

static void test_nan_and_large(void **state)
{
	(void)state;
	/* Large enough for the OpenMP path. */
	const size_t n = 1 << 17;
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
	assert_non_null(x);
	assert_non_null(y);
	fill_normal(x, n, 0, 1, 5);
	x[7] = NAN;
	relu_forward(y, x, n);
	assert_true(isnan(y[7]));
	for (size_t i = 0; i < n; i++)
		if (i != 7)
			assert_true(y[i] == (x[i] > 0 ? x[i] : 0));
	/* Backward with dout = 1: the mask itself; a NaN x passes dout. */
	float *dx = malloc(n * sizeof(float)), *ones = malloc(n * sizeof(float));
	assert_non_null(dx);
	assert_non_null(ones);
	for (size_t i = 0; i < n; i++)
		ones[i] = 1;
	relu_backward(dx, ones, x, n);
	assert_true(dx[7] == 1);
	for (size_t i = 0; i < n; i++)
		if (i != 7)
			assert_true(dx[i] == (x[i] > 0 ? 1 : 0));
	free(x);
	free(y);
	free(dx);
	free(ones);
}

struct relu_ctx {
	const float *x;
};

static void relu_fwd(void *ctx, float *out)
{
	relu_forward(out, ((struct relu_ctx *)ctx)->x, N);
}

static void test_gradcheck(void **state)
{
	(void)state;
	float x[N], dout[N], din[N];
	unsigned char skip[N];
	const float h = 1e-2f;
	fill_normal(x, N, 0, 1, 6);
	fill_normal(dout, N, 0, 1, 7);
	/* ReLU has a kink at 0: skip points a step could cross it. */
	for (int i = 0; i < N; i++)
		skip[i] = fabsf(x[i]) < 2 * h;
	relu_backward(din, dout, x, N);
	struct relu_ctx ctx = { x };
	/* Piecewise linear: the central difference is exact up to the float
	 * rounding of L (~1e-6)/2h. */
	gradcheck(relu_fwd, &ctx, x, N, din, dout, N, skip, h, 1e-4, 1e-4, "relu dx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_nan_and_large),
		cmocka_unit_test(test_gradcheck),
	};
	set_program_name("test_relu");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
