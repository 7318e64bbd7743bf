/*
 * hs_server_test.c - the server opening handshake (src/hs_server.c): the
 * RFC's and the seed documents' examples, the accepted and the rejected
 * case of every rule, each fed whole, split once at every byte, and grown
 * one byte at a time (each call on a fresh copy ending at a PROT_NONE
 * page).  Every response is checked for shape: status line, CRLF endings,
 * blank line, Content-Length, and Sec-WebSocket-Version on every non-101
 * answer and never on a 101.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "support/guard.h"
#include "wsv/hs_server.h"

#define RL "GET /chat HTTP/1.1\r\n"
#define HOST "Host: example.com:8000\r\n"
#define UPG "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"
#define END "\r\n"
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/* A valid request minus what the case adds. */
#define BASE_NO_VER RL HOST UPG CONN KEY
#define BASE BASE_NO_VER VER

static const char hst_rfc_101[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                                  "\r\n";

/* ---- running a request ------------------------------------------------ */

struct hst_case {
  const char *req;
  size_t len; /* 0: strlen(req) */
  uint32_t versions;
  int unsupported_status; /* 0: 426 */
  int plain_http;
  int result;
  int status;
  int err;
  const char *body; /* the body must contain this (NULL: no check) */
};

static void hst_config(struct wsv_hs_server_config *cfg,
                       const struct hst_case *c) {
  wsv_hs_server_config_init(cfg);
  if (c->versions != 0)
    cfg->versions = c->versions;
  if (c->unsupported_status != 0)
    cfg->unsupported_status = c->unsupported_status;
  cfg->plain_http = c->plain_http;
}

/* The response as a NUL-terminated malloc'd string (length in *n). */
static char *hst_response(const struct wsv_hs_server *hs, size_t *n) {
  size_t len = wsv_hs_server_response(hs, NULL, 0);
  char *out = malloc(len + 1);
  assert_non_null(out);
  assert_int_equal(wsv_hs_server_response(hs, out, len + 1), len);
  out[len] = '\0';
  *n = len;
  return out;
}

/* Shape of every answer (the fuzz target checks the same). */
static void hst_check_shape(const struct wsv_hs_server *hs, const char *r,
                            size_t n) {
  const char *end = strstr(r, "\r\n\r\n");
  size_t i, head;
  int status = wsv_hs_server_status(hs);
  char want[64];
  assert_non_null(end);
  head = (size_t)(end - r) + 4;
  snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
  assert_memory_equal(r, want, strlen(want));
  for (i = 0; i < head; i++) {
    if (r[i] == '\n')
      assert_true(i > 0 && r[i - 1] == '\r');
    if (r[i] == '\r')
      assert_true(r[i + 1] == '\n');
  }
  if (status == 101) {
    assert_int_equal(head, n);
    assert_null(strstr(r, "Sec-WebSocket-Version"));
    assert_null(strstr(r, "close"));
    assert_int_equal(wsv_hs_server_close_after(hs), 0);
    return;
  }
  snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n", n - head);
  assert_non_null(strstr(r, want));
  assert_non_null(strstr(r, "\r\nSec-WebSocket-Version: "));
  assert_non_null(strstr(r, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
  assert_true(strstr(r, "\r\nConnection: close\r\n") != NULL ||
              strstr(r, "\r\nConnection: Upgrade, close\r\n") != NULL);
  assert_int_equal(status == 426,
                   strstr(r, "\r\nUpgrade: websocket\r\n") != NULL);
  assert_int_equal(status == 405 ||
                       wsv_hs_server_error(hs) == WSV_ERR_HS_METHOD,
                   strstr(r, "\r\nAllow: GET\r\n") != NULL);
  /* the body is the reason and a newline, printable ASCII only */
  assert_int_equal(n - head, strlen(wsv_hs_server_reason(hs)) + 1);
  assert_memory_equal(r + head, wsv_hs_server_reason(hs), n - head - 1);
  assert_int_equal(r[n - 1], '\n');
  for (i = head; i + 1 < n; i++)
    assert_true(r[i] >= 0x20 && r[i] < 0x7f);
  assert_int_equal(wsv_hs_server_close_after(hs), 1);
}

/* Check the outcome after the final call; returns the response. */
static char *hst_outcome(const struct wsv_hs_server *hs,
                         const struct hst_case *c, int rc, size_t *n) {
  char *r;
  assert_int_equal(rc, c->result);
  if (c->result == WSV_HS_PLAIN_HTTP) {
    assert_int_equal(wsv_hs_server_status(hs), 0);
    assert_int_equal(wsv_hs_server_response(hs, NULL, 0), 0);
    assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_NOT_UPGRADE);
    *n = 0;
    return NULL;
  }
  assert_int_equal(wsv_hs_server_status(hs), c->status);
  assert_int_equal(wsv_hs_server_error(hs), c->err);
  assert_int_equal(wsv_hs_server_want(hs), 0);
  r = hst_response(hs, n);
  hst_check_shape(hs, r, *n);
  if (c->body != NULL && strstr(r, c->body) == NULL)
    fail_msg("body lacks [%s]:\n%s", c->body, r);
  return r;
}

static struct wsv_hs_server *hst_new(const struct hst_case *c) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs = NULL;
  hst_config(&cfg, c);
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  return hs;
}

static int hst_feed(struct wsv_hs_server *hs, const char *p, size_t len) {
  uint8_t *g = guard_copy(p, len);
  int rc = wsv_hs_server_parse(hs, (const char *)g, len);
  guard_free(g, len);
  return rc;
}

/* Whole, every single split, and byte by byte; the response must be the
 * same every time.  Returns the whole-run response (caller frees). */
static char *hst_run(const struct hst_case *c) {
  size_t len = c->len != 0 ? c->len : strlen(c->req), k, n, n2;
  struct wsv_hs_server *hs = hst_new(c);
  uint8_t *g = guard_copy(c->req, len);
  char *whole, *r;
  int rc;
  rc = wsv_hs_server_parse(hs, (const char *)g, len);
  whole = hst_outcome(hs, c, rc, &n);
  guard_free(g, len);
  wsv_hs_server_free(hs);
  for (k = 0; k < len; k++) {
    hs = hst_new(c);
    g = guard_copy(c->req, len);
    rc = hst_feed(hs, c->req, k);
    if (rc == WSV_HS_INCOMPLETE)
      rc = wsv_hs_server_parse(hs, (const char *)g, len);
    assert_int_equal(wsv_hs_server_parse(hs, (const char *)g, len), rc);
    r = hst_outcome(hs, c, rc, &n2);
    assert_int_equal(n, n2);
    if (n > 0)
      assert_memory_equal(r, whole, n);
    free(r);
    guard_free(g, len);
    wsv_hs_server_free(hs);
  }
  hs = hst_new(c);
  rc = WSV_HS_INCOMPLETE;
  for (k = 0; k <= len && rc == WSV_HS_INCOMPLETE; k++) {
    assert_int_equal(wsv_hs_server_want(hs), 8192 - (k == 0 ? 0 : k - 1));
    rc = hst_feed(hs, c->req, k);
  }
  g = guard_copy(c->req, len);
  assert_int_equal(wsv_hs_server_parse(hs, (const char *)g, len), rc);
  r = hst_outcome(hs, c, rc, &n2);
  assert_int_equal(n, n2);
  if (n > 0)
    assert_memory_equal(r, whole, n);
  free(r);
  guard_free(g, len);
  wsv_hs_server_free(hs);
  return whole;
}

static void hst_run_all(const struct hst_case *cs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    char *r = hst_run(&cs[i]);
    free(r);
  }
}

#define OK101 WSV_HS_ACCEPT, 101, 0, NULL
#define REJ(status, err, body) WSV_HS_REJECT, status, WSV_ERR_##err, body

/* ---- the examples ------------------------------------------------------- */

/* RFC 6455 §1.3 / §4.2.2 and the seed documents' request. */
static void test_rfc_example(void **state) {
  struct hst_case c = {BASE END, 0, 0, 0, 0, OK101};
  char *r;
  (void)state;
  r = hst_run(&c);
  assert_string_equal(r, hst_rfc_101);
  free(r);
}

/* wsv_hs_server_reset: one object judges request after request exactly as
 * new ones do, whatever the previous outcome (accepted, rejected, or cut
 * off half-way). */
static void test_reset(void **state) {
  static const char *const reqs[] = {
      BASE END,
      RL HOST UPG CONN KEY "Sec-WebSocket-Version: 7\r\n" END,
      BASE_NO_VER "Sec-WebSocket-Version: 013\r\n" END,
      BASE, /* incomplete: no blank line */
      "POST / HTTP/1.1\r\n" HOST UPG CONN KEY "Sec-WebSocket-Version: 13\r\n" END,
      BASE END,
  };
  struct wsv_hs_server *reused = NULL, *fresh;
  size_t i, n1, n2;
  (void)state;
  assert_int_equal(wsv_hs_server_new(&reused, NULL, NULL), 0);
  for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    int r1, r2;
    char *a, *b;
    if (i > 0)
      wsv_hs_server_reset(reused);
    assert_int_equal(wsv_hs_server_new(&fresh, NULL, NULL), 0);
    r1 = hst_feed(reused, reqs[i], strlen(reqs[i]));
    r2 = hst_feed(fresh, reqs[i], strlen(reqs[i]));
    assert_int_equal(r1, r2);
    assert_int_equal(wsv_hs_server_status(reused), wsv_hs_server_status(fresh));
    assert_int_equal(wsv_hs_server_error(reused), wsv_hs_server_error(fresh));
    assert_int_equal(wsv_hs_server_want(reused), wsv_hs_server_want(fresh));
    assert_int_equal(wsv_hs_server_version(reused),
                     wsv_hs_server_version(fresh));
    a = hst_response(reused, &n1);
    b = hst_response(fresh, &n2);
    assert_int_equal(n1, n2);
    if (n1 > 0)
      assert_memory_equal(a, b, n1);
    free(a);
    free(b);
    wsv_hs_server_free(fresh);
  }
  /* Without a reset a finished object keeps its verdict; with one, a
   * rejected object accepts the next good request. */
  wsv_hs_server_reset(reused);
  assert_int_equal(hst_feed(reused, reqs[2], strlen(reqs[2])), WSV_HS_REJECT);
  assert_int_equal(hst_feed(reused, BASE END, strlen(BASE END)), WSV_HS_REJECT);
  wsv_hs_server_reset(reused);
  assert_int_equal(hst_feed(reused, BASE END, strlen(BASE END)), WSV_HS_ACCEPT);
  wsv_hs_server_reset(NULL);
  wsv_hs_server_free(reused);
}

static void test_seed_examples(void **state) {
  static const struct hst_case cs[] = {
      /* version 7 on a server speaking 13 and 8: 426 listing both */
      {RL HOST UPG CONN KEY "Sec-WebSocket-Version: 7\r\n" END, 0,
       WSV_VERSION_BIT(13) | WSV_VERSION_BIT(8), 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED,
           "\r\nSec-WebSocket-Version: 13, 8\r\n")},
      {RL HOST UPG CONN KEY "Sec-WebSocket-Version: 7\r\n" END, 0,
       WSV_VERSION_BIT(13) | WSV_VERSION_BIT(8), 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED,
           "\r\n\r\nunsupported WebSocket version 7; this server speaks 13, "
           "8\n")},
      /* version 8 on the default server: 426 "Sec-WebSocket-Version: 13" */
      {RL HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n" END, 0, 0, 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED, "\r\nSec-WebSocket-Version: 13\r\n")},
      /* every version, highest first */
      {RL HOST UPG CONN KEY "Sec-WebSocket-Version: 6\r\n" END, 0,
       WSV_VERSIONS_ALL, 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED,
           "\r\nSec-WebSocket-Version: 13, 8, 7\r\n")},
      {RL HOST UPG CONN KEY "Sec-WebSocket-Version: 13\r\n" END, 0,
       WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7), 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED, "\r\nSec-WebSocket-Version: 8, 7\r\n")},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

static void test_exact_426(void **state) {
  struct hst_case c = {RL HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n" END,
                       0,
                       0,
                       0,
                       0,
                       REJ(426, HS_VERSION_UNSUPPORTED, NULL)};
  char *r;
  (void)state;
  r = hst_run(&c);
  assert_string_equal(r, "HTTP/1.1 426 Upgrade Required\r\n"
                         "Upgrade: websocket\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Length: 55\r\n"
                         "Connection: Upgrade, close\r\n"
                         "\r\n"
                         "unsupported WebSocket version 8; this server "
                         "speaks 13\n");
  free(r);
}

/* ---- version negotiation ------------------------------------------------ */

#define V(x) BASE_NO_VER "Sec-WebSocket-Version: " x "\r\n" END

static void test_version_malformed(void **state) {
  static const struct hst_case cs[] = {
      {V("013"), 0, 0, 0, 0,
       REJ(400, HS_VERSION,
           "Sec-WebSocket-Version \"013\" is malformed: leading zero")},
      {V("00"), 0, 0, 0, 0, REJ(400, HS_VERSION, "leading zero")},
      {V("+13"), 0, 0, 0, 0, REJ(400, HS_VERSION, "\"+13\" has a sign")},
      {V("-1"), 0, 0, 0, 0, REJ(400, HS_VERSION, "has a sign")},
      {V("13.0"), 0, 0, 0, 0, REJ(400, HS_VERSION, "not a decimal number")},
      {V("256"), 0, 0, 0, 0, REJ(400, HS_VERSION, "\"256\" is above 255")},
      {V("99999999999999999999"), 0, 0, 0, 0,
       REJ(400, HS_VERSION, "is above 255")},
      {V("abc"), 0, 0, 0, 0, REJ(400, HS_VERSION, "not a decimal number")},
      {V("0xd"), 0, 0, 0, 0, REJ(400, HS_VERSION, "not a decimal number")},
      {V(""), 0, 0, 0, 0, REJ(400, HS_VERSION, "\"\" is empty")},
      {V("13, 8"), 0, 0, 0, 0, REJ(400, HS_VERSION, "is a list")},
      {V("13,"), 0, 0, 0, 0, REJ(400, HS_VERSION, "is a list")},
      {V(" 13x"), 0, 0, 0, 0, REJ(400, HS_VERSION, "not a decimal number")},
      {V("1 3"), 0, 0, 0, 0, REJ(400, HS_VERSION, "holds a space")},
      {V("13\t 13"), 0, 0, 0, 0, REJ(400, HS_VERSION, "holds a space")},
      {BASE_NO_VER END, 0, 0, 0, 0,
       REJ(400, HS_VERSION,
           "Sec-WebSocket-Version is missing; this server speaks 13\n")},
      {BASE_NO_VER VER VER END, 0, WSV_VERSIONS_ALL, 0, 0,
       REJ(400, HS_VERSION,
           "Sec-WebSocket-Version is repeated; this server speaks 13, 8, "
           "7\n")},
      {BASE_NO_VER VER "sec-websocket-version: 8\r\n" END, 0, WSV_VERSIONS_ALL,
       0, 0, REJ(400, HS_VERSION, "repeated")},
      /* malformed is 400 even where unsupported would be 426 */
      {V("013"), 0, WSV_VERSIONS_ALL, 426, 0,
       REJ(400, HS_VERSION, "\r\nSec-WebSocket-Version: 13, 8, 7\r\n")},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

static void test_version_unsupported(void **state) {
  static const struct hst_case cs[] = {
      {V("0"), 0, 0, 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED, "unsupported WebSocket version 0;")},
      {V("12"), 0, 0, 0, 0, REJ(426, HS_VERSION_UNSUPPORTED, "version 12;")},
      {V("14"), 0, 0, 0, 0, REJ(426, HS_VERSION_UNSUPPORTED, "version 14;")},
      {V("25"), 0, 0, 0, 0, REJ(426, HS_VERSION_UNSUPPORTED, "version 25;")},
      {V("99"), 0, WSV_VERSION_BIT(13) | WSV_VERSION_BIT(8), 0, 0,
       REJ(426, HS_VERSION_UNSUPPORTED,
           "unsupported WebSocket version 99; this server speaks 13, 8\n")},
      {V("255"), 0, 0, 0, 0, REJ(426, HS_VERSION_UNSUPPORTED, "version 255;")},
      {V("7"), 0, 0, 0, 0, REJ(426, HS_VERSION_UNSUPPORTED, "version 7;")},
      /* configured 400 */
      {V("8"), 0, 0, 400, 0,
       REJ(400, HS_VERSION_UNSUPPORTED, "\r\nSec-WebSocket-Version: 13\r\n")},
      /* draft-hixie-76: no version, Key1/Key2 */
      {RL HOST "Upgrade: WebSocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
               "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n" END "^n:ds[4U",
       0, 0, 0, 0, REJ(426, HS_VERSION_UNSUPPORTED, "hixie-76")},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

static struct wsv_str hst_origin_seen;

static int hst_hook_origin(struct wsv_hs_server *hs, void *user) {
  (void)user;
  hst_origin_seen = wsv_hs_server_origin(hs);
  return 0;
}

static int hst_str_eq(struct wsv_str s, const char *want) {
  if (want == NULL)
    return s.ptr == NULL && s.len == 0;
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Versions 8 and 7 are accepted like 13 when enabled, the Origin coming
 * from Sec-WebSocket-Origin. */
static void test_version_drafts(void **state) {
  static const struct {
    const char *req;
    int version;
    const char *origin;
  } cs[] = {
      {V("13"), 13, NULL},
      {BASE "Origin: https://a.example\r\n"
            "Sec-WebSocket-Origin: https://b.example\r\n" END,
       13, "https://a.example"},
      {BASE_NO_VER "Sec-WebSocket-Version: 8\r\n"
                   "Origin: https://a.example\r\n"
                   "Sec-WebSocket-Origin: https://b.example\r\n" END,
       8, "https://b.example"},
      {BASE_NO_VER "Sec-WebSocket-Version: 7\r\n"
                   "Sec-WebSocket-Origin: http://c.example\r\n" END,
       7, "http://c.example"},
      {BASE_NO_VER "Sec-WebSocket-Version: 8\r\n"
                   "Origin: https://a.example\r\n" END,
       8, NULL},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    struct wsv_hs_server_config cfg;
    struct wsv_hs_server *hs;
    size_t n;
    char *r;
    wsv_hs_server_config_init(&cfg);
    cfg.versions = WSV_VERSIONS_ALL;
    cfg.accept = hst_hook_origin;
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
    assert_int_equal(wsv_hs_server_parse(hs, cs[i].req, strlen(cs[i].req)),
                     WSV_HS_ACCEPT);
    assert_int_equal(wsv_hs_server_version(hs), cs[i].version);
    assert_true(hst_str_eq(hst_origin_seen, cs[i].origin));
    assert_true(hst_str_eq(wsv_hs_server_origin(hs), cs[i].origin));
    r = hst_response(hs, &n);
    assert_string_equal(r, hst_rfc_101);
    free(r);
    wsv_hs_server_free(hs);
  }
}

/* ---- the other checks: accepted and rejected ----------------------------- */

#define REQ(rl, extra) rl HOST UPG CONN KEY VER extra END

static void test_method(void **state) {
  static const struct hst_case cs[] = {
      {REQ("POST /chat HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_METHOD, "method \"POST\" is not GET")},
      {REQ("HEAD /chat HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_METHOD, NULL)},
      {REQ("get /chat HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_METHOD, NULL)},
      {REQ("CONNECT example.com:443 HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_METHOD, NULL)},
      {REQ("OPTIONS * HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_METHOD, NULL)},
      {REQ("GET /chat HTTP/1.1\r\n", ""), 0, 0, 0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

static void test_http_version(void **state) {
  static const struct hst_case cs[] = {
      {REQ("GET /chat HTTP/1.0\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_HTTP_VERSION, "HTTP/1.0 is below HTTP/1.1")},
      {REQ("GET /chat HTTP/0.9\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_HTTP_VERSION, NULL)},
      {REQ("GET /chat HTTP/1.2\r\n", ""), 0, 0, 0, 0, OK101},
      {REQ("GET /chat HTTP/2.0\r\n", ""), 0, 0, 0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

static void test_target(void **state) {
  static const struct hst_case cs[] = {
      {REQ("GET * HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, "request target \"*\" is not")},
      {REQ("GET example.com:443 HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, NULL)},
      {REQ("GET chat HTTP/1.1\r\n", ""), 0, 0, 0, 0, REJ(400, HS_TARGET, NULL)},
      {REQ("GET /chat#x HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, NULL)},
      {REQ("GET ftp://a.example/ HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, NULL)},
      {REQ("GET http:///chat HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, NULL)},
      {REQ("GET http://u:p@a.example/ HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, NULL)},
      {REQ("GET http:/a.example/ HTTP/1.1\r\n", ""), 0, 0, 0, 0,
       REJ(400, HS_TARGET, NULL)},
      {REQ("GET /chat?x={1}|2 HTTP/1.1\r\n", ""), 0, 0, 0, 0, OK101},
      {REQ("GET //chat HTTP/1.1\r\n", ""), 0, 0, 0, 0, OK101},
      {REQ("GET HTTP://a.example/chat HTTP/1.1\r\n", ""), 0, 0, 0, 0, OK101},
      {REQ("GET wss://a.example HTTP/1.1\r\n", ""), 0, 0, 0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

/* The path and query views, origin-form and absolute-form. */
static void test_path_query(void **state) {
  static const struct {
    const char *target;
    const char *path;
    const char *query;
  } cs[] = {
      {"/chat", "/chat", NULL},
      {"/chat?", "/chat", ""},
      {"/chat?a=1&b=2", "/chat", "a=1&b=2"},
      {"/?x", "/", "x"},
      {"ws://a.example:80/p/q?r=s", "/p/q", "r=s"},
      {"https://a.example", "/", NULL},
      {"wss://a.example?x=1", "/", "x=1"},
      {"http://[::1]:8080/x", "/x", NULL},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    char req[512];
    struct wsv_hs_server *hs;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
                     cs[i].target);
    assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
    assert_int_equal(wsv_hs_server_parse(hs, req, (size_t)n), WSV_HS_ACCEPT);
    assert_true(hst_str_eq(wsv_hs_server_path(hs), cs[i].path));
    if (cs[i].query == NULL)
      assert_int_equal(wsv_hs_server_query(hs).len, 0);
    else
      assert_true(hst_str_eq(wsv_hs_server_query(hs), cs[i].query));
    assert_true(hst_str_eq(wsv_hs_server_target(hs), cs[i].target));
    assert_true(hst_str_eq(wsv_hs_server_method(hs), "GET"));
    wsv_hs_server_free(hs);
  }
}

#define NOHOST RL UPG CONN KEY VER

#define H(x) NOHOST "Host: " x "\r\n" END
/* The same Host on a plain request (no Upgrade) */
#define PH(x) RL "Host: " x "\r\n" END
#define PLAIN WSV_HS_PLAIN_HTTP, 0, 0, NULL

static void test_host(void **state) {
  static const struct hst_case cs[] = {
      {NOHOST END, 0, 0, 0, 0, REJ(400, HS_HOST, "Host header is missing")},
      {NOHOST HOST HOST END, 0, 0, 0, 0,
       REJ(400, HS_HOST, "Host header is repeated")},
      {NOHOST HOST "host: b.example\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_HOST, NULL)},
      {NOHOST "Host:\r\n" END, 0, 0, 0, 0, REJ(400, HS_HOST, "Host \"\"")},
      {H("a b"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("a.example/x"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("u@a.example"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      /* RFC 3986 host[:port], the IPv6 grammar in full (http_test.c has
       * the parser's own cases) */
      {H("[::1"), 0, 0, 0, 0,
       REJ(400, HS_HOST, "Host \"[::1\" is not host[:port] (RFC 3986)")},
      {H("[zz::]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("[]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("[1:2:3:4:5:6:7:8:9]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("[1::2::3]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("[::1]x"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("host:80x"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("host:"), 0, 0, 0, 0, REJ(400, HS_HOST, "\"host:\"")},
      {H("host:65536"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("ho st"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("a@b"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H(":80"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("%4g.test"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {H("[::1]:80"), 0, 0, 0, 0, OK101},
      {H("[::1]"), 0, 0, 0, 0, OK101},
      {H("[::1]:8080"), 0, 0, 0, 0, OK101},
      {H("[2001:db8::1]"), 0, 0, 0, 0, OK101},
      {H("[::ffff:192.0.2.1]"), 0, 0, 0, 0, OK101},
      {H("[v1.fe80::a+en1]"), 0, 0, 0, 0, OK101},
      {H("example.com"), 0, 0, 0, 0, OK101},
      {H("127.0.0.1:80"), 0, 0, 0, 0, OK101},
      {H("a-b.c"), 0, 0, 0, 0, OK101},
      {H("%41.test"), 0, 0, 0, 0, OK101},
      {H("h:65535"), 0, 0, 0, 0, OK101},
      {NOHOST "HOST: a.example\r\n" END, 0, 0, 0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

/* The Host rule on the plain-HTTP path: the same grammar; missing is
 * fine below HTTP/1.1 only (RFC 9112 §3.2), repeated never. */
static void test_host_plain(void **state) {
  static const struct hst_case cs[] = {
      {PH("[::1"), 0, 0, 0, 0,
       REJ(400, HS_HOST, "Host \"[::1\" is not host[:port]")},
      {PH("[zz::]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("[]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("[1:2:3:4:5:6:7:8:9]"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("[::1]x"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("host:80x"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("host:"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("ho st"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH("a@b"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {PH(":80"), 0, 0, 0, 0, REJ(400, HS_HOST, NULL)},
      {RL END, 0, 0, 0, 0, REJ(400, HS_HOST, "Host header is missing")},
      {RL HOST HOST END, 0, 0, 0, 0,
       REJ(400, HS_HOST, "Host header is repeated")},
      {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 0, 0, 0, 0,
       REJ(400, HS_HOST, "Host header is repeated")},
      {"GET / HTTP/1.0\r\nHost: [::1\r\n\r\n", 0, 0, 0, 0,
       REJ(400, HS_HOST, NULL)},
      /* the 426 configuration checks first too */
      {PH("[::1"), 0, 0, 0, WSV_HS_PLAIN_426, REJ(400, HS_HOST, NULL)},
      {PH("[::1]"), 0, 0, 0, 0, PLAIN},
      {PH("[::1]:8080"), 0, 0, 0, 0, PLAIN},
      {PH("[2001:db8::1]"), 0, 0, 0, 0, PLAIN},
      {PH("[::ffff:192.0.2.1]"), 0, 0, 0, 0, PLAIN},
      {PH("example.com"), 0, 0, 0, 0, PLAIN},
      {PH("127.0.0.1:80"), 0, 0, 0, 0, PLAIN},
      {PH("a-b.c"), 0, 0, 0, 0, PLAIN},
      {PH("%41.test"), 0, 0, 0, 0, PLAIN},
      {"GET / HTTP/1.0\r\n\r\n", 0, 0, 0, 0, PLAIN},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

static void test_body(void **state) {
  static const struct hst_case cs[] = {
      {REQ(RL, "Content-Length: 5\r\n") "hello", 0, 0, 0, 0,
       REJ(400, HS_BODY, "upgrade request carries a body (Content-Length "
                         "\"5\")\n")},
      {REQ(RL, "Content-Length: -1\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length \"-1\" is not a decimal number")},
      {REQ(RL, "Content-Length: 0, 0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length \"0, 0\" is a list")},
      {REQ(RL, "Content-Length: 0\r\nContent-Length: 0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length header is repeated")},
      {REQ(RL, "Content-Length: +0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "not a decimal number")},
      {REQ(RL, "Content-Length:\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length \"\" is not a decimal number")},
      {REQ(RL, "Transfer-Encoding: chunked\r\n") "0\r\n\r\n", 0, 0, 0, 0,
       REJ(400, HS_BODY, "Transfer-Encoding \"chunked\")\n")},
      {REQ(RL, "Transfer-Encoding: identity\r\nContent-Length: 0\r\n"), 0, 0,
       0, 0, REJ(400, HS_BODY, "Transfer-Encoding \"identity\"")},
      {REQ(RL, "Content-Length: 0\r\n"), 0, 0, 0, 0, OK101},
      {REQ(RL, "Content-Length: 00\r\n"), 0, 0, 0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

/* The body rule on the plain-HTTP path (RFC 9112 §6.3): the server reads
 * no request body, so any Transfer-Encoding, and any Content-Length that
 * is repeated, a list, malformed or not zero, is a 400 whatever the
 * method; Content-Length 0 (or none) is still plain HTTP. */
#define PB(x) RL HOST x END
static void test_body_plain(void **state) {
  static const struct hst_case cs[] = {
      {PB("Content-Length: -1\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length \"-1\" is not a decimal number "
                         "(RFC 9110 8.6)\n")},
      {PB("Content-Length: +0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "\"+0\" is not a decimal number")},
      {PB("Content-Length: 1e3\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "\"1e3\" is not a decimal number")},
      {PB("Content-Length: 0x0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "not a decimal number")},
      {PB("Content-Length: 0 0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "not a decimal number")},
      {PB("Content-Length: 100000000000000000000000\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "request carries a body (Content-Length "
                         "\"100000000000000000000000\"); this server reads "
                         "no request body\n")},
      {PB("Content-Length: 5\r\n") "hello", 0, 0, 0, 0,
       REJ(400, HS_BODY, "(Content-Length \"5\"); this server reads no")},
      {PB("Content-Length: 0\r\nContent-Length: 0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length header is repeated (RFC 9110 8.6)\n")},
      {PB("Content-Length: 5\r\ncontent-length: 5\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length header is repeated")},
      {PB("Content-Length: 5, 5\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Content-Length \"5, 5\" is a list (RFC 9110 8.6)\n")},
      {PB("Content-Length: 0,\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "is a list")},
      {PB("Transfer-Encoding: chunked\r\n") "0\r\n\r\n", 0, 0, 0, 0,
       REJ(400, HS_BODY, "request carries a body (Transfer-Encoding "
                         "\"chunked\"); this server reads no request body\n")},
      {PB("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"), 0, 0, 0, 0,
       REJ(400, HS_BODY, "Transfer-Encoding \"chunked\"")},
      {"POST /form HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", 0, 0, 0, 0,
       REJ(400, HS_BODY, "(Content-Length \"3\")")},
      {"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", 0, 0, 0, 0,
       REJ(400, HS_BODY, NULL)},
      /* before the 426 of the configuration that answers plain HTTP so */
      {PB("Content-Length: -1\r\n"), 0, 0, 0, WSV_HS_PLAIN_426,
       REJ(400, HS_BODY, NULL)},
      {PB("Content-Length: 0\r\n"), 0, 0, 0, WSV_HS_PLAIN_426,
       REJ(426, HS_NOT_UPGRADE, NULL)},
      /* Host is checked before the body */
      {RL "Host: [::1\r\nContent-Length: -1\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_HOST, NULL)},
      {PB("Content-Length: 0\r\n"), 0, 0, 0, 0, PLAIN},
      {PB("Content-Length: 000\r\n"), 0, 0, 0, 0, PLAIN},
      {PB("Content-Length:  0 \r\n"), 0, 0, 0, 0, PLAIN},
      {"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0, 0, 0,
       0, PLAIN},
      {"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, 0, 0, PLAIN},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

#define NOUPG RL HOST CONN KEY VER

static void test_upgrade(void **state) {
  static const struct hst_case cs[] = {
      {NOUPG "Upgrade: h2c\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_UPGRADE, "Upgrade \"h2c\" is not exactly websocket")},
      {NOUPG "Upgrade: websocket2\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_UPGRADE, NULL)},
      {NOUPG "Upgrade: websocket, h2c\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_UPGRADE, NULL)},
      {NOUPG "Upgrade: websocket\r\nUpgrade: h2c\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_UPGRADE, NULL)},
      {NOUPG "Upgrade: websocket, websocket\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_UPGRADE, NULL)},
      {NOUPG "Upgrade:\r\n" END, 0, 0, 0, 0, REJ(400, HS_UPGRADE, NULL)},
      {NOUPG "Upgrade: websocket/13\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_UPGRADE, NULL)},
      {NOUPG "Upgrade: WebSocket\r\n" END, 0, 0, 0, 0, OK101},
      {NOUPG "upgrade: WEBSOCKET\r\n" END, 0, 0, 0, 0, OK101},
      {NOUPG "Upgrade: , websocket ,\r\n" END, 0, 0, 0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

#define NOCONN RL HOST UPG KEY VER

static void test_connection(void **state) {
  static const struct hst_case cs[] = {
      {NOCONN "Connection: keep-alive\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_CONNECTION,
           "Connection \"keep-alive\" lacks the Upgrade token")},
      {NOCONN END, 0, 0, 0, 0,
       REJ(400, HS_CONNECTION, "Connection header is missing")},
      {NOCONN "Connection: Upgrades\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_CONNECTION, NULL)},
      {NOCONN "Connection: keep-alive Upgrade\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_CONNECTION, NULL)},
      {NOCONN "Connection: keep-alive, Upgrade\r\n" END, 0, 0, 0, 0, OK101},
      {NOCONN "connection: upgrade\r\n" END, 0, 0, 0, 0, OK101},
      {NOCONN "Connection: keep-alive\r\nConnection: UPGRADE\r\n" END, 0, 0, 0,
       0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

#define NOKEY RL HOST UPG CONN VER

static void test_key(void **state) {
  static const struct hst_case cs[] = {
      {NOKEY END, 0, 0, 0, 0, REJ(400, HS_KEY, "Sec-WebSocket-Key is missing")},
      {NOKEY "Sec-WebSocket-Key: test\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_KEY, "Sec-WebSocket-Key \"test\" is not base64 of 16")},
      {NOKEY KEY KEY END, 0, 0, 0, 0,
       REJ(400, HS_KEY, "Sec-WebSocket-Key is repeated")},
      {NOKEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_KEY, NULL)},
      {NOKEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==x\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_KEY, NULL)},
      {NOKEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_KEY, NULL)},
      {NOKEY "Sec-WebSocket-Key: dGhlIHNhbXBs ZSBub25jZQ=\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_KEY, NULL)},
      {NOKEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSBsb25n\r\n" END, 0, 0, 0,
       0, REJ(400, HS_KEY, NULL)},
      {NOKEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_KEY, NULL)},
      {NOKEY "Sec-WebSocket-Key:  dGhlIHNhbXBsZSBub25jZQ== \t\r\n" END, 0, 0, 0,
       0, OK101},
      {NOKEY "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" END, 0, 0, 0, 0,
       OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

#define P(x) BASE "Sec-WebSocket-Protocol: " x "\r\n" END

static void test_protocol_syntax(void **state) {
  static const struct hst_case cs[] = {
      {P("chat,,x"), 0, 0, 0, 0,
       REJ(400, HS_HEADER,
           "Sec-WebSocket-Protocol \"chat,,x\" has an empty element")},
      {P("chat,"), 0, 0, 0, 0, REJ(400, HS_HEADER, "empty element")},
      {P(", chat"), 0, 0, 0, 0, REJ(400, HS_HEADER, "empty element")},
      {P(""), 0, 0, 0, 0, REJ(400, HS_HEADER, "empty element")},
      {P("ch@t"), 0, 0, 0, 0, REJ(400, HS_HEADER, "not allowed in a token")},
      {P("chat x"), 0, 0, 0, 0, REJ(400, HS_HEADER, NULL)},
      {P("\"chat\""), 0, 0, 0, 0, REJ(400, HS_HEADER, NULL)},
      {P("chat, superchat, chat"), 0, 0, 0, 0,
       REJ(400, HS_HEADER, "offers \"chat\" twice")},
      {BASE "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: a\r\n" END, 0,
       0, 0, 0, REJ(400, HS_HEADER, "twice")},
      {P("chat, superchat"), 0, 0, 0, 0, OK101},
      {P("chat,Chat"), 0, 0, 0, 0, OK101},
      {BASE "Origin: a\r\nOrigin: b\r\n" END, 0, 0, 0, 0,
       REJ(400, HS_HEADER, "Origin header is repeated")},
      {BASE "Sec-WebSocket-Origin: a\r\nSec-WebSocket-Origin: b\r\n" END, 0, 0,
       0, 0, OK101},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

/* 128 offered subprotocols are fine, 129 are refused; 1,000 elements and
 * 100 KB of spaces stay fast. */
static void test_protocol_many(void **state) {
  char *req = malloc(200000);
  size_t len, i;
  struct wsv_hs_server *hs;
  struct wsv_hs_server_config cfg;
  int counts[] = {127, 128, 1000};
  size_t c;
  (void)state;
  assert_non_null(req);
  wsv_hs_server_config_init(&cfg);
  cfg.max_head_bytes = 200000;
  for (c = 0; c < 3; c++) {
    len = (size_t)sprintf(req, BASE "Sec-WebSocket-Protocol: ");
    for (i = 0; i < (size_t)counts[c]; i++)
      len += (size_t)sprintf(req + len, "p%zu, ", i);
    len += (size_t)sprintf(req + len, "last\r\n\r\n");
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
    assert_int_equal(wsv_hs_server_parse(hs, req, len),
                     counts[c] < 128 ? WSV_HS_ACCEPT : WSV_HS_REJECT);
    if (counts[c] >= 128)
      assert_string_equal(wsv_hs_server_reason(hs),
                          "more than 128 subprotocols offered");
    wsv_hs_server_free(hs);
  }
  len = (size_t)sprintf(req, BASE "Sec-WebSocket-Protocol: b");
  memset(req + len, ' ', 100000);
  len += 100000;
  len += (size_t)sprintf(req + len, "x\r\n\r\n");
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, len), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_HEADER);
  wsv_hs_server_free(hs);
  free(req);
}

/* ---- HTTP syntax, limits, plain HTTP ------------------------------------ */

static void test_syntax(void **state) {
  static const struct hst_case cs[] = {
      {RL HOST "X: a\r\n b\r\n" UPG CONN KEY VER END, 0, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, "malformed HTTP request head")},
      {RL HOST "Upgrade : websocket\r\n" CONN KEY VER END, 0, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, NULL)},
      {RL HOST "Upgrade: websocket\n" CONN KEY VER END, 0, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, "at byte 62\n")},
      {RL HOST "Upgrade: websocket\r" CONN KEY VER END, 0, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, NULL)},
      {RL HOST "X: \x01\r\n" UPG CONN KEY VER END, 0, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, NULL)},
      {RL HOST "X: a\0b\r\n" UPG CONN KEY VER END, sizeof(RL HOST) + 8, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, NULL)},
      {"GET /chat HTTP/1.1\n" HOST UPG CONN KEY VER END, 0, 0, 0, 0,
       REJ(400, HTTP_SYNTAX, "at byte 18\n")},
  };
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
}

#define S_PLAIN "GET /?demo=1 HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n"

static void test_plain_http(void **state) {
  static const struct hst_case cs[] = {
      {RL HOST END, 0, 0, 0, 0, WSV_HS_PLAIN_HTTP, 0, 0, NULL},
      {"POST /form HTTP/1.0\r\n\r\n", 0, 0, 0, 0, WSV_HS_PLAIN_HTTP, 0, 0,
       NULL},
      {RL HOST CONN KEY VER END, 0, 0, 0, 0, WSV_HS_PLAIN_HTTP, 0, 0, NULL},
      {RL HOST END, 0, WSV_VERSIONS_ALL, 0, WSV_HS_PLAIN_426,
       REJ(426, HS_NOT_UPGRADE, "\r\n\r\nthis endpoint speaks WebSocket")},
      {RL HOST END, 0, WSV_VERSIONS_ALL, 0, WSV_HS_PLAIN_426,
       REJ(426, HS_NOT_UPGRADE, "\r\nSec-WebSocket-Version: 13, 8, 7\r\n")},
  };
  struct wsv_hs_server *hs;
  size_t n;
  (void)state;
  hst_run_all(cs, sizeof cs / sizeof cs[0]);
  /* the request stays readable */
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, S_PLAIN, sizeof S_PLAIN - 1),
                   WSV_HS_PLAIN_HTTP);
  assert_true(hst_str_eq(wsv_hs_server_method(hs), "GET"));
  assert_true(hst_str_eq(wsv_hs_server_path(hs), "/"));
  assert_true(hst_str_eq(wsv_hs_server_query(hs), "demo=1"));
  assert_int_equal(wsv_hs_server_header(hs, "accept", NULL), 1);
  assert_non_null(wsv_hs_server_headers(hs, &n));
  assert_int_equal(n, 2);
  assert_int_equal(wsv_hs_server_head_len(hs), sizeof S_PLAIN - 1);
  assert_int_equal(wsv_hs_server_close_after(hs), 0);
  assert_string_equal(wsv_hs_server_reason(hs), "");
  wsv_hs_server_free(hs);
}

/* A head of exactly max_head_bytes parses; one more byte is 431, found
 * without reading past the limit (the bytes after it would finish the
 * head).  A request line over the limit is 414. */
static void test_limits(void **state) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  char req[600];
  size_t len, n;
  char *r;
  (void)state;
  len = (size_t)sprintf(req, BASE "X: %0300d\r\n\r\n", 0);
  wsv_hs_server_config_init(&cfg);
  cfg.max_head_bytes = len;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, len), WSV_HS_ACCEPT);
  wsv_hs_server_free(hs);
  cfg.max_head_bytes = len - 1;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_want(hs), len - 1);
  assert_int_equal(hst_feed(hs, req, len - 2), WSV_HS_INCOMPLETE);
  assert_int_equal(wsv_hs_server_want(hs), 1);
  assert_int_equal(hst_feed(hs, req, len - 1), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_want(hs), 0);
  assert_int_equal(wsv_hs_server_status(hs), 431);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HTTP_TOO_LARGE);
  assert_int_equal(wsv_hs_server_head_len(hs), 0);
  r = hst_response(hs, &n);
  hst_check_shape(hs, r, n);
  assert_non_null(strstr(r, "HTTP/1.1 431 Request Header Fields Too Large"));
  assert_non_null(strstr(r, "request head is longer than"));
  free(r);
  wsv_hs_server_free(hs);
  /* the request line alone over the limit: 414 */
  cfg.max_head_bytes = 10;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, len), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_status(hs), 414);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HTTP_TOO_LARGE);
  assert_string_equal(wsv_hs_server_reason(hs),
                      "request line is longer than 10 bytes");
  r = hst_response(hs, &n);
  hst_check_shape(hs, r, n);
  free(r);
  wsv_hs_server_free(hs);
}

/* More than max_headers fields: 431 at the first field too many. */
static void test_header_count(void **state) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  char *req = malloc(100000);
  size_t len, i, n;
  char *r;
  (void)state;
  assert_non_null(req);
  len = (size_t)sprintf(req, BASE);
  for (i = 0; i < 2000; i++)
    len += (size_t)sprintf(req + len, "a:\r\n");
  len += (size_t)sprintf(req + len, "\r\n");
  wsv_hs_server_config_init(&cfg);
  cfg.max_head_bytes = 100000;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, len), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_status(hs), 431);
  assert_string_equal(wsv_hs_server_reason(hs),
                      "request has more than 100 header fields");
  r = hst_response(hs, &n);
  hst_check_shape(hs, r, n);
  free(r);
  wsv_hs_server_free(hs);
  /* exactly 100 fields is fine */
  len = (size_t)sprintf(req, BASE);
  for (i = 0; i < 95; i++)
    len += (size_t)sprintf(req + len, "a:\r\n");
  len += (size_t)sprintf(req + len, "\r\n");
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, len), WSV_HS_ACCEPT);
  wsv_hs_server_free(hs);
  free(req);
}

/* A 8 KiB key: over the default head limit, 431. */
static void test_huge_key(void **state) {
  char *req = malloc(9000);
  size_t len;
  struct wsv_hs_server *hs;
  (void)state;
  assert_non_null(req);
  len = (size_t)sprintf(req, RL HOST UPG CONN VER "Sec-WebSocket-Key: ");
  memset(req + len, 'A', 8192);
  len += 8192;
  len += (size_t)sprintf(req + len, "\r\n\r\n");
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, len), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_status(hs), 431);
  wsv_hs_server_free(hs);
  free(req);
}

/* Bytes after the blank line are left for the frame parser; a request
 * pipelined after a rejection is never parsed. */
static void test_leftover_and_pipelining(void **state) {
  static const char ok[] = BASE END "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d"
                                    "\x51\x58";
  static const char bad[] = RL HOST UPG CONN VER END BASE END;
  struct wsv_hs_server *hs;
  size_t n;
  char *r;
  (void)state;
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, ok, sizeof ok - 1), WSV_HS_ACCEPT);
  assert_int_equal(wsv_hs_server_head_len(hs), sizeof(BASE END) - 1);
  assert_int_equal(wsv_hs_server_parse(hs, ok, sizeof ok - 1), WSV_HS_ACCEPT);
  wsv_hs_server_free(hs);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, bad, sizeof bad - 1), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_KEY);
  assert_int_equal(wsv_hs_server_head_len(hs),
                   sizeof(RL HOST UPG CONN VER END) - 1);
  /* more bytes, even a valid request: the verdict stands */
  assert_int_equal(wsv_hs_server_parse(hs, bad, sizeof bad - 1), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_parse(hs, "x", 1), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_close_after(hs), 1);
  r = hst_response(hs, &n);
  hst_check_shape(hs, r, n);
  free(r);
  wsv_hs_server_free(hs);
}

/* Request bytes in a reason are quoted as printable ASCII, escaped and cut
 * at 64. */
static void test_reason_escaping(void **state) {
  static const char req[] =
      BASE_NO_VER "Sec-WebSocket-Version: \x80\xff\"\\x\x7f\r\n" END;
  char longreq[512];
  struct wsv_hs_server *hs;
  (void)state;
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, req, sizeof req - 1), WSV_HS_REJECT);
  wsv_hs_server_free(hs);
  /* DEL is not a field-value byte: that was a syntax error; without it: */
  {
    static const char req2[] =
        BASE_NO_VER "Sec-WebSocket-Version: \x80\xff\"\\x\t\r\n" END;
    assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
    assert_int_equal(wsv_hs_server_parse(hs, req2, sizeof req2 - 1),
                     WSV_HS_REJECT);
    assert_string_equal(wsv_hs_server_reason(hs),
                        "Sec-WebSocket-Version \"\\x80\\xFF\\\"\\\\x\" is not "
                        "a decimal number");
    wsv_hs_server_free(hs);
  }
  sprintf(longreq, BASE_NO_VER "Sec-WebSocket-Version: %0100d\r\n\r\n", 1);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, longreq, strlen(longreq)),
                   WSV_HS_REJECT);
  assert_string_equal(wsv_hs_server_reason(hs),
                      "Sec-WebSocket-Version \""
                      "0000000000000000000000000000000000000000000000000000000"
                      "000000000...\" is malformed: leading zero");
  wsv_hs_server_free(hs);
}

/* ---- the accept hook ----------------------------------------------------- */

struct hst_hook {
  int ret;
  const char *select;
  int select_rc;
  const char *reason;
  const char *extensions;
  int calls;
  char seen[512];
};

static void hst_append(char *out, size_t cap, const char *label,
                       struct wsv_str s) {
  size_t used = strlen(out);
  snprintf(out + used, cap - used, "%s=%.*s;", label, (int)s.len,
           s.ptr != NULL ? s.ptr : "");
}

static int hst_hook(struct wsv_hs_server *hs, void *user) {
  struct hst_hook *h = user;
  size_t pos = 0;
  struct wsv_str e, v;
  h->calls++;
  h->seen[0] = '\0';
  hst_append(h->seen, sizeof h->seen, "m", wsv_hs_server_method(hs));
  hst_append(h->seen, sizeof h->seen, "p", wsv_hs_server_path(hs));
  hst_append(h->seen, sizeof h->seen, "q", wsv_hs_server_query(hs));
  hst_append(h->seen, sizeof h->seen, "o", wsv_hs_server_origin(hs));
  while (wsv_hs_server_list_next(hs, "Sec-WebSocket-Protocol", &pos, &e))
    hst_append(h->seen, sizeof h->seen, "sp", e);
  pos = 0;
  while (wsv_hs_server_list_next(hs, "sec-websocket-extensions", &pos, &e))
    hst_append(h->seen, sizeof h->seen, "ext", e);
  if (wsv_hs_server_header(hs, "COOKIE", &v) == 1)
    hst_append(h->seen, sizeof h->seen, "c", v);
  assert_int_equal(wsv_hs_server_parse(hs, "", 0), WSV_ERR_INVAL);
  if (h->select != NULL)
    h->select_rc = wsv_hs_server_select_subprotocol(hs, h->select);
  if (h->reason != NULL)
    assert_int_equal(wsv_hs_server_set_reason(hs, h->reason), 0);
  if (h->extensions != NULL) {
    struct wsv_str x = {h->extensions, strlen(h->extensions)};
    assert_int_equal(wsv_hs_server_set_extensions(hs, x), 0);
  }
  return h->ret;
}

static const char hst_hook_req[] =
    "GET /room/1?token=abc HTTP/1.1\r\n" HOST UPG CONN KEY VER
    "Origin: https://app.example\r\n"
    "Sec-WebSocket-Protocol: superchat, chat\r\n"
    "Sec-WebSocket-Protocol: v2.json\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, "
    "x-foo; a=\"1,2\"\r\n"
    "Cookie: s=1\r\n" END;

/* Run the hook request with `h`; returns the response. */
static char *hst_hook_run(struct hst_hook *h, int rc_want) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  size_t n, k;
  char *r = NULL, *whole = NULL;
  wsv_hs_server_config_init(&cfg);
  cfg.accept = hst_hook;
  cfg.accept_user = h;
  /* the views (the chosen subprotocol) point into the buffer of the call
   * that completed the head: here always the full, unmoved request */
  for (k = 0; k < sizeof hst_hook_req - 1; k++) {
    int rc;
    h->calls = 0;
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
    rc = hst_feed(hs, hst_hook_req, k);
    if (rc == WSV_HS_INCOMPLETE)
      rc = wsv_hs_server_parse(hs, hst_hook_req, sizeof hst_hook_req - 1);
    assert_int_equal(rc, rc_want);
    assert_int_equal(h->calls, 1);
    r = hst_response(hs, &n);
    hst_check_shape(hs, r, n);
    if (whole == NULL) {
      whole = r;
    } else {
      assert_string_equal(r, whole);
      free(r);
    }
    if (rc == WSV_HS_ACCEPT)
      assert_int_equal(wsv_hs_server_select_subprotocol(hs, NULL), 0);
    else
      assert_int_equal(wsv_hs_server_select_subprotocol(hs, "chat"),
                       WSV_ERR_STATE);
    wsv_hs_server_free(hs);
  }
  return whole;
}

static void test_hook_accept(void **state) {
  struct hst_hook h;
  char *r;
  (void)state;
  memset(&h, 0, sizeof h);
  h.select = "chat";
  h.extensions = "permessage-deflate";
  r = hst_hook_run(&h, WSV_HS_ACCEPT);
  assert_int_equal(h.select_rc, 0);
  assert_string_equal(h.seen,
                      "m=GET;p=/room/1;q=token=abc;o=https://app.example;"
                      "sp=superchat;sp=chat;sp=v2.json;"
                      "ext=permessage-deflate; client_max_window_bits;"
                      "ext=x-foo; a=\"1,2\";c=s=1;");
  assert_string_equal(r, "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                         "Sec-WebSocket-Protocol: chat\r\n"
                         "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                         "\r\n");
  free(r);
}

/* Choosing a subprotocol that was not offered is refused at once (the
 * hook sees WSV_ERR_INVAL); if it accepts anyway, no subprotocol is sent. */
static void test_hook_bad_subprotocol(void **state) {
  static const char *bad[] = {"Chat", "chat2", "", "superchat, chat"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct hst_hook h;
    char *r;
    memset(&h, 0, sizeof h);
    h.select = bad[i];
    r = hst_hook_run(&h, WSV_HS_ACCEPT);
    assert_int_equal(h.select_rc, WSV_ERR_INVAL);
    assert_null(strstr(r, "Sec-WebSocket-Protocol"));
    free(r);
  }
}

static void test_hook_refuse(void **state) {
  static const struct {
    int ret;
    const char *reason;
    const char *want;
  } cs[] = {
      {-1, NULL,
       "HTTP/1.1 403 Forbidden\r\n"
       "Sec-WebSocket-Version: 13\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "Content-Length: 42\r\n"
       "Connection: close\r\n\r\n"
       "the server refused this WebSocket request\n"},
      {1, "origin not allowed", "403 Forbidden"},
      {302, NULL, "403 Forbidden"},
      {600, NULL, "403 Forbidden"},
      {401, "bad\r\ntoken\x01\xff", "\r\n\r\nbad\\x0D\\x0Atoken\\x01\\xFF\n"},
      {404, NULL, "HTTP/1.1 404 Not Found\r\n"},
      {503, NULL, "HTTP/1.1 503 Service Unavailable\r\n"},
      {499, NULL, "HTTP/1.1 499 Client Error\r\n"},
      {599, NULL, "HTTP/1.1 599 Server Error\r\n"},
      {426, NULL, "\r\nUpgrade: websocket\r\n"},
      {405, NULL, "\r\nAllow: GET\r\n"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    struct hst_hook h;
    char *r;
    memset(&h, 0, sizeof h);
    h.ret = cs[i].ret;
    h.reason = cs[i].reason;
    h.select = "chat"; /* dropped on refusal */
    h.extensions = "x";
    r = hst_hook_run(&h, WSV_HS_REJECT);
    if (strstr(r, cs[i].want) == NULL)
      fail_msg("[%s] not in\n%s", cs[i].want, r);
    assert_null(strstr(r, "Sec-WebSocket-Protocol"));
    assert_null(strstr(r, "Sec-WebSocket-Extensions"));
    free(r);
  }
}

/* A long hook reason is cut to fit. */
static int hst_hook_long(struct wsv_hs_server *hs, void *user) {
  char text[1000];
  (void)user;
  memset(text, 'r', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  assert_int_equal(wsv_hs_server_set_reason(hs, text), 0);
  assert_int_equal(wsv_hs_server_set_reason(hs, text), 0);
  {
    struct wsv_str bad = {"a\r\nb", 4};
    assert_int_equal(wsv_hs_server_set_extensions(hs, bad), WSV_ERR_INVAL);
  }
  return 403;
}

static void test_hook_long_reason(void **state) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  cfg.accept = hst_hook_long;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, BASE END, sizeof(BASE END) - 1),
                   WSV_HS_REJECT);
  assert_int_equal(strlen(wsv_hs_server_reason(hs)), 200);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_REFUSED);
  assert_int_equal(wsv_hs_server_set_reason(hs, "x"), WSV_ERR_STATE);
  wsv_hs_server_free(hs);
}

/* ---- API edges ----------------------------------------------------------- */

struct hst_alloc {
  int allocs, frees, fail;
};

static void *hst_malloc(size_t n, void *user) {
  struct hst_alloc *a = user;
  if (a->fail)
    return NULL;
  a->allocs++;
  return malloc(n);
}

static void *hst_realloc(void *p, size_t n, void *user) {
  (void)user;
  return realloc(p, n);
}

static void hst_free(void *p, void *user) {
  struct hst_alloc *a = user;
  a->frees++;
  free(p);
}

/* extra_headers: written into the 101 after the core's lines, never into
 * a rejection; a config with a malformed line, a CR or LF inside a value,
 * a bad name or one of the core's own names is refused. */
static void test_extra_headers(void **state) {
  static const char *const good[] = {
      "X-A: 1\r\n", "X-A: 1\r\nCache-Control: no-store\r\n", "",
      "X-Tab:\tv w\r\n", "X-Empty:\r\n", "X-Obs: caf\xc3\xa9\r\n"};
  static const char *const bad[] = {
      "X-A: 1",            /* no CRLF */
      "X-A: 1\n",          /* bare LF */
      "X-A: 1\r",          /* bare CR */
      "X-A: a\rb\r\n",     /* CR inside */
      "X-A: a\nb\r\n",     /* LF inside */
      "X-A: 1\r\n\r\n",    /* an empty line would end the head */
      "X A: 1\r\n",        /* space in the name */
      ": 1\r\n",           /* empty name */
      "X-A 1\r\n",         /* no colon */
      "X(A): 1\r\n",       /* not a token */
      "X-A: \x01\r\n",     /* CTL in the value */
      "X-A: \x7f\r\n",     /* DEL */
      "upgrade: h2c\r\n",  /* the core's own */
      "Sec-WebSocket-Accept: x\r\n",
      "Content-Length: 5\r\n",
      "X-A: 1\r\nConnection: close\r\n"};
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  size_t i, n;
  char *r;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  assert_null(cfg.extra_headers);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    wsv_hs_server_config_init(&cfg);
    cfg.extra_headers = bad[i];
    hs = (struct wsv_hs_server *)&cfg;
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
    assert_null(hs);
  }
  {
    static char big[4200];
    for (i = 0; i + 10 < sizeof big; i += 10)
      memcpy(big + i, "X-Big: 1\r\n", 10);
    big[i] = '\0';
    wsv_hs_server_config_init(&cfg);
    cfg.extra_headers = big; /* over 4096 bytes */
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  }
  for (i = 0; i < sizeof good / sizeof good[0]; i++) {
    static const char req[] = BASE END;
    wsv_hs_server_config_init(&cfg);
    cfg.extra_headers = good[i];
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
    assert_int_equal(wsv_hs_server_parse(hs, req, sizeof req - 1),
                     WSV_HS_ACCEPT);
    r = hst_response(hs, &n);
    /* the core's 101, then the lines, then the blank line */
    size_t core = sizeof hst_rfc_101 - 3;
    assert_true(n == core + strlen(good[i]) + 2);
    assert_memory_equal(r, hst_rfc_101, core);
    assert_memory_equal(r + core, good[i], strlen(good[i]));
    assert_string_equal(r + n - 2, "\r\n");
    free(r);
    wsv_hs_server_free(hs);
  }
  /* a rejection carries none of them */
  {
    static const char req[] = RL HOST UPG CONN KEY END; /* no version */
    wsv_hs_server_config_init(&cfg);
    cfg.extra_headers = "X-Only-101: yes\r\n";
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
    assert_int_equal(wsv_hs_server_parse(hs, req, sizeof req - 1),
                     WSV_HS_REJECT);
    r = hst_response(hs, &n);
    assert_null(strstr(r, "X-Only-101"));
    free(r);
    wsv_hs_server_free(hs);
  }
}

static void test_config_and_memory(void **state) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs = (struct wsv_hs_server *)&cfg;
  struct hst_alloc a = {0, 0, 0};
  struct wsv_mem mem = {&a, hst_malloc, hst_realloc, hst_free};
  static const uint32_t bad_versions[] = {
      0, WSV_VERSION_BIT(12), WSV_VERSION_BIT(13) | WSV_VERSION_BIT(0),
      WSV_VERSION_BIT(13) | WSV_VERSION_BIT(31), WSV_VERSION_BIT(6)};
  size_t i;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  assert_int_equal(cfg.versions, WSV_VERSIONS_DEFAULT);
  assert_int_equal(cfg.unsupported_status, 426);
  assert_int_equal(cfg.plain_http, WSV_HS_PLAIN_REPORT);
  assert_int_equal(cfg.max_head_bytes, 8192);
  assert_int_equal(cfg.max_headers, 100);
  assert_null(cfg.accept);
  for (i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
    wsv_hs_server_config_init(&cfg);
    cfg.versions = bad_versions[i];
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
    assert_null(hs);
  }
  wsv_hs_server_config_init(&cfg);
  cfg.unsupported_status = 404;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  wsv_hs_server_config_init(&cfg);
  cfg.plain_http = 2;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  wsv_hs_server_config_init(&cfg);
  cfg.max_head_bytes = 0;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  wsv_hs_server_config_init(&cfg);
  cfg.max_headers = 0;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  cfg.max_headers = SIZE_MAX / 2;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_new(NULL, NULL, NULL), WSV_ERR_INVAL);
  /* defaults, through the caller's allocator: one allocation */
  assert_int_equal(wsv_hs_server_new(&hs, NULL, &mem), 0);
  assert_int_equal(a.allocs, 1);
  assert_int_equal(wsv_hs_server_parse(hs, BASE END, sizeof(BASE END) - 1),
                   WSV_HS_ACCEPT);
  assert_int_equal(a.allocs, 1);
  wsv_hs_server_free(hs);
  assert_int_equal(a.frees, 1);
  a.fail = 1;
  assert_int_equal(wsv_hs_server_new(&hs, NULL, &mem), WSV_ERR_NOMEM);
  assert_null(hs);
  wsv_hs_server_free(NULL);
}

static void test_api_edges(void **state) {
  struct wsv_hs_server *hs;
  char out[300];
  size_t n;
  struct wsv_str v;
  size_t pos = 0;
  (void)state;
  assert_int_equal(wsv_hs_server_parse(NULL, "", 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_parse(hs, NULL, 0), WSV_HS_INCOMPLETE);
  assert_int_equal(wsv_hs_server_parse(hs, "GET / H", 7), WSV_HS_INCOMPLETE);
  assert_int_equal(wsv_hs_server_parse(hs, "GET / ", 6), WSV_ERR_INVAL);
  /* nothing is known before the head completes */
  assert_int_equal(wsv_hs_server_status(hs), 0);
  assert_int_equal(wsv_hs_server_error(hs), 0);
  assert_int_equal(wsv_hs_server_response(hs, out, sizeof out), 0);
  assert_null(wsv_hs_server_method(hs).ptr);
  assert_null(wsv_hs_server_path(hs).ptr);
  assert_null(wsv_hs_server_origin(hs).ptr);
  assert_int_equal(wsv_hs_server_header(hs, "Host", &v), 0);
  assert_null(v.ptr);
  assert_int_equal(wsv_hs_server_list_next(hs, "Host", &pos, &v), 0);
  assert_int_equal(wsv_hs_server_version(hs), -1);
  assert_int_equal(wsv_hs_server_head_len(hs), 0);
  assert_int_equal(wsv_hs_server_close_after(hs), 0);
  assert_int_equal(wsv_hs_server_select_subprotocol(hs, "x"), WSV_ERR_STATE);
  assert_int_equal(wsv_hs_server_set_reason(hs, "x"), WSV_ERR_STATE);
  wsv_hs_server_free(hs);
  /* snprintf-style output */
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hs, BASE END, sizeof(BASE END) - 1),
                   WSV_HS_ACCEPT);
  assert_int_equal(wsv_hs_server_version(hs), 13);
  n = wsv_hs_server_response(hs, NULL, 0);
  assert_int_equal(n, sizeof hst_rfc_101 - 1);
  memset(out, '#', sizeof out);
  assert_int_equal(wsv_hs_server_response(hs, out, 10), n);
  assert_memory_equal(out, hst_rfc_101, 10);
  assert_int_equal(out[10], '#');
  assert_int_equal(wsv_hs_server_response(hs, NULL, 5), 0);
  {
    uint8_t *g = guard_copy(hst_rfc_101, n);
    assert_int_equal(wsv_hs_server_response(hs, (char *)g, n), n);
    assert_memory_equal(g, hst_rfc_101, n);
    guard_free(g, n);
  }
  assert_int_equal(wsv_hs_server_response(NULL, out, 1), 0);
  assert_int_equal(wsv_hs_server_want(NULL), 0);
  assert_int_equal(wsv_hs_server_status(NULL), 0);
  assert_string_equal(wsv_hs_server_reason(NULL), "");
  assert_int_equal(wsv_hs_server_error(hs), 0);
  assert_string_equal(wsv_hs_server_reason(hs), "");
  wsv_hs_server_free(hs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc_example),
      cmocka_unit_test(test_seed_examples),
      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_exact_426),
      cmocka_unit_test(test_version_malformed),
      cmocka_unit_test(test_version_unsupported),
      cmocka_unit_test(test_version_drafts),
      cmocka_unit_test(test_method),
      cmocka_unit_test(test_http_version),
      cmocka_unit_test(test_target),
      cmocka_unit_test(test_path_query),
      cmocka_unit_test(test_host),
      cmocka_unit_test(test_host_plain),
      cmocka_unit_test(test_body),
      cmocka_unit_test(test_body_plain),
      cmocka_unit_test(test_upgrade),
      cmocka_unit_test(test_connection),
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_protocol_syntax),
      cmocka_unit_test(test_protocol_many),
      cmocka_unit_test(test_syntax),
      cmocka_unit_test(test_plain_http),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_header_count),
      cmocka_unit_test(test_huge_key),
      cmocka_unit_test(test_leftover_and_pipelining),
      cmocka_unit_test(test_reason_escaping),
      cmocka_unit_test(test_hook_accept),
      cmocka_unit_test(test_hook_bad_subprotocol),
      cmocka_unit_test(test_hook_refuse),
      cmocka_unit_test(test_hook_long_reason),
      cmocka_unit_test(test_extra_headers),
      cmocka_unit_test(test_config_and_memory),
      cmocka_unit_test(test_api_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
