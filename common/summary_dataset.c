/* pcq-info's view of a data set: per split the image count and shape, the
 * classes with their counts, per-channel pixel mean and standard deviation,
 * the content digest and the time it took to read; optionally saved as a
 * dataset file. */
#include "summary.h"

#include "check.h"
#include "dataset_file.h"
#include "json.h"
#include "model_data.h"
#include "normalize.h"
#include "pcqfile.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_split(FILE *fp, const struct dataset *ds, double secs,
			const char *digest, const struct summary_options *o, int first)
{
	double mean[4] = {0}, std[4] = {0};
	size_t *hist = xcalloc((size_t)ds->classes, sizeof(*hist));
	dataset_label_histogram(ds, hist);
	int stats = ds->c <= 4;
	if (stats)
		dataset_channel_stats(ds, mean, std);

	if (o->json) {
		fprintf(fp, "%s{\"split\":\"%s\",\"n\":%zu,\"shape\":[%d,%d,%d],\"classes\":%d,"
			"\"class_names\":[", first ? "" : ",", split_name(ds->split), ds->n,
			ds->c, ds->h, ds->w, ds->classes);
		for (int k = 0; k < ds->classes; k++) {
			if (k)
				fputc(',', fp);
			json_string(fp, ds->class_names[k]);
		}
		fputs("],\"histogram\":[", fp);
		for (int k = 0; k < ds->classes; k++)
			fprintf(fp, "%s%zu", k ? "," : "", hist[k]);
		fputs("],\"mean\":[", fp);
		for (int c = 0; stats && c < ds->c; c++) {
			if (c)
				fputc(',', fp);
			json_number(fp, mean[c]);
		}
		fputs("],\"std\":[", fp);
		for (int c = 0; stats && c < ds->c; c++) {
			if (c)
				fputc(',', fp);
			json_number(fp, std[c]);
		}
		fprintf(fp, "],\"sha256\":\"%s\",\"seconds\":", digest);
		json_number(fp, secs);
		fputc('}', fp);
	} else {
		fprintf(fp, "%-6s %zu images %dx%dx%d, %d classes, read in %.2f s\n",
		       split_name(ds->split), ds->n, ds->c, ds->h, ds->w, ds->classes, secs);
		fprintf(fp, "       sha256 of images and labels %s\n", digest);
		if (stats) {
			fprintf(fp, "       pixel/255 mean");
			for (int c = 0; c < ds->c; c++)
				fprintf(fp, " %.4f", mean[c]);
			fprintf(fp, ", std");
			for (int c = 0; c < ds->c; c++)
				fprintf(fp, " %.4f", std[c]);
			fprintf(fp, " (per channel)\n");
		}
		for (int k = 0; k < ds->classes; k++)
			fprintf(fp, "       %4d %-24s %8zu\n", k, ds->class_names[k], hist[k]);
	}
	free(hist);
}

int summarise_dataset(const char *spec, const int splits[SPLIT_COUNT],
		      size_t limit, int threads, const char *save, int argc,
		      char **argv, const struct summary_options *o)
{
	struct pcqfile out = {.kind = KIND_DATASET};
	int rc = 0, first = 1;
	/* With --save - the data set goes to stdout, so the summary may not. */
	FILE *fp = save && strcmp(save, "-") == 0 ? stderr : stdout;
	if (save)
		provenance_init(&out.prov, argc, argv);
	if (o->json) {
		fputs("{\"data\":", fp);
		json_string(fp, spec);
		fputs(",\"splits\":[", fp);
	} else {
		fprintf(fp, "data   %s\n", spec);
	}
	for (int s = 0; s < SPLIT_COUNT && rc == 0; s++) {
		if (!splits[s])
			continue;
		struct dataset ds;
		char digest[65];
		double t0 = progress_now();
		if (dataset_load(&ds, spec, (enum split)s, limit, threads)) {
			rc = -1;
			break;
		}
		double secs = progress_now() - t0;
		dataset_digest(&ds, digest);
		print_split(fp, &ds, secs, digest, o, first);
		first = 0;
		if (save) {
			dataset_file_add_split(&out, &ds);
			provenance_add_dataset(&out.prov, spec, &ds);
		}
		dataset_free(&ds);
	}
	if (o->json)
		fputs("]}\n", fp);
	fflush(fp);
	if (rc == 0 && save)
		rc = pcqfile_write(&out, save);
	pcqfile_free(&out);
	return rc;
}
