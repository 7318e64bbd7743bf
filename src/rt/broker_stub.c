/*
 * broker_stub.c - TEMPORARY stand-ins for the broker's link functions
 * (wsv/broker.h), so that the Redis engine (redis.c) links before the
 * broker itself (broker.c, issue 11) lands on this branch.  They do
 * nothing; the engine's tests point the engine at their own callbacks
 * (wsv__redis_set_link_ops).  This file goes at the merge of broker.c.
 */
#include "wsv/broker.h"

void wsv_broker_link_up(struct wsv_broker_link *link) { (void)link; }

void wsv_broker_link_down(struct wsv_broker_link *link) { (void)link; }

void wsv_broker_link_message(struct wsv_broker_link *link, const void *channel,
                             size_t len, const void *msg, size_t mlen) {
  (void)link;
  (void)channel;
  (void)len;
  (void)msg;
  (void)mlen;
}

void wsv_broker_link_log(struct wsv_broker_link *link, int level,
                         const char *text) {
  (void)link;
  (void)level;
  (void)text;
}
