/* The integer engine on a device (issue 8): a planned quantized model
 * (qmodel.h) whose weights, parameters and activations live in a device's
 * memory, run node by node through the device's qnode_run (devops.h), one
 * output byte per element as qkernels.h defines it. Quantized images go up
 * (a byte per value), output integers come down; the bytes are qmodel_run's.
 * Both cross from and to page-locked host memory when the caller quantizes
 * its images into d->input.
 * The CPU engine's own kernels and layouts are not used. */
#ifndef PCQ_QDEVICE_H
#define PCQ_QDEVICE_H

#include "cluster_groups.h"
#include "devops.h"
#include "qkernels.h"
#include "qmodel.h"

struct qdevice {
	const struct devops *ops;
	const struct qmodel *q;
	struct qk_node *nodes;     /* (n_nodes) with device pointers */
	uint8_t **out;             /* (n_nodes) device outputs; out[0] is the input */
	int32_t *cl;               /* device: each image's cluster */
	void **owned;              /* device allocations */
	int n_owned, cap_owned;
	/* Host, page-locked (devops.h host_alloc), what crosses per batch: */
	uint8_t *input;            /* (batch, H, W, C) quantized images, for callers */
	int32_t *host_cl;          /* (batch) each image's cluster */
	uint8_t *result;           /* (batch, classes) */
};

/* q must outlive d; -1 after an error message. */
int qdevice_init(struct qdevice *d, const struct qmodel *q, const struct devops *ops);
void qdevice_free(struct qdevice *d);
/* qmodel_run's contract, on the device. */
const uint8_t *qdevice_run(struct qdevice *d, const uint8_t *x, int n,
			   const struct kmeans_group *groups, size_t n_groups);

#endif
