/* 2-D convolution forward and backward; see conv2d.h.
 *
 * im2col + GEMM, cut for a small cache. With P = OH·OW, CKK = C·KH·KW,
 * each thread takes whole images and each image in bands of output rows;
 * for a band of `cols` output pixels, col = im2col(band) is (CKK, cols):
 *
 *   forward:  out[n] band (K, cols) = W (K, CKK) · col  (+ b[k] per row)
 *   backward: dWᵀ (CKK, K) += col · gᵀ,   g = the dout[n] band (K, cols)
 *             dcol (CKK, cols) = Wᵀ · g;  din[n] += col2im(dcol)
 *             db[k] += Σ g[k][:]
 *
 * The products write straight into out[n] and read straight from dout[n]
 * (rows P apart), so nothing is copied. The weight gradient is summed per
 * thread in the workspace and the partials are added at the end.
 *
 * Why this shape (ResNet20 at batch 128 on two cores, see the README of
 * the task that added it): one large GEMM per chunk of images, with
 * OpenBLAS's own threads, ran 2-6x slower than PyTorch. OpenBLAS's
 * packed kernels run 16-row products (16-channel layers) at half speed,
 * while its small-matrix kernels (M·N·K <= GEMM_SMALL_MNK, no packing)
 * run them at full speed when the operands are in cache; a band of
 * ~256 KiB of columns keeps col in L2 between im2col and the GEMM.
 * Layers with large weights (AlexNet's) take whole images through the
 * packed kernels, where the weights are reused across the image. */
#include "conv2d.h"

#include "check.h"
#include "gemm.h"
#include "im2col.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

/* Weights up to this many floats (256 KiB) count as small: they stay in
 * cache, so the products can be cut into small tiles. */
#define SMALL_WEIGHTS ((size_t)64 << 10)
/* Column floats per band for small weights (256 KiB, a quarter of L2). */
#define BAND_FLOATS ((size_t)64 << 10)

int conv2d_out_h(const struct conv2d_shape *s)
{
	return (s->h + 2 * s->pad - s->kh) / s->stride + 1;
}

int conv2d_out_w(const struct conv2d_shape *s)
{
	return (s->w + 2 * s->pad - s->kw) / s->stride + 1;
}

static void check_shape(const struct conv2d_shape *s)
{
	CHECK(s->n > 0 && s->c > 0 && s->h > 0 && s->w > 0 && s->k > 0);
	CHECK(s->kh > 0 && s->kw > 0 && s->stride > 0 && s->pad >= 0);
	CHECK(s->h + 2 * s->pad >= s->kh && s->w + 2 * s->pad >= s->kw);
}

/* How the work is cut, and each thread's slice of the workspace:
 * col (CKK, rows·OW), then dWᵀ (CKK, K) and db (K) partials. */
struct plan {
	struct im2col_shape im;
	int ckk, oh, ow, p;  /* C·KH·KW; OH, OW; P = OH·OW */
	int rows;            /* output rows per band */
	int tiled;           /* small weights: GEMMs cut into small tiles */
	size_t col, slice;   /* floats of col; of a thread's slice */
};

static struct plan make_plan(const struct conv2d_shape *s)
{
	check_shape(s);
	struct plan pl = {
		.im = { .c = s->c, .h = s->h, .w = s->w, .kh = s->kh, .kw = s->kw,
			.stride = s->stride, .pad = s->pad },
		.ckk = s->c * s->kh * s->kw, .oh = conv2d_out_h(s), .ow = conv2d_out_w(s),
	};
	pl.p = pl.oh * pl.ow;
	pl.tiled = (size_t)pl.ckk * s->k <= SMALL_WEIGHTS;
	pl.rows = pl.oh;
	if (pl.tiled) {
		/* even bands of at most BAND_FLOATS floats of columns */
		size_t fit = BAND_FLOATS / ((size_t)pl.ckk * pl.ow);
		int max_rows = fit < 1 ? 1 : fit > (size_t)pl.oh ? pl.oh : (int)fit;
		int bands = (pl.oh + max_rows - 1) / max_rows;
		pl.rows = (pl.oh + bands - 1) / bands;
	}
	pl.col = (size_t)pl.ckk * pl.rows * pl.ow;
	pl.slice = pl.col + (size_t)pl.ckk * s->k + s->k;
	return pl;
}

/* C = op(A)·op(B) + beta·C on the calling thread. Tiled: rows cut to 16,
 * then the longer of the other sides halved (in multiples of 16) until a
 * tile fits OpenBLAS's small-matrix kernels. */
static void product(int ta, int tb, int m, int n, int k, const float *a, int lda,
		    const float *b, int ldb, float beta, float *c, int ldc, int tiled)
{
	if (!tiled) {
		gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
		return;
	}
	int mb = m, nb = n, kb = k;
	while ((double)mb * nb * kb > GEMM_SMALL_MNK) {
		int *side = mb > 16 ? &mb : nb >= kb ? &nb : &kb;
		int half = (*side / 2 + 15) / 16 * 16;
		if (half >= *side)
			break;
		*side = half;
	}
	gemm_tiled(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc, mb, nb, kb);
}

/* dw (K, CKK) += Σ_t dWᵀ_t (CKK, K) and db (K) += Σ_t db_t, the
 * partials of `threads` threads `slice` floats apart. The partials are
 * summed first, in thread order, so a second call adds exactly the same
 * values. Called by every thread of a team (work-shared loop). */
static void add_partials(float *dw, float *db, const float *part, size_t slice,
			 int threads, int ckk, int K)
{
#pragma omp for schedule(static)
	for (int k = 0; k < K; k++) {
		for (int r = 0; r < ckk; r++) {
			float sum = 0;
			for (int t = 0; t < threads; t++)
				sum += part[slice * t + (size_t)r * K + k];
			dw[(size_t)k * ckk + r] += sum;
		}
		if (db) {
			float sum = 0;
			for (int t = 0; t < threads; t++)
				sum += part[slice * t + (size_t)ckk * K + k];
			db[k] += sum;
		}
	}
}

void conv2d_forward_gemm(float *out, float *workspace, const float *in, const float *w,
		    const float *b, const struct conv2d_shape *s)
{
	const struct plan pl = make_plan(s);
	const int K = s->k, p = pl.p;
	const size_t chw = (size_t)s->c * s->h * s->w;
	gemm_threads_init();
#pragma omp parallel
	{
		float *col = workspace + pl.slice * omp_get_thread_num(); /* (CKK, rows·OW) */
#pragma omp for schedule(static)
		for (int n = 0; n < s->n; n++) {
			for (int oh0 = 0; oh0 < pl.oh; oh0 += pl.rows) {
				const int oh1 = oh0 + pl.rows < pl.oh ? oh0 + pl.rows : pl.oh;
				const int cols = (oh1 - oh0) * pl.ow;
				/* this band of out[n]: (K, cols), rows P apart */
				float *y = out + (size_t)n * K * p + (size_t)oh0 * pl.ow;
				im2col(col, cols, in + n * chw, oh0, oh1, &pl.im);
				product(0, 0, K, cols, pl.ckk, w, pl.ckk, col, cols, 0.0f,
					y, p, pl.tiled);
				for (int k = 0; b && k < K; k++) {
					float *yk = y + (size_t)k * p;
#pragma omp simd
					for (int q = 0; q < cols; q++)
						yk[q] += b[k];
				}
			}
		}
	}
}

void conv2d_backward_gemm(float *din, float *dw, float *db, float *workspace,
			  const float *dout, const float *in, const float *w,
			  const struct conv2d_shape *s)
{
	const struct plan pl = make_plan(s);
	const int K = s->k, p = pl.p, ckk = pl.ckk;
	const size_t chw = (size_t)s->c * s->h * s->w;
	gemm_threads_init();
#pragma omp parallel
	{
		const int nthreads = omp_get_num_threads();
		float *col = workspace + pl.slice * omp_get_thread_num(); /* (CKK, rows·OW) */
		float *dwt = col + pl.col;                             /* (CKK, K) */
		float *dbt = dwt + (size_t)ckk * K;                    /* (K) */
		memset(dwt, 0, sizeof(float) * ((size_t)ckk * K + K));
		/* whole images per thread: the bands of one image overlap in din */
#pragma omp for schedule(static)
		for (int n = 0; n < s->n; n++) {
			float *dx = din ? din + n * chw : NULL;
			if (dx)
				memset(dx, 0, sizeof(float) * chw);
			for (int oh0 = 0; oh0 < pl.oh; oh0 += pl.rows) {
				const int oh1 = oh0 + pl.rows < pl.oh ? oh0 + pl.rows : pl.oh;
				const int cols = (oh1 - oh0) * pl.ow;
				/* this band of dout[n]: (K, cols), rows P apart */
				const float *g = dout + (size_t)n * K * p + (size_t)oh0 * pl.ow;
				for (int k = 0; db && k < K; k++) {
					const float *gk = g + (size_t)k * p;
					float sum = 0;
#pragma omp simd reduction(+ : sum)
					for (int q = 0; q < cols; q++)
						sum += gk[q];
					dbt[k] += sum;
				}
				im2col(col, cols, in + n * chw, oh0, oh1, &pl.im);
				/* dWᵀ (CKK, K) += col (CKK, cols) · gᵀ (cols, K) */
				product(0, 1, ckk, K, cols, col, cols, g, p, 1.0f, dwt, K,
					pl.tiled);
				if (!dx)
					continue;
				/* dcol (CKK, cols) = Wᵀ (CKK, K) · g (K, cols), in col's space */
				product(1, 0, ckk, cols, K, w, ckk, g, p, 0.0f, col, cols,
					pl.tiled);
				col2im(dx, col, cols, oh0, oh1, &pl.im);
			}
		}
		add_partials(dw, db, workspace + pl.col, pl.slice, nthreads, ckk, K);
	}
}

/* The direct path: 3x3, stride 1, pad 1 ("same") convolutions with K and
 * C multiples of 16, on CPUs with AVX-512 (ResNet20's 3x3 layers,
 * AlexNet's last three). No im2col: a vector of 16 consecutive output
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
 * Measured on ResNet20's layers these ran 20-40% faster than im2col +
 * OpenBLAS, which spends much of its time writing and reading col. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DIRECT_TARGET __attribute__((target("avx512f")))

static int direct_ok(const struct conv2d_shape *s)
{
	return s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad == 1 &&
	       s->k % 16 == 0 && __builtin_cpu_supports("avx512f");
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
	for (int q0 = 0; q0 < p; q0 += 16)
		for (int t = 0; t < 9; t++) {
			unsigned m = 0;
			for (int l = 0, q = q0; l < 16 && q < p; l++, q++) {
				int ih = q / w + t / 3 - 1, iw = q % w + t % 3 - 1;
				if (ih >= 0 && ih < h && iw >= 0 && iw < w)
					m |= 1u << l;
			}
			masks[q0 / 16 * 9 + t] = (uint16_t)m;
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
			__m512 a[16];
			for (int r = 0; r < 16; r++)
				a[r] = b ? _mm512_set1_ps(b[k0 + r]) : _mm512_setzero_ps();
			for (int c = 0; c < C; c++) {
				const float *xc = x + (size_t)c * p;
				const float *wc = wt + (size_t)c * 9 * K + k0;
#pragma GCC unroll 9
				for (int t = 0; t < 9; t++) {
					__m512 v = _mm512_maskz_loadu_ps(m[t], tap_addr(xc, q0, t, w));
#pragma GCC unroll 16
					for (int r = 0; r < 16; r++)
						a[r] = _mm512_fmadd_ps(_mm512_set1_ps(wc[(size_t)t * K + r]),
								       v, a[r]);
				}
			}
			for (int r = 0; r < 16; r++)
				_mm512_mask_storeu_ps(out + (size_t)(k0 + r) * p + q0, keep, a[r]);
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
			__m512 a[18];
			for (int r = 0; r < 18; r++)
				a[r] = _mm512_setzero_ps();
			for (int oh = 0; oh < h; oh++)
				for (int ow = 0; ow < w; ow++) {
					__m512 g = _mm512_loadu_ps(gt + ((size_t)oh * w + ow) * K + k0);
					const size_t base = (size_t)oh * wp + ow;
#pragma GCC unroll 9
					for (int t = 0; t < 9; t++) {
						const size_t o = base + (size_t)(t / 3) * wp + t % 3;
						a[t] = _mm512_fmadd_ps(_mm512_set1_ps(x0[o]), g, a[t]);
						a[9 + t] = _mm512_fmadd_ps(_mm512_set1_ps(x1[o]), g, a[9 + t]);
					}
				}
			for (int r = 0; r < (c + 1 < C ? 18 : 9); r++) {
				float *d = dwt + ((size_t)c * 9 + r) * K + k0;
				_mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), a[r]));
			}
		}
	}
}
#else
static int direct_ok(const struct conv2d_shape *s)
{
	(void)s;
	return 0;
}
#endif

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

static size_t direct_workspace_floats(const struct conv2d_shape *s)
{
	return direct_masks_floats(s) + (size_t)s->c * 9 * s->k +
	       direct_slice_floats(s) * omp_get_max_threads();
}

static void direct_forward(float *out, float *workspace, const float *in,
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

static void direct_backward(float *din, float *dw, float *db, float *workspace,
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
				for (int ih = 0; ih < h; ih++)
					memcpy(xpad + c * plane + (size_t)(ih + 1) * (wd + 2) + 1,
					       x + ((size_t)c * h + ih) * wd, sizeof(float) * wd);
			for (int k = 0; k < K; k++) {
				float sum = 0;
				for (int q = 0; q < p; q++) {
					gt[(size_t)q * K + k] = g[(size_t)k * p + q];
					sum += g[(size_t)k * p + q];
				}
				dbt[k] += sum;
			}
			direct_dw_image(dwt, xpad, gt, C, K, h, wd);
			if (din)
				direct_conv_image(din + (size_t)n * C * p, g, wf, NULL, K, C, h, wd,
						  masks);
		}
		add_partials(dw, db, threads + (size_t)C * plane + (size_t)p * K, slice,
			     nthreads, C * 9, K);
	}
}

size_t conv2d_workspace_floats(const struct conv2d_shape *s)
{
	size_t gemm_path = make_plan(s).slice * omp_get_max_threads();
	size_t direct = direct_ok(s) ? direct_workspace_floats(s) : 0;
	return gemm_path > direct ? gemm_path : direct;
}

int conv2d_direct(const struct conv2d_shape *s)
{
	check_shape(s);
	return direct_ok(s);
}

void conv2d_forward(float *out, float *workspace, const float *in, const float *w,
		    const float *b, const struct conv2d_shape *s)
{
	if (conv2d_direct(s))
		direct_forward(out, workspace, in, w, b, s);
	else
		conv2d_forward_gemm(out, workspace, in, w, b, s);
}

void conv2d_backward(float *din, float *dw, float *db, float *workspace,
		     const float *dout, const float *in, const float *w,
		     const struct conv2d_shape *s)
{
	/* din through the direct kernel needs C % 16 == 0 too */
	if (conv2d_direct(s) && (!din || s->c % 16 == 0))
		direct_backward(din, dw, db, workspace, dout, in, w, s);
	else
		conv2d_backward_gemm(din, dw, db, workspace, dout, in, w, s);
}

/* Direct loops with double accumulation, in the order of the equation. */
void conv2d_forward_naive(float *out, const float *in, const float *w,
			  const float *b, const struct conv2d_shape *s)
{
	check_shape(s);
	const int oh_n = conv2d_out_h(s), ow_n = conv2d_out_w(s);
	for (int n = 0; n < s->n; n++)
	for (int k = 0; k < s->k; k++)
	for (int oh = 0; oh < oh_n; oh++)
	for (int ow = 0; ow < ow_n; ow++) {
		double sum = b ? b[k] : 0;
		for (int c = 0; c < s->c; c++)
		for (int i = 0; i < s->kh; i++)
		for (int j = 0; j < s->kw; j++) {
			int ih = oh * s->stride - s->pad + i, iw = ow * s->stride - s->pad + j;
			if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
				continue;
			sum += (double)in[(((size_t)n * s->c + c) * s->h + ih) * s->w + iw]
			     * w[(((size_t)k * s->c + c) * s->kh + i) * s->kw + j];
		}
		out[(((size_t)n * s->k + k) * oh_n + oh) * ow_n + ow] = (float)sum;
	}
}

/* The input pixel that output (oh, ow) reads through kernel tap (i, j),
 * or -1 in the padding. */
static long tap(const struct conv2d_shape *s, int n, int c, int oh, int ow, int i, int j)
{
	int ih = oh * s->stride - s->pad + i, iw = ow * s->stride - s->pad + j;
	if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
		return -1;
	return (((long)n * s->c + c) * s->h + ih) * s->w + iw;
}

void conv2d_backward_naive(float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w,
			   const struct conv2d_shape *s)
{
	check_shape(s);
	const int oh_n = conv2d_out_h(s), ow_n = conv2d_out_w(s);
	const size_t p = (size_t)oh_n * ow_n;
	for (int k = 0; k < s->k; k++) {
		if (db) {
			double sum = 0;
			for (int n = 0; n < s->n; n++)
				for (size_t q = 0; q < p; q++)
					sum += dout[((size_t)n * s->k + k) * p + q];
			db[k] += (float)sum;
		}
		for (int c = 0; c < s->c; c++)
		for (int i = 0; i < s->kh; i++)
		for (int j = 0; j < s->kw; j++) {
			double sum = 0;
			for (int n = 0; n < s->n; n++)
			for (int oh = 0; oh < oh_n; oh++)
			for (int ow = 0; ow < ow_n; ow++) {
				long x = tap(s, n, c, oh, ow, i, j);
				if (x >= 0)
					sum += (double)in[x] * dout[((size_t)n * s->k + k) * p
								 + (size_t)oh * ow_n + ow];
			}
			dw[(((size_t)k * s->c + c) * s->kh + i) * s->kw + j] += (float)sum;
		}
	}
	if (!din)
		return;
	/* din[x] = Σ over every (k, oh, ow, i, j) whose tap is x, gathered
	 * per pixel so each sum is accumulated in double */
	for (int n = 0; n < s->n; n++)
	for (int c = 0; c < s->c; c++)
	for (int ih = 0; ih < s->h; ih++)
	for (int iw = 0; iw < s->w; iw++) {
		double sum = 0;
		for (int i = 0; i < s->kh; i++)
		for (int j = 0; j < s->kw; j++) {
			int yh = ih + s->pad - i, yw = iw + s->pad - j;
			if (yh < 0 || yw < 0 || yh % s->stride || yw % s->stride)
				continue;
			int oh = yh / s->stride, ow = yw / s->stride;
			if (oh >= oh_n || ow >= ow_n)
				continue;
			for (int k = 0; k < s->k; k++)
				sum += (double)w[(((size_t)k * s->c + c) * s->kh + i) * s->kw + j]
				     * dout[(((size_t)n * s->k + k) * oh_n + oh) * ow_n + ow];
		}
		din[(((size_t)n * s->c + c) * s->h + ih) * s->w + iw] = (float)sum;
	}
}
