/* Evaluation in eval mode; see evaluate.h. */
#include "evaluate.h"

#include "batch.h"
#include "check.h"
#include "softmax_xent.h"

#include <stdlib.h>
#include <string.h>

/* Rank of the true class: how many classes score strictly higher (ties go
 * to the lower index, as torch.topk's order would pick them). */
static int rank_of(const float *s, int classes, int truth)
{
	int rank = 0;
	for (int k = 0; k < classes; k++)
		if (s[k] > s[truth] || (s[k] == s[truth] && k < truth))
			rank++;
	return rank;
}

void evaluate(struct eval_result *r, struct model *m, const struct dataset *ds,
	      const struct norm *norm, int keep_scores)
{
	memset(r, 0, sizeof(*r));
	r->n = ds->n;
	r->classes = m->classes;
	r->confusion = xcalloc((size_t)m->classes * m->classes, sizeof(size_t));
	r->predicted = xmalloc((ds->n ? ds->n : 1) * sizeof(int32_t));
	if (keep_scores)
		r->scores = xmalloc((ds->n ? ds->n : 1) * m->classes * sizeof(float));
	size_t sample = act_numel(&m->input);
	float *x = xmalloc((size_t)m->batch * sample * sizeof(float));
	int32_t *labels = xmalloc((size_t)m->batch * sizeof(int32_t));
	size_t *idx = xmalloc((size_t)m->batch * sizeof(size_t));
	double loss_sum = 0;

	for (size_t start = 0; start < ds->n; start += (size_t)m->batch) {
		int n = (int)(ds->n - start < (size_t)m->batch ? ds->n - start : (size_t)m->batch);
		for (int i = 0; i < n; i++)
			idx[i] = start + (size_t)i;
		batch_fill(x, labels, ds, idx, n, norm, 0, 0);
		const float *logits = model_forward(m, x, n, 0, NULL);
		struct softmax_xent_shape xs = {.N = n, .classes = m->classes};
		loss_sum += softmax_xent(NULL, NULL, logits, labels, &xs) * n;
		for (int i = 0; i < n; i++) {
			const float *s = logits + (size_t)i * m->classes;
			int best = 0;
			for (int k = 1; k < m->classes; k++)
				if (s[k] > s[best])
					best = k;
			int rank = rank_of(s, m->classes, labels[i]);
			r->top1 += rank == 0;
			r->top5 += rank < 5;
			r->predicted[start + i] = best;
			r->confusion[(size_t)labels[i] * m->classes + best]++;
			if (keep_scores)
				memcpy(r->scores + (start + i) * m->classes, s,
				       (size_t)m->classes * sizeof(float));
		}
	}
	r->loss = ds->n ? loss_sum / (double)ds->n : 0;
	free(x);
	free(labels);
	free(idx);
}

void eval_result_free(struct eval_result *r)
{
	free(r->confusion);
	free(r->predicted);
	free(r->scores);
	memset(r, 0, sizeof(*r));
}
