/* Fake quantization; see fakequant.h. */
#include "fakequant.h"

#include "check.h"
#include "relu.h"

#include <math.h>

struct qparams qparams_from_range(float lo, float hi, int bits)
{
	const int b = bits & ~FQ_SYMMETRIC;
	CHECK(b >= FQ_MIN_BITS && b <= ((bits & FQ_SYMMETRIC) ? FQ_MAX_BITS : FQ_MAX_ACT_BITS));
	return fq_params(lo, hi, bits);
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
	#pragma omp parallel for simd schedule(static) reduction(min : a) reduction(max : b) if (n > 32768)
	for (size_t i = 0; i < n; i++) {
		a = x[i] < a ? x[i] : a;
		b = x[i] > b ? x[i] : b;
	}
	*lo = a;
	*hi = b;
}

void range_relu_of(const float *x, size_t n, float *lo, float *hi)
{
	float a = INFINITY, b = -INFINITY;
	#pragma omp parallel for simd schedule(static) reduction(min : a) reduction(max : b) if (n > 32768)
	for (size_t i = 0; i < n; i++) {
		const float v = x[i] < 0 ? 0.0f : x[i];
		a = v < a ? v : a;
		b = v > b ? v : b;
	}
	*lo = a;
	*hi = b;
}

void fakequant_relu_forward(float *out, uint8_t *mask, const float *x, size_t n,
			    const struct qparams *q)
{
	if (!q) {
		relu_forward(out, x, n);
		if (mask) {
			#pragma omp parallel for simd schedule(static) if (n > 32768)
			for (size_t i = 0; i < n; i++)
				mask[i] = !(x[i] <= 0);
		}
		return;
	}
	const float s = q->scale, z = (float)q->zero, qmax = (float)q->qmax;
	if (mask) {
		#pragma omp parallel for schedule(static) if (n > 32768)
		for (size_t i = 0; i < n; i++) {
			const float xi = x[i], v = xi < 0 ? 0.0f : xi;
			const float u = fq_unclamped(v, s, z), c = fq_clamp(u, qmax);
			mask[i] = (u == c) & !(xi <= 0);
			out[i] = s * (c - z);
		}
	} else {
		#pragma omp parallel for schedule(static) if (n > 32768)
		for (size_t i = 0; i < n; i++) {
			const float v = x[i] < 0 ? 0.0f : x[i];
			out[i] = s * (fq_clamp(fq_unclamped(v, s, z), qmax) - z);
		}
	}
}

void range_update(float *range, float *batches, float lo, float hi, float smooth)
{
	fq_range_ema(range, batches, lo, hi, smooth);
}
