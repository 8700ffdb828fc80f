/* PCG32 (pcg-random.org, the minimal C implementation: XSH RR output of a
 * 64-bit LCG), Lemire's nearly divisionless bounded integers ("Fast random
 * integer generation in an interval", 2019), Box–Muller normals and a
 * Fisher–Yates shuffle (Knuth, TAOCP vol. 2, Algorithm P). */
#include "rng.h"

#include "check.h"
#include "pcg.h"

#include <math.h>

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	r->state = 0;
	r->inc = (stream << 1) | 1u;
	r->has_spare = 0;
	r->spare = 0;
	rng_u32(r);
	r->state += seed;
	rng_u32(r);
}

uint32_t rng_u32(struct rng *r)
{
	uint64_t old = r->state;
	r->state = old * PCG_MULT + r->inc;
	return pcg_output(old);
}

void rng_skip(struct rng *r, uint64_t n)
{
	r->state = pcg_advance(r->state, r->inc, n);
}

uint32_t rng_below(struct rng *r, uint32_t bound)
{
	CHECK(bound > 0);
	uint64_t m = (uint64_t)rng_u32(r) * bound;
	uint32_t low = (uint32_t)m;
	if (low < bound) {
		uint32_t threshold = (uint32_t)(-bound) % bound;
		while (low < threshold) {
			m = (uint64_t)rng_u32(r) * bound;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

float rng_uniform(struct rng *r)
{
	/* The top 24 bits: every value k·2^-24 is exact in a float, so the
	 * result is never rounded up to 1. */
	return (float)(rng_u32(r) >> 8) * 0x1p-24f;
}

float rng_normal(struct rng *r)
{
	if (r->has_spare) {
		r->has_spare = 0;
		return (float)r->spare;
	}
	/* u1 in (0, 1] so that log(u1) is finite; 53-bit uniforms. */
	uint64_t a = ((uint64_t)rng_u32(r) << 21) ^ rng_u32(r);
	uint64_t b = ((uint64_t)rng_u32(r) << 21) ^ rng_u32(r);
	double u1 = (double)((a & ((1ULL << 53) - 1)) + 1) * 0x1p-53;
	double u2 = (double)(b & ((1ULL << 53) - 1)) * 0x1p-53;
	double radius = sqrt(-2.0 * log(u1));
	double theta = 2.0 * M_PI * u2;
	r->spare = radius * sin(theta);
	r->has_spare = 1;
	return (float)(radius * cos(theta));
}

void rng_shuffle(struct rng *r, size_t *idx, size_t n)
{
	CHECK(n <= UINT32_MAX);
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(r, (uint32_t)i);
		size_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}
