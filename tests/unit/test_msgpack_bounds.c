/* msgpack_bounds_check against msgpack-c's own encoder: an object holding
 * every msgpack format passes whole, fails cut anywhere short of its end,
 * and counts or lengths larger than the bytes left fail before msgpack-c
 * would allocate for them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "msgpack_bounds.h"
#include "pcqfile.h"

#include <msgpack.h>
#include <string.h>

/* One array of every format msgpack-c writes, each size class of str,
 * bin, ext, array and map included (fixstr/str8/16/32 by length). */
static void pack_every_format(msgpack_sbuffer *sb)
{
	static char bytes[70000];
	msgpack_packer pk;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	const size_t lengths[] = { 0, 5, 31, 32, 255, 256, 65535, 65536 };
	const size_t n_len = sizeof(lengths) / sizeof(lengths[0]);
	msgpack_pack_array(&pk, 17 + 4 * n_len + 5 + 4);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_uint64(&pk, 7);                    /* fixint */
	msgpack_pack_uint64(&pk, 200);                  /* uint 8 */
	msgpack_pack_uint64(&pk, 60000);                /* uint 16 */
	msgpack_pack_uint64(&pk, 4000000000u);          /* uint 32 */
	msgpack_pack_uint64(&pk, UINT64_MAX);           /* uint 64 */
	msgpack_pack_int64(&pk, -5);                    /* negative fixint */
	msgpack_pack_int64(&pk, -100);                  /* int 8 */
	msgpack_pack_int64(&pk, -30000);                /* int 16 */
	msgpack_pack_int64(&pk, -2000000000);           /* int 32 */
	msgpack_pack_int64(&pk, INT64_MIN);             /* int 64 */
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, -2.25);
	msgpack_pack_map(&pk, 1);                       /* fixmap */
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_int64(&pk, 1);
	msgpack_pack_array(&pk, 0);
	for (size_t i = 0; i < n_len; i++) {
		msgpack_pack_str_with_body(&pk, bytes, lengths[i]);
		msgpack_pack_bin_with_body(&pk, bytes, lengths[i]);
		msgpack_pack_ext_with_body(&pk, bytes, lengths[i], 3);  /* fixext at 1..16 */
		msgpack_pack_v4raw(&pk, lengths[i] % 40);
		msgpack_pack_v4raw_body(&pk, bytes, lengths[i] % 40);
	}
	for (size_t n = 1; n <= 16; n *= 2)             /* fixext 1, 2, 4, 8, 16 */
		msgpack_pack_ext_with_body(&pk, bytes, n, 1);
	size_t counts[] = { 15, 16, 65535, 65536 };   /* fix, 16, 16, 32 */
	for (int i = 0; i < 4; i++) {
		if (i % 2) {
			msgpack_pack_map(&pk, counts[i] / 2);
			for (size_t k = 0; k < counts[i]; k++)
				msgpack_pack_int64(&pk, (int64_t)k);
		} else {
			msgpack_pack_array(&pk, counts[i]);
			for (size_t k = 0; k < counts[i]; k++)
				msgpack_pack_nil(&pk);
		}
	}
}

static void test_every_format(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	pack_every_format(&sb);
	const uint8_t *b = (const uint8_t *)sb.data;
	size_t at;
	assert_int_equal(msgpack_bounds_check(b, sb.size, &at), 0);
	/* msgpack-c reads it back as one object: the pack above is well formed. */
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, sb.size);
	msgpack_unpacked_destroy(&u);
	/* Cuts short of the end (every one within 1000 bytes of either end, every
	 * 997th between): the last object no longer fits. */
	for (size_t cut = 0; cut < sb.size; cut += cut < 1000 || sb.size - cut < 1000 ? 1 : 997)
		if (msgpack_bounds_check(b, cut, &at) != -1)
			fail_msg("a cut to %zu of %zu bytes passed", cut, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void test_large_counts(void **state)
{
	(void)state;
	size_t at;
	/* array 32 of 2^32 − 1 elements in 5 bytes: msgpack-c would ask for 64 GiB. */
	const uint8_t array32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(msgpack_bounds_check(array32, sizeof(array32), &at), -1);
	assert_int_equal(at, 0);
	/* A map of 3 pairs needs 6 more bytes; 5 is one short, 6 fits. */
	const uint8_t map[] = { 0x83, 1, 2, 3, 4, 5, 6 };
	assert_int_equal(msgpack_bounds_check(map, 6, &at), -1);
	assert_int_equal(msgpack_bounds_check(map, 7, &at), 0);
	/* Nested: the inner array's 2 elements do not fit beside the outer
	 * array's other element. */
	const uint8_t nested[] = { 0x92, 0x92, 0x01, 0x02 };
	assert_int_equal(msgpack_bounds_check(nested, sizeof(nested), &at), -1);
	assert_int_equal(at, 1);
	/* str 32 and bin 32 lengths past the end. */
	const uint8_t str32[] = { 0xdb, 0x00, 0x00, 0x00, 0x02, 'a' };
	assert_int_equal(msgpack_bounds_check(str32, sizeof(str32), &at), -1);
	const uint8_t bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 0 };
	assert_int_equal(msgpack_bounds_check(bin32, sizeof(bin32), &at), -1);
	/* ext 8 counts its type byte: 1 byte of data needs 2 after the length. */
	const uint8_t ext8[] = { 0xc7, 0x01, 0x05, 0xaa };
	assert_int_equal(msgpack_bounds_check(ext8, 3, &at), -1);
	assert_int_equal(msgpack_bounds_check(ext8, 4, &at), 0);
	/* 0xc1 is left to msgpack-c, which rejects it. */
	const uint8_t unused[] = { 0xc1 };
	assert_int_equal(msgpack_bounds_check(unused, 1, &at), 0);
	/* Trailing bytes are not its business either. */
	const uint8_t trailing[] = { 0x01, 0x02 };
	assert_int_equal(msgpack_bounds_check(trailing, 2, &at), 0);
}

static void test_reader_refuses_before_allocating(void **state)
{
	(void)state;
	/* The root map declares 2^32 − 1 pairs; under AddressSanitizer the
	 * 128 GiB msgpack-c would allocate fails the test (it did). */
	const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa6, 'f', 'o', 'r', 'm', 'a', 't' };
	struct pcqfile f;
	assert_int_equal(pcqfile_parse(&f, "map32", map32, sizeof(map32), KIND_ANY), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_format),
		cmocka_unit_test(test_large_counts),
		cmocka_unit_test(test_reader_refuses_before_allocating),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
