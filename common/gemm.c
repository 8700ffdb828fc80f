/* The BLAS wrapper, its tiled form and the plain-loop oracle; see gemm.h. */
#include "gemm.h"

#include "check.h"

#include <cblas.h>
#include <ctype.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Products below this many flops are not worth waking a second thread. */
#define GEMM_PARALLEL_FLOPS 4e6

/* Checks the leading dimensions against the shapes, as BLAS would (it
 * would print its own message and carry on, or exit). */
static void check_args(int trans_a, int trans_b, int m, int n, int k,
		       int lda, int ldb, int ldc)
{
	CHECK(m >= 0 && n >= 0 && k >= 0);
	CHECK(lda >= (trans_a ? m : k) && lda >= 1);
	CHECK(ldb >= (trans_b ? k : n) && ldb >= 1);
	CHECK(ldc >= n && ldc >= 1);
}

void gemm_threads_init(void)
{
	CHECK(!omp_in_parallel());
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
}

/* ---- The backend ---- */

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static int auto_backend;
static atomic_int forced_backend = GEMM_AUTO;

/* Nonzero when OpenBLAS runs kernels older than AVX2 on a CPU that has
 * it: the core it names is none of those built for AVX2 or later. Its
 * DYNAMIC_ARCH build picks the core from the CPU's model number, and
 * models newer than the library (0.3.21 and Intel's 5th-generation Xeon)
 * fall back to Prescott's SSE3 kernels, 5x slower here. */
static int openblas_behind(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	static const char *const avx2_cores[] = { "haswell", "skylakex", "cooperlake",
						  "sapphirerapids", "zen" };
	const char *name = openblas_get_corename();
	char lower[32] = "";
	for (size_t i = 0; name && name[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	for (size_t i = 0; i < sizeof(avx2_cores) / sizeof(avx2_cores[0]); i++)
		if (!strcmp(lower, avx2_cores[i]))
			return 0;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

static void backend_init(void)
{
	const char *e = getenv("PCQ_GEMM");
	if (e && !strcmp(e, "openblas"))
		auto_backend = GEMM_OPENBLAS;
	else if (e && !strcmp(e, "onednn"))
		auto_backend = GEMM_ONEDNN;
	else {
		if (e && *e && strcmp(e, "auto"))
			warn("PCQ_GEMM=%s: expected auto, openblas or onednn; using auto", e);
		auto_backend = openblas_behind() ? GEMM_ONEDNN : GEMM_OPENBLAS;
	}
}

static int backend_now(void)
{
	pthread_once(&backend_once, backend_init);
	const int f = atomic_load_explicit(&forced_backend, memory_order_relaxed);
	return f == GEMM_AUTO ? auto_backend : f;
}

void gemm_set_backend(int backend)
{
	CHECK(backend >= GEMM_AUTO && backend <= GEMM_ONEDNN);
	atomic_store_explicit(&forced_backend, backend, memory_order_relaxed);
}

const char *gemm_backend_name(void)
{
	return backend_now() == GEMM_ONEDNN ? "onednn" : "openblas";
}

/* One product on the calling thread. oneDNN's sgemm runs on OpenMP's
 * threads when called from serial code, so there the calling thread's
 * thread count is set to 1 around it (gemm() has split the work, or
 * found it too small to split). */
static void sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
		  const float *a, int lda, const float *b, int ldb, float beta,
		  float *c, int ldc)
{
	if (backend_now() == GEMM_OPENBLAS) {
		cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
			    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
			    a, lda, b, ldb, beta, c, ldc);
		return;
	}
	const int serial = !omp_in_parallel(), threads = omp_get_max_threads();
	if (serial && threads > 1)
		omp_set_num_threads(1);
	dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
				     lda, b, ldb, beta, c, ldc);
	if (serial && threads > 1)
		omp_set_num_threads(threads);
	if (s != dnnl_success)
		die("gemm: oneDNN's sgemm failed (%d)", (int)s);
}

/* Where row i / column j of op(A) / op(B) starts. */
static const float *a_row(int trans_a, const float *a, int lda, int i, int p)
{
	return trans_a ? a + (size_t)p * lda + i : a + (size_t)i * lda + p;
}

static const float *b_col(int trans_b, const float *b, int ldb, int p, int j)
{
	return trans_b ? b + (size_t)j * ldb + p : b + (size_t)p * ldb + j;
}

void gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
	  const float *a, int lda, const float *b, int ldb, float beta,
	  float *c, int ldc)
{
	check_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
	const int serial = !omp_in_parallel();
	if (serial)
		gemm_threads_init();
	if (m == 0 || n == 0)
		return;
	if (k == 0) {  /* C = beta·C, which BLAS implementations treat unevenly */
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				c[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * c[(size_t)i * ldc + j];
		return;
	}
	if (!serial || omp_get_max_threads() < 2 ||
	    2.0 * m * n * k < GEMM_PARALLEL_FLOPS) {
		sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
		return;
	}
	/* one block of C per thread, split along its longer side in
	 * multiples of 16 (a whole AVX-512 register of floats) */
	const int split_n = n >= m, len = split_n ? n : m;
#pragma omp parallel
	{
		int t = omp_get_thread_num(), nt = omp_get_num_threads();
		int per = ((len + nt - 1) / nt + 15) / 16 * 16;
		int lo = t * per < len ? t * per : len;
		int hi = lo + per < len ? lo + per : len;
		if (lo < hi && split_n)
			sgemm(trans_a, trans_b, m, hi - lo, k, alpha, a, lda,
			      b_col(trans_b, b, ldb, 0, lo), ldb, beta, c + lo, ldc);
		else if (lo < hi)
			sgemm(trans_a, trans_b, hi - lo, n, k, alpha,
			      a_row(trans_a, a, lda, lo, 0), lda, b, ldb, beta,
			      c + (size_t)lo * ldc, ldc);
	}
}

void gemm_tiled(int trans_a, int trans_b, int m, int n, int k, float alpha,
		const float *a, int lda, const float *b, int ldb, float beta,
		float *c, int ldc, int mb, int nb, int kb)
{
	check_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
	CHECK(mb > 0 && nb > 0 && kb > 0);
	for (int i = 0; i < m; i += mb) {
		int mi = m - i < mb ? m - i : mb;
		for (int j = 0; j < n; j += nb) {
			int nj = n - j < nb ? n - j : nb;
			float *cij = c + (size_t)i * ldc + j;
			if (k == 0)
				gemm(trans_a, trans_b, mi, nj, 0, alpha, a, lda, b, ldb,
				     beta, cij, ldc);
			for (int p = 0; p < k; p += kb)
				gemm(trans_a, trans_b, mi, nj, k - p < kb ? k - p : kb, alpha,
				     a_row(trans_a, a, lda, i, p), lda,
				     b_col(trans_b, b, ldb, p, j), ldb,
				     p == 0 ? beta : 1.0f, cij, ldc);
		}
	}
}

void gemm_naive(int trans_a, int trans_b, int m, int n, int k, float alpha,
		const float *a, int lda, const float *b, int ldb, float beta,
		float *c, int ldc)
{
	check_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < n; j++) {
			/* double accumulation: the oracle should be the more
			 * accurate side of every comparison */
			double sum = 0;
			for (int p = 0; p < k; p++) {
				float x = *a_row(trans_a, a, lda, i, p);
				float y = *b_col(trans_b, b, ldb, p, j);
				sum += (double)x * y;
			}
			float *cij = &c[(size_t)i * ldc + j];
			*cij = beta == 0 ? (float)(alpha * sum)
					 : (float)(alpha * sum + (double)beta * *cij);
		}
	}
}
