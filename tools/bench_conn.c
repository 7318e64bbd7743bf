/*
 * bench_conn.c - one connection of the `wsv bench` load engine: the TCP
 * connect (from the --sources addresses for idle), the opening handshake
 * (bench_wire.c's for echo and connect, wsv_hs_client for idle and
 * fanout), then the messages (bench_wire.c's frames, wsv_conn in streaming
 * mode for fanout, or raw TCP), each echo verified byte for byte as it
 * arrives, and the close.
 * The thread that runs the connections is bench_run.c's.
 *
 * Message `seq` of a connection is the sequence number in hexadecimal
 * (its first min(16, size) bytes) followed by the shared pattern from
 * offset seq % BENCH_PATTERN_SPAN, so a lost, repeated, reordered or
 * corrupted message never compares equal.
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
#include <unistd.h>

#include "wsv.h"

#include "bench.h"
#include "bench_eng.h"
#include "bench_sys.h"

/* ---- messages ------------------------------------------------------------ */

/* Eight lowercase hex digits of x, most significant first, as the bytes
 * of the returned word in memory order (no table: the nibbles are spread
 * one per byte, then turned into '0'..'9' or 'a'..'f' all at once). */
static uint64_t msg_hex8(uint32_t x) {
  uint64_t v = x;
  v = (v | v << 16) & UINT64_C(0x0000ffff0000ffff);
  v = (v | v << 8) & UINT64_C(0x00ff00ff00ff00ff);
  v = (v | v << 4) & UINT64_C(0x0f0f0f0f0f0f0f0f);
  /* byte i (from the least significant) holds nibble i: in memory the
   * top nibble must come first */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  uint64_t letters =
      ((v + UINT64_C(0x0606060606060606)) >> 4) & UINT64_C(0x0101010101010101);
  return v + UINT64_C(0x3030303030303030) + letters * 39u;
}

/* The 16 hex digits of seq; message seq starts with the last hlen. */
static void msg_hex16(uint64_t seq, uint8_t out[16]) {
  /* The high half is all "0" until 2^32 messages: not worth converting. */
  uint64_t hi = seq >> 32 != 0 ? msg_hex8((uint32_t)(seq >> 32))
                               : UINT64_C(0x3030303030303030),
           lo = msg_hex8((uint32_t)seq);
  memcpy(out, &hi, 8);
  memcpy(out + 8, &lo, 8);
}

static void msg_header(uint64_t seq, size_t hlen, uint8_t *out) {
  uint8_t all[16];
  msg_hex16(seq, all);
  memcpy(out, all + 16u - hlen, hlen);
}

/* Where message seq's header bytes are kept from its send until its echo
 * is verified (the window: seq + inflight is sent only after seq's echo). */
static uint8_t *msg_head_slot(const struct bconn *c, uint64_t seq) {
  return (uint8_t *)c->hdrs + (size_t)(seq % (uint64_t)c->e->o->inflight) * 16u;
}

/* Check data[0..n) against bytes pos.. of message seq (its header as kept
 * at its send, then the pattern).  Returns 0 when they match. */
static int msg_verify(const struct bconn *c, uint64_t seq, size_t pos,
                      const uint8_t *data, size_t n) {
  const struct eng *e = c->e;
  if (pos < e->hlen) {
    const uint8_t *head = msg_head_slot(c, seq);
    size_t m = e->hlen - pos < n ? e->hlen - pos : n;
    if (memcmp(data, head + pos, m) != 0)
      return -1;
    data += m;
    pos += m;
    n -= m;
  }
  if (n == 0)
    return 0;
  return memcmp(data, e->b->pattern + seq % BENCH_PATTERN_SPAN + pos, n) != 0
             ? -1
             : 0;
}

/* ---- connections --------------------------------------------------------- */

ssize_t bconn_write(struct bconn *c, const void *p, size_t n) {
  if (c->ssl != NULL)
    return btls_write(c, p, n);
  return bsys_send(c->fd, p, n, MSG_NOSIGNAL);
}

ssize_t bconn_read(struct bconn *c, void *p, size_t n) {
  if (c->ssl != NULL)
    return btls_read(c, p, n);
  return bsys_recv(c->fd, p, n, 0);
}

void bconn_watch(struct bconn *c, uint32_t events) {
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
void bconn_release(struct bconn *c) {
  if (c->ssl != NULL)
    btls_release(c);
  if (c->fd >= 0)
    bsys_close(c->fd);
  c->fd = -1;
  wsv_hs_client_free(c->hs);
  c->hs = NULL;
  free(c->hsbuf);
  c->hsbuf = NULL;
  c->hslen = 0;
  wsv_conn_free(c->conn);
  c->conn = NULL;
  c->whead = c->wlen = 0;
}

void bconn_fail(struct bconn *c, const char *fmt, ...) {
  struct bench_thread *t = c->e->t;
  if (t->err[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
  }
  t->conn_errors++;
  bconn_finish(c, 0);
}

/* The connection is over (ok: cleanly).  Starts the next cycle in connect
 * mode, or the next connection while opening. */
void bconn_finish(struct bconn *c, int ok) {
  struct eng *e = c->e;
  if (c->state == BC_DONE || c->state == BC_IDLE)
    return;
  if (c->state == BC_CONNECTING || c->state == BC_TLS ||
      c->state == BC_HANDSHAKE)
    e->opening--;
  if (c->sent > c->recvd)
    e->t->unanswered += c->sent - c->recvd;
  if (e->o->mode == BENCH_FANOUT)
    fan_finished(c);
  bconn_release(c);
  c->state = BC_DONE;
  e->active--;
  if (e->o->mode == BENCH_CONNECT) {
    if (ok && e->counting)
      e->t->hs++;
    c->state = BC_IDLE;
    if (!e->stopping && (ok || e->t->conn_errors < 1000))
      bconn_start(c);
  }
}

void bconn_open_more(struct eng *e) {
  while (!e->stopping && e->opening < e->opening_max && e->next_open < e->n)
    bconn_start(&e->c[e->next_open++]);
}

/* Write what is queued.  Returns 0, or -1 when the connection failed. */
int bconn_flush_ws(struct bconn *c) {
  struct wsv_iovec iov[BENCH_IOV];
  for (;;) {
    int k = wsv_conn_output(c->conn, iov, BENCH_IOV);
    if (k <= 0)
      break;
    size_t total = 0;
    for (int i = 0; i < k; i++)
      total += iov[i].len;
    ssize_t w = bsys_writev(c->fd, (const struct iovec *)(const void *)iov, k);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      bconn_fail(c, "write: %s", strerror(errno));
      return -1;
    }
    (void)wsv_conn_consume_output(c->conn, (size_t)w);
    if ((size_t)w < total)
      break;
  }
  uint32_t want = EPOLLIN;
  if (wsv_conn_want_write(c->conn))
    want |= EPOLLOUT;
  bconn_watch(c, want);
  return 0;
}

static int bconn_flush_raw(struct bconn *c) {
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
    ssize_t w = bsys_writev(c->fd, iov, k);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      bconn_fail(c, "write: %s", strerror(errno));
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
  bconn_watch(c, c->wseq < c->sent ? EPOLLIN | EPOLLOUT : EPOLLIN);
  return 0;
}

int bconn_flush(struct bconn *c) {
  if (c->e->lean || c->e->rawcopy)
    return wire_flush(c);
  return c->e->o->raw ? bconn_flush_raw(c) : bconn_flush_ws(c);
}

/* Queue message number c->sent. */
int bconn_send(struct bconn *c) {
  struct eng *e = c->e;
  uint64_t seq = c->sent;
  size_t d = (size_t)e->o->inflight;
  c->stamps[seq % d] = e->now;
  c->sent++;
  uint8_t *head = msg_head_slot(c, seq);
  msg_header(seq, e->hlen, head);
  if (e->rawcopy)
    return wire_bytes(c, head, e->hlen,
                      e->b->pattern + seq % BENCH_PATTERN_SPAN + e->hlen,
                      (size_t)e->o->size);
  if (e->o->raw)
    return 0; /* written from the slot by bconn_flush_raw */
  if (e->lean)
    return wire_send(c, e->op, head, e->hlen,
                     e->b->pattern + seq % BENCH_PATTERN_SPAN + e->hlen,
                     (size_t)e->o->size);
  /* Patch the header into this thread's pattern copy, send (the core
   * copies and masks), and restore. */
  uint8_t *p = e->pat + seq % BENCH_PATTERN_SPAN;
  uint8_t save[16];
  memcpy(save, p, e->hlen);
  memcpy(p, head, e->hlen);
  int rc = wsv_conn_send(c->conn, e->op, p, (size_t)e->o->size);
  memcpy(p, save, e->hlen);
  if (rc < 0) {
    bconn_fail(c, "send: %s", wsv_strerror(rc));
    return -1;
  }
  return 0;
}

/* Start the closing: a Close 1000 (WebSocket) or just the end (raw). */
void bconn_begin_close(struct bconn *c) {
  if (c->e->o->raw) {
    bconn_finish(c, 1);
    return;
  }
  if (c->e->lean) {
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
    if (wire_send(c, WSV_OP_CLOSE, normal, 2, NULL, 2) != 0)
      return;
    c->state = BC_CLOSING;
    (void)wire_flush(c);
    return;
  }
  int rc = wsv_conn_close(c->conn, 1000, NULL, 0);
  if (rc < 0) {
    bconn_fail(c, "close: %s", wsv_strerror(rc));
    return;
  }
  c->state = BC_CLOSING;
  (void)bconn_flush_ws(c);
}

/* Echo number c->recvd is complete. */
static int bconn_echo_done(struct bconn *c) {
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
    return bconn_send(c);
  if (c->recvd == c->sent)
    bconn_begin_close(c);
  return c->state == BC_DONE ? -1 : 0;
}

/* A piece of an echo (WebSocket streaming mode delivers views). */
static int bconn_ws_piece(struct bconn *c, const struct wsv_event *ev) {
  if (ev->opcode != c->e->op || (ev->first && c->rpos != 0)) {
    c->e->t->verify_errors++;
    bconn_fail(c, "echo %llu differs from the message sent",
               (unsigned long long)c->recvd);
    return -1;
  }
  return bconn_piece(c, ev->data, ev->len, ev->last);
}

int bconn_piece(struct bconn *c, const uint8_t *data, size_t n, int last) {
  struct eng *e = c->e;
  size_t s = (size_t)e->o->size;
  if (c->recvd >= c->sent) {
    e->t->verify_errors++;
    bconn_fail(c, "a message arrived that was never sent");
    return -1;
  }
  if (c->rpos + n > s || msg_verify(c, c->recvd, c->rpos, data, n) != 0) {
    e->t->verify_errors++;
    bconn_fail(c, "echo %llu differs from the message sent",
               (unsigned long long)c->recvd);
    return -1;
  }
  c->rpos += n;
  if (!last)
    return 0;
  if (c->rpos != s) {
    e->t->verify_errors++;
    bconn_fail(c, "echo %llu is %zu bytes, sent %zu",
               (unsigned long long)c->recvd, c->rpos, s);
    return -1;
  }
  return bconn_echo_done(c);
}

/* Bytes from the server on an open WebSocket connection. */
static int bconn_ws_input(struct bconn *c, uint8_t *buf, size_t n) {
  int rc = wsv_conn_recv(c->conn, buf, n);
  if (rc != WSV_OK) {
    bconn_fail(c, "recv: %s", wsv_strerror(rc));
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
      if (c->e->o->mode == BENCH_FANOUT) {
        if (fan_piece(c, &ev) != 0)
          return -1;
        break;
      }
      if (c->e->o->mode != BENCH_ECHO) {
        bconn_fail(c, "unexpected message from the server");
        return -1;
      }
      if (bconn_ws_piece(c, &ev) != 0)
        return -1;
      break;
    case WSV_EV_CLOSE:
      c->got_close = 1;
      if (c->state != BC_CLOSING) {
        bconn_fail(c, "the server closed the connection (%d)", ev.close_code);
        return -1;
      }
      break;
    case WSV_EV_ERROR:
      bconn_fail(c, "protocol error from the server: %s (%d)",
                 wsv_strerror(ev.err), ev.close_code);
      return -1;
    default:
      break; /* pings are answered by the core; pongs ignored */
    }
  }
  return bconn_flush_ws(c);
}

/* Bytes from a raw TCP echo server. */
static int bconn_raw_input(struct bconn *c, const uint8_t *p, size_t n) {
  size_t s = (size_t)c->e->o->size;
  while (n > 0) {
    if (c->recvd >= c->sent) {
      c->e->t->verify_errors++;
      bconn_fail(c, "bytes arrived that were never sent");
      return -1;
    }
    size_t m = s - c->rpos < n ? s - c->rpos : n;
    if (msg_verify(c, c->recvd, c->rpos, p, m) != 0) {
      c->e->t->verify_errors++;
      bconn_fail(c, "echo %llu differs from the message sent",
                 (unsigned long long)c->recvd);
      return -1;
    }
    p += m;
    n -= m;
    c->rpos += m;
    if (c->rpos == s && bconn_echo_done(c) != 0)
      return -1;
  }
  return c->state == BC_OPEN ? bconn_flush(c) : 0;
}

/* The handshake succeeded; rest[0..n) are the bytes after the head. */
static void bconn_opened(struct bconn *c, uint8_t *rest, size_t n) {
  struct eng *e = c->e;
  struct bench_thread *t = e->t;
  e->opening--;
  t->opened++;
  if (e->lean) {
    wire_opened(c);
  } else if (!e->o->raw) {
    wsv_hs_client_free(c->hs);
    c->hs = NULL;
    int rc = wsv_conn_new(&c->conn, WSV_ROLE_CLIENT, &e->ccfg, NULL);
    if (rc != WSV_OK) {
      e->opening++; /* bconn_finish counts it as opening no more */
      c->state = BC_HANDSHAKE;
      bconn_fail(c, "%s", wsv_strerror(rc));
      return;
    }
  }
  c->state = BC_OPEN;
  if (e->o->mode == BENCH_CONNECT) {
    if (e->counting)
      bench_hist_add(&t->lat, e->now - c->t0);
    bconn_begin_close(c);
  }
  if (c->state != BC_DONE && n > 0) {
    if (e->lean) {
      if (wire_input(c, rest, n) == 0)
        (void)wire_flush(c);
    } else if (c->conn != NULL) {
      (void)bconn_ws_input(c, rest, n);
    }
  }
  free(c->hsbuf);
  c->hsbuf = NULL;
  if (c->state == BC_OPEN && e->o->mode == BENCH_ECHO && e->loading &&
      !e->stopping) {
    for (uint64_t i = 0; i < e->o->inflight; i++)
      if (bconn_send(c) != 0)
        return;
    (void)bconn_flush(c);
  }
  bconn_open_more(e);
}

static void bconn_send_request(struct bconn *c) {
  if (c->e->lean) {
    if (wire_request(c) != 0)
      return;
    c->state = BC_HANDSHAKE;
    bconn_watch(c, EPOLLIN);
    return;
  }
  char req[2048];
  size_t len = 0;
  int rc = wsv_hs_client_request(c->hs, req, sizeof req, &len);
  if (rc != WSV_OK) {
    bconn_fail(c, "request: %s", wsv_strerror(rc));
    return;
  }
  ssize_t w = bsys_send(c->fd, req, len, MSG_NOSIGNAL);
  if (w != (ssize_t)len) {
    bconn_fail(c, "write: %s", w < 0 ? strerror(errno) : "short write");
    return;
  }
  c->state = BC_HANDSHAKE;
  bconn_watch(c, EPOLLIN);
}

/* TCP is connected. */
static void bconn_connected(struct bconn *c) {
  if (c->e->o->tls) {
    c->state = BC_TLS;
    if (btls_start(c) == 1)
      bconn_send_request(c);
    return;
  }
  if (c->e->o->raw) {
    bconn_watch(c, EPOLLIN);
    bconn_opened(c, NULL, 0);
  } else {
    bconn_send_request(c);
  }
}

/* Start connection c (a new TCP connection). */
void bconn_start(struct bconn *c) {
  struct eng *e = c->e;
  struct bench *b = e->b;
  c->state = BC_CONNECTING;
  c->got_close = 0;
  c->sent = c->recvd = c->wseq = 0;
  c->rpos = c->wpos = 0;
  c->t0 = e->now;
  e->opening++;
  e->active++;
  const struct sockaddr_storage *to = &b->taddr[c->target];
  int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    bconn_fail(c, "socket: %s", strerror(errno));
    return;
  }
  c->fd = fd;
  int one = 1;
  /* connect writes the request and, once the 101 has acknowledged it, the
   * Close: Nagle never holds either back, so no setsockopt per cycle. */
  if (e->o->mode != BENCH_CONNECT)
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
      bconn_fail(c, "bind 127.0.0.%u: %s", 1u + c->src, strerror(errno));
      return;
    }
  }
  if (!e->o->raw && !e->lean) {
    int rc = wsv_hs_client_new(&c->hs, &e->hcfg[c->target], NULL);
    if (rc != WSV_OK) {
      bconn_fail(c, "handshake: %s", wsv_strerror(rc));
      return;
    }
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  int rc =
      bsys_connect(fd, (const struct sockaddr *)to, b->taddrlen[c->target]);
  if (rc != 0 && errno != EINPROGRESS) {
    bconn_fail(c, "connect: %s", strerror(errno));
    return;
  }
  c->events = rc == 0 ? EPOLLIN : EPOLLOUT;
  ev.events = c->events;
  ev.data.ptr = c;
  if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    bconn_fail(c, "epoll_ctl: %s", strerror(errno));
    return;
  }
  if (rc == 0)
    bconn_connected(c);
}

/* Readable while waiting for the 101. */
static void bconn_hs_input(struct bconn *c) {
  struct eng *e = c->e;
  uint8_t *buf;
  size_t len;
  ssize_t n;
  if (c->hsbuf == NULL) {
    n = bconn_read(c, e->rbuf, BENCH_RBUF);
    if (n <= 0)
      goto gone;
    buf = e->rbuf;
    len = (size_t)n;
  } else {
    n = bconn_read(c, c->hsbuf + c->hslen, BENCH_HS_CAP - c->hslen);
    if (n <= 0)
      goto gone;
    c->hslen += (size_t)n;
    buf = (uint8_t *)c->hsbuf;
    len = c->hslen;
  }
  if (e->lean) {
    size_t head = 0;
    int rc = wire_response(c, (const char *)buf, len, &head);
    if (rc < 0)
      return;
    if (rc > 0) {
      bconn_opened(c, buf + head, len - head);
      return;
    }
  } else {
    int rc = wsv_hs_client_parse(c->hs, (const char *)buf, len);
    if (rc == WSV_HSC_OPEN) {
      size_t head = wsv_hs_client_head_len(c->hs);
      bconn_opened(c, buf + head, len - head);
      return;
    }
    if (rc != WSV_HSC_INCOMPLETE) {
      bconn_fail(c, "handshake refused: %s", wsv_hs_client_reason(c->hs));
      return;
    }
  }
  if (c->hsbuf == NULL) {
    c->hsbuf = malloc(BENCH_HS_CAP);
    if (c->hsbuf == NULL || len > BENCH_HS_CAP) {
      bconn_fail(c, "out of memory");
      return;
    }
    memcpy(c->hsbuf, buf, len);
    c->hslen = len;
  } else if (c->hslen == BENCH_HS_CAP) {
    bconn_fail(c, "handshake response too long");
  }
  return;
gone:
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  bconn_fail(c, "handshake: %s",
             n < 0 ? strerror(errno) : "the server closed the connection");
}

/* Readable while open or closing. */
static void bconn_input(struct bconn *c) {
  struct eng *e = c->e;
  if (e->o->mode == BENCH_ECHO || e->o->mode == BENCH_FANOUT)
    e->now = bench_now_ns();
  for (int round = 0; round < 8; round++) {
    ssize_t n = bconn_read(c, e->rbuf, BENCH_RBUF);
    if (n > 0) {
      int rc;
      if (e->lean) {
        rc = wire_input(c, e->rbuf, (size_t)n);
        if (rc == 0 && c->state == BC_CLOSING && c->got_close)
          continue; /* its FIN is likely there already: read it now */
        if (rc == 0)
          rc = wire_flush(c);
      } else {
        rc = e->o->raw ? bconn_raw_input(c, e->rbuf, (size_t)n)
                       : bconn_ws_input(c, e->rbuf, (size_t)n);
      }
      /* A short read took everything the socket had; TLS hands out one
       * record per read, so it reads on until EAGAIN. */
      if (rc != 0 || c->state == BC_DONE ||
          ((size_t)n < BENCH_RBUF && c->ssl == NULL))
        return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n == 0 && c->state == BC_CLOSING && c->got_close) {
      bconn_finish(c, 1);
      return;
    }
    if (n == 0)
      bconn_fail(c, "the server closed the connection");
    else
      bconn_fail(c, "read: %s", strerror(errno));
    return;
  }
}

void bconn_event(struct bconn *c, uint32_t events) {
  switch (c->state) {
  case BC_CONNECTING: {
    /* Writable without an error: connected (the error is asked for only
     * when there is one, one system call less per connect cycle). */
    int err = 0;
    socklen_t len = sizeof err;
    if ((events & (EPOLLERR | EPOLLHUP)) &&
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if ((events & (EPOLLERR | EPOLLHUP)) && err == 0)
      err = ECONNRESET;
    if (err != 0) {
      bconn_fail(c, "connect: %s", strerror(err));
      return;
    }
    bconn_connected(c);
    return;
  }
  case BC_TLS:
    if (btls_step(c) == 1)
      bconn_send_request(c);
    return;
  case BC_HANDSHAKE:
    bconn_hs_input(c);
    return;
  case BC_OPEN:
  case BC_CLOSING:
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      bconn_input(c);
    if (c->state != BC_DONE && c->state != BC_IDLE && (events & EPOLLOUT))
      (void)bconn_flush(c);
    return;
  default:
    return;
  }
}
