/*
 * rt_pubsub_test.c - the runtime's publish/subscribe (src/rt/pubsub.c)
 * across a server's two threads: a publish from a thread that is none of
 * the server's, and chat among subscribers of one topic.  The server runs
 * on its own threads, the clients on a loop of the test's thread
 * (tests/support/rt_fixture.h).  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "support/rt_fixture.h"

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
  rtf_srv_config(&scfg);
  scfg.threads = 2;
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct rtf_cli c[N];
  struct wsv_ws *ws[N];
  char url[N][64];
  memset(c, 0, sizeof c);
  for (int i = 0; i < N; i++) {
    struct wsv_client_config cc;
    rtf_cli_config(&cc, &c[i], url[i], sizeof url[i], wsv_server_port(srv),
               "/room");
    assert_int_equal(wsv_client_connect(loop, &cc, &ws[i]), 0);
  }
  rtf_wait_atomic(&rtf_srv.opens, N, 3000);
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
  rtf_srv_finish(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pubsub_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
