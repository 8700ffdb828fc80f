/* SHA-256 digests as lowercase hex (through nettle). */
#ifndef PCQ_SHA256_H
#define PCQ_SHA256_H

#include <nettle/sha2.h>
#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Incremental: begin, add any number of buffers, end writes 64 hex digits
 * and a NUL into hex. */
struct sha256 {
	struct sha256_ctx ctx;
};
void sha256_begin(struct sha256 *s);
void sha256_add(struct sha256 *s, const void *data, size_t len);
void sha256_end(struct sha256 *s, char hex[SHA256_HEX_LEN + 1]);

/* The digest of one buffer. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);

#endif
