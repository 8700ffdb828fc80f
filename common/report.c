/* Evaluation reports; see report.h. */
#include "report.h"

#include "check.h"
#include "json.h"
#include "model_data.h"

#include <stdlib.h>

static double pct(size_t a, size_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

static size_t row_total(const struct eval_result *r, int k)
{
	size_t t = 0;
	for (int j = 0; j < r->classes; j++)
		t += r->confusion[(size_t)k * r->classes + j];
	return t;
}

void report_text(FILE *fp, const struct report_info *info, const struct dataset *ds,
		 const struct eval_result *r)
{
	fprintf(fp, "model   %s (%s)\n", info->model, info->mode);
	fprintf(fp, "data    %s, %s split, %zu images\n", info->data, split_name(ds->split), r->n);
	fprintf(fp, "device  %s\n", info->device);
	fprintf(fp, "top-1   %.2f%%  (%zu/%zu)\n", pct(r->top1, r->n), r->top1, r->n);
	fprintf(fp, "top-5   %.2f%%  (%zu/%zu)\n", pct(r->top5, r->n), r->top5, r->n);
	fprintf(fp, "loss    %.4f\n", r->loss);
	fprintf(fp, "time    %.2f s, %.0f images/s\n", info->seconds,
		info->seconds > 0 ? r->n / info->seconds : 0);
	if (info->engine_seconds > 0)
		fprintf(fp, "engine  %.2f s quantizing inputs and in integer arithmetic, %.0f images/s\n",
			info->engine_seconds, r->n / info->engine_seconds);
	fprintf(fp, "\nper class              images   top-1\n");
	for (int k = 0; k < r->classes; k++) {
		size_t t = row_total(r, k);
		fprintf(fp, "  %3d %-18.18s %6zu  %6.2f%%\n", k, ds->class_names[k], t,
			pct(r->confusion[(size_t)k * r->classes + k], t));
	}
	if (r->cluster) {
		fprintf(fp, "\nper cluster            images   top-1\n");
		for (int k = 0; k < r->clusters; k++)
			fprintf(fp, "  %3d %18s %6zu  %6.2f%%\n", k, "", r->cluster_n[k],
				pct(r->cluster_top1[k], r->cluster_n[k]));
	}
	if (r->classes > 20)
		return;  /* a 100-column matrix helps nobody on a terminal */
	fprintf(fp, "\nconfusion (rows: true class, columns: predicted)\n     ");
	for (int j = 0; j < r->classes; j++)
		fprintf(fp, " %5d", j);
	fputc('\n', fp);
	for (int k = 0; k < r->classes; k++) {
		fprintf(fp, "  %3d", k);
		for (int j = 0; j < r->classes; j++)
			fprintf(fp, " %5zu", r->confusion[(size_t)k * r->classes + j]);
		fputc('\n', fp);
	}
}

void report_json(FILE *fp, const struct report_info *info, const struct dataset *ds,
		 const struct eval_result *r)
{
	fputs("{\"model\":", fp);
	json_string(fp, info->model);
	fprintf(fp, ",\"model_sha256\":\"%s\",\"mode\":\"%s\",\"device\":\"%s\",\"data\":",
		info->model_sha256, info->mode, info->device);
	json_string(fp, info->data);
	fprintf(fp, ",\"split\":\"%s\",\"n\":%zu,\"top1\":", split_name(ds->split), r->n);
	json_number(fp, pct(r->top1, r->n));
	fputs(",\"top5\":", fp);
	json_number(fp, pct(r->top5, r->n));
	fputs(",\"loss\":", fp);
	json_number(fp, r->loss);
	fputs(",\"seconds\":", fp);
	json_number(fp, info->seconds);
	if (info->engine_seconds > 0) {
		fputs(",\"engine_seconds\":", fp);
		json_number(fp, info->engine_seconds);
	}
	fputs(",\"per_class\":[", fp);
	for (int k = 0; k < r->classes; k++) {
		size_t t = row_total(r, k);
		fputs(k ? ",{\"class\":" : "{\"class\":", fp);
		json_string(fp, ds->class_names[k]);
		fprintf(fp, ",\"n\":%zu,\"top1\":", t);
		json_number(fp, pct(r->confusion[(size_t)k * r->classes + k], t));
		fputc('}', fp);
	}
	fputs("]", fp);
	if (r->cluster) {
		fputs(",\"per_cluster\":[", fp);
		for (int k = 0; k < r->clusters; k++) {
			fprintf(fp, "%s{\"cluster\":%d,\"n\":%zu,\"top1\":", k ? "," : "", k,
				r->cluster_n[k]);
			json_number(fp, pct(r->cluster_top1[k], r->cluster_n[k]));
			fputc('}', fp);
		}
		fputs("]", fp);
	}
	fputs(",\"confusion\":[", fp);
	for (int k = 0; k < r->classes; k++) {
		fputs(k ? ",[" : "[", fp);
		for (int j = 0; j < r->classes; j++)
			fprintf(fp, "%s%zu", j ? "," : "", r->confusion[(size_t)k * r->classes + j]);
		fputc(']', fp);
	}
	fputs("]}\n", fp);
}

int report_predictions(const char *path, const struct report_info *info,
		       const struct dataset *ds, const struct eval_result *r,
		       int argc, char **argv)
{
	struct pcqfile f = {.kind = KIND_PREDICTIONS};
	provenance_init(&f.prov, argc, argv);
	provenance_add_input(&f.prov, info->model, info->model_sha256);
	provenance_add_dataset(&f.prov, info->data, ds);
	attrs_set_string(&f.attrs, "mode", info->mode);
	attrs_set_string(&f.attrs, "data", info->data);
	attrs_set_string(&f.attrs, "split", split_name(ds->split));
	attrs_set_strings(&f.attrs, "class_names", ds->class_names, (size_t)ds->classes);
	int64_t n[1] = {(int64_t)r->n}, nk[2] = {(int64_t)r->n, r->classes};
	pcqfile_add_tensor(&f, "labels", DTYPE_I32, 1, n, ds->labels);
	pcqfile_add_tensor(&f, "predicted", DTYPE_I32, 1, n, r->predicted);
	if (r->scores)
		pcqfile_add_tensor(&f, "scores", DTYPE_F32, 2, nk, r->scores);
	if (r->cluster)
		pcqfile_add_tensor(&f, "cluster", DTYPE_I32, 1, n, r->cluster);
	if (info->outputs)
		pcqfile_add_tensor(&f, "output", DTYPE_U8, 2, nk, info->outputs);
	if (info->inputs) {
		int64_t shape[4] = {(int64_t)r->n, ds->c, ds->h, ds->w};
		pcqfile_add_tensor(&f, "quantized_input", DTYPE_U8, 4, shape, info->inputs);
	}
	int rc = pcqfile_write(&f, path);
	pcqfile_free(&f);
	return rc;
}
