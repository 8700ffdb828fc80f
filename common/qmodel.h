/* The integer engine (SPEC §9): a quantized-model file (quantize.h,
 * docs/FORMAT.md §quantized-model) planned for batches of images that are
 * already quantized to uint8, then run with integer arithmetic only:
 * conv and linear as an integer GEMM (igemm.h) with int32 accumulation and
 * zero-point corrections, requantization with gemmlowp's fixed-point
 * helpers (fixedpoint.h), integer ReLU, max and average pooling, residual
 * adds, argmax. qmodel_load.c and qengine.c use no floating-point type;
 * quantizing the float input is qinput.h's job.
 *
 * Activations are NHWC (channels innermost), so a convolution's im2col
 * rows are whole pixels and its GEMM writes the next layer's layout. */
#ifndef PCQ_QMODEL_H
#define PCQ_QMODEL_H

#include "cluster_groups.h"
#include "pcqfile.h"

#include <stddef.h>
#include <stdint.h>

struct requant_plan;
struct requant_channels;

enum qop { QOP_QUANTIZE, QOP_CONV, QOP_LINEAR, QOP_ADD, QOP_MAXPOOL, QOP_GLOBAL_AVGPOOL,
	   QOP_AVGPOOL_REQUANT, QOP_FLATTEN };

/* A weight of the GEMM whose q_w − Z2 is beyond int8: output channel n,
 * index k in its (kernel, kernel, ic) row, r the part left out of the
 * stored int8 weight. */
struct qsparse {
	int n, k;
	int32_t r;
};

struct qnode {
	enum qop op;
	const char *name;          /* alias of the file's layer name */
	int in[2], n_in;           /* node indices; -1: the quantized input */
	int c, h, w;               /* output per sample (stored h, w, c) */
	int bits, qmax;            /* of the output bytes: 0..qmax = 2^bits − 1 */
	int ic, ih, iw;            /* input 0 per sample */
	/* conv / linear / pool windows */
	int kout, kernel, stride, pad, relu;
	int acc_shift;             /* conv/linear: acc·2^acc_shift + bias (finer bias) */
	int8_t *weight;            /* (kout, kernel, kernel, ic) reordered, q_w − offset
				    * (clamped to int8 where sparse has the rest) */
	int8_t wzero;              /* the GEMM's weight zero point: Z2 − 128 for
				    * per-tensor 8-bit weights with too many
				    * q_w − Z2 beyond int8, else 0 */
	int per_channel;           /* conv/linear: weights quantized per output
				    * channel: m0, shift (K, kout) */
	int32_t *wcoef;            /* (kout) q_w − Z2 = stored weight + wcoef[k]
				    * (+ a sparse rest) */
	int any_wcoef;             /* per channel: some wcoef != 0, so the GEMM
				    * path adds wcoef[k]·Σ x (a box term) */
	struct qsparse *sparse;    /* (n_sparse) the rest of those beyond int8 */
	int n_sparse;
	int32_t *wsum;             /* (kout) Σ (q_w − Z2): the input zero-point term */
	int32_t *bias;             /* (K, kout) */
	int32_t *offset;           /* (K, kout) bias − Z1·wsum·2^acc_shift */
	struct requant_plan *plan; /* (K), or (K, kout) with per_channel: the
				    * requantization's clamp bounds (requant.h) */
	struct requant_channels *channels;   /* per_channel: (K) the plans of
				    * each cluster in vector form, or NULL */
	/* per cluster (K each): zero points, multipliers and shifts (m0 and
	 * shift (K, kout) with per_channel) */
	int32_t *in_zero, *out_zero, *m0, *shift;
	int32_t *b_zero;           /* add: the second input's zero points */
	int32_t *a_mult, *b_mult;  /* add: the inputs' integer multipliers (K) */
	struct iconv *iconv;       /* conv: oneDNN's direct convolution, or NULL */
	int pool_into;             /* conv: the max pool, its only reader, that it does
				    * on its int32 accumulators (qengine.c), or 0 */
	int fused;                 /* max pool: done by its conv (pool_into) */
	int chunk;                 /* with iconv: images per call (qmodel_chunk_bytes) */
	int im2col;                /* conv without iconv that is not 1x1/1/0: im2col first */
	uint8_t *out;              /* (batch, h, w, c) */
};

/* Bytes per value of n's output: uint16 above 8 bits (a 16-bit residual
 * branch, read by adds only), else bytes. */
static inline size_t qnode_value_bytes(const struct qnode *n)
{
	return n->bits > 8 ? 2 : 1;
}

/* A direct convolution runs on chunks of a power of two images whose int32
 * accumulators fit this many bytes, so the requantization reads them from
 * cache: half the L2 caches of the threads (threads_get() times the L2
 * size sysconf reports, over 2), or 4 MiB where that size is unknown.
 * Measured: on a 2-core AMD EPYC (1 MiB of L2 each) 2 to 4 MiB best
 * (AlexNetSmall +7% against whole batches of 128, whose 5x5 layer writes
 * 29 MiB of int32), 0.5 to 2 MiB no different for ResNet20; on a 2-core
 * Intel Xeon (2 MiB each) ResNet20's engine +1-9% at 2 MiB against 4.
 * PCQ_CHUNK_KIB=N (read at each call) sets N KiB instead, for tuning. */
size_t qmodel_chunk_bytes(void);

struct qmodel {
	struct qnode *nodes;
	int n_nodes;
	int batch, clusters, classes;
	int c, h, w;               /* input per sample */
	const int32_t *input_zero; /* (K) the quantize layer's zero points */
	uint8_t *col;              /* im2col scratch */
	size_t col_bytes;
	int32_t *acc;              /* GEMM output scratch */
	size_t acc_count;
	int32_t *box;              /* iconv_run_split's box sums (iconv.h) */
	int32_t *pooled;           /* a pool_into conv's pooled accumulators */
	uint64_t *node_ns;         /* NULL, or (n_nodes): each run adds each node's
				    * nanoseconds (bench/qengine_bench.c) */
	void *owned;               /* everything allocated, in one list */
};

/* Plans f (a quantized-model file) for batches of up to `batch` images;
 * checks every layer, param, dtype and shape; -1 after one line naming
 * `file`. */
int qmodel_load(struct qmodel *q, const struct pcqfile *f, const char *file, int batch);
void qmodel_free(struct qmodel *q);

/* x: (n, h, w, c) quantized input images, grouped by cluster as `groups`
 * says (NULL: all cluster 0). Returns the output integers (n, classes),
 * valid until the next run. */
const uint8_t *qmodel_run(struct qmodel *q, const uint8_t *x, int n,
			  const struct kmeans_group *groups, size_t n_groups);

/* For tests: 0 makes later loads store 8-bit GEMM weights as q_w − 128
 * with zero point Z2 − 128 (no sparse term) whatever their range; 1 (the
 * default) takes q_w − Z2 and the sparse term where they allow. */
void qmodel_set_gemm_sparse(int on);

/* The class with the largest output integer, the lowest on ties. */
int qmodel_argmax(const uint8_t *out, int classes);

#endif
