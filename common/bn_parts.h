/* Batch norm's per-channel sums in parts, the GPU's formulation
 * (cuda/layers.cu): channel c's M = N·HW values (element j of the channel
 * at bn_at) split into `parts` contiguous ranges summed by separate blocks,
 * so that every multiprocessor works even when there are few channels;
 * a second step adds the parts in order and works out the channel's
 * coefficients; a third applies them element-wise. The maps and the
 * finishing arithmetic are here, shared with tests/unit/test_bn_parts.c,
 * which runs the three steps on the CPU against batchnorm2d.c. Sums are
 * in double, in a fixed order: the same bits from run to run. */
#ifndef PCQ_BN_PARTS_H
#define PCQ_BN_PARTS_H

#include "host_device.h"

#include <math.h>
#include <stddef.h>

#define BN_PARTS_MAX 64
#define BN_PART_MIN 4096     /* values a part sums at least */
#define BN_MAX_CHANNELS 4096 /* the GPU's partial-sum table */

/* How many parts channels of M values are summed in. */
static inline int bn_parts(size_t M)
{
	size_t p = (M + BN_PART_MIN - 1) / BN_PART_MIN;
	return p < 1 ? 1 : p > BN_PARTS_MAX ? BN_PARTS_MAX : (int)p;
}

/* Part p's values [*j0, *j1) of the M. */
PCQ_HOST_DEVICE static inline void bn_part_range(size_t M, int parts, int p, size_t *j0,
						 size_t *j1)
{
	const size_t chunk = (M + parts - 1) / parts;
	*j0 = (size_t)p * chunk < M ? (size_t)p * chunk : M;
	*j1 = *j0 + chunk < M ? *j0 + chunk : M;
}

/* Value j = n·HW + i of channel c in (N, C, HW). */
PCQ_HOST_DEVICE static inline size_t bn_at(size_t j, int c, int C, int HW)
{
	return (j / HW * C + c) * HW + j % HW;
}

/* Where part p of channel c keeps its two sums in the partial-sum table. */
PCQ_HOST_DEVICE static inline size_t bn_partial_at(int c, int p, int parts)
{
	return ((size_t)c * parts + p) * 2;
}

/* Channel c's two sums: its parts' sums added in order. */
PCQ_HOST_DEVICE static inline void bn_total(const double *partial, int c, int parts, double *s1,
					    double *s2)
{
	*s1 = *s2 = 0;
	for (int p = 0; p < parts; p++) {
		*s1 += partial[bn_partial_at(c, p, parts)];
		*s2 += partial[bn_partial_at(c, p, parts) + 1];
	}
}

/* The training forward's finish for one channel from s1 = Σ (x − k) and
 * s2 = Σ (x − k)², k the channel's first value (a shift against
 * cancellation, as batchnorm2d.c): the saved mean and 1/√(var + eps), the
 * running statistics (unbiased variance), and out = x·alpha + shift. */
PCQ_HOST_DEVICE static inline void bn_train_finish(double s1, double s2, double k, size_t M,
						   float gamma, float beta, float eps,
						   float momentum, float *mean, float *invstd,
						   float *running_mean, float *running_var,
						   float *alpha, float *shift)
{
	const double dm = s1 / (double)M;
	double var = s2 / (double)M - dm * dm;
	if (var < 0)
		var = 0;
	const double mu = k + dm, m = momentum;
	*mean = (float)mu;
	*invstd = (float)(1.0 / sqrt(var + eps));
	*running_mean = (float)((1 - m) * *running_mean + m * mu);
	*running_var = (float)((1 - m) * *running_var + m * var * (double)M / (double)(M - 1));
	*alpha = gamma * *invstd;
	*shift = beta - *mean * *alpha;
}

/* The backward's finish for one channel from sum_dy = Σ dout and
 * dotp = Σ (x − mean)·dout: the parameter gradients (added), and
 * din = ((dout − grad_mean) − (x − mean)·k)·w. */
PCQ_HOST_DEVICE static inline void bn_backward_finish(double sum_dy, double dotp, size_t M,
						      float invstd, float gamma, float *dgamma,
						      float *dbeta, float *k, float *grad_mean,
						      float *w)
{
	*dgamma = *dgamma + (float)(dotp * invstd);
	*dbeta = *dbeta + (float)sum_dy;
	*k = (float)(dotp * invstd * invstd / (double)M);
	*grad_mean = (float)(sum_dy / (double)M);
	*w = gamma * invstd;
}

#endif
