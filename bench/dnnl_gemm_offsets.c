/* What a zero-point offset costs oneDNN's dnnl_gemm_u8s8s32 (the integer
 * engine's GEMM, common/igemm.c): C = (A − ao)·(B − bo)ᵀ for an M x K uint8 A
 * and an N x K int8 B, timed with ao, bo in {0, 1} x {0, 8}:
 *   dnnl_gemm_offsets [M] [N] [K]   (default 1 4096 4096: AlexNetSmall's
 *                                    4096x4096 linear layer, one image)
 * ms per call, the best of five 0.2-second bursts. Threads: OpenMP's
 * (OMP_NUM_THREADS). */
#include <oneapi/dnnl/dnnl.h>

#include <stdint.h>
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

int main(int argc, char **argv)
{
	const int M = argc > 1 ? atoi(argv[1]) : 1, N = argc > 2 ? atoi(argv[2]) : 4096;
	const int K = argc > 3 ? atoi(argv[3]) : 4096;
	if (M < 1 || N < 1 || K < 1) {
		fprintf(stderr, "usage: dnnl_gemm_offsets [M] [N] [K]\n");
		return 2;
	}
	uint8_t *A = malloc((size_t)M * K);
	int8_t *B = malloc((size_t)N * K);
	int32_t *C = malloc((size_t)M * N * sizeof(int32_t));
	if (!A || !B || !C)
		return 1;
	memset(A, 3, (size_t)M * K);
	memset(B, 5, (size_t)N * K);
	const int32_t co = 0;
	for (int bo = 0; bo <= 8; bo += 8)
		for (int ao = 0; ao <= 1; ao++) {
			double best = 1e30;
			for (int r = 0; r < 5; r++) {
				double t0 = now(), t;
				int calls = 0;
				do {
					if (dnnl_gemm_u8s8s32('N', 'T', 'F', M, N, K, 1.0f, A, K,
							      (uint8_t)ao, B, K, (int8_t)bo, 0.0f, C,
							      N, &co) != dnnl_success) {
						fprintf(stderr, "dnnl_gemm_offsets: the GEMM failed\n");
						return 1;
					}
					calls++;
				} while ((t = now() - t0) < 0.2);
				best = t / calls < best ? t / calls : best;
			}
			printf("M %d N %d K %d  ao %d bo %d: %8.3f ms\n", M, N, K, ao, bo, 1e3 * best);
		}
	free(A);
	free(B);
	free(C);
	return 0;
}
