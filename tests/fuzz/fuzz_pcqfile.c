/* Fuzz target: any bytes as a PCQ file, then whatever a tool would do with
 * a file of its kind — plan and train a model one step, run the integer
 * engine, assign an image to a k-means cluster, load a data set split,
 * print pcq-info's summaries, write it back and read that again;
 * a model also goes through pcq-fuse, a fused model through pcq-quantize,
 * and what they make on through the same steps.
 * The contract under test (docs/FORMAT.md "Reading rules"): a reader either
 * accepts the bytes and the tool runs, or fails with one message; it never
 * reads out of bounds, leaks or trips UBSan. Built by `make fuzz` with
 * clang's libFuzzer; test_fuzz_pcqfile replays tests/fuzz/corpus in every
 * build (fuzz_pcqfile_run's verdict is checked there). */
#include "fuzz_pcqfile.h"

#include "check.h"
#include "dataset_file.h"
#include "fuse.h"
#include "kmeans.h"
#include "model.h"
#include "pcqfile.h"
#include "qinfer.h"
#include "quantize.h"
#include "rng.h"
#include "summary.h"
#include "threads.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BATCH 2
/* The harness's own bound, not the format's: a file may describe inputs
 * of up to 65535³ values, which a tool would try to allocate; the fuzzer
 * is after wrong reads, not large allocations. */
#define MAX_INPUT_VALUES (1 << 16)

static const char *NAME = "fuzz-input";

const struct devops *fuzz_device;

/* Set when a step that refused its input did not say why in exactly one
 * line, or one that accepted it printed an error (STYLE: one line each). */
static int wrong_messages;

/* fuzz_step(); rc = the step; said(rc): notes when the lines the step
 * printed disagree with its rc (harness.h), and passes rc on. (Two
 * statements: in said(step(), error_count()) the argument order would be
 * the compiler's, and clang and GCC differ.) */
static int said(int rc)
{
	if (!fuzz_said(rc))
		wrong_messages = 1;
	return rc;
}

/* BATCH images with every pixel normalised to a spread of values. */
static float *inputs(size_t per_image)
{
	float *x = xmalloc(BATCH * per_image * sizeof(float));
	for (size_t i = 0; i < BATCH * per_image; i++)
		x[i] = (float)((int)(i % 17) - 8) * 0.25f;
	return x;
}

/* Image 0 in cluster 0, image 1 in the last one. */
static void two_clusters(struct kmeans_group g[2], int clusters)
{
	g[0] = (struct kmeans_group){ .cluster = 0, .count = 1 };
	g[1] = (struct kmeans_group){ .cluster = clusters - 1, .count = 1 };
}

static size_t input_values(const struct pcqfile *f)
{
	const struct value *v = attrs_find(&f->attrs, "input_shape");
	if (!v || v->type != VALUE_INT_ARRAY || v->n != 3)
		return 0;   /* the loader says why */
	size_t n = 1;
	for (int i = 0; i < 3; i++) {
		if (v->ints[i] < 1 || v->ints[i] > MAX_INPUT_VALUES)
			return 0;
		n *= (size_t)v->ints[i];
		if (n > MAX_INPUT_VALUES)
			return SIZE_MAX;
	}
	return n;
}

/* The integer engine on the CPU, and on fuzz_device when one is set: its
 * output integers must be the CPU's, bit for bit (FUZZ_MISMATCH if not). */
static int run_quantized(const struct pcqfile *f)
{
	if (input_values(f) == SIZE_MAX)
		return -1;
	struct qinfer qi, qd;
	fuzz_step();
	if (said(qinfer_init(&qi, f, NAME, BATCH, BATCH, 1, NULL)))
		return -1;
	struct kmeans_group g[2];
	two_clusters(g, qi.q.clusters);
	const size_t idx[BATCH] = { 0, 1 };
	float *x = inputs((size_t)qi.q.c * qi.q.h * qi.q.w);
	float *scores = xmalloc(BATCH * (size_t)qi.q.classes * sizeof(float));
	qinfer_forward(&qi, x, idx, BATCH, g, 2, scores);
	int rc = 0;
	fuzz_step();
	if (fuzz_device && said(qinfer_init(&qd, f, NAME, BATCH, BATCH, 0, fuzz_device)) == 0) {
		qinfer_forward(&qd, x, idx, BATCH, g, 2, scores);
		if (memcmp(qd.outputs, qi.outputs, BATCH * (size_t)qi.q.classes) != 0)
			rc = FUZZ_MISMATCH;
		qinfer_free(&qd);
	}
	free(scores);
	free(x);
	qinfer_free(&qi);
	return rc;
}

/* One training step (calibrating a fused model's ranges), then an
 * evaluation forward, as pcq-train and pcq-infer run them. Then a fused
 * model goes on through pcq-quantize and the integer engine, a model
 * through pcq-fuse and all that. Returns whether f itself ran. */
static int run_model(struct pcqfile *f)
{
	if (input_values(f) == SIZE_MAX)
		return -1;
	struct model m;
	fuzz_step();
	if (said(model_init(&m, f, NAME, BATCH, 1)))
		return -1;
	struct kmeans_group g[2];
	two_clusters(g, m.clusters);
	m.groups = g;
	m.n_groups = 2;
	float *x = inputs(act_numel(&m.input));
	int32_t labels[BATCH] = { 0, m.classes - 1 };
	struct rng rng;
	rng_seed(&rng, 1, 2);
	int correct;
	model_run_forward(&m, x, BATCH, 1, &rng);
	model_loss(&m, labels, BATCH, &correct);
	model_zero_grads(&m);
	model_backward(&m, x, NULL, BATCH);
	model_sgd_step(&m, &(struct sgd_params){ .lr = 0.01f, .momentum = 0.9f });
	model_forward(&m, x, BATCH, 0, NULL);
	model_store(&m, f);
	free(x);
	model_free(&m);

	struct pcqfile next;
	int rc = 0;
	fuzz_step();
	if (f->kind == KIND_FUSED && said(quantize_model(&next, f, NAME)) == 0) {
		rc = run_quantized(&next) == FUZZ_MISMATCH ? FUZZ_MISMATCH : 0;
		pcqfile_free(&next);
	}
	const struct fuse_options o = { .bits = 4, .clusters = 2, .smooth = 0.5 };
	fuzz_step();
	if (f->kind == KIND_MODEL && said(fuse_model(&next, f, NAME, &o)) == 0) {
		rc = run_model(&next) == FUZZ_MISMATCH ? FUZZ_MISMATCH : 0;
		pcqfile_free(&next);
	}
	return rc;
}

static int run_kmeans(const struct pcqfile *f)
{
	struct kmeans km;
	fuzz_step();
	if (said(kmeans_load(&km, f, NAME)))
		return -1;
	size_t per_image = (size_t)km.c * km.h * km.w;
	int rc = -1;
	if (per_image <= MAX_INPUT_VALUES) {
		float *x = inputs(per_image);
		int32_t ids[BATCH];
		kmeans_assign_images(&km, x, BATCH, ids, NULL);
		for (int i = 0; i < BATCH; i++)
			CHECK(ids[i] >= 0 && ids[i] < km.k);
		free(x);
		rc = 0;
	}
	kmeans_free(&km);
	return rc;
}

static int run_dataset(const struct pcqfile *f)
{
	int loaded = 0;
	for (enum split s = SPLIT_TRAIN; s <= SPLIT_TEST; s++) {
		struct dataset ds = { 0 };
		fuzz_step();
		if (said(dataset_file_load(&ds, f, NAME, s)) == 0) {
			loaded++;
			dataset_free(&ds);
		}
	}
	return loaded ? 0 : -1;
}

/* f's bytes as pcqfile_write writes them, in a new buffer. */
static char *packed(const struct pcqfile *f, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);
	CHECK(fp != NULL);
	pcqfile_pack(f, fp, NULL, NULL);
	CHECK(fclose(fp) == 0);
	return buf;
}

/* What the writer makes of an accepted file, the reader takes, and
 * packing that again gives the same bytes. 0, or FUZZ_ROUND_TRIP. */
static int round_trip(const struct pcqfile *f)
{
	size_t la, lb;
	char *a = packed(f, &la), *b = NULL;
	struct pcqfile g;
	int rc = FUZZ_ROUND_TRIP;
	if (pcqfile_parse(&g, NAME, (const uint8_t *)a, la, KIND_ANY) == 0) {
		b = packed(&g, &lb);
		if (la == lb && memcmp(a, b, la) == 0)
			rc = 0;
		pcqfile_free(&g);
	}
	free(a);
	free(b);
	return rc;
}

int fuzz_pcqfile_run(const uint8_t *data, size_t size)
{
	struct pcqfile f;
	wrong_messages = 0;
	fuzz_step();
	if (said(pcqfile_parse(&f, NAME, data, size, KIND_ANY)))
		return wrong_messages ? FUZZ_MESSAGES : -1;
	/* pcq-info's views of it, text and JSON, every tensor listed. */
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	CHECK(null != NULL);
	for (int json = 0; json < 2; json++)
		summary_print(null, NAME, "0", &f, &(struct summary_options){ json, 1 });
	int rc = round_trip(&f);
	if (rc) {
		pcqfile_free(&f);
		return rc;
	}
	switch (f.kind) {
	case KIND_MODEL:
	case KIND_FUSED: rc = run_model(&f); break;
	case KIND_QUANTIZED: rc = run_quantized(&f); break;
	case KIND_KMEANS: rc = run_kmeans(&f); break;
	case KIND_DATASET: rc = run_dataset(&f); break;
	default: break;   /* predictions, tensors: read and checked, no more */
	}
	pcqfile_free(&f);
	return rc == FUZZ_MISMATCH ? rc : wrong_messages ? FUZZ_MESSAGES : rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++) {
		threads_set(1);
		fuzz_device = devops_host();   /* qkernels.h's definition, per element */
	}
	int rc = fuzz_pcqfile_run(data, size);
	if (rc > 0) {
		fprintf(stderr, "fuzz_pcqfile: %s\n", fuzz_failure(rc));
		abort();
	}
	return 0;
}
