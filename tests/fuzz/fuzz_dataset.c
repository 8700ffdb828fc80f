/* Fuzz target: any bytes as the files of a data set, read as `--data`
 * reads them: a JPEG or a PNG image decoded (image_decode.c, libjpeg and
 * libpng underneath), Fashion-MNIST's IDX label and image files (raw or
 * gzip: zlib), a CIFAR-10 test batch with its class-name file, or an
 * image folder of two classes, one image each.
 * The contract (dataset.h): a reader either returns a data set that
 * keeps dataset.h's promises — N ≥ 1 images of C ∈ {1, 3} channels and
 * sides 1..DATASET_MAX_SIDE, labels in [0, classes), every class named —
 * or refuses with exactly one line; what the tools do first with a data
 * set (normalise it, fill an augmented batch, compute k-means features)
 * refuses with one line or gives finite numbers; it never reads out of bounds, leaks
 * or trips UBSan. The decoder, which prints nothing, returns an image of
 * sides 1..max_side or a reason. Built by `make fuzz`;
 * test_fuzz_dataset replays tests/fuzz/corpus/fuzz_dataset in every build.
 *
 * Input: byte 0 picks the reader (mod 5); the readers of two files take a
 * little-endian 16-bit length of the first at bytes 1–2 (cut to what
 * follows) and the rest is the second. */
#include "fuzz_dataset.h"

#include "check.h"
#include "dataset.h"
#include "dataset_readers.h"
#include "image_decode.h"
#include "batch.h"
#include "kmeans_features.h"
#include "normalize.h"
#include "threads.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's own bound on the sides of the images it decodes itself
 * (the readers allow DATASET_MAX_SIDE): a 4096² image is valid but slow
 * to fuzz. */
#define MAX_SIDE 512
/* and on the images whose use it tries (a batch of two, their features) */
#define MAX_IMAGE_VALUES (1 << 16)

/* This process's scratch folder (in /dev/shm when it exists), made once
 * and removed at exit. */
static char scratch[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_scratch(void)
{
	if (nftw(scratch, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "fuzz_dataset: could not remove %s\n", scratch);
}

static const char *scratch_dir(void)
{
	if (!scratch[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(scratch, sizeof(scratch), "%s/fuzz-dataset-XXXXXX", base);
		CHECK(mkdtemp(scratch));
		atexit(remove_scratch);
	}
	return scratch;
}

/* scratch/rel as a new path (a folder on the way is made). */
static char *scratch_path(const char *rel)
{
	const char *dir = scratch_dir();
	size_t len = strlen(dir) + 1 + strlen(rel) + 1;
	char *p = xmalloc(len);
	snprintf(p, len, "%s/%s", dir, rel);
	for (char *slash = strchr(p + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0700);
		*slash = '/';
	}
	return p;
}

/* Writes bytes to scratch/rel; NULL bytes: removes it. */
static void put(const char *rel, const uint8_t *bytes, size_t size)
{
	char *p = scratch_path(rel);
	if (!bytes) {
		unlink(p);
	} else {
		FILE *fp = fopen(p, "wb");
		CHECK(fp && fwrite(bytes, 1, size, fp) == size && fclose(fp) == 0);
	}
	free(p);
}

struct parts {
	const uint8_t *a, *b;
	size_t na, nb;
};

/* The two files in data[size] (after the selector byte). */
static struct parts split_parts(const uint8_t *data, size_t size)
{
	struct parts p = { .a = data, .b = data };
	if (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		data += 2;
		size -= 2;
		p.na = len < size ? len : size;
		p.a = data;
		p.b = data + p.na;
		p.nb = size - p.na;
	}
	return p;
}

/* Reads every byte of p[n], so that ASan sees a buffer shorter than it
 * should be (the sum goes where the compiler cannot drop it). */
volatile unsigned fuzz_dataset_sink;

static void touch(const uint8_t *p, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += p[i];
	fuzz_dataset_sink += sum;
}

static int decode(const uint8_t *data, size_t size, enum image_format format)
{
	struct image img;
	char err[256] = "";
	if (image_decode(&img, data, size, format, MAX_SIDE, err, sizeof(err)) < 0)
		return err[0] && !strchr(err, '\n') ? -1 : FUZZ_MESSAGES;
	int valid = img.h >= 1 && img.h <= MAX_SIDE && img.w >= 1 && img.w <= MAX_SIDE;
	if (valid)
		touch(img.rgb, (size_t)img.h * (size_t)img.w * 3);
	image_free(&img);
	return valid ? 0 : FUZZ_INVALID;
}

/* What dataset.h promises of a data set a reader returned. */
static int keeps_promises(const struct dataset *ds)
{
	if (ds->n < 1 || (ds->c != 1 && ds->c != 3) || ds->h < 1 || ds->w < 1 ||
	    ds->h > DATASET_MAX_SIDE || ds->w > DATASET_MAX_SIDE || ds->classes < 1 ||
	    !ds->class_names || !ds->images || !ds->labels)
		return 0;
	for (int k = 0; k < ds->classes; k++)
		if (!ds->class_names[k])
			return 0;
	for (size_t i = 0; i < ds->n; i++)
		if (ds->labels[i] < 0 || ds->labels[i] >= ds->classes)
			return 0;
	touch(ds->images, ds->n * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w);
	return 1;
}

static int all_finite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

/* What pcq-train and pcq-kmeans do first with a data set: normalise by
 * its own statistics, fill an augmented batch (a random crop of the image
 * padded by 4, a flip) and compute k-means features (4 partitions), each
 * refusing with one line or giving finite numbers. */
static int use(struct dataset *ds)
{
	if ((size_t)ds->c * (size_t)ds->h * (size_t)ds->w > MAX_IMAGE_VALUES)
		return 0;
	struct norm norm;
	fuzz_step();
	int chosen = norm_choose(&norm, "data", ds);
	if (!fuzz_said(chosen))
		return FUZZ_MESSAGES;
	if (chosen < 0)
		return 0;   /* a constant channel: refused, as the tools refuse it */
	int n = ds->n < 2 ? (int)ds->n : 2, rc = 0;
	size_t values = (size_t)n * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
	const size_t idx[2] = { 0, ds->n - 1 };
	float *x = xmalloc(values * sizeof(float));
	int32_t labels[2];
	batch_fill(x, labels, ds, idx, n, &norm, 1, 7);
	if (!all_finite(x, values) || labels[0] != ds->labels[0])
		rc = FUZZ_INVALID;
	free(x);
	fuzz_step();
	int features = kmeans_features_check(ds->c, ds->h, ds->w, 4);
	if (!fuzz_said(features))
		return FUZZ_MESSAGES;
	if (rc == 0 && features == 0) {
		size_t length = (size_t)kmeans_feature_length(ds->c, 4);
		float *f = xmalloc(ds->n * length * sizeof(float));
		if (kmeans_dataset_features(f, ds, NULL, ds->n, &norm, 4) < 0 ||
		    !all_finite(f, ds->n * length))
			rc = FUZZ_INVALID;
		free(f);
	}
	return rc;
}

/* dataset_load on KIND:scratch/sub, held to the one-line rule and to
 * dataset.h's promises, then used as the tools use it; a data set of more
 * than one image is also cut to its first as --limit 1 would. */
static int load(const char *kind, const char *sub, enum split split)
{
	char *dir = scratch_path(sub);
	size_t len = strlen(kind) + 1 + strlen(dir) + 1;
	char *spec = xmalloc(len);
	snprintf(spec, len, "%s:%s", kind, dir);
	struct dataset ds = { 0 };
	fuzz_step();
	int rc = dataset_load(&ds, spec, split, 0, 1);
	if (!fuzz_said(rc))
		rc = FUZZ_MESSAGES;
	else if (rc == 0 && !keeps_promises(&ds))
		rc = FUZZ_INVALID;
	if (rc == 0)
		rc = use(&ds);
	if (rc == 0 && ds.n > 1) {
		dataset_subset(&ds, 1);
		if (ds.n != 1)
			rc = FUZZ_INVALID;
	}
	dataset_free(&ds);
	free(spec);
	free(dir);
	return rc < 0 ? -1 : rc;
}

int fuzz_dataset_run(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	int reader = data[0] % 5;
	struct parts p = split_parts(data + 1, size - 1);
	switch (reader) {
	case 0:
		return decode(data + 1, size - 1, IMAGE_JPEG);
	case 1:
		return decode(data + 1, size - 1, IMAGE_PNG);
	case 2: /* the labels, then the images */
		put("idx/train-labels-idx1-ubyte", p.a, p.na);
		put("idx/train-images-idx3-ubyte", p.b, p.nb);
		return load("fashion-mnist", "idx", SPLIT_TRAIN);
	case 3: /* the class names (none when empty), then the records */
		put("cifar/batches.meta.txt", p.na ? p.a : NULL, p.na);
		put("cifar/test_batch.bin", p.b, p.nb);
		return load("cifar10", "cifar", SPLIT_TEST);
	default: /* a PNG in class "a", a JPEG in class "b" (none when empty) */
		put("folder/test/a/0.png", p.a, p.na);
		put("folder/test/b/1.jpg", p.nb ? p.b : NULL, p.nb);
		if (!p.nb) {
			char *b = scratch_path("folder/test/b");
			rmdir(b);
			free(b);
		}
		return load("folder", "folder", SPLIT_TEST);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		threads_set(1);
	int rc = fuzz_dataset_run(data, size);
	if (rc > 0) {
		fprintf(stderr, "fuzz_dataset: %s\n", fuzz_failure(rc));
		abort();
	}
	return 0;
}
