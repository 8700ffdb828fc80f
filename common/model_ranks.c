/* The model's part in data-parallel training; see model.h and dist.h. */
#include "model.h"

#include "check.h"
#include "dist.h"
#include "model_device.h"


void model_sum_grads(struct model *m, int share, int total)
{
	CHECK(share >= 1 && share <= total && m->grads);
	const float scale = (float)share / (float)total;
	if (m->dev) {
		model_device_sum_grads(m, scale);
		return;
	}
	for (size_t i = 0; i < m->n_params; i++)
		m->grads[i] *= scale;
	dist_sum_floats(m->grads, m->n_params);
}
