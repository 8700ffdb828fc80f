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
