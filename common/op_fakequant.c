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
#include "dist.h"
#include "fakequant.h"

#include <math.h>
#include <stdlib.h>
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

/* Training: each cluster run (one per cluster) moves its cluster's range
 * towards the run's (min, max). With data-parallel ranks (dist.h) the
 * (min, max) are first taken over every rank's share of the batch, so all
 * ranks update as one process would with the whole batch. */
static void update_ranges(const struct fq_params *p, float *range, float *batches,
			  const float *x, size_t per, const struct kmeans_group *g,
			  size_t n_groups, int relu)
{
	const int ranks = dist_size() > 1;
	float *lo = ranks ? xmalloc(2 * (size_t)p->clusters * sizeof(float)) : NULL;
	float *hi = ranks ? lo + p->clusters : NULL;
	for (int k = 0; ranks && k < p->clusters; k++)
		lo[k] = INFINITY, hi[k] = -INFINITY;   /* absent from this share */
	size_t start = 0;
	for (size_t i = 0; i < n_groups; i++) {
		const int k = g[i].cluster;
		CHECK(k >= 0 && k < p->clusters);
		const float *xk = x + start * per;
		const size_t len = g[i].count * per;
		start += g[i].count;
		if (!len)
			continue;
		float l, h;
		if (relu)
			range_relu_of(xk, len, &l, &h);
		else
			range_of(xk, len, &l, &h);
		if (ranks)
			lo[k] = l, hi[k] = h;
		else
			range_update(range + 2 * k, &batches[k], l, h, p->smooth);
	}
	if (!ranks)
		return;
	dist_min_max(lo, hi, (size_t)p->clusters);
	for (int k = 0; k < p->clusters; k++)
		if (lo[k] <= hi[k])
			range_update(range + 2 * k, &batches[k], lo[k], hi[k], p->smooth);
	free(lo);
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
	if (c->training)
		update_ranges(p, range, batches, c->x[0], per, g, n_groups, relu);
	for (size_t i = 0; i < n_groups; i++) {
		int k = g[i].cluster;
		CHECK(k >= 0 && k < p->clusters);
		size_t off = start * per, len = g[i].count * per;
		const float *x = c->x[0] + off;
		float *r = range + 2 * k;
		uint8_t *mask = c->training ? (uint8_t *)n->cache + off : NULL;
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
