/* Fake quantization; see fakequant.h. */
#include "fakequant.h"

#include "check.h"

#include <float.h>
#include <math.h>

struct qparams qparams_from_range(float lo, float hi, int bits)
{
	CHECK(bits >= FQ_MIN_BITS && bits <= FQ_MAX_BITS);
	struct qparams q = {.qmax = (1 << bits) - 1};
	lo = fminf(lo, 0.0f);
	hi = fmaxf(hi, 0.0f);
	q.scale = (hi - lo) / (float)q.qmax;
	if (!(q.scale >= FLT_EPSILON))
		q.scale = FLT_EPSILON;
	float z = rintf(-lo / q.scale);
	q.zero = z < 0 ? 0 : z > (float)q.qmax ? q.qmax : (int32_t)z;
	return q;
}

void fakequant_forward(float *out, uint8_t *mask, const float *x, size_t n,
		       const struct qparams *q)
{
	const float s = q->scale, z = (float)q->zero, qmax = (float)q->qmax;
	if (mask) {
		#pragma omp parallel for schedule(static) if (n > 32768)
		for (size_t i = 0; i < n; i++) {
			float v = fq_unclamped(x[i], s, z), c = fq_clamp(v, qmax);
			mask[i] = v == c;
			out[i] = s * (c - z);
		}
	} else {
		#pragma omp parallel for schedule(static) if (n > 32768)
		for (size_t i = 0; i < n; i++)
			out[i] = s * (fq_clamp(fq_unclamped(x[i], s, z), qmax) - z);
	}
}

void fakequant_backward(float *dx, const float *dout, const uint8_t *mask, size_t n)
{
	#pragma omp parallel for schedule(static) if (n > 32768)
	for (size_t i = 0; i < n; i++)
		dx[i] = mask[i] ? dout[i] : 0.0f;
}

void range_of(const float *x, size_t n, float *lo, float *hi)
{
	float a = INFINITY, b = -INFINITY;
	#pragma omp parallel for schedule(static) reduction(min : a) reduction(max : b) if (n > 32768)
	for (size_t i = 0; i < n; i++) {
		a = x[i] < a ? x[i] : a;
		b = x[i] > b ? x[i] : b;
	}
	*lo = a;
	*hi = b;
}

void range_update(float *range, float *batches, float lo, float hi, float smooth)
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
