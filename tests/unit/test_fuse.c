/* Tests for fuse.c: the fused model in float (no fake quantization) gives
 * the logits of the pre-trained model in eval mode, for ResNet20 and
 * AlexNetSmall with non-trivial batch-norm statistics; the quantization
 * points are where SPEC §7 puts them; with mixed precision exactly the
 * first and last layers' weights and inputs and the logits are widened,
 * with 16-bit residual adds exactly the points only adds read;
 * --per-channel marks every weighted layer and nothing else;
 * models that cannot be fused are refused with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch.h"
#include "fixture.h"
#include "fuse.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

static void build(struct pcqfile *f, const char *arch, struct rng *rng)
{
	memset(f, 0, sizeof(*f));
	f->kind = KIND_MODEL;
	assert_int_equal(arch_build(f, arch, (struct act_shape){3, 32, 32}, 10, rng), 0);
	/* Batch norm as after training: γ, β, means and variances away from 1, 0. */
	for (size_t i = 0; i < f->n_tensors; i++) {
		struct tensor *t = &f->tensors[i];
		float *d = t->data;
		size_t n = t->nbytes / sizeof(float);
		int bn = strstr(t->name, "bn") || strstr(t->name, "downsample.1");
		/* AlexNetSmall's default initialisation gives logits of ~1e-3:
		 * larger weights make the comparison meaningful. */
		if (!bn && strcmp(arch, "alexnet-small") == 0 && strstr(t->name, "weight"))
			for (size_t k = 0; k < n; k++)
				d[k] *= 3;
		for (size_t k = 0; bn && k < n; k++) {
			float u = rng_uniform(rng);
			if (strstr(t->name, "running_var"))
				d[k] = 0.2f + 2 * u;
			else if (strstr(t->name, "running_mean"))
				d[k] = 2 * u - 1;
			else if (strstr(t->name, "weight"))
				d[k] = 0.5f + u;
			else
				d[k] = u - 0.5f;
		}
	}
}

static void check_same_logits(const char *arch)
{
	struct pcqfile pre, fused;
	struct rng rng;
	rng_seed(&rng, 7, 0);
	build(&pre, arch, &rng);
	struct fuse_options o = {.bits = 4, .clusters = 3, .smooth = 0.999};
	assert_int_equal(fuse_model(&fused, &pre, "pre", &o), 0);
	assert_int_equal(fused.kind, KIND_FUSED);
	for (size_t i = 0; i < fused.n_layers; i++)
		assert_string_not_equal(fused.layers[i].op, "batchnorm2d");

	enum { N = 4 };
	struct model a, b;
	assert_int_equal(model_init(&a, &pre, "pre", N, 0), 0);
	assert_int_equal(model_init(&b, &fused, "fused", N, 0), 0);
	assert_int_equal(b.clusters, 3);
	size_t in = (size_t)N * 3 * 32 * 32;
	float *x = malloc(in * sizeof(float));
	for (size_t i = 0; i < in; i++)
		x[i] = 2 * rng_uniform(&rng) - 1;
	float logits[N * 10];
	memcpy(logits, model_forward(&a, x, N, 0, NULL), sizeof(logits));
	b.float_only = 1;
	const float *got = model_forward(&b, x, N, 0, NULL);
	double scale = 0;
	for (int i = 0; i < N * 10; i++)
		scale = fabs(logits[i]) > scale ? fabs(logits[i]) : scale;
	assert_true(scale > 0.1);   /* not a vacuous comparison */
	assert_close(got, logits, N * 10, 1e-4, 0, arch);
	/* With never-calibrated ranges and no float_only, nothing is quantized
	 * yet either: every cluster is reported uncalibrated. */
	int cluster;
	assert_true(model_uncalibrated(&b, &cluster) >= 0);
	assert_int_equal(cluster, 0);
	free(x);
	model_free(&a);
	model_free(&b);
	pcqfile_free(&pre);
	pcqfile_free(&fused);
}

static void test_resnet20_same_logits(void **state)
{
	(void)state;
	check_same_logits("resnet20");
}

static void test_alexnet_small_same_logits(void **state)
{
	(void)state;
	check_same_logits("alexnet-small");
}

static int has_layer(const struct pcqfile *f, const char *name, const char *input)
{
	for (size_t i = 0; i < f->n_layers; i++)
		if (strcmp(f->layers[i].name, name) == 0)
			return !input || strcmp(f->layers[i].inputs[0], input) == 0;
	return 0;
}

static void test_quantization_points(void **state)
{
	(void)state;
	struct pcqfile pre, fused;
	struct rng rng;
	rng_seed(&rng, 1, 0);
	build(&pre, "resnet20", &rng);
	struct fuse_options o = {.bits = 8, .clusters = 1, .smooth = 0.9};
	assert_int_equal(fuse_model(&fused, &pre, "pre", &o), 0);
	/* The input, conv+ReLU outputs, the residual branches (conv2 and the
	 * downsample conv, BN folded), the add outputs after ReLU, the logits. */
	assert_true(has_layer(&fused, "input.fq", "input"));
	assert_true(has_layer(&fused, "conv1", "input.fq"));
	assert_true(has_layer(&fused, "relu.fq", "relu"));
	assert_true(has_layer(&fused, "layer1.0.relu1.fq", "layer1.0.relu1"));
	assert_true(has_layer(&fused, "layer1.0.conv2.fq", "layer1.0.conv2"));
	assert_true(has_layer(&fused, "layer2.0.downsample.0.fq", "layer2.0.downsample.0"));
	assert_true(has_layer(&fused, "layer3.2.relu2.fq", "layer3.2.relu2"));
	assert_true(has_layer(&fused, "fc.fq", "fc"));
	assert_false(has_layer(&fused, "layer1.0.conv1.fq", NULL));  /* its ReLU's instead */
	assert_true(has_layer(&fused, "avgpool.fq", "avgpool"));   /* docs/QUANTIZATION.md */
	assert_false(has_layer(&fused, "flatten.fq", NULL));
	size_t points = 0;
	for (size_t i = 0; i < fused.n_layers; i++)
		points += strcmp(fused.layers[i].op, "fakequant") == 0;
	/* input + stem + 9 blocks × 3 + 2 downsample + average pool + fc */
	assert_int_equal(points, 1 + 1 + 27 + 2 + 1 + 1);
	const struct value *v = attrs_find(&fused.layers[1].params, "weight_bits");
	assert_non_null(v);
	assert_int_equal(v->i, 8);
	pcqfile_free(&pre);
	pcqfile_free(&fused);
}

/* The bits a layer's param gives (-1: no such layer or param). */
static int64_t bits_param(const struct pcqfile *f, const char *layer, const char *key)
{
	for (size_t i = 0; i < f->n_layers; i++)
		if (strcmp(f->layers[i].name, layer) == 0) {
			const struct value *v = attrs_find(&f->layers[i].params, key);
			return v ? v->i : -1;
		}
	return -1;
}

/* Every fakequant and weighted layer of f has 4 bits, except the named
 * ones (a NULL-terminated list), which have wide_bits. */
static void check_widened(const struct pcqfile *f, const char *const *wide, int wide_bits)
{
	size_t seen = 0, n_wide = 0;
	while (wide[n_wide])
		n_wide++;
	for (size_t i = 0; i < f->n_layers; i++) {
		const struct layer *l = &f->layers[i];
		const char *key = strcmp(l->op, "fakequant") == 0 ? "bits" :
				  strcmp(l->op, "conv2d") == 0 || strcmp(l->op, "linear") == 0 ?
				  "weight_bits" : NULL;
		if (!key)
			continue;
		int want = 4;
		for (size_t k = 0; k < n_wide; k++)
			if (strcmp(wide[k], l->name) == 0)
				want = wide_bits, seen++;
		if (bits_param(f, l->name, key) != want)
			fail_msg("layer '%s': %s %lld, expected %d", l->name, key,
				 (long long)bits_param(f, l->name, key), want);
	}
	assert_int_equal(seen, n_wide);
}

static void test_first_last_bits(void **state)
{
	(void)state;
	struct rng rng;
	rng_seed(&rng, 3, 0);
	struct fuse_options o = {.bits = 4, .first_last_bits = 8, .clusters = 2, .smooth = 0.9};
	/* ResNet20: the stem's weights and the image; the classifier's weights,
	 * its input (the pooled features' point, through flatten) and logits. */
	static const char *const resnet[] = {"input.fq", "conv1", "avgpool.fq", "fc", "fc.fq",
					     NULL};
	/* AlexNetSmall: the classifier's input is the last hidden layer's
	 * ReLU output. */
	static const char *const alexnet[] = {"input.fq", "features.0", "classifier.5.fq",
					      "classifier.6", "classifier.6.fq", NULL};
	const char *const archs[2] = {"resnet20", "alexnet-small"};
	const char *const *wide[2] = {resnet, alexnet};
	for (int a = 0; a < 2; a++) {
		struct pcqfile pre, fused;
		build(&pre, archs[a], &rng);
		assert_int_equal(fuse_model(&fused, &pre, "pre", &o), 0);
		check_widened(&fused, wide[a], 8);
		const struct value *v = attrs_find(&fused.attrs, "first_last_bits");
		assert_non_null(v);
		assert_int_equal(v->i, 8);
		pcqfile_free(&fused);
		/* first_last_bits equal to bits: the plain model, no attribute */
		o.first_last_bits = 4;
		assert_int_equal(fuse_model(&fused, &pre, "pre", &o), 0);
		check_widened(&fused, (const char *const[]){NULL}, 8);
		assert_null(attrs_find(&fused.attrs, "first_last_bits"));
		o.first_last_bits = 8;
		pcqfile_free(&fused);
		pcqfile_free(&pre);
	}
}

/* 16-bit residual adds: exactly what only adds read — each block's
 * second convolution and the two downsample branches — is widened; the
 * add outputs, which the next convolution reads, are not. A model
 * without adds is refused. */
static void test_residual_bits(void **state)
{
	(void)state;
	struct rng rng;
	rng_seed(&rng, 5, 0);
	struct fuse_options o = {.bits = 4, .residual_bits = 16, .clusters = 2, .smooth = 0.9};
	static const char *const wide[] = {
		"layer1.0.conv2.fq", "layer1.1.conv2.fq", "layer1.2.conv2.fq",
		"layer2.0.conv2.fq", "layer2.1.conv2.fq", "layer2.2.conv2.fq",
		"layer3.0.conv2.fq", "layer3.1.conv2.fq", "layer3.2.conv2.fq",
		"layer2.0.downsample.0.fq", "layer3.0.downsample.0.fq", NULL};
	struct pcqfile pre, fused;
	build(&pre, "resnet20", &rng);
	assert_int_equal(fuse_model(&fused, &pre, "pre", &o), 0);
	check_widened(&fused, wide, 16);
	const struct value *v = attrs_find(&fused.attrs, "residual_bits");
	assert_non_null(v);
	assert_int_equal(v->i, 16);
	/* the fused model plans (fakequant takes up to 16 bits) */
	struct model m;
	assert_int_equal(model_init(&m, &fused, "fused", 2, 0), 0);
	model_free(&m);
	pcqfile_free(&fused);
	pcqfile_free(&pre);
	build(&pre, "alexnet-small", &rng);
	assert_int_equal(fuse_model(&fused, &pre, "pre", &o), -1);
	pcqfile_free(&pre);
}

static void test_per_channel(void **state)
{
	(void)state;
	struct rng rng;
	rng_seed(&rng, 4, 0);
	struct pcqfile pre, fused;
	build(&pre, "alexnet-small", &rng);
	/* per channel (bit 0) and on the symmetric grid (bit 1), each alone
	 * and both */
	for (int opts = 0; opts < 4; opts++) {
		const int pc = opts & 1, sym = opts >> 1;
		struct fuse_options o = {.bits = 4, .clusters = 1, .smooth = 0.9, .per_channel = pc,
					 .symmetric = sym};
		assert_int_equal(fuse_model(&fused, &pre, "pre", &o), 0);
		int weighted = 0;
		for (size_t i = 0; i < fused.n_layers; i++) {
			const struct layer *l = &fused.layers[i];
			int w = strcmp(l->op, "conv2d") == 0 || strcmp(l->op, "linear") == 0;
			weighted += w;
			assert_int_equal(bits_param(&fused, l->name, "weight_per_channel"),
					 w && pc ? 1 : -1);
			assert_int_equal(bits_param(&fused, l->name, "weight_symmetric"),
					 w && sym ? 1 : -1);
		}
		assert_int_equal(weighted, 8);   /* five convs, three linear layers */
		const struct value *v = attrs_find(&fused.attrs, "per_channel");
		assert_true(pc ? v && v->i == 1 : !v);
		v = attrs_find(&fused.attrs, "symmetric");
		assert_true(sym ? v && v->i == 1 : !v);
		pcqfile_free(&fused);
	}
	pcqfile_free(&pre);
}

static void test_refuses_unfusable(void **state)
{
	(void)state;
	/* A batch norm straight after the input. */
	struct pcqfile f = {.kind = KIND_MODEL}, out;
	attrs_set_ints(&f.attrs, "input_shape", (int64_t[]){2, 4, 4}, 3);
	const char *in[1] = {"input"};
	struct layer *l = pcqfile_add_layer(&f, "bn", "batchnorm2d", in, 1);
	attrs_set_float(&l->params, "eps", 1e-5);
	attrs_set_float(&l->params, "momentum", 0.1);
	static const char *const s[] = {"weight", "bias", "running_mean", "running_var"};
	for (int i = 0; i < 4; i++) {
		char name[32];
		snprintf(name, sizeof(name), "bn.%s", s[i]);
		pcqfile_add_tensor(&f, name, DTYPE_F32, 1, (int64_t[]){2}, NULL);
	}
	in[0] = "bn";
	pcqfile_add_layer(&f, "pool", "global_avgpool2d", in, 1);
	struct fuse_options o = {.bits = 4, .clusters = 1, .smooth = 0.999};
	assert_int_equal(fuse_model(&out, &f, "bad", &o), -1);
	pcqfile_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resnet20_same_logits),
		cmocka_unit_test(test_alexnet_small_same_logits),
		cmocka_unit_test(test_quantization_points),
		cmocka_unit_test(test_first_last_bits),
		cmocka_unit_test(test_residual_bits),
		cmocka_unit_test(test_per_channel),
		cmocka_unit_test(test_refuses_unfusable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
