/* base64_test.c - RFC 4648 §10 vectors, round trips and strict rejects. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "int.h"
#include "support/guard.h"

/* Decode s with the input right before a guard page; returns the result and
 * copies the output to out. */
static long decode(const char *s, uint8_t *out, size_t cap) {
  size_t len = strlen(s);
  uint8_t *g = guard_copy(s, len);
  long r = wsv__base64_decode((const char *)g, len, out, cap);

  guard_free(g, len);
  return r;
}

static void expect_reject(const char *s) {
  uint8_t out[64];

  if (decode(s, out, sizeof(out)) != -1)
    fail_msg("accepted non-canonical base64 \"%s\"", s);
}

static const struct {
  const char *plain;
  const char *b64;
} base64_rfc[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_encode(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(base64_rfc) / sizeof(base64_rfc[0]); i++) {
    size_t pl = strlen(base64_rfc[i].plain), bl = strlen(base64_rfc[i].b64);
    uint8_t *g = guard_copy(base64_rfc[i].plain, pl);
    char out[16];

    memset(out, '#', sizeof(out));
    assert_int_equal(wsv__base64_encode(g, pl, out), bl);
    assert_memory_equal(out, base64_rfc[i].b64, bl);
    assert_int_equal(out[bl], '#'); /* nothing written past the end */
    guard_free(g, pl);
  }
}

static void test_rfc4648_decode(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(base64_rfc) / sizeof(base64_rfc[0]); i++) {
    size_t pl = strlen(base64_rfc[i].plain);
    uint8_t out[16];

    memset(out, '#', sizeof(out));
    assert_int_equal(decode(base64_rfc[i].b64, out, sizeof(out)), (long)pl);
    assert_memory_equal(out, base64_rfc[i].plain, pl);
    assert_int_equal(out[pl], '#');
  }
}

/* Every length 0..100 of pseudo-random bytes encodes and decodes back, with
 * an exact-size output buffer next to a guard page. */
static void test_round_trip(void **state) {
  uint8_t msg[100];
  uint32_t x = 0x9e3779b9u;
  size_t len, i;

  (void)state;
  for (i = 0; i < sizeof(msg); i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    msg[i] = (uint8_t)x;
  }
  for (len = 0; len <= sizeof(msg); len++) {
    char enc[136];
    size_t el = wsv__base64_encode(msg, len, enc);
    uint8_t *gin, *gout;

    assert_int_equal(el, (len + 2) / 3 * 4);
    gin = guard_copy(enc, el);
    gout = guard_copy(msg, len); /* exact capacity; contents overwritten */
    memset(gout, 0, len);
    assert_int_equal(wsv__base64_decode((const char *)gin, el, gout, len),
                     (long)len);
    assert_memory_equal(gout, msg, len);
    guard_free(gout, len);
    guard_free(gin, el);
  }
}

/* Each of the 256 byte values in each position of a quad: accepted exactly
 * when it is in the RFC 4648 §4 alphabet (or is valid padding). */
static void test_alphabet_exhaustive(void **state) {
  static const char alpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int c, pos;

  (void)state;
  for (c = 0; c < 256; c++) {
    const char *hit = c != 0 ? strchr(alpha, c) : NULL;
    for (pos = 0; pos < 4; pos++) {
      char in[4] = {'Q', 'Q', 'Q', 'Q'}; /* "QQQQ" is canonical */
      uint8_t out[3];
      long r, want;

      in[pos] = (char)c;
      r = wsv__base64_decode(in, 4, out, sizeof(out));
      if (hit != NULL)
        want = 3;
      else if (c == '=' && pos == 3)
        want = 2; /* "QQQ=": 'Q' (010000) has zero trailing bits */
      else
        want = -1;
      assert_int_equal(r, want);
      if (hit != NULL) {
        /* The decoded value puts hit's index in the right 6 bits. */
        uint32_t v = ((uint32_t)out[0] << 16) | ((uint32_t)out[1] << 8) |
                     (uint32_t)out[2];
        uint32_t idx = (uint32_t)(hit - alpha);
        assert_int_equal((v >> (18 - 6 * pos)) & 63, idx);
      }
    }
  }
  {
    /* '=' as valid final padding is accepted. */
    uint8_t out[3];
    assert_int_equal(wsv__base64_decode("QQA=", 4, out, 3), 2);
    assert_int_equal(wsv__base64_decode("QQ==", 4, out, 3), 1);
  }
}

static void test_reject_length(void **state) {
  (void)state;
  expect_reject("Z");
  expect_reject("Zg");
  expect_reject("Zg=");
  expect_reject("Zm9vY");
  expect_reject("Zm9vYg=");
  expect_reject("Zm9vYg===");
  expect_reject("Zm9v=");
}

static void test_reject_padding_placement(void **state) {
  (void)state;
  expect_reject("====");
  expect_reject("A===");
  expect_reject("=AAA");
  expect_reject("Z=g=");
  expect_reject("Zg=a");
  expect_reject("Zm=v");
  expect_reject("Zg==Zm9v"); /* padding in a quad that is not the last */
  expect_reject("Zm8=Zm9v");
  expect_reject("Zm9v====");
}

static void test_reject_nonzero_trailing_bits(void **state) {
  uint8_t out[4];
  (void)state;
  expect_reject("Zh==");
  expect_reject("Zv==");
  expect_reject("Zm9=");
  expect_reject("QR==");
  /* But the canonical forms with the same leading bits are fine. */
  assert_int_equal(decode("Zg==", out, sizeof(out)), 1);
  assert_int_equal(decode("Zm8=", out, sizeof(out)), 2);
  assert_int_equal(decode("QQ==", out, sizeof(out)), 1);
}

static void test_reject_other_chars(void **state) {
  (void)state;
  expect_reject("Zm9v ");
  expect_reject(" Zm9");
  expect_reject("Zm 9");
  expect_reject("Zm9\n");
  expect_reject("Zm9\t");
  expect_reject("Zm9\r");
  expect_reject("Zm-v"); /* URL-safe alphabet */
  expect_reject("Zm_v");
  expect_reject("-_-_");
  expect_reject("Zm9.");
  expect_reject("Zm9\x80");
  expect_reject("Zm9\xff");
  {
    /* An embedded NUL, which strlen-based helpers cannot express. */
    uint8_t out[3];
    assert_int_equal(wsv__base64_decode("Zm\0v", 4, out, 3), -1);
  }
}

static void test_reject_small_capacity(void **state) {
  uint8_t out[6];

  (void)state;
  assert_int_equal(decode("Zm9v", out, 2), -1);
  assert_int_equal(decode("Zm9v", out, 3), 3);
  assert_int_equal(decode("Zg==", out, 0), -1);
  assert_int_equal(decode("Zg==", out, 1), 1);
  assert_int_equal(decode("Zm8=", out, 1), -1);
  assert_int_equal(decode("Zm8=", out, 2), 2);
  assert_int_equal(decode("Zm9vYmFy", out, 5), -1);
  assert_int_equal(decode("Zm9vYmFy", out, 6), 6);
  /* Empty input needs no room at all. */
  assert_int_equal(wsv__base64_decode("", 0, NULL, 0), 0);
}

/* A 16-byte key decodes to 16 bytes; a 24-char key with one byte more or
 * less does not (the check wsv_hs_* relies on for Sec-WebSocket-Key). */
static void test_websocket_key_sizes(void **state) {
  uint8_t out[18];

  (void)state;
  assert_int_equal(decode("dGhlIHNhbXBsZSBub25jZQ==", out, 16), 16);
  assert_int_equal(decode("dGhlIHNhbXBsZSBub25jZQ==", out, 15), -1);
  assert_int_equal(decode("dGhlIHNhbXBsZSBub25jZWU=", out, 18), 17);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_encode),
      cmocka_unit_test(test_rfc4648_decode),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_alphabet_exhaustive),
      cmocka_unit_test(test_reject_length),
      cmocka_unit_test(test_reject_padding_placement),
      cmocka_unit_test(test_reject_nonzero_trailing_bits),
      cmocka_unit_test(test_reject_other_chars),
      cmocka_unit_test(test_reject_small_capacity),
      cmocka_unit_test(test_websocket_key_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
