/*
 * rt_fixture.h - what the runtime tests (rt_server_test.c, rt_client_test.c,
 * rt_ws_test.c, rt_pubsub_test.c, rt_tls_test.c) share: an echo server with
 * a few commands run on its own threads, a wsv client recording what it
 * saw, bounded waits, and raw loopback sockets for misbehaving peers.
 *
 * Linked into every test, as every .c file in tests/support is; every
 * name starts with rtf_ so that nothing collides with a test's own
 * helpers.  Use from the test's thread only: the asserts are cmocka's.
 */
#ifndef WSV_TEST_RT_FIXTURE_H
#define WSV_TEST_RT_FIXTURE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wsv.h"
#include "wsv/rt.h"

/* ---- the server side: an echo server with a few commands ----------------- */

/* What the server's callbacks saw (written on the server's threads). */
struct rtf_srv_state {
  atomic_int opens;
  atomic_int closes;
  atomic_int last_code;
  atomic_int last_err;
  atomic_int version;
  atomic_size_t max_buffered;
  atomic_size_t max_total;  /* most output queued server-wide after a send */
  atomic_int budget_closes; /* closes for the output or input budget */
  atomic_int tls_ok;        /* rt_tls_test: open saw TLS 1.3, ALPN http/1.1 */
  atomic_int bad;           /* no cmocka asserts on the server's threads */
};

/* The one server state rtf_srv_config clears and points the callbacks at. */
extern struct rtf_srv_state rtf_srv;

/* Echo every message; "close-me" closes with 4000 "server says bye",
 * "flood" sends 64 KiB messages until the send fails; on a path starting
 * with /room the connection subscribes to its path and messages are
 * published there instead of echoed. */
void rtf_s_open(struct wsv_ws *ws, void *user);
void rtf_s_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                   void *user);
void rtf_s_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                 void *user);

/* A default config with the callbacks above (and rtf_srv cleared). */
void rtf_srv_config(struct wsv_server_config *cfg);
/* New and started, on a port of its own. */
struct wsv_server *rtf_srv_start(struct wsv_server_config *cfg);
/* No callback went wrong; stop, join, nothing left open; free. */
void rtf_srv_finish(struct wsv_server *srv);

/* ---- the client side ----------------------------------------------------- */

struct rtf_cli {
  int opened;
  int closed;
  int failed;
  int code;
  char reason[128];
  int fail_err;
  char fail_text[256];
  int err;           /* wsv_ws_error in the close callback */
  char err_text[64]; /* wsv_ws_error_text there */
  int version;
  int tls_ok; /* rt_tls_test: TLS with ALPN http/1.1 and a cipher */
  int msgs;
  int bad;
  char last[64];
  size_t last_len;
  char log[2048];
  /* Echo test: the messages to send and compare. */
  const size_t *sizes;
  int nsizes;
  uint8_t *pattern;
  int close_after;
};

/* Open sends the `sizes` messages (text and binary in turn); message
 * compares them and keeps the last one (and closes with 1000 after
 * `close_after` of them); close, fail and log record what they got. */
void rtf_c_open(struct wsv_ws *ws, void *user);
void rtf_c_message(struct wsv_ws *ws, int op, const void *d, size_t n,
                   void *user);
void rtf_c_close(struct wsv_ws *ws, int code, const char *reason, size_t len,
                 void *user);
void rtf_c_fail(struct wsv_ws *ws, int err, const char *text, void *user);
void rtf_c_log(void *user, int level, const char *text);

/* A client config for ws://127.0.0.1:port`path` (written into url) with
 * the callbacks above recording into *c. */
void rtf_cli_config(struct wsv_client_config *cfg, struct rtf_cli *c, char *url,
                    size_t cap, uint16_t port, const char *path);

/* A client that writes down every message it gets, of any size: the
 * opcodes and lengths of the first 128, and every payload one after
 * another in `bytes` (malloc'd; free it). */
struct rtf_rec {
  int opened;
  int n;
  int op[128];
  size_t len[128];
  unsigned char *bytes;
  size_t total;
};

/* Connect to ws://127.0.0.1:port`path` on `loop`, recording into *r. */
struct wsv_ws *rtf_rec_connect(struct wsv_loop *loop, struct rtf_rec *r,
                               uint16_t port, const char *path);
/* Run `loop` until each of rs[0..n) has `want` messages, or `ms` passed. */
void rtf_rec_until(struct wsv_loop *loop, struct rtf_rec **rs, int n, int want,
                   int ms);
/* Run `loop` until the servers opened `n` connections (rtf_srv.opens;
 * asserted, within 3 s). */
void rtf_until_opens(struct wsv_loop *loop, int n);

/* Run `loop` until *flag is nonzero or `ms` milliseconds passed. */
void rtf_run_until(struct wsv_loop *loop, const int *flag, int ms);

/* Wait (bounded) until an atomic reaches a value. */
void rtf_wait_atomic(atomic_int *v, int want, int ms);

/* ---- raw sockets --------------------------------------------------------- */

/* A TCP connection to 127.0.0.1:port (blocking, 5 s send/receive
 * timeouts so that no test can hang on it). */
int rtf_raw_connect(uint16_t port);

/* Read until EOF, an error, `cap` bytes or `ms` of silence; returns the
 * bytes read, and in *err 0 for a clean EOF, the errno of a failed read,
 * or -1 for silence (or a full buffer). */
size_t rtf_raw_read_all(int fd, char *buf, size_t cap, int ms, int *err);

/* Send all of p[0..n) in one send (asserted). */
void rtf_raw_send(int fd, const void *p, size_t n);

/* Read and drop everything until EOF (returns 0), an error (its errno) or
 * `ms` of silence (-1). */
int rtf_raw_drain(int fd, int ms);

/* Do the handshake by hand for `path`; returns the socket once the 101
 * is read.  rtf_raw_ws: for /raw. */
int rtf_raw_ws_path(uint16_t port, const char *path);
int rtf_raw_ws(uint16_t port);

/* Send one masked frame with first byte b0 (in `parts` writes, `gap_ms`
 * apart: a frame split across the park delay). */
void rtf_raw_frame(int fd, unsigned b0, const void *p, size_t n, int parts,
                   int gap_ms);

/* Read one unmasked server frame; returns its payload length. */
size_t rtf_raw_read_frame(int fd, unsigned *b0, char *out, size_t cap);

/* Read one frame: a final text frame carrying `want`. */
void rtf_expect_echo(int fd, const char *want);

#endif
