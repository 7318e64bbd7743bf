/*
 * broker.c - topics across instances (wsv/broker.h): a broker, shared by
 * a server's threads, and one link per loop (a loop extension) with the
 * engine's connection(s).  Part of the pub/sub room: pubsub.c tells a
 * link when one of its loop's topics appears or goes, and hands it what
 * is published; the link hands pubsub.c what comes back.
 *
 * The envelope of a message on the broker: 'w', version 1, the opcode
 * (1 text, 2 binary), the 16-byte id of the broker that published it,
 * then the payload.  A link drops messages carrying its own broker's id
 * (the process delivered them itself) and messages it cannot read.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub.h"

#define BROKER_MAX_PREFIX 256
#define BROKER_ENV_HEAD 19 /* 'w', 1, opcode, 16-byte id */

struct wsv_broker {
  const struct wsv_broker_engine *engine;
  void *state;
  char *prefix;
  size_t prefix_len;
  void (*log)(void *user, int level, const char *text);
  void *log_user;
  uint8_t id[16];
  atomic_int links;
  atomic_int links_up;
  atomic_size_t channels;
  atomic_uint_least64_t published;
  atomic_uint_least64_t dropped;
  atomic_uint_least64_t received;
  atomic_uint_least64_t echoes;
  atomic_uint_least64_t unrouted;
  atomic_uint_least64_t reconnects;
};

struct wsv_broker_link {
  struct wsv_broker *b;
  struct wsv_loop *loop;
  void *conn;  /* the engine's state for this link */
  int opened;  /* engine->open succeeded */
  int up;      /* connected: subscriptions and publishes go through */
  size_t subs; /* channels subscribed through this link */
  /* The channel being built (prefix + topic), grown as needed. */
  char *chan;
  size_t chan_cap;
  /* The envelope being built. */
  uint8_t *env;
  size_t env_cap;
};

void wsv_broker_config_init(struct wsv_broker_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->prefix = "wsv:";
}

int wsv_broker_new(struct wsv_broker **out,
                   const struct wsv_broker_config *cfg) {
  if (out != NULL)
    *out = NULL;
  if (out == NULL || cfg == NULL || cfg->engine == NULL) {
    if (cfg != NULL && cfg->engine != NULL && cfg->engine->free != NULL)
      cfg->engine->free(cfg->engine_state); /* owned from here on */
    return WSV_ERR_INVAL;
  }
  const struct wsv_broker_engine *e = cfg->engine;
  const char *prefix = cfg->prefix != NULL ? cfg->prefix : "";
  size_t pl = strlen(prefix);
  struct wsv_broker *b = NULL;
  int rc = WSV_ERR_INVAL;
  if (e->open != NULL && e->subscribe != NULL && e->unsubscribe != NULL &&
      e->publish != NULL && e->close != NULL && pl <= BROKER_MAX_PREFIX) {
    rc = WSV_ERR_NOMEM;
    b = calloc(1, sizeof *b);
    if (b != NULL)
      b->prefix = wsv__rt_strndup(prefix, pl);
    if (b != NULL && b->prefix != NULL)
      rc = wsv_random_os(NULL, b->id, sizeof b->id) == 0 ? 0 : WSV_ERR_RANDOM;
  }
  if (rc != 0) {
    if (b != NULL)
      free(b->prefix);
    free(b);
    if (e->free != NULL)
      e->free(cfg->engine_state);
    return rc;
  }
  b->engine = e;
  b->state = cfg->engine_state;
  b->prefix_len = pl;
  b->log = cfg->log;
  b->log_user = cfg->log_user;
  *out = b;
  return 0;
}

void wsv_broker_free(struct wsv_broker *b) {
  if (b == NULL)
    return;
  if (b->engine->free != NULL)
    b->engine->free(b->state);
  free(b->prefix);
  free(b);
}

void wsv_broker_stats(const struct wsv_broker *b, struct wsv_broker_stats *st) {
  if (st == NULL)
    return;
  memset(st, 0, sizeof *st);
  if (b == NULL)
    return;
  struct wsv_broker *m = (struct wsv_broker *)(uintptr_t)b;
  st->links = atomic_load_explicit(&m->links, memory_order_relaxed);
  st->links_up = atomic_load_explicit(&m->links_up, memory_order_relaxed);
  st->channels = atomic_load_explicit(&m->channels, memory_order_relaxed);
  st->published = atomic_load_explicit(&m->published, memory_order_relaxed);
  st->dropped = atomic_load_explicit(&m->dropped, memory_order_relaxed);
  st->received = atomic_load_explicit(&m->received, memory_order_relaxed);
  st->echoes = atomic_load_explicit(&m->echoes, memory_order_relaxed);
  st->unrouted = atomic_load_explicit(&m->unrouted, memory_order_relaxed);
  st->reconnects = atomic_load_explicit(&m->reconnects, memory_order_relaxed);
}

static void broker_count(atomic_uint_least64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void wsv_broker_link_log(struct wsv_broker_link *link, int level,
                         const char *text) {
  if (link != NULL && link->b->log != NULL)
    link->b->log(link->b->log_user, level, text);
}

/* ---- links: one per loop ----------------------------------------------------
 */

static void link_close(struct wsv_loop *loop, void *ext) {
  struct wsv_broker_link *l = ext;
  (void)loop;
  if (l->b == NULL)
    return;
  if (l->opened)
    l->b->engine->close(l->conn);
  l->opened = 0;
  if (l->up)
    atomic_fetch_sub_explicit(&l->b->links_up, 1, memory_order_relaxed);
  l->up = 0;
  atomic_fetch_sub_explicit(&l->b->channels, l->subs, memory_order_relaxed);
  l->subs = 0;
  atomic_fetch_sub_explicit(&l->b->links, 1, memory_order_relaxed);
  l->b = NULL;
}

static void link_free(struct wsv_loop *loop, void *ext) {
  struct wsv_broker_link *l = ext;
  link_close(loop, ext);
  free(l->chan);
  free(l->env);
}

static const struct wsv__rt_ext_type link_type = {
    sizeof(struct wsv_broker_link), NULL, link_close, link_free};

struct wsv_broker_link *wsv__rt_broker_link(struct wsv_loop *loop) {
  struct wsv_broker_link *l = wsv__rt_loop_ext_find(loop, &link_type);
  return l != NULL && l->b != NULL ? l : NULL;
}

int wsv__rt_broker_attach(struct wsv_broker *b, struct wsv_loop *loop) {
  struct wsv_broker_link *l = wsv__rt_loop_ext(loop, &link_type);
  if (l == NULL)
    return WSV_ERR_NOMEM;
  if (l->b != NULL)
    return l->b == b ? 0 : WSV_ERR_STATE; /* one broker per loop */
  l->b = b;
  l->loop = loop;
  atomic_fetch_add_explicit(&b->links, 1, memory_order_relaxed);
  int rc = b->engine->open(b->state, loop, l, &l->conn);
  if (rc != 0) {
    char line[160];
    snprintf(line, sizeof line, "broker: %s: cannot start: %s",
             b->engine->name != NULL ? b->engine->name : "engine",
             wsv_strerror(rc));
    wsv_broker_link_log(l, WSV_LOG_ERROR, line);
    return rc;
  }
  l->opened = 1;
  return 0;
}

/* l->chan = prefix + topic; NULL when out of memory. */
static const char *link_channel(struct wsv_broker_link *l, const char *topic,
                                size_t n, size_t *len) {
  size_t need = l->b->prefix_len + n;
  if (need > l->chan_cap) {
    char *p = realloc(l->chan, need);
    if (p == NULL)
      return NULL;
    l->chan = p;
    l->chan_cap = need;
  }
  memcpy(l->chan, l->b->prefix, l->b->prefix_len);
  memcpy(l->chan + l->b->prefix_len, topic, n);
  *len = need;
  return l->chan;
}

/* Subscribe one topic through the engine (the link is up). */
static void link_subscribe(struct wsv_broker_link *l, const char *topic,
                           size_t n) {
  size_t len;
  const char *ch = link_channel(l, topic, n, &len);
  if (ch != NULL && l->b->engine->subscribe(l->conn, ch, len) == 0) {
    l->subs++;
    atomic_fetch_add_explicit(&l->b->channels, 1, memory_order_relaxed);
  }
}

void wsv__rt_broker_topic_added(struct wsv_broker_link *l, const char *topic,
                                size_t n) {
  if (l->up)
    link_subscribe(l, topic, n);
}

void wsv__rt_broker_topic_dropped(struct wsv_broker_link *l, const char *topic,
                                  size_t n) {
  size_t len;
  const char *ch;
  if (!l->up || (ch = link_channel(l, topic, n, &len)) == NULL)
    return;
  (void)l->b->engine->unsubscribe(l->conn, ch, len);
  if (l->subs > 0) {
    l->subs--;
    atomic_fetch_sub_explicit(&l->b->channels, 1, memory_order_relaxed);
  }
}

void wsv__rt_broker_publish(struct wsv_broker_link *l, const char *topic,
                            size_t n, int opcode, const void *data,
                            size_t len) {
  struct wsv_broker *b = l->b;
  size_t clen, need = BROKER_ENV_HEAD + len;
  const char *ch = link_channel(l, topic, n, &clen);
  if (ch != NULL && need > l->env_cap) {
    uint8_t *p = realloc(l->env, need);
    if (p != NULL) {
      l->env = p;
      l->env_cap = need;
    }
  }
  if (ch == NULL || need > l->env_cap || !l->up) {
    broker_count(&b->dropped);
    return;
  }
  l->env[0] = 'w';
  l->env[1] = 1;
  l->env[2] = (uint8_t)opcode;
  memcpy(l->env + 3, b->id, sizeof b->id);
  if (len > 0)
    memcpy(l->env + BROKER_ENV_HEAD, data, len);
  if (b->engine->publish(l->conn, ch, clen, l->env, need) == 0)
    broker_count(&b->published);
  else
    broker_count(&b->dropped);
}

/* ---- what the engine reports ------------------------------------------------
 */

static void link_resubscribe(void *user, const char *topic, size_t n) {
  link_subscribe(user, topic, n);
}

void wsv_broker_link_up(struct wsv_broker_link *l) {
  if (l == NULL || l->b == NULL || l->up)
    return;
  l->up = 1;
  atomic_fetch_add_explicit(&l->b->links_up, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&l->b->channels, l->subs, memory_order_relaxed);
  l->subs = 0;
  wsv__rt_ps_each_topic(l->loop, link_resubscribe, l);
}

void wsv_broker_link_down(struct wsv_broker_link *l) {
  if (l == NULL || l->b == NULL || !l->up)
    return;
  l->up = 0;
  atomic_fetch_sub_explicit(&l->b->links_up, 1, memory_order_relaxed);
  broker_count(&l->b->reconnects);
}

void wsv_broker_link_message(struct wsv_broker_link *l, const void *channel,
                             size_t len, const void *msg, size_t mlen) {
  if (l == NULL || l->b == NULL)
    return;
  struct wsv_broker *b = l->b;
  const uint8_t *m = msg;
  if (len < b->prefix_len || memcmp(channel, b->prefix, b->prefix_len) != 0 ||
      mlen < BROKER_ENV_HEAD || m[0] != 'w' || m[1] != 1 ||
      (m[2] != WSV_OP_TEXT && m[2] != WSV_OP_BINARY)) {
    broker_count(&b->unrouted);
    return;
  }
  if (memcmp(m + 3, b->id, sizeof b->id) == 0) {
    broker_count(&b->echoes);
    return;
  }
  if (m[2] == WSV_OP_TEXT &&
      wsv_utf8_valid(m + BROKER_ENV_HEAD, mlen - BROKER_ENV_HEAD) != WSV_OK) {
    broker_count(&b->unrouted); /* never send clients invalid text */
    return;
  }
  const char *topic = (const char *)channel + b->prefix_len;
  int n = wsv__rt_ps_deliver_here(l->loop, topic, len - b->prefix_len, m[2],
                                  m + BROKER_ENV_HEAD, mlen - BROKER_ENV_HEAD);
  broker_count(n < 0 ? &b->unrouted : &b->received);
}
