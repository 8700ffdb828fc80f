/* Output size of a sliding window (convolution, pooling), PyTorch's floor
 * rule: floor((in + 2·pad − kernel) / stride) + 1. */
#ifndef PCQ_WINDOW_H
#define PCQ_WINDOW_H

#include "host_device.h"

PCQ_HOST_DEVICE static inline int window_out(int in, int kernel, int stride, int pad)
{
	return (in + 2 * pad - kernel) / stride + 1;
}

/* The input rows [*start, *end) of output o's window, clipped to [0, in). */
PCQ_HOST_DEVICE static inline void window_span(int o, int kernel, int stride, int pad, int in,
					       int *start, int *end)
{
	const int first = o * stride - pad;
	*start = first > 0 ? first : 0;
	*end = first + kernel < in ? first + kernel : in;
}

/* The outputs [*first, *last] (of `out`) whose window holds input i: those
 * o with o·stride − pad <= i < o·stride − pad + kernel. */
PCQ_HOST_DEVICE static inline void window_holders(int i, int kernel, int stride, int pad,
						  int out, int *first, int *last)
{
	const int a = i + pad - kernel + 1, b = (i + pad) / stride;
	*first = a <= 0 ? 0 : (a + stride - 1) / stride;
	*last = b < out - 1 ? b : out - 1;
}

#endif
