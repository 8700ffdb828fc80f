/* The data set fuzz target's entry point (fuzz_dataset.c), for the replay
 * test. */
#ifndef PCQ_FUZZ_DATASET_H
#define PCQ_FUZZ_DATASET_H

#include "harness.h"

#include <stddef.h>
#include <stdint.h>

/* The verdict of one run (harness.h): 0 the bytes were read as a data set
 * (or an image); -1 refused with a message; FUZZ_MESSAGES or
 * FUZZ_INVALID. */
int fuzz_dataset_run(const uint8_t *data, size_t size);

#endif
