/* What the tools share when they pair a model file with a data set: the
 * data must have the model's input shape and class count, and its
 * content digest goes into the provenance of what they write. */
#ifndef PCQ_MODEL_DATA_H
#define PCQ_MODEL_DATA_H

#include "dataset.h"
#include "pcqfile.h"

/* -1 with "'DATA': images are CxHxW, 'MODEL' takes ..." on a mismatch. */
int check_data_fits_model(const struct dataset *ds, const struct pcqfile *f,
			  const char *model_name);
/* Records "SPEC (split)" and the digest of ds's content. */
void provenance_add_dataset(struct provenance *p, const char *spec,
			    const struct dataset *ds);

#endif
