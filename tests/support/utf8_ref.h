/* utf8_ref.h - a reference UTF-8 checker for tests and fuzz targets (not
 * part of the library).  Header-only, so a test and a fuzzer can share it
 * without linking anything.
 *
 * Written for obviousness, not speed, and not as an automaton: a byte is bad
 * when the code point it belongs to can no longer be completed into a valid
 * scalar value (U+0000..U+10FFFF minus surrogates) in its shortest form.  The
 * set of code points a partial sequence can still become is an interval;
 * intersect it with the range the sequence length may encode. */
#ifndef WSV_TEST_UTF8_REF_H
#define WSV_TEST_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

struct ref_result {
  int ok;       /* 1: no bad byte */
  size_t bad;   /* offset of the first bad byte when !ok */
  int complete; /* 1: ends on a code point boundary (only when ok) */
};

/* Whether s[0..k), a lead byte of an n-byte form followed by k-1
 * continuation bytes, can still be completed to a valid code point. */
static inline int ref_possible(const uint8_t *s, size_t k, unsigned n) {
  static const uint32_t lead_mask[5] = {0, 0, 0x1f, 0x0f, 0x07};
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  static const uint32_t max_cp[5] = {0, 0, 0x7ff, 0xffff, 0x10ffff};
  uint32_t cp = s[0] & lead_mask[n], lo, hi;
  unsigned missing = n - (unsigned)k;
  size_t j;

  for (j = 1; j < k; j++)
    cp = (cp << 6) | (s[j] & 0x3fu);
  lo = cp << (6 * missing);
  hi = lo | ((UINT32_C(1) << (6 * missing)) - 1);
  if (hi < min_cp[n] || lo > max_cp[n])
    return 0;
  if (lo < min_cp[n])
    lo = min_cp[n];
  if (hi > max_cp[n])
    hi = max_cp[n];
  if (lo >= 0xd800 && hi <= 0xdfff)
    return 0; /* only surrogates are left */
  return 1;
}

static inline struct ref_result ref_check(const uint8_t *p, size_t len) {
  struct ref_result r = {1, 0, 1};
  size_t i = 0, k;
  unsigned n;

  while (i < len) {
    uint8_t b = p[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b >= 0xc0 && b <= 0xdf)
      n = 2;
    else if (b >= 0xe0 && b <= 0xef)
      n = 3;
    else if (b >= 0xf0 && b <= 0xf7)
      n = 4;
    else
      n = 0; /* a continuation byte or F8..FF cannot start anything */
    if (n == 0 || !ref_possible(p + i, 1, n)) {
      r.ok = 0;
      r.bad = i;
      return r;
    }
    for (k = 1; k < n; k++) {
      if (i + k == len) {
        r.complete = 0;
        return r;
      }
      if ((p[i + k] & 0xc0) != 0x80 || !ref_possible(p + i, k + 1, n)) {
        r.ok = 0;
        r.bad = i + k;
        return r;
      }
    }
    i += n;
  }
  return r;
}

#endif
