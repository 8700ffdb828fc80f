/* Command-line helpers shared by the tools: checked number parsing
 * (strtol/strtod with no trailing junk, never atoi) and usage errors. */
#ifndef PCQ_CLI_H
#define PCQ_CLI_H

#include <stdint.h>

/* Bad usage: prints one line "tool: message (try 'tool --help')"; exits 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse the value of option `opt`; a bad value is a usage error. */
long long cli_int(const char *opt, const char *s, long long min, long long max);
double cli_double(const char *opt, const char *s, double min, double max);

/* getopt_long (run with opterr = 0 and an optstring starting with ':')
 * returned c, '?' or ':': report the unknown option or the missing value
 * in one line and exit 2. */
_Noreturn void cli_bad_option(int c, char **argv);

struct devops;
/* --device cpu|cuda|auto: *ops is NULL for the CPU, the GPU's devops
 * (devops.h) for cuda, or for auto when a GPU is usable. Another word is
 * a usage error; cuda without a usable GPU returns -1 after error().
 * Unlisted: "host", the device runner on host memory (devops_host), with
 * which the tests drive the tools' device path without a GPU. */
int cli_device(const char *s, const struct devops **ops);

/* A copy of argv's pointers taken before getopt_long permutes argv, so
 * provenance records the command as typed. Free with free(). */
char **cli_command(int argc, char **argv);

#endif
