/*
 * fuzz/utf8.c - libFuzzer target for the incremental UTF-8 validator.
 *
 * Input layout: the first two bytes choose a split point, the rest is the
 * text.  The validator's verdict, first-bad offset and completeness are
 * compared with a reference decoder written here, both one-shot and with
 * the text fed in two chunks.  Any disagreement aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wsv/utf8.h"
#include "wsv/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ref {
  int ok;       /* no bad byte */
  size_t bad;   /* offset of the first bad byte when !ok */
  int complete; /* ends on a code point boundary */
};

/* The reference: decode code point by code point.  After each byte of a
 * multi-byte form, compute the interval of code points the bytes so far can
 * still become and check that it still meets the form's legal range
 * (shortest form, at most U+10FFFF, not only surrogates). */
static int fuzz_possible(const uint8_t *s, size_t k, unsigned n) {
  static const uint32_t mask[5] = {0, 0, 0x1f, 0x0f, 0x07};
  static const uint32_t lo_ok[5] = {0, 0, 0x80, 0x800, 0x10000};
  static const uint32_t hi_ok[5] = {0, 0, 0x7ff, 0xffff, 0x10ffff};
  unsigned missing = n - (unsigned)k;
  uint32_t cp = s[0] & mask[n], lo, hi;
  size_t j;

  for (j = 1; j < k; j++)
    cp = (cp << 6) | (s[j] & 0x3fu);
  lo = cp << (6 * missing);
  hi = lo + ((UINT32_C(1) << (6 * missing)) - 1);
  if (hi < lo_ok[n] || lo > hi_ok[n])
    return 0;
  if (lo < lo_ok[n])
    lo = lo_ok[n];
  if (hi > hi_ok[n])
    hi = hi_ok[n];
  return !(lo >= 0xd800 && hi <= 0xdfff);
}

static struct fuzz_ref fuzz_reference(const uint8_t *p, size_t len) {
  struct fuzz_ref r = {1, 0, 1};
  size_t i = 0, k;
  unsigned n;

  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    n = (p[i] >= 0xc0 && p[i] <= 0xdf)   ? 2
        : (p[i] >= 0xe0 && p[i] <= 0xef) ? 3
        : (p[i] >= 0xf0 && p[i] <= 0xf7) ? 4
                                         : 0;
    if (n == 0 || !fuzz_possible(p + i, 1, n)) {
      r.ok = 0;
      r.bad = i;
      return r;
    }
    for (k = 1; k < n; k++) {
      if (i + k == len) {
        r.complete = 0;
        return r;
      }
      if ((p[i + k] & 0xc0) != 0x80 || !fuzz_possible(p + i, k + 1, n)) {
        r.ok = 0;
        r.bad = i + k;
        return r;
      }
    }
    i += n;
  }
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wsv_utf8 v;
  struct fuzz_ref want;
  const uint8_t *p;
  size_t len, split, bad = (size_t)-1;
  int rc1, rc2;

  if (size < 2)
    return 0;
  p = data + 2;
  len = size - 2;
  split = ((size_t)data[0] | ((size_t)data[1] << 8)) % (len + 1);
  want = fuzz_reference(p, len);

  /* One-shot. */
  if ((wsv_utf8_valid(p, len) == WSV_OK) != (want.ok && want.complete))
    abort();
  wsv_utf8_init(&v);
  rc1 = wsv_utf8_feed(&v, p, len, &bad);
  if (want.ok) {
    if (rc1 != WSV_OK || bad != (size_t)-1 ||
        (wsv_utf8_is_complete(&v) != 0) != want.complete)
      abort();
  } else if (rc1 != WSV_ERR_UTF8 || bad != want.bad ||
             wsv_utf8_is_complete(&v)) {
    abort();
  }

  /* Two chunks: the error must come with the chunk that holds the first
   * bad byte, at the same absolute offset. */
  wsv_utf8_init(&v);
  bad = (size_t)-1;
  rc1 = wsv_utf8_feed(&v, p, split, &bad);
  if (!want.ok && want.bad < split) {
    if (rc1 != WSV_ERR_UTF8 || bad != want.bad)
      abort();
    if (wsv_utf8_feed(&v, p + split, len - split, &bad) != WSV_ERR_UTF8 ||
        bad != 0)
      abort();
    return 0;
  }
  if (rc1 != WSV_OK)
    abort();
  rc2 = wsv_utf8_feed(&v, p + split, len - split, &bad);
  if (want.ok) {
    if (rc2 != WSV_OK || (wsv_utf8_is_complete(&v) != 0) != want.complete)
      abort();
  } else if (rc2 != WSV_ERR_UTF8 || bad != want.bad - split ||
             wsv_utf8_is_complete(&v)) {
    abort();
  }
  return 0;
}
