/* mem.c - the caller's allocator; the only file that calls malloc/free. */
#include <stdlib.h>
#include <string.h>

#include "int.h"

static void *mem_default_malloc(size_t n, void *user) {
  (void)user;
  return malloc(n);
}

static void *mem_default_realloc(void *p, size_t n, void *user) {
  (void)user;
  return realloc(p, n);
}

static void mem_default_free(void *p, void *user) {
  (void)user;
  free(p);
}

void wsv__mem_init(struct wsv_mem *m, const struct wsv_mem *user) {
  if (user != NULL && user->malloc != NULL && user->free != NULL &&
      user->realloc != NULL) {
    *m = *user;
    return;
  }
  m->user = NULL;
  m->malloc = mem_default_malloc;
  m->realloc = mem_default_realloc;
  m->free = mem_default_free;
}

void *wsv__malloc(const struct wsv_mem *m, size_t n) {
  return m->malloc(n == 0 ? 1 : n, m->user);
}

void *wsv__calloc(const struct wsv_mem *m, size_t n) {
  void *p = wsv__malloc(m, n);
  if (p != NULL)
    memset(p, 0, n);
  return p;
}

void *wsv__realloc(const struct wsv_mem *m, void *p, size_t n) {
  return m->realloc(p, n == 0 ? 1 : n, m->user);
}

void wsv__free(const struct wsv_mem *m, void *p) {
  if (p != NULL)
    m->free(p, m->user);
}
