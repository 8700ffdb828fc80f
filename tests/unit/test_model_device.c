/* model_device.c: a model moved to a device (devops.h) trains like the
 * same model on the CPU. With the host's devops, which run the CPU layer
 * functions on "device" memory, the device runner itself (slabs, graph
 * walk, gradient accumulation of residual edges, dropout masks, SGD,
 * syncing back) is checked on any machine; with CUDA's, when a GPU is
 * usable, the GPU path end to end. ResNet20 and AlexNetSmall (dropout
 * included), three SGD steps, eval mode; their fused models (fake-
 * quantized weights, per-cluster activation ranges) fine-tuned the same
 * way; and ResNet20 with its global pool written as a windowed one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "child.h"
#include "devops.h"
#include "fixture.h"
#include "fuse.h"
#include "gradcheck.h"
#include "model.h"
#include "pcqfile.h"
#include "softmax_xent.h"

static double peak_of(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

/* Within atol + tol·|want|, atol a fraction of the largest |want|: the
 * device sums in another order than the CPU, whose own order depends on
 * its kernels (oneDNN and OpenBLAS pick them by instruction set), and a
 * value near zero that is the difference of large ones keeps their
 * rounding. On an AVX2 machine AlexNetSmall's velocities differ by up to
 * 2.8e-4 of the largest (0.63), −1.1e-5 against −6e-9 near zero. Fused:
 * tol of the largest; plain: 1e-3 of it. */
static void assert_close_state(const float *got, const float *want, size_t n, int fused,
			       double tol, const char *what)
{
	const double peak = peak_of(want, n);
	assert_close(got, want, n, fused ? tol * peak : fmax(1e-5, 1e-3 * peak), tol, what);
}

/* The architecture's global average pool as the windowed pool it equals
 * (8×8 → 1×1, kernel 8): no architecture has one, so this is how a
 * windowed pool gets checked. */
static void make_pool_windowed(struct pcqfile *f)
{
	size_t j = 0;
	while (j < f->n_layers && strcmp(f->layers[j].name, "avgpool"))
		j++;
	assert_true(j < f->n_layers);
	free(f->layers[j].op);
	f->layers[j].op = strdup("avgpool2d");
	attrs_set_int(&f->layers[j].params, "kernel", 8);
	attrs_set_int(&f->layers[j].params, "stride", 8);
	attrs_set_int(&f->layers[j].params, "pad", 0);
}

/* bits: 0, the pre-trained model; else the architecture's fused model
 * with that many bits and 3 clusters, its batches in three cluster runs.
 * tol: the logits' and loss's relative tolerance (fused: of the largest
 * logit, since a flipped rounding moves a logit by a quantization step of
 * its cluster's range); state_tol: the relative tolerance of the
 * parameters, velocities and statistics after 3 steps. windowed: the
 * global pool written as make_pool_windowed's. weights: the fused
 * model's weights fake-quantized per output channel (WEIGHTS_PER_CHANNEL)
 * and/or on the symmetric grid (WEIGHTS_SYMMETRIC). */
enum { WEIGHTS_PER_CHANNEL = 1, WEIGHTS_SYMMETRIC = 2 };
static void check_trains_alike(const char *arch, const struct devops *ops, int bits,
			       double tol, double state_tol, int windowed, int weights)
{
	const int fused = bits > 0;
	struct pcqfile pre = {.kind = KIND_MODEL}, f;
	struct rng init;
	rng_seed(&init, 7, 0);
	assert_int_equal(arch_build(&pre, arch, (struct act_shape){3, 32, 32}, 10, &init), 0);
	if (windowed)
		make_pool_windowed(&pre);
	if (fused) {
		struct fuse_options o = {.bits = bits, .clusters = 3, .smooth = 0.9,
					 .per_channel = !!(weights & WEIGHTS_PER_CHANNEL),
					 .symmetric = !!(weights & WEIGHTS_SYMMETRIC)};
		assert_int_equal(fuse_model(&f, &pre, "pre", &o), 0);
		pcqfile_free(&pre);
	} else {
		f = pre;
	}
	const int n = 6;
	struct model cpu, dev;
	assert_int_equal(model_init(&cpu, &f, "test", n, 1), 0);
	assert_int_equal(model_init(&dev, &f, "test", n, 1), 0);
	assert_int_equal(model_use_device(&dev, &f, "test", ops), 0);
	float *start = malloc(cpu.n_params * sizeof(float));
	memcpy(start, cpu.params, cpu.n_params * sizeof(float));
	const struct kmeans_group runs[] = {{0, 2}, {1, 1}, {2, 3}};
	if (fused) {
		cpu.groups = dev.groups = runs;
		cpu.n_groups = dev.n_groups = 3;
	}

	float *x = malloc((size_t)n * 3 * 32 * 32 * sizeof(float));
	fill_normal(x, (size_t)n * 3 * 32 * 32, 0, 1, 11);
	int32_t labels[6] = {0, 3, 9, 1, 3, 7};
	float *dl_cpu = malloc((size_t)n * 10 * sizeof(float)), *dl_dev = malloc((size_t)n * 10 * sizeof(float));
	struct softmax_xent_shape xs = {.N = n, .classes = 10};
	struct sgd_params sp = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
	struct rng r_cpu, r_dev;   /* the dropout masks: the same stream on both */
	rng_seed(&r_cpu, 3, 0);
	rng_seed(&r_dev, 3, 0);
	char what[96];
	for (int step = 0; step < 3; step++) {
		const float *lc = model_forward(&cpu, x, n, 1, &r_cpu);
		const float *ld = model_forward(&dev, x, n, 1, &r_dev);
		snprintf(what, sizeof(what), "%s%s on %s: step %d logits", arch, fused ? " fused" : "",
			 ops->name, step);
		assert_close(ld, lc, (size_t)n * 10, fused ? tol * peak_of(lc, (size_t)n * 10) : tol,
			     tol, what);
		/* the loss where the model runs (its gradient stays there), or on
		 * the host from the logits, with the gradient passed in */
		const int on_model = step != 1;
		int nc_cpu = 0, nc_dev = 0;
		double loss_cpu = on_model ? model_loss(&cpu, labels, n, &nc_cpu)
					   : softmax_xent(dl_cpu, &nc_cpu, lc, labels, &xs);
		double loss_dev = on_model ? model_loss(&dev, labels, n, &nc_dev)
					   : softmax_xent(dl_dev, &nc_dev, ld, labels, &xs);
		assert_true(fabs(loss_dev - loss_cpu) <= tol * fabs(loss_cpu));
		if (!fused)
			assert_int_equal(nc_dev, nc_cpu);
		model_zero_grads(&cpu);
		model_zero_grads(&dev);
		model_backward(&cpu, x, on_model ? NULL : dl_cpu, n);
		model_backward(&dev, x, on_model ? NULL : dl_dev, n);
		model_sgd_step(&cpu, &sp);
		model_sgd_step(&dev, &sp);
	}
	/* back on the host: every parameter, velocity, gradient, running stat */
	model_sync_host(&dev);
	snprintf(what, sizeof(what), "%s on %s: parameters' updates", arch, ops->name);
	for (size_t i = 0; i < cpu.n_params; i++) {
		dev.params[i] -= start[i];
		cpu.params[i] -= start[i];
	}
	assert_close_state(dev.params, cpu.params, cpu.n_params, fused, state_tol, what);
	snprintf(what, sizeof(what), "%s on %s: velocities", arch, ops->name);
	assert_close_state(dev.velocity, cpu.velocity, cpu.n_params, fused,
			   fused ? state_tol : 10 * state_tol, what);
	snprintf(what, sizeof(what), "%s on %s: running statistics and ranges", arch, ops->name);
	assert_close_state(dev.buffers, cpu.buffers, cpu.n_buffers, fused, state_tol, what);
	for (size_t i = 0; i < cpu.n_params; i++) {
		dev.params[i] += start[i];
		cpu.params[i] += start[i];
	}
	free(start);
	/* eval mode, a smaller batch (fused: two cluster runs; then float) */
	const struct kmeans_group eval_runs[] = {{1, 1}, {2, 1}};
	for (int float_only = 0; float_only <= fused; float_only++) {
		if (fused) {
			cpu.groups = dev.groups = eval_runs;
			cpu.n_groups = dev.n_groups = 2;
			cpu.float_only = dev.float_only = float_only;
		}
		const float *lc = model_forward(&cpu, x, 2, 0, NULL);
		float ec[20];
		memcpy(ec, lc, sizeof(ec));
		const float *ld = model_forward(&dev, x, 2, 0, NULL);
		snprintf(what, sizeof(what), "%s on %s: eval logits%s", arch, ops->name,
			 float_only ? " (float)" : "");
		assert_close(ld, ec, 20, fused ? tol * peak_of(ec, 20) : tol, tol, what);
	}
	free(x);
	free(dl_cpu);
	free(dl_dev);
	model_free(&cpu);
	model_free(&dev);
	pcqfile_free(&f);
}

static void test_host(void **state)
{
	(void)state;
	check_trains_alike("resnet20", devops_host(), 0, 1e-4, 1e-3, 0, 0);
	check_trains_alike("alexnet-small", devops_host(), 0, 1e-4, 1e-3, 0, 0);
	check_trains_alike("resnet20", devops_host(), 0, 1e-4, 1e-3, 1, 0);
}

/* In a child process with PCQ_CONV=off: the CPU model then runs the same
 * plain layer functions as the host device, and the two agree to float
 * rounding even in fake-quantized models, where one flipped rounding
 * moves an activation by a quantization step. */
static void fused_plain_alike(void **state)
{
	(void)state;
	check_trains_alike("resnet20", devops_host(), 4, 1e-4, 1e-3, 0, 0);
	check_trains_alike("alexnet-small", devops_host(), 4, 1e-4, 1e-3, 0, 0);
	check_trains_alike("resnet20", devops_host(), 4, 1e-4, 1e-3, 0, WEIGHTS_PER_CHANNEL);
	check_trains_alike("alexnet-small", devops_host(), 4, 1e-4, 1e-3, 0,
			   WEIGHTS_PER_CHANNEL | WEIGHTS_SYMMETRIC);
}

/* Fused models against the host device: with the plain kernels on both
 * sides (fused_plain_alike, in a child), and with the CPU model on
 * oneDNN's convolutions (the default: every convolution of a fused model
 * is, since a fake quantization of the input needs no gradient, model.c),
 * which sum in another order, so held to the GPU's tolerance at 8 bits. */
static void test_host_fused(void **state)
{
	(void)state;
	assert_int_equal(run_child("fused", "PCQ_CONV", "off"), 0);
	check_trains_alike("resnet20", devops_host(), 8, 5e-2, 5e-2, 0, 0);
	check_trains_alike("alexnet-small", devops_host(), 8, 5e-2, 5e-2, 0, 0);
}

/* The GPU sums the convolutions in another order than the CPU: plain
 * models agree to float rounding, but in a fused model a flipped rounding
 * moves an activation by a quantization step, and the flips add up over
 * ResNet20's twenty fake-quantized layers and three steps (2 % of the
 * largest logit in the emulator). So fused models are held to 5 % of the
 * largest value, at 8 bits; the device runner's own bookkeeping is held
 * to the CPU bit for bit by test_host_fused and test_device.sh. */
static void test_cuda(void **state)
{
	(void)state;
	const struct devops *gpu = devops_cuda();
	if (!gpu) {
		print_message("no GPU: skipped\n");
		skip();
	}
	check_trains_alike("resnet20", gpu, 0, 1e-4, 1e-3, 0, 0);
	check_trains_alike("resnet20", gpu, 0, 1e-4, 1e-3, 1, 0);
	check_trains_alike("alexnet-small", gpu, 0, 1e-4, 1e-3, 0, 0);
	check_trains_alike("resnet20", gpu, 8, 5e-2, 5e-2, 0, 0);
	check_trains_alike("alexnet-small", gpu, 8, 5e-2, 5e-2, 0, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "fused")) {   /* test_host_fused's child */
		const struct CMUnitTest plain[] = { cmocka_unit_test(fused_plain_alike) };
		return cmocka_run_group_tests(plain, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_fused),
		cmocka_unit_test(test_cuda),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
