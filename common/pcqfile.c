/* The PCQ container in memory: kinds, provenance, tensors and layers.
 * Reading is in pcqfile_read.c, writing in pcqfile_write.c. */
#include "pcqfile.h"

#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[] = {
	[KIND_MODEL] = "model",
	[KIND_FUSED] = "fused-model",
	[KIND_QUANTIZED] = "quantized-model",
	[KIND_KMEANS] = "kmeans",
	[KIND_DATASET] = "dataset",
	[KIND_PREDICTIONS] = "predictions",
	[KIND_TENSORS] = "tensors",
};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == KIND_COUNT,
	       "a name per file kind");

const char *file_kind_name(enum file_kind k)
{
	CHECK(k >= 0 && k < KIND_COUNT);
	return kind_names[k];
}

int file_kind_parse(const char *s, enum file_kind *out)
{
	for (int k = 0; k < KIND_COUNT; k++)
		if (strcmp(s, kind_names[k]) == 0) {
			*out = (enum file_kind)k;
			return 0;
		}
	return -1;
}

static void provenance_free(struct provenance *p)
{
	free(p->tool);
	free(p->tool_version);
	free(p->created);
	for (size_t i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	for (size_t i = 0; i < p->n_inputs; i++) {
		free(p->inputs[i].path);
		free(p->inputs[i].sha256);
	}
	free(p->inputs);
	memset(p, 0, sizeof(*p));
}

void pcqfile_free_provenance(struct pcqfile *f)
{
	provenance_free(&f->prov);
}

void provenance_init(struct provenance *p, int argc, char **argv)
{
	memset(p, 0, sizeof(*p));
	p->tool = xstrdup(program_name());
	p->tool_version = xstrdup(PCQ_VERSION);

	/* SOURCE_DATE_EPOCH pins the time so that reruns give the same bytes
	 * (reproducible-builds.org convention). */
	time_t now = time(NULL);
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	if (epoch && *epoch) {
		char *end;
		errno = 0;
		long long t = strtoll(epoch, &end, 10);
		if (errno || *end || t < 0)
			warn("SOURCE_DATE_EPOCH '%s' is not a count of seconds; using the clock", epoch);
		else
			now = (time_t)t;
	}
	struct tm tm;
	char buf[32];
	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	p->created = xstrdup(buf);

	p->argc = (size_t)argc;
	p->argv = xmalloc((size_t)argc * sizeof(*p->argv));
	for (int i = 0; i < argc; i++)
		p->argv[i] = xstrdup(argv[i]);
}

void provenance_add_input(struct provenance *p, const char *path, const char *sha256)
{
	p->inputs = xrealloc(p->inputs, (p->n_inputs + 1) * sizeof(*p->inputs));
	p->inputs[p->n_inputs].path = xstrdup(path);
	p->inputs[p->n_inputs].sha256 = xstrdup(sha256);
	p->n_inputs++;
}

void provenance_set_seed(struct provenance *p, int64_t seed)
{
	p->has_seed = 1;
	p->seed = seed;
}

void pcqfile_free(struct pcqfile *f)
{
	if (!f)
		return;
	provenance_free(&f->prov);
	attrs_free(&f->attrs);
	for (size_t i = 0; i < f->n_layers; i++) {
		struct layer *l = &f->layers[i];
		free(l->name);
		free(l->op);
		for (size_t j = 0; j < l->n_inputs; j++)
			free(l->inputs[j]);
		free(l->inputs);
		attrs_free(&l->params);
	}
	free(f->layers);
	for (size_t i = 0; i < f->n_tensors; i++) {
		free(f->tensors[i].name);
		free(f->tensors[i].data);
	}
	free(f->tensors);
	memset(f, 0, sizeof(*f));
}

const struct tensor *pcqfile_tensor(const struct pcqfile *f, const char *name)
{
	for (size_t i = 0; i < f->n_tensors; i++)
		if (strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

struct tensor *pcqfile_add_tensor(struct pcqfile *f, const char *name,
				  enum dtype dtype, int ndim, const int64_t *shape,
				  const void *data)
{
	size_t numel;
	CHECK(ndim >= 0 && ndim <= TENSOR_MAX_DIMS);
	CHECK(!pcqfile_tensor(f, name));
	CHECK(shape_numel(shape, ndim, dtype, &numel) == 0);
	f->tensors = xrealloc(f->tensors, (f->n_tensors + 1) * sizeof(*f->tensors));
	struct tensor *t = &f->tensors[f->n_tensors++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->dtype = dtype;
	t->ndim = ndim;
	memcpy(t->shape, shape, (size_t)ndim * sizeof(*shape));
	t->nbytes = numel * dtype_size(dtype);
	t->data = xmalloc(t->nbytes);
	if (data && t->nbytes)
		memcpy(t->data, data, t->nbytes);
	else if (t->nbytes)
		memset(t->data, 0, t->nbytes);
	return t;
}

struct layer *pcqfile_add_layer(struct pcqfile *f, const char *name,
				const char *op, const char *const *inputs,
				size_t n_inputs)
{
	f->layers = xrealloc(f->layers, (f->n_layers + 1) * sizeof(*f->layers));
	struct layer *l = &f->layers[f->n_layers++];
	memset(l, 0, sizeof(*l));
	l->name = xstrdup(name);
	l->op = xstrdup(op);
	l->n_inputs = n_inputs;
	l->inputs = xmalloc(n_inputs * sizeof(*l->inputs));
	for (size_t i = 0; i < n_inputs; i++)
		l->inputs[i] = xstrdup(inputs[i]);
	return l;
}
