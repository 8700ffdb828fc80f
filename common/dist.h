/* Data-parallel training over MPI ranks (SPEC §10, multi-GPU training;
 * docs/TRAINING.md "Several GPUs or machines"): `mpirun -np N pcq-train`
 * runs N copies, one per GPU (or CPU), that split every batch and add
 * their gradients before each SGD step, so they hold the same model. A
 * program started without mpirun is rank 0 of 1 and never touches MPI.
 *
 * Every collective below gives the same bits on every rank (the model
 * copies must not drift apart): large sums are reduced block by block,
 * each block by one rank, then shared; small ones are gathered and added
 * in rank order by every rank. All ranks must call them in the same order. */
#ifndef PCQ_DIST_H
#define PCQ_DIST_H

#include <stddef.h>

/* Starts MPI when this process was launched by mpirun (OpenMPI's or a
 * PMI launcher's environment); otherwise there is one rank. */
void dist_init(int *argc, char ***argv);
/* Ends MPI (after the last collective); no-op with one rank. */
void dist_finish(void);
/* After an error on any rank: stops every rank with exit status code. */
void dist_abort(int code);

int dist_rank(void);
int dist_size(void);
/* This rank's index among the ranks on its machine (which GPU it takes),
 * and how many ranks run on its machine. */
int dist_local_rank(void);
int dist_local_size(void);

/* x[0..n) becomes the sum of every rank's x[0..n). */
void dist_sum_floats(float *x, size_t n);
/* The same for a few values, added in rank order. */
void dist_sum_doubles(double *x, size_t n);
/* all[r·n .. r·n + n) becomes rank r's mine[0..n), for every rank r. */
void dist_gather_doubles(double *all, const double *mine, size_t n);
/* lo[i] becomes the least of every rank's lo[i], hi[i] the greatest. */
void dist_min_max(float *lo, float *hi, size_t n);

/* Rank `rank`'s share [*first, *first + *count) of n items split over
 * `size` ranks, as evenly as possible, in rank order. */
static inline void dist_share(size_t n, int rank, int size, size_t *first, size_t *count)
{
	*first = n * (size_t)rank / (size_t)size;
	*count = n * (size_t)(rank + 1) / (size_t)size - *first;
}

#endif
