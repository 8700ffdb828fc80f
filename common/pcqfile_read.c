/* Reading a PCQ file: every type, count, dtype, shape and byte length is
 * checked before it is used, because files are untrusted input
 * (docs/FORMAT.md). Each failure is one line "tool: 'FILE': what". */
#include "pcqfile.h"

#include "check.h"
#include "fileio.h"
#include "msgpack_bounds.h"
#include "sha256.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "tensor bytes are little-endian and copied as they are");

struct reader {
	const char *name;    /* the file, for messages */
	struct pcqfile *f;
};

static int bad(const struct reader *r, const char *fmt, ...) PCQ_PRINTF(2, 3);
static int bad(const struct reader *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error("'%s': %s", r->name, msg);
}

static const char *type_name(msgpack_object_type t)
{
	switch (t) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "string";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "unknown";
}

static int key_is(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, s, n) == 0;
}

/* Looks up key in a map object; NULL when absent. */
static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (key_is(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

/* Keys must be strings, unique; unknown keys only warn (FORMAT.md). */
static int check_keys(const struct reader *r, const msgpack_object *map,
		      const char *where, const char *const *known)
{
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			return bad(r, "%s: a key is a %s, expected a string", where,
				   type_name(k->type));
		for (uint32_t j = 0; j < i; j++)
			if (k->via.str.size == map->via.map.ptr[j].key.via.str.size &&
			    memcmp(k->via.str.ptr, map->via.map.ptr[j].key.via.str.ptr,
				   k->via.str.size) == 0)
				return bad(r, "%s: key '%.*s' appears twice", where,
					   (int)k->via.str.size, k->via.str.ptr);
		int found = 0;
		for (const char *const *s = known; *s && !found; s++)
			found = key_is(k, *s);
		if (!found)
			warn("'%s': %s: unknown key '%.*s' ignored", r->name, where,
			     (int)k->via.str.size, k->via.str.ptr);
	}
	return 0;
}

/* A string object as a new C string; embedded NULs are refused. */
static int copy_string(const struct reader *r, const msgpack_object *o,
		       const char *what, char **out)
{
	if (!o)
		return bad(r, "missing %s", what);
	if (o->type != MSGPACK_OBJECT_STR)
		return bad(r, "%s is a %s, expected a string", what, type_name(o->type));
	if (memchr(o->via.str.ptr, '\0', o->via.str.size))
		return bad(r, "%s contains a NUL byte", what);
	*out = xmalloc(o->via.str.size + 1);
	memcpy(*out, o->via.str.ptr, o->via.str.size);
	(*out)[o->via.str.size] = '\0';
	return 0;
}

static int get_int(const struct reader *r, const msgpack_object *o,
		   const char *what, int64_t *out)
{
	if (!o)
		return bad(r, "missing %s", what);
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(r, "%s is a %s, expected an integer", what, type_name(o->type));
	if (o->via.u64 > INT64_MAX)
		return bad(r, "%s is too large (%llu)", what, (unsigned long long)o->via.u64);
	*out = (int64_t)o->via.u64;
	return 0;
}

static int expect_type(const struct reader *r, const msgpack_object *o,
		       msgpack_object_type t, const char *what)
{
	if (!o)
		return bad(r, "missing %s", what);
	if (o->type != t)
		return bad(r, "%s is a %s, expected a %s", what, type_name(o->type),
			   type_name(t));
	return 0;
}

static int is_number(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
	       o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64;
}

static double number(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return (double)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (double)o->via.i64;
	default: return o->via.f64;
	}
}

/* One attribute value: a scalar or a homogeneous array (attrs.h). */
static int read_value(const struct reader *r, struct attrs *a, const char *key,
		      const msgpack_object *o, const char *where)
{
	char what[300];
	snprintf(what, sizeof(what), "%s '%s'", where, key);
	switch (o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		attrs_set_int(a, key, o->via.boolean);
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
		int64_t v;
		if (get_int(r, o, what, &v))
			return -1;
		attrs_set_int(a, key, v);
		return 0;
	}
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		attrs_set_float(a, key, o->via.f64);
		return 0;
	case MSGPACK_OBJECT_STR: {
		char *s;
		if (copy_string(r, o, what, &s))
			return -1;
		attrs_set_string(a, key, s);
		free(s);
		return 0;
	}
	case MSGPACK_OBJECT_ARRAY:
		break;
	default:
		return bad(r, "%s is a %s, expected a number, a string or an array",
			   what, type_name(o->type));
	}

	size_t n = o->via.array.size;
	const msgpack_object *e = o->via.array.ptr;
	int ints = 1, numbers = 1, strings = 1;
	for (size_t i = 0; i < n; i++) {
		ints &= e[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
			e[i].type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
		numbers &= is_number(&e[i]);
		strings &= e[i].type == MSGPACK_OBJECT_STR;
	}
	int rc = 0;
	if (ints) {
		int64_t *v = xmalloc(n * sizeof(*v));
		for (size_t i = 0; i < n && !rc; i++)
			rc = get_int(r, &e[i], what, &v[i]);
		if (!rc)
			attrs_set_ints(a, key, v, n);
		free(v);
	} else if (numbers) {
		double *v = xmalloc(n * sizeof(*v));
		for (size_t i = 0; i < n; i++)
			v[i] = number(&e[i]);
		attrs_set_floats(a, key, v, n);
		free(v);
	} else if (strings) {
		char **v = xcalloc(n, sizeof(*v));
		for (size_t i = 0; i < n && !rc; i++)
			rc = copy_string(r, &e[i], what, &v[i]);
		if (!rc)
			attrs_set_strings(a, key, v, n);
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
	} else {
		rc = bad(r, "%s mixes element types (arrays hold integers, floats or strings)",
			 what);
	}
	return rc;
}

static int read_attrs(const struct reader *r, const msgpack_object *o,
		      const char *where, struct attrs *a)
{
	if (expect_type(r, o, MSGPACK_OBJECT_MAP, where))
		return -1;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		char *key;
		if (copy_string(r, &o->via.map.ptr[i].key, "a key", &key))
			return -1;
		if (attrs_find(a, key)) {
			bad(r, "%s: key '%s' appears twice", where, key);
			free(key);
			return -1;
		}
		int rc = read_value(r, a, key, &o->via.map.ptr[i].val, where);
		free(key);
		if (rc)
			return -1;
	}
	return 0;
}

static int read_strings(const struct reader *r, const msgpack_object *o,
			const char *what, char ***out, size_t *n)
{
	if (expect_type(r, o, MSGPACK_OBJECT_ARRAY, what))
		return -1;
	*n = o->via.array.size;
	*out = xcalloc(*n, sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		if (copy_string(r, &o->via.array.ptr[i], what, &(*out)[i]))
			return -1;
	return 0;
}

static int is_hex64(const char *s)
{
	if (strlen(s) != SHA256_HEX_LEN)
		return 0;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return 0;
	return 1;
}

static int read_meta(const struct reader *r, const msgpack_object *o)
{
	static const char *const keys[] = {"tool", "tool_version", "created",
					   "command", "inputs", "seed", NULL};
	struct provenance *p = &r->f->prov;
	if (expect_type(r, o, MSGPACK_OBJECT_MAP, "'meta'") ||
	    check_keys(r, o, "meta", keys) ||
	    copy_string(r, map_get(o, "tool"), "meta 'tool'", &p->tool) ||
	    copy_string(r, map_get(o, "tool_version"), "meta 'tool_version'", &p->tool_version) ||
	    copy_string(r, map_get(o, "created"), "meta 'created'", &p->created) ||
	    read_strings(r, map_get(o, "command"), "meta 'command'", &p->argv, &p->argc))
		return -1;
	const msgpack_object *seed = map_get(o, "seed");
	if (seed) {
		if (get_int(r, seed, "meta 'seed'", &p->seed))
			return -1;
		p->has_seed = 1;
	}
	const msgpack_object *in = map_get(o, "inputs");
	if (expect_type(r, in, MSGPACK_OBJECT_ARRAY, "meta 'inputs'"))
		return -1;
	p->inputs = xcalloc(in->via.array.size, sizeof(*p->inputs));
	for (uint32_t i = 0; i < in->via.array.size; i++) {
		static const char *const ikeys[] = {"path", "sha256", NULL};
		const msgpack_object *e = &in->via.array.ptr[i];
		struct input_digest *d = &p->inputs[p->n_inputs++];
		if (expect_type(r, e, MSGPACK_OBJECT_MAP, "an entry of meta 'inputs'") ||
		    check_keys(r, e, "meta 'inputs'", ikeys) ||
		    copy_string(r, map_get(e, "path"), "meta input 'path'", &d->path) ||
		    copy_string(r, map_get(e, "sha256"), "meta input 'sha256'", &d->sha256))
			return -1;
		if (!is_hex64(d->sha256))
			return bad(r, "meta input '%s': sha256 is not 64 lowercase hex digits",
				   d->path);
	}
	return 0;
}

static int read_tensor(const struct reader *r, const msgpack_object *o, size_t index)
{
	static const char *const keys[] = {"name", "dtype", "shape", "data", NULL};
	char where[64], *name = NULL, *dt = NULL;
	snprintf(where, sizeof(where), "tensor %zu", index);
	if (expect_type(r, o, MSGPACK_OBJECT_MAP, where) ||
	    check_keys(r, o, where, keys) ||
	    copy_string(r, map_get(o, "name"), "a tensor 'name'", &name))
		return -1;

	struct tensor t = {.name = name};
	int rc = -1;
	const msgpack_object *shape = map_get(o, "shape"), *data = map_get(o, "data");
	snprintf(where, sizeof(where), "tensor '%.40s'", name);
	size_t numel;
	if (pcqfile_tensor(r->f, name)) {
		bad(r, "%s appears twice", where);
		goto out;
	}
	if (copy_string(r, map_get(o, "dtype"), "a tensor 'dtype'", &dt))
		goto out;
	if (dtype_parse(dt, &t.dtype)) {
		bad(r, "%s: unknown dtype '%s' (expected f32, f64, i8, u8, i16, i32 or i64)",
		    where, dt);
		goto out;
	}
	if (expect_type(r, shape, MSGPACK_OBJECT_ARRAY, "a tensor 'shape'"))
		goto out;
	if (shape->via.array.size > TENSOR_MAX_DIMS) {
		bad(r, "%s: %u dimensions, at most %d are allowed", where,
		    shape->via.array.size, TENSOR_MAX_DIMS);
		goto out;
	}
	t.ndim = (int)shape->via.array.size;
	for (int i = 0; i < t.ndim; i++)
		if (get_int(r, &shape->via.array.ptr[i], "a tensor dimension", &t.shape[i]))
			goto out;
	if (shape_numel(t.shape, t.ndim, t.dtype, &numel)) {
		bad(r, "%s: shape has a negative dimension or is too large", where);
		goto out;
	}
	if (expect_type(r, data, MSGPACK_OBJECT_BIN, "a tensor 'data'"))
		goto out;
	t.nbytes = numel * dtype_size(t.dtype);
	if (data->via.bin.size != t.nbytes) {
		char s[128];
		bad(r, "%s: data is %u bytes, but shape %s of %s needs %zu", where,
		    data->via.bin.size, shape_string(t.shape, t.ndim, s, sizeof(s)),
		    dtype_name(t.dtype), t.nbytes);
		goto out;
	}
	struct tensor *added = pcqfile_add_tensor(r->f, name, t.dtype, t.ndim,
						  t.shape, data->via.bin.ptr);
	(void)added;
	rc = 0;
out:
	free(dt);
	free(name);
	return rc;
}

static int read_layer(const struct reader *r, const msgpack_object *o, size_t index)
{
	static const char *const keys[] = {"name", "op", "inputs", "params", NULL};
	char where[64];
	snprintf(where, sizeof(where), "graph layer %zu", index);
	if (expect_type(r, o, MSGPACK_OBJECT_MAP, where) || check_keys(r, o, where, keys))
		return -1;

	struct pcqfile *f = r->f;
	f->layers = xrealloc(f->layers, (f->n_layers + 1) * sizeof(*f->layers));
	struct layer *l = &f->layers[f->n_layers++];
	memset(l, 0, sizeof(*l));
	if (copy_string(r, map_get(o, "name"), "a layer 'name'", &l->name) ||
	    copy_string(r, map_get(o, "op"), "a layer 'op'", &l->op) ||
	    read_strings(r, map_get(o, "inputs"), "a layer 'inputs'", &l->inputs, &l->n_inputs))
		return -1;
	snprintf(where, sizeof(where), "layer '%.40s'", l->name);
	const msgpack_object *params = map_get(o, "params");
	if (params && read_attrs(r, params, where, &l->params))
		return -1;

	/* Names are unique and inputs name "input" or an earlier layer, so
	 * the list is a valid execution order and every edge is explicit. */
	if (strcmp(l->name, "input") == 0)
		return bad(r, "%s: 'input' is reserved for the network input", where);
	for (size_t i = 0; i + 1 < f->n_layers; i++)
		if (strcmp(f->layers[i].name, l->name) == 0)
			return bad(r, "%s appears twice in the graph", where);
	for (size_t j = 0; j < l->n_inputs; j++) {
		int found = strcmp(l->inputs[j], "input") == 0;
		for (size_t i = 0; i + 1 < f->n_layers && !found; i++)
			found = strcmp(f->layers[i].name, l->inputs[j]) == 0;
		if (!found)
			return bad(r, "%s: input '%s' is not an earlier layer", where,
				   l->inputs[j]);
	}
	return 0;
}

static int read_root(struct reader *r, const msgpack_object *root, int expect)
{
	static const char *const keys[] = {"format", "version", "kind", "meta",
					   "attrs", "graph", "tensors", NULL};
	const msgpack_object *format = root->type == MSGPACK_OBJECT_MAP ?
		map_get(root, "format") : NULL;
	if (!format || !key_is(format, PCQ_FORMAT_NAME))
		return bad(r, "not a PCQ file (no format \"%s\" in a top-level map)",
			   PCQ_FORMAT_NAME);
	int64_t version;
	if (get_int(r, map_get(root, "version"), "'version'", &version))
		return -1;
	if (version != PCQ_FORMAT_VERSION)
		return bad(r, "unsupported format version %lld (this pcq reads version %d)",
			   (long long)version, PCQ_FORMAT_VERSION);
	char *kind;
	if (copy_string(r, map_get(root, "kind"), "'kind'", &kind))
		return -1;
	int rc = file_kind_parse(kind, &r->f->kind);
	if (rc)
		bad(r, "unknown kind '%s'", kind);
	else if (expect != KIND_ANY && (int)r->f->kind != expect)
		rc = bad(r, "is a %s file, expected a %s file", kind,
			 file_kind_name((enum file_kind)expect));
	free(kind);
	if (rc || check_keys(r, root, "top level", keys) ||
	    read_meta(r, map_get(root, "meta")))
		return -1;

	const msgpack_object *attrs = map_get(root, "attrs");
	if (attrs && read_attrs(r, attrs, "attrs", &r->f->attrs))
		return -1;
	const msgpack_object *graph = map_get(root, "graph");
	if (graph) {
		if (expect_type(r, graph, MSGPACK_OBJECT_ARRAY, "'graph'"))
			return -1;
		for (uint32_t i = 0; i < graph->via.array.size; i++)
			if (read_layer(r, &graph->via.array.ptr[i], i))
				return -1;
	}
	const msgpack_object *tensors = map_get(root, "tensors");
	if (expect_type(r, tensors, MSGPACK_OBJECT_ARRAY, "'tensors'"))
		return -1;
	for (uint32_t i = 0; i < tensors->via.array.size; i++)
		if (read_tensor(r, &tensors->via.array.ptr[i], i))
			return -1;
	return 0;
}

int pcqfile_parse(struct pcqfile *f, const char *name, const uint8_t *buf,
		  size_t len, int expect)
{
	struct reader r = {.name = name, .f = f};
	memset(f, 0, sizeof(*f));
	if (len == 0)
		return bad(&r, "empty file, expected a PCQ file");

	size_t at, off = 0;
	if (msgpack_bounds_check(buf, len, &at))
		return bad(&r, "truncated: the msgpack object at byte %zu declares more than "
			   "the %zu bytes of the file hold", at, len);

	msgpack_unpacked msg;
	msgpack_unpacked_init(&msg);
	int rc;
	switch (msgpack_unpack_next(&msg, (const char *)buf, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		if (msg.data.type != MSGPACK_OBJECT_MAP)
			rc = bad(&r, "not a PCQ file (it does not start with a msgpack map)");
		else if (off != len)
			rc = bad(&r, "%zu bytes of trailing data after the PCQ map", len - off);
		else
			rc = read_root(&r, &msg.data, expect);
		break;
	case MSGPACK_UNPACK_CONTINUE:
		rc = bad(&r, "truncated: the file ends inside its msgpack data (%zu bytes)", len);
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rc = bad(&r, "corrupt: msgpack data declares more than fits in memory");
		break;
	default:
		rc = bad(&r, "not a PCQ file: invalid msgpack data");
		break;
	}
	msgpack_unpacked_destroy(&msg);
	if (rc)
		pcqfile_free(f);
	return rc;
}

int pcqfile_read(struct pcqfile *f, const char *path, int expect, char *digest)
{
	uint8_t *buf;
	size_t len;
	memset(f, 0, sizeof(*f));
	if (read_whole_file(path, &buf, &len))
		return -1;
	if (digest)
		sha256_hex(buf, len, digest);
	int rc = pcqfile_parse(f, display_name(path), buf, len, expect);
	free(buf);
	return rc;
}
