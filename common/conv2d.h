/* 2-D convolution (cross-correlation), NCHW, zero padding, as PyTorch's
 * torch.nn.Conv2d with groups = 1 and dilation = 1
 * (https://pytorch.org/docs/1.13/generated/torch.nn.Conv2d.html):
 *
 *   out[n][k][oh][ow] = b[k] + Σ_{c,i,j} w[k][c][i][j]
 *                              · in[n][c][oh·stride − pad + i][ow·stride − pad + j]
 *   OH = (H + 2·pad − KH) / stride + 1,  OW = (W + 2·pad − KW) / stride + 1.
 *
 * Gradient convention: dw and db accumulate (+=); din is overwritten.
 * All buffers are the caller's; nothing here allocates. The optimised
 * functions need a scratch `workspace` of conv2d_workspace_floats(s)
 * floats (contents undefined on return), sized for omp_get_max_threads()
 * at the time: do not raise the thread count between sizing and use.
 * They split the images over the OpenMP threads (each thread's GEMMs run
 * on that thread): call them from outside any parallel region. out and
 * din do not depend on the thread count; dw and db are sums of per-thread
 * partials added in thread order (the same bits for the same count).
 * The *_naive functions are direct loops, the test oracle (STYLE.md 5). */
#ifndef PCQ_CONV2D_H
#define PCQ_CONV2D_H

#include <stddef.h>

struct conv2d_shape {
	int n, c, h, w;  /* input (N, C, H, W) */
	int k;           /* output channels: out is (N, K, OH, OW) */
	int kh, kw;      /* kernel height and width: w is (K, C, KH, KW) */
	int stride, pad; /* the same along H and W; zero padding */
};

int conv2d_out_h(const struct conv2d_shape *s);
int conv2d_out_w(const struct conv2d_shape *s);
/* Floats of scratch memory the optimised forward and backward need. */
size_t conv2d_workspace_floats(const struct conv2d_shape *s);

void conv2d_forward(float *out,              /* (N, K, OH, OW) */
		    float *workspace,        /* conv2d_workspace_floats(s) */
		    const float *in,         /* (N, C, H, W) */
		    const float *w,          /* (K, C, KH, KW) */
		    const float *b,          /* (K) or NULL: no bias */
		    const struct conv2d_shape *s);

void conv2d_backward(float *din,             /* (N, C, H, W), =; NULL: skip */
		     float *dw,              /* (K, C, KH, KW), += */
		     float *db,              /* (K), +=; NULL: no bias */
		     float *workspace,       /* conv2d_workspace_floats(s) */
		     const float *dout,      /* (N, K, OH, OW) */
		     const float *in,        /* (N, C, H, W) */
		     const float *w,         /* (K, C, KH, KW) */
		     const struct conv2d_shape *s);

/* The two implementations conv2d_forward/backward choose between (both
 * take the same workspace): im2col + GEMM for any shape, and direct
 * AVX-512 kernels for 3x3 stride-1 pad-1 convolutions with C and K
 * multiples of 16 when the CPU has AVX-512. conv2d_direct()
 * says whether a shape takes the direct path. */
int conv2d_direct(const struct conv2d_shape *s);
void conv2d_forward_gemm(float *out, float *workspace, const float *in,
			 const float *w, const float *b, const struct conv2d_shape *s);
void conv2d_backward_gemm(float *din, float *dw, float *db, float *workspace,
			  const float *dout, const float *in, const float *w,
			  const struct conv2d_shape *s);

void conv2d_forward_naive(float *out, const float *in, const float *w,
			  const float *b, const struct conv2d_shape *s);
void conv2d_backward_naive(float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w,
			   const struct conv2d_shape *s);

#endif
