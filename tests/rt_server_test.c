/*
 * rt_server_test.c - the runtime's server over loopback (src/rt/server.c):
 * what it answers before and instead of a WebSocket (handshake timeout,
 * plain HTTP, a bad request closed gracefully, 503 past max_connections),
 * its server-wide budgets (output, input, the settings it refuses) and a
 * graceful stop.  The server runs on its own threads (wsv_server_start),
 * clients on a loop of the test's thread or raw sockets
 * (tests/support/rt_fixture.h).  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/rt_fixture.h"

/* ---- handshake and HTTP answers ------------------------------------------ */

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

static void test_handshake_timeout(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.limits.handshake_timeout_ms = 200;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  /* Silent: dropped. */
  int fd = rtf_raw_connect(wsv_server_port(srv));
  char buf[512];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf, 2000, &err);
  assert_int_equal(n, 0);
  assert_int_equal(err, 0);
  close(fd);
  /* Half a request: 408, then a graceful close. */
  fd = rtf_raw_connect(wsv_server_port(srv));
  rtf_raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
  n = rtf_raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 408"));
  assert_int_equal(err, 0);
  close(fd);
  rtf_srv_finish(srv);
}

/* ---- the read right after accept (TCP_DEFER_ACCEPT) ---------------------- */

static const char ar_req[] = "GET /raw HTTP/1.1\r\n"
                             "Host: 127.0.0.1\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";

/* Read the response head byte by byte (nothing past it) and check it is
 * the 101 for the sample key of RFC 6455 §1.3. */
static void ar_expect_101(int fd) {
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
  assert_non_null(strstr(buf, "HTTP/1.1 101 Switching Protocols\r\n"));
  assert_non_null(
      strstr(buf, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
}

static void test_accept_read(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  /* The request and a first frame in one segment: the read after
   * accept finds both; the frame is echoed. */
  int fd = rtf_raw_connect(port);
  uint8_t both[sizeof ar_req - 1 + 8];
  memcpy(both, ar_req, sizeof ar_req - 1);
  uint8_t *f = both + sizeof ar_req - 1;
  f[0] = 0x81;
  f[1] = 0x80 | 2;
  memcpy(f + 2, "\x11\x22\x33\x44", 4);
  f[6] = (uint8_t)('h' ^ 0x11);
  f[7] = (uint8_t)('i' ^ 0x22);
  rtf_raw_send(fd, both, sizeof both);
  ar_expect_101(fd);
  rtf_expect_echo(fd, "hi");
  close(fd);
  /* Silent past the deferral (1 s): accepted without a byte, the read
   * finds nothing, and the request read later on EPOLLIN is answered. */
  fd = rtf_raw_connect(port);
  struct timespec ts = {1, 500000000};
  nanosleep(&ts, NULL);
  rtf_raw_send(fd, ar_req, sizeof ar_req - 1);
  ar_expect_101(fd);
  rtf_raw_frame(fd, 0x81, "again", 5, 1, 0);
  rtf_expect_echo(fd, "again");
  close(fd);
  /* Half a request first: the read after accept finds a part, the rest
   * comes on EPOLLIN. */
  fd = rtf_raw_connect(port);
  rtf_raw_send(fd, ar_req, 30);
  ts.tv_sec = 0;
  ts.tv_nsec = 200000000;
  nanosleep(&ts, NULL);
  rtf_raw_send(fd, ar_req + 30, sizeof ar_req - 1 - 30);
  ar_expect_101(fd);
  rtf_raw_frame(fd, 0x81, "split", 5, 1, 0);
  rtf_expect_echo(fd, "split");
  close(fd);
  /* A client that connects and closes without a byte: nothing held. */
  fd = rtf_raw_connect(port);
  close(fd);
  rtf_srv_finish(srv);
}

/* A silent client is dropped at the handshake timeout counted from its
 * connect, the kernel's deferral (1 s before the accept) included. */
static void test_accept_silent_timeout(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.limits.handshake_timeout_ms = 3000;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int fd = rtf_raw_connect(wsv_server_port(srv));
  char buf[64];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf, 6000, &err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(n, 0);
  assert_int_equal(err, 0);
  double s =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  /* 3 s, not 4 s (the deferral on top of the timeout). */
  assert_true(s >= 2.5 && s < 3.8);
  close(fd);
  rtf_srv_finish(srv);
}

static void test_plain_http(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.http = s_http;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  int fd = rtf_raw_connect(wsv_server_port(srv));
  static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  rtf_raw_send(fd, get, sizeof get - 1);
  char buf[1024];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(buf, "Content-Type: text/html\r\n"));
  assert_non_null(strstr(buf, "Content-Length: 13\r\n"));
  assert_non_null(strstr(buf, "\r\n\r\n<h1>wsv</h1>\n"));
  assert_int_equal(err, 0);
  close(fd);
  rtf_srv_finish(srv);
  /* Without the callback: 426. */
  rtf_srv_config(&scfg);
  srv = rtf_srv_start(&scfg);
  fd = rtf_raw_connect(wsv_server_port(srv));
  rtf_raw_send(fd, get, sizeof get - 1);
  n = rtf_raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 426"));
  close(fd);
  rtf_srv_finish(srv);
}

/* A bad request followed by a stream of bytes: the whole 400 arrives and
 * the connection ends with EOF, not a reset. */
static void test_bad_request_graceful(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  int fd = rtf_raw_connect(wsv_server_port(srv));
  static const char bad[] =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  rtf_raw_send(fd, bad, sizeof bad - 1);
  char junk[4096];
  memset(junk, 'x', sizeof junk);
  for (int i = 0; i < 8; i++) /* 32 KiB more, after the request */
    rtf_raw_send(fd, junk, sizeof junk);
  char buf[2048];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf - 1, 3000, &err);
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
  rtf_srv_finish(srv);
}

/* ---- server-wide budgets and limits -------------------------------------- */

/* Subscribers that never read while a publisher sends 160 x 64 KiB (the
 * kernel takes up to about 4 MiB of it per socket): each stays under its
 * own 16 MiB limit, but the server-wide output budget
 * (2.5 MiB) fails the ones holding the most with 1008 before the total
 * passes it by more than one message. */
static void test_output_budget(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.output_budget = (5u << 20) / 2;
  scfg.limits.close_timeout_ms = 300;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  int subs[6];
  for (int i = 0; i < 6; i++) {
    subs[i] = rtf_raw_ws_path(port, "/room");
    int small = 4096;
    setsockopt(subs[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  rtf_wait_atomic(&rtf_srv.opens, 6, 2000);
  int pub = rtf_raw_ws_path(port, "/room");
  static uint8_t msg[14 + 65536];
  msg[0] = 0x82;
  msg[1] = 0x80 | 127;
  memset(msg + 2, 0, 12); /* length 65536 (set below), mask key 0 */
  msg[7] = 1;
  for (int i = 0; i < 160; i++)
    rtf_raw_send(pub, msg, sizeof msg);
  rtf_wait_atomic(&rtf_srv.budget_closes, 2, 5000);
  assert_true(atomic_load(&rtf_srv.budget_closes) >= 2);
  assert_true(atomic_load(&rtf_srv.max_total) <= (5u << 20) / 2 + 65546);
  assert_true(atomic_load(&rtf_srv.max_total) > 0);
  /* A shed subscriber reads whole frames, then the Close 1008, then
   * the reset of the close timeout. */
  for (int i = 0; i < 6; i++)
    close(subs[i]);
  close(pub);
  rtf_wait_atomic(&rtf_srv.closes, 7, 3000);
  assert_int_equal(atomic_load(&rtf_srv.closes), 7);
  assert_int_equal(wsv_server_output_queued(srv), 0);
  /* The server still echoes. */
  int fd = rtf_raw_ws(port);
  uint8_t hi[8] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i'};
  rtf_raw_send(fd, hi, sizeof hi);
  char buf[16];
  int err;
  assert_int_equal(rtf_raw_read_all(fd, buf, 4, 2000, &err), 4);
  assert_memory_equal(buf, "\x81\x02hi", 4);
  close(fd);
  rtf_srv_finish(srv);
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
  rtf_srv_config(&scfg);
  scfg.input_budget = 1 << 20;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  static uint8_t frag[10 + 4 + 600000];
  frag[0] = 0x02; /* binary, not final */
  frag[1] = 0x80 | 127;
  for (int i = 0; i < 8; i++)
    frag[2 + i] = (uint8_t)((uint64_t)600000 >> (56 - 8 * i));
  memset(frag + 10, 0, 4); /* mask key 0: the payload is sent as is */
  memset(frag + 14, 'f', 600000);
  int a = rtf_raw_ws(port), b = rtf_raw_ws(port), c = rtf_raw_ws(port);
  rtf_raw_send(a, frag, sizeof frag); /* holds a 1 MiB buffer */
  for (int i = 0; i < 500 && wsv_server_input_held(srv) < 600000; i++)
    usleep(10000);
  assert_true(wsv_server_input_held(srv) >= 600000);
  /* b's would pass the budget: refused (1009) and closed while it is
   * still being sent, so the send may end early. */
  (void)send(b, frag, sizeof frag, MSG_NOSIGNAL);
  char buf[64];
  int err;
  size_t n = rtf_raw_read_all(b, buf, sizeof buf, 2000, &err);
  assert_true(n >= 4);
  assert_memory_equal(buf, "\x88\x02\x03\xf1", 4); /* Close 1009 */
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_err), WSV_ERR_BUDGET);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1009);
  /* A small fragmented message still goes through meanwhile. */
  uint8_t small[] = {0x01, 0x82, 0, 0, 0, 0, 'o', 'k',
                     0x80, 0x81, 0, 0, 0, 0, '!'};
  rtf_raw_send(c, small, sizeof small);
  assert_int_equal(rtf_raw_read_all(c, buf, 5, 2000, &err), 5);
  assert_memory_equal(buf, "\x81\x03ok!", 5);
  /* a's message ends: echoed, and its buffer given back. */
  uint8_t fin[6] = {0x80, 0x80, 0, 0, 0, 0};
  rtf_raw_send(a, fin, sizeof fin);
  static char echo[600010];
  assert_int_equal(rtf_raw_read_all(a, echo, sizeof echo, 3000, &err), 600010);
  assert_int_equal(wsv_server_input_held(srv), 0);
  close(a);
  close(b);
  close(c);
  rtf_srv_finish(srv);
}

/* A port in use is told apart from a bad argument; so is a host that does
 * not resolve. */
static void test_listen_errors(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  rtf_srv_config(&cfg);
  struct wsv_server *a = NULL, *b = NULL;
  assert_int_equal(wsv_server_new(&a, &cfg), 0);
  cfg.port = wsv_server_port(a);
  assert_int_equal(wsv_server_new(&b, &cfg), WSV_ERR_EADDRINUSE);
  assert_null(b);
  assert_string_equal(wsv_strerror(WSV_ERR_EADDRINUSE),
                      "address already in use");
  cfg.port = 0;
  cfg.host = "no-such-host.invalid";
  assert_int_equal(wsv_server_new(&b, &cfg), WSV_ERR_RESOLVE);
  cfg.host = "127.0.0.1";
  cfg.threads = 0;
  assert_int_equal(wsv_server_new(&b, &cfg), WSV_ERR_INVAL);
  wsv_server_free(a);
}

/* A TCP connect to [::1]:port or 127.0.0.1:port: 0 when it connects, else
 * the errno. */
static int s_try_connect(int family, uint16_t port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)(void *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  }
  int rc = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
  close(fd);
  return rc;
}

/* A list of hosts binds each (one port); a literal is one address. */
static void test_listen_addresses(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  rtf_srv_config(&cfg);
  cfg.threads = 2;
  cfg.host = "127.0.0.1, ::1,127.0.0.1"; /* the repeat is bound once */
  struct wsv_server *srv = NULL;
  assert_int_equal(wsv_server_new(&srv, &cfg), 0);
  uint16_t port = wsv_server_port(srv);
  char at[48], want[48];
  assert_int_equal(wsv_server_address(srv, 0, at, sizeof at), 1);
  snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)port);
  assert_string_equal(at, want);
  assert_int_equal(wsv_server_address(srv, 1, at, sizeof at), 1);
  snprintf(want, sizeof want, "[::1]:%u", (unsigned)port);
  assert_string_equal(at, want);
  assert_int_equal(wsv_server_address(srv, 2, at, sizeof at), 0);
  assert_int_equal(wsv_server_address(NULL, 0, at, sizeof at), 0);
  assert_int_equal(wsv_server_start(srv), 0);
  assert_int_equal(s_try_connect(AF_INET, port), 0);
  assert_int_equal(s_try_connect(AF_INET6, port), 0);
  /* And a WebSocket through it. */
  int fd = rtf_raw_ws(port);
  close(fd);
  rtf_srv_finish(srv);

  cfg.threads = 1;
  cfg.host = "127.0.0.1";
  assert_int_equal(wsv_server_new(&srv, &cfg), 0);
  port = wsv_server_port(srv);
  assert_int_equal(s_try_connect(AF_INET, port), 0);
  assert_int_equal(s_try_connect(AF_INET6, port), ECONNREFUSED);
  assert_int_equal(wsv_server_address(srv, 1, at, sizeof at), 0);
  wsv_server_free(srv);

  /* Any element that does not resolve fails the whole list. */
  cfg.host = "127.0.0.1,no-such-host.invalid";
  assert_int_equal(wsv_server_new(&srv, &cfg), WSV_ERR_RESOLVE);
  assert_null(srv);
  /* A fixed port taken on one address of two: served on the other. */
  int busy = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in6 b6;
  memset(&b6, 0, sizeof b6);
  b6.sin6_family = AF_INET6;
  b6.sin6_addr = in6addr_loopback;
  assert_int_equal(bind(busy, (struct sockaddr *)&b6, sizeof b6), 0);
  assert_int_equal(listen(busy, 1), 0);
  socklen_t bl = sizeof b6;
  assert_int_equal(getsockname(busy, (struct sockaddr *)&b6, &bl), 0);
  cfg.host = "127.0.0.1,::1";
  cfg.port = ntohs(b6.sin6_port);
  assert_int_equal(wsv_server_new(&srv, &cfg), 0);
  assert_int_equal(s_try_connect(AF_INET, cfg.port), 0);
  assert_int_equal(wsv_server_address(srv, 1, at, sizeof at), 0);
  wsv_server_free(srv);
  close(busy);
}

/* The open callback's check: the accepted socket has TCP_NODELAY (set on
 * the listener and inherited, not set per connection). */
static atomic_int g_nodelay_ok;
static void s_open_nodelay(struct wsv_ws *ws, void *user) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(wsv_ws_fd(ws), IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 &&
      v == 1)
    atomic_fetch_add(&g_nodelay_ok, 1);
  rtf_s_open(ws, user);
}

/* Accepting: each accepted socket has TCP_NODELAY; 40 connections opened
 * at once (queued together, one accept per wake-up) are all taken. */
static void test_accept_nodelay_burst(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.callbacks.open = s_open_nodelay;
  atomic_store(&g_nodelay_ok, 0);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  int fds[40];
  for (int i = 0; i < 40; i++)
    fds[i] = rtf_raw_ws(wsv_server_port(srv));
  rtf_wait_atomic(&rtf_srv.opens, 40, 5000);
  assert_int_equal(atomic_load(&rtf_srv.opens), 40);
  assert_int_equal(atomic_load(&g_nodelay_ok), 40);
  for (int i = 0; i < 40; i++)
    close(fds[i]);
  rtf_srv_finish(srv);
}

static void test_max_connections(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.max_connections = 2;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  int a = rtf_raw_ws(wsv_server_port(srv));
  int b = rtf_raw_ws(wsv_server_port(srv));
  int fd = rtf_raw_connect(wsv_server_port(srv));
  char buf[512];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 503 Service Unavailable"));
  assert_non_null(strstr(buf, "too many connections"));
  close(fd);
  close(a);
  close(b);
  rtf_srv_finish(srv);
}

/* wsv_server_stop: every client gets 1001, then the server returns. */
static void test_graceful_stop(void **state) {
  (void)state;
  enum { N = 6 };
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.threads = 2;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct rtf_cli c[N];
  char url[N][64];
  memset(c, 0, sizeof c);
  for (int i = 0; i < N; i++) {
    struct wsv_client_config cc;
    rtf_cli_config(&cc, &c[i], url[i], sizeof url[i], wsv_server_port(srv),
                   "/");
    assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  }
  rtf_wait_atomic(&rtf_srv.opens, N, 3000);
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
  assert_int_equal(atomic_load(&rtf_srv.closes), N);
  assert_int_equal(wsv_server_connections(srv), 0);
  wsv_server_free(srv);
  wsv_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_accept_read),
      cmocka_unit_test(test_accept_silent_timeout),
      cmocka_unit_test(test_plain_http),
      cmocka_unit_test(test_bad_request_graceful),
      cmocka_unit_test(test_budget_config),
      cmocka_unit_test(test_output_budget),
      cmocka_unit_test(test_input_budget),
      cmocka_unit_test(test_listen_errors),
      cmocka_unit_test(test_listen_addresses),
      cmocka_unit_test(test_accept_nodelay_burst),
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test(test_graceful_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
