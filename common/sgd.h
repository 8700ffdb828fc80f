/* Stochastic gradient descent with momentum and L2 weight decay, exactly
 * as torch.optim.SGD with dampening 0 and nesterov False (pytorch.org/docs/
 * stable/generated/torch.optim.SGD.html):
 *   g ← g + wd·w;  v ← μ·v + g;  w ← w − lr·v.
 * PyTorch sets v = g on the first step; with v zeroed before the first
 * step the formula above gives the same bits (μ·0 + g = g). With μ = 0
 * the velocity buffer is not touched (it may be NULL). Operates on flat
 * float arrays (a model's parameter slab); OpenMP over fixed chunks. */
#ifndef PCQ_SGD_H
#define PCQ_SGD_H

#include <stddef.h>

struct sgd_params {
	float lr;
	float momentum;       /* μ, 0.9 in SPEC §5 */
	float weight_decay;   /* wd, 1e-4 in SPEC §5 */
};

/* One step: updates w and v in place; g is only read. */
void sgd_step(float *w,              // (n) parameters
	      float *v,              // (n) velocity, zeroed before step 1
	      const float *g,        // (n) gradients dLoss/dw
	      const struct sgd_params *p,
	      size_t n);

#endif
