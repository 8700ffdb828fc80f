/* devops.h on the host: the CPU layer functions on host memory, so that
 * model_device.c runs (and is tested) without a GPU. */
#include "devops.h"

#include "add.h"
#include "avgpool2d.h"
#include "batchnorm2d.h"
#include "check.h"
#include "fakequant.h"
#include "linear.h"
#include "maxpool2d.h"
#include "pcg.h"
#include "relu.h"
#include "sgd.h"
#include "softmax_xent.h"

#include <stdlib.h>
#include <string.h>

static int host_alloc(void **p, size_t bytes)
{
	*p = xcalloc(1, bytes ? bytes : 1);
	return 0;
}

static int host_copy(void *dst, const void *src, size_t bytes)
{
	memmove(dst, src, bytes);
	return 0;
}

static int host_zero(void *p, size_t bytes)
{
	memset(p, 0, bytes);
	return 0;
}

static int host_sync(void)
{
	return 0;   /* every host operation is done when it returns */
}

static int relu_f(float *out, const float *in, size_t n)
{
	relu_forward(out, in, n);
	return 0;
}

static int relu_b(float *din, const float *dout, const float *x, size_t n)
{
	relu_backward(din, dout, x, n);
	return 0;
}

static int add_f(float *out, const float *a, const float *b, size_t n)
{
	add_forward(out, a, b, n);
	return 0;
}

static int add_b(float *da, float *db, const float *dout, size_t n)
{
	add_backward(da, db, dout, n);
	return 0;
}

static int sgd(float *w, float *v, const float *g, float lr, float momentum, float wd, size_t n)
{
	struct sgd_params p = {.lr = lr, .momentum = momentum, .weight_decay = wd};
	sgd_step(w, v, g, &p, n);
	return 0;
}

static int dropout_mask_h(uint8_t *mask, uint64_t state, uint64_t inc, uint64_t threshold,
			  size_t n)
{
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		mask[i] = pcg_output(pcg_advance(state, inc, i)) >= threshold;
	return 0;
}

static int dropout_apply(float *out, const uint8_t *mask, const float *in, float scale, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] * (mask[i] * scale);   /* as dropout.c */
	return 0;
}

static int range_of_h(float *lohi, const float *x, size_t n)
{
	range_of(x, n, &lohi[0], &lohi[1]);
	return 0;
}

static int range_update_h(float *range, float *batches, const float *lohi, float smooth)
{
	range_update(range, batches, lohi[0], lohi[1], smooth);
	return 0;
}

static int fq_forward(float *out, uint8_t *mask, const float *x, size_t n, const float *range,
		      const float *batches, int bits)
{
	if (!range || (batches && !(*batches > 0))) {
		memmove(out, x, n * sizeof(float));
		if (mask)
			memset(mask, 1, n);
		return 0;
	}
	struct qparams q = qparams_from_range(range[0], range[1], bits);
	fakequant_forward(out, mask, x, n, &q);
	return 0;
}

static int fq_backward(float *dx, const float *dout, const uint8_t *mask, size_t n)
{
	fakequant_backward(dx, dout, mask, n);
	return 0;
}

static struct batchnorm2d_shape bn_shape(int N, int C, int HW, float eps, float momentum)
{
	return (struct batchnorm2d_shape){.N = N, .C = C, .H = HW, .W = 1, .eps = eps,
					  .momentum = momentum};
}

static int bn_train(float *out, float *mean, float *invstd, const float *in, const float *gamma,
		    const float *beta, float *rm, float *rv, int N, int C, int HW, float eps,
		    float momentum, double share)
{
	struct batchnorm2d_shape s = bn_shape(N, C, HW, eps, momentum);
	s.share = share;
	batchnorm2d_forward_train(out, mean, invstd, in, gamma, beta, rm, rv, &s);
	return 0;
}

static int bn_eval(float *out, const float *in, const float *gamma, const float *beta,
		   const float *rm, const float *rv, int N, int C, int HW, float eps)
{
	struct batchnorm2d_shape s = bn_shape(N, C, HW, eps, BATCHNORM2D_MOMENTUM);
	batchnorm2d_forward_eval(out, in, gamma, beta, rm, rv, &s);
	return 0;
}

static int bn_backward(float *din, float *dgamma, float *dbeta, const float *mean,
		       const float *invstd, const float *dout, const float *in, const float *gamma,
		       int N, int C, int HW, double share)
{
	struct batchnorm2d_shape s = bn_shape(N, C, HW, BATCHNORM2D_EPS, BATCHNORM2D_MOMENTUM);
	s.share = share;
	batchnorm2d_backward(din, dgamma, dbeta, mean, invstd, dout, in, gamma, &s);
	return 0;
}

static int maxpool_f(float *out, int32_t *argmax, const float *in, int planes, int H, int W,
		     int kernel, int stride, int pad)
{
	struct maxpool2d_shape s = {.N = planes, .C = 1, .H = H, .W = W, .kernel = kernel,
				    .stride = stride, .pad = pad};
	maxpool2d_forward(out, argmax, in, &s);
	return 0;
}

static int maxpool_b(float *din, const int32_t *argmax, const float *dout, int planes, int H,
		     int W, int kernel, int stride, int pad)
{
	struct maxpool2d_shape s = {.N = planes, .C = 1, .H = H, .W = W, .kernel = kernel,
				    .stride = stride, .pad = pad};
	maxpool2d_backward(din, argmax, dout, &s);
	return 0;
}

static int avgpool_f(float *out, const float *in, int planes, int H, int W, int kernel,
		     int stride, int pad)
{
	struct avgpool2d_shape s = {.N = planes, .C = 1, .H = H, .W = W, .kernel = kernel,
				    .stride = stride, .pad = pad};
	avgpool2d_forward(out, in, &s);
	return 0;
}

static int avgpool_b(float *din, const float *dout, int planes, int H, int W, int kernel,
		     int stride, int pad)
{
	struct avgpool2d_shape s = {.N = planes, .C = 1, .H = H, .W = W, .kernel = kernel,
				    .stride = stride, .pad = pad};
	avgpool2d_backward(din, dout, &s);
	return 0;
}

static int gap_f(float *out, const float *in, int planes, int HW)
{
	struct avgpool2d_shape s = {.N = planes, .C = 1, .H = HW, .W = 1};
	avgpool2d_global_forward(out, in, &s);
	return 0;
}

static int gap_b(float *din, const float *dout, int planes, int HW)
{
	struct avgpool2d_shape s = {.N = planes, .C = 1, .H = HW, .W = 1};
	avgpool2d_global_backward(din, dout, &s);
	return 0;
}

static int conv_f(float *out, float *ws, const float *in, const float *w, const float *b,
		  const struct conv2d_shape *s)
{
	conv2d_forward(out, ws, in, w, b, s);
	return 0;
}

static int conv_b(float *din, float *dw, float *db, float *ws, const float *dout,
		  const float *in, const float *w, const struct conv2d_shape *s)
{
	conv2d_backward(din, dw, db, ws, dout, in, w, s);
	return 0;
}

static int linear_f(float *out, const float *in, const float *w, const float *b, int N, int I,
		    int O)
{
	struct linear_shape s = {.n = N, .in = I, .out = O};
	linear_forward(out, in, w, b, &s);
	return 0;
}

static int linear_b(float *din, float *dw, float *db, const float *dout, const float *in,
		    const float *w, int N, int I, int O)
{
	struct linear_shape s = {.n = N, .in = I, .out = O};
	linear_backward(din, dw, db, dout, in, w, &s);
	return 0;
}

static int xent(float *dlogits, double *loss, int *n_correct, double *rows, double *host_rows,
		const float *logits, const int32_t *labels, int N, int classes)
{
	(void)rows, (void)host_rows;
	struct softmax_xent_shape s = {.N = N, .classes = classes};
	*loss = softmax_xent(dlogits, n_correct, logits, labels, &s);
	return 0;
}

static int qnode_run(const struct qk_node *n, uint8_t *out, const uint8_t *a, const uint8_t *b,
		     const int32_t *cl, size_t count)
{
	#pragma omp parallel for schedule(static)
	for (size_t e = 0; e < count; e++)
		qk_store(n, out, a, b, cl, e);
	return 0;
}

static const struct devops host = {
	.name = "host",
	.alloc = host_alloc, .free = free, .upload = host_copy, .download = host_copy,
	.copy = host_copy, .zero = host_zero, .sync = host_sync,
	.host_alloc = host_alloc, .host_free = free,
	.relu_forward = relu_f, .relu_backward = relu_b, .add_forward = add_f,
	.add_backward = add_b, .sgd_step = sgd,
	.dropout_mask = dropout_mask_h, .dropout_apply = dropout_apply,
	.range_of = range_of_h, .range_update = range_update_h, .fq_forward = fq_forward,
	.fq_backward = fq_backward,
	.bn_train = bn_train, .bn_eval = bn_eval, .bn_backward = bn_backward,
	.maxpool_forward = maxpool_f, .maxpool_backward = maxpool_b,
	.avgpool_forward = avgpool_f, .avgpool_backward = avgpool_b,
	.gap_forward = gap_f, .gap_backward = gap_b,
	.conv_workspace_floats = conv2d_workspace_floats,
	.conv_forward = conv_f, .conv_backward = conv_b,
	.linear_forward = linear_f, .linear_backward = linear_b,
	.softmax_xent = xent, .qnode_run = qnode_run,
};

const struct devops *devops_host(void)
{
	return &host;
}
