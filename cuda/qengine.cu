// The integer engine's kernel (cuda_layers.h): qkernels.h's definition of
// each output (a byte, or a uint16 of a 16-bit residual branch), one thread
// each. Integer arithmetic only, so the values are the CPU's. Not tuned: a direct convolution from global memory.
#include "cuda_check.h"
#include "cuda_layers.h"
#include "qkernels.h"

namespace {

__global__ void qnode_k(struct qk_node n, uint8_t *out, const uint8_t *a, const uint8_t *b,
			const int32_t *cl, size_t count)
{
	size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	if (e < count)
		qk_store(&n, out, a, b, cl, e);
}

}  // namespace

extern "C" int cuda_qnode_run(const struct qk_node *n, uint8_t *out, const uint8_t *a,
			      const uint8_t *b, const int32_t *cl, size_t count)
{
	qnode_k<<<cuda_blocks(count), CUDA_THREADS>>>(*n, out, a, b, cl, count);
	return cuda_launched();
}
