/*
 * int.h - internal declarations shared by the core's source files.
 * Nothing here is installed; symbols are wsv__-prefixed and hidden.
 */
#ifndef WSV_INT_H
#define WSV_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wsv.h"

#if defined(__GNUC__) || defined(__clang__)
#define WSV__LIKELY(x) __builtin_expect(!!(x), 1)
#define WSV__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WSV__LIKELY(x) (x)
#define WSV__UNLIKELY(x) (x)
#endif

/* ---- mem.c: the only place that calls the allocator ---------------------
 * wsv__mem_init copies `user` (or the libc defaults when NULL) into `m`. */
void wsv__mem_init(struct wsv_mem *m, const struct wsv_mem *user);
void *wsv__malloc(const struct wsv_mem *m, size_t n);
void *wsv__calloc(const struct wsv_mem *m, size_t n);
void *wsv__realloc(const struct wsv_mem *m, void *p, size_t n);
void wsv__free(const struct wsv_mem *m, void *p);

/* ---- sha1.c ---------------------------------------------------------------
 * SHA-1 of data[0..len) into out[20].  (Only used for Sec-WebSocket-Accept.) */
void wsv__sha1(const void *data, size_t len, uint8_t out[20]);

/* Incremental form, for hashing key + GUID without a copy. */
struct wsv__sha1_ctx {
  uint32_t h[5];
  uint64_t total;
  uint8_t buf[64];
  size_t used;
};
void wsv__sha1_init(struct wsv__sha1_ctx *c);
void wsv__sha1_update(struct wsv__sha1_ctx *c, const void *data, size_t len);
void wsv__sha1_final(struct wsv__sha1_ctx *c, uint8_t out[20]);

/* ---- base64.c (RFC 4648 §4 alphabet, with padding) -------------------------
 * wsv__base64_encode writes 4*ceil(len/3) chars to out (no NUL) and returns
 * that count.  wsv__base64_decode decodes exactly `len` chars of canonical
 * padded base64 (length a multiple of 4, '=' only at the end, unused bits of
 * the last char zero) into out (capacity `cap`); returns the decoded length,
 * or -1 if the input is not canonical base64 or out is too small. */
size_t wsv__base64_encode(const uint8_t *in, size_t len, char *out);
long wsv__base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* ---- accept.c: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) ----------
 * `key` is the key header value exactly as sent (24 chars for a valid key);
 * out receives 28 chars, no NUL. */
#define WSV__GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
void wsv__accept_value(const char *key, size_t key_len, char out[28]);

/* ---- deflate.c: raw zlib streams for permessage-deflate ------------------
 * A stream allocates through a copy of `m` (zlib's state included).
 * Inflaters take the peer's window bits (raised to 9); deflaters 9..15. */
#define WSV__Z_MEM_LEVEL 8
struct wsv__z;
int wsv__z_inflater_new(struct wsv__z **out, const struct wsv_mem *m, int bits);
/* mem_level 0 means WSV__Z_MEM_LEVEL, else 1..9 (zlib's memLevel). */
int wsv__z_deflater_new(struct wsv__z **out, const struct wsv_mem *m, int bits,
                        int mem_level);
int wsv__z_bits(const struct wsv__z *z);
void wsv__z_free(struct wsv__z *z); /* NULL is fine */
/* Inflate from *in (advanced past what was used) into out[0..cap);
 * *produced gets the bytes written.  Returns WSV_OK (call again while
 * output fills up; no output and input left means more input is needed),
 * 1 when the deflate stream ended (a block with BFINAL: the rest of *in
 * is not part of it), WSV_ERR_INFLATE or WSV_ERR_NOMEM. */
int wsv__z_inflate(struct wsv__z *z, const uint8_t **in, size_t *in_len,
                   uint8_t *out, size_t cap, size_t *produced);
/* Start a new stream after one ended, keeping the window when asked. */
int wsv__z_inflate_restart(struct wsv__z *z, int keep_window);
/* Compress in[0..len) with a sync flush, appending to *buf (grown through
 * `bm`, which the caller frees it with; *blen bytes used of *bcap).  The
 * output ends with the empty stored block 00 00 ff ff when len > 0.
 * WSV_OK or WSV_ERR_NOMEM. */
int wsv__z_deflate(struct wsv__z *z, const uint8_t *in, size_t len,
                   const struct wsv_mem *bm, uint8_t **buf, size_t *blen,
                   size_t *bcap);
int wsv__z_deflate_reset(struct wsv__z *z);
/* The stream's window: the last min(2^bits, seen) bytes it compressed or
 * inflated (a set dictionary counts), copied to buf (room for 2^bits
 * bytes); *len gets the count.  Called between messages (after a sync
 * flush, or a whole inflated message).  WSV_OK or WSV_ERR_INFLATE. */
int wsv__z_window(struct wsv__z *z, uint8_t *buf, size_t *len);
/* Prime a stream with dict[0..len) as its history (only its last 2^bits
 * bytes are used): a deflater is reset first and may then refer to it;
 * an inflater must be fresh (just made).  WSV_OK, WSV_ERR_NOMEM
 * (deflater) or WSV_ERR_INFLATE (inflater). */
int wsv__z_prime(struct wsv__z *z, const uint8_t *dict, size_t len);
/* About how many bytes the stream's zlib state takes (zlib's own sizes;
 * mem_level as for wsv__z_deflater_new, ignored for an inflater). */
size_t wsv__z_bytes(const struct wsv__z *z, int mem_level);
/* The shared compressor's deflater (made on first use), reset and primed
 * with dict[0..len), for one whole message; it stays the shared one's.
 * WSV_OK or WSV_ERR_NOMEM (then *out is NULL). */
int wsv__pmd_shared_get(struct wsv_pmd_shared *s, const uint8_t *dict,
                        size_t len, struct wsv__z **out);

#endif /* WSV_INT_H */
