/* Graph op "conv2d": params out_channels, kernel, stride, pad, bias (0/1),
 * optional weight_bits (fused models: the weights are fake-quantized,
 * weight_fq.h); tensors weight (K, C, kernel, kernel) and, with bias,
 * bias (K). */
#include "ops.h"

#include "check.h"
#include "conv2d.h"
#include "conv2d_dnnl.h"
#include "weight_fq.h"

#include <stdlib.h>

struct conv_params {
	int k, kernel, stride, pad, bias;
	struct weight_fq wq;
	int batch;                  /* the largest, from plan */
	struct conv2d_dnnl *dnnl;   /* blocked output: made on first use */
	int dnnl_backward;          /* what it was made for */
};

static struct conv2d_shape shape_of(const struct node *n, int batch)
{
	const struct conv_params *p = n->p;
	return (struct conv2d_shape){
		.n = batch, .c = n->in[0].c, .h = n->in[0].h, .w = n->in[0].w,
		.k = p->k, .kh = p->kernel, .kw = p->kernel,
		.stride = p->stride, .pad = p->pad,
	};
}

static int plan(struct node *n, const struct layer *l, const char *file,
		int batch, struct op_plan *plan)
{
	struct conv_params p;
	if (op_param_int(l, file, "out_channels", 1, 1 << 16, &p.k) ||
	    op_param_int(l, file, "kernel", 1, 64, &p.kernel) ||
	    op_param_int(l, file, "stride", 1, 64, &p.stride) ||
	    op_param_int(l, file, "pad", 0, 64, &p.pad) ||
	    op_param_int(l, file, "bias", 0, 1, &p.bias) ||
	    weight_fq_plan(&p.wq, l, file))
		return -1;
	const struct act_shape *in = &n->in[0];
	if (in->h + 2 * p.pad < p.kernel || in->w + 2 * p.pad < p.kernel)
		return error("'%s': layer '%s': a %dx%d input padded by %d is smaller "
			     "than the %dx%d kernel", file, l->name, in->h, in->w,
			     p.pad, p.kernel, p.kernel);
	p.batch = batch;
	p.dnnl = NULL;
	p.dnnl_backward = 0;
	n->p = xmalloc(sizeof(p));
	*(struct conv_params *)n->p = p;
	struct conv2d_shape s = shape_of(n, batch);
	plan->out = (struct act_shape){p.k, conv2d_out_h(&s), conv2d_out_w(&s)};
	plan->tensors[0] = (struct op_tensor){"weight", 4,
		{p.k, in->c, p.kernel, p.kernel}, 1};
	plan->n_tensors = 1;
	weight_fq_alloc(&((struct conv_params *)n->p)->wq, (size_t)p.k * in->c * p.kernel * p.kernel,
			(size_t)p.k);
	if (p.bias)
		plan->tensors[plan->n_tensors++] = (struct op_tensor){"bias", 1, {p.k}, 1};
	plan->workspace_floats = conv2d_workspace_floats(&s);
	return 0;
}

/* The oneDNN passes a blocked node needs: its input gradient only where
 * the model needs it (model.c: not for the network's input, nor for a
 * node with nothing learned at or above it). */
static int dnnl_passes(const struct node *n, int backward)
{
	return backward ? CONV2D_DNNL_DW | (n->dx_needed[0] ? CONV2D_DNNL_DIN : 0) : 0;
}

static int can_block(const struct node *n, int in_blocked)
{
	const struct conv_params *p = n->p;
	struct conv2d_shape s = shape_of(n, p->batch);
	struct conv2d_dnnl *d = conv2d_dnnl_create(&s, in_blocked, p->bias, dnnl_passes(n, 1));
	conv2d_dnnl_free(d);
	return d != NULL;
}

/* The node's oneDNN convolution, (re)made when it lacks the backward. */
static struct conv2d_dnnl *dnnl_of(struct node *n, int backward)
{
	struct conv_params *p = n->p;
	if (p->dnnl && (p->dnnl_backward || !backward))
		return p->dnnl;
	conv2d_dnnl_free(p->dnnl);
	struct conv2d_shape s = shape_of(n, p->batch);
	p->dnnl = conv2d_dnnl_create(&s, n->in_blocked[0], p->bias, dnnl_passes(n, backward));
	p->dnnl_backward = backward;
	CHECK(p->dnnl);  /* can_block said yes for this shape and layout */
	return p->dnnl;
}

static void forward(struct node *n, const struct op_ctx *c)
{
	struct conv2d_shape s = shape_of(n, c->n);
	struct conv_params *p = n->p;
	const float *w = weight_fq_forward(&p->wq, n->t[0], c->training, c->float_only);
	const float *b = p->bias ? n->t[1] : NULL;
	if (n->blocked)
		conv2d_dnnl_forward(dnnl_of(n, c->training), c->n, n->out, c->x[0], w, b);
	else
		conv2d_forward(n->out, c->workspace, c->x[0], w, b, &s);
}

static void backward(struct node *n, const struct op_ctx *c, float *const *dx)
{
	struct conv2d_shape s = shape_of(n, c->n);
	const struct conv_params *p = n->p;
	const float *w = weight_fq_used(&p->wq, n->t[0]);
	float *db = p->bias ? n->dt[1] : NULL;
	if (n->blocked)
		conv2d_dnnl_backward(dnnl_of(n, 1), c->n, dx[0], n->dt[0], db, n->dout, c->x[0], w);
	else
		conv2d_backward(dx[0], n->dt[0], db, c->workspace, n->dout, c->x[0], w, &s);
}

static void free_node(struct node *n)
{
	struct conv_params *p = n->p;
	if (p) {
		weight_fq_free(&p->wq);
		conv2d_dnnl_free(p->dnnl);
	}
	free(p);
}

const struct op_kind op_conv2d = {
	.name = "conv2d", .n_inputs = 1, .dx_optional = 1,
	.plan = plan, .forward = forward, .backward = backward, .free = free_node,
	.layout = OP_LAYOUT_MAKE, .can_block = can_block,
};
