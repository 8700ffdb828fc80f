/* Dropout forward and backward (see dropout.h). Keeping an element when a
 * 32-bit draw is >= p·2^32 keeps it with probability 1 − p up to 2^-32. */
#include "dropout.h"

#include "check.h"

#include <math.h>
#include <string.h>

#define DROPOUT_PARALLEL_MIN 32768

/* 1/(1 − p), or 0 when everything is dropped. */
float dropout_keep_scale(float p)
{
	CHECK(p >= 0 && p <= 1);
	return p < 1 ? 1.0f / (1.0f - p) : 0.0f;
}

void dropout_mask(uint8_t *mask, float p, struct rng *r, size_t n)
{
	if (p >= 1) {
		memset(mask, 0, n);
		return;
	}
	const uint64_t threshold = dropout_threshold(p);
	for (size_t i = 0; i < n; i++)
		mask[i] = rng_u32(r) >= threshold;
}

uint64_t dropout_threshold(float p)
{
	CHECK(p >= 0 && p < 1);
	return (uint64_t)ldexp((double)p, 32);
}

void dropout_forward_train(float *out, uint8_t *mask, const float *in, float p,
			   struct rng *r, size_t n)
{
	const float scale = dropout_keep_scale(p);
	dropout_mask(mask, p, r, n);
#pragma omp parallel for simd schedule(static) if (n >= DROPOUT_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] * (mask[i] * scale);   /* as PyTorch's x·noise */
}

void dropout_forward_eval(float *out, const float *in, size_t n)
{
	if (out != in)
		memmove(out, in, n * sizeof(float));
}

void dropout_backward(float *din, const uint8_t *mask, const float *dout,
		      float p, size_t n)
{
	const float scale = dropout_keep_scale(p);
#pragma omp parallel for simd schedule(static) if (n >= DROPOUT_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		din[i] = dout[i] * (mask[i] * scale);
}
