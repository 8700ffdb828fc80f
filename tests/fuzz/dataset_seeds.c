/* Writes the seeds of the data set fuzz target into the folder given
 * (tests/fuzz/corpus/fuzz_dataset/ok-*): tiny valid inputs for each of
 * fuzz_dataset.c's readers, in its layout (a selector byte; for two files,
 * the first one's 16-bit little-endian length). Run by
 * tests/fuzz/make_seeds.sh; the files are committed.
 * Usage: dataset_seeds DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

enum { JPEG, PNG, IDX, CIFAR, FOLDER };

struct buf {
	uint8_t *p;
	size_t n;
};

static void die(const char *what)
{
	fprintf(stderr, "dataset_seeds: %s\n", what);
	exit(1);
}

static void add(struct buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n);
	if (!b->p)
		die("out of memory");
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void add_be32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	add(b, x, 4);
}

/* A pixel pattern, so that images differ. */
static uint8_t pixel(int seed, int y, int x, int c)
{
	return (uint8_t)(seed * 53 + y * 29 + x * 17 + c * 71);
}

static struct buf jpeg(int h, int w, int components, int progressive)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long size = 0;

	cinfo.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, &out, &size);
	cinfo.image_width = (JDIMENSION)w;
	cinfo.image_height = (JDIMENSION)h;
	cinfo.input_components = components;
	cinfo.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, 90, TRUE);
	if (progressive)
		jpeg_simple_progression(&cinfo);
	jpeg_start_compress(&cinfo, TRUE);
	uint8_t row[64 * 3];
	while (cinfo.next_scanline < cinfo.image_height) {
		int y = (int)cinfo.next_scanline;
		for (int x = 0; x < w; x++)
			for (int c = 0; c < components; c++)
				row[x * components + c] = pixel(1, y, x, c);
		JSAMPROW p = row;
		jpeg_write_scanlines(&cinfo, &p, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	struct buf b = { 0 };
	add(&b, out, size);
	free(out);
	return b;
}

static struct buf png(int h, int w, png_uint_32 format)
{
	png_image pi;
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	pi.width = (png_uint_32)w;
	pi.height = (png_uint_32)h;
	pi.format = format;
	size_t n = PNG_IMAGE_SIZE(pi);
	uint8_t *px = malloc(n);
	for (size_t i = 0; i < n; i++)
		px[i] = pixel(2, (int)(i / (size_t)w), (int)(i % (size_t)w), 0);
	png_alloc_size_t size = 0;
	if (!png_image_write_to_memory(&pi, NULL, &size, 0, px, 0, NULL))
		die("png size");
	struct buf b = { malloc(size), size };
	if (!png_image_write_to_memory(&pi, b.p, &size, 0, px, 0, NULL))
		die(pi.message);
	free(px);
	return b;
}

static struct buf gzip(const struct buf *raw)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header, as the .gz files of the releases have */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2");
	struct buf b = { malloc(deflateBound(&z, raw->n) + 32), 0 };
	z.next_in = raw->p;
	z.avail_in = (uInt)raw->n;
	z.next_out = b.p;
	z.avail_out = (uInt)(deflateBound(&z, raw->n) + 32);
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		die("deflate");
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

/* A seed of one file: the selector, the file. */
static void write_one(const char *dir, const char *name, int reader, const struct buf *f)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/ok-%s", dir, name);
	FILE *fp = fopen(path, "wb");
	uint8_t sel = (uint8_t)reader;
	if (!fp || fwrite(&sel, 1, 1, fp) != 1 || fwrite(f->p, 1, f->n, fp) != f->n ||
	    fclose(fp) != 0)
		die(path);
}

/* A seed of two files: the selector, a's length, a, b. */
static void write_two(const char *dir, const char *name, int reader, const struct buf *a,
		      const struct buf *b)
{
	struct buf both = { 0 };
	uint8_t len[2] = { (uint8_t)a->n, (uint8_t)(a->n >> 8) };
	if (a->n > 0xffff)
		die("first file too long");
	add(&both, len, 2);
	add(&both, a->p, a->n);
	add(&both, b->p, b->n);
	write_one(dir, name, reader, &both);
	free(both.p);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: dataset_seeds DIR");
	const char *dir = argv[1];

	struct buf j = jpeg(5, 4, 3, 0), jg = jpeg(3, 7, 1, 1);
	write_one(dir, "jpeg-rgb.jpg", JPEG, &j);
	write_one(dir, "jpeg-grey-progressive.jpg", JPEG, &jg);
	struct buf p = png(5, 4, PNG_FORMAT_RGB), pa = png(2, 3, PNG_FORMAT_RGBA),
		   pg = png(4, 2, PNG_FORMAT_GRAY);
	write_one(dir, "png-rgb.png", PNG, &p);
	write_one(dir, "png-rgba.png", PNG, &pa);
	write_one(dir, "png-grey.png", PNG, &pg);

	/* Fashion-MNIST: 3 labels, 3 images of 2x3, raw and gzip. */
	struct buf labels = { 0 }, images = { 0 };
	add_be32(&labels, 0x801);
	add_be32(&labels, 3);
	add(&labels, (uint8_t[]){ 9, 0, 4 }, 3);
	add_be32(&images, 0x803);
	add_be32(&images, 3);
	add_be32(&images, 2);
	add_be32(&images, 3);
	for (int i = 0; i < 3 * 2 * 3; i++)
		add(&images, &(uint8_t){ pixel(3, i / 3, i % 3, 0) }, 1);
	write_two(dir, "idx", IDX, &labels, &images);
	struct buf zl = gzip(&labels), zi = gzip(&images);
	write_two(dir, "idx-gzip", IDX, &zl, &zi);

	/* CIFAR-10: 2 records, with and without the class-name file. */
	struct buf records = { 0 }, names = { 0 }, none = { 0 };
	for (int r = 0; r < 2; r++) {
		add(&records, &(uint8_t){ (uint8_t)(7 * r + 1) }, 1);
		for (int i = 0; i < 3 * 32 * 32; i++)
			add(&records, &(uint8_t){ pixel(r, i / 32, i % 32, i / 1024) }, 1);
	}
	const char *text = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
	add(&names, text, strlen(text));
	write_two(dir, "cifar10", CIFAR, &names, &records);
	write_two(dir, "cifar10-no-names", CIFAR, &none, &records);

	/* Image folder: class a's PNG and class b's JPEG, both 5x4. */
	write_two(dir, "folder", FOLDER, &p, &j);
	write_two(dir, "folder-one-class", FOLDER, &pa, &none);

	struct buf *all[] = { &j, &jg, &p, &pa, &pg, &labels, &images, &zl, &zi, &records, &names };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->p);
	return 0;
}
