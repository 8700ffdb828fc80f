/* bn_sync.c's merge of the ranks' batch norm statistics (the exchange
 * itself runs under mpirun in tests/e2e/test_ranks.sh): three shares of
 * 5, 9 and 2 values per channel, each summed about its own first value,
 * merged in rank order into each rank's sums, give the mean and variance
 * of all 16 values (two-pass, in double) about that rank's shift, and
 * every rank the same mean and variance; the channels have means far
 * from zero (cancellation) and one is constant (variance 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "bn_sync.h"

enum { C = 3, RANKS = 3 };
static const int counts[RANKS] = {5, 9, 2};

static double value(int c, int j)
{
	if (c == 2)
		return -7.25;                       /* constant */
	return (c ? 1000.0 : 0.5) + sin(1.7 * j + c) * (c ? 0.01 : 3.0);
}

static void test_merge(void **state)
{
	(void)state;
	double sums[RANKS][3 * C], all[RANKS * (2 * C + 1)];
	int first = 0;
	for (int r = 0; r < RANKS; r++) {
		for (int c = 0; c < C; c++) {
			const double k = value(c, first);
			double s1 = 0, s2 = 0;
			for (int j = first; j < first + counts[r]; j++) {
				s1 += value(c, j) - k;
				s2 += (value(c, j) - k) * (value(c, j) - k);
			}
			sums[r][3 * c] = s1, sums[r][3 * c + 1] = s2, sums[r][3 * c + 2] = k;
		}
		bn_rank_stats(all + r * (2 * C + 1), sums[r], C, (size_t)counts[r]);
		first += counts[r];
	}
	const int M = first;
	for (int c = 0; c < C; c++) {
		double mean = 0, var = 0;
		for (int j = 0; j < M; j++)
			mean += value(c, j);
		mean /= M;
		for (int j = 0; j < M; j++)
			var += (value(c, j) - mean) * (value(c, j) - mean);
		var /= M;
		for (int r = 0; r < RANKS; r++) {
			double mine[3 * C];
			for (int i = 0; i < 3 * C; i++)
				mine[i] = sums[r][i];
			assert_int_equal(bn_merge_stats(mine, C, all, RANKS), M);
			/* as batchnorm2d.c finishes: about the rank's own shift */
			const double dm = mine[3 * c] / M, k = mine[3 * c + 2];
			const double got_var = mine[3 * c + 1] / M - dm * dm;
			assert_true(fabs(k + dm - mean) <= 1e-12 * fmax(1, fabs(mean)));
			assert_true(fabs(got_var - var) <= 1e-9 * fmax(var, 1e-12) + 1e-15);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
