/* pcq-info's view of a PCQ file: kind, provenance, attributes, the graph
 * with each layer's tensors and parameter count, and the tensors. */
#include "summary.h"

#include "json.h"
#include "pcqfile.h"
#include "sha256.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static size_t numel(const struct tensor *t)
{
	return t->nbytes / dtype_size(t->dtype);
}

/* A tensor belongs to layer L when it is named "L.<suffix>" (suffixes
 * have no dot, layer names may: "relu.fq.range" is layer "relu.fq"'s). */
static int belongs(const struct tensor *t, const struct layer *l)
{
	size_t n = strlen(l->name);
	return strncmp(t->name, l->name, n) == 0 && t->name[n] == '.' &&
	       !strchr(t->name + n + 1, '.');
}

/* Parameters are the learned tensors: running statistics (suffix
 * "running_...") and activation ranges ("range", "batches": docs/FORMAT.md)
 * are buffers, not parameters. */
static size_t layer_parameters(const struct pcqfile *f, const struct layer *l)
{
	size_t total = 0, skip = strlen(l->name) + 1;
	for (size_t i = 0; i < f->n_tensors; i++) {
		const char *suffix = f->tensors[i].name + skip;
		if (belongs(&f->tensors[i], l) && strncmp(suffix, "running_", 8) != 0 &&
		    strcmp(suffix, "range") != 0 && strcmp(suffix, "batches") != 0)
			total += numel(&f->tensors[i]);
	}
	return total;
}

static void text_value(FILE *fp, const struct value *v)
{
	size_t show = v->n < 8 ? v->n : 8;
	switch (v->type) {
	case VALUE_INT: fprintf(fp, "%" PRId64, v->i); return;
	case VALUE_FLOAT: fprintf(fp, "%g", v->f); return;
	case VALUE_STRING: fprintf(fp, "%s", v->s); return;
	default: break;
	}
	fputc('[', fp);
	for (size_t i = 0; i < show; i++) {
		if (i)
			fputs(", ", fp);
		if (v->type == VALUE_INT_ARRAY)
			fprintf(fp, "%" PRId64, v->ints[i]);
		else if (v->type == VALUE_FLOAT_ARRAY)
			fprintf(fp, "%g", v->floats[i]);
		else
			fprintf(fp, "%s", v->strs[i]);
	}
	if (show < v->n)
		fprintf(fp, ", ... (%zu in all)", v->n);
	fputc(']', fp);
}

static void json_value(FILE *fp, const struct value *v)
{
	switch (v->type) {
	case VALUE_INT: fprintf(fp, "%" PRId64, v->i); return;
	case VALUE_FLOAT: json_number(fp, v->f); return;
	case VALUE_STRING: json_string(fp, v->s); return;
	default: break;
	}
	fputc('[', fp);
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			fputc(',', fp);
		if (v->type == VALUE_INT_ARRAY)
			fprintf(fp, "%" PRId64, v->ints[i]);
		else if (v->type == VALUE_FLOAT_ARRAY)
			json_number(fp, v->floats[i]);
		else
			json_string(fp, v->strs[i]);
	}
	fputc(']', fp);
}

static void json_attrs(FILE *fp, const struct attrs *a)
{
	fputc('{', fp);
	for (size_t i = 0; i < a->n; i++) {
		if (i)
			fputc(',', fp);
		json_string(fp, a->items[i].key);
		fputc(':', fp);
		json_value(fp, &a->items[i].v);
	}
	fputc('}', fp);
}

static void json_tensor(FILE *fp, const struct tensor *t)
{
	fputs("{\"name\":", fp);
	json_string(fp, t->name);
	fprintf(fp, ",\"dtype\":\"%s\",\"shape\":[", dtype_name(t->dtype));
	for (int d = 0; d < t->ndim; d++)
		fprintf(fp, "%s%" PRId64, d ? "," : "", t->shape[d]);
	char digest[SHA256_HEX_LEN + 1];
	sha256_hex(t->data, t->nbytes, digest);
	fprintf(fp, "],\"bytes\":%zu,\"sha256\":\"%s\"}", t->nbytes, digest);
}

static void print_json(FILE *fp, const char *path, const char *digest,
		       const struct pcqfile *f)
{
	const struct provenance *p = &f->prov;
	size_t total = 0;
	fputs("{\"file\":", fp);
	json_string(fp, path);
	fprintf(fp, ",\"sha256\":\"%s\",\"format\":\"%s\",\"version\":%d,\"kind\":\"%s\"",
		digest, PCQ_FORMAT_NAME, PCQ_FORMAT_VERSION, file_kind_name(f->kind));
	fputs(",\"meta\":{\"tool\":", fp);
	json_string(fp, p->tool);
	fputs(",\"tool_version\":", fp);
	json_string(fp, p->tool_version);
	fputs(",\"created\":", fp);
	json_string(fp, p->created);
	fputs(",\"command\":[", fp);
	for (size_t i = 0; i < p->argc; i++) {
		if (i)
			fputc(',', fp);
		json_string(fp, p->argv[i]);
	}
	fputs("],\"inputs\":[", fp);
	for (size_t i = 0; i < p->n_inputs; i++) {
		fputs(i ? ",{\"path\":" : "{\"path\":", fp);
		json_string(fp, p->inputs[i].path);
		fprintf(fp, ",\"sha256\":\"%s\"}", p->inputs[i].sha256);
	}
	fputc(']', fp);
	if (p->has_seed)
		fprintf(fp, ",\"seed\":%" PRId64, p->seed);
	fputs("},\"attrs\":", fp);
	json_attrs(fp, &f->attrs);
	fputs(",\"layers\":[", fp);
	for (size_t i = 0; i < f->n_layers; i++) {
		const struct layer *l = &f->layers[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", fp);
		json_string(fp, l->name);
		fputs(",\"op\":", fp);
		json_string(fp, l->op);
		fputs(",\"inputs\":[", fp);
		for (size_t j = 0; j < l->n_inputs; j++) {
			if (j)
				fputc(',', fp);
			json_string(fp, l->inputs[j]);
		}
		fputs("],\"params\":", fp);
		json_attrs(fp, &l->params);
		fprintf(fp, ",\"parameters\":%zu}", layer_parameters(f, l));
	}
	fputs("],\"tensors\":[", fp);
	for (size_t i = 0; i < f->n_tensors; i++) {
		if (i)
			fputc(',', fp);
		json_tensor(fp, &f->tensors[i]);
		total += numel(&f->tensors[i]);
	}
	fprintf(fp, "],\"elements\":%zu}\n", total);
}

static void print_text(FILE *fp, const char *path, const char *digest,
		       const struct pcqfile *f, int all_tensors)
{
	const struct provenance *p = &f->prov;
	char shape[128];
	fprintf(fp, "file      %s\n", path);
	fprintf(fp, "sha256    %s\n", digest);
	fprintf(fp, "kind      %s (format %s version %d)\n", file_kind_name(f->kind),
		PCQ_FORMAT_NAME, PCQ_FORMAT_VERSION);
	fprintf(fp, "made by   %s %s at %s\n", p->tool, p->tool_version, p->created);
	fputs("command  ", fp);
	for (size_t i = 0; i < p->argc; i++)
		fprintf(fp, " %s", p->argv[i]);
	fputc('\n', fp);
	if (p->has_seed)
		fprintf(fp, "seed      %" PRId64 "\n", p->seed);
	for (size_t i = 0; i < p->n_inputs; i++)
		fprintf(fp, "input     %s  sha256 %s\n", p->inputs[i].path, p->inputs[i].sha256);
	for (size_t i = 0; i < f->attrs.n; i++) {
		fprintf(fp, "%-9s %s = ", i ? "" : "attrs", f->attrs.items[i].key);
		text_value(fp, &f->attrs.items[i].v);
		fputc('\n', fp);
	}

	if (f->n_layers) {
		size_t total = 0;
		for (size_t i = 0; i < f->n_layers; i++)
			total += layer_parameters(f, &f->layers[i]);
		fprintf(fp, "graph     %zu layers, %zu parameters\n", f->n_layers, total);
		fprintf(fp, "  %-4s %-22s %-14s %-24s %10s  %s\n", "#", "layer", "op",
			"inputs", "parameters", "hyperparameters and tensors");
		for (size_t i = 0; i < f->n_layers; i++) {
			const struct layer *l = &f->layers[i];
			char inputs[256] = "";
			for (size_t j = 0; j < l->n_inputs; j++)
				snprintf(inputs + strlen(inputs), sizeof(inputs) - strlen(inputs),
					 "%s%s", j ? "," : "", l->inputs[j]);
			fprintf(fp, "  %-4zu %-22s %-14s %-24s %10zu ", i, l->name, l->op,
				inputs, layer_parameters(f, l));
			for (size_t k = 0; k < l->params.n; k++) {
				fprintf(fp, " %s=", l->params.items[k].key);
				text_value(fp, &l->params.items[k].v);
			}
			for (size_t t = 0; t < f->n_tensors; t++)
				if (belongs(&f->tensors[t], l))
					fprintf(fp, " %s:%s", f->tensors[t].name + strlen(l->name) + 1,
						shape_string(f->tensors[t].shape, f->tensors[t].ndim,
							     shape, sizeof(shape)));
			fputc('\n', fp);
		}
	}
	size_t bytes = 0;
	for (size_t i = 0; i < f->n_tensors; i++)
		bytes += f->tensors[i].nbytes;
	fprintf(fp, "tensors   %zu, %zu bytes of data\n", f->n_tensors, bytes);
	if (f->n_layers && !all_tensors)
		return;
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct tensor *t = &f->tensors[i];
		fprintf(fp, "  %-32s %-4s %-20s %zu bytes\n", t->name, dtype_name(t->dtype),
			shape_string(t->shape, t->ndim, shape, sizeof(shape)), t->nbytes);
	}
}

void summary_print(FILE *fp, const char *path, const char *digest, const struct pcqfile *f,
		   const struct summary_options *o)
{
	if (o->json)
		print_json(fp, path, digest, f);
	else
		print_text(fp, path, digest, f, o->all_tensors);
}

int summarise_file(const char *path, const struct summary_options *o)
{
	struct pcqfile f;
	char digest[SHA256_HEX_LEN + 1];
	if (pcqfile_read(&f, path, KIND_ANY, digest))
		return -1;
	summary_print(stdout, path, digest, &f, o);
	pcqfile_free(&f);
	return 0;
}
