/* JSON output helpers; see json.h. */
#include "json.h"

#include <math.h>
#include <stdlib.h>

/* The length of the well-formed UTF-8 sequence at p (Unicode 15, table
 * 3-7: no overlong forms, surrogates or code points above U+10FFFF), or 0. */
static int utf8_length(const unsigned char *p)
{
	unsigned char c = p[0];
	int n;
	unsigned char lo = 0x80, hi = 0xbf;   /* the second byte's range */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)   /* a NUL ends the check here too */
			return 0;
	return n;
}

void json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* Strings hold bytes (a file name from the command line may be
		 * Latin-1); JSON must be UTF-8: each byte of an ill-formed
		 * sequence becomes U+FFFD. */
		int n = utf8_length(p);
		if (n == 0) {
			fputs("\\ufffd", fp);
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, (size_t)n, fp);
			p += n - 1;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		default:
			if (*p < 0x20)
				fprintf(fp, "\\u%04x", *p);
			else
				fputc(*p, fp);
		}
	}
	fputc('"', fp);
}

void json_number(FILE *fp, double v)
{
	if (!isfinite(v)) {
		fputs("null", fp);
		return;
	}
	/* The shortest of %.15g and %.17g that reads back as the same double. */
	char buf[32];
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	fputs(buf, fp);
}
