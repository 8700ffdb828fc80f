/* The image-folder reader: DIR/<split>/<class>/<image>.jpg|.jpeg|.png,
 * with the labelling of torchvision's ImageFolder
 * (https://pytorch.org/vision/stable/generated/torchvision.datasets.ImageFolder.html):
 * class folders sorted by name (byte order) give labels 0, 1, ...
 * Names starting with '.' are skipped; within a class, files are taken in
 * name order. Every image must have the shape of the first one.
 *
 * The files are listed first, then read and decoded in parallel (OpenMP).
 * A failing image records its error; after the loop the one with the
 * lowest index is reported, so the message does not depend on threads. */
#include "dataset_readers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "image_decode.h"

/* Bytes; a larger file is no image this reader is meant for. */
#define MAX_IMAGE_FILE ((size_t)64 << 20)
#define MSG_MAX 8192

struct item {
	char *path;   /* DIR/<split>/<class>/<name> */
	int32_t label;
	int format;   /* enum image_format */
};

struct item_list {
	struct item *v;
	size_t n, cap;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The entries of dir not starting with '.', sorted with strcmp. */
static int list_dir(const char *dir, char ***out, size_t *count)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d)
		return error("'%s': cannot open folder: %s", dir, strerror(errno));
	while ((errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	if (errno) {
		int ret = error("'%s': cannot read folder: %s", dir,
				strerror(errno));
		closedir(d);
		free_names(names, n);
		return ret;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*count = n;
	return 0;
}

/* Adds the images of one class folder to items. */
static int list_class(struct item_list *items, const char *dir, int32_t label)
{
	char **names;
	size_t n, added = 0;
	int ret = 0;

	if (list_dir(dir, &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *path = path_join(dir, names[i]);
		int format = image_format_from_name(names[i]);
		struct stat st;

		if (stat(path, &st) < 0)
			ret = error("'%s': cannot open: %s", path, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			ret = error("'%s': a folder inside a class folder (expected "
				    ".jpg, .jpeg or .png files only)", path);
		else if (!S_ISREG(st.st_mode) || format < 0)
			ret = error("'%s': not an image (expected .jpg, .jpeg or "
				    ".png)", path);
		if (ret < 0) {
			free(path);
			break;
		}
		if (items->n == items->cap) {
			items->cap = items->cap ? 2 * items->cap : 1024;
			items->v = xrealloc(items->v, items->cap * sizeof(*items->v));
		}
		items->v[items->n++] = (struct item){ path, label, format };
		added++;
	}
	if (ret == 0 && added == 0)
		ret = error("'%s': empty class folder (expected .jpg, .jpeg or "
			    ".png images)", dir);
	free_names(names, n);
	return ret;
}

/* Reads a whole file into *buf (grown as needed); a message in msg on
 * failure. Thread-safe: prints nothing. */
static int read_file(const char *path, uint8_t **buf, size_t *cap,
		     size_t *size, char *msg)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	size_t done = 0;

	char eb[128];

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(msg, MSG_MAX, "'%s': cannot open: %s", path,
			 strerror_r(errno, eb, sizeof(eb)));
		goto fail;
	}
	if (st.st_size <= 0 || (size_t)st.st_size > MAX_IMAGE_FILE) {
		snprintf(msg, MSG_MAX, "'%s': size %lld out of range (expected "
			 "1..%zu bytes)", path, (long long)st.st_size,
			 MAX_IMAGE_FILE);
		goto fail;
	}
	*size = (size_t)st.st_size;
	if (*size > *cap) {
		free(*buf);
		*buf = xmalloc(*size);
		*cap = *size;
	}
	while (done < *size) {
		ssize_t got = read(fd, *buf + done, *size - done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(msg, MSG_MAX, "'%s': truncated: expected %zu bytes, "
				 "found %zu%s%s", path, *size, done,
				 got < 0 ? ": " : "",
				 got < 0 ? strerror_r(errno, eb, sizeof(eb)) : "");
			goto fail;
		}
		done += (size_t)got;
	}
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Reads and decodes one item into *img; a message in msg on failure. */
static int decode_item(struct image *img, const struct item *it,
		       uint8_t **buf, size_t *cap, char *msg)
{
	char why[512];
	size_t size;

	if (read_file(it->path, buf, cap, &size, msg) < 0)
		return -1;
	if (image_decode(img, *buf, size, (enum image_format)it->format,
			 DATASET_MAX_SIDE, why, sizeof(why)) < 0) {
		snprintf(msg, MSG_MAX, "'%s': %s", it->path, why);
		return -1;
	}
	return 0;
}

/* Stores img, (H, W, 3), as image i of ds, (N, 3, H, W), and frees it. */
static void store_image(struct dataset *ds, size_t i, struct image *img,
			int32_t label)
{
	size_t plane = (size_t)ds->h * (size_t)ds->w;
	uint8_t *dst = ds->images + i * 3 * plane;

	CHECK(img->h == ds->h && img->w == ds->w);
	for (size_t p = 0; p < plane; p++) {
		dst[p] = img->rgb[3 * p];
		dst[plane + p] = img->rgb[3 * p + 1];
		dst[2 * plane + p] = img->rgb[3 * p + 2];
	}
	ds->labels[i] = label;
	image_free(img);
}

/* Loads item i (not the first) into ds, whose shape is set. */
static int load_image(struct dataset *ds, const struct item *items, size_t i,
		      uint8_t **buf, size_t *cap, char *msg)
{
	struct image img;

	if (decode_item(&img, &items[i], buf, cap, msg) < 0)
		return -1;
	if (img.h != ds->h || img.w != ds->w) {
		snprintf(msg, MSG_MAX, "'%s': image is %dx%d (HxW), expected %dx%d "
			 "like the first image '%s'", items[i].path, img.h, img.w,
			 ds->h, ds->w, items[0].path);
		image_free(&img);
		return -1;
	}
	store_image(ds, i, &img, items[i].label);
	return 0;
}

/* Loads items[1..n) in parallel; item 0 is loaded already. */
static int load_rest(struct dataset *ds, const struct item *items, size_t n,
		     int threads)
{
	size_t bad = SIZE_MAX;
	char *bad_msg = xmalloc(MSG_MAX);

#pragma omp parallel num_threads(threads)
	{
		uint8_t *buf = NULL;
		size_t cap = 0;
		char *msg = xmalloc(MSG_MAX);

#pragma omp for schedule(dynamic, 64)
		for (size_t i = 1; i < n; i++) {
			size_t first_bad;
#pragma omp atomic read
			first_bad = bad;
			if (i > first_bad)
				continue; /* a lower index failed: skip the rest */
			if (load_image(ds, items, i, &buf, &cap, msg) < 0) {
#pragma omp critical(dataset_folder_error)
				if (i < bad) {
					memcpy(bad_msg, msg, MSG_MAX);
#pragma omp atomic write
					bad = i;
				}
			}
		}
		free(msg);
		free(buf);
	}
	int ret = bad == SIZE_MAX ? 0 : error("%s", bad_msg);
	free(bad_msg);
	return ret;
}

int dataset_folder_read(struct dataset *ds, const char *path,
			enum split split, int threads)
{
	char *root = path_join(path, split_name(split));
	struct item_list items = { 0 };
	char **classes = NULL;
	size_t nclasses = 0;
	int ret = -1;

	const char *bad = path, *problem = folder_problem(path);
	if (!problem) {
		bad = root;
		problem = folder_problem(root);
	}
	if (problem) {
		error("'%s': %s (expected %s/<class>/*.jpg|png)", bad, problem,
		      root);
		goto out;
	}
	if (list_dir(root, &classes, &nclasses) < 0)
		goto out;
	/* Plain files beside the class folders (a README) are ignored. */
	size_t keep = 0;
	for (size_t k = 0; k < nclasses; k++) {
		char *dir = path_join(root, classes[k]);
		if (is_dir(dir))
			classes[keep++] = classes[k];
		else
			free(classes[k]);
		free(dir);
	}
	nclasses = keep;
	if (nclasses == 0) {
		error("'%s': no class folders (expected %s/<class>/*.jpg|png)",
		      root, root);
		goto out;
	}
	if (nclasses > INT32_MAX) {
		error("'%s': %zu class folders is too many", root, nclasses);
		goto out;
	}
	for (size_t k = 0; k < nclasses; k++) {
		char *dir = path_join(root, classes[k]);
		int r = list_class(&items, dir, (int32_t)k);
		free(dir);
		if (r < 0)
			goto out;
	}
	dataset_set_class_names(ds, (const char *const *)classes,
				(int)nclasses);

	/* The first image gives the shape. */
	struct image first;
	char *msg = xmalloc(MSG_MAX);
	uint8_t *buf = NULL;
	size_t cap = 0;
	int r = decode_item(&first, &items.v[0], &buf, &cap, msg);
	free(buf);
	if (r < 0)
		error("%s", msg);
	free(msg);
	if (r < 0)
		goto out;
	if (dataset_alloc(ds, root, items.n, 3, first.h, first.w) < 0) {
		image_free(&first);
		goto out;
	}
	store_image(ds, 0, &first, items.v[0].label);
	ret = load_rest(ds, items.v, items.n, threads);
out:
	for (size_t i = 0; i < items.n; i++)
		free(items.v[i].path);
	free(items.v);
	free_names(classes, nclasses);
	free(root);
	return ret;
}
