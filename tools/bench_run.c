/*
 * bench_run.c - the load engine of `wsv bench`: one epoll loop per
 * generator thread over raw non-blocking sockets, driving the sans-I/O
 * core directly (wsv_hs_client for the handshake, wsv_conn for frames).
 *
 * Why not the runtime's client: the echo loop here costs one recv, one
 * writev and one epoll_wait per batch of echoes, parses frames as views
 * into one read buffer per thread (the core's streaming mode, so a 1 MiB
 * echo is never reassembled), and stamps time once per batch.  See
 * docs/benchmarks.md for the measurement that made the choice.
 *
 * Every echo is checked byte for byte: message `seq` of a connection is
 * the sequence number in hexadecimal (its first min(16, size) bytes)
 * followed by the shared pattern from offset seq % BENCH_PATTERN_SPAN, so
 * a lost, repeated, reordered or corrupted message never compares equal.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"

#include "bench.h"

/* Connection states. */
enum {
  BC_IDLE = 0,   /* not started (or finished, ready to start again) */
  BC_CONNECTING, /* TCP connect in progress */
  BC_HANDSHAKE,  /* request sent, waiting for the 101 */
  BC_OPEN,       /* messages flow */
  BC_CLOSING,    /* our Close sent: waiting for the server's and EOF */
  BC_DONE        /* finished (closed or failed) */
};

#define BENCH_HS_CAP 16384u   /* handshake response buffer */
#define BENCH_RBUF 262144u    /* read buffer per thread */
#define BENCH_IOV 64          /* iovecs per writev */
#define BENCH_SETUP_S 15u     /* most seconds to open the connections */
#define BENCH_DRAIN_S 5u      /* most seconds to finish after the stop */
#define BENCH_OPENING_MAX 256 /* echo: handshakes in flight while opening */

struct eng;

struct bconn {
  struct eng *e;
  int fd;
  uint8_t state;
  uint8_t got_close; /* the server's Close arrived */
  uint32_t events;   /* what epoll watches for */
  uint32_t src;      /* source address index (idle) */
  struct wsv_hs_client *hs;
  char *hsbuf; /* the head so far when it took several reads */
  size_t hslen;
  struct wsv_conn *conn;
  uint64_t sent, recvd; /* messages sent, and echoes fully verified */
  size_t rpos;          /* bytes of echo `recvd` verified so far */
  uint64_t *stamps;     /* send time of message seq at seq % inflight */
  char *hdrs;           /* raw: header bytes of message seq at seq % D */
  uint64_t wseq;        /* raw: first message not completely written */
  size_t wpos;          /* raw: bytes of it written */
  uint64_t t0;          /* when the connect started */
};

struct eng {
  struct bench *b;
  struct bench_thread *t;
  const struct bench_opts *o;
  int ep;
  uint8_t *rbuf;
  uint8_t *pat; /* this thread's copy of the pattern (patched to send) */
  size_t hlen;  /* header bytes per message: min(16, size) */
  int op;
  struct bconn *c;
  size_t n;
  size_t next_open; /* idle/echo: the next connection to start */
  size_t opening;   /* handshakes in flight */
  size_t opening_max;
  size_t active; /* connections neither idle nor done */
  uint64_t now;
  int loading;  /* echo: the load has started */
  int stopping; /* no new messages or cycles */
  int counting;
  uint64_t drain_deadline;
  struct wsv_hs_client_config hcfg;
  struct wsv_conn_config ccfg;
};

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- histogram ----------------------------------------------------------- */

static unsigned hist_index(uint64_t v) {
  if (v < BENCH_HIST_SUB)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = e - BENCH_HIST_SUB_BITS;
  return (shift + 1u) * BENCH_HIST_SUB +
         (unsigned)((v >> shift) & (BENCH_HIST_SUB - 1u));
}

void bench_hist_add(struct bench_hist *h, uint64_t v) {
  h->n[hist_index(v)]++;
  h->count++;
  if (v > h->max)
    h->max = v;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h) {
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
    into->n[i] += h->n[i];
  into->count += h->count;
  if (h->max > into->max)
    into->max = h->max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q) {
  if (h->count == 0)
    return 0;
  uint64_t want = (uint64_t)(q * (double)h->count + 0.5);
  if (want < 1)
    want = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
    seen += h->n[i];
    if (seen < want)
      continue;
    if (i < BENCH_HIST_SUB)
      return i;
    unsigned shift = i / BENCH_HIST_SUB - 1u;
    uint64_t lo = (uint64_t)(BENCH_HIST_SUB + i % BENCH_HIST_SUB) << shift;
    uint64_t mid = lo + ((UINT64_C(1) << shift) >> 1);
    return mid < h->max ? mid : h->max;
  }
  return h->max;
}

/* ---- randomness -----------------------------------------------------------
 * Handshake keys and masking keys come from a per-thread xorshift64*
 * generator seeded from the OS: unpredictable enough for a load generator
 * (the server cannot tell), and no getrandom(2) call per frame. */

static int eng_random(void *user, uint8_t *buf, size_t len) {
  struct bench_thread *t = user;
  uint64_t x = t->rng;
  while (len > 0) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t r = x * UINT64_C(2685821657736338717);
    size_t k = len < 8 ? len : 8;
    memcpy(buf, &r, k);
    buf += k;
    len -= k;
  }
  t->rng = x;
  return 0;
}

/* ---- messages ------------------------------------------------------------ */

static const char hexdig[] = "0123456789abcdef";

static uint8_t msg_hex(uint64_t seq, size_t hlen, size_t pos) {
  unsigned shift = (unsigned)(4u * (hlen - 1u - pos));
  return (uint8_t)hexdig[(seq >> shift) & 15u];
}

static void msg_header(uint64_t seq, size_t hlen, uint8_t *out) {
  for (size_t p = 0; p < hlen; p++)
    out[p] = msg_hex(seq, hlen, p);
}

/* Check data[0..n) against bytes pos.. of message seq.  Returns 0 when
 * they match. */
static int msg_verify(const struct eng *e, uint64_t seq, size_t pos,
                      const uint8_t *data, size_t n) {
  while (n > 0 && pos < e->hlen) {
    if (*data != msg_hex(seq, e->hlen, pos))
      return -1;
    data++;
    pos++;
    n--;
  }
  if (n == 0)
    return 0;
  return memcmp(data, e->b->pattern + seq % BENCH_PATTERN_SPAN + pos, n) != 0
             ? -1
             : 0;
}

/* ---- connections --------------------------------------------------------- */

static void eng_fail(struct bconn *c, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void eng_start(struct bconn *c);
static void eng_finish(struct bconn *c, int ok);

static void eng_watch(struct bconn *c, uint32_t events) {
  if (c->events == events)
    return;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.ptr = c;
  (void)epoll_ctl(c->e->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

/* Release what the connection holds and close its socket. */
static void eng_release(struct bconn *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  wsv_hs_client_free(c->hs);
  c->hs = NULL;
  free(c->hsbuf);
  c->hsbuf = NULL;
  c->hslen = 0;
  wsv_conn_free(c->conn);
  c->conn = NULL;
}

static void eng_fail(struct bconn *c, const char *fmt, ...) {
  struct bench_thread *t = c->e->t;
  if (t->err[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
  }
  t->conn_errors++;
  eng_finish(c, 0);
}

/* The connection is over (ok: cleanly).  Starts the next cycle in connect
 * mode, or the next connection while opening. */
static void eng_finish(struct bconn *c, int ok) {
  struct eng *e = c->e;
  if (c->state == BC_DONE || c->state == BC_IDLE)
    return;
  if (c->state == BC_CONNECTING || c->state == BC_HANDSHAKE)
    e->opening--;
  if (c->sent > c->recvd)
    e->t->unanswered += c->sent - c->recvd;
  eng_release(c);
  c->state = BC_DONE;
  e->active--;
  if (e->o->mode == BENCH_CONNECT) {
    if (ok && e->counting)
      e->t->hs++;
    c->state = BC_IDLE;
    if (!e->stopping && (ok || e->t->conn_errors < 1000))
      eng_start(c);
  }
}

static void eng_open_more(struct eng *e) {
  while (!e->stopping && e->opening < e->opening_max && e->next_open < e->n)
    eng_start(&e->c[e->next_open++]);
}

/* Write what is queued.  Returns 0, or -1 when the connection failed. */
static int eng_flush_ws(struct bconn *c) {
  struct wsv_iovec iov[BENCH_IOV];
  for (;;) {
    int k = wsv_conn_output(c->conn, iov, BENCH_IOV);
    if (k <= 0)
      break;
    size_t total = 0;
    for (int i = 0; i < k; i++)
      total += iov[i].len;
    ssize_t w = writev(c->fd, (const struct iovec *)(const void *)iov, k);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      eng_fail(c, "write: %s", strerror(errno));
      return -1;
    }
    (void)wsv_conn_consume_output(c->conn, (size_t)w);
    if ((size_t)w < total)
      break;
  }
  uint32_t want = EPOLLIN;
  if (wsv_conn_want_write(c->conn))
    want |= EPOLLOUT;
  eng_watch(c, want);
  return 0;
}

static int eng_flush_raw(struct bconn *c) {
  struct eng *e = c->e;
  size_t d = (size_t)e->o->inflight, s = (size_t)e->o->size;
  while (c->wseq < c->sent) {
    struct iovec iov[BENCH_IOV];
    int k = 0;
    size_t total = 0;
    for (uint64_t q = c->wseq; q < c->sent && k + 2 <= BENCH_IOV; q++) {
      size_t pos = q == c->wseq ? c->wpos : 0;
      if (pos < e->hlen) {
        iov[k].iov_base = c->hdrs + (size_t)(q % d) * 16u + pos;
        iov[k].iov_len = e->hlen - pos;
        total += iov[k++].iov_len;
        pos = e->hlen;
      }
      if (pos < s) {
        iov[k].iov_base = e->b->pattern + q % BENCH_PATTERN_SPAN + pos;
        iov[k].iov_len = s - pos;
        total += iov[k++].iov_len;
      }
    }
    ssize_t w = writev(c->fd, iov, k);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      eng_fail(c, "write: %s", strerror(errno));
      return -1;
    }
    size_t left = (size_t)w;
    while (left > 0) {
      size_t rest = s - c->wpos;
      if (left < rest) {
        c->wpos += left;
        break;
      }
      left -= rest;
      c->wpos = 0;
      c->wseq++;
    }
    if ((size_t)w < total)
      break;
  }
  eng_watch(c, c->wseq < c->sent ? EPOLLIN | EPOLLOUT : EPOLLIN);
  return 0;
}

static int eng_flush(struct bconn *c) {
  return c->e->o->raw ? eng_flush_raw(c) : eng_flush_ws(c);
}

/* Queue message number c->sent. */
static int eng_send(struct bconn *c) {
  struct eng *e = c->e;
  uint64_t seq = c->sent;
  size_t d = (size_t)e->o->inflight;
  c->stamps[seq % d] = e->now;
  c->sent++;
  if (e->o->raw) {
    msg_header(seq, e->hlen, (uint8_t *)c->hdrs + (size_t)(seq % d) * 16u);
    return 0;
  }
  /* Patch the header into this thread's pattern copy, send (the core
   * copies and masks), and restore. */
  uint8_t *p = e->pat + seq % BENCH_PATTERN_SPAN;
  uint8_t save[16];
  memcpy(save, p, e->hlen);
  msg_header(seq, e->hlen, p);
  int rc = wsv_conn_send(c->conn, e->op, p, (size_t)e->o->size);
  memcpy(p, save, e->hlen);
  if (rc < 0) {
    eng_fail(c, "send: %s", wsv_strerror(rc));
    return -1;
  }
  return 0;
}

/* Start the closing: a Close 1000 (WebSocket) or just the end (raw). */
static void eng_begin_close(struct bconn *c) {
  if (c->e->o->raw) {
    eng_finish(c, 1);
    return;
  }
  int rc = wsv_conn_close(c->conn, 1000, NULL, 0);
  if (rc < 0) {
    eng_fail(c, "close: %s", wsv_strerror(rc));
    return;
  }
  c->state = BC_CLOSING;
  (void)eng_flush_ws(c);
}

/* Echo number c->recvd is complete. */
static int eng_echo_done(struct bconn *c) {
  struct eng *e = c->e;
  struct bench_thread *t = e->t;
  if (e->counting) {
    uint64_t sent_at = c->stamps[c->recvd % e->o->inflight];
    bench_hist_add(&t->lat, e->now - sent_at);
    t->msgs++;
    if (t->messages != 0 && t->msgs >= t->messages && !e->stopping) {
      e->stopping = 1;
      t->t_stop = e->now;
    }
  }
  c->recvd++;
  c->rpos = 0;
  if (!e->stopping)
    return eng_send(c);
  if (c->recvd == c->sent)
    eng_begin_close(c);
  return c->state == BC_DONE ? -1 : 0;
}

/* A piece of an echo (WebSocket streaming mode delivers views). */
static int eng_ws_piece(struct bconn *c, const struct wsv_event *ev) {
  struct eng *e = c->e;
  size_t s = (size_t)e->o->size;
  if (c->recvd >= c->sent) {
    e->t->verify_errors++;
    eng_fail(c, "a message arrived that was never sent");
    return -1;
  }
  if (ev->opcode != e->op || (ev->first && c->rpos != 0) ||
      c->rpos + ev->len > s ||
      msg_verify(e, c->recvd, c->rpos, ev->data, ev->len) != 0) {
    e->t->verify_errors++;
    eng_fail(c, "echo %llu differs from the message sent",
             (unsigned long long)c->recvd);
    return -1;
  }
  c->rpos += ev->len;
  if (!ev->last)
    return 0;
  if (c->rpos != s) {
    e->t->verify_errors++;
    eng_fail(c, "echo %llu is %zu bytes, sent %zu",
             (unsigned long long)c->recvd, c->rpos, s);
    return -1;
  }
  return eng_echo_done(c);
}

/* Bytes from the server on an open WebSocket connection. */
static int eng_ws_input(struct bconn *c, uint8_t *buf, size_t n) {
  int rc = wsv_conn_recv(c->conn, buf, n);
  if (rc != WSV_OK) {
    eng_fail(c, "recv: %s", wsv_strerror(rc));
    return -1;
  }
  struct wsv_event ev;
  for (;;) {
    int ty = wsv_conn_next_event(c->conn, &ev);
    if (ty == WSV_EV_NONE)
      break;
    switch (ty) {
    case WSV_EV_TEXT:
    case WSV_EV_BINARY:
      if (c->e->o->mode != BENCH_ECHO) {
        eng_fail(c, "unexpected message from the server");
        return -1;
      }
      if (eng_ws_piece(c, &ev) != 0)
        return -1;
      break;
    case WSV_EV_CLOSE:
      c->got_close = 1;
      if (c->state != BC_CLOSING) {
        eng_fail(c, "the server closed the connection (%d)", ev.close_code);
        return -1;
      }
      break;
    case WSV_EV_ERROR:
      eng_fail(c, "protocol error from the server: %s (%d)",
               wsv_strerror(ev.err), ev.close_code);
      return -1;
    default:
      break; /* pings are answered by the core; pongs ignored */
    }
  }
  return eng_flush_ws(c);
}

/* Bytes from a raw TCP echo server. */
static int eng_raw_input(struct bconn *c, const uint8_t *p, size_t n) {
  size_t s = (size_t)c->e->o->size;
  while (n > 0) {
    if (c->recvd >= c->sent) {
      c->e->t->verify_errors++;
      eng_fail(c, "bytes arrived that were never sent");
      return -1;
    }
    size_t m = s - c->rpos < n ? s - c->rpos : n;
    if (msg_verify(c->e, c->recvd, c->rpos, p, m) != 0) {
      c->e->t->verify_errors++;
      eng_fail(c, "echo %llu differs from the message sent",
               (unsigned long long)c->recvd);
      return -1;
    }
    p += m;
    n -= m;
    c->rpos += m;
    if (c->rpos == s && eng_echo_done(c) != 0)
      return -1;
  }
  return c->state == BC_OPEN ? eng_flush_raw(c) : 0;
}

/* The handshake succeeded; rest[0..n) are the bytes after the head. */
static void eng_opened(struct bconn *c, uint8_t *rest, size_t n) {
  struct eng *e = c->e;
  struct bench_thread *t = e->t;
  e->opening--;
  t->opened++;
  if (!e->o->raw) {
    wsv_hs_client_free(c->hs);
    c->hs = NULL;
    int rc = wsv_conn_new(&c->conn, WSV_ROLE_CLIENT, &e->ccfg, NULL);
    if (rc != WSV_OK) {
      e->opening++; /* eng_finish counts it as opening no more */
      c->state = BC_HANDSHAKE;
      eng_fail(c, "%s", wsv_strerror(rc));
      return;
    }
  }
  c->state = BC_OPEN;
  if (e->o->mode == BENCH_CONNECT) {
    if (e->counting)
      bench_hist_add(&t->lat, e->now - c->t0);
    eng_begin_close(c);
  }
  if (c->state != BC_DONE && c->conn != NULL && n > 0)
    (void)eng_ws_input(c, rest, n);
  free(c->hsbuf);
  c->hsbuf = NULL;
  if (c->state == BC_OPEN && e->o->mode == BENCH_ECHO && e->loading &&
      !e->stopping) {
    for (uint64_t i = 0; i < e->o->inflight; i++)
      if (eng_send(c) != 0)
        return;
    (void)eng_flush(c);
  }
  eng_open_more(e);
}

static void eng_send_request(struct bconn *c) {
  char req[2048];
  size_t len = 0;
  int rc = wsv_hs_client_request(c->hs, req, sizeof req, &len);
  if (rc != WSV_OK) {
    eng_fail(c, "request: %s", wsv_strerror(rc));
    return;
  }
  ssize_t w = send(c->fd, req, len, MSG_NOSIGNAL);
  if (w != (ssize_t)len) {
    eng_fail(c, "write: %s", w < 0 ? strerror(errno) : "short write");
    return;
  }
  c->state = BC_HANDSHAKE;
  eng_watch(c, EPOLLIN);
}

/* TCP is connected. */
static void eng_connected(struct bconn *c) {
  if (c->e->o->raw) {
    eng_watch(c, EPOLLIN);
    eng_opened(c, NULL, 0);
  } else {
    eng_send_request(c);
  }
}

/* Start connection c (a new TCP connection). */
static void eng_start(struct bconn *c) {
  struct eng *e = c->e;
  struct bench *b = e->b;
  c->state = BC_CONNECTING;
  c->got_close = 0;
  c->sent = c->recvd = c->wseq = 0;
  c->rpos = c->wpos = 0;
  c->t0 = e->now;
  e->opening++;
  e->active++;
  int fd =
      socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    eng_fail(c, "socket: %s", strerror(errno));
    return;
  }
  c->fd = fd;
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (e->o->mode == BENCH_IDLE && b->opt.sources > 1) {
    /* Several loopback source addresses, for more than one address's
     * worth of ports. */
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + c->src);
#ifdef IP_BIND_ADDRESS_NO_PORT
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
      eng_fail(c, "bind 127.0.0.%u: %s", 1u + c->src, strerror(errno));
      return;
    }
  }
  if (!e->o->raw) {
    int rc = wsv_hs_client_new(&c->hs, &e->hcfg, NULL);
    if (rc != WSV_OK) {
      eng_fail(c, "handshake: %s", wsv_strerror(rc));
      return;
    }
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  int rc = connect(fd, (struct sockaddr *)&b->addr, b->addrlen);
  if (rc != 0 && errno != EINPROGRESS) {
    eng_fail(c, "connect: %s", strerror(errno));
    return;
  }
  c->events = rc == 0 ? EPOLLIN : EPOLLOUT;
  ev.events = c->events;
  ev.data.ptr = c;
  if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    eng_fail(c, "epoll_ctl: %s", strerror(errno));
    return;
  }
  if (rc == 0)
    eng_connected(c);
}

/* Readable while waiting for the 101. */
static void eng_hs_input(struct bconn *c) {
  struct eng *e = c->e;
  uint8_t *buf;
  size_t len;
  ssize_t n;
  if (c->hsbuf == NULL) {
    n = recv(c->fd, e->rbuf, BENCH_RBUF, 0);
    if (n <= 0)
      goto gone;
    buf = e->rbuf;
    len = (size_t)n;
  } else {
    n = recv(c->fd, c->hsbuf + c->hslen, BENCH_HS_CAP - c->hslen, 0);
    if (n <= 0)
      goto gone;
    c->hslen += (size_t)n;
    buf = (uint8_t *)c->hsbuf;
    len = c->hslen;
  }
  int rc = wsv_hs_client_parse(c->hs, (const char *)buf, len);
  if (rc == WSV_HSC_OPEN) {
    size_t head = wsv_hs_client_head_len(c->hs);
    eng_opened(c, buf + head, len - head);
    return;
  }
  if (rc != WSV_HSC_INCOMPLETE) {
    eng_fail(c, "handshake refused: %s", wsv_hs_client_reason(c->hs));
    return;
  }
  if (c->hsbuf == NULL) {
    c->hsbuf = malloc(BENCH_HS_CAP);
    if (c->hsbuf == NULL || len > BENCH_HS_CAP) {
      eng_fail(c, "out of memory");
      return;
    }
    memcpy(c->hsbuf, buf, len);
    c->hslen = len;
  } else if (c->hslen == BENCH_HS_CAP) {
    eng_fail(c, "handshake response too long");
  }
  return;
gone:
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  eng_fail(c, "handshake: %s",
           n < 0 ? strerror(errno) : "the server closed the connection");
}

/* Readable while open or closing. */
static void eng_input(struct bconn *c) {
  struct eng *e = c->e;
  if (e->o->mode == BENCH_ECHO)
    e->now = bench_now_ns();
  for (int round = 0; round < 8; round++) {
    ssize_t n = recv(c->fd, e->rbuf, BENCH_RBUF, 0);
    if (n > 0) {
      int rc = e->o->raw ? eng_raw_input(c, e->rbuf, (size_t)n)
                         : eng_ws_input(c, e->rbuf, (size_t)n);
      if (rc != 0 || (size_t)n < BENCH_RBUF || c->state == BC_DONE)
        return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n == 0 && c->state == BC_CLOSING && c->got_close) {
      eng_finish(c, 1);
      return;
    }
    if (n == 0)
      eng_fail(c, "the server closed the connection");
    else
      eng_fail(c, "read: %s", strerror(errno));
    return;
  }
}

static void eng_event(struct bconn *c, uint32_t events) {
  switch (c->state) {
  case BC_CONNECTING: {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err != 0) {
      eng_fail(c, "connect: %s", strerror(err));
      return;
    }
    eng_connected(c);
    return;
  }
  case BC_HANDSHAKE:
    eng_hs_input(c);
    return;
  case BC_OPEN:
  case BC_CLOSING:
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      eng_input(c);
    if (c->state != BC_DONE && c->state != BC_IDLE && (events & EPOLLOUT))
      (void)eng_flush(c);
    return;
  default:
    return;
  }
}

/* ---- the thread ---------------------------------------------------------- */

static int eng_init(struct eng *e, struct bench_thread *t) {
  memset(e, 0, sizeof *e);
  e->t = t;
  e->b = t->b;
  e->o = &t->b->opt;
  e->ep = epoll_create1(EPOLL_CLOEXEC);
  e->n = (size_t)t->nconns;
  e->rbuf = malloc(BENCH_RBUF);
  e->c = calloc(e->n ? e->n : 1, sizeof *e->c);
  size_t s = (size_t)e->o->size;
  e->hlen = s < 16 ? s : 16;
  e->op = e->o->binary ? WSV_OP_BINARY : WSV_OP_TEXT;
  if (e->o->mode == BENCH_ECHO && !e->o->raw) {
    e->pat = malloc(s + BENCH_PATTERN_SPAN);
    if (e->pat != NULL)
      memcpy(e->pat, e->b->pattern, s + BENCH_PATTERN_SPAN);
  }
  if (e->ep < 0 || e->rbuf == NULL || e->c == NULL ||
      (e->o->mode == BENCH_ECHO && !e->o->raw && e->pat == NULL)) {
    snprintf(t->err, sizeof t->err, "out of memory or file descriptors");
    return -1;
  }
  size_t d = (size_t)e->o->inflight;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    c->e = e;
    c->fd = -1;
    c->src = e->o->sources > 1
                 ? (uint32_t)((i * (size_t)e->o->threads + (size_t)t->id) %
                              e->o->sources)
                 : 0;
    if (e->o->mode == BENCH_ECHO) {
      c->stamps = malloc(d * sizeof *c->stamps);
      c->hdrs = e->o->raw ? malloc(d * 16u) : NULL;
      if (c->stamps == NULL || (e->o->raw && c->hdrs == NULL)) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return -1;
      }
    }
  }
  wsv_hs_client_config_init(&e->hcfg);
  e->hcfg.versions = WSV_VERSION_BIT(13);
  e->hcfg.host = e->o->host;
  e->hcfg.port = e->o->port;
  e->hcfg.path = e->o->path;
  e->hcfg.random = eng_random;
  e->hcfg.random_user = t;
  wsv_conn_config_init(&e->ccfg);
  e->ccfg.stream = 1;
  e->ccfg.random = eng_random;
  e->ccfg.random_user = t;
  if (e->o->size > e->ccfg.max_message) {
    e->ccfg.max_message = e->o->size;
    e->ccfg.max_frame = e->o->size;
  }
  if (e->o->size * e->o->inflight * 2u > e->ccfg.max_output)
    e->ccfg.max_output = (size_t)(e->o->size * e->o->inflight * 2u);
  return 0;
}

static void eng_cleanup(struct eng *e) {
  for (size_t i = 0; i < e->n; i++) {
    eng_release(&e->c[i]);
    free(e->c[i].stamps);
    free(e->c[i].hdrs);
  }
  free(e->c);
  free(e->rbuf);
  free(e->pat);
  if (e->ep >= 0)
    close(e->ep);
}

/* One round of the loop: wait at most timeout_ms, handle the events. */
static void eng_poll(struct eng *e, int timeout_ms) {
  struct epoll_event evs[256];
  int k = epoll_wait(e->ep, evs, 256, timeout_ms);
  e->now = bench_now_ns();
  for (int i = 0; i < k; i++)
    eng_event(evs[i].data.ptr, evs[i].events);
}

/* Stop: no new messages or cycles; close what is quiet. */
static void eng_stop(struct eng *e) {
  if (!e->stopping) {
    e->stopping = 1;
    e->t->t_stop = e->now;
  }
  e->drain_deadline = e->now + (uint64_t)BENCH_DRAIN_S * 1000000000u;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state == BC_OPEN && c->sent == c->recvd)
      eng_begin_close(c);
  }
}

/* Wait for the connections to finish; after the deadline drop the rest
 * (an echo still missing is counted as unanswered). */
static void eng_drain(struct eng *e) {
  while (e->active > 0 && e->now < e->drain_deadline)
    eng_poll(e, 50);
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state == BC_DONE || c->state == BC_IDLE)
      continue;
    if (c->sent > c->recvd || c->state != BC_CLOSING)
      eng_fail(c, "no answer within %u s of the stop", BENCH_DRAIN_S);
    else
      eng_finish(c, 0); /* only the close handshake was missing */
  }
}

static void eng_run_echo(struct eng *e) {
  struct bench *b = e->b;
  struct bench_thread *t = e->t;
  e->now = bench_now_ns();
  uint64_t setup_end = e->now + (uint64_t)BENCH_SETUP_S * 1000000000u;
  e->opening_max = BENCH_OPENING_MAX;
  eng_open_more(e);
  while ((e->opening > 0 || e->next_open < e->n) && e->now < setup_end &&
         !atomic_load(&b->abort_all))
    eng_poll(e, 50);
  for (size_t i = 0; i < e->n; i++)
    if (e->c[i].state == BC_CONNECTING || e->c[i].state == BC_HANDSHAKE)
      eng_fail(&e->c[i], "not open within %u s", BENCH_SETUP_S);
  pthread_barrier_wait(&b->barrier); /* every thread is open */
  pthread_barrier_wait(&b->barrier); /* the main thread set the times */
  e->now = bench_now_ns();
  e->loading = 1;
  e->counting = b->t_measure <= e->now;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state != BC_OPEN)
      continue;
    uint64_t d = e->o->inflight;
    for (uint64_t j = 0; j < d && c->state == BC_OPEN; j++)
      (void)eng_send(c);
    if (c->state == BC_OPEN)
      (void)eng_flush(c);
  }
  uint64_t last_prog = 0;
  while (!e->stopping && e->active > 0) {
    eng_poll(e, 20);
    if (!e->counting && e->now >= b->t_measure) {
      e->counting = 1;
      t->msgs = 0;
      memset(&t->lat, 0, sizeof t->lat);
    }
    if (atomic_load_explicit(&b->abort_all, memory_order_relaxed) ||
        (t->messages == 0 && e->now >= b->t_end))
      break;
    if (t->msgs != last_prog) {
      last_prog = t->msgs;
      atomic_store_explicit(&t->prog, last_prog, memory_order_relaxed);
    }
  }
  eng_stop(e);
  atomic_store_explicit(&t->prog, t->msgs, memory_order_relaxed);
  eng_drain(e);
}

static void eng_run_connect(struct eng *e) {
  struct bench *b = e->b;
  struct bench_thread *t = e->t;
  pthread_barrier_wait(&b->barrier);
  pthread_barrier_wait(&b->barrier);
  e->now = bench_now_ns();
  e->counting = b->t_measure <= e->now;
  for (size_t i = 0; i < e->n; i++)
    eng_start(&e->c[i]);
  while (e->active > 0) {
    eng_poll(e, 20);
    if (!e->counting && e->now >= b->t_measure) {
      e->counting = 1;
      t->hs = 0;
      memset(&t->lat, 0, sizeof t->lat);
    }
    atomic_store_explicit(&t->prog, t->hs, memory_order_relaxed);
    if (atomic_load_explicit(&b->abort_all, memory_order_relaxed) ||
        e->now >= b->t_end)
      break;
  }
  eng_stop(e);
  eng_drain(e);
}

static void eng_run_idle(struct eng *e) {
  struct bench *b = e->b;
  struct bench_thread *t = e->t;
  e->now = bench_now_ns();
  e->opening_max = (size_t)e->o->inflight;
  eng_open_more(e);
  while ((e->opening > 0 || e->next_open < e->n) &&
         !atomic_load(&b->abort_all)) {
    eng_poll(e, 50);
    atomic_store_explicit(&t->prog, t->opened, memory_order_relaxed);
  }
  atomic_store_explicit(&t->prog, t->opened, memory_order_relaxed);
  atomic_store(&t->ready, 1);
  /* Hold: answer pings (the core does) until released. */
  while (!atomic_load(&b->release) && !atomic_load(&b->abort_all))
    eng_poll(e, 50);
  eng_stop(e);
  eng_drain(e);
}

void *bench_thread_main(void *arg) {
  struct bench_thread *t = arg;
  struct eng e;
  t->rng ^= (uint64_t)(uintptr_t)&e; /* seeded by the main thread too */
  if (t->rng == 0)
    t->rng = 1;
  if (eng_init(&e, t) != 0) {
    t->conn_errors++;
    if (t->b->opt.mode != BENCH_IDLE) {
      pthread_barrier_wait(&t->b->barrier);
      pthread_barrier_wait(&t->b->barrier);
    }
    atomic_store(&t->ready, 1);
    eng_cleanup(&e);
    return NULL;
  }
  switch (t->b->opt.mode) {
  case BENCH_ECHO:
    eng_run_echo(&e);
    break;
  case BENCH_CONNECT:
    eng_run_connect(&e);
    break;
  default:
    eng_run_idle(&e);
    break;
  }
  eng_cleanup(&e);
  return NULL;
}
