/* Pairing models with data sets; see model_data.h. */
#include "model_data.h"

#include "check.h"
#include "dataset_file.h"

#include <stdio.h>

int check_data_fits_model(const struct dataset *ds, const struct pcqfile *f,
			  const char *model_name)
{
	const struct value *shape = attrs_find(&f->attrs, "input_shape");
	const struct value *classes = attrs_find(&f->attrs, "classes");
	if (!shape || shape->type != VALUE_INT_ARRAY || shape->n != 3 || !classes ||
	    classes->type != VALUE_INT)
		return error("'%s': attrs 'input_shape' (3 integers) and 'classes' are required",
			     model_name);
	if (shape->ints[0] != ds->c || shape->ints[1] != ds->h || shape->ints[2] != ds->w)
		return error("'%s': images are %dx%dx%d, but '%s' takes %lldx%lldx%lld",
			     ds->path, ds->c, ds->h, ds->w, model_name,
			     (long long)shape->ints[0], (long long)shape->ints[1],
			     (long long)shape->ints[2]);
	if (classes->i != ds->classes)
		return error("'%s': %d classes, but '%s' has %lld", ds->path, ds->classes,
			     model_name, (long long)classes->i);
	return 0;
}

void provenance_add_dataset(struct provenance *p, const char *spec,
			    const struct dataset *ds)
{
	char digest[65], label[4096];
	dataset_digest(ds, digest);
	snprintf(label, sizeof(label), "%s (%s)", spec, split_name(ds->split));
	provenance_add_input(p, label, digest);
}
