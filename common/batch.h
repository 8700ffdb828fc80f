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

#include <stdint.h>

#define BATCH_CROP_PAD 4

/* x: (n, C, H, W); labels: (n). idx selects the images. augment_seed is
 * used only when augment is set. */
void batch_fill(float *x, int32_t *labels, const struct dataset *ds,
		const size_t *idx, int n, const struct norm *norm, int augment,
		uint64_t augment_seed);

#endif
