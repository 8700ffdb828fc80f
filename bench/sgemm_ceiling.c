/* The machine's OpenBLAS sgemm ceiling: GFLOP/s of large square products,
 * the yardstick for the training throughput in BENCHMARKS.md; then
 * gemm() (common/gemm.h) on each backend, OpenBLAS and oneDNN's sgemm, on
 * the same square product and on AlexNetSmall's 4096-wide linear layer at
 * batch 128 (M 128, N 4096, K 4096), best of REPS each, interleaved.
 *   build/cuda/bench/sgemm_ceiling [N] [REPS]   (default 2048 5) */
#include "gemm.h"
#include "threads.h"

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
	printf("OpenBLAS (core %s) cblas_sgemm %dx%dx%d, %d threads: %.1f GFLOP/s (best of %d)\n",
	       openblas_get_corename(), n, n, n, openblas_get_num_threads(), best / 1e9, reps);
	threads_set(openblas_get_num_threads());
	const int shapes[2][3] = { { n, n, n }, { 128, 4096, 4096 } };
	for (int s = 0; s < 2; s++) {
		const int m = shapes[s][0], nn2 = shapes[s][1], k = shapes[s][2];
		float *x = calloc((size_t)m * k, sizeof(float)), *w = calloc((size_t)nn2 * k, sizeof(float));
		float *y = calloc((size_t)m * nn2, sizeof(float));
		if (!x || !w || !y)
			return 1;
		double top[2] = { 0, 0 };
		const char *names[2];
		for (int r = 0; r <= reps; r++)   /* round 0 warms up */
			for (int b = 0; b < 2; b++) {
				gemm_set_backend(b == 0 ? GEMM_OPENBLAS : GEMM_ONEDNN);
				names[b] = gemm_backend_name();
				double t = now();
				gemm(0, 1, m, nn2, k, 1, x, k, w, k, 0, y, nn2);
				t = now() - t;
				if (r && 2.0 * m * nn2 * k / t > top[b])
					top[b] = 2.0 * m * nn2 * k / t;
			}
		for (int b = 0; b < 2; b++)
			printf("gemm() on %-8s %dx%dx%d (x times w transposed), %d threads: %.1f GFLOP/s\n",
			       names[b], m, nn2, k, threads_get(), top[b] / 1e9);
		free(x);
		free(w);
		free(y);
	}
	free(a);
	free(b);
	free(c);
	return 0;
}
