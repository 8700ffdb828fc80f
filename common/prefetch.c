/* A one-request worker thread; see prefetch.h. */
#include "prefetch.h"

#include "check.h"

static void *worker(void *arg)
{
	struct prefetch *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->pending && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->pending)
			break;
		int slot = p->slot;
		size_t job = p->job;
		pthread_mutex_unlock(&p->mu);
		p->fn(p->ctx, slot, job);
		pthread_mutex_lock(&p->mu);
		p->pending = 0;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void prefetch_init(struct prefetch *p, prefetch_fn *fn, void *ctx, int threaded)
{
	*p = (struct prefetch){.fn = fn, .ctx = ctx, .threaded = threaded};
	if (pthread_mutex_init(&p->mu, NULL) || pthread_cond_init(&p->cv, NULL) ||
	    (threaded && pthread_create(&p->thread, NULL, worker, p)))
		die("cannot start the batch preparation thread");
}

int prefetch_next(struct prefetch *p, size_t b, size_t count)
{
	if (!p->threaded) {
		p->fn(p->ctx, 0, b);
		return 0;
	}
	const int slot = (int)(b & 1);
	if (b == 0)
		prefetch_request(p, 0, 0);
	prefetch_wait(p);
	if (b + 1 < count)
		prefetch_request(p, slot ^ 1, b + 1);
	return slot;
}

void prefetch_request(struct prefetch *p, int slot, size_t job)
{
	CHECK(p->threaded);
	pthread_mutex_lock(&p->mu);
	CHECK(!p->pending);
	p->slot = slot;
	p->job = job;
	p->pending = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void prefetch_wait(struct prefetch *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->pending)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void prefetch_free(struct prefetch *p)
{
	prefetch_wait(p);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->threaded)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}
