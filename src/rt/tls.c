/*
 * tls.c - TLS for the runtime (OpenSSL 3), and the only file that includes
 * OpenSSL's headers.  It works on a transport (transport.h) only: the
 * rest of the runtime sees a transport's TLS through the small
 * wsv__rt_tls_* interface of tls.h: start, drive the handshake, read and
 * write like recv/sendmsg, send close_notify, free.
 *
 * Sockets are read and written by a tiny BIO of our own that calls
 * recv(2) and send(2) with MSG_NOSIGNAL, so a peer that reset its
 * connection never raises SIGPIPE (OpenSSL's socket BIO uses write(2)).
 * Everything is non-blocking: WANT_READ and WANT_WRITE become epoll
 * interest, and nothing here ever waits.
 *
 * Reads use read-ahead (fewer recv calls), so plaintext may sit in
 * OpenSSL's buffer where epoll cannot see it: after each read that leaves
 * some, the transport asks to be read again at the end of the iteration
 * (wsv__tp_read_again).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* Our BIO type: a source/sink of our own (no global index is taken). */
#define TLS_BIO_TYPE ((BIO_TYPE_START + 0x57) | BIO_TYPE_SOURCE_SINK)
/* Bytes of small iovecs gathered into one SSL_write (four records). */
#define TLS_GATHER ((size_t)64 << 10)
/* An iovec at least this long is written in place, without a copy. */
#define TLS_DIRECT ((size_t)16 << 10)

struct wsv__rt_tls_ctx {
  SSL_CTX *ssl;
  BIO_METHOD *bio;
  int server;
  int h2; /* ALPN: the server picks h2 when offered; the client offers it */
};

struct wsv__tls {
  SSL *ssl;
  struct wsv__rt_tls_ctx *ctx;
  uint8_t server;
  uint8_t peeked;      /* server: the first byte was a TLS handshake */
  uint8_t ready;       /* the handshake is done */
  uint8_t fatal;       /* a fatal error: no close_notify, no more I/O */
  uint8_t notified;    /* close_notify sent */
  uint8_t rd_want_out; /* a read needs the socket writable */
  uint8_t eof_later;   /* EOF seen after data: report it next read */
  uint8_t err_later;   /* an error seen after data: next read */
  uint8_t unverified;  /* client: the peer's certificate failed */
  char alpn[32];       /* the agreed ALPN protocol, "" if none */
  char err[256];       /* the last error, one line */
};

/* ---- the socket BIO ----------------------------------------------------- */

static int tls_bio_fd(BIO *b) {
  return (int)(intptr_t)BIO_get_data(b);
}

static int tls_bio_write(BIO *b, const char *p, int n) {
  ssize_t w;
  BIO_clear_retry_flags(b);
  do
    w = send(tls_bio_fd(b), p, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (w < 0 && errno == EINTR);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_write(b);
  return (int)w;
}

static int tls_bio_read(BIO *b, char *p, int n) {
  ssize_t r;
  BIO_clear_retry_flags(b);
  do
    r = recv(tls_bio_fd(b), p, (size_t)n, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_read(b);
  return (int)r;
}

static int tls_bio_puts(BIO *b, const char *s) {
  return tls_bio_write(b, s, (int)strlen(s));
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int tls_bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int tls_bio_destroy(BIO *b) {
  (void)b; /* the socket belongs to the connection: never closed here */
  return 1;
}

static BIO_METHOD *tls_bio_method(void) {
  BIO_METHOD *m = BIO_meth_new(TLS_BIO_TYPE, "wsv socket");
  if (m == NULL)
    return NULL;
  if (!BIO_meth_set_write(m, tls_bio_write) ||
      !BIO_meth_set_read(m, tls_bio_read) ||
      !BIO_meth_set_puts(m, tls_bio_puts) ||
      !BIO_meth_set_ctrl(m, tls_bio_ctrl) ||
      !BIO_meth_set_create(m, tls_bio_create) ||
      !BIO_meth_set_destroy(m, tls_bio_destroy)) {
    BIO_meth_free(m);
    return NULL;
  }
  return m;
}

/* ---- errors -------------------------------------------------------------
 */

/* The reason of the oldest queued OpenSSL error (the root cause), or
 * NULL; the queue is emptied either way. */
static const char *tls_queued_reason(void) {
  unsigned long e = ERR_get_error();
  const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
  ERR_clear_error();
  return r;
}

/* Put "prefix: reason" in buf from the OpenSSL error queue, or
 * "prefix: fallback" when the queue holds nothing useful. */
static void tls_queue_text(char *buf, size_t cap, const char *prefix,
                           const char *fallback) {
  const char *r = tls_queued_reason();
  snprintf(buf, cap, "%s: %s", prefix, r != NULL ? r : fallback);
}

/* Describe a failed handshake or I/O call into t->err. */
static void tls_fail_text(struct wsv__tls *t, int code, const char *what) {
  long v = SSL_get_verify_result(t->ssl);
  if (!t->server && !t->ready && v != X509_V_OK) {
    t->unverified = 1;
    ERR_clear_error();
    snprintf(t->err, sizeof t->err, "TLS: certificate verify failed: %s",
             X509_verify_cert_error_string(v));
    return;
  }
  if (code == SSL_ERROR_SYSCALL) {
    int e = errno;
    const char *r = tls_queued_reason();
    if (r != NULL)
      snprintf(t->err, sizeof t->err, "TLS: %s: %s", what, r);
    else if (e != 0 && e != EAGAIN)
      snprintf(t->err, sizeof t->err, "TLS: %s: %s", what,
               wsv__rt_errno_text(e));
    else
      snprintf(t->err, sizeof t->err, "TLS: %s: connection closed by peer",
               what);
    return;
  }
  char prefix[64];
  snprintf(prefix, sizeof prefix, "TLS: %s", what);
  tls_queue_text(t->err, sizeof t->err, prefix, "protocol error");
}

/* ---- contexts -------------------------------------------------------------
 */

/* The settings both roles share. */
static SSL_CTX *tls_ctx_common(const SSL_METHOD *method) {
  SSL_CTX *c = SSL_CTX_new(method);
  if (c == NULL)
    return NULL;
  if (!SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION)) {
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_IGNORE_UNEXPECTED_EOF);
  /* Partial writes: SSL_write returns after each record, so the bytes
   * consumed from the connection's queue are exactly those sent; a retry
   * may come from another address (our gather buffer) with the same
   * bytes.  Buffers are given back while the connection is idle. */
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(c, 1);
  return c;
}

static struct wsv__rt_tls_ctx *tls_ctx_wrap(SSL_CTX *ssl, int server) {
  struct wsv__rt_tls_ctx *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->bio = tls_bio_method();
  if (c->bio == NULL) {
    free(c);
    return NULL;
  }
  c->ssl = ssl;
  c->server = server;
  return c;
}

/* The offered ALPN protocol `name` (its length byte and bytes) in
 * in[0..inlen), or NULL. */
static const unsigned char *
tls_alpn_find(const unsigned char *in, unsigned int inlen, const char *name) {
  size_t want = strlen(name);
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen)
      break;
    if (n == want && memcmp(in + i + 1, name, n) == 0)
      return in + i;
    i += 1 + n;
  }
  return NULL;
}

/* ALPN on the server: h2 when offered and enabled (RFC 9113 §3.2), else
 * http/1.1 when offered, else go on without. */
static int tls_alpn_select(SSL *ssl, const unsigned char **out,
                           unsigned char *outlen, const unsigned char *in,
                           unsigned int inlen, void *arg) {
  const struct wsv__rt_tls_ctx *c = arg;
  (void)ssl;
  const unsigned char *p = c->h2 ? tls_alpn_find(in, inlen, "h2") : NULL;
  if (p == NULL)
    p = tls_alpn_find(in, inlen, "http/1.1");
  if (p == NULL)
    return SSL_TLSEXT_ERR_NOACK;
  *out = p + 1;
  *outlen = p[0];
  return SSL_TLSEXT_ERR_OK;
}

/* What a client offers by ALPN (length-prefixed, no NUL). */
static const unsigned char tls_alpn_h1[] = "\x08http/1.1";
static const unsigned char tls_alpn_h2_h1[] = "\x02h2\x08http/1.1";

void wsv__rt_tls_ctx_h2(struct wsv__rt_tls_ctx *c, int on) {
  c->h2 = on != 0;
  if (!c->server)
    (void)SSL_CTX_set_alpn_protos(c->ssl, on ? tls_alpn_h2_h1 : tls_alpn_h1,
                                  on ? sizeof tls_alpn_h2_h1 - 1
                                     : sizeof tls_alpn_h1 - 1);
}

int wsv__rt_tls_alpn_h1(struct wsv__tp *tp) {
  struct wsv__tls *t = wsv__tp_tls(tp);
  if (t == NULL)
    return 0;
  return SSL_set_alpn_protos(t->ssl, tls_alpn_h1, sizeof tls_alpn_h1 - 1) == 0
             ? 0
             : -1;
}

const char *wsv__rt_tls_alpn(const struct wsv__tp *tp) {
  const struct wsv__tls *t = wsv__tp_tls(tp);
  return t != NULL ? t->alpn : "";
}

struct wsv__rt_tls_ctx *wsv__rt_tls_server_ctx(const char *cert,
                                               const char *key, char *err,
                                               size_t cap) {
  ERR_clear_error();
  SSL_CTX *c = tls_ctx_common(TLS_server_method());
  if (c == NULL) {
    tls_queue_text(err, cap, "TLS", "cannot create a context");
    return NULL;
  }
  /* TLS 1.2: forward secrecy and AEAD only (1.3's suites are all fine). */
  if (!SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL")) {
    tls_queue_text(err, cap, "TLS", "no usable cipher");
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  char prefix[300];
  if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
    snprintf(prefix, sizeof prefix, "cannot load the certificate %s", cert);
    tls_queue_text(err, cap, prefix, "unreadable");
    SSL_CTX_free(c);
    return NULL;
  }
  if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
    snprintf(prefix, sizeof prefix, "cannot load the private key %s", key);
    tls_queue_text(err, cap, prefix, "unreadable");
    SSL_CTX_free(c);
    return NULL;
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    snprintf(prefix, sizeof prefix, "the key %s does not match %s", key, cert);
    tls_queue_text(err, cap, prefix, "mismatch");
    SSL_CTX_free(c);
    return NULL;
  }
  struct wsv__rt_tls_ctx *w = tls_ctx_wrap(c, 1);
  if (w == NULL) {
    snprintf(err, cap, "out of memory");
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_alpn_select_cb(c, tls_alpn_select, w);
  return w;
}

struct wsv__rt_tls_ctx *wsv__rt_tls_client_ctx(int insecure, const char *cafile,
                                               char *err, size_t cap) {
  ERR_clear_error();
  SSL_CTX *c = tls_ctx_common(TLS_client_method());
  if (c == NULL) {
    tls_queue_text(err, cap, "TLS", "cannot create a context");
    return NULL;
  }
  SSL_CTX_set_verify(c, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  if (!insecure && cafile != NULL && cafile[0] != '\0') {
    if (SSL_CTX_load_verify_locations(c, cafile, NULL) != 1) {
      char prefix[300];
      snprintf(prefix, sizeof prefix, "cannot load the CA file %s", cafile);
      tls_queue_text(err, cap, prefix, "unreadable");
      SSL_CTX_free(c);
      return NULL;
    }
  } else if (!insecure && SSL_CTX_set_default_verify_paths(c) != 1) {
    tls_queue_text(err, cap, "TLS: the system's CA store", "not found");
    SSL_CTX_free(c);
    return NULL;
  }
  if (SSL_CTX_set_alpn_protos(c, tls_alpn_h1, sizeof tls_alpn_h1 - 1) != 0) {
    tls_queue_text(err, cap, "TLS", "ALPN");
    SSL_CTX_free(c);
    return NULL;
  }
  struct wsv__rt_tls_ctx *w = tls_ctx_wrap(c, 0);
  if (w == NULL) {
    snprintf(err, cap, "out of memory");
    SSL_CTX_free(c);
  }
  return w;
}

void wsv__rt_tls_ctx_free(struct wsv__rt_tls_ctx *c) {
  if (c == NULL)
    return;
  SSL_CTX_free(c->ssl);
  BIO_meth_free(c->bio);
  free(c);
}

/* ---- one connection -------------------------------------------------------
 */

static int tls_is_ip(const char *host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}

/* Client: SNI (names only) and the name or address to verify. */
static int tls_client_names(SSL *ssl, const char *host) {
  if (tls_is_ip(host))
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
  /* SNI takes a name of at most 255 bytes (a mutable copy: the macro
   * casts away const). */
  char name[256];
  size_t n = strlen(host);
  if (n >= sizeof name)
    return 0;
  memcpy(name, host, n + 1);
  X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl),
                                  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(ssl, name) == 1 &&
         SSL_set1_host(ssl, host) == 1;
}

int wsv__rt_tls_start(struct wsv__tp *tp, struct wsv__rt_tls_ctx *c,
                      const char *host) {
  ERR_clear_error();
  struct wsv__tls *t = calloc(1, sizeof *t);
  if (t == NULL)
    return WSV_ERR_NOMEM;
  t->ctx = c;
  t->server = (uint8_t)c->server;
  t->ssl = SSL_new(c->ssl);
  BIO *bio = t->ssl != NULL ? BIO_new(c->bio) : NULL;
  if (bio == NULL) {
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error();
    return WSV_ERR_NOMEM;
  }
  BIO_set_data(bio, (void *)(intptr_t)tp->w.fd);
  SSL_set_bio(t->ssl, bio, bio);
  if (c->server) {
    SSL_set_accept_state(t->ssl);
  } else {
    if (host == NULL || !tls_client_names(t->ssl, host)) {
      SSL_free(t->ssl);
      free(t);
      ERR_clear_error();
      return WSV_ERR_INVAL;
    }
    SSL_set_connect_state(t->ssl);
  }
  tp->tls = t;
  return 0;
}

void wsv__rt_tls_free(struct wsv__tp *tp) {
  struct wsv__tls *t = wsv__tp_tls(tp);
  if (t == NULL)
    return;
  SSL_free(t->ssl);
  free(t);
  tp->tls = NULL;
  ERR_clear_error();
}

int wsv__rt_tls_ready(const struct wsv__tp *tp) {
  return wsv__tp_tls(tp) == NULL || tp->tls->ready;
}

const char *wsv__rt_tls_error(const struct wsv__tp *tp) {
  return wsv__tp_tls(tp) != NULL && tp->tls->err[0] != '\0' ? tp->tls->err
                                                            : "TLS error";
}

int wsv__rt_tls_code(const struct wsv__tp *tp) {
  return wsv__tp_tls(tp) != NULL && tp->tls->unverified ? WSV_ERR_TLS_VERIFY
                                                        : WSV_ERR_TLS;
}

static void tls_interest(struct wsv__tp *tp, uint32_t events) {
  if (tp->w.fd >= 0 && tp->w.events != events)
    (void)wsv__rt_watch_mod(tp->loop, &tp->w, events);
}

/* Server: look at the first byte before OpenSSL does.  A TLS connection
 * starts with a handshake record (22); anything else is a plaintext
 * client.  Returns 1 to go on, 0 to wait, 2 for plaintext, -1 on EOF or
 * an error (t->err set). */
static int tls_peek(struct wsv__tp *tp) {
  struct wsv__tls *t = wsv__tp_tls(tp);
  unsigned char b;
  ssize_t r;
  do
    r = recv(tp->w.fd, &b, 1, MSG_PEEK);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  if (r <= 0) {
    snprintf(t->err, sizeof t->err, "TLS: handshake: %s",
             r == 0 ? "connection closed by peer" : wsv__rt_errno_text(errno));
    return -1;
  }
  if (b != 22)
    return 2;
  t->peeked = 1;
  return 1;
}

int wsv__rt_tls_handshake(struct wsv__tp *tp) {
  struct wsv__tls *t = tp->tls; /* a socket with TLS (see tls.h) */
  if (t->ready)
    return 1;
  if (t->fatal)
    return -1;
  if (t->server && !t->peeked) {
    int p = tls_peek(tp);
    if (p != 1) {
      if (p < 0)
        t->fatal = 1;
      return p;
    }
  }
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (p != NULL && n < sizeof t->alpn) {
      memcpy(t->alpn, p, n);
      t->alpn[n] = '\0';
    }
    t->ready = 1;
    tls_interest(tp, EPOLLIN);
    return 1;
  }
  int code = SSL_get_error(t->ssl, r);
  if (code == SSL_ERROR_WANT_READ) {
    tls_interest(tp, EPOLLIN);
    return 0;
  }
  if (code == SSL_ERROR_WANT_WRITE) {
    tls_interest(tp, EPOLLIN | EPOLLOUT);
    return 0;
  }
  t->fatal = 1;
  tls_fail_text(t, code, "handshake failed");
  return -1;
}

ssize_t wsv__rt_tls_read(struct wsv__tp *tp, void *buf, size_t cap) {
  struct wsv__tls *t = tp->tls; /* a socket with TLS (see tls.h) */
  if (t->eof_later)
    return 0;
  if (t->err_later || t->fatal) {
    errno = EPROTO;
    return -1;
  }
  t->rd_want_out = 0;
  size_t n = 0;
  while (n < cap) {
    size_t got = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(t->ssl, (char *)buf + n, cap - n, &got) == 1) {
      n += got;
      continue;
    }
    int code = SSL_get_error(t->ssl, 0);
    if (code == SSL_ERROR_WANT_READ)
      break;
    if (code == SSL_ERROR_WANT_WRITE) {
      t->rd_want_out = 1;
      if (!(tp->w.events & EPOLLOUT))
        (void)wsv__rt_watch_mod(tp->loop, &tp->w, tp->w.events | EPOLLOUT);
      break;
    }
    if (code == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      if (n == 0)
        return 0;
      t->eof_later = 1;
      break;
    }
    t->fatal = 1;
    tls_fail_text(t, code, "read");
    if (n == 0) {
      errno = EPROTO;
      return -1;
    }
    t->err_later = 1;
    break;
  }
  if (n == 0) {
    errno = EAGAIN;
    return -1;
  }
  if (t->eof_later || t->err_later || SSL_has_pending(t->ssl))
    wsv__tp_read_again(tp);
  return (ssize_t)n;
}

/* Write p[0..n) record by record until done or the socket is full.
 * Returns the bytes written (>= 0), or -1 with errno set. */
static ssize_t tls_write(struct wsv__tp *tp, const void *p, size_t n) {
  struct wsv__tls *t = wsv__tp_tls(tp);
  size_t done = 0;
  while (done < n) {
    size_t w = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(t->ssl, (const char *)p + done, n - done, &w) == 1) {
      done += w;
      continue;
    }
    int code = SSL_get_error(t->ssl, 0);
    if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      if (done > 0)
        return (ssize_t)done;
      errno = EAGAIN;
      return -1;
    }
    int e = errno;
    t->fatal = 1;
    tls_fail_text(t, code, "write");
    if (done > 0)
      return (ssize_t)done;
    errno = code == SSL_ERROR_SYSCALL && e != 0 ? e : EPROTO;
    return -1;
  }
  return (ssize_t)done;
}

ssize_t wsv__rt_tls_writev(struct wsv__tp *tp, const struct iovec *iov, int k) {
  if (tp->tls->fatal) {
    errno = EPROTO;
    return -1;
  }
  if (k <= 0)
    return 0;
  if (iov[0].iov_len >= TLS_DIRECT || k == 1)
    return tls_write(tp, iov[0].iov_base, iov[0].iov_len);
  uint8_t *buf = wsv__tp_gather_buf(tp, TLS_GATHER);
  if (buf == NULL)
    return tls_write(tp, iov[0].iov_base, iov[0].iov_len);
  size_t n = 0;
  for (int i = 0; i < k && n < TLS_GATHER; i++) {
    size_t take = iov[i].iov_len;
    if (take > TLS_GATHER - n)
      take = TLS_GATHER - n;
    memcpy(buf + n, iov[i].iov_base, take);
    n += take;
  }
  return tls_write(tp, buf, n);
}

int wsv__rt_tls_want_out(const struct wsv__tp *tp) {
  return wsv__tp_tls(tp) != NULL && tp->tls->rd_want_out;
}

void wsv__rt_tls_close_notify(struct wsv__tp *tp) {
  struct wsv__tls *t = wsv__tp_tls(tp);
  if (t == NULL || !t->ready || t->fatal || t->notified || tp->w.fd < 0)
    return;
  t->notified = 1;
  ERR_clear_error();
  (void)SSL_shutdown(t->ssl); /* one try: the socket may be full */
  ERR_clear_error();
}

int wsv__rt_tls_info(const struct wsv__tp *tp, struct wsv_tls_info *info) {
  const struct wsv__tls *t = wsv__tp_tls(tp);
  if (t == NULL || !t->ready)
    return 0;
  info->version = SSL_get_version(t->ssl);
  info->cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl));
  info->alpn = t->alpn[0] != '\0' ? t->alpn : NULL;
  return 1;
}
