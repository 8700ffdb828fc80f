/* Input normalisation; see normalize.h. */
#include "normalize.h"

#include "check.h"

#include <math.h>
#include <string.h>

static const struct {
	const char *name;
	int c;
	float mean[3], std[3];
} known[] = {
	/* SPEC §3 (the reference code's CIFAR constants, also for CIFAR-100). */
	{"cifar10", 3, {0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}},
	{"mnist", 1, {0.1307f}, {0.3081f}},
	{"fashion-mnist", 1, {0.2860f}, {0.3530f}},
	{"imagenet", 3, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
};

const char *norm_names(void)
{
	return "cifar10, mnist, fashion-mnist, imagenet, data";
}

void dataset_channel_stats(const struct dataset *ds, double *mean, double *std)
{
	size_t plane = (size_t)ds->h * ds->w;
	for (int c = 0; c < ds->c; c++) {
		double s = 0, s2 = 0;
		/* Integer sums per image, so the total is exact and independent
		 * of the thread count. */
		#pragma omp parallel for reduction(+ : s, s2)
		for (size_t i = 0; i < ds->n; i++) {
			const uint8_t *p = ds->images + (i * ds->c + c) * plane;
			uint64_t a = 0, a2 = 0;
			for (size_t k = 0; k < plane; k++) {
				a += p[k];
				a2 += (uint64_t)p[k] * p[k];
			}
			s += (double)a;
			s2 += (double)a2;
		}
		double n = (double)ds->n * (double)plane;
		mean[c] = n > 0 ? s / n / 255.0 : 0;
		double var = n > 0 ? s2 / n / (255.0 * 255.0) - mean[c] * mean[c] : 0;
		std[c] = var > 0 ? sqrt(var) : 0;
	}
}

int norm_choose(struct norm *n, const char *name, const struct dataset *train)
{
	memset(n, 0, sizeof(*n));
	n->c = train->c;
	if (train->c > NORM_MAX_CHANNELS)
		return error("'%s': %d channels; at most %d are supported", train->path,
			     train->c, NORM_MAX_CHANNELS);
	if (!name)
		name = strcmp(train->kind, "cifar100") == 0 ? "cifar10" : train->kind;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(known[i].name, name) != 0)
			continue;
		if (known[i].c != train->c)
			return error("normalisation '%s' is for %d channels, the data has %d",
				     name, known[i].c, train->c);
		memcpy(n->mean, known[i].mean, sizeof(known[i].mean));
		memcpy(n->std, known[i].std, sizeof(known[i].std));
		return 0;
	}
	/* Unknown kinds (folder, dataset) and "data": the training split's own. */
	if (strcmp(name, "data") != 0 && strcmp(name, train->kind) != 0)
		return error("unknown normalisation '%s' (known: %s)", name, norm_names());
	double mean[NORM_MAX_CHANNELS], std[NORM_MAX_CHANNELS];
	dataset_channel_stats(train, mean, std);
	for (int c = 0; c < train->c; c++) {
		if (std[c] <= 0)
			return error("'%s': channel %d is constant; cannot normalise by its std",
				     train->path, c);
		n->mean[c] = (float)mean[c];
		n->std[c] = (float)std[c];
	}
	return 0;
}

void norm_store(const struct norm *n, struct attrs *a)
{
	double mean[NORM_MAX_CHANNELS], std[NORM_MAX_CHANNELS];
	for (int c = 0; c < n->c; c++) {
		mean[c] = n->mean[c];
		std[c] = n->std[c];
	}
	attrs_set_floats(a, "norm_mean", mean, (size_t)n->c);
	attrs_set_floats(a, "norm_std", std, (size_t)n->c);
}

int norm_load(struct norm *n, const struct attrs *a, const char *file, int channels)
{
	const struct value *mean = attrs_find(a, "norm_mean"), *std = attrs_find(a, "norm_std");
	memset(n, 0, sizeof(*n));
	if (!mean || !std || mean->type != VALUE_FLOAT_ARRAY || std->type != VALUE_FLOAT_ARRAY ||
	    mean->n != (size_t)channels || std->n != (size_t)channels || channels > NORM_MAX_CHANNELS)
		return error("'%s': attrs norm_mean and norm_std must be %d floats each",
			     file, channels);
	n->c = channels;
	for (int c = 0; c < channels; c++) {
		if (!(std->floats[c] > 0) || !isfinite(mean->floats[c]))
			return error("'%s': norm_std must be positive and norm_mean finite", file);
		n->mean[c] = (float)mean->floats[c];
		n->std[c] = (float)std->floats[c];
	}
	return 0;
}
