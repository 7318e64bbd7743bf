/*
 * fuzz/redis_nodes.c - libFuzzer target for the Redis engine's nodes
 * parser (src/rt/redis_config.c, wsv__redis_parse_nodes): the value of
 * `wsv serve --broker`.
 *
 * Input: the bytes of one nodes string (cut at a NUL, as a C string is).
 *
 * Checked: never reads past the string (ASan); a refusal comes with a
 * reason; an accepted string gives 1..WSV__REDIS_MAX_NODES nodes, each
 * with a non-empty NUL-terminated host of a known kind and a port of
 * 1..65535; and the nodes written back as "redis://H:P,..." (IPv6 in
 * brackets) parse again to the same nodes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "wsv/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *s = malloc(size + 1);
  CHECK(s != NULL);
  memcpy(s, data, size);
  s[size] = '\0';
  static struct wsv__redis_node a[WSV__REDIS_MAX_NODES],
      b[WSV__REDIS_MAX_NODES];
  const char *why = NULL;
  int n = wsv__redis_parse_nodes(s, a, WSV__REDIS_MAX_NODES, &why);
  if (n < 0) {
    CHECK(n == WSV_ERR_INVAL && why != NULL && why[0] != '\0');
    free(s);
    return 0;
  }
  CHECK(n >= 1 && n <= WSV__REDIS_MAX_NODES);
  static char again[WSV__REDIS_MAX_NODES * 300 + 16];
  size_t at = (size_t)snprintf(again, sizeof again, "redis://");
  for (int i = 0; i < n; i++) {
    CHECK(memchr(a[i].host, '\0', sizeof a[i].host) != NULL);
    CHECK(a[i].host[0] != '\0');
    CHECK(a[i].port >= 1);
    CHECK(a[i].host_kind == WSV_HOST_REG_NAME ||
          a[i].host_kind == WSV_HOST_IPV4 || a[i].host_kind == WSV_HOST_IPV6);
    int v6 = a[i].host_kind == WSV_HOST_IPV6;
    at += (size_t)snprintf(again + at, sizeof again - at, "%s%s%s%s:%u",
                           i > 0 ? "," : "", v6 ? "[" : "", a[i].host,
                           v6 ? "]" : "", (unsigned)a[i].port);
    CHECK(at < sizeof again);
  }
  int m = wsv__redis_parse_nodes(again, b, WSV__REDIS_MAX_NODES, &why);
  CHECK(m == n);
  for (int i = 0; i < n; i++) {
    CHECK(strcmp(a[i].host, b[i].host) == 0);
    CHECK(a[i].port == b[i].port && a[i].host_kind == b[i].host_kind);
  }
  free(s);
  return 0;
}
