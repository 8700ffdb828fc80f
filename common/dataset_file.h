/* Data set files: a decoded data set (both splits when available) saved as
 * a PCQ file of kind "dataset" (docs/FORMAT.md §dataset), read back with
 * `--data dataset:FILE`. Reading the 60,000 CIFAR-10 JPEGs once and the
 * file afterwards turns seconds of decoding into a fraction of a second. */
#ifndef PCQ_DATASET_FILE_H
#define PCQ_DATASET_FILE_H

#include "dataset.h"
#include "pcqfile.h"

/* The dataset: reader (dataset_readers.h; registered in dataset.c's table). */
int dataset_file_read(struct dataset *ds, const char *path, enum split split,
		      int threads);
/* The same from a file already read (name for messages). */
int dataset_file_load(struct dataset *ds, const struct pcqfile *f, const char *name,
		      enum split split);

/* Adds one split's tensors ("<split>.images", "<split>.labels") and the
 * shared attrs (class names, shape, source) to a dataset-kind file. */
void dataset_file_add_split(struct pcqfile *f, const struct dataset *ds);

/* sha256 of the images then the labels: the identity of a data set read
 * from many files, recorded in provenance. */
void dataset_digest(const struct dataset *ds, char hex[65]);

#endif
