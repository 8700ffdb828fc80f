/* Error reporting and checked wrappers; see check.h. */
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "pcq";

void set_program_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
}

const char *program_name(void)
{
	return prog;
}

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", prog, prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static _Atomic unsigned long errors;   /* error() may run on several threads */

unsigned long error_count(void)
{
	return errors;
}

int error(const char *fmt, ...)
{
	errors++;
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
	return -1;
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
	exit(1);
}

void check_failed(const char *cond, const char *file, int line)
{
	fprintf(stderr, "%s: internal error: CHECK(%s) failed at %s:%d\n",
		prog, cond, file, line);
	abort();
}

static void *nonnull(void *p, size_t size, const char *what,
		     const char *file, int line)
{
	if (!p && size)
		die("out of memory: %s(%zu) at %s:%d", what, size, file, line);
	return p;
}

void *xmalloc_at(size_t size, const char *file, int line)
{
	return nonnull(malloc(size ? size : 1), size, "malloc", file, line);
}

void *xcalloc_at(size_t n, size_t size, const char *file, int line)
{
	return nonnull(calloc(n ? n : 1, size ? size : 1), n * size, "calloc",
		       file, line);
}

void *xrealloc_at(void *p, size_t size, const char *file, int line)
{
	return nonnull(realloc(p, size ? size : 1), size, "realloc", file, line);
}

char *xstrdup_at(const char *s, const char *file, int line)
{
	return nonnull(strdup(s), strlen(s) + 1, "strdup", file, line);
}

int size_mul(size_t a, size_t b, size_t *out)
{
	if (a && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}
