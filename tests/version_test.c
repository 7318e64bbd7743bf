/* version_test.c - wsv/version.h (the headers' version) agrees with the
 * library that is linked: wsv_version_string() and wsv_version_num(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "wsv.h"

/* The macros work in #if. */
#if !defined(WSV_VERSION_MAJOR) || !defined(WSV_VERSION_MINOR) ||              \
    !defined(WSV_VERSION_PATCH)
#error "wsv/version.h is not included by wsv.h"
#endif
#if WSV_VERSION_NUM !=                                                         \
    WSV_VERSION_MAJOR * 10000 + WSV_VERSION_MINOR * 100 + WSV_VERSION_PATCH
#error "WSV_VERSION_NUM does not follow major * 10000 + minor * 100 + patch"
#endif
#if WSV_VERSION_MINOR > 99 || WSV_VERSION_PATCH > 99 || WSV_VERSION_MAJOR < 0
#error "a version part does not fit WSV_VERSION_NUM"
#endif

static void test_string_matches_parts(void **state) {
  char want[32];

  (void)state;
  snprintf(want, sizeof want, "%d.%d.%d", WSV_VERSION_MAJOR, WSV_VERSION_MINOR,
           WSV_VERSION_PATCH);
  assert_string_equal(WSV_VERSION_STRING, want);
}

static void test_runtime_matches_headers(void **state) {
  (void)state;
  assert_non_null(wsv_version_string());
  assert_string_equal(wsv_version_string(), WSV_VERSION_STRING);
  assert_int_equal(wsv_version_num(), WSV_VERSION_NUM);
  /* The same static string every time. */
  assert_ptr_equal(wsv_version_string(), wsv_version_string());
}

static void test_num_from_string(void **state) {
  int major = -1, minor = -1, patch = -1;

  (void)state;
  assert_int_equal(
      sscanf(wsv_version_string(), "%d.%d.%d", &major, &minor, &patch), 3);
  assert_int_equal(wsv_version_num(), major * 10000 + minor * 100 + patch);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_string_matches_parts),
      cmocka_unit_test(test_runtime_matches_headers),
      cmocka_unit_test(test_num_from_string),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
