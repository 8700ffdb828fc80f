/* Decoding JPEG (libjpeg) and PNG (libpng's simplified API) images held
 * in memory into 8-bit RGB, for the image-folder reader.
 *
 * Safe to call from several threads at once: every call has its own
 * decoder state, and errors come back as text in the caller's buffer
 * instead of being printed (the caller decides which error to report). */
#ifndef PCQ_IMAGE_DECODE_H
#define PCQ_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum image_format { IMAGE_JPEG, IMAGE_PNG, IMAGE_FORMAT_COUNT };

struct image {
	int h, w;
	uint8_t *rgb; /* (H, W, 3) interleaved, owned; free with image_free */
};

/* The format a file name's extension says (.jpg, .jpeg, .png, any case);
 * -1 for anything else. */
int image_format_from_name(const char *name);

/* Decodes data[size] as `format` into *img (C is always 3: greyscale is
 * copied to R, G and B, alpha is dropped; a colour space libjpeg cannot
 * convert to RGB is an error). Sides above max_side are refused
 * before any pixel memory is allocated. Returns 0, or -1 with a one-line
 * reason (no file name) in err[errlen] and *img left empty. */
int image_decode(struct image *img, const uint8_t *data, size_t size,
		 enum image_format format, int max_side, char *err,
		 size_t errlen);
void image_free(struct image *img);

#endif
