/* Output size of a sliding window (convolution, pooling), PyTorch's floor
 * rule: floor((in + 2·pad − kernel) / stride) + 1. */
#ifndef PCQ_WINDOW_H
#define PCQ_WINDOW_H

static inline int window_out(int in, int kernel, int stride, int pad)
{
	return (in + 2 * pad - kernel) / stride + 1;
}

#endif
