/* A real requantization multiplier M as the integer pair (M0, shift) of
 * SPEC §8: M ≈ M0·2^−31·2^−shift with M0 in [2^30, 2^31), the form that
 * fp_requantize() in fixedpoint.h consumes (gemmlowp / TFLite's
 * QuantizeMultiplier, with the shift sign of SPEC §8: positive = right). */
#ifndef PCQ_QUANT_MULTIPLIER_H
#define PCQ_QUANT_MULTIPLIER_H

#include <stdint.h>

/* For finite M > 0 writes m0 in [2^30, 2^31) and shift in −31..31 with
 * |M0·2^−31·2^−shift − M| ≤ 2^−31·M0·2^−31·2^−shift (M0 is M's mantissa
 * rounded to 31 bits, half away from zero). M == 0 gives m0 = 0, shift 0.
 * Returns 0, or −1 with *m0 and *shift untouched when M is negative, NaN
 * or infinite, or when the shift would leave −31..31: M < 2^−32 − 2^−64
 * (then |acc·M| < 0.5 for every int32 acc anyway) or M ≥ 2^31 − 2^−1 (the
 * bounds include the mantissa's rounding). No message: the caller knows
 * which layer the multiplier belongs to. */
int quant_multiplier(double M, int32_t *m0, int *shift);

#endif
