/*
 * net.c - small socket and text helpers shared by the server and client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"

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

char *wsv__rt_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p == NULL)
    return NULL;
  if (n > 0)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

const char *wsv__rt_status_text(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  default:
    return status < 400 ? "OK" : "Error";
  }
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

void wsv__rt_log(const struct wsv__rt_ctx *ctx, int level, const char *fmt,
                 ...) {
  if (ctx == NULL || ctx->log == NULL)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  ctx->log(ctx->log_user, level, line);
}
