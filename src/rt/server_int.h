/*
 * server_int.h - the server's pieces, shared by its files: server.c
 * (configuration, workers and threads, shutdown, the connections' server
 * role), listen.c (binding, accepting, EMFILE shedding) and upgrade.c
 * (the opening handshake, HTTP answers, the graceful close after them).
 */
#ifndef WSV_RT_SERVER_INT_H
#define WSV_RT_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pubsub.h"
#include "ws_int.h"

#define SRV_MAX_THREADS 256

/* Handshake state of a server connection (freed after the 101). */
struct srv_hs {
  struct wsv_hs_server *hs;
  char *buf;
  size_t len;
  size_t cap;
};

/* Addresses one server binds at most (a host name's distinct IPv4 and
 * IPv6 addresses). */
#define WSV__SRV_MAX_ADDRS 4

struct srv_worker;
struct wsv__h2;
/* A listening socket of a worker; its watch's fd is -1 when closed. */
struct srv_listener {
  struct wsv__rt_watch w; /* first: epoll's data.ptr points here */
  struct srv_worker *wk;
  /* TCP_DEFER_ACCEPT is on: a connection accepted has sent its first
   * bytes (or waited its second out), worth an optimistic read. */
  uint8_t deferred;
};

struct srv_worker {
  struct wsv_server *srv;
  struct wsv_loop *loop;
  int index;
  /* One listener per bound address (a host name may give several:
   * "localhost" is 127.0.0.1 and ::1); nlisten of them are open. */
  struct srv_listener listen[WSV__SRV_MAX_ADDRS];
  int nlisten;
  int reserve_fd;
  int shutting;
  int dropped;
  int stopped_seen;
  struct wsv_timer accept_timer;
  struct wsv_timer shutdown_timer;
  struct wsv_ws *conns; /* linked by prev/next */
  /* Connections still held: conns, plus the HTTP/2 connections (whose
   * WebSockets are in conns too). */
  size_t nconns;
  struct wsv__h2 *h2; /* HTTP/2 connections (h2.c), by prev/next */
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
  /* HTTP/2 (h2.c): h2 offered by ALPN and h2c taken (http2 != OFF), and
   * SETTINGS_ENABLE_CONNECT_PROTOCOL sent (h2_websocket). */
  int h2;
  int h2_websocket;
  size_t max_connections;
  uint32_t linger_ms;
  size_t linger_bytes;
  uint32_t shutdown_timeout_ms;
  int handle_signals;
  int nthreads;
  uint16_t port;
  /* The bound addresses, as text ("127.0.0.1:8080", "[::1]:8080"). */
  char addrs[WSV__SRV_MAX_ADDRS][48];
  int naddrs;
  struct srv_worker *workers;
  struct wsv__rt_ps_group *ps;
  struct wsv_signal *sig;
  atomic_size_t nconns;
  atomic_int stops;
  atomic_int state; /* 0 new, 1 running, 2 done */
  int background;
};

/* A server connection's server (its ctx is the server's first member) and
 * worker (its budget share is the worker's index). */
static inline struct wsv_server *wsv__rt_srv_of(const struct wsv_ws *ws) {
  return (struct wsv_server *)(uintptr_t)ws->ctx;
}
static inline struct srv_worker *wsv__rt_worker_of(const struct wsv_ws *ws) {
  return &wsv__rt_srv_of(ws)->workers[ws->share];
}

/* ---- server.c ---------------------------------------------------------------
 */
/* Put a new connection on its worker's list. */
void wsv__rt_srv_link(struct srv_worker *wk, struct wsv_ws *ws);

/* A connection of the worker is gone: one less held (and one less
 * counted against max_connections when `counted`); the worker's loop
 * stops when that was the last one during a shutdown. */
void wsv__rt_srv_conn_gone(struct srv_worker *wk, int counted);

/* ---- listen.c ---------------------------------------------------------------
 */
/* Resolve host and bind every worker's listeners (SO_REUSEPORT with more
 * than one thread): an IP literal is one address; a host name is every
 * distinct IPv4 and IPv6 address it resolves to (at most
 * WSV__SRV_MAX_ADDRS), on one port, skipping (with a warning) those that
 * cannot be bound as long as one can.  Sets srv->port and each worker's
 * nlisten.  0 or a WSV_ERR_* (errno kept). */
int wsv__rt_srv_listen(struct wsv_server *srv, const char *host, uint16_t port,
                       int backlog);
/* A listener's watch function and the accept pause's timer. */
void wsv__rt_srv_on_accept(struct wsv__rt_watch *w, uint32_t events);
void wsv__rt_srv_resume_accept(struct wsv_timer *t, void *user);
/* Stop accepting: close the worker's listeners. */
void wsv__rt_srv_close_listener(struct srv_worker *wk);

/* ---- upgrade.c
 * ----------------------------------------------------------------
 */
/* The transport operations of a server connection before its 101 (TLS
 * handshake, request) and while lingering after an HTTP answer. */
extern const struct wsv__tp_ops wsv__rt_srv_hs_ops;
/* A handshake state for a request (the worker's spare, or a new one), and
 * back (kept as the spare, or freed).  NULL when out of memory. */
struct srv_hs *wsv__rt_srv_hs_get(struct srv_worker *wk);
void wsv__rt_srv_hs_put(struct srv_worker *wk, struct srv_hs *h);
/* Ask the server's plain-HTTP callback (srv->http, set) about request
 * hs: *res as it filled it from the defaults (404 "not found"), a status
 * outside 200..599 made 500, a NULL body empty.  Returns 1 for a HEAD
 * request (send no body), else 0. */
int wsv__rt_srv_http_call(const struct wsv_server *srv,
                          const struct wsv_hs_server *hs,
                          struct wsv_http_response *res);
/* Keep the request's path, subprotocol and version in ws.  0 or -1. */
int wsv__rt_srv_take_strings(struct wsv_ws *ws, const struct wsv_hs_server *hs);
/* Put a copy of an HTTP answer in ws->pre; 0 or -1. */
int wsv__rt_srv_set_pre(struct wsv_ws *ws, const char *p, size_t n);
/* Start the graceful close after an HTTP answer put in ws->pre. */
void wsv__rt_srv_linger(struct wsv_ws *ws);
/* The handshake or linger timer ran out (408 if a request began). */
void wsv__rt_srv_timeout(struct wsv_ws *ws);
/* Read the request of a plain-TCP connection just accepted (already
 * watched for EPOLLIN), as its first EPOLLIN would: the 101 or an answer
 * when it is all there, the part kept when not, nothing done (the
 * connection waits for EPOLLIN) when no byte has come yet. */
void wsv__rt_srv_hs_try(struct wsv_ws *ws);
/* Free the handshake state, or keep it as the worker's spare. */
void wsv__rt_srv_free_hs(struct wsv_ws *ws);
void wsv__rt_srv_hs_destroy(struct srv_hs *h);

#endif /* WSV_RT_SERVER_INT_H */
