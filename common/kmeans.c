/* The k-means model: assignment, the "kmeans" file and regrouping; see
 * kmeans.h (fitting is in kmeans_fit.c) and docs/FORMAT.md §kmeans. */
#include "kmeans.h"

#include "check.h"
#include "fileio.h"
#include "kmeans_features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kmeans_init(struct kmeans *m, int k, int partitions, int c, int h, int w,
		 const struct norm *norm)
{
	CHECK(k >= 1 && k <= KMEANS_MAX_CLUSTERS);
	CHECK(kmeans_features_check(c, h, w, partitions) == 0);
	*m = (struct kmeans){.k = k, .d = kmeans_feature_length(c, partitions),
			     .partitions = partitions, .c = c, .h = h, .w = w, .norm = *norm};
	m->centres = xcalloc((size_t)k * m->d, sizeof(float));
	m->counts = xcalloc((size_t)k, sizeof(int64_t));
}

void kmeans_free(struct kmeans *m)
{
	if (!m)
		return;
	free(m->centres);
	free(m->counts);
	m->centres = NULL;
	m->counts = NULL;
}

double kmeans_assign(const struct kmeans *m, const float *features, size_t n,
		     int32_t *ids, float *distances)
{
	const size_t d = (size_t)m->d;
	/* Per-point distances, summed in point order afterwards, so the total
	 * does not depend on the thread count. */
	double *dd = xmalloc((n ? n : 1) * sizeof(double));
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		const float *x = features + i * d;
		int best = 0;
		double best_d = INFINITY;
		for (int k = 0; k < m->k; k++) {
			const float *c = m->centres + (size_t)k * d;
			double s = 0;
			for (size_t j = 0; j < d; j++) {
				double t = (double)x[j] - c[j];
				s += t * t;
			}
			if (s < best_d) {   /* strict: ties keep the lowest index */
				best_d = s;
				best = k;
			}
		}
		ids[i] = best;
		if (distances)
			distances[i] = (float)best_d;
		dd[i] = best_d;
	}
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += dd[i];
	free(dd);
	return total;
}

double kmeans_assign_images(const struct kmeans *m, const float *x, size_t n,
			    int32_t *ids, float *distances)
{
	float *f = xmalloc((n ? n : 1) * (size_t)m->d * sizeof(float));
	struct kmeans_features_shape s = {.n = n, .c = m->c, .h = m->h, .w = m->w,
					  .partitions = m->partitions};
	CHECK(kmeans_features(f, x, &s) == 0);
	double total = kmeans_assign(m, f, n, ids, distances);
	free(f);
	return total;
}

void kmeans_store(const struct kmeans *m, struct pcqfile *f)
{
	f->kind = KIND_KMEANS;
	int64_t shape[3] = {m->c, m->h, m->w};
	attrs_set_int(&f->attrs, "clusters", m->k);
	attrs_set_int(&f->attrs, "partitions", m->partitions);
	attrs_set_ints(&f->attrs, "input_shape", shape, 3);
	norm_store(&m->norm, &f->attrs);
	attrs_set_int(&f->attrs, "feature_length", m->d);
	int64_t kd[2] = {m->k, m->d}, k1[1] = {m->k};
	pcqfile_add_tensor(f, "centres", DTYPE_F32, 2, kd, m->centres);
	pcqfile_add_tensor(f, "counts", DTYPE_I64, 1, k1, m->counts);
}

static int bad(const char *name, const char *what)
{
	return error("'%s': %s", name, what);
}

int kmeans_load(struct kmeans *m, const struct pcqfile *f, const char *name)
{
	memset(m, 0, sizeof(*m));
	if (f->kind != KIND_KMEANS)
		return error("'%s': is a %s file, expected a kmeans file", name,
			     file_kind_name(f->kind));
	int64_t k, p, d;
	const struct value *shape = attrs_find(&f->attrs, "input_shape");
	if (attrs_get_int(&f->attrs, name, "clusters", &k) ||
	    attrs_get_int(&f->attrs, name, "partitions", &p) ||
	    attrs_get_int(&f->attrs, name, "feature_length", &d))
		return -1;
	if (k < 1 || k > KMEANS_MAX_CLUSTERS)
		return error("'%s': 'clusters' must be in [1, %d], not %lld", name,
			     KMEANS_MAX_CLUSTERS, (long long)k);
	if (!shape || shape->type != VALUE_INT_ARRAY || shape->n != 3)
		return bad(name, "attr 'input_shape' must be 3 integers (C, H, W)");
	for (int i = 0; i < 3; i++)
		if (shape->ints[i] < 1 || shape->ints[i] > 65535)
			return bad(name, "'input_shape' dimensions must be in [1, 65535]");
	int c = (int)shape->ints[0], h = (int)shape->ints[1], w = (int)shape->ints[2];
	if (c > NORM_MAX_CHANNELS)
		return error("'%s': %d channels; at most %d are supported", name, c,
			     NORM_MAX_CHANNELS);
	if (p < 2 || p > KMEANS_MAX_PARTITIONS || p % 2 != 0 || h < 2 || w < p / 2)
		return error("'%s': %lld partitions do not fit a %dx%dx%d image", name,
			     (long long)p, c, h, w);
	if (d != kmeans_feature_length(c, (int)p))
		return error("'%s': 'feature_length' is %lld, expected C*P*2 = %d", name,
			     (long long)d, kmeans_feature_length(c, (int)p));
	struct norm norm;
	if (norm_load(&norm, &f->attrs, name, c))
		return -1;
	const struct tensor *ct = pcqfile_tensor(f, "centres"), *nt = pcqfile_tensor(f, "counts");
	if (!ct || ct->dtype != DTYPE_F32 || ct->ndim != 2 || ct->shape[0] != k || ct->shape[1] != d)
		return error("'%s': tensor 'centres' must be f32 (%lld, %lld)", name,
			     (long long)k, (long long)d);
	if (!nt || nt->dtype != DTYPE_I64 || nt->ndim != 1 || nt->shape[0] != k)
		return error("'%s': tensor 'counts' must be i64 (%lld)", name, (long long)k);
	const float *cv = ct->data;
	for (size_t i = 0; i < (size_t)(k * d); i++)
		if (!isfinite(cv[i]))
			return error("'%s': centre %zu has a non-finite value", name, i / (size_t)d);
	const int64_t *nv = nt->data;
	for (int64_t i = 0; i < k; i++)
		if (nv[i] < 0)
			return error("'%s': 'counts' must not be negative", name);
	kmeans_init(m, (int)k, (int)p, c, h, w, &norm);
	memcpy(m->centres, cv, ct->nbytes);
	memcpy(m->counts, nv, nt->nbytes);
	return 0;
}

int kmeans_read(struct kmeans *m, const char *path, char *digest)
{
	struct pcqfile f;
	memset(m, 0, sizeof(*m));
	if (pcqfile_read(&f, path, KIND_KMEANS, digest))
		return -1;
	int rc = kmeans_load(m, &f, display_name(path));
	pcqfile_free(&f);
	return rc;
}

int kmeans_check_data(const struct kmeans *m, const struct dataset *ds, const char *name)
{
	if (ds->c != m->c || ds->h != m->h || ds->w != m->w)
		return error("'%s': images are %dx%dx%d, but '%s' takes %dx%dx%d", ds->path,
			     ds->c, ds->h, ds->w, name, m->c, m->h, m->w);
	return 0;
}

int kmeans_check_model(const struct kmeans *m, const char *name, int clusters,
		       int c, int h, int w, const struct norm *norm, const char *model)
{
	if (m->k != clusters)
		return error("'%s' has %d clusters, but '%s' was fused for %d", name, m->k,
			     model, clusters);
	if (m->c != c || m->h != h || m->w != w)
		return error("'%s' takes %dx%dx%d images, but '%s' takes %dx%dx%d", name,
			     m->c, m->h, m->w, model, c, h, w);
	int same = m->norm.c == norm->c;
	for (int i = 0; same && i < norm->c; i++)
		same = m->norm.mean[i] == norm->mean[i] && m->norm.std[i] == norm->std[i];
	if (!same)
		return error("'%s' normalises images differently from '%s' (norm_mean, "
			     "norm_std): fit k-means with the model's normalisation", name, model);
	return 0;
}

size_t kmeans_regroup(const int32_t *ids, size_t n, int k, size_t *order,
		      struct kmeans_group *list)
{
	size_t *start = xcalloc((size_t)k + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		CHECK(ids[i] >= 0 && ids[i] < k);
		start[ids[i] + 1]++;
	}
	size_t groups = 0;
	for (int c = 0; c < k; c++) {
		if (start[c + 1] > 0)
			list[groups++] = (struct kmeans_group){.cluster = c, .count = start[c + 1]};
		start[c + 1] += start[c];
	}
	for (size_t i = 0; i < n; i++)   /* counting sort: stable */
		order[start[ids[i]]++] = i;
	free(start);
	return groups;
}
