/* probe_h2.h - what the two halves of `wsv probe --h2` share: the
 * connection and its streams (probe_h2_net.c: the socket, TLS, the nghttp2
 * client session and the WebSocket frames on the version-13 stream) and
 * the run and its grading (probe_h2.c). */
#ifndef WSV_PROBE_H2_H
#define WSV_PROBE_H2_H

#include <stddef.h>
#include <stdint.h>

#include "probe.h"

struct ssl_ctx_st;
struct ssl_st;
struct nghttp2_session;

/* Sizes of the frames part. */
#define H2_WS_IN_MAX 65536 /* WebSocket bytes kept from the server */
#define H2_WS_OUT_MAX 1024 /* our frames waiting for the data provider */
#define H2_MSG_MAX 4096    /* a server message kept for comparison */
#define H2_BINARY_LEN 200  /* > 125: the 16-bit length form */

/* The text message the probe sends (UTF-8, 26 bytes), probe_h2_net.c. */
extern const char probe_h2_text[];
#define PROBE_H2_TEXT_LEN 26

/* One stream: a version row, and on the version-13 stream the WebSocket. */
struct probe_h2_stream {
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

/* One HTTP/2 connection and its streams (one per version row); zeroed,
 * then o, t and fd = -1 set by the caller, freed by probe_h2_conn_free. */
struct probe_h2_conn {
  const struct probe_opts *o;
  const struct probe_target *t;
  int fd;
  struct ssl_ctx_st *ctx;    /* OpenSSL SSL_CTX, NULL for h2c */
  struct ssl_st *ssl;        /* OpenSSL SSL, NULL for h2c */
  struct nghttp2_session *s; /* the client session */
  int got_settings;
  int goaway;
  uint32_t goaway_code;
  uint8_t first[24]; /* the first bytes from the server */
  size_t first_len;
  char err[200]; /* why the last step stopped short, "" if it did not */
  int timeout;   /* ... only because its deadline passed (the connection
                    lives on) */
  struct probe_h2_stream st[PROBE_H2_COUNT];
};

/* probe_h2_tls_start - TLS 1.2 or later on c->fd (connected) with ALPN h2
 * and http/1.1, the certificate checked as `wsv connect` checks it
 * (--cacert, --insecure).  0, or -1 with c->err set. */
int probe_h2_tls_start(struct probe_h2_conn *c, long long deadline);

/* probe_h2_session_new - the nghttp2 client session (its callbacks fill
 * c->st) with our SETTINGS queued.  0, or -1. */
int probe_h2_session_new(struct probe_h2_conn *c);

/* probe_h2_submit_row - the extended CONNECT of version row i (c->st[i].r
 * set) on a new stream, our side kept open.  0, or -1 with c->err set. */
int probe_h2_submit_row(struct probe_h2_conn *c, size_t i);

/* probe_h2_flush - write what the session has to send before deadline.
 * 0, or -1 with c->err set. */
int probe_h2_flush(struct probe_h2_conn *c, long long deadline);

/* probe_h2_pump - run the connection until step(c) returns 1 (0 then) or
 * until deadline or the end of the connection (-1, c->err says why,
 * c->timeout when only the deadline passed).  step may queue frames; it
 * runs before every write. */
int probe_h2_pump(struct probe_h2_conn *c, long long deadline,
                  int (*step)(struct probe_h2_conn *));

/* probe_h2_ws_queue - queue one masked frame (FIN set) of p[0..len) on
 * stream st (copied; dropped if it does not fit). */
void probe_h2_ws_queue(struct probe_h2_conn *c, struct probe_h2_stream *st,
                       int op, const uint8_t *p, size_t len);

/* probe_h2_end_ours - END_STREAM on st after what is queued. */
void probe_h2_end_ours(struct probe_h2_conn *c, struct probe_h2_stream *st);

/* probe_h2_binary_payload - the binary message the probe sends, into
 * p[0..H2_BINARY_LEN). */
void probe_h2_binary_payload(uint8_t *p);

/* probe_h2_code_name - an HTTP/2 error code's name (static text). */
const char *probe_h2_code_name(uint32_t code);

/* probe_h2_conn_free - release the session, TLS and the socket of c. */
void probe_h2_conn_free(struct probe_h2_conn *c);

#endif
