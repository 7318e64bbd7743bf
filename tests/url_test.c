/*
 * url_test.c - the URL parser (src/url.c, wsv/url.h): every rule accepted
 * and rejected with its reason, the fields of accepted URLs (views into
 * the input, the statics where promised), wsv_url_target, and every
 * prefix of every case parsed from a copy that ends right before a
 * PROT_NONE page (no read past the input, no NUL needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"
#include "support/guard.h"

#define U WSV_URL_USERINFO
#define H WSV_URL_HTTP

static int ut_eq(struct wsv_str s, const char *want) {
  if (want == NULL)
    return s.ptr == NULL && s.len == 0;
  return s.ptr != NULL && s.len == strlen(want) &&
         memcmp(s.ptr, want, s.len) == 0;
}

/* 1 if the view lies inside g[0..n). */
static int ut_inside(struct wsv_str s, const uint8_t *g, size_t n) {
  const char *b = (const char *)g;
  return s.ptr >= b && s.ptr + s.len <= b + n;
}

/* Parse in[0..strlen) from a guard copy; the copy is returned in *g. */
static int ut_parse(struct wsv_url *u, const char *in, unsigned flags,
                    const char **why, uint8_t **g) {
  size_t n = strlen(in);
  *g = guard_copy(in, n);
  return wsv_url_parse(u, (const char *)*g, n, flags, why);
}

/* ---- accepted ------------------------------------------------------------ */

struct ut_ok {
  const char *in;
  unsigned flags;
  int secure;
  const char *host;
  int kind;
  uint16_t port;
  int port_given;
  const char *userinfo; /* NULL: none */
  const char *path;
  const char *query;  /* NULL: none */
  const char *target; /* as wsv_url_target writes it */
  int target_view;    /* 0: u.target is {NULL,0} */
};

static const struct ut_ok ut_oks[] = {
    /* defaults, schemes in any case */
    {"ws://example.com", 0, 0, "example.com", WSV_HOST_REG_NAME, 80, 0, NULL,
     "/", NULL, "/", 1},
    {"wss://example.com", 0, 1, "example.com", WSV_HOST_REG_NAME, 443, 0, NULL,
     "/", NULL, "/", 1},
    {"WS://Example.COM/", 0, 0, "Example.COM", WSV_HOST_REG_NAME, 80, 0, NULL,
     "/", NULL, "/", 1},
    {"WsS://h/Chat", 0, 1, "h", WSV_HOST_REG_NAME, 443, 0, NULL, "/Chat", NULL,
     "/Chat", 1},
    /* ports */
    {"ws://h:8080/x", 0, 0, "h", WSV_HOST_REG_NAME, 8080, 1, NULL, "/x", NULL,
     "/x", 1},
    {"ws://h:80", 0, 0, "h", WSV_HOST_REG_NAME, 80, 1, NULL, "/", NULL, "/", 1},
    {"wss://h:443/", 0, 1, "h", WSV_HOST_REG_NAME, 443, 1, NULL, "/", NULL, "/",
     1},
    {"ws://h:1", 0, 0, "h", WSV_HOST_REG_NAME, 1, 1, NULL, "/", NULL, "/", 1},
    {"ws://h:65535", 0, 0, "h", WSV_HOST_REG_NAME, 65535, 1, NULL, "/", NULL,
     "/", 1},
    {"ws://h:0080", 0, 0, "h", WSV_HOST_REG_NAME, 80, 1, NULL, "/", NULL, "/",
     1},
    {"ws://h:000000000000000000009?q", 0, 0, "h", WSV_HOST_REG_NAME, 9, 1, NULL,
     "/", "q", "/?q", 0},
    /* IPv4, IPv6, IPvFuture */
    {"ws://127.0.0.1:9001/", 0, 0, "127.0.0.1", WSV_HOST_IPV4, 9001, 1, NULL,
     "/", NULL, "/", 1},
    {"ws://1.2.3.256/", 0, 0, "1.2.3.256", WSV_HOST_REG_NAME, 80, 0, NULL, "/",
     NULL, "/", 1},
    {"ws://[::1]", 0, 0, "::1", WSV_HOST_IPV6, 80, 0, NULL, "/", NULL, "/", 1},
    {"ws://[::1]:9001/p", 0, 0, "::1", WSV_HOST_IPV6, 9001, 1, NULL, "/p", NULL,
     "/p", 1},
    {"wss://[2001:DB8::1]/", 0, 1, "2001:DB8::1", WSV_HOST_IPV6, 443, 0, NULL,
     "/", NULL, "/", 1},
    {"ws://[::ffff:192.0.2.1]?x", 0, 0, "::ffff:192.0.2.1", WSV_HOST_IPV6, 80,
     0, NULL, "/", "x", "/?x", 0},
    {"ws://[1:2:3:4:5:6:7:8]:1/", 0, 0, "1:2:3:4:5:6:7:8", WSV_HOST_IPV6, 1, 1,
     NULL, "/", NULL, "/", 1},
    {"ws://[v1.x:y]/", 0, 0, "[v1.x:y]", WSV_HOST_IPV_FUTURE, 80, 0, NULL, "/",
     NULL, "/", 1},
    /* reg-names: unreserved, %XX, sub-delims */
    {"ws://a-b_c~d.e/", 0, 0, "a-b_c~d.e", WSV_HOST_REG_NAME, 80, 0, NULL, "/",
     NULL, "/", 1},
    {"ws://%41.test!$&'()*+,;=/", 0, 0,
     "%41.test!$&'()*+,;=", WSV_HOST_REG_NAME, 80, 0, NULL, "/", NULL, "/", 1},
    /* paths and queries */
    {"ws://h/chat?room=1&x=%20", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL,
     "/chat", "room=1&x=%20", "/chat?room=1&x=%20", 1},
    {"ws://h?q", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/", "q", "/?q", 0},
    {"ws://h:81?a=b/c?d", 0, 0, "h", WSV_HOST_REG_NAME, 81, 1, NULL, "/",
     "a=b/c?d", "/?a=b/c?d", 0},
    {"ws://h?", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/", "", "/?", 0},
    {"ws://h/?", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/", "", "/?", 1},
    {"ws://h//a/../b:c@d", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL,
     "//a/../b:c@d", NULL, "//a/../b:c@d", 1},
    {"ws://h/{}|\\^`\"<>[]", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL,
     "/{}|\\^`\"<>[]", NULL, "/{}|\\^`\"<>[]", 1},
    {"ws://h/p?x@y", 0, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/p", "x@y",
     "/p?x@y", 1},
    /* user information, with the flag */
    {"ws://user:pa%20ss@h:81/p", U, 0, "h", WSV_HOST_REG_NAME, 81, 1,
     "user:pa%20ss", "/p", NULL, "/p", 1},
    {"ws://@h", U, 0, "h", WSV_HOST_REG_NAME, 80, 0, "", "/", NULL, "/", 1},
    {"wss://u@[::1]:8443", U, 1, "::1", WSV_HOST_IPV6, 8443, 1, "u", "/", NULL,
     "/", 1},
    {"ws://h:80@evil.example/", U, 0, "evil.example", WSV_HOST_REG_NAME, 80, 0,
     "h:80", "/", NULL, "/", 1},
    {"ws://h/", U, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/", NULL, "/", 1},
    /* http:// and https:// with the flag */
    {"http://h/x", H, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/x", NULL, "/x",
     1},
    {"HTTPS://h", H, 1, "h", WSV_HOST_REG_NAME, 443, 0, NULL, "/", NULL, "/",
     1},
    {"ws://h", H, 0, "h", WSV_HOST_REG_NAME, 80, 0, NULL, "/", NULL, "/", 1},
    {"https://u@h:1/", H | U, 1, "h", WSV_HOST_REG_NAME, 1, 1, "u", "/", NULL,
     "/", 1},
};

static void ut_check_ok(const struct ut_ok *c) {
  struct wsv_url u;
  const char *why = "unset";
  uint8_t *g;
  size_t n = strlen(c->in), tl;
  char t[256];
  memset(&u, 0xa5, sizeof u);
  if (ut_parse(&u, c->in, c->flags, &why, &g) != WSV_OK)
    fail_msg("%s refused: %s", c->in, why);
  assert_null(why);
  assert_int_equal(u.secure, c->secure);
  if (!ut_eq(u.host, c->host))
    fail_msg("%s: host %.*s", c->in, (int)u.host.len, u.host.ptr);
  assert_true(ut_inside(u.host, g, n));
  assert_int_equal(u.host_kind, c->kind);
  assert_int_equal(u.port, c->port);
  assert_int_equal(u.port_given, c->port_given);
  assert_true(ut_eq(u.userinfo, c->userinfo));
  if (c->userinfo != NULL)
    assert_true(ut_inside(u.userinfo, g, n));
  if (!ut_eq(u.path, c->path))
    fail_msg("%s: path %.*s", c->in, (int)u.path.len, u.path.ptr);
  assert_true(ut_eq(u.query, c->query));
  if (c->query != NULL)
    assert_true(ut_inside(u.query, g, n));
  /* the path is a view of the input, or the static "/" */
  assert_true(ut_inside(u.path, g, n) || strcmp(c->path, "/") == 0);
  if (c->target_view) {
    assert_true(ut_eq(u.target, c->target));
    assert_true(ut_inside(u.target, g, n) || strcmp(c->target, "/") == 0);
    if (ut_inside(u.target, g, n)) /* it runs to the end of the input */
      assert_ptr_equal(u.target.ptr + u.target.len, (const char *)g + n);
  } else {
    assert_null(u.target.ptr);
    assert_int_equal(u.target.len, 0);
  }
  tl = strlen(c->target);
  assert_int_equal(wsv_url_target(&u, NULL, 0), tl);
  memset(t, 'x', sizeof t);
  assert_int_equal(wsv_url_target(&u, t, tl), tl); /* too small: untouched */
  assert_int_equal(t[0], 'x');
  assert_int_equal(wsv_url_target(&u, t, tl + 1), tl);
  assert_string_equal(t, c->target);
  /* Without a NUL at s[n] nothing changes; with one, a non-static
   * target is a C string. */
  guard_free(g, n);
  memset(&u, 0, sizeof u);
  assert_int_equal(wsv_url_parse(&u, c->in, n, c->flags, NULL), WSV_OK);
  if (u.target.ptr != NULL && u.target.len > 1)
    assert_string_equal(u.target.ptr, c->target);
}

static void test_accepted(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ut_oks / sizeof ut_oks[0]; i++)
    ut_check_ok(&ut_oks[i]);
}

/* ---- refused ------------------------------------------------------------ */

#define R_SCHEME "the URL must start with ws:// or wss://"
#define R_SCHEME_H "the URL must start with ws://, wss://, http:// or https://"
#define R_BYTE                                                                 \
  "the URL holds a space, a control byte or a non-ASCII byte "                 \
  "(percent-encode it)"
#define R_USER "user information in the URL is not supported"
#define R_BADUSER "bad user information in the URL"
#define R_FRAG "a WebSocket URL must not have a fragment (#)"
#define R_NOHOST "the URL has no host"
#define R_V6 "bad IPv6 literal in the URL"
#define R_AFTERV6 "bad character after the IPv6 literal"
#define R_HOST "bad host in the URL"
#define R_EMPTYPORT "empty port in the URL"
#define R_PORT "bad port in the URL"

struct ut_bad {
  const char *in;
  unsigned flags;
  const char *why;
};

static const struct ut_bad ut_bads[] = {
    /* schemes */
    {"", 0, R_SCHEME},
    {"example.com", 0, R_SCHEME},
    {"ws:", 0, R_SCHEME},
    {"ws:/h", 0, R_SCHEME},
    {"ws:h", 0, R_SCHEME},
    {" ws://h", 0, R_SCHEME},
    {"wss:/", 0, R_SCHEME},
    {"ftp://h", 0, R_SCHEME},
    {"http://h", 0, R_SCHEME},
    {"https://h", 0, R_SCHEME},
    {"wsx://h", 0, R_SCHEME},
    {"ftp://h", H, R_SCHEME_H},
    {"httpss://h", H, R_SCHEME_H},
    /* bytes */
    {"ws://h/a b", 0, R_BYTE},
    {"ws://h /", 0, R_BYTE},
    {"ws://h/\t", 0, R_BYTE},
    {"ws://h/\r\nX: y", 0, R_BYTE},
    {"ws://h/\x7f", 0, R_BYTE},
    {"ws://h/caf\xc3\xa9", 0, R_BYTE},
    {"ws://h\xff/", 0, R_BYTE},
    {"ws://h/#\x01", 0, R_BYTE},
    /* user information */
    {"ws://user@h", 0, R_USER},
    {"ws://u:p@h:80/", 0, R_USER},
    {"ws://@h", 0, R_USER},
    {"ws://h@", 0, R_USER},
    {"ws://a@b@c", 0, R_USER},
    {"ws://u@h#f", 0, R_USER},
    {"ws://u[@h", U, R_BADUSER},
    {"ws://a@b@c", U, R_BADUSER},
    {"ws://%zz@h", U, R_BADUSER},
    /* fragments */
    {"ws://h#", 0, R_FRAG},
    {"ws://h/#f", 0, R_FRAG},
    {"ws://h/p?q#f", 0, R_FRAG},
    {"ws://h:1#", 0, R_FRAG},
    {"http://h/#x", H, R_FRAG},
    {"ws://#", 0, R_FRAG},
    /* hosts */
    {"ws://", 0, R_NOHOST},
    {"wss://", 0, R_NOHOST},
    {"ws:///p", 0, R_NOHOST},
    {"ws://?q", 0, R_NOHOST},
    {"ws://:80", 0, R_NOHOST},
    {"ws://:80/", 0, R_NOHOST},
    {"ws://@:80", U, R_NOHOST},
    {"ws://u@", U, R_NOHOST},
    {"ws://[", 0, R_V6},
    {"ws://[::1", 0, R_V6},
    {"ws://[::1/]", 0, R_V6},
    {"ws://[]", 0, R_V6},
    {"ws://[]:80", 0, R_V6},
    {"ws://[zz::]", 0, R_V6},
    {"ws://[zz]", 0, R_V6},
    {"ws://[12345::]", 0, R_V6},
    {"ws://[1:2:3:4:5:6:7:8:9]", 0, R_V6},
    {"ws://[1::2::3]", 0, R_V6},
    {"ws://[1.2.3.4]", 0, R_V6},
    {"ws://[example.com]", 0, R_V6},
    {"ws://[fe80::1%25eth0]", 0, R_V6},
    {"ws://[::1]x", 0, R_AFTERV6},
    {"ws://[::1]]", 0, R_AFTERV6},
    {"ws://[::1][::2]", 0, R_AFTERV6},
    {"ws://a%zz/", 0, R_HOST},
    {"ws://a%4/", 0, R_HOST},
    {"ws://a{b}/", 0, R_HOST},
    {"ws://a\"b/", 0, R_HOST},
    {"ws://a]b/", 0, R_HOST},
    {"ws://::1/", 0, R_NOHOST},
    {"ws://fe80::1/", 0, R_PORT},
    /* ports */
    {"ws://h:", 0, R_EMPTYPORT},
    {"ws://h:/p", 0, R_EMPTYPORT},
    {"ws://h:?q", 0, R_EMPTYPORT},
    {"ws://[::1]:", 0, R_EMPTYPORT},
    {"ws://h:0", 0, R_PORT},
    {"ws://h:00000", 0, R_PORT},
    {"ws://h:65536", 0, R_PORT},
    {"ws://h:99999999999999999999999", 0, R_PORT},
    {"ws://h:-1", 0, R_PORT},
    {"ws://h:+1", 0, R_PORT},
    {"ws://h:8o", 0, R_PORT},
    {"ws://h:1:2", 0, R_PORT},
    {"ws://h:0x50", 0, R_PORT},
    {"ws://[::1]:a", 0, R_PORT},
};

static void ut_check_bad(const struct ut_bad *c) {
  struct wsv_url u;
  const char *why = NULL;
  uint8_t *g;
  int rc = ut_parse(&u, c->in, c->flags, &why, &g);
  if (rc == WSV_OK)
    fail_msg("%s accepted", c->in);
  assert_int_equal(rc, WSV_ERR_INVAL);
  if (why == NULL || strcmp(why, c->why) != 0)
    fail_msg("%s: reason \"%s\", want \"%s\"", c->in, why ? why : "(null)",
             c->why);
  assert_null(strchr(why, '\n'));
  guard_free(g, strlen(c->in));
  assert_int_equal(wsv_url_parse(&u, c->in, strlen(c->in), c->flags, NULL),
                   WSV_ERR_INVAL);
}

static void test_refused(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ut_bads / sizeof ut_bads[0]; i++)
    ut_check_bad(&ut_bads[i]);
}

/* A NUL inside the length is a control byte, not the end. */
static void test_nul_inside(void **state) {
  static const char in[] = "ws://h/a\0b";
  struct wsv_url u;
  const char *why = NULL;
  (void)state;
  assert_int_equal(wsv_url_parse(&u, in, sizeof in - 1, 0, &why),
                   WSV_ERR_INVAL);
  assert_string_equal(why, R_BYTE);
  /* the length decides: the same bytes cut before the NUL are fine */
  assert_int_equal(wsv_url_parse(&u, in, 8, 0, &why), WSV_OK);
  assert_true(ut_eq(u.path, "/a"));
  assert_ptr_equal(u.path.ptr + u.path.len, in + 8);
}

static void test_arguments(void **state) {
  struct wsv_url u;
  const char *why = NULL;
  (void)state;
  assert_int_equal(wsv_url_parse(NULL, "ws://h", 6, 0, &why), WSV_ERR_INVAL);
  assert_string_equal(why, "bad arguments");
  assert_int_equal(wsv_url_parse(&u, NULL, 6, 0, &why), WSV_ERR_INVAL);
  assert_string_equal(why, "bad arguments");
  assert_int_equal(wsv_url_parse(&u, NULL, 0, 0, &why), WSV_ERR_INVAL);
  assert_string_equal(why, R_SCHEME);
  assert_int_equal(wsv_url_parse(NULL, NULL, 0, 0, NULL), WSV_ERR_INVAL);
  /* unknown flag bits are ignored */
  assert_int_equal(wsv_url_parse(&u, "ws://h", 6, 0xf0u, &why), WSV_OK);
  assert_null(why);
}

/* Long inputs: a long path, query, host and port are taken whole. */
static void test_long(void **state) {
  size_t big = 100000, n, i;
  char *in = malloc(big + 64);
  struct wsv_url u;
  const char *why = NULL;
  uint8_t *g;
  (void)state;
  assert_non_null(in);
  /* ws://h/aaaa...?bbbb... */
  n = (size_t)snprintf(in, 64, "ws://h/");
  for (i = 0; i < big / 2; i++)
    in[n++] = 'a';
  in[n++] = '?';
  for (i = 0; i < big / 2; i++)
    in[n++] = 'b';
  g = guard_copy(in, n);
  assert_int_equal(wsv_url_parse(&u, (const char *)g, n, 0, &why), WSV_OK);
  assert_int_equal(u.path.len, 1 + big / 2);
  assert_int_equal(u.query.len, big / 2);
  assert_int_equal(u.target.len, n - 6);
  guard_free(g, n);
  /* a host of 100000 letters, then ":" and 1000 zeros and "1" */
  n = (size_t)snprintf(in, 64, "wss://");
  for (i = 0; i < big - 2000; i++)
    in[n++] = 'h';
  in[n++] = ':';
  for (i = 0; i < 1000; i++)
    in[n++] = '0';
  in[n++] = '1';
  g = guard_copy(in, n);
  assert_int_equal(wsv_url_parse(&u, (const char *)g, n, 0, &why), WSV_OK);
  assert_int_equal(u.host.len, big - 2000);
  assert_int_equal(u.port, 1);
  assert_int_equal(u.target.len, 1);
  guard_free(g, n);
  /* a port that overflows any integer type */
  n = (size_t)snprintf(in, 64, "ws://h:");
  for (i = 0; i < 1000; i++)
    in[n++] = '9';
  g = guard_copy(in, n);
  assert_int_equal(wsv_url_parse(&u, (const char *)g, n, 0, &why),
                   WSV_ERR_INVAL);
  assert_string_equal(why, R_PORT);
  guard_free(g, n);
  free(in);
}

/* Every prefix of every case, from a guard copy: any answer, no over-read,
 * and an accepted prefix has its views inside the prefix. */
static void ut_prefixes(const char *in, unsigned flags) {
  size_t n = strlen(in), k;
  for (k = 0; k <= n; k++) {
    struct wsv_url u;
    const char *why = NULL;
    uint8_t *g = guard_copy(in, k);
    int rc = wsv_url_parse(&u, (const char *)g, k, flags, &why);
    if (rc == WSV_OK) {
      assert_null(why);
      assert_true(ut_inside(u.host, g, k));
      assert_true(u.host.len > 0);
    } else {
      assert_int_equal(rc, WSV_ERR_INVAL);
      assert_non_null(why);
    }
    guard_free(g, k);
  }
}

static void test_prefixes(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ut_oks / sizeof ut_oks[0]; i++)
    ut_prefixes(ut_oks[i].in, ut_oks[i].flags);
  for (i = 0; i < sizeof ut_bads / sizeof ut_bads[0]; i++)
    ut_prefixes(ut_bads[i].in, ut_bads[i].flags);
}

/* wsv_url_decode: decoded, refused (bad escape, %00, no room), every
 * input read from a guard copy. */
static void ut_decode(const char *in, const char *want) {
  size_t n = strlen(in);
  char out[64];
  uint8_t *g = guard_copy(in, n);
  size_t r = wsv_url_decode((const char *)g, n, out, sizeof out);
  if (want == NULL) {
    if (r != SIZE_MAX)
      fail_msg("\"%s\" decoded, expected a refusal", in);
  } else {
    assert_int_equal(r, strlen(want));
    assert_string_equal(out, want);
    /* exactly the length is too small; length + 1 is enough */
    assert_int_equal(wsv_url_decode((const char *)g, n, out, r), SIZE_MAX);
    assert_int_equal(wsv_url_decode((const char *)g, n, out, r + 1), r);
  }
  guard_free(g, n);
}

static void test_decode(void **state) {
  (void)state;
  ut_decode("", "");
  ut_decode("alice", "alice");
  ut_decode("p%40ss", "p@ss");
  ut_decode("%3a%3A", "::");
  ut_decode("a%20b%7e", "a b~");
  ut_decode("%e2%82%ac", "\xe2\x82\xac");
  ut_decode("100%", NULL);
  ut_decode("%4", NULL);
  ut_decode("%zz", NULL);
  ut_decode("%g0", NULL);
  ut_decode("a%00b", NULL);
  assert_int_equal(wsv_url_decode(NULL, 0, NULL, 0), SIZE_MAX); /* no room */
  char out[4];
  assert_int_equal(wsv_url_decode(NULL, 0, out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(wsv_url_decode(NULL, 3, out, sizeof out), SIZE_MAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_accepted),   cmocka_unit_test(test_refused),
      cmocka_unit_test(test_nul_inside), cmocka_unit_test(test_arguments),
      cmocka_unit_test(test_long),       cmocka_unit_test(test_prefixes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
