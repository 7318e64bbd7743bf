/*
 * listen.c - the server's listeners: resolving and binding (one socket
 * per worker and address, SO_REUSEPORT with more than one thread; a host
 * name binds each of its addresses), accepting in
 * batches, the connection limit (a 503 past it), and shedding when out of
 * fds (accept and close with a reserve fd so the level-triggered listener
 * does not spin; pause when even that fails).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"

#define SRV_ACCEPT_BATCH 64
#define SRV_LINGER_SLACK 256 /* lingering 503s allowed past the limit */
/* TCP_DEFER_ACCEPT: how long the kernel holds a silent client (Linux
 * rounds it to SYN-ACK retransmissions: one, after a second). */
#define SRV_DEFER_MS 1000u

static const char srv_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 21\r\n"
                              "Retry-After: 1\r\n"
                              "Connection: close\r\n\r\n"
                              "too many connections\n";

/* ---- listening --------------------------------------------------------------
 */

static int srv_listen_one(struct wsv_server *srv, const struct sockaddr *sa,
                          socklen_t salen, int v6only, int backlog,
                          uint8_t *deferred) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* With an IPv4 listener beside it, an IPv6 one takes IPv6 only. */
  if (v6only && sa->sa_family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    goto fail;
  if (srv->nthreads > 1 &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    goto fail;
  if (bind(fd, sa, salen) != 0 || listen(fd, backlog) != 0)
    goto fail;
  /* Accepted sockets inherit TCP_NODELAY from the listener on Linux:
   * one setsockopt here instead of one per connection. */
  wsv__rt_nodelay(fd);
  /* A client speaks first: the kernel queues a connection for accept
   * once its first bytes are there (a silent one after SRV_DEFER_MS), so
   * the accept can read the request at once.  Plain TCP only (a TLS
   * connection's first read is OpenSSL's), and not with a handshake
   * timeout so short that the deferral would be most of it. */
  uint32_t ht = srv->ctx.limits.handshake_timeout_ms;
  int defer = SRV_DEFER_MS / 1000;
  *deferred =
      srv->ctx.tls == NULL && (ht == 0 || ht >= 2 * SRV_DEFER_MS) &&
      setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer) == 0;
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

static uint16_t srv_get_port(const struct sockaddr_storage *ss) {
  return ntohs(
      ss->ss_family == AF_INET
          ? ((const struct sockaddr_in *)(const void *)ss)->sin_port
          : ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
}

/* The addresses to bind: the distinct IPv4 and IPv6 ones of a lookup. */
struct srv_addrs {
  struct sockaddr_storage ss[WSV__SRV_MAX_ADDRS];
  socklen_t len[WSV__SRV_MAX_ADDRS];
  int n;
};

/* Append up to `most` new addresses of a lookup to `a` (as many as fit).
 * Returns how many IPv4 and IPv6 addresses the lookup had. */
static int srv_addrs_collect(struct srv_addrs *a, const struct addrinfo *res,
                             int most) {
  int added = 0, found = 0;
  for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof a->ss[0])
      continue;
    found++;
    if (a->n == WSV__SRV_MAX_ADDRS || added == most)
      continue;
    int dup = 0;
    for (int i = 0; i < a->n && !dup; i++)
      dup = a->len[i] == ai->ai_addrlen &&
            memcmp(&a->ss[i], ai->ai_addr, ai->ai_addrlen) == 0;
    if (dup)
      continue;
    memset(&a->ss[a->n], 0, sizeof a->ss[0]);
    memcpy(&a->ss[a->n], ai->ai_addr, ai->ai_addrlen);
    a->len[a->n] = ai->ai_addrlen;
    a->n++;
    added++;
  }
  return found;
}

static void srv_close_all(struct wsv_server *srv) {
  srv->naddrs = 0;
  for (int i = 0; i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    for (int j = 0; j < wk->nlisten; j++) {
      close(wk->listen[j].w.fd);
      wk->listen[j].w.fd = -1;
    }
    wk->nlisten = 0;
  }
}

/* Bind every worker's listener on address k of `a` (its port set); 0 or -1
 * with errno (the workers' listeners for it closed). */
static int srv_bind_addr(struct wsv_server *srv, const struct srv_addrs *a,
                         int k, int backlog) {
  for (int i = 0; i < srv->nthreads; i++) {
    struct srv_worker *wk = &srv->workers[i];
    int fd =
        srv_listen_one(srv, (const struct sockaddr *)&a->ss[k], a->len[k],
                       a->n > 1, backlog, &wk->listen[wk->nlisten].deferred);
    if (fd < 0) {
      int e = errno;
      for (int j = 0; j < i; j++) {
        struct srv_worker *w2 = &srv->workers[j];
        w2->nlisten--;
        close(w2->listen[w2->nlisten].w.fd);
        w2->listen[w2->nlisten].w.fd = -1;
      }
      errno = e;
      return -1;
    }
    wk->listen[wk->nlisten++].w.fd = fd;
  }
  return 0;
}

/* Address k of `a` as text ("127.0.0.1:8080", "[::1]:8080"). */
static void srv_addr_text(const struct srv_addrs *a, int k, char *buf,
                          size_t cap) {
  if (wsv__rt_addr_text((const struct sockaddr *)&a->ss[k], a->len[k], buf,
                        cap) < 0)
    snprintf(buf, cap, "?");
}

/* Bind every address of `a` on one port (picked by the first bind when
 * the port is 0).  Returns 0 once at least one address is bound (the
 * others logged and skipped); -1 with *err set (a WSV_ERR_*, errno kept)
 * when none could be, or 1 when port 0 must be tried again (the port the
 * first address got is taken on another). */
static int srv_bind_addrs(struct wsv_server *srv, struct srv_addrs *a,
                          uint16_t port, int backlog, int *err) {
  int bound = 0, e = 0;
  for (int k = 0; k < a->n; k++) {
    if (bound)
      srv_set_port(&a->ss[k], srv->port);
    if (srv_bind_addr(srv, a, k, backlog) == 0) {
      if (!bound) {
        struct sockaddr_storage b;
        socklen_t bl = sizeof b;
        if (getsockname(srv->workers[0].listen[0].w.fd, (struct sockaddr *)&b,
                        &bl) == 0)
          srv->port = srv_get_port(&b);
      }
      bound = 1;
      srv_set_port(&a->ss[k], srv->port);
      srv_addr_text(a, k, srv->addrs[srv->naddrs], sizeof srv->addrs[0]);
      srv->naddrs++;
      continue;
    }
    e = errno;
    if (bound && port == 0 && e == EADDRINUSE) {
      srv_close_all(srv);
      return 1;
    }
    char at[64];
    srv_addr_text(a, k, at, sizeof at);
    wsv__rt_log(&srv->ctx, bound || k + 1 < a->n ? WSV_LOG_WARN : WSV_LOG_ERROR,
                "bind %s: %s%s", at, strerror(e),
                bound ? "; listening without it" : "");
  }
  if (bound)
    return 0;
  *err = a->n == 0 ? WSV_ERR_INVAL : wsv_err_from_errno(e);
  errno = e;
  return -1;
}

/* Add the addresses of one host (an IP literal: one address; a name: each
 * distinct IPv4 and IPv6 address) to `a`.  0 or a WSV_ERR_* (logged). */
static int srv_addrs_add(struct wsv_server *srv, struct srv_addrs *a,
                         const char *host, uint16_t port) {
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
  unsigned char lit[sizeof(struct in6_addr)];
  int literal =
      inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1;
  int found = srv_addrs_collect(a, res, literal ? 1 : WSV__SRV_MAX_ADDRS);
  freeaddrinfo(res);
  if (found == 0) {
    wsv__rt_log(&srv->ctx, WSV_LOG_ERROR,
                "listen: %s has no IPv4 or IPv6 "
                "address",
                host);
    errno = EINVAL;
    return WSV_ERR_INVAL;
  }
  return 0;
}

int wsv__rt_srv_listen(struct wsv_server *srv, const char *host, uint16_t port,
                       int backlog) {
  struct srv_addrs a;
  a.n = 0;
  /* A comma-separated list of hosts: each one's addresses. */
  for (const char *p = host;;) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == '\0')
      break;
    size_t n = strcspn(p, ", ");
    char one[256];
    if (n >= sizeof one) {
      wsv__rt_log(&srv->ctx, WSV_LOG_ERROR, "listen: host name too long");
      errno = EINVAL;
      return WSV_ERR_INVAL;
    }
    memcpy(one, p, n);
    one[n] = '\0';
    int rc = srv_addrs_add(srv, &a, one, port);
    if (rc != 0)
      return rc;
    p += n;
  }
  int err = WSV_ERR_INVAL; /* no address at all */
  for (int tries = 0; tries < 8; tries++) {
    int r = srv_bind_addrs(srv, &a, port, backlog, &err);
    if (r <= 0)
      return r == 0 ? 0 : err;
    for (int k = 0; k < a.n; k++)
      srv_set_port(&a.ss[k], 0);
  }
  wsv__rt_log(&srv->ctx, WSV_LOG_ERROR,
              "listen %s: no port free on every address", host);
  errno = EADDRINUSE;
  return WSV_ERR_EADDRINUSE;
}

/* ---- accepting
 * ------------------------------------------------------------------ */

static void srv_new_conn(struct srv_worker *wk, int fd, int deferred) {
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
  /* Accepted once data came (TCP_DEFER_ACCEPT): the request is most
   * likely there, so read it now instead of after an epoll round.  When
   * the read finds nothing, the client was silent through the deferral:
   * the handshake timeout counts that time too (a silent client goes
   * after handshake_timeout_ms from its connect, as without deferral). */
  if (!deferred)
    return;
  wsv__rt_srv_hs_try(ws);
  uint32_t ht = srv->ctx.limits.handshake_timeout_ms;
  if (ws->phase == WS_HANDSHAKE && ht > SRV_DEFER_MS &&
      (ws->hs == NULL || ws->hs->len == 0))
    wsv__rt_ws_timer(ws, WS_T_HANDSHAKE, ht - SRV_DEFER_MS);
}

static void srv_pause_accept(struct srv_worker *wk) {
  for (int j = 0; j < wk->nlisten; j++)
    if (wk->listen[j].w.fd >= 0)
      (void)wsv__rt_watch_mod(wk->loop, &wk->listen[j].w, 0);
  (void)wsv_timer_start(&wk->accept_timer, 100, 0);
}

void wsv__rt_srv_resume_accept(struct wsv_timer *t, void *user) {
  struct srv_worker *wk = user;
  (void)t;
  for (int j = 0; j < wk->nlisten && !wk->shutting; j++)
    if (wk->listen[j].w.fd >= 0)
      (void)wsv__rt_watch_mod(wk->loop, &wk->listen[j].w, EPOLLIN);
}

/* Out of fds: accept and close the waiting connections with the reserve
 * fd, so the level-triggered listener does not spin; pause if even that
 * fails. */
static void srv_shed(struct srv_worker *wk, int lfd, int e) {
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
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      break;
    close(fd);
  }
  wk->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (wk->reserve_fd < 0)
    srv_pause_accept(wk);
}

/* Accept until the queue is empty (a batch per wake-up): under load the
 * closing EAGAIN is one accept4 in many (6 % of them with 32 handshakes
 * in flight), where one connection per wake-up would cost an epoll_wait
 * per connection instead (measured: 1.0 per handshake against 0.1). */
void wsv__rt_srv_on_accept(struct wsv__rt_watch *w, uint32_t events) {
  struct srv_worker *wk = ((struct srv_listener *)(void *)w)->wk;
  (void)events;
  for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      srv_new_conn(wk, fd, ((struct srv_listener *)(void *)w)->deferred);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
        errno == EPERM)
      continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM)
      srv_shed(wk, w->fd, errno);
    return; /* EAGAIN, or an error not worth a retry now */
  }
}

void wsv__rt_srv_close_listener(struct srv_worker *wk) {
  for (int j = 0; j < wk->nlisten; j++) {
    if (wk->listen[j].w.fd < 0)
      continue;
    wsv__rt_watch_del(wk->loop, &wk->listen[j].w);
    close(wk->listen[j].w.fd);
    wk->listen[j].w.fd = -1;
  }
  wsv_timer_stop(&wk->accept_timer);
}
