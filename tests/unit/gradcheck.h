/* Finite-difference checks of backward functions (STYLE.md 16, as ggml's
 * test-backend-ops grad mode): with L = Σ out·dout summed in double, the
 * central difference (L(x + h) − L(x − h))/(2h) of each element of one
 * buffer is compared with the gradient a backward gave. Also random
 * buffers from a fixed seed. Include after <cmocka.h> and "fixture.h". */
#ifndef PCQ_TEST_GRADCHECK_H
#define PCQ_TEST_GRADCHECK_H

#include "rng.h"

#include <stdlib.h>

/* Runs the forward being checked: reads its inputs through ctx (one of
 * them is the buffer gradcheck perturbs) and writes out (n_out). */
typedef void (*gradcheck_forward)(void *ctx, float *out);

static inline double gradcheck_loss(gradcheck_forward fwd, void *ctx, float *out,
				    const float *dout, size_t n_out)
{
	fwd(ctx, out);
	double l = 0;
	for (size_t i = 0; i < n_out; i++)
		l += (double)out[i] * dout[i];
	return l;
}

/* Compares grad (n) with central differences of L in `param` (n), which
 * fwd reads through ctx; param is restored afterwards. Elements with
 * skip[i] set (non-differentiable points; skip may be NULL) are not
 * checked. Passes when |grad − numeric| <= atol + rtol·|numeric|. */
static inline void gradcheck(gradcheck_forward fwd, void *ctx, float *param,
			     size_t n, const float *grad, const float *dout,
			     size_t n_out, const unsigned char *skip, float h,
			     double atol, double rtol, const char *what)
{
	float *out = malloc(n_out * sizeof(float));
	float *numeric = malloc(n * sizeof(float));
	assert_non_null(out);
	assert_non_null(numeric);
	size_t checked = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip && skip[i]) {
			numeric[i] = grad[i];
			continue;
		}
		const float x = param[i], xp = x + h, xm = x - h;
		param[i] = xp;
		double lp = gradcheck_loss(fwd, ctx, out, dout, n_out);
		param[i] = xm;
		double lm = gradcheck_loss(fwd, ctx, out, dout, n_out);
		param[i] = x;
		numeric[i] = (float)((lp - lm) / ((double)xp - xm));
		checked++;
	}
	/* A check that skips most points checks nothing. */
	assert_true(checked * 2 >= n);
	assert_close(grad, numeric, n, atol, rtol, what);
	free(out);
	free(numeric);
}

/* x[i] ~ N(mean, std²) from a fixed seed. */
static inline void fill_normal(float *x, size_t n, float mean, float std,
			       uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed, 0);
	for (size_t i = 0; i < n; i++)
		x[i] = mean + std * rng_normal(&r);
}

#endif
