/* A small seeded random generator with caller-owned state (STYLE.md 9):
 * PCG32 (O'Neill 2014, "PCG: a family of simple fast space-efficient
 * statistically good algorithms", pcg32_random_r / pcg32_srandom_r).
 * Uniform floats, normals by Box–Muller, bounded integers by Lemire's
 * method, and a Fisher–Yates shuffle. No global state; nothing is seeded
 * from time: the same seed gives the same sequence on every machine. */
#ifndef PCQ_RNG_H
#define PCQ_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t state;
	uint64_t inc;        /* stream selector, always odd */
	int has_spare;       /* Box–Muller makes normals in pairs */
	double spare;
};

/* Seeds r; different `stream`s give independent sequences for one seed
 * (e.g. one per data loader and one for the weights). */
void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);

uint32_t rng_u32(struct rng *r);
/* As n calls of rng_u32, without their values (pcg.h's jump). */
void rng_skip(struct rng *r, uint64_t n);
/* Uniform in [0, bound), unbiased; bound > 0. */
uint32_t rng_below(struct rng *r, uint32_t bound);
/* Uniform in [0, 1), 24 random bits. */
float rng_uniform(struct rng *r);
/* Standard normal N(0, 1) by Box–Muller (double inside, float out). */
float rng_normal(struct rng *r);

/* Fisher–Yates: a uniformly random permutation of idx[0..n) in place;
 * n < 2^32. */
void rng_shuffle(struct rng *r, size_t *idx, size_t n);

#endif
