/* Tests for gemm.c: gemm() and gemm_tiled() against gemm_naive() for
 * every transpose, leading dimensions wider than the matrices, alpha and
 * beta (beta = 0 ignoring NaN in C), k = 0, the OpenMP split of large
 * products, calls from inside a parallel region, and float rounding on
 * normal data; all of it on each backend (OpenBLAS and oneDNN's sgemm,
 * gemm_set_backend), whichever the automatic choice is on this CPU.
 *
 * Most checks use small integers: every product and partial sum is then
 * an integer below 2^24, exact in float whatever the order of the sums,
 * so the optimised and naive results must agree bit for bit and any
 * indexing mistake shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "fixture.h"
#include "gradcheck.h"

static float *alloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	assert_non_null(p);
	return p;
}

/* Integers in [-4, 4]. */
static void fill_small_ints(float *x, size_t n, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed, 0);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((int)rng_below(&r, 9) - 4);
}

/* One product: op(A) (M, K), op(B) (K, N), C (M, N), each stored with
 * `pad` spare floats per row. */
struct problem {
	int ta, tb, m, n, k, lda, ldb, ldc;
	float *a, *b, *c1, *c2;
	size_t na, nb, nc;
};

static struct problem problem_init(int ta, int tb, int m, int n, int k, int pad,
				   uint64_t seed)
{
	struct problem p = { .ta = ta, .tb = tb, .m = m, .n = n, .k = k };
	p.lda = (ta ? m : k) + pad;
	p.ldb = (tb ? k : n) + pad;
	p.ldc = n + pad;
	p.na = (size_t)(ta ? k : m) * p.lda;
	p.nb = (size_t)(tb ? n : k) * p.ldb;
	p.nc = (size_t)m * p.ldc;
	p.a = alloc(p.na);
	p.b = alloc(p.nb);
	p.c1 = alloc(p.nc);
	p.c2 = alloc(p.nc);
	fill_small_ints(p.a, p.na, seed);
	fill_small_ints(p.b, p.nb, seed + 1);
	fill_small_ints(p.c1, p.nc, seed + 2);
	memcpy(p.c2, p.c1, p.nc * sizeof(float));
	return p;
}

static void problem_free(struct problem *p)
{
	free(p->a);
	free(p->b);
	free(p->c1);
	free(p->c2);
}

static void run_both(struct problem *p, float alpha, float beta)
{
	gemm(p->ta, p->tb, p->m, p->n, p->k, alpha, p->a, p->lda, p->b, p->ldb, beta,
	     p->c1, p->ldc);
	gemm_naive(p->ta, p->tb, p->m, p->n, p->k, alpha, p->a, p->lda, p->b, p->ldb,
		   beta, p->c2, p->ldc);
}

static void test_matches_naive(void **state)
{
	(void)state;
	const int shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 33, 9 }, { 16, 256, 144 },
				  { 64, 48, 200 }, { 5, 1, 70 } };
	/* alpha and beta powers of two keep the integer results exact */
	const float ab[][2] = { { 1, 0 }, { 0.5f, 1 }, { 2, -0.5f } };
	uint64_t seed = 1;
	for (int ta = 0; ta < 2; ta++)
	for (int tb = 0; tb < 2; tb++)
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
	for (size_t j = 0; j < sizeof(ab) / sizeof(ab[0]); j++) {
		for (int pad = 0; pad <= 3; pad += 3) {
			struct problem p = problem_init(ta, tb, shapes[i][0], shapes[i][1],
							shapes[i][2], pad, seed += 3);
			run_both(&p, ab[j][0], ab[j][1]);
			assert_memory_equal(p.c1, p.c2, p.nc * sizeof(float));
			problem_free(&p);
		}
	}
}

/* As in BLAS, beta = 0 means C is not read: NaN there must not leak, on
 * the small-matrix path, the packed path and the two-thread split. */
static void test_beta_zero_ignores_nan(void **state)
{
	(void)state;
	const int shapes[][3] = { { 4, 6, 5 }, { 200, 150, 120 } };
	for (size_t i = 0; i < 2; i++) {
		struct problem p = problem_init(0, 1, shapes[i][0], shapes[i][1], shapes[i][2],
						1, 10 + i);
		for (size_t q = 0; q < p.nc; q++)
			p.c1[q] = p.c2[q] = NAN;
		run_both(&p, 1, 0);
		for (int r = 0; r < p.m; r++)
			for (int c = 0; c < p.n; c++)
				assert_true(isfinite(p.c1[(size_t)r * p.ldc + c]));
		assert_memory_equal(p.c1, p.c2, p.nc * sizeof(float));
		problem_free(&p);
	}
}

/* k = 0: C = beta·C (an empty sum), and m or n = 0: nothing at all. */
static void test_empty(void **state)
{
	(void)state;
	struct problem p = problem_init(0, 0, 3, 4, 0, 2, 20);
	float *c0 = alloc(p.nc);
	memcpy(c0, p.c1, p.nc * sizeof(float));
	run_both(&p, 1, 0.5f);
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 4; c++)
			assert_true(p.c1[(size_t)r * p.ldc + c] == 0.5f * c0[(size_t)r * p.ldc + c]);
	assert_memory_equal(p.c1, p.c2, p.nc * sizeof(float));
	memcpy(p.c1, c0, p.nc * sizeof(float));
	gemm(0, 0, 0, 4, 5, 1, p.a, 5, p.b, 4, 0, p.c1, p.ldc);
	gemm(0, 0, 3, 0, 5, 1, p.a, 5, p.b, 4, 0, p.c1, p.ldc);
	assert_memory_equal(p.c1, c0, p.nc * sizeof(float));
	free(c0);
	problem_free(&p);
}

/* Products above the threshold are split over the OpenMP threads along
 * the longer side of C; the same call inside a parallel region runs on
 * the calling thread. Both must give the exact result. OpenBLAS itself
 * is kept to one thread, even after someone set it to more. */
static void test_threads(void **state)
{
	(void)state;
	openblas_set_num_threads(2);
	const int shapes[][3] = { { 40, 300, 200 }, { 301, 40, 200 }, { 33, 35, 4000 } };
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct problem p = problem_init(i == 1, 1, shapes[i][0], shapes[i][1],
						shapes[i][2], 1, 30 + i);
		run_both(&p, 1, 1);
		assert_memory_equal(p.c1, p.c2, p.nc * sizeof(float));
		problem_free(&p);
	}
	assert_int_equal(openblas_get_num_threads(), 1);
	const int threads = omp_get_max_threads();
	struct problem *ps = calloc(threads, sizeof(*ps));
	assert_non_null(ps);
	for (int t = 0; t < threads; t++)
		ps[t] = problem_init(0, 0, 70, 90, 110, 0, 40 + t);
#pragma omp parallel
	{
		struct problem *p = &ps[omp_get_thread_num()];
		gemm(0, 0, p->m, p->n, p->k, 1, p->a, p->lda, p->b, p->ldb, 0, p->c1, p->ldc);
	}
	for (int t = 0; t < threads; t++) {
		gemm_naive(0, 0, 70, 90, 110, 1, ps[t].a, ps[t].lda, ps[t].b, ps[t].ldb, 0,
			   ps[t].c2, ps[t].ldc);
		assert_memory_equal(ps[t].c1, ps[t].c2, ps[t].nc * sizeof(float));
		problem_free(&ps[t]);
	}
	free(ps);
}

/* gemm_tiled with tiles that do and do not divide the sides, including
 * tiles of the inner dimension (beta on the first, added after). */
static void test_tiled(void **state)
{
	(void)state;
	const int tiles[][3] = { { 16, 16, 16 }, { 5, 7, 3 }, { 100, 100, 100 }, { 1, 64, 9 } };
	uint64_t seed = 50;
	for (int ta = 0; ta < 2; ta++)
	for (int tb = 0; tb < 2; tb++)
	for (size_t i = 0; i < sizeof(tiles) / sizeof(tiles[0]); i++) {
		struct problem p = problem_init(ta, tb, 37, 45, 29, 2, seed += 3);
		gemm_tiled(ta, tb, p.m, p.n, p.k, 0.5f, p.a, p.lda, p.b, p.ldb, -1, p.c1,
			   p.ldc, tiles[i][0], tiles[i][1], tiles[i][2]);
		gemm_naive(ta, tb, p.m, p.n, p.k, 0.5f, p.a, p.lda, p.b, p.ldb, -1, p.c2,
			   p.ldc);
		assert_memory_equal(p.c1, p.c2, p.nc * sizeof(float));
		problem_free(&p);
	}
}

/* Normal data: float sums in any order against double sums. Each C entry
 * is a sum of K = 300 products of N(0,1) values (|sum| ~ 17); rounding
 * error grows like sqrt(K)·2^-24·|terms| ~ 2e-5, bounded by K·2^-24·Σ|ab|
 * ~ 3e-3 in the worst case: atol 1e-3 + rtol 1e-4 sits between. */
static void test_rounding(void **state)
{
	(void)state;
	const int m = 50, n = 60, k = 300;
	float *a = alloc((size_t)m * k), *b = alloc((size_t)k * n);
	float *c1 = alloc((size_t)m * n), *c2 = alloc((size_t)m * n);
	fill_normal(a, (size_t)m * k, 0, 1, 60);
	fill_normal(b, (size_t)k * n, 0, 1, 61);
	gemm(0, 0, m, n, k, 1, a, k, b, n, 0, c1, n);
	gemm_naive(0, 0, m, n, k, 1, a, k, b, n, 0, c2, n);
	assert_close(c1, c2, (size_t)m * n, 1e-3, 1e-4, "gemm on normal data");
	free(a);
	free(b);
	free(c1);
	free(c2);
}

static int use_openblas(void **state)
{
	(void)state;
	gemm_set_backend(GEMM_OPENBLAS);
	print_message("gemm backend: %s\n", gemm_backend_name());
	return 0;
}

static int use_onednn(void **state)
{
	(void)state;
	gemm_set_backend(GEMM_ONEDNN);
	print_message("gemm backend: %s\n", gemm_backend_name());
	return 0;
}

static int use_auto(void **state)
{
	(void)state;
	gemm_set_backend(GEMM_AUTO);
	return 0;
}

/* The automatic backend is one of the two, and PCQ_GEMM picks it. */
static void test_backend_names(void **state)
{
	(void)state;
	gemm_set_backend(GEMM_AUTO);
	const char *name = gemm_backend_name(), *env = getenv("PCQ_GEMM");
	assert_true(!strcmp(name, "openblas") || !strcmp(name, "onednn"));
	if (env && (!strcmp(env, "openblas") || !strcmp(env, "onednn")))
		assert_string_equal(name, env);
	print_message("gemm: automatic backend %s (OpenBLAS core %s)\n", name,
		      openblas_get_corename());
	gemm_set_backend(GEMM_ONEDNN);
	assert_string_equal(gemm_backend_name(), "onednn");
	gemm_set_backend(GEMM_OPENBLAS);
	assert_string_equal(gemm_backend_name(), "openblas");
	gemm_set_backend(GEMM_AUTO);
	assert_string_equal(gemm_backend_name(), name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_naive),
		cmocka_unit_test(test_beta_zero_ignores_nan),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_tiled),
		cmocka_unit_test(test_rounding),
	};
	const struct CMUnitTest names[] = { cmocka_unit_test(test_backend_names) };
	return cmocka_run_group_tests_name("openblas", tests, use_openblas, use_auto) |
	       cmocka_run_group_tests_name("onednn", tests, use_onednn, use_auto) |
	       cmocka_run_group_tests_name("backends", names, NULL, NULL);
}
