/* General matrix multiply, row-major, single precision:
 *
 *     C = alpha·op(A)·op(B) + beta·C,   op(X) = X or Xᵀ,
 *
 * with op(A) (M, K), op(B) (K, N) and C (M, N), as BLAS's sgemm
 * (https://www.netlib.org/lapack/explore-html/ sgemm; CblasRowMajor).
 * gemm() is the one place that calls BLAS (OpenBLAS cblas_sgemm, or
 * oneDNN's dnnl_sgemm where OpenBLAS does not know the CPU: see
 * gemm_set_backend), so the library can be swapped or checked against
 * gemm_naive(), the plain-loop oracle (STYLE.md 5). As in BLAS, beta = 0 ignores C's old contents
 * (NaN included).
 *
 * Leading dimensions count floats between rows of the matrix as stored:
 * A is stored (M, K) with lda >= K if !trans_a, else (K, M) with lda >= M;
 * B likewise (K, N) / (N, K); C is (M, N) with ldc >= N.
 *
 * Threads: all parallelism is OpenMP's, and OpenBLAS runs on one thread
 * (gemm_threads_init): its own pool and OpenMP's spin-waiting workers
 * fight over the cores (a conv layer alternating OpenMP copies with
 * threaded sgemm ran 6x slower). Called from serial code, gemm() splits C
 * into one block of rows or columns per OpenMP thread; called inside a
 * parallel region it runs on the calling thread only. */
#ifndef PCQ_GEMM_H
#define PCQ_GEMM_H

/* Sets OpenBLAS to one thread if it is not. gemm() does this itself when
 * called from serial code; call it before a parallel region whose
 * threads call gemm(). Not from inside a parallel region. */
void gemm_threads_init(void);

void gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
	  const float *a, int lda, const float *b, int ldb, float beta,
	  float *c, int ldc);

/* The library behind gemm(). Automatic: OpenBLAS, unless it fell back to
 * pre-AVX2 kernels on a CPU with AVX2 (its DYNAMIC_ARCH build knows CPUs
 * by model number, and newer ones get Prescott's SSE3 kernels), then
 * oneDNN's sgemm. PCQ_GEMM=openblas|onednn (read once) overrides that;
 * gemm_set_backend() forces one from a program (GEMM_AUTO: back to the
 * automatic or PCQ_GEMM choice), for tests and benchmarks. */
enum { GEMM_AUTO = -1, GEMM_OPENBLAS, GEMM_ONEDNN };
void gemm_set_backend(int backend);

/* "openblas" or "onednn": the library the next call will use. */
const char *gemm_backend_name(void);

/* gemm() as a sequence of calls on tiles of at most mb x nb of C and kb of
 * the inner dimension (beta applies to the first kb; the rest add). For
 * single-threaded callers whose operands are in cache: OpenBLAS runs
 * products with M·N·K <= GEMM_SMALL_MNK through kernels that skip packing,
 * twice as fast for the 16-row products of small convolutions. */
#define GEMM_SMALL_MNK 1000000
void gemm_tiled(int trans_a, int trans_b, int m, int n, int k, float alpha,
		const float *a, int lda, const float *b, int ldb, float beta,
		float *c, int ldc, int mb, int nb, int kb);

void gemm_naive(int trans_a, int trans_b, int m, int n, int k, float alpha,
		const float *a, int lda, const float *b, int ldb, float beta,
		float *c, int ldc);

#endif
