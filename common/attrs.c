/* Named, typed values; see attrs.h. */
#include "attrs.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>

const char *value_type_name(enum value_type t)
{
	static const char *const names[] = {
		[VALUE_INT] = "integer",
		[VALUE_FLOAT] = "float",
		[VALUE_STRING] = "string",
		[VALUE_INT_ARRAY] = "integer array",
		[VALUE_FLOAT_ARRAY] = "float array",
		[VALUE_STRING_ARRAY] = "string array",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == VALUE_TYPE_COUNT,
		       "a name per value type");
	CHECK(t < VALUE_TYPE_COUNT);
	return names[t];
}

static void value_free(struct value *v)
{
	free(v->s);
	free(v->ints);
	free(v->floats);
	if (v->strs)
		for (size_t i = 0; i < v->n; i++)
			free(v->strs[i]);
	free(v->strs);
	memset(v, 0, sizeof(*v));
}

void attrs_free(struct attrs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->items[i].key);
		value_free(&a->items[i].v);
	}
	free(a->items);
	a->items = NULL;
	a->n = 0;
}

const struct value *attrs_find(const struct attrs *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->items[i].key, key) == 0)
			return &a->items[i].v;
	return NULL;
}

/* The slot for key, emptied, appended when new. */
static struct value *slot(struct attrs *a, const char *key, enum value_type t)
{
	struct value *v = (struct value *)attrs_find(a, key);
	if (v) {
		value_free(v);
	} else {
		a->items = xrealloc(a->items, (a->n + 1) * sizeof(*a->items));
		a->items[a->n].key = xstrdup(key);
		v = &a->items[a->n++].v;
		memset(v, 0, sizeof(*v));
	}
	v->type = t;
	v->n = 1;
	return v;
}

void attrs_set_int(struct attrs *a, const char *key, int64_t x)
{
	slot(a, key, VALUE_INT)->i = x;
}

void attrs_set_float(struct attrs *a, const char *key, double x)
{
	slot(a, key, VALUE_FLOAT)->f = x;
}

void attrs_set_string(struct attrs *a, const char *key, const char *x)
{
	slot(a, key, VALUE_STRING)->s = xstrdup(x);
}

void attrs_set_ints(struct attrs *a, const char *key, const int64_t *x, size_t n)
{
	struct value *v = slot(a, key, VALUE_INT_ARRAY);
	v->n = n;
	v->ints = xmalloc(n * sizeof(*x));
	if (n)
		memcpy(v->ints, x, n * sizeof(*x));
}

void attrs_set_floats(struct attrs *a, const char *key, const double *x, size_t n)
{
	struct value *v = slot(a, key, VALUE_FLOAT_ARRAY);
	v->n = n;
	v->floats = xmalloc(n * sizeof(*x));
	if (n)
		memcpy(v->floats, x, n * sizeof(*x));
}

void attrs_set_strings(struct attrs *a, const char *key, char *const *x, size_t n)
{
	struct value *v = slot(a, key, VALUE_STRING_ARRAY);
	v->n = n;
	v->strs = xmalloc(n * sizeof(*x));
	for (size_t i = 0; i < n; i++)
		v->strs[i] = xstrdup(x[i]);
}

void attrs_set_value(struct attrs *a, const char *key, const struct value *v)
{
	switch (v->type) {
	case VALUE_INT: attrs_set_int(a, key, v->i); break;
	case VALUE_FLOAT: attrs_set_float(a, key, v->f); break;
	case VALUE_STRING: attrs_set_string(a, key, v->s); break;
	case VALUE_INT_ARRAY: attrs_set_ints(a, key, v->ints, v->n); break;
	case VALUE_FLOAT_ARRAY: attrs_set_floats(a, key, v->floats, v->n); break;
	case VALUE_STRING_ARRAY: attrs_set_strings(a, key, v->strs, v->n); break;
	default: CHECK(!"a known value type");
	}
}

static const struct value *get(const struct attrs *a, const char *where,
			       const char *key, enum value_type t, int float_ok)
{
	const struct value *v = attrs_find(a, key);
	if (!v) {
		error("%s: missing '%s'", where, key);
		return NULL;
	}
	if (v->type != t && !(float_ok && v->type == VALUE_INT)) {
		error("%s: '%s' is of type %s, expected %s", where, key,
		      value_type_name(v->type), value_type_name(t));
		return NULL;
	}
	return v;
}

int attrs_get_int(const struct attrs *a, const char *where, const char *key, int64_t *out)
{
	const struct value *v = get(a, where, key, VALUE_INT, 0);
	if (!v)
		return -1;
	*out = v->i;
	return 0;
}

int attrs_get_float(const struct attrs *a, const char *where, const char *key, double *out)
{
	const struct value *v = get(a, where, key, VALUE_FLOAT, 1);
	if (!v)
		return -1;
	*out = v->type == VALUE_INT ? (double)v->i : v->f;
	return 0;
}

int attrs_get_string(const struct attrs *a, const char *where, const char *key, const char **out)
{
	const struct value *v = get(a, where, key, VALUE_STRING, 0);
	if (!v)
		return -1;
	*out = v->s;
	return 0;
}
