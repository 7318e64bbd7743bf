/*
 * memcache.c - the loop's allocator with its cache of big freed buffers
 * (see memcache.h).  A loop extension: one per loop, made by the first
 * wsv__rt_loop_mem call.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "memcache.h"

/* The smallest cached buffer that holds n bytes, taken out; or NULL. */
static void *cache_take(struct wsv__rt_cache *c, size_t n) {
  int best = -1;
  for (int i = 0; i < c->n; i++)
    if (c->size[i] >= n && (best < 0 || c->size[i] < c->size[best]))
      best = i;
  if (best < 0)
    return NULL;
  void *p = c->p[best];
  c->bytes -= c->size[best];
  c->n--;
  c->p[best] = c->p[c->n];
  c->size[best] = c->size[c->n];
  return p;
}

/* A kept small chunk of at least n bytes and at most twice that (so a
 * small request never pins a much larger chunk), taken out; or NULL. */
static void *small_take(struct wsv__rt_cache *c, size_t n) {
  int best = -1;
  for (int i = 0; i < WSV__RT_SMALL_CLASSES; i++)
    if (c->small_head[i] != NULL && c->small_size[i] >= n &&
        c->small_size[i] <= 2 * n &&
        (best < 0 || c->small_size[i] < c->small_size[best]))
      best = i;
  if (best < 0)
    return NULL;
  void *p = c->small_head[best];
  memcpy(&c->small_head[best], p, sizeof p);
  c->small_bytes -= c->small_size[best];
  return p;
}

/* Keep p (usable size u <= WSV__RT_SMALL_MAX) on its size's list; 0 if
 * there is no room (the byte bound, or every class taken by other sizes
 * that still hold chunks). */
static int small_keep(struct wsv__rt_cache *c, void *p, size_t u) {
  int at = -1;
  if (u < sizeof p || u > WSV__RT_SMALL_BYTES - c->small_bytes)
    return 0;
  for (int i = 0; i < WSV__RT_SMALL_CLASSES; i++) {
    if (c->small_size[i] == u) {
      at = i;
      break;
    }
    if (at < 0 && c->small_head[i] == NULL)
      at = i; /* unused, or emptied: may take a new size */
  }
  if (at < 0)
    return 0;
  c->small_size[at] = u;
  memcpy(p, &c->small_head[at], sizeof p);
  c->small_head[at] = p;
  c->small_bytes += u;
  return 1;
}

/* Nonzero when the cache holds buffers or enough was freed since the last
 * malloc_trim that trimming is worth it once the loop is quiet. */
static int cache_wants_trim(const struct wsv__rt_cache *c) {
  return c->n > 0 || c->small_bytes > 0 || c->freed >= WSV__RT_TRIM_MIN;
}

/* Come back once no big buffer was used for WSV__RT_CACHE_KEEP_MS, if
 * there is something to give back then. */
static void cache_arm(struct wsv__rt_cache *c) {
  if (wsv_timer_active(&c->timer) || !cache_wants_trim(c))
    return;
  uint64_t idle = c->loop->now - c->last_use;
  uint64_t left =
      idle >= WSV__RT_CACHE_KEEP_MS ? 1 : WSV__RT_CACHE_KEEP_MS - idle + 1;
  (void)wsv_timer_start(&c->timer, left, 0);
}

/* A big buffer was used: the quiet time starts again. */
static void cache_used(struct wsv__rt_cache *c) {
  c->last_use = c->loop->now;
  cache_arm(c);
}

static void *cache_malloc(size_t n, void *user) {
  struct wsv__rt_cache *c = user;
  void *p = NULL;
  if (n >= WSV__RT_CACHE_MIN)
    p = cache_take(c, n);
  else if (n <= WSV__RT_SMALL_MAX && c->small_bytes > 0)
    p = small_take(c, n);
  if (p != NULL) {
    c->last_use = c->loop->now;
    return p;
  }
  return malloc(n);
}

/* Free the smallest cached buffer if it is smaller than u; 1 if one was. */
static int cache_evict_below(struct wsv__rt_cache *c, size_t u) {
  int small = -1;
  for (int i = 0; i < c->n; i++)
    if (small < 0 || c->size[i] < c->size[small])
      small = i;
  if (small < 0 || c->size[small] >= u)
    return 0;
  free(c->p[small]);
  c->bytes -= c->size[small];
  c->n--;
  c->p[small] = c->p[c->n];
  c->size[small] = c->size[c->n];
  return 1;
}

static void cache_free(void *p, void *user) {
  struct wsv__rt_cache *c = user;
  if (p == NULL)
    return;
  size_t u = malloc_usable_size(p);
  if (u <= WSV__RT_SMALL_MAX && small_keep(c, p, u)) {
    cache_used(c);
    return;
  }
  c->freed += u;
  if (u < WSV__RT_CACHE_MIN || u > WSV__RT_CACHE_BYTES) {
    free(p);
    if (u >= WSV__RT_CACHE_MIN)
      cache_used(c); /* a burst is ending: trim once it has */
    else
      cache_arm(c); /* small frees add up to a trim, not to the quiet */
    return;
  }
  /* Full: a bigger buffer displaces smaller ones (a growing message
   * leaves its smaller stages behind, which would block the cache). */
  while ((c->n == WSV__RT_CACHE_SLOTS || u > WSV__RT_CACHE_BYTES - c->bytes) &&
         cache_evict_below(c, u))
    ;
  if (c->n == WSV__RT_CACHE_SLOTS || u > WSV__RT_CACHE_BYTES - c->bytes) {
    free(p);
    return;
  }
  c->p[c->n] = p;
  c->size[c->n] = u;
  c->n++;
  c->bytes += u;
  cache_used(c);
}

static void *cache_realloc(void *p, size_t n, void *user) {
  if (p == NULL)
    return cache_malloc(n, user);
  size_t u = malloc_usable_size(p);
  if (n <= u)
    return p; /* it already holds n bytes */
  if (n < WSV__RT_CACHE_MIN)
    return realloc(p, n);
  void *q = cache_malloc(n, user);
  if (q == NULL)
    return NULL; /* p is untouched, as realloc leaves it */
  memcpy(q, p, u);
  cache_free(p, user);
  return q;
}

static void cache_trim(struct wsv__rt_cache *c, int all) {
  if (!cache_wants_trim(c) ||
      (!all && c->loop->now - c->last_use < WSV__RT_CACHE_KEEP_MS))
    return;
  for (int i = 0; i < c->n; i++)
    free(c->p[i]);
  size_t freed = c->freed + c->bytes + c->small_bytes;
  for (int i = 0; i < WSV__RT_SMALL_CLASSES; i++) {
    void *p = c->small_head[i];
    while (p != NULL) {
      void *next;
      memcpy(&next, p, sizeof next);
      free(p);
      p = next;
    }
    c->small_head[i] = NULL;
    c->small_size[i] = 0;
  }
  c->n = 0;
  c->bytes = 0;
  c->small_bytes = 0;
  c->freed = 0;
#ifdef __GLIBC__
  /* free() keeps the pages of chunks below the heap's top (and every
   * thread arena's): after a burst of large messages or queued output that
   * can be gigabytes.  malloc_trim hands their whole pages back. */
  if (freed >= WSV__RT_TRIM_MIN)
    (void)malloc_trim(0);
#else
  (void)freed;
#endif
}

static void cache_on_timer(struct wsv_timer *t, void *user) {
  struct wsv__rt_cache *c = user;
  (void)t;
  cache_trim(c, 0);
  cache_arm(c); /* used since: look again when it may be quiet */
}

static int cache_init(struct wsv_loop *loop, void *ext) {
  struct wsv__rt_cache *c = ext;
  c->loop = loop;
  c->mem.user = c;
  c->mem.malloc = cache_malloc;
  c->mem.realloc = cache_realloc;
  c->mem.free = cache_free;
  c->last_use = loop->now;
  wsv__rt_timer_init(&c->timer, loop, cache_on_timer, c);
  return 0;
}

static void cache_fini(struct wsv_loop *loop, void *ext) {
  struct wsv__rt_cache *c = ext;
  (void)loop;
  wsv_timer_stop(&c->timer);
  cache_trim(c, 1);
}

static const struct wsv__rt_ext_type memcache_type = {
    sizeof(struct wsv__rt_cache), cache_init, NULL, cache_fini};

const struct wsv_mem *wsv__rt_loop_mem(struct wsv_loop *loop) {
  struct wsv__rt_cache *c = wsv__rt_loop_ext(loop, &memcache_type);
  return c != NULL ? &c->mem : NULL;
}

struct wsv__rt_cache *wsv__rt_loop_cache(struct wsv_loop *loop) {
  return wsv__rt_loop_ext_find(loop, &memcache_type);
}

void wsv__rt_cache_trim(struct wsv_loop *loop, int all) {
  struct wsv__rt_cache *c = wsv__rt_loop_ext_find(loop, &memcache_type);
  if (c != NULL)
    cache_trim(c, all);
}
