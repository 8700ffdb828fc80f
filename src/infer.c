/* pcq-infer: evaluates a model on a data set. FP32 models today; fused
 * (fake-quant) and integer models come with issues 5 and 6. */
#include "check.h"
#include "cli.h"
#include "dataset.h"
#include "evaluate.h"
#include "fileio.h"
#include "model.h"
#include "model_data.h"
#include "normalize.h"
#include "pcqfile.h"
#include "progress.h"
#include "report.h"
#include "threads.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: pcq-infer MODEL --data KIND:PATH [options]\n"
	       "Evaluate a model: top-1 and top-5 accuracy, per-class accuracy and the\n"
	       "confusion matrix. MODEL may be - for standard input.\n"
	       "\n"
	       "  --data KIND:PATH    the test split by default; KIND is one of\n"
	       "                      %s\n"
	       "  --split S           train or test (default test)\n"
	       "  --limit N           N evenly spaced images (indices floor(i*n/N))\n"
	       "  --batch N           images per forward pass (default 256)\n"
	       "  --threads N         (default: all cores)\n"
	       "  --json              print one JSON object (top1, top5 in percent, n, ...)\n"
	       "  --predictions FILE  write per-image labels, predictions and scores\n"
	       "                      (a predictions file, docs/FORMAT.md)\n"
	       "  --help, --version\n",
	       dataset_kinds());
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
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	const char *data = NULL, *predictions = NULL;
	enum split split = SPLIT_TEST;
	size_t limit = 0;
	int batch = 256, threads = 0, json = 0, c;
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
	struct norm norm;
	char digest[65];
	int rc = 1;
	if (pcqfile_read(&f, path, KIND_ANY, digest)) {
		free(command);
		return 1;
	}
	if (f.kind != KIND_MODEL) {
		error("'%s': is a %s file; pcq-infer evaluates model files so far "
		      "(fused and quantized models: issues 5 and 6)", name, file_kind_name(f.kind));
		goto out;
	}
	if (dataset_load(&ds, data, split, limit, threads) ||
	    check_data_fits_model(&ds, &f, name) || norm_load(&norm, &f.attrs, name, ds.c) ||
	    model_init(&m, &f, name, batch, 0))
		goto out;

	struct eval_result r;
	double t0 = progress_now();
	evaluate(&r, &m, &ds, &norm, predictions != NULL);
	struct report_info info = {.model = name, .model_sha256 = digest, .data = data,
				   .mode = "fp32", .seconds = progress_now() - t0};
	if (json)
		report_json(stdout, &info, &ds, &r);
	else
		report_text(stdout, &info, &ds, &r);
	rc = 0;
	if (predictions && report_predictions(predictions, &info, &ds, &r, argc, command))
		rc = 1;
	if (fflush(stdout) != 0)
		rc = error("'stdout': write failed");
	eval_result_free(&r);
out:
	model_free(&m);
	dataset_free(&ds);
	pcqfile_free(&f);
	free(command);
	return rc;
}
