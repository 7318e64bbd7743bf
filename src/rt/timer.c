/*
 * timer.c - timers in a binary min-heap ordered by (deadline, sequence).
 * Each timer knows its heap index, so stopping one is O(log n) and
 * restarting one costs no allocation.
 */
#include <limits.h>
#include <stdlib.h>

#include "loop_int.h"

static int timer_less(const struct wsv_timer *a, const struct wsv_timer *b) {
  return a->deadline < b->deadline ||
         (a->deadline == b->deadline && (int32_t)(a->seq - b->seq) < 0);
}

static void timer_place(struct wsv_loop *loop, size_t i, struct wsv_timer *t) {
  loop->heap[i] = t;
  t->heap_idx = (uint32_t)i;
}

static void timer_sift_up(struct wsv_loop *loop, size_t i) {
  struct wsv_timer *t = loop->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!timer_less(t, loop->heap[parent]))
      break;
    timer_place(loop, i, loop->heap[parent]);
    i = parent;
  }
  timer_place(loop, i, t);
}

static void timer_sift_down(struct wsv_loop *loop, size_t i) {
  struct wsv_timer *t = loop->heap[i];
  size_t n = loop->heap_len;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && timer_less(loop->heap[c + 1], loop->heap[c]))
      c++;
    if (!timer_less(loop->heap[c], t))
      break;
    timer_place(loop, i, loop->heap[c]);
    i = c;
  }
  timer_place(loop, i, t);
}

static void timer_remove(struct wsv_timer *t) {
  struct wsv_loop *loop = t->loop;
  size_t i = t->heap_idx;
  t->heap_idx = WSV__RT_TIMER_OFF;
  struct wsv_timer *last = loop->heap[--loop->heap_len];
  if (last == t)
    return;
  timer_place(loop, i, last);
  if (i > 0 && timer_less(last, loop->heap[(i - 1) / 2]))
    timer_sift_up(loop, i);
  else
    timer_sift_down(loop, i);
}

static int timer_push(struct wsv_timer *t) {
  struct wsv_loop *loop = t->loop;
  if (loop->heap_len == loop->heap_cap) {
    if (loop->heap_cap >= WSV__RT_TIMER_OFF / 2)
      return WSV_ERR_NOMEM;
    size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
    struct wsv_timer **h = realloc(loop->heap, cap * sizeof *h);
    if (h == NULL)
      return WSV_ERR_NOMEM;
    loop->heap = h;
    loop->heap_cap = cap;
  }
  t->seq = loop->timer_seq++;
  loop->heap[loop->heap_len] = t;
  t->heap_idx = (uint32_t)loop->heap_len++;
  timer_sift_up(loop, t->heap_idx);
  return 0;
}

void wsv__rt_timer_init(struct wsv_timer *t, struct wsv_loop *loop,
                        wsv_timer_fn cb, void *user) {
  t->loop = loop;
  t->deadline = 0;
  t->repeat = 0;
  t->seq = 0;
  t->heap_idx = WSV__RT_TIMER_OFF;
  t->cb = cb;
  t->user = user;
}

int wsv_timer_new(struct wsv_loop *loop, struct wsv_timer **out,
                  wsv_timer_fn cb, void *user) {
  if (loop == NULL || out == NULL || cb == NULL)
    return WSV_ERR_INVAL;
  struct wsv_timer *t = malloc(sizeof *t);
  if (t == NULL)
    return WSV_ERR_NOMEM;
  wsv__rt_timer_init(t, loop, cb, user);
  *out = t;
  return 0;
}

int wsv_timer_start(struct wsv_timer *t, uint64_t delay_ms,
                    uint64_t repeat_ms) {
  if (t == NULL)
    return WSV_ERR_INVAL;
  if (t->heap_idx != WSV__RT_TIMER_OFF)
    timer_remove(t);
  uint64_t now = t->loop->now;
  t->deadline = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
  t->repeat = repeat_ms;
  return timer_push(t);
}

void wsv_timer_stop(struct wsv_timer *t) {
  if (t != NULL && t->heap_idx != WSV__RT_TIMER_OFF)
    timer_remove(t);
}

int wsv_timer_active(const struct wsv_timer *t) {
  return t != NULL && t->heap_idx != WSV__RT_TIMER_OFF;
}

void wsv_timer_free(struct wsv_timer *t) {
  if (t == NULL)
    return;
  wsv_timer_stop(t);
  free(t);
}

struct wsv_loop *wsv_timer_loop(const struct wsv_timer *t) {
  return t == NULL ? NULL : t->loop;
}

int wsv__rt_timers_timeout(const struct wsv_loop *loop) {
  if (loop->heap_len == 0)
    return -1;
  uint64_t d = loop->heap[0]->deadline;
  uint64_t now = wsv__rt_now_ms();
  if (d <= now)
    return 0;
  return d - now > INT_MAX ? INT_MAX : (int)(d - now);
}

/* Fire every timer due now that was armed before this pass began (so a
 * callback that rearms with delay 0 waits for the next iteration). */
int wsv__rt_timers_run(struct wsv_loop *loop) {
  uint32_t limit = loop->timer_seq;
  int fired = 0;
  while (loop->heap_len > 0) {
    struct wsv_timer *t = loop->heap[0];
    if (t->deadline > loop->now || (int32_t)(t->seq - limit) >= 0)
      break;
    timer_remove(t);
    if (t->repeat > 0) {
      uint64_t late = loop->now - t->deadline;
      t->deadline += (late / t->repeat + 1) * t->repeat;
      if (timer_push(t) != 0)
        t->repeat = 0;
    }
    fired++;
    t->cb(t, t->user);
  }
  return fired;
}
