/* hs_client_test.c - the client opening handshake: request bytes, every
 * response rule (accepted and rejected, whole and at every split, next to a
 * guard page) and Sec-WebSocket-Version negotiation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "int.h"
#include "support/guard.h"

/* The RFC 6455 §1.3 example: "the sample nonce" gives this key/accept. */
#define KEY1 "dGhlIHNhbXBsZSBub25jZQ=="
#define ACC1 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/* The nonce 01 02 .. 10 (the second key drawn by seq_random). */
#define KEY2 "AQIDBAUGBwgJCgsMDQ4PEA=="
#define ACC2 "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="

#define OK101                                                                  \
  "HTTP/1.1 101 Switching Protocols\r\n"                                       \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"

/* ---- fixtures ---------------------------------------------------------- */

/* Draws "the sample nonce" first, then 01..10, then 02..11, ... */
struct seq {
  int calls;
  int fail_at; /* fail on this call number (1-based); 0: never */
};

static int seq_random(void *user, uint8_t *buf, size_t len) {
  struct seq *s = user;
  int call = ++s->calls;
  if (s->fail_at == call)
    return -1;
  if (call == 1 && len == 16) {
    memcpy(buf, "the sample nonce", 16);
    return 0;
  }
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i + (size_t)call - 1);
  return 0;
}

static int failing_random(void *user, uint8_t *buf, size_t len) {
  (void)user;
  (void)buf;
  (void)len;
  return -1;
}

/* A config with host example.com, path /chat and the deterministic hook.
 * `s` must outlive the object. */
static void base_cfg(struct wsv_hs_client_config *cfg, struct seq *s) {
  wsv_hs_client_config_init(cfg);
  memset(s, 0, sizeof *s);
  cfg->host = "example.com";
  cfg->path = "/chat";
  cfg->random = seq_random;
  cfg->random_user = s;
}

/* A new client; the deterministic hook starts again at its first key. */
static struct wsv_hs_client *make(const struct wsv_hs_client_config *cfg) {
  struct wsv_hs_client *hs = NULL;
  if (cfg->random == seq_random)
    ((struct seq *)cfg->random_user)->calls = 0;
  assert_int_equal(wsv_hs_client_new(&hs, cfg, NULL), WSV_OK);
  assert_non_null(hs);
  return hs;
}

/* The request as a malloc'd string. */
static char *request_of(struct wsv_hs_client *hs) {
  size_t n = 0;
  assert_int_equal(wsv_hs_client_request(hs, NULL, 0, &n), WSV_ERR_NOBUF);
  char *out = malloc(n + 1);
  assert_non_null(out);
  size_t m = 0;
  assert_int_equal(wsv_hs_client_request(hs, out, n + 1, &m), WSV_OK);
  assert_int_equal(m, n);
  assert_int_equal(strlen(out), n);
  return out;
}

static void expect_request(const struct wsv_hs_client_config *cfg,
                           const char *want) {
  struct wsv_hs_client *hs = make(cfg);
  char *got = request_of(hs);
  assert_string_equal(got, want);
  free(got);
  wsv_hs_client_free(hs);
}

static void expect_new_fails(const struct wsv_hs_client_config *cfg, int err) {
  struct wsv_hs_client *hs = (struct wsv_hs_client *)(uintptr_t)1;
  assert_int_equal(wsv_hs_client_new(&hs, cfg, NULL), err);
  assert_null(hs);
}

/* Parse `resp` on a fresh client from `cfg`: whole, then split at every
 * byte (first the prefix, then the whole, each copy ending at a guard
 * page), then one byte at a time.  Checks the result, the head length
 * (the end of the first blank line) and, for the whole feed, the reason
 * when `reason` is not NULL.  Returns a client that parsed it whole; the
 * caller frees it. */
static struct wsv_hs_client *
check_response(const struct wsv_hs_client_config *cfg, const char *resp,
               int want, const char *reason) {
  size_t len = strlen(resp);
  const char *end = strstr(resp, "\r\n\r\n");
  assert_non_null(end);
  size_t hl = (size_t)(end - resp) + 4;
  uint8_t *whole = guard_copy(resp, len);

  struct seq *s = cfg->random_user;
  struct seq saved = *s;
  struct wsv_hs_client *first = make(cfg);
  assert_int_equal(wsv_hs_client_parse(first, (const char *)whole, len), want);
  if (reason != NULL)
    assert_string_equal(wsv_hs_client_reason(first), reason);
  if (want != WSV_ERR_HTTP_SYNTAX && want != WSV_ERR_HTTP_TOO_LARGE)
    assert_int_equal(wsv_hs_client_head_len(first), hl);

  for (size_t split = 0; split <= len; split++) {
    *s = saved;
    struct wsv_hs_client *hs = make(cfg);
    uint8_t *pre = guard_copy(resp, split);
    int rc = wsv_hs_client_parse(hs, (const char *)pre, split);
    if (split < hl)
      assert_int_equal(rc, WSV_HSC_INCOMPLETE);
    else
      assert_int_equal(rc, want);
    guard_free(pre, split);
    assert_int_equal(wsv_hs_client_parse(hs, (const char *)whole, len), want);
    assert_int_equal(wsv_hs_client_head_len(hs), wsv_hs_client_head_len(first));
    assert_int_equal(wsv_hs_client_retry_version(hs),
                     wsv_hs_client_retry_version(first));
    wsv_hs_client_free(hs);
  }

  *s = saved;
  struct wsv_hs_client *hs = make(cfg);
  int rc = WSV_HSC_INCOMPLETE;
  for (size_t k = 1; k <= len && rc == WSV_HSC_INCOMPLETE; k++) {
    uint8_t *pre = guard_copy(resp, k);
    rc = wsv_hs_client_parse(hs, (const char *)pre, k);
    guard_free(pre, k);
    if (k < hl)
      assert_int_equal(rc, WSV_HSC_INCOMPLETE);
  }
  assert_int_equal(rc, want);
  wsv_hs_client_free(hs);

  guard_free(whole, len);
  return first;
}

static void expect_response(const struct wsv_hs_client_config *cfg,
                            const char *resp, int want, const char *reason) {
  wsv_hs_client_free(check_response(cfg, resp, want, reason));
}

/* ---- the request ------------------------------------------------------- */

static void test_request_basic(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  expect_request(&cfg, "GET /chat HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "\r\n");
  cfg.path = NULL;
  cfg.host = "192.0.2.7";
  expect_request(&cfg, "GET / HTTP/1.1\r\n"
                       "Host: 192.0.2.7\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "\r\n");
}

static void test_request_same_bytes_every_call(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = make(&cfg);
  char *a = request_of(hs);
  char *b = request_of(hs);
  assert_string_equal(a, b);
  assert_string_equal(wsv_hs_client_key(hs), KEY1);
  assert_int_equal(s.calls, 1);
  free(a);
  free(b);
  wsv_hs_client_free(hs);
}

static void test_request_query_and_port(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.path = "/chat?room=1&x=%20";
  cfg.port = 8000;
  expect_request(&cfg, "GET /chat?room=1&x=%20 HTTP/1.1\r\n"
                       "Host: example.com:8000\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "\r\n");
}

static char *host_line(const struct wsv_hs_client_config *cfg) {
  struct wsv_hs_client *hs = make(cfg);
  char *req = request_of(hs);
  wsv_hs_client_free(hs);
  char *h = strstr(req, "Host: ");
  assert_non_null(h);
  char *e = strstr(h, "\r\n");
  *e = '\0';
  memmove(req, h + 6, strlen(h + 6) + 1);
  return req;
}

static void expect_host(const struct wsv_hs_client_config *cfg,
                        const char *want) {
  char *got = host_line(cfg);
  assert_string_equal(got, want);
  free(got);
}

static void test_request_default_ports(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.port = 80;
  expect_host(&cfg, "example.com");
  cfg.port = 443;
  expect_host(&cfg, "example.com:443");
  cfg.secure = 1;
  expect_host(&cfg, "example.com");
  cfg.port = 80;
  expect_host(&cfg, "example.com:80");
  cfg.port = 0;
  expect_host(&cfg, "example.com");
  cfg.port = 65535;
  expect_host(&cfg, "example.com:65535");
}

static void test_request_ipv6(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.host = "::1";
  expect_host(&cfg, "[::1]");
  cfg.port = 8080;
  expect_host(&cfg, "[::1]:8080");
  cfg.host = "[2001:db8::7]";
  expect_host(&cfg, "[2001:db8::7]:8080");
  cfg.host = "::ffff:192.0.2.1";
  cfg.port = 0;
  expect_host(&cfg, "[::ffff:192.0.2.1]");
}

static void test_request_bad_host_path(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const char *const hosts[] = {
      "",          "[::1", "::1]",          "example.com:80", "a b", "a/b",
      "a\r\nX: y", "[]",   "[example.com]", "fe80::1%eth0",   "a@b", "a?b",
      "a#b",       "[:]",
      /* the RFC 3986 parser shared with the server (http.h) */
      "[zz::]", "[1:2:3:4:5:6:7:8:9]", "1:2:3:4:5:6:7:8:9", "1::2::3",
      "[::1.2.3.256]", "%zz.test", "%4", "[12345::1]"};
  for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
    cfg.host = hosts[i];
    expect_new_fails(&cfg, WSV_ERR_INVAL);
  }
  cfg.host = NULL;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  cfg.host = "example.com";
  static const char *const paths[] = {
      "", "chat", "/a b", "/a#frag", "/\r\nX: y", "/\xc3\xa9", "/a\x7f"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    cfg.path = paths[i];
    expect_new_fails(&cfg, WSV_ERR_INVAL);
  }
  assert_int_equal(s.calls, 0);
}

static void test_request_origin_per_version(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.origin = "http://example.com";
  expect_request(&cfg, "GET /chat HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Origin: http://example.com\r\n"
                       "\r\n");
  cfg.first_version = 8;
  expect_request(&cfg, "GET /chat HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 8\r\n"
                       "Sec-WebSocket-Origin: http://example.com\r\n"
                       "\r\n");
  cfg.first_version = 0;
  cfg.versions = WSV_VERSION_BIT(7);
  expect_request(&cfg, "GET /chat HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 7\r\n"
                       "Sec-WebSocket-Origin: http://example.com\r\n"
                       "\r\n");
  cfg.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7);
  struct wsv_hs_client *hs = make(&cfg);
  assert_int_equal(wsv_hs_client_version(hs), 8);
  wsv_hs_client_free(hs);
  cfg.origin = "http://x\r\nEvil: 1";
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  cfg.origin = "";
  expect_new_fails(&cfg, WSV_ERR_INVAL);
}

static void test_request_bad_versions(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.versions = WSV_VERSION_BIT(13) | WSV_VERSION_BIT(9);
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  cfg.versions = WSV_VERSION_BIT(13);
  cfg.first_version = 8;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  cfg.first_version = -1;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  cfg.first_version = 40;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  /* 0 means the default set: all three, 13 first. */
  cfg.versions = 0;
  cfg.first_version = 0;
  struct wsv_hs_client *hs = make(&cfg);
  assert_int_equal(wsv_hs_client_version(hs), 13);
  wsv_hs_client_free(hs);
}

static void test_request_subprotocols_extensions(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const char *const subs[] = {"chat", "superchat"};
  cfg.subprotocols = subs;
  cfg.nsubprotocols = 2;
  cfg.extensions = "permessage-deflate; client_max_window_bits";
  cfg.origin = "https://a.example";
  static const struct wsv_header extra[] = {
      {{"Authorization", 13}, {"Bearer abc", 10}},
      {{"Cookie", 6}, {"a=1; b=2", 8}},
      {{"X-Empty", 7}, {NULL, 0}}};
  cfg.headers = extra;
  cfg.nheaders = 3;
  cfg.port = 9001;
  expect_request(&cfg, "GET /chat HTTP/1.1\r\n"
                       "Host: example.com:9001\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Origin: https://a.example\r\n"
                       "Sec-WebSocket-Protocol: chat, superchat\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate; "
                       "client_max_window_bits\r\n"
                       "Authorization: Bearer abc\r\n"
                       "Cookie: a=1; b=2\r\n"
                       "X-Empty: \r\n"
                       "\r\n");
  /* An empty extensions string is no offer. */
  cfg.extensions = "";
  cfg.nheaders = 0;
  cfg.nsubprotocols = 1;
  cfg.origin = NULL;
  cfg.port = 0;
  expect_request(&cfg, "GET /chat HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY1 "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n"
                       "\r\n");
}

static void test_request_bad_subprotocols_extensions(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const char *const dup[] = {"chat", "chat"};
  static const char *const sep[] = {"a b"};
  static const char *const comma[] = {"a,b"};
  static const char *const empty[] = {""};
  static const char *const null[] = {NULL};
  const char *const *bad[] = {dup, sep, comma, empty, null};
  size_t nbad[] = {2, 1, 1, 1, 1};
  for (size_t i = 0; i < 5; i++) {
    cfg.subprotocols = bad[i];
    cfg.nsubprotocols = nbad[i];
    expect_new_fails(&cfg, WSV_ERR_INVAL);
  }
  cfg.subprotocols = NULL;
  cfg.nsubprotocols = 1;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  cfg.nsubprotocols = 0;
  static const char *const exts[] = {
      ",",        " , ",           "a;",     "a b", "a; x=",    "a; =1",
      "a; x=\"1", "a; x=\"\x01\"", "a\r\nb", ";a",  "a; x=1 2", " a",
      "a\x7f"};
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    cfg.extensions = exts[i];
    expect_new_fails(&cfg, WSV_ERR_INVAL);
  }
  static const char *const good[] = {
      "a",   "a, b", "a;x", "a ; x = 1 , b", "a; x=\"1,2\"", "a; x=\"q\\\"\"",
      "a,,b"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    cfg.extensions = good[i];
    struct wsv_hs_client *hs = make(&cfg);
    wsv_hs_client_free(hs);
  }
}

static void test_request_bad_extra_headers(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const struct wsv_header bad[] = {
      {{"X-A", 3}, {"a\rb", 3}},
      {{"X-A", 3}, {"a\nb", 3}},
      {{"X-A", 3}, {"a\0b", 3}},
      {{"X-A", 3}, {"a\x01", 2}},
      {{"X-A", 3}, {" a", 2}},
      {{"X-A", 3}, {"a ", 2}},
      {{"X-A", 3}, {NULL, 1}},
      {{"X A", 3}, {"a", 1}},
      {{"X:A", 3}, {"a", 1}},
      {{"X\r\n", 3}, {"a", 1}},
      {{"", 0}, {"a", 1}},
      {{NULL, 0}, {"a", 1}},
      {{"Host", 4}, {"evil", 4}},
      {{"hOsT", 4}, {"evil", 4}},
      {{"Upgrade", 7}, {"websocket", 9}},
      {{"Connection", 10}, {"close", 5}},
      {{"Origin", 6}, {"http://x", 8}},
      {{"Sec-WebSocket-Key", 17}, {KEY2, 24}},
      {{"sec-websocket-version", 21}, {"8", 1}},
      {{"Sec-WebSocket-Protocol", 22}, {"chat", 4}},
      {{"Sec-WebSocket-Extensions", 24}, {"x", 1}},
      {{"Sec-WebSocket-Origin", 20}, {"http://x", 8}},
      {{"Content-Length", 14}, {"5", 1}},
      {{"Transfer-Encoding", 17}, {"chunked", 7}}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct wsv_header two[2] = {{{"X-Ok", 4}, {"1", 1}}, bad[i]};
    cfg.headers = two;
    cfg.nheaders = 2;
    expect_new_fails(&cfg, WSV_ERR_INVAL);
  }
  cfg.headers = NULL;
  cfg.nheaders = 1;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
  /* Similar names that are not the handshake's are fine. */
  static const struct wsv_header ok[] = {{{"Hosts", 5}, {"x", 1}},
                                         {{"Sec-WebSocket", 13}, {"x", 1}},
                                         {{"X-Origin", 8}, {"y", 1}}};
  cfg.headers = ok;
  cfg.nheaders = 3;
  wsv_hs_client_free(make(&cfg));
}

static void test_request_random_failure(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.random = failing_random;
  expect_new_fails(&cfg, WSV_ERR_RANDOM);
  base_cfg(&cfg, &s);
  s.fail_at = 1;
  expect_new_fails(&cfg, WSV_ERR_RANDOM);
}

static void test_request_nobuf(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = make(&cfg);
  size_t n = 0, m = 0;
  assert_int_equal(wsv_hs_client_request(hs, NULL, 0, &n), WSV_ERR_NOBUF);
  assert_int_equal(n, 154);
  char buf[200];
  memset(buf, 'z', sizeof buf);
  assert_int_equal(wsv_hs_client_request(hs, buf, n, &m), WSV_ERR_NOBUF);
  assert_int_equal(m, n);
  assert_int_equal(buf[0], 'z');
  assert_int_equal(wsv_hs_client_request(hs, buf, n + 1, &m), WSV_OK);
  assert_int_equal(m, n);
  assert_int_equal(buf[n], '\0');
  assert_int_equal(buf[n + 1], 'z');
  assert_int_equal(wsv_hs_client_request(hs, NULL, 5, &m), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_request(hs, buf, sizeof buf, NULL),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_request(NULL, buf, sizeof buf, &m),
                   WSV_ERR_INVAL);
  wsv_hs_client_free(hs);
}

static void test_null_arguments(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = NULL;
  assert_int_equal(wsv_hs_client_new(NULL, &cfg, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_new(&hs, NULL, NULL), WSV_ERR_INVAL);
  assert_null(hs);
  assert_int_equal(wsv_hs_client_parse(NULL, "", 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_retry(NULL), WSV_ERR_INVAL);
  wsv_hs_client_free(NULL);
  assert_string_equal(wsv_hs_client_reason(NULL), "");
  assert_int_equal(wsv_hs_client_version(NULL), 0);
  hs = make(&cfg);
  assert_int_equal(wsv_hs_client_parse(hs, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_parse(hs, NULL, 0), WSV_HSC_INCOMPLETE);
  assert_string_equal(wsv_hs_client_reason(hs), "");
  assert_int_equal(wsv_hs_client_status(hs), 0);
  assert_int_equal(wsv_hs_client_head_len(hs), 0);
  assert_int_equal(wsv_hs_client_is_retry(hs), 0);
  wsv_hs_client_free(hs);
}

/* ---- the caller's allocator ---------------------------------------------- */

struct counting {
  int live;
  int calls;
  int fail_at; /* fail the n-th malloc (1-based); 0: never */
};

static void *cnt_malloc(size_t n, void *user) {
  struct counting *c = user;
  if (++c->calls == c->fail_at)
    return NULL;
  c->live++;
  return malloc(n);
}

static void *cnt_realloc(void *p, size_t n, void *user) {
  (void)user;
  return realloc(p, n);
}

static void cnt_free(void *p, void *user) {
  struct counting *c = user;
  c->live--;
  free(p);
}

static void test_allocator(void **state) {
  (void)state;
  struct counting c = {0, 0, 0};
  struct wsv_mem mem = {&c, cnt_malloc, cnt_realloc, cnt_free};
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.extensions = "permessage-deflate";
  const char *resp = OK101 "Sec-WebSocket-Accept: " ACC1 "\r\n"
                           "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                           "\r\n";
  struct wsv_hs_client *hs = NULL;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, &mem), WSV_OK);
  assert_int_equal(c.live, 1);
  assert_int_equal(wsv_hs_client_parse(hs, resp, strlen(resp)), WSV_HSC_OPEN);
  assert_int_equal(c.live, 2);
  assert_string_equal(wsv_hs_client_extensions(hs), "permessage-deflate");
  wsv_hs_client_free(hs);
  assert_int_equal(c.live, 0);

  /* The first allocation fails: new() reports it. */
  c.calls = 0;
  c.fail_at = 1;
  hs = (struct wsv_hs_client *)(uintptr_t)1;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, &mem), WSV_ERR_NOMEM);
  assert_null(hs);
  assert_int_equal(c.live, 0);

  /* The second (the agreed extensions) fails: parse() reports it. */
  c.calls = 0;
  c.fail_at = 2;
  s.calls = 0;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, &mem), WSV_OK);
  assert_int_equal(wsv_hs_client_parse(hs, resp, strlen(resp)), WSV_ERR_NOMEM);
  assert_null(wsv_hs_client_extensions(hs));
  wsv_hs_client_free(hs);
  assert_int_equal(c.live, 0);

  /* A random failure frees what new() allocated. */
  c.calls = 0;
  c.fail_at = 0;
  cfg.random = failing_random;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, &mem), WSV_ERR_RANDOM);
  assert_int_equal(c.live, 0);
}

/* ---- the 101 ------------------------------------------------------------- */

static void test_rfc_example_open(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = check_response(
      &cfg, OK101 "Sec-WebSocket-Accept: " ACC1 "\r\n\r\n", WSV_HSC_OPEN, "");
  assert_int_equal(wsv_hs_client_status(hs), 101);
  assert_int_equal(wsv_hs_client_version(hs), 13);
  assert_null(wsv_hs_client_subprotocol(hs));
  assert_null(wsv_hs_client_extensions(hs));
  assert_int_equal(wsv_hs_client_retry_version(hs), 0);
  /* Later calls repeat the result without looking at the buffer. */
  assert_int_equal(wsv_hs_client_parse(hs, "junk", 4), WSV_HSC_OPEN);
  assert_int_equal(wsv_hs_client_retry(hs), WSV_ERR_STATE);
  wsv_hs_client_free(hs);
  /* Spacing around values, names in any case, extra headers. */
  expect_response(&cfg,
                  "HTTP/1.1 101 Whatever\r\n"
                  "date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
                  "UPGRADE:WebSocket\r\n"
                  "connection:   upgrade  \r\n"
                  "sec-websocket-accept: \t" ACC1 " \t\r\n"
                  "Server: test\r\n\r\n",
                  WSV_HSC_OPEN, NULL);
}

static void test_leftover_bytes_kept(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const char head[] = OK101 "Sec-WebSocket-Accept: " ACC1 "\r\n\r\n";
  static const char resp[] =
      OK101 "Sec-WebSocket-Accept: " ACC1 "\r\n\r\n\x81\x05hello";
  struct wsv_hs_client *hs = check_response(&cfg, resp, WSV_HSC_OPEN, "");
  assert_int_equal(wsv_hs_client_head_len(hs), sizeof head - 1);
  assert_int_equal(wsv_hs_client_head_len(hs), 129);
  assert_memory_equal(resp + wsv_hs_client_head_len(hs), "\x81\x05hello", 7);
  wsv_hs_client_free(hs);
}

static void test_accept_rules(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  expect_response(
      &cfg, OK101 "Sec-WebSocket-Accept: " ACC2 "\r\n\r\n", WSV_ERR_HS_ACCEPT,
      "Sec-WebSocket-Accept is \"" ACC2 "\", expected \"" ACC1 "\"");
  expect_response(&cfg, OK101 "\r\n", WSV_ERR_HS_ACCEPT,
                  "Sec-WebSocket-Accept is missing");
  expect_response(&cfg,
                  OK101 "Sec-WebSocket-Accept: " ACC1 "\r\n"
                        "Sec-WebSocket-Accept: " ACC1 "\r\n\r\n",
                  WSV_ERR_HS_ACCEPT, "Sec-WebSocket-Accept appears 2 times");
  expect_response(&cfg, OK101 "Sec-WebSocket-Accept: abc\r\n\r\n",
                  WSV_ERR_HS_ACCEPT,
                  "Sec-WebSocket-Accept is \"abc\", expected \"" ACC1 "\"");
  expect_response(&cfg, OK101 "Sec-WebSocket-Accept: \r\n\r\n",
                  WSV_ERR_HS_ACCEPT,
                  "Sec-WebSocket-Accept is \"\", expected \"" ACC1 "\"");
  /* Case matters in base64; a prefix or extra bytes are wrong. */
  expect_response(&cfg,
                  OK101 "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n"
                        "\r\n",
                  WSV_ERR_HS_ACCEPT, NULL);
  expect_response(&cfg,
                  OK101 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n"
                        "\r\n",
                  WSV_ERR_HS_ACCEPT, NULL);
  expect_response(&cfg, OK101 "Sec-WebSocket-Accept: " ACC1 "x\r\n\r\n",
                  WSV_ERR_HS_ACCEPT, NULL);
  expect_response(&cfg,
                  OK101 "Sec-WebSocket-Accept: " ACC1 ", " ACC1 "\r\n\r\n",
                  WSV_ERR_HS_ACCEPT, NULL);
  /* Server text in the reason is made printable and cut. */
  expect_response(&cfg,
                  OK101 "Sec-WebSocket-Accept: \x80\xff"
                        "01234567890123456789012345678901234567890123456789"
                        "01234567890123456789\r\n\r\n",
                  WSV_ERR_HS_ACCEPT,
                  "Sec-WebSocket-Accept is \"??"
                  "01234567890123456789012345678901234567890123456789"
                  "012345678901...\", expected \"" ACC1 "\"");
}

static void test_upgrade_rules(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  const char *acc = "Sec-WebSocket-Accept: " ACC1 "\r\n";
  char resp[512];
  static const struct {
    const char *upgrade;
    int want;
    const char *reason;
  } cases[] = {
      {"", WSV_ERR_HS_UPGRADE, "Upgrade is missing"},
      {"Upgrade: h2c\r\n", WSV_ERR_HS_UPGRADE,
       "Upgrade is \"h2c\", without \"websocket\""},
      {"Upgrade: websocketx\r\n", WSV_ERR_HS_UPGRADE, NULL},
      {"Upgrade: web socket\r\n", WSV_ERR_HS_UPGRADE, NULL},
      {"Upgrade: \r\n", WSV_ERR_HS_UPGRADE, NULL},
      {"Upgrade: websocket/13\r\n", WSV_ERR_HS_UPGRADE, NULL},
      {"Upgrade: WEBSOCKET\r\n", WSV_HSC_OPEN, ""},
      {"Upgrade: foo, websocket\r\n", WSV_HSC_OPEN, ""},
      {"Upgrade: foo\r\nUpgrade: websocket\r\n", WSV_HSC_OPEN, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\n%sConnection: Upgrade\r\n"
             "%s\r\n",
             cases[i].upgrade, acc);
    expect_response(&cfg, resp, cases[i].want, cases[i].reason);
  }
}

static void test_connection_rules(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  const char *acc = "Sec-WebSocket-Accept: " ACC1 "\r\n";
  char resp[512];
  static const struct {
    const char *conn;
    int want;
    const char *reason;
  } cases[] = {
      {"", WSV_ERR_HS_CONNECTION, "Connection is missing"},
      {"Connection: keep-alive\r\n", WSV_ERR_HS_CONNECTION,
       "Connection is \"keep-alive\", without \"Upgrade\""},
      {"Connection: close\r\n", WSV_ERR_HS_CONNECTION, NULL},
      {"Connection: upgraded\r\n", WSV_ERR_HS_CONNECTION, NULL},
      {"Connection: \r\n", WSV_ERR_HS_CONNECTION, NULL},
      {"Connection: keep-alive, Upgrade\r\n", WSV_HSC_OPEN, ""},
      {"Connection: upgrade\r\n", WSV_HSC_OPEN, ""},
      {"Connection: UPGRADE , keep-alive\r\n", WSV_HSC_OPEN, ""},
      {"Connection: keep-alive\r\nConnection: Upgrade\r\n", WSV_HSC_OPEN, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n%s"
             "%s\r\n",
             cases[i].conn, acc);
    expect_response(&cfg, resp, cases[i].want, cases[i].reason);
  }
}

static void test_subprotocol_rules(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const char *const subs[] = {"chat", "superchat"};
#define R101 OK101 "Sec-WebSocket-Accept: " ACC1 "\r\n"
  /* Offered none. */
  expect_response(&cfg, R101 "Sec-WebSocket-Protocol: chat\r\n\r\n",
                  WSV_ERR_HS_SUBPROTOCOL,
                  "server chose subprotocol \"chat\" but we offered none");
  cfg.subprotocols = subs;
  cfg.nsubprotocols = 2;
  struct wsv_hs_client *hs = check_response(
      &cfg, R101 "Sec-WebSocket-Protocol: superchat\r\n\r\n", WSV_HSC_OPEN, "");
  assert_string_equal(wsv_hs_client_subprotocol(hs), "superchat");
  wsv_hs_client_free(hs);
  hs = check_response(&cfg, R101 "\r\n", WSV_HSC_OPEN, "");
  assert_null(wsv_hs_client_subprotocol(hs));
  wsv_hs_client_free(hs);
  expect_response(&cfg, R101 "Sec-WebSocket-Protocol: other\r\n\r\n",
                  WSV_ERR_HS_SUBPROTOCOL,
                  "server chose subprotocol \"other\", which we did not offer");
  expect_response(&cfg, R101 "Sec-WebSocket-Protocol: Chat\r\n\r\n",
                  WSV_ERR_HS_SUBPROTOCOL, NULL);
  expect_response(&cfg, R101 "Sec-WebSocket-Protocol: \r\n\r\n",
                  WSV_ERR_HS_SUBPROTOCOL, NULL);
  expect_response(&cfg, R101 "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
                  WSV_ERR_HS_SUBPROTOCOL,
                  "server chose several subprotocols: \"chat, superchat\"");
  expect_response(&cfg,
                  R101 "Sec-WebSocket-Protocol: chat\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n\r\n",
                  WSV_ERR_HS_SUBPROTOCOL,
                  "Sec-WebSocket-Protocol appears 2 times");
}

static void test_extension_rules(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  expect_response(&cfg,
                  R101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                  WSV_ERR_HS_EXTENSION,
                  "server sent Sec-WebSocket-Extensions "
                  "\"permessage-deflate\" but we offered none");
  expect_response(&cfg, R101 "Sec-WebSocket-Extensions: \r\n\r\n",
                  WSV_ERR_HS_EXTENSION, NULL);
  cfg.extensions = "permessage-deflate; client_max_window_bits, x-foo";
  struct wsv_hs_client *hs =
      check_response(&cfg,
                     R101 "Sec-WebSocket-Extensions: permessage-deflate; "
                          "server_no_context_takeover\r\n\r\n",
                     WSV_HSC_OPEN, "");
  assert_string_equal(wsv_hs_client_extensions(hs),
                      "permessage-deflate; server_no_context_takeover");
  wsv_hs_client_free(hs);
  hs = check_response(&cfg,
                      R101 "Sec-WebSocket-Extensions: x-foo; a=\"1,2\"\r\n"
                           "Sec-WebSocket-Extensions:\r\n"
                           "sec-websocket-extensions:  permessage-deflate \r\n"
                           "\r\n",
                      WSV_HSC_OPEN, "");
  assert_string_equal(wsv_hs_client_extensions(hs),
                      "x-foo; a=\"1,2\", permessage-deflate");
  wsv_hs_client_free(hs);
  hs = check_response(&cfg, R101 "\r\n", WSV_HSC_OPEN, "");
  assert_null(wsv_hs_client_extensions(hs));
  wsv_hs_client_free(hs);
  expect_response(
      &cfg, R101 "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n",
      WSV_ERR_HS_EXTENSION,
      "server agreed to extension \"x-webkit-deflate-frame\", "
      "which we did not offer");
  expect_response(&cfg,
                  R101 "Sec-WebSocket-Extensions: x-foo, Permessage-Deflate\r\n"
                       "\r\n",
                  WSV_ERR_HS_EXTENSION, NULL);
  expect_response(&cfg,
                  R101 "Sec-WebSocket-Extensions: x-foo\r\n"
                       "Sec-WebSocket-Extensions: client_max_window_bits\r\n"
                       "\r\n",
                  WSV_ERR_HS_EXTENSION, NULL);
  expect_response(&cfg,
                  R101 "Sec-WebSocket-Extensions: permessage-deflate;\r\n\r\n",
                  WSV_ERR_HS_EXTENSION,
                  "Sec-WebSocket-Extensions is malformed: "
                  "\"permessage-deflate;\"");
  expect_response(&cfg, R101 "Sec-WebSocket-Extensions: x-foo; a=\"1\r\n\r\n",
                  WSV_ERR_HS_EXTENSION, NULL);
  expect_response(&cfg, R101 "Sec-WebSocket-Extensions: , \r\n\r\n",
                  WSV_ERR_HS_EXTENSION, "Sec-WebSocket-Extensions is empty");
}

/* ---- other statuses and HTTP errors -----------------------------------------
 */

static void test_status_rules(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  expect_response(&cfg, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                  WSV_ERR_HS_STATUS,
                  "server answered 200 \"OK\"; body: \"hello\"");
  expect_response(&cfg,
                  "HTTP/1.1 302 Found\r\nLocation: wss://other.example/\r\n"
                  "Content-Length: 0\r\n\r\n",
                  WSV_ERR_HS_STATUS,
                  "server answered 302 \"Found\"; Location: "
                  "\"wss://other.example/\"");
  expect_response(&cfg,
                  "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                  "Content-Length: 30\r\n\r\n"
                  "missing Sec-WebSocket-Key\r\nmore",
                  WSV_ERR_HS_STATUS,
                  "server answered 400 \"Bad Request\" without "
                  "Sec-WebSocket-Version; body: \"missing Sec-WebSocket-Key\"");
  /* The body is cut at Content-Length and non-printable bytes hidden. */
  expect_response(&cfg,
                  "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\n"
                  "a\x01\tbcdef",
                  WSV_ERR_HS_STATUS,
                  "server answered 426 \"Upgrade Required\" without "
                  "Sec-WebSocket-Version; body: \"a??b\"");
  /* A chunked body is not shown. */
  expect_response(&cfg,
                  "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n0\r\n\r\n",
                  WSV_ERR_HS_STATUS, "server answered 500 \"Oops\"");
  /* The status decides before any WebSocket header. */
  expect_response(&cfg,
                  "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: " ACC1 "\r\n\r\n",
                  WSV_ERR_HS_STATUS, "server answered 200 \"OK\"");
  expect_response(&cfg,
                  "HTTP/1.1 403 Forbidden\r\n"
                  "Sec-WebSocket-Version: 8\r\n\r\n",
                  WSV_ERR_HS_STATUS, "server answered 403 \"Forbidden\"");
  /* Location is only quoted for a redirect. */
  expect_response(&cfg, "HTTP/1.1 404 Not Found\r\nLocation: /x\r\n\r\n",
                  WSV_ERR_HS_STATUS, "server answered 404 \"Not Found\"");
  expect_response(&cfg, "HTTP/1.1 100 Continue\r\n\r\n", WSV_ERR_HS_STATUS,
                  NULL);
  expect_response(&cfg,
                  "HTTP/1.0 101 Switching Protocols\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: " ACC1 "\r\n\r\n",
                  WSV_ERR_HS_STATUS,
                  "server answered 101 on HTTP/1.0, not HTTP/1.1");
  struct wsv_hs_client *hs =
      check_response(&cfg, "HTTP/1.1 404 \r\n\r\n", WSV_ERR_HS_STATUS,
                     "server answered 404 \"\"");
  assert_int_equal(wsv_hs_client_status(hs), 404);
  wsv_hs_client_free(hs);
}

static void test_http_errors(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = make(&cfg);
  static const char bare_lf[] = "HTTP/1.1 101 Switching Protocols\n";
  uint8_t *g = guard_copy(bare_lf, sizeof bare_lf - 1);
  assert_int_equal(wsv_hs_client_parse(hs, (const char *)g, sizeof bare_lf - 1),
                   WSV_ERR_HTTP_SYNTAX);
  assert_string_equal(wsv_hs_client_reason(hs), "malformed HTTP response head");
  guard_free(g, sizeof bare_lf - 1);
  wsv_hs_client_free(hs);

  hs = make(&cfg);
  static const char junk[] = "SSH-2.0-OpenSSH\r\n\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, junk, sizeof junk - 1),
                   WSV_ERR_HTTP_SYNTAX);
  wsv_hs_client_free(hs);

  /* Too many fields. */
  cfg.max_headers = 3;
  expect_response(&cfg, R101 "\r\n", WSV_HSC_OPEN, "");
  hs = make(&cfg);
  static const char four[] = R101 "X: 1\r\n\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, four, sizeof four - 1),
                   WSV_ERR_HTTP_TOO_LARGE);
  assert_string_equal(wsv_hs_client_reason(hs),
                      "response head is over 8192 bytes or 3 header fields");
  wsv_hs_client_free(hs);

  /* Too many bytes, never complete: reported once the limit is reached. */
  cfg.max_headers = 0;
  cfg.max_header_bytes = 64;
  hs = make(&cfg);
  char big[100];
  memset(big, 'a', sizeof big);
  memcpy(big, "HTTP/1.1 101 ", 13);
  assert_int_equal(wsv_hs_client_parse(hs, big, 63), WSV_HSC_INCOMPLETE);
  assert_int_equal(wsv_hs_client_parse(hs, big, 64), WSV_ERR_HTTP_TOO_LARGE);
  assert_int_equal(wsv_hs_client_parse(hs, big, 100), WSV_ERR_HTTP_TOO_LARGE);
  wsv_hs_client_free(hs);

  /* A valid head longer than the limit. */
  hs = make(&cfg);
  static const char acc[] = R101 "\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, acc, sizeof acc - 1),
                   WSV_ERR_HTTP_TOO_LARGE);
  wsv_hs_client_free(hs);
  cfg.max_header_bytes = sizeof acc - 1;
  expect_response(&cfg, acc, WSV_HSC_OPEN, "");

  /* A megabyte status line with the default limit. */
  cfg.max_header_bytes = 0;
  hs = make(&cfg);
  size_t mb = 1 << 20;
  char *huge = malloc(mb);
  assert_non_null(huge);
  memset(huge, 'x', mb);
  memcpy(huge, "HTTP/1.1 101 ", 13);
  assert_int_equal(wsv_hs_client_parse(hs, huge, mb), WSV_ERR_HTTP_TOO_LARGE);
  free(huge);
  wsv_hs_client_free(hs);

  cfg.max_header_bytes = (size_t)INT32_MAX + 1;
  expect_new_fails(&cfg, WSV_ERR_INVAL);
}

static void test_buffer_must_grow(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = make(&cfg);
  static const char r[] = R101 "\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, r, 20), WSV_HSC_INCOMPLETE);
  assert_int_equal(wsv_hs_client_parse(hs, r, 10), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_parse(hs, r, 20), WSV_HSC_INCOMPLETE);
  assert_int_equal(wsv_hs_client_parse(hs, r, sizeof r - 1), WSV_HSC_OPEN);
  wsv_hs_client_free(hs);
}

/* ---- version negotiation ----------------------------------------------------
 */

#define R426 "HTTP/1.1 426 Upgrade Required\r\n"
#define R400 "HTTP/1.1 400 Bad Request\r\n"

/* Parse `resp` (checked at every split); it must ask for a retry with
 * `want_version`.  Returns the client, retried, for the second attempt. */
static struct wsv_hs_client *expect_retry(struct wsv_hs_client_config *cfg,
                                          const char *resp, int want_version,
                                          const char *reason) {
  struct wsv_hs_client *hs = check_response(cfg, resp, WSV_HSC_RETRY, reason);
  int tried = wsv_hs_client_version(hs);
  assert_int_equal(wsv_hs_client_retry_version(hs), want_version);
  assert_int_not_equal(want_version, tried);
  assert_int_equal(wsv_hs_client_is_retry(hs), 0);
  assert_int_equal(wsv_hs_client_retry(hs), WSV_OK);
  assert_int_equal(wsv_hs_client_version(hs), want_version);
  assert_int_equal(wsv_hs_client_is_retry(hs), 1);
  assert_int_equal(wsv_hs_client_retry_version(hs), 0);
  assert_int_equal(wsv_hs_client_status(hs), 0);
  assert_int_equal(wsv_hs_client_head_len(hs), 0);
  assert_string_equal(wsv_hs_client_reason(hs), "");
  assert_int_equal(wsv_hs_client_retry(hs), WSV_ERR_STATE);
  return hs;
}

static void test_negotiation_retry_8(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.origin = "http://example.com";
  struct wsv_hs_client *hs =
      expect_retry(&cfg, R426 "Sec-WebSocket-Version: 8, 7\r\n\r\n", 8,
                   "server speaks 8, 7; retrying with 8");
  /* The second attempt: a new key, version 8, hybi Origin header. */
  assert_string_equal(wsv_hs_client_key(hs), KEY2);
  char *req = request_of(hs);
  assert_string_equal(req, "GET /chat HTTP/1.1\r\n"
                           "Host: example.com\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: " KEY2 "\r\n"
                           "Sec-WebSocket-Version: 8\r\n"
                           "Sec-WebSocket-Origin: http://example.com\r\n"
                           "\r\n");
  free(req);
  /* The old accept no longer fits; the new one does. */
  static const char old[] = R101 "\r\n";
  static const char good[] = OK101 "Sec-WebSocket-Accept: " ACC2 "\r\n\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, good, 5), WSV_HSC_INCOMPLETE);
  assert_int_equal(wsv_hs_client_parse(hs, good, sizeof good - 1),
                   WSV_HSC_OPEN);
  assert_int_equal(wsv_hs_client_version(hs), 8);
  wsv_hs_client_free(hs);

  s.calls = 0;
  hs = expect_retry(&cfg, R426 "Sec-WebSocket-Version: 8, 7\r\n\r\n", 8, NULL);
  assert_int_equal(wsv_hs_client_parse(hs, old, sizeof old - 1),
                   WSV_ERR_HS_ACCEPT);
  wsv_hs_client_free(hs);
}

static void test_negotiation_lists(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  /* Two header lines, as RFC 6455 §4.4 allows. */
  wsv_hs_client_free(expect_retry(&cfg,
                                  R400 "Sec-WebSocket-Version: 7\r\n"
                                       "Sec-WebSocket-Version: 8\r\n\r\n",
                                  8,
                                  "server speaks 7, 8; retrying with 8"));
  /* Odd spacing and empty elements. */
  wsv_hs_client_free(expect_retry(&cfg,
                                  R426 "Sec-WebSocket-Version:   7\r\n\r\n", 7,
                                  "server speaks 7; retrying with 7"));
  wsv_hs_client_free(expect_retry(
      &cfg, R426 "Sec-WebSocket-Version: ,7 ,, 8 ,\t\r\n\r\n", 8, NULL));
  /* Junk elements are skipped. */
  wsv_hs_client_free(expect_retry(
      &cfg,
      R426 "Sec-WebSocket-Version: abc, 8x, 08, 256, -7, 7.0, \"8\", 7\r\n\r\n",
      7, "server speaks 7; retrying with 7"));
  /* Versions we do not speak are listed but not chosen. */
  wsv_hs_client_free(expect_retry(
      &cfg, R426 "Sec-WebSocket-Version: 25, 0, 255, 7, 9, 7\r\n\r\n", 7,
      "server speaks 25, 0, 255, 7, 9; retrying with 7"));
  /* From 7, with spacing as "13 ,8". */
  cfg.first_version = 7;
  wsv_hs_client_free(
      expect_retry(&cfg, R400 "Sec-WebSocket-Version: 13 ,8\r\n\r\n", 13,
                   "server speaks 13, 8; retrying with 13"));
  /* The retry ignores versions outside our set. */
  cfg.versions = WSV_VERSION_BIT(13) | WSV_VERSION_BIT(7);
  wsv_hs_client_free(expect_retry(
      &cfg, R400 "Sec-WebSocket-Version: 8, 13\r\n\r\n", 13, NULL));
  /* A body after the head does not matter. */
  cfg.versions = 0;
  cfg.first_version = 0;
  wsv_hs_client_free(
      expect_retry(&cfg,
                   R426 "Sec-WebSocket-Version: 8\r\nContent-Length: 9\r\n"
                        "\r\nuse 8 pls",
                   8, "server speaks 8; retrying with 8"));
}

static void test_negotiation_seed_example(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.path = "/realtime";
  cfg.first_version = 8;
  struct wsv_hs_client *hs =
      expect_retry(&cfg, R426 "Sec-WebSocket-Version: 13\r\n\r\n", 13,
                   "server speaks 13; retrying with 13");
  char *req = request_of(hs);
  assert_non_null(strstr(req, "GET /realtime HTTP/1.1\r\n"));
  assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
  free(req);
  static const char good[] = OK101 "Sec-WebSocket-Accept: " ACC2 "\r\n\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, good, sizeof good - 1),
                   WSV_HSC_OPEN);
  assert_int_equal(wsv_hs_client_version(hs), 13);
  wsv_hs_client_free(hs);

  /* The other seed example: a version-7 client told "13, 8". */
  cfg.first_version = 7;
  wsv_hs_client_free(
      expect_retry(&cfg,
                   R426 "Sec-WebSocket-Version: 13, 8\r\n"
                        "Content-Type: text/plain\r\n\r\n"
                        "WebSocket version 7 not supported. "
                        "Please use version 13.",
                   13, "server speaks 13, 8; retrying with 13"));
}

static void test_negotiation_failures(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  /* The server lists the version we sent: retrying cannot help. */
  expect_response(&cfg, R426 "Sec-WebSocket-Version: 13, 8, 7\r\n\r\n",
                  WSV_ERR_HS_STATUS,
                  "server answered 426 \"Upgrade Required\" although it "
                  "speaks the version we sent (13): server speaks 13, 8, 7");
  expect_response(&cfg,
                  R400
                  "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Version: 13\r\n"
                  "Content-Length: 17\r\n\r\nbad Sec-WebSocket-Key",
                  WSV_ERR_HS_STATUS,
                  "server answered 400 \"Bad Request\" although it speaks the "
                  "version we sent (13): server speaks 8, 13; body: "
                  "\"bad Sec-WebSocket\"");
  /* Nothing in common. */
  expect_response(&cfg, R426 "Sec-WebSocket-Version: 9, 10\r\n\r\n",
                  WSV_ERR_HS_NO_COMMON_VERSION,
                  "server speaks 9, 10; we speak 13, 8, 7");
  cfg.versions = WSV_VERSION_BIT(13);
  expect_response(&cfg, R426 "Sec-WebSocket-Version: 8, 7\r\n\r\n",
                  WSV_ERR_HS_NO_COMMON_VERSION,
                  "server speaks 8, 7; we speak 13");
  cfg.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(13);
  expect_response(&cfg, R400 "Sec-WebSocket-Version: 7, 9, 9, 7\r\n\r\n",
                  WSV_ERR_HS_NO_COMMON_VERSION,
                  "server speaks 7, 9; we speak 13, 8");
  cfg.versions = 0;
  /* Only junk. */
  expect_response(&cfg, R426 "Sec-WebSocket-Version: abc, 08\r\n\r\n",
                  WSV_ERR_HS_NO_COMMON_VERSION,
                  "server lists no valid version (\"abc, 08\"); "
                  "we speak 13, 8, 7");
  expect_response(&cfg, R426 "Sec-WebSocket-Version: \r\n\r\n",
                  WSV_ERR_HS_NO_COMMON_VERSION,
                  "server lists no version (empty Sec-WebSocket-Version); "
                  "we speak 13, 8, 7");
  /* Many versions are cut in the text. */
  expect_response(&cfg,
                  R426 "Sec-WebSocket-Version: 0,1,2,3,4,5,6,9,10,11,12,14,"
                       "15,16,17,18,19,20\r\n\r\n",
                  WSV_ERR_HS_NO_COMMON_VERSION,
                  "server speaks 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 14, 15, "
                  "16, 17, 18, ...; we speak 13, 8, 7");
}

static void test_negotiation_only_once(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs =
      expect_retry(&cfg, R426 "Sec-WebSocket-Version: 8, 7\r\n\r\n", 8, NULL);
  /* The server changes its mind: a second 426 is a failure, even though 7
   * would be common. */
  static const char again[] = R426 "Sec-WebSocket-Version: 7\r\n\r\n";
  uint8_t *g = guard_copy(again, sizeof again - 1);
  assert_int_equal(wsv_hs_client_parse(hs, (const char *)g, sizeof again - 1),
                   WSV_ERR_HS_NO_COMMON_VERSION);
  guard_free(g, sizeof again - 1);
  assert_string_equal(wsv_hs_client_reason(hs),
                      "server refused the retry with version 8; server speaks "
                      "7; we speak 13, 8, 7");
  assert_int_equal(wsv_hs_client_retry(hs), WSV_ERR_STATE);
  wsv_hs_client_free(hs);

  s.calls = 0;
  hs = expect_retry(&cfg, R426 "Sec-WebSocket-Version: 8, 7\r\n\r\n", 8, NULL);
  static const char back[] = R426 "Sec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, back, sizeof back - 1),
                   WSV_ERR_HS_NO_COMMON_VERSION);
  assert_string_equal(wsv_hs_client_reason(hs),
                      "server refused the retry with version 8; server speaks "
                      "13; we speak 13, 8, 7");
  wsv_hs_client_free(hs);
}

static void test_retry_random_failure(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  struct wsv_hs_client *hs = make(&cfg);
  assert_int_equal(wsv_hs_client_retry(hs), WSV_ERR_STATE);
  static const char r[] = R426 "Sec-WebSocket-Version: 8\r\n\r\n";
  assert_int_equal(wsv_hs_client_parse(hs, r, sizeof r - 1), WSV_HSC_RETRY);
  s.fail_at = 2;
  assert_int_equal(wsv_hs_client_retry(hs), WSV_ERR_RANDOM);
  /* Still in the RETRY state: the call can be repeated. */
  assert_int_equal(wsv_hs_client_retry_version(hs), 8);
  assert_int_equal(wsv_hs_client_version(hs), 13);
  assert_string_equal(wsv_hs_client_key(hs), KEY1);
  assert_int_equal(wsv_hs_client_parse(hs, r, sizeof r - 1), WSV_HSC_RETRY);
  assert_int_equal(wsv_hs_client_retry(hs), WSV_OK);
  assert_int_equal(wsv_hs_client_version(hs), 8);
  assert_string_not_equal(wsv_hs_client_key(hs), KEY1);
  assert_int_equal(strlen(wsv_hs_client_key(hs)), 24);
  wsv_hs_client_free(hs);
}

/* ---- end to end, against the server handshake -----------------------------
 */

/* Feed the client's request to a new server built from `scfg`; returns the
 * server's answer (malloc'd, NUL-terminated) and its parse result. */
static char *serve(struct wsv_hs_client *c,
                   const struct wsv_hs_server_config *scfg, int *result,
                   int *server_version) {
  char *req = request_of(c);
  struct wsv_hs_server *srv = NULL;
  assert_int_equal(wsv_hs_server_new(&srv, scfg, NULL), 0);
  *result = wsv_hs_server_parse(srv, req, strlen(req));
  assert_int_equal(wsv_hs_server_head_len(srv), strlen(req));
  *server_version = wsv_hs_server_version(srv);
  size_t n = wsv_hs_server_response(srv, NULL, 0);
  char *resp = malloc(n + 1);
  assert_non_null(resp);
  assert_int_equal(wsv_hs_server_response(srv, resp, n), n);
  resp[n] = '\0';
  wsv_hs_server_free(srv);
  free(req);
  return resp;
}

static void test_e2e_open(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.origin = "http://example.com";
  struct wsv_hs_server_config scfg;
  wsv_hs_server_config_init(&scfg);
  struct wsv_hs_client *c = make(&cfg);
  int r, v;
  char *resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_ACCEPT);
  assert_int_equal(v, 13);
  wsv_hs_client_free(c);
  /* The server's bytes pass every check at every split, and a first frame
   * in the same packet is left alone. */
  expect_response(&cfg, resp, WSV_HSC_OPEN, "");
  size_t n = strlen(resp);
  char *more = malloc(n + 8);
  assert_non_null(more);
  memcpy(more, resp, n);
  memcpy(more + n, "\x81\x02hi", 5);
  c = make(&cfg);
  assert_int_equal(wsv_hs_client_parse(c, more, n + 4), WSV_HSC_OPEN);
  assert_int_equal(wsv_hs_client_head_len(c), n);
  wsv_hs_client_free(c);
  free(more);
  free(resp);
}

/* Versions 8 and 7 only: the client tries 13, is told "8, 7", and gets in
 * with 8 on the second connection. */
static void test_e2e_retry_8(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.origin = "http://example.com";
  struct wsv_hs_server_config scfg;
  wsv_hs_server_config_init(&scfg);
  scfg.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7);
  struct wsv_hs_client *c = make(&cfg);
  int r, v;
  char *resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_REJECT);
  assert_int_equal(v, 13);
  assert_non_null(strstr(resp, "\r\nSec-WebSocket-Version: 8, 7\r\n"));
  assert_int_equal(wsv_hs_client_parse(c, resp, strlen(resp)), WSV_HSC_RETRY);
  assert_int_equal(wsv_hs_client_retry_version(c), 8);
  assert_int_equal(wsv_hs_client_status(c), 426);
  free(resp);
  assert_int_equal(wsv_hs_client_retry(c), WSV_OK);
  resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_ACCEPT);
  assert_int_equal(v, 8);
  assert_int_equal(wsv_hs_client_parse(c, resp, strlen(resp)), WSV_HSC_OPEN);
  assert_int_equal(wsv_hs_client_version(c), 8);
  free(resp);
  wsv_hs_client_free(c);

  /* The same with the 400 variant and version 7 only. */
  scfg.versions = WSV_VERSION_BIT(7);
  scfg.unsupported_status = 400;
  c = make(&cfg);
  resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_REJECT);
  assert_int_equal(wsv_hs_client_parse(c, resp, strlen(resp)), WSV_HSC_RETRY);
  assert_int_equal(wsv_hs_client_retry_version(c), 7);
  assert_int_equal(wsv_hs_client_status(c), 400);
  free(resp);
  assert_int_equal(wsv_hs_client_retry(c), WSV_OK);
  resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_ACCEPT);
  assert_int_equal(v, 7);
  assert_int_equal(wsv_hs_client_parse(c, resp, strlen(resp)), WSV_HSC_OPEN);
  free(resp);
  wsv_hs_client_free(c);
}

static void test_e2e_no_common_version(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  cfg.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7);
  struct wsv_hs_server_config scfg;
  wsv_hs_server_config_init(&scfg);
  struct wsv_hs_client *c = make(&cfg);
  int r, v;
  char *resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_REJECT);
  assert_int_equal(wsv_hs_client_parse(c, resp, strlen(resp)),
                   WSV_ERR_HS_NO_COMMON_VERSION);
  assert_string_equal(wsv_hs_client_reason(c),
                      "server speaks 13; we speak 8, 7");
  free(resp);
  wsv_hs_client_free(c);
}

/* The accept hook chooses the second offered subprotocol and agrees to
 * the offered extension. */
static int e2e_hook(struct wsv_hs_server *hs, void *user) {
  (void)user;
  if (wsv_hs_server_select_subprotocol(hs, "superchat") != 0)
    return 500;
  struct wsv_str ext = {"permessage-deflate", 18};
  if (wsv_hs_server_set_extensions(hs, ext) != 0)
    return 500;
  return 0;
}

static void test_e2e_subprotocol_extension(void **state) {
  (void)state;
  struct wsv_hs_client_config cfg;
  struct seq s;
  base_cfg(&cfg, &s);
  static const char *const subs[] = {"chat", "superchat"};
  cfg.subprotocols = subs;
  cfg.nsubprotocols = 2;
  cfg.extensions = "permessage-deflate; client_max_window_bits";
  struct wsv_hs_server_config scfg;
  wsv_hs_server_config_init(&scfg);
  scfg.accept = e2e_hook;
  struct wsv_hs_client *c = make(&cfg);
  int r, v;
  char *resp = serve(c, &scfg, &r, &v);
  assert_int_equal(r, WSV_HS_ACCEPT);
  wsv_hs_client_free(c);
  c = check_response(&cfg, resp, WSV_HSC_OPEN, "");
  assert_string_equal(wsv_hs_client_subprotocol(c), "superchat");
  assert_string_equal(wsv_hs_client_extensions(c), "permessage-deflate");
  wsv_hs_client_free(c);

  /* The same answer to a client that did not offer them is refused. */
  cfg.nsubprotocols = 0;
  expect_response(&cfg, resp, WSV_ERR_HS_SUBPROTOCOL,
                  "server chose subprotocol \"superchat\" but we offered "
                  "none");
  cfg.nsubprotocols = 2;
  cfg.extensions = NULL;
  expect_response(&cfg, resp, WSV_ERR_HS_EXTENSION,
                  "server sent Sec-WebSocket-Extensions "
                  "\"permessage-deflate\" but we offered none");
  free(resp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_basic),
      cmocka_unit_test(test_request_same_bytes_every_call),
      cmocka_unit_test(test_request_query_and_port),
      cmocka_unit_test(test_request_default_ports),
      cmocka_unit_test(test_request_ipv6),
      cmocka_unit_test(test_request_bad_host_path),
      cmocka_unit_test(test_request_origin_per_version),
      cmocka_unit_test(test_request_bad_versions),
      cmocka_unit_test(test_request_subprotocols_extensions),
      cmocka_unit_test(test_request_bad_subprotocols_extensions),
      cmocka_unit_test(test_request_bad_extra_headers),
      cmocka_unit_test(test_request_random_failure),
      cmocka_unit_test(test_request_nobuf),
      cmocka_unit_test(test_null_arguments),
      cmocka_unit_test(test_allocator),
      cmocka_unit_test(test_rfc_example_open),
      cmocka_unit_test(test_leftover_bytes_kept),
      cmocka_unit_test(test_accept_rules),
      cmocka_unit_test(test_upgrade_rules),
      cmocka_unit_test(test_connection_rules),
      cmocka_unit_test(test_subprotocol_rules),
      cmocka_unit_test(test_extension_rules),
      cmocka_unit_test(test_status_rules),
      cmocka_unit_test(test_http_errors),
      cmocka_unit_test(test_buffer_must_grow),
      cmocka_unit_test(test_negotiation_retry_8),
      cmocka_unit_test(test_negotiation_lists),
      cmocka_unit_test(test_negotiation_seed_example),
      cmocka_unit_test(test_negotiation_failures),
      cmocka_unit_test(test_negotiation_only_once),
      cmocka_unit_test(test_retry_random_failure),
      cmocka_unit_test(test_e2e_open),
      cmocka_unit_test(test_e2e_retry_8),
      cmocka_unit_test(test_e2e_no_common_version),
      cmocka_unit_test(test_e2e_subprotocol_extension),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
