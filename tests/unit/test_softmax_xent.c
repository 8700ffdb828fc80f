/* Tests for softmax_xent.c: loss and dlogits against PyTorch's
 * cross_entropy (logits offset by +20, so only a stable softmax gets
 * them right in float), top-1 counts with ties, huge logits, the NULL
 * options, and finite differences of the loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "softmax_xent.h"

enum { N = 6, K = 10 };

static const int32_t *fixture_i32(const struct pcqfile *f, const char *name, size_t numel)
{
	const struct tensor *t = pcqfile_tensor(f, name);
	if (!t || t->dtype != DTYPE_I32 || t->nbytes != numel * sizeof(int32_t))
		fail_msg("fixture tensor '%s': missing or not i32 of %zu", name, numel);
	return t->data;
}

static void test_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "layers.msgpack");
	const struct softmax_xent_shape s = { .N = N, .classes = K };
	const float *logits = fixture_f32(&f, "xent.logits", N * K);
	const int32_t *labels = fixture_i32(&f, "xent.labels", N);
	float dlogits[N * K];
	int correct = -1;
	double loss = softmax_xent(dlogits, &correct, logits, labels, &s);
	/* PyTorch's loss is a float from float log_softmax; ours is double. */
	float lossf = (float)loss;
	assert_close(&lossf, fixture_f32(&f, "xent.loss", 1), 1, 1e-5, 1e-5, "loss");
	/* Probabilities/N in [0, 1/6]: a few float ulps. */
	assert_close(dlogits, fixture_f32(&f, "xent.dlogits", N * K), N * K, 1e-7, 1e-5,
		     "dlogits");
	int want = 0;
	for (int n = 0; n < N; n++) {
		int best = 0;
		for (int k = 1; k < K; k++)
			if (logits[n * K + k] > logits[n * K + best])
				best = k;
		want += best == labels[n];
	}
	assert_int_equal(correct, want);
	/* Loss only. */
	assert_true(softmax_xent(NULL, NULL, logits, labels, &s) == loss);
	pcqfile_free(&f);
}

static void test_edges(void **state)
{
	(void)state;
	const struct softmax_xent_shape s = { .N = 2, .classes = 3 };
	/* Row 0 ties classes 1 and 2: top-1 is class 1. Row 1 has logits
	 * whose exp overflows without the max subtraction. */
	const float logits[6] = { 0, 5, 5, 1000, -1000, 999 };
	const int32_t labels[2] = { 2, 0 };
	float d[6];
	int correct;
	double loss = softmax_xent(d, &correct, logits, labels, &s);
	assert_int_equal(correct, 1);
	double l0 = log(2 + exp(-5.0)), l1 = log(1 + exp(-1.0));
	assert_true(fabs(loss - (l0 + l1) / 2) < 1e-12);
	for (int i = 0; i < 6; i++)
		assert_true(isfinite(d[i]));
	/* Each row of softmax − onehot sums to 0. */
	assert_true(fabsf(d[0] + d[1] + d[2]) < 1e-7f);
	assert_true(fabsf(d[3] + d[4] + d[5]) < 1e-7f);
}

struct xent_ctx {
	const float *logits;
	const int32_t *labels;
};

/* The "forward" is the loss itself; with dout = 1 the check is of dL/dz. */
static void xent_fwd(void *ctx, float *out)
{
	const struct xent_ctx *c = ctx;
	out[0] = (float)softmax_xent(NULL, NULL, c->logits, c->labels,
				     &(struct softmax_xent_shape){ .N = 3, .classes = 4 });
}

static void test_gradcheck(void **state)
{
	(void)state;
	float z[12], dz[12], one = 1;
	const int32_t labels[3] = { 0, 3, 1 };
	fill_normal(z, 12, 0, 2, 14);
	softmax_xent(dz, NULL, z, labels, &(struct softmax_xent_shape){ .N = 3, .classes = 4 });
	struct xent_ctx ctx = { z, labels };
	/* The loss goes through float (~1e-7 of |L| ~ 2)/2h plus truncation
	 * O(h²) with h = 1e-2: both < 1e-4. */
	gradcheck(xent_fwd, &ctx, z, 12, dz, &one, 1, NULL, 1e-2f, 2e-4, 1e-3, "xent dz");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_gradcheck),
	};
	set_program_name("test_softmax_xent");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
