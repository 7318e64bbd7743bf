/*
 * rt_int.h - internal declarations shared by the runtime's source files
 * (src/rt/).  Nothing here is installed; symbols are wsv__rt_-prefixed
 * and hidden.
 */
#ifndef WSV_RT_INT_H
#define WSV_RT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "wsv.h"
#include "wsv/rt.h"

/* ---- loop.c: watches ------------------------------------------------------
 * Every object registered with epoll starts with a struct wsv__rt_watch;
 * epoll's data.ptr points at it and `fn` handles its events. */
struct wsv__rt_watch;
typedef void (*wsv__rt_watch_fn)(struct wsv__rt_watch *w, uint32_t events);

struct wsv__rt_watch {
  wsv__rt_watch_fn fn;
  int fd;
  uint32_t events; /* the epoll events registered (0: not registered) */
};

/* Register `w` (fd and fn set) for `events`, change its events, or
 * unregister it.  wsv__rt_watch_del also forgets any event for `w` still
 * waiting in the current batch, so `w` may be freed right after.  Return 0
 * or -1 with errno set. */
int wsv__rt_watch_add(struct wsv_loop *loop, struct wsv__rt_watch *w,
                      uint32_t events);
int wsv__rt_watch_mod(struct wsv_loop *loop, struct wsv__rt_watch *w,
                      uint32_t events);
void wsv__rt_watch_del(struct wsv_loop *loop, struct wsv__rt_watch *w);

#define WSV__RT_CACHE_MIN ((size_t)64 << 10)
#define WSV__RT_CACHE_SLOTS 8
#define WSV__RT_CACHE_BYTES ((size_t)64 << 20)
#define WSV__RT_CACHE_KEEP_MS 2000
/* Bytes freed through the loop's allocator after which, once quiet for
 * WSV__RT_CACHE_KEEP_MS, the loop calls malloc_trim (glibc). */
#define WSV__RT_TRIM_MIN ((size_t)16 << 20)

/* ---- timer.c --------------------------------------------------------------
 * The timer (public type; embedded in connections and workers, so those
 * need no separate allocation).  heap_idx is WSV__RT_TIMER_OFF when not
 * armed.  seq orders timers with equal deadlines (compared modulo 2^32). */
struct wsv_timer {
  struct wsv_loop *loop;
  uint64_t deadline;
  uint64_t repeat;
  uint32_t seq;
  uint32_t heap_idx;
  wsv_timer_fn cb;
  void *user;
};

#define WSV__RT_TIMER_OFF UINT32_MAX

/* Set up an embedded timer (stopped). */
void wsv__rt_timer_init(struct wsv_timer *t, struct wsv_loop *loop,
                        wsv_timer_fn cb, void *user);
/* Fire the due timers; returns how many fired. */
int wsv__rt_timers_run(struct wsv_loop *loop);
/* Milliseconds until the first deadline (capped at INT_MAX), or -1. */
int wsv__rt_timers_timeout(const struct wsv_loop *loop);

/* ---- the loop itself ------------------------------------------------------
 */
struct loop_post; /* a queued wsv_loop_post call (loop.c) */
struct wsv_ws;

/* A hook run on the loop's thread whenever the loop is woken through its
 * eventfd (wsv_loop_stop, wsv_loop_post, wsv__rt_loop_wake). */
typedef void (*wsv__rt_wake_fn)(struct wsv_loop *loop, void *user);

struct wsv_loop {
  int epfd;
  struct wsv__rt_watch wake; /* the eventfd */
  atomic_int stop;
  atomic_int running;
  pthread_t owner;
  uint64_t now;
  /* The current epoll batch (so a watch deleted mid-batch is forgotten). */
  struct epoll_event *batch;
  int batch_cap;
  int batch_len;
  /* The timer heap. */
  struct wsv_timer **heap;
  size_t heap_len;
  size_t heap_cap;
  uint32_t timer_seq;
  /* Cross-thread posts. */
  pthread_mutex_t post_mu;
  struct loop_post *post_head;
  struct loop_post *post_tail;
  /* Connections with output to write at the end of the iteration, and
   * connections to finish (close callback, free) after that. */
  struct wsv_ws *pending;
  struct wsv_ws *dead;
  /* The read buffer shared by the loop's connections. */
  uint8_t *rbuf;
  size_t rbuf_cap;
  wsv__rt_wake_fn wake_hook;
  void *wake_user;
  /* Client connections on this loop (dropped by wsv_loop_free). */
  struct wsv_ws *clients;
  /* TLS connections with input buffered inside OpenSSL, which epoll does
   * not see: read again in the next iteration, without waiting. */
  struct wsv_ws *again;
  /* The TLS write gather buffer shared by the loop's connections. */
  uint8_t *tls_buf;
  /* Big buffers given back by the loop's connections (message buffers,
   * output blocks, zlib state), kept for the next one: see mem below. */
  struct wsv__rt_cache {
    void *p[WSV__RT_CACHE_SLOTS];
    size_t size[WSV__RT_CACHE_SLOTS]; /* malloc_usable_size of each */
    int n;
    size_t bytes;
    uint64_t last_use; /* last take, keep, or large free */
    size_t freed;      /* bytes freed since the last trim */
  } cache;
  /* The allocator the loop's core conns use (user: the loop). */
  struct wsv_mem mem;
};

/* ---- loop.c: the big-buffer cache ------------------------------------------
 * Buffers of at least WSV__RT_CACHE_MIN bytes that the loop's connections
 * free are kept (up to WSV__RT_CACHE_SLOTS of them and WSV__RT_CACHE_BYTES
 * in all) and handed to the next request they can hold, so that a steady
 * stream of large messages does not map and fault in fresh pages for every
 * message.  They are given back to malloc once none was used for
 * WSV__RT_CACHE_KEEP_MS, and then, if at least WSV__RT_TRIM_MIN bytes
 * were freed through the allocator since the last time, malloc_trim
 * returns the free pages of the whole process to the system (glibc keeps
 * them otherwise).  Only the loop's thread uses it. */
void wsv__rt_cache_trim(struct wsv_loop *loop, int all);

/* Wake the loop (async-signal-safe): the wake hook runs on its thread. */
void wsv__rt_loop_wake(struct wsv_loop *loop);
/* Make sure the read buffer holds at least `size` bytes; 0 or -1. */
int wsv__rt_loop_rbuf(struct wsv_loop *loop, size_t size);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t wsv__rt_now_ms(void);

/* ---- ws.c: one WebSocket connection, both roles ---------------------------
 * Settings shared by the connections of a server (read-only once running)
 * or owned by one client connection. */
struct wsv__rt_tls_ctx;
struct wsv__rt_tls;

struct wsv__rt_ctx {
  struct wsv_ws_callbacks cb;
  void *user;
  struct wsv_ws_limits limits;
  struct wsv_conn_config conn;
  wsv_log_fn log;
  void *log_user;
  /* TLS: the server's context (shared by its threads) or a client
   * connection's own; NULL for plain TCP. */
  struct wsv__rt_tls_ctx *tls;
  /* A server's memory budgets (budget.c), or NULL: none. */
  struct wsv__rt_budget *budget;
};

/* Connection phases. */
enum ws_phase {
  WS_HANDSHAKE = 1, /* server: reading the request */
  WS_CONNECTING,    /* client: TCP connect in progress */
  WS_CLIENT_HS,     /* client: request sent, reading the response */
  WS_OPEN,          /* WebSocket (includes the closing handshake) */
  WS_LINGER,        /* server: HTTP answer, then graceful close */
  WS_DEAD           /* socket closed; waiting for the end of iteration */
};

/* What the connection's one timer is counting. */
enum ws_tmode {
  WS_T_NONE = 0,
  WS_T_HANDSHAKE,
  WS_T_IDLE,
  WS_T_PONG,
  WS_T_CLOSE,
  WS_T_LINGER
};

struct srv_worker;
struct srv_hs;
struct cli_state;
struct ps_sub;

/* The permessage-deflate parameters of a connection, packed (a struct
 * wsv_pmd_params takes 20 bytes; this is kept by every connection). */
struct wsv__rt_pmd {
  uint8_t enabled, server_nct, client_nct, server_bits, client_bits;
};
void wsv__rt_pmd_pack(struct wsv__rt_pmd *to, const struct wsv_pmd_params *p);
void wsv__rt_pmd_unpack(struct wsv_pmd_params *to, const struct wsv__rt_pmd *p);

struct wsv_ws {
  struct wsv__rt_watch w;
  struct wsv_loop *loop;
  const struct wsv__rt_ctx *ctx;
  struct srv_worker *worker; /* NULL for a client */
  struct wsv_conn *conn;     /* open: made on first use, NULL when parked */
  union {
    struct srv_hs *hs;     /* server, during the handshake */
    struct cli_state *cli; /* client, until the 101 */
  };
  struct wsv__rt_tls *tls; /* TLS, or NULL for plain TCP */
  /* The rarely set strings (NULL until one is). */
  struct wsv__rt_names *names;
  /* Bytes to write before the conn's output (101, HTTP answer, client
   * request); freed once written. */
  struct wsv__rt_pre *pre;
  struct wsv_timer timer;
  /* Loop times in ms modulo 2^32 (compare by difference). */
  uint32_t last_recv;
  union {
    uint32_t ping_sent; /* open: when our keep-alive ping left */
    uint32_t lingered;  /* linger: bytes discarded so far */
  };
  char *path; /* NULL for "/" */
  void *user;
  const char *err_text;
  int err;
  uint16_t peer_code; /* the peer's Close code (1005 if none), 0 before */
  uint16_t fail_code; /* the code of the Close we sent on a failure, or 0 */
  uint8_t version;
  uint8_t phase;
  uint8_t tmode;
  uint8_t opened;  /* the open callback ran */
  uint8_t high;    /* above the high-water mark since a send */
  uint8_t pending; /* on loop->pending */
  uint8_t in_open; /* during the open callback (wsv_ws_request) */
  uint8_t shut;    /* linger: shutdown(SHUT_WR) done */
  uint8_t eof;     /* linger: the peer's EOF was seen */
  uint8_t counted; /* counted in the server's connections */
  struct wsv__rt_pmd pmd;  /* permessage-deflate agreed in the handshake */
  uint8_t again;   /* on loop->again */
  /* Bytes of the conn's output counted in the server's output budget
   * (budget.c; 0 without one).  max_output < 4 GiB keeps it in range. */
  uint32_t out_counted;
  struct ps_sub *subs;
  union {
    struct wsv_ws *prev;      /* the worker's (client: loop's) list */
    struct wsv_ws *dead_next; /* once unlinked: loop->dead */
  };
  struct wsv_ws *next;
  struct wsv_ws *pending_next;
  struct wsv_ws *again_next;
};

/* The strings few connections have. */
struct wsv__rt_names {
  char *subprotocol;  /* the agreed subprotocol */
  char *extensions;   /* the agreed Sec-WebSocket-Extensions */
  char *close_reason; /* the reason of the peer's Close */
};
/* ws->names, made if needed (NULL: no memory). */
struct wsv__rt_names *wsv__rt_names(struct wsv_ws *ws);

/* The bytes of ws->pre: len of them, off already written. */
struct wsv__rt_pre {
  size_t len;
  size_t off;
  char data[];
};
/* Replace ws->pre with room for `cap` bytes (len set to cap, for the
 * caller to fill and shorten); returns its data, or NULL (no memory:
 * ws->pre is NULL then). */
char *wsv__rt_pre_new(struct wsv_ws *ws, size_t cap);
/* Free ws->pre (NULL is fine). */
void wsv__rt_pre_free(struct wsv_ws *ws);

/* The default timeouts and marks of struct wsv_ws_limits. */
void wsv__rt_limits_init(struct wsv_ws_limits *l);
/* Allocate a connection on `loop` with socket `fd` (-1 for none yet). */
struct wsv_ws *wsv__rt_ws_new(struct wsv_loop *loop,
                              const struct wsv__rt_ctx *ctx, int fd,
                              size_t extra);
/* Create the core conn once the handshake succeeded, arm the idle timer,
 * call the open callback, then feed `rest[0..n)` (the bytes after the
 * head, writable) to the conn.  Returns 0 or a WSV_ERR_* (the connection
 * has then been terminated). */
int wsv__rt_ws_opened(struct wsv_ws *ws, int role, uint8_t *rest, size_t n);
/* The socket is readable / writable (open phase). */
void wsv__rt_ws_on_event(struct wsv__rt_watch *w, uint32_t events);
/* The core conn's protocol state (enum wsv_conn_state); a parked
 * connection (conn NULL, see ws.c) is WSV_CONN_OPEN. */
int wsv__rt_ws_state(const struct wsv_ws *ws);
/* Queue the connection for a write at the end of the iteration. */
void wsv__rt_ws_want_flush(struct wsv_ws *ws);
/* Write pre + conn output now; handles EAGAIN (EPOLLOUT), errors and the
 * socket close the conn asks for.  Returns 0, or -1 if the connection
 * was terminated. */
int wsv__rt_ws_flush(struct wsv_ws *ws);
/* Close the socket at once and schedule the callbacks and the free for
 * the end of the iteration.  `err`/`text` say why (0/"" when clean). */
void wsv__rt_ws_terminate(struct wsv_ws *ws, int err, const char *text);
/* Arm the connection's timer in `mode` for `ms` milliseconds (0: off). */
void wsv__rt_ws_timer(struct wsv_ws *ws, int mode, uint32_t ms);
/* Read the connections of loop->again once more (their input sits in
 * OpenSSL's buffer); those added meanwhile wait for the next iteration. */
void wsv__rt_ws_run_again(struct wsv_loop *loop);
/* Read from the connection's socket, through TLS when there is some:
 * recv(2)'s contract (n > 0, 0 at EOF, -1 with errno; EAGAIN to wait). */
ssize_t wsv__rt_io_read(struct wsv_ws *ws, void *buf, size_t cap);
/* Run the end-of-iteration work: flush pending, finish dead. */
void wsv__rt_ws_flush_pending(struct wsv_loop *loop);
void wsv__rt_ws_reap(struct wsv_loop *loop);
/* Log through the context's callback, printf-style. */
void wsv__rt_log(const struct wsv__rt_ctx *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Text for an errno value of a failed read/write/connect (static). */
const char *wsv__rt_errno_text(int e);

/* Fail a server connection to give its memory back (the output budget
 * is exceeded): drop its unsent frames, queue a Close 1008, arm the close
 * timer.  Returns the bytes dropped. */
size_t wsv__rt_ws_shed(struct wsv_ws *ws);

/* ---- budget.c: a server's memory budgets across its connections -----------
 * See the top of budget.c.  Made by wsv_server_new (NULL when both limits
 * are 0), shared by the server's threads. */
struct wsv__rt_budget;
/* 0 and *out (NULL if both limits are 0), or WSV_ERR_NOMEM. */
int wsv__rt_budget_new(struct wsv__rt_budget **out, size_t out_limit,
                       size_t in_limit, int threads);
void wsv__rt_budget_free(struct wsv__rt_budget *b);
/* The conn hook (wsv_conn_config.msg_reserve) with user = the budget. */
int wsv__rt_budget_reserve(void *user, size_t from, size_t to);
/* Server connection `ws` now has `now` bytes of output (was
 * ws->out_counted): count it, and past the budget fail the connections
 * of ws's thread that hold the most. */
void wsv__rt_budget_out(struct wsv__rt_budget *b, struct wsv_ws *ws,
                        size_t now);
/* The totals now: output counted, input reserved (relaxed reads). */
size_t wsv__rt_budget_output(const struct wsv__rt_budget *b);
size_t wsv__rt_budget_input(const struct wsv__rt_budget *b);

/* ---- server.c hooks used by ws.c ------------------------------------------
 */
/* The server connection's socket is readable/writable before the 101 or
 * while lingering. */
void wsv__rt_srv_on_event(struct wsv__rt_watch *w, uint32_t events);
/* A server connection is gone: unlink it from its worker (and stop the
 * worker's loop when it was the last one during a shutdown). */
void wsv__rt_srv_unlink(struct wsv_ws *ws);
/* Free the handshake state (at the very end: views may still be used). */
void wsv__rt_srv_free_hs(struct wsv_ws *ws);
/* Timer expiry in the handshake or linger phases. */
void wsv__rt_srv_timeout(struct wsv_ws *ws);
/* Start the graceful close after an HTTP answer put in ws->pre. */
void wsv__rt_srv_linger(struct wsv_ws *ws);

/* ---- client.c hooks used by ws.c ------------------------------------------
 */
void wsv__rt_cli_on_event(struct wsv__rt_watch *w, uint32_t events);
void wsv__rt_cli_free(struct wsv_ws *ws);
/* Link / unlink a client connection in its loop's list. */
void wsv__rt_cli_link(struct wsv_ws *ws);
void wsv__rt_cli_unlink(struct wsv_ws *ws);

/* ---- pubsub.c --------------------------------------------------------------
 * A per-thread topic table. */
struct ps_topic;
struct wsv__rt_topics {
  struct ps_topic **buckets;
  size_t nbuckets;
  size_t ntopics;
};
void wsv__rt_topics_free(struct wsv__rt_topics *t);
/* Drop every subscription of `ws` (on close). */
void wsv__rt_ps_unsubscribe_all(struct wsv_ws *ws);
/* Deliver to the local subscribers, except `skip`; returns the count. */
int wsv__rt_ps_deliver(struct wsv__rt_topics *t, const char *topic,
                       size_t topic_len, int opcode, const void *data,
                       size_t len, const struct wsv_ws *skip);
/* A worker's index (0..threads-1) and the first of its connections
 * (linked by ->next). */
int wsv__rt_srv_index(const struct srv_worker *wk);
struct wsv_ws *wsv__rt_srv_conns(struct srv_worker *wk);
/* The topic table of the worker a server connection belongs to. */
struct wsv__rt_topics *wsv__rt_srv_topics(struct srv_worker *wk);
/* Post a publish to every worker's loop except `except` (may be NULL). */
int wsv__rt_srv_post_publish(struct wsv_server *srv,
                             const struct srv_worker *except, const char *topic,
                             size_t topic_len, int opcode, const void *data,
                             size_t len);

/* ---- net.c ----------------------------------------------------------------
 */
/* Set TCP_NODELAY (ignoring failures on non-TCP sockets). */
void wsv__rt_nodelay(int fd);
/* Format an address as "1.2.3.4:5" or "[::1]:5" into buf[0..cap);
 * returns the length or -1. */
int wsv__rt_addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t cap);
/* A malloc'd copy of s[0..n) with a NUL, or NULL. */
char *wsv__rt_strndup(const char *s, size_t n);
/* The reason phrase for an HTTP status. */
const char *wsv__rt_status_text(int status);

/* ---- tls.c (the only file that includes OpenSSL) --------------------------
 * A context: an SSL_CTX and our socket BIO's method.  Server: one per
 * server, shared by its threads.  Client: one per wsv_client_connect. */
/* A server context from PEM files (the certificate file may hold the
 * chain); NULL with a one-line reason in err[0..cap). */
struct wsv__rt_tls_ctx *wsv__rt_tls_server_ctx(const char *cert,
                                               const char *key, char *err,
                                               size_t cap);
/* A client context: the system's CA store, or only `cafile` when given;
 * no verification at all when `insecure`.  NULL with a reason in err. */
struct wsv__rt_tls_ctx *wsv__rt_tls_client_ctx(int insecure, const char *cafile,
                                               char *err, size_t cap);
void wsv__rt_tls_ctx_free(struct wsv__rt_tls_ctx *c);
/* Put TLS on ws's socket (ws->w.fd set): accept state for a server
 * context; for a client, `host` is sent as SNI (names only) and checked
 * against the certificate.  0, WSV_ERR_NOMEM or WSV_ERR_INVAL. */
int wsv__rt_tls_start(struct wsv_ws *ws, struct wsv__rt_tls_ctx *c,
                      const char *host);
/* Free ws->tls (NULL is fine). */
void wsv__rt_tls_free(struct wsv_ws *ws);
/* Nonzero when there is no TLS or its handshake is done. */
int wsv__rt_tls_ready(const struct wsv_ws *ws);
/* Drive the handshake; sets the watch's epoll interest.  Returns 1 when
 * done, 0 to wait, -1 on failure (wsv__rt_tls_error says why), and, for
 * a server, 2 when the client's first byte is not TLS (plaintext). */
int wsv__rt_tls_handshake(struct wsv_ws *ws);
/* The last error as one line, e.g. "TLS: certificate verify failed:
 * hostname mismatch" (owned by ws->tls). */
const char *wsv__rt_tls_error(const struct wsv_ws *ws);
/* recv(2) and sendmsg(2) through TLS (same contracts; EPROTO for a TLS
 * error).  A read that leaves input in OpenSSL's buffer puts ws on
 * loop->again. */
ssize_t wsv__rt_tls_read(struct wsv_ws *ws, void *buf, size_t cap);
ssize_t wsv__rt_tls_writev(struct wsv_ws *ws, const struct iovec *iov, int k);
/* Nonzero when a read waits for the socket to be writable. */
int wsv__rt_tls_want_out(const struct wsv_ws *ws);
/* Send close_notify once (best effort, never waits). */
void wsv__rt_tls_close_notify(struct wsv_ws *ws);
/* Fill *info; 1 for an established TLS connection, else 0. */
int wsv__rt_tls_info(const struct wsv_ws *ws, struct wsv_tls_info *info);

#endif /* WSV_RT_INT_H */
