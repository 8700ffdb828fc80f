/* Planning a quantized-model file for the integer engine; see qmodel.h.
 * No floating-point type here: the file's float tensors (scales, for
 * people and for the input quantization) are not read. */
#include "qmodel.h"

#include "check.h"
#include "iconv.h"
#include "ops.h"
#include "requant.h"
#include "threads.h"
#include "window.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct alloc {
	struct alloc *next;
	max_align_t data[];
};

/* Zeroed memory owned by q. The zeros are written, not left to calloc's
 * lazily mapped pages, so the first batch does not pay the page faults of
 * the engine's buffers (measured: 20-25% of a first AlexNetSmall batch). */
static void *own(struct qmodel *q, size_t bytes)
{
	struct alloc *a = xmalloc(sizeof(*a) + (bytes ? bytes : 1));
	memset(a->data, 0, bytes ? bytes : 1);
	a->next = q->owned;
	q->owned = a;
	return a->data;
}

struct loader {
	struct qmodel *q;
	const struct pcqfile *f;
	const char *file;
	const struct layer *l;
	size_t chunk_bytes;   /* qmodel_chunk_bytes(), once per load */
};

/* The tensor "<layer>.<suffix>" with this dtype and shape, or NULL after
 * an error. */
static const void *need(const struct loader *ld, const char *suffix, enum dtype dt, int ndim,
			const int64_t *shape)
{
	char name[300], want[96], got[96];
	snprintf(name, sizeof(name), "%s.%s", ld->l->name, suffix);
	const struct tensor *t = pcqfile_tensor(ld->f, name);
	shape_string(shape, ndim, want, sizeof(want));
	if (!t) {
		error("'%s': missing tensor '%s' (%s %s)", ld->file, name, dtype_name(dt), want);
		return NULL;
	}
	if (t->dtype != dt || t->ndim != ndim ||
	    memcmp(t->shape, shape, (size_t)ndim * sizeof(int64_t)) != 0) {
		error("'%s': tensor '%s' is %s %s, expected %s %s", ld->file, name,
		      dtype_name(t->dtype), shape_string(t->shape, t->ndim, got, sizeof(got)),
		      dtype_name(dt), want);
		return NULL;
	}
	return t->data;
}

/* A per-cluster int32 vector (K), or with cols > 0 a (K, cols) table, with
 * every value in [lo, hi]. */
static int32_t *clusters_table(const struct loader *ld, const char *suffix, int64_t cols,
			       int64_t lo, int64_t hi)
{
	int64_t shape[2] = {ld->q->clusters, cols}, n = shape[0] * (cols ? cols : 1);
	const int32_t *v = need(ld, suffix, DTYPE_I32, cols ? 2 : 1, shape);
	if (!v)
		return NULL;
	for (int64_t i = 0; i < n; i++)
		if (v[i] < lo || v[i] > hi) {
			error("'%s': tensor '%s.%s' has %d for cluster %lld, expected %lld..%lld",
			      ld->file, ld->l->name, suffix, v[i], (long long)(i / (n / shape[0])),
			      (long long)lo, (long long)hi);
			return NULL;
		}
	int32_t *copy = own(ld->q, (size_t)n * sizeof(int32_t));
	memcpy(copy, v, (size_t)n * sizeof(int32_t));
	return copy;
}

static int32_t *clusters_i32(const struct loader *ld, const char *suffix, int64_t lo, int64_t hi)
{
	return clusters_table(ld, suffix, 0, lo, hi);
}

/* The zero points node `src` produces (-1: the quantize layer's). */
static const int32_t *zero_of(const struct qmodel *q, int src)
{
	while (src >= 0 && !q->nodes[src].out_zero)
		src = q->nodes[src].in[0];
	return src < 0 ? q->input_zero : q->nodes[src].out_zero;
}

/* Zero points, multipliers and shifts shared by qconv2d, qlinear and
 * qavgpool; with per-channel weights a multiplier and shift per (cluster,
 * output channel). */
static int requant_params(const struct loader *ld, struct qnode *n)
{
	const int64_t cols = n->per_channel ? n->kout : 0;
	if (!(n->in_zero = clusters_i32(ld, "in_zero", 0, ld->q->nodes[n->in[0]].qmax)) ||
	    !(n->out_zero = clusters_i32(ld, "out_zero", 0, n->qmax)) ||
	    !(n->m0 = clusters_table(ld, "multiplier", cols, 0, INT32_MAX)) ||
	    !(n->shift = clusters_table(ld, "shift", cols, -31, 31)))
		return -1;
	const int32_t *z = zero_of(ld->q, n->in[0]);
	if (memcmp(z, n->in_zero, (size_t)ld->q->clusters * sizeof(int32_t)) != 0)
		return error("'%s': layer '%s': in_zero differs from the zero points of its input",
			     ld->file, n->name);
	return 0;
}

size_t qmodel_chunk_bytes(void)
{
	const char *e = getenv("PCQ_CHUNK_KIB");
	char *end;
	const long kib = e ? strtol(e, &end, 10) : 0;
	if (e && *e && !*end && kib > 0 && kib <= (1L << 22))
		return (size_t)kib << 10;
	if (e && *e)
		warn("PCQ_CHUNK_KIB=%s: expected a size in KiB (1 to 4194304); using the L2 rule", e);
	const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
	return l2 > 0 ? (size_t)threads_get() * (size_t)l2 / 2 : (size_t)4 << 20;
}

static int gemm_sparse = 1;   /* qmodel_set_gemm_sparse */

void qmodel_set_gemm_sparse(int on)
{
	gemm_sparse = on != 0;
}

static int load_weighted(const struct loader *ld, struct qnode *n, int conv)
{
	struct qmodel *q = ld->q;
	int k = 1;
	if (conv) {
		if (op_param_int(ld->l, ld->file, "out_channels", 1, 1 << 16, &n->kout) ||
		    op_param_int(ld->l, ld->file, "kernel", 1, 64, &n->kernel) ||
		    op_param_int(ld->l, ld->file, "stride", 1, 64, &n->stride) ||
		    op_param_int(ld->l, ld->file, "pad", 0, 64, &n->pad))
			return -1;
		k = n->kernel;
		if (n->ih + 2 * n->pad < k || n->iw + 2 * n->pad < k)
			return error("'%s': layer '%s': the padded input is smaller than the kernel",
				     ld->file, n->name);
		n->op = QOP_CONV;
		n->c = n->kout;
		n->h = window_out(n->ih, k, n->stride, n->pad);
		n->w = window_out(n->iw, k, n->stride, n->pad);
	} else {
		if (op_param_int(ld->l, ld->file, "out_features", 1, 1 << 20, &n->kout))
			return -1;
		if (n->ih != 1 || n->iw != 1)
			return error("'%s': layer '%s': qlinear takes a vector, not %dx%dx%d",
				     ld->file, n->name, n->ic, n->ih, n->iw);
		n->op = QOP_LINEAR;
		n->kernel = n->stride = 1;
		n->c = n->kout;
		n->h = n->w = 1;
	}
	int wbits;   /* absent: as the output (files from before mixed precision) */
	if (op_param_int(ld->l, ld->file, "relu", 0, 1, &n->relu) ||
	    op_param_int(ld->l, ld->file, "acc_shift", 0, 16, &n->acc_shift) ||
	    op_param_int_opt(ld->l, ld->file, "weight_bits", 2, 8, n->bits, &wbits) ||
	    op_param_int_opt(ld->l, ld->file, "weight_per_channel", 0, 1, 0, &n->per_channel))
		return -1;
	const int32_t wmax = (1 << wbits) - 1, in_qmax = q->nodes[n->in[0]].qmax;
	size_t per = (size_t)k * k * n->ic;
	if (per > 33025)
		return error("'%s': layer '%s': %zu products per output exceed the int32 "
			     "accumulator's exact range", ld->file, n->name, per);
	const int64_t parts = n->per_channel ? n->kout : 1;
	int64_t wshape[4] = {n->kout, n->ic, k, k}, kb[2] = {q->clusters, n->kout};
	const uint8_t *w = need(ld, "weight", DTYPE_U8, conv ? 4 : 2, wshape);
	const int32_t *wz = w ? need(ld, "weight_zero", DTYPE_I32, 1, &parts) : NULL;
	const int32_t *bias = wz ? need(ld, "bias", DTYPE_I32, 2, kb) : NULL;
	if (!bias || requant_params(ld, n))
		return -1;
	int32_t *z2 = own(q, (size_t)n->kout * sizeof(int32_t));   /* each channel's Z2 */
	for (int o = 0; o < n->kout; o++) {
		z2[o] = wz[n->per_channel ? o : 0];
		if (z2[o] < 0 || z2[o] > wmax)
			return error("'%s': layer '%s': weight_zero %d is outside 0..%d", ld->file,
				     n->name, z2[o], wmax);
	}
	/* int8 storage for the GEMM: q_w − Z2, so the GEMM has no weight zero
	 * point (oneDNN's gemm is up to 6x slower with one), the few 8-bit
	 * weights beyond int8 clamped and the rest kept as a sparse term
	 * (as iconv.h's; added after the GEMM); with more of them than
	 * iconv_sparse_limit, q_w − o with o = 128 and the GEMM's zero point
	 * Z2 − 128 (per tensor), or per channel o[k] as near Z2[k] as int8
	 * allows and the rest (o[k] − Z2[k])·Σ x as a box term (iconv.h's). */
	size_t over = 0;
	for (size_t i = 0; i < (size_t)n->kout * per; i++)
		over += w[i] - z2[i / per] > INT8_MAX || w[i] - z2[i / per] < INT8_MIN;
	const int sparse = gemm_sparse && over <= (size_t)iconv_sparse_limit(n->kout);
	n->weight = own(q, (size_t)n->kout * per);
	n->wsum = own(q, (size_t)n->kout * sizeof(int32_t));
	n->wcoef = own(q, (size_t)n->kout * sizeof(int32_t));
	n->sparse = sparse && over ? own(q, over * sizeof(*n->sparse)) : NULL;
	for (int o = 0; o < n->kout; o++) {
		const int z = z2[o];
		const int offset = sparse ? z : !n->per_channel ? 128
				   : iconv_int8_offset(w + (size_t)o * per, per, z);
		n->wcoef[o] = offset - z;   /* q_w − Z2 = stored weight + wcoef (+ sparse) */
		n->any_wcoef |= n->per_channel && offset != z;
		int32_t sum = 0;
		for (int c = 0; c < n->ic; c++)
			for (int y = 0; y < k; y++)
				for (int x = 0; x < k; x++) {
					uint8_t v = w[(((size_t)o * n->ic + c) * k + y) * k + x];
					if (v > wmax)
						return error("'%s': layer '%s': weight %d exceeds %d bits",
							     ld->file, n->name, v, wbits);
					const int t = (y * k + x) * n->ic + c, d = v - offset;
					const int d8 = d > INT8_MAX ? INT8_MAX : d < INT8_MIN ? INT8_MIN : d;
					n->weight[(size_t)o * per + t] = (int8_t)d8;
					if (d8 != d)
						n->sparse[n->n_sparse++] = (struct qsparse){ o, t, d - d8 };
					sum += v - z;
				}
		n->wsum[o] = sum;
	}
	/* the GEMM's own zero point: per tensor without the sparse term */
	n->wzero = (int8_t)(n->per_channel || sparse ? 0 : z2[0] - 128);
	/* (acc − Z1·Σw)·2^acc_shift + bias must fit int32 for every input. */
	int64_t room = (INT64_C(1) << 31) - 1 - ((int64_t)per * in_qmax * wmax << n->acc_shift);
	for (int64_t i = 0; i < kb[0] * kb[1]; i++)
		if (room < 0 || bias[i] > room || bias[i] < -room)
			return error("'%s': layer '%s': bias %d with acc_shift %d can overflow the "
				     "int32 accumulator", ld->file, n->name, bias[i], n->acc_shift);
	/* oneDNN's direct int8 convolution where it is exact here (iconv.h);
	 * otherwise im2col and the integer GEMM. */
	if (conv) {
		/* runs of the largest power of two images whose accumulators
		 * fit qmodel_chunk_bytes(): its primitive (timed against the
		 * other implementations, iconv.c) made now rather than in the
		 * first batch */
		size_t acc_bytes = (size_t)n->h * n->w * n->kout * sizeof(int32_t);
		for (n->chunk = 1;
		     n->chunk < q->batch && 2 * n->chunk * acc_bytes <= ld->chunk_bytes;)
			n->chunk *= 2;
		n->chunk = n->chunk < q->batch ? n->chunk : q->batch;
		int rc = iconv_create(&n->iconv, n->chunk, n->ic, n->ih, n->iw, n->kout, k,
				      n->stride, n->pad, w, z2, wbits);
		if (rc < 0)
			return -1;
		if (rc > 0)
			n->iconv = NULL;
		n->im2col = !n->iconv && !(k == 1 && n->stride == 1 && n->pad == 0);
	}
	n->bias = own(q, (size_t)q->clusters * n->kout * sizeof(int32_t));
	memcpy(n->bias, bias, (size_t)q->clusters * n->kout * sizeof(int32_t));
	n->offset = own(q, (size_t)q->clusters * n->kout * sizeof(int32_t));
	for (int c = 0; c < q->clusters; c++)
		for (int o = 0; o < n->kout; o++)   /* within ±(K·in_qmax·wmax·2^s + |bias|) */
			n->offset[(size_t)c * n->kout + o] = bias[(size_t)c * n->kout + o] -
				n->in_zero[c] * n->wsum[o] * (1 << n->acc_shift);
	n->plan = own(q, (size_t)q->clusters * parts * sizeof(*n->plan));
	for (int c = 0; c < q->clusters; c++)
		for (int64_t p = 0; p < parts; p++) {
			const int64_t m = c * parts + p;
			requant_plan_make(&n->plan[m], n->m0[m], n->shift[m], n->out_zero[c],
					  n->relu ? n->out_zero[c] : 0, n->qmax);
		}
	if (n->per_channel) {   /* the plans in vector form, per cluster */
		n->channels = own(q, (size_t)q->clusters * sizeof(*n->channels));
		for (int c = 0; c < q->clusters; c++)
			requant_channels_make(&n->channels[c], &n->plan[(size_t)c * n->kout], n->kout,
					      own(q, 6 * (size_t)n->kout * sizeof(int32_t)));
	}
	return 0;
}

static int load_add(const struct loader *ld, struct qnode *n)
{
	const struct qnode *b = &ld->q->nodes[n->in[1]];  /* load_node checked in[1] */
	if (b->c != n->ic || b->h != n->ih || b->w != n->iw)
		return error("'%s': layer '%s': the two inputs differ in shape", ld->file, n->name);
	char old[300];
	snprintf(old, sizeof(old), "%s.a_shift", n->name);
	if (pcqfile_tensor(ld->f, old))
		return error("'%s': layer '%s': a qadd with per-input shifts, from a pcq-quantize "
			     "before the single-rounding add (docs/FORMAT.md): run pcq-quantize "
			     "again", ld->file, n->name);
	n->op = QOP_ADD;
	n->c = n->ic, n->h = n->ih, n->w = n->iw;
	/* an input of more than 8 bits: the int64 sum (requant.h) */
	const int wide = ld->q->nodes[n->in[0]].bits > 8 || b->bits > 8;
	if (op_param_int(ld->l, ld->file, "relu", 0, 1, &n->relu) ||
	    !(n->in_zero = clusters_i32(ld, "a_zero", 0, ld->q->nodes[n->in[0]].qmax)) ||
	    !(n->b_zero = clusters_i32(ld, "b_zero", 0, b->qmax)) ||
	    !(n->out_zero = clusters_i32(ld, "out_zero", 0, n->qmax)) ||
	    !(n->a_mult = clusters_i32(ld, "a_multiplier", 0, wide ? INT32_MAX :
				       REQUANT_ADD_MAX_MULT - 1)) ||
	    !(n->b_mult = clusters_i32(ld, "b_multiplier", 0, wide ? INT32_MAX :
				       REQUANT_ADD_MAX_MULT - 1)) ||
	    !(n->shift = clusters_i32(ld, "shift", 0, wide ? REQUANT_ADD_WIDE_MAX_SHIFT :
				      REQUANT_ADD_MAX_SHIFT)))
		return -1;
	size_t bytes = (size_t)ld->q->clusters * sizeof(int32_t);
	if (memcmp(zero_of(ld->q, n->in[0]), n->in_zero, bytes) ||
	    memcmp(zero_of(ld->q, n->in[1]), n->b_zero, bytes))
		return error("'%s': layer '%s': a_zero/b_zero differ from the zero points of "
			     "its inputs", ld->file, n->name);
	return 0;
}

/* A conv (oneDNN's, without a box term) read only by a max pool does the
 * pool on its accumulators (qengine.c's conv_pool). Returns the int32s
 * its pooled accumulators need: one chunk's. */
static size_t plan_pools(struct qmodel *q)
{
	size_t most = 0;
	for (int j = 1; j < q->n_nodes; j++) {
		struct qnode *pool = &q->nodes[j];
		const int c = pool->in[0];
		struct qnode *conv = &q->nodes[c];
		if (pool->op != QOP_MAXPOOL || conv->op != QOP_CONV || !conv->iconv ||
		    iconv_coef(conv->iconv))
			continue;
		int readers = 0;
		for (int k = c + 1; k < q->n_nodes; k++)
			for (int s = 0; s < q->nodes[k].n_in && s < 2; s++)
				readers += q->nodes[k].in[s] == c;
		if (readers != 1)
			continue;
		conv->pool_into = j;
		pool->fused = 1;
		size_t need = (size_t)conv->chunk * pool->h * pool->w * conv->kout;
		most = need > most ? need : most;
	}
	return most;
}

static int load_node(const struct loader *ld, int j)
{
	struct qmodel *q = ld->q;
	struct qnode *n = &q->nodes[j];
	const struct layer *l = ld->l;
	n->name = l->name;
	n->n_in = (int)l->n_inputs;
	n->in[0] = n->in[1] = -1;
	for (int k = 0; k < n->n_in && k < 2; k++) {
		for (int i = 0; i < j; i++)
			if (strcmp(q->nodes[i].name, l->inputs[k]) == 0)
				n->in[k] = i;
		if ((j == 0) != (n->in[k] < 0))
			return error("'%s': layer '%s': only the first layer (quantize) reads "
				     "'input'", ld->file, l->name);
	}
	/* an activation of more than 8 bits (a 16-bit residual branch) is
	 * read by adds only */
	for (int k = 0; k < n->n_in && k < 2 && j > 0; k++)
		if (q->nodes[n->in[k]].bits > 8 && strcmp(l->op, "qadd") != 0)
			return error("'%s': layer '%s' reads '%s', a %d-bit activation: only a "
				     "qadd can read one wider than 8 bits", ld->file, l->name,
				     q->nodes[n->in[k]].name, q->nodes[n->in[k]].bits);
	if (j > 0) {
		const struct qnode *src = &q->nodes[n->in[0]];
		n->ic = src->c, n->ih = src->h, n->iw = src->w;
		n->bits = src->bits, n->qmax = src->qmax;
	}
	int want = strcmp(l->op, "qadd") == 0 ? 2 : 1;
	if (n->n_in != want)
		return error("'%s': layer '%s': %s takes %d input(s)", ld->file, l->name, l->op, want);
	/* Layers that requantize say their output's bits; pools and flatten
	 * keep their input's. A convolution may write up to 16 bits, which
	 * only adds may read (16-bit residual adds; checked above). */
	static const char *const requantizing[] = {"quantize", "qconv2d", "qlinear", "qadd",
						   "qavgpool"};
	const int weighted = strcmp(l->op, "qconv2d") == 0 || strcmp(l->op, "qlinear") == 0;
	for (size_t i = 0; i < sizeof(requantizing) / sizeof(*requantizing); i++)
		if (strcmp(l->op, requantizing[i]) == 0 &&
		    op_param_int(l, ld->file, "bits", 2, weighted ? 16 : 8, &n->bits))
			return -1;
	n->qmax = (1 << n->bits) - 1;
	if ((j == 0) != (strcmp(l->op, "quantize") == 0))
		return error("'%s': layer '%s': the first layer, and only it, is 'quantize'",
			     ld->file, l->name);
	if (strcmp(l->op, "quantize") == 0) {
		n->op = QOP_QUANTIZE;
		n->c = q->c, n->h = q->h, n->w = q->w;
		if (!(n->out_zero = clusters_i32(ld, "zero", 0, n->qmax)))
			return -1;
		q->input_zero = n->out_zero;
		return 0;
	}
	if (strcmp(l->op, "qconv2d") == 0 || strcmp(l->op, "qlinear") == 0)
		return load_weighted(ld, n, l->op[1] == 'c');
	if (strcmp(l->op, "qadd") == 0)
		return load_add(ld, n);
	if (strcmp(l->op, "maxpool2d") == 0) {
		n->op = QOP_MAXPOOL;
		if (op_param_int(l, ld->file, "kernel", 1, 64, &n->kernel) ||
		    op_param_int(l, ld->file, "stride", 1, 64, &n->stride) ||
		    op_param_int(l, ld->file, "pad", 0, 64, &n->pad))
			return -1;
		if (2 * n->pad > n->kernel || n->ih + 2 * n->pad < n->kernel ||
		    n->iw + 2 * n->pad < n->kernel)
			return error("'%s': layer '%s': bad window for a %dx%d input", ld->file,
				     l->name, n->ih, n->iw);
		n->c = n->ic;
		n->h = window_out(n->ih, n->kernel, n->stride, n->pad);
		n->w = window_out(n->iw, n->kernel, n->stride, n->pad);
		return 0;
	}
	if (strcmp(l->op, "global_avgpool2d") == 0) {
		n->op = QOP_GLOBAL_AVGPOOL;
		n->c = n->ic, n->h = n->w = 1;
		return 0;
	}
	if (strcmp(l->op, "qavgpool") == 0) {
		n->op = QOP_AVGPOOL_REQUANT;
		n->c = n->ic, n->h = n->w = 1;
		if (op_param_int(l, ld->file, "acc_shift", 0, 16, &n->acc_shift))
			return -1;
		if (((int64_t)n->ih * n->iw * q->nodes[n->in[0]].qmax << n->acc_shift) > INT32_MAX)
			return error("'%s': layer '%s': acc_shift %d overflows the pixel sum",
				     ld->file, l->name, n->acc_shift);
		return requant_params(ld, n);
	}
	if (strcmp(l->op, "flatten") == 0) {
		n->op = QOP_FLATTEN;
		n->c = n->ic * n->ih * n->iw, n->h = n->w = 1;
		return 0;
	}
	return error("'%s': layer '%s': unknown op '%s' in a quantized model (known: quantize, "
		     "qconv2d, qlinear, qadd, qavgpool, maxpool2d, global_avgpool2d, flatten)", ld->file,
		     l->name, l->op);
}

int qmodel_load(struct qmodel *q, const struct pcqfile *f, const char *file, int batch)
{
	memset(q, 0, sizeof(*q));
	q->batch = batch;
	struct loader ld = {.q = q, .f = f, .file = file, .chunk_bytes = qmodel_chunk_bytes()};
	const struct value *shape = attrs_find(&f->attrs, "input_shape");
	const struct value *bits = attrs_find(&f->attrs, "bits");
	const struct value *k = attrs_find(&f->attrs, "clusters");
	if (!shape || shape->type != VALUE_INT_ARRAY || shape->n != 3 || shape->ints[0] < 1 ||
	    shape->ints[1] < 1 || shape->ints[2] < 1 || shape->ints[0] * shape->ints[1] *
	    shape->ints[2] > (1 << 24))
		return error("'%s': attrs 'input_shape' must be 3 positive integers (C, H, W)", file);
	if (!bits || bits->type != VALUE_INT || bits->i < 2 || bits->i > 8)
		return error("'%s': attrs 'bits' must be an integer in 2..8", file);
	if (!k || k->type != VALUE_INT || k->i < 1 || k->i > 65536)
		return error("'%s': attrs 'clusters' must be an integer in 1..65536", file);
	q->c = (int)shape->ints[0], q->h = (int)shape->ints[1], q->w = (int)shape->ints[2];
	q->clusters = (int)k->i;
	if (f->n_layers < 2)
		return error("'%s': the quantized model has no graph", file);
	q->n_nodes = (int)f->n_layers;
	q->nodes = own(q, (size_t)q->n_nodes * sizeof(*q->nodes));
	for (int j = 0; j < q->n_nodes; j++) {
		ld.l = &f->layers[j];
		if (load_node(&ld, j)) {
			qmodel_free(q);
			return -1;
		}
	}
	const struct qnode *last = &q->nodes[q->n_nodes - 1];
	if (last->h != 1 || last->w != 1 || !last->out_zero || last->bits > 8) {
		qmodel_free(q);
		return error("'%s': the last layer '%s' must be a qlinear or qconv2d giving class "
			     "scores of at most 8 bits", file, last->name);
	}
	q->classes = last->c;
	size_t col = 0, acc = 0, box = 0;
	for (int j = 0; j < q->n_nodes; j++) {
		struct qnode *n = &q->nodes[j];
		size_t per = (size_t)n->c * n->h * n->w;
		if (j > 0)
			n->out = own(q, (size_t)batch * per * qnode_value_bytes(n));
		if (((n->iconv && iconv_coef(n->iconv)) || (!n->iconv && n->any_wcoef)) &&
		    (size_t)batch * n->h * n->w > box)
			box = (size_t)batch * n->h * n->w;
		if (n->op == QOP_CONV || n->op == QOP_LINEAR) {
			size_t rows = (size_t)batch * n->h * n->w;
			acc = rows * n->kout > acc ? rows * n->kout : acc;
			size_t c = n->im2col ? rows * n->kernel * n->kernel * n->ic : 0;
			col = c > col ? c : col;
		}
	}
	q->col = own(q, col);
	q->col_bytes = col;
	q->acc = own(q, acc * sizeof(int32_t));
	q->acc_count = acc;
	q->box = own(q, box * sizeof(int32_t));
	q->pooled = own(q, plan_pools(q) * sizeof(int32_t));
	return 0;
}

void qmodel_free(struct qmodel *q)
{
	for (int j = 0; q->nodes && j < q->n_nodes; j++)
		if (q->nodes[j].iconv)
			iconv_free(q->nodes[j].iconv);
	struct alloc *a = q->owned;
	while (a) {
		struct alloc *next = a->next;
		free(a);
		a = next;
	}
	memset(q, 0, sizeof(*q));
}
