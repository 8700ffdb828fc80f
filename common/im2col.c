/* im2col and col2im for a band of output rows; see im2col.h for the layout.
 *
 * Per (channel, kernel offset i, j) a column row holds the band's output
 * rows of OW entries. Output row oh reads input row oh·stride − pad + i;
 * the output columns whose input column ow·stride − pad + j lies inside
 * the image form one range [ow0, ow1), computed once, so the inner loops
 * have no bounds tests and are plain copies / adds for stride 1.
 *
 * The hot loops are compiled for AVX-512, AVX2 and plain x86-64 and the
 * best is picked at load time (GCC's target_clones): the Makefile builds
 * for baseline x86-64, whose 4-wide vectors made col2im 3x slower. */
#include "im2col.h"

#include "check.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC turns the copy and zero loops into memcpy / memset calls, and
 * glibc's rep-movsb memcpy ran these short rows at half the speed. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#define HOT_LOOPS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT_LOOPS
#endif

int im2col_out_h(const struct im2col_shape *s)
{
	return (s->h + 2 * s->pad - s->kh) / s->stride + 1;
}

int im2col_out_w(const struct im2col_shape *s)
{
	return (s->w + 2 * s->pad - s->kw) / s->stride + 1;
}

static void check_args(int ld, int oh0, int oh1, const struct im2col_shape *s)
{
	CHECK(s->c > 0 && s->h > 0 && s->w > 0);
	CHECK(s->kh > 0 && s->kw > 0 && s->stride > 0 && s->pad >= 0);
	CHECK(s->h + 2 * s->pad >= s->kh && s->w + 2 * s->pad >= s->kw);
	CHECK(0 <= oh0 && oh0 <= oh1 && oh1 <= im2col_out_h(s));
	CHECK(ld >= (oh1 - oh0) * im2col_out_w(s));
}

/* [lo, hi): the outputs o in [o0, o1) with 0 <= o·stride − pad + j < n. */
static void valid_range(int n, int o0, int o1, int stride, int pad, int j,
			int *lo, int *hi)
{
	int first = pad - j;                       /* o·stride >= pad − j */
	int a = first <= 0 ? 0 : (first + stride - 1) / stride;
	int last = n - 1 + pad - j;                /* o·stride <= n − 1 + pad − j */
	int b = last < 0 ? 0 : last / stride + 1;
	*lo = a < o0 ? o0 : a > o1 ? o1 : a;
	*hi = b > o1 ? o1 : b < *lo ? *lo : b;
}

static inline void fill_zero(float *d, size_t n)
{
#pragma omp simd
	for (size_t t = 0; t < n; t++)
		d[t] = 0;
}

static inline void copy(float *restrict d, const float *restrict x, size_t n)
{
#pragma omp simd
	for (size_t t = 0; t < n; t++)
		d[t] = x[t];
}

static inline void add(float *restrict x, const float *restrict g, size_t n)
{
#pragma omp simd
	for (size_t t = 0; t < n; t++)
		x[t] += g[t];
}

/* Where one (i, j) kernel tap meets the band: output rows [a, b) and
 * columns [ow0, ow1) read inside the image (a == b: none), and the
 * offset of input pixel (a, ow0) in a channel. */
struct tap {
	int a, b, ow0, ow1;
	size_t x0;
	int block; /* stride 1 and OW == W: rows [a, b) read one contiguous run */
};

static struct tap make_tap(int i, int j, int oh0, int oh1, int ow_n,
			   const struct im2col_shape *s)
{
	struct tap t;
	valid_range(s->h, oh0, oh1, s->stride, s->pad, i, &t.a, &t.b);
	valid_range(s->w, 0, ow_n, s->stride, s->pad, j, &t.ow0, &t.ow1);
	if (t.ow0 == t.ow1)
		t.b = t.a;
	t.x0 = t.a < t.b ? (size_t)(t.a * s->stride - s->pad + i) * s->w
			   + (t.ow0 * s->stride - s->pad + j) : 0;
	t.block = s->stride == 1 && ow_n == s->w;
	return t;
}

HOT_LOOPS
static void unfold(float *col, int ld, const float *im, int oh0, int oh1,
		   const struct im2col_shape *s)
{
	const int ow_n = im2col_out_w(s), st = s->stride;
	const size_t hw = (size_t)s->h * s->w, kk = (size_t)s->kh * s->kw;
	for (int i = 0; i < s->kh; i++)
	for (int j = 0; j < s->kw; j++) {
		const struct tap t = make_tap(i, j, oh0, oh1, ow_n, s);
		const size_t top = (size_t)(t.a - oh0) * ow_n, mid = (size_t)(t.b - t.a) * ow_n;
		for (int c = 0; c < s->c; c++) {
			float *row = col + (c * kk + (size_t)i * s->kw + j) * ld;
			const float *x0 = im + c * hw + t.x0;
			fill_zero(row, top);
			fill_zero(row + top + mid, (size_t)(oh1 - oh0) * ow_n - top - mid);
			if (t.a == t.b)
				continue;
			float *d = row + top;
			if (t.block) {
				/* output rows are input rows shifted by a constant:
				 * copy them as one run, then zero the columns that
				 * wrapped around from the neighbouring row */
				copy(d + t.ow0, x0, mid - t.ow0 - (ow_n - t.ow1));
				for (int r = 0; r < t.b - t.a; r++, d += ow_n) {
					for (int ow = 0; ow < t.ow0; ow++)
						d[ow] = 0;
					for (int ow = t.ow1; ow < ow_n; ow++)
						d[ow] = 0;
				}
				continue;
			}
			for (int r = 0; r < t.b - t.a; r++, d += ow_n) {
				const float *restrict x = x0 + (size_t)r * st * s->w;
				for (int ow = 0; ow < t.ow0; ow++)
					d[ow] = 0;
				if (st == 1) {
					copy(d + t.ow0, x, (size_t)(t.ow1 - t.ow0));
				} else {
#pragma omp simd
					for (int q = 0; q < t.ow1 - t.ow0; q++)
						d[t.ow0 + q] = x[q * st];
				}
				for (int ow = t.ow1; ow < ow_n; ow++)
					d[ow] = 0;
			}
		}
	}
}

/* Wrapped entries saved per pass of the contiguous add in fold(). */
#define FOLD_SAVE 64

/* The adjoint of unfold. For the contiguous case the add runs over the
 * whole block, wrapped columns included; the pixels those columns would
 * wrongly reach are saved before and restored after, which is exact. */
HOT_LOOPS
static void fold(float *im, const float *col, int ld, int oh0, int oh1,
		 const struct im2col_shape *s)
{
	const int ow_n = im2col_out_w(s), st = s->stride;
	const size_t hw = (size_t)s->h * s->w, kk = (size_t)s->kh * s->kw;
	for (int i = 0; i < s->kh; i++)
	for (int j = 0; j < s->kw; j++) {
		const struct tap t = make_tap(i, j, oh0, oh1, ow_n, s);
		if (t.a == t.b)
			continue;
		const int wrap = ow_n - (t.ow1 - t.ow0); /* wrapped columns per row */
		const int pass = t.block && wrap <= FOLD_SAVE ? (wrap ? FOLD_SAVE / wrap : t.b - t.a) : 0;
		for (int c = 0; c < s->c; c++) {
			const float *g = col + (c * kk + (size_t)i * s->kw + j) * ld
				       + (size_t)(t.a - oh0) * ow_n + t.ow0;
			float *x = im + c * hw + t.x0;
			for (int r = 0; pass && r < t.b - t.a; r += pass) {
				/* rows [r, r + n) as one run: from column ow0 of the
				 * first to column ow1 − 1 of the last */
				const int n = t.b - t.a - r < pass ? t.b - t.a - r : pass;
				float *xr = x + (size_t)r * ow_n;
				const float *gr = g + (size_t)r * ow_n;
				float saved[FOLD_SAVE];
				for (int q = 0; q < n - 1; q++)
					for (int u = 0; u < wrap; u++)
						saved[q * wrap + u] = xr[(size_t)q * ow_n + (t.ow1 - t.ow0) + u];
				add(xr, gr, (size_t)(n - 1) * ow_n + t.ow1 - t.ow0);
				for (int q = 0; q < n - 1; q++)
					for (int u = 0; u < wrap; u++)
						xr[(size_t)q * ow_n + (t.ow1 - t.ow0) + u] = saved[q * wrap + u];
			}
			for (int r = 0; !pass && r < t.b - t.a; r++) {
				const float *restrict gr = g + (size_t)r * ow_n;
				float *restrict xr = x + (size_t)r * st * s->w;
				if (st == 1) {
					add(xr, gr, (size_t)(t.ow1 - t.ow0));
				} else {
					for (int q = 0; q < t.ow1 - t.ow0; q++)
						xr[q * st] += gr[q];
				}
			}
		}
	}
}

void im2col(float *col, int ld, const float *im, int oh0, int oh1,
	    const struct im2col_shape *s)
{
	check_args(ld, oh0, oh1, s);
	unfold(col, ld, im, oh0, oh1, s);
}

void col2im(float *im, const float *col, int ld, int oh0, int oh1,
	    const struct im2col_shape *s)
{
	check_args(ld, oh0, oh1, s);
	fold(im, col, ld, oh0, oh1, s);
}

/* The naive versions walk the column matrix in order and test every index. */
void im2col_naive(float *col, int ld, const float *im, int oh0, int oh1,
		  const struct im2col_shape *s)
{
	check_args(ld, oh0, oh1, s);
	const int ow_n = im2col_out_w(s);
	for (int c = 0; c < s->c; c++)
	for (int i = 0; i < s->kh; i++)
	for (int j = 0; j < s->kw; j++) {
		size_t r = ((size_t)c * s->kh + i) * s->kw + j;
		for (int oh = oh0; oh < oh1; oh++)
		for (int ow = 0; ow < ow_n; ow++) {
			int ih = oh * s->stride - s->pad + i, iw = ow * s->stride - s->pad + j;
			int inside = ih >= 0 && ih < s->h && iw >= 0 && iw < s->w;
			col[r * ld + (size_t)(oh - oh0) * ow_n + ow] = inside
				? im[((size_t)c * s->h + ih) * s->w + iw] : 0;
		}
	}
}

void col2im_naive(float *im, const float *col, int ld, int oh0, int oh1,
		  const struct im2col_shape *s)
{
	check_args(ld, oh0, oh1, s);
	const int ow_n = im2col_out_w(s);
	for (int c = 0; c < s->c; c++)
	for (int i = 0; i < s->kh; i++)
	for (int j = 0; j < s->kw; j++) {
		size_t r = ((size_t)c * s->kh + i) * s->kw + j;
		for (int oh = oh0; oh < oh1; oh++)
		for (int ow = 0; ow < ow_n; ow++) {
			int ih = oh * s->stride - s->pad + i, iw = ow * s->stride - s->pad + j;
			if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w)
				im[((size_t)c * s->h + ih) * s->w + iw] +=
					col[r * ld + (size_t)(oh - oh0) * ow_n + ow];
		}
	}
}
