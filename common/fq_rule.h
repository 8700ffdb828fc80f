/* The arithmetic of fake quantization (SPEC §7), written once for the CPU
 * (fakequant.c, quantize.c, qinfer.c) and the GPU (cuda/fakequant.cu), so
 * that both give the same bits: plain float32 operations that round alike
 * on both (C11 contracts nothing into FMAs; nvcc is told -fmad=false).
 * fakequant.h says what each rule means. */
#ifndef PCQ_FQ_RULE_H
#define PCQ_FQ_RULE_H

#include "host_device.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

struct qparams {
	float scale;
	int32_t zero;
	int32_t qmax;     /* 2^b − 1 */
};

/* Z = clamp(round(−lo/S), 0, qmax) for lo <= 0. */
PCQ_HOST_DEVICE static inline int32_t fq_zero(float lo, float scale, int32_t qmax)
{
	float z = rintf(-lo / scale);
	/* NaN (lo = −inf: inf/inf) goes to 0, not into an undefined cast. */
	return !(z > 0) ? 0 : z > (float)qmax ? qmax : (int32_t)z;
}

/* A grid's width in bits, with this flag for the symmetric weight grid
 * (fakequant.h): what fq_params and the devices' fq_forward take. */
#define FQ_SYMMETRIC 0x100

/* The symmetric grid of fakequant.h, for 2 <= bits <= 8. */
PCQ_HOST_DEVICE static inline struct qparams fq_params_symmetric(float lo, float hi, int bits)
{
	struct qparams q = {0, 1 << (bits - 1), (1 << bits) - 1};
	q.scale = fmaxf(-lo, hi) / (float)((1 << (bits - 1)) - 1);
	if (!(q.scale >= FLT_EPSILON))
		q.scale = FLT_EPSILON;
	return q;
}

/* fakequant.h's qparams_from_range, for 2 <= bits <= 16, the symmetric grid
 * with FQ_SYMMETRIC. */
PCQ_HOST_DEVICE static inline struct qparams fq_params(float lo, float hi, int bits)
{
	if (bits & FQ_SYMMETRIC)
		return fq_params_symmetric(lo, hi, bits & ~FQ_SYMMETRIC);
	struct qparams q = {0, 0, (1 << bits) - 1};
	lo = fminf(lo, 0.0f);
	hi = fmaxf(hi, 0.0f);
	q.scale = (hi - lo) / (float)q.qmax;
	if (!(q.scale >= FLT_EPSILON))
		q.scale = FLT_EPSILON;
	q.zero = fq_zero(lo, q.scale, q.qmax);
	return q;
}

/* round(x/S) + Z before clamping, and the clamp to [0, 2^b − 1]: the one
 * rounding rule of fake quantization, the integer weights (quantize.c)
 * and the integer input (qinfer.c), so all three give the same codes.
 * Comparisons, not fminf/fmaxf, whose NaN rules keep GCC from
 * vectorising; a NaN stays NaN. */
PCQ_HOST_DEVICE static inline float fq_unclamped(float x, float scale, float zero)
{
	return rintf(x / scale) + zero;
}

PCQ_HOST_DEVICE static inline float fq_clamp(float v, float qmax)
{
	v = v < 0.0f ? 0.0f : v;
	return v > qmax ? qmax : v;
}

/* fakequant.h's range_update. */
PCQ_HOST_DEVICE static inline void fq_range_ema(float *range, float *batches, float lo, float hi,
						float smooth)
{
	if (*batches == 0) {
		range[0] = lo;
		range[1] = hi;
	} else {
		range[0] = smooth * range[0] + (1 - smooth) * lo;
		range[1] = smooth * range[1] + (1 - smooth) * hi;
	}
	*batches += 1;
}

#endif
