/* Readers for MNIST and Fashion-MNIST in the IDX format
 * (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE MNIST DATABASE";
 * https://github.com/zalandoresearch/fashion-mnist).
 *
 * An IDX file is a big-endian header, magic 0x00000803 (unsigned bytes,
 * 3 dimensions: N, rows, cols) for images or 0x00000801 (1 dimension: N)
 * for labels, then the bytes row-major: (N, H, W) is (N, C=1, H, W) NCHW.
 * Each file may be gzip-compressed (name + ".gz") or not; zlib's gzread
 * reads both. Headers are untrusted: the pixel buffer grows with the data
 * actually read, so a huge N in a small file costs no memory. */
#include "dataset_readers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_CLASSES 10
#define IDX_CHUNK ((size_t)1 << 24) /* bytes per gzread, and first buffer */

static const char *const idx_files[SPLIT_COUNT][2] = {
	[SPLIT_TRAIN] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte" },
	[SPLIT_TEST] = { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" },
};

static const char *const mnist_names[IDX_CLASSES] = {
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
};

static const char *const fashion_names[IDX_CLASSES] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

/* The path of `base` in dir, raw or with .gz (the raw one when both exist);
 * NULL after an error when neither does. */
static char *find_file(const char *dir, const char *base)
{
	char *raw = path_join(dir, base);
	size_t len = strlen(raw);
	char *gz = xmalloc(len + 4);

	memcpy(gz, raw, len);
	memcpy(gz + len, ".gz", 4);
	if (path_exists(raw)) {
		free(gz);
		return raw;
	}
	if (path_exists(gz)) {
		free(raw);
		return gz;
	}
	error("'%s': no such file (nor '%s')", gz, raw);
	free(raw);
	free(gz);
	return NULL;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* " (why)" after a short read, or "" at a plain end of file. */
static const char *gz_why(gzFile gz, const char *file, char *buf,
			  size_t len)
{
	int errnum;
	const char *msg = gzerror(gz, &errnum);

	if (errnum == Z_OK)
		return "";
	if (errnum == Z_ERRNO)
		msg = strerror(errno);
	else if (!strncmp(msg, file, strlen(file)) &&
		 !strncmp(msg + strlen(file), ": ", 2))
		msg += strlen(file) + 2; /* zlib prefixes the path */
	snprintf(buf, len, " (%s)", msg);
	return buf;
}

/* Opens an IDX file and reads its header: magic, then ndims sizes. */
static gzFile idx_open(const char *file, uint32_t magic, int ndims,
		       uint32_t *dims)
{
	uint8_t head[4 + 4 * 3];
	char why[128];
	size_t want = 4 + 4 * (size_t)ndims;
	gzFile gz = gzopen(file, "rb");

	CHECK(ndims >= 1 && ndims <= 3);
	if (!gz) {
		error("'%s': cannot open: %s", file,
		      errno ? strerror(errno) : "out of memory");
		return NULL;
	}
	int got = gzread(gz, head, (unsigned)want);
	if (got < 0) {
		/* zlib checks a small file's CRC before it returns any byte */
		error("'%s': corrupt: cannot read its IDX header%s", file,
		      gz_why(gz, file, why, sizeof(why)));
		gzclose(gz);
		return NULL;
	}
	if ((size_t)got != want) {
		error("'%s': truncated: expected a %zu-byte IDX header, found %d "
		      "bytes%s", file, want, got,
		      gz_why(gz, file, why, sizeof(why)));
		gzclose(gz);
		return NULL;
	}
	if (be32(head) != magic) {
		error("'%s': bad magic 0x%08x (expected 0x%08x, an IDX %s file)",
		      file, be32(head), magic,
		      magic == IDX_IMAGES_MAGIC ? "images" : "labels");
		gzclose(gz);
		return NULL;
	}
	for (int i = 0; i < ndims; i++)
		dims[i] = be32(head + 4 + 4 * i);
	return gz;
}

/* Reads exactly `size` bytes into a new *out, growing the buffer with the
 * data; then checks nothing follows. */
static int gz_read_all(gzFile gz, const char *file, const char *what,
		       size_t size, uint8_t **out)
{
	size_t cap = size < IDX_CHUNK ? size : IDX_CHUNK, done = 0;
	uint8_t *buf = xmalloc(cap);
	uint8_t extra;
	char why[128];

	while (done < size) {
		if (done == cap) {
			cap = cap > size / 2 ? size : 2 * cap;
			buf = xrealloc(buf, cap);
		}
		size_t want = cap - done < IDX_CHUNK ? cap - done : IDX_CHUNK;
		int got = gzread(gz, buf + done, (unsigned)want);
		if (got <= 0) {
			error("'%s': %s: expected %zu bytes of %s, found %zu%s", file,
			      got < 0 ? "corrupt" : "truncated", size, what, done,
			      gz_why(gz, file, why, sizeof(why)));
			free(buf);
			return -1;
		}
		done += (size_t)got;
	}
	int more = gzread(gz, &extra, 1), errnum;
	/* A gzip file cut inside its 8-byte trailer ends cleanly for gzread
	 * (0 bytes), but unchecked: gzerror says so. */
	if (more == 0 && (gzerror(gz, &errnum), errnum != Z_OK)) {
		error("'%s': truncated after %zu bytes of %s%s", file, size, what,
		      gz_why(gz, file, why, sizeof(why)));
		free(buf);
		return -1;
	}
	if (more != 0) {
		if (more < 0)
			error("'%s': corrupt after %zu bytes of %s%s", file, size,
			      what, gz_why(gz, file, why, sizeof(why)));
		else
			error("'%s': unexpected data after %zu bytes of %s (the "
			      "header gives fewer items than the file holds)",
			      file, size, what);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static int read_images(struct dataset *ds, const char *file, uint32_t want_n,
		       const char *labels_file)
{
	uint32_t dims[3];
	size_t size;
	int ret = -1;
	gzFile gz = idx_open(file, IDX_IMAGES_MAGIC, 3, dims);

	if (!gz)
		return -1;
	if (dims[0] != want_n) {
		error("'%s': %u images, but '%s' has %u labels", file, dims[0],
		      labels_file, want_n);
	} else if (dims[0] == 0) {
		error("'%s': no images", file);
	} else if (dims[1] == 0 || dims[1] > DATASET_MAX_SIDE ||
		   dims[2] == 0 || dims[2] > DATASET_MAX_SIDE) {
		error("'%s': image size %ux%u (HxW) out of range (expected 1..%d "
		      "a side)",
		      file, dims[1], dims[2], DATASET_MAX_SIDE);
	} else if (size_mul((size_t)dims[1] * dims[2], dims[0], &size) < 0) {
		error("'%s': %u images of %ux%u overflow memory sizes", file,
		      dims[0], dims[1], dims[2]);
	} else if (gz_read_all(gz, file, "pixels", size, &ds->images) == 0) {
		ds->n = dims[0];
		ds->c = 1;
		ds->h = (int)dims[1];
		ds->w = (int)dims[2];
		ret = 0;
	}
	gzclose(gz);
	return ret;
}

static int read_labels(struct dataset *ds, const char *file, uint32_t *n)
{
	uint8_t *bytes = NULL;
	gzFile gz = idx_open(file, IDX_LABELS_MAGIC, 1, n);
	int ret = -1;

	if (!gz)
		return -1;
	if (gz_read_all(gz, file, "labels", *n, &bytes) < 0)
		goto out;
	for (uint32_t i = 0; i < *n; i++) {
		if (bytes[i] >= IDX_CLASSES) {
			error("'%s': label %u of item %u out of range (expected 0..%d)",
			      file, bytes[i], i, IDX_CLASSES - 1);
			goto out;
		}
	}
	size_t size;
	CHECK(size_mul(*n, sizeof(*ds->labels), &size) == 0);
	ds->labels = xmalloc(size);
	for (uint32_t i = 0; i < *n; i++)
		ds->labels[i] = bytes[i];
	ret = 0;
out:
	free(bytes);
	gzclose(gz);
	return ret;
}

static int idx_read(struct dataset *ds, const char *dir, enum split split,
		    const char *const *names)
{
	char *images = NULL, *labels = NULL;
	uint32_t n;
	int ret = -1;

	const char *problem = folder_problem(dir);
	if (problem) {
		error("'%s': %s (expected the folder of the IDX files %s[.gz], "
		      "...)", dir, problem, idx_files[split][0]);
		return -1;
	}
	if (!(images = find_file(dir, idx_files[split][0])) ||
	    !(labels = find_file(dir, idx_files[split][1])))
		goto out;
	/* Labels first: they are small and give N to check the images by. */
	if (read_labels(ds, labels, &n) < 0 || read_images(ds, images, n, labels) < 0)
		goto out;
	dataset_set_class_names(ds, names, IDX_CLASSES);
	ret = 0;
out:
	free(images);
	free(labels);
	return ret;
}

int dataset_mnist_read(struct dataset *ds, const char *path, enum split split,
		       int threads)
{
	(void)threads;
	return idx_read(ds, path, split, mnist_names);
}

int dataset_fashion_mnist_read(struct dataset *ds, const char *path,
			       enum split split, int threads)
{
	(void)threads;
	return idx_read(ds, path, split, fashion_names);
}
