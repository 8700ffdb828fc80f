/* The forward and backward passes of a planned model (model.h). Backward
 * walks the nodes in reverse; the first consumer to reach a node's
 * gradient writes it, later ones (the branches of a residual edge) write
 * into scratch and add it in. */
#include "model.h"

#include "check.h"
#include "model_device.h"
#include "progress.h"
#include "softmax_xent.h"

#include <stdlib.h>
#include <string.h>

static const float *input_of(const struct model *m, const float *x, int src)
{
	return src < 0 ? x : m->nodes[src].out;
}

const float *model_forward(struct model *m, const float *x, int n, int training,
			   struct rng *rng)
{
	if (m->dev) {
		CHECK(n >= 1 && n <= m->batch);
		return model_device_forward(m, x, n, training, rng, 1);
	}
	model_run_forward(m, x, n, training, rng);
	return m->nodes[m->n_nodes - 1].out;
}

void model_run_forward(struct model *m, const float *x, int n, int training, struct rng *rng)
{
	CHECK(n >= 1 && n <= m->batch);
	if (m->dev) {
		model_device_forward(m, x, n, training, rng, 0);
		return;
	}
	if (m->n_groups) {
		size_t total = 0;
		for (size_t i = 0; i < m->n_groups; i++) {
			CHECK(m->groups[i].cluster >= 0 && m->groups[i].cluster < m->clusters);
			total += m->groups[i].count;
		}
		CHECK(total == (size_t)n);
	}
	for (int j = 0; j < m->n_nodes; j++) {
		struct node *node = &m->nodes[j];
		if (node->absorbed)
			continue;   /* a ReLU another node runs (relu_after, relu_before) */
		const float *xs[OP_MAX_INPUTS] = {0};
		for (int i = 0; i < node->n_inputs; i++)
			xs[i] = input_of(m, x, model_input(m, node, i));
		struct op_ctx c = {.n = n, .training = training, .x = xs,
				   .workspace = m->workspace, .rng = rng,
				   .groups = m->groups, .n_groups = m->n_groups,
				   .float_only = m->float_only,
				   .shard_before = m->shard_before,
				   .shard_after = m->shard_after};
		double t0 = m->profile ? progress_now() : 0;
		node->op->forward(node, &c);
		if (m->profile)
			m->profile[2 * j] += progress_now() - t0;
	}
}

double model_loss(struct model *m, const int32_t *labels, int n, int *n_correct)
{
	CHECK(n >= 1 && n <= m->batch);
	if (m->dev)
		return model_device_loss(m, labels, n, n_correct);
	CHECK(m->slot_floats > 0);   /* planned for training */
	/* the gradient goes where model_backward starts: the last node's dout */
	const struct node *last = &m->nodes[m->n_nodes - 1];
	const struct softmax_xent_shape s = {.N = n, .classes = m->classes};
	return softmax_xent(last->dout, n_correct, last->out, labels, &s);
}

/* dst += src. simd: without it GCC's -O2 left the loop scalar (it will
 * not add the aliasing check its cheap cost model would need). */
static void accumulate(float *dst, const float *src, size_t count)
{
	#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < count; i++)
		dst[i] += src[i];
}

void model_backward(struct model *m, const float *x, const float *dlogits, int n)
{
	CHECK(n >= 1 && n <= m->batch);
	if (m->dev) {
		model_device_backward(m, dlogits, n);
		return;
	}
	struct node *last = &m->nodes[m->n_nodes - 1];
	if (dlogits)
		memcpy(last->dout, dlogits, (size_t)n * m->classes * sizeof(float));
	memset(m->written, 0, (size_t)m->n_nodes);

	for (int j = m->n_nodes - 1; j >= 0; j--) {
		struct node *node = &m->nodes[j];
		if (!node->grad || node->absorbed)
			continue;   /* nothing learned here or upstream (model.c), or
				     * a ReLU another node runs */
		const float *xs[OP_MAX_INPUTS] = {0};
		float *dx[OP_MAX_INPUTS] = {0};
		int via_scratch[OP_MAX_INPUTS] = {0};
		for (int i = 0; i < node->n_inputs; i++) {
			int src = model_input(m, node, i);
			xs[i] = input_of(m, x, src);
			if (!node->dx_needed[i]) {
				dx[i] = node->op->dx_optional ? NULL :
					m->scratch + (size_t)i * m->slot_floats;
			} else if (!m->written[src]) {
				dx[i] = m->nodes[src].dout;
			} else {
				dx[i] = m->scratch + (size_t)i * m->slot_floats;
				via_scratch[i] = 1;
			}
		}
		struct op_ctx c = {.n = n, .training = 1, .x = xs, .workspace = m->workspace,
				   .shard_before = m->shard_before, .shard_after = m->shard_after};
		double t0 = m->profile ? progress_now() : 0;
		node->op->backward(node, &c, dx);
		if (m->profile)
			m->profile[2 * j + 1] += progress_now() - t0;
		for (int i = 0; i < node->n_inputs; i++) {
			int src = model_input(m, node, i);
			if (!node->dx_needed[i])
				continue;
			if (via_scratch[i])
				accumulate(m->nodes[src].dout, dx[i],
					   (size_t)n * act_numel(&m->nodes[src].out_shape));
			m->written[src] = 1;
		}
	}
}

void model_zero_grads(struct model *m)
{
	if (m->dev)
		model_device_zero_grads(m);
	else
		memset(m->grads, 0, m->n_params * sizeof(float));
}

void model_sgd_step(struct model *m, const struct sgd_params *p)
{
	if (m->dev)
		model_device_sgd_step(m, p);
	else
		sgd_step(m->params, m->velocity, m->grads, p, m->n_params);
}

void model_sync_host(struct model *m)
{
	if (m->dev)
		model_device_sync_host(m);
}

int model_use_device(struct model *m, const struct pcqfile *f, const char *file,
		     const struct devops *ops)
{
	return model_device_init(m, f, file, ops);
}

void model_profile_start(struct model *m)
{
	free(m->profile);
	m->profile = xcalloc(2 * (size_t)m->n_nodes, sizeof(double));
}

void model_profile_print(const struct model *m, FILE *fp)
{
	double total = 0;
	for (int j = 0; j < 2 * m->n_nodes; j++)
		total += m->profile[j];
	fprintf(fp, "%-28s %-16s %10s %10s %6s\n", "layer", "op", "forward s", "backward s", "share");
	for (int j = 0; j < m->n_nodes; j++)
		fprintf(fp, "%-28s %-16s %10.3f %10.3f %5.1f%%\n", m->nodes[j].name,
			m->nodes[j].absorbed ? "relu (fused)" :
			m->nodes[j].relu_before ? "relu+fakequant" : m->nodes[j].op->name,
			m->profile[2 * j], m->profile[2 * j + 1],
			total > 0 ? 100 * (m->profile[2 * j] + m->profile[2 * j + 1]) / total : 0);
	fprintf(fp, "%-28s %-16s %21.3f\n", "total", "", total);
}
