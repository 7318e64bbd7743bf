/*
 * fuzz/extensions.c - libFuzzer target: arbitrary Sec-WebSocket-Extensions
 * values through the server's permessage-deflate negotiation and the
 * client's validation.
 *
 * Byte 0: bits 0-1 the server's policy (OFF, ON, LEAN; 3 is ON), bit 2
 * split the value over two header lines, bits 3-7 the client's
 * pmd_request.  The rest is the value (CR, LF and other control bytes
 * become spaces, so the request stays valid HTTP).  Oracles:
 *   - the server always answers 101 (a bad offer is declined, never 400);
 *   - its answer, when it has one, is exactly what wsv_pmd_select finds,
 *     re-parses as one valid permessage-deflate element, and
 *     wsv_pmd_check_response accepts it for the chosen offer with the
 *     same parameters the server reports;
 *   - a client that sent the value as its own offer opens with the
 *     server's answer, agreeing on the same parameters;
 *   - a client (pmd_offer = 1) given the value as the server's answer
 *     never crashes, and when it opens with pmd its parameters are in
 *     range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FX_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static int fx_random(void *user, uint8_t *buf, size_t len) {
  (void)user;
  memset(buf, 0x11, len);
  return 0;
}

static int fx_params_ok(const struct wsv_pmd_params *p) {
  return p->enabled == 1 && p->server_max_window_bits >= 8 &&
         p->server_max_window_bits <= 15 && p->client_max_window_bits >= 8 &&
         p->client_max_window_bits <= 15 &&
         (p->server_no_context_takeover & ~1) == 0 &&
         (p->client_no_context_takeover & ~1) == 0;
}

/* A 101 for `hs` carrying `ext` lines. */
static size_t fx_response(struct wsv_hs_client *hs, const char *ext,
                          size_t ext_len, char *out, size_t cap) {
  char accept[28];
  size_t n = 0;
  const char *a = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
  wsv__accept_value(wsv_hs_client_key(hs), 24, accept);
  if (strlen(a) + 28 + ext_len + 8 > cap)
    abort();
  memcpy(out, a, strlen(a));
  n = strlen(a);
  memcpy(out + n, accept, 28);
  n += 28;
  memcpy(out + n, "\r\n", 2);
  n += 2;
  memcpy(out + n, ext, ext_len);
  n += ext_len;
  memcpy(out + n, "\r\n", 2);
  return n + 2;
}

/* The client offering `offer` (NUL-terminated) gets the server's answer. */
static void fx_client_raw(const char *offer, const char *answer,
                          const struct wsv_pmd_params *server) {
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  struct wsv_pmd_params p;
  char lines[512], resp[1024];
  size_t n;
  int rc;
  wsv_hs_client_config_init(&cfg);
  cfg.host = "example.com";
  cfg.random = fx_random;
  cfg.extensions = offer;
  if (wsv_hs_client_new(&hs, &cfg, NULL) != WSV_OK)
    return; /* not an offer a client may send */
  n = (size_t)snprintf(lines, sizeof lines, "Sec-WebSocket-Extensions: %s\r\n",
                       answer);
  n = fx_response(hs, lines, n, resp, sizeof resp);
  rc = wsv_hs_client_parse(hs, resp, n);
  if (rc != WSV_HSC_OPEN || wsv_hs_client_pmd(hs, &p) != 1)
    abort();
  /* The client may know more: a client_no_context_takeover it offered,
   * and a client window it hinted. */
  if (p.server_no_context_takeover != server->server_no_context_takeover ||
      p.server_max_window_bits != server->server_max_window_bits ||
      p.client_max_window_bits > server->client_max_window_bits ||
      (server->client_no_context_takeover && !p.client_no_context_takeover))
    abort();
  wsv_hs_client_free(hs);
}

static void fx_server(int policy, const char *value, size_t len, int split) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  struct wsv_pmd_params sp, sel;
  struct wsv_pmd_offer o, ans;
  char *req, resp[2048], want[WSV_PMD_FORMAT_MAX + 1];
  const char *head = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " FX_KEY
                     "\r\nSec-WebSocket-Version: 13\r\n";
  size_t n = 0, cut = split ? len / 2 : len, rn;
  const char *p, *e;
  int got;

  req = malloc(strlen(head) + len + 128);
  if (req == NULL)
    abort();
  memcpy(req, head, strlen(head));
  n = strlen(head);
  memcpy(req + n, "Sec-WebSocket-Extensions: ", 26);
  n += 26;
  memcpy(req + n, value, cut);
  n += cut;
  if (split) {
    memcpy(req + n, "\r\nSec-WebSocket-Extensions: ", 28);
    n += 28;
    memcpy(req + n, value + cut, len - cut);
    n += len - cut;
  }
  memcpy(req + n, "\r\n\r\n", 4);
  n += 4;
  wsv_hs_server_config_init(&cfg);
  cfg.pmd_policy = policy;
  cfg.max_head_bytes = 1 << 20;
  if (wsv_hs_server_new(&hs, &cfg, NULL) != 0)
    abort();
  rn = (size_t)wsv_hs_server_parse(hs, req, n);
  if (rn == WSV_HS_REJECT) {
    /* Only HTTP-level faults may refuse: an empty header line value
     * cannot, so this must be a syntax fault of the fuzz bytes. */
    if (wsv_hs_server_error(hs) != WSV_ERR_HTTP_SYNTAX)
      abort();
    goto out;
  }
  if (rn != WSV_HS_ACCEPT)
    abort();
  rn = wsv_hs_server_response(hs, resp, sizeof resp - 1);
  if (rn >= sizeof resp)
    abort();
  resp[rn] = '\0';
  got = wsv_hs_server_pmd(hs, &sp);
  p = strstr(resp, "Sec-WebSocket-Extensions: ");
  if ((p != NULL) != got)
    abort();
  /* The same choice as the helper (one header line: with two, a quote
   * left open in the first would be read differently once joined). */
  if (split) {
    if (got) {
      p += strlen("Sec-WebSocket-Extensions: ");
      e = strstr(p, "\r\n");
      if (wsv_pmd_parse(p, (size_t)(e - p), &ans, NULL) != 1 ||
          !fx_params_ok(&sp))
        abort();
    }
    goto out;
  }
  {
    char *joined = malloc(len + 3);
    size_t jn = cut;
    if (joined == NULL)
      abort();
    memcpy(joined, value, cut);
    if (split) {
      memcpy(joined + jn, ", ", 2);
      jn += 2;
      memcpy(joined + jn, value + cut, len - cut);
      jn += len - cut;
    }
    if (wsv_pmd_select(joined, jn, policy, &sel, &o) != got)
      abort();
    free(joined);
  }
  if (!got)
    goto out;
  p += strlen("Sec-WebSocket-Extensions: ");
  e = strstr(p, "\r\n");
  (void)wsv_pmd_format_response(&sel, &o, want, sizeof want);
  if ((size_t)(e - p) != strlen(want) || memcmp(p, want, strlen(want)) != 0 ||
      memcmp(&sel, &sp, sizeof sp) != 0 || !fx_params_ok(&sp))
    abort();
  if (wsv_pmd_parse(p, (size_t)(e - p), &ans, NULL) != 1) {
    abort();
  } else {
    struct wsv_pmd_params agreed;
    if (wsv_pmd_check_response(&o, &ans, &agreed, NULL) != 0)
      abort();
    if (agreed.server_no_context_takeover != sp.server_no_context_takeover ||
        agreed.server_max_window_bits != sp.server_max_window_bits ||
        agreed.client_max_window_bits != sp.client_max_window_bits)
      abort();
  }
  /* A client that sent this list (when it is one a client may send). */
  {
    char *offer = malloc(len + 1);
    if (offer == NULL)
      abort();
    memcpy(offer, value, len);
    offer[len] = '\0';
    fx_client_raw(offer, want, &sp);
    free(offer);
  }
out:
  wsv_hs_server_free(hs);
  free(req);
}

static void fx_client(unsigned flags, const char *value, size_t len) {
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  struct wsv_pmd_params p;
  char *lines, *resp;
  size_t n;
  int rc;
  wsv_hs_client_config_init(&cfg);
  cfg.host = "example.com";
  cfg.random = fx_random;
  cfg.pmd_offer = 1;
  cfg.pmd_request.server_no_context_takeover = flags & 1;
  cfg.pmd_request.client_no_context_takeover = (flags >> 1) & 1;
  cfg.pmd_request.server_max_window_bits = (flags & 4) ? 10 : 0;
  cfg.pmd_request.client_max_window_bits = (flags & 8) ? 12 : 0;
  cfg.max_header_bytes = 1 << 20;
  if (wsv_hs_client_new(&hs, &cfg, NULL) != WSV_OK)
    abort();
  lines = malloc(len + 64);
  resp = malloc(len + 512);
  if (lines == NULL || resp == NULL)
    abort();
  memcpy(lines, "Sec-WebSocket-Extensions: ", 26);
  memcpy(lines + 26, value, len);
  memcpy(lines + 26 + len, "\r\n", 2);
  n = fx_response(hs, lines, len + 28, resp, len + 512);
  rc = wsv_hs_client_parse(hs, resp, n);
  if (rc != WSV_HSC_OPEN && rc != WSV_ERR_HS_EXTENSION &&
      rc != WSV_ERR_HTTP_SYNTAX)
    abort();
  if (wsv_hs_client_pmd(hs, &p) == 1 &&
      (!fx_params_ok(&p) ||
       (cfg.pmd_request.server_max_window_bits &&
        p.server_max_window_bits > 10) ||
       (cfg.pmd_request.server_no_context_takeover &&
        !p.server_no_context_takeover)))
    abort();
  wsv_hs_client_free(hs);
  free(lines);
  free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *v;
  size_t i, len;
  int policy;
  if (size < 1 || size > 4096)
    return 0;
  len = size - 1;
  v = malloc(len + 1);
  if (v == NULL)
    abort();
  for (i = 0; i < len; i++) {
    unsigned char c = data[i + 1];
    v[i] = (char)((c < 0x20 && c != '\t') || c == 0x7f ? ' ' : c);
  }
  v[len] = '\0';
  policy = data[0] & 3;
  if (policy == 3)
    policy = WSV_PMD_ON;
  fx_server(policy, v, len, (data[0] >> 2) & 1);
  fx_client((unsigned)data[0] >> 3, v, len);
  free(v);
  return 0;
}
