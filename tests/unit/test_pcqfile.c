/* The PCQ container: a write/read round trip keeps every field, and the
 * reader rejects each kind of bad file with -1 (messages are checked by
 * tests/e2e/test_bad_files.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pcqfile.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/pcq-test-pcqfile-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void make_model(struct pcqfile *f)
{
	char *argv[] = {"pcq-test", "--seed", "7"};
	memset(f, 0, sizeof(*f));
	f->kind = KIND_MODEL;
	provenance_init(&f->prov, 3, argv);
	provenance_add_input(&f->prov, "in.msgpack",
			     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	provenance_set_seed(&f->prov, 7);
	attrs_set_string(&f->attrs, "arch", "tiny");
	attrs_set_float(&f->attrs, "lr", 0.1);
	int64_t shape_in[] = {3, 32, 32};
	attrs_set_ints(&f->attrs, "input_shape", shape_in, 3);
	double mean[] = {0.5, 0.25, -1e300};
	attrs_set_floats(&f->attrs, "mean", mean, 3);

	const char *in0[] = {"input"};
	struct layer *l = pcqfile_add_layer(f, "conv1", "conv2d", in0, 1);
	attrs_set_int(&l->params, "stride", 2);
	const char *in1[] = {"conv1", "input"};
	pcqfile_add_layer(f, "add1", "add", in1, 2);

	float w[2 * 3] = {1, -2, 3.5f, 0, 1e-30f, -0.0f};
	int64_t ws[] = {2, 3};
	pcqfile_add_tensor(f, "conv1.weight", DTYPE_F32, 2, ws, w);
	int8_t q[4] = {-128, 0, 1, 127};
	int64_t qs[] = {4};
	pcqfile_add_tensor(f, "conv1.q", DTYPE_I8, 1, qs, q);
	pcqfile_add_tensor(f, "empty", DTYPE_I32, 1, (int64_t[]){0}, NULL);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct pcqfile a, b;
	char path[256];
	snprintf(path, sizeof(path), "%s/model.msgpack", dir);
	make_model(&a);
	assert_int_equal(pcqfile_write(&a, path), 0);
	assert_int_equal(pcqfile_read(&b, path, KIND_MODEL, NULL), 0);

	assert_int_equal(b.kind, KIND_MODEL);
	assert_string_equal(b.prov.tool, a.prov.tool);
	assert_string_equal(b.prov.created, a.prov.created);
	assert_int_equal(b.prov.argc, 3);
	assert_string_equal(b.prov.argv[2], "7");
	assert_int_equal(b.prov.n_inputs, 1);
	assert_string_equal(b.prov.inputs[0].sha256, a.prov.inputs[0].sha256);
	assert_true(b.prov.has_seed);
	assert_int_equal(b.prov.seed, 7);

	const struct value *v = attrs_find(&b.attrs, "mean");
	assert_non_null(v);
	assert_int_equal(v->type, VALUE_FLOAT_ARRAY);
	assert_true(v->floats[2] == -1e300);
	v = attrs_find(&b.attrs, "input_shape");
	assert_int_equal(v->type, VALUE_INT_ARRAY);
	assert_int_equal(v->ints[1], 32);
	const char *arch;
	assert_int_equal(attrs_get_string(&b.attrs, "t", "arch", &arch), 0);
	assert_string_equal(arch, "tiny");
	int64_t i;
	assert_int_equal(attrs_get_int(&b.attrs, "t", "arch", &i), -1);

	assert_int_equal(b.n_layers, 2);
	assert_string_equal(b.layers[1].inputs[1], "input");
	assert_int_equal(attrs_find(&b.layers[0].params, "stride")->i, 2);

	assert_int_equal(b.n_tensors, 3);
	const struct tensor *t = pcqfile_tensor(&b, "conv1.weight");
	assert_non_null(t);
	assert_int_equal(t->ndim, 2);
	assert_int_equal(t->shape[1], 3);
	assert_memory_equal(t->data, a.tensors[0].data, 24);
	t = pcqfile_tensor(&b, "conv1.q");
	assert_int_equal(((int8_t *)t->data)[0], -128);
	assert_int_equal(pcqfile_tensor(&b, "empty")->nbytes, 0);
	pcqfile_free(&a);
	pcqfile_free(&b);
}

/* Same content and SOURCE_DATE_EPOCH: the same bytes. */
static void test_reproducible_bytes(void **state)
{
	(void)state;
	struct pcqfile a;
	char p1[256], p2[256];
	snprintf(p1, sizeof(p1), "%s/r1.msgpack", dir);
	snprintf(p2, sizeof(p2), "%s/r2.msgpack", dir);
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	make_model(&a);
	assert_string_equal(a.prov.created, "2023-11-14T22:13:20Z");
	assert_int_equal(pcqfile_write(&a, p1), 0);
	pcqfile_free(&a);
	make_model(&a);
	assert_int_equal(pcqfile_write(&a, p2), 0);
	pcqfile_free(&a);
	unsetenv("SOURCE_DATE_EPOCH");

	struct pcqfile x, y;
	char d1[65], d2[65];
	assert_int_equal(pcqfile_read(&x, p1, KIND_ANY, d1), 0);
	assert_int_equal(pcqfile_read(&y, p2, KIND_ANY, d2), 0);
	assert_string_equal(d1, d2);
	pcqfile_free(&x);
	pcqfile_free(&y);
}

/* Packs `root` built by the caller's function into a buffer and parses it. */
static int parse_packed(void (*build)(msgpack_packer *), int expect)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	build(&pk);
	struct pcqfile f;
	int rc = pcqfile_parse(&f, "test", (const uint8_t *)sb.data, sb.size, expect);
	if (rc == 0)
		pcqfile_free(&f);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A minimal valid file whose one tensor is described by the arguments. */
static const char *g_dtype;
static int g_version, g_bytes, g_dim;
static void build_one_tensor(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 5);
	str(pk, "format"); str(pk, "pcq");
	str(pk, "version"); msgpack_pack_int(pk, g_version);
	str(pk, "kind"); str(pk, "tensors");
	str(pk, "meta");
	msgpack_pack_map(pk, 5);
	str(pk, "tool"); str(pk, "t");
	str(pk, "tool_version"); str(pk, "1");
	str(pk, "created"); str(pk, "2026-01-01T00:00:00Z");
	str(pk, "command"); msgpack_pack_array(pk, 0);
	str(pk, "inputs"); msgpack_pack_array(pk, 0);
	str(pk, "tensors");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 4);
	str(pk, "name"); str(pk, "x");
	str(pk, "dtype"); str(pk, g_dtype);
	str(pk, "shape"); msgpack_pack_array(pk, 1); msgpack_pack_int(pk, g_dim);
	str(pk, "data"); msgpack_pack_bin(pk, (size_t)g_bytes);
	msgpack_pack_bin_body(pk, "0123456789abcdef", (size_t)g_bytes);
}

static void test_tensor_checks(void **state)
{
	(void)state;
	g_dtype = "f32"; g_version = 1; g_bytes = 16; g_dim = 4;
	assert_int_equal(parse_packed(build_one_tensor, KIND_TENSORS), 0);
	assert_int_equal(parse_packed(build_one_tensor, KIND_ANY), 0);
	assert_int_equal(parse_packed(build_one_tensor, KIND_MODEL), -1);  /* wrong kind */
	g_bytes = 12;
	assert_int_equal(parse_packed(build_one_tensor, KIND_ANY), -1);    /* bytes != shape */
	g_bytes = 16; g_dim = -4;
	assert_int_equal(parse_packed(build_one_tensor, KIND_ANY), -1);    /* negative dim */
	g_dim = 4; g_dtype = "f16";
	assert_int_equal(parse_packed(build_one_tensor, KIND_ANY), -1);    /* unknown dtype */
	g_dtype = "u8"; g_dim = 16;
	assert_int_equal(parse_packed(build_one_tensor, KIND_ANY), 0);
	g_version = 2;
	assert_int_equal(parse_packed(build_one_tensor, KIND_ANY), -1);    /* unknown version */
}

static void build_not_map(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_int(pk, 1);
	msgpack_pack_int(pk, 2);
}

static void build_cyclic_graph(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	str(pk, "format"); str(pk, "pcq");
	str(pk, "version"); msgpack_pack_int(pk, 1);
	str(pk, "kind"); str(pk, "model");
	str(pk, "meta");
	msgpack_pack_map(pk, 5);
	str(pk, "tool"); str(pk, "t");
	str(pk, "tool_version"); str(pk, "1");
	str(pk, "created"); str(pk, "x");
	str(pk, "command"); msgpack_pack_array(pk, 0);
	str(pk, "inputs"); msgpack_pack_array(pk, 0);
	str(pk, "graph");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 3);
	str(pk, "name"); str(pk, "a");
	str(pk, "op"); str(pk, "relu");
	str(pk, "inputs"); msgpack_pack_array(pk, 1); str(pk, "b");
	str(pk, "tensors"); msgpack_pack_array(pk, 0);
}

static void test_structure_checks(void **state)
{
	(void)state;
	assert_int_equal(parse_packed(build_not_map, KIND_ANY), -1);
	assert_int_equal(parse_packed(build_cyclic_graph, KIND_ANY), -1);
	struct pcqfile f;
	assert_int_equal(pcqfile_parse(&f, "empty", (const uint8_t *)"", 0, KIND_ANY), -1);
	assert_int_equal(pcqfile_parse(&f, "junk", (const uint8_t *)"\xc1\xc1", 2, KIND_ANY), -1);
}

/* Every truncation of a valid file is refused (never read past the end). */
static void test_every_truncation(void **state)
{
	(void)state;
	struct pcqfile a, b;
	char path[256];
	uint8_t *buf;
	snprintf(path, sizeof(path), "%s/t.msgpack", dir);
	make_model(&a);
	assert_int_equal(pcqfile_write(&a, path), 0);
	pcqfile_free(&a);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	for (long cut = 0; cut < len; cut++)
		assert_int_equal(pcqfile_parse(&b, "cut", buf, (size_t)cut, KIND_ANY), -1);
	assert_int_equal(pcqfile_parse(&b, "whole", buf, (size_t)len, KIND_ANY), 0);
	pcqfile_free(&b);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_reproducible_bytes),
		cmocka_unit_test(test_tensor_checks),
		cmocka_unit_test(test_structure_checks),
		cmocka_unit_test(test_every_truncation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
