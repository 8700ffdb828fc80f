// The emulator's counters (emu_stats.h).
#include "emu_stats.h"

#include <atomic>
#include <stdio.h>
#include <stdlib.h>

namespace {

const char *const names[EMU_STATS] = {"launch", "sgemm",  "malloc", "free",
				      "h2d",    "d2h",    "d2d",    "memset",
				      "sync",   "h2d_pageable", "d2h_pageable"};

std::atomic<unsigned long long> calls[EMU_STATS], bytes[EMU_STATS];

// Written when the program exits (after main returns or exit()).
struct writer {
	~writer()
	{
		const char *path = getenv("PCQ_EMU_STATS");
		FILE *f = path && *path ? fopen(path, "a") : NULL;
		if (!f)
			return;
		for (int s = 0; s < EMU_STATS; s++) {
			fprintf(f, "%s%s=%llu", s ? " " : "", names[s], calls[s].load());
			if (s != EMU_LAUNCH && s != EMU_SGEMM && s != EMU_FREE && s != EMU_SYNC)
				fprintf(f, " %s_bytes=%llu", names[s], bytes[s].load());
		}
		fprintf(f, "\n");
		fclose(f);
	}
} at_exit;

}  // namespace

void emu_count(enum emu_stat s, size_t n)
{
	calls[s]++;
	bytes[s] += n;
}
