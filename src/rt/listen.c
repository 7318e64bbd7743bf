/*
 * listen.c - the server's listeners: resolving and binding (one socket
 * per worker, SO_REUSEPORT with more than one thread), accepting in
 * batches, the connection limit (a 503 past it), and shedding when out of
 * fds (accept and close with a reserve fd so the level-triggered listener
 * does not spin; pause when even that fails).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"

#define SRV_ACCEPT_BATCH 64
#define SRV_LINGER_SLACK 256 /* lingering 503s allowed past the limit */

static const char srv_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 21\r\n"
                              "Retry-After: 1\r\n"
                              "Connection: close\r\n\r\n"
                              "too many connections\n";

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

int wsv__rt_srv_listen(struct wsv_server *srv, const char *host, uint16_t port,
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
    int rc = wsv__rt_gai_code(g);
    wsv__rt_log(&srv->ctx, WSV_LOG_ERROR, "listen: cannot resolve %s: %s", host,
                g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    if (g != EAI_SYSTEM)
      errno = EINVAL;
    return rc;
  }
  int rc = WSV_ERR_INVAL; /* no IPv4 or IPv6 address */
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
    rc = wsv_err_from_errno(e);
  }
  freeaddrinfo(res);
  if (rc != 0)
    errno = e;
  return rc;
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
  struct wsv_ws *ws =
      wsv__rt_ws_new(wk->loop, &srv->ctx, &wsv__rt_srv_hs_ops, fd, 0);
  if (ws == NULL) {
    atomic_fetch_sub(&srv->nconns, 1);
    close(fd);
    return;
  }
  ws->counted = 1;
  wsv__rt_srv_link(wk, ws);
  ws->phase = WS_HANDSHAKE;
  if (wsv__tp_watch(&ws->tp, EPOLLIN) != 0) {
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
    int rc = wsv__rt_tls_start(&ws->tp, srv->ctx.tls, NULL);
    if (rc != 0) {
      wsv__rt_ws_terminate(ws, rc, NULL);
      return;
    }
  }
  if (full) {
    if (wsv__rt_srv_set_pre(ws, srv_503, sizeof srv_503 - 1) != 0) {
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

void wsv__rt_srv_resume_accept(struct wsv_timer *t, void *user) {
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

void wsv__rt_srv_on_accept(struct wsv__rt_watch *w, uint32_t events) {
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

void wsv__rt_srv_close_listener(struct srv_worker *wk) {
  if (wk->listen.fd < 0)
    return;
  wsv__rt_watch_del(wk->loop, &wk->listen);
  close(wk->listen.fd);
  wk->listen.fd = -1;
  wsv_timer_stop(&wk->accept_timer);
}
