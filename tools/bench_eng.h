/* bench_eng.h - the insides of the load engine of `wsv bench`, shared by
 * its two files: bench_run.c (a generator thread: its epoll loop and the
 * phases of each measurement) and bench_conn.c (one connection: connect,
 * handshake, messages sent and verified, close). */
#ifndef WSV_BENCH_ENG_H
#define WSV_BENCH_ENG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wsv.h"

#include "bench.h"
#include "cli.h"

/* Connection states. */
enum {
  BC_IDLE = 0,   /* not started (or finished, ready to start again) */
  BC_CONNECTING, /* TCP connect in progress */
  BC_TLS,        /* wss://: the TLS handshake in progress */
  BC_HANDSHAKE,  /* request sent, waiting for the 101 */
  BC_OPEN,       /* messages flow */
  BC_CLOSING,    /* our Close sent: waiting for the server's and EOF */
  BC_DONE        /* finished (closed or failed) */
};

#define BENCH_HS_CAP 16384u   /* handshake response buffer */
#define BENCH_RBUF 262144u    /* read buffer per thread */
#define BENCH_IOV 64          /* iovecs per writev */
#define BENCH_SETUP_S 15u     /* most seconds to open the connections */
#define BENCH_DRAIN_S 5u      /* most seconds to finish after the stop */
#define BENCH_RAW_COPY 4096u  /* tcp://: copy messages up to this size */
#define BENCH_OPENING_MAX 256 /* echo: handshakes in flight while opening */

struct eng;
struct ssl_st;     /* OpenSSL's SSL (bench_tls.c) */
struct ssl_ctx_st; /* ...and SSL_CTX */

/* The lean wire (bench_wire.c): requests rendered per thread, each with
 * the Sec-WebSocket-Accept it must be answered with. */
#define BENCH_WIRE_KEYS 64u
struct wire_key {
  char req[1280];
  size_t reqlen;
  char accept[29];
};
struct eng_wire {
  struct wire_key key[BENCH_WIRE_KEYS];
};

struct bconn {
  struct eng *e;
  int fd;
  uint8_t state;
  uint8_t got_close; /* the server's Close arrived */
  uint32_t events;   /* what epoll watches for */
  uint32_t src;      /* source address index (idle) */
  struct wsv_hs_client *hs;
  char *hsbuf; /* the head so far when it took several reads */
  size_t hslen;
  struct wsv_conn *conn;
  struct ssl_st *ssl; /* wss:// (bench_tls.c), else NULL */
  /* the lean wire (echo and connect over ws://, bench_wire.c) */
  uint8_t *out; /* out[whead..wlen) waits to be written (kept across
                   connect cycles; freed with the thread) */
  size_t whead, wlen, wcap;
  struct wsv_frame_parser fp;
  uint64_t fleft;       /* payload bytes of the current frame still to come */
  int8_t fop;           /* its opcode, -1 between frames */
  uint8_t ffin;         /* its FIN bit */
  uint8_t inmsg;        /* a fragmented message has begun */
  uint8_t fstaged;      /* fp holds part of a header (it said AGAIN) */
  uint8_t key;          /* the request it sent (index into wire->key) */
  uint8_t clen;         /* control frame payload so far */
  uint8_t cbuf[125];    /* ...and its bytes */
  uint64_t sent, recvd; /* messages sent, and echoes fully verified */
  size_t rpos;          /* bytes of echo `recvd` verified so far */
  uint64_t *stamps;     /* send time of message seq at seq % inflight */
  char *hdrs;           /* echo: header bytes of message seq at seq % D
                           (written when it is sent, read to verify it) */
  uint64_t wseq;        /* raw: first message not completely written */
  size_t wpos;          /* raw: bytes of it written */
  uint64_t t0;          /* when the connect started */
  /* fanout */
  uint8_t target;   /* the URL it connects to (index into target[]) */
  uint8_t is_pub;   /* the publisher (else a subscriber) */
  uint8_t counted;  /* a subscriber in the thread's window (open at the
                       end of the setup, not finished) */
  uint8_t heard;    /* it has received a message */
  uint64_t next;    /* the sequence number it expects next */
  uint64_t cur;     /* the message being received: its sequence number */
  uint64_t cur_ts;  /* ...and send time (ns since fan.t_base) */
  uint8_t hbuf[16]; /* its first 16 bytes, while they come in pieces */
};

/* fanout: one thread's part (bench_fanout.c). */
struct eng_fan {
  uint32_t *reached; /* BENCH_FAN_RING: subscribers past seq (at & mask) */
  uint64_t need;     /* subscribers counted in the window */
  uint64_t done;     /* every one of them is past the numbers below this */
  struct bconn *pub; /* thread 0: the publisher */
  uint64_t sent;     /* thread 0: messages published */
};

struct eng {
  struct bench *b;
  struct bench_thread *t;
  const struct bench_opts *o;
  int ep;
  uint8_t *rbuf;
  uint8_t *pat; /* this thread's copy of the pattern (patched to send) */
  size_t hlen;  /* header bytes per message: min(16, size) */
  int op;
  struct bconn *c;
  size_t n;
  size_t next_open; /* idle/echo: the next connection to start */
  size_t opening;   /* handshakes in flight */
  size_t opening_max;
  size_t active; /* connections neither idle nor done */
  uint64_t now;
  int loading;  /* echo: the load has started */
  int stopping; /* no new messages or cycles */
  int counting;
  uint64_t drain_deadline;
  struct wsv_hs_client_config hcfg[BENCH_TARGETS_MAX]; /* per target */
  struct eng_fan fan;
  struct wsv_conn_config ccfg;
  int lean;               /* echo or connect over ws://: bench_wire.c */
  int rawcopy;            /* tcp:// echo of messages up to BENCH_RAW_COPY bytes:
                             copied into the output buffer, one send per batch
                             (larger ones are written from the pattern by writev) */
  struct eng_wire *wire;  /* ...its requests */
  struct ssl_ctx_st *tls; /* wss://: the thread's context (bench_tls.c) */
};

/* ---- bench_conn.c: one connection ---------------------------------------- */

/* bconn_start - start connection c: a new TCP connection (and, but for
 * raw TCP, a handshake). */
void bconn_start(struct bconn *c);

/* bconn_event - epoll reported `events` on c's socket. */
void bconn_event(struct bconn *c, uint32_t events);

/* bconn_open_more - start connections while fewer than e->opening_max
 * handshakes are in flight. */
void bconn_open_more(struct eng *e);

/* bconn_send - queue message number c->sent.  0, or -1 when the
 * connection failed. */
int bconn_send(struct bconn *c);

/* bconn_flush - write what is queued.  0, or -1 when the connection
 * failed. */
int bconn_flush(struct bconn *c);

/* bconn_begin_close - start the closing: a Close 1000 (WebSocket) or just
 * the end (raw). */
void bconn_begin_close(struct bconn *c);

/* bconn_finish - the connection is over (ok: cleanly).  Starts the next
 * cycle in connect mode. */
void bconn_finish(struct bconn *c, int ok);

/* bconn_fail - the connection failed: count it, keep the thread's first
 * error (formatted), finish it. */
void bconn_fail(struct bconn *c, const char *fmt, ...) WSV_PRINTF(2, 3);

/* bconn_release - close c's socket and free what it holds. */
void bconn_release(struct bconn *c);

/* bconn_flush_ws - write what is queued on a WebSocket connection. */
int bconn_flush_ws(struct bconn *c);

/* bconn_watch - let epoll watch c for `events` (no call when unchanged). */
void bconn_watch(struct bconn *c, uint32_t events);

/* bconn_write, bconn_read - send(2) and recv(2) on c's socket: the number
 * of bytes, or -1 with errno set. */
ssize_t bconn_write(struct bconn *c, const void *p, size_t n);
ssize_t bconn_read(struct bconn *c, void *p, size_t n);

/* bconn_piece - bytes data[0..n) of the echo being received (last: they
 * end it): verified against what was sent.  0, or -1 when c failed. */
int bconn_piece(struct bconn *c, const uint8_t *data, size_t n, int last);

/* ---- bench_wire.c: the lean WebSocket client ------------------------------
 */

/* wire_init - render e's requests (e->wire, freed by wire_cleanup).  0, or
 * -1 (out of memory). */
int wire_init(struct eng *e);
void wire_cleanup(struct eng *e);

/* wire_rand32 - 32 bits from the thread's xorshift generator. */
uint32_t wire_rand32(struct eng *e);

/* wire_request - pick a request for c and write it.  0, or -1 when c
 * failed. */
int wire_request(struct bconn *c);

/* wire_response - the handshake response so far, buf[0..len).  1: it is a
 * valid 101 of *head bytes; 0: incomplete; -1: refused (c failed). */
int wire_response(struct bconn *c, const char *buf, size_t len, size_t *head);

/* wire_opened - the handshake is done: reset c's frame state. */
void wire_opened(struct bconn *c);

/* wire_send - queue one frame of opcode op, masked, whose n payload bytes
 * are hdr[0..hl) then body[0..n - hl).  0, or -1 when c failed. */
int wire_send(struct bconn *c, int op, const uint8_t *hdr, size_t hl,
              const uint8_t *body, size_t n);

/* wire_bytes - queue n bytes, hdr[0..hl) then body[0..n - hl), unframed
 * (tcp:// of small messages).  0, or -1 when c failed. */
int wire_bytes(struct bconn *c, const uint8_t *hdr, size_t hl,
               const uint8_t *body, size_t n);

/* wire_flush - write what is queued and watch for EPOLLOUT while some is
 * left.  0, or -1 when c failed. */
int wire_flush(struct bconn *c);

/* wire_input - frames from the server, p[0..n), parsed in place.  0, or -1
 * when c failed. */
int wire_input(struct bconn *c, const uint8_t *p, size_t n);

/* ---- bench_tls.c: wss:// ---------------------------------------------------
 */

/* btls_init - e's TLS context from the options (--cacert, --insecure).  0,
 * or -1 with the reason in e->t->err. */
int btls_init(struct eng *e);
void btls_cleanup(struct eng *e);

/* btls_start - TCP is connected: start c's TLS handshake.  btls_step -
 * go on with it after an event.  Both return 1 when it is done, 0 while it
 * waits (c watched for what it needs), -1 when c failed. */
int btls_start(struct bconn *c);
int btls_step(struct bconn *c);

/* btls_write, btls_read - like send(2) and recv(2) through c's TLS (a
 * "want" is EAGAIN; 0 from btls_read: the end, close_notify or not). */
ssize_t btls_write(struct bconn *c, const void *p, size_t n);
ssize_t btls_read(struct bconn *c, void *p, size_t n);

/* btls_release - free c's TLS state (the socket is closed by the caller). */
void btls_release(struct bconn *c);

/* ---- bench_run.c: the loop ----------------------------------------------- */

/* eng_poll - one round of the loop: wait at most timeout_ms, handle the
 * events. */
void eng_poll(struct eng *e, int timeout_ms);
/* eng_open_all - open the thread's connections (the handshake included),
 * at most BENCH_OPENING_MAX at once, within BENCH_SETUP_S; those not open
 * by then fail. */
void eng_open_all(struct eng *e);

/* ---- bench_fanout.c: the fanout measurement ------------------------------ */

/* fan_init - this thread's fanout state.  0, or -1 (out of memory). */
int fan_init(struct eng *e);
void fan_cleanup(struct eng *e);

/* fan_run - the thread's part of fanout: open, join, load, drain. */
void fan_run(struct eng *e);

/* fan_piece - a piece of a message on fanout connection c.  0, or -1
 * when c failed. */
int fan_piece(struct bconn *c, const struct wsv_event *ev);

/* fan_finished - connection c is over: leave the window if counted. */
void fan_finished(struct bconn *c);

/* fan_wake - thread 0's eventfd is readable. */
void fan_wake(struct eng *e);

#endif
