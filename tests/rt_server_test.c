/*
 * rt_server_test.c - the runtime's server and client over loopback, in one
 * process: the server runs on its own threads (wsv_server_start), the
 * clients on a loop of the test's thread, raw sockets where a misbehaving
 * peer is needed.  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <malloc.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RT_ASAN 1
#endif
#ifdef RT_ASAN
/* From the sanitizer runtime (its header is not installed with gcc). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "wsv.h"
#include "wsv/rt.h"

#include "rt_util.inc"

/* ---- the server side: an echo server with a few commands ----------------- */

struct srv_state {
  atomic_int opens;
  atomic_int closes;
  atomic_int last_code;
  atomic_int last_err;
  atomic_int version;
  atomic_size_t max_buffered;
  atomic_size_t max_total; /* most output queued server-wide after a send */
  atomic_int budget_closes; /* closes for the output or input budget */
  atomic_int bad; /* no cmocka asserts on the server's threads */
};

static void s_open(struct wsv_ws *ws, void *user) {
  struct srv_state *s = user;
  atomic_fetch_add(&s->opens, 1);
  atomic_store(&s->version, wsv_ws_version(ws));
  if (strncmp(wsv_ws_path(ws), "/room", 5) == 0 &&
      wsv_ws_subscribe(ws, wsv_ws_path(ws)) != 0)
    atomic_fetch_add(&s->bad, 1);
}

static void s_flood(struct wsv_ws *ws, struct srv_state *s) {
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

static void s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  struct srv_state *s = user;
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

static void s_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                    void *user) {
  struct srv_state *s = user;
  (void)reason;
  (void)len;
  atomic_store(&s->last_code, code);
  atomic_store(&s->last_err, wsv_ws_error(ws));
  if (wsv_ws_error(ws) == WSV_ERR_BUDGET ||
      strstr(wsv_ws_error_text(ws), "output budget") != NULL)
    atomic_fetch_add(&s->budget_closes, 1);
  atomic_fetch_add(&s->closes, 1);
}

static void s_http(const struct wsv_hs_server *hs,
                   struct wsv_http_response *res, void *user) {
  static const char page[] = "<h1>wsv</h1>\n";
  (void)user;
  struct wsv_str path = wsv_hs_server_path(hs);
  if (path.len == 1 && path.ptr[0] == '/') {
    res->status = 200;
    res->content_type = "text/html";
    res->body = page;
    res->body_len = sizeof page - 1;
  }
}

static struct srv_state g_srv;

static void srv_config(struct wsv_server_config *cfg) {
  memset(&g_srv, 0, sizeof g_srv);
  wsv_server_config_init(cfg);
  cfg->callbacks.open = s_open;
  cfg->callbacks.message = s_message;
  cfg->callbacks.close = s_close;
  cfg->user = &g_srv;
}

static struct wsv_server *srv_start(struct wsv_server_config *cfg) {
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, cfg), 0);
  assert_true(wsv_server_port(srv) > 0);
  assert_int_equal(wsv_server_start(srv), 0);
  return srv;
}

static void srv_finish(struct wsv_server *srv) {
  assert_int_equal(atomic_load(&g_srv.bad), 0);
  wsv_server_stop(srv);
  assert_int_equal(wsv_server_join(srv), 0);
  assert_int_equal(wsv_server_connections(srv), 0);
  wsv_server_free(srv);
}

/* ---- the client side
 * ---------------------------------------------------------- */

struct cli {
  int opened;
  int closed;
  int failed;
  int code;
  char reason[128];
  int fail_err;
  char fail_text[256];
  int err;           /* wsv_ws_error in the close callback */
  char err_text[64]; /* wsv_ws_error_text there */
  int version;
  int msgs;
  int bad;
  char last[64];
  size_t last_len;
  char log[1024];
  /* Echo test: the messages to send and compare. */
  const size_t *sizes;
  int nsizes;
  uint8_t *pattern;
  int close_after;
};

static void c_open(struct wsv_ws *ws, void *user) {
  struct cli *c = user;
  c->opened = 1;
  c->version = wsv_ws_version(ws);
  for (int i = 0; i < c->nsizes; i++) {
    int op = (i % 2) ? WSV_OP_BINARY : WSV_OP_TEXT;
    int rc = wsv_ws_send(ws, op, c->pattern, c->sizes[i]);
    assert_true(rc == 0 || rc == 1);
  }
}

static void c_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  struct cli *c = user;
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

static void c_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                    void *user) {
  struct cli *c = user;
  c->closed = 1;
  c->code = code;
  c->err = wsv_ws_error(ws);
  snprintf(c->err_text, sizeof c->err_text, "%s", wsv_ws_error_text(ws));
  snprintf(c->reason, sizeof c->reason, "%.*s", (int)len, reason);
}

static void c_fail(struct wsv_ws *ws, int err, const char *text, void *user) {
  struct cli *c = user;
  (void)ws;
  c->failed = 1;
  c->fail_err = err;
  snprintf(c->fail_text, sizeof c->fail_text, "%s", text);
}

static void c_log(void *user, int level, const char *text) {
  struct cli *c = user;
  (void)level;
  size_t n = strlen(c->log);
  snprintf(c->log + n, sizeof c->log - n, "%s\n", text);
}

static void cli_config(struct wsv_client_config *cfg, struct cli *c, char *url,
                       size_t cap, uint16_t port, const char *path) {
  wsv_client_config_init(cfg);
  snprintf(url, cap, "ws://127.0.0.1:%u%s", (unsigned)port, path);
  cfg->url = url;
  cfg->callbacks.open = c_open;
  cfg->callbacks.message = c_message;
  cfg->callbacks.close = c_close;
  cfg->callbacks.fail = c_fail;
  cfg->user = c;
  cfg->log = c_log;
  cfg->log_user = c;
}

/* Run `loop` until *flag is nonzero or `ms` milliseconds passed. */
static void run_until(struct wsv_loop *loop, const int *flag, int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  while (!*flag && wsv_loop_now(loop) < end)
    assert_true(wsv_loop_run_once(loop, 20) >= 0);
}

/* Wait (bounded) until an atomic reaches a value. */
static void wait_atomic(atomic_int *v, int want, int ms) {
  for (int i = 0; i < ms && atomic_load(v) < want; i++)
    usleep(1000);
}

/* ---- raw sockets -----------------------------------------------------------
 */


static void raw_send(int fd, const void *p, size_t n) {
  assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read and drop everything until EOF (returns 0), an error (its errno) or
 * `ms` of silence (-1). */
static int raw_drain(int fd, int ms) {
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

/* Do the handshake by hand for `path`; returns the socket once the 101
 * is read. */
static int raw_ws_path(uint16_t port, const char *path) {
  int fd = raw_connect(port);
  char req[sizeof upgrade_req + 64];
  int len = snprintf(req, sizeof req, "GET %s%s", path,
                     upgrade_req + strlen("GET /raw"));
  assert_true(len > 0 && (size_t)len < sizeof req);
  raw_send(fd, req, (size_t)len);
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

static int raw_ws(uint16_t port) {
  return raw_ws_path(port, "/raw");
}

/* ---- tests
 * ----------------------------------------------------------------------- */

static void test_echo_sizes(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  struct wsv_server *srv = srv_start(&scfg);
  static const size_t sizes[] = {0,     1,     125,   126,    127,
                                 65535, 65536, 65537, 300000, 1 << 20};
  struct cli c;
  memset(&c, 0, sizeof c);
  c.sizes = sizes;
  c.nsizes = (int)(sizeof sizes / sizeof sizes[0]);
  c.pattern = malloc(1 << 20);
  for (size_t i = 0; i < (1 << 20); i++)
    c.pattern[i] = (uint8_t)('a' + i % 26);
  c.close_after = c.nsizes;
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/echo?x=1");
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  run_until(loop, &c.closed, 5000);
  assert_true(c.opened);
  assert_int_equal(c.version, 13);
  assert_int_equal(c.msgs, c.nsizes);
  assert_int_equal(c.bad, 0);
  assert_true(c.closed);
  assert_int_equal(c.code, 1000); /* the server echoes our code */
  wait_atomic(&g_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.last_code), 1000);
  free(c.pattern);
  wsv_loop_free(loop);
  srv_finish(srv);
}

static void test_server_closes(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  struct wsv_server *srv = srv_start(&scfg);
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  assert_int_equal(wsv_ws_send_text(ws, "close-me", 8), 0);
  run_until(loop, &c.closed, 3000);
  assert_true(c.closed);
  assert_int_equal(c.code, 4000);
  assert_string_equal(c.reason, "server says bye");
  wait_atomic(&g_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.last_code), 4000); /* echoed */
  wsv_loop_free(loop);
  srv_finish(srv);
}

static void test_version_retry(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.handshake.versions = WSV_VERSION_BIT(8);
  struct wsv_server *srv = srv_start(&scfg);
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  run_until(loop, &c.opened, 3000);
  assert_true(c.opened);
  assert_int_equal(c.version, 8);
  assert_non_null(strstr(c.log, "server speaks 8"));
  assert_non_null(strstr(c.log, "retry"));
  wait_atomic(&g_srv.opens, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.version), 8);
  wsv_loop_free(loop); /* drops the connection */
  srv_finish(srv);
}

static void test_no_common_version(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  struct wsv_server *srv = srv_start(&scfg); /* speaks 13 only */
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  cc.handshake.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7);
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  run_until(loop, &c.failed, 3000);
  assert_true(c.failed);
  assert_false(c.opened);
  assert_int_equal(c.fail_err, WSV_ERR_HS_NO_COMMON_VERSION);
  assert_non_null(strstr(c.fail_text, "13"));
  assert_non_null(strstr(c.fail_text, "8, 7"));
  wsv_loop_free(loop);
  srv_finish(srv);
}

static void test_client_errors(void **state) {
  (void)state;
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, 1, "/");
  cc.url = "ftp://127.0.0.1/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  assert_non_null(strstr(c.log, "wss://"));
  cc.url = "http://x/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  cc.url = "ws://[::1:80/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  /* A refused connection reaches the fail callback, not the caller. */
  struct wsv_server_config scfg;
  srv_config(&scfg);
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  uint16_t port = wsv_server_port(srv);
  wsv_server_free(srv); /* the port is free again: nobody listens */
  cli_config(&cc, &c, url, sizeof url, port, "/");
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  run_until(loop, &c.failed, 3000);
  assert_true(c.failed);
  assert_int_equal(c.fail_err, WSV_ERR_CLOSED);
  assert_non_null(strstr(c.fail_text, "refused"));
  wsv_loop_free(loop);
}

static void test_ipv6(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.host = "::1";
  struct wsv_server *srv;
  if (wsv_server_new(&srv, &scfg) != 0) {
    skip(); /* no IPv6 loopback here */
  }
  assert_int_equal(wsv_server_start(srv), 0);
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, 1, "/");
  snprintf(url, sizeof url, "ws://[::1]:%u/v6", (unsigned)wsv_server_port(srv));
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  assert_string_equal(wsv_ws_path(ws), "/v6");
  char peer[64];
  assert_true(wsv_ws_peer(ws, peer, sizeof peer) > 0);
  assert_non_null(strstr(peer, "[::1]:"));
  wsv_loop_free(loop);
  srv_finish(srv);
}

static void test_handshake_timeout(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.limits.handshake_timeout_ms = 200;
  struct wsv_server *srv = srv_start(&scfg);
  /* Silent: dropped. */
  int fd = raw_connect(wsv_server_port(srv));
  char buf[512];
  int err;
  size_t n = raw_read_all(fd, buf, sizeof buf, 2000, &err);
  assert_int_equal(n, 0);
  assert_int_equal(err, 0);
  close(fd);
  /* Half a request: 408, then a graceful close. */
  fd = raw_connect(wsv_server_port(srv));
  raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
  n = raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 408"));
  assert_int_equal(err, 0);
  close(fd);
  srv_finish(srv);
}

static void test_plain_http(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.http = s_http;
  struct wsv_server *srv = srv_start(&scfg);
  int fd = raw_connect(wsv_server_port(srv));
  static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_send(fd, get, sizeof get - 1);
  char buf[1024];
  int err;
  size_t n = raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(buf, "Content-Type: text/html\r\n"));
  assert_non_null(strstr(buf, "Content-Length: 13\r\n"));
  assert_non_null(strstr(buf, "\r\n\r\n<h1>wsv</h1>\n"));
  assert_int_equal(err, 0);
  close(fd);
  srv_finish(srv);
  /* Without the callback: 426. */
  srv_config(&scfg);
  srv = srv_start(&scfg);
  fd = raw_connect(wsv_server_port(srv));
  raw_send(fd, get, sizeof get - 1);
  n = raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 426"));
  close(fd);
  srv_finish(srv);
}

/* A bad request followed by a stream of bytes: the whole 400 arrives and
 * the connection ends with EOF, not a reset. */
static void test_bad_request_graceful(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  struct wsv_server *srv = srv_start(&scfg);
  int fd = raw_connect(wsv_server_port(srv));
  static const char bad[] =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  raw_send(fd, bad, sizeof bad - 1);
  char junk[4096];
  memset(junk, 'x', sizeof junk);
  for (int i = 0; i < 8; i++) /* 32 KiB more, after the request */
    raw_send(fd, junk, sizeof junk);
  char buf[2048];
  int err;
  size_t n = raw_read_all(fd, buf, sizeof buf - 1, 3000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
  char *cl = strstr(buf, "Content-Length: ");
  assert_non_null(cl);
  size_t body = strtoul(cl + 16, NULL, 10);
  char *end = strstr(buf, "\r\n\r\n");
  assert_non_null(end);
  assert_int_equal(n, (size_t)(end + 4 - buf) + body);
  assert_int_equal(err, 0); /* EOF, no ECONNRESET */
  close(fd);
  srv_finish(srv);
}

static void test_idle_ping_deadline(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.limits.ping_interval_ms = 100;
  scfg.limits.pong_timeout_ms = 100;
  struct wsv_server *srv = srv_start(&scfg);
  /* A raw peer that never answers: a ping arrives, then the drop. */
  int fd = raw_ws(wsv_server_port(srv));
  char buf[256];
  int err;
  size_t n = raw_read_all(fd, buf, sizeof buf, 2000, &err);
  assert_true(n >= 2);
  assert_int_equal((unsigned char)buf[0], 0x89); /* FIN + ping */
  assert_true(err == 0 || err == ECONNRESET);
  close(fd);
  wait_atomic(&g_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.last_code), 1006);
  /* A real client answers the pings and stays open. */
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  cc.limits.ping_interval_ms = 0;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  run_until(loop, &c.closed, 600);
  assert_true(c.opened);
  assert_false(c.closed);
  wsv_loop_free(loop);
  srv_finish(srv);
}

static void test_slow_consumer(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.conn.max_output = 1 << 20;
  scfg.limits.close_timeout_ms = 300;
  struct wsv_server *srv = srv_start(&scfg);
  int fd = raw_ws(wsv_server_port(srv));
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  /* A masked "flood" text frame; then never read. */
  uint8_t frame[11] = {0x81, 0x85, 1, 2, 3, 4};
  memcpy(frame + 6, "flood", 5);
  wsv_frame_mask(frame + 6, 5, frame + 2, 0);
  raw_send(fd, frame, sizeof frame);
  wait_atomic(&g_srv.closes, 1, 3000);
  assert_int_equal(atomic_load(&g_srv.closes), 1);
  assert_int_equal(atomic_load(&g_srv.last_code), 1008);
  assert_int_equal(atomic_load(&g_srv.last_err), WSV_ERR_POLICY);
  assert_true(atomic_load(&g_srv.max_buffered) <= (1u << 20));
  /* Dropped after its close timeout with a reset, so the kernel does not
   * keep the unsent megabyte for it: reading ends in ECONNRESET. */
  assert_int_equal(raw_drain(fd, 3000), ECONNRESET);
  close(fd);
  srv_finish(srv);
}

/* Subscribers that never read while a publisher sends 160 x 64 KiB (the
 * kernel takes up to about 4 MiB of it per socket): each stays under its
 * own 16 MiB limit, but the server-wide output budget
 * (2.5 MiB) fails the ones holding the most with 1008 before the total
 * passes it by more than one message. */
static void test_output_budget(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.output_budget = (5u << 20) / 2;
  scfg.limits.close_timeout_ms = 300;
  struct wsv_server *srv = srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  int subs[6];
  for (int i = 0; i < 6; i++) {
    subs[i] = raw_ws_path(port, "/room");
    int small = 4096;
    setsockopt(subs[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  wait_atomic(&g_srv.opens, 6, 2000);
  int pub = raw_ws_path(port, "/room");
  static uint8_t msg[14 + 65536];
  msg[0] = 0x82;
  msg[1] = 0x80 | 127;
  memset(msg + 2, 0, 12); /* length 65536 (set below), mask key 0 */
  msg[7] = 1;
  for (int i = 0; i < 160; i++)
    raw_send(pub, msg, sizeof msg);
  wait_atomic(&g_srv.budget_closes, 2, 5000);
  assert_true(atomic_load(&g_srv.budget_closes) >= 2);
  assert_true(atomic_load(&g_srv.max_total) <= (5u << 20) / 2 + 65546);
  assert_true(atomic_load(&g_srv.max_total) > 0);
  /* A shed subscriber reads whole frames, then the Close 1008, then
   * the reset of the close timeout. */
  for (int i = 0; i < 6; i++)
    close(subs[i]);
  close(pub);
  wait_atomic(&g_srv.closes, 7, 3000);
  assert_int_equal(atomic_load(&g_srv.closes), 7);
  assert_int_equal(wsv_server_output_queued(srv), 0);
  /* The server still echoes. */
  int fd = raw_ws(port);
  uint8_t hi[8] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i'};
  raw_send(fd, hi, sizeof hi);
  char buf[16];
  int err;
  assert_int_equal(raw_read_all(fd, buf, 4, 2000, &err), 4);
  assert_memory_equal(buf, "\x81\x02hi", 4);
  close(fd);
  srv_finish(srv);
}

static int never_called(void *user, size_t from, size_t to) {
  (void)user;
  (void)from;
  (void)to;
  return 0;
}

/* The budget settings wsv_server_new refuses, and the same settings
 * accepted once the budget they conflict with is off. */
static void test_budget_config(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  struct wsv_server *srv;
  wsv_server_config_init(&scfg);
  assert_int_equal(scfg.output_budget, WSV_DEFAULT_OUTPUT_BUDGET);
  assert_int_equal(scfg.input_budget, WSV_DEFAULT_INPUT_BUDGET);
  scfg.conn.max_output = (size_t)UINT32_MAX;
  assert_int_equal(wsv_server_new(&srv, &scfg), WSV_ERR_INVAL);
  scfg.output_budget = 0;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  assert_int_equal(wsv_server_output_queued(srv), 0);
  wsv_server_free(srv);
  wsv_server_config_init(&scfg);
  scfg.conn.msg_reserve = never_called;
  assert_int_equal(wsv_server_new(&srv, &scfg), WSV_ERR_INVAL);
  scfg.input_budget = 0;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  wsv_server_free(srv);
  assert_int_equal(wsv_server_output_queued(NULL), 0);
  assert_int_equal(wsv_server_input_held(NULL), 0);
}

/* Non-final fragments held open: the input budget (1 MiB) refuses the
 * message that would pass it with 1009; small fragmented messages still
 * pass; the budget comes back when a message completes. */
static void test_input_budget(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.input_budget = 1 << 20;
  struct wsv_server *srv = srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  static uint8_t frag[10 + 4 + 600000];
  frag[0] = 0x02; /* binary, not final */
  frag[1] = 0x80 | 127;
  for (int i = 0; i < 8; i++)
    frag[2 + i] = (uint8_t)((uint64_t)600000 >> (56 - 8 * i));
  memset(frag + 10, 0, 4); /* mask key 0: the payload is sent as is */
  memset(frag + 14, 'f', 600000);
  int a = raw_ws(port), b = raw_ws(port), c = raw_ws(port);
  raw_send(a, frag, sizeof frag); /* holds a 1 MiB buffer */
  for (int i = 0; i < 500 && wsv_server_input_held(srv) < 600000; i++)
    usleep(10000);
  assert_true(wsv_server_input_held(srv) >= 600000);
  /* b's would pass the budget: refused (1009) and closed while it is
   * still being sent, so the send may end early. */
  (void)send(b, frag, sizeof frag, MSG_NOSIGNAL);
  char buf[64];
  int err;
  size_t n = raw_read_all(b, buf, sizeof buf, 2000, &err);
  assert_true(n >= 4);
  assert_memory_equal(buf, "\x88\x02\x03\xf1", 4); /* Close 1009 */
  wait_atomic(&g_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.last_err), WSV_ERR_BUDGET);
  assert_int_equal(atomic_load(&g_srv.last_code), 1009);
  /* A small fragmented message still goes through meanwhile. */
  uint8_t small[] = {0x01, 0x82, 0, 0, 0, 0, 'o', 'k', 0x80, 0x81, 0, 0, 0, 0,
                     '!'};
  raw_send(c, small, sizeof small);
  assert_int_equal(raw_read_all(c, buf, 5, 2000, &err), 5);
  assert_memory_equal(buf, "\x81\x03ok!", 5);
  /* a's message ends: echoed, and its buffer given back. */
  uint8_t fin[6] = {0x80, 0x80, 0, 0, 0, 0};
  raw_send(a, fin, sizeof fin);
  static char echo[600010];
  assert_int_equal(raw_read_all(a, echo, sizeof echo, 3000, &err), 600010);
  assert_int_equal(wsv_server_input_held(srv), 0);
  close(a);
  close(b);
  close(c);
  srv_finish(srv);
}

/* A client resets in the middle of a frame; another one is unaffected. */
static void test_reset_mid_frame(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  struct wsv_server *srv = srv_start(&scfg);
  struct cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  int fd = raw_ws(wsv_server_port(srv));
  uint8_t frame[8 + 10] = {0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4}; /* 1000 B */
  raw_send(fd, frame, sizeof frame);
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd); /* RST */
  wait_atomic(&g_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.last_code), 1006);
  assert_int_equal(wsv_ws_send_text(ws, "still here", 10), 0);
  int before = c.msgs;
  for (int i = 0; i < 100 && c.msgs == before; i++)
    wsv_loop_run_once(loop, 20);
  assert_string_equal(c.last, "still here");
  wsv_loop_free(loop);
  srv_finish(srv);
}

static void test_max_connections(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.max_connections = 2;
  struct wsv_server *srv = srv_start(&scfg);
  int a = raw_ws(wsv_server_port(srv));
  int b = raw_ws(wsv_server_port(srv));
  int fd = raw_connect(wsv_server_port(srv));
  char buf[512];
  int err;
  size_t n = raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 503 Service Unavailable"));
  assert_non_null(strstr(buf, "too many connections"));
  close(fd);
  close(a);
  close(b);
  srv_finish(srv);
}

/* ---- parking (limits.park_after_ms) ---------------------------------------
 */

/* Heap bytes in use by the whole process, every thread's arena. */
static size_t heap_in_use(void) {
#ifdef RT_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}

/* Send one masked frame with first byte b0 (in `parts` writes, `gap_ms`
 * apart: a frame split across the park delay). */
static void raw_frame(int fd, unsigned b0, const void *p, size_t n, int parts,
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
    size_t end = i == parts - 1 ? total : total * (size_t)(i + 1) / (size_t)parts;
    raw_send(fd, f + off, end - off);
    off = end;
    if (i < parts - 1)
      usleep((useconds_t)gap_ms * 1000);
  }
}

/* Read one unmasked server frame; returns its payload length. */
static size_t raw_read_frame(int fd, unsigned *b0, char *out, size_t cap) {
  uint8_t h[2];
  int err;
  assert_int_equal(raw_read_all(fd, (char *)h, 2, 2000, &err), 2);
  size_t n = h[1] & 0x7f;
  assert_true(n <= 125 && n <= cap);
  if (n > 0)
    assert_int_equal(raw_read_all(fd, out, n, 2000, &err), n);
  *b0 = h[0];
  return n;
}

static void expect_echo(int fd, const char *want) {
  char buf[128];
  unsigned b0;
  size_t n = raw_read_frame(fd, &b0, buf, sizeof buf);
  assert_int_equal(b0, 0x81);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(buf, want, n);
}

/* Quiet connections give their protocol state back after park_after_ms,
 * and nothing part-way (a split frame, a fragmented message, unsent
 * output) is lost across the delay.  With park_after_ms 0 nothing is
 * given back. */
static void test_park(void **state) {
  (void)state;
  enum { N = 40 };
  for (int on = 1; on >= 0; on--) {
    struct wsv_server_config scfg;
    srv_config(&scfg);
    scfg.limits.ping_interval_ms = 0;
    scfg.limits.park_after_ms = on ? 50 : 0;
    struct wsv_server *srv = srv_start(&scfg);
    int fd[N];
    for (int i = 0; i < N; i++)
      fd[i] = raw_ws(wsv_server_port(srv));
    usleep(100 * 1000);
    size_t quiet = heap_in_use();
    for (int i = 0; i < N; i++)
      raw_frame(fd[i], 0x81, "hello", 5, 1, 0);
    for (int i = 0; i < N; i++)
      expect_echo(fd[i], "hello");
    size_t busy = heap_in_use();
    /* Each echo made a conn (about 600 B) on the server. */
    assert_true(busy > quiet + N * 400);
    usleep(300 * 1000);
    size_t later = heap_in_use();
    if (on)
      assert_true(later + N * 400 < busy);
    else
      assert_true(later + N * 100 > busy);
    /* A frame split across the delay, a fragmented message with a ping
     * between its fragments, and a message after a park: all whole. */
    raw_frame(fd[0], 0x81, "split frame", 11, 3, 120);
    expect_echo(fd[0], "split frame");
    raw_frame(fd[1], 0x01, "frag", 4, 1, 0);
    usleep(150 * 1000);
    raw_frame(fd[1], 0x89, "p", 1, 2, 100);
    usleep(150 * 1000);
    raw_frame(fd[1], 0x80, "mented", 6, 1, 0);
    char buf[16];
    unsigned b0;
    assert_int_equal(raw_read_frame(fd[1], &b0, buf, sizeof buf), 1);
    assert_int_equal(b0, 0x8a); /* the pong */
    expect_echo(fd[1], "fragmented");
    usleep(150 * 1000);
    raw_frame(fd[2], 0x81, "after", 5, 1, 0);
    expect_echo(fd[2], "after");
    /* A Close sent before a park: the closing handshake completes. */
    raw_frame(fd[3], 0x88, "\x03\xe8", 2, 1, 0);
    assert_int_equal(raw_read_frame(fd[3], &b0, buf, sizeof buf), 2);
    assert_int_equal(b0, 0x88);
    for (int i = 0; i < N; i++)
      close(fd[i]);
    wait_atomic(&g_srv.closes, N, 3000);
    assert_int_equal(atomic_load(&g_srv.closes), N);
    srv_finish(srv);
  }
}

/* ---- pub/sub
 * ---------------------------------------------------------------------- */

struct pub_arg {
  struct wsv_server *srv;
};

static void *foreign_publish(void *arg) {
  struct pub_arg *p = arg;
  assert_int_equal(
      wsv_server_publish(p->srv, "/room", WSV_OP_TEXT, "from afar", 9), 0);
  return NULL;
}

static void test_pubsub_threads(void **state) {
  (void)state;
  enum { N = 8 };
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.threads = 2;
  struct wsv_server *srv = srv_start(&scfg);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct cli c[N];
  struct wsv_ws *ws[N];
  char url[N][64];
  memset(c, 0, sizeof c);
  for (int i = 0; i < N; i++) {
    struct wsv_client_config cc;
    cli_config(&cc, &c[i], url[i], sizeof url[i], wsv_server_port(srv),
               "/room");
    assert_int_equal(wsv_client_connect(loop, &cc, &ws[i]), 0);
  }
  wait_atomic(&g_srv.opens, N, 3000);
  for (int k = 0; k < 10; k++)
    wsv_loop_run_once(loop, 10);
  for (int i = 0; i < N; i++)
    assert_true(c[i].opened);
  /* A publish from a thread that is none of the server's. */
  struct pub_arg pa = {srv};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, foreign_publish, &pa), 0);
  pthread_join(th, NULL);
  int got = 0;
  for (int k = 0; k < 200 && got < N; k++) {
    wsv_loop_run_once(loop, 10);
    got = 0;
    for (int i = 0; i < N; i++)
      got += c[i].msgs == 1 && strcmp(c[i].last, "from afar") == 0;
  }
  assert_int_equal(got, N);
  /* Chat: one client's message reaches every other one, on both threads. */
  assert_int_equal(wsv_ws_send_text(ws[0], "hi all", 6), 0);
  for (int k = 0; k < 200 && got < 2 * N - 1; k++) {
    wsv_loop_run_once(loop, 10);
    got = 0;
    for (int i = 1; i < N; i++)
      got += c[i].msgs == 2 && strcmp(c[i].last, "hi all") == 0;
    got += N;
  }
  assert_int_equal(got, 2 * N - 1);
  assert_int_equal(c[0].msgs, 1); /* the sender is skipped */
  wsv_loop_free(loop);
  srv_finish(srv);
}

/* wsv_server_stop: every client gets 1001, then the server returns. */
static void test_graceful_stop(void **state) {
  (void)state;
  enum { N = 6 };
  struct wsv_server_config scfg;
  srv_config(&scfg);
  scfg.threads = 2;
  struct wsv_server *srv = srv_start(&scfg);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct cli c[N];
  char url[N][64];
  memset(c, 0, sizeof c);
  for (int i = 0; i < N; i++) {
    struct wsv_client_config cc;
    cli_config(&cc, &c[i], url[i], sizeof url[i], wsv_server_port(srv), "/");
    assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  }
  wait_atomic(&g_srv.opens, N, 3000);
  for (int k = 0; k < 10; k++)
    wsv_loop_run_once(loop, 10);
  wsv_server_stop(srv);
  int closed = 0;
  for (int k = 0; k < 300 && closed < N; k++) {
    wsv_loop_run_once(loop, 10);
    closed = 0;
    for (int i = 0; i < N; i++)
      closed += c[i].closed;
  }
  assert_int_equal(closed, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(c[i].code, 1001);
    assert_string_equal(c[i].reason, "going away");
  }
  assert_int_equal(wsv_server_join(srv), 0);
  assert_int_equal(atomic_load(&g_srv.closes), N);
  assert_int_equal(wsv_server_connections(srv), 0);
  wsv_server_free(srv);
  wsv_loop_free(loop);
}

/* ---- a peer that keeps TCP open after the closing handshake ------------- */

/* A one-connection WebSocket server on a raw socket (the core's
 * wsv_hs_server answers the handshake): `answer` 1 echoes the client's
 * Close, 0 never answers it, 2 sends a Close 1000 first (and takes the
 * answer); then it keeps TCP open for hold_ms or until the client's EOF,
 * and records how long the client took to drop it. */
struct linger_srv {
  int lfd;
  uint16_t port;
  int answer;
  int hold_ms;
  atomic_int got_close; /* the client's Close frame arrived */
  atomic_int eof_ms;    /* ms from our Close (or its) to the client's EOF, -1 */
  atomic_int bad;
  pthread_t th;
};

/* Read one masked client frame's opcode (payload skipped); -1 on EOF. */
static int linger_frame(int fd, int ms) {
  uint8_t h[14];
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0 || recv(fd, h, 2, MSG_WAITALL) != 2)
    return -1;
  size_t n = h[1] & 127, ext = n == 126 ? 2 : n == 127 ? 8 : 0;
  if (recv(fd, h + 2, ext + 4, MSG_WAITALL) != (ssize_t)(ext + 4))
    return -1;
  for (size_t i = 0; i < ext; i++)
    n = (i == 0 ? 0 : n << 8) | h[2 + i];
  uint8_t skip[256];
  while (n > 0) {
    ssize_t r = recv(fd, skip, n < sizeof skip ? n : sizeof skip, 0);
    if (r <= 0)
      return -1;
    n -= (size_t)r;
  }
  return h[0] & 15;
}

static void *linger_main(void *arg) {
  struct linger_srv *ls = arg;
  int fd = accept(ls->lfd, NULL, NULL);
  struct wsv_hs_server *hs = NULL;
  char req[4096];
  size_t n = 0;
  int rc = WSV_HS_INCOMPLETE;
  if (fd < 0 || wsv_hs_server_new(&hs, NULL, NULL) != 0)
    goto out;
  while (rc == WSV_HS_INCOMPLETE && n < sizeof req) {
    ssize_t r = recv(fd, req + n, 1, 0); /* byte by byte: no frame read */
    if (r <= 0)
      goto out;
    n++;
    rc = wsv_hs_server_parse(hs, req, n);
  }
  char res[512];
  size_t rl = wsv_hs_server_response(hs, res, sizeof res);
  if (rc != WSV_HS_ACCEPT || send(fd, res, rl, MSG_NOSIGNAL) != (ssize_t)rl)
    goto out;
  static const uint8_t close1000[] = {0x88, 0x02, 0x03, 0xE8};
  if (ls->answer >= 2 &&
      send(fd, close1000, sizeof close1000, MSG_NOSIGNAL) != 4)
    goto out;
  int op;
  while ((op = linger_frame(fd, 3000)) >= 0 && op != 8)
    ;
  if (op != 8)
    goto out;
  atomic_store(&ls->got_close, 1);
  if (ls->answer == 3) { /* the handshake is done: reset TCP */
    struct linger lg = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    goto out;
  }
  if (ls->answer == 1 &&
      send(fd, close1000, sizeof close1000, MSG_NOSIGNAL) != 4)
    goto out;
  /* Keep TCP open; wait for the client's EOF. */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct pollfd p = {fd, POLLIN, 0};
  char junk[64];
  while (poll(&p, 1, ls->hold_ms) > 0 && recv(fd, junk, sizeof junk, 0) > 0)
    ;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms =
      (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  atomic_store(&ls->eof_ms, ms < ls->hold_ms ? (int)ms : -1);
out:
  if (rc != WSV_HS_ACCEPT)
    atomic_fetch_add(&ls->bad, 1);
  wsv_hs_server_free(hs);
  if (fd >= 0)
    close(fd);
  return NULL;
}

static void linger_start(struct linger_srv *ls, int answer, int hold_ms) {
  memset(ls, 0, sizeof *ls);
  ls->answer = answer;
  ls->hold_ms = hold_ms;
  atomic_store(&ls->eof_ms, -1);
  ls->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(ls->lfd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(ls->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(ls->lfd, 1), 0);
  socklen_t sl = sizeof sa;
  assert_int_equal(getsockname(ls->lfd, (struct sockaddr *)&sa, &sl), 0);
  ls->port = ntohs(sa.sin_port);
  assert_int_equal(pthread_create(&ls->th, NULL, linger_main, ls), 0);
}

/* Connect, close with 1000 (unless the server closes first), and run
 * until the close callback. */
static void linger_run(struct linger_srv *ls, struct cli *c) {
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  memset(c, 0, sizeof *c);
  cli_config(&cc, c, url, sizeof url, ls->port, "/");
  cc.limits.close_timeout_ms = 300;
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  run_until(loop, &c->opened, 3000);
  assert_true(c->opened);
  if (ls->answer < 2)
    assert_int_equal(wsv_ws_close(ws, 1000, NULL, 0), 0);
  run_until(loop, &c->closed, 3000);
  assert_true(c->closed);
  wsv_loop_free(loop);
  assert_int_equal(pthread_join(ls->th, NULL), 0);
  close(ls->lfd);
  assert_int_equal(atomic_load(&ls->bad), 0);
  assert_int_equal(atomic_load(&ls->got_close), 1);
}

/* RFC 6455 §7.1.5: after a completed closing handshake the close code is
 * the peer's, and dropping a TCP connection the server keeps open (after
 * close_timeout_ms) is no failure.  Without the server's Close it is. */
static void test_close_tcp_outlives_handshake(void **state) {
  (void)state;
  struct linger_srv ls;
  struct cli c;
  /* We close, the server answers and keeps TCP open for 3 s. */
  linger_start(&ls, 1, 3000);
  linger_run(&ls, &c);
  assert_int_equal(c.code, 1000);
  assert_int_equal(c.err, 0);
  assert_string_equal(c.err_text, "");
  int ms = atomic_load(&ls.eof_ms);
  assert_true(ms >= 200 && ms < 2000); /* dropped after ~300 ms */
  /* The server closes first, we answer, it keeps TCP open. */
  linger_start(&ls, 2, 3000);
  linger_run(&ls, &c);
  assert_int_equal(c.code, 1000);
  assert_int_equal(c.err, 0);
  ms = atomic_load(&ls.eof_ms);
  assert_true(ms >= 200 && ms < 2000);
  /* The server closes first, we answer, it resets TCP (as Autobahn's
   * does): still a clean close. */
  linger_start(&ls, 3, 3000);
  linger_run(&ls, &c);
  assert_int_equal(c.code, 1000);
  assert_int_equal(c.err, 0);
  assert_string_equal(c.err_text, "");
  /* The server never answers our Close: 1006, "close timeout". */
  linger_start(&ls, 0, 3000);
  linger_run(&ls, &c);
  assert_int_equal(c.code, 1006);
  assert_int_equal(c.err, WSV_ERR_CLOSED);
  assert_string_equal(c.err_text, "close timeout");
  ms = atomic_load(&ls.eof_ms);
  assert_true(ms >= 200 && ms < 2000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_sizes),
      cmocka_unit_test(test_server_closes),
      cmocka_unit_test(test_version_retry),
      cmocka_unit_test(test_no_common_version),
      cmocka_unit_test(test_client_errors),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_plain_http),
      cmocka_unit_test(test_bad_request_graceful),
      cmocka_unit_test(test_idle_ping_deadline),
      cmocka_unit_test(test_slow_consumer),
      cmocka_unit_test(test_budget_config),
      cmocka_unit_test(test_output_budget),
      cmocka_unit_test(test_input_budget),
      cmocka_unit_test(test_reset_mid_frame),
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test(test_park),
      cmocka_unit_test(test_pubsub_threads),
      cmocka_unit_test(test_graceful_stop),
      cmocka_unit_test(test_close_tcp_outlives_handshake),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
