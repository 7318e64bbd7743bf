/*
 * ws.c - one WebSocket connection on a transport, for both roles: the
 * glue between the core's struct wsv_conn and the byte stream (h2o's
 * "proceed" idea).  Input: one read into the loop's shared buffer, every
 * event of it handled before the next read.  Output: sends only queue; at
 * the end of the loop iteration the transport's flush writes it with one
 * gather write (many frames as iovecs), and writability is watched only
 * when the socket would block.  Closed connections are finished (close
 * callback, free) when their transport is freed at the very end of the
 * iteration, so no callback ever runs on freed memory.  The side that
 * made the connection (server or client) is reached through its role
 * operations (ctx->role); this file knows neither.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "memcache.h"
#include "h2.h"
#include "ws_int.h"

#define WS_IOV 128
/* A failed connection whose socket still holds more than this unsent is
 * not reading: it gets until the close timer to take it, then a reset. */
#define WS_STUCK_BYTES 65536

void wsv__rt_limits_init(struct wsv_ws_limits *l) {
  l->handshake_timeout_ms = 10000;
  l->ping_interval_ms = 30000;
  l->pong_timeout_ms = 10000;
  l->close_timeout_ms = 5000;
  l->send_high_water = (size_t)1 << 20;
  l->send_low_water = (size_t)256 << 10;
  l->park_after_ms = 2000;
}

_Static_assert(sizeof(struct wsv_ws) <= 232,
               "struct wsv_ws outgrew its malloc chunk (idle memory)");

struct wsv_ws *wsv__rt_ws_new(struct wsv_loop *loop,
                              const struct wsv__rt_ctx *ctx,
                              const struct wsv__tp_ops *ops, int fd,
                              size_t extra) {
  struct wsv_ws *ws = calloc(1, sizeof *ws + extra);
  if (ws == NULL)
    return NULL;
  if (wsv__tp_init(&ws->tp, loop, ops, fd) != 0) {
    free(ws);
    return NULL;
  }
  ws->ctx = ctx;
  ws->last_recv = (uint32_t)loop->now;
  ws->err_text = "";
  return ws;
}

void wsv__rt_ws_timer(struct wsv_ws *ws, int mode, uint32_t ms) {
  ws->tmode = (uint8_t)mode;
  if (mode == WS_T_NONE)
    ms = 0;
  if (wsv__tp_timer(&ws->tp, ms) != 0)
    ws->tmode = WS_T_NONE; /* no memory for the heap: no timeout */
}

void wsv__rt_ws_want_flush(struct wsv_ws *ws) {
  wsv__tp_want_flush(&ws->tp);
}

char *wsv__rt_pre_new(struct wsv_ws *ws, size_t cap) {
  wsv__rt_pre_free(ws);
  if (cap > SIZE_MAX - sizeof *ws->pre)
    return NULL;
  ws->pre = malloc(sizeof *ws->pre + cap);
  if (ws->pre == NULL)
    return NULL;
  ws->pre->len = cap;
  ws->pre->off = 0;
  return ws->pre->data;
}

struct wsv__rt_names *wsv__rt_names(struct wsv_ws *ws) {
  if (ws->names == NULL)
    ws->names = calloc(1, sizeof *ws->names);
  return ws->names;
}

void wsv__rt_pre_free(struct wsv_ws *ws) {
  free(ws->pre);
  ws->pre = NULL;
}

/* ---- parking ----------------------------------------------------------------
 * An open connection's core conn is made on first use and freed again
 * ("parked") by the idle timer once wsv_conn_idle says it holds nothing;
 * ws->conn is NULL meanwhile, which reads as: open, nothing queued. */

void wsv__rt_pmd_pack(struct wsv__rt_pmd *to, const struct wsv_pmd_params *p) {
  to->enabled = p->enabled != 0;
  to->server_nct = p->server_no_context_takeover != 0;
  to->client_nct = p->client_no_context_takeover != 0;
  to->server_bits = (uint8_t)(p->server_max_window_bits & 0xff);
  to->client_bits = (uint8_t)(p->client_max_window_bits & 0xff);
}

void wsv__rt_pmd_unpack(struct wsv_pmd_params *to,
                        const struct wsv__rt_pmd *p) {
  to->enabled = p->enabled;
  to->server_no_context_takeover = p->server_nct;
  to->client_no_context_takeover = p->client_nct;
  to->server_max_window_bits = p->server_bits;
  to->client_max_window_bits = p->client_bits;
}

/* Count the conn's output in the server's output budget (if any): at
 * once after a write (what is left) and after a shed; after a send only
 * once WS_ACCOUNT_LAG bytes have piled up uncounted, since the write at
 * the end of the iteration counts the rest anyway (a small echo then
 * never touches the budget: its bytes are gone by the time it counts). */
#define WS_ACCOUNT_LAG 4096

/* `now` is wsv_conn_output_size(ws->conn). */
static inline void ws_account_size(struct wsv_ws *ws, size_t now, int lazy) {
  struct wsv__rt_budget *b = ws->ctx->budget;
  if (b != NULL && now != ws->out_counted &&
      (!lazy || now < ws->out_counted ||
       now - ws->out_counted >= WS_ACCOUNT_LAG))
    wsv__rt_budget_out(b, ws->share, &ws->out_counted, now, ws);
}

static void ws_account(struct wsv_ws *ws, int lazy) {
  if (ws->ctx->budget != NULL)
    ws_account_size(ws, wsv_conn_output_size(ws->conn), lazy);
}

/* ---- the shared compressor --------------------------------------------------
 * One per loop (a loop extension, so no global state): the server conns of
 * a thread borrow it for their large messages (wsv_conn_config.pmd_shared).
 * Its zlib state (about 262 KiB) is made on its first use. */
struct ws_pmd_ext {
  struct wsv_pmd_shared *shared;
};

static int ws_pmd_init(struct wsv_loop *loop, void *ext) {
  struct ws_pmd_ext *e = ext;
  (void)loop;
  return wsv_pmd_shared_new(&e->shared, NULL) == WSV_OK ? 0 : -1;
}

static void ws_pmd_free(struct wsv_loop *loop, void *ext) {
  struct ws_pmd_ext *e = ext;
  (void)loop;
  wsv_pmd_shared_free(e->shared);
  e->shared = NULL;
}

static const struct wsv__rt_ext_type ws_pmd_type = {
    sizeof(struct ws_pmd_ext), ws_pmd_init, NULL, ws_pmd_free};

/* A server conn's compression settings for the server's policy.  Without
 * the shared compressor (no memory) the conn compresses everything with
 * its own deflater, which is as valid. */
static void ws_pmd_config(struct wsv_ws *ws, struct wsv_conn_config *cfg) {
  struct ws_pmd_ext *e;
  if (!ws->pmd.enabled || ws->ctx->role->role != WSV_ROLE_SERVER)
    return;
  e = ws->ctx->pmd_policy == WSV_PMD_ON || ws->ctx->pmd_policy == WSV_PMD_LEAN
          ? wsv__rt_loop_ext(ws->tp.loop, &ws_pmd_type)
          : NULL;
  wsv_conn_config_pmd(cfg, ws->ctx->pmd_policy, e != NULL ? e->shared : NULL);
}

/* Make the conn of an open connection if it is parked.  Returns 0, or a
 * WSV_ERR_* (no memory: the connection has been terminated). */
static int ws_unpark(struct wsv_ws *ws) {
  if (ws->conn != NULL)
    return 0;
  struct wsv_conn_config cfg = ws->ctx->conn;
  wsv__rt_pmd_unpack(&cfg.pmd, &ws->pmd); /* agreed in the handshake */
  ws_pmd_config(ws, &cfg);
  cfg.keep_spare_block = 1; /* freed with the conn when it is parked */
  const struct wsv_mem *mem = wsv__rt_loop_mem(ws->tp.loop);
  int rc = mem != NULL ? wsv_conn_new(&ws->conn, ws->ctx->role->role, &cfg, mem)
                       : WSV_ERR_NOMEM;
  if (rc != 0) {
    wsv__rt_ws_terminate(ws, rc, NULL);
    return rc;
  }
  /* Come back to park it: the idle timer may be set far later. */
  uint32_t park = ws->ctx->limits.park_after_ms;
  if (park > 0 && ws->tmode == WS_T_IDLE &&
      (!wsv_timer_active(&ws->tp.timer) ||
       ws->tp.timer.deadline - ws->tp.loop->now > park))
    wsv__rt_ws_timer(ws, WS_T_IDLE, park);
  return 0;
}

/* Free the conn if it holds nothing (see wsv_conn_idle). */
static void ws_park(struct wsv_ws *ws) {
  if (ws->conn != NULL && ws->phase == WS_OPEN && ws->pre == NULL &&
      !ws->high && wsv_conn_idle(ws->conn)) {
    wsv_conn_free(ws->conn);
    ws->conn = NULL;
  }
}

int wsv__rt_ws_state(const struct wsv_ws *ws) {
  return ws->conn != NULL ? wsv_conn_state(ws->conn) : WSV_CONN_OPEN;
}

/* ---- ending a connection --------------------------------------------------
 */

void wsv__rt_ws_terminate(struct wsv_ws *ws, int err, const char *text) {
  if (ws->phase == WS_DEAD)
    return;
  /* An HTTP/2 stream ends as a socket's close would: END_STREAM after
   * the output written so far (a TCP FIN: the closing handshake's, or the
   * Close a failure sends), RST_STREAM where the socket would be reset
   * (wsv__tp_reset: timeouts, abort); see h2.h. */
  if (ws->tp.stream)
    wsv__tp_shutdown_write(&ws->tp);
  if (ws->err == 0 && err != 0) {
    ws->err = err;
    ws->err_text = text != NULL ? text : wsv_strerror(err);
  }
  ws->phase = WS_DEAD;
  wsv__tp_retire(&ws->tp); /* stops the timer too */
  ws->ctx->role->unlink(ws);
}

void wsv__rt_ws_free_op(struct wsv__tp *tp) {
  struct wsv_ws *ws = wsv__rt_ws_of(tp);
  const struct wsv__rt_ctx *ctx = ws->ctx;
  if (ws->opened) {
    int code = ws->peer_code   ? ws->peer_code
               : ws->fail_code ? ws->fail_code
                               : 1006;
    if (code == 1006 && ws->err == 0) {
      ws->err = WSV_ERR_CLOSED;
      ws->err_text = "connection closed without a Close frame";
    }
    const char *reason = ws->names != NULL && ws->names->close_reason != NULL
                             ? ws->names->close_reason
                             : "";
    if (ctx->cb.close != NULL)
      ctx->cb.close(ws, code, reason, strlen(reason), ctx->user);
  } else if (ctx->role->report_fail && ctx->cb.fail != NULL) {
    ctx->cb.fail(ws, ws->err != 0 ? ws->err : WSV_ERR_CLOSED,
                 ws->err_text[0] != '\0' ? ws->err_text : "connection closed",
                 ctx->user);
  }
  if (ws->out_counted != 0)
    wsv__rt_budget_out(ctx->budget, ws->share, &ws->out_counted, 0, ws);
  wsv_conn_free(ws->conn);
  wsv__tp_release(&ws->tp);
  ctx->role->release(ws); /* may free ctx (a client's own) */
  wsv__rt_pre_free(ws);
  if (ws->names != NULL) {
    free(ws->names->path);
    free(ws->names->subprotocol);
    free(ws->names->extensions);
    free(ws->names->close_reason);
    free(ws->names);
  }
  free(ws);
}

/* ---- output ----------------------------------------------------------------
 */

/* Drop `n` written bytes: first from `pre`, the rest from the conn. */
static void ws_consume(struct wsv_ws *ws, size_t n) {
  if (ws->pre != NULL) {
    size_t left = ws->pre->len - ws->pre->off;
    size_t take = n < left ? n : left;
    ws->pre->off += take;
    n -= take;
    if (ws->pre->off == ws->pre->len)
      wsv__rt_pre_free(ws);
  }
  if (n > 0)
    (void)wsv_conn_consume_output(ws->conn, n);
}

/* One gather write.  Returns 1 if everything described was written, 0 if
 * the socket is full (EPOLLOUT armed), -1 on an error (terminated), 2 if
 * there was nothing to write. */
static int ws_write_once(struct wsv_ws *ws) {
  struct iovec iov[WS_IOV];
  int k = 0;
  if (ws->pre != NULL) {
    iov[0].iov_base = ws->pre->data + ws->pre->off;
    iov[0].iov_len = ws->pre->len - ws->pre->off;
    k = 1;
  }
  if (ws->conn != NULL) {
    int m = wsv_conn_output(ws->conn, (struct wsv_iovec *)(void *)(iov + k),
                            WS_IOV - k);
    if (m > 0)
      k += m;
  }
  if (k == 0)
    return 2;
  size_t total = 0;
  for (int i = 0; i < k; i++)
    total += iov[i].iov_len;
  /* A server that has the peer's Close closes the socket once its own
   * Close is written (ws_after_write): the Close and the FIN can share
   * one segment (one loopback packet and its ACK less per cycle). */
  ws->tp.last_out = ws->conn != NULL && ws->pre == NULL &&
                    ws->ctx->role->role == WSV_ROLE_SERVER &&
                    wsv_conn_state(ws->conn) == WSV_CONN_CLOSED;
  ssize_t w = wsv__tp_writev(&ws->tp, iov, k, total);
  if (w < 0) {
    if (errno == EPROTO && wsv__tp_tls(&ws->tp) != NULL) {
      ws->fail_code = ws->fail_code ? ws->fail_code : (uint16_t)1015;
      wsv__rt_ws_terminate(ws, wsv__rt_tls_code(&ws->tp),
                           wsv__rt_tls_error(&ws->tp));
    } else {
      wsv__rt_ws_terminate(ws, wsv_err_from_errno(errno),
                           wsv__rt_errno_text(errno));
    }
    return -1;
  }
  ws_consume(ws, (size_t)w);
  ws_account(ws, 0);
  return (size_t)w < total ? 0 : 1;
}

/* After output progress: drain callback, closing, linger shutdown. */
static int ws_after_write(struct wsv_ws *ws) {
  const struct wsv__rt_ctx *ctx = ws->ctx;
  if (ws->high && wsv_conn_output_size(ws->conn) < ctx->limits.send_low_water) {
    ws->high = 0;
    if (ctx->cb.drain != NULL && ws->phase == WS_OPEN &&
        wsv_conn_state(ws->conn) == WSV_CONN_OPEN)
      ctx->cb.drain(ws, ctx->user);
    if (ws->phase == WS_DEAD)
      return -1;
  }
  if (ws->conn != NULL && ws->pre == NULL &&
      wsv_conn_want_close_socket(ws->conn)) {
    /* A connection failed because its peer does not read (slow consumer,
     * output budget) may have handed megabytes to the kernel: a close
     * now would leave them there, retried for minutes.  Wait for the
     * peer to take them and close, until the close timer resets it. */
    if (ws->fail_code != 0 && ws->tmode == WS_T_CLOSE &&
        wsv_timer_active(&ws->tp.timer) &&
        wsv__tp_unsent(&ws->tp) > WS_STUCK_BYTES)
      return 0;
    wsv__rt_ws_terminate(ws, ws->err, ws->err_text);
    return -1;
  }
  if (ws->phase == WS_LINGER && ws->pre == NULL && !ws->shut) {
    ws->shut = 1;
    wsv__tp_shutdown_write(&ws->tp);
  }
  return 0;
}

int wsv__rt_ws_flush(struct wsv_ws *ws) {
  if (ws->phase == WS_DEAD)
    return -1;
  if (ws->phase == WS_CONNECTING || !wsv__rt_tls_ready(&ws->tp))
    return 0;
  int r;
  while ((r = ws_write_once(ws)) == 1)
    ;
  if (r < 0)
    return -1;
  if (r == 2)
    wsv__tp_write_idle(&ws->tp);
  return ws_after_write(ws);
}

void wsv__rt_ws_flush_op(struct wsv__tp *tp) {
  struct wsv_ws *ws = wsv__rt_ws_of(tp);
  if (ws->phase != WS_DEAD)
    (void)wsv__rt_ws_flush(ws);
}

/* ---- input ------------------------------------------------------------------
 */

/* Resume reading (a pause ends): the quiet time restarts, since we did
 * not look while paused. */
static void ws_resume(struct wsv_ws *ws) {
  if (!ws->tp.rd_off)
    return;
  (void)wsv__tp_pause_read(&ws->tp, 0);
  ws->last_recv = (uint32_t)ws->tp.loop->now;
}

/* Arm the close timer once the closing handshake has begun (which ends a
 * pause: the peer's Close must be read). */
static void ws_check_closing(struct wsv_ws *ws) {
  if (ws->phase != WS_OPEN || ws->tmode == WS_T_CLOSE)
    return;
  if (wsv__rt_ws_state(ws) != WSV_CONN_OPEN) {
    ws_resume(ws);
    wsv__rt_ws_timer(ws, WS_T_CLOSE, ws->ctx->limits.close_timeout_ms);
  }
}

static void ws_idle_check(struct wsv_ws *ws);

static void ws_event(struct wsv_ws *ws, const struct wsv_event *ev) {
  const struct wsv__rt_ctx *ctx = ws->ctx;
  switch (ev->type) {
  case WSV_EV_TEXT:
  case WSV_EV_BINARY:
    if (ctx->cb.message != NULL)
      ctx->cb.message(ws, ev->opcode, ev->data, ev->len, ctx->user);
    break;
  case WSV_EV_PING:
  case WSV_EV_PONG:
    /* The keep-alive's answer: the quiet time runs again from now, not
     * from the end of the pong timeout (which spaced pings a pong
     * timeout apart when it was the longer one). */
    if (ev->type == WSV_EV_PONG && ws->tmode == WS_T_PONG) {
      ws->tmode = WS_T_IDLE;
      ws_idle_check(ws);
    }
    if (ctx->cb.control != NULL)
      ctx->cb.control(ws, ev->opcode, ev->data, ev->len, ctx->user);
    break;
  case WSV_EV_CLOSE:
    ws->peer_code = (uint16_t)ev->close_code;
    if (ev->len > 0 && wsv__rt_names(ws) != NULL &&
        ws->names->close_reason == NULL)
      ws->names->close_reason =
          wsv__rt_strndup((const char *)ev->data, ev->len);
    break;
  case WSV_EV_ERROR:
    ws->fail_code = (uint16_t)ev->close_code;
    if (ws->err == 0) {
      ws->err = ev->err;
      ws->err_text = wsv_strerror(ev->err);
    }
    wsv__rt_log(ctx, WSV_LOG_DEBUG, "connection failed: %s (close %d)",
                wsv_strerror(ev->err), ev->close_code);
    break;
  default:
    break;
  }
}

/* Handle every event of the input the conn was just given. */
static void ws_events(struct wsv_ws *ws) {
  struct wsv_event ev;
  while (ws->phase != WS_DEAD && wsv_conn_next_event(ws->conn, &ev) > 0)
    ws_event(ws, &ev);
  if (ws->phase == WS_DEAD)
    return;
  ws_check_closing(ws);
  wsv__rt_ws_want_flush(ws);
}

/* Hand buf[0..n) to the conn and handle every event in it. */
static void ws_feed(struct wsv_ws *ws, uint8_t *buf, size_t n) {
  if (ws_unpark(ws) != 0)
    return;
  if (wsv_conn_recv(ws->conn, buf, n) != WSV_OK) {
    wsv__rt_ws_terminate(ws, WSV_ERR_STATE, "internal: input not consumed");
    return;
  }
  ws_events(ws);
}

/* 1 once the closing handshake is complete: the peer's Close received and
 * ours (sent first or in answer) written out, nothing else queued. */
static int ws_close_done(const struct wsv_ws *ws) {
  return ws->peer_code != 0 && ws->conn != NULL &&
         wsv_conn_state(ws->conn) == WSV_CONN_CLOSED &&
         !wsv_conn_want_write(ws->conn) && ws->pre == NULL;
}

static void ws_read(struct wsv_ws *ws) {
  struct wsv_loop *loop = ws->tp.loop;
  /* The payload of a large frame is read straight into its message
   * buffer when the core offers it (zero copy; any transport but an
   * HTTP/2 stream, whose bytes come out of the session's frames). */
  uint8_t *buf = loop->rbuf;
  size_t cap = loop->rbuf_cap;
  int direct = ws->conn != NULL && !ws->tp.stream &&
               wsv_conn_recv_space(ws->conn, &buf, &cap) == 1;
  if (!direct) {
    buf = loop->rbuf;
    cap = loop->rbuf_cap;
  }
  ssize_t n = wsv__tp_read(&ws->tp, buf, cap);
  if (n < 0) {
    if (errno == EPROTO && wsv__tp_tls(&ws->tp) != NULL) {
      /* The local-only code for a TLS failure (RFC 6455 7.4.1). */
      ws->fail_code = ws->fail_code ? ws->fail_code : (uint16_t)1015;
      wsv__rt_ws_terminate(ws, wsv__rt_tls_code(&ws->tp),
                           wsv__rt_tls_error(&ws->tp));
    } else if (errno == ECONNRESET && ws_close_done(ws)) {
      /* Reset after a completed closing handshake: nothing was lost. */
      wsv__rt_ws_terminate(ws, 0, "");
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      wsv__rt_ws_terminate(ws, wsv_err_from_errno(errno),
                           wsv__rt_errno_text(errno));
    }
    return;
  }
  if (n == 0) {
    /* EOF: clean after the closing handshake, abnormal (1006) before. */
    if (ws->peer_code != 0 && wsv__rt_ws_state(ws) == WSV_CONN_CLOSED)
      wsv__rt_ws_terminate(ws, 0, "");
    else
      wsv__rt_ws_terminate(ws, WSV_ERR_CLOSED,
                           "connection closed by peer without a Close frame");
    return;
  }
  ws->last_recv = (uint32_t)loop->now;
  if (!direct) {
    ws_feed(ws, loop->rbuf, (size_t)n);
    return;
  }
  if (wsv_conn_recv_commit(ws->conn, (size_t)n) != WSV_OK) {
    wsv__rt_ws_terminate(ws, WSV_ERR_STATE, "internal: commit refused");
    return;
  }
  ws_events(ws);
}

static void ws_on_event(struct wsv__tp *tp, uint32_t events) {
  struct wsv_ws *ws = wsv__rt_ws_of(tp);
  /* Paused (wsv_ws_pause): no reading, except when epoll reports an
   * error or hang-up, which it reports whatever was asked and again on
   * every wait until the socket is read. */
  uint32_t rd = tp->rd_off
                    ? (uint32_t)(EPOLLERR | EPOLLHUP)
                    : (uint32_t)(EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
  if ((events & rd) ||
      (!tp->rd_off && (events & EPOLLOUT) && wsv__tp_read_wants_out(tp)))
    ws_read(ws);
  if (ws->phase != WS_DEAD && (events & EPOLLOUT))
    (void)wsv__rt_ws_flush(ws);
}

static const struct wsv__tp_ops ws_open_ops = {ws_on_event, wsv__rt_ws_flush_op,
                                               wsv__rt_ws_timeout_op,
                                               wsv__rt_ws_free_op};

int wsv__rt_ws_opened(struct wsv_ws *ws, uint8_t *rest, size_t n) {
  const struct wsv__rt_ctx *ctx = ws->ctx;
  /* The conn is made on first use (ws_unpark): most connections wait. */
  ws->phase = WS_OPEN;
  ws->tp.ops = &ws_open_ops;
  ws->last_recv = (uint32_t)ws->tp.loop->now;
  wsv__rt_ws_timer(ws, WS_T_IDLE, ctx->limits.ping_interval_ms);
  ws->opened = 1;
  ws->in_open = 1;
  if (ctx->cb.open != NULL)
    ctx->cb.open(ws, ctx->user);
  ws->in_open = 0;
  if (ws->phase == WS_DEAD)
    return 0;
  if (n > 0)
    ws_feed(ws, rest, n);
  else
    wsv__rt_ws_want_flush(ws);
  return 0;
}

/* ---- the timer
 * ---------------------------------------------------------------- */

static void ws_idle_check(struct wsv_ws *ws) {
  const struct wsv_ws_limits *lim = &ws->ctx->limits;
  uint64_t now = ws->tp.loop->now;
  uint64_t quiet = (uint32_t)now - ws->last_recv; /* modulo 2^32 */
  uint64_t next = UINT64_MAX;                     /* ms until the next check */
  if (ws->conn != NULL && lim->park_after_ms > 0) {
    if (quiet >= lim->park_after_ms) {
      ws_park(ws);
      /* Not parked (a deflate context the peer keeps): at the default
       * setting give back our own compressor (wsv_conn_trim). */
      if (ws->conn != NULL && ws->ctx->pmd_policy == WSV_PMD_ON)
        (void)wsv_conn_trim(ws->conn);
    }
    if (ws->conn != NULL) /* not yet, or not idle: look again later */
      next = quiet < lim->park_after_ms ? lim->park_after_ms - quiet
                                        : lim->park_after_ms;
  }
  if (ws->tp.rd_off) /* paused: what the peer sent is unread, not missing */
    quiet = 0;
  if (lim->ping_interval_ms == 0 || quiet < lim->ping_interval_ms) {
    if (lim->ping_interval_ms > 0 && lim->ping_interval_ms - quiet < next)
      next = lim->ping_interval_ms - quiet;
    wsv__rt_ws_timer(ws, WS_T_IDLE, next == UINT64_MAX ? 0 : (uint32_t)next);
    return;
  }
  if (ws_unpark(ws) != 0)
    return;
  if (wsv_conn_state(ws->conn) != WSV_CONN_OPEN ||
      wsv_conn_ping(ws->conn, NULL, 0) != WSV_OK) {
    ws_check_closing(ws);
    return;
  }
  ws->ping_sent = (uint32_t)now;
  wsv__rt_ws_timer(ws, WS_T_PONG,
                   lim->pong_timeout_ms ? lim->pong_timeout_ms
                                        : lim->ping_interval_ms);
  wsv__rt_ws_want_flush(ws);
}

void wsv__rt_ws_timeout_op(struct wsv__tp *tp) {
  struct wsv_ws *ws = wsv__rt_ws_of(tp);
  switch (ws->tmode) {
  case WS_T_HANDSHAKE:
  case WS_T_LINGER:
    ws->ctx->role->timeout(ws);
    break;
  case WS_T_IDLE:
    ws_idle_check(ws);
    break;
  case WS_T_PONG:
    /* Paused since the ping: the pong may wait unread; no verdict. */
    if ((int32_t)(ws->last_recv - ws->ping_sent) >= 0 || ws->tp.rd_off) {
      ws->tmode = WS_T_IDLE;
      ws_idle_check(ws);
    } else {
      /* A reset: a peer that stopped answering gets no more time, and
       * the kernel frees what is still queued for it at once. */
      wsv__tp_reset(&ws->tp);
      wsv__rt_ws_terminate(ws, WSV_ERR_CLOSED, "ping timeout");
    }
    break;
  case WS_T_CLOSE:
    /* A completed closing handshake whose TCP outlived it ends cleanly:
     * only the socket is late, and the close code is the peer's Close
     * (RFC 6455 §7.1.5); see the close callback in wsv/rt.h. */
    if (ws_close_done(ws)) {
      wsv__rt_ws_terminate(ws, 0, "");
      break;
    }
    if (wsv__tp_unsent(&ws->tp) > 0)
      wsv__tp_reset(&ws->tp);
    wsv__rt_ws_terminate(ws, WSV_ERR_CLOSED, "close timeout");
    break;
  default:
    break;
  }
}

/* The core failed the connection with a Close 1008 (the peer reads too
 * slowly): say why, and let the Close leave within the close timeout. */
static void ws_failed_1008(struct wsv_ws *ws, const char *why) {
  if (ws->err == 0) {
    ws->err = WSV_ERR_POLICY;
    ws->err_text = why;
  }
  ws->fail_code = 1008;
  ws_check_closing(ws);
  wsv__rt_ws_want_flush(ws);
}

size_t wsv__rt_ws_shed(struct wsv_ws *ws) {
  int64_t dropped = wsv_conn_shed(ws->conn, 1008);
  if (dropped < 0)
    return 0;
  ws->high = 0;
  ws_account(ws, 0);
  ws_failed_1008(ws, "output budget: the server's queued output is over its "
                     "limit and this connection held the most");
  return (size_t)dropped;
}

/* ---- public API
 * ---------------------------------------------------------------- */

static int ws_check_sendable(const struct wsv_ws *ws) {
  if (ws == NULL)
    return WSV_ERR_INVAL;
  if (ws->phase == WS_DEAD)
    return WSV_ERR_CLOSED;
  if (ws->phase != WS_OPEN)
    return WSV_ERR_STATE;
  return 0;
}

/* A send found the queue over max_output: the core queued a Close 1008. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, cold))
#endif
static void
ws_slow_consumer(struct wsv_ws *ws, size_t queued) {
  wsv__rt_log(ws->ctx, WSV_LOG_WARN,
              "closing a slow consumer (1008): %zu bytes queued", queued);
  ws_failed_1008(ws, "slow consumer: send buffer over its limit");
}

/* After a queueing call: slow-consumer handling, flush, back-pressure. */
static inline int ws_after_queue(struct wsv_ws *ws, int rc) {
  size_t queued = wsv_conn_output_size(ws->conn);
  ws_account_size(ws, queued, 1);
  if (rc < 0) {
    if (rc == WSV_ERR_POLICY)
      ws_slow_consumer(ws, queued);
    return rc;
  }
  wsv__rt_ws_want_flush(ws);
  if (queued > ws->ctx->limits.send_high_water) {
    ws->high = 1;
    return 1;
  }
  return 0;
}

int wsv_ws_send(struct wsv_ws *ws, int opcode, const void *data, size_t len) {
  int rc = ws_check_sendable(ws);
  if (rc != 0)
    return rc;
  if (opcode != WSV_OP_TEXT && opcode != WSV_OP_BINARY)
    return WSV_ERR_INVAL;
  if ((rc = ws_unpark(ws)) != 0)
    return rc;
  return ws_after_queue(ws, wsv_conn_send(ws->conn, opcode, data, len));
}

uint8_t *wsv_ws_buf_alloc(struct wsv_ws *ws, size_t len) {
  if (ws == NULL || ws->phase == WS_DEAD || ws_unpark(ws) != 0)
    return NULL;
  return wsv_conn_buf_alloc(ws->conn, len);
}

void wsv_ws_buf_free(struct wsv_ws *ws, uint8_t *buf) {
  /* A conn holding an owned buffer is never parked (wsv_conn_idle). */
  if (ws != NULL)
    wsv_conn_buf_free(ws->conn, buf);
}

int wsv_ws_take_message(struct wsv_ws *ws, uint8_t **buf, size_t *len) {
  if (ws == NULL || buf == NULL || len == NULL)
    return WSV_ERR_INVAL;
  if (ws->conn == NULL) {
    *buf = NULL;
    *len = 0;
    return WSV_ERR_STATE;
  }
  return wsv_conn_take_message(ws->conn, buf, len);
}

int wsv_ws_send_buf(struct wsv_ws *ws, int opcode, uint8_t *buf, size_t len) {
  if (ws == NULL || buf == NULL)
    return WSV_ERR_INVAL;
  int rc = ws_check_sendable(ws);
  if (rc != 0) {
    wsv_ws_buf_free(ws, buf);
    return rc;
  }
  /* ws->conn is there: it holds the buffer, so it was not parked. */
  return ws_after_queue(ws, wsv_conn_send_buf(ws->conn, opcode, buf, len));
}

int wsv_ws_send_text(struct wsv_ws *ws, const char *text, size_t len) {
  return wsv_ws_send(ws, WSV_OP_TEXT, text, len);
}

int wsv_ws_send_binary(struct wsv_ws *ws, const void *data, size_t len) {
  return wsv_ws_send(ws, WSV_OP_BINARY, data, len);
}

int wsv_ws_ping(struct wsv_ws *ws, const void *data, size_t len) {
  int rc = ws_check_sendable(ws);
  if (rc != 0)
    return rc;
  if ((rc = ws_unpark(ws)) != 0)
    return rc;
  return ws_after_queue(ws, wsv_conn_ping(ws->conn, data, len));
}

int wsv_ws_pong(struct wsv_ws *ws, const void *data, size_t len) {
  int rc = ws_check_sendable(ws);
  if (rc != 0)
    return rc;
  if ((rc = ws_unpark(ws)) != 0)
    return rc;
  return ws_after_queue(ws, wsv_conn_pong(ws->conn, data, len));
}

int wsv_ws_close(struct wsv_ws *ws, int code, const char *reason, size_t len) {
  int rc = ws_check_sendable(ws);
  if (rc != 0)
    return rc;
  if ((rc = ws_unpark(ws)) != 0)
    return rc;
  rc = wsv_conn_close(ws->conn, code, reason, len);
  if (rc != 0)
    return rc;
  ws_check_closing(ws);
  wsv__rt_ws_want_flush(ws);
  return 0;
}

int wsv_ws_pause(struct wsv_ws *ws, int paused) {
  int rc = ws_check_sendable(ws);
  if (rc != 0)
    return paused || rc == WSV_ERR_INVAL ? rc : 0;
  if (!paused) {
    ws_resume(ws);
    return 0;
  }
  if (ws->tp.rd_off)
    return 0;
  if (wsv__rt_ws_state(ws) != WSV_CONN_OPEN)
    return WSV_ERR_CLOSED; /* the peer's Close must be read */
  if (wsv__tp_pause_read(&ws->tp, 1) != 0)
    return wsv_err_from_errno(errno);
  return 0;
}

int wsv_ws_paused(const struct wsv_ws *ws) {
  return ws != NULL && ws->tp.rd_off;
}

void wsv_ws_abort(struct wsv_ws *ws) {
  if (ws == NULL)
    return;
  if (ws->tp.stream)
    wsv__tp_reset(&ws->tp); /* RST_STREAM: the peer learns at once */
  wsv__rt_ws_terminate(ws, WSV_ERR_CLOSED, "aborted");
}

int wsv_ws_flush(struct wsv_ws *ws) {
  if (ws == NULL)
    return WSV_ERR_INVAL;
  return wsv__rt_ws_flush(ws) == 0 ? 0 : WSV_ERR_CLOSED;
}

void *wsv_ws_user(const struct wsv_ws *ws) {
  return ws == NULL ? NULL : ws->user;
}

void wsv_ws_set_user(struct wsv_ws *ws, void *user) {
  if (ws != NULL)
    ws->user = user;
}

struct wsv_loop *wsv_ws_loop(const struct wsv_ws *ws) {
  return ws == NULL ? NULL : ws->tp.loop;
}

const char *wsv_ws_path(const struct wsv_ws *ws) {
  return ws == NULL || ws->names == NULL || ws->names->path == NULL
             ? "/"
             : ws->names->path;
}

const char *wsv_ws_subprotocol(const struct wsv_ws *ws) {
  return ws == NULL || ws->names == NULL ? NULL : ws->names->subprotocol;
}

int wsv_ws_version(const struct wsv_ws *ws) {
  return ws == NULL ? 0 : ws->version;
}

size_t wsv_ws_buffered(const struct wsv_ws *ws) {
  if (ws == NULL)
    return 0;
  return (ws->pre != NULL ? ws->pre->len - ws->pre->off : 0) +
         wsv_conn_output_size(ws->conn);
}

int wsv_ws_is_open(const struct wsv_ws *ws) {
  return ws != NULL && ws->phase == WS_OPEN &&
         wsv__rt_ws_state(ws) == WSV_CONN_OPEN;
}

int wsv_ws_peer(const struct wsv_ws *ws, char *buf, size_t cap) {
  if (ws == NULL || buf == NULL)
    return WSV_ERR_INVAL;
  return wsv__tp_peer(&ws->tp, buf, cap);
}

int wsv_ws_fd(const struct wsv_ws *ws) {
  const struct wsv__tp *tp = ws != NULL ? wsv__tp_socket(&ws->tp) : NULL;
  return tp != NULL ? tp->w.fd : -1;
}

int wsv_ws_tls(const struct wsv_ws *ws, struct wsv_tls_info *info) {
  if (ws == NULL || info == NULL)
    return WSV_ERR_INVAL;
  memset(info, 0, sizeof *info);
  const struct wsv__tp *tp = wsv__tp_socket(&ws->tp);
  return tp != NULL ? wsv__rt_tls_info(tp, info) : 0;
}

int wsv_ws_http2(const struct wsv_ws *ws) {
  return ws != NULL && ws->tp.stream;
}

const char *wsv_ws_extensions(const struct wsv_ws *ws) {
  return ws == NULL || ws->names == NULL ? NULL : ws->names->extensions;
}

int wsv_ws_error(const struct wsv_ws *ws) {
  return ws == NULL ? WSV_ERR_INVAL : ws->err;
}

const char *wsv_ws_error_text(const struct wsv_ws *ws) {
  return ws == NULL || ws->err_text == NULL ? "" : ws->err_text;
}
