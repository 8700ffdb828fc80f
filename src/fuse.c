/* pcq-fuse: folds batch norm and turns a pre-trained model into a fused
 * model ready for quantization-aware fine-tuning (SPEC §7, fuse.h). */
#include "check.h"
#include "cli.h"
#include "fileio.h"
#include "fuse.h"
#include "pcqfile.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(void)
{
	printf("Usage: pcq-fuse MODEL --bit B [--first-last-bit F] [--residual-bit R]\n"
	       "                [--per-channel] [--symmetric] [--clusters K] [--smooth S] -o FILE\n"
	       "Fold every batch norm into the convolution before it and make a fused\n"
	       "model for quantization-aware fine-tuning (SPEC §7): weights fake-quantized\n"
	       "per tensor (or per channel) to B bits, and at every quantization point (the\n"
	       "input, each conv/linear output after its ReLU, each residual branch and add\n"
	       "output) a B-bit activation range per cluster, empty until pcq-train fills it.\n"
	       "MODEL is a pre-trained model file (- for standard input).\n"
	       "\n"
	       "  --bit B            bits of weights and activations, 2..8 (required)\n"
	       "  --first-last-bit F mixed precision: F bits, 2..8, for the first and last\n"
	       "                     conv/linear layers' weights and inputs and for the\n"
	       "                     logits; B bits inside (default F = B)\n"
	       "  --residual-bit R   R bits, 2..16, for what only residual adds read (each\n"
	       "                     block's last convolution and downsample branch): the\n"
	       "                     adds' inputs; their outputs keep B bits (default R = B)\n"
	       "  --per-channel      a weight range per output channel, not per layer\n"
	       "  --symmetric        weights on a grid symmetric about zero: scale\n"
	       "                     max|w|/(2^(B-1) - 1), zero point 2^(B-1)\n"
	       "  --clusters K       input clusters (PCQ); 1 is Google's QAT (default 1)\n"
	       "  --smooth S         EMA factor of the activation ranges (default 0.999)\n"
	       "  -o, --output FILE  the fused model (- for standard output)\n"
	       "  --help, --version\n");
}

int main(int argc, char **argv)
{
	set_program_name("pcq-fuse");
	char **command = cli_command(argc, argv);
	static const struct option opts[] = {
		{"bit", required_argument, NULL, 'b'},
		{"first-last-bit", required_argument, NULL, 'f'},
		{"residual-bit", required_argument, NULL, 'r'},
		{"per-channel", no_argument, NULL, 'c'},
		{"symmetric", no_argument, NULL, 'y'},
		{"clusters", required_argument, NULL, 'k'},
		{"smooth", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	struct fuse_options o = {.bits = 0, .clusters = 1, .smooth = 0.999};
	const char *out = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o.bits = (int)cli_int("--bit", optarg, 2, 8); break;
		case 'f': o.first_last_bits = (int)cli_int("--first-last-bit", optarg, 2, 8); break;
		case 'r': o.residual_bits = (int)cli_int("--residual-bit", optarg, 2, 16); break;
		case 'c': o.per_channel = 1; break;
		case 'y': o.symmetric = 1; break;
		case 'k': o.clusters = (int)cli_int("--clusters", optarg, 1, 65536); break;
		case 's': o.smooth = cli_double("--smooth", optarg, 0, 1); break;
		case 'o': out = optarg; break;
		case 'h': usage(); return 0;
		case 'V': printf("pcq-fuse %s\n", PCQ_VERSION); return 0;
		default: cli_bad_option(c, argv);
		}
	}
	if (optind + 1 != argc)
		usage_error(optind == argc ? "no MODEL given" : "give one MODEL");
	if (!o.bits)
		usage_error("--bit B is required (2..8)");
	if (!out)
		usage_error("-o FILE is required");
	const char *path = argv[optind], *name = display_name(path);

	struct pcqfile in, fused;
	char digest[65];
	int rc = 1;
	if (pcqfile_read(&in, path, KIND_ANY, digest))
		goto done;
	if (in.kind != KIND_MODEL) {
		error("'%s': is a %s file; pcq-fuse takes a pre-trained model", name,
		      file_kind_name(in.kind));
	} else if (fuse_model(&fused, &in, name, &o) == 0) {
		provenance_init(&fused.prov, argc, command);
		provenance_add_input(&fused.prov, path, digest);
		rc = pcqfile_write(&fused, out) ? 1 : 0;
		pcqfile_free(&fused);
	}
	pcqfile_free(&in);
done:
	free(command);
	return rc;
}
