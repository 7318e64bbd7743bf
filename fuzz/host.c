/*
 * fuzz/host.c - libFuzzer target for the RFC 3986 host parser in http.c
 * (wsv__uri_host_port, wsv__uri_host, wsv__uri_ipv6).
 *
 * Input: the bytes of one Host field value.
 *
 * Checked: never reads past the input (ASan); an accepted host[:port]
 * splits into a host part that is accepted alone as the same kind and a
 * port of 0..65535 after one ':' (or none), and a rejected one leaves the
 * outputs alone; IPv6address agrees with glibc's inet_pton(AF_INET6) and
 * IPv4address with inet_pton(AF_INET) (both follow RFC 4291 / the dotted
 * quad with no leading zero: an independent oracle); "[" IPv6 "]" is a
 * host of the IPv6 kind exactly when the inside is an IPv6address.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  size_t hl = (size_t)-1;
  long port = -2;
  int kind = wsv__uri_host_port(p, size, &hl, &port);
  int bare = wsv__uri_host(p, size);
  int v6 = wsv__uri_ipv6(p, size);
  char z[96], b[98];
  unsigned char addr[16];

  if (kind == WSV_HOST_INVALID) {
    CHECK(hl == (size_t)-1 && port == -2);
  } else {
    CHECK(hl > 0 && hl <= size);
    CHECK(wsv__uri_host(p, hl) == kind);
    if (hl == size)
      CHECK(port == -1 && bare == kind);
    else
      CHECK(p[hl] == ':' && port >= 0 && port <= 65535 && hl + 1 < size);
  }
  if (bare != WSV_HOST_INVALID) /* a host alone is a host[:port] */
    CHECK(kind == bare && hl == size);
  if (size < sizeof z && memchr(p, '\0', size) == NULL) {
    memcpy(z, p, size);
    z[size] = '\0';
    CHECK(v6 == (inet_pton(AF_INET6, z, addr) == 1));
    CHECK((bare == WSV_HOST_IPV4) == (inet_pton(AF_INET, z, addr) == 1));
    b[0] = '[';
    memcpy(b + 1, p, size);
    b[size + 1] = ']';
    CHECK((wsv__uri_host(b, size + 2) == WSV_HOST_IPV6) == v6);
  }
  return 0;
}
