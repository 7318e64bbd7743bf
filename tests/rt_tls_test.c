/*
 * rt_tls_test.c - TLS (wss://) in the runtime over loopback: the server
 * runs on its own threads, the wsv client on the test's loop, and raw
 * sockets or raw OpenSSL clients play the misbehaving peers.  The
 * certificates (a CA, a server certificate for localhost and 127.0.0.1,
 * one for another name, an expired one, one from an unknown CA) are made
 * at run time with the openssl command in a temporary directory.  Every
 * wait is bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
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
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "support/rt_fixture.h"

static char g_dir[64];

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A file in the certificate directory (static buffers, in rotation). */
static const char *path_of(const char *name) {
  static char bufs[4][160];
  static int k;
  char *b = bufs[k++ % 4];
  snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
  return b;
}

/* ---- certificates ------------------------------------------------------- */

static const char make_certs[] =
    "set -e\n"
    "cd \"$1\"\n"
    "ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
    "openssl req -x509 $ec -keyout ca.key -out ca.pem -subj /CN=wsv-test-ca"
    " -days 2\n"
    "openssl req -x509 $ec -keyout other.key -out other.pem"
    " -subj /CN=wsv-other-ca -days 2\n"
    "openssl req $ec -keyout srv.key -out srv.csr -subj /CN=localhost\n"
    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ok.ext\n"
    "printf 'subjectAltName=DNS:example.com,IP:192.0.2.1\\n' > bad.ext\n"
    "sign() { openssl x509 -req -in srv.csr -CA $1.pem -CAkey $1.key"
    " -set_serial $2 -days $3 -extfile $4 -out $5; }\n"
    "sign ca 2 2 ok.ext good.pem\n"
    "sign ca 3 2 bad.ext wronghost.pem\n"
    "sign ca 4 -1 ok.ext expired.pem\n"
    "sign other 5 2 ok.ext unknown.pem\n"
    "cat good.pem ca.pem > chain.pem\n";

static int group_setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/wsv-tls-XXXXXX");
  if (mkdtemp(g_dir) == NULL)
    return -1;
  char script[128];
  snprintf(script, sizeof script, "%s/make.sh", g_dir);
  FILE *f = fopen(script, "w");
  if (f == NULL)
    return -1;
  fputs(make_certs, f);
  fclose(f);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "sh %s %s >%s/make.log 2>&1", script, g_dir, g_dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "making the certificates failed: see %s/make.log\n", g_dir);
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

/* ---- the server: echo --------------------------------------------------- */

/* The shared fixture's server (rtf_srv counts), with an open that checks
 * TLS and a smaller flood. */
static void s_open(struct wsv_ws *ws, void *user) {
  struct rtf_srv_state *s = user;
  struct wsv_tls_info ti;
  atomic_store(&s->version, wsv_ws_version(ws));
  if (wsv_ws_tls(ws, &ti) == 1 && strcmp(ti.version, "TLSv1.3") == 0 &&
      ti.alpn != NULL && strcmp(ti.alpn, "http/1.1") == 0)
    atomic_fetch_add(&s->tls_ok, 1);
  atomic_fetch_add(&s->opens, 1);
}

static void s_flood(struct wsv_ws *ws) {
  static uint8_t chunk[65536];
  for (int i = 0; i < 64; i++)
    if (wsv_ws_send_binary(ws, chunk, sizeof chunk) < 0)
      return;
}

static void s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  struct rtf_srv_state *s = user;
  if (n == 5 && memcmp(d, "flood", 5) == 0) {
    s_flood(ws);
    return;
  }
  int rc = wsv_ws_send(ws, op, d, n);
  if (rc != 0 && rc != 1)
    atomic_fetch_add(&s->bad, 1);
}

static void srv_config(struct wsv_server_config *cfg, const char *cert) {
  rtf_srv_config(cfg);
  cfg->callbacks.open = s_open;
  cfg->callbacks.message = s_message;
  cfg->tls_cert_file = path_of(cert);
  cfg->tls_key_file = path_of("srv.key");
  cfg->threads = 2;
}

/* ---- the wsv client ----------------------------------------------------- */

/* The shared fixture's client (struct rtf_cli) with an open that checks
 * TLS and closes at once when there is nothing to send, and a message
 * callback that closes with "done" after the last echo. */
static void c_open(struct wsv_ws *ws, void *user) {
  struct rtf_cli *c = user;
  struct wsv_tls_info ti;
  c->opened = 1;
  c->version = wsv_ws_version(ws);
  c->tls_ok = wsv_ws_tls(ws, &ti) == 1 && ti.alpn != NULL &&
              strcmp(ti.alpn, "http/1.1") == 0 && ti.cipher != NULL;
  for (int i = 0; i < c->nsizes; i++) {
    int op = (i % 2) ? WSV_OP_BINARY : WSV_OP_TEXT;
    int rc = wsv_ws_send(ws, op, c->pattern, c->sizes[i]);
    assert_true(rc == 0 || rc == 1);
  }
  if (c->nsizes == 0)
    assert_int_equal(wsv_ws_close(ws, 1000, NULL, 0), 0);
}

static void c_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                      void *user) {
  struct rtf_cli *c = user;
  int i = c->msgs++;
  if (i >= c->nsizes || n != c->sizes[i] ||
      op != ((i % 2) ? WSV_OP_BINARY : WSV_OP_TEXT) ||
      (n > 0 && memcmp(d, c->pattern, n) != 0))
    c->bad++;
  if (c->msgs == c->nsizes)
    assert_int_equal(wsv_ws_close(ws, 1000, "done", 4), 0);
}

static void cli_config(struct wsv_client_config *cfg, struct rtf_cli *c,
                       char *url, size_t cap, const char *host, uint16_t port) {
  rtf_cli_config(cfg, c, url, cap, port, "/tls");
  snprintf(url, cap, "wss://%s:%u/tls", host, (unsigned)port);
  cfg->tls_cafile = path_of("ca.pem");
  /* These cases are about TLS under HTTP/1.1 (rt_h2_test has HTTP/2). */
  cfg->http = WSV_CLIENT_HTTP1;
  cfg->callbacks.open = c_open;
  cfg->callbacks.message = c_message;
}

static void run_until(struct wsv_loop *loop, const int *a, const int *b,
                      int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  while (!*a && !*b && wsv_loop_now(loop) < end)
    assert_true(wsv_loop_run_once(loop, 20) >= 0);
}

/* Connect a wsv client and run until it opens-and-closes or fails. */
static void cli_run(struct wsv_client_config *cc, struct rtf_cli *c) {
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  assert_int_equal(wsv_client_connect(loop, cc, NULL), 0);
  run_until(loop, &c->closed, &c->failed, 10000);
  wsv_loop_free(loop);
}

/* ---- raw peers ----------------------------------------------------------- */

/* A blocking OpenSSL client on a raw socket (no verification). */
static SSL *raw_tls(SSL_CTX *ctx, int fd) {
  SSL *ssl = SSL_new(ctx);
  assert_non_null(ssl);
  SSL_set_fd(ssl, fd);
  static char name[] = "localhost"; /* the macro casts away const */
  SSL_set_tlsext_host_name(ssl, name);
  return ssl;
}

static SSL_CTX *raw_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(ctx);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  return ctx;
}

/* ---- tests ----------------------------------------------------------------
 */

/* Echo over wss:// both ways, sizes up to 1 MiB, by host name and by IP;
 * TLS 1.3 and ALPN http/1.1 on both sides. */
static void test_echo(void **state) {
  (void)state;
  static const size_t sizes[] = {0,     1,     125,     126,    127,
                                 16383, 16384, 16385,   65535,  65536,
                                 65537, 70000, 1 << 19, 1 << 20};
  struct wsv_server_config sc;
  srv_config(&sc, "chain.pem");
  struct wsv_server *srv = rtf_srv_start(&sc);
  uint8_t *pat = malloc(1 << 20);
  assert_non_null(pat);
  for (size_t i = 0; i < (1u << 20); i++)
    pat[i] = (uint8_t)('a' + i % 26);
  const char *hosts[] = {"localhost", "127.0.0.1"};
  for (int h = 0; h < 2; h++) {
    struct rtf_cli c;
    memset(&c, 0, sizeof c);
    c.sizes = sizes;
    c.nsizes = (int)(sizeof sizes / sizeof sizes[0]);
    c.pattern = pat;
    struct wsv_client_config cc;
    char url[96];
    cli_config(&cc, &c, url, sizeof url, hosts[h], wsv_server_port(srv));
    cli_run(&cc, &c);
    if (!c.closed)
      fprintf(stderr, "fail: %s\nlog: %s\n", c.fail_text, c.log);
    assert_true(c.opened);
    assert_true(c.closed);
    assert_int_equal(c.code, 1000);
    assert_int_equal(c.msgs, c.nsizes);
    assert_int_equal(c.bad, 0);
    assert_true(c.tls_ok);
    assert_non_null(strstr(c.log, "TLS: TLSv1.3"));
  }
  for (int i = 0; i < 2000 && atomic_load(&rtf_srv.closes) < 2; i++)
    usleep(1000);
  assert_int_equal(atomic_load(&rtf_srv.tls_ok), 2);
  free(pat);
  rtf_srv_finish(srv);
}

/* The version retry runs its second TLS connection too. */
static void test_version_retry(void **state) {
  (void)state;
  struct wsv_server_config sc;
  srv_config(&sc, "good.pem");
  sc.handshake.versions = WSV_VERSION_BIT(8);
  struct wsv_server *srv = rtf_srv_start(&sc);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_client_config cc;
  char url[96];
  cli_config(&cc, &c, url, sizeof url, "localhost", wsv_server_port(srv));
  cli_run(&cc, &c);
  assert_true(c.opened);
  assert_int_equal(c.version, 8);
  assert_non_null(strstr(c.log, "retrying with 8"));
  rtf_srv_finish(srv);
}

/* Certificate failures name their reason in the fail text. */
static void expect_fail(const char *cert, const char *host, const char *want) {
  struct wsv_server_config sc;
  srv_config(&sc, cert);
  struct wsv_server *srv = rtf_srv_start(&sc);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_client_config cc;
  char url[96];
  cli_config(&cc, &c, url, sizeof url, host, wsv_server_port(srv));
  cli_run(&cc, &c);
  assert_false(c.opened);
  assert_true(c.failed);
  /* A verification failure, told apart from a broken TLS record (it was
   * WSV_ERR_CLOSED before 0.2). */
  assert_int_equal(c.fail_err, WSV_ERR_TLS_VERIFY);
  if (strstr(c.fail_text, want) == NULL)
    fprintf(stderr, "fail text: %s\n", c.fail_text);
  assert_non_null(strstr(c.fail_text, "TLS: certificate verify failed: "));
  assert_non_null(strstr(c.fail_text, want));
  assert_int_equal(atomic_load(&rtf_srv.opens), 0);
  rtf_srv_finish(srv);
}

static void test_wrong_host(void **state) {
  (void)state;
  expect_fail("wronghost.pem", "localhost", "hostname mismatch");
  expect_fail("wronghost.pem", "127.0.0.1", "IP address mismatch");
}

static void test_unknown_ca(void **state) {
  (void)state;
  expect_fail("unknown.pem", "localhost", "unable to get local issuer");
}

static void test_expired(void **state) {
  (void)state;
  expect_fail("expired.pem", "localhost", "expired");
}

/* tls_insecure accepts an unknown CA and a wrong name. */
static void test_insecure(void **state) {
  (void)state;
  struct wsv_server_config sc;
  srv_config(&sc, "unknown.pem");
  struct wsv_server *srv = rtf_srv_start(&sc);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_client_config cc;
  char url[96];
  cli_config(&cc, &c, url, sizeof url, "127.0.0.1", wsv_server_port(srv));
  cc.tls_insecure = 1;
  cc.tls_cafile = NULL;
  cli_run(&cc, &c);
  assert_true(c.opened);
  assert_true(c.closed);
  assert_int_equal(c.code, 1000);
  rtf_srv_finish(srv);
}

/* TLS that breaks for another reason than the certificate: wss:// to a
 * plain ws:// server, which answers the ClientHello with an HTTP 400. */
static void test_tls_not_verify(void **state) {
  (void)state;
  struct wsv_server_config sc;
  rtf_srv_config(&sc); /* no TLS */
  struct wsv_server *srv = rtf_srv_start(&sc);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_client_config cc;
  char url[96];
  cli_config(&cc, &c, url, sizeof url, "localhost", wsv_server_port(srv));
  cli_run(&cc, &c);
  assert_false(c.opened);
  assert_true(c.failed);
  assert_int_equal(c.fail_err, WSV_ERR_TLS);
  assert_non_null(strstr(c.fail_text, "TLS"));
  rtf_srv_finish(srv);
}

/* Bad files: the server refuses to start, the client to connect. */
static void test_bad_files(void **state) {
  (void)state;
  struct wsv_server_config sc;
  struct wsv_server *srv = NULL;
  srv_config(&sc, "good.pem");
  sc.tls_key_file = NULL;
  assert_int_equal(wsv_server_new(&srv, &sc), WSV_ERR_INVAL);
  srv_config(&sc, "good.pem");
  sc.tls_key_file = path_of("other.key"); /* not the certificate's key */
  assert_int_equal(wsv_server_new(&srv, &sc), WSV_ERR_INVAL);
  srv_config(&sc, "missing.pem");
  assert_int_equal(wsv_server_new(&srv, &sc), WSV_ERR_INVAL);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_client_config cc;
  char url[96];
  cli_config(&cc, &c, url, sizeof url, "127.0.0.1", 9);
  cc.tls_cafile = path_of("missing.pem");
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  assert_non_null(strstr(c.log, "missing.pem"));
  wsv_loop_free(loop);
}

/* Plain HTTP to the TLS port: a plaintext 400 and a clean close. */
static void test_plaintext(void **state) {
  (void)state;
  struct wsv_server_config sc;
  srv_config(&sc, "good.pem");
  struct wsv_server *srv = rtf_srv_start(&sc);
  int fd = rtf_raw_connect(wsv_server_port(srv));
  static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(send(fd, req, sizeof req - 1, MSG_NOSIGNAL),
                   (ssize_t)(sizeof req - 1));
  char buf[1024];
  int err;
  size_t n = rtf_raw_read_all(fd, buf, sizeof buf - 1, 2000, &err);
  buf[n] = '\0';
  assert_int_equal(err, 0);
  assert_true(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
  assert_non_null(strstr(buf, "\r\n\r\nthis port speaks TLS"));
  close(fd);
  rtf_srv_finish(srv);
}

/* A client stalled mid-handshake (or silent) is dropped at the handshake
 * timeout. */
static void test_stalled_handshake(void **state) {
  (void)state;
  struct wsv_server_config sc;
  srv_config(&sc, "good.pem");
  sc.limits.handshake_timeout_ms = 300;
  struct wsv_server *srv = rtf_srv_start(&sc);
  int a = rtf_raw_connect(wsv_server_port(srv));
  int b = rtf_raw_connect(wsv_server_port(srv));
  static const uint8_t part[] = {0x16, 0x03, 0x01, 0x01, 0x00, 0x01};
  assert_int_equal(send(a, part, sizeof part, MSG_NOSIGNAL),
                   (ssize_t)sizeof part);
  uint64_t t0 = now_ms();
  char buf[256];
  int err;
  (void)rtf_raw_read_all(a, buf, sizeof buf, 3000, &err);
  assert_int_equal(err, 0);
  (void)rtf_raw_read_all(b, buf, sizeof buf, 3000, &err);
  assert_int_equal(err, 0);
  assert_true(now_ms() - t0 < 2000);
  close(a);
  close(b);
  rtf_srv_finish(srv);
}

/* ALPN offered "h2, http/1.1" to a server with http2 `mode`: what the
 * server picks. */
static void alpn_picked(int mode, const char *want) {
  struct wsv_server_config sc;
  srv_config(&sc, "good.pem");
  sc.http2 = mode;
  struct wsv_server *srv = rtf_srv_start(&sc);
  SSL_CTX *ctx = raw_ctx();
  static const unsigned char alpn[] = "\x02h2\x08http/1.1";
  assert_int_equal(SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1), 0);
  int fd = rtf_raw_connect(wsv_server_port(srv));
  SSL *ssl = raw_tls(ctx, fd);
  assert_int_equal(SSL_connect(ssl), 1);
  const unsigned char *p;
  unsigned int n;
  SSL_get0_alpn_selected(ssl, &p, &n);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(p, want, n);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  rtf_srv_finish(srv);
}

/* ALPN: h2 is picked when HTTP/2 is on (the default, and without
 * WebSockets over it), http/1.1 when it is off. */
static void test_alpn_h2(void **state) {
  (void)state;
  alpn_picked(WSV_HTTP2_ON, "h2");
  alpn_picked(WSV_HTTP2_NO_WEBSOCKET, "h2");
  alpn_picked(WSV_HTTP2_OFF, "http/1.1");
}

/* A TLS 1.1 client is refused; ALPN: http/1.1 is picked among others
 * (HTTP/2 off). */
static void test_protocols(void **state) {
  (void)state;
  struct wsv_server_config sc;
  srv_config(&sc, "good.pem");
  sc.http2 = WSV_HTTP2_OFF;
  struct wsv_server *srv = rtf_srv_start(&sc);
  uint16_t port = wsv_server_port(srv);

  SSL_CTX *old = raw_ctx();
  SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
  SSL_CTX_set_security_level(old, 0);
  (void)SSL_CTX_set_cipher_list(old, "DEFAULT:@SECLEVEL=0");
  int fd = rtf_raw_connect(port);
  SSL *ssl = raw_tls(old, fd);
  assert_true(SSL_connect(ssl) != 1);
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(old);

  SSL_CTX *ctx = raw_ctx();
  static const unsigned char alpn[] = "\x02h2\x08http/1.1";
  assert_int_equal(SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1), 0);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  fd = rtf_raw_connect(port);
  ssl = raw_tls(ctx, fd);
  assert_int_equal(SSL_connect(ssl), 1);
  const unsigned char *p;
  unsigned int n;
  SSL_get0_alpn_selected(ssl, &p, &n);
  assert_int_equal(n, 8);
  assert_memory_equal(p, "http/1.1", 8);
  assert_string_equal(SSL_get_version(ssl), "TLSv1.2");
  assert_non_null(strstr(SSL_get_cipher_name(ssl), "ECDHE"));
  /* Garbage records after the handshake: the server just closes. */
  static const uint8_t junk[] = {0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5};
  assert_int_equal(send(fd, junk, sizeof junk, MSG_NOSIGNAL),
                   (ssize_t)sizeof junk);
  char buf[256];
  int err;
  (void)rtf_raw_read_all(fd, buf, sizeof buf, 3000, &err);
  assert_true(err == 0 || err == ECONNRESET);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  assert_int_equal(atomic_load(&rtf_srv.opens), 0);
  rtf_srv_finish(srv);
}

/* A peer that resets while the server writes a lot over TLS: no SIGPIPE
 * (its disposition is the default here), the server goes on. */
static void test_reset_no_sigpipe(void **state) {
  (void)state;
  struct wsv_server_config sc;
  srv_config(&sc, "good.pem");
  struct wsv_server *srv = rtf_srv_start(&sc);
  uint16_t port = wsv_server_port(srv);
  SSL_CTX *ctx = raw_ctx();
  for (int round = 0; round < 3; round++) {
    int fd = rtf_raw_connect(port);
    SSL *ssl = raw_tls(ctx, fd);
    assert_int_equal(SSL_connect(ssl), 1);
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    assert_int_equal(SSL_write(ssl, req, (int)sizeof req - 1),
                     (int)sizeof req - 1);
    char buf[512];
    int got = SSL_read(ssl, buf, (int)sizeof buf - 1);
    assert_true(got > 12);
    buf[got] = '\0';
    assert_non_null(strstr(buf, "101 Switching Protocols"));
    /* A masked "flood" text frame: 4 MiB come back; reset halfway. */
    static const uint8_t flood[] = {
        0x81, 0x85, 1, 2, 3, 4, 'f' ^ 1, 'l' ^ 2, 'o' ^ 3, 'o' ^ 4, 'd' ^ 1};
    assert_int_equal(SSL_write(ssl, flood, (int)sizeof flood),
                     (int)sizeof flood);
    (void)SSL_read(ssl, buf, (int)sizeof buf);
    struct linger lg = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    SSL_free(ssl);
    close(fd);
  }
  SSL_CTX_free(ctx);
  for (int i = 0; i < 3000 && atomic_load(&rtf_srv.closes) < 3; i++)
    usleep(1000);
  assert_int_equal(atomic_load(&rtf_srv.closes), 3);
  rtf_srv_finish(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo),
      cmocka_unit_test(test_version_retry),
      cmocka_unit_test(test_wrong_host),
      cmocka_unit_test(test_unknown_ca),
      cmocka_unit_test(test_expired),
      cmocka_unit_test(test_insecure),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_tls_not_verify),
      cmocka_unit_test(test_plaintext),
      cmocka_unit_test(test_stalled_handshake),
      cmocka_unit_test(test_protocols),
      cmocka_unit_test(test_alpn_h2),
      cmocka_unit_test(test_reset_no_sigpipe),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
