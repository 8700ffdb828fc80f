/* Each GPU layer kernel of cuda/ against the CPU function it
 * mirrors, on the same random inputs: element-wise ops and SGD bit for
 * bit, reductions within float rounding. Skipped without a GPU or without
 * CUDA compiled in (the tests' verdict is their exit status). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "add.h"
#include "avgpool2d.h"
#include "backend.h"
#include "batchnorm2d.h"
#include "conv2d.h"
#include "dropout.h"
#include "fakequant.h"
#include "linear.h"
#include "maxpool2d.h"
#include "relu.h"
#include "sgd.h"
#include "softmax_xent.h"
#include "../unit/fixture.h"
#include "../unit/gradcheck.h"

#ifdef PCQ_CUDA
#include "../../cuda/cuda_layers.h"

static void need_gpu(void)
{
	if (backend_gpu_count() == 0) {
		print_message("no GPU: skipped\n");
		skip();
	}
}

static float *host(size_t n, uint64_t seed)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	assert_non_null(p);
	fill_normal(p, n, 0, 1, seed);
	return p;
}

/* A device copy of x[n] (n floats). */
static float *up(const void *x, size_t bytes)
{
	void *d = NULL;
	assert_int_equal(cuda_alloc(&d, bytes ? bytes : 4), 0);
	assert_int_equal(cuda_upload(d, x, bytes), 0);
	return d;
}

static float *down(const float *d, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	assert_non_null(p);
	assert_int_equal(cuda_download(p, d, n * sizeof(float)), 0);
	return p;
}

static void same_bits(const float *got, const float *want, size_t n, const char *what)
{
	if (memcmp(got, want, n * sizeof(float)) != 0)
		fail_msg("%s: GPU and CPU differ", what);
}

/* The device's d[n] must be want[n] bit for bit. */
static void same_bits_on_device(const float *d, const float *want, size_t n, const char *what)
{
	float *got = down(d, n);
	same_bits(got, want, n, what);
	free(got);
}

/* The dropout mask drawn on the GPU, each thread jumping the generator to
 * its element, is the CPU's serial draw bit for bit; so is the output. */
static void test_dropout(void **state)
{
	(void)state;
	need_gpu();
	const size_t n = 100003;
	float *x = host(n, 5), *out = malloc(n * sizeof(float));
	uint8_t *mask = malloc(n), *got = malloc(n);
	float *dx = up(x, n * 4), *dout = up(x, n * 4);
	uint8_t *dmask = (uint8_t *)up(x, n);
	const float ps[] = {0, 0.1f, 0.5f, 0.999f};
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		struct rng r;
		rng_seed(&r, 11 + k, 3);
		const struct rng start = r;
		dropout_forward_train(out, mask, x, ps[k], &r, n);
		assert_int_equal(cuda_dropout_mask(dmask, start.state, start.inc,
						   dropout_threshold(ps[k]), n), 0);
		assert_int_equal(cuda_download(got, dmask, n), 0);
		assert_memory_equal(got, mask, n);
		assert_int_equal(cuda_dropout_apply(dout, dmask, dx, dropout_keep_scale(ps[k]), n),
				 0);
		same_bits_on_device(dout, out, n, "dropout forward");
		struct rng skipped = start;
		rng_skip(&skipped, n);
		assert_true(skipped.state == r.state);
	}
	free(x), free(out), free(mask), free(got);
	cuda_free(dx), cuda_free(dout), cuda_free(dmask);
}

static void test_elementwise(void **state)
{
	(void)state;
	need_gpu();
	const size_t n = 100003;
	float *a = host(n, 1), *b = host(n, 2), *g = host(n, 3), *v = host(n, 4);
	float *out = malloc(n * sizeof(float)), *out2 = malloc(n * sizeof(float));
	float *da = up(a, n * 4), *db = up(b, n * 4), *dg = up(g, n * 4), *dv = up(v, n * 4);
	float *dout = up(a, n * 4), *dout2 = up(a, n * 4);

	relu_forward(out, a, n);
	assert_int_equal(cuda_relu_forward(dout, da, n), 0);
	float *got = down(dout, n);
	same_bits(got, out, n, "relu forward");
	free(got);
	relu_backward(out, g, a, n);
	assert_int_equal(cuda_relu_backward(dout, dg, da, n), 0);
	same_bits_on_device(dout, out, n, "relu backward");

	add_forward(out, a, b, n);
	assert_int_equal(cuda_add_forward(dout, da, db, n), 0);
	same_bits_on_device(dout, out, n, "add forward");
	assert_int_equal(cuda_add_backward(dout, dout2, dg, n), 0);
	same_bits_on_device(dout2, g, n, "add backward");

	/* SGD with and without momentum: w a, v, gradient g */
	for (int with_momentum = 0; with_momentum < 2; with_momentum++) {
		struct sgd_params p = {.lr = 0.1f, .momentum = with_momentum ? 0.9f : 0,
				       .weight_decay = 1e-4f};
		memcpy(out, a, n * 4);
		memcpy(out2, v, n * 4);
		sgd_step(out, out2, g, &p, n);
		assert_int_equal(cuda_upload(dout, a, n * 4), 0);
		assert_int_equal(cuda_upload(dv, v, n * 4), 0);
		assert_int_equal(cuda_sgd_step(dout, dv, dg, p.lr, p.momentum, p.weight_decay, n), 0);
		same_bits_on_device(dout, out, n, "sgd weights");
		same_bits_on_device(dv, out2, n, "sgd velocity");
	}
	float *ps[] = {a, b, g, v, out, out2};
	for (size_t i = 0; i < 6; i++)
		free(ps[i]);
	float *ds[] = {da, db, dg, dv, dout, dout2};
	for (size_t i = 0; i < 6; i++)
		cuda_free(ds[i]);
}

/* Batch norm (bn_parts.h's three steps): channels in one part, and in
 * ten parts of 3,700 values. share > 0: the sums go through the host for
 * the exchange between data-parallel ranks (bn_sync.h), which with one
 * rank leaves them as they are. */
static void check_batchnorm(int N, int H, int W, double share)
{
	const int C = 5, HW = H * W;
	const size_t z = (size_t)N * C * HW;
	float *x = host(z, 5), *dy = host(z, 6), *gamma = host(C, 7), *beta = host(C, 8);
	for (size_t i = 0; i < z; i++)
		x[i] = 3 + 2 * x[i];   /* a mean away from zero */
	float rm[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, rv[5] = {1, 2, 3, 4, 5};
	float rm2[5], rv2[5], mean[5], invstd[5], dgam[5] = {0}, dbet[5] = {0};
	memcpy(rm2, rm, sizeof(rm));
	memcpy(rv2, rv, sizeof(rv));
	float *out = malloc(z * 4), *din = malloc(z * 4);
	struct batchnorm2d_shape s = {.N = N, .C = C, .H = H, .W = W, .eps = BATCHNORM2D_EPS,
				      .momentum = BATCHNORM2D_MOMENTUM};
	batchnorm2d_forward_train(out, mean, invstd, x, gamma, beta, rm, rv, &s);
	batchnorm2d_backward(din, dgam, dbet, mean, invstd, dy, x, gamma, &s);

	float zeros[5] = {0};
	float *dx = up(x, z * 4), *ddy = up(dy, z * 4), *dgamma = up(gamma, 20), *dbeta = up(beta, 20);
	float *drm = up(rm2, 20), *drv = up(rv2, 20), *dmean = up(zeros, 20), *dinv = up(zeros, 20);
	float *ddg = up(zeros, 20), *ddb = up(zeros, 20), *dout = up(x, z * 4), *ddin = up(x, z * 4);
	assert_int_equal(cuda_batchnorm2d_forward_train(dout, dmean, dinv, dx, dgamma, dbeta, drm,
							drv, N, C, HW, s.eps, s.momentum, share),
			 0);
	assert_int_equal(cuda_batchnorm2d_backward(ddin, ddg, ddb, dmean, dinv, ddy, dx, dgamma, N,
						   C, HW, share), 0);
	const float *want[] = {out, din, mean, invstd, rm, rv, dgam, dbet};
	float *dev[] = {dout, ddin, dmean, dinv, drm, drv, ddg, ddb};
	const size_t len[] = {z, z, 5, 5, 5, 5, 5, 5};
	const char *names[] = {"bn out", "bn din", "mean", "invstd", "running_mean", "running_var",
			       "dgamma", "dbeta"};
	for (int i = 0; i < 8; i++) {
		float *got = down(dev[i], len[i]);
		assert_close(got, want[i], len[i], 1e-5, 1e-5, names[i]);
		free(got);
	}
	/* eval with the updated running statistics */
	batchnorm2d_forward_eval(out, x, gamma, beta, rm, rv, &s);
	assert_int_equal(cuda_batchnorm2d_forward_eval(dout, dx, dgamma, dbeta, drm, drv, N, C, HW,
						       s.eps), 0);
	float *got = down(dout, z);
	assert_close(got, out, z, 1e-5, 1e-5, "bn eval");
	free(got);
	float *ps[] = {x, dy, gamma, beta, out, din};
	for (size_t i = 0; i < 6; i++)
		free(ps[i]);
	float *ds[] = {dx, ddy, dgamma, dbeta, drm, drv, dmean, dinv, ddg, ddb, dout, ddin};
	for (size_t i = 0; i < 12; i++)
		cuda_free(ds[i]);
}

static void test_batchnorm(void **state)
{
	(void)state;
	need_gpu();
	check_batchnorm(6, 7, 9, 0);
	check_batchnorm(37, 40, 25, 0);
	check_batchnorm(6, 7, 9, 0.5);
	check_batchnorm(37, 40, 25, 0.25);
}

static void test_pools(void **state)
{
	(void)state;
	need_gpu();
	const int N = 3, C = 4, H = 15, W = 13, planes = N * C;
	struct maxpool2d_shape s = {.N = N, .C = C, .H = H, .W = W, .kernel = 3, .stride = 2,
				    .pad = 1};
	const int ho = maxpool2d_out_h(&s), wo = maxpool2d_out_w(&s);
	const size_t z = (size_t)planes * H * W, zo = (size_t)planes * ho * wo;
	float *x = malloc(z * 4), *dy = host(zo, 9);
	for (size_t i = 0; i < z; i++)   /* ties and a few NaN */
		x[i] = i % 89 == 0 ? NAN : (float)((i * 2654435761u >> 9) % 4);
	float *out = malloc(zo * 4), *din = malloc(z * 4);
	int32_t *am = malloc(zo * 4);
	maxpool2d_forward(out, am, x, &s);
	maxpool2d_backward(din, am, dy, &s);
	float *dx = up(x, z * 4), *ddy = up(dy, zo * 4), *dout = up(dy, zo * 4), *ddin = up(x, z * 4);
	int32_t *dam = (int32_t *)up(am, zo * 4);
	assert_int_equal(cuda_maxpool2d_forward(dout, dam, dx, planes, H, W, 3, 2, 1), 0);
	assert_int_equal(cuda_maxpool2d_backward(ddin, dam, ddy, planes, H, W, 3, 2, 1), 0);
	float *got = down(dout, zo);
	int32_t *gam = (int32_t *)down((float *)dam, zo);
	assert_memory_equal(gam, am, zo * 4);
	for (size_t i = 0; i < zo; i++)
		assert_true(got[i] == out[i] || (isnan(got[i]) && isnan(out[i])));
	free(got);
	same_bits_on_device(ddin, din, z, "maxpool backward");

	/* the windowed average pool, bit for bit: the same float sums in the
	 * same order (kernel 3 and 4, strides 2 and 3, padding 1 and 2) */
	const int pools[][3] = {{3, 2, 1}, {4, 3, 2}};
	for (int i = 0; i < 2; i++) {
		struct avgpool2d_shape a = {.N = N, .C = C, .H = H, .W = W, .kernel = pools[i][0],
					    .stride = pools[i][1], .pad = pools[i][2]};
		const size_t za = (size_t)planes * avgpool2d_out_h(&a) * avgpool2d_out_w(&a);
		float *xa = host(z, 20 + i), *dya = host(za, 30 + i);
		avgpool2d_forward(out, xa, &a);
		avgpool2d_backward(din, dya, &a);
		float *dxa = up(xa, z * 4), *ddya = up(dya, za * 4);
		assert_int_equal(cuda_avgpool2d_forward(dout, dxa, planes, H, W, a.kernel, a.stride,
							a.pad), 0);
		assert_int_equal(cuda_avgpool2d_backward(ddin, ddya, planes, H, W, a.kernel,
							 a.stride, a.pad), 0);
		same_bits_on_device(dout, out, za, "avgpool forward");
		same_bits_on_device(ddin, din, z, "avgpool backward");
		free(xa);
		free(dya);
		cuda_free(dxa);
		cuda_free(ddya);
	}

	struct avgpool2d_shape g = {.N = N, .C = C, .H = H, .W = W};
	float *xn = host(z, 10);
	avgpool2d_global_forward(out, xn, &g);
	avgpool2d_global_backward(din, dy, &g);
	assert_int_equal(cuda_upload(dx, xn, z * 4), 0);
	assert_int_equal(cuda_global_avgpool_forward(dout, dx, planes, H * W), 0);
	assert_int_equal(cuda_global_avgpool_backward(ddin, ddy, planes, H * W), 0);
	got = down(dout, planes);
	assert_close(got, out, planes, 1e-6, 1e-6, "global avgpool");
	free(got);
	same_bits_on_device(ddin, din, z, "global avgpool backward");
	free(x), free(xn), free(dy), free(out), free(din), free(am), free(gam);
	cuda_free(dx), cuda_free(ddy), cuda_free(dout), cuda_free(ddin), cuda_free(dam);
}

static void test_softmax_xent(void **state)
{
	(void)state;
	need_gpu();
	const int N = 37, K = 10;
	float *z = host((size_t)N * K, 50), *dz = malloc((size_t)N * K * 4);
	int32_t labels[37];
	for (int n = 0; n < N; n++)
		labels[n] = (n * 7) % K;
	struct softmax_xent_shape s = {.N = N, .classes = K};
	int correct = 0, gcorrect = -1;
	double loss = softmax_xent(dz, &correct, z, labels, &s), gloss = 0;
	float *dzd = up(z, (size_t)N * K * 4), *dd = up(z, (size_t)N * K * 4);
	int32_t *dl = (int32_t *)up(labels, sizeof(labels));
	double zeros[2 * 37] = {0};
	double *rows = (double *)up(zeros, sizeof(zeros)), *host_rows = NULL;
	assert_int_equal(cuda_host_alloc((void **)&host_rows, sizeof(zeros)), 0);
	assert_int_equal(cuda_softmax_xent(dd, &gloss, &gcorrect, rows, host_rows, dzd, dl, N, K),
			 0);
	assert_int_equal(gcorrect, correct);
	assert_true(fabs(gloss - loss) <= 1e-12 * fabs(loss) + 1e-15);
	float *got = down(dd, (size_t)N * K);
	assert_close(got, dz, (size_t)N * K, 1e-7, 1e-6, "dlogits");
	free(got), free(z), free(dz);
	cuda_free(dzd), cuda_free(dd), cuda_free(dl), cuda_free(rows);
	cuda_host_free(host_rows);
}

/* The large case's weight gradients sum 480,000 products each: two float
 * orders differ by several 1e-3 (either may be the closer), so the GPU's
 * are held to the exact sum in double, within 1e-7 of the sum of the
 * terms' magnitudes (a single term is about 2e-6 of it). */
static void assert_dw_exact(const float *got, const float *dw0, const float *g,
			    const float *in, const struct conv2d_shape *s)
{
	const int oh = conv2d_out_h(s), ow = conv2d_out_w(s);
	size_t e = 0;
	for (int k = 0; k < s->k; k++)
		for (int c = 0; c < s->c; c++)
			for (int i = 0; i < s->kh; i++)
				for (int j = 0; j < s->kw; j++, e++) {
					double sum = dw0[e], mag = 0;
					for (int n = 0; n < s->n; n++)
						for (int y = 0; y < oh; y++) {
							const int iy = y * s->stride - s->pad + i;
							if (iy < 0 || iy >= s->h)
								continue;
							const float *gr = g + (((size_t)n * s->k + k) * oh + y) * ow;
							const float *xr = in + (((size_t)n * s->c + c) * s->h + iy) * s->w;
							for (int x = 0; x < ow; x++) {
								const int ix = x * s->stride - s->pad + j;
								if (ix < 0 || ix >= s->w)
									continue;
								const double t = (double)gr[x] * xr[ix];
								sum += t;
								mag += fabs(t);
							}
						}
					if (fabs(got[e] - sum) > 1e-7 * mag + 1e-6)
						fail_msg("conv dw %zu: %.8g, exact %.8g (terms' magnitude %.6g)",
							 e, got[e], sum, mag);
				}
}

/* Convolutions (with and without bias, strides, 5x5) against the double
 * oracle of conv2d.c, like test_conv2d.c's optimised paths: 1e-4; and one
 * large enough to run in chunks of images (conv_batched.h) against the
 * CPU's conv2d_forward/backward: 1e-3, its weight gradients against the
 * exact sums (assert_dw_exact). */
static void test_conv2d(void **state)
{
	(void)state;
	need_gpu();
	const struct conv2d_shape shapes[] = {
		{.n = 3, .c = 16, .h = 12, .w = 12, .k = 32, .kh = 3, .kw = 3, .stride = 1, .pad = 1},
		{.n = 2, .c = 5, .h = 13, .w = 11, .k = 7, .kh = 3, .kw = 3, .stride = 2, .pad = 1},
		{.n = 2, .c = 3, .h = 15, .w = 15, .k = 9, .kh = 5, .kw = 5, .stride = 1, .pad = 2},
		{.n = 3, .c = 16, .h = 16, .w = 16, .k = 32, .kh = 1, .kw = 1, .stride = 2, .pad = 0},
		/* 25.6M workspace floats an image: chunks of 2 and 1 images */
		{.n = 3, .c = 16, .h = 400, .w = 400, .k = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1},
	};
	for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++) {
		const struct conv2d_shape *s = &shapes[t];
		const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), bias = t % 2 == 0;
		const size_t zi = (size_t)s->n * s->c * s->h * s->w, zo = (size_t)s->n * s->k * oh * ow;
		const size_t zw = (size_t)s->k * s->c * s->kh * s->kw;
		float *in = host(zi, 60 + t), *w = host(zw, 70 + t), *b = host(s->k, 80 + t);
		float *g = host(zo, 90 + t), *dw0 = host(zw, 100 + t), *db0 = host(s->k, 110 + t);
		float *out = malloc(zo * 4), *din = malloc(zi * 4), *dw = malloc(zw * 4), *db = malloc(s->k * 4);
		memcpy(dw, dw0, zw * 4);
		memcpy(db, db0, s->k * 4);
		const int big = s->h > 100;   /* the naive oracle would take minutes */
		float *ref_ws = big ? malloc(conv2d_workspace_floats(s) * 4) : NULL;
		if (big) {
			conv2d_forward(out, ref_ws, in, w, bias ? b : NULL, s);
			conv2d_backward(din, dw, bias ? db : NULL, ref_ws, g, in, w, s);
		} else {
			conv2d_forward_naive(out, in, w, bias ? b : NULL, s);
			conv2d_backward_naive(din, dw, bias ? db : NULL, g, in, w, s);
		}
		free(ref_ws);
		float *d_in = up(in, zi * 4), *d_w = up(w, zw * 4), *d_b = up(b, s->k * 4);
		float *d_g = up(g, zo * 4), *d_dw = up(dw0, zw * 4), *d_db = up(db0, s->k * 4);
		float *d_out = up(g, zo * 4), *d_din = up(in, zi * 4);
		float *ws = NULL;   /* the column matrices */
		size_t ws_floats = cuda_conv2d_workspace_floats(s->n, s->c, s->h, s->w, s->k, s->kh,
								s->kw, s->stride, s->pad);
		assert_int_equal(cuda_alloc((void **)&ws, ws_floats * 4), 0);
		assert_int_equal(cuda_conv2d_forward(d_out, ws, d_in, d_w, bias ? d_b : NULL, s->n, s->c,
						     s->h, s->w, s->k, s->kh, s->kw, s->stride, s->pad), 0);
		assert_int_equal(cuda_conv2d_backward(d_din, d_dw, bias ? d_db : NULL, ws, d_g, d_in, d_w,
						      s->n, s->c, s->h, s->w, s->k, s->kh, s->kw,
						      s->stride, s->pad), 0);
		const float *want[] = {out, din, dw, db};
		float *dev[] = {d_out, d_din, d_dw, d_db};
		const size_t len[] = {zo, zi, zw, (size_t)s->k};
		const char *names[] = {"conv out", "conv din", "conv dw", "conv db"};
		for (int i = 0; i < (bias ? 4 : 3); i++) {
			float *got = down(dev[i], len[i]);
			if (big && dev[i] == d_dw)
				assert_dw_exact(got, dw0, g, in, s);
			else
				assert_close(got, want[i], len[i], big ? 1e-3 : 1e-4,
					     big ? 1e-3 : 1e-4, names[i]);
			free(got);
		}
		float *ps[] = {in, w, b, g, dw0, db0, out, din, dw, db};
		for (size_t i = 0; i < 10; i++)
			free(ps[i]);
		float *ds[] = {d_in, d_w, d_b, d_g, d_dw, d_db, d_out, d_din, ws};
		for (size_t i = 0; i < 9; i++)
			cuda_free(ds[i]);
	}
}

/* The fully connected layer against linear.c (OpenBLAS): 1e-4. */
static void test_linear(void **state)
{
	(void)state;
	need_gpu();
	const struct linear_shape s = {.n = 37, .in = 300, .out = 129};
	const size_t zi = (size_t)s.n * s.in, zo = (size_t)s.n * s.out, zw = (size_t)s.out * s.in;
	float *in = host(zi, 120), *w = host(zw, 121), *b = host(s.out, 122), *g = host(zo, 123);
	float *dw = host(zw, 124), *db = host(s.out, 125);
	float *d_in = up(in, zi * 4), *d_w = up(w, zw * 4), *d_b = up(b, s.out * 4), *d_g = up(g, zo * 4);
	float *d_dw = up(dw, zw * 4), *d_db = up(db, s.out * 4), *d_out = up(g, zo * 4), *d_din = up(in, zi * 4);
	float *out = malloc(zo * 4), *din = malloc(zi * 4);
	linear_forward(out, in, w, b, &s);
	linear_backward(din, dw, db, g, in, w, &s);
	assert_int_equal(cuda_linear_forward(d_out, d_in, d_w, d_b, s.n, s.in, s.out), 0);
	assert_int_equal(cuda_linear_backward(d_din, d_dw, d_db, d_g, d_in, d_w, s.n, s.in, s.out), 0);
	const float *want[] = {out, din, dw, db};
	float *dev[] = {d_out, d_din, d_dw, d_db};
	const size_t len[] = {zo, zi, zw, (size_t)s.out};
	const char *names[] = {"linear out", "linear din", "linear dw", "linear db"};
	for (int i = 0; i < 4; i++) {
		float *got = down(dev[i], len[i]);
		assert_close(got, want[i], len[i], 1e-4, 1e-4, names[i]);
		free(got);
	}
	float *ps[] = {in, w, b, g, dw, db, out, din};
	for (size_t i = 0; i < 8; i++)
		free(ps[i]);
	float *ds[] = {d_in, d_w, d_b, d_g, d_dw, d_db, d_out, d_din};
	for (size_t i = 0; i < 8; i++)
		cuda_free(ds[i]);
}

/* cuda/fakequant.cu against fakequant.c, bit for bit: range_of over
 * sizes below one block and beyond the partial pass's 256 blocks, the
 * range EMA, fake quantization at 2, 4 and 8 bits with saturation on both
 * sides and exact ties (x/S = k + 1/2, round half to even), the
 * uncalibrated copy, and the straight-through gradient. */
static void test_fakequant(void **state)
{
	(void)state;
	need_gpu();
	const size_t n = 300007;
	float *x = host(n, 130), *g = host(n, 131);
	for (size_t i = 0; i < 64; i++)          /* ties at S = 1/16 */
		x[i * 17] = ((float)i - 20.5f) / 16.0f;
	float *d_x = up(x, n * 4), *d_g = up(g, n * 4), *d_out = up(x, n * 4);
	float *d_lohi = up(x, 8), *d_range = up(x, 8), *d_batches = up(x, 4);
	uint8_t *d_mask = NULL;
	assert_int_equal(cuda_alloc((void **)&d_mask, n), 0);
	float *out = malloc(n * 4), lohi[2];
	uint8_t *mask = malloc(n), *got_mask = malloc(n);
	const size_t sizes[] = {1, 5, 256, 1000, 65537, n};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		float want[2];
		range_of(x + 3, sizes[i] - (sizes[i] == n ? 3 : 0), &want[0], &want[1]);
		assert_int_equal(cuda_range_of(d_lohi, d_x + 3, sizes[i] - (sizes[i] == n ? 3 : 0)), 0);
		assert_int_equal(cuda_download(lohi, d_lohi, 8), 0);
		same_bits(lohi, want, 2, "range_of");
	}
	/* the EMA: a first batch sets the range, a second smooths it */
	float range[2] = {0, 0}, batches = 0, obs[2][2] = {{-1.3f, 2.7f}, {-0.9f, 3.1f}};
	assert_int_equal(cuda_upload(d_range, range, 8), 0);
	assert_int_equal(cuda_upload(d_batches, &batches, 4), 0);
	for (int b = 0; b < 2; b++) {
		range_update(range, &batches, obs[b][0], obs[b][1], 0.9f);
		assert_int_equal(cuda_upload(d_lohi, obs[b], 8), 0);
		assert_int_equal(cuda_range_update(d_range, d_batches, d_lohi, 0.9f), 0);
	}
	float got_range[3];
	assert_int_equal(cuda_download(got_range, d_range, 8), 0);
	assert_int_equal(cuda_download(got_range + 2, d_batches, 4), 0);
	same_bits(got_range, range, 2, "range EMA");
	assert_true(got_range[2] == batches);
	/* ranges narrower than the data (saturation), and the two whose S is
	 * 1/16 at 4 and at 8 bits (the ties) */
	const float ranges[][2] = {{-1.3f, 2.7f}, {0.25f, 0.75f}, {-0.5f, 0.4375f}, {-8, 7.9375f}};
	const int bits[] = {2, 4, 8};
	for (size_t r = 0; r < 4; r++)
		for (size_t b = 0; b < 3; b++) {
			struct qparams q = qparams_from_range(ranges[r][0], ranges[r][1], bits[b]);
			fakequant_forward(out, mask, x, n, &q);
			assert_int_equal(cuda_upload(d_range, ranges[r], 8), 0);
			assert_int_equal(cuda_fakequant_forward(d_out, d_mask, d_x, n, d_range,
								d_batches, bits[b]), 0);
			float *got = down(d_out, n);
			same_bits(got, out, n, "fake quantization");
			free(got);
			assert_int_equal(cuda_download(got_mask, d_mask, n), 0);
			assert_memory_equal(got_mask, mask, n);
		}
	fakequant_backward(out, g, mask, n);
	assert_int_equal(cuda_fakequant_backward(d_out, d_g, d_mask, n), 0);
	float *got = down(d_out, n);
	same_bits(got, out, n, "fake quantization gradient");
	free(got);
	/* a cluster never calibrated: a copy, the gradient passing everywhere */
	batches = 0;
	assert_int_equal(cuda_upload(d_batches, &batches, 4), 0);
	assert_int_equal(cuda_fakequant_forward(d_out, d_mask, d_x, n, d_range, d_batches, 4), 0);
	same_bits_on_device(d_out, x, n, "uncalibrated copy");
	memset(mask, 1, n);
	assert_int_equal(cuda_download(got_mask, d_mask, n), 0);
	assert_memory_equal(got_mask, mask, n);
	free(x);
	free(g);
	free(out);
	free(mask);
	free(got_mask);
	float *ds[] = {d_x, d_g, d_out, d_lohi, d_range, d_batches};
	for (size_t i = 0; i < 6; i++)
		cuda_free(ds[i]);
	cuda_free(d_mask);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fakequant),
		cmocka_unit_test(test_elementwise),
		cmocka_unit_test(test_dropout),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_softmax_xent),
		cmocka_unit_test(test_conv2d),
		cmocka_unit_test(test_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
static void test_no_cuda(void **state)
{
	(void)state;
	print_message("CUDA not compiled in: skipped\n");
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_cuda)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
