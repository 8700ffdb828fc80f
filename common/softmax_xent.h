/* Softmax cross-entropy averaged over the batch, as torch.nn.CrossEntropyLoss
 * with reduction 'mean' and no weights or smoothing (pytorch.org/docs/stable/
 * generated/torch.nn.CrossEntropyLoss.html):
 *   loss = (1/N) Σ_n [log Σ_k exp(z_nk) − z_n,y_n],
 *   dlogits = (softmax(z) − onehot(y))/N,
 * with the row maximum subtracted before exp. Rows are handled in order on
 * one thread (N·classes is small), so the loss is deterministic.
 * Gradients: dlogits is overwritten (=). */
#ifndef PCQ_SOFTMAX_XENT_H
#define PCQ_SOFTMAX_XENT_H

#include <stdint.h>

struct softmax_xent_shape {
	int N;          /* batch */
	int classes;
};

/* Returns the mean loss. dlogits may be NULL (loss only); n_correct may be
 * NULL, else receives how many rows have their label as the first
 * maximum logit (top-1, ties to the lowest class as torch.argmax).
 * Labels must be in [0, classes) (checked). */
double softmax_xent(float *dlogits,          // (N, classes) = or NULL
		    int *n_correct,          // or NULL
		    const float *logits,     // (N, classes)
		    const int32_t *labels,   // (N)
		    const struct softmax_xent_shape *s);

#endif
