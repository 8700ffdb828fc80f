/* Accuracy of a model on a data set: top-1, top-5, per class, and the
 * confusion matrix, in eval mode (running statistics, no dropout). */
#ifndef PCQ_EVALUATE_H
#define PCQ_EVALUATE_H

#include "dataset.h"
#include "kmeans.h"
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
	int clusters;             /* 1 without a k-means model */
	size_t *cluster_n;        /* [clusters] images per cluster */
	size_t *cluster_top1;     /* [clusters] correct ones */
	int32_t *cluster;         /* [n] each image's cluster, or NULL (one cluster) */
};

/* keep_scores: also fill r->scores. km (or NULL): the images are assigned
 * to clusters first, then run in batches grouped by cluster, each
 * cluster with its own activation ranges (a fused model's fakequant
 * layers); its normalisation must be norm (kmeans_check_norm). */
void evaluate(struct eval_result *r, struct model *m, const struct dataset *ds,
	      const struct norm *norm, const struct kmeans *km, int keep_scores);

/* The driver behind evaluate, for any engine: forward gets a batch of n
 * normalised images x (n, C, H, W), their indices in ds, their cluster
 * runs (NULL without k-means), and writes the class scores (n, classes).
 * dev: the device forward runs on, or NULL (the CPU); with one, the next
 * batch is filled on a second thread while forward runs (prefetch.h), into
 * the device's page-locked host memory (devops.h host_alloc). */
typedef void (*eval_forward_fn)(void *ctx, const float *x, const size_t *idx, int n,
				const struct kmeans_group *groups, size_t n_groups,
				float *scores);
void evaluate_with(struct eval_result *r, const struct dataset *ds, const struct norm *norm,
		   const struct kmeans *km, int batch, int classes, int keep_scores,
		   const struct devops *dev, eval_forward_fn forward, void *ctx);

/* The cluster of every image of ds (n), from its normalised pixels. */
void assign_clusters(int32_t *ids, const struct kmeans *km, const struct dataset *ds,
		     const struct norm *norm, int batch);
void eval_result_free(struct eval_result *r);

#endif
