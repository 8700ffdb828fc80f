/* Tests for fixedpoint.h and quant_multiplier.c: hand-worked edge cases
 * (saturation, ±0.5 ties of both helpers, exponents 0 and 31, int32
 * extremes), quant_multiplier's documented values and rejections, acc·M
 * within 1 of the real product, and bit-exact agreement with a second
 * implementation of the gemmlowp pipeline written differently:
 *   high mul = floor((a·b + 2^30) / 2^31) on __int128 (the nudge-and-
 *              truncate rule is exactly "round half toward +∞"),
 *   divide   = sign(x)·floor((|x| + 2^(e−1)) / 2^e) (half away from zero
 *              on the magnitude, no masks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixedpoint.h"
#include "quant_multiplier.h"
#include "rng.h"

typedef __int128 i128;

/* floor(v / 2^k) without shifting a negative: add a multiple of 2^k that
 * makes v non-negative, shift the unsigned value, take the bias back out. */
static i128 ref_floor_pot(i128 v, int k)
{
	const i128 bias = (i128)1 << 100;        /* > |v| for every v here */
	return (i128)((unsigned __int128)(v + bias) >> k) - (bias >> k);
}

static int32_t ref_high_mul(int32_t a, int32_t b)
{
	i128 r = ref_floor_pot((i128)a * b + ((i128)1 << 30), 31);
	return r > INT32_MAX ? INT32_MAX : (int32_t)r;   /* only 2^31 is above */
}

static int32_t ref_div_pot(int32_t x, int e)
{
	if (e == 0)
		return x;
	int64_t mag = llabs((int64_t)x);
	int64_t r = (mag + (INT64_C(1) << (e - 1))) >> e;
	return (int32_t)(x < 0 ? -r : r);
}

static int32_t ref_requantize(int32_t acc, int32_t m0, int shift)
{
	i128 x = acc;
	if (shift < 0)
		x *= (i128)1 << -shift;
	x = x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x;
	return ref_div_pot(ref_high_mul((int32_t)x, m0), shift > 0 ? shift : 0);
}

static void test_high_mul_edges(void **state)
{
	(void)state;
	const int32_t p30 = INT32_C(1) << 30;
	assert_int_equal(fp_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
	/* −2^31·(2^31 − 1) / 2^31 = −(2^31 − 1) exactly. */
	assert_int_equal(fp_high_mul(INT32_MIN, INT32_MAX), -INT32_MAX);
	assert_int_equal(fp_high_mul(INT32_MAX, INT32_MIN), -INT32_MAX);
	/* (2^31 − 1)^2 / 2^31 = 2^31 − 2 + 2^−31. */
	assert_int_equal(fp_high_mul(INT32_MAX, INT32_MAX), INT32_MAX - 1);
	assert_int_equal(fp_high_mul(INT32_MIN, 1), -1);
	assert_int_equal(fp_high_mul(INT32_MIN, -1), 1);
	assert_int_equal(fp_high_mul(INT32_MIN, 0), 0);
	/* Ties: +0.5 → 1, −0.5 → 0 (nudge 1 − 2^30: (−2^30 + 1 − 2^30) / 2^31
	 * = −0.99… truncates to 0), ±1.5 → 2 and −1. */
	assert_int_equal(fp_high_mul(1, p30), 1);
	assert_int_equal(fp_high_mul(-1, -p30), 1);
	assert_int_equal(fp_high_mul(-1, p30), 0);
	assert_int_equal(fp_high_mul(1, -p30), 0);
	assert_int_equal(fp_high_mul(3, p30), 2);
	assert_int_equal(fp_high_mul(-3, p30), -1);
	/* Just either side of the ties. */
	assert_int_equal(fp_high_mul(1, p30 - 1), 0);
	assert_int_equal(fp_high_mul(-1, p30 + 1), -1);
	assert_int_equal(fp_high_mul(-1, p30 - 1), 0);
}

static void test_div_pot_edges(void **state)
{
	(void)state;
	const int32_t p30 = INT32_C(1) << 30;
	assert_int_equal(fp_div_pot(3, 1), 2);
	assert_int_equal(fp_div_pot(-3, 1), -2);
	assert_int_equal(fp_div_pot(5, 2), 1);
	assert_int_equal(fp_div_pot(-5, 2), -1);
	assert_int_equal(fp_div_pot(6, 2), 2);     /* 1.5 */
	assert_int_equal(fp_div_pot(-6, 2), -2);
	assert_int_equal(fp_div_pot(7, 2), 2);     /* 1.75 */
	assert_int_equal(fp_div_pot(-7, 2), -2);
	assert_int_equal(fp_div_pot(1, 1), 1);     /* 0.5 */
	assert_int_equal(fp_div_pot(-1, 1), -1);
	assert_int_equal(fp_div_pot(-1, 2), 0);    /* −0.25 */
	const int32_t ext[] = { INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX };
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
		assert_int_equal(fp_div_pot(ext[i], 0), ext[i]);
	assert_int_equal(fp_div_pot(INT32_MIN, 31), -1);
	assert_int_equal(fp_div_pot(INT32_MAX, 31), 1);      /* 0.99… */
	assert_int_equal(fp_div_pot(p30, 31), 1);            /* 0.5 */
	assert_int_equal(fp_div_pot(-p30, 31), -1);          /* −0.5 */
	assert_int_equal(fp_div_pot(p30 - 1, 31), 0);
	assert_int_equal(fp_div_pot(-p30 + 1, 31), 0);
	assert_int_equal(fp_div_pot(-p30 - 1, 31), -1);
	assert_int_equal(fp_div_pot(INT32_MIN, 1), -p30);
	assert_int_equal(fp_div_pot(INT32_MAX, 1), p30);     /* 2^30 − 0.5 */
	assert_int_equal(fp_div_pot(INT32_MIN + 1, 1), -p30);
	assert_int_equal(fp_div_pot(INT32_MIN, 30), -2);
	assert_int_equal(fp_div_pot(INT32_MAX, 30), 2);      /* 1.99… */
}

static void test_requantize_edges(void **state)
{
	(void)state;
	const int32_t p30 = INT32_C(1) << 30;
	/* M = 0.5, shift 0: the high multiply's ties go toward +∞. */
	assert_int_equal(fp_requantize(3, p30, 0), 2);
	assert_int_equal(fp_requantize(-3, p30, 0), -1);
	/* M = 0.25 = 2^30·2^−31·2^−1: the divide rounds ties away from 0. */
	assert_int_equal(fp_requantize(6, p30, 1), 2);
	assert_int_equal(fp_requantize(-6, p30, 1), -2);
	/* M = 1 (m0 = 2^30, shift −1) is exact, except where acc·2 saturates. */
	assert_int_equal(fp_requantize(12345, p30, -1), 12345);
	assert_int_equal(fp_requantize(-12345, p30, -1), -12345);
	assert_int_equal(fp_requantize(INT32_MAX, p30, -1), p30);  /* 2^30 − 0.5 */
	assert_int_equal(fp_requantize(INT32_MIN, p30, -1), -p30);
	assert_int_equal(fp_requantize(INT32_MIN, p30, -31), -p30);
	assert_int_equal(fp_requantize(-1, p30, -31), -p30);       /* −2^31 fits */
	assert_int_equal(fp_requantize(1, p30, -31), p30);  /* 2^31 → 2^31 − 1 */
	assert_int_equal(fp_requantize(INT32_MAX, INT32_MAX, 31), 1);
	assert_int_equal(fp_requantize(INT32_MIN, INT32_MIN, 31), 1);
	assert_int_equal(fp_requantize(0, INT32_MAX, -31), 0);
}

static void expect_multiplier(double M, int32_t m0, int shift)
{
	int32_t got_m0 = -7;
	int got_shift = -7;
	assert_int_equal(quant_multiplier(M, &got_m0, &got_shift), 0);
	assert_int_equal(got_m0, m0);
	assert_int_equal(got_shift, shift);
}

static void expect_rejected(double M)
{
	int32_t m0 = -7;
	int shift = -7;
	assert_int_equal(quant_multiplier(M, &m0, &shift), -1);
	assert_int_equal(m0, -7);
	assert_int_equal(shift, -7);
}

static void test_quant_multiplier(void **state)
{
	(void)state;
	const int32_t p30 = INT32_C(1) << 30, p30x3_2 = 3 * (p30 / 2);
	expect_multiplier(0.5, p30, 0);
	expect_multiplier(0.75, p30x3_2, 0);
	expect_multiplier(1.0, p30, -1);
	expect_multiplier(1.5, p30x3_2, -1);
	expect_multiplier(3.0, p30x3_2, -2);
	expect_multiplier(0.0, 0, 0);
	/* The mantissa rounds up to 2^31: renormalised to 2^30, one more 2. */
	expect_multiplier(1 - ldexp(1, -40), p30, -1);
	/* An exact tie, 2^30 + 0.5: half away from zero (ties-to-even: 2^30). */
	expect_multiplier(ldexp(p30 + 0.5, -31), p30 + 1, 0);
	expect_multiplier(ldexp(p30 + 1.5, -31), p30 + 2, 0);
	/* 1e-9 = 0.536…·2^−29. */
	int32_t m0;
	int shift;
	assert_int_equal(quant_multiplier(1e-9, &m0, &shift), 0);
	assert_int_equal(shift, 29);
	assert_true(m0 >= p30);
	assert_true(fabsl(ldexpl(m0, -31 - shift) - 1e-9) <= 1e-9 * 0x1p-31L);
	/* The range ends: shift 31 and −31 accepted, one beyond rejected. */
	expect_multiplier(ldexp(1, -32), p30, 31);
	expect_multiplier(ldexp(1, -32) - ldexp(1, -64), p30, 31);
	expect_multiplier(ldexp(1.5, 30), p30x3_2, -31);
	expect_rejected(ldexp(1, -33));
	expect_rejected(ldexp(1, -32) - ldexp(1, -63));
	expect_rejected(ldexp(1, 31));
	expect_rejected(ldexp(1, 31) - 0.5);
	expect_rejected(ldexp(1, -1074));                 /* subnormal */
	expect_rejected(-0.5);
	expect_rejected(-ldexp(1, -1074));
	expect_rejected(NAN);
	expect_rejected(INFINITY);
	expect_rejected(-INFINITY);
}

static uint32_t bits(struct rng *r, int n)      /* n in 1..32 random bits */
{
	return rng_u32(r) >> (32 - n);
}

/* Mostly awkward int32s: extremes, ±(2^k + small) near ties, random
 * magnitudes of every width, and the full range. */
static int32_t rand_i32(struct rng *r)
{
	static const int32_t ext[] = { INT32_MIN, INT32_MIN + 1, -1, 0, 1,
				       INT32_MAX, INT32_MAX - 1 };
	int64_t v;
	switch (rng_below(r, 4)) {
	case 0:
		return ext[rng_below(r, sizeof ext / sizeof ext[0])];
	case 1:
		v = (INT64_C(1) << rng_below(r, 31)) + (int64_t)rng_below(r, 5) - 2;
		break;
	case 2:
		v = bits(r, 1 + (int)rng_below(r, 31));
		break;
	default:
		return (int32_t)((int64_t)rng_u32(r) - (INT64_C(1) << 31));
	}
	return (int32_t)(rng_u32(r) & 1 ? -v : v);
}

static void test_against_reference(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 2024, 0);
	const int n = 100000;
	for (int i = 0; i < n; i++) {
		int32_t a = rand_i32(&r), b = rand_i32(&r);
		int e = (int)rng_below(&r, 32), shift = (int)rng_below(&r, 63) - 31;
		/* m0 as quant_multiplier makes it half the time, any int32 else. */
		int32_t m0 = rng_u32(&r) & 1 ? (int32_t)(bits(&r, 30) | (1u << 30)) : b;
		assert_int_equal(fp_high_mul(a, b), ref_high_mul(a, b));
		assert_int_equal(fp_div_pot(a, e), ref_div_pot(a, e));
		assert_int_equal(fp_requantize(a, m0, shift), ref_requantize(a, m0, shift));
	}
	/* Every pair of extremes with every shift. */
	static const int32_t ext[] = { INT32_MIN, INT32_MIN + 1, -(1 << 30) - 1,
				       -(1 << 30), -3, -1, 0, 1, 3, 1 << 30,
				       (1 << 30) + 1, INT32_MAX - 1, INT32_MAX };
	const size_t m = sizeof ext / sizeof ext[0];
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < m; j++) {
			assert_int_equal(fp_high_mul(ext[i], ext[j]), ref_high_mul(ext[i], ext[j]));
			for (int s = -31; s <= 31; s++)
				assert_int_equal(fp_requantize(ext[i], ext[j], s),
						 ref_requantize(ext[i], ext[j], s));
		}
}

/* M log-uniform in [1e-6, 100), |acc| ≤ 2^24 (so |acc·M| < 2^31, nothing
 * saturates): the result is within 1 of round(acc·M). M0's relative error
 * ≤ 2^−31 moves acc·M by ≤ 0.78; shift ≤ 0 then rounds once (≤ 0.5);
 * shift ≥ 1 rounds twice (≤ 0.25 + 0.5) but has |acc·M| < 2^23, moved by
 * < 0.004. So |result − acc·M| < 1.3, and round(acc·M) is within 0.5 of
 * acc·M: two integers less than 1.8 apart differ by at most 1. */
static void test_round_trip(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 7, 1);
	for (int i = 0; i < 100000; i++) {
		double M = 1e-6 * exp(log(1e8) * ldexp(rng_u32(&r), -32));
		int32_t acc = (int32_t)((int64_t)bits(&r, 25) - (INT64_C(1) << 24));
		int32_t m0;
		int shift;
		assert_int_equal(quant_multiplier(M, &m0, &shift), 0);
		assert_true(m0 >= INT32_C(1) << 30 && shift >= -7 && shift <= 20);
		long double approx = ldexpl(m0, -31 - shift);
		assert_true(fabsl(approx - M) <= approx * 0x1p-31L);
		long double want = roundl((long double)acc * M);
		long double got = fp_requantize(acc, m0, shift);
		if (fabsl(got - want) > 1)
			fail_msg("acc %d M %.17g: got %.0Lf want %.0Lf", (int)acc, M, got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_high_mul_edges),
		cmocka_unit_test(test_div_pot_edges),
		cmocka_unit_test(test_requantize_edges),
		cmocka_unit_test(test_quant_multiplier),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_round_trip),
	};
	set_program_name("test_fixedpoint");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
