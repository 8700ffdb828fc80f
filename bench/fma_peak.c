/* This CPU's FP32 FMA peak: each OpenMP thread runs ten independent chains
 * of 8-lane fused multiply-adds (enough to hide the FMA latency), and the
 * total is printed in GFLOP/s. The sgemm ceiling (sgemm_ceiling.c) and the
 * training benchmarks compare against it (BENCHMARKS.md).
 *   fma_peak [THREADS]   (default 2) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define STEPS 100000000L

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

__attribute__((target("avx2,fma"))) static float chains(void)
{
	const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
	__m256 a[10];
	for (int i = 0; i < 10; i++)
		a[i] = _mm256_set1_ps((float)i);
	for (long k = 0; k < STEPS; k++) {
		a[0] = _mm256_fmadd_ps(a[0], b, c);
		a[1] = _mm256_fmadd_ps(a[1], b, c);
		a[2] = _mm256_fmadd_ps(a[2], b, c);
		a[3] = _mm256_fmadd_ps(a[3], b, c);
		a[4] = _mm256_fmadd_ps(a[4], b, c);
		a[5] = _mm256_fmadd_ps(a[5], b, c);
		a[6] = _mm256_fmadd_ps(a[6], b, c);
		a[7] = _mm256_fmadd_ps(a[7], b, c);
		a[8] = _mm256_fmadd_ps(a[8], b, c);
		a[9] = _mm256_fmadd_ps(a[9], b, c);
	}
	float f[8], sum = 0;
	for (int i = 0; i < 10; i++) {
		_mm256_storeu_ps(f, a[i]);
		for (int j = 0; j < 8; j++)
			sum += f[j];
	}
	return sum;   /* returned, so the chains are not optimised away */
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	float sink = 0;
	double best = 0;
	for (int trial = 0; trial < 3; trial++) {
		double t0 = now();
		#pragma omp parallel num_threads(threads) reduction(+:sink)
		sink += chains();
		double gflops = 2.0 * threads * STEPS * 10 * 8 / (now() - t0) / 1e9;
		best = gflops > best ? gflops : best;
	}
	printf("FP32 FMA peak, %d threads: %.1f GFLOP/s (best of 3; checksum %g)\n", threads, best,
	       (double)sink);
	return 0;
}
