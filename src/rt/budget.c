/*
 * budget.c - a server's memory budgets across all its connections and
 * threads: one for queued output, one for messages being received.
 *
 * Output.  Every server connection remembers how much of its output it
 * has counted (ws->out_counted); each change is added to its thread's
 * share, a counter only that thread writes.  The shares add up to the
 * server's total.  No thread's share can push the total over the budget
 * unless that share is itself over budget/threads, so a thread looks at
 * the other shares only then; if the total is over the budget too, it
 * fails its own connections holding the most unsent data, largest first,
 * with 1008 (wsv__rt_ws_shed: their unsent frames are dropped at once),
 * until its share or the total is back under 7/8 of its bound.
 *
 * Input.  The core asks before the buffer of a message being received
 * grows (wsv_conn_config.msg_reserve); the answer is one atomic counter
 * shared by every thread.  Growth that would pass the budget is refused
 * (the connection fails with 1009), except up to BUDGET_SMALL bytes per
 * message, so that small messages (a compressed one needs a 16 KiB
 * buffer to inflate into) go on flowing while large ones hold the
 * budget: the worst case is the budget plus BUDGET_SMALL per connection.
 */
#include <stdlib.h>

#include "ws_int.h"

#define BUDGET_SMALL ((size_t)16 << 10)
/* How often (ms) a thread logs that it shed connections. */
#define BUDGET_LOG_MS 1000

/* One thread's share, on a cache line of its own. */
struct budget_share {
  _Alignas(64) atomic_size_t used;
  int shedding; /* in budget_shed: accounting only, no second round */
  size_t shed_count;
  size_t shed_bytes;
  uint64_t last_log;
};

struct wsv__rt_budget {
  size_t out_limit; /* 0: no output budget */
  size_t out_share; /* out_limit / threads */
  size_t in_limit;  /* 0: no input budget */
  atomic_size_t in_used;
  int nshares;
  struct budget_share *shares;
  wsv__rt_budget_victim_fn victim;
  void *victim_user;
};

int wsv__rt_budget_new(struct wsv__rt_budget **out, size_t out_limit,
                       size_t in_limit, int threads,
                       wsv__rt_budget_victim_fn victim, void *victim_user) {
  *out = NULL;
  if (out_limit == 0 && in_limit == 0)
    return 0;
  struct wsv__rt_budget *b = calloc(1, sizeof *b);
  if (b == NULL)
    return WSV_ERR_NOMEM;
  b->shares = aligned_alloc(64, sizeof *b->shares * (size_t)threads);
  if (b->shares == NULL) {
    free(b);
    return WSV_ERR_NOMEM;
  }
  for (int i = 0; i < threads; i++) {
    struct budget_share *s = &b->shares[i];
    atomic_init(&s->used, 0);
    s->shedding = 0;
    s->shed_count = s->shed_bytes = 0;
    s->last_log = 0;
  }
  b->nshares = threads;
  b->victim = victim;
  b->victim_user = victim_user;
  b->out_limit = out_limit;
  b->out_share = out_limit / (size_t)threads;
  b->in_limit = in_limit;
  atomic_init(&b->in_used, 0);
  *out = b;
  return 0;
}

void wsv__rt_budget_free(struct wsv__rt_budget *b) {
  if (b != NULL) {
    free(b->shares);
    free(b);
  }
}

size_t wsv__rt_budget_output(const struct wsv__rt_budget *b) {
  size_t sum = 0;
  for (int i = 0; b != NULL && i < b->nshares; i++)
    sum += atomic_load_explicit(&b->shares[i].used, memory_order_relaxed);
  return sum;
}

size_t wsv__rt_budget_input(const struct wsv__rt_budget *b) {
  return b == NULL ? 0
                   : atomic_load_explicit(&b->in_used, memory_order_relaxed);
}

int wsv__rt_budget_reserve(void *user, size_t from, size_t to) {
  struct wsv__rt_budget *b = user;
  if (to <= from) {
    atomic_fetch_sub_explicit(&b->in_used, from - to, memory_order_relaxed);
    return 0;
  }
  size_t add = to - from;
  size_t now =
      atomic_fetch_add_explicit(&b->in_used, add, memory_order_relaxed) + add;
  if (b->in_limit != 0 && now > b->in_limit && to > BUDGET_SMALL) {
    atomic_fetch_sub_explicit(&b->in_used, add, memory_order_relaxed);
    return 1;
  }
  return 0;
}

static void budget_shed(struct wsv__rt_budget *b, int share,
                        struct wsv_ws *any) {
  struct budget_share *s = &b->shares[share];
  size_t share_low = b->out_share / 8 * 7, total_low = b->out_limit / 8 * 7;
  s->shedding = 1;
  while (atomic_load_explicit(&s->used, memory_order_relaxed) > share_low &&
         wsv__rt_budget_output(b) > total_low) {
    struct wsv_ws *victim = b->victim(b->victim_user, share);
    if (victim == NULL)
      break;
    s->shed_bytes += wsv__rt_ws_shed(victim);
    s->shed_count++;
  }
  s->shedding = 0;
  uint64_t now = any->tp.loop->now;
  if (s->shed_count > 0 && now - s->last_log >= BUDGET_LOG_MS) {
    s->last_log = now;
    wsv__rt_log(any->ctx, WSV_LOG_WARN,
                "output budget of %zu bytes reached: %zu connection(s) "
                "holding the most failed with 1008, %zu unsent bytes dropped",
                b->out_limit, s->shed_count, s->shed_bytes);
    s->shed_count = s->shed_bytes = 0;
  }
}

void wsv__rt_budget_out(struct wsv__rt_budget *b, int share, uint32_t *counted,
                        size_t now, struct wsv_ws *ws) {
  struct budget_share *s = &b->shares[share];
  size_t used = atomic_load_explicit(&s->used, memory_order_relaxed);
  used = used - *counted + now;
  atomic_store_explicit(&s->used, used, memory_order_relaxed);
  *counted = (uint32_t)now;
  if (b->out_limit != 0 && used > b->out_share && !s->shedding &&
      wsv__rt_budget_output(b) > b->out_limit)
    budget_shed(b, share, ws);
}
