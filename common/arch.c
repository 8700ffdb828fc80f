/* ResNet20 and AlexNetSmall (SPEC §4) built as graphs; see arch.h. A small
 * builder tracks each layer's output shape to size the next layer's
 * tensors. */
#include "arch.h"

#include "check.h"
#include "init.h"
#include "window.h"

#include <stdio.h>
#include <string.h>

struct builder {
	struct pcqfile *f;
	struct rng *rng;
	int kaiming;                 /* conv weights: Kaiming normal fan_out */
	struct act_shape shape;      /* output of the last layer added */
	char last[128];              /* its name */
};

static struct layer *add(struct builder *b, const char *name, const char *op,
			 const char *in0, const char *in1)
{
	const char *inputs[2] = {in0, in1};
	struct layer *l = pcqfile_add_layer(b->f, name, op, inputs, in1 ? 2 : 1);
	snprintf(b->last, sizeof(b->last), "%s", name);
	return l;
}

static float *tensor(struct builder *b, const char *layer, const char *suffix,
		     int ndim, const int64_t *shape)
{
	char name[128];
	snprintf(name, sizeof(name), "%s.%s", layer, suffix);
	return pcqfile_add_tensor(b->f, name, DTYPE_F32, ndim, shape, NULL)->data;
}

static void conv(struct builder *b, const char *name, const char *in, int k,
		 int kernel, int stride, int pad, int bias)
{
	struct layer *l = add(b, name, "conv2d", in, NULL);
	attrs_set_int(&l->params, "out_channels", k);
	attrs_set_int(&l->params, "kernel", kernel);
	attrs_set_int(&l->params, "stride", stride);
	attrs_set_int(&l->params, "pad", pad);
	attrs_set_int(&l->params, "bias", bias);
	int c = b->shape.c;
	size_t fan_in = (size_t)c * kernel * kernel, fan_out = (size_t)k * kernel * kernel;
	float *w = tensor(b, name, "weight", 4, (int64_t[]){k, c, kernel, kernel});
	if (b->kaiming)
		init_kaiming_normal_fan_out(w, (size_t)k * fan_in, fan_out, b->rng);
	else
		init_uniform_fan_in(w, (size_t)k * fan_in, fan_in, b->rng);
	if (bias)
		init_uniform_fan_in(tensor(b, name, "bias", 1, (int64_t[]){k}), (size_t)k,
				    fan_in, b->rng);
	b->shape = (struct act_shape){k, window_out(b->shape.h, kernel, stride, pad),
				      window_out(b->shape.w, kernel, stride, pad)};
}

static void batchnorm(struct builder *b, const char *name, const char *in)
{
	struct layer *l = add(b, name, "batchnorm2d", in, NULL);
	attrs_set_float(&l->params, "eps", 1e-5);
	attrs_set_float(&l->params, "momentum", 0.1);
	int64_t c[1] = {b->shape.c};
	float *g = tensor(b, name, "weight", 1, c), *beta = tensor(b, name, "bias", 1, c);
	float *rm = tensor(b, name, "running_mean", 1, c);
	float *rv = tensor(b, name, "running_var", 1, c);
	init_batchnorm2d(g, beta, rm, rv, b->shape.c);
}

static void simple(struct builder *b, const char *name, const char *op, const char *in)
{
	add(b, name, op, in, NULL);
}

static void pool(struct builder *b, const char *name, const char *op, const char *in,
		 int kernel, int stride)
{
	struct layer *l = add(b, name, op, in, NULL);
	attrs_set_int(&l->params, "kernel", kernel);
	attrs_set_int(&l->params, "stride", stride);
	attrs_set_int(&l->params, "pad", 0);
	b->shape.h = window_out(b->shape.h, kernel, stride, 0);
	b->shape.w = window_out(b->shape.w, kernel, stride, 0);
}

static void linear(struct builder *b, const char *name, const char *in, int out)
{
	struct layer *l = add(b, name, "linear", in, NULL);
	attrs_set_int(&l->params, "out_features", out);
	attrs_set_int(&l->params, "bias", 1);
	size_t fan_in = act_numel(&b->shape);
	init_uniform_fan_in(tensor(b, name, "weight", 2, (int64_t[]){out, (int64_t)fan_in}),
			    (size_t)out * fan_in, fan_in, b->rng);
	init_uniform_fan_in(tensor(b, name, "bias", 1, (int64_t[]){out}), (size_t)out,
			    fan_in, b->rng);
	b->shape = (struct act_shape){out, 1, 1};
}

static void dropout(struct builder *b, const char *name, const char *in, double p)
{
	struct layer *l = add(b, name, "dropout", in, NULL);
	attrs_set_float(&l->params, "p", p);
}

/* BasicBlock: conv3x3-BN-ReLU, conv3x3-BN, + identity or downsample, ReLU. */
static void basic_block(struct builder *b, const char *prefix, int planes, int stride)
{
	char in[128], name[128], main_out[128], skip[128];
	snprintf(in, sizeof(in), "%s", b->last);
	struct act_shape in_shape = b->shape;
#define N(s) (snprintf(name, sizeof(name), "%s.%s", prefix, s), name)
	conv(b, N("conv1"), in, planes, 3, stride, 1, 0);
	batchnorm(b, N("bn1"), b->last);
	simple(b, N("relu1"), "relu", b->last);
	conv(b, N("conv2"), b->last, planes, 3, 1, 1, 0);
	batchnorm(b, N("bn2"), b->last);
	snprintf(main_out, sizeof(main_out), "%s", b->last);
	struct act_shape out_shape = b->shape;
	snprintf(skip, sizeof(skip), "%s", in);
	if (stride != 1 || in_shape.c != planes) {
		b->shape = in_shape;
		conv(b, N("downsample.0"), in, planes, 1, stride, 0, 0);
		batchnorm(b, N("downsample.1"), b->last);
		snprintf(skip, sizeof(skip), "%s", b->last);
	}
	add(b, N("add"), "add", main_out, skip);
	b->shape = out_shape;
	simple(b, N("relu2"), "relu", b->last);
#undef N
}

/* He et al.'s CIFAR ResNets (2016, §4.2): a 3x3 stem of 16 channels, three
 * stages of `blocks` BasicBlocks at 16, 32 and 64 channels (the first of
 * the second and third at stride 2, with a 1x1 convolution + batch norm
 * on the shortcut), global average pooling and a linear layer: 6·blocks + 2
 * layers deep. */
static int resnet(struct builder *b, const char *name, int blocks, int classes)
{
	b->kaiming = 1;
	if (b->shape.h < 8 || b->shape.w < 8)
		return error("%s needs inputs of at least 8x8, not %dx%d", name, b->shape.h,
			     b->shape.w);
	conv(b, "conv1", "input", 16, 3, 1, 1, 0);
	batchnorm(b, "bn1", "conv1");
	simple(b, "relu", "relu", "bn1");
	static const int planes[3] = {16, 32, 64};
	for (int stage = 0; stage < 3; stage++)
		for (int block = 0; block < blocks; block++) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "layer%d.%d", stage + 1, block);
			basic_block(b, prefix, planes[stage], stage > 0 && block == 0 ? 2 : 1);
		}
	simple(b, "avgpool", "global_avgpool2d", b->last);
	b->shape.h = b->shape.w = 1;
	simple(b, "flatten", "flatten", "avgpool");
	linear(b, "fc", "flatten", classes);
	return 0;
}

static int resnet20(struct builder *b, int classes)
{
	return resnet(b, "resnet20", 3, classes);
}

static int resnet32(struct builder *b, int classes)
{
	return resnet(b, "resnet32", 5, classes);
}

static int resnet44(struct builder *b, int classes)
{
	return resnet(b, "resnet44", 7, classes);
}

static int resnet56(struct builder *b, int classes)
{
	return resnet(b, "resnet56", 9, classes);
}

static int alexnet_small(struct builder *b, int classes)
{
	b->kaiming = 0;
	/* Three 3x3/2 max pools need at least 15x15 after the 5x5 convs. */
	if (b->shape.h < 15 || b->shape.w < 15)
		return error("alexnet-small needs inputs of at least 15x15, not %dx%d",
			     b->shape.h, b->shape.w);
	conv(b, "features.0", "input", 96, 5, 1, 2, 1);
	simple(b, "features.1", "relu", "features.0");
	pool(b, "features.2", "maxpool2d", "features.1", 3, 2);
	conv(b, "features.3", "features.2", 256, 5, 1, 2, 1);
	simple(b, "features.4", "relu", "features.3");
	pool(b, "features.5", "maxpool2d", "features.4", 3, 2);
	conv(b, "features.6", "features.5", 384, 3, 1, 1, 1);
	simple(b, "features.7", "relu", "features.6");
	conv(b, "features.8", "features.7", 384, 3, 1, 1, 1);
	simple(b, "features.9", "relu", "features.8");
	conv(b, "features.10", "features.9", 256, 3, 1, 1, 1);
	simple(b, "features.11", "relu", "features.10");
	pool(b, "features.12", "maxpool2d", "features.11", 3, 2);
	simple(b, "avgpool", "global_avgpool2d", "features.12");
	b->shape.h = b->shape.w = 1;
	simple(b, "flatten", "flatten", "avgpool");
	dropout(b, "classifier.0", "flatten", 0.5);
	linear(b, "classifier.1", "classifier.0", 4096);
	simple(b, "classifier.2", "relu", "classifier.1");
	dropout(b, "classifier.3", "classifier.2", 0.5);
	linear(b, "classifier.4", "classifier.3", 4096);
	simple(b, "classifier.5", "relu", "classifier.4");
	linear(b, "classifier.6", "classifier.5", classes);
	return 0;
}

static const struct {
	const char *name;
	int (*build)(struct builder *b, int classes);
} archs[] = {
	{"resnet20", resnet20},
	{"resnet32", resnet32},
	{"resnet44", resnet44},
	{"resnet56", resnet56},
	{"alexnet-small", alexnet_small},
};

const char *arch_names(void)
{
	return "resnet20, resnet32, resnet44, resnet56, alexnet-small";
}

int arch_build(struct pcqfile *f, const char *arch, struct act_shape input,
	       int classes, struct rng *rng)
{
	for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++) {
		if (strcmp(archs[i].name, arch) != 0)
			continue;
		struct builder b = {.f = f, .rng = rng, .shape = input};
		int64_t shape[3] = {input.c, input.h, input.w};
		attrs_set_string(&f->attrs, "arch", arch);
		attrs_set_ints(&f->attrs, "input_shape", shape, 3);
		attrs_set_int(&f->attrs, "classes", classes);
		return archs[i].build(&b, classes);
	}
	return error("unknown architecture '%s' (known: %s)", arch, arch_names());
}
