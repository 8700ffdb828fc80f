/* BatchNorm2d forward (training and eval) and backward on the CPU,
 * following PyTorch's CPU kernels (aten/src/ATen/native/Normalization.cpp:
 * statistics accumulated in double, y = x·α + β' with α = γ·invstd and
 * β' = β − μ·α, the backward through dotp = Σ (x − μ)·dy). */
#include "batchnorm2d.h"

#include "check.h"

#include <math.h>
#include <stddef.h>

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
	CHECK(M >= 2 && s->momentum > 0 && s->momentum <= 1);
	double m = s->momentum;
	mean[c] = (float)mu;
	invstd[c] = (float)(1.0 / sqrt(var + s->eps));
	running_mean[c] = (float)((1 - m) * running_mean[c] + m * mu);
	running_var[c] = (float)((1 - m) * running_var[c] + m * var * M / (M - 1));
}

void batchnorm2d_forward_train(float *out, float *mean, float *invstd,
			       const float *in, const float *gamma,
			       const float *beta, float *running_mean,
			       float *running_var,
			       const struct batchnorm2d_shape *s)
{
	check_shape(s);
	const int N = s->N, C = s->C;
	const size_t HW = (size_t)s->H * s->W, M = (size_t)N * HW;
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
		double dm = s1 / (double)M;
		double var = s2 / (double)M - dm * dm;
		if (var < 0)
			var = 0;
		finish_stats(k + dm, var, M, s, c, mean, invstd, running_mean,
			     running_var);

		const float alpha = gamma[c] * invstd[c];
		const float shift = beta[c] - mean[c] * alpha;
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			float *y = out + ((size_t)n * C + c) * HW;
#pragma omp simd
			for (size_t i = 0; i < HW; i++)
				y[i] = x[i] * alpha + shift;
		}
	}
}

void batchnorm2d_forward_eval(float *out, const float *in, const float *gamma,
			      const float *beta, const float *running_mean,
			      const float *running_var,
			      const struct batchnorm2d_shape *s)
{
	check_shape(s);
	const int C = s->C;
	const size_t HW = (size_t)s->H * s->W;
	const long planes = (long)s->N * C;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < planes; p++) {
		int c = (int)(p % C);
		float alpha = (float)(gamma[c] / sqrt((double)running_var[c] + s->eps));
		float shift = beta[c] - running_mean[c] * alpha;
		const float *x = in + (size_t)p * HW;
		float *y = out + (size_t)p * HW;
#pragma omp simd
		for (size_t i = 0; i < HW; i++)
			y[i] = x[i] * alpha + shift;
	}
}

void batchnorm2d_backward(float *din, float *dgamma, float *dbeta,
			  const float *mean, const float *invstd,
			  const float *dout, const float *in, const float *gamma,
			  const struct batchnorm2d_shape *s)
{
	check_shape(s);
	const int N = s->N, C = s->C;
	const size_t HW = (size_t)s->H * s->W, M = (size_t)N * HW;
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		const float mu = mean[c];
		double sum_dy = 0, dotp = 0;
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			const float *dy = dout + ((size_t)n * C + c) * HW;
#pragma omp simd reduction(+ : sum_dy, dotp)
			for (size_t i = 0; i < HW; i++) {
				sum_dy += dy[i];
				dotp += (double)(x[i] - mu) * dy[i];
			}
		}
		dgamma[c] += (float)(dotp * invstd[c]);
		dbeta[c] += (float)sum_dy;

		const float k = (float)(dotp * invstd[c] * invstd[c] / (double)M);
		const float grad_mean = (float)(sum_dy / (double)M);
		const float w = gamma[c] * invstd[c];
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			const float *dy = dout + ((size_t)n * C + c) * HW;
			float *dx = din + ((size_t)n * C + c) * HW;
#pragma omp simd
			for (size_t i = 0; i < HW; i++)
				dx[i] = (dy[i] - grad_mean - (x[i] - mu) * k) * w;
		}
	}
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
