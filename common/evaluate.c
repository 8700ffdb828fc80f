/* Evaluation in eval mode; see evaluate.h. */
#include "evaluate.h"

#include "batch.h"
#include "check.h"
#include "model_device.h"
#include "prefetch.h"
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

void assign_clusters(int32_t *ids, const struct kmeans *km, const struct dataset *ds,
		     const struct norm *norm, int batch)
{
	size_t sample = (size_t)ds->c * ds->h * ds->w;
	float *x = xmalloc((size_t)batch * sample * sizeof(float));
	int32_t *labels = xmalloc((size_t)batch * sizeof(int32_t));
	size_t *idx = xmalloc((size_t)batch * sizeof(size_t));
	for (size_t start = 0; start < ds->n; start += (size_t)batch) {
		int n = (int)(ds->n - start < (size_t)batch ? ds->n - start : (size_t)batch);
		for (int i = 0; i < n; i++)
			idx[i] = start + (size_t)i;
		batch_fill(x, labels, ds, idx, n, norm, 0, 0);
		kmeans_assign_images(km, x, (size_t)n, ids + start, NULL);
	}
	free(x);
	free(labels);
	free(idx);
}

/* The runs of equal clusters in ids[order[0..n)] (sorted by cluster). */
static size_t runs_of(struct kmeans_group *g, const int32_t *ids, const size_t *order, int n)
{
	size_t count = 0;
	for (int i = 0; i < n; i++) {
		int32_t k = ids[order[i]];
		if (count == 0 || g[count - 1].cluster != k)
			g[count++] = (struct kmeans_group){k, 0};
		g[count - 1].count++;
	}
	return count;
}

/* Test batch b of `order` into a slot. */
struct eval_source {
	const struct dataset *ds;
	const struct norm *norm;
	const size_t *order;
	int batch;
	struct batch_slots slots;
};

static void fill_eval_batch(void *ctx, int slot, size_t b)
{
	const struct eval_source *s = ctx;
	batch_fill(s->slots.x[slot], s->slots.labels[slot], s->ds, s->order + b * (size_t)s->batch,
		   batch_size_of(s->ds->n, s->batch, b), s->norm, 0, 0);
}

void evaluate_with(struct eval_result *r, const struct dataset *ds, const struct norm *norm,
		   const struct kmeans *km, int batch, int classes, int keep_scores,
		   const struct devops *dev, eval_forward_fn forward, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->n = ds->n;
	r->classes = classes;
	r->clusters = km ? km->k : 1;
	r->confusion = xcalloc((size_t)classes * classes, sizeof(size_t));
	r->predicted = xmalloc((ds->n ? ds->n : 1) * sizeof(int32_t));
	r->cluster_n = xcalloc((size_t)r->clusters, sizeof(size_t));
	r->cluster_top1 = xcalloc((size_t)r->clusters, sizeof(size_t));
	if (keep_scores)
		r->scores = xmalloc((ds->n ? ds->n : 1) * classes * sizeof(float));
	size_t sample = (size_t)ds->c * ds->h * ds->w;
	float *logits = xmalloc((size_t)batch * classes * sizeof(float));
	size_t *order = xmalloc((ds->n ? ds->n : 1) * sizeof(size_t));
	struct kmeans_group *groups = xmalloc((size_t)batch * sizeof(*groups));
	for (size_t i = 0; i < ds->n; i++)
		order[i] = i;
	if (km) {
		r->cluster = xmalloc((ds->n ? ds->n : 1) * sizeof(int32_t));
		assign_clusters(r->cluster, km, ds, norm, batch);
		struct kmeans_group *list = xmalloc((size_t)km->k * sizeof(*list));
		kmeans_regroup(r->cluster, ds->n, km->k, order, list);
		free(list);
	}
	double loss_sum = 0;

	struct eval_source src = {.ds = ds, .norm = norm, .order = order, .batch = batch};
	batch_slots_init(&src.slots, 1 + (dev != NULL), batch, sample, dev);
	struct prefetch pf;
	prefetch_init(&pf, fill_eval_batch, &src, dev != NULL);
	const size_t batches = (ds->n + (size_t)batch - 1) / (size_t)batch;
	for (size_t b = 0; b < batches; b++) {
		const int n = batch_size_of(ds->n, batch, b), slot = prefetch_next(&pf, b, batches);
		const size_t *idx = order + b * (size_t)batch;
		const float *x = src.slots.x[slot];
		const int32_t *labels = src.slots.labels[slot];
		size_t n_groups = km ? runs_of(groups, r->cluster, idx, n) : 0;
		forward(ctx, x, idx, n, km ? groups : NULL, n_groups, logits);
		struct softmax_xent_shape xs = {.N = n, .classes = classes};
		loss_sum += softmax_xent(NULL, NULL, logits, labels, &xs) * n;
		for (int i = 0; i < n; i++) {
			const float *s = logits + (size_t)i * classes;
			int best = 0;
			for (int k = 1; k < classes; k++)
				if (s[k] > s[best])
					best = k;
			int rank = rank_of(s, classes, labels[i]);
			int cl = km ? r->cluster[idx[i]] : 0;
			r->top1 += rank == 0;
			r->top5 += rank < 5;
			r->cluster_n[cl]++;
			r->cluster_top1[cl] += rank == 0;
			r->predicted[idx[i]] = best;
			r->confusion[(size_t)labels[i] * classes + best]++;
			if (keep_scores)
				memcpy(r->scores + idx[i] * classes, s, (size_t)classes * sizeof(float));
		}
	}
	r->loss = ds->n ? loss_sum / (double)ds->n : 0;
	prefetch_free(&pf);
	batch_slots_free(&src.slots);
	free(logits);
	free(order);
	free(groups);
}

static void model_forward_fn(void *ctx, const float *x, const size_t *idx, int n,
			     const struct kmeans_group *groups, size_t n_groups, float *scores)
{
	struct model *m = ctx;
	(void)idx;
	m->groups = groups;
	m->n_groups = n_groups;
	memcpy(scores, model_forward(m, x, n, 0, NULL), (size_t)n * m->classes * sizeof(float));
	m->groups = NULL;
	m->n_groups = 0;
}

void evaluate(struct eval_result *r, struct model *m, const struct dataset *ds,
	      const struct norm *norm, const struct kmeans *km, int keep_scores)
{
	evaluate_with(r, ds, norm, km, m->batch, m->classes, keep_scores,
		      m->dev ? model_device_ops(m) : NULL, model_forward_fn, m);
}

void eval_result_free(struct eval_result *r)
{
	free(r->confusion);
	free(r->predicted);
	free(r->scores);
	free(r->cluster_n);
	free(r->cluster_top1);
	free(r->cluster);
	memset(r, 0, sizeof(*r));
}
