/* accept_test.c - Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "int.h"
#include "support/guard.h"

static void check_accept(const char *key, const char *want) {
  size_t len = strlen(key);
  uint8_t *g = guard_copy(key, len);
  static const char zero[28];
  uint8_t *out = guard_copy(zero, 28); /* an over-write would fault too */

  wsv__accept_value((const char *)g, len, (char *)out);
  assert_memory_equal(out, want, 28);
  guard_free(out, 28);
  guard_free(g, len);
}

/* RFC 6455 §1.3 example. */
static void test_rfc6455_example(void **state) {
  (void)state;
  check_accept("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* Further keys; expected values computed independently. */
static void test_other_keys(void **state) {
  (void)state;
  check_accept("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  check_accept("AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=");
  check_accept("", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
}

/* The incremental path agrees with hashing the concatenation in one go. */
static void test_matches_concatenation(void **state) {
  static const char *const keys[] = {
      "a", "dGhlIHNhbXBsZSBub25jZQ==",
      "a key longer than one SHA-1 block, so the GUID starts in the next"};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    char buf[256], want[28], got[28];
    uint8_t d[20];
    size_t kl = strlen(keys[i]), gl = strlen(WSV__GUID);

    memcpy(buf, keys[i], kl);
    memcpy(buf + kl, WSV__GUID, gl);
    wsv__sha1(buf, kl + gl, d);
    assert_int_equal(wsv__base64_encode(d, 20, want), 28);
    wsv__accept_value(keys[i], kl, got);
    assert_memory_equal(got, want, 28);
  }
}

/* The public pair (wsv/hs_client.h): the key of a nonce, its accept. */
static void test_public_key_accept(void **state) {
  static const uint8_t nonce[16] = "the sample nonce";
  char key[25], acc[29];
  uint8_t *g = guard_copy(nonce, 16);
  (void)state;
  memset(key, 'x', sizeof key);
  memset(acc, 'x', sizeof acc);
  assert_int_equal(wsv_hs_key(g, key), 24);
  assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
  assert_int_equal(wsv_hs_accept(key, 24, acc), 28);
  assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(wsv_hs_accept("", 0, acc), 28);
  assert_string_equal(acc, "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
  guard_free(g, 16);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6455_example),
      cmocka_unit_test(test_other_keys),
      cmocka_unit_test(test_matches_concatenation),
      cmocka_unit_test(test_public_key_accept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
