/* Accuracy of a model on a data set: top-1, top-5, per class, and the
 * confusion matrix, in eval mode (running statistics, no dropout). */
#ifndef PCQ_EVALUATE_H
#define PCQ_EVALUATE_H

#include "dataset.h"
#include "model.h"
#include "normalize.h"

#include <stddef.h>
#include <stdint.h>

struct eval_result {
	size_t n;
	int classes;
	size_t top1, top5;        /* counts of correct images */
	size_t *confusion;        /* [classes · classes]: row true, column predicted */
	int32_t *predicted;       /* [n] top-1 class per image */
	float *scores;            /* [n · classes] logits per image, or NULL */
	double loss;              /* mean cross-entropy */
};

/* keep_scores: also fill r->scores. */
void evaluate(struct eval_result *r, struct model *m, const struct dataset *ds,
	      const struct norm *norm, int keep_scores);
void eval_result_free(struct eval_result *r);

#endif
