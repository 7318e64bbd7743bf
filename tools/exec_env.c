/*
 * exec_env.c - the environment of one program of `wsv serve --exec` or
 * --dir: the connection's WSV_* variables, the CGI/1.1 variables
 * websocketd sets (RFC 3875 §4.1: REMOTE_ADDR, QUERY_STRING, SCRIPT_NAME,
 * PATH_INFO, HTTP_<NAME> per request header...), then the base
 * environment (PATH, LD_LIBRARY_PATH, --passenv) minus any name already
 * set here.  exec_env_build works on plain facts (struct exec_req), with
 * no socket, so what a program sees follows from the request alone;
 * exec_env_new gathers those facts from a connection.
 *
 * Request headers: HTTP_ and the name in upper case with '-' as '_'.  A
 * name holding '_' (or anything but letters, digits and '-') is left out,
 * since "X_Token" would pose as "X-Token"; so is Proxy, whose HTTP_PROXY
 * many HTTP clients would take for their proxy setting ("httpoxy",
 * CVE-2016-5385).  Repeated fields are joined with ", " (RFC 9110 §5.3).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "cli.h"
#include "exec.h"

/* A growing array of malloc'd "NAME=value" strings. */
struct exec_envb {
  char **v;
  size_t n, cap;
  int failed; /* out of memory once: every later add is a no-op */
};

static void exec_envb_push(struct exec_envb *b, char *s) {
  if (s == NULL || b->failed) {
    free(s);
    b->failed = 1;
    return;
  }
  if (b->n + 1 >= b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    char **q = realloc(b->v, cap * sizeof *q);
    if (q == NULL) {
      free(s);
      b->failed = 1;
      return;
    }
    b->v = q;
    b->cap = cap;
  }
  b->v[b->n++] = s;
  b->v[b->n] = NULL;
}

/* Add NAME=value[0..len) (value may hold any byte but NUL, cut there). */
static void exec_envb_addn(struct exec_envb *b, const char *name,
                           const char *value, size_t len) {
  size_t nl = strlen(name);
  const char *nul = value != NULL ? memchr(value, '\0', len) : NULL;
  if (value == NULL)
    len = 0;
  else if (nul != NULL)
    len = (size_t)(nul - value);
  char *s = malloc(nl + len + 2);
  if (s != NULL) {
    memcpy(s, name, nl);
    s[nl] = '=';
    if (len > 0)
      memcpy(s + nl + 1, value, len);
    s[nl + 1 + len] = '\0';
  }
  exec_envb_push(b, s);
}

static void exec_envb_add(struct exec_envb *b, const char *name,
                          const char *value) {
  exec_envb_addn(b, name, value, value != NULL ? strlen(value) : 0);
}

static void exec_envb_str(struct exec_envb *b, const char *name,
                          struct wsv_str v) {
  exec_envb_addn(b, name, v.ptr, v.len);
}

/* Is "NAME=" (up to '=') among the first n entries? */
static int exec_envb_has(const struct exec_envb *b, size_t n, const char *kv) {
  size_t nl = strcspn(kv, "=");
  for (size_t k = 0; k < n; k++)
    if (strncmp(b->v[k], kv, nl) == 0 && b->v[k][nl] == '=')
      return 1;
  return 0;
}

/* The HTTP_ name of header `name` into out[0..cap), or 0 when the header
 * is left out (see the top of the file). */
static int exec_header_var(struct wsv_str name, char *out, size_t cap) {
  if (name.len == 0 || name.len + 6 > cap)
    return 0;
  if (name.len == 5 && strncasecmp(name.ptr, "proxy", 5) == 0)
    return 0;
  memcpy(out, "HTTP_", 5);
  for (size_t k = 0; k < name.len; k++) {
    char c = name.ptr[k];
    if (c >= 'a' && c <= 'z')
      c = (char)(c - 'a' + 'A');
    else if (c == '-')
      c = '_';
    else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return 0;
    out[5 + k] = c;
  }
  out[5 + name.len] = '\0';
  return 1;
}

static int exec_str_ieq(struct wsv_str a, struct wsv_str b) {
  return a.len == b.len && strncasecmp(a.ptr, b.ptr, a.len) == 0;
}

/* HTTP_<NAME> for every header, repeated fields joined with ", ". */
static void exec_env_headers(struct exec_envb *b, const struct exec_req *r) {
  for (size_t i = 0; i < r->nheaders; i++) {
    const struct wsv_header *h = &r->headers[i];
    char var[128];
    size_t j;
    for (j = 0; j < i && !exec_str_ieq(r->headers[j].name, h->name); j++)
      ;
    if (j < i || !exec_header_var(h->name, var, sizeof var))
      continue; /* joined at the first one, or left out */
    size_t len = h->value.len;
    for (j = i + 1; j < r->nheaders; j++)
      if (exec_str_ieq(r->headers[j].name, h->name))
        len += 2 + r->headers[j].value.len;
    char *v = malloc(len + 1);
    if (v == NULL) {
      b->failed = 1;
      return;
    }
    size_t at = 0;
    for (j = i; j < r->nheaders; j++) {
      if (!exec_str_ieq(r->headers[j].name, h->name))
        continue;
      if (at > 0) {
        memcpy(v + at, ", ", 2);
        at += 2;
      }
      memcpy(v + at, r->headers[j].value.ptr, r->headers[j].value.len);
      at += r->headers[j].value.len;
    }
    exec_envb_addn(b, var, v, at);
    free(v);
  }
}

/* Split "a.b.c.d:port" or "[v6]:port" into its address and port. */
static void exec_split_peer(const char *peer, char *addr, size_t acap,
                            char *port, size_t pcap) {
  const char *colon = strrchr(peer, ':');
  const char *a = peer;
  size_t al = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
  if (al >= 2 && a[0] == '[' && a[al - 1] == ']') {
    a++;
    al -= 2;
  }
  snprintf(addr, acap, "%.*s", (int)al, a);
  snprintf(port, pcap, "%s", colon != NULL ? colon + 1 : "");
}

/* The Host header's host part (no port; an IPv6 literal keeps its
 * brackets, as in a URL). */
static struct wsv_str exec_host_name(struct wsv_str host) {
  size_t n = host.len;
  if (n > 0 && host.ptr[0] == '[') {
    const char *rb = memchr(host.ptr, ']', n);
    if (rb != NULL)
      n = (size_t)(rb - host.ptr) + 1;
  } else {
    const char *c = memchr(host.ptr, ':', n);
    if (c != NULL)
      n = (size_t)(c - host.ptr);
  }
  host.len = n;
  return host;
}

char **exec_env_build(const struct exec_req *r, char *const *base, size_t nbase,
                      size_t *nadd) {
  struct exec_envb b = {NULL, 0, 0, 0};
  char buf[64], addr[64], port[16];
  exec_envb_add(&b, "WSV_PATH", r->ws_path);
  exec_envb_str(&b, "WSV_QUERY", r->query);
  exec_envb_add(&b, "WSV_PEER", r->peer);
  snprintf(buf, sizeof buf, "%d", r->version);
  exec_envb_add(&b, "WSV_VERSION", buf);
  exec_split_peer(r->peer, addr, sizeof addr, port, sizeof port);
  exec_envb_add(&b, "REMOTE_ADDR", addr);
  exec_envb_add(&b, "REMOTE_HOST", addr);
  exec_envb_add(&b, "REMOTE_PORT", port);
  exec_envb_str(&b, "QUERY_STRING", r->query);
  exec_envb_str(&b, "REQUEST_URI", r->target);
  exec_envb_str(&b, "REQUEST_METHOD", r->method);
  exec_envb_add(&b, "SCRIPT_NAME", r->script_name);
  exec_envb_add(&b, "PATH_INFO", r->path_info);
  if (r->host.len > 0)
    exec_envb_str(&b, "SERVER_NAME", exec_host_name(r->host));
  else
    exec_envb_add(&b, "SERVER_NAME", r->server_addr);
  snprintf(buf, sizeof buf, "%u", (unsigned)r->server_port);
  exec_envb_add(&b, "SERVER_PORT", buf);
  exec_envb_add(&b, "SERVER_PROTOCOL", r->http2 ? "HTTP/2" : "HTTP/1.1");
  snprintf(buf, sizeof buf, "wsv/%s", wsv_version_string());
  exec_envb_add(&b, "SERVER_SOFTWARE", buf);
  exec_envb_add(&b, "GATEWAY_INTERFACE", "CGI/1.1");
  snprintf(buf, sizeof buf, "%llu", r->unique_id);
  exec_envb_add(&b, "UNIQUE_ID", buf);
  if (r->tls)
    exec_envb_add(&b, "HTTPS", "on");
  /* Set empty, as websocketd does (no body, no authentication here). */
  static const char *const empty[] = {"AUTH_TYPE", "CONTENT_LENGTH",
                                      "CONTENT_TYPE", "REMOTE_IDENT",
                                      "REMOTE_USER"};
  for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++)
    exec_envb_add(&b, empty[k], "");
  exec_env_headers(&b, r);
  size_t own = b.n;
  /* The base entries point into environ: not ours to free, so they go
   * after the `own` malloc'd ones, and a name set above wins. */
  if (!b.failed && b.n + nbase + 1 > b.cap) {
    char **q = realloc(b.v, (b.n + nbase + 1) * sizeof *q);
    if (q == NULL)
      b.failed = 1;
    else {
      b.v = q;
      b.cap = b.n + nbase + 1;
    }
  }
  for (size_t k = 0; k < nbase && !b.failed; k++) {
    if (!exec_envb_has(&b, own, base[k])) {
      b.v[b.n++] = base[k];
      b.v[b.n] = NULL;
    }
  }
  if (b.failed || b.v == NULL) {
    exec_env_free(b.v, own);
    return NULL;
  }
  *nadd = own;
  return b.v;
}

/* The local address and port of the connection's socket. */
static uint16_t exec_local(const struct wsv_ws *ws, char *addr, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  addr[0] = '\0';
  int fd = wsv_ws_fd(ws);
  if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
    return 0;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    const unsigned char *a = (const unsigned char *)&in->sin_addr;
    snprintf(addr, cap, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return ntohs(in->sin_port);
  }
  if (ss.ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

char **exec_env_new(const struct exec *x, struct wsv_ws *ws,
                    const char *script_name, const char *path_info,
                    size_t *nadd) {
  struct exec_req r;
  char peer[64] = "", local[64];
  memset(&r, 0, sizeof r);
  (void)wsv_ws_peer(ws, peer, sizeof peer);
  r.peer = peer;
  r.ws_path = wsv_ws_path(ws);
  r.version = wsv_ws_version(ws);
  const struct wsv_hs_server *hs = wsv_ws_request(ws);
  if (hs != NULL) {
    r.method = wsv_hs_server_method(hs);
    r.target = wsv_hs_server_target(hs);
    r.query = wsv_hs_server_query(hs);
    (void)wsv_hs_server_header(hs, "Host", &r.host);
    r.headers = wsv_hs_server_headers(hs, &r.nheaders);
  }
  r.server_port = exec_local(ws, local, sizeof local);
  r.server_addr = local;
  struct wsv_tls_info ti;
  r.tls = wsv_ws_tls(ws, &ti) == 1;
  r.http2 = wsv_ws_http2(ws);
  r.script_name = script_name;
  r.path_info = path_info;
  if (getrandom(&r.unique_id, sizeof r.unique_id, GRND_NONBLOCK) !=
      (ssize_t)sizeof r.unique_id)
    r.unique_id = (unsigned long long)wsv_loop_now(wsv_ws_loop(ws)) * 1000003u;
  r.unique_id &= ~(1ull << 63); /* websocketd's are positive int64 */
  return exec_env_build(&r, x->base_env, x->base_env_n, nadd);
}

void exec_env_free(char **env, size_t nadd) {
  if (env == NULL)
    return;
  for (size_t k = 0; k < nadd; k++)
    free(env[k]);
  free(env);
}
