/*
 * fuzz/proxy.c - libFuzzer target for the client's proxy parsers
 * (src/rt/proxy.c): the HTTP CONNECT answer, the three SOCKS5 replies
 * and the proxy URL.
 *
 * The first input byte picks what the rest is:
 *   bits 0-1  0: a CONNECT answer; 1: the SOCKS5 method reply; 2: the
 *             SOCKS5 login reply; 3: the SOCKS5 CONNECT reply
 *   bit 2     (SOCKS5 method) we offered user/password
 *   bit 3     also parse the rest as a proxy URL (cut at a NUL)
 *
 * Checked: the whole and every prefix (each in its own allocation, so
 * ASan sees any read past it) give "more", the whole's error or - only
 * for the whole or longer - a success; a success's length is within the
 * input (and at least 2; a CONNECT answer's ends with CRLF CRLF); every
 * error has a reason; a chosen SOCKS5 method is 0, or 2 when offered; an
 * accepted URL has a host, a port and a known kind, and what it gives
 * writes a CONNECT request and a SOCKS5 greeting.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

/* One parse of in[0..n) in its own allocation. */
static int fz_parse(int kind, int auth, const uint8_t *in, size_t n,
                    int *method) {
  uint8_t *copy = malloc(n ? n : 1);
  CHECK(copy != NULL);
  if (n > 0)
    memcpy(copy, in, n);
  char why[256];
  why[0] = '\0';
  int st = 0, r;
  *method = -1;
  if (kind == 0)
    r = wsv__proxy_connect_answer((const char *)copy, n, &st, why, sizeof why);
  else
    r = wsv__socks5_parse(kind, copy, n, auth, method, why, sizeof why);
  if (r < 0)
    CHECK(r == WSV_ERR_PROXY && why[0] != '\0');
  if (r > 0) {
    CHECK((size_t)r <= n && r >= 2);
    if (kind == 0)
      CHECK(r >= 4 && memcmp(copy + r - 4, "\r\n\r\n", 4) == 0 && st >= 200 &&
            st <= 299);
    if (kind == WSV__SOCKS5_METHOD)
      CHECK(*method == 0 || (*method == 2 && auth));
  }
  free(copy);
  return r;
}

static void fz_url(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  CHECK(s != NULL);
  memcpy(s, data, size);
  s[size] = '\0';
  struct wsv__proxy p;
  const char *why = NULL;
  int r = wsv__proxy_parse(&p, s, &why);
  if (r == 0) {
    CHECK(why == NULL && p.host != NULL && p.host[0] != '\0' && p.port > 0 &&
          (p.kind == WSV__PROXY_HTTP || p.kind == WSV__PROXY_SOCKS5));
    CHECK((p.user == NULL) == (p.pass == NULL));
    char req[2048];
    (void)wsv__proxy_connect_request(&p, "example.com", 443, req, sizeof req);
    uint8_t g[4], a[513];
    size_t gn = wsv__socks5_greeting(&p, g);
    CHECK(gn == (p.user != NULL ? 4u : 3u));
    size_t an = wsv__socks5_auth(&p, a);
    CHECK(an <= 513);
    wsv__proxy_free(&p);
  } else {
    CHECK((r == WSV_ERR_INVAL || r == WSV_ERR_NOMEM) && why != NULL);
  }
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 16384)
    return 0;
  int kind = data[0] & 3, auth = (data[0] >> 2) & 1;
  const uint8_t *in = data + 1;
  size_t n = size - 1;
  int method;
  int whole = fz_parse(kind, auth, in, n, &method);
  size_t step = n > 2048 ? n / 512 : 1; /* keep long inputs fast */
  for (size_t k = 0; k < n; k += step) {
    int r = fz_parse(kind, auth, in, k, &method);
    CHECK(r == 0 || r == whole || (r < 0 && whole < 0) ||
          (r > 0 && whole == r)); /* a success is a prefix's own length */
  }
  if (data[0] & 8)
    fz_url(in, n);
  return 0;
}
