/* The integer engine on a device; see qdevice.h. */
#include "qdevice.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>

static void *dev_alloc(struct qdevice *d, size_t bytes)
{
	void *p = NULL;
	if (d->ops->alloc(&p, bytes ? bytes : 1))
		return NULL;
	if (d->n_owned == d->cap_owned) {
		d->cap_owned = d->cap_owned ? 2 * d->cap_owned : 64;
		d->owned = xrealloc(d->owned, (size_t)d->cap_owned * sizeof(*d->owned));
	}
	d->owned[d->n_owned++] = p;
	return p;
}

/* A device copy of host[count] (NULL stays NULL); *ok cleared on failure. */
static const void *dev_copy(struct qdevice *d, const void *host, size_t bytes, int *ok)
{
	if (!host || !*ok)
		return NULL;
	void *p = dev_alloc(d, bytes);
	if (!p || d->ops->upload(p, host, bytes))
		*ok = 0;
	return p;
}

/* The weights as the kernels read them: q_w − Z2 in (kh, kw, ic, kout),
 * from qmodel_load's int8 storage (kout, kh, kw, ic), each channel's
 * offset from Z2 and the sparse rest. */
static int16_t *exact_weights(const struct qnode *n)
{
	const size_t per = (size_t)n->kernel * n->kernel * n->ic;
	int16_t *w = xmalloc((size_t)n->kout * per * sizeof(int16_t));
	for (int o = 0; o < n->kout; o++)
		for (size_t t = 0; t < per; t++)
			w[t * n->kout + o] = (int16_t)(n->weight[(size_t)o * per + t] + n->wcoef[o]);
	for (int s = 0; s < n->n_sparse; s++)
		w[(size_t)n->sparse[s].k * n->kout + n->sparse[s].n] += (int16_t)n->sparse[s].r;
	return w;
}

static int plan_node(struct qdevice *d, int j)
{
	const struct qmodel *q = d->q;
	const struct qnode *n = &q->nodes[j];
	struct qk_node *k = &d->nodes[j];
	static const int ops[] = {
		[QOP_CONV] = QK_WEIGHTED, [QOP_LINEAR] = QK_WEIGHTED, [QOP_ADD] = QK_ADD,
		[QOP_MAXPOOL] = QK_MAXPOOL, [QOP_GLOBAL_AVGPOOL] = QK_GLOBAL_AVGPOOL,
		[QOP_AVGPOOL_REQUANT] = QK_AVGPOOL_REQUANT, [QOP_FLATTEN] = QK_FLATTEN,
	};
	*k = (struct qk_node){.op = ops[n->op], .c = n->c, .h = n->h, .w = n->w, .ic = n->ic,
			      .ih = n->ih, .iw = n->iw, .kernel = n->kernel, .stride = n->stride,
			      .pad = n->pad, .relu = n->relu, .acc_shift = n->acc_shift,
			      .qmax = n->qmax, .per_channel = n->per_channel,
			      .out_wide = qnode_value_bytes(n) == 2};
	if (n->op == QOP_ADD) {
		k->a_wide = qnode_value_bytes(&q->nodes[n->in[0]]) == 2;
		k->b_wide = qnode_value_bytes(&q->nodes[n->in[1]]) == 2;
	}
	const size_t K = (size_t)q->clusters * sizeof(int32_t);
	int ok = 1;
	if (n->op == QOP_CONV || n->op == QOP_LINEAR) {
		int16_t *w = exact_weights(n);
		k->weight = dev_copy(d, w, (size_t)n->kout * n->kernel * n->kernel * n->ic *
				     sizeof(int16_t), &ok);
		free(w);
		k->bias = dev_copy(d, n->bias, K * n->kout, &ok);
	}
	k->in_zero = dev_copy(d, n->in_zero, K, &ok);
	k->out_zero = dev_copy(d, n->out_zero, K, &ok);
	const size_t M = n->per_channel ? K * n->kout : K;   /* multipliers */
	k->m0 = dev_copy(d, n->m0, M, &ok);
	k->shift = dev_copy(d, n->shift, M, &ok);
	k->b_zero = dev_copy(d, n->b_zero, K, &ok);
	k->a_mult = dev_copy(d, n->a_mult, K, &ok);
	k->b_mult = dev_copy(d, n->b_mult, K, &ok);
	d->out[j] = ok ? dev_alloc(d, (size_t)q->batch * n->c * n->h * n->w * qnode_value_bytes(n))
		       : NULL;
	return d->out[j] ? 0 : -1;
}

int qdevice_init(struct qdevice *d, const struct qmodel *q, const struct devops *ops)
{
	*d = (struct qdevice){.ops = ops, .q = q};
	d->nodes = xcalloc((size_t)q->n_nodes, sizeof(*d->nodes));
	d->out = xcalloc((size_t)q->n_nodes, sizeof(*d->out));
	CHECK(q->nodes[0].op == QOP_QUANTIZE);
	const size_t in_bytes = (size_t)q->batch * q->c * q->h * q->w;
	int rc = ops->host_alloc((void **)&d->input, in_bytes) ||
		 ops->host_alloc((void **)&d->host_cl, (size_t)q->batch * sizeof(int32_t)) ||
		 ops->host_alloc((void **)&d->result, (size_t)q->batch * q->classes) ? -1 : 0;
	d->out[0] = rc ? NULL : dev_alloc(d, in_bytes);
	d->cl = d->out[0] ? dev_alloc(d, (size_t)q->batch * sizeof(int32_t)) : NULL;
	rc = d->out[0] && d->cl ? 0 : -1;
	for (int j = 1; j < q->n_nodes && rc == 0; j++)
		rc = plan_node(d, j);
	if (rc) {
		qdevice_free(d);
		return error("%s: cannot place the integer model in the device's memory",
			     ops->name);
	}
	return 0;
}

void qdevice_free(struct qdevice *d)
{
	for (int i = 0; i < d->n_owned; i++)
		d->ops->free(d->owned[i]);
	free(d->owned);
	free(d->nodes);
	free(d->out);
	uint8_t *host[] = {d->input, (uint8_t *)d->host_cl, d->result};
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
		if (host[i])
			d->ops->host_free(host[i]);
	memset(d, 0, sizeof(*d));
}

static void must(int rc, const struct qdevice *d)
{
	if (rc)
		die("%s: a device operation failed (the message above says which)", d->ops->name);
}

const uint8_t *qdevice_run(struct qdevice *d, const uint8_t *x, int n,
			   const struct kmeans_group *groups, size_t n_groups)
{
	const struct qmodel *q = d->q;
	CHECK(n >= 1 && n <= q->batch);
	int cl[n];
	CHECK(cluster_groups_expand(cl, n, groups, n_groups) == n);
	for (int i = 0; i < n; i++) {
		CHECK(cl[i] >= 0 && cl[i] < q->clusters);
		d->host_cl[i] = cl[i];
	}
	must(d->ops->upload(d->out[0], x, (size_t)n * q->c * q->h * q->w) ||
	     d->ops->upload(d->cl, d->host_cl, (size_t)n * sizeof(int32_t)), d);
	for (int j = 1; j < q->n_nodes; j++) {
		const struct qnode *node = &q->nodes[j];
		const struct qk_node *k = &d->nodes[j];
		const uint8_t *b = node->op == QOP_ADD ? d->out[node->in[1]] : NULL;
		must(d->ops->qnode_run(k, d->out[j], d->out[node->in[0]], b, d->cl,
				       (size_t)n * k->c * k->h * k->w), d);
	}
	must(d->ops->download(d->result, d->out[q->n_nodes - 1], (size_t)n * q->classes), d);
	return d->result;
}
