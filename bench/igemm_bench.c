/* Throughput of igemm_u8s8s32 (common/igemm.h) on the im2col products of
 * ResNet20 and AlexNetSmall convolutions at batch 128 on 32x32 inputs, and
 * one AlexNetSmall linear layer: GOP/s (2·M·N·K per call, best of REPS)
 * for the automatic path (oneDNN where exact) and for the AVX2 fallback,
 * and whether the two agree bit for bit. Each figure is the best call of
 * at least REPS calls and 0.2 s.
 *   build/cpu/bench/igemm_bench [REPS] [THREADS]   (default 3, all cores) */
#include "igemm.h"
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

static const struct shape {
	const char *name;
	int m, n, k;
} shapes[] = {
	{ "resnet20 stage 1 conv 3x3x16->16, 32x32", 128 * 32 * 32, 16, 144 },
	{ "resnet20 stage 2 conv 3x3x32->32, 16x16", 128 * 16 * 16, 32, 288 },
	{ "resnet20 stage 3 conv 3x3x64->64, 8x8", 128 * 8 * 8, 64, 576 },
	{ "alexnet-small features.3 5x5x96->256, 15x15", 128 * 15 * 15, 256, 2400 },
	{ "alexnet-small features.8 3x3x384->384, 7x7", 128 * 7 * 7, 384, 3456 },
	{ "alexnet-small classifier.4 4096->4096", 128, 4096, 4096 },
};

/* Best seconds per call over at least reps calls and 0.2 s (after one
 * warm-up call, which also generates oneDNN's kernels). */
static double time_calls(const struct shape *s, const uint8_t *a, const int8_t *b,
			 int32_t *c, int reps)
{
	igemm_u8s8s32(s->m, s->n, s->k, a, s->k, 128, b, s->k, 0, c, s->n);
	double best = 1e30, start = now();
	for (int r = 0; r < reps || now() - start < 0.2; r++) {
		double t = now();
		igemm_u8s8s32(s->m, s->n, s->k, a, s->k, 128, b, s->k, 0, c, s->n);
		t = now() - t;
		best = t < best ? t : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 0;
	if (reps < 1) {
		fprintf(stderr, "usage: igemm_bench [REPS >= 1] [THREADS (0: all cores)]\n");
		return 2;
	}
	threads_set(threads);
	printf("igemm_u8s8s32, %d threads, zero points za = 128, zb = 0, best of >= %d calls\n",
	       threads_get(), reps);
	printf("%-46s %6s %5s %5s  %-30s %8s  %8s  %s\n", "shape", "M", "N", "K",
	       "auto path", "GOP/s", "AVX2", "same");
	int mismatches = 0;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		size_t na = (size_t)s->m * s->k, nb = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
		uint8_t *a = malloc(na);
		int8_t *b = malloc(nb);
		int32_t *c1 = malloc(nc * sizeof(int32_t)), *c2 = malloc(nc * sizeof(int32_t));
		if (!a || !b || !c1 || !c2)
			return 1;
		struct rng r;
		rng_seed(&r, 1 + i, 0);
		for (size_t q = 0; q < na; q++)
			a[q] = (uint8_t)rng_below(&r, 256);
		for (size_t q = 0; q < nb; q++)
			b[q] = (int8_t)((int)rng_below(&r, 255) - 127);
		double ops = 2.0 * s->m * s->n * s->k;

		igemm_set_mode(IGEMM_AUTO);
		const char *path = igemm_impl_name(igemm_choose(s->m, s->n, s->k, a, s->k, b, s->k));
		double t_auto = time_calls(s, a, b, c1, reps);
		igemm_set_mode(IGEMM_FALLBACK);
		double t_fb = time_calls(s, a, b, c2, reps);
		int same = !memcmp(c1, c2, nc * sizeof(int32_t));
		mismatches += !same;
		printf("%-46s %6d %5d %5d  %-30s %8.1f  %8.1f  %s\n", s->name, s->m, s->n, s->k,
		       path, ops / t_auto / 1e9, ops / t_fb / 1e9, same ? "yes" : "NO");
		fflush(stdout);
		free(a);
		free(b);
		free(c1);
		free(c2);
	}
	return mismatches ? 1 : 0;
}
