/*
 * utf8_int.h - private pieces of utf8.c, exposed so the tests can check the
 * SIMD fast path against its plain-C twin.
 */
#ifndef WSV_UTF8_INT_H
#define WSV_UTF8_INT_H

#include <stddef.h>
#include <stdint.h>

/* wsv__utf8_ascii_span - the length of the longest prefix of p[0..len) that
 * is pure ASCII (bytes below 0x80).  Uses SSE2 when the compiler targets it,
 * otherwise the same as wsv__utf8_ascii_span_scalar.  Never reads outside
 * p[0..len); `p` may be NULL when len is 0. */
size_t wsv__utf8_ascii_span(const uint8_t *p, size_t len);

/* wsv__utf8_ascii_span_scalar - the plain-C twin of wsv__utf8_ascii_span:
 * checks 8 bytes at a time through a uint64_t.  Same contract. */
size_t wsv__utf8_ascii_span_scalar(const uint8_t *p, size_t len);

#endif /* WSV_UTF8_INT_H */
