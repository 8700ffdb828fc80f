/* Error reporting and checked wrappers for calls that can fail.
 *
 * Two kinds of failure (STYLE.md 11):
 *   - bad input (arguments, files, data): error() prints one line
 *     "tool: message" to stderr and returns -1, so callers write
 *     `return error("...")`; main turns -1 into exit status 1.
 *   - a broken internal invariant: CHECK(cond) prints file:line and aborts.
 * The x* wrappers are for resources whose failure is not the user's fault
 * (out of memory): they die with the failing call and where it was. */
#ifndef PCQ_CHECK_H
#define PCQ_CHECK_H

#include <stddef.h>
#include <stdio.h>

#define PCQ_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* The tool name that prefixes every message; set once from main. */
void set_program_name(const char *argv0);
const char *program_name(void);

int error(const char *fmt, ...) PCQ_PRINTF(1, 2);
/* How many error() lines this process has printed: a failed step must
 * print exactly one (the fuzz target checks it). */
unsigned long error_count(void);
void warn(const char *fmt, ...) PCQ_PRINTF(1, 2);
_Noreturn void die(const char *fmt, ...) PCQ_PRINTF(1, 2);

_Noreturn void check_failed(const char *cond, const char *file, int line);
#define CHECK(cond) \
	((cond) ? (void)0 : check_failed(#cond, __FILE__, __LINE__))

void *xmalloc_at(size_t size, const char *file, int line);
void *xcalloc_at(size_t n, size_t size, const char *file, int line);
void *xrealloc_at(void *p, size_t size, const char *file, int line);
char *xstrdup_at(const char *s, const char *file, int line);
#define xmalloc(size) xmalloc_at((size), __FILE__, __LINE__)
#define xcalloc(n, size) xcalloc_at((n), (size), __FILE__, __LINE__)
#define xrealloc(p, size) xrealloc_at((p), (size), __FILE__, __LINE__)
#define xstrdup(s) xstrdup_at((s), __FILE__, __LINE__)

/* Multiplies sizes, returning -1 on overflow (for sizes read from files). */
int size_mul(size_t a, size_t b, size_t *out);

#endif
