/* utf8_test.c - the incremental UTF-8 validator against a reference decoder
 * written here: exhaustively over short sequences, on the Autobahn 6.x
 * cases, at every split, and next to a guard page. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "int.h"
#include "support/guard.h"
#include "utf8_int.h"

#include "support/utf8_ref.h"

/* Encode a scalar value; returns the length. */
static size_t enc_utf8(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xc0 | (cp >> 6));
    o[1] = (uint8_t)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xe0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (uint8_t)(0xf0 | (cp >> 18));
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (uint8_t)(0x80 | (cp & 0x3f));
  return 4;
}

static uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* ---- helpers
 * ----------------------------------------------------------------- */

/* One feed of the whole buffer compared with an expected result. */
static void check_oneshot_want(const uint8_t *p, size_t len,
                               struct ref_result want) {
  struct wsv_utf8 v;
  size_t bad = (size_t)-1;
  int rc;

  wsv_utf8_init(&v);
  rc = wsv_utf8_feed(&v, p, len, &bad);
  if (want.ok) {
    assert_int_equal(rc, WSV_OK);
    assert_true(bad == (size_t)-1); /* untouched on success */
    assert_int_equal(wsv_utf8_is_complete(&v) != 0, want.complete);
    assert_int_equal(wsv_utf8_valid(p, len),
                     want.complete ? WSV_OK : WSV_ERR_UTF8);
  } else {
    assert_int_equal(rc, WSV_ERR_UTF8);
    assert_int_equal(bad, want.bad);
    assert_false(wsv_utf8_is_complete(&v));
    assert_int_equal(wsv_utf8_valid(p, len), WSV_ERR_UTF8);
  }
}

/* Feed p[0..len) in the chunks that end at cuts[0..ncuts) (ascending) and
 * then at len, checking that the error comes on the chunk that holds the
 * first bad byte, at the right offset in that chunk, and stays. */
static void check_chunks(const uint8_t *p, size_t len, const size_t *cuts,
                         size_t ncuts, struct ref_result want) {
  struct wsv_utf8 v;
  size_t start = 0, c, end, bad;
  int rc;

  wsv_utf8_init(&v);
  for (c = 0; c <= ncuts; c++) {
    end = c < ncuts ? cuts[c] : len;
    bad = (size_t)-1;
    rc = wsv_utf8_feed(&v, p + start, end - start, &bad);
    if (!want.ok && want.bad < end) {
      assert_int_equal(rc, WSV_ERR_UTF8);
      assert_int_equal(bad, want.bad - start);
      /* Sticky. */
      assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"a", 1, &bad),
                       WSV_ERR_UTF8);
      assert_int_equal(bad, 0);
      assert_int_equal(wsv_utf8_feed(&v, NULL, 0, NULL), WSV_ERR_UTF8);
      assert_false(wsv_utf8_is_complete(&v));
      return;
    }
    assert_int_equal(rc, WSV_OK);
    start = end;
  }
  assert_true(want.ok);
  assert_int_equal(wsv_utf8_is_complete(&v) != 0, want.complete);
}

/* Every 2-way split (including empty chunks) and byte by byte. */
static void check_all_splits(const uint8_t *p, size_t len,
                             struct ref_result want) {
  size_t i, *cuts;

  for (i = 0; i <= len; i++)
    check_chunks(p, len, &i, 1, want);
  cuts = malloc((len + 1) * sizeof(*cuts));
  assert_non_null(cuts);
  for (i = 0; i < len; i++)
    cuts[i] = i + 1;
  check_chunks(p, len, cuts, len, want);
  free(cuts);
}

/* The whole battery for a buffer, placed right before a guard page. */
static void check_case(const void *bytes, size_t len, int ok, size_t bad,
                       int complete) {
  uint8_t *g = guard_copy(bytes, len);
  struct ref_result want;
  struct ref_result ref = ref_check(g, len);

  want.ok = ok;
  want.bad = bad;
  want.complete = complete;
  /* The reference agrees with the hand-written expectation... */
  assert_int_equal(ref.ok, ok);
  if (ok)
    assert_int_equal(ref.complete, complete);
  else
    assert_int_equal(ref.bad, bad);
  /* ...and so does the validator, however the bytes are chunked. */
  check_oneshot_want(g, len, want);
  check_all_splits(g, len, want);
  guard_free(g, len);
}

#define VALID(s) check_case(s, sizeof(s) - 1, 1, 0, 1)
#define INVALID_AT(s, at) check_case(s, sizeof(s) - 1, 0, at, 0)
#define INCOMPLETE(s) check_case(s, sizeof(s) - 1, 1, 0, 0)

/* ---- tests
 * ---------------------------------------------------------------------- */

static void test_valid_autobahn(void **state) {
  (void)state;
  VALID("");
  VALID("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!"
        "!");
  VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* kosme */
  VALID("\x00");                                         /* U+0000 */
  VALID("\xc2\x80");                                     /* U+0080 */
  VALID("\xdf\xbf");                                     /* U+07FF */
  VALID("\xe0\xa0\x80");                                 /* U+0800 */
  VALID("\xed\x9f\xbf");                                 /* U+D7FF */
  VALID("\xee\x80\x80");                                 /* U+E000 */
  VALID("\xef\xbb\xbf");                                 /* BOM U+FEFF */
  VALID("\xef\xbf\xbd");                                 /* U+FFFD */
  VALID("\xef\xbf\xbe");                                 /* U+FFFE */
  VALID("\xef\xbf\xbf");                                 /* U+FFFF */
  VALID("\xf0\x90\x80\x80");                             /* U+10000 */
  VALID("\xf0\x9f\x98\x80");                             /* U+1F600 */
  VALID("\xf3\xbf\xbf\xbf");                             /* U+FFFFF */
  VALID("\xf4\x80\x80\x80");                             /* U+100000 */
  VALID("\xf4\x8f\xbf\xbf");                             /* U+10FFFF */
  VALID("\xf0\x9f\xbf\xbe\xf0\x9f\xbf\xbf");             /* U+1FFFE/F */
  VALID("\xef\xb7\x90\xef\xb7\xaf");                     /* U+FDD0, FDEF */
}

static void test_invalid_autobahn(void **state) {
  (void)state;
  /* Overlong forms fail at the first byte that proves them overlong. */
  INVALID_AT("\xc0\xaf", 0);
  INVALID_AT("\xc1\xbf", 0);
  INVALID_AT("\xe0\x80\xaf", 1);
  INVALID_AT("\xe0\x9f\xbf", 1);
  INVALID_AT("\xf0\x80\x80\xaf", 1);
  INVALID_AT("\xf0\x8f\xbf\xbf", 1);
  INVALID_AT("\xf8\x80\x80\x80\xaf", 0);
  INVALID_AT("\xfc\x80\x80\x80\x80\xaf", 0);
  /* Surrogates, single and paired. */
  INVALID_AT("\xed\xa0\x80", 1);
  INVALID_AT("\xed\xad\xbf", 1);
  INVALID_AT("\xed\xae\x80", 1);
  INVALID_AT("\xed\xaf\xbf", 1);
  INVALID_AT("\xed\xb0\x80", 1);
  INVALID_AT("\xed\xbe\x80", 1);
  INVALID_AT("\xed\xbf\xbf", 1);
  INVALID_AT("\xed\xa0\x80\xed\xb0\x80", 1);
  INVALID_AT("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 12);
  /* Above U+10FFFF. */
  INVALID_AT("\xf4\x90\x80\x80", 1);
  INVALID_AT("\xf4\xbf\xbf\xbf", 1);
  INVALID_AT("\xf5\x80\x80\x80", 0);
  INVALID_AT("\xf7\xbf\xbf\xbf", 0);
  INVALID_AT("\xfe", 0);
  INVALID_AT("\xff", 0);
  INVALID_AT("\xfe\xfe\xff\xff", 0);
  /* Stray continuation bytes. */
  INVALID_AT("\x80", 0);
  INVALID_AT("\xbf", 0);
  INVALID_AT("ab\x80", 2);
  INVALID_AT("\xc2\x80\x80", 2);
  INVALID_AT("\xe2\x82\xac\xbf", 3);
  /* A lead byte followed by something that is not a continuation (E7). */
  INVALID_AT("\xc2\x41", 1);
  INVALID_AT("\xe2\x82\x41", 2);
  INVALID_AT("\xf0\x9f\x98\x41", 3);
  INVALID_AT("\xc2\xc2\x80", 1);
  INVALID_AT("\xe2\x00", 1);
  /* Autobahn 6.4.x: valid start, then a bad byte later in the message. */
  INVALID_AT("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"
             "\x65\x64\x69\x74\x65\x64",
             12);
}

static void test_truncated(void **state) {
  (void)state;
  INCOMPLETE("\xc2");
  INCOMPLETE("\xe0");
  INCOMPLETE("\xe0\xa0");
  INCOMPLETE("\xed\x9f");
  INCOMPLETE("\xf0");
  INCOMPLETE("\xf0\x90");
  INCOMPLETE("\xf0\x90\x80");
  INCOMPLETE("\xf4\x8f\xbf");
  INCOMPLETE("abc\xce\xba\xe1\xbd");
}

/* Every 1- and 2-byte sequence, compared with the reference. */
static void test_exhaustive_1_2(void **state) {
  uint8_t *g1 = guard_copy("x", 1), *g2 = guard_copy("xx", 2);
  unsigned a, b;

  (void)state;
  for (a = 0; a < 256; a++) {
    g1[0] = (uint8_t)a;
    check_oneshot_want(g1, 1, ref_check(g1, 1));
    for (b = 0; b < 256; b++) {
      struct ref_result want;
      g2[0] = (uint8_t)a;
      g2[1] = (uint8_t)b;
      want = ref_check(g2, 2);
      check_oneshot_want(g2, 2, want);
      check_all_splits(g2, 2, want);
    }
  }
  guard_free(g1, 1);
  guard_free(g2, 2);
}

/* A cheaper comparison for the big loops: one feed, no splits. */
static void compare_fast(const uint8_t *p, size_t len) {
  struct ref_result want = ref_check(p, len);
  struct wsv_utf8 v;
  size_t bad = (size_t)-1;
  int rc;

  wsv_utf8_init(&v);
  rc = wsv_utf8_feed(&v, p, len, &bad);
  if (want.ok) {
    if (rc != WSV_OK || (wsv_utf8_is_complete(&v) != 0) != want.complete)
      fail_msg("mismatch on %02x %02x %02x %02x (len %zu): rc %d", p[0],
               len > 1 ? p[1] : 0, len > 2 ? p[2] : 0, len > 3 ? p[3] : 0, len,
               rc);
  } else if (rc != WSV_ERR_UTF8 || bad != want.bad) {
    fail_msg("mismatch on %02x %02x %02x %02x (len %zu): rc %d bad %zu, "
             "want bad %zu",
             p[0], len > 1 ? p[1] : 0, len > 2 ? p[2] : 0, len > 3 ? p[3] : 0,
             len, rc, bad, want.bad);
  }
}

/* Every 3-byte sequence (16.7 million), compared with the reference. */
static void test_exhaustive_3(void **state) {
  uint8_t *g = guard_copy("xxx", 3);
  uint32_t x;

  (void)state;
  for (x = 0; x < (UINT32_C(1) << 24); x++) {
    g[0] = (uint8_t)(x >> 16);
    g[1] = (uint8_t)(x >> 8);
    g[2] = (uint8_t)x;
    compare_fast(g, 3);
  }
  guard_free(g, 3);
}

/* 4-byte sequences: every first two bytes with the last two drawn from the
 * boundary values of each byte class, plus random ones. */
static void test_sampled_4(void **state) {
  static const uint8_t edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf,
                                 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xff};
  uint8_t *g = guard_copy("xxxx", 4);
  uint32_t x, s = 0x2545f491u;
  size_t c, d;

  (void)state;
  for (x = 0; x < 0x10000; x++) {
    g[0] = (uint8_t)(x >> 8);
    g[1] = (uint8_t)x;
    for (c = 0; c < sizeof(edge); c++) {
      for (d = 0; d < sizeof(edge); d++) {
        g[2] = edge[c];
        g[3] = edge[d];
        compare_fast(g, 4);
      }
    }
  }
  /* All of F0..F4 xx xx xx with xx a continuation byte or a neighbour. */
  for (x = 0; x < 5u * 66 * 66 * 66; x++) {
    uint32_t r = x;
    g[3] = (uint8_t)(0x7f + r % 66);
    r /= 66;
    g[2] = (uint8_t)(0x7f + r % 66);
    r /= 66;
    g[1] = (uint8_t)(0x7f + r % 66);
    r /= 66;
    g[0] = (uint8_t)(0xf0 + r);
    compare_fast(g, 4);
  }
  for (x = 0; x < 4000000; x++) {
    uint32_t r = rng_next(&s);
    memcpy(g, &r, 4);
    compare_fast(g, 4);
  }
  guard_free(g, 4);
}

/* Every scalar value, one after another, is valid as one text, and still
 * is when fed in chunks of 7 bytes that cut through code points. */
static void test_every_scalar_value(void **state) {
  size_t cap = 0x110000u * 4, len = 0, i, n;
  uint8_t *buf = malloc(cap);
  struct wsv_utf8 v;
  uint32_t cp;

  (void)state;
  assert_non_null(buf);
  for (cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff)
      continue;
    len += enc_utf8(cp, buf + len);
  }
  assert_int_equal(wsv_utf8_valid(buf, len), WSV_OK);
  wsv_utf8_init(&v);
  for (i = 0; i < len; i += n) {
    n = len - i < 7 ? len - i : 7;
    assert_int_equal(wsv_utf8_feed(&v, buf + i, n, NULL), WSV_OK);
  }
  assert_true(wsv_utf8_is_complete(&v));
  /* And every surrogate, encoded the CESU way, is rejected at byte 1. */
  for (cp = 0xd800; cp <= 0xdfff; cp++) {
    uint8_t s[3];
    size_t bad = 99;
    s[0] = (uint8_t)(0xe0 | (cp >> 12));
    s[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    s[2] = (uint8_t)(0x80 | (cp & 0x3f));
    wsv_utf8_init(&v);
    assert_int_equal(wsv_utf8_feed(&v, s, 3, &bad), WSV_ERR_UTF8);
    assert_int_equal(bad, 1);
  }
  free(buf);
}

/* Random texts mixing ASCII runs, valid code points and stray bytes,
 * compared with the reference in every 2-way split and a random 3-way one. */
static void test_random_texts(void **state) {
  static const uint8_t stray[] = {0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xe0,
                                  0xed, 0xf0, 0xf4, 0xf5, 0xfe, 0xff};
  uint32_t s = 0xdeadbeefu;
  unsigned iter;

  (void)state;
  for (iter = 0; iter < 20000; iter++) {
    uint8_t buf[96];
    size_t len = 0, target = rng_next(&s) % 60, cuts[2];
    int allow_bad = (iter & 1) != 0;
    struct ref_result want;
    uint8_t *g;

    while (len < target) {
      uint32_t r = rng_next(&s), k = r % 8;
      if (k < 3) {
        size_t run = 1 + (r >> 8) % 20;
        while (run-- > 0 && len < sizeof(buf))
          buf[len++] = (uint8_t)(0x20 + (r >> 16) % 90);
      } else if (k < 7 || !allow_bad) {
        uint32_t cp = rng_next(&s);
        cp = (k == 3) ? cp % 0x800 : (k == 4) ? cp % 0x10000 : cp % 0x110000;
        if (cp >= 0xd800 && cp <= 0xdfff)
          cp = 0xfffd;
        if (len + 4 <= sizeof(buf))
          len += enc_utf8(cp, buf + len);
        else
          break;
      } else {
        buf[len++] = stray[(r >> 8) % sizeof(stray)];
      }
    }
    g = guard_copy(buf, len);
    want = ref_check(g, len);
    if (!allow_bad)
      assert_true(want.ok && want.complete);
    check_oneshot_want(g, len, want);
    {
      size_t i;
      for (i = 0; i <= len; i++)
        check_chunks(g, len, &i, 1, want);
    }
    cuts[0] = len ? rng_next(&s) % (len + 1) : 0;
    cuts[1] = len ? rng_next(&s) % (len + 1) : 0;
    if (cuts[0] > cuts[1]) {
      size_t t = cuts[0];
      cuts[0] = cuts[1];
      cuts[1] = t;
    }
    check_chunks(g, len, cuts, 2, want);
    guard_free(g, len);
  }
}

/* Long ASCII runs with one odd byte at each position 0..79, so that the odd
 * byte lands in the 16- and 8-byte fast paths and in their byte tails. */
static void test_ascii_runs(void **state) {
  static const uint8_t bad_bytes[] = {0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff};
  size_t len, k, b;

  (void)state;
  for (len = 1; len <= 80; len++) {
    uint8_t buf[80];
    memset(buf, 'a', len);
    check_case(buf, len, 1, 0, 1);
    for (k = 0; k < len; k++) {
      for (b = 0; b < sizeof(bad_bytes); b++) {
        buf[k] = bad_bytes[b];
        check_case(buf, len, 0, k, 0);
      }
      /* A lead byte followed by ASCII fails at the ASCII byte. */
      buf[k] = 0xc3;
      if (k + 1 < len)
        check_case(buf, len, 0, k + 1, 0);
      else
        check_case(buf, len, 1, 0, 0);
      /* A valid two-byte code point in the run is fine. */
      if (k + 1 < len) {
        buf[k + 1] = 0xa9;
        check_case(buf, len, 1, 0, 1);
        buf[k + 1] = 'a';
      }
      buf[k] = 'a';
    }
  }
}

/* The SIMD ASCII scan and its plain-C twin agree with each other and with
 * a byte loop, on every length 0..100 and every position of the first
 * non-ASCII byte, with the buffer right before a guard page. */
static void test_ascii_span_twins(void **state) {
  static const uint8_t hi[] = {0x80, 0xc3, 0xff};
  size_t len, k, h;

  (void)state;
  for (len = 0; len <= 100; len++) {
    uint8_t buf[100];
    uint8_t *g;
    memset(buf, 0x7f, len);
    g = guard_copy(buf, len);
    assert_int_equal(wsv__utf8_ascii_span(g, len), len);
    assert_int_equal(wsv__utf8_ascii_span_scalar(g, len), len);
    guard_free(g, len);
    for (k = 0; k < len; k++) {
      for (h = 0; h < sizeof(hi); h++) {
        memset(buf, 'z', len);
        buf[k] = hi[h];
        if (k + 3 < len)
          buf[k + 3] = 0x80; /* a second one later must not matter */
        g = guard_copy(buf, len);
        assert_int_equal(wsv__utf8_ascii_span(g, len), k);
        assert_int_equal(wsv__utf8_ascii_span_scalar(g, len), k);
        guard_free(g, len);
      }
    }
  }
  assert_int_equal(wsv__utf8_ascii_span(NULL, 0), 0);
  assert_int_equal(wsv__utf8_ascii_span_scalar(NULL, 0), 0);
}

static void test_is_complete_and_sticky(void **state) {
  struct wsv_utf8 v;
  size_t bad = 77;

  (void)state;
  /* A zeroed validator is the same as an initialised one. */
  memset(&v, 0, sizeof(v));
  assert_true(wsv_utf8_is_complete(&v));
  assert_int_equal(wsv_utf8_feed(&v, NULL, 0, &bad), WSV_OK);
  assert_int_equal(bad, 77);
  assert_true(wsv_utf8_is_complete(&v));

  assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"\xf0", 1, NULL), WSV_OK);
  assert_false(wsv_utf8_is_complete(&v));
  assert_int_equal(wsv_utf8_feed(&v, NULL, 0, NULL), WSV_OK);
  assert_false(wsv_utf8_is_complete(&v));
  assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"\x9f\x98", 2, NULL),
                   WSV_OK);
  assert_false(wsv_utf8_is_complete(&v));
  assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"\x80", 1, NULL), WSV_OK);
  assert_true(wsv_utf8_is_complete(&v));

  /* Fail in the middle of a chunk; every later call fails, at offset 0. */
  assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"ok\xed\xa0", 4, &bad),
                   WSV_ERR_UTF8);
  assert_int_equal(bad, 3);
  assert_false(wsv_utf8_is_complete(&v));
  bad = 77;
  assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"fine", 4, &bad),
                   WSV_ERR_UTF8);
  assert_int_equal(bad, 0);
  assert_int_equal(wsv_utf8_feed(&v, NULL, 0, NULL), WSV_ERR_UTF8);
  assert_false(wsv_utf8_is_complete(&v));

  /* wsv_utf8_init recovers. */
  wsv_utf8_init(&v);
  assert_true(wsv_utf8_is_complete(&v));
  assert_int_equal(wsv_utf8_feed(&v, (const uint8_t *)"fine", 4, NULL), WSV_OK);
  assert_true(wsv_utf8_is_complete(&v));

  /* One-shot form. */
  assert_int_equal(wsv_utf8_valid(NULL, 0), WSV_OK);
  assert_int_equal(wsv_utf8_valid((const uint8_t *)"\xc2", 1), WSV_ERR_UTF8);
  assert_int_equal(wsv_utf8_valid((const uint8_t *)"\xc2\xa9", 2), WSV_OK);
}

/* The reference decoder itself must be able to say "bad": a sanity check
 * so that the comparisons above are not comparing two always-OK answers. */
static void test_reference_sanity(void **state) {
  struct ref_result r;

  (void)state;
  r = ref_check((const uint8_t *)"\xe0\x80\xaf", 3);
  assert_false(r.ok);
  assert_int_equal(r.bad, 1);
  r = ref_check((const uint8_t *)"\xf4\x8f\xbf\xbf", 4);
  assert_true(r.ok && r.complete);
  r = ref_check((const uint8_t *)"\xf4\x90", 2);
  assert_false(r.ok);
  assert_int_equal(r.bad, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_sanity),
      cmocka_unit_test(test_valid_autobahn),
      cmocka_unit_test(test_invalid_autobahn),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_exhaustive_1_2),
      cmocka_unit_test(test_exhaustive_3),
      cmocka_unit_test(test_sampled_4),
      cmocka_unit_test(test_every_scalar_value),
      cmocka_unit_test(test_random_texts),
      cmocka_unit_test(test_ascii_runs),
      cmocka_unit_test(test_ascii_span_twins),
      cmocka_unit_test(test_is_complete_and_sticky),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
