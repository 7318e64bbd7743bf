/*
 * fuzz/hs_h2.c - libFuzzer target for the HTTP/2 opening handshake of
 * RFC 8441 in the core: the server's wsv_hs_server_parse_h2 and
 * wsv_hs_server_response_h2, and the client's wsv_hs_client_parse_h2 on
 * the same fields.
 *
 * Input: 3 config bytes, then the field list: fields separated by '\n',
 * each "name=value" (split at the first '='; without one, an empty
 * value).  Every name and value is copied into a buffer of its own exact
 * size, so a read past a field's end is caught by ASan.
 *   byte 0  bits 0-2  the server's version set (bit 0: 13, bit 1: 8,
 *                     bit 2: 7; none: 13)
 *           bit 3     plain_http = WSV_HS_PLAIN_426
 *           bit 4     an accept hook is installed; it reads every view
 *           bits 5-6  the hook: 0 accept, 1 accept and choose the first
 *                     offered subprotocol, 2 refuse (403), 3 refuse with
 *                     a status 400..599 from byte 1 and a reason
 *           bit 7     pmd_policy WSV_PMD_ON
 *   byte 1  bits 0-3  max_headers: 0 the default, else n
 *           bits 4-7  max_head_bytes: 0 the default, else 32 * n * n
 *   byte 2            the :status the client judges (from a table of
 *                     the interesting ones, or 100 + byte 2 * 2)
 *
 * Checked, server: the result is ACCEPT, REJECT or PLAIN_HTTP; a reset
 * object judges the same list the same way; ACCEPT is :status 200, keeps
 * the stream, never answers sec-websocket-version, and its subprotocol is
 * one the request offered; REJECT is a 4xx/5xx but never 426 (the hook's
 * status, or 403; its 426 becomes 400),
 * closes the stream and answers sec-websocket-version with the supported
 * list and a content-type; PLAIN_HTTP has no fields and no status; every
 * answer's names are lower case and never a pseudo-header or an HTTP/1.1
 * connection field; the HTTP/1.1 writer says nothing; the reason is
 * printable ASCII.  Client: the result is OPEN, RETRY or an error with a
 * reason; OPEN only for 200 with a subprotocol we offered (or none);
 * RETRY only for 400/426, after which the retry's request asks for the
 * retry version.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"

#include "fuzz_hook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 256

static int fuzz_eq(struct wsv_str s, const char *z) {
  size_t n = strlen(z);
  return s.len == n && memcmp(s.ptr, z, n) == 0;
}

static int fuzz_hook(struct wsv_hs_server *hs, void *user) {
  const struct fuzz_hook *h = user;
  size_t n, i;
  struct wsv_str v;
  const struct wsv_header *all;
  CHECK(wsv_hs_server_is_h2(hs) == 1);
  CHECK(fuzz_eq(wsv_hs_server_method(hs), "CONNECT"));
  CHECK(wsv_hs_server_path(hs).len > 0 && wsv_hs_server_path(hs).ptr[0] == '/');
  (void)wsv_hs_server_query(hs);
  (void)wsv_hs_server_origin(hs);
  CHECK(wsv_hs_server_header(hs, "host", &v) >= 1 && v.len > 0);
  all = wsv_hs_server_headers(hs, &n);
  for (i = 0; i < n; i++)
    CHECK(all[i].name.len > 0 && all[i].name.ptr[0] != ':');
  return fuzz_hook_decide(hs, h);
}

/* 1 if `sub` is one of the elements of the offered subprotocol lists. */
static int fuzz_offered(const struct wsv_hs_server *hs, struct wsv_str sub) {
  size_t pos = 0;
  struct wsv_str e;
  while (wsv_hs_server_list_next(hs, "sec-websocket-protocol", &pos, &e))
    if (e.ptr == sub.ptr && e.len == sub.len)
      return 1;
  return 0;
}

static void fuzz_check_server(const struct wsv_hs_server *hs, int rc,
                              const struct fuzz_hook *hook, int hooked,
                              const char *versions) {
  struct wsv_header f[16];
  size_t n = wsv_hs_server_response_h2(hs, NULL, 0), i, k;
  int status = wsv_hs_server_status(hs), has_version = 0, has_type = 0;
  const char *reason = wsv_hs_server_reason(hs);
  CHECK(rc == WSV_HS_ACCEPT || rc == WSV_HS_REJECT || rc == WSV_HS_PLAIN_HTTP);
  CHECK(wsv_hs_server_is_h2(hs) == 1);
  CHECK(wsv_hs_server_response(hs, NULL, 0) == 0);
  CHECK(wsv_hs_server_head_len(hs) == 0);
  CHECK(n <= 16);
  CHECK(wsv_hs_server_response_h2(hs, f, 16) == n);
  for (i = 0; reason[i] != '\0'; i++)
    CHECK(reason[i] >= 0x20 && reason[i] < 0x7f);
  for (i = 0; i < n; i++) {
    CHECK(f[i].name.len > 0 && f[i].name.ptr[0] != ':');
    for (k = 0; k < f[i].name.len; k++)
      CHECK(!(f[i].name.ptr[k] >= 'A' && f[i].name.ptr[k] <= 'Z'));
    CHECK(!fuzz_eq(f[i].name, "connection") && !fuzz_eq(f[i].name, "upgrade"));
    if (fuzz_eq(f[i].name, "sec-websocket-version")) {
      CHECK(fuzz_eq(f[i].value, versions));
      has_version = 1;
    }
    has_type |= fuzz_eq(f[i].name, "content-type");
  }
  if (rc == WSV_HS_PLAIN_HTTP) {
    CHECK(n == 0 && status == 0 && !wsv_hs_server_close_after(hs));
    CHECK(wsv_hs_server_error(hs) == WSV_ERR_HS_NOT_UPGRADE);
    return;
  }
  if (rc == WSV_HS_ACCEPT) {
    struct wsv_str sub = wsv_hs_server_subprotocol(hs);
    CHECK(status == 200 && !wsv_hs_server_close_after(hs) && !has_version);
    CHECK(wsv_hs_server_error(hs) == 0 && reason[0] == '\0');
    CHECK(sub.len == 0 || fuzz_offered(hs, sub));
    CHECK(wsv_hs_server_version(hs) >= 7);
    return;
  }
  CHECK(status >= 400 && status <= 599 && status != 426);
  CHECK(wsv_hs_server_close_after(hs));
  CHECK(status == 403 || status == 400 ||
        (hooked && hook->mode == 3 && status == hook->status) ||
        wsv_hs_server_error(hs) != WSV_ERR_HS_REFUSED);
  CHECK(wsv_hs_server_error(hs) < 0 && reason[0] != '\0');
  CHECK(has_version && has_type);
}

/* The client offers chat and superchat and permessage-deflate, speaks
 * every version, and judges `status` with the fields. */
static void fuzz_client(int status, const struct wsv_header *fields, size_t n) {
  static const char *subs[] = {"chat", "superchat"};
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  struct wsv_header req[16];
  const char *sub;
  int rc, before, count;
  wsv_hs_client_config_init(&cfg);
  cfg.host = "example.com";
  cfg.subprotocols = subs;
  cfg.nsubprotocols = 2;
  cfg.pmd_offer = 1;
  CHECK(wsv_hs_client_new(&hs, &cfg, NULL) == 0);
  before = wsv_hs_client_version(hs);
  rc = wsv_hs_client_parse_h2(hs, status, fields, n);
  CHECK(wsv_hs_client_parse_h2(hs, status, fields, n) == rc);
  CHECK(wsv_hs_client_status(hs) == status);
  if (rc == WSV_HSC_OPEN) {
    CHECK(status == 200);
    sub = wsv_hs_client_subprotocol(hs);
    CHECK(sub == NULL || strcmp(sub, "chat") == 0 ||
          strcmp(sub, "superchat") == 0);
  } else if (rc == WSV_HSC_RETRY) {
    CHECK(status == 400 || status == 426);
    CHECK(wsv_hs_client_retry_version(hs) != before);
    CHECK(wsv_hs_client_retry(hs) == 0);
    count = wsv_hs_client_request_h2(hs, req, 16);
    CHECK(count >= 6 && count <= 16);
    CHECK(fuzz_eq(req[5].name, "sec-websocket-version"));
    CHECK(wsv_hs_client_version(hs) != before);
  } else {
    CHECK(rc < 0 && wsv_hs_client_reason(hs)[0] != '\0');
  }
  wsv_hs_client_free(hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int statuses[] = {200, 400, 426, 403, 204, 101, 500, 200};
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  struct fuzz_hook hook;
  struct wsv_header *fields;
  const char *versions;
  size_t n = 0, i, start;
  uint32_t v = 0;
  int rc, status;
  if (size < 3)
    return 0;
  wsv_hs_server_config_init(&cfg);
  v |= (data[0] & 1) ? WSV_VERSION_BIT(13) : 0;
  v |= (data[0] & 2) ? WSV_VERSION_BIT(8) : 0;
  v |= (data[0] & 4) ? WSV_VERSION_BIT(7) : 0;
  if (v != 0)
    cfg.versions = v;
  v = cfg.versions;
  versions = v == WSV_VERSIONS_ALL                             ? "13, 8, 7"
             : v == (WSV_VERSION_BIT(13) | WSV_VERSION_BIT(8)) ? "13, 8"
             : v == (WSV_VERSION_BIT(13) | WSV_VERSION_BIT(7)) ? "13, 7"
             : v == (WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7))  ? "8, 7"
             : v == WSV_VERSION_BIT(8)                         ? "8"
             : v == WSV_VERSION_BIT(7)                         ? "7"
                                                               : "13";
  if (data[0] & 8)
    cfg.plain_http = WSV_HS_PLAIN_426;
  hook.mode = (data[0] >> 5) & 3;
  hook.status = 400 + data[1] % 200;
  if (data[0] & 16) {
    cfg.accept = fuzz_hook;
    cfg.accept_user = &hook;
  }
  if (data[0] & 128)
    cfg.pmd_policy = WSV_PMD_ON;
  if (data[1] & 15)
    cfg.max_headers = data[1] & 15u;
  if (data[1] >> 4)
    cfg.max_head_bytes = 32u * (data[1] >> 4) * (data[1] >> 4);
  status = data[2] < 128 ? statuses[data[2] % 8] : 100 + (data[2] - 128) * 3;

  fields = calloc(MAX_FIELDS, sizeof *fields);
  CHECK(fields != NULL);
  data += 3;
  size -= 3;
  for (start = 0; start <= size && n < MAX_FIELDS;) {
    const uint8_t *nl = memchr(data + start, '\n', size - start);
    size_t end = nl != NULL ? (size_t)(nl - data) : size;
    const uint8_t *eq = memchr(data + start, '=', end - start);
    size_t nlen = eq != NULL ? (size_t)(eq - data) - start : end - start;
    size_t vlen = eq != NULL ? end - start - nlen - 1 : 0;
    char *name = malloc(nlen + 1), *value = malloc(vlen + 1);
    CHECK(name != NULL && value != NULL);
    memcpy(name, data + start, nlen);
    if (vlen > 0)
      memcpy(value, eq + 1, vlen);
    fields[n].name.ptr = name;
    fields[n].name.len = nlen;
    fields[n].value.ptr = value;
    fields[n].value.len = vlen;
    n++;
    start = end + 1;
  }

  CHECK(wsv_hs_server_new(&hs, &cfg, NULL) == 0);
  rc = wsv_hs_server_parse_h2(hs, fields, n);
  fuzz_check_server(hs, rc, &hook, cfg.accept != NULL, versions);
  {
    int st = wsv_hs_server_status(hs), err = wsv_hs_server_error(hs);
    CHECK(wsv_hs_server_parse_h2(hs, fields, n) == WSV_ERR_INVAL);
    wsv_hs_server_reset(hs);
    CHECK(wsv_hs_server_parse_h2(hs, fields, n) == rc);
    CHECK(wsv_hs_server_status(hs) == st && wsv_hs_server_error(hs) == err);
  }
  wsv_hs_server_free(hs);

  fuzz_client(status, fields, n);
  for (i = 0; i < n; i++) {
    free((void *)(uintptr_t)fields[i].name.ptr);
    free((void *)(uintptr_t)fields[i].value.ptr);
  }
  free(fields);
  return 0;
}
