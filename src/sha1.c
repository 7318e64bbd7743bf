/*
 * sha1.c - SHA-1 (FIPS 180-4 §6.1), used only to compute the
 * Sec-WebSocket-Accept value.  SHA-1 is not used for anything that needs
 * collision resistance here: RFC 6455 merely uses it as a fixed mixing step.
 */
#include <string.h>

#include "int.h"

/* The four round constants K_t of FIPS 180-4 §4.2.1. */
#define SHA1_K0 UINT32_C(0x5a827999)
#define SHA1_K1 UINT32_C(0x6ed9eba1)
#define SHA1_K2 UINT32_C(0x8f1bbcdc)
#define SHA1_K3 UINT32_C(0xca62c1d6)

static uint32_t sha1_rotl(uint32_t x, unsigned n) {
  return (x << n) | (x >> (32u - n));
}

static uint32_t sha1_load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void sha1_store_be32(uint8_t *p, uint32_t x) {
  p[0] = (uint8_t)(x >> 24);
  p[1] = (uint8_t)(x >> 16);
  p[2] = (uint8_t)(x >> 8);
  p[3] = (uint8_t)x;
}

/* The schedule word W_t for t >= 16, computed in place in the ring. */
static uint32_t sha1_next_w(uint32_t w[16], unsigned t) {
  w[t & 15] = sha1_rotl(
      w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15], 1);
  return w[t & 15];
}

/* One round: e takes the new word, the others shift (the caller's
 * variables are passed in their rotated order). */
#define SHA1_ROUND(f, k, wt)                                                   \
  do {                                                                         \
    uint32_t tmp_ = sha1_rotl(a, 5) + (f) + e + (k) + (wt);                    \
    e = d;                                                                     \
    d = c;                                                                     \
    c = sha1_rotl(b, 30);                                                      \
    b = a;                                                                     \
    a = tmp_;                                                                  \
  } while (0)

/* Process one 64-byte block (FIPS 180-4 §6.1.2).  The message schedule is
 * kept as a 16-word ring, which is equivalent to the 80-word W_t array.
 * Four loops of 20 rounds, one per function and constant, instead of a
 * choice in every round (a third fewer instructions per block).  Ch and
 * Maj are written in their equivalent shorter forms:
 * Ch = d ^ (b & (c ^ d)), Maj = (b & c) | (d & (b | c)). */
static void sha1_block(uint32_t h[5], const uint8_t *block) {
  uint32_t w[16];
  uint32_t a, b, c, d, e;
  unsigned t;

  for (t = 0; t < 16; t++)
    w[t] = sha1_load_be32(block + 4 * t);

  a = h[0];
  b = h[1];
  c = h[2];
  d = h[3];
  e = h[4];

  for (t = 0; t < 16; t++)
    SHA1_ROUND(d ^ (b & (c ^ d)), SHA1_K0, w[t]);
  for (; t < 20; t++)
    SHA1_ROUND(d ^ (b & (c ^ d)), SHA1_K0, sha1_next_w(w, t));
  for (; t < 40; t++)
    SHA1_ROUND(b ^ c ^ d, SHA1_K1, sha1_next_w(w, t));
  for (; t < 60; t++)
    SHA1_ROUND((b & c) | (d & (b | c)), SHA1_K2, sha1_next_w(w, t));
  for (; t < 80; t++)
    SHA1_ROUND(b ^ c ^ d, SHA1_K3, sha1_next_w(w, t));

  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

void wsv__sha1_init(struct wsv__sha1_ctx *c) {
  /* Initial hash value H(0), FIPS 180-4 §5.3.1. */
  c->h[0] = UINT32_C(0x67452301);
  c->h[1] = UINT32_C(0xefcdab89);
  c->h[2] = UINT32_C(0x98badcfe);
  c->h[3] = UINT32_C(0x10325476);
  c->h[4] = UINT32_C(0xc3d2e1f0);
  c->total = 0;
  c->used = 0;
}

void wsv__sha1_update(struct wsv__sha1_ctx *c, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t n;

  if (len == 0)
    return;
  c->total += (uint64_t)len;

  /* Top up a partly filled block first. */
  if (c->used > 0) {
    n = 64 - c->used;
    if (n > len)
      n = len;
    memcpy(c->buf + c->used, p, n);
    c->used += n;
    p += n;
    len -= n;
    if (c->used < 64)
      return;
    sha1_block(c->h, c->buf);
    c->used = 0;
  }

  /* Whole blocks straight from the caller's memory. */
  while (len >= 64) {
    sha1_block(c->h, p);
    p += 64;
    len -= 64;
  }

  if (len > 0) {
    memcpy(c->buf, p, len);
    c->used = len;
  }
}

void wsv__sha1_final(struct wsv__sha1_ctx *c, uint8_t out[20]) {
  uint64_t bits = c->total * 8u;
  unsigned i;

  /* Padding (FIPS 180-4 §5.1.1): a 1 bit, zeros up to 56 mod 64 bytes, then
   * the message length in bits as a 64-bit big-endian number. */
  c->buf[c->used++] = 0x80;
  if (c->used > 56) {
    memset(c->buf + c->used, 0, 64 - c->used);
    sha1_block(c->h, c->buf);
    c->used = 0;
  }
  memset(c->buf + c->used, 0, 56 - c->used);
  sha1_store_be32(c->buf + 56, (uint32_t)(bits >> 32));
  sha1_store_be32(c->buf + 60, (uint32_t)bits);
  sha1_block(c->h, c->buf);

  for (i = 0; i < 5; i++)
    sha1_store_be32(out + 4 * i, c->h[i]);

  /* Leave no message-derived state behind. */
  memset(c, 0, sizeof(*c));
}

void wsv__sha1(const void *data, size_t len, uint8_t out[20]) {
  struct wsv__sha1_ctx c;

  wsv__sha1_init(&c);
  wsv__sha1_update(&c, data, len);
  wsv__sha1_final(&c, out);
}
