/*
 * memcache.h - the allocator a loop's connections use: malloc, with a
 * cache of big freed buffers (memcache.c).
 *
 * Buffers of at least WSV__RT_CACHE_MIN bytes that the loop's users free
 * through it are kept (up to WSV__RT_CACHE_SLOTS of them and
 * WSV__RT_CACHE_BYTES in all) and handed to the next request they can
 * hold, so that a steady stream of large messages does not map and fault
 * in fresh pages for every message.  They are given back to malloc once
 * none was used for WSV__RT_CACHE_KEEP_MS (a timer of the loop wakes it
 * for that), and then, if at least WSV__RT_TRIM_MIN bytes were freed
 * through the allocator since the last time, malloc_trim returns the free
 * pages of the whole process to the system (glibc keeps them otherwise).
 *
 * Small chunks (malloc_usable_size up to WSV__RT_SMALL_MAX: output
 * blocks, conns, message buffers of chat-sized messages) are kept too, in
 * up to WSV__RT_SMALL_CLASSES free lists of one usable size each, at most
 * WSV__RT_SMALL_BYTES in all, and given back with the big ones.  Without
 * them a publish to a thousand subscribers allocates a thousand output
 * blocks and frees them once written, and glibc hands the heap's top back
 * to the kernel and grows it again each time (brk, then fresh pages
 * faulted in): measured, 29 % of the server's CPU in `wsv bench fanout`.
 * Only the loop's thread uses it.  It is a loop extension (loop_int.h).
 */
#ifndef WSV_RT_MEMCACHE_H
#define WSV_RT_MEMCACHE_H

#include <stddef.h>

#include "loop_int.h"

#define WSV__RT_CACHE_MIN ((size_t)64 << 10)
#define WSV__RT_CACHE_SLOTS 8
#define WSV__RT_CACHE_BYTES ((size_t)64 << 20)
#define WSV__RT_CACHE_KEEP_MS 2000
#define WSV__RT_TRIM_MIN ((size_t)16 << 20)
#define WSV__RT_SMALL_MAX ((size_t)8 << 10)
#define WSV__RT_SMALL_CLASSES 16
#define WSV__RT_SMALL_BYTES ((size_t)16 << 20)

/* The cache (a loop extension).  Its fields are read by tests only. */
struct wsv__rt_cache {
  struct wsv_loop *loop;
  struct wsv_mem mem;     /* user: this */
  struct wsv_timer timer; /* gives the buffers back once quiet */
  void *p[WSV__RT_CACHE_SLOTS];
  size_t size[WSV__RT_CACHE_SLOTS]; /* malloc_usable_size of each */
  int n;
  size_t bytes;
  uint64_t last_use; /* last take, keep, or large free */
  size_t freed;      /* bytes freed since the last trim */
  /* Small chunks: class i holds free chunks of usable size small_size[i]
   * (0: unused), linked through their first word. */
  void *small_head[WSV__RT_SMALL_CLASSES];
  size_t small_size[WSV__RT_SMALL_CLASSES];
  size_t small_bytes; /* in all the lists */
};

/* The loop's cache if wsv__rt_loop_mem made one, else NULL. */
struct wsv__rt_cache *wsv__rt_loop_cache(struct wsv_loop *loop);

/* The loop's allocator (made on first use), or NULL (no memory).  The
 * pointer stays valid until wsv_loop_free. */
const struct wsv_mem *wsv__rt_loop_mem(struct wsv_loop *loop);

/* Give the cached buffers back now if `all`, else only when none was used
 * for WSV__RT_CACHE_KEEP_MS (what the timer does); malloc_trim after
 * WSV__RT_TRIM_MIN freed.  Nothing happens when the loop has no cache. */
void wsv__rt_cache_trim(struct wsv_loop *loop, int all);

#endif /* WSV_RT_MEMCACHE_H */
