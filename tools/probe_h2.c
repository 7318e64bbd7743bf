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
 * Then the report (probe_report.c) and the exit status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "wsv.h"

#include "probe.h"

/* Sizes of the frames part. */
#define H2_WS_IN_MAX 65536  /* WebSocket bytes kept from the server */
#define H2_WS_OUT_MAX 1024  /* our frames waiting for the data provider */
#define H2_MSG_MAX 4096     /* a server message kept for comparison */
#define H2_BINARY_LEN 200   /* > 125: the 16-bit length form */

static const char h2_text[] = "wsv probe --h2: text \xc3\xa9\xe2\x82\xac";

/* One stream: a version row, and on the version-13 stream the WebSocket. */
struct h2_stream {
  int32_t id;
  struct probe_result *r;
  int interim;      /* inside a 1xx HEADERS block: its fields are skipped */
  int headers_done; /* the final response HEADERS arrived */
  int end_stream;   /* the server's END_STREAM */
  int rst;          /* the server's RST_STREAM, with rst_code */
  uint32_t rst_code;
  int closed; /* nghttp2 closed the stream, with close_code */
  uint32_t close_code;
  int fields_dropped; /* the answer had too many fields or bytes */
  int ws;             /* a 2xx came on the version-13 stream */
  /* Our side: bytes for the data provider, then END_STREAM when out_eof. */
  uint8_t out[H2_WS_OUT_MAX];
  size_t out_len, out_off;
  int out_eof;
  /* The server's WebSocket bytes and what they held. */
  uint8_t in[H2_WS_IN_MAX];
  size_t in_len, in_off;
  int in_overflow;
  char frame_error[120]; /* a server frame broke RFC 6455 */
  int msg_op;            /* opcode of the message being reassembled */
  size_t msg_len;
  uint8_t msg[H2_MSG_MAX];
  int nmsgs;
  int msg_ops[2];
  size_t msg_lens[2];
  int msg_same[2]; /* message i equals what we sent i-th */
  int server_close;
  int close_status; /* the code of the server's Close, or -1 */
  int pings;
};

struct h2_conn {
  const struct probe_opts *o;
  const struct probe_target *t;
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
  nghttp2_session *s;
  int got_settings;
  int goaway;
  uint32_t goaway_code;
  uint8_t first[24]; /* the first bytes from the server */
  size_t first_len;
  char err[200]; /* why the last step stopped short, "" if it did not */
  int timeout;   /* ... only because its deadline passed (the connection
                    lives on) */
  struct h2_stream st[PROBE_H2_COUNT];
};

/* ---- the socket: plain or TLS ------------------------------------------- */

static int h2_wait(int fd, short events, long long deadline) {
  struct pollfd p = {fd, events, 0};
  int pr;
  do
    pr = poll(&p, 1, probe_left_ms(deadline));
  while (pr < 0 && errno == EINTR);
  if (pr == 0)
    errno = ETIMEDOUT;
  return pr > 0 ? 0 : -1;
}

/* The last OpenSSL error as text into c->err, after `what`. */
static void h2_ssl_error(struct h2_conn *c, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[160];
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  else
    snprintf(buf, sizeof buf, "%s", errno ? strerror(errno) : "failed");
  snprintf(c->err, sizeof c->err, "%s: %s", what, buf);
  ERR_clear_error();
}

/* Send all of p[0..n) before deadline.  0, or -1 with c->err set. */
static int h2_send_all(struct h2_conn *c, const uint8_t *p, size_t n,
                       long long deadline) {
  while (n > 0) {
    if (c->ssl != NULL) {
      int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
      if (w > 0) {
        p += w;
        n -= (size_t)w;
        continue;
      }
      int e = SSL_get_error(c->ssl, w);
      if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
          h2_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                  deadline) == 0)
        continue;
      h2_ssl_error(c, "TLS write");
      return -1;
    }
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        h2_wait(c->fd, POLLOUT, deadline) == 0)
      continue;
    snprintf(c->err, sizeof c->err, "sending: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* Receive into buf[0..cap) before deadline.  The count (> 0), 0 at the end
 * of the connection, -1 with c->err set ("no answer within..." at the
 * deadline). */
static long h2_recv(struct h2_conn *c, uint8_t *buf, size_t cap,
                    long long deadline) {
  for (;;) {
    short ev = POLLIN;
    if (c->ssl != NULL) {
      int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
      if (n > 0)
        return n;
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
      if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
          (n == 0 || errno == ECONNRESET)) {
        ERR_clear_error();
        return 0;
      }
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        h2_ssl_error(c, "TLS read");
        return -1;
      }
      if (e == SSL_ERROR_WANT_WRITE)
        ev = POLLOUT;
    } else {
      ssize_t n = recv(c->fd, buf, cap, 0);
      if (n >= 0)
        return (long)n;
      if (errno == ECONNRESET)
        return 0;
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        snprintf(c->err, sizeof c->err, "reading: %s", strerror(errno));
        return -1;
      }
      if (errno == EINTR)
        continue;
    }
    if (h2_wait(c->fd, ev, deadline) != 0) {
      snprintf(c->err, sizeof c->err, "no answer within %d ms",
               c->o->timeout_ms);
      c->timeout = errno == ETIMEDOUT;
      return -1;
    }
  }
}

/* TLS 1.2 or later (RFC 9113 §9.2) with ALPN h2 and http/1.1, the
 * certificate checked as wsv connect checks it (--cacert, --insecure).
 * 0, or -1 with c->err set. */
static int h2_tls_start(struct h2_conn *c, long long deadline) {
  static const unsigned char alpn[] = "\x02h2\x08http/1.1";
  const struct probe_target *t = c->t;
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (c->ctx == NULL) {
    h2_ssl_error(c, "TLS setup");
    return -1;
  }
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(c->ctx, c->o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     NULL);
  if (c->o->cacert != NULL) {
    if (SSL_CTX_load_verify_locations(c->ctx, c->o->cacert, NULL) != 1) {
      h2_ssl_error(c, "--cacert");
      return -1;
    }
  } else if (!c->o->insecure && SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
    h2_ssl_error(c, "the system's CA store");
    return -1;
  }
  if (SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof alpn - 1) != 0) {
    h2_ssl_error(c, "ALPN");
    return -1;
  }
  c->ssl = SSL_new(c->ctx);
  if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
    h2_ssl_error(c, "TLS setup");
    return -1;
  }
  unsigned char ip[16];
  int is_ip = inet_pton(AF_INET, t->host, ip) == 1 ||
              inet_pton(AF_INET6, t->host, ip) == 1;
  if (!is_ip)
    SSL_set_tlsext_host_name(c->ssl, t->host);
  if (!c->o->insecure) {
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
                                                   t->host) == 1
                   : SSL_set1_host(c->ssl, t->host) == 1;
    if (!ok) {
      h2_ssl_error(c, "TLS host name");
      return -1;
    }
  }
  for (;;) {
    int rc = SSL_connect(c->ssl);
    if (rc == 1)
      return 0;
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (h2_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                  deadline) == 0)
        continue;
      snprintf(c->err, sizeof c->err, "TLS handshake: no answer within %d ms",
               c->o->timeout_ms);
      return -1;
    }
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK) {
      snprintf(c->err, sizeof c->err,
               "TLS: certificate verify failed: %s (--cacert FILE or -k)",
               X509_verify_cert_error_string(v));
      ERR_clear_error();
      return -1;
    }
    h2_ssl_error(c, "TLS handshake");
    return -1;
  }
}

/* ---- the WebSocket on the version-13 stream ------------------------------ */

/* Queue one masked frame (FIN set) for the stream's data provider. */
static void h2_ws_queue(struct h2_conn *c, struct h2_stream *st, int op,
                        const uint8_t *p, size_t len) {
  struct wsv_frame_header h;
  memset(&h, 0, sizeof h);
  h.fin = 1;
  h.opcode = op;
  h.masked = 1;
  h.len = len;
  if (wsv_random_os(NULL, h.mask, sizeof h.mask) != 0)
    memset(h.mask, 0x5a, sizeof h.mask);
  if (st->out_len + WSV_FRAME_MAX_HEADER + len > sizeof st->out)
    return;
  int hl = wsv_frame_header_encode(st->out + st->out_len, &h);
  if (hl < 0)
    return;
  st->out_len += (size_t)hl;
  memcpy(st->out + st->out_len, p, len);
  wsv_frame_mask(st->out + st->out_len, len, h.mask, 0);
  st->out_len += len;
  if (c->o->verbose)
    fprintf(stderr, "> stream %d: masked frame, opcode %d, %zu bytes\n",
            (int)st->id, op, len);
  nghttp2_session_resume_data(c->s, st->id);
}

/* End our side of the stream (END_STREAM after what is queued). */
static void h2_end_ours(struct h2_conn *c, struct h2_stream *st) {
  if (st->out_eof || st->closed)
    return;
  st->out_eof = 1;
  nghttp2_session_resume_data(c->s, st->id);
}

static void h2_binary_payload(uint8_t *p) {
  for (size_t i = 0; i < H2_BINARY_LEN; i++)
    p[i] = (uint8_t)(255 - i);
}

/* A whole server message: kept for the text and binary rows. */
static void h2_ws_message(struct h2_stream *st) {
  if (st->nmsgs < 2) {
    int i = st->nmsgs;
    st->msg_ops[i] = st->msg_op;
    st->msg_lens[i] = st->msg_len;
    if (i == 0)
      st->msg_same[0] = st->msg_op == WSV_OP_TEXT &&
                        st->msg_len == sizeof h2_text - 1 &&
                        memcmp(st->msg, h2_text, st->msg_len) == 0;
    else {
      uint8_t want[H2_BINARY_LEN];
      h2_binary_payload(want);
      st->msg_same[1] = st->msg_op == WSV_OP_BINARY &&
                        st->msg_len == sizeof want &&
                        memcmp(st->msg, want, sizeof want) == 0;
    }
  }
  st->nmsgs++;
  st->msg_len = 0;
  st->msg_op = -1;
}

/* Read the whole frames in st->in (the client's parser: server frames
 * must not be masked, no RSV bits as no extension was offered), answer a
 * Ping, note a Close; a broken frame stops the reading. */
static void h2_ws_read(struct h2_conn *c, struct h2_stream *st) {
  while (st->frame_error[0] == '\0' && st->in_off < st->in_len) {
    struct wsv_frame_parser p;
    struct wsv_frame_header h;
    wsv_frame_parser_init(&p, WSV_ROLE_CLIENT, 0, H2_WS_IN_MAX);
    const uint8_t *b = st->in + st->in_off;
    size_t avail = st->in_len - st->in_off;
    int hl = wsv_frame_parse(&p, b, avail, &h);
    if (hl == WSV_ERR_AGAIN)
      return;
    if (hl < 0) {
      char c8[40];
      probe_clean(c8, sizeof c8, (const char *)b, avail < 4 ? avail : 4);
      snprintf(st->frame_error, sizeof st->frame_error,
               "server frame %s breaks §5.1/§5.2 (%s)", c8, wsv_strerror(hl));
      return;
    }
    if (avail - (size_t)hl < h.len)
      return;
    const uint8_t *pl = b + hl;
    st->in_off += (size_t)hl + (size_t)h.len;
    if (c->o->verbose)
      fprintf(stderr, "< stream %d: frame, opcode %d, %llu bytes%s\n",
              (int)st->id, h.opcode, (unsigned long long)h.len,
              h.fin ? "" : " (not FIN)");
    if (st->server_close) {
      snprintf(st->frame_error, sizeof st->frame_error,
               "a frame after the server's Close (§5.5.1)");
      return;
    }
    if (h.opcode == WSV_OP_CLOSE) {
      st->server_close = 1;
      st->close_status = h.len >= 2 ? (pl[0] << 8 | pl[1]) : -1;
      if (h.len == 1)
        snprintf(st->frame_error, sizeof st->frame_error,
                 "a Close with a 1-byte body (§5.5.1)");
      continue;
    }
    if (h.opcode == WSV_OP_PING) {
      st->pings++;
      h2_ws_queue(c, st, WSV_OP_PONG, pl, (size_t)h.len);
      continue;
    }
    if (h.opcode == WSV_OP_PONG)
      continue;
    if (h.opcode == WSV_OP_CONT && st->msg_op < 0) {
      snprintf(st->frame_error, sizeof st->frame_error,
               "a continuation frame with no message to continue (§5.4)");
      return;
    }
    if (h.opcode != WSV_OP_CONT && st->msg_op >= 0) {
      snprintf(st->frame_error, sizeof st->frame_error,
               "a new message inside a fragmented one (§5.4)");
      return;
    }
    if (h.opcode != WSV_OP_CONT)
      st->msg_op = h.opcode;
    size_t take = (size_t)h.len;
    if (st->msg_len + take > sizeof st->msg)
      take = sizeof st->msg - st->msg_len;
    memcpy(st->msg + st->msg_len, pl, take);
    st->msg_len += take;
    if (h.fin) {
      if (st->msg_op == WSV_OP_TEXT &&
          wsv_utf8_valid(st->msg, st->msg_len) != WSV_OK) {
        snprintf(st->frame_error, sizeof st->frame_error,
                 "a text message that is not UTF-8 (§8.1)");
        return;
      }
      h2_ws_message(st);
    }
  }
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static struct h2_stream *h2_stream_of(nghttp2_session *s, int32_t id) {
  return id > 0 ? nghttp2_session_get_stream_user_data(s, id) : NULL;
}

static ssize_t h2_send_cb(nghttp2_session *s, int32_t id, uint8_t *buf,
                          size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud) {
  (void)s;
  (void)id;
  (void)ud;
  struct h2_stream *st = src->ptr;
  size_t n = st->out_len - st->out_off;
  if (n > length)
    n = length;
  if (n > 0) {
    memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out_len)
      st->out_off = st->out_len = 0;
    return (ssize_t)n;
  }
  if (st->out_eof) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  return NGHTTP2_ERR_DEFERRED;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f,
                        const uint8_t *name, size_t nlen, const uint8_t *value,
                        size_t vlen, uint8_t flags, void *ud) {
  (void)flags;
  struct h2_conn *c = ud;
  struct h2_stream *st = h2_stream_of(s, f->hd.stream_id);
  if (f->hd.type != NGHTTP2_HEADERS || st == NULL || st->headers_done)
    return 0;
  struct probe_result *r = st->r;
  if (c->o->verbose) {
    char n[80], v[200];
    probe_clean(n, sizeof n, (const char *)name, nlen);
    probe_clean(v, sizeof v, (const char *)value, vlen);
    fprintf(stderr, "< stream %d: %s: %s\n", (int)st->id, n, v);
  }
  if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
    int code = 0;
    for (size_t i = 0; i < vlen && i < 3; i++)
      code = code * 10 + (value[i] - '0');
    st->interim = code >= 100 && code < 200;
    if (!st->interim) {
      r->status = code;
      snprintf(r->reason, sizeof r->reason, "(HTTP/2)");
    }
    return 0;
  }
  if (st->interim)
    return 0;
  if (r->nheaders == PROBE_MAX_HEADERS ||
      r->len + nlen + vlen > PROBE_HEAD_MAX) {
    st->fields_dropped = 1;
    return 0;
  }
  char *at = r->buf + r->len;
  memcpy(at, name, nlen);
  memcpy(at + nlen, value, vlen);
  r->headers[r->nheaders].name.ptr = at;
  r->headers[r->nheaders].name.len = nlen;
  r->headers[r->nheaders].value.ptr = at + nlen;
  r->headers[r->nheaders].value.len = vlen;
  r->nheaders++;
  r->len += nlen + vlen;
  return 0;
}

static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  struct h2_conn *c = ud;
  if (f->hd.type == NGHTTP2_SETTINGS) {
    if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
      c->got_settings = 1;
    return 0;
  }
  if (f->hd.type == NGHTTP2_GOAWAY) {
    c->goaway = 1;
    c->goaway_code = f->goaway.error_code;
    return 0;
  }
  struct h2_stream *st = h2_stream_of(s, f->hd.stream_id);
  if (st == NULL)
    return 0;
  if (f->hd.type == NGHTTP2_RST_STREAM) {
    st->rst = 1;
    st->rst_code = f->rst_stream.error_code;
    return 0;
  }
  if (f->hd.type == NGHTTP2_HEADERS && !st->headers_done) {
    if (st->interim) {
      st->interim = 0;
      return 0;
    }
    st->headers_done = 1;
    st->r->answered = st->r->status > 0;
    st->r->head_len = st->r->len;
    if (st->r->status >= 200 && st->r->status < 300) {
      if (st->r->def->version == 13 && st->r->def->kind == PROBE_KNOWN)
        st->ws = 1;
      else
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    }
  }
  if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    st->end_stream = 1;
    if (c->o->verbose)
      fprintf(stderr, "< stream %d: END_STREAM\n", (int)st->id);
  }
  return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
                      const uint8_t *data, size_t len, void *ud) {
  (void)flags;
  struct h2_conn *c = ud;
  struct h2_stream *st = h2_stream_of(s, id);
  if (st == NULL)
    return 0;
  if (st->ws) {
    size_t room = sizeof st->in - st->in_len;
    if (len > room) {
      st->in_overflow = 1;
      len = room;
    }
    memcpy(st->in + st->in_len, data, len);
    st->in_len += len;
    h2_ws_read(c, st);
    return 0;
  }
  struct probe_result *r = st->r;
  size_t room = sizeof r->buf - r->len;
  if (r->len - r->head_len + len > PROBE_BODY_MAX)
    len = PROBE_BODY_MAX > r->len - r->head_len
              ? PROBE_BODY_MAX - (r->len - r->head_len)
              : 0;
  if (len > room)
    len = room;
  memcpy(r->buf + r->len, data, len);
  r->len += len;
  return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code,
                       void *ud) {
  (void)ud;
  struct h2_stream *st = h2_stream_of(s, id);
  if (st != NULL) {
    st->closed = 1;
    st->close_code = code;
  }
  return 0;
}

/* ---- the session ---------------------------------------------------------- */

/* Write what the session has to send.  0, or -1 with c->err set. */
static int h2_flush(struct h2_conn *c, long long deadline) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->s, &data);
    if (n < 0) {
      snprintf(c->err, sizeof c->err, "HTTP/2: %s", nghttp2_strerror((int)n));
      return -1;
    }
    if (n == 0)
      return 0;
    if (h2_send_all(c, data, (size_t)n, deadline) != 0)
      return -1;
  }
}

/* Run the connection until step(c) says it is done (1) or deadline.
 * step may queue frames; it runs before every write.  0 when done, -1
 * with c->err set otherwise. */
static int h2_pump(struct h2_conn *c, long long deadline,
                   int (*step)(struct h2_conn *)) {
  uint8_t buf[16384];
  for (;;) {
    int done = step(c);
    if (h2_flush(c, deadline) != 0)
      return -1;
    if (done)
      return 0;
    if (c->err[0] != '\0')
      return -1;
    if (!nghttp2_session_want_read(c->s)) {
      snprintf(c->err, sizeof c->err, "the HTTP/2 connection ended%s",
               c->goaway ? " (GOAWAY)" : "");
      return -1;
    }
    long n = h2_recv(c, buf, sizeof buf, deadline);
    if (n == 0) {
      snprintf(c->err, sizeof c->err, "the server closed the connection%s",
               c->goaway ? " after GOAWAY" : "");
      return -1;
    }
    if (n < 0)
      return -1;
    if (c->first_len < sizeof c->first) {
      size_t k = sizeof c->first - c->first_len;
      if (k > (size_t)n)
        k = (size_t)n;
      memcpy(c->first + c->first_len, buf, k);
      c->first_len += k;
    }
    ssize_t rv = nghttp2_session_mem_recv(c->s, buf, (size_t)n);
    if (rv < 0) {
      snprintf(c->err, sizeof c->err, "HTTP/2 error: %s",
               nghttp2_strerror((int)rv));
      return -1;
    }
  }
}

static int h2_session_new(struct h2_conn *c) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return -1;
  nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
  int rv = nghttp2_session_client_new(&c->s, cb, c);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0)
    return -1;
  nghttp2_settings_entry iv[1] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  return nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 1) == 0 ? 0 : -1;
}

static void h2_conn_free(struct h2_conn *c) {
  if (c->s != NULL)
    nghttp2_session_del(c->s);
  if (c->ssl != NULL)
    SSL_free(c->ssl);
  if (c->ctx != NULL)
    SSL_CTX_free(c->ctx);
  if (c->fd >= 0)
    close(c->fd);
}

/* ---- the steps ------------------------------------------------------------ */

static int h2_step_settings(struct h2_conn *c) {
  return c->got_settings;
}

/* The version rows are done when every stream has its answer and its end
 * (or the WebSocket opened); a refused stream's side is ended here. */
static int h2_step_rows(struct h2_conn *c) {
  int done = 1;
  for (size_t i = 0; i < PROBE_H2_COUNT; i++) {
    struct h2_stream *st = &c->st[i];
    if (st->closed || st->rst || (st->headers_done && st->ws))
      continue;
    if (st->headers_done && st->end_stream) {
      h2_end_ours(c, st);
      continue;
    }
    done = 0;
  }
  return done;
}

static struct h2_stream *h2_ws_stream(struct h2_conn *c) {
  return &c->st[0];
}

static int h2_step_echo(struct h2_conn *c) {
  struct h2_stream *st = h2_ws_stream(c);
  return st->nmsgs >= 2 || st->server_close || st->frame_error[0] ||
         st->closed || st->rst || st->end_stream;
}

static int h2_step_close(struct h2_conn *c) {
  struct h2_stream *st = h2_ws_stream(c);
  if (st->server_close)
    h2_end_ours(c, st);
  return st->closed || st->rst || (st->server_close && st->end_stream) ||
         (st->end_stream && !st->server_close);
}

/* Submit the extended CONNECT of row i.  0, or -1 with c->err set. */
static int h2_submit_row(struct h2_conn *c, size_t i) {
  struct h2_stream *st = &c->st[i];
  const struct probe_def *d = st->r->def;
  const struct probe_target *t = c->t;
  char ua[48];
  snprintf(ua, sizeof ua, "wsv-probe/%s", wsv_version_string());
#define H2_NV(n, v)                                                            \
  {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1,      \
   strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nv[9] = {
      H2_NV(":method", "CONNECT"),
      H2_NV(":protocol", "websocket"),
      H2_NV(":scheme", t->secure ? "https" : "http"),
      H2_NV(":path", t->path),
      H2_NV(":authority", t->host_hdr),
      H2_NV("user-agent", ua),
  };
  size_t n = 6;
  for (size_t k = 0; k < 3 && d->values[k] != NULL; k++) {
    nghttp2_nv v = H2_NV("sec-websocket-version", d->values[k]);
    nv[n++] = v;
  }
#undef H2_NV
  if (c->o->verbose) {
    fprintf(stderr, "--- %s:\n", d->name);
    for (size_t k = 0; k < n; k++)
      fprintf(stderr, "> %.*s: %.*s\n", (int)nv[k].namelen,
              (const char *)nv[k].name, (int)nv[k].valuelen,
              (const char *)nv[k].value);
  }
  nghttp2_data_provider prd;
  prd.source.ptr = st;
  prd.read_callback = h2_send_cb;
  int32_t id = nghttp2_submit_request(c->s, NULL, nv, n, &prd, st);
  if (id < 0) {
    snprintf(c->err, sizeof c->err, "HTTP/2 request: %s", nghttp2_strerror(id));
    return -1;
  }
  st->id = id;
  return 0;
}

/* ---- grading the rows that are not handshakes ----------------------------- */

static struct probe_check *h2_check(struct probe_h2_report *h,
                                    enum probe_h2_check_id id,
                                    const char *name) {
  struct probe_check *k = &h->checks[id];
  k->name = name;
  k->run = 1;
  return k;
}

static void h2_set(struct probe_check *k, enum probe_verdict v,
                   const char *fmt, ...) WSV_PRINTF(3, 4);
static void h2_set(struct probe_check *k, enum probe_verdict v,
                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->why, sizeof k->why, fmt, ap);
  va_end(ap);
  k->verdict = v;
}

static const char *h2_code_name(uint32_t code) {
  return nghttp2_http2_strerror(code);
}

/* What ended the WebSocket stream early, for a row's "why". */
static void h2_stream_end_text(const struct h2_conn *c,
                               const struct h2_stream *st, char *dst,
                               size_t cap) {
  if (st->rst)
    snprintf(dst, cap, "stream reset (%s)", h2_code_name(st->rst_code));
  else if (st->closed)
    snprintf(dst, cap, "stream closed (%s)", h2_code_name(st->close_code));
  else if (st->end_stream)
    snprintf(dst, cap, "END_STREAM without a Close");
  else if (c->err[0] != '\0')
    snprintf(dst, cap, "%.150s", c->err);
  else
    snprintf(dst, cap, "nothing within %d ms", c->o->timeout_ms);
}

static void h2_grade_echo(const struct h2_conn *c, struct probe_h2_report *h) {
  const struct h2_stream *st = &c->st[0];
  static const char *const names[2] = {"text", "binary"};
  static const char *const ops[16] = {"continuation", "text", "binary", "", "",
                                      "", "", "", "close", "ping", "pong"};
  for (int i = 0; i < 2; i++) {
    struct probe_check *k =
        h2_check(h, i == 0 ? PROBE_H2_TEXT : PROBE_H2_BINARY, names[i]);
    snprintf(k->sent, sizeof k->sent, "masked %s, %zu B", names[i],
             i == 0 ? sizeof h2_text - 1 : (size_t)H2_BINARY_LEN);
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

static void h2_grade_close(const struct h2_conn *c, struct probe_h2_report *h,
                           int sent) {
  const struct h2_stream *st = &c->st[0];
  struct probe_check *k = h2_check(h, PROBE_H2_CLOSE, "close");
  snprintf(k->sent, sizeof k->sent, "masked Close 1000");
  if (!st->ws || !sent) {
    snprintf(k->got, sizeof k->got, "-");
    h2_set(k, PROBE_NA, st->ws ? "the stream ended before our Close"
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
    h2_set(k, PROBE_FAIL, "%s (MUST answer a Close with a Close, §5.5.1)",
           end);
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

/* The answer fields of row 0, "name: value; ..." for the report. */
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
static void h2_run_rows(struct h2_conn *c, struct probe_h2_report *h,
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
    ok = h2_submit_row(c, i) == 0;
  if (ok)
    (void)h2_pump(c, deadline, h2_step_rows);
  for (size_t i = 0; i < PROBE_H2_COUNT; i++) {
    struct h2_stream *st = &c->st[i];
    struct probe_result *r = &rs[i];
    r->connected = 1;
    if (!r->answered) {
      if (st->rst)
        snprintf(r->error, sizeof r->error, "stream reset by the server (%s)",
                 h2_code_name(st->rst_code));
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
  struct h2_stream *st = h2_ws_stream(c);
  int close_sent = 0;
  if (st->ws && c->err[0] == '\0' && !st->closed && !st->rst) {
    uint8_t bin[H2_BINARY_LEN];
    h2_binary_payload(bin);
    h2_ws_queue(c, st, WSV_OP_TEXT, (const uint8_t *)h2_text,
                sizeof h2_text - 1);
    h2_ws_queue(c, st, WSV_OP_BINARY, bin, sizeof bin);
    deadline = probe_now_ms() + c->o->timeout_ms;
    (void)h2_pump(c, deadline, h2_step_echo);
    if (c->timeout) {
      c->err[0] = '\0';
      c->timeout = 0;
    }
    if (c->err[0] == '\0' && !st->closed && !st->rst && !st->end_stream &&
        st->frame_error[0] == '\0') {
      /* Our Close: the start of the closing handshake, or the answer to
       * the server's. */
      static const uint8_t bye[2] = {0x03, 0xe8};
      h2_ws_queue(c, st, WSV_OP_CLOSE, bye, sizeof bye);
      close_sent = 1;
      deadline = probe_now_ms() + c->o->timeout_ms;
      (void)h2_pump(c, deadline, h2_step_close);
    }
  }
  h2_grade_echo(c, h);
  h2_grade_close(c, h, close_sent);
}

int probe_h2_main(const struct probe_opts *o, struct probe_target *t) {
  static struct probe_result rs[PROBE_H2_COUNT];
  static struct probe_h2_report h;
  static struct h2_conn c;
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
  if (t->secure && h2_tls_start(&c, deadline) != 0) {
    probe_fatal(o, c.err);
    h2_conn_free(&c);
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
  if (!h.unknown && h2_session_new(&c) != 0) {
    probe_fatal(o, "cannot set up an HTTP/2 session");
    h2_conn_free(&c);
    return 2;
  }
  if (!h.unknown) {
    (void)h2_pump(&c, deadline, h2_step_settings);
    struct probe_check *ks = h2_check(&h, PROBE_H2_SETTINGS, "settings");
    snprintf(ks->sent, sizeof ks->sent, "SETTINGS");
    if (c.got_settings) {
      snprintf(ks->got, sizeof ks->got, "SETTINGS");
      h2_set(ks, PROBE_PASS, "the server's preface is SETTINGS (RFC 9113 §3.4)");
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
      h2_set(k, PROBE_PASS,
             "extended CONNECT announced (RFC 8441 §3)");
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
    (void)h2_flush(&c, probe_now_ms() + 200);
  }
  if (c.ssl != NULL && c.err[0] == '\0')
    (void)SSL_shutdown(c.ssl);
  h2_conn_free(&c);

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
