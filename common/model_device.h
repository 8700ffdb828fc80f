/* model.h's passes on a device (model_device.c); model.c and model_run.c
 * call these when the model has been moved with model_use_device. */
#ifndef PCQ_MODEL_DEVICE_H
#define PCQ_MODEL_DEVICE_H

#include "devops.h"
#include "model.h"

int model_device_init(struct model *m, const struct pcqfile *f, const char *file,
		      const struct devops *ops);
void model_device_free(struct model *m);
/* The device the model is on. */
const struct devops *model_device_ops(const struct model *m);
/* fetch 0: the logits stay on the device (returns NULL). */
const float *model_device_forward(struct model *m, const float *x, int n, int training,
				  struct rng *rng, int fetch);
double model_device_loss(struct model *m, const int32_t *labels, int n, int *n_correct);
/* dlogits NULL: model_device_loss's gradient, already in place. */
void model_device_backward(struct model *m, const float *dlogits, int n);
void model_device_zero_grads(struct model *m);
void model_device_sgd_step(struct model *m, const struct sgd_params *p);
void model_device_sync_host(struct model *m);
/* model_sum_grads (model_ranks.c) on the device: through the host. */
void model_device_sum_grads(struct model *m, float scale);

#endif
