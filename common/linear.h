/* Fully connected layer, as PyTorch's torch.nn.Linear
 * (https://pytorch.org/docs/1.13/generated/torch.nn.Linear.html):
 *
 *   out[n][o] = b[o] + Σ_i in[n][i] · w[o][i],   i.e. out = in · wᵀ + b,
 *
 * with the weight in PyTorch's (OUT, IN) layout. Backward:
 *   din = dout · w,  dw += doutᵀ · in,  db[o] += Σ_n dout[n][o].
 * Gradient convention: dw and db accumulate (+=); din is overwritten.
 * Nothing here allocates. The products go through gemm() (both cores via
 * OpenMP when called from serial code); the *_naive functions are plain
 * loops, the test oracle (STYLE.md 5). */
#ifndef PCQ_LINEAR_H
#define PCQ_LINEAR_H

struct linear_shape {
	int n;   /* batch */
	int in;  /* input features: in is (N, IN) */
	int out; /* output features: out is (N, OUT), w is (OUT, IN) */
};

void linear_forward(float *out,             /* (N, OUT) */
		    const float *in,        /* (N, IN) */
		    const float *w,         /* (OUT, IN) */
		    const float *b,         /* (OUT) or NULL: no bias */
		    const struct linear_shape *s);

void linear_backward(float *din,            /* (N, IN), =; NULL: skip */
		     float *dw,             /* (OUT, IN), += */
		     float *db,             /* (OUT), +=; NULL: no bias */
		     const float *dout,     /* (N, OUT) */
		     const float *in,       /* (N, IN) */
		     const float *w,        /* (OUT, IN) */
		     const struct linear_shape *s);

void linear_forward_naive(float *out, const float *in, const float *w,
			  const float *b, const struct linear_shape *s);
void linear_backward_naive(float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w,
			   const struct linear_shape *s);

#endif
