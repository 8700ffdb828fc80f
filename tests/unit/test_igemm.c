/* Tests for igemm.c: igemm_u8s8s32 against a plain int64 reference, bit
 * for bit, on every path (oneDNN, the AVX2 fallback, the scalar loops):
 * sizes 1 and odd sizes that leave partial register tiles, leading
 * dimensions wider than the rows (the padding of C must stay untouched),
 * zero points 0 and not, extreme operands up to K = IGEMM_MAX_K, K = 0,
 * the OpenMP split and calls inside a parallel region; oneDNN's sign
 * convention for its offsets.
 *
 * The machine running the tests may have VNNI (then oneDNN is exact and
 * taken for all data); the tests also re-run this binary with
 * ONEDNN_MAX_CPU_ISA=AVX512_CORE and =AVX2 (oneDNN's kernels without
 * VNNI, which saturate int16 pair sums), where igemm must take oneDNN only
 * for operands that cannot saturate and stay exact, and with PCQ_IGEMM=
 * fallback and =scalar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "child.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "igemm.h"
#include "rng.h"


#define SENTINEL 0x5a5a5a5a

/* Kinds of operands. */
enum data {
	DATA_RANDOM,    /* A in [0, 255], B in [-128, 127] */
	DATA_BOUNDED,   /* A in [0, 127]: cannot saturate oneDNN without VNNI */
	DATA_EXTREMES,  /* A in {0, 255}, B in {-128, 127} at random */
	DATA_MIN_MAX,   /* A all 255, B all -128 */
	DATA_MAX_MAX,   /* A all 255, B all 127 */
	DATA_ZERO_MIN,  /* A all 0, B all -128 */
};

/* One product: A (M, K) in lda, B (N, K) in ldb, C (M, N) in ldc. */
struct problem {
	int m, n, k, lda, ldb, ldc;
	uint8_t za;
	int8_t zb;
	uint8_t *a;
	int8_t *b;
	int32_t *c, *want;
};

static struct problem problem_init(int m, int n, int k, int pad, uint8_t za, int8_t zb,
				   enum data data, uint64_t seed)
{
	struct problem p = { .m = m, .n = n, .k = k, .za = za, .zb = zb };
	p.lda = k + pad + (k + pad == 0);
	p.ldb = k + 2 * pad + (k + 2 * pad == 0);
	p.ldc = n + 3 * pad;
	size_t na = (size_t)m * p.lda, nb = (size_t)n * p.ldb, nc = (size_t)m * p.ldc;
	p.a = malloc(na ? na : 1);
	p.b = malloc(nb ? nb : 1);
	p.c = malloc((nc ? nc : 1) * sizeof(int32_t));
	p.want = malloc((nc ? nc : 1) * sizeof(int32_t));
	assert_true(p.a && p.b && p.c && p.want);
	struct rng r;
	rng_seed(&r, seed, 7);
	for (size_t i = 0; i < na; i++) {
		uint32_t u = rng_u32(&r);
		p.a[i] = data == DATA_RANDOM	 ? (uint8_t)u
			 : data == DATA_BOUNDED	 ? (uint8_t)(u & 127)
			 : data == DATA_EXTREMES ? (uint8_t)(u & 1 ? 255 : 0)
			 : data == DATA_ZERO_MIN ? 0
						 : 255;
	}
	for (size_t i = 0; i < nb; i++) {
		uint32_t u = rng_u32(&r);
		p.b[i] = data == DATA_RANDOM || data == DATA_BOUNDED ? (int8_t)(int)(u % 256) - 128
			 : data == DATA_EXTREMES ? (int8_t)(u & 1 ? 127 : -128)
			 : data == DATA_MAX_MAX	 ? 127
						 : -128;
	}
	/* the reference, in int64; C's padding keeps the sentinel */
	for (size_t i = 0; i < nc; i++)
		p.want[i] = SENTINEL;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			int64_t s = 0;
			for (int q = 0; q < k; q++)
				s += (int64_t)(p.a[(size_t)i * p.lda + q] - za) *
				     (p.b[(size_t)j * p.ldb + q] - zb);
			assert_true(s >= INT32_MIN && s <= INT32_MAX);
			p.want[(size_t)i * p.ldc + j] = (int32_t)s;
		}
	return p;
}

static void problem_free(struct problem *p)
{
	free(p->a);
	free(p->b);
	free(p->c);
	free(p->want);
}

static void run(struct problem *p)
{
	for (size_t i = 0; i < (size_t)p->m * p->ldc; i++)
		p->c[i] = SENTINEL;
	igemm_u8s8s32(p->m, p->n, p->k, p->a, p->lda, p->za, p->b, p->ldb, p->zb, p->c, p->ldc);
}

/* Fails with the first wrong element and the path taken. */
static void check(const struct problem *p, const char *what)
{
	for (int i = 0; i < p->m; i++)
		for (int j = 0; j < p->ldc; j++) {
			size_t q = (size_t)i * p->ldc + j;
			if (p->c[q] != p->want[q])
				fail_msg("%s, %s: %dx%dx%d (lda %d ldb %d ldc %d, za %d zb %d): "
					 "C[%d][%d] = %d, want %d",
					 what,
					 igemm_impl_name(igemm_choose(p->m, p->n, p->k, p->a,
								      p->lda, p->b, p->ldb)),
					 p->m, p->n, p->k, p->lda, p->ldb, p->ldc, p->za, p->zb,
					 i, j, p->c[q], p->want[q]);
		}
}

static const enum igemm_mode modes[] = { IGEMM_AUTO, IGEMM_FALLBACK, IGEMM_FORCE_SCALAR };
static const char *const mode_names[] = { "auto", "fallback", "scalar" };

/* The product on every path, each against the reference. */
static void run_all_modes(struct problem *p)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		igemm_set_mode(modes[i]);
		run(p);
		check(p, mode_names[i]);
	}
	igemm_set_mode(IGEMM_AUTO);
}

/* Sizes 1, odd sizes (partial 4x16 tiles, odd K, K not a multiple of 8 or
 * of the 256-long k blocks), with and without padding, zero points at
 * 0, in the middle and at the ends of their ranges, random and bounded
 * operands; then random sizes. */
static void test_sizes(void **state)
{
	(void)state;
	static const int shapes[][3] = {
		{ 1, 1, 1 }, { 7, 13, 29 }, { 64, 100, 300 }, { 1, 37, 70 }, { 41, 1, 70 },
		{ 9, 18, 1 }, { 5, 17, 2 }, { 3, 3, 8 }, { 4, 16, 16 }, { 33, 47, 17 },
		{ 70, 20, 513 }, { 2, 130, 9 },
	};
	static const int zps[][2] = { { 0, 0 }, { 128, 0 }, { 3, -7 }, { 255, 127 }, { 0, -128 },
				      { 200, 90 } };
	uint64_t seed = 1;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (size_t z = 0; z < sizeof(zps) / sizeof(zps[0]); z++)
			for (int pad = 0; pad <= 5; pad += 5) {
				struct problem p = problem_init(shapes[s][0], shapes[s][1], shapes[s][2],
								pad, (uint8_t)zps[z][0],
								(int8_t)zps[z][1],
								z % 2 ? DATA_BOUNDED : DATA_RANDOM, seed++);
				run_all_modes(&p);
				problem_free(&p);
			}
	struct rng r;
	rng_seed(&r, 99, 0);
	for (int t = 0; t < 40; t++) {
		int m = 1 + (int)rng_below(&r, 80), n = 1 + (int)rng_below(&r, 70);
		int k = 1 + (int)rng_below(&r, 300), pad = (int)rng_below(&r, 4);
		struct problem p = problem_init(m, n, k, pad, (uint8_t)rng_below(&r, 256),
						(int8_t)((int)rng_below(&r, 256) - 128),
						t % 3 ? DATA_RANDOM : DATA_BOUNDED, seed++);
		run_all_modes(&p);
		problem_free(&p);
	}
}

/* Operands at the ends of their ranges, where int16 pair sums of u8·s8
 * products saturate (255·(−128)·2 = −65280) and the result reaches
 * ±255²·K, up to K = IGEMM_MAX_K where it nearly fills int32. */
static void test_extremes(void **state)
{
	(void)state;
	static const struct {
		int za, zb;
		enum data data;
	} cases[] = {
		{ 0, 127, DATA_MIN_MAX },   /* 255·(−255): the most negative */
		{ 255, 127, DATA_ZERO_MIN }, /* (−255)·(−255): the most positive */
		{ 0, -128, DATA_MAX_MAX },  /* 255·255 */
		{ 0, 0, DATA_MIN_MAX },     /* raw 255·(−128): saturates vpmaddubsw */
		{ 0, 0, DATA_MAX_MAX },     /* raw 255·127 */
		{ 0, 0, DATA_EXTREMES },
		{ 255, -128, DATA_EXTREMES },
		{ 128, 1, DATA_EXTREMES },
	};
	static const int shapes[][3] = {
		{ 1, 1, 1 }, { 3, 5, IGEMM_MAX_K }, { 17, 33, 4095 }, { 40, 24, 1000 },
	};
	uint64_t seed = 1000;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
			struct problem p = problem_init(shapes[s][0], shapes[s][1], shapes[s][2],
							s % 2, (uint8_t)cases[c].za,
							(int8_t)cases[c].zb, cases[c].data, seed++);
			run_all_modes(&p);
			problem_free(&p);
		}
}

/* K = 0 writes zeros (an empty sum), M = 0 or N = 0 writes nothing. */
static void test_empty(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		igemm_set_mode(modes[i]);
		struct problem p = problem_init(3, 4, 0, 2, 5, 6, DATA_RANDOM, 50);
		run(&p);
		check(&p, mode_names[i]);
		int32_t c[4] = { 1, 2, 3, 4 };
		uint8_t a[4] = { 1, 2, 3, 4 };
		int8_t b[4] = { 1, 2, 3, 4 };
		igemm_u8s8s32(0, 2, 2, a, 2, 0, b, 2, 0, c, 2);
		igemm_u8s8s32(2, 0, 2, a, 2, 0, b, 2, 0, c, 2);
		for (int q = 0; q < 4; q++)
			assert_int_equal(c[q], q + 1);
		problem_free(&p);
	}
	igemm_set_mode(IGEMM_AUTO);
}

/* Products above the threshold are split over two OpenMP threads: by rows,
 * and by column blocks too when there are few rows; the same calls inside
 * a parallel region run on the calling thread. All exact. */
static void test_threads(void **state)
{
	(void)state;
	const int saved = omp_get_max_threads();
	omp_set_num_threads(2);
	static const int shapes[][3] = { { 300, 70, 500 }, { 3, 200, 4000 }, { 131, 16, 1200 } };
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		struct problem p = problem_init(shapes[s][0], shapes[s][1], shapes[s][2], 1, 77,
						-3, s == 2 ? DATA_EXTREMES : DATA_RANDOM, 60 + s);
		run_all_modes(&p);
		problem_free(&p);
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		igemm_set_mode(modes[i]);
		struct problem ps[2];
		for (int t = 0; t < 2; t++)
			ps[t] = problem_init(150, 90, 300, t, 10, 20, DATA_RANDOM, 70 + t);
#pragma omp parallel num_threads(2)
		{
			if (omp_get_thread_num() < 2)
				run(&ps[omp_get_thread_num()]);
		}
		for (int t = 0; t < 2; t++) {
			check(&ps[t], mode_names[i]);
			problem_free(&ps[t]);
		}
	}
	igemm_set_mode(IGEMM_AUTO);
	omp_set_num_threads(saved);
}

/* oneDNN 2.6 subtracts its offsets, C = (A − ao)(B − bo) (dnnl.h); earlier
 * MKL-DNN releases documented them as added. (10 − 3)·(5 − 2) = 21, where
 * adding them would give 13·7 = 91. With transb = 'T', B is (N, K). */
static void test_onednn_offsets(void **state)
{
	(void)state;
	const uint8_t a[2] = { 10, 1 };
	const int8_t b[2] = { 5, -1 };
	const int32_t co = 0;
	int32_t c = 0;
	assert_int_equal(dnnl_gemm_u8s8s32('N', 'T', 'F', 1, 1, 1, 1.0f, a, 1, 3, b, 1, 2,
					   0.0f, &c, 1, &co),
			 dnnl_success);
	assert_int_equal(c, 21);
	/* K = 2: (10 − 3)(5 − 2) + (1 − 3)(−1 − 2) = 21 + 6 */
	assert_int_equal(dnnl_gemm_u8s8s32('N', 'T', 'F', 1, 1, 2, 1.0f, a, 2, 3, b, 2, 2,
					   0.0f, &c, 1, &co),
			 dnnl_success);
	assert_int_equal(c, 27);
}

static int onednn_has_vnni(void)
{
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
	       (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
}

/* Which path each mode and kind of data takes. */
static void test_choose(void **state)
{
	(void)state;
	struct problem big = problem_init(20, 10, 50, 0, 0, 0, DATA_MIN_MAX, 80);
	struct problem small = problem_init(20, 10, 50, 0, 0, 0, DATA_BOUNDED, 81);
	const enum igemm_impl fallback =
		__builtin_cpu_supports("avx2") ? IGEMM_AVX2 : IGEMM_SCALAR;
	igemm_set_mode(IGEMM_AUTO);
	assert_int_equal(igemm_choose(small.m, small.n, small.k, small.a, small.lda,
				      small.b, small.ldb), IGEMM_ONEDNN);
	assert_int_equal(igemm_choose(big.m, big.n, big.k, big.a, big.lda, big.b, big.ldb),
			 onednn_has_vnni() ? IGEMM_ONEDNN : fallback);
	/* only the last row over the bound, 16383 / 128 = 127 */
	for (int j = 0; j < big.n * big.k; j++)
		big.b[j] = -128;
	for (int i = 0; i < big.m * big.k; i++)
		big.a[i] = i == big.m * big.k - 1 ? 128 : 127;
	assert_int_equal(igemm_choose(big.m, big.n, big.k, big.a, big.lda, big.b, big.ldb),
			 onednn_has_vnni() ? IGEMM_ONEDNN : fallback);
	big.a[big.m * big.k - 1] = 127;
	assert_int_equal(igemm_choose(big.m, big.n, big.k, big.a, big.lda, big.b, big.ldb),
			 IGEMM_ONEDNN);
	/* any uint8 A when |B| <= 64: 255·64 = 16320 */
	for (int i = 0; i < big.m * big.k; i++)
		big.a[i] = 255;
	for (int j = 0; j < big.n * big.k; j++)
		big.b[j] = j % 2 ? 64 : -64;
	assert_int_equal(igemm_choose(big.m, big.n, big.k, big.a, big.lda, big.b, big.ldb),
			 IGEMM_ONEDNN);
	big.b[3] = -65;
	assert_int_equal(igemm_choose(big.m, big.n, big.k, big.a, big.lda, big.b, big.ldb),
			 onednn_has_vnni() ? IGEMM_ONEDNN : fallback);
	igemm_set_mode(IGEMM_FALLBACK);
	assert_int_equal(igemm_choose(small.m, small.n, small.k, small.a, small.lda,
				      small.b, small.ldb), fallback);
	igemm_set_mode(IGEMM_FORCE_SCALAR);
	assert_int_equal(igemm_choose(small.m, small.n, small.k, small.a, small.lda,
				      small.b, small.ldb), IGEMM_SCALAR);
	igemm_set_mode(IGEMM_AUTO);
	problem_free(&big);
	problem_free(&small);
}

/* ---- Re-runs of this binary under another environment ---- */


/* oneDNN limited to ISAs without VNNI (ONEDNN_MAX_CPU_ISA): all the tests
 * again, and the choice of path. */
static void test_without_vnni(void **state)
{
	(void)state;
	assert_int_equal(run_child("no-vnni", "ONEDNN_MAX_CPU_ISA", "AVX512_CORE"), 0);
	assert_int_equal(run_child("no-vnni", "ONEDNN_MAX_CPU_ISA", "AVX2"), 0);
}

static void test_env(void **state)
{
	(void)state;
	assert_int_equal(run_child("env-fallback", "PCQ_IGEMM", "fallback"), 0);
	assert_int_equal(run_child("env-scalar", "PCQ_IGEMM", "scalar"), 0);
}

/* In the no-VNNI child: a product whose raw operands saturate int16 pair
 * sums. oneDNN's own result is printed, not asserted (it is the reason for
 * the fallback, not a property of igemm). */
static void child_saturation_note(void **state)
{
	(void)state;
	if (onednn_has_vnni())
		skip();
	struct problem p = problem_init(2, 3, 64, 0, 0, 0, DATA_MIN_MAX, 90);
	const int32_t co = 0;
	assert_int_equal(dnnl_gemm_u8s8s32('N', 'T', 'F', p.m, p.n, p.k, 1.0f, p.a, p.lda, 0,
					   p.b, p.ldb, 0, 0.0f, p.c, p.ldc, &co),
			 dnnl_success);
	char isa[32];
	snprintf(isa, sizeof(isa), "%#x", (unsigned)dnnl_get_effective_cpu_isa());
	print_message("note: oneDNN (ISA %s) on 255·(−128)·64: %d, exact %d (%s)\n", isa, p.c[0],
		      p.want[0], p.c[0] == p.want[0] ? "exact" : "saturated");
	problem_free(&p);
}

/* In the PCQ_IGEMM children, before any igemm_set_mode: the path taken,
 * and an exact product on it. */
static void child_env(void **state)
{
	const char *mode = *state;
	const enum igemm_impl fallback =
		__builtin_cpu_supports("avx2") ? IGEMM_AVX2 : IGEMM_SCALAR;
	struct problem p = problem_init(45, 37, 301, 3, 255, -128, DATA_EXTREMES, 95);
	assert_int_equal(igemm_choose(p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb),
			 !strcmp(mode, "env-scalar") ? IGEMM_SCALAR : fallback);
	run(&p);
	check(&p, mode);
	problem_free(&p);
}

int main(int argc, char **argv)
{
	set_program_name(argv[0]);
	if (argc > 1 && !strcmp(argv[1], "no-vnni")) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(child_saturation_note),
			cmocka_unit_test(test_choose),
			cmocka_unit_test(test_sizes),
			cmocka_unit_test(test_extremes),
			cmocka_unit_test(test_threads),
		};
		if (onednn_has_vnni()) {
			print_message("ONEDNN_MAX_CPU_ISA=%s had no effect: skipped\n",
				      getenv("ONEDNN_MAX_CPU_ISA"));
			return 0;
		}
		return cmocka_run_group_tests_name("igemm, oneDNN without VNNI", tests, NULL, NULL);
	}
	if (argc > 1 && !strncmp(argv[1], "env-", 4)) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test_prestate(child_env, argv[1]),
		};
		return cmocka_run_group_tests_name(argv[1], tests, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_onednn_offsets),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_without_vnni),
		cmocka_unit_test(test_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
