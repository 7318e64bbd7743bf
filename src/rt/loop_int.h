/*
 * loop_int.h - the event loop's internal interface (loop.c, timer.c): fd
 * watches, timers, signals, posts, end-of-iteration hooks and per-loop
 * extensions.  The loop knows nothing of what its users are (transports,
 * WebSockets, servers, clients): they register watches, timers and hooks,
 * and keep their per-loop state in an extension.  Nothing here is
 * installed; symbols are wsv__rt_-prefixed and hidden.
 */
#ifndef WSV_RT_LOOP_INT_H
#define WSV_RT_LOOP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "wsv.h"
#include "wsv/rt.h"

/* ---- watches --------------------------------------------------------------
 * Every object registered with epoll starts with a struct wsv__rt_watch;
 * epoll's data.ptr points at it and `fn` handles its events. */
struct wsv__rt_watch;
typedef void (*wsv__rt_watch_fn)(struct wsv__rt_watch *w, uint32_t events);

struct wsv__rt_watch {
  wsv__rt_watch_fn fn;
  int fd;
  uint32_t events; /* the epoll events registered (0: not registered) */
};

/* Register `w` (fd and fn set) for `events`, change its events, or
 * unregister it.  wsv__rt_watch_del also forgets any event for `w` still
 * waiting in the current batch, so `w` may be freed right after.  Return 0
 * or -1 with errno set. */
int wsv__rt_watch_add(struct wsv_loop *loop, struct wsv__rt_watch *w,
                      uint32_t events);
int wsv__rt_watch_mod(struct wsv_loop *loop, struct wsv__rt_watch *w,
                      uint32_t events);
void wsv__rt_watch_del(struct wsv_loop *loop, struct wsv__rt_watch *w);

/* ---- timer.c --------------------------------------------------------------
 * The timer (public type; embedded in its users, so those need no separate
 * allocation).  heap_idx is WSV__RT_TIMER_OFF when not armed.  seq orders
 * timers with equal deadlines (compared modulo 2^32). */
struct wsv_timer {
  struct wsv_loop *loop;
  uint64_t deadline;
  uint64_t repeat;
  uint32_t seq;
  uint32_t heap_idx;
  wsv_timer_fn cb;
  void *user;
};

#define WSV__RT_TIMER_OFF UINT32_MAX

/* Set up an embedded timer (stopped). */
void wsv__rt_timer_init(struct wsv_timer *t, struct wsv_loop *loop,
                        wsv_timer_fn cb, void *user);
/* Fire the due timers; returns how many fired. */
int wsv__rt_timers_run(struct wsv_loop *loop);
/* Milliseconds until the first deadline (capped at INT_MAX), or -1. */
int wsv__rt_timers_timeout(const struct wsv_loop *loop);

/* ---- end-of-iteration hooks -----------------------------------------------
 * Run on the loop's thread at the end of every iteration (after fd events,
 * timers and posts), in the order they were added, and again by
 * wsv_loop_free until none reports work left.  A hook returns nonzero
 * when it left work for the next iteration (which then does not wait). */
typedef int (*wsv__rt_hook_fn)(struct wsv_loop *loop, void *user);
#define WSV__RT_HOOKS 4

/* Add a hook; 0, or -1 when WSV__RT_HOOKS are taken. */
int wsv__rt_loop_hook(struct wsv_loop *loop, wsv__rt_hook_fn fn, void *user);
/* The next wait returns at once (something is queued for the hooks). */
static inline void wsv__rt_loop_dont_wait(struct wsv_loop *loop);

/* ---- extensions -------------------------------------------------------------
 * Per-loop state of a module above the loop (its lists, buffers, caches),
 * made on first use and found by the address of its type.  At
 * wsv_loop_free, after the queued posts, every extension's `close` runs
 * (last made first: drop what you own), then the hooks until idle, then
 * every `free` (last made first). */
struct wsv__rt_ext_type {
  size_t size; /* bytes, zeroed before init */
  /* Set up; 0, or -1 (the extension is not made). */
  int (*init)(struct wsv_loop *loop, void *ext);
  void (*close)(struct wsv_loop *loop, void *ext); /* may be NULL */
  void (*free)(struct wsv_loop *loop, void *ext);  /* may be NULL */
};
#define WSV__RT_EXTS 8

/* The loop's extension of `type`, made if needed; NULL when it cannot
 * be (no memory, init failed, all WSV__RT_EXTS slots taken). */
void *wsv__rt_loop_ext(struct wsv_loop *loop,
                       const struct wsv__rt_ext_type *type);
/* The extension of `type` if it exists, else NULL. */
void *wsv__rt_loop_ext_find(const struct wsv_loop *loop,
                            const struct wsv__rt_ext_type *type);

/* ---- the loop itself ------------------------------------------------------
 */
struct loop_post; /* a queued wsv_loop_post call (loop.c) */

/* A hook run on the loop's thread whenever the loop is woken through its
 * eventfd (wsv_loop_stop, wsv_loop_post, wsv__rt_loop_wake). */
typedef void (*wsv__rt_wake_fn)(struct wsv_loop *loop, void *user);

struct wsv_loop {
  int epfd;
  int dont_wait; /* see wsv__rt_loop_dont_wait */
  uint64_t now;
  /* The read buffer shared by the loop's users (one read at a time). */
  uint8_t *rbuf;
  size_t rbuf_cap;
  struct wsv__rt_watch wake; /* the eventfd */
  atomic_int stop;
  atomic_int running;
  pthread_t owner;
  /* The current epoll batch (so a watch deleted mid-batch is forgotten). */
  struct epoll_event *batch;
  int batch_cap;
  int batch_len;
  /* The timer heap. */
  struct wsv_timer **heap;
  size_t heap_len;
  size_t heap_cap;
  uint32_t timer_seq;
  /* Cross-thread posts. */
  pthread_mutex_t post_mu;
  struct loop_post *post_head;
  struct loop_post *post_tail;
  wsv__rt_wake_fn wake_hook;
  void *wake_user;
  struct {
    wsv__rt_hook_fn fn;
    void *user;
  } hooks[WSV__RT_HOOKS];
  int nhooks;
  struct {
    const struct wsv__rt_ext_type *type;
    void *p;
  } exts[WSV__RT_EXTS];
  int nexts;
};

static inline void wsv__rt_loop_dont_wait(struct wsv_loop *loop) {
  loop->dont_wait = 1;
}

/* Wake the loop (async-signal-safe): the wake hook runs on its thread. */
void wsv__rt_loop_wake(struct wsv_loop *loop);
/* Make sure the read buffer holds at least `size` bytes; 0 or -1. */
int wsv__rt_loop_rbuf(struct wsv_loop *loop, size_t size);
/* Nonzero when the loop is running on the calling thread (unlike
 * wsv_loop_in_thread, 0 for a loop that is not running). */
int wsv__rt_loop_running_here(const struct wsv_loop *loop);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t wsv__rt_now_ms(void);

#endif /* WSV_RT_LOOP_INT_H */
