/*
 * pubsub.h - topics (pubsub.c): a topic table per loop (a loop
 * extension), and a group of loops (a server's threads) that a publish
 * reaches, through their post queues for the loops of other threads.
 * Connections whose context has a group (ctx->ps) can subscribe.
 */
#ifndef WSV_RT_PUBSUB_H
#define WSV_RT_PUBSUB_H

#include <stddef.h>

#include "ws_int.h"

struct wsv__rt_ps_group;

/* A group of the n loops in loops[0..n) (copied); 0 or WSV_ERR_NOMEM. */
int wsv__rt_ps_group_new(struct wsv__rt_ps_group **out,
                         struct wsv_loop *const *loops, int n);
void wsv__rt_ps_group_free(struct wsv__rt_ps_group *g);
/* Drop every subscription of `ws` (when it closes). */
void wsv__rt_ps_unsubscribe_all(struct wsv_ws *ws);
/* wsv_server_publish for the group: to the subscribers of every loop,
 * directly on the loop whose thread calls, posted to the others.
 * Returns the local deliveries, or WSV_ERR_INVAL / WSV_ERR_NOMEM. */
int wsv__rt_ps_publish(struct wsv__rt_ps_group *g, const char *topic,
                       int opcode, const void *data, size_t len);

#endif /* WSV_RT_PUBSUB_H */
