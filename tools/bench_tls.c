/*
 * bench_tls.c - wss:// for `wsv bench echo` and `wsv bench connect`: TLS
 * (OpenSSL 3, directly: the runtime's TLS helpers are tied to its loop)
 * between a connection's socket and its lean wire (bench_wire.c).  One
 * SSL_CTX per generator thread; every connection a full handshake (no
 * session resumption, so connect measures full TLS handshakes), verified
 * against --cacert FILE or the system's CAs unless --insecure, the server
 * certificate matched against the URL's IP address.  Non-blocking: the
 * handshake is driven from the connection's epoll events, and reads and
 * writes map OpenSSL's "want" results to EAGAIN.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench.h"
#include "bench_eng.h"

/* The thread's OpenSSL error queue as one line (it is emptied). */
static void tls_error(char *out, size_t cap) {
  unsigned long e = ERR_get_error();
  if (e == 0)
    snprintf(out, cap, "TLS failed");
  else
    ERR_error_string_n(e, out, cap);
  ERR_clear_error();
}

int btls_init(struct eng *e) {
  const struct bench_opts *o = e->o;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) {
    snprintf(e->t->err, sizeof e->t->err, "TLS: no context");
    return -1;
  }
  e->tls = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     NULL);
  if (o->cacert != NULL) {
    if (SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) != 1) {
      char why[160];
      tls_error(why, sizeof why);
      snprintf(e->t->err, sizeof e->t->err, "TLS: cannot load --cacert %s: %s",
               o->cacert, why);
      return -1;
    }
  } else if (!o->insecure && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    snprintf(e->t->err, sizeof e->t->err, "TLS: no system CA store");
    return -1;
  }
  return 0;
}

void btls_cleanup(struct eng *e) {
  SSL_CTX_free(e->tls);
  e->tls = NULL;
}

int btls_start(struct bconn *c) {
  struct eng *e = c->e;
  SSL *ssl = SSL_new(e->tls);
  if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1) {
    SSL_free(ssl);
    bconn_fail(c, "TLS: cannot start");
    return -1;
  }
  c->ssl = ssl;
  SSL_set_connect_state(ssl);
  if (!e->o->insecure &&
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                    e->o->target[c->target].host) != 1) {
    bconn_fail(c, "TLS: cannot check the certificate for %s",
               e->o->target[c->target].host);
    return -1;
  }
  return btls_step(c);
}

int btls_step(struct bconn *c) {
  SSL *ssl = c->ssl;
  int rc = SSL_do_handshake(ssl);
  if (rc == 1)
    return 1;
  int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ) {
    bconn_watch(c, EPOLLIN);
    return 0;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    bconn_watch(c, EPOLLOUT);
    return 0;
  }
  long v = SSL_get_verify_result(ssl);
  if (v != X509_V_OK) {
    ERR_clear_error();
    bconn_fail(c, "TLS: the server's certificate is not trusted: %s%s",
               X509_verify_cert_error_string(v),
               c->e->o->cacert == NULL ? " (give --cacert FILE or -k)" : "");
    return -1;
  }
  char why[160];
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
    snprintf(why, sizeof why, "%s",
             rc == 0 || errno == 0 ? "the server closed the connection"
                                   : strerror(errno));
  else
    tls_error(why, sizeof why);
  bconn_fail(c, "TLS handshake: %s", why);
  return -1;
}

/* errno for an SSL result that is not a byte count; 0 means end of
 * stream. */
static ssize_t btls_result(SSL *ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  switch (err) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN:
    return 0;
  case SSL_ERROR_SYSCALL:
    if (ERR_peek_error() == 0 && (rc == 0 || errno == 0)) {
      return 0; /* TCP closed without close_notify: the end all the same */
    }
    if (ERR_peek_error() == 0)
      return -1; /* errno is the socket's */
    ERR_clear_error();
    errno = EIO;
    return -1;
  default:
    ERR_clear_error();
    errno = EPROTO;
    return -1;
  }
}

ssize_t btls_write(struct bconn *c, const void *p, size_t n) {
  if (n == 0)
    return 0;
  int rc = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
  return rc > 0 ? rc : btls_result(c->ssl, rc);
}

ssize_t btls_read(struct bconn *c, void *p, size_t n) {
  int rc = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
  return rc > 0 ? rc : btls_result(c->ssl, rc);
}

void btls_release(struct bconn *c) {
  SSL_free(c->ssl);
  c->ssl = NULL;
}
