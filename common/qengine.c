/* The integer engine's forward pass; see qmodel.h. Integer arithmetic
 * only (SPEC §9): no floating-point type in this file. */
#include "qmodel.h"

#include "check.h"
#include "fixedpoint.h"
#include "iconv.h"
#include "igemm.h"
#include "requant.h"

#include <omp.h>
#include <string.h>
#include <time.h>

static int64_t clock_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint8_t clamp_u8(int32_t v, int32_t lo, int32_t hi)
{
	return (uint8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* One pixel's C channels: in 16-byte pieces when C allows (a fixed-size
 * memcpy compiles to one vector move; a call per 16 bytes would dominate). */
static inline void copy_pixel(uint8_t *dst, const uint8_t *src, int C)
{
	if (C % 16 == 0)
		for (int k = 0; k < C; k += 16)
			memcpy(dst + k, src + k, 16);
	else
		for (int k = 0; k < C; k++)
			dst[k] = src[k];
}

static inline void fill_pixel(uint8_t *dst, uint8_t v, int C)
{
	for (int k = 0; k < C; k++)
		dst[k] = v;
}

/* im2col in NHWC: one row per output pixel, (ky, kx, c) per row; padding
 * is the image's input zero point, so it stands for real zero. */
static void im2col(uint8_t *col, const uint8_t *x, const struct qnode *n, int images,
		   const int *cl)
{
	int k = n->kernel, C = n->ic;
	size_t row = (size_t)k * k * C;
	#pragma omp parallel for collapse(2) schedule(static)
	for (int i = 0; i < images; i++)
		for (int oy = 0; oy < n->h; oy++) {
			uint8_t pad = (uint8_t)n->in_zero[cl[i]];
			const uint8_t *img = x + (size_t)i * n->ih * n->iw * C;
			for (int ox = 0; ox < n->w; ox++) {
				uint8_t *r = col + (((size_t)i * n->h + oy) * n->w + ox) * row;
				for (int ky = 0; ky < k; ky++) {
					int y = oy * n->stride - n->pad + ky;
					for (int kx = 0; kx < k; kx++, r += C) {
						int xx = ox * n->stride - n->pad + kx;
						if (y < 0 || y >= n->ih || xx < 0 || xx >= n->iw)
							fill_pixel(r, pad, C);
						else
							copy_pixel(r, img + ((size_t)y * n->iw + xx) * C, C);
					}
				}
			}
		}
}

/* conv / linear n's requantization for cluster c, without a box term. */
static struct requant_rows rows_params(const struct qnode *n, int c)
{
	const int32_t z3 = n->out_zero[c];
	const size_t m = n->per_channel ? (size_t)c * n->kout : (size_t)c;
	return (struct requant_rows){
		.bias = n->offset + (size_t)c * n->kout,
		.acc_shift = n->acc_shift,
		.m0 = n->per_channel ? 0 : n->m0[c],
		.shift = n->per_channel ? 0 : n->shift[c],
		.m0_k = n->per_channel ? n->m0 + m : NULL,
		.shift_k = n->per_channel ? n->shift + m : NULL,
		.z = z3,
		.lo = n->relu ? z3 : 0,
		.hi = n->qmax,
		.plan = &n->plan[m],
		.channels = n->per_channel ? &n->channels[c] : NULL,
	};
}

/* Requantizes the accumulators of the `images` images to `out` (uint16
 * where n has more than 8 bits) in one pass: (acc + coef·box)·2^acc_shift
 * + offset, offset = bias − Z1·Σ(w − Z2)·2^acc_shift per cluster
 * (qmodel_load.c), then Z3 + M·that,
 * clamped (at Z3 too under a ReLU). coef and box: iconv_run_split's box
 * term, or NULL; sparse: its iconv when it left out a sparse term, added
 * here block by block (from x, the images' input) while the block is in
 * cache. Blocks of rows of one image each, so of one cluster. */
static void finish(const struct qnode *n, uint8_t *out, int32_t *acc, int images,
		   const int *cl, const int32_t *coef, const int32_t *box,
		   const struct iconv *sparse, const uint8_t *x)
{
	enum { BLOCK = 64 };
	const int pixels = n->h * n->w, per_image = (pixels + BLOCK - 1) / BLOCK;
	const int kout = n->kout;
	#pragma omp parallel for schedule(static)
	for (int b = 0; b < images * per_image; b++) {
		int i = b / per_image, c = cl[i];
		int r0 = i * pixels + (b % per_image) * BLOCK;
		int r1 = r0 + BLOCK < (i + 1) * pixels ? r0 + BLOCK : (i + 1) * pixels;
		struct requant_rows p = rows_params(n, c);
		p.coef = coef;
		p.box = coef ? box + r0 : NULL;
		if (sparse)
			iconv_add_sparse(sparse, x, i, r0 - i * pixels, r1 - i * pixels,
					 acc + (size_t)r0 * kout);
		if (qnode_value_bytes(n) == 2)   /* a 16-bit residual branch */
			requant_u16_rows((uint16_t *)out + (size_t)r0 * kout, acc + (size_t)r0 * kout,
					 (size_t)(r1 - r0), kout, &p);
		else
			requant_u8_rows(out + (size_t)r0 * kout, acc + (size_t)r0 * kout,
					(size_t)(r1 - r0), kout, &p);
	}
}

/* The kernel rows [*ky0, *ky1) and columns [*kx0, *kx1) of pool n's
 * window at (oy, ox) that lie inside the input: padding never wins a max,
 * and every window has such a tap (qmodel_load.c checks 2·pad <= kernel). */
static void window_taps(const struct qnode *n, int oy, int ox, int *ky0, int *ky1, int *kx0,
			int *kx1)
{
	const int y0 = oy * n->stride - n->pad, x0 = ox * n->stride - n->pad, k = n->kernel;
	*ky0 = y0 < 0 ? -y0 : 0;
	*ky1 = y0 + k > n->ih ? n->ih - y0 : k;
	*kx0 = x0 < 0 ? -x0 : 0;
	*kx1 = x0 + k > n->iw ? n->iw - x0 : k;
}

/* out = max(out, p) over C values (restrict: one vector loop, no alias
 * checks). */
static inline void max_u8(uint8_t *restrict out, const uint8_t *restrict p, int C)
{
	for (int c = 0; c < C; c++)
		out[c] = p[c] > out[c] ? p[c] : out[c];
}

static inline void max_i32(int32_t *restrict out, const int32_t *restrict p, int C)
{
	for (int c = 0; c < C; c++)
		out[c] = p[c] > out[c] ? p[c] : out[c];
}

/* Each output starts as its window's first valid tap. */
static void maxpool(struct qnode *n, const uint8_t *x, int images)
{
	const int C = n->c;
	#pragma omp parallel for collapse(2) schedule(static)
	for (int i = 0; i < images; i++)
		for (int oy = 0; oy < n->h; oy++) {
			const uint8_t *img = x + (size_t)i * n->ih * n->iw * C;
			for (int ox = 0; ox < n->w; ox++) {
				uint8_t *out = n->out + (((size_t)i * n->h + oy) * n->w + ox) * C;
				int ky0, ky1, kx0, kx1;
				window_taps(n, oy, ox, &ky0, &ky1, &kx0, &kx1);
				const int y0 = oy * n->stride - n->pad, x0 = ox * n->stride - n->pad;
				const uint8_t *p = img + ((size_t)(y0 + ky0) * n->iw + x0 + kx0) * C;
				memcpy(out, p, (size_t)C);
				for (int ky = ky0; ky < ky1; ky++)
					for (int kx = kx0; kx < kx1; kx++)
						max_u8(out, img + ((size_t)(y0 + ky) * n->iw + x0 + kx) * C, C);
			}
		}
}

/* Pool n over one image's int32 accumulators acc (ih, iw, C) into out
 * (h, w, C). */
static void maxpool_i32(const struct qnode *n, const int32_t *acc, int32_t *out)
{
	const int C = n->c;
	for (int oy = 0; oy < n->h; oy++)
		for (int ox = 0; ox < n->w; ox++, out += C) {
			int ky0, ky1, kx0, kx1;
			window_taps(n, oy, ox, &ky0, &ky1, &kx0, &kx1);
			const int y0 = oy * n->stride - n->pad, x0 = ox * n->stride - n->pad;
			memcpy(out, acc + ((size_t)(y0 + ky0) * n->iw + x0 + kx0) * C,
			       (size_t)C * sizeof(int32_t));
			for (int ky = ky0; ky < ky1; ky++)
				for (int kx = kx0; kx < kx1; kx++)
					max_i32(out, acc + ((size_t)(y0 + ky) * n->iw + x0 + kx) * C, C);
		}
}

/* A conv read only by a max pool (qnode.pool_into), after oneDNN's run of
 * `images` images (x their input, acc their accumulators, no box term:
 * qmodel_load.c): the pool runs on the int32 accumulators and only its
 * outputs are requantized, into out, a quarter or less of the conv's.
 * Exact: for each channel the requantization is non-decreasing in the
 * accumulator (requant.h), so a window's largest accumulator gives its
 * largest byte. Image by image. */
static void finish_pooled(const struct qmodel *q, const struct qnode *n, uint8_t *out,
			  int32_t *acc, int images, const int *cl, const uint8_t *x)
{
	const struct qnode *pool = &q->nodes[n->pool_into];
	const int pixels = n->h * n->w;
	const size_t acc_per = (size_t)pixels * n->kout, out_per = (size_t)pool->h * pool->w * n->kout;
	const struct iconv *sparse = iconv_sparse_count(n->iconv) ? n->iconv : NULL;
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < images; i++) {
		int32_t *a = acc + i * acc_per, *pooled = q->pooled + i * out_per;
		if (sparse)
			iconv_add_sparse(sparse, x, i, 0, pixels, a);
		maxpool_i32(pool, a, pooled);
		struct requant_rows p = rows_params(n, cl[i]);
		requant_u8_rows(out + i * out_per, pooled, (size_t)pool->h * pool->w, n->kout, &p);
	}
}

/* conv and linear: acc = Σ a·(w − Z2) over the window padded with Z1
 * (oneDNN's direct convolution, or im2col and the GEMM), minus Z1·Σ(w − Z2),
 * scaled by 2^acc_shift, plus the bias (which has acc_shift extra
 * fractional bits); then Z3 + M·acc, clamped (at Z3 too under a ReLU).
 * Every intermediate fits int32: |acc|, |Z1·Σ(w − Z2)| <= K·in_qmax·w_qmax,
 * and qmodel_load.c checked K·in_qmax·w_qmax·2^acc_shift + |bias| < 2^31. */
static void weighted(struct qmodel *q, struct qnode *n, const uint8_t *x, int images,
		     const int *cl)
{
	int pixels = n->h * n->w, K = n->kernel * n->kernel * n->ic;
	if (n->iconv) {
		/* n->chunk images at a time (qmodel.h's qmodel_chunk_bytes) */
		size_t in_per = (size_t)n->ih * n->iw * n->ic;
		const struct qnode *pool = n->pool_into ? &q->nodes[n->pool_into] : NULL;
		size_t out_per = pool ? (size_t)pool->h * pool->w * n->kout : (size_t)pixels * n->kout;
		const int step = n->chunk;
		int32_t z1[images];
		for (int i = 0; i < images; i++)
			z1[i] = n->in_zero[cl[i]];
		for (int i0 = 0; i0 < images; i0 += step) {
			int m = images - i0 < step ? images - i0 : step;
			const uint8_t *xc = x + i0 * in_per;
			iconv_run_split(n->iconv, xc, m, z1 + i0, q->acc, q->box);
			if (pool)
				finish_pooled(q, n, pool->out + i0 * out_per, q->acc, m, cl + i0, xc);
			else
				finish(n, n->out + i0 * out_per * qnode_value_bytes(n), q->acc, m,
				       cl + i0, iconv_coef(n->iconv), q->box,
				       iconv_sparse_count(n->iconv) ? n->iconv : NULL, xc);
		}
		return;
	}
	const uint8_t *a = x;   /* a 1x1 convolution or a linear layer reads its input */
	if (n->im2col) {
		im2col(q->col, x, n, images, cl);
		a = q->col;
	}
	const int rows = images * pixels;
	igemm_u8s8s32(rows, n->kout, K, a, K, 0, n->weight, K, n->wzero, q->acc, n->kout);
	/* the weights' sparse term (wrapping adds: the sums are exact) */
	#pragma omp parallel for schedule(static) if ((size_t)rows * n->n_sparse > 65536)
	for (int r = 0; r < rows; r++) {
		uint32_t *acc = (uint32_t *)q->acc + (size_t)r * n->kout;
		for (int e = 0; e < n->n_sparse; e++)
			acc[n->sparse[e].n] += (uint32_t)n->sparse[e].r * a[(size_t)r * K + n->sparse[e].k];
	}
	/* per-channel weight offsets: wcoef[k]·Σ of the row (the GEMM's
	 * input, padding included: it multiplies every weight) */
	if (n->any_wcoef) {
		#pragma omp parallel for schedule(static)
		for (int r = 0; r < rows; r++) {
			int32_t sum = 0;
			for (int t = 0; t < K; t++)
				sum += a[(size_t)r * K + t];
			q->box[r] = sum;
		}
	}
	finish(n, n->out, q->acc, images, cl, n->any_wcoef ? n->wcoef : NULL,
	       n->any_wcoef ? q->box : NULL, NULL, NULL);
}

/* Each input's (q − Z) scaled to one fixed-point grid, summed, rounded
 * once (requant.h), image by image. An input of more than 8 bits (a
 * 16-bit residual branch) is uint16. */
static void add(struct qnode *n, const uint8_t *a, const struct qnode *na, const uint8_t *b,
		const struct qnode *nb, int images, const int *cl)
{
	size_t per = (size_t)n->c * n->h * n->w;
	const size_t a_per = per * qnode_value_bytes(na), b_per = per * qnode_value_bytes(nb);
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < images; i++) {
		int c = cl[i];
		int32_t z3 = n->out_zero[c];
		struct requant_add p = {
			.za = n->in_zero[c], .ma = n->a_mult[c],
			.zb = n->b_zero[c], .mb = n->b_mult[c],
			.shift = n->shift[c],
			.z = z3, .lo = n->relu ? z3 : 0, .hi = n->qmax,
		};
		requant_add_wide(n->out + (size_t)i * per, a + (size_t)i * a_per, na->bits,
				 b + (size_t)i * b_per, nb->bits, per, &p);
	}
}

/* Σ over the pixels, divided with rounding to nearest (ties up: the sums
 * are non-negative, so this is also ties away from zero). */
static void global_avgpool(struct qnode *n, const uint8_t *x, int images)
{
	int C = n->c, pixels = n->ih * n->iw;
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < images; i++)
		for (int c = 0; c < C; c++) {
			int32_t sum = 0;
			const uint8_t *p = x + (size_t)i * pixels * C + c;
			for (int k = 0; k < pixels; k++)
				sum += p[(size_t)k * C];
			n->out[(size_t)i * C + c] = (uint8_t)((sum + pixels / 2) / pixels);
		}
}

/* The pixel sum minus P·Z1, scaled by 2^acc_shift (so the high multiply
 * does not round a small sum twice), requantized to the output's scale. */
static void avgpool_requant(struct qnode *n, const uint8_t *x,
			    int images, const int *cl)
{
	int C = n->c, pixels = n->ih * n->iw;
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < images; i++) {
		int c = cl[i];
		int32_t z3 = n->out_zero[c], base = pixels * n->in_zero[c];
		for (int ch = 0; ch < C; ch++) {
			int32_t sum = 0;
			const uint8_t *p = x + (size_t)i * pixels * C + ch;
			for (int k = 0; k < pixels; k++)
				sum += p[(size_t)k * C];
			n->out[(size_t)i * C + ch] =
				clamp_u8(z3 + fp_requantize((sum - base) * (1 << n->acc_shift), n->m0[c],
							    n->shift[c]), 0, n->qmax);
		}
	}
}

/* NHWC to the C, H, W order a linear layer's weights expect. */
static void flatten(struct qnode *n, const uint8_t *x, int images)
{
	size_t hw = (size_t)n->ih * n->iw, per = hw * n->ic;
	for (int i = 0; i < images; i++)
		for (size_t p = 0; p < hw; p++)
			for (int c = 0; c < n->ic; c++)
				n->out[i * per + (size_t)c * hw + p] = x[i * per + p * n->ic + c];
}

const uint8_t *qmodel_run(struct qmodel *q, const uint8_t *x, int n,
			  const struct kmeans_group *groups, size_t n_groups)
{
	CHECK(n >= 1 && n <= q->batch);
	int cl[n];
	CHECK(cluster_groups_expand(cl, n, groups, n_groups) == n);
	for (int i = 0; i < n; i++)
		CHECK(cl[i] >= 0 && cl[i] < q->clusters);
	for (int j = 0; j < q->n_nodes; j++) {
		struct qnode *node = &q->nodes[j];
		int64_t t0 = q->node_ns ? clock_ns() : 0;
		const uint8_t *in = j == 0 ? x : node->in[0] == 0 ? x : q->nodes[node->in[0]].out;
		switch (node->op) {
		case QOP_QUANTIZE: break;
		case QOP_CONV:
		case QOP_LINEAR: weighted(q, node, in, n, cl); break;
		case QOP_ADD: {
			const uint8_t *b = node->in[1] == 0 ? x : q->nodes[node->in[1]].out;
			add(node, in, &q->nodes[node->in[0]], b, &q->nodes[node->in[1]], n, cl);
			break;
		}
		case QOP_MAXPOOL:
			if (!node->fused)   /* else its conv did it */
				maxpool(node, in, n);
			break;
		case QOP_GLOBAL_AVGPOOL: global_avgpool(node, in, n); break;
		case QOP_AVGPOOL_REQUANT: avgpool_requant(node, in, n, cl); break;
		case QOP_FLATTEN: flatten(node, in, n); break;
		}
		if (q->node_ns)
			q->node_ns[j] += (uint64_t)(clock_ns() - t0);
	}
	return q->nodes[q->n_nodes - 1].out;
}

int qmodel_argmax(const uint8_t *out, int classes)
{
	int best = 0;
	for (int k = 1; k < classes; k++)
		if (out[k] > out[best])
			best = k;
	return best;
}
