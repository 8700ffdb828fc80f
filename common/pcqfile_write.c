/* Writing a PCQ file (docs/FORMAT.md): msgpack packed straight into an
 * atomic output (fileio.h), so nothing half-written is ever left behind. */
#include "pcqfile.h"

#include "check.h"
#include "fileio.h"

#include <msgpack.h>
#include <msgpack/fbuffer.h>
#include <string.h>

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_value(msgpack_packer *pk, const struct value *v)
{
	switch (v->type) {
	case VALUE_INT:
		msgpack_pack_int64(pk, v->i);
		break;
	case VALUE_FLOAT:
		msgpack_pack_double(pk, v->f);
		break;
	case VALUE_STRING:
		pack_str(pk, v->s);
		break;
	case VALUE_INT_ARRAY:
		msgpack_pack_array(pk, v->n);
		for (size_t i = 0; i < v->n; i++)
			msgpack_pack_int64(pk, v->ints[i]);
		break;
	case VALUE_FLOAT_ARRAY:
		msgpack_pack_array(pk, v->n);
		for (size_t i = 0; i < v->n; i++)
			msgpack_pack_double(pk, v->floats[i]);
		break;
	case VALUE_STRING_ARRAY:
		msgpack_pack_array(pk, v->n);
		for (size_t i = 0; i < v->n; i++)
			pack_str(pk, v->strs[i]);
		break;
	case VALUE_TYPE_COUNT:
		CHECK(!"a value has a type");
	}
}

static void pack_attrs(msgpack_packer *pk, const struct attrs *a)
{
	msgpack_pack_map(pk, a->n);
	for (size_t i = 0; i < a->n; i++) {
		pack_str(pk, a->items[i].key);
		pack_value(pk, &a->items[i].v);
	}
}

static void pack_meta(msgpack_packer *pk, const struct provenance *p)
{
	msgpack_pack_map(pk, 5 + (p->has_seed ? 1 : 0));
	pack_str(pk, "tool");
	pack_str(pk, p->tool);
	pack_str(pk, "tool_version");
	pack_str(pk, p->tool_version);
	pack_str(pk, "created");
	pack_str(pk, p->created);
	pack_str(pk, "command");
	msgpack_pack_array(pk, p->argc);
	for (size_t i = 0; i < p->argc; i++)
		pack_str(pk, p->argv[i]);
	pack_str(pk, "inputs");
	msgpack_pack_array(pk, p->n_inputs);
	for (size_t i = 0; i < p->n_inputs; i++) {
		msgpack_pack_map(pk, 2);
		pack_str(pk, "path");
		pack_str(pk, p->inputs[i].path);
		pack_str(pk, "sha256");
		pack_str(pk, p->inputs[i].sha256);
	}
	if (p->has_seed) {
		pack_str(pk, "seed");
		msgpack_pack_int64(pk, p->seed);
	}
}

static void pack_layer(msgpack_packer *pk, const struct layer *l)
{
	msgpack_pack_map(pk, 4);
	pack_str(pk, "name");
	pack_str(pk, l->name);
	pack_str(pk, "op");
	pack_str(pk, l->op);
	pack_str(pk, "inputs");
	msgpack_pack_array(pk, l->n_inputs);
	for (size_t i = 0; i < l->n_inputs; i++)
		pack_str(pk, l->inputs[i]);
	pack_str(pk, "params");
	pack_attrs(pk, &l->params);
}

static void pack_tensor(msgpack_packer *pk, const struct tensor *t, const void *data)
{
	msgpack_pack_map(pk, 4);
	pack_str(pk, "name");
	pack_str(pk, t->name);
	pack_str(pk, "dtype");
	pack_str(pk, dtype_name(t->dtype));
	pack_str(pk, "shape");
	msgpack_pack_array(pk, (size_t)t->ndim);
	for (int i = 0; i < t->ndim; i++)
		msgpack_pack_int64(pk, t->shape[i]);
	pack_str(pk, "data");
	msgpack_pack_bin(pk, t->nbytes);
	msgpack_pack_bin_body(pk, data, t->nbytes);
}

int pcqfile_write(const struct pcqfile *f, const char *path)
{
	return pcqfile_write_from(f, path, NULL, NULL);
}

int pcqfile_write_from(const struct pcqfile *f, const char *path,
		       const void *(*values)(void *ctx, const struct tensor *t), void *ctx)
{
	struct outfile out;
	if (outfile_open(&out, path))
		return -1;
	pcqfile_pack(f, out.fp, values, ctx);
	/* Write errors stick in the stream's error flag; commit checks it
	 * (and the flush and close), removing the temporary file on failure. */
	return outfile_commit(&out);
}

void pcqfile_pack(const struct pcqfile *f, FILE *fp,
		  const void *(*values)(void *ctx, const struct tensor *t), void *ctx)
{
	CHECK(f->prov.tool && f->prov.created);
	msgpack_packer pk;
	msgpack_packer_init(&pk, fp, msgpack_fbuffer_write);
	int has_graph = f->n_layers > 0;
	msgpack_pack_map(&pk, 6 + has_graph);
	pack_str(&pk, "format");
	pack_str(&pk, PCQ_FORMAT_NAME);
	pack_str(&pk, "version");
	msgpack_pack_int(&pk, PCQ_FORMAT_VERSION);
	pack_str(&pk, "kind");
	pack_str(&pk, file_kind_name(f->kind));
	pack_str(&pk, "meta");
	pack_meta(&pk, &f->prov);
	pack_str(&pk, "attrs");
	pack_attrs(&pk, &f->attrs);
	if (has_graph) {
		pack_str(&pk, "graph");
		msgpack_pack_array(&pk, f->n_layers);
		for (size_t i = 0; i < f->n_layers; i++)
			pack_layer(&pk, &f->layers[i]);
	}
	pack_str(&pk, "tensors");
	msgpack_pack_array(&pk, f->n_tensors);
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct tensor *t = &f->tensors[i];
		const void *data = values ? values(ctx, t) : NULL;
		if (!data)
			data = t->data;
		CHECK(data || t->nbytes == 0);
		pack_tensor(&pk, t, data);
	}
}
