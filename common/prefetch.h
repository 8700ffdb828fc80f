/* Work done one step ahead on a second thread: while a device trains on
 * batch b, the host prepares batch b + 1 (decoding, crops, flips,
 * normalisation), so the GPU does not wait for it (issue 8). The caller
 * owns the buffers and alternates between two; the worker only runs the
 * callback. Results are those of doing the work in order, as long as the
 * callback touches nothing but its own slot (batch_fill draws from a
 * generator per image). */
#ifndef PCQ_PREFETCH_H
#define PCQ_PREFETCH_H

#include <pthread.h>
#include <stddef.h>

typedef void prefetch_fn(void *ctx, int slot, size_t job);

struct prefetch {
	prefetch_fn *fn;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int slot;
	size_t job;
	int threaded;  /* 0: no worker; prefetch_next does each job itself */
	int pending;   /* a request the worker has not finished */
	int stop;
};

/* threaded 0 makes prefetch_next do the work in the caller's thread. */
void prefetch_init(struct prefetch *p, prefetch_fn *fn, void *ctx, int threaded);
/* Job b of `count` jobs taken in order b = 0, 1, ...: returns the slot
 * that holds it, done. Threaded, job b + 1 is already started in the other
 * slot when it returns; otherwise job b ran here, in slot 0. */
int prefetch_next(struct prefetch *p, size_t b, size_t count);
/* The worker starts fn(ctx, slot, job); at most one request at a time. */
void prefetch_request(struct prefetch *p, int slot, size_t job);
/* Waits until the last request is done (at once when there is none). */
void prefetch_wait(struct prefetch *p);
/* Waits, then stops the worker. */
void prefetch_free(struct prefetch *p);

#endif
