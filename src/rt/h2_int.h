/*
 * h2_int.h - the insides of an HTTP/2 connection (h2.c), shared with the
 * client side (client.c), which opens one connection per client WebSocket
 * and sends its extended CONNECT on it.  Nothing here includes nghttp2:
 * the session is an opaque pointer outside h2.c.
 */
#ifndef WSV_RT_H2_INT_H
#define WSV_RT_H2_INT_H

#include "h2.h"
#include "ws_int.h"

/* The most header fields of one answer or request we send. */
#define WSV__H2_MAX_ANSWER_FIELDS 48

/* Bytes p[off..len) of a growable buffer. */
struct h2_buf {
  uint8_t *p;
  size_t off, len, cap;
  const struct wsv_mem *mem; /* the loop's allocator, or NULL: malloc */
};

struct wsv__h2;

/* What a side does with its connection's events. */
struct wsv__h2_role {
  /* A stream's header block (request or response) is complete. */
  void (*headers)(struct wsv__h2 *h, struct wsv__h2s *s);
  /* The peer's SETTINGS arrived (NULL: nothing to do). */
  void (*settings)(struct wsv__h2 *h);
  /* The connection's timer ran out (NULL: close). */
  void (*timeout)(struct wsv__h2 *h);
  /* The connection is being freed (NULL: nothing to do). */
  void (*gone)(struct wsv__h2 *h);
  /* An event before the socket's TLS handshake is done (NULL: none). */
  void (*tls_step)(struct wsv__h2 *h);
};

struct wsv__h2s {
  struct wsv__h2 *h;
  int32_t id;
  struct wsv_ws *ws; /* the WebSocket on the stream, NULL if none */
  struct wsv__h2s *prev, *next;
  /* The header block being received: "name\0value\0" each. */
  struct h2_buf hb;
  size_t nfields;      /* fields seen (also past the limits) */
  uint8_t fields_over; /* the limits were passed: only counted */
  uint8_t headed;      /* its (first) header block is complete */
  uint8_t in_eof;      /* END_STREAM received */
  uint8_t in_rst;      /* reset, or closed before END_STREAM */
  uint8_t closed;      /* nghttp2 closed the stream */
  uint8_t end;         /* END_STREAM after the output */
  uint8_t reset;       /* reset on detach even after end */
  uint8_t deferred;    /* nghttp2 waits for output (resume_data) */
  uint8_t want_room;   /* the WebSocket waits for room in `out` */
  uint8_t answer;      /* `out` is a plain answer (h->answers counts it) */
  uint8_t answered;    /* a plain answer or a refusal was submitted */
  uint32_t rst_code;   /* the stream's close code */
  struct h2_buf in;    /* DATA not yet read by the WebSocket */
  struct h2_buf out;   /* bytes to send as DATA */
};

struct wsv__h2 {
  struct wsv__tp tp; /* first: the socket */
  void *ng;          /* the nghttp2 session */
  const struct wsv__rt_ctx *ctx;
  const struct wsv__h2_role *role;
  struct srv_worker *wk; /* the server's worker, NULL for a client */
  struct wsv__h2s *streams;
  int nstreams;
  int nws;                      /* streams with a WebSocket */
  size_t answers;               /* plain answers' bytes not yet sent */
  size_t max_fields, max_bytes; /* the request limits (server) */
  struct h2_buf out;            /* bytes for the socket, not yet written */
  uint8_t shutting;             /* no new streams; GOAWAY when idle */
  uint8_t goaway;               /* GOAWAY submitted */
  uint8_t terminated;           /* nghttp2_session_terminate_session done */
  uint8_t dead;                 /* closed (retired) */
  struct wsv__h2 *prev, *next;  /* the worker's list */
  void *user;                   /* the side's own (client: its ws) */
  const char *why;              /* why it closed (static or tp-owned) */
  char err[160];                /* nghttp2's last error text, or "" */
  char *host;                   /* client: the server's host (sharing) */
  uint16_t port;                /* client: its port */
};

/* A connection on the socket of `from` (watch and TLS move to it; `from`
 * is left without a socket), as a server or a client, with the side's
 * operations and the request limits.  NULL when out of memory (then
 * `from` still has its socket) or epoll fails (then the socket is
 * closed and `from` has none). */
struct wsv__h2 *wsv__rt_h2_new(struct wsv__tp *from, int server,
                               const struct wsv__rt_ctx *ctx,
                               const struct wsv__h2_role *role,
                               size_t max_fields, size_t max_bytes);
/* Queue our SETTINGS (with ENABLE_CONNECT_PROTOCOL when nonzero) and the
 * connection's window.  0 or -1. */
int wsv__rt_h2_settings(struct wsv__h2 *h, int connect_protocol);
/* Nonzero when the peer's SETTINGS have ENABLE_CONNECT_PROTOCOL = 1. */
int wsv__rt_h2_remote_connect_protocol(const struct wsv__h2 *h);
/* Hand p[0..n) from the socket to nghttp2.  0, or -1 (closed). */
int wsv__rt_h2_feed(struct wsv__h2 *h, const uint8_t *p, size_t n);
/* Close the connection and end every WebSocket on it (`why` logged at
 * debug when not NULL). */
void wsv__rt_h2_close(struct wsv__h2 *h, const char *why);
/* Write at the end of the iteration. */
void wsv__rt_h2_want_flush(struct wsv__h2 *h);
/* Client: send a request with fields f[0..n) on a new stream, whose DATA
 * comes from the stream's output.  The stream, or NULL. */
struct wsv__h2s *wsv__rt_h2_request(struct wsv__h2 *h,
                                    const struct wsv_header *f, size_t n);
/* Server: answer stream s with `status` and fields f[0..n), with DATA
 * from its output when `data` (END_STREAM after it once s->end is set),
 * else none (END_STREAM with the headers).  0 or -1. */
int wsv__rt_h2_submit(struct wsv__h2 *h, struct wsv__h2s *s, int status,
                      const struct wsv_header *f, size_t n, int data);
/* Make `ws`'s transport the stream s. */
void wsv__rt_h2_attach(struct wsv__h2s *s, struct wsv_ws *ws);
/* The received header block of s as fields (views into s, valid until
 * it is freed or the block dropped): at most cap of them; the count. */
size_t wsv__rt_h2_fields(const struct wsv__h2s *s, struct wsv_header *out,
                         size_t cap);
/* Server: arm the idle timer or send the shutdown's GOAWAY when no
 * stream is left. */
void wsv__rt_h2_check_idle(struct wsv__h2 *h);

#endif /* WSV_RT_H2_INT_H */
