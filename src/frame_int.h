/*
 * frame_int.h - private pieces of frame.c, exposed so the tests can check
 * the fast masking loop against its plain byte-at-a-time twin.
 */
#ifndef WSV_FRAME_INT_H
#define WSV_FRAME_INT_H

#include <stddef.h>
#include <stdint.h>

/* wsv__mask_fast - XOR p[0..len) with key, starting at key byte `phase`
 * (0..3), 8 bytes at a time through uint64_t loads and stores (memcpy, so
 * no alignment is needed).  Returns (phase + len) % 4.  Never touches a
 * byte outside p[0..len); `p` may be NULL when len is 0. */
unsigned wsv__mask_fast(uint8_t *p, size_t len, const uint8_t key[4],
                        unsigned phase);

/* wsv__mask_scalar - the plain-C twin of wsv__mask_fast: one byte at a
 * time.  Same contract and same result. */
unsigned wsv__mask_scalar(uint8_t *p, size_t len, const uint8_t key[4],
                          unsigned phase);

#endif /* WSV_FRAME_INT_H */
