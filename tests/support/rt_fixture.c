/*
 * rt_fixture.c - the runtime tests' shared server, client and raw-socket
 * fixtures (see rt_fixture.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/rt_fixture.h"

/* ---- the server side: an echo server with a few commands ----------------- */

struct rtf_srv_state rtf_srv;

void rtf_s_open(struct wsv_ws *ws, void *user) {
  struct rtf_srv_state *s = user;
  atomic_fetch_add(&s->opens, 1);
  atomic_store(&s->version, wsv_ws_version(ws));
  if (strncmp(wsv_ws_path(ws), "/room", 5) == 0 &&
      wsv_ws_subscribe(ws, wsv_ws_path(ws)) != 0)
    atomic_fetch_add(&s->bad, 1);
}

static void s_flood(struct wsv_ws *ws, struct rtf_srv_state *s) {
  static uint8_t chunk[65536];
  for (int i = 0; i < 4096; i++) {
    int rc = wsv_ws_send_binary(ws, chunk, sizeof chunk);
    size_t b = wsv_ws_buffered(ws);
    if (b > atomic_load(&s->max_buffered))
      atomic_store(&s->max_buffered, b);
    size_t total = wsv_server_output_queued(wsv_ws_server(ws));
    if (total > atomic_load(&s->max_total))
      atomic_store(&s->max_total, total);
    if (rc < 0) {
      if (rc != WSV_ERR_POLICY)
        atomic_fetch_add(&s->bad, 1);
      return;
    }
  }
}

void rtf_s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                   void *user) {
  struct rtf_srv_state *s = user;
  if (n == 8 && memcmp(d, "close-me", 8) == 0) {
    if (wsv_ws_close(ws, 4000, "server says bye", 15) != 0)
      atomic_fetch_add(&s->bad, 1);
    return;
  }
  if (n == 5 && memcmp(d, "flood", 5) == 0) {
    s_flood(ws, user);
    return;
  }
  if (strncmp(wsv_ws_path(ws), "/room", 5) == 0) { /* chat */
    if (wsv_ws_publish(ws, wsv_ws_path(ws), op, d, n, 0) < 0)
      atomic_fetch_add(&s->bad, 1);
    size_t total = wsv_server_output_queued(wsv_ws_server(ws));
    if (total > atomic_load(&s->max_total))
      atomic_store(&s->max_total, total);
    return;
  }
  int rc = wsv_ws_send(ws, op, d, n);
  if (rc != 0 && rc != 1)
    atomic_fetch_add(&s->bad, 1);
}

void rtf_s_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                 void *user) {
  struct rtf_srv_state *s = user;
  (void)reason;
  (void)len;
  atomic_store(&s->last_code, code);
  atomic_store(&s->last_err, wsv_ws_error(ws));
  if (wsv_ws_error(ws) == WSV_ERR_BUDGET ||
      strstr(wsv_ws_error_text(ws), "output budget") != NULL)
    atomic_fetch_add(&s->budget_closes, 1);
  atomic_fetch_add(&s->closes, 1);
}

void rtf_srv_config(struct wsv_server_config *cfg) {
  memset(&rtf_srv, 0, sizeof rtf_srv);
  wsv_server_config_init(cfg);
  cfg->callbacks.open = rtf_s_open;
  cfg->callbacks.message = rtf_s_message;
  cfg->callbacks.close = rtf_s_close;
  cfg->user = &rtf_srv;
}

struct wsv_server *rtf_srv_start(struct wsv_server_config *cfg) {
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, cfg), 0);
  assert_true(wsv_server_port(srv) > 0);
  assert_int_equal(wsv_server_start(srv), 0);
  return srv;
}

void rtf_srv_finish(struct wsv_server *srv) {
  assert_int_equal(atomic_load(&rtf_srv.bad), 0);
  wsv_server_stop(srv);
  assert_int_equal(wsv_server_join(srv), 0);
  assert_int_equal(wsv_server_connections(srv), 0);
  wsv_server_free(srv);
}

/* ---- the client side ----------------------------------------------------- */

void rtf_c_open(struct wsv_ws *ws, void *user) {
  struct rtf_cli *c = user;
  c->opened = 1;
  c->version = wsv_ws_version(ws);
  for (int i = 0; i < c->nsizes; i++) {
    int op = (i % 2) ? WSV_OP_BINARY : WSV_OP_TEXT;
    int rc = wsv_ws_send(ws, op, c->pattern, c->sizes[i]);
    assert_true(rc == 0 || rc == 1);
  }
}

void rtf_c_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                   void *user) {
  struct rtf_cli *c = user;
  if (c->nsizes > 0) {
    int i = c->msgs;
    if (i >= c->nsizes || n != c->sizes[i] ||
        op != ((i % 2) ? WSV_OP_BINARY : WSV_OP_TEXT) ||
        (n > 0 && memcmp(d, c->pattern, n) != 0))
      c->bad++;
  }
  c->msgs++;
  c->last_len = n < sizeof c->last ? n : sizeof c->last - 1;
  memcpy(c->last, d, c->last_len);
  c->last[c->last_len] = '\0';
  if (c->close_after > 0 && c->msgs == c->close_after)
    assert_int_equal(wsv_ws_close(ws, 1000, "bye", 3), 0);
}

void rtf_c_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                 void *user) {
  struct rtf_cli *c = user;
  c->closed = 1;
  c->code = code;
  c->err = wsv_ws_error(ws);
  snprintf(c->err_text, sizeof c->err_text, "%s", wsv_ws_error_text(ws));
  snprintf(c->reason, sizeof c->reason, "%.*s", (int)len, reason);
}

void rtf_c_fail(struct wsv_ws *ws, int err, const char *text, void *user) {
  struct rtf_cli *c = user;
  (void)ws;
  c->failed = 1;
  c->fail_err = err;
  snprintf(c->fail_text, sizeof c->fail_text, "%s", text);
}

void rtf_c_log(void *user, int level, const char *text) {
  struct rtf_cli *c = user;
  (void)level;
  size_t n = strlen(c->log);
  snprintf(c->log + n, sizeof c->log - n, "%s\n", text);
}

void rtf_cli_config(struct wsv_client_config *cfg, struct rtf_cli *c, char *url,
                    size_t cap, uint16_t port, const char *path) {
  wsv_client_config_init(cfg);
  snprintf(url, cap, "ws://127.0.0.1:%u%s", (unsigned)port, path);
  cfg->url = url;
  cfg->callbacks.open = rtf_c_open;
  cfg->callbacks.message = rtf_c_message;
  cfg->callbacks.close = rtf_c_close;
  cfg->callbacks.fail = rtf_c_fail;
  cfg->user = c;
  cfg->log = rtf_c_log;
  cfg->log_user = c;
}

void rtf_run_until(struct wsv_loop *loop, const int *flag, int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  while (!*flag && wsv_loop_now(loop) < end)
    assert_true(wsv_loop_run_once(loop, 20) >= 0);
}

void rtf_wait_atomic(atomic_int *v, int want, int ms) {
  for (int i = 0; i < ms && atomic_load(v) < want; i++)
    usleep(1000);
}

/* ---- raw sockets --------------------------------------------------------- */

int rtf_raw_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  struct timeval tv = {5, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

size_t rtf_raw_read_all(int fd, char *buf, size_t cap, int ms, int *err) {
  size_t n = 0;
  *err = -1;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
      return n;
    ssize_t r = recv(fd, buf + n, cap - n, 0);
    if (r <= 0) {
      *err = r == 0 ? 0 : errno;
      return n;
    }
    n += (size_t)r;
    if (n == cap)
      return n;
  }
}

void rtf_raw_send(int fd, const void *p, size_t n) {
  assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

int rtf_raw_drain(int fd, int ms) {
  static char sink[65536];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
      return -1;
    ssize_t r = recv(fd, sink, sizeof sink, 0);
    if (r <= 0)
      return r == 0 ? 0 : errno;
  }
}

static const char upgrade_req[] =
    "GET /raw HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

int rtf_raw_ws_path(uint16_t port, const char *path) {
  int fd = rtf_raw_connect(port);
  char req[sizeof upgrade_req + 64];
  int len = snprintf(req, sizeof req, "GET %s%s", path,
                     upgrade_req + strlen("GET /raw"));
  assert_true(len > 0 && (size_t)len < sizeof req);
  rtf_raw_send(fd, req, (size_t)len);
  char buf[1024];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = recv(fd, buf + n, 1, 0);
    assert_int_equal(r, 1);
    n++;
    if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
      break;
  }
  buf[n] = '\0';
  assert_non_null(strstr(buf, "101 Switching Protocols"));
  return fd;
}

int rtf_raw_ws(uint16_t port) {
  return rtf_raw_ws_path(port, "/raw");
}

void rtf_raw_frame(int fd, unsigned b0, const void *p, size_t n, int parts,
                   int gap_ms) {
  uint8_t f[256];
  assert_true(n <= 125);
  f[0] = (uint8_t)b0;
  f[1] = (uint8_t)(0x80 | n);
  memcpy(f + 2, "\x11\x22\x33\x44", 4);
  memcpy(f + 6, p, n);
  wsv_frame_mask(f + 6, n, f + 2, 0);
  size_t total = 6 + n, off = 0;
  for (int i = 0; i < parts; i++) {
    size_t end =
        i == parts - 1 ? total : total * (size_t)(i + 1) / (size_t)parts;
    rtf_raw_send(fd, f + off, end - off);
    off = end;
    if (i < parts - 1)
      usleep((useconds_t)gap_ms * 1000);
  }
}

size_t rtf_raw_read_frame(int fd, unsigned *b0, char *out, size_t cap) {
  uint8_t h[2];
  int err;
  assert_int_equal(rtf_raw_read_all(fd, (char *)h, 2, 2000, &err), 2);
  size_t n = h[1] & 0x7f;
  assert_true(n <= 125 && n <= cap);
  if (n > 0)
    assert_int_equal(rtf_raw_read_all(fd, out, n, 2000, &err), n);
  *b0 = h[0];
  return n;
}

void rtf_expect_echo(int fd, const char *want) {
  char buf[128];
  unsigned b0;
  size_t n = rtf_raw_read_frame(fd, &b0, buf, sizeof buf);
  assert_int_equal(b0, 0x81);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(buf, want, n);
}

/* ---- a recording client ------------------------------------------------- */

static void rec_open(struct wsv_ws *ws, void *user) {
  (void)user;
  ((struct rtf_rec *)wsv_ws_user(ws))->opened = 1;
}

static void rec_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                        void *user) {
  (void)user;
  struct rtf_rec *r = wsv_ws_user(ws);
  if (r->n < 128) {
    r->op[r->n] = op;
    r->len[r->n] = n;
  }
  r->n++;
  unsigned char *p = realloc(r->bytes, r->total + n + 1);
  assert_non_null(p);
  r->bytes = p;
  memcpy(p + r->total, d, n);
  r->total += n;
}

struct wsv_ws *rtf_rec_connect(struct wsv_loop *loop, struct rtf_rec *r,
                               uint16_t port, const char *path) {
  static struct rtf_cli unused;
  struct wsv_client_config cc;
  char url[96];
  rtf_cli_config(&cc, &unused, url, sizeof url, port, path);
  cc.callbacks.open = rec_open;
  cc.callbacks.message = rec_message;
  struct wsv_ws *ws = NULL;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  wsv_ws_set_user(ws, r);
  return ws;
}

/* Spin until each of rs[0..n) has `want` messages (bounded). */
void rtf_rec_until(struct wsv_loop *loop, struct rtf_rec **rs, int n, int want,
                   int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  for (;;) {
    int ok = 1;
    for (int i = 0; i < n; i++)
      ok &= rs[i]->n >= want;
    if (ok || wsv_loop_now(loop) >= end)
      return;
    (void)wsv_loop_run_once(loop, 5);
  }
}

void rtf_until_opens(struct wsv_loop *loop, int n) {
  uint64_t end = wsv_loop_now(loop) + 3000;
  while (atomic_load(&rtf_srv.opens) < n && wsv_loop_now(loop) < end)
    (void)wsv_loop_run_once(loop, 5);
  assert_int_equal(atomic_load(&rtf_srv.opens), n);
}
