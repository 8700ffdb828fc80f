/* Tests for the blocked-layout (layout.h) paths of batch norm, max pool
 * and the global average pool: on the same data reordered, each must give
 * what its plain path gives (itself checked against PyTorch in
 * test_batchnorm2d.c, test_maxpool2d.c, test_avgpool2d.c). Max pool
 * exactly, ties and NaN included; sums in another order within 1e-6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avgpool2d.h"
#include "batchnorm2d.h"
#include "fixture.h"
#include "gradcheck.h"
#include "layout.h"
#include "maxpool2d.h"

static float *alloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	assert_non_null(p);
	return p;
}

static float *blocked_copy(const float *x, int n, int c, int hw)
{
	float *b = alloc((size_t)n * c * hw);
	layout_to_blocked(b, x, n, c, hw);
	return b;
}

/* got (blocked) against want (plain) */
static void check_blocked(const float *got, const float *want, int n, int c, int hw,
			  double tol, const char *what)
{
	float *plain = alloc((size_t)n * c * hw);
	layout_to_plain(plain, got, n, c, hw);
	assert_close(plain, want, (size_t)n * c * hw, tol, tol, what);
	free(plain);
}

static void check_batchnorm(int N, int C, int H, int W)
{
	const int hw = H * W;
	const size_t z = (size_t)N * C * hw;
	struct batchnorm2d_shape s = {.N = N, .C = C, .H = H, .W = W,
				      .eps = BATCHNORM2D_EPS, .momentum = BATCHNORM2D_MOMENTUM};
	float *x = alloc(z), *dy = alloc(z), *gamma = alloc(C), *beta = alloc(C);
	fill_normal(x, z, 3, 2, 1);       /* a mean away from 0: the shifted sums */
	fill_normal(dy, z, 0, 1, 2);
	fill_normal(gamma, C, 1, 0.3f, 3);
	fill_normal(beta, C, 0, 0.3f, 4);
	float *xb = blocked_copy(x, N, C, hw), *dyb = blocked_copy(dy, N, C, hw);
	float *stats[2][8];
	for (int b = 0; b < 2; b++) {
		for (int i = 0; i < 8; i++)
			stats[b][i] = alloc(C);
		for (int c = 0; c < C; c++)
			stats[b][4][c] = 0.5f, stats[b][5][c] = 2;  /* running mean, var */
	}
	float *out = alloc(z), *outb = alloc(z), *din = alloc(z), *dinb = alloc(z);
	/* [0] mean [1] invstd [2] dgamma [3] dbeta [4] running mean [5] running var */
	batchnorm2d_forward_train(out, stats[0][0], stats[0][1], x, gamma, beta, stats[0][4],
				  stats[0][5], &s);
	batchnorm2d_backward(din, stats[0][2], stats[0][3], stats[0][0], stats[0][1], dy, x,
			     gamma, &s);
	s.blocked = 1;
	batchnorm2d_forward_train(outb, stats[1][0], stats[1][1], xb, gamma, beta, stats[1][4],
				  stats[1][5], &s);
	batchnorm2d_backward(dinb, stats[1][2], stats[1][3], stats[1][0], stats[1][1], dyb, xb,
			     gamma, &s);
	check_blocked(outb, out, N, C, hw, 1e-6, "bn train out");
	check_blocked(dinb, din, N, C, hw, 1e-5, "bn din");
	const char *names[] = {"mean", "invstd", "dgamma", "dbeta", "running_mean", "running_var"};
	for (int i = 0; i < 6; i++)
		assert_close(stats[1][i], stats[0][i], C, 1e-5, 1e-6, names[i]);

	batchnorm2d_forward_eval(outb, xb, gamma, beta, stats[1][4], stats[1][5], &s);
	s.blocked = 0;
	batchnorm2d_forward_eval(out, x, gamma, beta, stats[1][4], stats[1][5], &s);
	check_blocked(outb, out, N, C, hw, 1e-6, "bn eval out");

	/* in place, as the model runs it */
	s.blocked = 1;
	memcpy(dinb, xb, z * sizeof(float));
	batchnorm2d_forward_eval(dinb, dinb, gamma, beta, stats[1][4], stats[1][5], &s);
	assert_memory_equal(dinb, outb, z * sizeof(float));

	float *ps[] = {x, dy, gamma, beta, xb, dyb, out, outb, din, dinb};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		free(ps[i]);
	for (int b = 0; b < 2; b++)
		for (int i = 0; i < 8; i++)
			free(stats[b][i]);
}

static void test_batchnorm(void **state)
{
	(void)state;
	check_batchnorm(5, 32, 7, 6);
	check_batchnorm(1, 16, 3, 3);   /* fewer images than the sum's parts */
	check_batchnorm(9, 48, 1, 2);
}

static void check_maxpool(int N, int C, int H, int W, int kernel, int stride, int pad)
{
	const int hw = H * W;
	struct maxpool2d_shape s = {.N = N, .C = C, .H = H, .W = W, .kernel = kernel,
				    .stride = stride, .pad = pad};
	const int ho = maxpool2d_out_h(&s), wo = maxpool2d_out_w(&s);
	const size_t z = (size_t)N * C * hw, zo = (size_t)N * C * ho * wo;
	float *x = alloc(z), *dy = alloc(zo);
	/* small integers: many ties, which both must break alike; a few NaN */
	for (size_t i = 0; i < z; i++)
		x[i] = (float)((i * 2654435761u >> 7) % 5);
	for (size_t i = 0; i < z; i += 97)
		x[i] = NAN;
	fill_normal(dy, zo, 0, 1, 5);
	float *xb = blocked_copy(x, N, C, hw), *dyb = blocked_copy(dy, N, C, ho * wo);
	float *out = alloc(zo), *outb = alloc(zo), *din = alloc(z), *dinb = alloc(z);
	int32_t *am = calloc(zo, sizeof(int32_t)), *amb = calloc(zo, sizeof(int32_t));
	maxpool2d_forward(out, am, x, &s);
	maxpool2d_backward(din, am, dy, &s);
	s.blocked = 1;
	maxpool2d_forward(outb, amb, xb, &s);
	maxpool2d_backward(dinb, amb, dyb, &s);
	float *plain = alloc(zo);
	layout_to_plain(plain, outb, N, C, ho * wo);
	for (size_t i = 0; i < zo; i++)   /* NaN == NaN here */
		assert_true(plain[i] == out[i] || (isnan(plain[i]) && isnan(out[i])));
	free(plain);
	plain = alloc(z);
	layout_to_plain(plain, dinb, N, C, hw);
	assert_memory_equal(plain, din, z * sizeof(float));
	free(plain);
	float *ps[] = {x, dy, xb, dyb, out, outb, din, dinb};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		free(ps[i]);
	free(am);
	free(amb);
}

static void test_maxpool(void **state)
{
	(void)state;
	check_maxpool(3, 32, 15, 15, 3, 2, 0);   /* AlexNetSmall's */
	check_maxpool(2, 16, 7, 9, 3, 2, 1);
	check_maxpool(2, 16, 4, 4, 2, 2, 0);
}

static void test_global_avgpool(void **state)
{
	(void)state;
	const int N = 3, C = 48, H = 5, W = 7, hw = H * W;
	struct avgpool2d_shape s = {.N = N, .C = C, .H = H, .W = W};
	float *x = alloc((size_t)N * C * hw), *dy = alloc((size_t)N * C);
	fill_normal(x, (size_t)N * C * hw, 1, 2, 6);
	fill_normal(dy, (size_t)N * C, 0, 1, 7);
	float *xb = blocked_copy(x, N, C, hw);
	float *out = alloc((size_t)N * C), *outb = alloc((size_t)N * C);
	float *din = alloc((size_t)N * C * hw), *dinb = alloc((size_t)N * C * hw);
	avgpool2d_global_forward(out, x, &s);
	avgpool2d_global_backward(din, dy, &s);
	s.blocked = 1;
	avgpool2d_global_forward(outb, xb, &s);   /* a plain (N, C) output */
	avgpool2d_global_backward(dinb, dy, &s);
	assert_close(outb, out, (size_t)N * C, 1e-6, 1e-6, "global avgpool out");
	check_blocked(dinb, din, N, C, hw, 0, "global avgpool din");
	float *ps[] = {x, dy, xb, out, outb, din, dinb};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		free(ps[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_maxpool),
		cmocka_unit_test(test_global_avgpool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
