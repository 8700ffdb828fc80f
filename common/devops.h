/* What a device must provide to run a model's FP32 training and inference
 * (model_device.c) and integer inference (qdevice.c): memory and the layer
 * kernels, on its own pointers, with the definitions of the CPU functions
 * named beside each. Two implementations: CUDA's (devops_cuda.c over
 * cuda/, issue 8) and the host's (devops_host.c: the CPU functions on host
 * memory), with which the device runners are tested on any machine. Every call returns 0, or
 * -1 after an error message. Tensors are in the plain (N, C, H, W) layout. */
#ifndef PCQ_DEVOPS_H
#define PCQ_DEVOPS_H

#include "conv2d.h"
#include "qkernels.h"

#include <stddef.h>
#include <stdint.h>

struct devops {
	const char *name;   /* "cuda", "host" */
	int (*alloc)(void **p, size_t bytes);          /* zeroed */
	void (*free)(void *p);
	int (*upload)(void *dst, const void *host, size_t bytes);
	int (*download)(void *host, const void *src, size_t bytes);
	int (*copy)(void *dst, const void *src, size_t bytes);
	int (*zero)(void *p, size_t bytes);
	/* waits until every operation issued so far is done (--profile) */
	int (*sync)(void);
	/* Host memory the device copies from fastest (page-locked on a GPU:
	 * a copy from ordinary memory is staged through a driver buffer):
	 * the batches' buffers. */
	int (*host_alloc)(void **p, size_t bytes);
	void (*host_free)(void *p);

	/* relu.h, add.h (forward), sgd.h */
	int (*relu_forward)(float *out, const float *in, size_t n);
	int (*relu_backward)(float *din, const float *dout, const float *x, size_t n);
	int (*add_forward)(float *out, const float *a, const float *b, size_t n);
	int (*add_backward)(float *da, float *db, const float *dout, size_t n);  /* both = dout */
	int (*sgd_step)(float *w, float *v, const float *g, float lr, float momentum,
			float weight_decay, size_t n);
	/* dropout.h's dropout_mask for p < 1 drawn on the device: mask[i] =
	 * (draw i of the rng at (state, inc)) >= threshold, each from pcg.h's
	 * jump; the caller then skips its rng by n (rng_skip). */
	int (*dropout_mask)(uint8_t *mask, uint64_t state, uint64_t inc, uint64_t threshold,
			    size_t n);
	/* dropout.h: out = in·(mask·scale), forward and backward alike */
	int (*dropout_apply)(float *out, const uint8_t *mask, const float *in, float scale,
			     size_t n);
	/* fakequant.h with the ranges in device memory: range_of writes
	 * (min, max) of x[0..n), n > 0, to lohi[0..1]; range_update is
	 * range_update(range, batches, lohi[0], lohi[1], smooth);
	 * fq_forward quantizes with qparams_from_range(range[0], range[1],
	 * bits) (bits with FQ_SYMMETRIC: the symmetric grid), or copies with every mask byte 1 when range is NULL or
	 * *batches is 0 (batches NULL: always quantizes); mask may be NULL. */
	int (*range_of)(float *lohi, const float *x, size_t n);
	int (*range_update)(float *range, float *batches, const float *lohi, float smooth);
	int (*fq_forward)(float *out, uint8_t *mask, const float *x, size_t n, const float *range,
			  const float *batches, int bits);
	int (*fq_backward)(float *dx, const float *dout, const uint8_t *mask, size_t n);
	/* batchnorm2d.h over (N, C, HW); share: batchnorm2d_shape's (0, or
	 * the statistics span every data-parallel rank's share: bn_sync.h) */
	int (*bn_train)(float *out, float *mean, float *invstd, const float *in,
			const float *gamma, const float *beta, float *running_mean,
			float *running_var, int N, int C, int HW, float eps, float momentum,
			double share);
	int (*bn_eval)(float *out, const float *in, const float *gamma, const float *beta,
		       const float *running_mean, const float *running_var, int N, int C, int HW,
		       float eps);
	int (*bn_backward)(float *din, float *dgamma, float *dbeta, const float *mean,
			   const float *invstd, const float *dout, const float *in,
			   const float *gamma, int N, int C, int HW, double share);
	/* maxpool2d.h, avgpool2d.h (windowed and global), over planes = N·C maps */
	int (*maxpool_forward)(float *out, int32_t *argmax, const float *in, int planes, int H,
			       int W, int kernel, int stride, int pad);
	int (*maxpool_backward)(float *din, const int32_t *argmax, const float *dout, int planes,
				int H, int W, int kernel, int stride, int pad);
	int (*avgpool_forward)(float *out, const float *in, int planes, int H, int W, int kernel,
			       int stride, int pad);
	int (*avgpool_backward)(float *din, const float *dout, int planes, int H, int W,
				int kernel, int stride, int pad);
	int (*gap_forward)(float *out, const float *in, int planes, int HW);
	int (*gap_backward)(float *din, const float *dout, int planes, int HW);
	/* conv2d.h (din NULL: skipped; b, db NULL: no bias) and linear.h */
	size_t (*conv_workspace_floats)(const struct conv2d_shape *s);
	int (*conv_forward)(float *out, float *workspace, const float *in, const float *w,
			    const float *b, const struct conv2d_shape *s);
	int (*conv_backward)(float *din, float *dw, float *db, float *workspace,
			     const float *dout, const float *in, const float *w,
			     const struct conv2d_shape *s);
	int (*linear_forward)(float *out, const float *in, const float *w, const float *b, int N,
			      int in_features, int out_features);
	int (*linear_backward)(float *din, float *dw, float *db, const float *dout,
			       const float *in, const float *w, int N, int in_features,
			       int out_features);

	/* softmax_xent.h on device memory: dlogits (N, classes), *loss the
	 * batch mean and *n_correct the top-1 count on the host; rows is
	 * device scratch of 2·N doubles, host_rows the host memory (from
	 * host_alloc) they come down to. */
	int (*softmax_xent)(float *dlogits, double *loss, int *n_correct, double *rows,
			    double *host_rows, const float *logits, const int32_t *labels, int N,
			    int classes);

	/* The integer engine (qdevice.c): out[e] = qk_at(n, a, b, cl, e) for
	 * e < count (qkernels.h). */
	int (*qnode_run)(const struct qk_node *n, uint8_t *out, const uint8_t *a, const uint8_t *b,
			 const int32_t *cl, size_t count);
};

const struct devops *devops_host(void);
/* NULL when CUDA was not compiled in or no GPU is usable. */
const struct devops *devops_cuda(void);

#endif
