/* Tests for kmeans_features.c, kmeans.c and kmeans_fit.c: features of
 * hand-made images (odd sizes, the remainder rule), too-small images,
 * assignment ties, K = 1, more clusters than distinct points, determinism
 * (also across thread counts), recovery of well-separated blobs,
 * re-seeding of starved centres, regrouping, and the kmeans file (round
 * trip, rejection of bad files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpfiles.h"

#include "check.h"
#include "kmeans.h"
#include "kmeans_features.h"
#include "batch.h"
#include "rng.h"
#include "threads.h"

#include <math.h>

/* A 2x5x7 image: pixel (c, y, x) = 100c + 10y + x, so a block's minimum
 * is its top-left pixel and its maximum its bottom-right one; channel 1
 * has one spike of -5 at (3, 5), in the last block of every grid. */
static void make_image(float *x)
{
	for (int c = 0; c < 2; c++)
		for (int y = 0; y < 5; y++)
			for (int xx = 0; xx < 7; xx++)
				x[(c * 5 + y) * 7 + xx] = (float)(100 * c + 10 * y + xx);
	x[(1 * 5 + 3) * 7 + 5] = -5;
}

static void check_features(int partitions, const float *want0, int blocks)
{
	float x[2 * 5 * 7 * 2], f[2 * 2 * 6 * 2];
	make_image(x);
	make_image(x + 70);   /* two images: the second must equal the first */
	struct kmeans_features_shape s = {.n = 2, .c = 2, .h = 5, .w = 7, .partitions = partitions};
	assert_int_equal(kmeans_feature_length(2, partitions), 4 * blocks);
	assert_int_equal(kmeans_features(f, x, &s), 0);
	for (int i = 0; i < 2; i++)
		for (int c = 0; c < 2; c++)
			for (int b = 0; b < blocks; b++)
				for (int e = 0; e < 2; e++) {
					float want = want0[b * 2 + e] + 100 * c;
					if (c == 1 && b == blocks - 1 && e == 0)
						want = -5;
					assert_true(f[i * 4 * blocks + (c * blocks + b) * 2 + e] == want);
				}
}

static void test_features_odd_sizes(void **state)
{
	(void)state;
	/* P = 4: rows [0,2) [2,5); columns [0,3) [3,7). */
	static const float p4[] = {0, 12, 3, 16, 20, 42, 23, 46};
	check_features(4, p4, 4);
	/* P = 6: rows [0,2) [2,5); columns [0,2) [2,4) [4,7). */
	static const float p6[] = {0, 11, 2, 13, 4, 16, 20, 41, 22, 43, 24, 46};
	check_features(6, p6, 6);
	/* P = 2: rows [0,2) [2,5), one column. */
	static const float p2[] = {0, 16, 20, 46};
	check_features(2, p2, 2);
}

static void test_features_too_small(void **state)
{
	(void)state;
	float x[4 * 6] = {0}, f[64];
	struct kmeans_features_shape s = {.n = 1, .c = 1, .h = 1, .w = 6, .partitions = 4};
	assert_error(kmeans_features(f, x, &s), "1x1x6 image is smaller than the 2x2 grid", NULL);
	s = (struct kmeans_features_shape){.n = 1, .c = 1, .h = 4, .w = 2, .partitions = 6};
	assert_error(kmeans_features(f, x, &s), "smaller than the 2x3 grid of 6 partitions", NULL);
	s.partitions = 3;
	assert_error(kmeans_features(f, x, &s), "partitions must be even", NULL);
	/* Exactly the grid: one pixel per block. */
	s = (struct kmeans_features_shape){.n = 1, .c = 1, .h = 2, .w = 3, .partitions = 6};
	for (int i = 0; i < 6; i++)
		x[i] = (float)i;
	assert_int_equal(kmeans_features(f, x, &s), 0);
	for (int i = 0; i < 6; i++)
		assert_true(f[2 * i] == i && f[2 * i + 1] == i);
}

static struct norm unit_norm(int c)
{
	struct norm n = {.c = c};
	for (int i = 0; i < c; i++)
		n.std[i] = 1;
	return n;
}

/* A model of K centres in D = 4 (a 1x2x1 image with P = 2: C·P·2 = 4). */
static void model_d4(struct kmeans *m, int k)
{
	struct norm n = unit_norm(1);
	kmeans_init(m, k, 2, 1, 2, 1, &n);
	assert_int_equal(m->d, 4);
}

static void test_assign_ties(void **state)
{
	(void)state;
	struct kmeans m;
	model_d4(&m, 4);
	const float centres[16] = {1, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3};
	memcpy(m.centres, centres, sizeof(centres));
	/* Equidistant from 0 and 1; on 2 and 3 (duplicates); nearest to 1. */
	const float x[12] = {0, 0, 0, 0, 0, 0, 0, 3, -2, 0, 0, 0};
	int32_t ids[3];
	float dist[3];
	double total = kmeans_assign(&m, x, 3, ids, dist);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 2);
	assert_int_equal(ids[2], 1);
	assert_true(dist[0] == 1 && dist[1] == 0 && dist[2] == 1);
	assert_true(total == 2);
	kmeans_free(&m);
}

/* Fitting on points in memory. */
struct mem {
	const float *x;
	size_t d;
};

static void mem_features(void *ctx, float *out, const size_t *idx, size_t n, int epoch,
			 size_t batch)
{
	(void)epoch;
	(void)batch;
	const struct mem *m = ctx;
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * m->d, m->x + idx[i] * m->d, m->d * sizeof(float));
}

static double fit(struct kmeans *m, int k, const float *x, size_t n,
		  const struct kmeans_fit_options *o, struct kmeans_fit_result *r)
{
	struct mem mem = {.x = x, .d = 4};
	struct kmeans_source src = {.n = n, .features = mem_features, .ctx = &mem};
	model_d4(m, k);
	kmeans_fit(m, &src, o, r);
	int32_t *ids = malloc(n * sizeof(int32_t));
	double inertia = kmeans_assign(m, x, n, ids, NULL);
	free(ids);
	for (int i = 0; i < m->k * m->d; i++)
		assert_true(isfinite(m->centres[i]));
	return inertia;
}

/* n points: blobs of std sigma around `blobs` centres 10 apart. */
static float *make_blobs(size_t n, int blobs, float sigma, uint64_t seed, float *means)
{
	struct rng r;
	rng_seed(&r, seed, 0);
	float *x = malloc(n * 4 * sizeof(float));
	for (int b = 0; b < blobs; b++)
		for (int j = 0; j < 4; j++)
			means[b * 4 + j] = (float)(10 * ((b >> j) & 1) + (j == 3 ? 10 * (b / 8) : 0));
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 4; j++)
			x[i * 4 + j] = means[(i % (size_t)blobs) * 4 + j] + sigma * rng_normal(&r);
	return x;
}

static void test_single_cluster(void **state)
{
	(void)state;
	float means[4 * 16];
	const size_t n = 1000;
	float *x = make_blobs(n, 3, 1, 5, means);
	struct kmeans m;
	struct kmeans_fit_result r;
	struct kmeans_fit_options o = {.batch = 128, .epochs = 1, .tol = 0, .seed = 1};
	fit(&m, 1, x, n, &o, &r);
	/* One cluster with counts 1/count: after one epoch, the mean of all. */
	for (int j = 0; j < 4; j++) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += x[i * 4 + j];
		assert_true(fabs(m.centres[j] - s / n) < 1e-4);
	}
	assert_int_equal(m.counts[0], (int64_t)n);
	assert_int_equal(r.batches, 8);
	kmeans_free(&m);
	free(x);
}

static void test_duplicates(void **state)
{
	(void)state;
	/* 20 points with 3 distinct values, 8 clusters; and 2 points, batch 1. */
	float x[20 * 4];
	for (int i = 0; i < 20; i++)
		for (int j = 0; j < 4; j++)
			x[i * 4 + j] = (float)((i % 3) * (j + 1));
	struct kmeans m;
	struct kmeans_fit_result r;
	struct kmeans_fit_options o = {.batch = 4, .epochs = 30, .tol = 1e-6, .seed = 2};
	double inertia = fit(&m, 8, x, 20, &o, &r);
	assert_true(inertia < 1e-9);
	kmeans_free(&m);
	o.batch = 1;
	o.refine = 5;
	inertia = fit(&m, 8, x, 2, &o, &r);
	assert_true(inertia < 1e-9);
	kmeans_free(&m);
}

static void test_determinism(void **state)
{
	(void)state;
	float means[4 * 16];
	const size_t n = 3000;
	float *x = make_blobs(n, 6, 2, 9, means);
	struct kmeans a, b;
	struct kmeans_fit_result ra, rb;
	struct kmeans_fit_options o = {.batch = 64, .epochs = 5, .tol = 1e-4, .seed = 7};
	threads_set(1);
	fit(&a, 6, x, n, &o, &ra);
	threads_set(2);
	fit(&b, 6, x, n, &o, &rb);
	assert_memory_equal(a.centres, b.centres, 6 * 4 * sizeof(float));
	assert_memory_equal(a.counts, b.counts, 6 * sizeof(int64_t));
	assert_int_equal(ra.batches, rb.batches);
	kmeans_free(&b);
	o.seed = 8;   /* another seed, another result */
	fit(&b, 6, x, n, &o, &rb);
	assert_true(memcmp(a.centres, b.centres, 6 * 4 * sizeof(float)) != 0);
	kmeans_free(&a);
	kmeans_free(&b);
	free(x);
}

static void test_blobs(void **state)
{
	(void)state;
	float means[4 * 16];
	const size_t n = 4000;
	const int k = 10;
	float *x = make_blobs(n, k, 0.5f, 3, means);
	/* The optimum's inertia is about that of the true means. */
	struct kmeans truth;
	model_d4(&truth, k);
	memcpy(truth.centres, means, sizeof(float) * 4 * (size_t)k);
	int32_t *ids = malloc(n * sizeof(int32_t));
	double best = kmeans_assign(&truth, x, n, ids, NULL);
	struct kmeans m;
	struct kmeans_fit_result r;
	struct kmeans_fit_options o = {.batch = 128, .epochs = 100, .tol = 1e-4, .seed = 1};
	double inertia = fit(&m, k, x, n, &o, &r);
	/* Mini-batch centres lag the means a little: within 2 % of the optimum;
	 * a merged pair of blobs would cost 100·n/k = 40000 more. */
	assert_true(inertia < 1.02 * best);
	kmeans_free(&m);
	/* The stop rule: per-batch centre changes shrink like 1/count. */
	o.tol = 0.01;
	inertia = fit(&m, k, x, n, &o, &r);
	assert_true(r.converged && r.epochs < 20);
	assert_true(inertia < 1.02 * best);
	kmeans_free(&m);
	o.refine = 10;
	inertia = fit(&m, k, x, n, &o, &r);
	assert_true(inertia <= best * (1 + 1e-6));
	kmeans_free(&m);
	kmeans_free(&truth);
	free(ids);
	free(x);
}

/* A source whose initialisation sample (epoch -1) is one far point
 * (-100, 0, 0, 0) repeated, so every centre starts there; the mini-batches
 * have blobs A and B. Centre 0 wins every tie, moves between the blobs,
 * and centre 1 is nobody's nearest until it is re-seeded. */
static void starve_features(void *ctx, float *out, const size_t *idx, size_t n, int epoch,
			    size_t batch)
{
	const float *x = ctx, far[4] = {-100, 0, 0, 0};
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * 4, epoch < 0 ? far : x + idx[i] * 4, 4 * sizeof(float));
	(void)batch;
}

static void test_reseed(void **state)
{
	(void)state;
	float means[4 * 16];
	const size_t n = 1000;
	float *x = make_blobs(n, 2, 0.1f, 4, means);   /* blobs at 0 and (10, 0, 0, 0) */
	struct kmeans m;
	struct kmeans_fit_result r;
	struct kmeans_fit_options o = {.batch = 50, .epochs = 3, .tol = 0, .seed = 1};
	struct kmeans_source src = {.n = n, .features = starve_features, .ctx = x};
	model_d4(&m, 2);
	kmeans_fit(&m, &src, &o, &r);
	assert_true(r.reseeded >= 1);
	int32_t *ids = malloc(n * sizeof(int32_t));
	double inertia = kmeans_assign(&m, x, n, ids, NULL);
	/* Each blob has its own centre. The re-seeded centre starts with the
	 * count of centre 0 (500 then), so both still lag the blob means a
	 * little; one centre for both blobs would give about 25 per point. */
	for (size_t i = 2; i < n; i++)
		assert_int_equal(ids[i], ids[i % 2]);
	assert_true(ids[0] != ids[1]);
	assert_true(inertia < 2500);
	free(ids);
	kmeans_free(&m);
	free(x);
}

static void test_regroup(void **state)
{
	(void)state;
	const int32_t ids[6] = {2, 0, 2, 1, 0, 2};
	size_t order[6];
	struct kmeans_group list[4];
	assert_int_equal(kmeans_regroup(ids, 6, 4, order, list), 3);
	const size_t want[6] = {1, 4, 3, 0, 2, 5};
	for (int i = 0; i < 6; i++)
		assert_int_equal(order[i], want[i]);
	assert_int_equal(list[0].cluster, 0);
	assert_int_equal(list[0].count, 2);
	assert_int_equal(list[1].cluster, 1);
	assert_int_equal(list[1].count, 1);
	assert_int_equal(list[2].cluster, 2);
	assert_int_equal(list[2].count, 3);
	assert_int_equal(kmeans_regroup(ids, 0, 4, order, list), 0);
}

static void write_model(const struct kmeans *m, const char *path, const char *attr,
			float centre0)
{
	static char *argv[] = {"test_kmeans", NULL};
	struct pcqfile f = {0};
	provenance_init(&f.prov, 1, argv);
	kmeans_store(m, &f);
	if (attr)
		attrs_set_int(&f.attrs, attr, 3);
	((float *)f.tensors[0].data)[0] = centre0;
	assert_int_equal(pcqfile_write(&f, path), 0);
	pcqfile_free(&f);
}

static void test_file(void **state)
{
	(void)state;
	struct kmeans m, back;
	struct norm n = {.c = 3, .mean = {0.1f, 0.2f, 0.3f}, .std = {0.5f, 0.6f, 0.7f}};
	kmeans_init(&m, 5, 6, 3, 9, 11, &n);
	for (int i = 0; i < m.k * m.d; i++)
		m.centres[i] = (float)i / 7;
	for (int k = 0; k < m.k; k++)
		m.counts[k] = 10 * k;
	char path[4096];
	tmp_path(path, "k.msgpack");
	write_model(&m, path, NULL, m.centres[0]);
	assert_int_equal(kmeans_read(&back, path, NULL), 0);
	assert_int_equal(back.k, 5);
	assert_int_equal(back.d, 3 * 6 * 2);
	assert_int_equal(back.partitions, 6);
	assert_true(back.c == 3 && back.h == 9 && back.w == 11);
	assert_memory_equal(&back.norm, &m.norm, sizeof(n));
	assert_memory_equal(back.centres, m.centres, (size_t)m.k * m.d * sizeof(float));
	assert_memory_equal(back.counts, m.counts, (size_t)m.k * sizeof(int64_t));
	kmeans_free(&back);

	write_model(&m, path, NULL, NAN);
	assert_error(kmeans_read(&back, path, NULL), path, "centre 0 has a non-finite value");
	write_model(&m, path, "feature_length", 0);
	assert_error(kmeans_read(&back, path, NULL), path, "'feature_length' is 3, expected C*P*2 = 36");
	write_model(&m, path, "partitions", 0);
	assert_error(kmeans_read(&back, path, NULL), path, "3 partitions do not fit");
	write_model(&m, path, "clusters", 0);
	assert_error(kmeans_read(&back, path, NULL), path, "tensor 'centres' must be f32 (3, 36)");
	tmp_write(path, "\x81\xa3" "abc" "\x01", 6);
	assert_error(kmeans_read(&back, path, NULL), path, NULL);
	kmeans_free(&m);
}

static void test_assign_images(void **state)
{
	(void)state;
	struct kmeans m;
	struct norm n = unit_norm(2);
	kmeans_init(&m, 2, 4, 2, 5, 7, &n);
	float x[2 * 70], f[2 * 16];
	make_image(x);
	for (int i = 0; i < 70; i++)
		x[70 + i] = x[i] + 50;
	struct kmeans_features_shape s = {.n = 2, .c = 2, .h = 5, .w = 7, .partitions = 4};
	assert_int_equal(kmeans_features(f, x, &s), 0);
	memcpy(m.centres, f + 16, 16 * sizeof(float));   /* centre 0 = image 1 */
	memcpy(m.centres + 16, f, 16 * sizeof(float));    /* centre 1 = image 0 */
	int32_t ids[2];
	float dist[2];
	assert_true(kmeans_assign_images(&m, x, 2, ids, dist) == 0);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 0);
	kmeans_free(&m);
}

/* Features straight from the bytes equal those of the normalised float
 * images (batch_fill), bit for bit: normalisation is increasing. */
static void test_features_from_bytes(void **state)
{
	(void)state;
	enum { N = 5, C = 3, H = 9, W = 11, P = 6 };
	struct dataset ds = {.n = N, .c = C, .h = H, .w = W, .classes = 1};
	ds.images = malloc(N * C * H * W);
	ds.labels = calloc(N, sizeof(int32_t));
	struct rng r;
	rng_seed(&r, 7, 0);
	for (size_t i = 0; i < (size_t)N * C * H * W; i++)
		ds.images[i] = (uint8_t)rng_below(&r, 256);
	struct norm nm = {.c = C, .mean = {0.49f, 0.48f, 0.45f}, .std = {0.2023f, 0.1994f, 0.2010f}};
	size_t idx[N] = {4, 0, 2, 1, 3};
	int32_t labels[N];
	float *x = malloc(sizeof(float) * N * C * H * W);
	const size_t d = (size_t)kmeans_feature_length(C, P);
	float *want = malloc(sizeof(float) * N * d), *got = malloc(sizeof(float) * N * d);
	batch_fill(x, labels, &ds, idx, N, &nm, 0, 0);
	struct kmeans_features_shape s = {.n = N, .c = C, .h = H, .w = W, .partitions = P};
	assert_int_equal(kmeans_features(want, x, &s), 0);
	assert_int_equal(kmeans_dataset_features(got, &ds, idx, N, &nm, P), 0);
	assert_memory_equal(got, want, sizeof(float) * N * d);
	free(ds.images);
	free(ds.labels);
	free(x);
	free(want);
	free(got);
}

int main(void)
{
	set_program_name("test_kmeans");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features_odd_sizes),
		cmocka_unit_test(test_features_too_small),
		cmocka_unit_test(test_features_from_bytes),
		cmocka_unit_test(test_assign_ties),
		cmocka_unit_test(test_single_cluster),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_blobs),
		cmocka_unit_test(test_reseed),
		cmocka_unit_test(test_regroup),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_assign_images),
	};
	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
