/* Input normalisation (SPEC §3): x = (pixel/255 − mean[c]) / std[c] per
 * channel. Known data sets have fixed constants; any other takes the
 * per-channel statistics of its training split. A model file records the
 * values it was trained with (attrs norm_mean, norm_std) so every later
 * stage normalises the same way. */
#ifndef PCQ_NORMALIZE_H
#define PCQ_NORMALIZE_H

#include "dataset.h"
#include "pcqfile.h"

#define NORM_MAX_CHANNELS 4

struct norm {
	int c;
	float mean[NORM_MAX_CHANNELS], std[NORM_MAX_CHANNELS];
};

/* Per-channel mean and std of pixel/255 over all images of ds. */
void dataset_channel_stats(const struct dataset *ds, double *mean, double *std);

/* name: "cifar10", "mnist", "fashion-mnist", "imagenet", "data" (the
 * statistics of train), or NULL for the default of train's kind. */
int norm_choose(struct norm *n, const char *name, const struct dataset *train);
const char *norm_names(void);

void norm_store(const struct norm *n, struct attrs *a);
int norm_load(struct norm *n, const struct attrs *a, const char *file, int channels);

#endif
