/* Times every implementation oneDNN offers for one int8 convolution as
 * common/iconv.c sets it up (u8 NHWC source, s8 weights in the layout the
 * implementation wants, s32 NHWC destination, no scales or post-ops), so
 * iconv's choice of implementation can be checked on a new CPU:
 *   dnnl_conv_impls N C H K KERNEL STRIDE PAD   (square H x H input)
 * One line per implementation, in oneDNN's order: the best of three
 * 0.3-second bursts, in ms per call and us per image. Threads: OpenMP's
 * (OMP_NUM_THREADS). The data are constant: the kernels' speed does not
 * depend on the values. */
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void ok(dnnl_status_t s, const char *what)
{
	if (s != dnnl_success) {
		fprintf(stderr, "dnnl_conv_impls: %s: %s\n", what, dnnl_status2str(s));
		exit(1);
	}
}

/* Seconds per call of p: the best of three bursts of 0.3 s. */
static double time_calls(dnnl_primitive_t p, dnnl_stream_t stream, int nargs,
			 const dnnl_exec_arg_t *args)
{
	double best = 1e30;
	for (int r = 0; r < 3; r++) {
		double t0 = now(), t;
		int calls = 0;
		do {
			ok(dnnl_primitive_execute(p, stream, nargs, args), "execute");
			ok(dnnl_stream_wait(stream), "wait");
			calls++;
		} while ((t = now() - t0) < 0.3);
		best = t / calls < best ? t / calls : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: dnnl_conv_impls N C H K KERNEL STRIDE PAD\n");
		return 2;
	}
	const int n = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), K = atoi(argv[4]);
	const int k = atoi(argv[5]), stride = atoi(argv[6]), pad = atoi(argv[7]);
	if (n < 1 || C < 1 || K < 1 || k < 1 || stride < 1 || pad < 0 || H + 2 * pad < k) {
		fprintf(stderr, "dnnl_conv_impls: bad convolution\n");
		return 2;
	}
	const int OH = (H + 2 * pad - k) / stride + 1;
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	ok(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine");
	ok(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");
	dnnl_memory_desc_t src, wei, dst;
	dnnl_dims_t sd = { n, C, H, H }, wd = { K, C, k, k }, dd = { n, K, OH, OH };
	dnnl_dims_t strides = { stride, stride }, pads = { pad, pad };
	ok(dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_u8, dnnl_nhwc), "src");
	ok(dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_s8, dnnl_format_tag_any), "weights");
	ok(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_s32, dnnl_nhwc), "dst");
	dnnl_convolution_desc_t cd;
	ok(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
					      &src, &wei, NULL, &dst, strides, pads, pads),
	   "convolution");
	dnnl_primitive_desc_iterator_t it;
	ok(dnnl_primitive_desc_iterator_create(&it, &cd, NULL, engine, NULL), "iterator");
	uint8_t *x = malloc((size_t)n * C * H * H);
	int32_t *y = malloc((size_t)n * K * OH * OH * sizeof(int32_t));
	if (!x || !y)
		return 1;
	memset(x, 3, (size_t)n * C * H * H);
	do {
		dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
		const char *impl = "?";
		dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
		if (!strncmp(impl, "ref", 3)) {   /* minutes on big layers */
			printf("%-36s (reference, not timed)\n", impl);
			dnnl_primitive_desc_destroy(pd);
			continue;
		}
		dnnl_memory_t ms, mw, md, mscratch = NULL;
		ok(dnnl_memory_create(&ms, &src, engine, x), "src memory");
		ok(dnnl_memory_create(&md, &dst, engine, y), "dst memory");
		ok(dnnl_memory_create(&mw, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
				      engine, DNNL_MEMORY_ALLOCATE), "weights memory");
		const dnnl_memory_desc_t *scratch =
			dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
		if (scratch && dnnl_memory_desc_get_size(scratch))
			ok(dnnl_memory_create(&mscratch, scratch, engine, DNNL_MEMORY_ALLOCATE),
			   "scratchpad");
		dnnl_primitive_t p;
		ok(dnnl_primitive_create(&p, pd), "primitive");
		dnnl_exec_arg_t args[4] = { { DNNL_ARG_SRC, ms }, { DNNL_ARG_WEIGHTS, mw },
					    { DNNL_ARG_DST, md }, { DNNL_ARG_SCRATCHPAD, mscratch } };
		double t = time_calls(p, stream, mscratch ? 4 : 3, args);
		printf("%-36s %9.3f ms %9.2f us/image\n", impl, 1e3 * t, 1e6 * t / n);
		dnnl_primitive_destroy(p);
		dnnl_memory_destroy(ms);
		dnnl_memory_destroy(md);
		dnnl_memory_destroy(mw);
		if (mscratch)
			dnnl_memory_destroy(mscratch);
		dnnl_primitive_desc_destroy(pd);
	} while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
	dnnl_primitive_desc_iterator_destroy(it);
	dnnl_stream_destroy(stream);
	dnnl_engine_destroy(engine);
	free(x);
	free(y);
	return 0;
}
