/* Fake-quantized weights of a conv2d or linear layer in a fused model
 * (SPEC §7): the param "weight_bits" (absent or 0: plain float weights).
 * The float master weights stay in the model and are what SGD updates;
 * the forward pass and the input gradient use a quantize-dequantize copy
 * with the per-tensor range (min w, max w) — or, with the param
 * "weight_per_channel" = 1, each output channel's own (min, max); with
 * "weight_symmetric" = 1 on fakequant.h's symmetric grid — and the
 * weight gradient goes to the master weights unchanged (the
 * straight-through estimator; the range spans every weight, so nothing
 * saturates). A layer's weights are (channels, ...) with each output
 * channel's contiguous. */
#ifndef PCQ_WEIGHT_FQ_H
#define PCQ_WEIGHT_FQ_H

#include "pcqfile.h"

#include <stddef.h>

struct weight_fq {
	int bits;          /* 0: off */
	int per_channel;   /* 1: a range per output channel */
	int symmetric;     /* 1: the symmetric grid */
	size_t channels;   /* output channels */
	float *copy;       /* [numel] the fake-quantized weights */
	size_t numel;
	int fresh;         /* copy matches the master weights (eval only) */
	const float *last; /* what the last forward used */
};

/* Reads the optional "weight_bits", "weight_per_channel" and
 * "weight_symmetric" params. */
int weight_fq_plan(struct weight_fq *q, const struct layer *l, const char *file);
void weight_fq_alloc(struct weight_fq *q, size_t numel, size_t channels);
/* Fake-quantizes w (channels, per) into out: per tensor, or per channel;
 * bits may carry FQ_SYMMETRIC (fq_rule.h). */
void weight_fq_apply(float *out, const float *w, size_t channels, size_t per, int bits,
		     int per_channel);
/* The weights the forward pass uses: w itself (no weight_bits, or
 * float_only), or the refreshed copy. A training pass always refreshes
 * (SGD moved w); eval passes reuse it. */
const float *weight_fq_forward(struct weight_fq *q, const float *w, int training,
			       int float_only);
/* The weights the last forward used (for the input gradient). */
const float *weight_fq_used(const struct weight_fq *q, const float *w);
void weight_fq_free(struct weight_fq *q);

#endif
