/* pcq-quantize: the integer parameters of a fine-tuned fused model (SPEC
 * §8, quantize.h): integer weights, per-cluster biases, zero points and
 * fixed-point multipliers, written as a quantized-model file. */
#include "check.h"
#include "cli.h"
#include "fileio.h"
#include "pcqfile.h"
#include "quantize.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(void)
{
	printf("Usage: pcq-quantize FUSED -o FILE\n"
	       "Compute the integer model of a fine-tuned fused model (SPEC §8): for every\n"
	       "layer the weights as b-bit integers with their scale and zero point, and per\n"
	       "cluster the input and output scales and zero points, int32 biases and the\n"
	       "requantization multipliers as (M0, shift), the residual adds' two too.\n"
	       "pcq-infer runs the result with integer arithmetic only. FUSED may be - for\n"
	       "standard input; every cluster must have been calibrated by pcq-train.\n"
	       "\n"
	       "  -o, --output FILE  the quantized model (- for standard output)\n"
	       "  --help, --version\n");
}

int main(int argc, char **argv)
{
	set_program_name("pcq-quantize");
	char **command = cli_command(argc, argv);
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	const char *out = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': usage(); return 0;
		case 'V': printf("pcq-quantize %s\n", PCQ_VERSION); return 0;
		default: cli_bad_option(c, argv);
		}
	}
	if (optind + 1 != argc)
		usage_error(optind == argc ? "no FUSED model given" : "give one FUSED model");
	if (!out)
		usage_error("-o FILE is required");
	const char *path = argv[optind], *name = display_name(path);

	struct pcqfile in, q;
	char digest[65];
	int rc = 1;
	if (pcqfile_read(&in, path, KIND_ANY, digest))
		goto done;
	if (in.kind != KIND_FUSED) {
		error("'%s': is a %s file; pcq-quantize takes a fused model fine-tuned by "
		      "pcq-train", name, file_kind_name(in.kind));
	} else if (quantize_model(&q, &in, name) == 0) {
		provenance_init(&q.prov, argc, command);
		provenance_add_input(&q.prov, path, digest);
		rc = pcqfile_write(&q, out) ? 1 : 0;
		pcqfile_free(&q);
	}
	pcqfile_free(&in);
done:
	free(command);
	return rc;
}
