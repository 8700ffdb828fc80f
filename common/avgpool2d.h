/* 2-D average pooling, as torch.nn.AvgPool2d with ceil_mode False and
 * count_include_pad True (the default: padding counts as zeros, so every
 * window divides by kernel²; pytorch.org/docs/stable/generated/
 * torch.nn.AvgPool2d.html), and the global average pool, as
 * torch.nn.AdaptiveAvgPool2d((1, 1)). Ho = ⌊(H + 2·pad − kernel)/stride⌋
 * + 1 (Wo likewise). OpenMP over the N·C planes.
 * Gradients: din is overwritten (=). */
#ifndef PCQ_AVGPOOL2D_H
#define PCQ_AVGPOOL2D_H

struct avgpool2d_shape {
	int N, C, H, W;            /* input */
	int kernel, stride, pad;   /* pad <= kernel/2; unused by the global pool */
	int blocked;   /* global pool only: in (and din) in layout.h's blocked layout */
};

int avgpool2d_out_h(const struct avgpool2d_shape *s);
int avgpool2d_out_w(const struct avgpool2d_shape *s);

void avgpool2d_forward(float *out,        // (N, C, Ho, Wo)
		       const float *in,   // (N, C, H, W)
		       const struct avgpool2d_shape *s);

void avgpool2d_backward(float *din,        // (N, C, H, W) =
			const float *dout, // (N, C, Ho, Wo)
			const struct avgpool2d_shape *s);

/* Global average pool: the mean of each H×W plane (sum in double). */
void avgpool2d_global_forward(float *out,      // (N, C) = (N, C, 1, 1)
			      const float *in, // (N, C, H, W)
			      const struct avgpool2d_shape *s);

void avgpool2d_global_backward(float *din,        // (N, C, H, W) =
			       const float *dout, // (N, C)
			       const struct avgpool2d_shape *s);

#endif
