/* The GPU matrix product against the CPU one on the same random inputs.
 * Without a GPU (or without CUDA compiled in) the test reports skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_describe(void **state)
{
	(void)state;
	char buf[512];
	backend_describe(buf, sizeof(buf));
	print_message("backend: %s\n", buf);
	assert_non_null(strstr(buf, "CPU"));
}

static void test_sgemm_gpu_matches_cpu(void **state)
{
	(void)state;
	if (backend_gpu_count() == 0) {
		print_message("no GPU: skipped\n");
		skip();
	}
	enum { M = 67, N = 45, K = 129 };
	float *a = malloc(M * K * sizeof(float)), *b = malloc(K * N * sizeof(float));
	float *c_cpu = malloc(M * N * sizeof(float)), *c_gpu = malloc(M * N * sizeof(float));
	srand(1);
	for (int i = 0; i < M * K; i++)
		a[i] = (float)rand() / RAND_MAX - 0.5f;
	for (int i = 0; i < K * N; i++)
		b[i] = (float)rand() / RAND_MAX - 0.5f;
	assert_int_equal(backend_sgemm(DEVICE_CPU, M, N, K, a, b, c_cpu), 0);
	assert_int_equal(backend_sgemm(DEVICE_CUDA, M, N, K, a, b, c_gpu), 0);
	/* Sums of 129 products of magnitude <= 0.25 in a different order
	 * (and possibly TF32-free FMA paths): 1e-4 absolute covers it. */
	for (int i = 0; i < M * N; i++)
		assert_true(fabsf(c_cpu[i] - c_gpu[i]) <= 1e-4f);
	free(a);
	free(b);
	free(c_cpu);
	free(c_gpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_sgemm_gpu_matches_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
