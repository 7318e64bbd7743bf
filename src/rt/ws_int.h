/*
 * ws_int.h - one WebSocket connection on a transport (ws.c), the server's
 * memory budgets it reports to (budget.c), and two small helpers
 * (util.c): what the server, the client and pub/sub build on.  A
 * connection's server or client side is a table of role operations
 * (struct wsv__rt_role) that ws.c calls; ws.c knows neither side.
 * Nothing here is installed; symbols are wsv__rt_-prefixed and hidden.
 */
#ifndef WSV_RT_WS_INT_H
#define WSV_RT_WS_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "tls.h"
#include "transport.h"

/* ---- ws.c: one WebSocket connection, both roles ---------------------------
 * Settings shared by the connections of a server (read-only once running)
 * or owned by one client connection. */
struct wsv__rt_tls_ctx;
struct wsv__rt_role;
struct wsv_ws;

struct wsv__rt_ctx {
  /* The server or client side of the connections (see below). */
  const struct wsv__rt_role *role;
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
  /* A server's pub/sub group (pubsub.c), or NULL: no topics. */
  struct wsv__rt_ps_group *ps;
  /* A server's handshake.pmd_policy: how its conns compress (ws_unpark,
   * wsv_conn_config_pmd); 0 for a client. */
  int pmd_policy;
};

/* The side of a connection that made it: what ws.c calls instead of
 * knowing whether it is a server's or a client's. */
struct wsv__rt_role {
  int role; /* WSV_ROLE_SERVER or WSV_ROLE_CLIENT */
  /* A connection that closes before it opened reports it (the client's
   * fail callback) when nonzero. */
  int report_fail;
  /* Terminated: take it off its owner's lists (and out of its topics). */
  void (*unlink)(struct wsv_ws *ws);
  /* The handshake or linger timer ran out. */
  void (*timeout)(struct wsv_ws *ws);
  /* Free the side's own state (the very end; views may be used before). */
  void (*release)(struct wsv_ws *ws);
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
  struct wsv__tp tp; /* first: the byte stream under the connection */
  const struct wsv__rt_ctx *ctx;
  struct wsv_conn *conn; /* open: made on first use, NULL when parked */
  union {
    struct srv_hs *hs;     /* server, during the handshake */
    struct cli_state *cli; /* client, until the 101 */
  };
  /* The rarely set strings (NULL until one is). */
  struct wsv__rt_names *names;
  /* Bytes to write before the conn's output (101, HTTP answer, client
   * request); freed once written. */
  struct wsv__rt_pre *pre;
  /* Loop times in ms modulo 2^32 (compare by difference). */
  uint32_t last_recv;
  union {
    uint32_t ping_sent; /* open: when our keep-alive ping left */
    uint32_t lingered;  /* linger: bytes discarded so far */
  };
  void *user;
  const char *err_text;
  int err;
  uint16_t peer_code; /* the peer's Close code (1005 if none), 0 before */
  uint16_t fail_code; /* the code of the Close we sent on a failure, or 0 */
  uint8_t version;
  uint8_t phase;
  uint8_t tmode;
  uint8_t opened;         /* the open callback ran */
  uint8_t high;           /* above the high-water mark since a send */
  uint8_t in_open;        /* during the open callback (wsv_ws_request) */
  uint8_t shut;           /* linger: shutdown(SHUT_WR) done */
  uint8_t eof;            /* linger: the peer's EOF was seen */
  uint8_t counted;        /* counted in the server's connections */
  uint8_t share;          /* a server's: its worker (thread) and budget share */
  struct wsv__rt_pmd pmd; /* permessage-deflate agreed in the handshake */
  /* Bytes of the conn's output counted in the server's output budget
   * (budget.c; 0 without one).  max_output < 4 GiB keeps it in range. */
  uint32_t out_counted;
  struct ps_sub *subs;
  struct wsv_ws *prev; /* the worker's (client: the loop's) list */
  struct wsv_ws *next;
};

/* The strings few connections have. */
struct wsv__rt_names {
  char *path;         /* the resource name; NULL for "/" */
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
/* Allocate a connection on `loop` with socket `fd` (-1 for none yet),
 * whose transport delivers its events to `ops` (a table of the side that
 * makes it; flush, timeout and free must be wsv__rt_ws_flush_op,
 * wsv__rt_ws_timeout_op and wsv__rt_ws_free_op), with `extra` bytes after the
 * struct for the caller.  NULL when out of memory. */
struct wsv_ws *wsv__rt_ws_new(struct wsv_loop *loop,
                              const struct wsv__rt_ctx *ctx,
                              const struct wsv__tp_ops *ops, int fd,
                              size_t extra);
/* The transport operations every connection shares (the timeout runs the
 * timer's mode: handshake and linger through the role, idle, pong, close). */
void wsv__rt_ws_flush_op(struct wsv__tp *tp);
void wsv__rt_ws_timeout_op(struct wsv__tp *tp);
void wsv__rt_ws_free_op(struct wsv__tp *tp);
/* The connection a transport is under. */
static inline struct wsv_ws *wsv__rt_ws_of(struct wsv__tp *tp) {
  return (struct wsv_ws *)(void *)tp;
}
/* Create the core conn once the handshake succeeded, arm the idle timer,
 * call the open callback, then feed `rest[0..n)` (the bytes after the
 * head, writable) to the conn.  Returns 0 or a WSV_ERR_* (the connection
 * has then been terminated). */
int wsv__rt_ws_opened(struct wsv_ws *ws, uint8_t *rest, size_t n);
/* The core conn's protocol state (enum wsv_conn_state); a parked
 * connection (conn NULL, see ws.c) is WSV_CONN_OPEN. */
int wsv__rt_ws_state(const struct wsv_ws *ws);
/* Queue the connection for a write at the end of the iteration. */
void wsv__rt_ws_want_flush(struct wsv_ws *ws);
/* Write pre + conn output now; handles a full socket (EPOLLOUT), errors
 * and the socket close the conn asks for.  Returns 0, or -1 if the
 * connection was terminated. */
int wsv__rt_ws_flush(struct wsv_ws *ws);
/* Close the socket at once and schedule the callbacks and the free for
 * the end of the iteration.  `err`/`text` say why (0/"" when clean). */
void wsv__rt_ws_terminate(struct wsv_ws *ws, int err, const char *text);
/* Arm the connection's timer in `mode` for `ms` milliseconds (0: off). */
void wsv__rt_ws_timer(struct wsv_ws *ws, int mode, uint32_t ms);
/* Fail a server connection to give its memory back (the output budget
 * is exceeded): drop its unsent frames, queue a Close 1008, arm the close
 * timer.  Returns the bytes dropped. */
size_t wsv__rt_ws_shed(struct wsv_ws *ws);

/* ---- budget.c: a server's memory budgets across its connections -----------
 * See the top of budget.c.  Made by wsv_server_new (NULL when both limits
 * are 0), shared by the server's threads.  Each thread has a share,
 * numbered 0..threads-1. */
struct wsv__rt_budget;
/* The open connection of thread `share` holding the most counted output
 * that has not failed yet, or NULL (the server's, for the budget). */
typedef struct wsv_ws *(*wsv__rt_budget_victim_fn)(void *user, int share);
/* 0 and *out (NULL if both limits are 0), or WSV_ERR_NOMEM. */
int wsv__rt_budget_new(struct wsv__rt_budget **out, size_t out_limit,
                       size_t in_limit, int threads,
                       wsv__rt_budget_victim_fn victim, void *victim_user);
void wsv__rt_budget_free(struct wsv__rt_budget *b);
/* The conn hook (wsv_conn_config.msg_reserve) with user = the budget. */
int wsv__rt_budget_reserve(void *user, size_t from, size_t to);
/* A connection of thread `share` now has `now` bytes of output (was
 * *counted, which becomes now): count it, and past the budget fail the
 * connections of that thread that hold the most. */
void wsv__rt_budget_out(struct wsv__rt_budget *b, int share, uint32_t *counted,
                        size_t now, struct wsv_ws *ws);
/* The totals now: output counted, input reserved (relaxed reads). */
size_t wsv__rt_budget_output(const struct wsv__rt_budget *b);
size_t wsv__rt_budget_input(const struct wsv__rt_budget *b);

/* ---- util.c: text helpers
 * ----------------------------------------------------
 */
/* Log through the context's callback, printf-style. */
void wsv__rt_log(const struct wsv__rt_ctx *ctx, int level, const char *fmt, ...)
    WSV_PRINTF(3, 4);
/* A malloc'd copy of s[0..n) with a NUL, or NULL. */
char *wsv__rt_strndup(const char *s, size_t n);
/* Append p[0..n) to the malloc'd buffer *buf holding *len of *cap bytes,
 * growing it (doubling, from 1 KiB); 0, or -1 (no memory: unchanged). */
int wsv__rt_append(char **buf, size_t *len, size_t *cap, const void *p,
                   size_t n);

#endif /* WSV_RT_WS_INT_H */
