/* Initialisers (see init.h). The uniform bound follows PyTorch's
 * torch/nn/init.py: kaiming_uniform_ with a = √5 has gain √(2/(1 + a²)) =
 * √(1/3) and bound √3·gain/√fan_in = 1/√fan_in. */
#include "init.h"

#include "check.h"

#include <math.h>

void init_kaiming_normal_fan_out(float *w, size_t n, size_t fan_out, struct rng *r)
{
	CHECK(fan_out > 0);
	const float std = (float)sqrt(2.0 / (double)fan_out);
	for (size_t i = 0; i < n; i++)
		w[i] = std * rng_normal(r);
}

void init_uniform_fan_in(float *x, size_t n, size_t fan_in, struct rng *r)
{
	CHECK(fan_in > 0);
	const float bound = (float)(1.0 / sqrt((double)fan_in));
	for (size_t i = 0; i < n; i++)
		x[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
}

void init_batchnorm2d(float *gamma, float *beta, float *running_mean,
		      float *running_var, int C)
{
	for (int c = 0; c < C; c++) {
		gamma[c] = 1;
		beta[c] = 0;
		running_mean[c] = 0;
		running_var[c] = 1;
	}
}
