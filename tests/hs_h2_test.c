/*
 * hs_h2_test.c - the HTTP/2 opening handshake of RFC 8441 in the core:
 * the server's wsv_hs_server_parse_h2 / _response_h2 (src/hs_server.c)
 * and the client's wsv_hs_client_request_h2 / _parse_h2
 * (src/hs_client.c).  Every rule of the table in wsv/hs_server.h alone,
 * with an accepted and a refused case; every field name and value sits
 * right before a PROT_NONE page, so a read past a field's end faults.
 * Every answer is checked for shape: lower-case names, sec-websocket-
 * version on every refusal and never on a 200, allow exactly where
 * HTTP/1.1 sends Allow, no connection-specific field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/guard.h"
#include "wsv/hs_client.h"
#include "wsv/hs_server.h"
#include "wsv/http.h"

/* ---- field lists ----------------------------------------------------- */

/* One field as a test writes it; vlen 0 means strlen(v) (a value with a
 * NUL inside gives its length). */
struct fld {
  const char *n, *v;
  size_t vlen;
};

#define MAXF 160

/* A field list in guard pages: every name and value its own copy. */
struct flist {
  struct wsv_header h[MAXF];
  size_t n;
};

static void fl_add(struct flist *l, const char *n, const char *v, size_t vlen) {
  size_t nl = strlen(n), vl = vlen != 0 ? vlen : strlen(v);
  assert_true(l->n < MAXF);
  l->h[l->n].name.ptr = (const char *)guard_copy(n, nl);
  l->h[l->n].name.len = nl;
  l->h[l->n].value.ptr = (const char *)guard_copy(v, vl);
  l->h[l->n].value.len = vl;
  l->n++;
}

/* The list f[] (ended by n == NULL) after `base` (may be NULL). */
static void fl_make(struct flist *l, const struct fld *base,
                    const struct fld *f) {
  l->n = 0;
  for (; base != NULL && base->n != NULL; base++)
    fl_add(l, base->n, base->v, base->vlen);
  for (; f != NULL && f->n != NULL; f++)
    fl_add(l, f->n, f->v, f->vlen);
}

static void fl_free(struct flist *l) {
  for (size_t i = 0; i < l->n; i++) {
    guard_free((uint8_t *)(uintptr_t)l->h[i].name.ptr, l->h[i].name.len);
    guard_free((uint8_t *)(uintptr_t)l->h[i].value.ptr, l->h[i].value.len);
  }
  l->n = 0;
}

static int str_is(struct wsv_str s, const char *want) {
  return want == NULL
             ? s.ptr == NULL && s.len == 0
             : s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define assert_str(s, want)                                                    \
  do {                                                                         \
    struct wsv_str s_ = (s);                                                   \
    if (!str_is(s_, want))                                                     \
      fail_msg("got [%.*s], want [%s]", (int)s_.len,                           \
               s_.ptr != NULL ? s_.ptr : "(null)",                             \
               (want) != NULL ? (const char *)(want) : "(null)");              \
  } while (0)

/* The extended CONNECT every server case starts from (RFC 8441 §5):
 * its pseudo-headers alone, and with sec-websocket-version 13. */
/* clang-format off */
#define H2_PSEUDO                                                              \
  {":method", "CONNECT", 0}, {":protocol", "websocket", 0},                    \
  {":scheme", "https", 0}, {":path", "/chat?room=1", 0},                       \
  {":authority", "example.com:8443", 0}
/* clang-format on */
static const struct fld h2_pseudo[] = {H2_PSEUDO, {NULL, NULL, 0}};
static const struct fld h2_base[] = {
    H2_PSEUDO, {"sec-websocket-version", "13", 0}, {NULL, NULL, 0}};
static const struct fld h2_get[] = {{":method", "GET", 0},
                                    {":scheme", "https", 0},
                                    {":path", "/index.html?a=b", 0},
                                    {":authority", "example.com", 0},
                                    {NULL, NULL, 0}};

/* ---- the server -------------------------------------------------------- */

/* The value of the answer field `name`, or {NULL, 0}; fails on a
 * repeated one. */
static struct wsv_str ans_field(const struct wsv_header *f, size_t n,
                                const char *name) {
  struct wsv_str v = {NULL, 0};
  size_t seen = 0;
  for (size_t i = 0; i < n; i++)
    if (str_is(f[i].name, name)) {
      v = f[i].value;
      seen++;
    }
  assert_true(seen <= 1);
  return v;
}

/* The shape of every HTTP/2 answer of hs; returns the field count and
 * fills out[0..16). */
static size_t h2_shape(const struct wsv_hs_server *hs, struct wsv_header *out) {
  size_t n = wsv_hs_server_response_h2(hs, NULL, 0);
  int r = wsv_hs_server_is_h2(hs);
  assert_int_equal(r, 1);
  assert_true(n <= 16);
  assert_int_equal(wsv_hs_server_response_h2(hs, out, 16), n);
  assert_int_equal(wsv_hs_server_response(hs, NULL, 0), 0);
  assert_int_equal(wsv_hs_server_head_len(hs), 0);
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < out[i].name.len; k++)
      assert_false(out[i].name.ptr[k] >= 'A' && out[i].name.ptr[k] <= 'Z');
    assert_true(out[i].name.len > 0 && out[i].name.ptr[0] != ':');
    assert_false(str_is(out[i].name, "connection") ||
                 str_is(out[i].name, "upgrade") ||
                 str_is(out[i].name, "sec-websocket-accept"));
  }
  return n;
}

/* Check the shape of a REJECT: the status, the version list, the
 * content-type, allow where HTTP/1.1 sends Allow, never a 426. */
static void h2_check_reject(const struct wsv_hs_server *hs, const char *vers) {
  struct wsv_header f[16];
  size_t n = h2_shape(hs, f);
  int st = wsv_hs_server_status(hs);
  assert_true(st >= 400 && st <= 599 && st != 426);
  assert_int_equal(wsv_hs_server_close_after(hs), 1);
  assert_str(ans_field(f, n, "sec-websocket-version"), vers);
  assert_str(ans_field(f, n, "content-type"), "text/plain; charset=utf-8");
  if (st == 405 || wsv_hs_server_error(hs) == WSV_ERR_HS_METHOD)
    assert_str(ans_field(f, n, "allow"), "CONNECT");
  else
    assert_str(ans_field(f, n, "allow"), NULL);
  assert_true(strlen(wsv_hs_server_reason(hs)) > 0);
}

struct h2_case {
  const struct fld *base; /* NULL: h2_base */
  struct fld add[10];     /* after the base, ended by n == NULL */
  int result;
  int status;
  int err;
  const char *reason; /* the reason must contain this (NULL: no check) */
};

/* Run one case on a new object with cfg (NULL: defaults). */
static void h2_run(const struct wsv_hs_server_config *cfg,
                   const struct h2_case *c) {
  struct wsv_hs_server *hs;
  struct flist l;
  int rc;
  fl_make(&l, c->base != NULL ? c->base : h2_base, c->add);
  assert_int_equal(wsv_hs_server_new(&hs, cfg, NULL), 0);
  rc = wsv_hs_server_parse_h2(hs, l.h, l.n);
  if (rc != c->result || wsv_hs_server_error(hs) != c->err)
    fail_msg("case [%s=%s]: rc %d err %s reason [%s]",
             c->add[0].n ? c->add[0].n : "-", c->add[0].v ? c->add[0].v : "-",
             rc, wsv_err_name(wsv_hs_server_error(hs)),
             wsv_hs_server_reason(hs));
  assert_int_equal(wsv_hs_server_status(hs), c->status);
  if (c->reason != NULL && strstr(wsv_hs_server_reason(hs), c->reason) == NULL)
    fail_msg("reason [%s] lacks [%s]", wsv_hs_server_reason(hs), c->reason);
  if (rc == WSV_HS_REJECT)
    h2_check_reject(hs, cfg != NULL && cfg->versions == WSV_VERSIONS_ALL
                            ? "13, 8, 7"
                            : "13");
  if (rc == WSV_HS_ACCEPT) {
    struct wsv_header f[16];
    size_t n = h2_shape(hs, f);
    assert_int_equal(wsv_hs_server_close_after(hs), 0);
    assert_str(ans_field(f, n, "sec-websocket-version"), NULL);
    assert_int_equal(wsv_hs_server_error(hs), 0);
  }
  if (rc == WSV_HS_PLAIN_HTTP) {
    assert_int_equal(wsv_hs_server_response_h2(hs, NULL, 0), 0);
    assert_int_equal(wsv_hs_server_close_after(hs), 0);
  }
  /* the same list on a reset object gives the same verdict */
  wsv_hs_server_reset(hs);
  assert_int_equal(wsv_hs_server_is_h2(hs), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), rc);
  wsv_hs_server_free(hs);
  fl_free(&l);
}

static void h2_run_all(const struct wsv_hs_server_config *cfg,
                       const struct h2_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++)
    h2_run(cfg, &cases[i]);
}

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))
#define OK_ACCEPT WSV_HS_ACCEPT, 200, 0
#define SYNTAX WSV_HS_REJECT, 400, WSV_ERR_HTTP_SYNTAX

static int hook_chat(struct wsv_hs_server *hs, void *user) {
  struct wsv_str v;
  (void)user;
  assert_int_equal(wsv_hs_server_is_h2(hs), 1);
  assert_str(wsv_hs_server_method(hs), "CONNECT");
  assert_str(wsv_hs_server_target(hs), "/chat");
  assert_str(wsv_hs_server_path(hs), "/chat");
  assert_int_equal(wsv_hs_server_header(hs, "Host", &v), 1);
  assert_str(v, "server.example.com");
  assert_int_equal(wsv_hs_server_select_subprotocol(hs, "superchat"), 0);
  return 0;
}

/* RFC 8441 §5.1's example, word for word: accepted with :status 200, the
 * subprotocol the hook chose, permessage-deflate agreed; the views. */
static void test_server_rfc_example(void **state) {
  static const struct fld req[] = {
      {":method", "CONNECT", 0},
      {":protocol", "websocket", 0},
      {":scheme", "https", 0},
      {":path", "/chat", 0},
      {":authority", "server.example.com", 0},
      {"sec-websocket-protocol", "chat, superchat", 0},
      {"sec-websocket-extensions", "permessage-deflate", 0},
      {"sec-websocket-version", "13", 0},
      {"origin", "http://www.example.com", 0},
      {NULL, NULL, 0}};
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  struct wsv_header f[16];
  struct wsv_pmd_params pmd;
  struct flist l;
  size_t n, pos = 0;
  struct wsv_str e;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  cfg.accept = hook_chat;
  cfg.pmd_policy = WSV_PMD_ON;
  fl_make(&l, req, NULL);
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_int_equal(wsv_hs_server_status(hs), 200);
  assert_int_equal(wsv_hs_server_version(hs), 13);
  assert_str(wsv_hs_server_origin(hs), "http://www.example.com");
  assert_str(wsv_hs_server_subprotocol(hs), "superchat");
  assert_str(wsv_hs_server_query(hs), NULL);
  assert_int_equal(wsv_hs_server_pmd(hs, &pmd), 1);
  assert_int_equal(pmd.enabled, 1);
  /* the regular fields only, in order, as views of the caller's bytes */
  assert_non_null(wsv_hs_server_headers(hs, &n));
  assert_int_equal(n, 4);
  assert_ptr_equal(wsv_hs_server_headers(hs, &n)[0].value.ptr,
                   l.h[5].value.ptr);
  assert_int_equal(wsv_hs_server_header(hs, ":path", NULL), 0);
  assert_int_equal(
      wsv_hs_server_list_next(hs, "Sec-WebSocket-Protocol", &pos, &e), 1);
  assert_str(e, "chat");
  n = h2_shape(hs, f);
  assert_int_equal(n, 2);
  assert_str(f[0].name, "sec-websocket-protocol");
  assert_str(f[0].value, "superchat");
  assert_str(f[1].name, "sec-websocket-extensions");
  assert_str(f[1].value, "permessage-deflate");
  assert_int_equal(wsv_hs_server_close_after(hs), 0);
  assert_string_equal(wsv_hs_server_reason(hs), "");
  /* fewer slots than fields: the count, and only cap written */
  memset(f, 0, sizeof f);
  assert_int_equal(wsv_hs_server_response_h2(hs, f, 1), 2);
  assert_str(f[0].name, "sec-websocket-protocol");
  assert_null(f[1].name.ptr);
  wsv_hs_server_free(hs);
  fl_free(&l);
}

/* RFC 9113 §8.2.1, §8.2.2, §8.3: each field rule alone. */
static void test_server_field_syntax(void **state) {
  static const struct fld pseudo_late[] = {{":method", "CONNECT", 0},
                                           {":protocol", "websocket", 0},
                                           {":scheme", "https", 0},
                                           {":authority", "example.com", 0},
                                           {"sec-websocket-version", "13", 0},
                                           {":path", "/chat", 0},
                                           {NULL, NULL, 0}};
  static const struct h2_case cases[] = {
      /* names */
      {NULL, {{"Sec-WebSocket-Protocol", "chat", 0}}, SYNTAX, "upper case"},
      {NULL, {{"x-Token", "1", 0}}, SYNTAX, "\"x-Token\""},
      {NULL, {{"a b", "1", 0}}, SYNTAX, "not a token"},
      {NULL, {{"a@b", "1", 0}}, SYNTAX, "not a token"},
      {NULL, {{"", "1", 0}}, SYNTAX, "not a token"},
      {NULL, {{"x\xc3\xa9", "1", 0}}, SYNTAX, "not a token"},
      /* values */
      {NULL, {{"x-a", "a\0b", 3}}, SYNTAX, "control byte"},
      {NULL, {{"x-a", "a\rb", 0}}, SYNTAX, "control byte"},
      {NULL, {{"x-a", "a\nb", 0}}, SYNTAX, "control byte"},
      {NULL,
       {{"x-a",
         "a\x01"
         "b",
         0}},
       SYNTAX,
       "control byte"},
      {NULL, {{"x-a", "a\x7f", 0}}, SYNTAX, "control byte"},
      {NULL, {{"x-a", " a", 0}}, SYNTAX, "starts or ends"},
      {NULL, {{"x-a", "a\t", 0}}, SYNTAX, "starts or ends"},
      {NULL, {{"x-a", "a b\tc \xff", 0}}, OK_ACCEPT, NULL},
      {NULL, {{"x-a", "", 0}}, OK_ACCEPT, NULL},
      /* pseudo-headers: unknown, misplaced, repeated, bad values */
      {h2_pseudo, {{":status", "200", 0}}, SYNTAX, "unknown pseudo-header"},
      {NULL, {{":foo", "1", 0}}, SYNTAX, "after a regular field"},
      {pseudo_late, {{NULL, NULL, 0}}, SYNTAX, "after a regular field"},
      {NULL, {{":Method", "CONNECT", 0}}, SYNTAX, "after a regular field"},
      {h2_pseudo,
       {{":method", "CONNECT", 0}},
       SYNTAX,
       "\":method\" is repeated"},
      {h2_pseudo, {{":protocol", "websocket", 0}}, SYNTAX, "repeated"},
      {h2_pseudo, {{":scheme", "https", 0}}, SYNTAX, "repeated"},
      {h2_pseudo, {{":path", "/chat", 0}}, SYNTAX, "repeated"},
      {h2_pseudo, {{":authority", "example.com", 0}}, SYNTAX, "repeated"},
      {h2_pseudo, {{":foo", "1", 0}}, SYNTAX, "unknown pseudo-header"},
      {h2_pseudo, {{":Path", "/", 0}}, SYNTAX, "unknown pseudo-header"},
      /* connection-specific fields (RFC 9113 §8.2.2) */
      {NULL, {{"connection", "Upgrade", 0}}, SYNTAX, "connection-specific"},
      {NULL, {{"keep-alive", "5", 0}}, SYNTAX, "connection-specific"},
      {NULL, {{"proxy-connection", "x", 0}}, SYNTAX, "connection-specific"},
      {NULL, {{"transfer-encoding", "chunked", 0}}, SYNTAX, "connection-spec"},
      {NULL, {{"upgrade", "websocket", 0}}, SYNTAX, "connection-specific"},
      {NULL, {{"te", "gzip", 0}}, SYNTAX, "not \"trailers\""},
      {NULL, {{"te", "trailers, gzip", 0}}, SYNTAX, "not \"trailers\""},
      {NULL, {{"te", "trailers", 0}}, OK_ACCEPT, NULL},
      {NULL, {{"te", "Trailers", 0}}, OK_ACCEPT, NULL},
      /* the first failure decides, in the order received */
      {NULL, {{"x-a", " a", 0}, {"Bad", "b", 0}}, SYNTAX, "value of \"x-a\""},
  };
  static const struct fld bad_method[] = {{":method", "CON NECT", 0},
                                          {NULL, NULL, 0}};
  static const struct fld bad_path[] = {{":path", "/a b", 0}, {NULL, NULL, 0}};
  static const struct fld utf8_path[] = {{":path", "/\xc3\xa9", 0},
                                         {NULL, NULL, 0}};
  struct h2_case c;
  struct wsv_hs_server *hs;
  struct flist l;
  (void)state;
  h2_run_all(NULL, cases, NCASES(cases));
  /* :method not a token, :path not printable ASCII */
  memset(&c, 0, sizeof c);
  c.base = bad_method;
  c.result = WSV_HS_REJECT;
  c.status = 400;
  c.err = WSV_ERR_HTTP_SYNTAX;
  c.reason = "is not a token";
  h2_run(NULL, &c);
  c.base = bad_path;
  c.reason = "not printable ASCII";
  h2_run(NULL, &c);
  c.base = utf8_path;
  h2_run(NULL, &c);
  /* a syntax rejection leaves no views (as HTTP/1.1's) */
  fl_make(&l, h2_base, cases[0].add);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_REJECT);
  assert_str(wsv_hs_server_method(hs), NULL);
  assert_int_equal(wsv_hs_server_header(hs, "host", NULL), 0);
  wsv_hs_server_free(hs);
  fl_free(&l);
}

/* 431: more than max_headers regular fields, or the RFC 9113 §6.5.2
 * size (name + value + 32 per field) over max_head_bytes. */
static void test_server_limits(void **state) {
  static const struct h2_case three = {
      NULL, {{"x-a", "1", 0}, {"x-b", "2", 0}}, OK_ACCEPT, NULL};
  static const struct h2_case four = {
      NULL,
      {{"x-a", "1", 0}, {"x-b", "2", 0}, {"x-c", "3", 0}},
      WSV_HS_REJECT,
      431,
      WSV_ERR_HTTP_TOO_LARGE,
      "more than 3 header fields"};
  static const struct h2_case syntax_first = {
      NULL,
      {{"x-a", "1", 0}, {"x-b", "2", 0}, {"X-C", "3", 0}},
      SYNTAX,
      "upper case"};
  struct wsv_hs_server_config cfg;
  struct h2_case big;
  size_t total = 0;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  cfg.max_headers = 3; /* the version and two more */
  h2_run(&cfg, &three);
  h2_run(&cfg, &four);
  h2_run(&cfg, &syntax_first);
  /* the size: exactly at the limit passes, one byte over is refused */
  for (const struct fld *f = h2_base; f->n != NULL; f++)
    total += strlen(f->n) + strlen(f->v) + 32;
  total += strlen("x-pad") + strlen("0123456789") + 32;
  memset(&big, 0, sizeof big);
  big.add[0].n = "x-pad";
  big.add[0].v = "0123456789";
  big.result = WSV_HS_ACCEPT;
  big.status = 200;
  wsv_hs_server_config_init(&cfg);
  cfg.max_head_bytes = total;
  h2_run(&cfg, &big);
  cfg.max_head_bytes = total - 1;
  big.result = WSV_HS_REJECT;
  big.status = 431;
  big.err = WSV_ERR_HTTP_TOO_LARGE;
  big.reason = "RFC 9113 6.5.2";
  h2_run(&cfg, &big);
}

/* A request row: :method (NULL: none), :protocol, :scheme, :path and
 * :authority (NULL: absent), sec-websocket-version 13 when the method is
 * CONNECT, then `more`; and what the server must answer. */
struct row {
  const char *method, *protocol, *scheme, *path, *authority;
  struct fld more[3];
  int result, status, err;
  const char *reason;
};

static void row_run(const struct wsv_hs_server_config *cfg,
                    const struct row *r) {
  struct h2_case c;
  struct fld *f = c.add;
  memset(&c, 0, sizeof c);
  c.base = (const struct fld[]){{NULL, NULL, 0}};
  if (r->method != NULL)
    *f++ = (struct fld){":method", r->method, 0};
  if (r->protocol != NULL)
    *f++ = (struct fld){":protocol", r->protocol, 0};
  if (r->scheme != NULL)
    *f++ = (struct fld){":scheme", r->scheme, 0};
  if (r->path != NULL)
    *f++ = (struct fld){":path", r->path, 0};
  if (r->authority != NULL)
    *f++ = (struct fld){":authority", r->authority, 0};
  if (r->method != NULL && strcmp(r->method, "CONNECT") == 0)
    *f++ = (struct fld){"sec-websocket-version", "13", 0};
  for (size_t i = 0; i < 3 && r->more[i].n != NULL; i++)
    *f++ = r->more[i];
  c.result = r->result;
  c.status = r->status;
  c.err = r->err;
  c.reason = r->reason;
  h2_run(cfg, &c);
}

/* clang-format off */
#define NOMORE {{NULL, NULL, 0}}
/* clang-format on */
#define R400(e) WSV_HS_REJECT, 400, e

/* Requests other than CONNECT: plain HTTP once well-formed. */
static void test_server_plain(void **state) {
  static const struct fld options[] = {{":method", "OPTIONS", 0},
                                       {":scheme", "https", 0},
                                       {":path", "*", 0},
                                       {":authority", "a", 0},
                                       {NULL, NULL, 0}};
  static const struct fld accept_te[] = {
      {"accept", "*/*", 0}, {"te", "trailers", 0}, {NULL, NULL, 0}};
#define PLAIN WSV_HS_PLAIN_HTTP, 0, WSV_ERR_HS_NOT_UPGRADE
#define GET(scheme, path, auth) "GET", NULL, scheme, path, auth
#define POST "POST", NULL, "http", "/f", "a"
  /* clang-format off */
  static const struct row rows[] = {
      {GET("https", "/i?a=b", "example.com"), NOMORE, PLAIN, NULL},
      {GET("https", "/", "a"), {{"accept", "*/*", 0}, {"te", "trailers", 0}},
       PLAIN, NULL},
      {"OPTIONS", NULL, "https", "*", "a", NOMORE, PLAIN, NULL},
      {"HEAD", NULL, "http", "/", "a", NOMORE, PLAIN, NULL},
      {NULL, NULL, "https", "/", "a", NOMORE, SYNTAX, "no :method"},
      {GET(NULL, "/", "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "no :scheme"},
      {GET("https", NULL, "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "no :path"},
      {GET("https", "", "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "empty"},
      /* host and :authority */
      {GET("https", "/x", NULL), {{"host", "b.example:8080", 0}}, PLAIN, NULL},
      {GET("https", "/x", NULL), NOMORE, R400(WSV_ERR_HS_HOST), "neither"},
      {GET("https", "/x", NULL), {{"host", "a b", 0}}, R400(WSV_ERR_HS_HOST),
       "host \"a b\""},
      {GET("https", "/x", NULL), {{"host", "a:", 0}}, R400(WSV_ERR_HS_HOST),
       "host[:port]"},
      {GET("https", "/x", NULL), {{"host", "a", 0}, {"host", "a", 0}},
       R400(WSV_ERR_HS_HOST), "repeated"},
      {GET("https", "/", "a b"), NOMORE, R400(WSV_ERR_HS_HOST),
       ":authority \"a b\""},
      {GET("https", "/", " a"), NOMORE, SYNTAX, "starts or ends"},
      {GET("https", "/", "example.com"), {{"host", "example.com", 0}}, PLAIN,
       NULL},
      {GET("https", "/", "example.com"), {{"host", "EXAMPLE.com", 0}}, PLAIN,
       NULL},
      {GET("https", "/", "EXAMPLE.COM"), {{"host", "example.com", 0}}, PLAIN,
       NULL},
      {GET("https", "/", "example.com"), {{"host", "exbmple.com", 0}},
       R400(WSV_ERR_HS_HOST), "differs from :authority"},
      {GET("https", "/", "example.com"), {{"host", "other.example", 0}},
       R400(WSV_ERR_HS_HOST), "differs from :authority"},
      {GET("https", "/", "example.com"), {{"host", "example.com:80", 0}},
       R400(WSV_ERR_HS_HOST), "differs"},
      /* :protocol needs CONNECT */
      {"GET", "websocket", "https", "/", "a", NOMORE, R400(WSV_ERR_HS_METHOD),
       "needs the CONNECT method"},
      /* the body rule of HTTP/1.1 */
      {POST, {{"content-length", "0", 0}}, PLAIN, NULL},
      {POST, {{"content-length", "00", 0}}, PLAIN, NULL},
      {POST, {{"content-length", "5", 0}}, R400(WSV_ERR_HS_BODY),
       "reads no request body"},
      {POST, {{"content-length", "5, 5", 0}}, R400(WSV_ERR_HS_BODY), "list"},
      {POST, {{"content-length", "-1", 0}}, R400(WSV_ERR_HS_BODY), "decimal"},
      {POST, {{"content-length", "0", 0}, {"content-length", "0", 0}},
       R400(WSV_ERR_HS_BODY), "repeated"},
  };
  /* clang-format on */
  static const struct row body5 = {POST,
                                   {{"content-length", "5", 0}},
                                   R400(WSV_ERR_HS_BODY),
                                   "no request body"};
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  struct flist l;
  struct wsv_str v;
  size_t n;
  (void)state;
  for (size_t i = 0; i < NCASES(rows); i++)
    row_run(NULL, &rows[i]);
  /* the views of a plain GET, as for HTTP/1.1 */
  fl_make(&l, h2_get, accept_te);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_PLAIN_HTTP);
  assert_int_equal(wsv_hs_server_status(hs), 0);
  assert_str(wsv_hs_server_method(hs), "GET");
  assert_str(wsv_hs_server_target(hs), "/index.html?a=b");
  assert_str(wsv_hs_server_path(hs), "/index.html");
  assert_str(wsv_hs_server_query(hs), "a=b");
  assert_int_equal(wsv_hs_server_header(hs, "HOST", &v), 1);
  assert_str(v, "example.com");
  assert_int_equal(wsv_hs_server_header(hs, "Accept", &v), 1);
  assert_str(v, "*/*");
  assert_int_equal(wsv_hs_server_header(hs, "x-none", &v), 0);
  assert_str(v, NULL);
  (void)wsv_hs_server_headers(hs, &n);
  assert_int_equal(n, 2);
  assert_int_equal(wsv_hs_server_version(hs), -1);
  wsv_hs_server_free(hs);
  fl_free(&l);
  /* a host field wins over :authority in _header (they are equal) and
   * stands in for it when :authority is absent */
  fl_make(&l, h2_get,
          (const struct fld[]){{"host", "EXAMPLE.com", 0}, {NULL, NULL, 0}});
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_PLAIN_HTTP);
  assert_int_equal(wsv_hs_server_header(hs, "host", &v), 1);
  assert_str(v, "EXAMPLE.com");
  wsv_hs_server_free(hs);
  fl_free(&l);
  /* OPTIONS *: no path view */
  fl_make(&l, options, NULL);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_PLAIN_HTTP);
  assert_str(wsv_hs_server_target(hs), "*");
  assert_str(wsv_hs_server_path(hs), NULL);
  wsv_hs_server_free(hs);
  fl_free(&l);
  /* plain_http = WSV_HS_PLAIN_426: 400 over HTTP/2, asking for an
   * extended CONNECT; still 400 for a broken request first */
  wsv_hs_server_config_init(&cfg);
  cfg.plain_http = WSV_HS_PLAIN_426;
  h2_run(&cfg, &(struct h2_case){h2_get,
                                 {{NULL, NULL, 0}},
                                 R400(WSV_ERR_HS_NOT_UPGRADE),
                                 "extended CONNECT with :protocol websocket"});
  row_run(&cfg, &body5);
}

/* CONNECT: a tunnel is refused, :protocol must be websocket, then the
 * target, the authority and no content-length. */
static void test_server_connect(void **state) {
  static const struct fld tunnel[] = {{":method", "CONNECT", 0},
                                      {":authority", "example.com:443", 0},
                                      {NULL, NULL, 0}};
#define WS "CONNECT"
#define WSS(path, auth) WS, "websocket", "https", path, auth
  /* clang-format off */
  static const struct row rows[] = {
      {WS, NULL, NULL, NULL, "a", NOMORE, R400(WSV_ERR_HS_METHOD),
       ":protocol websocket"},
      {WS, "WebSocket", "HTTPS", "/", "[::1]:8443", NOMORE, OK_ACCEPT, NULL},
      {WS, "websocket2", "https", "/", "a", NOMORE, R400(WSV_ERR_HS_UPGRADE),
       ":protocol \"websocket2\" is not websocket"},
      {WS, "h2c", NULL, NULL, NULL, NOMORE, R400(WSV_ERR_HS_UPGRADE),
       "not websocket"},
      {WS, "", NULL, NULL, NULL, NOMORE, R400(WSV_ERR_HS_UPGRADE),
       "not websocket"},
      {WS, "websocket", NULL, "/", "a", NOMORE, R400(WSV_ERR_HS_TARGET),
       "no :scheme"},
      {WS, "websocket", "ftp", "/", "a", NOMORE, R400(WSV_ERR_HS_TARGET),
       "not http or https"},
      {WS, "websocket", "http", "/", "a", NOMORE, OK_ACCEPT, NULL},
      {WSS(NULL, "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "no :path"},
      {WSS("chat", "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "origin-form"},
      {WSS("/chat#x", "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "no '#'"},
      {WSS("*", "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "not a path"},
      {WSS("", "a"), NOMORE, R400(WSV_ERR_HS_TARGET), "not a path"},
      {WSS("/", NULL), {{"host", "a", 0}}, R400(WSV_ERR_HS_HOST),
       "no :authority"},
      {WSS("/", "user@a"), NOMORE, R400(WSV_ERR_HS_HOST), ":authority"},
      {WSS("/", "a:65536"), NOMORE, R400(WSV_ERR_HS_HOST), "host[:port]"},
      {WSS("/", "a:1"), {{"host", "A:1", 0}}, OK_ACCEPT, NULL},
      {WSS("/", "a:1"), {{"host", "a", 0}}, R400(WSV_ERR_HS_HOST), "differs"},
      {WSS("/", "a"), {{"host", "a", 0}, {"host", "a", 0}},
       R400(WSV_ERR_HS_HOST), "repeated"},
      {WSS("/", "a"), {{"content-length", "0", 0}}, R400(WSV_ERR_HS_BODY),
       "content-length \"0\""},
      {WSS("/", "a"), {{"content-length", "12", 0}}, R400(WSV_ERR_HS_BODY),
       "the WebSocket"},
      /* no Key/Accept over HTTP/2: a key, even a broken one, is ignored */
      {WSS("/", "a"), {{"sec-websocket-key", "not b64", 0}}, OK_ACCEPT, NULL},
  };
  /* clang-format on */
  struct h2_case c;
  struct wsv_hs_server *hs;
  struct flist l;
  (void)state;
  for (size_t i = 0; i < NCASES(rows); i++)
    row_run(NULL, &rows[i]);
  /* a CONNECT tunnel as RFC 9113 §8.5 has it: refused, allow: CONNECT */
  memset(&c, 0, sizeof c);
  c.base = tunnel;
  c.result = WSV_HS_REJECT;
  c.status = 400;
  c.err = WSV_ERR_HS_METHOD;
  c.reason = "RFC 8441 4";
  h2_run(NULL, &c);
  /* the views of an accepted request without a hook */
  fl_make(&l, h2_base, NULL);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_str(wsv_hs_server_path(hs), "/chat");
  assert_str(wsv_hs_server_query(hs), "room=1");
  assert_int_equal(wsv_hs_server_header(hs, "host", NULL), 1);
  assert_int_equal(wsv_hs_server_response_h2(hs, NULL, 0), 0);
  wsv_hs_server_free(hs);
  fl_free(&l);
}

/* A version row: the sec-websocket-version value (NULL: none) after
 * h2_pseudo, and the answer. */
struct vrow {
  const char *version;
  int result, status, err;
  const char *reason;
};

static void vrow_run(const struct wsv_hs_server_config *cfg,
                     const struct vrow *rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    struct h2_case c;
    memset(&c, 0, sizeof c);
    c.base = h2_pseudo;
    if (rows[i].version != NULL)
      c.add[0] = (struct fld){"sec-websocket-version", rows[i].version, 0};
    c.result = rows[i].result;
    c.status = rows[i].status;
    c.err = rows[i].err;
    c.reason = rows[i].reason;
    h2_run(cfg, &c);
  }
}

/* The version rows, as on HTTP/1.1 but never a 426. */
static void test_server_versions(void **state) {
#define UNSUP R400(WSV_ERR_HS_VERSION_UNSUPPORTED)
#define BADV R400(WSV_ERR_HS_VERSION)
  static const struct vrow only13[] = {
      {"13", OK_ACCEPT, NULL},
      {"8", UNSUP, "unsupported WebSocket version 8; this server speaks 13"},
      {"99", UNSUP, "version 99"},
      {"255", UNSUP, "version 255"},
      {NULL, BADV, "missing"},
      {"013", BADV, "leading zero"},
      {"13, 8", BADV, "is a list"},
      {"256", BADV, "above 255"},
      {"", BADV, "empty"},
      {"+13", BADV, "sign"},
  };
  static const struct vrow all[] = {
      {"13", OK_ACCEPT, NULL},
      {"8", OK_ACCEPT, NULL},
      {"7", OK_ACCEPT, NULL},
      {"99", UNSUP, "speaks 13, 8, 7"},
  };
  static const struct h2_case repeated = {
      h2_pseudo,
      {{"sec-websocket-version", "13", 0}, {"sec-websocket-version", "13", 0}},
      BADV,
      "repeated"};
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  struct flist l;
  (void)state;
  wsv_hs_server_config_init(&cfg); /* unsupported_status 426: still 400 */
  assert_int_equal(cfg.unsupported_status, 426);
  vrow_run(&cfg, only13, NCASES(only13));
  h2_run(&cfg, &repeated);
  cfg.unsupported_status = 400;
  vrow_run(&cfg, only13, NCASES(only13));
  wsv_hs_server_config_init(&cfg);
  cfg.versions = WSV_VERSIONS_ALL;
  vrow_run(&cfg, all, NCASES(all));
  /* version 8: the origin comes from sec-websocket-origin */
  fl_make(&l, h2_pseudo,
          (const struct fld[]){{"sec-websocket-version", "8", 0},
                               {"origin", "http://a.example", 0},
                               {"sec-websocket-origin", "http://b.example", 0},
                               {NULL, NULL, 0}});
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_int_equal(wsv_hs_server_version(hs), 8);
  assert_str(wsv_hs_server_origin(hs), "http://b.example");
  wsv_hs_server_free(hs);
  fl_free(&l);
}

struct hook_ctl {
  const char *select; /* a subprotocol to choose, or NULL */
  int select_rc;      /* what choosing it must return */
  int ret;            /* what the hook returns */
  const char *reason; /* wsv_hs_server_set_reason, or NULL */
  int calls;
};

static int hook_ctl(struct wsv_hs_server *hs, void *user) {
  struct hook_ctl *h = user;
  struct wsv_header f[2];
  struct wsv_header one = {{"x", 1}, {"y", 1}};
  h->calls++;
  assert_int_equal(wsv_hs_server_is_h2(hs), 1);
  assert_int_equal(wsv_hs_server_parse_h2(hs, &one, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_response_h2(hs, f, 2), 0);
  if (h->select != NULL)
    assert_int_equal(wsv_hs_server_select_subprotocol(hs, h->select),
                     h->select_rc);
  if (h->reason != NULL)
    assert_int_equal(wsv_hs_server_set_reason(hs, h->reason), 0);
  return h->ret;
}

/* Origin and subprotocol rules, and the accept hook's verdicts. */
static void test_server_fields_and_hook(void **state) {
#define R400(e) WSV_HS_REJECT, 400, e
  static const struct h2_case rules[] = {
      {NULL,
       {{"origin", "a", 0}, {"origin", "b", 0}},
       R400(WSV_ERR_HS_HEADER),
       "Origin header is repeated"},
      {NULL,
       {{"sec-websocket-protocol", "a, , b", 0}},
       R400(WSV_ERR_HS_HEADER),
       "empty element"},
      {NULL,
       {{"sec-websocket-protocol", "a, b", 0},
        {"sec-websocket-protocol", "a", 0}},
       R400(WSV_ERR_HS_HEADER),
       "offers \"a\" twice"},
      {NULL,
       {{"sec-websocket-protocol", "a b", 0}},
       R400(WSV_ERR_HS_HEADER),
       "not allowed in a token"},
      {NULL,
       {{"sec-websocket-protocol", "a, b", 0}, {"origin", "x", 0}},
       OK_ACCEPT,
       NULL},
  };
  static const struct h2_case offer = {
      NULL,
      {{"sec-websocket-protocol", "chat, superchat", 0}},
      OK_ACCEPT,
      NULL};
  struct wsv_hs_server_config cfg;
  struct hook_ctl h;
  struct wsv_hs_server *hs;
  struct wsv_header f[16];
  struct flist l;
  size_t n;
  (void)state;
  h2_run_all(NULL, rules, NCASES(rules));
  wsv_hs_server_config_init(&cfg);
  cfg.accept = hook_ctl;
  cfg.accept_user = &h;
  /* the hook chooses an offered subprotocol: it is in the 200 */
  memset(&h, 0, sizeof h);
  h.select = "superchat";
  fl_make(&l, h2_base, offer.add);
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  n = h2_shape(hs, f);
  assert_int_equal(n, 1);
  assert_str(ans_field(f, n, "sec-websocket-protocol"), "superchat");
  /* one not offered is refused to the hook, nothing chosen */
  wsv_hs_server_reset(hs);
  h.select = "other";
  h.select_rc = WSV_ERR_INVAL;
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_int_equal(h2_shape(hs, f), 0);
  /* refusals: 403 by default, the hook's status and reason */
  wsv_hs_server_reset(hs);
  memset(&h, 0, sizeof h);
  h.ret = 1;
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_status(hs), 403);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_REFUSED);
  assert_string_equal(wsv_hs_server_reason(hs),
                      "the server refused this WebSocket request");
  h2_check_reject(hs, "13");
  wsv_hs_server_reset(hs);
  h.ret = 401;
  h.reason = "log in first";
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_status(hs), 401);
  assert_string_equal(wsv_hs_server_reason(hs), "log in first");
  h2_check_reject(hs, "13");
  wsv_hs_server_reset(hs);
  h.ret = 405;
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_REJECT);
  h2_check_reject(hs, "13"); /* allow: CONNECT */
  /* a hook's 426 means nothing without Upgrade: 400 over HTTP/2 */
  wsv_hs_server_reset(hs);
  h.ret = 426;
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_status(hs), 400);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HS_REFUSED);
  h2_check_reject(hs, "13");
  assert_int_equal(h.calls, 4);
  /* a request refused by a rule never reaches the hook */
  wsv_hs_server_free(hs);
  fl_free(&l);
  h.calls = 0;
  h2_run(&cfg, &rules[0]);
  assert_int_equal(h.calls, 0);
}

/* permessage-deflate as on HTTP/1.1 (pmd_policy). */
static void test_server_pmd(void **state) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  struct wsv_pmd_params p;
  struct wsv_header f[16];
  struct flist l;
  size_t n;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  cfg.pmd_policy = WSV_PMD_ON;
  fl_make(&l, h2_base,
          (const struct fld[]){{"sec-websocket-extensions",
                                "permessage-deflate; foo, "
                                "permessage-deflate; "
                                "client_max_window_bits",
                                0},
                               {NULL, NULL, 0}});
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  n = h2_shape(hs, f);
  assert_int_equal(n, 1);
  /* the second offer: the first has an unknown parameter; ON limits the
   * client's window to 13 bits since the offer has the parameter */
  assert_str(ans_field(f, n, "sec-websocket-extensions"),
             "permessage-deflate; client_max_window_bits=13");
  assert_int_equal(wsv_hs_server_pmd(hs, &p), 1);
  assert_int_equal(p.enabled, 1);
  assert_int_equal(p.client_max_window_bits, 13);
  wsv_hs_server_free(hs);
  /* declined: policy off */
  cfg.pmd_policy = WSV_PMD_OFF;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_int_equal(h2_shape(hs, f), 0);
  assert_int_equal(wsv_hs_server_pmd(hs, &p), 0);
  wsv_hs_server_free(hs);
  fl_free(&l);
  /* declined: only a bad offer */
  cfg.pmd_policy = WSV_PMD_ON;
  fl_make(&l, h2_base,
          (const struct fld[]){
              {"sec-websocket-extensions", "permessage-deflate; x=1", 0},
              {NULL, NULL, 0}});
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_int_equal(h2_shape(hs, f), 0);
  assert_int_equal(wsv_hs_server_pmd(hs, &p), 0);
  wsv_hs_server_free(hs);
  fl_free(&l);
}

struct counting {
  int allocs, frees;
};

static void *c_malloc(size_t n, void *u) {
  ((struct counting *)u)->allocs++;
  return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *u) {
  (void)u;
  return realloc(p, n);
}
static void c_free(void *p, void *u) {
  if (p != NULL)
    ((struct counting *)u)->frees++;
  free(p);
}

/* extra_headers: fields with lowered names in the 200, not in a refusal;
 * one allocation, none after wsv_hs_server_new, reset keeps them. */
static void test_server_extra_headers(void **state) {
  struct wsv_hs_server_config cfg;
  struct counting a = {0, 0};
  struct wsv_mem mem = {&a, c_malloc, c_realloc, c_free};
  struct wsv_hs_server *hs;
  struct wsv_header f[16];
  struct flist l;
  size_t n;
  (void)state;
  wsv_hs_server_config_init(&cfg);
  cfg.extra_headers = "X-Frame-Options: DENY\r\n"
                      "Set-Cookie:  id=1; Path=/ \t\r\n"
                      "X-Empty:\r\n";
  fl_make(&l, h2_base, NULL);
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, &mem), 0);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
    n = h2_shape(hs, f);
    assert_int_equal(n, 3);
    assert_str(f[0].name, "x-frame-options");
    assert_str(f[0].value, "DENY");
    assert_str(f[1].name, "set-cookie");
    assert_str(f[1].value, "id=1; Path=/");
    assert_str(f[2].name, "x-empty");
    assert_str(f[2].value, "");
    wsv_hs_server_reset(hs);
  }
  assert_int_equal(a.allocs, 1);
  /* the same object on HTTP/1.1 still writes the lines as given */
  {
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    char out[512];
    size_t len;
    assert_int_equal(wsv_hs_server_parse(hs, req, sizeof req - 1),
                     WSV_HS_ACCEPT);
    assert_int_equal(wsv_hs_server_is_h2(hs), 0);
    assert_int_equal(wsv_hs_server_status(hs), 101);
    assert_int_equal(wsv_hs_server_response_h2(hs, f, 16), 0);
    len = wsv_hs_server_response(hs, out, sizeof out - 1);
    out[len] = '\0';
    assert_non_null(strstr(out, "\r\nSet-Cookie:  id=1; Path=/ \t\r\n"));
    wsv_hs_server_reset(hs);
  }
  /* a refusal carries none of them */
  fl_free(&l);
  fl_make(&l, h2_pseudo, NULL);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_REJECT);
  n = h2_shape(hs, f);
  assert_int_equal(n, 2);
  assert_str(ans_field(f, n, "x-frame-options"), NULL);
  wsv_hs_server_free(hs);
  assert_int_equal(a.frees, 1);
  assert_int_equal(a.allocs, 1);
  fl_free(&l);
}

/* Arguments and states. */
static void test_server_api_edges(void **state) {
  struct wsv_hs_server *hs;
  struct wsv_header f[4], bad = {{NULL, 3}, {"x", 1}};
  struct flist l;
  (void)state;
  assert_int_equal(wsv_hs_server_parse_h2(NULL, NULL, 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_response_h2(NULL, f, 4), 0);
  assert_int_equal(wsv_hs_server_is_h2(NULL), 0);
  assert_int_equal(wsv_hs_server_new(&hs, NULL, NULL), 0);
  assert_int_equal(wsv_hs_server_parse_h2(hs, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_parse_h2(hs, &bad, 1), WSV_ERR_INVAL);
  bad.name.ptr = "x";
  bad.value.ptr = NULL;
  assert_int_equal(wsv_hs_server_parse_h2(hs, &bad, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_is_h2(hs), 0); /* unchanged */
  /* before a verdict: nothing */
  assert_int_equal(wsv_hs_server_response_h2(hs, f, 4), 0);
  /* an empty list: no :method */
  assert_int_equal(wsv_hs_server_parse_h2(hs, NULL, 0), WSV_HS_REJECT);
  assert_int_equal(wsv_hs_server_error(hs), WSV_ERR_HTTP_SYNTAX);
  /* a second call, of either parser, without reset */
  fl_make(&l, h2_base, NULL);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_server_parse(hs, "GET", 3), WSV_ERR_INVAL);
  wsv_hs_server_reset(hs);
  /* the setters: not before a verdict, as on HTTP/1.1 */
  assert_int_equal(wsv_hs_server_set_extensions(hs, bad.value), WSV_ERR_STATE);
  assert_int_equal(wsv_hs_server_select_subprotocol(hs, "x"), WSV_ERR_STATE);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_HS_ACCEPT);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_ERR_INVAL);
  /* after acceptance: the extensions may still be set (checked) */
  bad.value.len = 2;
  assert_int_equal(wsv_hs_server_set_extensions(hs, bad.value), WSV_ERR_INVAL);
  assert_int_equal(
      wsv_hs_server_set_extensions(hs, (struct wsv_str){"x-ext", 5}), 0);
  assert_int_equal(wsv_hs_server_response_h2(hs, f, 4), 1);
  assert_str(f[0].name, "sec-websocket-extensions");
  assert_str(f[0].value, "x-ext");
  assert_int_equal(wsv_hs_server_response_h2(hs, NULL, 4), 0);
  /* an HTTP/1.1 head under way: HTTP/2 refused */
  wsv_hs_server_reset(hs);
  assert_int_equal(wsv_hs_server_parse(hs, "GET / HT", 8), WSV_HS_INCOMPLETE);
  assert_int_equal(wsv_hs_server_parse_h2(hs, l.h, l.n), WSV_ERR_INVAL);
  wsv_hs_server_free(hs);
  fl_free(&l);
}

/* ---- the client -------------------------------------------------------- */

static int zero_random(void *user, uint8_t *buf, size_t len) {
  (void)user;
  memset(buf, 7, len);
  return 0;
}

static void client_cfg(struct wsv_hs_client_config *cfg) {
  wsv_hs_client_config_init(cfg);
  cfg->host = "example.com";
  cfg->path = "/chat?x=1";
  cfg->random = zero_random;
}

/* The request's fields, as "name=value\n" lines. */
static char *req_text(const struct wsv_hs_client *hs) {
  struct wsv_header f[32];
  int n = wsv_hs_client_request_h2(hs, NULL, 0);
  char *t = calloc(1, 4096);
  size_t at = 0;
  assert_true(n > 0 && n <= 32);
  assert_non_null(t);
  assert_int_equal(wsv_hs_client_request_h2(hs, f, 32), n);
  for (int i = 0; i < n; i++)
    at += (size_t)snprintf(t + at, 4096 - at, "%.*s=%.*s\n", (int)f[i].name.len,
                           f[i].name.ptr, (int)f[i].value.len, f[i].value.ptr);
  return t;
}

static void expect_req(const struct wsv_hs_client_config *cfg,
                       const char *want) {
  struct wsv_hs_client *hs;
  char *t;
  assert_int_equal(wsv_hs_client_new(&hs, cfg, NULL), 0);
  t = req_text(hs);
  if (strcmp(t, want) != 0)
    fail_msg("request:\n%s\nwant:\n%s", t, want);
  free(t);
  wsv_hs_client_free(hs);
}

#define PS(scheme, auth)                                                       \
  ":method=CONNECT\n:protocol=websocket\n:scheme=" scheme                      \
  "\n:path=/chat?x=1\n:authority=" auth "\n"

static void test_client_request(void **state) {
  static const char *subs[] = {"chat", "superchat"};
  struct wsv_header extra[] = {{{"X-Token", 7}, {"abc", 3}},
                               {{"Keep-Alive", 10}, {"5", 1}},
                               {{"TE", 2}, {"trailers", 8}},
                               {{"Cookie", 6}, {"a=b", 3}}};
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  struct wsv_header f[2];
  (void)state;
  /* ws and wss, default and other ports */
  client_cfg(&cfg);
  expect_req(&cfg, PS("http", "example.com") "sec-websocket-version=13\n");
  cfg.port = 80;
  expect_req(&cfg, PS("http", "example.com") "sec-websocket-version=13\n");
  cfg.port = 443;
  expect_req(&cfg, PS("http", "example.com:443") "sec-websocket-version=13\n");
  cfg.secure = 1;
  expect_req(&cfg, PS("https", "example.com") "sec-websocket-version=13\n");
  cfg.port = 8443;
  expect_req(&cfg,
             PS("https", "example.com:8443") "sec-websocket-version=13\n");
  cfg.port = 0;
  expect_req(&cfg, PS("https", "example.com") "sec-websocket-version=13\n");
  /* IPv6, bare or bracketed */
  cfg.host = "::1";
  cfg.port = 9000;
  expect_req(&cfg, PS("https", "[::1]:9000") "sec-websocket-version=13\n");
  cfg.host = "[2001:db8::1]";
  cfg.port = 443;
  expect_req(&cfg, PS("https", "[2001:db8::1]") "sec-websocket-version=13\n");
  /* origin, subprotocols, extensions, extra headers lowered and the
   * connection-specific ones left out */
  client_cfg(&cfg);
  cfg.origin = "http://www.example.com";
  cfg.subprotocols = subs;
  cfg.nsubprotocols = 2;
  cfg.extensions = "x-foo";
  cfg.pmd_offer = 1;
  cfg.headers = extra;
  cfg.nheaders = 4;
  expect_req(
      &cfg,
      PS("http",
         "example.com") "sec-websocket-version=13\n"
                        "origin=http://www.example.com\n"
                        "sec-websocket-protocol=chat, superchat\n"
                        "sec-websocket-extensions=x-foo, permessage-deflate; "
                        "client_max_window_bits\n"
                        "x-token=abc\ncookie=a=b\n");
  /* version 8 first: sec-websocket-origin */
  cfg.first_version = 8;
  cfg.nsubprotocols = 1;
  cfg.nheaders = 0;
  cfg.extensions = NULL;
  cfg.pmd_offer = 0;
  expect_req(
      &cfg,
      PS("http", "example.com") "sec-websocket-version=8\n"
                                "sec-websocket-origin=http://www.example.com\n"
                                "sec-websocket-protocol=chat\n");
  /* sizing, and the arguments */
  client_cfg(&cfg);
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), 0);
  memset(f, 0, sizeof f);
  assert_int_equal(wsv_hs_client_request_h2(hs, f, 2), 6);
  assert_str(f[1].value, "websocket");
  assert_int_equal(wsv_hs_client_request_h2(hs, NULL, 2), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_request_h2(NULL, f, 2), WSV_ERR_INVAL);
  wsv_hs_client_free(hs);
}

/* Judge the answer h[] (ended by n == NULL) with `status`. */
static int answer(struct wsv_hs_client *hs, int status, const struct fld *h) {
  struct flist l;
  int rc;
  fl_make(&l, NULL, h);
  rc = wsv_hs_client_parse_h2(hs, status, l.h, l.n);
  /* one call per answer: the same result again */
  assert_int_equal(wsv_hs_client_parse_h2(hs, status, l.h, l.n), rc);
  fl_free(&l);
  return rc;
}

static struct wsv_hs_client *client_new(int subs, int pmd) {
  static const char *names[] = {"chat", "superchat"};
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  client_cfg(&cfg);
  cfg.origin = "http://o.example";
  if (subs) {
    cfg.subprotocols = names;
    cfg.nsubprotocols = 2;
  }
  cfg.pmd_offer = pmd;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), 0);
  return hs;
}

static void expect_answer(int subs, int pmd, int status, const struct fld *h,
                          int want, const char *reason) {
  struct wsv_hs_client *hs = client_new(subs, pmd);
  int rc = answer(hs, status, h);
  if (rc != want)
    fail_msg("status %d: rc %d (%s), want %d", status, rc,
             wsv_hs_client_reason(hs), want);
  assert_int_equal(wsv_hs_client_status(hs), status);
  assert_int_equal(wsv_hs_client_head_len(hs), 0);
  if (reason != NULL && strstr(wsv_hs_client_reason(hs), reason) == NULL)
    fail_msg("reason [%s] lacks [%s]", wsv_hs_client_reason(hs), reason);
  wsv_hs_client_free(hs);
}

#define NOF ((const struct fld[]){{NULL, NULL, 0}})

static void test_client_answers(void **state) {
  struct wsv_hs_client *hs;
  struct wsv_pmd_params p;
  char *t;
  (void)state;
  /* 200 opens; the getters */
  hs = client_new(1, 1);
  assert_int_equal(
      answer(hs, 200,
             (const struct fld[]){
                 {":status", "200", 0},
                 {"sec-websocket-protocol", "superchat", 0},
                 {"sec-websocket-extensions", "permessage-deflate", 0},
                 {"server", "x", 0},
                 {NULL, NULL, 0}}),
      WSV_HSC_OPEN);
  assert_string_equal(wsv_hs_client_subprotocol(hs), "superchat");
  assert_string_equal(wsv_hs_client_extensions(hs), "permessage-deflate");
  assert_int_equal(wsv_hs_client_pmd(hs, &p), 1);
  assert_int_equal(wsv_hs_client_version(hs), 13);
  assert_int_equal(wsv_hs_client_status(hs), 200);
  assert_string_equal(wsv_hs_client_reason(hs), "");
  wsv_hs_client_free(hs);
  expect_answer(0, 0, 200, NOF, WSV_HSC_OPEN, NULL);
  /* a sec-websocket-version in a 200 is ignored, as in a 101 */
  expect_answer(
      0, 0, 200,
      (const struct fld[]){{"sec-websocket-version", "13", 0}, {NULL, NULL, 0}},
      WSV_HSC_OPEN, NULL);
  /* the 101's checks: subprotocol and extensions */
  expect_answer(1, 0, 200,
                (const struct fld[]){{"sec-websocket-protocol", "other", 0},
                                     {NULL, NULL, 0}},
                WSV_ERR_HS_SUBPROTOCOL, "which we did not offer");
  expect_answer(0, 0, 200,
                (const struct fld[]){{"sec-websocket-protocol", "chat", 0},
                                     {NULL, NULL, 0}},
                WSV_ERR_HS_SUBPROTOCOL, "we offered none");
  expect_answer(0, 1, 200,
                (const struct fld[]){{"sec-websocket-extensions", "x-zip", 0},
                                     {NULL, NULL, 0}},
                WSV_ERR_HS_EXTENSION, "did not offer");
  expect_answer(0, 1, 200,
                (const struct fld[]){{"sec-websocket-extensions",
                                      "permessage-deflate; bogus", 0},
                                     {NULL, NULL, 0}},
                WSV_ERR_HS_EXTENSION, NULL);
  /* only 200 opens */
  expect_answer(0, 0, 204, NOF, WSV_ERR_HS_STATUS, "RFC 8441 5");
  expect_answer(0, 0, 101, NOF, WSV_ERR_HS_STATUS, ":status 101");
  expect_answer(0, 0, 403, NOF, WSV_ERR_HS_STATUS,
                "server answered :status 403");
  expect_answer(0, 0, 400, NOF, WSV_ERR_HS_STATUS,
                ":status 400 without sec-websocket-version");
  expect_answer(0, 0, 426, NOF, WSV_ERR_HS_STATUS, "without");
  /* version lists */
  expect_answer(0, 0, 400,
                (const struct fld[]){{"sec-websocket-version", "13, 8", 0},
                                     {NULL, NULL, 0}},
                WSV_ERR_HS_STATUS, "speaks the version we sent (13)");
  expect_answer(
      0, 0, 400,
      (const struct fld[]){{"sec-websocket-version", "99", 0}, {NULL, NULL, 0}},
      WSV_ERR_HS_NO_COMMON_VERSION, "server speaks 99");
  /* 400 listing 8: retry, and the next request says 8 */
  hs = client_new(0, 0);
  assert_int_equal(
      answer(hs, 400,
             (const struct fld[]){{"sec-websocket-version", "8", 0},
                                  {"content-type", "text/plain", 0},
                                  {NULL, NULL, 0}}),
      WSV_HSC_RETRY);
  assert_int_equal(wsv_hs_client_retry_version(hs), 8);
  assert_string_equal(wsv_hs_client_reason(hs),
                      "server speaks 8; retrying with 8");
  assert_int_equal(wsv_hs_client_retry(hs), 0);
  assert_int_equal(wsv_hs_client_version(hs), 8);
  t = req_text(hs);
  assert_non_null(strstr(t, "\nsec-websocket-version=8\n"
                            "sec-websocket-origin=http://o.example\n"));
  free(t);
  assert_int_equal(wsv_hs_client_status(hs), 0);
  /* the retry opens with 200, or a second refusal ends it */
  assert_int_equal(answer(hs, 200, NOF), WSV_HSC_OPEN);
  assert_int_equal(wsv_hs_client_version(hs), 8);
  wsv_hs_client_free(hs);
  hs = client_new(0, 0);
  assert_int_equal(
      answer(hs, 426,
             (const struct fld[]){{"sec-websocket-version", "7", 0},
                                  {NULL, NULL, 0}}),
      WSV_HSC_RETRY);
  assert_int_equal(wsv_hs_client_retry(hs), 0);
  assert_int_equal(
      answer(hs, 400,
             (const struct fld[]){{"sec-websocket-version", "13", 0},
                                  {NULL, NULL, 0}}),
      WSV_ERR_HS_NO_COMMON_VERSION);
  wsv_hs_client_free(hs);
}

static void test_client_edges(void **state) {
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  struct wsv_header bad = {{"x", 1}, {NULL, 2}};
  struct fld many[6];
  (void)state;
  assert_int_equal(wsv_hs_client_parse_h2(NULL, 200, NULL, 0), WSV_ERR_INVAL);
  hs = client_new(0, 0);
  assert_int_equal(wsv_hs_client_parse_h2(hs, 200, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_parse_h2(hs, 200, &bad, 1), WSV_ERR_INVAL);
  bad.name.ptr = NULL;
  bad.value.ptr = "x";
  assert_int_equal(wsv_hs_client_parse_h2(hs, 200, &bad, 1), WSV_ERR_INVAL);
  /* an HTTP/1.1 response under way on this attempt */
  assert_int_equal(wsv_hs_client_parse(hs, "HTTP/1.1 1", 10),
                   WSV_HSC_INCOMPLETE);
  assert_int_equal(wsv_hs_client_parse_h2(hs, 200, NULL, 0), WSV_ERR_INVAL);
  wsv_hs_client_free(hs);
  /* more fields than max_headers */
  client_cfg(&cfg);
  cfg.max_headers = 4;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), 0);
  for (int i = 0; i < 5; i++) {
    many[i].n = "x-a";
    many[i].v = "1";
    many[i].vlen = 0;
  }
  many[5].n = NULL;
  assert_int_equal(answer(hs, 200, many), WSV_ERR_HTTP_TOO_LARGE);
  assert_non_null(strstr(wsv_hs_client_reason(hs), "more than 4"));
  wsv_hs_client_free(hs);
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), 0);
  many[4].n = ":status"; /* pseudo-headers are skipped, not counted */
  assert_int_equal(answer(hs, 200, many), WSV_HSC_OPEN);
  wsv_hs_client_free(hs);
}

/* ---- both ends ---------------------------------------------------------- */

/* The client's fields, fed to the server, are accepted; the server's
 * answer, fed back, opens; and the version retry goes round once. */
static void test_end_to_end(void **state) {
  static const char *subs[] = {"chat", "superchat"};
  struct wsv_hs_client_config ccfg;
  struct wsv_hs_server_config scfg;
  struct wsv_hs_client *c;
  struct wsv_hs_server *s;
  struct wsv_header req[16], ans[16];
  struct wsv_pmd_params p;
  int n;
  size_t m;
  (void)state;
  client_cfg(&ccfg);
  ccfg.secure = 1;
  ccfg.port = 8443;
  ccfg.subprotocols = subs;
  ccfg.nsubprotocols = 2;
  ccfg.pmd_offer = 1;
  ccfg.first_version = 13;
  assert_int_equal(wsv_hs_client_new(&c, &ccfg, NULL), 0);
  wsv_hs_server_config_init(&scfg);
  scfg.versions = WSV_VERSION_BIT(8);
  scfg.pmd_policy = WSV_PMD_ON;
  scfg.accept = hook_ctl;
  struct hook_ctl h = {"superchat", 0, 0, NULL, 0};
  scfg.accept_user = &h;
  assert_int_equal(wsv_hs_server_new(&s, &scfg, NULL), 0);
  for (int round = 0; round < 2; round++) {
    n = wsv_hs_client_request_h2(c, req, 16);
    assert_true(n > 0 && n <= 16);
    wsv_hs_server_reset(s);
    int r = wsv_hs_server_parse_h2(s, req, (size_t)n);
    assert_int_equal(r, round == 0 ? WSV_HS_REJECT : WSV_HS_ACCEPT);
    m = wsv_hs_server_response_h2(s, ans, 16);
    r = wsv_hs_client_parse_h2(c, wsv_hs_server_status(s), ans, m);
    if (round == 0) {
      assert_int_equal(wsv_hs_server_status(s), 400);
      assert_int_equal(r, WSV_HSC_RETRY);
      assert_int_equal(wsv_hs_client_retry(c), 0);
    } else {
      assert_int_equal(wsv_hs_server_status(s), 200);
      assert_int_equal(r, WSV_HSC_OPEN);
    }
  }
  assert_int_equal(wsv_hs_client_version(c), 8);
  assert_int_equal(wsv_hs_server_version(s), 8);
  assert_string_equal(wsv_hs_client_subprotocol(c), "superchat");
  assert_int_equal(wsv_hs_client_pmd(c, &p), 1);
  assert_int_equal(wsv_hs_server_pmd(s, &p), 1);
  wsv_hs_server_free(s);
  wsv_hs_client_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_rfc_example),
      cmocka_unit_test(test_server_field_syntax),
      cmocka_unit_test(test_server_limits),
      cmocka_unit_test(test_server_plain),
      cmocka_unit_test(test_server_connect),
      cmocka_unit_test(test_server_versions),
      cmocka_unit_test(test_server_fields_and_hook),
      cmocka_unit_test(test_server_pmd),
      cmocka_unit_test(test_server_extra_headers),
      cmocka_unit_test(test_server_api_edges),
      cmocka_unit_test(test_client_request),
      cmocka_unit_test(test_client_answers),
      cmocka_unit_test(test_client_edges),
      cmocka_unit_test(test_end_to_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
