/*
 * pubsub.c - topics: a per-loop hash table (chained, FNV-1a, doubling)
 * from topic name to its subscribers, kept as a loop extension.  A
 * subscription is one node linked both into its topic's list (doubly,
 * for O(1) removal) and into its connection's list (so a closing
 * connection drops all of its subscriptions).  Nothing here is shared
 * between threads: a publish reaches the other loops of its group (a
 * server's threads) as one shared, reference-counted message posted to
 * each loop's queue.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub.h"

#define PS_MAX_TOPIC 1024

struct ps_sub {
  struct ps_topic *topic;
  struct wsv_ws *ws;
  struct ps_sub *tprev;
  struct ps_sub *tnext;
  struct ps_sub *wnext;
};

struct ps_topic {
  struct ps_topic *next;
  uint64_t hash;
  size_t len;
  struct ps_sub *subs;
  char name[];
};

static uint64_t ps_hash(const char *s, size_t n) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

/* A loop's topic table. */
struct wsv__rt_topics {
  struct ps_topic **buckets;
  size_t nbuckets;
  size_t ntopics;
  struct wsv_loop *loop;
};

struct wsv__rt_ps_group {
  struct wsv_broker *broker; /* or NULL */
  int n;
  struct wsv_loop *loops[];
};

static struct ps_topic **ps_slot(struct wsv__rt_topics *t, uint64_t h,
                                 const char *name, size_t n) {
  struct ps_topic **pp = &t->buckets[h & (t->nbuckets - 1)];
  while (*pp != NULL && !((*pp)->hash == h && (*pp)->len == n &&
                          memcmp((*pp)->name, name, n) == 0))
    pp = &(*pp)->next;
  return pp;
}

static struct ps_topic *ps_find(struct wsv__rt_topics *t, const char *name,
                                size_t n) {
  if (t->nbuckets == 0)
    return NULL;
  return *ps_slot(t, ps_hash(name, n), name, n);
}

static int ps_grow(struct wsv__rt_topics *t) {
  size_t nb = t->nbuckets ? t->nbuckets * 2 : 16;
  struct ps_topic **b = calloc(nb, sizeof *b);
  if (b == NULL)
    return -1;
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct ps_topic *p = t->buckets[i];
    while (p != NULL) {
      struct ps_topic *next = p->next;
      p->next = b[p->hash & (nb - 1)];
      b[p->hash & (nb - 1)] = p;
      p = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = nb;
  return 0;
}

static struct ps_topic *ps_get(struct wsv__rt_topics *t, const char *name,
                               size_t n) {
  struct ps_topic *p = ps_find(t, name, n);
  if (p != NULL)
    return p;
  if (t->ntopics >= t->nbuckets && ps_grow(t) != 0)
    return NULL;
  p = malloc(sizeof *p + n + 1);
  if (p == NULL)
    return NULL;
  p->hash = ps_hash(name, n);
  p->len = n;
  p->subs = NULL;
  memcpy(p->name, name, n);
  p->name[n] = '\0';
  struct ps_topic **slot = &t->buckets[p->hash & (t->nbuckets - 1)];
  p->next = *slot;
  *slot = p;
  t->ntopics++;
  struct wsv_broker_link *l = wsv__rt_broker_link(t->loop);
  if (l != NULL) /* the first subscriber here: the broker's too */
    wsv__rt_broker_topic_added(l, name, n);
  return p;
}

static void ps_topic_drop(struct wsv__rt_topics *t, struct ps_topic *p) {
  struct ps_topic **pp = ps_slot(t, p->hash, p->name, p->len);
  *pp = p->next;
  t->ntopics--;
  struct wsv_broker_link *l = wsv__rt_broker_link(t->loop);
  if (l != NULL) /* the last one gone */
    wsv__rt_broker_topic_dropped(l, p->name, p->len);
  free(p);
}

static void ps_topics_free(struct wsv_loop *loop, void *ext) {
  struct wsv__rt_topics *t = ext;
  (void)loop;
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct ps_topic *p = t->buckets[i];
    while (p != NULL) {
      struct ps_topic *next = p->next;
      free(p);
      p = next;
    }
  }
  free(t->buckets);
  t->buckets = NULL;
  t->nbuckets = t->ntopics = 0;
}

static int ps_topics_init(struct wsv_loop *loop, void *ext) {
  ((struct wsv__rt_topics *)ext)->loop = loop;
  return 0;
}

static const struct wsv__rt_ext_type ps_topics_type = {
    sizeof(struct wsv__rt_topics), ps_topics_init, NULL, ps_topics_free};

void wsv__rt_ps_each_topic(struct wsv_loop *loop,
                           void (*fn)(void *user, const char *topic, size_t n),
                           void *user) {
  struct wsv__rt_topics *t = wsv__rt_loop_ext_find(loop, &ps_topics_type);
  for (size_t i = 0; t != NULL && i < t->nbuckets; i++)
    for (struct ps_topic *p = t->buckets[i]; p != NULL; p = p->next)
      fn(user, p->name, p->len);
}

/* The topics of a connection's loop (made if needed: NULL, no memory). */
static struct wsv__rt_topics *ps_topics(const struct wsv_ws *ws) {
  return wsv__rt_loop_ext(ws->tp.loop, &ps_topics_type);
}

/* Unlink one subscription from its topic (dropping an empty topic). */
static void ps_sub_unlink(struct wsv__rt_topics *t, struct ps_sub *s) {
  struct ps_topic *p = s->topic;
  if (s->tprev != NULL)
    s->tprev->tnext = s->tnext;
  else
    p->subs = s->tnext;
  if (s->tnext != NULL)
    s->tnext->tprev = s->tprev;
  if (p->subs == NULL)
    ps_topic_drop(t, p);
  free(s);
}

void wsv__rt_ps_unsubscribe_all(struct wsv_ws *ws) {
  if (ws->subs == NULL)
    return;
  struct wsv__rt_topics *t = ps_topics(ws);
  struct ps_sub *s = ws->subs;
  ws->subs = NULL;
  while (s != NULL) {
    struct ps_sub *next = s->wnext;
    ps_sub_unlink(t, s);
    s = next;
  }
}

static int ps_check(const struct wsv_ws *ws, const char *topic, size_t *len) {
  if (ws == NULL || ws->ctx->ps == NULL || topic == NULL)
    return WSV_ERR_INVAL;
  *len = strlen(topic);
  if (*len == 0 || *len > PS_MAX_TOPIC)
    return WSV_ERR_INVAL;
  return 0;
}

/* The connection's subscription to `topic`, and the link pointing to it. */
static struct ps_sub **ps_ws_find(const struct wsv_ws *ws, const char *topic,
                                  size_t n) {
  struct ps_sub **pp = (struct ps_sub **)(uintptr_t)&ws->subs;
  while (*pp != NULL &&
         !((*pp)->topic->len == n && memcmp((*pp)->topic->name, topic, n) == 0))
    pp = &(*pp)->wnext;
  return pp;
}

int wsv_ws_subscribe(struct wsv_ws *ws, const char *topic) {
  size_t n;
  int rc = ps_check(ws, topic, &n);
  if (rc != 0)
    return rc;
  if (ws->phase != WS_OPEN || wsv__rt_ws_state(ws) != WSV_CONN_OPEN)
    return WSV_ERR_CLOSED;
  if (*ps_ws_find(ws, topic, n) != NULL)
    return 1;
  struct wsv__rt_topics *t = ps_topics(ws);
  struct ps_sub *s = t != NULL ? malloc(sizeof *s) : NULL;
  if (s == NULL)
    return WSV_ERR_NOMEM;
  struct ps_topic *p = ps_get(t, topic, n);
  if (p == NULL) {
    free(s);
    return WSV_ERR_NOMEM;
  }
  s->topic = p;
  s->ws = ws;
  s->tprev = NULL;
  s->tnext = p->subs;
  if (p->subs != NULL)
    p->subs->tprev = s;
  p->subs = s;
  s->wnext = ws->subs;
  ws->subs = s;
  return 0;
}

int wsv_ws_unsubscribe(struct wsv_ws *ws, const char *topic) {
  size_t n;
  int rc = ps_check(ws, topic, &n);
  if (rc != 0)
    return rc;
  struct ps_sub **pp = ps_ws_find(ws, topic, n);
  if (*pp == NULL)
    return 0;
  struct ps_sub *s = *pp;
  *pp = s->wnext;
  ps_sub_unlink(ps_topics(ws), s);
  return 1;
}

int wsv_ws_is_subscribed(const struct wsv_ws *ws, const char *topic) {
  size_t n;
  if (ps_check(ws, topic, &n) != 0)
    return 0;
  return *ps_ws_find(ws, topic, n) != NULL;
}

/* Deliver to the subscribers of table t (may be NULL), except `skip`;
 * returns the count. */
static int ps_deliver(struct wsv__rt_topics *t, const char *topic,
                      size_t topic_len, int opcode, const void *data,
                      size_t len, const struct wsv_ws *skip) {
  struct ps_topic *p = t != NULL ? ps_find(t, topic, topic_len) : NULL;
  int n = 0;
  for (struct ps_sub *s = p != NULL ? p->subs : NULL; s != NULL; s = s->tnext) {
    if (s->ws == skip)
      continue;
    if (wsv_ws_send(s->ws, opcode, data, len) >= 0)
      n++;
  }
  return n;
}

/* ---- across the loops of a group
 * ---------------------------------------------
 */

int wsv__rt_ps_group_new(struct wsv__rt_ps_group **out,
                         struct wsv_loop *const *loops, int n,
                         struct wsv_broker *broker) {
  struct wsv__rt_ps_group *g = malloc(sizeof *g + (size_t)n * sizeof *loops);
  *out = g;
  if (g == NULL)
    return WSV_ERR_NOMEM;
  g->n = n;
  g->broker = broker;
  memcpy(g->loops, loops, (size_t)n * sizeof *loops);
  for (int i = 0; broker != NULL && i < n; i++) {
    int rc = wsv__rt_broker_attach(broker, loops[i]);
    if (rc != 0)
      return rc;
  }
  return 0;
}

void wsv__rt_ps_group_free(struct wsv__rt_ps_group *g) {
  free(g);
}

/* One published message shared by every loop it is posted to. */
struct ps_pub {
  atomic_int refs;
  struct wsv_loop *to_broker; /* the loop that sends it on, or NULL */
  int opcode;
  size_t topic_len;
  size_t len;
  char *topic; /* points into data[] after the payload */
  unsigned char data[];
};

static void ps_pub_unref(struct ps_pub *m) {
  if (atomic_fetch_sub(&m->refs, 1) == 1)
    free(m);
}

/* Hand a publish to the loop's broker link, if it has one. */
static void ps_to_broker(struct wsv_loop *loop, const char *topic, size_t n,
                         int opcode, const void *data, size_t len) {
  struct wsv_broker_link *l = wsv__rt_broker_link(loop);
  if (l != NULL)
    wsv__rt_broker_publish(l, topic, n, opcode, data, len);
}

static void ps_pub_deliver(struct wsv_loop *loop, void *user) {
  struct ps_pub *m = user;
  (void)ps_deliver(wsv__rt_loop_ext_find(loop, &ps_topics_type), m->topic,
                   m->topic_len, m->opcode, m->data, m->len, NULL);
  if (m->to_broker == loop)
    ps_to_broker(loop, m->topic, m->topic_len, m->opcode, m->data, m->len);
  ps_pub_unref(m);
}

int wsv__rt_ps_deliver_here(struct wsv_loop *loop, const char *topic, size_t n,
                            int opcode, const void *data, size_t len) {
  struct wsv__rt_topics *t = wsv__rt_loop_ext_find(loop, &ps_topics_type);
  if (t == NULL || ps_find(t, topic, n) == NULL)
    return -1;
  return ps_deliver(t, topic, n, opcode, data, len, NULL);
}

/* Post a publish to every loop of the group except `except` (may be
 * NULL). */
static int ps_post(const struct wsv__rt_ps_group *g,
                   const struct wsv_loop *except, const char *topic,
                   size_t topic_len, int opcode, const void *data, size_t len) {
  int targets = g->n;
  for (int i = 0; i < g->n; i++)
    targets -= g->loops[i] == except;
  if (targets <= 0)
    return 0;
  struct ps_pub *m = malloc(sizeof *m + len + topic_len + 1);
  if (m == NULL)
    return WSV_ERR_NOMEM;
  atomic_init(&m->refs, targets);
  /* Published from outside the group's threads: the first loop also
   * sends it on to the broker. */
  m->to_broker = except == NULL && g->broker != NULL ? g->loops[0] : NULL;
  m->opcode = opcode;
  m->len = len;
  m->topic_len = topic_len;
  if (len > 0)
    memcpy(m->data, data, len);
  m->topic = (char *)m->data + len;
  memcpy(m->topic, topic, topic_len);
  m->topic[topic_len] = '\0';
  int rc = 0;
  for (int i = 0; i < g->n; i++) {
    if (g->loops[i] == except)
      continue;
    if (wsv_loop_post(g->loops[i], ps_pub_deliver, m) != 0) {
      rc = WSV_ERR_NOMEM;
      ps_pub_unref(m);
    }
  }
  return rc;
}

/* What a publish must be: a topic of 1..PS_MAX_TOPIC bytes, a text or
 * binary message, text valid UTF-8. */
static int ps_check_message(int opcode, const void *data, size_t len) {
  if ((opcode != WSV_OP_TEXT && opcode != WSV_OP_BINARY) ||
      (data == NULL && len > 0))
    return WSV_ERR_INVAL;
  if (opcode == WSV_OP_TEXT && wsv_utf8_valid(data, len) != WSV_OK)
    return WSV_ERR_INVAL;
  return 0;
}

int wsv__rt_ps_publish(struct wsv__rt_ps_group *g, const char *topic,
                       int opcode, const void *data, size_t len) {
  if (topic == NULL || topic[0] == '\0')
    return WSV_ERR_INVAL;
  size_t tl = strlen(topic);
  int rc =
      tl > PS_MAX_TOPIC ? WSV_ERR_INVAL : ps_check_message(opcode, data, len);
  if (rc != 0)
    return rc;
  struct wsv_loop *self = NULL;
  for (int i = 0; i < g->n && self == NULL; i++)
    if (wsv__rt_loop_running_here(g->loops[i]))
      self = g->loops[i];
  rc = ps_post(g, self, topic, tl, opcode, data, len);
  if (rc != 0 || self == NULL)
    return rc;
  rc = ps_deliver(wsv__rt_loop_ext_find(self, &ps_topics_type), topic, tl,
                  opcode, data, len, NULL);
  ps_to_broker(self, topic, tl, opcode, data, len);
  return rc;
}

int wsv_ws_publish(struct wsv_ws *ws, const char *topic, int opcode,
                   const void *data, size_t len, unsigned flags) {
  size_t n;
  int rc = ps_check(ws, topic, &n);
  if (rc == 0)
    rc = ps_check_message(opcode, data, len);
  if (rc == 0)
    rc = ps_post(ws->ctx->ps, ws->tp.loop, topic, n, opcode, data, len);
  if (rc != 0)
    return rc;
  const struct wsv_ws *skip = (flags & WSV_PUBLISH_SELF) ? NULL : ws;
  rc = ps_deliver(wsv__rt_loop_ext_find(ws->tp.loop, &ps_topics_type), topic, n,
                  opcode, data, len, skip);
  ps_to_broker(ws->tp.loop, topic, n, opcode, data, len);
  return rc;
}
