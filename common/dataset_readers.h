/* The readers behind dataset_load, and the helpers they share (private to
 * common/dataset*.c; tools include dataset.h only).
 *
 * A reader fills ds->n, c, h, w, classes, class_names, images and labels
 * for one split of the data set at `path` (ds->kind, ds->path and ds->split
 * are already set). On bad input it prints one line with error() and
 * returns -1; whatever it has already put in *ds is released by
 * dataset_load, which calls dataset_free, so a reader only frees what it
 * has not yet handed to *ds. Adding a kind = one reader + one entry in the
 * table in dataset.c. */
#ifndef PCQ_DATASET_READERS_H
#define PCQ_DATASET_READERS_H

#include "dataset.h"

typedef int dataset_reader_fn(struct dataset *ds, const char *path,
			      enum split split, int threads);

dataset_reader_fn dataset_cifar10_read;       /* dataset_cifar.c */
dataset_reader_fn dataset_cifar100_read;      /* dataset_cifar.c */
dataset_reader_fn dataset_mnist_read;         /* dataset_idx.c */
dataset_reader_fn dataset_fashion_mnist_read; /* dataset_idx.c */
dataset_reader_fn dataset_folder_read;        /* dataset_folder.c */

/* Largest image side any reader accepts (untrusted headers). */
#define DATASET_MAX_SIDE 4096

/* Allocates ds->images (N, C, H, W) and ds->labels (N) and sets the shape;
 * -1 with an error naming `subject` when the size overflows. */
int dataset_alloc(struct dataset *ds, const char *subject, size_t n,
		  int c, int h, int w);
/* Copies names[count] into ds->class_names and sets ds->classes. */
void dataset_set_class_names(struct dataset *ds, const char *const *names,
			     int count);
/* "dir/name" in a new string. */
char *path_join(const char *dir, const char *name);
/* 1 when path is a directory, 0 when it is not or does not exist. */
int is_dir(const char *path);
/* NULL when path is a directory, else why not: "no such folder" or
 * "not a folder", for messages. */
const char *folder_problem(const char *path);
/* 1 when path exists (any kind of file). */
int path_exists(const char *path);

#endif
