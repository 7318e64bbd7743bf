/*
 * conn_test.c - the connection state machine (src/conn.c): RFC 6455 §5.7
 * examples through a connection, a table of accepted and rejected inputs
 * run in both roles, both delivery modes and every chunk size (each chunk
 * right before a PROT_NONE page), fragmentation and UTF-8 rules, ping/pong,
 * output batching and limits, masking keys, allocation failure at every N.
 * The closing handshake has its own file (close_test.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/conn_util.h"

#define S WSV_ROLE_SERVER
#define C WSV_ROLE_CLIENT

/* ---- the table ----------------------------------------------------------- */

/* Input as the CLIENT receives it (unmasked); the server gets the same
 * frames masked with KEY.  `log` is what the application sees, `out` what
 * the connection answers (decoded by a peer). */
struct tcase {
  const char *name;
  const char *in;
  size_t len;
  const char *log;
  const char *out;
};

#define IN(s) s, sizeof(s) - 1

static const struct tcase cases[] = {
    /* RFC 6455 §5.7 and basics. */
    {"hello", IN("\x81\x05Hello"), "TEXT:Hello;", ""},
    {"fragmented", IN("\x01\x03Hel\x80\x02lo"), "TEXT:Hello;", ""},
    {"ping", IN("\x89\x05Hello"), "PING:Hello;", "PONG:Hello;"},
    {"C14 empty then next", IN("\x82\x00\x81\x02hi"), "BINARY:;TEXT:hi;", ""},
    {"empty fragments", IN("\x01\x00\x00\x00\x80\x00"), "TEXT:;", ""},
    {"two messages", IN("\x81\x01\x61\x82\x01\x62"), "TEXT:a;BINARY:b;", ""},
    /* D3: control frames between fragments. */
    {"D3 ping between", IN("\x01\x03Hel\x89\x02hi\x80\x02lo"),
     "PING:hi;TEXT:Hello;", "PONG:hi;"},
    {"D3 pong between", IN("\x02\x01\x01\x8a\x00\x00\x01\x02\x80\x00"),
     "PONG:;BINARY:\\x01\\x02;", ""},
    {"D3 close between", IN("\x01\x03Hel\x88\x02\x03\xe8\x80\x02lo"),
     "CLOSE 1000:;", "CLOSE 1000:;"},
    /* C3-C10: framing. */
    {"C3 rsv1", IN("\xc1\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C4 rsv2", IN("\xa2\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C4 rsv3", IN("\x92\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C5 op3", IN("\x83\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C5 op7", IN("\x87\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C6 opB", IN("\x8b\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C6 opF", IN("\x8f\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C7 msb", IN("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01"),
     "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"C8 huge", IN("\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xfc"),
     "ERROR TOO_BIG 1009;", "CLOSE 1009:;"},
    {"C9 1GiB",
     IN("\x82\x7f\x00\x00\x00\x00\x40\x00\x00\x00"
        "abc"),
     "ERROR TOO_BIG 1009;", "CLOSE 1009:;"},
    {"C10 126 form", IN("\x82\x7e\x00\x05hello"), "ERROR PROTOCOL 1002;",
     "CLOSE 1002:;"},
    {"C10 127 form", IN("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\xc8"),
     "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"error after message", IN("\x81\x02hi\xc1\x00"),
     "TEXT:hi;ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    /* D1, D2, D4: fragmentation. */
    {"D1 cont fin", IN("\x80\x02lo"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"D1 cont", IN("\x00\x02lo"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"D1 after whole", IN("\x81\x01\x61\x80\x01\x62"),
     "TEXT:a;ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"D2 text in text", IN("\x01\x03Hel\x81\x02lo"), "ERROR PROTOCOL 1002;",
     "CLOSE 1002:;"},
    {"D2 binary in text", IN("\x01\x03Hel\x02\x02lo"), "ERROR PROTOCOL 1002;",
     "CLOSE 1002:;"},
    {"D4 ping no fin", IN("\x09\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"D4 close no fin", IN("\x08\x00"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    /* E1-E5: UTF-8. */
    {"E1 overlong 2", IN("\x81\x02\xc0\xaf"), "ERROR UTF8 1007;",
     "CLOSE 1007:;"},
    {"E1 overlong 3", IN("\x81\x03\xe0\x80\xaf"), "ERROR UTF8 1007;",
     "CLOSE 1007:;"},
    {"E1 surrogate", IN("\x81\x03\xed\xa0\x80"), "ERROR UTF8 1007;",
     "CLOSE 1007:;"},
    {"E1 > U+10FFFF", IN("\x81\x04\xf4\x90\x80\x80"), "ERROR UTF8 1007;",
     "CLOSE 1007:;"},
    {"E1 fe", IN("\x81\x01\xfe"), "ERROR UTF8 1007;", "CLOSE 1007:;"},
    {"E1 ff", IN("\x81\x01\xff"), "ERROR UTF8 1007;", "CLOSE 1007:;"},
    {"E1 lone 80", IN("\x81\x01\x80"), "ERROR UTF8 1007;", "CLOSE 1007:;"},
    {"E1 truncated", IN("\x81\x01\xce"), "ERROR UTF8 1007;", "CLOSE 1007:;"},
    {"E7 ascii for cont", IN("\x81\x02\xce\x41"), "ERROR UTF8 1007;",
     "CLOSE 1007:;"},
    {"E3 across fragments", IN("\x01\x02\xce\xba\x00\x01\xf4\x80\x02\x90\x80"),
     "ERROR UTF8 1007;", "CLOSE 1007:;"},
    {"E4 final mid code point", IN("\x01\x02\xce\xba\x80\x01\xe1"),
     "ERROR UTF8 1007;", "CLOSE 1007:;"},
    {"E2 split 4-byte", IN("\x01\x01\xf0\x00\x01\x9f\x00\x01\x98\x80\x01\x80"),
     "TEXT:\\xf0\\x9f\\x98\\x80;", ""},
    {"E5 U+FFFF", IN("\x81\x03\xef\xbf\xbf"), "TEXT:\\xef\\xbf\\xbf;", ""},
    {"E5 BOM", IN("\x81\x03\xef\xbb\xbf"), "TEXT:\\xef\\xbb\\xbf;", ""},
    {"E5 NUL", IN("\x81\x01\x00"), "TEXT:\\x00;", ""},
    {"binary not checked", IN("\x82\x02\xc0\xaf"), "BINARY:\\xc0\\xaf;", ""},
    /* F: control frames. */
    {"F1 ping 126", IN("\x89\x7e\x00\x7e"), "ERROR PROTOCOL 1002;",
     "CLOSE 1002:;"},
    {"F2 empty ping", IN("\x89\x00"), "PING:;", "PONG:;"},
    {"F2 binary ping", IN("\x89\x03\x00\xff\x80"), "PING:\\x00\\xff\\x80;",
     "PONG:\\x00\\xff\\x80;"},
    {"F3 unsolicited pong", IN("\x8a\x02hi"), "PONG:hi;", ""},
    {"F4 two pings two pongs", IN("\x89\x01\x61\x89\x01\x62"), "PING:a;PING:b;",
     "PONG:a;PONG:b;"},
    /* Autobahn 2.10/2.11: ten pings in one read, each answered in order. */
    {"F4 ten pings ten pongs",
     IN("\x89\x01\x30\x89\x01\x31\x89\x01\x32\x89\x01\x33\x89\x01\x34"
        "\x89\x01\x35\x89\x01\x36\x89\x01\x37\x89\x01\x38\x89\x02\x39\x39"),
     "PING:0;PING:1;PING:2;PING:3;PING:4;PING:5;PING:6;PING:7;PING:8;PING:99;",
     "PONG:0;PONG:1;PONG:2;PONG:3;PONG:4;PONG:5;PONG:6;PONG:7;PONG:8;PONG:99;"},
    {"F4 pongs between fragments",
     IN("\x01\x01H\x89\x01\x61\x00\x01i\x89\x00\x89\x01\x62\x80\x00"),
     "PING:a;PING:;PING:b;TEXT:Hi;", "PONG:a;PONG:;PONG:b;"},
    {"F5 ping after close", IN("\x88\x00\x89\x00"), "CLOSE 1005:;",
     "CLOSE 1005:;"},
    /* G: close. */
    {"G1 empty close", IN("\x88\x00"), "CLOSE 1005:;", "CLOSE 1005:;"},
    {"G2 1-byte close", IN("\x88\x01\x03"), "ERROR PROTOCOL 1002;",
     "CLOSE 1002:;"},
    {"G4 999", IN("\x88\x02\x03\xe7"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"G5 1015", IN("\x88\x02\x03\xf7"), "ERROR PROTOCOL 1002;", "CLOSE 1002:;"},
    {"G6 1000 + reason",
     IN("\x88\x05\x03\xe8"
        "bye"),
     "CLOSE 1000:bye;", "CLOSE 1000:;"},
    {"G7 bad reason", IN("\x88\x04\x03\xe8\xff\xfe"), "ERROR UTF8 1007;",
     "CLOSE 1007:;"},
    {"G8 data after close", IN("\x88\x00\x81\x02hi\x89\x00\x01\x01\x61"),
     "CLOSE 1005:;", "CLOSE 1005:;"},
    {"G8 garbage after close", IN("\x88\x02\x0b\xb8\xff\xff\xff"),
     "CLOSE 3000:;", "CLOSE 3000:;"},
};

static void run_case(const struct tcase *t, int role, int stream,
                     const uint8_t *in, size_t len, size_t chunk) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(role, stream, &r, NULL);
  struct log l = {0};
  const char *out;
  int failed;

  l.check_views = stream;
  feed(c, in, len, chunk, &l);
  if (strcmp(log_str(&l), t->log) != 0)
    fail_msg("%s (role %d, stream %d, chunk %zu): log \"%s\", want \"%s\"",
             t->name, role, stream, chunk, log_str(&l), t->log);
  failed = strstr(t->log, "ERROR") != NULL;
  assert_int_equal(wsv_conn_state(c) == WSV_CONN_FAILED, failed);
  out = output_str(c, role);
  if (strcmp(out, t->out) != 0)
    fail_msg("%s (role %d, stream %d, chunk %zu): output \"%s\", want "
             "\"%s\"",
             t->name, role, stream, chunk, out, t->out);
  if (failed)
    assert_true(wsv_conn_want_close_socket(c));
  log_free(&l);
  wsv_conn_free(c);
}

static void test_table(void **state) {
  struct bytes masked;
  size_t i, chunk;
  int stream;

  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct tcase *t = &cases[i];
    memset(&masked, 0, sizeof masked);
    mask_stream((const uint8_t *)t->in, t->len, &masked);
    for (stream = 0; stream <= 1; stream++) {
      for (chunk = 0; chunk <= t->len; chunk++) {
        run_case(t, C, stream, (const uint8_t *)t->in, t->len, chunk);
        run_case(t, S, stream, masked.p, masked.len, chunk);
      }
    }
    b_free(&masked);
  }
}

/* ---- RFC 6455 §5.7 through a connection --------------------------------- */

static void test_rfc_receive_views(void **state) {
  static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct wsv_event ev;
  uint8_t *g = guard_copy(masked, sizeof masked);

  (void)state;
  assert_int_equal(wsv_conn_recv(c, g, sizeof masked), WSV_OK);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_TEXT);
  /* Zero copy: unmasked in place, the event points into our buffer. */
  assert_ptr_equal(ev.data, g + 6);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(g + 6, "Hello", 5);
  assert_true(ev.first && ev.last);
  assert_int_equal(ev.opcode, WSV_OP_TEXT);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
  guard_free(g, sizeof masked);
  wsv_conn_free(c);
}

static void test_rfc_stream_fragments(void **state) {
  static const uint8_t frags[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                  0x80, 0x02, 0x6c, 0x6f};
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(C, 1, &r, NULL);
  struct wsv_event ev;
  uint8_t buf[sizeof frags];

  (void)state;
  memcpy(buf, frags, sizeof buf);
  assert_int_equal(wsv_conn_recv(c, buf, sizeof buf), WSV_OK);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_TEXT);
  assert_true(ev.first && !ev.last && ev.len == 3 && ev.data == buf + 2);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_TEXT);
  assert_true(!ev.first && ev.last && ev.len == 2 && ev.data == buf + 7);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
  wsv_conn_free(c);
}

static void check_output(struct wsv_conn *c, const void *want, size_t n) {
  struct bytes out = {0};

  drain(c, &out);
  assert_int_equal(out.len, n);
  assert_memory_equal(out.p, want, n);
  b_free(&out);
}

static void test_rfc_pongs(void **state) {
  static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  static const uint8_t mpong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                  0x7f, 0x9f, 0x4d, 0x51, 0x58};
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct log l = {0};
  struct bytes m = {0};

  (void)state;
  /* A client answers the unmasked ping with the RFC's masked pong. */
  feed(c, ping, sizeof ping, 0, &l);
  assert_string_equal(log_str(&l), "PING:Hello;");
  check_output(c, mpong, sizeof mpong);
  wsv_conn_free(c);
  log_free(&l);
  /* A server answers a masked ping with an unmasked pong. */
  c = mkconn(S, 0, &r, NULL);
  mask_stream(ping, sizeof ping, &m);
  feed(c, m.p, m.len, 0, &l);
  check_output(c, "\x8a\x05Hello", 7);
  wsv_conn_free(c);
  log_free(&l);
  b_free(&m);
}

static void test_rfc_send(void **state) {
  static const uint8_t mhello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
  static const uint8_t h256[] = {0x82, 0x7e, 0x01, 0x00};
  static const uint8_t h64k[] = {0x82, 0x7f, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x01, 0x00, 0x00};
  struct rnd r = {0, 0, 0};
  struct wsv_conn *s = mkconn(S, 0, &r, NULL);
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct bytes out = {0};
  uint8_t *big = calloc(65536, 1);

  (void)state;
  assert_non_null(big);
  assert_int_equal(wsv_conn_send(s, WSV_OP_TEXT, "Hello", 5), WSV_OK);
  check_output(s, "\x81\x05Hello", 7);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "Hello", 5), WSV_OK);
  check_output(c, mhello, sizeof mhello);
  assert_int_equal(wsv_conn_send_fragment(s, WSV_OP_TEXT, "Hel", 3, 0), WSV_OK);
  assert_int_equal(wsv_conn_send_fragment(s, WSV_OP_CONT, "lo", 2, 1), WSV_OK);
  check_output(s, "\x01\x03Hel\x80\x02lo", 9);
  assert_int_equal(wsv_conn_ping(s, "Hello", 5), WSV_OK);
  check_output(s, "\x89\x05Hello", 7);
  assert_int_equal(wsv_conn_send(s, WSV_OP_BINARY, big, 256), WSV_OK);
  drain(s, &out);
  assert_int_equal(out.len, 4 + 256);
  assert_memory_equal(out.p, h256, 4);
  out.len = 0;
  assert_int_equal(wsv_conn_send(s, WSV_OP_BINARY, big, 65536), WSV_OK);
  drain(s, &out);
  assert_int_equal(out.len, 10 + 65536);
  assert_memory_equal(out.p, h64k, 10);
  assert_memory_equal(out.p + 10, big, 65536);
  b_free(&out);
  free(big);
  wsv_conn_free(s);
  wsv_conn_free(c);
}

/* ---- round trips: lengths, chunkings (C11, C12) -------------------------- */

/* Send `len` bytes from one role to the other and check what arrives,
 * feeding the wire bytes in `chunk`-byte pieces. */
static void roundtrip(int from, int op, size_t len, size_t chunk, int stream) {
  struct rnd r = {1, 0, 0};
  struct wsv_conn *a = mkconn(from, 0, &r, NULL);
  struct wsv_conn *b = mkconn(from == S ? C : S, stream, &r, NULL);
  struct bytes wire = {0};
  struct log l = {0}, want = {0};
  struct wsv_event ev;
  uint8_t *msg = malloc(len + 1);
  size_t i;

  assert_non_null(msg);
  for (i = 0; i < len; i++)
    msg[i] = (uint8_t)(op == WSV_OP_TEXT ? 'a' + i % 26 : i * 31u);
  assert_int_equal(wsv_conn_send(a, op, msg, len), WSV_OK);
  drain(a, &wire);
  assert_int_equal(wire.len, len + wsv_frame_header_size(len, from == C));
  l.check_views = stream;
  /* Thousands of tiny chunks: malloc'd copies (ASan still checks them)
   * instead of a guard page each. */
  l.no_guard = len > 1000 && chunk > 0 && chunk < 997;
  feed(b, wire.p, wire.len, chunk, &l);
  memset(&ev, 0, sizeof ev);
  ev.type = op == WSV_OP_TEXT ? WSV_EV_TEXT : WSV_EV_BINARY;
  ev.opcode = op;
  ev.first = ev.last = 1;
  ev.data = msg;
  ev.len = len;
  log_event(&want, &ev);
  assert_string_equal(log_str(&l), log_str(&want));
  if (!stream)
    assert_int_equal(l.pieces, 1);
  log_free(&l);
  log_free(&want);
  b_free(&wire);
  free(msg);
  wsv_conn_free(a);
  wsv_conn_free(b);
}

static void test_lengths(void **state) {
  static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 65537};
  static const size_t chunks[] = {0, 1, 2, 3, 5, 7, 13, 997, 4096};
  size_t i, j;
  int stream, from;

  (void)state;
  for (i = 0; i < sizeof lens / sizeof lens[0]; i++)
    for (j = 0; j < sizeof chunks / sizeof chunks[0]; j++)
      for (stream = 0; stream <= 1; stream++)
        for (from = S; from <= C; from++) {
          /* Tiny chunks of the 64 KiB messages cost a guard page each:
           * run those in one combination per role only. */
          if (lens[i] > 1000 && chunks[j] > 0 && chunks[j] < 997 &&
              stream != (from == S))
            continue;
          roundtrip(from, WSV_OP_BINARY, lens[i], chunks[j], stream);
          roundtrip(from, WSV_OP_TEXT, lens[i], chunks[j], stream);
        }
}

static void test_every_split_small(void **state) {
  size_t len, chunk;

  (void)state;
  for (len = 0; len <= 130; len += 13)
    for (chunk = 1; chunk <= len + 14; chunk++) {
      roundtrip(C, WSV_OP_TEXT, len, chunk, 0);
      roundtrip(C, WSV_OP_BINARY, len, chunk, 1);
      roundtrip(S, WSV_OP_TEXT, len, chunk, 1);
    }
}

/* ---- zero copy and copies ------------------------------------------------ */

static void test_split_unfragmented(void **state) {
  /* One masked 10-byte frame whose payload is split across two reads. */
  struct rnd r = {0, 0, 0};
  struct bytes m = {0};
  struct wsv_conn *c;
  struct wsv_event ev;
  uint8_t *buf;
  int stream;

  (void)state;
  put_frame(&m, 0x82, "0123456789", 10, 1);
  buf = malloc(m.len);
  assert_non_null(buf);
  for (stream = 0; stream <= 1; stream++) {
    memcpy(buf, m.p, m.len);
    c = mkconn(S, stream, &r, NULL);
    assert_int_equal(wsv_conn_recv(c, buf, 9), WSV_OK); /* 6 + 3 bytes */
    if (stream) {
      assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_BINARY);
      assert_true(ev.first && !ev.last && ev.len == 3 && ev.data == buf + 6);
      assert_memory_equal(ev.data, "012", 3);
    }
    assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
    assert_int_equal(wsv_conn_recv(c, buf + 9, m.len - 9), WSV_OK);
    assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_BINARY);
    assert_true(ev.last);
    if (stream) {
      assert_true(!ev.first && ev.len == 7 && ev.data == buf + 9);
      assert_memory_equal(ev.data, "3456789", 7);
    } else {
      /* Assembled: a copy, not a view into either read. */
      assert_true(ev.first && ev.len == 10);
      assert_true(ev.data < buf || ev.data >= buf + m.len);
      assert_memory_equal(ev.data, "0123456789", 10);
    }
    assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
    wsv_conn_free(c);
  }
  free(buf);
  b_free(&m);
}

static void test_recv_rules(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct wsv_event ev;
  uint8_t two[] = {0x81, 0x01, 'a', 0x81, 0x01, 'b'};

  (void)state;
  assert_int_equal(wsv_conn_recv(c, two, sizeof two), WSV_OK);
  /* The buffer is still in use: a second one is refused. */
  assert_int_equal(wsv_conn_recv(c, two, sizeof two), WSV_ERR_STATE);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_TEXT);
  assert_int_equal(wsv_conn_recv(c, two, sizeof two), WSV_ERR_STATE);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_TEXT);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
  assert_int_equal(wsv_conn_recv(c, NULL, 0), WSV_OK);
  assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
  assert_int_equal(wsv_conn_recv(c, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_recv(NULL, two, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_next_event(c, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_next_event(NULL, &ev), WSV_ERR_INVAL);
  wsv_conn_free(c);
}

static void test_config(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = (struct wsv_conn *)&cfg;

  (void)state;
  wsv_conn_config_init(&cfg);
  assert_true(cfg.max_frame == (UINT64_C(16) << 20));
  assert_true(cfg.max_message == (UINT64_C(16) << 20));
  assert_int_equal(cfg.max_fragments, 1u << 20);
  assert_int_equal(cfg.max_output, ((size_t)16 << 20) + 65536);
  assert_int_equal(cfg.auto_pong, 1);
  assert_int_equal(cfg.max_pending_pongs, 16);
  assert_int_equal(cfg.stream, 0);
  assert_int_equal(cfg.rsv_allowed, 0);
  assert_true(cfg.random == wsv_random_os);
  assert_int_equal(wsv_conn_new(&c, 0, &cfg, NULL), WSV_ERR_INVAL);
  assert_null(c);
  assert_int_equal(wsv_conn_new(&c, 3, &cfg, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_new(NULL, S, &cfg, NULL), WSV_ERR_INVAL);
  cfg.max_message = 0;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  wsv_conn_config_init(&cfg);
  cfg.max_fragments = 0;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  wsv_conn_config_init(&cfg);
  cfg.rsv_allowed = 0x80;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  wsv_conn_config_init(&cfg);
  cfg.max_pending_pongs = 0;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  cfg.max_pending_pongs = WSV_CONN_MAX_PENDING_PONGS_LIMIT + 1;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  cfg.max_pending_pongs = WSV_CONN_MAX_PENDING_PONGS_LIMIT;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  wsv_conn_free(c);
  assert_int_equal(wsv_conn_new(&c, S, NULL, NULL), WSV_OK);
  assert_int_equal(wsv_conn_state(c), WSV_CONN_OPEN);
  assert_true(wsv_conn_want_read(c));
  assert_false(wsv_conn_want_write(c));
  assert_false(wsv_conn_want_close_socket(c));
  wsv_conn_free(c);
  wsv_conn_free(NULL);
}

/* ---- limits: D5, D6, D7, C9 ---------------------------------------------- */

/* A stream: a first frame (op, payload 1 byte or none) and `n`
 * continuation frames without FIN, masked for a server. */
static void fragment_bomb(struct bytes *b, size_t n, size_t each) {
  size_t i;

  put_frame(b, WSV_OP_TEXT, "aaaa", each, 1);
  for (i = 0; i < n; i++)
    put_frame(b, WSV_OP_CONT, "aaaa", each, 1);
}

static void test_fragment_bomb(void **state) {
  size_t each;
  int stream;

  (void)state;
  for (each = 0; each <= 1; each++) {
    for (stream = 0; stream <= 1; stream++) {
      struct ta t;
      struct wsv_mem m = ta_mem(&t);
      struct rnd r = {0, 0, 0};
      struct wsv_conn *c = mkconn(S, stream, &r, &m);
      struct bytes b = {0};
      struct log l = {0};

      fragment_bomb(&b, WSV_CONN_DEFAULT_MAX_FRAGMENTS + 100, each);
      feed(c, b.p, b.len, 0, &l);
      /* 2^20 frames are allowed, the next one fails with 1008. */
      assert_string_equal(log_str(&l), "ERROR POLICY 1008;");
      assert_int_equal(l.pieces,
                       stream && each ? (int)WSV_CONN_DEFAULT_MAX_FRAGMENTS : 0);
      /* Bound: the message buffer never passed 1 MiB of payload. */
      assert_true(t.peak < 2 * WSV_CONN_DEFAULT_MAX_FRAGMENTS + 4096);
      assert_string_equal(output_str(c, S), "CLOSE 1008:;");
      wsv_conn_free(c);
      assert_int_equal(t.live, 0);
      log_free(&l);
      b_free(&b);
    }
  }
}

static void test_fragment_cap_exact(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct bytes b = {0};
  struct log l = {0};
  struct rnd r = {0, 0, 0};

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.max_fragments = 3;
  cfg.random = rnd_fn;
  cfg.random_user = &r;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  put_frame(&b, 0x01, "a", 1, 1);
  put_frame(&b, 0x00, "b", 1, 1);
  put_frame(&b, 0x80, "c", 1, 1);
  put_frame(&b, 0x01, "a", 1, 1);
  put_frame(&b, 0x00, "b", 1, 1);
  put_frame(&b, 0x00, "c", 1, 1);
  put_frame(&b, 0x80, "d", 1, 1);
  feed(c, b.p, b.len, 0, &l);
  assert_string_equal(log_str(&l), "TEXT:abc;ERROR POLICY 1008;");
  log_free(&l);
  b_free(&b);
  wsv_conn_free(c);
}

static void test_fragments_default(void **state) {
  /* Autobahn 9.3.1/9.4.1: 4 MiB in 64-byte fragments is 65,536 frames,
   * well inside the default cap; here 70,000 one-byte fragments. */
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes b = {0};
  struct log l = {0};
  int i;

  (void)state;
  put_frame(&b, 0x01, "x", 1, 1);
  for (i = 1; i < 69999; i++)
    put_frame(&b, 0x00, "x", 1, 1);
  put_frame(&b, 0x80, "x", 1, 1);
  feed(c, b.p, b.len, 0, &l);
  assert_int_equal(l.events, 1);
  /* (the log abbreviates long messages: count*byte) */
  assert_string_equal(log_str(&l), "TEXT:<70000*78>;");
  log_free(&l);
  b_free(&b);
  wsv_conn_free(c);
}

static void test_message_limit(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct bytes b = {0};
  struct log l = {0};
  struct rnd r = {0, 0, 0};
  char p[150];
  int i, stream;

  (void)state;
  memset(p, 'x', sizeof p);
  for (stream = 0; stream <= 1; stream++) {
    wsv_conn_config_init(&cfg);
    cfg.max_message = 1000;
    cfg.stream = stream;
    cfg.random = rnd_fn;
    cfg.random_user = &r;
    /* Exactly at the limit: accepted (6 x 150 + 100). */
    assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
    for (i = 0; i < 6; i++)
      put_frame(&b, i == 0 ? 0x02 : 0x00, p, 150, 1);
    put_frame(&b, 0x80, p, 100, 1);
    feed(c, b.p, b.len, 7, &l);
    assert_string_equal(log_str(&l), "BINARY:<1000*78>;");
    log_free(&l);
    b.len = 0;
    wsv_conn_free(c);
    /* D7: one byte over, caught at the 7th header before its payload. */
    assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
    for (i = 0; i < 6; i++)
      put_frame(&b, i == 0 ? 0x02 : 0x00, p, 150, 1);
    put_frame(&b, 0x80, p, 101, 1);
    feed(c, b.p, 6 * 158 + 6, 0, &l); /* header of the 7th, no payload */
    assert_string_equal(log_str(&l), "ERROR TOO_BIG 1009;");
    assert_int_equal(l.pieces, stream ? 6 : 0);
    log_free(&l);
    b.len = 0;
    wsv_conn_free(c);
    /* An unfragmented message over the limit but under max_frame. */
    assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
    put_frame(&b, 0x82, p, 0, 1);
    b.p[1] = 0x80 | 126;
    b.len = 2;
    b_put(&b, "\x03\xe9", 2); /* 1001 */
    b_put(&b, KEY, 4);
    feed(c, b.p, b.len, 1, &l);
    assert_string_equal(log_str(&l), "ERROR TOO_BIG 1009;");
    log_free(&l);
    b.len = 0;
    wsv_conn_free(c);
  }
  b_free(&b);
}

static void test_frame_limit(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct bytes b = {0};
  struct log l = {0};
  struct rnd r = {0, 0, 0};
  char p[200];

  (void)state;
  memset(p, 'y', sizeof p);
  wsv_conn_config_init(&cfg);
  cfg.max_frame = 126;
  cfg.random = rnd_fn;
  cfg.random_user = &r;
  assert_int_equal(wsv_conn_new(&c, C, &cfg, NULL), WSV_OK);
  put_frame(&b, 0x02, p, 126, 0);
  put_frame(&b, 0x80, p, 126, 0);
  put_frame(&b, 0x82, p, 127, 0);
  feed(c, b.p, b.len, 0, &l);
  assert_string_equal(log_str(&l), "BINARY:<252*79>;ERROR TOO_BIG 1009;");
  log_free(&l);
  b_free(&b);
  wsv_conn_free(c);
}

static void test_no_prealloc(void **state) {
  /* C9: a 1 MiB frame announced (within limits), 3 bytes sent: memory
   * grows with what arrives, not with what was announced. */
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(C, 0, &r, &m);
  static const uint8_t in[] = {0x82, 0x7f, 0, 0,   0,   0,  0,
                               0x10, 0,    0, 'a', 'b', 'c'};
  struct log l = {0};

  (void)state;
  feed(c, in, sizeof in, 0, &l);
  assert_string_equal(log_str(&l), "");
  assert_true(t.peak < 4096);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  log_free(&l);
}

/* ---- UTF-8 fail-fast (E3) ------------------------------------------------ */

static void test_utf8_fail_fast(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c;
  struct bytes b = {0};
  struct log l = {0};
  char p[100];

  (void)state;
  /* Within one frame: the bad byte arrives in the first read; the
   * connection fails then, without waiting for the other 90 bytes. */
  memset(p, 'a', sizeof p);
  p[3] = (char)0xff;
  put_frame(&b, 0x81, p, sizeof p, 1);
  c = mkconn(S, 1, &r, NULL);
  l.check_views = 1;
  feed(c, b.p, 8 + 10, 0, &l);
  assert_string_equal(log_str(&l), "ERROR UTF8 1007;");
  assert_int_equal(l.pieces, 0); /* "aaa" before it is not delivered */
  wsv_conn_free(c);
  log_free(&l);
  b.len = 0;
  /* Across fragments (stream mode): the first piece is delivered, the
   * second fails on arrival, before any FIN. */
  put_frame(&b, 0x01, "ab\xf0\x9f", 4, 1);
  put_frame(&b, 0x00, "\x28zz", 3, 1);
  c = mkconn(S, 1, &r, NULL);
  feed(c, b.p, b.len, 0, &l);
  assert_string_equal(log_str(&l), "ERROR UTF8 1007;");
  assert_int_equal(l.pieces, 1);
  wsv_conn_free(c);
  log_free(&l);
  b_free(&b);
}

static void test_utf8_split_every_offset(void **state) {
  /* E2: every code point length, split at every offset into 1-4
   * fragments, both modes. */
  static const char *cps[] = {"\x24", "\xc2\xa2", "\xe2\x82\xac",
                              "\xf0\x90\x8d\x88"};
  struct rnd r = {0, 0, 0};
  size_t k, a, bb, n;
  int stream;

  (void)state;
  for (k = 0; k < 4; k++) {
    n = strlen(cps[k]);
    for (a = 0; a <= n; a++) {
      for (bb = a; bb <= n; bb++) {
        for (stream = 0; stream <= 1; stream++) {
          struct bytes b = {0};
          struct log l = {0}, want = {0};
          struct wsv_conn *c = mkconn(C, stream, &r, NULL);
          put_frame(&b, 0x01, cps[k], a, 0);
          put_frame(&b, 0x00, cps[k] + a, bb - a, 0);
          put_frame(&b, 0x80, cps[k] + bb, n - bb, 0);
          feed(c, b.p, b.len, 1, &l);
          log_puts(&want, "TEXT:", 5);
          log_data(&want, (const uint8_t *)cps[k], n);
          log_puts(&want, ";", 1);
          assert_string_equal(log_str(&l), log_str(&want));
          wsv_conn_free(c);
          log_free(&l);
          log_free(&want);
          b_free(&b);
        }
      }
    }
  }
}

/* ---- ping/pong (F2, F4, auto_pong) --------------------------------------- */

static void test_ping_125(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0}, want = {0};
  struct log l = {0};
  uint8_t p[125];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof p; i++)
    p[i] = (uint8_t)(255 - i);
  put_frame(&in, 0x89, p, 125, 1);
  feed(c, in.p, in.len, 1, &l); /* split: gathered in the control buffer */
  put_frame(&want, 0x8a, p, 125, 0);
  check_output(c, want.p, want.len);
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&want);
}

/* `n` pings "p00", "p01", ... as the CLIENT receives them, or masked for
 * a server. */
static void ping_run(struct bytes *b, int n, int masked) {
  char p[16];
  int i;

  assert_true(n <= 100);
  for (i = 0; i < n; i++) {
    snprintf(p, sizeof p, "p%02d", i);
    put_frame(b, 0x89, p, 3, masked);
  }
}

/* What a peer decodes from `n` pongs "pNN" for the pings in `idx`. */
static const char *pong_log(const int *idx, int n) {
  static char buf[1024];
  size_t off = 0;
  int i;

  buf[0] = '\0';
  for (i = 0; i < n; i++)
    off += (size_t)snprintf(buf + off, sizeof buf - off, "PONG:p%02d;", idx[i]);
  return buf;
}

static void test_ping_bound(void **state) {
  /* F4: bound + 5 pings in one recv, nothing written: exactly bound
   * pongs, the first bound - 1 for the first pings, the last for the
   * newest, whole and split at every byte, both roles and modes. */
  const int bound = (int)WSV_CONN_DEFAULT_MAX_PENDING_PONGS, n = bound + 5;
  struct bytes in[2] = {{0}, {0}};
  int want[64], i, role, stream;
  size_t chunk;
  char logw[1024];

  (void)state;
  assert_true(n < 64);
  ping_run(&in[0], n, 0);
  ping_run(&in[1], n, 1);
  logw[0] = '\0';
  for (i = 0; i < n; i++)
    snprintf(logw + strlen(logw), sizeof logw - strlen(logw), "PING:p%02d;", i);
  for (i = 0; i < bound - 1; i++)
    want[i] = i;
  want[bound - 1] = n - 1;
  for (role = S; role <= C; role++) {
    const struct bytes *b = &in[role == S];
    for (stream = 0; stream <= 1; stream++) {
      for (chunk = 0; chunk <= b->len; chunk++) {
        struct rnd r = {1, 0, 0};
        struct wsv_conn *c = mkconn(role, stream, &r, NULL);
        struct log l = {0};

        feed(c, b->p, b->len, chunk, &l);
        assert_string_equal(log_str(&l), logw);
        assert_int_equal(wsv_conn_output_size(c),
                         (size_t)bound * (role == S ? 2 + 3 : 6 + 3));
        assert_string_equal(output_str(c, role), pong_log(want, bound));
        log_free(&l);
        wsv_conn_free(c);
      }
    }
  }
  b_free(&in[0]);
  b_free(&in[1]);
}

static void test_ping_bound_started(void **state) {
  /* A pong whose first byte is written is no longer unsent: the next ping
   * gets a pong of its own again, and only the newest unsent one is ever
   * replaced.  max_pending_pongs 1 is the old behaviour: one unsent pong. */
  const int bound = (int)WSV_CONN_DEFAULT_MAX_PENDING_PONGS;
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn_config cfg;
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct bytes in = {0}, out = {0};
  struct wsv_iovec iov[64];
  struct log l = {0};
  int want[64], i;

  (void)state;
  ping_run(&in, bound + 5, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_int_equal(wsv_conn_output(c, iov, 64), bound);
  b_put(&out, iov[0].base, 1);
  assert_int_equal(wsv_conn_consume_output(c, 1), WSV_OK);
  in.len = 0;
  put_frame(&in, 0x89, "p40", 3, 1); /* a pong of its own */
  put_frame(&in, 0x89, "p41", 3, 1); /* replaces p40's */
  feed(c, in.p, in.len, 0, &l);
  drain(c, &out);
  for (i = 0; i < bound - 1; i++)
    want[i] = i;
  want[bound - 1] = bound + 4;
  want[bound] = 41;
  {
    struct log d = {0};
    decode_output(S, &out, &d);
    assert_string_equal(log_str(&d), pong_log(want, bound + 1));
    log_free(&d);
  }
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  /* max_pending_pongs 1: 10000 pings while nothing is written, one pong
   * (the latest), in one block. */
  wsv_conn_config_init(&cfg);
  cfg.max_pending_pongs = 1;
  m = ta_mem(&t);
  assert_int_equal(wsv_conn_new(&c, S, &cfg, &m), WSV_OK);
  in.len = 0;
  for (i = 0; i < 10000; i++) {
    char p[16];
    snprintf(p, sizeof p, "ping%d", i);
    put_frame(&in, 0x89, p, strlen(p), 1);
  }
  log_free(&l);
  feed(c, in.p, in.len, 0, &l);
  assert_int_equal(l.events, 10000);
  assert_int_equal(wsv_conn_output_size(c), 2 + 8);
  assert_int_equal(t.live, 2);
  check_output(c, "\x8a\x08ping9999", 10);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
  b_free(&out);
}

static void test_ping_flood(void **state) {
  /* A million pings, 0..125-byte payloads, from a peer that never reads,
   * arriving in 64 KiB reads that split frames anywhere: the queued
   * output stays at bound pongs (<= 16 x 131 bytes), memory at the struct
   * plus bound pong blocks, and once bound pongs are queued no ping
   * allocates anything.  The last pong carries the newest ping. */
  const size_t bound = WSV_CONN_DEFAULT_MAX_PENDING_PONGS;
  const uint32_t total = 1000000, batch = 1000;
  int role;

  (void)state;
  for (role = S; role <= C; role++) {
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {1, 0, 0};
    struct wsv_conn *c = mkconn(role, 0, &r, &m);
    struct bytes in = {0}, out = {0};
    struct wsv_event ev;
    uint8_t p[125], *buf = malloc(65536);
    uint32_t i = 0, got = 0;
    long allocs = -1;
    size_t off, k, last_len = 0, max_out = 0;

    assert_non_null(buf);
    memset(p, 'x', sizeof p);
    while (i < total) {
      in.len = 0;
      for (k = 0; k < batch; k++, i++) {
        last_len = 4 + i % 122;
        memcpy(p, &i, 4);
        put_frame(&in, 0x89, p, last_len, role == S);
      }
      for (off = 0; off < in.len; off += k) {
        k = in.len - off < 65536 ? in.len - off : 65536;
        memcpy(buf, in.p + off, k);
        assert_int_equal(wsv_conn_recv(c, buf, k), WSV_OK);
        while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE) {
          assert_int_equal(ev.type, WSV_EV_PING);
          got++;
        }
        if (wsv_conn_output_size(c) > max_out)
          max_out = wsv_conn_output_size(c);
      }
      if (allocs < 0)
        allocs = t.allocs; /* bound pongs are queued by now */
    }
    assert_int_equal(got, total);
    assert_true(max_out <= bound * (6 + 125) && max_out < 4096);
    assert_int_equal(t.allocs, allocs);
    assert_true(t.peak < 4096);
    assert_int_equal(t.live, 1 + (long)bound);
    drain(c, &out);
    /* The last frame is the newest ping's pong. */
    i = total - 1;
    memcpy(p, &i, 4);
    {
      size_t h = role == S ? 2 : 6, flen = h + last_len, j;
      assert_true(out.len >= flen);
      assert_int_equal(out.p[out.len - flen], 0x8a);
      if (role == C)
        for (j = 0; j < last_len; j++)
          out.p[out.len - last_len + j] ^=
              out.p[out.len - 4 - last_len + (j & 3)];
      assert_memory_equal(out.p + out.len - last_len, p, last_len);
    }
    wsv_conn_free(c);
    assert_int_equal(t.live, 0);
    free(buf);
    b_free(&in);
    b_free(&out);
  }
}

/* Write exactly the first `n` bytes of the output into `out`. */
static void drain_n(struct wsv_conn *c, struct bytes *out, size_t n) {
  struct wsv_iovec iov[8];
  size_t left = n, k;
  int cnt, i;

  cnt = wsv_conn_output(c, iov, 8);
  for (i = 0; i < cnt && left > 0; i++) {
    k = iov[i].len < left ? iov[i].len : left;
    b_put(out, iov[i].base, k);
    left -= k;
  }
  assert_int_equal(left, 0);
  assert_int_equal(wsv_conn_consume_output(c, n), WSV_OK);
}

static void test_pongs_in_fragmented_send(void **state) {
  /* Pongs go between the frames of a message we send in pieces, also
   * while one of its frames is part-written, never inside a frame; past
   * the bound the newest unsent pong (before later fragments) is
   * replaced. */
  static uint8_t big[5000];
  int role;

  (void)state;
  memset(big, 'x', sizeof big);
  for (role = S; role <= C; role++) {
    struct rnd r = {1, 0, 0};
    struct wsv_conn_config cfg;
    struct wsv_conn *c = mkconn(role, 0, &r, NULL);
    struct bytes in = {0}, out = {0};
    struct wsv_iovec iov[8];
    struct log l = {0}, d = {0};
    size_t k;
    int masked = role == S;

    assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_TEXT, "Hel", 3, 0),
                     WSV_OK);
    put_frame(&in, 0x89, "a", 1, masked);
    feed(c, in.p, in.len, 0, &l);
    assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, big, sizeof big, 0),
                     WSV_OK);
    /* Write the first fragment, pong a and 100 bytes of the big one. */
    k = (role == S ? 5 + 3 + 100 : 9 + 7 + 100);
    assert_true(wsv_conn_output(c, iov, 8) >= 3);
    drain_n(c, &out, k);
    in.len = 0;
    put_frame(&in, 0x89, "b", 1, masked);
    feed(c, in.p, in.len, 1, &l);
    assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "lo", 2, 1),
                     WSV_OK);
    in.len = 0;
    put_frame(&in, 0x89, "c", 1, masked);
    feed(c, in.p, in.len, 0, &l);
    assert_string_equal(log_str(&l), "PING:a;PING:b;PING:c;");
    drain(c, &out);
    decode_output(role, &out, &d);
    assert_string_equal(log_str(&d),
                        "PONG:a;PONG:b;TEXT:Hel<5000*78>lo;PONG:c;");
    log_free(&d);
    log_free(&l);
    wsv_conn_free(c);
    /* Bound 2: a and b are answered, c and d replace b, which stays before
     * the fragments sent after it. */
    wsv_conn_config_init(&cfg);
    cfg.random = rnd_fn;
    cfg.random_user = &r;
    cfg.max_pending_pongs = 2;
    assert_int_equal(wsv_conn_new(&c, role, &cfg, NULL), WSV_OK);
    assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "1", 1, 0),
                     WSV_OK);
    in.len = 0;
    put_frame(&in, 0x89, "a", 1, masked);
    put_frame(&in, 0x89, "b", 1, masked);
    feed(c, in.p, in.len, 0, &l);
    assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "2", 1, 0), WSV_OK);
    in.len = 0;
    put_frame(&in, 0x89, "c", 1, masked);
    put_frame(&in, 0x89, "dd", 2, masked);
    feed(c, in.p, in.len, 1, &l);
    assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "3", 1, 1), WSV_OK);
    out.len = 0;
    drain(c, &out);
    decode_output(role, &out, &d);
    assert_string_equal(log_str(&d), "PONG:a;PONG:dd;BINARY:123;");
    /* The replaced pong sits right after the first fragment. */
    assert_int_equal(out.p[role == S ? 3 : 7], 0x8a);
    assert_int_equal(out.p[role == S ? 6 : 14], 0x8a);
    assert_int_equal(out.p[role == S ? 10 : 22], 0x00);
    log_free(&d);
    log_free(&l);
    wsv_conn_free(c);
    b_free(&in);
    b_free(&out);
  }
}

static void test_no_pong_after_close_sent(void **state) {
  /* Pongs queued before our Close go out before it; pings after it get
   * none (the peer may still send them before it sees our Close). */
  int role;

  (void)state;
  for (role = S; role <= C; role++) {
    struct rnd r = {1, 0, 0};
    struct wsv_conn *c = mkconn(role, 0, &r, NULL);
    struct bytes in = {0};
    struct log l = {0};

    put_frame(&in, 0x89, "a", 1, role == S);
    put_frame(&in, 0x89, "b", 1, role == S);
    feed(c, in.p, in.len, 0, &l);
    assert_int_equal(wsv_conn_close(c, 1000, NULL, 0), WSV_OK);
    in.len = 0;
    put_frame(&in, 0x89, "c", 1, role == S);
    put_frame(&in, 0x89, "d", 1, role == S);
    feed(c, in.p, in.len, 1, &l);
    assert_string_equal(log_str(&l), "PING:a;PING:b;PING:c;PING:d;");
    assert_string_equal(output_str(c, role), "PONG:a;PONG:b;CLOSE 1000:;");
    log_free(&l);
    wsv_conn_free(c);
    b_free(&in);
  }
}

static void test_pong_after_data(void **state) {
  /* A pong queued behind data keeps its place; data sent after it goes
   * after it, and the next ping gets a pong of its own after that. */
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0};
  struct log l = {0};

  (void)state;
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "a", 1), WSV_OK);
  put_frame(&in, 0x89, "1", 1, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "b", 1), WSV_OK);
  in.len = 0;
  put_frame(&in, 0x89, "2", 1, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "c", 1), WSV_OK);
  check_output(c,
               "\x81\x01"
               "a\x8a\x01"
               "1\x81\x01"
               "b\x8a\x01"
               "2\x81\x01"
               "c",
               15);
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
}

static void test_auto_pong_off(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct log l = {0};
  static const uint8_t ping[] = {0x89, 0x02, 'h', 'i'};

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.auto_pong = 0;
  assert_int_equal(wsv_conn_new(&c, C, &cfg, NULL), WSV_OK);
  feed(c, ping, sizeof ping, 0, &l);
  assert_string_equal(log_str(&l), "PING:hi;");
  assert_int_equal(wsv_conn_output_size(c), 0);
  assert_int_equal(wsv_conn_pong(c, "hi", 2), WSV_OK);
  assert_int_equal(wsv_conn_output_size(c), 2 + 4 + 2);
  assert_string_equal(output_str(c, C), "PONG:hi;");
  wsv_conn_free(c);
  log_free(&l);
}

/* ---- RSV (extensions) ---------------------------------------------------- */

static void test_rsv_allowed(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct log l = {0};
  static const uint8_t ok[] = {0x41, 0x01, 'a',  0x80, 0x01,
                               'b',  0xc2, 0x01, 'c'};
  static const uint8_t cont[] = {0x41, 0x01, 'a', 0xc0, 0x01, 'b'};
  static const uint8_t rsv2[] = {0xa1, 0x00};

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.rsv_allowed = WSV_RSV1;
  assert_int_equal(wsv_conn_new(&c, C, &cfg, NULL), WSV_OK);
  feed(c, ok, sizeof ok, 1, &l);
  assert_string_equal(log_str(&l), "TEXT rsv40:ab;BINARY rsv40:c;");
  wsv_conn_free(c);
  log_free(&l);
  /* RSV1 on a continuation (RFC 7692 §6.1) and RSV2 not allowed. */
  assert_int_equal(wsv_conn_new(&c, C, &cfg, NULL), WSV_OK);
  feed(c, cont, sizeof cont, 0, &l);
  assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
  wsv_conn_free(c);
  log_free(&l);
  assert_int_equal(wsv_conn_new(&c, C, &cfg, NULL), WSV_OK);
  feed(c, rsv2, sizeof rsv2, 0, &l);
  assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
  wsv_conn_free(c);
  log_free(&l);
}

/* ---- masking keys (C15), roles (C1, C2) ---------------------------------- */

static void test_client_fresh_masks(void **state) {
  struct rnd r = {1, 0, 0};
  struct wsv_conn *c = mkconn(C, 0, &r, NULL);
  struct bytes out = {0};
  uint8_t keys[1000][4];
  size_t off = 0, i, j;
  int k;

  (void)state;
  for (i = 0; i < 1000; i++) {
    if (i % 3 == 0)
      k = wsv_conn_send(c, WSV_OP_BINARY, "xyz", 3);
    else if (i % 3 == 1)
      k = wsv_conn_send(c, WSV_OP_TEXT, NULL, 0);
    else
      k = wsv_conn_ping(c, "p", 1);
    assert_int_equal(k, WSV_OK);
  }
  assert_int_equal(r.calls, 1000);
  drain(c, &out);
  for (i = 0; i < 1000; i++) {
    /* Every frame is masked, even an empty one, with its own key. */
    assert_true(out.p[off + 1] & 0x80);
    memcpy(keys[i], out.p + off + 2, 4);
    off += 6 + (size_t)(out.p[off + 1] & 0x7f);
  }
  assert_int_equal(off, out.len);
  for (i = 0; i < 1000; i++)
    for (j = i + 1; j < 1000; j++)
      assert_memory_not_equal(keys[i], keys[j], 4);
  /* The empty text frame: 81 80 + key. */
  assert_int_equal(out.p[9], 0x81);
  assert_int_equal(out.p[10], 0x80);
  /* The random source failing: nothing queued. */
  r.fail = 1;
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "a", 1), WSV_ERR_RANDOM);
  assert_int_equal(wsv_conn_ping(c, "a", 1), WSV_ERR_RANDOM);
  assert_int_equal(wsv_conn_close(c, 1000, NULL, 0), WSV_ERR_RANDOM);
  assert_int_equal(wsv_conn_output_size(c), 0);
  assert_int_equal(wsv_conn_state(c), WSV_CONN_OPEN);
  r.fail = 0;
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "a", 1), WSV_OK);
  b_free(&out);
  wsv_conn_free(c);
}

static void test_server_never_masks(void **state) {
  struct rnd r = {1, 0, 0};
  struct wsv_conn *s = mkconn(S, 0, &r, NULL);

  (void)state;
  assert_int_equal(wsv_conn_send(s, WSV_OP_BINARY, "abc", 3), WSV_OK);
  assert_int_equal(wsv_conn_ping(s, NULL, 0), WSV_OK);
  assert_int_equal(wsv_conn_close(s, 1001, "x", 1), WSV_OK);
  assert_int_equal(r.calls, 0);
  check_output(s,
               "\x82\x03"
               "abc\x89\x00\x88\x03\x03\xe9x",
               12);
  wsv_conn_free(s);
}

static void test_c1_c2(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c;
  struct log l = {0};
  static const uint8_t unmasked[] = {0x81, 0x05, 'h', 'e', 'l', 'l', 'o'};
  static const uint8_t masked[] = {0x81, 0x85, 0,   0,   0,  0,
                                   'h',  'e',  'l', 'l', 'o'};

  (void)state;
  /* C1: the payload never reaches the application. */
  c = mkconn(S, 1, &r, NULL);
  feed(c, unmasked, sizeof unmasked, 0, &l);
  assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
  assert_int_equal(l.pieces, 0);
  check_output(c, "\x88\x02\x03\xea", 4);
  wsv_conn_free(c);
  log_free(&l);
  c = mkconn(C, 1, &r, NULL);
  feed(c, masked, sizeof masked, 0, &l);
  assert_string_equal(log_str(&l), "ERROR PROTOCOL 1002;");
  assert_string_equal(output_str(c, C), "CLOSE 1002:;");
  wsv_conn_free(c);
  log_free(&l);
}

/* ---- sending ------------------------------------------------------------- */

static void test_send_rules(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  char big[126];

  (void)state;
  memset(big, 'b', sizeof big);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "\xc0\xaf", 2), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "\xe2\x82", 2), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_PING, "x", 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_CONT, "x", 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, 3, "x", 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(NULL, WSV_OP_TEXT, "x", 1), WSV_ERR_INVAL);
  /* F6: control payloads over 125 bytes are refused. */
  assert_int_equal(wsv_conn_ping(c, big, 126), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_pong(c, big, 126), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_ping(c, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_output_size(c), 0);
  /* A text message in fragments, a code point split between them. */
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_TEXT, "\xe2\x82", 2, 0),
                   WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "x", 1), WSV_ERR_STATE);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "x", 1, 1),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_ping(c, "between", 7), WSV_OK);
  /* The last piece may not end inside a code point; the message stays
   * open after the refusal. */
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "", 0, 1),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "\x41", 1, 0),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_TEXT, "\xac", 1, 1),
                   WSV_OK);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "x", 1, 1),
                   WSV_ERR_INVAL);
  check_output(c,
               "\x01\x02\xe2\x82\x89\x07"
               "between\x80\x01\xac",
               4 + 9 + 3);
  /* Binary may be anything. */
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, "\xc0\xaf", 2), WSV_OK);
  check_output(c, "\x82\x02\xc0\xaf", 4);
  wsv_conn_free(c);
}

static void test_batching(void **state) {
  /* 200 small frames go out as a handful of iovecs; writing them one byte
   * at a time (partial writes) gives the same bytes. */
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct wsv_iovec iov[64];
  struct bytes want = {0}, got = {0};
  char p[16];
  int i, k;

  (void)state;
  for (i = 0; i < 200; i++) {
    snprintf(p, sizeof p, "msg %d", i);
    assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, p, strlen(p)), WSV_OK);
    put_frame(&want, 0x81, p, strlen(p), 0);
  }
  assert_int_equal(wsv_conn_output_size(c), want.len);
  k = wsv_conn_output(c, iov, 64);
  assert_true(k >= 1 && k <= 4);
  assert_true(t.live <= 1 + 4);
  while (wsv_conn_want_write(c)) {
    k = wsv_conn_output(c, iov, 1);
    assert_int_equal(k, 1);
    b_put(&got, iov[0].base, 1);
    assert_int_equal(wsv_conn_consume_output(c, 1), WSV_OK);
  }
  assert_int_equal(got.len, want.len);
  assert_memory_equal(got.p, want.p, want.len);
  /* Idle again: only the connection itself is allocated. */
  assert_int_equal(t.live, 1);
  assert_int_equal(wsv_conn_consume_output(c, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_output(c, NULL, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_output(c, iov, -1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_output(c, iov, 64), 0);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  b_free(&want);
  b_free(&got);
}

static void test_max_output(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct bytes out = {0};
  char p[900];

  (void)state;
  memset(p, 'z', sizeof p);
  wsv_conn_config_init(&cfg);
  cfg.max_output = 1000;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, 900), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, 90), WSV_OK);
  assert_int_equal(wsv_conn_output_size(c), 904 + 92);
  /* 4 bytes left: a 2-byte payload needs 4 with its header: fits. */
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, 2), WSV_OK);
  /* Full: the slow consumer is closed with 1008. */
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, 0), WSV_ERR_POLICY);
  assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
  assert_false(wsv_conn_want_read(c));
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, 0), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_ping(c, NULL, 0), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_close(c, 1000, NULL, 0), WSV_ERR_CLOSED);
  assert_false(wsv_conn_want_close_socket(c));
  drain(c, &out);
  assert_int_equal(out.len, 1000 + 4);
  assert_memory_equal(out.p + 1000, "\x88\x02\x03\xf0", 4);
  assert_true(wsv_conn_want_close_socket(c));
  b_free(&out);
  wsv_conn_free(c);
}

/* ---- allocation failure at every N --------------------------------------- */

/* A session touching every allocation site: the connection, a
 * fragmented message split across reads (assemble buffer growth), a pong,
 * shared output blocks, a big frame, a close.  Each step may fail only with
 * WSV_ERR_NOMEM (or the resulting state). */
static int alloc_scenario(const struct wsv_mem *m) {
  struct rnd r = {1, 0, 0};
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;
  struct bytes in = {0};
  struct log l = {0};
  static uint8_t big[5000];
  int rc, nomem = 0;

  wsv_conn_config_init(&cfg);
  cfg.random = rnd_fn;
  cfg.random_user = &r;
  rc = wsv_conn_new(&c, S, &cfg, m);
  if (rc == WSV_ERR_NOMEM) {
    assert_null(c);
    return 1;
  }
  assert_int_equal(rc, WSV_OK);
  put_frame(&in, 0x02, big, 300, 1);
  put_frame(&in, 0x89, "p", 1, 1);
  put_frame(&in, 0x80, big, 1000, 1);
  put_frame(&in, 0x81, "hi", 2, 1);
  feed(c, in.p, in.len, 100, &l);
  if (strcmp(log_str(&l), "PING:p;BINARY:<1300*00>;TEXT:hi;") != 0) {
    /* Only an allocation failure may change the outcome, and it fails
     * the connection with 1011. */
    assert_non_null(strstr(log_str(&l), "ERROR NOMEM 1011;"));
    assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
    nomem = 1;
  }
  for (int i = 0; i < 50; i++) {
    rc = wsv_conn_send(c, WSV_OP_TEXT, "small message", 13);
    assert_true(rc == WSV_OK || rc == WSV_ERR_NOMEM ||
                (nomem && rc == WSV_ERR_CLOSED));
    nomem |= rc != WSV_OK;
  }
  rc = wsv_conn_send(c, WSV_OP_BINARY, big, sizeof big);
  assert_true(rc == WSV_OK || rc == WSV_ERR_NOMEM || rc == WSV_ERR_CLOSED);
  nomem |= rc != WSV_OK;
  rc = wsv_conn_close(c, 1000, "bye", 3);
  assert_true(rc == WSV_OK || rc == WSV_ERR_NOMEM || rc == WSV_ERR_CLOSED);
  nomem |= rc != WSV_OK;
  if (!nomem)
    assert_int_equal(wsv_conn_state(c), WSV_CONN_CLOSING);
  {
    struct bytes out = {0};
    drain(c, &out);
    b_free(&out);
  }
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  return nomem;
}

static void test_alloc_failure_every_n(void **state) {
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  long n, total;

  (void)state;
  /* A dry run counts the allocations. */
  assert_int_equal(alloc_scenario(&m), 0);
  assert_int_equal(t.live, 0);
  total = t.allocs;
  assert_true(total >= 5);
  for (n = 1; n <= total; n++) {
    m = ta_mem(&t);
    t.fail_at = n;
    assert_int_equal(alloc_scenario(&m), 1);
    assert_int_equal(t.live, 0); /* nothing leaked */
    assert_int_equal(t.bytes, 0);
  }
}

/* ---- memory -------------------------------------------------------------- */

/* keep_spare_block: off (default), an idle connection holds only its
 * struct; on, one emptied block stays and the next burst reuses it (no
 * allocation), a block over 1 KiB is never kept, and free releases it. */
static void test_spare_block(void **state) {
  int on;
  (void)state;
  for (on = 0; on <= 1; on++) {
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn_config cfg;
    struct wsv_conn *c = NULL;
    struct bytes out = {0};
    static uint8_t big[3000];
    long before;
    int i, k;

    wsv_conn_config_init(&cfg);
    cfg.random = rnd_fn;
    cfg.random_user = &r;
    cfg.keep_spare_block = on;
    assert_int_equal(wsv_conn_new(&c, S, &cfg, &m), WSV_OK);
    for (k = 0; k < 3; k++) {
      before = t.allocs;
      for (i = 0; i < 8; i++)
        assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "0123456789abcdef", 16),
                         WSV_OK);
      /* First burst: one block; later ones reuse the spare when on. */
      assert_int_equal(t.allocs - before, on && k > 0 ? 0 : 1);
      drain(c, &out);
      assert_int_equal(t.live, on ? 2 : 1);
      assert_true(wsv_conn_idle(c));
    }
    /* A big frame's own block is never kept as the spare. */
    assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, big, sizeof big), WSV_OK);
    drain(c, &out);
    assert_int_equal(t.live, on ? 2 : 1);
    assert_int_equal(out.len, 3 * 8 * 18 + 4 + sizeof big);
    wsv_conn_free(c);
    assert_int_equal(t.live, 0);
    /* A pong's small block is never kept either (it could not hold the
     * next burst): after pongs written with no spare, the next bursts
     * still allocate nothing beyond their first block. */
    m = ta_mem(&t);
    assert_int_equal(wsv_conn_new(&c, S, &cfg, &m), WSV_OK);
    {
      struct bytes in = {0};
      struct log l = {0};

      put_frame(&in, 0x89, "p", 1, 1);
      put_frame(&in, 0x89, "q", 1, 1);
      feed(c, in.p, in.len, 0, &l);
      drain(c, &out);
      assert_int_equal(t.live, 1);
      for (k = 0; k < 3; k++) {
        before = t.allocs;
        assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "x", 1), WSV_OK);
        assert_int_equal(t.allocs - before, on && k > 0 ? 0 : 1);
        drain(c, &out);
      }
      /* A pong takes the spare (and gives it back). */
      in.len = 0;
      put_frame(&in, 0x89, "r", 1, 1);
      before = t.allocs;
      feed(c, in.p, in.len, 0, &l);
      assert_int_equal(t.allocs - before, on ? 0 : 1);
      drain(c, &out);
      assert_int_equal(t.live, on ? 2 : 1);
      log_free(&l);
      b_free(&in);
    }
    wsv_conn_free(c);
    assert_int_equal(t.live, 0);
    b_free(&out);
  }
}

/* wsv_conn_send's in-place path for small server messages against the
 * general one (wsv_conn_send_fragment with fin): same return codes, same
 * bytes, same state, over random sizes around 125, valid and invalid
 * text, echoes of a received view, partial writes, a small max_output
 * (1008 overflow) and a Close in between. */
static void test_send_small_twin(void **state) {
  static const char *const bad[] = {"\xc0\xaf", "ab\xed\xa0\x80", "\xe2\x82",
                                    "\xf4\x90\x80\x80", "x\xff"};
  uint64_t seed;
  (void)state;
  for (seed = 1; seed <= 12; seed++) {
    struct wsv_conn_config cfg;
    struct wsv_conn *a = NULL, *b = NULL;
    struct rnd r = {0, 0, 0};
    struct bytes oa = {0}, ob = {0};
    uint8_t msg[200];
    uint64_t x = seed * 0x9e3779b97f4a7c15u;
    int i;

    wsv_conn_config_init(&cfg);
    cfg.random = rnd_fn;
    cfg.random_user = &r;
    cfg.keep_spare_block = (int)(seed & 1);
    if (seed % 3 == 0)
      cfg.max_output = 700 + (size_t)seed * 10;
    assert_int_equal(wsv_conn_new(&a, S, &cfg, NULL), WSV_OK);
    assert_int_equal(wsv_conn_new(&b, S, &cfg, NULL), WSV_OK);
    for (i = 0; i < 400; i++) {
      size_t len, k;
      int op, ra, rb;
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      len = (size_t)(x % 141);
      op = (x >> 20) & 1 ? WSV_OP_TEXT : WSV_OP_BINARY;
      for (k = 0; k < len; k++)
        msg[k] = (uint8_t)('a' + (x >> (k % 50)) % 26);
      if ((x >> 30) % 9 == 0) { /* invalid UTF-8 somewhere */
        const char *s = bad[(x >> 40) % 5];
        size_t n = strlen(s);
        if (len < n)
          len = n;
        memcpy(msg + len - n, s, n);
      }
      if ((x >> 33) % 17 == 0) { /* an echo of a received text view */
        struct bytes in = {0};
        struct wsv_event ev;
        put_frame(&in, 0x81, "echo me", 7, 1);
        assert_int_equal(wsv_conn_recv(a, in.p, in.len), WSV_OK);
        ra = wsv_conn_next_event(a, &ev);
        if (ra > 0 && ev.type == WSV_EV_TEXT)
          ra = wsv_conn_send(a, WSV_OP_TEXT, ev.data, ev.len);
        put_frame(&in, 0x81, "echo me", 7, 1); /* unmasked in place above */
        assert_int_equal(wsv_conn_recv(b, in.p + in.len / 2, in.len / 2),
                         WSV_OK);
        rb = wsv_conn_next_event(b, &ev);
        if (rb > 0 && ev.type == WSV_EV_TEXT)
          rb = wsv_conn_send_fragment(b, WSV_OP_TEXT, ev.data, ev.len, 1);
        assert_int_equal(ra, rb);
        while (wsv_conn_next_event(a, &ev) > 0)
          ;
        while (wsv_conn_next_event(b, &ev) > 0)
          ;
        b_free(&in);
      }
      ra = wsv_conn_send(a, op, msg, len);
      rb = wsv_conn_send_fragment(b, op, msg, len, 1);
      assert_int_equal(ra, rb);
      assert_int_equal(wsv_conn_output_size(a), wsv_conn_output_size(b));
      assert_int_equal(wsv_conn_state(a), wsv_conn_state(b));
      if ((x >> 45) % 5 == 0) { /* write some (both the same) */
        struct wsv_iovec iov[8];
        size_t n = wsv_conn_output_size(a) / 2;
        int m = wsv_conn_output(a, iov, 8);
        size_t got = 0;
        for (k = 0; k < (size_t)m && got < n; k++) {
          size_t take = iov[k].len < n - got ? iov[k].len : n - got;
          b_put(&oa, iov[k].base, take);
          got += take;
        }
        assert_int_equal(wsv_conn_consume_output(a, got), WSV_OK);
        m = wsv_conn_output(b, iov, 8);
        got = 0;
        for (k = 0; k < (size_t)m && got < n; k++) {
          size_t take = iov[k].len < n - got ? iov[k].len : n - got;
          b_put(&ob, iov[k].base, take);
          got += take;
        }
        assert_int_equal(wsv_conn_consume_output(b, got), WSV_OK);
      }
      if (i == 300 && seed % 4 == 0) {
        assert_int_equal(wsv_conn_close(a, 1000, "bye", 3),
                         wsv_conn_close(b, 1000, "bye", 3));
      }
    }
    drain(a, &oa);
    drain(b, &ob);
    assert_int_equal(oa.len, ob.len);
    assert_memory_equal(oa.p, ob.p, oa.len);
    /* Enough was sent for the test to mean something; a small max_output
     * ends in the slow-consumer failure. */
    assert_true(oa.len > (seed % 3 == 0 ? 100u : 5000u));
    if (seed % 3 == 0)
      assert_int_equal(wsv_conn_state(a), WSV_CONN_FAILED);
    wsv_conn_free(a);
    wsv_conn_free(b);
    b_free(&oa);
    b_free(&ob);
  }
}

/* The in-place receive path for small whole frames against the general
 * one: the same stream fed whole (fast path where it applies) and in
 * chunks of 1..7 and 64 bytes (general path mostly) gives the same events
 * and the same output, for several configs (stream mode, tiny max_message
 * and max_frame, auto_pong off), with invalid text, 126-byte frames,
 * fragments, pings, and an unmasked or closing frame at the end. */
static void test_recv_fast_twin(void **state) {
  static const char *const bad[] = {"\xc0\xaf", "ab\xed\xa0\x80", "\xe2\x82",
                                    "\xf4\x90\x80\x80"};
  static const size_t chunks[] = {1, 2, 5, 7, 64};
  uint64_t seed;
  (void)state;
  for (seed = 1; seed <= 20; seed++) {
    uint64_t x = seed * 0x2545f4914f6cdd1du;
    struct bytes in = {0};
    uint8_t msg[200];
    int i, variant = (int)(seed % 5);
    char *want_log = NULL, *want_out = NULL;
    size_t ci;

    if (seed % 4 == 2) {
      /* Invalid text (C0 AF) whose masked form (key 80808080) is valid:
       * only right if the buffer is left as it was for the general path. */
      static const uint8_t f[] = {0x81, 0x82, 0x80, 0x80, 0x80, 0x80, 0x40, 0x2f};
      put_frame(&in, 0x82, "first", 5, 1);
      b_put(&in, f, sizeof f);
    }
    for (i = 0; i < 120; i++) {
      size_t len, k;
      unsigned kind;
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      kind = (unsigned)(x % 16);
      len = (size_t)((x >> 8) % 131);
      for (k = 0; k < len; k++)
        msg[k] = (uint8_t)(' ' + (x >> (k % 40)) % 90);
      if (kind < 7) {
        put_frame(&in, 0x81, msg, len, 1);
      } else if (kind < 11) {
        put_frame(&in, 0x82, msg, len, 1);
      } else if (kind == 11) {
        const char *b = bad[(x >> 20) % 4];
        size_t n = strlen(b);
        if (len < n)
          len = n;
        memcpy(msg + len - n, b, n);
        put_frame(&in, 0x81, msg, len, 1);
      } else if (kind == 12) {
        put_frame(&in, 0x89, msg, len % 126, 1);
      } else if (kind == 13) {
        put_frame(&in, 0x01, msg, len / 2, 1);
        put_frame(&in, 0x89, "p", 1, 1);
        put_frame(&in, 0x80, msg + len / 2, len - len / 2, 1);
      } else {
        put_frame(&in, 0x82, msg, len % 20, 1);
      }
    }
    if (seed % 3 == 0)
      put_frame(&in, 0x81, "unmasked", 8, 0);
    else if (seed % 3 == 1)
      put_frame(&in, 0x88, "\x03\xe8", 2, 1);
    for (ci = 0; ci <= sizeof chunks / sizeof chunks[0]; ci++) {
      struct wsv_conn_config cfg;
      struct wsv_conn *c = NULL;
      struct rnd r = {0, 0, 0};
      struct log l = {0};
      const char *out;

      wsv_conn_config_init(&cfg);
      cfg.random = rnd_fn;
      cfg.random_user = &r;
      cfg.stream = variant == 1;
      if (variant == 2)
        cfg.max_message = 10;
      if (variant == 3)
        cfg.max_frame = 20;
      cfg.auto_pong = variant != 4;
      assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
      l.no_guard = 1;
      feed(c, in.p, in.len, ci == 0 ? 0 : chunks[ci - 1], &l);
      out = output_str(c, S);
      if (ci == 0) {
        want_log = malloc(strlen(log_str(&l)) + 1);
        want_out = malloc(strlen(out) + 1);
        assert_non_null(want_log);
        assert_non_null(want_out);
        strcpy(want_log, log_str(&l));
        strcpy(want_out, out);
        assert_true(l.events > 0);
      } else {
        assert_string_equal(log_str(&l), want_log);
        assert_string_equal(out, want_out);
      }
      wsv_conn_free(c);
      log_free(&l);
    }
    free(want_log);
    free(want_out);
    b_free(&in);
  }
}

/* wsv_conn_idle: 1 exactly when the conn could be replaced by a new one;
 * each state that holds something says 0, and 1 again once it is done. */
static void test_conn_idle(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0}, out = {0};
  struct log l = {0};
  struct wsv_iovec iov[4];

  (void)state;
  assert_false(wsv_conn_idle(NULL));
  assert_true(wsv_conn_idle(c));
  /* A header cut after its first byte, then the rest. */
  put_frame(&in, 0x81, "hi", 2, 1);
  feed(c, in.p, 1, 0, &l);
  assert_false(wsv_conn_idle(c));
  feed(c, in.p + 1, in.len - 1, 0, &l);
  assert_true(wsv_conn_idle(c));
  /* A payload cut in the middle. */
  feed(c, in.p, in.len - 1, 0, &l);
  assert_false(wsv_conn_idle(c));
  feed(c, in.p + in.len - 1, 1, 0, &l);
  assert_true(wsv_conn_idle(c));
  /* A fragmented message: first part in, last part later. */
  in.len = 0;
  put_frame(&in, 0x01, "frag", 4, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_false(wsv_conn_idle(c));
  in.len = 0;
  put_frame(&in, 0x80, "ment", 4, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_true(wsv_conn_idle(c));
  /* Output queued, partly written, all written. */
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "abc", 3), WSV_OK);
  assert_false(wsv_conn_idle(c));
  assert_int_equal(wsv_conn_output(c, iov, 4), 1);
  assert_int_equal(wsv_conn_consume_output(c, 2), WSV_OK);
  assert_false(wsv_conn_idle(c));
  drain(c, &out);
  assert_true(wsv_conn_idle(c));
  /* A fragmented send in progress, then finished. */
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "a", 1, 0), WSV_OK);
  drain(c, &out);
  assert_false(wsv_conn_idle(c));
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "b", 1, 1), WSV_OK);
  drain(c, &out);
  assert_true(wsv_conn_idle(c));
  /* Our Close: never idle again. */
  assert_int_equal(wsv_conn_close(c, 1000, NULL, 0), WSV_OK);
  drain(c, &out);
  assert_false(wsv_conn_idle(c));
  wsv_conn_free(c);
  /* The peer's Close; a failure. */
  c = mkconn(S, 0, &r, NULL);
  in.len = 0;
  put_frame(&in, 0x88, "\x03\xe8", 2, 1);
  feed(c, in.p, in.len, 0, &l);
  drain(c, &out);
  assert_false(wsv_conn_idle(c));
  wsv_conn_free(c);
  c = mkconn(S, 0, &r, NULL);
  in.len = 0;
  put_frame(&in, 0x81, "x", 1, 0); /* unmasked: 1002 */
  feed(c, in.p, in.len, 0, &l);
  drain(c, &out);
  assert_false(wsv_conn_idle(c));
  wsv_conn_free(c);
  /* Stream mode: a message delivered in part. */
  c = mkconn(S, 1, &r, NULL);
  in.len = 0;
  put_frame(&in, 0x82, "0123456789", 10, 1);
  feed(c, in.p, in.len - 4, 0, &l);
  assert_false(wsv_conn_idle(c));
  feed(c, in.p + in.len - 4, 4, 0, &l);
  assert_true(wsv_conn_idle(c));
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&out);
}

static void test_idle_memory(void **state) {
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct bytes in = {0}, out = {0};
  struct log l = {0};

  (void)state;
  assert_int_equal(t.live, 1);
  assert_true(t.bytes < 1024);
  put_frame(&in, 0x01, "frag", 4, 1);
  put_frame(&in, 0x80, "ment", 4, 1);
  put_frame(&in, 0x89, "", 0, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_string_equal(log_str(&l), "TEXT:fragment;PING:;");
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "x", 1), WSV_OK);
  drain(c, &out);
  /* The message buffer went at the next call (the NONE), the output
   * blocks when written. */
  assert_int_equal(t.live, 1);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
  b_free(&out);
}

/* An echo of the whole text message just delivered skips the second UTF-8
 * check; anything else is still checked. */
static int next_ev(struct wsv_conn *c, struct wsv_event *ev) {
  return wsv_conn_next_event(c, ev);
}

static void test_echo_trusted_text(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct wsv_conn *st = mkconn(S, 1, &r, NULL);
  struct wsv_event ev;
  struct bytes in = {0};
  uint8_t *buf;
  const uint8_t *saved;
  size_t saved_len;

  (void)state;
  /* Accepted: a whole text message in the buffer, echoed as is. */
  put_frame(&in, 0x81, "\xce\xba\xe1\xbd\xb9", 5, 1);
  /* A binary message with bytes that are not UTF-8. */
  put_frame(&in, 0x82, "\xc0\xaf", 2, 1);
  /* A fragmented text message (assemble mode: the conn's own buffer). */
  put_frame(&in, 0x01, "\xce", 1, 1);
  put_frame(&in, 0x80, "\xba", 1, 1);
  put_frame(&in, 0x81, "A", 1, 1);
  buf = malloc(in.len);
  assert_non_null(buf);
  memcpy(buf, in.p, in.len);
  assert_int_equal(wsv_conn_recv(c, buf, in.len), WSV_OK);

  assert_int_equal(next_ev(c, &ev), WSV_EV_TEXT);
  /* Rejected: part of it (ends or starts inside a code point). */
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, ev.data, 1), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, ev.data + 1, ev.len - 1),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, ev.data, ev.len), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, ev.data, ev.len), WSV_OK);
  assert_string_equal(output_str(c, S), "TEXT:\\xce\\xba\\xe1\\xbd\\xb9;"
                                        "TEXT:\\xce\\xba\\xe1\\xbd\\xb9;");
  saved = ev.data;
  saved_len = ev.len;

  /* Rejected: a binary message's bytes sent as text. */
  assert_int_equal(next_ev(c, &ev), WSV_EV_BINARY);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, ev.data, ev.len),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, ev.data, ev.len), WSV_OK);
  assert_string_equal(output_str(c, S), "BINARY:\\xc0\\xaf;");

  /* Accepted: the assembled message. */
  assert_int_equal(next_ev(c, &ev), WSV_EV_TEXT);
  assert_int_equal(ev.len, 2);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, ev.data, ev.len), WSV_OK);
  assert_string_equal(output_str(c, S), "TEXT:\\xce\\xba;");

  /* Rejected: valid text after an open fragment that ends inside a code
   * point. */
  assert_int_equal(next_ev(c, &ev), WSV_EV_TEXT);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_TEXT, "\xce", 1, 0),
                   WSV_OK);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, ev.data, ev.len, 1),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "\xba", 1, 0),
                   WSV_OK);
  /* Accepted: the same text after a code point boundary. */
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, ev.data, ev.len, 1),
                   WSV_OK);
  assert_string_equal(output_str(c, S), "TEXT:\\xce\\xbaA;");
  assert_int_equal(next_ev(c, &ev), WSV_EV_NONE);

  /* Rejected: the first message's view after the buffer was used up and
   * changed (the conn holds nothing then). */
  memset((uint8_t *)(uintptr_t)saved, 0xff, saved_len);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, saved, saved_len),
                   WSV_ERR_INVAL);
  free(buf);
  b_free(&in);

  /* Rejected: a piece (stream mode) is not a whole message. */
  put_frame(&in, 0x01, "\xce", 1, 1);
  put_frame(&in, 0x80, "\xba", 1, 1);
  buf = malloc(in.len);
  assert_non_null(buf);
  memcpy(buf, in.p, in.len);
  assert_int_equal(wsv_conn_recv(st, buf, in.len), WSV_OK);
  assert_int_equal(next_ev(st, &ev), WSV_EV_TEXT);
  assert_true(ev.first && !ev.last);
  assert_int_equal(wsv_conn_send(st, WSV_OP_TEXT, ev.data, ev.len),
                   WSV_ERR_INVAL);
  assert_int_equal(next_ev(st, &ev), WSV_EV_TEXT);
  assert_true(!ev.first && ev.last);
  assert_int_equal(wsv_conn_send(st, WSV_OP_TEXT, ev.data, ev.len),
                   WSV_ERR_INVAL);
  assert_int_equal(next_ev(st, &ev), WSV_EV_NONE);
  assert_string_equal(output_str(st, S), "");
  free(buf);
  b_free(&in);
  wsv_conn_free(c);
  wsv_conn_free(st);
}

/* ---- the shared message budget (msg_reserve) ----------------------------- */

struct budget {
  long long used;  /* sum of (to - from) over every call */
  size_t limit;    /* refuse growth past this total */
  int calls, refused;
  size_t last_to;
  long long peak;
};

static int budget_fn(void *user, size_t from, size_t to) {
  struct budget *b = user;
  b->calls++;
  b->last_to = to;
  if (to > from && (size_t)(b->used + (long long)(to - from)) > b->limit) {
    b->refused++;
    return 1;
  }
  b->used += (long long)to - (long long)from;
  if (b->used > b->peak)
    b->peak = b->used;
  return 0;
}

static struct wsv_conn *budget_conn(struct budget *b, struct wsv_mem *m,
                                    int pmd) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;

  wsv_conn_config_init(&cfg);
  cfg.msg_reserve = budget_fn;
  cfg.msg_reserve_user = b;
  cfg.pmd.enabled = pmd;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, m), WSV_OK);
  return c;
}

static void test_budget_accounting(void **state) {
  /* Every growth of the message buffer is asked for; what is given back
   * adds up to zero: fragmented, split, compressed, and freed mid-way. */
  struct budget b = {0, SIZE_MAX, 0, 0, 0, 0};
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct wsv_conn *c = budget_conn(&b, &m, 1);
  struct bytes in = {0};
  struct log l = {0};
  static uint8_t big[100000];
  size_t chunk;

  (void)state;
  memset(big, 'a', sizeof big);
  /* A single frame received whole is a view: no buffer, no call. */
  put_frame(&in, 0x82, big, 1000, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_int_equal(b.calls, 0);
  /* Fragmented: the buffer grows by doubling, each step asked for. */
  in.len = 0;
  put_frame(&in, 0x02, big, 40000, 1);
  put_frame(&in, 0x80, big, 60000, 1);
  for (chunk = 0; chunk <= 7919; chunk += 7919) {
    b.calls = 0;
    b.peak = 0;
    feed(c, in.p, in.len, chunk, &l);
    assert_true(b.calls >= 2);
    assert_true(b.peak >= 100000 && b.peak <= 2 * 100000);
    /* Delivered: given back by the call after the event. */
    assert_int_equal(b.used, 0);
    assert_int_equal(b.last_to, 0);
  }
  /* A compressed message is inflated into the buffer, counted too. */
  {
    struct wsv_conn_config cc;
    struct wsv_conn *cli;
    struct rnd r = {0, 0, 0};
    wsv_conn_config_init(&cc);
    cc.pmd.enabled = 1;
    cc.random = rnd_fn;
    cc.random_user = &r;
    assert_int_equal(wsv_conn_new(&cli, C, &cc, NULL), WSV_OK);
    assert_int_equal(wsv_conn_send(cli, WSV_OP_BINARY, big, sizeof big),
                     WSV_OK);
    in.len = 0;
    drain(cli, &in);
    wsv_conn_free(cli);
    assert_true(in.len < 2000); /* 100,000 bytes of 'a' deflated */
    b.peak = 0;
    log_free(&l);
    feed(c, in.p, in.len, 0, &l);
    assert_string_equal(log_str(&l), "BINARY rsv40:<100000*61>;");
    assert_true(b.peak >= 100000 && b.peak <= 100000 + 2 * 16384);
    assert_int_equal(b.used, 0);
  }
  /* Half a message, then the conn is freed: given back. */
  in.len = 0;
  put_frame(&in, 0x02, big, 50000, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_true(b.used >= 50000);
  wsv_conn_free(c);
  assert_int_equal(b.used, 0);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
}

static void test_budget_refused(void **state) {
  /* Growth the budget refuses fails the connection with 1009 before any
   * memory is taken; the rest of the input is dropped. */
  struct budget b = {0, 4096, 0, 0, 0, 0};
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct wsv_conn *c = budget_conn(&b, &m, 0);
  struct bytes in = {0};
  struct log l = {0};
  static uint8_t big[10000];
  size_t peak;

  (void)state;
  memset(big, 'b', sizeof big);
  /* Within the budget: delivered. */
  put_frame(&in, 0x02, big, 1000, 1);
  put_frame(&in, 0x80, big, 1000, 1);
  feed(c, in.p, in.len, 0, &l);
  assert_non_null(strstr(log_str(&l), "BINARY:"));
  assert_int_equal(b.refused, 0);
  feed(c, NULL, 0, 0, &l);
  assert_int_equal(b.used, 0);
  peak = t.peak;
  /* Past it: refused at the first fragment, nothing allocated for it. */
  in.len = 0;
  put_frame(&in, 0x02, big, 10000, 1);
  put_frame(&in, 0x80, big, 10, 1);
  log_free(&l);
  feed(c, in.p, in.len, 0, &l);
  assert_string_equal(log_str(&l), "ERROR BUDGET 1009;");
  assert_int_equal(b.refused, 1);
  assert_int_equal(b.used, 0);
  assert_true(t.peak <= peak + 1024); /* the Close frame only */
  assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
  assert_string_equal(output_str(c, S), "CLOSE 1009:;");
  wsv_conn_free(c);
  assert_int_equal(b.used, 0);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
}

/* ---- shedding ------------------------------------------------------------ */

static void test_shed(void **state) {
  /* Unsent frames are dropped, the frame being written is finished, a
   * Close follows: what the peer reads is well-formed. */
  struct wsv_conn *c;
  struct wsv_iovec iov[8];
  struct bytes out = {0};
  struct log l = {0};
  static uint8_t p[10000];
  size_t before;
  int k;

  (void)state;
  memset(p, 'x', sizeof p);
  assert_int_equal(wsv_conn_new(&c, S, NULL, NULL), WSV_OK);
  assert_int_equal(wsv_conn_shed(NULL, 1008), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_shed(c, 1005), WSV_ERR_INVAL); /* not on the wire */
  assert_int_equal(wsv_conn_state(c), WSV_CONN_OPEN);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "one", 3), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "two", 3), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, sizeof p), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "four", 4), WSV_OK);
  /* Write "one" and 2 bytes of "two". */
  k = wsv_conn_output(c, iov, 8);
  assert_true(k >= 1);
  b_put(&out, iov[0].base, 7);
  assert_int_equal(wsv_conn_consume_output(c, 7), WSV_OK);
  before = wsv_conn_output_size(c);
  assert_int_equal(wsv_conn_shed(c, 1008), (int64_t)(before - 3));
  assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "x", 1), WSV_ERR_CLOSED);
  assert_int_equal(wsv_conn_output_size(c), 3 + 4);
  drain(c, &out);
  assert_true(wsv_conn_want_close_socket(c));
  decode_output(S, &out, &l);
  assert_string_equal(log_str(&l), "TEXT:one;TEXT:two;CLOSE 1008:;");
  /* Again: nothing left to drop, no second Close. */
  assert_int_equal(wsv_conn_shed(c, 1008), 0);
  assert_int_equal(wsv_conn_output_size(c), 0);
  wsv_conn_free(c);
  log_free(&l);
  b_free(&out);

  /* A Close already queued but unsent is dropped with the rest and
   * queued again; nothing started: everything goes. */
  assert_int_equal(wsv_conn_new(&c, S, NULL, NULL), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, p, sizeof p), WSV_OK);
  assert_int_equal(wsv_conn_close(c, 1000, "bye", 3), WSV_OK);
  assert_true(wsv_conn_shed(c, 1008) > (int64_t)sizeof p);
  assert_string_equal(output_str(c, S), "CLOSE 1008:;");
  wsv_conn_free(c);

  /* Unsent automatic pongs go too, and pongs count again from zero: the
   * conn has failed, so a later ping gets none. */
  {
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sc = mkconn(S, 0, &r, NULL);
    struct bytes pin = {0};
    struct log pl = {0};
    int i;
    for (i = 0; i < 3; i++)
      put_frame(&pin, 0x89, "p", 1, 1);
    feed(sc, pin.p, pin.len, 0, &pl);
    assert_int_equal(wsv_conn_output_size(sc), 3 * 3);
    assert_int_equal(wsv_conn_shed(sc, 1008), 3 * 3);
    assert_string_equal(output_str(sc, S), "CLOSE 1008:;");
    feed(sc, pin.p, pin.len, 0, &pl);
    assert_int_equal(wsv_conn_output_size(sc), 0);
    wsv_conn_free(sc);
    log_free(&pl);
    b_free(&pin);
  }

  /* A Close already being written is kept as it is. */
  assert_int_equal(wsv_conn_new(&c, S, NULL, NULL), WSV_OK);
  assert_int_equal(wsv_conn_close(c, 1001, NULL, 0), WSV_OK);
  k = wsv_conn_output(c, iov, 8);
  b_put(&out, iov[0].base, 1);
  assert_int_equal(wsv_conn_consume_output(c, 1), WSV_OK);
  assert_int_equal(wsv_conn_shed(c, 1008), 0);
  drain(c, &out);
  decode_output(S, &out, &l);
  assert_string_equal(log_str(&l), "CLOSE 1001:;");
  wsv_conn_free(c);
  log_free(&l);
  b_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_budget_accounting),
      cmocka_unit_test(test_budget_refused),
      cmocka_unit_test(test_shed),
      cmocka_unit_test(test_rfc_receive_views),
      cmocka_unit_test(test_rfc_stream_fragments),
      cmocka_unit_test(test_rfc_pongs),
      cmocka_unit_test(test_rfc_send),
      cmocka_unit_test(test_lengths),
      cmocka_unit_test(test_every_split_small),
      cmocka_unit_test(test_split_unfragmented),
      cmocka_unit_test(test_recv_rules),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_fragment_bomb),
      cmocka_unit_test(test_fragment_cap_exact),
      cmocka_unit_test(test_fragments_default),
      cmocka_unit_test(test_message_limit),
      cmocka_unit_test(test_frame_limit),
      cmocka_unit_test(test_no_prealloc),
      cmocka_unit_test(test_utf8_fail_fast),
      cmocka_unit_test(test_utf8_split_every_offset),
      cmocka_unit_test(test_ping_125),
      cmocka_unit_test(test_ping_bound),
      cmocka_unit_test(test_ping_bound_started),
      cmocka_unit_test(test_ping_flood),
      cmocka_unit_test(test_pongs_in_fragmented_send),
      cmocka_unit_test(test_no_pong_after_close_sent),
      cmocka_unit_test(test_pong_after_data),
      cmocka_unit_test(test_auto_pong_off),
      cmocka_unit_test(test_rsv_allowed),
      cmocka_unit_test(test_client_fresh_masks),
      cmocka_unit_test(test_server_never_masks),
      cmocka_unit_test(test_c1_c2),
      cmocka_unit_test(test_send_rules),
      cmocka_unit_test(test_batching),
      cmocka_unit_test(test_max_output),
      cmocka_unit_test(test_alloc_failure_every_n),
      cmocka_unit_test(test_idle_memory),
      cmocka_unit_test(test_spare_block),
      cmocka_unit_test(test_conn_idle),
      cmocka_unit_test(test_send_small_twin),
      cmocka_unit_test(test_recv_fast_twin),
      cmocka_unit_test(test_echo_trusted_text),
  };
  /* WSV_TEST_FILTER=test_name (wildcards allowed) runs a subset. */
  if (getenv("WSV_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("WSV_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
