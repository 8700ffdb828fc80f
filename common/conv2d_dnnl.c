/* FP32 convolution on oneDNN's primitives (conv2d_dnnl.h). */
#include "conv2d_dnnl.h"

#include "check.h"
#include "layout.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum conv_mode { MODE_OFF, MODE_DIRECT, MODE_AUTO };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static enum conv_mode mode = MODE_AUTO;
/* One arena for what every convolution needs only while it runs: oneDNN's
 * scratchpad (Winograd's transformed tiles, up to 130 MB a layer on
 * AlexNetSmall) and the weights and their gradient in the kernels'
 * layouts. Convolutions run one at a time. */
static char *arena;
static size_t arena_bytes;

static size_t align64(size_t bytes)
{
	return (bytes + 63) / 64 * 64;
}

static void arena_reserve(size_t bytes)
{
	if (bytes <= arena_bytes)
		return;
	free(arena);
	arena_bytes = (bytes + 4095) / 4096 * 4096;
	arena = aligned_alloc(64, arena_bytes);
	if (!arena)
		die("out of memory: %zu bytes for oneDNN's convolutions", arena_bytes);
}

static void init(void)
{
	const char *e = getenv("PCQ_CONV");
	if (e && !strcmp(e, "off"))
		mode = MODE_OFF;
	else if (e && !strcmp(e, "direct"))
		mode = MODE_DIRECT;
	else if (e && *e && strcmp(e, "auto"))
		warn("PCQ_CONV=%s: expected auto, direct or off; using auto", e);
	if (mode != MODE_OFF &&
	    (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
	     dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success))
		mode = MODE_OFF;
}

#define CACHED_BATCHES 4

/* The primitives and memories for one batch size. Memories named *_io
 * wrap the caller's buffers (handles set per call); the others are
 * oneDNN's, in the layouts its kernels chose. */
struct prims {
	int n;
	dnnl_primitive_t fwd, bwd_data, bwd_weights;
	dnnl_primitive_t w_to_fwd, w_to_bwd, dw_to_user;   /* weight reorders */
	dnnl_memory_t src_io, dst_io;                      /* also diff_src, diff_dst */
	dnnl_memory_t w_io, w_fwd, w_bwd, b_io, dw, dw_io, db_io;
	dnnl_memory_t pad_fwd, pad_bwd_data, pad_bwd_weights;   /* scratchpads */
	/* arena offsets: fwd: w_fwd, pad_fwd; bwd_data: w_bwd, pad_bwd_data;
	 * bwd_weights: dw, dw_io and db_io, pad_bwd_weights */
	size_t at_pad_fwd, at_pad_bwd_data, at_dw_io, at_db_io, at_pad_bwd_weights;
};

struct conv2d_dnnl {
	struct conv2d_shape s;
	int in_blocked, bias, backward;
	dnnl_alg_kind_t alg;
	char kernel[64];
	struct prims cache[CACHED_BATCHES];
	int n_cached, next_evict;
};

struct pds {
	dnnl_primitive_desc_t fwd, bwd_data, bwd_weights;
};

static void pds_free(struct pds *p)
{
	if (p->fwd)
		dnnl_primitive_desc_destroy(p->fwd);
	if (p->bwd_data)
		dnnl_primitive_desc_destroy(p->bwd_data);
	if (p->bwd_weights)
		dnnl_primitive_desc_destroy(p->bwd_weights);
	memset(p, 0, sizeof(*p));
}

/* A JIT kernel, not the gemm or reference fallbacks (plain layouts only,
 * or slow). */
static int is_jit(dnnl_primitive_desc_t pd)
{
	const char *impl = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
	    !impl)
		return 0;
	return strncmp(impl, "jit", 3) == 0;
}

static int make_pds(const struct conv2d_dnnl *d, int n, dnnl_alg_kind_t alg, struct pds *p)
{
	const struct conv2d_shape *s = &d->s;
	memset(p, 0, sizeof(*p));
	dnnl_dims_t src_dims = {n, s->c, s->h, s->w}, w_dims = {s->k, s->c, s->kh, s->kw};
	dnnl_dims_t dst_dims = {n, s->k, conv2d_out_h(s), conv2d_out_w(s)}, b_dims = {s->k};
	dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
	/* oneDNN's right padding: what makes the last window end at the edge
	 * it reaches (it may be less than pad when the stride skips pixels). */
	dnnl_dims_t pad_r = {(dst_dims[2] - 1) * s->stride + s->kh - s->h - s->pad,
			     (dst_dims[3] - 1) * s->stride + s->kw - s->w - s->pad};
	dnnl_memory_desc_t src, w, dst, b;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_attr_t attr;
	if (dnnl_primitive_attr_create(&attr))
		return -1;
	dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	if (dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32,
					 d->in_blocked ? dnnl_nChw16c : dnnl_nchw) ||
	    dnnl_memory_desc_init_by_tag(&w, 4, w_dims, dnnl_f32, dnnl_format_tag_any) ||
	    dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_nChw16c) ||
	    dnnl_memory_desc_init_by_tag(&b, 1, b_dims, dnnl_f32, dnnl_x))
		goto fail;
	const dnnl_memory_desc_t *bias = d->bias ? &b : NULL;
	if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &src, &w, bias,
					       &dst, strides, pad, pad_r) ||
	    dnnl_primitive_desc_create(&p->fwd, &cd, attr, engine, NULL) || !is_jit(p->fwd))
		goto fail;
	if (d->backward & CONV2D_DNNL_DIN &&
	    (dnnl_convolution_backward_data_desc_init(&cd, alg, &src, &w, &dst, strides, pad,
						      pad_r) ||
	     dnnl_primitive_desc_create(&p->bwd_data, &cd, attr, engine, p->fwd) ||
	     !is_jit(p->bwd_data)))
		goto fail;
	if (d->backward & CONV2D_DNNL_DW &&
	    (dnnl_convolution_backward_weights_desc_init(&cd, alg, &src, &w, bias, &dst,
							 strides, pad, pad_r) ||
	     dnnl_primitive_desc_create(&p->bwd_weights, &cd, attr, engine, p->fwd) ||
	     !is_jit(p->bwd_weights)))
		goto fail;
	dnnl_primitive_attr_destroy(attr);
	return 0;
fail:
	dnnl_primitive_attr_destroy(attr);
	pds_free(p);
	return -1;
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md, void *handle)
{
	dnnl_memory_t m;
	if (dnnl_memory_create(&m, md, engine, handle) != dnnl_success)
		die("oneDNN: cannot create a memory of %zu bytes", dnnl_memory_desc_get_size(md));
	return m;
}

static dnnl_primitive_t primitive(dnnl_primitive_desc_t pd)
{
	dnnl_primitive_t p;
	if (dnnl_primitive_create(&p, pd) != dnnl_success)
		die("oneDNN: cannot create a convolution primitive");
	return p;
}

static dnnl_primitive_t reorder(dnnl_memory_t from, dnnl_memory_t to)
{
	const dnnl_memory_desc_t *a, *b;
	dnnl_memory_get_memory_desc(from, &a);
	dnnl_memory_get_memory_desc(to, &b);
	dnnl_primitive_desc_t pd;
	if (dnnl_reorder_primitive_desc_create(&pd, a, engine, b, engine, NULL) != dnnl_success)
		die("oneDNN: no reorder between two weight layouts");
	dnnl_primitive_t p = primitive(pd);
	dnnl_primitive_desc_destroy(pd);
	return p;
}

/* Memories placed in the arena at call time. */
static dnnl_memory_t in_arena(dnnl_primitive_desc_t pd, dnnl_query_t what)
{
	return memory(dnnl_primitive_desc_query_md(pd, what, 0), DNNL_MEMORY_NONE);
}

static size_t bytes_of(dnnl_memory_t m)
{
	const dnnl_memory_desc_t *md;
	dnnl_memory_get_memory_desc(m, &md);
	return align64(dnnl_memory_desc_get_size(md));
}

static void prims_init(struct conv2d_dnnl *d, struct prims *c, int n)
{
	struct pds p;
	if (make_pds(d, n, d->alg, &p))
		die("oneDNN: the convolution planned for %d images fails for %d", d->s.n, n);
	memset(c, 0, sizeof(*c));
	c->n = n;
	const struct conv2d_shape *s = &d->s;
	dnnl_dims_t w_dims = {s->k, s->c, s->kh, s->kw}, b_dims = {s->k};
	dnnl_memory_desc_t w_user, b_user;
	dnnl_memory_desc_init_by_tag(&w_user, 4, w_dims, dnnl_f32, dnnl_oihw);
	dnnl_memory_desc_init_by_tag(&b_user, 1, b_dims, dnnl_f32, dnnl_x);

	c->fwd = primitive(p.fwd);
	c->pad_fwd = in_arena(p.fwd, dnnl_query_scratchpad_md);
	c->src_io = memory(dnnl_primitive_desc_query_md(p.fwd, dnnl_query_src_md, 0), DNNL_MEMORY_NONE);
	c->dst_io = memory(dnnl_primitive_desc_query_md(p.fwd, dnnl_query_dst_md, 0), DNNL_MEMORY_NONE);
	c->w_io = memory(&w_user, DNNL_MEMORY_NONE);
	c->b_io = memory(&b_user, DNNL_MEMORY_NONE);
	c->w_fwd = in_arena(p.fwd, dnnl_query_weights_md);
	c->w_to_fwd = reorder(c->w_io, c->w_fwd);
	c->at_pad_fwd = bytes_of(c->w_fwd);
	arena_reserve(c->at_pad_fwd + bytes_of(c->pad_fwd));
	if (p.bwd_data) {
		c->bwd_data = primitive(p.bwd_data);
		c->pad_bwd_data = in_arena(p.bwd_data, dnnl_query_scratchpad_md);
		c->w_bwd = in_arena(p.bwd_data, dnnl_query_weights_md);
		c->w_to_bwd = reorder(c->w_io, c->w_bwd);
		c->at_pad_bwd_data = bytes_of(c->w_bwd);
		arena_reserve(c->at_pad_bwd_data + bytes_of(c->pad_bwd_data));
	}
	if (p.bwd_weights) {
		c->bwd_weights = primitive(p.bwd_weights);
		c->pad_bwd_weights = in_arena(p.bwd_weights, dnnl_query_scratchpad_md);
		c->dw = in_arena(p.bwd_weights, dnnl_query_diff_weights_md);
		c->dw_io = memory(&w_user, DNNL_MEMORY_NONE);
		c->db_io = memory(&b_user, DNNL_MEMORY_NONE);
		c->dw_to_user = reorder(c->dw, c->dw_io);
		c->at_dw_io = bytes_of(c->dw);
		c->at_db_io = c->at_dw_io + bytes_of(c->dw_io);
		c->at_pad_bwd_weights = c->at_db_io + bytes_of(c->db_io);
		arena_reserve(c->at_pad_bwd_weights + bytes_of(c->pad_bwd_weights));
	}
	pds_free(&p);
}

static void prims_free(struct prims *c)
{
	dnnl_primitive_t ps[] = {c->fwd, c->bwd_data, c->bwd_weights, c->w_to_fwd, c->w_to_bwd,
				 c->dw_to_user};
	dnnl_memory_t ms[] = {c->src_io, c->dst_io, c->w_io, c->w_fwd, c->w_bwd, c->b_io,
			      c->dw, c->dw_io, c->db_io, c->pad_fwd, c->pad_bwd_data,
			      c->pad_bwd_weights};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		if (ps[i])
			dnnl_primitive_destroy(ps[i]);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (ms[i])
			dnnl_memory_destroy(ms[i]);
}

struct conv2d_dnnl *conv2d_dnnl_create(const struct conv2d_shape *s, int in_blocked,
				       int bias, int backward)
{
	pthread_once(&init_once, init);
	if (mode == MODE_OFF || s->k % ACT_BLOCK || (in_blocked && s->c % ACT_BLOCK))
		return NULL;
	struct conv2d_dnnl *d = xcalloc(1, sizeof(*d));
	d->s = *s;
	d->in_blocked = in_blocked;
	d->bias = bias;
	d->backward = backward;
	/* Winograd only where it measured faster (BENCHMARKS.md): from 32
	 * channels; on 16 the direct kernels win. */
	int wino = mode == MODE_AUTO && s->kh == 3 && s->kw == 3 && s->stride == 1 &&
		   s->pad == 1 && s->c >= 32 && s->k >= 32;
	struct pds p;
	d->alg = dnnl_convolution_winograd;
	if (!wino || make_pds(d, s->n, d->alg, &p)) {
		d->alg = dnnl_convolution_direct;
		if (make_pds(d, s->n, d->alg, &p)) {
			free(d);
			return NULL;
		}
	}
	const char *impl = "";
	dnnl_primitive_desc_query(p.fwd, dnnl_query_impl_info_str, 0, &impl);
	snprintf(d->kernel, sizeof(d->kernel), "%s", impl);
	pds_free(&p);
	return d;
}

void conv2d_dnnl_free(struct conv2d_dnnl *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n_cached; i++)
		prims_free(&d->cache[i]);
	free(d);
}

const char *conv2d_dnnl_kernel(const struct conv2d_dnnl *d)
{
	return d->kernel;
}

static struct prims *prims_for(struct conv2d_dnnl *d, int n)
{
	CHECK(n >= 1 && n <= d->s.n);
	for (int i = 0; i < d->n_cached; i++)
		if (d->cache[i].n == n)
			return &d->cache[i];
	struct prims *c;
	if (d->n_cached < CACHED_BATCHES) {
		c = &d->cache[d->n_cached++];
	} else {
		/* A test pass's last batch, an epoch's last: rare sizes rotate. */
		c = &d->cache[1 + d->next_evict];
		d->next_evict = (d->next_evict + 1) % (CACHED_BATCHES - 1);
		prims_free(c);
	}
	prims_init(d, c, n);
	return c;
}

static void run(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args)
{
	if (dnnl_primitive_execute(p, stream, nargs, args) != dnnl_success ||
	    dnnl_stream_wait(stream) != dnnl_success)
		die("oneDNN: a convolution failed to run");
}

static void set(dnnl_memory_t m, const void *handle)
{
	dnnl_memory_set_data_handle(m, (void *)handle);
}

void conv2d_dnnl_forward(struct conv2d_dnnl *d, int n, float *out, const float *in,
			 const float *w, const float *b)
{
	struct prims *c = prims_for(d, n);
	set(c->w_io, w);
	set(c->w_fwd, arena);
	run(c->w_to_fwd, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, c->w_io}, {DNNL_ARG_TO, c->w_fwd}});
	set(c->src_io, in);
	set(c->dst_io, out);
	set(c->pad_fwd, arena + c->at_pad_fwd);
	dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, c->src_io}, {DNNL_ARG_WEIGHTS, c->w_fwd},
				   {DNNL_ARG_DST, c->dst_io}, {DNNL_ARG_SCRATCHPAD, c->pad_fwd},
				   {DNNL_ARG_BIAS, c->b_io}};
	if (d->bias)
		set(c->b_io, b);
	run(c->fwd, d->bias ? 5 : 4, args);
}

void conv2d_dnnl_backward(struct conv2d_dnnl *d, int n, float *din, float *dw,
			  float *db, const float *dout, const float *in, const float *w)
{
	struct prims *c = prims_for(d, n);
	CHECK(c->bwd_weights && (!din || c->bwd_data));
	if (din) {
		set(c->w_io, w);
		set(c->w_bwd, arena);
		run(c->w_to_bwd, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, c->w_io},
							{DNNL_ARG_TO, c->w_bwd}});
		set(c->src_io, din);
		set(c->dst_io, dout);
		set(c->pad_bwd_data, arena + c->at_pad_bwd_data);
		run(c->bwd_data, 4, (dnnl_exec_arg_t[]){{DNNL_ARG_DIFF_DST, c->dst_io},
							{DNNL_ARG_WEIGHTS, c->w_bwd},
							{DNNL_ARG_DIFF_SRC, c->src_io},
							{DNNL_ARG_SCRATCHPAD, c->pad_bwd_data}});
	}
	set(c->src_io, in);
	set(c->dst_io, dout);
	set(c->dw, arena);
	set(c->dw_io, arena + c->at_dw_io);
	set(c->db_io, arena + c->at_db_io);
	set(c->pad_bwd_weights, arena + c->at_pad_bwd_weights);
	dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, c->src_io}, {DNNL_ARG_DIFF_DST, c->dst_io},
				   {DNNL_ARG_DIFF_WEIGHTS, c->dw},
				   {DNNL_ARG_SCRATCHPAD, c->pad_bwd_weights},
				   {DNNL_ARG_DIFF_BIAS, c->db_io}};
	run(c->bwd_weights, d->bias ? 5 : 4, args);
	run(c->dw_to_user, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, c->dw}, {DNNL_ARG_TO, c->dw_io}});
	const struct conv2d_shape *s = &d->s;
	const size_t nw = (size_t)s->k * s->c * s->kh * s->kw;
	const float *sum_w = (const float *)(arena + c->at_dw_io);
	const float *sum_b = (const float *)(arena + c->at_db_io);
	for (size_t i = 0; i < nw; i++)
		dw[i] += sum_w[i];
	for (int k = 0; d->bias && k < s->k; k++)
		db[k] += sum_b[k];
}
