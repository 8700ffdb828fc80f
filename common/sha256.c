/* SHA-256 digests as lowercase hex; see sha256.h. */
#include "sha256.h"

#include <stdint.h>

void sha256_begin(struct sha256 *s)
{
	sha256_init(&s->ctx);
}

void sha256_add(struct sha256 *s, const void *data, size_t len)
{
	sha256_update(&s->ctx, len, data);
}

void sha256_end(struct sha256 *s, char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_digest(&s->ctx, sizeof(digest), digest);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[SHA256_HEX_LEN] = '\0';
}

void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256 s;
	sha256_begin(&s);
	sha256_add(&s, data, len);
	sha256_end(&s, hex);
}
