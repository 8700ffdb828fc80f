/* pcq-train: FP32 pre-training of a model (SPEC §5), from an architecture
 * or resuming a checkpoint, and fake-quantized fine-tuning of a fused
 * model (SPEC §7), per cluster with a k-means model. */
#include "arch.h"
#include "backend.h"
#include "check.h"
#include "cli.h"
#include "dataset.h"
#include "dist.h"
#include "fileio.h"
#include "kmeans.h"
#include "model.h"
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
	       "       pcq-train FUSED --data KIND:PATH [--kmeans FILE] -o FILE [options]\n"
	       "       pcq-train --resume FILE --data KIND:PATH -o FILE [options]\n"
	       "Pre-train a model in FP32 with SGD (SPEC §5): random crop and flip,\n"
	       "shuffling, momentum and weight decay, a step learning-rate schedule.\n"
	       "Given a fused model (pcq-fuse), fine-tune it with fake quantization\n"
	       "(SPEC §7): weights quantized per tensor in the forward pass and updated in\n"
	       "float, activation ranges per cluster; each batch is regrouped by cluster.\n"
	       "\n"
	       "  --arch ARCH        %s\n"
	       "  FUSED              a fused model to fine-tune (- for standard input)\n"
	       "  --kmeans FILE      the k-means model that assigns images to clusters;\n"
	       "                     required when FUSED has more than one cluster\n"
	       "  --data KIND:PATH   trains on the train split, tests on the test split;\n"
	       "                     KIND is one of %s\n"
	       "  -o, --output FILE  the last checkpoint, written after every epoch;\n"
	       "                     the best (by test top-1) goes beside it as\n"
	       "                     NAME.best.EXT; - writes only the end to stdout\n"
	       "  --resume FILE      continue from a checkpoint (epochs count from its start)\n"
	       "  --epochs N         total epochs (default 100; fine-tuning 1)\n"
	       "  --batch N          batch size (default 128; fine-tuning 32, or 8 for QAT)\n"
	       "  --lr X             learning rate (default 0.01; fine-tuning 1e-4)\n"
	       "  --momentum X       SGD momentum (default 0.9)\n"
	       "  --wd X             weight decay (default 1e-4; fine-tuning 0)\n"
	       "  --lr-step N        multiply the lr by --lr-gamma every N epochs (default 30)\n"
	       "  --lr-gamma X       (default 0.1)\n"
	       "  --seed N           initialisation, shuffling, augmentation, dropout (default 1)\n"
	       "  --threads N        threads for GEMMs and loops (default: $OMP_NUM_THREADS, else all cores;\n"
	       "                     under mpirun each rank's share of them)\n"
	       "  --limit N          use N evenly spaced images of each split (indices floor(i*n/N))\n"
	       "  --norm NAME        input normalisation: %s\n"
	       "                     (default: the data set's own constants, or the training\n"
	       "                     split's statistics for folder and dataset files)\n"
	       "  --no-augment       no random crop or flip\n"
	       "  --log FILE         append one JSON line per epoch (loss, accuracy, lr, seconds)\n"
	       "  --profile          print each layer's forward and backward time at the end\n"
	       "  --device D         cpu (default), cuda or auto (a GPU when one is usable);\n"
	       "                     the GPU path (pre-training and fine-tuning) is new,\n"
	       "                     not yet verified on a GPU (docs/TRAINING.md)\n"
	       "  --help, --version\n"
	       "Several GPUs or machines: mpirun -np N pcq-train ... runs N ranks that split\n"
	       "every batch (--batch is the whole batch), take batch norm's statistics over\n"
	       "all of it and add their gradients: one process's model, within rounding;\n"
	       "with --device cuda rank r of a machine takes GPU r mod the GPU count; rank 0\n"
	       "writes the files and the progress (docs/TRAINING.md).\n"
	       "The same command, thread count and SOURCE_DATE_EPOCH give the same file bytes.\n"
	       "Environment: PCQ_CONV=auto|direct|off chooses the convolution kernels\n"
	       "(oneDNN with Winograd, oneDNN direct, im2col + sgemm; docs/TRAINING.md);\n"
	       "PCQ_GEMM=auto|openblas|onednn the sgemm (auto: OpenBLAS unless it does not\n"
	       "know the CPU); PCQ_FUSE_RELU=on|off whether a ReLU runs in the pass of the\n"
	       "batch norm or add before it, or of the fake quantization after it (the\n"
	       "same results either way).\n",
	       arch_names(), dataset_kinds(), norm_names());
}

struct args {
	const char *arch, *data, *out, *resume, *log, *norm, *fused, *kmeans, *device;
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
		{"kmeans", required_argument, NULL, 'K'},
		{"device", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	/* -1: the default, which depends on pre-training or fine-tuning. */
	*a = (struct args){.t = {.epochs = -1, .batch = -1, .lr = -1, .momentum = 0.9,
				 .wd = -1, .lr_step = 30, .lr_gamma = 0.1, .seed = 1,
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
		case 'K': a->kmeans = optarg; break;
		case 'D': a->device = optarg; break;
		case 'h': usage(); exit(0);
		case 'V': printf("pcq-train %s\n", PCQ_VERSION); exit(0);
		default: cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		a->fused = argv[optind++];
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->data)
		usage_error("--data KIND:PATH is required");
	if (!a->out)
		usage_error("-o FILE is required");
	if ((a->arch != NULL) + (a->resume != NULL) + (a->fused != NULL) != 1)
		usage_error("give exactly one of --arch, --resume and a FUSED model");
	if (!a->arch && a->norm)
		usage_error("--norm cannot change a model's normalisation");
	if (a->arch && a->kmeans)
		usage_error("--kmeans is for fine-tuning a fused model");
}

/* Defaults: SPEC §5 for pre-training, the reference README for fine-tuning
 * (1 epoch, lr 1e-4, no weight decay, batch 32 for PCQ and 8 for QAT). */
static void set_defaults(struct train_options *t, int fine_tuning, int clusters)
{
	if (t->epochs < 0)
		t->epochs = fine_tuning ? 1 : 100;
	if (t->batch < 0)
		t->batch = !fine_tuning ? 128 : clusters > 1 ? 32 : 8;
	if (t->lr < 0)
		t->lr = fine_tuning ? 1e-4 : 0.01;
	if (t->wd < 0)
		t->wd = fine_tuning ? 0 : 1e-4;
}

/* The clusters of a fused model's fakequant layers (1 for a plain model). */
static int model_clusters(const struct pcqfile *f, const char *name, int *clusters)
{
	struct model m;
	if (model_init(&m, f, name, 1, 0))
		return -1;
	*clusters = m.clusters;
	model_free(&m);
	return 0;
}

/* A fused model starts fine-tuning afresh: no training state of an
 * earlier run (its epochs, best accuracy and SGD velocities). */
static void drop_training_state(struct pcqfile *f)
{
	size_t kept = 0;
	for (size_t i = 0; i < f->n_tensors; i++) {
		if (strncmp(f->tensors[i].name, "velocity.", 9) == 0) {
			free(f->tensors[i].name);
			free(f->tensors[i].data);
		} else {
			f->tensors[kept++] = f->tensors[i];
		}
	}
	f->n_tensors = kept;
	attrs_set_int(&f->attrs, "epochs_done", 0);
	attrs_set_float(&f->attrs, "best_top1", -1);
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
	dist_init(&argc, &argv);
	static char rank_name[48];   /* other ranks' messages say which rank they are */
	if (dist_rank() > 0) {
		snprintf(rank_name, sizeof(rank_name), "pcq-train (rank %d)", dist_rank());
		set_program_name(rank_name);
	}
	/* ranks sharing a machine share its cores (mpirun binds 3 or more
	 * ranks to a socket, not a core) */
	threads_set_shared(a.threads, dist_local_size());
	/* ranks on one machine take a GPU each (dist.h) */
	if ((dist_size() > 1 && backend_use_gpu(dist_local_rank())) ||
	    cli_device(a.device ? a.device : "cpu", &a.t.device)) {
		free(command);
		dist_finish();
		return 1;
	}

	struct dataset train = {0}, test = {0};
	struct pcqfile f = {0};
	struct kmeans km = {0};
	struct norm norm;
	char digest[65], km_digest[65];
	int rc = 1, clusters = 1;
	const char *given = a.resume ? a.resume : a.fused;
	const char *name = given ? display_name(given) : a.arch;
	if (dist_size() > 1 && given && strcmp(given, "-") == 0) {
		error("%d ranks: standard input reaches only one of them: give the model as a file",
		      dist_size());
		goto out;
	}
	/* The model first: it is the likelier input to be wrong, and cheap. */
	if (given) {
		if (pcqfile_read(&f, given, KIND_ANY, digest))
			goto out;
		if (f.kind != KIND_MODEL && f.kind != KIND_FUSED) {
			error("'%s': is a %s file; pcq-train takes a model or a fused model", name,
			      file_kind_name(f.kind));
			goto out;
		}
		if (a.fused && f.kind != KIND_FUSED) {
			error("'%s': is a pre-trained model, not a fused one: continue "
			      "pre-training with --resume, or fuse it with pcq-fuse first", name);
			goto out;
		}
		if (model_clusters(&f, name, &clusters))
			goto out;
		pcqfile_free_provenance(&f);
		if (a.fused)
			drop_training_state(&f);
	}
	/* Outputs before the data: a bad -o or --log must not cost an epoch. */
	if (outfile_check(a.out) || (a.log && appendable_check(a.log)))
		goto out;
	set_defaults(&a.t, f.kind == KIND_FUSED, clusters);
	if (a.kmeans && f.kind != KIND_FUSED)
		usage_error("--kmeans is for fine-tuning a fused model");
	if (clusters > 1 && !a.kmeans) {
		error("'%s' has %d clusters: give the k-means model that assigns them "
		      "with --kmeans FILE", name, clusters);
		goto out;
	}
	if (a.kmeans && kmeans_read(&km, a.kmeans, km_digest))
		goto out;
	if (dataset_load(&train, a.data, SPLIT_TRAIN, a.limit, a.threads) ||
	    dataset_load(&test, a.data, SPLIT_TEST, a.limit, a.threads))
		goto out;
	if (train.n == 0) {
		error("'%s': the train split is empty", a.data);
		goto out;
	}
	if (given) {
		if (check_data_fits_model(&train, &f, name) ||
		    norm_load(&norm, &f.attrs, name, train.c))
			goto out;
	} else if (new_model(&f, &a, &train, &norm)) {
		goto out;
	}
	if (a.kmeans && (kmeans_check_model(&km, display_name(a.kmeans), clusters, train.c,
					    train.h, train.w, &norm, name)))
		goto out;
	provenance_init(&f.prov, argc, command);
	if (given)
		provenance_add_input(&f.prov, given, digest);
	if (a.kmeans)
		provenance_add_input(&f.prov, a.kmeans, km_digest);
	provenance_add_dataset(&f.prov, a.data, &train);
	provenance_add_dataset(&f.prov, a.data, &test);
	provenance_set_seed(&f.prov, (int64_t)a.t.seed);
	attrs_set_string(&f.attrs, "data", a.data);

	char *best = best_checkpoint_path(a.out);
	a.t.out = a.out;
	a.t.best = best;
	a.t.log = a.log;
	a.t.km = a.kmeans ? &km : NULL;
	if (train_run(&f, name, &train, &test, &norm, &a.t) == 0)
		rc = 0;
	free(best);
out:
	pcqfile_free(&f);
	kmeans_free(&km);
	dataset_free(&train);
	dataset_free(&test);
	free(command);
	dist_finish();
	return rc;
}
