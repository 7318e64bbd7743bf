/*
 * fuzz/url.c - libFuzzer target for the URL parser (wsv_url_parse,
 * wsv_url_target in wsv/url.h).
 *
 * Byte 0: the flags (bit 0 WSV_URL_USERINFO, bit 1 WSV_URL_HTTP; the other
 * bits are passed too and must be ignored).  The rest is the URL, copied
 * to a buffer of its exact size so that ASan sees any read past it.
 *
 * Checked: every refusal has a one-line reason and every success none; an
 * accepted URL holds only printable ASCII and no '#', and is the exact
 * concatenation of its parts (scheme, userinfo "@", host, ":" port,
 * target); its host is the kind wsv__uri_host says, and its authority
 * without the userinfo is a Host value the server's parser
 * (wsv__uri_host_port) accepts with the same kind and port; the port is
 * never 0 and is 80/443 when none was given; wsv_url_target writes path
 * and "?query" ("/" for no path); adding a flag never turns an accepted
 * URL into a refused one or changes its parts; changing the scheme's case
 * changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

static int fz_same_view(struct wsv_str a, struct wsv_str b) {
  return a.ptr == b.ptr && a.len == b.len;
}

static int fz_same(const struct wsv_url *a, const struct wsv_url *b) {
  return a->secure == b->secure && fz_same_view(a->host, b->host) &&
         a->host_kind == b->host_kind && a->port == b->port &&
         a->port_given == b->port_given && fz_same_view(a->path, b->path) &&
         fz_same_view(a->query, b->query) && fz_same_view(a->target, b->target);
}

/* The parts of an accepted URL s[0..n) against the input itself. */
static void fz_check_ok(const struct wsv_url *u, const char *s, size_t n,
                        unsigned flags) {
  const char *p = s, *end = s + n;
  size_t i, tl;
  char *t;
  for (i = 0; i < n; i++)
    CHECK(s[i] > 0x20 && s[i] < 0x7f && s[i] != '#');
  p = (const char *)memchr(s, ':', n) + 3; /* after "://" */
  CHECK(p[-1] == '/' && p[-2] == '/');
  CHECK(u->secure == (p - s == 6 || p - s == 8));
  CHECK(p - s <= 6 || (flags & WSV_URL_HTTP) != 0);
  if (u->userinfo.ptr != NULL) {
    CHECK((flags & WSV_URL_USERINFO) != 0 && u->userinfo.ptr == p);
    p += u->userinfo.len;
    CHECK(*p++ == '@');
  }
  {
    /* host [":" port] is a Host value for the server's parser */
    const char *a = p;
    size_t alen = 0, hl = 0;
    long port = -2;
    while (a + alen < end && a[alen] != '/' && a[alen] != '?')
      alen++;
    CHECK(wsv__uri_host_port(a, alen, &hl, &port) == u->host_kind);
    CHECK(wsv__uri_host(a, hl) == u->host_kind);
    CHECK(u->port_given ? port == u->port : port == -1);
  }
  if (u->host_kind == WSV_HOST_IPV6) {
    CHECK(*p++ == '[' && u->host.ptr == p);
    p += u->host.len;
    CHECK(*p++ == ']');
  } else {
    CHECK(u->host.ptr == p && u->host.len > 0);
    p += u->host.len;
  }
  CHECK(u->host_kind != WSV_HOST_INVALID);
  CHECK(u->port != 0);
  if (u->port_given) {
    CHECK(*p++ == ':');
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    CHECK(u->port == (u->secure ? 443 : 80));
  }
  /* the rest is the target: "/path?query", "?query" or nothing */
  if (p == end) {
    CHECK(u->target.len == 1 && u->target.ptr[0] == '/');
    CHECK(u->query.ptr == NULL && u->path.len == 1);
  } else if (*p == '?') {
    CHECK(u->target.ptr == NULL && u->query.ptr == p + 1);
    CHECK(u->path.len == 1 && u->path.ptr[0] == '/');
  } else {
    CHECK(*p == '/' && u->target.ptr == p && p + u->target.len == end);
    CHECK(u->path.ptr == p);
  }
  if (u->query.ptr != NULL)
    CHECK(u->query.ptr + u->query.len == end && u->query.ptr[-1] == '?');
  tl = wsv_url_target(u, NULL, 0);
  t = malloc(tl + 1);
  CHECK(t != NULL);
  CHECK(wsv_url_target(u, t, tl) == tl); /* too small: nothing written */
  CHECK(wsv_url_target(u, t, tl + 1) == tl && t[tl] == '\0');
  CHECK(tl == u->path.len + (u->query.ptr != NULL ? 1 + u->query.len : 0));
  CHECK(memcmp(t, u->path.ptr, u->path.len) == 0);
  if (u->query.ptr != NULL)
    CHECK(t[u->path.len] == '?' &&
          memcmp(t + u->path.len + 1, u->query.ptr, u->query.len) == 0);
  free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wsv_url u, v;
  const char *why = NULL, *why2 = NULL;
  unsigned flags;
  char *s;
  size_t n, i;
  int rc;
  if (size == 0)
    return 0;
  flags = data[0];
  n = size - 1;
  s = malloc(n > 0 ? n : 1);
  CHECK(s != NULL);
  if (n > 0)
    memcpy(s, data + 1, n);
  rc = wsv_url_parse(&u, s, n, flags, &why);
  CHECK(rc == WSV_OK || rc == WSV_ERR_INVAL);
  CHECK((rc == WSV_OK) == (why == NULL));
  if (why != NULL)
    CHECK(why[0] != '\0' && strchr(why, '\n') == NULL);
  if (rc == WSV_OK) {
    fz_check_ok(&u, s, n, flags);
    /* more flags: still accepted, the same parts */
    CHECK(wsv_url_parse(&v, s, n, flags | WSV_URL_USERINFO | WSV_URL_HTTP,
                        NULL) == WSV_OK);
    CHECK(fz_same(&u, &v) && fz_same_view(u.userinfo, v.userinfo));
  }
  /* the scheme's case changes nothing */
  for (i = 0; i < n && s[i] != ':'; i++)
    if (s[i] >= 'a' && s[i] <= 'z')
      s[i] = (char)(s[i] - 'a' + 'A');
  CHECK(wsv_url_parse(&v, s, n, flags, &why2) == rc);
  CHECK(why == why2 || (why != NULL && why2 != NULL && !strcmp(why, why2)));
  if (rc == WSV_OK)
    CHECK(fz_same(&u, &v));
  free(s);
  return 0;
}
