/*
 * upgrade.c - a server connection from its first byte to its 101 or its
 * HTTP answer: the TLS handshake (a client speaking plaintext to the TLS
 * port gets a plaintext 400), reading the request into the handshake
 * state, wsv_hs_server, the plain-HTTP callback, error answers, and the
 * graceful close after an answer (shutdown(SHUT_WR), read and discard,
 * close).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2.h"
#include "server_int.h"

static const char srv_400_tls[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 45\r\n"
    "Connection: close\r\n\r\n"
    "this port speaks TLS: use https:// or wss://\n";

static const char srv_408[] = "HTTP/1.1 408 Request Timeout\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 16\r\n"
                              "Connection: close\r\n\r\n"
                              "request timeout\n";

void wsv__rt_srv_hs_destroy(struct srv_hs *h) {
  if (h != NULL) {
    wsv_hs_server_free(h->hs);
    free(h->buf);
    free(h);
  }
}

void wsv__rt_srv_free_hs(struct wsv_ws *ws) {
  struct srv_hs *h = ws->hs;
  if (h == NULL)
    return;
  ws->hs = NULL;
  wsv__rt_srv_hs_put(wsv__rt_worker_of(ws), h);
}

void wsv__rt_srv_hs_put(struct srv_worker *wk, struct srv_hs *h) {
  if (wk->spare_hs != NULL || wk->shutting) {
    wsv__rt_srv_hs_destroy(h);
    return;
  }
  wsv_hs_server_reset(h->hs);
  free(h->buf); /* only a request split across reads needed it */
  h->buf = NULL;
  h->len = h->cap = 0;
  wk->spare_hs = h;
}

/* Put a copy of an HTTP answer in ws->pre; 0 or -1. */
int wsv__rt_srv_set_pre(struct wsv_ws *ws, const char *p, size_t n) {
  char *q = wsv__rt_pre_new(ws, n);
  if (q == NULL)
    return -1;
  memcpy(q, p, n);
  return 0;
}

void wsv__rt_srv_linger(struct wsv_ws *ws) {
  const struct wsv_server *srv = wsv__rt_srv_of(ws);
  ws->phase = WS_LINGER;
  ws->lingered = 0; /* shares its place with ping_sent */
  ws->tp.ops = &wsv__rt_srv_hs_ops;
  wsv__rt_ws_timer(ws, WS_T_LINGER, srv->linger_ms ? srv->linger_ms : 1);
  wsv__rt_ws_want_flush(ws);
}

void wsv__rt_srv_timeout(struct wsv_ws *ws) {
  if (ws->tmode == WS_T_HANDSHAKE && ws->hs != NULL && ws->hs->len > 0 &&
      wsv__rt_srv_set_pre(ws, srv_408, sizeof srv_408 - 1) == 0) {
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "handshake timeout: 408");
    wsv__rt_srv_linger(ws);
    return;
  }
  wsv__rt_ws_terminate(ws, 0, "");
}

/* ---- plain HTTP
 * ---------------------------------------------------------------- */

static int srv_extra_ok(const char *h) {
  size_t n = strlen(h);
  if (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n')
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    if (c == '\n' && (i == 0 || h[i - 1] != '\r'))
      return 0;
    if (c == '\r' && (i + 1 >= n || h[i + 1] != '\n'))
      return 0;
    if (c == '\r' && i + 2 < n && h[i + 2] == '\r')
      return 0; /* an empty line would end the head early */
  }
  return 1;
}

int wsv__rt_srv_http_call(const struct wsv_server *srv,
                          const struct wsv_hs_server *hs,
                          struct wsv_http_response *res) {
  static const char not_found[] = "not found\n";
  memset(res, 0, sizeof *res);
  res->status = 404;
  res->body = not_found;
  res->body_len = sizeof not_found - 1;
  srv->http(hs, res, srv->http_user);
  if (res->status < 200 || res->status > 599)
    res->status = 500; /* no 1xx is a final answer */
  if (res->body == NULL)
    res->body_len = 0;
  struct wsv_str m = wsv_hs_server_method(hs);
  return m.len == 4 && memcmp(m.ptr, "HEAD", 4) == 0;
}

/* Build the plain-HTTP answer from the callback's response. */
static int srv_http_answer(struct wsv_ws *ws, const struct wsv_hs_server *hs) {
  const struct wsv_server *srv = wsv__rt_srv_of(ws);
  struct wsv_http_response res;
  int head = wsv__rt_srv_http_call(srv, hs, &res);
  const char *ctype =
      res.content_type != NULL ? res.content_type : "text/plain; charset=utf-8";
  const char *extra = "";
  if (res.headers != NULL && res.headers[0] != '\0') {
    if (srv_extra_ok(res.headers))
      extra = res.headers;
    else
      wsv__rt_log(ws->ctx, WSV_LOG_ERROR,
                  "http callback: malformed extra headers dropped");
  }
  char line[512];
  int n =
      snprintf(line, sizeof line,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
               "Content-Length: %zu\r\nConnection: close\r\n",
               res.status, wsv_http_reason(res.status), ctype, res.body_len);
  if (n < 0 || (size_t)n >= sizeof line)
    return -1;
  size_t xl = strlen(extra);
  size_t body = head ? 0 : res.body_len;
  size_t total = (size_t)n + xl + 2 + body;
  char *p = wsv__rt_pre_new(ws, total);
  if (p == NULL)
    return -1;
  memcpy(p, line, (size_t)n);
  memcpy(p + n, extra, xl);
  memcpy(p + (size_t)n + xl, "\r\n", 2);
  if (body > 0)
    memcpy(p + (size_t)n + xl + 2, res.body, body);
  return 0;
}

/* ---- the handshake
 * ---------------------------------------------------------------- */

int wsv__rt_srv_take_strings(struct wsv_ws *ws,
                             const struct wsv_hs_server *hs) {
  struct wsv_str path = wsv_hs_server_path(hs);
  /* "/" needs no copy: wsv_ws_path gives it for NULL. */
  if (!(path.len == 1 && path.ptr[0] == '/')) {
    if (wsv__rt_names(ws) == NULL ||
        (ws->names->path = wsv__rt_strndup(path.ptr, path.len)) == NULL)
      return -1;
  }
  struct wsv_str sp = wsv_hs_server_subprotocol(hs);
  if (sp.len > 0) {
    if (wsv__rt_names(ws) == NULL ||
        (ws->names->subprotocol = wsv__rt_strndup(sp.ptr, sp.len)) == NULL)
      return -1;
  }
  ws->version = (uint8_t)wsv_hs_server_version(hs);
  return 0;
}

/* Keep the Sec-WebSocket-Extensions value of the 101 in ws->pre (the
 * core writes at most one such line).  0 or -1 (no memory). */
static int srv_take_extensions(struct wsv_ws *ws) {
  static const char name[] = "sec-websocket-extensions:";
  size_t nl = sizeof name - 1;
  const char *p = ws->pre->data;
  size_t n = ws->pre->len;
  /* Only at the start of a field line (after a CRLF): one memchr per
   * line, not a comparison per byte. */
  for (const char *lf = memchr(p, '\n', n); lf != NULL;
       lf = memchr(lf + 1, '\n', n - (size_t)(lf + 1 - p))) {
    size_t i = (size_t)(lf + 1 - p);
    if (i + nl > n || (p[i] | 0x20) != 's' || strncasecmp(p + i, name, nl) != 0)
      continue;
    size_t a = i + nl;
    while (a < n && (p[a] == ' ' || p[a] == '\t'))
      a++;
    size_t b = a;
    while (b < n && p[b] != '\r')
      b++;
    while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
      b--;
    if (b == a)
      return 0;
    if (wsv__rt_names(ws) == NULL)
      return -1;
    ws->names->extensions = wsv__rt_strndup(p + a, b - a);
    return ws->names->extensions == NULL ? -1 : 0;
  }
  return 0;
}

static void srv_accepted(struct wsv_ws *ws, char *p, size_t plen) {
  const struct wsv_hs_server *hs = ws->hs->hs;
  size_t rlen = wsv_hs_server_response(hs, NULL, 0);
  char *pre = wsv__rt_pre_new(ws, rlen);
  if (pre == NULL || wsv__rt_srv_take_strings(ws, hs) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  ws->pre->len = wsv_hs_server_response(hs, pre, rlen);
  if (srv_take_extensions(ws) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  struct wsv_pmd_params pmd;
  memset(&pmd, 0, sizeof pmd);
  (void)wsv_hs_server_pmd(hs, &pmd);
  wsv__rt_pmd_pack(&ws->pmd, &pmd);
  size_t head = wsv_hs_server_head_len(hs);
  (void)wsv__rt_ws_opened(ws, (uint8_t *)p + head, plen - head);
}

static void srv_hs_result(struct wsv_ws *ws, int r, char *p, size_t plen) {
  const struct wsv_hs_server *hs = ws->hs->hs;
  if (r == WSV_HS_ACCEPT) {
    srv_accepted(ws, p, plen);
    return;
  }
  int rc;
  if (r == WSV_HS_PLAIN_HTTP && wsv__rt_srv_of(ws)->http != NULL) {
    rc = srv_http_answer(ws, hs);
  } else {
    size_t n = wsv_hs_server_response(hs, NULL, 0);
    rc = -1;
    char *pre = n > 0 ? wsv__rt_pre_new(ws, n) : NULL;
    if (pre != NULL) {
      ws->pre->len = wsv_hs_server_response(hs, pre, n);
      rc = 0;
    }
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "handshake rejected: %d %s",
                wsv_hs_server_status(hs), wsv_hs_server_reason(hs));
  }
  if (rc != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  wsv__rt_srv_linger(ws);
}

struct srv_hs *wsv__rt_srv_hs_get(struct srv_worker *wk) {
  if (wk->spare_hs != NULL) {
    struct srv_hs *h = wk->spare_hs;
    wk->spare_hs = NULL;
    return h;
  }
  struct srv_hs *h = calloc(1, sizeof *h);
  if (h == NULL)
    return NULL;
  if (wsv_hs_server_new(&h->hs, &wk->srv->hs_cfg, NULL) != 0) {
    free(h);
    return NULL;
  }
  return h;
}

static int srv_hs_alloc(struct wsv_ws *ws) {
  ws->hs = wsv__rt_srv_hs_get(wsv__rt_worker_of(ws));
  return ws->hs != NULL ? 0 : -1;
}

/* h2c with prior knowledge (RFC 9113 §3.3): 1 when p[0..n) begins with
 * the client preface, 0 when it is a strict beginning of it (read more),
 * -1 when it is not HTTP/2. */
static int srv_h2c_preface(const char *p, size_t n) {
  size_t k = n < WSV__H2_PREFACE_LEN ? n : WSV__H2_PREFACE_LEN;
  if (memcmp(p, WSV__H2_PREFACE, k) != 0)
    return -1;
  return n >= WSV__H2_PREFACE_LEN ? 1 : 0;
}

static void srv_hs_read(struct wsv_ws *ws) {
  struct wsv_loop *loop = ws->tp.loop;
  if (ws->hs == NULL && srv_hs_alloc(ws) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  struct srv_hs *h = ws->hs;
  size_t want = wsv_hs_server_want(h->hs);
  size_t cap = want < loop->rbuf_cap ? want : loop->rbuf_cap;
  ssize_t n = wsv__tp_read(&ws->tp, loop->rbuf, cap > 0 ? cap : 1);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) { /* EOF or reset before the request was complete */
    if (n < 0 && errno == EPROTO)
      wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s", wsv__rt_tls_error(&ws->tp));
    wsv__rt_ws_terminate(ws, 0, "");
    return;
  }
  char *p = (char *)loop->rbuf;
  size_t plen = (size_t)n;
  if (h->len > 0) {
    if (wsv__rt_append(&h->buf, &h->len, &h->cap, p, plen) != 0) {
      wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
      return;
    }
    p = h->buf;
    plen = h->len;
  }
  if (wsv__rt_srv_of(ws)->h2 && wsv__tp_tls(&ws->tp) == NULL) {
    int pre = srv_h2c_preface(p, plen);
    if (pre == 0) {
      if (p != h->buf &&
          wsv__rt_append(&h->buf, &h->len, &h->cap, p, plen) != 0)
        wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
      return;
    }
    if (pre == 1) {
      /* The bytes (p: the read buffer, or h->buf when the preface took
       * several reads) move to the HTTP/2 connection; the placeholder
       * ends. */
      char *keep = h->buf;
      h->buf = NULL;
      h->len = h->cap = 0;
      (void)wsv__rt_h2_server_take(ws, (const uint8_t *)p, plen);
      free(keep);
      return;
    }
  }
  int r = wsv_hs_server_parse(h->hs, p, plen);
  if (r == WSV_HS_INCOMPLETE) {
    if (p != h->buf && wsv__rt_append(&h->buf, &h->len, &h->cap, p, plen) != 0)
      wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  if (r < 0) {
    wsv__rt_ws_terminate(ws, r, NULL);
    return;
  }
  srv_hs_result(ws, r, p, plen);
  /* The 101 and the open callback are done (or the answer is queued):
   * the request bytes are no longer needed, unless a callback of this
   * very read still runs (it does not: we are back at the top). */
  if (ws->phase != WS_DEAD)
    wsv__rt_srv_free_hs(ws);
}

void wsv__rt_srv_hs_try(struct wsv_ws *ws) {
  srv_hs_read(ws);
}

static void srv_linger_read(struct wsv_ws *ws) {
  const struct wsv_server *srv = wsv__rt_srv_of(ws);
  int r = wsv__tp_drain(&ws->tp, &ws->lingered, srv->linger_bytes);
  if (r == 0) {
    ws->eof = 1;
    if (ws->pre != NULL)
      return; /* still writing: done on the EPOLLOUT after the answer */
  }
  if (r <= 0)
    wsv__rt_ws_terminate(ws, 0, "");
}

/* The TLS handshake of a new connection: on to the request once done;
 * a plaintext client gets a 400 in plaintext. */
static void srv_tls_step(struct wsv_ws *ws) {
  int r = wsv__rt_tls_handshake(&ws->tp);
  if (r == 0)
    return;
  if (r == 1 && strcmp(wsv__rt_tls_alpn(&ws->tp), "h2") == 0) {
    (void)wsv__rt_h2_server_take(ws, NULL, 0);
    return;
  }
  if (r == 1) {
    srv_hs_read(ws); /* the request may be in OpenSSL's buffer already */
    return;
  }
  char peer[80] = "?";
  (void)wsv_ws_peer(ws, peer, sizeof peer);
  if (r == 2) {
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s: plaintext on the TLS port: 400",
                peer);
    wsv__rt_tls_free(&ws->tp);
    (void)wsv__tp_interest(&ws->tp, EPOLLIN);
    if (wsv__rt_srv_set_pre(ws, srv_400_tls, sizeof srv_400_tls - 1) != 0) {
      wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
      return;
    }
    wsv__rt_srv_linger(ws);
    return;
  }
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s: %s", peer,
              wsv__rt_tls_error(&ws->tp));
  wsv__rt_ws_terminate(ws, 0, "");
}

static void srv_on_event(struct wsv__tp *tp, uint32_t events) {
  struct wsv_ws *ws = wsv__rt_ws_of(tp);
  if (ws->phase == WS_HANDSHAKE && !wsv__rt_tls_ready(&ws->tp)) {
    srv_tls_step(ws);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    if (ws->phase == WS_HANDSHAKE)
      srv_hs_read(ws);
    else if (ws->phase == WS_LINGER)
      srv_linger_read(ws);
  }
  if (ws->phase != WS_DEAD && (events & EPOLLOUT)) {
    (void)wsv__rt_ws_flush(ws);
    if (ws->phase == WS_LINGER && ws->eof && ws->shut)
      wsv__rt_ws_terminate(ws, 0, "");
  }
}

const struct wsv__tp_ops wsv__rt_srv_hs_ops = {
    srv_on_event, wsv__rt_ws_flush_op, wsv__rt_ws_timeout_op,
    wsv__rt_ws_free_op};
