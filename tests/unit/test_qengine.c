/* The integer engine (qmodel_load.c, qengine.c) against its fixtures
 * (tests/fixtures/gen_integer.sh): quantized ResNet20 models made by the
 * tools (4 and 8 bits, mixed precision, per-channel weights, 16-bit
 * residual branches), and for 32 quantized images the output integers
 * computed by tests/reference/qref.py, an independent integer
 * implementation. Every
 * output integer must match, on each convolution path: oneDNN's direct
 * convolution where it is usable, im2col with oneDNN's GEMM, im2col with
 * the exact fallback kernel; and the device engine (qdevice.c: qkernels.h's
 * definitions) on the host's devops, and on CUDA's when a GPU is usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "child.h"
#include "devops.h"
#include "fixture.h"
#include "igemm.h"
#include "kmeans.h"
#include "qdevice.h"
#include "qmodel.h"

#include <stdlib.h>
#include <string.h>

/* dev NULL: the CPU engine; else the device engine on dev. */
static void check_on(const char *model, const char *expect, const struct devops *dev)
{
	struct pcqfile mf, ef;
	char path[256];
	snprintf(path, sizeof(path), "tests/fixtures/%s", model);
	assert_int_equal(pcqfile_read(&mf, path, KIND_QUANTIZED, NULL), 0);
	fixture_load(&ef, expect);
	const struct tensor *x = pcqfile_tensor(&ef, "quantized_input");
	const struct tensor *cl = pcqfile_tensor(&ef, "cluster");
	const struct tensor *want = pcqfile_tensor(&ef, "expected");
	assert_non_null(x);
	assert_non_null(cl);
	assert_non_null(want);
	int n = (int)x->shape[0], c = (int)x->shape[1], hw = (int)(x->shape[2] * x->shape[3]);
	struct qmodel q;
	assert_int_equal(qmodel_load(&q, &mf, model, n), 0);
	assert_int_equal(q.classes, (int)want->shape[1]);

	/* The engine takes images grouped by cluster, NHWC. */
	size_t *order = malloc((size_t)n * sizeof(size_t));
	struct kmeans_group *groups = malloc((size_t)q.clusters * sizeof(*groups));
	size_t n_groups = kmeans_regroup(cl->data, (size_t)n, q.clusters, order, groups);
	uint8_t *in = malloc((size_t)n * c * hw);
	const uint8_t *src = x->data;
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++)
			for (int p = 0; p < hw; p++)
				in[((size_t)i * hw + p) * c + ch] = src[(order[i] * c + ch) * hw + p];
	struct qdevice d;
	if (dev)
		assert_int_equal(qdevice_init(&d, &q, dev), 0);
	const uint8_t *out = dev ? qdevice_run(&d, in, n, groups, n_groups)
				 : qmodel_run(&q, in, n, groups, n_groups);
	int mismatched = 0;
	for (int i = 0; i < n; i++)
		mismatched += memcmp(out + (size_t)i * q.classes,
				     (const uint8_t *)want->data + order[i] * q.classes,
				     (size_t)q.classes) != 0;
	if (mismatched)
		fail_msg("%s%s%s: %d of %d images differ from qref.py", model, dev ? " on " : "",
			 dev ? dev->name : "", mismatched, n);
	if (dev)
		qdevice_free(&d);
	free(order);
	free(groups);
	free(in);
	qmodel_free(&q);
	pcqfile_free(&mf);
	pcqfile_free(&ef);
}

static void check(const char *model, const char *expect)
{
	check_on(model, expect, NULL);
}

static void test_4bit_3_clusters(void **state)
{
	(void)state;
	check("int_resnet20_b4k3.msgpack", "int_resnet20_b4k3.expect.msgpack");
}

static void test_8bit_1_cluster(void **state)
{
	(void)state;
	check("int_resnet20_b8k1.msgpack", "int_resnet20_b8k1.expect.msgpack");
}

/* Mixed precision: the input, the stem's weights, the classifier's
 * weights and input, and the logits at 8 bits, 4 inside. */
static void test_8bit_first_last(void **state)
{
	(void)state;
	check("int_resnet20_b4k3f8.msgpack", "int_resnet20_b4k3f8.expect.msgpack");
}

/* Weights per output channel, 8-bit: most layers have too many q_w − Z2
 * beyond int8 for the sparse term, so per-channel offsets and their box
 * term run (oneDNN's, and the GEMM path's in test_other_paths). */
static void test_8bit_per_channel(void **state)
{
	(void)state;
	check("int_resnet20_b8k3pc.msgpack", "int_resnet20_b8k3pc.expect.msgpack");
}

/* 16-bit residual adds: each block's last convolution and downsample
 * branch write uint16 (requant_u16_rows), the adds read them
 * (requant_add_wide). */
static void test_16bit_residual(void **state)
{
	(void)state;
	check("int_resnet20_b4k3r16.msgpack", "int_resnet20_b4k3r16.expect.msgpack");
}

/* The same with weights quantized per output channel: the 16-bit
 * epilogue with a multiplier per channel (AVX-512's channel plans). */
static void test_16bit_residual_per_channel(void **state)
{
	(void)state;
	check("int_resnet20_b4k3r16pc.msgpack", "int_resnet20_b4k3r16pc.expect.msgpack");
}

/* Every fixture on device ops. */
static void check_all_on(const struct devops *dev)
{
	static const char *const names[] = {"int_resnet20_b4k3", "int_resnet20_b8k1",
					    "int_resnet20_b4k3f8", "int_resnet20_b8k3pc",
					    "int_resnet20_b4k3r16", "int_resnet20_b4k3r16pc"};
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		char model[64], expect[64];
		snprintf(model, sizeof(model), "%s.msgpack", names[i]);
		snprintf(expect, sizeof(expect), "%s.expect.msgpack", names[i]);
		check_on(model, expect, dev);
	}
}

static void test_device_host(void **state)
{
	(void)state;
	check_all_on(devops_host());
}

static void test_device_cuda(void **state)
{
	(void)state;
	const struct devops *gpu = devops_cuda();
	if (!gpu) {
		print_message("no GPU: skipped\n");
		skip();
	}
	check_all_on(gpu);
}

/* Without oneDNN's direct convolution: im2col and the GEMM (oneDNN's, and
 * the fallback kernel), in child processes (both read their environment
 * once); and with the GEMM's 8-bit weights stored with the 128 offset
 * instead of q_w − Z2 and the sparse term (the fixture's layers each have
 * one or two weights beyond int8 from Z2, so both forms are exercised). */
static void test_other_paths(void **state)
{
	(void)state;
	assert_int_equal(run_child("paths", "PCQ_ICONV", "off"), 0);
	assert_int_equal(run_child("fallback", "PCQ_ICONV", "off"), 0);
	assert_int_equal(run_child("offset", "PCQ_ICONV", "off"), 0);
}

/* The same fixtures with every requantization path (requant.h: the
 * automatic one, AVX-512 where the CPU has it, ran above) and with chunks
 * far smaller than a batch (48 KiB of accumulators: one image at a time
 * in the 16-channel layers, more in the others), in child processes. */
static void test_requant_paths_and_chunks(void **state)
{
	(void)state;
	assert_int_equal(run_child("plain", "PCQ_REQUANT", "avx2"), 0);
	assert_int_equal(run_child("plain", "PCQ_REQUANT", "scalar"), 0);
	assert_int_equal(run_child("plain", "PCQ_CHUNK_KIB", "48"), 0);
}

/* PCQ_CHUNK_KIB overrides the L2 rule; a malformed value is ignored. */
static void test_chunk_bytes(void **state)
{
	(void)state;
	unsetenv("PCQ_CHUNK_KIB");
	const size_t rule = qmodel_chunk_bytes();
	assert_true(rule >= 4096);
	setenv("PCQ_CHUNK_KIB", "48", 1);
	assert_int_equal(qmodel_chunk_bytes(), 48 * 1024);
	setenv("PCQ_CHUNK_KIB", "12x", 1);
	assert_int_equal(qmodel_chunk_bytes(), rule);
	setenv("PCQ_CHUNK_KIB", "0", 1);
	assert_int_equal(qmodel_chunk_bytes(), rule);
	unsetenv("PCQ_CHUNK_KIB");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4bit_3_clusters),
		cmocka_unit_test(test_8bit_1_cluster),
		cmocka_unit_test(test_8bit_first_last),
		cmocka_unit_test(test_8bit_per_channel),
		cmocka_unit_test(test_16bit_residual),
		cmocka_unit_test(test_16bit_residual_per_channel),
	};
	if (argc > 1) {   /* a child of test_other_paths */
		if (strcmp(argv[1], "fallback") == 0)
			igemm_set_mode(IGEMM_FALLBACK);
		if (strcmp(argv[1], "offset") == 0)
			qmodel_set_gemm_sparse(0);
		return cmocka_run_group_tests(tests, NULL, NULL);
	}
	const struct CMUnitTest all[] = {
		cmocka_unit_test(test_4bit_3_clusters),
		cmocka_unit_test(test_8bit_1_cluster),
		cmocka_unit_test(test_8bit_first_last),
		cmocka_unit_test(test_8bit_per_channel),
		cmocka_unit_test(test_16bit_residual),
		cmocka_unit_test(test_16bit_residual_per_channel),
		cmocka_unit_test(test_other_paths),
		cmocka_unit_test(test_requant_paths_and_chunks),
		cmocka_unit_test(test_chunk_bytes),
		cmocka_unit_test(test_device_host),
		cmocka_unit_test(test_device_cuda),
	};
	return cmocka_run_group_tests(all, NULL, NULL);
}
