/*
 * conn_bulk_test.c - large messages through the core without copies
 * (src/conn.c): the zero-copy receive (wsv_conn_recv_space /
 * wsv_conn_recv_commit) fed a 1 MiB masked frame in odd-sized pieces, text
 * validated across commits (1007 at the commit holding the bad byte),
 * max_message and msg_reserve with an announced huge length, and the
 * owned-buffer send (wsv_conn_buf_alloc / wsv_conn_take_message /
 * wsv_conn_send_buf): zero-copy echo, client masking in place, deflate
 * falling back to a copy, errors that free the buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/conn_util.h"

#define S WSV_ROLE_SERVER
#define C WSV_ROLE_CLIENT
#define MIB ((size_t)1 << 20)

/* What a drive saw: the messages joined (one at most here), errors, and
 * where the input stood when each event came. */
struct seen {
  struct bytes msg;
  int type;           /* WSV_EV_TEXT/BINARY of the message, 0: none */
  int messages;       /* whole messages delivered */
  int err;            /* WSV_EV_ERROR's err, 0: none */
  int close_code;     /* its close code */
  size_t err_at;      /* input bytes handed over when it came */
  size_t direct;      /* bytes that went through recv_space/commit */
  size_t copied;      /* bytes that went through wsv_conn_recv */
  const uint8_t *buf; /* the message's view (for take checks) */
};

static void events(struct wsv_conn *c, struct seen *s, size_t fed, int take,
                   uint8_t **taken, size_t *taken_len) {
  struct wsv_event ev;

  while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE) {
    if (ev.type == WSV_EV_TEXT || ev.type == WSV_EV_BINARY) {
      assert_true(ev.first && ev.last);
      s->type = ev.type;
      s->messages++;
      s->msg.len = 0;
      b_put(&s->msg, ev.data, ev.len);
      s->buf = ev.data;
      if (take)
        assert_int_equal(wsv_conn_take_message(c, taken, taken_len), WSV_OK);
    } else if (ev.type == WSV_EV_ERROR) {
      s->err = ev.err;
      s->close_code = ev.close_code;
      s->err_at = fed;
    }
  }
}

/* Feed in[0..len): through the zero-copy path whenever it is offered, in
 * pieces cycling through `pieces` (0-terminated), else through
 * wsv_conn_recv in pieces of `small` bytes.  With `take`, take the message
 * in its event. */
static void drive(struct wsv_conn *c, const uint8_t *in, size_t len,
                  const size_t *pieces, size_t small, struct seen *s, int take,
                  uint8_t **taken, size_t *taken_len) {
  size_t off = 0, k = 0, n, want;
  uint8_t *p;

  while (off < len && s->err == 0) {
    if (wsv_conn_recv_space(c, &p, &n) == 1) {
      assert_non_null(p);
      assert_true(n > 0);
      want = pieces[k];
      k = pieces[k + 1] != 0 ? k + 1 : 0;
      if (want > n)
        want = n;
      if (want > len - off)
        want = len - off;
      memcpy(p, in + off, want);
      off += want;
      s->direct += want;
      assert_int_equal(wsv_conn_recv_commit(c, want), WSV_OK);
    } else {
      assert_null(p);
      assert_int_equal(n, 0);
      want = len - off < small ? len - off : small;
      /* The connection may unmask in place: hand it a copy. */
      uint8_t *cp = malloc(want);
      assert_non_null(cp);
      memcpy(cp, in + off, want);
      assert_int_equal(wsv_conn_recv(c, cp, want), WSV_OK);
      off += want;
      s->copied += want;
      events(c, s, off, take, taken, taken_len);
      free(cp);
      continue;
    }
    events(c, s, off, take, taken, taken_len);
  }
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (uint8_t)(seed >> 16);
  }
}

/* Text of n bytes: ASCII, 2-, 3- and 4-byte sequences mixed, so that odd
 * pieces split sequences. */
static void fill_text(uint8_t *p, size_t n) {
  static const char unit[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
  size_t u = sizeof unit - 1, i = 0;

  while (i + u <= n) {
    memcpy(p + i, unit, u);
    i += u;
  }
  while (i < n)
    p[i++] = 'x';
}

static const size_t odd[] = {7777, 1, 65537, 3, 12345, 131071, 2, 0};

static void test_direct_binary_1mib(void **state) {
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct bytes in = {0};
  struct seen s = {0};
  uint8_t *payload = malloc(MIB);

  (void)state;
  fill_random(payload, MIB, 1);
  put_frame(&in, 0x82, payload, MIB, 1);
  drive(c, in.p, in.len, odd, 1000, &s, 0, NULL, NULL);
  assert_int_equal(s.err, 0);
  assert_int_equal(s.messages, 1);
  assert_int_equal(s.type, WSV_EV_BINARY);
  assert_int_equal(s.msg.len, MIB);
  assert_memory_equal(s.msg.p, payload, MIB);
  /* Nearly all of it went straight in: the first piece and the last
   * 16 KiB (no longer worth it) were copied. */
  assert_true(s.copied <= 1000 + 16384 + 1000);
  assert_true(s.direct >= MIB - 18 * 1024);
  /* The buffer never grew past the message (plus its block). */
  assert_true(t.peak < MIB + 4096);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  b_free(&in);
  b_free(&s.msg);
  free(payload);
}

/* Fragmented: a 1 MiB message in three frames with a ping between, the
 * middle frame taken straight in; the ping is answered, the message whole. */
static void test_direct_fragmented_with_ping(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0}, out = {0};
  struct seen s = {0};
  uint8_t *payload = malloc(MIB);
  struct log l = {0};

  (void)state;
  fill_random(payload, MIB, 2);
  put_frame(&in, 0x02, payload, 100000, 1);
  put_frame(&in, 0x89, "hi", 2, 1);
  put_frame(&in, 0x00, payload + 100000, 800000, 1);
  put_frame(&in, 0x89, "yo", 2, 1);
  put_frame(&in, 0x80, payload + 900000, MIB - 900000, 1);
  drive(c, in.p, in.len, odd, 4096, &s, 0, NULL, NULL);
  assert_int_equal(s.err, 0);
  assert_int_equal(s.messages, 1);
  assert_int_equal(s.msg.len, MIB);
  assert_memory_equal(s.msg.p, payload, MIB);
  assert_true(s.direct > MIB / 2);
  drain(c, &out);
  decode_output(S, &out, &l);
  assert_string_equal(log_str(&l), "PONG:hi;PONG:yo;");
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&out);
  b_free(&s.msg);
  free(payload);
}

static void test_direct_text_valid(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0};
  struct seen s = {0};
  uint8_t *payload = malloc(MIB);

  (void)state;
  fill_text(payload, MIB);
  put_frame(&in, 0x81, payload, MIB, 1);
  drive(c, in.p, in.len, odd, 999, &s, 0, NULL, NULL);
  assert_int_equal(s.err, 0);
  assert_int_equal(s.type, WSV_EV_TEXT);
  assert_int_equal(s.msg.len, MIB);
  assert_memory_equal(s.msg.p, payload, MIB);
  assert_true(s.direct > MIB - 20000);
  wsv_conn_free(c);
  b_free(&in);
  b_free(&s.msg);
  free(payload);
}

/* One bad byte at payload offset `at` (or a sequence cut off by the end
 * with at = SIZE_MAX): 1007 at the piece that holds it, never before. */
static void text_bad_at(size_t at, const uint8_t *bad, size_t bad_len,
                        size_t piece) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, NULL);
  struct bytes in = {0}, out = {0};
  struct seen s = {0};
  uint8_t *payload = malloc(MIB);
  size_t pieces[2] = {piece, 0}, hlen = 10 + 4, fail;
  struct log l = {0};

  fill_text(payload, MIB);
  if (at == SIZE_MAX) {
    payload[MIB - 1] = 0xe2; /* a 3-byte sequence's lead, nothing after */
    fail = MIB - 1;
  } else {
    memcpy(payload + at, bad, bad_len);
    fail = at + bad_len - 1; /* the byte no valid text continues with */
  }
  put_frame(&in, 0x81, payload, MIB, 1);
  drive(c, in.p, in.len, pieces, 1000, &s, 0, NULL, NULL);
  assert_int_equal(s.err, WSV_ERR_UTF8);
  assert_int_equal(s.close_code, 1007);
  assert_int_equal(s.messages, 0);
  /* Reported after the piece holding byte `fail` was handed over, and no
   * later than that piece. */
  assert_true(s.err_at >= hlen + fail + 1);
  assert_true(s.err_at < hlen + fail + 1 + piece);
  drain(c, &out);
  decode_output(S, &out, &l);
  assert_string_equal(log_str(&l), "CLOSE 1007:;");
  wsv_conn_free(c);
  log_free(&l);
  b_free(&in);
  b_free(&out);
  b_free(&s.msg);
  free(payload);
}

static void test_direct_text_invalid(void **state) {
  (void)state;
  /* A lone continuation byte deep inside. */
  text_bad_at(600001, (const uint8_t *)"\x80", 1, 7777);
  /* A 4-byte lead whose bad continuation lands in the next commit (the
   * pieces are 65536 bytes; the lead is the last byte of one). */
  text_bad_at(14 + 65536 * 4 - 14 - 1, (const uint8_t *)"\xf0\x28", 2, 65536);
  /* A surrogate (ED A0 80) split over two commits. */
  text_bad_at(300000, (const uint8_t *)"\xed\xa0\x80", 3, 4099);
  /* A sequence cut off by the end of the message. */
  text_bad_at(SIZE_MAX, NULL, 0, 7777);
}

/* max_message: a frame announcing more fails at its header; the zero-copy
 * path is never offered for it. */
static void test_direct_max_message(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  uint8_t hdr[14] = {0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4};
  uint8_t *p = NULL;
  size_t n = 0;
  struct seen s = {0};

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.max_message = 16 * MIB;
  cfg.max_frame = UINT64_C(1) << 32;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, &m), WSV_OK);
  assert_int_equal(wsv_conn_recv(c, hdr, sizeof hdr), WSV_OK);
  events(c, &s, sizeof hdr, 0, NULL, NULL);
  assert_int_equal(s.err, WSV_ERR_TOO_BIG);
  assert_int_equal(s.close_code, 1009);
  assert_int_equal(wsv_conn_recv_space(c, &p, &n), 0);
  assert_null(p);
  assert_int_equal(wsv_conn_recv_commit(c, 1), WSV_ERR_STATE);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
}

/* A peer announcing 1 GiB (allowed) and sending 10 bytes costs a step, not
 * the announced length. */
static void test_direct_announced_huge(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  uint8_t in[24] = {0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4};
  uint8_t *p = NULL;
  size_t n = 0;
  struct seen s = {0};

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.max_message = cfg.max_frame = UINT64_C(2) << 30;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, &m), WSV_OK);
  assert_int_equal(wsv_conn_recv(c, in, sizeof in), WSV_OK);
  events(c, &s, sizeof in, 0, NULL, NULL);
  assert_int_equal(s.err, 0);
  assert_int_equal(wsv_conn_recv_space(c, &p, &n), 1);
  /* 10 bytes in: at most one 1 MiB step beyond them. */
  assert_true(n <= MIB);
  assert_true(t.peak < MIB + 4096);
  memset(p, 0, 100);
  assert_int_equal(wsv_conn_recv_commit(c, 100), WSV_OK);
  events(c, &s, sizeof in + 100, 0, NULL, NULL);
  assert_int_equal(s.messages, 0);
  assert_int_equal(wsv_conn_recv_commit(c, n), WSV_ERR_STATE); /* past it */
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
}

/* msg_reserve: a refused step falls back to the copying path, which
 * fails the connection with 1009 once the budget is really over; the
 * reservations add up to zero. */
struct budget {
  long held;
  long limit;
  int calls;
};

static int budget_fn(void *user, size_t from, size_t to) {
  struct budget *b = user;

  b->calls++;
  if (to > from && b->held + (long)(to - from) > b->limit)
    return 1;
  b->held += (long)to - (long)from;
  return 0;
}

static void test_direct_budget(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;
  struct budget b = {0, 300000, 0};
  struct bytes in = {0};
  struct seen s = {0};
  uint8_t *payload = malloc(MIB);

  (void)state;
  fill_random(payload, MIB, 3);
  wsv_conn_config_init(&cfg);
  cfg.msg_reserve = budget_fn;
  cfg.msg_reserve_user = &b;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  put_frame(&in, 0x82, payload, MIB, 1);
  drive(c, in.p, in.len, odd, 4096, &s, 0, NULL, NULL);
  assert_int_equal(s.err, WSV_ERR_BUDGET);
  assert_int_equal(s.close_code, 1009);
  assert_true(b.held <= b.limit);
  assert_int_equal(s.messages, 0);
  wsv_conn_free(c);
  assert_int_equal(b.held, 0);

  /* Within the budget the message goes through, straight in. */
  b.limit = 4 * (long)MIB;
  b.calls = 0;
  b_free(&s.msg);
  memset(&s, 0, sizeof s);
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  drive(c, in.p, in.len, odd, 4096, &s, 0, NULL, NULL);
  assert_int_equal(s.err, 0);
  assert_int_equal(s.messages, 1);
  assert_memory_equal(s.msg.p, payload, MIB);
  assert_true(s.direct > MIB / 2);
  wsv_conn_free(c);
  assert_int_equal(b.held, 0);
  b_free(&in);
  b_free(&s.msg);
  free(payload);
}

/* Stream mode and control frames never offer the space. */
static void test_direct_not_offered(void **state) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 1, &r, NULL);
  struct bytes in = {0};
  uint8_t *payload = calloc(1, MIB), *p;
  size_t n;
  struct wsv_event ev;

  (void)state;
  put_frame(&in, 0x82, payload, MIB, 1);
  assert_int_equal(wsv_conn_recv(c, in.p, 1000), WSV_OK);
  while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE)
    ;
  assert_int_equal(wsv_conn_recv_space(c, &p, &n), 0); /* stream mode */
  wsv_conn_free(c);
  /* Small frames: the space is not worth it. */
  c = mkconn(S, 0, &r, NULL);
  in.len = 0;
  put_frame(&in, 0x82, payload, 20000, 1);
  assert_int_equal(wsv_conn_recv(c, in.p, 8000), WSV_OK);
  while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE)
    ;
  assert_int_equal(wsv_conn_recv_space(c, &p, &n), 0); /* under 16 KiB due */
  assert_int_equal(wsv_conn_recv_space(NULL, &p, &n), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_recv_commit(NULL, 1), WSV_ERR_INVAL);
  wsv_conn_free(c);
  b_free(&in);
  free(payload);
}

/* The first iovec of the output that is not `skip` bytes of other frames. */
static void test_take_and_echo(void **state) {
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = mkconn(S, 0, &r, &m);
  struct bytes in = {0}, out = {0};
  struct seen s = {0};
  uint8_t *payload = malloc(MIB), *buf = NULL, *again = NULL;
  size_t len = 0, again_len = 0;
  struct wsv_iovec iov[4];
  struct log l = {0};
  long allocs;

  (void)state;
  fill_text(payload, MIB);
  put_frame(&in, 0x81, payload, MIB, 1);
  drive(c, in.p, in.len, odd, 1000, &s, 1, &buf, &len);
  assert_int_equal(s.messages, 1);
  assert_non_null(buf);
  assert_int_equal(len, MIB);
  /* The message buffer itself: same memory as the event's view. */
  assert_ptr_equal(buf, s.buf);
  assert_memory_equal(buf, payload, MIB);
  assert_false(wsv_conn_idle(c)); /* a buffer is out */
  allocs = t.allocs;
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_TEXT, buf, len), WSV_OK);
  assert_int_equal(t.allocs, allocs); /* no copy, no allocation */
  /* One iovec: the header right in front of the payload, in place. */
  assert_int_equal(wsv_conn_output(c, iov, 4), 1);
  assert_ptr_equal((const uint8_t *)iov[0].base + 10, buf);
  assert_int_equal(iov[0].len, 10 + MIB);
  /* Written in two parts, then decoded by a client. */
  assert_int_equal(wsv_conn_consume_output(c, 12345), WSV_OK);
  b_put(&out, payload, 0);
  {
    struct bytes whole = {0};
    b_put(&whole, iov[0].base, iov[0].len);
    drain(c, &out);
    assert_int_equal(out.len, iov[0].len - 12345);
    assert_memory_equal(out.p, whole.p + 12345, out.len);
    decode_output(S, &whole, &l);
    b_free(&whole);
  }
  assert_int_equal(strncmp(log_str(&l), "TEXT:a", 6), 0);
  assert_true(wsv_conn_idle(c));
  assert_int_equal(t.live, 1); /* the block was given back when written */
  /* Taking again, or with no message, is refused. */
  assert_int_equal(wsv_conn_take_message(c, &again, &again_len), WSV_ERR_STATE);
  assert_null(again);

  /* A small message delivered as a view is copied once. */
  in.len = 0;
  put_frame(&in, 0x82, "hello", 5, 1);
  assert_int_equal(wsv_conn_recv(c, in.p, in.len), WSV_OK);
  {
    struct wsv_event ev;
    assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_BINARY);
    assert_int_equal(wsv_conn_take_message(c, &again, &again_len), WSV_OK);
    assert_ptr_not_equal(again, ev.data);
    assert_int_equal(again_len, 5);
    assert_memory_equal(again, "hello", 5);
    assert_int_equal(wsv_conn_take_message(c, &buf, &len), WSV_ERR_STATE);
    assert_int_equal(wsv_conn_next_event(c, &ev), WSV_EV_NONE);
  }
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_BINARY, again, again_len),
                   WSV_OK);
  assert_string_equal(output_str(c, S), "BINARY:hello;");
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  log_free(&l);
  b_free(&in);
  b_free(&out);
  b_free(&s.msg);
  free(payload);
}

/* A client masks its owned buffer in place with a fresh key per frame. */
static void test_client_masks_owned(void **state) {
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct rnd r = {1, 0, 0};
  struct wsv_conn *c = mkconn(C, 0, &r, &m);
  struct bytes out = {0};
  struct seen s = {0};
  size_t len = 200000;
  uint8_t *payload = malloc(len), *buf;
  struct wsv_conn *peer;

  (void)state;
  fill_random(payload, len, 4);
  for (int round = 0; round < 2; round++) {
    buf = wsv_conn_buf_alloc(c, len);
    assert_non_null(buf);
    memcpy(buf, payload, len);
    assert_int_equal(wsv_conn_send_buf(c, WSV_OP_BINARY, buf, len), WSV_OK);
  }
  assert_int_equal(r.calls, 2);
  drain(c, &out);
  /* Masked on the wire (MASK bit, payload differs), two different keys. */
  assert_int_equal(out.len, 2 * (len + 14));
  assert_int_equal(out.p[1], 0xff);
  assert_memory_not_equal(out.p + 2 + 8, out.p + len + 14 + 2 + 8, 4);
  assert_memory_not_equal(out.p + 14, payload, 64);
  /* A server unmasks both back to the payload. */
  peer = mkconn(S, 0, &r, NULL);
  drive(peer, out.p, out.len, odd, 4096, &s, 0, NULL, NULL);
  assert_int_equal(s.messages, 2);
  assert_memory_equal(s.msg.p, payload, len);
  wsv_conn_free(peer);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
  b_free(&out);
  b_free(&s.msg);
  free(payload);
}

/* Errors consume the buffer (freed: ASan and the counts would see a
 * leak); max_output fails the connection with 1008 as wsv_conn_send. */
static void test_send_buf_errors(void **state) {
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;
  uint8_t *buf;

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.max_output = 100000;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, &m), WSV_OK);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_TEXT, NULL, 0), WSV_ERR_INVAL);
  assert_int_equal(wsv_conn_send_buf(NULL, WSV_OP_TEXT, NULL, 0),
                   WSV_ERR_INVAL);
  buf = wsv_conn_buf_alloc(c, 4);
  memcpy(buf, "\xff\xfe\xfd\xfc", 4);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_TEXT, buf, 4), WSV_ERR_INVAL);
  buf = wsv_conn_buf_alloc(c, 4);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_BINARY, buf, 5), WSV_ERR_INVAL);
  buf = wsv_conn_buf_alloc(c, 4);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_PING, buf, 4), WSV_ERR_INVAL);
  buf = wsv_conn_buf_alloc(c, 0);
  assert_non_null(buf);
  wsv_conn_buf_free(c, buf);
  assert_int_equal(t.live, 1);
  assert_true(wsv_conn_idle(c));
  /* A fragmented send is open. */
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_BINARY, "a", 1, 0), WSV_OK);
  buf = wsv_conn_buf_alloc(c, 4);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_BINARY, buf, 4), WSV_ERR_STATE);
  assert_int_equal(wsv_conn_send_fragment(c, WSV_OP_CONT, "b", 1, 1), WSV_OK);
  /* Over max_output: 1008. */
  buf = wsv_conn_buf_alloc(c, 100000);
  memset(buf, 'x', 100000);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_BINARY, buf, 100000),
                   WSV_ERR_POLICY);
  assert_int_equal(wsv_conn_state(c), WSV_CONN_FAILED);
  assert_string_equal(output_str(c, S), "BINARY:ab;CLOSE 1008:;");
  buf = wsv_conn_buf_alloc(c, 4);
  assert_int_equal(wsv_conn_send_buf(c, WSV_OP_BINARY, buf, 4), WSV_ERR_CLOSED);
  wsv_conn_free(c);
  assert_int_equal(t.live, 0);
}

/* permessage-deflate on: the owned send compresses (a copy), and a peer
 * inflates it back; below pmd_min_size it goes out plain, in place. */
static void test_send_buf_deflate(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *srv = NULL, *cli = NULL;
  struct ta t;
  struct wsv_mem m = ta_mem(&t);
  struct bytes out = {0};
  struct seen s = {0};
  size_t len = 300000;
  uint8_t *buf;
  struct wsv_iovec iov[4];

  (void)state;
  wsv_conn_config_init(&cfg);
  cfg.pmd.enabled = 1;
  assert_int_equal(wsv_conn_new(&srv, S, &cfg, &m), WSV_OK);
  buf = wsv_conn_buf_alloc(srv, len);
  fill_text(buf, len);
  assert_int_equal(wsv_conn_send_buf(srv, WSV_OP_TEXT, buf, len), WSV_OK);
  drain(srv, &out);
  assert_true(out.len < len / 4);   /* compressed */
  assert_int_equal(out.p[0], 0xc1); /* FIN, RSV1, text */
  buf = wsv_conn_buf_alloc(srv, 8);
  memcpy(buf, "tinytiny", 8);
  assert_int_equal(wsv_conn_send_buf(srv, WSV_OP_BINARY, buf, 8), WSV_OK);
  assert_int_equal(wsv_conn_output(srv, iov, 4), 1);
  assert_ptr_equal((const uint8_t *)iov[0].base + 2, buf); /* in place */
  drain(srv, &out);
  assert_int_equal(wsv_conn_new(&cli, C, &cfg, NULL), WSV_OK);
  drive(cli, out.p, out.len, odd, 4096, &s, 0, NULL, NULL);
  assert_int_equal(s.err, 0);
  assert_int_equal(s.messages, 2);
  assert_int_equal(s.msg.len, 8);
  wsv_conn_free(cli);
  wsv_conn_free(srv);
  assert_int_equal(t.live, 0);
  b_free(&out);
  b_free(&s.msg);
}

/* A compressed 1 MiB message is never read straight in (it is inflated),
 * and taking it hands over the inflated buffer. */
static void test_deflate_received_take(void **state) {
  struct wsv_conn_config cfg;
  struct wsv_conn *srv = NULL, *cli = NULL;
  struct bytes out = {0};
  struct seen s = {0};
  uint8_t *buf = NULL, *payload = malloc(MIB);
  size_t len = 0;
  struct rnd r = {0, 0, 0};

  (void)state;
  fill_text(payload, MIB);
  wsv_conn_config_init(&cfg);
  cfg.pmd.enabled = 1;
  cfg.random = rnd_fn;
  cfg.random_user = &r;
  assert_int_equal(wsv_conn_new(&cli, C, &cfg, NULL), WSV_OK);
  assert_int_equal(wsv_conn_send(cli, WSV_OP_TEXT, payload, MIB), WSV_OK);
  drain(cli, &out);
  assert_int_equal(wsv_conn_new(&srv, S, &cfg, NULL), WSV_OK);
  drive(srv, out.p, out.len, odd, 1000, &s, 1, &buf, &len);
  assert_int_equal(s.err, 0);
  assert_int_equal(s.direct, 0);
  assert_int_equal(len, MIB);
  assert_ptr_equal(buf, s.buf);
  assert_memory_equal(buf, payload, MIB);
  assert_int_equal(wsv_conn_send_buf(srv, WSV_OP_TEXT, buf, len), WSV_OK);
  out.len = 0;
  drain(srv, &out);
  b_free(&s.msg);
  memset(&s, 0, sizeof s);
  drive(cli, out.p, out.len, odd, 4096, &s, 0, NULL, NULL);
  assert_int_equal(s.messages, 1);
  assert_memory_equal(s.msg.p, payload, MIB);
  wsv_conn_free(cli);
  wsv_conn_free(srv);
  b_free(&out);
  b_free(&s.msg);
  free(payload);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_direct_binary_1mib),
      cmocka_unit_test(test_direct_fragmented_with_ping),
      cmocka_unit_test(test_direct_text_valid),
      cmocka_unit_test(test_direct_text_invalid),
      cmocka_unit_test(test_direct_max_message),
      cmocka_unit_test(test_direct_announced_huge),
      cmocka_unit_test(test_direct_budget),
      cmocka_unit_test(test_direct_not_offered),
      cmocka_unit_test(test_take_and_echo),
      cmocka_unit_test(test_client_masks_owned),
      cmocka_unit_test(test_send_buf_errors),
      cmocka_unit_test(test_send_buf_deflate),
      cmocka_unit_test(test_deflate_received_take),
  };
  if (getenv("WSV_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("WSV_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
