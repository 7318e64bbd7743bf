/*
 * rt_proxy_test.c - the client's proxy pieces (src/rt/proxy.c): proxy URLs
 * accepted and refused, the CONNECT request, the CONNECT answer and the
 * SOCKS5 replies judged whole, refused with their reasons, and fed as
 * every prefix of the input from a copy that ends right before a
 * PROT_NONE page (so a read past what was given faults), which must
 * always be "need more" until the reply is complete.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wsv.h"

#include "proxy.h"
#include "support/guard.h"

/* ---- proxy URLs ------------------------------------------------------------ */

static void test_parse_accepted(void **state) {
  (void)state;
  struct wsv__proxy p;
  const char *why = "x";
  assert_int_equal(wsv__proxy_parse(&p, "http://proxy.test:3128", &why), 0);
  assert_null(why);
  assert_int_equal(p.kind, WSV__PROXY_HTTP);
  assert_string_equal(p.host, "proxy.test");
  assert_int_equal(p.port, 3128);
  assert_null(p.user);
  wsv__proxy_free(&p);
  assert_null(p.host);

  assert_int_equal(wsv__proxy_parse(&p, "HTTP://h/", &why), 0);
  assert_int_equal(p.port, 8080); /* the default */
  wsv__proxy_free(&p);

  assert_int_equal(
      wsv__proxy_parse(&p, "socks5://u%3Ax:p%40ss:w@[::1]:1081", &why), 0);
  assert_int_equal(p.kind, WSV__PROXY_SOCKS5);
  assert_string_equal(p.host, "::1");
  assert_int_equal(p.port, 1081);
  assert_string_equal(p.user, "u:x"); /* split at the first ':', decoded */
  assert_string_equal(p.pass, "p@ss:w");
  wsv__proxy_free(&p);

  assert_int_equal(wsv__proxy_parse(&p, "socks5h://10.0.0.1", &why), 0);
  assert_int_equal(p.kind, WSV__PROXY_SOCKS5);
  assert_int_equal(p.port, 1080);
  wsv__proxy_free(&p);

  assert_int_equal(wsv__proxy_parse(&p, "http://onlyuser@h:1", &why), 0);
  assert_string_equal(p.user, "onlyuser");
  assert_string_equal(p.pass, "");
  wsv__proxy_free(&p);
  wsv__proxy_free(NULL);
}

static void test_parse_refused(void **state) {
  (void)state;
  char longuser[300];
  memset(longuser, 'a', 256);
  longuser[256] = '\0';
  char url[400];
  snprintf(url, sizeof url, "socks5://%s:p@h", longuser);
  static const struct {
    const char *url, *why;
  } cases[] = {
      {"ftp://h:1", "must start with http://, socks5:// or socks5h://"},
      {"https://h:1", "must start with http://"},
      {"h:1", "must start with"},
      {"", "must start with"},
      {"http://h:1/path", "no path or query"},
      {"http://h:1?q", "no path or query"},
      {"http://:1", "no host"},
      {"http://h:0", "bad port"},
      {"http://h:99999", "bad port"},
      {"http://u:%zz@h", "bad user information"},
      {"http://u:%00@h", "percent-encoding"},
      {"socks5://:p@h", "must not be empty"},
      {"http://h:1#f", "fragment"},
  };
  struct wsv__proxy p;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *why = NULL;
    assert_int_equal(wsv__proxy_parse(&p, cases[i].url, &why), WSV_ERR_INVAL);
    assert_non_null(why);
    if (strstr(why, cases[i].why) == NULL)
      fail_msg("%s: reason \"%s\", expected \"%s\"", cases[i].url, why,
               cases[i].why);
    assert_null(p.host);
  }
  const char *why = NULL;
  assert_int_equal(wsv__proxy_parse(&p, url, &why), WSV_ERR_INVAL);
  assert_non_null(strstr(why, "255"));
  assert_int_equal(wsv__proxy_parse(&p, NULL, &why), WSV_ERR_INVAL);
}

/* ---- HTTP CONNECT ------------------------------------------------------------ */

static void test_connect_request(void **state) {
  (void)state;
  struct wsv__proxy p;
  const char *why;
  char out[512];
  assert_int_equal(wsv__proxy_parse(&p, "http://h:1", &why), 0);
  size_t n = wsv__proxy_connect_request(&p, "example.com", 443, out,
                                        sizeof out);
  static const char plain[] = "CONNECT example.com:443 HTTP/1.1\r\n"
                              "Host: example.com:443\r\n\r\n";
  assert_int_equal(n, strlen(plain));
  assert_memory_equal(out, plain, n);
  n = wsv__proxy_connect_request(&p, "::1", 8080, out, sizeof out);
  assert_true(n > 0);
  assert_non_null(strstr(out, "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080"));
  assert_int_equal(wsv__proxy_connect_request(&p, "example.com", 443, out, 20),
                   0); /* too small: nothing cut */
  wsv__proxy_free(&p);
  assert_int_equal(wsv__proxy_parse(&p, "http://Aladdin:open%20sesame@h", &why),
                   0);
  n = wsv__proxy_connect_request(&p, "a", 80, out, sizeof out);
  out[n] = '\0';
  /* RFC 7617's example */
  assert_non_null(strstr(
      out, "\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"));
  wsv__proxy_free(&p);
}

/* Feed every prefix of s (from a guard copy) to the answer parser: all but
 * the whole are "more" (0) or the same error as the whole, never a
 * success.  Returns the whole's result. */
static int answer_every_prefix(const char *s, int *status, char *why,
                               size_t cap) {
  size_t n = strlen(s);
  int whole = 0;
  for (size_t k = 0; k <= n; k++) {
    uint8_t *g = guard_copy(s, k);
    int st = -1;
    int r = wsv__proxy_connect_answer((const char *)g, k, &st, why, cap);
    guard_free(g, k);
    if (k < n && r > 0)
      fail_msg("prefix %zu of \"%s\" is a complete answer", k, s);
    if (k == n) {
      whole = r;
      *status = st;
    }
  }
  return whole;
}

static void test_connect_answer(void **state) {
  (void)state;
  char why[256];
  int st;
  static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
  assert_int_equal(answer_every_prefix(ok, &st, why, sizeof why),
                   (int)strlen(ok));
  assert_int_equal(st, 200);
  static const char ok10[] = "HTTP/1.0 200 OK\r\nVia: x\r\n\r\n";
  assert_int_equal(answer_every_prefix(ok10, &st, why, sizeof why),
                   (int)strlen(ok10));
  /* bytes after the head are the tunnel's, not the answer's */
  static const char more[] = "HTTP/1.1 204 No Content\r\n\r\nXYZ";
  assert_int_equal(wsv__proxy_connect_answer(more, strlen(more), &st, why,
                                             sizeof why),
                   (int)strlen(more) - 3);

  static const char auth[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                             "Proxy-Authenticate: Basic realm=x\r\n\r\n";
  assert_int_equal(answer_every_prefix(auth, &st, why, sizeof why),
                   WSV_ERR_PROXY);
  assert_int_equal(st, 407);
  assert_non_null(strstr(why, "407 \"Proxy Authentication Required\""));
  assert_non_null(strstr(why, "user:pass@"));

  static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\n\r\n";
  assert_int_equal(answer_every_prefix(bad, &st, why, sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "refused the tunnel: 502 \"Bad Gateway\""));

  static const char redirect[] = "HTTP/1.1 301 Moved\r\nLocation: /\r\n\r\n";
  assert_int_equal(answer_every_prefix(redirect, &st, why, sizeof why),
                   WSV_ERR_PROXY);

  static const char ssh[] = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  assert_int_equal(answer_every_prefix(ssh, &st, why, sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "not HTTP"));
  assert_non_null(strstr(why, "SSH-2.0-OpenSSH_9.2"));
  assert_int_equal(st, 0);

  static const char lf[] = "HTTP/1.1 200 OK\n\n";
  assert_int_equal(answer_every_prefix(lf, &st, why, sizeof why),
                   WSV_ERR_PROXY);
  static const char bin[] = "\x05\x00\x00\x01";
  assert_int_equal(answer_every_prefix(bin, &st, why, sizeof why),
                   WSV_ERR_PROXY); /* judged at its first byte */
  assert_int_equal(wsv__proxy_connect_answer("\x05\x00\r\n", 4, &st, why,
                                             sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "\\x05"));

  /* A head that never ends is refused once it passes the limit. */
  size_t big = 17 + 8 * (WSV__PROXY_MAX_HEAD / 8 + 2);
  char *h = malloc(big);
  assert_non_null(h);
  memcpy(h, "HTTP/1.1 200 OK\r\n", 17);
  for (size_t k = 17; k < big; k += 8)
    memcpy(h + k, "X-A: b\r\n", 8);
  assert_int_equal(wsv__proxy_connect_answer(h, big, &st, why, sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "too large"));
  free(h);
}

/* ---- SOCKS5 ----------------------------------------------------------------- */

static void test_socks5_requests(void **state) {
  (void)state;
  struct wsv__proxy p;
  const char *why;
  uint8_t out[513];
  assert_int_equal(wsv__proxy_parse(&p, "socks5://h", &why), 0);
  assert_int_equal(wsv__socks5_greeting(&p, out), 3);
  assert_memory_equal(out, "\x05\x01\x00", 3);
  assert_int_equal(wsv__socks5_auth(&p, out), 0);
  wsv__proxy_free(&p);
  assert_int_equal(wsv__proxy_parse(&p, "socks5://bob:pw@h", &why), 0);
  assert_int_equal(wsv__socks5_greeting(&p, out), 4);
  assert_memory_equal(out, "\x05\x02\x00\x02", 4);
  assert_int_equal(wsv__socks5_auth(&p, out), 8);
  assert_memory_equal(out, "\x01\x03" "bob" "\x02" "pw", 8);
  wsv__proxy_free(&p);

  uint8_t req[262];
  assert_int_equal(wsv__socks5_connect("127.0.0.1", 8080, req), 10);
  assert_memory_equal(req, "\x05\x01\x00\x01\x7f\x00\x00\x01\x1f\x90", 10);
  assert_int_equal(wsv__socks5_connect("::1", 443, req), 22);
  assert_int_equal(req[3], 4);
  assert_int_equal(req[19], 1);
  assert_int_equal(wsv__socks5_connect("localhost", 80, req), 4 + 1 + 9 + 2);
  assert_memory_equal(req, "\x05\x01\x00\x03\x09localhost\x00\x50", 16);
  char name[300];
  memset(name, 'a', 256);
  name[256] = '\0';
  assert_int_equal(wsv__socks5_connect(name, 80, req), 0);
  name[255] = '\0';
  assert_int_equal(wsv__socks5_connect(name, 80, req), 4 + 1 + 255 + 2);
  assert_int_equal(wsv__socks5_connect("", 80, req), 0);
}

/* wsv__socks5_parse on every prefix of in[0..n) from a guard copy: all
 * shorter ones "more" (0) or the whole's error; returns the whole's. */
static int s5_every_prefix(int step, const void *in, size_t n, int auth,
                           int *method, char *why, size_t cap) {
  int whole = 0;
  for (size_t k = 0; k <= n; k++) {
    uint8_t *g = guard_copy(in, k);
    int r = wsv__socks5_parse(step, g, k, auth, method, why, cap);
    guard_free(g, k);
    if (k < n && r > 0)
      fail_msg("step %d: prefix %zu of %zu is complete", step, k, n);
    if (k == n)
      whole = r;
  }
  return whole;
}

static void test_socks5_replies(void **state) {
  (void)state;
  char why[256];
  int m = -1;
  assert_int_equal(
      s5_every_prefix(WSV__SOCKS5_METHOD, "\x05\x00", 2, 0, &m, why, sizeof why),
      2);
  assert_int_equal(m, 0);
  assert_int_equal(
      s5_every_prefix(WSV__SOCKS5_METHOD, "\x05\x02", 2, 1, &m, why, sizeof why),
      2);
  assert_int_equal(m, 2);
  assert_int_equal(
      s5_every_prefix(WSV__SOCKS5_METHOD, "\x05\x02", 2, 0, &m, why, sizeof why),
      WSV_ERR_PROXY); /* a method we did not offer */
  assert_non_null(strstr(why, "user:pass@"));
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_METHOD, "\x05\xff", 2, 1, &m,
                                   why, sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "none of our methods"));
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_METHOD, "\x04\x00", 2, 0, &m,
                                   why, sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "not a SOCKS5 proxy"));
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_METHOD, "HTTP/1.1 400", 12, 0,
                                   &m, why, sizeof why),
                   WSV_ERR_PROXY);

  assert_int_equal(
      s5_every_prefix(WSV__SOCKS5_AUTH, "\x01\x00", 2, 1, NULL, why, sizeof why),
      2);
  assert_int_equal(
      s5_every_prefix(WSV__SOCKS5_AUTH, "\x01\x01", 2, 1, NULL, why, sizeof why),
      WSV_ERR_PROXY);
  assert_non_null(strstr(why, "refused our user and password"));

  static const uint8_t v4[] = {5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38};
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_REPLY, v4, sizeof v4, 0, NULL,
                                   why, sizeof why),
                   10);
  uint8_t v6[22] = {5, 0, 0, 4};
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_REPLY, v6, sizeof v6, 0, NULL,
                                   why, sizeof why),
                   22);
  static const uint8_t name[] = {5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 80};
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_REPLY, name, sizeof name, 0,
                                   NULL, why, sizeof why),
                   10);
  /* the reply's length is its own: bytes after it are the tunnel's */
  static const uint8_t extra[] = {5, 0, 0, 1, 1, 2, 3, 4, 0, 80, 'G', 'E'};
  assert_int_equal(wsv__socks5_parse(WSV__SOCKS5_REPLY, extra, sizeof extra, 0,
                                     NULL, why, sizeof why),
                   10);
  static const struct {
    uint8_t rep;
    const char *text;
  } reps[] = {{1, "general SOCKS server failure"},
              {2, "not allowed by ruleset"},
              {3, "network unreachable"},
              {4, "host unreachable"},
              {5, "connection refused"},
              {6, "TTL expired"},
              {7, "command not supported"},
              {8, "address type not supported"},
              {9, "unknown error"}};
  for (size_t i = 0; i < sizeof reps / sizeof reps[0]; i++) {
    uint8_t r[10] = {5, reps[i].rep, 0, 1};
    assert_int_equal(
        wsv__socks5_parse(WSV__SOCKS5_REPLY, r, 10, 0, NULL, why, sizeof why),
        WSV_ERR_PROXY);
    if (strstr(why, reps[i].text) == NULL)
      fail_msg("reply %u: \"%s\"", reps[i].rep, why);
  }
  static const uint8_t atyp[] = {5, 0, 0, 2, 0, 0, 0, 0, 0, 0};
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_REPLY, atyp, sizeof atyp, 0,
                                   NULL, why, sizeof why),
                   WSV_ERR_PROXY);
  assert_non_null(strstr(why, "address type 2"));
  static const uint8_t rsv[] = {5, 0, 7, 1, 0, 0, 0, 0, 0, 0};
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_REPLY, rsv, sizeof rsv, 0, NULL,
                                   why, sizeof why),
                   WSV_ERR_PROXY);
  static const uint8_t ver[] = {4, 90, 0, 0};
  assert_int_equal(s5_every_prefix(WSV__SOCKS5_REPLY, ver, sizeof ver, 0, NULL,
                                   why, sizeof why),
                   WSV_ERR_PROXY);
  assert_int_equal(
      wsv__socks5_parse(9, v4, sizeof v4, 0, NULL, why, sizeof why),
      WSV_ERR_PROXY);
}

/* ---- the core helpers the proxy uses ---------------------------------------- */

static void test_base64_and_decode(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(wsv_base64_encode("", 0, out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(wsv_base64_encode(NULL, 0, NULL, 0), 0);
  assert_int_equal(wsv_base64_encode("f", 1, out, sizeof out), 4);
  assert_string_equal(out, "Zg==");
  assert_int_equal(wsv_base64_encode("foobar", 6, out, sizeof out), 8);
  assert_string_equal(out, "Zm9vYmFy");
  memset(out, 'x', sizeof out);
  assert_int_equal(wsv_base64_encode("foobar", 6, out, 8), 8); /* no room */
  assert_int_equal(out[0], 'x');
  assert_int_equal(wsv_base64_encode("fo", 2, NULL, 0), 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_accepted),
      cmocka_unit_test(test_parse_refused),
      cmocka_unit_test(test_connect_request),
      cmocka_unit_test(test_connect_answer),
      cmocka_unit_test(test_socks5_requests),
      cmocka_unit_test(test_socks5_replies),
      cmocka_unit_test(test_base64_and_decode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
