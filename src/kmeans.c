/* pcq-kmeans: Fit the k-means model that assigns input images to clusters; assign images.
 * Not built yet: issue 4. Until then it answers --help and --version and
 * refuses to run rather than pretend to. */
#include "check.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

static void usage(void)
{
	printf("Usage: pcq-kmeans fit|assign [options]\n"
	       "Fit the k-means model that assigns input images to clusters; assign images.\n"
	       "\n"
	       "Not implemented yet (issue 4); see README.md for what works today.\n"
	       "  --help     print this help\n"
	       "  --version  print the version\n");
}

int main(int argc, char **argv)
{
	set_program_name("pcq-kmeans");
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
		case 'V': printf("pcq-kmeans %s\n", PCQ_VERSION); return 0;
		default: cli_bad_option(c, argv);
		}
	}
	die("not implemented yet (issue 4)");
}
