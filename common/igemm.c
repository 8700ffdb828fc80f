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

#if defined(__x86_64__)
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
 * A: chunks of MC = 64 rows and KCP = 128 pairs of k (32 KiB), in strips
 * of MR = 4 rows, for each pair of k the 4 rows' (k, k+1) values, each
 * broadcast to all lanes. A 4x16 tile of C is 8 accumulators (with the 2
 * B vectors, a broadcast and a product, 12 of the 16 ymm registers); the
 * B block of a k chunk (8 KiB) stays in L1 across the chunk's strips of A.
 * B is packed once per call, shared by the threads; each thread packs its
 * own chunks of A. */
#define MR 4
#define NR 16
#define KCP 128
#define MC (16 * MR)
_Static_assert(MR == 4 && NR == 16, "pack_rows4 and kernel_4x16 hard-code the tile");

#if IGEMM_X86

/* Four rows of bytes (uint8, or int8 when sign), less the zero point z,
 * as int16 pairs of k: pair q0 + q of rows 0..3 goes to dst + q·stride
 * (8 int16: row 0's k and k + 1, row 1's, ...), for q < nq. k >= K and
 * rows with valid[i] == 0 give zeros; those rows read `spare` instead, a
 * row of K readable bytes. Eight k at a time: widen, subtract, and a 4x4
 * transpose of the int32 pairs. */
__attribute__((target("avx2")))
static void pack_rows4(const uint8_t *const rows[4], const int valid[4], const uint8_t *spare,
		       int sign, int z, int K, int q0, int nq, int16_t *dst, size_t stride)
{
	const uint8_t *p[4];
	__m128i keep[4];
	for (int i = 0; i < 4; i++) {
		p[i] = valid[i] ? rows[i] : spare;
		keep[i] = valid[i] ? _mm_set1_epi32(-1) : _mm_setzero_si128();
	}
	const __m128i zv = _mm_set1_epi16((int16_t)z);
	int q = 0;
	for (; q + 4 <= nq && 2 * (q0 + q) + 8 <= K; q += 4) {
		const int k = 2 * (q0 + q);
		__m128i r[4];
		for (int i = 0; i < 4; i++) {
			__m128i x = _mm_loadl_epi64((const __m128i *)(p[i] + k));
			x = sign ? _mm_cvtepi8_epi16(x) : _mm_cvtepu8_epi16(x);
			r[i] = _mm_and_si128(_mm_sub_epi16(x, zv), keep[i]);
		}
		const __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]), t1 = _mm_unpacklo_epi32(r[2], r[3]);
		const __m128i t2 = _mm_unpackhi_epi32(r[0], r[1]), t3 = _mm_unpackhi_epi32(r[2], r[3]);
		int16_t *d = dst + (size_t)q * stride;
		_mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi64(t0, t1));
		_mm_storeu_si128((__m128i *)(d + stride), _mm_unpackhi_epi64(t0, t1));
		_mm_storeu_si128((__m128i *)(d + 2 * stride), _mm_unpacklo_epi64(t2, t3));
		_mm_storeu_si128((__m128i *)(d + 3 * stride), _mm_unpackhi_epi64(t2, t3));
	}
	for (; q < nq; q++) {
		const int k = 2 * (q0 + q);
		int16_t *d = dst + (size_t)q * stride;
		for (int i = 0; i < 4; i++)
			for (int t = 0; t < 2; t++) {
				int v = 0;
				if (valid[i] && k + t < K)
					v = (sign ? (int)(int8_t)p[i][k + t] : (int)p[i][k + t]) - z;
				d[2 * i + t] = (int16_t)v;
			}
	}
}

/* Column block nb of B (rows nb·NR .. of the stored (N, K) matrix), all
 * kp_total pairs of k. */
static void pack_b(int N, int K, const int8_t *B, int ldb, int8_t zb, int nb,
		   int kp_total, int16_t *bp)
{
	int16_t *dst = bp + (size_t)nb * kp_total * 2 * NR;
	for (int g = 0; g < NR / 4; g++) {
		const uint8_t *rows[4];
		int valid[4];
		for (int i = 0; i < 4; i++) {
			const int n = nb * NR + 4 * g + i;
			valid[i] = n < N;
			rows[i] = (const uint8_t *)B + (valid[i] ? (size_t)n * ldb : 0);
		}
		pack_rows4(rows, valid, (const uint8_t *)B, 1, zb, K, 0, kp_total,
			   dst + 8 * g, 2 * NR);
	}
}

/* Rows m0 .. m0 + rows − 1 of A, pairs q0 .. q0 + kcp − 1 of k. */
static void pack_a(int K, const uint8_t *A, int lda, uint8_t za, int m0, int rows,
		   int q0, int kcp, int16_t *ap)
{
	for (int s = 0; s * MR < rows; s++) {
		const uint8_t *r[4];
		int valid[4];
		for (int i = 0; i < MR; i++) {
			valid[i] = s * MR + i < rows;
			r[i] = A + (size_t)(m0 + (valid[i] ? s * MR + i : 0)) * lda;
		}
		pack_rows4(r, valid, A + (size_t)m0 * lda, 0, za, K, q0, kcp,
			   ap + (size_t)s * kcp * 2 * MR, 2 * MR);
	}
}

/* One 4x16 tile over kcp pairs of k: C = (add ? C : 0) + strip·block,
 * storing mr rows and nr columns (partial tiles through a buffer; the
 * padding rows and columns are computed from zeros and dropped). */
__attribute__((target("avx2"), noinline))
static void kernel_4x16(int kcp, const int16_t *ap, const int16_t *bp, int32_t *c,
			int ldc, int mr, int nr, int add)
{
	__m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00,
		c20 = c00, c21 = c00, c30 = c00, c31 = c00;
	/* The k loop in assembly: gcc 12 compiles the same loop written with
	 * intrinsics with a register copy per accumulator per k (the sums land
	 * in the product's register), about 10% slower. Per pair of k: the two
	 * B vectors, then for each row its (k, k+1) pair broadcast, two
	 * vpmaddwd, two vpaddd. ap and bp advance by 2·MR and 2·NR int16. */
	if (kcp > 0) {
		long n = kcp;
		__asm__(
		"1:\n\t"
		"vmovdqu (%[b]), %%ymm12\n\t"
		"vmovdqu 32(%[b]), %%ymm13\n\t"
		"vpbroadcastd 0(%[a]), %%ymm14\n\t"
		"vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c00], %[c00]\n\t"
		"vpmaddwd %%ymm13, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c01], %[c01]\n\t"
		"vpbroadcastd 4(%[a]), %%ymm14\n\t"
		"vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c10], %[c10]\n\t"
		"vpmaddwd %%ymm13, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c11], %[c11]\n\t"
		"vpbroadcastd 8(%[a]), %%ymm14\n\t"
		"vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c20], %[c20]\n\t"
		"vpmaddwd %%ymm13, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c21], %[c21]\n\t"
		"vpbroadcastd 12(%[a]), %%ymm14\n\t"
		"vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c30], %[c30]\n\t"
		"vpmaddwd %%ymm13, %%ymm14, %%ymm15\n\t"
		"vpaddd %%ymm15, %[c31], %[c31]\n\t"
		"add $16, %[a]\n\t"
		"add $64, %[b]\n\t"
		"dec %[n]\n\t"
		"jnz 1b\n\t"
		: [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11),
		  [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31),
		  [a] "+r"(ap), [b] "+r"(bp), [n] "+r"(n)
		:
		: "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
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
				pack_a(K, A, lda, za, m0, rows, q0, kcp, ap);
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
