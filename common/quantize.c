/* Integer parameters of a quantized model; see quantize.h. */
#include "quantize.h"

#include "check.h"
#include "fakequant.h"
#include "model.h"
#include "qmodel.h"
#include "quant_multiplier.h"
#include "requant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bias precision: at most this many fractional bits below S1·S2. */
#define ACC_SHIFT_MAX 16

/* The largest s <= ACC_SHIFT_MAX with magnitude·2^(s+1) < 2^31: the extra
 * fractional bits an accumulator bounded by `magnitude` can take, with a
 * factor 2 to spare (docs/QUANTIZATION.md). */
static int acc_shift_for(double magnitude)
{
	int s = 0;
	while (s < ACC_SHIFT_MAX && magnitude * ldexp(1, s + 1) < 2147483647.0)
		s++;
	return s;
}

/* The fused model planned (shapes, tensors) plus what each node's output
 * is called in the integer graph and which fakequant node gives its (S, Z). */
struct qctx {
	const struct pcqfile *in;
	const char *file;
	struct model m;
	struct pcqfile *out;
	int *qsource;        /* [n_nodes] fakequant node of the output's scale, or -1 */
	char **alias;        /* [n_nodes] name in the integer graph */
	int clusters;
};

/* The bits of fakequant node j (model_init checked them: 2..16). Layers
 * may differ: mixed precision and 16-bit residual adds (fuse.h). */
static int bits_of(const struct qctx *q, int j)
{
	return (int)attrs_find(&q->in->layers[j].params, "bits")->i;
}

static int qmax_of(const struct qctx *q, int j)
{
	return (1 << bits_of(q, j)) - 1;
}

/* Per-cluster (S, Z) of fakequant node j; -1 when a cluster has no range. */
static int scales_of(const struct qctx *q, int j, float *s, int32_t *z)
{
	const struct node *n = &q->m.nodes[j];
	const float *range = n->t[0], *batches = n->t[1];
	for (int c = 0; c < q->clusters; c++) {
		if (!(batches[c] > 0))
			return error("'%s': layer '%s' has no activation range for cluster %d "
				     "(it never appeared in fine-tuning): fine-tune with more data "
				     "or fewer clusters", q->file, n->name, c);
		struct qparams p = qparams_from_range(range[2 * c], range[2 * c + 1], bits_of(q, j));
		s[c] = p.scale;
		z[c] = p.zero;
	}
	return 0;
}

static void *add(struct qctx *q, const char *layer, const char *suffix, enum dtype dt,
		 int ndim, const int64_t *shape)
{
	char name[300];
	snprintf(name, sizeof(name), "%s.%s", layer, suffix);
	return pcqfile_add_tensor(q->out, name, dt, ndim, shape, NULL)->data;
}

/* Node j reads node src: an activation wider than 8 bits (16-bit
 * residual adds, fuse.h) only a qadd can read. */
static int narrow_input(const struct qctx *q, int j, int src)
{
	if (src < 0 || q->qsource[src] < 0 || bits_of(q, q->qsource[src]) <= 8)
		return 0;
	return error("'%s': layer '%s' reads '%s', a %d-bit activation: only a residual add "
		     "can read one wider than 8 bits", q->file, q->m.nodes[j].name,
		     q->m.nodes[q->qsource[src]].name, bits_of(q, q->qsource[src]));
}

static int multiplier(struct qctx *q, const char *layer, double M, int32_t *m0, int *shift)
{
	if (quant_multiplier(M, m0, shift))
		return error("'%s': layer '%s': the requantization multiplier %g cannot be "
			     "written as M0·2^-31·2^-shift with a shift in -31..31", q->file,
			     layer, M);
	return 0;
}

/* The fakequant node that quantizes node j's output, through one ReLU
 * (*relu: its node, or -1). */
static int output_point(struct qctx *q, int j, int *relu)
{
	int next = model_only_consumer(&q->m, j);
	*relu = next >= 0 && model_node_is(&q->m, next, "relu") ? next : -1;
	if (*relu >= 0)
		next = model_only_consumer(&q->m, next);
	if (next < 0 || !model_node_is(&q->m, next, "fakequant"))
		return error("'%s': layer '%s': its output is not quantized (expected %sa "
			     "fakequant layer after it: a fused model from pcq-fuse)", q->file,
			     q->m.nodes[j].name, *relu >= 0 ? "" : "a relu or ");
	return next;
}

/* Appends node j as `op`; the ReLU (relu >= 0) and the fakequant (point
 * >= 0) it absorbs are then read as it, on the scale of `point`. */
static struct layer *emit(struct qctx *q, int j, const char *op, int relu, int point)
{
	const struct node *n = &q->m.nodes[j];
	const char *inputs[OP_MAX_INPUTS];
	for (int k = 0; k < n->n_inputs; k++)
		inputs[k] = n->inputs[k] < 0 ? "input" : q->alias[n->inputs[k]];
	struct layer *l = pcqfile_add_layer(q->out, n->name, op, inputs, (size_t)n->n_inputs);
	q->alias[j] = xstrdup(n->name);
	if (point >= 0) {
		int absorbed[2] = {relu, point};
		for (int i = 0; i < 2; i++)
			if (absorbed[i] >= 0) {
				q->alias[absorbed[i]] = xstrdup(n->name);
				q->qsource[absorbed[i]] = point;
			}
		q->qsource[j] = point;
	}
	return l;
}

/* The finest weight scale at which every bias of output channels
 * [o0, o1) can be written as round(b/(S1·S2)) within `room` for every
 * cluster; 0 when any scale can. */
static double bias_scale_floor(const struct model_tensor *b, int o0, int o1, const float *s1,
			       int K, double room)
{
	double need = 0;
	for (int c = 0; c < K && b; c++)
		for (int o = o0; o < o1; o++) {
			double v = fabs(b->data[o]) / ((double)s1[c] * room);
			need = v > need ? v : need;
		}
	return need;
}

/* qconv2d / qlinear. */
static int weighted(struct qctx *q, int j, int conv)
{
	const struct node *n = &q->m.nodes[j];
	const struct layer *fl = &q->in->layers[j];
	int src = n->inputs[0], relu, bits = 0;
	const struct value *wb = attrs_find(&fl->params, "weight_bits");
	if (wb && wb->type == VALUE_INT)
		bits = (int)wb->i;
	if (bits < FQ_MIN_BITS)
		return error("'%s': layer '%s': its weights are not fake-quantized (weight_bits "
			     "missing or 0: a fused model from pcq-fuse)", q->file, n->name);
	if (src < 0 || q->qsource[src] < 0)
		return error("'%s': layer '%s': its input is not quantized", q->file, n->name);
	int point = output_point(q, j, &relu);
	if (point < 0 || narrow_input(q, j, src))
		return -1;
	int K = q->clusters;
	float *s1 = xmalloc((size_t)K * sizeof(float)), *s3 = xmalloc((size_t)K * sizeof(float));
	int32_t *z1 = xmalloc((size_t)K * sizeof(int32_t)), *z3 = xmalloc((size_t)K * sizeof(int32_t));
	int rc = scales_of(q, q->qsource[src], s1, z1) || scales_of(q, point, s3, z3) ? -1 : 0;
	if (rc == 0) {
		struct layer *l = emit(q, j, conv ? "qconv2d" : "qlinear", relu, point);
		for (size_t k = 0; k < fl->params.n; k++)
			if (strcmp(fl->params.items[k].key, "weight_bits") != 0 &&
			    strcmp(fl->params.items[k].key, "bias") != 0)
				attrs_set_value(&l->params, fl->params.items[k].key,
						&fl->params.items[k].v);
		attrs_set_int(&l->params, "bits", bits_of(q, point));
		attrs_set_int(&l->params, "weight_bits", bits);
		attrs_set_int(&l->params, "clusters", K);
		attrs_set_int(&l->params, "relu", relu >= 0);

		char key[300];
		snprintf(key, sizeof(key), "%s.weight", n->name);
		const struct model_tensor *w = model_find_tensor(&q->m, key);
		snprintf(key, sizeof(key), "%s.bias", n->name);
		const struct model_tensor *b = model_find_tensor(&q->m, key);
		int outs = (int)w->shape[0];
		/* the weights' (S2, Z2): one pair, or one per output channel
		 * (weight_fq.h), each from the range of the weights it covers */
		const struct value *pc = attrs_find(&fl->params, "weight_per_channel");
		const struct value *sy = attrs_find(&fl->params, "weight_symmetric");
		const int per_channel = pc && pc->type == VALUE_INT && pc->i == 1;
		const int grid = bits | (sy && sy->type == VALUE_INT && sy->i == 1 ? FQ_SYMMETRIC : 0);
		const int parts = per_channel ? outs : 1;
		const size_t run = w->numel / (size_t)parts;
		float *ws = add(q, n->name, "weight_scale", DTYPE_F32, 1, (int64_t[]){parts});
		int32_t *wz = add(q, n->name, "weight_zero", DTYPE_I32, 1, (int64_t[]){parts});
		uint8_t *qw = add(q, n->name, "weight", DTYPE_U8, w->ndim, w->shape);
		/* K·in_qmax·w_qmax: the largest |acc − Z1·Σw| */
		const double products = (double)w->numel / outs * qmax_of(q, q->qsource[src]) *
					((1 << bits) - 1);
		const double room = (2147483647.0 - products) / 2;   /* half the rest: the bias's */
		int widened = 0;
		for (int p = 0; p < parts; p++) {
			float lo, hi;
			range_of(w->data + p * run, run, &lo, &hi);
			struct qparams wq = qparams_from_range(lo, hi, grid);
			/* a grid so fine that a bias cannot be written on S1·S2
			 * (a near-dead channel: tiny weights, a real bias) is
			 * coarsened until it can (docs/QUANTIZATION.md) */
			double need = room > 0 ? bias_scale_floor(b, per_channel ? p : 0,
							     per_channel ? p + 1 : outs, s1, K, room) : 0;
			if (wq.scale < need) {
				wq.scale = nextafterf((float)need, INFINITY);
				if (!(grid & FQ_SYMMETRIC))   /* the symmetric grid's Z is fixed */
					wq.zero = fq_zero(fminf(lo, 0.0f), wq.scale, wq.qmax);
				widened++;
			}
			ws[p] = wq.scale, wz[p] = wq.zero;
			for (size_t i = p * run; i < (p + 1) * run; i++)   /* fakequant_forward's codes */
				qw[i] = (uint8_t)fq_clamp(fq_unclamped(w->data[i], wq.scale,
									(float)wq.zero), (float)wq.qmax);
		}
		if (widened)
			warn("'%s': layer '%s': %d weight grid(s) so fine that a bias would overflow "
			     "int32, coarsened (near-zero weights; the integer model differs from the "
			     "simulation there)", q->file, n->name, widened);
		int64_t kc[1] = {K}, ko[2] = {K, outs}, km[2] = {K, parts};
		int32_t *qb = add(q, n->name, "bias", DTYPE_I32, 2, ko);
		memcpy(add(q, n->name, "in_scale", DTYPE_F32, 1, kc), s1, (size_t)K * sizeof(float));
		memcpy(add(q, n->name, "in_zero", DTYPE_I32, 1, kc), z1, (size_t)K * sizeof(int32_t));
		memcpy(add(q, n->name, "out_scale", DTYPE_F32, 1, kc), s3, (size_t)K * sizeof(float));
		memcpy(add(q, n->name, "out_zero", DTYPE_I32, 1, kc), z3, (size_t)K * sizeof(int32_t));
		int32_t *m0 = add(q, n->name, "multiplier", DTYPE_I32, per_channel ? 2 : 1,
				  per_channel ? km : kc);
		int32_t *sh = add(q, n->name, "shift", DTYPE_I32, per_channel ? 2 : 1,
				  per_channel ? km : kc);
		/* acc_shift: extra fractional bits for the bias (docs/QUANTIZATION.md):
		 * the largest s <= ACC_SHIFT_MAX with (products + max|bias|)·2^s
		 * < 2^31, so (acc − Z1·Σw)·2^s + q_bias never overflows int32. */
		double bmax = 0;
		for (int c = 0; c < K; c++)
			for (int o = 0; o < outs && b; o++) {
				double v = fabs(b->data[o] / ((double)s1[c] * ws[per_channel ? o : 0]));
				bmax = v > bmax ? v : bmax;
			}
		int acc_shift = acc_shift_for(products + bmax + 1);
		attrs_set_int(&l->params, "acc_shift", acc_shift);
		for (int c = 0; c < K && rc == 0; c++)
			for (int o = 0; o < outs && rc == 0; o++) {
				double s12 = (double)s1[c] * (double)ws[per_channel ? o : 0];
				double v = rint(ldexp(b ? b->data[o] : 0.0, acc_shift) / s12);
				if (fabs(v) + products * ldexp(1, acc_shift) > 2147483647.0)
					rc = error("'%s': layer '%s': the bias %g does not fit int32 at "
						   "scale %g", q->file, n->name, b->data[o], s12);
				else
					qb[c * outs + o] = (int32_t)v;
			}
		for (int c = 0; c < K && rc == 0; c++)   /* a multiplier per (cluster, part) */
			for (int p = 0; p < parts && rc == 0; p++) {
				int shift;
				double s12 = (double)s1[c] * (double)ws[p];
				if ((rc = multiplier(q, n->name, ldexp(s12 / s3[c], -acc_shift),
						     &m0[c * parts + p], &shift)) == 0)
					sh[c * parts + p] = shift;
			}
	}
	free(s1);
	free(s3);
	free(z1);
	free(z3);
	return rc;
}

/* The residual add's multipliers (docs/FORMAT.md, requant.h): the input
 * scale ratios ra, rb as M/2^shift on one grid, M = round(r·2^shift) below
 * 2^22, with the largest shift <= 24 that allows it (the larger M has 22
 * significant bits, unless the shift cap leaves it smaller: then both
 * ratios are below 2^−2). With an input of more than 8 bits (wide) the
 * add sums in int64: M below 2^31 and shift <= 62, so the larger M has 31
 * significant bits and the rounding of a 16-bit input's multiplier stays
 * far below an output step (docs/QUANTIZATION.md). */
static int add_multipliers(struct qctx *q, const char *layer, double ra, double rb, int wide,
			   int32_t *ma, int32_t *mb, int32_t *shift)
{
	const double cap = wide ? 2147483648.0 : REQUANT_ADD_MAX_MULT;
	for (int e = wide ? REQUANT_ADD_WIDE_MAX_SHIFT : REQUANT_ADD_MAX_SHIFT; e >= 0; e--) {
		double a = nearbyint(ldexp(ra, e)), b = nearbyint(ldexp(rb, e));
		if (a < cap && b < cap) {
			*ma = (int32_t)a, *mb = (int32_t)b, *shift = e;
			return 0;
		}
	}
	return error("'%s': layer '%s': an input's scale is %g times the output's, more than "
		     "the integer add allows (2^22, or 2^31 with a 16-bit input)", q->file, layer,
		     ra > rb ? ra : rb);
}

static int qadd(struct qctx *q, int j)
{
	const struct node *n = &q->m.nodes[j];
	int relu, K = q->clusters, rc = 0;
	for (int k = 0; k < 2; k++)
		if (n->inputs[k] < 0 || q->qsource[n->inputs[k]] < 0)
			return error("'%s': layer '%s': input %d is not quantized", q->file,
				     n->name, k + 1);
	int point = output_point(q, j, &relu);
	if (point < 0)
		return -1;
	if (bits_of(q, point) > 8)
		return error("'%s': layer '%s': its output is %d-bit; a residual add's output "
			     "has at most 8 bits", q->file, n->name, bits_of(q, point));
	const int wide = bits_of(q, q->qsource[n->inputs[0]]) > 8 ||
			 bits_of(q, q->qsource[n->inputs[1]]) > 8;
	float *s = xmalloc(3 * (size_t)K * sizeof(float));
	int32_t *z = xmalloc(3 * (size_t)K * sizeof(int32_t));
	if (scales_of(q, q->qsource[n->inputs[0]], s, z) ||
	    scales_of(q, q->qsource[n->inputs[1]], s + K, z + K) ||
	    scales_of(q, point, s + 2 * K, z + 2 * K))
		rc = -1;
	if (rc == 0) {
		struct layer *l = emit(q, j, "qadd", relu, point);
		attrs_set_int(&l->params, "bits", bits_of(q, point));
		attrs_set_int(&l->params, "clusters", K);
		attrs_set_int(&l->params, "relu", relu >= 0);
		int64_t kc[1] = {K};
		static const char *const part[3] = {"a", "b", "out"};
		for (int i = 0; i < 3; i++) {
			char key[16];
			snprintf(key, sizeof(key), "%s_scale", part[i]);
			memcpy(add(q, n->name, key, DTYPE_F32, 1, kc), s + i * K, (size_t)K * sizeof(float));
			snprintf(key, sizeof(key), "%s_zero", part[i]);
			memcpy(add(q, n->name, key, DTYPE_I32, 1, kc), z + i * K, (size_t)K * sizeof(int32_t));
		}
		int32_t *ma = add(q, n->name, "a_multiplier", DTYPE_I32, 1, kc);
		int32_t *mb = add(q, n->name, "b_multiplier", DTYPE_I32, 1, kc);
		int32_t *sh = add(q, n->name, "shift", DTYPE_I32, 1, kc);
		for (int c = 0; c < K && rc == 0; c++)
			rc = add_multipliers(q, n->name, (double)s[c] / s[2 * K + c],
					     (double)s[K + c] / s[2 * K + c], wide, &ma[c], &mb[c],
					     &sh[c]);
	}
	free(s);
	free(z);
	return rc;
}

/* A global average pool with its own quantization point: the pixel sum
 * minus P·Z1, times 2^acc_shift, rescaled by M = S1 / (P·S3·2^acc_shift). */
static int qavgpool(struct qctx *q, int j, int point)
{
	const struct node *n = &q->m.nodes[j];
	int src = n->inputs[0], K = q->clusters, rc = 0;
	if (src < 0 || q->qsource[src] < 0)
		return error("'%s': layer '%s': its input is not quantized", q->file, n->name);
	if (narrow_input(q, j, src))
		return -1;
	int pixels = n->in[0].h * n->in[0].w;
	float *s = xmalloc(2 * (size_t)K * sizeof(float));
	int32_t *z = xmalloc(2 * (size_t)K * sizeof(int32_t));
	if (scales_of(q, q->qsource[src], s, z) || scales_of(q, point, s + K, z + K))
		rc = -1;
	if (rc == 0) {
		struct layer *l = emit(q, j, "qavgpool", -1, point);
		attrs_set_int(&l->params, "bits", bits_of(q, point));
		attrs_set_int(&l->params, "clusters", K);
		int64_t kc[1] = {K};
		memcpy(add(q, n->name, "in_scale", DTYPE_F32, 1, kc), s, (size_t)K * sizeof(float));
		memcpy(add(q, n->name, "in_zero", DTYPE_I32, 1, kc), z, (size_t)K * sizeof(int32_t));
		memcpy(add(q, n->name, "out_scale", DTYPE_F32, 1, kc), s + K, (size_t)K * sizeof(float));
		memcpy(add(q, n->name, "out_zero", DTYPE_I32, 1, kc), z + K, (size_t)K * sizeof(int32_t));
		int32_t *m0 = add(q, n->name, "multiplier", DTYPE_I32, 1, kc);
		int32_t *sh = add(q, n->name, "shift", DTYPE_I32, 1, kc);
		/* The sum scaled by 2^acc_shift first: gemmlowp's high multiply
		 * rounds to an integer before the final shift, and a small sum
		 * would be rounded twice (21·0.069 → 12/8 → 2 instead of 1). */
		int acc_shift = acc_shift_for((double)pixels * qmax_of(q, q->qsource[src]));
		attrs_set_int(&l->params, "acc_shift", acc_shift);
		for (int c = 0; c < K && rc == 0; c++) {
			int shift;
			rc = multiplier(q, n->name,
					ldexp((double)s[c] / ((double)pixels * s[K + c]), -acc_shift),
					&m0[c], &shift);
			sh[c] = shift;
		}
	}
	free(s);
	free(z);
	return rc;
}

/* maxpool2d, global_avgpool2d, flatten: same op, the input's scale. */
static int passthrough(struct qctx *q, int j)
{
	const struct node *n = &q->m.nodes[j];
	int src = n->inputs[0];
	if (src < 0 || q->qsource[src] < 0)
		return error("'%s': layer '%s': its input is not quantized", q->file, n->name);
	if (narrow_input(q, j, src))
		return -1;
	struct layer *l = emit(q, j, n->op->name, -1, -1);
	const struct layer *fl = &q->in->layers[j];
	for (size_t k = 0; k < fl->params.n; k++)
		attrs_set_value(&l->params, fl->params.items[k].key, &fl->params.items[k].v);
	q->qsource[j] = q->qsource[src];
	return 0;
}

static int rewrite(struct qctx *q)
{
	for (int j = 0; j < q->m.n_nodes; j++) {
		const struct node *n = &q->m.nodes[j];
		const char *op = n->op->name;
		int next = model_only_consumer(&q->m, j), rc;
		if (strcmp(op, "fakequant") == 0 && n->inputs[0] < 0) {
			float *s = xmalloc((size_t)q->clusters * sizeof(float));
			int32_t *z = xmalloc((size_t)q->clusters * sizeof(int32_t));
			rc = scales_of(q, j, s, z);
			if (rc == 0) {
				struct layer *l = emit(q, j, "quantize", -1, -1);
				attrs_set_int(&l->params, "bits", bits_of(q, j));
				attrs_set_int(&l->params, "clusters", q->clusters);
				int64_t kc[1] = {q->clusters};
				memcpy(add(q, n->name, "scale", DTYPE_F32, 1, kc), s,
				       (size_t)q->clusters * sizeof(float));
				memcpy(add(q, n->name, "zero", DTYPE_I32, 1, kc), z,
				       (size_t)q->clusters * sizeof(int32_t));
				q->qsource[j] = j;
			}
			free(s);
			free(z);
		} else if (strcmp(op, "conv2d") == 0 || strcmp(op, "linear") == 0) {
			rc = weighted(q, j, strcmp(op, "conv2d") == 0);
		} else if (strcmp(op, "add") == 0) {
			rc = qadd(q, j);
		} else if (strcmp(op, "global_avgpool2d") == 0 &&
			   model_node_is(&q->m, next, "fakequant")) {
			rc = qavgpool(q, j, next);
		} else if (strcmp(op, "maxpool2d") == 0 || strcmp(op, "global_avgpool2d") == 0 ||
			   strcmp(op, "flatten") == 0) {
			rc = passthrough(q, j);
		} else if (strcmp(op, "dropout") == 0) {
			int src = n->inputs[0];
			q->alias[j] = xstrdup(src < 0 ? "input" : q->alias[src]);
			q->qsource[j] = src < 0 ? -1 : q->qsource[src];
			rc = 0;
		} else if (q->alias[j]) {
			rc = 0;   /* a relu or fakequant absorbed by the layer before */
		} else {
			rc = error("'%s': layer '%s': %s cannot be quantized here (quantize.h lists "
				   "what can)", q->file, n->name, op);
		}
		if (rc)
			return -1;
	}
	return 0;
}

int quantize_model(struct pcqfile *out, const struct pcqfile *in, const char *name)
{
	struct qctx q = {.in = in, .file = name, .out = out};
	const struct value *bits = attrs_find(&in->attrs, "bits");
	if (!bits || bits->type != VALUE_INT || bits->i < FQ_MIN_BITS || bits->i > FQ_MAX_BITS)
		return error("'%s': attrs 'bits' must be an integer in %d..%d", name,
			     FQ_MIN_BITS, FQ_MAX_BITS);
	if (model_init(&q.m, in, name, 1, 0))
		return -1;
	q.clusters = q.m.clusters;
	memset(out, 0, sizeof(*out));
	out->kind = KIND_QUANTIZED;
	for (size_t i = 0; i < in->attrs.n; i++) {
		const char *key = in->attrs.items[i].key;
		if (strcmp(key, "epochs_done") && strcmp(key, "best_top1") && strcmp(key, "last_top1") &&
		    strcmp(key, "smooth"))
			attrs_set_value(&out->attrs, key, &in->attrs.items[i].v);
	}
	q.qsource = xmalloc((size_t)q.m.n_nodes * sizeof(int));
	q.alias = xcalloc((size_t)q.m.n_nodes, sizeof(char *));
	for (int j = 0; j < q.m.n_nodes; j++)
		q.qsource[j] = -1;
	int rc = 0;
	if (q.m.n_nodes == 0 || !model_node_is(&q.m, 0, "fakequant") ||
	    q.m.nodes[0].inputs[0] != -1)
		rc = error("'%s': the first layer must quantize the input (a fakequant layer "
			   "reading 'input')", name);
	if (rc == 0)
		rc = rewrite(&q);
	int last = q.m.n_nodes - 1;
	if (rc == 0 && !model_node_is(&q.m, last, "fakequant"))
		rc = error("'%s': the logits are not quantized (the last layer must be a "
			   "fakequant layer)", name);
	if (rc == 0 && bits_of(&q, last) > 8)
		rc = error("'%s': the logits are quantized to %d bits; at most 8", name,
			   bits_of(&q, last));
	for (int j = 0; j < q.m.n_nodes; j++)
		free(q.alias[j]);
	free(q.alias);
	free(q.qsource);
	model_free(&q.m);
	if (rc)
		pcqfile_free(out);
	return rc;
}
