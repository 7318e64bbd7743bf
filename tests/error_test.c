/* error_test.c - the error table: unique numbers, names, texts, fatality
 * and close codes for every code in WSV_ERR_MAP. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "int.h"

/* Every entry of the table, generated from the X-macro. */
static const struct {
  int code;
  const char *name;
  const char *text;
} error_table[] = {
#define ERROR_TEST_ROW(name, num, text)                                        \
  {WSV_ERR_##name, "WSV_ERR_" #name, text},
    WSV_ERR_MAP(ERROR_TEST_ROW)
#undef ERROR_TEST_ROW
};

#define ERROR_N (sizeof(error_table) / sizeof(error_table[0]))

/* What each code is expected to do, written out by hand so that the test
 * does not just restate error.c.  A new code must be added here. */
static const struct {
  int code;
  int fatal;
  int close;
} error_expect[] = {
    {WSV_ERR_INVAL, 0, 0},
    {WSV_ERR_STATE, 0, 0},
    {WSV_ERR_NOBUF, 0, 0},
    {WSV_ERR_AGAIN, 0, 0},
    {WSV_ERR_HTTP_SYNTAX, 0, 0},
    {WSV_ERR_HTTP_TOO_LARGE, 0, 0},
    {WSV_ERR_HS_METHOD, 0, 0},
    {WSV_ERR_HS_TARGET, 0, 0},
    {WSV_ERR_HS_HTTP_VERSION, 0, 0},
    {WSV_ERR_HS_HOST, 0, 0},
    {WSV_ERR_HS_UPGRADE, 0, 0},
    {WSV_ERR_HS_CONNECTION, 0, 0},
    {WSV_ERR_HS_KEY, 0, 0},
    {WSV_ERR_HS_VERSION, 0, 0},
    {WSV_ERR_HS_VERSION_UNSUPPORTED, 0, 0},
    {WSV_ERR_HS_BODY, 0, 0},
    {WSV_ERR_HS_HEADER, 0, 0},
    {WSV_ERR_HS_REFUSED, 0, 0},
    {WSV_ERR_HS_NOT_UPGRADE, 0, 0},
    {WSV_ERR_HS_STATUS, 0, 0},
    {WSV_ERR_HS_ACCEPT, 0, 0},
    {WSV_ERR_HS_SUBPROTOCOL, 0, 0},
    {WSV_ERR_HS_EXTENSION, 0, 0},
    {WSV_ERR_HS_NO_COMMON_VERSION, 0, 0},
    {WSV_ERR_NOMEM, 1, 1011},
    {WSV_ERR_RANDOM, 1, 1011},
    {WSV_ERR_PROTOCOL, 1, 1002},
    {WSV_ERR_UTF8, 1, 1007},
    {WSV_ERR_POLICY, 1, 1008},
    {WSV_ERR_TOO_BIG, 1, 1009},
    {WSV_ERR_CLOSED, 1, 0},
    {WSV_ERR_INFLATE, 1, 1007},
    {WSV_ERR_BUDGET, 1, 1009},
};

#define EXPECT_N (sizeof(error_expect) / sizeof(error_expect[0]))

/* Numbers the table must never use. */
static const int error_unknown[] = {1,    2,    -5,      -19,        -45,
                                    -99,  -107, -200,    -1000,      INT_MAX,
                                    1002, 1007, INT_MIN, INT_MIN + 1};

static void test_codes_negative_and_unique(void **state) {
  size_t i, j;

  (void)state;
  assert_true(ERROR_N > 0);
  assert_int_equal(WSV_OK, 0);
  for (i = 0; i < ERROR_N; i++) {
    assert_true(error_table[i].code < 0);
    for (j = i + 1; j < ERROR_N; j++) {
      if (error_table[i].code == error_table[j].code)
        fail_msg("%s and %s share number %d", error_table[i].name,
                 error_table[j].name, error_table[i].code);
    }
  }
}

static void test_names(void **state) {
  size_t i, j;

  (void)state;
  assert_string_equal(wsv_err_name(WSV_OK), "WSV_OK");
  for (i = 0; i < ERROR_N; i++) {
    const char *n = wsv_err_name(error_table[i].code);
    assert_non_null(n);
    assert_string_equal(n, error_table[i].name);
    assert_true(strncmp(n, "WSV_ERR_", 8) == 0 && strlen(n) > 8);
    for (j = i + 1; j < ERROR_N; j++)
      assert_string_not_equal(n, error_table[j].name);
  }
  assert_string_equal(wsv_err_name(WSV_ERR_UTF8), "WSV_ERR_UTF8");
  assert_string_equal(wsv_err_name(WSV_ERR_HS_KEY), "WSV_ERR_HS_KEY");
}

static void test_texts(void **state) {
  size_t i;

  (void)state;
  assert_string_equal(wsv_strerror(WSV_OK), "success");
  for (i = 0; i < ERROR_N; i++) {
    const char *t = wsv_strerror(error_table[i].code);
    assert_non_null(t);
    assert_true(t[0] != '\0');
    assert_string_equal(t, error_table[i].text);
    assert_string_not_equal(t, "unknown error");
    assert_string_not_equal(t, "success");
  }
}

static void test_unknown_codes(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(error_unknown) / sizeof(error_unknown[0]); i++) {
    int e = error_unknown[i];
    assert_string_equal(wsv_strerror(e), "unknown error");
    assert_string_equal(wsv_err_name(e), "WSV_ERR_UNKNOWN");
    assert_int_equal(wsv_err_close_code(e), 0);
  }
}

/* The hand-written expectations cover the table exactly. */
static void test_expectations_cover_table(void **state) {
  size_t i, j;

  (void)state;
  assert_int_equal(EXPECT_N, ERROR_N);
  for (i = 0; i < ERROR_N; i++) {
    int found = 0;
    for (j = 0; j < EXPECT_N; j++)
      found += error_expect[j].code == error_table[i].code;
    if (found != 1)
      fail_msg("%s listed %d times in error_expect", error_table[i].name,
               found);
  }
}

static void test_is_fatal(void **state) {
  size_t i;

  (void)state;
  assert_false(wsv_is_fatal(WSV_OK));
  assert_false(wsv_is_fatal(1));
  for (i = 0; i < EXPECT_N; i++) {
    int got = wsv_is_fatal(error_expect[i].code) != 0;
    if (got != error_expect[i].fatal)
      fail_msg("wsv_is_fatal(%s) = %d, want %d",
               wsv_err_name(error_expect[i].code), got, error_expect[i].fatal);
  }
}

static void test_close_codes(void **state) {
  size_t i;

  (void)state;
  assert_int_equal(wsv_err_close_code(WSV_OK), 0);
  for (i = 0; i < EXPECT_N; i++) {
    int got = wsv_err_close_code(error_expect[i].code);
    if (got != error_expect[i].close)
      fail_msg("wsv_err_close_code(%s) = %d, want %d",
               wsv_err_name(error_expect[i].code), got, error_expect[i].close);
  }
  /* Every close code that is sent belongs to a fatal error. */
  for (i = 0; i < EXPECT_N; i++) {
    if (wsv_err_close_code(error_expect[i].code) != 0)
      assert_true(wsv_is_fatal(error_expect[i].code));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes_negative_and_unique),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_texts),
      cmocka_unit_test(test_unknown_codes),
      cmocka_unit_test(test_expectations_cover_table),
      cmocka_unit_test(test_is_fatal),
      cmocka_unit_test(test_close_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
