/* Vectorised requantization: the same bits as fixedpoint.h's scalar
 * fp_requantize and fp_div_pot (gemmlowp's SaturatingRoundingDoublingHighMul
 * and RoundingDivideByPOT), over arrays. An AVX2 path, and AVX-512 forms
 * of the engine's loops (requant_avx512.h), are chosen at run time
 * (__builtin_cpu_supports), so any -march builds them; the scalar helpers
 * of fixedpoint.h do the tails and run on CPUs without AVX2. Every
 * path is exact for every argument allowed below, negative shifts included
 * (they saturate acc·2^−shift to int32 in the vector lanes, as
 * fp_requantize does).
 * fp_high_mul's saturating case (both factors INT32_MIN) cannot occur, as
 * m0 >= 0 (CHECKed).
 *
 * The integer engine calls the fused forms (requant_u8_rows for a
 * convolution's output, requant_add_u8 for a residual add);
 * requant_i32, requant_u8 and div_pot_i32 expose the same lane steps one
 * at a time, so the unit tests can check them over the whole int32 range.
 *
 * PCQ_REQUANT=scalar, avx2 or avx512 (read at the first call) caps the
 * path taken (default auto: the best the CPU has); requant_force() picks
 * one from a program (the unit tests run every path the CPU has). */
#ifndef PCQ_REQUANT_H
#define PCQ_REQUANT_H

#include <stddef.h>
#include <stdint.h>

/* out[i] = fp_requantize(x[i], m0, shift) for i < n; m0 in [0, 2^31),
 * shift in −31..31. out may alias x (out == x; no partial overlap). */
void requant_i32(int32_t *out, const int32_t *x, size_t n, int32_t m0, int shift);

/* out[i] = clamp(z + fp_requantize(x[i], m0, shift), lo, hi) as uint8, the
 * sum taken without overflow (in int64); 0 <= lo <= hi <= 255, any int32 z. */
void requant_u8(uint8_t *out, const int32_t *x, size_t n, int32_t m0, int shift,
		int32_t z, int32_t lo, int32_t hi);

/* What requant_u8_rows (below) works out once per (m0, shift, z, lo, hi): for
 * shift >= 0, fp_requantize is non-decreasing with steps of at most 1, so
 * clamping z + fp_requantize(v) to [lo, hi] equals computing it from v
 * clamped to [A, B], the widest v range whose results lie in [lo, hi];
 * then the rounding division and z take one add and one shift (requant.c).
 * ok = 0 where that does not apply (shift < 0, every result at one bound,
 * sums that could leave int32): the general path runs. */
struct requant_plan {
	int32_t m0;
	int shift;
	int32_t z, L, H;       /* L = lo − z, H = hi − z (capped at INT32_MAX) */
	int ok;
	int32_t A, B;          /* the clamp bounds for v */
	int32_t c;             /* 2^(shift−1) + z·2^shift (z when shift = 0) */
};
void requant_plan_make(struct requant_plan *pl, int32_t m0, int shift, int32_t z, int32_t lo,
		       int32_t hi);   /* 0 <= lo <= hi <= 65535 */

/* The plans of kout channels (per-channel weight quantization: each its
 * own m0 and shift, one z, lo, hi) laid out for requant_u8_rows's vector
 * path; ok when every plan is (else that path is not taken). buf: 6·kout
 * int32s that stay with it. */
struct requant_channels {
	int kout, ok;
	const int32_t *A, *B, *c, *m0, *e, *sign;   /* (kout) each */
};
void requant_channels_make(struct requant_channels *ch, const struct requant_plan *plans,
			   int kout, int32_t *buf);

/* A convolution's epilogue over `rows` rows of kout accumulators, in one
 * pass: for row r and channel k,
 *   v = (acc[r·kout + k] + coef[k]·box[r])·2^acc_shift + bias[k]
 * in wrapping 32-bit arithmetic (the caller guarantees that the true v
 * fits int32, so the wrapped intermediates do not matter), then
 *   out[r·kout + k] = clamp(z + fp_requantize(v, m0, shift), lo, hi),
 * or with m0_k, shift_k (per-channel weight quantization) m0_k[k] and
 * shift_k[k] in place of m0 and shift.
 * coef NULL: no box term (box unused). acc_shift 0..31. */
struct requant_rows {
	const int32_t *bias;    /* (kout) */
	const int32_t *coef;    /* (kout) or NULL */
	const int32_t *box;     /* (rows) when coef */
	int acc_shift;
	int32_t m0;
	int shift;
	const int32_t *m0_k, *shift_k;   /* (kout) each, or NULL */
	int32_t z, lo, hi;
	/* NULL, or requant_plan_make's for the same m0, shift, z, lo, hi
	 * (CHECKed); NULL makes one on each call (two bisections over int32:
	 * microseconds, so callers with short calls keep a plan). Unused
	 * with m0_k. */
	const struct requant_plan *plan;
	/* with m0_k: NULL (the scalar path), or requant_channels_make's for
	 * the same m0_k, shift_k, z, lo, hi (not checked: the caller keeps
	 * them together) */
	const struct requant_channels *channels;
};
void requant_u8_rows(uint8_t *out, const int32_t *acc, size_t rows, int kout,
		     const struct requant_rows *p);

/* The residual add (docs/FORMAT.md's qadd): both inputs' (q − Z) scaled
 * by integer multipliers to one fixed-point grid 2^−shift, summed, rounded
 * once:
 *   out[i] = clamp(z + fp_div_pot((a[i] − za)·ma + (b[i] − zb)·mb, shift),
 *                  lo, hi).
 * Zero points and z in 0..255; ma, mb in [0, REQUANT_ADD_MAX_MULT), so
 * |sum| <= 2·255·(2^22 − 1) < 2^31; shift in 0..REQUANT_ADD_MAX_SHIFT.
 * An add with an input of more than 8 bits (requant_add_wide) sums in
 * int64 instead: ma, mb in [0, 2^31), so |sum| < 2·65535·2^31 < 2^48, and
 * shift in 0..REQUANT_ADD_WIDE_MAX_SHIFT; the same formula, with room for
 * multipliers precise enough for a 16-bit input (docs/QUANTIZATION.md). */
#define REQUANT_ADD_MAX_MULT (1 << 22)
#define REQUANT_ADD_MAX_SHIFT 24
#define REQUANT_ADD_WIDE_MAX_SHIFT 62
struct requant_add {
	int32_t za, ma, zb, mb;
	int shift;
	int32_t z, lo, hi;
};
void requant_add_u8(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n,
		    const struct requant_add *p);

/* 16-bit residual adds (pcq-fuse --residual-bit, SPEC §10): a convolution
 * whose output only adds read may be requantized to up to 16 bits, and
 * an add may read such inputs (requant_wide.c).
 *
 * requant_u16_rows: requant_u8_rows's epilogue, the same values, stored
 * as uint16 with 0 <= lo <= hi <= 65535 (p->plan and p->channels as
 * there).
 * requant_add_wide: the residual add with inputs of a_bits and b_bits
 * (2..16), each stored as uint8 up to 8 bits and as uint16 above, zero
 * points within the input's range: requant_add_u8 when both have at most
 * 8 bits, else the int64 sum above (fixedpoint.h's fp_div_pot64). */
void requant_u16_rows(uint16_t *out, const int32_t *acc, size_t rows, int kout,
		      const struct requant_rows *p);
void requant_add_wide(uint8_t *out, const void *a, int a_bits, const void *b, int b_bits,
		      size_t n, const struct requant_add *p);

/* out[i] = fp_div_pot(x[i], e), e in 0..31. out may alias x (out == x). */
void div_pot_i32(int32_t *out, const int32_t *x, size_t n, int e);

/* The paths, each including the ones before it: REQUANT_AVX512 runs
 * requant_avx512.h's loops and the AVX2 ones for the rest. */
enum { REQUANT_AUTO = -1, REQUANT_SCALAR, REQUANT_AVX2, REQUANT_AVX512 };

/* Later calls take `path` (REQUANT_AUTO: back to the one chosen from the
 * CPU and PCQ_REQUANT); -1, and nothing changes, when the CPU lacks it.
 * For tests and benchmarks (safe to call at any time: every path gives
 * the same bits). */
int requant_force(int path);

/* A path's name: "scalar", "avx2" or "avx512" (REQUANT_SCALAR ...). */
const char *requant_path_name(int path);

/* The path the next call will take, by name. */
const char *requant_impl_name(void);

#endif
