/*
 * rt_client_test.c - the runtime's client (src/rt/client.c) against the
 * runtime's server over loopback: the version retry, no common version,
 * URLs refused and a refused connection, an IPv6 client; through a tiny
 * HTTP CONNECT proxy and a tiny SOCKS5 proxy (with their logins, a 407, a
 * refused SOCKS5 login), and the status and Location of a refused
 * handshake (wsv_client_status, wsv_client_location).  The server runs
 * on its own threads, the client on a loop of the test's thread
 * (tests/support/rt_fixture.h), the proxies on a thread each.  Every wait
 * is bounded.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/rt_fixture.h"

/* ---- a one-connection proxy (or refusing server) on a thread ----------------- */

enum px_mode {
  PXM_CONNECT,      /* CONNECT: 200, then relay to `target` */
  PXM_CONNECT_AUTH, /* as PXM_CONNECT, but 407 without the right login */
  PXM_SOCKS5_AUTH,  /* SOCKS5 wanting bob:pw, then relay to `target` */
  PXM_ANSWER        /* read a request head, send `answer`, close */
};

struct px {
  int mode;
  int lfd;
  uint16_t port;
  uint16_t target;
  const char *answer;
  char seen[1024]; /* what the client sent first (a head or the SOCKS bytes) */
  size_t seen_len;
  pthread_t t;
};

static ssize_t px_recv(int fd, void *buf, size_t n) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1)
    return -1;
  return recv(fd, buf, n, 0);
}

/* Read exactly n bytes (bounded). */
static int px_read(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = px_recv(fd, (char *)buf + got, n - got);
    if (r <= 0)
      return -1;
    got += (size_t)r;
  }
  return 0;
}

/* Read a head into x->seen up to its blank line. */
static int px_head(struct px *x, int fd) {
  while (x->seen_len < sizeof x->seen - 1) {
    ssize_t r = px_recv(fd, x->seen + x->seen_len, 1);
    if (r <= 0)
      return -1;
    x->seen_len++;
    x->seen[x->seen_len] = '\0';
    if (strstr(x->seen, "\r\n\r\n") != NULL)
      return 0;
  }
  return -1;
}

static void px_relay(int a, int b) {
  char buf[16384];
  for (;;) {
    struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    if (poll(p, 2, 5000) <= 0)
      return;
    for (int k = 0; k < 2; k++) {
      if (p[k].revents == 0)
        continue;
      ssize_t r = recv(p[k].fd, buf, sizeof buf, 0);
      if (r <= 0 || send(p[1 - k].fd, buf, (size_t)r, MSG_NOSIGNAL) != r)
        return;
    }
  }
}

static void px_serve(struct px *x, int c) {
  static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
  static const char no[] =
      "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
  if (x->mode == PXM_ANSWER) {
    if (px_head(x, c) == 0)
      (void)send(c, x->answer, strlen(x->answer), MSG_NOSIGNAL);
    return;
  }
  if (x->mode == PXM_CONNECT || x->mode == PXM_CONNECT_AUTH) {
    if (px_head(x, c) != 0)
      return;
    if (x->mode == PXM_CONNECT_AUTH &&
        strstr(x->seen, "\r\nProxy-Authorization: Basic Ym9iOnB3\r\n") == NULL) {
      (void)send(c, no, sizeof no - 1, MSG_NOSIGNAL);
      return;
    }
    (void)send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
  } else {
    uint8_t b[300];
    if (px_read(c, b, 2) != 0 || px_read(c, b + 2, b[1]) != 0)
      return;
    memcpy(x->seen, b, 2u + b[1]);
    x->seen_len = 2u + b[1];
    (void)send(c, "\x05\x02", 2, MSG_NOSIGNAL);
    uint8_t ul, pl;
    char user[256], pass[256];
    if (px_read(c, b, 2) != 0 || (ul = b[1], px_read(c, user, ul)) != 0 ||
        px_read(c, &pl, 1) != 0 || px_read(c, pass, pl) != 0)
      return;
    int good = ul == 3 && memcmp(user, "bob", 3) == 0 && pl == 2 &&
               memcmp(pass, "pw", 2) == 0;
    (void)send(c, good ? "\x01\x00" : "\x01\x01", 2, MSG_NOSIGNAL);
    if (!good)
      return;
    if (px_read(c, b, 4) != 0 || b[3] != 1 || px_read(c, b + 4, 6) != 0)
      return; /* the test's target is an IPv4 literal */
    memcpy(x->seen + x->seen_len, b, 10);
    x->seen_len += 10;
    (void)send(c, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10,
               MSG_NOSIGNAL);
  }
  int u = rtf_raw_connect(x->target);
  px_relay(c, u);
  close(u);
}

static void *px_main(void *arg) {
  struct px *x = arg;
  struct pollfd p = {x->lfd, POLLIN, 0};
  if (poll(&p, 1, 5000) == 1) {
    int c = accept(x->lfd, NULL, NULL);
    if (c >= 0) {
      px_serve(x, c);
      close(c);
    }
  }
  return NULL;
}

static void px_start(struct px *x, int mode, uint16_t target) {
  memset(x, 0, sizeof *x);
  x->mode = mode;
  x->target = target;
  x->lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(x->lfd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(x->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(x->lfd, 4), 0);
  socklen_t al = sizeof a;
  assert_int_equal(getsockname(x->lfd, (struct sockaddr *)&a, &al), 0);
  x->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&x->t, NULL, px_main, x), 0);
}

static void px_join(struct px *x) {
  pthread_join(x->t, NULL);
  close(x->lfd);
}

/* Open through `proxy`, echo one message, close. */
static void proxied_echo(const char *proxy, uint16_t port, struct rtf_cli *c) {
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  static const size_t sizes[] = {5};
  static uint8_t hello[] = "hello";
  memset(c, 0, sizeof *c);
  c->sizes = sizes;
  c->pattern = hello;
  c->nsizes = 1;
  c->close_after = 1;
  rtf_cli_config(&cc, c, url, sizeof url, port, "/");
  cc.proxy = proxy;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c->closed, 4000);
  if (!c->closed)
    fail_msg("no close; failed=%d \"%s\" log:\n%s", c->failed, c->fail_text,
             c->log);
  wsv_loop_free(loop);
}

static void test_proxy_connect(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  struct px x;
  char proxy[96];
  struct rtf_cli c;

  px_start(&x, PXM_CONNECT, port);
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", (unsigned)x.port);
  proxied_echo(proxy, port, &c);
  px_join(&x);
  assert_int_equal(c.msgs, 1);
  assert_int_equal(c.bad, 0);
  assert_int_equal(c.code, 1000);
  char want[80];
  snprintf(want, sizeof want, "CONNECT 127.0.0.1:%u HTTP/1.1\r\n", port);
  assert_memory_equal(x.seen, want, strlen(want));
  assert_null(strstr(x.seen, "Proxy-Authorization"));
  assert_non_null(strstr(c.log, "tunnel to 127.0.0.1"));

  px_start(&x, PXM_CONNECT_AUTH, port);
  snprintf(proxy, sizeof proxy, "http://bob:pw@127.0.0.1:%u", (unsigned)x.port);
  proxied_echo(proxy, port, &c);
  px_join(&x);
  assert_int_equal(c.msgs, 1);

  /* No login: 407 ends in fail, WSV_ERR_PROXY, naming the proxy. */
  px_start(&x, PXM_CONNECT_AUTH, port);
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", (unsigned)x.port);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  memset(&c, 0, sizeof c);
  rtf_cli_config(&cc, &c, url, sizeof url, port, "/");
  cc.proxy = proxy;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.failed, 4000);
  px_join(&x);
  assert_true(c.failed);
  assert_int_equal(c.fail_err, WSV_ERR_PROXY);
  assert_non_null(strstr(c.fail_text, "407"));
  assert_non_null(strstr(c.fail_text, "proxy 127.0.0.1:"));
  /* A proxy URL the runtime refuses: WSV_ERR_INVAL, the reason logged. */
  cc.proxy = "gopher://h:70";
  c.log[0] = '\0';
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  assert_non_null(strstr(c.log, "socks5://"));
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_proxy_socks5(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  uint16_t port = wsv_server_port(srv);
  struct px x;
  char proxy[96];
  struct rtf_cli c;
  px_start(&x, PXM_SOCKS5_AUTH, port);
  snprintf(proxy, sizeof proxy, "socks5://bob:pw@127.0.0.1:%u",
           (unsigned)x.port);
  proxied_echo(proxy, port, &c);
  px_join(&x);
  assert_int_equal(c.msgs, 1);
  /* the greeting offered 00 and 02; the request named 127.0.0.1:port */
  assert_memory_equal(x.seen, "\x05\x02\x00\x02", 4);
  assert_memory_equal(x.seen + 4, "\x05\x01\x00\x01\x7f\x00\x00\x01", 8);
  assert_int_equal(((uint8_t)x.seen[12] << 8) | (uint8_t)x.seen[13], port);

  px_start(&x, PXM_SOCKS5_AUTH, port);
  snprintf(proxy, sizeof proxy, "socks5://bob:no@127.0.0.1:%u",
           (unsigned)x.port);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  memset(&c, 0, sizeof c);
  rtf_cli_config(&cc, &c, url, sizeof url, port, "/");
  cc.proxy = proxy;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.failed, 4000);
  px_join(&x);
  assert_int_equal(c.fail_err, WSV_ERR_PROXY);
  assert_non_null(strstr(c.fail_text, "refused our user and password"));
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

/* ---- the refused handshake's status and Location ------------------------------ */

struct refusal {
  int failed, err, status, open_status;
  char location[128];
  int has_location;
};

static void rf_fail(struct wsv_ws *ws, int err, const char *text, void *user) {
  struct refusal *r = user;
  (void)text;
  r->failed = 1;
  r->err = err;
  r->status = wsv_client_status(ws);
  const char *loc = wsv_client_location(ws);
  r->has_location = loc != NULL;
  if (loc != NULL)
    snprintf(r->location, sizeof r->location, "%s", loc);
}

static void rf_open(struct wsv_ws *ws, void *user) {
  struct refusal *r = user;
  r->open_status = wsv_client_status(ws) + 1; /* 1: the accessor said 0 */
  (void)wsv_ws_close(ws, 1000, NULL, 0);
}

static void rf_close(struct wsv_ws *ws, int code, const char *reason,
                     size_t len, void *user) {
  struct refusal *r = user;
  (void)ws;
  (void)code;
  (void)reason;
  (void)len;
  r->failed = 2;
}

/* Connect to a server that answers `answer`; returns what fail saw. */
static struct refusal refused_by(const char *answer) {
  struct px x;
  px_start(&x, PXM_ANSWER, 0);
  x.answer = answer;
  struct refusal r;
  memset(&r, 0, sizeof r);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  wsv_client_config_init(&cc);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/here", (unsigned)x.port);
  cc.url = url;
  cc.callbacks.fail = rf_fail;
  cc.user = &r;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &r.failed, 4000);
  px_join(&x);
  wsv_loop_free(loop);
  assert_int_equal(r.failed, 1);
  return r;
}

static void test_refusal_accessors(void **state) {
  (void)state;
  struct refusal r = refused_by("HTTP/1.1 302 Found\r\nLocation: /elsewhere?x=1"
                                "\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(r.err, WSV_ERR_HS_STATUS);
  assert_int_equal(r.status, 302);
  assert_true(r.has_location);
  assert_string_equal(r.location, "/elsewhere?x=1");
  r = refused_by("HTTP/1.1 308 Permanent Redirect\r\n"
                 "Location: wss://other.test/p\r\n\r\n");
  assert_int_equal(r.status, 308);
  assert_string_equal(r.location, "wss://other.test/p");
  /* Not a 3xx: a status, no Location (even when one is sent). */
  r = refused_by("HTTP/1.1 403 Forbidden\r\nLocation: /x\r\n\r\n");
  assert_int_equal(r.status, 403);
  assert_false(r.has_location);
  /* Two Locations, or none: no Location. */
  r = refused_by("HTTP/1.1 301 Moved\r\nLocation: /a\r\nLocation: /b\r\n\r\n");
  assert_int_equal(r.status, 301);
  assert_false(r.has_location);
  r = refused_by("HTTP/1.1 307 Temporary Redirect\r\n\r\n");
  assert_int_equal(r.status, 307);
  assert_false(r.has_location);
  /* No answer at all: status 0. */
  r = refused_by("");
  assert_int_equal(r.status, 0);
  assert_false(r.has_location);
  /* Outside fail (in open) and for NULL: 0 and NULL. */
  assert_int_equal(wsv_client_status(NULL), 0);
  assert_null(wsv_client_location(NULL));
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct refusal o;
  memset(&o, 0, sizeof o);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  wsv_client_config_init(&cc);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)wsv_server_port(srv));
  cc.url = url;
  cc.callbacks.open = rf_open;
  cc.callbacks.close = rf_close;
  cc.callbacks.fail = rf_fail;
  cc.user = &o;
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &o.failed, 4000);
  assert_int_equal(o.failed, 2);
  assert_int_equal(o.open_status, 1);
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_version_retry(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.handshake.versions = WSV_VERSION_BIT(8);
  struct wsv_server *srv = rtf_srv_start(&scfg);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.opened, 3000);
  assert_true(c.opened);
  assert_int_equal(c.version, 8);
  assert_non_null(strstr(c.log, "server speaks 8"));
  assert_non_null(strstr(c.log, "retry"));
  rtf_wait_atomic(&rtf_srv.opens, 1, 2000);
  assert_int_equal(atomic_load(&rtf_srv.version), 8);
  wsv_loop_free(loop); /* drops the connection */
  rtf_srv_finish(srv);
}

static void test_no_common_version(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv = rtf_srv_start(&scfg); /* speaks 13 only */
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, wsv_server_port(srv), "/");
  cc.handshake.versions = WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7);
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.failed, 3000);
  assert_true(c.failed);
  assert_false(c.opened);
  assert_int_equal(c.fail_err, WSV_ERR_HS_NO_COMMON_VERSION);
  assert_non_null(strstr(c.fail_text, "13"));
  assert_non_null(strstr(c.fail_text, "8, 7"));
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

static void test_client_errors(void **state) {
  (void)state;
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, 1, "/");
  cc.url = "ftp://127.0.0.1/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  assert_non_null(strstr(c.log, "wss://"));
  cc.url = "http://x/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  cc.url = "ws://[::1:80/";
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), WSV_ERR_INVAL);
  /* A refused connection reaches the fail callback, not the caller. */
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  struct wsv_server *srv;
  assert_int_equal(wsv_server_new(&srv, &scfg), 0);
  uint16_t port = wsv_server_port(srv);
  wsv_server_free(srv); /* the port is free again: nobody listens */
  rtf_cli_config(&cc, &c, url, sizeof url, port, "/");
  assert_int_equal(wsv_client_connect(loop, &cc, NULL), 0);
  rtf_run_until(loop, &c.failed, 3000);
  assert_true(c.failed);
  /* The cause, not just "closed" (it was WSV_ERR_CLOSED before 0.2). */
  assert_int_equal(c.fail_err, WSV_ERR_ECONNREFUSED);
  assert_non_null(strstr(c.fail_text, "refused"));
  wsv_loop_free(loop);
}

static void test_ipv6(void **state) {
  (void)state;
  struct wsv_server_config scfg;
  rtf_srv_config(&scfg);
  scfg.host = "::1";
  struct wsv_server *srv;
  if (wsv_server_new(&srv, &scfg) != 0) {
    skip(); /* no IPv6 loopback here */
  }
  assert_int_equal(wsv_server_start(srv), 0);
  struct rtf_cli c;
  memset(&c, 0, sizeof c);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  struct wsv_client_config cc;
  char url[64];
  rtf_cli_config(&cc, &c, url, sizeof url, 1, "/");
  snprintf(url, sizeof url, "ws://[::1]:%u/v6", (unsigned)wsv_server_port(srv));
  struct wsv_ws *ws;
  assert_int_equal(wsv_client_connect(loop, &cc, &ws), 0);
  rtf_run_until(loop, &c.opened, 2000);
  assert_true(c.opened);
  assert_string_equal(wsv_ws_path(ws), "/v6");
  char peer[64];
  assert_true(wsv_ws_peer(ws, peer, sizeof peer) > 0);
  assert_non_null(strstr(peer, "[::1]:"));
  wsv_loop_free(loop);
  rtf_srv_finish(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_retry),
      cmocka_unit_test(test_no_common_version),
      cmocka_unit_test(test_client_errors),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_proxy_connect),
      cmocka_unit_test(test_proxy_socks5),
      cmocka_unit_test(test_refusal_accessors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
