/*
 * wsv/broker.h - publish/subscribe across processes and machines: a
 * broker connects the topics of a server (wsv/rt.h) to those of every
 * other instance through a message broker, through an engine (Redis is
 * the first: wsv_redis_engine).
 *
 * How it works.  A broker is given to a server (wsv_server_config.broker)
 * and shared by its threads; each thread's loop has its own link to it,
 * with the engine's own connection(s).  A topic gets a broker
 * subscription on a loop when its first local subscriber there arrives
 * and loses it when the last one leaves.  wsv_ws_publish and
 * wsv_server_publish deliver to the local subscribers at once (every
 * thread of the process, as without a broker) and hand the message to
 * the engine, which sends it to every other instance.  A message comes
 * back from the broker to every link subscribed to its topic, its own
 * process's included: each carries the id of the process that published
 * it, and a process drops its own, so that each subscriber gets each
 * message exactly once, in publish order per publisher (one engine
 * connection per thread keeps that order).  Text and binary messages
 * keep their type; topic names and payloads of any bytes cross.
 *
 * Delivery across instances is at-most-once: while a link's engine is
 * not connected (broker down, restarting, failing over), what is
 * published is delivered locally and dropped for the others, and
 * counted (wsv_broker_stats); what other instances publish meanwhile is
 * not seen.  Nothing is queued beyond the engine's bound, the loop never
 * waits for the broker, and local delivery never depends on it.
 *
 * Threads.  wsv_broker_new/free and wsv_broker_stats may be called from
 * any thread; the engine's functions run on the loop of the link they
 * are given, and call the wsv_broker_link_* functions on that loop only.
 */
#ifndef WSV_BROKER_H
#define WSV_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wsv_loop;
struct wsv_broker;
struct wsv_broker_link;

/* ---- engines --------------------------------------------------------------
 * What a broker needs from a message system.  A channel is the topic's
 * bytes behind the broker's prefix; a message is opaque bytes (the
 * broker's own envelope: origin, type, payload).  Every function runs on
 * the loop of its link and must not block. */
struct wsv_broker_engine {
  /* A short name for logs and stats, e.g. "redis". */
  const char *name;
  /* Start the engine's side of one link (one loop): connect in the
   * background and call wsv_broker_link_up once subscriptions can be
   * made, wsv_broker_link_down when the connection is lost (and retry by
   * itself).  *conn gets the engine's state for the link.  0, or a
   * WSV_ERR_* (the link then stays down). */
  int (*open)(void *engine, struct wsv_loop *loop, struct wsv_broker_link *link,
              void **conn);
  /* Subscribe to / unsubscribe from a channel; only called while up (on
   * wsv_broker_link_up the broker subscribes every live channel again).
   * 0 or a WSV_ERR_*. */
  int (*subscribe)(void *conn, const void *channel, size_t len);
  int (*unsubscribe)(void *conn, const void *channel, size_t len);
  /* Send msg[0..mlen) to every subscriber of the channel.  Returns 0
   * when it is queued or sent, or a WSV_ERR_* when it is dropped (not
   * connected, or the outgoing queue is over the engine's bound): the
   * broker counts it. */
  int (*publish)(void *conn, const void *channel, size_t len, const void *msg,
                 size_t mlen);
  /* Stop and free the link's state (the loop is being freed). */
  void (*close)(void *conn);
  /* Free the engine itself (wsv_broker_free). */
  void (*free)(void *engine);
};

/* The engine is connected: the broker subscribes again every channel that
 * has local subscribers on this link's loop. */
WSV_EXTERN void wsv_broker_link_up(struct wsv_broker_link *link);
/* The engine lost its connection (it retries by itself). */
WSV_EXTERN void wsv_broker_link_down(struct wsv_broker_link *link);
/* A message from the broker on `channel`: delivered to this loop's
 * subscribers of its topic unless this process published it. */
WSV_EXTERN void wsv_broker_link_message(struct wsv_broker_link *link,
                                        const void *channel, size_t len,
                                        const void *msg, size_t mlen);
/* Log a line through the broker's log callback (for the engine). */
WSV_EXTERN void wsv_broker_link_log(struct wsv_broker_link *link, int level,
                                    const char *text);

/* ---- brokers --------------------------------------------------------------
 */
struct wsv_broker_config {
  /* The engine and its state (owned by the broker from wsv_broker_new on:
   * engine->free(engine_state) runs in wsv_broker_free, and on failure). */
  const struct wsv_broker_engine *engine;
  void *engine_state;
  /* Prefix of every channel (bytes, may be empty), so that deployments
   * can share one broker: topic "room" is channel "<prefix>room".  Copied.
   * Default "wsv:". */
  const char *prefix;
  /* Logging (same callback type as the server's); may be NULL. */
  void (*log)(void *user, int level, const char *text);
  void *log_user;
  /* Room for new settings (zeroed by wsv_broker_config_init). */
  uint64_t _reserved[8];
};

/* Fill cfg with the defaults (no engine, prefix "wsv:"). */
WSV_EXTERN void wsv_broker_config_init(struct wsv_broker_config *cfg);

/* wsv_broker_new - a broker for one server (not yet connected: each
 * server thread's link connects when the server is made).  Returns 0 and
 * sets *out; WSV_ERR_INVAL (NULL argument, no engine, a prefix over 256
 * bytes); WSV_ERR_NOMEM.  The engine state is freed on failure too. */
WSV_EXTERN int wsv_broker_new(struct wsv_broker **out,
                              const struct wsv_broker_config *cfg);
/* Free a broker no server uses any more (after wsv_server_free). */
WSV_EXTERN void wsv_broker_free(struct wsv_broker *b);

/* What a broker did, summed over its links (relaxed reads). */
struct wsv_broker_stats {
  int links;           /* loops using it */
  int links_up;        /* of those, connected now */
  size_t channels;     /* subscriptions held, over all links */
  uint64_t published;  /* messages handed to the engine */
  uint64_t dropped;    /* messages the engine refused (down, queue full) */
  uint64_t received;   /* messages from other instances delivered */
  uint64_t echoes;     /* this process's own messages coming back */
  uint64_t unrouted;   /* messages for a topic without local subscribers */
  uint64_t reconnects; /* times a link went down */
};
/* Fill *st (zeroed first); NULL is fine for b (all zero). */
WSV_EXTERN void wsv_broker_stats(const struct wsv_broker *b,
                                 struct wsv_broker_stats *st);

/* ---- the Redis engine (libhiredis: its protocol reader and command
 * formatter over wsv's own transport) --------------------------------------
 * Plain PUBLISH/SUBSCRIBE, so it works against one Redis and against a
 * Redis Cluster alike (PUBLISH reaches every node's subscribers).  Each
 * link has two connections to the same node: one subscribed, one for
 * PUBLISH (RESP2 allows nothing else on a subscribed connection). */
struct wsv_redis_config {
  /* "redis://HOST:PORT[,HOST:PORT...]" (IPv6 in brackets; port default
   * 6379): the nodes, tried in order; on a lost connection the link moves
   * to the next.  Required. */
  const char *nodes;
  /* AUTH: a password alone, or an ACL user and its password; NULL: none.
   * Copied. */
  const char *user;
  const char *password;
  /* Bytes queued for Redis per link before a publish is dropped (default
   * 8 MiB). */
  size_t max_queue;
  /* Connecting (TCP, AUTH, first subscriptions) gives up after this long
   * (default 3000 ms); retries wait from backoff_min_ms, doubling, to
   * backoff_max_ms, each with up to half of it again at random (defaults
   * 100 and 5000 ms). */
  uint32_t connect_timeout_ms;
  uint32_t backoff_min_ms;
  uint32_t backoff_max_ms;
  uint64_t _reserved[8];
};

WSV_EXTERN void wsv_redis_config_init(struct wsv_redis_config *cfg);

/* wsv_redis_engine - the Redis engine for cfg: sets *engine and *state
 * for a struct wsv_broker_config.  Host names are resolved here, once
 * (getaddrinfo: this call may block on DNS; the loops never do), up to 4
 * addresses a node, each tried in turn.  Returns 0; WSV_ERR_INVAL with
 * *why (if not NULL) a static one-line reason for bad settings (e.g.
 * "the broker URL must start with redis://", "bad port in the broker
 * URL"); WSV_ERR_RESOLVE (or a system error's code) with *why "cannot
 * resolve a broker host"; WSV_ERR_NOMEM.  Nothing connects before a
 * server uses the broker.
 *
 * The engine's publish returns WSV_ERR_CLOSED while the link is down,
 * WSV_ERR_NOBUF when the message would pass max_queue, WSV_ERR_NOMEM.
 * Its log lines start "broker: redis HOST:PORT: " (the address tried): one when
 * the link is up ("connected"), one when it is lost, one for each new
 * reason a retry fails ("cannot connect: connection refused", "AUTH
 * failed: WRONGPASS ..."), never one per retry; error replies to PUBLISH
 * or SUBSCRIBE at most one per 10 s.  Without a password each connection
 * sends PING first, so that the link is up only once Redis answered. */
WSV_EXTERN int wsv_redis_engine(const struct wsv_redis_config *cfg,
                                const struct wsv_broker_engine **engine,
                                void **state, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* WSV_BROKER_H */
