/* Throughput of common/iconv.h (oneDNN's int8 convolution primitive plus
 * the zero-point corrections) against the integer engine's current path
 * (NHWC im2col padded with each image's zero point, then igemm_u8s8s32, as
 * common/qengine.c's weighted() does it; a 1x1 stride-1 unpadded conv
 * skips the im2col) on the convolutions of ResNet20 and AlexNetSmall at
 * batch 128 on 32x32 inputs, random data, per-image z1.
 *
 * GOP/s = 2·n·OH·OW·K·C·k² per call (padded taps included), best of REPS
 * calls after a warm-up call, for
 *   run      iconv_run: the full definition, z1 subtracted;
 *   padded   iconv_run_padded: like the current path, leaves
 *            −z1·Σ(q_w − Z2) to the caller (qengine folds it into its
 *            requantization loop); "speedup" is padded against im2col;
 *   (prim)   iconv_run with every z1 = 0, which skips the correction
 *            pass: the primitive alone (blank when some channel needs the
 *            box-sum term: 8-bit weights with Z2 off the middle);
 *   im2col   im2col + igemm_u8s8s32.
 * "same": iconv_run_padded's output equals the current path's, and
 * iconv_run's equals it after the −z1·Σ(q_w − Z2) term (not timed). The
 * last line weights ResNet20's layers by their counts in the network:
 * convolution time per batch and images/s.
 *   iconv_bench [REPS] [THREADS] [BITS] [Z2]   (defaults 3, 2, 8, 128;
 *   a Z2 outside 0..2^BITS − 1: 2^(BITS−1)) */
#include "iconv.h"
#include "igemm.h"
#include "rng.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

struct shape {
	const char *name;
	int C, H, K, kernel, stride, pad;
	int resnet_count;   /* times in ResNet20 (0: AlexNetSmall) */
};

static const struct shape shapes[] = {
	{ "resnet20 conv1 3->16 k3 32x32", 3, 32, 16, 3, 1, 1, 1 },
	{ "resnet20 16->16 k3 32x32", 16, 32, 16, 3, 1, 1, 6 },
	{ "resnet20 16->32 k3 s2 32x32", 16, 32, 32, 3, 2, 1, 1 },
	{ "resnet20 16->32 k1 s2 32x32 (shortcut)", 16, 32, 32, 1, 2, 0, 1 },
	{ "resnet20 32->32 k3 16x16", 32, 16, 32, 3, 1, 1, 5 },
	{ "resnet20 32->64 k3 s2 16x16", 32, 16, 64, 3, 2, 1, 1 },
	{ "resnet20 32->64 k1 s2 16x16 (shortcut)", 32, 16, 64, 1, 2, 0, 1 },
	{ "resnet20 64->64 k3 8x8", 64, 8, 64, 3, 1, 1, 5 },
	{ "alexnet-small 3->96 k5 p2 32x32", 3, 32, 96, 5, 1, 2, 0 },
	{ "alexnet-small 96->256 k5 p2 15x15", 96, 15, 256, 5, 1, 2, 0 },
	{ "alexnet-small 256->384 k3 p1 7x7", 256, 7, 384, 3, 1, 1, 0 },
	{ "alexnet-small 384->384 k3 p1 7x7", 384, 7, 384, 3, 1, 1, 0 },
	{ "alexnet-small 384->256 k3 p1 7x7", 384, 7, 256, 3, 1, 1, 0 },
};

#define BATCH 128

/* The current path's im2col (qengine.c): one row per output pixel,
 * (ky, kx, c) per row, padding = the image's zero point. */
static void im2col(uint8_t *col, const uint8_t *x, const struct shape *s, int n, int OH,
		   const int32_t *z1)
{
	const int k = s->kernel, C = s->C, H = s->H;
	const size_t row = (size_t)k * k * C;
#pragma omp parallel for collapse(2) schedule(static)
	for (int i = 0; i < n; i++)
		for (int oy = 0; oy < OH; oy++) {
			const uint8_t pad = (uint8_t)z1[i];
			const uint8_t *img = x + (size_t)i * H * H * C;
			for (int ox = 0; ox < OH; ox++) {
				uint8_t *r = col + (((size_t)i * OH + oy) * OH + ox) * row;
				for (int ky = 0; ky < k; ky++) {
					const int y = oy * s->stride - s->pad + ky;
					for (int kx = 0; kx < k; kx++, r += C) {
						const int xx = ox * s->stride - s->pad + kx;
						if (y < 0 || y >= H || xx < 0 || xx >= H)
							memset(r, pad, (size_t)C);
						else
							memcpy(r, img + ((size_t)y * H + xx) * C,
							       (size_t)C);
					}
				}
			}
		}
}

int main(int argc, char **argv)
{
	const int reps = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 2;
	const int bits = argc > 3 ? atoi(argv[3]) : 8;
	int w_zero = argc > 4 ? atoi(argv[4]) : 128;
	if (reps < 1 || bits < 2 || bits > 8) {
		fprintf(stderr, "usage: iconv_bench [REPS >= 1] [THREADS] [BITS 2..8] [Z2]\n");
		return 2;
	}
	const int qmax = (1 << bits) - 1;
	if (w_zero < 0 || w_zero > qmax)
		w_zero = 1 << (bits - 1);
	threads_set(threads);
	/* OpenBLAS (linked through libpcq, unused here) starts its own thread
	 * pool at load, and those threads spin for a while: let them settle
	 * before timing, or the first layer's numbers suffer. */
	nanosleep(&(struct timespec){ .tv_nsec = 300000000 }, NULL);
	const char *why = iconv_unavailable();
	if (why) {
		printf("iconv is not available here: %s\n", why);
		return 0;
	}
	/* the current path's int8 weights: q_w − off, zero point Z2 − off */
	const int off = bits == 8 ? 128 : 0;
	printf("iconv vs im2col + igemm_u8s8s32, batch %d, %d threads, %d-bit weights, Z2 %d, "
	       "per-image z1 in 0..255, best of %d calls\n", BATCH, threads_get(), bits, w_zero,
	       reps);
	printf("%-40s %-28s %7s %7s %7s %7s %7s  %s\n", "layer", "oneDNN implementation", "run",
	       "padded", "(prim)", "im2col", "speedup", "same");
	printf("%-40s %-28s %7s %7s %7s %7s\n", "", "", "GOP/s", "GOP/s", "GOP/s", "GOP/s");
	double resnet_iconv = 0, resnet_padded = 0, resnet_cur = 0;
	int mismatches = 0;
	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		const struct shape *s = &shapes[si];
		const int OH = (s->H + 2 * s->pad - s->kernel) / s->stride + 1;
		const size_t taps = (size_t)s->kernel * s->kernel * s->C;
		const size_t nx = (size_t)BATCH * s->H * s->H * s->C;
		const size_t rows = (size_t)BATCH * OH * OH;
		const size_t nout = rows * s->K;
		const int direct = s->kernel == 1 && s->stride == 1 && s->pad == 0;
		uint8_t *x = malloc(nx), *q_w = malloc(taps * s->K);
		uint8_t *col = direct ? NULL : malloc(rows * taps);
		int8_t *b = malloc(taps * s->K);
		int32_t *z1 = malloc(BATCH * sizeof(int32_t));
		int32_t *wsum = calloc(s->K, sizeof(int32_t));
		int32_t *acc1 = malloc(nout * sizeof(int32_t));
		int32_t *acc2 = malloc(nout * sizeof(int32_t));
		if (!x || !q_w || (!direct && !col) || !b || !z1 || !wsum || !acc1 || !acc2)
			return 1;
		struct rng r;
		rng_seed(&r, 1 + si, 0);
		for (size_t q = 0; q < nx; q++)
			x[q] = (uint8_t)rng_below(&r, 256);
		for (size_t q = 0; q < taps * s->K; q++)
			q_w[q] = (uint8_t)rng_below(&r, (uint32_t)qmax + 1);
		for (int i = 0; i < BATCH; i++)
			z1[i] = (int32_t)rng_below(&r, 256);
		/* (K, C, ky, kx) → (K, ky, kx, C), as qengine stores them; whether
		 * iconv must offset some channel's weights (iconv.h) */
		int offset_weights = 0;
		for (int k = 0; k < s->K; k++) {
			int lo = 255, hi = 0;
			for (size_t t = 0; t < taps; t++) {
				int v = q_w[(size_t)k * taps + t];
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
			offset_weights |= w_zero < hi - 127 || w_zero > lo + 128;
		}
		for (int k = 0; k < s->K; k++)
			for (int c = 0; c < s->C; c++)
				for (int t = 0; t < s->kernel * s->kernel; t++) {
					const size_t kk = (size_t)s->kernel * s->kernel;
					int v = q_w[((size_t)k * s->C + c) * kk + t];
					b[(size_t)k * taps + (size_t)t * s->C + c] =
						(int8_t)(v - off);
					wsum[k] += v - w_zero;
				}

		struct iconv *cv;
		int32_t w_zeros[s->K];
		for (int k = 0; k < s->K; k++)
			w_zeros[k] = w_zero;
		int rc = iconv_create(&cv, BATCH, s->C, s->H, s->H, s->K, s->kernel, s->stride,
				      s->pad, q_w, w_zeros, bits);
		if (rc < 0)
			return 1;
		const double ops = 2.0 * (double)nout * (double)taps;
		double t_iconv = 1e30, t_cur = 1e30, t_prim = 1e30, t_padded = 1e30;
		int32_t *acc3 = malloc(nout * sizeof(int32_t));
		if (!acc3)
			return 1;
		/* z1 = 0 and no weight offset: iconv_run skips its corrections */
		int32_t *zeros = calloc(BATCH, sizeof(int32_t));
		for (int rep = 0; rep <= reps && cv && zeros && !offset_weights; rep++) {
			double t = now();
			iconv_run(cv, x, BATCH, zeros, acc1);
			t = now() - t;
			if (rep)
				t_prim = t < t_prim ? t : t_prim;
		}
		free(zeros);
		for (int rep = 0; rep <= reps && cv; rep++) {
			double t = now();
			iconv_run(cv, x, BATCH, z1, acc1);
			t = now() - t;
			if (rep)
				t_iconv = t < t_iconv ? t : t_iconv;
		}
		for (int rep = 0; rep <= reps && cv; rep++) {
			double t = now();
			iconv_run_padded(cv, x, BATCH, z1, acc3);
			t = now() - t;
			if (rep)
				t_padded = t < t_padded ? t : t_padded;
		}
		for (int rep = 0; rep <= reps; rep++) {
			double t = now();
			if (!direct)
				im2col(col, x, s, BATCH, OH, z1);
			igemm_u8s8s32((int)rows, s->K, (int)taps, direct ? x : col, (int)taps, 0, b,
				      (int)taps, (int8_t)(w_zero - off), acc2, s->K);
			t = now() - t;
			if (rep)
				t_cur = t < t_cur ? t : t_cur;
		}
		int same = 0;
		if (cv) {
			same = !memcmp(acc3, acc2, nout * sizeof(int32_t));
			for (size_t p = 0; p < rows; p++)
				for (int k = 0; k < s->K; k++)
					acc2[p * s->K + k] -= z1[p / ((size_t)OH * OH)] * wsum[k];
			same &= !memcmp(acc1, acc2, nout * sizeof(int32_t));
			mismatches += !same;
		}
		char prim[16] = "";
		if (t_prim < 1e30)
			snprintf(prim, sizeof(prim), "%.1f", ops / t_prim / 1e9);
		printf("%-40s %-28s %7.1f %7.1f %7s %7.1f %6.2fx  %s\n", s->name,
		       cv ? iconv_impl(cv) : "(not available)", cv ? ops / t_iconv / 1e9 : 0.0,
		       cv ? ops / t_padded / 1e9 : 0.0, prim, ops / t_cur / 1e9,
		       cv ? t_cur / t_padded : 0.0, cv ? (same ? "yes" : "NO") : "-");
		fflush(stdout);
		if (s->resnet_count) {
			resnet_iconv += s->resnet_count * (cv ? t_iconv : t_cur);
			resnet_padded += s->resnet_count * (cv ? t_padded : t_cur);
			resnet_cur += s->resnet_count * t_cur;
		}
		iconv_free(cv);
		free(x);
		free(q_w);
		free(col);
		free(b);
		free(z1);
		free(wsum);
		free(acc1);
		free(acc2);
		free(acc3);
	}
	printf("resnet20, its 21 convolutions per batch of %d: iconv_run %.1f ms (%.0f images/s), "
	       "iconv_run_padded %.1f ms (%.0f images/s), im2col + igemm %.1f ms (%.0f images/s)\n",
	       BATCH, resnet_iconv * 1e3, BATCH / resnet_iconv, resnet_padded * 1e3,
	       BATCH / resnet_padded, resnet_cur * 1e3, BATCH / resnet_cur);
	return mismatches ? 1 : 0;
}
