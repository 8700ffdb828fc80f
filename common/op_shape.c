/* Graph ops that move or mask values without learning: "flatten"
 * ((C, H, W) -> (C·H·W, 1, 1), same memory order), "dropout" (param p;
 * identity in eval mode) and "add" (two inputs of one shape: a residual
 * edge). */
#include "ops.h"

#include "add.h"
#include "check.h"
#include "dropout.h"

#include <stdint.h>
#include <string.h>

static int plan_flatten(struct node *n, const struct layer *l, const char *file,
			int batch, struct op_plan *plan)
{
	(void)l, (void)file, (void)batch;
	plan->out = (struct act_shape){(int)act_numel(&n->in[0]), 1, 1};
	return 0;
}

static void forward_flatten(struct node *n, const struct op_ctx *c)
{
	memcpy(n->out, c->x[0], (size_t)c->n * act_numel(&n->out_shape) * sizeof(float));
}

static void backward_flatten(struct node *n, const struct op_ctx *c, float *const *dx)
{
	memcpy(dx[0], n->dout, (size_t)c->n * act_numel(&n->out_shape) * sizeof(float));
}

const struct op_kind op_flatten = {
	.name = "flatten", .n_inputs = 1,
	.plan = plan_flatten, .forward = forward_flatten, .backward = backward_flatten,
};

static int plan_dropout(struct node *n, const struct layer *l, const char *file,
			int batch, struct op_plan *plan)
{
	float p;
	(void)batch;
	if (op_param_float(l, file, "p", 0, 0.999, &p))
		return -1;
	n->p = xmalloc(sizeof(float));
	*(float *)n->p = p;
	plan->out = n->in[0];
	plan->cache_bytes_per_sample = act_numel(&n->in[0]);  /* uint8 mask */
	return 0;
}

static void forward_dropout(struct node *n, const struct op_ctx *c)
{
	size_t per = act_numel(&n->out_shape), count = (size_t)c->n * per;
	if (c->training) {
		rng_skip(c->rng, (size_t)c->shard_before * per);
		dropout_forward_train(n->out, n->cache, c->x[0], *(float *)n->p, c->rng, count);
		rng_skip(c->rng, (size_t)c->shard_after * per);
	} else
		dropout_forward_eval(n->out, c->x[0], count);
}

static void backward_dropout(struct node *n, const struct op_ctx *c, float *const *dx)
{
	dropout_backward(dx[0], n->cache, n->dout, *(float *)n->p,
			 (size_t)c->n * act_numel(&n->out_shape));
}

const struct op_kind op_dropout = {
	.name = "dropout", .n_inputs = 1,
	.plan = plan_dropout, .forward = forward_dropout, .backward = backward_dropout,
};

static int plan_add(struct node *n, const struct layer *l, const char *file,
		    int batch, struct op_plan *plan)
{
	(void)batch;
	const struct act_shape *a = &n->in[0], *b = &n->in[1];
	if (a->c != b->c || a->h != b->h || a->w != b->w)
		return error("'%s': layer '%s': inputs of shapes %dx%dx%d and %dx%dx%d "
			     "cannot be added", file, l->name, a->c, a->h, a->w, b->c,
			     b->h, b->w);
	plan->out = *a;
	return 0;
}

static void forward_add(struct node *n, const struct op_ctx *c)
{
	const size_t count = (size_t)c->n * act_numel(&n->out_shape);
	if (n->relu_after)
		add_relu_forward(n->out, c->x[0], c->x[1], count);
	else
		add_forward(n->out, c->x[0], c->x[1], count);
}

static void backward_add(struct node *n, const struct op_ctx *c, float *const *dx)
{
	const size_t count = (size_t)c->n * act_numel(&n->out_shape);
	if (n->relu_after)
		add_relu_backward(dx[0], dx[1], n->dout, n->out, count);
	else
		add_backward(dx[0], dx[1], n->dout, count);
}

const struct op_kind op_add = {
	.name = "add", .n_inputs = 2, .layout = OP_LAYOUT_KEEP, .fuses_relu = 1,
	.plan = plan_add, .forward = forward_add, .backward = backward_add,
};
