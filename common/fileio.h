/* Whole-file reads and atomic writes, with "-" for stdin and stdout.
 *
 * An output is written to "PATH.tmp.XXXXXX" in the same folder, flushed,
 * fsync'ed and renamed over PATH only when every byte was written, so a
 * failed or interrupted write never leaves a half-written PATH and keeps the
 * previous PATH intact; a process ended by SIGINT, SIGTERM or SIGHUP
 * removes its temporary files (tmpfile_cleanup.h). "-" writes to stdout;
 * an existing path that is not a regular file (a device such as /dev/full,
 * a FIFO) is written in place. */
#ifndef PCQ_FILEIO_H
#define PCQ_FILEIO_H

#include <stdint.h>
#include <stdio.h>

/* Reads all of PATH ("-" for stdin) into a malloc'd buffer. */
int read_whole_file(const char *path, uint8_t **data, size_t *len);

struct outfile {
	FILE *fp;       /* write here between open and commit */
	char *path;     /* the final path, or "-" */
	char *tmp;      /* the temporary path, NULL when writing in place */
	int tmp_slot;   /* tmp's tmpfile_track slot: removed if a signal ends us */
};

int outfile_open(struct outfile *o, const char *path);
/* Flushes, syncs, closes and renames into place. On failure the temporary
 * file is removed, an error naming PATH is printed and -1 returned. */
int outfile_commit(struct outfile *o);
/* Closes and removes the temporary file (after an error while writing). */
void outfile_abort(struct outfile *o);

/* Whether an output could be written at path, checked before the work
 * that makes it (a typo in -o must not cost a training epoch): a
 * temporary file is made beside it and removed, as outfile_open would.
 * "-" and existing non-regular files (devices, FIFOs) pass unchecked.
 * 0, or -1 after outfile_open's error line. */
int outfile_check(const char *path);
/* The same for a file that is appended to (pcq-train --log), without
 * creating it: it is writable, or its folder is. 0, or -1 after an error
 * line. */
int appendable_check(const char *path);

/* "-" -> "stdin", otherwise the path itself: the name used in messages. */
const char *display_name(const char *path);

#endif
