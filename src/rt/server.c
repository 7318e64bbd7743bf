/*
 * server.c - the WebSocket server: one worker per thread, each with its
 * own loop, its own SO_REUSEPORT listener (listen.c), its own connections
 * and topic table (nothing shared on the hot path but an atomic
 * connection count).  This file holds the configuration, the workers and
 * their threads, the connections' server role (what ws.c calls), the
 * budgets' victim choice, and the graceful shutdown (1001 to everyone,
 * wait, drop the rest).  The handshake and HTTP answers are upgrade.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h2.h"
#include "server_int.h"

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

void wsv__rt_srv_link(struct srv_worker *wk, struct wsv_ws *ws) {
  ws->share = (uint8_t)wk->index;
  ws->prev = NULL;
  ws->next = wk->conns;
  if (wk->conns != NULL)
    wk->conns->prev = ws;
  wk->conns = ws;
  wk->nconns++;
}

/* The server role's unlink: out of its topics and its worker's list (the
 * worker's loop stops when that was the last one during a shutdown). */
static void srv_unlink(struct wsv_ws *ws) {
  struct srv_worker *wk = wsv__rt_worker_of(ws);
  wsv__rt_ps_unsubscribe_all(ws);
  if (ws->prev != NULL)
    ws->prev->next = ws->next;
  else if (wk->conns == ws)
    wk->conns = ws->next;
  if (ws->next != NULL)
    ws->next->prev = ws->prev;
  ws->prev = ws->next = NULL;
  int counted = ws->counted;
  ws->counted = 0;
  wsv__rt_srv_conn_gone(wk, counted);
}

void wsv__rt_srv_conn_gone(struct srv_worker *wk, int counted) {
  wk->nconns--;
  if (counted)
    atomic_fetch_sub(&wk->srv->nconns, 1);
  if (wk->shutting && wk->nconns == 0)
    wsv_loop_stop(wk->loop);
}

static const struct wsv__rt_role srv_role = {
    WSV_ROLE_SERVER, 0, srv_unlink, wsv__rt_srv_timeout, wsv__rt_srv_free_hs};

/* The budget's victim: the open, not yet failed connection of worker
 * `share` with the most counted output. */
static struct wsv_ws *srv_victim(void *user, int share) {
  struct wsv_server *srv = user;
  struct wsv_ws *best = NULL;
  for (struct wsv_ws *ws = srv->workers[share].conns; ws != NULL; ws = ws->next)
    if (ws->out_counted > (best != NULL ? best->out_counted : 0) &&
        ws->phase == WS_OPEN && wsv__rt_ws_state(ws) != WSV_CONN_FAILED)
      best = ws;
  return best;
}

/* ---- shutdown ---------------------------------------------------------------
 */

static void srv_drop_all(struct srv_worker *wk) {
  wk->dropped = 1;
  while (wk->conns != NULL)
    wsv__rt_ws_terminate(wk->conns, WSV_ERR_CLOSED, "shutdown");
  wsv__rt_h2_drop_all(wk);
  wsv_loop_stop(wk->loop);
}

static void srv_shutdown_timeout(struct wsv_timer *t, void *user) {
  (void)t;
  srv_drop_all(user);
}

static void srv_begin_shutdown(struct srv_worker *wk) {
  static const char going[] = "going away";
  wk->shutting = 1;
  wsv__rt_srv_close_listener(wk);
  struct wsv_ws *ws = wk->conns;
  while (ws != NULL) {
    struct wsv_ws *next = ws->next;
    if (ws->phase == WS_HANDSHAKE) {
      wsv__rt_ws_terminate(ws, 0, "");
    } else if (ws->phase == WS_OPEN && wsv__rt_ws_state(ws) == WSV_CONN_OPEN) {
      (void)wsv_ws_close(ws, 1001, going, sizeof going - 1);
    }
    ws = next;
  }
  wsv__rt_h2_shutdown_all(wk); /* GOAWAY once their WebSockets are gone */
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

/* ---- creating and freeing
 * ---------------------------------------------------- */

static int srv_check(const struct wsv_server_config *cfg) {
  if (cfg->threads < 1 || cfg->threads > SRV_MAX_THREADS || cfg->backlog < 1 ||
      cfg->conn.stream != 0 || cfg->host == NULL ||
      cfg->limits.send_low_water > cfg->limits.send_high_water ||
      (cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL) ||
      cfg->http2 < WSV_HTTP2_ON || cfg->http2 > WSV_HTTP2_OFF)
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
  srv->ctx.role = &srv_role;
  srv->ctx.cb = cfg->callbacks;
  srv->ctx.user = cfg->user;
  srv->ctx.limits = cfg->limits;
  srv->ctx.conn = cfg->conn;
  srv->ctx.log = cfg->log;
  srv->ctx.log_user = cfg->log_user;
  srv->hs_cfg = cfg->handshake;
  srv->ctx.pmd_policy = cfg->handshake.pmd_policy;
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
  srv->h2 = cfg->http2 != WSV_HTTP2_OFF;
  srv->h2_websocket = cfg->http2 == WSV_HTTP2_ON;
}

static int srv_workers_new(struct wsv_server *srv, size_t rbuf,
                           struct wsv_broker *broker) {
  srv->workers = calloc((size_t)srv->nthreads, sizeof *srv->workers);
  if (srv->workers == NULL)
    return WSV_ERR_NOMEM;
  for (int i = 0; i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    wk->srv = srv;
    wk->index = i;
    for (int j = 0; j < WSV__SRV_MAX_ADDRS; j++) {
      wk->listen[j].w.fd = -1;
      wk->listen[j].w.fn = wsv__rt_srv_on_accept;
      wk->listen[j].wk = wk;
    }
    wk->reserve_fd = -1;
    int rc = wsv_loop_new(&wk->loop);
    if (rc != 0)
      return rc;
    if (wsv__rt_loop_rbuf(wk->loop, rbuf) != 0)
      return WSV_ERR_NOMEM;
    wk->loop->wake_hook = srv_on_wake;
    wk->loop->wake_user = wk;
    wsv__rt_timer_init(&wk->accept_timer, wk->loop, wsv__rt_srv_resume_accept,
                       wk);
    wsv__rt_timer_init(&wk->shutdown_timer, wk->loop, srv_shutdown_timeout, wk);
    wk->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  struct wsv_loop *loops[SRV_MAX_THREADS];
  for (int i = 0; i < srv->nthreads; i++)
    loops[i] = srv->workers[i].loop;
  int rc = wsv__rt_ps_group_new(&srv->ps, loops, srv->nthreads, broker);
  srv->ctx.ps = srv->ps;
  return rc;
}

/* Load the certificate and key (TLS servers); 0 or WSV_ERR_INVAL (the log
 * line says which file and why). */
static int srv_tls_load(struct wsv_server *srv,
                        const struct wsv_server_config *cfg) {
  if (cfg->tls_cert_file == NULL)
    return 0;
  char err[400];
  srv->ctx.tls = wsv__rt_tls_server_ctx(cfg->tls_cert_file, cfg->tls_key_file,
                                        err, sizeof err);
  if (srv->ctx.tls != NULL) {
    wsv__rt_tls_ctx_h2(srv->ctx.tls, srv->h2);
    return 0;
  }
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
    wsv__rt_srv_close_listener(wk);
    while (wk->conns != NULL)
      wsv__rt_ws_terminate(wk->conns, WSV_ERR_CLOSED, "server freed");
    wsv__rt_h2_drop_all(wk);
    wsv_timer_stop(&wk->shutdown_timer);
    /* Runs queued posts (publishes), finishes the connections. */
    wsv_loop_free(wk->loop);
    wsv__rt_srv_hs_destroy(wk->spare_hs);
    wk->spare_hs = NULL;
    if (wk->reserve_fd >= 0)
      close(wk->reserve_fd);
  }
  wsv__rt_tls_ctx_free(srv->ctx.tls);
  wsv__rt_budget_free(srv->ctx.budget);
  wsv__rt_ps_group_free(srv->ps);
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
                            cfg->input_budget, cfg->threads, srv_victim, srv);
  if (rc == 0 && srv->ctx.budget != NULL && cfg->input_budget != 0) {
    srv->ctx.conn.msg_reserve = wsv__rt_budget_reserve;
    srv->ctx.conn.msg_reserve_user = srv->ctx.budget;
  }
  if (rc == 0)
    rc = srv_workers_new(srv, rbuf, cfg->broker);
  if (rc == 0)
    rc = wsv__rt_srv_listen(srv, cfg->host, cfg->port, cfg->backlog);
  for (int i = 0; rc == 0 && i < srv->nthreads; i++)
    for (int j = 0; rc == 0 && j < srv->workers[i].nlisten; j++)
      if (wsv__rt_watch_add(srv->workers[i].loop, &srv->workers[i].listen[j].w,
                            EPOLLIN) != 0)
        rc = wsv_err_from_errno(errno);
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

int wsv_server_address(const struct wsv_server *srv, int i, char *buf,
                       size_t cap) {
  if (srv == NULL || i < 0 || i >= srv->naddrs)
    return 0;
  if (buf != NULL && cap > 0)
    snprintf(buf, cap, "%s", srv->addrs[i]);
  return 1;
}

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
  return ws == NULL || ws->ctx->role->role != WSV_ROLE_SERVER
             ? NULL
             : wsv__rt_srv_of(ws);
}

const struct wsv_hs_server *wsv_ws_request(const struct wsv_ws *ws) {
  if (ws == NULL || !ws->in_open || ws->hs == NULL)
    return NULL;
  return ws->hs->hs;
}

size_t wsv_server_output_queued(const struct wsv_server *srv) {
  return srv == NULL ? 0 : wsv__rt_budget_output(srv->ctx.budget);
}

size_t wsv_server_input_held(const struct wsv_server *srv) {
  return srv == NULL ? 0 : wsv__rt_budget_input(srv->ctx.budget);
}

int wsv_server_publish(struct wsv_server *srv, const char *topic, int opcode,
                       const void *data, size_t len) {
  if (srv == NULL)
    return WSV_ERR_INVAL;
  return wsv__rt_ps_publish(srv->ps, topic, opcode, data, len);
}
