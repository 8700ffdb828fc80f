/* Batch norm over every data-parallel rank's share of the batch (dist.h),
 * as PyTorch's SyncBatchNorm: the statistics are the whole batch's, so N
 * ranks train the model one process would. Each rank sums its own share
 * per channel, the sums are exchanged between the two steps of
 * batchnorm2d.c (and of cuda/layers.cu's kernels), and each rank finishes
 * as if it had summed everything itself. Collectives: every rank calls
 * them for the same layers in the same order. */
#ifndef PCQ_BN_SYNC_H
#define PCQ_BN_SYNC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Forward. sums[3c..3c+2] = (Σ(x − k), Σ(x − k)², k) over this rank's *M
 * values of channel c, k a value of the channel (a shift against
 * cancellation); they become the sums over every rank's values about the
 * same k, and *M the count of them all. */
void bn_sync_stats(double *sums, int C, size_t *M);

/* Backward. sums[2c..2c+1] = (Σ dy, Σ (x − μ)·dy) over this rank's *M
 * values, μ the whole batch's mean, dy for a loss that is the mean over
 * this rank's share of the batch (share = its images / the batch's): they
 * become the whole batch's sums in this rank's scale (the others' dy
 * weighted by their shares, all divided by this one's) and *M the count
 * of all values. */
void bn_sync_grads(double *sums, int C, double share, size_t *M);

/* bn_sync_stats's parts, for tests: what a rank contributes (v: 2C + 1
 * doubles: its count, then each channel's mean and Σ(x − mean)²), and the
 * merge of `ranks` such contributions, in rank order (all: ranks × (2C + 1)),
 * into this rank's sums; returns the total count. */
void bn_rank_stats(double *v, const double *sums, int C, size_t M);
size_t bn_merge_stats(double *sums, int C, const double *all, int ranks);

#ifdef __cplusplus
}
#endif

#endif
