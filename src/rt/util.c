/*
 * util.c - small text helpers of the runtime: logging through a context's
 * callback, string copies, HTTP reason phrases.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_int.h"

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
