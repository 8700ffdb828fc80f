/* Tests for sgd.c: three steps with momentum 0.9 and weight decay 1e-4
 * against torch.optim.SGD, the momentum-free path, and sizes past the
 * OpenMP threshold against a plain loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "sgd.h"

enum { N = 20 };

static void test_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "layers.msgpack");
	const struct sgd_params p = { .lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-4f };
	float w[N], v[N] = { 0 };
	memcpy(w, fixture_f32(&f, "sgd.w0", N), sizeof(w));
	for (int step = 1; step <= 3; step++) {
		char g[24], want[24];
		snprintf(g, sizeof(g), "sgd.g%d", step);
		snprintf(want, sizeof(want), "sgd.w%d", step);
		sgd_step(w, v, fixture_f32(&f, g, N), &p, N);
		/* Same float operations as PyTorch, which may fuse g + wd·w
		 * into one FMA: an ulp or two of |w| ~ 2 per step. */
		assert_close(w, fixture_f32(&f, want, N), N, 1e-6, 1e-6, want);
	}
	pcqfile_free(&f);
}

static void test_no_momentum(void **state)
{
	(void)state;
	const struct sgd_params p = { .lr = 0.5f, .weight_decay = 0.1f };
	float w[2] = { 1, -2 };
	const float g[2] = { 0.5f, 1 };
	sgd_step(w, NULL, g, &p, 2);
	assert_true(w[0] == 1 - 0.5f * (0.5f + 0.1f * 1));
	assert_true(w[1] == -2 - 0.5f * (1 + 0.1f * -2));
}

static void test_large(void **state)
{
	(void)state;
	const size_t n = 100003;
	const struct sgd_params p = { .lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f };
	float *w = malloc(n * sizeof(float)), *v = calloc(n, sizeof(float));
	float *w2 = malloc(n * sizeof(float)), *v2 = calloc(n, sizeof(float));
	float *g = malloc(n * sizeof(float));
	assert_true(w && v && w2 && v2 && g);
	fill_normal(w, n, 0, 1, 1);
	memcpy(w2, w, n * sizeof(float));
	for (int step = 0; step < 2; step++) {
		fill_normal(g, n, 0, 1, 2 + step);
		sgd_step(w, v, g, &p, n);
		for (size_t i = 0; i < n; i++) {
			float d = g[i] + p.weight_decay * w2[i];
			v2[i] = p.momentum * v2[i] + d;
			w2[i] -= p.lr * v2[i];
		}
	}
	/* The same operations in the same order: bit for bit. */
	assert_memory_equal(w, w2, n * sizeof(float));
	assert_memory_equal(v, v2, n * sizeof(float));
	free(w), free(v), free(w2), free(v2), free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_no_momentum),
		cmocka_unit_test(test_large),
	};
	set_program_name("test_sgd");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
