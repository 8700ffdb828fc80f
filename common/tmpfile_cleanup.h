/* Temporary files removed when a signal ends the process: an interrupted
 * tool (Ctrl-C, `make` stopped, a job killed with SIGTERM or its terminal
 * closed) leaves no "PATH.tmp.XXXXXX" beside its outputs (fileio.h).
 * SIGINT, SIGTERM and SIGHUP get a handler that unlinks every tracked
 * file and then dies of the same signal, so the exit status still says
 * which one; a signal the process ignores (nohup's SIGHUP) stays ignored. */
#ifndef PCQ_TMPFILE_CLEANUP_H
#define PCQ_TMPFILE_CLEANUP_H

/* Tracks path until tmpfile_untrack(slot); returns the slot, or -1 when
 * every slot is taken or the path is too long (then it is not removed on
 * a signal, the only loss). Installs the handlers on first use. */
int tmpfile_track(const char *path);
/* Stops tracking (after the file is renamed into place or removed);
 * slot -1 does nothing. */
void tmpfile_untrack(int slot);

#endif
