/*
 * fuzz/origin.c - libFuzzer target for the Origin allow-list and the
 * Origin / Host parsers (wsv/origin.h).
 *
 * Byte 0: flags (bit 0 WSV_ORIGIN_SAME, bit 1 WSV_ORIGIN_REQUIRE, bit 2
 * TLS, bit 3 no Origin); then "list\norigin\nhost".  The oracles:
 * wsv_origin_list_check and wsv_origin_policy_new agree; a "*" list
 * allows everything; with WSV_ORIGIN_SAME a same-origin request is
 * allowed; an Origin that is itself a valid entry is allowed by the list
 * made of it alone; changing the case of everything changes no verdict.
 * The Origin and Host are copied to buffers of their exact size, so that
 * ASan sees any read past them.
 */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fz_dup(const uint8_t *p, size_t n, int nul) {
  char *q = malloc(n + (nul ? 1 : 0) + 1);
  if (q == NULL)
    abort();
  if (n > 0)
    memcpy(q, p, n);
  if (nul)
    q[n] = '\0';
  return q;
}

static void fz_upper(char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] >= 'a' && p[i] <= 'z')
      p[i] = (char)(p[i] - 'a' + 'A');
}

/* The part of data[*pos..size) up to the next '\n' (or the end). */
static size_t fz_part(const uint8_t *data, size_t size, size_t *pos,
                      const uint8_t **out) {
  const uint8_t *nl = memchr(data + *pos, '\n', size - *pos);
  size_t n = nl != NULL ? (size_t)(nl - (data + *pos)) : size - *pos;
  *out = data + *pos;
  *pos += n + (nl != NULL);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned flags = data[0] & 3u;
  int tls = (data[0] >> 2) & 1, no_origin = (data[0] >> 3) & 1;
  size_t pos = 1;
  const uint8_t *lp, *op, *hp;
  size_t ln = fz_part(data, size, &pos, &lp);
  size_t on = fz_part(data, size, &pos, &op);
  size_t hn = fz_part(data, size, &pos, &hp);
  char *list = fz_dup(lp, ln, 1);
  char *origin = fz_dup(op, on, 0);
  char *host = fz_dup(hp, hn, 0);
  struct wsv_str o = {no_origin ? NULL : origin, no_origin ? 0 : on};
  struct wsv_str h = {host, hn};

  /* the list: check and make agree */
  struct wsv_str bad;
  struct wsv_origin_policy *pol = NULL;
  int ck = wsv_origin_list_check(list, &bad);
  int mk = wsv_origin_policy_new(&pol, list, flags, NULL);
  if (ck != (mk == 0 ? 0 : WSV_ERR_INVAL) || (mk == 0) != (pol != NULL))
    abort();
  if (ck != 0 && (bad.ptr < list || bad.ptr + bad.len > list + strlen(list)))
    abort();
  int same = wsv_origin_same(o, h, tls);
  if (pol != NULL) {
    int ok = wsv_origin_allowed(pol, o, h, tls);
    if (wsv_origin_policy_any(pol) && !ok)
      abort();
    if ((flags & WSV_ORIGIN_SAME) && same && !ok)
      abort();
    if (o.ptr == NULL && !(flags & WSV_ORIGIN_REQUIRE) && !ok)
      abort();
    /* case never matters */
    char *ul = fz_dup((const uint8_t *)list, strlen(list), 1);
    char *uo = fz_dup(op, on, 0), *uh = fz_dup(hp, hn, 0);
    fz_upper(ul, strlen(ul));
    fz_upper(uo, on);
    fz_upper(uh, hn);
    struct wsv_origin_policy *up = NULL;
    struct wsv_str uos = {no_origin ? NULL : uo, no_origin ? 0 : on};
    struct wsv_str uhs = {uh, hn};
    /* "null" is case-sensitive in an Origin value (RFC 6454) */
    int has_null = on == 4 && memcmp(op, "null", 4) == 0;
    if (wsv_origin_policy_new(&up, ul, flags, NULL) != 0)
      abort();
    if (!has_null && wsv_origin_allowed(up, uos, uhs, tls) != ok)
      abort();
    if (!has_null && wsv_origin_same(uos, uhs, tls) != same)
      abort();
    wsv_origin_policy_free(up);
    free(ul);
    free(uo);
    free(uh);
  }
  wsv_origin_policy_free(pol);

  /* an Origin that is a valid scheme://host[:port] entry allows itself */
  if (o.ptr != NULL && on > 0 && memchr(op, ',', on) == NULL &&
      memchr(op, '*', on) == NULL && memchr(op, '\0', on) == NULL &&
      memmem(op, on, "://", 3) != NULL && op[0] != ' ' && op[0] != '\t' &&
      op[on - 1] != ' ' && op[on - 1] != '\t') {
    char *self = fz_dup(op, on, 1);
    struct wsv_origin_policy *sp = NULL;
    if (wsv_origin_policy_new(&sp, self, 0, NULL) == 0 &&
        !wsv_origin_allowed(sp, o, h, tls))
      abort();
    wsv_origin_policy_free(sp);
    free(self);
  }
  free(list);
  free(origin);
  free(host);
  return 0;
}
