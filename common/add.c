/* Residual add forward and backward (see add.h). */
#include "add.h"

#include <string.h>

#define ADD_PARALLEL_MIN 32768

void add_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void add_relu_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		const float v = a[i] + b[i];
		out[i] = v < 0 ? 0.0f : v;
	}
}

/* memcpy in fixed chunks, so that both cores copy. */
#define COPY_CHUNKS 16

static void copy(float *dst, const float *src, size_t n)
{
	if (dst == src)
		return;
#pragma omp parallel for schedule(static) if (n >= ADD_PARALLEL_MIN)
	for (size_t k = 0; k < COPY_CHUNKS; k++) {
		size_t lo = n * k / COPY_CHUNKS, hi = n * (k + 1) / COPY_CHUNKS;
		memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
	}
}

void add_backward(float *da, float *db, const float *dout, size_t n)
{
	copy(da, dout, n);
	copy(db, dout, n);
}

void add_relu_backward(float *da, float *db, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		const float d = dout[i], g = out[i] <= 0 ? 0.0f : d;
		da[i] = g;
		db[i] = g;
	}
}
