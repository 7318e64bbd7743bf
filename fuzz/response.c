/*
 * fuzz/response.c - libFuzzer target for the client handshake's response
 * parser (wsv_hs_client_parse).
 *
 * The first input byte picks the configuration:
 *   bits 0-2  the version set (bit 0: 13, bit 1: 8, bit 2: 7; none: all)
 *   bits 3-4  the first version (0: default, 1: 13, 2: 8, 3: 7; ignored
 *             when not in the set)
 *   bit 5     offer the subprotocols "chat" and "superchat"
 *   bit 6     offer "permessage-deflate; client_max_window_bits, x-foo"
 *   bit 7     small limits (256 head bytes, 8 header fields)
 * The rest is the server's response.  The key is fixed ("the sample nonce",
 * so a valid 101 carries s3pPLMBiTxaQ9kYGzzhZRbK+xOo=).
 *
 * Checked: the response fed whole and fed one byte at a time (re-passing the
 * growing buffer) give the same result, head length, status, retry version,
 * subprotocol and extensions; RETRY only names a version in our set that is
 * not the one just tried; every failure has a reason; a retried handshake
 * never asks for a second retry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

struct fuzz_seq {
  int calls;
};

static int fuzz_random(void *user, uint8_t *buf, size_t len) {
  struct fuzz_seq *s = user;
  int call = ++s->calls;
  if (call == 1 && len == 16) {
    memcpy(buf, "the sample nonce", 16);
    return 0;
  }
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i + (size_t)call - 1);
  return 0;
}

static int fuzz_strs_equal(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

static int fuzz_known_result(int rc) {
  switch (rc) {
  case WSV_HSC_INCOMPLETE:
  case WSV_HSC_OPEN:
  case WSV_HSC_RETRY:
  case WSV_ERR_HTTP_SYNTAX:
  case WSV_ERR_HTTP_TOO_LARGE:
  case WSV_ERR_HS_STATUS:
  case WSV_ERR_HS_UPGRADE:
  case WSV_ERR_HS_CONNECTION:
  case WSV_ERR_HS_ACCEPT:
  case WSV_ERR_HS_SUBPROTOCOL:
  case WSV_ERR_HS_EXTENSION:
  case WSV_ERR_HS_NO_COMMON_VERSION:
    return 1;
  default:
    return 0;
  }
}

static struct wsv_hs_client *fuzz_new(const struct wsv_hs_client_config *cfg,
                                      struct fuzz_seq *seq) {
  struct wsv_hs_client *hs = NULL;
  seq->calls = 0;
  CHECK(wsv_hs_client_new(&hs, cfg, NULL) == WSV_OK);
  return hs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const subs[] = {"chat", "superchat"};
  if (size < 1)
    return 0;
  uint8_t sel = data[0];
  const char *resp = (const char *)(data + 1);
  size_t len = size - 1;

  struct fuzz_seq seq;
  struct wsv_hs_client_config cfg;
  wsv_hs_client_config_init(&cfg);
  cfg.host = "example.com";
  cfg.path = "/chat";
  cfg.random = fuzz_random;
  cfg.random_user = &seq;
  cfg.versions = 0;
  if (sel & 1)
    cfg.versions |= WSV_VERSION_BIT(13);
  if (sel & 2)
    cfg.versions |= WSV_VERSION_BIT(8);
  if (sel & 4)
    cfg.versions |= WSV_VERSION_BIT(7);
  uint32_t set = cfg.versions == 0 ? WSV_VERSIONS_ALL : cfg.versions;
  static const int firsts[] = {0, 13, 8, 7};
  int first = firsts[(sel >> 3) & 3];
  if (first != 0 && (set & WSV_VERSION_BIT(first)) != 0)
    cfg.first_version = first;
  if (sel & 0x20) {
    cfg.subprotocols = subs;
    cfg.nsubprotocols = 2;
  }
  if (sel & 0x40)
    cfg.extensions = "permessage-deflate; client_max_window_bits, x-foo";
  if (sel & 0x80) {
    cfg.max_header_bytes = 256;
    cfg.max_headers = 8;
  }

  /* Whole. */
  struct wsv_hs_client *a = fuzz_new(&cfg, &seq);
  int tried = wsv_hs_client_version(a);
  CHECK((set & WSV_VERSION_BIT(tried)) != 0);
  int ra = wsv_hs_client_parse(a, resp, len);
  CHECK(fuzz_known_result(ra));

  /* One byte at a time. */
  struct wsv_hs_client *b = fuzz_new(&cfg, &seq);
  int rb = WSV_HSC_INCOMPLETE;
  for (size_t k = 0; k <= len && rb == WSV_HSC_INCOMPLETE; k++)
    rb = wsv_hs_client_parse(b, resp, k);
  CHECK(ra == rb);
  CHECK(wsv_hs_client_head_len(a) == wsv_hs_client_head_len(b));
  CHECK(wsv_hs_client_status(a) == wsv_hs_client_status(b));
  CHECK(wsv_hs_client_retry_version(a) == wsv_hs_client_retry_version(b));
  CHECK(fuzz_strs_equal(wsv_hs_client_subprotocol(a),
                        wsv_hs_client_subprotocol(b)));
  CHECK(fuzz_strs_equal(wsv_hs_client_extensions(a),
                        wsv_hs_client_extensions(b)));
  /* A final result is repeated. */
  CHECK(wsv_hs_client_parse(b, resp, len) == rb);
  wsv_hs_client_free(b);

  size_t hl = wsv_hs_client_head_len(a);
  CHECK(hl <= len);
  if (ra < 0 || ra == WSV_HSC_RETRY)
    CHECK(wsv_hs_client_reason(a)[0] != '\0');
  if (ra == WSV_HSC_OPEN) {
    CHECK(hl > 0 && wsv_hs_client_status(a) == 101);
    CHECK(wsv_hs_client_reason(a)[0] == '\0');
    const char *sp = wsv_hs_client_subprotocol(a);
    CHECK(sp == NULL || (sel & 0x20) != 0);
    CHECK(wsv_hs_client_extensions(a) == NULL || (sel & 0x40) != 0);
  }
  if (ra == WSV_HSC_RETRY) {
    int v = wsv_hs_client_retry_version(a);
    CHECK(v == 13 || v == 8 || v == 7);
    CHECK((set & WSV_VERSION_BIT(v)) != 0);
    CHECK(v != tried);
    CHECK(wsv_hs_client_retry(a) == WSV_OK);
    CHECK(wsv_hs_client_version(a) == v);
    size_t n = 0;
    CHECK(wsv_hs_client_request(a, NULL, 0, &n) == WSV_ERR_NOBUF);
    /* The retry may not ask for another retry, whatever the server says. */
    int r2 = wsv_hs_client_parse(a, resp, len);
    CHECK(fuzz_known_result(r2) && r2 != WSV_HSC_RETRY);
  } else {
    CHECK(wsv_hs_client_retry_version(a) == 0);
    CHECK(wsv_hs_client_retry(a) == WSV_ERR_STATE);
  }
  wsv_hs_client_free(a);
  return 0;
}
