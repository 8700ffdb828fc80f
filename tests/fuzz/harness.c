/* See harness.h. */
#include "harness.h"

#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *fuzz_failure(int rc)
{
	switch (rc) {
	case FUZZ_MISMATCH: return "the integer engine and the device disagree";
	case FUZZ_MESSAGES: return "a step refused its input without exactly one message";
	case FUZZ_ROUND_TRIP: return "packed again, the file did not give the same bytes";
	case FUZZ_INVALID: return "accepted, but what the reader returned is not valid";
	}
	return "no failure";
}

static unsigned long errors_before;

void fuzz_step(void)
{
	errors_before = error_count();
}

int fuzz_said(int rc)
{
	unsigned long lines = error_count() - errors_before;
	return rc ? lines == 1 : lines == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct corpus_input *)a)->name,
		      ((const struct corpus_input *)b)->name);
}

/* Reads path into in; 0 or -1. */
static int read_input(struct corpus_input *in, const char *path)
{
	FILE *fp = fopen(path, "rb");
	long len = fp && fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
	in->size = len > 0 ? (size_t)len : 0;
	in->data = malloc(in->size ? in->size : 1);
	int ok = in->data && len >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
		 fread(in->data, 1, in->size, fp) == in->size;
	if (fp)
		fclose(fp);
	return ok ? 0 : -1;
}

int corpus_load(const char *dir, struct corpus_input **inputs, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: cannot open (run from the repository root)\n", dir);
		return -1;
	}
	*inputs = NULL;
	*n = 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct corpus_input *grown = realloc(*inputs, (*n + 1) * sizeof(**inputs));
		if (!grown) {
			rc = -1;
			break;
		}
		*inputs = grown;
		struct corpus_input *in = &grown[(*n)++];
		snprintf(in->name, sizeof(in->name), "%s", e->d_name);
		if (read_input(in, path) < 0) {
			fprintf(stderr, "%s: cannot read\n", path);
			rc = -1;
		}
	}
	closedir(d);
	if (rc == 0)
		qsort(*inputs, *n, sizeof(**inputs), by_name);
	return rc;
}

void corpus_free(struct corpus_input *inputs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(inputs[i].data);
	free(inputs);
}

int corpus_is(const struct corpus_input *in, const char *prefix)
{
	return strncmp(in->name, prefix, strlen(prefix)) == 0;
}

static int saved_stderr = -1;

void corpus_quiet(int on)
{
	if (getenv("PCQ_FUZZ_VERBOSE"))
		return;
	fflush(stderr);
	if (on) {
		saved_stderr = dup(2);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		close(null);
	} else {
		dup2(saved_stderr, 2);
		close(saved_stderr);
	}
}
