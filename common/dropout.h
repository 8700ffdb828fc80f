/* Dropout, as torch.nn.Dropout (pytorch.org/docs/stable/generated/
 * torch.nn.Dropout.html; Srivastava et al. 2014 with inverted scaling):
 * in training each element is kept with probability 1 − p and scaled by
 * 1/(1 − p), else zeroed; in eval it is the identity. The mask comes from
 * the caller's rng, drawn serially in index order, so a seed gives the
 * same mask whatever the number of threads. p = 1 zeroes everything.
 * Gradients: din is overwritten (=). */
#ifndef PCQ_DROPOUT_H
#define PCQ_DROPOUT_H

#include "rng.h"

#include <stddef.h>
#include <stdint.h>

/* Training mode; mask[i] = 1 where element i was kept. out may be in. */
/* The keep mask forward_train draws (1: kept), and its scale 1/(1 − p)
 * (0 for p = 1): for a device that applies them (model_device.c). */
void dropout_mask(uint8_t *mask, float p, struct rng *r, size_t n);
float dropout_keep_scale(float p);
/* For p < 1: element i is kept when its draw is >= this (a device drawing
 * the mask itself, devops.h dropout_mask; p = 1 draws nothing). */
uint64_t dropout_threshold(float p);

void dropout_forward_train(float *out,       // (n)
			   uint8_t *mask,    // (n) saved
			   const float *in,  // (n)
			   float p,          // drop probability in [0, 1]
			   struct rng *r,
			   size_t n);

/* Eval mode: out = in (a copy unless out is in). */
void dropout_forward_eval(float *out, const float *in, size_t n);

/* din = dout·mask/(1 − p); din may be dout. */
void dropout_backward(float *din,           // (n) =
		      const uint8_t *mask,  // (n) from forward_train
		      const float *dout,    // (n)
		      float p,
		      size_t n);

#endif
