/*
 * probe_net.c - the network side of `wsv probe`: the target (the ws://
 * URL, its Host field, its addresses) and one probe's exchange on a fresh
 * TCP connection: plain blocking-style I/O on a non-blocking socket with
 * poll() deadlines (no event loop), the request, the answer's head (at
 * most 8 KiB) and a short body, and a polite Close after a 101.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"

#include "probe.h"

/* ---- the target ---------------------------------------------------------- */

/* The ws:// URL (wsv_url_parse; wss:// only when allow_wss, for --h2) as
 * t's host, port, Host field and request target.  0, or -1 with the
 * reason in err[0..errcap). */
static int probe_parse_url(const char *url, int allow_wss,
                           struct probe_target *t, char *err, size_t errcap) {
  struct wsv_url u;
  const char *why;
  if (wsv_url_parse(&u, url, strlen(url), 0, &why) != WSV_OK) {
    snprintf(err, errcap, "%s", why);
    return -1;
  }
  if (u.secure && !allow_wss) {
    snprintf(err, errcap,
             "wss:// is probed over HTTP/2 only (--h2); use ws:// here");
    return -1;
  }
  t->secure = u.secure;
  if (u.host.len >= sizeof t->host) {
    snprintf(err, errcap, "the URL's host is too long");
    return -1;
  }
  memcpy(t->host, u.host.ptr, u.host.len);
  t->host[u.host.len] = '\0';
  t->ipv6 = u.host_kind == WSV_HOST_IPV6;
  snprintf(t->port, sizeof t->port, "%u", (unsigned)u.port);
  if (u.port_given)
    snprintf(t->host_hdr, sizeof t->host_hdr, t->ipv6 ? "[%s]:%s" : "%s:%s",
             t->host, t->port);
  else
    snprintf(t->host_hdr, sizeof t->host_hdr, t->ipv6 ? "[%s]" : "%s", t->host);
  if (wsv_url_target(&u, t->path, sizeof t->path) >= sizeof t->path) {
    snprintf(err, errcap, "URL path too long");
    return -1;
  }
  return 0;
}

int probe_target_open(struct probe_target *t, const char *url, int allow_wss,
                      char *err, size_t cap) {
  if (probe_parse_url(url, allow_wss, t, err, cap) != 0)
    return -1;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  int gai = getaddrinfo(t->host, t->port, &hints, &t->addrs);
  if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME) {
    hints.ai_flags = 0;
    gai = getaddrinfo(t->host, t->port, &hints, &t->addrs);
  }
  if (gai != 0) {
    t->addrs = NULL;
    snprintf(err, cap, "cannot resolve %.64s: %s", t->host, gai_strerror(gai));
    return -1;
  }
  return 0;
}

void probe_target_close(struct probe_target *t) {
  if (t->addrs != NULL)
    freeaddrinfo(t->addrs);
  t->addrs = NULL;
}

/* ---- one exchange -------------------------------------------------------- */

long long probe_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int probe_left_ms(long long deadline) {
  long long left = deadline - probe_now_ms();
  if (left < 0)
    return 0;
  return left > INT_MAX ? INT_MAX : (int)left;
}

static void probe_addr_text(const struct sockaddr *sa, socklen_t salen,
                            char *dst, size_t cap) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(sa, salen, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(dst, cap, "?");
    return;
  }
  snprintf(dst, cap, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
}

int probe_connect(struct probe_target *t, long long deadline, char *err,
                  size_t errcap) {
  int last = 0;
  int timed_out = 0;
  for (struct addrinfo *ai = t->addrs; ai != NULL; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      probe_addr_text(ai->ai_addr, ai->ai_addrlen, t->addr_text,
                      sizeof t->addr_text);
      return fd;
    }
    if (errno != EINPROGRESS) {
      last = errno;
      close(fd);
      continue;
    }
    struct pollfd pfd = {fd, POLLOUT, 0};
    int pr;
    do
      pr = poll(&pfd, 1, probe_left_ms(deadline));
    while (pr < 0 && errno == EINTR);
    if (pr == 0) {
      timed_out = 1;
      close(fd);
      continue;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
      last = errno;
      close(fd);
      continue;
    }
    if (soerr != 0) {
      last = soerr;
      close(fd);
      continue;
    }
    probe_addr_text(ai->ai_addr, ai->ai_addrlen, t->addr_text,
                    sizeof t->addr_text);
    return fd;
  }
  if (last != 0)
    snprintf(err, errcap, "connect to %.64s port %s: %s", t->host, t->port,
             strerror(last));
  else if (timed_out)
    snprintf(err, errcap, "connect to %.64s port %s: timed out", t->host,
             t->port);
  else
    snprintf(err, errcap, "connect to %.64s port %s failed", t->host, t->port);
  return -1;
}

static int probe_send_all(int fd, const char *p, size_t len,
                          long long deadline) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {fd, POLLOUT, 0};
      int pr = poll(&pfd, 1, probe_left_ms(deadline));
      if (pr == 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      continue;
    }
    return -1;
  }
  return 0;
}

/* Read more bytes into r->buf until `deadline`.  Returns the count (> 0),
 * 0 at EOF, -1 with errno set (ETIMEDOUT at the deadline). */
static long probe_recv(int fd, struct probe_result *r, size_t cap,
                       long long deadline) {
  for (;;) {
    if (r->len >= cap)
      return 0;
    ssize_t n = recv(fd, r->buf + r->len, cap - r->len, 0);
    if (n >= 0) {
      r->len += (size_t)n;
      return (long)n;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -1;
    int left = probe_left_ms(deadline);
    if (left == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, left);
    if (pr == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (pr < 0 && errno != EINTR)
      return -1;
  }
}

static void probe_build_request(struct probe_result *r,
                                const struct probe_target *t) {
  const struct probe_def *d = r->def;
  char *out = r->request;
  size_t cap = sizeof r->request;
  out[0] = '\0';
  probe_appendf(out, cap, "GET %s HTTP/1.1\r\nHost: %s\r\n", t->path,
                t->host_hdr);
  if (d->kind == PROBE_PLAIN) {
    probe_appendf(out, cap,
                  "User-Agent: wsv-probe/%s\r\nAccept: */*\r\n"
                  "Connection: close\r\n\r\n",
                  wsv_version_string());
  } else {
    probe_appendf(out, cap,
                  "User-Agent: wsv-probe/%s\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n",
                  wsv_version_string(), r->key);
    for (size_t i = 0; i < 3 && d->values[i] != NULL; i++)
      probe_appendf(out, cap, "Sec-WebSocket-Version: %s\r\n", d->values[i]);
    if (r->offer_ext)
      probe_appendf(out, cap, "Sec-WebSocket-Extensions: %s\r\n",
                    PROBE_EXT_OFFER);
    probe_appendf(out, cap, "\r\n");
  }
  r->request_len = strlen(out);
}

void probe_body_line(struct probe_result *r) {
  struct wsv_str ct;
  if (wsv_http_count(r->headers, r->nheaders, "Content-Type", &ct) > 0 &&
      !(ct.len >= 10 && strncasecmp(ct.ptr, "text/plain", 10) == 0))
    return;
  const char *p = r->buf + r->head_len;
  size_t len = r->len - r->head_len;
  size_t i = 0;
  while (i < len && (p[i] == '\r' || p[i] == '\n' || p[i] == ' '))
    i++;
  size_t j = i;
  while (j < len && p[j] != '\r' && p[j] != '\n')
    j++;
  if (j > i)
    probe_clean(r->body, sizeof r->body, p + i, j - i);
}

static void probe_verbose_block(const char *prefix, const char *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && p[j] != '\n')
      j++;
    size_t end = j;
    if (end > i && p[end - 1] == '\r')
      end--;
    char line[512];
    probe_clean(line, sizeof line, p + i, end - i);
    fprintf(stderr, "%s%s\n", prefix, line);
    i = j + 1;
  }
}

int probe_run(struct probe_result *r, struct probe_target *t,
              const struct probe_opts *o) {
  long long deadline = probe_now_ms() + o->timeout_ms;
  uint8_t raw[16];
  if (wsv_random_os(NULL, raw, sizeof raw) != 0) {
    snprintf(r->error, sizeof r->error, "no random bytes for the key");
    return -1;
  }
  size_t kl = wsv_hs_key(raw, r->key);
  (void)wsv_hs_accept(r->key, kl, r->accept_want);
  probe_build_request(r, t);

  if (o->verbose)
    fprintf(stderr, "--- %s: connecting to %s port %s\n", r->def->name, t->host,
            t->port);
  int fd = probe_connect(t, deadline, r->error, sizeof r->error);
  if (fd < 0)
    return -1;
  r->connected = 1;
  if (o->verbose)
    probe_verbose_block("> ", r->request, r->request_len);
  if (probe_send_all(fd, r->request, r->request_len, deadline) != 0) {
    snprintf(r->error, sizeof r->error, "sending the request: %s",
             strerror(errno));
    close(fd);
    return 0;
  }

  struct wsv_http_head head;
  memset(&head, 0, sizeof head);
  head.headers = r->headers;
  head.max_headers = PROBE_MAX_HEADERS;
  head.max_bytes = PROBE_HEAD_MAX;
  for (;;) {
    int pr = r->len > 0 ? wsv_http_parse_response(&head, r->buf, r->len)
                        : WSV_ERR_AGAIN;
    if (pr > 0) {
      r->head_len = (size_t)pr;
      break;
    }
    if (pr == WSV_ERR_HTTP_TOO_LARGE) {
      snprintf(r->error, sizeof r->error,
               "answer head over %d bytes or %d fields", PROBE_HEAD_MAX,
               PROBE_MAX_HEADERS);
      break;
    }
    if (pr != WSV_ERR_AGAIN) {
      char c[48];
      probe_clean(c, sizeof c, r->buf, r->len < 40 ? r->len : 40);
      snprintf(r->error, sizeof r->error, "answer is not HTTP/1.x: \"%s\"", c);
      break;
    }
    long got = probe_recv(fd, r, PROBE_HEAD_MAX, deadline);
    if (got > 0)
      continue;
    if (got == 0)
      snprintf(r->error, sizeof r->error,
               r->len == 0 ? "closed without an answer"
                           : "closed in the middle of the answer");
    else if (errno == ETIMEDOUT)
      snprintf(r->error, sizeof r->error,
               r->len == 0 ? "no answer within %d ms"
                           : "answer incomplete after %d ms",
               o->timeout_ms);
    else if (errno == ECONNRESET)
      snprintf(r->error, sizeof r->error,
               r->len == 0 ? "connection reset without an answer"
                           : "connection reset in the middle of the answer");
    else
      snprintf(r->error, sizeof r->error, "reading the answer: %s",
               strerror(errno));
    break;
  }

  if (r->head_len > 0) {
    r->answered = 1;
    r->nheaders = head.nheaders;
    r->status = head.status;
    r->http_major = head.major;
    r->http_minor = head.minor;
    probe_clean(r->reason, sizeof r->reason, head.reason.ptr, head.reason.len);
    if (o->verbose)
      probe_verbose_block("< ", r->buf, r->head_len - 2);
    if (r->status == 101) {
      /* Close the WebSocket politely: a masked Close frame, code 1000. */
      uint8_t f[8] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
      if (wsv_random_os(NULL, f + 2, 4) == 0) {
        f[6] ^= f[2];
        f[7] ^= f[3];
        (void)send(fd, f, sizeof f, MSG_NOSIGNAL);
      }
    } else {
      /* Read a short body: up to Content-Length (at most 1 KiB), or up to
       * EOF for a short while when there is no length. */
      struct wsv_str cl;
      size_t want = PROBE_BODY_MAX;
      long long body_deadline = deadline;
      int have_len = 0;
      if (wsv_http_count(r->headers, r->nheaders, "Content-Length", &cl) == 1) {
        size_t v = 0;
        int ok = cl.len > 0 && cl.len < 10;
        for (size_t i = 0; ok && i < cl.len; i++) {
          if (cl.ptr[i] < '0' || cl.ptr[i] > '9')
            ok = 0;
          else
            v = v * 10 + (size_t)(cl.ptr[i] - '0');
        }
        if (ok) {
          have_len = 1;
          if (v < want)
            want = v;
        }
      }
      if (wsv_http_count(r->headers, r->nheaders, "Transfer-Encoding", NULL) >
          0)
        want = 0;
      if (!have_len) {
        long long g = probe_now_ms() + PROBE_BODY_GRACE_MS;
        if (g < body_deadline)
          body_deadline = g;
      }
      while (r->len < r->head_len + want &&
             probe_recv(fd, r, r->head_len + want, body_deadline) > 0) {
      }
      if (r->len > r->head_len + want)
        r->len = r->head_len + want;
      probe_body_line(r);
      if (o->verbose && r->body[0] != '\0')
        fprintf(stderr, "< (body) %s\n", r->body);
    }
    probe_extract(r);
  } else if (o->verbose) {
    fprintf(stderr, "< (%s)\n", r->error);
  }
  close(fd);
  return 0;
}
