/* Graph op "linear": params out_features, bias (0/1), optional weight_bits
 * (fused models: fake-quantized weights, weight_fq.h); tensors weight
 * (OUT, IN) in PyTorch's layout and, with bias, bias (OUT). The input is a
 * vector (IN, 1, 1), e.g. after flatten. */
#include "ops.h"

#include "check.h"
#include "linear.h"
#include "weight_fq.h"

#include <stdlib.h>

struct linear_params {
	int out, bias;
	struct weight_fq wq;
};

static struct linear_shape shape_of(const struct node *n, int batch)
{
	const struct linear_params *p = n->p;
	return (struct linear_shape){.n = batch, .in = (int)act_numel(&n->in[0]),
				     .out = p->out};
}

static int plan(struct node *n, const struct layer *l, const char *file,
		int batch, struct op_plan *plan)
{
	struct linear_params p;
	(void)batch;
	if (op_param_int(l, file, "out_features", 1, 1 << 20, &p.out) ||
	    op_param_int(l, file, "bias", 0, 1, &p.bias) ||
	    weight_fq_plan(&p.wq, l, file))
		return -1;
	if (n->in[0].h != 1 || n->in[0].w != 1)
		return error("'%s': layer '%s': input is %dx%dx%d; linear takes a vector "
			     "(add a flatten layer)", file, l->name, n->in[0].c, n->in[0].h,
			     n->in[0].w);
	n->p = xmalloc(sizeof(p));
	*(struct linear_params *)n->p = p;
	plan->out = (struct act_shape){p.out, 1, 1};
	plan->tensors[0] = (struct op_tensor){"weight", 2, {p.out, n->in[0].c}, 1};
	plan->n_tensors = 1;
	weight_fq_alloc(&((struct linear_params *)n->p)->wq, (size_t)p.out * n->in[0].c,
			(size_t)p.out);
	if (p.bias)
		plan->tensors[plan->n_tensors++] = (struct op_tensor){"bias", 1, {p.out}, 1};
	return 0;
}

static void forward(struct node *n, const struct op_ctx *c)
{
	struct linear_shape s = shape_of(n, c->n);
	struct linear_params *p = n->p;
	const float *w = weight_fq_forward(&p->wq, n->t[0], c->training, c->float_only);
	linear_forward(n->out, c->x[0], w, p->bias ? n->t[1] : NULL, &s);
}

static void backward(struct node *n, const struct op_ctx *c, float *const *dx)
{
	struct linear_shape s = shape_of(n, c->n);
	const struct linear_params *p = n->p;
	linear_backward(dx[0], n->dt[0], p->bias ? n->dt[1] : NULL, n->dout, c->x[0],
			weight_fq_used(&p->wq, n->t[0]), &s);
}

static void free_node(struct node *n)
{
	struct linear_params *p = n->p;
	if (p)
		weight_fq_free(&p->wq);
	free(p);
}

const struct op_kind op_linear = {
	.name = "linear", .n_inputs = 1, .dx_optional = 1,
	.plan = plan, .forward = forward, .backward = backward, .free = free_node,
};
