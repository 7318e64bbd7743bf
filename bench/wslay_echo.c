/*
 * wslay_echo.c - a wslay (Debian's libwslay 1.1.1, libwslay-dev) echo
 * server for bench/run.  Debian ships the library but not its example
 * servers, so this one follows the logic of wslay's examples/fork-echoserv.c
 * (our own code): the HTTP upgrade is done by hand (Upgrade, Connection and
 * a 24-character Sec-WebSocket-Key required; the accept key from OpenSSL's
 * SHA-1 and base64), then a server context of wslay's event API drives the
 * connection through recv/send callbacks over the nonblocking socket, and
 * on_msg_recv_callback queues every data message back with the same opcode
 * and payload (control frames are left to wslay, which answers Ping and
 * Close itself).  A connection is closed once wslay wants neither to read
 * nor to write, or on any error.
 *
 * Where fork-echoserv forks a process with a poll loop per connection,
 * this is one process with one level-triggered epoll loop for all of them
 * (as every other peer in bench/run is single-threaded).  Interest follows
 * wslay_event_want_read/want_write as in the example; after a read that
 * queued echoes, wslay_event_send is called at once rather than on the next
 * EPOLLOUT.  Bytes that arrive behind the request head are handed to wslay
 * first.  No extensions (no permessage-deflate) are offered.  Request
 * heads are read into one shared buffer, so an upgraded connection holds
 * only its small struct and wslay's context (which itself embeds a 4 KiB
 * input and a 4 KiB output buffer: most of its memory per connection).
 *
 *   wslay_echo PORT      listens on 127.0.0.1:PORT; stops on SIGINT or
 *                        SIGTERM
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define ECHO_HEAD_MAX 8192u /* request head limit */
#define ECHO_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct echo_conn {
  int fd;
  uint32_t events;             /* current epoll interest */
  wslay_event_context_ptr ctx; /* NULL until the 101 is out */
  char *head;       /* before the 101: a partial request head; after it:
                       bytes that followed the head, unread [off, len) */
  size_t head_len, head_off;
  char *res;        /* the part of the 101 the socket did not take */
  size_t res_len, res_off;
};

/* Request heads are read here, so a connection keeps no buffer of its own
 * unless its head comes in pieces. */
static char echo_rbuf[ECHO_HEAD_MAX];

static volatile sig_atomic_t echo_stop;

static void echo_on_signal(int signo) {
  (void)signo;
  echo_stop = 1;
}

static void echo_close(int ep, struct echo_conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  shutdown(c->fd, SHUT_WR);
  close(c->fd);
  if (c->ctx != NULL)
    wslay_event_context_free(c->ctx);
  free(c->head);
  free(c->res);
  free(c);
}

static void echo_watch(int ep, struct echo_conn *c, uint32_t events) {
  if (c->events == events)
    return;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

/* ---- wslay callbacks -------------------------------------------------------- */

static ssize_t echo_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf,
                            size_t len, int flags, void *user_data) {
  struct echo_conn *c = user_data;
  (void)flags;
  if (c->head != NULL) { /* bytes that came in behind the request head */
    size_t n = c->head_len - c->head_off;
    if (n > len)
      n = len;
    memcpy(buf, c->head + c->head_off, n);
    c->head_off += n;
    if (c->head_off == c->head_len) {
      free(c->head);
      c->head = NULL;
    }
    return (ssize_t)n;
  }
  ssize_t r;
  while ((r = recv(c->fd, buf, len, 0)) < 0 && errno == EINTR)
    ;
  if (r < 0) {
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  if (r == 0) { /* EOF without a Close: an error, as in the example */
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return r;
}

static ssize_t echo_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                            size_t len, int flags, void *user_data) {
  struct echo_conn *c = user_data;
  int sflags = MSG_NOSIGNAL;
  if (flags & WSLAY_MSG_MORE) /* a frame header with its payload to follow */
    sflags |= MSG_MORE;
  ssize_t r;
  while ((r = send(c->fd, data, len, sflags)) < 0 && errno == EINTR)
    ;
  if (r < 0)
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
  return r;
}

static void echo_msg_cb(wslay_event_context_ptr ctx,
                        const struct wslay_event_on_msg_recv_arg *arg,
                        void *user_data) {
  (void)user_data;
  if (wslay_is_ctrl_frame(arg->opcode))
    return; /* wslay answers Ping and Close by itself */
  struct wslay_event_msg m;
  m.opcode = arg->opcode;
  m.msg = arg->msg;
  m.msg_length = arg->msg_length;
  wslay_event_queue_msg(ctx, &m); /* copies the payload */
}

static const struct wslay_event_callbacks echo_callbacks = {
    .recv_callback = echo_recv_cb,
    .send_callback = echo_send_cb,
    .on_msg_recv_callback = echo_msg_cb,
};

/* One step of wslay after an event: read (when asked to), send what is
 * queued, then set the epoll interest from what wslay wants, or close. */
static void echo_ws_step(int ep, struct echo_conn *c, int readable,
                         int writable) {
  if (readable && wslay_event_recv(c->ctx) != 0) {
    echo_close(ep, c);
    return;
  }
  if ((writable || readable) && wslay_event_want_write(c->ctx) &&
      wslay_event_send(c->ctx) != 0) {
    echo_close(ep, c);
    return;
  }
  int want_read = wslay_event_want_read(c->ctx);
  int want_write = wslay_event_want_write(c->ctx);
  if (!want_read && !want_write) { /* closing handshake done */
    echo_close(ep, c);
    return;
  }
  echo_watch(ep, c,
             (want_read ? (uint32_t)EPOLLIN : 0) |
                 (want_write ? (uint32_t)EPOLLOUT : 0));
}

/* ---- the HTTP upgrade --------------------------------------------------------- */

/* The value of header NAME in the request head [head, end) (the request
 * line skipped), or NULL; *vlen is set to its length, blanks trimmed. */
static const char *echo_header(const char *head, const char *end,
                               const char *name, size_t *vlen) {
  size_t nlen = strlen(name);
  const char *p = memmem(head, (size_t)(end - head), "\r\n", 2);
  while (p != NULL && p + 2 < end) {
    const char *line = p + 2;
    const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
    if (eol == NULL)
      eol = end;
    if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
        strncasecmp(line, name, nlen) == 0) {
      const char *v = line + nlen + 1;
      while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      *vlen = (size_t)(ve - v);
      return v;
    }
    p = eol;
  }
  return NULL;
}

/* Whether the comma-separated value [v, v+n) has TOKEN (any case). */
static int echo_has_token(const char *v, size_t n, const char *token) {
  size_t tlen = strlen(token);
  const char *end = v + n;
  while (v < end) {
    while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
      v++;
    const char *t = v;
    while (v < end && *v != ',')
      v++;
    const char *te = v;
    while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
      te--;
    if ((size_t)(te - t) == tlen && strncasecmp(t, token, tlen) == 0)
      return 1;
  }
  return 0;
}

/* Checks the request head h[0, end) and writes the 101 into res[0, cap).
 * Returns its length, or -1 when it is no WebSocket upgrade. */
static int echo_answer(const char *h, size_t end, char *res, size_t cap) {
  const char *he = h + end;
  const char *v, *key;
  size_t vlen, klen;
  if ((v = echo_header(h, he, "Upgrade", &vlen)) == NULL ||
      !echo_has_token(v, vlen, "websocket") ||
      (v = echo_header(h, he, "Connection", &vlen)) == NULL ||
      !echo_has_token(v, vlen, "Upgrade") ||
      (key = echo_header(h, he, "Sec-WebSocket-Key", &klen)) == NULL ||
      klen != 24)
    return -1;
  unsigned char src[24 + sizeof ECHO_GUID - 1], md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  memcpy(src, key, 24);
  memcpy(src + 24, ECHO_GUID, sizeof ECHO_GUID - 1);
  if (EVP_Digest(src, sizeof src, md, &mdlen, EVP_sha1(), NULL) != 1 ||
      mdlen != 20)
    return -1;
  unsigned char accept[32];
  EVP_EncodeBlock(accept, md, 20); /* 28 characters and a NUL */
  return snprintf(res, cap,
                  "HTTP/1.1 101 Switching Protocols\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n"
                  "\r\n",
                  (const char *)accept);
}

/* Writes what is left of the 101 (c->res); once it is all out, hands the
 * connection to wslay (with any bytes that followed the request head). */
static void echo_upgrade(int ep, struct echo_conn *c) {
  while (c->res_off < c->res_len) {
    ssize_t w = send(c->fd, c->res + c->res_off, c->res_len - c->res_off,
                     MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      echo_watch(ep, c, EPOLLOUT);
      return;
    }
    if (w < 0) {
      echo_close(ep, c);
      return;
    }
    c->res_off += (size_t)w;
  }
  free(c->res);
  c->res = NULL;
  if (wslay_event_context_server_init(&c->ctx, &echo_callbacks, c) != 0) {
    c->ctx = NULL;
    echo_close(ep, c);
    return;
  }
  echo_ws_step(ep, c, c->head != NULL, 0);
}

/* Reads the request head; answers it once it is complete. */
static void echo_read_head(int ep, struct echo_conn *c) {
  size_t have = c->head_len; /* a partial head from earlier reads */
  if (have > 0)
    memcpy(echo_rbuf, c->head, have);
  ssize_t r;
  while ((r = recv(c->fd, echo_rbuf + have, ECHO_HEAD_MAX - have, 0)) < 0 &&
         errno == EINTR)
    ;
  if (r < 0 && errno == EAGAIN)
    return;
  if (r <= 0) {
    echo_close(ep, c);
    return;
  }
  size_t from = have >= 3 ? have - 3 : 0;
  have += (size_t)r;
  const char *e = memmem(echo_rbuf + from, have - from, "\r\n\r\n", 4);
  if (e == NULL) { /* keep the piece for the next read */
    char *p = have < ECHO_HEAD_MAX ? realloc(c->head, have) : NULL;
    if (p == NULL) { /* too large, or no memory */
      echo_close(ep, c);
      return;
    }
    memcpy(p, echo_rbuf, have);
    c->head = p;
    c->head_len = have;
    return;
  }
  free(c->head);
  c->head = NULL;
  c->head_len = 0;
  size_t end = (size_t)(e + 4 - echo_rbuf);
  char res[192];
  int n = echo_answer(echo_rbuf, end, res, sizeof res);
  if (n < 0) {
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    ssize_t w = send(c->fd, bad, sizeof bad - 1, MSG_NOSIGNAL);
    (void)w;
    echo_close(ep, c);
    return;
  }
  if (end < have) { /* frames sent right behind the request */
    c->head = malloc(have - end);
    if (c->head == NULL) {
      echo_close(ep, c);
      return;
    }
    memcpy(c->head, echo_rbuf + end, have - end);
    c->head_len = have - end;
    c->head_off = 0;
  }
  ssize_t w;
  while ((w = send(c->fd, res, (size_t)n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
    ;
  if (w < 0 && errno != EAGAIN) {
    echo_close(ep, c);
    return;
  }
  if (w < 0)
    w = 0;
  if (w < n) { /* keep the rest for EPOLLOUT */
    c->res_len = (size_t)(n - w);
    c->res_off = 0;
    c->res = malloc(c->res_len);
    if (c->res == NULL) {
      echo_close(ep, c);
      return;
    }
    memcpy(c->res, res + w, c->res_len);
  }
  echo_upgrade(ep, c);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: wslay_echo PORT\n");
    return 2;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)atoi(argv[1]));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct sigaction sig;
  memset(&sig, 0, sizeof sig);
  sig.sa_handler = echo_on_signal;
  sigaction(SIGINT, &sig, NULL);
  sigaction(SIGTERM, &sig, NULL);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(ls, 4096) != 0) {
    perror("wslay_echo: bind/listen");
    return 1;
  }
  socklen_t sl = sizeof sa;
  getsockname(ls, (struct sockaddr *)&sa, &sl);
  printf("wslay_echo: listening on 127.0.0.1:%u\n",
         (unsigned)ntohs(sa.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL; /* the listener */
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[512];
  while (!echo_stop) {
    int k = epoll_wait(ep, evs, 512, 500);
    for (int i = 0; i < k; i++) {
      struct echo_conn *c = evs[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0)
            break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          c = calloc(1, sizeof *c);
          if (c == NULL) {
            close(fd);
            continue;
          }
          c->fd = fd;
          c->events = EPOLLIN;
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      uint32_t e = evs[i].events;
      if (c->ctx == NULL) { /* still in the HTTP upgrade */
        if (c->res != NULL)
          echo_upgrade(ep, c);
        else
          echo_read_head(ep, c);
        continue;
      }
      if (e & (EPOLLERR | EPOLLHUP)) { /* as the example: drop it */
        echo_close(ep, c);
        continue;
      }
      echo_ws_step(ep, c, (e & EPOLLIN) != 0, (e & EPOLLOUT) != 0);
    }
  }
  close(ep);
  close(ls);
  return 0;
}
