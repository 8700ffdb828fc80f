// What a program asked of the emulated GPU, counted for tests that check
// where the data goes (tests/e2e/test_device_traffic.sh): with
// PCQ_EMU_STATS=FILE set, the counts are appended to FILE as one line of
// NAME=COUNT pairs when the program exits.
#ifndef PCQ_EMU_STATS_H
#define PCQ_EMU_STATS_H

#include <stddef.h>

enum emu_stat {
	EMU_LAUNCH,    // kernel launches that ran
	EMU_SGEMM,     // cublasSgemm calls that ran
	EMU_MALLOC,    // cudaMalloc calls, and their bytes
	EMU_FREE,
	EMU_H2D,       // cudaMemcpy by direction, and their bytes
	EMU_D2H,
	EMU_D2D,
	EMU_MEMSET,
	EMU_SYNC,      // cudaDeviceSynchronize calls
	EMU_H2D_PAGEABLE,  // the H2D and D2H copies whose host side is not
	EMU_D2H_PAGEABLE,  // page-locked (cudaMallocHost), and their bytes
	EMU_STATS
};

void emu_count(enum emu_stat s, size_t bytes);

#endif
