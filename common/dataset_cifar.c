/* Readers for the official CIFAR-10 and CIFAR-100 binary releases
 * (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version").
 *
 * A record is the label byte(s) followed by 3072 pixel bytes: 1024 red,
 * 1024 green, 1024 blue, each a row-major 32x32 plane, which is already
 * one (C=3, H=32, W=32) NCHW image. CIFAR-10 has one label byte; CIFAR-100
 * has a coarse and a fine label byte, and we use the fine one. A file may
 * hold any positive number of records (tests use small ones). */
#include "dataset_readers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_MAX_FILES 5
#define CIFAR_BLOCK 1024 /* records per fread */

struct cifar_layout {
	const char *name;                  /* "CIFAR-10", for messages */
	const char *subdir;                /* folder inside the release tarball */
	const char *files[SPLIT_COUNT][CIFAR_MAX_FILES + 1]; /* NULL-ended */
	int label_bytes;                   /* label bytes before the pixels */
	int label_at;                      /* the one used: 0 or 1 */
	int classes;
	const char *names_file;            /* one class name a line, optional */
	const char *const *default_names;  /* NULL: "0", "1", ... */
};

static const char *const cifar10_names[] = {
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
};

static const struct cifar_layout cifar10 = {
	.name = "CIFAR-10",
	.subdir = "cifar-10-batches-bin",
	.files = {
		[SPLIT_TRAIN] = { "data_batch_1.bin", "data_batch_2.bin",
				  "data_batch_3.bin", "data_batch_4.bin",
				  "data_batch_5.bin", NULL },
		[SPLIT_TEST] = { "test_batch.bin", NULL },
	},
	.label_bytes = 1,
	.label_at = 0,
	.classes = 10,
	.names_file = "batches.meta.txt",
	.default_names = cifar10_names,
};

static const struct cifar_layout cifar100 = {
	.name = "CIFAR-100",
	.subdir = "cifar-100-binary",
	.files = {
		[SPLIT_TRAIN] = { "train.bin", NULL },
		[SPLIT_TEST] = { "test.bin", NULL },
	},
	.label_bytes = 2,
	.label_at = 1,
	.classes = 100,
	.names_file = "fine_label_names.txt",
	.default_names = NULL,
};

/* Reads the class names file into ds when it exists: one name a line,
 * blank lines and trailing blanks ignored, exactly L->classes names. */
static int read_class_names(struct dataset *ds, const char *dir,
			    const struct cifar_layout *L)
{
	char *file = path_join(dir, L->names_file);
	char **names = xcalloc((size_t)L->classes, sizeof(*names));
	char *line = NULL;
	size_t cap = 0;
	int count = 0, ret = 0;
	ssize_t len;
	FILE *f = fopen(file, "r");

	if (!f) {
		if (errno != ENOENT)
			ret = error("'%s': cannot open: %s", file, strerror(errno));
		goto out;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
				   line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (count == L->classes) {
			ret = error("'%s': more than %d class names", file,
				    L->classes);
			goto out;
		}
		names[count++] = xstrdup(line);
	}
	if (ferror(f))
		ret = error("'%s': read error: %s", file, strerror(errno));
	else if (count != L->classes)
		ret = error("'%s': expected %d class names, found %d", file,
			    L->classes, count);
	else
		dataset_set_class_names(ds, (const char *const *)names, count);
out:
	if (f)
		fclose(f);
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	free(line);
	free(file);
	return ret;
}

static void set_default_names(struct dataset *ds, const struct cifar_layout *L)
{
	if (L->default_names) {
		dataset_set_class_names(ds, L->default_names, L->classes);
		return;
	}
	ds->class_names = xcalloc((size_t)L->classes, sizeof(*ds->class_names));
	ds->classes = L->classes;
	for (int i = 0; i < L->classes; i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", i);
		ds->class_names[i] = xstrdup(buf);
	}
}

/* Reads `count` records of `file` into ds from image `first` on. */
static int read_records(struct dataset *ds, const char *file, size_t first,
			size_t count, const struct cifar_layout *L)
{
	size_t rec = (size_t)L->label_bytes + CIFAR_PIXELS;
	uint8_t *block = xmalloc(CIFAR_BLOCK * rec);
	FILE *f = fopen(file, "rb");
	int ret = 0;

	if (!f) {
		ret = error("'%s': cannot open: %s", file, strerror(errno));
		goto out;
	}
	for (size_t done = 0; done < count;) {
		size_t want = count - done < CIFAR_BLOCK ? count - done : CIFAR_BLOCK;
		size_t got = fread(block, rec, want, f);
		if (got != want) {
			ret = error("'%s': truncated: expected %zu records, found %zu%s",
				    file, count, done + got,
				    ferror(f) ? " (read error)" : "");
			goto out;
		}
		for (size_t k = 0; k < got; k++) {
			const uint8_t *r = block + k * rec;
			int label = r[L->label_at];
			if (label >= L->classes) {
				ret = error("'%s': record %zu: label %d out of range "
					    "(expected 0..%d)", file, done + k,
					    label, L->classes - 1);
				goto out;
			}
			size_t i = first + done + k;
			ds->labels[i] = label;
			memcpy(ds->images + i * CIFAR_PIXELS, r + L->label_bytes,
			       CIFAR_PIXELS);
		}
		done += got;
	}
out:
	if (f)
		fclose(f);
	free(block);
	return ret;
}

static int cifar_read(struct dataset *ds, const char *path, enum split split,
		      const struct cifar_layout *L)
{
	const char *const *names = L->files[split];
	size_t rec = (size_t)L->label_bytes + CIFAR_PIXELS;
	size_t counts[CIFAR_MAX_FILES], total = 0, first = 0;
	char *files[CIFAR_MAX_FILES] = { 0 };
	char *sub = path_join(path, L->subdir);
	const char *dir = is_dir(sub) ? sub : path;
	int nfiles = 0, ret = -1;

	const char *problem = folder_problem(dir);
	if (problem) {
		error("'%s': %s (expected the %s binary release, or the folder "
		      "holding %s/)", path, problem, L->name, L->subdir);
		goto out;
	}
	/* Check every file's size before reading any. */
	for (nfiles = 0; names[nfiles]; nfiles++) {
		struct stat st;
		char *file = files[nfiles] = path_join(dir, names[nfiles]);
		if (stat(file, &st) < 0) {
			error("'%s': cannot open: %s (expected the %s binary release)",
			      file, strerror(errno), L->name);
			nfiles++;
			goto out;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0) {
			error("'%s': %s (expected records of %zu bytes)", file,
			      S_ISREG(st.st_mode) ? "empty file" : "not a regular file",
			      rec);
			nfiles++;
			goto out;
		}
		if ((size_t)st.st_size % rec != 0) {
			error("'%s': size %lld is not a multiple of the %zu-byte record",
			      file, (long long)st.st_size, rec);
			nfiles++;
			goto out;
		}
		counts[nfiles] = (size_t)st.st_size / rec;
		total += counts[nfiles];
	}
	if (dataset_alloc(ds, dir, total, 3, CIFAR_SIDE, CIFAR_SIDE) < 0)
		goto out;
	for (int k = 0; k < nfiles; k++) {
		if (read_records(ds, files[k], first, counts[k], L) < 0)
			goto out;
		first += counts[k];
	}
	if (read_class_names(ds, dir, L) < 0)
		goto out;
	if (!ds->class_names)
		set_default_names(ds, L);
	ret = 0;
out:
	for (int k = 0; k < nfiles; k++)
		free(files[k]);
	free(sub);
	return ret;
}

int dataset_cifar10_read(struct dataset *ds, const char *path,
			 enum split split, int threads)
{
	(void)threads;
	return cifar_read(ds, path, split, &cifar10);
}

int dataset_cifar100_read(struct dataset *ds, const char *path,
			  enum split split, int threads)
{
	(void)threads;
	return cifar_read(ds, path, split, &cifar100);
}
