/* BatchNorm2d forward (training and eval) and backward on the CPU,
 * following PyTorch's CPU kernels (aten/src/ATen/native/Normalization.cpp:
 * statistics accumulated in double, y = x·α + β' with α = γ·invstd and
 * β' = β − μ·α, the backward through dotp = Σ (x − μ)·dy). */
#include "batchnorm2d.h"

#include "bn_sync.h"

#include "check.h"
#include "layout.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void check_shape(const struct batchnorm2d_shape *s)
{
	CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0);
	CHECK(s->eps > 0);
}

/* Running statistics and the saved values from the biased variance. */
static void finish_stats(double mu, double var, size_t M,
			 const struct batchnorm2d_shape *s, int c, float *mean,
			 float *invstd, float *running_mean, float *running_var)
{
	CHECK(M >= 2 && s->momentum >= 0 && s->momentum <= 1);
	double m = s->momentum;
	mean[c] = (float)mu;
	invstd[c] = (float)(1.0 / sqrt(var + s->eps));
	running_mean[c] = (float)((1 - m) * running_mean[c] + m * mu);
	running_var[c] = (float)((1 - m) * running_var[c] + m * var * M / (M - 1));
}

/* ---- the blocked layout (layout.h): 16 channels per vector ---- */

/* Per-channel sums over (N, H, W) in double are split into this many
 * parts of the batch per block of 16 channels, added in order: enough
 * parallel work for ResNet20's single block, the same bits for any
 * thread count. */
#define BN_PARTS 8

struct sums {
	double a[ACT_BLOCK], b[ACT_BLOCK];
};

/* Sixteen doubles (a block of channels) as four vectors of four: in
 * vectors the accumulators stay in registers, where as arrays indexed in a
 * loop GCC kept them in memory (and left the masked loop scalar). Lane l
 * adds in the order the plain path does. */
_Static_assert(ACT_BLOCK == 16, "block_sums holds a block as four vectors");
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

/* Four floats at p (any alignment). A macro: functions passing AVX-sized
 * vectors by value trip -Wpsabi on SSE-only targets. */
#define LOAD4(v, p) memcpy(&(v), (p), sizeof(v4f))
#define WIDEN(v) __builtin_convertvector((v), v4d)

/* Σ(x − k) and Σ(x − k)² (dy == NULL), or Σdy and Σ(x − k)·dy, per channel of
 * block cb over images [n0, n1); with dy, x − k is a float difference. With
 * relu_out, dy is 0 where relu_out <= 0 (relu.h's backward). */
static void block_sums(struct sums *r, const float *in, const float *dy,
		       const float *relu_out, const float *k, int cb, int n0, int n1,
		       const struct batchnorm2d_shape *s)
{
	const int CB = s->C / ACT_BLOCK;
	const size_t HW = (size_t)s->H * s->W;
	v4d a[4] = {{0}}, b[4] = {{0}}, kd[4];
	v4f kf[4];
	for (int q = 0; q < 4; q++) {
		LOAD4(kf[q], k + 4 * q);
		kd[q] = WIDEN(kf[q]);
	}
	for (int n = n0; n < n1; n++) {
		const size_t base = ((size_t)n * CB + cb) * HW * ACT_BLOCK;
		const float *x = in + base, *g = dy ? dy + base : NULL;
		const float *o = relu_out ? relu_out + base : NULL;
		for (size_t i = 0; i < HW; i++, x += ACT_BLOCK) {
			if (!g) {
#pragma GCC unroll 4
				for (int q = 0; q < 4; q++) {
					v4f xf;
					LOAD4(xf, x + 4 * q);
					const v4d d = WIDEN(xf) - kd[q];
					a[q] += d;
					b[q] += d * d;
				}
				continue;
			}
#pragma GCC unroll 4
			for (int q = 0; q < 4; q++) {
				v4f xf, gf;
				LOAD4(xf, x + 4 * q);
				LOAD4(gf, g + 4 * q);
				if (o) {
					v4f of;
					LOAD4(of, o + 4 * q);
					gf = (v4f)((v4i)gf & ~(of <= 0));
				}
				const v4d gd = WIDEN(gf);
				a[q] += gd;
				b[q] += WIDEN(xf - kf[q]) * gd;
			}
			g += ACT_BLOCK;
			o = o ? o + ACT_BLOCK : NULL;
		}
	}
	for (int l = 0; l < ACT_BLOCK; l++)
		r->a[l] = a[l / 4][l % 4], r->b[l] = b[l / 4][l % 4];
}

/* The sums of every channel: r[c] over the whole batch. */
static void all_sums(struct sums *r, const float *in, const float *dy,
		     const float *relu_out, const float *k, const struct batchnorm2d_shape *s)
{
	const int CB = s->C / ACT_BLOCK, N = s->N;
	struct sums *part = xmalloc((size_t)CB * BN_PARTS * sizeof(*part));
#pragma omp parallel for collapse(2) schedule(static)
	for (int cb = 0; cb < CB; cb++)
		for (int q = 0; q < BN_PARTS; q++)
			block_sums(&part[cb * BN_PARTS + q], in, dy, relu_out, k + cb * ACT_BLOCK, cb,
				   (int)((long)N * q / BN_PARTS), (int)((long)N * (q + 1) / BN_PARTS), s);
	for (int cb = 0; cb < CB; cb++) {
		r[cb] = part[cb * BN_PARTS];
		for (int q = 1; q < BN_PARTS; q++)
			for (int l = 0; l < ACT_BLOCK; l++) {
				r[cb].a[l] += part[cb * BN_PARTS + q].a[l];
				r[cb].b[l] += part[cb * BN_PARTS + q].b[l];
			}
	}
	free(part);
}

/* y = x·alpha[c] + shift[c] over the batch; with s->relu, y < 0 becomes 0
 * (relu.h's forward). */
static void scale_shift_blocked(float *out, const float *in, const float *alpha,
				const float *shift, const struct batchnorm2d_shape *s)
{
	const int CB = s->C / ACT_BLOCK;
	const size_t HW = (size_t)s->H * s->W;
	const long planes = (long)s->N * CB;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		const float *al = alpha + (p % CB) * ACT_BLOCK, *sh = shift + (p % CB) * ACT_BLOCK;
		const float *x = in + (size_t)p * HW * ACT_BLOCK;
		float *y = out + (size_t)p * HW * ACT_BLOCK;
		if (s->relu) {
			for (size_t i = 0; i < HW; i++)
#pragma omp simd
				for (int l = 0; l < ACT_BLOCK; l++) {
					const float v = x[i * ACT_BLOCK + l] * al[l] + sh[l];
					y[i * ACT_BLOCK + l] = v < 0 ? 0.0f : v;
				}
		} else {
			for (size_t i = 0; i < HW; i++)
#pragma omp simd
				for (int l = 0; l < ACT_BLOCK; l++)
					y[i * ACT_BLOCK + l] = x[i * ACT_BLOCK + l] * al[l] + sh[l];
		}
	}
}

static void train_blocked(float *out, float *mean, float *invstd, const float *in,
			  const float *gamma, const float *beta, float *running_mean,
			  float *running_var, const struct batchnorm2d_shape *s)
{
	const int C = s->C, CB = C / ACT_BLOCK;
	const size_t M = (size_t)s->N * s->H * s->W;
	CHECK(C % ACT_BLOCK == 0);
	float *k = xmalloc(3 * (size_t)C * sizeof(float)), *alpha = k + C, *shift = alpha + C;
	/* the shift: each channel's first value, as the plain path */
	for (int c = 0; c < C; c++)
		k[c] = in[(size_t)(c / ACT_BLOCK) * s->H * s->W * ACT_BLOCK + c % ACT_BLOCK];
	struct sums *r = xmalloc((size_t)CB * sizeof(*r));
	all_sums(r, in, NULL, NULL, k, s);
	double *t = xmalloc(3 * (size_t)C * sizeof(double));
	for (int c = 0; c < C; c++) {
		t[3 * c] = r[c / ACT_BLOCK].a[c % ACT_BLOCK];
		t[3 * c + 1] = r[c / ACT_BLOCK].b[c % ACT_BLOCK];
		t[3 * c + 2] = k[c];
	}
	size_t all = M;
	if (s->share > 0)
		bn_sync_stats(t, C, &all);
	for (int c = 0; c < C; c++) {
		double dm = t[3 * c] / (double)all;
		double var = t[3 * c + 1] / (double)all - dm * dm;
		finish_stats(k[c] + dm, var < 0 ? 0 : var, all, s, c, mean, invstd, running_mean,
			     running_var);
		alpha[c] = gamma[c] * invstd[c];
		shift[c] = beta[c] - mean[c] * alpha[c];
	}
	scale_shift_blocked(out, in, alpha, shift, s);
	free(t);
	free(r);
	free(k);
}

static void eval_blocked(float *out, const float *in, const float *gamma, const float *beta,
			 const float *running_mean, const float *running_var,
			 const struct batchnorm2d_shape *s)
{
	const int C = s->C;
	CHECK(C % ACT_BLOCK == 0);
	float *alpha = xmalloc(2 * (size_t)C * sizeof(float)), *shift = alpha + C;
	for (int c = 0; c < C; c++) {
		alpha[c] = (float)(gamma[c] / sqrt((double)running_var[c] + s->eps));
		shift[c] = beta[c] - running_mean[c] * alpha[c];
	}
	scale_shift_blocked(out, in, alpha, shift, s);
	free(alpha);
}

static void backward_blocked(float *din, float *dgamma, float *dbeta, const float *mean,
			     const float *invstd, const float *dout, const float *relu_out,
			     const float *in, const float *gamma,
			     const struct batchnorm2d_shape *s)
{
	const int C = s->C, CB = C / ACT_BLOCK;
	const size_t HW = (size_t)s->H * s->W, M = (size_t)s->N * HW;
	CHECK(C % ACT_BLOCK == 0);
	struct sums *r = xmalloc((size_t)CB * sizeof(*r));
	all_sums(r, in, dout, relu_out, mean, s);
	double *g = xmalloc(2 * (size_t)C * sizeof(double));
	for (int c = 0; c < C; c++) {
		g[2 * c] = r[c / ACT_BLOCK].a[c % ACT_BLOCK];
		g[2 * c + 1] = r[c / ACT_BLOCK].b[c % ACT_BLOCK];
		/* the parameters' gradients from this rank's own sums */
		dgamma[c] += (float)(g[2 * c + 1] * invstd[c]);
		dbeta[c] += (float)g[2 * c];
	}
	size_t all = M;
	if (s->share > 0)
		bn_sync_grads(g, C, s->share, &all);
	float *k = xmalloc(3 * (size_t)C * sizeof(float)), *grad_mean = k + C, *w = grad_mean + C;
	for (int c = 0; c < C; c++) {
		k[c] = (float)(g[2 * c + 1] * invstd[c] * invstd[c] / (double)all);
		grad_mean[c] = (float)(g[2 * c] / (double)all);
		w[c] = gamma[c] * invstd[c];
	}
	free(g);
	const long planes = (long)s->N * CB;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		const int c0 = (int)(p % CB) * ACT_BLOCK;
		const float *x = in + (size_t)p * HW * ACT_BLOCK;
		const float *dy = dout + (size_t)p * HW * ACT_BLOCK;
		float *dx = din + (size_t)p * HW * ACT_BLOCK;
		if (relu_out) {
			const float *o = relu_out + (size_t)p * HW * ACT_BLOCK;
			for (size_t i = 0; i < HW * ACT_BLOCK; i += ACT_BLOCK)
#pragma omp simd
				for (int l = 0; l < ACT_BLOCK; l++) {
					const float d = dy[i + l], g = o[i + l] <= 0 ? 0.0f : d;
					dx[i + l] = (g - grad_mean[c0 + l] -
						     (x[i + l] - mean[c0 + l]) * k[c0 + l]) *
						    w[c0 + l];
				}
			continue;
		}
		for (size_t i = 0; i < HW * ACT_BLOCK; i += ACT_BLOCK)
#pragma omp simd
			for (int l = 0; l < ACT_BLOCK; l++)
				dx[i + l] = (dy[i + l] - grad_mean[c0 + l] -
					     (x[i + l] - mean[c0 + l]) * k[c0 + l]) * w[c0 + l];
	}
	free(k);
	free(r);
}

/* ---- the plain layout ---- */

/* y = x·alpha + shift over one plane, then relu.h's forward if relu. */
static void scale_shift_plane(float *y, const float *x, size_t HW, float alpha, float shift,
			      int relu)
{
	if (relu) {
#pragma omp simd
		for (size_t i = 0; i < HW; i++) {
			const float v = x[i] * alpha + shift;
			y[i] = v < 0 ? 0.0f : v;
		}
	} else {
#pragma omp simd
		for (size_t i = 0; i < HW; i++)
			y[i] = x[i] * alpha + shift;
	}
}

void batchnorm2d_forward_train(float *out, float *mean, float *invstd,
			       const float *in, const float *gamma,
			       const float *beta, float *running_mean,
			       float *running_var,
			       const struct batchnorm2d_shape *s)
{
	check_shape(s);
	if (s->blocked) {
		train_blocked(out, mean, invstd, in, gamma, beta, running_mean, running_var, s);
		return;
	}
	const int N = s->N, C = s->C;
	const size_t HW = (size_t)s->H * s->W, M = (size_t)N * HW;
	double *t = xmalloc(3 * (size_t)C * sizeof(double));
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		/* One pass over the channel for Σ(x − k) and Σ(x − k)², shifted
		 * by one of its values k so that the variance does not cancel
		 * when |mean| ≫ std. */
		const double k = in[(size_t)c * HW];
		double s1 = 0, s2 = 0;
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
#pragma omp simd reduction(+ : s1, s2)
			for (size_t i = 0; i < HW; i++) {
				double d = (double)x[i] - k;
				s1 += d;
				s2 += d * d;
			}
		}
		t[3 * c] = s1, t[3 * c + 1] = s2, t[3 * c + 2] = k;
	}
	size_t all = M;
	if (s->share > 0)
		bn_sync_stats(t, C, &all);
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		double dm = t[3 * c] / (double)all;
		double var = t[3 * c + 1] / (double)all - dm * dm;
		if (var < 0)
			var = 0;
		finish_stats(t[3 * c + 2] + dm, var, all, s, c, mean, invstd, running_mean,
			     running_var);

		const float alpha = gamma[c] * invstd[c];
		const float shift = beta[c] - mean[c] * alpha;
		for (int n = 0; n < N; n++)
			scale_shift_plane(out + ((size_t)n * C + c) * HW,
					  in + ((size_t)n * C + c) * HW, HW, alpha, shift, s->relu);
	}
	free(t);
}

void batchnorm2d_forward_eval(float *out, const float *in, const float *gamma,
			      const float *beta, const float *running_mean,
			      const float *running_var,
			      const struct batchnorm2d_shape *s)
{
	check_shape(s);
	if (s->blocked) {
		eval_blocked(out, in, gamma, beta, running_mean, running_var, s);
		return;
	}
	const int C = s->C;
	const size_t HW = (size_t)s->H * s->W;
	const long planes = (long)s->N * C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		int c = (int)(p % C);
		float alpha = (float)(gamma[c] / sqrt((double)running_var[c] + s->eps));
		float shift = beta[c] - running_mean[c] * alpha;
		scale_shift_plane(out + (size_t)p * HW, in + (size_t)p * HW, HW, alpha, shift,
				  s->relu);
	}
}

void batchnorm2d_backward(float *din, float *dgamma, float *dbeta,
			  const float *mean, const float *invstd,
			  const float *dout, const float *in, const float *gamma,
			  const struct batchnorm2d_shape *s)
{
	batchnorm2d_relu_backward(din, dgamma, dbeta, mean, invstd, dout, NULL, in, gamma, s);
}

/* dy where relu_out > 0, else 0; dy itself without relu_out. */
static inline float masked(const float *dy, const float *relu_out, size_t i)
{
	const float d = dy[i];
	return relu_out && relu_out[i] <= 0 ? 0.0f : d;
}

void batchnorm2d_relu_backward(float *din, float *dgamma, float *dbeta,
			       const float *mean, const float *invstd,
			       const float *dout, const float *relu_out,
			       const float *in, const float *gamma,
			       const struct batchnorm2d_shape *s)
{
	check_shape(s);
	if (s->blocked) {
		backward_blocked(din, dgamma, dbeta, mean, invstd, dout, relu_out, in, gamma, s);
		return;
	}
	const int N = s->N, C = s->C;
	const size_t HW = (size_t)s->H * s->W, M = (size_t)N * HW;
	double *t = xmalloc(2 * (size_t)C * sizeof(double));
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		const float mu = mean[c];
		double sum_dy = 0, dotp = 0;
		for (int n = 0; n < N; n++) {
			const size_t base = ((size_t)n * C + c) * HW;
			const float *x = in + base, *dy = dout + base;
			const float *o = relu_out ? relu_out + base : NULL;
#pragma omp simd reduction(+ : sum_dy, dotp)
			for (size_t i = 0; i < HW; i++) {
				const float g = masked(dy, o, i);
				sum_dy += g;
				dotp += (double)(x[i] - mu) * g;
			}
		}
		/* the parameters' gradients from this rank's own sums */
		dgamma[c] += (float)(dotp * invstd[c]);
		dbeta[c] += (float)sum_dy;
		t[2 * c] = sum_dy, t[2 * c + 1] = dotp;
	}
	size_t all = M;
	if (s->share > 0)
		bn_sync_grads(t, C, s->share, &all);
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		const float mu = mean[c];
		const float k = (float)(t[2 * c + 1] * invstd[c] * invstd[c] / (double)all);
		const float grad_mean = (float)(t[2 * c] / (double)all);
		const float w = gamma[c] * invstd[c];
		for (int n = 0; n < N; n++) {
			const size_t base = ((size_t)n * C + c) * HW;
			const float *x = in + base, *dy = dout + base;
			const float *o = relu_out ? relu_out + base : NULL;
			float *dx = din + base;
#pragma omp simd
			for (size_t i = 0; i < HW; i++)
				dx[i] = (masked(dy, o, i) - grad_mean - (x[i] - mu) * k) * w;
		}
	}
	free(t);
}

/* ---- plain loops: the test oracle ---- */

#define AT(t, n, c, i) (t)[((size_t)(n) * s->C + (c)) * HW + (i)]

void batchnorm2d_forward_train_naive(float *out, float *mean, float *invstd,
				     const float *in, const float *gamma,
				     const float *beta, float *running_mean,
				     float *running_var,
				     const struct batchnorm2d_shape *s)
{
	check_shape(s);
	const size_t HW = (size_t)s->H * s->W, M = (size_t)s->N * HW;
	for (int c = 0; c < s->C; c++) {
		double sum = 0, sq = 0;
		for (int n = 0; n < s->N; n++)
			for (size_t i = 0; i < HW; i++)
				sum += AT(in, n, c, i);
		double mu = sum / (double)M;
		for (int n = 0; n < s->N; n++)
			for (size_t i = 0; i < HW; i++)
				sq += (AT(in, n, c, i) - mu) * (AT(in, n, c, i) - mu);
		finish_stats(mu, sq / (double)M, M, s, c, mean, invstd,
			     running_mean, running_var);
		for (int n = 0; n < s->N; n++)
			for (size_t i = 0; i < HW; i++)
				AT(out, n, c, i) = (float)((AT(in, n, c, i) - mu) *
					invstd[c] * gamma[c] + beta[c]);
	}
}

void batchnorm2d_backward_naive(float *din, float *dgamma, float *dbeta,
				const float *mean, const float *invstd,
				const float *dout, const float *in,
				const float *gamma,
				const struct batchnorm2d_shape *s)
{
	check_shape(s);
	const size_t HW = (size_t)s->H * s->W, M = (size_t)s->N * HW;
	for (int c = 0; c < s->C; c++) {
		double sum_dy = 0, sum_dy_xhat = 0;
		for (int n = 0; n < s->N; n++)
			for (size_t i = 0; i < HW; i++) {
				double xhat = (AT(in, n, c, i) - (double)mean[c]) * invstd[c];
				sum_dy += AT(dout, n, c, i);
				sum_dy_xhat += AT(dout, n, c, i) * xhat;
			}
		dgamma[c] += (float)sum_dy_xhat;
		dbeta[c] += (float)sum_dy;
		for (int n = 0; n < s->N; n++)
			for (size_t i = 0; i < HW; i++) {
				double xhat = (AT(in, n, c, i) - (double)mean[c]) * invstd[c];
				AT(din, n, c, i) = (float)(gamma[c] * invstd[c] *
					(AT(dout, n, c, i) - sum_dy / M - xhat * sum_dy_xhat / M));
			}
	}
}
