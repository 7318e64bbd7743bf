/*
 * bench_wire.c - the lean WebSocket client of `wsv bench echo` and
 * `wsv bench connect` over ws:// (and wss://): what a connection puts on
 * the wire and how it reads what comes back, without a wsv_hs_client or a
 * wsv_conn per connection (they cost more than the server they measure:
 * see docs/benchmarks.md).  idle and fanout keep the core's objects.
 *
 * Handshake: each thread renders, at its start, BENCH_WIRE_KEYS requests
 * with keys of 16 random bytes (wsv_hs_key) and the Sec-WebSocket-Accept
 * each must be answered with (wsv_hs_accept); a connection takes one of
 * them at random.  The response must be "HTTP/1.1 101", with
 * Upgrade: websocket, Connection: upgrade and the expected accept value,
 * and no extension or subprotocol (none was offered).
 *
 * Frames: messages are framed and masked (a fresh xorshift key per frame)
 * into the connection's output buffer, written in one write per batch;
 * frames from the server are parsed in place in the thread's read buffer
 * (headers by the core's wsv_frame_parse, so every header rule is still
 * checked) and data payloads are handed to bench_conn.c to verify.  Pings
 * are answered, a Close is remembered (bench_conn.c decides what it
 * means).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsv.h"

#include "bench.h"
#include "bench_eng.h"

uint32_t wire_rand32(struct eng *e) {
  uint64_t x = e->t->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  e->t->rng = x;
  return (uint32_t)((x * UINT64_C(2685821657736338717)) >> 32);
}

int wire_init(struct eng *e) {
  const struct bench_target *t = &e->o->target[0];
  char host[300];
  if (strchr(t->host, ':') != NULL)
    snprintf(host, sizeof host, "[%s]:%u", t->host, (unsigned)t->port);
  else
    snprintf(host, sizeof host, "%s:%u", t->host, (unsigned)t->port);
  e->wire = calloc(1, sizeof *e->wire);
  if (e->wire == NULL)
    return -1;
  for (unsigned i = 0; i < BENCH_WIRE_KEYS; i++) {
    struct wire_key *k = &e->wire->key[i];
    uint8_t nonce[16];
    for (unsigned j = 0; j < 16; j += 4) {
      uint32_t r = wire_rand32(e);
      memcpy(nonce + j, &r, 4);
    }
    char key[25];
    size_t kl = wsv_hs_key(nonce, key);
    if (wsv_hs_accept(key, kl, k->accept) != 28)
      return -1;
    int n = snprintf(k->req, sizeof k->req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     t->path, host, key);
    if (n < 0 || (size_t)n >= sizeof k->req)
      return -1;
    k->reqlen = (size_t)n;
  }
  return 0;
}

void wire_cleanup(struct eng *e) {
  free(e->wire);
  e->wire = NULL;
}

/* ---- the handshake ------------------------------------------------------- */

int wire_request(struct bconn *c) {
  struct eng *e = c->e;
  c->key = (uint8_t)(wire_rand32(e) % BENCH_WIRE_KEYS);
  const struct wire_key *k = &e->wire->key[c->key];
  ssize_t w = bconn_write(c, k->req, k->reqlen);
  if (w != (ssize_t)k->reqlen) {
    bconn_fail(c, "write: %s", w < 0 ? strerror(errno) : "short write");
    return -1;
  }
  return 0;
}

/* Unaligned loads for ieq. */
static inline uint64_t ld64(const char *p) {
  uint64_t x;
  memcpy(&x, p, 8);
  return x;
}

static inline uint32_t ld32(const char *p) {
  uint32_t x;
  memcpy(&x, p, 4);
  return x;
}

/* ASCII case-insensitive a[0..n) == lower[0..n), lower being letters,
 * '-' and ':' in lower case; a holds no CR (it lies before its line's
 * first CR).  OR-ing 0x20 into a byte folds upper-case letters and keeps
 * '-' and ':'; the only other bytes it maps onto one of lower's are CR
 * (onto '-') and 0x1a (onto ':'): name_len checks its ':' exactly.
 * Whole words, the last one overlapping the one before (n >= 8), or two
 * overlapping 4-byte halves (4..7): a few instructions per name, where a
 * byte loop's tail cost most of the response's parsing. */
static inline int ieq(const char *a, const char *lower, size_t n) {
  const uint64_t fold = UINT64_C(0x2020202020202020);
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8)
      if ((ld64(a + i) | fold) != ld64(lower + i))
        return 0;
    return (ld64(a + n - 8) | fold) == ld64(lower + n - 8);
  }
  if (n >= 4)
    return (ld32(a) | (uint32_t)fold) == ld32(lower) &&
           (ld32(a + n - 4) | (uint32_t)fold) == ld32(lower + n - 4);
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)a[i] | 0x20u) != (unsigned char)lower[i])
      return 0;
  return 1;
}

/* n if line p[0..ll) starts with the header name `lower` ("name:", any
 * case in p; n is strlen(lower)), else 0.  HDR(lit) passes a literal and
 * its length. */
static inline size_t name_len(const char *p, size_t ll, const char *lower,
                              size_t n) {
  return ll >= n && p[n - 1] == ':' && ieq(p, lower, n) ? n : 0;
}
#define HDR(lit) name_len(p, ll, lit, sizeof lit - 1)

/* Does the comma-separated list v[0..n) hold the token `tok` (any case)? */
static int list_has(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok), i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t j = i;
    while (j < n && v[j] != ',')
      j++;
    size_t end = j;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
      end--;
    if (end - i == tl && ieq(v + i, tok, tl))
      return 1;
    i = j;
  }
  return 0;
}

int wire_response(struct bconn *c, const char *buf, size_t len, size_t *head) {
  /* One pass over the lines: each found with one memchr; the head is
   * complete at the first empty line (the "\r\n\r\n"). */
  const char *stop = buf + len, *why = NULL;
  const char *p = memchr(buf, '\n', len);
  if (p == NULL)
    return len > BENCH_HS_CAP ? -1 : 0;
  p++;
  const struct wire_key *k = &c->e->wire->key[c->key];
  int up = 0, conn = 0, acc = 0;
  for (;;) {
    if (stop - p < 2)
      return len > BENCH_HS_CAP ? -1 : 0;
    if (p[0] == '\r' && p[1] == '\n')
      break; /* the end of the head */
    const char *eol = memchr(p, '\r', (size_t)(stop - p));
    if (eol == NULL || stop - eol < 2)
      return len > BENCH_HS_CAP ? -1 : 0;
    if (why != NULL) { /* refused: only the head's end is still wanted */
      p = eol + 2;
      continue;
    }
    if (eol[1] != '\n') {
      why = "a header line not ended by CRLF";
      p = eol + 1;
      continue;
    }
    /* The names this client cares about are compared with their colon
     * where the line starts; only another line is searched for its colon.
     * The first letter (folded) picks which to try. */
    size_t ll = (size_t)(eol - p), nl = 0;
    enum {
      H_OTHER,
      H_UPGRADE,
      H_CONNECTION,
      H_ACCEPT,
      H_REFUSED
    } which = H_OTHER;
    switch ((unsigned char)p[0] | 0x20u) {
    case 'u':
      if ((nl = HDR("upgrade:")) != 0)
        which = H_UPGRADE;
      break;
    case 'c':
      if ((nl = HDR("connection:")) != 0)
        which = H_CONNECTION;
      break;
    case 's':
      if ((nl = HDR("sec-websocket-accept:")) != 0)
        which = H_ACCEPT;
      else if (HDR("sec-websocket-extensions:") ||
               HDR("sec-websocket-protocol:"))
        which = H_REFUSED;
      break;
    default:
      break;
    }
    if (which == H_OTHER) {
      if (memchr(p, ':', ll) == NULL)
        why = "a header line without a colon";
      p = eol + 2;
      continue;
    }
    const char *v = p + nl;
    while (v < eol && (*v == ' ' || *v == '\t'))
      v++;
    size_t vl = (size_t)(eol - v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
      vl--;
    if (which == H_UPGRADE)
      up += vl == 9 && ieq(v, "websocket", 9) ? 1 : 2;
    else if (which == H_CONNECTION)
      conn |= list_has(v, vl, "upgrade");
    else if (which == H_ACCEPT)
      acc += vl == 28 && memcmp(v, k->accept, 28) == 0 ? 1 : 2;
    else
      why = "an extension or subprotocol that was not offered";
    p = eol + 2;
  }
  *head = (size_t)(p + 2 - buf);
  if (len < 13 || memcmp(buf, "HTTP/1.1 101", 12) != 0 ||
      (buf[12] != ' ' && buf[12] != '\r'))
    why = "the status is not 101"; /* before what its headers say */
  if (why == NULL) {
    if (up != 1)
      why = "no Upgrade: websocket";
    else if (!conn)
      why = "no Connection: upgrade";
    else if (acc != 1)
      why = "a wrong or missing Sec-WebSocket-Accept";
  }
  if (why == NULL)
    return 1;
  bconn_fail(c, "handshake refused: %s", why);
  return -1;
}
#undef HDR

/* ---- output (tcp:// of small messages too)
 * -------------------------------------------------------------- */

/* Room for n more bytes at the end of c's output; where they go, or NULL
 * (out of memory: c failed). */
static uint8_t *wire_reserve(struct bconn *c, size_t n) {
  if (c->wlen + n <= c->wcap)
    return c->out + c->wlen;
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
      bconn_fail(c, "out of memory");
      return NULL;
    }
    c->out = p;
    c->wcap = cap;
  }
  return c->out + c->wlen;
}

/* A masked client frame header for n payload bytes at p; its length.  The
 * key is stored in key[4]. */
static size_t wire_head(struct eng *e, uint8_t *p, int op, uint64_t n,
                        uint8_t key[4]) {
  size_t h = 0;
  p[h++] = (uint8_t)(0x80u | (unsigned)op);
  if (n < 126) {
    p[h++] = (uint8_t)(0x80u | n);
  } else if (n < 65536) {
    p[h++] = 0x80u | 126u;
    p[h++] = (uint8_t)(n >> 8);
    p[h++] = (uint8_t)n;
  } else {
    p[h++] = 0x80u | 127u;
    for (int i = 7; i >= 0; i--)
      p[h++] = (uint8_t)(n >> (8 * i));
  }
  uint32_t r = wire_rand32(e);
  memcpy(key, &r, 4);
  memcpy(p + h, key, 4);
  return h + 4;
}

int wire_bytes(struct bconn *c, const uint8_t *hdr, size_t hl,
               const uint8_t *body, size_t n) {
  uint8_t *p = wire_reserve(c, n);
  if (p == NULL)
    return -1;
  memcpy(p, hdr, hl);
  memcpy(p + hl, body, n - hl);
  c->wlen += n;
  return 0;
}

int wire_send(struct bconn *c, int op, const uint8_t *hdr, size_t hl,
              const uint8_t *body, size_t n) {
  uint8_t *p = wire_reserve(c, WSV_FRAME_MAX_HEADER + n), key[4];
  if (p == NULL)
    return -1;
  size_t h = wire_head(c->e, p, op, n, key);
  if (hl > 0)
    memcpy(p + h, hdr, hl);
  if (n > hl)
    memcpy(p + h + hl, body, n - hl);
  (void)wsv_frame_mask(p + h, n, key, 0);
  c->wlen += h + n;
  return 0;
}

int wire_flush(struct bconn *c) {
  while (c->whead < c->wlen) {
    ssize_t w = bconn_write(c, c->out + c->whead, c->wlen - c->whead);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      bconn_fail(c, "write: %s", strerror(errno));
      return -1;
    }
    c->whead += (size_t)w;
  }
  if (c->whead == c->wlen)
    c->whead = c->wlen = 0;
  bconn_watch(c, c->wlen > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
  return 0;
}

/* ---- input --------------------------------------------------------------- */

void wire_opened(struct bconn *c) {
  wsv_frame_parser_init(&c->fp, WSV_ROLE_CLIENT, 0,
                        c->e->o->size > 125 ? c->e->o->size : 125);
  c->fleft = 0;
  c->fop = -1;
  c->inmsg = 0;
  c->fstaged = 0;
  c->clen = 0;
  c->whead = c->wlen = 0;
}

int wire_input(struct bconn *c, const uint8_t *p, size_t n) {
  const uint8_t whole = (uint8_t)(0x80u | (unsigned)c->e->op);
  while (n > 0 || (c->fop >= 0 && c->fleft == 0)) {
    /* The usual echo: a whole unmasked frame of the expected type, no
     * RSV bit, under 126 bytes, all in p.  wsv_frame_parse would accept
     * it with exactly this header (it keeps no state between headers), so
     * it is taken here without the call. */
    if (c->fop < 0 && !c->fstaged && !c->inmsg && n >= 2 && p[0] == whole &&
        p[1] < 126 && n >= 2u + p[1]) {
      size_t len = p[1];
      if (bconn_piece(c, p + 2, len, 1) != 0)
        return -1;
      p += 2 + len;
      n -= 2 + len;
      continue;
    }
    if (c->fop < 0) {
      struct wsv_frame_header h;
      int rc = wsv_frame_parse(&c->fp, p, n, &h);
      c->fstaged = rc == WSV_ERR_AGAIN;
      if (rc == WSV_ERR_AGAIN)
        return 0;
      if (rc < 0) {
        bconn_fail(c, "a bad frame from the server: %s", wsv_strerror(rc));
        return -1;
      }
      p += rc;
      n -= (size_t)rc;
      c->fop = (int8_t)h.opcode;
      c->ffin = (uint8_t)h.fin;
      c->fleft = h.len;
      c->clen = 0;
      if (!WSV_OP_IS_CONTROL(h.opcode)) {
        if ((h.opcode == WSV_OP_CONT) != c->inmsg) {
          bconn_fail(c, "a continuation frame out of place");
          return -1;
        }
        c->inmsg = !h.fin;
        if (h.opcode != WSV_OP_CONT && h.opcode != c->e->op) {
          c->e->t->verify_errors++;
          bconn_fail(c, "echo %llu is of another type than the message sent",
                     (unsigned long long)c->recvd);
          return -1;
        }
      }
      continue;
    }
    size_t m = c->fleft < n ? (size_t)c->fleft : n;
    if (WSV_OP_IS_CONTROL(c->fop)) {
      memcpy(c->cbuf + c->clen, p, m);
      c->clen = (uint8_t)(c->clen + m);
    } else if (m > 0 && bconn_piece(c, p, m, c->fleft == m && c->ffin) != 0) {
      return -1;
    }
    p += m;
    n -= m;
    c->fleft -= m;
    if (c->fleft > 0)
      return 0;
    int op = c->fop;
    c->fop = -1;
    if (op == WSV_OP_PING) {
      if (wire_send(c, WSV_OP_PONG, c->cbuf, c->clen, NULL, c->clen) != 0)
        return -1;
    } else if (op == WSV_OP_CLOSE) {
      if (c->got_close)
        continue;
      c->got_close = 1;
      if (c->state != BC_CLOSING) {
        unsigned code =
            c->clen >= 2 ? (unsigned)c->cbuf[0] << 8 | c->cbuf[1] : 1005u;
        bconn_fail(c, "the server closed the connection (%u)", code);
        return -1;
      }
    } else if (!WSV_OP_IS_CONTROL(op) && m == 0 && c->ffin) {
      /* An empty final frame ends the message. */
      if (bconn_piece(c, p, 0, 1) != 0)
        return -1;
    }
  }
  return 0;
}
