/* Graph op "relu": no params. Runs in place when the model allows it;
 * backward uses the output (x > 0 exactly where out > 0). */
#include "ops.h"

#include "relu.h"

static int plan(struct node *n, const struct layer *l, const char *file,
		int batch, struct op_plan *plan)
{
	(void)l, (void)file, (void)batch;
	plan->out = n->in[0];
	plan->in_place = 1;
	return 0;
}

static void forward(struct node *n, const struct op_ctx *c)
{
	relu_forward(n->out, c->x[0], (size_t)c->n * act_numel(&n->out_shape));
}

static void backward(struct node *n, const struct op_ctx *c, float *const *dx)
{
	relu_backward(dx[0], n->dout, n->out, (size_t)c->n * act_numel(&n->out_shape));
}

const struct op_kind op_relu = {
	.name = "relu", .n_inputs = 1, .layout = OP_LAYOUT_KEEP,
	.plan = plan, .forward = forward, .backward = backward,
};
