/*
 * util.c - small helpers of the runtime: logging through a context's
 * callback, string copies.
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
