/* sha1_test.c - SHA-1 against FIPS 180 vectors, padding boundaries, and
 * incremental hashing at every split. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "int.h"
#include "support/guard.h"

static void sha1_hex(const uint8_t d[20], char out[41]) {
  static const char hex[] = "0123456789abcdef";
  int i;

  for (i = 0; i < 20; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[40] = '\0';
}

/* One-shot SHA-1 of s[0..len), with the input right before a guard page. */
static void check_oneshot(const char *s, size_t len, const char *want) {
  uint8_t *g = guard_copy(s, len);
  uint8_t d[20];
  char hex[41];

  wsv__sha1(g, len, d);
  sha1_hex(d, hex);
  assert_string_equal(hex, want);
  guard_free(g, len);
}

static void test_fips_abc(void **state) {
  (void)state;
  check_oneshot("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void test_fips_empty(void **state) {
  (void)state;
  check_oneshot("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  {
    /* NULL with length 0 is an empty message too. */
    uint8_t d[20];
    char hex[41];
    struct wsv__sha1_ctx c;

    wsv__sha1_init(&c);
    wsv__sha1_update(&c, NULL, 0);
    wsv__sha1_final(&c, d);
    sha1_hex(d, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  }
}

static const char sha1_448[] =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char sha1_896[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static void test_fips_448(void **state) {
  (void)state;
  assert_int_equal(strlen(sha1_448), 56);
  check_oneshot(sha1_448, 56, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_fips_896(void **state) {
  (void)state;
  assert_int_equal(strlen(sha1_896), 112);
  check_oneshot(sha1_896, 112, "a49b2446a02c645bf419f995b67091253a04a259");
}

/* One million 'a', fed in odd-sized chunks (1, 3, 5, ... 127, repeating) so
 * that chunk edges fall on every offset within a block. */
static void test_fips_million_a(void **state) {
  static uint8_t chunk[127];
  struct wsv__sha1_ctx c;
  size_t done = 0, n = 1;
  uint8_t d[20];
  char hex[41];

  (void)state;
  memset(chunk, 'a', sizeof(chunk));
  wsv__sha1_init(&c);
  while (done < 1000000) {
    size_t take = n;
    if (take > 1000000 - done)
      take = 1000000 - done;
    wsv__sha1_update(&c, chunk, take);
    done += take;
    n += 2;
    if (n > sizeof(chunk))
      n = 1;
  }
  wsv__sha1_final(&c, d);
  sha1_hex(d, hex);
  assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* Messages whose length straddles the padding boundaries (55/56 bytes left
 * room for the length field or not; 64 is a whole block).  Expected values
 * were computed with an independent SHA-1 implementation. */
static void test_padding_boundaries(void **state) {
  static const struct {
    size_t n;
    const char *hex;
  } v[] = {
      {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
      {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
      {57, "f08f24908d682555111be7ff6f004e78283d989a"},
      {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
      {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
      {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
      {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
      {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
      {127, "89d95fa32ed44a7c610b7ee38517ddf57e0bb975"},
      {128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"},
      {1000, "291e9a6c66994949b57ba5e650361e98fc36b1ba"},
  };
  static char as[1000];
  size_t i;

  (void)state;
  memset(as, 'a', sizeof(as));
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    check_oneshot(as, v[i].n, v[i].hex);
}

/* A deterministic pseudo-random buffer (xorshift32). */
static void fill_pseudo(uint8_t *p, size_t len, uint32_t seed) {
  size_t i;

  for (i = 0; i < len; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    p[i] = (uint8_t)seed;
  }
}

/* For every message length 0..200 and every 2-way split, the incremental
 * digest equals the one-shot digest; for lengths up to 140, every 3-way split
 * as well (this crosses the block and padding boundaries many times). */
static void test_incremental_every_split(void **state) {
  uint8_t msg[200];
  size_t len, i, j;

  (void)state;
  fill_pseudo(msg, sizeof(msg), 0x12345678u);
  for (len = 0; len <= sizeof(msg); len++) {
    uint8_t *g = guard_copy(msg, len);
    uint8_t one[20], inc[20];
    struct wsv__sha1_ctx c;

    wsv__sha1(g, len, one);
    for (i = 0; i <= len; i++) {
      wsv__sha1_init(&c);
      wsv__sha1_update(&c, g, i);
      wsv__sha1_update(&c, g + i, len - i);
      wsv__sha1_final(&c, inc);
      assert_memory_equal(one, inc, 20);
      if (len > 140)
        continue;
      for (j = i; j <= len; j++) {
        wsv__sha1_init(&c);
        wsv__sha1_update(&c, g, i);
        wsv__sha1_update(&c, g + i, j - i);
        wsv__sha1_update(&c, g + j, len - j);
        wsv__sha1_final(&c, inc);
        assert_memory_equal(one, inc, 20);
      }
    }
    /* Byte by byte. */
    wsv__sha1_init(&c);
    for (i = 0; i < len; i++)
      wsv__sha1_update(&c, g + i, 1);
    wsv__sha1_final(&c, inc);
    assert_memory_equal(one, inc, 20);
    guard_free(g, len);
  }
}

/* The 448-bit FIPS vector split at every offset. */
static void test_fips_448_every_split(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i <= 56; i++) {
    struct wsv__sha1_ctx c;
    uint8_t d[20];
    char hex[41];

    wsv__sha1_init(&c);
    wsv__sha1_update(&c, sha1_448, i);
    wsv__sha1_update(&c, sha1_448 + i, 56 - i);
    wsv__sha1_final(&c, d);
    sha1_hex(d, hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fips_abc),
      cmocka_unit_test(test_fips_empty),
      cmocka_unit_test(test_fips_448),
      cmocka_unit_test(test_fips_896),
      cmocka_unit_test(test_fips_million_a),
      cmocka_unit_test(test_padding_boundaries),
      cmocka_unit_test(test_incremental_every_split),
      cmocka_unit_test(test_fips_448_every_split),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
