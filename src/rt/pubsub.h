/*
 * pubsub.h - topics (pubsub.c): a topic table per loop (a loop
 * extension), and a group of loops (a server's threads) that a publish
 * reaches, through their post queues for the loops of other threads;
 * and, with a broker (broker.c), the other instances.  Connections whose
 * context has a group (ctx->ps) can subscribe.
 */
#ifndef WSV_RT_PUBSUB_H
#define WSV_RT_PUBSUB_H

#include <stddef.h>

#include "ws_int.h"

struct wsv__rt_ps_group;

/* A group of the n loops in loops[0..n) (copied), each linked to
 * `broker` when it is not NULL (the links connect in the background).
 * 0, WSV_ERR_NOMEM, or the engine's error from opening a link. */
int wsv__rt_ps_group_new(struct wsv__rt_ps_group **out,
                         struct wsv_loop *const *loops, int n,
                         struct wsv_broker *broker);
void wsv__rt_ps_group_free(struct wsv__rt_ps_group *g);
/* Drop every subscription of `ws` (when it closes). */
void wsv__rt_ps_unsubscribe_all(struct wsv_ws *ws);
/* wsv_server_publish for the group: to the subscribers of every loop,
 * directly on the loop whose thread calls, posted to the others.
 * Returns the local deliveries, or WSV_ERR_INVAL / WSV_ERR_NOMEM. */
int wsv__rt_ps_publish(struct wsv__rt_ps_group *g, const char *topic,
                       int opcode, const void *data, size_t len);

/* ---- pubsub.c, for broker.c -------------------------------------------------
 */
/* Call fn for every topic of the loop's table (none if it has none). */
void wsv__rt_ps_each_topic(struct wsv_loop *loop,
                           void (*fn)(void *user, const char *topic, size_t n),
                           void *user);
/* Deliver to the loop's subscribers of `topic`; the count, or -1 when
 * the loop has no such topic. */
int wsv__rt_ps_deliver_here(struct wsv_loop *loop, const char *topic, size_t n,
                            int opcode, const void *data, size_t len);

/* ---- broker.c, for pubsub.c ------------------------------------------------
 */
/* Link `loop` to broker b (a loop extension) and start the engine on
 * it; 0 or a WSV_ERR_* (logged). */
int wsv__rt_broker_attach(struct wsv_broker *b, struct wsv_loop *loop);
/* The loop's link, or NULL. */
struct wsv_broker_link *wsv__rt_broker_link(struct wsv_loop *loop);
/* A topic got its first subscriber on the link's loop, or lost its last. */
void wsv__rt_broker_topic_added(struct wsv_broker_link *l, const char *topic,
                                size_t n);
void wsv__rt_broker_topic_dropped(struct wsv_broker_link *l, const char *topic,
                                  size_t n);
/* Send a publish to the other instances (dropped and counted when the
 * link is down or the engine refuses it). */
void wsv__rt_broker_publish(struct wsv_broker_link *l, const char *topic,
                            size_t n, int opcode, const void *data, size_t len);

#endif /* WSV_RT_PUBSUB_H */
