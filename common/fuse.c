/* Batch-norm folding and quantization points; see fuse.h. */
#include "fuse.h"

#include "check.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copies every tensor "<layer>.<suffix>" (suffix without a dot). */
static void copy_layer_tensors(struct pcqfile *out, const struct pcqfile *in,
			       const char *layer)
{
	size_t len = strlen(layer);
	for (size_t i = 0; i < in->n_tensors; i++) {
		const struct tensor *t = &in->tensors[i];
		if (strncmp(t->name, layer, len) == 0 && t->name[len] == '.' &&
		    !strchr(t->name + len + 1, '.'))
			pcqfile_add_tensor(out, t->name, t->dtype, t->ndim, t->shape, t->data);
	}
}

static void add_fakequant(struct pcqfile *out, const char *after, const struct fuse_options *o,
			  char **alias)
{
	char name[300];
	snprintf(name, sizeof(name), "%s.fq", after);
	const char *inputs[1] = {after};
	struct layer *l = pcqfile_add_layer(out, name, "fakequant", inputs, 1);
	attrs_set_int(&l->params, "bits", o->bits);
	attrs_set_int(&l->params, "clusters", o->clusters);
	attrs_set_float(&l->params, "smooth", o->smooth);
	char tname[320];
	snprintf(tname, sizeof(tname), "%s.range", name);
	pcqfile_add_tensor(out, tname, DTYPE_F32, 2, (int64_t[]){o->clusters, 2}, NULL);
	snprintf(tname, sizeof(tname), "%s.batches", name);
	pcqfile_add_tensor(out, tname, DTYPE_F32, 1, (int64_t[]){o->clusters}, NULL);
	free(*alias);
	*alias = xstrdup(name);
}

static struct layer *layer_named(struct pcqfile *f, const char *name)
{
	for (size_t i = 0; i < f->n_layers; i++)
		if (strcmp(f->layers[i].name, name) == 0)
			return &f->layers[i];
	return NULL;
}

static int is_weighted(const struct layer *l)
{
	return strcmp(l->op, "conv2d") == 0 || strcmp(l->op, "linear") == 0;
}

/* Mixed precision (fuse.h): the first and last weighted layers' weights,
 * the input, the last layer's input quantization point and the logits at
 * `bits`. The fused graph is in order, so first and last are by index. */
static void widen_first_last(struct pcqfile *f, int bits)
{
	struct layer *first = NULL, *last = NULL;
	for (size_t i = 0; i < f->n_layers; i++)
		if (is_weighted(&f->layers[i])) {
			first = first ? first : &f->layers[i];
			last = &f->layers[i];
		}
	if (!first)
		return;
	attrs_set_int(&first->params, "weight_bits", bits);
	attrs_set_int(&last->params, "weight_bits", bits);
	attrs_set_int(&layer_named(f, "input.fq")->params, "bits", bits);
	/* back from the last layer's input through the ops that keep their
	 * input's scale (flatten, dropout, pooling) to its quantization point */
	struct layer *src = layer_named(f, last->inputs[0]);
	while (src && strcmp(src->op, "fakequant") != 0)
		src = layer_named(f, src->inputs[0]);
	if (src)
		attrs_set_int(&src->params, "bits", bits);
	for (size_t i = 0; i < f->n_layers; i++)
		if (strcmp(f->layers[i].op, "fakequant") == 0 &&
		    strcmp(f->layers[i].inputs[0], last->name) == 0)
			attrs_set_int(&f->layers[i].params, "bits", bits);
}

/* 16-bit residual adds (fuse.h): every fakequant layer that only adds
 * read gets `bits`. Returns how many did. */
static int widen_residual(struct pcqfile *f, int bits)
{
	int widened = 0;
	for (size_t i = 0; i < f->n_layers; i++) {
		struct layer *fq = &f->layers[i];
		if (strcmp(fq->op, "fakequant") != 0)
			continue;
		int adds = 0, others = 0;
		for (size_t r = i + 1; r < f->n_layers; r++)
			for (size_t k = 0; k < f->layers[r].n_inputs; k++)
				if (strcmp(f->layers[r].inputs[k], fq->name) == 0)
					*(strcmp(f->layers[r].op, "add") == 0 ? &adds : &others) += 1;
		if (adds && !others) {
			attrs_set_int(&fq->params, "bits", bits);
			widened++;
		}
	}
	return widened;
}

/* conv (index j) followed by batch norm b: the folded weight and bias. */
static int fold(struct pcqfile *out, const struct pcqfile *in, const char *name, int j, int b)
{
	const struct layer *conv = &in->layers[j], *bn = &in->layers[b];
	char key[300], where[300];
	snprintf(where, sizeof(where), "'%s': layer '%s'", name, bn->name);
	double eps;
	if (attrs_get_float(&bn->params, where, "eps", &eps))
		return -1;
	snprintf(key, sizeof(key), "%s.weight", conv->name);
	const struct tensor *w = pcqfile_tensor(in, key);
	snprintf(key, sizeof(key), "%s.bias", conv->name);
	const struct tensor *bias = pcqfile_tensor(in, key);
	const float *p[4];
	static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%s.%s", bn->name, suffix[i]);
		p[i] = pcqfile_tensor(in, key)->data;  /* model_init checked them */
	}
	int64_t k = w->shape[0];
	size_t per = w->nbytes / sizeof(float) / (size_t)k;
	/* Adding a tensor may move out->tensors: keep the data pointers only. */
	float *nwd = pcqfile_add_tensor(out, w->name, DTYPE_F32, w->ndim, w->shape, NULL)->data;
	snprintf(key, sizeof(key), "%s.bias", conv->name);
	float *nbd = pcqfile_add_tensor(out, key, DTYPE_F32, 1, &k, NULL)->data;
	const float *wd = w->data;
	for (int64_t o = 0; o < k; o++) {
		/* w' = w·γ/√(var+ε), b' = β + (b − mean)·γ/√(var+ε), in double. */
		double inv = (double)p[0][o] / sqrt((double)p[3][o] + eps);
		for (size_t i = 0; i < per; i++)
			nwd[o * per + i] = (float)(wd[o * per + i] * inv);
		double b0 = bias ? ((const float *)bias->data)[o] : 0.0;
		nbd[o] = (float)(p[1][o] + (b0 - p[2][o]) * inv);
	}
	return 0;
}

int fuse_model(struct pcqfile *out, const struct pcqfile *in, const char *name,
	       const struct fuse_options *o)
{
	CHECK(o->bits >= 2 && o->bits <= 8 && o->clusters >= 1);
	CHECK(o->first_last_bits == 0 || (o->first_last_bits >= 2 && o->first_last_bits <= 8));
	CHECK(o->residual_bits == 0 || (o->residual_bits >= 2 && o->residual_bits <= 16));
	/* Every layer, shape and tensor checked as the runtime would; the
	 * planned graph answers who reads what. */
	struct model g;
	if (model_init(&g, in, name, 1, 0))
		return -1;

	memset(out, 0, sizeof(*out));
	out->kind = KIND_FUSED;
	for (size_t i = 0; i < in->attrs.n; i++) {
		const char *key = in->attrs.items[i].key;
		if (strcmp(key, "epochs_done") && strcmp(key, "best_top1") && strcmp(key, "last_top1"))
			attrs_set_value(&out->attrs, key, &in->attrs.items[i].v);
	}
	attrs_set_int(&out->attrs, "bits", o->bits);
	attrs_set_int(&out->attrs, "clusters", o->clusters);
	attrs_set_float(&out->attrs, "smooth", o->smooth);
	if (o->first_last_bits && o->first_last_bits != o->bits)
		attrs_set_int(&out->attrs, "first_last_bits", o->first_last_bits);
	if (o->residual_bits && o->residual_bits != o->bits)
		attrs_set_int(&out->attrs, "residual_bits", o->residual_bits);
	if (o->per_channel)
		attrs_set_int(&out->attrs, "per_channel", 1);
	if (o->symmetric)
		attrs_set_int(&out->attrs, "symmetric", 1);

	int n = (int)in->n_layers, rc = 0;
	char **alias = xcalloc((size_t)n + 1, sizeof(char *));  /* [n]: "input" */
	char **input_alias = &alias[n];
	*input_alias = xstrdup("input");
	add_fakequant(out, "input", o, input_alias);
	for (int j = 0; j < n && rc == 0; j++) {
		const struct layer *l = &in->layers[j];
		int next = model_only_consumer(&g, j);
		if (model_node_is(&g, j, "batchnorm2d")) {
			int src = g.nodes[j].inputs[0];
			if (!model_node_is(&g, src, "conv2d") || model_only_consumer(&g, src) != j) {
				rc = error("'%s': cannot fuse: batch norm '%s' does not follow a "
					   "convolution that only it reads", name, l->name);
				break;
			}
			alias[j] = xstrdup(alias[src]);
		} else {
			const char *inputs[OP_MAX_INPUTS];
			for (size_t k = 0; k < l->n_inputs; k++) {
				int src = g.nodes[j].inputs[k];
				inputs[k] = src < 0 ? *input_alias : alias[src];
			}
			struct layer *nl = pcqfile_add_layer(out, l->name, l->op, inputs, l->n_inputs);
			for (size_t k = 0; k < l->params.n; k++)
				attrs_set_value(&nl->params, l->params.items[k].key,
						&l->params.items[k].v);
			alias[j] = xstrdup(l->name);
			int weighted = model_node_is(&g, j, "conv2d") || model_node_is(&g, j, "linear");
			if (weighted)
				attrs_set_int(&nl->params, "weight_bits", o->bits);
			if (weighted && o->per_channel)
				attrs_set_int(&nl->params, "weight_per_channel", 1);
			if (weighted && o->symmetric)
				attrs_set_int(&nl->params, "weight_symmetric", 1);
			if (model_node_is(&g, j, "conv2d") && model_node_is(&g, next, "batchnorm2d")) {
				attrs_set_int(&nl->params, "bias", 1);
				rc = fold(out, in, name, j, next);
			} else {
				copy_layer_tensors(out, in, l->name);
			}
		}
		/* A quantization point after this layer? */
		int producer = j;  /* the conv/linear/add whose output this is */
		if (model_node_is(&g, j, "batchnorm2d"))
			producer = g.nodes[j].inputs[0];
		if (model_node_is(&g, j, "relu")) {
			producer = g.nodes[j].inputs[0];
			if (model_node_is(&g, producer, "batchnorm2d"))
				producer = g.nodes[producer].inputs[0];
		}
		int quantized_op = model_node_is(&g, producer, "conv2d") || model_node_is(&g, producer, "linear") ||
				   model_node_is(&g, producer, "add") ||
				   model_node_is(&g, producer, "global_avgpool2d");
		int relu_follows = model_node_is(&g, next, "relu");
		int conv_then_bn = model_node_is(&g, j, "conv2d") && model_node_is(&g, next, "batchnorm2d");
		if (rc == 0 && quantized_op && !conv_then_bn && !relu_follows)
			add_fakequant(out, alias[j], o, &alias[j]);
	}
	if (rc == 0 && o->first_last_bits && o->first_last_bits != o->bits)
		widen_first_last(out, o->first_last_bits);
	if (rc == 0 && o->residual_bits && o->residual_bits != o->bits &&
	    widen_residual(out, o->residual_bits) == 0)
		rc = error("'%s': --residual-bit: the model has no residual add", name);
	for (int j = 0; j <= n; j++)
		free(alias[j]);
	free(alias);
	model_free(&g);
	if (rc)
		pcqfile_free(out);
	return rc;
}
