/* json_string: RFC 8259 escapes, well-formed UTF-8 kept as it is, and any
 * other byte replaced by U+FFFD, so that --json output is valid JSON for
 * any bytes a file or a command line holds; checked on chosen strings and
 * on random bytes, whose output glibc's iconv must accept as UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *to_json(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	assert_non_null(fp);
	json_string(fp, s);
	fclose(fp);
	return out;
}

static void expect(const char *in, const char *want)
{
	char *got = to_json(in);
	if (strcmp(got, want) != 0)
		fail_msg("json_string gave %s, expected %s", got, want);
	free(got);
}

static void test_escapes(void **state)
{
	(void)state;
	expect("plain", "\"plain\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("\n\r\t\x01\x1f", "\"\\n\\r\\t\\u0001\\u001f\"");
	expect("", "\"\"");
}

static void test_utf8(void **state)
{
	(void)state;
	/* Well formed: é (2 bytes), € (3), U+FFFF, 😀 (4), U+10FFFF. */
	expect("caf\xc3\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
	       "\"caf\xc3\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
	/* Latin-1 é; a lone continuation byte; bytes never used in UTF-8. */
	expect("caf\xe9", "\"caf\\ufffd\"");
	expect("\x80x\xbf", "\"\\ufffdx\\ufffd\"");
	expect("\xc0\xc1\xf5\xff", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* Overlong '/' (C0 AF, E0 80 AF), a surrogate (ED A0 80), above
	 * U+10FFFF (F4 90 80 80): every byte replaced. */
	expect("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* A sequence cut by the end of the string, or by an ASCII byte. */
	expect("\xe2\x82", "\"\\ufffd\\ufffd\"");
	expect("\xf0\x9f\x98!", "\"\\ufffd\\ufffd\\ufffd!\"");
}

/* glibc's iconv accepts exactly well-formed UTF-8 (it refuses overlong
 * forms, surrogates and code points above U+10FFFF): an independent judge
 * of the output. Declared here: <iconv.h> resolves to common/iconv.h
 * (the integer convolution) under the project's -Icommon. */
typedef void *iconv_t;
iconv_t iconv_open(const char *to, const char *from);
size_t iconv(iconv_t cd, char **in, size_t *in_left, char **out, size_t *out_left);
int iconv_close(iconv_t cd);

static int valid_utf8(const char *s)
{
	iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
	assert_true(cd != (iconv_t)-1);
	char *in = (char *)s, buf[4096];
	size_t left = strlen(s);
	int ok = 1;
	while (left > 0 && ok) {
		char *out = buf;
		size_t room = sizeof(buf);
		if (iconv(cd, &in, &left, &out, &room) == (size_t)-1 && errno != E2BIG)
			ok = 0;
	}
	iconv_close(cd);
	return ok;
}

static void test_random_bytes(void **state)
{
	(void)state;
	uint64_t x = 88172645463325252u;   /* xorshift64 */
	char s[33];
	for (int t = 0; t < 20000; t++) {
		int n = 1 + t % 32;
		for (int i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Mostly high bytes, where UTF-8's rules are. */
			s[i] = (char)(x % 5 ? 0x80 + x % 0x80 : 1 + (x >> 8) % 0x7f);
		}
		s[n] = 0;
		char *j = to_json(s);
		if (!valid_utf8(j))
			fail_msg("output for input %d is not UTF-8", t);
		free(j);
	}
	/* The checker itself refuses a raw Latin-1 byte and a surrogate. */
	assert_false(valid_utf8("caf\xe9"));
	assert_false(valid_utf8("\xed\xa0\x80"));
}

static void test_numbers(void **state)
{
	(void)state;
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	json_number(fp, NAN);
	fputc(' ', fp);
	json_number(fp, 0.1);
	fputc(' ', fp);
	json_number(fp, -INFINITY);
	fclose(fp);
	assert_string_equal(out, "null 0.1 null");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
