/* Plain <-> blocked reorders (layout.h), for tests and the rare boundary. */
#include "layout.h"

#include "check.h"

#include <stddef.h>

void layout_to_blocked(float *dst, const float *src, int n, int c, int hw)
{
	CHECK(c % ACT_BLOCK == 0 && dst != src);
	const long blocks = (long)n * (c / ACT_BLOCK);
	#pragma omp parallel for schedule(static)
	for (long b = 0; b < blocks; b++) {
		const float *s = src + (size_t)b * ACT_BLOCK * hw;
		float *d = dst + (size_t)b * ACT_BLOCK * hw;
		for (int i = 0; i < hw; i++)
			for (int l = 0; l < ACT_BLOCK; l++)
				d[(size_t)i * ACT_BLOCK + l] = s[(size_t)l * hw + i];
	}
}

void layout_to_plain(float *dst, const float *src, int n, int c, int hw)
{
	CHECK(c % ACT_BLOCK == 0 && dst != src);
	const long blocks = (long)n * (c / ACT_BLOCK);
	#pragma omp parallel for schedule(static)
	for (long b = 0; b < blocks; b++) {
		const float *s = src + (size_t)b * ACT_BLOCK * hw;
		float *d = dst + (size_t)b * ACT_BLOCK * hw;
		for (int l = 0; l < ACT_BLOCK; l++)
			for (int i = 0; i < hw; i++)
				d[(size_t)l * hw + i] = s[(size_t)i * ACT_BLOCK + l];
	}
}
