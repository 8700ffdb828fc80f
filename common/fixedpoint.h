/* Integer-only fixed-point helpers for requantization (SPEC §8–§9),
 * bit-exact with gemmlowp's fixedpoint.h: SaturatingRoundingDoublingHighMul
 * and RoundingDivideByPOT. No floating point here, so the integer path
 * gives the same bits on every machine. Intermediates are 64-bit, so no
 * signed arithmetic overflows, and no negative value is ever right-shifted
 * (implementation-defined in C): floors come from shifts of non-negative
 * values through the identity floor(x/2^e) = ~(~x >> e) for x < 0. The
 * GPU's integer engine (qkernels.h) compiles the same functions. */
#ifndef PCQ_FIXEDPOINT_H
#define PCQ_FIXEDPOINT_H

#include "host_device.h"

#include <stdint.h>

/* (a·b + nudge) / 2^31, truncated toward zero, with nudge = 2^30 when
 * a·b ≥ 0 and 1 − 2^30 otherwise. That rounds a·b / 2^31 to nearest with
 * ties toward +∞: 0.5 → 1, −0.5 → 0, −1.5 → −1. The only result that does
 * not fit int32, a = b = INT32_MIN (2^31), saturates to INT32_MAX. */
PCQ_HOST_DEVICE static inline int32_t fp_high_mul(int32_t a, int32_t b)
{
	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	int64_t ab = (int64_t)a * b;             /* |ab| ≤ 2^62 */
	int64_t nudge = ab >= 0 ? INT64_C(1) << 30 : 1 - (INT64_C(1) << 30);
	int64_t v = ab + nudge;
	/* v / 2^31 truncated toward zero, as shifts of non-negative values
	 * (a division by a variable power of two would be a slow idiv). */
	return (int32_t)(v >= 0 ? v >> 31 : -((-v) >> 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero (3/2 → 2,
 * −3/2 → −2), for |x| < 2^62 and exponent 0..62 (the int32 values of
 * fp_div_pot, and the int64 sums of the residual add with a 16-bit input,
 * requant.h). gemmlowp's formula: mask = 2^e − 1, remainder = x & mask,
 * threshold = (mask >> 1) + (x < 0), result = (x >> e) + (remainder >
 * threshold); here x >> e is the floor and x & mask = x − floor·2^e (the
 * same bits in two's complement). For x < 0, floor(x / 2^e) = ~(~x >> e):
 * ~x = −x − 1 is non-negative, so only non-negative values are shifted. */
PCQ_HOST_DEVICE static inline int64_t fp_div_pot64(int64_t x, int exponent)
{
	int64_t mask = (INT64_C(1) << exponent) - 1;
	int64_t q = x >= 0 ? x >> exponent : ~(~x >> exponent);
	int64_t remainder = x - q * (mask + 1);  /* in [0, mask] */
	int64_t threshold = (mask >> 1) + (x < 0);
	return q + (remainder > threshold);
}

/* RoundingDivideByPOT of an int32, exponent 0..31. */
PCQ_HOST_DEVICE static inline int32_t fp_div_pot(int32_t x, int exponent)
{
	return (int32_t)fp_div_pot64(x, exponent);
}

/* acc·M rounded, for M = m0·2^−31·2^−shift (SPEC §8; m0 and shift from
 * quant_multiplier(): m0 in [2^30, 2^31) or 0, shift in −31..31). A
 * negative shift (M ≥ 1) first multiplies acc by 2^−shift, saturating to
 * int32 as gemmlowp's SaturatingRoundingMultiplyByPOT does (a wrapped
 * product would flip sign), then takes the high multiply by m0; a positive
 * shift divides the product by 2^shift with rounding. */
PCQ_HOST_DEVICE static inline int32_t fp_requantize(int32_t acc, int32_t m0, int shift)
{
	int32_t x = acc;
	if (shift < 0) {
		int64_t y = (int64_t)acc * (INT64_C(1) << -shift);  /* |y| ≤ 2^62 */
		x = y > INT32_MAX ? INT32_MAX : y < INT32_MIN ? INT32_MIN : (int32_t)y;
	}
	return fp_div_pot(fp_high_mul(x, m0), shift > 0 ? shift : 0);
}

#endif
