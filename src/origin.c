/*
 * origin.c - Origin allow-lists and the same-origin check (wsv/origin.h).
 *
 * Three small parsers share one shape: a scheme ("http"), an authority
 * (host[:port], the host a name, IPv4 or [IPv6]) and, in a list entry,
 * "*" in the port or a "*." host prefix.  Everything is compared without
 * regard to ASCII case; ports are numbers, with the scheme's default
 * filled in, so "http://a.test" and "http://a.test:80" are equal.
 */
#include <string.h>

#include "http.h"
#include "int.h"
#include "wsv/origin.h"

/* Ports: a number 0..65535, or one of these. */
#define ORIGIN_PORT_NONE (-2) /* absent, and the scheme has no default */
#define ORIGIN_PORT_ANY (-1)  /* a list entry that allows every port */

/* Quoted Origin bytes in a reason. */
#define ORIGIN_QUOTE_MAX 64

enum origin_kind { ORIGIN_ENTRY_HOST = 0, ORIGIN_ENTRY_NULL = 1 };

/* One allow-list entry; strings are in the policy's pool, lower case. */
struct origin_entry {
  uint8_t kind;     /* enum origin_kind */
  uint8_t wildcard; /* "*.suffix": host holds ".suffix" */
  int32_t port;     /* a port, ORIGIN_PORT_ANY or ORIGIN_PORT_NONE */
  size_t scheme_off, scheme_len; /* length 0: any scheme */
  size_t host_off, host_len;
};

struct wsv_origin_policy {
  struct wsv_mem mem;
  unsigned flags;
  int any; /* "*" listed */
  size_t n;
  struct origin_entry *e; /* e[0..n) */
  char *pool;
};

/* The parts of scheme://host[:port] or host[:port]. */
struct origin_parts {
  struct wsv_str scheme; /* {NULL, 0} when there is none */
  struct wsv_str host;   /* IPv6 with its brackets; without "*." */
  int wildcard;          /* the host was "*.host" (list entries only) */
  int32_t port;          /* explicit port, ORIGIN_PORT_ANY, or
                            ORIGIN_PORT_NONE when absent */
};

/* Parser modes: what is allowed beyond scheme://host[:port]. */
#define ORIGIN_P_SCHEME 1u   /* a scheme is required */
#define ORIGIN_P_NOSCHEME 2u /* no scheme at all (a Host value) */
#define ORIGIN_P_ENTRY                                                         \
  4u                          /* list entry: "*." host, ":*" port, scheme      \
                                 optional */
#define ORIGIN_P_EMPTYPORT 8u /* "host:" is host without a port (Host) */

static int origin_lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int origin_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int origin_digit(int c) {
  return c >= '0' && c <= '9';
}

static int origin_hex(int c) {
  return origin_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A byte of a host name: RFC 3986 unreserved (no percent-encoding: a
 * browser sends names in ASCII, IDNs as punycode). */
static int origin_name_char(int c) {
  return origin_alpha(c) || origin_digit(c) || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

static int origin_ieq(const char *a, size_t alen, const char *b, size_t blen) {
  size_t i;
  if (alen != blen)
    return 0;
  for (i = 0; i < alen; i++)
    if (origin_lower((unsigned char)a[i]) != origin_lower((unsigned char)b[i]))
      return 0;
  return 1;
}

static int origin_ieq_lit(struct wsv_str s, const char *lit) {
  return s.ptr != NULL && origin_ieq(s.ptr, s.len, lit, strlen(lit));
}

/* The scheme's default port: 80 for http and ws, 443 for https and wss. */
static int32_t origin_default_port(struct wsv_str scheme) {
  if (origin_ieq_lit(scheme, "http") || origin_ieq_lit(scheme, "ws"))
    return 80;
  if (origin_ieq_lit(scheme, "https") || origin_ieq_lit(scheme, "wss"))
    return 443;
  return ORIGIN_PORT_NONE;
}

/* Parse p[0..n) in `mode`; 0 and *out filled, or -1. */
static int origin_parse(const char *p, size_t n, unsigned mode,
                        struct origin_parts *out) {
  size_t i = 0, h0;
  memset(out, 0, sizeof *out);
  out->port = ORIGIN_PORT_NONE;
  if (p == NULL || n == 0)
    return -1;
  /* scheme "://", when there is one */
  if ((mode & ORIGIN_P_NOSCHEME) == 0) {
    size_t k = 0;
    while (k < n && (origin_alpha((unsigned char)p[k]) ||
                     (k > 0 && (origin_digit((unsigned char)p[k]) ||
                                p[k] == '+' || p[k] == '-' || p[k] == '.'))))
      k++;
    if (k > 0 && n - k >= 3 && memcmp(p + k, "://", 3) == 0) {
      out->scheme.ptr = p;
      out->scheme.len = k;
      i = k + 3;
    } else if (mode & ORIGIN_P_SCHEME) {
      return -1;
    }
  }
  /* host */
  if ((mode & ORIGIN_P_ENTRY) && n - i >= 2 && p[i] == '*' && p[i + 1] == '.') {
    out->wildcard = 1;
    i += 2;
  }
  h0 = i;
  if (i < n && p[i] == '[') {
    size_t colons = 0;
    if (out->wildcard)
      return -1;
    for (i++; i < n && p[i] != ']'; i++) {
      if (p[i] == ':')
        colons++;
      else if (!origin_hex((unsigned char)p[i]) && p[i] != '.')
        return -1;
    }
    if (i >= n || colons < 2)
      return -1; /* no ']', or not an IPv6 address */
    i++;
  } else {
    while (i < n && origin_name_char((unsigned char)p[i]))
      i++;
    if (i == h0 || p[h0] == '.')
      return -1;
  }
  out->host.ptr = p + h0;
  out->host.len = i - h0;
  if (i == n)
    return 0;
  /* ":" port */
  if (p[i] != ':')
    return -1; /* a path, a query, userinfo, a trailing '/' */
  i++;
  if (i == n)
    return (mode & ORIGIN_P_EMPTYPORT) ? 0 : -1;
  if ((mode & ORIGIN_P_ENTRY) && n - i == 1 && p[i] == '*') {
    out->port = ORIGIN_PORT_ANY;
    return 0;
  }
  {
    int32_t v = 0;
    size_t d0 = i;
    for (; i < n; i++) {
      if (!origin_digit((unsigned char)p[i]) || i - d0 >= 5)
        return -1;
      v = v * 10 + (p[i] - '0');
    }
    if (v > 65535)
      return -1;
    out->port = v;
  }
  return 0;
}

/* The port an origin (or a Host reached over `scheme`) stands for. */
static int32_t origin_effective_port(const struct origin_parts *o,
                                     struct wsv_str scheme) {
  return o->port != ORIGIN_PORT_NONE ? o->port : origin_default_port(scheme);
}

/* ---- the list ------------------------------------------------------------ */

static int origin_space(int c) {
  return c == ' ' || c == '\t';
}

/* The next comma-separated entry of list[*pos..), trimmed: 1 and *e set,
 * 0 at the end (*pos is (size_t)-1 after the last entry).  An empty entry
 * (an empty list, ",,", a trailing comma) comes back as {ptr, 0}. */
static int origin_next_entry(const char *list, size_t *pos, struct wsv_str *e) {
  size_t i = *pos, end;
  if (i == (size_t)-1)
    return 0;
  for (end = i; list[end] != '\0' && list[end] != ','; end++)
    ;
  while (i < end && origin_space((unsigned char)list[i]))
    i++;
  e->ptr = list + i;
  e->len = end - i;
  while (e->len > 0 && origin_space((unsigned char)e->ptr[e->len - 1]))
    e->len--;
  *pos = list[end] == ',' ? end + 1 : (size_t)-1;
  return 1;
}

/* Check one entry; 0, or -1 when malformed. */
static int origin_entry_parse(struct wsv_str e, struct origin_parts *o) {
  memset(o, 0, sizeof *o);
  if (e.len == 0)
    return -1;
  if ((e.len == 1 && e.ptr[0] == '*') || origin_ieq_lit(e, "null"))
    return 0;
  return origin_parse(e.ptr, e.len, ORIGIN_P_ENTRY, o);
}

int wsv_origin_list_check(const char *list, struct wsv_str *bad) {
  size_t pos = 0;
  struct wsv_str e;
  struct origin_parts o;
  if (bad != NULL) {
    bad->ptr = list;
    bad->len = 0;
  }
  if (list == NULL || list[0] == '\0')
    return WSV_ERR_INVAL;
  while (origin_next_entry(list, &pos, &e)) {
    if (origin_entry_parse(e, &o) != 0) {
      if (bad != NULL)
        *bad = e;
      return WSV_ERR_INVAL;
    }
  }
  return 0;
}

static void origin_copy_lower(char *dst, struct wsv_str s) {
  size_t i;
  for (i = 0; i < s.len; i++)
    dst[i] = (char)origin_lower((unsigned char)s.ptr[i]);
}

int wsv_origin_policy_new(struct wsv_origin_policy **out, const char *list,
                          unsigned flags, const struct wsv_mem *mem) {
  struct wsv_mem m;
  struct wsv_origin_policy *pol;
  size_t n = 0, bytes = 0, pos = 0, k = 0, used = 0;
  struct wsv_str e;
  struct origin_parts o;
  if (out == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  if ((flags & ~(WSV_ORIGIN_SAME | WSV_ORIGIN_REQUIRE |
                 WSV_ORIGIN_SAME_ADDRESS)) != 0)
    return WSV_ERR_INVAL;
  if (list != NULL) {
    if (wsv_origin_list_check(list, NULL) != 0)
      return WSV_ERR_INVAL;
    while (origin_next_entry(list, &pos, &e)) {
      n++;
      bytes += e.len + 1; /* scheme + host fit in the entry's length */
    }
  }
  wsv__mem_init(&m, mem);
  pol = wsv__calloc(&m, sizeof *pol + n * sizeof *pol->e + bytes);
  if (pol == NULL)
    return WSV_ERR_NOMEM;
  pol->mem = m;
  pol->flags = flags;
  pol->e = (struct origin_entry *)(void *)(pol + 1);
  pol->pool = (char *)(pol->e + n);
  pos = 0;
  while (list != NULL && origin_next_entry(list, &pos, &e)) {
    struct origin_entry *x;
    (void)origin_entry_parse(e, &o); /* checked above */
    if (e.len == 1 && e.ptr[0] == '*') {
      pol->any = 1;
      continue;
    }
    x = &pol->e[k++];
    if (origin_ieq_lit(e, "null")) {
      x->kind = ORIGIN_ENTRY_NULL;
      continue;
    }
    x->kind = ORIGIN_ENTRY_HOST;
    x->wildcard = (uint8_t)o.wildcard;
    x->scheme_off = used;
    x->scheme_len = o.scheme.len;
    origin_copy_lower(pol->pool + used, o.scheme);
    used += o.scheme.len;
    x->host_off = used;
    if (o.wildcard)
      pol->pool[used++] = '.';
    origin_copy_lower(pol->pool + used, o.host);
    used += o.host.len;
    x->host_len = used - x->host_off;
    if (o.port != ORIGIN_PORT_NONE)
      x->port = o.port;
    else if (o.scheme.len > 0)
      x->port = origin_default_port(o.scheme);
    else
      x->port = ORIGIN_PORT_ANY; /* host alone: any port */
  }
  pol->n = k;
  *out = pol;
  return 0;
}

void wsv_origin_policy_free(struct wsv_origin_policy *pol) {
  if (pol != NULL) {
    struct wsv_mem m = pol->mem;
    wsv__free(&m, pol);
  }
}

int wsv_origin_policy_any(const struct wsv_origin_policy *pol) {
  return pol != NULL && pol->any;
}

/* ---- judging an Origin -----------------------------------------------------
 */

/* Parse an Origin value: 0 (scheme://host[:port]), 1 ("null"), or -1. */
static int origin_value(struct wsv_str v, struct origin_parts *o) {
  if (v.len == 4 && memcmp(v.ptr, "null", 4) == 0) {
    memset(o, 0, sizeof *o);
    return 1;
  }
  return origin_parse(v.ptr, v.len, ORIGIN_P_SCHEME, o) == 0 ? 0 : -1;
}

static int origin_same_parts(const struct origin_parts *o, struct wsv_str host,
                             int tls) {
  struct origin_parts h;
  struct wsv_str want = {tls ? "https" : "http", tls ? 5u : 4u};
  if (!origin_ieq(o->scheme.ptr, o->scheme.len, want.ptr, want.len))
    return 0;
  if (origin_parse(host.ptr, host.len, ORIGIN_P_NOSCHEME | ORIGIN_P_EMPTYPORT,
                   &h) != 0)
    return 0;
  return origin_ieq(o->host.ptr, o->host.len, h.host.ptr, h.host.len) &&
         origin_effective_port(o, want) == origin_effective_port(&h, want);
}

int wsv_origin_same(struct wsv_str origin, struct wsv_str host, int tls) {
  struct origin_parts o;
  if (origin_value(origin, &o) != 0)
    return 0;
  return origin_same_parts(&o, host, tls);
}

static int origin_entry_match(const struct wsv_origin_policy *pol,
                              const struct origin_entry *x,
                              const struct origin_parts *o) {
  const char *h = pol->pool + x->host_off;
  if (x->kind != ORIGIN_ENTRY_HOST)
    return 0;
  if (x->scheme_len > 0 &&
      !origin_ieq(o->scheme.ptr, o->scheme.len, pol->pool + x->scheme_off,
                  x->scheme_len))
    return 0;
  if (x->wildcard) {
    /* ".suffix" at the end, at least one byte before it */
    if (o->host.len <= x->host_len ||
        !origin_ieq(o->host.ptr + (o->host.len - x->host_len), x->host_len, h,
                    x->host_len))
      return 0;
  } else if (!origin_ieq(o->host.ptr, o->host.len, h, x->host_len)) {
    return 0;
  }
  return x->port == ORIGIN_PORT_ANY ||
         x->port == origin_effective_port(o, o->scheme);
}

/* 1 if the (same-origin) page's host is an IP literal or "localhost". */
static int origin_by_address(const struct origin_parts *o) {
  int kind = wsv__uri_host(o->host.ptr, o->host.len);
  return kind == WSV_HOST_IPV4 || kind == WSV_HOST_IPV6 ||
         origin_ieq_lit(o->host, "localhost");
}

/* 0 allowed; 1 missing, 2 malformed, 3 not allowed. */
static int origin_judge(const struct wsv_origin_policy *pol,
                        struct wsv_str origin, struct wsv_str host, int tls) {
  struct origin_parts o;
  size_t i;
  int kind;
  if (pol == NULL || pol->any)
    return 0;
  if (origin.ptr == NULL)
    return (pol->flags & WSV_ORIGIN_REQUIRE) ? 1 : 0;
  kind = origin_value(origin, &o);
  if (kind < 0)
    return 2;
  if (kind == 0 && (pol->flags & WSV_ORIGIN_SAME) &&
      origin_same_parts(&o, host, tls) &&
      (!(pol->flags & WSV_ORIGIN_SAME_ADDRESS) || origin_by_address(&o)))
    return 0;
  for (i = 0; i < pol->n; i++) {
    if (kind == 1 ? pol->e[i].kind == ORIGIN_ENTRY_NULL
                  : origin_entry_match(pol, &pol->e[i], &o))
      return 0;
  }
  return 3;
}

int wsv_origin_allowed(const struct wsv_origin_policy *pol,
                       struct wsv_str origin, struct wsv_str host, int tls) {
  return origin_judge(pol, origin, host, tls) == 0;
}

int wsv_origin_check(const struct wsv_origin_policy *pol,
                     struct wsv_hs_server *hs, int tls) {
  struct wsv_str origin, host = {NULL, 0};
  char reason[ORIGIN_QUOTE_MAX + 64];
  size_t n, len;
  int why;
  if (hs == NULL)
    return 403;
  origin = wsv_hs_server_origin(hs);
  (void)wsv_hs_server_header(hs, "Host", &host);
  why = origin_judge(pol, origin, host, tls);
  if (why == 0)
    return 0;
  if (why == 1) {
    (void)wsv_hs_server_set_reason(hs, "Origin header is missing");
    return 403;
  }
  n = origin.len < ORIGIN_QUOTE_MAX ? origin.len : ORIGIN_QUOTE_MAX;
  memcpy(reason, "Origin ", 7);
  len = 7;
  memcpy(reason + len, origin.ptr, n);
  len += n;
  if (n < origin.len) {
    memcpy(reason + len, "...", 3);
    len += 3;
  }
  {
    const char *tail = why == 2 ? " is malformed" : " is not allowed";
    size_t t = strlen(tail);
    memcpy(reason + len, tail, t + 1);
  }
  (void)wsv_hs_server_set_reason(hs, reason);
  return 403;
}
