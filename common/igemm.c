/* The exact u8·s8 → s32 GEMM: oneDNN where it is exact, our own kernels
 * elsewhere; see igemm.h. */
#include "igemm.h"

#include "check.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define IGEMM_X86 1
#else
#define IGEMM_X86 0
#endif

/* Products below this many multiply-adds are not worth a second thread
 * (the same threshold as gemm.c's, which counts flops). */
#define IGEMM_PARALLEL_MACS 2e6

/* ---- Configuration, fixed at the first call ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum igemm_mode env_mode;  /* from PCQ_IGEMM */
static int mode_override = -1;    /* igemm_set_mode, -1 when unset */
static int have_avx2;
static int onednn_vnni;           /* oneDNN's kernels will use VNNI */
static char onednn_name[48];

/* dnnl_cpu_isa_t values are bit sets, each containing the ISAs below it
 * (avx512_core_bf16 and _amx contain avx512_core_vnni's bits). */
static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t want)
{
	return ((unsigned)isa & (unsigned)want) == (unsigned)want;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
	if (isa_has(isa, dnnl_cpu_isa_avx512_core_amx))
		return "avx512_core_amx";
	if (isa_has(isa, dnnl_cpu_isa_avx512_core_bf16))
		return "avx512_core_bf16";
	if (isa_has(isa, dnnl_cpu_isa_avx512_core_vnni))
		return "avx512_core_vnni";
	if (isa_has(isa, dnnl_cpu_isa_avx2_vnni))
		return "avx2_vnni";
	if (isa_has(isa, dnnl_cpu_isa_avx512_core))
		return "avx512_core";
	if (isa_has(isa, dnnl_cpu_isa_avx2))
		return "avx2";
	if (isa_has(isa, dnnl_cpu_isa_avx))
		return "avx";
	if (isa_has(isa, dnnl_cpu_isa_sse41))
		return "sse41";
	return "no x86 ISA";
}

static void init(void)
{
	const char *e = getenv("PCQ_IGEMM");
	if (!e || !*e || !strcmp(e, "auto"))
		env_mode = IGEMM_AUTO;
	else if (!strcmp(e, "fallback"))
		env_mode = IGEMM_FALLBACK;
	else if (!strcmp(e, "scalar"))
		env_mode = IGEMM_FORCE_SCALAR;
	else {
		warn("PCQ_IGEMM=%s: expected auto, fallback or scalar; using auto", e);
		env_mode = IGEMM_AUTO;
	}
#if IGEMM_X86
	__builtin_cpu_init();
	have_avx2 = __builtin_cpu_supports("avx2");
#endif
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	onednn_vnni = IGEMM_X86 && (isa_has(isa, dnnl_cpu_isa_avx512_core_vnni) ||
				    isa_has(isa, dnnl_cpu_isa_avx2_vnni));
	snprintf(onednn_name, sizeof(onednn_name), "oneDNN %s", isa_name(isa));
}

void igemm_set_mode(enum igemm_mode mode)
{
	CHECK(mode == IGEMM_AUTO || mode == IGEMM_FALLBACK || mode == IGEMM_FORCE_SCALAR);
	pthread_once(&init_once, init);
	mode_override = (int)mode;
}

const char *igemm_impl_name(enum igemm_impl impl)
{
	pthread_once(&init_once, init);
	switch (impl) {
	case IGEMM_ONEDNN: return onednn_name;
	case IGEMM_AVX2: return "AVX2";
	case IGEMM_SCALAR: return "scalar";
	}
	return "?";
}

/* ---- Choosing the path ---- */

static int max_abs_s8(const int8_t *x, int n)
{
	int m = 0;
	for (int i = 0; i < n; i++) {
		int v = x[i] < 0 ? -x[i] : x[i];
		m = v > m ? v : m;
	}
	return m;
}

static int max_u8(const uint8_t *x, int n)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

/* Without VNNI: whether no adjacent pair of u8·s8 products can leave
 * int16. B first (the weights, usually the smaller operand), then A, row
 * by row, stopping at the first row over the bound. */
static int cannot_saturate(int M, int N, int K, const uint8_t *A, int lda,
			   const int8_t *B, int ldb)
{
	int bmax = 0;
	for (int n = 0; n < N; n++) {
		int r = max_abs_s8(B + (size_t)n * ldb, K);
		bmax = r > bmax ? r : bmax;
	}
	if (bmax == 0 || IGEMM_NO_SATURATION / bmax >= 255)
		return 1;
	const int amax = IGEMM_NO_SATURATION / bmax;
	for (int m = 0; m < M; m++)
		if (max_u8(A + (size_t)m * lda, K) > amax)
			return 0;
	return 1;
}

enum igemm_impl igemm_choose(int M, int N, int K, const uint8_t *A, int lda,
			     const int8_t *B, int ldb)
{
	pthread_once(&init_once, init);
	enum igemm_mode mode = mode_override >= 0 ? (enum igemm_mode)mode_override : env_mode;
	enum igemm_impl fallback =
		mode == IGEMM_FORCE_SCALAR || !have_avx2 ? IGEMM_SCALAR : IGEMM_AVX2;
	if (mode != IGEMM_AUTO)
		return fallback;
	if (onednn_vnni || M <= 0 || N <= 0 || K <= 0)
		return IGEMM_ONEDNN;
	return cannot_saturate(M, N, K, A, lda, B, ldb) ? IGEMM_ONEDNN : fallback;
}

/* ---- The scalar fallback ---- */

static int threads_for(int M, int N, int K)
{
	if (omp_in_parallel() || (double)M * N * K < IGEMM_PARALLEL_MACS)
		return 1;
	return omp_get_max_threads();
}

/* Sums in uint32: each product is within ±255², and the wrapped sum is the
 * true one whenever that fits in int32 (K <= IGEMM_MAX_K). */
static void igemm_scalar(int M, int N, int K, const uint8_t *A, int lda, uint8_t za,
			 const int8_t *B, int ldb, int8_t zb, int32_t *C, int ldc)
{
	const int nthr = threads_for(M, N, K);
#pragma omp parallel for num_threads(nthr) if (nthr > 1) schedule(static)
	for (int m = 0; m < M; m++) {
		const uint8_t *a = A + (size_t)m * lda;
		for (int n = 0; n < N; n++) {
			const int8_t *b = B + (size_t)n * ldb;
			uint32_t acc = 0;
			for (int k = 0; k < K; k++)
				acc += (uint32_t)((a[k] - za) * (b[k] - zb));
			C[(size_t)m * ldc + n] = (int32_t)acc;
		}
	}
}

/* ---- The AVX2 fallback ----
 *
 * Both operands are packed as int16 with the zero points subtracted, K
 * padded with zeros to pairs: vpmaddwd multiplies 16 int16 pairs and adds
 * each pair into an int32 lane (at most 2·255² in magnitude: no
 * saturation), vpaddd accumulates (wrapping, exact as in the scalar path).
 *
 * B: blocks of NR = 16 columns (output channels), for each pair of k the
 * 16 columns' (k, k+1) values: 64 bytes, two registers of 8 columns.
 * A: chunks of MC rows and KCP pairs of k, in strips of MR = 6 rows, for
 * each pair of k the 6 rows' (k, k+1) values, each broadcast to all lanes.
 * A 6x16 tile of C is 12 accumulators; the B block of a k chunk (8 KiB)
 * stays in L1 across the chunk's strips of A. */
#define MR 4
#define NR 16
#define KCP 128
#define MC (16 * MR)

#if IGEMM_X86

static void pack_b(int N, int K, const int8_t *B, int ldb, int8_t zb, int nb,
		   int kp_total, int16_t *bp)
{
	int16_t *dst = bp + (size_t)nb * kp_total * 2 * NR;
	for (int j = 0; j < NR; j++) {
		const int n = nb * NR + j;
		const int8_t *b = B + (size_t)n * ldb;
		for (int q = 0; q < kp_total; q++) {
			const int k = 2 * q;
			int16_t *d = dst + ((size_t)q * NR + j) * 2;
			d[0] = (int16_t)(n < N && k < K ? b[k] - zb : 0);
			d[1] = (int16_t)(n < N && k + 1 < K ? b[k + 1] - zb : 0);
		}
	}
}

/* Rows m0 .. m0 + rows − 1 of A, pairs q0 .. q0 + kcp − 1 of k. */
static void pack_a(int M, int K, const uint8_t *A, int lda, uint8_t za, int m0,
		   int rows, int q0, int kcp, int16_t *ap)
{
	const int strips = (rows + MR - 1) / MR;
	for (int s = 0; s < strips; s++) {
		int16_t *dst = ap + (size_t)s * kcp * 2 * MR;
		for (int i = 0; i < MR; i++) {
			const int m = m0 + s * MR + i;
			if (m >= M || s * MR + i >= rows) {
				for (int q = 0; q < kcp; q++)
					dst[(q * MR + i) * 2] = dst[(q * MR + i) * 2 + 1] = 0;
				continue;
			}
			const uint8_t *a = A + (size_t)m * lda;
			for (int q = 0; q < kcp; q++) {
				const int k = 2 * (q0 + q);
				dst[(q * MR + i) * 2] = (int16_t)(k < K ? a[k] - za : 0);
				dst[(q * MR + i) * 2 + 1] = (int16_t)(k + 1 < K ? a[k + 1] - za : 0);
			}
		}
	}
}

/* One 6x16 tile over kcp pairs of k: C = (add ? C : 0) + strip·block,
 * storing mr rows and nr columns. The 12 accumulators are named variables
 * (an array of them is spilled to the stack by gcc 12). */
__attribute__((target("avx2"), noinline))
static void kernel_4x16(int kcp, const int16_t *ap, const int16_t *bp, int32_t *c,
			int ldc, int mr, int nr, int add)
{
	__m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00,
		c20 = c00, c21 = c00, c30 = c00, c31 = c00;
	for (int q = 0; q < kcp; q++) {
		const __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);
		const __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 16));
		int32_t pair;
		__m256i a;
#define ROW(i)								\
		memcpy(&pair, ap + 2 * (i), sizeof(pair));		\
		a = _mm256_set1_epi32(pair);				\
		c##i##0 = _mm256_add_epi32(_mm256_madd_epi16(a, b0), c##i##0); \
		c##i##1 = _mm256_add_epi32(_mm256_madd_epi16(a, b1), c##i##1);
		ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
		ap += 2 * MR;
		bp += 2 * NR;
	}
	int32_t tile[MR][NR];
	const int direct = mr == MR && nr == NR;
	int32_t *t = direct ? c : &tile[0][0];
	const size_t ld = direct ? (size_t)ldc : NR;
#define STORE(i)							\
	if (direct && add) {						\
		c##i##0 = _mm256_add_epi32(c##i##0,			\
			_mm256_loadu_si256((const __m256i *)(t + (i) * ld))); \
		c##i##1 = _mm256_add_epi32(c##i##1,			\
			_mm256_loadu_si256((const __m256i *)(t + (i) * ld + 8))); \
	}								\
	_mm256_storeu_si256((__m256i *)(t + (i) * ld), c##i##0);	\
	_mm256_storeu_si256((__m256i *)(t + (i) * ld + 8), c##i##1);
	STORE(0) STORE(1) STORE(2) STORE(3)
#undef STORE
	if (direct)
		return;
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++)
			c[(size_t)i * ldc + j] = add ? (int32_t)((uint32_t)c[(size_t)i * ldc + j] +
								 (uint32_t)tile[i][j])
						     : tile[i][j];
}

static void *xaligned(size_t size)
{
	void *p = aligned_alloc(64, (size + 63) / 64 * 64);
	if (!p)
		die("out of memory (%zu bytes for the integer GEMM)", size);
	return p;
}

static void igemm_avx2(int M, int N, int K, const uint8_t *A, int lda, uint8_t za,
		       const int8_t *B, int ldb, int8_t zb, int32_t *C, int ldc)
{
	const int kp_total = (K + 1) / 2, nblocks = (N + NR - 1) / NR;
	const int mchunks = (M + MC - 1) / MC;
	const int nthr = threads_for(M, N, K);
	/* few rows: split the column blocks too, so that every thread has work */
	int ngroups = 1;
	if (mchunks < nthr)
		ngroups = (nthr + mchunks - 1) / mchunks < nblocks ? (nthr + mchunks - 1) / mchunks
								   : nblocks;
	const int tasks = mchunks * ngroups;
	int16_t *bp = xaligned((size_t)nblocks * kp_total * 2 * NR * sizeof(int16_t));

#pragma omp parallel num_threads(nthr) if (nthr > 1)
	{
#pragma omp for schedule(static)
		for (int nb = 0; nb < nblocks; nb++)
			pack_b(N, K, B, ldb, zb, nb, kp_total, bp);

		int16_t *ap = xaligned((size_t)MC * KCP * 2 * sizeof(int16_t));
#pragma omp for schedule(static)
		for (int t = 0; t < tasks; t++) {
			const int m0 = t / ngroups * MC, g = t % ngroups;
			const int rows = M - m0 < MC ? M - m0 : MC;
			const int nb0 = (int)((long)g * nblocks / ngroups);
			const int nb1 = (int)((long)(g + 1) * nblocks / ngroups);
			for (int q0 = 0; q0 < kp_total; q0 += KCP) {
				const int kcp = kp_total - q0 < KCP ? kp_total - q0 : KCP;
				pack_a(M, K, A, lda, za, m0, rows, q0, kcp, ap);
				for (int nb = nb0; nb < nb1; nb++) {
					const int16_t *b = bp + ((size_t)nb * kp_total + q0) * 2 * NR;
					const int nr = N - nb * NR < NR ? N - nb * NR : NR;
					for (int r = 0; r < rows; r += MR)
						kernel_4x16(kcp, ap + (size_t)r * kcp * 2, b,
							    C + (size_t)(m0 + r) * ldc + nb * NR, ldc,
							    rows - r < MR ? rows - r : MR, nr, q0 > 0);
				}
			}
		}
		free(ap);
	}
	free(bp);
}

#else

static void igemm_avx2(int M, int N, int K, const uint8_t *A, int lda, uint8_t za,
		       const int8_t *B, int ldb, int8_t zb, int32_t *C, int ldc)
{
	igemm_scalar(M, N, K, A, lda, za, B, ldb, zb, C, ldc);
}

#endif

/* ---- oneDNN ---- */

/* Row-major; op(B) = Bᵀ: B is stored (N, K) with ldb. oneDNN computes
 * C = alpha·(op(A) − ao)·(op(B) − bo) + beta·C + co (dnnl.h, 2.6: the
 * offsets are subtracted; tests/unit/test_igemm.c checks the sign).
 * beta = 0: C is not read. */
static int igemm_onednn(int M, int N, int K, const uint8_t *A, int lda, uint8_t za,
			const int8_t *B, int ldb, int8_t zb, int32_t *C, int ldc)
{
	const int32_t co = 0;
	return dnnl_gemm_u8s8s32('N', 'T', 'F', M, N, K, 1.0f, A, lda, za, B, ldb, zb,
				 0.0f, C, ldc, &co) == dnnl_success;
}

void igemm_u8s8s32(int M, int N, int K, const uint8_t *A, int lda, uint8_t za,
		   const int8_t *B, int ldb, int8_t zb, int32_t *C, int ldc)
{
	CHECK(M >= 0 && N >= 0 && K >= 0 && K <= IGEMM_MAX_K);
	CHECK(lda >= K && lda >= 1 && ldb >= K && ldb >= 1 && ldc >= N && ldc >= 1);
	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		for (int m = 0; m < M; m++)
			memset(C + (size_t)m * ldc, 0, (size_t)N * sizeof(int32_t));
		return;
	}
	switch (igemm_choose(M, N, K, A, lda, B, ldb)) {
	case IGEMM_ONEDNN:
		if (igemm_onednn(M, N, K, A, lda, za, B, ldb, zb, C, ldc))
			return;
		{
			static int warned;
			int first;
#pragma omp atomic capture
			first = warned++;
			if (!first)
				warn("oneDNN's dnnl_gemm_u8s8s32 failed; using the AVX2/scalar integer GEMM");
		}
		/* fall through */
	case IGEMM_AVX2:
		if (have_avx2) {
			igemm_avx2(M, N, K, A, lda, za, B, ldb, zb, C, ldc);
			return;
		}
		/* fall through */
	case IGEMM_SCALAR:
		igemm_scalar(M, N, K, A, lda, za, B, ldb, zb, C, ldc);
		return;
	}
}
