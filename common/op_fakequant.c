/* Graph op "fakequant": a quantization point of a fused model (SPEC §7).
 * params bits (2..16; above 8 where only residual adds read it), clusters
 * (K >= 1), smooth (EMA factor in [0, 1]);
 * tensors range (K, 2) — each cluster's (min, max) — and batches (K), how
 * many training batches have updated each range (0: never calibrated).
 * Both are buffers, written by training and read at inference.
 *
 * Training: each cluster run of the batch (op_ctx.groups) updates its own
 * range from its (min, max), then is fake-quantized with that range; a
 * cluster absent from the batch is untouched. Eval: the stored ranges are
 * used as they are; a cluster never calibrated passes unchanged (pcq-infer
 * refuses such a model unless asked for float). Backward: the straight-
 * through estimator, zero where the forward saturated. Never in place:
 * the ReLU before it computes its gradient from its own output. */
#include "ops.h"

#include "check.h"
#include "fakequant.h"

#include <string.h>

struct fq_params {
	int bits, clusters;
	float smooth;
};

static int plan(struct node *n, const struct layer *l, const char *file,
		int batch, struct op_plan *plan)
{
	(void)batch;
	struct fq_params p;
	if (op_param_int(l, file, "bits", FQ_MIN_BITS, FQ_MAX_ACT_BITS, &p.bits) ||
	    op_param_int(l, file, "clusters", 1, 65536, &p.clusters) ||
	    op_param_float(l, file, "smooth", 0, 1, &p.smooth))
		return -1;
	n->p = xmalloc(sizeof(p));
	*(struct fq_params *)n->p = p;
	plan->out = n->in[0];
	plan->tensors[0] = (struct op_tensor){"range", 2, {p.clusters, 2}, 0};
	plan->tensors[1] = (struct op_tensor){"batches", 1, {p.clusters}, 0};
	plan->n_tensors = 2;
	plan->cache_bytes_per_sample = act_numel(&n->in[0]);  /* the gradient mask */
	return 0;
}

static void forward(struct node *n, const struct op_ctx *c)
{
	const struct fq_params *p = n->p;
	size_t per = act_numel(&n->out_shape), start = 0;
	float *range = n->t[0], *batches = n->t[1];
	struct kmeans_group whole = {0, (size_t)c->n};
	const struct kmeans_group *g = c->n_groups ? c->groups : &whole;
	size_t n_groups = c->n_groups ? c->n_groups : 1;
	const int relu = n->relu_before;   /* x is the ReLU's input (model.c) */
	if (c->float_only) {
		const size_t count = (size_t)c->n * per;
		if (relu) {
			fakequant_relu_forward(n->out, c->training ? n->cache : NULL, c->x[0], count,
					       NULL);
			return;
		}
		memcpy(n->out, c->x[0], count * sizeof(float));
		memset(n->cache, 1, c->training ? count : 0);
		return;
	}
	for (size_t i = 0; i < n_groups; i++) {
		int k = g[i].cluster;
		CHECK(k >= 0 && k < p->clusters);
		size_t off = start * per, len = g[i].count * per;
		const float *x = c->x[0] + off;
		float *r = range + 2 * k;
		uint8_t *mask = c->training ? (uint8_t *)n->cache + off : NULL;
		if (c->training) {
			float lo, hi;
			if (relu)
				range_relu_of(x, len, &lo, &hi);
			else
				range_of(x, len, &lo, &hi);
			range_update(r, &batches[k], lo, hi, p->smooth);
		}
		if (batches[k] > 0) {
			struct qparams q = qparams_from_range(r[0], r[1], p->bits);
			if (relu)
				fakequant_relu_forward(n->out + off, mask, x, len, &q);
			else
				fakequant_forward(n->out + off, mask, x, len, &q);
		} else if (relu) {
			fakequant_relu_forward(n->out + off, NULL, x, len, NULL);
		} else {
			memcpy(n->out + off, x, len * sizeof(float));
		}
		start += g[i].count;
	}
	CHECK(start == (size_t)c->n);
}

static void backward(struct node *n, const struct op_ctx *c, float *const *dx)
{
	if (dx[0])
		fakequant_backward(dx[0], n->dout, n->cache,
				   (size_t)c->n * act_numel(&n->out_shape));
}

const struct op_kind op_fakequant = {
	.name = "fakequant", .n_inputs = 1, .dx_optional = 1, .fuses_relu_before = 1,
	.layout = OP_LAYOUT_KEEP,  /* per sample: any layout */
	.plan = plan, .forward = forward, .backward = backward,
};
