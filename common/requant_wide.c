/* 16-bit residual branches: a convolution's epilogue into uint16 and the
 * residual add over uint16 inputs; see requant.h. The arithmetic is
 * requant.c's (fixedpoint.h's rounding); only the storage is wider. The
 * epilogue has requant_u8_rows's AVX-512 forms (clamp first, per tensor
 * and per channel, requant_avx512.c), elsewhere requant_i32's vector path
 * between plain loops that the compiler vectorises; the add has an
 * AVX-512 form and a plain one for the other paths. */
#include "requant.h"
#include "requant_avx512.h"

#include "check.h"
#include "fixedpoint.h"

#include <stdlib.h>

/* Elements per piece of the epilogue (whole rows, at least one): the
 * values before requantization are gathered here, requantized in one
 * call, then clamped and stored; every loop a vector loop. */
enum { PIECE = 1024 };

void requant_u16_rows(uint16_t *out, const int32_t *acc, size_t rows, int kout,
		      const struct requant_rows *p)
{
	CHECK(kout >= 1);
	CHECK(p->m0 >= 0);
	CHECK(p->shift >= -31 && p->shift <= 31);
	CHECK(p->acc_shift >= 0 && p->acc_shift <= 31);
	CHECK(0 <= p->lo && p->lo <= p->hi && p->hi <= 65535);
	CHECK(!p->m0_k == !p->shift_k);
	for (int k = 0; p->m0_k && k < kout; k++)
		CHECK(p->m0_k[k] >= 0 && p->shift_k[k] >= -31 && p->shift_k[k] <= 31);
	/* clamp(z + r, lo, hi) as clamp(r, lo − z, hi − z) + z: with z and
	 * the bounds within ±2^16 nothing overflows */
	CHECK(p->z >= -65535 && p->z <= 65535);
	const int32_t L = p->lo - p->z, H = p->hi - p->z, z = p->z;
#if defined(__x86_64__) && defined(__GNUC__)
	/* per channel on AVX-512 with the plans in vector form (requant.h) */
	if (p->m0_k && p->channels && p->channels->ok && kout % 16 == 0 &&
	    requant_path_now() == REQUANT_AVX512) {
		CHECK(p->channels->kout == kout);
		requant_u16_rows_channels_avx512(out, acc, rows, kout, p);
		return;
	}
	/* per tensor on AVX-512 with a clamp-first plan (requant.h) */
	if (!p->m0_k && p->plan && kout % 16 == 0 && requant_path_now() == REQUANT_AVX512) {
		const struct requant_plan *pl = p->plan;
		CHECK(pl->m0 == p->m0 && pl->shift == p->shift && pl->z == p->z && pl->L == L &&
		      pl->H == H);
		if (pl->ok) {
			requant_u16_rows_avx512(out, acc, rows, kout, p, pl);
			return;
		}
	}
#endif
	const size_t per = kout >= PIECE ? 1 : PIECE / (size_t)kout;   /* rows a piece */
	int32_t stack[PIECE];   /* a row longer than a piece: the heap */
	int32_t *v = per * (size_t)kout <= PIECE ? stack : xmalloc((size_t)kout * sizeof(int32_t));
	for (size_t r0 = 0; r0 < rows; r0 += per) {
		const size_t nr = rows - r0 < per ? rows - r0 : per, m = nr * (size_t)kout;
		const int32_t *a = acc + r0 * (size_t)kout;
		/* v = (acc + coef·box)·2^acc_shift + bias, wrapping (requant.h) */
		for (size_t r = 0; r < nr; r++) {
			const uint32_t box = p->coef ? (uint32_t)p->box[r0 + r] : 0;
			int32_t *vr = v + r * (size_t)kout;
			const int32_t *ar = a + r * (size_t)kout;
			#pragma omp simd
			for (int k = 0; k < kout; k++) {
				uint32_t t = (uint32_t)ar[k];
				if (p->coef)
					t += (uint32_t)p->coef[k] * box;
				vr[k] = (int32_t)((t << p->acc_shift) + (uint32_t)p->bias[k]);
			}
		}
		if (!p->m0_k)
			requant_i32(v, v, m, p->m0, p->shift);
		else
			for (size_t r = 0; r < nr; r++)
				for (int k = 0; k < kout; k++) {
					int32_t *x = &v[r * (size_t)kout + k];
					*x = fp_requantize(*x, p->m0_k[k], p->shift_k[k]);
				}
		uint16_t *o = out + r0 * (size_t)kout;
		#pragma omp simd
		for (size_t i = 0; i < m; i++)
			o[i] = (uint16_t)((v[i] < L ? L : v[i] > H ? H : v[i]) + z);
	}
	if (v != stack)
		free(v);
}

/* One output of the add with a 16-bit input, the inputs already widened:
 * the sum in int64 (requant.h). */
static inline uint8_t add_one(int64_t a, int64_t b, const struct requant_add *p)
{
	int64_t sum = (a - p->za) * p->ma + (b - p->zb) * p->mb;
	int64_t r = fp_div_pot64(sum, p->shift);
	int64_t L = p->lo - p->z, H = p->hi - p->z;
	return (uint8_t)((r < L ? L : r > H ? H : r) + p->z);
}

#define ADD_LOOP(TA, TB)                                                   \
	do {                                                               \
		const TA *restrict x = a;                                  \
		const TB *restrict y = b;                                  \
		_Pragma("omp simd")                                        \
		for (size_t i = 0; i < n; i++)                             \
			out[i] = add_one(x[i], y[i], p);                   \
	} while (0)

void requant_add_wide(uint8_t *out, const void *a, int a_bits, const void *b, int b_bits,
		      size_t n, const struct requant_add *p)
{
	CHECK(a_bits >= 2 && a_bits <= 16 && b_bits >= 2 && b_bits <= 16);
	const int aw = a_bits > 8, bw = b_bits > 8;
	if (!aw && !bw) {
		requant_add_u8(out, a, b, n, p);
		return;
	}
	CHECK(p->za >= 0 && p->za < 1 << a_bits && p->zb >= 0 && p->zb < 1 << b_bits);
	CHECK(p->ma >= 0 && p->mb >= 0);   /* int32: below 2^31 */
	CHECK(p->shift >= 0 && p->shift <= REQUANT_ADD_WIDE_MAX_SHIFT);
	CHECK(p->z >= 0 && p->z <= 255);
	CHECK(0 <= p->lo && p->lo <= p->hi && p->hi <= 255);
#if defined(__x86_64__) && defined(__GNUC__)
	if (requant_path_now() == REQUANT_AVX512) {
		requant_add_wide_avx512(out, a, aw, b, bw, n, p);
		return;
	}
#endif
	if (aw && !bw)
		ADD_LOOP(uint16_t, uint8_t);
	else if (!aw)
		ADD_LOOP(uint8_t, uint16_t);
	else
		ADD_LOOP(uint16_t, uint16_t);
}
