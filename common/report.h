/* How pcq-infer reports an evaluation: top-1 and top-5 accuracy, per-class
 * accuracy and the confusion matrix as text, one JSON object with --json,
 * and a "predictions" file (docs/FORMAT.md §predictions) per image. */
#ifndef PCQ_REPORT_H
#define PCQ_REPORT_H

#include "dataset.h"
#include "evaluate.h"
#include "pcqfile.h"

#include <stdio.h>

struct report_info {
	const char *model;       /* the model file as given */
	const char *model_sha256;
	const char *data;        /* KIND:PATH */
	const char *mode;        /* "fp32", ... */
	const char *device;      /* where the model ran: "cpu", "cuda", ... */
	double seconds;          /* wall time of the evaluation */
	double engine_seconds;   /* integer models: time in the integer engine, or 0 */
	const uint8_t *outputs;  /* integer models: (n, classes) output integers, or NULL */
	const uint8_t *inputs;   /* integer models: (n, C, H, W) quantized inputs, or NULL */
};

void report_text(FILE *fp, const struct report_info *info, const struct dataset *ds,
		 const struct eval_result *r);
void report_json(FILE *fp, const struct report_info *info, const struct dataset *ds,
		 const struct eval_result *r);
/* Writes the predictions file atomically (argc/argv for its provenance). */
int report_predictions(const char *path, const struct report_info *info,
		       const struct dataset *ds, const struct eval_result *r,
		       int argc, char **argv);

#endif
