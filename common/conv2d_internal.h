/* Private to conv2d*.c: what the GEMM path (conv2d.c) and the direct
 * path (conv2d_direct.c) share. */
#ifndef PCQ_CONV2D_INTERNAL_H
#define PCQ_CONV2D_INTERNAL_H

#include "conv2d.h"

#include <stddef.h>

/* Weights up to this many floats count as small: tiled products, and the
 * direct path when its shape fits. */
#define SMALL_WEIGHTS ((size_t)64 << 10)

/* Aborts on a shape no convolution can have (an internal invariant). */
void conv2d_check_shape(const struct conv2d_shape *s);

/* dw (K, CKK) += Σ_t dWᵀ_t (CKK, K), db (K) += Σ_t db_t over the
 * partials of `threads` threads `slice` floats apart; called by every
 * thread of a team (work-shared loop). */
void conv2d_add_partials(float *dw, float *db, const float *part, size_t slice,
			 int threads, int ckk, int K);

/* The direct path: whether it takes shape s, its workspace, its passes. */
int conv2d_direct_ok(const struct conv2d_shape *s);
size_t conv2d_direct_workspace_floats(const struct conv2d_shape *s);
void conv2d_direct_forward(float *out, float *workspace, const float *in,
			   const float *w, const float *b, const struct conv2d_shape *s);
void conv2d_direct_backward(float *din, float *dw, float *db, float *workspace,
			    const float *dout, const float *in, const float *w,
			    const struct conv2d_shape *s);

#endif
