/*
 * rt_bulk_test.c - large messages through the runtime without copies:
 * a server that echoes with wsv_ws_take_message + wsv_ws_send_buf (so the
 * payload it read straight into the message buffer goes back from that
 * buffer), and a wsv client that sends from owned buffers
 * (wsv_ws_buf_alloc + wsv_ws_send_buf, masked in place) and with
 * wsv_ws_send, checking every echo byte for byte.  Over ws:// and wss://
 * (a certificate made at run time with the openssl command), and with
 * permessage-deflate on (the owned send then compresses a copy).  Every
 * wait is bounded.
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
#include <unistd.h>

#include <cmocka.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "support/rt_fixture.h"

static char g_dir[64];
static char g_cert[128], g_key[128];

/* A self-signed certificate for 127.0.0.1 (the client skips verification:
 * rt_tls_test covers it). */
static int group_setup(void **state) {
  char cmd[512];

  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/wsv-bulk-XXXXXX");
  if (mkdtemp(g_dir) == NULL)
    return -1;
  snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
  snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           "-nodes -keyout %s -out %s -subj /CN=127.0.0.1 -days 2 "
           ">%s/make.log 2>&1",
           g_key, g_cert, g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  char cmd[128];

  (void)state;
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- the server: a zero-copy echo --------------------------------------- */

static atomic_int g_taken; /* messages echoed from their own buffer */

static void s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  struct rtf_srv_state *s = user;
  uint8_t *buf = NULL;
  size_t len = 0;

  if (wsv_ws_take_message(ws, &buf, &len) != 0 || len != n ||
      memcmp(buf, d, n) != 0) {
    atomic_fetch_add(&s->bad, 1);
    return;
  }
  /* Once taken, the message is not there to take again. */
  uint8_t *again = NULL;
  size_t again_len = 0;
  if (wsv_ws_take_message(ws, &again, &again_len) != WSV_ERR_STATE)
    atomic_fetch_add(&s->bad, 1);
  if (buf == (const uint8_t *)d)
    atomic_fetch_add(&g_taken, 1); /* its own buffer, no copy */
  int rc = wsv_ws_send_buf(ws, op, buf, len);
  if (rc != 0 && rc != 1)
    atomic_fetch_add(&s->bad, 1);
}

/* ---- the client --------------------------------------------------------- */

#define NMSG 8
static const size_t g_sizes[NMSG] = {100,           70000, 1 << 20, 3 << 20,
                                     (1 << 20) + 3, 65536, 5,       2 << 20};

struct cli {
  struct rtf_cli base; /* opened, closed, failed, log... */
  uint8_t *pat;
  int got;
  int bad;
  int pmd; /* permessage-deflate was agreed */
};

static int op_of(int i) {
  return i % 2 ? WSV_OP_BINARY : WSV_OP_TEXT;
}

static void c_open(struct wsv_ws *ws, void *user) {
  struct cli *c = user;

  c->base.opened = 1;
  const char *ext = wsv_ws_extensions(ws);
  c->pmd = ext != NULL && strstr(ext, "permessage-deflate") != NULL;
  for (int i = 0; i < NMSG; i++) {
    int rc;
    if (i % 3 == 0) {
      rc = wsv_ws_send(ws, op_of(i), c->pat, g_sizes[i]);
    } else {
      uint8_t *b = wsv_ws_buf_alloc(ws, g_sizes[i]);
      assert_non_null(b);
      memcpy(b, c->pat, g_sizes[i]);
      rc = wsv_ws_send_buf(ws, op_of(i), b, g_sizes[i]);
    }
    assert_true(rc == 0 || rc == 1);
  }
}

static void c_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  struct cli *c = user;
  int i = c->got++;

  if (i >= NMSG || n != g_sizes[i] || op != op_of(i) ||
      memcmp(d, c->pat, n) != 0)
    c->bad++;
  if (c->got == NMSG)
    assert_int_equal(wsv_ws_close(ws, 1000, "done", 4), 0);
}

static void c_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                    void *user) {
  struct cli *c = user;
  rtf_c_close(ws, code, reason, len, &c->base);
}

static void c_fail(struct wsv_ws *ws, int err, const char *text, void *user) {
  struct cli *c = user;
  rtf_c_fail(ws, err, text, &c->base);
}

/* One echo run: `tls`, `pmd` on both sides. */
static void echo_run(int tls, int pmd) {
  struct wsv_server_config sc;
  struct wsv_server *srv;
  struct wsv_client_config cc;
  struct wsv_loop *loop;
  struct cli c;
  char url[96];

  rtf_srv_config(&sc);
  sc.callbacks.message = s_message;
  sc.threads = 1;
  if (tls) {
    sc.tls_cert_file = g_cert;
    sc.tls_key_file = g_key;
  }
  if (pmd)
    sc.handshake.pmd_policy = WSV_PMD_ON;
  atomic_store(&g_taken, 0);
  srv = rtf_srv_start(&sc);

  memset(&c, 0, sizeof c);
  c.pat = malloc(3 << 20);
  assert_non_null(c.pat);
  for (size_t i = 0; i < (3u << 20); i++) /* text too: ASCII */
    c.pat[i] = (uint8_t)('a' + (i * 7 + i / 4099) % 26);
  rtf_cli_config(&cc, &c.base, url, sizeof url, wsv_server_port(srv), "/");
  if (tls) {
    snprintf(url, sizeof url, "wss://127.0.0.1:%u/",
             (unsigned)wsv_server_port(srv));
    cc.tls_insecure = 1;
    cc.http = WSV_CLIENT_HTTP1;
  }
  cc.handshake.pmd_offer = pmd;
  cc.callbacks.open = c_open;
  cc.callbacks.message = c_message;
  cc.callbacks.close = c_close;
  cc.callbacks.fail = c_fail;
  cc.user = &c;
  cc.log_user = &c.base;
  assert_int_equal(wsv_loop_new(&loop), 0);
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.base.closed, 20000);
  if (!c.base.closed)
    fprintf(stderr, "fail: %s\nlog: %s\n", c.base.fail_text, c.base.log);
  wsv_loop_free(loop);
  assert_true(c.base.opened);
  assert_true(c.base.closed);
  assert_int_equal(c.base.code, 1000);
  assert_int_equal(c.got, NMSG);
  assert_int_equal(c.bad, 0);
  assert_int_equal(c.pmd, pmd);
  rtf_wait_atomic(&rtf_srv.closes, 1, 3000);
  /* Uncompressed, every message split across reads was handed over in
   * its own buffer: all but the two small ones that fit one read (100
   * and 5 bytes; 64 KiB may or may not). */
  if (!pmd)
    assert_true(atomic_load(&g_taken) >= NMSG - 3);
  free(c.pat);
  rtf_srv_finish(srv);
}

static void test_echo_tcp(void **state) {
  (void)state;
  echo_run(0, 0);
}

static void test_echo_tls(void **state) {
  (void)state;
  echo_run(1, 0);
}

static void test_echo_tcp_deflate(void **state) {
  (void)state;
  echo_run(0, 1);
}

static void test_echo_tls_deflate(void **state) {
  (void)state;
  echo_run(1, 1);
}

/* Outside a message callback there is nothing to take; NULLs refused. */
static void test_api_edges(void **state) {
  uint8_t *b = (uint8_t *)1;
  size_t n = 1;

  (void)state;
  assert_int_equal(wsv_ws_take_message(NULL, &b, &n), WSV_ERR_INVAL);
  assert_int_equal(wsv_ws_send_buf(NULL, WSV_OP_TEXT, b, 0), WSV_ERR_INVAL);
  assert_null(wsv_ws_buf_alloc(NULL, 10));
  wsv_ws_buf_free(NULL, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api_edges),
      cmocka_unit_test(test_echo_tcp),
      cmocka_unit_test(test_echo_tls),
      cmocka_unit_test(test_echo_tcp_deflate),
      cmocka_unit_test(test_echo_tls_deflate),
  };
  if (getenv("WSV_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("WSV_TEST_FILTER"));
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
