/* The summary views behind pcq-info: a PCQ file of any kind, or a data
 * set, as text for people or as one JSON object a line for scripts. */
#ifndef PCQ_SUMMARY_H
#define PCQ_SUMMARY_H

#include "dataset.h"
#include "pcqfile.h"

#include <stddef.h>
#include <stdio.h>

struct summary_options {
	int json;          /* one JSON object per file on stdout */
	int all_tensors;   /* list tensors even when a graph groups them */
};

int summarise_file(const char *path, const struct summary_options *o);
/* The same view of a file already read (digest: its sha256 in hex). */
void summary_print(FILE *fp, const char *path, const char *digest, const struct pcqfile *f,
		   const struct summary_options *o);

/* splits[s] selects which splits to read; save, when not NULL, writes them
 * as one dataset file. argc/argv go into its provenance. */
int summarise_dataset(const char *spec, const int splits[SPLIT_COUNT],
		      size_t limit, int threads, const char *save, int argc,
		      char **argv, const struct summary_options *o);

#endif
