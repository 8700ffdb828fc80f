/* A pre-pass over msgpack bytes before msgpack-c unpacks them: msgpack-c
 * allocates an array's or map's elements as soon as it reads the count,
 * so five bytes declaring 2^32 elements ask for 64 GiB. This walk checks
 * every declared count and length against the bytes left (each element
 * takes at least one byte), so what the unpacker then allocates is bounded
 * by the file's size. It checks nothing else; msgpack-c still decides
 * whether the bytes are valid. */
#ifndef PCQ_MSGPACK_BOUNDS_H
#define PCQ_MSGPACK_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

/* 0 when the first msgpack object in buf[0, len) declares no more elements
 * or bytes than remain, or when its walk meets a byte msgpack never uses
 * (0xc1: left to the unpacker to reject); -1 otherwise, *at then being
 * the offset of the object whose count or length does not fit. */
int msgpack_bounds_check(const uint8_t *buf, size_t len, size_t *at);

#endif
