/* Graph ops "maxpool2d" and "avgpool2d" (params kernel, stride, pad) and
 * "global_avgpool2d" (adaptive average pool to 1x1, output (C, 1, 1)). */
#include "ops.h"

#include "avgpool2d.h"
#include "check.h"
#include "maxpool2d.h"

#include <stdint.h>

struct pool_params {
	int kernel, stride, pad;
};

static int plan_window(struct node *n, const struct layer *l, const char *file)
{
	struct pool_params p;
	if (op_param_int(l, file, "kernel", 1, 64, &p.kernel) ||
	    op_param_int(l, file, "stride", 1, 64, &p.stride) ||
	    op_param_int(l, file, "pad", 0, 32, &p.pad))
		return -1;
	if (p.pad > p.kernel / 2)
		return error("'%s': layer '%s': pad %d is more than half the kernel %d",
			     file, l->name, p.pad, p.kernel);
	if (n->in[0].h + 2 * p.pad < p.kernel || n->in[0].w + 2 * p.pad < p.kernel)
		return error("'%s': layer '%s': a %dx%d input is smaller than the %dx%d window",
			     file, l->name, n->in[0].h, n->in[0].w, p.kernel, p.kernel);
	n->p = xmalloc(sizeof(p));
	*(struct pool_params *)n->p = p;
	return 0;
}

static struct maxpool2d_shape max_shape(const struct node *n, int batch)
{
	const struct pool_params *p = n->p;
	return (struct maxpool2d_shape){
		.N = batch, .C = n->in[0].c, .H = n->in[0].h, .W = n->in[0].w,
		.kernel = p->kernel, .stride = p->stride, .pad = p->pad,
		.blocked = n->blocked,
	};
}

static struct avgpool2d_shape avg_shape(const struct node *n, int batch)
{
	const struct pool_params *p = n->p;
	return (struct avgpool2d_shape){
		.N = batch, .C = n->in[0].c, .H = n->in[0].h, .W = n->in[0].w,
		.kernel = p ? p->kernel : 0, .stride = p ? p->stride : 0,
		.pad = p ? p->pad : 0, .blocked = n->in_blocked[0],
	};
}

static int plan_max(struct node *n, const struct layer *l, const char *file,
		    int batch, struct op_plan *plan)
{
	(void)batch;
	if (plan_window(n, l, file))
		return -1;
	struct maxpool2d_shape s = max_shape(n, 1);
	plan->out = (struct act_shape){s.C, maxpool2d_out_h(&s), maxpool2d_out_w(&s)};
	plan->cache_bytes_per_sample = act_numel(&plan->out) * sizeof(int32_t);
	return 0;
}

static void forward_max(struct node *n, const struct op_ctx *c)
{
	struct maxpool2d_shape s = max_shape(n, c->n);
	maxpool2d_forward(n->out, n->cache, c->x[0], &s);
}

static void backward_max(struct node *n, const struct op_ctx *c, float *const *dx)
{
	struct maxpool2d_shape s = max_shape(n, c->n);
	maxpool2d_backward(dx[0], n->cache, n->dout, &s);
}

const struct op_kind op_maxpool2d = {
	.name = "maxpool2d", .n_inputs = 1, .layout = OP_LAYOUT_KEEP,
	.plan = plan_max, .forward = forward_max, .backward = backward_max,
};

static int plan_avg(struct node *n, const struct layer *l, const char *file,
		    int batch, struct op_plan *plan)
{
	(void)batch;
	if (plan_window(n, l, file))
		return -1;
	struct avgpool2d_shape s = avg_shape(n, 1);
	plan->out = (struct act_shape){s.C, avgpool2d_out_h(&s), avgpool2d_out_w(&s)};
	return 0;
}

static void forward_avg(struct node *n, const struct op_ctx *c)
{
	struct avgpool2d_shape s = avg_shape(n, c->n);
	avgpool2d_forward(n->out, c->x[0], &s);
}

static void backward_avg(struct node *n, const struct op_ctx *c, float *const *dx)
{
	struct avgpool2d_shape s = avg_shape(n, c->n);
	avgpool2d_backward(dx[0], n->dout, &s);
}

const struct op_kind op_avgpool2d = {
	.name = "avgpool2d", .n_inputs = 1,
	.plan = plan_avg, .forward = forward_avg, .backward = backward_avg,
};

static int plan_global(struct node *n, const struct layer *l, const char *file,
		       int batch, struct op_plan *plan)
{
	(void)l, (void)file, (void)batch;
	plan->out = (struct act_shape){n->in[0].c, 1, 1};
	return 0;
}

static void forward_global(struct node *n, const struct op_ctx *c)
{
	struct avgpool2d_shape s = avg_shape(n, c->n);
	avgpool2d_global_forward(n->out, c->x[0], &s);
}

static void backward_global(struct node *n, const struct op_ctx *c, float *const *dx)
{
	struct avgpool2d_shape s = avg_shape(n, c->n);
	avgpool2d_global_backward(dx[0], n->dout, &s);
}

const struct op_kind op_global_avgpool2d = {
	.name = "global_avgpool2d", .n_inputs = 1, .layout = OP_LAYOUT_END,
	.plan = plan_global, .forward = forward_global, .backward = backward_global,
};
