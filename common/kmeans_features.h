/* The cheap image features that k-means clusters (SPEC §6; the exact
 * definition, with the remainder rule, is in docs/FORMAT.md §kmeans).
 *
 * A normalised image (C, H, W) is cut into a grid of 2 rows × P/2 columns
 * of blocks (P even, >= 2). Block row r covers image rows
 * [floor(r·H/2), floor((r+1)·H/2)) and block column j covers columns
 * [floor(j·W/(P/2)), floor((j+1)·W/(P/2))), so the last row and column of
 * blocks take the remainder. The feature is, per channel, per block in
 * row-major block order, (min, max): C·P·2 floats. */
#ifndef PCQ_KMEANS_FEATURES_H
#define PCQ_KMEANS_FEATURES_H

#include "dataset.h"
#include "normalize.h"

#include <stddef.h>

#define KMEANS_MAX_PARTITIONS 1024

struct kmeans_features_shape {
	size_t n;            /* images */
	int c, h, w;         /* image shape */
	int partitions;      /* P: even, 2..KMEANS_MAX_PARTITIONS */
};

/* C·P·2. */
int kmeans_feature_length(int c, int partitions);

/* 0 when P is even and in range and a C×H×W image holds the grid (H >= 2,
 * W >= P/2); otherwise -1 after one error line. */
int kmeans_features_check(int c, int h, int w, int partitions);

/* out: (N, C·P·2); x: (N, C, H, W), normalised. Parallel over images.
 * Returns -1 (after kmeans_features_check's error) for a bad shape. */
int kmeans_features(float *out, const float *x, const struct kmeans_features_shape *s);

/* Features of the non-augmented, normalised images idx[0..n) of ds (all of
 * ds when idx is NULL; then n must be ds->n), computed in chunks so the
 * float images of a whole split never sit in memory. out: (n, C·P·2). */
int kmeans_dataset_features(float *out, const struct dataset *ds, const size_t *idx,
			    size_t n, const struct norm *norm, int partitions);

#endif
