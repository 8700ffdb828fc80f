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
	return op_param_int_opt(l, file, "weight_per_channel", 0, 1, 0, &q->per_channel) ||
	       op_param_int_opt(l, file, "weight_symmetric", 0, 1, 0, &q->symmetric) ? -1 : 0;
}

void weight_fq_alloc(struct weight_fq *q, size_t numel, size_t channels)
{
	if (!q->bits)
		return;
	q->numel = numel;
	q->channels = channels;
	q->copy = xmalloc(numel * sizeof(float));
}

void weight_fq_apply(float *out, const float *w, size_t channels, size_t per, int bits,
		     int per_channel)
{
	size_t parts = per_channel ? channels : 1, n = per_channel ? per : channels * per;
	for (size_t c = 0; c < parts; c++) {
		float lo, hi;
		range_of(w + c * n, n, &lo, &hi);
		struct qparams p = qparams_from_range(lo, hi, bits);
		fakequant_forward(out + c * n, NULL, w + c * n, n, &p);
	}
}

const float *weight_fq_forward(struct weight_fq *q, const float *w, int training,
			       int float_only)
{
	q->last = w;
	if (!q->bits || float_only)
		return w;
	if (training || !q->fresh)
		weight_fq_apply(q->copy, w, q->channels, q->numel / q->channels,
				q->bits | (q->symmetric ? FQ_SYMMETRIC : 0), q->per_channel);
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
