/*
 * probe_h2_net.c - the connection side of `wsv probe --h2` (probe_h2.c
 * runs it): the socket (probe_net.c's, blocking-style with poll()
 * deadlines), TLS with ALPN h2 (OpenSSL), Debian's libnghttp2 client
 * session (bytes pushed in with nghttp2_session_mem_recv, pulled out with
 * mem_send) and its callbacks, which record each stream's answer into its
 * probe_result, and the RFC 6455 frames on the version-13 stream: ours
 * masked, the server's read with the core's frame parser (client role:
 * unmasked, no RSV bits, as no extension is offered).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "wsv.h"

#include "probe.h"
#include "probe_h2.h"

const char probe_h2_text[] = "wsv probe --h2: text \xc3\xa9\xe2\x82\xac";
_Static_assert(sizeof probe_h2_text - 1 == PROBE_H2_TEXT_LEN,
               "PROBE_H2_TEXT_LEN is the text's length");

/* ---- the socket: plain or TLS ------------------------------------------- */

/* Wait for `events` on fd until deadline: 0, or -1 (errno ETIMEDOUT at
 * the deadline). */
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
static void h2_ssl_error(struct probe_h2_conn *c, const char *what) {
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
static int h2_send_all(struct probe_h2_conn *c, const uint8_t *p, size_t n,
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
static long h2_recv(struct probe_h2_conn *c, uint8_t *buf, size_t cap,
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
int probe_h2_tls_start(struct probe_h2_conn *c, long long deadline) {
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
  char sni[256]; /* SNI: a mutable copy (the macro casts away const) */
  if (!is_ip && strlen(t->host) < sizeof sni) {
    memcpy(sni, t->host, strlen(t->host) + 1);
    (void)SSL_set_tlsext_host_name(c->ssl, sni);
  }
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
void probe_h2_ws_queue(struct probe_h2_conn *c, struct probe_h2_stream *st,
                       int op, const uint8_t *p, size_t len) {
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
void probe_h2_end_ours(struct probe_h2_conn *c, struct probe_h2_stream *st) {
  if (st->out_eof || st->closed)
    return;
  st->out_eof = 1;
  nghttp2_session_resume_data(c->s, st->id);
}

/* 255, 254, ... down: bytes that are not text. */
void probe_h2_binary_payload(uint8_t *p) {
  for (size_t i = 0; i < H2_BINARY_LEN; i++)
    p[i] = (uint8_t)(255 - i);
}

/* A whole server message: kept for the text and binary rows. */
static void h2_ws_message(struct probe_h2_stream *st) {
  if (st->nmsgs < 2) {
    int i = st->nmsgs;
    st->msg_ops[i] = st->msg_op;
    st->msg_lens[i] = st->msg_len;
    if (i == 0)
      st->msg_same[0] = st->msg_op == WSV_OP_TEXT &&
                        st->msg_len == PROBE_H2_TEXT_LEN &&
                        memcmp(st->msg, probe_h2_text, st->msg_len) == 0;
    else {
      uint8_t want[H2_BINARY_LEN];
      probe_h2_binary_payload(want);
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
static void h2_ws_read(struct probe_h2_conn *c, struct probe_h2_stream *st) {
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
      probe_h2_ws_queue(c, st, WSV_OP_PONG, pl, (size_t)h.len);
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

/* ---- nghttp2 callbacks --------------------------------------------------- */

/* The callbacks record into the probe_h2_stream set as each stream's
 * user data (probe_h2_submit_row); frames of other streams are ignored. */
static struct probe_h2_stream *h2_stream_of(nghttp2_session *s, int32_t id) {
  return id > 0 ? nghttp2_session_get_stream_user_data(s, id) : NULL;
}

/* The data provider of our side of a stream: the queued frames, then
 * END_STREAM once out_eof; deferred while there is nothing. */
static ssize_t h2_send_cb(nghttp2_session *s, int32_t id, uint8_t *buf,
                          size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud) {
  (void)s;
  (void)id;
  (void)ud;
  struct probe_h2_stream *st = src->ptr;
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

/* A field of a response: :status into r->status, the others copied into
 * r->buf as r->headers views (1xx blocks and trailers skipped). */
static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f,
                        const uint8_t *name, size_t nlen, const uint8_t *value,
                        size_t vlen, uint8_t flags, void *ud) {
  (void)flags;
  struct probe_h2_conn *c = ud;
  struct probe_h2_stream *st = h2_stream_of(s, f->hd.stream_id);
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

/* A whole frame: SETTINGS, GOAWAY, RST_STREAM, the end of a response's
 * HEADERS (a 2xx opens the WebSocket on the version-13 stream and resets
 * any other), END_STREAM. */
static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  struct probe_h2_conn *c = ud;
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
  struct probe_h2_stream *st = h2_stream_of(s, f->hd.stream_id);
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

/* DATA: WebSocket bytes on an open WebSocket, else the body (its first
 * PROBE_BODY_MAX bytes kept after the fields). */
static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
                      const uint8_t *data, size_t len, void *ud) {
  (void)flags;
  struct probe_h2_conn *c = ud;
  struct probe_h2_stream *st = h2_stream_of(s, id);
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

/* The stream is closed (both ends, or reset). */
static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code,
                       void *ud) {
  (void)ud;
  struct probe_h2_stream *st = h2_stream_of(s, id);
  if (st != NULL) {
    st->closed = 1;
    st->close_code = code;
  }
  return 0;
}

/* ---- the session --------------------------------------------------------- */

/* Write what the session has to send.  0, or -1 with c->err set. */
int probe_h2_flush(struct probe_h2_conn *c, long long deadline) {
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
int probe_h2_pump(struct probe_h2_conn *c, long long deadline,
                  int (*step)(struct probe_h2_conn *)) {
  uint8_t buf[16384];
  for (;;) {
    int done = step(c);
    if (probe_h2_flush(c, deadline) != 0)
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

/* Our SETTINGS: ENABLE_PUSH = 0; nghttp2 opens the windows as it reads
 * (automatic WINDOW_UPDATE). */
int probe_h2_session_new(struct probe_h2_conn *c) {
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

void probe_h2_conn_free(struct probe_h2_conn *c) {
  if (c->s != NULL)
    nghttp2_session_del(c->s);
  if (c->ssl != NULL)
    SSL_free(c->ssl);
  if (c->ctx != NULL)
    SSL_CTX_free(c->ctx);
  if (c->fd >= 0)
    close(c->fd);
}

int probe_h2_submit_row(struct probe_h2_conn *c, size_t i) {
  struct probe_h2_stream *st = &c->st[i];
  const struct probe_def *d = st->r->def;
  const struct probe_target *t = c->t;
  char ua[48];
  snprintf(ua, sizeof ua, "wsv-probe/%s", wsv_version_string());
#define H2_NV(n, v)                                                            \
  {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1,        \
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

/* nghttp2's name of an RFC 9113 §7 error code. */
const char *probe_h2_code_name(uint32_t code) {
  return nghttp2_http2_strerror(code);
}
