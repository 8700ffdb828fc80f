/* Tests for batchnorm2d.c: training and eval forward and the backward
 * against PyTorch (tests/fixtures/layers.msgpack, gen_layers.py), the
 * OpenMP version against the plain loops on a larger tensor with a large
 * mean, thread-count independence, in place, the += convention of
 * dgamma/dbeta, and finite differences of the backward in x, gamma and
 * beta. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "batchnorm2d.h"
#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "relu.h"

static float *alloc(size_t n)
{
	float *p = calloc(n, sizeof(float));
	assert_non_null(p);
	return p;
}

static void test_train_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "layers.msgpack");
	const struct batchnorm2d_shape s = { .N = 4, .C = 3, .H = 5, .W = 5,
		.eps = BATCHNORM2D_EPS, .momentum = BATCHNORM2D_MOMENTUM };
	const size_t n = 4 * 3 * 5 * 5, C = 3;
	const float *x = fixture_f32(&f, "bn_train.x", n);
	const float *gamma = fixture_f32(&f, "bn_train.gamma", C);
	const float *beta = fixture_f32(&f, "bn_train.beta", C);
	const float *dout = fixture_f32(&f, "bn_train.dout", n);
	float *out = alloc(n), *din = alloc(n), mean[3], invstd[3], rm[3], rv[3];
	float dgamma[3] = { 0 }, dbeta[3] = { 0 };
	memcpy(rm, fixture_f32(&f, "bn_train.running_mean0", C), sizeof(rm));
	memcpy(rv, fixture_f32(&f, "bn_train.running_var0", C), sizeof(rv));

	batchnorm2d_forward_train(out, mean, invstd, x, gamma, beta, rm, rv, &s);
	/* Float results of a few roundings in both implementations (PyTorch
	 * also sums in double): 1e-5 is ~100 ulps at the |y| <= ~4 here. */
	assert_close(out, fixture_f32(&f, "bn_train.out", n), n, 1e-5, 1e-5, "out");
	assert_close(mean, fixture_f32(&f, "bn_train.mean", C), C, 1e-6, 1e-6, "mean");
	assert_close(invstd, fixture_f32(&f, "bn_train.invstd", C), C, 1e-6, 1e-6, "invstd");
	assert_close(rm, fixture_f32(&f, "bn_train.running_mean", C), C, 1e-6, 1e-6,
		     "running_mean");
	assert_close(rv, fixture_f32(&f, "bn_train.running_var", C), C, 1e-6, 1e-6,
		     "running_var");

	batchnorm2d_backward(din, dgamma, dbeta, mean, invstd, dout, x, gamma, &s);
	/* dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)) cancels terms of ~|dy|·γ
	 * ·invstd <= ~6: a few ulps of those are <= 1e-5. */
	assert_close(din, fixture_f32(&f, "bn_train.dx", n), n, 1e-5, 1e-4, "dx");
	/* Sums of 100 products of size ~1, in double then rounded to float. */
	assert_close(dgamma, fixture_f32(&f, "bn_train.dgamma", C), C, 1e-5, 1e-5, "dgamma");
	assert_close(dbeta, fixture_f32(&f, "bn_train.dbeta", C), C, 1e-5, 1e-5, "dbeta");

	/* Parameter gradients accumulate (a second call adds the same values,
	 * so doubles them exactly); din may be the dout buffer. */
	float *dy = alloc(n), dgamma1[3], dbeta1[3];
	memcpy(dgamma1, dgamma, sizeof(dgamma));
	memcpy(dbeta1, dbeta, sizeof(dbeta));
	memcpy(dy, dout, n * sizeof(float));
	batchnorm2d_backward(dy, dgamma, dbeta, mean, invstd, dy, x, gamma, &s);
	assert_memory_equal(dy, din, n * sizeof(float));
	for (size_t c = 0; c < C; c++) {
		assert_true(dgamma[c] == 2 * dgamma1[c]);
		assert_true(dbeta[c] == 2 * dbeta1[c]);
	}
	free(out);
	free(din);
	free(dy);
	pcqfile_free(&f);
}

static void test_eval_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "layers.msgpack");
	const struct batchnorm2d_shape s = { .N = 4, .C = 3, .H = 5, .W = 5,
		.eps = BATCHNORM2D_EPS, .momentum = BATCHNORM2D_MOMENTUM };
	const size_t n = 4 * 3 * 5 * 5, C = 3;
	float *out = alloc(n);
	batchnorm2d_forward_eval(out, fixture_f32(&f, "bn_eval.x", n),
				 fixture_f32(&f, "bn_train.gamma", C),
				 fixture_f32(&f, "bn_train.beta", C),
				 fixture_f32(&f, "bn_train.running_mean0", C),
				 fixture_f32(&f, "bn_train.running_var0", C), &s);
	/* y = x·α + β' in float in both; |y| up to ~10. */
	assert_close(out, fixture_f32(&f, "bn_eval.out", n), n, 1e-5, 1e-5, "eval out");
	free(out);
	pcqfile_free(&f);
}

/* Per-channel parameters and two runs' statistics and gradients, for
 * tests that compare two ways of computing one batch norm: gamma ~ 1,
 * beta ~ 0, running mean 0 and variance 1, gradients zero. */
#define PAIR_MAX_C 32
struct bn_pair {
	float gamma[PAIR_MAX_C], beta[PAIR_MAX_C];
	float mean[2][PAIR_MAX_C], invstd[2][PAIR_MAX_C];
	float rmean[2][PAIR_MAX_C], rvar[2][PAIR_MAX_C];
	float dgamma[2][PAIR_MAX_C], dbeta[2][PAIR_MAX_C];
};

static void bn_pair_init(struct bn_pair *p, int C, int seed)
{
	assert_true(C <= PAIR_MAX_C);
	memset(p, 0, sizeof(*p));
	fill_normal(p->gamma, (size_t)C, 1, 0.3f, seed);
	fill_normal(p->beta, (size_t)C, 0, 0.3f, seed + 1);
	for (int c = 0; c < C; c++)
		p->rvar[0][c] = p->rvar[1][c] = 1;
}

/* ResNet20's first stage at batch 8, with mean 50 and std 2: the shifted
 * one-pass variance must still match the two-pass oracle. */
static void test_fast_matches_naive(void **state)
{
	(void)state;
	const struct batchnorm2d_shape s = { .N = 8, .C = 16, .H = 12, .W = 12,
		.eps = BATCHNORM2D_EPS, .momentum = BATCHNORM2D_MOMENTUM };
	const size_t n = 8 * 16 * 12 * 12, C = 16;
	float *x = alloc(n), *dout = alloc(n), *out1 = alloc(n), *out2 = alloc(n);
	float *din1 = alloc(n), *din2 = alloc(n);
	struct bn_pair p;
	bn_pair_init(&p, (int)C, 3);
	float *gamma = p.gamma, *beta = p.beta, *m1 = p.mean[0], *m2 = p.mean[1];
	float *is1 = p.invstd[0], *is2 = p.invstd[1], *rm1 = p.rmean[0], *rm2 = p.rmean[1];
	float *rv1 = p.rvar[0], *rv2 = p.rvar[1], *dg1 = p.dgamma[0], *dg2 = p.dgamma[1];
	float *db1 = p.dbeta[0], *db2 = p.dbeta[1];
	fill_normal(x, n, 50, 2, 1);
	fill_normal(dout, n, 0, 1, 2);

	batchnorm2d_forward_train(out1, m1, is1, x, gamma, beta, rm1, rv1, &s);
	batchnorm2d_forward_train_naive(out2, m2, is2, x, gamma, beta, rm2, rv2, &s);
	/* Both sum in double; only the final float roundings and the order of
	 * the sums differ. |y| <= ~6. */
	assert_close(m1, m2, C, 1e-5, 1e-6, "mean vs naive");
	assert_close(is1, is2, C, 0, 1e-5, "invstd vs naive");
	assert_close(rv1, rv2, C, 0, 1e-5, "running_var vs naive");
	assert_close(out1, out2, n, 1e-5, 1e-5, "out vs naive");

	batchnorm2d_backward(din1, dg1, db1, m1, is1, dout, x, gamma, &s);
	batchnorm2d_backward_naive(din2, dg2, db2, m2, is2, dout, x, gamma, &s);
	/* Same sums in double; float x − μ vs double (x − μ) at |x| ~ 50
	 * differs by up to 2e-6, times invstd·γ ~ 0.7. */
	assert_close(din1, din2, n, 1e-5, 1e-4, "dx vs naive");
	assert_close(dg1, dg2, C, 1e-4, 1e-5, "dgamma vs naive");
	assert_close(db1, db2, C, 1e-4, 1e-5, "dbeta vs naive");

	/* One thread or two: the same bits (one thread per channel). */
	omp_set_num_threads(1);
	batchnorm2d_forward_train(out2, m2, is2, x, gamma, beta, rm2, rv2, &s);
	memset(dg2, 0, C * sizeof(float));
	memset(db2, 0, C * sizeof(float));
	batchnorm2d_backward(din2, dg2, db2, m2, is2, dout, x, gamma, &s);
	omp_set_num_threads(2);
	assert_memory_equal(out1, out2, n * sizeof(float));
	assert_memory_equal(din1, din2, n * sizeof(float));
	assert_memory_equal(dg1, dg2, C * sizeof(float));

	/* In place. */
	memcpy(out2, x, n * sizeof(float));
	batchnorm2d_forward_train(out2, m2, is2, out2, gamma, beta, rm2, rv2, &s);
	assert_memory_equal(out1, out2, n * sizeof(float));
	free(x), free(dout), free(out1), free(out2), free(din1), free(din2);
}

struct bn_ctx {
	const struct batchnorm2d_shape *s;
	const float *x, *gamma, *beta;
};

static void bn_forward(void *ctx, float *out)
{
	const struct bn_ctx *b = ctx;
	float mean[4], invstd[4], rm[4] = { 0 }, rv[4] = { 1, 1, 1, 1 };
	batchnorm2d_forward_train(out, mean, invstd, b->x, b->gamma, b->beta, rm, rv, b->s);
}

static void test_gradcheck(void **state)
{
	(void)state;
	const struct batchnorm2d_shape s = { .N = 2, .C = 2, .H = 3, .W = 3,
		.eps = BATCHNORM2D_EPS, .momentum = BATCHNORM2D_MOMENTUM };
	enum { n = 2 * 2 * 3 * 3, C = 2 };
	float x[n], dout[n], out[n], din[n], gamma[C] = { 1.5f, -0.7f }, beta[C] = { 0.2f, -1 };
	float mean[C], invstd[C], rm[C] = { 0 }, rv[C] = { 1, 1 }, dgamma[C] = { 0 }, dbeta[C] = { 0 };
	fill_normal(x, n, 0.5f, 1.5f, 10);
	fill_normal(dout, n, 0, 1, 11);
	batchnorm2d_forward_train(out, mean, invstd, x, gamma, beta, rm, rv, &s);
	batchnorm2d_backward(din, dgamma, dbeta, mean, invstd, dout, x, gamma, &s);
	struct bn_ctx ctx = { .s = &s, .x = x, .gamma = gamma, .beta = beta };
	/* h = 1e-2: truncation O(h²·L''') ~1e-4 and float rounding of L
	 * (~1e-6)/2h ~ 1e-4, so 5e-4 absolute bounds both with margin. */
	gradcheck(bn_forward, &ctx, x, n, din, dout, n, NULL, 1e-2f, 5e-4, 1e-2, "bn dx");
	gradcheck(bn_forward, &ctx, gamma, C, dgamma, dout, n, NULL, 1e-2f, 5e-4, 1e-2, "bn dgamma");
	gradcheck(bn_forward, &ctx, beta, C, dbeta, dout, n, NULL, 1e-2f, 5e-4, 1e-2, "bn dbeta");
}

/* Batch norm with the ReLU after it fused (s.relu, batchnorm2d_relu_backward)
 * against batch norm then relu.h's ReLU, in both layouts: the same bits for
 * the output, the running statistics and every gradient. */
static void check_fused_relu(int blocked)
{
	struct batchnorm2d_shape s = { .N = 6, .C = 32, .H = 5, .W = 7,
		.eps = BATCHNORM2D_EPS, .momentum = BATCHNORM2D_MOMENTUM, .blocked = blocked };
	const size_t n = 6 * 32 * 5 * 7, C = 32;
	float *x = alloc(n), *dout = alloc(n), *want = alloc(n), *got = alloc(n);
	float *dy = alloc(n), *din1 = alloc(n), *din2 = alloc(n);
	struct bn_pair p;
	bn_pair_init(&p, (int)C, 23);
	fill_normal(x, n, 0.3f, 1, 21);
	fill_normal(dout, n, 0, 1, 22);

	batchnorm2d_forward_train(want, p.mean[0], p.invstd[0], x, p.gamma, p.beta, p.rmean[0],
				  p.rvar[0], &s);
	relu_forward(want, want, n);
	s.relu = 1;
	batchnorm2d_forward_train(got, p.mean[1], p.invstd[1], x, p.gamma, p.beta, p.rmean[1],
				  p.rvar[1], &s);
	assert_memory_equal(got, want, n * sizeof(float));
	assert_memory_equal(p.rvar[0], p.rvar[1], sizeof(p.rvar[0]));
	size_t zeros = 0;
	for (size_t i = 0; i < n; i++)
		zeros += got[i] == 0;
	assert_true(zeros > n / 4);   /* the mask matters */

	relu_backward(dy, dout, want, n);
	s.relu = 0;
	batchnorm2d_backward(din1, p.dgamma[0], p.dbeta[0], p.mean[0], p.invstd[0], dy, x,
			     p.gamma, &s);
	batchnorm2d_relu_backward(din2, p.dgamma[1], p.dbeta[1], p.mean[1], p.invstd[1], dout,
				  got, x, p.gamma, &s);
	assert_memory_equal(din1, din2, n * sizeof(float));
	assert_memory_equal(p.dgamma[0], p.dgamma[1], sizeof(p.dgamma[0]));
	assert_memory_equal(p.dbeta[0], p.dbeta[1], sizeof(p.dbeta[0]));

	batchnorm2d_forward_eval(want, x, p.gamma, p.beta, p.rmean[0], p.rvar[0], &s);
	relu_forward(want, want, n);
	s.relu = 1;
	batchnorm2d_forward_eval(got, x, p.gamma, p.beta, p.rmean[0], p.rvar[0], &s);
	assert_memory_equal(got, want, n * sizeof(float));
	free(x), free(dout), free(want), free(got), free(dy), free(din1), free(din2);
}

static void test_fused_relu_same_bits(void **state)
{
	(void)state;
	check_fused_relu(0);
	check_fused_relu(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_train_matches_torch),
		cmocka_unit_test(test_eval_matches_torch),
		cmocka_unit_test(test_fast_matches_naive),
		cmocka_unit_test(test_gradcheck),
		cmocka_unit_test(test_fused_relu_same_bits),
	};
	set_program_name("test_batchnorm2d");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
