/* One SGD step (see sgd.h), in float as PyTorch's _single_tensor_sgd:
 * d_p = g.add(w, alpha=wd); buf.mul_(μ).add_(d_p); w.add_(buf, alpha=−lr). */
#include "sgd.h"

#include "check.h"

#define SGD_PARALLEL_MIN 32768

void sgd_step(float *w, float *v, const float *g, const struct sgd_params *p,
	      size_t n)
{
	const float lr = p->lr, mu = p->momentum, wd = p->weight_decay;
	CHECK(lr >= 0 && mu >= 0 && wd >= 0);
	if (mu == 0) {
#pragma omp parallel for simd schedule(static) if (n >= SGD_PARALLEL_MIN)
		for (size_t i = 0; i < n; i++)
			w[i] -= lr * (g[i] + wd * w[i]);
		return;
	}
#pragma omp parallel for simd schedule(static) if (n >= SGD_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		float d = g[i] + wd * w[i];
		v[i] = mu * v[i] + d;
		w[i] -= lr * v[i];
	}
}
