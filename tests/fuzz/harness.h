/* What the fuzz targets (tests/fuzz/fuzz_*.c) and the tests that replay
 * their corpora in every build (tests/unit/test_fuzz_*.c) share: the
 * verdicts a target's run function returns, and reading a corpus. */
#ifndef PCQ_FUZZ_HARNESS_H
#define PCQ_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* A run's verdict: 0, the bytes were accepted and what the tools do with
 * them ran; -1, refused with one message; above 0, a failure:
 * FUZZ_MISMATCH: the integer engine on the device gave other outputs
 *   than the CPU's;
 * FUZZ_MESSAGES: a step refused its input with no message or more than
 *   one line, or printed an error and went on (STYLE: one line each);
 * FUZZ_ROUND_TRIP: an accepted file, written back, did not read back and
 *   write the same bytes again;
 * FUZZ_INVALID: a reader accepted its input but what it returned breaks
 *   its header's promises (a data set's shape or labels, an image's). */
#define FUZZ_MISMATCH 1
#define FUZZ_MESSAGES 2
#define FUZZ_ROUND_TRIP 3
#define FUZZ_INVALID 4
/* What a verdict above 0 means, in words. */
const char *fuzz_failure(int rc);

/* The one-line rule (STYLE): fuzz_step() before a step, fuzz_said(rc)
 * after it: whether the error lines printed since (error_count, check.h)
 * agree with its verdict rc, one line for a refusal and none otherwise. */
void fuzz_step(void);
int fuzz_said(int rc);

/* A corpus: the files of one folder, by name. */
struct corpus_input {
	char name[256];
	uint8_t *data;
	size_t size;
};

/* Reads every file of dir not starting with '.' into *inputs, sorted by
 * name; -1 with a message on stderr when it cannot. */
int corpus_load(const char *dir, struct corpus_input **inputs, size_t *n);
void corpus_free(struct corpus_input *inputs, size_t n);
/* 1 when the input's name starts with prefix ("ok-", "bad-"). */
int corpus_is(const struct corpus_input *in, const char *prefix);
/* stderr to /dev/null (on = 1) and back (on = 0): the readers' messages
 * during a sweep; PCQ_FUZZ_VERBOSE=1 leaves them on. */
void corpus_quiet(int on);

#endif
