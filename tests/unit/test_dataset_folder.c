/* Tests for the image-folder reader (dataset_folder.c) and the JPEG/PNG
 * decoder (image_decode.c), on small images written with libpng's
 * simplified API and libjpeg into a scratch folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
#include <png.h>

#include "check.h"
#include "dataset.h"
#include "image_decode.h"
#include "tmpfiles.h"

#define H 8
#define W 12

/* Pixel (y, x, channel) of the PNG test image number `seed`. */
static uint8_t png_pixel(int seed, int y, int x, int c)
{
	return (uint8_t)(seed * 31 + y * 40 + x * 7 + c * 80);
}

/* A smooth gradient, which JPEG keeps within a few levels. */
static uint8_t jpeg_pixel(int y, int x, int c)
{
	return (uint8_t)(c == 0 ? 40 + 8 * x : c == 1 ? 60 + 6 * y : 128);
}

static void write_png(const char *path, int seed, int h, int w)
{
	uint8_t *rgb = malloc((size_t)h * (size_t)w * 3);
	png_image pi;
	assert_non_null(rgb);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++)
				rgb[(y * w + x) * 3 + c] = png_pixel(seed, y, x, c);
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	pi.width = (png_uint_32)w;
	pi.height = (png_uint_32)h;
	pi.format = PNG_FORMAT_RGB;
	assert_true(png_image_write_to_file(&pi, path, 0, rgb, 0, NULL));
	free(rgb);
}

/* Quality 100 without chroma subsampling: the decoded pixels differ from
 * these by colour-conversion rounding only. */
static void write_jpeg(const char *path, int h, int w)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_error_mgr jerr;
	uint8_t row[3 * 64];
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_true(w <= 64);
	cinfo.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&cinfo);
	jpeg_stdio_dest(&cinfo, f);
	cinfo.image_width = (JDIMENSION)w;
	cinfo.image_height = (JDIMENSION)h;
	cinfo.input_components = 3;
	cinfo.in_color_space = JCS_RGB;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, 100, TRUE);
	for (int k = 0; k < 3; k++)
		cinfo.comp_info[k].h_samp_factor = cinfo.comp_info[k].v_samp_factor = 1;
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		int y = (int)cinfo.next_scanline;
		JSAMPROW p = row;
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++)
				row[3 * x + c] = jpeg_pixel(y, x, c);
		jpeg_write_scanlines(&cinfo, &p, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	assert_int_equal(fclose(f), 0);
}

static uint8_t at(const struct dataset *ds, size_t i, int c, int y, int x)
{
	return ds->images[(((i * 3 + (size_t)c) * (size_t)ds->h + (size_t)y) *
			   (size_t)ds->w) + (size_t)x];
}

static void assert_png_image(const struct dataset *ds, size_t i, int seed)
{
	for (int c = 0; c < 3; c++)
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				assert_int_equal(at(ds, i, c, y, x),
						 png_pixel(seed, y, x, c));
}

static void assert_jpeg_image(const struct dataset *ds, size_t i)
{
	for (int c = 0; c < 3; c++) {
		for (int y = 0; y < H; y++) {
			for (int x = 0; x < W; x++) {
				int d = at(ds, i, c, y, x) - jpeg_pixel(y, x, c);
				if (d < -3 || d > 3)
					fail_msg("image %zu (%d, %d, %d): %d, expected "
						 "%d +- 3", i, c, y, x, at(ds, i, c, y, x),
						 jpeg_pixel(y, x, c));
			}
		}
	}
}

static char *spec_of(char *spec, const char *dir)
{
	snprintf(spec, 4200, "folder:%s/%s", tmp_root, dir);
	return spec;
}

static void test_folder(void **state)
{
	char p[4096], spec[4200];
	struct dataset ds;
	(void)state;

	/* Class order is byte order: "B" < "a" < "b"; so is file order. */
	tmp_mkdirs(tmp_path(p, "img/train/b"));
	tmp_mkdirs(tmp_path(p, "img/train/a"));
	tmp_mkdirs(tmp_path(p, "img/train/B"));
	tmp_mkdirs(tmp_path(p, "img/train/.git")); /* skipped */
	tmp_mkdirs(tmp_path(p, "img/test/a"));
	write_png(tmp_path(p, "img/train/b/2.png"), 2, H, W);
	write_png(tmp_path(p, "img/train/b/10.png"), 10, H, W);
	tmp_write(tmp_path(p, "img/train/b/.DS_Store"), "junk", 4); /* skipped */
	write_jpeg(tmp_path(p, "img/train/a/x.JPEG"), H, W);
	write_png(tmp_path(p, "img/train/a/y.Png"), 5, H, W);
	write_jpeg(tmp_path(p, "img/train/B/z.jpg"), H, W);
	tmp_write(tmp_path(p, "img/train/README"), "hi", 2); /* ignored */
	write_png(tmp_path(p, "img/test/a/t.png"), 7, H, W);

	for (int threads = 1; threads <= 2; threads++) {
		assert_int_equal(dataset_load(&ds, spec_of(spec, "img"),
					      SPLIT_TRAIN, 0, threads), 0);
		assert_string_equal(ds.kind, "folder");
		assert_int_equal(ds.n, 5);
		assert_int_equal(ds.c, 3);
		assert_int_equal(ds.h, H);
		assert_int_equal(ds.w, W);
		assert_int_equal(ds.classes, 3);
		assert_string_equal(ds.class_names[0], "B");
		assert_string_equal(ds.class_names[1], "a");
		assert_string_equal(ds.class_names[2], "b");
		/* B/z.jpg, a/x.JPEG, a/y.Png, b/10.png, b/2.png */
		const int32_t labels[] = { 0, 1, 1, 2, 2 };
		for (size_t i = 0; i < 5; i++)
			assert_int_equal(ds.labels[i], labels[i]);
		assert_jpeg_image(&ds, 0);
		assert_jpeg_image(&ds, 1);
		assert_png_image(&ds, 2, 5);
		assert_png_image(&ds, 3, 10);
		assert_png_image(&ds, 4, 2);
		dataset_free(&ds);
	}

	assert_int_equal(dataset_load(&ds, spec, SPLIT_TEST, 0, 2), 0);
	assert_int_equal(ds.n, 1);
	assert_int_equal(ds.classes, 1);
	assert_string_equal(ds.class_names[0], "a");
	assert_png_image(&ds, 0, 7);
	dataset_free(&ds);
}

/* Alpha is dropped (not composited), grey is copied to R, G and B. */
static void test_png_formats(void **state)
{
	char p[4096], spec[4200];
	struct dataset ds;
	uint8_t rgba[H * W * 4], grey[H * W];
	png_image pi;
	(void)state;

	for (int k = 0; k < H * W; k++) {
		rgba[4 * k] = (uint8_t)(3 * k);
		rgba[4 * k + 1] = (uint8_t)(5 * k);
		rgba[4 * k + 2] = (uint8_t)(7 * k);
		rgba[4 * k + 3] = (uint8_t)(k % 3 ? 128 : 0);
		grey[k] = (uint8_t)(11 * k);
	}
	tmp_mkdirs(tmp_path(p, "fmt/train/k"));
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	pi.width = W;
	pi.height = H;
	pi.format = PNG_FORMAT_RGBA;
	assert_true(png_image_write_to_file(&pi, tmp_path(p, "fmt/train/k/a.png"),
					    0, rgba, 0, NULL));
	pi.format = PNG_FORMAT_GRAY;
	assert_true(png_image_write_to_file(&pi, tmp_path(p, "fmt/train/k/b.png"),
					    0, grey, 0, NULL));
	assert_int_equal(dataset_load(&ds, spec_of(spec, "fmt"), SPLIT_TRAIN, 0,
				      1), 0);
	assert_int_equal(ds.n, 2);
	for (int k = 0; k < H * W; k++) {
		for (int c = 0; c < 3; c++) {
			assert_int_equal(at(&ds, 0, c, k / W, k % W), rgba[4 * k + c]);
			assert_int_equal(at(&ds, 1, c, k / W, k % W), grey[k]);
		}
	}
	dataset_free(&ds);
}

static void test_folder_errors(void **state)
{
	char p[4096], spec[4200], bad[4096];
	struct dataset ds;
	uint8_t junk[500];
	uint32_t rng = 12345;
	(void)state;

	spec_of(spec, "nothere");
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1),
		     tmp_path(p, "nothere"), "no such folder");

	tmp_mkdirs(tmp_path(p, "e1/train"));
	spec_of(spec, "e1");
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1),
		     tmp_path(p, "e1/test"), "no such folder");
	tmp_write(tmp_path(p, "e1/train/notes.txt"), "x", 1);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1),
		     tmp_path(p, "e1/train"), "no class folders");
	tmp_mkdirs(tmp_path(p, "e1/train/cat"));
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1),
		     tmp_path(p, "e1/train/cat"), "empty class folder");

	/* A file that is not an image. */
	write_png(tmp_path(p, "e1/train/cat/1.png"), 1, H, W);
	tmp_write(tmp_path(bad, "e1/train/cat/notes.txt"), "x", 1);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), bad,
		     "not an image (expected .jpg, .jpeg or .png)");
	remove(bad);

	/* A second image of another size. */
	write_png(tmp_path(bad, "e1/train/cat/2.png"), 2, H, W - 2);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), bad,
		     "image is 8x10 (HxW), expected 8x12 like the first image");
	remove(bad);

	/* Random bytes named .jpg, and a JPEG cut in half. */
	for (size_t i = 0; i < sizeof(junk); i++) {
		rng = rng * 1664525u + 1013904223u;
		junk[i] = (uint8_t)(rng >> 24);
	}
	tmp_write(tmp_path(bad, "e1/train/cat/3.jpg"), junk, sizeof(junk));
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), bad,
		     "corrupt JPEG");
	write_jpeg(bad, H, W);
	struct stat st;
	assert_int_equal(stat(bad, &st), 0);
	assert_int_equal(truncate(bad, st.st_size / 2), 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), bad,
		     "corrupt JPEG");
	remove(bad);
	/* Random bytes named .png, and an empty file. */
	tmp_write(tmp_path(bad, "e1/train/cat/3.png"), junk, sizeof(junk));
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), bad,
		     "corrupt PNG");
	tmp_write(bad, junk, 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), bad,
		     "size 0 out of range");
	remove(bad);
	/* A folder inside a class folder. */
	tmp_mkdirs(tmp_path(bad, "e1/train/cat/sub"));
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), bad,
		     "a folder inside a class folder");
}

/* With several bad images, the one listed first is reported, whatever
 * the threads did. */
static void test_folder_first_error(void **state)
{
	char p[4096], spec[4200], first_bad[4096];
	struct dataset ds;
	(void)state;

	tmp_mkdirs(tmp_path(p, "many/train/a"));
	tmp_mkdirs(tmp_path(p, "many/train/b"));
	for (int i = 0; i < 300; i++) {
		tmp_path(p, "many/train/%c/img%03d.png", i < 150 ? 'a' : 'b', i);
		if (i == 170 || i == 260)
			tmp_write(p, "not a png", 9);
		else
			write_png(p, i, H, W);
	}
	spec_of(spec, "many");
	tmp_path(first_bad, "many/train/b/img170.png");
	for (int threads = 1; threads <= 2; threads++)
		assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, threads),
			     first_bad, "corrupt PNG");

	/* Repaired, it loads the same with 1 and 2 threads. */
	struct dataset two;
	write_png(first_bad, 170, H, W);
	write_png(tmp_path(p, "many/train/b/img260.png"), 260, H, W);
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), 0);
	assert_int_equal(dataset_load(&two, spec, SPLIT_TRAIN, 0, 2), 0);
	assert_int_equal(ds.n, 300);
	assert_int_equal(two.n, 300);
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(ds.labels[i], i < 150 ? 0 : 1);
	assert_png_image(&ds, 0, 0);
	assert_png_image(&ds, 170, 170);
	assert_png_image(&ds, 299, 299);
	assert_memory_equal(ds.images, two.images, 300 * 3 * H * W);
	assert_memory_equal(ds.labels, two.labels, 300 * sizeof(int32_t));
	dataset_free(&two);
	dataset_free(&ds);

	/* A limit keeps an even stride: images 0, 60, 120, 180, 240. */
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TRAIN, 5, 2), 0);
	assert_int_equal(ds.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_png_image(&ds, i, (int)(60 * i));
	dataset_free(&ds);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 16);
	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void test_image_decode(void **state)
{
	char p[4096], err[256];
	struct image img;
	size_t len;
	(void)state;

	assert_int_equal(image_format_from_name("a.jpg"), IMAGE_JPEG);
	assert_int_equal(image_format_from_name("a.JpEg"), IMAGE_JPEG);
	assert_int_equal(image_format_from_name("a.PNG"), IMAGE_PNG);
	assert_int_equal(image_format_from_name(".png"), -1);
	assert_int_equal(image_format_from_name("a.gif"), -1);
	assert_int_equal(image_format_from_name("png"), -1);

	tmp_mkdirs(tmp_path(p, "dec"));
	write_jpeg(tmp_path(p, "dec/a.jpg"), H, W);
	uint8_t *jpg = slurp(p, &len);
	assert_int_equal(image_decode(&img, jpg, len, IMAGE_JPEG, 64, err,
				      sizeof(err)), 0);
	assert_int_equal(img.h, H);
	assert_int_equal(img.w, W);
	assert_true(abs(img.rgb[(2 * W + 3) * 3] - jpeg_pixel(2, 3, 0)) <= 3);
	image_free(&img);
	image_free(&img); /* the struct is zeroed: freeing twice is harmless */
	assert_int_equal(image_decode(&img, jpg, len, IMAGE_JPEG, W - 1, err,
				      sizeof(err)), -1);
	assert_non_null(strstr(err, "JPEG size 8x12 (HxW) out of range"));
	assert_null(img.rgb);
	assert_int_equal(image_decode(&img, jpg, 0, IMAGE_JPEG, 64, err,
				      sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt JPEG"));
	assert_int_equal(image_decode(&img, jpg, len, IMAGE_PNG, 64, err,
				      sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt PNG"));
	free(jpg);
	/* Cut inside the scan data: libjpeg only warns ("premature end"),
	 * and would fill the rest with grey; it is an error here. */
	write_jpeg(tmp_path(p, "dec/b.jpg"), 48, 64);
	jpg = slurp(p, &len);
	assert_true(len > 400);
	assert_int_equal(image_decode(&img, jpg, len - 100, IMAGE_JPEG, 64, err,
				      sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt JPEG data: Premature end"));
	assert_null(img.rgb);
	free(jpg);

	write_png(tmp_path(p, "dec/a.png"), 9, H, W);
	uint8_t *png = slurp(p, &len);
	assert_int_equal(image_decode(&img, png, len, IMAGE_PNG, 64, err,
				      sizeof(err)), 0);
	assert_int_equal(img.rgb[(5 * W + 7) * 3 + 2], png_pixel(9, 5, 7, 2));
	image_free(&img);
	assert_int_equal(image_decode(&img, png, len, IMAGE_PNG, H - 1, err,
				      sizeof(err)), -1);
	assert_non_null(strstr(err, "PNG size 8x12 (HxW) out of range"));
	assert_int_equal(image_decode(&img, png, len / 2, IMAGE_PNG, 64, err,
				      sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt PNG"));
	assert_null(img.rgb);
	free(png);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folder),
		cmocka_unit_test(test_png_formats),
		cmocka_unit_test(test_folder_errors),
		cmocka_unit_test(test_folder_first_error),
		cmocka_unit_test(test_image_decode),
	};
	set_program_name("test_dataset_folder");
	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
