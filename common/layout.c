/* Plain <-> blocked reorders (layout.h), for tests and the rare boundary. */
#include "layout.h"

#include "check.h"

#include <stddef.h>

/* dst[b][i·di + l·dl] = src[b][i·si + l·sl] for every block b of 16
 * channels, pixel i and lane l: the two reorders are this transpose. */
static void transpose_blocks(float *dst, size_t di, size_t dl, const float *src, size_t si,
			     size_t sl, int n, int c, int hw)
{
	CHECK(c % ACT_BLOCK == 0 && dst != src);
	const long blocks = (long)n * (c / ACT_BLOCK);
	#pragma omp parallel for schedule(static)
	for (long b = 0; b < blocks; b++) {
		const float *s = src + (size_t)b * ACT_BLOCK * hw;
		float *d = dst + (size_t)b * ACT_BLOCK * hw;
		for (int i = 0; i < hw; i++)
			for (int l = 0; l < ACT_BLOCK; l++)
				d[i * di + l * dl] = s[i * si + l * sl];
	}
}

void layout_to_blocked(float *dst, const float *src, int n, int c, int hw)
{
	transpose_blocks(dst, ACT_BLOCK, 1, src, 1, (size_t)hw, n, c, hw);
}

void layout_to_plain(float *dst, const float *src, int n, int c, int hw)
{
	transpose_blocks(dst, 1, (size_t)hw, src, ACT_BLOCK, 1, n, c, hw);
}
