/*
 * http_test.c - the internal HTTP/1.1 head parser (src/http.c): requests
 * and responses, every strictness rule accepted and rejected, each input
 * fed whole, split once at every byte, and grown one byte at a time with
 * the growing buffer re-passed (and moved: every call gets a fresh copy
 * that ends right before a PROT_NONE page).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "support/guard.h"

#define MAXH 16

/* One parser with its header storage. */
struct ht_parser {
  struct wsv_http_head h;
  struct wsv_header hs[MAXH];
};

static void ht_init(struct ht_parser *p, size_t max_bytes, size_t max_headers) {
  memset(p, 0, sizeof *p);
  p->h.headers = p->hs;
  p->h.max_headers = max_headers;
  p->h.max_bytes = max_bytes;
}

/* Parse buf[0..len) from a guard copy; returns the result.  The copy is
 * kept in *copy (freed by the caller) so views can be checked. */
static int ht_call(struct ht_parser *p, int req, const char *buf, size_t len,
                   uint8_t **copy) {
  uint8_t *g = guard_copy(buf, len);
  int rc = req ? wsv__http_parse_request(&p->h, (const char *)g, len)
               : wsv_http_parse_response(&p->h, (const char *)g, len);
  if (copy != NULL)
    *copy = g;
  else
    guard_free(g, len);
  return rc;
}

/* The expected outcome of a case: `rc` (a head length or an error) first
 * returned once `at` bytes are available; WSV_ERR_AGAIN before. */
struct ht_case {
  const char *in;
  size_t len;
  int req;
  int rc;
  size_t at;
  size_t max_bytes;
  size_t max_headers;
};

typedef void (*ht_check_fn)(const struct wsv_http_head *h);

/* Feed the case whole, split once at every byte, and byte by byte. */
static void ht_run(const struct ht_case *c, ht_check_fn check) {
  struct ht_parser p;
  size_t k;
  uint8_t *g;
  int rc;
  /* whole */
  ht_init(&p, c->max_bytes, c->max_headers);
  rc = ht_call(&p, c->req, c->in, c->len, &g);
  assert_int_equal(rc, c->rc);
  if (rc > 0 && check != NULL)
    check(&p.h);
  guard_free(g, c->len);
  /* one split at every byte */
  for (k = 0; k <= c->len; k++) {
    ht_init(&p, c->max_bytes, c->max_headers);
    rc = ht_call(&p, c->req, c->in, k, NULL);
    assert_int_equal(rc, k < c->at ? WSV_ERR_AGAIN : c->rc);
    rc = ht_call(&p, c->req, c->in, c->len, &g);
    assert_int_equal(rc, c->rc);
    if (rc > 0 && check != NULL)
      check(&p.h);
    guard_free(g, c->len);
  }
  /* byte by byte, the growing buffer re-passed (and moved) each time */
  ht_init(&p, c->max_bytes, c->max_headers);
  for (k = 0; k <= c->len; k++) {
    rc = ht_call(&p, c->req, c->in, k, &g);
    assert_int_equal(rc, k < c->at ? WSV_ERR_AGAIN : c->rc);
    if (rc > 0 && check != NULL)
      check(&p.h);
    guard_free(g, k);
  }
}

static int ht_eq(struct wsv_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define S(lit) lit, sizeof(lit) - 1

/* ---- requests that parse ---------------------------------------------- */

static const char ht_req1[] = "GET /chat?x=1 HTTP/1.1\r\n"
                              "Host: example.com:8000\r\n"
                              "Upgrade:websocket\r\n"
                              "Connection: \t keep-alive, Upgrade \t\r\n"
                              "X-Empty:\r\n"
                              "X-Obs: caf\xc3\xa9 \x80\xff\r\n"
                              "X-Tab: a\tb\r\n"
                              "\r\n";

static void ht_check_req1(const struct wsv_http_head *h) {
  assert_true(ht_eq(h->method, "GET"));
  assert_true(ht_eq(h->target, "/chat?x=1"));
  assert_int_equal(h->major, 1);
  assert_int_equal(h->minor, 1);
  assert_int_equal(h->nheaders, 6);
  assert_true(ht_eq(h->headers[0].name, "Host"));
  assert_true(ht_eq(h->headers[0].value, "example.com:8000"));
  assert_true(ht_eq(h->headers[1].value, "websocket"));
  assert_true(ht_eq(h->headers[2].value, "keep-alive, Upgrade"));
  assert_true(ht_eq(h->headers[3].name, "X-Empty"));
  assert_int_equal(h->headers[3].value.len, 0);
  assert_true(ht_eq(h->headers[4].value, "caf\xc3\xa9 \x80\xff"));
  assert_true(ht_eq(h->headers[5].value, "a\tb"));
  assert_true(
      wsv_http_list_has(h->headers, h->nheaders, "connection", "UPGRADE"));
}

static void test_request_ok(void **state) {
  struct ht_case c = {S(ht_req1), 1, 0, 0, 8192, MAXH};
  (void)state;
  c.rc = (int)c.len;
  c.at = c.len;
  ht_run(&c, ht_check_req1);
}

/* Bytes after the blank line are not part of the head and not looked at. */
static void test_request_leftover(void **state) {
  static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x85\0\0\n\r";
  struct ht_case c = {in, sizeof in - 1, 1, 27, 27, 8192, MAXH};
  (void)state;
  ht_run(&c, NULL);
}

static void ht_check_v20(const struct wsv_http_head *h) {
  assert_int_equal(h->major, 2);
  assert_int_equal(h->minor, 0);
  assert_int_equal(h->nheaders, 0);
  assert_true(ht_eq(h->target, "http://a.example/x"));
}

static void test_request_other_versions(void **state) {
  static const char in[] = "GET http://a.example/x HTTP/2.0\r\n\r\n";
  struct ht_case c = {S(in), 1, sizeof in - 1, sizeof in - 1, 8192, MAXH};
  (void)state;
  ht_run(&c, ht_check_v20);
}

/* The request line is the parser's business only in shape: any token is a
 * method, any visible string a target. */
static void test_request_line_shapes(void **state) {
  static const char *ok[] = {
      "POST * HTTP/1.0\r\n\r\n",
      "CONNECT a.example:443 HTTP/1.1\r\n\r\n",
      "M-1!#$%&'*+.^_`|~ /%zz HTTP/9.9\r\n\r\n",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    size_t n = strlen(ok[i]);
    struct ht_case c = {ok[i], n, 1, (int)n, n, 8192, MAXH};
    ht_run(&c, NULL);
  }
}

/* ---- requests that fail, reported at the first bad byte ---------------- */

/* `good` is a valid prefix; the error shows once the first byte of `bad`
 * arrives (at = strlen(good) + 1). */
struct ht_bad {
  const char *good;
  const char *bad;
  size_t bad_len;
  int rc;
};

static void ht_run_bad(const struct ht_bad *b, int req) {
  size_t gl = strlen(b->good);
  char *in = malloc(gl + b->bad_len);
  struct ht_case c;
  assert_non_null(in);
  memcpy(in, b->good, gl);
  memcpy(in + gl, b->bad, b->bad_len);
  c.in = in;
  c.len = gl + b->bad_len;
  c.req = req;
  c.rc = b->rc;
  c.at = gl + 1;
  c.max_bytes = 8192;
  c.max_headers = MAXH;
  ht_run(&c, NULL);
  free(in);
}

#define B(good, bad, rc)                                                       \
  { good, bad, sizeof(bad) - 1, rc }
#define SYN WSV_ERR_HTTP_SYNTAX
#define RL "GET / HTTP/1.1\r\n"

static const struct ht_bad ht_bad_requests[] = {
    /* line endings */
    B("GET / HTTP/1.1", "\nHost: a\r\n\r\n", SYN),
    B(RL "Host: a", "\nX: y\r\n\r\n", SYN),
    B(RL "Host: a\r", "X: y\r\n\r\n", SYN),
    B(RL "Host: a\r\n\r", "x", SYN),
    B(RL "Host: a\r\n", "\n", SYN),
    B("\r", "\nGET / HTTP/1.1\r\n\r\n", SYN), /* leading empty line */
    B("GET / HTTP/1.1\r", "\r\n\r\n", SYN),
    /* control bytes */
    B(RL "Host: a", "\0b\r\n\r\n", SYN),
    B(RL "Host: a", "\x01\r\n\r\n", SYN),
    B(RL "Host: a", "\x7f\r\n\r\n", SYN),
    B(RL "Host: a", "\x1b[0m\r\n\r\n", SYN),
    B("GET /", "\0 HTTP/1.1\r\n\r\n", SYN),
    B("GET /", "\x7f HTTP/1.1\r\n\r\n", SYN),
    /* obs-fold and whitespace at the start of a field line */
    B(RL "Host: a\r\n", " b\r\n\r\n", SYN),
    B(RL "Host: a\r\n", "\tb\r\n\r\n", SYN),
    B(RL, " Host: a\r\n\r\n", SYN),
    /* field names */
    B(RL "Upgrade", " : websocket\r\n\r\n", SYN),
    B(RL "Upgrade", "\t: websocket\r\n\r\n", SYN),
    B(RL, ":x\r\n\r\n", SYN),
    B(RL "X", "(y): z\r\n\r\n", SYN),
    B(RL "X", "\xc3\xa9: z\r\n\r\n", SYN),
    B(RL "Host", "\r\n\r\n", SYN),
    B(RL "X", "\"\r\n\r\n", SYN),
    /* request line shape, checked at its LF */
    B("GET  / HTTP/1.1\r", "\n\r\n", SYN),
    B("GET / HTTP/1.1 \r", "\n\r\n", SYN),
    B(" GET / HTTP/1.1\r", "\n\r\n", SYN),
    B("GET /\r", "\n\r\n", SYN),
    B("GET / HTTP/11\r", "\n\r\n", SYN),
    B("GET / HTTP/1.10\r", "\n\r\n", SYN),
    B("GET / http/1.1\r", "\n\r\n", SYN),
    B("GET / HTTP/1.x\r", "\n\r\n", SYN),
    B("GET / HTTP/1.1x\r", "\n\r\n", SYN),
    B("GET\t/ HTTP/1.1\r", "\n\r\n", SYN),
    B("GET /\t HTTP/1.1\r", "\n\r\n", SYN),
    B("G(T / HTTP/1.1\r", "\n\r\n", SYN),
    B("GET / caf\xc3\xa9 HTTP/1.1\r", "\n\r\n", SYN),
    B("GET /caf\xc3\xa9 HTTP/1.1\r", "\n\r\n", SYN),
    B(" \r", "\n\r\n", SYN),
    B("GET  HTTP/1.1\r", "\n\r\n", SYN),
    B("HTTP/1.1 200 OK\r", "\n\r\n", SYN),
};

static void test_request_bad(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ht_bad_requests / sizeof ht_bad_requests[0]; i++)
    ht_run_bad(&ht_bad_requests[i], 1);
}

/* An error is sticky, and a shrinking buffer is a caller bug. */
static void test_sticky_and_inval(void **state) {
  static const char in[] = RL "Host: a\nX: y\r\n\r\n";
  struct ht_parser p;
  (void)state;
  ht_init(&p, 8192, MAXH);
  assert_int_equal(ht_call(&p, 1, S(in), NULL), SYN);
  assert_int_equal(ht_call(&p, 1, S(in), NULL), SYN);
  assert_int_equal(ht_call(&p, 1, in, 3, NULL), SYN);
  ht_init(&p, 8192, MAXH);
  assert_int_equal(ht_call(&p, 1, in, 10, NULL), WSV_ERR_AGAIN);
  assert_int_equal(ht_call(&p, 1, in, 9, NULL), WSV_ERR_INVAL);
  /* a finished head keeps answering its length */
  ht_init(&p, 8192, MAXH);
  assert_int_equal(ht_call(&p, 1, S(RL "\r\n"), NULL), 18);
  assert_int_equal(ht_call(&p, 1, S(RL "\r\nxyz"), NULL), 18);
}

/* ---- limits -------------------------------------------------------------- */

static char *ht_make(size_t *len, const char *head, size_t fill,
                     const char *tail) {
  size_t a = strlen(head), c = strlen(tail);
  char *s = malloc(a + fill + c + 1);
  assert_non_null(s);
  memcpy(s, head, a);
  memset(s + a, 'x', fill);
  memcpy(s + a + fill, tail, c + 1);
  *len = a + fill + c;
  return s;
}

/* A head exactly max_bytes long parses; one byte more is too large, found
 * at max_bytes without looking further (the bytes after max_bytes would
 * complete it, and are never read). */
static void test_max_bytes(void **state) {
  size_t len;
  char *s = ht_make(&len, RL "X: ", 100, "\r\n\r\n");
  struct ht_case c = {s, len, 1, (int)len, len, len, MAXH};
  (void)state;
  ht_run(&c, NULL);
  c.max_bytes = len - 1;
  c.rc = WSV_ERR_HTTP_TOO_LARGE;
  c.at = len - 1;
  ht_run(&c, NULL);
  c.max_bytes = 10; /* inside the request line */
  c.at = 10;
  ht_run(&c, NULL);
  c.max_bytes = 0;
  c.at = 0;
  ht_run(&c, NULL);
  free(s);
}

/* A syntax error inside the limit wins over the limit. */
static void test_syntax_before_limit(void **state) {
  static const char in[] =
      RL "X: a\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  struct ht_case c = {S(in), 1, SYN, sizeof RL + 4, 40, MAXH};
  (void)state;
  ht_run(&c, NULL);
}

static void test_max_headers(void **state) {
  static const char in[] = RL "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
  struct ht_case c = {S(in), 1, (int)sizeof in - 1, sizeof in - 1, 8192, 4};
  (void)state;
  ht_run(&c, NULL);
  /* the fourth field's LF already exceeds a limit of 3 */
  c.max_headers = 3;
  c.rc = WSV_ERR_HTTP_TOO_LARGE;
  c.at = sizeof in - 1 - 2;
  ht_run(&c, NULL);
  c.max_headers = 0;
  c.at = sizeof RL - 1 + 6;
  ht_run(&c, NULL);
}

/* 10,000 empty-valued fields: refused at the 101st with bounded work. */
static void test_header_bomb(void **state) {
  size_t n = 10000, i, len = 0;
  char *s = malloc(16 + 4 * n + 2);
  struct ht_parser p;
  (void)state;
  assert_non_null(s);
  memcpy(s, RL, sizeof RL - 1);
  len = sizeof RL - 1;
  for (i = 0; i < n; i++) {
    memcpy(s + len, "a:\r\n", 4);
    len += 4;
  }
  memcpy(s + len, "\r\n", 2);
  len += 2;
  p.h.headers = malloc(100 * sizeof(struct wsv_header));
  assert_non_null(p.h.headers);
  p.h.max_headers = 100;
  p.h.max_bytes = 1 << 20;
  p.h._scanned = 0;
  assert_int_equal(wsv__http_parse_request(&p.h, s, len),
                   WSV_ERR_HTTP_TOO_LARGE);
  /* found at the 101st field's LF, not later */
  p.h._scanned = 0;
  assert_int_equal(wsv__http_parse_request(&p.h, s, sizeof RL - 1 + 4 * 101),
                   WSV_ERR_HTTP_TOO_LARGE);
  p.h._scanned = 0;
  assert_int_equal(
      wsv__http_parse_request(&p.h, s, sizeof RL - 1 + 4 * 101 - 1),
      WSV_ERR_AGAIN);
  free(p.h.headers);
  free(s);
}

/* 100 KB of spaces in a value, fed one byte at a time: linear work. */
static void test_linear_spaces(void **state) {
  size_t len, k;
  char *s;
  struct ht_parser p;
  clock_t t0 = clock();
  int rc = WSV_ERR_AGAIN;
  (void)state;
  len = strlen(RL "Sec-WebSocket-Protocol: b");
  s = malloc(len + 100000 + 8);
  assert_non_null(s);
  memcpy(s, RL "Sec-WebSocket-Protocol: b", len);
  memset(s + len, ' ', 100000);
  memcpy(s + len + 100000, "x\r\n\r\n", 5);
  len += 100005;
  ht_init(&p, 1 << 20, MAXH);
  for (k = 1; k <= len && rc == WSV_ERR_AGAIN; k++)
    rc = wsv__http_parse_request(&p.h, s, k);
  assert_int_equal(rc, (int)len);
  assert_int_equal(p.h.headers[0].value.len, 100002);
  assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
  free(s);
}

/* ---- responses --------------------------------------------------------- */

static void ht_check_resp(const struct wsv_http_head *h) {
  assert_int_equal(h->status, 101);
  assert_true(ht_eq(h->reason, "Switching Protocols"));
  assert_int_equal(h->major, 1);
  assert_int_equal(h->minor, 1);
  assert_int_equal(h->nheaders, 3);
  assert_true(ht_eq(h->headers[2].value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

static void test_response_ok(void **state) {
  static const char in[] = "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
                           "\r\n\r\n\x81\x02hi";
  struct ht_case c = {in, sizeof in - 5, 0, 0, 0, 8192, MAXH};
  (void)state;
  c.rc = (int)c.len;
  c.at = c.len;
  ht_run(&c, ht_check_resp);
  c.len = sizeof in - 1;
  ht_run(&c, ht_check_resp);
}

static void ht_check_426(const struct wsv_http_head *h) {
  assert_int_equal(h->status, 426);
  assert_int_equal(h->reason.len, 0);
  assert_int_equal(h->nheaders, 2);
  assert_int_equal(
      wsv_http_count(h->headers, h->nheaders, "sec-websocket-version", NULL),
      2);
}

static void test_response_shapes(void **state) {
  static const char in[] = "HTTP/1.1 426\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Version: 8, 7\r\n\r\n";
  static const char *ok[] = {
      "HTTP/1.1 200 \r\n\r\n",
      "HTTP/1.0 999 x\ty \x80\xff\r\n\r\n",
      "HTTP/2.0 101 Switching Protocols\r\n\r\n",
  };
  struct ht_case c = {S(in), 0, sizeof in - 1, sizeof in - 1, 8192, MAXH};
  size_t i;
  (void)state;
  ht_run(&c, ht_check_426);
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    size_t n = strlen(ok[i]);
    struct ht_case d = {ok[i], n, 0, (int)n, n, 8192, MAXH};
    ht_run(&d, NULL);
  }
}

#define SL "HTTP/1.1 101 Switching Protocols\r\n"

static const struct ht_bad ht_bad_responses[] = {
    B("HTTP/1.1 10 x\r", "\n\r\n", SYN),
    B("HTTP/1.1 1011 x\r", "\n\r\n", SYN),
    B("HTTP/1.1  101 x\r", "\n\r\n", SYN),
    B("HTTP/1.1 10x x\r", "\n\r\n", SYN),
    B("XTTP/1.1 101 x\r", "\n\r\n", SYN),
    B("HTTP/1.1\r", "\n\r\n", SYN),
    B("GET / HTTP/1.1\r", "\n\r\n", SYN),
    B("HTTP/1.1 101 OK", "\n\r\n", SYN),
    B("HTTP/1.1 101 OK", "\0\r\n\r\n", SYN),
    B(SL "Upgrade: websocket", "\n\r\n", SYN),
    B(SL "Upgrade: websocket\r\n", " x\r\n\r\n", SYN),
    B(SL "Upgrade", " : websocket\r\n\r\n", SYN),
    B(SL "Upgrade: web", "\x01socket\r\n\r\n", SYN),
};

static void test_response_bad(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ht_bad_responses / sizeof ht_bad_responses[0]; i++)
    ht_run_bad(&ht_bad_responses[i], 0);
}

/* ---- helpers ----------------------------------------------------------- */

static struct wsv_header ht_hdr(const char *name, const char *value) {
  struct wsv_header h;
  h.name.ptr = name;
  h.name.len = strlen(name);
  h.value.ptr = value;
  h.value.len = strlen(value);
  return h;
}

static void test_str_ieq(void **state) {
  struct wsv_str s = {"WebSocket", 9};
  (void)state;
  assert_true(wsv_str_ieq(s, "websocket"));
  assert_true(wsv_str_ieq(s, "WEBSOCKET"));
  assert_false(wsv_str_ieq(s, "websockets"));
  assert_false(wsv_str_ieq(s, "websocke"));
  assert_false(wsv_str_ieq(s, "websocket\x01"));
  s.len = 0;
  assert_true(wsv_str_ieq(s, ""));
  s.ptr = "[";
  s.len = 1;
  assert_false(wsv_str_ieq(s, "{")); /* not a letter: no case folding */
}

static void test_count(void **state) {
  struct wsv_header hs[4];
  struct wsv_str first;
  (void)state;
  hs[0] = ht_hdr("Host", "a");
  hs[1] = ht_hdr("X", "1");
  hs[2] = ht_hdr("host", "b");
  hs[3] = ht_hdr("Hosts", "c");
  assert_int_equal(wsv_http_count(hs, 4, "HOST", &first), 2);
  assert_true(ht_eq(first, "a"));
  assert_int_equal(wsv_http_count(hs, 4, "Y", &first), 0);
  assert_null(first.ptr);
  assert_int_equal(first.len, 0);
  assert_int_equal(wsv_http_count(hs, 4, "x", NULL), 1);
  assert_int_equal(wsv_http_count(NULL, 0, "x", &first), 0);
}

/* Collect every element of the list `name` into one "|"-joined string. */
static void ht_join(const struct wsv_header *hs, size_t n, const char *name,
                    char *out, size_t cap) {
  size_t pos = 0, used = 0;
  struct wsv_str e;
  out[0] = '\0';
  while (wsv_http_list_next(hs, n, name, &pos, &e)) {
    assert_true(used + e.len + 2 < cap);
    if (used > 0)
      out[used++] = '|';
    memcpy(out + used, e.ptr, e.len);
    used += e.len;
    out[used] = '\0';
  }
  /* the end is stable */
  assert_int_equal(wsv_http_list_next(hs, n, name, &pos, &e), 0);
}

static void test_list_next(void **state) {
  struct wsv_header hs[6];
  char out[256];
  (void)state;
  hs[0] = ht_hdr("Connection", " keep-alive ,\tUpgrade");
  hs[1] = ht_hdr("X", "no, no");
  hs[2] = ht_hdr("connection", ",, ,");
  hs[3] = ht_hdr("CONNECTION", "");
  hs[4] = ht_hdr("connection", "a,b ,c");
  hs[5] = ht_hdr("E", "x; p=\"a,b\\\",c\", y, \"unclosed, z");
  ht_join(hs, 6, "connection", out, sizeof out);
  assert_string_equal(out, "keep-alive|Upgrade|a|b|c");
  ht_join(hs, 6, "e", out, sizeof out);
  assert_string_equal(out, "x; p=\"a,b\\\",c\"|y|\"unclosed, z");
  ht_join(hs, 6, "nothing", out, sizeof out);
  assert_string_equal(out, "");
  ht_join(hs, 0, "connection", out, sizeof out);
  assert_string_equal(out, "");
  assert_true(wsv_http_list_has(hs, 6, "Connection", "upgrade"));
  assert_true(wsv_http_list_has(hs, 6, "Connection", "C"));
  assert_false(wsv_http_list_has(hs, 6, "Connection", "no"));
  assert_false(wsv_http_list_has(hs, 6, "Connection", "Upgrad"));
  assert_false(wsv_http_list_has(hs, 6, "Connection", ""));
}

/* 1,000 comma elements (and 1,000 commas of nothing): linear. */
static void test_list_many(void **state) {
  char *v = malloc(5000);
  struct wsv_header hs[2];
  size_t i, pos = 0, count = 0;
  struct wsv_str e;
  (void)state;
  assert_non_null(v);
  for (i = 0; i < 1000; i++)
    memcpy(v + 4 * i, "ab, ", 4);
  v[4000] = '\0';
  hs[0] = ht_hdr("L", v);
  memset(v + 4001, ',', 998);
  v[4999] = '\0';
  hs[1] = ht_hdr("L", v + 4001);
  while (wsv_http_list_next(hs, 2, "l", &pos, &e)) {
    assert_true(ht_eq(e, "ab"));
    count++;
  }
  assert_int_equal(count, 1000);
  free(v);
}

/* ---- RFC 3986 hosts --------------------------------------------------- */

/* One host through the parsers from a guard copy of exactly its length
 * (a read past the end faults), and every prefix of it too (each must be
 * judged without reading past its own end). */
static int ht_host(const char *in, size_t *host_len, long *port) {
  size_t n = strlen(in), k;
  uint8_t *g;
  int kind;
  for (k = 0; k < n; k++) {
    g = guard_copy(in, k);
    (void)wsv__uri_host_port((const char *)g, k, NULL, NULL);
    (void)wsv__uri_host((const char *)g, k);
    (void)wsv__uri_ipv6((const char *)g, k);
    guard_free(g, k);
  }
  g = guard_copy(in, n);
  kind = wsv__uri_host_port((const char *)g, n, host_len, port);
  guard_free(g, n);
  return kind;
}

/* Host field values: host [ ":" port ]. */
static void test_uri_host_port(void **state) {
  static const struct {
    const char *in;
    int kind;
    size_t host_len;
    long port;
  } cs[] = {
      /* accepted */
      {"example.com", WSV_HOST_REG_NAME, 11, -1},
      {"EXAMPLE.com:8000", WSV_HOST_REG_NAME, 11, 8000},
      {"a-b.c", WSV_HOST_REG_NAME, 5, -1},
      {"%41.test", WSV_HOST_REG_NAME, 8, -1},
      {"a~b_c!$&'()*+,;=", WSV_HOST_REG_NAME, 16, -1},
      {"localhost:0", WSV_HOST_REG_NAME, 9, 0},
      {"h:65535", WSV_HOST_REG_NAME, 1, 65535},
      {"h:080", WSV_HOST_REG_NAME, 1, 80},
      {"127.0.0.1:80", WSV_HOST_IPV4, 9, 80},
      {"255.255.255.255", WSV_HOST_IPV4, 15, -1},
      {"0.0.0.0", WSV_HOST_IPV4, 7, -1},
      {"1.2.3.256", WSV_HOST_REG_NAME, 9, -1}, /* not IPv4: a reg-name */
      {"01.2.3.4", WSV_HOST_REG_NAME, 8, -1},
      {"[::1]", WSV_HOST_IPV6, 5, -1},
      {"[::1]:8080", WSV_HOST_IPV6, 5, 8080},
      {"[::]", WSV_HOST_IPV6, 4, -1},
      {"[2001:db8::1]", WSV_HOST_IPV6, 13, -1},
      {"[2001:DB8:0:0:0:0:0:1]", WSV_HOST_IPV6, 22, -1},
      {"[1:2:3:4:5:6:7:8]:1", WSV_HOST_IPV6, 17, 1},
      {"[1::]", WSV_HOST_IPV6, 5, -1},
      {"[1:2:3:4:5:6:7::]", WSV_HOST_IPV6, 17, -1},
      {"[::2:3:4:5:6:7:8]", WSV_HOST_IPV6, 17, -1},
      {"[1:2:3::6:7:8]", WSV_HOST_IPV6, 14, -1},
      {"[::ffff:192.0.2.1]", WSV_HOST_IPV6, 18, -1},
      {"[::192.0.2.1]", WSV_HOST_IPV6, 13, -1},
      {"[1:2:3:4:5:6:1.2.3.4]", WSV_HOST_IPV6, 21, -1},
      {"[1:2:3:4:5::1.2.3.4]", WSV_HOST_IPV6, 20, -1},
      {"[abcd:EF01::ffff]", WSV_HOST_IPV6, 17, -1},
      {"[v1.x]", WSV_HOST_IPV_FUTURE, 6, -1},
      {"[VaF.a:b!]:9", WSV_HOST_IPV_FUTURE, 10, 9},
      /* rejected */
      {"", 0, 0, 0},
      {"[::1", 0, 0, 0},
      {"[zz::]", 0, 0, 0},
      {"[]", 0, 0, 0},
      {"[]:80", 0, 0, 0},
      {"[1:2:3:4:5:6:7:8:9]", 0, 0, 0},
      {"[1:2:3:4:5:6:7]", 0, 0, 0},
      {"[1:2:3:4:5:6:7:8::]", 0, 0, 0},
      {"[::1:2:3:4:5:6:7:8]", 0, 0, 0},
      {"[1::2::3]", 0, 0, 0},
      {"[:::]", 0, 0, 0},
      {"[:1::]", 0, 0, 0},
      {"[1::2:]", 0, 0, 0},
      {"[1:]", 0, 0, 0},
      {"[12345::]", 0, 0, 0},
      {"[::g]", 0, 0, 0},
      {"[1.2.3.4]", 0, 0, 0},
      {"[::1.2.3]", 0, 0, 0},
      {"[::1.2.3.256]", 0, 0, 0},
      {"[::01.2.3.4]", 0, 0, 0},
      {"[::1.2.3.4:5]", 0, 0, 0},
      {"[1.2.3.4::]", 0, 0, 0},
      {"[1:2:3:4:5:6:7:1.2.3.4]", 0, 0, 0},
      {"[::1%eth0]", 0, 0, 0},
      {"[v.x]", 0, 0, 0},
      {"[v1.]", 0, 0, 0},
      {"[v1x]", 0, 0, 0},
      {"[::1]x", 0, 0, 0},
      {"[::1]:", 0, 0, 0},
      {"[::1]]", 0, 0, 0},
      {"[[::1]]", 0, 0, 0},
      {"::1", 0, 0, 0},
      {"host:80x", 0, 0, 0},
      {"host:", 0, 0, 0},
      {"host:-1", 0, 0, 0},
      {"host:+80", 0, 0, 0},
      {"host:65536", 0, 0, 0},
      {"host:99999999999999999999999", 0, 0, 0},
      {"host:80:80", 0, 0, 0},
      {"ho st", 0, 0, 0},
      {"a@b", 0, 0, 0},
      {"a/b", 0, 0, 0},
      {"a\"b", 0, 0, 0},
      {":80", 0, 0, 0},
      {":", 0, 0, 0},
      {"%4", 0, 0, 0},
      {"%4g.test", 0, 0, 0},
      {"a%", 0, 0, 0},
      {"\xc3\xa9.test", 0, 0, 0},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    size_t hl = 12345;
    long port = 12345;
    int kind = ht_host(cs[i].in, &hl, &port);
    if (kind != cs[i].kind)
      fail_msg("host [%s]: kind %d, want %d", cs[i].in, kind, cs[i].kind);
    if (kind == 0) {
      assert_int_equal(hl, 12345); /* left alone */
      assert_int_equal(port, 12345);
      continue;
    }
    assert_int_equal(hl, cs[i].host_len);
    assert_int_equal(port, cs[i].port);
    /* the host part alone is the same kind of host */
    assert_int_equal(wsv__uri_host(cs[i].in, hl), kind);
  }
  /* NULL outputs are fine */
  assert_int_equal(wsv__uri_host_port("[::1]:1", 7, NULL, NULL), WSV_HOST_IPV6);
  assert_int_equal(wsv__uri_host_port(NULL, 0, NULL, NULL), 0);
  assert_int_equal(wsv__uri_host(NULL, 0), 0);
}

/* A bare host (no port) and a bare IPv6address (no brackets). */
static void test_uri_host_ipv6(void **state) {
  static const struct {
    const char *in;
    int host; /* wsv__uri_host */
    int ipv6; /* wsv__uri_ipv6 */
  } cs[] = {
      {"example.com", WSV_HOST_REG_NAME, 0},
      {"192.0.2.7", WSV_HOST_IPV4, 0},
      {"[::1]", WSV_HOST_IPV6, 0},
      {"::1", 0, 1},
      {"::", 0, 1},
      {"::ffff:192.0.2.1", 0, 1},
      {"fe80::1:2", 0, 1},
      {"1:2:3:4:5:6:7:8", 0, 1},
      {"example.com:80", 0, 0}, /* a port is not part of a host */
      {"[::1]:80", 0, 0},
      {"1:2:3:4:5:6:7:8:9", 0, 0},
      {"fe80::1%eth0", 0, 0},
      {"::1]", 0, 0},
      {"[::1", 0, 0},
      {":", 0, 0},
      {"", 0, 0},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    size_t n = strlen(cs[i].in);
    uint8_t *g = guard_copy(cs[i].in, n);
    int h = wsv__uri_host((const char *)g, n);
    int v = wsv__uri_ipv6((const char *)g, n);
    guard_free(g, n);
    if (h != cs[i].host || v != cs[i].ipv6)
      fail_msg("[%s]: host %d ipv6 %d, want %d %d", cs[i].in, h, v, cs[i].host,
               cs[i].ipv6);
  }
}

/* ---- wsv_http_reason ----------------------------------------------------- */

static void test_reason(void **state) {
  static const struct {
    int status;
    const char *text;
  } cs[] = {
      {101, "Switching Protocols"},
      {200, "OK"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {421, "Misdirected Request"},
      {426, "Upgrade Required"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {504, "Gateway Timeout"},
      /* the fallback: the status class */
      {100, "Informational"},
      {199, "Informational"},
      {250, "Success"},
      {399, "Redirection"},
      {418, "Client Error"},
      {499, "Client Error"},
      {505, "Server Error"},
      {599, "Server Error"},
      {99, "Unknown"},
      {600, "Unknown"},
      {0, "Unknown"},
      {-1, "Unknown"},
      {999, "Unknown"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cs / sizeof cs[0]; i++)
    assert_string_equal(wsv_http_reason(cs[i].status), cs[i].text);
}

/* ---- wsv_str_escape -------------------------------------------------------
 */

/* Escape in[0..n) (from a guard copy) into a buffer of exactly `cap`
 * bytes that ends right before a PROT_NONE page; compare with `want`. */
static void ht_escape(const char *in, size_t n, size_t cap, size_t max,
                      unsigned flags, const char *want) {
  static const char fill[512] = {0};
  uint8_t *src = guard_copy(in, n);
  uint8_t *g = guard_copy(fill, cap);
  char *dst = cap > 0 ? (char *)g : NULL;
  size_t got = wsv_str_escape(dst, cap, (const char *)src, n, max, flags);
  if (cap == 0) {
    assert_int_equal(got, 0);
  } else {
    if (strcmp(dst, want) != 0)
      fail_msg("escape: got \"%s\", want \"%s\"", dst, want);
    assert_int_equal(got, strlen(want));
  }
  guard_free(g, cap);
  guard_free(src, n);
}

static void test_escape(void **state) {
  static const char bin[] = "a\"b\\c\r\n\x01\x7f\x80\xff~ z";
  size_t bn = sizeof bin - 1;
  (void)state;
  /* '?' style (hs_client's reasons) and hex style (hs_server's) */
  ht_escape(bin, bn, 64, SIZE_MAX, 0, "a\"b\\c??????~ z");
  ht_escape(bin, bn, 64, SIZE_MAX, WSV_ESCAPE_HEX,
            "a\\\"b\\\\c\\x0D\\x0A\\x01\\x7F\\x80\\xFF~ z");
  ht_escape("", 0, 1, SIZE_MAX, WSV_ESCAPE_HEX, "");
  {
    char z[4] = "xyz";
    assert_int_equal(wsv_str_escape(z, sizeof z, NULL, 0, SIZE_MAX, 0), 0);
    assert_string_equal(z, "");
    assert_int_equal(wsv_str_escape(NULL, 0, "abc", 3, SIZE_MAX, 0), 0);
  }
  /* cut by max: "..." follows */
  ht_escape("abcdef", 6, 64, 3, 0, "abc...");
  ht_escape("abcdef", 6, 64, 6, 0, "abcdef");
  ht_escape("abc", 3, 64, 0, 0, "...");
  ht_escape("", 0, 64, 0, 0, "");
  /* cut by cap: the text and "..." fit in cap - 1 bytes */
  ht_escape("abcdef", 6, 7, SIZE_MAX, 0, "abcdef");
  ht_escape("abcdef", 6, 6, SIZE_MAX, 0, "ab...");
  ht_escape("abcdef", 6, 4, SIZE_MAX, 0, "...");
  ht_escape("abcdef", 6, 3, SIZE_MAX, 0, "..");
  ht_escape("abcdef", 6, 1, SIZE_MAX, 0, "");
  ht_escape("abcdef", 6, 0, SIZE_MAX, 0, "");
  /* an escape is never cut in two */
  ht_escape("ab\x01", 3, 7, SIZE_MAX, WSV_ESCAPE_HEX, "ab\\x01");
  ht_escape("ab\x01c", 4, 8, SIZE_MAX, WSV_ESCAPE_HEX, "ab...");
  ht_escape("a\x01\x02", 3, 9, SIZE_MAX, WSV_ESCAPE_HEX, "a\\x01...");
  ht_escape("a\"\"", 3, 6, SIZE_MAX, WSV_ESCAPE_HEX, "a\\\"\\\"");
  ht_escape("a\"\"", 3, 5, SIZE_MAX, WSV_ESCAPE_HEX, "a...");
  /* both cuts at once: max says cut, cap leaves less room */
  ht_escape("abcdefgh", 8, 6, 7, 0, "ab...");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_ok),
      cmocka_unit_test(test_request_leftover),
      cmocka_unit_test(test_request_other_versions),
      cmocka_unit_test(test_request_line_shapes),
      cmocka_unit_test(test_request_bad),
      cmocka_unit_test(test_sticky_and_inval),
      cmocka_unit_test(test_max_bytes),
      cmocka_unit_test(test_syntax_before_limit),
      cmocka_unit_test(test_max_headers),
      cmocka_unit_test(test_header_bomb),
      cmocka_unit_test(test_linear_spaces),
      cmocka_unit_test(test_response_ok),
      cmocka_unit_test(test_response_shapes),
      cmocka_unit_test(test_response_bad),
      cmocka_unit_test(test_str_ieq),
      cmocka_unit_test(test_count),
      cmocka_unit_test(test_list_next),
      cmocka_unit_test(test_list_many),
      cmocka_unit_test(test_uri_host_port),
      cmocka_unit_test(test_uri_host_ipv6),
      cmocka_unit_test(test_reason),
      cmocka_unit_test(test_escape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
