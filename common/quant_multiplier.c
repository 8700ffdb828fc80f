/* quant_multiplier(): M = q·2^e by frexp with q in [0.5, 1), M0 = q·2^31
 * rounded, shift = −e (SPEC §8; gemmlowp / TFLite's QuantizeMultiplier,
 * whose shift has the opposite sign). */
#include <math.h>

#include "quant_multiplier.h"

int quant_multiplier(double M, int32_t *m0, int *shift)
{
	if (!(M >= 0) || isinf(M))               /* negative, NaN, +∞ */
		return -1;
	if (M == 0) {
		*m0 = 0;
		*shift = 0;
		return 0;
	}
	int e;
	double t = ldexp(frexp(M, &e), 31);      /* exact, in [2^30, 2^31) */
	/* Round half away from zero (as llround; t > 0 so ties go up), by hand
	 * so the current rounding mode, whose default sends ties to even
	 * (rint, nearbyint), plays no part. t − floor(t) is exact. */
	double f = floor(t);
	int64_t r = (int64_t)f + (t - f >= 0.5);
	if (r == INT64_C(1) << 31) {             /* q rounded up to 1: renormalise */
		r = INT64_C(1) << 30;
		e += 1;
	}
	if (e < -31 || e > 31)
		return -1;
	*m0 = (int32_t)r;
	*shift = -e;
	return 0;
}
