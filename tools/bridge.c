/*
 * bridge.c - the pump between one WebSocket and one byte stream (a TCP
 * or Unix socket): see bridge.h.  Everything of a bridge runs on its
 * WebSocket's loop through public watches and timers (wsv/rt.h).
 *
 *   WebSocket -> socket: each message's bytes are written at once while
 *   the socket takes them, the rest queued; past BRIDGE_Q_HIGH queued the
 *   WebSocket is paused (wsv_ws_pause: its peer's sends stop in the
 *   kernel), resumed below BRIDGE_Q_LOW.
 *   socket -> WebSocket: each read (at most BRIDGE_READ bytes) becomes a
 *   binary message (a base64 text message with subprotocol base64); once
 *   wsv_ws_send says the send buffer is above its high-water mark the
 *   socket is not read until the drain callback.
 *   Ends: the socket's EOF closes the WebSocket with 1000; a failed
 *   connect, a reset or another error with 1011 and a reason naming the
 *   peer; the WebSocket's end flushes the queue, shuts the socket down
 *   (FIN) and closes it once the peer closes too or BRIDGE_LINGER_MS
 *   passed.  Memory per bridge: the queue (BRIDGE_Q_HIGH plus at most one
 *   message) and the WebSocket's own send buffer (its high-water mark plus
 *   one read).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"
#include "wsv/utf8.h"

#include "bridge.h"
#include "cli.h"

#define BRIDGE_READ 65536
#define BRIDGE_Q_HIGH ((size_t)256 << 10)
#define BRIDGE_Q_LOW ((size_t)64 << 10)
#define BRIDGE_CONNECT_MS 10000 /* a target that does not answer */
#define BRIDGE_LINGER_MS 5000   /* after the WebSocket's end, at most */

enum bridge_mode { BRIDGE_RAW, BRIDGE_BASE64 };

struct bridge {
  struct bridge_set *set;
  struct wsv_loop *loop;
  struct wsv_ws *ws; /* NULL once the WebSocket is gone */
  struct wsv_io *io;
  struct wsv_timer *timer;
  int fd; /* -1 once closed */
  unsigned long id;
  uint8_t mode;       /* enum bridge_mode */
  uint8_t connecting; /* connect in progress */
  uint8_t ws_open;    /* the WebSocket is open (--listen waits for it) */
  uint8_t ws_full;    /* its send buffer is full: do not read */
  uint8_t eof;        /* the socket's peer closed its side */
  uint8_t shut;       /* shutdown(SHUT_WR) done */
  uint8_t *q;         /* bytes for the socket: q[off..len) */
  size_t off, len, cap;
  struct bridge *prev, *next; /* the set's registry */
};

/* ---- targets ------------------------------------------------------------- */

int bridge_target_parse(const char *spec, int listening,
                        struct bridge_target *t, char *err, size_t cap) {
  memset(t, 0, sizeof *t);
  if (strncmp(spec, "unix:", 5) == 0) {
    const char *path = spec + 5;
    struct sockaddr_un *un = (struct sockaddr_un *)(void *)&t->addr;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path) {
      snprintf(err, cap, "%s: the Unix socket path must have 1 to %zu bytes",
               spec, sizeof un->sun_path - 1);
      return -1;
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    t->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    t->family = AF_UNIX;
    snprintf(t->text, sizeof t->text, "unix:%s", path);
    return 0;
  }
  const char *hp = strncmp(spec, "tcp://", 6) == 0 ? spec + 6 : spec;
  if (strstr(hp, "://") != NULL) {
    snprintf(err, cap, "%s: use tcp://HOST:PORT or unix:PATH", spec);
    return -1;
  }
  char host[256];
  const char *colon, *hs = hp;
  size_t hl;
  if (*hp == '[') {
    const char *rb = strchr(hp, ']');
    if (rb == NULL || rb[1] != ':') {
      snprintf(err, cap, "%s: use [IPv6]:PORT", spec);
      return -1;
    }
    hs = hp + 1;
    hl = (size_t)(rb - hs);
    colon = rb + 1;
  } else {
    colon = strrchr(hp, ':');
    if (colon == NULL || memchr(hp, ':', (size_t)(colon - hp)) != NULL) {
      snprintf(err, cap,
               "%s: use tcp://HOST:PORT (an IPv6 address in "
               "brackets) or unix:PATH",
               spec);
      return -1;
    }
    hl = (size_t)(colon - hp);
  }
  uint64_t port;
  uint64_t low = listening ? 0 : 1;
  if (hl == 0 || hl >= sizeof host ||
      wsv_cli_uint(colon + 1, low, 65535, &port) != 0) {
    snprintf(err, cap, "%s: needs a host and a port from %u to 65535", spec,
             (unsigned)low);
    return -1;
  }
  memcpy(host, hs, hl);
  host[hl] = '\0';
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (listening ? AI_PASSIVE : 0);
  int g = getaddrinfo(host, colon + 1, &hints, &res);
  if (g != 0 || res == NULL) {
    snprintf(err, cap, "%s: %s", spec, g != 0 ? gai_strerror(g) : "no address");
    return -1;
  }
  memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
  t->addr_len = res->ai_addrlen;
  t->family = res->ai_family;
  freeaddrinfo(res);
  char ip[INET6_ADDRSTRLEN] = "?";
  const void *a =
      t->family == AF_INET6
          ? (const void *)&((struct sockaddr_in6 *)(void *)&t->addr)->sin6_addr
          : (const void *)&((struct sockaddr_in *)(void *)&t->addr)->sin_addr;
  (void)inet_ntop(t->family, a, ip, sizeof ip);
  snprintf(t->text, sizeof t->text, t->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
           ip, (unsigned)port);
  return 0;
}

/* ---- the set ------------------------------------------------------------- */

int bridge_set_init(struct bridge_set *s, const struct bridge_target *target,
                    const char *peer, int quiet, int verbose) {
  s->target = target;
  s->peer = peer;
  s->quiet = quiet;
  s->verbose = verbose;
  if (pthread_mutex_init(&s->mu, NULL) != 0)
    return -1;
  s->mu_ready = 1;
  return 0;
}

static void bridge_link(struct bridge *b) {
  struct bridge_set *s = b->set;
  pthread_mutex_lock(&s->mu);
  b->next = s->all;
  if (s->all != NULL)
    s->all->prev = b;
  s->all = b;
  pthread_mutex_unlock(&s->mu);
}

static void bridge_unlink(struct bridge *b) {
  struct bridge_set *s = b->set;
  pthread_mutex_lock(&s->mu);
  if (b->prev != NULL)
    b->prev->next = b->next;
  else
    s->all = b->next;
  if (b->next != NULL)
    b->next->prev = b->prev;
  pthread_mutex_unlock(&s->mu);
}

/* Close the socket (and its watch) now. */
static void bridge_close_fd(struct bridge *b) {
  wsv_io_stop(b->io);
  b->io = NULL;
  if (b->fd >= 0)
    close(b->fd);
  b->fd = -1;
}

/* The end: nothing of the bridge is used after this. */
static void bridge_free(struct bridge *b) {
  bridge_close_fd(b);
  wsv_timer_free(b->timer);
  bridge_unlink(b);
  free(b->q);
  free(b);
}

void bridge_sweep(struct bridge_set *s) {
  if (!s->mu_ready)
    return;
  while (s->all != NULL)
    bridge_free(s->all);
}

void bridge_set_free(struct bridge_set *s) {
  if (s->mu_ready)
    pthread_mutex_destroy(&s->mu);
  s->mu_ready = 0;
}

/* ---- base64 (subprotocol base64) ----------------------------------------- */

static const char b64_abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode p[0..n) into out (4 * ((n + 2) / 3) bytes); returns the length. */
static size_t b64_encode(const uint8_t *p, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = b64_abc[v >> 18];
    out[o++] = b64_abc[(v >> 12) & 63];
    out[o++] = b64_abc[(v >> 6) & 63];
    out[o++] = b64_abc[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    out[o++] = b64_abc[v >> 18];
    out[o++] = b64_abc[(v >> 12) & 63];
    out[o++] = i + 1 < n ? b64_abc[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

static int b64_value(unsigned char c) {
  const char *p = c != 0 ? strchr(b64_abc, c) : NULL;
  return p != NULL ? (int)(p - b64_abc) : -1;
}

/* Decode s[0..n) (padded base64, whitespace not allowed) into out (at
 * least 3 * n / 4 bytes).  Returns the length, or -1 if it is not base64. */
static long b64_decode(const char *s, size_t n, uint8_t *out) {
  if (n % 4 != 0)
    return -1;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int pad = 0, v[4];
    for (size_t k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)s[i + k];
      if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
        v[k] = 0;
        pad++;
        continue;
      }
      if ((v[k] = b64_value(c)) < 0 || pad > 0)
        return -1;
    }
    uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[o++] = (uint8_t)(x >> 16);
    if (pad < 2)
      out[o++] = (uint8_t)(x >> 8);
    if (pad < 1)
      out[o++] = (uint8_t)x;
  }
  return (long)o;
}

/* ---- ending -------------------------------------------------------------- */

/* Close the WebSocket (if still there and open) with code and a reason
 * "PEER WHAT" cut to the 123 bytes a Close allows. */
static void bridge_close_ws(struct bridge *b, int code, const char *what) {
  if (b->ws == NULL || !wsv_ws_is_open(b->ws))
    return;
  char reason[124];
  int n = snprintf(reason, sizeof reason, "%s", what);
  size_t len = n < 0                        ? 0
               : (size_t)n >= sizeof reason ? sizeof reason - 1
                                            : (size_t)n;
  /* A Close reason must be UTF-8 (a path may hold anything, and the cut
   * may split a character): shorten until it is. */
  while (len > 0 && wsv_utf8_valid((const uint8_t *)reason, len) != WSV_OK)
    len--;
  (void)wsv_ws_close(b->ws, code, reason, len);
}

/* A socket error as a reason says it (lower case, short). */
static const char *bridge_errno_text(int e) {
  switch (e) {
  case ECONNREFUSED:
    return "connection refused";
  case ECONNRESET:
    return "connection reset";
  case ETIMEDOUT:
    return "timed out";
  case EHOSTUNREACH:
    return "host unreachable";
  case ENETUNREACH:
    return "network unreachable";
  case EPIPE:
    return "broken pipe";
  case ENOENT:
    return "no such socket";
  case EACCES:
    return "permission denied";
  case ENOMEM:
    return "out of memory";
  default:
    return strerror(e);
  }
}

/* The socket failed (errno e, during `doing`): close it, and the
 * WebSocket with 1011 naming the peer. */
static void bridge_fail(struct bridge *b, const char *doing, int e) {
  const struct bridge_set *s = b->set;
  char what[200];
  const char *name = s->target != NULL ? s->target->text : "";
  snprintf(what, sizeof what, "%s%s%s: %s", doing, *name ? " " : "", name,
           bridge_errno_text(e));
  if (!s->quiet)
    wsv_cli_log("wsv: #%lu %s %s", b->id, s->peer, what);
  bridge_close_fd(b);
  b->len = b->off = 0;
  if (b->ws == NULL) {
    bridge_free(b);
    return;
  }
  wsv_timer_stop(b->timer);
  (void)wsv_ws_pause(b->ws, 0);
  bridge_close_ws(b, 1011, what);
}

/* The socket's events to watch, from the bridge's state. */
static void bridge_watch(struct bridge *b) {
  if (b->io == NULL)
    return;
  unsigned ev = 0;
  if (b->connecting) {
    ev = WSV_IO_WRITE;
  } else {
    int reading = b->ws == NULL || (b->ws_open && !b->ws_full);
    if (reading && !b->eof)
      ev |= WSV_IO_READ;
    if (b->off < b->len)
      ev |= WSV_IO_WRITE;
  }
  (void)wsv_io_set(b->io, ev);
}

/* The WebSocket is gone and the queue written: FIN, then wait (at most
 * BRIDGE_LINGER_MS in all) for the peer's end; at once if it came. */
static void bridge_finish(struct bridge *b) {
  if (!b->shut) {
    b->shut = 1;
    (void)shutdown(b->fd, SHUT_WR);
  }
  if (b->eof)
    bridge_free(b);
  else
    bridge_watch(b);
}

/* ---- socket output ------------------------------------------------------- */

/* Write what the socket takes now of p[0..n).  Returns the bytes written
 * (0..n), or -1 after failing the bridge (it may be freed). */
static ssize_t bridge_send(struct bridge *b, const uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = send(b->fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      bridge_fail(b, "writing to", errno);
      return -1;
    }
    done += (size_t)w;
  }
  return (ssize_t)done;
}

/* Write the queue as far as the socket takes it.  Returns 0, or -1 if
 * the bridge failed (and may be freed). */
static int bridge_flush(struct bridge *b) {
  ssize_t w = bridge_send(b, b->q + b->off, b->len - b->off);
  if (w < 0)
    return -1;
  b->off += (size_t)w;
  if (b->off == b->len)
    b->off = b->len = 0;
  if (b->ws != NULL && b->len - b->off < BRIDGE_Q_LOW && wsv_ws_paused(b->ws))
    (void)wsv_ws_pause(b->ws, 0);
  if (b->ws == NULL && b->off == b->len) {
    bridge_finish(b);
    return -1; /* may be freed */
  }
  bridge_watch(b);
  return 0;
}

/* Queue p[0..n) for the socket (written at once when nothing waits).
 * Returns 0, or -1 if the bridge failed or memory ran out. */
static int bridge_queue(struct bridge *b, const uint8_t *p, size_t n) {
  if (b->fd >= 0 && !b->connecting && b->off == b->len) {
    ssize_t w = bridge_send(b, p, n);
    if (w < 0)
      return -1;
    p += w;
    n -= (size_t)w;
    if (n == 0)
      return 0;
  }
  if (b->off > 0 && b->off == b->len)
    b->off = b->len = 0;
  if (b->len + n > b->cap) {
    if (b->off > 0) { /* compact first */
      memmove(b->q, b->q + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    if (b->len + n > b->cap) {
      size_t c = b->cap ? b->cap : 65536;
      while (c < b->len + n)
        c *= 2;
      uint8_t *q = realloc(b->q, c);
      if (q == NULL) {
        bridge_fail(b, "queueing for", ENOMEM);
        return -1;
      }
      b->q = q;
      b->cap = c;
    }
  }
  memcpy(b->q + b->len, p, n);
  b->len += n;
  if (b->len - b->off > BRIDGE_Q_HIGH && b->ws != NULL)
    (void)wsv_ws_pause(b->ws, 1);
  bridge_watch(b);
  return 0;
}

void bridge_input(struct bridge *b, int opcode, const void *data, size_t len) {
  if (b->fd < 0 || b->ws == NULL)
    return;
  if (b->mode == BRIDGE_RAW) {
    if (opcode != WSV_OP_BINARY) {
      bridge_close_ws(b, 1003,
                      "text messages are not supported; send "
                      "binary (or use subprotocol base64)");
      return;
    }
    (void)bridge_queue(b, data, len);
    return;
  }
  if (opcode != WSV_OP_TEXT) {
    bridge_close_ws(b, 1003, "subprotocol base64: send base64 text messages");
    return;
  }
  uint8_t *raw = malloc(len / 4 * 3 + 3);
  long n = raw != NULL ? b64_decode(data, len, raw) : -2;
  if (n == -1)
    bridge_close_ws(b, 1007, "subprotocol base64: the message is not base64");
  else if (n == -2)
    bridge_fail(b, "queueing for", ENOMEM);
  else
    (void)bridge_queue(b, raw, (size_t)n);
  free(raw);
}

/* ---- socket input -------------------------------------------------------- */

/* One read: a message for the WebSocket, or the peer's end. */
static void bridge_read(struct bridge *b) {
  uint8_t buf[BRIDGE_READ];
  ssize_t n;
  do
    n = recv(b->fd, buf, sizeof buf, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      bridge_fail(b, "reading from", errno);
    return;
  }
  if (n == 0) {
    b->eof = 1;
    if (b->ws == NULL) {
      if (b->shut)
        bridge_free(b);
      else
        bridge_watch(b);
      return;
    }
    if (b->set->verbose)
      wsv_cli_log("wsv: #%lu %s closed its side", b->id, b->set->peer);
    char what[64];
    snprintf(what, sizeof what, "%s closed", b->set->peer);
    bridge_close_ws(b, 1000, what);
    bridge_watch(b);
    return;
  }
  if (b->ws == NULL || !wsv_ws_is_open(b->ws))
    return; /* nowhere to go: dropped */
  int rc;
  if (b->mode == BRIDGE_BASE64) {
    char *text = malloc(((size_t)n + 2) / 3 * 4);
    if (text == NULL) {
      bridge_fail(b, "reading from", ENOMEM);
      return;
    }
    size_t tl = b64_encode(buf, (size_t)n, text);
    rc = wsv_ws_send_text(b->ws, text, tl);
    free(text);
  } else {
    rc = wsv_ws_send_binary(b->ws, buf, (size_t)n);
  }
  if (rc == 1) {
    b->ws_full = 1;
    bridge_watch(b);
  }
}

/* The connect finished (or failed). */
static void bridge_connected(struct bridge *b) {
  int e = 0;
  socklen_t el = sizeof e;
  if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
    e = errno;
  if (e != 0) {
    bridge_fail(b, "cannot connect to", e);
    return;
  }
  b->connecting = 0;
  wsv_timer_stop(b->timer);
  if (b->set->verbose)
    wsv_cli_log("wsv: #%lu connected to %s", b->id, b->set->target->text);
  (void)bridge_flush(b); /* what came meanwhile; sets the watch */
}

static void bridge_on_io(struct wsv_io *io, int fd, unsigned events,
                         void *user) {
  struct bridge *b = user;
  (void)io;
  (void)fd;
  if (b->connecting) {
    bridge_connected(b);
    return;
  }
  if (events & WSV_IO_WRITE) {
    if (bridge_flush(b) != 0)
      return;
  }
  if (events & (WSV_IO_READ | WSV_IO_ERROR)) {
    if (!(events & WSV_IO_READ) && (b->eof || b->ws_full)) {
      /* An error or hang-up while not reading: read it out anyway. */
      int e = 0;
      socklen_t el = sizeof e;
      if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e != 0) {
        bridge_fail(b, "reading from", e);
        return;
      }
      if (b->eof && b->ws == NULL) {
        bridge_free(b);
        return;
      }
      if (b->eof) { /* both sides of the socket are done: nothing to wait */
        bridge_close_fd(b);
        return;
      }
    }
    bridge_read(b);
  }
}

static void bridge_on_timer(struct wsv_timer *t, void *user) {
  struct bridge *b = user;
  (void)t;
  if (b->connecting) {
    bridge_fail(b, "cannot connect to", ETIMEDOUT);
    return;
  }
  if (b->ws == NULL) /* lingered long enough */
    bridge_free(b);
}

/* ---- making bridges ------------------------------------------------------ */

static struct bridge *bridge_new(struct bridge_set *s, struct wsv_loop *loop,
                                 unsigned long id) {
  struct bridge *b = calloc(1, sizeof *b);
  if (b == NULL)
    return NULL;
  b->set = s;
  b->loop = loop;
  b->id = id;
  b->fd = -1;
  if (wsv_timer_new(loop, &b->timer, bridge_on_timer, b) != 0) {
    free(b);
    return NULL;
  }
  bridge_link(b);
  return b;
}

int bridge_connect(struct bridge_set *s, struct wsv_ws *ws, unsigned long id,
                   struct bridge **out) {
  *out = NULL;
  const struct bridge_target *t = s->target;
  struct bridge *b = bridge_new(s, wsv_ws_loop(ws), id);
  if (b == NULL) {
    (void)wsv_ws_close(ws, 1011, "out of memory", 13);
    return -1;
  }
  b->ws = ws;
  b->ws_open = 1;
  const char *sub = wsv_ws_subprotocol(ws);
  b->mode =
      sub != NULL && strcmp(sub, "base64") == 0 ? BRIDGE_BASE64 : BRIDGE_RAW;
  *out = b;
  b->fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (b->fd < 0) {
    bridge_fail(b, "cannot connect to", errno);
    return -1;
  }
  if (t->family != AF_UNIX) {
    int one = 1;
    (void)setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  int r;
  do
    r = connect(b->fd, (const struct sockaddr *)&t->addr, t->addr_len);
  while (r != 0 && errno == EINTR);
  if (r != 0 && errno != EINPROGRESS) {
    bridge_fail(b, "cannot connect to", errno);
    return -1;
  }
  b->connecting = 1;
  if (wsv_io_start(b->loop, &b->io, b->fd, WSV_IO_WRITE, bridge_on_io, b) !=
      0) {
    bridge_fail(b, "cannot connect to", ENOMEM);
    return -1;
  }
  (void)wsv_timer_start(b->timer, BRIDGE_CONNECT_MS, 0);
  return 0;
}

int bridge_adopt(struct bridge_set *s, struct wsv_loop *loop, int fd,
                 unsigned long id, struct bridge **out) {
  *out = NULL;
  struct bridge *b = bridge_new(s, loop, id);
  if (b == NULL) {
    close(fd);
    return -1;
  }
  b->fd = fd;
  b->mode = BRIDGE_RAW;
  if (wsv_io_start(loop, &b->io, fd, 0, bridge_on_io, b) != 0) {
    bridge_free(b);
    return -1;
  }
  *out = b;
  return 0;
}

void bridge_set_ws(struct bridge *b, struct wsv_ws *ws) {
  b->ws = ws;
}

void bridge_opened(struct bridge *b) {
  b->ws_open = 1;
  if (b->fd < 0) { /* the socket failed meanwhile */
    char what[64];
    snprintf(what, sizeof what, "%s failed", b->set->peer);
    bridge_close_ws(b, 1011, what);
    return;
  }
  bridge_watch(b);
}

void bridge_drain(struct bridge *b) {
  if (b->ws_full) {
    b->ws_full = 0;
    bridge_watch(b);
  }
}

void bridge_detach(struct bridge *b) {
  b->ws = NULL;
  if (b->fd < 0 || b->connecting) {
    bridge_free(b);
    return;
  }
  (void)wsv_timer_start(b->timer, BRIDGE_LINGER_MS, 0);
  (void)bridge_flush(b); /* finishes (FIN) once the queue is out */
}
