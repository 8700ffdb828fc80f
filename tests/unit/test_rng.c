/* Tests for rng.c: PCG32's reference sequence, determinism and stream
 * separation, rng_skip against single steps, the range and moments of uniforms and normals, unbiased
 * bounded integers, and the shuffle (a permutation, all orders alike).
 * Statistical bounds are 5 standard errors, so a correct generator fails
 * them with probability < 1e-6 (and the seeds are fixed anyway). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"

static void test_reference_sequence(void **state)
{
	(void)state;
	/* pcg32-demo.c from pcg-random.org: pcg32_srandom_r(&rng, 42, 54). */
	static const uint32_t want[6] = { 0xa15c02b7, 0x7b47f409, 0xba1d3330,
					  0x83d2f293, 0xbfa4784b, 0xcbed606e };
	struct rng r;
	rng_seed(&r, 42, 54);
	for (int i = 0; i < 6; i++)
		assert_int_equal(rng_u32(&r), want[i]);
}

/* rng_skip(n) is n draws: for small n step by step, for large n as the
 * sum of two jumps (and with 2^64 steps, the LCG's full period, a no-op). */
static void test_skip(void **state)
{
	(void)state;
	struct rng a, b;
	rng_seed(&a, 42, 54);
	b = a;
	for (uint64_t n = 0; n < 300; n++) {
		struct rng c = a;
		rng_skip(&c, n);
		assert_true(c.state == b.state);
		assert_int_equal(rng_u32(&c), rng_u32(&b));
	}
	const uint64_t big[][2] = {{1ull << 40, 12345}, {~0ull, 1}, {0x9e3779b97f4a7c15ull, 77}};
	for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
		struct rng c = a, d = a;
		rng_skip(&c, big[k][0]);
		rng_skip(&c, big[k][1]);
		rng_skip(&d, big[k][0] + big[k][1]);   /* wraps: the period is 2^64 */
		assert_true(c.state == d.state);
	}
	struct rng c = a;
	rng_skip(&c, ~0ull);
	rng_u32(&c);
	assert_true(c.state == a.state);
}

static void test_determinism(void **state)
{
	(void)state;
	struct rng a, b, c, d;
	rng_seed(&a, 7, 0);
	rng_seed(&b, 7, 0);
	rng_seed(&c, 8, 0);
	rng_seed(&d, 7, 1);
	int same_c = 0, same_d = 0;
	for (int i = 0; i < 1000; i++) {
		uint32_t x = rng_u32(&a);
		assert_int_equal(x, rng_u32(&b));
		same_c += x == rng_u32(&c);
		same_d += x == rng_u32(&d);
	}
	assert_true(same_c < 3);
	assert_true(same_d < 3);
	/* Normals too, including the cached second value of each pair. */
	for (int i = 0; i < 101; i++)
		assert_true(rng_normal(&a) == rng_normal(&b));
}

static void test_uniform(void **state)
{
	(void)state;
	const int n = 1000000;
	struct rng r;
	rng_seed(&r, 1, 0);
	double s = 0, s2 = 0;
	float lo = 1, hi = 0;
	for (int i = 0; i < n; i++) {
		float u = rng_uniform(&r);
		assert_true(u >= 0 && u < 1);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		s += u;
		s2 += (double)u * u;
	}
	double mean = s / n, var = s2 / n - mean * mean;
	/* se(mean) = √(1/12/n) ≈ 2.9e-4; se(var) ≈ √(1/180/n) ≈ 7.5e-5. */
	assert_true(fabs(mean - 0.5) < 1.5e-3);
	assert_true(fabs(var - 1.0 / 12) < 4e-4);
	assert_true(lo < 1e-5 && hi > 1 - 1e-5);
}

static void test_normal(void **state)
{
	(void)state;
	const int n = 1000000;
	struct rng r;
	rng_seed(&r, 2, 0);
	double s = 0, s2 = 0;
	int within1 = 0;
	for (int i = 0; i < n; i++) {
		double z = rng_normal(&r);
		assert_true(isfinite(z));
		s += z;
		s2 += z * z;
		within1 += fabs(z) < 1;
	}
	double mean = s / n, var = s2 / n - mean * mean;
	/* se(mean) = 1e-3, se(var) = √(2/n) ≈ 1.4e-3, se(P(|z|<1)) ≈ 4.7e-4. */
	assert_true(fabs(mean) < 5e-3);
	assert_true(fabs(var - 1) < 7e-3);
	assert_true(fabs((double)within1 / n - 0.682689) < 2.4e-3);
}

static void test_below(void **state)
{
	(void)state;
	const int n = 300000;
	struct rng r;
	rng_seed(&r, 3, 0);
	int count[3] = { 0 };
	for (int i = 0; i < n; i++) {
		uint32_t k = rng_below(&r, 3);
		assert_true(k < 3);
		count[k]++;
	}
	/* se = √(n·(1/3)·(2/3)) ≈ 258. */
	for (int k = 0; k < 3; k++)
		assert_true(abs(count[k] - n / 3) < 1300);
	assert_int_equal(rng_below(&r, 1), 0);
}

static void test_shuffle(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 4, 0);
	size_t idx[1000], seen[1000] = { 0 };
	for (size_t i = 0; i < 1000; i++)
		idx[i] = i;
	rng_shuffle(&r, idx, 1000);
	size_t fixed = 0;
	for (size_t i = 0; i < 1000; i++) {
		assert_true(idx[i] < 1000);
		seen[idx[i]]++;
		fixed += idx[i] == i;
	}
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(seen[i], 1);
	assert_true(fixed < 10);   /* expected 1 */

	/* All 6 orders of 3 items, each ~1/6 of the time (se ≈ 118). */
	const int trials = 60000;
	int count[6] = { 0 };
	for (int t = 0; t < trials; t++) {
		size_t p[3] = { 0, 1, 2 };
		rng_shuffle(&r, p, 3);
		count[p[0] * 2 + (p[1] > p[2])]++;
	}
	for (int k = 0; k < 6; k++)
		assert_true(abs(count[k] - trials / 6) < 600);
	rng_shuffle(&r, idx, 0);
	rng_shuffle(&r, idx, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_sequence),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_below),
		cmocka_unit_test(test_shuffle),
	};
	set_program_name("test_rng");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
