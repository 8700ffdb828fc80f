/* Test helper: re-runs the current test binary with one more environment
 * variable, for code that reads its environment once (PCQ_IGEMM,
 * ONEDNN_MAX_CPU_ISA, PCQ_ICONV, ...). Include after <cmocka.h>. */
#ifndef PCQ_TEST_CHILD_H
#define PCQ_TEST_CHILD_H

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* Runs /proc/self/exe CHILD_MODE with VAR=VALUE set (replacing any VAR);
 * returns its exit status, or 128 + the signal that ended it. */
static inline int run_child(const char *child_mode, const char *var, const char *value)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(char *));
	char setting[128];
	assert_non_null(env);
	snprintf(setting, sizeof(setting), "%s=%s", var, value);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], var, strlen(var)) || environ[i][strlen(var)] != '=')
			env[k++] = environ[i];
	env[k++] = setting;
	env[k] = NULL;
	char *argv[] = {"test-child", (char *)child_mode, NULL};
	pid_t pid;
	fflush(stdout);
	fflush(stderr);
	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, env), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(env);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
