/* Throughput of the integer engine alone (common/qengine.c) on a
 * quantized-model file: random quantized images at batch B, spread evenly
 * over the model's clusters, qmodel_run timed in TRIALS trials of REPS
 * batches each after one warm-up batch; prints the best trial's images/s
 * (this shared machine's speed drifts by 10-20% over seconds) and the
 * time per operation kind over all trials (qmodel's node_ns); with PER_NODE
 * set in the environment, each node's time as well.
 *   qengine_bench INT.msgpack [BATCH] [REPS] [THREADS] [TRIALS]
 *   (128, 20, 2, 5) */
#include "iconv.h"
#include "pcqfile.h"
#include "qmodel.h"
#include "rng.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *op_names[] = { "quantize", "conv", "linear", "add", "maxpool",
				  "global_avgpool", "avgpool_requant", "flatten" };

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: qengine_bench INT.msgpack [BATCH] [REPS] [THREADS]\n");
		return 2;
	}
	int batch = argc > 2 ? atoi(argv[2]) : 128, reps = argc > 3 ? atoi(argv[3]) : 20;
	threads_set(argc > 4 ? atoi(argv[4]) : 2);
	struct pcqfile f;
	struct qmodel q;
	if (pcqfile_read(&f, argv[1], KIND_QUANTIZED, NULL) ||
	    qmodel_load(&q, &f, argv[1], batch))
		return 1;
	size_t per = (size_t)q.c * q.h * q.w;
	uint8_t *x = malloc(per * batch);
	struct rng r;
	rng_seed(&r, 1, 0);
	for (size_t i = 0; i < per * batch; i++)
		x[i] = (uint8_t)(rng_u32(&r) % (uint32_t)(q.nodes[0].qmax + 1));
	struct kmeans_group *groups = calloc((size_t)q.clusters, sizeof(*groups));
	for (int k = 0; k < q.clusters; k++) {
		groups[k].cluster = k;
		groups[k].count = (size_t)(batch / q.clusters + (k < batch % q.clusters));
	}
	uint64_t ns[q.n_nodes];
	qmodel_run(&q, x, batch, groups, (size_t)q.clusters);
	for (int j = 0; j < q.n_nodes; j++)
		ns[j] = 0;
	q.node_ns = ns;
	int trials = argc > 5 ? atoi(argv[5]) : 5;
	double best = 0, all = 0;
	for (int k = 0; k < trials; k++) {
		double t0 = now();
		for (int i = 0; i < reps; i++)
			qmodel_run(&q, x, batch, groups, (size_t)q.clusters);
		double t = now() - t0;
		best = k == 0 || t < best ? t : best;
		all += t;
	}
	printf("%s: batch %d, K=%d, %d threads: %.0f images/s (best of %d; mean %.0f)\n", argv[1],
	       batch, q.clusters, threads_get(), reps * batch / best, trials,
	       trials * reps * batch / all);
	reps *= trials;
	double by_op[8] = { 0 }, total = 0;
	for (int j = 0; j < q.n_nodes; j++) {
		by_op[q.nodes[j].op] += 1e-9 * (double)ns[j];
		total += 1e-9 * (double)ns[j];
	}
	for (int o = 0; o < 8; o++)
		if (by_op[o] > 0)
			printf("  %-16s %6.1f us/image %5.1f%%\n", op_names[o],
			       1e6 * by_op[o] / (reps * batch), 100 * by_op[o] / total);
	for (int j = 0; getenv("PER_NODE") && j < q.n_nodes; j++)
		printf("  node %2d %-24s %-16s %dx%dx%d %8.2f us/image  %s\n", j, q.nodes[j].name,
		       op_names[q.nodes[j].op], q.nodes[j].c, q.nodes[j].h, q.nodes[j].w,
		       1e-3 * (double)ns[j] / (reps * batch),
		       q.nodes[j].iconv ? iconv_impl(q.nodes[j].iconv) : "");
	return 0;
}
