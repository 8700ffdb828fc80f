/* Named, typed values: a file's "attrs" and a layer's "params"
 * (docs/FORMAT.md §attrs). A value is an integer, a float, a string, or a
 * homogeneous array of one of those. Keys are unique; order is kept. */
#ifndef PCQ_ATTRS_H
#define PCQ_ATTRS_H

#include <stddef.h>
#include <stdint.h>

enum value_type {
	VALUE_INT,
	VALUE_FLOAT,
	VALUE_STRING,
	VALUE_INT_ARRAY,
	VALUE_FLOAT_ARRAY,
	VALUE_STRING_ARRAY,
	VALUE_TYPE_COUNT
};

struct value {
	enum value_type type;
	size_t n;            /* element count of an array; 1 for a scalar */
	int64_t i;           /* VALUE_INT */
	double f;            /* VALUE_FLOAT */
	char *s;             /* VALUE_STRING, owned */
	int64_t *ints;       /* VALUE_INT_ARRAY [n], owned */
	double *floats;      /* VALUE_FLOAT_ARRAY [n], owned */
	char **strs;         /* VALUE_STRING_ARRAY [n], owned */
};

struct attr {
	char *key;           /* owned */
	struct value v;
};

struct attrs {
	struct attr *items;  /* [n], owned */
	size_t n;
};

const char *value_type_name(enum value_type t);

void attrs_free(struct attrs *a);
const struct value *attrs_find(const struct attrs *a, const char *key);

/* Setters replace an existing key of any type, or append. */
void attrs_set_int(struct attrs *a, const char *key, int64_t v);
void attrs_set_float(struct attrs *a, const char *key, double v);
void attrs_set_string(struct attrs *a, const char *key, const char *v);
void attrs_set_ints(struct attrs *a, const char *key, const int64_t *v, size_t n);
void attrs_set_floats(struct attrs *a, const char *key, const double *v, size_t n);
void attrs_set_strings(struct attrs *a, const char *key, char *const *v, size_t n);
/* A copy of v under key. */
void attrs_set_value(struct attrs *a, const char *key, const struct value *v);

/* Typed getters for required values: -1 (after an error naming `where`
 * and the key) when the key is missing or has another type. An integer is
 * accepted where a float is asked for. */
int attrs_get_int(const struct attrs *a, const char *where, const char *key, int64_t *out);
int attrs_get_float(const struct attrs *a, const char *where, const char *key, double *out);
int attrs_get_string(const struct attrs *a, const char *where, const char *key, const char **out);

#endif
