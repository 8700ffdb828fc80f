/* Parameter initialisation as PyTorch and SPEC §4, drawing from the
 * caller's rng (STYLE.md 9):
 *   - conv weights (K, C, kh, kw): Kaiming normal, mode fan_out, ReLU gain
 *     (torch.nn.init.kaiming_normal_(w, mode='fan_out',
 *     nonlinearity='relu'), as torchvision's ResNet): N(0, 2/fan_out),
 *     fan_out = K·kh·kw;
 *   - PyTorch's default for Linear and Conv2d (reset_parameters():
 *     kaiming_uniform_(w, a=√5) and a uniform bias), which both reduce to
 *     U(−1/√fan_in, 1/√fan_in), fan_in = in_features or C·kh·kw;
 *   - BatchNorm2d: γ = 1, β = 0, running mean 0, running var 1.
 * Values are drawn serially in index order: a seed gives the same weights
 * on every machine. */
#ifndef PCQ_INIT_H
#define PCQ_INIT_H

#include "rng.h"

#include <stddef.h>

/* w ~ N(0, 2/fan_out); n = K·C·kh·kw, fan_out = K·kh·kw. */
void init_kaiming_normal_fan_out(float *w,   // (K, C, kh, kw)
				 size_t n, size_t fan_out, struct rng *r);

/* x ~ U(−1/√fan_in, 1/√fan_in): Linear weights (out, in) and biases (out)
 * with fan_in = in; Conv2d weights and biases with fan_in = C·kh·kw. */
void init_uniform_fan_in(float *x,   // (n)
			 size_t n, size_t fan_in, struct rng *r);

/* γ = 1, β = 0, running_mean = 0, running_var = 1 (no draws). */
void init_batchnorm2d(float *gamma,          // (C)
		      float *beta,           // (C)
		      float *running_mean,   // (C)
		      float *running_var,    // (C)
		      int C);

#endif
