/* Command-line helpers; see cli.h. */
#include "cli.h"

#include "check.h"
#include "backend.h"
#include "devops.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_name());
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '%s --help')\n", program_name());
	exit(2);
}

void cli_bad_option(int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	if (c == ':')
		usage_error("option '%s' needs a value", arg);
	if (c == '?' && optopt)
		usage_error("unknown option '-%c'", optopt);
	usage_error("unknown option '%s'", arg);
}

long long cli_int(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_error("invalid value '%s' for %s: expected an integer in [%lld, %lld]",
			    s, opt, min, max);
	return v;
}

double cli_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		usage_error("invalid value '%s' for %s: expected a number in [%g, %g]",
			    s, opt, min, max);
	return v;
}

char **cli_command(int argc, char **argv)
{
	char **copy = xmalloc(((size_t)argc + 1) * sizeof(char *));
	memcpy(copy, argv, ((size_t)argc + 1) * sizeof(char *));
	return copy;
}

int cli_device(const char *s, const struct devops **ops)
{
	*ops = NULL;
	if (!strcmp(s, "cpu"))
		return 0;
	if (!strcmp(s, "host")) {
		*ops = devops_host();
		return 0;
	}
	if (strcmp(s, "cuda") && strcmp(s, "auto"))
		usage_error("invalid value '%s' for --device: expected cpu, cuda or auto", s);
	*ops = devops_cuda();
	if (!*ops && !strcmp(s, "cuda"))
		return error("--device cuda: no usable GPU (%s)", backend_has_cuda() ?
			     "none found" : "this pcq was built without CUDA");
	return 0;
}
