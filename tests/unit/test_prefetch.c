/* prefetch.c: every request runs once, on the slot and job asked, and is
 * complete when prefetch_wait returns; the worker's writes are visible to
 * the caller after the wait; freeing with nothing pending or one request
 * in flight works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "prefetch.h"

#include <string.h>
#include <time.h>

enum { JOBS = 2000 };

struct log {
	int slot_of[JOBS];
	int runs[JOBS];
	long buffer[2][64];   /* each job fills its slot's buffer with its number */
};

static void work(void *ctx, int slot, size_t job)
{
	struct log *l = ctx;
	if (job % 100 == 0) {   /* now and then slower than the caller */
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	l->slot_of[job] = slot;
	l->runs[job]++;
	for (int i = 0; i < 64; i++)
		l->buffer[slot][i] = (long)job * 64 + i;
}

/* The trainer's pattern: wait for job b, ask for b + 1 in the other slot,
 * then read job b's buffer while the worker fills the other one. */
static void test_double_buffering(void **state)
{
	(void)state;
	static struct log l;
	memset(&l, 0, sizeof(l));
	struct prefetch p;
	prefetch_init(&p, work, &l, 1);
	prefetch_request(&p, 0, 0);
	for (size_t b = 0; b < JOBS; b++) {
		const int slot = (int)(b & 1);
		prefetch_wait(&p);
		if (b + 1 < JOBS)
			prefetch_request(&p, slot ^ 1, b + 1);
		for (int i = 0; i < 64; i++)
			assert_int_equal(l.buffer[slot][i], (long)b * 64 + i);
	}
	prefetch_free(&p);
	for (int j = 0; j < JOBS; j++) {
		assert_int_equal(l.runs[j], 1);
		assert_int_equal(l.slot_of[j], j & 1);
	}
}

static void test_shutdown(void **state)
{
	(void)state;
	static struct log l;
	memset(&l, 0, sizeof(l));
	struct prefetch p;
	prefetch_init(&p, work, &l, 1);
	prefetch_wait(&p);   /* nothing pending: returns at once */
	prefetch_free(&p);
	prefetch_init(&p, work, &l, 1);
	prefetch_request(&p, 1, 500);   /* a slow one, still running at free */
	prefetch_free(&p);
	assert_int_equal(l.runs[500], 1);
	assert_int_equal(l.buffer[1][63], 500L * 64 + 63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double_buffering),
		cmocka_unit_test(test_shutdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
