/*
 * transport.c - one byte stream on a loop (see transport.h): the socket's
 * watch, reads and gather writes (through TLS when there is some), the
 * flush-at-end-of-iteration list, half-close, reset and deferred free.
 * The loop's transports share one extension with three lists; its hook,
 * at the end of every iteration, reads again those whose input waits in
 * OpenSSL, runs the queued flushes, then frees the retired ones (those
 * still listed wait for the next round).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "h2.h"
#include "tls.h"

/* The loop's transports. */
struct tp_set {
  struct wsv__tp *flush; /* by flush_next */
  struct wsv__tp *again; /* by again_next */
  struct wsv__tp *dead;  /* by dead_next */
  uint8_t *gather;       /* the TLS gather buffer */
  size_t gather_cap;
};

static int tp_hook(struct wsv_loop *loop, void *user);

static int tp_set_init(struct wsv_loop *loop, void *ext) {
  return wsv__rt_loop_hook(loop, tp_hook, ext);
}

static void tp_set_free(struct wsv_loop *loop, void *ext) {
  struct tp_set *s = ext;
  (void)loop;
  free(s->gather);
}

static const struct wsv__rt_ext_type tp_set_type = {
    sizeof(struct tp_set), tp_set_init, NULL, tp_set_free};

static struct tp_set *tp_set(struct wsv_loop *loop) {
  return wsv__rt_loop_ext_find(loop, &tp_set_type);
}

static void tp_on_event(struct wsv__rt_watch *w, uint32_t events) {
  struct wsv__tp *tp = (struct wsv__tp *)w;
  tp->ops->event(tp, events);
}

static void tp_on_timer(struct wsv_timer *t, void *user) {
  struct wsv__tp *tp = user;
  (void)t;
  tp->ops->timeout(tp);
}

int wsv__tp_timer(struct wsv__tp *tp, uint64_t ms) {
  if (ms == 0) {
    wsv_timer_stop(&tp->timer);
    return 0;
  }
  return wsv_timer_start(&tp->timer, ms, 0) == 0 ? 0 : -1;
}

int wsv__tp_init(struct wsv__tp *tp, struct wsv_loop *loop,
                 const struct wsv__tp_ops *ops, int fd) {
  memset(tp, 0, sizeof *tp);
  tp->w.fn = tp_on_event;
  tp->w.fd = fd;
  tp->loop = loop;
  tp->ops = ops;
  wsv__rt_timer_init(&tp->timer, loop, tp_on_timer, tp);
  return wsv__rt_loop_ext(loop, &tp_set_type) != NULL ? 0 : -1;
}

/* ---- the watch ----------------------------------------------------------- */

int wsv__tp_watch(struct wsv__tp *tp, uint32_t events) {
  if (tp->stream)
    return 0; /* a stream has no socket: its connection watches */
  if (tp->rd_off)
    events &= ~(uint32_t)EPOLLIN;
  if (wsv__rt_watch_add(tp->loop, &tp->w, events) != 0)
    return -1;
  tp->watched = 1;
  return 0;
}

int wsv__tp_interest(struct wsv__tp *tp, uint32_t events) {
  if (tp->w.fd < 0 || !tp->watched)
    return 0;
  if (tp->rd_off)
    events &= ~(uint32_t)EPOLLIN;
  return wsv__rt_watch_mod(tp->loop, &tp->w, events);
}

void wsv__tp_unwatch(struct wsv__tp *tp) {
  wsv__rt_watch_del(tp->loop, &tp->w);
  tp->watched = 0;
}

int wsv__tp_pause_read(struct wsv__tp *tp, int on) {
  if ((tp->rd_off != 0) == (on != 0))
    return 0;
  uint32_t ev = tp->w.events;
  if (on) {
    tp->rd_off = 1;
    return wsv__tp_interest(tp, ev & ~(uint32_t)EPOLLIN);
  }
  tp->rd_off = 0;
  int rc = wsv__tp_interest(tp, ev | EPOLLIN);
  wsv__tp_read_again(tp); /* what OpenSSL holds, and the EOF/error it saw */
  return rc;
}

/* Ask for EPOLLOUT when `on` or when a TLS read needs it. */
static void tp_set_out(struct wsv__tp *tp, int on) {
  uint32_t ev = tp->w.events & ~(uint32_t)EPOLLOUT;
  if (on || wsv__rt_tls_want_out(tp))
    ev |= EPOLLOUT;
  (void)wsv__tp_interest(tp, ev);
}

int wsv__tp_read_wants_out(const struct wsv__tp *tp) {
  return wsv__rt_tls_want_out(tp);
}

/* ---- reading and writing ------------------------------------------------- */

/* A stream transport whose stream is gone (detached) reads a reset. */
static ssize_t tp_stream_gone(void) {
  errno = ECONNRESET;
  return -1;
}

ssize_t wsv__tp_read_raw(struct wsv__tp *tp, void *buf, size_t cap) {
  if (tp->stream)
    return tp->h2s != NULL ? wsv__h2s_read(tp->h2s, buf, cap)
                           : tp_stream_gone();
  ssize_t n;
  do
    n = recv(tp->w.fd, buf, cap, 0);
  while (n < 0 && errno == EINTR);
  return n;
}

ssize_t wsv__tp_read(struct wsv__tp *tp, void *buf, size_t cap) {
  if (wsv__tp_tls(tp) != NULL)
    return wsv__rt_tls_read(tp, buf, cap);
  return wsv__tp_read_raw(tp, buf, cap);
}

ssize_t wsv__tp_writev(struct wsv__tp *tp, const struct iovec *iov, int k,
                       size_t total) {
  ssize_t w;
  if (tp->stream)
    return tp->h2s != NULL ? wsv__h2s_writev(tp->h2s, iov, k, total)
                           : tp_stream_gone();
  if (wsv__tp_tls(tp) != NULL) {
    w = wsv__rt_tls_writev(tp, iov, k);
  } else {
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)(uintptr_t)iov;
    msg.msg_iovlen = (size_t)k;
    int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (tp->last_out ? MSG_MORE : 0);
    do
      w = sendmsg(tp->w.fd, &msg, flags);
    while (w < 0 && errno == EINTR);
  }
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -1;
    w = 0;
  }
  if ((size_t)w < total)
    tp_set_out(tp, 1);
  return w;
}

void wsv__tp_write_idle(struct wsv__tp *tp) {
  if (tp->w.events & EPOLLOUT)
    tp_set_out(tp, 0);
}

/* ---- the lists ------------------------------------------------------------
 */

void wsv__tp_want_flush(struct wsv__tp *tp) {
  if (tp->flushing || tp->dead)
    return;
  struct tp_set *s = tp_set(tp->loop);
  tp->flushing = 1;
  tp->flush_next = s->flush;
  s->flush = tp;
  wsv__rt_loop_dont_wait(tp->loop);
}

void wsv__tp_read_again(struct wsv__tp *tp) {
  if (tp->again || tp->dead)
    return;
  struct tp_set *s = tp_set(tp->loop);
  tp->again = 1;
  tp->again_next = s->again;
  s->again = tp;
  wsv__rt_loop_dont_wait(tp->loop);
}

uint8_t *wsv__tp_gather_buf(struct wsv__tp *tp, size_t size) {
  struct tp_set *s = tp_set(tp->loop);
  if (s->gather_cap < size) {
    uint8_t *p = realloc(s->gather, size);
    if (p == NULL)
      return NULL;
    s->gather = p;
    s->gather_cap = size;
  }
  return s->gather;
}

/* Put a retired transport that no list holds on the retired list. */
static void tp_list_dead(struct tp_set *s, struct wsv__tp *tp) {
  tp->dead_next = s->dead;
  s->dead = tp;
}

/* Read again the transports whose input waits in OpenSSL; those added
 * meanwhile wait for the next iteration. */
static void tp_run_again(struct tp_set *s) {
  struct wsv__tp *list = s->again;
  s->again = NULL;
  while (list != NULL) {
    struct wsv__tp *tp = list;
    list = tp->again_next;
    tp->again = 0;
    tp->again_next = NULL;
    if (tp->dead)
      tp_list_dead(s, tp); /* retired while listed */
    else if (tp->w.fd >= 0 || tp->stream)
      tp->ops->event(tp, EPOLLIN);
  }
}

static void tp_run_flush(struct tp_set *s) {
  while (s->flush != NULL) {
    struct wsv__tp *tp = s->flush;
    s->flush = tp->flush_next;
    tp->flushing = 0;
    tp->flush_next = NULL;
    if (!tp->dead)
      tp->ops->flush(tp);
  }
}

/* Free the retired transports no list holds; returns 1 if some wait. */
static int tp_reap(struct tp_set *s) {
  while (s->dead != NULL) {
    struct wsv__tp *list = s->dead;
    struct wsv__tp *later = NULL;
    s->dead = NULL;
    while (list != NULL) {
      struct wsv__tp *next = list->dead_next;
      if (list->flushing) { /* still listed: next round */
        list->dead_next = later;
        later = list;
      } else {
        list->ops->free(list);
      }
      list = next;
    }
    if (later != NULL) {
      while (later != NULL) {
        struct wsv__tp *next = later->dead_next;
        later->dead_next = s->dead;
        s->dead = later;
        later = next;
      }
      return 1;
    }
  }
  return 0;
}

/* Move the retired transports still on the again list to the retired
 * list, so that they are freed in this iteration. */
static void tp_sweep_again(struct tp_set *s) {
  struct wsv__tp **pp = &s->again;
  while (*pp != NULL) {
    struct wsv__tp *tp = *pp;
    if (tp->dead) {
      *pp = tp->again_next;
      tp->again = 0;
      tp->again_next = NULL;
      tp_list_dead(s, tp);
    } else {
      pp = &tp->again_next;
    }
  }
}

static int tp_hook(struct wsv_loop *loop, void *user) {
  struct tp_set *s = user;
  (void)loop;
  tp_run_again(s);
  tp_run_flush(s);
  tp_sweep_again(s);
  return tp_reap(s) || s->again != NULL || s->flush != NULL;
}

/* ---- ending ---------------------------------------------------------------
 */

void wsv__tp_shutdown_write(struct wsv__tp *tp) {
  if (tp->stream) {
    if (tp->h2s != NULL)
      wsv__h2s_end(tp->h2s);
    return;
  }
  wsv__rt_tls_close_notify(tp);
  if (tp->w.fd >= 0)
    (void)shutdown(tp->w.fd, SHUT_WR);
}

void wsv__tp_reset(struct wsv__tp *tp) {
  struct linger lg = {1, 0};
  if (tp->stream) {
    if (tp->h2s != NULL)
      wsv__h2s_reset(tp->h2s);
    return;
  }
  if (tp->w.fd >= 0)
    (void)setsockopt(tp->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

int wsv__tp_unsent(const struct wsv__tp *tp) {
  int n = 0;
  if (tp->stream)
    return tp->h2s != NULL ? (int)wsv__h2s_unsent(tp->h2s) : 0;
  if (tp->w.fd < 0 || ioctl(tp->w.fd, SIOCOUTQ, &n) != 0)
    return 0;
  return n;
}

int wsv__tp_drain(struct wsv__tp *tp, uint32_t *dropped, size_t limit) {
  struct wsv_loop *loop = tp->loop;
  ssize_t n = wsv__tp_read_raw(tp, loop->rbuf, loop->rbuf_cap);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
  if (n == 0) {
    /* EOF stays readable: watch for writability only from now on (the
     * owner finishes on the next EPOLLOUT once its answer is out). */
    (void)wsv__tp_interest(tp, EPOLLOUT);
    return 0;
  }
  *dropped += (uint32_t)n;
  return *dropped >= limit ? -1 : 1;
}

void wsv__tp_close(struct wsv__tp *tp) {
  if (tp->stream) {
    struct wsv__h2s *s = tp->h2s;
    tp->h2s = NULL;
    if (s != NULL)
      wsv__h2s_detach(s);
    return;
  }
  if (tp->w.fd < 0)
    return;
  wsv__tp_unwatch(tp);
  wsv__rt_tls_close_notify(tp);
  close(tp->w.fd);
  tp->w.fd = -1;
}

void wsv__tp_retire(struct wsv__tp *tp) {
  if (tp->dead)
    return;
  wsv__tp_close(tp);
  wsv_timer_stop(&tp->timer);
  tp->dead = 1;
  struct tp_set *s = tp_set(tp->loop);
  if (!tp->again) /* else tp_run_again lists it */
    tp_list_dead(s, tp);
  wsv__rt_loop_dont_wait(tp->loop);
}

void wsv__tp_release(struct wsv__tp *tp) {
  wsv__rt_tls_free(tp);
}

/* ---- addresses ----------------------------------------------------------- */

void wsv__rt_nodelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int wsv__rt_addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t cap) {
  char host[INET6_ADDRSTRLEN];
  int n;
  if (sa->sa_family == AF_INET &&
      len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host) == NULL)
      return -1;
    n = snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6 &&
             len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 =
        (const struct sockaddr_in6 *)(const void *)sa;
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) == NULL)
      return -1;
    n = snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
  } else {
    return -1;
  }
  return n < 0 ? -1 : n;
}

const struct wsv__tp *wsv__tp_socket(const struct wsv__tp *tp) {
  if (!tp->stream)
    return tp;
  return tp->h2s != NULL ? wsv__h2s_socket(tp->h2s) : NULL;
}

int wsv__tp_peer(const struct wsv__tp *tp, char *buf, size_t cap) {
  tp = wsv__tp_socket(tp);
  if (tp == NULL || tp->w.fd < 0)
    return WSV_ERR_INVAL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char tmp[80];
  if (getpeername(tp->w.fd, (struct sockaddr *)&ss, &len) != 0)
    return WSV_ERR_INVAL;
  int n = wsv__rt_addr_text((struct sockaddr *)&ss, len, tmp, sizeof tmp);
  if (n < 0)
    return WSV_ERR_INVAL;
  if ((size_t)n >= cap)
    return WSV_ERR_NOBUF;
  memcpy(buf, tmp, (size_t)n + 1);
  return n;
}

int wsv__rt_gai_code(int gai_error) {
  if (gai_error == EAI_MEMORY)
    return WSV_ERR_NOMEM;
  if (gai_error == EAI_SYSTEM)
    return wsv_err_from_errno(errno);
  return WSV_ERR_RESOLVE;
}

const char *wsv__rt_errno_text(int e) {
  switch (e) {
  case ECONNRESET:
    return "connection reset by peer";
  case ECONNREFUSED:
    return "connection refused";
  case EPIPE:
    return "broken pipe";
  case ETIMEDOUT:
    return "connection timed out";
  case EHOSTUNREACH:
    return "host unreachable";
  case ENETUNREACH:
    return "network unreachable";
  case ENOMEM:
    return "out of memory";
  case ENOBUFS:
    return "no buffer space";
  case EADDRNOTAVAIL:
    return "address not available";
  default:
    return "socket error";
  }
}
