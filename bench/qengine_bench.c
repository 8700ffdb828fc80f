/* Throughput of the integer engine alone (common/qengine.c) on a
 * quantized-model file: random quantized images at batch B, spread evenly
 * over the model's clusters, qmodel_run timed in TRIALS trials of REPS
 * batches each after one warm-up batch; prints the best trial's images/s
 * (this shared machine's speed drifts by 10-20% over seconds) and the
 * time per operation kind over all trials (qmodel's node_ns); with PER_NODE
 * set in the environment, each node's time as well (and its convolution's
 * oneDNN kernel and its sparse taps). Several models, separated by commas,
 * run in turn within each trial, so that they are compared under the same
 * drift; REQUANT_PATHS=avx2,avx512 (any of scalar, avx2, avx512) runs each
 * model once per requantization path (requant.h) in the same way, and
 * CHUNKS=4096,2048 once per chunk size in KiB (PCQ_CHUNK_KIB, qmodel.h).
 *   qengine_bench INT.msgpack[,INT.msgpack...] [BATCH] [REPS] [THREADS] [TRIALS]
 *   (128, 20, 2, 5) */
#include "iconv.h"
#include "pcqfile.h"
#include "qmodel.h"
#include "requant.h"
#include "rng.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *op_names[] = { "quantize", "conv", "linear", "add", "maxpool",
				  "global_avgpool", "avgpool_requant", "flatten" };

struct bench {
	const char *path;
	struct pcqfile f;
	struct qmodel q;
	uint8_t *x;
	struct kmeans_group *groups;
	uint64_t *ns;
	double best, all;
	int requant;   /* the requantization path it runs (requant_force) */
	const char *chunk_kib;   /* its PCQ_CHUNK_KIB, or NULL */
};

static int bench_load(struct bench *b, const char *path, int batch, int requant,
		      const char *chunk_kib)
{
	b->path = path;
	b->requant = requant;
	b->chunk_kib = chunk_kib;
	if (chunk_kib)
		setenv("PCQ_CHUNK_KIB", chunk_kib, 1);
	if (requant_force(requant)) {
		fprintf(stderr, "qengine_bench: this CPU has no requantization path %d\n", requant);
		return -1;
	}
	if (pcqfile_read(&b->f, path, KIND_QUANTIZED, NULL) || qmodel_load(&b->q, &b->f, path, batch))
		return -1;
	const struct qmodel *q = &b->q;
	size_t per = (size_t)q->c * q->h * q->w;
	b->x = malloc(per * batch);
	struct rng r;
	rng_seed(&r, 1, 0);
	for (size_t i = 0; i < per * batch; i++)
		b->x[i] = (uint8_t)(rng_u32(&r) % (uint32_t)(q->nodes[0].qmax + 1));
	b->groups = calloc((size_t)q->clusters, sizeof(*b->groups));
	for (int k = 0; k < q->clusters; k++) {
		b->groups[k].cluster = k;
		b->groups[k].count = (size_t)(batch / q->clusters + (k < batch % q->clusters));
	}
	b->ns = calloc((size_t)q->n_nodes, sizeof(uint64_t));
	qmodel_run(&b->q, b->x, batch, b->groups, (size_t)q->clusters);   /* warm-up */
	b->q.node_ns = b->ns;
	return 0;
}

/* "(N sparse taps)" for a convolution with a sparse term (iconv.h), else "". */
static const char *sparse_note(const struct qnode *n)
{
	static char buf[32];
	const int taps = n->iconv ? iconv_sparse_count(n->iconv) : 0;
	if (!taps)
		return "";
	snprintf(buf, sizeof(buf), "(%d sparse taps)", taps);
	return buf;
}

static void report(const struct bench *b, int batch, int reps, int trials)
{
	const struct qmodel *q = &b->q;
	requant_force(b->requant);
	printf("%s: batch %d, K=%d, %d threads, requant %s, chunk %s KiB: %.0f images/s "
	       "(best of %d; mean %.0f)\n", b->path, batch, q->clusters, threads_get(),
	       requant_impl_name(), b->chunk_kib ? b->chunk_kib : "default",
	       reps * batch / b->best, trials, trials * reps * batch / b->all);
	reps *= trials;
	double by_op[8] = { 0 }, total = 0;
	for (int j = 0; j < q->n_nodes; j++) {
		by_op[q->nodes[j].op] += 1e-9 * (double)b->ns[j];
		total += 1e-9 * (double)b->ns[j];
	}
	for (int o = 0; o < 8; o++)
		if (by_op[o] > 0)
			printf("  %-16s %6.1f us/image %5.1f%%\n", op_names[o],
			       1e6 * by_op[o] / (reps * batch), 100 * by_op[o] / total);
	for (int j = 0; getenv("PER_NODE") && j < q->n_nodes; j++)
		printf("  node %2d %-24s %-16s %dx%dx%d %8.2f us/image  %s %s\n", j, q->nodes[j].name,
		       op_names[q->nodes[j].op], q->nodes[j].c, q->nodes[j].h, q->nodes[j].w,
		       1e-3 * (double)b->ns[j] / (reps * batch),
		       q->nodes[j].iconv ? iconv_impl(q->nodes[j].iconv) : "",
		       sparse_note(&q->nodes[j]));
}

/* REQUANT_PATHS's names as requant.h's paths; REQUANT_AUTO alone when
 * unset; -1 on an unknown name. */
static int parse_paths(const char *list, int *paths)
{
	if (!list || !*list) {
		paths[0] = REQUANT_AUTO;
		return 1;
	}
	char buf[64], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	int n = 0;
	for (char *t = strtok_r(buf, ",", &save); t && n < 3; t = strtok_r(NULL, ",", &save)) {
		int p = REQUANT_SCALAR;
		while (p <= REQUANT_AVX512 && strcmp(t, requant_path_name(p)))
			p++;
		if (p > REQUANT_AVX512) {
			fprintf(stderr, "qengine_bench: REQUANT_PATHS: '%s': expected scalar, avx2 or avx512\n", t);
			return -1;
		}
		paths[n++] = p;
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: qengine_bench INT.msgpack[,INT.msgpack...] [BATCH] [REPS] "
				"[THREADS] [TRIALS]\n");
		return 2;
	}
	int batch = argc > 2 ? atoi(argv[2]) : 128, reps = argc > 3 ? atoi(argv[3]) : 20;
	threads_set(argc > 4 ? atoi(argv[4]) : 2);
	int trials = argc > 5 ? atoi(argv[5]) : 5;
	int paths[3], n_paths = parse_paths(getenv("REQUANT_PATHS"), paths);
	if (n_paths < 0)
		return 2;
	enum { MAX_MODELS = 16 };
	struct bench b[MAX_MODELS];
	int m = 0;
	enum { MAX_CHUNKS = 8 };
	static char chunk_list[256];   /* CHUNKS, split in place */
	char *chunks[MAX_CHUNKS] = { NULL }, *save = NULL;
	int n_chunks = 0;
	snprintf(chunk_list, sizeof(chunk_list), "%s", getenv("CHUNKS") ? getenv("CHUNKS") : "");
	for (char *t = strtok_r(chunk_list, ",", &save); t && n_chunks < MAX_CHUNKS;
	     t = strtok_r(NULL, ",", &save))
		chunks[n_chunks++] = t;
	n_chunks += !n_chunks;
	for (char *path = strtok(argv[1], ","); path; path = strtok(NULL, ","))
		for (int p = 0; p < n_paths; p++)
			for (int c = 0; c < n_chunks; c++, m++)
				if (m == MAX_MODELS ||
				    bench_load(&b[m], path, batch, paths[p], chunks[c]))
					return 1;
	for (int k = 0; k < trials; k++)
		for (int i = 0; i < m; i++) {
			requant_force(b[i].requant);
			double t0 = now();
			for (int r = 0; r < reps; r++)
				qmodel_run(&b[i].q, b[i].x, batch, b[i].groups, (size_t)b[i].q.clusters);
			double t = now() - t0;
			b[i].best = k == 0 || t < b[i].best ? t : b[i].best;
			b[i].all += t;
		}
	for (int i = 0; i < m; i++)
		report(&b[i], batch, reps, trials);
	return 0;
}
