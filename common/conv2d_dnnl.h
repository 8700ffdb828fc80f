/* 2-D convolution for training and FP32 inference on oneDNN's f32
 * convolution primitives (direct JIT kernels, or Winograd F(4x4, 3x3) for
 * 3x3 stride-1 layers of 32 channels and more), with activations in the
 * blocked layout of layout.h. Same definition and gradient convention as
 * conv2d.h (out and din overwritten, dw and db accumulated); the weights
 * stay (K, C, KH, KW) in the caller's memory and are reordered per call.
 *
 * Why: oneDNN's kernels skip the multiply-adds that fall in the zero
 * padding, keep 16 channels in a vector register, and Winograd does 3x3
 * layers with a quarter of the multiplications; on ResNet20 and
 * AlexNetSmall this is 1.5-2.5x the im2col + sgemm path (BENCHMARKS.md).
 * Winograd rounds differently from a direct sum (relative differences
 * about 1e-6 on these layers, docs/TRAINING.md).
 *
 * PCQ_CONV=auto (default) | direct (no Winograd) | off (this path unused:
 * conv2d.h's im2col/direct kernels and plain layouts throughout). */
#ifndef PCQ_CONV2D_DNNL_H
#define PCQ_CONV2D_DNNL_H

#include "conv2d.h"

struct conv2d_dnnl;

/* What conv2d_dnnl_create plans besides the forward pass. */
#define CONV2D_DNNL_DW 1   /* weight (and bias) gradients */
#define CONV2D_DNNL_DIN 2  /* the input gradient */

/* Plans the convolution s (s->n: the largest batch) with a blocked output
 * and, when in_blocked, a blocked input (else (N, C, H, W)); `backward`:
 * 0 or CONV2D_DNNL_DW, with CONV2D_DNNL_DIN or not. NULL when this path is
 * off or oneDNN has no JIT kernel for it on this CPU (K must be a multiple
 * of 16; C too when in_blocked); the caller then uses conv2d.h. */
struct conv2d_dnnl *conv2d_dnnl_create(const struct conv2d_shape *s, int in_blocked,
				       int bias, int backward);
void conv2d_dnnl_free(struct conv2d_dnnl *d);

/* n <= s->n images; a primitive per distinct n is made on first use. */
void conv2d_dnnl_forward(struct conv2d_dnnl *d, int n, float *out, const float *in,
			 const float *w, const float *b);
/* din NULL: skipped. */
void conv2d_dnnl_backward(struct conv2d_dnnl *d, int n, float *din, float *dw,
			  float *db, const float *dout, const float *in, const float *w);

/* "jit:avx512_core", "jit_wino_4x3:avx512_core", ...: oneDNN's kernel. */
const char *conv2d_dnnl_kernel(const struct conv2d_dnnl *d);

#endif
