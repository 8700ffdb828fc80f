/* The model's part in data-parallel training (model.h, dist.h), in one
 * process: a batch run as two shares, each with the images of the other
 * share counted in shard_before/shard_after and its gradients weighted by
 * model_sum_grads, gives the logits of the whole batch row by row
 * (dropout draws each image's mask from the same place in the stream) and,
 * added up, the whole batch's gradients. On the CPU and through the
 * device runner (the host's devops). AlexNetSmall, which has dropout, as
 * a fused model run in float (fake quantization off: a quantized forward
 * may round a value the other way when the GEMM's blocking changes with
 * the batch size, which is not what this checks; its batch norms are
 * folded, so nothing else depends on the batch). The collectives
 * themselves run under mpirun in tests/e2e/test_ranks.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "devops.h"
#include "fixture.h"
#include "gradcheck.h"
#include "fuse.h"
#include "model.h"
#include "pcqfile.h"

enum { N = 6, CLASSES = 10, SAMPLE = 3 * 32 * 32 };

static double peak_of(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

static void check_shares(const struct devops *ops)
{
	struct pcqfile pre = {.kind = KIND_MODEL}, f;
	struct rng init;
	rng_seed(&init, 5, 0);
	assert_int_equal(arch_build(&pre, "alexnet-small", (struct act_shape){3, 32, 32}, CLASSES,
				    &init), 0);
	struct fuse_options o = {.bits = 8, .clusters = 1, .smooth = 0.9};
	assert_int_equal(fuse_model(&f, &pre, "pre", &o), 0);
	pcqfile_free(&pre);
	struct model whole, part;
	assert_int_equal(model_init(&whole, &f, "whole", N, 1), 0);
	assert_int_equal(model_init(&part, &f, "part", N, 1), 0);
	if (ops)
		assert_int_equal(model_use_device(&part, &f, "part", ops), 0);
	whole.float_only = part.float_only = 1;

	float *x = malloc((size_t)N * SAMPLE * sizeof(float));
	fill_normal(x, (size_t)N * SAMPLE, 0, 1, 21);
	int32_t labels[N] = {4, 0, 9, 9, 2, 7};
	struct rng drop;
	rng_seed(&drop, 8, 1);
	float logits[N * CLASSES];
	memcpy(logits, model_forward(&whole, x, N, 1, &drop), sizeof(logits));
	const uint64_t end_state = drop.state;
	int correct = 0;
	const double loss = model_loss(&whole, labels, N, &correct);
	model_zero_grads(&whole);
	model_backward(&whole, x, NULL, N);

	float *sum = calloc(part.n_params, sizeof(float));
	double loss_sum = 0;
	const int first[2] = {0, 2}, count[2] = {2, 4};
	for (int s = 0; s < 2; s++) {
		rng_seed(&drop, 8, 1);   /* every rank starts the batch from one state */
		part.shard_before = first[s];
		part.shard_after = N - first[s] - count[s];
		const float *l = model_forward(&part, x + (size_t)first[s] * SAMPLE, count[s], 1,
					       &drop);
		assert_true(drop.state == end_state);   /* and ends it where the others do */
		assert_close(l, logits + first[s] * CLASSES, (size_t)count[s] * CLASSES,
			     1e-5 * peak_of(logits, N * CLASSES), 1e-5, "a share's logits");
		loss_sum += model_loss(&part, labels + first[s], count[s], NULL) * count[s];
		model_zero_grads(&part);
		model_backward(&part, x + (size_t)first[s] * SAMPLE, NULL, count[s]);
		model_sum_grads(&part, count[s], N);   /* one rank: the weighting alone */
		model_sync_host(&part);
		for (size_t i = 0; i < part.n_params; i++)
			sum[i] += part.grads[i];
	}
	assert_true(fabs(loss_sum / N - loss) <= 1e-6 * fabs(loss));
	assert_close(sum, whole.grads, whole.n_params, 1e-5 * peak_of(whole.grads, whole.n_params),
		     1e-4, "the shares' weighted gradients against the batch's");

	/* a wrong share of the stream is seen: the second share's masks drawn
	 * as if it came first */
	rng_seed(&drop, 8, 1);
	part.shard_before = 0;
	part.shard_after = N - count[1];
	const float *l = model_forward(&part, x + (size_t)first[1] * SAMPLE, count[1], 1, &drop);
	double off = 0;
	for (int i = 0; i < count[1] * CLASSES; i++)
		off = fmax(off, fabs(l[i] - logits[first[1] * CLASSES + i]));
	assert_true(off > 1e-3 * peak_of(logits, N * CLASSES));

	free(sum);
	free(x);
	model_free(&whole);
	model_free(&part);
	pcqfile_free(&f);
}

static void test_cpu(void **state)
{
	(void)state;
	check_shares(NULL);
}

static void test_device_runner(void **state)
{
	(void)state;
	check_shares(devops_host());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_device_runner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
