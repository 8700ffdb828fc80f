/* FP32 layer kernels on the GPU (issue 8): each computes what the CPU
 * function named in its comment computes, on device pointers in the plain
 * (N, C, H, W) layout, so tests/cuda/test_layers.c can compare the two on
 * the same inputs. Element-wise kernels and SGD round every operation as
 * the CPU code does (no FMA contraction): bit-identical. Reductions (batch
 * norm, pools, softmax) accumulate in double in a fixed order, another
 * order than the CPU's: equal to float rounding, and the same bits from
 * run to run. Nothing here allocates; every call returns 0, or -1 after
 * printing the CUDA error. Calls are ordered on the default stream.
 *
 * Status: compiled in every CUDA build; not yet run on a GPU (no session
 * so far had one), only on the CUDA emulator (tests/cuda_emu, make
 * test-emu); the tools reach them through devops_cuda.c. */
#ifndef PCQ_CUDA_LAYERS_H
#define PCQ_CUDA_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* device memory (cuda/device.cu) */
int cuda_alloc(void **d_p, size_t bytes);
void cuda_free(void *d_p);
int cuda_upload(void *d_dst, const void *src, size_t bytes);
int cuda_download(void *dst, const void *d_src, size_t bytes);
int cuda_copy(void *d_dst, const void *d_src, size_t bytes);
int cuda_zero(void *d_p, size_t bytes);
/* page-locked host memory: copies to and from it need no staging */
int cuda_host_alloc(void **p, size_t bytes);
void cuda_host_free(void *p);
/* waits for every kernel and copy issued so far */
int cuda_sync(void);

/* gemm.h's gemm() on device memory (cuBLAS, FP32: no TF32) */
int cuda_sgemm_rm(int trans_a, int trans_b, int m, int n, int k, float alpha,
		  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* conv2d.h's conv2d_forward/backward in chunks of images (conv_batched.h);
 * workspace: cuda_conv2d_workspace_floats of device memory. din NULL:
 * skipped; b, db NULL: no bias. */
size_t cuda_conv2d_workspace_floats(int N, int C, int H, int W, int K, int kh, int kw,
				    int stride, int pad);
int cuda_conv2d_forward(float *out, float *workspace, const float *in, const float *w,
			const float *b, int N, int C, int H, int W, int K, int kh, int kw,
			int stride, int pad);
int cuda_conv2d_backward(float *din, float *dw, float *db, float *workspace, const float *dout,
			 const float *in, const float *w, int N, int C, int H, int W, int K,
			 int kh, int kw, int stride, int pad);
/* linear.h */
int cuda_linear_forward(float *out, const float *in, const float *w, const float *b, int N,
			int in_features, int out_features);
int cuda_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
			 const float *w, int N, int in_features, int out_features);

/* relu.h */
int cuda_relu_forward(float *out, const float *in, size_t n);
int cuda_relu_backward(float *din, const float *dout, const float *x, size_t n);
/* add.h (da and db may not be dout) */
int cuda_add_forward(float *out, const float *a, const float *b, size_t n);
int cuda_add_backward(float *da, float *db, const float *dout, size_t n);
/* devops.h's dropout_mask: mask[i] = draw i of the rng at (state, inc) >= threshold */
int cuda_dropout_mask(uint8_t *mask, uint64_t state, uint64_t inc, uint64_t threshold, size_t n);
/* dropout.h: out = in·(mask·scale), its forward and backward */
int cuda_dropout_apply(float *out, const uint8_t *mask, const float *in, float scale, size_t n);
/* sgd.h: v untouched when momentum is 0 */
int cuda_sgd_step(float *w, float *v, const float *g, float lr, float momentum,
		  float weight_decay, size_t n);

/* batchnorm2d.h (plain layout), shape (N, C, HW); share as batchnorm2d_shape's
 * (bn_sync.h: the sums cross the host to be exchanged between ranks) */
int cuda_batchnorm2d_forward_train(float *out, float *mean, float *invstd, const float *in,
				   const float *gamma, const float *beta, float *running_mean,
				   float *running_var, int N, int C, int HW, float eps,
				   float momentum, double share);
int cuda_batchnorm2d_forward_eval(float *out, const float *in, const float *gamma,
				  const float *beta, const float *running_mean,
				  const float *running_var, int N, int C, int HW, float eps);
int cuda_batchnorm2d_backward(float *din, float *dgamma, float *dbeta, const float *mean,
			      const float *invstd, const float *dout, const float *in,
			      const float *gamma, int N, int C, int HW, double share);

/* maxpool2d.h over `planes` = N·C maps of H×W */
int cuda_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int planes, int H,
			   int W, int kernel, int stride, int pad);
int cuda_maxpool2d_backward(float *din, const int32_t *argmax, const float *dout, int planes,
			    int H, int W, int kernel, int stride, int pad);
/* avgpool2d.h's windowed pool over `planes` maps of H×W, and its global pool */
int cuda_avgpool2d_forward(float *out, const float *in, int planes, int H, int W, int kernel,
			   int stride, int pad);
int cuda_avgpool2d_backward(float *din, const float *dout, int planes, int H, int W,
			    int kernel, int stride, int pad);
int cuda_global_avgpool_forward(float *out, const float *in, int planes, int HW);
int cuda_global_avgpool_backward(float *din, const float *dout, int planes, int HW);

/* fakequant.h, the ranges in device memory. range_of: (min, max) of
 * x[0..n) into lohi[0..1]; range_update: range_update(range, batches,
 * lohi[0], lohi[1], smooth). fakequant_forward: with
 * qparams_from_range(range[0], range[1], bits), or a copy with every mask
 * byte 1 when range is NULL or *batches is 0 (batches NULL: always
 * quantize); mask may be NULL. */
int cuda_range_of(float *lohi, const float *x, size_t n);
int cuda_range_update(float *range, float *batches, const float *lohi, float smooth);
int cuda_fakequant_forward(float *out, uint8_t *mask, const float *x, size_t n,
			   const float *range, const float *batches, int bits);
int cuda_fakequant_backward(float *dx, const float *dout, const uint8_t *mask, size_t n);

/* The integer engine (qdevice.c, cuda/qengine.cu): out[e] = qk_at(n, a, b,
 * cl, e) for e < count, one thread per byte; n by value. */
struct qk_node;
int cuda_qnode_run(const struct qk_node *n, uint8_t *out, const uint8_t *a, const uint8_t *b,
		   const int32_t *cl, size_t count);

/* softmax_xent.h: *loss the batch mean, *n_correct top-1 (either may be
 * NULL); dlogits may be NULL. labels on the device; rows a device scratch
 * of 2·N doubles (each image's loss and hit), host_rows host memory of as
 * many (page-locked for a direct copy) that they come down to. */
int cuda_softmax_xent(float *dlogits, double *loss, int *n_correct, double *rows,
		      double *host_rows, const float *logits, const int32_t *labels, int N,
		      int classes);

#ifdef __cplusplus
}
#endif

#endif
