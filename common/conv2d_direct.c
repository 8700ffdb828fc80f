/* 2-D convolution, direct AVX-512 path for 3x3 "same" convolutions; the
 * dispatch and the GEMM path are in conv2d.c. */
#include "conv2d.h"

#include "check.h"
#include "conv2d_internal.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

/* The direct path: 3x3, stride 1, pad 1 ("same") convolutions with K and
 * C multiples of 16, on CPUs with AVX-512 (ResNet20's 3x3 layers but the
 * first and the two with stride 2). No im2col: a vector of 16 consecutive output
 * pixels q reads tap (i, j) of a channel as the 16 input pixels at
 * q + (i − 1)·W + (j − 1), with a mask zeroing the lanes whose pixel is
 * in the padding (the rows wrap, so one mask per 16-pixel tile and tap).
 *
 *   forward: out[k][q..q+15] = b[k] + Σ_{c,t} wt[c·9 + t][k] · tap_t(in[c])
 *            for 16 k at a time, wt (C·9, K) the weights as [c][i][j][k];
 *   din:     the same kernel on dout with wf (K·9, C), the weights
 *            flipped and transposed: din = conv(dout, W[k][c][2 − i][2 − j]);
 *   dW:      dWᵀ[c·9 + t][k..k+15] += Σ_q x_c[q + t] · gᵀ[q][k..k+15] with
 *            x_c the image with a zero border and gᵀ (P, K) dout transposed,
 *            two channels at a time (18 accumulators).
 * Only small weights (CKK·K <= SMALL_WEIGHTS): on AlexNet's 7x7 maps a
 * quarter of the 64 lanes for 49 pixels idle and the GEMM path is as fast.
 * On ResNet20's layers these ran 20-35% faster than the GEMM path. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DIRECT_TARGET __attribute__((target("avx512f")))
#define EACH9(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8)
#define EACH16(X) EACH9(X) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

int conv2d_direct_ok(const struct conv2d_shape *s)
{
	return s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad == 1 &&
	       s->k % 16 == 0 && s->c % 16 == 0 && (size_t)s->c * 9 * s->k <= SMALL_WEIGHTS &&
	       __builtin_cpu_supports("avx512f");
}

/* The input pixel of lane 0 for tap t of tile q0, as an address: for the
 * first tiles it lies before the channel, in lanes the mask turns off. */
static inline const float *tap_addr(const float *x, int q0, int t, int w)
{
	return (const float *)((uintptr_t)x + sizeof(float) *
			       (intptr_t)(q0 + (t / 3 - 1) * w + (t % 3 - 1)));
}

/* masks[tile·9 + t]: the lanes of 16-pixel tile `tile` whose tap t is
 * inside the image (and whose pixel exists, for the last tile). */
static void direct_masks(uint16_t *masks, int h, int w)
{
	const int p = h * w;
	memset(masks, 0, sizeof(uint16_t) * ((p + 15) / 16 * 9));
	for (int oh = 0, ow = 0, q = 0; q < p; q++) {
		for (int t = 0; t < 9; t++) {
			int ih = oh + t / 3 - 1, iw = ow + t % 3 - 1;
			if (ih >= 0 && ih < h && iw >= 0 && iw < w)
				masks[q / 16 * 9 + t] |= (uint16_t)(1u << (q % 16));
		}
		if (++ow == w)
			ow = 0, oh++;
	}
}

/* out (K, P) = Σ_{c,t} wt[c·9 + t][k] · tap_t(x[c]) (+ b) for one image
 * x (C, H, W); wt (C·9, K); K % 16 == 0. */
DIRECT_TARGET
static void direct_conv_image(float *out, const float *x, const float *wt,
			      const float *b, int C, int K, int h, int w,
			      const uint16_t *masks)
{
	const int p = h * w;
	for (int q0 = 0; q0 < p; q0 += 16) {
		const uint16_t *m = masks + q0 / 16 * 9;
		const __mmask16 keep = p - q0 >= 16 ? 0xffff : (1u << (p - q0)) - 1;
		for (int k0 = 0; k0 < K; k0 += 16) {
			/* 16 named accumulators: GCC keeps an array of them in memory */
#define INIT(r) __m512 a##r = b ? _mm512_set1_ps(b[k0 + r]) : _mm512_setzero_ps();
#define FMA(r) a##r = _mm512_fmadd_ps(_mm512_set1_ps(wr[r]), v, a##r);
#define STORE(r) _mm512_mask_storeu_ps(out + (size_t)(k0 + r) * p + q0, keep, a##r);
			EACH16(INIT)
			for (int c = 0; c < C; c++) {
				const float *xc = x + (size_t)c * p;
				const float *wc = wt + (size_t)c * 9 * K + k0;
#pragma GCC unroll 9
				for (int t = 0; t < 9; t++) {
					const __m512 v = _mm512_maskz_loadu_ps(m[t], tap_addr(xc, q0, t, w));
					const float *wr = wc + (size_t)t * K;
					EACH16(FMA)
				}
			}
			EACH16(STORE)
#undef INIT
#undef FMA
#undef STORE
		}
	}
}

/* dwt (C·9, K) += Σ_q xpad[c][q + tap t] · gt[q][k] for one image: xpad
 * (C, H+2, W+2) the image inside a zero border, gt (P, K); K % 16 == 0. */
DIRECT_TARGET
static void direct_dw_image(float *dwt, const float *xpad, const float *gt,
			    int C, int K, int h, int w)
{
	const int wp = w + 2;
	const size_t plane = (size_t)(h + 2) * wp;
	for (int c = 0; c < C; c += 2) {
		/* two channels at a time; an odd last one is paired with itself */
		const float *x0 = xpad + c * plane;
		const float *x1 = c + 1 < C ? x0 + plane : x0;
		for (int k0 = 0; k0 < K; k0 += 16) {
#define INIT(t) __m512 a##t = _mm512_setzero_ps(), e##t = _mm512_setzero_ps();
#define FMA(t) { const size_t o = (t / 3) * wp + t % 3; \
		a##t = _mm512_fmadd_ps(_mm512_set1_ps(y0[o]), g, a##t); \
		e##t = _mm512_fmadd_ps(_mm512_set1_ps(y1[o]), g, e##t); }
#define ADD(t) { float *d = dwt + ((size_t)c * 9 + t) * K + k0; \
		_mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), a##t)); \
		if (c + 1 < C) \
			_mm512_storeu_ps(d + 9 * K, _mm512_add_ps(_mm512_loadu_ps(d + 9 * K), e##t)); }
			EACH9(INIT)
			for (int oh = 0; oh < h; oh++)
				for (int ow = 0; ow < w; ow++) {
					const __m512 g = _mm512_loadu_ps(gt + ((size_t)oh * w + ow) * K + k0);
					const float *y0 = x0 + (size_t)oh * wp + ow, *y1 = y0 + (x1 - x0);
					/* opaque to the optimiser: reusing the last pixel's
					 * taps from registers spilled half the accumulators */
					__asm__("" : "+r"(y0), "+r"(y1));
					EACH9(FMA)
				}
			EACH9(ADD)
#undef INIT
#undef FMA
#undef ADD
		}
	}
}

/* gt (P, K) = gᵀ for g (K, P), K % 16 == 0, by 16x16 blocks (a tail of
 * P % 16 columns element by element). */
DIRECT_TARGET
static void direct_transpose(float *gt, const float *g, int K, int p)
{
	for (int k0 = 0; k0 < K; k0 += 16) {
		int q0 = 0;
		for (; q0 + 16 <= p; q0 += 16) {
			__m512 r[16], u[16];
			for (int i = 0; i < 16; i++)
				r[i] = _mm512_loadu_ps(g + (size_t)(k0 + i) * p + q0);
			/* 2x2 blocks of 1, then of 2 (floats), then of 4 and 8 (lanes) */
			for (int i = 0; i < 16; i += 2) {
				u[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
				u[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
			}
			for (int i = 0; i < 16; i += 4) {
				r[i] = _mm512_shuffle_ps(u[i], u[i + 2], 0x44);
				r[i + 1] = _mm512_shuffle_ps(u[i], u[i + 2], 0xee);
				r[i + 2] = _mm512_shuffle_ps(u[i + 1], u[i + 3], 0x44);
				r[i + 3] = _mm512_shuffle_ps(u[i + 1], u[i + 3], 0xee);
			}
			for (int i = 0; i < 4; i++) {
				u[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
				u[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
				u[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
				u[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
			}
			for (int i = 0; i < 8; i++) {
				r[i] = _mm512_shuffle_f32x4(u[i], u[i + 8], 0x88);
				r[i + 8] = _mm512_shuffle_f32x4(u[i], u[i + 8], 0xdd);
			}
			/* r[j] now holds column q0 + j */
			for (int j = 0; j < 16; j++)
				_mm512_storeu_ps(gt + (size_t)(q0 + j) * K + k0, r[j]);
		}
		for (; q0 < p; q0++)
			for (int i = 0; i < 16; i++)
				gt[(size_t)q0 * K + k0 + i] = g[(size_t)(k0 + i) * p + q0];
	}
}

/* Workspace of the direct path: the masks, then the rearranged weights
 * (C·9·K), then per thread xpad (C, H+2, W+2), gᵀ (P, K), dWᵀ (C·9, K)
 * and db (K) partials. */
static size_t direct_masks_floats(const struct conv2d_shape *s)
{
	return ((size_t)(s->h * s->w + 15) / 16 * 9 + 1) / 2;
}

static size_t direct_slice_floats(const struct conv2d_shape *s)
{
	return (size_t)s->c * (s->h + 2) * (s->w + 2) + (size_t)s->h * s->w * s->k
	       + (size_t)s->c * 9 * s->k + s->k;
}

size_t conv2d_direct_workspace_floats(const struct conv2d_shape *s)
{
	return direct_masks_floats(s) + (size_t)s->c * 9 * s->k +
	       direct_slice_floats(s) * omp_get_max_threads();
}

void conv2d_direct_forward(float *out, float *workspace, const float *in,
			   const float *w, const float *b, const struct conv2d_shape *s)
{
	const int C = s->c, K = s->k, p = s->h * s->w;
	uint16_t *masks = (uint16_t *)workspace;
	float *wt = workspace + direct_masks_floats(s);           /* (C·9, K) */
	direct_masks(masks, s->h, s->w);
	for (int k = 0; k < K; k++)
		for (int r = 0; r < C * 9; r++)
			wt[(size_t)r * K + k] = w[(size_t)k * C * 9 + r];
#pragma omp parallel for schedule(static)
	for (int n = 0; n < s->n; n++)
		direct_conv_image(out + (size_t)n * K * p, in + (size_t)n * C * p, wt, b,
				  C, K, s->h, s->w, masks);
}

void conv2d_direct_backward(float *din, float *dw, float *db, float *workspace,
			    const float *dout, const float *in, const float *w,
			    const struct conv2d_shape *s)
{
	const int C = s->c, K = s->k, h = s->h, wd = s->w, p = h * wd;
	const size_t plane = (size_t)(h + 2) * (wd + 2), slice = direct_slice_floats(s);
	uint16_t *masks = (uint16_t *)workspace;
	float *wf = workspace + direct_masks_floats(s);           /* (K·9, C) */
	float *threads = wf + (size_t)C * 9 * K;
	if (din) {
		direct_masks(masks, h, wd);
		for (int k = 0; k < K; k++)
			for (int c = 0; c < C; c++)
				for (int t = 0; t < 9; t++)
					wf[((size_t)k * 9 + t) * C + c] = w[((size_t)k * C + c) * 9 + 8 - t];
	}
#pragma omp parallel
	{
		const int nthreads = omp_get_num_threads();
		float *xpad = threads + slice * omp_get_thread_num(); /* (C, H+2, W+2) */
		float *gt = xpad + (size_t)C * plane;                  /* (P, K) */
		float *dwt = gt + (size_t)p * K;                       /* (C·9, K) */
		float *dbt = dwt + (size_t)C * 9 * K;                  /* (K) */
		memset(xpad, 0, sizeof(float) * C * plane);
		memset(dwt, 0, sizeof(float) * ((size_t)C * 9 * K + K));
#pragma omp for schedule(static)
		for (int n = 0; n < s->n; n++) {
			const float *x = in + (size_t)n * C * p, *g = dout + (size_t)n * K * p;
			for (int c = 0; c < C; c++)
				for (int ih = 0; ih < h; ih++) {
					float *d = xpad + c * plane + (size_t)(ih + 1) * (wd + 2) + 1;
					const float *src = x + ((size_t)c * h + ih) * wd;
#pragma omp simd
					for (int iw = 0; iw < wd; iw++)
						d[iw] = src[iw];
				}
			for (int k = 0; k < K; k++) {
				const float *gk = g + (size_t)k * p;
				float sum = 0;
#pragma omp simd reduction(+ : sum)
				for (int q = 0; q < p; q++)
					sum += gk[q];
				dbt[k] += sum;
			}
			direct_transpose(gt, g, K, p);
			direct_dw_image(dwt, xpad, gt, C, K, h, wd);
			if (din)
				direct_conv_image(din + (size_t)n * C * p, g, wf, NULL, K, C, h, wd,
						  masks);
		}
		conv2d_add_partials(dw, db, threads + (size_t)C * plane + (size_t)p * K, slice,
			     nthreads, C * 9, K);
	}
}

#else
/* Not x86-64 with GCC: the GEMM path only. */
int conv2d_direct_ok(const struct conv2d_shape *s)
{
	(void)s;
	return 0;
}

size_t conv2d_direct_workspace_floats(const struct conv2d_shape *s)
{
	(void)s;
	return 0;
}

void conv2d_direct_forward(float *out, float *workspace, const float *in,
			   const float *w, const float *b, const struct conv2d_shape *s)
{
	(void)out, (void)workspace, (void)in, (void)w, (void)b, (void)s;
	CHECK(!"direct path compiled out");
}

void conv2d_direct_backward(float *din, float *dw, float *db, float *workspace,
			    const float *dout, const float *in, const float *w,
			    const struct conv2d_shape *s)
{
	(void)din, (void)dw, (void)db, (void)workspace, (void)dout, (void)in, (void)w, (void)s;
	CHECK(!"direct path compiled out");
}
#endif
