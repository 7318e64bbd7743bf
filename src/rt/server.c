/*
 * server.c - the WebSocket server: one worker per thread, each with its
 * own loop, its own SO_REUSEPORT listener, its own connections and topic
 * table (nothing shared on the hot path but an atomic connection count).
 * Accepting (EMFILE shed with a reserve fd), the opening handshake through
 * wsv_hs_server, plain-HTTP answers, the graceful close after an HTTP
 * answer (shutdown(SHUT_WR), read and discard, close), and the graceful
 * shutdown (1001 to everyone, wait, drop the rest).  With TLS, each
 * connection first runs its TLS handshake (tls.c); a client that speaks
 * plaintext to the TLS port gets a plaintext 400 and a graceful close.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rt_int.h"

#define SRV_ACCEPT_BATCH 64
#define SRV_MAX_THREADS 256
#define SRV_LINGER_SLACK 256 /* lingering 503s allowed past the limit */

/* Handshake state of a server connection (freed after the 101). */
struct srv_hs {
  struct wsv_hs_server *hs;
  char *buf;
  size_t len;
  size_t cap;
};

struct srv_worker {
  struct wsv_server *srv;
  struct wsv_loop *loop;
  int index;
  struct wsv__rt_watch listen;
  int reserve_fd;
  int shutting;
  int dropped;
  int stopped_seen;
  struct wsv_timer accept_timer;
  struct wsv_timer shutdown_timer;
  struct wsv_ws *conns;
  size_t nconns;
  struct wsv__rt_topics topics;
  /* A finished handshake's state, kept for the next one (one calloc of a
   * few KB less per handshake, and no holes between connections). */
  struct srv_hs *spare_hs;
  pthread_t thread;
  int has_thread;
  uint64_t last_shed_log;
};

struct wsv_server {
  struct wsv__rt_ctx ctx;
  struct wsv_hs_server_config hs_cfg;
  wsv_http_fn http;
  void *http_user;
  size_t max_connections;
  uint32_t linger_ms;
  size_t linger_bytes;
  uint32_t shutdown_timeout_ms;
  int handle_signals;
  int nthreads;
  uint16_t port;
  struct srv_worker *workers;
  struct wsv_signal *sig;
  atomic_size_t nconns;
  atomic_int stops;
  atomic_int state; /* 0 new, 1 running, 2 done */
  int background;
};

static const char srv_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 21\r\n"
                              "Retry-After: 1\r\n"
                              "Connection: close\r\n\r\n"
                              "too many connections\n";

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

/* ---- configuration ---------------------------------------------------------
 */

void wsv_server_config_init(struct wsv_server_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->host = "127.0.0.1";
  cfg->threads = 1;
  cfg->backlog = 511;
  wsv_hs_server_config_init(&cfg->handshake);
  wsv_conn_config_init(&cfg->conn);
  wsv__rt_limits_init(&cfg->limits);
  cfg->linger_ms = 1000;
  cfg->linger_bytes = 65536;
  cfg->shutdown_timeout_ms = 1500;
  cfg->read_buffer_size = 65536;
  cfg->output_budget = WSV_DEFAULT_OUTPUT_BUDGET;
  cfg->input_budget = WSV_DEFAULT_INPUT_BUDGET;
}

/* ---- connections: bookkeeping
 * ------------------------------------------------ */

static void srv_link(struct srv_worker *wk, struct wsv_ws *ws) {
  ws->worker = wk;
  ws->prev = NULL;
  ws->next = wk->conns;
  if (wk->conns != NULL)
    wk->conns->prev = ws;
  wk->conns = ws;
  wk->nconns++;
}

void wsv__rt_srv_unlink(struct wsv_ws *ws) {
  struct srv_worker *wk = ws->worker;
  if (ws->prev != NULL)
    ws->prev->next = ws->next;
  else if (wk->conns == ws)
    wk->conns = ws->next;
  if (ws->next != NULL)
    ws->next->prev = ws->prev;
  ws->prev = ws->next = NULL;
  wk->nconns--;
  if (ws->counted) {
    ws->counted = 0;
    atomic_fetch_sub(&wk->srv->nconns, 1);
  }
  if (wk->shutting && wk->nconns == 0)
    wsv_loop_stop(wk->loop);
}

static void srv_hs_destroy(struct srv_hs *h) {
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
  struct srv_worker *wk = ws->worker;
  if (wk->spare_hs != NULL || wk->shutting) {
    srv_hs_destroy(h);
    return;
  }
  wsv_hs_server_reset(h->hs);
  free(h->buf); /* only a request split across reads needed it */
  h->buf = NULL;
  h->len = h->cap = 0;
  wk->spare_hs = h;
}

/* Put a copy of an HTTP answer in ws->pre; 0 or -1. */
static int srv_set_pre(struct wsv_ws *ws, const char *p, size_t n) {
  char *q = wsv__rt_pre_new(ws, n);
  if (q == NULL)
    return -1;
  memcpy(q, p, n);
  return 0;
}

void wsv__rt_srv_linger(struct wsv_ws *ws) {
  const struct wsv_server *srv = ws->worker->srv;
  ws->phase = WS_LINGER;
  ws->lingered = 0; /* shares its place with ping_sent */
  ws->w.fn = wsv__rt_srv_on_event;
  wsv__rt_ws_timer(ws, WS_T_LINGER, srv->linger_ms ? srv->linger_ms : 1);
  wsv__rt_ws_want_flush(ws);
}

void wsv__rt_srv_timeout(struct wsv_ws *ws) {
  if (ws->tmode == WS_T_HANDSHAKE && ws->hs != NULL && ws->hs->len > 0 &&
      srv_set_pre(ws, srv_408, sizeof srv_408 - 1) == 0) {
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

/* Build the plain-HTTP answer from the callback's response. */
static int srv_http_answer(struct wsv_ws *ws, const struct wsv_hs_server *hs) {
  const struct wsv_server *srv = ws->worker->srv;
  static const char not_found[] = "not found\n";
  struct wsv_http_response res;
  memset(&res, 0, sizeof res);
  res.status = 404;
  res.body = not_found;
  res.body_len = sizeof not_found - 1;
  srv->http(hs, &res, srv->http_user);
  if (res.status < 100 || res.status > 599)
    res.status = 500;
  if (res.body == NULL)
    res.body_len = 0;
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
  struct wsv_str m = wsv_hs_server_method(hs);
  int head = m.len == 4 && memcmp(m.ptr, "HEAD", 4) == 0;
  char line[512];
  int n = snprintf(line, sizeof line,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n",
                   res.status, wsv__rt_status_text(res.status), ctype,
                   res.body_len);
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

static int srv_take_strings(struct wsv_ws *ws, const struct wsv_hs_server *hs) {
  struct wsv_str path = wsv_hs_server_path(hs);
  /* "/" needs no copy: wsv_ws_path gives it for NULL. */
  if (!(path.len == 1 && path.ptr[0] == '/')) {
    ws->path = wsv__rt_strndup(path.ptr, path.len);
    if (ws->path == NULL)
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
  static const char name[] = "\r\nsec-websocket-extensions:";
  size_t nl = sizeof name - 1;
  const char *p = ws->pre->data;
  size_t n = ws->pre->len;
  for (size_t i = 0; i + nl <= n; i++) {
    if (strncasecmp(p + i, name, nl) != 0)
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
  if (pre == NULL || srv_take_strings(ws, hs) != 0) {
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
  (void)wsv__rt_ws_opened(ws, WSV_ROLE_SERVER, (uint8_t *)p + head,
                          plen - head);
}

static void srv_hs_result(struct wsv_ws *ws, int r, char *p, size_t plen) {
  const struct wsv_hs_server *hs = ws->hs->hs;
  if (r == WSV_HS_ACCEPT) {
    srv_accepted(ws, p, plen);
    return;
  }
  int rc;
  if (r == WSV_HS_PLAIN_HTTP && ws->worker->srv->http != NULL) {
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

/* Keep the request bytes: append p[0..n) to the handshake buffer. */
static int srv_hs_keep(struct srv_hs *h, const char *p, size_t n) {
  if (h->len + n > h->cap) {
    size_t cap = h->cap ? h->cap : 1024;
    while (cap < h->len + n)
      cap *= 2;
    char *q = realloc(h->buf, cap);
    if (q == NULL)
      return -1;
    h->buf = q;
    h->cap = cap;
  }
  memcpy(h->buf + h->len, p, n);
  h->len += n;
  return 0;
}

static int srv_hs_alloc(struct wsv_ws *ws) {
  struct srv_worker *wk = ws->worker;
  if (wk->spare_hs != NULL) {
    ws->hs = wk->spare_hs;
    wk->spare_hs = NULL;
    return 0;
  }
  struct srv_hs *h = calloc(1, sizeof *h);
  if (h == NULL)
    return -1;
  if (wsv_hs_server_new(&h->hs, &ws->worker->srv->hs_cfg, NULL) != 0) {
    free(h);
    return -1;
  }
  ws->hs = h;
  return 0;
}

static void srv_hs_read(struct wsv_ws *ws) {
  struct wsv_loop *loop = ws->loop;
  if (ws->hs == NULL && srv_hs_alloc(ws) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  struct srv_hs *h = ws->hs;
  size_t want = wsv_hs_server_want(h->hs);
  size_t cap = want < loop->rbuf_cap ? want : loop->rbuf_cap;
  ssize_t n = wsv__rt_io_read(ws, loop->rbuf, cap > 0 ? cap : 1);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) { /* EOF or reset before the request was complete */
    if (n < 0 && errno == EPROTO)
      wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s", wsv__rt_tls_error(ws));
    wsv__rt_ws_terminate(ws, 0, "");
    return;
  }
  char *p = (char *)loop->rbuf;
  size_t plen = (size_t)n;
  if (h->len > 0) {
    if (srv_hs_keep(h, p, plen) != 0) {
      wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
      return;
    }
    p = h->buf;
    plen = h->len;
  }
  int r = wsv_hs_server_parse(h->hs, p, plen);
  if (r == WSV_HS_INCOMPLETE) {
    if (p != h->buf && srv_hs_keep(h, p, plen) != 0)
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

static void srv_linger_read(struct wsv_ws *ws) {
  struct wsv_loop *loop = ws->loop;
  const struct wsv_server *srv = ws->worker->srv;
  ssize_t n;
  do
    n = recv(ws->w.fd, loop->rbuf, loop->rbuf_cap, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n < 0) {
    wsv__rt_ws_terminate(ws, 0, "");
    return;
  }
  if (n == 0) {
    ws->eof = 1;
    if (ws->pre == NULL) { /* answer written: done */
      wsv__rt_ws_terminate(ws, 0, "");
      return;
    }
    /* Still writing: stop polling for input (EOF stays readable). */
    (void)wsv__rt_watch_mod(loop, &ws->w, EPOLLOUT);
    return;
  }
  ws->lingered += (uint32_t)n;
  if (ws->lingered >= srv->linger_bytes)
    wsv__rt_ws_terminate(ws, 0, "");
}

/* The TLS handshake of a new connection: on to the request once done;
 * a plaintext client gets a 400 in plaintext. */
static void srv_tls_step(struct wsv_ws *ws) {
  int r = wsv__rt_tls_handshake(ws);
  if (r == 0)
    return;
  if (r == 1) {
    srv_hs_read(ws); /* the request may be in OpenSSL's buffer already */
    return;
  }
  char peer[80] = "?";
  (void)wsv_ws_peer(ws, peer, sizeof peer);
  if (r == 2) {
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s: plaintext on the TLS port: 400",
                peer);
    wsv__rt_tls_free(ws);
    (void)wsv__rt_watch_mod(ws->loop, &ws->w, EPOLLIN);
    if (srv_set_pre(ws, srv_400_tls, sizeof srv_400_tls - 1) != 0) {
      wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
      return;
    }
    wsv__rt_srv_linger(ws);
    return;
  }
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s: %s", peer, wsv__rt_tls_error(ws));
  wsv__rt_ws_terminate(ws, 0, "");
}

void wsv__rt_srv_on_event(struct wsv__rt_watch *w, uint32_t events) {
  struct wsv_ws *ws = (struct wsv_ws *)w;
  if (ws->phase == WS_HANDSHAKE && !wsv__rt_tls_ready(ws)) {
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

/* ---- accepting
 * ------------------------------------------------------------------ */

static void srv_new_conn(struct srv_worker *wk, int fd) {
  struct wsv_server *srv = wk->srv;
  size_t count = atomic_fetch_add(&srv->nconns, 1) + 1;
  int full = srv->max_connections > 0 && count > srv->max_connections;
  if (full && count > srv->max_connections + SRV_LINGER_SLACK) {
    atomic_fetch_sub(&srv->nconns, 1);
    close(fd);
    return;
  }
  struct wsv_ws *ws = wsv__rt_ws_new(wk->loop, &srv->ctx, fd, 0);
  if (ws == NULL) {
    atomic_fetch_sub(&srv->nconns, 1);
    close(fd);
    return;
  }
  ws->counted = 1;
  srv_link(wk, ws);
  ws->phase = WS_HANDSHAKE;
  ws->w.fn = wsv__rt_srv_on_event;
  if (wsv__rt_watch_add(wk->loop, &ws->w, EPOLLIN) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  wsv__rt_nodelay(fd);
  if (full && srv->ctx.tls != NULL) {
    /* A 503 would need a TLS handshake first: shed at once instead. */
    wsv__rt_ws_terminate(ws, 0, "");
    return;
  }
  if (srv->ctx.tls != NULL) {
    int rc = wsv__rt_tls_start(ws, srv->ctx.tls, NULL);
    if (rc != 0) {
      wsv__rt_ws_terminate(ws, rc, NULL);
      return;
    }
  }
  if (full) {
    if (srv_set_pre(ws, srv_503, sizeof srv_503 - 1) != 0) {
      wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
      return;
    }
    wsv__rt_log(&srv->ctx, WSV_LOG_DEBUG, "connection limit reached: 503");
    wsv__rt_srv_linger(ws);
    return;
  }
  wsv__rt_ws_timer(ws, WS_T_HANDSHAKE, srv->ctx.limits.handshake_timeout_ms);
}

static void srv_pause_accept(struct srv_worker *wk) {
  (void)wsv__rt_watch_mod(wk->loop, &wk->listen, 0);
  (void)wsv_timer_start(&wk->accept_timer, 100, 0);
}

static void srv_resume_accept(struct wsv_timer *t, void *user) {
  struct srv_worker *wk = user;
  (void)t;
  if (wk->listen.fd >= 0 && !wk->shutting)
    (void)wsv__rt_watch_mod(wk->loop, &wk->listen, EPOLLIN);
}

/* Out of fds: accept and close the waiting connections with the reserve
 * fd, so the level-triggered listener does not spin; pause if even that
 * fails. */
static void srv_shed(struct srv_worker *wk, int e) {
  if (wk->loop->now - wk->last_shed_log >= 1000) {
    wk->last_shed_log = wk->loop->now;
    wsv__rt_log(&wk->srv->ctx, WSV_LOG_WARN,
                "accept: %s; shedding new connections",
                e == EMFILE   ? "too many open files (EMFILE)"
                : e == ENFILE ? "file table full (ENFILE)"
                              : "out of memory");
  }
  if (wk->reserve_fd < 0) {
    srv_pause_accept(wk);
    return;
  }
  close(wk->reserve_fd);
  wk->reserve_fd = -1;
  for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
    int fd = accept4(wk->listen.fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      break;
    close(fd);
  }
  wk->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (wk->reserve_fd < 0)
    srv_pause_accept(wk);
}

static void srv_on_accept(struct wsv__rt_watch *w, uint32_t events) {
  struct srv_worker *wk =
      (struct srv_worker *)((char *)w - offsetof(struct srv_worker, listen));
  (void)events;
  for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      srv_new_conn(wk, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
        errno == EPERM)
      continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM)
      srv_shed(wk, errno);
    return; /* EAGAIN, or an error not worth a retry now */
  }
}

/* ---- shutdown ---------------------------------------------------------------
 */

static void srv_drop_all(struct srv_worker *wk) {
  wk->dropped = 1;
  while (wk->conns != NULL)
    wsv__rt_ws_terminate(wk->conns, WSV_ERR_CLOSED, "shutdown");
  wsv_loop_stop(wk->loop);
}

static void srv_shutdown_timeout(struct wsv_timer *t, void *user) {
  (void)t;
  srv_drop_all(user);
}

static void srv_close_listener(struct srv_worker *wk) {
  if (wk->listen.fd < 0)
    return;
  wsv__rt_watch_del(wk->loop, &wk->listen);
  close(wk->listen.fd);
  wk->listen.fd = -1;
  wsv_timer_stop(&wk->accept_timer);
}

static void srv_begin_shutdown(struct srv_worker *wk) {
  static const char going[] = "going away";
  wk->shutting = 1;
  srv_close_listener(wk);
  struct wsv_ws *ws = wk->conns;
  while (ws != NULL) {
    struct wsv_ws *next = ws->next;
    if (ws->phase == WS_HANDSHAKE) {
      wsv__rt_ws_terminate(ws, 0, "");
    } else if (ws->phase == WS_OPEN &&
               wsv__rt_ws_state(ws) == WSV_CONN_OPEN) {
      (void)wsv_ws_close(ws, 1001, going, sizeof going - 1);
    }
    ws = next;
  }
  if (wk->nconns == 0)
    wsv_loop_stop(wk->loop);
  else
    (void)wsv_timer_start(&wk->shutdown_timer, wk->srv->shutdown_timeout_ms, 0);
}

static void srv_on_wake(struct wsv_loop *loop, void *user) {
  struct srv_worker *wk = user;
  (void)loop;
  int stops = atomic_load(&wk->srv->stops);
  if (stops >= 1 && !wk->shutting) {
    if (wk->index == 0)
      wsv__rt_log(&wk->srv->ctx, WSV_LOG_INFO,
                  "shutting down: closing connections with 1001");
    srv_begin_shutdown(wk);
  }
  if (stops >= 2 && !wk->dropped)
    srv_drop_all(wk);
}

static void srv_on_signal(struct wsv_signal *sig, int signo, void *user) {
  (void)sig;
  (void)signo;
  wsv_server_stop(user);
}

void wsv_server_stop(struct wsv_server *srv) {
  if (srv == NULL)
    return;
  atomic_fetch_add(&srv->stops, 1);
  for (int i = 0; i < srv->nthreads; i++)
    wsv__rt_loop_wake(srv->workers[i].loop);
}

/* ---- listening --------------------------------------------------------------
 */

static int srv_listen_one(struct wsv_server *srv, const struct addrinfo *ai,
                          struct sockaddr_storage *ss, int backlog) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (srv->nthreads > 1 &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    goto fail;
  if (bind(fd, (struct sockaddr *)ss, ai->ai_addrlen) != 0 ||
      listen(fd, backlog) != 0)
    goto fail;
  return fd;
fail:;
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}

static void srv_set_port(struct sockaddr_storage *ss, uint16_t port) {
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
  else
    ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
}

/* Bind every worker's listener on one address; 0 or -1 (errno set). */
static int srv_bind_all(struct wsv_server *srv, const struct addrinfo *ai,
                        int backlog) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
  for (int i = 0; i < srv->nthreads; i++) {
    int fd = srv_listen_one(srv, ai, &ss, backlog);
    if (fd < 0) {
      int e = errno;
      for (int j = 0; j < i; j++) {
        close(srv->workers[j].listen.fd);
        srv->workers[j].listen.fd = -1;
      }
      errno = e;
      return -1;
    }
    srv->workers[i].listen.fd = fd;
    if (i == 0) {
      struct sockaddr_storage b;
      socklen_t bl = sizeof b;
      if (getsockname(fd, (struct sockaddr *)&b, &bl) == 0)
        srv->port = ntohs(b.ss_family == AF_INET
                              ? ((struct sockaddr_in *)(void *)&b)->sin_port
                              : ((struct sockaddr_in6 *)(void *)&b)->sin6_port);
      srv_set_port(&ss, srv->port);
    }
  }
  return 0;
}

static int srv_listen(struct wsv_server *srv, const char *host, uint16_t port,
                      int backlog) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", (unsigned)port);
  int g = getaddrinfo(host, ps, &hints, &res);
  if (g != 0) {
    wsv__rt_log(&srv->ctx, WSV_LOG_ERROR, "listen: cannot resolve %s: %s", host,
                gai_strerror(g));
    errno = EINVAL;
    return WSV_ERR_INVAL;
  }
  int rc = WSV_ERR_INVAL;
  int e = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    if (srv_bind_all(srv, ai, backlog) == 0) {
      rc = 0;
      break;
    }
    e = errno;
    wsv__rt_log(&srv->ctx, WSV_LOG_ERROR, "bind %s:%u: %s", host,
                (unsigned)port, strerror(e));
    rc = e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS
             ? WSV_ERR_NOMEM
             : WSV_ERR_INVAL;
  }
  freeaddrinfo(res);
  if (rc != 0)
    errno = e;
  return rc;
}

/* ---- creating and freeing
 * ---------------------------------------------------- */

static int srv_check(const struct wsv_server_config *cfg) {
  if (cfg->threads < 1 || cfg->threads > SRV_MAX_THREADS || cfg->backlog < 1 ||
      cfg->conn.stream != 0 || cfg->host == NULL ||
      cfg->limits.send_low_water > cfg->limits.send_high_water ||
      (cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL))
    return WSV_ERR_INVAL;
  /* Output is counted per connection in 32 bits (ws->out_counted); the
   * runtime sets msg_reserve itself. */
  if ((cfg->output_budget != 0 &&
       cfg->conn.max_output > (size_t)UINT32_MAX - ((size_t)1 << 20)) ||
      (cfg->input_budget != 0 && cfg->conn.msg_reserve != NULL))
    return WSV_ERR_INVAL;
  struct wsv_hs_server *hs;
  int rc = wsv_hs_server_new(&hs, &cfg->handshake, NULL);
  if (rc != 0)
    return rc;
  wsv_hs_server_free(hs);
  struct wsv_conn *c;
  rc = wsv_conn_new(&c, WSV_ROLE_SERVER, &cfg->conn, NULL);
  if (rc != 0)
    return rc;
  wsv_conn_free(c);
  return 0;
}

static void srv_copy_config(struct wsv_server *srv,
                            const struct wsv_server_config *cfg) {
  srv->ctx.cb = cfg->callbacks;
  srv->ctx.user = cfg->user;
  srv->ctx.limits = cfg->limits;
  srv->ctx.conn = cfg->conn;
  srv->ctx.log = cfg->log;
  srv->ctx.log_user = cfg->log_user;
  srv->hs_cfg = cfg->handshake;
  srv->hs_cfg.plain_http =
      cfg->http != NULL ? WSV_HS_PLAIN_REPORT : WSV_HS_PLAIN_426;
  srv->http = cfg->http;
  srv->http_user = cfg->http_user;
  srv->max_connections = cfg->max_connections;
  srv->linger_ms = cfg->linger_ms;
  srv->linger_bytes = cfg->linger_bytes;
  srv->shutdown_timeout_ms = cfg->shutdown_timeout_ms;
  srv->handle_signals = cfg->handle_signals;
  srv->nthreads = cfg->threads;
}

static int srv_workers_new(struct wsv_server *srv, size_t rbuf) {
  srv->workers = calloc((size_t)srv->nthreads, sizeof *srv->workers);
  if (srv->workers == NULL)
    return WSV_ERR_NOMEM;
  for (int i = 0; i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    wk->srv = srv;
    wk->index = i;
    wk->listen.fd = -1;
    wk->listen.fn = srv_on_accept;
    wk->reserve_fd = -1;
    int rc = wsv_loop_new(&wk->loop);
    if (rc != 0)
      return rc;
    if (wsv__rt_loop_rbuf(wk->loop, rbuf) != 0)
      return WSV_ERR_NOMEM;
    wk->loop->wake_hook = srv_on_wake;
    wk->loop->wake_user = wk;
    wsv__rt_timer_init(&wk->accept_timer, wk->loop, srv_resume_accept, wk);
    wsv__rt_timer_init(&wk->shutdown_timer, wk->loop, srv_shutdown_timeout, wk);
    wk->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  return 0;
}

/* Load the certificate and key (TLS servers); 0 or WSV_ERR_INVAL. */
static int srv_tls_load(struct wsv_server *srv,
                        const struct wsv_server_config *cfg) {
  if (cfg->tls_cert_file == NULL)
    return 0;
  char err[400];
  srv->ctx.tls = wsv__rt_tls_server_ctx(cfg->tls_cert_file, cfg->tls_key_file,
                                        err, sizeof err);
  if (srv->ctx.tls != NULL)
    return 0;
  wsv__rt_log(&srv->ctx, WSV_LOG_ERROR, "%s", err);
  errno = EINVAL;
  return WSV_ERR_INVAL;
}

void wsv_server_free(struct wsv_server *srv) {
  if (srv == NULL)
    return;
  for (int i = 0; srv->workers != NULL && i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    if (wk->loop == NULL)
      continue;
    srv_close_listener(wk);
    while (wk->conns != NULL)
      wsv__rt_ws_terminate(wk->conns, WSV_ERR_CLOSED, "server freed");
    wsv__rt_ws_flush_pending(wk->loop);
    wsv__rt_ws_reap(wk->loop);
    wsv_timer_stop(&wk->shutdown_timer);
    wsv_loop_free(wk->loop); /* runs queued posts (publishes) */
    wsv__rt_topics_free(&wk->topics);
    srv_hs_destroy(wk->spare_hs);
    wk->spare_hs = NULL;
    if (wk->reserve_fd >= 0)
      close(wk->reserve_fd);
  }
  wsv__rt_tls_ctx_free(srv->ctx.tls);
  wsv__rt_budget_free(srv->ctx.budget);
  free(srv->workers);
  free(srv);
}

int wsv_server_new(struct wsv_server **out,
                   const struct wsv_server_config *cfg) {
  if (out == NULL || cfg == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  int rc = srv_check(cfg);
  if (rc != 0)
    return rc;
  struct wsv_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return WSV_ERR_NOMEM;
  srv_copy_config(srv, cfg);
  atomic_init(&srv->nconns, 0);
  atomic_init(&srv->stops, 0);
  atomic_init(&srv->state, 0);
  size_t rbuf = cfg->read_buffer_size < 4096 ? 4096 : cfg->read_buffer_size;
  rc = srv_tls_load(srv, cfg);
  if (rc == 0)
    rc = wsv__rt_budget_new(&srv->ctx.budget, cfg->output_budget,
                            cfg->input_budget, cfg->threads);
  if (rc == 0 && srv->ctx.budget != NULL && cfg->input_budget != 0) {
    srv->ctx.conn.msg_reserve = wsv__rt_budget_reserve;
    srv->ctx.conn.msg_reserve_user = srv->ctx.budget;
  }
  if (rc == 0)
    rc = srv_workers_new(srv, rbuf);
  if (rc == 0)
    rc = srv_listen(srv, cfg->host, cfg->port, cfg->backlog);
  for (int i = 0; rc == 0 && i < srv->nthreads; i++)
    if (wsv__rt_watch_add(srv->workers[i].loop, &srv->workers[i].listen,
                          EPOLLIN) != 0)
      rc = WSV_ERR_NOMEM;
  if (rc != 0) {
    int e = errno;
    wsv_server_free(srv);
    errno = e;
    return rc;
  }
  *out = srv;
  return 0;
}

/* ---- running ----------------------------------------------------------------
 */

static void *srv_thread(void *arg) {
  struct srv_worker *wk = arg;
  (void)wsv_loop_run(wk->loop);
  return NULL;
}

static int srv_begin(struct wsv_server *srv) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&srv->state, &expected, 1))
    return WSV_ERR_STATE;
  if (srv->handle_signals) {
    static const int sigs[] = {SIGINT, SIGTERM};
    int rc = wsv_signal_start(srv->workers[0].loop, &srv->sig, sigs, 2,
                              srv_on_signal, srv);
    if (rc != 0) {
      atomic_store(&srv->state, 2);
      return rc;
    }
  }
  return 0;
}

static void srv_join_from(struct wsv_server *srv, int first) {
  for (int i = first; i < srv->nthreads; i++) {
    if (srv->workers[i].has_thread) {
      pthread_join(srv->workers[i].thread, NULL);
      srv->workers[i].has_thread = 0;
    }
  }
  wsv_signal_stop(srv->sig);
  srv->sig = NULL;
  atomic_store(&srv->state, 2);
}

/* Start threads for workers first..n-1; on failure stop and join them. */
static int srv_spawn(struct wsv_server *srv, int first) {
  for (int i = first; i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    if (pthread_create(&wk->thread, NULL, srv_thread, wk) != 0) {
      atomic_store(&srv->stops, 2);
      for (int j = 0; j < srv->nthreads; j++)
        wsv__rt_loop_wake(srv->workers[j].loop);
      srv_join_from(srv, first);
      return WSV_ERR_NOMEM;
    }
    wk->has_thread = 1;
  }
  return 0;
}

int wsv_server_run(struct wsv_server *srv) {
  if (srv == NULL)
    return WSV_ERR_INVAL;
  int rc = srv_begin(srv);
  if (rc != 0)
    return rc;
  rc = srv_spawn(srv, 1);
  if (rc != 0)
    return rc;
  int r0 = wsv_loop_run(srv->workers[0].loop);
  srv_join_from(srv, 1);
  return r0 < 0 ? r0 : 0;
}

int wsv_server_start(struct wsv_server *srv) {
  if (srv == NULL)
    return WSV_ERR_INVAL;
  int rc = srv_begin(srv);
  if (rc != 0)
    return rc;
  srv->background = 1;
  return srv_spawn(srv, 0);
}

int wsv_server_join(struct wsv_server *srv) {
  if (srv == NULL || !srv->background)
    return WSV_ERR_STATE;
  srv->background = 0;
  srv_join_from(srv, 0);
  return 0;
}

/* ---- accessors
 * ---------------------------------------------------------------- */

uint16_t wsv_server_port(const struct wsv_server *srv) {
  return srv == NULL ? 0 : srv->port;
}

int wsv_server_threads(const struct wsv_server *srv) {
  return srv == NULL ? 0 : srv->nthreads;
}

struct wsv_loop *wsv_server_loop(const struct wsv_server *srv, int i) {
  if (srv == NULL || i < 0 || i >= srv->nthreads)
    return NULL;
  return srv->workers[i].loop;
}

size_t wsv_server_connections(const struct wsv_server *srv) {
  if (srv == NULL)
    return 0;
  return atomic_load(&((struct wsv_server *)(uintptr_t)srv)->nconns);
}

struct wsv_server *wsv_ws_server(const struct wsv_ws *ws) {
  return ws == NULL || ws->worker == NULL ? NULL : ws->worker->srv;
}

const struct wsv_hs_server *wsv_ws_request(const struct wsv_ws *ws) {
  if (ws == NULL || !ws->in_open || ws->hs == NULL)
    return NULL;
  return ws->hs->hs;
}

int wsv__rt_srv_index(const struct srv_worker *wk) {
  return wk->index;
}

struct wsv_ws *wsv__rt_srv_conns(struct srv_worker *wk) {
  return wk->conns;
}

size_t wsv_server_output_queued(const struct wsv_server *srv) {
  return srv == NULL ? 0 : wsv__rt_budget_output(srv->ctx.budget);
}

size_t wsv_server_input_held(const struct wsv_server *srv) {
  return srv == NULL ? 0 : wsv__rt_budget_input(srv->ctx.budget);
}

struct wsv__rt_topics *wsv__rt_srv_topics(struct srv_worker *wk) {
  return &wk->topics;
}

/* ---- publishing across threads
 * --------------------------------------------------- */

/* One published message shared by every loop it is posted to. */
struct srv_pub {
  atomic_int refs;
  struct wsv_server *srv;
  int opcode;
  size_t topic_len;
  size_t len;
  char *topic; /* points into data[] after the payload */
  unsigned char data[];
};

static void srv_pub_deliver(struct wsv_loop *loop, void *user) {
  struct srv_pub *m = user;
  for (int i = 0; i < m->srv->nthreads; i++) {
    struct srv_worker *wk = &m->srv->workers[i];
    if (wk->loop == loop) {
      (void)wsv__rt_ps_deliver(&wk->topics, m->topic, m->topic_len, m->opcode,
                               m->data, m->len, NULL);
      break;
    }
  }
  if (atomic_fetch_sub(&m->refs, 1) == 1)
    free(m);
}

int wsv__rt_srv_post_publish(struct wsv_server *srv,
                             const struct srv_worker *except, const char *topic,
                             size_t topic_len, int opcode, const void *data,
                             size_t len) {
  int targets = srv->nthreads - (except != NULL ? 1 : 0);
  if (targets <= 0)
    return 0;
  struct srv_pub *m = malloc(sizeof *m + len + topic_len + 1);
  if (m == NULL)
    return WSV_ERR_NOMEM;
  atomic_init(&m->refs, targets);
  m->srv = srv;
  m->opcode = opcode;
  m->len = len;
  m->topic_len = topic_len;
  if (len > 0)
    memcpy(m->data, data, len);
  m->topic = (char *)m->data + len;
  memcpy(m->topic, topic, topic_len);
  m->topic[topic_len] = '\0';
  int rc = 0;
  for (int i = 0; i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    if (wk == except)
      continue;
    if (wsv_loop_post(wk->loop, srv_pub_deliver, m) != 0) {
      rc = WSV_ERR_NOMEM;
      if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
    }
  }
  return rc;
}

int wsv_server_publish(struct wsv_server *srv, const char *topic, int opcode,
                       const void *data, size_t len) {
  if (srv == NULL || topic == NULL || topic[0] == '\0' ||
      (data == NULL && len > 0) ||
      (opcode != WSV_OP_TEXT && opcode != WSV_OP_BINARY))
    return WSV_ERR_INVAL;
  size_t tl = strlen(topic);
  if (tl > 1024)
    return WSV_ERR_INVAL;
  if (opcode == WSV_OP_TEXT && wsv_utf8_valid(data, len) != WSV_OK)
    return WSV_ERR_INVAL;
  struct srv_worker *self = NULL;
  for (int i = 0; i < srv->nthreads; i++) {
    struct wsv_loop *l = srv->workers[i].loop;
    if (atomic_load(&l->running) && pthread_equal(l->owner, pthread_self())) {
      self = &srv->workers[i];
      break;
    }
  }
  int rc = wsv__rt_srv_post_publish(srv, self, topic, tl, opcode, data, len);
  if (rc != 0 || self == NULL)
    return rc;
  return wsv__rt_ps_deliver(&self->topics, topic, tl, opcode, data, len, NULL);
}
