/* Whole models against PyTorch (tests/fixtures/gen_models.py): ResNet20 and
 * AlexNetSmall built by arch_build, weights set by the same formula as the
 * generator, then the logits, loss, every parameter gradient, the tensors
 * after one SGD step, and the losses of five steps on one batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch.h"
#include "fixture.h"
#include "fuse.h"
#include "model.h"
#include "sgd.h"
#include "softmax_xent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t name_seed(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

/* gen_models.py's formula: splitmix64 of seed + (i+1)·golden, in [-1, 1). */
static double formula(uint64_t seed, uint64_t i)
{
	uint64_t x = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	x ^= x >> 31;
	return (double)(x >> 40) / (double)(1 << 24) * 2 - 1;
}

static void fill(struct model *m)
{
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		uint64_t seed = name_seed(t->name);
		int is_bn = strstr(t->name, "bn") || strstr(t->name, "downsample.1");
		int is_weight = strstr(t->name, ".weight") != NULL;
		for (size_t k = 0; k < t->numel; k++) {
			double u = formula(seed, k), v;
			if (strstr(t->name, "running_mean"))
				v = 0;
			else if (strstr(t->name, "running_var"))
				v = 1;
			else if (t->ndim == 1 && is_bn)
				v = is_weight ? 1 + 0.1 * u : 0.1 * u;
			else if (t->ndim == 1)
				v = 0.1 * u;
			else
				v = u * sqrt(3.0 / (double)(t->numel / (size_t)t->shape[0]));
			t->data[k] = (float)v;
		}
	}
}

/* Compares x (n floats) with "<prefix>.<name>": whole, or its summary
 * (sum, sum of squares, sum of |x| and sampled elements). */
static void compare(const struct pcqfile *f, const char *prefix, const char *name,
		    const float *x, size_t n, double atol, double rtol)
{
	char key[256];
	snprintf(key, sizeof(key), "%s.%s", prefix, name);
	if (pcqfile_tensor(f, key)) {
		assert_close(x, fixture_f32(f, key, n), n, atol, rtol, key);
		return;
	}
	snprintf(key, sizeof(key), "%s.%s#stats", prefix, name);
	const struct tensor *st = pcqfile_tensor(f, key);
	if (!st)
		fail_msg("fixture has neither %s.%s nor its summary", prefix, name);
	const double *stats = st->data;
	double s = 0, s2 = 0, sa = 0;
	for (size_t i = 0; i < n; i++) {
		s += x[i];
		s2 += (double)x[i] * x[i];
		sa += fabs(x[i]);
	}
	/* Sums over millions of terms: compare against the sum of |x| scale. */
	if (fabs(s - stats[0]) > 1e-3 * stats[2] + 1e-6 ||
	    fabs(s2 - stats[1]) > 1e-3 * stats[1] + 1e-9 ||
	    fabs(sa - stats[2]) > 1e-3 * stats[2] + 1e-6)
		fail_msg("%s: sums (%g, %g, %g), expected (%g, %g, %g)", key, s, s2, sa,
			 stats[0], stats[1], stats[2]);
	snprintf(key, sizeof(key), "%s.%s#idx", prefix, name);
	const struct tensor *it = pcqfile_tensor(f, key);
	snprintf(key, sizeof(key), "%s.%s#val", prefix, name);
	size_t k = it->nbytes / sizeof(int64_t);
	const float *want = fixture_f32(f, key, k);
	float *got = malloc(k * sizeof(float));
	for (size_t i = 0; i < k; i++)
		got[i] = x[((const int64_t *)it->data)[i]];
	assert_close(got, want, k, atol, rtol, key);
	free(got);
}

static void check_model(const char *fixture, const char *arch)
{
	struct pcqfile fx, mf = {.kind = KIND_MODEL};
	struct rng rng;
	fixture_load(&fx, fixture);
	int64_t batch, classes;
	double lr;
	assert_int_equal(attrs_get_int(&fx.attrs, "t", "batch", &batch), 0);
	assert_int_equal(attrs_get_int(&fx.attrs, "t", "classes", &classes), 0);
	assert_int_equal(attrs_get_float(&fx.attrs, "t", "lr", &lr), 0);
	rng_seed(&rng, 1, 0);
	assert_int_equal(arch_build(&mf, arch, (struct act_shape){3, 32, 32}, (int)classes,
				    &rng), 0);
	for (size_t i = 0; i < mf.n_layers; i++)   /* see gen_models.py: no dropout */
		if (strcmp(mf.layers[i].op, "dropout") == 0)
			attrs_set_float(&mf.layers[i].params, "p", 0.0);
	struct model m;
	assert_int_equal(model_init(&m, &mf, "test", (int)batch, 1), 0);
	fill(&m);

	int n = (int)batch;
	const float *x = fixture_f32(&fx, "input", (size_t)n * 3 * 32 * 32);
	const int32_t *labels = pcqfile_tensor(&fx, "labels")->data;
	const double *losses = pcqfile_tensor(&fx, "losses")->data;
	float *dlogits = malloc((size_t)n * classes * sizeof(float));
	struct softmax_xent_shape xs = {.N = n, .classes = (int)classes};
	struct sgd_params sp = {.lr = (float)lr, .momentum = 0.9f, .weight_decay = 1e-4f};

	for (int step = 0; step < 5; step++) {
		const float *logits = model_forward(&m, x, n, 1, &rng);
		if (step == 0)
			/* 20 layers of float32 sums in another order: 1e-4 relative. */
			assert_close(logits, fixture_f32(&fx, "logits", (size_t)n * classes),
				     (size_t)n * classes, 1e-4, 1e-4, "logits");
		double loss = softmax_xent(dlogits, NULL, logits, labels, &xs);
		/* Step 0 is one forward pass: 1e-4. Later steps follow SGD
		 * through ReLU kinks: an input of 1e-6 that lands on the other
		 * side of zero (float rounding in another summation order)
		 * changes that step's gradients by about 1%, so the losses of
		 * steps 1-3 get 1e-3. The deviation then grows about fivefold
		 * a step (ResNet20: 3e-5, 9e-5, 5e-4 at steps 2-4 with im2col
		 * + sgemm; 1.2e-3 at step 4 with Winograd's rounding), so
		 * step 4 gets 3e-3. */
		double rtol = step == 0 ? 1e-4 : step < 4 ? 1e-3 : 3e-3;
		if (fabs(loss - losses[step]) > rtol * fabs(losses[step]) + 1e-5)
			fail_msg("%s step %d: loss %.8f, expected %.8f", arch, step, loss,
				 losses[step]);
		model_zero_grads(&m);
		model_backward(&m, x, dlogits, n);
		if (step == 0)
			for (int i = 0; i < m.n_tensors; i++)
				if (m.tensors[i].learned)
					/* Gradients go through the whole backward pass:
					 * 1e-3 relative, 1e-5 absolute for values near 0. */
					compare(&fx, "grad", m.tensors[i].name, m.tensors[i].grad,
						m.tensors[i].numel, 1e-5, 1e-3);
		sgd_step(m.params, m.velocity, m.grads, &sp, m.n_params);
		if (step == 0)
			for (int i = 0; i < m.n_tensors; i++)
				compare(&fx, "step1", m.tensors[i].name, m.tensors[i].data,
					m.tensors[i].numel, 1e-5, 1e-4);
	}
	free(dlogits);
	model_free(&m);
	pcqfile_free(&mf);
	pcqfile_free(&fx);
}

static void test_resnet20(void **state)
{
	(void)state;
	check_model("model_resnet20.msgpack", "resnet20");
}

static void test_alexnet_small(void **state)
{
	(void)state;
	check_model("model_alexnet_small.msgpack", "alexnet-small");
}

/* A node read twice by one layer (add(fc, fc)) is refused when the model
 * is planned: the backward walks give each input its own gradient buffer
 * by node, so both would land in one and the gradient would be halved. */
static void test_same_input_twice(void **state)
{
	(void)state;
	struct pcqfile f = {.kind = KIND_MODEL};
	attrs_set_ints(&f.attrs, "input_shape", (int64_t[]){4, 1, 1}, 3);
	const char *in[2] = {"input"};
	struct layer *l = pcqfile_add_layer(&f, "fc", "linear", in, 1);
	attrs_set_int(&l->params, "out_features", 3);
	attrs_set_int(&l->params, "bias", 1);
	in[0] = in[1] = "fc";
	pcqfile_add_layer(&f, "sum", "add", in, 2);
	float w[12] = {0}, b[3] = {0};
	pcqfile_add_tensor(&f, "fc.weight", DTYPE_F32, 2, (int64_t[]){3, 4}, w);
	pcqfile_add_tensor(&f, "fc.bias", DTYPE_F32, 1, (int64_t[]){3}, b);
	struct model m;
	assert_int_equal(model_init(&m, &f, "add(fc, fc)", 2, 1), -1);
	pcqfile_free(&f);
}

/* Which nodes need gradients and which keep the blocked layout: in a
 * fused model the input's fake quantization has nothing learned at or
 * above it, so it runs no backward and the first convolution asks no
 * input gradient; then every convolution can run on oneDNN (blocked),
 * as in the FP32 model (when oneDNN has kernels for this CPU: it has
 * for every x86-64 CPU with AVX2, which the build assumes). */
static void test_fused_gradients_and_layouts(void **state)
{
	(void)state;
	const char *conv = getenv("PCQ_CONV");
	if (conv && !strcmp(conv, "off")) {
		print_message("PCQ_CONV=off: no blocked layout to check\n");
		skip();
	}
	static const char *const archs[] = { "resnet20", "alexnet-small" };
	for (int a = 0; a < 2; a++)
		for (int fused = 0; fused <= 1; fused++) {
			struct pcqfile pre = {.kind = KIND_MODEL}, f;
			struct rng init;
			rng_seed(&init, 7, 0);
			assert_int_equal(arch_build(&pre, archs[a], (struct act_shape){3, 32, 32}, 10,
						    &init), 0);
			if (fused) {
				struct fuse_options o = {.bits = 4, .clusters = 3, .smooth = 0.9};
				assert_int_equal(fuse_model(&f, &pre, "pre", &o), 0);
				pcqfile_free(&pre);
			} else {
				f = pre;
			}
			struct model m;
			assert_int_equal(model_init(&m, &f, archs[a], 4, 1), 0);
			int convs = 0, first_conv = -1;
			for (int j = 0; j < m.n_nodes; j++) {
				const struct node *n = &m.nodes[j];
				if (strcmp(n->op->name, "conv2d"))
					continue;
				convs++;
				if (first_conv < 0)
					first_conv = j;
				if (!n->blocked)
					fail_msg("%s%s: conv '%s' is not blocked", archs[a],
						 fused ? " fused" : "", n->name);
			}
			assert_true(convs >= 5);
			/* before the first convolution nothing is learned */
			for (int j = 0; j < first_conv; j++)
				assert_int_equal(m.nodes[j].grad, 0);
			assert_int_equal(m.nodes[first_conv].dx_needed[0], 0);
			for (int j = first_conv; j < m.n_nodes; j++)
				assert_int_equal(m.nodes[j].grad, 1);
			if (fused)
				assert_string_equal(m.nodes[0].op->name, "fakequant");
			model_free(&m);
			pcqfile_free(&f);
		}
}

/* One training step's logits, gradients and running statistics with every
 * fusable ReLU fused into the node before it (model.c, relu_after) and
 * with none (PCQ_FUSE_RELU=off): the same bits. ResNet20 fuses all 19
 * ReLUs into the batch norm or residual add before them; fused ResNet20
 * its 9 after adds into them and the other 10 into the fake quantization
 * after them; AlexNetSmall none (its ReLUs follow convolutions and
 * linears), fused AlexNetSmall all 7 into the fake quantization after. */
static void step_bits(struct pcqfile *f, const char *name, int fuse, int expect_absorbed,
		      float **logits, float **state)
{
	setenv("PCQ_FUSE_RELU", fuse ? "on" : "off", 1);
	struct model m;
	const int n = 4;
	assert_int_equal(model_init(&m, f, name, n, 1), 0);
	unsetenv("PCQ_FUSE_RELU");
	int absorbed = 0;
	for (int j = 0; j < m.n_nodes; j++)
		absorbed += m.nodes[j].absorbed;
	if (absorbed != (fuse ? expect_absorbed : 0))
		fail_msg("%s: %d ReLUs fused, expected %d", name, absorbed,
			 fuse ? expect_absorbed : 0);
	fill(&m);
	const size_t in = (size_t)n * act_numel(&m.input);
	float *x = malloc(in * sizeof(float)), *dl = malloc((size_t)n * m.classes * sizeof(float));
	for (size_t i = 0; i < in; i++)
		x[i] = (float)formula(99, i);
	for (size_t i = 0; i < (size_t)n * m.classes; i++)
		dl[i] = (float)formula(98, i);
	struct rng rng;
	rng_seed(&rng, 5, 0);
	/* eval before any calibration, eval without fake quantization, then
	 * the training step */
	const size_t per = (size_t)n * m.classes;
	*logits = malloc(3 * per * sizeof(float));
	memcpy(*logits, model_forward(&m, x, n, 0, &rng), per * sizeof(float));
	m.float_only = 1;
	memcpy(*logits + per, model_forward(&m, x, n, 0, &rng), per * sizeof(float));
	m.float_only = 0;
	const float *out = model_forward(&m, x, n, 1, &rng);
	memcpy(*logits + 2 * per, out, per * sizeof(float));
	model_zero_grads(&m);
	model_backward(&m, x, dl, n);
	*state = malloc((m.n_params + m.n_buffers) * sizeof(float));
	memcpy(*state, m.grads, m.n_params * sizeof(float));
	memcpy(*state + m.n_params, m.buffers, m.n_buffers * sizeof(float));
	free(x);
	free(dl);
	model_free(&m);
}

static void test_relu_fusion_same_bits(void **state)
{
	(void)state;
	static const struct { const char *arch; int fused, absorbed; } cases[] = {
		{"resnet20", 0, 19}, {"resnet20", 1, 19}, {"alexnet-small", 0, 0},
		{"alexnet-small", 1, 7},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pcqfile pre = {.kind = KIND_MODEL}, f;
		struct rng init;
		rng_seed(&init, 7, 0);
		assert_int_equal(arch_build(&pre, cases[c].arch, (struct act_shape){3, 32, 32}, 10,
					    &init), 0);
		for (size_t i = 0; i < pre.n_layers; i++)
			if (strcmp(pre.layers[i].op, "dropout") == 0)
				attrs_set_float(&pre.layers[i].params, "p", 0.0);
		if (cases[c].fused) {
			struct fuse_options o = {.bits = 8, .clusters = 1, .smooth = 0.9};
			assert_int_equal(fuse_model(&f, &pre, "pre", &o), 0);
			pcqfile_free(&pre);
		} else {
			f = pre;
		}
		float *l[2], *st[2];
		for (int fuse = 0; fuse <= 1; fuse++)
			step_bits(&f, cases[c].arch, fuse, cases[c].absorbed, &l[fuse], &st[fuse]);
		struct model m;
		assert_int_equal(model_init(&m, &f, cases[c].arch, 4, 1), 0);
		if (memcmp(l[0], l[1], 3 * 4 * (size_t)m.classes * sizeof(float)))
			fail_msg("%s%s: logits differ with ReLUs fused", cases[c].arch,
				 cases[c].fused ? " fused" : "");
		if (memcmp(st[0], st[1], (m.n_params + m.n_buffers) * sizeof(float)))
			fail_msg("%s%s: gradients or running statistics differ with ReLUs "
				 "fused", cases[c].arch, cases[c].fused ? " fused" : "");
		model_free(&m);
		for (int k = 0; k < 2; k++)
			free(l[k]), free(st[k]);
		pcqfile_free(&f);
	}
}

/* The deeper CIFAR ResNets (arch.c's resnet(): ResNet20's structure, which
 * test_resnet20 checks against PyTorch, with more blocks a stage): their
 * learned parameters against the count the structure gives (He et al.
 * 2016 report 0.27M, 0.46M, 0.66M and 0.85M; PyTorch's torch_models.ResNet20
 * with blocks=5, 7, 9 has these counts too), every ReLU fusable, and a
 * training step with a finite loss. */
static size_t cifar_resnet_params(int blocks, int classes)
{
	size_t n = 16 * 3 * 9 + 2 * 16, cin = 16;
	static const size_t width[3] = {16, 32, 64};
	for (int stage = 0; stage < 3; stage++)
		for (int b = 0; b < blocks; b++) {
			const size_t c = width[stage];
			n += 9 * cin * c + 2 * c + 9 * c * c + 2 * c;
			if (stage > 0 && b == 0)
				n += cin * c + 2 * c;   /* the 1x1 shortcut and its BN */
			cin = c;
		}
	return n + 64 * (size_t)classes + (size_t)classes;
}

static void test_resnet_depths(void **state)
{
	(void)state;
	static const struct { const char *arch; int blocks; size_t params; } cases[] = {
		{"resnet20", 3, 272474}, {"resnet32", 5, 466906},
		{"resnet44", 7, 661338}, {"resnet56", 9, 855770},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pcqfile f = {.kind = KIND_MODEL};
		struct rng rng;
		rng_seed(&rng, 3, 0);
		assert_int_equal(arch_build(&f, cases[c].arch, (struct act_shape){3, 32, 32}, 10,
					    &rng), 0);
		struct model m;
		assert_int_equal(model_init(&m, &f, cases[c].arch, 2, 1), 0);
		assert_int_equal(cifar_resnet_params(cases[c].blocks, 10), cases[c].params);
		if (m.n_params != cases[c].params)
			fail_msg("%s: %zu learned parameters, expected %zu", cases[c].arch,
				 m.n_params, cases[c].params);
		int absorbed = 0;
		for (int j = 0; j < m.n_nodes; j++)
			absorbed += m.nodes[j].absorbed;
		assert_int_equal(absorbed, 6 * cases[c].blocks + 1);
		float x[2 * 3 * 32 * 32], dl[2 * 10];
		for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
			x[i] = (float)formula(7, i);
		const int32_t labels[2] = {3, 8};
		const float *logits = model_forward(&m, x, 2, 1, &rng);
		const struct softmax_xent_shape xs = {.N = 2, .classes = 10};
		double loss = softmax_xent(dl, NULL, logits, labels, &xs);
		assert_true(isfinite(loss) && loss > 0);
		model_zero_grads(&m);
		model_backward(&m, x, dl, 2);
		double g = 0;
		for (size_t i = 0; i < m.n_params; i++)
			g += fabs(m.grads[i]);
		assert_true(isfinite(g) && g > 0);
		model_free(&m);
		pcqfile_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resnet20),
		cmocka_unit_test(test_alexnet_small),
		cmocka_unit_test(test_same_input_twice),
		cmocka_unit_test(test_fused_gradients_and_layouts),
		cmocka_unit_test(test_relu_fusion_same_bits),
		cmocka_unit_test(test_resnet_depths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
