/* PCG32's step and output (pcg-random.org's minimal C implementation: XSH
 * RR output of a 64-bit LCG), and a jump of the LCG by any number of steps
 * (Brown, "Random number generation with arbitrary strides", 1994): the
 * i-th draw of rng.c's generator computed on its own, so a GPU thread can
 * draw element i of a dropout mask and match the CPU's serial draws. */
#ifndef PCQ_PCG_H
#define PCQ_PCG_H

#include "host_device.h"

#include <stdint.h>

#define PCG_MULT 6364136223846793005ULL

/* The draw made from state `old` (before its step). */
PCQ_HOST_DEVICE static inline uint32_t pcg_output(uint64_t old)
{
	uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
	uint32_t rot = (uint32_t)(old >> 59);
	return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

/* The state `delta` steps (state·MULT + inc each) after `state`, in
 * O(log delta): MULT^delta and the sum of the increments, by squaring. */
PCQ_HOST_DEVICE static inline uint64_t pcg_advance(uint64_t state, uint64_t inc, uint64_t delta)
{
	uint64_t mult = PCG_MULT, plus = inc, acc_mult = 1, acc_plus = 0;
	while (delta) {
		if (delta & 1) {
			acc_mult *= mult;
			acc_plus = acc_plus * mult + plus;
		}
		plus *= mult + 1;
		mult *= mult;
		delta >>= 1;
	}
	return acc_mult * state + acc_plus;
}

#endif
