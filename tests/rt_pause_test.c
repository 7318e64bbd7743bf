/*
 * rt_pause_test.c - reading back-pressure on a WebSocket (wsv_ws_pause,
 * src/rt/ws.c and src/rt/transport.c) over loopback, plain and TLS: a
 * paused server connection stops consuming (the client's bytes pile up
 * in its own send buffer), is not dropped by its ping deadline, and gets
 * everything in order once resumed (and is held to its pong deadline
 * again); a Close the server sends while
 * paused ends the pause; a Close the client sends is only seen once the
 * server resumes; a pause from a message callback delivers the rest of
 * that read only.  The server runs on its own thread; the test talks to
 * its connection through posts to that thread.  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
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

#include "support/rt_fixture.h"

#define MSG_SIZE 65536
#define MSG_COUNT 64 /* 4 MiB in all */

/* What the server thread saw; the ws pointer is used on that thread only. */
struct pause_srv {
  struct wsv_ws *ws;
  atomic_int opened;
  atomic_int msgs;    /* messages received, each checked */
  atomic_int bad;     /* out of order or corrupted */
  atomic_int closes;  /* close callbacks */
  atomic_int code;    /* their code */
  atomic_int err;     /* wsv_ws_error there */
  atomic_int paused;  /* wsv_ws_paused after the last post */
  atomic_int pause_rc;
  atomic_int done;    /* posts run */
  int pause_open;     /* pause in the open callback */
  int pause_at;       /* else pause in the callback of message N (1-based) */
  size_t size;        /* the size of every message */
};

static struct pause_srv g;

/* Message i of `size` bytes: its index in the first 4, then (i + k). */
static void fill_msg(uint8_t *p, uint32_t i, size_t size) {
  memcpy(p, &i, 4);
  for (size_t k = 4; k < size; k++)
    p[k] = (uint8_t)(i + k);
}

static int check_msg(const uint8_t *p, size_t n, uint32_t want) {
  uint32_t i;
  if (n != g.size)
    return 0;
  memcpy(&i, p, 4);
  if (i != want)
    return 0;
  for (size_t k = 4; k < n; k++)
    if (p[k] != (uint8_t)(i + k))
      return 0;
  return 1;
}

static void s_open(struct wsv_ws *ws, void *user) {
  (void)user;
  g.ws = ws;
  int small = 32768; /* so that the kernel holds little for the paused side */
  if (g.pause_open) {
    (void)setsockopt(wsv_ws_fd(ws), SOL_SOCKET, SO_RCVBUF, &small,
                     sizeof small);
    atomic_store(&g.pause_rc, wsv_ws_pause(ws, 1));
    atomic_store(&g.paused, wsv_ws_paused(ws));
  }
  atomic_store(&g.opened, 1);
}

static void s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  (void)ws;
  (void)user;
  int i = atomic_load(&g.msgs);
  if (op != WSV_OP_BINARY || !check_msg(d, n, (uint32_t)i))
    atomic_fetch_add(&g.bad, 1);
  atomic_store(&g.msgs, i + 1);
  if (g.pause_at == i + 1) {
    atomic_store(&g.pause_rc, wsv_ws_pause(ws, 1));
    atomic_store(&g.paused, wsv_ws_paused(ws));
  }
}

static void s_close(struct wsv_ws *ws, int code, const char *reason,
                    size_t len, void *user) {
  (void)reason;
  (void)len;
  (void)user;
  atomic_store(&g.err, wsv_ws_error(ws));
  atomic_store(&g.code, code);
  g.ws = NULL;
  atomic_fetch_add(&g.closes, 1);
}

/* Posted to the server's thread. */
static void post_resume(struct wsv_loop *loop, void *user) {
  (void)loop;
  (void)user;
  if (g.ws != NULL) {
    atomic_store(&g.pause_rc, wsv_ws_pause(g.ws, 0));
    atomic_store(&g.paused, wsv_ws_paused(g.ws));
  }
  atomic_fetch_add(&g.done, 1);
}

static void post_pause(struct wsv_loop *loop, void *user) {
  (void)loop;
  (void)user;
  if (g.ws != NULL) {
    atomic_store(&g.pause_rc, wsv_ws_pause(g.ws, 1));
    atomic_store(&g.paused, wsv_ws_paused(g.ws));
  }
  atomic_fetch_add(&g.done, 1);
}

static void post_close(struct wsv_loop *loop, void *user) {
  (void)loop;
  (void)user;
  if (g.ws != NULL) {
    atomic_store(&g.pause_rc, wsv_ws_close(g.ws, 1000, "bye", 3));
    atomic_store(&g.paused, wsv_ws_paused(g.ws));
  }
  atomic_fetch_add(&g.done, 1);
}

static void post_and_wait(struct wsv_server *srv, wsv_post_fn fn) {
  int before = atomic_load(&g.done);
  assert_int_equal(wsv_loop_post(wsv_server_loop(srv, 0), fn, NULL), 0);
  rtf_wait_atomic(&g.done, before + 1, 2000);
  assert_int_equal(atomic_load(&g.done), before + 1);
}

/* ---- the certificate for the TLS case ------------------------------------ */

static char g_dir[64];

static const char *make_cert(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/wsv-pause-XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           "-nodes -days 2 -subj /CN=127.0.0.1 -keyout %s/k.pem "
           "-out %s/c.pem >%s/log 2>&1",
           g_dir, g_dir, g_dir);
  assert_int_equal(system(cmd), 0);
  return g_dir;
}

static void drop_cert(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  (void)system(cmd);
}

/* ---- the client ---------------------------------------------------------- */

struct pause_cli {
  int opened;
  int closed;
  int code;
};

static void c_open(struct wsv_ws *ws, void *user) {
  struct pause_cli *c = user;
  int small = 32768;
  (void)setsockopt(wsv_ws_fd(ws), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  c->opened = 1;
}

static void c_close(struct wsv_ws *ws, int code, const char *reason,
                    size_t len, void *user) {
  struct pause_cli *c = user;
  (void)ws;
  (void)reason;
  (void)len;
  c->closed = 1;
  c->code = code;
}

/* A server (TLS when tls) whose connections pause in open, with a short
 * ping deadline; a client connected to it on *loop. */
static struct wsv_server *start_at(int tls, int pause_at, size_t size,
                                   size_t rbuf, struct wsv_loop **loop,
                                   struct pause_cli *c, struct wsv_ws **ws) {
  memset(&g, 0, sizeof g);
  g.pause_open = pause_at == 0;
  g.pause_at = pause_at;
  g.size = size;
  struct wsv_server_config scfg;
  wsv_server_config_init(&scfg);
  scfg.port = 0;
  scfg.limits.ping_interval_ms = 100;
  scfg.limits.pong_timeout_ms = 100;
  scfg.limits.park_after_ms = 50; /* parked and unparked while paused */
  if (rbuf != 0)
    scfg.read_buffer_size = rbuf;
  if (pause_at != 0) /* no pong to wake the reader up after resuming */
    scfg.limits.ping_interval_ms = 0;
  scfg.callbacks.open = s_open;
  scfg.callbacks.message = s_message;
  scfg.callbacks.close = s_close;
  char cert[96], key[96];
  if (tls) {
    const char *dir = make_cert();
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    scfg.tls_cert_file = cert;
    scfg.tls_key_file = key;
  }
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  assert_int_equal(wsv_server_start(srv), 0);
  memset(c, 0, sizeof *c);
  assert_int_equal(wsv_loop_new(loop), 0);
  struct wsv_client_config cc;
  wsv_client_config_init(&cc);
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%u/", tls ? "wss" : "ws",
           (unsigned)wsv_server_port(srv));
  cc.url = url;
  cc.tls_insecure = 1;
  cc.limits.ping_interval_ms = 0;
  cc.callbacks.open = c_open;
  cc.callbacks.close = c_close;
  cc.user = c;
  assert_int_equal(wsv_client_connect(*loop, &cc, ws), 0);
  rtf_run_until(*loop, &c->opened, 3000);
  assert_true(c->opened);
  rtf_wait_atomic(&g.opened, 1, 2000);
  assert_int_equal(atomic_load(&g.pause_rc), 0);
  assert_int_equal(atomic_load(&g.paused), g.pause_open);
  return srv;
}

/* Paused from the open callback, messages of MSG_SIZE. */
static struct wsv_server *start(int tls, struct wsv_loop **loop,
                                struct pause_cli *c, struct wsv_ws **ws) {
  return start_at(tls, 0, MSG_SIZE, 0, loop, c, ws);
}

static void finish(struct wsv_server *srv, struct wsv_loop *loop, int tls) {
  wsv_loop_free(loop);
  wsv_server_stop(srv);
  assert_int_equal(wsv_server_join(srv), 0);
  wsv_server_free(srv);
  if (tls)
    drop_cert();
}

/* Run the loop for ms milliseconds. */
static void run_for(struct wsv_loop *loop, int ms) {
  int never = 0;
  rtf_run_until(loop, &never, ms);
}

/* Send the 64 messages, see them held back, resume, see them all. */
static void paused_then_resumed(int tls) {
  struct wsv_loop *loop;
  struct pause_cli c;
  struct wsv_ws *ws;
  struct wsv_server *srv = start(tls, &loop, &c, &ws);
  uint8_t *m = malloc(MSG_SIZE);
  assert_non_null(m);
  for (uint32_t i = 0; i < MSG_COUNT; i++) {
    fill_msg(m, i, MSG_SIZE);
    assert_true(wsv_ws_send_binary(ws, m, MSG_SIZE) >= 0);
  }
  free(m);
  /* Well past the server's ping deadline (100 + 100 ms): still open, and
   * nothing consumed: the bytes wait in our own send buffer. */
  run_for(loop, 700);
  assert_false(c.closed);
  assert_int_equal(atomic_load(&g.closes), 0);
  assert_int_equal(atomic_load(&g.msgs), 0);
  size_t held = wsv_ws_buffered(ws);
  assert_true(held > (size_t)MSG_SIZE * MSG_COUNT / 2);
  run_for(loop, 200);
  assert_int_equal(wsv_ws_buffered(ws), held); /* no progress at all */
  assert_int_equal(atomic_load(&g.msgs), 0);
  /* Resumed: everything, in order, and the client's buffer empties. */
  post_and_wait(srv, post_resume);
  assert_int_equal(atomic_load(&g.paused), 0);
  for (int t = 0; t < 500 && atomic_load(&g.msgs) < MSG_COUNT; t++)
    run_for(loop, 10);
  assert_int_equal(atomic_load(&g.msgs), MSG_COUNT);
  assert_int_equal(atomic_load(&g.bad), 0);
  assert_int_equal(wsv_ws_buffered(ws), 0);
  /* And the client's pings (none) are not needed: a pong now comes back. */
  assert_int_equal(wsv_ws_close(ws, 1000, NULL, 0), 0);
  rtf_run_until(loop, &c.closed, 3000);
  assert_int_equal(c.code, 1000);
  rtf_wait_atomic(&g.closes, 1, 2000);
  assert_int_equal(atomic_load(&g.code), 1000);
  assert_int_equal(atomic_load(&g.err), 0);
  finish(srv, loop, tls);
}

static void test_pause_plain(void **state) {
  (void)state;
  paused_then_resumed(0);
}

static void test_pause_tls(void **state) {
  (void)state;
  paused_then_resumed(1);
}

/* Paused from a message callback over TLS: the rest of that read is
 * still delivered, then nothing; resumed, everything, in order.  With n
 * messages of 1000 bytes and the server's read buffer of rbuf bytes
 * (0: the default 64 KiB).  75 messages (75,450 bytes: four full TLS
 * records and a shorter one) read with a 70,000-byte buffer leave the rest
 * of the last record decrypted inside OpenSSL and, once all of it has
 * arrived, nothing in the kernel: only the read-again on resume brings
 * it. */
static void pause_in_message_tls(int n, size_t rbuf) {
  enum { SIZE = 1000 };
  struct wsv_loop *loop;
  struct pause_cli c;
  struct wsv_ws *ws;
  struct wsv_server *srv = start_at(1, 1, SIZE, rbuf, &loop, &c, &ws);
  uint8_t m[SIZE];
  for (uint32_t i = 0; i < (uint32_t)n; i++) {
    fill_msg(m, i, SIZE);
    assert_int_equal(wsv_ws_send_binary(ws, m, SIZE), 0);
  }
  run_for(loop, 400);
  int seen = atomic_load(&g.msgs);
  assert_int_equal(atomic_load(&g.pause_rc), 0);
  assert_int_equal(atomic_load(&g.paused), 1);
  assert_true(seen >= 1 && seen < n);
  run_for(loop, 300);
  assert_int_equal(atomic_load(&g.msgs), seen); /* nothing while paused */
  post_and_wait(srv, post_resume);
  for (int t = 0; t < 300 && atomic_load(&g.msgs) < n; t++)
    run_for(loop, 10);
  assert_int_equal(atomic_load(&g.msgs), n);
  assert_int_equal(atomic_load(&g.bad), 0);
  assert_int_equal(wsv_ws_close(ws, 1000, NULL, 0), 0);
  rtf_run_until(loop, &c.closed, 3000);
  assert_int_equal(c.code, 1000);
  finish(srv, loop, 1);
}

static void test_pause_in_message_tls(void **state) {
  (void)state;
  pause_in_message_tls(90, 0); /* 90 KB: more than one 64 KiB read */
}

static void test_pause_tls_input_in_openssl(void **state) {
  (void)state;
  pause_in_message_tls(75, 70000);
}

/* The paused server sends a Close: reading resumes by itself, the
 * client's reply is read, and both see a clean 1000 (without it the
 * server would wait for its close timeout and report an error). */
static void test_close_while_paused(void **state) {
  (void)state;
  struct wsv_loop *loop;
  struct pause_cli c;
  struct wsv_ws *ws;
  struct wsv_server *srv = start(0, &loop, &c, &ws);
  assert_int_equal(wsv_ws_send_text(ws, "before", 6), 0);
  run_for(loop, 100);
  assert_int_equal(atomic_load(&g.msgs), 0);
  post_and_wait(srv, post_close);
  assert_int_equal(atomic_load(&g.pause_rc), 0);
  assert_int_equal(atomic_load(&g.paused), 0); /* the Close ended it */
  rtf_run_until(loop, &c.closed, 3000);
  assert_true(c.closed);
  assert_int_equal(c.code, 1000);
  rtf_wait_atomic(&g.closes, 1, 1000);
  assert_int_equal(atomic_load(&g.closes), 1);
  assert_int_equal(atomic_load(&g.code), 1000);
  assert_int_equal(atomic_load(&g.err), 0);
  /* The text came before the client's Close, so it was delivered (not a
   * binary message of the right shape: counted as "bad"). */
  assert_int_equal(atomic_load(&g.msgs), 1);
  finish(srv, loop, 0);
}

/* The client closes while the server is paused: the server does not see
 * it until it resumes, then closes cleanly with the client's code. */
static void test_peer_close_waits_for_resume(void **state) {
  (void)state;
  struct wsv_loop *loop;
  struct pause_cli c;
  struct wsv_ws *ws;
  struct wsv_server *srv = start(0, &loop, &c, &ws);
  assert_int_equal(wsv_ws_close(ws, 4001, "done", 4), 0);
  run_for(loop, 400);
  assert_int_equal(atomic_load(&g.closes), 0);
  assert_false(c.closed);
  post_and_wait(srv, post_resume);
  rtf_run_until(loop, &c.closed, 3000);
  assert_true(c.closed);
  assert_int_equal(c.code, 4001); /* echoed by the server */
  rtf_wait_atomic(&g.closes, 1, 1000);
  assert_int_equal(atomic_load(&g.code), 4001);
  assert_int_equal(atomic_load(&g.err), 0);
  finish(srv, loop, 0);
}

/* A client that never answers pings; the server pauses after its ping
 * left: the pong deadline gives no verdict while paused (the pong could
 * wait unread), no ping is sent while paused, and once resumed the
 * deadline holds again: the silent client is dropped ("ping timeout"). */
struct ping_cli {
  int opened, closed, pings, code;
};

static void pc_open(struct wsv_ws *ws, void *user) {
  (void)ws;
  ((struct ping_cli *)user)->opened = 1;
}

static void pc_control(struct wsv_ws *ws, int op, const void *d, size_t n,
                       void *user) {
  (void)ws;
  (void)d;
  (void)n;
  if (op == WSV_OP_PING)
    ((struct ping_cli *)user)->pings++;
}

static void pc_close(struct wsv_ws *ws, int code, const char *reason,
                     size_t len, void *user) {
  (void)ws;
  (void)reason;
  (void)len;
  ((struct ping_cli *)user)->closed = 1;
  ((struct ping_cli *)user)->code = code;
}

static void test_pong_deadline_while_paused(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  struct wsv_server_config scfg;
  wsv_server_config_init(&scfg);
  scfg.limits.ping_interval_ms = 200;
  scfg.limits.pong_timeout_ms = 300;
  scfg.callbacks.open = s_open;
  scfg.callbacks.message = s_message;
  scfg.callbacks.close = s_close;
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  assert_int_equal(wsv_server_start(srv), 0);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct ping_cli pc;
  memset(&pc, 0, sizeof pc);
  struct wsv_client_config cc;
  wsv_client_config_init(&cc);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)wsv_server_port(srv));
  cc.url = url;
  cc.conn.auto_pong = 0; /* silent */
  cc.limits.ping_interval_ms = 0;
  cc.callbacks.open = pc_open;
  cc.callbacks.control = pc_control;
  cc.callbacks.close = pc_close;
  cc.user = &pc;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &pc.opened, 2000);
  rtf_run_until(loop, &pc.pings, 2000); /* the server's ping left */
  assert_int_equal(pc.pings, 1);
  post_and_wait(srv, post_pause);
  assert_int_equal(atomic_load(&g.paused), 1);
  run_for(loop, 900); /* past the pong deadline, and past another ping */
  assert_false(pc.closed);
  assert_int_equal(atomic_load(&g.closes), 0);
  assert_int_equal(pc.pings, 1); /* no ping while paused */
  post_and_wait(srv, post_resume);
  rtf_run_until(loop, &pc.closed, 3000);
  assert_true(pc.closed);
  rtf_wait_atomic(&g.closes, 1, 1000);
  assert_int_equal(atomic_load(&g.code), 1006);
  assert_int_equal(atomic_load(&g.err), WSV_ERR_CLOSED); /* ping timeout */
  assert_true(pc.pings >= 2); /* pinged again once resumed */
  wsv_loop_free(loop);
  wsv_server_stop(srv);
  assert_int_equal(wsv_server_join(srv), 0);
  wsv_server_free(srv);
}

/* The calls' own rules. */
static void test_pause_args(void **state) {
  (void)state;
  assert_int_equal(wsv_ws_pause(NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_ws_pause(NULL, 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_ws_paused(NULL), 0);
  /* A client still in its handshake cannot pause. */
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  wsv_client_config_init(&cc);
  cc.url = "ws://127.0.0.1:9/";
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  assert_int_equal(wsv_ws_pause(ws, 1), WSV_ERR_STATE);
  assert_int_equal(wsv_ws_pause(ws, 0), 0);
  assert_int_equal(wsv_ws_paused(ws), 0);
  wsv_loop_free(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pause_args),
      cmocka_unit_test(test_pause_plain),
      cmocka_unit_test(test_pause_tls),
      cmocka_unit_test(test_pause_in_message_tls),
      cmocka_unit_test(test_pause_tls_input_in_openssl),
      cmocka_unit_test(test_close_while_paused),
      cmocka_unit_test(test_pong_deadline_while_paused),
      cmocka_unit_test(test_peer_close_waits_for_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
