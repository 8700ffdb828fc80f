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

void prefetch_init(struct prefetch *p, prefetch_fn *fn, void *ctx)
{
	*p = (struct prefetch){.fn = fn, .ctx = ctx};
	if (pthread_mutex_init(&p->mu, NULL) || pthread_cond_init(&p->cv, NULL) ||
	    pthread_create(&p->thread, NULL, worker, p))
		die("cannot start the batch preparation thread");
}

void prefetch_request(struct prefetch *p, int slot, size_t job)
{
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
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}
