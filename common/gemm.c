/* The BLAS wrapper, its tiled form and the plain-loop oracle; see gemm.h. */
#include "gemm.h"

#include "check.h"

#include <cblas.h>
#include <omp.h>

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

static void sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
		  const float *a, int lda, const float *b, int ldb, float beta,
		  float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
		    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
		    a, lda, b, ldb, beta, c, ldc);
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
