/*
 * rt_client_test.c - the runtime's client (src/rt/client.c) against the
 * runtime's server over loopback: the version retry, no common version,
 * URLs refused and a refused connection, an IPv6 client.  The server runs
 * on its own threads, the client on a loop of the test's thread
 * (tests/support/rt_fixture.h).  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support/rt_fixture.h"

static void test_version_retry(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.handshake.versions = WSV_VERSION_BIT(8);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.opened, 3000);
  assert_true(c.opened);
  assert_int_equal(c.version, 8);
  assert_non_null(strstr(c.log, "server speaks 8"));
  assert_non_null(strstr(c.log, "retry"));
  rtf_wait_atomic(&rtf_srv.opens, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.version), 8);
  wsv_loop_free(loop); /* drops the connection */
  rtf_srv_finish(srv);
}

static void test_no_common_version(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg); /* speaks 13 only */
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  cc.handshake.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7);
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.failed, 3000);
  assert_true(c.failed);
  assert_false(c.opened);
  assert_int_equal(c.fail_err, WSV_ERR_HS_NO_COMMON_VERSION);
  assert_non_null(strstr(c.fail_text, "13"));
  assert_non_null(strstr(c.fail_text, "8, 7"));
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_client_errors(void **state) {
  (void)state;
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, 1, "/");
  cc.url = "ftp://127.0.0.1/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  assert_non_null(strstr(c.log, "wss://"));
  cc.url = "http://x/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  cc.url = "ws://[::1:80/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  /* A refused connection reaches the fail callback, not the caller. */
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  uint16_t port = wsv_server_port(srv);
  wsv_server_free(srv); /* the port is free again: nobody listens */
  rtf_cli_config(&cc, &c, url, sizeof url, port, "/");
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.failed, 3000);
  assert_true(c.failed);
  /* The cause, not just "closed" (it was WSV_ERR_CLOSED before 0.2). */
  assert_int_equal(c.fail_err, WSV_ERR_ECONNREFUSED);
  assert_non_null(strstr(c.fail_text, "refused"));
  wsv_loop_free(loop);
}

static void test_ipv6(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.host = "::1";
  struct wsv_server *srv;
  if (wsv_server_new(&srv, &scfg) != 0) {
    skip(); /* no IPv6 loopback here */
  }
  assert_int_equal(wsv_server_start(srv), 0);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, 1, "/");
  snprintf(url, sizeof url, "ws://[::1]:%u/v6", (unsigned)wsv_server_port(srv));
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  rtf_run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  assert_string_equal(wsv_ws_path(ws), "/v6");
  char peer[64];
  assert_true(wsv_ws_peer(ws, peer, sizeof peer) > 0);
  assert_non_null(strstr(peer, "[::1]:"));
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_retry),
      cmocka_unit_test(test_no_common_version),
      cmocka_unit_test(test_client_errors),
      cmocka_unit_test(test_ipv6),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
