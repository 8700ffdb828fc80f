/* devops.h on a GPU: the kernels of cuda/ (cuda_layers.h). Without CUDA
 * compiled in, or without a usable GPU, devops_cuda() is NULL. */
#include "devops.h"

#include "backend.h"

#ifdef PCQ_CUDA
#include "../cuda/cuda_layers.h"

static int alloc_zeroed(void **p, size_t bytes)
{
	*p = NULL;
	if (cuda_alloc(p, bytes ? bytes : 4) || cuda_zero(*p, bytes ? bytes : 4)) {
		cuda_free(*p);
		*p = NULL;
		return -1;
	}
	return 0;
}

static size_t conv_workspace(const struct conv2d_shape *s)
{
	return cuda_conv2d_workspace_floats(s->n, s->c, s->h, s->w, s->k, s->kh, s->kw, s->stride,
					    s->pad);
}

static int conv_f(float *out, float *ws, const float *in, const float *w, const float *b,
		  const struct conv2d_shape *s)
{
	return cuda_conv2d_forward(out, ws, in, w, b, s->n, s->c, s->h, s->w, s->k, s->kh, s->kw,
				   s->stride, s->pad);
}

static int conv_b(float *din, float *dw, float *db, float *ws, const float *dout,
		  const float *in, const float *w, const struct conv2d_shape *s)
{
	return cuda_conv2d_backward(din, dw, db, ws, dout, in, w, s->n, s->c, s->h, s->w, s->k,
				    s->kh, s->kw, s->stride, s->pad);
}

static const struct devops cuda = {
	.name = "cuda",
	.alloc = alloc_zeroed, .free = cuda_free, .upload = cuda_upload,
	.download = cuda_download, .copy = cuda_copy, .zero = cuda_zero, .sync = cuda_sync,
	.host_alloc = cuda_host_alloc, .host_free = cuda_host_free,
	.relu_forward = cuda_relu_forward, .relu_backward = cuda_relu_backward,
	.add_forward = cuda_add_forward, .add_backward = cuda_add_backward,
	.sgd_step = cuda_sgd_step,
	.dropout_mask = cuda_dropout_mask, .dropout_apply = cuda_dropout_apply,
	.range_of = cuda_range_of, .range_update = cuda_range_update,
	.fq_forward = cuda_fakequant_forward, .fq_backward = cuda_fakequant_backward,
	.bn_train = cuda_batchnorm2d_forward_train, .bn_eval = cuda_batchnorm2d_forward_eval,
	.bn_backward = cuda_batchnorm2d_backward,
	.maxpool_forward = cuda_maxpool2d_forward, .maxpool_backward = cuda_maxpool2d_backward,
	.avgpool_forward = cuda_avgpool2d_forward, .avgpool_backward = cuda_avgpool2d_backward,
	.gap_forward = cuda_global_avgpool_forward, .gap_backward = cuda_global_avgpool_backward,
	.conv_workspace_floats = conv_workspace, .conv_forward = conv_f, .conv_backward = conv_b,
	.linear_forward = cuda_linear_forward, .linear_backward = cuda_linear_backward,
	.softmax_xent = cuda_softmax_xent, .qnode_run = cuda_qnode_run,
};

const struct devops *devops_cuda(void)
{
	return backend_gpu_count() > 0 ? &cuda : NULL;
}
#else
const struct devops *devops_cuda(void)
{
	return NULL;
}
#endif
