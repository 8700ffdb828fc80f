/* Progress of a long job on stderr: on a terminal one line rewritten in
 * place (epoch, batch, loss, accuracy, images/s, ETA); otherwise plain log
 * lines, one every tenth of an epoch and one per epoch. */
#ifndef PCQ_PROGRESS_H
#define PCQ_PROGRESS_H

#include <stddef.h>

struct progress {
	int tty;
	double last;          /* when the line was last drawn */
	int last_decile;
	int dirty;            /* a live line is on the screen */
};

void progress_init(struct progress *p);
double progress_now(void);  /* seconds, monotonic */
void progress_batch(struct progress *p, int epoch, int epochs, size_t batch,
		    size_t batches, double loss, double top1, size_t images,
		    double seconds);
void progress_epoch(struct progress *p, int epoch, int epochs, double loss,
		    double train_top1, double test_top1, double test_top5,
		    double lr, double seconds, double images_per_second);
void progress_done(struct progress *p);

#endif
