/*
 * rt_broker_test.c - the broker layer (src/rt/broker.c, its part of
 * src/rt/pubsub.c) with an in-memory engine: a "bus" that every link of
 * the test's servers joins, delivering each publish to every link
 * subscribed to its channel (the publisher's own included, as Redis
 * does) through the links' loop posts.  Two servers stand for two
 * instances: A with one thread, B with two.  Checked: each subscriber
 * gets each message exactly once and in order, types and bytes survive,
 * a channel is subscribed once per loop and dropped with its last
 * subscriber, a down engine drops (and counts) what is published and
 * resubscribes when it is back.  The Redis engine is rt_redis_test.c's.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "support/rt_fixture.h"
#include "wsv/broker.h"

/* ---- the bus engine ---------------------------------------------------- */

#define BUS_CONNS 8
#define BUS_CHANS 8

struct bus_conn {
  struct bus *bus;
  struct wsv_loop *loop;
  struct wsv_broker_link *link;
  char chan[BUS_CHANS][64];
  size_t chan_len[BUS_CHANS];
  int nchans;
};

struct bus {
  pthread_mutex_t mu;
  int down; /* publishes refused */
  struct bus_conn *conns[BUS_CONNS];
  atomic_int subscribes, unsubscribes, publishes;
};

static struct bus bus = {PTHREAD_MUTEX_INITIALIZER, 0, {NULL}, 0, 0, 0};

static void bus_up(struct wsv_loop *loop, void *user) {
  (void)loop;
  wsv_broker_link_up(((struct bus_conn *)user)->link);
}

static void bus_down(struct wsv_loop *loop, void *user) {
  (void)loop;
  wsv_broker_link_down(((struct bus_conn *)user)->link);
}

static int bus_open(void *engine, struct wsv_loop *loop,
                    struct wsv_broker_link *link, void **conn) {
  struct bus *b = engine;
  struct bus_conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return WSV_ERR_NOMEM;
  c->bus = b;
  c->loop = loop;
  c->link = link;
  pthread_mutex_lock(&b->mu);
  int slot = -1;
  for (int i = 0; i < BUS_CONNS && slot < 0; i++)
    if (b->conns[i] == NULL)
      slot = i;
  if (slot >= 0)
    b->conns[slot] = c;
  pthread_mutex_unlock(&b->mu);
  if (slot < 0) {
    free(c);
    return WSV_ERR_NOMEM;
  }
  *conn = c;
  /* "Connected" once the loop runs, as a real engine would say it. */
  return wsv_loop_post(loop, bus_up, c);
}

static int bus_find(const struct bus_conn *c, const void *ch, size_t n) {
  for (int i = 0; i < c->nchans; i++)
    if (c->chan_len[i] == n && memcmp(c->chan[i], ch, n) == 0)
      return i;
  return -1;
}

static int bus_subscribe(void *conn, const void *ch, size_t n) {
  struct bus_conn *c = conn;
  atomic_fetch_add(&c->bus->subscribes, 1);
  pthread_mutex_lock(&c->bus->mu);
  int rc = -1;
  if (n <= sizeof c->chan[0] && c->nchans < BUS_CHANS &&
      bus_find(c, ch, n) < 0) {
    memcpy(c->chan[c->nchans], ch, n);
    c->chan_len[c->nchans++] = n;
    rc = 0;
  }
  pthread_mutex_unlock(&c->bus->mu);
  return rc == 0 ? 0 : WSV_ERR_STATE;
}

static int bus_unsubscribe(void *conn, const void *ch, size_t n) {
  struct bus_conn *c = conn;
  atomic_fetch_add(&c->bus->unsubscribes, 1);
  pthread_mutex_lock(&c->bus->mu);
  int i = bus_find(c, ch, n);
  if (i >= 0) {
    c->nchans--;
    memcpy(c->chan[i], c->chan[c->nchans], c->chan_len[c->nchans]);
    c->chan_len[i] = c->chan_len[c->nchans];
  }
  pthread_mutex_unlock(&c->bus->mu);
  return i >= 0 ? 0 : WSV_ERR_STATE;
}

/* One delivery to one link, carried by a post. */
struct bus_msg {
  struct bus_conn *to;
  size_t clen, mlen;
  unsigned char data[]; /* channel, then message */
};

static void bus_deliver(struct wsv_loop *loop, void *user) {
  struct bus_msg *m = user;
  (void)loop;
  wsv_broker_link_message(m->to->link, m->data, m->clen, m->data + m->clen,
                          m->mlen);
  free(m);
}

static int bus_publish(void *conn, const void *ch, size_t n, const void *msg,
                       size_t mlen) {
  struct bus_conn *c = conn;
  if (c->bus->down)
    return WSV_ERR_CLOSED;
  atomic_fetch_add(&c->bus->publishes, 1);
  pthread_mutex_lock(&c->bus->mu);
  for (int i = 0; i < BUS_CONNS; i++) {
    struct bus_conn *to = c->bus->conns[i];
    if (to == NULL || bus_find(to, ch, n) < 0)
      continue;
    struct bus_msg *m = malloc(sizeof *m + n + mlen);
    assert_non_null(m);
    m->to = to;
    m->clen = n;
    m->mlen = mlen;
    memcpy(m->data, ch, n);
    memcpy(m->data + n, msg, mlen);
    assert_int_equal(wsv_loop_post(to->loop, bus_deliver, m), 0);
  }
  pthread_mutex_unlock(&c->bus->mu);
  return 0;
}

static void bus_close(void *conn) {
  struct bus_conn *c = conn;
  pthread_mutex_lock(&c->bus->mu);
  for (int i = 0; i < BUS_CONNS; i++)
    if (c->bus->conns[i] == c)
      c->bus->conns[i] = NULL;
  pthread_mutex_unlock(&c->bus->mu);
  free(c);
}

static const struct wsv_broker_engine bus_engine = {
    "bus",       bus_open,  bus_subscribe, bus_unsubscribe,
    bus_publish, bus_close, NULL};

/* Channels the bus's links hold for `ch`, over all links. */
static int bus_holders(const char *ch) {
  int n = 0;
  pthread_mutex_lock(&bus.mu);
  for (int i = 0; i < BUS_CONNS; i++)
    if (bus.conns[i] != NULL && bus_find(bus.conns[i], ch, strlen(ch)) >= 0)
      n++;
  pthread_mutex_unlock(&bus.mu);
  return n;
}

/* Post `fn` to every link's loop (the engine going down or up). */
static void bus_each(wsv_post_fn fn) {
  pthread_mutex_lock(&bus.mu);
  for (int i = 0; i < BUS_CONNS; i++)
    if (bus.conns[i] != NULL)
      assert_int_equal(wsv_loop_post(bus.conns[i]->loop, fn, bus.conns[i]), 0);
  pthread_mutex_unlock(&bus.mu);
}

static void spin(struct wsv_loop *loop, int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  while (wsv_loop_now(loop) < end)
    (void)wsv_loop_run_once(loop, 5);
}

static struct wsv_broker *bus_broker(void) {
  struct wsv_broker_config bc;
  wsv_broker_config_init(&bc);
  bc.engine = &bus_engine;
  bc.engine_state = &bus;
  bc.prefix = "t:";
  struct wsv_broker *b = NULL;
  assert_int_equal(wsv_broker_new(&b, &bc), 0);
  return b;
}

static struct wsv_server *broker_server(struct wsv_broker *b, int threads) {
  struct wsv_server_config cfg;
  rtf_srv_config(&cfg);
  cfg.threads = threads;
  cfg.broker = b;
  return rtf_srv_start(&cfg);
}

/* ---- the tests ------------------------------------------------------------
 */

static void test_across_instances(void **state) {
  (void)state;
  struct wsv_broker *ba = bus_broker(), *bb = bus_broker();
  struct wsv_server *a = broker_server(ba, 1), *b = broker_server(bb, 2);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  /* One subscriber on A (the publisher), three on B (spread over its two
   * threads as SO_REUSEPORT deals them: one or both of B's links
   * subscribe). */
  struct rtf_rec ka = {0}, kb[3];
  memset(kb, 0, sizeof kb);
  struct wsv_ws *wa = rtf_rec_connect(loop, &ka, wsv_server_port(a), "/room1");
  for (int i = 0; i < 3; i++)
    (void)rtf_rec_connect(loop, &kb[i], wsv_server_port(b), "/room1");
  rtf_until_opens(loop, 4);
  spin(loop, 100);
  /* A's link and each of B's links with a subscriber hold the channel,
   * once each however many subscribers a loop has. */
  struct wsv_broker_stats st;
  wsv_broker_stats(bb, &st);
  assert_int_equal(st.links, 2);
  assert_int_equal(st.links_up, 2);
  size_t blinks = st.channels;
  assert_true(blinks == 1 || blinks == 2);
  assert_int_equal(bus_holders("t:/room1"), 1 + (int)blinks);
  /* Text and binary, bytes of every kind, in order. */
  static const unsigned char bin[] = {0, 0xff, 0x80, 'x', 0};
  for (int i = 0; i < 20; i++) {
    char t[32];
    int n = snprintf(t, sizeof t, "m%02d", i);
    assert_true(wsv_ws_send(wa, WSV_OP_TEXT, t, (size_t)n) >= 0);
  }
  assert_true(wsv_ws_send(wa, WSV_OP_BINARY, bin, sizeof bin) >= 0);
  struct rtf_rec *all[] = {&kb[0], &kb[1], &kb[2]};
  rtf_rec_until(loop, all, 3, 21, 3000);
  spin(loop, 200); /* any duplicate would have come by now */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(kb[i].n, 21);
    size_t at = 0;
    for (int j = 0; j < 20; j++) {
      char t[32];
      int n = snprintf(t, sizeof t, "m%02d", j);
      assert_int_equal(kb[i].op[j], WSV_OP_TEXT);
      assert_int_equal(kb[i].len[j], (size_t)n);
      assert_memory_equal(kb[i].bytes + at, t, (size_t)n);
      at += (size_t)n;
    }
    assert_int_equal(kb[i].op[20], WSV_OP_BINARY);
    assert_int_equal(kb[i].len[20], sizeof bin);
    assert_memory_equal(kb[i].bytes + at, bin, sizeof bin);
    free(kb[i].bytes);
  }
  /* The publisher is not sent its own messages (no WSV_PUBLISH_SELF),
   * and its process dropped their echo. */
  assert_int_equal(ka.n, 0);
  wsv_broker_stats(ba, &st);
  assert_int_equal(st.published, 21);
  assert_int_equal(st.echoes, 21);
  assert_int_equal(st.dropped, 0);
  wsv_broker_stats(bb, &st);
  assert_int_equal(st.received, blinks * 21); /* once per subscribed link */
  /* The last subscriber gone: the channel goes too. */
  wsv_ws_abort(wa);
  spin(loop, 200);
  assert_int_equal(bus_holders("t:/room1"), (int)blinks);
  wsv_loop_free(loop);
  free(ka.bytes);
  rtf_srv_finish(a);
  rtf_srv_finish(b);
  assert_int_equal(bus_holders("t:/room1"), 0);
  wsv_broker_free(ba);
  wsv_broker_free(bb);
}

static void test_engine_down(void **state) {
  (void)state;
  struct wsv_broker *ba = bus_broker(), *bb = bus_broker();
  struct wsv_server *a = broker_server(ba, 1), *b = broker_server(bb, 1);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct rtf_rec ka1 = {0}, ka2 = {0}, kb = {0};
  struct wsv_ws *wa = rtf_rec_connect(loop, &ka1, wsv_server_port(a), "/room2");
  (void)rtf_rec_connect(loop, &ka2, wsv_server_port(a), "/room2");
  (void)rtf_rec_connect(loop, &kb, wsv_server_port(b), "/room2");
  rtf_until_opens(loop, 3);
  spin(loop, 100);
  int subs = atomic_load(&bus.subscribes);
  /* Down: local delivery goes on, the rest is dropped and counted. */
  bus.down = 1;
  bus_each(bus_down);
  spin(loop, 100);
  struct wsv_broker_stats st;
  wsv_broker_stats(ba, &st);
  assert_int_equal(st.links_up, 0);
  assert_int_equal(st.reconnects, 1);
  assert_true(wsv_ws_send(wa, WSV_OP_TEXT, "lost", 4) >= 0);
  struct rtf_rec *local[] = {&ka2};
  rtf_rec_until(loop, local, 1, 1, 3000);
  spin(loop, 100);
  assert_int_equal(ka2.n, 1);
  assert_int_equal(kb.n, 0);
  wsv_broker_stats(ba, &st);
  assert_int_equal(st.dropped, 1);
  /* Up again: every live channel is subscribed again, messages cross. */
  bus.down = 0;
  bus_each(bus_up);
  spin(loop, 100);
  assert_true(atomic_load(&bus.subscribes) >= subs + 2);
  assert_int_equal(bus_holders("t:/room2"), 2);
  assert_true(wsv_ws_send(wa, WSV_OP_TEXT, "back", 4) >= 0);
  struct rtf_rec *both[] = {&ka2, &kb};
  rtf_rec_until(loop, both, 2, 1, 3000);
  spin(loop, 100);
  assert_int_equal(ka2.n, 2);
  assert_int_equal(kb.n, 1);
  assert_memory_equal(kb.bytes, "back", 4);
  wsv_loop_free(loop);
  free(ka1.bytes);
  free(ka2.bytes);
  free(kb.bytes);
  rtf_srv_finish(a);
  rtf_srv_finish(b);
  wsv_broker_free(ba);
  wsv_broker_free(bb);
}

/* A message the engine hands over for a topic without local subscribers,
 * or that is not a broker envelope, is dropped and counted. */
static void test_config_and_strays(void **state) {
  (void)state;
  struct wsv_broker_config bc;
  wsv_broker_config_init(&bc);
  struct wsv_broker *b = NULL;
  assert_int_equal(wsv_broker_new(&b, &bc), WSV_ERR_INVAL); /* no engine */
  assert_null(b);
  assert_int_equal(wsv_broker_new(NULL, &bc), WSV_ERR_INVAL);
  char big[300];
  memset(big, 'p', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  bc.engine = &bus_engine;
  bc.engine_state = &bus;
  bc.prefix = big;
  assert_int_equal(wsv_broker_new(&b, &bc), WSV_ERR_INVAL);
  struct wsv_broker_stats st;
  wsv_broker_stats(NULL, &st);
  assert_int_equal(st.links, 0);
  b = bus_broker();
  struct wsv_server *s = broker_server(b, 1);
  /* Hand the link strays through the bus's own delivery path. */
  pthread_mutex_lock(&bus.mu);
  struct bus_conn *c = NULL;
  for (int i = 0; i < BUS_CONNS && c == NULL; i++)
    c = bus.conns[i];
  pthread_mutex_unlock(&bus.mu);
  assert_non_null(c);
  static const char *strays[][2] = {{"t:/nobody", "w\1\1................x"},
                                    {"t:/x", "not an envelope"},
                                    {"other:/x", "w\1\1................x"}};
  for (int i = 0; i < 3; i++) {
    size_t cl = strlen(strays[i][0]), ml = strlen(strays[i][1]);
    struct bus_msg *m = malloc(sizeof *m + cl + ml);
    assert_non_null(m);
    m->to = c;
    m->clen = cl;
    m->mlen = ml;
    memcpy(m->data, strays[i][0], cl);
    memcpy(m->data + cl, strays[i][1], ml);
    assert_int_equal(wsv_loop_post(c->loop, bus_deliver, m), 0);
  }
  for (int i = 0; i < 100; i++) {
    wsv_broker_stats(b, &st);
    if (st.unrouted >= 3)
      break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(st.unrouted, 3);
  assert_int_equal(st.received, 0);
  rtf_srv_finish(s);
  wsv_broker_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_across_instances),
      cmocka_unit_test(test_engine_down),
      cmocka_unit_test(test_config_and_strays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
