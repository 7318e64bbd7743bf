/*
 * rt_h2_test.c - the runtime's HTTP/2 (RFC 9113) and WebSockets over it
 * (RFC 8441), tested from outside: an independent HTTP/2 client made of
 * libnghttp2's client session (h2c with prior knowledge over a loopback
 * socket, or TLS with ALPN h2 through OpenSSL) plays the peer, and the
 * runtime's own client (wsv_client_config.http, .share) is tried against
 * the same server.  The server runs on its own thread (one worker, so its
 * callbacks may keep thread-local pointers); the test's client is driven
 * by the test's thread with bounded waits.  WebSocket frames on the
 * streams are built and parsed here by hand (masked from the client,
 * unmasked from the server).  A self-signed certificate is made at run
 * time with the openssl command in a temporary directory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
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
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "support/rt_fixture.h"

/* What src/rt/h2.h announces: each stream's receive window. */
#define H2S_WINDOW ((int32_t)256 << 10)

static char g_dir[64];

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *path_of(const char *name) {
  static char bufs[4][160];
  static int k;
  char *b = bufs[k++ % 4];
  snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
  return b;
}

static int group_setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/wsv-h2-XXXXXX");
  if (mkdtemp(g_dir) == NULL)
    return -1;
  char cmd[640];
  snprintf(cmd, sizeof cmd,
           "cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n'"
           " > ok.ext && openssl req -x509 -newkey ec -pkeyopt"
           " ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.pem"
           " -subj /CN=localhost -days 2 -addext"
           " subjectAltName=DNS:localhost,IP:127.0.0.1 >make.log 2>&1",
           g_dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "making the certificate failed: see %s/make.log\n", g_dir);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- the server --------------------------------------------------------- */

/* What the server's callbacks saw beyond rtf_srv (server threads). */
static struct {
  atomic_int h2_opens;     /* opens with wsv_ws_http2 1 */
  atomic_int policy;       /* a flood send refused (WSV_ERR_POLICY) */
  atomic_size_t max_queue; /* most output queued server-wide in a flood */
  atomic_int close_1008;   /* closes with code 1008 */
} g_srv;

/* The paused WebSocket of path /stall (the server's one thread only). */
static struct wsv_ws *g_stalled;

static void s_open(struct wsv_ws *ws, void *user) {
  rtf_s_open(ws, user);
  if (wsv_ws_http2(ws) == 1)
    atomic_fetch_add(&g_srv.h2_opens, 1);
  if (strcmp(wsv_ws_path(ws), "/stall") == 0) {
    if (wsv_ws_pause(ws, 1) != 0)
      atomic_fetch_add(&rtf_srv.bad, 1);
    g_stalled = ws;
  }
}

/* "resume" resumes /stall and answers "resumed"; "abort" aborts this
 * WebSocket; "flood" sends 64 KiB messages until a send is refused;
 * anything else goes to the fixture (echo, "close-me"). */
static void s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  if (n == 6 && memcmp(d, "resume", 6) == 0) {
    if (g_stalled == NULL || wsv_ws_pause(g_stalled, 0) != 0)
      atomic_fetch_add(&rtf_srv.bad, 1);
    (void)wsv_ws_send_text(ws, "resumed", 7);
    return;
  }
  if (n == 5 && memcmp(d, "abort", 5) == 0) {
    wsv_ws_abort(ws);
    return;
  }
  if (n == 5 && memcmp(d, "flood", 5) == 0) {
    static uint8_t chunk[65536];
    for (int i = 0; i < 256; i++) {
      int rc = wsv_ws_send_binary(ws, chunk, sizeof chunk);
      size_t q = wsv_server_output_queued(wsv_ws_server(ws));
      if (q > atomic_load(&g_srv.max_queue))
        atomic_store(&g_srv.max_queue, q);
      if (rc == WSV_ERR_POLICY)
        atomic_fetch_add(&g_srv.policy, 1);
      if (rc < 0)
        return;
    }
    return;
  }
  rtf_s_message(ws, op, d, n, user);
}

static void s_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                    void *user) {
  if (ws == g_stalled)
    g_stalled = NULL;
  if (code == 1008)
    atomic_fetch_add(&g_srv.close_1008, 1);
  rtf_s_close(ws, code, reason, len, user);
}

/* The accept hook: /forbid is refused; "chat" is chosen when offered. */
static int s_accept(struct wsv_hs_server *hs, void *user) {
  (void)user;
  struct wsv_str p = wsv_hs_server_path(hs);
  if (p.len == 7 && memcmp(p.ptr, "/forbid", 7) == 0)
    return 403;
  (void)wsv_hs_server_select_subprotocol(hs, "chat");
  return 0;
}

/* Plain HTTP: /page answers 200 "hello page"; the rest the preset 404. */
static void s_http(const struct wsv_hs_server *hs,
                   struct wsv_http_response *res, void *user) {
  (void)user;
  struct wsv_str p = wsv_hs_server_path(hs);
  if (p.len == 5 && memcmp(p.ptr, "/page", 5) == 0) {
    static const char body[] = "hello page\n";
    res->status = 200;
    res->content_type = "text/html";
    res->body = body;
    res->body_len = sizeof body - 1;
  }
}

/* H2T_DEBUG=1 in the environment prints the server's log. */
static void s_log(void *user, int level, const char *text) {
  (void)user;
  fprintf(stderr, "server %d: %s\n", level, text);
}

static void srv_config(struct wsv_server_config *cfg, int mode, int tls) {
  rtf_srv_config(cfg);
  if (getenv("H2T_DEBUG") != NULL)
    cfg->log = s_log;
  memset(&g_srv, 0, sizeof g_srv);
  g_stalled = NULL;
  cfg->callbacks.open = s_open;
  cfg->callbacks.message = s_message;
  cfg->callbacks.close = s_close;
  cfg->handshake.accept = s_accept;
  cfg->http = s_http;
  cfg->http2 = mode;
  cfg->threads = 1;
  cfg->limits.close_timeout_ms = 1500;
  if (tls) {
    cfg->tls_cert_file = path_of("srv.pem");
    cfg->tls_key_file = path_of("srv.key");
  }
}

/* ---- the test's HTTP/2 client (libnghttp2) ------------------------------ */

struct buf {
  uint8_t *p;
  size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n) {
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  if (n > 0)
    memcpy(b->p + b->len, p, n);
  b->len += n;
}

struct ts { /* one stream */
  int32_t id;
  int status;     /* :status of the answer, 0 before it */
  char ver[32];   /* sec-websocket-version */
  char ctype[64]; /* content-type */
  char proto[64]; /* sec-websocket-protocol */
  char ext[160];  /* sec-websocket-extensions */
  char clen[24];  /* content-length */
  struct buf in;  /* DATA received */
  size_t ws_off;  /* WebSocket frames parsed from in */
  struct buf out; /* to send as DATA */
  size_t out_off;
  size_t sent; /* DATA bytes taken by nghttp2 */
  int end_out; /* END_STREAM after out */
  int deferred;
  int hold;         /* received DATA not consumed (window stays) */
  size_t held;      /* bytes not consumed */
  int eof, eof_seq; /* END_STREAM received */
  int rst, rst_seq; /* RST_STREAM received: its code in rst_code */
  uint32_t rst_code;
  int closed, close_seq; /* the stream closed; close_code */
  uint32_t close_code;
  int close_frame_seq; /* a WebSocket Close was parsed (ws_next) */
  int data_seq;        /* the last DATA chunk came */
};

#define TC_STREAMS 160

struct tc {
  int fd;
  SSL_CTX *sctx;
  SSL *ssl;
  nghttp2_session *ng;
  uint16_t port;
  struct ts st[TC_STREAMS];
  int nst;
  int seq;
  int settings; /* SETTINGS frames (not ACKs) received */
  int ecp;      /* ENABLE_CONNECT_PROTOCOL's value, -1 when absent */
  int goaway, goaway_seq;
  int eof, eof_seq;
  int trickle; /* one byte per send */
  int bad;     /* nghttp2 refused what the server sent */
};

static int tc_on_frame(nghttp2_session *ng, const nghttp2_frame *f,
                       void *user) {
  struct tc *c = user;
  struct ts *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
  if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
    c->settings++;
    for (size_t i = 0; i < f->settings.niv; i++)
      if (f->settings.iv[i].settings_id ==
          NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL)
        c->ecp = (int)f->settings.iv[i].value;
  } else if (f->hd.type == NGHTTP2_GOAWAY) {
    c->goaway++;
    c->goaway_seq = ++c->seq;
  } else if (f->hd.type == NGHTTP2_RST_STREAM && s != NULL) {
    s->rst = 1;
    s->rst_seq = ++c->seq;
    s->rst_code = f->rst_stream.error_code;
  }
  if (s != NULL &&
      (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    s->eof = 1;
    s->eof_seq = ++c->seq;
  }
  return 0;
}

static void copy_field(char *dst, size_t cap, const uint8_t *v, size_t n) {
  snprintf(dst, cap, "%.*s", (int)n, (const char *)v);
}

static int tc_on_header(nghttp2_session *ng, const nghttp2_frame *f,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user) {
  (void)flags;
  (void)user;
  struct ts *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
  if (s == NULL)
    return 0;
  char nm[64];
  copy_field(nm, sizeof nm, name, namelen);
  if (strcmp(nm, ":status") == 0) {
    char v[8];
    copy_field(v, sizeof v, value, valuelen);
    s->status = atoi(v);
  } else if (strcmp(nm, "sec-websocket-version") == 0) {
    copy_field(s->ver, sizeof s->ver, value, valuelen);
  } else if (strcmp(nm, "content-type") == 0) {
    copy_field(s->ctype, sizeof s->ctype, value, valuelen);
  } else if (strcmp(nm, "sec-websocket-protocol") == 0) {
    copy_field(s->proto, sizeof s->proto, value, valuelen);
  } else if (strcmp(nm, "sec-websocket-extensions") == 0) {
    copy_field(s->ext, sizeof s->ext, value, valuelen);
  } else if (strcmp(nm, "content-length") == 0) {
    copy_field(s->clen, sizeof s->clen, value, valuelen);
  }
  return 0;
}

static int tc_on_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                      const uint8_t *data, size_t len, void *user) {
  (void)flags;
  struct ts *s = nghttp2_session_get_stream_user_data(ng, id);
  (void)nghttp2_session_consume_connection(ng, len);
  if (s == NULL)
    return 0;
  buf_add(&s->in, data, len);
  s->data_seq = ++((struct tc *)user)->seq;
  if (s->hold)
    s->held += len;
  else
    (void)nghttp2_session_consume_stream(ng, id, len);
  return 0;
}

static int tc_on_close(nghttp2_session *ng, int32_t id, uint32_t code,
                       void *user) {
  struct tc *c = user;
  struct ts *s = nghttp2_session_get_stream_user_data(ng, id);
  if (s != NULL) {
    s->closed = 1;
    s->close_seq = ++c->seq;
    s->close_code = code;
  }
  return 0;
}

static ssize_t tc_read_data(nghttp2_session *ng, int32_t id, uint8_t *buf,
                            size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *user) {
  (void)ng;
  (void)id;
  (void)user;
  struct ts *s = src->ptr;
  size_t have = s->out.len - s->out_off;
  size_t n = have < len ? have : len;
  if (n > 0)
    memcpy(buf, s->out.p + s->out_off, n);
  s->out_off += n;
  s->sent += n;
  if (s->out_off == s->out.len && s->end_out)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  else if (n == 0) {
    s->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

/* Write p[0..n) (one byte per send when trickling), waiting for room. */
static void tc_write(struct tc *c, const uint8_t *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    size_t k = c->trickle ? 1 : n - off;
    ssize_t w;
    int want_out = 1;
    if (c->ssl != NULL) {
      int r = SSL_write(c->ssl, p + off, (int)k);
      if (r > 0) {
        w = r;
      } else {
        int e = SSL_get_error(c->ssl, r);
        assert_true(e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ);
        want_out = e == SSL_ERROR_WANT_WRITE;
        w = -1;
      }
    } else {
      w = send(c->fd, p + off, k, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        c->eof = 1; /* the server went away */
        return;
      }
    }
    if (w < 0) {
      struct pollfd pf = {c->fd, (short)(want_out ? POLLOUT : POLLIN), 0};
      assert_true(poll(&pf, 1, 5000) == 1);
      continue;
    }
    off += (size_t)w;
    if (c->trickle)
      usleep(50);
  }
}

static void tc_flush(struct tc *c) {
  for (;;) {
    const uint8_t *p = NULL;
    ssize_t n = nghttp2_session_mem_send(c->ng, &p);
    if (n < 0) {
      c->bad++;
      return;
    }
    if (n == 0)
      return;
    tc_write(c, p, (size_t)n);
  }
}

/* One round: send what nghttp2 has, wait up to ms for input, feed it. */
static void tc_step(struct tc *c, int ms) {
  tc_flush(c);
  if (c->eof)
    return;
  if (!(c->ssl != NULL && SSL_pending(c->ssl) > 0)) {
    struct pollfd pf = {c->fd, POLLIN, 0};
    if (poll(&pf, 1, ms) <= 0)
      return;
  }
  static uint8_t rb[65536];
  for (int rounds = 0; rounds < 64; rounds++) {
    ssize_t n;
    if (c->ssl != NULL) {
      int r = SSL_read(c->ssl, rb, sizeof rb);
      if (r <= 0) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
          break;
        n = 0;
      } else {
        n = r;
      }
    } else {
      n = recv(c->fd, rb, sizeof rb, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0)
        n = 0;
    }
    if (n == 0) {
      c->eof = 1;
      c->eof_seq = ++c->seq;
      break;
    }
    ssize_t r = nghttp2_session_mem_recv(c->ng, rb, (size_t)n);
    if (r < 0) {
      fprintf(stderr, "nghttp2: %s\n", nghttp2_strerror((int)r));
      c->bad++;
      break;
    }
  }
  tc_flush(c);
}

#define TC_UNTIL(c, cond, ms)                                                  \
  do {                                                                         \
    uint64_t end_ = now_ms() + (ms);                                           \
    while (!(cond) && now_ms() < end_)                                         \
      tc_step((c), 10);                                                        \
  } while (0)

static int tcp_connect(uint16_t port) {
  int fd = rtf_raw_connect(port);
  int one = 1;
  assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
                   0);
  return fd;
}

/* ALPN h2 and http/1.1 offered; the server's pick, "" for none. */
static SSL *tls_connect(SSL_CTX **ctxp, int fd, char *alpn, size_t cap) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(ctx);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  static const unsigned char protos[] = "\x02h2\x08http/1.1";
  assert_int_equal(SSL_CTX_set_alpn_protos(ctx, protos, sizeof protos - 1), 0);
  SSL *ssl = SSL_new(ctx);
  assert_non_null(ssl);
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  assert_int_equal(SSL_connect(ssl), 1);
  const unsigned char *a = NULL;
  unsigned al = 0;
  SSL_get0_alpn_selected(ssl, &a, &al);
  snprintf(alpn, cap, "%.*s", (int)al, a != NULL ? (const char *)a : "");
  *ctxp = ctx;
  return ssl;
}

/* A connection to the server at `port` (TLS when tls), its preface and
 * SETTINGS sent.  The client opens windows by hand (tc_on_data). */
static struct tc *tc_open(uint16_t port, int tls, int trickle) {
  struct tc *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->port = port;
  c->ecp = -1;
  c->trickle = trickle;
  c->fd = tcp_connect(port);
  if (tls) {
    char alpn[32];
    c->ssl = tls_connect(&c->sctx, c->fd, alpn, sizeof alpn);
    assert_string_equal(alpn, "h2");
  }
  assert_int_equal(fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK),
                   0);
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  assert_int_equal(nghttp2_option_new(&opt), 0);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, tc_on_frame);
  nghttp2_session_callbacks_set_on_header_callback(cb, tc_on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, tc_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, tc_on_close);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  assert_int_equal(nghttp2_session_client_new2(&c->ng, cb, c, opt), 0);
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  assert_int_equal(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 1), 0);
  assert_int_equal(nghttp2_session_set_local_window_size(
                       c->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)32 << 20),
                   0);
  TC_UNTIL(c, c->settings > 0 || c->eof, 3000);
  assert_true(c->settings > 0);
  return c;
}

static void tc_close(struct tc *c) {
  for (int i = 0; i < c->nst; i++) {
    free(c->st[i].in.p);
    free(c->st[i].out.p);
  }
  nghttp2_session_del(c->ng);
  if (c->ssl != NULL) {
    SSL_free(c->ssl);
    SSL_CTX_free(c->sctx);
  }
  close(c->fd);
  free(c);
}

/* A request: the pairs name, value, ... (NULL-ended) after the
 * pseudo-headers method, path (and for CONNECT :protocol proto when not
 * NULL); with_data: a DATA source (the stream's out). */
static struct ts *tc_req(struct tc *c, const char *method, const char *proto,
                         const char *path, const char *const *pairs,
                         int with_data) {
  assert_true(c->nst < TC_STREAMS);
  struct ts *s = &c->st[c->nst++];
  nghttp2_nv nv[104];
  size_t k = 0;
  char auth[32];
  snprintf(auth, sizeof auth, "127.0.0.1:%u", (unsigned)c->port);
#define NV(n, v)                                                               \
  do {                                                                         \
    nv[k].name = (uint8_t *)(uintptr_t)(n);                                    \
    nv[k].namelen = strlen(n);                                                 \
    nv[k].value = (uint8_t *)(uintptr_t)(v);                                   \
    nv[k].valuelen = strlen(v);                                                \
    nv[k].flags = NGHTTP2_NV_FLAG_NONE;                                        \
    k++;                                                                       \
  } while (0)
  NV(":method", method);
  if (proto != NULL)
    NV(":protocol", proto);
  NV(":scheme", c->ssl != NULL ? "https" : "http");
  NV(":path", path);
  NV(":authority", auth);
  for (int i = 0; pairs != NULL && pairs[i] != NULL; i += 2) {
    assert_true(k < 104);
    NV(pairs[i], pairs[i + 1]);
  }
#undef NV
  nghttp2_data_provider prd;
  prd.source.ptr = s;
  prd.read_callback = tc_read_data;
  s->id =
      nghttp2_submit_request(c->ng, NULL, nv, k, with_data ? &prd : NULL, s);
  assert_true(s->id > 0);
  return s;
}

/* An extended CONNECT for a WebSocket on `path`, version 13, plus pairs. */
static struct ts *tc_ws(struct tc *c, const char *path,
                        const char *const *pairs) {
  const char *f[96];
  int n = 0;
  f[n++] = "sec-websocket-version";
  f[n++] = "13";
  for (int i = 0; pairs != NULL && pairs[i] != NULL; i++) {
    assert_true(n < 95);
    f[n++] = pairs[i];
  }
  f[n] = NULL;
  return tc_req(c, "CONNECT", "websocket", path, f, 1);
}

static void tc_kick(struct tc *c, struct ts *s) {
  if (s->deferred) {
    s->deferred = 0;
    (void)nghttp2_session_resume_data(c->ng, s->id);
  }
}

/* Queue one client frame: first byte b0, masked unless `unmasked`. */
static void ws_put(struct tc *c, struct ts *s, unsigned b0, const void *p,
                   size_t n, int unmasked) {
  uint8_t h[14];
  size_t k = 0;
  unsigned m = unmasked ? 0 : 0x80;
  h[k++] = (uint8_t)b0;
  if (n < 126) {
    h[k++] = (uint8_t)(m | n);
  } else if (n < 65536) {
    h[k++] = (uint8_t)(m | 126);
    h[k++] = (uint8_t)(n >> 8);
    h[k++] = (uint8_t)n;
  } else {
    h[k++] = (uint8_t)(m | 127);
    for (int i = 7; i >= 0; i--)
      h[k++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (!unmasked) {
    memcpy(h + k, key, 4);
    k += 4;
  }
  buf_add(&s->out, h, k);
  size_t at = s->out.len;
  buf_add(&s->out, p, n);
  if (!unmasked)
    for (size_t i = 0; i < n; i++)
      s->out.p[at + i] ^= key[i % 4];
  tc_kick(c, s);
}

static void ws_text(struct tc *c, struct ts *s, const char *t) {
  ws_put(c, s, 0x81, t, strlen(t), 0);
}

static void ws_close_frame(struct tc *c, struct ts *s, int code) {
  uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  ws_put(c, s, 0x88, p, 2, 0);
}

/* The next whole server frame on the stream: 1 and its first byte,
 * payload and length; 0 when none is complete yet.  A server frame
 * must be unmasked. */
static int ws_next(struct tc *c, struct ts *s, unsigned *b0, const uint8_t **p,
                   size_t *n) {
  const uint8_t *q = s->in.p + s->ws_off;
  size_t have = s->in.len - s->ws_off;
  if (have < 2)
    return 0;
  assert_int_equal(q[1] & 0x80, 0);
  size_t len = q[1] & 0x7f, k = 2;
  if (len == 126) {
    if (have < 4)
      return 0;
    len = (size_t)q[2] << 8 | q[3];
    k = 4;
  } else if (len == 127) {
    if (have < 10)
      return 0;
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | q[2 + i];
    k = 10;
  }
  if (have < k + len)
    return 0;
  *b0 = q[0];
  *p = q + k;
  *n = len;
  s->ws_off += k + len;
  if ((q[0] & 0x0f) == 8 && s->close_frame_seq == 0)
    s->close_frame_seq = ++c->seq;
  return 1;
}

/* Run until the next server frame on s arrives (asserted). */
static void ws_wait(struct tc *c, struct ts *s, unsigned *b0, const uint8_t **p,
                    size_t *n) {
  uint64_t end = now_ms() + 5000;
  while (!ws_next(c, s, b0, p, n)) {
    if (s->closed || now_ms() >= end)
      fprintf(stderr,
              "stream %d: no frame (closed %d, rst %d code %u, eof %d,"
              " %zu bytes unparsed)\n",
              (int)s->id, s->closed, s->rst, s->rst_code, s->eof,
              s->in.len - s->ws_off);
    assert_true(now_ms() < end);
    assert_false(s->closed);
    tc_step(c, 10);
  }
}

static void ws_expect_text(struct tc *c, struct ts *s, const char *want) {
  unsigned b0;
  const uint8_t *p;
  size_t n;
  ws_wait(c, s, &b0, &p, &n);
  assert_int_equal(b0, 0x81);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(p, want, n);
}

/* Run until the stream's answer head came (or it closed). */
static void tc_answer(struct tc *c, struct ts *s) {
  TC_UNTIL(c, s->status != 0 || s->closed, 5000);
}

/* Run until the server ended the stream (END_STREAM or RST_STREAM):
 * its answer then is whole. */
static void tc_done(struct tc *c, struct ts *s) {
  TC_UNTIL(c, s->eof || s->rst || s->closed, 5000);
  assert_true(s->eof || s->rst || s->closed);
}

static struct ts *ws_open_ok(struct tc *c, const char *path) {
  struct ts *s = tc_ws(c, path, NULL);
  tc_answer(c, s);
  assert_int_equal(s->status, 200);
  return s;
}

/* ---- 1. SETTINGS and ALPN ----------------------------------------------- */

/* The TLS ALPN pick of a server for an offer of h2 and http/1.1. */
static void alpn_of(uint16_t port, char *alpn, size_t cap) {
  int fd = tcp_connect(port);
  SSL_CTX *ctx;
  SSL *ssl = tls_connect(&ctx, fd, alpn, cap);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

static void test_settings_on(void **state) {
  (void)state;
  for (int tls = 0; tls <= 1; tls++) {
    struct wsv_server_config cfg;
    srv_config(&cfg, WSV_HTTP2_ON, tls);
    struct wsv_server *srv = rtf_srv_start(&cfg);
    struct tc *c = tc_open(wsv_server_port(srv), tls, 0);
    assert_int_equal(c->ecp, 1);
    struct ts *s = ws_open_ok(c, "/echo");
    assert_string_equal(s->ver, "");
    ws_text(c, s, "over h2");
    ws_expect_text(c, s, "over h2");
    assert_int_equal(atomic_load(&g_srv.h2_opens), 1);
    assert_int_equal(c->bad, 0);
    tc_close(c);
    rtf_srv_finish(srv);
  }
}

static void test_settings_no_websocket(void **state) {
  (void)state;
  for (int tls = 0; tls <= 1; tls++) {
    struct wsv_server_config cfg;
    srv_config(&cfg, WSV_HTTP2_NO_WEBSOCKET, tls);
    struct wsv_server *srv = rtf_srv_start(&cfg);
    struct tc *c = tc_open(wsv_server_port(srv), tls, 0);
    assert_int_equal(c->ecp, -1); /* not announced at all */
    /* Plain requests still go over HTTP/2. */
    struct ts *g = tc_req(c, "GET", NULL, "/page", NULL, 0);
    tc_done(c, g);
    assert_int_equal(g->status, 200);
    assert_int_equal(g->in.len, 11);
    assert_memory_equal(g->in.p, "hello page\n", 11);
    /* An extended CONNECT is not taken: no WebSocket opens. */
    struct ts *s = tc_ws(c, "/echo", NULL);
    tc_done(c, s);
    assert_int_not_equal(s->status, 200);
    assert_int_equal(atomic_load(&rtf_srv.opens), 0);
    tc_close(c);
    rtf_srv_finish(srv);
  }
}

static void test_settings_off(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_OFF, 1);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  char alpn[32];
  alpn_of(wsv_server_port(srv), alpn, sizeof alpn);
  assert_string_equal(alpn, "http/1.1");
  rtf_srv_finish(srv);
  /* The other modes pick h2 (the accepted case of the same check). */
  srv_config(&cfg, WSV_HTTP2_NO_WEBSOCKET, 1);
  srv = rtf_srv_start(&cfg);
  alpn_of(wsv_server_port(srv), alpn, sizeof alpn);
  assert_string_equal(alpn, "h2");
  rtf_srv_finish(srv);
  /* h2c prior knowledge on an OFF plain port: an HTTP/1.1 400. */
  srv_config(&cfg, WSV_HTTP2_OFF, 0);
  srv = rtf_srv_start(&cfg);
  int fd = rtf_raw_connect(wsv_server_port(srv));
  static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
  rtf_raw_send(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
  rtf_raw_send(fd, settings, sizeof settings);
  char got[2048];
  int err;
  size_t n = rtf_raw_read_all(fd, got, sizeof got - 1, 3000, &err);
  got[n] = '\0';
  assert_true(strncmp(got, "HTTP/1.1 400 ", 13) == 0);
  close(fd);
  rtf_srv_finish(srv);
}

/* ---- 2. the handshake --------------------------------------------------- */

static void expect_refusal(struct tc *c, const char *const *pairs,
                           const char *proto, int status, const char *ver) {
  const char *f[16] = {NULL};
  int n = 0;
  for (int i = 0; pairs != NULL && pairs[i] != NULL; i++)
    f[n++] = pairs[i];
  struct ts *s = tc_req(c, "CONNECT", proto, "/echo", f, 1);
  tc_done(c, s);
  assert_int_equal(s->status, status);
  if (ver != NULL)
    assert_string_equal(s->ver, ver);
  assert_true(strncmp(s->ctype, "text/plain", 10) == 0);
  assert_true(s->in.len > 1 && s->in.p[s->in.len - 1] == '\n');
  /* The whole answer (END_STREAM), then, since our side is still open,
   * RST_STREAM NO_ERROR: the stream does not keep a slot (RFC 9113
   * §8.1). */
  TC_UNTIL(c, s->rst || s->closed, 3000);
  assert_true(s->eof);
  assert_true(s->rst && s->rst_code == NGHTTP2_NO_ERROR &&
              s->rst_seq > 0);
}

static void test_handshake_versions(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.handshake.unsupported_status = 426; /* never sent over HTTP/2 */
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  static const char *const rows[][3] = {
      {"sec-websocket-version", "8", NULL},
      {"sec-websocket-version", "99", NULL},
      {"sec-websocket-version", "013", NULL},
      {"sec-websocket-version", "13, 8", NULL},
      {"x-no-version", "1", NULL}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    expect_refusal(c, rows[i], "websocket", 400, "13");
  /* :protocol other than websocket */
  static const char *const v13[] = {"sec-websocket-version", "13", NULL};
  expect_refusal(c, v13, "chat", 400, NULL);
  /* 13 is accepted on the same connection */
  struct ts *s = ws_open_ok(c, "/echo");
  assert_string_equal(s->ver, "");
  ws_text(c, s, "13 ok");
  ws_expect_text(c, s, "13 ok");
  assert_int_equal(atomic_load(&rtf_srv.opens), 1);
  assert_int_equal(c->bad, 0);
  tc_close(c);
  rtf_srv_finish(srv);
}

static void test_handshake_plain_http(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  struct ts *w = ws_open_ok(c, "/echo");
  struct ts *g = tc_req(c, "GET", NULL, "/page", NULL, 0);
  tc_done(c, g);
  assert_int_equal(g->status, 200);
  assert_string_equal(g->ctype, "text/html");
  assert_int_equal(g->in.len, 11);
  assert_memory_equal(g->in.p, "hello page\n", 11);
  struct ts *h = tc_req(c, "HEAD", NULL, "/page", NULL, 0);
  tc_done(c, h);
  assert_int_equal(h->status, 200);
  assert_int_equal(h->in.len, 0);
  assert_string_equal(h->clen, "11"); /* the GET's length, no body */
  assert_true(h->eof);
  struct ts *nf = tc_req(c, "GET", NULL, "/nothing", NULL, 0);
  tc_done(c, nf);
  assert_int_equal(nf->status, 404);
  assert_int_equal(nf->in.len, 10);
  assert_memory_equal(nf->in.p, "not found\n", 10);
  /* the WebSocket opened before the requests still works */
  ws_text(c, w, "still here");
  ws_expect_text(c, w, "still here");
  tc_close(c);
  rtf_srv_finish(srv);
}

static void test_handshake_max_headers(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.handshake.max_headers = 20;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  static char names[40][24];
  const char *f[90];
  /* Regular fields besides sec-websocket-version: 20 in all is the
   * limit (the pseudo-headers do not count), 21 and 40 are over. */
  static const int fills[] = {19, 20, 39, 5};
  static const int want[] = {200, 431, 431, 200};
  for (int t = 0; t < 4; t++) {
    int n = 0;
    for (int i = 0; i < fills[t]; i++) {
      snprintf(names[i], sizeof names[i], "x-fill-%d", i);
      f[n++] = names[i];
      f[n++] = "v";
    }
    f[n] = NULL;
    struct ts *s = tc_ws(c, "/echo", f);
    tc_answer(c, s);
    assert_int_equal(s->status, want[t]);
    if (want[t] == 431) {
      tc_done(c, s);
      assert_true(s->in.len > 1 && s->in.p[s->in.len - 1] == '\n');
    }
  }
  assert_int_equal(atomic_load(&rtf_srv.opens), 2);
  tc_close(c);
  rtf_srv_finish(srv);
}

static void test_handshake_subprotocol(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  static const char *const offer[] = {"sec-websocket-protocol", "mqtt, chat",
                                      NULL};
  struct ts *s = tc_ws(c, "/echo", offer);
  tc_answer(c, s);
  assert_int_equal(s->status, 200);
  assert_string_equal(s->proto, "chat");
  static const char *const other[] = {"sec-websocket-protocol", "mqtt", NULL};
  s = tc_ws(c, "/echo", other);
  tc_answer(c, s);
  assert_int_equal(s->status, 200);
  assert_string_equal(s->proto, "");
  s = tc_ws(c, "/forbid", offer);
  tc_done(c, s);
  assert_int_equal(s->status, 403);
  tc_close(c);
  rtf_srv_finish(srv);
}

/* Raw deflate of p[0..n) without the final 00 00 ff ff (RFC 7692). */
static size_t pmd_deflate(const void *p, size_t n, uint8_t *out, size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  z.next_in = (Bytef *)(uintptr_t)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  size_t k = cap - z.avail_out;
  deflateEnd(&z);
  assert_true(k >= 4 && memcmp(out + k - 4, "\0\0\xff\xff", 4) == 0);
  return k - 4;
}

static size_t pmd_inflate(const uint8_t *p, size_t n, uint8_t *out,
                          size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(inflateInit2(&z, -15), Z_OK);
  uint8_t in[4096];
  assert_true(n + 4 <= sizeof in);
  memcpy(in, p, n);
  memcpy(in + n, "\0\0\xff\xff", 4);
  z.next_in = in;
  z.avail_in = (uInt)(n + 4);
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = inflate(&z, Z_SYNC_FLUSH);
  assert_true(rc == Z_OK || rc == Z_STREAM_END);
  size_t k = cap - z.avail_out;
  inflateEnd(&z);
  return k;
}

static void test_handshake_deflate(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.handshake.pmd_policy = WSV_PMD_ON;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  /* not offered: not agreed */
  struct ts *plain = ws_open_ok(c, "/echo");
  assert_string_equal(plain->ext, "");
  static const char *const offer[] = {
      "sec-websocket-extensions",
      "permessage-deflate; client_no_context_takeover; "
      "server_no_context_takeover",
      NULL};
  struct ts *s = tc_ws(c, "/echo", offer);
  tc_answer(c, s);
  assert_int_equal(s->status, 200);
  assert_non_null(strstr(s->ext, "permessage-deflate"));
  static const char msg[] =
      "compress me, compress me, compress me, compress me, compress me, "
      "compress me, compress me, compress me, compress me, compress me";
  uint8_t z[256];
  size_t zn = pmd_deflate(msg, sizeof msg - 1, z, sizeof z);
  ws_put(c, s, 0xC1, z, zn, 0); /* FIN, RSV1, text */
  unsigned b0;
  const uint8_t *p;
  size_t n;
  ws_wait(c, s, &b0, &p, &n);
  assert_int_equal(b0 & 0x0f, 1);
  uint8_t out[256];
  size_t on;
  assert_true(b0 & 0x40); /* the echo is compressed too */
  on = pmd_inflate(p, n, out, sizeof out);
  assert_int_equal(on, sizeof msg - 1);
  assert_memory_equal(out, msg, on);
  /* The stream without the extension refuses RSV1: no echo, the
   * WebSocket fails (what it sends then: test_frames_unmasked). */
  ws_put(c, plain, 0xC1, z, zn, 0);
  TC_UNTIL(c, plain->eof || plain->rst, 3000);
  assert_true(plain->eof || plain->rst);
  while (ws_next(c, plain, &b0, &p, &n))
    assert_int_equal(b0 & 0x0f, 8);
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1002);
  tc_close(c);
  rtf_srv_finish(srv);
}

/* ---- 3. frames ---------------------------------------------------------- */

static void test_frames_echo_and_close(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 1);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 1, 0);
  struct ts *s = ws_open_ok(c, "/echo");
  static uint8_t bin[70000];
  for (size_t i = 0; i < sizeof bin; i++)
    bin[i] = (uint8_t)(i * 31 + 7);
  ws_text(c, s, "text one");
  ws_put(c, s, 0x82, bin, sizeof bin, 0);
  ws_expect_text(c, s, "text one");
  unsigned b0;
  const uint8_t *p;
  size_t n;
  ws_wait(c, s, &b0, &p, &n);
  assert_int_equal(b0, 0x82);
  assert_int_equal(n, sizeof bin);
  assert_memory_equal(p, bin, n);
  /* The closing handshake: the server's Close, then its END_STREAM. */
  ws_close_frame(c, s, 1000);
  ws_wait(c, s, &b0, &p, &n);
  assert_int_equal(b0, 0x88);
  assert_int_equal(p[0] << 8 | p[1], 1000);
  TC_UNTIL(c, s->eof || s->rst, 3000);
  assert_true(s->eof);
  assert_false(s->rst);
  /* END_STREAM came with or after the DATA that held the Close, and
   * nothing followed the Close. */
  assert_true(s->eof_seq > s->data_seq);
  assert_int_equal(s->in.len, s->ws_off);
  s->end_out = 1; /* our END_STREAM too: the stream closes cleanly */
  tc_kick(c, s);
  tc_done(c, s);
  assert_int_equal(s->close_code, NGHTTP2_NO_ERROR);
  assert_false(s->rst);
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1000);
  assert_int_equal(c->bad, 0);
  tc_close(c);
  rtf_srv_finish(srv);
}

static void test_frames_unmasked(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.limits.close_timeout_ms = 500;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  struct ts *s = ws_open_ok(c, "/echo");
  struct ts *sib = ws_open_ok(c, "/echo");
  ws_put(c, s, 0x81, "bare", 4, 1);
  unsigned b0;
  const uint8_t *p;
  size_t n;
  ws_wait(c, s, &b0, &p, &n);
  assert_int_equal(b0, 0x88);
  assert_int_equal(p[0] << 8 | p[1], 1002);
  /* Failing the WebSocket (RFC 6455 7.1.7) does not wait for our
   * Close: the stream ends after the server's Close as a socket's FIN
   * would (END_STREAM, h2.h), the Close being its last DATA. */
  assert_int_equal(s->in.len, s->ws_off);
  TC_UNTIL(c, s->eof || s->rst, 3000);
  assert_true(s->eof);
  assert_false(s->rst);
  assert_true(s->eof_seq > s->data_seq);
  assert_int_equal(s->in.len, s->ws_off);
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1002);
  /* Our END_STREAM: the stream closes without an error. */
  s->end_out = 1;
  tc_kick(c, s);
  tc_done(c, s);
  TC_UNTIL(c, s->closed, 3000);
  assert_true(s->closed);
  assert_int_equal(s->close_code, NGHTTP2_NO_ERROR);
  ws_text(c, sib, "sibling");
  ws_expect_text(c, sib, "sibling");
  struct ts *d = ws_open_ok(c, "/echo");
  ws_text(c, d, "new stream");
  ws_expect_text(c, d, "new stream");
  assert_int_equal(c->bad, 0);
  tc_close(c);
  rtf_srv_finish(srv);
}

static void test_frames_abort(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 1);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 1, 0);
  struct ts *a = ws_open_ok(c, "/echo");
  struct ts *b = ws_open_ok(c, "/echo");
  ws_text(c, a, "abort");
  TC_UNTIL(c, a->closed, 3000);
  assert_true(a->rst);
  assert_int_equal(a->rst_code, NGHTTP2_CANCEL);
  assert_false(c->goaway);
  ws_text(c, b, "after abort");
  ws_expect_text(c, b, "after abort");
  rtf_wait_atomic(&rtf_srv.closes, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1006);
  /* a new stream on the same connection still opens */
  struct ts *d = ws_open_ok(c, "/echo");
  ws_text(c, d, "new one");
  ws_expect_text(c, d, "new one");
  tc_close(c);
  rtf_srv_finish(srv);
}

/* ---- 4. flow control ---------------------------------------------------- */

#define FC_STREAMS 20
#define FC_CHUNK 65536
#define FC_CHUNKS 32 /* 2 MiB on the stalled stream */

static void fc_fill(uint8_t *p, size_t n, int k) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 13 + (size_t)k * 101 + (i >> 9));
}

/* Send one numbered text message on each echo stream and expect it back. */
static void fc_round(struct tc *c, struct ts **echo, int n, int round) {
  char msg[32];
  for (int i = 0; i < n; i++) {
    snprintf(msg, sizeof msg, "r%d s%d", round, i);
    ws_text(c, echo[i], msg);
  }
  for (int i = 0; i < n; i++) {
    snprintf(msg, sizeof msg, "r%d s%d", round, i);
    ws_expect_text(c, echo[i], msg);
  }
}

static void test_flow_stalled_reader(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  struct ts *stall = ws_open_ok(c, "/stall");
  struct ts *echo[FC_STREAMS - 1];
  for (int i = 0; i < FC_STREAMS - 1; i++)
    echo[i] = ws_open_ok(c, "/echo");
  static uint8_t chunk[FC_CHUNK];
  for (int k = 0; k < FC_CHUNKS; k++) {
    fc_fill(chunk, sizeof chunk, k);
    ws_put(c, stall, 0x82, chunk, sizeof chunk, 0);
  }
  /* The stalled stream's window closes; the others keep echoing. */
  int round = 0;
  uint64_t end = now_ms() + 5000;
  while (nghttp2_session_get_stream_remote_window_size(c->ng, stall->id) > 0 &&
         now_ms() < end)
    fc_round(c, echo, FC_STREAMS - 1, round++);
  assert_int_equal(
      nghttp2_session_get_stream_remote_window_size(c->ng, stall->id), 0);
  size_t sent = stall->sent;
  assert_true(sent <= (size_t)H2S_WINDOW);
  for (int r = 0; r < 5; r++)
    fc_round(c, echo, FC_STREAMS - 1, round++);
  assert_int_equal(stall->sent, sent); /* held: the window stayed shut */
  assert_int_equal(
      nghttp2_session_get_stream_remote_window_size(c->ng, stall->id), 0);
  assert_int_equal(stall->in.len, 0);
  /* Resume: everything arrives, byte for byte. */
  ws_text(c, echo[0], "resume");
  ws_expect_text(c, echo[0], "resumed");
  for (int k = 0; k < FC_CHUNKS; k++) {
    unsigned b0;
    const uint8_t *p;
    size_t n;
    ws_wait(c, stall, &b0, &p, &n);
    assert_int_equal(b0, 0x82);
    assert_int_equal(n, FC_CHUNK);
    fc_fill(chunk, sizeof chunk, k);
    assert_memory_equal(p, chunk, n);
  }
  assert_int_equal(stall->sent, stall->out.len);
  fc_round(c, echo, FC_STREAMS - 1, round++);
  assert_int_equal(c->bad, 0);
  tc_close(c);
  rtf_srv_finish(srv);
}

static void test_flow_slow_consumer(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.conn.max_output = (size_t)512 << 10;
  cfg.limits.send_high_water = (size_t)256 << 10;
  cfg.limits.send_low_water = (size_t)64 << 10;
  cfg.limits.close_timeout_ms = 5000;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  struct ts *slow = ws_open_ok(c, "/echo");
  struct ts *echo[FC_STREAMS - 1];
  for (int i = 0; i < FC_STREAMS - 1; i++)
    echo[i] = ws_open_ok(c, "/echo");
  slow->hold = 1;
  ws_text(c, slow, "flood");
  uint64_t end = now_ms() + 5000;
  int round = 0;
  while (atomic_load(&g_srv.policy) == 0 && now_ms() < end)
    fc_round(c, echo, FC_STREAMS - 1, round++);
  assert_int_equal(atomic_load(&g_srv.policy), 1);
  for (int r = 0; r < 3; r++)
    fc_round(c, echo, FC_STREAMS - 1, round++);
  /* Memory bounded: the send buffer's limit, the stream's buffer and a
   * frame in flight. */
  size_t maxq = atomic_load(&g_srv.max_queue);
  assert_true(maxq <= cfg.conn.max_output + ((size_t)128 << 10));
  /* What reached us is what the client's window allowed. */
  assert_true(slow->held <= 65535);
  /* The server's WebSocket is closing with the slow consumer's 1008,
   * its Close behind what the shut window holds back; it waits for us
   * up to close_timeout_ms (as for a socket whose peer does not read).
   * Now read the stream: the data, the Close 1008, then END_STREAM
   * (h2.h: a close is a FIN). */
  assert_false(slow->rst);
  slow->hold = 0;
  assert_int_equal(nghttp2_session_consume_stream(c->ng, slow->id, slow->held),
                   0);
  unsigned b0 = 0;
  const uint8_t *p;
  size_t n;
  int frames = 0;
  do {
    ws_wait(c, slow, &b0, &p, &n);
    frames++;
  } while ((b0 & 0x0f) != 8);
  assert_true(frames > 1);
  assert_true(n >= 2);
  assert_int_equal(p[0] << 8 | p[1], 1008);
  TC_UNTIL(c, slow->eof || slow->rst, 3000);
  assert_true(slow->eof);
  assert_false(slow->rst);
  assert_false(c->goaway);
  rtf_wait_atomic(&g_srv.close_1008, 1, 3000);
  assert_int_equal(atomic_load(&g_srv.close_1008), 1);
  fc_round(c, echo, FC_STREAMS - 1, round++);
  tc_close(c);
  rtf_srv_finish(srv);
}

/* A slow consumer that never reads: its stream is reset once the close
 * timeout passes (as a socket would be), the server's WebSocket ends
 * with 1008, the connection and its other streams go on. */
static void test_flow_slow_consumer_never_reads(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.conn.max_output = (size_t)512 << 10;
  cfg.limits.send_high_water = (size_t)256 << 10;
  cfg.limits.send_low_water = (size_t)64 << 10;
  cfg.limits.close_timeout_ms = 300;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  struct ts *slow = ws_open_ok(c, "/echo");
  struct ts *echo[3];
  for (int i = 0; i < 3; i++)
    echo[i] = ws_open_ok(c, "/echo");
  slow->hold = 1;
  ws_text(c, slow, "flood");
  uint64_t end = now_ms() + 3000;
  int round = 0;
  while (!slow->closed && now_ms() < end)
    fc_round(c, echo, 3, round++);
  assert_true(slow->closed);
  assert_true(slow->rst);
  assert_int_equal(slow->rst_code, NGHTTP2_CANCEL);
  assert_true(slow->held <= 65535);
  rtf_wait_atomic(&g_srv.close_1008, 1, 2000);
  assert_int_equal(atomic_load(&g_srv.close_1008), 1);
  assert_true(atomic_load(&g_srv.max_queue) <=
              cfg.conn.max_output + ((size_t)128 << 10));
  fc_round(c, echo, 3, round++);
  assert_false(c->goaway);
  tc_close(c);
  rtf_srv_finish(srv);
}

/* ---- 5. shutdown -------------------------------------------------------- */

static void test_shutdown(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.shutdown_timeout_ms = 3000;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 0);
  struct ts *w[3];
  for (int i = 0; i < 3; i++)
    w[i] = ws_open_ok(c, "/echo");
  wsv_server_stop(srv);
  unsigned b0;
  const uint8_t *p;
  size_t n;
  for (int i = 0; i < 3; i++) {
    ws_wait(c, w[i], &b0, &p, &n);
    assert_int_equal(b0, 0x88);
    assert_int_equal(p[0] << 8 | p[1], 1001);
  }
  assert_false(c->goaway);
  /* A new stream during the shutdown is refused. */
  struct ts *late = tc_ws(c, "/echo", NULL);
  tc_done(c, late);
  assert_true(late->rst);
  assert_int_equal(late->rst_code, NGHTTP2_REFUSED_STREAM);
  assert_false(c->goaway);
  /* Our Close replies and END_STREAM (RFC 8441 5: the stream's ends are
   * TCP's): the streams close, then GOAWAY. */
  for (int i = 0; i < 3; i++) {
    ws_close_frame(c, w[i], 1001);
    w[i]->end_out = 1;
  }
  TC_UNTIL(c, c->goaway, 4000);
  assert_true(c->goaway);
  for (int i = 0; i < 3; i++) {
    assert_true(w[i]->eof);
    assert_false(w[i]->rst);
    assert_true(w[i]->eof_seq < c->goaway_seq);
  }
  TC_UNTIL(c, c->eof, 4000);
  assert_true(c->eof);
  assert_true(c->eof_seq > c->goaway_seq);
  /* As over HTTP/1.1 (test_shutdown_http1): every close callback has
   * run, on the server's thread, when join returns. */
  assert_int_equal(wsv_server_join(srv), 0);
  assert_int_equal(atomic_load(&rtf_srv.closes), 3);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1001);
  assert_int_equal(wsv_server_connections(srv), 0);
  assert_int_equal(c->bad, 0);
  tc_close(c);
  wsv_server_free(srv);
}

/* The same over HTTP/1.1 (the reference test_shutdown compares with):
 * every close callback has run when wsv_server_join returns. */
static void test_shutdown_http1(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.shutdown_timeout_ms = 3000;
  struct wsv_server *srv = rtf_srv_start(&cfg);
  int fd[3];
  for (int i = 0; i < 3; i++)
    fd[i] = rtf_raw_ws_path(wsv_server_port(srv), "/echo");
  rtf_wait_atomic(&rtf_srv.opens, 3, 2000);
  wsv_server_stop(srv);
  for (int i = 0; i < 3; i++) {
    unsigned b0;
    char p[128];
    size_t n = rtf_raw_read_frame(fd[i], &b0, p, sizeof p);
    assert_int_equal(b0, 0x88);
    assert_true(n >= 2);
    assert_int_equal((uint8_t)p[0] << 8 | (uint8_t)p[1], 1001);
    rtf_raw_frame(fd[i], 0x88, "\x03\xe9", 2, 1, 0);
  }
  for (int i = 0; i < 3; i++) {
    assert_int_equal(rtf_raw_drain(fd[i], 3000), 0);
    close(fd[i]);
  }
  assert_int_equal(wsv_server_join(srv), 0);
  assert_int_equal(atomic_load(&rtf_srv.closes), 3);
  assert_int_equal(atomic_load(&rtf_srv.last_code), 1001);
  wsv_server_free(srv);
}

/* ---- 6. the runtime's client -------------------------------------------- */

/* One client's record, with whether it rode HTTP/2. */
struct rc {
  struct rtf_cli c;
  int http2;
};

static void rc_open(struct wsv_ws *ws, void *user) {
  struct rc *r = user;
  r->http2 = wsv_ws_http2(ws);
  rtf_c_open(ws, &r->c);
}
static void rc_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                       void *user) {
  rtf_c_message(ws, op, d, n, &((struct rc *)user)->c);
}
static void rc_close(struct wsv_ws *ws, int code, const char *reason,
                     size_t len, void *user) {
  rtf_c_close(ws, code, reason, len, &((struct rc *)user)->c);
}
static void rc_fail(struct wsv_ws *ws, int err, const char *text, void *user) {
  rtf_c_fail(ws, err, text, &((struct rc *)user)->c);
}
static void rc_log(void *user, int level, const char *text) {
  rtf_c_log(&((struct rc *)user)->c, level, text);
}

static const size_t rc_sizes[] = {5, 70000, 0, 300};
static uint8_t rc_pattern[70000];

static void rc_config(struct wsv_client_config *cc, struct rc *r, char *url,
                      size_t cap, int tls, uint16_t port, const char *path,
                      int http) {
  memset(r, 0, sizeof *r);
  for (size_t i = 0; i < sizeof rc_pattern; i++)
    rc_pattern[i] = (uint8_t)('a' + i % 26);
  rtf_cli_config(cc, &r->c, url, cap, port, path);
  if (tls) {
    snprintf(url, cap, "wss://127.0.0.1:%u%s", (unsigned)port, path);
    cc->tls_insecure = 1;
  }
  cc->http = http;
  cc->callbacks.open = rc_open;
  cc->callbacks.message = rc_message;
  cc->callbacks.close = rc_close;
  cc->callbacks.fail = rc_fail;
  cc->user = r;
  cc->log = rc_log;
  cc->log_user = r;
  r->c.sizes = rc_sizes;
  r->c.nsizes = 4;
  r->c.pattern = rc_pattern;
  r->c.close_after = 4;
}

/* Run a client to its end (closed or failed). */
static void rc_run(struct wsv_client_config *cc, struct rc *r) {
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  assert_int_equal(wsv_client_connect(loop, cc, NULL), 0);
  uint64_t end = wsv_loop_now(loop) + 8000;
  while (!r->c.closed && !r->c.failed && wsv_loop_now(loop) < end)
    assert_true(wsv_loop_run_once(loop, 20) >= 0);
  wsv_loop_free(loop);
}

static void expect_echoed(const struct rc *r, int http2) {
  if (!r->c.opened)
    fprintf(stderr, "client failed: %s\nlog:\n%s", r->c.fail_text, r->c.log);
  assert_true(r->c.opened);
  assert_int_equal(r->http2, http2);
  assert_int_equal(r->c.msgs, 4);
  assert_int_equal(r->c.bad, 0);
  assert_true(r->c.closed);
  assert_int_equal(r->c.code, 1000);
}

static void test_client_http2(void **state) {
  (void)state;
  for (int tls = 0; tls <= 1; tls++) {
    struct wsv_server_config cfg;
    srv_config(&cfg, WSV_HTTP2_ON, tls);
    struct wsv_server *srv = rtf_srv_start(&cfg);
    struct wsv_client_config cc;
    struct rc r;
    char url[128];
    rc_config(&cc, &r, url, sizeof url, tls, wsv_server_port(srv), "/echo",
              WSV_CLIENT_HTTP2);
    rc_run(&cc, &r);
    expect_echoed(&r, 1);
    rtf_wait_atomic(&g_srv.h2_opens, 1, 1000);
    assert_int_equal(atomic_load(&g_srv.h2_opens), 1);
    /* AUTO: over wss:// it takes h2; over ws:// HTTP/1.1. */
    rc_config(&cc, &r, url, sizeof url, tls, wsv_server_port(srv), "/echo",
              WSV_CLIENT_HTTP_AUTO);
    rc_run(&cc, &r);
    expect_echoed(&r, tls);
    /* HTTP1 never rides HTTP/2. */
    rc_config(&cc, &r, url, sizeof url, tls, wsv_server_port(srv), "/echo",
              WSV_CLIENT_HTTP1);
    rc_run(&cc, &r);
    expect_echoed(&r, 0);
    rtf_srv_finish(srv);
  }
}

static void test_client_fallback(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_NO_WEBSOCKET, 1);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct wsv_client_config cc;
  struct rc r;
  char url[128];
  rc_config(&cc, &r, url, sizeof url, 1, wsv_server_port(srv), "/echo",
            WSV_CLIENT_HTTP_AUTO);
  rc_run(&cc, &r);
  expect_echoed(&r, 0);
  assert_non_null(strstr(r.c.log, "SETTINGS_ENABLE_CONNECT_PROTOCOL"));
  assert_non_null(strstr(r.c.log, "HTTP/1.1 on a new connection"));
  /* HTTP2 forced: fails, saying why. */
  rc_config(&cc, &r, url, sizeof url, 1, wsv_server_port(srv), "/echo",
            WSV_CLIENT_HTTP2);
  rc_run(&cc, &r);
  assert_true(r.c.failed);
  assert_false(r.c.opened);
  assert_int_equal(r.c.fail_err, WSV_ERR_HS_STATUS);
  assert_non_null(strstr(r.c.fail_text, "SETTINGS_ENABLE_CONNECT_PROTOCOL"));
  rtf_srv_finish(srv);
}

static void test_client_http2_against_off(void **state) {
  (void)state;
  for (int tls = 0; tls <= 1; tls++) {
    struct wsv_server_config cfg;
    srv_config(&cfg, WSV_HTTP2_OFF, tls);
    struct wsv_server *srv = rtf_srv_start(&cfg);
    struct wsv_client_config cc;
    struct rc r;
    char url[128];
    rc_config(&cc, &r, url, sizeof url, tls, wsv_server_port(srv), "/echo",
              WSV_CLIENT_HTTP2);
    rc_run(&cc, &r);
    assert_true(r.c.failed);
    assert_false(r.c.opened);
    /* TLS: ALPN did not pick h2; h2c: the HTTP/1.1 400 and the close
     * came instead of SETTINGS. */
    const char *want =
        tls ? "does not speak HTTP/2" : "before the server's SETTINGS";
    if (strstr(r.c.fail_text, want) == NULL)
      fprintf(stderr, "fail text: %s\n", r.c.fail_text);
    assert_non_null(strstr(r.c.fail_text, want));
    /* AUTO against OFF over TLS: HTTP/1.1 at once */
    rc_config(&cc, &r, url, sizeof url, tls, wsv_server_port(srv), "/echo",
              WSV_CLIENT_HTTP_AUTO);
    rc_run(&cc, &r);
    expect_echoed(&r, 0);
    rtf_srv_finish(srv);
  }
}

static void test_client_version_retry(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  cfg.handshake.versions = WSV_VERSION_BIT(8);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct wsv_client_config cc;
  struct rc r;
  char url[128];
  rc_config(&cc, &r, url, sizeof url, 0, wsv_server_port(srv), "/echo",
            WSV_CLIENT_HTTP2);
  cc.handshake.versions = WSV_VERSION_BIT(13) | WSV_VERSION_BIT(8);
  rc_run(&cc, &r);
  expect_echoed(&r, 1);
  assert_int_equal(r.c.version, 8);
  assert_non_null(strstr(r.c.log, "retrying with 8"));
  assert_non_null(strstr(r.c.log, "on a new HTTP/2 stream"));
  assert_int_equal(atomic_load(&g_srv.h2_opens), 1);
  assert_int_equal(atomic_load(&rtf_srv.version), 8);
  /* Refused case: a client speaking 13 only fails with the 400. */
  rc_config(&cc, &r, url, sizeof url, 0, wsv_server_port(srv), "/echo",
            WSV_CLIENT_HTTP2);
  cc.handshake.versions = WSV_VERSION_BIT(13);
  rc_run(&cc, &r);
  assert_true(r.c.failed);
  assert_int_equal(atomic_load(&rtf_srv.opens), 1);
  rtf_srv_finish(srv);
}

#define SHARE_N 100

static void test_client_share(void **state) {
  (void)state;
  static struct rc rs[SHARE_N];
  static char urls[SHARE_N][128];
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  struct wsv_ws *first = NULL;
  rc_config(&cc, &rs[0], urls[0], sizeof urls[0], 0, wsv_server_port(srv),
            "/echo", WSV_CLIENT_HTTP2);
  rs[0].c.nsizes = 0;
  rs[0].c.close_after = 0;
  assert_int_equal(wsv_client_connect(loop, &cc, &first), 0);
  rtf_run_until(loop, &rs[0].c.opened, 5000);
  assert_true(rs[0].c.opened);
  assert_int_equal(rs[0].http2, 1);
  /* A share naming another server is refused. */
  struct rc spare;
  char spare_url[128];
  rc_config(&cc, &spare, spare_url, sizeof spare_url, 0,
            (uint16_t)(wsv_server_port(srv) + 1), "/echo", WSV_CLIENT_HTTP2);
  cc.share = first;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  for (int i = 1; i < SHARE_N; i++) {
    rc_config(&cc, &rs[i], urls[i], sizeof urls[i], 0, wsv_server_port(srv),
              "/echo", WSV_CLIENT_HTTP2);
    cc.share = first;
    assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  }
  /* Each echoes its four messages and closes; one TCP connection. */
  size_t most = 0;
  uint64_t end = wsv_loop_now(loop) + 15000;
  int done = 0;
  while (done < SHARE_N - 1 && wsv_loop_now(loop) < end) {
    assert_true(wsv_loop_run_once(loop, 20) >= 0);
    size_t nc = wsv_server_connections(srv);
    if (nc > most)
      most = nc;
    done = 0;
    for (int i = 1; i < SHARE_N; i++)
      done += rs[i].c.closed || rs[i].c.failed;
  }
  assert_int_equal(done, SHARE_N - 1);
  for (int i = 1; i < SHARE_N; i++) {
    if (!rs[i].c.opened)
      fprintf(stderr, "share %d: %s\n", i, rs[i].c.fail_text);
    expect_echoed(&rs[i], 1);
  }
  assert_int_equal(atomic_load(&rtf_srv.opens), SHARE_N);
  assert_int_equal(atomic_load(&g_srv.h2_opens), SHARE_N);
  assert_int_equal(most, 1);
  assert_int_equal(wsv_server_connections(srv), 1);
  /* The last one closes: the connection goes. */
  assert_false(rs[0].c.closed);
  assert_int_equal(wsv_ws_close(first, 1000, NULL, 0), 0);
  rtf_run_until(loop, &rs[0].c.closed, 5000);
  assert_int_equal(rs[0].c.code, 1000);
  for (int i = 0; i < 200 && wsv_server_connections(srv) > 0; i++)
    (void)wsv_loop_run_once(loop, 10);
  assert_int_equal(wsv_server_connections(srv), 0);
  rtf_srv_finish(srv);
  wsv_loop_free(loop);
}

/* ---- 7. split input ----------------------------------------------------- */

static void test_split_input(void **state) {
  (void)state;
  struct wsv_server_config cfg;
  srv_config(&cfg, WSV_HTTP2_ON, 0);
  struct wsv_server *srv = rtf_srv_start(&cfg);
  struct tc *c = tc_open(wsv_server_port(srv), 0, 1);
  assert_int_equal(c->ecp, 1);
  struct ts *s = ws_open_ok(c, "/echo");
  ws_text(c, s, "one byte at a time");
  ws_expect_text(c, s, "one byte at a time");
  struct ts *g = tc_req(c, "GET", NULL, "/page", NULL, 0);
  tc_done(c, g);
  assert_int_equal(g->status, 200);
  assert_int_equal(g->in.len, 11);
  ws_close_frame(c, s, 1000);
  TC_UNTIL(c, s->eof || s->rst, 3000);
  assert_true(s->eof);
  assert_int_equal(c->bad, 0);
  tc_close(c);
  rtf_srv_finish(srv);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (getenv("H2T_ONLY") != NULL) /* e.g. H2T_ONLY=test_shutdown */
    cmocka_set_test_filter(getenv("H2T_ONLY"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_settings_on),
      cmocka_unit_test(test_settings_no_websocket),
      cmocka_unit_test(test_settings_off),
      cmocka_unit_test(test_handshake_versions),
      cmocka_unit_test(test_handshake_plain_http),
      cmocka_unit_test(test_handshake_max_headers),
      cmocka_unit_test(test_handshake_subprotocol),
      cmocka_unit_test(test_handshake_deflate),
      cmocka_unit_test(test_frames_echo_and_close),
      cmocka_unit_test(test_frames_unmasked),
      cmocka_unit_test(test_frames_abort),
      cmocka_unit_test(test_flow_stalled_reader),
      cmocka_unit_test(test_flow_slow_consumer),
      cmocka_unit_test(test_flow_slow_consumer_never_reads),
      cmocka_unit_test(test_shutdown),
      cmocka_unit_test(test_shutdown_http1),
      cmocka_unit_test(test_client_http2),
      cmocka_unit_test(test_client_fallback),
      cmocka_unit_test(test_client_http2_against_off),
      cmocka_unit_test(test_client_version_retry),
      cmocka_unit_test(test_client_share),
      cmocka_unit_test(test_split_input),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
