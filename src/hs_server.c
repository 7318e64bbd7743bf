/*
 * hs_server.c - the server opening handshake (see wsv/hs_server.h).
 *
 * The request head is parsed by http.c; this file applies RFC 6455 §4.2.1
 * to it, one small check function per rule, in the order documented in the
 * header, and writes the answer of §4.2.2 / §4.4.  An HTTP/2 request
 * (RFC 8441: an extended CONNECT, given as its decoded field list) is
 * judged by the same object: its own field and pseudo-header rules, then
 * the same check functions (host syntax, body, version, origin,
 * subprotocols, permessage-deflate, the accept hook) as HTTP/1.1.  The
 * object is one allocation: the struct, its header slots, then the
 * configured extra headers as HTTP/2 fields (lower-cased names).
 */
#include <limits.h>
#include <string.h>

#include "http.h"

#define HSS_REASON_MAX 256 /* the one-line reason, NUL included */
#define HSS_HOOK_REASON_MAX 200
#define HSS_QUOTE_MAX 64 /* request bytes quoted in a reason */
#define HSS_MAX_SUBPROTOCOLS 128

struct wsv_hs_server {
  struct wsv_mem mem;
  struct wsv_hs_server_config cfg;
  struct wsv_http_head head;
  int result;      /* enum wsv_hs_result */
  int err;         /* WSV_ERR_* of a rejection */
  int status;      /* HTTP status of the answer */
  int version;     /* the client's version if well-formed, else -1 */
  int in_hook;     /* inside the accept hook */
  int accepting;   /* every check passed */
  int plain;       /* the request has no Upgrade field */
  int h2;          /* judged by wsv_hs_server_parse_h2 */
  int viewable;    /* the request views are set */
  unsigned pseudo; /* HTTP/2: the HSS_PS_* bits of the pseudo-headers seen */
  size_t head_len; /* the head's length once complete */
  size_t seen;     /* the length last passed to parse */
  struct wsv_str path, query, subprotocol, extensions;
  struct wsv_str scheme, authority, protocol; /* HTTP/2 pseudo-headers */
  struct wsv_header *extra; /* extra_headers as HTTP/2 fields */
  size_t nextra;
  char versions_text[16]; /* "13, 8, 7" */
  struct wsv_pmd_params pmd; /* what pmd_answer says */
  char pmd_answer[WSV_PMD_FORMAT_MAX + 1];
  char accept[28];
  char reason[HSS_REASON_MAX];
  struct wsv_header headers[]; /* cfg.max_headers slots */
};

/* ---- a bounded string builder (snprintf-style) --------------------------
 * Writes what fits in p[0..cap), counts everything. */
struct hss_buf {
  char *p;
  size_t cap, len;
};

static void hss_put_n(struct hss_buf *b, const char *s, size_t n) {
  if (b->len < b->cap) {
    size_t room = b->cap - b->len;
    memcpy(b->p + b->len, s, n < room ? n : room);
  }
  b->len += n;
}

static void hss_put(struct hss_buf *b, const char *s) {
  hss_put_n(b, s, strlen(s));
}

static void hss_put_uint(struct hss_buf *b, size_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  hss_put_n(b, tmp + i, sizeof tmp - i);
}

/* "value" with at most HSS_QUOTE_MAX bytes of it, escaped (\xNN, \", \\)
 * and cut with "...". */
static void hss_put_quoted(struct hss_buf *b, struct wsv_str v) {
  char q[HSS_QUOTE_MAX * 4 + 4]; /* every byte as \xNN, "...", NUL */
  (void)wsv_str_escape(q, sizeof q, v.ptr, v.len, HSS_QUOTE_MAX,
                       WSV_ESCAPE_HEX);
  hss_put(b, "\"");
  hss_put(b, q);
  hss_put(b, "\"");
}

/* "13, 8, 7": the supported versions, highest first. */
static void hss_put_versions(struct hss_buf *b, uint32_t versions) {
  static const int all[] = {13, 8, 7};
  size_t i;
  int first = 1;
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    if ((versions & WSV_VERSION_BIT(all[i])) == 0)
      continue;
    if (!first)
      hss_put(b, ", ");
    hss_put_uint(b, (size_t)all[i]);
    first = 0;
  }
}

/* ---- rejection ---------------------------------------------------------- */

/* Start the reason text of a rejection; finish with hss_reject_end. */
static struct hss_buf hss_reason_begin(struct wsv_hs_server *hs) {
  struct hss_buf b;
  b.p = hs->reason;
  b.cap = sizeof hs->reason - 1;
  b.len = 0;
  return b;
}

/* Record the rejection whose reason is in `b`.  Returns 1 (rejected). */
static int hss_reject_end(struct wsv_hs_server *hs, struct hss_buf *b, int err,
                          int status) {
  hs->reason[b->len < b->cap ? b->len : b->cap] = '\0';
  hs->err = err;
  hs->status = status;
  hs->result = WSV_HS_REJECT;
  return 1;
}

/* A rejection whose reason is one fixed string. */
static int hss_reject(struct wsv_hs_server *hs, int err, int status,
                      const char *text) {
  struct hss_buf b = hss_reason_begin(hs);
  hss_put(&b, text);
  return hss_reject_end(hs, &b, err, status);
}

/* A rejection: `before` "quoted value" `after`. */
static int hss_reject_q(struct wsv_hs_server *hs, int err, int status,
                        const char *before, struct wsv_str v,
                        const char *after) {
  struct hss_buf b = hss_reason_begin(hs);
  hss_put(&b, before);
  hss_put_quoted(&b, v);
  hss_put(&b, after);
  return hss_reject_end(hs, &b, err, status);
}

/* ---- small helpers ------------------------------------------------------ */

static const struct wsv_header *hss_hdrs(const struct wsv_hs_server *hs) {
  return hs->head.headers;
}

static size_t hss_count(const struct wsv_hs_server *hs, const char *name,
                        struct wsv_str *first) {
  return wsv_http_count(hss_hdrs(hs), hs->head.nheaders, name, first);
}

static struct wsv_str hss_str(const char *p, size_t n) {
  struct wsv_str s;
  s.ptr = p;
  s.len = n;
  return s;
}

/* ---- the checks, in order; each returns 1 when it rejected -------------- */

static int hss_check_method(struct wsv_hs_server *hs) {
  struct wsv_str m = hs->head.method;
  if (m.len == 3 && memcmp(m.ptr, "GET", 3) == 0)
    return 0;
  return hss_reject_q(hs, WSV_ERR_HS_METHOD, 400, "method ", hs->head.method,
                      " is not GET");
}

static int hss_check_http_version(struct wsv_hs_server *hs) {
  struct hss_buf b;
  if (hs->head.major > 1 || (hs->head.major == 1 && hs->head.minor >= 1))
    return 0;
  b = hss_reason_begin(hs);
  hss_put(&b, "HTTP/");
  hss_put_uint(&b, (size_t)hs->head.major);
  hss_put(&b, ".");
  hss_put_uint(&b, (size_t)hs->head.minor);
  hss_put(&b, " is below HTTP/1.1");
  return hss_reject_end(hs, &b, WSV_ERR_HS_HTTP_VERSION, 400);
}

/* Split "path?query" into the views. */
static void hss_split_path(struct wsv_hs_server *hs, struct wsv_str pq) {
  const char *q = memchr(pq.ptr, '?', pq.len);
  size_t plen = q != NULL ? (size_t)(q - pq.ptr) : pq.len;
  hs->path = hss_str(pq.ptr, plen);
  hs->query = q != NULL ? hss_str(q + 1, pq.len - plen - 1) : hss_str(q, 0);
  if (plen == 0)
    hs->path = hss_str("/", 1);
}

/* The length of an http/https/ws/wss scheme followed by "://", else 0. */
static size_t hss_scheme_len(struct wsv_str t) {
  static const char *schemes[] = {"http://", "https://", "ws://", "wss://"};
  size_t i;
  for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
    size_t n = strlen(schemes[i]);
    if (t.len >= n && wsv_str_ieq(hss_str(t.ptr, n), schemes[i]))
      return n;
  }
  return 0;
}

/* origin-form, or absolute-form with an http(s)/ws(s) scheme, a non-empty
 * authority without userinfo, and no fragment. */
static int hss_target_ok(struct wsv_hs_server *hs, struct wsv_str t) {
  size_t s, a;
  if (memchr(t.ptr, '#', t.len) != NULL)
    return 0;
  if (t.ptr[0] == '/') {
    hss_split_path(hs, t);
    return 1;
  }
  s = hss_scheme_len(t);
  if (s == 0)
    return 0;
  for (a = s; a < t.len && t.ptr[a] != '/' && t.ptr[a] != '?'; a++)
    if (t.ptr[a] == '@')
      return 0;
  if (a == s)
    return 0;
  hss_split_path(hs, hss_str(t.ptr + a, t.len - a));
  return 1;
}

static int hss_check_target(struct wsv_hs_server *hs) {
  if (hss_target_ok(hs, hs->head.target))
    return 0;
  return hss_reject_q(hs, WSV_ERR_HS_TARGET, 400, "request target ",
                      hs->head.target,
                      " is not a path or an http/https/ws/wss URI");
}

/* Host (RFC 9112 §3.2): exactly one, whose value is RFC 3986 host[:port]
 * (wsv__uri_host_port in http.c: reg-name, IPv4address or an IP literal
 * checked against the full IPv6address grammar; port digits only, 0 to
 * 65535, not empty).  `required` is 0 for a plain HTTP/1.0 request,
 * which may lack a Host (but not repeat one, nor send a bad one). */
/* One host[:port] value, the Host field's or HTTP/2's :authority (named
 * by `what`, e.g. "Host "), checked by wsv__uri_host_port. */
static int hss_check_host_value(struct wsv_hs_server *hs, const char *what,
                                struct wsv_str v) {
  if (wsv__uri_host_port(v.ptr, v.len, NULL, NULL) != WSV_HOST_INVALID)
    return 0;
  return hss_reject_q(hs, WSV_ERR_HS_HOST, 400, what, v,
                      " is not host[:port] (RFC 3986)");
}

static int hss_check_host(struct wsv_hs_server *hs, int required) {
  struct wsv_str v;
  size_t n = hss_count(hs, "Host", &v);
  if (n == 0 && !required)
    return 0;
  if (n == 0)
    return hss_reject(hs, WSV_ERR_HS_HOST, 400, "Host header is missing");
  if (n > 1)
    return hss_reject(hs, WSV_ERR_HS_HOST, 400, "Host header is repeated");
  return hss_check_host_value(hs, "Host ", v);
}

/* 1*DIGIT, the Content-Length grammar (RFC 9110 §8.6). */
static int hss_all_digits(struct wsv_str v) {
  size_t i;
  for (i = 0; i < v.len; i++)
    if (v.ptr[i] < '0' || v.ptr[i] > '9')
      return 0;
  return v.len > 0;
}

static int hss_all_zeros(struct wsv_str v) {
  size_t i;
  for (i = 0; i < v.len; i++)
    if (v.ptr[i] != '0')
      return 0;
  return v.len > 0;
}

/* No request body: this server reads none, on either path (an upgrade
 * request has none to give; a plain request is answered from its head).
 * Rejected, in this order: any Transfer-Encoding; Content-Length on more
 * than one line, or a comma list ("5, 5"; RFC 9110 §8.6 lets a recipient
 * accept identical repeated values, a strict one rejects them, and so do
 * we); a value that is not 1*DIGIT ("-1", "+0", "1e3", ""); any value
 * other than zero (10^23 included, without overflow).  "0" and "00" pass. */
/* "[upgrade ]request carries a body (<name> "<value>")[; ...]". */
static int hss_reject_body(struct wsv_hs_server *hs, const char *name,
                           struct wsv_str v) {
  struct hss_buf b = hss_reason_begin(hs);
  hss_put(&b, hs->plain ? "request carries a body ("
                        : "upgrade request carries a body (");
  hss_put(&b, name);
  hss_put(&b, " ");
  hss_put_quoted(&b, v);
  hss_put(&b, hs->plain ? "); this server reads no request body" : ")");
  return hss_reject_end(hs, &b, WSV_ERR_HS_BODY, 400);
}

static int hss_check_body(struct wsv_hs_server *hs) {
  struct wsv_str v;
  size_t n;
  if (hss_count(hs, "Transfer-Encoding", &v) > 0)
    return hss_reject_body(hs, "Transfer-Encoding", v);
  n = hss_count(hs, "Content-Length", &v);
  if (n == 0)
    return 0;
  if (n > 1)
    return hss_reject(hs, WSV_ERR_HS_BODY, 400,
                      "Content-Length header is repeated (RFC 9110 8.6)");
  if (memchr(v.ptr, ',', v.len) != NULL)
    return hss_reject_q(hs, WSV_ERR_HS_BODY, 400, "Content-Length ", v,
                        " is a list (RFC 9110 8.6)");
  if (!hss_all_digits(v))
    return hss_reject_q(hs, WSV_ERR_HS_BODY, 400, "Content-Length ", v,
                        " is not a decimal number (RFC 9110 8.6)");
  if (!hss_all_zeros(v))
    return hss_reject_body(hs, "Content-Length", v);
  return 0;
}

/* The Upgrade list must be exactly one element, "websocket". */
static int hss_check_upgrade(struct wsv_hs_server *hs) {
  size_t pos = 0, n = 0;
  int ok = 1;
  struct wsv_str e, first;
  while (wsv_http_list_next(hss_hdrs(hs), hs->head.nheaders, "Upgrade", &pos,
                            &e)) {
    ok = ok && wsv_str_ieq(e, "websocket");
    n++;
  }
  if (ok && n == 1)
    return 0;
  (void)hss_count(hs, "Upgrade", &first);
  return hss_reject_q(hs, WSV_ERR_HS_UPGRADE, 400, "Upgrade ", first,
                      " is not exactly websocket");
}

static int hss_check_connection(struct wsv_hs_server *hs) {
  struct wsv_str v;
  if (wsv_http_list_has(hss_hdrs(hs), hs->head.nheaders, "Connection",
                        "Upgrade"))
    return 0;
  if (hss_count(hs, "Connection", &v) == 0)
    return hss_reject(hs, WSV_ERR_HS_CONNECTION, 400,
                      "Connection header is missing (needs Upgrade)");
  return hss_reject_q(hs, WSV_ERR_HS_CONNECTION, 400, "Connection ", v,
                      " lacks the Upgrade token");
}

/* ABNF version = DIGIT / (NZDIGIT DIGIT) / ("1" DIGIT DIGIT) /
 * ("2" DIGIT2 DIGIT) ...: 0..255, no leading zero.  Returns the value, or
 * -1 with *why naming the fault. */
static int hss_parse_version(struct wsv_str v, const char **why) {
  size_t i;
  int n = 0;
  if (v.len == 0) {
    *why = "is empty";
    return -1;
  }
  if (memchr(v.ptr, ',', v.len) != NULL) {
    *why = "is a list; send exactly one version";
    return -1;
  }
  for (i = 0; i < v.len; i++) {
    char c = v.ptr[i];
    if (c >= '0' && c <= '9')
      continue;
    *why = (i == 0 && (c == '+' || c == '-')) ? "has a sign"
           : wsv__http_ows(c)                 ? "holds a space"
                                              : "is not a decimal number";
    return -1;
  }
  if (v.len > 1 && v.ptr[0] == '0') {
    *why = "is malformed: leading zero";
    return -1;
  }
  for (i = 0; i < v.len && n <= 255; i++)
    n = n * 10 + (v.ptr[i] - '0');
  if (n > 255) {
    *why = "is above 255";
    return -1;
  }
  return n;
}

static int hss_reject_unsupported(struct wsv_hs_server *hs, int v) {
  struct hss_buf b = hss_reason_begin(hs);
  if (v < 0) {
    hss_put(&b, "draft-hixie-76 handshake (Sec-WebSocket-Key1) is not "
                "supported");
  } else {
    hss_put(&b, "unsupported WebSocket version ");
    hss_put_uint(&b, (size_t)v);
  }
  hss_put(&b, "; this server speaks ");
  hss_put_versions(&b, hs->cfg.versions);
  /* 426 needs Upgrade, which HTTP/2 does not have: always 400 there. */
  return hss_reject_end(hs, &b, WSV_ERR_HS_VERSION_UNSUPPORTED,
                        hs->h2 ? 400 : hs->cfg.unsupported_status);
}

static int hss_check_version(struct wsv_hs_server *hs) {
  struct wsv_str v;
  const char *why = "";
  size_t n = hss_count(hs, "Sec-WebSocket-Version", &v);
  int ver;
  struct hss_buf b;
  if (n == 0 && hss_count(hs, "Sec-WebSocket-Key1", NULL) > 0)
    return hss_reject_unsupported(hs, -1);
  b = hss_reason_begin(hs);
  if (n != 1) {
    hss_put(&b, n == 0 ? "Sec-WebSocket-Version is missing"
                       : "Sec-WebSocket-Version is repeated");
    hss_put(&b, "; this server speaks ");
    hss_put_versions(&b, hs->cfg.versions);
    return hss_reject_end(hs, &b, WSV_ERR_HS_VERSION, 400);
  }
  ver = hss_parse_version(v, &why);
  if (ver < 0) {
    hss_put(&b, "Sec-WebSocket-Version ");
    hss_put_quoted(&b, v);
    hss_put(&b, " ");
    hss_put(&b, why);
    return hss_reject_end(hs, &b, WSV_ERR_HS_VERSION, 400);
  }
  hs->version = ver;
  if (ver < 32 && (hs->cfg.versions & WSV_VERSION_BIT(ver)) != 0)
    return 0;
  return hss_reject_unsupported(hs, ver);
}

static int hss_check_key(struct wsv_hs_server *hs) {
  struct wsv_str v;
  uint8_t raw[18];
  size_t n = hss_count(hs, "Sec-WebSocket-Key", &v);
  if (n == 0)
    return hss_reject(hs, WSV_ERR_HS_KEY, 400, "Sec-WebSocket-Key is missing");
  if (n > 1)
    return hss_reject(hs, WSV_ERR_HS_KEY, 400, "Sec-WebSocket-Key is repeated");
  if (v.len != 24 || wsv__base64_decode(v.ptr, v.len, raw, sizeof raw) != 16)
    return hss_reject_q(hs, WSV_ERR_HS_KEY, 400, "Sec-WebSocket-Key ", v,
                        " is not base64 of 16 bytes");
  wsv__accept_value(v.ptr, v.len, hs->accept);
  return 0;
}

/* The name of the field carrying the Origin for the client's version. */
static const char *hss_origin_name(const struct wsv_hs_server *hs) {
  return (hs->version == 8 || hs->version == 7) ? "Sec-WebSocket-Origin"
                                                : "Origin";
}

/* Check one raw Sec-WebSocket-Protocol field: non-empty token elements.
 * Adds the element count to *count.  Returns the fault, or NULL. */
static const char *hss_protocol_field(struct wsv_str v, size_t *count) {
  size_t i = 0;
  for (;;) {
    size_t start, end;
    start = wsv__http_skip_ows(v.ptr, v.len, i);
    end = wsv__http_skip_token(v.ptr, v.len, start);
    i = wsv__http_skip_ows(v.ptr, v.len, end);
    if (i < v.len && v.ptr[i] != ',')
      return " holds a character not allowed in a token";
    if (end == start)
      return " has an empty element";
    (*count)++;
    if (i == v.len)
      return NULL;
    i++; /* the comma */
  }
}

/* 1 if `e` (the idx-th offered subprotocol) equals an earlier one. */
static int hss_protocol_dup(const struct wsv_hs_server *hs, struct wsv_str e,
                            size_t idx) {
  size_t pos = 0, k;
  struct wsv_str o;
  for (k = 0; k < idx; k++) {
    (void)wsv_http_list_next(hss_hdrs(hs), hs->head.nheaders,
                             "Sec-WebSocket-Protocol", &pos, &o);
    if (o.len == e.len && memcmp(o.ptr, e.ptr, e.len) == 0)
      return 1;
  }
  return 0;
}

static int hss_check_protocols(struct wsv_hs_server *hs) {
  size_t i, count = 0, pos = 0;
  struct wsv_str e;
  for (i = 0; i < hs->head.nheaders; i++) {
    const struct wsv_header *f = &hss_hdrs(hs)[i];
    const char *why;
    if (!wsv_str_ieq(f->name, "Sec-WebSocket-Protocol"))
      continue;
    why = hss_protocol_field(f->value, &count);
    if (why != NULL)
      return hss_reject_q(hs, WSV_ERR_HS_HEADER, 400, "Sec-WebSocket-Protocol ",
                          f->value, why);
    if (count > HSS_MAX_SUBPROTOCOLS)
      return hss_reject(hs, WSV_ERR_HS_HEADER, 400,
                        "more than 128 subprotocols offered");
  }
  for (i = 0; i < count; i++) {
    (void)wsv_http_list_next(hss_hdrs(hs), hs->head.nheaders,
                             "Sec-WebSocket-Protocol", &pos, &e);
    if (hss_protocol_dup(hs, e, i))
      return hss_reject_q(hs, WSV_ERR_HS_HEADER, 400,
                          "Sec-WebSocket-Protocol offers ", e, " twice");
  }
  return 0;
}

static int hss_check_fields(struct wsv_hs_server *hs) {
  const char *origin = hss_origin_name(hs);
  if (hss_count(hs, origin, NULL) > 1) {
    struct hss_buf b = hss_reason_begin(hs);
    hss_put(&b, origin);
    hss_put(&b, " header is repeated");
    return hss_reject_end(hs, &b, WSV_ERR_HS_HEADER, 400);
  }
  return hss_check_protocols(hs);
}

/* ---- permessage-deflate ------------------------------------------------- */

/* Take the first acceptable permessage-deflate offer (RFC 7692 §5): offers
 * that are invalid or declined are skipped, never answered with 400. */
static void hss_negotiate_pmd(struct wsv_hs_server *hs) {
  struct wsv_pmd_offer o;
  struct wsv_pmd_params p;
  struct wsv_str e;
  size_t pos = 0;

  if (hs->cfg.pmd_policy == WSV_PMD_OFF)
    return;
  while (wsv_http_list_next(hss_hdrs(hs), hs->head.nheaders,
                            "Sec-WebSocket-Extensions", &pos, &e)) {
    if (wsv_pmd_parse(e.ptr, e.len, &o, NULL) != 1 ||
        wsv_pmd_negotiate(&o, hs->cfg.pmd_policy, &p) != 1)
      continue;
    hs->pmd = p;
    (void)wsv_pmd_format_response(&p, &o, hs->pmd_answer,
                                  sizeof hs->pmd_answer);
    hs->extensions = hss_str(hs->pmd_answer, strlen(hs->pmd_answer));
    return;
  }
}

/* ---- verdicts ----------------------------------------------------------- */

static int hss_run_hook(struct wsv_hs_server *hs) {
  int r;
  hs->accepting = 1;
  hss_negotiate_pmd(hs);
  if (hs->cfg.accept == NULL) {
    hs->result = WSV_HS_ACCEPT;
    hs->status = hs->h2 ? 200 : 101;
    return hs->result;
  }
  hs->reason[0] = '\0';
  hs->in_hook = 1;
  r = hs->cfg.accept(hs, hs->cfg.accept_user);
  hs->in_hook = 0;
  if (r == 0) {
    hs->reason[0] = '\0';
    hs->result = WSV_HS_ACCEPT;
    hs->status = hs->h2 ? 200 : 101;
    return hs->result;
  }
  hs->accepting = 0;
  hs->subprotocol = hss_str(NULL, 0);
  hs->extensions = hss_str(NULL, 0);
  if (hs->reason[0] == '\0')
    strcpy(hs->reason, "the server refused this WebSocket request");
  hs->err = WSV_ERR_HS_REFUSED;
  hs->status = (r >= 400 && r <= 599) ? r : 403;
  if (hs->h2 && hs->status == 426) /* no Upgrade on HTTP/2 */
    hs->status = 400;
  hs->result = WSV_HS_REJECT;
  return hs->result;
}

/* A well-formed request that does not ask for a WebSocket (both
 * protocols): plain HTTP, or a refusal when so configured: 426 on
 * HTTP/1.1, 400 on HTTP/2 (426 means nothing without Upgrade). */
static int hss_plain_verdict(struct wsv_hs_server *hs) {
  if (hs->cfg.plain_http == WSV_HS_PLAIN_426) {
    if (hs->h2)
      (void)hss_reject(hs, WSV_ERR_HS_NOT_UPGRADE, 400,
                       "this endpoint speaks WebSocket (RFC 6455); over "
                       "HTTP/2 send an extended CONNECT with :protocol "
                       "websocket (RFC 8441)");
    else
      (void)hss_reject(hs, WSV_ERR_HS_NOT_UPGRADE, 426,
                       "this endpoint speaks WebSocket (RFC 6455); send a "
                       "GET with Upgrade: websocket");
    return hs->result;
  }
  hs->err = WSV_ERR_HS_NOT_UPGRADE;
  hs->result = WSV_HS_PLAIN_HTTP;
  return hs->result;
}

/* A request without Upgrade: Host and body are checked as for an upgrade
 * (a Host may be missing below HTTP/1.1, RFC 9112 §3.2), then it is
 * plain HTTP, or a 426 when so configured. */
static int hss_plain(struct wsv_hs_server *hs) {
  int http11 =
      hs->head.major > 1 || (hs->head.major == 1 && hs->head.minor >= 1);
  hs->plain = 1;
  (void)hss_target_ok(hs, hs->head.target); /* path and query, if any */
  if (hss_check_host(hs, http11) || hss_check_body(hs))
    return hs->result;
  return hss_plain_verdict(hs);
}

/* The checks both protocols make once the request is known to ask for a
 * WebSocket, then the accept hook: the version, the key (HTTP/1.1 only:
 * RFC 8441 §5 has none), Origin and subprotocols. */
static int hss_judge_websocket(struct wsv_hs_server *hs) {
  if (hss_check_version(hs) || (!hs->h2 && hss_check_key(hs)) ||
      hss_check_fields(hs))
    return hs->result;
  return hss_run_hook(hs);
}

/* Judge a complete, well-formed head. */
static int hss_judge(struct wsv_hs_server *hs) {
  if (hss_count(hs, "Upgrade", NULL) == 0)
    return hss_plain(hs);
  if (hss_check_method(hs) || hss_check_http_version(hs) ||
      hss_check_target(hs) || hss_check_host(hs, 1) || hss_check_body(hs) ||
      hss_check_upgrade(hs) || hss_check_connection(hs))
    return hs->result;
  return hss_judge_websocket(hs);
}

static int hss_syntax(struct wsv_hs_server *hs) {
  struct hss_buf b = hss_reason_begin(hs);
  hss_put(&b, "malformed HTTP request head (RFC 9112) at byte ");
  hss_put_uint(&b, hs->head._scanned - 1);
  return hss_reject_end(hs, &b, WSV_ERR_HTTP_SYNTAX, 400);
}

/* "request has more than N header fields" (both protocols' 431). */
static int hss_too_many_fields(struct wsv_hs_server *hs) {
  struct hss_buf b = hss_reason_begin(hs);
  hss_put(&b, "request has more than ");
  hss_put_uint(&b, hs->cfg.max_headers);
  hss_put(&b, " header fields");
  return hss_reject_end(hs, &b, WSV_ERR_HTTP_TOO_LARGE, 431);
}

static int hss_too_large(struct wsv_hs_server *hs, const char *buf,
                         size_t len) {
  struct hss_buf b = hss_reason_begin(hs);
  size_t max = hs->cfg.max_head_bytes;
  int status = 431;
  if (hs->head._fields > hs->cfg.max_headers)
    return hss_too_many_fields(hs);
  if (memchr(buf, '\n', len < max ? len : max) == NULL) {
    status = 414;
    hss_put(&b, "request line is longer than ");
    hss_put_uint(&b, max);
    hss_put(&b, " bytes");
  } else {
    hss_put(&b, "request head is longer than ");
    hss_put_uint(&b, max);
    hss_put(&b, " bytes");
  }
  return hss_reject_end(hs, &b, WSV_ERR_HTTP_TOO_LARGE, status);
}

/* ---- HTTP/2 (RFC 9113 §8.2-8.3, RFC 8441 §4-5) --------------------------- */

/* The pseudo-header fields a request may carry, and their bits. */
enum {
  HSS_PS_METHOD = 1u << 0,
  HSS_PS_SCHEME = 1u << 1,
  HSS_PS_AUTHORITY = 1u << 2,
  HSS_PS_PATH = 1u << 3,
  HSS_PS_PROTOCOL = 1u << 4
};
static const char *const hss_pseudo_names[] = {":method", ":scheme",
                                               ":authority", ":path",
                                               ":protocol"};
#define HSS_NPSEUDO (sizeof hss_pseudo_names / sizeof hss_pseudo_names[0])

/* The fields RFC 9113 §8.2.2 forbids (te is allowed as "trailers"). */
static const char *const hss_h2_forbidden[] = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding",
    "upgrade"};

/* 1 if the two views are equal, ASCII letters compared without case. */
static int hss_ieq(struct wsv_str a, struct wsv_str b) {
  size_t i;
  if (a.len != b.len)
    return 0;
  for (i = 0; i < a.len; i++) {
    char x = a.ptr[i], y = b.ptr[i];
    if (x >= 'A' && x <= 'Z')
      x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = (char)(y - 'A' + 'a');
    if (x != y)
      return 0;
  }
  return 1;
}

/* 1 if the view equals the NUL-terminated s exactly. */
static int hss_eq(struct wsv_str v, const char *s) {
  size_t n = strlen(s);
  return v.len == n && memcmp(v.ptr, s, n) == 0;
}

/* A rejection naming a field: `before` "name" `after`. */
static int hss_reject_field(struct wsv_hs_server *hs, const char *before,
                            struct wsv_str name, const char *after) {
  return hss_reject_q(hs, WSV_ERR_HTTP_SYNTAX, 400, before, name, after);
}

/* An HTTP/2 field name (RFC 9113 §8.2.1): a token without upper case. */
static int hss_h2_check_name(struct wsv_hs_server *hs, struct wsv_str name) {
  size_t i;
  if (!wsv__http_token(name.ptr, name.len))
    return hss_reject_field(hs, "field name ", name,
                            " is not a token (RFC 9113 8.2.1)");
  for (i = 0; i < name.len; i++)
    if (name.ptr[i] >= 'A' && name.ptr[i] <= 'Z')
      return hss_reject_field(hs, "field name ", name,
                              " has upper case; HTTP/2 sends lower case "
                              "(RFC 9113 8.2.1)");
  return 0;
}

/* A field value: the HTTP/1.1 field-content bytes (no NUL, CR, LF or other
 * control byte but HTAB: RFC 9113 §8.2.1 and RFC 9110 §5.5), and no
 * leading or trailing SP or HTAB. */
static int hss_h2_check_value(struct wsv_hs_server *hs, struct wsv_str name,
                              struct wsv_str v) {
  size_t i;
  for (i = 0; i < v.len; i++)
    if (!wsv__http_value_byte((unsigned char)v.ptr[i]))
      return hss_reject_field(hs, "value of ", name,
                              " holds NUL, CR, LF or another control byte "
                              "(RFC 9113 8.2.1)");
  if (v.len > 0 && (wsv__http_ows(v.ptr[0]) || wsv__http_ows(v.ptr[v.len - 1])))
    return hss_reject_field(hs, "value of ", name,
                            " starts or ends with a space or tab "
                            "(RFC 9113 8.2.1)");
  return 0;
}

/* The connection-specific fields of RFC 9113 §8.2.2. */
static int hss_h2_check_specific(struct wsv_hs_server *hs, struct wsv_str name,
                                 struct wsv_str v) {
  size_t k;
  for (k = 0; k < sizeof hss_h2_forbidden / sizeof hss_h2_forbidden[0]; k++)
    if (hss_eq(name, hss_h2_forbidden[k]))
      return hss_reject_field(hs, "connection-specific field ", name,
                              " is not allowed in HTTP/2 (RFC 9113 8.2.2)");
  if (hss_eq(name, "te") && !wsv_str_ieq(v, "trailers"))
    return hss_reject_q(hs, WSV_ERR_HTTP_SYNTAX, 400, "te ", v,
                        " is not \"trailers\" (RFC 9113 8.2.2)");
  return 0;
}

/* One pseudo-header field: known, not repeated, before every regular
 * field, a valid value (:method a token, :path printable ASCII). */
static int hss_h2_pseudo(struct wsv_hs_server *hs, const struct wsv_header *f,
                         int regular_seen) {
  size_t k;
  struct wsv_str v = f->value;
  if (regular_seen)
    return hss_reject_field(hs, "pseudo-header field ", f->name,
                            " after a regular field (RFC 9113 8.3)");
  for (k = 0; k < HSS_NPSEUDO && !hss_eq(f->name, hss_pseudo_names[k]); k++)
    ;
  if (k == HSS_NPSEUDO)
    return hss_reject_field(hs, "unknown pseudo-header field ", f->name,
                            " (RFC 9113 8.3)");
  if (hs->pseudo & (1u << k))
    return hss_reject_field(hs, "pseudo-header field ", f->name,
                            " is repeated (RFC 9113 8.3)");
  if (hss_h2_check_value(hs, f->name, v))
    return 1;
  if (k == 0 && !wsv__http_token(v.ptr, v.len))
    return hss_reject_q(hs, WSV_ERR_HTTP_SYNTAX, 400, ":method ", v,
                        " is not a token");
  for (size_t i = 0; k == 3 && i < v.len; i++)
    if ((unsigned char)v.ptr[i] <= 0x20 || (unsigned char)v.ptr[i] >= 0x7f)
      return hss_reject_q(hs, WSV_ERR_HTTP_SYNTAX, 400, ":path ", v,
                          " holds a byte that is not printable ASCII");
  hs->pseudo |= 1u << k;
  if (k == 0)
    hs->head.method = v;
  else if (k == 1)
    hs->scheme = v;
  else if (k == 2)
    hs->authority = v;
  else if (k == 3)
    hs->head.target = v;
  else
    hs->protocol = v;
  return 0;
}

/* Walk the field list: the syntax of every field (first failure wins),
 * the pseudo-headers into their views, the regular fields into the
 * header slots while they fit; then the two size limits. */
static int hss_h2_fields(struct wsv_hs_server *hs,
                         const struct wsv_header *fields, size_t n) {
  size_t i, regular = 0, bytes = 0;
  for (i = 0; i < n; i++) {
    const struct wsv_header *f = &fields[i];
    size_t add = f->name.len + f->value.len;
    size_t room = bytes <= SIZE_MAX - 32 ? SIZE_MAX - 32 - bytes : 0;
    bytes = add <= room ? bytes + add + 32 : SIZE_MAX; /* saturated */
    if (f->name.len > 0 && f->name.ptr[0] == ':') {
      if (hss_h2_pseudo(hs, f, regular > 0))
        return 1;
      continue;
    }
    if (hss_h2_check_name(hs, f->name) ||
        hss_h2_check_value(hs, f->name, f->value) ||
        hss_h2_check_specific(hs, f->name, f->value))
      return 1;
    if (regular < hs->cfg.max_headers)
      hs->headers[regular] = *f;
    regular++;
  }
  if (regular > hs->cfg.max_headers)
    return hss_too_many_fields(hs);
  if (bytes > hs->cfg.max_head_bytes) {
    struct hss_buf b = hss_reason_begin(hs);
    hss_put(&b, "request header list is over ");
    hss_put_uint(&b, hs->cfg.max_head_bytes);
    hss_put(&b, " bytes (name + value + 32 per field, RFC 9113 6.5.2)");
    return hss_reject_end(hs, &b, WSV_ERR_HTTP_TOO_LARGE, 431);
  }
  hs->head.nheaders = regular;
  return 0;
}

/* :authority and host (RFC 9113 §8.3.1): at most one host field; each
 * present one a valid host[:port]; equal (without case) when both are
 * there.  `connect`: :authority itself is required (RFC 8441 §5), else
 * either will do. */
static int hss_h2_check_host(struct wsv_hs_server *hs, int connect) {
  struct wsv_str v;
  size_t n = hss_count(hs, "host", &v);
  int auth = (hs->pseudo & HSS_PS_AUTHORITY) != 0;
  if (n > 1)
    return hss_reject(hs, WSV_ERR_HS_HOST, 400, "Host header is repeated");
  if (!auth && connect)
    return hss_reject(hs, WSV_ERR_HS_HOST, 400,
                      "extended CONNECT has no :authority (RFC 8441 5)");
  if (!auth && n == 0)
    return hss_reject(hs, WSV_ERR_HS_HOST, 400,
                      "request has neither :authority nor host "
                      "(RFC 9113 8.3.1)");
  if ((auth && hss_check_host_value(hs, ":authority ", hs->authority)) ||
      (n == 1 && hss_check_host_value(hs, "host ", v)))
    return 1;
  if (auth && n == 1 && !hss_ieq(v, hs->authority))
    return hss_reject_q(hs, WSV_ERR_HS_HOST, 400, "host ", v,
                        " differs from :authority (RFC 9113 8.3.1)");
  return 0;
}

/* A request other than CONNECT: :scheme and :path, a host, no
 * :protocol, no body; then plain HTTP (or the configured refusal).  The
 * verdict is left in hs; returns 1 when a check rejected. */
static int hss_h2_plain(struct wsv_hs_server *hs) {
  hs->plain = 1;
  if ((hs->pseudo & HSS_PS_SCHEME) == 0)
    return hss_reject(hs, WSV_ERR_HS_TARGET, 400,
                      "request has no :scheme (RFC 9113 8.3.1)");
  if ((hs->pseudo & HSS_PS_PATH) == 0 || hs->head.target.len == 0)
    return hss_reject(hs, WSV_ERR_HS_TARGET, 400,
                      "request has no :path or an empty one (RFC 9113 8.3.1)");
  if (hs->head.target.ptr[0] == '/')
    hss_split_path(hs, hs->head.target);
  if (hss_h2_check_host(hs, 0))
    return 1;
  if (hs->pseudo & HSS_PS_PROTOCOL)
    return hss_reject_q(hs, WSV_ERR_HS_METHOD, 400, ":protocol ", hs->protocol,
                        " needs the CONNECT method (RFC 8441 4)");
  if (hss_check_body(hs))
    return 1;
  (void)hss_plain_verdict(hs);
  return 0;
}

/* An extended CONNECT for a WebSocket (RFC 8441 §4-5): its own rules,
 * then those HTTP/1.1 shares.  The verdict is left in hs; returns 1 when
 * one of its own checks rejected. */
static int hss_h2_connect(struct wsv_hs_server *hs) {
  struct wsv_str s = hs->scheme, t = hs->head.target, v;
  if ((hs->pseudo & HSS_PS_PROTOCOL) == 0)
    return hss_reject(hs, WSV_ERR_HS_METHOD, 400,
                      "CONNECT without :protocol asks for a tunnel, which "
                      "this server does not open; a WebSocket needs "
                      ":protocol websocket (RFC 8441 4)");
  if (!wsv_str_ieq(hs->protocol, "websocket"))
    return hss_reject_q(hs, WSV_ERR_HS_UPGRADE, 400, ":protocol ",
                        hs->protocol, " is not websocket (RFC 8441 5)");
  if ((hs->pseudo & HSS_PS_SCHEME) == 0)
    return hss_reject(hs, WSV_ERR_HS_TARGET, 400,
                      "extended CONNECT has no :scheme (RFC 8441 4)");
  if (!wsv_str_ieq(s, "https") && !wsv_str_ieq(s, "http"))
    return hss_reject_q(hs, WSV_ERR_HS_TARGET, 400, ":scheme ", s,
                        " is not http or https (RFC 8441 5)");
  if ((hs->pseudo & HSS_PS_PATH) == 0)
    return hss_reject(hs, WSV_ERR_HS_TARGET, 400,
                      "extended CONNECT has no :path (RFC 8441 4)");
  if (t.len == 0 || t.ptr[0] != '/' || memchr(t.ptr, '#', t.len) != NULL)
    return hss_reject_q(hs, WSV_ERR_HS_TARGET, 400, ":path ", t,
                        " is not a path (origin-form, no '#')");
  hss_split_path(hs, t);
  if (hss_h2_check_host(hs, 1))
    return 1;
  if (hss_count(hs, "content-length", &v) > 0)
    return hss_reject_q(hs, WSV_ERR_HS_BODY, 400, "extended CONNECT carries "
                        "content-length ", v,
                        "; the stream's data is the WebSocket");
  (void)hss_judge_websocket(hs);
  return 0;
}

/* Judge a field list whose syntax and size passed. */
static int hss_h2_judge(struct wsv_hs_server *hs) {
  if ((hs->pseudo & HSS_PS_METHOD) == 0)
    (void)hss_reject(hs, WSV_ERR_HTTP_SYNTAX, 400,
                     "request has no :method (RFC 9113 8.3.1)");
  else if (!hss_eq(hs->head.method, "CONNECT"))
    (void)hss_h2_plain(hs);
  else
    (void)hss_h2_connect(hs);
  return hs->result;
}

/* ---- public ------------------------------------------------------------- */

void wsv_hs_server_config_init(struct wsv_hs_server_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->versions = WSV_VERSIONS_DEFAULT;
  cfg->unsupported_status = 426;
  cfg->plain_http = WSV_HS_PLAIN_REPORT;
  cfg->max_head_bytes = 8192;
  cfg->max_headers = 100;
}

/* The names the core writes in a 101 itself, or that would make it lie
 * about its length: extra_headers may not repeat them. */
static const char *const hss_own_names[] = {
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-version",
    "content-length",
    "transfer-encoding"};

static int hss_own_name(const char *s, size_t n) {
  for (size_t k = 0; k < sizeof hss_own_names / sizeof hss_own_names[0]; k++) {
    const char *o = hss_own_names[k];
    if (strlen(o) != n)
      continue;
    size_t i = 0;
    while (i < n && (s[i] | 0x20) == o[i])
      i++;
    if (i == n)
      return 1;
  }
  return 0;
}

/* extra_headers: NULL or "", or lines "Name: value\r\n", the name a token
 * other than hss_own_names, the value field-content (no CR, LF, NUL or
 * other CTL but HTAB), 4096 bytes at most in all. */
static int hss_extra_ok(const char *h) {
  if (h == NULL)
    return 1;
  size_t len = strlen(h);
  if (len > 4096)
    return 0;
  size_t i = 0;
  while (i < len) {
    size_t name = i;
    while (i < len && h[i] != ':' && h[i] != '\r' && h[i] != '\n')
      i++;
    if (i >= len || h[i] != ':' || !wsv__http_token(h + name, i - name) ||
        hss_own_name(h + name, i - name))
      return 0;
    for (i++; i < len && h[i] != '\r'; i++) {
      unsigned char c = (unsigned char)h[i];
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        return 0;
    }
    if (i + 1 >= len || h[i + 1] != '\n')
      return 0;
    i += 2;
  }
  return 1;
}

/* The extra_headers (already checked by hss_extra_ok) as HTTP/2 fields:
 * the number of lines, and the bytes of their names. */
static size_t hss_extra_count(const char *h, size_t *name_bytes) {
  size_t n = 0;
  *name_bytes = 0;
  while (h != NULL && *h != '\0') {
    const char *colon = strchr(h, ':');
    *name_bytes += (size_t)(colon - h);
    h = strchr(colon, '\n') + 1;
    n++;
  }
  return n;
}

/* Fill hs->extra from the extra_headers: each name lowered into `names`
 * (RFC 9113 §8.2.1), each value a view of the config's string with its
 * surrounding OWS dropped. */
static void hss_extra_fields(struct wsv_hs_server *hs, char *names) {
  const char *h = hs->cfg.extra_headers;
  size_t k, i;
  for (k = 0; k < hs->nextra; k++) {
    const char *colon = strchr(h, ':'), *cr = strchr(colon, '\r');
    size_t a = 1, b = (size_t)(cr - colon);
    for (i = 0; h + i < colon; i++)
      names[i] = (h[i] >= 'A' && h[i] <= 'Z') ? (char)(h[i] - 'A' + 'a') : h[i];
    hs->extra[k].name = hss_str(names, i);
    names += i;
    while (a < b && wsv__http_ows(colon[a]))
      a++;
    while (b > a && wsv__http_ows(colon[b - 1]))
      b--;
    hs->extra[k].value = hss_str(colon + a, b - a);
    h = cr + 2;
  }
}

static int hss_config_ok(const struct wsv_hs_server_config *c) {
  return hss_extra_ok(c->extra_headers) && c->versions != 0 && (c->versions & ~WSV_VERSIONS_ALL) == 0 &&
         (c->unsupported_status == 426 || c->unsupported_status == 400) &&
         (c->plain_http == WSV_HS_PLAIN_REPORT ||
          c->plain_http == WSV_HS_PLAIN_426) &&
         c->max_head_bytes >= 1 && c->max_head_bytes <= (size_t)INT_MAX &&
         c->max_headers >= 1 && c->pmd_policy >= WSV_PMD_OFF &&
         c->pmd_policy <= WSV_PMD_MAX &&
         c->max_headers <= (SIZE_MAX / 2) / sizeof(struct wsv_header);
}

/* The fields of a new object beyond its zeroed memory, mem and cfg. */
static void hss_init(struct wsv_hs_server *hs) {
  struct hss_buf b;
  size_t names;
  hs->version = -1;
  hs->head.headers = hs->headers;
  hs->head.max_headers = hs->cfg.max_headers;
  hs->head.max_bytes = hs->cfg.max_head_bytes;
  b.p = hs->versions_text;
  b.cap = sizeof hs->versions_text - 1;
  b.len = 0;
  hss_put_versions(&b, hs->cfg.versions);
  hs->versions_text[b.len] = '\0';
  hs->extra = hs->headers + hs->cfg.max_headers;
  hs->nextra = hss_extra_count(hs->cfg.extra_headers, &names);
  hss_extra_fields(hs, (char *)(hs->extra + hs->nextra));
}

int wsv_hs_server_new(struct wsv_hs_server **out,
                      const struct wsv_hs_server_config *cfg,
                      const struct wsv_mem *mem) {
  struct wsv_hs_server_config c;
  struct wsv_mem m;
  struct wsv_hs_server *hs;
  size_t nextra, names;
  if (out == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  if (cfg != NULL)
    c = *cfg;
  else
    wsv_hs_server_config_init(&c);
  if (!hss_config_ok(&c))
    return WSV_ERR_INVAL;
  wsv__mem_init(&m, mem);
  nextra = hss_extra_count(c.extra_headers, &names);
  hs = wsv__calloc(&m, sizeof *hs +
                           (c.max_headers + nextra) * sizeof(struct wsv_header) +
                           names);
  if (hs == NULL)
    return WSV_ERR_NOMEM;
  hs->mem = m;
  hs->cfg = c;
  hss_init(hs);
  *out = hs;
  return 0;
}

void wsv_hs_server_reset(struct wsv_hs_server *hs) {
  struct wsv_hs_server_config c;
  struct wsv_mem m;
  if (hs == NULL)
    return;
  m = hs->mem;
  c = hs->cfg;
  /* The header slots are written by the parser before they are read
   * (every reader stops at head.nheaders): only the fixed part is
   * cleared (the slots were 4 KB of memset per handshake). */
  memset(hs, 0, sizeof *hs);
  hs->mem = m;
  hs->cfg = c;
  hss_init(hs);
}

void wsv_hs_server_free(struct wsv_hs_server *hs) {
  if (hs != NULL) {
    struct wsv_mem m = hs->mem;
    wsv__free(&m, hs);
  }
}

int wsv_hs_server_parse(struct wsv_hs_server *hs, const char *buf, size_t len) {
  int rc;
  if (hs == NULL || (buf == NULL && len > 0) || hs->in_hook || hs->h2)
    return WSV_ERR_INVAL;
  if (hs->result != WSV_HS_INCOMPLETE)
    return hs->result;
  if (len < hs->seen)
    return WSV_ERR_INVAL;
  hs->seen = len;
  rc = wsv__http_parse_request(&hs->head, buf, len);
  if (rc == WSV_ERR_AGAIN)
    return WSV_HS_INCOMPLETE;
  if (rc == WSV_ERR_HTTP_TOO_LARGE) {
    (void)hss_too_large(hs, buf, len);
    return hs->result;
  }
  if (rc < 0) {
    (void)hss_syntax(hs);
    return hs->result;
  }
  hs->head_len = (size_t)rc;
  hs->viewable = 1;
  return hss_judge(hs);
}

int wsv_hs_server_parse_h2(struct wsv_hs_server *hs,
                           const struct wsv_header *fields, size_t n) {
  size_t i;
  if (hs == NULL || (fields == NULL && n > 0) || hs->in_hook || hs->h2 ||
      hs->seen > 0 || hs->result != WSV_HS_INCOMPLETE)
    return WSV_ERR_INVAL;
  for (i = 0; i < n; i++)
    if ((fields[i].name.ptr == NULL && fields[i].name.len > 0) ||
        (fields[i].value.ptr == NULL && fields[i].value.len > 0))
      return WSV_ERR_INVAL;
  hs->h2 = 1;
  if (hss_h2_fields(hs, fields, n))
    return hs->result;
  hs->viewable = 1;
  return hss_h2_judge(hs);
}

int wsv_hs_server_is_h2(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->h2;
}

size_t wsv_hs_server_want(const struct wsv_hs_server *hs) {
  if (hs == NULL || hs->result != WSV_HS_INCOMPLETE)
    return 0;
  return hs->cfg.max_head_bytes - hs->seen;
}

static void hss_build_101(const struct wsv_hs_server *hs, struct hss_buf *b) {
  hss_put(b, "HTTP/1.1 101 Switching Protocols\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Accept: ");
  hss_put_n(b, hs->accept, sizeof hs->accept);
  hss_put(b, "\r\n");
  if (hs->subprotocol.len > 0) {
    hss_put(b, "Sec-WebSocket-Protocol: ");
    hss_put_n(b, hs->subprotocol.ptr, hs->subprotocol.len);
    hss_put(b, "\r\n");
  }
  if (hs->extensions.len > 0) {
    hss_put(b, "Sec-WebSocket-Extensions: ");
    hss_put_n(b, hs->extensions.ptr, hs->extensions.len);
    hss_put(b, "\r\n");
  }
  if (hs->cfg.extra_headers != NULL)
    hss_put(b, hs->cfg.extra_headers);
  hss_put(b, "\r\n");
}

static void hss_build_error(const struct wsv_hs_server *hs, struct hss_buf *b) {
  hss_put(b, "HTTP/1.1 ");
  hss_put_uint(b, (size_t)hs->status);
  hss_put(b, " ");
  hss_put(b, wsv_http_reason(hs->status));
  hss_put(b, "\r\n");
  if (hs->status == 426)
    hss_put(b, "Upgrade: websocket\r\n");
  if (hs->status == 405 || hs->err == WSV_ERR_HS_METHOD)
    hss_put(b, "Allow: GET\r\n");
  hss_put(b, "Sec-WebSocket-Version: ");
  hss_put_versions(b, hs->cfg.versions);
  hss_put(b, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Length: ");
  hss_put_uint(b, strlen(hs->reason) + 1);
  hss_put(b, hs->status == 426 ? "\r\nConnection: Upgrade, close\r\n\r\n"
                               : "\r\nConnection: close\r\n\r\n");
  hss_put(b, hs->reason);
  hss_put(b, "\n");
}

size_t wsv_hs_server_response(const struct wsv_hs_server *hs, char *out,
                              size_t cap) {
  struct hss_buf b;
  if (hs == NULL || (out == NULL && cap > 0))
    return 0;
  b.p = out;
  b.cap = cap;
  b.len = 0;
  if (hs->h2)
    return 0;
  if (hs->result == WSV_HS_ACCEPT)
    hss_build_101(hs, &b);
  else if (hs->result == WSV_HS_REJECT)
    hss_build_error(hs, &b);
  return b.len;
}

/* Append one field to out[0..cap) at *k (counted even when it does not
 * fit). */
static void hss_field(struct wsv_header *out, size_t cap, size_t *k,
                      const char *name, struct wsv_str value) {
  if (*k < cap) {
    out[*k].name = hss_str(name, strlen(name));
    out[*k].value = value;
  }
  (*k)++;
}

size_t wsv_hs_server_response_h2(const struct wsv_hs_server *hs,
                                 struct wsv_header *out, size_t cap) {
  size_t k = 0, i;
  if (hs == NULL || !hs->h2 || (out == NULL && cap > 0))
    return 0;
  if (hs->result == WSV_HS_ACCEPT) {
    if (hs->subprotocol.len > 0)
      hss_field(out, cap, &k, "sec-websocket-protocol", hs->subprotocol);
    if (hs->extensions.len > 0)
      hss_field(out, cap, &k, "sec-websocket-extensions", hs->extensions);
    for (i = 0; i < hs->nextra; i++) {
      if (k < cap)
        out[k] = hs->extra[i];
      k++;
    }
  } else if (hs->result == WSV_HS_REJECT) {
    hss_field(out, cap, &k, "sec-websocket-version",
              hss_str(hs->versions_text, strlen(hs->versions_text)));
    hss_field(out, cap, &k, "content-type",
              hss_str("text/plain; charset=utf-8", 25));
    if (hs->status == 405 || hs->err == WSV_ERR_HS_METHOD)
      hss_field(out, cap, &k, "allow", hss_str("CONNECT", 7));
  }
  return k;
}

int wsv_hs_server_close_after(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->result == WSV_HS_REJECT;
}

int wsv_hs_server_error(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->result != WSV_HS_ACCEPT ? hs->err : 0;
}

const char *wsv_hs_server_reason(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->result == WSV_HS_REJECT ? hs->reason : "";
}

int wsv_hs_server_status(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->result != WSV_HS_PLAIN_HTTP ? hs->status : 0;
}

size_t wsv_hs_server_head_len(const struct wsv_hs_server *hs) {
  return hs != NULL ? hs->head_len : 0;
}

int wsv_hs_server_version(const struct wsv_hs_server *hs) {
  return hs != NULL ? hs->version : -1;
}

struct wsv_str wsv_hs_server_method(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->viewable ? hs->head.method : hss_str(NULL, 0);
}

struct wsv_str wsv_hs_server_target(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->viewable ? hs->head.target : hss_str(NULL, 0);
}

struct wsv_str wsv_hs_server_path(const struct wsv_hs_server *hs) {
  return hs != NULL ? hs->path : hss_str(NULL, 0);
}

struct wsv_str wsv_hs_server_query(const struct wsv_hs_server *hs) {
  return hs != NULL ? hs->query : hss_str(NULL, 0);
}

struct wsv_str wsv_hs_server_origin(const struct wsv_hs_server *hs) {
  struct wsv_str v = hss_str(NULL, 0);
  if (hs != NULL && hs->viewable)
    (void)hss_count(hs, hss_origin_name(hs), &v);
  return v;
}

size_t wsv_hs_server_header(const struct wsv_hs_server *hs, const char *name,
                            struct wsv_str *value) {
  if (value != NULL)
    *value = hss_str(NULL, 0);
  size_t n;
  if (hs == NULL || name == NULL || !hs->viewable)
    return 0;
  n = hss_count(hs, name, value);
  /* HTTP/2 carries the Host in :authority (RFC 9113 §8.3.1). */
  if (n == 0 && hs->h2 && (hs->pseudo & HSS_PS_AUTHORITY) &&
      wsv_str_ieq(hss_str(name, strlen(name)), "host")) {
    if (value != NULL)
      *value = hs->authority;
    n = 1;
  }
  return n;
}

const struct wsv_header *wsv_hs_server_headers(const struct wsv_hs_server *hs,
                                               size_t *n) {
  size_t count = hs != NULL && hs->viewable ? hs->head.nheaders : 0;
  if (n != NULL)
    *n = count;
  return hs != NULL ? hs->headers : NULL;
}

int wsv_hs_server_list_next(const struct wsv_hs_server *hs, const char *name,
                            size_t *pos, struct wsv_str *elem) {
  if (hs == NULL || name == NULL || pos == NULL || elem == NULL ||
      !hs->viewable)
    return 0;
  return wsv_http_list_next(hss_hdrs(hs), hs->head.nheaders, name, pos, elem);
}

/* Setters are valid from the hook, or after acceptance. */
static int hss_can_set(const struct wsv_hs_server *hs) {
  return hs != NULL && hs->accepting;
}

int wsv_hs_server_select_subprotocol(struct wsv_hs_server *hs,
                                     const char *name) {
  size_t pos = 0, n;
  struct wsv_str e;
  if (!hss_can_set(hs))
    return WSV_ERR_STATE;
  hs->subprotocol = hss_str(NULL, 0);
  if (name == NULL)
    return 0;
  n = strlen(name);
  while (wsv_http_list_next(hss_hdrs(hs), hs->head.nheaders,
                            "Sec-WebSocket-Protocol", &pos, &e)) {
    if (e.len == n && memcmp(e.ptr, name, n) == 0) {
      hs->subprotocol = e;
      return 0;
    }
  }
  return WSV_ERR_INVAL;
}

struct wsv_str wsv_hs_server_subprotocol(const struct wsv_hs_server *hs) {
  return hs != NULL ? hs->subprotocol : hss_str(NULL, 0);
}

int wsv_hs_server_set_extensions(struct wsv_hs_server *hs,
                                 struct wsv_str value) {
  size_t i;
  if (!hss_can_set(hs))
    return WSV_ERR_STATE;
  if (value.ptr == NULL && value.len > 0)
    return WSV_ERR_INVAL;
  for (i = 0; i < value.len; i++) {
    unsigned char c = (unsigned char)value.ptr[i];
    if (!(c == '\t' || (c >= 0x20 && c < 0x7f)))
      return WSV_ERR_INVAL;
  }
  hs->extensions = value;
  return 0;
}

int wsv_hs_server_set_reason(struct wsv_hs_server *hs, const char *text) {
  size_t n = 0;
  if (hs == NULL || !hs->in_hook)
    return WSV_ERR_STATE;
  /* Every byte takes at least one byte of the reason: more than
   * HSS_HOOK_REASON_MAX of them are never all shown. */
  while (text != NULL && n <= HSS_HOOK_REASON_MAX && text[n] != '\0')
    n++;
  (void)wsv_str_escape(hs->reason, HSS_HOOK_REASON_MAX + 1, text, n, SIZE_MAX,
                       WSV_ESCAPE_HEX);
  return 0;
}

int wsv_hs_server_pmd(const struct wsv_hs_server *hs,
                      struct wsv_pmd_params *out) {
  struct wsv_header field;
  struct wsv_pmd_offer o;
  struct wsv_str e;
  size_t pos = 0;

  if (out == NULL)
    return 0;
  if (hs == NULL || !hs->accepting || hs->extensions.len == 0) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  if (hs->extensions.ptr == hs->pmd_answer) {
    *out = hs->pmd;
    return 1;
  }
  /* The accept hook set the value: read what it agreed to. */
  field.name = hss_str("x", 1);
  field.value = hs->extensions;
  while (wsv_http_list_next(&field, 1, "x", &pos, &e)) {
    if (wsv_pmd_parse(e.ptr, e.len, &o, NULL) != 1 ||
        o.client_max_window_bits < 0)
      continue;
    memset(out, 0, sizeof *out);
    out->enabled = 1;
    out->server_no_context_takeover = o.server_no_context_takeover;
    out->client_no_context_takeover = o.client_no_context_takeover;
    out->server_max_window_bits =
        o.server_max_window_bits > 0 ? o.server_max_window_bits : 15;
    out->client_max_window_bits =
        o.client_max_window_bits > 0 ? o.client_max_window_bits : 15;
    return 1;
  }
  memset(out, 0, sizeof *out);
  return 0;
}
