/* The table of graph ops and the param helpers their plan functions share. */
#include "ops.h"

#include "check.h"

#include <string.h>

extern const struct op_kind op_conv2d, op_batchnorm2d, op_relu, op_maxpool2d,
	op_avgpool2d, op_global_avgpool2d, op_flatten, op_dropout, op_linear, op_add,
	op_fakequant;

static const struct op_kind *const ops[] = {
	&op_conv2d, &op_batchnorm2d, &op_relu, &op_maxpool2d, &op_avgpool2d,
	&op_global_avgpool2d, &op_flatten, &op_dropout, &op_linear, &op_add,
	&op_fakequant,
};

const struct op_kind *op_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i]->name, name) == 0)
			return ops[i];
	return NULL;
}

const char *op_names(void)
{
	static char buf[256];
	if (!buf[0])
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 i ? ", " : "", ops[i]->name);
	return buf;
}

int op_param_int(const struct layer *l, const char *file, const char *key,
		 int64_t lo, int64_t hi, int *out)
{
	char where[300];
	int64_t v;
	snprintf(where, sizeof(where), "'%s': layer '%s'", file, l->name);
	if (attrs_get_int(&l->params, where, key, &v))
		return -1;
	if (v < lo || v > hi)
		return error("%s: '%s' is %lld, expected %lld..%lld", where, key,
			     (long long)v, (long long)lo, (long long)hi);
	*out = (int)v;
	return 0;
}

int op_param_int_opt(const struct layer *l, const char *file, const char *key,
		     int64_t lo, int64_t hi, int dflt, int *out)
{
	if (!attrs_find(&l->params, key)) {
		*out = dflt;
		return 0;
	}
	return op_param_int(l, file, key, lo, hi, out);
}

int op_param_float(const struct layer *l, const char *file, const char *key,
		   double lo, double hi, float *out)
{
	char where[300];
	double v;
	snprintf(where, sizeof(where), "'%s': layer '%s'", file, l->name);
	if (attrs_get_float(&l->params, where, key, &v))
		return -1;
	if (!(v >= lo && v <= hi))
		return error("%s: '%s' is %g, expected %g..%g", where, key, v, lo, hi);
	*out = (float)v;
	return 0;
}
