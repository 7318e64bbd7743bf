/*
 * client.c - the WebSocket client: ws:// and wss:// URLs, resolution
 * (getaddrinfo, blocking, in wsv_client_connect), a non-blocking connect tried
 * on each resolved address in turn, the opening handshake through
 * wsv_hs_client, and the version retry on a new TCP connection (WSV_HSC_RETRY).
 * For wss://, the TLS handshake (tls.c) runs after each TCP connect and before
 * the request is sent.  Through a proxy (cfg->proxy, proxy.c), the proxy's
 * address is resolved and connected instead, and the CONNECT or SOCKS5
 * tunnel is set up on each TCP connection before TLS and the request.  A
 * refused handshake keeps the answer's status and Location for the fail
 * callback (wsv_client_status, wsv_client_location).  Once open, the
 * connection is driven by ws.c like a server's.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "h2_int.h"
#include "proxy.h"
#include "tls.h"
#include "ws_int.h"

#define CLI_MAX_ADDRS 8

struct cli_state {
  struct wsv_hs_client *hs;
  char *buf; /* the response so far */
  size_t len;
  size_t cap;
  struct sockaddr_storage addrs[CLI_MAX_ADDRS];
  socklen_t alen[CLI_MAX_ADDRS];
  int naddrs;
  int cur;
  char *host;              /* the URL's host (TLS: SNI and verification) */
  char addr[80];           /* the address being tried, as text */
  char errbuf[420];        /* the fail callback's text */
  int last_err;            /* the code of the last failed connect (errbuf's) */
  uint16_t port;           /* the URL's port */
  struct wsv__proxy proxy; /* kind WSV__PROXY_NONE: direct */
  int px_step;        /* the tunnel reply awaited (PX_*), 0 when none (or up) */
  int px_auth;        /* SOCKS5: we offered user/password */
  int status;         /* the refused answer's status, for wsv_client_status */
  char *location;     /* its Location, for wsv_client_location */
  int http;           /* cfg->http: an enum wsv_client_http */
  int h1_only;        /* HTTP/1.1 from now on (the h2 server had no setting) */
  struct wsv__h2 *h2; /* the HTTP/2 connection until the request is sent */
};

/* The tunnel replies a client awaits (cli_state's px_step). */
enum {
  PX_NONE = 0,
  PX_HTTP = 10, /* the CONNECT answer */
  PX_SOCKS5_METHOD = WSV__SOCKS5_METHOD,
  PX_SOCKS5_AUTH = WSV__SOCKS5_AUTH,
  PX_SOCKS5_REPLY = WSV__SOCKS5_REPLY
};

static void cli_on_event(struct wsv__tp *tp, uint32_t events);
static void cli_free(struct wsv_ws *ws);
static void cli_tls_step(struct wsv_ws *ws);
static void cli_send_request(struct wsv_ws *ws);
static void cli_tunnel_up(struct wsv_ws *ws);
static void cli_proxy_start(struct wsv_ws *ws);
static void cli_proxy_read(struct wsv_ws *ws);
static void cli_log_head(struct wsv_ws *ws, const char *prefix, const char *p,
                         size_t n);
static void cli_h2_start(struct wsv_ws *ws);
static void cli_open(struct wsv_ws *ws);

void wsv_client_config_init(struct wsv_client_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  wsv_hs_client_config_init(&cfg->handshake);
  wsv_conn_config_init(&cfg->conn);
  wsv__rt_limits_init(&cfg->limits);
  cfg->read_buffer_size = 65536;
}

/* ---- connecting ---------------------------------------------------------- */

/* Fail with "a" followed by "b" as the text. */
static void cli_fail(struct wsv_ws *ws, int err, const char *a, const char *b) {
  struct cli_state *c = ws->cli;
  snprintf(c->errbuf, sizeof c->errbuf, "%s%s", a, b);
  wsv__rt_ws_terminate(ws, err, c->errbuf);
}

static void cli_drop_socket(struct wsv_ws *ws) {
  wsv__rt_tls_free(&ws->tp);
  wsv__tp_close(&ws->tp);
}

/* Connect to the next address; on running out, fail with the last
 * error (already in errbuf). */
static void cli_attempt(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  while (c->cur < c->naddrs) {
    const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->cur];
    wsv__rt_addr_text(sa, c->alen[c->cur], c->addr, sizeof c->addr);
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      cli_fail(ws, wsv_err_from_errno(errno), "socket: ", strerror(errno));
      return;
    }
    wsv__rt_nodelay(fd);
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "connecting to %s", c->addr);
    int r;
    do
      r = connect(fd, sa, c->alen[c->cur]);
    while (r < 0 && errno == EINTR);
    if (r == 0 || errno == EINPROGRESS) {
      ws->tp.w.fd = fd;
      ws->phase = WS_CONNECTING;
      if (wsv__tp_watch(&ws->tp, EPOLLOUT) == 0)
        return;
      ws->tp.w.fd = -1;
    }
    c->last_err = wsv_err_from_errno(errno);
    snprintf(c->errbuf, sizeof c->errbuf, "connect to %s: %s", c->addr,
             strerror(errno));
    close(fd);
    c->cur++;
  }
  wsv__rt_ws_terminate(ws, c->last_err != 0 ? c->last_err : WSV_ERR_CLOSED,
                       c->errbuf);
}

/* Log an HTTP head line by line at WSV_LOG_DEBUG behind `prefix` ("> "
 * for the request, "< " for the response), for `wsv connect -v`.  Bytes
 * from the server are shown as printable ASCII only; an Authorization
 * field's credentials are not shown ("Authorization: (hidden)"). */
static void cli_log_head(struct wsv_ws *ws, const char *prefix, const char *p,
                         size_t n) {
  char line[256];
  size_t i = 0;
  while (i < n) {
    size_t j = i, k = 0;
    while (j < n && p[j] != '\r' && p[j] != '\n') {
      if (k < sizeof line - 1) {
        unsigned char ch = (unsigned char)p[j];
        line[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
      }
      j++;
    }
    line[k] = '\0';
    if (j == i)
      break; /* the blank line that ends the head */
    if (strncasecmp(line, "Authorization:", 14) == 0)
      snprintf(line + 14, sizeof line - 14, " (hidden)");
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s%s", prefix, line);
    i = j;
    if (i < n && p[i] == '\r')
      i++;
    if (i < n && p[i] == '\n')
      i++;
  }
}

/* Queue the current attempt's request. */
static int cli_queue_request(struct wsv_ws *ws) {
  size_t n = 0;
  if (wsv_hs_client_request(ws->cli->hs, NULL, 0, &n) != WSV_ERR_NOBUF)
    return WSV_ERR_STATE;
  char *p = wsv__rt_pre_new(ws, n + 1);
  if (p == NULL)
    return WSV_ERR_NOMEM;
  if (wsv_hs_client_request(ws->cli->hs, p, n + 1, &n) != WSV_OK) {
    wsv__rt_pre_free(ws);
    return WSV_ERR_STATE;
  }
  ws->pre->len = n; /* without the NUL */
  cli_log_head(ws, "> ", p, n);
  return 0;
}

/* Queue the request and write it (TCP connected, TLS done if any). */
static void cli_send_request(struct wsv_ws *ws) {
  int rc = cli_queue_request(ws);
  if (rc != 0) {
    wsv__rt_ws_terminate(ws, rc, NULL);
    return;
  }
  (void)wsv__tp_interest(&ws->tp, EPOLLIN);
  (void)wsv__rt_ws_flush(ws);
}

/* Drive the TLS handshake; send the request once it is done. */
static void cli_tls_step(struct wsv_ws *ws) {
  int r = wsv__rt_tls_handshake(&ws->tp);
  if (r == 0)
    return;
  if (r < 0) {
    cli_fail(ws, wsv__rt_tls_code(&ws->tp), wsv__rt_tls_error(&ws->tp), "");
    return;
  }
  struct wsv_tls_info ti;
  if (wsv__rt_tls_info(&ws->tp, &ti) == 1)
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "TLS: %s, %s, ALPN %s", ti.version,
                ti.cipher, ti.alpn != NULL ? ti.alpn : "none");
  if (strcmp(wsv__rt_tls_alpn(&ws->tp), "h2") == 0) {
    cli_h2_start(ws);
    return;
  }
  if (ws->cli->http == WSV_CLIENT_HTTP2) {
    cli_fail(ws, WSV_ERR_HS_STATUS,
             "the server does not speak HTTP/2 (ALPN did not pick h2)", "");
    return;
  }
  cli_send_request(ws);
}

/* ---- HTTP/2 (RFC 8441) -----------------------------------------------------
 * One connection of our own per client WebSocket: the server's SETTINGS
 * must allow extended CONNECT, then one stream carries the handshake and
 * the WebSocket.  The connection's `user` is the WebSocket until its
 * request is sent; the stream links them afterwards. */

/* Log the fields of an HTTP/2 header block behind `prefix`. */
static void cli_h2_log(struct wsv_ws *ws, const char *prefix,
                       const struct wsv_header *f, size_t n) {
  for (size_t i = 0; i < n; i++)
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "%s%.*s: %.*s", prefix,
                (int)f[i].name.len, f[i].name.ptr,
                (int)(f[i].value.len < 200 ? f[i].value.len : 200),
                f[i].value.ptr);
}

/* Send the extended CONNECT on a new stream. */
static void cli_h2_request(struct wsv_ws *ws, struct wsv__h2 *h) {
  struct wsv_header f[WSV__H2_MAX_ANSWER_FIELDS];
  int n = wsv_hs_client_request_h2(ws->cli->hs, f, WSV__H2_MAX_ANSWER_FIELDS);
  if (n < 0 || n > WSV__H2_MAX_ANSWER_FIELDS) {
    wsv__rt_ws_terminate(ws, n < 0 ? n : WSV_ERR_INVAL, NULL);
    return;
  }
  struct wsv__h2s *s = wsv__rt_h2_request(h, f, (size_t)n);
  if (s == NULL) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  h->user = NULL;
  /* The connection is the stream's from now on (ws->tp.h2s->h): it may
   * be freed before the WebSocket, so cli_free must not see it. */
  ws->cli->h2 = NULL;
  wsv__rt_h2_attach(s, ws);
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "HTTP/2: extended CONNECT on stream %d",
              (int)wsv__h2s_id(s));
  cli_h2_log(ws, "> ", f, (size_t)n);
}

/* The server's SETTINGS: extended CONNECT allowed, or HTTP/1.1 again. */
static void cli_h2_settings(struct wsv__h2 *h) {
  struct wsv_ws *ws = h->user;
  if (ws == NULL || ws->cli == NULL)
    return;
  struct cli_state *c = ws->cli;
  if (wsv__rt_h2_remote_connect_protocol(h)) {
    cli_h2_request(ws, h);
    return;
  }
  static const char why[] = "the server speaks HTTP/2 but does not announce "
                            "SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 3)";
  h->user = NULL;
  c->h2 = NULL;
  ws->tp.stream = 0;
  ws->tp.h2s = NULL;
  wsv__rt_h2_close(h, NULL);
  if (c->http == WSV_CLIENT_HTTP2) {
    cli_fail(ws, WSV_ERR_HS_STATUS, why, "");
    return;
  }
  wsv__rt_log(ws->ctx, WSV_LOG_INFO, "%s: HTTP/1.1 on a new connection", why);
  c->h1_only = 1;
  c->len = 0;
  cli_attempt(ws);
}

/* The answer to our extended CONNECT. */
static void cli_h2_headers(struct wsv__h2 *h, struct wsv__h2s *s) {
  struct wsv_ws *ws = s->ws;
  if (ws == NULL || ws->cli == NULL || ws->phase != WS_CLIENT_HS)
    return;
  struct cli_state *c = ws->cli;
  struct wsv_header f[WSV_HS_CLIENT_MAX_HEADERS + 1];
  size_t n = wsv__rt_h2_fields(s, f, WSV_HS_CLIENT_MAX_HEADERS + 1);
  cli_h2_log(ws, "< ", f, n);
  int status = 0;
  size_t first = 0;
  for (; first < n && f[first].name.len > 0 && f[first].name.ptr[0] == ':';
       first++)
    if (f[first].name.len == 7 && memcmp(f[first].name.ptr, ":status", 7) == 0)
      for (size_t i = 0; i < f[first].value.len; i++)
        status = status * 10 + (f[first].value.ptr[i] - '0');
  int r = wsv_hs_client_parse_h2(c->hs, status, f + first, n - first);
  if (r == WSV_HSC_OPEN) {
    cli_open(ws);
    return;
  }
  if (r == WSV_HSC_RETRY) {
    /* Another version, on a new stream of the same connection. */
    wsv__rt_log(ws->ctx, WSV_LOG_INFO, "%s on a new HTTP/2 stream",
                wsv_hs_client_reason(c->hs));
    wsv__tp_close(&ws->tp); /* detaches (and resets) the old stream */
    int rc = wsv_hs_client_retry(c->hs);
    if (rc != 0) {
      wsv__rt_ws_terminate(ws, rc, NULL);
      return;
    }
    ws->tp.stream = 1;
    cli_h2_request(ws, h);
    return;
  }
  c->status = status; /* for wsv_client_status during fail */
  cli_fail(ws, r < 0 ? r : WSV_ERR_STATE, wsv_hs_client_reason(c->hs), "");
}

/* The connection goes: a WebSocket still waiting for SETTINGS fails. */
static void cli_h2_gone(struct wsv__h2 *h) {
  struct wsv_ws *ws = h->user;
  if (ws == NULL)
    return;
  h->user = NULL;
  if (ws->cli != NULL)
    ws->cli->h2 = NULL;
  ws->tp.h2s = NULL;
  cli_fail(ws, WSV_ERR_CLOSED,
           "the HTTP/2 connection ended before the server's SETTINGS: ",
           h->why != NULL ? h->why : "closed");
}

static void cli_h2_tls_step(struct wsv__h2 *h) {
  (void)h; /* the TLS handshake is done before the connection exists */
}

static const struct wsv__h2_role cli_h2_role = {
    cli_h2_headers, cli_h2_settings, NULL, cli_h2_gone, cli_h2_tls_step};

/* TLS agreed h2 (or h2c is forced): the socket becomes an HTTP/2
 * connection and the WebSocket waits for the server's SETTINGS. */
static void cli_h2_start(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  struct wsv__h2 *h =
      wsv__rt_h2_new(&ws->tp, 0, ws->ctx, &cli_h2_role,
                     WSV_HS_CLIENT_MAX_HEADERS, WSV_HS_CLIENT_MAX_HEADER_BYTES);
  if (h == NULL) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  h->user = ws;
  h->host = wsv__rt_strndup(c->host, strlen(c->host));
  h->port = c->port;
  c->h2 = h;
  ws->tp.stream = 1; /* no stream yet: the request waits for SETTINGS */
  ws->tp.h2s = NULL;
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "HTTP/2: connection to %s", c->addr);
  if (wsv__rt_h2_settings(h, 0) != 0)
    wsv__rt_h2_close(h, "out of memory");
  else
    wsv__tp_read_again(&h->tp); /* TLS may hold the server's SETTINGS */
}

static void cli_connected(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(ws->tp.w.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
    err = errno;
  if (err != 0) {
    c->last_err = wsv_err_from_errno(err);
    snprintf(c->errbuf, sizeof c->errbuf, "connect to %s: %s", c->addr,
             strerror(err));
    cli_drop_socket(ws);
    c->cur++;
    cli_attempt(ws);
    return;
  }
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "connected to %s%s", c->addr,
              c->proxy.kind != WSV__PROXY_NONE ? " (the proxy)" : "");
  ws->phase = WS_CLIENT_HS;
  c->len = 0;
  if (c->proxy.kind != WSV__PROXY_NONE) {
    cli_proxy_start(ws);
    return;
  }
  cli_tunnel_up(ws);
}

/* TCP (and the tunnel, if any) is up: TLS if wss, then the request. */
static void cli_tunnel_up(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  if (ws->ctx->tls != NULL) {
    int rc = wsv__rt_tls_start(&ws->tp, ws->ctx->tls, c->host);
    if (rc == 0 && c->h1_only && wsv__rt_tls_alpn_h1(&ws->tp) != 0)
      rc = WSV_ERR_NOMEM;
    if (rc != 0) {
      cli_fail(ws, rc, "TLS: cannot set up the connection to ", c->host);
      return;
    }
    cli_tls_step(ws);
    return;
  }
  if (c->http == WSV_CLIENT_HTTP2) {
    cli_h2_start(ws); /* h2c with prior knowledge */
    return;
  }
  cli_send_request(ws);
}

/* ---- the proxy tunnel ------------------------------------------------------
 */

/* Queue bytes to send to the proxy and write them. */
static int cli_proxy_send(struct wsv_ws *ws, const void *p, size_t n) {
  char *q = wsv__rt_pre_new(ws, n);
  if (q == NULL) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return -1;
  }
  memcpy(q, p, n);
  ws->pre->len = n;
  (void)wsv__tp_interest(&ws->tp, EPOLLIN);
  return wsv__rt_ws_flush(ws);
}

/* Fail naming the proxy: "proxy HOST:PORT: <why>". */
static void cli_proxy_fail(struct wsv_ws *ws, int err, const char *why) {
  struct cli_state *c = ws->cli;
  snprintf(c->errbuf, sizeof c->errbuf, "proxy %s: %s", c->addr, why);
  wsv__rt_ws_terminate(ws, err, c->errbuf);
}

/* Connected to the proxy: send the CONNECT request or the greeting. */
static void cli_proxy_start(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  if (c->proxy.kind == WSV__PROXY_HTTP) {
    char req[2048];
    size_t n = wsv__proxy_connect_request(&c->proxy, c->host, c->port, req,
                                          sizeof req);
    if (n == 0) {
      cli_proxy_fail(ws, WSV_ERR_INVAL, "the CONNECT request is too long");
      return;
    }
    c->px_step = PX_HTTP;
    wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "proxy: CONNECT %s:%u%s", c->host,
                (unsigned)c->port,
                c->proxy.user != NULL ? " (with Proxy-Authorization)" : "");
    (void)cli_proxy_send(ws, req, n);
    memset(req, 0, sizeof req);
    return;
  }
  uint8_t g[4];
  size_t n = wsv__socks5_greeting(&c->proxy, g);
  c->px_auth = c->proxy.user != NULL;
  c->px_step = PX_SOCKS5_METHOD;
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "proxy: SOCKS5 greeting%s",
              c->px_auth ? " (offering user/password)" : "");
  (void)cli_proxy_send(ws, g, n);
}

/* The SOCKS5 CONNECT request for the server. */
static int cli_socks5_connect(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  uint8_t req[262];
  size_t n = wsv__socks5_connect(c->host, c->port, req);
  if (n == 0) {
    cli_proxy_fail(ws, WSV_ERR_INVAL, "the host name is too long for SOCKS5");
    return -1;
  }
  c->px_step = PX_SOCKS5_REPLY;
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "proxy: SOCKS5 CONNECT %s:%u", c->host,
              (unsigned)c->port);
  return cli_proxy_send(ws, req, n);
}

/* One complete reply of `used` bytes for the current step arrived: take
 * the next step.  Returns 0 or -1 (terminated). */
static int cli_proxy_next(struct wsv_ws *ws, size_t used, int method) {
  struct cli_state *c = ws->cli;
  if (c->len > used) {
    cli_proxy_fail(ws, WSV_ERR_PROXY,
                   "the proxy sent more than its answer before the tunnel was "
                   "up");
    return -1;
  }
  c->len = 0;
  if (c->px_step == PX_SOCKS5_METHOD && method == 2) {
    uint8_t a[513];
    size_t n = wsv__socks5_auth(&c->proxy, a);
    c->px_step = PX_SOCKS5_AUTH;
    int rc = cli_proxy_send(ws, a, n);
    memset(a, 0, sizeof a);
    return rc;
  }
  if (c->px_step == PX_SOCKS5_METHOD || c->px_step == PX_SOCKS5_AUTH)
    return cli_socks5_connect(ws);
  wsv__rt_log(ws->ctx, WSV_LOG_DEBUG, "proxy: tunnel to %s:%u is up", c->host,
              (unsigned)c->port);
  c->px_step = PX_NONE;
  cli_tunnel_up(ws);
  return 0;
}

/* Read the proxy's answer (before any TLS). */
static void cli_proxy_read(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  struct wsv_loop *loop = ws->tp.loop;
  ssize_t n = wsv__tp_read(&ws->tp, loop->rbuf, loop->rbuf_cap);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) {
    cli_proxy_fail(ws, n == 0 ? WSV_ERR_PROXY : wsv_err_from_errno(errno),
                   n == 0 ? "the proxy closed the connection before the "
                            "tunnel was up"
                          : strerror(errno));
    return;
  }
  if (c->len + (size_t)n > WSV__PROXY_MAX_HEAD + 1)
    n = (ssize_t)(WSV__PROXY_MAX_HEAD + 1 - c->len); /* enough to judge */
  if (wsv__rt_append(&c->buf, &c->len, &c->cap, loop->rbuf, (size_t)n) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  char why[256];
  int method = 0, status = 0;
  int r =
      c->px_step == PX_HTTP
          ? wsv__proxy_connect_answer(c->buf, c->len, &status, why, sizeof why)
          : wsv__socks5_parse(c->px_step, (const uint8_t *)c->buf, c->len,
                              c->px_auth, &method, why, sizeof why);
  if (r == 0)
    return;
  if (c->px_step == PX_HTTP)
    cli_log_head(ws, "< ", c->buf, r > 0 ? (size_t)r : c->len);
  if (r < 0) {
    cli_proxy_fail(ws, r, why);
    return;
  }
  (void)cli_proxy_next(ws, (size_t)r, method);
}

/* ---- the handshake ------------------------------------------------------- */

static void cli_retry(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  wsv__rt_log(ws->ctx, WSV_LOG_INFO, "%s on a new connection",
              wsv_hs_client_reason(c->hs));
  cli_drop_socket(ws);
  wsv__rt_pre_free(ws);
  int rc = wsv_hs_client_retry(c->hs);
  if (rc != 0) {
    wsv__rt_ws_terminate(ws, rc, NULL);
    return;
  }
  c->len = 0;
  cli_attempt(ws);
}

static void cli_open(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  const char *sp = wsv_hs_client_subprotocol(c->hs);
  if (sp != NULL &&
      (wsv__rt_names(ws) == NULL ||
       (ws->names->subprotocol = wsv__rt_strndup(sp, strlen(sp))) == NULL)) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  ws->version = (uint8_t)wsv_hs_client_version(c->hs);
  const char *ext = wsv_hs_client_extensions(c->hs);
  if (ext != NULL && ext[0] != '\0' &&
      (wsv__rt_names(ws) == NULL ||
       (ws->names->extensions = wsv__rt_strndup(ext, strlen(ext))) == NULL)) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  struct wsv_pmd_params pmd;
  memset(&pmd, 0, sizeof pmd);
  (void)wsv_hs_client_pmd(c->hs, &pmd);
  wsv__rt_pmd_pack(&ws->pmd, &pmd);
  if (ws->tp.stream) {
    (void)wsv__rt_ws_opened(ws, NULL, 0);
  } else {
    size_t head = wsv_hs_client_head_len(c->hs);
    (void)wsv__rt_ws_opened(ws, (uint8_t *)c->buf + head, c->len - head);
  }
  if (ws->phase != WS_DEAD)
    cli_free(ws);
}

/* A refused handshake: keep its status and (3xx) its Location for
 * wsv_client_status / wsv_client_location during `fail`. */
static void cli_keep_refusal(struct wsv_ws *ws, size_t head) {
  struct cli_state *c = ws->cli;
  c->status = wsv_hs_client_status(c->hs);
  if (c->status < 300 || c->status > 399 || head == 0 || head > c->len)
    return;
  struct wsv_header hdrs[WSV_HS_CLIENT_MAX_HEADERS];
  struct wsv_http_head h;
  memset(&h, 0, sizeof h);
  h.headers = hdrs;
  h.max_headers = sizeof hdrs / sizeof hdrs[0];
  h.max_bytes = head;
  struct wsv_str loc;
  if (wsv_http_parse_response(&h, c->buf, head) <= 0 ||
      wsv_http_count(hdrs, h.nheaders, "Location", &loc) != 1 || loc.len == 0)
    return;
  for (size_t i = 0; i < loc.len; i++)
    if ((unsigned char)loc.ptr[i] <= 0x20 || (unsigned char)loc.ptr[i] >= 0x7f)
      return;
  c->location = wsv__rt_strndup(loc.ptr, loc.len); /* NULL: none shown */
}

static void cli_read(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  struct wsv_loop *loop = ws->tp.loop;
  ssize_t n = wsv__tp_read(&ws->tp, loop->rbuf, loop->rbuf_cap);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) {
    if (n == 0)
      cli_fail(ws, WSV_ERR_CLOSED,
               "the server closed the connection during the handshake", "");
    else if (errno == EPROTO && wsv__tp_tls(&ws->tp) != NULL)
      cli_fail(ws, wsv__rt_tls_code(&ws->tp), wsv__rt_tls_error(&ws->tp), "");
    else
      cli_fail(ws, wsv_err_from_errno(errno),
               "handshake read: ", strerror(errno));
    return;
  }
  if (wsv__rt_append(&c->buf, &c->len, &c->cap, loop->rbuf, (size_t)n) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  int r = wsv_hs_client_parse(c->hs, c->buf, c->len);
  if (r == WSV_HSC_INCOMPLETE)
    return;
  size_t head = wsv_hs_client_head_len(c->hs);
  cli_log_head(ws, "< ", c->buf, head > 0 && head <= c->len ? head : c->len);
  if (r == WSV_HSC_OPEN) {
    cli_open(ws);
  } else if (r == WSV_HSC_RETRY) {
    cli_retry(ws);
  } else {
    cli_keep_refusal(ws, head);
    cli_fail(ws, r < 0 ? r : WSV_ERR_STATE, wsv_hs_client_reason(c->hs), "");
  }
}

static void cli_on_event(struct wsv__tp *tp, uint32_t events) {
  struct wsv_ws *ws = wsv__rt_ws_of(tp);
  if (ws->phase == WS_CONNECTING) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      cli_connected(ws);
    return;
  }
  if (ws->cli != NULL && ws->cli->px_step != PX_NONE) {
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      cli_proxy_read(ws);
    if (ws->phase == WS_CLIENT_HS && (events & EPOLLOUT))
      (void)wsv__rt_ws_flush(ws);
    return;
  }
  if (!wsv__rt_tls_ready(&ws->tp)) {
    cli_tls_step(ws);
    return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ||
      ((events & EPOLLOUT) && wsv__tp_read_wants_out(tp)))
    cli_read(ws);
  if (ws->phase == WS_CLIENT_HS && (events & EPOLLOUT))
    (void)wsv__rt_ws_flush(ws);
}

/* ---- the loop's clients --------------------------------------------------
 * A loop extension: the client connections of a loop, dropped (close or
 * fail callback) when the loop is freed. */
struct cli_set {
  struct wsv_ws *first; /* by prev/next */
};

static void cli_set_close(struct wsv_loop *loop, void *ext) {
  struct cli_set *s = ext;
  (void)loop;
  while (s->first != NULL)
    wsv__rt_ws_terminate(s->first, WSV_ERR_CLOSED, "loop freed");
}

static const struct wsv__rt_ext_type cli_set_type = {sizeof(struct cli_set),
                                                     NULL, cli_set_close, NULL};

static void cli_link(struct cli_set *s, struct wsv_ws *ws) {
  ws->prev = NULL;
  ws->next = s->first;
  if (s->first != NULL)
    s->first->prev = ws;
  s->first = ws;
}

static void cli_unlink(struct wsv_ws *ws) {
  struct cli_set *s = wsv__rt_loop_ext_find(ws->tp.loop, &cli_set_type);
  if (ws->prev != NULL)
    ws->prev->next = ws->next;
  else if (s != NULL && s->first == ws)
    s->first = ws->next;
  if (ws->next != NULL)
    ws->next->prev = ws->prev;
  ws->prev = ws->next = NULL;
}

static void cli_timeout(struct wsv_ws *ws) {
  wsv__rt_ws_terminate(ws, WSV_ERR_ETIMEDOUT, "handshake timeout");
}

static void cli_release(struct wsv_ws *ws) {
  cli_free(ws);
  wsv__rt_tls_ctx_free(ws->ctx->tls); /* a client's own context */
}

static const struct wsv__rt_role cli_role = {WSV_ROLE_CLIENT, 1, cli_unlink,
                                             cli_timeout, cli_release};

static const struct wsv__tp_ops cli_ops = {cli_on_event, wsv__rt_ws_flush_op,
                                           wsv__rt_ws_timeout_op,
                                           wsv__rt_ws_free_op};

static void cli_free(struct wsv_ws *ws) {
  struct cli_state *c = ws->cli;
  if (c == NULL)
    return;
  /* The fail callback's text lives in c->errbuf: keep it readable. */
  if (ws->err_text == c->errbuf)
    ws->err_text = wsv_strerror(ws->err);
  if (c->h2 != NULL && c->h2->user == ws) {
    /* Still waiting for the server's SETTINGS: the connection goes. */
    c->h2->user = NULL;
    wsv__rt_h2_close(c->h2, NULL);
  }
  wsv_hs_client_free(c->hs);
  free(c->buf);
  free(c->host);
  free(c->location);
  wsv__proxy_free(&c->proxy);
  free(c);
  ws->cli = NULL;
}

int wsv_client_status(const struct wsv_ws *ws) {
  return ws == NULL || ws->phase != WS_DEAD || ws->cli == NULL
             ? 0
             : ws->cli->status;
}

const char *wsv_client_location(const struct wsv_ws *ws) {
  return ws == NULL || ws->phase != WS_DEAD || ws->cli == NULL
             ? NULL
             : ws->cli->location;
}

/* ---- wsv_client_connect -----------------------------------------------------
 */

static int cli_resolve(struct cli_state *c, const struct wsv__rt_ctx *ctx,
                       const char *host, uint16_t port) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", (unsigned)port);
  int g = getaddrinfo(host, ps, &hints, &res);
  if (g != 0) {
    wsv__rt_log(ctx, WSV_LOG_ERROR, "cannot resolve %s: %s", host,
                g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    return wsv__rt_gai_code(g);
  }
  for (struct addrinfo *ai = res; ai != NULL && c->naddrs < CLI_MAX_ADDRS;
       ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof c->addrs[0])
      continue;
    memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
    c->alen[c->naddrs++] = (socklen_t)ai->ai_addrlen;
  }
  freeaddrinfo(res);
  if (c->naddrs == 0) {
    wsv__rt_log(ctx, WSV_LOG_ERROR, "cannot resolve %s: no address", host);
    return WSV_ERR_RESOLVE;
  }
  return 0;
}

/* Create the ws (with its own copy of the settings) and its handshake. */
static int cli_new(struct wsv_loop *loop, const struct wsv_client_config *cfg,
                   const struct wsv_url *u, const char *host,
                   struct wsv_ws **out) {
  struct wsv_ws *ws =
      wsv__rt_ws_new(loop, NULL, &cli_ops, -1, sizeof(struct wsv__rt_ctx));
  if (ws == NULL)
    return WSV_ERR_NOMEM;
  struct wsv__rt_ctx *ctx = (struct wsv__rt_ctx *)(void *)(ws + 1);
  ctx->role = &cli_role;
  ctx->cb = cfg->callbacks;
  ctx->user = cfg->user;
  ctx->limits = cfg->limits;
  ctx->conn = cfg->conn;
  ctx->log = cfg->log;
  ctx->log_user = cfg->log_user;
  ws->ctx = ctx;
  ws->cli = calloc(1, sizeof *ws->cli);
  if (ws->cli != NULL)
    ws->cli->host = wsv__rt_strndup(host, strlen(host));
  /* The request-target ("/?q" for "ws://h?q") and the resource name. */
  size_t tlen = wsv_url_target(u, NULL, 0);
  char *path = malloc(tlen + 1);
  if (path != NULL)
    (void)wsv_url_target(u, path, tlen + 1);
  if (path != NULL && wsv__rt_names(ws) != NULL)
    ws->names->path = wsv__rt_strndup(u->path.ptr, u->path.len);
  int rc = ws->cli == NULL || ws->cli->host == NULL || path == NULL ||
                   ws->names == NULL || ws->names->path == NULL
               ? WSV_ERR_NOMEM
               : 0;
  if (rc == 0) {
    /* HTTP/2 goes direct: through a proxy the client speaks HTTP/1.1. */
    ws->cli->http = cfg->proxy != NULL ? WSV_CLIENT_HTTP1 : cfg->http;
    if (cfg->http < WSV_CLIENT_HTTP_AUTO || cfg->http > WSV_CLIENT_HTTP2)
      rc = WSV_ERR_INVAL;
  }
  if (rc == 0 && u->secure && cfg->share == NULL) {
    char err[400];
    ctx->tls = wsv__rt_tls_client_ctx(cfg->tls_insecure, cfg->tls_cafile, err,
                                      sizeof err);
    if (ctx->tls == NULL) {
      wsv__rt_log(ctx, WSV_LOG_ERROR, "%s", err);
      rc = WSV_ERR_INVAL;
    } else if (ws->cli->http != WSV_CLIENT_HTTP1) {
      wsv__rt_tls_ctx_h2(ctx->tls, 1);
    }
  }
  if (rc == 0) {
    struct wsv_hs_client_config hc = cfg->handshake;
    hc.host = host;
    hc.port = u->port;
    hc.secure = u->secure;
    hc.path = path;
    rc = wsv_hs_client_new(&ws->cli->hs, &hc, NULL);
  }
  free(path);
  if (rc == 0 && cfg->proxy != NULL) {
    const char *why = NULL;
    rc = wsv__proxy_parse(&ws->cli->proxy, cfg->proxy, &why);
    if (rc == WSV_ERR_INVAL)
      wsv__rt_log(ctx, WSV_LOG_ERROR, "proxy %s: %s", cfg->proxy, why);
  }
  if (rc == 0 && cfg->share != NULL) {
    ws->cli->port = u->port; /* another stream: nothing to resolve */
  } else if (rc == 0) {
    ws->cli->port = u->port;
    if (ws->cli->proxy.kind != WSV__PROXY_NONE)
      rc = cli_resolve(ws->cli, ctx, ws->cli->proxy.host, ws->cli->proxy.port);
    else
      rc = cli_resolve(ws->cli, ctx, host, u->port);
  }
  if (rc != 0) {
    if (ws->cli != NULL) {
      wsv_hs_client_free(ws->cli->hs);
      free(ws->cli->host);
      wsv__proxy_free(&ws->cli->proxy);
    }
    wsv__rt_tls_ctx_free(ctx->tls);
    free(ws->cli);
    if (ws->names != NULL)
      free(ws->names->path);
    free(ws->names);
    free(ws);
    return rc;
  }
  *out = ws;
  return 0;
}

/* 0 when `share` is an open client WebSocket over HTTP/2 on `loop`
 * whose server is the one `u` names (scheme, host, port); else -1. */
static int cli_share_check(struct wsv_loop *loop, const struct wsv_ws *share,
                           const struct wsv_url *u) {
  if (share->tp.loop != loop || share->ctx->role != &cli_role ||
      !share->tp.stream || share->tp.h2s == NULL || share->phase != WS_OPEN ||
      share->tp.h2s->h->dead || share->tp.h2s->h->wk != NULL)
    return -1;
  const struct wsv__h2 *h = share->tp.h2s->h;
  if ((wsv__tp_tls(&h->tp) != NULL) != (u->secure != 0) || h->port != u->port ||
      h->host == NULL || strlen(h->host) != u->host.len ||
      strncasecmp(h->host, u->host.ptr, u->host.len) != 0)
    return -1;
  return 0;
}

int wsv_client_connect(struct wsv_loop *loop,
                       const struct wsv_client_config *cfg,
                       struct wsv_ws **out) {
  if (out != NULL)
    *out = NULL;
  if (loop == NULL || cfg == NULL || cfg->url == NULL || cfg->conn.stream != 0)
    return WSV_ERR_INVAL;
  struct wsv__rt_ctx logctx;
  memset(&logctx, 0, sizeof logctx);
  logctx.log = cfg->log;
  logctx.log_user = cfg->log_user;
  struct wsv_url u;
  const char *why = NULL;
  if (wsv_url_parse(&u, cfg->url, strlen(cfg->url), 0, &why) != WSV_OK) {
    wsv__rt_log(&logctx, WSV_LOG_ERROR, "%s: %s", cfg->url, why);
    return WSV_ERR_INVAL;
  }
  if (cfg->share != NULL && cli_share_check(loop, cfg->share, &u) != 0) {
    wsv__rt_log(&logctx, WSV_LOG_ERROR,
                "%s: cannot share: not an open client WebSocket over HTTP/2 "
                "to the same server on this loop",
                cfg->url);
    return WSV_ERR_INVAL;
  }
  char *host = wsv__rt_strndup(u.host.ptr, u.host.len);
  if (host == NULL)
    return WSV_ERR_NOMEM;
  size_t rbuf = cfg->read_buffer_size < 4096 ? 4096 : cfg->read_buffer_size;
  struct wsv_ws *ws = NULL;
  struct cli_set *set = wsv__rt_loop_ext(loop, &cli_set_type);
  int rc =
      set == NULL || wsv__rt_loop_rbuf(loop, rbuf) != 0 ? WSV_ERR_NOMEM : 0;
  if (rc == 0)
    rc = cli_new(loop, cfg, &u, host, &ws);
  if (rc != 0 && rc != WSV_ERR_NOMEM)
    wsv__rt_log(&logctx, WSV_LOG_ERROR, "%s: cannot connect: %s", cfg->url,
                wsv_strerror(rc));
  free(host);
  if (rc != 0)
    return rc;
  cli_link(set, ws);
  wsv__rt_ws_timer(ws, WS_T_HANDSHAKE, ws->ctx->limits.handshake_timeout_ms);
  if (cfg->share != NULL) {
    /* One more stream on the shared connection (checked above). */
    struct wsv__h2 *h = cfg->share->tp.h2s->h;
    ws->phase = WS_CLIENT_HS;
    ws->cli->h2 = h;
    snprintf(ws->cli->addr, sizeof ws->cli->addr, "a shared connection");
    ws->tp.stream = 1;
    cli_h2_request(ws, h);
  } else {
    cli_attempt(ws);
  }
  if (out != NULL)
    *out = ws;
  return 0;
}
