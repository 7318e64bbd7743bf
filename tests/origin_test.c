/* origin_test.c - Origin allow-lists, the same-origin check and the
 * accept-hook form (wsv/origin.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wsv.h"
#include "support/guard.h"

/* Views of NUL-free text that ends right before an inaccessible page, so
 * that a read past the value faults. */
struct ot_view {
  struct wsv_str s;
  uint8_t *g;
};

static struct ot_view ot_view(const char *text) {
  struct ot_view v = {{NULL, 0}, NULL};
  if (text != NULL) {
    size_t n = strlen(text);
    v.g = guard_copy(text, n);
    v.s.ptr = (const char *)v.g;
    v.s.len = n;
  }
  return v;
}

static void ot_view_free(struct ot_view *v) {
  if (v->g != NULL)
    guard_free(v->g, v->s.len);
}

/* ---- the list's grammar ------------------------------------------------- */

static void test_list_valid(void **state) {
  static const char *ok[] = {
      "*",
      "null",
      "NULL",
      "http://a.test",
      "https://a.test:8443",
      "HTTP://A.TEST:80",
      "a.test",
      "a.test:8080",
      "127.0.0.1:9000",
      "*.example.org",
      "https://*.example.org:8443",
      "http://a.test:*",
      "http://[::1]:8080",
      "[::1]",
      "[2001:db8::1]:443",
      "[::ffff:127.0.0.1]",
      "chrome-extension://abcdefghijklmnop",
      "moz-extension://x.y",
      "a.test:0",
      "a.test:65535",
      " http://a.test , b.test ",
      "\thttp://a.test,\tnull",
      "http://a.test,*",
      "a_b~c-d.test",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    struct wsv_str bad = {"x", 1};
    struct wsv_origin_policy *pol = NULL;
    if (wsv_origin_list_check(ok[i], &bad) != 0)
      fail_msg("refused: \"%s\" (bad \"%.*s\")", ok[i], (int)bad.len, bad.ptr);
    assert_int_equal(wsv_origin_policy_new(&pol, ok[i], 0, NULL), 0);
    assert_non_null(pol);
    wsv_origin_policy_free(pol);
  }
}

static void test_list_malformed(void **state) {
  static const struct {
    const char *list;
    const char *bad; /* the entry named */
  } cs[] = {
      {"", ""},
      {",", ""},
      {"a.test,", ""},
      {",a.test", ""},
      {"a.test,,b.test", ""},
      {"a.test, ,b.test", ""},
      {"http://a.test/", "http://a.test/"},
      {"http://a.test/x", "http://a.test/x"},
      {"http://a.test?q", "http://a.test?q"},
      {"http://a.test#f", "http://a.test#f"},
      {"http://user@a.test", "http://user@a.test"},
      {"http://", "http://"},
      {"://a.test", "://a.test"},
      {"1http://a.test", "1http://a.test"},
      {"a.test:", "a.test:"},
      {"a.test:65536", "a.test:65536"},
      {"a.test:123456", "a.test:123456"},
      {"a.test:8x", "a.test:8x"},
      {"a.test:-1", "a.test:-1"},
      {"a.test:**", "a.test:**"},
      {"*.", "*."},
      {"**", "**"},
      {"*a.test", "*a.test"},
      {"a.*.test", "a.*.test"},
      {"*.[::1]", "*.[::1]"},
      {"[::1", "[::1"},
      {"[zz::1]", "[zz::1]"},
      {"[1:2]", "[1:2]"},
      {"[::1]x", "[::1]x"},
      {"a b.test", "a b.test"},
      {".a.test", ".a.test"},
      {"http://a.test, http://b.test/", "http://b.test/"},
      {"ok.test, bad test", "bad test"},
      {"a%41.test", "a%41.test"},
      {"\xc3\xa9.test", "\xc3\xa9.test"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    struct wsv_str bad = {NULL, 99};
    struct wsv_origin_policy *pol = (struct wsv_origin_policy *)&bad;
    if (wsv_origin_list_check(cs[i].list, &bad) != WSV_ERR_INVAL)
      fail_msg("accepted: \"%s\"", cs[i].list);
    if (bad.len != strlen(cs[i].bad) ||
        memcmp(bad.ptr, cs[i].bad, bad.len) != 0)
      fail_msg("\"%s\": bad entry \"%.*s\", want \"%s\"", cs[i].list,
               (int)bad.len, bad.ptr ? bad.ptr : "(null)", cs[i].bad);
    assert_true(bad.ptr >= cs[i].list &&
                bad.ptr <= cs[i].list + strlen(cs[i].list)); /* a view */
    assert_int_equal(wsv_origin_policy_new(&pol, cs[i].list, 0, NULL),
                     WSV_ERR_INVAL);
    assert_null(pol);
  }
  assert_int_equal(wsv_origin_list_check(NULL, NULL), WSV_ERR_INVAL);
}

static void test_policy_new_args(void **state) {
  struct wsv_origin_policy *pol = NULL;
  (void)state;
  assert_int_equal(wsv_origin_policy_new(NULL, "*", 0, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_origin_policy_new(&pol, NULL, 8, NULL), WSV_ERR_INVAL);
  assert_null(pol);
  assert_int_equal(wsv_origin_policy_new(
                       &pol, NULL, WSV_ORIGIN_SAME | WSV_ORIGIN_REQUIRE, NULL),
                   0);
  assert_int_equal(wsv_origin_policy_any(pol), 0);
  wsv_origin_policy_free(pol);
  assert_int_equal(wsv_origin_policy_new(&pol, "a.test, *", 0, NULL), 0);
  assert_int_equal(wsv_origin_policy_any(pol), 1);
  wsv_origin_policy_free(pol);
  wsv_origin_policy_free(NULL);
  assert_int_equal(wsv_origin_policy_any(NULL), 0);
}

/* ---- the caller's allocator ---------------------------------------------- */

struct ot_counts {
  int mallocs, frees, fail;
};

static void *ot_malloc(size_t n, void *user) {
  struct ot_counts *c = user;
  if (c->fail)
    return NULL;
  c->mallocs++;
  return malloc(n);
}

static void *ot_realloc(void *p, size_t n, void *user) {
  (void)user;
  (void)p;
  (void)n;
  fail_msg("realloc is never needed");
  return NULL;
}

static void ot_free(void *p, void *user) {
  struct ot_counts *c = user;
  c->frees++;
  free(p);
}

static void test_allocator(void **state) {
  struct ot_counts c = {0, 0, 0};
  struct wsv_mem mem = {&c, ot_malloc, ot_realloc, ot_free};
  struct wsv_origin_policy *pol = NULL;
  (void)state;
  assert_int_equal(wsv_origin_policy_new(&pol, "http://a.test, *.b.test, null",
                                         WSV_ORIGIN_SAME, &mem),
                   0);
  assert_int_equal(c.mallocs, 1); /* one allocation */
  wsv_origin_policy_free(pol);
  assert_int_equal(c.frees, 1);
  c.fail = 1;
  pol = (struct wsv_origin_policy *)&c;
  assert_int_equal(wsv_origin_policy_new(&pol, "a.test", 0, &mem),
                   WSV_ERR_NOMEM);
  assert_null(pol);
}

/* ---- same origin ----------------------------------------------------------
 */

static void test_same_origin(void **state) {
  static const struct {
    const char *origin, *host;
    int tls, want;
  } cs[] = {
      {"http://127.0.0.1:8080", "127.0.0.1:8080", 0, 1},
      {"http://127.0.0.1:8080", "127.0.0.1:8081", 0, 0},
      {"http://127.0.0.2:8080", "127.0.0.1:8080", 0, 0},
      {"http://127.0.0.1:8080", "127.0.0.1:8080", 1, 0}, /* page http, wss */
      {"https://127.0.0.1:8080", "127.0.0.1:8080", 1, 1},
      {"https://127.0.0.1:8080", "127.0.0.1:8080", 0, 0},
      {"HTTP://A.Test:8080", "a.TEST:8080", 0, 1}, /* case */
      {"http://a.test", "a.test", 0, 1},           /* default ports */
      {"http://a.test", "a.test:80", 0, 1},
      {"http://a.test:80", "a.test", 0, 1},
      {"http://a.test", "a.test:443", 0, 0},
      {"https://a.test", "a.test", 1, 1},
      {"https://a.test", "a.test:443", 1, 1},
      {"https://a.test:443", "a.test", 1, 1},
      {"https://a.test", "a.test:80", 1, 0},
      {"http://a.test", "a.test:", 0, 1}, /* empty port: the default */
      {"http://a.test:8080", "a.test", 0, 0},
      {"http://a.test", "a.test.", 0, 0},
      {"http://[::1]:8080", "[::1]:8080", 0, 1}, /* IPv6 */
      {"http://[::1]", "[::1]", 0, 1},
      {"http://[::1]:8080", "[::2]:8080", 0, 0},
      {"http://[::1]:8080", "[::1]:8081", 0, 0},
      {"http://[::A]", "[::a]", 0, 1},
      {"ws://a.test", "a.test", 0, 0}, /* a page is never ws:// */
      {"wss://a.test", "a.test", 1, 0},
      {"null", "a.test", 0, 0},
      {NULL, "a.test", 0, 0},
      {"http://a.test/", "a.test", 0, 0}, /* malformed Origin */
      {"http://a.test:8x", "a.test", 0, 0},
      {"a.test", "a.test", 0, 0},
      {"http://a.test", "a.test:x", 0, 0}, /* malformed Host */
      {"http://a.test", "http://a.test", 0, 0},
      {"http://a.test", "", 0, 0},
      {"http://a.test", NULL, 0, 0},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    struct ot_view o = ot_view(cs[i].origin), h = ot_view(cs[i].host);
    int got = wsv_origin_same(o.s, h.s, cs[i].tls);
    if (got != cs[i].want)
      fail_msg("same(%s, %s, tls %d) = %d, want %d",
               cs[i].origin ? cs[i].origin : "(none)",
               cs[i].host ? cs[i].host : "(none)", cs[i].tls, got, cs[i].want);
    ot_view_free(&o);
    ot_view_free(&h);
  }
}

/* ---- lists ----------------------------------------------------------------
 */

#define SAME WSV_ORIGIN_SAME
#define REQ WSV_ORIGIN_REQUIRE
#define ADDR WSV_ORIGIN_SAME_ADDRESS

static void test_allowed(void **state) {
  static const struct {
    const char *list;
    unsigned flags;
    const char *origin, *host;
    int tls, want;
  } cs[] = {
      /* no list: same origin only, a missing Origin accepted */
      {NULL, SAME, "http://127.0.0.1:9000", "127.0.0.1:9000", 0, 1},
      {NULL, SAME, "http://evil.example", "127.0.0.1:9000", 0, 0},
      {NULL, SAME, "http://127.0.0.1:9001", "127.0.0.1:9000", 0, 0},
      {NULL, SAME, NULL, "127.0.0.1:9000", 0, 1},
      {NULL, SAME | REQ, NULL, "127.0.0.1:9000", 0, 0},
      {NULL, SAME, "null", "127.0.0.1:9000", 0, 0},
      {NULL, 0, "http://127.0.0.1:9000", "127.0.0.1:9000", 0, 0},
      {NULL, 0, NULL, "127.0.0.1:9000", 0, 1},
      /* SAME_ADDRESS: same origin only by address or as localhost; a
       * name that agrees with its Host may be a DNS-rebinding page */
      {NULL, SAME | ADDR, "http://127.0.0.1:9000", "127.0.0.1:9000", 0, 1},
      {NULL, SAME | ADDR, "http://[::1]:9000", "[::1]:9000", 0, 1},
      {NULL, SAME | ADDR, "http://LocalHost:9000", "localhost:9000", 0, 1},
      {NULL, SAME | ADDR, "https://10.1.2.3", "10.1.2.3", 1, 1},
      {NULL, SAME | ADDR, "http://evil.example:9000", "evil.example:9000", 0, 0},
      {NULL, SAME, "http://evil.example:9000", "evil.example:9000", 0, 1},
      {NULL, SAME | ADDR, "http://localhost.evil.example", "localhost.evil.example", 0, 0},
      {NULL, SAME | ADDR, "http://127.0.0.1.evil", "127.0.0.1.evil", 0, 0},
      {NULL, SAME | ADDR, "http://127.0.0.1:9001", "127.0.0.1:9000", 0, 0},
      {NULL, SAME | ADDR, NULL, "evil.example:9000", 0, 1},
      {"http://my.host:9000", SAME | ADDR, "http://my.host:9000", "my.host:9000", 0, 1},
      /* "*": everything, even malformed or missing with REQUIRE */
      {"*", 0, "http://evil.example", "h", 0, 1},
      {"*", REQ, NULL, "h", 0, 1},
      {"*", 0, "null", "h", 0, 1},
      {"*", 0, "not an origin", "h", 0, 1},
      /* scheme://host: the scheme's default port, case, ports */
      {"http://a.test", 0, "http://a.test", "h", 0, 1},
      {"http://a.test", 0, "http://a.test:80", "h", 0, 1},
      {"http://a.test:80", 0, "http://a.test", "h", 0, 1},
      {"http://a.test", 0, "http://a.test:8080", "h", 0, 0},
      {"http://a.test", 0, "https://a.test", "h", 0, 0},
      {"HTTP://A.TEST", 0, "http://a.test", "h", 0, 1},
      {"http://a.test", 0, "HTTP://A.Test", "h", 0, 1},
      {"https://a.test", 0, "https://a.test:443", "h", 0, 1},
      {"https://a.test", 0, "https://a.test:80", "h", 0, 0},
      {"wss://a.test", 0, "wss://a.test:443", "h", 0, 1},
      {"ws://a.test", 0, "ws://a.test:80", "h", 0, 1},
      {"ws://a.test", 0, "http://a.test", "h", 0, 0},
      {"http://a.test:*", 0, "http://a.test:1234", "h", 0, 1},
      {"http://a.test:*", 0, "https://a.test:1234", "h", 0, 0},
      {"http://a.test", 0, "http://b.test", "h", 0, 0},
      {"http://a.test", 0, "http://a.test.evil", "h", 0, 0},
      {"http://a.test", 0, "http://xa.test", "h", 0, 0},
      {"chrome-extension://abc", 0, "chrome-extension://abc", "h", 0, 1},
      {"chrome-extension://abc", 0, "chrome-extension://abc:80", "h", 0, 0},
      {"chrome-extension://abc", 0, "chrome-extension://abd", "h", 0, 0},
      /* host[:port] without a scheme: any scheme; any port without one */
      {"a.test", 0, "http://a.test:8080", "h", 0, 1},
      {"a.test", 0, "https://a.test", "h", 0, 1},
      {"a.test", 0, "http://b.test", "h", 0, 0},
      {"a.test:8080", 0, "http://a.test:8080", "h", 0, 1},
      {"a.test:8080", 0, "https://a.test:8080", "h", 0, 1},
      {"a.test:8080", 0, "http://a.test:8081", "h", 0, 0},
      {"a.test:80", 0, "http://a.test", "h", 0, 1},
      {"a.test:443", 0, "https://a.test", "h", 0, 1},
      {"a.test:443", 0, "http://a.test", "h", 0, 0},
      /* IPv6 */
      {"http://[::1]:8080", 0, "http://[::1]:8080", "h", 0, 1},
      {"http://[::1]:8080", 0, "http://[::1]:8081", "h", 0, 0},
      {"[::1]", 0, "http://[::1]:5", "h", 0, 1},
      {"[2001:DB8::1]", 0, "https://[2001:db8::1]", "h", 0, 1},
      {"[::1]", 0, "http://[::2]", "h", 0, 0},
      /* wildcard subdomains */
      {"*.example.org", 0, "https://a.example.org", "h", 0, 1},
      {"*.example.org", 0, "http://b.a.example.org:8080", "h", 0, 1},
      {"*.example.org", 0, "https://A.EXAMPLE.ORG", "h", 0, 1},
      {"*.example.org", 0, "https://example.org", "h", 0, 0},
      {"*.example.org", 0, "https://badexample.org", "h", 0, 0},
      {"*.example.org", 0, "https://.example.org", "h", 0, 0},
      {"*.example.org", 0, "https://example.org.evil", "h", 0, 0},
      {"https://*.example.org", 0, "https://a.example.org", "h", 0, 1},
      {"https://*.example.org", 0, "https://a.example.org:444", "h", 0, 0},
      {"https://*.example.org", 0, "http://a.example.org", "h", 0, 0},
      /* null */
      {"null", 0, "null", "h", 0, 1},
      {"null", 0, "NULL", "h", 0, 0}, /* malformed */
      {"http://a.test", 0, "null", "h", 0, 0},
      /* list, missing, malformed */
      {"http://a.test, http://b.test:81", 0, "http://b.test:81", "h", 0, 1},
      {"http://a.test, http://b.test:81", 0, "http://b.test", "h", 0, 0},
      {"http://a.test", 0, NULL, "h", 0, 1},
      {"http://a.test", REQ, NULL, "h", 0, 0},
      {"http://a.test", 0, "http://a.test/", "h", 0, 0},
      {"http://a.test", 0, "http://a.test/x", "h", 0, 0},
      {"http://a.test", 0, "a.test", "h", 0, 0},
      {"http://a.test", 0, "", "h", 0, 0},
      {"http://a.test", 0, "http://a.test:", "h", 0, 0},
      {"http://a.test", 0, "http://u@a.test", "h", 0, 0},
      {"http://a.test", 0, "http://*.test", "h", 0, 0},
      /* list and same origin: either one */
      {"http://a.test", SAME, "http://a.test", "b.test", 0, 1},
      {"http://a.test", SAME, "http://b.test", "b.test", 0, 1},
      {"http://a.test", SAME, "http://c.test", "b.test", 0, 0},
      {"http://a.test", 0, "http://b.test", "b.test", 0, 0},
      {"http://a.test", SAME, "https://b.test", "b.test", 1, 1},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    struct wsv_origin_policy *pol = NULL;
    struct ot_view o = ot_view(cs[i].origin), h = ot_view(cs[i].host);
    int got;
    assert_int_equal(wsv_origin_policy_new(&pol, cs[i].list, cs[i].flags, NULL),
                     0);
    got = wsv_origin_allowed(pol, o.s, h.s, cs[i].tls);
    if (got != cs[i].want)
      fail_msg("list \"%s\" flags %u: %s from host %s tls %d -> %d, want %d",
               cs[i].list ? cs[i].list : "(none)", cs[i].flags,
               cs[i].origin ? cs[i].origin : "(none)", cs[i].host, cs[i].tls,
               got, cs[i].want);
    wsv_origin_policy_free(pol);
    ot_view_free(&o);
    ot_view_free(&h);
  }
  {
    struct ot_view o = ot_view("http://evil.example");
    struct wsv_str h = {"h", 1};
    assert_int_equal(wsv_origin_allowed(NULL, o.s, h, 0), 1);
    ot_view_free(&o);
  }
}

/* ---- the accept hook --------------------------------------------------------
 */

struct ot_hook {
  const struct wsv_origin_policy *pol;
  int tls;
};

static int ot_hook(struct wsv_hs_server *hs, void *user) {
  const struct ot_hook *h = user;
  return wsv_origin_check(h->pol, hs, h->tls);
}

#define OT_REQ(version, extra)                                                 \
  "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUpgrade: websocket\r\n"       \
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"     \
  "Sec-WebSocket-Version: " version "\r\n" extra "\r\n"

static void test_check_hook(void **state) {
  static const struct {
    const char *list;
    unsigned flags;
    int tls;
    const char *req;
    int status;
    const char *reason;
  } cs[] = {
      {NULL, SAME, 0, OT_REQ("13", "Origin: http://127.0.0.1:9000\r\n"), 101,
       ""},
      {NULL, SAME, 0, OT_REQ("13", "Origin: http://evil.example\r\n"), 403,
       "Origin http://evil.example is not allowed"},
      {NULL, SAME, 1, OT_REQ("13", "Origin: http://127.0.0.1:9000\r\n"), 403,
       "Origin http://127.0.0.1:9000 is not allowed"},
      {NULL, SAME, 0, OT_REQ("13", ""), 101, ""},
      {NULL, SAME | REQ, 0, OT_REQ("13", ""), 403, "Origin header is missing"},
      {NULL, SAME, 0, OT_REQ("13", "Origin: null\r\n"), 403,
       "Origin null is not allowed"},
      {"null", SAME, 0, OT_REQ("13", "Origin: null\r\n"), 101, ""},
      {NULL, SAME, 0, OT_REQ("13", "Origin: http://127.0.0.1:9000/\r\n"), 403,
       "Origin http://127.0.0.1:9000/ is malformed"},
      {"http://evil.example", 0, 0,
       OT_REQ("13", "Origin: http://evil.example\r\n"), 101, ""},
      {"*", REQ, 0, OT_REQ("13", ""), 101, ""},
      /* versions 8 and 7: Sec-WebSocket-Origin is the one judged */
      {"http://b.test", 0, 0,
       OT_REQ("8", "Origin: http://a.test\r\nSec-WebSocket-Origin: "
                   "http://b.test\r\n"),
       101, ""},
      {"http://a.test", 0, 0,
       OT_REQ("8", "Origin: http://a.test\r\nSec-WebSocket-Origin: "
                   "http://b.test\r\n"),
       403, "Origin http://b.test is not allowed"},
      /* a long Origin is cut at 64 bytes; control bytes are escaped */
      {NULL, SAME, 0,
       OT_REQ("13", "Origin: http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\r\n"),
       403,
       "Origin http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaa... is not allowed"},
      {NULL, SAME, 0, OT_REQ("13", "Origin: http://a\x7f.test\r\n"), 403,
       NULL /* the request's syntax decides first: 400 */},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    struct wsv_origin_policy *pol = NULL;
    struct wsv_hs_server_config cfg;
    struct wsv_hs_server *hs = NULL;
    struct ot_hook h;
    size_t n = strlen(cs[i].req);
    uint8_t *g = guard_copy(cs[i].req, n);
    int r;
    assert_int_equal(wsv_origin_policy_new(&pol, cs[i].list, cs[i].flags, NULL),
                     0);
    h.pol = pol;
    h.tls = cs[i].tls;
    wsv_hs_server_config_init(&cfg);
    cfg.versions = WSV_VERSIONS_ALL;
    cfg.accept = ot_hook;
    cfg.accept_user = &h;
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
    r = wsv_hs_server_parse(hs, (const char *)g, n);
    if (cs[i].reason == NULL) {
      assert_int_equal(r, WSV_HS_REJECT);
      assert_int_equal(wsv_hs_server_status(hs), 400);
    } else {
      if (wsv_hs_server_status(hs) != cs[i].status ||
          strcmp(wsv_hs_server_reason(hs), cs[i].reason) != 0)
        fail_msg("case %zu: %d \"%s\", want %d \"%s\"", i,
                 wsv_hs_server_status(hs), wsv_hs_server_reason(hs),
                 cs[i].status, cs[i].reason);
      assert_int_equal(r, cs[i].status == 101 ? WSV_HS_ACCEPT : WSV_HS_REJECT);
      if (cs[i].status == 403)
        assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_REFUSED);
    }
    wsv_hs_server_free(hs);
    wsv_origin_policy_free(pol);
    guard_free(g, n);
  }
  assert_int_equal(wsv_origin_check(NULL, NULL, 0), 403);
}

/* Outside the hook the reason cannot be set: the verdict still comes. */
static void test_check_outside_hook(void **state) {
  struct wsv_origin_policy *pol = NULL;
  struct wsv_hs_server *hs = NULL;
  static const char req[] = OT_REQ("13", "Origin: http://evil.example\r\n");
  (void)state;
  assert_int_equal(wsv_origin_policy_new(&pol, NULL, SAME, NULL), 0);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, sizeof req - 1), WSV_HS_ACCEPT);
  assert_int_equal(wsv_origin_check(pol, hs, 0), 403);
  assert_int_equal(wsv_origin_check(NULL, hs, 0), 0);
  wsv_hs_server_free(hs);
  wsv_origin_policy_free(pol);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_valid),
      cmocka_unit_test(test_list_malformed),
      cmocka_unit_test(test_policy_new_args),
      cmocka_unit_test(test_allocator),
      cmocka_unit_test(test_same_origin),
      cmocka_unit_test(test_allowed),
      cmocka_unit_test(test_check_hook),
      cmocka_unit_test(test_check_outside_hook),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
