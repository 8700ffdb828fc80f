/* The training loop of pcq-train (SPEC §5): shuffled, augmented batches;
 * forward, softmax cross-entropy, backward, SGD with momentum and weight
 * decay; a step learning-rate schedule; test accuracy after each epoch;
 * the last checkpoint written every epoch and the best one beside it.
 * A checkpoint is the model file plus its training state (attrs
 * epochs_done, best_top1 and tensors "velocity.<tensor>"), so --resume
 * continues exactly where it stopped. The same loop fine-tunes a fused
 * model (fake quantization happens inside its layers); with a k-means
 * model every batch is assigned to clusters and regrouped first. */
#ifndef PCQ_TRAINER_H
#define PCQ_TRAINER_H

#include "dataset.h"
#include "kmeans.h"
#include "normalize.h"
#include "pcqfile.h"

#include <stdint.h>

struct train_options {
	int epochs;           /* total, counting epochs done before a resume */
	int batch;
	double lr, momentum, wd;
	int lr_step;          /* lr × lr_gamma every lr_step epochs */
	double lr_gamma;
	uint64_t seed;
	int augment;
	const char *out;      /* last checkpoint ("-": only the end, to stdout) */
	const char *best;     /* best checkpoint, or NULL */
	const char *log;      /* JSON lines, appended, or NULL */
	int profile;          /* print per-layer times to stderr at the end */
	const struct devops *device;  /* where to train (devops.h); NULL: the CPU */
	const struct kmeans *km;  /* fused models with K > 1: each batch is
				   * regrouped by cluster (SPEC §7), or NULL */
};

/* Trains the model in f and writes its checkpoints. The model holds the
 * values while it trains: on return f's tensors (and their velocities)
 * have no data (NULL); the files written have them. */
int train_run(struct pcqfile *f, const char *model_name, const struct dataset *train,
	      const struct dataset *test, const struct norm *norm,
	      const struct train_options *o);

/* "model.msgpack" -> "model.best.msgpack"; "-" -> NULL. Caller frees. */
char *best_checkpoint_path(const char *out);

#endif
