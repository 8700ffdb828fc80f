/* The architectures of SPEC §4 as model files: a graph (docs/FORMAT.md
 * §graph) with freshly initialised tensors, built for a data set's input
 * shape and class count. Layer names follow PyTorch's module names
 * ("layer2.0.downsample.0"), so a state_dict maps onto the tensors. */
#ifndef PCQ_ARCH_H
#define PCQ_ARCH_H

#include "ops.h"
#include "pcqfile.h"
#include "rng.h"

/* "resnet20, alexnet-small" */
const char *arch_names(void);

/* Adds the graph, its tensors and attrs arch, input_shape, classes to f.
 * -1 with an error for an unknown arch or an input it cannot take. */
int arch_build(struct pcqfile *f, const char *arch, struct act_shape input,
	       int classes, struct rng *rng);

#endif
