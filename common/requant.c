/* Vectorised fp_requantize / fp_div_pot; see requant.h.
 *
 * How a lane computes fp_requantize(x, m0, shift) (the same steps as
 * fixedpoint.h, rearranged only where the bits provably agree):
 *
 *   1. shift < 0: x·2^s, s = −shift, saturated to int32. Lanes with
 *      x > INT32_MAX >> s or x < INT32_MIN >> s (= −2^(31−s)) overflow and
 *      take INT32_MAX or INT32_MIN by their sign (INT32_MAX ^ (x >> 31));
 *      the others are x << s (a bit shift in the vector unit, where a
 *      negative x is no problem). Done in the vector lanes, not routed to
 *      the scalar path.
 *   2. High multiply by m0. fp_high_mul's nudge-and-truncate,
 *      trunc((ab + (ab >= 0 ? 2^30 : 1 − 2^30)) / 2^31), equals
 *      floor((ab + 2^30) / 2^31): for ab >= 0 both are the floor of the
 *      same non-negative value; for ab < 0 the truncation of the negative
 *      (ab − 2^30 + 1) / 2^31 is its ceiling, and ceil((N + 1) / 2^31) =
 *      floor(N / 2^31) + 1 = floor((ab + 2^30) / 2^31) for N = ab − 2^30.
 *      The floor is an arithmetic shift of the int64 ab + 2^30 (|ab| <
 *      2^62, no overflow), and since the result fits int32 only its low 32
 *      bits are kept: bits 31..62 of the sum, which a logical shift gives
 *      as well (AVX2 has no 64-bit arithmetic shift). Products come from
 *      vpmuldq (signed 32x32 → 64 of the even lanes; the odd lanes are
 *      shifted down first); an odd lane's bits 31..62 go to the high half
 *      of its qword with a left shift by 1, and a dword blend joins them.
 *      fp_high_mul's one saturating case, x = m0 = INT32_MIN, cannot
 *      occur: m0 >= 0 is CHECKed, so ab ∈ (−2^62, 2^62) and the result
 *      fits int32.
 *   3. shift > 0: RoundingDivideByPOT by e = shift with gemmlowp's
 *      formula on int32 lanes: floor = x >> e (vpsrad), remainder =
 *      x & (2^e − 1), threshold = (2^e − 1) >> 1 plus 1 when x < 0,
 *      result = floor + (remainder > threshold). No lane overflows.
 *
 * requant_u8 clamps the int32 r to [lo − z, hi − z] before adding z, so
 * the sum is in [lo, hi] and the saturating packs to bytes change
 * nothing. lo − z > INT32_MAX (z < lo − INT32_MAX) means z + r < lo for
 * every r: the whole output is lo. hi − z above INT32_MAX is capped there
 * (then z + r < hi anyway). lo − z and hi − z are never below INT32_MIN.
 *
 * Tails shorter than a vector go through fixedpoint.h.
 *
 * The engine's loops (the conv epilogue on the clamp-first path and the
 * residual add) also have AVX-512 forms (requant_avx512.c), taken when the
 * CPU has AVX-512. On an AMD EPYC (Zen 4, which runs 512-bit operations
 * as two 256-bit halves) 16 lanes were no faster than 8 on whole vectors;
 * on an Intel Xeon with AMX they are (ResNet20's engine +9-18%,
 * BENCHMARKS.md). Every other case takes the AVX2 code on that path. */
#include "requant.h"
#include "requant_avx512.h"

#include "check.h"
#include "fixedpoint.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RQ_X86 1
#else
#define RQ_X86 0
#endif

/* ---- Choosing the path ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int cpu_best;                 /* the best path this CPU runs */
static int auto_path;                /* cpu_best, capped by PCQ_REQUANT */
static atomic_int forced = REQUANT_AUTO;   /* requant_force */
static const char *const path_names[] = { "scalar", "avx2", "avx512" };

static void init(void)
{
#if RQ_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		cpu_best = REQUANT_AVX2;
	if (cpu_best == REQUANT_AVX2 && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		cpu_best = REQUANT_AVX512;
#endif
	auto_path = cpu_best;
	const char *e = getenv("PCQ_REQUANT");
	if (!e || !*e || !strcmp(e, "auto"))
		return;
	for (int p = REQUANT_SCALAR; p <= REQUANT_AVX512; p++)
		if (!strcmp(e, path_names[p])) {
			if (p > cpu_best)
				warn("PCQ_REQUANT=%s: this CPU lacks it; using %s", e,
				     path_names[cpu_best]);
			auto_path = p < cpu_best ? p : cpu_best;
			return;
		}
	warn("PCQ_REQUANT=%s: expected auto, scalar, avx2 or avx512; using auto", e);
}

/* The path of this call. */
static int path_now(void)
{
	pthread_once(&init_once, init);
	const int f = atomic_load_explicit(&forced, memory_order_relaxed);
	return f == REQUANT_AUTO ? auto_path : f;
}

int requant_path_now(void)
{
	return path_now();
}

static int avx2_now(void)
{
	return path_now() >= REQUANT_AVX2;
}

static int avx512_now(void)
{
	return path_now() == REQUANT_AVX512;
}

int requant_force(int path)
{
	pthread_once(&init_once, init);
	CHECK(path >= REQUANT_AUTO && path <= REQUANT_AVX512);
	if (path > cpu_best)
		return -1;
	atomic_store_explicit(&forced, path, memory_order_relaxed);
	return 0;
}

const char *requant_path_name(int path)
{
	CHECK(path >= REQUANT_SCALAR && path <= REQUANT_AVX512);
	return path_names[path];
}

const char *requant_impl_name(void)
{
	return requant_path_name(path_now());
}

/* ---- Scalar ---- */

static uint8_t u8_one(int32_t x, int32_t m0, int shift, int32_t z, int32_t lo, int32_t hi)
{
	int64_t v = (int64_t)z + fp_requantize(x, m0, shift);
	return (uint8_t)(v < lo ? lo : v > hi ? hi : v);
}

static void requant_i32_scalar(int32_t *out, const int32_t *x, size_t n, int32_t m0, int shift)
{
	for (size_t i = 0; i < n; i++)
		out[i] = fp_requantize(x[i], m0, shift);
}

static void requant_u8_scalar(uint8_t *out, const int32_t *x, size_t n, int32_t m0, int shift,
			      int32_t z, int32_t lo, int32_t hi)
{
	for (size_t i = 0; i < n; i++)
		out[i] = u8_one(x[i], m0, shift, z, lo, hi);
}

static void div_pot_i32_scalar(int32_t *out, const int32_t *x, size_t n, int e)
{
	for (size_t i = 0; i < n; i++)
		out[i] = fp_div_pot(x[i], e);
}

/* The conv epilogue's value before requantization, in wrapping uint32
 * arithmetic (the caller guarantees the true value fits int32). */
static inline int32_t conv_value(int32_t acc, int32_t coef, int32_t box, int acc_shift,
				 int32_t bias)
{
	uint32_t v = (uint32_t)acc + (uint32_t)coef * (uint32_t)box;
	return (int32_t)((v << acc_shift) + (uint32_t)bias);
}

static void requant_u8_rows_scalar(uint8_t *out, const int32_t *acc, size_t rows, int kout,
				   const struct requant_rows *p)
{
	for (size_t r = 0; r < rows; r++)
		for (int k = 0; k < kout; k++) {
			size_t e = r * (size_t)kout + k;
			int32_t v = conv_value(acc[e], p->coef ? p->coef[k] : 0,
					       p->coef ? p->box[r] : 0, p->acc_shift, p->bias[k]);
			out[e] = p->m0_k ? u8_one(v, p->m0_k[k], p->shift_k[k], p->z, p->lo, p->hi)
					 : u8_one(v, p->m0, p->shift, p->z, p->lo, p->hi);
		}
}

static uint8_t add_one(uint8_t a, uint8_t b, const struct requant_add *p)
{
	/* |sum| <= 2·255·(2^22 − 1) < 2^31: requant.h */
	int32_t sum = (a - p->za) * p->ma + (b - p->zb) * p->mb;
	int64_t v = (int64_t)p->z + fp_div_pot(sum, p->shift);
	return (uint8_t)(v < p->lo ? p->lo : v > p->hi ? p->hi : v);
}

static void requant_add_u8_scalar(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t i,
				  size_t n, const struct requant_add *p)
{
	for (; i < n; i++)
		out[i] = add_one(a[i], b[i], p);
}

/* The lane constants for one (m0, shift). */
struct rq_consts {
	int neg;            /* shift < 0: s = −shift, saturating x·2^s first */
	int s;
	int32_t sat_hi;     /* INT32_MAX >> s: larger x saturate to INT32_MAX */
	int32_t sat_lo;     /* −2^(31−s): smaller x saturate to INT32_MIN */
	int e;              /* the rounding division's exponent, 0 when shift <= 0 */
	int32_t mask;       /* 2^e − 1 */
};

static struct rq_consts rq_consts(int shift)
{
	struct rq_consts c = {0};
	c.neg = shift < 0;
	c.s = c.neg ? -shift : 0;
	c.sat_hi = INT32_MAX >> c.s;
	c.sat_lo = (int32_t)-(INT64_C(1) << (31 - c.s));
	c.e = shift > 0 ? shift : 0;
	c.mask = (int32_t)((INT64_C(1) << c.e) - 1);
	return c;
}

/* ---- Clamping before the arithmetic ----
 *
 * For shift >= 0, f(v) = fp_requantize(v, m0, shift) is non-decreasing in
 * v and grows by at most 1 from v to v + 1 (m0 < 2^31, so the high
 * multiply's numerator grows by less than 2^31; the rounding division
 * keeps steps of at most 1). So f takes every integer between f(INT32_MIN)
 * and f(INT32_MAX), and with A = the least v where f(v) >= L and B = the
 * greatest where f(v) <= H (INT32_MIN or INT32_MAX when that bound is
 * never active):
 *
 *   clamp(f(v), L, H) = f(clamp(v, A, B))    for every v.
 *
 * The vector path clamps v first; then the high multiply's result h lies
 * in [h(A), h(B)], and the rounding division of h plus z is one add and
 * one shift: floor((h + 2^(e−1) + z·2^e − [h < 0]) / 2^e) (e >= 1;
 * fp_div_pot's ties away from zero, as in v8_add), exact when that sum
 * cannot leave int32, which is checked here. */
static int64_t f_of(int64_t v, const struct requant_plan *p)
{
	return fp_requantize((int32_t)v, p->m0, p->shift);
}

static void plan_bounds(struct requant_plan *p)
{
	if (p->shift < 0 || f_of(INT32_MAX, p) < p->L || f_of(INT32_MIN, p) > p->H)
		return;   /* steps of 2^s, or every output at one bound */
	int64_t lo = INT32_MIN, hi = INT32_MAX;   /* A: least v with f(v) >= L */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (f_of(mid, p) >= p->L)
			hi = mid;
		else
			lo = mid + 1;
	}
	const int64_t A = lo;
	lo = INT32_MIN, hi = INT32_MAX;           /* B: greatest v with f(v) <= H */
	while (lo < hi) {
		int64_t mid = hi - (hi - lo) / 2;
		if (f_of(mid, p) <= p->H)
			lo = mid;
		else
			hi = mid - 1;
	}
	const int64_t B = lo;
	const int e = p->shift;
	const int64_t c = e ? (INT64_C(1) << (e - 1)) + (int64_t)p->z * (INT64_C(1) << e) : p->z;
	const int64_t hA = fp_high_mul((int32_t)A, p->m0), hB = fp_high_mul((int32_t)B, p->m0);
	if (A > B || hA + c - 1 < INT32_MIN || hB + c > INT32_MAX)
		return;
	p->A = (int32_t)A, p->B = (int32_t)B, p->c = (int32_t)c;
	p->ok = 1;
}

/* The plan for bounds L, H on r before z is added (requant_u8_rows's). */
static void plan_fill(struct requant_plan *pl, int32_t m0, int shift, int32_t z, int32_t L,
		      int32_t H)
{
	*pl = (struct requant_plan){ .m0 = m0, .shift = shift, .z = z, .L = L, .H = H };
	plan_bounds(pl);
}

void requant_plan_make(struct requant_plan *pl, int32_t m0, int shift, int32_t z, int32_t lo,
		       int32_t hi)
{
	CHECK(m0 >= 0 && shift >= -31 && shift <= 31 && 0 <= lo && lo <= hi && hi <= 65535);
	const int64_t L = (int64_t)lo - z, H = (int64_t)hi - z;
	if (L > INT32_MAX)   /* every result is lo: requant_u8_rows needs no plan */
		*pl = (struct requant_plan){ .m0 = m0, .shift = shift, .z = z, .L = INT32_MAX,
					     .H = INT32_MAX };
	else
		plan_fill(pl, m0, shift, z, (int32_t)L, H > INT32_MAX ? INT32_MAX : (int32_t)H);
}

void requant_channels_make(struct requant_channels *ch, const struct requant_plan *plans,
			   int kout, int32_t *buf)
{
	int32_t *A = buf, *B = buf + kout, *c = buf + 2 * kout, *m0 = buf + 3 * kout;
	int32_t *e = buf + 4 * kout, *sign = buf + 5 * kout;
	*ch = (struct requant_channels){ .kout = kout, .ok = 1, .A = A, .B = B, .c = c, .m0 = m0,
					 .e = e, .sign = sign };
	for (int k = 0; k < kout; k++) {
		const struct requant_plan *p = &plans[k];
		ch->ok &= p->ok && p->z == plans[0].z && p->L == plans[0].L && p->H == plans[0].H;
		A[k] = p->A, B[k] = p->B, c[k] = p->c, m0[k] = p->m0;
		e[k] = p->shift > 0 ? p->shift : 0;
		sign[k] = p->shift > 0 ? -1 : 0;   /* the −[h < 0] of a rounding division */
	}
}

#if RQ_X86

/* ---- AVX2 ---- */

#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

struct v8 {
	__m256i m0, nudge, sat_hi, sat_lo, int_max, mask, half;
	__m128i s, e;
};

AVX2_INLINE void v8_init(struct v8 *v, int32_t m0, const struct rq_consts *c)
{
	v->m0 = _mm256_set1_epi32(m0);
	v->nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
	v->sat_hi = _mm256_set1_epi32(c->sat_hi);
	v->sat_lo = _mm256_set1_epi32(c->sat_lo);
	v->int_max = _mm256_set1_epi32(INT32_MAX);
	v->mask = _mm256_set1_epi32(c->mask);
	v->half = _mm256_set1_epi32(c->mask >> 1);
	v->s = _mm_cvtsi32_si128(c->s);
	v->e = _mm_cvtsi32_si128(c->e);
}

/* Step 1: x·2^s saturated to int32. */
AVX2_INLINE __m256i v8_sat_shl(__m256i x, const struct v8 *v)
{
	__m256i y = _mm256_sll_epi32(x, v->s);
	__m256i over = _mm256_or_si256(_mm256_cmpgt_epi32(x, v->sat_hi),
				       _mm256_cmpgt_epi32(v->sat_lo, x));
	__m256i sat = _mm256_xor_si256(v->int_max, _mm256_srai_epi32(x, 31));
	return _mm256_blendv_epi8(y, sat, over);
}

/* Step 2: fp_high_mul(x, m0) for m0 >= 0. */
AVX2_INLINE __m256i v8_high_mul(__m256i x, const struct v8 *v)
{
	__m256i ev = _mm256_add_epi64(_mm256_mul_epi32(x, v->m0), v->nudge);
	__m256i od = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), v->m0), v->nudge);
	return _mm256_blend_epi32(_mm256_srli_epi64(ev, 31), _mm256_slli_epi64(od, 1), 0xAA);
}

/* Step 3: fp_div_pot(x, e). */
AVX2_INLINE __m256i v8_div_pot(__m256i x, const struct v8 *v)
{
	__m256i floor = _mm256_sra_epi32(x, v->e);
	__m256i rem = _mm256_and_si256(x, v->mask);
	__m256i thr = _mm256_sub_epi32(v->half, _mm256_srai_epi32(x, 31));
	return _mm256_sub_epi32(floor, _mm256_cmpgt_epi32(rem, thr));
}

/* neg and div are constants at each call, so each case gets its own loop. */
AVX2_INLINE __m256i v8_requant(__m256i x, const struct v8 *v, int neg, int div)
{
	if (neg)
		x = v8_sat_shl(x, v);
	x = v8_high_mul(x, v);
	return div ? v8_div_pot(x, v) : x;
}

AVX2_INLINE __m256i v8_load(const int32_t *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* The whole vectors of x; returns how many elements were done. */
AVX2_INLINE size_t i32_avx2_body(int32_t *out, const int32_t *x, size_t n,
				 const struct v8 *v, int neg, int div)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_si256((__m256i *)(out + i), v8_requant(v8_load(x + i), v, neg, div));
	return i;
}

AVX2_FN static void requant_i32_avx2(int32_t *out, const int32_t *x, size_t n, int32_t m0,
				     int shift)
{
	const struct rq_consts c = rq_consts(shift);
	struct v8 v;
	v8_init(&v, m0, &c);
	size_t i = c.neg ? i32_avx2_body(out, x, n, &v, 1, 0)
		 : c.e ? i32_avx2_body(out, x, n, &v, 0, 1)
		 : i32_avx2_body(out, x, n, &v, 0, 0);
	requant_i32_scalar(out + i, x + i, n - i, m0, shift);
}

/* r clamped to [L, H] plus z: in [lo, hi], so a byte. */
AVX2_INLINE __m256i v8_u8(const int32_t *x, const struct v8 *v, __m256i L, __m256i H, __m256i z,
			  int neg, int div)
{
	__m256i r = v8_requant(v8_load(x), v, neg, div);
	return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, L), H), z);
}

AVX2_INLINE size_t u8_avx2_body(uint8_t *out, const int32_t *x, size_t n, const struct v8 *v,
				int32_t L, int32_t H, int32_t z, int neg, int div)
{
	const __m256i Lv = _mm256_set1_epi32(L), Hv = _mm256_set1_epi32(H), zv = _mm256_set1_epi32(z);
	/* packus_epi32 then packus_epi16 leave the dwords of four bytes in
	 * the order a0 b0 c0 d0 a1 b1 c1 d1 (0: elements 0-3, 1: 4-7). */
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i a = v8_u8(x + i, v, Lv, Hv, zv, neg, div);
		__m256i b = v8_u8(x + i + 8, v, Lv, Hv, zv, neg, div);
		__m256i c = v8_u8(x + i + 16, v, Lv, Hv, zv, neg, div);
		__m256i d = v8_u8(x + i + 24, v, Lv, Hv, zv, neg, div);
		__m256i w = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
		_mm256_storeu_si256((__m256i *)(out + i), _mm256_permutevar8x32_epi32(w, order));
	}
	for (; i + 8 <= n; i += 8) {
		__m256i a = v8_u8(x + i, v, Lv, Hv, zv, neg, div);
		__m256i w = _mm256_packus_epi16(_mm256_packus_epi32(a, a), _mm256_setzero_si256());
		__m128i lo4 = _mm256_castsi256_si128(w), hi4 = _mm256_extracti128_si256(w, 1);
		_mm_storel_epi64((__m128i *)(out + i), _mm_unpacklo_epi32(lo4, hi4));
	}
	return i;
}

AVX2_FN static void requant_u8_avx2(uint8_t *out, const int32_t *x, size_t n, int32_t m0, int shift,
				    int32_t z, int32_t H, int32_t L)
{
	const struct rq_consts c = rq_consts(shift);
	struct v8 v;
	v8_init(&v, m0, &c);
	size_t i = c.neg ? u8_avx2_body(out, x, n, &v, L, H, z, 1, 0)
		 : c.e ? u8_avx2_body(out, x, n, &v, L, H, z, 0, 1)
		 : u8_avx2_body(out, x, n, &v, L, H, z, 0, 0);
	for (; i < n; i++) {
		int32_t r = fp_requantize(x[i], m0, shift);
		out[i] = (uint8_t)((r < L ? L : r > H ? H : r) + z);
	}
}

AVX2_FN static void div_pot_i32_avx2(int32_t *out, const int32_t *x, size_t n, int e)
{
	const struct rq_consts c = rq_consts(e);
	struct v8 v;
	v8_init(&v, 0, &c);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_si256((__m256i *)(out + i), v8_div_pot(v8_load(x + i), &v));
	div_pot_i32_scalar(out + i, x + i, n - i, e);
}

/* Two vectors of bytes-in-dwords (each in [0, 255]) as 16 bytes, in order. */
AVX2_INLINE void store16(uint8_t *out, __m256i a, __m256i b)
{
	/* packus_epi32 then packus_epi16 leave dwords a0-3 b0-3 a0-3 b0-3 |
	 * a4-7 b4-7 a4-7 b4-7 (in bytes); dwords 0, 4, 1, 5 are a then b. */
	__m256i w = _mm256_packus_epi32(a, b);
	w = _mm256_packus_epi16(w, w);
	w = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5));
	_mm_storeu_si128((__m128i *)out, _mm256_castsi256_si128(w));
}

/* The conv epilogue's value v = (acc + coef·box)·2^acc_shift + bias, eight
 * lanes (wrapping adds, as conv_value). */
AVX2_INLINE __m256i v8_conv_value_of(__m256i x, __m256i coef, __m256i box, __m256i bias,
				     __m128i acc_shift, int has_coef)
{
	if (has_coef)
		x = _mm256_add_epi32(x, _mm256_mullo_epi32(coef, box));
	return _mm256_add_epi32(_mm256_sll_epi32(x, acc_shift), bias);
}

AVX2_INLINE __m256i v8_conv_value(const int32_t *acc, const int32_t *coef, __m256i box,
				  const int32_t *bias, __m128i acc_shift, int has_coef)
{
	return v8_conv_value_of(v8_load(acc), has_coef ? v8_load(coef) : _mm256_setzero_si256(),
				box, v8_load(bias), acc_shift, has_coef);
}

/* The lane constants of one requant_u8_rows call. */
struct v8_rows {
	struct v8 v;
	__m256i L, H, z;       /* general path: clamp r to [L, H], add z */
	__m256i A, B, c;       /* clamp-first path (struct requant_plan) */
	__m128i acc_shift;
};

/* Eight lanes of the conv epilogue as bytes in dwords, in [lo, hi]: on the
 * clamp-first path (pre) v is clamped to [A, B] and the rounding division
 * absorbs z (see "Clamping before the arithmetic"); otherwise r is
 * clamped to [L, H] and z added. */
AVX2_INLINE __m256i v8_conv(__m256i x, const struct v8_rows *k, int pre, int neg, int div)
{
	if (!pre) {
		__m256i r = v8_requant(x, &k->v, neg, div);
		return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, k->L), k->H), k->z);
	}
	x = _mm256_min_epi32(_mm256_max_epi32(x, k->A), k->B);
	__m256i h = v8_high_mul(x, &k->v);
	if (!div)
		return _mm256_add_epi32(h, k->c);
	h = _mm256_add_epi32(_mm256_add_epi32(h, k->c), _mm256_srai_epi32(h, 31));
	return _mm256_sra_epi32(h, k->v.e);
}

AVX2_INLINE void rows_avx2_body(uint8_t *out, const int32_t *acc, size_t rows, int kout,
				const struct requant_rows *p, const struct v8_rows *k, int pre,
				int neg, int div, int has_coef)
{
	for (size_t r = 0; r < rows; r++) {
		const __m256i box = has_coef ? _mm256_set1_epi32(p->box[r]) : _mm256_setzero_si256();
		const int32_t *a = acc + r * (size_t)kout;
		uint8_t *o = out + r * (size_t)kout;
		for (int j = 0; j < kout; j += 16) {
			__m256i lo = v8_conv_value(a + j, p->coef + j, box, p->bias + j, k->acc_shift,
						   has_coef);
			__m256i hi = v8_conv_value(a + j + 8, p->coef + j + 8, box, p->bias + j + 8,
						   k->acc_shift, has_coef);
			store16(o + j, v8_conv(lo, k, pre, neg, div), v8_conv(hi, k, pre, neg, div));
		}
	}
}

/* Per channel, on the clamp-first path only (every plan ok): eight lanes
 * of channels j..j+7 with their own A, B, m0, c and exponent e (0..31:
 * the rounding division's sign term is masked off where e = 0). */
struct v8_channels {
	__m256i A, B, m0, m0_odd, c, sign, e;
};

AVX2_INLINE struct v8_channels v8_channels_at(const struct requant_channels *ch, int j)
{
	const __m256i m0 = v8_load(ch->m0 + j);
	return (struct v8_channels){ .A = v8_load(ch->A + j), .B = v8_load(ch->B + j), .m0 = m0,
				     .m0_odd = _mm256_srli_epi64(m0, 32), .c = v8_load(ch->c + j),
				     .sign = v8_load(ch->sign + j), .e = v8_load(ch->e + j) };
}

AVX2_INLINE __m256i v8_conv_channels(__m256i x, const struct v8_channels *k)
{
	x = _mm256_min_epi32(_mm256_max_epi32(x, k->A), k->B);
	const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
	__m256i ev = _mm256_add_epi64(_mm256_mul_epi32(x, k->m0), nudge);
	__m256i od = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), k->m0_odd), nudge);
	__m256i h = _mm256_blend_epi32(_mm256_srli_epi64(ev, 31), _mm256_slli_epi64(od, 1), 0xAA);
	h = _mm256_add_epi32(_mm256_add_epi32(h, k->c),
			     _mm256_and_si256(_mm256_srai_epi32(h, 31), k->sign));
	return _mm256_srav_epi32(h, k->e);
}

/* kout16: kout is 16, so both vectors' channel constants are made once,
 * before the rows (the output stores are bytes, which may alias anything:
 * loaded inside the loop, every constant is loaded again for each row). */
AVX2_INLINE void rows_channels_body(uint8_t *out, const int32_t *acc, size_t rows, int kout,
				    const struct requant_rows *p, int has_coef, int kout16)
{
	const __m128i acc_shift = _mm_cvtsi32_si128(p->acc_shift);
	const struct requant_channels ch = *p->channels;   /* a local: stores cannot alias it */
	const int32_t *coef = p->coef, *bias = p->bias, *box_of = p->box;
	const struct v8_channels k0 = v8_channels_at(&ch, 0), k1 = v8_channels_at(&ch, 8);
	const __m256i bias0 = v8_load(bias), bias1 = v8_load(bias + 8);
	const __m256i coef0 = has_coef ? v8_load(coef) : _mm256_setzero_si256();
	const __m256i coef1 = has_coef ? v8_load(coef + 8) : _mm256_setzero_si256();
	for (size_t r = 0; r < rows; r++) {
		const __m256i box = has_coef ? _mm256_set1_epi32(box_of[r]) : _mm256_setzero_si256();
		const int32_t *a = acc + r * (size_t)kout;
		uint8_t *o = out + r * (size_t)kout;
		if (kout16) {
			__m256i lo = v8_conv_value_of(v8_load(a), coef0, box, bias0, acc_shift, has_coef);
			__m256i hi = v8_conv_value_of(v8_load(a + 8), coef1, box, bias1, acc_shift,
						      has_coef);
			store16(o, v8_conv_channels(lo, &k0), v8_conv_channels(hi, &k1));
			continue;
		}
		for (int j = 0; j < kout; j += 16) {
			__m256i lo = v8_conv_value(a + j, coef + j, box, bias + j, acc_shift, has_coef);
			__m256i hi = v8_conv_value(a + j + 8, coef + j + 8, box, bias + j + 8,
						   acc_shift, has_coef);
			const struct v8_channels kl = v8_channels_at(&ch, j);
			const struct v8_channels kh = v8_channels_at(&ch, j + 8);
			store16(o + j, v8_conv_channels(lo, &kl), v8_conv_channels(hi, &kh));
		}
	}
}

/* kout a multiple of 16, p->channels ok. */
AVX2_FN static void requant_u8_rows_channels_avx2(uint8_t *out, const int32_t *acc, size_t rows,
						  int kout, const struct requant_rows *p)
{
	if (kout == 16)
		p->coef ? rows_channels_body(out, acc, rows, kout, p, 1, 1)
			: rows_channels_body(out, acc, rows, kout, p, 0, 1);
	else
		p->coef ? rows_channels_body(out, acc, rows, kout, p, 1, 0)
			: rows_channels_body(out, acc, rows, kout, p, 0, 0);
}

/* kout a multiple of 16. */
AVX2_FN static void requant_u8_rows_avx2(uint8_t *out, const int32_t *acc, size_t rows, int kout,
					 const struct requant_rows *p, const struct requant_plan *pc,
					 int32_t L, int32_t H)
{
	const struct rq_consts c = rq_consts(p->shift);
	struct v8_rows k = {
		.L = _mm256_set1_epi32(L), .H = _mm256_set1_epi32(H), .z = _mm256_set1_epi32(p->z),
		.A = _mm256_set1_epi32(pc->A), .B = _mm256_set1_epi32(pc->B),
		.c = _mm256_set1_epi32(pc->c), .acc_shift = _mm_cvtsi32_si128(p->acc_shift),
	};
	v8_init(&k.v, p->m0, &c);
	/* each case its own loop: pre, neg, div and the box term are constants */
	const int has = p->coef != NULL;
#define ROWS(pre, neg, div) (has ? rows_avx2_body(out, acc, rows, kout, p, &k, pre, neg, div, 1) \
			     : rows_avx2_body(out, acc, rows, kout, p, &k, pre, neg, div, 0))
	if (pc->ok)
		c.e ? ROWS(1, 0, 1) : ROWS(1, 0, 0);
	else if (c.neg)
		ROWS(0, 1, 0);
	else
		c.e ? ROWS(0, 0, 1) : ROWS(0, 0, 0);
#undef ROWS
}

/* Eight lanes of the residual add before clamping. The rounding division
 * of the sum x by 2^e, e >= 1, is floor((x + 2^(e−1) − [x < 0]) / 2^e):
 * ties away from zero, fp_div_pot's bits; no overflow, as |x| + 2^(e−1) <
 * 2^31 (requant.h's bounds, e <= 24). For e = 0, half and sign are 0. */
AVX2_INLINE __m256i v8_add(const uint8_t *a, const uint8_t *b, __m256i ma, __m256i mb,
			   __m256i base, __m256i half, __m256i sign, __m128i e)
{
	__m256i xa = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)a));
	__m256i xb = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b));
	/* q_a·M_a + q_b·M_b − (Z_a·M_a + Z_b·M_b): the same sum, fewer steps */
	__m256i x = _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(xa, ma),
						      _mm256_mullo_epi32(xb, mb)), base);
	x = _mm256_add_epi32(_mm256_add_epi32(x, half),
			     _mm256_and_si256(_mm256_srai_epi32(x, 31), sign));
	return _mm256_sra_epi32(x, e);
}

AVX2_FN static void requant_add_u8_avx2(uint8_t *out, const uint8_t *a, const uint8_t *b,
					size_t n, const struct requant_add *p)
{
	const __m256i ma = _mm256_set1_epi32(p->ma), mb = _mm256_set1_epi32(p->mb);
	const __m256i base = _mm256_set1_epi32(-(p->za * p->ma + p->zb * p->mb));
	const __m256i half = _mm256_set1_epi32(p->shift ? 1 << (p->shift - 1) : 0);
	const __m256i sign = _mm256_set1_epi32(p->shift ? -1 : 0);
	const __m128i e = _mm_cvtsi32_si128(p->shift);
	/* clamp(z + r, lo, hi) as clamp(r, lo − z, hi − z) + z: no bound
	 * overflows for bytes */
	const __m256i L = _mm256_set1_epi32(p->lo - p->z), H = _mm256_set1_epi32(p->hi - p->z);
	const __m256i z = _mm256_set1_epi32(p->z);
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i r[2];
		for (int h = 0; h < 2; h++) {
			__m256i v = v8_add(a + i + 8 * h, b + i + 8 * h, ma, mb, base, half, sign, e);
			r[h] = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(v, L), H), z);
		}
		store16(out + i, r[0], r[1]);
	}
	requant_add_u8_scalar(out, a, b, i, n, p);
}

#endif /* RQ_X86 */

/* ---- Entry points ---- */

void requant_i32(int32_t *out, const int32_t *x, size_t n, int32_t m0, int shift)
{
	CHECK(m0 >= 0);             /* so fp_high_mul never saturates (see top) */
	CHECK(shift >= -31 && shift <= 31);
#if RQ_X86
	if (avx2_now()) {
		requant_i32_avx2(out, x, n, m0, shift);
		return;
	}
#endif
	requant_i32_scalar(out, x, n, m0, shift);
}

void requant_u8(uint8_t *out, const int32_t *x, size_t n, int32_t m0, int shift, int32_t z,
		int32_t lo, int32_t hi)
{
	CHECK(m0 >= 0);
	CHECK(shift >= -31 && shift <= 31);
	CHECK(0 <= lo && lo <= hi && hi <= 255);
#if RQ_X86
	if (avx2_now()) {
		/* The bounds for r before z is added (see top). */
		int64_t L = (int64_t)lo - z, H = (int64_t)hi - z;
		if (L > INT32_MAX) {
			if (n)
				memset(out, lo, n);
			return;
		}
		requant_u8_avx2(out, x, n, m0, shift, z, H > INT32_MAX ? INT32_MAX : (int32_t)H,
				(int32_t)L);
		return;
	}
#endif
	requant_u8_scalar(out, x, n, m0, shift, z, lo, hi);
}

void requant_u8_rows(uint8_t *out, const int32_t *acc, size_t rows, int kout,
		     const struct requant_rows *p)
{
	CHECK(kout >= 1);
	CHECK(p->m0 >= 0);
	CHECK(p->shift >= -31 && p->shift <= 31);
	CHECK(p->acc_shift >= 0 && p->acc_shift <= 31);
	CHECK(0 <= p->lo && p->lo <= p->hi && p->hi <= 255);
	CHECK(!p->m0_k == !p->shift_k);
	if (p->m0_k) {
#if RQ_X86
		/* the plans' m0 and shift were checked by requant_plan_make */
		if (avx2_now() && kout % 16 == 0 && p->channels && p->channels->ok) {
			CHECK(p->channels->kout == kout);
			if (avx512_now())
				requant_u8_rows_channels_avx512(out, acc, rows, kout, p);
			else
				requant_u8_rows_channels_avx2(out, acc, rows, kout, p);
			return;
		}
#endif
		for (int k = 0; k < kout; k++)
			CHECK(p->m0_k[k] >= 0 && p->shift_k[k] >= -31 && p->shift_k[k] <= 31);
		requant_u8_rows_scalar(out, acc, rows, kout, p);
		return;
	}
#if RQ_X86
	const int64_t L = (int64_t)p->lo - p->z, H = (int64_t)p->hi - p->z;
	if (avx2_now() && kout % 16 == 0 && L <= INT32_MAX) {
		const int32_t H32 = H > INT32_MAX ? INT32_MAX : (int32_t)H;
		const struct requant_plan *pc = p->plan;
		struct requant_plan own;
		if (pc) {
			CHECK(pc->m0 == p->m0 && pc->shift == p->shift && pc->z == p->z &&
			      pc->L == L && pc->H == H32);
		} else {
			plan_fill(&own, p->m0, p->shift, p->z, (int32_t)L, H32);
			pc = &own;
		}
		if (avx512_now() && pc->ok)
			requant_u8_rows_avx512(out, acc, rows, kout, p, pc);
		else
			requant_u8_rows_avx2(out, acc, rows, kout, p, pc, (int32_t)L, H32);
		return;
	}
#endif
	requant_u8_rows_scalar(out, acc, rows, kout, p);
}

void requant_add_u8(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n,
		    const struct requant_add *p)
{
	CHECK(p->za >= 0 && p->za <= 255 && p->zb >= 0 && p->zb <= 255);
	CHECK(p->ma >= 0 && p->ma < REQUANT_ADD_MAX_MULT && p->mb >= 0 &&
	      p->mb < REQUANT_ADD_MAX_MULT);
	CHECK(p->shift >= 0 && p->shift <= REQUANT_ADD_MAX_SHIFT);
	CHECK(p->z >= 0 && p->z <= 255);
	CHECK(0 <= p->lo && p->lo <= p->hi && p->hi <= 255);
#if RQ_X86
	if (avx512_now()) {
		requant_add_u8_avx512(out, a, b, n, p);
		return;
	}
	if (avx2_now()) {
		requant_add_u8_avx2(out, a, b, n, p);
		return;
	}
#endif
	requant_add_u8_scalar(out, a, b, 0, n, p);
}

void div_pot_i32(int32_t *out, const int32_t *x, size_t n, int e)
{
	CHECK(e >= 0 && e <= 31);
#if RQ_X86
	if (avx2_now()) {
		div_pot_i32_avx2(out, x, n, e);
		return;
	}
#endif
	div_pot_i32_scalar(out, x, n, e);
}
