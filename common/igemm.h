/* Integer GEMM for integer-only inference: uint8 activations times int8
 * weights, accumulated exactly in int32. Row-major:
 *
 *     C[m·ldc + n] = Σ_k (A[m·lda + k] − za) · (B[n·ldb + k] − zb)
 *
 * for m < M, n < N, k < K. A is (M, K) with lda >= K; B is (N, K) with
 * ldb >= K, one row per output channel (the product is A·Bᵀ, the layout
 * of conv and linear weights); C is (M, N) with ldc >= N and is written,
 * never read (K = 0 gives zeros). za and zb are the zero points.
 *
 * Exactness: every term lies in [−255·255, 255·255], so every partial sum
 * fits in int32 when K <= IGEMM_MAX_K, a precondition (CHECK). The result
 * is then bit-exact on every path below, whatever the CPU or the number of
 * threads.
 *
 * Paths (igemm_choose says which one a call takes):
 *   IGEMM_ONEDNN  oneDNN's dnnl_gemm_u8s8s32 (libdnnl, the same libgomp
 *                 OpenMP as ours). Exact only where its kernels multiply
 *                 with VNNI (vpdpbusd: u8·s8 products summed in int32).
 *                 Without VNNI they use vpmaddubsw, which adds two
 *                 adjacent u8·s8 products in SATURATING int16: 255·(−128)
 *                 ·2 = −65280 comes out as −32768. So oneDNN is taken
 *                 when its effective ISA (dnnl_get_effective_cpu_isa,
 *                 which honours ONEDNN_MAX_CPU_ISA) has VNNI
 *                 (avx512_core_vnni and above, or avx2_vnni), or else
 *                 when the operands as stored cannot saturate:
 *                 max(A)·max|B| <= IGEMM_NO_SATURATION (then any pair sum
 *                 is within ±32766), checked by scanning B, then A (which
 *                 stops at the first value over the bound). oneDNN
 *                 applies za and zb after the products, through row and
 *                 column sums, so the bound is on the raw bytes.
 *   IGEMM_AVX2    our kernel: operands widened to int16 after subtracting
 *                 the zero points (|x| <= 255), products summed in pairs
 *                 by vpmaddwd into int32 (no saturation possible), 4x16
 *                 register tiles over packed panels, OpenMP over blocks of
 *                 rows (and of columns when there are few rows).
 *   IGEMM_SCALAR  the same sums in plain C, for CPUs without AVX2.
 *
 * PCQ_IGEMM=fallback in the environment (read at the first call) forces
 * the fallback (AVX2 where the CPU has it, else scalar); PCQ_IGEMM=scalar
 * forces the plain C loops; igemm_set_mode overrides both.
 *
 * Threads: as gemm(): called from serial code, each path uses the OpenMP
 * threads (omp_set_num_threads / threads_set; oneDNN reads
 * omp_get_max_threads too); inside a parallel region it runs on the
 * calling thread. */
#ifndef PCQ_IGEMM_H
#define PCQ_IGEMM_H

#include <stdint.h>

/* The longest K whose every partial sum fits in int32:
 * floor((2^31 − 1) / 255²). */
#define IGEMM_MAX_K 33025

/* Without VNNI, oneDNN is exact when max(A)·max|B| is at most this:
 * 2·16383 = 32766 <= INT16_MAX. E.g. A <= 127 with any int8 B, or B in
 * [−64, 64] with any uint8 A. */
#define IGEMM_NO_SATURATION 16383

void igemm_u8s8s32(int M, int N, int K, const uint8_t *A, int lda, uint8_t za,
		   const int8_t *B, int ldb, int8_t zb, int32_t *C, int ldc);

enum igemm_impl { IGEMM_ONEDNN, IGEMM_AVX2, IGEMM_SCALAR };

/* The path igemm_u8s8s32 takes for these operands (it may scan them, see
 * above), and its name ("oneDNN avx512_core_vnni", "AVX2", "scalar"). */
enum igemm_impl igemm_choose(int M, int N, int K, const uint8_t *A, int lda,
			     const int8_t *B, int ldb);
const char *igemm_impl_name(enum igemm_impl impl);

/* IGEMM_AUTO: as above; IGEMM_FALLBACK: never oneDNN; IGEMM_FORCE_SCALAR:
 * the plain C loops. Overrides PCQ_IGEMM. From serial code, not while
 * another thread is inside igemm_u8s8s32. */
enum igemm_mode { IGEMM_AUTO, IGEMM_FALLBACK, IGEMM_FORCE_SCALAR };
void igemm_set_mode(enum igemm_mode mode);

#endif
