/*
 * util.c - small helpers of the runtime: logging through a context's
 * callback, string copies, the growable buffer of an HTTP head being read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
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

int wsv__rt_append(char **buf, size_t *len, size_t *cap, const void *p,
                   size_t n) {
  if (n > SIZE_MAX / 2 - *len)
    return -1;
  if (*len + n > *cap) {
    size_t c = *cap ? *cap : 1024;
    while (c < *len + n)
      c *= 2;
    char *q = realloc(*buf, c);
    if (q == NULL)
      return -1;
    *buf = q;
    *cap = c;
  }
  if (n > 0)
    memcpy(*buf + *len, p, n);
  *len += n;
  return 0;
}
