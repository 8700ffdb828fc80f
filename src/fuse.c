/* pcq-fuse: Fold batch norm and turn a pre-trained model into a QAT-ready fused model.
 * Not built yet: issue 5. Until then it answers --help and --version and
 * refuses to run rather than pretend to. */
#include "check.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

static void usage(void)
{
	printf("Usage: pcq-fuse MODEL --bit B [--clusters K] -o FILE\n"
	       "Fold batch norm and turn a pre-trained model into a QAT-ready fused model.\n"
	       "\n"
	       "Not implemented yet (issue 5); see README.md for what works today.\n"
	       "  --help     print this help\n"
	       "  --version  print the version\n");
}

int main(int argc, char **argv)
{
	set_program_name("pcq-fuse");
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(); return 0;
		case 'V': printf("pcq-fuse %s\n", PCQ_VERSION); return 0;
		default: cli_bad_option(c, argv);
		}
	}
	die("not implemented yet (issue 5)");
}
