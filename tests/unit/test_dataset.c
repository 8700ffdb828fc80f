/* Tests for dataset.c (KIND:PATH, split names, subset, histogram) and the
 * CIFAR and IDX readers, on small files built in a scratch folder, plus
 * the real Fashion-MNIST when its Debian package is installed. The image
 * folder reader is tested in test_dataset_folder.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <zlib.h>

#include "check.h"
#include "dataset.h"
#include "tmpfiles.h"

#define REC10 3073
#define PIX 3072

/* ---- split names, kinds, KIND:PATH ---- */

static void test_split_names(void **state)
{
	enum split s;
	(void)state;
	assert_string_equal(split_name(SPLIT_TRAIN), "train");
	assert_string_equal(split_name(SPLIT_TEST), "test");
	assert_int_equal(split_parse("train", &s), 0);
	assert_int_equal(s, SPLIT_TRAIN);
	assert_int_equal(split_parse("test", &s), 0);
	assert_int_equal(s, SPLIT_TEST);
	assert_int_equal(split_parse("Train", &s), -1);
	assert_int_equal(split_parse("", &s), -1);
	assert_int_equal(split_parse("val", &s), -1);
}

static void test_bad_specs(void **state)
{
	struct dataset ds;
	(void)state;
	const char *kinds = dataset_kinds();
	assert_non_null(strstr(kinds, "cifar10, cifar100"));
	assert_non_null(strstr(kinds, "mnist"));
	assert_non_null(strstr(kinds, "fashion-mnist"));
	assert_non_null(strstr(kinds, "folder"));
	assert_error(dataset_load(&ds, "nocolon", SPLIT_TRAIN, 0, 1),
		     "'nocolon'", "cifar10, cifar100");
	assert_error(dataset_load(&ds, "imagenet:/x", SPLIT_TRAIN, 0, 1),
		     "unknown data set kind 'imagenet'", "folder");
	assert_error(dataset_load(&ds, "cifar10:", SPLIT_TRAIN, 0, 1),
		     "'cifar10:'", NULL);
	/* ds is zeroed after a failure: freeing it again is harmless. */
	dataset_free(&ds);
	dataset_free(NULL);
	struct dataset zero = { 0 };
	dataset_free(&zero);
}

/* ---- subset and histogram, on a hand-made data set ---- */

static void make_fake(struct dataset *ds, size_t n)
{
	memset(ds, 0, sizeof(*ds));
	ds->n = n;
	ds->c = 1;
	ds->h = 1;
	ds->w = 2;
	ds->classes = 3;
	ds->images = xmalloc(2 * n);
	ds->labels = xmalloc(n * sizeof(int32_t));
	for (size_t i = 0; i < n; i++) {
		ds->images[2 * i] = (uint8_t)i;
		ds->images[2 * i + 1] = (uint8_t)(i * 7);
		ds->labels[i] = (int32_t)(i % 3);
	}
}

static void test_subset(void **state)
{
	struct dataset ds;
	(void)state;
	make_fake(&ds, 10);
	dataset_subset(&ds, 4); /* floor(i*10/4) = 0, 2, 5, 7 */
	assert_int_equal(ds.n, 4);
	const size_t want[] = { 0, 2, 5, 7 };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(ds.images[2 * i], want[i]);
		assert_int_equal(ds.images[2 * i + 1], (uint8_t)(want[i] * 7));
		assert_int_equal(ds.labels[i], want[i] % 3);
	}
	dataset_free(&ds);

	/* Against the plain formula, for every small (n, limit). */
	for (size_t n = 1; n <= 40; n++) {
		for (size_t limit = 1; limit <= 45; limit++) {
			make_fake(&ds, n);
			dataset_subset(&ds, limit);
			size_t keep = limit < n ? limit : n;
			assert_int_equal(ds.n, keep);
			for (size_t i = 0; i < keep; i++) {
				size_t idx = limit < n ? i * n / limit : i;
				assert_int_equal(ds.images[2 * i], idx);
			}
			dataset_free(&ds);
		}
	}
}

static void test_histogram(void **state)
{
	struct dataset ds;
	size_t hist[3];
	(void)state;
	make_fake(&ds, 10); /* labels 0,1,2,0,1,2,0,1,2,0 */
	dataset_label_histogram(&ds, hist);
	assert_int_equal(hist[0], 4);
	assert_int_equal(hist[1], 3);
	assert_int_equal(hist[2], 3);
	dataset_free(&ds);
}

/* ---- CIFAR ---- */

/* Pixel (c, y, x) of record r in file f, and its label. */
static uint8_t cifar_pixel(int f, int r, int c, int y, int x)
{
	return (uint8_t)(f * 37 + r * 11 + c * 5 + y * 3 + x);
}

static int cifar_label(int f, int r)
{
	return (f * 3 + r) % 10;
}

/* Writes `records` CIFAR records to dir/name; label_bytes 1 or 2. */
static void write_cifar(const char *dir, const char *name, int f, int records,
			int label_bytes)
{
	char path[4096];
	size_t rec = (size_t)label_bytes + PIX;
	uint8_t *buf = calloc((size_t)records, rec);
	assert_non_null(buf);
	for (int r = 0; r < records; r++) {
		uint8_t *p = buf + (size_t)r * rec;
		if (label_bytes == 2) {
			p[0] = (uint8_t)(f + r) % 20;         /* coarse */
			p[1] = (uint8_t)(99 - cifar_label(f, r)); /* fine */
		} else {
			p[0] = (uint8_t)cifar_label(f, r);
		}
		for (int c = 0; c < 3; c++)
			for (int y = 0; y < 32; y++)
				for (int x = 0; x < 32; x++)
					p[label_bytes + c * 1024 + y * 32 + x] =
						cifar_pixel(f, r, c, y, x);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	tmp_write(path, buf, (size_t)records * rec);
	free(buf);
}

/* 5 train files of 3 records and a test file of 4, in dir. */
static void write_cifar10(const char *dir)
{
	char name[64];
	tmp_mkdirs(dir);
	for (int f = 1; f <= 5; f++) {
		snprintf(name, sizeof(name), "data_batch_%d.bin", f);
		write_cifar(dir, name, f, 3, 1);
	}
	write_cifar(dir, "test_batch.bin", 0, 4, 1);
}

static uint8_t at(const struct dataset *ds, size_t i, int c, int y, int x)
{
	return ds->images[(((i * (size_t)ds->c + (size_t)c) * (size_t)ds->h +
			    (size_t)y) * (size_t)ds->w) + (size_t)x];
}

static void test_cifar10(void **state)
{
	char dir[4096], spec[4200];
	struct dataset ds;
	size_t hist[10];
	(void)state;

	write_cifar10(tmp_path(dir, "c10/cifar-10-batches-bin"));
	/* The parent folder is accepted as well as the .bin folder. */
	snprintf(spec, sizeof(spec), "cifar10:%s", tmp_path(dir, "c10"));
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 2), 0);
	assert_string_equal(ds.kind, "cifar10");
	assert_string_equal(ds.path, dir);
	assert_int_equal(ds.split, SPLIT_TRAIN);
	assert_int_equal(ds.n, 15);
	assert_int_equal(ds.c, 3);
	assert_int_equal(ds.h, 32);
	assert_int_equal(ds.w, 32);
	assert_int_equal(ds.classes, 10);
	assert_string_equal(ds.class_names[0], "airplane");
	assert_string_equal(ds.class_names[9], "truck");
	for (int f = 1; f <= 5; f++) {
		for (int r = 0; r < 3; r++) {
			size_t i = (size_t)(f - 1) * 3 + (size_t)r;
			assert_int_equal(ds.labels[i], cifar_label(f, r));
			assert_int_equal(at(&ds, i, 0, 0, 0), cifar_pixel(f, r, 0, 0, 0));
			assert_int_equal(at(&ds, i, 1, 5, 7), cifar_pixel(f, r, 1, 5, 7));
			assert_int_equal(at(&ds, i, 2, 31, 30),
					 cifar_pixel(f, r, 2, 31, 30));
		}
	}
	dataset_label_histogram(&ds, hist);
	/* labels (3f + r) % 10 for f = 1..5, r = 0..2 */
	const size_t want[10] = { 1, 1, 1, 2, 2, 2, 2, 2, 1, 1 };
	for (int k = 0; k < 10; k++)
		assert_int_equal(hist[k], want[k]);
	dataset_free(&ds);

	/* The .bin folder itself, the test split, and a limit. */
	snprintf(spec, sizeof(spec), "cifar10:%s",
		 tmp_path(dir, "c10/cifar-10-batches-bin"));
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), 0);
	assert_int_equal(ds.n, 4);
	assert_int_equal(ds.labels[3], cifar_label(0, 3));
	assert_int_equal(at(&ds, 3, 2, 10, 20), cifar_pixel(0, 3, 2, 10, 20));
	dataset_free(&ds);
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TRAIN, 5, 1), 0);
	assert_int_equal(ds.n, 5); /* images 0, 3, 6, 9, 12: record 0 of each file */
	for (int f = 1; f <= 5; f++)
		assert_int_equal(at(&ds, (size_t)f - 1, 1, 1, 1),
				 cifar_pixel(f, 0, 1, 1, 1));
	dataset_free(&ds);
}

static void test_cifar10_names_file(void **state)
{
	char dir[4096], path[4096], spec[4200];
	struct dataset ds;
	(void)state;
	const char names[] = "a0\nb1\nc2\nd3\ne4\nf5\ng6\nh7\ni8\nj9 \n\n";

	write_cifar10(tmp_path(dir, "c10names"));
	tmp_write(tmp_path(path, "c10names/batches.meta.txt"), names,
		  strlen(names));
	snprintf(spec, sizeof(spec), "cifar10:%s", dir);
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), 0);
	assert_string_equal(ds.class_names[0], "a0");
	assert_string_equal(ds.class_names[9], "j9");
	dataset_free(&ds);

	tmp_write(path, "a\nb\n", 4);
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
		     "expected 10 class names, found 2");
}

static void test_cifar10_errors(void **state)
{
	char dir[4096], path[4096], spec[4200];
	struct dataset ds;
	uint8_t junk[1000] = { 0 };
	(void)state;

	snprintf(spec, sizeof(spec), "cifar10:%s", tmp_path(dir, "nothere"));
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), dir,
		     "no such folder");

	tmp_write(tmp_path(path, "afile"), "x", 1);
	snprintf(spec, sizeof(spec), "cifar10:%s", path);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "not a folder");

	/* A file that is not whole records. */
	write_cifar10(tmp_path(dir, "c10size"));
	tmp_write(tmp_path(path, "c10size/data_batch_2.bin"), junk, sizeof(junk));
	snprintf(spec, sizeof(spec), "cifar10:%s", dir);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "size 1000 is not a multiple of the 3073-byte record");
	tmp_write(path, junk, 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "empty file");

	/* A missing batch file. */
	write_cifar10(tmp_path(dir, "c10missing"));
	remove(tmp_path(path, "c10missing/data_batch_3.bin"));
	snprintf(spec, sizeof(spec), "cifar10:%s", dir);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "cannot open");
	/* The test split does not need it. */
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), 0);
	dataset_free(&ds);

	/* A label >= 10 in record 2 of the test file. */
	write_cifar10(tmp_path(dir, "c10label"));
	tmp_path(path, "c10label/test_batch.bin");
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 2 * REC10, SEEK_SET), 0);
	assert_int_equal(fputc(10, f), 10);
	assert_int_equal(fclose(f), 0);
	snprintf(spec, sizeof(spec), "cifar10:%s", dir);
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
		     "record 2: label 10 out of range (expected 0..9)");
}

static void test_cifar100(void **state)
{
	char dir[4096], path[4096], spec[4200];
	struct dataset ds;
	(void)state;

	tmp_mkdirs(tmp_path(dir, "c100/cifar-100-binary"));
	write_cifar(dir, "train.bin", 7, 3, 2);
	write_cifar(dir, "test.bin", 8, 2, 2);
	snprintf(spec, sizeof(spec), "cifar100:%s", tmp_path(dir, "c100"));
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), 0);
	assert_int_equal(ds.n, 3);
	assert_int_equal(ds.c, 3);
	assert_int_equal(ds.classes, 100);
	assert_string_equal(ds.class_names[0], "0");
	assert_string_equal(ds.class_names[99], "99");
	for (int r = 0; r < 3; r++) {
		assert_int_equal(ds.labels[r], 99 - cifar_label(7, r)); /* fine */
		assert_int_equal(at(&ds, (size_t)r, 2, 31, 31),
				 cifar_pixel(7, r, 2, 31, 31));
	}
	dataset_free(&ds);

	/* Class names from fine_label_names.txt. */
	char names[1000];
	size_t len = 0;
	for (int k = 0; k < 100; k++)
		len += (size_t)snprintf(names + len, sizeof(names) - len,
					"class%d\n", k);
	tmp_write(tmp_path(path, "c100/cifar-100-binary/fine_label_names.txt"),
		  names, len);
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), 0);
	assert_int_equal(ds.n, 2);
	assert_string_equal(ds.class_names[42], "class42");
	dataset_free(&ds);

	/* A fine label of 100. */
	uint8_t rec[2 + PIX] = { 0, 100 };
	tmp_write(tmp_path(path, "c100/cifar-100-binary/test.bin"), rec,
		  sizeof(rec));
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
		     "label 100 out of range (expected 0..99)");
	/* Records of CIFAR-10 size are not CIFAR-100 records. */
	uint8_t rec10[REC10] = { 0 };
	tmp_write(path, rec10, sizeof(rec10));
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
		     "size 3073 is not a multiple of the 3074-byte record");
}

/* ---- IDX (MNIST, Fashion-MNIST) ---- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Writes an IDX file: header (magic, dims) then body, gzip'ed when gz. */
static void write_idx(const char *path, uint32_t magic, int ndims,
		      const uint32_t *dims, const uint8_t *body, size_t len,
		      int gz)
{
	uint8_t head[16];
	size_t hl = 4 + 4 * (size_t)ndims;
	put32(head, magic);
	for (int i = 0; i < ndims; i++)
		put32(head + 4 + 4 * i, dims[i]);
	if (!gz) {
		uint8_t *all = malloc(hl + len + 1);
		assert_non_null(all);
		memcpy(all, head, hl);
		if (len)
			memcpy(all + hl, body, len);
		tmp_write(path, all, hl + len);
		free(all);
		return;
	}
	gzFile f = gzopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(gzwrite(f, head, (unsigned)hl), (int)hl);
	if (len)
		assert_int_equal(gzwrite(f, body, (unsigned)len), (int)len);
	assert_int_equal(gzclose(f), Z_OK);
}

/* n images of 3 rows x 5 cols: pixel (i, y, x) = 100 i + 10 y + x. */
static void write_mnist(const char *dir, const char *prefix, uint32_t n,
			int gz)
{
	char path[4096];
	uint8_t pix[64 * 15], lab[64];
	uint32_t dims[3] = { n, 3, 5 };
	CHECK(n <= 64);
	for (uint32_t i = 0; i < n; i++) {
		lab[i] = (uint8_t)((i * 7) % 10);
		for (int y = 0; y < 3; y++)
			for (int x = 0; x < 5; x++)
				pix[i * 15 + (uint32_t)(y * 5 + x)] =
					(uint8_t)(100 * i + 10 * (uint32_t)y +
						  (uint32_t)x);
	}
	snprintf(path, sizeof(path), "%s/%s-images-idx3-ubyte%s", dir, prefix,
		 gz ? ".gz" : "");
	write_idx(path, 0x803, 3, dims, pix, n * 15, gz);
	snprintf(path, sizeof(path), "%s/%s-labels-idx1-ubyte%s", dir, prefix,
		 gz ? ".gz" : "");
	write_idx(path, 0x801, 1, dims, lab, n, gz);
}

static void test_idx(void **state)
{
	char dir[4096], spec[4200];
	struct dataset ds;
	(void)state;

	tmp_mkdirs(tmp_path(dir, "mnist"));
	write_mnist(dir, "train", 6, 0); /* raw */
	write_mnist(dir, "t10k", 4, 1);  /* gzip */
	for (int s = 0; s < SPLIT_COUNT; s++) {
		uint32_t n = s == SPLIT_TRAIN ? 6 : 4;
		snprintf(spec, sizeof(spec), "mnist:%s", dir);
		assert_int_equal(dataset_load(&ds, spec, (enum split)s, 0, 1), 0);
		assert_int_equal(ds.n, n);
		assert_int_equal(ds.c, 1);
		assert_int_equal(ds.h, 3);
		assert_int_equal(ds.w, 5);
		assert_int_equal(ds.classes, 10);
		assert_string_equal(ds.class_names[7], "7");
		for (uint32_t i = 0; i < n; i++) {
			assert_int_equal(ds.labels[i], (i * 7) % 10);
			assert_int_equal(at(&ds, i, 0, 2, 4),
					 (uint8_t)(100 * i + 24));
			assert_int_equal(at(&ds, i, 0, 1, 0),
					 (uint8_t)(100 * i + 10));
		}
		dataset_free(&ds);
	}
	snprintf(spec, sizeof(spec), "fashion-mnist:%s", dir);
	assert_int_equal(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), 0);
	assert_string_equal(ds.class_names[0], "T-shirt/top");
	assert_string_equal(ds.class_names[9], "Ankle boot");
	dataset_free(&ds);
}

static void test_idx_errors(void **state)
{
	char dir[4096], path[4096], spec[4200];
	struct dataset ds;
	uint8_t body[200] = { 0 };
	(void)state;

	tmp_mkdirs(tmp_path(dir, "mnistbad"));
	snprintf(spec, sizeof(spec), "mnist:%s", dir);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1),
		     "train-images-idx3-ubyte.gz", "no such file");

	write_mnist(dir, "train", 4, 1);
	/* Bad magic: a labels file where the images should be. */
	uint32_t dims[3] = { 4, 3, 5 };
	tmp_path(path, "mnistbad/train-images-idx3-ubyte.gz");
	write_idx(path, 0x801, 3, dims, body, 60, 1);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "bad magic 0x00000801 (expected 0x00000803");
	/* Truncated pixels (uncompressed, preferred over the .gz). */
	tmp_path(path, "mnistbad/train-images-idx3-ubyte");
	write_idx(path, 0x803, 3, dims, body, 59, 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "truncated: expected 60 bytes of pixels, found 59");
	/* Trailing data. */
	write_idx(path, 0x803, 3, dims, body, 61, 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "unexpected data after 60 bytes of pixels");
	/* Counts that differ. */
	dims[0] = 3;
	write_idx(path, 0x803, 3, dims, body, 45, 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "3 images, but");
	/* A huge count in a small file: an error, not a huge allocation. */
	dims[0] = 4;
	dims[1] = dims[2] = 5000;
	write_idx(path, 0x803, 3, dims, body, 45, 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "image size 5000x5000 (HxW) out of range");
	/* A truncated header. */
	tmp_write(path, "\0\0\x08\x03\0\0", 6);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "truncated: expected a 16-byte IDX header, found 6");
	remove(path);
	/* A label of 10. */
	uint8_t lab[4] = { 1, 2, 10, 3 };
	tmp_path(path, "mnistbad/train-labels-idx1-ubyte.gz");
	write_idx(path, 0x801, 1, dims, lab, 4, 1);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "label 10 of item 2 out of range (expected 0..9)");
	/* A label count far beyond the data: the buffer grows with the data
	 * read, so this is an error, not a 4 GB allocation. */
	dims[0] = 0xfffffff0u;
	write_idx(path, 0x801, 1, dims, lab, 4, 1);
	assert_error(dataset_load(&ds, spec, SPLIT_TRAIN, 0, 1), path,
		     "truncated: expected 4294967280 bytes of labels, found 4");
	/* A gzip file cut short. */
	struct stat st;
	write_mnist(dir, "t10k", 64, 1);
	tmp_path(path, "mnistbad/t10k-images-idx3-ubyte.gz");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
		     "truncated");
	/* Cut inside the 8-byte trailer (CRC-32, length): every byte of the
	 * data is there, but unchecked (found by fuzz_dataset). */
	for (int cut = 1; cut <= 8; cut++) {
		write_mnist(dir, "t10k", 64, 1);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(truncate(path, st.st_size - cut), 0);
		assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
			     "truncated after 960 bytes of pixels (unexpected end of file)");
	}
	/* A wrong CRC-32. */
	write_mnist(dir, "t10k", 64, 1);
	assert_int_equal(stat(path, &st), 0);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, st.st_size - 8, SEEK_SET), 0);
	int crc0 = fgetc(f);
	assert_int_equal(fseek(f, st.st_size - 8, SEEK_SET), 0);
	fputc(crc0 ^ 1, f);
	assert_int_equal(fclose(f), 0);
	assert_error(dataset_load(&ds, spec, SPLIT_TEST, 0, 1), path,
		     "corrupt: cannot read its IDX header (incorrect data check)");
}

/* ---- the real Fashion-MNIST ---- */

#define FASHION "/usr/share/datasets/fashion-mnist"

static void test_fashion_mnist_real(void **state)
{
	struct dataset ds;
	size_t hist[10];
	(void)state;

	if (access(FASHION "/train-images-idx3-ubyte.gz", R_OK) != 0)
		skip();
	assert_int_equal(dataset_load(&ds, "fashion-mnist:" FASHION,
				      SPLIT_TRAIN, 0, 0), 0);
	assert_int_equal(ds.n, 60000);
	assert_int_equal(ds.c, 1);
	assert_int_equal(ds.h, 28);
	assert_int_equal(ds.w, 28);
	assert_int_equal(ds.labels[0], 9);
	dataset_label_histogram(&ds, hist);
	for (int k = 0; k < 10; k++)
		assert_int_equal(hist[k], 6000);
	dataset_free(&ds);
	assert_int_equal(dataset_load(&ds, "fashion-mnist:" FASHION,
				      SPLIT_TEST, 100, 0), 0);
	assert_int_equal(ds.n, 100);
	dataset_free(&ds);
	assert_int_equal(dataset_load(&ds, "fashion-mnist:" FASHION,
				      SPLIT_TEST, 0, 0), 0);
	assert_int_equal(ds.n, 10000);
	dataset_label_histogram(&ds, hist);
	for (int k = 0; k < 10; k++)
		assert_int_equal(hist[k], 1000);
	dataset_free(&ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_names),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_subset),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_cifar10),
		cmocka_unit_test(test_cifar10_names_file),
		cmocka_unit_test(test_cifar10_errors),
		cmocka_unit_test(test_cifar100),
		cmocka_unit_test(test_idx),
		cmocka_unit_test(test_idx_errors),
		cmocka_unit_test(test_fashion_mnist_real),
	};
	set_program_name("test_dataset");
	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
