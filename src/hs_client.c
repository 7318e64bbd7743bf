/*
 * hs_client.c - the client opening handshake (RFC 6455 §4.1) and
 * Sec-WebSocket-Version negotiation (§4.4).  See include/wsv/hs_client.h.
 *
 * The object is one allocation: the struct, the header array the response
 * parser fills, and copies of every configured string (with what the
 * HTTP/2 request of RFC 8441 needs besides: the offered subprotocols
 * joined, the extra header names lowered).  The only other allocation is
 * the joined Sec-WebSocket-Extensions value of a successful response.
 * Over HTTP/2 the answer (a :status and its fields) goes through the same
 * checks as a 101 or a version-negotiating 400/426 on HTTP/1.1.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "int.h"

#define HSC_KEY_LEN 24
#define HSC_ACCEPT_LEN 28
#define HSC_REASON_CAP 320
/* How much server text a reason quotes before cutting it with "...". */
#define HSC_QUOTE_MAX 64
#define HSC_QUOTE_CAP (HSC_QUOTE_MAX + 4)
/* How many distinct server versions a reason lists before "...". */
#define HSC_LIST_MAX 16

struct wsv_hs_client {
  struct wsv_mem mem;
  /* The configuration, checked and copied into this allocation. */
  uint32_t versions;
  char *host;   /* the Host value: host, [ipv6], with ":port" if needed */
  char *path;   /* the request target */
  char *origin; /* or NULL */
  char **subs;  /* offered subprotocols */
  size_t nsubs;
  char *ext_offer; /* or NULL */
  struct wsv_header *extra;
  size_t nextra;
  /* For the HTTP/2 request: the extra headers with lowered names (the
   * values shared with `extra`), the subprotocols as one list ("a, b"),
   * the scheme, and the current version as text. */
  struct wsv_header *extra_h2;
  char *subs_joined; /* or NULL */
  int secure;
  char version_text[4];
  wsv_random_fn random;
  void *random_user;
  /* The response parser and its header storage. */
  struct wsv_http_head head;
  struct wsv_header *hdrs;
  size_t max_headers;
  size_t max_bytes;
  /* The current attempt. */
  int version;
  int retried;
  int result; /* 0 until a final result, then that result */
  int retry_version;
  int status;
  int h2; /* this attempt's answer came through wsv_hs_client_parse_h2 */
  size_t head_len;
  size_t fed;
  char key[HSC_KEY_LEN + 1];
  char accept[HSC_ACCEPT_LEN + 1];
  const char *subprotocol;   /* one of subs[], or NULL */
  char *extensions;          /* own allocation, or NULL */
  struct wsv_pmd_params pmd; /* agreed permessage-deflate, if pmd_ok */
  int pmd_ok;
  char reason[HSC_REASON_CAP];
};

/* The versions we can speak, highest first. */
static const int hsc_known_versions[] = {13, 8, 7};
#define HSC_NKNOWN (sizeof hsc_known_versions / sizeof hsc_known_versions[0])

/* ---- small helpers ---------------------------------------------------- */

/* A field value we are willing to send: HTAB, SP, VCHAR, obs-text; no
 * leading or trailing whitespace (a receiver would strip it). */
static int hsc_value_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!wsv__http_value_byte((unsigned char)s[i]))
      return 0;
  return n == 0 || (!wsv__http_ows(s[0]) && !wsv__http_ows(s[n - 1]));
}

/* Case-insensitive: does s[0..n) start with the NUL-terminated `prefix`? */
static int hsc_iprefix(const char *s, size_t n, const char *prefix) {
  struct wsv_str head;
  head.ptr = s;
  head.len = strlen(prefix);
  return n >= head.len && wsv_str_ieq(head, prefix);
}

static int hsc_size_add(size_t *acc, size_t n) {
  if (n > SIZE_MAX - *acc)
    return -1;
  *acc += n;
  return 0;
}

static size_t hsc_align(size_t n) {
  size_t a = _Alignof(max_align_t);
  return (n + a - 1) / a * a;
}

/* Copy a sanitised, possibly cut, version of p[0..n) into dst (capacity
 * HSC_QUOTE_CAP): bytes outside printable ASCII become '?'. */
static void hsc_quote(char dst[HSC_QUOTE_CAP], const char *p, size_t n) {
  (void)wsv_str_escape(dst, HSC_QUOTE_CAP, p, n, HSC_QUOTE_MAX, 0);
}

static void hsc_say(struct wsv_hs_client *hs, const char *fmt, ...)
    WSV_PRINTF(2, 3);

static void hsc_say(struct wsv_hs_client *hs, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(hs->reason, sizeof hs->reason, fmt, ap);
  va_end(ap);
}

/* Append to the reason (used to add the optional tail parts). */
static void hsc_say_more(struct wsv_hs_client *hs, const char *fmt, ...)
    WSV_PRINTF(2, 3);

static void hsc_say_more(struct wsv_hs_client *hs, const char *fmt, ...) {
  size_t used = strlen(hs->reason);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(hs->reason + used, sizeof hs->reason - used, fmt, ap);
  va_end(ap);
}

/* Record a final result and return it. */
static int hsc_final(struct wsv_hs_client *hs, int result) {
  hs->result = result;
  return result;
}

/* ---- extension lists (RFC 6455 §9.1) ------------------------------------ */

/* The next extension of the extension-list s[0..len) from *pos: returns 1
 * and its name, 0 at the end of the list, -1 if the list is malformed.
 * Empty list elements are skipped; OWS is allowed around ';', '=', ','. */
static int hsc_ext_next(const char *s, size_t len, size_t *pos,
                        struct wsv_str *name) {
  size_t i = *pos;
  for (;;) {
    i = wsv__http_skip_ows(s, len, i);
    if (i < len && s[i] == ',') {
      i++;
      continue;
    }
    break;
  }
  if (i == len) {
    *pos = i;
    return 0;
  }
  size_t start = i;
  i = wsv__http_skip_token(s, len, i);
  if (i == start)
    return -1;
  name->ptr = s + start;
  name->len = i - start;
  for (;;) {
    i = wsv__http_skip_ows(s, len, i);
    if (i == len)
      break;
    if (s[i] == ',') {
      i++;
      break;
    }
    if (s[i] != ';')
      return -1;
    i = wsv__http_skip_ows(s, len, i + 1);
    size_t p = i;
    i = wsv__http_skip_token(s, len, i);
    if (i == p)
      return -1;
    i = wsv__http_skip_ows(s, len, i);
    if (i < len && s[i] == '=') {
      i = wsv__http_skip_ows(s, len, i + 1);
      if (i < len && s[i] == '"') {
        i = wsv__http_skip_quoted(s, len, i);
        if (i == 0)
          return -1;
      } else {
        p = i;
        i = wsv__http_skip_token(s, len, i);
        if (i == p)
          return -1;
      }
    }
  }
  *pos = i;
  return 1;
}

/* The whole element whose name hsc_ext_next just returned, given the
 * position it returned (the trailing comma dropped). */
static struct wsv_str hsc_ext_elem(const char *s, size_t pos,
                                   struct wsv_str name) {
  struct wsv_str e;
  const char *end = s + pos;
  if (end > name.ptr && end[-1] == ',')
    end--;
  e.ptr = name.ptr;
  e.len = (size_t)(end - name.ptr);
  return e;
}

static int hsc_is_pmd(struct wsv_str name) {
  return name.len == 18 && memcmp(name.ptr, "permessage-deflate", 18) == 0;
}

/* 1 if the list names permessage-deflate (the list is well-formed). */
static int hsc_ext_has_pmd(const char *s, size_t len) {
  size_t pos = 0;
  struct wsv_str name;
  while (hsc_ext_next(s, len, &pos, &name) == 1)
    if (hsc_is_pmd(name))
      return 1;
  return 0;
}

/* Number of extensions in a list, or -1 if it is malformed. */
static long hsc_ext_count(const char *s, size_t len) {
  size_t pos = 0;
  long n = 0;
  struct wsv_str name;
  int rc;
  while ((rc = hsc_ext_next(s, len, &pos, &name)) == 1)
    n++;
  return rc < 0 ? -1 : n;
}

/* ---- configuration --------------------------------------------------------
 */

void wsv_hs_client_config_init(struct wsv_hs_client_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->versions = WSV_VERSIONS_ALL;
  cfg->path = "/";
  cfg->max_header_bytes = WSV_HS_CLIENT_MAX_HEADER_BYTES;
  cfg->max_headers = WSV_HS_CLIENT_MAX_HEADERS;
  cfg->random = wsv_random_os;
}

/* Check the host with the RFC 3986 host parser (http.h): a reg-name, an
 * IPv4address, an IP literal in brackets, or a bare IPv6address, for which
 * *brackets is set (it must be put in brackets).  Returns 0 or -1. */
static int hsc_host_check(const char *h, int *brackets) {
  size_t n = strlen(h);
  *brackets = 0;
  if (h[0] != '[' && memchr(h, ':', n) != NULL) {
    *brackets = 1;
    return wsv__uri_ipv6(h, n) ? 0 : -1;
  }
  return wsv__uri_host(h, n) != WSV_HOST_INVALID ? 0 : -1;
}

static int hsc_path_check(const char *p) {
  if (p[0] != '/')
    return -1;
  for (; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c >= 0x7f || c == '#')
      return -1;
  }
  return 0;
}

/* Names an extra header may not use. */
static int hsc_reserved_name(struct wsv_str name) {
  static const char *const reserved[] = {"Host",           "Upgrade",
                                         "Connection",     "Origin",
                                         "Content-Length", "Transfer-Encoding"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (wsv_str_ieq(name, reserved[i]))
      return 1;
  return hsc_iprefix(name.ptr, name.len, "Sec-WebSocket-");
}

/* Check everything in cfg and add the bytes its copies need to *size. */
static int hsc_config_check(const struct wsv_hs_client_config *cfg,
                            size_t *size, int *brackets) {
  uint32_t all = WSV_VERSIONS_ALL;
  if ((cfg->versions & ~all) != 0)
    return WSV_ERR_INVAL;
  uint32_t set = cfg->versions == 0 ? all : cfg->versions;
  if (cfg->first_version != 0 &&
      (cfg->first_version < 0 || cfg->first_version > 31 ||
       (set & WSV_VERSION_BIT(cfg->first_version)) == 0))
    return WSV_ERR_INVAL;
  if (cfg->host == NULL || hsc_host_check(cfg->host, brackets) != 0)
    return WSV_ERR_INVAL;
  const char *path = cfg->path == NULL ? "/" : cfg->path;
  if (hsc_path_check(path) != 0)
    return WSV_ERR_INVAL;
  if (cfg->max_header_bytes > INT_MAX ||
      cfg->max_headers > SIZE_MAX / 4 / sizeof(struct wsv_header))
    return WSV_ERR_INVAL;
  size_t need = 0;
  int bad = hsc_size_add(&need, strlen(cfg->host) + 9) |
            hsc_size_add(&need, strlen(path) + 1);
  if (cfg->origin != NULL) {
    size_t n = strlen(cfg->origin);
    if (n == 0 || !hsc_value_ok(cfg->origin, n))
      return WSV_ERR_INVAL;
    bad |= hsc_size_add(&need, n + 1);
  }
  if (cfg->nsubprotocols > 0 && cfg->subprotocols == NULL)
    return WSV_ERR_INVAL;
  if (cfg->nsubprotocols > SIZE_MAX / 4 / sizeof(char *))
    return WSV_ERR_INVAL;
  for (size_t i = 0; i < cfg->nsubprotocols; i++) {
    const char *s = cfg->subprotocols[i];
    if (s == NULL || !wsv__http_token(s, strlen(s)))
      return WSV_ERR_INVAL;
    for (size_t j = 0; j < i; j++)
      if (strcmp(s, cfg->subprotocols[j]) == 0)
        return WSV_ERR_INVAL;
    /* the copy, and its place in the joined list with ", " */
    bad |= hsc_size_add(&need, 2 * strlen(s) + 3);
  }
  if (cfg->pmd_offer != 0 && cfg->pmd_offer != 1)
    return WSV_ERR_INVAL;
  if (cfg->pmd_offer) {
    const struct wsv_pmd_params *r = &cfg->pmd_request;
    if ((r->server_max_window_bits != 0 &&
         (r->server_max_window_bits < 8 || r->server_max_window_bits > 15)) ||
        (r->client_max_window_bits != 0 &&
         (r->client_max_window_bits < 8 || r->client_max_window_bits > 15)))
      return WSV_ERR_INVAL;
    /* The offer: the caller's extensions again, ", ", ours, NUL. */
    bad |= hsc_size_add(&need, WSV_PMD_FORMAT_MAX + 3);
    if (cfg->extensions != NULL)
      bad |= hsc_size_add(&need, strlen(cfg->extensions));
  }
  if (cfg->extensions != NULL && cfg->extensions[0] != '\0') {
    size_t n = strlen(cfg->extensions);
    if (!hsc_value_ok(cfg->extensions, n) ||
        hsc_ext_count(cfg->extensions, n) <= 0)
      return WSV_ERR_INVAL;
    /* Offering permessage-deflate twice, raw and built, is a mistake. */
    if (cfg->pmd_offer && hsc_ext_has_pmd(cfg->extensions, n))
      return WSV_ERR_INVAL;
    bad |= hsc_size_add(&need, n + 1);
  }
  if (cfg->nheaders > 0 && cfg->headers == NULL)
    return WSV_ERR_INVAL;
  if (cfg->nheaders > SIZE_MAX / 4 / sizeof(struct wsv_header))
    return WSV_ERR_INVAL;
  for (size_t i = 0; i < cfg->nheaders; i++) {
    struct wsv_str nm = cfg->headers[i].name, v = cfg->headers[i].value;
    if (nm.ptr == NULL || !wsv__http_token(nm.ptr, nm.len) ||
        hsc_reserved_name(nm) || (v.ptr == NULL && v.len > 0) ||
        (v.len > 0 && !hsc_value_ok(v.ptr, v.len)))
      return WSV_ERR_INVAL;
    /* the name twice (as given, and lowered for HTTP/2), the value */
    bad |= hsc_size_add(&need, 2 * (nm.len + 1)) |
           hsc_size_add(&need, v.len + 1);
  }
  if (bad != 0)
    return WSV_ERR_INVAL;
  *size = need;
  return WSV_OK;
}

/* Append s[0..n) at out + at when out is not NULL; returns at + n. */
static size_t hsc_put(char *out, size_t at, const char *s, size_t n) {
  if (out != NULL && n > 0)
    memcpy(out + at, s, n);
  return at + n;
}

/* Copy s[0..n) to *cursor, NUL-terminate, advance; returns the copy. */
static char *hsc_copy(char **cursor, const char *s, size_t n) {
  char *d = *cursor;
  if (n > 0)
    memcpy(d, s, n);
  d[n] = '\0';
  *cursor = d + n + 1;
  return d;
}

static void hsc_copy_config(struct wsv_hs_client *hs,
                            const struct wsv_hs_client_config *cfg,
                            char *cursor, int brackets) {
  /* The Host value. */
  char *h = cursor;
  size_t hn = strlen(cfg->host);
  size_t at = 0;
  if (brackets)
    h[at++] = '[';
  memcpy(h + at, cfg->host, hn);
  at += hn;
  if (brackets)
    h[at++] = ']';
  uint16_t dflt = cfg->secure ? 443 : 80;
  if (cfg->port != 0 && cfg->port != dflt)
    at += (size_t)snprintf(h + at, 7, ":%u", (unsigned)cfg->port);
  h[at] = '\0';
  hs->host = h;
  cursor = h + at + 1;

  const char *path = cfg->path == NULL ? "/" : cfg->path;
  hs->path = hsc_copy(&cursor, path, strlen(path));
  if (cfg->origin != NULL)
    hs->origin = hsc_copy(&cursor, cfg->origin, strlen(cfg->origin));
  for (size_t i = 0; i < hs->nsubs; i++)
    hs->subs[i] =
        hsc_copy(&cursor, cfg->subprotocols[i], strlen(cfg->subprotocols[i]));
  if (cfg->extensions != NULL && cfg->extensions[0] != '\0')
    hs->ext_offer = hsc_copy(&cursor, cfg->extensions, strlen(cfg->extensions));
  if (cfg->pmd_offer) {
    /* Our permessage-deflate offer goes after the caller's extensions. */
    char *o = cursor;
    size_t oat = 0;
    if (hs->ext_offer != NULL) {
      oat = strlen(hs->ext_offer);
      memcpy(o, hs->ext_offer, oat);
      memcpy(o + oat, ", ", 2);
      oat += 2;
    }
    oat += wsv_pmd_format_offer(&cfg->pmd_request, o + oat,
                                WSV_PMD_FORMAT_MAX + 1);
    hs->ext_offer = o;
    cursor = o + oat + 1;
  }
  for (size_t i = 0; i < hs->nextra; i++) {
    struct wsv_str nm = cfg->headers[i].name, v = cfg->headers[i].value;
    hs->extra[i].name.ptr = hsc_copy(&cursor, nm.ptr, nm.len);
    hs->extra[i].name.len = nm.len;
    hs->extra[i].value.ptr = hsc_copy(&cursor, v.len > 0 ? v.ptr : "", v.len);
    hs->extra[i].value.len = v.len;
    /* HTTP/2 field names are lower case (RFC 9113 §8.2.1). */
    char *low = hsc_copy(&cursor, nm.ptr, nm.len);
    for (size_t k = 0; k < nm.len; k++)
      if (low[k] >= 'A' && low[k] <= 'Z')
        low[k] = (char)(low[k] - 'A' + 'a');
    hs->extra_h2[i].name.ptr = low;
    hs->extra_h2[i].name.len = nm.len;
    hs->extra_h2[i].value = hs->extra[i].value;
  }
  if (hs->nsubs > 0) {
    size_t j = 0;
    hs->subs_joined = cursor;
    for (size_t i = 0; i < hs->nsubs; i++) {
      if (i > 0)
        j = hsc_put(cursor, j, ", ", 2);
      j = hsc_put(cursor, j, hs->subs[i], strlen(hs->subs[i]));
    }
    cursor[j] = '\0';
  }
}

/* The current version as the text of sec-websocket-version. */
static void hsc_version_text(struct wsv_hs_client *hs) {
  snprintf(hs->version_text, sizeof hs->version_text, "%d", hs->version);
}

/* Draw a fresh key and compute the accept value we will expect. */
static int hsc_new_key(struct wsv_hs_client *hs) {
  uint8_t nonce[16];
  if (hs->random(hs->random_user, nonce, sizeof nonce) != 0)
    return WSV_ERR_RANDOM;
  size_t n = wsv_hs_key(nonce, hs->key);
  (void)wsv_hs_accept(hs->key, n, hs->accept);
  memset(nonce, 0, sizeof nonce);
  return WSV_OK;
}

/* Forget everything about the previous response. */
static void hsc_reset_attempt(struct wsv_hs_client *hs) {
  memset(&hs->head, 0, sizeof hs->head);
  hs->head.headers = hs->hdrs;
  hs->head.max_headers = hs->max_headers;
  hs->head.max_bytes = hs->max_bytes;
  hs->result = 0;
  hs->retry_version = 0;
  hs->status = 0;
  hs->h2 = 0;
  hs->head_len = 0;
  hs->fed = 0;
  hs->subprotocol = NULL;
  wsv__free(&hs->mem, hs->extensions);
  hs->extensions = NULL;
  hs->pmd_ok = 0;
  hs->reason[0] = '\0';
}

int wsv_hs_client_new(struct wsv_hs_client **out,
                      const struct wsv_hs_client_config *cfg,
                      const struct wsv_mem *mem) {
  if (out == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  if (cfg == NULL)
    return WSV_ERR_INVAL;
  size_t strs = 0;
  int brackets = 0;
  int rc = hsc_config_check(cfg, &strs, &brackets);
  if (rc != WSV_OK)
    return rc;

  size_t max_headers =
      cfg->max_headers == 0 ? WSV_HS_CLIENT_MAX_HEADERS : cfg->max_headers;
  size_t off_hdrs = hsc_align(sizeof(struct wsv_hs_client));
  size_t off_subs =
      off_hdrs + hsc_align(max_headers * sizeof(struct wsv_header));
  size_t off_extra = off_subs + hsc_align(cfg->nsubprotocols * sizeof(char *));
  size_t off_extra_h2 =
      off_extra + hsc_align(cfg->nheaders * sizeof(struct wsv_header));
  size_t off_strs =
      off_extra_h2 + hsc_align(cfg->nheaders * sizeof(struct wsv_header));
  size_t total = off_strs;
  if (hsc_size_add(&total, strs) != 0)
    return WSV_ERR_INVAL;

  struct wsv_mem m;
  wsv__mem_init(&m, mem);
  char *block = wsv__calloc(&m, total);
  if (block == NULL)
    return WSV_ERR_NOMEM;
  struct wsv_hs_client *hs = (struct wsv_hs_client *)(void *)block;
  hs->mem = m;
  hs->versions = cfg->versions == 0 ? WSV_VERSIONS_ALL : cfg->versions;
  hs->hdrs = (struct wsv_header *)(void *)(block + off_hdrs);
  hs->max_headers = max_headers;
  hs->max_bytes = cfg->max_header_bytes == 0 ? WSV_HS_CLIENT_MAX_HEADER_BYTES
                                             : cfg->max_header_bytes;
  hs->subs = (char **)(void *)(block + off_subs);
  hs->nsubs = cfg->nsubprotocols;
  hs->extra = (struct wsv_header *)(void *)(block + off_extra);
  hs->nextra = cfg->nheaders;
  hs->extra_h2 = (struct wsv_header *)(void *)(block + off_extra_h2);
  hs->secure = cfg->secure != 0;
  hs->random = cfg->random == NULL ? wsv_random_os : cfg->random;
  hs->random_user = cfg->random_user;
  hsc_copy_config(hs, cfg, block + off_strs, brackets);

  hs->version = cfg->first_version;
  if (hs->version == 0) {
    for (size_t i = 0; i < HSC_NKNOWN; i++) {
      if (hs->versions & WSV_VERSION_BIT(hsc_known_versions[i])) {
        hs->version = hsc_known_versions[i];
        break;
      }
    }
  }
  hsc_version_text(hs);
  hsc_reset_attempt(hs);
  rc = hsc_new_key(hs);
  if (rc != WSV_OK) {
    wsv__free(&m, block);
    return rc;
  }
  *out = hs;
  return WSV_OK;
}

void wsv_hs_client_free(struct wsv_hs_client *hs) {
  if (hs == NULL)
    return;
  struct wsv_mem m = hs->mem;
  wsv__free(&m, hs->extensions);
  wsv__free(&m, hs);
}

/* ---- the request ------------------------------------------------------------
 */


static size_t hsc_puts(char *out, size_t at, const char *s) {
  return hsc_put(out, at, s, strlen(s));
}

/* Write the request to out (or only count it when out is NULL). */
static size_t hsc_render(const struct wsv_hs_client *hs, char *out) {
  size_t at = 0;
  char ver[8];
  snprintf(ver, sizeof ver, "%d", hs->version);
  at = hsc_puts(out, at, "GET ");
  at = hsc_puts(out, at, hs->path);
  at = hsc_puts(out, at, " HTTP/1.1\r\nHost: ");
  at = hsc_puts(out, at, hs->host);
  at = hsc_puts(out, at,
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: ");
  at = hsc_puts(out, at, hs->key);
  at = hsc_puts(out, at, "\r\nSec-WebSocket-Version: ");
  at = hsc_puts(out, at, ver);
  at = hsc_puts(out, at, "\r\n");
  if (hs->origin != NULL) {
    at = hsc_puts(out, at,
                  hs->version == 13 ? "Origin: " : "Sec-WebSocket-Origin: ");
    at = hsc_puts(out, at, hs->origin);
    at = hsc_puts(out, at, "\r\n");
  }
  if (hs->nsubs > 0) {
    at = hsc_puts(out, at, "Sec-WebSocket-Protocol: ");
    for (size_t i = 0; i < hs->nsubs; i++) {
      if (i > 0)
        at = hsc_puts(out, at, ", ");
      at = hsc_puts(out, at, hs->subs[i]);
    }
    at = hsc_puts(out, at, "\r\n");
  }
  if (hs->ext_offer != NULL) {
    at = hsc_puts(out, at, "Sec-WebSocket-Extensions: ");
    at = hsc_puts(out, at, hs->ext_offer);
    at = hsc_puts(out, at, "\r\n");
  }
  for (size_t i = 0; i < hs->nextra; i++) {
    const struct wsv_header *e = &hs->extra[i];
    at = hsc_put(out, at, e->name.ptr, e->name.len);
    at = hsc_puts(out, at, ": ");
    at = hsc_put(out, at, e->value.ptr, e->value.len);
    at = hsc_puts(out, at, "\r\n");
  }
  return hsc_puts(out, at, "\r\n");
}

int wsv_hs_client_request(const struct wsv_hs_client *hs, char *out, size_t cap,
                          size_t *len) {
  if (hs == NULL || len == NULL || (out == NULL && cap > 0))
    return WSV_ERR_INVAL;
  size_t n = hsc_render(hs, NULL);
  *len = n;
  if (cap < n + 1)
    return WSV_ERR_NOBUF;
  hsc_render(hs, out);
  out[n] = '\0';
  return WSV_OK;
}

/* Append the field name: value to out[0..cap) at *k (counted even when it
 * does not fit). */
static void hsc_field(struct wsv_header *out, size_t cap, size_t *k,
                      const char *name, const char *value) {
  if (*k < cap) {
    out[*k].name.ptr = name;
    out[*k].name.len = strlen(name);
    out[*k].value.ptr = value;
    out[*k].value.len = strlen(value);
  }
  (*k)++;
}

/* The extra headers HTTP/2 forbids (RFC 9113 §8.2.2) that the config's
 * HTTP/1.1 rules let through: left out of the HTTP/2 request. */
static int hsc_h2_forbidden(struct wsv_str name) {
  return wsv_str_ieq(name, "keep-alive") ||
         wsv_str_ieq(name, "proxy-connection") || wsv_str_ieq(name, "te");
}

int wsv_hs_client_request_h2(const struct wsv_hs_client *hs,
                             struct wsv_header *out, size_t cap) {
  size_t k = 0;
  if (hs == NULL || (out == NULL && cap > 0))
    return WSV_ERR_INVAL;
  hsc_field(out, cap, &k, ":method", "CONNECT");
  hsc_field(out, cap, &k, ":protocol", "websocket");
  hsc_field(out, cap, &k, ":scheme", hs->secure ? "https" : "http");
  hsc_field(out, cap, &k, ":path", hs->path);
  hsc_field(out, cap, &k, ":authority", hs->host);
  hsc_field(out, cap, &k, "sec-websocket-version", hs->version_text);
  if (hs->origin != NULL)
    hsc_field(out, cap, &k,
              hs->version == 13 ? "origin" : "sec-websocket-origin",
              hs->origin);
  if (hs->subs_joined != NULL)
    hsc_field(out, cap, &k, "sec-websocket-protocol", hs->subs_joined);
  if (hs->ext_offer != NULL)
    hsc_field(out, cap, &k, "sec-websocket-extensions", hs->ext_offer);
  for (size_t i = 0; i < hs->nextra; i++) {
    if (hsc_h2_forbidden(hs->extra_h2[i].name))
      continue;
    if (k < cap)
      out[k] = hs->extra_h2[i];
    k++;
  }
  return (int)k;
}

/* ---- the response
 * ------------------------------------------------------------ */

/* "13, 8, 7": the versions in `set`, highest first. */
static void hsc_our_list(const struct wsv_hs_client *hs, char *dst,
                         size_t cap) {
  size_t at = 0;
  dst[0] = '\0';
  for (size_t i = 0; i < HSC_NKNOWN; i++) {
    if ((hs->versions & WSV_VERSION_BIT(hsc_known_versions[i])) == 0)
      continue;
    int w = snprintf(dst + at, cap - at, "%s%d", at > 0 ? ", " : "",
                     hsc_known_versions[i]);
    if (w < 0 || (size_t)w >= cap - at)
      break;
    at += (size_t)w;
  }
}

/* A `version` token (RFC 6455 §4.3: 0..255, no leading zero), or -1. */
static int hsc_parse_version(struct wsv_str e) {
  if (e.len == 0 || e.len > 3 || (e.len > 1 && e.ptr[0] == '0'))
    return -1;
  int v = 0;
  for (size_t i = 0; i < e.len; i++) {
    if (e.ptr[i] < '0' || e.ptr[i] > '9')
      return -1;
    v = v * 10 + (e.ptr[i] - '0');
  }
  return v <= 255 ? v : -1;
}

/* The first line of the body, if any of it is in the buffer, sanitised
 * into dst; returns 1 if there is one.  Only a body delimited by
 * Content-Length or by the end of the connection is looked at. */
static int hsc_body_line(const struct wsv_hs_client *hs, const char *buf,
                         size_t len, char dst[HSC_QUOTE_CAP]) {
  const struct wsv_header *h = hs->hdrs;
  size_t nh = hs->head.nheaders;
  if (wsv_http_count(h, nh, "Transfer-Encoding", NULL) > 0)
    return 0;
  size_t avail = len - hs->head_len;
  struct wsv_str cl;
  size_t ncl = wsv_http_count(h, nh, "Content-Length", &cl);
  if (ncl > 1)
    return 0;
  if (ncl == 1) {
    size_t v = 0;
    if (cl.len == 0 || cl.len > 9)
      return 0;
    for (size_t i = 0; i < cl.len; i++) {
      if (cl.ptr[i] < '0' || cl.ptr[i] > '9')
        return 0;
      v = v * 10 + (size_t)(cl.ptr[i] - '0');
    }
    if (v < avail)
      avail = v;
  }
  const char *b = buf + hs->head_len;
  size_t n = 0;
  while (n < avail && b[n] != '\r' && b[n] != '\n')
    n++;
  if (n == 0)
    return 0;
  hsc_quote(dst, b, n);
  return 1;
}

/* The reason for a status we cannot use, with the optional tail parts. */
static int hsc_status_error(struct wsv_hs_client *hs, const char *buf,
                            size_t len, const char *what) {
  char q[HSC_QUOTE_CAP];
  hsc_quote(q, hs->head.reason.ptr, hs->head.reason.len);
  if (hs->h2) /* no reason phrase, no body here */
    hsc_say(hs, "server answered :status %d%s", hs->status, what);
  else
    hsc_say(hs, "server answered %d \"%s\"%s", hs->status, q, what);
  struct wsv_str loc;
  if (hs->status >= 300 && hs->status < 400 &&
      wsv_http_count(hs->hdrs, hs->head.nheaders, "Location", &loc) == 1) {
    hsc_quote(q, loc.ptr, loc.len);
    hsc_say_more(hs, "; Location: \"%s\"", q);
  }
  if (!hs->h2 && hsc_body_line(hs, buf, len, q))
    hsc_say_more(hs, "; body: \"%s\"", q);
  return hsc_final(hs, WSV_ERR_HS_STATUS);
}

/* A 400 or 426 that carries Sec-WebSocket-Version. */
static int hsc_negotiate(struct wsv_hs_client *hs, const char *buf,
                         size_t len) {
  const char *name = "Sec-WebSocket-Version";
  int list[HSC_LIST_MAX];
  size_t nlist = 0, nvalid = 0;
  int more = 0, listed_tried = 0;
  uint32_t theirs = 0;
  char junk[HSC_QUOTE_CAP * 2];
  size_t njunk = 0;
  size_t pos = 0;
  struct wsv_str e;
  junk[0] = '\0';
  while (wsv_http_list_next(hs->hdrs, hs->head.nheaders, name, &pos, &e)) {
    int v = hsc_parse_version(e);
    if (v < 0) {
      if (njunk < HSC_QUOTE_CAP) {
        char q[HSC_QUOTE_CAP];
        hsc_quote(q, e.ptr, e.len);
        int w = snprintf(junk + njunk, sizeof junk - njunk, "%s%s",
                         njunk > 0 ? ", " : "", q);
        njunk = w < 0 ? sizeof junk : njunk + (size_t)w;
      }
      continue;
    }
    nvalid++;
    if (v == hs->version)
      listed_tried = 1;
    if (v < 32)
      theirs |= WSV_VERSION_BIT(v);
    int seen = 0;
    for (size_t i = 0; i < nlist; i++)
      seen |= list[i] == v;
    if (seen)
      continue;
    if (nlist < HSC_LIST_MAX)
      list[nlist++] = v;
    else
      more = 1;
  }

  char ours[32], srv[HSC_LIST_MAX * 5 + 8];
  hsc_our_list(hs, ours, sizeof ours);
  size_t at = 0;
  srv[0] = '\0';
  for (size_t i = 0; i < nlist; i++)
    at += (size_t)snprintf(srv + at, sizeof srv - at, "%s%d", i > 0 ? ", " : "",
                           list[i]);
  if (more)
    snprintf(srv + at, sizeof srv - at, ", ...");

  if (nvalid == 0) {
    if (njunk > 0)
      hsc_say(hs, "server lists no valid version (\"%s\"); we speak %s", junk,
              ours);
    else
      hsc_say(hs, "server lists no version (empty %s); we speak %s", name,
              ours);
    return hsc_final(hs, WSV_ERR_HS_NO_COMMON_VERSION);
  }
  if (listed_tried) {
    char what[HSC_REASON_CAP];
    snprintf(what, sizeof what,
             " although it speaks the version we sent (%d): server speaks %s",
             hs->version, srv);
    return hsc_status_error(hs, buf, len, what);
  }
  if (hs->retried) {
    hsc_say(hs,
            "server refused the retry with version %d; server speaks %s; "
            "we speak %s",
            hs->version, srv, ours);
    return hsc_final(hs, WSV_ERR_HS_NO_COMMON_VERSION);
  }
  uint32_t common = hs->versions & theirs & ~WSV_VERSION_BIT(hs->version);
  for (size_t i = 0; i < HSC_NKNOWN; i++) {
    if (common & WSV_VERSION_BIT(hsc_known_versions[i])) {
      hs->retry_version = hsc_known_versions[i];
      hsc_say(hs, "server speaks %s; retrying with %d", srv, hs->retry_version);
      return hsc_final(hs, WSV_HSC_RETRY);
    }
  }
  hsc_say(hs, "server speaks %s; we speak %s", srv, ours);
  return hsc_final(hs, WSV_ERR_HS_NO_COMMON_VERSION);
}

/* Upgrade and Connection of a 101. */
static int hsc_check_tokens(struct wsv_hs_client *hs) {
  static const struct {
    const char *name, *token;
    int err;
  } rules[] = {{"Upgrade", "websocket", WSV_ERR_HS_UPGRADE},
               {"Connection", "Upgrade", WSV_ERR_HS_CONNECTION}};
  for (size_t i = 0; i < 2; i++) {
    struct wsv_str v;
    size_t n = wsv_http_count(hs->hdrs, hs->head.nheaders, rules[i].name, &v);
    if (n == 0) {
      hsc_say(hs, "%s is missing", rules[i].name);
      return hsc_final(hs, rules[i].err);
    }
    if (!wsv_http_list_has(hs->hdrs, hs->head.nheaders, rules[i].name,
                           rules[i].token)) {
      char q[HSC_QUOTE_CAP];
      hsc_quote(q, v.ptr, v.len);
      hsc_say(hs, "%s is \"%s\", without \"%s\"", rules[i].name, q,
              rules[i].token);
      return hsc_final(hs, rules[i].err);
    }
  }
  return WSV_OK;
}

static int hsc_check_accept(struct wsv_hs_client *hs) {
  struct wsv_str v;
  size_t n =
      wsv_http_count(hs->hdrs, hs->head.nheaders, "Sec-WebSocket-Accept", &v);
  if (n == 0) {
    hsc_say(hs, "Sec-WebSocket-Accept is missing");
    return hsc_final(hs, WSV_ERR_HS_ACCEPT);
  }
  if (n > 1) {
    hsc_say(hs, "Sec-WebSocket-Accept appears %zu times", n);
    return hsc_final(hs, WSV_ERR_HS_ACCEPT);
  }
  if (v.len != HSC_ACCEPT_LEN || memcmp(v.ptr, hs->accept, v.len) != 0) {
    char q[HSC_QUOTE_CAP];
    hsc_quote(q, v.ptr, v.len);
    hsc_say(hs, "Sec-WebSocket-Accept is \"%s\", expected \"%s\"", q,
            hs->accept);
    return hsc_final(hs, WSV_ERR_HS_ACCEPT);
  }
  return WSV_OK;
}

static int hsc_check_subprotocol(struct wsv_hs_client *hs) {
  struct wsv_str v;
  size_t n =
      wsv_http_count(hs->hdrs, hs->head.nheaders, "Sec-WebSocket-Protocol", &v);
  if (n == 0)
    return WSV_OK;
  char q[HSC_QUOTE_CAP];
  hsc_quote(q, v.ptr, v.len);
  if (n > 1) {
    hsc_say(hs, "Sec-WebSocket-Protocol appears %zu times", n);
    return hsc_final(hs, WSV_ERR_HS_SUBPROTOCOL);
  }
  if (hs->nsubs == 0) {
    hsc_say(hs, "server chose subprotocol \"%s\" but we offered none", q);
    return hsc_final(hs, WSV_ERR_HS_SUBPROTOCOL);
  }
  for (size_t i = 0; i < hs->nsubs; i++) {
    if (strlen(hs->subs[i]) == v.len &&
        memcmp(hs->subs[i], v.ptr, v.len) == 0) {
      hs->subprotocol = hs->subs[i];
      return WSV_OK;
    }
  }
  if (memchr(v.ptr, ',', v.len) != NULL)
    hsc_say(hs, "server chose several subprotocols: \"%s\"", q);
  else
    hsc_say(hs, "server chose subprotocol \"%s\", which we did not offer", q);
  return hsc_final(hs, WSV_ERR_HS_SUBPROTOCOL);
}

/* Is `name` one of the extensions in our offer? */
static int hsc_offered_ext(const struct wsv_hs_client *hs,
                           struct wsv_str name) {
  size_t pos = 0, olen = strlen(hs->ext_offer);
  struct wsv_str o;
  while (hsc_ext_next(hs->ext_offer, olen, &pos, &o) == 1)
    if (o.len == name.len && memcmp(o.ptr, name.ptr, o.len) == 0)
      return 1;
  return 0;
}

static int hsc_check_extensions(struct wsv_hs_client *hs) {
  const char *hn = "Sec-WebSocket-Extensions";
  size_t total = 0, count = 0;
  for (size_t i = 0; i < hs->head.nheaders; i++) {
    const struct wsv_header *h = &hs->hdrs[i];
    if (!wsv_str_ieq(h->name, hn))
      continue;
    char q[HSC_QUOTE_CAP];
    hsc_quote(q, h->value.ptr, h->value.len);
    if (hs->ext_offer == NULL) {
      hsc_say(hs, "server sent %s \"%s\" but we offered none", hn, q);
      return hsc_final(hs, WSV_ERR_HS_EXTENSION);
    }
    size_t pos = 0;
    struct wsv_str e;
    int rc;
    while ((rc = hsc_ext_next(h->value.ptr, h->value.len, &pos, &e)) == 1) {
      if (!hsc_offered_ext(hs, e)) {
        char qe[HSC_QUOTE_CAP];
        hsc_quote(qe, e.ptr, e.len);
        hsc_say(hs, "server agreed to extension \"%s\", which we did not offer",
                qe);
        return hsc_final(hs, WSV_ERR_HS_EXTENSION);
      }
      count++;
    }
    if (rc < 0) {
      hsc_say(hs, "%s is malformed: \"%s\"", hn, q);
      return hsc_final(hs, WSV_ERR_HS_EXTENSION);
    }
    if (h->value.len > 0)
      total += h->value.len + 2;
  }
  if (count == 0) {
    if (wsv_http_count(hs->hdrs, hs->head.nheaders, hn, NULL) == 0)
      return WSV_OK;
    hsc_say(hs, "%s is empty", hn);
    return hsc_final(hs, WSV_ERR_HS_EXTENSION);
  }
  /* Join the values with ", " (total counts 2 bytes per value, which
   * leaves room for the NUL). */
  char *j = wsv__malloc(&hs->mem, total);
  if (j == NULL) {
    hsc_say(hs, "out of memory copying %s", hn);
    return hsc_final(hs, WSV_ERR_NOMEM);
  }
  size_t at = 0;
  for (size_t i = 0; i < hs->head.nheaders; i++) {
    const struct wsv_header *h = &hs->hdrs[i];
    if (!wsv_str_ieq(h->name, hn) || h->value.len == 0)
      continue;
    if (at > 0)
      at = hsc_put(j, at, ", ", 2);
    at = hsc_put(j, at, h->value.ptr, h->value.len);
  }
  j[at] = '\0';
  hs->extensions = j;
  return WSV_OK;
}

/* Check a permessage-deflate answer against the offers it may answer
 * (RFC 7692 §5.1, §7): the first offer it is a valid answer to wins.
 * Returns 0 or -1 with *why set. */
static int hsc_pmd_match(struct wsv_hs_client *hs, struct wsv_str e,
                         const char **why) {
  struct wsv_pmd_offer resp, mine;
  size_t pos = 0, olen = strlen(hs->ext_offer);
  struct wsv_str name;
  const char *first = NULL;
  if (wsv_pmd_parse(e.ptr, e.len, &resp, why) != 1)
    return -1;
  while (hsc_ext_next(hs->ext_offer, olen, &pos, &name) == 1) {
    struct wsv_str o = hsc_ext_elem(hs->ext_offer, pos, name);
    if (!hsc_is_pmd(name) || wsv_pmd_parse(o.ptr, o.len, &mine, NULL) != 1)
      continue;
    if (wsv_pmd_check_response(&mine, &resp, &hs->pmd, why) == 0) {
      hs->pmd_ok = 1;
      return 0;
    }
    if (first == NULL)
      first = *why;
  }
  *why = first != NULL ? first : "permessage-deflate was not offered";
  return -1;
}

/* permessage-deflate in a 101 whose extension names were all offered. */
static int hsc_check_pmd(struct wsv_hs_client *hs) {
  const char *hn = "Sec-WebSocket-Extensions";
  size_t count = 0;
  for (size_t i = 0; i < hs->head.nheaders; i++) {
    const struct wsv_header *h = &hs->hdrs[i];
    size_t pos = 0;
    struct wsv_str name;
    if (!wsv_str_ieq(h->name, hn))
      continue;
    while (hsc_ext_next(h->value.ptr, h->value.len, &pos, &name) == 1) {
      struct wsv_str e = hsc_ext_elem(h->value.ptr, pos, name);
      const char *why = "";
      char q[HSC_QUOTE_CAP];
      if (!hsc_is_pmd(name))
        continue;
      hsc_quote(q, e.ptr, e.len);
      if (++count > 1) {
        hsc_say(hs, "server agreed to permessage-deflate twice (\"%s\")", q);
        return hsc_final(hs, WSV_ERR_HS_EXTENSION);
      }
      if (hsc_pmd_match(hs, e, &why) != 0) {
        hs->pmd_ok = 0;
        hsc_say(hs, "%s: \"%s\"", why, q);
        return hsc_final(hs, WSV_ERR_HS_EXTENSION);
      }
    }
  }
  return WSV_OK;
}

static int hsc_check_101(struct wsv_hs_client *hs) {
  if (hs->head.major != 1 || hs->head.minor < 1) {
    hsc_say(hs, "server answered 101 on HTTP/%d.%d, not HTTP/1.1",
            hs->head.major, hs->head.minor);
    return hsc_final(hs, WSV_ERR_HS_STATUS);
  }
  int rc = hsc_check_tokens(hs);
  if (rc == WSV_OK)
    rc = hsc_check_accept(hs);
  if (rc == WSV_OK)
    rc = hsc_check_subprotocol(hs);
  if (rc == WSV_OK)
    rc = hsc_check_extensions(hs);
  if (rc == WSV_OK)
    rc = hsc_check_pmd(hs);
  if (rc != WSV_OK)
    return rc;
  return hsc_final(hs, WSV_HSC_OPEN);
}

int wsv_hs_client_parse(struct wsv_hs_client *hs, const char *buf, size_t len) {
  if (hs == NULL || (buf == NULL && len > 0))
    return WSV_ERR_INVAL;
  if (hs->result != 0)
    return hs->result;
  if (len < hs->fed)
    return WSV_ERR_INVAL;
  hs->fed = len;
  if (len == 0)
    return WSV_HSC_INCOMPLETE;
  int rc = wsv_http_parse_response(&hs->head, buf, len);
  if (rc == WSV_ERR_AGAIN)
    return WSV_HSC_INCOMPLETE;
  if (rc == WSV_ERR_HTTP_TOO_LARGE) {
    hsc_say(hs, "response head is over %zu bytes or %zu header fields",
            hs->max_bytes, hs->max_headers);
    return hsc_final(hs, rc);
  }
  if (rc <= 0) {
    hsc_say(hs, "malformed HTTP response head");
    return hsc_final(hs, rc < 0 ? rc : WSV_ERR_HTTP_SYNTAX);
  }
  hs->head_len = (size_t)rc;
  hs->status = hs->head.status;
  if (hs->status == 101)
    return hsc_check_101(hs);
  if ((hs->status == 400 || hs->status == 426) &&
      wsv_http_count(hs->hdrs, hs->head.nheaders, "Sec-WebSocket-Version",
                     NULL) > 0)
    return hsc_negotiate(hs, buf, len);
  return hsc_status_error(hs, buf, len,
                          hs->status == 400 || hs->status == 426
                              ? " without Sec-WebSocket-Version"
                              : "");
}

int wsv_hs_client_parse_h2(struct wsv_hs_client *hs, int status,
                           const struct wsv_header *fields, size_t n) {
  size_t count = 0;
  if (hs == NULL || (fields == NULL && n > 0))
    return WSV_ERR_INVAL;
  if (hs->result != 0)
    return hs->result;
  if (hs->fed > 0)
    return WSV_ERR_INVAL;
  for (size_t i = 0; i < n; i++)
    if ((fields[i].name.ptr == NULL && fields[i].name.len > 0) ||
        (fields[i].value.ptr == NULL && fields[i].value.len > 0))
      return WSV_ERR_INVAL;
  hs->h2 = 1;
  hs->status = status;
  for (size_t i = 0; i < n; i++) {
    if (fields[i].name.len > 0 && fields[i].name.ptr[0] == ':')
      continue; /* :status, given apart */
    if (count == hs->max_headers) {
      hsc_say(hs, "response has more than %zu header fields", hs->max_headers);
      return hsc_final(hs, WSV_ERR_HTTP_TOO_LARGE);
    }
    hs->hdrs[count++] = fields[i];
  }
  hs->head.nheaders = count;
  if (status == 200) {
    int rc = hsc_check_subprotocol(hs);
    if (rc == WSV_OK)
      rc = hsc_check_extensions(hs);
    if (rc == WSV_OK)
      rc = hsc_check_pmd(hs);
    return rc != WSV_OK ? rc : hsc_final(hs, WSV_HSC_OPEN);
  }
  if (status > 200 && status < 300)
    return hsc_status_error(hs, NULL, 0,
                            "; RFC 8441 5 opens a WebSocket with 200");
  if ((status == 400 || status == 426) &&
      wsv_http_count(hs->hdrs, count, "sec-websocket-version", NULL) > 0)
    return hsc_negotiate(hs, NULL, 0);
  return hsc_status_error(hs, NULL, 0,
                          status == 400 || status == 426
                              ? " without sec-websocket-version"
                              : "");
}

int wsv_hs_client_retry(struct wsv_hs_client *hs) {
  if (hs == NULL)
    return WSV_ERR_INVAL;
  if (hs->result != WSV_HSC_RETRY)
    return WSV_ERR_STATE;
  int rc = hsc_new_key(hs);
  if (rc != WSV_OK)
    return rc;
  hs->version = hs->retry_version;
  hsc_version_text(hs);
  hs->retried = 1;
  hsc_reset_attempt(hs);
  return WSV_OK;
}

/* ---- accessors ------------------------------------------------------------
 */

int wsv_hs_client_version(const struct wsv_hs_client *hs) {
  return hs == NULL ? 0 : hs->version;
}

int wsv_hs_client_retry_version(const struct wsv_hs_client *hs) {
  return hs == NULL || hs->result != WSV_HSC_RETRY ? 0 : hs->retry_version;
}

int wsv_hs_client_is_retry(const struct wsv_hs_client *hs) {
  return hs != NULL && hs->retried;
}

int wsv_hs_client_status(const struct wsv_hs_client *hs) {
  return hs == NULL ? 0 : hs->status;
}

size_t wsv_hs_client_head_len(const struct wsv_hs_client *hs) {
  return hs == NULL ? 0 : hs->head_len;
}

const char *wsv_hs_client_reason(const struct wsv_hs_client *hs) {
  return hs == NULL ? "" : hs->reason;
}

const char *wsv_hs_client_key(const struct wsv_hs_client *hs) {
  return hs == NULL ? "" : hs->key;
}

const char *wsv_hs_client_subprotocol(const struct wsv_hs_client *hs) {
  return hs == NULL || hs->result != WSV_HSC_OPEN ? NULL : hs->subprotocol;
}

const char *wsv_hs_client_extensions(const struct wsv_hs_client *hs) {
  return hs == NULL || hs->result != WSV_HSC_OPEN ? NULL : hs->extensions;
}

int wsv_hs_client_pmd(const struct wsv_hs_client *hs,
                      struct wsv_pmd_params *out) {
  if (out == NULL)
    return 0;
  if (hs == NULL || hs->result != WSV_HSC_OPEN || !hs->pmd_ok) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  *out = hs->pmd;
  return 1;
}
