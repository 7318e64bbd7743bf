/*
 * probe_h2.c - `wsv probe --h2`: WebSockets over HTTP/2 (RFC 8441) from
 * outside.  One HTTP/2 connection: TLS with ALPN "h2" for wss:// (RFC 9113
 * §3.2), the cleartext preface with prior knowledge for ws:// (h2c, RFC
 * 9113 §3.3).  Debian's libnghttp2 client session frames it (push bytes in
 * with nghttp2_session_mem_recv, pull bytes out with mem_send); the socket
 * is probe_net.c's, blocking-style with poll() deadlines; TLS is OpenSSL's.
 *
 * The run, each step with its own deadline of --timeout ms:
 *   1. connect, TLS and ALPN (or the h2c preface), the server's SETTINGS,
 *      SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3);
 *   2. one extended CONNECT per version row (probe_defs[0..8): 13, 8, 7,
 *      99, none, 013, "13, 8", twice), all on their own streams at once,
 *      graded by probe_grade.c with r->h2 set (200 accepts, 400 refuses);
 *   3. on the version-13 stream after a 2xx: a masked text and a masked
 *      binary frame (the echo, or any valid server frame, expected), then
 *      a Close (the server's Close and END_STREAM expected, RFC 6455
 *      §5.5.1 with RFC 8441 §5's mapping of TCP closure to END_STREAM).
 * Then the report (probe_report.c) and the exit status.  The socket, TLS,
 * the nghttp2 session and the frames are probe_h2_net.c's (probe_h2.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "wsv.h"

#include "probe.h"
#include "probe_h2.h"

/* ---- the steps ----------------------------------------------------------- */

/* The steps of probe_h2_pump: 1 when the step is done. */

/* The server's SETTINGS came. */
static int h2_step_settings(struct probe_h2_conn *c) {
  return c->got_settings;
}

/* The version rows are done when every stream has its answer and its end
 * (or the WebSocket opened); a refused stream's side is ended here. */
static int h2_step_rows(struct probe_h2_conn *c) {
  int done = 1;
  for (size_t i = 0; i < PROBE_H2_COUNT; i++) {
    struct probe_h2_stream *st = &c->st[i];
    if (st->closed || st->rst || (st->headers_done && st->ws))
      continue;
    if (st->headers_done && st->end_stream) {
      probe_h2_end_ours(c, st);
      continue;
    }
    done = 0;
  }
  return done;
}

/* The version-13 stream, the one that carries the WebSocket. */
static struct probe_h2_stream *h2_ws_stream(struct probe_h2_conn *c) {
  return &c->st[0];
}

/* Two messages back, or anything that ends the exchange. */
static int h2_step_echo(struct probe_h2_conn *c) {
  struct probe_h2_stream *st = h2_ws_stream(c);
  return st->nmsgs >= 2 || st->server_close || st->frame_error[0] ||
         st->closed || st->rst || st->end_stream;
}

/* The stream's end (END_STREAM or a reset); our END_STREAM follows the
 * server's Close. */
static int h2_step_close(struct probe_h2_conn *c) {
  struct probe_h2_stream *st = h2_ws_stream(c);
  if (st->server_close)
    probe_h2_end_ours(c, st);
  return st->closed || st->rst || st->end_stream;
}

/* ---- grading the rows that are not handshakes ---------------------------- */

static struct probe_check *h2_check(struct probe_h2_report *h,
                                    enum probe_h2_check_id id,
                                    const char *name) {
  struct probe_check *k = &h->checks[id];
  k->name = name;
  k->run = 1;
  return k;
}

static void h2_set(struct probe_check *k, enum probe_verdict v, const char *fmt,
                   ...) WSV_PRINTF(3, 4);
static void h2_set(struct probe_check *k, enum probe_verdict v, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->why, sizeof k->why, fmt, ap);
  va_end(ap);
  k->verdict = v;
}

/* What ended the WebSocket stream early, for a row's "why": text into
 * dst[0..cap). */
static void h2_stream_end_text(const struct probe_h2_conn *c,
                               const struct probe_h2_stream *st, char *dst,
                               size_t cap) {
  if (st->rst)
    snprintf(dst, cap, "stream reset (%s)", probe_h2_code_name(st->rst_code));
  else if (st->closed)
    snprintf(dst, cap, "stream closed (%s)",
             probe_h2_code_name(st->close_code));
  else if (st->end_stream)
    snprintf(dst, cap, "END_STREAM without a Close");
  else if (c->err[0] != '\0')
    snprintf(dst, cap, "%.150s", c->err);
  else
    snprintf(dst, cap, "nothing within %d ms", c->o->timeout_ms);
}

/* The text and binary rows: the echo (or any valid message) passes, a
 * broken server frame or a stream that ends fails, silence warns. */
static void h2_grade_echo(const struct probe_h2_conn *c,
                          struct probe_h2_report *h) {
  const struct probe_h2_stream *st = &c->st[0];
  static const char *const names[2] = {"text", "binary"};
  static const char *const ops[16] = {
      "continuation", "text", "binary", "", "", "", "", "",
      "close",        "ping", "pong"};
  for (int i = 0; i < 2; i++) {
    struct probe_check *k =
        h2_check(h, i == 0 ? PROBE_H2_TEXT : PROBE_H2_BINARY, names[i]);
    snprintf(k->sent, sizeof k->sent, "masked %s, %zu B", names[i],
             i == 0 ? (size_t)PROBE_H2_TEXT_LEN : (size_t)H2_BINARY_LEN);
    if (!st->ws) {
      snprintf(k->got, sizeof k->got, "-");
      h2_set(k, PROBE_NA, "no 2xx to the version-13 CONNECT");
      continue;
    }
    if (st->nmsgs > i) {
      snprintf(k->got, sizeof k->got, "%s, %zu B%s", ops[st->msg_ops[i] & 15],
               st->msg_lens[i], st->msg_same[i] ? " (echo)" : "");
      if (st->msg_same[i])
        h2_set(k, PROBE_PASS, "echoed on the stream (RFC 8441 §5, §5.6)");
      else
        h2_set(k, PROBE_PASS,
               "a valid message back, not an echo (RFC 8441 §5, §5.6)");
      continue;
    }
    if (st->frame_error[0] != '\0') {
      snprintf(k->got, sizeof k->got, "bad frame");
      h2_set(k, PROBE_FAIL, "%s", st->frame_error);
      continue;
    }
    char end[160];
    h2_stream_end_text(c, st, end, sizeof end);
    if (st->server_close) {
      snprintf(k->got, sizeof k->got, "Close %d", st->close_status);
      h2_set(k, PROBE_WARN, "the server closed instead of answering");
    } else if (st->rst || st->closed || st->end_stream) {
      snprintf(k->got, sizeof k->got, "(stream ended)");
      h2_set(k, PROBE_FAIL, "%s after our masked frame (RFC 8441 §5)", end);
    } else {
      snprintf(k->got, sizeof k->got, "(nothing)");
      h2_set(k, PROBE_WARN, "no frame back within %d ms (not an echo server?)",
             c->o->timeout_ms);
    }
  }
}

/* The close row: after our Close (`sent`), the server's Close and
 * END_STREAM pass, RST_STREAM instead of END_STREAM warns, no Close or no
 * end of the stream fails. */
static void h2_grade_close(const struct probe_h2_conn *c,
                           struct probe_h2_report *h, int sent) {
  const struct probe_h2_stream *st = &c->st[0];
  struct probe_check *k = h2_check(h, PROBE_H2_CLOSE, "close");
  snprintf(k->sent, sizeof k->sent, "masked Close 1000");
  if (!st->ws || !sent) {
    snprintf(k->got, sizeof k->got, "-");
    h2_set(k, PROBE_NA,
           st->ws ? "the stream ended before our Close"
                  : "no 2xx to the version-13 CONNECT");
    return;
  }
  char end[160];
  h2_stream_end_text(c, st, end, sizeof end);
  if (st->frame_error[0] != '\0') {
    snprintf(k->got, sizeof k->got, "bad frame");
    h2_set(k, PROBE_FAIL, "%s", st->frame_error);
  } else if (!st->server_close) {
    snprintf(k->got, sizeof k->got, "no Close");
    h2_set(k, PROBE_FAIL, "%s (MUST answer a Close with a Close, §5.5.1)", end);
  } else if (st->end_stream) {
    snprintf(k->got, sizeof k->got, "Close %d, END_STREAM", st->close_status);
    h2_set(k, PROBE_PASS, "Close, then END_STREAM (§5.5.1, RFC 8441 §5)");
  } else if (st->rst) {
    snprintf(k->got, sizeof k->got, "Close %d, RST_STREAM", st->close_status);
    h2_set(k, PROBE_WARN,
           "%s instead of END_STREAM after the Close (orderly closure is "
           "END_STREAM, RFC 8441 §5)",
           end);
  } else {
    snprintf(k->got, sizeof k->got, "Close %d, no END_STREAM",
             st->close_status);
    h2_set(k, PROBE_FAIL,
           "%s: no END_STREAM after the Close (MUST close, §5.5.1; "
           "END_STREAM, RFC 8441 §5)",
           end);
  }
}

/* The answer fields of r, ":status: N; name: value; ..." into dst[0..cap)
 * for the report ("" without an answer). */
static void h2_fields_text(const struct probe_result *r, char *dst,
                           size_t cap) {
  dst[0] = '\0';
  if (!r->answered)
    return;
  probe_appendf(dst, cap, ":status: %d", r->status);
  for (size_t i = 0; i < r->nheaders; i++) {
    char n[64], v[128];
    probe_clean(n, sizeof n, r->headers[i].name.ptr, r->headers[i].name.len);
    probe_clean(v, sizeof v, r->headers[i].value.ptr, r->headers[i].value.len);
    probe_appendf(dst, cap, "; %s: %s", n, v);
  }
}

/* ---- the run ------------------------------------------------------------ */

/* Steps 2 and 3 on a live session with the setting; fills h. */
static void h2_run_rows(struct probe_h2_conn *c, struct probe_h2_report *h,
                        struct probe_result *rs, struct probe_summary *sum) {
  long long deadline = probe_now_ms() + c->o->timeout_ms;
  for (size_t i = 0; i < PROBE_H2_COUNT; i++) {
    rs[i].def = &probe_defs[i];
    rs[i].h2 = 1;
    c->st[i].r = &rs[i];
    c->st[i].msg_op = -1;
    c->st[i].close_status = -1;
  }
  int ok = 1;
  for (size_t i = 0; i < PROBE_H2_COUNT && ok; i++)
    ok = probe_h2_submit_row(c, i) == 0;
  if (ok)
    (void)probe_h2_pump(c, deadline, h2_step_rows);
  for (size_t i = 0; i < PROBE_H2_COUNT; i++) {
    struct probe_h2_stream *st = &c->st[i];
    struct probe_result *r = &rs[i];
    r->connected = 1;
    if (!r->answered) {
      if (st->rst)
        snprintf(r->error, sizeof r->error, "stream reset by the server (%s)",
                 probe_h2_code_name(st->rst_code));
      else if (st->closed)
        snprintf(r->error, sizeof r->error, "stream closed without an answer");
      else if (c->err[0] != '\0')
        snprintf(r->error, sizeof r->error, "%.150s", c->err);
      else
        snprintf(r->error, sizeof r->error, "no answer within %d ms",
                 c->o->timeout_ms);
    } else {
      probe_extract(r);
      probe_body_line(r);
      if (st->fields_dropped)
        snprintf(r->error, sizeof r->error,
                 "answer over %d bytes or %d fields: the rest not read",
                 PROBE_HEAD_MAX, PROBE_MAX_HEADERS);
    }
    probe_grade(r, sum);
  }
  probe_grade_summary(rs, PROBE_H2_COUNT, sum);
  h2_fields_text(&rs[0], h->v13_headers, sizeof h->v13_headers);
  if (c->timeout) {
    /* A row that never got its answer does not stop the frames. */
    c->err[0] = '\0';
    c->timeout = 0;
  }

  /* Step 3: frames on the version-13 stream. */
  struct probe_h2_stream *st = h2_ws_stream(c);
  int close_sent = 0;
  if (st->ws && c->err[0] == '\0' && !st->closed && !st->rst) {
    uint8_t bin[H2_BINARY_LEN];
    probe_h2_binary_payload(bin);
    probe_h2_ws_queue(c, st, WSV_OP_TEXT, (const uint8_t *)probe_h2_text,
                      (size_t)PROBE_H2_TEXT_LEN);
    probe_h2_ws_queue(c, st, WSV_OP_BINARY, bin, sizeof bin);
    deadline = probe_now_ms() + c->o->timeout_ms;
    (void)probe_h2_pump(c, deadline, h2_step_echo);
    if (c->timeout) {
      c->err[0] = '\0';
      c->timeout = 0;
    }
    if (c->err[0] == '\0' && !st->closed && !st->rst && !st->end_stream &&
        st->frame_error[0] == '\0') {
      /* Our Close: the start of the closing handshake, or the answer to
       * the server's. */
      static const uint8_t bye[2] = {0x03, 0xe8};
      probe_h2_ws_queue(c, st, WSV_OP_CLOSE, bye, sizeof bye);
      close_sent = 1;
      deadline = probe_now_ms() + c->o->timeout_ms;
      (void)probe_h2_pump(c, deadline, h2_step_close);
    }
  }
  h2_grade_echo(c, h);
  h2_grade_close(c, h, close_sent);
}

int probe_h2_main(const struct probe_opts *o, struct probe_target *t) {
  /* About 700 KB (results, stream buffers): static, not on the stack; one
   * run per process. */
  static struct probe_result rs[PROBE_H2_COUNT];
  static struct probe_h2_report h;
  static struct probe_h2_conn c;
  struct probe_summary sum;
  memset(rs, 0, sizeof rs);
  memset(&h, 0, sizeof h);
  memset(&c, 0, sizeof c);
  memset(&sum, 0, sizeof sum);
  h.sum = &sum;
  c.o = o;
  c.t = t;
  c.fd = -1;

  long long deadline = probe_now_ms() + o->timeout_ms;
  char err[200];
  if (o->verbose)
    fprintf(stderr, "--- connecting to %s port %s (%s)\n", t->host, t->port,
            t->secure ? "TLS, ALPN h2" : "h2c, prior knowledge");
  c.fd = probe_connect(t, deadline, err, sizeof err);
  if (c.fd < 0) {
    probe_fatal(o, err);
    return 2;
  }
  if (t->secure && probe_h2_tls_start(&c, deadline) != 0) {
    probe_fatal(o, c.err);
    probe_h2_conn_free(&c);
    return 2;
  }

  /* Step 1: ALPN (or the preface), SETTINGS, the setting. */
  struct probe_check *k;
  if (t->secure) {
    const unsigned char *p = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(c.ssl, &p, &len);
    k = h2_check(&h, PROBE_H2_ALPN, "alpn");
    snprintf(k->sent, sizeof k->sent, "h2, http/1.1");
    if (len > 0)
      probe_clean(k->got, sizeof k->got, (const char *)p, len);
    else
      snprintf(k->got, sizeof k->got, "(none)");
    if (len == 2 && memcmp(p, "h2", 2) == 0) {
      h2_set(k, PROBE_PASS, "the server chose h2 (RFC 9113 §3.2)");
    } else {
      h2_set(k, PROBE_NA, "no h2 (RFC 9113 §3.2): HTTP/2 not offered");
      h.unknown = 1;
      snprintf(h.unknown_why, sizeof h.unknown_why,
               "the server does not offer HTTP/2 (ALPN: %s); try without --h2",
               k->got);
    }
  } else {
    k = h2_check(&h, PROBE_H2_ALPN, "preface");
    snprintf(k->sent, sizeof k->sent, "h2c prior knowledge");
  }
  if (!h.unknown && probe_h2_session_new(&c) != 0) {
    probe_fatal(o, "cannot set up an HTTP/2 session");
    probe_h2_conn_free(&c);
    return 2;
  }
  if (!h.unknown) {
    (void)probe_h2_pump(&c, deadline, h2_step_settings);
    struct probe_check *ks = h2_check(&h, PROBE_H2_SETTINGS, "settings");
    snprintf(ks->sent, sizeof ks->sent, "SETTINGS");
    if (c.got_settings) {
      snprintf(ks->got, sizeof ks->got, "SETTINGS");
      h2_set(ks, PROBE_PASS,
             "the server's preface is SETTINGS (RFC 9113 §3.4)");
      if (!t->secure) {
        snprintf(k->got, sizeof k->got, "HTTP/2");
        h2_set(k, PROBE_PASS, "HTTP/2 with prior knowledge (RFC 9113 §3.3)");
      }
    } else if (!t->secure) {
      char first[40];
      probe_clean(first, sizeof first, (const char *)c.first,
                  c.first_len < 16 ? c.first_len : 16);
      int http1 = c.first_len >= 5 && memcmp(c.first, "HTTP/", 5) == 0;
      snprintf(k->got, sizeof k->got, "%s", c.first_len ? first : "(nothing)");
      h2_set(k, PROBE_NA, "no HTTP/2 with prior knowledge (RFC 9113 §3.3)");
      snprintf(ks->got, sizeof ks->got, "-");
      h2_set(ks, PROBE_NA, "%s", c.err[0] ? c.err : "no SETTINGS");
      h.unknown = 1;
      snprintf(h.unknown_why, sizeof h.unknown_why,
               "the server does not speak h2c: %s",
               http1 ? "it answered the preface with HTTP/1.x"
                     : (c.err[0] ? c.err : "no SETTINGS"));
    } else {
      snprintf(ks->got, sizeof ks->got, "%s",
               c.first_len ? "not SETTINGS" : "(nothing)");
      h2_set(ks, PROBE_FAIL, "%s (MUST send SETTINGS first, RFC 9113 §3.4)",
             c.err[0] ? c.err : "no SETTINGS");
    }
  }
  if (!h.unknown && c.got_settings) {
    uint32_t v = nghttp2_session_get_remote_settings(
        c.s, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL);
    k = h2_check(&h, PROBE_H2_ECP, "connect-protocol");
    snprintf(k->sent, sizeof k->sent, "-");
    snprintf(k->got, sizeof k->got, "ENABLE_CONNECT_PROTOCOL=%u", v);
    if (v == 1) {
      h2_set(k, PROBE_PASS, "extended CONNECT announced (RFC 8441 §3)");
      h2_run_rows(&c, &h, rs, &sum);
      h.rs = rs;
      h.nrs = PROBE_H2_COUNT;
    } else {
      h2_set(k, PROBE_NA,
             "not announced: no WebSockets over HTTP/2, clients use "
             "HTTP/1.1 (RFC 8441 §3)");
      h.unknown = 1;
      snprintf(h.unknown_why, sizeof h.unknown_why,
               "the server speaks HTTP/2 but does not send "
               "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)");
    }
  }
  if (c.s != NULL && c.err[0] == '\0') {
    nghttp2_session_terminate_session(c.s, NGHTTP2_NO_ERROR);
    (void)probe_h2_flush(&c, probe_now_ms() + 200);
  }
  if (c.ssl != NULL && c.err[0] == '\0')
    (void)SSL_shutdown(c.ssl);
  probe_h2_conn_free(&c);

  if (sum.inconclusive) {
    h.unknown = 1;
    snprintf(h.unknown_why, sizeof h.unknown_why, "%s", sum.inconclusive_why);
    for (size_t i = 0; i < h.nrs; i++)
      rs[i].verdict = PROBE_NA;
    sum.verdict = PROBE_NA;
  }
  for (size_t i = 0; i < PROBE_H2_CHECKS; i++) {
    if (!h.checks[i].run)
      continue;
    enum probe_verdict v = h.checks[i].verdict;
    sum.pass += v == PROBE_PASS;
    sum.warn += v == PROBE_WARN;
    sum.fail += v == PROBE_FAIL;
  }
  for (size_t i = 0; i <= h.nrs; i++) {
    if (h.nrs == 0)
      break;
    enum probe_verdict v = i < h.nrs ? rs[i].verdict : sum.verdict;
    sum.pass += v == PROBE_PASS;
    sum.warn += v == PROBE_WARN;
    sum.fail += v == PROBE_FAIL;
  }
  if (o->json)
    probe_h2_print_json(o, t, &h);
  else
    probe_h2_print_table(o, t, &h);
  fflush(stdout);
  if (sum.fail)
    return 1;
  return h.unknown ? 2 : 0;
}
