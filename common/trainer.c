/* The training loop; see trainer.h. */
#include "trainer.h"

#include "batch.h"
#include "check.h"
#include "devops.h"
#include "dist.h"
#include "evaluate.h"
#include "model.h"
#include "prefetch.h"
#include "progress.h"
#include "sgd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *best_checkpoint_path(const char *out)
{
	if (strcmp(out, "-") == 0)
		return NULL;
	size_t len = strlen(out);
	const char *slash = strrchr(out, '/');
	const char *dot = strrchr(out, '.');
	if (!dot || (slash && dot < slash) || dot == out || (slash && dot == slash + 1))
		dot = out + len;
	char *p = xmalloc(len + sizeof(".best"));
	size_t stem = (size_t)(dot - out);
	memcpy(p, out, stem);
	memcpy(p + stem, ".best", 5);
	memcpy(p + stem + 5, dot, len - stem + 1);
	return p;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

#define VELOCITY_PREFIX "velocity."

/* From here on the model holds the values of f's tensors and of their SGD
 * velocities ("velocity.<name>", added): f keeps names and shapes, and
 * checkpoints are written from the model. Saves two copies of every
 * parameter (2 x 86 MB on AlexNetSmall) from the peak memory. */
static void hand_values_to_model(struct pcqfile *f, const struct model *m)
{
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		struct tensor *ft = (struct tensor *)pcqfile_tensor(f, t->name);
		CHECK(ft && ft->nbytes == t->numel * sizeof(float));
		free(ft->data);
		ft->data = NULL;
		if (!t->learned)
			continue;
		char name[256];
		snprintf(name, sizeof(name), VELOCITY_PREFIX "%s", t->name);
		struct tensor *v = (struct tensor *)pcqfile_tensor(f, name);
		if (!v)
			v = pcqfile_add_tensor(f, name, DTYPE_F32, t->ndim, t->shape, NULL);
		free(v->data);
		v->data = NULL;
	}
}

static const void *model_values(void *ctx, const struct tensor *ft)
{
	const struct model *m = ctx;
	int velocity = strncmp(ft->name, VELOCITY_PREFIX, strlen(VELOCITY_PREFIX)) == 0;
	const struct model_tensor *t =
		model_find_tensor(m, ft->name + (velocity ? strlen(VELOCITY_PREFIX) : 0));
	if (!t)
		return NULL;
	return velocity ? (const void *)t->velocity : (const void *)t->data;
}

/* Writes the model and its training state to path. */
static int save_checkpoint(struct pcqfile *f, struct model *m, const char *path,
			   int epochs_done, double best)
{
	model_sync_host(m);
	attrs_set_int(&f->attrs, "epochs_done", epochs_done);
	attrs_set_float(&f->attrs, "best_top1", best);
	return pcqfile_write_from(f, path, model_values, (void *)m);
}

/* Velocities saved by an earlier run; -1 on a mismatch. */
static int load_velocity(struct model *m, const struct pcqfile *f, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		if (!t->learned)
			continue;
		char key[256];
		snprintf(key, sizeof(key), VELOCITY_PREFIX "%s", t->name);
		const struct tensor *v = pcqfile_tensor(f, key);
		if (!v)
			continue;
		if (v->dtype != DTYPE_F32 || v->nbytes != t->numel * sizeof(float))
			return error("'%s': tensor '%s' does not match '%s'", name, key, t->name);
		memcpy(t->velocity, v->data, v->nbytes);
	}
	return 0;
}

/* A training batch regrouped by cluster: the images reordered so each
 * cluster's are contiguous (labels too), and the model told the runs. */
struct cluster_batch {
	const struct kmeans *km;
	const struct devops *dev;      /* x is copied to it */
	size_t sample;
	int32_t *ids, *labels;
	size_t *order;
	float *x;
	struct kmeans_group *groups;
};

static void cluster_batch_init(struct cluster_batch *cb, const struct kmeans *km, int batch,
			       size_t sample, const struct devops *dev)
{
	*cb = (struct cluster_batch){.km = km, .dev = dev, .sample = sample};
	if (!km)
		return;
	cb->ids = xmalloc((size_t)batch * sizeof(int32_t));
	cb->labels = xmalloc((size_t)batch * sizeof(int32_t));
	cb->order = xmalloc((size_t)batch * sizeof(size_t));
	cb->x = batch_buffer_alloc(dev, (size_t)batch * sample * sizeof(float));
	cb->groups = xmalloc((size_t)km->k * sizeof(*cb->groups));
}

/* The input to train on: x itself without k-means; labels is reordered in
 * place to match. */
static const float *cluster_batch_regroup(struct cluster_batch *cb, struct model *m,
					  const float *x, int32_t *labels, int n)
{
	if (!cb->km)
		return x;
	kmeans_assign_images(cb->km, x, (size_t)n, cb->ids, NULL);
	m->n_groups = kmeans_regroup(cb->ids, (size_t)n, cb->km->k, cb->order, cb->groups);
	m->groups = cb->groups;
	for (int i = 0; i < n; i++) {
		memcpy(cb->x + (size_t)i * cb->sample, x + cb->order[i] * cb->sample,
		       cb->sample * sizeof(float));
		cb->labels[i] = labels[cb->order[i]];
	}
	memcpy(labels, cb->labels, (size_t)n * sizeof(int32_t));
	return cb->x;
}

static void cluster_batch_free(struct cluster_batch *cb)
{
	free(cb->ids);
	free(cb->labels);
	free(cb->order);
	if (cb->km)
		batch_buffer_free(cb->dev, cb->x);
	free(cb->groups);
}

static void log_epoch(const char *path, int epoch, double loss, double train_top1,
		      const struct eval_result *e, double lr, double secs, double data_secs,
		      double ips, const char *device, int ranks)
{
	FILE *fp = fopen(path, "a");
	if (!fp) {
		warn("'%s': cannot open the log: the epoch is not logged", path);
		return;
	}
	fprintf(fp, "{\"epoch\":%d,\"loss\":%.6f,\"train_top1\":%.4f,\"test_loss\":%.6f,"
		"\"test_top1\":%.4f,\"test_top5\":%.4f,\"lr\":%.8g,\"seconds\":%.3f,"
		"\"data_seconds\":%.3f,\"images_per_second\":%.1f,\"device\":\"%s\","
		"\"ranks\":%d}\n", epoch,
		loss, train_top1, e->loss, 100.0 * e->top1 / (double)(e->n ? e->n : 1),
		100.0 * e->top5 / (double)(e->n ? e->n : 1), lr, secs, data_secs, ips, device, ranks);
	if (fclose(fp) != 0)
		warn("'%s': write failed: the epoch may not be logged", path);
}

/* The test split's top-1, top-5 and loss (only those: the trainer's
 * figures). With several ranks each evaluates its share of the split
 * and the counts are added, so that N GPUs take 1/N of the time. */
static void evaluate_split(struct eval_result *e, struct model *m, const struct dataset *test,
			   const struct norm *norm, const struct kmeans *km, int rank, int ranks)
{
	if (ranks == 1) {
		evaluate(e, m, test, norm, km, 0);
		return;
	}
	size_t first, count;
	dist_share(test->n, rank, ranks, &first, &count);
	struct dataset share = *test;   /* a view: the images stay test's */
	share.images += first * (size_t)test->c * test->h * test->w;
	share.labels += first;
	share.n = count;
	memset(e, 0, sizeof(*e));
	if (count)
		evaluate(e, m, &share, norm, km, 0);
	double sums[4] = {(double)e->n, (double)e->top1, (double)e->top5, e->loss * (double)e->n};
	dist_sum_doubles(sums, 4);
	e->n = (size_t)sums[0];
	e->top1 = (size_t)sums[1];
	e->top5 = (size_t)sums[2];
	e->loss = sums[0] > 0 ? sums[3] / sums[0] : 0;
}

/* What fills a training batch: batch b of an epoch's order into a slot. */
struct batch_source {
	const struct dataset *train;
	const struct norm *norm;
	const struct train_options *o;
	const size_t *order;
	int epoch;
	int rank, ranks;       /* dist.h: a slot holds this rank's share */
	struct batch_slots slots;
};

static void fill_batch(void *ctx, int slot, size_t b)
{
	const struct batch_source *s = ctx;
	const struct train_options *o = s->o;
	size_t first, share;
	dist_share((size_t)batch_size_of(s->train->n, o->batch, b), s->rank, s->ranks, &first,
		   &share);
	batch_fill_part(s->slots.x[slot], s->slots.labels[slot], s->train,
			s->order + b * o->batch + first, (int)share, (int)first, s->norm,
			o->augment, mix(o->seed, mix((uint64_t)s->epoch, b)));
}

int train_run(struct pcqfile *f, const char *model_name, const struct dataset *train,
	      const struct dataset *test, const struct norm *norm,
	      const struct train_options *o)
{
	/* With several ranks (dist.h) each runs its share of every batch. */
	const int rank = dist_rank(), ranks = dist_size(), lead = rank == 0;
	const size_t batches = (train->n + (size_t)o->batch - 1) / (size_t)o->batch;
	const size_t smallest = train->n - (batches ? batches - 1 : 0) * (size_t)o->batch;
	const size_t least = smallest / (size_t)ranks;  /* the smallest share */
	if (ranks > 1 && least < 1)
		return error("'%s': %d ranks need an image each from every batch, but %zu "
			     "training images in batches of %d leave one of %zu: change --batch "
			     "or --limit", model_name, ranks, train->n, o->batch, smallest);
	struct model m;
	if (model_init(&m, f, model_name, (o->batch + ranks - 1) / ranks, 1) ||
	    load_velocity(&m, f, model_name))
		return -1;
	const char *bn = model_batch_norm_1x1(&m);
	if (bn && least < 2) {
		if (ranks > 1)
			error("'%s': layer '%s' normalises 1x1 activations, so each of %d ranks "
			      "needs at least 2 images of every batch, but %zu training images in "
			      "batches of %d leave one of %zu: change --batch or --limit",
			      model_name, bn, ranks, train->n, o->batch, smallest);
		else
			error("'%s': layer '%s' normalises 1x1 activations, so it needs at least "
			      "2 images a batch, but %zu training images in batches of %d leave "
			      "one of 1 image: change --batch or --limit", model_name, bn,
			      train->n, o->batch);
		model_free(&m);
		return -1;
	}
	if (o->device && model_use_device(&m, f, model_name, o->device)) {
		model_free(&m);
		return -1;
	}
	hand_values_to_model(f, &m);
	/* The file says how many ranks trained it (the command line it keeps
	 * does not show mpirun); one process adds nothing, as before. */
	if (ranks > 1 || attrs_find(&f->attrs, "train_ranks"))
		attrs_set_int(&f->attrs, "train_ranks", ranks);
	int64_t done = 0;
	double best = -1;
	const struct value *v = attrs_find(&f->attrs, "epochs_done");
	if (v && v->type == VALUE_INT)
		done = v->i;
	v = attrs_find(&f->attrs, "best_top1");
	if (v && (v->type == VALUE_FLOAT || v->type == VALUE_INT))
		best = v->type == VALUE_FLOAT ? v->f : (double)v->i;

	size_t sample = act_numel(&m.input);
	size_t *order = xmalloc((train->n ? train->n : 1) * sizeof(size_t));
	/* On a device the next batch is prepared while the device works. */
	const int ahead = o->device != NULL;
	struct batch_source src = {.train = train, .norm = norm, .o = o, .order = order,
				   .rank = rank, .ranks = ranks};
	batch_slots_init(&src.slots, 1 + ahead, m.batch, sample, o->device);
	struct prefetch pf;
	prefetch_init(&pf, fill_batch, &src, ahead);
	struct cluster_batch cb;
	cluster_batch_init(&cb, o->km, m.batch, sample, o->device);
	int rc = 0;
	struct progress pr;
	progress_init(&pr);
	if (o->profile)
		model_profile_start(&m);

	if (done >= o->epochs && lead)
		warn("'%s' has %lld epochs done already; --epochs %d trains no more",
		     model_name, (long long)done, o->epochs);
	for (int epoch = (int)done; epoch < o->epochs && rc == 0; epoch++) {
		double lr = o->lr * pow(o->lr_gamma, (double)(epoch / o->lr_step));
		struct sgd_params sp = {.lr = (float)lr, .momentum = (float)o->momentum,
					.weight_decay = (float)o->wd};
		struct rng shuffle, drop;
		rng_seed(&shuffle, o->seed, mix(1, (uint64_t)epoch));
		rng_seed(&drop, o->seed, mix(2, (uint64_t)epoch));
		for (size_t i = 0; i < train->n; i++)
			order[i] = i;
		rng_shuffle(&shuffle, order, train->n);

		double t0 = progress_now(), data_secs = 0, loss_sum = 0;
		size_t correct = 0, seen = 0;
		src.epoch = epoch;
		for (size_t b = 0; b < batches; b++) {
			const int n = batch_size_of(train->n, o->batch, b);
			size_t first, share;
			dist_share((size_t)n, rank, ranks, &first, &share);
			double td = progress_now();
			const int slot = prefetch_next(&pf, b, batches);
			data_secs += progress_now() - td;   /* time the training waited */
			const float *x = src.slots.x[slot];
			int32_t *labels = src.slots.labels[slot];
			const float *in = cluster_batch_regroup(&cb, &m, x, labels, (int)share);
			m.shard_before = (int)first;
			m.shard_after = n - (int)(first + share);
			model_run_forward(&m, in, (int)share, 1, &drop);
			int nc = 0;
			double loss = model_loss(&m, labels, (int)share, &nc);
			if (ranks > 1) {   /* the whole batch's, the same on every rank */
				double sums[2] = {loss * (double)share, nc};
				dist_sum_doubles(sums, 2);
				loss = sums[0] / n;
				nc = (int)sums[1];
			}
			if (!isfinite(loss)) {
				progress_done(&pr);
				int kept = strcmp(o->out, "-") != 0 && access(o->out, F_OK) == 0;
				rc = !lead ? -1 : error("loss is %s at epoch %d, batch %zu: stopping; %s%s%s "
					   "(try a lower --lr)", isnan(loss) ? "nan" : "infinite",
					   epoch + 1, b + 1,
					   kept ? "the last good checkpoint '" : "no checkpoint was written",
					   kept ? o->out : "", kept ? "' is kept" : "");
				break;
			}
			model_zero_grads(&m);
			model_backward(&m, in, NULL, (int)share);
			if (ranks > 1)
				model_sum_grads(&m, (int)share, n);
			model_sgd_step(&m, &sp);
			loss_sum += loss * n;
			correct += (size_t)nc;
			seen += (size_t)n;
			if (lead)
				progress_batch(&pr, epoch + 1, o->epochs, b + 1, batches, loss_sum / seen,
					       100.0 * correct / seen, seen, progress_now() - t0);
		}
		prefetch_wait(&pf);   /* a NaN loss leaves one in flight */
		if (rc)
			break;
		double secs = progress_now() - t0;
		struct eval_result e;
		evaluate_split(&e, &m, test, norm, o->km, rank, ranks);
		double top1 = 100.0 * e.top1 / (double)(e.n ? e.n : 1);
		if (lead)
			progress_epoch(&pr, epoch + 1, o->epochs, loss_sum / seen, 100.0 * correct / seen,
				       top1, 100.0 * e.top5 / (double)(e.n ? e.n : 1), lr, secs,
				       seen / secs);
		if (o->log && lead)
			log_epoch(o->log, epoch + 1, loss_sum / seen, 100.0 * correct / seen, &e,
				  lr, secs, data_secs, seen / secs, o->device ? o->device->name : "cpu",
				  ranks);
		eval_result_free(&e);
		int is_best = top1 > best;
		if (is_best)
			best = top1;
		attrs_set_float(&f->attrs, "last_top1", top1);
		if (lead && strcmp(o->out, "-") != 0 &&
		    save_checkpoint(f, &m, o->out, epoch + 1, best))
			rc = -1;
		if (lead && rc == 0 && is_best && o->best &&
		    save_checkpoint(f, &m, o->best, epoch + 1, best))
			rc = -1;
		if (ranks > 1) {   /* a failed write stops every rank */
			double failed = rc != 0;
			dist_sum_doubles(&failed, 1);
			rc = failed > 0 ? -1 : 0;
		}
		done = epoch + 1;
	}
	if (o->profile && lead)
		model_profile_print(&m, stderr);
	if (rc == 0 && lead) {
		/* The final state, also when no epoch ran (stdout output). */
		if (strcmp(o->out, "-") == 0)
			rc = save_checkpoint(f, &m, o->out, (int)done, best);
	}
	prefetch_free(&pf);
	batch_slots_free(&src.slots);
	free(order);
	cluster_batch_free(&cb);
	model_free(&m);
	return rc;
}
