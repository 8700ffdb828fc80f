/* The fuzz target's entry points (fuzz_pcqfile.c), for the replay test. */
#ifndef PCQ_FUZZ_PCQFILE_H
#define PCQ_FUZZ_PCQFILE_H

#include "devops.h"
#include "harness.h"

#include <stddef.h>
#include <stdint.h>

/* Where the integer engine also runs, its outputs compared with the CPU
 * engine's bit for bit (a devops.h device; NULL: nowhere). */
extern const struct devops *fuzz_device;

/* The verdict of one run (harness.h): 0 the bytes were a file the tools
 * accept, and it ran; -1 refused with a message; FUZZ_MISMATCH,
 * FUZZ_MESSAGES or FUZZ_ROUND_TRIP. */
int fuzz_pcqfile_run(const uint8_t *data, size_t size);

#endif
