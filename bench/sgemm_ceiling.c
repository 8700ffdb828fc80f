/* The machine's OpenBLAS sgemm ceiling: GFLOP/s of large square products,
 * the yardstick for the training throughput in BENCHMARKS.md.
 *   build/cuda/bench/sgemm_ceiling [N] [REPS]   (default 2048 5) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2048, reps = argc > 2 ? atoi(argv[2]) : 5;
	if (n < 16 || reps < 1) {
		fprintf(stderr, "usage: sgemm_ceiling [N >= 16] [REPS >= 1]\n");
		return 2;
	}
	size_t nn = (size_t)n * n;
	float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
	float *c = malloc(nn * sizeof(float));
	if (!a || !b || !c)
		return 1;
	for (size_t i = 0; i < nn; i++) {
		a[i] = (float)(i % 7) * 1e-3f;
		b[i] = (float)(i % 5) * 1e-3f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
	double best = 0;
	for (int r = 0; r < reps; r++) {
		double t = now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
		t = now() - t;
		if (2.0 * n * n * n / t > best)
			best = 2.0 * n * n * n / t;
	}
	printf("sgemm %dx%dx%d, %d threads: %.1f GFLOP/s (best of %d)\n", n, n, n,
	       openblas_get_num_threads(), best / 1e9, reps);
	free(a);
	free(b);
	free(c);
	return 0;
}
