/* Tests for fakequant.c, op_fakequant.c and weight_fq.c: scale, zero point,
 * quantize-dequantize and the straight-through gradient bit for bit
 * against PyTorch (tests/fixtures/gen_fakequant.py: ties, saturation,
 * ranges without zero, a degenerate range); the range rules (first batch
 * sets, later ones smooth, absent clusters untouched); per-cluster
 * independence through a model; fake-quantized weights in a linear layer,
 * per tensor and per output channel (against PyTorch's per-channel op). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakequant.h"
#include "fixture.h"
#include "gradcheck.h"
#include "model.h"
#include "relu.h"
#include "weight_fq.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static const char *const cases[] = {"ties4", "positive8", "negative2", "degenerate4", "wide8"};

static const struct tensor *get(const struct pcqfile *f, const char *c, const char *what)
{
	char key[64];
	snprintf(key, sizeof(key), "%s.%s", c, what);
	const struct tensor *t = pcqfile_tensor(f, key);
	if (!t)
		fail_msg("fixture has no %s", key);
	return t;
}

static void test_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "fakequant.msgpack");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *c = cases[i];
		size_t n = get(&f, c, "x")->nbytes / sizeof(float);
		const float *x = get(&f, c, "x")->data, *range = get(&f, c, "range")->data;
		int bits = *(const int32_t *)get(&f, c, "bits")->data;
		struct qparams q = qparams_from_range(range[0], range[1], bits);
		assert_true(q.scale == *(const float *)get(&f, c, "scale")->data);
		assert_int_equal(q.zero, *(const int32_t *)get(&f, c, "zero")->data);
		assert_int_equal(q.qmax, (1 << bits) - 1);
		float *out = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float));
		uint8_t *mask = malloc(n);
		fakequant_forward(out, mask, x, n, &q);
		assert_close(out, get(&f, c, "out")->data, n, 0, 0, c);
		fakequant_backward(dx, get(&f, c, "dout")->data, mask, n);
		assert_close(dx, get(&f, c, "dx")->data, n, 0, 0, c);
		/* Saturation happened and the gradient stopped there. */
		size_t stopped = 0;
		for (size_t k = 0; k < n; k++)
			stopped += !mask[k];
		if (strcmp(c, "degenerate4") != 0)
			assert_true(stopped > 0);
		/* In place gives the same. */
		float *buf = malloc(n * sizeof(float));
		memcpy(buf, x, n * sizeof(float));
		fakequant_forward(buf, NULL, buf, n, &q);
		assert_memory_equal(buf, out, n * sizeof(float));
		free(buf);
		free(out);
		free(dx);
		free(mask);
	}
	pcqfile_free(&f);
}

/* weight_fq_apply per channel: each output channel its own (S, Z), the
 * same bits as gen_fakequant.py's; and per tensor on a whole layer equals
 * fakequant_forward with the layer's range. */
static void test_per_channel_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "fakequant.msgpack");
	static const char *const pcs[] = {"channels8", "channels4", "linear3"};
	for (size_t i = 0; i < sizeof(pcs) / sizeof(pcs[0]); i++) {
		const struct tensor *w = get(&f, pcs[i], "w");
		const size_t n = w->nbytes / sizeof(float), K = (size_t)w->shape[0];
		const int bits = *(const int32_t *)get(&f, pcs[i], "bits")->data;
		const float *scale = get(&f, pcs[i], "scale")->data;
		const int32_t *zero = get(&f, pcs[i], "zero")->data;
		for (size_t k = 0; k < K; k++) {   /* the grids themselves */
			float lo, hi;
			range_of((const float *)w->data + k * (n / K), n / K, &lo, &hi);
			struct qparams q = qparams_from_range(lo, hi, bits);
			assert_true(q.scale == scale[k]);
			assert_int_equal(q.zero, zero[k]);
		}
		float *out = malloc(n * sizeof(float)), *whole = malloc(n * sizeof(float));
		weight_fq_apply(out, w->data, K, n / K, bits, 1);
		assert_close(out, get(&f, pcs[i], "out")->data, n, 0, 0, pcs[i]);
		/* per tensor: one range over every channel, so the narrow
		 * channels collapse onto few levels and differ */
		weight_fq_apply(whole, w->data, K, n / K, bits, 0);
		float lo, hi;
		range_of(w->data, n, &lo, &hi);
		struct qparams q = qparams_from_range(lo, hi, bits);
		fakequant_forward(out, NULL, w->data, n, &q);
		assert_memory_equal(whole, out, n * sizeof(float));
		assert_memory_not_equal(whole, get(&f, pcs[i], "out")->data, n * sizeof(float));
		free(out);
		free(whole);
	}
	pcqfile_free(&f);
}

/* The symmetric grid (FQ_SYMMETRIC): qparams_from_range's scale and zero
 * point and weight_fq_apply's output equal gen_fakequant.py's bit for bit,
 * per channel and per tensor; the grid's codes reach 1 and 2^b − 1 only
 * at ±max|w|, so the asymmetric grid of the same range differs. */
static void test_symmetric_matches_torch(void **state)
{
	(void)state;
	struct pcqfile f;
	fixture_load(&f, "fakequant.msgpack");
	static const char *const cases[] = {"sym_channels8", "sym_channels4", "sym_tensor2",
					    "sym_tensor8"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tensor *w = get(&f, cases[i], "w");
		const size_t n = w->nbytes / sizeof(float), K = (size_t)w->shape[0];
		const int bits = *(const int32_t *)get(&f, cases[i], "bits")->data;
		const int per_channel = *(const int32_t *)get(&f, cases[i], "per_channel")->data;
		const float *scale = get(&f, cases[i], "scale")->data;
		const int32_t *zero = get(&f, cases[i], "zero")->data;
		const size_t parts = per_channel ? K : 1, run = n / parts;
		for (size_t k = 0; k < parts; k++) {
			float lo, hi;
			range_of((const float *)w->data + k * run, run, &lo, &hi);
			struct qparams q = qparams_from_range(lo, hi, bits | FQ_SYMMETRIC);
			assert_true(q.scale == scale[k]);
			assert_int_equal(q.zero, zero[k]);
			assert_int_equal(q.zero, 1 << (bits - 1));
			assert_int_equal(q.qmax, (1 << bits) - 1);
		}
		float *out = malloc(n * sizeof(float)), *asym = malloc(n * sizeof(float));
		weight_fq_apply(out, w->data, K, n / K, bits | FQ_SYMMETRIC, per_channel);
		assert_close(out, get(&f, cases[i], "out")->data, n, 0, 0, cases[i]);
		weight_fq_apply(asym, w->data, K, n / K, bits, per_channel);
		assert_memory_not_equal(asym, out, n * sizeof(float));
		free(out);
		free(asym);
	}
	/* a degenerate range gets the floor, and Z stays 2^(b−1) */
	struct qparams d = qparams_from_range(0, 0, 4 | FQ_SYMMETRIC);
	assert_true(d.scale == FLT_EPSILON);
	assert_int_equal(d.zero, 8);
	/* a range that does not contain zero is still symmetric about it */
	struct qparams e = qparams_from_range(2, 5, 8 | FQ_SYMMETRIC);
	assert_true(e.scale == 5.0f / 127.0f);
	assert_int_equal(e.zero, 128);
	pcqfile_free(&f);
}

static void test_qparams_rules(void **state)
{
	(void)state;
	/* A range without zero is extended to it: [2, 5] acts as [0, 5]. */
	struct qparams a = qparams_from_range(2, 5, 4), b = qparams_from_range(0, 5, 4);
	assert_true(a.scale == b.scale && a.zero == 0);
	assert_true(a.scale == 5.0f / 15);
	/* [-5, -2] acts as [-5, 0]: zero at the top. */
	struct qparams c = qparams_from_range(-5, -2, 8);
	assert_int_equal(c.zero, 255);
	/* Zero is exactly representable: fq(0) == 0 for any range. */
	const float lo[] = {-1.3f, 0, -0.01f, -7, 3}, hi[] = {2.9f, 1e-3f, 100, -1, 9};
	for (int i = 0; i < 5; i++)
		for (int bits = 2; bits <= 8; bits++) {
			struct qparams q = qparams_from_range(lo[i], hi[i], bits);
			float zero = 0, out = 1;
			fakequant_forward(&out, NULL, &zero, 1, &q);
			assert_true(out == 0.0f);
			assert_true(q.zero >= 0 && q.zero <= q.qmax);
		}
	/* Degenerate: [0, 0] and [3, 3] -> positive scale, finite outputs. */
	struct qparams d = qparams_from_range(0, 0, 4);
	assert_true(d.scale == FLT_EPSILON && d.zero == 0);
	struct qparams e = qparams_from_range(1e-12f, 1e-12f, 4);
	assert_true(e.scale == FLT_EPSILON);
	/* The ends of the range are reproduced exactly. */
	struct qparams g = qparams_from_range(-1, 2.75f, 4);
	float ends[2] = {-1, 2.75f}, out[2];
	fakequant_forward(out, NULL, ends, 2, &g);
	assert_true(out[0] == -1.0f && out[1] == 2.75f);
}

static void test_range_update(void **state)
{
	(void)state;
	float r[2] = {123, 456}, batches = 0;
	range_update(r, &batches, -1, 3, 0.999f);   /* first: set */
	assert_true(r[0] == -1 && r[1] == 3 && batches == 1);
	range_update(r, &batches, -3, 5, 0.999f);
	assert_true(r[0] == 0.999f * -1 + (1 - 0.999f) * -3);
	assert_true(r[1] == 0.999f * 3 + (1 - 0.999f) * 5);
	assert_true(batches == 2);
	range_update(r, &batches, 10, 20, 0.0f);    /* smooth 0: the last batch */
	assert_true(r[0] == 10 && r[1] == 20);
	float lo, hi, x[] = {3, -2, 7, 0.5f};
	range_of(x, 4, &lo, &hi);
	assert_true(lo == -2 && hi == 7);
}

/* range_of, vectorised and split over threads, against a plain loop:
 * lengths around the vector width and the threading threshold, the
 * extremes at the first and last element and in the middle, NaNs skipped,
 * infinities kept, all-NaN giving (+inf, -inf). */
static void test_range_of_against_loop(void **state)
{
	(void)state;
	const size_t sizes[] = {1, 7, 8, 9, 31, 32768, 32769, 100003};
	float *x = malloc(100003 * sizeof(float));
	assert_non_null(x);
	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		const size_t n = sizes[t];
		for (int where = 0; where < 4; where++) {
			fill_normal(x, n, 0, 1, 40 + (int)t);
			for (size_t i = 3; i < n; i += 97)
				x[i] = NAN;
			const size_t at = where == 0 ? 0 : where == 1 ? n - 1 : n / 2;
			x[at] = where == 3 ? -INFINITY : 100;
			x[(at + n / 3) % n] = -100;
			float lo = INFINITY, hi = -INFINITY, glo, ghi;
			for (size_t i = 0; i < n; i++) {
				lo = x[i] < lo ? x[i] : lo;
				hi = x[i] > hi ? x[i] : hi;
			}
			range_of(x, n, &glo, &ghi);
			if (glo != lo || ghi != hi)
				fail_msg("n %zu case %d: range_of gave (%g, %g), the loop (%g, %g)",
					 n, where, glo, ghi, lo, hi);
		}
	}
	for (size_t i = 0; i < 32769; i++)
		x[i] = NAN;
	float lo, hi;
	range_of(x, 32769, &lo, &hi);
	assert_true(lo == INFINITY && hi == -INFINITY);
	free(x);
}

/* The ReLU fused into fake quantization against relu_forward, then
 * range_of, fakequant_forward and relu_backward's mask: the same bits,
 * with NaN, -0, exact zeros and values beyond the range among the inputs,
 * on both sides of the threading threshold. */
static void test_relu_fused_is_relu_then_fq(void **state)
{
	(void)state;
	const size_t sizes[] = {13, 40000};
	for (int t = 0; t < 2; t++) {
		const size_t n = sizes[t];
		float *x = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
		float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
		uint8_t *mw = malloc(n), *mg = malloc(n);
		fill_normal(x, n, 0.2f, 1, 60 + t);
		x[0] = NAN, x[1] = -0.0f, x[2] = 0.0f, x[3] = -5, x[4] = 50;
		float lo, hi, glo, ghi;
		relu_forward(v, x, n);
		range_of(v, n, &lo, &hi);
		range_relu_of(x, n, &glo, &ghi);
		assert_true(glo == lo && ghi == hi);
		/* a range that clips the 50: the mask's saturated places */
		struct qparams q = qparams_from_range(lo, 3, 4);
		fakequant_forward(want, mw, v, n, &q);
		for (size_t i = 0; i < n; i++)
			mw[i] &= !(v[i] <= 0);   /* relu_backward's rule on its output */
		fakequant_relu_forward(got, mg, x, n, &q);
		assert_memory_equal(got, want, n * sizeof(float));
		assert_memory_equal(mg, mw, n);
		fakequant_relu_forward(got, NULL, x, n, &q);
		assert_memory_equal(got, want, n * sizeof(float));
		fakequant_relu_forward(got, mg, x, n, NULL);   /* the ReLU alone */
		assert_memory_equal(got, v, n * sizeof(float));
		for (size_t i = 0; i < n; i++)
			assert_int_equal(mg[i], !(v[i] <= 0));
		free(x), free(v), free(want), free(got), free(mw), free(mg);
	}
}

/* input.fq (K = 3) -> linear (4 bits) -> out.fq. */
static void tiny_fused(struct pcqfile *f, int clusters)
{
	memset(f, 0, sizeof(*f));
	f->kind = KIND_FUSED;
	attrs_set_ints(&f->attrs, "input_shape", (int64_t[]){4, 1, 1}, 3);
	const char *in[1] = {"input"};
	struct layer *l = pcqfile_add_layer(f, "input.fq", "fakequant", in, 1);
	attrs_set_int(&l->params, "bits", 4);
	attrs_set_int(&l->params, "clusters", clusters);
	attrs_set_float(&l->params, "smooth", 0.5);
	in[0] = "input.fq";
	l = pcqfile_add_layer(f, "fc", "linear", in, 1);
	attrs_set_int(&l->params, "out_features", 3);
	attrs_set_int(&l->params, "bias", 1);
	attrs_set_int(&l->params, "weight_bits", 4);
	in[0] = "fc";
	l = pcqfile_add_layer(f, "fc.fq", "fakequant", in, 1);
	attrs_set_int(&l->params, "bits", 4);
	attrs_set_int(&l->params, "clusters", clusters);
	attrs_set_float(&l->params, "smooth", 0.5);
	float w[12], b[3] = {0.1f, -0.2f, 0.3f};
	for (int i = 0; i < 12; i++)
		w[i] = (float)((i * 7) % 11) / 10.0f - 0.45f;
	pcqfile_add_tensor(f, "fc.weight", DTYPE_F32, 2, (int64_t[]){3, 4}, w);
	pcqfile_add_tensor(f, "fc.bias", DTYPE_F32, 1, (int64_t[]){3}, b);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? "fc.fq" : "input.fq";
		char name[32];
		snprintf(name, sizeof(name), "%s.range", p);
		pcqfile_add_tensor(f, name, DTYPE_F32, 2, (int64_t[]){clusters, 2}, NULL);
		snprintf(name, sizeof(name), "%s.batches", p);
		pcqfile_add_tensor(f, name, DTYPE_F32, 1, (int64_t[]){clusters}, NULL);
	}
}

/* Ranges of both fakequant layers after one training forward of x
 * (5 samples: cluster 0 twice, cluster 2 three times). */
static void ranges_after(const float *x, float *ranges /* [2][3][2] */, float *batches)
{
	struct pcqfile f;
	struct model m;
	tiny_fused(&f, 3);
	assert_int_equal(model_init(&m, &f, "tiny", 5, 1), 0);
	assert_int_equal(m.clusters, 3);
	struct kmeans_group g[2] = {{0, 2}, {2, 3}};
	m.groups = g;
	m.n_groups = 2;
	model_forward(&m, x, 5, 1, NULL);
	memcpy(ranges, m.nodes[0].t[0], 6 * sizeof(float));
	memcpy(ranges + 6, m.nodes[2].t[0], 6 * sizeof(float));
	memcpy(batches, m.nodes[0].t[1], 3 * sizeof(float));
	model_free(&m);
	pcqfile_free(&f);
}

static void test_cluster_independence(void **state)
{
	(void)state;
	float x[20], y[20], ra[12], rb[12], ba[3], bb[3];
	for (int i = 0; i < 20; i++)
		x[i] = y[i] = (float)((i * 5) % 13) / 4.0f - 1.5f;
	for (int i = 8; i < 20; i++)      /* cluster 2's samples only */
		y[i] = x[i] * 3 + 1;
	ranges_after(x, ra, ba);
	ranges_after(y, rb, bb);
	/* Cluster 0: same in both runs; cluster 2: moved; cluster 1: never seen. */
	for (int layer = 0; layer < 2; layer++) {
		const float *a = ra + 6 * layer, *b = rb + 6 * layer;
		assert_true(a[0] == b[0] && a[1] == b[1]);
		assert_true(a[4] != b[4] || a[5] != b[5]);
		assert_true(a[2] == 0 && a[3] == 0 && b[2] == 0 && b[3] == 0);
	}
	assert_true(ba[0] == 1 && ba[1] == 0 && ba[2] == 1);
	/* The first batch sets the input range to the cluster's (min, max). */
	float lo, hi;
	range_of(x, 8, &lo, &hi);
	assert_true(ra[0] == lo && ra[1] == hi);
	range_of(x + 8, 12, &lo, &hi);
	assert_true(ra[4] == lo && ra[5] == hi);
}

static void test_weights_fake_quantized(void **state)
{
	(void)state;
	struct pcqfile f;
	struct model m;
	tiny_fused(&f, 1);
	assert_int_equal(model_init(&m, &f, "tiny", 2, 1), 0);
	float x[8] = {0.5f, -1, 2, 0.25f, 1, 1, -0.5f, 0}, wq[12];
	const float *w = model_find_tensor(&m, "fc.weight")->data;
	const float *b = model_find_tensor(&m, "fc.bias")->data;
	float lo, hi;
	range_of(w, 12, &lo, &hi);
	struct qparams q = qparams_from_range(lo, hi, 4);
	fakequant_forward(wq, NULL, w, 12, &q);
	int differs = 0;
	for (int i = 0; i < 12; i++)
		differs |= wq[i] != w[i];
	assert_true(differs);
	/* float_only: the linear layer sees the float weights and inputs. */
	m.float_only = 1;
	const float *out = model_forward(&m, x, 2, 0, NULL);
	for (int s = 0; s < 2; s++)
		for (int o = 0; o < 3; o++) {
			float acc = 0;
			for (int i = 0; i < 4; i++)
				acc += x[s * 4 + i] * w[o * 4 + i];
			assert_float_equal(out[s * 3 + o], acc + b[o], 1e-6);
		}
	/* Training: fq(input) · fq(weights); the input gradient uses fq(weights),
	 * the weight gradient reaches the master weights (STE). */
	m.float_only = 0;
	model_forward(&m, x, 2, 1, NULL);
	const float *r = m.nodes[0].t[0];
	struct qparams qi = qparams_from_range(r[0], r[1], 4);
	float xq[8];
	fakequant_forward(xq, NULL, x, 8, &qi);
	const float *fc = m.nodes[1].out;
	for (int s = 0; s < 2; s++)
		for (int o = 0; o < 3; o++) {
			float acc = 0;
			for (int i = 0; i < 4; i++)
				acc += xq[s * 4 + i] * wq[o * 4 + i];
			assert_float_equal(fc[s * 3 + o], acc + b[o], 1e-5);
		}
	float dlogits[6] = {1, 0, 0, 0, 0, 0};
	model_zero_grads(&m);
	model_backward(&m, x, dlogits, 2);
	const float *dw = model_find_tensor(&m, "fc.weight")->grad;
	/* Only sample 0, output 0 has a gradient (if fc.fq passed it): dW row 0 = xq. */
	if (m.nodes[2].cache && ((const uint8_t *)m.nodes[2].cache)[0])
		for (int i = 0; i < 4; i++)
			assert_float_equal(dw[i], xq[i], 1e-6);
	model_free(&m);
	pcqfile_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_torch),
		cmocka_unit_test(test_per_channel_matches_torch),
		cmocka_unit_test(test_symmetric_matches_torch),
		cmocka_unit_test(test_qparams_rules),
		cmocka_unit_test(test_range_update),
		cmocka_unit_test(test_range_of_against_loop),
		cmocka_unit_test(test_relu_fused_is_relu_then_fq),
		cmocka_unit_test(test_cluster_independence),
		cmocka_unit_test(test_weights_fake_quantized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
