/* Graph ops: what a layer of a model file's graph does (docs/FORMAT.md
 * §ops). Each op is one file op_<name>.c that fills a struct op_kind; the
 * table in ops.c is the only list of them. The model (model.h) owns every
 * buffer; an op reads its hyperparameters once in `plan` and then runs on
 * the pointers the model hands it. */
#ifndef PCQ_OPS_H
#define PCQ_OPS_H

#include "cluster_groups.h"
#include "pcqfile.h"
#include "rng.h"

#include <stddef.h>
#include <stdint.h>

/* One sample's activation: (C, H, W); a vector of F features is (F, 1, 1). */
struct act_shape {
	int c, h, w;
};

static inline size_t act_numel(const struct act_shape *s)
{
	return (size_t)s->c * s->h * s->w;
}

#define OP_MAX_INPUTS 2
#define OP_MAX_TENSORS 4

/* A tensor an op keeps in the file as "<layer>.<suffix>". */
struct op_tensor {
	const char *suffix;         /* "weight", "running_mean", ... */
	int ndim;
	int64_t shape[4];
	int learned;                /* 1: trained by SGD; 0: a buffer (running stats) */
};

/* What `plan` tells the model about a node. */
struct op_plan {
	struct act_shape out;       /* output shape per sample */
	struct op_tensor tensors[OP_MAX_TENSORS];
	int n_tensors;
	size_t cache_bytes_per_sample;  /* saved for backward, per sample */
	size_t workspace_floats;    /* scratch for a batch of `batch` samples
				     * (OP_LAYOUT_MAKE: for a plain output only) */
	int in_place;               /* output may overwrite input 0 (model decides) */
};

/* A node at run time. Pointers are owned by the model (slabs). */
struct node {
	const struct op_kind *op;
	const char *name;           /* alias of the file's layer name */
	int inputs[OP_MAX_INPUTS];  /* node indices; -1 is the network input */
	int n_inputs;
	struct act_shape in[OP_MAX_INPUTS];
	struct act_shape out_shape;
	float *out;                 /* (N, out_shape) */
	float *dout;                /* (N, out_shape), gradient of out */
	float *t[OP_MAX_TENSORS];   /* the tensors of op_plan, in order */
	float *dt[OP_MAX_TENSORS];  /* their gradients (learned ones), += */
	void *cache;                /* cache_bytes_per_sample · N */
	void *p;                    /* op hyperparameters, from plan, owned */
	/* layout.h: whether out (and dout) and each input are blocked;
	 * decided by the model after every plan (op_kind.layout). */
	int blocked;
	int in_blocked[OP_MAX_INPUTS];
	/* Whether a learned tensor lies here or upstream (model.c): then
	 * backward runs; dx_needed[i]: input i is a node with grad set, so
	 * its gradient must be written (else backward gets a dx it may skip) */
	int grad;
	int dx_needed[OP_MAX_INPUTS];
	/* A ReLU fused into this node (model.c, op_kind.fuses_relu): forward
	 * writes max(y, 0); backward gets the ReLU's output gradient in dout
	 * and masks it where out <= 0. */
	int relu_after;
	/* This ReLU is run by the node before it (relu_after: out and dout
	 * are that node's) or by its consumer (relu_before): its own forward
	 * and backward are skipped. */
	int absorbed;
	/* The ReLU before this node is fused into it (op_kind.fuses_relu_before):
	 * the node reads the ReLU's input, applies the ReLU as it reads, and
	 * writes its input gradient for the ReLU's input (model_input). */
	int relu_before;
};

/* How an op meets layout.h's blocked layout. */
enum op_layout {
	OP_LAYOUT_PLAIN = 0,  /* plain inputs and output only */
	OP_LAYOUT_KEEP,       /* output in its inputs' layout, which agree */
	OP_LAYOUT_MAKE,       /* any input; a blocked output where can_block says */
	OP_LAYOUT_END,        /* any input; plain output */
};

/* The context a forward or backward call runs in. */
struct op_ctx {
	int n;                      /* samples in this batch */
	int training;               /* batch statistics, dropout */
	const float *const *x;      /* [n_inputs] input activations */
	float *workspace;           /* shared scratch */
	struct rng *rng;            /* dropout */
	/* The batch as runs of one cluster each (fake quantization); one run
	 * of cluster 0 when the model has a single cluster. */
	const struct kmeans_group *groups;
	size_t n_groups;
	int float_only;             /* fused models: no fake quantization at all */
	int shard_before, shard_after;  /* model.h: other ranks' images (dropout) */
};

/* The share of the whole batch that n images with `before` and `after`
 * other ranks' images around them are (batchnorm2d.h's share): 0 when
 * the batch is all there is. */
static inline double shard_share(int before, int n, int after)
{
	return before + after == 0 ? 0 : (double)n / (before + n + after);
}

struct op_kind {
	const char *name;           /* the graph's "op" string */
	int n_inputs;
	int dx_optional;            /* backward accepts dx[i] == NULL (skips it) */
	int fuses_relu;             /* honours node.relu_after */
	int fuses_relu_before;      /* honours node.relu_before */
	/* Reads l->params (error naming `file` and the layer on bad values),
	 * allocates n->p, and fills plan from n->in for batches of up to
	 * `batch` samples. */
	int (*plan)(struct node *n, const struct layer *l, const char *file,
		    int batch, struct op_plan *plan);
	void (*forward)(struct node *n, const struct op_ctx *c);
	/* Writes dx[i] (= semantics) for each input whose dx[i] is not NULL,
	 * accumulates tensor gradients into n->dt. */
	void (*backward)(struct node *n, const struct op_ctx *c, float *const *dx);
	void (*free)(struct node *n); /* NULL: free(n->p) */
	enum op_layout layout;
	/* OP_LAYOUT_MAKE: whether the planned node can give a blocked output
	 * from an input in_blocked or not. */
	int (*can_block)(const struct node *n, int in_blocked);
};

/* The op named `name`, or NULL. */
const struct op_kind *op_find(const char *name);
/* "add, avgpool2d, ..." for messages. */
const char *op_names(void);

/* Helpers for plan functions: a required integer param in [lo, hi]. */
int op_param_int(const struct layer *l, const char *file, const char *key,
		 int64_t lo, int64_t hi, int *out);
/* An optional one: *out = dflt when the key is absent. */
int op_param_int_opt(const struct layer *l, const char *file, const char *key,
		     int64_t lo, int64_t hi, int dflt, int *out);
int op_param_float(const struct layer *l, const char *file, const char *key,
		   double lo, double hi, float *out);

#endif
