/* pcq-train: FP32 pre-training of a model (SPEC §5), from an architecture
 * or resuming a checkpoint. Fine-tuning of fused models comes with issue 5. */
#include "arch.h"
#include "check.h"
#include "cli.h"
#include "dataset.h"
#include "model_data.h"
#include "normalize.h"
#include "pcqfile.h"
#include "threads.h"
#include "trainer.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: pcq-train --arch ARCH --data KIND:PATH -o FILE [options]\n"
	       "       pcq-train --resume FILE --data KIND:PATH -o FILE [options]\n"
	       "Pre-train a model in FP32 with SGD (SPEC §5): random crop and flip,\n"
	       "shuffling, momentum and weight decay, a step learning-rate schedule.\n"
	       "\n"
	       "  --arch ARCH        %s\n"
	       "  --data KIND:PATH   trains on the train split, tests on the test split;\n"
	       "                     KIND is one of %s\n"
	       "  -o, --output FILE  the last checkpoint, written after every epoch;\n"
	       "                     the best (by test top-1) goes beside it as\n"
	       "                     NAME.best.EXT; - writes only the end to stdout\n"
	       "  --resume FILE      continue from a checkpoint (epochs count from its start)\n"
	       "  --epochs N         total epochs (default 100)\n"
	       "  --batch N          batch size (default 128)\n"
	       "  --lr X             learning rate (default 0.01)\n"
	       "  --momentum X       SGD momentum (default 0.9)\n"
	       "  --wd X             weight decay (default 1e-4)\n"
	       "  --lr-step N        multiply the lr by --lr-gamma every N epochs (default 30)\n"
	       "  --lr-gamma X       (default 0.1)\n"
	       "  --seed N           initialisation, shuffling, augmentation, dropout (default 1)\n"
	       "  --threads N        threads for GEMMs and loops (default: all cores)\n"
	       "  --limit N          use N evenly spaced images of each split (indices floor(i*n/N))\n"
	       "  --norm NAME        input normalisation: %s\n"
	       "                     (default: the data set's own constants, or the training\n"
	       "                     split's statistics for folder and dataset files)\n"
	       "  --no-augment       no random crop or flip\n"
	       "  --log FILE         append one JSON line per epoch (loss, accuracy, lr, seconds)\n"
	       "  --profile          print each layer's forward and backward time at the end\n"
	       "  --help, --version\n"
	       "The same command, thread count and SOURCE_DATE_EPOCH give the same file bytes.\n",
	       arch_names(), dataset_kinds(), norm_names());
}

struct args {
	const char *arch, *data, *out, *resume, *log, *norm;
	int threads;
	size_t limit;
	struct train_options t;
};

static void parse(struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"arch", required_argument, NULL, 'a'},
		{"data", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"resume", required_argument, NULL, 'r'},
		{"epochs", required_argument, NULL, 'e'},
		{"batch", required_argument, NULL, 'b'},
		{"lr", required_argument, NULL, 'l'},
		{"momentum", required_argument, NULL, 'm'},
		{"wd", required_argument, NULL, 'w'},
		{"lr-step", required_argument, NULL, 's'},
		{"lr-gamma", required_argument, NULL, 'g'},
		{"seed", required_argument, NULL, 'S'},
		{"threads", required_argument, NULL, 'T'},
		{"limit", required_argument, NULL, 'L'},
		{"norm", required_argument, NULL, 'n'},
		{"no-augment", no_argument, NULL, 'A'},
		{"log", required_argument, NULL, 'G'},
		{"profile", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	*a = (struct args){.t = {.epochs = 100, .batch = 128, .lr = 0.01, .momentum = 0.9,
				 .wd = 1e-4, .lr_step = 30, .lr_gamma = 0.1, .seed = 1,
				 .augment = 1}};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case 'a': a->arch = optarg; break;
		case 'd': a->data = optarg; break;
		case 'o': a->out = optarg; break;
		case 'r': a->resume = optarg; break;
		case 'e': a->t.epochs = (int)cli_int("--epochs", optarg, 0, 100000); break;
		case 'b': a->t.batch = (int)cli_int("--batch", optarg, 1, 65536); break;
		case 'l': a->t.lr = cli_double("--lr", optarg, 0, 100); break;
		case 'm': a->t.momentum = cli_double("--momentum", optarg, 0, 1); break;
		case 'w': a->t.wd = cli_double("--wd", optarg, 0, 1); break;
		case 's': a->t.lr_step = (int)cli_int("--lr-step", optarg, 1, 100000); break;
		case 'g': a->t.lr_gamma = cli_double("--lr-gamma", optarg, 0, 1); break;
		case 'S': a->t.seed = (uint64_t)cli_int("--seed", optarg, 0, INT64_MAX); break;
		case 'T': a->threads = (int)cli_int("--threads", optarg, 1, 1024); break;
		case 'L': a->limit = (size_t)cli_int("--limit", optarg, 1, 1LL << 40); break;
		case 'n': a->norm = optarg; break;
		case 'A': a->t.augment = 0; break;
		case 'G': a->log = optarg; break;
		case 'P': a->t.profile = 1; break;
		case 'h': usage(); exit(0);
		case 'V': printf("pcq-train %s\n", PCQ_VERSION); exit(0);
		default: cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->data)
		usage_error("--data KIND:PATH is required");
	if (!a->out)
		usage_error("-o FILE is required");
	if (!a->arch == !a->resume)
		usage_error("give exactly one of --arch and --resume");
	if (a->resume && a->norm)
		usage_error("--norm cannot change a checkpoint's normalisation");
}

/* A new model: the architecture for the data's shape, initialised from the
 * seed, with the normalisation it will be trained with. */
static int new_model(struct pcqfile *f, const struct args *a, const struct dataset *train,
		     struct norm *norm)
{
	struct rng rng;
	rng_seed(&rng, a->t.seed, 0);
	f->kind = KIND_MODEL;
	if (arch_build(f, a->arch, (struct act_shape){train->c, train->h, train->w},
		       train->classes, &rng) ||
	    norm_choose(norm, a->norm, train))
		return -1;
	norm_store(norm, &f->attrs);
	attrs_set_strings(&f->attrs, "class_names", train->class_names, (size_t)train->classes);
	return 0;
}

int main(int argc, char **argv)
{
	set_program_name("pcq-train");
	char **command = cli_command(argc, argv);
	struct args a;
	parse(&a, argc, argv);
	threads_set(a.threads);

	struct dataset train = {0}, test = {0};
	struct pcqfile f = {0};
	struct norm norm;
	char digest[65];
	int rc = 1;
	if (dataset_load(&train, a.data, SPLIT_TRAIN, a.limit, a.threads) ||
	    dataset_load(&test, a.data, SPLIT_TEST, a.limit, a.threads))
		goto out;
	if (train.n == 0) {
		error("'%s': the train split is empty", a.data);
		goto out;
	}
	if (a.resume) {
		if (pcqfile_read(&f, a.resume, KIND_MODEL, digest) ||
		    check_data_fits_model(&train, &f, a.resume) ||
		    norm_load(&norm, &f.attrs, a.resume, train.c))
			goto out;
		pcqfile_free_provenance(&f);
	} else if (new_model(&f, &a, &train, &norm)) {
		goto out;
	}
	provenance_init(&f.prov, argc, command);
	if (a.resume)
		provenance_add_input(&f.prov, a.resume, digest);
	provenance_add_dataset(&f.prov, a.data, &train);
	provenance_add_dataset(&f.prov, a.data, &test);
	provenance_set_seed(&f.prov, (int64_t)a.t.seed);
	attrs_set_string(&f.attrs, "data", a.data);

	char *best = best_checkpoint_path(a.out);
	a.t.out = a.out;
	a.t.best = best;
	a.t.log = a.log;
	if (train_run(&f, a.resume ? a.resume : a.arch, &train, &test, &norm, &a.t) == 0)
		rc = 0;
	free(best);
out:
	pcqfile_free(&f);
	dataset_free(&train);
	dataset_free(&test);
	free(command);
	return rc;
}
