/* Planning a model file's graph into nodes and slabs; see model.h. The
 * forward and backward passes are in model_run.c. */
#include "model.h"

#include "check.h"
#include "layout.h"
#include "model_device.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int find_node(const struct pcqfile *f, int upto, const char *name)
{
	if (strcmp(name, "input") == 0)
		return -1;
	for (int i = 0; i < upto; i++)
		if (strcmp(f->layers[i].name, name) == 0)
			return i;
	CHECK(!"pcqfile_read checked that inputs name earlier layers");
	return -2;
}

static int read_input_shape(struct model *m, const struct pcqfile *f, const char *file)
{
	const struct value *v = attrs_find(&f->attrs, "input_shape");
	if (!v || v->type != VALUE_INT_ARRAY || v->n != 3)
		return error("'%s': attrs 'input_shape' must be 3 integers (C, H, W)", file);
	for (int i = 0; i < 3; i++)
		if (v->ints[i] < 1 || v->ints[i] > 65535)
			return error("'%s': attrs 'input_shape' has a dimension outside 1..65535",
				     file);
	m->input = (struct act_shape){(int)v->ints[0], (int)v->ints[1], (int)v->ints[2]};
	return 0;
}

/* Copies "<layer>.<suffix>" from f after checking its dtype and shape. */
static int bind_tensor(struct model_tensor *t, const struct pcqfile *f, const char *file)
{
	const struct tensor *src = pcqfile_tensor(f, t->name);
	char want[128], got[128];
	shape_string(t->shape, t->ndim, want, sizeof(want));
	if (!src)
		return error("'%s': missing tensor '%s' (f32 %s)", file, t->name, want);
	if (src->dtype != DTYPE_F32 || src->ndim != t->ndim ||
	    memcmp(src->shape, t->shape, (size_t)t->ndim * sizeof(int64_t)) != 0)
		return error("'%s': tensor '%s' is %s %s, expected f32 %s", file, t->name,
			     dtype_name(src->dtype),
			     shape_string(src->shape, src->ndim, got, sizeof(got)), want);
	memcpy(t->data, src->data, t->numel * sizeof(float));
	/* A NaN or infinity in a weight or range is a broken file; caught here
	 * it is a message, later a NaN loss or an undefined float-to-int cast. */
	for (size_t i = 0; i < t->numel; i++)
		if (!isfinite(t->data[i]))
			return error("'%s': tensor '%s' holds %g at element %zu; a model's values "
				     "must be finite", file, t->name, t->data[i], i);
	return 0;
}

/* Gradient slots by liveness: node j's gradient is written from the
 * backward step of its last consumer until its own backward step, so
 * nodes whose intervals do not overlap share a slot. */
static void assign_grad_slots(struct model *m, int *slot_of)
{
	int n = m->n_nodes;
	int *last_use = xmalloc((size_t)n * sizeof(int));   /* backward step */
	int *slot_free_at = xcalloc((size_t)n, sizeof(int));
	for (int j = 0; j < n; j++)
		last_use[j] = -1;
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m->nodes[j].n_inputs; i++) {
			int src = model_input(m, &m->nodes[j], i);
			/* The consumer that runs first in backward: the latest one. */
			if (src >= 0 && (last_use[src] < 0 || n - 1 - j < last_use[src]))
				last_use[src] = n - 1 - j;
		}
	last_use[n - 1] = -1;  /* the logits' gradient exists before step 0 */
	/* A ReLU run by the node before it shares that node's gradient, live
	 * from the ReLU's consumers' step to that node's own. (One run by its
	 * consumer has none: the consumer reads and writes its input's.) */
	for (int j = 0; j < n; j++)
		if (m->nodes[j].absorbed && m->nodes[m->nodes[j].inputs[0]].relu_after)
			last_use[m->nodes[j].inputs[0]] = last_use[j];
	m->n_slots = 0;
	/* Steps run in backward order; node j is live on [start, n-1-j]. */
	for (int step = -1; step < n; step++)
		for (int j = 0; j < n; j++) {
			if (last_use[j] != step || m->nodes[j].absorbed)
				continue;
			int s = 0;
			while (s < m->n_slots && slot_free_at[s] > step)
				s++;
			if (s == m->n_slots)
				m->n_slots++;
			slot_of[j] = s;
			slot_free_at[s] = n - 1 - j + 1;
		}
	for (int j = 0; j < n; j++)
		if (m->nodes[j].absorbed)
			slot_of[j] = slot_of[m->nodes[j].inputs[0]];
	free(last_use);
	free(slot_free_at);
}

static int plan_nodes(struct model *m, const struct pcqfile *f, const char *file,
		      struct op_plan *plans)
{
	for (int j = 0; j < m->n_nodes; j++) {
		const struct layer *l = &f->layers[j];
		struct node *n = &m->nodes[j];
		n->name = l->name;
		n->op = op_find(l->op);
		if (!n->op)
			return error("'%s': layer '%s': unknown op '%s' (known: %s)", file,
				     l->name, l->op, op_names());
		if ((int)l->n_inputs != n->op->n_inputs)
			return error("'%s': layer '%s': %s takes %d input(s), the graph gives %zu",
				     file, l->name, l->op, n->op->n_inputs, l->n_inputs);
		n->n_inputs = (int)l->n_inputs;
		for (int i = 0; i < n->n_inputs; i++) {
			n->inputs[i] = find_node(f, j, l->inputs[i]);
			n->in[i] = n->inputs[i] < 0 ? m->input : m->nodes[n->inputs[i]].out_shape;
			if (i && n->inputs[i] == n->inputs[0])
				return error("'%s': layer '%s': the same input twice", file, l->name);
			if (n->inputs[i] >= 0)
				m->consumers[n->inputs[i]]++;
		}
		if (n->op->plan(n, l, file, m->batch, &plans[j]))
			return -1;
		n->out_shape = plans[j].out;
		if (strcmp(l->op, "fakequant") == 0) {
			int k = (int)plans[j].tensors[0].shape[0];
			if (m->quantized_points && k != m->clusters)
				return error("'%s': layer '%s' has %d clusters, an earlier "
					     "fakequant layer %d", file, l->name, k, m->clusters);
			m->clusters = k;
			m->quantized_points++;
		}
		if (act_numel(&n->out_shape) == 0 || n->out_shape.h < 1 || n->out_shape.w < 1)
			return error("'%s': layer '%s': output shape %dx%dx%d is empty", file,
				     l->name, n->out_shape.c, n->out_shape.h, n->out_shape.w);
	}
	return 0;
}

/* Which nodes need gradients: those with a learned tensor and everything
 * downstream of one. The rest (a fake quantization of the network's
 * input, say) run no backward, and the nodes they feed need no gradient
 * of their input, so a convolution there can run on oneDNN's kernels,
 * which do not give one for a plain input (op_conv2d.c). Nodes come in
 * order, every input before its consumers. */
static void plan_gradients(struct model *m, const struct op_plan *plans)
{
	for (int j = 0; j < m->n_nodes; j++) {
		struct node *n = &m->nodes[j];
		n->grad = 0;
		for (int k = 0; k < plans[j].n_tensors; k++)
			n->grad |= plans[j].tensors[k].learned;
		for (int i = 0; i < n->n_inputs; i++) {
			const int src = n->inputs[i];
			n->dx_needed[i] = src >= 0 && m->nodes[src].grad;
			n->grad |= n->dx_needed[i];
		}
	}
}

/* Which ReLUs another node runs (ops.h): the node before them
 * (relu_after) when its op can and nothing else reads its output (so the
 * ReLU runs in place on it); else their consumer (relu_before) when its op
 * can and it is the ReLU's only one (a fake quantization after a
 * convolution's ReLU in a fused model). That saves the ReLU's passes over
 * the batch, with the same results. PCQ_FUSE_RELU=off keeps them apart
 * (for comparisons). */
static void plan_relu_fusion(struct model *m)
{
	const char *e = getenv("PCQ_FUSE_RELU");
	if (e && !strcmp(e, "off"))
		return;
	if (e && *e && strcmp(e, "on"))
		warn("PCQ_FUSE_RELU=%s: expected on or off; using on", e);
	for (int j = 0; j < m->n_nodes; j++) {
		struct node *n = &m->nodes[j];
		const int src = n->inputs[0];
		if (strcmp(n->op->name, "relu") || src < 0 || !m->nodes[src].op->fuses_relu ||
		    m->consumers[src] != 1)
			continue;
		m->nodes[src].relu_after = 1;
		n->absorbed = 1;
	}
	for (int j = 0; j < m->n_nodes; j++) {
		struct node *n = &m->nodes[j], *r = n->inputs[0] >= 0 ? &m->nodes[n->inputs[0]] : NULL;
		if (!n->op->fuses_relu_before || !r || strcmp(r->op->name, "relu") || r->absorbed ||
		    r->inputs[0] < 0 || m->consumers[n->inputs[0]] != 1)
			continue;
		n->relu_before = 1;
		r->absorbed = 1;
	}
}

/* Which nodes keep their activations in layout.h's blocked layout: as
 * many as the ops allow, starting from every candidate and dropping the
 * ones a rule forbids until none does (a node only ever goes blocked ->
 * plain, so this ends). A blocked node needs: its op to allow it
 * (op_layout; conv2d asks oneDNN), 16-channel blocks, KEEP inputs all
 * blocked, and consumers that take it: no PLAIN op, and no KEEP or MAKE
 * op that stays plain (a plain conv2d reads a plain input: conv2d.h). The
 * network's input and output are plain. */
static void plan_layouts(struct model *m)
{
	const int N = m->n_nodes;
	int *b = xmalloc((size_t)N * sizeof(int));
	int (*probe)[2] = xmalloc((size_t)N * sizeof(*probe));  /* can_block, cached */
	for (int j = 0; j < N; j++) {
		const struct node *n = &m->nodes[j];
		b[j] = (n->op->layout == OP_LAYOUT_KEEP || n->op->layout == OP_LAYOUT_MAKE) &&
		       n->out_shape.c % ACT_BLOCK == 0 && j < N - 1;
		probe[j][0] = probe[j][1] = -1;
	}
	for (int changed = 1; changed;) {
		changed = 0;
		for (int j = 0; j < N; j++) {
			if (!b[j])
				continue;
			const struct node *n = &m->nodes[j];
			int ok = 1;
			if (n->op->layout == OP_LAYOUT_KEEP) {
				for (int i = 0; i < n->n_inputs; i++)
					ok &= n->inputs[i] >= 0 && b[n->inputs[i]];
			} else {  /* OP_LAYOUT_MAKE */
				int in = n->inputs[0] >= 0 && b[n->inputs[0]];
				if (probe[j][in] < 0)
					probe[j][in] = n->op->can_block(n, in);
				ok = probe[j][in];
			}
			for (int k = j + 1; k < N && ok; k++) {
				const struct node *c = &m->nodes[k];
				for (int i = 0; i < c->n_inputs; i++)
					if (c->inputs[i] == j &&
					    (c->op->layout == OP_LAYOUT_PLAIN ||
					     ((c->op->layout == OP_LAYOUT_KEEP ||
					       c->op->layout == OP_LAYOUT_MAKE) && !b[k])))
						ok = 0;
			}
			if (!ok) {
				b[j] = 0;
				changed = 1;
			}
		}
	}
	for (int j = 0; j < N; j++) {
		struct node *n = &m->nodes[j];
		n->blocked = b[j];
		for (int i = 0; i < n->n_inputs; i++)
			n->in_blocked[i] = n->inputs[i] >= 0 && b[n->inputs[i]];
	}
	free(probe);
	free(b);
}

static void carve_tensors(struct model *m, const struct op_plan *plans, int training)
{
	for (int pass = 0; pass < 2; pass++) {
		size_t nparams = 0, nbuffers = 0;
		int count = 0;
		for (int j = 0; j < m->n_nodes; j++)
			for (int k = 0; k < plans[j].n_tensors; k++) {
				const struct op_tensor *ot = &plans[j].tensors[k];
				size_t numel = 1;
				for (int d = 0; d < ot->ndim; d++)
					numel *= (size_t)ot->shape[d];
				if (pass == 1) {
					struct model_tensor *t = &m->tensors[count];
					size_t len = strlen(m->nodes[j].name) + strlen(ot->suffix) + 2;
					t->name = xmalloc(len);
					snprintf(t->name, len, "%s.%s", m->nodes[j].name, ot->suffix);
					t->ndim = ot->ndim;
					memcpy(t->shape, ot->shape, sizeof(t->shape));
					t->numel = numel;
					t->learned = ot->learned;
					if (ot->learned) {
						t->data = m->params + nparams;
						if (training) {
							t->grad = m->grads + nparams;
							t->velocity = m->velocity + nparams;
						}
						m->nodes[j].dt[k] = t->grad;
					} else {
						t->data = m->buffers + nbuffers;
					}
					m->nodes[j].t[k] = t->data;
				}
				*(ot->learned ? &nparams : &nbuffers) += numel;
				count++;
			}
		if (pass == 0) {
			m->n_tensors = count;
			m->tensors = xcalloc((size_t)count, sizeof(*m->tensors));
			m->n_params = nparams;
			m->n_buffers = nbuffers;
			m->params = xcalloc(nparams, sizeof(float));
			if (training) {
				m->grads = xcalloc(nparams, sizeof(float));
				m->velocity = xcalloc(nparams, sizeof(float));
			}
			m->buffers = xcalloc(nbuffers, sizeof(float));
		}
	}
}

static void carve_activations(struct model *m, const struct op_plan *plans, int training)
{
	size_t B = (size_t)m->batch, acts = 0, caches = 0, biggest = 0;
	int *slot_of = xmalloc((size_t)m->n_nodes * sizeof(int));
	int *own = xmalloc((size_t)m->n_nodes * sizeof(int));
	for (int j = 0; j < m->n_nodes; j++) {
		const struct node *n = &m->nodes[j];
		int src = n->inputs[0];
		/* In place only when nothing else reads the input. */
		own[j] = !(plans[j].in_place && src >= 0 && m->consumers[src] == 1);
		if (own[j])
			acts += B * act_numel(&n->out_shape);
		size_t c = (B * plans[j].cache_bytes_per_sample + 63) / 64 * 64;
		caches += c;
		if (act_numel(&n->out_shape) > biggest)
			biggest = act_numel(&n->out_shape);
		for (int i = 0; i < n->n_inputs; i++)
			if (n->in[i].c && act_numel(&n->in[i]) > biggest)
				biggest = act_numel(&n->in[i]);
		/* a blocked conv2d runs on oneDNN: its workspace is the plain path's */
		int unused = n->blocked && n->op->layout == OP_LAYOUT_MAKE;
		if (!unused && plans[j].workspace_floats > m->workspace_floats)
			m->workspace_floats = plans[j].workspace_floats;
	}
	m->acts = xmalloc(acts * sizeof(float));
	m->caches = xmalloc(caches ? caches : 1);
	m->slot_floats = training ? B * biggest : 0;
	assign_grad_slots(m, slot_of);
	m->grad_slots = xmalloc(((size_t)m->n_slots * m->slot_floats + 1) * sizeof(float));
	m->scratch = xmalloc((OP_MAX_INPUTS * m->slot_floats + 1) * sizeof(float));
	m->workspace = xmalloc((m->workspace_floats ? m->workspace_floats : 1) * sizeof(float));

	size_t a = 0, c = 0;
	for (int j = 0; j < m->n_nodes; j++) {
		struct node *n = &m->nodes[j];
		if (own[j]) {
			n->out = m->acts + a;
			a += B * act_numel(&n->out_shape);
		} else {
			n->out = m->nodes[n->inputs[0]].out;
		}
		n->cache = (char *)m->caches + c;
		c += (B * plans[j].cache_bytes_per_sample + 63) / 64 * 64;
		n->dout = m->grad_slots + (size_t)slot_of[j] * m->slot_floats;
	}
	free(slot_of);
	free(own);
}

int model_init(struct model *m, const struct pcqfile *f, const char *file, int batch,
	       int training)
{
	memset(m, 0, sizeof(*m));
	m->file = file;
	m->batch = batch;
	CHECK(batch >= 1);
	if (read_input_shape(m, f, file))
		return -1;
	if (f->n_layers == 0)
		return error("'%s': the model has no graph", file);
	m->n_nodes = (int)f->n_layers;
	m->nodes = xcalloc((size_t)m->n_nodes, sizeof(*m->nodes));
	m->consumers = xcalloc((size_t)m->n_nodes, sizeof(int));
	m->written = xcalloc((size_t)m->n_nodes, 1);
	struct op_plan *plans = xcalloc((size_t)m->n_nodes, sizeof(*plans));
	int rc = plan_nodes(m, f, file, plans);
	if (!m->quantized_points)
		m->clusters = 1;
	if (rc == 0) {
		const struct node *last = &m->nodes[m->n_nodes - 1];
		if (last->out_shape.h != 1 || last->out_shape.w != 1)
			rc = error("'%s': the last layer '%s' gives %dx%dx%d, expected a vector "
				   "of class scores", file, last->name, last->out_shape.c,
				   last->out_shape.h, last->out_shape.w);
		m->classes = last->out_shape.c;
	}
	if (rc == 0) {
		carve_tensors(m, plans, training);
		for (int i = 0; i < m->n_tensors && rc == 0; i++)
			rc = bind_tensor(&m->tensors[i], f, file);
	}
	if (rc == 0) {
		plan_gradients(m, plans);
		plan_relu_fusion(m);
		plan_layouts(m);
		carve_activations(m, plans, training);
	}
	free(plans);
	if (rc)
		model_free(m);
	return rc;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	model_device_free(m);
	for (int j = 0; j < m->n_nodes; j++) {
		if (m->nodes[j].op && m->nodes[j].op->free)
			m->nodes[j].op->free(&m->nodes[j]);
		else
			free(m->nodes[j].p);
	}
	for (int i = 0; i < m->n_tensors; i++)
		free(m->tensors[i].name);
	free(m->tensors);
	free(m->nodes);
	free(m->params);
	free(m->grads);
	free(m->velocity);
	free(m->buffers);
	free(m->acts);
	free(m->grad_slots);
	free(m->scratch);
	free(m->workspace);
	free(m->caches);
	free(m->consumers);
	free(m->written);
	free(m->profile);
	memset(m, 0, sizeof(*m));
}

int model_only_consumer(const struct model *m, int j)
{
	int found = -1;
	for (int i = 0; i < m->n_nodes; i++)
		for (int k = 0; k < m->nodes[i].n_inputs; k++)
			if (m->nodes[i].inputs[k] == j) {
				if (found >= 0)
					return -1;
				found = i;
			}
	return found;
}

int model_node_is(const struct model *m, int j, const char *op)
{
	return j >= 0 && strcmp(m->nodes[j].op->name, op) == 0;
}

const char *model_batch_norm_1x1(const struct model *m)
{
	for (int j = 0; j < m->n_nodes; j++)
		if (model_node_is(m, j, "batchnorm2d") && m->nodes[j].in[0].h == 1 &&
		    m->nodes[j].in[0].w == 1)
			return m->nodes[j].name;
	return NULL;
}

int model_uncalibrated(const struct model *m, int *cluster)
{
	for (int j = 0; j < m->n_nodes; j++) {
		if (strcmp(m->nodes[j].op->name, "fakequant") != 0)
			continue;
		const float *batches = m->nodes[j].t[1];
		for (int k = 0; k < m->clusters; k++)
			if (!(batches[k] > 0)) {
				*cluster = k;
				return j;
			}
	}
	return -1;
}

const struct model_tensor *model_find_tensor(const struct model *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

void model_store(const struct model *m, struct pcqfile *f)
{
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		struct tensor *dst = (struct tensor *)pcqfile_tensor(f, t->name);
		CHECK(dst && dst->nbytes == t->numel * sizeof(float));
		memcpy(dst->data, t->data, dst->nbytes);
	}
}
