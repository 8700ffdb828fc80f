/* Normalised, optionally augmented batches; see batch.h. */
#include "batch.h"

#include "check.h"
#include "devops.h"
#include "rng.h"

#include <stdlib.h>

void batch_fill(float *x, int32_t *labels, const struct dataset *ds,
		const size_t *idx, int n, const struct norm *norm, int augment,
		uint64_t augment_seed)
{
	batch_fill_part(x, labels, ds, idx, n, 0, norm, augment, augment_seed);
}

void batch_fill_part(float *x, int32_t *labels, const struct dataset *ds,
		     const size_t *idx, int n, int first, const struct norm *norm,
		     int augment, uint64_t augment_seed)
{
	const int C = ds->c, H = ds->h, W = ds->w;
	const size_t plane = (size_t)H * W;
	float scale[NORM_MAX_CHANNELS], shift[NORM_MAX_CHANNELS];
	for (int c = 0; c < C; c++) {
		scale[c] = 1.0f / (255.0f * norm->std[c]);
		shift[c] = -norm->mean[c] / norm->std[c];
	}

	#pragma omp parallel for schedule(static)
	for (int i = 0; i < n; i++) {
		const uint8_t *src = ds->images + idx[i] * C * plane;
		float *dst = x + (size_t)i * C * plane;
		int dy = 0, dx = 0, flip = 0;
		labels[i] = ds->labels[idx[i]];
		if (augment) {
			struct rng r;
			rng_seed(&r, augment_seed, (uint64_t)(first + i));
			dy = (int)rng_below(&r, 2 * BATCH_CROP_PAD + 1) - BATCH_CROP_PAD;
			dx = (int)rng_below(&r, 2 * BATCH_CROP_PAD + 1) - BATCH_CROP_PAD;
			flip = rng_below(&r, 2) == 1;
		}
		/* Output pixel (y, x) reads source (y + dy, x' + dx), where x' is
		 * x mirrored when flipping; outside the image is black (0). */
		for (int c = 0; c < C; c++)
			for (int y = 0; y < H; y++) {
				int sy = y + dy;
				float *row = dst + (size_t)c * plane + (size_t)y * W;
				if (sy < 0 || sy >= H) {
					for (int xx = 0; xx < W; xx++)
						row[xx] = shift[c];
					continue;
				}
				const uint8_t *srow = src + (size_t)c * plane + (size_t)sy * W;
				for (int xx = 0; xx < W; xx++) {
					int sx = (flip ? W - 1 - xx : xx) + dx;
					float v = sx >= 0 && sx < W ? srow[sx] : 0.0f;
					row[xx] = v * scale[c] + shift[c];
				}
			}
	}
}

void *batch_buffer_alloc(const struct devops *dev, size_t bytes)
{
	if (!dev)
		return xmalloc(bytes);
	void *p = NULL;
	if (dev->host_alloc(&p, bytes))
		die("%s: cannot allocate %zu bytes of page-locked host memory for the batches",
		    dev->name, bytes);
	return p;
}

void batch_buffer_free(const struct devops *dev, void *p)
{
	if (dev)
		dev->host_free(p);
	else
		free(p);
}

void batch_slots_init(struct batch_slots *s, int count, int batch, size_t sample,
		      const struct devops *dev)
{
	CHECK(count == 1 || count == 2);
	*s = (struct batch_slots){.count = count, .dev = dev};
	for (int i = 0; i < count; i++) {
		s->x[i] = batch_buffer_alloc(dev, (size_t)batch * sample * sizeof(float));
		s->labels[i] = batch_buffer_alloc(dev, (size_t)batch * sizeof(int32_t));
	}
}

void batch_slots_free(struct batch_slots *s)
{
	for (int i = 0; i < s->count; i++) {
		batch_buffer_free(s->dev, s->x[i]);
		batch_buffer_free(s->dev, s->labels[i]);
	}
	*s = (struct batch_slots){0};
}
