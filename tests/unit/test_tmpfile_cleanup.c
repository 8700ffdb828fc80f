/* An output being written when a signal ends the process leaves neither a
 * temporary file nor a changed PATH (fileio.h, tmpfile_cleanup.h): a
 * forked child opens outputs, writes, and is ended by a signal; the
 * parent checks how it died and what the folder holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "tmpfiles.h"

/* Files in dir whose names hold ".tmp.". */
static int temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void assert_file_holds(const char *path, const char *text)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

enum when { MID_WRITE, AFTER_COMMIT };

/* A child writes two outputs, a (over an old a) and b, and raises sig:
 * mid-write (both open) or after committing a (b still open). Returns
 * how the child ended: the signal, or 100 + its exit status. */
static int child_ends(const char *dir, int sig, enum when when, int ignore)
{
	char a[4096], b[4096];
	snprintf(a, sizeof(a), "%s/a.msgpack", dir);
	snprintf(b, sizeof(b), "%s/b.msgpack", dir);
	write_text(a, "old");
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (ignore)
			signal(sig, SIG_IGN);
		struct outfile oa, ob;
		if (outfile_open(&oa, a) || outfile_open(&ob, b))
			_exit(90);
		fputs("new", oa.fp);
		fputs("half", ob.fp);
		if (when == AFTER_COMMIT && outfile_commit(&oa))
			_exit(91);
		raise(sig);
		/* only if the signal is ignored */
		if (when == MID_WRITE && outfile_commit(&oa))
			_exit(92);
		_exit(outfile_commit(&ob) ? 93 : 0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 100 + WEXITSTATUS(status);
}

static void test_signals_remove_temporaries(void **state)
{
	(void)state;
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		char dir[4096], b[4096];
		tmp_path(dir, "mid-%d", sigs[i]);
		tmp_mkdirs(dir);
		/* the child dies of the signal itself: its status says which */
		assert_int_equal(child_ends(dir, sigs[i], MID_WRITE, 0), sigs[i]);
		assert_int_equal(temporaries(dir), 0);
		tmp_path(dir, "mid-%d/a.msgpack", sigs[i]);
		assert_file_holds(dir, "old");
		tmp_path(b, "mid-%d/b.msgpack", sigs[i]);
		assert_int_equal(access(b, F_OK), -1);
	}
}

static void test_committed_file_stays(void **state)
{
	(void)state;
	char dir[4096], a[4096];
	tmp_mkdirs(tmp_path(dir, "after"));
	assert_int_equal(child_ends(dir, SIGTERM, AFTER_COMMIT, 0), SIGTERM);
	assert_int_equal(temporaries(dir), 0);
	assert_file_holds(tmp_path(a, "after/a.msgpack"), "new");
}

/* nohup's SIGHUP stays ignored: the child goes on and writes both. */
static void test_ignored_signal_stays_ignored(void **state)
{
	(void)state;
	char dir[4096], path[4096];
	tmp_mkdirs(tmp_path(dir, "ignored"));
	assert_int_equal(child_ends(dir, SIGHUP, MID_WRITE, 1), 100);
	assert_int_equal(temporaries(dir), 0);
	assert_file_holds(tmp_path(path, "ignored/a.msgpack"), "new");
	assert_file_holds(tmp_path(path, "ignored/b.msgpack"), "half");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals_remove_temporaries),
		cmocka_unit_test(test_committed_file_stays),
		cmocka_unit_test(test_ignored_signal_stays_ignored),
	};
	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
