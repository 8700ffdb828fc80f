/* Progress lines on stderr; see progress.h. */
#include "progress.h"

#include "check.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

void progress_init(struct progress *p)
{
	*p = (struct progress){.tty = isatty(2), .last = -1, .last_decile = -1};
}

double progress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void hms(char *buf, size_t len, double s)
{
	long t = (long)(s + 0.5);
	snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

void progress_batch(struct progress *p, int epoch, int epochs, size_t batch,
		    size_t batches, double loss, double top1, size_t images,
		    double seconds)
{
	double now = progress_now();
	int decile = (int)(10 * batch / batches);
	if (p->tty ? (now - p->last < 0.2 && batch != batches) : decile == p->last_decile)
		return;
	p->last = now;
	p->last_decile = decile;
	double ips = seconds > 0 ? images / seconds : 0;
	/* ETA of this run: the rest of this epoch plus the epochs after it. */
	double per_batch = seconds / (double)batch;
	char eta[32];
	hms(eta, sizeof(eta), per_batch * ((double)(batches - batch) +
					   (double)batches * (epochs - epoch)));
	fprintf(stderr, "%sepoch %d/%d batch %zu/%zu loss %.4f acc %.2f%% %.0f img/s ETA %s%s",
		p->tty ? "\r" : "", epoch, epochs, batch, batches, loss, top1, ips, eta,
		p->tty ? "\033[K" : "\n");
	p->dirty = p->tty;
}

void progress_epoch(struct progress *p, int epoch, int epochs, double loss,
		    double train_top1, double test_top1, double test_top5,
		    double lr, double seconds, double images_per_second)
{
	progress_done(p);
	fprintf(stderr, "epoch %d/%d: loss %.4f, train %.2f%%, test top-1 %.2f%% top-5 %.2f%%, "
		"lr %g, %.1f s, %.0f img/s\n", epoch, epochs, loss, train_top1, test_top1,
		test_top5, lr, seconds, images_per_second);
	p->last_decile = -1;
}

void progress_done(struct progress *p)
{
	if (p->dirty)
		fputc('\n', stderr);
	p->dirty = 0;
}
