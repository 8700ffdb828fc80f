/* See msgpack_bounds.h; the type bytes are the msgpack specification's
 * (github.com/msgpack/msgpack/blob/master/spec.md, "Formats"). */
#include "msgpack_bounds.h"

/* The big-endian unsigned integer of n bytes at p. */
static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* What one type byte announces: `size_bytes` bytes of big-endian length,
 * count or payload size after it (then `extra` fixed bytes, the ext type),
 * or a fixed payload of `payload` bytes; a container's elements count
 * `per_count` items each (arrays 1, maps 2). */
struct head {
	int size_bytes, extra;
	uint64_t payload;
	int per_count;        /* 0: not a container */
};

static int describe(uint8_t t, struct head *h)
{
	*h = (struct head){0};
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;                                   /* fixint, nil, bool */
	if (t <= 0x8f) {                                    /* fixmap */
		h->payload = t & 0x0f;
		h->per_count = 2;
		return 0;
	}
	if (t <= 0x9f) {                                    /* fixarray */
		h->payload = t & 0x0f;
		h->per_count = 1;
		return 0;
	}
	if (t <= 0xbf) {                                    /* fixstr */
		h->payload = t & 0x1f;
		return 0;
	}
	switch (t) {
	case 0xc4: case 0xc5: case 0xc6:                    /* bin 8/16/32 */
		h->size_bytes = 1 << (t - 0xc4);
		return 0;
	case 0xc7: case 0xc8: case 0xc9:                    /* ext 8/16/32 */
		h->size_bytes = 1 << (t - 0xc7);
		h->extra = 1;
		return 0;
	case 0xca: h->payload = 4; return 0;                /* float 32 */
	case 0xcb: h->payload = 8; return 0;                /* float 64 */
	case 0xcc: case 0xcd: case 0xce: case 0xcf:         /* uint 8..64 */
		h->payload = 1u << (t - 0xcc);
		return 0;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:         /* int 8..64 */
		h->payload = 1u << (t - 0xd0);
		return 0;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:  /* fixext 1..16 */
		h->payload = 1 + (1u << (t - 0xd4));
		return 0;
	case 0xd9: case 0xda: case 0xdb:                    /* str 8/16/32 */
		h->size_bytes = 1 << (t - 0xd9);
		return 0;
	case 0xdc: case 0xdd:                               /* array 16/32 */
		h->size_bytes = 2 << (t - 0xdc);
		h->per_count = 1;
		return 0;
	case 0xde: case 0xdf:                               /* map 16/32 */
		h->size_bytes = 2 << (t - 0xde);
		h->per_count = 2;
		return 0;
	}
	return -1;                                          /* 0xc1: never used */
}

int msgpack_bounds_check(const uint8_t *buf, size_t len, size_t *at)
{
	size_t pos = 0, pending = 1;   /* objects still to read; each >= 1 byte */
	while (pending > 0) {
		*at = pos;
		if (pos >= len)
			return -1;
		struct head h;
		if (describe(buf[pos++], &h))
			return 0;
		pending--;
		size_t left = len - pos;
		if ((size_t)h.size_bytes > left)
			return -1;
		uint64_t n = h.size_bytes ? be(buf + pos, h.size_bytes) : h.payload;
		pos += (size_t)h.size_bytes;
		left -= (size_t)h.size_bytes;
		if (h.per_count) {
			/* n < 2^32: no overflow in n · 2. */
			if (pending > left || n * (uint64_t)h.per_count > left - pending)
				return -1;
			pending += (size_t)n * (size_t)h.per_count;
		} else {
			if ((uint64_t)h.extra > left || n > left - (size_t)h.extra)
				return -1;
			pos += (size_t)h.extra + (size_t)n;
		}
	}
	return 0;
}
