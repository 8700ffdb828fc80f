/* Turning images of a data set into a normalised float batch (SPEC §3),
 * with the training augmentation: a random crop from the image padded by 4
 * black pixels (padding before normalisation, as torchvision's
 * RandomCrop(padding=4) then Normalize) and a horizontal flip with p = 0.5.
 * Each image draws from its own generator seeded by (seed, position), so
 * a batch is the same whatever the thread count. */
#ifndef PCQ_BATCH_H
#define PCQ_BATCH_H

#include "dataset.h"
#include "normalize.h"

#include <stddef.h>
#include <stdint.h>

#define BATCH_CROP_PAD 4

/* x: (n, C, H, W); labels: (n). idx selects the images. augment_seed is
 * used only when augment is set. */
void batch_fill(float *x, int32_t *labels, const struct dataset *ds,
		const size_t *idx, int n, const struct norm *norm, int augment,
		uint64_t augment_seed);
/* Positions [first, first + n) of such a batch, whose images are idx[0..n):
 * the same values batch_fill gives them in the whole batch (one rank's
 * share, dist.h). */
void batch_fill_part(float *x, int32_t *labels, const struct dataset *ds,
		     const size_t *idx, int n, int first, const struct norm *norm,
		     int augment, uint64_t augment_seed);

/* Batch b's size when n images go in batches of `batch`. */
static inline int batch_size_of(size_t n, int batch, size_t b)
{
	size_t left = n - b * (size_t)batch;
	return (int)(left < (size_t)batch ? left : (size_t)batch);
}

/* Buffers for `count` (1 or 2) batches of images and labels: with two, one
 * is filled on another thread (prefetch.h) while the other is used. With
 * a device, in the host memory it copies from fastest (devops.h). */
struct devops;
struct batch_slots {
	int count;
	float *x[2];
	int32_t *labels[2];
	const struct devops *dev;
};
void batch_slots_init(struct batch_slots *s, int count, int batch, size_t sample,
		      const struct devops *dev);
void batch_slots_free(struct batch_slots *s);
/* One such buffer (dev NULL: malloc'd memory). */
void *batch_buffer_alloc(const struct devops *dev, size_t bytes);
void batch_buffer_free(const struct devops *dev, void *p);

#endif
