/* AVX-512 (F, BW and VL) forms of requant.c's hot loops: a convolution's
 * epilogue on the clamp-first path, per tensor and per channel, and the
 * residual add. Same contracts and bits as the AVX2 and scalar forms
 * (requant.h); requant.c calls them when the CPU has AVX-512 and the
 * chosen path allows it. Sixteen lanes a vector; masked loads and stores
 * do the add's tail, so it needs no scalar loop. */
#ifndef PCQ_REQUANT_AVX512_H
#define PCQ_REQUANT_AVX512_H

#include "requant.h"

/* requant_u8_rows per tensor when plan->ok (shift >= 0): v clamped to
 * [A, B], the high multiply, then the rounding division with z folded
 * in (plan->c). kout a multiple of 16. */
void requant_u8_rows_avx512(uint8_t *out, const int32_t *acc, size_t rows, int kout,
			    const struct requant_rows *p, const struct requant_plan *plan);

/* The same into uint16 (requant_u16_rows), the plan's bounds up to
 * 65535. */
void requant_u16_rows_avx512(uint16_t *out, const int32_t *acc, size_t rows, int kout,
			     const struct requant_rows *p, const struct requant_plan *plan);

/* requant_u8_rows per channel when p->channels->ok; kout a multiple of 16. */
void requant_u8_rows_channels_avx512(uint8_t *out, const int32_t *acc, size_t rows, int kout,
				     const struct requant_rows *p);
/* The same into uint16 (requant_u16_rows). */
void requant_u16_rows_channels_avx512(uint16_t *out, const int32_t *acc, size_t rows, int kout,
				      const struct requant_rows *p);

/* requant_add_u8, any n. */
void requant_add_u8_avx512(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n,
			   const struct requant_add *p);

/* requant_add_wide when an input is wide (more than 8 bits, uint16): the
 * int64 sum on eight lanes; any n. */
void requant_add_wide_avx512(uint8_t *out, const void *a, int a_wide, const void *b, int b_wide,
			     size_t n, const struct requant_add *p);

/* The path requant.c takes on this call (REQUANT_SCALAR ...), for
 * requant_wide.c. */
int requant_path_now(void);

#endif
