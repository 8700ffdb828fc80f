/* k-means features of normalised images; see kmeans_features.h and
 * docs/FORMAT.md §kmeans. */
#include "kmeans_features.h"

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

/* Rows [y0, y1) and columns [x0, x1) of block b of the 2 x P/2 grid: the
 * last row and column of blocks take the remainder (docs/FORMAT.md). */
static void block_bounds(int b, int P, int H, int W, int *y0, int *y1, int *x0, int *x1)
{
	int cols = P / 2, r = b / cols, j = b % cols;
	*y0 = r * H / 2;
	*y1 = (r + 1) * H / 2;
	*x0 = j * W / cols;
	*x1 = (j + 1) * W / cols;
}

int kmeans_features(float *out, const float *x, const struct kmeans_features_shape *s)
{
	if (kmeans_features_check(s->c, s->h, s->w, s->partitions))
		return -1;
	const int C = s->c, H = s->h, W = s->w, P = s->partitions;
	const size_t plane = (size_t)H * W, d = (size_t)kmeans_feature_length(C, P);

	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < s->n; i++) {
		const float *img = x + i * C * plane;
		float *f = out + i * d;
		for (int c = 0; c < C; c++)
			for (int b = 0; b < P; b++) {
				int y0, y1, x0, x1;
				block_bounds(b, P, H, W, &y0, &y1, &x0, &x1);
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

/* Normalisation is increasing per channel (std > 0), so the min and max of
 * a normalised block are the normalised min and max of its bytes: the same
 * floats batch_fill would give (same expression, ISO C: no contraction),
 * without making the float image. */
int kmeans_dataset_features(float *out, const struct dataset *ds, const size_t *idx,
			    size_t n, const struct norm *norm, int partitions)
{
	if (kmeans_features_check(ds->c, ds->h, ds->w, partitions))
		return -1;
	CHECK(idx || n == ds->n);
	const int C = ds->c, H = ds->h, W = ds->w, P = partitions;
	const size_t plane = (size_t)H * W, d = (size_t)kmeans_feature_length(C, P);
	float scale[NORM_MAX_CHANNELS], shift[NORM_MAX_CHANNELS];
	CHECK(C <= NORM_MAX_CHANNELS);
	for (int c = 0; c < C; c++) {
		scale[c] = 1.0f / (255.0f * norm->std[c]);   /* as batch_fill */
		shift[c] = -norm->mean[c] / norm->std[c];
	}

	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		const uint8_t *img = ds->images + (idx ? idx[i] : i) * C * plane;
		float *f = out + i * d;
		for (int c = 0; c < C; c++)
			for (int b = 0; b < P; b++) {
				int y0, y1, x0, x1;
				block_bounds(b, P, H, W, &y0, &y1, &x0, &x1);
				const uint8_t *p = img + (size_t)c * plane;
				uint8_t lo = 255, hi = 0;
				for (int y = y0; y < y1; y++)
					for (int xx = x0; xx < x1; xx++) {
						uint8_t v = p[(size_t)y * W + xx];
						lo = v < lo ? v : lo;
						hi = v > hi ? v : hi;
					}
				f[((size_t)c * P + b) * 2] = (float)lo * scale[c] + shift[c];
				f[((size_t)c * P + b) * 2 + 1] = (float)hi * scale[c] + shift[c];
			}
	}
	return 0;
}
