/* 2-D max pooling as torch.nn.MaxPool2d (pytorch.org/docs/stable/generated/
 * torch.nn.MaxPool2d.html) with dilation 1 and ceil_mode False:
 *   Ho = ⌊(H + 2·pad − kernel)/stride⌋ + 1 (Wo likewise),
 * padding counts as −∞, ties keep the first maximum in row-major window
 * order and a NaN wins, as PyTorch's CPU kernel. The forward saves, per
 * output, the index h·W + w of its maximum in the input plane (PyTorch's
 * `indices`), and the backward routes dout through them. OpenMP over the
 * N·C planes. Gradients: din is overwritten (=). */
#ifndef PCQ_MAXPOOL2D_H
#define PCQ_MAXPOOL2D_H

#include <stdint.h>

struct maxpool2d_shape {
	int N, C, H, W;      /* input */
	int kernel, stride, pad;   /* pad <= kernel/2, as PyTorch requires */
	int blocked;         /* in, out, argmax in layout.h's blocked layout */
};

int maxpool2d_out_h(const struct maxpool2d_shape *s);
int maxpool2d_out_w(const struct maxpool2d_shape *s);

void maxpool2d_forward(float *out,          // (N, C, Ho, Wo)
		       int32_t *argmax,     // (N, C, Ho, Wo) saved
		       const float *in,     // (N, C, H, W)
		       const struct maxpool2d_shape *s);

/* din = 0, then din[argmax] += dout (windows may overlap). */
void maxpool2d_backward(float *din,            // (N, C, H, W) =
			const int32_t *argmax, // (N, C, Ho, Wo) from forward
			const float *dout,     // (N, C, Ho, Wo)
			const struct maxpool2d_shape *s);

#endif
