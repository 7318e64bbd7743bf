/*
 * redis_config.c - the Redis engine's settings (wsv/broker.h): the
 * defaults, the nodes string ("redis://HOST:PORT,..."), resolving every
 * node once (wsv_redis_engine may block on DNS; the loops never do), the
 * engine's state (struct redis_engine, redis.h) and its free.  The
 * connections themselves are redis.c's.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "redis.h"
#include "transport.h"
#include "wsv/url.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_ADDRS_PER_NODE 4

/* free: the engine's state, the password wiped first. */
void wsv__redis_engine_free(void *engine) {
  struct redis_engine *e = engine;
  if (e == NULL)
    return;
  if (e->password != NULL) {
    explicit_bzero(e->password, strlen(e->password));
    free(e->password);
  }
  free(e->user);
  free(e->targets);
  free(e);
}

/* ---- settings --------------------------------------------------------------
 */

void wsv_redis_config_init(struct wsv_redis_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->max_queue = (size_t)8 << 20;
  cfg->connect_timeout_ms = 3000;
  cfg->backoff_min_ms = 100;
  cfg->backoff_max_ms = 5000;
}

/* Parse one node s[0..n) ("HOST" or "HOST:PORT", IPv6 in brackets) into
 * *out.  0 or WSV_ERR_INVAL with *why. */
static int parse_node(const char *s, size_t n, struct wsv__redis_node *out,
                      const char **why) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '/' || ch == '?' || ch == '#') {
      *why = "a broker node is HOST:PORT, without a path or query";
      return WSV_ERR_INVAL;
    }
    if (ch == '@') {
      *why = "the broker's user and password go in the settings, not the URL";
      return WSV_ERR_INVAL;
    }
    if (ch <= 0x20 || ch >= 0x7f || ch == '%') {
      *why = "bad character in the broker URL";
      return WSV_ERR_INVAL;
    }
  }
  size_t hlen; /* the host, brackets included */
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL) {
      *why = "bad IPv6 address in the broker URL";
      return WSV_ERR_INVAL;
    }
    hlen = (size_t)(close - s) + 1;
  } else {
    const char *colon = memchr(s, ':', n);
    if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
      *why = "an IPv6 address in the broker URL needs brackets";
      return WSV_ERR_INVAL;
    }
    hlen = colon != NULL ? (size_t)(colon - s) : n;
  }
  if (hlen == 0) {
    *why = "no host in the broker URL";
    return WSV_ERR_INVAL;
  }
  uint32_t port = REDIS_DEFAULT_PORT;
  if (hlen < n) {
    size_t digits = n - hlen - 1;
    if (s[hlen] != ':') {
      *why = "bad host in the broker URL";
      return WSV_ERR_INVAL;
    }
    if (digits == 0 || digits > 5) {
      *why = "bad port in the broker URL";
      return WSV_ERR_INVAL;
    }
    port = 0;
    for (size_t i = hlen + 1; i < n; i++) {
      if (s[i] < '0' || s[i] > '9') {
        *why = "bad port in the broker URL";
        return WSV_ERR_INVAL;
      }
      port = port * 10 + (uint32_t)(s[i] - '0');
    }
    if (port == 0 || port > 65535) {
      *why = "bad port in the broker URL";
      return WSV_ERR_INVAL;
    }
  }
  /* The host by the core's grammar (RFC 3986 host), through the one
   * public URL parser: "ws://HOST/". */
  char url[sizeof out->host + 8];
  if (hlen > sizeof out->host - 1) {
    *why = "broker host name too long";
    return WSV_ERR_INVAL;
  }
  int ul = snprintf(url, sizeof url, "ws://%.*s/", (int)hlen, s);
  struct wsv_url u;
  if (ul < 0 || wsv_url_parse(&u, url, (size_t)ul, 0, NULL) != WSV_OK ||
      u.host_kind == WSV_HOST_IPV_FUTURE || u.port_given) {
    *why = "bad host in the broker URL";
    return WSV_ERR_INVAL;
  }
  memcpy(out->host, u.host.ptr, u.host.len);
  out->host[u.host.len] = '\0';
  out->port = (uint16_t)port;
  out->host_kind = u.host_kind;
  return 0;
}

int wsv__redis_parse_nodes(const char *s, struct wsv__redis_node *out, int cap,
                           const char **why) {
  const char *dummy;
  if (why == NULL)
    why = &dummy;
  *why = NULL;
  if (s == NULL || out == NULL || cap < 1) {
    *why = "bad arguments";
    return WSV_ERR_INVAL;
  }
  if (strncasecmp(s, "redis://", 8) != 0) {
    *why = "the broker URL must start with redis://";
    return WSV_ERR_INVAL;
  }
  const char *p = s + 8;
  int count = 0;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    if (n == 0) {
      *why = "empty node in the broker URL";
      return WSV_ERR_INVAL;
    }
    if (count == cap) {
      *why = "too many nodes in the broker URL";
      return WSV_ERR_INVAL;
    }
    int rc = parse_node(p, n, &out[count], why);
    if (rc != 0)
      return rc;
    count++;
    if (e == NULL)
      return count;
    p = e + 1;
  }
}

/* Resolve every node (getaddrinfo: may block) into e->targets.  0,
 * WSV_ERR_RESOLVE with *why, or WSV_ERR_NOMEM. */
static int resolve_nodes(struct redis_engine *e,
                         const struct wsv__redis_node *nodes, int n,
                         const char **why) {
  e->targets = calloc((size_t)n * REDIS_ADDRS_PER_NODE, sizeof *e->targets);
  if (e->targets == NULL)
    return WSV_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)nodes[i].port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (nodes[i].host_kind != WSV_HOST_REG_NAME)
      hints.ai_flags |= AI_NUMERICHOST;
    int g = getaddrinfo(nodes[i].host, port, &hints, &res);
    if (g != 0) {
      *why = "cannot resolve a broker host";
      return wsv__rt_gai_code(g);
    }
    int got = 0;
    for (struct addrinfo *ai = res; ai != NULL && got < REDIS_ADDRS_PER_NODE;
         ai = ai->ai_next) {
      struct redis_target *t = &e->targets[e->ntargets];
      if (ai->ai_addrlen > sizeof t->ss)
        continue;
      memcpy(&t->ss, ai->ai_addr, ai->ai_addrlen);
      t->len = ai->ai_addrlen;
      if (wsv__rt_addr_text(ai->ai_addr, ai->ai_addrlen, t->name,
                            sizeof t->name) < 0)
        snprintf(t->name, sizeof t->name, "%s", "?");
      e->ntargets++;
      got++;
    }
    freeaddrinfo(res);
    if (got == 0) {
      *why = "cannot resolve a broker host";
      return WSV_ERR_RESOLVE;
    }
  }
  return 0;
}

/* A copy of s (NULL for NULL) in *out; 0 or -1 (no memory). */
static int copy_opt(const char *s, char **out) {
  *out = NULL;
  if (s == NULL)
    return 0;
  size_t n = strlen(s) + 1;
  *out = malloc(n);
  if (*out == NULL)
    return -1;
  memcpy(*out, s, n);
  return 0;
}

int wsv_redis_engine(const struct wsv_redis_config *cfg,
                     const struct wsv_broker_engine **engine, void **state,
                     const char **why) {
  const char *dummy;
  if (why == NULL)
    why = &dummy;
  *why = NULL;
  if (cfg == NULL || engine == NULL || state == NULL) {
    *why = "bad arguments";
    return WSV_ERR_INVAL;
  }
  if (cfg->nodes == NULL) {
    *why = "no broker URL (redis://HOST:PORT)";
    return WSV_ERR_INVAL;
  }
  if (cfg->user != NULL && cfg->password == NULL) {
    *why = "a broker user needs a password";
    return WSV_ERR_INVAL;
  }
  if (cfg->max_queue == 0 || cfg->connect_timeout_ms == 0 ||
      cfg->backoff_min_ms == 0 || cfg->backoff_max_ms < cfg->backoff_min_ms) {
    *why = "bad broker limits (a zero, or backoff_max_ms below backoff_min_ms)";
    return WSV_ERR_INVAL;
  }
  struct wsv__redis_node nodes[WSV__REDIS_MAX_NODES];
  int n = wsv__redis_parse_nodes(cfg->nodes, nodes, WSV__REDIS_MAX_NODES, why);
  if (n < 0)
    return n;
  struct redis_engine *e = calloc(1, sizeof *e);
  if (e == NULL)
    return WSV_ERR_NOMEM;
  e->max_queue = cfg->max_queue;
  e->connect_timeout_ms = cfg->connect_timeout_ms;
  e->backoff_min_ms = cfg->backoff_min_ms;
  e->backoff_max_ms = cfg->backoff_max_ms;
  e->ops = &wsv__redis_broker_ops;
  int rc = resolve_nodes(e, nodes, n, why);
  if (rc == 0 && (copy_opt(cfg->user, &e->user) != 0 ||
                  copy_opt(cfg->password, &e->password) != 0))
    rc = WSV_ERR_NOMEM;
  if (rc != 0) {
    wsv__redis_engine_free(e);
    return rc;
  }
  *engine = &wsv__redis_engine_type;
  *state = e;
  return 0;
}

void wsv__redis_set_link_ops(void *state,
                             const struct wsv__redis_link_ops *ops) {
  struct redis_engine *e = state;
  e->ops = ops != NULL ? ops : &wsv__redis_broker_ops;
}
