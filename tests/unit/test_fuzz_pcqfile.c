/* The fuzz target's corpus (tests/fuzz/corpus/fuzz_pcqfile) replayed in
 * every build, so what `make fuzz` found stays fixed without clang:
 *   ok-*   the seeds (tests/fuzz/make_seeds.sh): valid files of each kind
 *          that fuzz_pcqfile_run must accept and run;
 *   bad-*  inputs that once crashed the readers: rejected with a message;
 *   other  must run without a sanitizer error, whatever their verdict
 *          (crash-*: inputs that once crashed a run of a valid file).
 * Then a small deterministic fuzz of each seed: every strict prefix is
 * rejected (a file is one msgpack map), and every single byte replaced by
 * its complement (the fine-tuned seeds left out) runs without a sanitizer
 * error (`make fuzz` goes much
 * further; this is what every CI run affords). Every integer model those
 * runs make (most, as models go through fusing and quantization) also runs
 * on the host device, whose per-element kernels are qkernels.h's
 * definition, and (for the quantized seeds) on a GPU when there is one
 * (the emulator's in `make test-emu`): the output integers must equal the
 * CPU engine's. Every step that refuses its input must say why in exactly
 * one line (error_count, check.h). Reader messages are silenced there (PCQ_FUZZ_VERBOSE=1 shows
 * them); a sanitizer report still fails the test through its exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz_pcqfile.h"
#include "threads.h"

#define CORPUS "tests/fuzz/corpus/fuzz_pcqfile"

static struct corpus_input *inputs;
static size_t n_inputs;

static int load_corpus(void **state)
{
	(void)state;
	threads_set(1);   /* tiny models: threads would only add overhead */
	return corpus_load(CORPUS, &inputs, &n_inputs);
}

static int free_corpus(void **state)
{
	(void)state;
	corpus_free(inputs, n_inputs);
	return 0;
}

static void test_corpus(void **state)
{
	(void)state;
	size_t seeds = 0;
	fuzz_device = devops_host();
	for (size_t i = 0; i < n_inputs; i++) {
		const struct corpus_input *in = &inputs[i];
		int rc = fuzz_pcqfile_run(in->data, in->size);
		if (rc > 0)
			fail_msg("%s: %s", in->name, fuzz_failure(rc));
		if (corpus_is(in, "ok-") && rc != 0)
			fail_msg("%s: the seed was rejected", in->name);
		if (corpus_is(in, "bad-") && rc != -1)
			fail_msg("%s: was accepted", in->name);
		seeds += corpus_is(in, "ok-");
	}
	/* One seed of each kind the tools write, at least. */
	assert_true(seeds >= 7);
}

static void test_truncations(void **state)
{
	(void)state;
	corpus_quiet(1);
	size_t failures = 0, first = 0, first_cut = 0, runs = 0;
	for (size_t i = 0; i < n_inputs; i++) {
		const struct corpus_input *in = &inputs[i];
		if (!corpus_is(in, "ok-"))
			continue;
		/* -1: refused, with one message */
		for (size_t cut = 0; cut < in->size; cut++, runs++)
			if (fuzz_pcqfile_run(in->data, cut) != -1 && !failures++) {
				first = i;
				first_cut = cut;
			}
	}
	corpus_quiet(0);
	if (failures)
		fail_msg("%zu truncated seeds accepted or refused without one message, first %s "
			 "cut to %zu bytes", failures,
			 inputs[first].name, first_cut);
	assert_true(runs > 10000);
}

/* Each seed named prefix* with each byte complemented in turn, the
 * integer engine compared with `device`'s. */
static void byte_changes(const struct devops *device, const char *prefix)
{
	size_t runs = 0, accepted = 0, failures = 0, first = 0, first_at = 0;
	int first_rc = 0;
	fuzz_device = device;
	corpus_quiet(1);
	for (size_t i = 0; i < n_inputs; i++) {
		const struct corpus_input *in = &inputs[i];
		/* The fine-tuned seeds are the fused ones calibrated, whose
		 * variants quantize too; their velocity tensors only add length. */
		if (!corpus_is(in, prefix) || corpus_is(in, "ok-tuned-"))
			continue;
		uint8_t *b = malloc(in->size);
		memcpy(b, in->data, in->size);
		for (size_t at = 0; at < in->size; at++) {
			b[at] = (uint8_t)~b[at];
			int rc = fuzz_pcqfile_run(b, in->size);
			accepted += rc == 0;
			if (rc > 0 && !failures++) {
				first = i;
				first_at = at;
				first_rc = rc;
			}
			runs++;
			b[at] = (uint8_t)~b[at];
		}
		free(b);
	}
	corpus_quiet(0);
	printf("byte changes on %s: %zu runs, %zu accepted (tensor data and the like)\n",
	       device->name, runs, accepted);
	if (failures)
		fail_msg("%zu runs failed (device %s), first %s with byte %zu complemented: %s",
			 failures, device->name, inputs[first].name, first_at,
			 fuzz_failure(first_rc));
	/* Some changes are harmless (a weight's low byte), most are not. */
	assert_true(accepted > 0 && accepted < runs);
}

static void test_byte_changes(void **state)
{
	(void)state;
	byte_changes(devops_host(), "ok-");
}

static void test_byte_changes_cuda(void **state)
{
	(void)state;
	const struct devops *gpu = devops_cuda();
	if (!gpu) {
		print_message("no GPU: skipped\n");
		skip();
	}
	/* The quantized seeds only: the GPU's part is the integer engine, and
	 * the emulator under ASan is slow. */
	byte_changes(gpu, "ok-quantized-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_byte_changes),
		cmocka_unit_test(test_byte_changes_cuda),
	};
	return cmocka_run_group_tests(tests, load_corpus, free_corpus);
}
