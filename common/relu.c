/* ReLU forward and backward (see relu.h). The loops are branch-free
 * selects so that the compiler vectorises them. */
#include "relu.h"

/* Below this many elements one thread is faster than waking a team. */
#define RELU_PARALLEL_MIN 32768

void relu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= RELU_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] < 0 ? 0.0f : in[i];   /* NaN < 0 is false: kept */
}

void relu_backward(float *din, const float *dout, const float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= RELU_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		/* dout is loaded unconditionally: a conditional load
		 * compiles to a branch, 20x slower on random signs. */
		const float d = dout[i];
		din[i] = x[i] <= 0 ? 0.0f : d;
	}
}
