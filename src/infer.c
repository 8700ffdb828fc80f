/* pcq-infer: evaluates a model on a data set: FP32 models, fused models
 * with quantization simulated in float (per cluster with a k-means model)
 * or in plain float, and quantized models with the integer engine. */
#include "check.h"
#include "cli.h"
#include "dataset.h"
#include "evaluate.h"
#include "fileio.h"
#include "kmeans.h"
#include "model.h"
#include "model_data.h"
#include "normalize.h"
#include "pcqfile.h"
#include "progress.h"
#include "qinfer.h"
#include "report.h"
#include "threads.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: pcq-infer MODEL --data KIND:PATH [--kmeans FILE] [options]\n"
	       "Evaluate a model: top-1 and top-5 accuracy, per-class (and per-cluster)\n"
	       "accuracy and the confusion matrix. MODEL may be - for standard input: a\n"
	       "pre-trained model (FP32); a fused model, evaluated with its weights and\n"
	       "activations fake-quantized with the ranges fine-tuning stored (SPEC §7);\n"
	       "or a quantized model (pcq-quantize), run with integer arithmetic only from\n"
	       "the quantized input image to the argmax (SPEC §9).\n"
	       "\n"
	       "  --kmeans FILE       assigns images to clusters (fused models with K > 1)\n"
	       "  --float             a fused model without any quantization\n"
	       "  --save-quantized-input  integer models: the predictions file also gets\n"
	       "                      each image's quantized input (tests/reference/qref.py)\n"
	       "  --data KIND:PATH    the test split by default; KIND is one of\n"
	       "                      %s\n"
	       "  --split S           train or test (default test)\n"
	       "  --limit N           N evenly spaced images (indices floor(i*n/N))\n"
	       "  --batch N           images per forward pass (default 256)\n"
	       "  --threads N         (default: $OMP_NUM_THREADS, else all cores)\n"
	       "  --json              print one JSON object (top1, top5 in percent, n, ...)\n"
	       "  --predictions FILE  write per-image labels, predictions and scores\n"
	       "                      (a predictions file, docs/FORMAT.md)\n"
	       "  --device D          cpu (default), cuda or auto: where the model runs\n"
	       "                      (the GPU path is new, not yet verified on a GPU)\n"
	       "  --help, --version\n"
	       "Environment: PCQ_CONV=auto|direct|off (FP32 and fused models' convolutions,\n"
	       "docs/TRAINING.md), PCQ_GEMM=auto|openblas|onednn (their sgemm),\n"
	       "PCQ_FUSE_RELU=on|off (their ReLUs in the pass of the layer before or after;\n"
	       "the same results); for the integer engine (docs/QUANTIZATION.md):\n"
	       "PCQ_ICONV=auto|first|off|one (its convolution kernels; first: oneDNN's first,\n"
	       "untimed), PCQ_REQUANT=auto|avx512|avx2|scalar (its requantization path),\n"
	       "PCQ_CHUNK_KIB=N (images per convolution call: N KiB of accumulators).\n",
	       dataset_kinds());
}

/* The k-means model for a model with `clusters` clusters and inputs C×H×W:
 * read and checked (count, shape, normalisation). */
static int open_kmeans(struct kmeans *km, const char *path, int clusters, int c, int h,
		       int w, const struct norm *norm, const char *model)
{
	return kmeans_read(km, path, NULL) ||
	       kmeans_check_model(km, display_name(path), clusters, c, h, w, norm, model) ? -1 : 0;
}

/* The report on stdout and the predictions file: 0, or 1 after an error. */
static int report(const struct report_info *info, const struct dataset *ds,
		  const struct eval_result *r, int json, const char *predictions, int argc,
		  char **argv)
{
	int rc = 0;
	if (json)
		report_json(stdout, info, ds, r);
	else
		report_text(stdout, info, ds, r);
	if (predictions && report_predictions(predictions, info, ds, r, argc, argv))
		rc = 1;
	if (fflush(stdout) != 0)
		rc = error("'stdout': write failed");
	return rc ? 1 : 0;
}

/* Integer-only inference of a quantized model (qinfer.h). */
static int infer_quantized(const struct pcqfile *f, const char *name, const char *digest,
			   const char *data, enum split split, size_t limit, int batch,
			   int threads, int json, const char *predictions, const char *kmeans,
			   int keep_inputs, const struct devops *device, int argc, char **argv)
{
	struct qinfer qi;
	struct dataset ds = {0};
	struct kmeans km = {0};
	struct norm norm;
	int rc = 1;
	if (dataset_load(&ds, data, split, limit, threads) || check_data_fits_model(&ds, f, name))
		goto out;
	if (qinfer_init(&qi, f, name, batch, ds.n, keep_inputs, device))
		goto out;
	if (norm_load(&norm, &f->attrs, name, ds.c))
		goto free_qi;
	if (qi.q.clusters > 1 && !kmeans) {
		error("'%s' has %d clusters: give the k-means model with --kmeans FILE", name,
		      qi.q.clusters);
		goto free_qi;
	}
	if (kmeans && open_kmeans(&km, kmeans, qi.q.clusters, qi.q.c, qi.q.h, qi.q.w, &norm, name))
		goto free_qi;
	struct eval_result r;
	double t0 = progress_now();
	evaluate_with(&r, &ds, &norm, km.k ? &km : NULL, batch, qi.q.classes,
		      predictions != NULL, qi.dev ? device : NULL, qinfer_forward, &qi);
	struct report_info info = {.model = name, .model_sha256 = digest, .data = data,
				   .mode = "integer", .device = device ? device->name : "cpu",
				   .seconds = progress_now() - t0,
				   .engine_seconds = qi.engine_seconds,
				   .outputs = qi.outputs, .inputs = qi.inputs};
	rc = report(&info, &ds, &r, json, predictions, argc, argv);
	eval_result_free(&r);
free_qi:
	qinfer_free(&qi);
out:
	kmeans_free(&km);
	dataset_free(&ds);
	return rc;
}

int main(int argc, char **argv)
{
	set_program_name("pcq-infer");
	char **command = cli_command(argc, argv);
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},
		{"split", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'L'},
		{"batch", required_argument, NULL, 'b'},
		{"threads", required_argument, NULL, 'T'},
		{"json", no_argument, NULL, 'j'},
		{"predictions", required_argument, NULL, 'p'},
		{"kmeans", required_argument, NULL, 'K'},
		{"float", no_argument, NULL, 'F'},
		{"save-quantized-input", no_argument, NULL, 'Q'},
		{"device", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	const char *data = NULL, *predictions = NULL, *kmeans = NULL, *device_name = "cpu";
	enum split split = SPLIT_TEST;
	size_t limit = 0;
	int batch = 256, threads = 0, json = 0, float_only = 0, save_input = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 's':
			if (split_parse(optarg, &split))
				usage_error("invalid value '%s' for --split: expected train or test", optarg);
			break;
		case 'L': limit = (size_t)cli_int("--limit", optarg, 1, 1LL << 40); break;
		case 'b': batch = (int)cli_int("--batch", optarg, 1, 65536); break;
		case 'T': threads = (int)cli_int("--threads", optarg, 1, 1024); break;
		case 'j': json = 1; break;
		case 'p': predictions = optarg; break;
		case 'K': kmeans = optarg; break;
		case 'F': float_only = 1; break;
		case 'Q': save_input = 1; break;
		case 'D': device_name = optarg; break;
		case 'h': usage(); return 0;
		case 'V': printf("pcq-infer %s\n", PCQ_VERSION); return 0;
		default: cli_bad_option(c, argv);
		}
	}
	if (optind + 1 != argc)
		usage_error(optind == argc ? "no MODEL given" : "give one MODEL");
	if (!data)
		usage_error("--data KIND:PATH is required");
	const char *path = argv[optind], *name = display_name(path);
	threads_set(threads);

	struct pcqfile f;
	struct dataset ds = {0};
	struct model m = {0};
	struct kmeans km = {0};
	struct norm norm;
	char digest[65];
	int rc = 1;
	const struct devops *device = NULL;
	if (cli_device(device_name, &device) || pcqfile_read(&f, path, KIND_ANY, digest)) {
		free(command);
		return 1;
	}
	if (f.kind != KIND_MODEL && f.kind != KIND_FUSED && f.kind != KIND_QUANTIZED) {
		error("'%s': is a %s file; pcq-infer evaluates model, fused-model and "
		      "quantized-model files", name, file_kind_name(f.kind));
		goto out;
	}
	if (save_input && (f.kind != KIND_QUANTIZED || !predictions))
		usage_error("--save-quantized-input needs a quantized model and --predictions FILE");
	if (float_only && f.kind != KIND_FUSED)
		usage_error("--float is for fused models; '%s' is a %s file", name,
			    file_kind_name(f.kind));
	if (kmeans && f.kind == KIND_MODEL)
		usage_error("--kmeans is for fused and quantized models; '%s' is a pre-trained "
			    "model", name);
	/* before the evaluation, which a bad path must not waste */
	if (predictions && outfile_check(predictions))
		goto out;
	if (f.kind == KIND_QUANTIZED) {
		rc = infer_quantized(&f, name, digest, data, split, limit, batch, threads, json,
				     predictions, kmeans, save_input, device, argc, command);
		goto out;
	}
	if (model_init(&m, &f, name, batch, 0) || norm_load(&norm, &f.attrs, name, m.input.c) ||
	    (device && model_use_device(&m, &f, name, device)))
		goto out;
	m.float_only = float_only;
	int cluster, layer;
	if (!float_only && m.clusters > 1 && !kmeans) {
		error("'%s' has %d clusters: give the k-means model with --kmeans FILE "
		      "(or --float)", name, m.clusters);
		goto out;
	}
	if (!float_only && (layer = model_uncalibrated(&m, &cluster)) >= 0) {
		error("'%s': layer '%s' has no activation range for cluster %d: fine-tune the "
		      "fused model with pcq-train first (or evaluate with --float)", name,
		      m.nodes[layer].name, cluster);
		goto out;
	}
	if (kmeans && !float_only &&
	    open_kmeans(&km, kmeans, m.clusters, m.input.c, m.input.h, m.input.w, &norm, name))
		goto out;
	if (dataset_load(&ds, data, split, limit, threads) ||
	    check_data_fits_model(&ds, &f, name))
		goto out;

	struct eval_result r;
	double t0 = progress_now();
	evaluate(&r, &m, &ds, &norm, km.k ? &km : NULL, predictions != NULL);
	const char *mode = f.kind == KIND_MODEL ? "fp32" : float_only ? "fused-float" :
			   "simulated";
	struct report_info info = {.model = name, .model_sha256 = digest, .data = data,
				   .mode = mode, .device = device ? device->name : "cpu",
				   .seconds = progress_now() - t0};
	rc = report(&info, &ds, &r, json, predictions, argc, command);
	eval_result_free(&r);
out:
	model_free(&m);
	kmeans_free(&km);
	dataset_free(&ds);
	pcqfile_free(&f);
	free(command);
	return rc;
}
