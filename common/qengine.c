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

/* acc·2^acc_shift + offset, where offset = bias − Z1·Σ(w − Z2)·2^acc_shift
 * (per cluster, qmodel_load.c), requantized in one vector pass; images
 * [i0, i1) of the batch, whose accumulators start at acc. */
static void finish(const struct qmodel *q, const struct qnode *n, int32_t *acc_base, int i0,
		   int i1, const int *cl)
{
	enum { BLOCK = 64 };
	int pixels = n->h * n->w, per_image = (pixels + BLOCK - 1) / BLOCK;
	#pragma omp parallel for schedule(static)
	for (int b = 0; b < (i1 - i0) * per_image; b++) {
		int i = i0 + b / per_image, c = cl[i];
		int r0 = (i - i0) * pixels + (b % per_image) * BLOCK;
		int r1 = r0 + BLOCK < (i - i0 + 1) * pixels ? r0 + BLOCK : (i - i0 + 1) * pixels;
		const int kout = n->kout;
		const int32_t scale = 1 << n->acc_shift;
		const int32_t *restrict offset = n->offset + (size_t)c * kout;
		int32_t *restrict acc = acc_base + (size_t)r0 * kout;
		for (int r = 0; r < r1 - r0; r++, acc += kout)
			for (int o = 0; o < kout; o++)
				acc[o] = acc[o] * scale + offset[o];
		int32_t z3 = n->out_zero[c];
		requant_u8(n->out + ((size_t)i0 * pixels + r0) * kout, acc_base + (size_t)r0 * kout,
			   (size_t)(r1 - r0) * kout, n->m0[c], n->shift[c], z3, n->relu ? z3 : 0,
			   q->qmax);
	}
}

/* conv and linear: acc = Σ a·(w − Z2) over the window padded with Z1
 * (oneDNN's direct convolution, or im2col and the GEMM), minus Z1·Σ(w − Z2),
 * scaled by 2^acc_shift, plus the bias (which has acc_shift extra
 * fractional bits); then Z3 + M·acc, clamped (at Z3 too under a ReLU).
 * Every intermediate fits int32: |acc|, |Z1·Σ(w − Z2)| <= K·qmax², and
 * qmodel_load.c checked K·qmax²·2^acc_shift + |bias| < 2^31. */
static void weighted(struct qmodel *q, struct qnode *n, const uint8_t *x, int images,
		     const int *cl)
{
	int pixels = n->h * n->w, K = n->kernel * n->kernel * n->ic;
	if (n->iconv) {
		/* The whole batch in one call: measured faster than chunks of 4 to
		 * 32 images that would keep the accumulators in cache. */
		int32_t z1[images];
		for (int i = 0; i < images; i++)
			z1[i] = n->in_zero[cl[i]];
		iconv_run_padded(n->iconv, x, images, z1, q->acc);
		finish(q, n, q->acc, 0, images, cl);
		return;
	}
	const uint8_t *a = x;   /* a 1x1 convolution or a linear layer reads its input */
	if (n->im2col) {
		im2col(q->col, x, n, images, cl);
		a = q->col;
	}
	igemm_u8s8s32(images * pixels, n->kout, K, a, K, 0, n->weight, K, n->wzero, q->acc, n->kout);
	finish(q, n, q->acc, 0, images, cl);
}

/* Each input's (q − Z) rescaled to the output scale with QADD_SHIFT
 * extra bits, summed, rounded once. */
static void add(struct qmodel *q, struct qnode *n, const uint8_t *a, const uint8_t *b,
		int images, const int *cl)
{
	size_t per = (size_t)n->c * n->h * n->w;
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < images; i++) {
		int c = cl[i];
		int32_t za = n->in_zero[c], zb = n->b_zero[c], z3 = n->out_zero[c];
		/* Per-thread scratch, so it stays in cache. */
		int32_t *restrict ra = q->add_scratch + 2 * (size_t)omp_get_thread_num() * per;
		int32_t *restrict rb = ra + per;
		const uint8_t *restrict ai = a + (size_t)i * per, *restrict bi = b + (size_t)i * per;
		for (size_t e = 0; e < per; e++) {
			ra[e] = (ai[e] - za) * (1 << QADD_SHIFT);
			rb[e] = (bi[e] - zb) * (1 << QADD_SHIFT);
		}
		requant_i32(ra, ra, per, n->m0[c], n->shift[c]);
		requant_i32(rb, rb, per, n->b_m0[c], n->b_shift[c]);
		/* |ra|, |rb| < 2^24·64 (multipliers below 64: qmodel_load.c). */
		for (size_t e = 0; e < per; e++)
			ra[e] += rb[e];
		div_pot_i32(ra, ra, per, QADD_SHIFT);
		/* z3 + sum, clamped: requant_u8 with M = 2^30·2^-31·2^1 = 1 exactly
		 * (|sum| < 2^24, so the doubling cannot saturate), for its vector
		 * clamp. */
		requant_u8(n->out + (size_t)i * per, ra, per, 1 << 30, -1, z3, n->relu ? z3 : 0,
			   q->qmax);
	}
}

static void maxpool(struct qnode *n, const uint8_t *x, int images)
{
	int C = n->c;
	#pragma omp parallel for collapse(2) schedule(static)
	for (int i = 0; i < images; i++)
		for (int oy = 0; oy < n->h; oy++)
			for (int ox = 0; ox < n->w; ox++) {
				uint8_t *out = n->out + (((size_t)i * n->h + oy) * n->w + ox) * C;
				memset(out, 0, (size_t)C);
				for (int ky = 0; ky < n->kernel; ky++) {
					int y = oy * n->stride - n->pad + ky;
					for (int kx = 0; kx < n->kernel; kx++) {
						int xx = ox * n->stride - n->pad + kx;
						if (y < 0 || y >= n->ih || xx < 0 || xx >= n->iw)
							continue;   /* padding never wins */
						const uint8_t *p = x + (((size_t)i * n->ih + y) * n->iw + xx) * C;
						for (int c = 0; c < C; c++)
							out[c] = p[c] > out[c] ? p[c] : out[c];
					}
				}
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
static void avgpool_requant(const struct qmodel *q, struct qnode *n, const uint8_t *x,
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
							    n->shift[c]), 0, q->qmax);
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
		const uint8_t *in = j == 0 ? x : node->in[0] == 0 ? x : q->nodes[node->in[0]].out;
		switch (node->op) {
		case QOP_QUANTIZE: break;
		case QOP_CONV:
		case QOP_LINEAR: weighted(q, node, in, n, cl); break;
		case QOP_ADD: {
			const uint8_t *b = node->in[1] == 0 ? x : q->nodes[node->in[1]].out;
			add(q, node, in, b, n, cl);
			break;
		}
		case QOP_MAXPOOL: maxpool(node, in, n); break;
		case QOP_GLOBAL_AVGPOOL: global_avgpool(node, in, n); break;
		case QOP_AVGPOOL_REQUANT: avgpool_requant(q, node, in, n, cl); break;
		case QOP_FLATTEN: flatten(node, in, n); break;
		}
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
