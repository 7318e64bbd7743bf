/*
 * url.c - the one URL parser (see wsv/url.h).  The host grammar is
 * http.c's (wsv__uri_host), so a client checks its URL by the rules a
 * server checks its Host field with.
 */
#include <stdint.h>
#include <string.h>

#include "http.h"

/* The request-target of a URL without a path or a query. */
static const char url_slash[] = "/";

struct url_scheme {
  const char *name; /* with "://" */
  size_t len;
  int secure;
  int http; /* needs WSV_URL_HTTP */
};

static const struct url_scheme url_schemes[] = {
    {"ws://", 5, 0, 0},
    {"wss://", 6, 1, 0},
    {"http://", 7, 0, 1},
    {"https://", 8, 1, 1},
};

/* The scheme s[0..n) starts with, or NULL. */
static const struct url_scheme *url_scheme(const char *s, size_t n,
                                           unsigned flags) {
  size_t i;
  for (i = 0; i < sizeof url_schemes / sizeof url_schemes[0]; i++) {
    const struct url_scheme *k = &url_schemes[i];
    struct wsv_str head;
    if (n < k->len || (k->http && (flags & WSV_URL_HTTP) == 0))
      continue;
    head.ptr = s;
    head.len = k->len;
    if (wsv_str_ieq(head, k->name))
      return k;
  }
  return NULL;
}

/* 1 if every byte of s[0..n) is printable ASCII (0x21..0x7E). */
static int url_bytes_ok(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f)
      return 0;
  }
  return 1;
}

/* The index of the last '@' in s[0..n), or n if there is none. */
static size_t url_last_at(const char *s, size_t n) {
  size_t i = n;
  while (i > 0)
    if (s[--i] == '@')
      return i;
  return n;
}

/* host [ ":" port ] in a[0..n), into u.  Returns NULL or the reason. */
static const char *url_host_port(struct wsv_url *u, const char *a, size_t n) {
  size_t h; /* the host's length, brackets included */
  if (n == 0 || a[0] == ':')
    return "the URL has no host";
  if (a[0] == '[') {
    const char *rb = memchr(a, ']', n);
    if (rb == NULL || rb == a + 1)
      return "bad IPv6 literal in the URL";
    h = (size_t)(rb - a) + 1;
    if (h < n && a[h] != ':')
      return "bad character after the IPv6 literal";
    u->host_kind = wsv__uri_host(a, h);
    if (u->host_kind != WSV_HOST_IPV6 && u->host_kind != WSV_HOST_IPV_FUTURE)
      return "bad IPv6 literal in the URL";
  } else {
    const char *colon = memchr(a, ':', n);
    h = colon != NULL ? (size_t)(colon - a) : n;
    u->host_kind = wsv__uri_host(a, h);
    if (u->host_kind == WSV_HOST_INVALID)
      return "bad host in the URL";
  }
  u->host.ptr = a;
  u->host.len = h;
  if (u->host_kind == WSV_HOST_IPV6) {
    u->host.ptr = a + 1;
    u->host.len = h - 2;
  }
  u->port = u->secure ? 443 : 80;
  u->port_given = h < n;
  if (h < n) {
    long port = wsv__uri_port(a + h + 1, n - h - 1);
    if (h + 1 == n)
      return "empty port in the URL";
    if (port <= 0)
      return "bad port in the URL";
    u->port = (uint16_t)port;
  }
  return NULL;
}

/* The authority a[0..n) (userinfo, host, port) into u.  Returns NULL or
 * the reason. */
static const char *url_authority(struct wsv_url *u, const char *a, size_t n) {
  size_t at = url_last_at(a, n);
  u->userinfo.ptr = NULL;
  u->userinfo.len = 0;
  if (at < n) { /* url_parse refused it without WSV_URL_USERINFO */
    if (!wsv__uri_userinfo(a, at))
      return "bad user information in the URL";
    u->userinfo.ptr = a;
    u->userinfo.len = at;
    a += at + 1;
    n -= at + 1;
  }
  return url_host_port(u, a, n);
}

/* The rest r[0..n) after the authority: "" or "/..." or "?...", with no
 * '#' (already checked), into path, query and target. */
static void url_rest(struct wsv_url *u, const char *r, size_t n) {
  const char *q = memchr(r, '?', n);
  size_t plen = q != NULL ? (size_t)(q - r) : n;
  u->path.ptr = url_slash;
  u->path.len = 1;
  u->query.ptr = NULL;
  u->query.len = 0;
  u->target.ptr = url_slash;
  u->target.len = 1;
  if (plen > 0) {
    u->path.ptr = r;
    u->path.len = plen;
    u->target.ptr = r;
    u->target.len = n;
  } else if (q != NULL) {
    u->target.ptr = NULL; /* "/?query" is not in the input */
    u->target.len = 0;
  }
  if (q != NULL) {
    u->query.ptr = q + 1;
    u->query.len = n - plen - 1;
  }
}

static const char *url_parse(struct wsv_url *u, const char *s, size_t n,
                             unsigned flags) {
  const struct url_scheme *k = url_scheme(s, n, flags);
  const char *a, *end;
  size_t alen;
  if (k == NULL)
    return (flags & WSV_URL_HTTP) != 0
               ? "the URL must start with ws://, wss://, http:// or https://"
               : "the URL must start with ws:// or wss://";
  if (!url_bytes_ok(s, n))
    return "the URL holds a space, a control byte or a non-ASCII byte "
           "(percent-encode it)";
  a = s + k->len;
  end = s + n;
  for (alen = 0; a + alen < end; alen++)
    if (a[alen] == '/' || a[alen] == '?' || a[alen] == '#')
      break;
  if (memchr(a, '@', alen) != NULL && (flags & WSV_URL_USERINFO) == 0)
    return "user information in the URL is not supported";
  if (memchr(s, '#', n) != NULL)
    return "a WebSocket URL must not have a fragment (#)";
  u->secure = k->secure;
  {
    const char *why = url_authority(u, a, alen);
    if (why != NULL)
      return why;
  }
  url_rest(u, a + alen, (size_t)(end - a) - alen);
  return NULL;
}

int wsv_url_parse(struct wsv_url *u, const char *s, size_t n, unsigned flags,
                  const char **why) {
  const char *w = "bad arguments";
  if (u != NULL && (s != NULL || n == 0))
    w = url_parse(u, s != NULL ? s : "", n, flags);
  if (why != NULL)
    *why = w;
  return w == NULL ? WSV_OK : WSV_ERR_INVAL;
}

size_t wsv_url_target(const struct wsv_url *u, char *out, size_t cap) {
  size_t len;
  if (u->target.ptr != NULL) {
    len = u->target.len;
    if (out != NULL && cap > len) {
      memcpy(out, u->target.ptr, len);
      out[len] = '\0';
    }
    return len;
  }
  len = 2 + u->query.len; /* "/?" query */
  if (out != NULL && cap > len) {
    out[0] = '/';
    out[1] = '?';
    memcpy(out + 2, u->query.ptr, u->query.len);
    out[len] = '\0';
  }
  return len;
}

/* The value of the hex digit c, or -1. */
static int url_hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t wsv_url_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t i, o = 0;
  if (s == NULL && n > 0)
    return SIZE_MAX;
  for (i = 0; i < n; i++) { /* check and measure first: nothing half-done */
    if (s[i] == '%') {
      if (n - i < 3 || url_hex(s[i + 1]) < 0 || url_hex(s[i + 2]) < 0 ||
          (s[i + 1] == '0' && s[i + 2] == '0'))
        return SIZE_MAX;
      i += 2;
    }
    o++;
  }
  if (out == NULL || cap <= o)
    return SIZE_MAX;
  o = 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '%') {
      out[o++] = (char)(url_hex(s[i + 1]) * 16 + url_hex(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return o;
}
