/*
 * load.c - the yardstick for `wsv bench`: a minimal WebSocket (and raw
 * TCP) load generator.  One thread, one level-triggered epoll loop; it
 * sends, receives and verifies every echo byte for byte, and nothing else
 * (no histograms, no per-message timestamps, one clock read per loop
 * round).  Only libc:
 *
 *   cc -O2 -o load bench/load.c
 *
 *   load echo URL --conns N --inflight K --size B [--binary]
 *             --duration S [--warmup S] [--json]
 *   load connect URL --conns N --duration S [--warmup S] [--json]
 *
 *   URL  ws://127.0.0.1:PORT/[PATH] (masked client frames, a fresh
 *        xorshift mask per frame) or tcp://127.0.0.1:PORT (a raw echo:
 *        the same bytes come back).  Numeric IPv4 only.
 *
 * echo: every connection keeps K messages of B bytes in flight.  Message
 * seq of a connection starts with seq in printable base 64 (its first
 * min(8, B) bytes) and goes on with a printable pattern from offset
 * seq % 251, so a lost, repeated, reordered or corrupted echo never
 * compares equal; text and binary carry the same bytes.  New messages are
 * appended, framed and masked, to the connection's output buffer, and
 * written with one write() per connection per loop round; reads take
 * 256 KiB at a time and frames are parsed in place.
 *
 * connect: N cycles in flight, each: TCP connect, the opening handshake,
 * the 101, a Close 1000, the server's Close and its FIN (RFC 6455 §7.1.1:
 * the server closes TCP first), close(), again.
 *
 * The handshake check is deliberately minimal: the status line must be
 * "HTTP/1.1 101"; Sec-WebSocket-Accept is NOT checked (it would need SHA-1
 * and base64, which a yardstick does not need to be honest about load).
 *
 * Output: a summary line, or with --json ONE line of JSON with the field
 * names of `wsv bench --json` for the same mode (msgs_per_s, mb_per_s,
 * handshakes_per_s, verify_errors, conn_errors, unanswered, duration_s ...).
 * Exit status 0 when there was no error and something was measured, 1
 * otherwise, 2 on a bad command line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE 262144u /* one read takes at most this much */
#define SPAN 251u         /* distinct pattern offsets (a prime) */
#define HDR 8u            /* sequence number bytes at the start */
#define MAX_EVENTS 256
#define DRAIN_S 2.0 /* most seconds to wait for echoes after the window */
#define SETUP_S 15.0

enum { MODE_ECHO = 1, MODE_CONNECT = 2 };
enum { ST_CONNECTING = 1, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE };

struct opts {
  int mode;
  int raw;
  struct sockaddr_in addr;
  char host[64];
  char path[256];
  unsigned port;
  unsigned long conns, inflight, size;
  int binary, json;
  double duration, warmup;
};

struct conn {
  int fd;
  int state;
  uint64_t sent, recvd; /* messages queued; echoes completely verified */
  size_t rpos;          /* bytes of echo `recvd` verified so far */
  /* incoming frame parser (WebSocket) */
  uint8_t hbuf[14]; /* a frame header split over two reads */
  size_t hlen;
  uint64_t left;     /* payload bytes of the current frame still to come */
  int fop;           /* its opcode (0: continuation) */
  int ffin;          /* its FIN bit */
  uint8_t cbuf[125]; /* a control frame's payload */
  size_t clen;
  int got_close;
  int inmsg;       /* a fragmented message has begun */
  uint32_t events; /* what epoll watches for */
  /* output: out[whead..wlen) waits to be written */
  uint8_t *out;
  size_t whead, wlen, wcap;
  size_t hsfill; /* handshake response bytes so far */
  char *hs;      /* ...kept here when it takes more than one read */
};

struct gen {
  struct opts o;
  int ep;
  uint8_t *rbuf;
  uint8_t *pat; /* SPAN + size printable bytes */
  struct conn *c;
  uint64_t rng;
  int counting, stopping;
  uint64_t msgs, hs, verify_errors, conn_errors, unanswered;
  unsigned long open, active;
  char err[200];
  char req[512];
  size_t reqlen, keypos; /* the request, and where its key goes */
};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Byte pos (< HDR) of message seq's header. */
static inline uint8_t hdr_byte(uint64_t seq, size_t pos) {
  return (uint8_t)b64[(seq >> (6u * (HDR - 1u - pos))) & 63u];
}

static void fail(struct gen *g, struct conn *c, const char *what) {
  if (g->err[0] == '\0')
    snprintf(g->err, sizeof g->err, "%s", what);
  g->conn_errors++;
  if (c->sent > c->recvd)
    g->unanswered += c->sent - c->recvd;
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  if (c->state != ST_DONE)
    g->active--;
  c->state = ST_DONE;
}

static void verify_fail(struct gen *g, struct conn *c, const char *what) {
  g->verify_errors++;
  fail(g, c, what);
}

/* Room for n more output bytes; returns where they go. */
static uint8_t *out_reserve(struct conn *c, size_t n) {
  if (c->wlen + n > c->wcap) {
    if (c->whead > 0) {
      memmove(c->out, c->out + c->whead, c->wlen - c->whead);
      c->wlen -= c->whead;
      c->whead = 0;
    }
    if (c->wlen + n > c->wcap) {
      size_t cap = c->wcap ? c->wcap : 4096;
      while (cap < c->wlen + n)
        cap *= 2;
      uint8_t *p = realloc(c->out, cap);
      if (p == NULL) {
        fprintf(stderr, "load: out of memory\n");
        exit(1);
      }
      c->out = p;
      c->wcap = cap;
    }
  }
  return c->out + c->wlen;
}

/* Masked frame header for a client frame with n payload bytes; returns
 * its length (mask included) and the mask in *mask. */
static size_t frame_head(struct gen *g, uint8_t *p, int op, uint64_t n,
                         uint8_t mask[4]) {
  size_t h = 0;
  p[h++] = (uint8_t)(0x80 | op);
  if (n < 126) {
    p[h++] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    p[h++] = 0x80 | 126;
    p[h++] = (uint8_t)(n >> 8);
    p[h++] = (uint8_t)n;
  } else {
    p[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      p[h++] = (uint8_t)(n >> (8 * i));
  }
  uint32_t m = (uint32_t)xorshift(&g->rng);
  memcpy(mask, &m, 4);
  memcpy(p + h, mask, 4);
  return h + 4;
}

/* out[i] = in[i] ^ mask[i % 4], 32 bytes at a time (GCC/Clang vector
 * extensions: SSE2 or better where the target has it, plain C else). */
typedef uint8_t v32 __attribute__((vector_size(32)));
static void mask_copy(uint8_t *out, const uint8_t *in, size_t n,
                      const uint8_t mask[4]) {
  v32 m;
  for (int k = 0; k < 32; k++)
    m[k] = mask[k & 3];
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    v32 v;
    memcpy(&v, in + i, 32);
    v ^= m;
    memcpy(out + i, &v, 32);
  }
  for (; i < n; i++)
    out[i] = in[i] ^ mask[i & 3];
}

/* Queue message number c->sent. */
static void send_msg(struct gen *g, struct conn *c) {
  uint64_t seq = c->sent++;
  size_t s = g->o.size, hl = s < HDR ? s : HDR;
  uint8_t head[HDR];
  for (size_t i = 0; i < hl; i++)
    head[i] = hdr_byte(seq, i);
  const uint8_t *body = g->pat + seq % SPAN;
  if (g->o.raw) {
    uint8_t *p = out_reserve(c, s);
    memcpy(p, head, hl);
    memcpy(p + hl, body + hl, s - hl);
    c->wlen += s;
    return;
  }
  uint8_t *p = out_reserve(c, 14 + s), mask[4];
  size_t h = frame_head(g, p, g->o.binary ? 2 : 1, s, mask);
  for (size_t i = 0; i < hl; i++)
    p[h + i] = head[i] ^ mask[i & 3];
  /* hl is 8 or s, so the pattern part keeps the mask's phase. */
  mask_copy(p + h + hl, body + hl, s - hl, mask);
  c->wlen += h + s;
}

/* Queue a control frame (masked). */
static void send_ctl(struct gen *g, struct conn *c, int op, const uint8_t *d,
                     size_t n) {
  uint8_t *p = out_reserve(c, 6 + n), mask[4];
  size_t h = frame_head(g, p, op, n, mask);
  for (size_t i = 0; i < n; i++)
    p[h + i] = d[i] ^ mask[i & 3];
  c->wlen += h + n;
}

/* Let epoll watch c for `events` (no call when that is unchanged). */
static void watch(struct gen *g, struct conn *c, uint32_t events) {
  if (c->events == events)
    return;
  struct epoll_event ev = {.events = events, .data.ptr = c};
  (void)epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

/* Write what is queued.  0, or -1 when the connection failed. */
static int flush(struct gen *g, struct conn *c) {
  while (c->whead < c->wlen) {
    ssize_t w = send(c->fd, c->out + c->whead, c->wlen - c->whead,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      fail(g, c, "write failed");
      return -1;
    }
    c->whead += (size_t)w;
  }
  if (c->whead == c->wlen)
    c->whead = c->wlen = 0;
  watch(g, c, c->wlen > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
  return 0;
}

/* Check d[0..n) against bytes c->rpos.. of echo c->recvd. */
static int verify(struct gen *g, struct conn *c, const uint8_t *d, size_t n) {
  size_t s = g->o.size, pos = c->rpos;
  if (pos + n > s)
    return -1;
  uint64_t seq = c->recvd;
  while (n > 0 && pos < HDR) {
    if (*d != hdr_byte(seq, pos))
      return -1;
    d++;
    pos++;
    n--;
  }
  if (n > 0 && memcmp(d, g->pat + seq % SPAN + pos, n) != 0)
    return -1;
  c->rpos = pos + n;
  return 0;
}

/* Echo c->recvd is complete. */
static void echo_done(struct gen *g, struct conn *c) {
  c->recvd++;
  c->rpos = 0;
  if (g->counting)
    g->msgs++;
  if (!g->stopping)
    send_msg(g, c);
}

static void start_conn(struct gen *g, struct conn *c);

/* connect mode: the cycle is over; start the next one. */
static void cycle_done(struct gen *g, struct conn *c) {
  close(c->fd);
  c->fd = -1;
  c->state = ST_DONE;
  g->active--;
  if (g->counting)
    g->hs++;
  if (!g->stopping)
    start_conn(g, c);
}

/* Frames from the server in d[0..n).  0, or -1 when c failed. */
static int ws_input(struct gen *g, struct conn *c, const uint8_t *d, size_t n) {
  while (n > 0) {
    if (c->left == 0 && c->fop < 0) {
      /* A header: complete it (it may be split over reads). */
      const uint8_t *h = d;
      size_t have = n;
      if (c->hlen > 0) {
        size_t take =
            sizeof c->hbuf - c->hlen < n ? sizeof c->hbuf - c->hlen : n;
        memcpy(c->hbuf + c->hlen, d, take);
        h = c->hbuf;
        have = c->hlen + take;
      }
      if (have < 2)
        goto partial;
      size_t need = 2;
      uint64_t len = h[1] & 0x7f;
      if (h[1] & 0x80) {
        fail(g, c, "a masked frame from the server");
        return -1;
      }
      if (len == 126)
        need = 4;
      else if (len == 127)
        need = 10;
      if (have < need)
        goto partial;
      if (len == 126)
        len = (uint64_t)h[2] << 8 | h[3];
      else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
          len = len << 8 | h[2 + i];
      }
      int op = h[0] & 0x0f;
      c->ffin = h[0] >> 7;
      c->fop = op;
      c->left = len;
      c->clen = 0;
      size_t used = need - c->hlen; /* header bytes taken from d */
      c->hlen = 0;
      d += used;
      n -= used;
      if (op >= 8 && (len > 125 || !c->ffin)) {
        fail(g, c, "a bad control frame from the server");
        return -1;
      }
      if (op < 8) {
        if (g->o.mode != MODE_ECHO) {
          fail(g, c, "a message from the server");
          return -1;
        }
        if (op != 0 && op != (g->o.binary ? 2 : 1)) {
          verify_fail(g, c, "an echo of the wrong type");
          return -1;
        }
        if ((op == 0) != c->inmsg) {
          fail(g, c, "a bad continuation frame from the server");
          return -1;
        }
        c->inmsg = !c->ffin;
        if (c->recvd >= c->sent) {
          verify_fail(g, c, "a message that was never sent");
          return -1;
        }
      }
      if (len > 0)
        continue;
    } else {
      size_t m = c->left < n ? (size_t)c->left : n;
      if (c->fop >= 8) {
        memcpy(c->cbuf + c->clen, d, m);
        c->clen += m;
      } else if (verify(g, c, d, m) != 0) {
        verify_fail(g, c, "an echo differs from the message sent");
        return -1;
      }
      d += m;
      n -= m;
      c->left -= m;
      if (c->left > 0)
        return 0;
    }
    /* The frame is complete. */
    int op = c->fop;
    c->fop = -1;
    if (op == 8) {
      c->got_close = 1;
      if (c->state != ST_CLOSING) {
        fail(g, c, "the server closed the connection");
        return -1;
      }
    } else if (op == 9) {
      send_ctl(g, c, 10, c->cbuf, c->clen);
    } else if (op < 8 && c->ffin) {
      if (c->rpos != g->o.size) {
        verify_fail(g, c, "an echo of the wrong length");
        return -1;
      }
      echo_done(g, c);
    }
  }
  return 0;
partial:
  if (c->hlen == 0) {
    memcpy(c->hbuf, d, n);
    c->hlen = n;
  } else {
    c->hlen += n; /* the bytes were copied above */
  }
  return 0;
}

/* Bytes from a raw TCP echo. */
static int raw_input(struct gen *g, struct conn *c, const uint8_t *d,
                     size_t n) {
  size_t s = g->o.size;
  while (n > 0) {
    if (c->recvd >= c->sent) {
      verify_fail(g, c, "bytes that were never sent");
      return -1;
    }
    size_t m = s - c->rpos < n ? s - c->rpos : n;
    if (verify(g, c, d, m) != 0) {
      verify_fail(g, c, "an echo differs from the message sent");
      return -1;
    }
    d += m;
    n -= m;
    if (c->rpos == s)
      echo_done(g, c);
  }
  return 0;
}

static void opened(struct gen *g, struct conn *c, const uint8_t *rest,
                   size_t n) {
  c->state = ST_OPEN;
  g->open++;
  c->fop = -1;
  if (g->o.mode == MODE_CONNECT) {
    static const uint8_t code[2] = {0x03, 0xe8};
    send_ctl(g, c, 8, code, 2);
    c->state = ST_CLOSING;
  } else if (!g->stopping) {
    for (unsigned long i = 0; i < g->o.inflight; i++)
      send_msg(g, c);
  }
  if (n > 0 &&
      (g->o.raw ? raw_input(g, c, rest, n) : ws_input(g, c, rest, n)) != 0)
    return;
  (void)flush(g, c);
}

/* The response to the opening handshake, or part of it. */
static void hs_input(struct gen *g, struct conn *c) {
  ssize_t r = recv(c->fd, g->rbuf, RBUF_SIZE, 0);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r <= 0) {
    fail(g, c, "the server closed the connection during the handshake");
    return;
  }
  const uint8_t *buf = g->rbuf;
  size_t len = (size_t)r;
  if (c->hs != NULL || c->hsfill > 0) {
    if (c->hs == NULL)
      c->hs = malloc(16384);
    if (c->hs == NULL || c->hsfill + len > 16384) {
      fail(g, c, "handshake response too long");
      return;
    }
    memcpy(c->hs + c->hsfill, g->rbuf, len);
    c->hsfill += len;
    buf = (const uint8_t *)c->hs;
    len = c->hsfill;
  }
  const uint8_t *end = memmem(buf, len, "\r\n\r\n", 4);
  if (end == NULL) {
    if (c->hs == NULL) {
      c->hs = malloc(16384);
      if (c->hs == NULL || len > 16384) {
        fail(g, c, "handshake response too long");
        return;
      }
      memcpy(c->hs, buf, len);
      c->hsfill = len;
    }
    return;
  }
  if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
    fail(g, c, "the handshake was refused (no 101)");
    return;
  }
  size_t head = (size_t)(end + 4 - buf);
  /* Copy the rest out of c->hs before freeing it (it is in rbuf else). */
  if (c->hs != NULL) {
    memmove(g->rbuf, buf + head, len - head);
    free(c->hs);
    c->hs = NULL;
    c->hsfill = 0;
    opened(g, c, g->rbuf, len - head);
  } else {
    opened(g, c, buf + head, len - head);
  }
}

static void send_request(struct gen *g, struct conn *c) {
  for (int i = 0; i < 21; i++)
    g->req[g->keypos + (size_t)i] = b64[xorshift(&g->rng) & 63u];
  g->req[g->keypos + 21] = 'A'; /* 16 bytes: the 22nd character's low bits
                                   are zero */
  ssize_t w = send(c->fd, g->req, g->reqlen, MSG_NOSIGNAL);
  if (w != (ssize_t)g->reqlen) {
    fail(g, c, "could not write the request");
    return;
  }
  c->state = ST_HANDSHAKE;
  watch(g, c, EPOLLIN);
}

static void start_conn(struct gen *g, struct conn *c) {
  c->sent = c->recvd = 0;
  c->rpos = c->hlen = c->clen = c->hsfill = 0;
  c->left = 0;
  c->fop = -1;
  c->got_close = c->inmsg = 0;
  c->whead = c->wlen = 0;
  c->state = ST_CONNECTING;
  g->active++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    fail(g, c, "socket failed");
    return;
  }
  if (g->o.mode == MODE_ECHO) {
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  int rc =
      connect(c->fd, (const struct sockaddr *)&g->o.addr, sizeof g->o.addr);
  if (rc != 0 && errno != EINPROGRESS) {
    fail(g, c, "connect failed");
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  c->events = EPOLLOUT;
  if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    fail(g, c, "epoll_ctl failed");
    return;
  }
}

static void on_event(struct gen *g, struct conn *c, uint32_t events) {
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;
    if (events & (EPOLLERR | EPOLLHUP))
      (void)getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      fail(g, c, err == ECONNREFUSED ? "connection refused" : "connect failed");
      return;
    }
    if (g->o.raw) {
      opened(g, c, NULL, 0);
    } else {
      send_request(g, c);
    }
    return;
  }
  if (c->state == ST_HANDSHAKE) {
    hs_input(g, c);
    return;
  }
  if (c->state != ST_OPEN && c->state != ST_CLOSING)
    return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    for (int round = 0; round < 4; round++) {
      ssize_t r = recv(c->fd, g->rbuf, RBUF_SIZE, 0);
      if (r > 0) {
        int rc = g->o.raw ? raw_input(g, c, g->rbuf, (size_t)r)
                          : ws_input(g, c, g->rbuf, (size_t)r);
        if (rc != 0)
          return;
        /* A short read took everything; but after the server's Close
         * its FIN is likely there already: read it now. */
        if ((size_t)r < RBUF_SIZE && !(c->state == ST_CLOSING && c->got_close))
          break;
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR))
        break;
      if (r == 0 && c->state == ST_CLOSING && (c->got_close || g->o.raw)) {
        if (g->o.mode == MODE_CONNECT) {
          cycle_done(g, c);
        } else {
          close(c->fd);
          c->fd = -1;
          c->state = ST_DONE;
          g->active--;
        }
        return;
      }
      fail(g, c, r == 0 ? "the server closed the connection" : "read failed");
      return;
    }
  }
  if (c->state == ST_OPEN && g->stopping && c->recvd == c->sent &&
      g->o.mode == MODE_ECHO) {
    /* Every echo is in: close. */
    if (g->o.raw) {
      close(c->fd);
      c->fd = -1;
      c->state = ST_DONE;
      g->active--;
      return;
    }
    static const uint8_t code[2] = {0x03, 0xe8};
    send_ctl(g, c, 8, code, 2);
    c->state = ST_CLOSING;
  }
  (void)flush(g, c);
}

static int parse_url(struct opts *o, const char *url) {
  const char *p;
  if (strncmp(url, "ws://", 5) == 0) {
    p = url + 5;
  } else if (strncmp(url, "tcp://", 6) == 0) {
    p = url + 6;
    o->raw = 1;
  } else {
    return -1;
  }
  const char *colon = strchr(p, ':');
  if (colon == NULL || (size_t)(colon - p) >= sizeof o->host)
    return -1;
  memcpy(o->host, p, (size_t)(colon - p));
  o->host[colon - p] = '\0';
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (port == 0 || port > 65535)
    return -1;
  o->port = (unsigned)port;
  if (*end == '\0')
    snprintf(o->path, sizeof o->path, "/");
  else if (*end == '/' && !o->raw && strlen(end) < sizeof o->path)
    snprintf(o->path, sizeof o->path, "%s", end);
  else if (!(o->raw && strcmp(end, "/") == 0))
    return -1;
  o->addr.sin_family = AF_INET;
  o->addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, o->host, &o->addr.sin_addr) != 1)
    return -1;
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: load echo URL --conns N --inflight K --size B [--binary]\n"
          "                 --duration S [--warmup S] [--json]\n"
          "       load connect URL --conns N --duration S [--warmup S] "
          "[--json]\n"
          "URL: ws://IP:PORT/[PATH] or tcp://IP:PORT (raw echo)\n");
  exit(2);
}

static unsigned long parse_size(const char *s) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (*end == 'K' || *end == 'k')
    v <<= 10, end++;
  else if (*end == 'M' || *end == 'm')
    v <<= 20, end++;
  if (*end != '\0' || end == s)
    usage();
  return v;
}

static void parse_args(struct opts *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->conns = 100;
  o->inflight = 8;
  o->size = 32;
  o->duration = 5;
  o->warmup = 1;
  if (argc < 3)
    usage();
  if (strcmp(argv[1], "echo") == 0)
    o->mode = MODE_ECHO;
  else if (strcmp(argv[1], "connect") == 0)
    o->mode = MODE_CONNECT;
  else
    usage();
  if (parse_url(o, argv[2]) != 0) {
    fprintf(stderr, "load: bad URL %s\n", argv[2]);
    exit(2);
  }
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--binary") == 0) {
      o->binary = 1;
      continue;
    }
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
      continue;
    }
    if (v == NULL)
      usage();
    i++;
    if (strcmp(a, "--conns") == 0)
      o->conns = parse_size(v);
    else if (strcmp(a, "--inflight") == 0)
      o->inflight = parse_size(v);
    else if (strcmp(a, "--size") == 0)
      o->size = parse_size(v);
    else if (strcmp(a, "--duration") == 0)
      o->duration = strtod(v, NULL);
    else if (strcmp(a, "--warmup") == 0)
      o->warmup = strtod(v, NULL);
    else
      usage();
  }
  if (o->conns == 0 || o->inflight == 0 || o->size == 0 || o->duration <= 0 ||
      o->warmup < 0)
    usage();
  if (o->raw && o->mode == MODE_CONNECT) {
    fprintf(stderr, "load: connect wants a ws:// URL\n");
    exit(2);
  }
}

int main(int argc, char **argv) {
  struct gen g;
  memset(&g, 0, sizeof g);
  parse_args(&g.o, argc, argv);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  g.rng = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull | 1u;
  g.rbuf = malloc(RBUF_SIZE);
  g.pat = malloc(SPAN + g.o.size);
  g.c = calloc(g.o.conns, sizeof *g.c);
  g.ep = epoll_create1(EPOLL_CLOEXEC);
  if (g.rbuf == NULL || g.pat == NULL || g.c == NULL || g.ep < 0) {
    fprintf(stderr, "load: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < SPAN + g.o.size; i++)
    g.pat[i] = (uint8_t)(' ' + (i * 7u + i / 13u) % 95u);
  int n = snprintf(g.req, sizeof g.req,
                   "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: ",
                   g.o.path, g.o.host, g.o.port);
  g.keypos = (size_t)n;
  memcpy(g.req + n, "AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n", 28);
  g.reqlen = (size_t)n + 28;

  double t0 = now_s();
  /* echo: open every connection first (the load starts when each opens);
   * connect: the cycles start at once. */
  for (unsigned long i = 0; i < g.o.conns; i++) {
    g.c[i].fd = -1;
    start_conn(&g, &g.c[i]);
  }
  double t_measure = t0 + g.o.warmup, t_end = t_measure + g.o.duration;
  double t_count = 0, t_stopped = 0;
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int k = epoll_wait(g.ep, evs, MAX_EVENTS, 50);
    for (int i = 0; i < k; i++)
      on_event(&g, evs[i].data.ptr, evs[i].events);
    double t = now_s();
    if (interrupted && !g.stopping)
      t_end = t;
    if (!g.counting && !g.stopping && t >= t_measure) {
      g.counting = 1;
      t_count = t;
    }
    if (!g.stopping && t >= t_end) {
      g.counting = 0;
      g.stopping = 1;
      t_stopped = t;
      /* Connections with nothing in flight close now. */
      for (unsigned long i = 0; i < g.o.conns; i++) {
        struct conn *c = &g.c[i];
        if (c->state == ST_OPEN && g.o.mode == MODE_ECHO)
          on_event(&g, c, 0);
      }
    }
    if (g.stopping && (g.active == 0 || t > t_stopped + DRAIN_S))
      break;
    if (!g.stopping && g.open == 0 && g.o.mode == MODE_ECHO && t > t0 + SETUP_S)
      t_end = t;
    if (!g.stopping && g.active == 0)
      t_end = t; /* everything failed */
  }
  for (unsigned long i = 0; i < g.o.conns; i++) {
    struct conn *c = &g.c[i];
    if (c->state != ST_DONE && c->sent > c->recvd)
      g.unanswered += c->sent - c->recvd;
    if (c->fd >= 0)
      close(c->fd);
    free(c->out);
    free(c->hs);
  }
  double window = t_count > 0 ? t_stopped - t_count : 0;
  double rate =
      window > 0 ? (double)(g.o.mode == MODE_ECHO ? g.msgs : g.hs) / window : 0;
  int ok = g.verify_errors == 0 && g.conn_errors == 0 && g.unanswered == 0 &&
           rate > 0;
  if (!ok && g.err[0] == '\0')
    snprintf(g.err, sizeof g.err, "nothing measured");
  if (g.o.json) {
    if (g.o.mode == MODE_ECHO)
      printf("{\"generator\":\"load\",\"mode\":\"echo\",\"url\":\"%s\","
             "\"conns\":%lu,\"inflight\":%lu,\"size\":%lu,\"binary\":%s,"
             "\"raw\":%s,\"seconds\":%.3f,\"duration_s\":%.3f,"
             "\"messages\":%llu,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,"
             "\"handshakes_per_s\":0,",
             argv[2], g.o.conns, g.o.inflight, g.o.size,
             g.o.binary ? "true" : "false", g.o.raw ? "true" : "false", window,
             window, (unsigned long long)g.msgs, rate,
             rate * (double)g.o.size / 1e6);
    else
      printf("{\"generator\":\"load\",\"mode\":\"connect\",\"url\":\"%s\","
             "\"conns\":%lu,\"seconds\":%.3f,\"duration_s\":%.3f,"
             "\"handshakes\":%llu,\"handshakes_per_s\":%.0f,"
             "\"msgs_per_s\":0,\"mb_per_s\":0,",
             argv[2], g.o.conns, window, window, (unsigned long long)g.hs,
             rate);
    printf("\"verify_errors\":%llu,\"conn_errors\":%llu,\"unanswered\":%llu,"
           "\"error\":\"%s\"}\n",
           (unsigned long long)g.verify_errors,
           (unsigned long long)g.conn_errors, (unsigned long long)g.unanswered,
           g.err);
  } else {
    if (g.o.mode == MODE_ECHO)
      printf("load echo %s: %lu conns x %lu x %lu B: %.0f msg/s, %.1f MB/s "
             "over %.2f s\n",
             argv[2], g.o.conns, g.o.inflight, g.o.size, rate,
             rate * (double)g.o.size / 1e6, window);
    else
      printf("load connect %s: %lu in flight: %.0f handshakes/s over %.2f "
             "s\n",
             argv[2], g.o.conns, rate, window);
    printf("errors: %llu verification, %llu connection, %llu unanswered%s%s\n",
           (unsigned long long)g.verify_errors,
           (unsigned long long)g.conn_errors, (unsigned long long)g.unanswered,
           g.err[0] ? "; first: " : "", g.err);
  }
  free(g.rbuf);
  free(g.pat);
  free(g.c);
  close(g.ep);
  return ok ? 0 : 1;
}
