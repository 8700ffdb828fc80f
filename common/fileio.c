/* Whole-file reads and atomic writes; see fileio.h. */
#include "fileio.h"

#include "check.h"
#include "tmpfile_cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *display_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "stdin" : path;
}

int read_whole_file(const char *path, uint8_t **data, size_t *len)
{
	int is_stdin = strcmp(path, "-") == 0;
	FILE *fp = is_stdin ? stdin : fopen(path, "rb");
	if (!fp)
		return error("'%s': cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		return error("'%s': is a directory, expected a file", path);
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(fp);
	int saved = errno;
	if (!is_stdin)
		fclose(fp);
	if (bad) {
		free(buf);
		return error("'%s': read failed: %s", display_name(path),
			     strerror(saved));
	}
	*data = buf;
	*len = n;
	return 0;
}

int outfile_open(struct outfile *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->tmp_slot = -1;
	o->path = xstrdup(path);
	if (strcmp(path, "-") == 0) {
		o->fp = stdout;
		return 0;
	}
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			free(o->path);
			return error("'%s': is a directory, expected a file name", path);
		}
		o->fp = fopen(path, "wb");
		if (!o->fp) {
			int e = errno;
			free(o->path);
			return error("'%s': cannot open for writing: %s", path, strerror(e));
		}
		return 0;
	}
	size_t len = strlen(path);
	o->tmp = xmalloc(len + sizeof(".tmp.XXXXXX"));
	memcpy(o->tmp, path, len);
	memcpy(o->tmp + len, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	int fd = mkstemp(o->tmp);
	if (fd < 0) {
		int e = errno;
		free(o->tmp);
		free(o->path);
		return error("'%s': cannot create a temporary file beside it: %s",
			     path, strerror(e));
	}
	o->tmp_slot = tmpfile_track(o->tmp);
	/* mkstemp makes 0600; give the file the mode a plain creat would. */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || !(o->fp = fdopen(fd, "wb"))) {
		int e = errno;
		close(fd);
		unlink(o->tmp);
		tmpfile_untrack(o->tmp_slot);
		free(o->tmp);
		free(o->path);
		return error("'%s': cannot set up the temporary file: %s", path,
			     strerror(e));
	}
	return 0;
}

static void outfile_release(struct outfile *o)
{
	tmpfile_untrack(o->tmp_slot);
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	o->tmp_slot = -1;
}

int outfile_commit(struct outfile *o)
{
	int e = 0;
	if (fflush(o->fp) != 0 || ferror(o->fp))
		e = errno ? errno : EIO;
	if (!e && o->tmp && fsync(fileno(o->fp)) != 0)
		e = errno;
	if (o->fp == stdout) {
		if (e) {
			error("'%s': write failed: %s", "stdout", strerror(e));
			outfile_release(o);
			return -1;
		}
		outfile_release(o);
		return 0;
	}
	if (fclose(o->fp) != 0 && !e)
		e = errno;
	o->fp = NULL;
	if (!e && o->tmp && rename(o->tmp, o->path) != 0)
		e = errno;
	if (e) {
		if (o->tmp)
			unlink(o->tmp);
		error("'%s': write failed: %s%s", o->path, strerror(e),
		      o->tmp ? " (the previous file, if any, is left as it was)" : "");
		outfile_release(o);
		return -1;
	}
	outfile_release(o);
	return 0;
}

void outfile_abort(struct outfile *o)
{
	if (o->fp && o->fp != stdout)
		fclose(o->fp);
	if (o->tmp)
		unlink(o->tmp);
	outfile_release(o);
}

int outfile_check(const char *path)
{
	struct stat st;
	if (strcmp(path, "-") == 0 ||
	    (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
		return 0;
	struct outfile o;
	if (outfile_open(&o, path) < 0)
		return -1;
	outfile_abort(&o);
	return 0;
}

int appendable_check(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return error("'%s': is a directory, expected a file name", path);
		if (access(path, W_OK) != 0)
			return error("'%s': cannot append: %s", path, strerror(errno));
		return 0;
	}
	/* a new file: its folder must exist and take it */
	const char *slash = strrchr(path, '/');
	char *dir = xstrdup(slash ? path : ".");
	if (slash)
		dir[slash - path + 1] = '\0';
	int rc = 0;
	if (access(dir, W_OK | X_OK) != 0)
		rc = error("'%s': cannot create: %s", path, strerror(errno));
	free(dir);
	return rc;
}
