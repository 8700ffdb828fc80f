/* pcq-info: summarises any PCQ file (kind, provenance, attributes, layers
 * with shapes and parameter counts, tensors) or a data set given as
 * --data KIND:PATH, and can save a decoded data set as a dataset file. */
#include "backend.h"
#include "check.h"
#include "cli.h"
#include "dataset.h"
#include "dataset_file.h"
#include "fileio.h"
#include "json.h"
#include "pcqfile.h"
#include "summary.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: pcq-info [--json] [--tensors] FILE...\n"
	       "       pcq-info --data KIND:PATH [--split S] [--limit N] [--json] [--save FILE]\n"
	       "Summarise PCQ files of any kind (docs/FORMAT.md), or a data set.\n"
	       "\n"
	       "  --json             print one JSON object per FILE (one per line) on stdout\n"
	       "  --tensors          list every tensor, also for models with a graph\n"
	       "  --data KIND:PATH   summarise a data set; KIND is one of:\n"
	       "                     %s\n"
	       "  --split S          train, test or all (default: all)\n"
	       "  --limit N          keep N images a split, evenly spaced: indices floor(i*n/N)\n"
	       "  --threads N        decoding threads (default: $OMP_NUM_THREADS, else all cores)\n"
	       "  --save FILE        with --data: write the decoded splits to FILE as a\n"
	       "                     dataset file, read back with --data dataset:FILE\n"
	       "  --help             print this help\n"
	       "  --version          print the version and the compute backends found\n"
	       "FILE may be - for standard input.\n",
	       dataset_kinds());
}

int main(int argc, char **argv)
{
	set_program_name("pcq-info");
	char **command = cli_command(argc, argv);
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"tensors", no_argument, NULL, 't'},
		{"data", required_argument, NULL, 'd'},
		{"split", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{"threads", required_argument, NULL, 'T'},
		{"save", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	struct summary_options so = {0};
	const char *data = NULL, *save = NULL, *split = "all";
	size_t limit = 0;
	int threads = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'j': so.json = 1; break;
		case 't': so.all_tensors = 1; break;
		case 'd': data = optarg; break;
		case 's': split = optarg; break;
		case 'l': limit = (size_t)cli_int("--limit", optarg, 1, 1LL << 40); break;
		case 'T': threads = (int)cli_int("--threads", optarg, 1, 1024); break;
		case 'o': save = optarg; break;
		case 'h': usage(); return 0;
		case 'V': {
			char buf[512];
			backend_describe(buf, sizeof(buf));
			printf("pcq-info %s\nbackends: %s\n", PCQ_VERSION, buf);
			return 0;
		}
		default: cli_bad_option(c, argv);
		}
	}
	if (data) {
		if (optind < argc)
			usage_error("give either FILE or --data, not both");
		int splits[SPLIT_COUNT] = {0};
		enum split one;
		if (strcmp(split, "all") == 0)
			splits[SPLIT_TRAIN] = splits[SPLIT_TEST] = 1;
		else if (split_parse(split, &one) == 0)
			splits[one] = 1;
		else
			usage_error("invalid value '%s' for --split: expected train, test or all", split);
		if (save && outfile_check(save)) {   /* before the decoding */
			free(command);
			return 1;
		}
		int rc = summarise_dataset(data, splits, limit, threads, save, argc, command, &so);
		free(command);
		return rc ? 1 : 0;
	}
	if (save)
		usage_error("--save needs --data");
	if (optind == argc)
		usage_error("no FILE given");
	free(command);
	int rc = 0;
	for (int i = optind; i < argc; i++)
		if (summarise_file(argv[i], &so))
			rc = 1;
	return rc;
}
