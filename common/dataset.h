/* Data sets in memory, and the readers behind `--data KIND:PATH`.
 *
 * Every reader produces the same thing: N images of C×H×W bytes in NCHW
 * order (the raw pixels, 0..255, not normalised) and N int32 labels in
 * [0, classes). Kinds (see README.md, "Data sets"):
 *   cifar10:DIR        official binary release (data_batch_1..5.bin, test_batch.bin)
 *   cifar100:DIR       official binary release (train.bin, test.bin; fine labels)
 *   mnist:DIR          IDX files, gzip or raw
 *   fashion-mnist:DIR  IDX files, gzip or raw
 *   folder:DIR         DIR/train/<class>/<image>.jpg or .png, DIR/test/...
 *   dataset:FILE       a data set file written by `pcq-info --data ... --save FILE`
 */
#ifndef PCQ_DATASET_H
#define PCQ_DATASET_H

#include <stddef.h>
#include <stdint.h>

enum split { SPLIT_TRAIN, SPLIT_TEST, SPLIT_COUNT };

struct dataset {
	char *kind;           /* "cifar10", "folder", ... */
	char *path;           /* the PATH part of KIND:PATH */
	enum split split;
	size_t n;             /* number of images */
	int c, h, w;          /* image shape */
	int classes;          /* labels are in [0, classes) */
	char **class_names;   /* [classes], owned */
	uint8_t *images;      /* (N, C, H, W), owned */
	int32_t *labels;      /* (N), owned */
};

/* Parses "KIND:PATH" and reads the split. limit > 0 keeps a deterministic
 * subset of min(limit, n) images: indices floor(i·n/limit), i = 0..limit-1,
 * an even stride over the split, so a class-sorted folder keeps every class.
 * threads <= 0 means all cores. Returns 0, or -1 after printing one line
 * "tool: 'PATH': what is wrong". */
int dataset_load(struct dataset *ds, const char *spec, enum split split,
		 size_t limit, int threads);
void dataset_free(struct dataset *ds);

/* The known kinds, for --help and error messages: "cifar10, cifar100, ...". */
const char *dataset_kinds(void);
/* "train" or "test"; parse returns -1 for anything else. */
const char *split_name(enum split s);
int split_parse(const char *s, enum split *out);

/* Keeps the subset described at dataset_load (in place). */
void dataset_subset(struct dataset *ds, size_t limit);
/* Counts labels into hist[classes]. */
void dataset_label_histogram(const struct dataset *ds, size_t *hist);

#endif
