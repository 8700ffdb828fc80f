/* Batch norm statistics across ranks; see bn_sync.h. The merge is Chan,
 * Golub and LeVeque's pairwise update (each share's mean and sum of
 * squared deviations, combined with the squared distances of the means),
 * in double, in rank order, so every rank gets the same mean and variance. */
#include "bn_sync.h"

#include "check.h"
#include "dist.h"

#include <stdlib.h>

void bn_rank_stats(double *v, const double *sums, int C, size_t M)
{
	CHECK(M > 0);
	v[0] = (double)M;
	for (int c = 0; c < C; c++) {
		const double s1 = sums[3 * c], s2 = sums[3 * c + 1], k = sums[3 * c + 2];
		const double m2 = s2 - s1 * s1 / (double)M;
		v[1 + 2 * c] = k + s1 / (double)M;
		v[2 + 2 * c] = m2 > 0 ? m2 : 0;
	}
}

size_t bn_merge_stats(double *sums, int C, const double *all, int ranks)
{
	const size_t n = 2 * (size_t)C + 1;
	double M = 0;
	for (int r = 0; r < ranks; r++)
		M += all[r * n];
	for (int c = 0; c < C; c++) {
		double mean = 0, m2 = 0;
		for (int r = 0; r < ranks; r++)
			mean += all[r * n] * all[r * n + 1 + 2 * c];
		mean /= M;
		for (int r = 0; r < ranks; r++) {
			const double d = all[r * n + 1 + 2 * c] - mean;
			m2 += all[r * n + 2 + 2 * c] + all[r * n] * d * d;
		}
		const double dk = mean - sums[3 * c + 2];
		sums[3 * c] = M * dk;
		sums[3 * c + 1] = m2 + M * dk * dk;
	}
	return (size_t)M;
}

void bn_sync_stats(double *sums, int C, size_t *M)
{
	const int ranks = dist_size();
	if (ranks == 1)
		return;
	const size_t n = 2 * (size_t)C + 1;
	double *all = xmalloc((size_t)ranks * n * sizeof(double)), *mine = xmalloc(n * sizeof(double));
	bn_rank_stats(mine, sums, C, *M);
	dist_gather_doubles(all, mine, n);
	*M = bn_merge_stats(sums, C, all, ranks);
	free(mine);
	free(all);
}

void bn_sync_grads(double *sums, int C, double share, size_t *M)
{
	if (dist_size() == 1)
		return;
	CHECK(share > 0 && share <= 1);
	const size_t n = 2 * (size_t)C;
	double *v = xmalloc((n + 1) * sizeof(double));
	for (size_t i = 0; i < n; i++)
		v[i] = sums[i] * share;
	v[n] = (double)*M;
	dist_sum_doubles(v, n + 1);
	for (size_t i = 0; i < n; i++)
		sums[i] = v[i] / share;
	*M = (size_t)v[n];
	free(v);
}
