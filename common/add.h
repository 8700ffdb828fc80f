/* Elementwise sum of two tensors of the same shape: the residual add of a
 * ResNet BasicBlock (torch.add; the `out += identity` of torchvision's
 * BasicBlock.forward). OpenMP over fixed chunks.
 * Gradients: add_backward OVERWRITES both da and db with dout (=). Where a
 * tensor feeds two layers (a block's input goes to conv1 and to the add),
 * sum its two gradients with add_forward(dx, dx, dother, n). */
#ifndef PCQ_ADD_H
#define PCQ_ADD_H

#include <stddef.h>

/* out = a + b; out may be the same buffer as a or b. */
void add_forward(float *out,      // (n)
		 const float *a,  // (n)
		 const float *b,  // (n)
		 size_t n);

/* da = dout and db = dout (copies; either may be dout itself, which
 * skips that copy). */
void add_backward(float *da,         // (n) =
		  float *db,         // (n) =
		  const float *dout, // (n)
		  size_t n);

/* The add and the ReLU after it as one pass each way (relu.h):
 * out = max(a + b, 0), NaN kept; da = db = 0 where out <= 0, else dout
 * (dout the ReLU's output gradient, out the forward's output). */
void add_relu_forward(float *out,      // (n)
		      const float *a,  // (n)
		      const float *b,  // (n)
		      size_t n);
void add_relu_backward(float *da,         // (n) =
		       float *db,         // (n) =
		       const float *dout, // (n)
		       const float *out,  // (n)
		       size_t n);

#endif
