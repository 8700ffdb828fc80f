/* AVX-512 forms of requant.c's hot loops; see requant_avx512.h. The lane
 * steps are requant.c's ("How a lane computes fp_requantize" and
 * "Clamping before the arithmetic"), on sixteen lanes: on Intel's AVX-512
 * cores one 512-bit operation does the work of two 256-bit ones on two
 * ports instead of three, and a byte store needs one vpmovdb instead of
 * two packs and a permutation. */
#include "requant_avx512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl")))
#define AVX512_INLINE __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) \
	static inline

/* fp_high_mul(x, m0) for m0 >= 0, floor((x·m0 + 2^30) / 2^31): vpmuldq
 * multiplies each qword's low dword, so m_even holds the even lanes'
 * multipliers there and m_odd the odd lanes' (moved down); bits 31..62 of
 * the sums are the result. */
AVX512_INLINE __m512i v16_high_mul(__m512i x, __m512i m_even, __m512i m_odd)
{
	const __m512i nudge = _mm512_set1_epi64(INT64_C(1) << 30);
	__m512i ev = _mm512_add_epi64(_mm512_mul_epi32(x, m_even), nudge);
	__m512i od = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m_odd), nudge);
	return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ev, 31), _mm512_slli_epi64(od, 1));
}

/* v = (acc + coef·box)·2^acc_shift + bias in wrapping int32 lanes. */
AVX512_INLINE __m512i v16_conv_value(__m512i acc, __m512i coef, __m512i box, __m512i bias,
				     __m128i acc_shift, int has_coef)
{
	if (has_coef)
		acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(coef, box));
	return _mm512_add_epi32(_mm512_sll_epi32(acc, acc_shift), bias);
}

/* Sixteen lanes in [0, 255] stored as bytes. */
AVX512_INLINE void store16(uint8_t *out, __m512i r)
{
	_mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(r));
}

/* Sixteen lanes stored at out + i: uint16 where wide, else bytes. */
AVX512_INLINE void store_lanes(void *out, size_t i, __m512i q, int wide)
{
	if (wide)
		_mm256_storeu_si256((__m256i *)((uint16_t *)out + i), _mm512_cvtepi32_epi16(q));
	else
		store16((uint8_t *)out + i, q);
}

/* ---- Per tensor ---- */

struct v16_plan {
	__m512i A, B, m0, c;
	__m128i e;
};

/* The clamp-first lane: h = high_mul(clamp(v, A, B)), then with e >= 1
 * floor((h + c − [h < 0]) / 2^e) (fp_div_pot's ties away from zero, z
 * folded into c), or h + c when e = 0. */
AVX512_INLINE __m512i v16_plan_apply(__m512i v, const struct v16_plan *k, int div)
{
	v = _mm512_min_epi32(_mm512_max_epi32(v, k->A), k->B);
	const __m512i h = v16_high_mul(v, k->m0, k->m0);
	if (!div)
		return _mm512_add_epi32(h, k->c);
	return _mm512_sra_epi32(_mm512_add_epi32(_mm512_add_epi32(h, k->c), _mm512_srai_epi32(h, 31)),
				k->e);
}

/* wide: out holds uint16 (requant_u16_rows), else bytes. */
AVX512_INLINE void rows_body(void *out, const int32_t *acc, size_t rows, int kout,
			     const struct requant_rows *p, const struct v16_plan *k, int div,
			     int has_coef, int wide)
{
	const __m128i acc_shift = _mm_cvtsi32_si128(p->acc_shift);
	const int32_t *coef = p->coef, *bias = p->bias, *box_of = p->box;
	for (size_t r = 0; r < rows; r++) {
		const __m512i box = has_coef ? _mm512_set1_epi32(box_of[r]) : _mm512_setzero_si512();
		const int32_t *a = acc + r * (size_t)kout;
		for (int j = 0; j < kout; j += 16) {
			const __m512i cf = has_coef ? _mm512_loadu_si512(coef + j) : _mm512_setzero_si512();
			__m512i v = v16_conv_value(_mm512_loadu_si512(a + j), cf, box,
						   _mm512_loadu_si512(bias + j), acc_shift, has_coef);
			store_lanes(out, r * (size_t)kout + j, v16_plan_apply(v, k, div), wide);
		}
	}
}

AVX512_INLINE void rows_plan(void *out, const int32_t *acc, size_t rows, int kout,
			     const struct requant_rows *p, const struct requant_plan *plan, int wide)
{
	const struct v16_plan k = {
		.A = _mm512_set1_epi32(plan->A), .B = _mm512_set1_epi32(plan->B),
		.m0 = _mm512_set1_epi32(plan->m0), .c = _mm512_set1_epi32(plan->c),
		.e = _mm_cvtsi32_si128(plan->shift),
	};
	/* each case its own loop: the division and the box term are constants */
	if (plan->shift)
		p->coef ? rows_body(out, acc, rows, kout, p, &k, 1, 1, wide)
			: rows_body(out, acc, rows, kout, p, &k, 1, 0, wide);
	else
		p->coef ? rows_body(out, acc, rows, kout, p, &k, 0, 1, wide)
			: rows_body(out, acc, rows, kout, p, &k, 0, 0, wide);
}

AVX512_FN void requant_u8_rows_avx512(uint8_t *out, const int32_t *acc, size_t rows, int kout,
				      const struct requant_rows *p, const struct requant_plan *plan)
{
	rows_plan(out, acc, rows, kout, p, plan, 0);
}

AVX512_FN void requant_u16_rows_avx512(uint16_t *out, const int32_t *acc, size_t rows, int kout,
				       const struct requant_rows *p, const struct requant_plan *plan)
{
	rows_plan(out, acc, rows, kout, p, plan, 1);
}

/* ---- Per channel ---- */

/* Sixteen channels' plans (requant_channels): each lane its own A, B, m0,
 * c and exponent e (0..31; sign masks the −[h < 0] off where e = 0). */
struct v16_channels {
	__m512i A, B, m0, m0_odd, c, sign, e;
};

AVX512_INLINE struct v16_channels v16_channels_at(const struct requant_channels *ch, int j)
{
	const __m512i m0 = _mm512_loadu_si512(ch->m0 + j);
	return (struct v16_channels){
		.A = _mm512_loadu_si512(ch->A + j), .B = _mm512_loadu_si512(ch->B + j), .m0 = m0,
		.m0_odd = _mm512_srli_epi64(m0, 32), .c = _mm512_loadu_si512(ch->c + j),
		.sign = _mm512_loadu_si512(ch->sign + j), .e = _mm512_loadu_si512(ch->e + j),
	};
}

AVX512_INLINE __m512i v16_channels_apply(__m512i v, const struct v16_channels *k)
{
	v = _mm512_min_epi32(_mm512_max_epi32(v, k->A), k->B);
	const __m512i h = v16_high_mul(v, k->m0, k->m0_odd);
	const __m512i neg = _mm512_and_si512(_mm512_srai_epi32(h, 31), k->sign);
	return _mm512_srav_epi32(_mm512_add_epi32(_mm512_add_epi32(h, k->c), neg), k->e);
}

/* kout16: kout is 16, so the channel constants are made once, before the
 * rows (the byte stores may alias anything: made inside the loop, they
 * would be loaded again for each row). */
AVX512_INLINE void channels_body(void *out, const int32_t *acc, size_t rows, int kout,
				 const struct requant_rows *p, int has_coef, int kout16, int wide)
{
	const __m128i acc_shift = _mm_cvtsi32_si128(p->acc_shift);
	const struct requant_channels ch = *p->channels;   /* a local: stores cannot alias it */
	const int32_t *coef = p->coef, *bias = p->bias, *box_of = p->box;
	const struct v16_channels k0 = v16_channels_at(&ch, 0);
	const __m512i bias0 = _mm512_loadu_si512(bias);
	const __m512i coef0 = has_coef ? _mm512_loadu_si512(coef) : _mm512_setzero_si512();
	for (size_t r = 0; r < rows; r++) {
		const __m512i box = has_coef ? _mm512_set1_epi32(box_of[r]) : _mm512_setzero_si512();
		const int32_t *a = acc + r * (size_t)kout;
		const size_t o = r * (size_t)kout;
		if (kout16) {
			__m512i v = v16_conv_value(_mm512_loadu_si512(a), coef0, box, bias0, acc_shift,
						   has_coef);
			store_lanes(out, o, v16_channels_apply(v, &k0), wide);
			continue;
		}
		for (int j = 0; j < kout; j += 16) {
			const __m512i cf = has_coef ? _mm512_loadu_si512(coef + j) : _mm512_setzero_si512();
			__m512i v = v16_conv_value(_mm512_loadu_si512(a + j), cf, box,
						   _mm512_loadu_si512(bias + j), acc_shift, has_coef);
			const struct v16_channels k = v16_channels_at(&ch, j);
			store_lanes(out, o + j, v16_channels_apply(v, &k), wide);
		}
	}
}

AVX512_INLINE void rows_channels(void *out, const int32_t *acc, size_t rows, int kout,
				 const struct requant_rows *p, int wide)
{
	if (kout == 16)
		p->coef ? channels_body(out, acc, rows, kout, p, 1, 1, wide)
			: channels_body(out, acc, rows, kout, p, 0, 1, wide);
	else
		p->coef ? channels_body(out, acc, rows, kout, p, 1, 0, wide)
			: channels_body(out, acc, rows, kout, p, 0, 0, wide);
}

AVX512_FN void requant_u8_rows_channels_avx512(uint8_t *out, const int32_t *acc, size_t rows,
					       int kout, const struct requant_rows *p)
{
	rows_channels(out, acc, rows, kout, p, 0);
}

AVX512_FN void requant_u16_rows_channels_avx512(uint16_t *out, const int32_t *acc, size_t rows,
						int kout, const struct requant_rows *p)
{
	rows_channels(out, acc, rows, kout, p, 1);
}

/* ---- The residual add ---- */

struct v16_add {
	__m512i ma, mb, base, half, sign, L, H, z;
	__m128i e;
};

/* Sixteen sums (a − za)·ma + (b − zb)·mb, rounded by 2^e as requant.c's
 * v8_add, clamped and shifted by z to bytes in dwords. */
AVX512_INLINE __m512i v16_add(__m128i a, __m128i b, const struct v16_add *k)
{
	__m512i x = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_cvtepu8_epi32(a), k->ma),
				     _mm512_mullo_epi32(_mm512_cvtepu8_epi32(b), k->mb));
	x = _mm512_add_epi32(x, k->base);
	x = _mm512_add_epi32(_mm512_add_epi32(x, k->half),
			     _mm512_and_si512(_mm512_srai_epi32(x, 31), k->sign));
	x = _mm512_sra_epi32(x, k->e);
	return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(x, k->L), k->H), k->z);
}

AVX512_FN void requant_add_u8_avx512(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n,
				     const struct requant_add *p)
{
	const struct v16_add k = {
		.ma = _mm512_set1_epi32(p->ma), .mb = _mm512_set1_epi32(p->mb),
		.base = _mm512_set1_epi32(-(p->za * p->ma + p->zb * p->mb)),
		.half = _mm512_set1_epi32(p->shift ? 1 << (p->shift - 1) : 0),
		.sign = _mm512_set1_epi32(p->shift ? -1 : 0),
		/* clamp(z + r, lo, hi) as clamp(r, lo − z, hi − z) + z */
		.L = _mm512_set1_epi32(p->lo - p->z), .H = _mm512_set1_epi32(p->hi - p->z),
		.z = _mm512_set1_epi32(p->z), .e = _mm_cvtsi32_si128(p->shift),
	};
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i va = _mm_loadu_si128((const __m128i *)(a + i));
		__m128i vb = _mm_loadu_si128((const __m128i *)(b + i));
		store16(out + i, v16_add(va, vb, &k));
	}
	if (i < n) {   /* the tail, masked: nothing beyond n is read or written */
		const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		__m128i va = _mm_maskz_loadu_epi8(m, a + i), vb = _mm_maskz_loadu_epi8(m, b + i);
		_mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(v16_add(va, vb, &k)));
	}
}

/* Eight inputs widened to int64 lanes (uint16 where wide), masked. */
AVX512_INLINE __m512i load8_i64(const void *x, int wide, size_t i, __mmask8 m)
{
	if (wide)
		return _mm512_cvtepu16_epi64(_mm_maskz_loadu_epi16(m, (const uint16_t *)x + i));
	return _mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(m, (const uint8_t *)x + i));
}

/* The add's int64 sum (requant.h): vpmuldq multiplies each qword's low
 * dword, which holds q − Z (|q − Z| < 2^16) and M (< 2^31) exactly; the
 * rounding division is fp_div_pot64's on 64-bit lanes (vpsraq floors). */
AVX512_FN void requant_add_wide_avx512(uint8_t *out, const void *a, int a_wide, const void *b,
				       int b_wide, size_t n, const struct requant_add *p)
{
	const __m512i za = _mm512_set1_epi64(p->za), zb = _mm512_set1_epi64(p->zb);
	const __m512i ma = _mm512_set1_epi64(p->ma), mb = _mm512_set1_epi64(p->mb);
	const int64_t mask = (INT64_C(1) << p->shift) - 1;
	const __m512i vmask = _mm512_set1_epi64(mask), half = _mm512_set1_epi64(mask >> 1);
	const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
	const __m512i L = _mm512_set1_epi64(p->lo - p->z), H = _mm512_set1_epi64(p->hi - p->z);
	const __m512i z = _mm512_set1_epi64(p->z);
	const __m128i e = _mm_cvtsi32_si128(p->shift);
	for (size_t i = 0; i < n; i += 8) {
		const __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
		__m512i sum = _mm512_add_epi64(
			_mm512_mul_epi32(_mm512_sub_epi64(load8_i64(a, a_wide, i, m), za), ma),
			_mm512_mul_epi32(_mm512_sub_epi64(load8_i64(b, b_wide, i, m), zb), mb));
		__m512i fl = _mm512_sra_epi64(sum, e);
		__m512i rem = _mm512_and_si512(sum, vmask);
		__m512i thr = _mm512_mask_add_epi64(half, _mm512_cmplt_epi64_mask(sum, zero), half, one);
		__m512i r = _mm512_mask_add_epi64(fl, _mm512_cmpgt_epi64_mask(rem, thr), fl, one);
		r = _mm512_add_epi64(_mm512_min_epi64(_mm512_max_epi64(r, L), H), z);
		_mm512_mask_cvtepi64_storeu_epi8(out + i, m, r);
	}
}

#endif
