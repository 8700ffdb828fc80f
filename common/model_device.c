/* A planned model run on a device (devops.h): the learned tensors, their
 * gradients and velocities, the running statistics and every activation
 * stay in the device's memory; only batches (images, and labels in
 * training) go up, and logits, or in training each image's loss and hit,
 * come down.
 * The same graph walk as model_run.c, op by op through the device's
 * kernels, in the plain layout. An op without a device kernel would be
 * refused by name when the model moves (every op has one now). */
#include "model_device.h"

#include "attrs.h"
#include "batch.h"
#include "check.h"
#include "dist.h"
#include "dropout.h"
#include "fakequant.h"
#include "progress.h"
#include "weight_fq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum dev_kind {
	K_CONV, K_BN, K_RELU, K_ADD, K_MAXPOOL, K_AVGPOOL, K_GAP, K_FLATTEN, K_LINEAR, K_DROPOUT,
	K_FQ
};

static const struct {
	const char *op;
	enum dev_kind kind;
} kinds[] = {
	{"conv2d", K_CONV}, {"batchnorm2d", K_BN}, {"relu", K_RELU}, {"add", K_ADD},
	{"maxpool2d", K_MAXPOOL}, {"avgpool2d", K_AVGPOOL}, {"global_avgpool2d", K_GAP},
	{"flatten", K_FLATTEN},
	{"linear", K_LINEAR}, {"dropout", K_DROPOUT}, {"fakequant", K_FQ},
};

struct dev_node {
	enum dev_kind kind;
	int kernel, stride, pad;       /* conv2d, maxpool2d */
	float eps, momentum, p;        /* batchnorm2d; dropout */
	int bits, clusters;            /* fakequant */
	float smooth;
	int weight_bits;               /* conv2d, linear: 0, or weights fake-quantized */
	int weight_per_channel;        /* ... with a range per output channel */
	int weight_symmetric;          /* ... on the symmetric grid */
	size_t weight_numel, weight_channels;
	float *weight_fq;              /* device: the fake-quantized copy */
	const float *weight_used;      /* what the last forward used */
	float *out, *dout;             /* device, (batch, out_shape) */
	void *cache;                   /* BN mean and invstd, max pool argmax, dropout and
					* fakequant masks */
	float *t[OP_MAX_TENSORS], *dt[OP_MAX_TENSORS];   /* device tensors */
};

struct model_device {
	const struct devops *ops;
	float *params, *grads, *velocity, *buffers;   /* device copies of the model's slabs */
	float *x;                      /* the batch */
	float *scratch;                /* [OP_MAX_INPUTS] gradients to add in */
	float *workspace;
	size_t workspace_floats;
	float *lohi;                   /* range_of results: a pair per cluster */
	int32_t *labels;               /* the batch's, for the loss */
	double *rows;                  /* the loss's per-image scratch */
	double *host_rows;             /* its copy on the host (page-locked) */
	size_t slot;                   /* floats of the largest activation of a batch */
	struct dev_node *nodes;
	unsigned char *written;
	float *logits;                 /* host (page-locked) */
};

static void must(int rc, const struct model_device *d)
{
	if (rc)
		die("%s: a device operation failed (the message above says which)", d->ops->name);
}

/* The device address of a host pointer into one of the model's slabs. */
static float *on_device(const struct model *m, const float *host)
{
	const struct model_device *d = m->dev;
	if (!host)
		return NULL;
	if (host >= m->params && host < m->params + m->n_params)
		return d->params + (host - m->params);
	if (host >= m->grads && host < m->grads + m->n_params)
		return d->grads + (host - m->grads);
	CHECK(host >= m->buffers && host < m->buffers + m->n_buffers);
	return d->buffers + (host - m->buffers);
}

static void *dalloc(struct model_device *d, size_t bytes)
{
	void *p = NULL;
	must(d->ops->alloc(&p, bytes), d);
	return p;
}

static struct conv2d_shape conv_shape(const struct node *n, const struct dev_node *dn, int batch)
{
	return (struct conv2d_shape){.n = batch, .c = n->in[0].c, .h = n->in[0].h,
				     .w = n->in[0].w, .k = n->out_shape.c, .kh = dn->kernel,
				     .kw = dn->kernel, .stride = dn->stride, .pad = dn->pad};
}

static int plan_node(struct model *m, int j, const struct layer *l, const char *file)
{
	struct model_device *d = m->dev;
	struct dev_node *dn = &d->nodes[j];
	const struct node *n = &m->nodes[j];
	size_t k = 0;
	while (k < sizeof(kinds) / sizeof(kinds[0]) && strcmp(kinds[k].op, n->op->name))
		k++;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		return error("'%s': layer '%s': %s does not run on %s yet", file, n->name,
			     n->op->name, d->ops->name);
	dn->kind = kinds[k].kind;
	const size_t B = (size_t)m->batch, out = B * act_numel(&n->out_shape);
	if (dn->kind == K_CONV || dn->kind == K_LINEAR) {
		struct weight_fq q;
		if (weight_fq_plan(&q, l, file))
			return -1;
		dn->weight_bits = q.bits;
		dn->weight_per_channel = q.per_channel;
		dn->weight_symmetric = q.symmetric;
	}
	if (dn->kind == K_FQ && (op_param_int(l, file, "bits", FQ_MIN_BITS, FQ_MAX_ACT_BITS, &dn->bits) ||
				 op_param_int(l, file, "clusters", 1, 65536, &dn->clusters) ||
				 op_param_float(l, file, "smooth", 0, 1, &dn->smooth)))
		return -1;
	if ((dn->kind == K_CONV || dn->kind == K_MAXPOOL || dn->kind == K_AVGPOOL) &&
	    (op_param_int(l, file, "kernel", 1, 64, &dn->kernel) ||
	     op_param_int(l, file, "stride", 1, 64, &dn->stride) ||
	     op_param_int(l, file, "pad", 0, 32, &dn->pad)))
		return -1;
	if (dn->kind == K_BN && (op_param_float(l, file, "eps", 1e-12, 1, &dn->eps) ||
				 op_param_float(l, file, "momentum", 0, 1, &dn->momentum)))
		return -1;
	if (dn->kind == K_DROPOUT && op_param_float(l, file, "p", 0, 0.999, &dn->p))
		return -1;
	dn->out = dalloc(d, out * sizeof(float));
	dn->dout = dalloc(d, out * sizeof(float));
	if (dn->kind == K_BN)
		dn->cache = dalloc(d, 2 * (size_t)n->out_shape.c * sizeof(float));
	else if (dn->kind == K_MAXPOOL)
		dn->cache = dalloc(d, out * sizeof(int32_t));
	else if (dn->kind == K_DROPOUT || dn->kind == K_FQ)
		dn->cache = dalloc(d, out);
	for (int t = 0; t < OP_MAX_TENSORS; t++) {
		dn->t[t] = on_device(m, n->t[t]);
		dn->dt[t] = on_device(m, n->dt[t]);
	}
	dn->weight_used = dn->t[0];
	if (dn->weight_bits) {
		const struct act_shape *in = &n->in[0];
		dn->weight_numel = (size_t)n->out_shape.c *
				   (dn->kind == K_CONV ? (size_t)in->c * dn->kernel * dn->kernel
						       : act_numel(in));
		dn->weight_channels = (size_t)n->out_shape.c;
		dn->weight_fq = dalloc(d, dn->weight_numel * sizeof(float));
	}
	if (dn->kind == K_CONV) {
		struct conv2d_shape s = conv_shape(n, dn, m->batch);
		size_t ws = d->ops->conv_workspace_floats(&s);
		if (ws > d->workspace_floats)
			d->workspace_floats = ws;
	}
	for (int i = 0; i < n->n_inputs; i++)
		if (act_numel(&n->in[i]) > d->slot)
			d->slot = act_numel(&n->in[i]);
	return 0;
}

int model_device_init(struct model *m, const struct pcqfile *f, const char *file,
		      const struct devops *ops)
{
	CHECK(!m->dev && (size_t)m->n_nodes == f->n_layers);
	struct model_device *d = xcalloc(1, sizeof(*d));
	m->dev = d;
	d->ops = ops;
	d->nodes = xcalloc((size_t)m->n_nodes, sizeof(*d->nodes));
	d->written = xcalloc((size_t)m->n_nodes, 1);
	const size_t P = m->n_params * sizeof(float), Bu = m->n_buffers * sizeof(float);
	d->params = dalloc(d, P);
	d->grads = dalloc(d, P);
	d->velocity = dalloc(d, P);
	d->buffers = dalloc(d, Bu);
	/* a model planned without training has no velocities on the host */
	must(ops->upload(d->params, m->params, P) ||
	     (m->velocity && ops->upload(d->velocity, m->velocity, P)) ||
	     ops->upload(d->buffers, m->buffers, Bu), d);
	for (int j = 0; j < m->n_nodes; j++)
		if (plan_node(m, j, &f->layers[j], file)) {
			model_device_free(m);
			return -1;
		}
	d->x = dalloc(d, (size_t)m->batch * act_numel(&m->input) * sizeof(float));
	d->scratch = dalloc(d, OP_MAX_INPUTS * (size_t)m->batch * d->slot * sizeof(float));
	d->workspace = dalloc(d, (d->workspace_floats ? d->workspace_floats : 1) * sizeof(float));
	d->lohi = dalloc(d, 2 * (size_t)m->clusters * sizeof(float));
	d->labels = dalloc(d, (size_t)m->batch * sizeof(int32_t));
	d->rows = dalloc(d, 2 * (size_t)m->batch * sizeof(double));
	/* what comes down per batch: page-locked (batch.h), copied directly */
	d->host_rows = batch_buffer_alloc(d->ops, 2 * (size_t)m->batch * sizeof(double));
	d->logits = batch_buffer_alloc(d->ops, (size_t)m->batch * m->classes * sizeof(float));
	return 0;
}

const struct devops *model_device_ops(const struct model *m)
{
	return m->dev->ops;
}

void model_device_free(struct model *m)
{
	struct model_device *d = m->dev;
	if (!d)
		return;
	for (int j = 0; j < m->n_nodes; j++) {
		d->ops->free(d->nodes[j].out);
		d->ops->free(d->nodes[j].dout);
		d->ops->free(d->nodes[j].cache);
		d->ops->free(d->nodes[j].weight_fq);
	}
	void *ps[] = {d->params, d->grads,     d->velocity, d->buffers, d->x,
		      d->scratch, d->workspace, d->lohi,     d->labels,  d->rows};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		d->ops->free(ps[i]);
	free(d->nodes);
	free(d->written);
	batch_buffer_free(d->ops, d->host_rows);
	batch_buffer_free(d->ops, d->logits);
	free(d);
	m->dev = NULL;
}

static const float *input_of(const struct model *m, int src)
{
	return src < 0 ? m->dev->x : m->dev->nodes[src].out;
}

/* weight_fq_forward on the device: the weights a conv2d or linear forward
 * uses, fake-quantized with their own (min, max) unless float_only. */
static int weights_for_forward(const struct model *m, struct dev_node *dn)
{
	const struct devops *o = m->dev->ops;
	dn->weight_used = dn->t[0];
	if (!dn->weight_bits || m->float_only)
		return 0;
	dn->weight_used = dn->weight_fq;
	/* per channel: a (range, fake-quantize) pair per output channel, in
	 * stream order, so lohi is reused */
	size_t parts = dn->weight_per_channel ? dn->weight_channels : 1;
	size_t per = dn->weight_numel / parts;
	for (size_t c = 0; c < parts; c++)
		if (o->range_of(m->dev->lohi, dn->t[0] + c * per, per) ||
		    o->fq_forward(dn->weight_fq + c * per, NULL, dn->t[0] + c * per, per,
				  m->dev->lohi, NULL,
				  dn->weight_bits | (dn->weight_symmetric ? FQ_SYMMETRIC : 0)))
			return -1;
	return 0;
}

/* Data-parallel training (dist.h), as op_fakequant.c's update_ranges:
 * each cluster's (min, max) over every rank's share of the batch, then
 * the range update of every cluster some rank saw. lohi: 2·K floats of
 * device scratch. */
static int update_ranges_ranks(const struct model *m, const struct dev_node *dn,
			       const float *x, size_t per, const struct kmeans_group *g,
			       size_t n_groups, float *lohi)
{
	const struct devops *o = m->dev->ops;
	const size_t K = (size_t)dn->clusters;
	float *host = xmalloc(4 * K * sizeof(float)), *lo = host + 2 * K, *hi = lo + K;
	for (size_t k = 0; k < K; k++)
		lo[k] = INFINITY, hi[k] = -INFINITY;   /* absent from this share */
	size_t start = 0;
	int rc = 0;
	for (size_t i = 0; i < n_groups && !rc; i++) {
		const size_t off = start * per, len = g[i].count * per;
		start += g[i].count;
		if (len)
			rc = o->range_of(lohi + 2 * g[i].cluster, x + off, len);
	}
	rc = rc || o->download(host, lohi, 2 * K * sizeof(float));
	for (size_t i = 0; i < n_groups && !rc; i++)
		if (g[i].count) {
			const size_t k = (size_t)g[i].cluster;
			lo[k] = host[2 * k], hi[k] = host[2 * k + 1];
		}
	if (!rc) {
		dist_min_max(lo, hi, K);
		for (size_t k = 0; k < K; k++)
			host[2 * k] = lo[k], host[2 * k + 1] = hi[k];
		rc = o->upload(lohi, host, 2 * K * sizeof(float));
	}
	for (size_t k = 0; k < K && !rc; k++)
		if (lo[k] <= hi[k])
			rc = o->range_update(dn->t[0] + 2 * k, dn->t[1] + k, lohi + 2 * k, dn->smooth);
	free(host);
	return rc;
}

/* op_fakequant.c's forward: each cluster run of the batch updates its own
 * range (training), then is fake-quantized with it. */
static int fakequant_node(const struct model *m, const struct node *n, struct dev_node *dn,
			  const float *x, int batch, int training)
{
	const struct devops *o = m->dev->ops;
	const size_t per = act_numel(&n->out_shape);
	uint8_t *mask = training ? dn->cache : NULL;
	if (m->float_only)
		return o->fq_forward(dn->out, mask, x, (size_t)batch * per, NULL, NULL, dn->bits);
	struct kmeans_group whole = {0, (size_t)batch};
	const struct kmeans_group *g = m->n_groups ? m->groups : &whole;
	size_t n_groups = m->n_groups ? m->n_groups : 1, start = 0;
	for (size_t i = 0; i < n_groups; i++)
		CHECK(g[i].cluster >= 0 && g[i].cluster < dn->clusters);
	const int ranks = training && dist_size() > 1;
	float *lohi = m->dev->lohi;
	if (ranks && update_ranges_ranks(m, dn, x, per, g, n_groups, lohi))
		return -1;
	for (size_t i = 0; i < n_groups; i++) {
		const int k = g[i].cluster;
		const size_t off = start * per, len = g[i].count * per;
		float *range = dn->t[0] + 2 * k, *batches = dn->t[1] + k;
		start += g[i].count;
		if (!len)
			continue;
		if (training && !ranks &&
		    (o->range_of(lohi, x + off, len) ||
		     o->range_update(range, batches, lohi, dn->smooth)))
			return -1;
		if (o->fq_forward(dn->out + off, mask ? mask + off : NULL, x + off, len, range,
				  batches, dn->bits))
			return -1;
	}
	CHECK(start == (size_t)batch);
	return 0;
}

static int forward_node(struct model *m, int j, int batch, int training, struct rng *rng)
{
	const struct devops *o = m->dev->ops;
	const struct node *n = &m->nodes[j];
	struct dev_node *dn = &m->dev->nodes[j];
	const float *x = input_of(m, n->inputs[0]);
	const size_t count = (size_t)batch * act_numel(&n->out_shape);
	const struct act_shape *in = &n->in[0];
	switch (dn->kind) {
	case K_CONV: {
		struct conv2d_shape s = conv_shape(n, dn, batch);
		return weights_for_forward(m, dn) ||
		       o->conv_forward(dn->out, m->dev->workspace, x, dn->weight_used, dn->t[1], &s);
	}
	case K_BN: {
		float *mean = dn->cache, *invstd = mean + in->c;
		int HW = in->h * in->w;
		return training ? o->bn_train(dn->out, mean, invstd, x, dn->t[0], dn->t[1], dn->t[2],
					      dn->t[3], batch, in->c, HW, dn->eps, dn->momentum,
					      shard_share(m->shard_before, batch, m->shard_after))
				: o->bn_eval(dn->out, x, dn->t[0], dn->t[1], dn->t[2], dn->t[3], batch,
					     in->c, HW, dn->eps);
	}
	case K_RELU:
		return o->relu_forward(dn->out, x, count);
	case K_ADD:
		return o->add_forward(dn->out, x, input_of(m, n->inputs[1]), count);
	case K_MAXPOOL:
		return o->maxpool_forward(dn->out, dn->cache, x, batch * in->c, in->h, in->w,
					  dn->kernel, dn->stride, dn->pad);
	case K_AVGPOOL:
		return o->avgpool_forward(dn->out, x, batch * in->c, in->h, in->w, dn->kernel,
					  dn->stride, dn->pad);
	case K_GAP:
		return o->gap_forward(dn->out, x, batch * in->c, in->h * in->w);
	case K_FLATTEN:
		return o->copy(dn->out, x, count * sizeof(float));
	case K_LINEAR:
		return weights_for_forward(m, dn) ||
		       o->linear_forward(dn->out, x, dn->weight_used, dn->t[1], batch,
					 (int)act_numel(in), n->out_shape.c);
	case K_DROPOUT:
		if (!training)
			return o->copy(dn->out, x, count * sizeof(float));
		/* the mask dropout_forward_train would draw, from the same stream,
		 * drawn on the device (p < 1 as planned) */
		rng_skip(rng, (size_t)m->shard_before * act_numel(&n->out_shape));
		if (o->dropout_mask(dn->cache, rng->state, rng->inc, dropout_threshold(dn->p), count))
			return -1;
		rng_skip(rng, count + (size_t)m->shard_after * act_numel(&n->out_shape));
		return o->dropout_apply(dn->out, dn->cache, x, dropout_keep_scale(dn->p), count);
	case K_FQ:
		return fakequant_node(m, n, dn, x, batch, training);
	}
	return -1;
}

/* --profile: the time once the device has finished what was issued (its
 * operations are asynchronous, so a node's time is from sync to sync). */
static double synced_now(const struct model_device *d)
{
	must(d->ops->sync(), d);
	return progress_now();
}

const float *model_device_forward(struct model *m, const float *x, int n, int training,
				  struct rng *rng, int fetch)
{
	struct model_device *d = m->dev;
	must(d->ops->upload(d->x, x, (size_t)n * act_numel(&m->input) * sizeof(float)), d);
	for (int j = 0; j < m->n_nodes; j++) {
		double t0 = m->profile ? synced_now(d) : 0;
		must(forward_node(m, j, n, training, rng), d);
		if (m->profile)
			m->profile[2 * j] += synced_now(d) - t0;
	}
	if (!fetch)
		return NULL;
	must(d->ops->download(d->logits, d->nodes[m->n_nodes - 1].out,
			      (size_t)n * m->classes * sizeof(float)), d);
	return d->logits;
}

/* The loss of the logits on the device; its gradient goes straight into
 * the last node's dout, where model_device_backward starts. */
double model_device_loss(struct model *m, const int32_t *labels, int n, int *n_correct)
{
	struct model_device *d = m->dev;
	const struct dev_node *last = &d->nodes[m->n_nodes - 1];
	double loss = 0;
	must(d->ops->upload(d->labels, labels, (size_t)n * sizeof(int32_t)) ||
	     d->ops->softmax_xent(last->dout, &loss, n_correct, d->rows, d->host_rows, last->out,
				  d->labels, n, m->classes), d);
	return loss;
}

/* dx[0] NULL (conv2d, linear and fakequant only): no input gradient wanted. */
static int backward_node(struct model *m, int j, int batch, float *const *dx)
{
	const struct devops *o = m->dev->ops;
	const struct node *n = &m->nodes[j];
	struct dev_node *dn = &m->dev->nodes[j];
	const float *x = input_of(m, n->inputs[0]);
	const size_t count = (size_t)batch * act_numel(&n->out_shape);
	const struct act_shape *in = &n->in[0];
	switch (dn->kind) {
	case K_CONV: {
		struct conv2d_shape s = conv_shape(n, dn, batch);
		return o->conv_backward(dx[0], dn->dt[0], dn->dt[1], m->dev->workspace, dn->dout, x,
					dn->weight_used, &s);
	}
	case K_BN: {
		const float *mean = dn->cache, *invstd = mean + in->c;
		return o->bn_backward(dx[0], dn->dt[0], dn->dt[1], mean, invstd, dn->dout, x,
				      dn->t[0], batch, in->c, in->h * in->w, shard_share(m->shard_before, batch, m->shard_after));
	}
	case K_RELU:
		return o->relu_backward(dx[0], dn->dout, dn->out, count);
	case K_ADD:   /* both inputs always get a gradient buffer (scratch for the network's) */
		return o->add_backward(dx[0], dx[1], dn->dout, count);
	case K_MAXPOOL:
		return o->maxpool_backward(dx[0], dn->cache, dn->dout, batch * in->c, in->h, in->w,
					   dn->kernel, dn->stride, dn->pad);
	case K_AVGPOOL:
		return o->avgpool_backward(dx[0], dn->dout, batch * in->c, in->h, in->w, dn->kernel,
					   dn->stride, dn->pad);
	case K_GAP:
		return o->gap_backward(dx[0], dn->dout, batch * in->c, in->h * in->w);
	case K_FLATTEN:
		return o->copy(dx[0], dn->dout, count * sizeof(float));
	case K_LINEAR:
		return o->linear_backward(dx[0], dn->dt[0], dn->dt[1], dn->dout, x, dn->weight_used,
					  batch, (int)act_numel(in), n->out_shape.c);
	case K_DROPOUT:
		return o->dropout_apply(dx[0], dn->cache, dn->dout, dropout_keep_scale(dn->p), count);
	case K_FQ:
		return dx[0] ? o->fq_backward(dx[0], dn->dout, dn->cache, count) : 0;
	}
	return -1;
}

void model_device_backward(struct model *m, const float *dlogits, int n)
{
	struct model_device *d = m->dev;
	const size_t slot = (size_t)n * d->slot;
	if (dlogits)
		must(d->ops->upload(d->nodes[m->n_nodes - 1].dout, dlogits,
				    (size_t)n * m->classes * sizeof(float)), d);
	memset(d->written, 0, (size_t)m->n_nodes);
	for (int j = m->n_nodes - 1; j >= 0; j--) {
		const struct node *node = &m->nodes[j];
		float *dx[OP_MAX_INPUTS] = {0};
		int via_scratch[OP_MAX_INPUTS] = {0};
		for (int i = 0; i < node->n_inputs; i++) {
			int src = node->inputs[i];
			if (src < 0) {
				/* the network's input: no gradient, but the ops that
				 * cannot skip it write it to scratch (as model_run.c) */
				const enum dev_kind k = d->nodes[j].kind;
				if (k != K_CONV && k != K_LINEAR && k != K_FQ)
					dx[i] = d->scratch + (size_t)i * slot;
				continue;
			}
			if (!d->written[src]) {
				dx[i] = d->nodes[src].dout;
			} else {
				dx[i] = d->scratch + (size_t)i * slot;
				via_scratch[i] = 1;
			}
		}
		double t0 = m->profile ? synced_now(d) : 0;
		must(backward_node(m, j, n, dx), d);
		if (m->profile)
			m->profile[2 * j + 1] += synced_now(d) - t0;
		for (int i = 0; i < node->n_inputs; i++) {
			int src = node->inputs[i];
			if (src < 0)
				continue;
			if (via_scratch[i]) {
				float *g = d->nodes[src].dout;
				must(d->ops->add_forward(g, g, dx[i], (size_t)n *
							 act_numel(&m->nodes[src].out_shape)), d);
			}
			d->written[src] = 1;
		}
	}
}

void model_device_zero_grads(struct model *m)
{
	must(m->dev->ops->zero(m->dev->grads, m->n_params * sizeof(float)), m->dev);
}

void model_device_sgd_step(struct model *m, const struct sgd_params *p)
{
	struct model_device *d = m->dev;
	must(d->ops->sgd_step(d->params, d->velocity, d->grads, p->lr, p->momentum,
			      p->weight_decay, m->n_params), d);
}

void model_device_sync_host(struct model *m)
{
	struct model_device *d = m->dev;
	const size_t P = m->n_params * sizeof(float);
	must(d->ops->download(m->params, d->params, P) ||
	     (m->velocity && d->ops->download(m->velocity, d->velocity, P)) ||
	     (m->grads && d->ops->download(m->grads, d->grads, P)) ||
	     d->ops->download(m->buffers, d->buffers, m->n_buffers * sizeof(float)), d);
}

void model_device_sum_grads(struct model *m, float scale)
{
	struct model_device *d = m->dev;
	const size_t P = m->n_params;
	must(d->ops->download(m->grads, d->grads, P * sizeof(float)), d);
	for (size_t i = 0; i < P; i++)
		m->grads[i] *= scale;
	dist_sum_floats(m->grads, P);
	must(d->ops->upload(d->grads, m->grads, P * sizeof(float)), d);
}
