/* Integer inference as pcq-infer runs it: the float side around the
 * integer engine (qmodel.h). Each image is normalised and assigned to its
 * cluster in float, then quantized with its cluster's input (S, Z):
 * q = clamp(round(x/S) + Z, 0, 2^b − 1), the same expression as the fused
 * model's input fake quantization; from there the engine runs on
 * integers. The output integers are kept per image; the class scores
 * handed to evaluation are S·(q − Z) of the last layer, which orders the
 * classes exactly as the integers do. */
#ifndef PCQ_QINFER_H
#define PCQ_QINFER_H

#include "cluster_groups.h"
#include "qdevice.h"
#include "qmodel.h"

#include <stddef.h>
#include <stdint.h>

struct qinfer {
	struct qmodel q;
	const float *in_scale;     /* (K) aliases into the file */
	const float *out_scale;    /* (K) of the last layer */
	uint8_t *xq;               /* (batch, H, W, C); on a device, dev->input */
	uint8_t *outputs;          /* (n_images, classes) output integers */
	uint8_t *inputs;           /* (n_images, C, H, W) quantized inputs, or NULL */
	double engine_seconds;     /* input quantization and the engine */
	struct qdevice *dev;       /* the engine on a device (qdevice.h), or NULL */
};

/* f must stay alive while qi is used. keep_inputs: also keep every image's
 * quantized input (for an independent check of the engine). device: where
 * the engine runs (devops.h), NULL for the CPU's. */
int qinfer_init(struct qinfer *qi, const struct pcqfile *f, const char *file, int batch,
		size_t n_images, int keep_inputs, const struct devops *device);
void qinfer_free(struct qinfer *qi);

/* An eval_forward_fn (evaluate.h); ctx is the struct qinfer. */
void qinfer_forward(void *ctx, const float *x, const size_t *idx, int n,
		    const struct kmeans_group *groups, size_t n_groups, float *scores);

/* x (n, C, H, W) → out (n, H, W, C), image i with cluster cl[i]. */
void quantize_input(uint8_t *out, const float *x, int n, int c, int h, int w,
		    const float *scale, const int32_t *zero, int qmax, const int *cl);

#endif
