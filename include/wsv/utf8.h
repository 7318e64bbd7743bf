/*
 * wsv/utf8.h - incremental UTF-8 validation (RFC 3629, as RFC 6455 §8.1
 * requires for text messages and close reasons).
 *
 * Rejects overlong forms, UTF-16 surrogates (U+D800..U+DFFF), code points
 * above U+10FFFF, and the bytes C0, C1, F5..FF.  Accepts noncharacters
 * (U+FFFE, U+FFFF), the BOM and U+0000: they are valid UTF-8.
 *
 * The validator is a small caller-owned value: zero it (or call
 * wsv_utf8_init) before the first chunk.  Chunks may split a code point
 * anywhere; an invalid sequence is reported at the first byte that makes it
 * invalid, not at the end of the message.  Runs of ASCII are checked 8 bytes
 * at a time.
 */
#ifndef WSV_UTF8_H
#define WSV_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Validator state.  Treat the fields as private. */
struct wsv_utf8 {
  uint32_t _state; /* 0 = between code points */
  uint32_t _cp;    /* reserved; zero (private) */
};

/* wsv_utf8_init - reset `v` to "between code points". */
WSV_EXTERN void wsv_utf8_init(struct wsv_utf8 *v);

/* wsv_utf8_feed - validate the next `len` bytes of a stream.
 * Returns WSV_OK if every byte so far can still begin a valid text, or
 * WSV_ERR_UTF8 as soon as a byte cannot; after an error `v` stays failed
 * (every later call returns WSV_ERR_UTF8) until wsv_utf8_init.  If `bad_at`
 * is not NULL, on error *bad_at is the offset in `p` of the first bad byte
 * (the first byte that no valid text could continue with: `ED A0` fails at
 * A0, `E0 80` at 80, a lone 80 or a C0 at itself); on a later call to an
 * already failed `v` it is 0; on success it is left untouched.
 * No byte outside p[0..len) is read.  `p` may be NULL when len is 0. */
WSV_EXTERN int wsv_utf8_feed(struct wsv_utf8 *v, const uint8_t *p, size_t len,
                             size_t *bad_at);

/* wsv_utf8_is_complete - nonzero when the stream fed so far ends on a code
 * point boundary (so a message may end here).  A stream that ends inside a
 * code point is invalid: the caller reports WSV_ERR_UTF8. */
WSV_EXTERN int wsv_utf8_is_complete(const struct wsv_utf8 *v);

/* wsv_utf8_valid - one-shot check of a whole buffer: WSV_OK or
 * WSV_ERR_UTF8 (including a buffer that ends inside a code point). */
WSV_EXTERN int wsv_utf8_valid(const uint8_t *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* WSV_UTF8_H */
