/*
 * rt_loop_test.c - the runtime's event loop: timers (order, repeat, stop,
 * many), cross-thread posts, fd watches, stop from another thread,
 * signals through signalfd, the big-buffer cache behind the loop's
 * allocator.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "memcache.h" /* the loop's allocator and big-buffer cache */
#include "wsv/rt.h"

/* ---- timers ------------------------------------------------------------- */

struct order {
  struct wsv_loop *loop;
  int seen[8];
  int n;
};

static void order_fire(struct wsv_timer *t, void *user) {
  struct order *o = user;
  (void)t;
  o->seen[o->n++] = -1;
}

struct tagged {
  struct order *o;
  int tag;
};

static void tagged_fire(struct wsv_timer *t, void *user) {
  struct tagged *tg = user;
  (void)t;
  tg->o->seen[tg->o->n++] = tg->tag;
  if (tg->o->n == 3)
    wsv_loop_stop(tg->o->loop);
}

static void test_timers_in_order(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct order o = {loop, {0}, 0};
  struct tagged tg[3] = {{&o, 30}, {&o, 10}, {&o, 20}};
  struct wsv_timer *t[4];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(wsv_timer_new(loop, &t[i], tagged_fire, &tg[i]), 0);
    assert_int_equal(wsv_timer_start(t[i], (uint64_t)tg[i].tag, 0), 0);
  }
  /* A stopped timer never fires. */
  assert_int_equal(wsv_timer_new(loop, &t[3], order_fire, &o), 0);
  assert_int_equal(wsv_timer_start(t[3], 5, 0), 0);
  assert_true(wsv_timer_active(t[3]));
  wsv_timer_stop(t[3]);
  assert_false(wsv_timer_active(t[3]));
  uint64_t t0 = wsv_loop_now(loop);
  assert_int_equal(wsv_loop_run(loop), 0);
  assert_int_equal(o.n, 3);
  assert_int_equal(o.seen[0], 10);
  assert_int_equal(o.seen[1], 20);
  assert_int_equal(o.seen[2], 30);
  assert_true(wsv_loop_now(loop) - t0 >= 30);
  for (int i = 0; i < 4; i++)
    wsv_timer_free(t[i]);
  wsv_loop_free(loop);
}

struct rep {
  struct wsv_loop *loop;
  int count;
};

static void rep_fire(struct wsv_timer *t, void *user) {
  struct rep *r = user;
  if (++r->count == 5) {
    wsv_timer_free(t); /* freeing from its own callback is fine */
    wsv_loop_stop(r->loop);
  }
}

static void test_timer_repeat(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct rep r = {loop, 0};
  struct wsv_timer *t;
  assert_int_equal(wsv_timer_new(loop, &t, rep_fire, &r), 0);
  assert_int_equal(wsv_timer_start(t, 1, 5), 0);
  uint64_t t0 = wsv_loop_now(loop);
  assert_int_equal(wsv_loop_run(loop), 0);
  assert_int_equal(r.count, 5);
  assert_true(wsv_loop_now(loop) - t0 >= 20);
  wsv_loop_free(loop);
}

/* 100k timers: start them all, stop half, the rest fire in order. */
struct many {
  struct wsv_loop *loop;
  uint64_t last;
  int fired;
  int bad;
};

static void many_fire(struct wsv_timer *t, void *user) {
  struct many *m = user;
  (void)t;
  m->fired++;
}

static void test_many_timers(void **state) {
  (void)state;
  enum { N = 100000 };
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct many m = {loop, 0, 0, 0};
  struct wsv_timer **t = calloc(N, sizeof *t);
  assert_non_null(t);
  for (int i = 0; i < N; i++) {
    assert_int_equal(wsv_timer_new(loop, &t[i], many_fire, &m), 0);
    assert_int_equal(wsv_timer_start(t[i], (uint64_t)(i % 50), 0), 0);
  }
  for (int i = 0; i < N; i += 2)
    wsv_timer_stop(t[i]);
  for (int k = 0; k < 200 && m.fired < N / 2; k++)
    assert_true(wsv_loop_run_once(loop, 10) >= 0);
  assert_int_equal(m.fired, N / 2);
  for (int i = 0; i < N; i++)
    wsv_timer_free(t[i]);
  free(t);
  wsv_loop_free(loop);
}

/* ---- posts ------------------------------------------------------------------
 */

struct posts {
  struct wsv_loop *loop;
  int next;
  int bad;
};

static void post_fn(struct wsv_loop *loop, void *user) {
  struct posts *p = user;
  (void)loop;
  p->next++;
  if (p->next == 1000)
    wsv_loop_stop(p->loop);
}

static void *post_thread(void *arg) {
  struct posts *p = arg;
  for (int i = 0; i < 1000; i++)
    if (wsv_loop_post(p->loop, post_fn, p) != 0)
      p->bad++;
  return NULL;
}

static void test_cross_thread_post(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct posts p = {loop, 0, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, post_thread, &p), 0);
  assert_int_equal(wsv_loop_run(loop), 0);
  pthread_join(th, NULL);
  assert_int_equal(p.bad, 0);
  assert_int_equal(p.next, 1000);
  wsv_loop_free(loop);
}

/* Posts still queued when the loop is freed are run by wsv_loop_free. */
static void count_fn(struct wsv_loop *loop, void *user) {
  (void)loop;
  (*(int *)user)++;
}

static void test_post_at_free(void **state) {
  (void)state;
  struct wsv_loop *loop;
  int n = 0;
  assert_int_equal(wsv_loop_new(&loop), 0);
  assert_int_equal(wsv_loop_post(loop, count_fn, &n), 0);
  assert_int_equal(wsv_loop_post(loop, count_fn, &n), 0);
  wsv_loop_free(loop);
  assert_int_equal(n, 2);
}

static void *stop_thread(void *arg) {
  usleep(20000);
  wsv_loop_stop(arg);
  return NULL;
}

static void test_stop_from_thread(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stop_thread, loop), 0);
  assert_int_equal(wsv_loop_run(loop), 0);
  pthread_join(th, NULL);
  wsv_loop_free(loop);
}

/* ---- fd watches
 * -------------------------------------------------------------- */

struct pipe_state {
  int fds[2];
  char got[16];
  int n;
  struct wsv_io *io;
  struct wsv_loop *loop;
};

static void pipe_readable(struct wsv_io *io, int fd, unsigned events,
                          void *user) {
  struct pipe_state *p = user;
  assert_true(events & WSV_IO_READ);
  ssize_t r = read(fd, p->got + p->n, sizeof p->got - 1 - (size_t)p->n);
  assert_true(r > 0);
  p->n += (int)r;
  if (p->n >= 5) {
    wsv_io_stop(io); /* from its own callback */
    wsv_loop_stop(p->loop);
  }
}

static void pipe_write_later(struct wsv_timer *t, void *user) {
  struct pipe_state *p = user;
  assert_int_equal(write(p->fds[1], "hello", 5), 5);
  wsv_timer_free(t);
}

static void test_fd_watch(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct pipe_state p;
  memset(&p, 0, sizeof p);
  p.loop = loop;
  assert_int_equal(pipe(p.fds), 0);
  assert_int_equal(
      wsv_io_start(loop, &p.io, p.fds[0], WSV_IO_READ, pipe_readable, &p), 0);
  assert_int_equal(wsv_io_events(p.io), WSV_IO_READ);
  assert_int_equal(wsv_io_loop(p.io), loop);
  struct wsv_timer *t;
  assert_int_equal(wsv_timer_new(loop, &t, pipe_write_later, &p), 0);
  assert_int_equal(wsv_timer_start(t, 10, 0), 0);
  assert_int_equal(wsv_loop_run(loop), 0);
  assert_int_equal(p.n, 5);
  assert_memory_equal(p.got, "hello", 5);
  close(p.fds[0]);
  close(p.fds[1]);
  wsv_loop_free(loop);
}

static void test_bad_args(void **state) {
  (void)state;
  struct wsv_loop *loop;
  struct wsv_io *io;
  struct wsv_timer *t;
  assert_int_equal(wsv_loop_new(NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_loop_new(&loop), 0);
  assert_int_equal(
      wsv_io_start(loop, &io, -1, WSV_IO_READ, pipe_readable, NULL),
      WSV_ERR_INVAL);
  assert_int_equal(wsv_io_start(loop, &io, 0, 8u, pipe_readable, NULL),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_timer_new(loop, &t, NULL, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_loop_post(loop, NULL, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_loop_run_once(loop, 0), 0);
  wsv_loop_free(loop);
}

/* ---- signals
 * ------------------------------------------------------------------- */

static void on_usr1(struct wsv_signal *sig, int signo, void *user) {
  (void)sig;
  *(int *)user = signo;
}

static void test_signal(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_signal *s;
  int got = 0;
  int sigs[] = {SIGUSR1};
  assert_int_equal(wsv_signal_start(loop, &s, sigs, 1, on_usr1, &got), 0);
  assert_int_equal(pthread_kill(pthread_self(), SIGUSR1), 0);
  for (int i = 0; i < 50 && got == 0; i++)
    assert_true(wsv_loop_run_once(loop, 20) >= 0);
  assert_int_equal(got, SIGUSR1);
  wsv_signal_stop(s);
  wsv_loop_free(loop);
}

/* ---- the big-buffer cache (wsv__rt_loop_mem) --------------------------------
 */

static void test_big_cache(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  const struct wsv_mem *m = wsv__rt_loop_mem(loop);
  struct wsv__rt_cache *cache = wsv__rt_loop_cache(loop);
  /* A freed big buffer serves the next request it can hold. */
  uint8_t *p = m->malloc((size_t)1 << 20, m->user);
  assert_non_null(p);
  memset(p, 1, (size_t)1 << 20);
  m->free(p, m->user);
  assert_int_equal(cache->n, 1);
  uint8_t *q = m->malloc((size_t)512 << 10, m->user);
  assert_ptr_equal(q, p);
  assert_int_equal(cache->n, 0);
  m->free(q, m->user);
  /* Small buffers do not go into the big slots. */
  void *s = m->malloc(100, m->user);
  m->free(s, m->user);
  assert_int_equal(cache->n, 1);
  wsv__rt_cache_trim(loop, 1); /* the small lists empty for the next test */
  p = m->malloc((size_t)1 << 20, m->user);
  m->free(p, m->user);
  /* realloc: growing onto a cached buffer keeps the contents; growing
   * within what a buffer holds keeps the pointer. */
  uint8_t *hold = m->malloc((size_t)1 << 20, m->user);
  assert_ptr_equal(hold, p);
  uint8_t *r = m->malloc(70000, m->user); /* cache empty: a fresh one */
  assert_true(r != p);
  m->free(hold, m->user);
  for (size_t i = 0; i < 70000; i++)
    r[i] = (uint8_t)(i * 7);
  uint8_t *r2 = m->realloc(r, 900000, m->user);
  assert_ptr_equal(r2, p);
  for (size_t i = 0; i < 70000; i++)
    assert_int_equal(r2[i], (uint8_t)(i * 7));
  assert_int_equal(cache->n, 1); /* r went in */
  assert_ptr_equal(m->realloc(r2, 1000000, m->user), r2);
  m->free(r2, m->user);
  assert_int_equal(cache->n, 2);
  /* Full of small buffers: a bigger one displaces the smallest; a
   * smaller one is freed. */
  void *b[WSV__RT_CACHE_SLOTS];
  for (int i = 0; i < WSV__RT_CACHE_SLOTS; i++)
    b[i] = m->malloc((size_t)100 << 10, m->user);
  for (int i = 0; i < WSV__RT_CACHE_SLOTS; i++)
    m->free(b[i], m->user);
  assert_int_equal(cache->n, WSV__RT_CACHE_SLOTS);
  void *big = malloc((size_t)2 << 20);
  m->free(big, m->user);
  assert_int_equal(cache->n, WSV__RT_CACHE_SLOTS);
  int found = 0;
  for (int i = 0; i < cache->n; i++)
    found += cache->p[i] == big;
  assert_int_equal(found, 1);
  /* The byte bound: five 16 MiB buffers, at most 64 MiB kept. */
  wsv__rt_cache_trim(loop, 1);
  void *h[5];
  for (int i = 0; i < 5; i++)
    h[i] = m->malloc((size_t)16 << 20, m->user);
  for (int i = 0; i < 5; i++)
    m->free(h[i], m->user);
  assert_true(cache->bytes <= WSV__RT_CACHE_BYTES);
  assert_true(cache->n >= 3 && cache->n <= 4);
  /* Trim: kept while recently used, all given back after the delay; the
   * loop wakes by itself for it. */
  wsv__rt_cache_trim(loop, 0);
  assert_true(cache->n > 0);
  uint64_t t0 = wsv_loop_now(loop);
  /* Nothing else to wait for: one call that would sleep 10 s returns
   * once the buffers are due. */
  assert_true(wsv_loop_run_once(loop, 10000) >= 0);
  assert_true(wsv_loop_now(loop) - t0 < 5000);
  assert_int_equal(cache->n, 0);
  assert_int_equal(cache->bytes, 0);
  assert_true(wsv_loop_now(loop) - t0 >= WSV__RT_CACHE_KEEP_MS - 50);
  wsv_loop_free(loop);
}

/* The small-chunk lists: a freed chunk serves the next request of its
 * size class; never a request of less than half its size; a bounded
 * number of sizes and bytes; given back after the quiet delay. */
static void test_small_cache(void **state) {
  (void)state;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  const struct wsv_mem *m = wsv__rt_loop_mem(loop);
  struct wsv__rt_cache *cache = wsv__rt_loop_cache(loop);
  /* Reuse, last freed first, contents writable. */
  void *a = m->malloc(4120, m->user), *b = m->malloc(4120, m->user);
  assert_non_null(a);
  assert_non_null(b);
  m->free(a, m->user);
  m->free(b, m->user);
  assert_true(cache->small_bytes >= 2 * 4120);
  assert_ptr_equal(m->malloc(4120, m->user), b);
  assert_ptr_equal(m->malloc(3000, m->user), a); /* within 2x */
  memset(a, 0xab, 3000);
  memset(b, 0xcd, 4120);
  assert_int_equal(cache->small_bytes, 0);
  /* A small request does not pin a chunk of more than twice its size. */
  m->free(a, m->user);
  void *t = m->malloc(100, m->user);
  assert_ptr_not_equal(t, a);
  m->free(t, m->user);
  /* Chunks above WSV__RT_SMALL_MAX (and below the big ones) are freed. */
  size_t before = cache->small_bytes;
  void *mid = m->malloc(WSV__RT_SMALL_MAX + 1000, m->user);
  m->free(mid, m->user);
  assert_int_equal(cache->small_bytes, before);
  /* At most WSV__RT_SMALL_CLASSES sizes held at once. */
  void *z[WSV__RT_SMALL_CLASSES + 4];
  for (int i = 0; i < WSV__RT_SMALL_CLASSES + 4; i++)
    z[i] = m->malloc(200 + (size_t)i * 300, m->user);
  for (int i = 0; i < WSV__RT_SMALL_CLASSES + 4; i++)
    m->free(z[i], m->user);
  int used = 0;
  for (int i = 0; i < WSV__RT_SMALL_CLASSES; i++)
    used += cache->small_head[i] != NULL;
  assert_int_equal(used, WSV__RT_SMALL_CLASSES);
  /* The byte bound. */
  wsv__rt_cache_trim(loop, 1);
  size_t n = WSV__RT_SMALL_BYTES / 4000 + 100;
  void **many = malloc(n * sizeof *many);
  assert_non_null(many);
  for (size_t i = 0; i < n; i++)
    many[i] = m->malloc(4000, m->user);
  for (size_t i = 0; i < n; i++)
    m->free(many[i], m->user);
  free(many);
  assert_true(cache->small_bytes <= WSV__RT_SMALL_BYTES);
  assert_true(cache->small_bytes > WSV__RT_SMALL_BYTES / 2);
  m->free(b, m->user);
  /* Given back once quiet, the loop waking by itself for it. */
  uint64_t t0 = wsv_loop_now(loop);
  assert_true(wsv_loop_run_once(loop, 10000) >= 0);
  assert_true(wsv_loop_now(loop) - t0 < 5000);
  assert_int_equal(cache->small_bytes, 0);
  for (int i = 0; i < WSV__RT_SMALL_CLASSES; i++)
    assert_null(cache->small_head[i]);
  wsv_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timers_in_order),
      cmocka_unit_test(test_timer_repeat),
      cmocka_unit_test(test_many_timers),
      cmocka_unit_test(test_cross_thread_post),
      cmocka_unit_test(test_post_at_free),
      cmocka_unit_test(test_stop_from_thread),
      cmocka_unit_test(test_fd_watch),
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_signal),
      cmocka_unit_test(test_big_cache),
      cmocka_unit_test(test_small_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
