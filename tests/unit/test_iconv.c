/* Tests for iconv.c: iconv_run, iconv_run_padded and iconv_run_split
 * (with its box sums) against a plain int64 reference of the definitions
 * in iconv.h, bit for bit: ResNet20's and
 * AlexNet-like layer shapes and odd ones (borders where several tap
 * ranges differ, pads as large as the kernel and larger), 2- to 8-bit
 * weights with zero points 0, qmax and in between, channels of which only
 * some need an offset (8 bits), a few weights beyond int8 (the sparse
 * term), per-image input zero points including 0
 * and 255, extreme operands (x all 255 with weights all 0 or all qmax),
 * outputs far beyond 2^24 (where a float round trip inside oneDNN would
 * show), the last smaller batch (a primitive created at run time), one
 * thread and two. Every check runs on the implementation iconv timed
 * fastest and again on each implementation it tried (iconv_pick), so all
 * of oneDNN's kernels that iconv may take on this CPU are held to the
 * definition, whichever wins the timing.
 *
 * iconv needs oneDNN with VNNI; where iconv_create says "not available"
 * the comparisons are skipped with a note, so the tests pass on any CPU.
 * The tests also re-run this binary with PCQ_ICONV=off and with
 * ONEDNN_MAX_CPU_ISA=AVX2 or AVX512_CORE (no VNNI), where iconv_create
 * must return 1, and with PCQ_ICONV=one (the last smaller batch run image
 * by image on the one-image primitive). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "child.h"

#include <omp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "iconv.h"
#include "rng.h"


struct shape {
	const char *name;
	int C, H, W, K, kernel, stride, pad;
};

/* name; C, H, W, K, kernel, stride, pad */
static const struct shape resnet_conv1 = { "resnet20 conv1 3->16 k3 s1 p1 32x32",
					   3, 32, 32, 16, 3, 1, 1 };
static const struct shape resnet_down = { "resnet20 16->32 k3 s2 p1 32x32",
					  16, 32, 32, 32, 3, 2, 1 };
static const struct shape resnet_short = { "resnet20 shortcut 16->32 k1 s2 p0 32x32",
					   16, 32, 32, 32, 1, 2, 0 };
static const struct shape resnet_s3 = { "resnet20 64->64 k3 s1 p1 8x8", 64, 8, 8, 64, 3, 1, 1 };
static const struct shape alexnet = { "alexnet-like 96->256 k5 s1 p2 15x15",
				      96, 15, 15, 256, 5, 1, 2 };
static const struct shape odd = { "odd 5->7 k3 s1 p1 9x11", 5, 9, 11, 7, 3, 1, 1 };
static const struct shape odd_s2 = { "odd 5->7 k3 s2 p1 9x11", 5, 9, 11, 7, 3, 2, 1 };
static const struct shape odd_k5 = { "odd 5->7 k5 s3 p2 9x11", 5, 9, 11, 7, 5, 3, 2 };
static const struct shape odd_p0 = { "odd 5->7 k4 s1 p0 9x11", 5, 9, 11, 7, 4, 1, 0 };
static const struct shape odd_k1p1 = { "odd 5->7 k1 s1 p1 9x11 (border outputs: no taps)",
				       5, 9, 11, 7, 1, 1, 1 };
static const struct shape odd_k2p3 = { "odd 5->7 k2 s2 p3 9x11 (pad > kernel)",
				       5, 9, 11, 7, 2, 2, 3 };

/* Kinds of operands. */
enum data {
	DATA_RANDOM,      /* x in 0..255, q_w in 0..qmax */
	DATA_LARGE,       /* x in 192..255, q_w in the top quarter: large sums */
	DATA_X255_W0,     /* x all 255, q_w all 0 */
	DATA_X255_WMAX,   /* x all 255, q_w all qmax */
	DATA_PARTIAL,     /* 8 bits: q_w within Z2 ± 50, but one weight in
			   * two channels of three too far from Z2 for int8 */
	DATA_SPARSE,      /* 8 bits: q_w within Z2 ± 50 but for two or three
			   * weights too far from Z2 for int8, two of them in
			   * one channel, one at the corner tap (the sparse term) */
};

static int out_size(int in, const struct shape *s)
{
	return (in + 2 * s->pad - s->kernel) / s->stride + 1;
}

/* The definition, in int64: x̃ padded with z1[i]. */
static void reference(const struct shape *s, const uint8_t *x, int n, const int32_t *z1,
		      const uint8_t *q_w, const int32_t *w_zero, int32_t *want)
{
	const int C = s->C, H = s->H, W = s->W, K = s->K, k = s->kernel;
	const int OH = out_size(H, s), OW = out_size(W, s);
	const size_t taps = (size_t)k * k * C;
	/* weights as (K, ky, kx, C) int32, minus Z2 */
	int32_t *w = malloc(taps * K * sizeof(int32_t));
	int32_t *col = malloc(taps * sizeof(int32_t));
	assert_true(w && col);
	for (int o = 0; o < K; o++)
		for (int c = 0; c < C; c++)
			for (int t = 0; t < k * k; t++)   /* t = ky·k + kx */
				w[(size_t)o * taps + (size_t)t * C + c] =
					q_w[((size_t)o * C + c) * k * k + t] - w_zero[o];
	for (size_t p = 0; p < (size_t)n * OH * OW; p++) {
		const int i = (int)(p / ((size_t)OH * OW)), oy = (int)(p / OW % OH);
		const int ox = (int)(p % OW);
		for (int t = 0; t < k * k; t++) {
			const int y = oy * s->stride - s->pad + t / k;
			const int xx = ox * s->stride - s->pad + t % k;
			const int in = y >= 0 && y < H && xx >= 0 && xx < W;
			const uint8_t *px = in ? x + (((size_t)i * H + y) * W + xx) * C : NULL;
			for (int c = 0; c < C; c++)
				col[(size_t)t * C + c] = (in ? px[c] : z1[i]) - z1[i];
		}
		for (int o = 0; o < K; o++) {
			int64_t acc = 0;
			const int32_t *wo = w + (size_t)o * taps;
			for (size_t t = 0; t < taps; t++)
				acc += (int64_t)col[t] * wo[t];
			assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
			want[p * K + o] = (int32_t)acc;
		}
	}
	free(w);
	free(col);
}

enum { MAX_CANDIDATES = 8 };   /* iconv tries at most four */

struct layer {
	const struct shape *s;
	int batch, bits, w_zero;   /* w_zero −1: a zero point per channel */
	int32_t *zeros;            /* (K) Z2 of each output channel */
	int constant;          /* x and q_w each one value */
	uint8_t *q_w, *x;
	int32_t *z1, *acc, *want;
	size_t in_per, out_per;
	struct iconv *cv;          /* the implementation timed fastest */
	/* where iconv tried several: the same convolution on each of them
	 * (iconv_pick), the timed one among them */
	struct iconv *forced[MAX_CANDIDATES];
	int n_forced;
};

/* The layer's convolution: 0, or 1 when iconv is not available for it. */
static int layer_conv(const struct layer *l, struct iconv **cv)
{
	const struct shape *s = l->s;
	int rc = iconv_create(cv, l->batch, s->C, s->H, s->W, s->K, s->kernel, s->stride, s->pad,
			      l->q_w, l->zeros, l->bits);
	assert_true(rc == 0 || rc == 1);
	return rc;
}

/* Makes the layer's weights and a batch of inputs; 0, or 1 when iconv is
 * not available for it here (then nothing is allocated). */
static int layer_init(struct layer *l, const struct shape *s, int batch, int bits, int w_zero,
		      enum data data, uint64_t seed)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->batch = batch;
	l->bits = bits;
	l->w_zero = w_zero;
	const int qmax = (1 << bits) - 1;
	struct rng rz;
	rng_seed(&rz, seed, 5);
	l->zeros = malloc((size_t)s->K * sizeof(int32_t));
	assert_non_null(l->zeros);
	for (int k = 0; k < s->K; k++)   /* per channel: 0, qmax, then any */
		l->zeros[k] = w_zero >= 0 ? w_zero : k == 0 ? 0 : k == 1 ? qmax
			      : (int32_t)rng_below(&rz, (uint32_t)qmax + 1);
	const size_t nw = (size_t)s->K * s->C * s->kernel * s->kernel;
	l->in_per = (size_t)s->H * s->W * s->C;
	l->out_per = (size_t)out_size(s->H, s) * out_size(s->W, s) * s->K;
	l->q_w = malloc(nw);
	l->x = malloc(l->in_per * batch);
	l->z1 = malloc(batch * sizeof(int32_t));
	l->acc = malloc(l->out_per * batch * sizeof(int32_t));
	l->want = malloc(l->out_per * batch * sizeof(int32_t));
	assert_true(l->q_w && l->x && l->z1 && l->acc && l->want);
	struct rng r;
	rng_seed(&r, seed, 11);
	const int near_z2 = data == DATA_PARTIAL || data == DATA_SPARSE;
	for (size_t i = 0; i < nw && near_z2; i++) {
		int v = l->zeros[i / (nw / s->K)] - 50 + (int)rng_below(&r, 101);
		l->q_w[i] = (uint8_t)(v < 0 ? 0 : v > qmax ? qmax : v);
	}
	const size_t per_k = nw / s->K;
	/* one weight 128 or more from Z2: the extreme, or just over int8 */
	const int high = w_zero + 128 <= qmax;
	const int far = high ? qmax : 0, near = high ? w_zero + 128 : w_zero - 129;
	for (int k = 0; k < s->K && data == DATA_PARTIAL; k++)
		if (k % 3)
			l->q_w[k * per_k + rng_below(&r, (uint32_t)per_k)] =
				(uint8_t)(k % 3 == 1 ? far : near);
	if (data == DATA_SPARSE) {
		/* channel 0 at its first weight (c 0, the corner tap) and a
		 * random one, the last channel at a random one */
		l->q_w[0] = (uint8_t)far;
		l->q_w[1 + rng_below(&r, (uint32_t)per_k - 1)] = (uint8_t)near;
		if (s->K / 8 >= 3)
			l->q_w[(s->K - 1) * per_k + rng_below(&r, (uint32_t)per_k)] = (uint8_t)far;
	}
	for (size_t i = 0; i < nw && !near_z2; i++)
		l->q_w[i] = data == DATA_RANDOM	     ? (uint8_t)rng_below(&r, (uint32_t)qmax + 1)
			    : data == DATA_LARGE
				? (uint8_t)(qmax - rng_below(&r, (uint32_t)(qmax + 1) / 4))
			    : data == DATA_X255_W0   ? 0
						     : (uint8_t)qmax;
	for (size_t i = 0; i < l->in_per * batch; i++)
		l->x[i] = data == DATA_RANDOM || data == DATA_PARTIAL ? (uint8_t)rng_below(&r, 256)
			  : data == DATA_LARGE ? (uint8_t)(192 + rng_below(&r, 64))
					       : 255;
	l->constant = data == DATA_X255_W0 || data == DATA_X255_WMAX;
	if (layer_conv(l, &l->cv)) {
		const char *why = iconv_unavailable();
		print_message("note: iconv not available for %s (%s): comparisons skipped\n",
			      s->name, why ? why : "size or oneDNN implementation");
		assert_null(l->cv);
		free(l->q_w);
		free(l->x);
		free(l->z1);
		free(l->acc);
		free(l->want);
		free(l->zeros);
		memset(l, 0, sizeof(*l));
		return 1;
	}
	assert_non_null(l->cv);
	const int candidates = iconv_candidates(l->cv);
	assert_true(candidates >= 1 && candidates <= MAX_CANDIDATES);
	int timed_tried = 0;
	for (int k = 0; candidates > 1 && k < candidates; k++) {
		iconv_pick(k);
		assert_int_equal(layer_conv(l, &l->forced[k]), 0);
		iconv_pick(-1);
		timed_tried |= !strcmp(iconv_impl(l->forced[k]), iconv_impl(l->cv));
		l->n_forced++;
	}
	assert_true(timed_tried || candidates == 1);
	return 0;
}

static void layer_free(struct layer *l)
{
	iconv_free(l->cv);
	for (int k = 0; k < l->n_forced; k++)
		iconv_free(l->forced[k]);
	free(l->zeros);
	free(l->q_w);
	free(l->x);
	free(l->z1);
	free(l->acc);
	free(l->want);
}

/* The definition in closed form when x is all xv and q_w all wv: the
 * valid taps times C times (xv − z1)·(wv − Z2). */
static void reference_constant(const struct shape *s, int xv, int n, const int32_t *z1, int wv,
			       const int32_t *w_zero, int32_t *want)
{
	const int OH = out_size(s->H, s), OW = out_size(s->W, s), k = s->kernel;
	for (size_t p = 0; p < (size_t)n * OH * OW; p++) {
		const int i = (int)(p / ((size_t)OH * OW)), oy = (int)(p / OW % OH);
		const int ox = (int)(p % OW);
		int64_t taps = 0;
		for (int t = 0; t < k * k; t++) {
			const int y = oy * s->stride - s->pad + t / k;
			const int xx = ox * s->stride - s->pad + t % k;
			taps += y >= 0 && y < s->H && xx >= 0 && xx < s->W;
		}
		for (int o = 0; o < s->K; o++) {
			const int64_t v = taps * s->C * (xv - z1[i]) * (wv - w_zero[o]);
			assert_true(v >= INT32_MIN && v <= INT32_MAX);
			want[p * s->K + o] = (int32_t)v;
		}
	}
}

/* Runs n images (zero points already in l->z1) through iconv_run,
 * iconv_run_padded and iconv_run_split on cv and compares with l->want,
 * plus z1·Σ(q_w − Z2) (wsum) for the padded ones; the output past n must
 * stay untouched. */
static void check_modes(struct layer *l, struct iconv *cv, int n, const char *what,
			const int64_t *wsum)
{
	const size_t out = l->out_per * n, all = l->out_per * l->batch;
	const struct shape *s = l->s;
	const int OH = out_size(s->H, s), OW = out_size(s->W, s);
	int32_t *box = malloc((size_t)l->batch * OH * OW * sizeof(int32_t));
	assert_non_null(box);
	/* mode 0: iconv_run; 1: iconv_run_padded; 2: iconv_run_split, its box
	 * term added here (and the box sums checked against direct sums) */
	for (int mode = 0; mode < 3; mode++) {
		const int padded = mode > 0;
		memset(l->acc, 0x5a, all * sizeof(int32_t));
		memset(box, 0x5a, (size_t)l->batch * OH * OW * sizeof(int32_t));
		if (mode == 2)
			iconv_run_split(cv, l->x, n, l->z1, l->acc, box);
		else if (padded)
			iconv_run_padded(cv, l->x, n, l->z1, l->acc);
		else
			iconv_run(cv, l->x, n, l->z1, l->acc);
		const int32_t *coef = iconv_coef(cv);
		if (mode == 2 && coef)
			for (int i = 0; i < n; i++)
				for (int oy = 0; oy < OH; oy++)
					for (int ox = 0; ox < OW; ox++) {
						int64_t sum = 0;
						for (int ky = 0; ky < s->kernel; ky++)
							for (int kx = 0; kx < s->kernel; kx++) {
								int y = oy * s->stride - s->pad + ky;
								int xx = ox * s->stride - s->pad + kx;
								if (y < 0 || y >= s->H || xx < 0 || xx >= s->W)
									continue;
								for (int c = 0; c < s->C; c++)
									sum += l->x[(((size_t)i * s->H + y) * s->W + xx) * s->C + c];
							}
						assert_int_equal(box[((size_t)i * OH + oy) * OW + ox], sum);
					}
		if (mode == 2 && !coef)
			assert_int_equal(box[0], 0x5a5a5a5a);   /* not written */
		if (mode == 2 && iconv_sparse_count(cv)) {
			/* as the engine adds it: in two row blocks, the second
			 * starting inside an output row */
			const int rows = OH * OW, cut = rows / 3 + (OW > 1);
			for (int i = 0; i < n; i++) {
				int32_t *a = l->acc + (size_t)i * l->out_per;
				iconv_add_sparse(cv, l->x, i, 0, cut, a);
				iconv_add_sparse(cv, l->x, i, cut, rows, a + (size_t)cut * s->K);
			}
		}
		for (size_t e = 0; e < out; e++) {
			int64_t want = l->want[e];
			if (padded) {
				want += l->z1[e / l->out_per] * wsum[e % l->s->K];
				assert_true(want >= INT32_MIN && want <= INT32_MAX);
			}
			int32_t got = l->acc[e];
			if (mode == 2 && coef)   /* wrapping, as the engine adds it */
				got = (int32_t)((uint32_t)got + (uint32_t)coef[e % l->s->K] *
							       (uint32_t)box[e / l->s->K]);
			if (got != want) {
				print_error("%s, %d bits, Z2 %d, n %d (%s, %s%s): acc[%zu] = %d, "
					    "expected %lld\n", l->s->name, l->bits, l->w_zero, n,
					    what, iconv_impl(cv), mode == 2 ? ", split" : padded ? ", padded" : "", e,
					    got, (long long)want);
				fail();
			}
		}
		for (size_t e = out; e < all; e++)
			assert_int_equal(l->acc[e], 0x5a5a5a5a);
	}
	free(box);
}

/* The reference for n images (zero points already in l->z1; the closed
 * form for constant operands), and check_modes on the layer's convolution
 * (the implementation timed fastest), then on each implementation iconv
 * tried. */
static void run_check(struct layer *l, int n, const char *what)
{
	if (l->constant)
		reference_constant(l->s, l->x[0], n, l->z1, l->q_w[0], l->zeros, l->want);
	else
		reference(l->s, l->x, n, l->z1, l->q_w, l->zeros, l->want);
	const size_t per_k = (size_t)l->s->C * l->s->kernel * l->s->kernel;
	int64_t *wsum = calloc(l->s->K, sizeof(int64_t));
	assert_non_null(wsum);
	for (int k = 0; k < l->s->K; k++)
		for (size_t t = 0; t < per_k; t++)
			wsum[k] += l->q_w[k * per_k + t] - l->zeros[k];
	check_modes(l, l->cv, n, what, wsum);
	for (int k = 0; k < l->n_forced; k++)
		check_modes(l, l->forced[k], n, what, wsum);
	free(wsum);
}

static void set_z1(struct layer *l, int n, int mode, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed, 3);
	for (int i = 0; i < n; i++)
		l->z1[i] = mode >= 0 ? mode
			   : i == 0  ? 0
			   : i == 1  ? 255
				     : (int32_t)rng_below(&r, 256);
}

/* One layer, random data, batch 8: the last smaller batch (5) before and
 * after the full one, and one image; per-image zero points. */
static void check_layer(const struct shape *s, int batch, int bits, int w_zero, uint64_t seed)
{
	struct layer l;
	if (layer_init(&l, s, batch, bits, w_zero, DATA_RANDOM, seed))
		return;
	const int ns[] = { batch, 1, batch > 5 ? 5 : 0, batch > 5 ? 5 : 0 };
	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]) && ns[t]; t++) {
		set_z1(&l, ns[t], -1, seed + t);
		run_check(&l, ns[t], "random");
	}
	layer_free(&l);
}

static void check_shape_all_zero_points(const struct shape *s, int batch, uint64_t seed)
{
	const int bits[] = { 4, 8 };
	for (int b = 0; b < 2; b++) {
		const int qmax = (1 << bits[b]) - 1;
		/* per channel (−1) at 8 bits, where channels need their own
		 * offsets; at 4 bits every q_w − Z2[k] fits int8 anyway */
		const int zs[] = { 0, qmax, qmax / 2 + 1, qmax / 3, -1 };
		for (int z = 0; z < 4 + (bits[b] == 8); z++)
			check_layer(s, batch, bits[b], zs[z], seed + 10 * b + z);
	}
}

static void test_resnet20(void **state)
{
	(void)state;
	check_shape_all_zero_points(&resnet_conv1, 8, 1);
	check_shape_all_zero_points(&resnet_down, 8, 2);
	check_shape_all_zero_points(&resnet_short, 8, 3);
	check_shape_all_zero_points(&resnet_s3, 8, 4);
}

static void test_odd(void **state)
{
	(void)state;
	check_shape_all_zero_points(&odd, 8, 5);
	check_shape_all_zero_points(&odd_s2, 8, 6);
	check_shape_all_zero_points(&odd_k5, 8, 7);
	check_shape_all_zero_points(&odd_p0, 8, 8);
	check_shape_all_zero_points(&odd_k1p1, 3, 9);
	check_shape_all_zero_points(&odd_k2p3, 3, 13);
	check_layer(&odd, 1, 8, 77, 10);   /* batch 1: one primitive */
	check_layer(&odd, 2, 2, 1, 11);    /* 2-bit weights */
	check_layer(&odd, 8, 7, 64, 12);
}

/* AlexNet-like: few images (the reference is slow). */
static void test_alexnet(void **state)
{
	(void)state;
	check_layer(&alexnet, 2, 4, 8, 20);
	check_layer(&alexnet, 2, 8, 0, 21);
	check_layer(&alexnet, 2, 8, 255, 22);
	check_layer(&alexnet, 2, 8, 131, 23);
}

/* x all 255, weights all 0 or all qmax, every zero-point pair from the
 * extremes: the largest magnitudes of either sign. */
static void test_extremes(void **state)
{
	(void)state;
	const struct shape *shapes[] = { &odd, &resnet_s3, &alexnet };
	const int bits[] = { 4, 8 };
	for (size_t si = 0; si < 3; si++)
		for (int b = 0; b < 2; b++) {
			const int qmax = (1 << bits[b]) - 1;
			const int zs[] = { 0, qmax, qmax / 2 };
			for (int d = DATA_X255_W0; d <= DATA_X255_WMAX; d++)
				for (int z = 0; z < 3; z++) {
					struct layer l;
					if (layer_init(&l, shapes[si], 4, bits[b], zs[z],
						       (enum data)d, 30))
						continue;
					const int z1s[] = { 0, 255, 128, -1 };
					const char *what =
						d == DATA_X255_W0 ? "x 255, w 0" : "x 255, w max";
					for (int m = 0; m < 4; m++) {
						set_z1(&l, 4, z1s[m], 0);
						run_check(&l, 4, what);
					}
					layer_free(&l);
				}
		}
}

/* Outputs far beyond 2^24 with low bits set: 8-bit weights in the top
 * quarter and Z2 = 0 (offset weights of about +100, so the primitive's
 * own output is large too), x in 192..255, z1 = 0. */
static void test_large_outputs(void **state)
{
	(void)state;
	const struct shape *shapes[] = { &resnet_s3, &alexnet };
	for (size_t si = 0; si < 2; si++) {
		struct layer l;
		if (layer_init(&l, shapes[si], 2, 8, 0, DATA_LARGE, 40 + si))
			continue;
		print_message("note: %s, large outputs: oneDNN %s\n", shapes[si]->name,
			      iconv_impl(l.cv));
		set_z1(&l, 2, 0, 0);
		run_check(&l, 2, "large");
		int beyond = 0, most = 0;
		for (size_t e = 0; e < l.out_per * 2; e++) {
			beyond += l.want[e] > (1 << 24);
			most = l.want[e] > most ? l.want[e] : most;
		}
		print_message("note: %d outputs above 2^24, the largest %d\n", beyond, most);
		if (si == 1)
			assert_true(beyond > 0);
		set_z1(&l, 2, -1, 1);
		run_check(&l, 2, "large, z1 0 and 255");
		layer_free(&l);
	}
}

/* 8-bit weights where only some channels need an offset o[k] != Z2 (the
 * box-sum term for those alone on interior outputs of iconv_run_padded). */
static void test_partial_offsets(void **state)
{
	(void)state;
	const struct shape *shapes[] = { &odd, &odd_k5, &resnet_conv1, &resnet_s3 };
	const int zs[] = { 100, 200, 127 };
	for (size_t si = 0; si < 4; si++)
		for (int z = 0; z < 3; z++) {
			struct layer l;
			if (layer_init(&l, shapes[si], 4, 8, zs[z], DATA_PARTIAL, 70 + si))
				continue;
			/* too many for the sparse term: the offsets' path */
			assert_non_null(iconv_coef(l.cv));
			assert_int_equal(iconv_sparse_count(l.cv), 0);
			set_z1(&l, 4, -1, 5);
			run_check(&l, 4, "partial offsets");
			set_z1(&l, 3, 0, 0);
			run_check(&l, 3, "partial offsets, z1 0");
			layer_free(&l);
		}
}

/* 8-bit weights where two or three weights are beyond int8 from Z2: the
 * sparse term (no offsets, no box sums), added by iconv_run and
 * iconv_run_padded themselves and by the caller after iconv_run_split;
 * shapes with every kind of border (the taps' column ranges). */
static void test_sparse(void **state)
{
	(void)state;
	const struct shape *shapes[] = { &odd, &odd_s2, &odd_k5, &odd_p0, &odd_k1p1, &odd_k2p3,
					 &resnet_conv1, &resnet_down, &resnet_short, &resnet_s3 };
	const int zs[] = { 100, 200, 127 };
	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++)
		for (int z = 0; z < 3; z++) {
			struct layer l;
			if (layer_init(&l, shapes[si], 4, 8, zs[z], DATA_SPARSE, 80 + si))
				continue;
			assert_null(iconv_coef(l.cv));
			assert_int_equal(iconv_sparse_count(l.cv), shapes[si]->K / 8 >= 3 ? 3 : 2);
			set_z1(&l, 4, -1, 7);
			run_check(&l, 4, "sparse");
			set_z1(&l, 1, 0, 0);
			run_check(&l, 1, "sparse, z1 0");
			layer_free(&l);
		}
}

/* One thread and two, and a call inside a parallel region. */
static void test_threads(void **state)
{
	(void)state;
	struct layer l;
	if (layer_init(&l, &resnet_down, 8, 8, 100, DATA_RANDOM, 50))
		return;
	const int saved = omp_get_max_threads();
	set_z1(&l, 8, -1, 2);
	omp_set_num_threads(1);
	run_check(&l, 8, "1 thread");
	omp_set_num_threads(2);
	run_check(&l, 8, "2 threads");
	omp_set_num_threads(saved);
	int32_t *acc = malloc(l.out_per * 8 * sizeof(int32_t));
	assert_non_null(acc);
#pragma omp parallel num_threads(2)
	{
#pragma omp single
		iconv_run(l.cv, l.x, 8, l.z1, acc);
	}
	assert_memory_equal(acc, l.want, l.out_per * 8 * sizeof(int32_t));
	free(acc);
	layer_free(&l);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	uint8_t w[7 * 5 * 9];
	memset(w, 3, sizeof(w));
	const int32_t z0[7] = {0}, z4[7] = {0, 0, 0, 4};   /* Z2 4 > qmax at 2 bits */
	struct iconv *cv = (struct iconv *)&cv;
	assert_int_equal(iconv_create(&cv, 0, 5, 9, 11, 7, 3, 1, 1, w, z0, 4), -1);
	assert_null(cv);
	assert_int_equal(iconv_create(&cv, 2, 5, 9, 11, 7, 3, 1, 1, w, z0, 9), -1);
	assert_int_equal(iconv_create(&cv, 2, 5, 9, 11, 7, 3, 1, 1, w, z4, 2), -1);   /* Z2 > qmax */
	w[100] = 16;
	assert_int_equal(iconv_create(&cv, 2, 5, 9, 11, 7, 3, 1, 1, w, z0, 4), -1);   /* w > qmax */
	w[100] = 3;
	assert_int_equal(iconv_create(&cv, 2, 5, 1, 11, 7, 3, 1, 0, w, z0, 4), -1);   /* no output */
	assert_null(cv);
	/* kernel²·C above the int32 bound: not available */
	uint8_t *big = calloc((size_t)2 * 3670 * 9, 1);
	assert_non_null(big);
	assert_int_equal(iconv_create(&cv, 1, 3670, 3, 3, 2, 3, 1, 0, big, z0, 8), 1);
	assert_null(cv);
	free(big);
}

/* ---- Re-runs of this binary under another environment ---- */


/* In the children: iconv_create must say "not available". */
static void child_unavailable(void **state)
{
	(void)state;
	assert_non_null(iconv_unavailable());
	print_message("note: %s\n", iconv_unavailable());
	uint8_t w[7 * 5 * 9];
	memset(w, 3, sizeof(w));
	const int32_t z0[7] = {0};
	struct iconv *cv = NULL;
	assert_int_equal(iconv_create(&cv, 2, 5, 9, 11, 7, 3, 1, 1, w, z0, 4), 1);
	assert_null(cv);
}

/* In the PCQ_ICONV=one child: the smaller batches image by image. */
static void child_one(void **state)
{
	(void)state;
	check_layer(&odd_s2, 8, 8, 100, 60);
	check_layer(&resnet_conv1, 8, 4, 3, 61);
}

static void test_env(void **state)
{
	(void)state;
	assert_int_equal(run_child("one", "PCQ_ICONV", "one"), 0);
	assert_int_equal(run_child("unavailable", "PCQ_ICONV", "off"), 0);
	assert_int_equal(run_child("unavailable", "ONEDNN_MAX_CPU_ISA", "AVX2"), 0);
	assert_int_equal(run_child("unavailable", "ONEDNN_MAX_CPU_ISA", "AVX512_CORE"), 0);
}

int main(int argc, char **argv)
{
	set_program_name(argv[0]);
	if (argc > 1 && !strcmp(argv[1], "unavailable")) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(child_unavailable),
		};
		return cmocka_run_group_tests_name("iconv, not available", tests, NULL, NULL);
	}
	if (argc > 1 && !strcmp(argv[1], "one")) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(child_one),
		};
		return cmocka_run_group_tests_name("iconv, PCQ_ICONV=one", tests, NULL, NULL);
	}
	const char *why = iconv_unavailable();
	if (why)
		print_message("note: iconv is not available on this machine (%s): "
			      "only the \"not available\" paths are tested\n", why);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_resnet20),
		cmocka_unit_test(test_odd),
		cmocka_unit_test(test_alexnet),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_large_outputs),
		cmocka_unit_test(test_partial_offsets),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
