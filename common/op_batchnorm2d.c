/* Graph op "batchnorm2d": params eps, momentum; tensors weight (C), bias
 * (C) learned, running_mean (C), running_var (C) buffers. The cache keeps
 * the batch mean and 1/std per channel for backward. With data-parallel
 * ranks the statistics are the whole batch's (bn_sync.h). */
#include "ops.h"

#include "batchnorm2d.h"
#include "check.h"

#include <stdlib.h>

struct bn_params {
	float eps, momentum;
};

static struct batchnorm2d_shape shape_of(const struct node *n, const struct op_ctx *c)
{
	const struct bn_params *p = n->p;
	return (struct batchnorm2d_shape){
		.N = c->n, .C = n->in[0].c, .H = n->in[0].h, .W = n->in[0].w,
		.eps = p->eps, .momentum = p->momentum, .blocked = n->blocked,
		.relu = n->relu_after, .share = c->training ? shard_share(c->shard_before, c->n, c->shard_after) : 0,
	};
}

static int plan(struct node *n, const struct layer *l, const char *file,
		int batch, struct op_plan *plan)
{
	struct bn_params p;
	(void)batch;
	if (op_param_float(l, file, "eps", 1e-12, 1, &p.eps) ||
	    op_param_float(l, file, "momentum", 0, 1, &p.momentum))
		return -1;
	n->p = xmalloc(sizeof(p));
	*(struct bn_params *)n->p = p;
	int C = n->in[0].c;
	plan->out = n->in[0];
	plan->tensors[0] = (struct op_tensor){"weight", 1, {C}, 1};
	plan->tensors[1] = (struct op_tensor){"bias", 1, {C}, 1};
	plan->tensors[2] = (struct op_tensor){"running_mean", 1, {C}, 0};
	plan->tensors[3] = (struct op_tensor){"running_var", 1, {C}, 0};
	plan->n_tensors = 4;
	/* mean and invstd per channel; sized per sample only so that the
	 * model's per-sample cache arithmetic covers it for any batch >= 1. */
	plan->cache_bytes_per_sample = 2 * (size_t)C * sizeof(float);
	return 0;
}

static void forward(struct node *n, const struct op_ctx *c)
{
	struct batchnorm2d_shape s = shape_of(n, c);
	float *mean = n->cache, *invstd = mean + s.C;
	if (c->training)
		batchnorm2d_forward_train(n->out, mean, invstd, c->x[0], n->t[0], n->t[1],
					  n->t[2], n->t[3], &s);
	else
		batchnorm2d_forward_eval(n->out, c->x[0], n->t[0], n->t[1], n->t[2],
					 n->t[3], &s);
}

static void backward(struct node *n, const struct op_ctx *c, float *const *dx)
{
	struct batchnorm2d_shape s = shape_of(n, c);
	const float *mean = n->cache, *invstd = mean + s.C;
	batchnorm2d_relu_backward(dx[0], n->dt[0], n->dt[1], mean, invstd, n->dout,
				  n->relu_after ? n->out : NULL, c->x[0], n->t[0], &s);
}

const struct op_kind op_batchnorm2d = {
	.name = "batchnorm2d", .n_inputs = 1,
	.plan = plan, .forward = forward, .backward = backward,
	.layout = OP_LAYOUT_KEEP, .fuses_relu = 1,
};
