/* error_test.c - the error table: unique numbers, names, texts, fatality
 * and close codes for every code in WSV_ERR_MAP; the errno band and
 * wsv_err_from_errno. */
#define _POSIX_C_SOURCE 200809L /* the errno names */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
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
    {WSV_ERR_TLS, 1, 0},
    {WSV_ERR_TLS_VERIFY, 1, 0},
    {WSV_ERR_RESOLVE, 1, 0},
    {WSV_ERR_PROXY, 1, 0},
    {WSV_ERR_SYSTEM, 1, 0},
    {WSV_ERR_EADDRINUSE, 1, 0},
    {WSV_ERR_EADDRNOTAVAIL, 1, 0},
    {WSV_ERR_EAFNOSUPPORT, 1, 0},
    {WSV_ERR_EACCES, 1, 0},
    {WSV_ERR_EPERM, 1, 0},
    {WSV_ERR_ECONNREFUSED, 1, 0},
    {WSV_ERR_ECONNRESET, 1, 0},
    {WSV_ERR_ECONNABORTED, 1, 0},
    {WSV_ERR_ETIMEDOUT, 1, 0},
    {WSV_ERR_EHOSTUNREACH, 1, 0},
    {WSV_ERR_ENETUNREACH, 1, 0},
    {WSV_ERR_ENETDOWN, 1, 0},
    {WSV_ERR_ENOTCONN, 1, 0},
    {WSV_ERR_EPIPE, 1, 0},
    {WSV_ERR_EMFILE, 1, 0},
    {WSV_ERR_ENFILE, 1, 0},
    {WSV_ERR_ENOBUFS, 1, 0},
    {WSV_ERR_ENOENT, 1, 0},
};

#define EXPECT_N (sizeof(error_expect) / sizeof(error_expect[0]))

/* Numbers the table must never use. */
static const int error_unknown[] = {
    1,    2,    -5,   -19,  -45,  -99,  -107,    -110,
    -119, -124, -199, -219, -299, -300, -1000,   INT_MAX,
    1002, 1007, 98,   -98,  111,  -111, INT_MIN, INT_MIN + 1};

/* The stable numbers of the transport and system codes, written out: a
 * code's number never changes once released. */
static const struct {
  int code;
  int num;
} error_numbers[] = {
    {WSV_ERR_TLS, -120},          {WSV_ERR_TLS_VERIFY, -121},
    {WSV_ERR_RESOLVE, -122},      {WSV_ERR_PROXY, -123},
    {WSV_ERR_SYSTEM, -200},
    {WSV_ERR_EADDRINUSE, -201},   {WSV_ERR_EADDRNOTAVAIL, -202},
    {WSV_ERR_EAFNOSUPPORT, -203}, {WSV_ERR_EACCES, -204},
    {WSV_ERR_EPERM, -205},        {WSV_ERR_ECONNREFUSED, -206},
    {WSV_ERR_ECONNRESET, -207},   {WSV_ERR_ECONNABORTED, -208},
    {WSV_ERR_ETIMEDOUT, -209},    {WSV_ERR_EHOSTUNREACH, -210},
    {WSV_ERR_ENETUNREACH, -211},  {WSV_ERR_ENETDOWN, -212},
    {WSV_ERR_ENOTCONN, -213},     {WSV_ERR_EPIPE, -214},
    {WSV_ERR_EMFILE, -215},       {WSV_ERR_ENFILE, -216},
    {WSV_ERR_ENOBUFS, -217},      {WSV_ERR_ENOENT, -218},
};

/* wsv_err_from_errno, written out by hand: every errno of the band, the two
 * that map to older codes, and its name and text. */
static const struct {
  int e;
  int code;
  const char *name;
  const char *text;
} errno_expect[] = {
    {EADDRINUSE, WSV_ERR_EADDRINUSE, "WSV_ERR_EADDRINUSE",
     "address already in use"},
    {EADDRNOTAVAIL, WSV_ERR_EADDRNOTAVAIL, "WSV_ERR_EADDRNOTAVAIL",
     "address not available"},
    {EAFNOSUPPORT, WSV_ERR_EAFNOSUPPORT, "WSV_ERR_EAFNOSUPPORT",
     "address family not supported"},
    {EACCES, WSV_ERR_EACCES, "WSV_ERR_EACCES", "permission denied"},
    {EPERM, WSV_ERR_EPERM, "WSV_ERR_EPERM", "operation not permitted"},
    {ECONNREFUSED, WSV_ERR_ECONNREFUSED, "WSV_ERR_ECONNREFUSED",
     "connection refused"},
    {ECONNRESET, WSV_ERR_ECONNRESET, "WSV_ERR_ECONNRESET",
     "connection reset by peer"},
    {ECONNABORTED, WSV_ERR_ECONNABORTED, "WSV_ERR_ECONNABORTED",
     "connection aborted"},
    {ETIMEDOUT, WSV_ERR_ETIMEDOUT, "WSV_ERR_ETIMEDOUT", "connection timed out"},
    {EHOSTUNREACH, WSV_ERR_EHOSTUNREACH, "WSV_ERR_EHOSTUNREACH",
     "host is unreachable"},
    {ENETUNREACH, WSV_ERR_ENETUNREACH, "WSV_ERR_ENETUNREACH",
     "network is unreachable"},
    {ENETDOWN, WSV_ERR_ENETDOWN, "WSV_ERR_ENETDOWN", "network is down"},
    {ENOTCONN, WSV_ERR_ENOTCONN, "WSV_ERR_ENOTCONN", "socket is not connected"},
    {EPIPE, WSV_ERR_EPIPE, "WSV_ERR_EPIPE", "broken pipe"},
    {EMFILE, WSV_ERR_EMFILE, "WSV_ERR_EMFILE", "too many open files"},
    {ENFILE, WSV_ERR_ENFILE, "WSV_ERR_ENFILE",
     "too many open files in the system"},
    {ENOBUFS, WSV_ERR_ENOBUFS, "WSV_ERR_ENOBUFS", "no buffer space available"},
    {ENOENT, WSV_ERR_ENOENT, "WSV_ERR_ENOENT", "no such file or directory"},
    {ENOMEM, WSV_ERR_NOMEM, "WSV_ERR_NOMEM", "out of memory"},
    {EINVAL, WSV_ERR_INVAL, "WSV_ERR_INVAL", "invalid argument"},
};

#define ERRNO_EXPECT_N (sizeof(errno_expect) / sizeof(errno_expect[0]))

/* errno values (and non-errno ints) outside the band: WSV_ERR_SYSTEM. */
static const int errno_other[] = {0,       -1,       EAGAIN,      EINTR,
                                  EBADF,   ENOTSOCK, EIO,         EPROTO,
                                  ENOSPC,  EFAULT,   EINPROGRESS, 99999,
                                  INT_MAX, INT_MIN,  -EADDRINUSE, -ENOMEM};

/* The band as the header generates it. */
static const struct {
  int code;
  const char *name;
} errno_band[] = {
#define ERRNO_TEST_ROW(name, num, text) {WSV_ERR_##name, "WSV_ERR_" #name},
    WSV_ERRNO_MAP(ERRNO_TEST_ROW)
#undef ERRNO_TEST_ROW
};

#define ERRNO_BAND_N (sizeof(errno_band) / sizeof(errno_band[0]))

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
  size_t i, j;

  (void)state;
  assert_string_equal(wsv_strerror(WSV_OK), "success");
  for (i = 0; i < ERROR_N; i++) {
    const char *t = wsv_strerror(error_table[i].code);
    assert_non_null(t);
    assert_true(t[0] != '\0');
    assert_string_equal(t, error_table[i].text);
    assert_string_not_equal(t, "unknown error");
    assert_string_not_equal(t, "success");
    for (j = i + 1; j < ERROR_N; j++) {
      if (strcmp(t, error_table[j].text) == 0)
        fail_msg("%s and %s share the text \"%s\"", error_table[i].name,
                 error_table[j].name, t);
    }
  }
}

static void test_stable_numbers(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(error_numbers) / sizeof(error_numbers[0]); i++) {
    if (error_numbers[i].code != error_numbers[i].num)
      fail_msg("%s is %d, was released as %d",
               wsv_err_name(error_numbers[i].code), error_numbers[i].code,
               error_numbers[i].num);
  }
  /* The older codes keep their numbers too (a sample across the bands). */
  assert_int_equal(WSV_ERR_INVAL, -1);
  assert_int_equal(WSV_ERR_AGAIN, -4);
  assert_int_equal(WSV_ERR_HTTP_SYNTAX, -20);
  assert_int_equal(WSV_ERR_HS_NOT_UPGRADE, -34);
  assert_int_equal(WSV_ERR_HS_NO_COMMON_VERSION, -44);
  assert_int_equal(WSV_ERR_NOMEM, -100);
  assert_int_equal(WSV_ERR_CLOSED, -106);
  assert_int_equal(WSV_ERR_BUDGET, -109);
}

/* Every code from -201 to -299 is in WSV_ERRNO_MAP and the other way
 * round; WSV_ERR_SYSTEM (-200) opens the band. */
static void test_errno_band(void **state) {
  size_t i, j;

  (void)state;
  assert_true(ERRNO_BAND_N > 0);
  for (i = 0; i < ERRNO_BAND_N; i++) {
    assert_true(errno_band[i].code < -200 && errno_band[i].code >= -299);
    assert_string_equal(wsv_err_name(errno_band[i].code), errno_band[i].name);
    /* WSV_ERR_E<name>: the errno's own name after the prefix. */
    assert_true(strncmp(errno_band[i].name, "WSV_ERR_E", 9) == 0);
  }
  for (i = 0; i < ERROR_N; i++) {
    int in_band = error_table[i].code < -200 && error_table[i].code >= -299;
    int in_map = 0;
    for (j = 0; j < ERRNO_BAND_N; j++)
      in_map += errno_band[j].code == error_table[i].code;
    if (in_band != in_map)
      fail_msg("%s: in the -201..-299 band %d, in WSV_ERRNO_MAP %d",
               error_table[i].name, in_band, in_map);
  }
  assert_int_equal(wsv_err_from_errno(0), WSV_ERR_SYSTEM);
  assert_string_equal(wsv_strerror(WSV_ERR_SYSTEM), "system call failed");
}

static void test_from_errno(void **state) {
  size_t i, j;

  (void)state;
  for (i = 0; i < ERRNO_EXPECT_N; i++) {
    int got = wsv_err_from_errno(errno_expect[i].e);
    if (got != errno_expect[i].code)
      fail_msg("wsv_err_from_errno(%d) = %s, want %s", errno_expect[i].e,
               wsv_err_name(got), errno_expect[i].name);
    assert_string_equal(wsv_err_name(got), errno_expect[i].name);
    assert_string_equal(wsv_strerror(got), errno_expect[i].text);
  }
  /* The hand-written list covers the whole band. */
  for (j = 0; j < ERRNO_BAND_N; j++) {
    int found = 0;
    for (i = 0; i < ERRNO_EXPECT_N; i++)
      found += errno_expect[i].code == errno_band[j].code;
    if (found != 1)
      fail_msg("%s listed %d times in errno_expect", errno_band[j].name, found);
  }
  for (i = 0; i < sizeof(errno_other) / sizeof(errno_other[0]); i++) {
    int got = wsv_err_from_errno(errno_other[i]);
    if (got != WSV_ERR_SYSTEM)
      fail_msg("wsv_err_from_errno(%d) = %s, want WSV_ERR_SYSTEM",
               errno_other[i], wsv_err_name(got));
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
      cmocka_unit_test(test_stable_numbers),
      cmocka_unit_test(test_errno_band),
      cmocka_unit_test(test_from_errno),
      cmocka_unit_test(test_unknown_codes),
      cmocka_unit_test(test_expectations_cover_table),
      cmocka_unit_test(test_is_fatal),
      cmocka_unit_test(test_close_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
