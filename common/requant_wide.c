/* 16-bit residual branches: a convolution's epilogue into uint16 and the
 * residual add over uint16 inputs; see requant.h. The arithmetic is
 * requant.c's (fixedpoint.h's rounding); only the storage is wider. The
 * per-tensor epilogue takes requant_i32's vector path; the rest is plain
 * loops that the compiler vectorises. */
#include "requant.h"

#include "check.h"
#include "fixedpoint.h"


/* Elements per piece of the epilogue: the values before requantization
 * are gathered here, requantized in one call, then clamped and stored. */
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
	const size_t total = rows * (size_t)kout;
	int32_t v[PIECE];
	size_t r = 0;
	int k = 0;
	for (size_t e0 = 0; e0 < total; e0 += PIECE) {
		const size_t m = total - e0 < PIECE ? total - e0 : PIECE;
		const int k0 = k;
		/* v = (acc + coef·box)·2^acc_shift + bias, wrapping (requant.h) */
		for (size_t i = 0; i < m; i++) {
			uint32_t a = (uint32_t)acc[e0 + i];
			if (p->coef)
				a += (uint32_t)p->coef[k] * (uint32_t)p->box[r];
			v[i] = (int32_t)((a << p->acc_shift) + (uint32_t)p->bias[k]);
			if (++k == kout)
				k = 0, r++;
		}
		if (!p->m0_k) {
			requant_i32(v, v, m, p->m0, p->shift);
		} else {
			int kk = k0;
			for (size_t i = 0; i < m; i++) {
				v[i] = fp_requantize(v[i], p->m0_k[kk], p->shift_k[kk]);
				if (++kk == kout)
					kk = 0;
			}
		}
		uint16_t *o = out + e0;
		#pragma omp simd
		for (size_t i = 0; i < m; i++)
			o[i] = (uint16_t)((v[i] < L ? L : v[i] > H ? H : v[i]) + z);
	}
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
	if (aw && !bw)
		ADD_LOOP(uint16_t, uint8_t);
	else if (!aw)
		ADD_LOOP(uint8_t, uint16_t);
	else
		ADD_LOOP(uint16_t, uint16_t);
}
