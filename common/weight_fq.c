/* Fake-quantized layer weights; see weight_fq.h. */
#include "weight_fq.h"

#include "check.h"
#include "fakequant.h"
#include "ops.h"

#include <stdlib.h>

int weight_fq_plan(struct weight_fq *q, const struct layer *l, const char *file)
{
	*q = (struct weight_fq){0};
	if (op_param_int_opt(l, file, "weight_bits", 0, FQ_MAX_BITS, 0, &q->bits))
		return -1;
	if (q->bits == 1)
		return error("'%s': layer '%s': 'weight_bits' is 1, expected 0 (float) or %d..%d",
			     file, l->name, FQ_MIN_BITS, FQ_MAX_BITS);
	return 0;
}

void weight_fq_alloc(struct weight_fq *q, size_t numel)
{
	if (!q->bits)
		return;
	q->numel = numel;
	q->copy = xmalloc(numel * sizeof(float));
}

const float *weight_fq_forward(struct weight_fq *q, const float *w, int training,
			       int float_only)
{
	q->last = w;
	if (!q->bits || float_only)
		return w;
	if (training || !q->fresh) {
		float lo, hi;
		range_of(w, q->numel, &lo, &hi);
		struct qparams p = qparams_from_range(lo, hi, q->bits);
		fakequant_forward(q->copy, NULL, w, q->numel, &p);
	}
	q->fresh = !training;
	q->last = q->copy;
	return q->copy;
}

const float *weight_fq_used(const struct weight_fq *q, const float *w)
{
	return q->last ? q->last : w;
}

void weight_fq_free(struct weight_fq *q)
{
	free(q->copy);
	q->copy = NULL;
}
