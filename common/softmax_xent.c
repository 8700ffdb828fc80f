/* Softmax cross-entropy loss and its gradient (see softmax_xent.h), with
 * log-sum-exp in double as PyTorch's log_softmax accumulates. */
#include "softmax_xent.h"

#include "check.h"

#include <math.h>
#include <stddef.h>

double softmax_xent(float *dlogits, int *n_correct, const float *logits,
		    const int32_t *labels, const struct softmax_xent_shape *s)
{
	CHECK(s->N > 0 && s->classes > 0);
	const int K = s->classes;
	double total = 0;
	int correct = 0;
	for (int n = 0; n < s->N; n++) {
		const float *z = logits + (size_t)n * K;
		const int y = labels[n];
		CHECK(y >= 0 && y < K);
		int best = 0;
		for (int k = 1; k < K; k++)
			if (z[k] > z[best])
				best = k;
		correct += best == y;
		const double zmax = z[best];
		double sum = 0;
		for (int k = 0; k < K; k++)
			sum += exp((double)z[k] - zmax);
		const double lse = log(sum);
		total += lse - ((double)z[y] - zmax);
		if (dlogits) {
			float *dz = dlogits + (size_t)n * K;
			const double inv_n = 1.0 / s->N;
			for (int k = 0; k < K; k++)
				dz[k] = (float)((exp((double)z[k] - zmax - lse) -
						 (k == y)) * inv_n);
		}
	}
	if (n_correct)
		*n_correct = correct;
	return total / s->N;
}
