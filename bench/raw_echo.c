/*
 * raw_echo.c - the baseline for `wsv bench`: a plain TCP echo server, as
 * fast as a single epoll thread can make it.  Level-triggered epoll; per
 * readable event one read of up to 256 KiB into a shared buffer and one
 * write of all of it back (so a batch of small messages costs one read and
 * one write, like a WebSocket server that batches its echoes).  What the
 * socket does not take is kept per connection and reading pauses until it
 * has drained (back-pressure).  No framing, no parsing, no masking: the
 * upper bound for any echo server on the same machine.
 *
 * --xor adds the one cost a WebSocket server cannot avoid, the unmasking:
 * one pass over every byte read, in place, before it is echoed: each byte
 * XORed with a 4-byte key, its position in the key that of the byte in the
 * connection's stream (as a masking key runs over a payload), 8 bytes at a
 * time.  The key is read from a volatile at start, so the compiler cannot
 * drop the loop, and is 0, so the bytes go back unchanged and the
 * generator still verifies every echo.  The pass is the ceiling's
 * definition: "raw TCP echo plus one in-place XOR pass".  --xor-key HEX
 * (tests only: tests/interop/bench_peers.py) XORs with that key instead,
 * so the pass can be seen to run.
 *
 *   raw_echo [--xor | --xor-key HEX] PORT [HOST]
 *                                  prints "raw_echo: listening on HOST:PORT"
 *
 * Stops on SIGINT or SIGTERM.
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
#include <unistd.h>

#define RAW_BUF 262144u

struct raw_conn {
  int fd;
  char *pend; /* bytes the socket did not take yet */
  size_t len, off, cap;
  uint64_t pos; /* --xor: bytes read so far (the key's phase) */
};

/* --xor's key: 0, but the compiler cannot know. */
static volatile uint32_t raw_xor_key_src;

static volatile sig_atomic_t raw_stop;

static void raw_on_signal(int signo) {
  (void)signo;
  raw_stop = 1;
}

static void raw_close(int ep, struct raw_conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pend);
  free(c);
}

static void raw_watch(int ep, struct raw_conn *c, uint32_t events) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write pending bytes.  Returns 0, 1 if some are still pending, -1. */
static int raw_flush(struct raw_conn *c) {
  while (c->off < c->len) {
    ssize_t w = send(c->fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (w < 0)
      return errno == EAGAIN ? 1 : -1;
    c->off += (size_t)w;
  }
  c->off = c->len = 0;
  return 0;
}

/* Keep buf[0..n) for later.  Returns 0, -1 on no memory. */
static int raw_keep(struct raw_conn *c, const char *buf, size_t n) {
  if (c->cap < n) {
    char *p = realloc(c->pend, n);
    if (p == NULL)
      return -1;
    c->pend = p;
    c->cap = n;
  }
  memcpy(c->pend, buf, n);
  c->off = 0;
  c->len = n;
  return 0;
}

/* XOR buf[0..n) in place with the 4-byte key, starting at key byte
 * pos % 4: one read and one write of every byte. */
static void raw_xor(unsigned char *buf, size_t n, uint32_t key, uint64_t pos) {
  unsigned char k[4];
  memcpy(k, &key, 4);
  size_t i = 0;
  for (; i < n && ((pos + i) & 3u) != 0; i++) /* to the key's start */
    buf[i] ^= k[(pos + i) & 3u];
  uint64_t k8 = (uint64_t)key << 32 | key;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, buf + i, 8);
    w ^= k8;
    memcpy(buf + i, &w, 8);
  }
  for (; i < n; i++)
    buf[i] ^= k[(pos + i) & 3u];
}

static void raw_readable(int ep, struct raw_conn *c, char *buf, int xor,
                         uint32_t key) {
  ssize_t n = recv(c->fd, buf, RAW_BUF, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    raw_close(ep, c);
    return;
  }
  if (n < 0)
    return;
  if (xor) {
    raw_xor((unsigned char *)buf, (size_t)n, key, c->pos);
    c->pos += (uint64_t)n;
  }
  ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN) {
    raw_close(ep, c);
    return;
  }
  if (w < 0)
    w = 0;
  if (w < n) {
    if (raw_keep(c, buf + w, (size_t)(n - w)) != 0) {
      raw_close(ep, c);
      return;
    }
    raw_watch(ep, c, EPOLLOUT); /* stop reading until it drains */
  }
}

int main(int argc, char **argv) {
  int xor = 0;
  if (argc > 1 && strcmp(argv[1], "--xor") == 0) {
    xor = 1;
    argv++;
    argc--;
  } else if (argc > 2 && strcmp(argv[1], "--xor-key") == 0) {
    /* the key's bytes in stream order: "01020304" XORs byte 0 with 0x01 */
    unsigned long k = strtoul(argv[2], NULL, 16);
    unsigned char b[4] = {(unsigned char)(k >> 24), (unsigned char)(k >> 16),
                          (unsigned char)(k >> 8), (unsigned char)k};
    uint32_t kv;
    memcpy(&kv, b, 4);
    raw_xor_key_src = kv;
    xor = 1;
    argv += 2;
    argc -= 2;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: raw_echo [--xor | --xor-key HEX] PORT [HOST]\n");
    return 2;
  }
  uint32_t key = raw_xor_key_src;
  const char *host = argc > 2 ? argv[2] : "127.0.0.1";
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)atoi(argv[1]));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "raw_echo: bad address %s\n", host);
    return 2;
  }
  struct sigaction sig;
  memset(&sig, 0, sizeof sig);
  sig.sa_handler = raw_on_signal;
  sigaction(SIGINT, &sig, NULL);
  sigaction(SIGTERM, &sig, NULL);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(ls, 4096) != 0) {
    perror("raw_echo: bind/listen");
    return 1;
  }
  socklen_t sl = sizeof sa;
  getsockname(ls, (struct sockaddr *)&sa, &sl);
  printf("raw_echo: listening on %s:%u\n", host, (unsigned)ntohs(sa.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL; /* the listener */
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  char *buf = malloc(RAW_BUF);
  struct epoll_event evs[512];
  while (!raw_stop) {
    int k = epoll_wait(ep, evs, 512, 500);
    for (int i = 0; i < k; i++) {
      struct raw_conn *c = evs[i].data.ptr;
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
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (evs[i].events & EPOLLOUT) {
        int rc = raw_flush(c);
        if (rc < 0)
          raw_close(ep, c);
        else if (rc == 0)
          raw_watch(ep, c, EPOLLIN);
        continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        raw_readable(ep, c, buf, xor, key);
    }
  }
  free(buf);
  close(ep);
  close(ls);
  return 0;
}
