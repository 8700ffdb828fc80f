/* Mini-batch k-means fitting (Sculley 2010, as scikit-learn's
 * MiniBatchKMeans) with greedy k-means++ initialisation, re-seeding of
 * starved centres and optional Lloyd refinement; the rules are in
 * kmeans.h. Also the data-set source that feeds it (augmented batches). */
#include "kmeans.h"

#include "batch.h"
#include "check.h"
#include "kmeans_features.h"
#include "progress.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double dist2(const float *a, const float *b, size_t d)
{
	double s = 0;
	for (size_t j = 0; j < d; j++) {
		double t = (double)a[j] - b[j];
		s += t * t;
	}
	return s;
}

/* An index drawn with probability w[i] / Σw; uniform when Σw is 0. */
static size_t draw(struct rng *r, const double *w, size_t n)
{
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += w[i];
	if (!(total > 0))
		return rng_below(r, (uint32_t)n);
	double u = ((double)rng_u32(r) + 0.5) / 4294967296.0 * total, acc = 0;
	for (size_t i = 0; i < n; i++) {
		acc += w[i];
		if (u < acc && w[i] > 0)
			return i;
	}
	for (size_t i = n; i-- > 0;)   /* rounding: the last positive weight */
		if (w[i] > 0)
			return i;
	return 0;
}

/* Greedy k-means++ on x (n, D): each new centre is the best (lowest
 * potential, first on ties) of 2 + ⌊ln K⌋ candidates drawn ∝ D². */
static void kmeanspp(struct kmeans *m, const float *x, size_t n, struct rng *r)
{
	const size_t d = (size_t)m->d;
	const int trials = 2 + (int)log(m->k);
	double *closest = xmalloc(n * sizeof(double)), *cand = xmalloc(n * sizeof(double));
	double *best_d = xmalloc(n * sizeof(double));
	size_t first = rng_below(r, (uint32_t)n);
	memcpy(m->centres, x + first * d, d * sizeof(float));
	for (size_t i = 0; i < n; i++)
		closest[i] = dist2(x + i * d, m->centres, d);
	for (int k = 1; k < m->k; k++) {
		double best_pot = INFINITY;
		size_t best = 0;
		for (int t = 0; t < trials; t++) {
			size_t c = draw(r, closest, n);
			double pot = 0;
			for (size_t i = 0; i < n; i++) {
				double e = dist2(x + i * d, x + c * d, d);
				cand[i] = e < closest[i] ? e : closest[i];
				pot += cand[i];
			}
			if (pot < best_pot) {
				best_pot = pot;
				best = c;
				memcpy(best_d, cand, n * sizeof(double));
			}
		}
		memcpy(m->centres + (size_t)k * d, x + best * d, d * sizeof(float));
		memcpy(closest, best_d, n * sizeof(double));
	}
	free(closest);
	free(cand);
	free(best_d);
}

/* The re-seeding rule of kmeans.h; returns the number of centres moved. */
static int reseed(struct kmeans *m, const float *x, const float *dist, size_t n,
		  struct rng *r)
{
	const size_t d = (size_t)m->d;
	int64_t max = 0;
	for (int k = 0; k < m->k; k++)
		max = m->counts[k] > max ? m->counts[k] : max;
	int64_t min_kept = max;
	for (int k = 0; k < m->k; k++)
		if ((double)m->counts[k] >= 0.01 * (double)max && m->counts[k] < min_kept)
			min_kept = m->counts[k];
	double *w = xmalloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++)
		w[i] = dist[i];
	int moved = 0;
	for (int k = 0; k < m->k && (size_t)moved < n / 2; k++) {
		if ((double)m->counts[k] >= 0.01 * (double)max)
			continue;
		double total = 0;
		for (size_t i = 0; i < n; i++)
			total += w[i];
		if (!(total > 0))
			break;
		size_t i = draw(r, w, n);
		w[i] = 0;
		memcpy(m->centres + (size_t)k * d, x + i * d, d * sizeof(float));
		m->counts[k] = min_kept;
		moved++;
	}
	free(w);
	return moved;
}

/* One mini-batch step: moves the centres, accumulates counts, and returns
 * ‖Δcentres‖_F. Sums run in point order (deterministic). */
static double step(struct kmeans *m, const float *x, const int32_t *ids, size_t n,
		   double *sums, int64_t *bc)
{
	const size_t d = (size_t)m->d;
	memset(sums, 0, (size_t)m->k * d * sizeof(double));
	memset(bc, 0, (size_t)m->k * sizeof(int64_t));
	for (size_t i = 0; i < n; i++) {
		bc[ids[i]]++;
		for (size_t j = 0; j < d; j++)
			sums[(size_t)ids[i] * d + j] += x[i * d + j];
	}
	double change = 0;
	for (int k = 0; k < m->k; k++) {
		if (bc[k] == 0)
			continue;
		double old = (double)m->counts[k], total = old + (double)bc[k];
		float *c = m->centres + (size_t)k * d;
		for (size_t j = 0; j < d; j++) {
			float v = (float)((c[j] * old + sums[(size_t)k * d + j]) / total);
			change += ((double)v - c[j]) * ((double)v - c[j]);
			c[j] = v;
		}
		m->counts[k] += bc[k];
	}
	return sqrt(change);
}

/* Full-batch Lloyd iterations on all points; an empty cluster keeps its
 * centre. Stops early when no assignment changes. */
static int refine(struct kmeans *m, const struct kmeans_source *src, int iters)
{
	const size_t n = src->n, d = (size_t)m->d;
	float *x = xmalloc(n * d * sizeof(float));
	size_t *idx = xmalloc(n * sizeof(size_t));
	int32_t *ids = xmalloc(n * sizeof(int32_t)), *prev = xmalloc(n * sizeof(int32_t));
	double *sums = xmalloc((size_t)m->k * d * sizeof(double));
	int64_t *cnt = xmalloc((size_t)m->k * sizeof(int64_t));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	src->features(src->ctx, x, idx, n, -1, 0);
	int it;
	for (it = 0; it < iters; it++) {
		kmeans_assign(m, x, n, ids, NULL);
		if (it > 0 && memcmp(ids, prev, n * sizeof(int32_t)) == 0)
			break;
		memcpy(prev, ids, n * sizeof(int32_t));
		memset(sums, 0, (size_t)m->k * d * sizeof(double));
		memset(cnt, 0, (size_t)m->k * sizeof(int64_t));
		for (size_t i = 0; i < n; i++) {
			cnt[ids[i]]++;
			for (size_t j = 0; j < d; j++)
				sums[(size_t)ids[i] * d + j] += x[i * d + j];
		}
		for (int k = 0; k < m->k; k++)
			for (size_t j = 0; cnt[k] > 0 && j < d; j++)
				m->centres[(size_t)k * d + j] =
					(float)(sums[(size_t)k * d + j] / (double)cnt[k]);
	}
	free(x);
	free(idx);
	free(ids);
	free(prev);
	free(sums);
	free(cnt);
	return it;
}

void kmeans_fit(struct kmeans *m, const struct kmeans_source *src,
		const struct kmeans_fit_options *o, struct kmeans_fit_result *r)
{
	const size_t n = src->n, d = (size_t)m->d;
	CHECK(n >= 1 && n < UINT32_MAX && o->batch >= 1);
	const size_t B = (size_t)o->batch < n ? (size_t)o->batch : n;
	*r = (struct kmeans_fit_result){0};
	struct rng rng;
	rng_seed(&rng, o->seed, 0x6b6d);
	size_t *idx = xmalloc(n * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;

	/* Initialisation on a random sample of max(3·B, 3·K) points. */
	size_t ni = 3 * (B > (size_t)m->k ? B : (size_t)m->k);
	ni = ni < n ? ni : n;
	rng_shuffle(&rng, idx, n);
	float *x = xmalloc((ni > B ? ni : B) * d * sizeof(float));
	src->features(src->ctx, x, idx, ni, -1, 0);
	kmeanspp(m, x, ni, &rng);
	memset(m->counts, 0, (size_t)m->k * sizeof(int64_t));

	int32_t *ids = xmalloc(B * sizeof(int32_t));
	float *dist = xmalloc(B * sizeof(float));
	double *sums = xmalloc((size_t)m->k * d * sizeof(double));
	int64_t *bc = xmalloc((size_t)m->k * sizeof(int64_t));
	double t0 = progress_now();
	for (int e = 0; e < o->epochs && !r->converged; e++) {
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		rng_shuffle(&rng, idx, n);
		r->epochs = e + 1;
		double change = 0, inertia = 0;
		size_t seen = 0;
		for (size_t at = 0; at < n; at += B) {
			size_t nb = n - at < B ? n - at : B;
			src->features(src->ctx, x, idx + at, nb, e, r->batches);
			inertia += kmeans_assign(m, x, nb, ids, dist);
			seen += nb;
			change = step(m, x, ids, nb, sums, bc);
			r->batches++;
			int moved = r->batches % 10 == 0 ? reseed(m, x, dist, nb, &rng) : 0;
			r->reseeded += moved;
			if (r->batches > 1 && moved == 0 && change <= o->tol) {
				r->converged = 1;
				break;
			}
		}
		if (o->verbose)
			fprintf(stderr, "kmeans: epoch %d/%d: %zu batches, mean squared distance %.5g, "
				"last centre change %.3g, %.1f s%s\n", e + 1, o->epochs, r->batches,
				inertia / (double)seen, change, progress_now() - t0,
				r->converged ? " (converged)" : "");
	}
	if (o->refine > 0)
		r->refine_iters = refine(m, src, o->refine);
	free(idx);
	free(x);
	free(ids);
	free(dist);
	free(sums);
	free(bc);
}

static void data_features(void *ctx, float *out, const size_t *idx, size_t n, int epoch,
			  size_t batch)
{
	struct kmeans_data *k = ctx;
	const struct dataset *ds = k->ds;
	const size_t d = (size_t)kmeans_feature_length(ds->c, k->partitions);
	if (!k->augment) {
		if (!k->cache) {
			k->cache = xmalloc((ds->n ? ds->n : 1) * d * sizeof(float));
			CHECK(kmeans_dataset_features(k->cache, ds, NULL, ds->n, k->norm,
						      k->partitions) == 0);
		}
		for (size_t i = 0; i < n; i++)
			memcpy(out + i * d, k->cache + idx[i] * d, d * sizeof(float));
		return;
	}
	if (epoch < 0) {
		CHECK(kmeans_dataset_features(out, ds, idx, n, k->norm, k->partitions) == 0);
		return;
	}
	/* Augmented: in chunks, each with its own seed from (seed, batch). */
	enum { CHUNK = 256 };
	struct rng r;
	rng_seed(&r, k->seed, 0x6175670000000000ull + batch);
	uint64_t seed = (uint64_t)rng_u32(&r) << 32 | rng_u32(&r);
	const size_t image = (size_t)ds->c * ds->h * ds->w;
	float *x = xmalloc(CHUNK * image * sizeof(float));
	int32_t labels[CHUNK];
	for (size_t at = 0; at < n; at += CHUNK) {
		int m = (int)(n - at < CHUNK ? n - at : CHUNK);
		batch_fill(x, labels, ds, idx + at, m, k->norm, 1, seed + at / CHUNK);
		struct kmeans_features_shape s = {.n = (size_t)m, .c = ds->c, .h = ds->h,
						  .w = ds->w, .partitions = k->partitions};
		CHECK(kmeans_features(out + at * d, x, &s) == 0);
	}
	free(x);
}

void kmeans_data_source(struct kmeans_source *src, struct kmeans_data *ctx)
{
	*src = (struct kmeans_source){.n = ctx->ds->n, .features = data_features, .ctx = ctx};
}

void kmeans_data_free(struct kmeans_data *ctx)
{
	if (!ctx)
		return;
	free(ctx->cache);
	ctx->cache = NULL;
}
