/* pcq-kmeans: fits the k-means model that assigns input images to clusters
 * (SPEC §6), assigns the images of a data set to clusters, and exports
 * the features k-means sees (for a comparison with scikit-learn). */
#include "check.h"
#include "cli.h"
#include "dataset.h"
#include "fileio.h"
#include "json.h"
#include "kmeans.h"
#include "kmeans_features.h"
#include "model_data.h"
#include "normalize.h"
#include "pcqfile.h"
#include "progress.h"
#include "threads.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
	printf("Usage: pcq-kmeans fit --data KIND:PATH -o FILE [options]\n"
	       "       pcq-kmeans assign KMEANS --data KIND:PATH [--split S] [--json] [-o FILE]\n"
	       "       pcq-kmeans features --data KIND:PATH -o FILE [options]\n"
	       "fit: mini-batch k-means (SPEC §6) on the features of the train split's\n"
	       "normalised images: per channel, the (min, max) of each block of a grid of\n"
	       "2 rows x P/2 columns (docs/FORMAT.md, kmeans). Writes a kmeans file.\n"
	       "assign: cluster sizes, per-cluster class histograms and the inertia (sum of\n"
	       "squared distances to the nearest centre) of a split, without augmentation;\n"
	       "-o writes the cluster of every image (a tensors file, tensor 'cluster');\n"
	       "with -o - the report is not printed.\n"
	       "features: writes the features of a split's images (a tensors file, tensors\n"
	       "'features' and 'labels').\n"
	       "\n"
	       "  --data KIND:PATH   KIND is one of %s\n"
	       "  -o, --output FILE  the output file (- for stdout)\n"
	       "  --limit N          N evenly spaced images of the split (indices floor(i*n/N))\n"
	       "  --threads N        (default: $OMP_NUM_THREADS, else all cores)\n"
	       "fit and features:\n"
	       "  --partitions P     blocks per image, even (default 4)\n"
	       "  --norm NAME|FILE   input normalisation: %s,\n"
	       "                     or the one of a model FILE (fit k-means for that model)\n"
	       "                     (default: the data set's own constants)\n"
	       "fit:\n"
	       "  --clusters K       (default 10)\n"
	       "  --batch B          images per mini-batch (default 128)\n"
	       "  --epochs E         at most E passes over the shuffled train split (default 100)\n"
	       "  --tol T            stop when the Frobenius norm of the change of all centres\n"
	       "                     over one batch is <= T (default 1e-4)\n"
	       "  --seed S           initialisation, shuffling, augmentation (default 1)\n"
	       "  --no-augment       features of the plain images, not of randomly cropped and\n"
	       "                     flipped ones (SPEC §3)\n"
	       "  --refine N         full-batch Lloyd iterations at the end (default 0)\n"
	       "assign and features:\n"
	       "  --split S          train or test (default: test for assign, train for features)\n"
	       "assign:\n"
	       "  --json             print one JSON object (sizes, inertia, histograms, ...)\n"
	       "  --help, --version\n"
	       "fit prints one line per epoch on stderr; a starved centre is re-seeded (the\n"
	       "rule is in common/kmeans.h). The same command, thread count and\n"
	       "SOURCE_DATE_EPOCH give the same file bytes.\n",
	       dataset_kinds(), norm_names());
}

enum command { CMD_FIT, CMD_ASSIGN, CMD_FEATURES, CMD_COUNT };
static const char *const commands[CMD_COUNT] = {"fit", "assign", "features"};

/* Which commands take each option (bit per command). */
#define FIT (1 << CMD_FIT)
#define ASSIGN (1 << CMD_ASSIGN)
#define FEATURES (1 << CMD_FEATURES)

struct args {
	enum command cmd;
	const char *data, *out, *norm, *kmeans;
	int clusters, partitions, threads, json, augment, has_split;
	enum split split;
	size_t limit;
	struct kmeans_fit_options fit;
};

static void parse(struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"limit", required_argument, NULL, 'L'},
		{"threads", required_argument, NULL, 'T'},
		{"partitions", required_argument, NULL, 'p'},
		{"norm", required_argument, NULL, 'n'},
		{"clusters", required_argument, NULL, 'k'},
		{"batch", required_argument, NULL, 'b'},
		{"epochs", required_argument, NULL, 'e'},
		{"tol", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 'S'},
		{"no-augment", no_argument, NULL, 'A'},
		{"refine", required_argument, NULL, 'r'},
		{"split", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	/* The commands that take each option, indexed by its letter. */
	static int takes[128];
	takes['d'] = takes['L'] = takes['T'] = FIT | ASSIGN | FEATURES;
	takes['o'] = FIT | ASSIGN | FEATURES;
	takes['p'] = takes['n'] = FIT | FEATURES;
	takes['k'] = takes['b'] = takes['e'] = takes['t'] = takes['S'] = FIT;
	takes['A'] = takes['r'] = FIT;
	takes['s'] = ASSIGN | FEATURES;
	takes['j'] = ASSIGN;
	*a = (struct args){.clusters = 10, .partitions = 4, .augment = 1, .split = SPLIT_TRAIN,
			   .fit = {.batch = 128, .epochs = 100, .tol = 1e-4, .seed = 1,
				   .verbose = 1}};
	int c, li;
	const char *given[128] = {0};   /* the long name of each option given */
	opterr = 0;
	while ((li = -1, c = getopt_long(argc, argv, ":o:", opts, &li)) != -1) {
		if (c > 0 && c < 128 && takes[c])
			given[c] = li >= 0 ? opts[li].name : "output";
		switch (c) {
		case 'd': a->data = optarg; break;
		case 'o': a->out = optarg; break;
		case 'L': a->limit = (size_t)cli_int("--limit", optarg, 1, 1LL << 40); break;
		case 'T': a->threads = (int)cli_int("--threads", optarg, 1, 1024); break;
		case 'p':
			a->partitions = (int)cli_int("--partitions", optarg, 2, KMEANS_MAX_PARTITIONS);
			if (a->partitions % 2 != 0)
				usage_error("invalid value '%s' for --partitions: expected an even "
					    "number", optarg);
			break;
		case 'n': a->norm = optarg; break;
		case 'k': a->clusters = (int)cli_int("--clusters", optarg, 1, KMEANS_MAX_CLUSTERS); break;
		case 'b': a->fit.batch = (int)cli_int("--batch", optarg, 1, 65536); break;
		case 'e': a->fit.epochs = (int)cli_int("--epochs", optarg, 0, 1000000); break;
		case 't': a->fit.tol = cli_double("--tol", optarg, 0, 1e30); break;
		case 'S': a->fit.seed = (uint64_t)cli_int("--seed", optarg, 0, INT64_MAX); break;
		case 'A': a->augment = 0; break;
		case 'r': a->fit.refine = (int)cli_int("--refine", optarg, 0, 1000000); break;
		case 's':
			if (split_parse(optarg, &a->split))
				usage_error("invalid value '%s' for --split: expected train or test", optarg);
			a->has_split = 1;
			break;
		case 'j': a->json = 1; break;
		case 'h': usage(); exit(0);
		case 'V': printf("pcq-kmeans %s\n", PCQ_VERSION); exit(0);
		default: cli_bad_option(c, argv);
		}
	}
	if (optind == argc)
		usage_error("no command given: fit, assign or features");
	int cmd = 0;
	while (cmd < CMD_COUNT && strcmp(argv[optind], commands[cmd]) != 0)
		cmd++;
	if (cmd == CMD_COUNT)
		usage_error("unknown command '%s': expected fit, assign or features", argv[optind]);
	a->cmd = (enum command)cmd;
	for (int o = 0; o < 128; o++)
		if (given[o] && !(takes[o] & (1 << cmd)))
			usage_error("option '--%s' does not apply to '%s'", given[o], commands[cmd]);
	int rest = argc - optind - 1;
	if (cmd == CMD_ASSIGN) {
		if (rest != 1)
			usage_error(rest == 0 ? "no KMEANS file given" : "give one KMEANS file");
		a->kmeans = argv[optind + 1];
	} else if (rest > 0) {
		usage_error("unexpected argument '%s'", argv[optind + 1]);
	}
	if (!a->data)
		usage_error("--data KIND:PATH is required");
	if (!a->out && cmd != CMD_ASSIGN)
		usage_error("-o FILE is required");
	if (cmd == CMD_ASSIGN && !a->has_split)
		a->split = SPLIT_TEST;
}

/* The data must hold the grid: one line naming the data set otherwise. */
static int check_grid(const struct dataset *ds, int partitions)
{
	if (ds->h < 2 || ds->w < partitions / 2)
		return error("'%s': images are %dx%dx%d, smaller than the 2x%d grid of %d partitions",
			     ds->path, ds->c, ds->h, ds->w, partitions / 2, partitions);
	return 0;
}

/* Features and nearest centres of all of ds; returns the inertia. */
static double assign_all(const struct kmeans *m, const struct dataset *ds, int32_t *ids)
{
	float *feat = xmalloc((ds->n ? ds->n : 1) * (size_t)m->d * sizeof(float));
	CHECK(kmeans_dataset_features(feat, ds, NULL, ds->n, &m->norm, m->partitions) == 0);
	double inertia = kmeans_assign(m, feat, ds->n, ids, NULL);
	free(feat);
	return inertia;
}

/* --norm NAME, or --norm FILE: the normalisation a model (or any PCQ file
 * with norm_mean and norm_std) uses, so k-means sees the pixels it sees. */
static int choose_norm(struct norm *norm, const char *name, const struct dataset *ds)
{
	if (!name || access(name, F_OK) != 0)
		return norm_choose(norm, name, ds);
	struct pcqfile f;
	if (pcqfile_read(&f, name, KIND_ANY, NULL))
		return -1;
	int rc = norm_load(norm, &f.attrs, display_name(name), ds->c);
	pcqfile_free(&f);
	return rc;
}

static int run_fit(const struct args *a, int argc, char **argv)
{
	struct dataset train = {0};
	struct kmeans m = {0};
	struct pcqfile f = {0};
	struct norm norm;
	int32_t *ids = NULL;
	int rc = -1;
	if (dataset_load(&train, a->data, SPLIT_TRAIN, a->limit, a->threads) ||
	    check_grid(&train, a->partitions) || choose_norm(&norm, a->norm, &train))
		goto out;
	if (train.n == 0) {
		error("'%s': the train split is empty", a->data);
		goto out;
	}
	kmeans_init(&m, a->clusters, a->partitions, train.c, train.h, train.w, &norm);
	struct kmeans_data ctx = {.ds = &train, .norm = &norm, .partitions = a->partitions,
				  .augment = a->augment, .seed = a->fit.seed};
	struct kmeans_source src;
	struct kmeans_fit_result r;
	kmeans_data_source(&src, &ctx);
	double t0 = progress_now();
	kmeans_fit(&m, &src, &a->fit, &r);
	double seconds = progress_now() - t0;
	kmeans_data_free(&ctx);
	ids = xmalloc(train.n * sizeof(int32_t));
	double inertia = assign_all(&m, &train, ids);
	fprintf(stderr, "pcq-kmeans: %d clusters fitted in %.3f s: %d epochs, %zu batches, %s, "
		"%d re-seeded, %d Lloyd iterations; train inertia %.6g (%.6g per image)\n",
		m.k, seconds, r.epochs, r.batches, r.converged ? "converged" : "not converged",
		r.reseeded, r.refine_iters, inertia, inertia / (double)train.n);

	kmeans_store(&m, &f);
	attrs_set_string(&f.attrs, "data", a->data);
	attrs_set_int(&f.attrs, "batch", a->fit.batch);
	attrs_set_int(&f.attrs, "epochs", a->fit.epochs);
	attrs_set_float(&f.attrs, "tol", a->fit.tol);
	attrs_set_int(&f.attrs, "augment", a->augment);
	attrs_set_int(&f.attrs, "refine", a->fit.refine);
	attrs_set_int(&f.attrs, "epochs_done", r.epochs);
	attrs_set_int(&f.attrs, "batches_done", (int64_t)r.batches);
	attrs_set_int(&f.attrs, "converged", r.converged);
	attrs_set_float(&f.attrs, "train_inertia", inertia);
	provenance_init(&f.prov, argc, argv);
	provenance_add_dataset(&f.prov, a->data, &train);
	provenance_set_seed(&f.prov, (int64_t)a->fit.seed);
	rc = pcqfile_write(&f, a->out);
out:
	free(ids);
	pcqfile_free(&f);
	kmeans_free(&m);
	dataset_free(&train);
	return rc;
}

static void print_report(const struct args *a, const char *name, const struct kmeans *m,
			 const struct dataset *ds, const size_t *sizes, const size_t *hist,
			 double inertia)
{
	const size_t nc = (size_t)ds->classes;
	if (!a->json) {
		printf("kmeans '%s' on '%s' (%s split, %zu images): %d clusters\n", name, a->data,
		       split_name(ds->split), ds->n, m->k);
		printf("inertia %.6g (%.6g per image)\n", inertia,
		       ds->n ? inertia / (double)ds->n : 0.0);
		printf("cluster   images   share  images per class (label order)\n");
		for (int k = 0; k < m->k; k++) {
			printf("%7d %8zu %6.2f%% ", k, sizes[k],
			       ds->n ? 100.0 * (double)sizes[k] / (double)ds->n : 0.0);
			for (size_t c = 0; c < nc; c++)
				printf(" %zu", hist[(size_t)k * nc + c]);
			putchar('\n');
		}
		return;
	}
	printf("{\"kmeans\":");
	json_string(stdout, name);
	printf(",\"data\":");
	json_string(stdout, a->data);
	printf(",\"split\":\"%s\",\"n\":%zu,\"clusters\":%d,\"inertia\":", split_name(ds->split),
	       ds->n, m->k);
	json_number(stdout, inertia);
	printf(",\"sizes\":[");
	for (int k = 0; k < m->k; k++)
		printf("%s%zu", k ? "," : "", sizes[k]);
	printf("],\"class_names\":[");
	for (size_t c = 0; c < nc; c++) {
		if (c)
			putchar(',');
		json_string(stdout, ds->class_names[c]);
	}
	printf("],\"histograms\":[");
	for (int k = 0; k < m->k; k++) {
		printf("%s[", k ? "," : "");
		for (size_t c = 0; c < nc; c++)
			printf("%s%zu", c ? "," : "", hist[(size_t)k * nc + c]);
		putchar(']');
	}
	printf("]}\n");
}

static int run_assign(const struct args *a, int argc, char **argv)
{
	struct kmeans m = {0};
	struct dataset ds = {0};
	const char *name = display_name(a->kmeans);
	char digest[65];
	int32_t *ids = NULL;
	size_t *sizes = NULL, *hist = NULL;
	int rc = -1;
	if (kmeans_read(&m, a->kmeans, digest) ||
	    dataset_load(&ds, a->data, a->split, a->limit, a->threads) ||
	    kmeans_check_data(&m, &ds, name))
		goto out;
	ids = xmalloc((ds.n ? ds.n : 1) * sizeof(int32_t));
	double inertia = assign_all(&m, &ds, ids);
	sizes = xcalloc((size_t)m.k, sizeof(size_t));
	hist = xcalloc((size_t)m.k * (size_t)ds.classes, sizeof(size_t));
	for (size_t i = 0; i < ds.n; i++) {
		sizes[ids[i]]++;
		hist[(size_t)ids[i] * (size_t)ds.classes + (size_t)ds.labels[i]]++;
	}
	if (!a->out || strcmp(a->out, "-") != 0)
		print_report(a, name, &m, &ds, sizes, hist, inertia);
	rc = 0;
	if (a->out) {
		struct pcqfile f = {.kind = KIND_TENSORS};
		provenance_init(&f.prov, argc, argv);
		provenance_add_input(&f.prov, a->kmeans, digest);
		provenance_add_dataset(&f.prov, a->data, &ds);
		attrs_set_string(&f.attrs, "data", a->data);
		attrs_set_string(&f.attrs, "split", split_name(ds.split));
		attrs_set_int(&f.attrs, "clusters", m.k);
		int64_t n[1] = {(int64_t)ds.n};
		pcqfile_add_tensor(&f, "cluster", DTYPE_I32, 1, n, ids);
		rc = pcqfile_write(&f, a->out);
		pcqfile_free(&f);
	}
	if (fflush(stdout) != 0)
		rc = error("'stdout': write failed");
out:
	free(ids);
	free(sizes);
	free(hist);
	kmeans_free(&m);
	dataset_free(&ds);
	return rc;
}

static int run_features(const struct args *a, int argc, char **argv)
{
	struct dataset ds = {0};
	struct norm norm;
	struct pcqfile f = {.kind = KIND_TENSORS};
	float *feat = NULL;
	int rc = -1;
	if (dataset_load(&ds, a->data, a->split, a->limit, a->threads) ||
	    check_grid(&ds, a->partitions) || choose_norm(&norm, a->norm, &ds))
		goto out;
	int d = kmeans_feature_length(ds.c, a->partitions);
	feat = xmalloc((ds.n ? ds.n : 1) * (size_t)d * sizeof(float));
	CHECK(kmeans_dataset_features(feat, &ds, NULL, ds.n, &norm, a->partitions) == 0);
	int64_t shape[3] = {ds.c, ds.h, ds.w}, nd[2] = {(int64_t)ds.n, d};
	attrs_set_string(&f.attrs, "data", a->data);
	attrs_set_string(&f.attrs, "split", split_name(ds.split));
	attrs_set_int(&f.attrs, "partitions", a->partitions);
	attrs_set_ints(&f.attrs, "input_shape", shape, 3);
	norm_store(&norm, &f.attrs);
	attrs_set_int(&f.attrs, "feature_length", d);
	pcqfile_add_tensor(&f, "features", DTYPE_F32, 2, nd, feat);
	pcqfile_add_tensor(&f, "labels", DTYPE_I32, 1, nd, ds.labels);
	provenance_init(&f.prov, argc, argv);
	provenance_add_dataset(&f.prov, a->data, &ds);
	rc = pcqfile_write(&f, a->out);
out:
	free(feat);
	pcqfile_free(&f);
	dataset_free(&ds);
	return rc;
}

int main(int argc, char **argv)
{
	set_program_name("pcq-kmeans");
	char **command = cli_command(argc, argv);
	struct args a;
	parse(&a, argc, argv);
	threads_set(a.threads);
	if (a.out && outfile_check(a.out)) {   /* before the data is read */
		free(command);
		return 1;
	}
	int rc;
	switch (a.cmd) {
	case CMD_FIT: rc = run_fit(&a, argc, command); break;
	case CMD_ASSIGN: rc = run_assign(&a, argc, command); break;
	default: rc = run_features(&a, argc, command); break;
	}
	free(command);
	return rc ? 1 : 0;
}
