/*
 * redis.h - the Redis engine of the broker, between its two files
 * (redis_config.c: settings, nodes, the engine's state; redis.c: the
 * connections) and for its tests: the nodes parser, and a way to point
 * the engine's link callbacks at a test's own functions instead of the
 * broker's (wsv_broker_link_*), so that the engine can be tested against
 * a real Redis without a broker.  Nothing here is installed; the symbols
 * are hidden.
 */
#ifndef WSV_RT_REDIS_H
#define WSV_RT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "wsv/broker.h"

/* At most this many nodes in a nodes string. */
#define WSV__REDIS_MAX_NODES 16

/* One node of "redis://HOST:PORT,...": the host as getaddrinfo wants it
 * (an IPv6 address without its brackets), NUL-terminated, and the port. */
struct wsv__redis_node {
  char host[256];
  uint16_t port;
  int host_kind; /* enum wsv_host_kind: REG_NAME, IPV4 or IPV6 */
};

/* wsv__redis_parse_nodes - parse the NUL-terminated `s` (the config's
 * `nodes`) into out[0..cap).  Returns the number of nodes (>= 1), or
 * WSV_ERR_INVAL with *why (when why is not NULL) a static one-line
 * reason.  Nothing is allocated. */
int wsv__redis_parse_nodes(const char *s, struct wsv__redis_node *out, int cap,
                           const char **why);

/* The callbacks the engine calls on a link (by default the broker's
 * wsv_broker_link_up, _down, _message and _log, which these mirror). */
struct wsv__redis_link_ops {
  void (*up)(struct wsv_broker_link *link);
  void (*down)(struct wsv_broker_link *link);
  void (*message)(struct wsv_broker_link *link, const void *channel, size_t len,
                  const void *msg, size_t mlen);
  void (*log)(struct wsv_broker_link *link, int level, const char *text);
};

/* Make the engine `state` (from wsv_redis_engine, before any open) call
 * `ops` (borrowed: it must outlive the state) instead of the broker's
 * functions.  A test then hands the engine's open any pointer as the
 * link and gets it back in its callbacks. */
void wsv__redis_set_link_ops(void *state,
                             const struct wsv__redis_link_ops *ops);

/* ---- the engine's state (redis_config.c makes it, redis.c reads it) ----- */

/* One address to connect to (a node may resolve to several). */
struct redis_target {
  struct sockaddr_storage ss;
  socklen_t len;
  char name[80]; /* "127.0.0.1:6379", "[::1]:6379": for the log */
};

struct redis_engine {
  struct redis_target *targets; /* every node's addresses, in order */
  size_t ntargets;
  char *user;     /* NULL: AUTH password (or no AUTH) */
  char *password; /* NULL: no AUTH (PING instead) */
  size_t max_queue;
  uint32_t connect_timeout_ms;
  uint32_t backoff_min_ms;
  uint32_t backoff_max_ms;
  const struct wsv__redis_link_ops *ops; /* borrowed */
};

/* The engine's functions (redis.c) and the broker's link callbacks. */
extern const struct wsv_broker_engine wsv__redis_engine_type;
extern const struct wsv__redis_link_ops wsv__redis_broker_ops;
/* Free an engine state (the password wiped first); NULL is fine. */
void wsv__redis_engine_free(void *engine);

#endif /* WSV_RT_REDIS_H */
