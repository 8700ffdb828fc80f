/* The k-means model that assigns input images to clusters (SPEC §6):
 * centres in the feature space of kmeans_features.h, nearest-centre
 * assignment, mini-batch fitting, the "kmeans" file (docs/FORMAT.md
 * §kmeans) and the regrouping of a mini-batch by cluster.
 *
 * Fitting is mini-batch k-means (Sculley 2010, "Web-scale k-means
 * clustering"), as scikit-learn's MiniBatchKMeans: greedy k-means++
 * initialisation (Arthur & Vassilvitskii 2007; 2 + ⌊ln K⌋ candidates per
 * step, as scikit-learn) on a random sample of max(3·B, 3·K) points, then
 * per mini-batch: assign, and move each centre to
 *     c ← (c·count + Σ its batch points) / (count + batch count),
 * count += batch count — the per-point learning rate 1/count in batch form.
 * Early stop when the Frobenius norm of the change of all centres over one
 * batch is <= tol (never on the first batch, nor on one with a re-seeding).
 *
 * Re-seeding (scikit-learn's reassignment_ratio = 0.01): every 10 batches,
 * a centre whose count is below 0.01 × the largest count (an empty one
 * too) is moved to a point of the current batch drawn with probability
 * proportional to its squared distance to its nearest centre, without
 * replacement (so far points are preferred; distances as assigned in
 * that batch), and its count is set to the
 * smallest count of the centres kept. At most half the batch is used;
 * when every batch point sits on a centre nothing is re-seeded.
 *
 * Everything is deterministic for a seed: parallel loops write per-point
 * results, and sums run sequentially in point order, so the thread count
 * does not change the result either. */
#ifndef PCQ_KMEANS_H
#define PCQ_KMEANS_H

#include "cluster_groups.h"
#include "dataset.h"
#include "normalize.h"
#include "pcqfile.h"

#include <stddef.h>
#include <stdint.h>

#define KMEANS_MAX_CLUSTERS 65536

struct kmeans {
	int k;               /* clusters */
	int d;               /* feature length C·P·2 */
	int partitions;      /* P */
	int c, h, w;         /* input shape */
	struct norm norm;    /* how the images are normalised before features */
	float *centres;      /* (K, D), owned */
	int64_t *counts;     /* (K), owned: points each centre absorbed while fitting */
};

/* Allocates centres (zero) and counts (zero) for K clusters; the shape
 * must pass kmeans_features_check. */
void kmeans_init(struct kmeans *m, int k, int partitions, int c, int h, int w,
		 const struct norm *norm);
void kmeans_free(struct kmeans *m);

/* features: (N, D). ids: (N), the nearest centre by squared Euclidean
 * distance, ties to the lowest index. distances: (N) squared distances, or
 * NULL. Parallel over points. Returns the sum of squared distances (summed
 * in point order: the same for every thread count). */
double kmeans_assign(const struct kmeans *m, const float *features, size_t n,
		     int32_t *ids, float *distances);

/* x: (N, C, H, W), normalised images of the model's input shape: their
 * features, then kmeans_assign. What pcq-train and pcq-infer call. */
double kmeans_assign_images(const struct kmeans *m, const float *x, size_t n,
			    int32_t *ids, float *distances);

/* Where fitting gets its points: fills out (n, D) with the features of
 * points idx[0..n) (indices into 0..N-1). epoch >= 0 and batch count the
 * mini-batches (a source may augment them); epoch = -1 asks for plain
 * features (initialisation, refinement). */
struct kmeans_source {
	size_t n;            /* N: points in the training set */
	void (*features)(void *ctx, float *out, const size_t *idx, size_t n,
			 int epoch, size_t batch);
	void *ctx;
};

struct kmeans_fit_options {
	int batch;           /* B: points per mini-batch */
	int epochs;          /* at most E passes over the shuffled set */
	double tol;          /* stop when ‖Δcentres‖_F <= tol */
	int refine;          /* full-batch Lloyd iterations at the end */
	uint64_t seed;
	int verbose;         /* one progress line per epoch on stderr */
};

struct kmeans_fit_result {
	int epochs;          /* epochs started */
	size_t batches;      /* mini-batch steps */
	int converged;       /* stopped by tol */
	int reseeded;        /* centres re-seeded */
	int refine_iters;    /* Lloyd iterations run */
};

/* A source of the features of a data set's images (normalised with norm):
 * mini-batches augmented as SPEC §3 when augment is set (the augmentation
 * seeded by seed and the batch number), plain features otherwise. Without
 * augmentation the features of all images are computed once, on first use,
 * and kept (N·D floats) until kmeans_data_free. */
struct kmeans_data {
	const struct dataset *ds;     /* alias, owned by the caller */
	const struct norm *norm;      /* alias, owned by the caller */
	int partitions;
	int augment;
	uint64_t seed;
	float *cache;                 /* (N, D) plain features, owned; NULL until used */
};
void kmeans_data_source(struct kmeans_source *src, struct kmeans_data *ctx);
void kmeans_data_free(struct kmeans_data *ctx);

/* Fits m->centres (K, D with m->d = D) on src from scratch; sets counts. */
void kmeans_fit(struct kmeans *m, const struct kmeans_source *src,
		const struct kmeans_fit_options *o, struct kmeans_fit_result *r);

/* The model as a "kmeans" file (adds attrs and tensors to f), and back:
 * -1 after one line naming `name` when anything is missing or invalid. */
void kmeans_store(const struct kmeans *m, struct pcqfile *f);
int kmeans_load(struct kmeans *m, const struct pcqfile *f, const char *name);
/* pcqfile_read + kmeans_load; digest as pcqfile_read. */
int kmeans_read(struct kmeans *m, const char *path, char *digest);

/* -1 with "'DATA': images are CxHxW, but 'KMEANS' takes ..." on a mismatch. */
int kmeans_check_data(const struct kmeans *m, const struct dataset *ds, const char *name);

/* -1 with one line when the k-means model `name` cannot serve `model`:
 * another cluster count, input shape or normalisation (features must be
 * computed from the same normalised pixels the model sees). */
int kmeans_check_model(const struct kmeans *m, const char *name, int clusters,
		       int c, int h, int w, const struct norm *norm, const char *model);

/* Regroups a mini-batch by cluster: order (n) is the permutation that lists
 * the positions of cluster 0 first, then 1, ... (stable within a cluster);
 * list (room for k) gets the non-empty clusters in ascending order with
 * their counts. ids must be in [0, k). Returns the number of list entries. */
size_t kmeans_regroup(const int32_t *ids, size_t n, int k, size_t *order,
		      struct kmeans_group *list);

#endif
