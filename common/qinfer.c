/* The float side of integer inference; see qinfer.h. */
#include "qinfer.h"

#include "check.h"
#include "fakequant.h"
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float *f32_per_cluster(const struct pcqfile *f, const char *file,
				    const char *layer, const char *suffix, int k)
{
	char name[300];
	snprintf(name, sizeof(name), "%s.%s", layer, suffix);
	const struct tensor *t = pcqfile_tensor(f, name);
	if (!t || t->dtype != DTYPE_F32 || t->ndim != 1 || t->shape[0] != k) {
		error("'%s': tensor '%s' must be f32 (%d)", file, name, k);
		return NULL;
	}
	const float *v = t->data;
	for (int c = 0; c < k; c++)
		if (!(v[c] > 0) || !isfinite(v[c])) {
			error("'%s': tensor '%s' has a scale that is not positive and finite",
			      file, name);
			return NULL;
		}
	return v;
}

int qinfer_init(struct qinfer *qi, const struct pcqfile *f, const char *file, int batch,
		size_t n_images, int keep_inputs, const struct devops *device)
{
	memset(qi, 0, sizeof(*qi));
	if (qmodel_load(&qi->q, f, file, batch))
		return -1;
	const struct qmodel *q = &qi->q;
	qi->in_scale = f32_per_cluster(f, file, q->nodes[0].name, "scale", q->clusters);
	qi->out_scale = qi->in_scale ? f32_per_cluster(f, file, q->nodes[q->n_nodes - 1].name,
						      "out_scale", q->clusters) : NULL;
	int ok = qi->out_scale != NULL;
	if (ok && device) {
		qi->dev = xmalloc(sizeof(*qi->dev));
		ok = qdevice_init(qi->dev, q, device) == 0;
	}
	if (!ok) {
		free(qi->dev);
		qi->dev = NULL;
		qmodel_free(&qi->q);
		return -1;
	}
	/* on a device, its page-locked input buffer: copied up directly */
	qi->xq = qi->dev ? qi->dev->input : xmalloc((size_t)batch * q->c * q->h * q->w);
	qi->outputs = xmalloc((n_images ? n_images : 1) * (size_t)q->classes);
	if (keep_inputs)
		qi->inputs = xmalloc((n_images ? n_images : 1) * (size_t)q->c * q->h * q->w);
	return 0;
}

void qinfer_free(struct qinfer *qi)
{
	if (qi->dev)
		qdevice_free(qi->dev);   /* xq is its input buffer */
	else
		free(qi->xq);
	free(qi->dev);
	qmodel_free(&qi->q);
	free(qi->outputs);
	free(qi->inputs);
	memset(qi, 0, sizeof(*qi));
}

void quantize_input(uint8_t *out, const float *x, int n, int c, int h, int w,
		    const float *scale, const int32_t *zero, int qmax, const int *cl)
{
	size_t hw = (size_t)h * w;
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < n; i++) {
		float s = scale[cl[i]], z = (float)zero[cl[i]];
		for (int ch = 0; ch < c; ch++)
			for (size_t p = 0; p < hw; p++) {
				/* As fakequant_forward (fakequant.c), bit for bit. */
				float v = fq_unclamped(x[((size_t)i * c + ch) * hw + p], s, z);
				out[((size_t)i * hw + p) * c + ch] = (uint8_t)fq_clamp(v, (float)qmax);
			}
	}
}

void qinfer_forward(void *ctx, const float *x, const size_t *idx, int n,
		    const struct kmeans_group *groups, size_t n_groups, float *scores)
{
	struct qinfer *qi = ctx;
	struct qmodel *q = &qi->q;
	int *cl = xmalloc((size_t)n * sizeof(int));
	cluster_groups_expand(cl, n, groups, n_groups);
	double t0 = progress_now();
	quantize_input(qi->xq, x, n, q->c, q->h, q->w, qi->in_scale, q->input_zero, q->nodes[0].qmax, cl);
	const uint8_t *out = qi->dev ? qdevice_run(qi->dev, qi->xq, n, groups, n_groups)
				     : qmodel_run(q, qi->xq, n, groups, n_groups);
	qi->engine_seconds += progress_now() - t0;
	const struct qnode *last = &q->nodes[q->n_nodes - 1];
	size_t hw = (size_t)q->h * q->w;
	for (int k = 0; qi->inputs && k < n; k++)   /* NHWC back to C, H, W */
		for (int ch = 0; ch < q->c; ch++)
			for (size_t p = 0; p < hw; p++)
				qi->inputs[(idx[k] * q->c + ch) * hw + p] =
					qi->xq[((size_t)k * hw + p) * q->c + ch];
	for (int k = 0; k < n; k++) {
		const uint8_t *o = out + (size_t)k * q->classes;
		memcpy(qi->outputs + idx[k] * q->classes, o, (size_t)q->classes);
		for (int j = 0; j < q->classes; j++)
			scores[(size_t)k * q->classes + j] =
				qi->out_scale[cl[k]] * (float)(o[j] - last->out_zero[cl[k]]);
	}
	free(cl);
}
