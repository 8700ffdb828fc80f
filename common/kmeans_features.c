/* k-means features of normalised images; see kmeans_features.h and
 * docs/FORMAT.md §kmeans. */
#include "kmeans_features.h"

#include "batch.h"
#include "check.h"

#include <stdlib.h>

int kmeans_feature_length(int c, int partitions)
{
	return c * partitions * 2;
}

int kmeans_features_check(int c, int h, int w, int partitions)
{
	if (partitions < 2 || partitions > KMEANS_MAX_PARTITIONS || partitions % 2 != 0)
		return error("partitions must be even and in [2, %d], not %d",
			     KMEANS_MAX_PARTITIONS, partitions);
	if (c < 1 || h < 2 || w < partitions / 2)
		return error("a %dx%dx%d image is smaller than the 2x%d grid of %d partitions",
			     c, h, w, partitions / 2, partitions);
	return 0;
}

int kmeans_features(float *out, const float *x, const struct kmeans_features_shape *s)
{
	if (kmeans_features_check(s->c, s->h, s->w, s->partitions))
		return -1;
	const int C = s->c, H = s->h, W = s->w, P = s->partitions, cols = P / 2;
	const size_t plane = (size_t)H * W, d = (size_t)kmeans_feature_length(C, P);

	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < s->n; i++) {
		const float *img = x + i * C * plane;
		float *f = out + i * d;
		for (int c = 0; c < C; c++)
			for (int b = 0; b < P; b++) {
				int r = b / cols, j = b % cols;
				int y0 = r * H / 2, y1 = (r + 1) * H / 2;
				int x0 = j * W / cols, x1 = (j + 1) * W / cols;
				const float *p = img + (size_t)c * plane;
				float lo = p[(size_t)y0 * W + x0], hi = lo;
				for (int y = y0; y < y1; y++)
					for (int xx = x0; xx < x1; xx++) {
						float v = p[(size_t)y * W + xx];
						lo = v < lo ? v : lo;
						hi = v > hi ? v : hi;
					}
				f[((size_t)c * P + b) * 2] = lo;
				f[((size_t)c * P + b) * 2 + 1] = hi;
			}
	}
	return 0;
}

int kmeans_dataset_features(float *out, const struct dataset *ds, const size_t *idx,
			    size_t n, const struct norm *norm, int partitions)
{
	if (kmeans_features_check(ds->c, ds->h, ds->w, partitions))
		return -1;
	CHECK(idx || n == ds->n);
	enum { CHUNK = 256 };
	const size_t image = (size_t)ds->c * ds->h * ds->w;
	const size_t d = (size_t)kmeans_feature_length(ds->c, partitions);
	float *x = xmalloc(CHUNK * image * sizeof(float));
	int32_t labels[CHUNK];
	size_t own[CHUNK];
	for (size_t at = 0; at < n; at += CHUNK) {
		int m = (int)(n - at < CHUNK ? n - at : CHUNK);
		const size_t *sel = idx ? idx + at : own;
		for (int i = 0; !idx && i < m; i++)
			own[i] = at + (size_t)i;
		batch_fill(x, labels, ds, sel, m, norm, 0, 0);
		struct kmeans_features_shape s = {.n = (size_t)m, .c = ds->c, .h = ds->h,
						  .w = ds->w, .partitions = partitions};
		CHECK(kmeans_features(out + at * d, x, &s) == 0);
	}
	free(x);
	return 0;
}
