/* The fuzz target's entry points (fuzz_pcqfile.c), for the replay test. */
#ifndef PCQ_FUZZ_PCQFILE_H
#define PCQ_FUZZ_PCQFILE_H

#include "devops.h"

#include <stddef.h>
#include <stdint.h>

/* Where the integer engine also runs, its outputs compared with the CPU
 * engine's bit for bit (a devops.h device; NULL: nowhere). */
extern const struct devops *fuzz_device;

#define FUZZ_MISMATCH 1
#define FUZZ_MESSAGES 2
#define FUZZ_ROUND_TRIP 3
/* 0: the bytes were a file the tools accept, and it ran; -1: refused with
 * a message; FUZZ_MISMATCH: the integer engine on fuzz_device gave other
 * outputs than the CPU's; FUZZ_MESSAGES: a step (reading, planning a
 * model, fusing, quantizing, ...) refused its input with no message or
 * more than one line, or printed an error and went on; FUZZ_ROUND_TRIP:
 * the accepted file, written back, did not read back and write the same
 * bytes again. */
int fuzz_pcqfile_run(const uint8_t *data, size_t size);
/* What a positive result of fuzz_pcqfile_run means, in words. */
const char *fuzz_failure(int rc);

#endif
