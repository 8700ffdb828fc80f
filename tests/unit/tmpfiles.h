/* Helpers for unit tests that build small files: a scratch folder per test
 * binary, file writing, and capture of stderr so a test can check the
 * one-line error message. Static inline: each test binary gets its own. */
#ifndef PCQ_TEST_TMPFILES_H
#define PCQ_TEST_TMPFILES_H

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h must be included before this header. */

/* The scratch folder, made by tmp_setup and removed by tmp_teardown. */
static char tmp_root[64];

static inline int tmp_setup(void **state)
{
	(void)state;
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/pcq-test-XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
}

static inline int tmp_rm(const char *path, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int tmp_teardown(void **state)
{
	(void)state;
	return nftw(tmp_root, tmp_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp_root/<printf(fmt, ...)> into buf[4096]; returns buf. */
static inline char *tmp_path(char *buf, const char *fmt, ...)
{
	va_list ap;
	int len = snprintf(buf, 4096, "%s/", tmp_root);
	va_start(ap, fmt);
	vsnprintf(buf + len, 4096 - (size_t)len, fmt, ap);
	va_end(ap);
	return buf;
}

/* mkdir -p */
static inline void tmp_mkdirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static inline void tmp_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* stderr capture: between capture_begin and capture_end, stderr goes to a
 * file; capture_end returns what was written (malloc'd). */
struct capture {
	int saved_fd;
	char path[4096];
};

static inline void capture_begin(struct capture *c)
{
	fflush(stderr);
	tmp_path(c->path, "stderr.txt");
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	c->saved_fd = dup(2);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(fd, 2) >= 0);
	close(fd);
}

static inline char *capture_end(struct capture *c)
{
	fflush(stderr);
	assert_true(dup2(c->saved_fd, 2) >= 0);
	close(c->saved_fd);
	FILE *f = fopen(c->path, "rb");
	assert_non_null(f);
	char *text = calloc(1, 65536);
	assert_non_null(text);
	size_t got = fread(text, 1, 65535, f);
	text[got] = '\0';
	fclose(f);
	remove(c->path);
	return text;
}

/* Checks that msg is one line containing needle, and needle2 unless NULL. */
static inline void check_message(const char *msg, const char *needle,
				 const char *needle2)
{
	const char *nl = strchr(msg, '\n');
	if (!nl || nl[1] != '\0')
		fail_msg("not one line: '%s'", msg);
	if (!strstr(msg, needle))
		fail_msg("message '%s' lacks '%s'", msg, needle);
	if (needle2 && !strstr(msg, needle2))
		fail_msg("message '%s' lacks '%s'", msg, needle2);
}

/* Runs `call`, which must return -1 and print exactly one line that
 * contains `needle` (and `needle2`, unless it is NULL). The message is
 * echoed to stderr so a failing run shows it. */
#define assert_error(call, needle, needle2) do {                             \
	struct capture cap_;                                                 \
	capture_begin(&cap_);                                                \
	int ret_ = (call);                                                   \
	char *msg_ = capture_end(&cap_);                                     \
	fprintf(stderr, "  (expected) %s", msg_);                            \
	assert_int_equal(ret_, -1);                                          \
	check_message(msg_, (needle), (needle2));                            \
	free(msg_);                                                          \
} while (0)

#endif
