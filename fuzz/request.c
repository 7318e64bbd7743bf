/*
 * fuzz/request.c - libFuzzer target for the server opening handshake
 * (wsv_hs_server_parse, wsv_hs_server_response).
 *
 * Input: 4 config bytes, then the request bytes.
 *   byte 0  bits 0-2  version set (bit 0: 13, bit 1: 8, bit 2: 7; none: 13)
 *           bit 3     unsupported version answered 400 instead of 426
 *           bit 4     plain HTTP answered 426 instead of reported
 *           bit 5     an accept hook is installed
 *           bits 6-7  the hook: 0 accept, 1 accept and choose the first
 *                     offered subprotocol, 2 refuse (403), 3 refuse with a
 *                     status 400..599 taken from byte 1 and a reason
 *   byte 1  bits 0-3  head limit: 0 default (8192), else 16 * n * n bytes
 *           bits 4-7  header limit: 0 default (100), else n
 *   byte 2, 3         where to split the request (two cuts)
 *
 * Checked: whole and split (re-passing the growing buffer, moved each
 * time) give the same result, status, error, head length, version and
 * response bytes; a response is a well-formed HTTP/1.1 message (status
 * line, CRLF line endings, blank line, Content-Length matching the body);
 * a 101 never carries Sec-WebSocket-Version and every other answer does;
 * a rejection always closes; the head never extends past the input or the
 * limit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"

#include "fuzz_hook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_hook(struct wsv_hs_server *hs, void *user) {
  const struct fuzz_hook *h = user;
  struct wsv_str v;
  (void)wsv_hs_server_method(hs);
  (void)wsv_hs_server_origin(hs);
  (void)wsv_hs_server_header(hs, "Cookie", &v);
  return fuzz_hook_decide(hs, h);
}

/* The outcome of one run, for comparison. */
struct fuzz_out {
  int rc, status, err, version, close;
  size_t head_len;
  char *resp;
  size_t resp_len;
};

static const char *fuzz_find(const char *hay, size_t n, const char *needle) {
  size_t k = strlen(needle), i;
  for (i = 0; i + k <= n; i++)
    if (memcmp(hay + i, needle, k) == 0)
      return hay + i;
  return NULL;
}

/* 1 if the head r[0..head) has a field named `name` (any case), judged by
 * field names, not by substrings (a subprotocol may hold any token). */
static int fuzz_has_field(const char *r, size_t head, const char *name) {
  size_t k = strlen(name), i = 0, j;
  while (i < head) {
    const char *eol = fuzz_find(r + i, head - i, "\r\n");
    size_t line = eol != NULL ? (size_t)(eol - (r + i)) : head - i;
    if (line > k && r[i + k] == ':') {
      for (j = 0; j < k; j++) {
        char a = r[i + j], b = name[j];
        if (a >= 'A' && a <= 'Z')
          a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
          b = (char)(b - 'A' + 'a');
        if (a != b)
          break;
      }
      if (j == k)
        return 1;
    }
    i += line + 2;
  }
  return 0;
}

/* A well-formed answer with the version rule. */
static void fuzz_check_response(const struct fuzz_out *o) {
  const char *r = o->resp, *end;
  size_t n = o->resp_len, head, i, cl = 0;
  const char *p;
  if (o->rc == WSV_HS_PLAIN_HTTP || o->rc == WSV_HS_INCOMPLETE) {
    CHECK(n == 0);
    return;
  }
  CHECK(n > 13 && memcmp(r, "HTTP/1.1 ", 9) == 0);
  CHECK(r[9] >= '1' && r[9] <= '5' && r[12] == ' ');
  CHECK((r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0') == o->status);
  end = fuzz_find(r, n, "\r\n\r\n");
  CHECK(end != NULL);
  head = (size_t)(end - r) + 4;
  for (i = 0; i < head; i++) {
    CHECK(r[i] != '\0');
    if (r[i] == '\n')
      CHECK(i > 0 && r[i - 1] == '\r');
    if (r[i] == '\r')
      CHECK(r[i + 1] == '\n');
  }
  if (o->rc == WSV_HS_ACCEPT) {
    CHECK(o->status == 101 && head == n && !o->close);
    CHECK(!fuzz_has_field(r, head, "Sec-WebSocket-Version"));
    CHECK(fuzz_has_field(r, head, "Sec-WebSocket-Accept"));
    return;
  }
  CHECK(o->rc == WSV_HS_REJECT && o->status >= 400 && o->status <= 599);
  CHECK(o->close && o->err < 0);
  CHECK(fuzz_has_field(r, head, "Sec-WebSocket-Version"));
  CHECK(fuzz_find(r, head, "\r\nConnection: close\r\n") != NULL ||
        fuzz_find(r, head, "\r\nConnection: Upgrade, close\r\n") != NULL);
  if (o->status == 426)
    CHECK(fuzz_find(r, head, "\r\nUpgrade: websocket\r\n") != NULL);
  p = fuzz_find(r, head, "\r\nContent-Length: ");
  CHECK(p != NULL);
  for (p += 18; *p >= '0' && *p <= '9'; p++)
    cl = cl * 10 + (size_t)(*p - '0');
  CHECK(cl == n - head && cl > 0 && r[n - 1] == '\n');
  for (i = head; i + 1 < n; i++)
    CHECK(r[i] >= 0x20 && r[i] < 0x7f);
}

static void fuzz_collect(struct wsv_hs_server *hs, int rc, struct fuzz_out *o) {
  o->rc = rc;
  o->status = wsv_hs_server_status(hs);
  o->err = wsv_hs_server_error(hs);
  o->version = wsv_hs_server_version(hs);
  o->close = wsv_hs_server_close_after(hs);
  o->head_len = wsv_hs_server_head_len(hs);
  o->resp_len = wsv_hs_server_response(hs, NULL, 0);
  o->resp = malloc(o->resp_len + 1);
  CHECK(o->resp != NULL);
  CHECK(wsv_hs_server_response(hs, o->resp, o->resp_len) == o->resp_len);
}

/* Parse req[0..cut) on a fresh copy; returns the copy (the caller keeps it
 * alive while views may be used). */
static int fuzz_feed(struct wsv_hs_server *hs, const uint8_t *req, size_t cut,
                     char **copy) {
  char *c = malloc(cut + 1);
  int rc;
  CHECK(c != NULL);
  if (cut > 0)
    memcpy(c, req, cut);
  rc = wsv_hs_server_parse(hs, c, cut);
  free(*copy);
  *copy = c;
  return rc;
}

static void fuzz_run(const struct wsv_hs_server_config *cfg, const uint8_t *req,
                     size_t len, const size_t *cuts, size_t ncuts,
                     struct fuzz_out *o) {
  struct wsv_hs_server *hs;
  char *copy = NULL;
  size_t i, want;
  int rc = WSV_HS_INCOMPLETE;
  CHECK(wsv_hs_server_new(&hs, cfg, NULL) == 0);
  for (i = 0; i < ncuts && rc == WSV_HS_INCOMPLETE; i++) {
    want = wsv_hs_server_want(hs);
    CHECK(want > 0);
    rc = fuzz_feed(hs, req, cuts[i], &copy);
    CHECK(rc >= 0);
    if (rc == WSV_HS_INCOMPLETE)
      CHECK(cuts[i] < cfg->max_head_bytes);
  }
  if (rc == WSV_HS_INCOMPLETE)
    rc = fuzz_feed(hs, req, len, &copy);
  CHECK(rc >= 0);
  CHECK(wsv_hs_server_parse(hs, copy, len) == rc);
  fuzz_collect(hs, rc, o);
  CHECK(o->head_len <= len && o->head_len <= cfg->max_head_bytes);
  if (rc != WSV_HS_INCOMPLETE)
    CHECK(wsv_hs_server_want(hs) == 0);
  wsv_hs_server_free(hs);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wsv_hs_server_config cfg;
  struct fuzz_hook hook;
  struct fuzz_out whole, split;
  size_t len, cuts[2];
  const uint8_t *req;
  uint32_t v = 0;
  if (size < 4)
    return 0;
  wsv_hs_server_config_init(&cfg);
  if (data[0] & 1)
    v |= WSV_VERSION_BIT(13);
  if (data[0] & 2)
    v |= WSV_VERSION_BIT(8);
  if (data[0] & 4)
    v |= WSV_VERSION_BIT(7);
  if (v != 0)
    cfg.versions = v;
  if (data[0] & 8)
    cfg.unsupported_status = 400;
  if (data[0] & 16)
    cfg.plain_http = WSV_HS_PLAIN_426;
  hook.mode = data[0] >> 6;
  hook.status = 400 + data[1] % 200;
  if (data[0] & 32) {
    cfg.accept = fuzz_hook;
    cfg.accept_user = &hook;
  }
  if (data[1] & 15)
    cfg.max_head_bytes = 16u * (data[1] & 15u) * (data[1] & 15u);
  if (data[1] >> 4)
    cfg.max_headers = (size_t)(data[1] >> 4);
  req = data + 4;
  len = size - 4;
  cuts[0] = data[2] % (len + 1);
  cuts[1] = cuts[0] + data[3] % (len - cuts[0] + 1);
  fuzz_run(&cfg, req, len, cuts, 0, &whole);
  fuzz_run(&cfg, req, len, cuts, 2, &split);
  fuzz_check_response(&whole);
  CHECK(whole.rc == split.rc && whole.status == split.status);
  CHECK(whole.err == split.err && whole.version == split.version);
  CHECK(whole.close == split.close && whole.head_len == split.head_len);
  CHECK(whole.resp_len == split.resp_len);
  CHECK(memcmp(whole.resp, split.resp, whole.resp_len) == 0);
  free(whole.resp);
  free(split.resp);
  return 0;
}
