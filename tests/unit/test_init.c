/* Tests for init.c: the mean and std of Kaiming-normal conv weights
 * (fan_out) and of PyTorch's default uniform (fan_in) on ResNet20- and
 * AlexNetSmall-sized tensors, determinism, and the BatchNorm values.
 * Bounds are 5 standard errors or more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "init.h"

static void moments(const float *x, size_t n, double *mean, double *std)
{
	double s = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		s += x[i];
		s2 += (double)x[i] * x[i];
	}
	*mean = s / n;
	*std = sqrt(s2 / n - *mean * *mean);
}

static void test_kaiming_normal(void **state)
{
	(void)state;
	/* ResNet20's 3×3 conv, 64 → 64: fan_out = 64·3·3 = 576. */
	const size_t K = 64, C = 64, n = K * C * 9, fan_out = K * 9;
	float *w = malloc(n * sizeof(float)), *w2 = malloc(n * sizeof(float));
	assert_true(w && w2);
	struct rng r;
	rng_seed(&r, 1, 0);
	init_kaiming_normal_fan_out(w, n, fan_out, &r);
	double mean, std, want = sqrt(2.0 / fan_out);
	moments(w, n, &mean, &std);
	/* n = 36864: se(mean) = σ/√n ≈ 0.5%·σ, se(std) = σ/√(2n) ≈ 0.37%·σ. */
	assert_true(fabs(mean) < 0.03 * want);
	assert_true(fabs(std / want - 1) < 0.02);
	rng_seed(&r, 1, 0);
	init_kaiming_normal_fan_out(w2, n, fan_out, &r);
	assert_memory_equal(w, w2, n * sizeof(float));
	free(w), free(w2);
}

static void test_uniform_fan_in(void **state)
{
	(void)state;
	/* AlexNetSmall's Linear(256, 4096): fan_in 256, bound 1/16. */
	const size_t n = 4096 * 256, fan_in = 256;
	float *w = malloc(n * sizeof(float));
	assert_non_null(w);
	struct rng r;
	rng_seed(&r, 2, 0);
	init_uniform_fan_in(w, n, fan_in, &r);
	const double bound = 1.0 / 16;
	float lo = 0, hi = 0;
	for (size_t i = 0; i < n; i++) {
		assert_true(w[i] >= -bound && w[i] <= bound);
		lo = w[i] < lo ? w[i] : lo;
		hi = w[i] > hi ? w[i] : hi;
	}
	assert_true(lo < -0.999 * bound && hi > 0.999 * bound);
	double mean, std;
	moments(w, n, &mean, &std);
	/* σ = bound/√3; n ≈ 1e6: se(mean) ≈ 0.1%·σ, se(std) ≈ 0.06%·σ. */
	assert_true(fabs(mean) < 0.005 * bound);
	assert_true(fabs(std / (bound / sqrt(3)) - 1) < 0.005);
	free(w);
}

static void test_batchnorm(void **state)
{
	(void)state;
	float g[5], b[5], rm[5], rv[5];
	memset(g, 0xff, sizeof(g));
	memset(b, 0xff, sizeof(b));
	memset(rm, 0xff, sizeof(rm));
	memset(rv, 0xff, sizeof(rv));
	init_batchnorm2d(g, b, rm, rv, 5);
	for (int c = 0; c < 5; c++)
		assert_true(g[c] == 1 && b[c] == 0 && rm[c] == 0 && rv[c] == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kaiming_normal),
		cmocka_unit_test(test_uniform_fan_in),
		cmocka_unit_test(test_batchnorm),
	};
	set_program_name("test_init");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
