/*
 * rt_ws_test.c - a runtime WebSocket connection (src/rt/ws.c) once it is
 * open, over loopback: echo of every size class, closes from either side,
 * the ping/pong deadline, a slow consumer, a reset mid-frame, parking
 * quiet connections, and a peer that keeps TCP open after the closing
 * handshake.  The server runs on its own threads, clients on a loop of the
 * test's thread or raw sockets (tests/support/rt_fixture.h).  Every wait
 * is bounded.
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

#include "support/rt_fixture.h"

/* ---- echo, close, deadlines, slow and broken peers ----------------------- */

static void test_echo_sizes(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  static const size_t sizes[] = {0,     1,     125,   126,    127,
                                 65535, 65536, 65537, 300000, 1 << 20};
  struct rtf_cli c;
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
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/echo?x=1");
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  rtf_run_until(loop, &c.closed, 5000);
  assert_true(c.opened);
  assert_int_equal(c.version, 13);
  assert_int_equal(c.msgs, c.nsizes);
  assert_int_equal(c.bad, 0);
  assert_true(c.closed);
  assert_int_equal(c.code, 1000); /* the server echoes our code */
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1000);
  free(c.pattern);
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_server_closes(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  rtf_run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  assert_int_equal(wsv_ws_send_text(ws, "close-me", 8), 0);
  rtf_run_until(loop, &c.closed, 3000);
  assert_true(c.closed);
  assert_int_equal(c.code, 4000);
  assert_string_equal(c.reason, "server says bye");
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 4000); /* echoed */
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_idle_ping_deadline(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.limits.ping_interval_ms = 100;
  scfg.limits.pong_timeout_ms = 100;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  /* A raw peer that never answers: a ping arrives, then the drop. */
  int fd = rtf_raw_ws(wsv_server_port(srv));
  char buf[256];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf, 2000, &err);
  assert_true(n >= 2);
  assert_int_equal((unsigned char)buf[0], 0x89); /* FIN + ping */
  assert_true(err == 0 || err == ECONNRESET);
  close(fd);
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1006);
  /* A real client answers the pings and stays open. */
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  cc.limits.ping_interval_ms = 0;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.closed, 600);
  assert_true(c.opened);
  assert_false(c.closed);
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

/* Pongs the client gets for its keep-alive pings. */
static void s_count_pong(struct wsv_ws *ws, int op, const void *d, size_t n,
                         void *user) {
  (void)ws, (void)d, (void)n;
  if (op == WSV_OP_PONG)
    ((struct rtf_cli *)user)->msgs++;
}

/* A pong that comes at once starts the next quiet interval at once: pings
 * are ping_interval_ms apart even when pong_timeout_ms is longer. */
static void test_ping_spacing(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.limits.ping_interval_ms = 0;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  cc.limits.ping_interval_ms = 50;
  cc.limits.pong_timeout_ms = 5000;
  cc.callbacks.control = s_count_pong;
  cc.user = &c;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  rtf_run_until(loop, &c.closed, 1000); /* runs the full second */
  assert_false(c.closed);
  /* 1000 ms / 50 ms: about 20 (once per pong timeout: none or 1). */
  assert_true(c.msgs >= 8);
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_slow_consumer(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.conn.max_output = 1 << 20;
  scfg.limits.close_timeout_ms = 300;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  int fd = rtf_raw_ws(wsv_server_port(srv));
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  /* A masked "flood" text frame; then never read. */
  uint8_t frame[11] = {0x81, 0x85, 1, 2, 3, 4};
  memcpy(frame + 6, "flood", 5);
  wsv_frame_mask(frame + 6, 5, frame + 2, 0);
  rtf_raw_send(fd, frame, sizeof frame);
  rtf_wait_atomic(&rtf_srv.closes, 1, 3000);
  assert_int_equal(atomic_load(&rtf_srv.closes), 1);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1008);
  assert_int_equal(atomic_load(&rtf_srv.last_err), WSV_ERR_POLICY);
  assert_true(atomic_load(&rtf_srv.max_buffered) <= (1u << 20));
  /* Dropped after its close timeout with a reset, so the kernel does not
   * keep the unsent megabyte for it: reading ends in ECONNRESET. */
  assert_int_equal(rtf_raw_drain(fd, 3000), ECONNRESET);
  close(fd);
  rtf_srv_finish(srv);
}

/* A client resets in the middle of a frame; another one is unaffected. */
static void test_reset_mid_frame(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  rtf_run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  int fd = rtf_raw_ws(wsv_server_port(srv));
  uint8_t frame[8 + 10] = {0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4}; /* 1000 B */
  rtf_raw_send(fd, frame, sizeof frame);
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd); /* RST */
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1006);
  assert_int_equal(wsv_ws_send_text(ws, "still here", 10), 0);
  int before = c.msgs;
  for (int i = 0; i < 100 && c.msgs == before; i++)
    wsv_loop_run_once(loop, 20);
  assert_string_equal(c.last, "still here");
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

/* ---- parking (limits.park_after_ms) -------------------------------------- */

/* Heap bytes in use by the whole process, every thread's arena. */
static size_t heap_in_use(void) {
#ifdef RT_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
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
    rtf_srv_config(&scfg);
    scfg.limits.ping_interval_ms = 0;
    scfg.limits.park_after_ms = on ? 50 : 0;
    struct wsv_server *srv = rtf_srv_start(&scfg);
    int fd[N];
    for (int i = 0; i < N; i++)
      fd[i] = rtf_raw_ws(wsv_server_port(srv));
    usleep(100 * 1000);
    size_t quiet = heap_in_use();
    for (int i = 0; i < N; i++)
      rtf_raw_frame(fd[i], 0x81, "hello", 5, 1, 0);
    for (int i = 0; i < N; i++)
      rtf_expect_echo(fd[i], "hello");
    size_t busy = heap_in_use();
    /* Each echo made a conn (about 600 B) on the server. */
    assert_true(busy > quiet + N * 400);
    /* Parked conns go to the loop's small-chunk cache first, which gives
     * them back to malloc after WSV__RT_CACHE_KEEP_MS (2 s) of quiet. */
    usleep((on ? 2500 : 300) * 1000);
    size_t later = heap_in_use();
    if (on)
      assert_true(later + N * 400 < busy);
    else
      assert_true(later + N * 100 > busy);
    /* A frame split across the delay, a fragmented message with a ping
     * between its fragments, and a message after a park: all whole. */
    rtf_raw_frame(fd[0], 0x81, "split frame", 11, 3, 120);
    rtf_expect_echo(fd[0], "split frame");
    rtf_raw_frame(fd[1], 0x01, "frag", 4, 1, 0);
    usleep(150 * 1000);
    rtf_raw_frame(fd[1], 0x89, "p", 1, 2, 100);
    usleep(150 * 1000);
    rtf_raw_frame(fd[1], 0x80, "mented", 6, 1, 0);
    char buf[16];
    unsigned b0;
    assert_int_equal(rtf_raw_read_frame(fd[1], &b0, buf, sizeof buf), 1);
    assert_int_equal(b0, 0x8a); /* the pong */
    rtf_expect_echo(fd[1], "fragmented");
    usleep(150 * 1000);
    rtf_raw_frame(fd[2], 0x81, "after", 5, 1, 0);
    rtf_expect_echo(fd[2], "after");
    /* A Close sent before a park: the closing handshake completes. */
    rtf_raw_frame(fd[3], 0x88, "\x03\xe8", 2, 1, 0);
    assert_int_equal(rtf_raw_read_frame(fd[3], &b0, buf, sizeof buf), 2);
    assert_int_equal(b0, 0x88);
    for (int i = 0; i < N; i++)
      close(fd[i]);
    rtf_wait_atomic(&rtf_srv.closes, N, 3000);
    assert_int_equal(atomic_load(&rtf_srv.closes), N);
    rtf_srv_finish(srv);
  }
}

/* ---- a peer that keeps TCP open after the closing handshake -------------- */

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
static void linger_run(struct linger_srv *ls, struct rtf_cli *c) {
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  memset(c, 0, sizeof *c);
  rtf_cli_config(&cc, c, url, sizeof url, ls->port, "/");
  cc.limits.close_timeout_ms = 300;
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  rtf_run_until(loop, &c->opened, 3000);
  assert_true(c->opened);
  if (ls->answer < 2)
    assert_int_equal(wsv_ws_close(ws, 1000, NULL, 0), 0);
  rtf_run_until(loop, &c->closed, 3000);
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
  struct rtf_cli c;
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
      cmocka_unit_test(test_idle_ping_deadline),
      cmocka_unit_test(test_ping_spacing),
      cmocka_unit_test(test_slow_consumer),
      cmocka_unit_test(test_reset_mid_frame),
      cmocka_unit_test(test_park),
      cmocka_unit_test(test_close_tcp_outlives_handshake),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
