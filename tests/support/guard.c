#define _DEFAULT_SOURCE
#include "support/guard.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static size_t span(size_t len) {
  size_t pg = page_size();
  return ((len + pg - 1) / pg + 1) * pg;
}

uint8_t *guard_copy(const void *p, size_t len) {
  size_t total = span(len);
  uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    abort();
  if (mprotect(base + total - page_size(), page_size(), PROT_NONE) != 0)
    abort();
  uint8_t *copy = base + total - page_size() - len;
  if (len > 0)
    memcpy(copy, p, len);
  return copy;
}

void guard_free(uint8_t *copy, size_t len) {
  size_t total = span(len);
  uint8_t *base = copy + len + page_size() - total;
  munmap(base, total);
}
