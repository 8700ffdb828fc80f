// Fake quantization on the GPU (cuda_layers.h): fakequant.h's functions,
// with the per-cluster range and its EMA kept in device memory, so a
// fine-tuning step never waits for the host. The arithmetic is fq_rule.h's,
// the CPU's own code: bit-identical results (min and max are exact in any
// order).
#include "cuda_check.h"
#include "cuda_layers.h"
#include "fq_rule.h"

#include <math.h>

namespace {

// range_of in two passes: up to RANGE_BLOCKS partial (min, max) pairs in a
// device array, then one block over them. Calls are ordered on the
// default stream, so one array serves every call.
const int RANGE_BLOCKS = 256;
__device__ float range_partial[2 * RANGE_BLOCKS];

// As range_of: comparisons, so NaN elements are skipped.
__device__ float min_of(float a, float b)
{
	return b < a ? b : a;
}

__device__ float max_of(float a, float b)
{
	return b > a ? b : a;
}

// Reduces the block's lo[] and hi[] into lo[0] and hi[0].
__device__ void block_min_max(float *lo, float *hi)
{
	for (int half = blockDim.x / 2; half > 0; half /= 2) {
		__syncthreads();
		if ((int)threadIdx.x < half) {
			lo[threadIdx.x] = min_of(lo[threadIdx.x], lo[threadIdx.x + half]);
			hi[threadIdx.x] = max_of(hi[threadIdx.x], hi[threadIdx.x + half]);
		}
	}
	__syncthreads();
}

__global__ void range_partial_k(const float *x, size_t n)
{
	__shared__ float lo[CUDA_THREADS], hi[CUDA_THREADS];
	float a = INFINITY, b = -INFINITY;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		a = min_of(a, x[i]);
		b = max_of(b, x[i]);
	}
	lo[threadIdx.x] = a;
	hi[threadIdx.x] = b;
	block_min_max(lo, hi);
	if (threadIdx.x == 0) {
		range_partial[2 * blockIdx.x] = lo[0];
		range_partial[2 * blockIdx.x + 1] = hi[0];
	}
}

__global__ void range_final_k(float *lohi, int blocks)
{
	__shared__ float lo[CUDA_THREADS], hi[CUDA_THREADS];
	float a = INFINITY, b = -INFINITY;
	for (int i = threadIdx.x; i < blocks; i += blockDim.x) {
		a = min_of(a, range_partial[2 * i]);
		b = max_of(b, range_partial[2 * i + 1]);
	}
	lo[threadIdx.x] = a;
	hi[threadIdx.x] = b;
	block_min_max(lo, hi);
	if (threadIdx.x == 0) {
		lohi[0] = lo[0];
		lohi[1] = hi[0];
	}
}

__global__ void range_update_k(float *range, float *batches, const float *lohi, float smooth)
{
	fq_range_ema(range, batches, lohi[0], lohi[1], smooth);
}

// Every thread derives (S, Z) from the range itself: three loads from one
// cache line, and nothing to synchronise.
__global__ void fakequant_forward_k(float *out, uint8_t *mask, const float *x, size_t n,
				    const float *range, const float *batches, int bits)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	if (!range || (batches && !(*batches > 0))) {
		out[i] = x[i];
		if (mask)
			mask[i] = 1;
		return;
	}
	struct qparams q = fq_params(range[0], range[1], bits);
	const float s = q.scale, z = (float)q.zero;
	float v = fq_unclamped(x[i], s, z), c = fq_clamp(v, (float)q.qmax);
	if (mask)
		mask[i] = v == c;
	out[i] = s * (c - z);
}

__global__ void fakequant_backward_k(float *dx, const float *dout, const uint8_t *mask, size_t n)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (i < n)
		dx[i] = mask[i] ? dout[i] : 0.0f;
}

}  // namespace

extern "C" {

int cuda_range_of(float *lohi, const float *x, size_t n)
{
	unsigned blocks = cuda_blocks(n);
	if (blocks > RANGE_BLOCKS)
		blocks = RANGE_BLOCKS;
	if (blocks == 0)
		blocks = 1;
	range_partial_k<<<blocks, CUDA_THREADS>>>(x, n);
	range_final_k<<<1, CUDA_THREADS>>>(lohi, (int)blocks);
	return cuda_launched();
}

int cuda_range_update(float *range, float *batches, const float *lohi, float smooth)
{
	range_update_k<<<1, 1>>>(range, batches, lohi, smooth);
	return cuda_launched();
}

int cuda_fakequant_forward(float *out, uint8_t *mask, const float *x, size_t n,
			   const float *range, const float *batches, int bits)
{
	fakequant_forward_k<<<cuda_blocks(n), CUDA_THREADS>>>(out, mask, x, n, range, batches,
							       bits);
	return cuda_launched();
}

int cuda_fakequant_backward(float *dx, const float *dout, const uint8_t *mask, size_t n)
{
	fakequant_backward_k<<<cuda_blocks(n), CUDA_THREADS>>>(dx, dout, mask, n);
	return cuda_launched();
}

}  // extern "C"
