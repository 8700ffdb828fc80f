/* Exact integer convolution on oneDNN's int8 convolution primitive; see
 * iconv.h for the definition and the exactness argument. */
#include "iconv.h"

#include "check.h"
#include "progress.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* kernel²·C above this could overflow int32 (igemm.h's IGEMM_MAX_K). */
#define ICONV_MAX_TAPS 33025
/* Integers up to this magnitude survive oneDNN's int32 → float → int32. */
#define ICONV_FLOAT_EXACT (1 << 24)
/* Implementations timed per primitive (prim_create): oneDNN offers up to
 * four fast exact ones on one layer (brgconv and the direct jit kernel, on
 * AMX and on VNNI), then slower fallbacks. */
#define ICONV_MAX_CANDIDATES 4
#define ICONV_TIMING_ROUNDS 3

/* ---- oneDNN's engine and stream, and the availability, made once ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static const char *unavailable;   /* NULL: usable */
static int env_one;               /* PCQ_ICONV=one: smaller batches image by image */
static int pick = -1;             /* iconv_pick; PCQ_ICONV=first: 0 */
static char unavailable_buf[96];

/* dnnl_cpu_isa_t values are bit sets containing the ISAs below them. */
static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t want)
{
	return ((unsigned)isa & (unsigned)want) == (unsigned)want;
}

static void init(void)
{
	const char *e = getenv("PCQ_ICONV");
	if (e && !strcmp(e, "off")) {
		unavailable = "PCQ_ICONV=off";
		return;
	}
	if (e && !strcmp(e, "one"))
		env_one = 1;
	else if (e && !strcmp(e, "first"))
		pick = 0;
	else if (e && *e && strcmp(e, "auto"))
		warn("PCQ_ICONV=%s: expected auto, first, off or one; using auto", e);
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
#if defined(__x86_64__)
	int vnni = isa_has(isa, dnnl_cpu_isa_avx512_core_vnni) ||
		   isa_has(isa, dnnl_cpu_isa_avx2_vnni);
#else
	int vnni = 0;
#endif
	if (!vnni) {
		snprintf(unavailable_buf, sizeof(unavailable_buf),
			 "oneDNN's effective ISA (%#x) has no VNNI", (unsigned)isa);
		unavailable = unavailable_buf;
		return;
	}
	if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
		unavailable = "oneDNN's CPU engine could not be created";
}

const char *iconv_unavailable(void)
{
	pthread_once(&init_once, init);
	return unavailable;
}

/* ---- The plan ---- */

/* One primitive, for one n. */
struct prim {
	struct prim *next;
	int n;
	int usable;            /* 0: this n runs image by image on cv->one */
	dnnl_primitive_t conv;
	dnnl_memory_t src, wei, dst, scratch;
	char impl[64];
};

/* One weight whose q_w − Z2 does not fit int8: w' holds it clamped to
 * int8, r the rest. */
struct sparse_tap {
	int k, c, ky, kx;
	int32_t r;
};

struct iconv {
	int batch, C, H, W, K, kernel, stride, pad, OH, OW;
	int candidates;        /* implementations tried for n = batch */
	int small;             /* 255·max(Σ w'+, Σ w'−) <= 2^24 for every output channel */
	int8_t *w8;            /* (K, C, kernel, kernel): q_w − o[k] */
	int32_t *coef;         /* (K) o[k] − Z2 */
	int any_coef;          /* some coef != 0: the box sums are needed */
	int *offset_k, n_offset_k;   /* the channels k with coef[k] != 0 */
	struct sparse_tap *sparse;   /* (n_sparse): the rest of q_w − Z2 beyond int8 */
	int n_sparse;
	int nry, nrx;          /* distinct valid row / column tap ranges */
	int *ry, *rx;          /* (OH), (OW): each output row's / column's range */
	int *ylo, *yhi, *xlo, *xhi;   /* (nry), (nrx): the ranges [lo, hi) */
	int *y0, *y1, *x0, *x1;       /* (OH), (OW): the input rows [y0, y1) and
				       * columns [x0, x1) under each output's
				       * valid taps */
	/* (nry, nrx, K) each: U[0] = −Σ over the valid taps of (q_w − Z2),
	 * U[1] = Σ over the padded taps (all taps but the valid ones) */
	int32_t *U[2];
	int *full_y, *full_x;  /* (nry), (nrx): the range is the whole kernel */
	int border;            /* some output has padded taps */
	uint32_t *integral;    /* (batch, H + 1, W + 1) integral images of Σ_c x
				* (mod 2^32), when any_coef and kernel > 1 */
	dnnl_stream_t stream;  /* this convolution's own: iconvs may run concurrently */
	struct prim *prims;    /* created so far, for n = batch first */
	struct prim *one;      /* n = 1 */
};

static int dnnl_error(const char *what, dnnl_status_t s)
{
	return error("oneDNN convolution: %s: %s", what, dnnl_status2str(s));
}

static void prim_free(struct prim *p)
{
	if (!p)
		return;
	if (p->conv)
		dnnl_primitive_destroy(p->conv);
	if (p->src)
		dnnl_memory_destroy(p->src);
	if (p->wei)
		dnnl_memory_destroy(p->wei);
	if (p->dst)
		dnnl_memory_destroy(p->dst);
	if (p->scratch)
		dnnl_memory_destroy(p->scratch);
	free(p);
}

/* Whether the implementation `impl` gives exact results for this layer
 * (iconv.h): any but the reference one when the outputs stay within 2^24,
 * else the brgemm-based ones on avx512_core_vnni. */
static int impl_accepted(const struct iconv *cv, const char *impl)
{
	if (!strncmp(impl, "ref", 3))
		return 0;
	if (cv->small)
		return 1;
	/* brgconv stores the int32 accumulators unchanged, with VNNI's vpdpbusd
	 * or AMX's tdpbusd (exact int32 sums; test_iconv's large cases run bit
	 * for bit on whichever kernel this CPU gets) */
	return !strncmp(impl, "brgconv", 7) &&
	       (strstr(impl, "avx512_core_vnni") || strstr(impl, "avx512_core_amx"));
}

/* Makes p's primitive from pd: the weights reordered once into its layout,
 * its scratchpad and argument handles. 0, or -1 after an error message. */
static int prim_build(const struct iconv *cv, struct prim *p, const_dnnl_primitive_desc_t pd)
{
	dnnl_memory_desc_t src_md, wei_user_md, dst_md;
	dnnl_dims_t src_dims = { p->n, cv->C, cv->H, cv->W };
	dnnl_dims_t wei_dims = { cv->K, cv->C, cv->kernel, cv->kernel };
	dnnl_dims_t dst_dims = { p->n, cv->K, cv->OH, cv->OW };
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_memory_t wei_user = NULL;
	dnnl_status_t s;
	const char *what;
	int rc = -1;

#define TRY(call) do { what = #call; if ((s = (call)) != dnnl_success) goto fail; } while (0)
	TRY(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_u8, dnnl_nhwc));
	TRY(dnnl_memory_desc_init_by_tag(&wei_user_md, 4, wei_dims, dnnl_s8, dnnl_oihw));
	TRY(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_s32, dnnl_nhwc));
	const dnnl_memory_desc_t *pd_wei =
		dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	TRY(dnnl_memory_create(&p->wei, pd_wei, engine, DNNL_MEMORY_ALLOCATE));
	TRY(dnnl_memory_create(&wei_user, &wei_user_md, engine, cv->w8));
	TRY(dnnl_reorder_primitive_desc_create(&rpd, &wei_user_md, engine, pd_wei, engine, NULL));
	TRY(dnnl_primitive_create(&reorder, rpd));
	dnnl_exec_arg_t rargs[2] = { { DNNL_ARG_FROM, wei_user }, { DNNL_ARG_TO, p->wei } };
	TRY(dnnl_primitive_execute(reorder, cv->stream, 2, rargs));
	TRY(dnnl_stream_wait(cv->stream));

	const dnnl_memory_desc_t *pd_scratch =
		dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (pd_scratch && dnnl_memory_desc_get_size(pd_scratch) > 0)
		TRY(dnnl_memory_create(&p->scratch, pd_scratch, engine, DNNL_MEMORY_ALLOCATE));
	TRY(dnnl_memory_create(&p->src, &src_md, engine, DNNL_MEMORY_NONE));
	TRY(dnnl_memory_create(&p->dst, &dst_md, engine, DNNL_MEMORY_NONE));
	TRY(dnnl_primitive_create(&p->conv, pd));
#undef TRY
	rc = 0;
	goto done;
fail:
	dnnl_error(what, s);
done:
	if (reorder)
		dnnl_primitive_destroy(reorder);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (wei_user)
		dnnl_memory_destroy(wei_user);
	return rc;
}

static void execute(dnnl_stream_t stream, struct prim *p, const uint8_t *x, int32_t *acc);

/* Which of the m built candidates c[] runs n images fastest here: each
 * once to warm up (pages, caches, JIT state), then ICONV_TIMING_ROUNDS
 * rounds of one call each, interleaved (this machine's speed drifts),
 * the best call of each compared. The data are arbitrary: the kernels'
 * speed does not depend on the values. */
static int fastest(const struct iconv *cv, struct prim **c, int m, int n)
{
	const size_t in = (size_t)n * cv->H * cv->W * cv->C;
	uint8_t *x = malloc(in);
	int32_t *acc = malloc((size_t)n * cv->OH * cv->OW * cv->K * sizeof(int32_t));
	if (!x || !acc)
		die("iconv: out of memory");
	for (size_t i = 0; i < in; i++)
		x[i] = (uint8_t)(i * 131 >> 3);
	double best[ICONV_MAX_CANDIDATES];
	for (int j = 0; j < m; j++) {
		execute(cv->stream, c[j], x, acc);
		best[j] = 1e30;
	}
	for (int r = 0; r < ICONV_TIMING_ROUNDS; r++)
		for (int j = 0; j < m; j++) {
			double t = progress_now();
			execute(cv->stream, c[j], x, acc);
			t = progress_now() - t;
			best[j] = t < best[j] ? t : best[j];
		}
	free(x);
	free(acc);
	int win = 0;
	for (int j = 1; j < m; j++)
		win = best[j] < best[win] ? j : win;
	return win;
}

/* The primitive for n images: 0 and *out (usable or not, see impl_accepted),
 * -1 after an error message. The candidates are the implementations
 * oneDNN offers that are exact here (impl_accepted), in its order, the
 * gemm-based ones left out (im2col and a GEMM: many times slower on every
 * layer measured), at most ICONV_MAX_CANDIDATES; of these it takes the
 * one named `like` when given and offered, else the iconv_pick one, else
 * the fastest (fastest()). */
static int prim_create(struct iconv *cv, int n, const char *like, struct prim **out)
{
	*out = NULL;
	struct prim *p = calloc(1, sizeof(*p));
	if (!p)
		return error("oneDNN convolution: out of memory");
	p->n = n;
	dnnl_memory_desc_t src_md, wei_md, dst_md;
	dnnl_dims_t src_dims = { n, cv->C, cv->H, cv->W };
	dnnl_dims_t wei_dims = { cv->K, cv->C, cv->kernel, cv->kernel };
	dnnl_dims_t dst_dims = { n, cv->K, cv->OH, cv->OW };
	dnnl_dims_t strides = { cv->stride, cv->stride };
	/* oneDNN checks (H − kernel + pad_l + pad_r)/stride + 1 == OH, rounded
	 * down: true of the symmetric pad, as OH was defined with it. */
	dnnl_dims_t pad_l = { cv->pad, cv->pad }, pad_r = { cv->pad, cv->pad };
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd[ICONV_MAX_CANDIDATES] = { NULL };
	const char *names[ICONV_MAX_CANDIDATES];   /* pd[j]'s, owned by it */
	dnnl_primitive_desc_iterator_t it = NULL;
	struct prim *built[ICONV_MAX_CANDIDATES] = { NULL };
	dnnl_convolution_desc_t cd;
	dnnl_status_t s;
	const char *what;
	int m = 0, rc = -1;

#define TRY(call) do { what = #call; if ((s = (call)) != dnnl_success) goto fail; } while (0)
	TRY(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_u8, dnnl_nhwc));
	TRY(dnnl_memory_desc_init_by_tag(&wei_md, 4, wei_dims, dnnl_s8, dnnl_format_tag_any));
	TRY(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_s32, dnnl_nhwc));
	TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
					       dnnl_convolution_direct, &src_md, &wei_md, NULL,
					       &dst_md, strides, pad_l, pad_r));
	TRY(dnnl_primitive_attr_create(&attr));
	TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
	TRY(dnnl_primitive_desc_iterator_create(&it, &cd, attr, engine, NULL));
#undef TRY
	/* the candidates' descriptors; p->impl names oneDNN's first choice
	 * until one is taken (for iconv_impl when none is) */
	int offered = 0;
	do {
		dnnl_primitive_desc_t next = dnnl_primitive_desc_iterator_fetch(it);
		const char *name = NULL;
		if (!next) {
			s = dnnl_out_of_memory;
			what = "dnnl_primitive_desc_iterator_fetch";
			goto fail;
		}
		if ((s = dnnl_primitive_desc_query(next, dnnl_query_impl_info_str, 0, &name)) !=
		    dnnl_success) {
			dnnl_primitive_desc_destroy(next);
			what = "dnnl_primitive_desc_query";
			goto fail;
		}
		if (!offered++)
			snprintf(p->impl, sizeof(p->impl), "%s", name);
		/* oneDNN offers some implementations twice, at times */
		int again = 0;
		for (int j = 0; j < m; j++)
			again |= !strcmp(names[j], name);
		if (m < ICONV_MAX_CANDIDATES && !again && impl_accepted(cv, name) &&
		    !strstr(name, "gemm")) {
			pd[m] = next;
			names[m++] = name;
		} else {
			dnnl_primitive_desc_destroy(next);
		}
	} while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
	if (n == cv->batch)
		cv->candidates = m;
	p->usable = m > 0 && !(env_one && n != cv->batch && n != 1);
	if (!p->usable) {
		rc = 0;
		goto done;
	}

	int take = -1;
	for (int j = 0; like && j < m && take < 0; j++)
		if (!strcmp(names[j], like))
			take = j;
	if (take < 0 && pick >= 0)
		take = pick < m ? pick : m - 1;
	if (take < 0 && m == 1)
		take = 0;
	/* build the one taken, or every candidate to time them */
	for (int j = 0; j < m; j++) {
		if (take >= 0 && j != take)
			continue;
		if (!(built[j] = calloc(1, sizeof(struct prim)))) {
			error("oneDNN convolution: out of memory");
			goto done;
		}
		built[j]->n = n;
		built[j]->usable = 1;
		if (prim_build(cv, built[j], pd[j]))
			goto done;
		snprintf(built[j]->impl, sizeof(built[j]->impl), "%s", names[j]);
	}
	if (take < 0)
		take = fastest(cv, built, m, n);
	prim_free(p);
	p = built[take];
	built[take] = NULL;
	rc = 0;
	goto done;
fail:
	dnnl_error(what, s);
done:
	for (int j = 0; j < m; j++) {
		prim_free(built[j]);
		dnnl_primitive_desc_destroy(pd[j]);
	}
	if (it)
		dnnl_primitive_desc_iterator_destroy(it);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	if (rc)
		prim_free(p);
	else
		*out = p;
	return rc;
}

/* The distinct valid tap ranges [lo, hi) of the output rows (or columns):
 * tap t of output o reads input o·stride − pad + t, valid in [0, size);
 * map[o]: o's range; [in0[o], in1[o]): the inputs it reads, within
 * [0, size] (empty when the taps are all padding). */
static int tap_ranges(int out, int size, int kernel, int stride, int pad, int *map, int *lo,
		      int *hi, int *in0, int *in1)
{
	int count = 0;
	for (int o = 0; o < out; o++) {
		int base = o * stride - pad;
		int l = base < 0 ? -base : 0;
		int h = size - base < kernel ? size - base : kernel;
		if (h <= l)
			l = h = 0;
		in0[o] = h ? base + l : 0;
		in1[o] = h ? base + h : 0;
		int r = 0;
		while (r < count && (lo[r] != l || hi[r] != h))
			r++;
		if (r == count) {
			lo[r] = l;
			hi[r] = h;
			count++;
		}
		map[o] = r;
	}
	return count;
}

void iconv_free(struct iconv *cv)
{
	if (!cv)
		return;
	while (cv->prims) {
		struct prim *p = cv->prims;
		cv->prims = p->next;
		prim_free(p);
	}
	free(cv->w8);
	free(cv->coef);
	free(cv->offset_k);
	free(cv->sparse);
	free(cv->ry);
	free(cv->rx);
	free(cv->y0);
	free(cv->y1);
	free(cv->x0);
	free(cv->x1);
	free(cv->ylo);
	free(cv->yhi);
	free(cv->xlo);
	free(cv->xhi);
	free(cv->U[0]);
	free(cv->U[1]);
	free(cv->full_y);
	free(cv->full_x);
	free(cv->integral);
	if (cv->stream)
		dnnl_stream_destroy(cv->stream);
	free(cv);
}

const char *iconv_impl(const struct iconv *cv)
{
	return cv->prims->impl;
}

int iconv_candidates(const struct iconv *cv)
{
	return cv->candidates;
}

void iconv_pick(int candidate)
{
	pthread_once(&init_once, init);
	pick = candidate;
}

/* Each weight in the sparse term costs a multiply-add per output row,
 * against the box term's multiply-add per output value and its integral
 * images (break-even measured on ResNet20's 16- to 64-channel layers at
 * about one weight per 8 channels). */
int iconv_sparse_limit(int K)
{
	return K / 8 > 2 ? K / 8 : 2;
}

int iconv_int8_offset(const uint8_t *w, size_t n, int z)
{
	int lo = 255, hi = 0;
	for (size_t t = 0; t < n; t++) {
		lo = w[t] < lo ? w[t] : lo;
		hi = w[t] > hi ? w[t] : hi;
	}
	/* w − o in [−128, 127] for o in [hi − 127, lo + 128] (not empty) */
	return z < hi - 127 ? hi - 127 : z > lo + 128 ? lo + 128 : z;
}

int iconv_create(struct iconv **out, int batch, int C, int H, int W, int K, int kernel,
		 int stride, int pad, const uint8_t *q_w, const int32_t *w_zero, int bits)
{
	*out = NULL;
	if (batch <= 0 || C <= 0 || H <= 0 || W <= 0 || K <= 0 || kernel <= 0 || stride <= 0 ||
	    pad < 0)
		return error("iconv: bad convolution: batch %d, C %d, H %d, W %d, K %d, kernel %d, "
			     "stride %d, pad %d", batch, C, H, W, K, kernel, stride, pad);
	if (bits < 2 || bits > 8)
		return error("iconv: %d-bit weights: expected 2 to 8 bits", bits);
	const int qmax = (1 << bits) - 1;
	for (int k = 0; k < K; k++)
		if (w_zero[k] < 0 || w_zero[k] > qmax)
			return error("iconv: weight zero point %d outside 0..%d", (int)w_zero[k], qmax);
	if (H + 2 * pad < kernel || W + 2 * pad < kernel)
		return error("iconv: a %dx%d kernel does not fit a %dx%d input padded by %d",
			     kernel, kernel, H, W, pad);
	const size_t per_k = (size_t)C * kernel * kernel;
	for (size_t i = 0; i < per_k * K; i++)
		if (q_w[i] > qmax)
			return error("iconv: weight %u above %d (%d bits)", q_w[i], qmax, bits);
	if (iconv_unavailable() || per_k > ICONV_MAX_TAPS)
		return 1;

	struct iconv *cv = calloc(1, sizeof(*cv));
	if (!cv)
		return error("iconv: out of memory");
	cv->batch = batch;
	cv->C = C;
	cv->H = H;
	cv->W = W;
	cv->K = K;
	cv->kernel = kernel;
	cv->stride = stride;
	cv->pad = pad;
	cv->OH = (H + 2 * pad - kernel) / stride + 1;
	cv->OW = (W + 2 * pad - kernel) / stride + 1;
	cv->w8 = malloc(per_k * K);
	cv->coef = malloc((size_t)K * sizeof(int32_t));
	cv->offset_k = malloc((size_t)K * sizeof(int));
	cv->ry = malloc((size_t)cv->OH * sizeof(int));
	cv->y0 = malloc((size_t)cv->OH * sizeof(int));
	cv->y1 = malloc((size_t)cv->OH * sizeof(int));
	cv->x0 = malloc((size_t)cv->OW * sizeof(int));
	cv->x1 = malloc((size_t)cv->OW * sizeof(int));
	cv->ylo = malloc((size_t)cv->OH * sizeof(int));
	cv->yhi = malloc((size_t)cv->OH * sizeof(int));
	cv->rx = malloc((size_t)cv->OW * sizeof(int));
	cv->xlo = malloc((size_t)cv->OW * sizeof(int));
	cv->xhi = malloc((size_t)cv->OW * sizeof(int));
	if (!cv->w8 || !cv->coef || !cv->offset_k || !cv->ry || !cv->ylo || !cv->yhi ||
	    !cv->rx || !cv->xlo || !cv->xhi || !cv->y0 || !cv->y1 || !cv->x0 || !cv->x1) {
		iconv_free(cv);
		return error("iconv: out of memory");
	}

	/* Weights beyond int8 from Z2: a sparse term when few (iconv.h),
	 * else offset weights w' = q_w − o[k], o[k] as near Z2 as allowed. */
	int over = 0;
	for (size_t i = 0; i < per_k * K; i++)
		over += q_w[i] - w_zero[i / per_k] > INT8_MAX || q_w[i] - w_zero[i / per_k] < INT8_MIN;
	const int sparse = over > 0 && over <= iconv_sparse_limit(K);
	if (sparse && !(cv->sparse = malloc((size_t)over * sizeof(*cv->sparse)))) {
		iconv_free(cv);
		return error("iconv: out of memory");
	}
	cv->small = 1;
	for (int k = 0; k < K; k++) {
		const uint8_t *w = q_w + (size_t)k * per_k;
		const int z = w_zero[k];
		int o = sparse ? z : iconv_int8_offset(w, per_k, z);
		cv->coef[k] = o - z;
		if (o != z)
			cv->offset_k[cv->n_offset_k++] = k;
		cv->any_coef |= o != z;
		int64_t pos = 0, neg = 0;   /* Σ of the positive w', of −(negative w') */
		for (size_t t = 0; t < per_k; t++) {
			int v = w[t] - o;
			int v8 = v > INT8_MAX ? INT8_MAX : v < INT8_MIN ? INT8_MIN : v;
			if (v8 != v) {
				const int kk = kernel * kernel, tap = (int)(t % (size_t)kk);
				cv->sparse[cv->n_sparse++] = (struct sparse_tap){
					.k = k, .c = (int)(t / (size_t)kk), .ky = tap / kernel,
					.kx = tap % kernel, .r = v - v8 };
			}
			cv->w8[(size_t)k * per_k + t] = (int8_t)v8;
			pos += v8 > 0 ? v8 : 0;
			neg += v8 < 0 ? -v8 : 0;
		}
		/* the primitive's output lies in [−255·neg, 255·pos] */
		if (255 * (pos > neg ? pos : neg) > ICONV_FLOAT_EXACT)
			cv->small = 0;
	}

	/* The border classes and, per class, the sums of (q_w − Z2) over the
	 * valid taps (U[0], negated) and over the padded ones (U[1]). */
	cv->nry = tap_ranges(cv->OH, H, kernel, stride, pad, cv->ry, cv->ylo, cv->yhi, cv->y0,
			     cv->y1);
	cv->nrx = tap_ranges(cv->OW, W, kernel, stride, pad, cv->rx, cv->xlo, cv->xhi, cv->x0,
			     cv->x1);
	const size_t nu = (size_t)cv->nry * cv->nrx * K;
	cv->U[0] = malloc(nu * sizeof(int32_t));
	cv->U[1] = malloc(nu * sizeof(int32_t));
	cv->full_y = malloc((size_t)cv->nry * sizeof(int));
	cv->full_x = malloc((size_t)cv->nrx * sizeof(int));
	if (cv->any_coef && kernel > 1)
		cv->integral = malloc((size_t)batch * (H + 1) * (W + 1) * sizeof(uint32_t));
	if (!cv->U[0] || !cv->U[1] || !cv->full_y || !cv->full_x ||
	    (cv->any_coef && kernel > 1 && !cv->integral)) {
		iconv_free(cv);
		return error("iconv: out of memory");
	}
	for (int a = 0; a < cv->nry; a++)
		cv->full_y[a] = cv->ylo[a] == 0 && cv->yhi[a] == kernel;
	for (int b = 0; b < cv->nrx; b++) {
		cv->full_x[b] = cv->xlo[b] == 0 && cv->xhi[b] == kernel;
		for (int a = 0; a < cv->nry; a++)
			cv->border |= !cv->full_y[a] || !cv->full_x[b];
	}
	int32_t *tap = malloc((size_t)kernel * kernel * sizeof(int32_t));
	if (!tap) {
		iconv_free(cv);
		return error("iconv: out of memory");
	}
	for (int k = 0; k < K; k++) {
		/* tap[ky·kernel + kx] = Σ_c (q_w − Z2); all = Σ over every tap */
		const uint8_t *w = q_w + (size_t)k * per_k;
		const int kk = kernel * kernel;
		int32_t all = 0;
		for (int t = 0; t < kk; t++) {
			tap[t] = 0;
			for (int c = 0; c < C; c++)
				tap[t] += w[(size_t)c * kk + t] - w_zero[k];
			all += tap[t];
		}
		for (int a = 0; a < cv->nry; a++)
			for (int b = 0; b < cv->nrx; b++) {
				int32_t sum = 0;
				for (int ky = cv->ylo[a]; ky < cv->yhi[a]; ky++)
					for (int kx = cv->xlo[b]; kx < cv->xhi[b]; kx++)
						sum += tap[ky * kernel + kx];
				cv->U[0][((size_t)a * cv->nrx + b) * K + k] = -sum;
				cv->U[1][((size_t)a * cv->nrx + b) * K + k] = all - sum;
			}
	}
	free(tap);

	/* The primitives for n = batch and n = 1: both must be accepted. */
	dnnl_status_t st = dnnl_stream_create(&cv->stream, engine, dnnl_stream_default_flags);
	if (st != dnnl_success) {
		iconv_free(cv);
		return dnnl_error("dnnl_stream_create", st);
	}
	struct prim *p;
	int rc = prim_create(cv, batch, NULL, &p);
	if (rc) {
		iconv_free(cv);
		return rc;
	}
	cv->prims = cv->one = p;
	if (p->usable && batch > 1) {
		if ((rc = prim_create(cv, 1, NULL, &p))) {
			iconv_free(cv);
			return rc;
		}
		cv->prims->next = cv->one = p;   /* the batch's stays first: iconv_impl */
	}
	if (!cv->prims->usable || !cv->one->usable) {
		iconv_free(cv);
		return 1;
	}
	*out = cv;
	return 0;
}

/* ---- Running ---- */

/* The primitive for n images, created at its first use (0), or -1 after
 * an error message. */
static int prim_get(struct iconv *cv, int n, struct prim **out)
{
	struct prim *p = cv->prims;
	while (p && p->n != n)
		p = p->next;
	if (!p) {
		if (prim_create(cv, n, cv->prims->impl, &p))
			return -1;
		p->next = cv->prims->next;   /* keep the batch's first */
		cv->prims->next = p;
	}
	*out = p;
	return 0;
}

static struct prim *prim_for(struct iconv *cv, int n)
{
	struct prim *p;
	if (prim_get(cv, n, &p))
		die("iconv: oneDNN could not create the convolution for %d images", n);
	return p;
}

static void execute(dnnl_stream_t stream, struct prim *p, const uint8_t *x, int32_t *acc)
{
	dnnl_status_t s;
	if ((s = dnnl_memory_set_data_handle(p->src, (void *)x)) != dnnl_success ||
	    (s = dnnl_memory_set_data_handle(p->dst, acc)) != dnnl_success)
		die("iconv: oneDNN: setting the data handles: %s", dnnl_status2str(s));
	dnnl_exec_arg_t args[4] = {
		{ DNNL_ARG_SRC, p->src },
		{ DNNL_ARG_WEIGHTS, p->wei },
		{ DNNL_ARG_DST, p->dst },
		{ DNNL_ARG_SCRATCHPAD, p->scratch },
	};
	const int nargs = p->scratch ? 4 : 3;
	if ((s = dnnl_primitive_execute(p->conv, stream, nargs, args)) != dnnl_success ||
	    (s = dnnl_stream_wait(stream)) != dnnl_success)
		die("iconv: oneDNN convolution failed: %s", dnnl_status2str(s));
}

/* Σ p[0..n−1]. */
static inline uint32_t byte_sum(const uint8_t *p, int n)
{
	uint32_t sum = 0;
	int c = 0;
#if defined(__AVX2__)
	if (n >= 32) {
		/* vpsadbw against 0: four 64-bit sums of 8 bytes each */
		const __m256i zero = _mm256_setzero_si256();
		__m256i acc = zero;
		for (; c + 32 <= n; c += 32) {
			__m256i v = _mm256_loadu_si256((const __m256i *)(p + c));
			acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, zero));
		}
		__m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc),
					  _mm256_extracti128_si256(acc, 1));
		sum = (uint32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
	}
	if (c + 16 <= n) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + c));
		v = _mm_sad_epu8(v, _mm_setzero_si128());
		sum += (uint32_t)(_mm_cvtsi128_si64(v) + _mm_extract_epi64(v, 1));
		c += 16;
	}
#endif
	for (; c < n; c++)
		sum += p[c];
	return sum;
}

/* sums[p] = Σ_c px[p·C + c] for the n pixels at px. */
static void channel_sums(const uint8_t *px, int n, int C, uint32_t *sums)
{
	int p = 0;
#if defined(__AVX2__)
	const __m256i zero = _mm256_setzero_si256();
	if (C == 16) {
		/* four pixels in two loads: vpsadbw leaves each pixel's two
		 * 8-byte halves in two qwords; unpacking and adding pairs them */
		for (; p + 4 <= n; p += 4) {
			const uint8_t *q = px + (size_t)p * 16;
			__m256i a = _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)q), zero);
			__m256i b = _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(q + 32)), zero);
			/* qwords: pixels p, p + 2 | p + 1, p + 3 */
			__m256i t = _mm256_add_epi64(_mm256_unpacklo_epi64(a, b),
						     _mm256_unpackhi_epi64(a, b));
			t = _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 4, 2, 6, 0, 0, 0, 0));
			_mm_storeu_si128((__m128i *)(sums + p), _mm256_castsi256_si128(t));
		}
	} else if (C % 32 == 0) {
		for (; p + 4 <= n; p += 4) {
			__m256i s[4];
			for (int j = 0; j < 4; j++) {
				const uint8_t *q = px + (size_t)(p + j) * C;
				s[j] = zero;
				for (int c = 0; c < C; c += 32)
					s[j] = _mm256_add_epi64(s[j], _mm256_sad_epu8(
						_mm256_loadu_si256((const __m256i *)(q + c)), zero));
			}
			/* four partial qwords per pixel: pairs, then the two lanes */
			__m256i t0 = _mm256_add_epi64(_mm256_unpacklo_epi64(s[0], s[1]),
						      _mm256_unpackhi_epi64(s[0], s[1]));
			__m256i t1 = _mm256_add_epi64(_mm256_unpacklo_epi64(s[2], s[3]),
						      _mm256_unpackhi_epi64(s[2], s[3]));
			__m256i u = _mm256_add_epi64(_mm256_permute2x128_si256(t0, t1, 0x20),
						     _mm256_permute2x128_si256(t0, t1, 0x31));
			u = _mm256_permutevar8x32_epi32(u, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
			_mm_storeu_si128((__m128i *)(sums + p), _mm256_castsi256_si128(u));
		}
	}
#endif
	for (; p < n; p++)
		sums[p] = byte_sum(px + (size_t)p * C, C);
}

/* S[y][x] = Σ_{y' < y, x' < x} Σ_c x[i, y', x', c] for image i, (H + 1, W + 1),
 * mod 2^32. */
static void integral_image(const struct iconv *cv, const uint8_t *x, int i, uint32_t *S)
{
	const int C = cv->C, H = cv->H, W = cv->W;
	const size_t W1 = (size_t)W + 1;
	uint32_t sums[W];
	memset(S, 0, W1 * sizeof(uint32_t));
	const uint8_t *px = x + (size_t)i * H * W * C;
	for (int y = 0; y < H; y++, px += (size_t)W * C) {
		uint32_t *row = S + (y + 1) * W1, *above = row - W1, sum = 0;
		channel_sums(px, W, C, sums);
		row[0] = 0;
		for (int xx = 0; xx < W; xx++) {
			sum += sums[xx];
			row[xx + 1] = above[xx + 1] + sum;
		}
	}
}

/* box[i, oy, ox] = Σ_V Σ_c x for image i (iconv_run_split): four values of
 * the integral image per output, or a pixel's channel sum for 1x1. */
static void box_sums(const struct iconv *cv, const uint8_t *x, int i, uint32_t *box)
{
	const int C = cv->C, W = cv->W, OH = cv->OH, OW = cv->OW, k = cv->kernel;
	const size_t W1 = (size_t)W + 1;
	uint32_t *out = box + (size_t)i * OH * OW;
	if (k == 1) {   /* the pixel's channel sum, 0 in the padding */
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++, out++) {
				int y0 = cv->y0[oy], x0 = cv->x0[ox];
				*out = y0 < cv->y1[oy] && x0 < cv->x1[ox] ?
				       byte_sum(x + (((size_t)i * cv->H + y0) * W + x0) * C, C) : 0;
			}
		return;
	}
	/* At stride 1 the outputs [a, b) have every column tap inside: their
	 * reads are contiguous, a loop the compiler vectorises. */
	int a = 0, b = 0;
	if (cv->stride == 1) {
		b = W + cv->pad - k + 1 < OW ? W + cv->pad - k + 1 : OW;
		b = b < 0 ? 0 : b;
		a = cv->pad < b ? cv->pad : b;
	}
	const uint32_t *S = cv->integral + (size_t)i * (cv->H + 1) * W1;
	for (int oy = 0; oy < OH; oy++, out += OW) {
		const uint32_t *top = S + cv->y0[oy] * W1, *bottom = S + cv->y1[oy] * W1;
		for (int ox = 0; ox < a; ox++)
			out[ox] = bottom[cv->x1[ox]] - top[cv->x1[ox]] - bottom[cv->x0[ox]] +
				  top[cv->x0[ox]];
		const uint32_t *t0 = top + a - cv->pad, *b0 = bottom + a - cv->pad;
		for (int j = 0; j < b - a; j++)
			out[a + j] = b0[j + k] - t0[j + k] - b0[j] + t0[j];
		for (int ox = b; ox < OW; ox++)
			out[ox] = bottom[cv->x1[ox]] - top[cv->x1[ox]] - bottom[cv->x0[ox]] +
				  top[cv->x0[ox]];
	}
}

/* acc += coef[k]·Σ_V Σ_c x + z1·U[padded][k] for every output (uint32:
 * wraps, the true result fits in int32). Σ_V Σ_c x from the integral
 * image S of the channel sums: four values per output; S is kept mod
 * 2^32, and the box sums (< 2^32) come out exact. Without the box term
 * (no coef, or box_out: written there for the caller), `padded` touches
 * only the border. */
static void correct(const struct iconv *cv, const uint8_t *x, int n, const int32_t *z1,
		    int32_t *acc, int padded, uint32_t *box_out)
{
	const int C = cv->C, H = cv->H, W = cv->W, K = cv->K, OH = cv->OH, OW = cv->OW;
	const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
	const size_t W1 = (size_t)W + 1;
	const int integral = cv->any_coef && cv->kernel > 1;   /* else 1x1: one pixel */
	if (box_out) {
#pragma omp parallel for num_threads(threads) schedule(static)
		for (int i = 0; i < n; i++) {
			if (integral)
				integral_image(cv, x, i, cv->integral + (size_t)i * (H + 1) * W1);
			box_sums(cv, x, i, box_out);
		}
	}
	const int any_coef = cv->any_coef && !box_out;
	const int border_only = padded && !any_coef;
	if (border_only && !cv->border)
		return;
	if (integral && any_coef) {
#pragma omp parallel for num_threads(threads) schedule(static)
		for (int i = 0; i < n; i++)
			integral_image(cv, x, i, cv->integral + (size_t)i * (H + 1) * W1);
	}
	const uint32_t *cf = (const uint32_t *)cv->coef;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
	for (int i = 0; i < n; i++)
		for (int oy = 0; oy < OH; oy++) {
			const uint32_t z = (uint32_t)z1[i];
			const int a = cv->ry[oy];
			if (!any_coef && z == 0)
				continue;
			const int skip_full = border_only && cv->full_y[a];
			/* padded, interior: U[1] = 0, only the offset channels change
			 * (a loop over them when they are few) */
			const int sparse = padded && cv->full_y[a] && 4 * cv->n_offset_k <= K;
			const uint32_t *urow =
				(const uint32_t *)cv->U[padded] + (size_t)a * cv->nrx * K;
			const uint32_t *S =
				integral && any_coef ? cv->integral + (size_t)i * (H + 1) * W1 : NULL;
			const uint8_t *xrow = x + ((size_t)i * H + cv->y0[oy]) * W * C;
			/* the input rows [y0, y1) under this output row's valid taps */
			const size_t y0 = (size_t)cv->y0[oy], y1 = (size_t)cv->y1[oy];
			uint32_t *out = (uint32_t *)acc + ((size_t)i * OH + oy) * OW * K;
			for (int ox = 0; ox < OW; ox++, out += K) {
				const int b = cv->rx[ox];
				if (skip_full && cv->full_x[b])
					continue;
				const uint32_t *u = urow + (size_t)b * K;
				if (!any_coef) {
#pragma omp simd
					for (int k = 0; k < K; k++)
						out[k] += z * u[k];
					continue;
				}
				const size_t x0 = (size_t)cv->x0[ox], x1 = (size_t)cv->x1[ox];
				uint32_t box;
				if (S)
					box = S[y1 * W1 + x1] - S[y0 * W1 + x1] - S[y1 * W1 + x0] +
					      S[y0 * W1 + x0];
				else   /* 1x1: the pixel's channel sum, 0 in the padding */
					box = y0 < y1 && x0 < x1 ? byte_sum(xrow + x0 * C, C) : 0;
				if (sparse && cv->full_x[b]) {
					for (int j = 0; j < cv->n_offset_k; j++)
						out[cv->offset_k[j]] += cf[cv->offset_k[j]] * box;
					continue;
				}
#pragma omp simd
				for (int k = 0; k < K; k++)
					out[k] += cf[k] * box + z * u[k];
			}
		}
}

void iconv_add_sparse(const struct iconv *cv, const uint8_t *x, int i, int r0, int r1,
		      int32_t *acc)
{
	const int C = cv->C, H = cv->H, W = cv->W, K = cv->K, OW = cv->OW, s = cv->stride;
	const uint8_t *img = x + (size_t)i * H * W * C;
	for (int e = 0; e < cv->n_sparse; e++) {
		const struct sparse_tap *t = &cv->sparse[e];
		const uint32_t r = (uint32_t)t->r;
		/* the columns whose tap is inside: 0 <= ox·s − pad + kx < W */
		const int lo = cv->pad - t->kx > 0 ? (cv->pad - t->kx + s - 1) / s : 0;
		const int hi_ = (W - 1 + cv->pad - t->kx) / s + 1;
		const int hi = W - 1 + cv->pad - t->kx < 0 ? 0 : hi_ < OW ? hi_ : OW;
		for (int row = r0; row < r1;) {
			const int oy = row / OW, first = row % OW;
			const int last = r1 - row < OW - first ? first + (r1 - row) : OW;
			const int y = oy * s - cv->pad + t->ky;
			const int a = first > lo ? first : lo, b = last < hi ? last : hi;
			if (y >= 0 && y < H && a < b) {
				uint32_t *out = (uint32_t *)acc + (size_t)(row - r0 + a - first) * K + t->k;
				const uint8_t *in = img + ((size_t)y * W + a * s - cv->pad + t->kx) * C + t->c;
				for (int ox = a; ox < b; ox++, out += K, in += (size_t)s * C)
					*out += r * *in;
			}
			row += last - first;
		}
	}
}

int iconv_sparse_count(const struct iconv *cv)
{
	return cv->n_sparse;
}

/* split: iconv_run_split (box term and sparse term left to the caller). */
static void run(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1, int32_t *acc,
		int padded, int split, int32_t *box)
{
	CHECK(n >= 1 && n <= cv->batch);
	for (int i = 0; i < n; i++)
		CHECK(z1[i] >= 0 && z1[i] <= 255);
	struct prim *p = prim_for(cv, n);
	if (p->usable) {
		execute(cv->stream, p, x, acc);
	} else {
		const size_t in = (size_t)cv->H * cv->W * cv->C;
		const size_t o = (size_t)cv->OH * cv->OW * cv->K;
		for (int i = 0; i < n; i++)
			execute(cv->stream, cv->one, x + i * in, acc + i * o);
	}
	correct(cv, x, n, z1, acc, padded, split && cv->any_coef ? (uint32_t *)box : NULL);
	if (split || !cv->n_sparse)
		return;
	const int rows = cv->OH * cv->OW;
	const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
	for (int i = 0; i < n; i++)
		iconv_add_sparse(cv, x, i, 0, rows, acc + (size_t)i * rows * cv->K);
}

void iconv_run(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1, int32_t *acc)
{
	run(cv, x, n, z1, acc, 0, 0, NULL);
}

void iconv_run_padded(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1,
		      int32_t *acc)
{
	run(cv, x, n, z1, acc, 1, 0, NULL);
}

void iconv_run_split(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1,
		     int32_t *acc, int32_t *box)
{
	run(cv, x, n, z1, acc, 1, 1, box);
}

const int32_t *iconv_coef(const struct iconv *cv)
{
	return cv->any_coef ? cv->coef : NULL;
}
