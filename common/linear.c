/* Fully connected layer forward and backward; see linear.h. */
#include "linear.h"

#include "check.h"
#include "gemm.h"

/* Output features whose bias gradients are summed at a time. */
#define LINEAR_DB_BLOCK 64

static void check_shape(const struct linear_shape *s)
{
	CHECK(s->n > 0 && s->in > 0 && s->out > 0);
}

void linear_forward(float *out, const float *in, const float *w, const float *b,
		    const struct linear_shape *s)
{
	check_shape(s);
	/* start from the bias and let the product add to it */
	for (int n = 0; b && n < s->n; n++)
		for (int o = 0; o < s->out; o++)
			out[(size_t)n * s->out + o] = b[o];
	/* out (N, OUT) = in (N, IN) · wᵀ (IN, OUT) [+ out] */
	gemm(0, 1, s->n, s->out, s->in, 1.0f, in, s->in, w, s->in,
	     b ? 1.0f : 0.0f, out, s->out);
}

void linear_backward(float *din, float *dw, float *db, const float *dout,
		     const float *in, const float *w, const struct linear_shape *s)
{
	check_shape(s);
	/* din (N, IN) = dout (N, OUT) · w (OUT, IN) */
	if (din)
		gemm(0, 0, s->n, s->in, s->out, 1.0f, dout, s->out, w, s->in, 0.0f,
		     din, s->in);
	/* dw (OUT, IN) += doutᵀ (OUT, N) · in (N, IN) */
	gemm(1, 0, s->out, s->in, s->n, 1.0f, dout, s->out, in, s->in, 1.0f, dw, s->in);
	/* db (OUT) += column sums of dout, formed first so that a second call
	 * adds exactly the same values */
	for (int o0 = 0; db && o0 < s->out; o0 += LINEAR_DB_BLOCK) {
		const int m = s->out - o0 < LINEAR_DB_BLOCK ? s->out - o0 : LINEAR_DB_BLOCK;
		float sum[LINEAR_DB_BLOCK] = { 0 };
		for (int n = 0; n < s->n; n++) {
			const float *row = dout + (size_t)n * s->out + o0;
#pragma omp simd
			for (int j = 0; j < m; j++)
				sum[j] += row[j];
		}
		for (int j = 0; j < m; j++)
			db[o0 + j] += sum[j];
	}
}

/* Plain loops with double accumulation, in the order of the equations. */
void linear_forward_naive(float *out, const float *in, const float *w,
			  const float *b, const struct linear_shape *s)
{
	check_shape(s);
	for (int n = 0; n < s->n; n++)
		for (int o = 0; o < s->out; o++) {
			double sum = b ? b[o] : 0;
			for (int i = 0; i < s->in; i++)
				sum += (double)in[(size_t)n * s->in + i] * w[(size_t)o * s->in + i];
			out[(size_t)n * s->out + o] = (float)sum;
		}
}

void linear_backward_naive(float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w,
			   const struct linear_shape *s)
{
	check_shape(s);
	for (int n = 0; din && n < s->n; n++)
		for (int i = 0; i < s->in; i++) {
			double sum = 0;
			for (int o = 0; o < s->out; o++)
				sum += (double)dout[(size_t)n * s->out + o] * w[(size_t)o * s->in + i];
			din[(size_t)n * s->in + i] = (float)sum;
		}
	for (int o = 0; o < s->out; o++) {
		for (int i = 0; i < s->in; i++) {
			double sum = 0;
			for (int n = 0; n < s->n; n++)
				sum += (double)dout[(size_t)n * s->out + o] * in[(size_t)n * s->in + i];
			dw[(size_t)o * s->in + i] += (float)sum;
		}
		if (db) {
			double sum = 0;
			for (int n = 0; n < s->n; n++)
				sum += dout[(size_t)n * s->out + o];
			db[o] += (float)sum;
		}
	}
}
