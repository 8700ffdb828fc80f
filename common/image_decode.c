/* JPEG and PNG decoding from memory to (H, W, 3) RGB; see image_decode.h.
 *
 * JPEG: libjpeg(-turbo) with out_color_space = JCS_RGB, and an error_exit
 * that longjmps back with the message (the default one calls exit). A
 * corrupt-data warning (e.g. "premature end of JPEG file") also fails,
 * since libjpeg would otherwise fill the missing part with grey.
 * PNG: libpng's simplified API (png_image). Alpha is dropped, not
 * composited, as PIL's Image.convert("RGB") does for torchvision. */
#include "image_decode.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <png.h>

#include "check.h"

int image_format_from_name(const char *name)
{
	static const struct {
		const char *ext;
		enum image_format format;
	} exts[] = {
		{ ".jpg", IMAGE_JPEG },
		{ ".jpeg", IMAGE_JPEG },
		{ ".png", IMAGE_PNG },
	};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t el = strlen(exts[i].ext);
		if (len > el && !strcasecmp(name + len - el, exts[i].ext))
			return (int)exts[i].format;
	}
	return -1;
}

void image_free(struct image *img)
{
	if (!img)
		return;
	free(img->rgb);
	memset(img, 0, sizeof(*img));
}

struct jpeg_fail {
	struct jpeg_error_mgr pub; /* first: libjpeg sees only this */
	jmp_buf jmp;
	char msg[JMSG_LENGTH_MAX];
};

static void jpeg_fail_exit(j_common_ptr cinfo)
{
	struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, f->msg);
	longjmp(f->jmp, 1);
}

/* Keeps the first warning's text (level -1); trace messages are ignored. */
static void jpeg_fail_emit(j_common_ptr cinfo, int level)
{
	struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
	if (level >= 0)
		return;
	if (cinfo->err->num_warnings++ == 0)
		(*cinfo->err->format_message)(cinfo, f->msg);
}

static int decode_jpeg(struct image *img, const uint8_t *data, size_t size,
		       int max_side, char *err, size_t errlen)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_fail fail;

	cinfo.err = jpeg_std_error(&fail.pub);
	fail.pub.error_exit = jpeg_fail_exit;
	fail.pub.emit_message = jpeg_fail_emit;
	fail.msg[0] = '\0';
	if (setjmp(fail.jmp)) {
		jpeg_destroy_decompress(&cinfo);
		image_free(img);
		snprintf(err, errlen, "corrupt JPEG: %s", fail.msg);
		return -1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long)size);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.image_width == 0 || cinfo.image_width > (unsigned)max_side ||
	    cinfo.image_height == 0 || cinfo.image_height > (unsigned)max_side) {
		snprintf(err, errlen, "JPEG size %ux%u (HxW) out of range (expected "
			 "1..%d a side)", cinfo.image_height, cinfo.image_width,
			 max_side);
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	cinfo.out_color_space = JCS_RGB;
	jpeg_start_decompress(&cinfo);
	CHECK(cinfo.output_components == 3);
	img->h = (int)cinfo.output_height;
	img->w = (int)cinfo.output_width;
	img->rgb = xmalloc((size_t)img->h * (size_t)img->w * 3);
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = img->rgb +
			(size_t)cinfo.output_scanline * (size_t)img->w * 3;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	if (fail.pub.num_warnings > 0) {
		snprintf(err, errlen, "corrupt JPEG data: %s", fail.msg);
		jpeg_destroy_decompress(&cinfo);
		image_free(img);
		return -1;
	}
	jpeg_destroy_decompress(&cinfo);
	return 0;
}

static int decode_png(struct image *img, const uint8_t *data, size_t size,
		      int max_side, char *err, size_t errlen)
{
	png_image pi;

	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&pi, data, size)) {
		snprintf(err, errlen, "corrupt PNG: %s", pi.message);
		png_image_free(&pi);
		return -1;
	}
	if (pi.width == 0 || pi.width > (unsigned)max_side ||
	    pi.height == 0 || pi.height > (unsigned)max_side) {
		snprintf(err, errlen, "PNG size %ux%u (HxW) out of range (expected "
			 "1..%d a side)", pi.height, pi.width, max_side);
		png_image_free(&pi);
		return -1;
	}
	/* Read alpha as a fourth channel, then drop it (no compositing). */
	int alpha = (pi.format & PNG_FORMAT_FLAG_ALPHA) != 0;
	size_t npix = (size_t)pi.width * pi.height;
	pi.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
	img->h = (int)pi.height;
	img->w = (int)pi.width;
	img->rgb = xmalloc(PNG_IMAGE_SIZE(pi));
	if (!png_image_finish_read(&pi, NULL, img->rgb, 0, NULL)) {
		snprintf(err, errlen, "corrupt PNG: %s", pi.message);
		png_image_free(&pi);
		image_free(img);
		return -1;
	}
	if (alpha)
		for (size_t i = 0; i < npix; i++)
			memmove(img->rgb + 3 * i, img->rgb + 4 * i, 3);
	return 0;
}

typedef int decode_fn(struct image *img, const uint8_t *data, size_t size,
		      int max_side, char *err, size_t errlen);
static decode_fn *const decoders[] = {
	[IMAGE_JPEG] = decode_jpeg,
	[IMAGE_PNG] = decode_png,
};
_Static_assert(sizeof(decoders) / sizeof(decoders[0]) == IMAGE_FORMAT_COUNT,
	       "one decoder per enum image_format");

int image_decode(struct image *img, const uint8_t *data, size_t size,
		 enum image_format format, int max_side, char *err,
		 size_t errlen)
{
	CHECK((unsigned)format < IMAGE_FORMAT_COUNT && max_side > 0);
	memset(img, 0, sizeof(*img));
	return decoders[format](img, data, size, max_side, err, errlen);
}
