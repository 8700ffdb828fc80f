/* A model at run time: the graph of a model file (docs/FORMAT.md §graph)
 * planned into nodes (ops.h) with every buffer carved from a few slabs
 * (STYLE.md 8): learned tensors, their gradients and SGD velocities, the
 * buffers (running statistics), activations, gradient slots and caches. */
#ifndef PCQ_MODEL_H
#define PCQ_MODEL_H

#include "ops.h"
#include "pcqfile.h"
#include "rng.h"
#include "sgd.h"

#include <stddef.h>
#include <stdio.h>

/* One file tensor as the model holds it. */
struct model_tensor {
	char *name;              /* "<layer>.<suffix>", owned */
	int ndim;
	int64_t shape[4];
	size_t numel;
	int learned;
	float *data;             /* in the params or buffers slab */
	float *grad;             /* learned only: in the grads slab */
	float *velocity;         /* learned only: in the velocity slab */
};

struct model {
	const char *file;        /* for messages (alias, owned by the caller) */
	int batch;               /* the largest batch forward/backward take */
	struct act_shape input;  /* one sample, from attrs "input_shape" */
	int classes;             /* the last node's output is (classes, 1, 1) */
	int clusters;            /* K of its fakequant layers; 1 without any */
	int quantized_points;    /* how many fakequant layers */

	/* The next forward's batch as cluster runs (cluster_groups.h); NULL:
	 * the whole batch is cluster 0. Set by the caller. */
	const struct kmeans_group *groups;
	size_t n_groups;
	int float_only;          /* skip all fake quantization (pcq-infer --float) */
	/* Data-parallel training (dist.h): images of the whole batch that
	 * other ranks run before and after this rank's share; dropout skips
	 * their draws so each image gets the mask one process would draw. */
	int shard_before, shard_after;

	struct node *nodes;      /* [n_nodes] in execution order */
	int n_nodes;
	struct model_tensor *tensors;  /* [n_tensors], in node order */
	int n_tensors;

	float *params, *grads, *velocity;  /* [n_params] each: learned slab */
	size_t n_params;
	float *buffers;          /* [n_buffers] running statistics */
	size_t n_buffers;

	float *acts;             /* activation slab (outputs, in-place shared) */
	float *grad_slots;       /* [n_slots · slot_floats] gradient slots */
	int n_slots;
	size_t slot_floats;
	float *scratch;          /* [OP_MAX_INPUTS · slot_floats] gradients to add in */
	float *workspace;        /* shared by all ops (im2col) */
	size_t workspace_floats;
	void *caches;            /* per-node saved data for backward */
	int *consumers;          /* [n_nodes] how many nodes read each output */
	double *profile;         /* [2 · n_nodes] forward, backward seconds, or NULL */
	unsigned char *written;  /* [n_nodes] backward bookkeeping */
	struct model_device *dev; /* NULL: on the CPU; else model_use_device's */
};

/* The node whose output node n reads as its input i: inputs[i], or the
 * input of the ReLU fused into n (node.relu_before); -1 is the network's
 * input. */
static inline int model_input(const struct model *m, const struct node *n, int i)
{
	const int src = n->inputs[i];
	return i == 0 && n->relu_before ? m->nodes[src].inputs[0] : src;
}

/* Plans f's graph for batches of up to `batch` samples and copies its
 * tensors in. Checks every layer (op, params, shapes, tensor dtypes and
 * shapes) and fails with one line naming `file`. Without `training` only
 * the forward pass in eval mode may be used (no gradient memory). */
int model_init(struct model *m, const struct pcqfile *f, const char *file, int batch,
	       int training);
void model_free(struct model *m);

/* x: (n, C, H, W) normalised input, n <= batch. Returns the logits
 * (n, classes), valid until the next forward. */
const float *model_forward(struct model *m, const float *x, int n, int training,
			   struct rng *rng);
/* The same pass, its logits left where the model runs (on a device they
 * do not come down): for model_loss. */
void model_run_forward(struct model *m, const float *x, int n, int training, struct rng *rng);
/* The softmax cross-entropy of the last forward's logits against labels
 * (softmax_xent.h): returns the batch mean, sets *n_correct (may be NULL)
 * and keeps the loss gradient for model_backward with dlogits NULL. On a
 * device it is computed there: the labels go up, each image's loss and
 * hit come down. A model planned for training only. */
double model_loss(struct model *m, const int32_t *labels, int n, int *n_correct);
/* After a training forward of the same x: accumulates all learned
 * gradients (+=) from dlogits (n, classes), or with dlogits NULL from
 * model_loss's gradient. */
void model_backward(struct model *m, const float *x, const float *dlogits, int n);
void model_zero_grads(struct model *m);

struct devops;
/* Moves training and inference to ops's device (model_device.c): the
 * forward, backward, zero_grads and sgd_step below then run there, from
 * and to host batches and logits. f: the file the model was planned
 * from. Fails with one line naming `file` for an op the device cannot run
 * yet. The host's tensor slabs are stale until model_sync_host. */
int model_use_device(struct model *m, const struct pcqfile *f, const char *file,
		     const struct devops *ops);
/* One SGD step of every learned tensor (sgd.h), where the model runs. */
void model_sgd_step(struct model *m, const struct sgd_params *p);
/* Brings the tensors, velocities, gradients and running statistics back
 * to the host slabs (no-op on the CPU): before writing or storing them. */
void model_sync_host(struct model *m);

/* Data-parallel training (dist.h, model_ranks.c): after the backward of
 * this rank's share of `share` images out of a batch of `total`, every
 * rank's gradients become the whole batch's (each share's mean gradient
 * weighted by share / total, summed over the ranks). A collective: every
 * rank calls it at the same point. (Batch norm takes the whole batch's
 * statistics itself, bn_sync.h, so the ranks' running statistics agree.) */
void model_sum_grads(struct model *m, int share, int total);

/* Copies the model's tensors back into f (which must hold them all: the
 * file it was made from). */
void model_store(const struct model *m, struct pcqfile *f);

/* The only node that reads node j's output, or -1 (none, or several). */
int model_only_consumer(const struct model *m, int j);
/* Whether node j runs `op` (j < 0, the network input, runs none). */
int model_node_is(const struct model *m, int j, const char *op);

/* The first batch norm whose input is 1x1 per channel (NULL: none): in
 * training, a batch of one image gives it a single value per channel to
 * take statistics from, which PyTorch refuses and batchnorm2d.c CHECKs. */
const char *model_batch_norm_1x1(const struct model *m);

/* The first fakequant layer with a cluster whose range was never
 * calibrated: its node index and the cluster; -1 when all are. */
int model_uncalibrated(const struct model *m, int *cluster);

const struct model_tensor *model_find_tensor(const struct model *m, const char *name);

/* Time every node from now on; model_profile_print lists the totals. */
void model_profile_start(struct model *m);
void model_profile_print(const struct model *m, FILE *fp);

#endif
