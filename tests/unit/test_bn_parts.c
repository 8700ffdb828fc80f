/* bn_parts.h, the GPU batch norm's formulation: per-channel sums in parts,
 * a per-channel finish, an element-wise apply — run on the CPU through the
 * same maps and finishing functions as cuda/layers.cu's kernels — give
 * batchnorm2d.c's training forward (output, saved statistics, running
 * statistics) and backward (input and parameter gradients): one part, a
 * few uneven ones, and the 64-part cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "batchnorm2d.h"
#include "bn_parts.h"
#include "fixture.h"
#include "gradcheck.h"

/* The kernels' steps, the parts' sums each in one sequential loop. */
static void train(float *out, float *mean, float *invstd, const float *in, const float *gamma,
		  const float *beta, float *rm, float *rv, int N, int C, int HW)
{
	const size_t M = (size_t)N * HW;
	const int parts = bn_parts(M);
	double *partial = calloc((size_t)2 * C * parts, sizeof(double));
	float *coef = malloc((size_t)2 * C * sizeof(float));
	for (int c = 0; c < C; c++)
		for (int p = 0; p < parts; p++) {
			size_t j0, j1;
			bn_part_range(M, parts, p, &j0, &j1);
			const double k = in[bn_at(0, c, C, HW)];
			for (size_t j = j0; j < j1; j++) {
				double d = (double)in[bn_at(j, c, C, HW)] - k;
				partial[bn_partial_at(c, p, parts)] += d;
				partial[bn_partial_at(c, p, parts) + 1] += d * d;
			}
		}
	for (int c = 0; c < C; c++) {
		double s1, s2;
		bn_total(partial, c, parts, &s1, &s2);
		bn_train_finish(s1, s2, in[bn_at(0, c, C, HW)], M, gamma[c], beta[c],
				BATCHNORM2D_EPS, BATCHNORM2D_MOMENTUM, &mean[c], &invstd[c], &rm[c],
				&rv[c], &coef[2 * c], &coef[2 * c + 1]);
	}
	for (size_t e = 0; e < M * C; e++) {
		const int c = (int)(e / HW % C);
		out[e] = in[e] * coef[2 * c] + coef[2 * c + 1];
	}
	free(partial);
	free(coef);
}

static void backward(float *din, float *dgamma, float *dbeta, const float *mean,
		     const float *invstd, const float *dout, const float *in, const float *gamma,
		     int N, int C, int HW)
{
	const size_t M = (size_t)N * HW;
	const int parts = bn_parts(M);
	double *partial = calloc((size_t)2 * C * parts, sizeof(double));
	float *coef = malloc((size_t)3 * C * sizeof(float));
	for (int c = 0; c < C; c++)
		for (int p = 0; p < parts; p++) {
			size_t j0, j1;
			bn_part_range(M, parts, p, &j0, &j1);
			for (size_t j = j0; j < j1; j++) {
				const size_t e = bn_at(j, c, C, HW);
				partial[bn_partial_at(c, p, parts)] += dout[e];
				partial[bn_partial_at(c, p, parts) + 1] +=
					(double)(in[e] - mean[c]) * dout[e];
			}
		}
	for (int c = 0; c < C; c++) {
		double sum_dy, dotp;
		bn_total(partial, c, parts, &sum_dy, &dotp);
		bn_backward_finish(sum_dy, dotp, M, invstd[c], gamma[c], &dgamma[c], &dbeta[c],
				   &coef[3 * c], &coef[3 * c + 1], &coef[3 * c + 2]);
	}
	for (size_t e = 0; e < M * C; e++) {
		const int c = (int)(e / HW % C);
		din[e] = ((dout[e] - coef[3 * c + 1]) - (in[e] - mean[c]) * coef[3 * c]) *
			 coef[3 * c + 2];
	}
	free(partial);
	free(coef);
}

static void check(int N, int C, int HW, int want_parts)
{
	const size_t n = (size_t)N * C * HW;
	assert_int_equal(bn_parts((size_t)N * HW), want_parts);
	float *x = malloc(n * 4), *g = malloc(n * 4), *out[2], *din[2];
	fill_normal(x, n, 3, 2, 1);   /* off zero: the shift matters */
	fill_normal(g, n, 0, 1, 2);
	float *gamma = malloc(C * 4), *beta = malloc(C * 4), *st[2][8];
	fill_normal(gamma, C, 1, 0.5f, 3);
	fill_normal(beta, C, 0, 0.5f, 4);
	for (int s = 0; s < 2; s++) {
		out[s] = malloc(n * 4);
		din[s] = malloc(n * 4);
		for (int t = 0; t < 8; t++)   /* mean invstd rm rv dgamma dbeta */
			st[s][t] = calloc(C, 4);
		for (int c = 0; c < C; c++)
			st[s][3][c] = 1, st[s][4][c] = 0.25f;   /* running var 1; dgamma 0.25 */
	}
	struct batchnorm2d_shape sh = {.N = N, .C = C, .H = HW, .W = 1, .eps = BATCHNORM2D_EPS,
				       .momentum = BATCHNORM2D_MOMENTUM};
	batchnorm2d_forward_train(out[0], st[0][0], st[0][1], x, gamma, beta, st[0][2], st[0][3],
				  &sh);
	batchnorm2d_backward(din[0], st[0][4], st[0][5], st[0][0], st[0][1], g, x, gamma, &sh);
	train(out[1], st[1][0], st[1][1], x, gamma, beta, st[1][2], st[1][3], N, C, HW);
	backward(din[1], st[1][4], st[1][5], st[1][0], st[1][1], g, x, gamma, N, C, HW);
	assert_close(out[1], out[0], n, 1e-5, 1e-5, "output");
	const char *names[] = {"mean", "invstd", "running mean", "running var", "dgamma", "dbeta"};
	for (int t = 0; t < 6; t++)
		assert_close(st[1][t], st[0][t], C, 1e-5, 1e-5, names[t]);
	assert_close(din[1], din[0], n, 1e-5, 1e-4, "input gradient");
	for (int s = 0; s < 2; s++) {
		free(out[s]);
		free(din[s]);
		for (int t = 0; t < 8; t++)
			free(st[s][t]);
	}
	free(x), free(g), free(gamma), free(beta);
}

static void test_matches_batchnorm2d(void **state)
{
	(void)state;
	check(3, 5, 63, 1);          /* M = 189 */
	check(5, 3, 1000, 2);        /* M = 5000: parts of 2500 */
	check(7, 2, 4099, 8);        /* M = 28693: seven of 3587, one shorter */
	check(300, 2, 1024, 64);     /* M = 307200: the cap */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_batchnorm2d),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
