/* Data set files (kind "dataset"); see dataset_file.h. */
#include "dataset_file.h"

#include "check.h"
#include "dataset_readers.h"
#include "sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dataset_file_add_split(struct pcqfile *f, const struct dataset *ds)
{
	const char *s = split_name(ds->split);
	char name[64];
	int64_t ishape[4] = {(int64_t)ds->n, ds->c, ds->h, ds->w};
	int64_t lshape[1] = {(int64_t)ds->n};
	snprintf(name, sizeof(name), "%s.images", s);
	pcqfile_add_tensor(f, name, DTYPE_U8, 4, ishape, ds->images);
	snprintf(name, sizeof(name), "%s.labels", s);
	pcqfile_add_tensor(f, name, DTYPE_I32, 1, lshape, ds->labels);
	attrs_set_string(&f->attrs, "source", ds->kind);
	attrs_set_int(&f->attrs, "classes", ds->classes);
	attrs_set_strings(&f->attrs, "class_names", ds->class_names,
			  (size_t)ds->classes);
}

static int bad(const char *path, const char *what)
{
	return error("'%s': %s", path, what);
}

int dataset_file_load(struct dataset *ds, const struct pcqfile *f, const char *path,
		      enum split split)
{
	if (f->kind != KIND_DATASET)
		return error("'%s': is a %s file, expected a dataset file", path,
			     file_kind_name(f->kind));
	char name[64], msg[256];
	int64_t classes;
	const struct value *names = attrs_find(&f->attrs, "class_names");
	snprintf(name, sizeof(name), "%s.images", split_name(split));
	const struct tensor *img = pcqfile_tensor(f, name);
	snprintf(name, sizeof(name), "%s.labels", split_name(split));
	const struct tensor *lab = pcqfile_tensor(f, name);

	if (attrs_get_int(&f->attrs, path, "classes", &classes))
		return -1;
	if (classes < 1 || classes > 100000)
		return bad(path, "'classes' must be in [1, 100000]");
	if (!names || names->type != VALUE_STRING_ARRAY || names->n != (size_t)classes) {
		snprintf(msg, sizeof(msg), "'class_names' must be %lld strings",
			 (long long)classes);
		return bad(path, msg);
	}
	if (!img || !lab) {
		snprintf(msg, sizeof(msg), "no %s split (tensors %s.images and %s.labels)",
			 split_name(split), split_name(split), split_name(split));
		return bad(path, msg);
	}
	if (img->dtype != DTYPE_U8 || img->ndim != 4 || lab->dtype != DTYPE_I32 ||
	    lab->ndim != 1 || lab->shape[0] != img->shape[0])
		return bad(path, "images must be u8 (N, C, H, W) and labels i32 (N) with the same N");
	for (int d = 1; d < 4; d++)
		if (img->shape[d] < 1 || img->shape[d] > 65535)
			return bad(path, "image dimensions must be in [1, 65535]");
	const int32_t *labels = lab->data;
	for (int64_t i = 0; i < lab->shape[0]; i++)
		if (labels[i] < 0 || labels[i] >= classes) {
			snprintf(msg, sizeof(msg), "label %d of image %lld is outside [0, %lld)",
				 labels[i], (long long)i, (long long)classes);
			return bad(path, msg);
		}

	if (dataset_alloc(ds, path, (size_t)img->shape[0], (int)img->shape[1],
			  (int)img->shape[2], (int)img->shape[3]))
		return -1;
	dataset_set_class_names(ds, (const char *const *)names->strs, (int)classes);
	memcpy(ds->images, img->data, img->nbytes);
	memcpy(ds->labels, lab->data, lab->nbytes);
	return 0;
}

int dataset_file_read(struct dataset *ds, const char *path, enum split split,
		      int threads)
{
	(void)threads;
	struct pcqfile f;
	if (pcqfile_read(&f, path, KIND_DATASET, NULL))
		return -1;
	int rc = dataset_file_load(ds, &f, path, split);
	pcqfile_free(&f);
	return rc;
}

void dataset_digest(const struct dataset *ds, char hex[65])
{
	struct sha256 s;
	sha256_begin(&s);
	sha256_add(&s, ds->images, ds->n * (size_t)ds->c * ds->h * ds->w);
	sha256_add(&s, ds->labels, ds->n * sizeof(*ds->labels));
	sha256_end(&s, hex);
}
