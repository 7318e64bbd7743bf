/* random.c - the default random source: the OS CSPRNG (getrandom(2)).
 * This is the one place the core asks the OS for anything; callers can
 * pass their own wsv_random_fn instead. */
#include <errno.h>
#include <sys/random.h>

#include "int.h"

int wsv_random_os(void *user, uint8_t *buf, size_t len) {
  (void)user;
  while (len > 0) {
    ssize_t n = getrandom(buf, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    buf += (size_t)n;
    len -= (size_t)n;
  }
  return 0;
}

