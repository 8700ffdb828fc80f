/* 2-D convolution forward and backward; see conv2d.h. Two paths:
 *
 * GEMM (any shape): im2col + one product per band. With P = OH·OW and
 * CKK = C·KH·KW, each thread takes whole images, each image in bands of
 * output rows (or, for large weights, several whole images side by side);
 * for a band of `cols` pixels, col = im2col(band) (CKK, cols):
 *   forward:  out[n] band (K, cols) = W (K, CKK) · col  (+ b[k] per row)
 *   backward: dWᵀ (CKK, K) += col · gᵀ,   g = the dout[n] band (K, cols)
 *             dcol (CKK, cols) = Wᵀ · g;  din[n] += col2im(dcol)
 *             db[k] += Σ g[k][:]
 * With one image per product they write straight into out[n] and read
 * straight from dout[n] (rows P apart). dW and db are summed per thread
 * in the workspace, the partials added at the end.
 *
 * Direct (3x3 "same" convolutions with C and K multiples of 16, and
 * AVX-512): no im2col at all; see the comment above direct_ok().
 *
 * Why (ResNet20, batch 128, two cores): one large GEMM per chunk of
 * images with OpenBLAS's own threads ran 2-6x slower than PyTorch.
 * OpenBLAS's packed kernels run 16-row products (16-channel layers) at
 * half speed, while its small-matrix kernels (M·N·K <= GEMM_SMALL_MNK, no
 * packing) run them near peak when the operands are in cache, so bands
 * of ~256 KiB of columns keep col in L2 between im2col and the product;
 * writing col was still a fifth of the time, which the direct kernels
 * remove. Large weights (AlexNet's) take several whole images per product
 * through the packed kernels, which then pack the weights once for
 * hundreds of columns (8% faster than one image per product). */
#include "conv2d.h"

#include "check.h"
#include "gemm.h"
#include "conv2d_internal.h"
#include "im2col.h"
#include "window.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

/* Weights up to this many floats (256 KiB) count as small: they stay in
 * cache, so the products can be cut into small tiles. */
/* Column floats per band for small weights (256 KiB, a quarter of L2). */
#define BAND_FLOATS ((size_t)64 << 10)
/* Column floats per step for large weights (4 MiB; 16 MiB was slower). */
#define STEP_FLOATS ((size_t)1 << 20)

int conv2d_out_h(const struct conv2d_shape *s)
{
	return window_out(s->h, s->kh, s->stride, s->pad);
}

int conv2d_out_w(const struct conv2d_shape *s)
{
	return window_out(s->w, s->kw, s->stride, s->pad);
}

void conv2d_check_shape(const struct conv2d_shape *s)
{
	CHECK(s->n > 0 && s->c > 0 && s->h > 0 && s->w > 0 && s->k > 0);
	CHECK(s->kh > 0 && s->kw > 0 && s->stride > 0 && s->pad >= 0);
	CHECK(s->h + 2 * s->pad >= s->kh && s->w + 2 * s->pad >= s->kw);
}

/* How the GEMM path cuts the work: each thread takes steps of `images`
 * consecutive images, each in bands of `rows` output rows, and its slice
 * of the workspace holds col (CKK, images·rows·OW), y (K, images·P) when
 * images > 1, then partial dWᵀ (CKK, K) and db (K). Small weights
 * (CKK·K <= SMALL_WEIGHTS): one image at a time in bands of about
 * BAND_FLOATS, products cut into small tiles. Large weights: whole
 * images, several per product (about STEP_FLOATS of columns) so that the
 * packed weights serve many columns. */
struct plan {
	struct im2col_shape im;
	int ckk, oh, ow, p;  /* C·KH·KW; OH, OW; P = OH·OW */
	int rows, images;    /* output rows per band; images per step */
	int tiled;           /* small weights: tiled products */
	size_t col, y, slice; /* floats of col, of y, of a thread's slice */
};

static struct plan make_plan(const struct conv2d_shape *s)
{
	conv2d_check_shape(s);
	struct plan pl = {
		.im = { .c = s->c, .h = s->h, .w = s->w, .kh = s->kh, .kw = s->kw,
			.stride = s->stride, .pad = s->pad },
		.ckk = s->c * s->kh * s->kw, .oh = conv2d_out_h(s), .ow = conv2d_out_w(s),
		.images = 1,
	};
	pl.p = pl.oh * pl.ow;
	pl.tiled = (size_t)pl.ckk * s->k <= SMALL_WEIGHTS;
	pl.rows = pl.oh;
	if (pl.tiled) {
		/* even bands of at most BAND_FLOATS floats of columns */
		size_t fit = BAND_FLOATS / ((size_t)pl.ckk * pl.ow);
		int most = fit < 1 ? 1 : fit > (size_t)pl.oh ? pl.oh : (int)fit;
		int bands = (pl.oh + most - 1) / most;
		pl.rows = (pl.oh + bands - 1) / bands;
	} else {
		size_t fit = STEP_FLOATS / ((size_t)pl.ckk * pl.p);
		pl.images = fit < 1 ? 1 : fit > (size_t)s->n ? s->n : (int)fit;
	}
	pl.col = (size_t)pl.ckk * pl.images * pl.rows * pl.ow;
	pl.y = pl.images > 1 ? (size_t)s->k * pl.images * pl.p : 0;
	pl.slice = pl.col + pl.y + (size_t)pl.ckk * s->k + s->k;
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
void conv2d_add_partials(float *dw, float *db, const float *part, size_t slice,
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
	const int steps = (s->n + pl.images - 1) / pl.images;
	gemm_threads_init();
#pragma omp parallel
	{
		float *col = workspace + pl.slice * omp_get_thread_num(); /* (CKK, ld) */
		float *ybuf = col + pl.col;                            /* (K, ld) */
#pragma omp for schedule(static)
		for (int step = 0; step < steps; step++) {
			const int n0 = step * pl.images;
			const int nb = s->n - n0 < pl.images ? s->n - n0 : pl.images;
			for (int oh0 = 0; oh0 < pl.oh; oh0 += pl.rows) {
				const int oh1 = oh0 + pl.rows < pl.oh ? oh0 + pl.rows : pl.oh;
				const int cols = (oh1 - oh0) * pl.ow, ld = nb * cols;
				/* one image: the band of out[n0] itself (rows P apart) */
				float *y = nb == 1 ? out + (size_t)n0 * K * p + (size_t)oh0 * pl.ow : ybuf;
				const int ldy = nb == 1 ? p : ld;
				for (int i = 0; i < nb; i++)
					im2col(col + (size_t)i * cols, ld, in + (n0 + i) * chw, oh0,
					       oh1, &pl.im);
				product(0, 0, K, ld, pl.ckk, w, pl.ckk, col, ld, 0.0f, y, ldy,
					pl.tiled);
				/* copy out with the bias (in place for one image) */
				for (int i = 0; i < nb && (nb > 1 || b); i++)
					for (int k = 0; k < K; k++) {
						float *o = out + ((size_t)(n0 + i) * K + k) * p
							 + (size_t)oh0 * pl.ow;
						const float *yk = y + (size_t)k * ldy + (size_t)i * cols;
						const float bias = b ? b[k] : 0;
#pragma omp simd
						for (int q = 0; q < cols; q++)
							o[q] = yk[q] + bias;
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
	const int steps = (s->n + pl.images - 1) / pl.images;
	gemm_threads_init();
#pragma omp parallel
	{
		const int nthreads = omp_get_num_threads();
		float *col = workspace + pl.slice * omp_get_thread_num(); /* (CKK, ld) */
		float *gbuf = col + pl.col;                            /* (K, ld) */
		float *dwt = gbuf + pl.y;                              /* (CKK, K) */
		float *dbt = dwt + (size_t)ckk * K;                    /* (K) */
		memset(dwt, 0, sizeof(float) * ((size_t)ckk * K + K));
		/* whole images per thread: the bands of one image overlap in din */
#pragma omp for schedule(static)
		for (int step = 0; step < steps; step++) {
			const int n0 = step * pl.images;
			const int nb = s->n - n0 < pl.images ? s->n - n0 : pl.images;
			if (din)
				memset(din + n0 * chw, 0, sizeof(float) * chw * nb);
			for (int oh0 = 0; oh0 < pl.oh; oh0 += pl.rows) {
				const int oh1 = oh0 + pl.rows < pl.oh ? oh0 + pl.rows : pl.oh;
				const int cols = (oh1 - oh0) * pl.ow, ld = nb * cols;
				/* g (K, ld): the band of dout[n0] itself (rows P apart)
				 * for one image, else the images' dout side by side */
				const float *g = dout + (size_t)n0 * K * p + (size_t)oh0 * pl.ow;
				const int ldg = nb == 1 ? p : ld;
				for (int k = 0; k < K && (db || nb > 1); k++) {
					float sum = 0;
					for (int i = 0; i < nb; i++) {
						const float *src = g + ((size_t)i * K + k) * p;
						float *dst = gbuf + (size_t)k * ld + (size_t)i * cols;
						for (int q = 0; nb > 1 && q < cols; q++)
							dst[q] = src[q];
						const int nq = db ? cols : 0;
#pragma omp simd reduction(+ : sum)
						for (int q = 0; q < nq; q++)
							sum += src[q];
					}
					dbt[k] += sum;
				}
				if (nb > 1)
					g = gbuf;
				for (int i = 0; i < nb; i++)
					im2col(col + (size_t)i * cols, ld, in + (n0 + i) * chw, oh0,
					       oh1, &pl.im);
				/* dWᵀ (CKK, K) += col (CKK, ld) · gᵀ (ld, K) */
				product(0, 1, ckk, K, ld, col, ld, g, ldg, 1.0f, dwt, K, pl.tiled);
				if (!din)
					continue;
				/* dcol (CKK, ld) = Wᵀ (CKK, K) · g (K, ld), in col's space */
				product(1, 0, ckk, ld, K, w, ckk, g, ldg, 0.0f, col, ld, pl.tiled);
				for (int i = 0; i < nb; i++)
					col2im(din + (n0 + i) * chw, col + (size_t)i * cols, ld, oh0,
					       oh1, &pl.im);
			}
		}
		conv2d_add_partials(dw, db, workspace + pl.col + pl.y, pl.slice, nthreads, ckk, K);
	}
}


size_t conv2d_workspace_floats(const struct conv2d_shape *s)
{
	size_t gemm_path = make_plan(s).slice * omp_get_max_threads();
	size_t direct = conv2d_direct_ok(s) ? conv2d_direct_workspace_floats(s) : 0;
	return gemm_path > direct ? gemm_path : direct;
}

int conv2d_direct(const struct conv2d_shape *s)
{
	conv2d_check_shape(s);
	return conv2d_direct_ok(s);
}

void conv2d_forward(float *out, float *workspace, const float *in, const float *w,
		    const float *b, const struct conv2d_shape *s)
{
	if (conv2d_direct(s))
		conv2d_direct_forward(out, workspace, in, w, b, s);
	else
		conv2d_forward_gemm(out, workspace, in, w, b, s);
}

void conv2d_backward(float *din, float *dw, float *db, float *workspace,
		     const float *dout, const float *in, const float *w,
		     const struct conv2d_shape *s)
{
	if (conv2d_direct(s))
		conv2d_direct_backward(din, dw, db, workspace, dout, in, w, s);
	else
		conv2d_backward_gemm(din, dw, db, workspace, dout, in, w, s);
}

