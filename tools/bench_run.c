/*
 * bench_run.c - the load engine of `wsv bench`: one epoll loop per
 * generator thread over raw non-blocking sockets: echo and connect over
 * ws:// and wss:// on the lean client of bench_wire.c (and bench_tls.c),
 * idle and fanout on the sans-I/O core directly (wsv_hs_client for the
 * handshake, wsv_conn for frames);
 * this file owns the thread: its state, the loop, and the phases of each
 * measurement (open, warm up, count, stop, drain).  One connection's life
 * is bench_conn.c's.
 *
 * Why not the runtime's client: the echo loop here costs one recv, one
 * writev and one epoll_wait per batch of echoes, parses frames as views
 * into one read buffer per thread (the core's streaming mode, so a 1 MiB
 * echo is never reassembled), and stamps time once per batch.  See
 * docs/benchmarks.md for the measurement that made the choice.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"

#include "bench.h"
#include "bench_eng.h"
#include "bench_sys.h"

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- randomness -----------------------------------------------------------
 * Handshake keys and masking keys come from a per-thread xorshift64*
 * generator seeded from the OS: unpredictable enough for a load generator
 * (the server cannot tell), and no getrandom(2) call per frame. */

static int eng_random(void *user, uint8_t *buf, size_t len) {
  struct bench_thread *t = user;
  uint64_t x = t->rng;
  while (len > 0) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t r = x * UINT64_C(2685821657736338717);
    size_t k = len < 8 ? len : 8;
    memcpy(buf, &r, k);
    buf += k;
    len -= k;
  }
  t->rng = x;
  return 0;
}

/* ---- the thread ---------------------------------------------------------- */

static int eng_init(struct eng *e, struct bench_thread *t) {
  memset(e, 0, sizeof *e);
  e->t = t;
  e->b = t->b;
  e->o = &t->b->opt;
  e->ep = epoll_create1(EPOLL_CLOEXEC);
  e->n = (size_t)t->nconns;
  e->rbuf = malloc(BENCH_RBUF);
  e->c = calloc(e->n ? e->n : 1, sizeof *e->c);
  size_t s = (size_t)e->o->size;
  e->hlen = s < 16 ? s : 16;
  e->op = e->o->binary ? WSV_OP_BINARY : WSV_OP_TEXT;
  if ((e->o->mode == BENCH_ECHO && !e->o->raw) ||
      (e->o->mode == BENCH_FANOUT && t->id == 0)) {
    e->pat = malloc(s + BENCH_PATTERN_SPAN);
    if (e->pat != NULL)
      memcpy(e->pat, e->b->pattern, s + BENCH_PATTERN_SPAN);
  }
  if (e->ep < 0 || e->rbuf == NULL || e->c == NULL ||
      (e->o->mode == BENCH_ECHO && !e->o->raw && e->pat == NULL) ||
      (e->o->mode == BENCH_FANOUT &&
       (fan_init(e) != 0 || (t->id == 0 && e->pat == NULL)))) {
    snprintf(t->err, sizeof t->err, "out of memory or file descriptors");
    return -1;
  }
  size_t d = (size_t)e->o->inflight;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    c->e = e;
    c->fd = -1;
    c->src = e->o->sources > 1
                 ? (uint32_t)((i * (size_t)e->o->threads + (size_t)t->id) %
                              e->o->sources)
                 : 0;
    if (e->o->mode == BENCH_ECHO) {
      c->stamps = malloc(d * sizeof *c->stamps);
      c->hdrs = malloc(d * 16u);
      if (c->stamps == NULL || c->hdrs == NULL) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return -1;
      }
    }
  }
  for (unsigned i = 0; i < e->o->ntargets; i++) {
    struct wsv_hs_client_config *h = &e->hcfg[i];
    wsv_hs_client_config_init(h);
    h->versions = WSV_VERSION_BIT(13);
    h->host = e->o->target[i].host;
    h->port = e->o->target[i].port;
    h->path = e->o->target[i].path;
    h->random = eng_random;
    h->random_user = t;
  }
  e->rawcopy =
      e->o->raw && e->o->mode == BENCH_ECHO && e->o->size <= BENCH_RAW_COPY;
  e->lean =
      !e->o->raw && (e->o->mode == BENCH_ECHO || e->o->mode == BENCH_CONNECT);
  if (e->lean && wire_init(e) != 0) {
    snprintf(t->err, sizeof t->err, "out of memory");
    return -1;
  }
  if (e->o->tls && btls_init(e) != 0)
    return -1;
  wsv_conn_config_init(&e->ccfg);
  e->ccfg.stream = 1;
  e->ccfg.random = eng_random;
  e->ccfg.random_user = t;
  if (e->o->size > e->ccfg.max_message) {
    e->ccfg.max_message = e->o->size;
    e->ccfg.max_frame = e->o->size;
  }
  if (e->o->size * e->o->inflight * 2u > e->ccfg.max_output)
    e->ccfg.max_output = (size_t)(e->o->size * e->o->inflight * 2u);
  if (e->o->mode == BENCH_FANOUT &&
      e->ccfg.max_output < (size_t)e->o->size * 2u + (2u << 20))
    e->ccfg.max_output = (size_t)e->o->size * 2u + (2u << 20);
  return 0;
}

static void eng_cleanup(struct eng *e) {
  for (size_t i = 0; i < e->n; i++) {
    bconn_release(&e->c[i]);
    free(e->c[i].stamps);
    free(e->c[i].hdrs);
    free(e->c[i].out);
  }
  wire_cleanup(e);
  btls_cleanup(e);
  free(e->c);
  fan_cleanup(e);
  free(e->rbuf);
  free(e->pat);
  if (e->ep >= 0)
    close(e->ep);
}

/* One round of the loop: wait at most timeout_ms, handle the events (a
 * NULL pointer is fanout's eventfd). */
void eng_poll(struct eng *e, int timeout_ms) {
  struct epoll_event evs[256];
  int k = bsys_epoll_wait(e->ep, evs, 256, timeout_ms);
  e->now = bench_now_ns();
  for (int i = 0; i < k; i++)
    if (evs[i].data.ptr == NULL)
      fan_wake(e);
    else
      bconn_event(evs[i].data.ptr, evs[i].events);
}

/* A round of the measured phase: once the warm-up is over, count from
 * zero (echoes in echo mode, cycles in connect mode; the other stays 0). */
static void eng_poll_counted(struct eng *e) {
  eng_poll(e, 20);
  if (!e->counting && e->now >= e->b->t_measure) {
    e->counting = 1;
    e->t->msgs = 0;
    e->t->hs = 0;
    memset(&e->t->lat, 0, sizeof e->t->lat);
  }
}

/* Stop: no new messages or cycles; close what is quiet. */
static void eng_stop(struct eng *e) {
  if (!e->stopping) {
    e->stopping = 1;
    e->t->t_stop = e->now;
  }
  e->drain_deadline = e->now + (uint64_t)BENCH_DRAIN_S * 1000000000u;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state == BC_OPEN && c->sent == c->recvd)
      bconn_begin_close(c);
  }
}

/* Wait for the connections to finish; after the deadline drop the rest
 * (an echo still missing is counted as unanswered). */
static void eng_drain(struct eng *e) {
  while (e->active > 0 && e->now < e->drain_deadline)
    eng_poll(e, 50);
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state == BC_DONE || c->state == BC_IDLE)
      continue;
    if (c->sent > c->recvd || c->state != BC_CLOSING)
      bconn_fail(c, "no answer within %u s of the stop", BENCH_DRAIN_S);
    else
      bconn_finish(c, 0); /* only the close handshake was missing */
  }
}

void eng_open_all(struct eng *e) {
  struct bench *b = e->b;
  e->now = bench_now_ns();
  uint64_t setup_end = e->now + (uint64_t)BENCH_SETUP_S * 1000000000u;
  e->opening_max = BENCH_OPENING_MAX;
  bconn_open_more(e);
  while ((e->opening > 0 || e->next_open < e->n) && e->now < setup_end &&
         !atomic_load(&b->abort_all))
    eng_poll(e, 50);
  for (size_t i = 0; i < e->n; i++)
    if (e->c[i].state == BC_CONNECTING || e->c[i].state == BC_TLS ||
        e->c[i].state == BC_HANDSHAKE)
      bconn_fail(&e->c[i], "not open within %u s", BENCH_SETUP_S);
}

static void eng_run_echo(struct eng *e) {
  struct bench *b = e->b;
  struct bench_thread *t = e->t;
  eng_open_all(e);
  pthread_barrier_wait(&b->barrier); /* every thread is open */
  pthread_barrier_wait(&b->barrier); /* the main thread set the times */
  e->now = bench_now_ns();
  e->loading = 1;
  e->counting = b->t_measure <= e->now;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state != BC_OPEN)
      continue;
    uint64_t d = e->o->inflight;
    for (uint64_t j = 0; j < d && c->state == BC_OPEN; j++)
      (void)bconn_send(c);
    if (c->state == BC_OPEN)
      (void)bconn_flush(c);
  }
  uint64_t last_prog = 0;
  while (!e->stopping && e->active > 0) {
    eng_poll_counted(e);
    if (atomic_load_explicit(&b->abort_all, memory_order_relaxed) ||
        (t->messages == 0 && e->now >= b->t_end))
      break;
    if (t->msgs != last_prog) {
      last_prog = t->msgs;
      atomic_store_explicit(&t->prog, last_prog, memory_order_relaxed);
    }
  }
  eng_stop(e);
  atomic_store_explicit(&t->prog, t->msgs, memory_order_relaxed);
  eng_drain(e);
}

static void eng_run_connect(struct eng *e) {
  struct bench *b = e->b;
  struct bench_thread *t = e->t;
  pthread_barrier_wait(&b->barrier);
  pthread_barrier_wait(&b->barrier);
  e->now = bench_now_ns();
  e->counting = b->t_measure <= e->now;
  for (size_t i = 0; i < e->n; i++)
    bconn_start(&e->c[i]);
  while (e->active > 0) {
    eng_poll_counted(e);
    atomic_store_explicit(&t->prog, t->hs, memory_order_relaxed);
    if (atomic_load_explicit(&b->abort_all, memory_order_relaxed) ||
        e->now >= b->t_end)
      break;
  }
  eng_stop(e);
  eng_drain(e);
}

static void eng_run_idle(struct eng *e) {
  struct bench *b = e->b;
  struct bench_thread *t = e->t;
  e->now = bench_now_ns();
  e->opening_max = (size_t)e->o->inflight;
  bconn_open_more(e);
  while ((e->opening > 0 || e->next_open < e->n) &&
         !atomic_load(&b->abort_all)) {
    eng_poll(e, 50);
    atomic_store_explicit(&t->prog, t->opened, memory_order_relaxed);
  }
  atomic_store_explicit(&t->prog, t->opened, memory_order_relaxed);
  atomic_store(&t->ready, 1);
  /* Hold: answer pings (the core does) until released. */
  while (!atomic_load(&b->release) && !atomic_load(&b->abort_all))
    eng_poll(e, 50);
  eng_stop(e);
  eng_drain(e);
}

void *bench_thread_main(void *arg) {
  struct bench_thread *t = arg;
  struct eng e;
  t->rng ^= (uint64_t)(uintptr_t)&e; /* seeded by the main thread too */
  if (t->rng == 0)
    t->rng = 1;
  if (eng_init(&e, t) != 0) {
    t->conn_errors++;
    if (t->b->opt.mode != BENCH_IDLE) {
      pthread_barrier_wait(&t->b->barrier);
      pthread_barrier_wait(&t->b->barrier);
    }
    if (t->b->opt.mode == BENCH_FANOUT)
      pthread_barrier_wait(&t->b->barrier);
    atomic_store(&t->ready, 1);
    eng_cleanup(&e);
    return NULL;
  }
  switch (t->b->opt.mode) {
  case BENCH_ECHO:
    eng_run_echo(&e);
    break;
  case BENCH_CONNECT:
    eng_run_connect(&e);
    break;
  case BENCH_FANOUT:
    fan_run(&e);
    break;
  default:
    eng_run_idle(&e);
    break;
  }
  eng_cleanup(&e);
  return NULL;
}
