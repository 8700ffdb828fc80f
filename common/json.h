/* Just enough JSON output for --json: strings escaped per RFC 8259 (bytes
 * that are not well-formed UTF-8 become U+FFFD, so the output is valid
 * JSON whatever a file or a command line held) and numbers that stay
 * valid JSON (non-finite floats become null). */
#ifndef PCQ_JSON_H
#define PCQ_JSON_H

#include <stdio.h>

void json_string(FILE *fp, const char *s);
void json_number(FILE *fp, double v);

#endif
