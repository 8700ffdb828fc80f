/* ReLU, y = max(x, 0), as torch.nn.ReLU (pytorch.org/docs/stable/generated/
 * torch.nn.ReLU.html); the backward is PyTorch's threshold_backward:
 * dx = 0 where x <= 0, else dy (so the gradient at x = 0 is 0). NaN
 * propagates forward, and a NaN x passes dy back, as in PyTorch.
 * Elementwise over any shape; OpenMP over fixed chunks.
 * Gradients: din is overwritten (=). */
#ifndef PCQ_RELU_H
#define PCQ_RELU_H

#include <stddef.h>

/* out may be the same buffer as in (in-place ReLU). */
void relu_forward(float *out,       // (n)
		  const float *in,  // (n)
		  size_t n);

/* din = 0 where x <= 0, else dout. `x` is either the forward's input or
 * its output: out <= 0 exactly where in <= 0, so both give the same
 * result (an in-place forward leaves only the output). din may be dout. */
void relu_backward(float *din,        // (n) =
		   const float *dout, // (n)
		   const float *x,    // (n) the forward's input or output
		   size_t n);

#endif
