/* The data set fuzz target's corpus (tests/fuzz/corpus/fuzz_dataset)
 * replayed in every build, as test_fuzz_pcqfile does for PCQ files:
 *   ok-*   the seeds (tests/fuzz/dataset_seeds.c): tiny valid images, IDX
 *          files, CIFAR-10 records and image folders, all accepted;
 *   bad-*  inputs that once crashed a reader: refused with a message;
 *   other  run without a sanitizer error, whatever their verdict.
 * Then every strict prefix of each seed is refused with one line but
 * those that are valid inputs themselves (whole CIFAR-10 records, a PNG
 * but its end), and each seed with each byte
 * complemented in turn runs to a verdict: accepted with a valid data set,
 * or refused with exactly one line. Reader messages are silenced
 * (PCQ_FUZZ_VERBOSE=1 shows them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz_dataset.h"
#include "threads.h"

#define CORPUS "tests/fuzz/corpus/fuzz_dataset"

static struct corpus_input *inputs;
static size_t n_inputs;

static int load_corpus(void **state)
{
	(void)state;
	threads_set(1);
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
	int readers[5] = { 0 };
	for (size_t i = 0; i < n_inputs; i++) {
		const struct corpus_input *in = &inputs[i];
		corpus_quiet(1);
		int rc = fuzz_dataset_run(in->data, in->size);
		corpus_quiet(0);
		if (rc > 0)
			fail_msg("%s: %s", in->name, fuzz_failure(rc));
		if (corpus_is(in, "ok-")) {
			if (rc != 0)
				fail_msg("%s: the seed was refused", in->name);
			seeds++;
			readers[in->data[0] % 5] = 1;
		}
		if (corpus_is(in, "bad-") && rc != -1)
			fail_msg("%s: was accepted", in->name);
	}
	/* Every reader has a seed. */
	assert_true(seeds >= 5);
	for (int r = 0; r < 5; r++)
		assert_true(readers[r]);
}

/* A PNG needs nothing after its image data (libpng does not, nor does
 * PIL, torchvision's reader): the IEND chunk's 12 bytes may go. */
#define PNG_END 12
#define CIFAR10_RECORD 3073

/* Whether the first cut bytes of the seed in are a valid input too. */
static int prefix_is_valid(const struct corpus_input *in, size_t cut)
{
	size_t na = (size_t)in->data[1] | (size_t)in->data[2] << 8;
	switch (in->data[0] % 5) {
	case 1: /* a PNG */
		return cut + PNG_END >= in->size;
	case 3: /* CIFAR-10: whole records, at least one */
		return cut > 3 + na && (cut - 3 - na) % CIFAR10_RECORD == 0;
	case 4: /* a folder: a's PNG, whole or but its end, and no b */
		return cut <= 3 + na && cut + PNG_END >= 3 + na;
	}
	return 0;
}

static void test_truncations(void **state)
{
	(void)state;
	size_t failures = 0, first = 0, first_cut = 0, runs = 0;
	int first_rc = 0;
	corpus_quiet(1);
	for (size_t i = 0; i < n_inputs; i++) {
		const struct corpus_input *in = &inputs[i];
		if (!corpus_is(in, "ok-"))
			continue;
		for (size_t cut = 0; cut < in->size; cut++, runs++) {
			int rc = fuzz_dataset_run(in->data, cut);
			if (rc != -1 && !(rc == 0 && prefix_is_valid(in, cut)) && !failures++) {
				first = i;
				first_cut = cut;
				first_rc = rc;
			}
		}
	}
	corpus_quiet(0);
	if (failures)
		fail_msg("%zu truncated seeds not refused with one message, first %s cut to %zu "
			 "bytes: %s", failures, inputs[first].name, first_cut,
			 first_rc ? fuzz_failure(first_rc) : "accepted");
	assert_true(runs > 10000);
}

static void test_byte_changes(void **state)
{
	(void)state;
	size_t runs = 0, accepted = 0, failures = 0, first = 0, first_at = 0;
	int first_rc = 0;
	corpus_quiet(1);
	for (size_t i = 0; i < n_inputs; i++) {
		const struct corpus_input *in = &inputs[i];
		if (!corpus_is(in, "ok-"))
			continue;
		uint8_t *b = malloc(in->size);
		memcpy(b, in->data, in->size);
		/* from byte 1: byte 0 picks the reader */
		for (size_t at = 1; at < in->size; at++, runs++) {
			b[at] = (uint8_t)~b[at];
			int rc = fuzz_dataset_run(b, in->size);
			accepted += rc == 0;
			if (rc > 0 && !failures++) {
				first = i;
				first_at = at;
				first_rc = rc;
			}
			b[at] = (uint8_t)~b[at];
		}
		free(b);
	}
	corpus_quiet(0);
	printf("byte changes: %zu runs, %zu accepted (pixels, labels in range, ...)\n", runs,
	       accepted);
	if (failures)
		fail_msg("%zu runs failed, first %s with byte %zu complemented: %s", failures,
			 inputs[first].name, first_at, fuzz_failure(first_rc));
	/* Pixel bytes change freely, headers do not. */
	assert_true(accepted > 0 && accepted < runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_byte_changes),
	};
	return cmocka_run_group_tests(tests, load_corpus, free_corpus);
}
