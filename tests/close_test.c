/*
 * close_test.c - the closing handshake (RFC 6455 §5.5.1, §7) through
 * wsv_conn, in both roles: who sends what, the states, when the runtime
 * should close TCP, every close code class at its boundaries, and what
 * happens to input and sends around a Close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/conn_util.h"

#define S WSV_ROLE_SERVER
#define C WSV_ROLE_CLIENT

/* Frames as `to` receives them: masked for a server. */
static void put_to(struct bytes *b, int to, unsigned b0, const void *p,
                   size_t n) {
  put_frame(b, b0, p, n, to == S);
}

static void put_close_to(struct bytes *b, int to, int code,
                         const char *reason) {
  uint8_t p[130];
  size_t n = 0;

  if (code >= 0) {
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    n = 2;
    if (reason != NULL) {
      memcpy(p + 2, reason, strlen(reason));
      n += strlen(reason);
    }
  }
  put_to(b, to, 0x88, p, n);
}

/* ---- close codes at their boundaries (G4-G6) ----------------------------- */

static void check_code(int role, int code, int valid) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(role, 0, &r, NULL);
  struct bytes in = {0};
  struct log l = {0};
  char want[64];
  size_t chunk;

  put_close_to(&in, role, code, "ok");
  for (chunk = 0; chunk <= in.len; chunk++) {
    c = chunk == 0 ? c : mkconn(role, 0, &r, NULL);
    feed(c, in.p, in.len, chunk, &l);
    if (valid) {
      snprintf(want, sizeof want, "CLOSE %d:ok;", code);
      assert_string_equal(log_str(&l), want);
      assert_int_equal(wsv_conn_state(c), WSV_CONN_CLOSED);
      /* The reply echoes the code. */
      snprintf(want, sizeof want, "CLOSE %d:;", code);
      assert_string_equal(output_str(c, role), want);
    } else {
      assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
      assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
      assert_string_equal(output_str(c, role), "CLOSE 1002:;");
    }
    log_free(&l);
    wsv_conn_free(c);
  }
  b_free(&in);
}

static void test_code_boundaries(void **state) {
  static const int pairs[][2] = {{999, 1000},   {1004, 1003}, {1006, 1007},
                                 {1015, 1014},  {2999, 3000}, {5000, 4999},
                                 {1016, 1012},  {1005, 1013}, {0, 1001},
                                 {65535, 4000}, {1100, 3999}, {2000, 1011}};
  size_t i;
  int role;

  (void)state;
  for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
    for (role = S; role <= C; role++) {
      check_code(role, pairs[i][0], 0);
      check_code(role, pairs[i][1], 1);
    }
}

static void test_exact_replies(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c;
  struct bytes in = {0}, out = {0};
  struct log l = {0};
  static const uint8_t mclose1000[] = {0x88, 0x82, 0x37, 0xfa,
                                       0x21, 0x3d, 0x34, 0x12};
  static const uint8_t mempty[] = {0x88, 0x80, 0x37, 0xfa, 0x21, 0x3d};

  (void)state;
  /* G1 server: empty Close -> report 1005, reply empty. */
  c = mkconn(S, 0, &r, NULL);
  put_close_to(&in, S, -1, NULL);
  feed(c, in.p, in.len, 0, &l);
  assert_string_equal(log_str(&l), "CLOSE 1005:;");
  assert_false(wsv_conn_want_close_socket(c)); /* reply not written yet */
  drain(c, &out);
  assert_int_equal(out.len, 2);
  assert_memory_equal(out.p, "\x88\x00", 2);
  assert_true(wsv_conn_want_close_socket(c)); /* §7.1.1: server first */
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&out);
  /* G1 client: empty Close -> masked empty reply; the client waits for
   * the server to close TCP. */
  c = mkconn(C, 0, &r, NULL);
  put_close_to(&in, C, -1, NULL);
  feed(c, in.p, in.len, 0, &l);
  drain(c, &out);
  assert_int_equal(out.len, sizeof mempty);
  assert_memory_equal(out.p, mempty, sizeof mempty);
  assert_false(wsv_conn_want_close_socket(c));
  assert_int_equal(wsv_conn_state(c), WSV_CONN_CLOSED);
  assert_false(wsv_conn_want_read(c));
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&out);
  /* G6 client: 1000 + reason -> masked 1000, no reason. */
  c = mkconn(C, 0, &r, NULL);
  put_close_to(&in, C, 1000, "bye");
  feed(c, in.p, in.len, 0, &l);
  assert_string_equal(log_str(&l), "CLOSE 1000:bye;");
  drain(c, &out);
  assert_int_equal(out.len, sizeof mclose1000);
  assert_memory_equal(out.p, mclose1000, sizeof mclose1000);
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&out);
}

static void test_bad_close_payloads(void **state) {
  struct rnd r = {0, 0, 0};
  struct bytes in = {0};
  struct log l = {0};
  char reason[124];
  int role;

  (void)state;
  memset(reason, 'r', sizeof reason);
  for (role = S; role <= C; role++) {
    struct wsv_conn *c;
    uint8_t p[126];
    /* G2: 1 byte. */
    c = mkconn(role, 0, &r, NULL);
    put_to(&in, role, 0x88, "\x03", 1);
    feed(c, in.p, in.len, 1, &l);
    assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
    assert_string_equal(output_str(c, role), "CLOSE 1002:;");
    wsv_conn_free(c);
    log_free(&l);
    in.len = 0;
    /* 123-byte reason: fine.  G3: 124 (payload 126, 16-bit form). */
    p[0] = 0x03;
    p[1] = 0xe8;
    memcpy(p + 2, reason, 124);
    c = mkconn(role, 0, &r, NULL);
    put_to(&in, role, 0x88, p, 125);
    feed(c, in.p, in.len, 0, &l);
    assert_string_equal(log_str(&l), "CLOSE 1000:<123*72>;");
    wsv_conn_free(c);
    log_free(&l);
    in.len = 0;
    c = mkconn(role, 0, &r, NULL);
    put_to(&in, role, 0x88, p, 126);
    feed(c, in.p, in.len, 0, &l);
    assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
    wsv_conn_free(c);
    log_free(&l);
    in.len = 0;
    /* G7: invalid UTF-8 in the reason, also a truncated sequence. */
    c = mkconn(role, 0, &r, NULL);
    put_to(&in, role, 0x88, "\x03\xe8\xce", 3);
    feed(c, in.p, in.len, 1, &l);
    assert_string_equal(log_str(&l), "ERROR UTF8 1007;");
    assert_string_equal(output_str(c, role), "CLOSE 1007:;");
    wsv_conn_free(c);
    log_free(&l);
    in.len = 0;
  }
  b_free(&in);
}

/* ---- the handshake, in both directions ----------------------------------- */

/* Move all output of `from` into `to` and log what `to` sees. */
static void transfer(struct wsv_conn *from, struct wsv_conn *to,
                     struct log *l) {
  struct bytes out = {0};

  drain(from, &out);
  feed(to, out.p, out.len, 1, l);
  b_free(&out);
}

static void handshake(int initiator) {
  struct rnd r = {1, 0, 0};
  struct wsv_conn *s = mkconn(S, 0, &r, NULL);
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct wsv_conn *a = initiator == S ? s : c;
  struct wsv_conn *b = initiator == S ? c : s;
  struct log la = {0}, lb = {0};

  assert_int_equal(wsv_conn_close(a, 1001, "going", 5), WSV_OK);
  assert_int_equal(wsv_conn_state(a), WSV_CONN_CLOSING);
  assert_true(wsv_conn_want_read(a));
  assert_true(wsv_conn_want_write(a));
  /* Nothing can be sent after our Close, not even a second Close. */
  assert_int_equal(wsv_conn_send(a, WSV_OP_TEXT, "x", 1), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_send_fragment(a, WSV_OP_TEXT, "x", 1, 0),
                   WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_ping(a, "x", 1), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_pong(a, "x", 1), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_close(a, 1000, NULL, 0), WSV_ERR_CLOSED);
  /* The peer still had a message and a ping in flight. */
  assert_int_equal(wsv_conn_send(b, WSV_OP_TEXT, "late", 4), WSV_OK);
  assert_int_equal(wsv_conn_ping(b, "p", 1), WSV_OK);
  transfer(b, a, &la);
  /* Data sent before the peer saw our Close is still delivered; the ping
   * gets no pong (we already sent our Close). */
  assert_string_equal(log_str(&la), "TEXT:late;PING:p;");
  assert_int_equal(wsv_conn_output_size(a), (initiator == S ? 2 : 6) + 7);
  /* Our Close reaches the peer: it reports it and echoes the code. */
  transfer(a, b, &lb);
  assert_string_equal(log_str(&lb), "CLOSE 1001:going;");
  assert_int_equal(wsv_conn_state(b), WSV_CONN_CLOSED);
  assert_false(wsv_conn_want_read(b));
  assert_int_equal(wsv_conn_send(b, WSV_OP_TEXT, "x", 1), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_close(b, 1000, NULL, 0), WSV_ERR_CLOSED);
  /* The echo reaches us: closed, and no reply to the reply. */
  transfer(b, a, &la);
  assert_string_equal(log_str(&la), "TEXT:late;PING:p;CLOSE 1001:;");
  assert_int_equal(wsv_conn_state(a), WSV_CONN_CLOSED);
  assert_int_equal(wsv_conn_output_size(a), 0);
  assert_false(wsv_conn_want_read(a));
  /* §7.1.1: the server closes TCP, the client waits for it. */
  assert_true(wsv_conn_want_close_socket(s));
  assert_false(wsv_conn_want_close_socket(c));
  log_free(&la);
  log_free(&lb);
  wsv_conn_free(s);
  wsv_conn_free(c);
}

static void test_server_initiated(void **state) {
  (void)state;
  handshake(S);
}

static void test_client_initiated(void **state) {
  (void)state;
  handshake(C);
}

static void test_simultaneous(void **state) {
  /* Both sides close at once: each gets the other's Close, neither
   * replies again. */
  struct rnd r = {1, 0, 0};
  struct wsv_conn *s = mkconn(S, 0, &r, NULL);
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct bytes so = {0}, co = {0};
  struct log ls = {0}, lc = {0};

  (void)state;
  assert_int_equal(wsv_conn_close(s, 1000, NULL, 0), WSV_OK);
  assert_int_equal(wsv_conn_close(c, 3000, "c", 1), WSV_OK);
  drain(s, &so);
  drain(c, &co);
  feed(s, co.p, co.len, 0, &ls);
  feed(c, so.p, so.len, 0, &lc);
  assert_string_equal(log_str(&ls), "CLOSE 3000:c;");
  assert_string_equal(log_str(&lc), "CLOSE 1000:;");
  assert_int_equal(wsv_conn_output_size(s), 0);
  assert_int_equal(wsv_conn_output_size(c), 0);
  assert_true(wsv_conn_want_close_socket(s));
  assert_false(wsv_conn_want_close_socket(c));
  b_free(&so);
  b_free(&co);
  log_free(&ls);
  log_free(&lc);
  wsv_conn_free(s);
  wsv_conn_free(c);
}

/* ---- around the Close ---------------------------------------------------- */

static void test_input_after_close(void **state) {
  /* G8: after the peer's Close, the rest of the buffer and later buffers
   * are discarded: no events, no pong. */
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0};
  struct log l = {0};

  (void)state;
  put_to(&in, S, 0x01, "frag", 4);
  put_close_to(&in, S, 1000, NULL);
  put_to(&in, S, 0x80, "ment", 4);
  put_to(&in, S, 0x89, "p", 1);
  feed(c, in.p, in.len, 0, &l);
  feed(c, in.p, in.len, 3, &l);
  assert_string_equal(log_str(&l), "CLOSE 1000:;");
  assert_string_equal(output_str(c, S), "CLOSE 1000:;");
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
}

static void test_error_after_our_close(void **state) {
  /* We sent a Close; the peer then breaks a rule: the connection fails
   * without a second Close. */
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct log l = {0};
  static const uint8_t bad[] = {0x83, 0x00};

  (void)state;
  assert_int_equal(wsv_conn_close(c, 1000, NULL, 0), WSV_OK);
  feed(c, bad, sizeof bad, 0, &l);
  assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
  assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
  assert_string_equal(output_str(c, C), "CLOSE 1000:;");
  /* A failed client may close TCP itself once its output is written. */
  assert_true(wsv_conn_want_close_socket(c));
  wsv_conn_free(c);
  log_free(&l);
}

static void test_close_api(void **state) {
  /* F6: codes and reasons that must never be sent are refused, and
   * nothing is queued. */
  static const int refused[] = {999,  1004, 1005, 1006, 1015,
                                1016, 2999, 5000, -1};
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  char reason[124];
  size_t i;

  (void)state;
  memset(reason, 'r', sizeof reason);
  for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_int_equal(wsv_conn_close(c, refused[i], NULL, 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_close(c, 0, "x", 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_close(c, 1000, reason, 124), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_close(c, 1000, "\xff", 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_close(NULL, 1000, NULL, 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_output_size(c), 0);
  assert_int_equal(wsv_conn_state(c), WSV_CONN_OPEN);
  /* An empty Close, and a 123-byte reason in another connection. */
  assert_int_equal(wsv_conn_close(c, 0, NULL, 0), WSV_OK);
  assert_string_equal(output_str(c, S), "CLOSE 1005:;");
  wsv_conn_free(c);
  c = mkconn(S, 0, &r, NULL);
  assert_int_equal(wsv_conn_close(c, 4999, reason, 123), WSV_OK);
  assert_int_equal(wsv_conn_output_size(c), 2 + 2 + 123);
  wsv_conn_free(c);
}

static void test_close_during_fragments(void **state) {
  /* Our Close may go between the fragments of a message we send, and a
   * Close received mid-message drops the partial message (and its
   * buffer). */
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct bytes in = {0};
  struct log l = {0};

  (void)state;
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "ab", 2, 0),
                   WSV_OK);
  put_to(&in, S, 0x02, "partial", 7);
  feed(c, in.p, in.len, 0, &l);
  assert_int_equal(t.live, 3); /* conn, output block, message buffer */
  in.len = 0;
  put_close_to(&in, S, 1000, NULL);
  feed(c, in.p, in.len, 0, &l);
  assert_string_equal(log_str(&l), "CLOSE 1000:;");
  assert_int_equal(t.live, 2); /* the partial message is gone */
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "c", 1, 1),
                   WSV_ERR_CLOSED);
  assert_string_equal(output_str(c, S), "CLOSE 1000:;");
  assert_int_equal(t.live, 1);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
}

static void test_close_reply_nomem(void **state) {
  /* The peer's Close still ends the connection when the reply cannot be
   * allocated; the server then closes TCP at once. */
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct bytes in = {0};
  struct log l = {0};

  (void)state;
  t.fail_at = t.allocs + 1;
  put_close_to(&in, S, 1000, "x");
  feed(c, in.p, in.len, 0, &l);
  assert_string_equal(log_str(&l), "CLOSE 1000:x;");
  assert_int_equal(wsv_conn_output_size(c), 0);
  assert_int_equal(wsv_conn_state(c), WSV_CONN_CLOSED);
  assert_true(wsv_conn_want_close_socket(c));
  assert_int_equal(wsv_conn_close(c, 1000, NULL, 0), WSV_ERR_CLOSED);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_code_boundaries),
      cmocka_unit_test(test_exact_replies),
      cmocka_unit_test(test_bad_close_payloads),
      cmocka_unit_test(test_server_initiated),
      cmocka_unit_test(test_client_initiated),
      cmocka_unit_test(test_simultaneous),
      cmocka_unit_test(test_input_after_close),
      cmocka_unit_test(test_error_after_our_close),
      cmocka_unit_test(test_close_api),
      cmocka_unit_test(test_close_during_fragments),
      cmocka_unit_test(test_close_reply_nomem),
  };
  if (getenv("WSV_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("WSV_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
