/*
 * frame_int.h - private pieces of frame.c, exposed so the tests can check
 * the fast masking loop against its plain byte-at-a-time twin.
 */
#ifndef WSV_FRAME_INT_H
#define WSV_FRAME_INT_H

#include <stddef.h>
#include <stdint.h>

/* wsv__mask_fast - XOR p[0..len) with key, starting at key byte `phase`
 * (only its low 2 bits are used).  Works in 16-byte blocks (SSE2 on
 * x86-64, NEON on little-endian AArch64, two uint64_t words elsewhere;
 * 32-byte AVX2 blocks for payloads of 256 bytes and up on a CPU that has
 * AVX2), then an 8-byte word, a 4-byte word and single bytes; unaligned
 * loads and stores, so `p` needs no alignment.  Returns (phase + len) % 4.
 * Never touches a byte outside p[0..len); `p` may be NULL when len is 0. */
unsigned wsv__mask_fast(uint8_t *p, size_t len, const uint8_t key[4],
                        unsigned phase);

/* wsv__mask_scalar - the plain-C twin of wsv__mask_fast: one byte at a
 * time.  Same contract and same result. */
unsigned wsv__mask_scalar(uint8_t *p, size_t len, const uint8_t key[4],
                          unsigned phase);

#endif /* WSV_FRAME_INT_H */
