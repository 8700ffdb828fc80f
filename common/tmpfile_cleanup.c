/* See tmpfile_cleanup.h. The handler may run at any moment, in any
 * thread, so the table is fixed-size and a slot's path is complete before
 * its flag is set; the handler calls only unlink, signal and raise, which
 * are async-signal-safe. */
#include "tmpfile_cleanup.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 8 /* a tool writes one or two outputs at a time */

/* A slot is FREE, TAKEN (its path being written; the handler skips it) or
 * READY (the handler removes paths[i]). */
enum { FREE, TAKEN, READY };
static char paths[SLOTS][PATH_MAX];
static atomic_int used[SLOTS];
static atomic_flag installed = ATOMIC_FLAG_INIT;

static void remove_and_die(int sig)
{
	for (int i = 0; i < SLOTS; i++)
		if (atomic_load(&used[i]) == READY)
			unlink(paths[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old, sa;
		if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = remove_and_die;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

int tmpfile_track(const char *path)
{
	if (!atomic_flag_test_and_set(&installed))
		install();
	size_t len = strlen(path);
	if (len >= PATH_MAX)
		return -1;
	for (int i = 0; i < SLOTS; i++) {
		int expected = FREE;
		if (atomic_compare_exchange_strong(&used[i], &expected, TAKEN)) {
			memcpy(paths[i], path, len + 1);
			atomic_store(&used[i], READY);
			return i;
		}
	}
	return -1;
}

void tmpfile_untrack(int slot)
{
	if (slot >= 0)
		atomic_store(&used[slot], FREE);
}
