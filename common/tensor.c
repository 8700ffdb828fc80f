/* Tensor dtypes and shapes; see tensor.h. */
#include "tensor.h"

#include "check.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[DTYPE_F32] = {"f32", 4}, [DTYPE_F64] = {"f64", 8},
	[DTYPE_I8] = {"i8", 1},   [DTYPE_U8] = {"u8", 1},
	[DTYPE_I16] = {"i16", 2}, [DTYPE_I32] = {"i32", 4},
	[DTYPE_I64] = {"i64", 8},
};
_Static_assert(sizeof(dtypes) / sizeof(dtypes[0]) == DTYPE_COUNT, "a row per dtype");

size_t dtype_size(enum dtype t)
{
	CHECK(t < DTYPE_COUNT);
	return dtypes[t].size;
}

const char *dtype_name(enum dtype t)
{
	CHECK(t < DTYPE_COUNT);
	return dtypes[t].name;
}

int dtype_parse(const char *s, enum dtype *out)
{
	for (int t = 0; t < DTYPE_COUNT; t++)
		if (strcmp(s, dtypes[t].name) == 0) {
			*out = (enum dtype)t;
			return 0;
		}
	return -1;
}

int shape_numel(const int64_t *shape, int ndim, enum dtype t, size_t *numel)
{
	size_t n = 1, bytes;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX ||
		    size_mul(n, (size_t)shape[i], &n))
			return -1;
	}
	if (size_mul(n, dtype_size(t), &bytes))
		return -1;
	*numel = n;
	return 0;
}

char *shape_string(const int64_t *shape, int ndim, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	if (ndim == 0)
		snprintf(buf, len, "scalar");
	for (int i = 0; i < ndim && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%lld", i ? "x" : "",
				 (long long)shape[i]);
	return buf;
}
