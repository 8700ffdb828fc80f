/* dataset_load ("KIND:PATH" -> reader, through one table), dataset_free,
 * the deterministic subset and label histogram, and the helpers the
 * readers share (dataset_readers.h). See dataset.h. */
#include "dataset.h"
#include "dataset_file.h"
#include "dataset_readers.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

/* Adding a kind: its reader (dataset_readers.h) and one line here. */
static const struct {
	const char *name;
	dataset_reader_fn *read;
} readers[] = {
	{ "cifar10", dataset_cifar10_read },
	{ "cifar100", dataset_cifar100_read },
	{ "mnist", dataset_mnist_read },
	{ "fashion-mnist", dataset_fashion_mnist_read },
	{ "folder", dataset_folder_read },
	{ "dataset", dataset_file_read },
};
#define NREADERS (sizeof(readers) / sizeof(readers[0]))

const char *dataset_kinds(void)
{
	static char buf[256];
	size_t len = 0;

	for (size_t i = 0; i < NREADERS; i++) {
		const char *sep = i ? ", " : "";
		size_t need = strlen(sep) + strlen(readers[i].name);
		CHECK(len + need < sizeof(buf));
		memcpy(buf + len, sep, strlen(sep));
		memcpy(buf + len + strlen(sep), readers[i].name,
		       strlen(readers[i].name));
		len += need;
	}
	buf[len] = '\0';
	return buf;
}

static const char *const split_names[] = { "train", "test" };
_Static_assert(sizeof(split_names) / sizeof(split_names[0]) == SPLIT_COUNT,
	       "split_names must name every enum split");

const char *split_name(enum split s)
{
	CHECK((unsigned)s < SPLIT_COUNT);
	return split_names[s];
}

int split_parse(const char *s, enum split *out)
{
	for (int i = 0; i < SPLIT_COUNT; i++) {
		if (!strcmp(s, split_names[i])) {
			*out = (enum split)i;
			return 0;
		}
	}
	return -1;
}

static char *xstrndup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int dataset_load(struct dataset *ds, const char *spec, enum split split,
		 size_t limit, int threads)
{
	const char *colon = strchr(spec, ':');

	memset(ds, 0, sizeof(*ds));
	CHECK((unsigned)split < SPLIT_COUNT);
	if (!colon)
		return error("'%s': expected KIND:PATH, where KIND is one of: %s",
			     spec, dataset_kinds());
	size_t klen = (size_t)(colon - spec);
	size_t r;
	for (r = 0; r < NREADERS; r++)
		if (strlen(readers[r].name) == klen &&
		    !memcmp(readers[r].name, spec, klen))
			break;
	if (r == NREADERS)
		return error("'%s': unknown data set kind '%.*s' (known: %s)",
			     spec, (int)klen, spec, dataset_kinds());
	if (!colon[1])
		return error("'%s': empty PATH after '%.*s:'", spec, (int)klen,
			     spec);

	ds->kind = xstrndup(spec, klen);
	ds->path = xstrdup(colon + 1);
	ds->split = split;
	if (threads <= 0)
		threads = omp_get_max_threads();
	if (readers[r].read(ds, ds->path, split, threads) < 0) {
		dataset_free(ds);
		return -1;
	}
	CHECK(ds->images && ds->labels && ds->classes > 0);
	if (limit > 0)
		dataset_subset(ds, limit);
	return 0;
}

void dataset_free(struct dataset *ds)
{
	if (!ds)
		return;
	if (ds->class_names)
		for (int i = 0; i < ds->classes; i++)
			free(ds->class_names[i]);
	free(ds->class_names);
	free(ds->images);
	free(ds->labels);
	free(ds->kind);
	free(ds->path);
	memset(ds, 0, sizeof(*ds));
}

/* Keeps indices floor(i·n/limit), i = 0..limit-1. With n = q·limit + r the
 * index is i·q + floor(i·r/limit); the second term is stepped with a
 * remainder acc = (i·r) mod limit, so nothing is multiplied and nothing can
 * overflow. Each index is >= i, so copying forward in place is safe. */
void dataset_subset(struct dataset *ds, size_t limit)
{
	size_t n = ds->n;
	if (limit == 0 || limit >= n)
		return;
	size_t img = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
	size_t q = n / limit, r = n % limit, idx = 0, acc = 0;

	for (size_t i = 0; i < limit; i++) {
		CHECK(idx >= i && idx < n);
		if (idx != i) {
			memcpy(ds->images + i * img, ds->images + idx * img, img);
			ds->labels[i] = ds->labels[idx];
		}
		idx += q;
		if (acc >= limit - r) {
			acc -= limit - r;
			idx++;
		} else {
			acc += r;
		}
	}
	ds->n = limit;
	ds->images = xrealloc(ds->images, limit * img);
	ds->labels = xrealloc(ds->labels, limit * sizeof(*ds->labels));
}

void dataset_label_histogram(const struct dataset *ds, size_t *hist)
{
	memset(hist, 0, (size_t)ds->classes * sizeof(*hist));
	for (size_t i = 0; i < ds->n; i++) {
		CHECK(ds->labels[i] >= 0 && ds->labels[i] < ds->classes);
		hist[ds->labels[i]]++;
	}
}

/* Helpers for the readers (dataset_readers.h). */

int dataset_alloc(struct dataset *ds, const char *subject, size_t n,
		  int c, int h, int w)
{
	size_t img, total, lab;

	CHECK(c > 0 && h > 0 && w > 0 && !ds->images && !ds->labels);
	if (size_mul((size_t)c * (size_t)h, (size_t)w, &img) < 0 ||
	    size_mul(n, img, &total) < 0 ||
	    size_mul(n, sizeof(*ds->labels), &lab) < 0)
		return error("'%s': %zu images of %dx%dx%d bytes overflow memory "
			     "sizes", subject, n, c, h, w);
	ds->images = xmalloc(total);
	ds->labels = xmalloc(lab);
	ds->n = n;
	ds->c = c;
	ds->h = h;
	ds->w = w;
	return 0;
}

void dataset_set_class_names(struct dataset *ds, const char *const *names,
			     int count)
{
	CHECK(!ds->class_names && count > 0);
	ds->class_names = xcalloc((size_t)count, sizeof(*ds->class_names));
	ds->classes = count;
	for (int i = 0; i < count; i++)
		ds->class_names[i] = xstrdup(names[i]);
}

char *path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	int slash = dl > 0 && dir[dl - 1] != '/';
	char *p = xmalloc(dl + (size_t)slash + nl + 1);

	memcpy(p, dir, dl);
	if (slash)
		p[dl] = '/';
	memcpy(p + dl + (size_t)slash, name, nl + 1);
	return p;
}

int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *folder_problem(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return "no such folder";
	return S_ISDIR(st.st_mode) ? NULL : "not a folder";
}

int path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}
