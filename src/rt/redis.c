/*
 * redis.c - the Redis engine of the broker (wsv/broker.h): per link (one
 * loop) two connections to the same node, `sub` (SUBSCRIBE, UNSUBSCRIBE;
 * messages come back on it) and `pub` (PUBLISH), with AUTH or PING first
 * on each; the link is up once both answered.  A lost connection takes
 * the link down, closes both and moves to the next address, after a
 * capped exponential backoff with jitter.
 *
 * Why this design.  hiredis gives the protocol: its reader
 * (redisReaderFeed/GetReply) parses replies, its formatter
 * (redisFormatCommandArgv) writes commands, and nothing else of it is
 * used - no redisContext, no hiredis socket, no async adapter.  The bytes
 * travel on wsv's own transport (transport.h), like every other
 * connection of the loop: one loop and one thread per link, no second
 * event system; an output queue this file owns and bounds (max_queue: a
 * publish past it is refused and counted as dropped, never waited for);
 * writes gathered and sent once at the end of the iteration; EPOLLOUT
 * only while the socket is full; the transport's timer for the connect
 * timeout and a loop timer for the retries.  Nothing here blocks: the
 * connect is non-blocking (as client.c's), and host names are resolved
 * once, in wsv_redis_engine, before any loop runs (that call may block
 * on DNS; an address that changes later is not followed).
 *
 * Ownership.  The engine state (struct redis_engine) is made by
 * wsv_redis_engine, read-only afterwards (shared by the links of every
 * thread) and freed by the engine's free.  A link (struct redis_link) is
 * made by open and freed by close, on its loop.  A connection (struct
 * redis_conn) belongs to its link until it is dropped: then its transport
 * is retired and the loop frees it at the end of the iteration (conn_free),
 * so a callback running on it never sees freed memory.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis.h"
#include "transport.h"
#include "wsv/http.h"
#include "wsv/url.h"

#define REDIS_IOV 64
#define REDIS_RBUF 16384
#define REDIS_ERR_LOG_MS 10000 /* error replies: one line per 10 s */

/* ---- links and their connections ------------------------------------------
 */

enum { RC_SUB = 0, RC_PUB = 1 };
enum { RC_CONNECTING = 0, RC_HELLO = 1, RC_READY = 2 };

struct redis_cmd {
  char *p; /* hiredis' (redisFreeCommand) */
  size_t len;
};

struct redis_link;

struct redis_conn {
  struct wsv__tp tp;     /* first: the transport's owner is the conn */
  struct redis_link *rl; /* NULL once dropped (then only freed) */
  redisReader *reader;   /* hiredis' reply parser */
  struct redis_cmd *q;   /* the output queue: q[qhead..qhead+qn) */
  size_t qhead, qn, qcap;
  size_t qoff;   /* bytes of q[qhead] already written */
  size_t qbytes; /* bytes queued and not yet written */
  uint8_t kind;  /* RC_SUB, RC_PUB */
  uint8_t phase; /* RC_CONNECTING, RC_HELLO, RC_READY */
};

struct redis_link {
  const struct redis_engine *eng;
  struct wsv_loop *loop;
  struct wsv_broker_link *link;
  struct redis_conn *c[2]; /* RC_SUB, RC_PUB; NULL when none */
  struct wsv_timer retry;  /* the backoff before the next attempt */
  size_t target;           /* index into eng->targets */
  uint32_t backoff;        /* the next wait before jitter */
  uint64_t rng;            /* xorshift64 state for the jitter */
  int up;                  /* wsv_broker_link_up was called */
  char why[160];           /* the last failure logged ("" once up) */
  uint64_t err_next;       /* error replies: when the next may be logged */
  uint32_t err_quiet;      /* and how many were not logged since */
};

static void conn_on_event(struct wsv__tp *tp, uint32_t events);
static void conn_on_flush(struct wsv__tp *tp);
static void conn_on_timeout(struct wsv__tp *tp);
static void conn_on_free(struct wsv__tp *tp);

static const struct wsv__tp_ops conn_ops = {conn_on_event, conn_on_flush,
                                            conn_on_timeout, conn_on_free};

/* The broker's functions: the link callbacks unless a test set others. */
const struct wsv__redis_link_ops wsv__redis_broker_ops = {
    wsv_broker_link_up, wsv_broker_link_down, wsv_broker_link_message,
    wsv_broker_link_log};

/* Log a formatted line on rl's link. */
static void rl_log(struct redis_link *rl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rl_log(struct redis_link *rl, int level, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  rl->eng->ops->log(rl->link, level, text);
}

/* The address being tried, for the log. */
static const char *rl_name(const struct redis_link *rl) {
  return rl->eng->targets[rl->target].name;
}

/* A random number for the jitter (xorshift64; seeded in open). */
static uint64_t rl_random(struct redis_link *rl) {
  uint64_t x = rl->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rl->rng = x;
  return x;
}

/* ---- the output queue ------------------------------------------------------
 */

/* Free every queued command. */
static void conn_queue_clear(struct redis_conn *c) {
  for (size_t i = 0; i < c->qn; i++)
    redisFreeCommand(c->q[c->qhead + i].p);
  free(c->q);
  c->q = NULL;
  c->qhead = c->qn = c->qcap = c->qoff = c->qbytes = 0;
}

/* Make room for one more command at the tail; 0 or -1 (no memory). */
static int conn_queue_room(struct redis_conn *c) {
  if (c->qhead + c->qn < c->qcap)
    return 0;
  if (c->qhead > 0) {
    memmove(c->q, c->q + c->qhead, c->qn * sizeof *c->q);
    c->qhead = 0;
    return 0;
  }
  size_t cap = c->qcap != 0 ? c->qcap * 2 : 8;
  struct redis_cmd *q = realloc(c->q, cap * sizeof *q);
  if (q == NULL)
    return -1;
  c->q = q;
  c->qcap = cap;
  return 0;
}

/* Format argv as one command (hiredis) and queue it on c, to be written at
 * the end of the iteration.  With `bounded`, refuse it when the queue
 * would pass max_queue.  0, WSV_ERR_NOBUF (over the bound) or
 * WSV_ERR_NOMEM; nothing is queued on failure.  argv is only read. */
static int conn_queue(struct redis_conn *c, int argc, const char **argv,
                      const size_t *lens, int bounded) {
  size_t max = c->rl->eng->max_queue;
  size_t at_least = 0;
  for (int i = 0; i < argc; i++)
    at_least += lens[i];
  if (bounded && (at_least > max || c->qbytes > max - at_least))
    return WSV_ERR_NOBUF; /* known before formatting a large message */
  char *cmd = NULL;
  int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
  if (n < 0 || cmd == NULL)
    return WSV_ERR_NOMEM;
  if (bounded && ((size_t)n > max || c->qbytes > max - (size_t)n)) {
    redisFreeCommand(cmd);
    return WSV_ERR_NOBUF;
  }
  if (conn_queue_room(c) != 0) {
    redisFreeCommand(cmd);
    return WSV_ERR_NOMEM;
  }
  c->q[c->qhead + c->qn].p = cmd;
  c->q[c->qhead + c->qn].len = (size_t)n;
  c->qn++;
  c->qbytes += (size_t)n;
  wsv__tp_want_flush(&c->tp);
  return 0;
}

static void rl_fail(struct redis_link *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write what is queued (one gather write of up to REDIS_IOV commands at a
 * time) until the queue is empty or the socket is full (the transport
 * then asks for EPOLLOUT).  A failed write fails the link. */
static void conn_flush(struct redis_conn *c) {
  if (c->rl == NULL || c->phase == RC_CONNECTING)
    return;
  while (c->qn > 0) {
    struct iovec iov[REDIS_IOV];
    int k = 0;
    size_t total = 0;
    for (size_t i = 0; i < c->qn && k < REDIS_IOV; i++, k++) {
      const struct redis_cmd *cmd = &c->q[c->qhead + i];
      size_t skip = i == 0 ? c->qoff : 0;
      iov[k].iov_base = cmd->p + skip;
      iov[k].iov_len = cmd->len - skip;
      total += iov[k].iov_len;
    }
    ssize_t w = wsv__tp_writev(&c->tp, iov, k, total);
    if (w < 0) {
      rl_fail(c->rl, "connection lost: %s", wsv__rt_errno_text(errno));
      return;
    }
    size_t left = (size_t)w;
    c->qbytes -= left;
    while (left > 0) {
      struct redis_cmd *cmd = &c->q[c->qhead];
      size_t rest = cmd->len - c->qoff;
      if (left < rest) {
        c->qoff += left;
        break;
      }
      left -= rest;
      redisFreeCommand(cmd->p);
      c->qhead++;
      c->qn--;
      c->qoff = 0;
    }
    if ((size_t)w < total)
      return; /* full: EPOLLOUT is asked for */
  }
  c->qhead = 0;
  wsv__tp_write_idle(&c->tp);
}

/* ---- connections -----------------------------------------------------------
 */

/* Take c from its link: the socket closes now, the memory goes at the end
 * of the iteration (conn_on_free).  No link callback runs on it again. */
static void conn_drop(struct redis_conn *c) {
  c->rl->c[c->kind] = NULL;
  c->rl = NULL;
  wsv__tp_retire(&c->tp);
}

/* Drop both connections of rl (if any). */
static void rl_drop(struct redis_link *rl) {
  for (int k = 0; k < 2; k++)
    if (rl->c[k] != NULL)
      conn_drop(rl->c[k]);
}

/* The next attempt, after the backoff (with up to half of it again at
 * random); the backoff doubles up to backoff_max_ms. */
static void rl_schedule(struct redis_link *rl) {
  const struct redis_engine *e = rl->eng;
  uint64_t wait = rl->backoff + rl_random(rl) % (rl->backoff / 2 + 1);
  rl->backoff =
      rl->backoff > e->backoff_max_ms / 2 ? e->backoff_max_ms : rl->backoff * 2;
  if (wsv_timer_start(&rl->retry, wait, 0) != 0)
    rl_log(
        rl, WSV_LOG_ERROR,
        "broker: redis: cannot arm the retry timer (out of memory): the link "
        "stays down");
}

/* The link failed (text: printf-style, the reason without the address):
 * drop both connections, tell the broker if it was up, log the reason
 * if it is not the one logged last, move to the next address and retry
 * after the backoff. */
static void rl_fail(struct redis_link *rl, const char *fmt, ...) {
  char why[sizeof rl->why];
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(why, sizeof why, fmt, ap); /* before a reply is freed */
  va_end(ap);
  int was_up = rl->up;
  rl_drop(rl);
  rl->up = 0;
  if (was_up || strcmp(why, rl->why) != 0) {
    rl_log(rl, WSV_LOG_WARN, "broker: redis %s: %s", rl_name(rl), why);
    memcpy(rl->why, why, sizeof why);
  }
  rl->target = (rl->target + 1) % rl->eng->ntargets;
  if (was_up)
    rl->eng->ops->down(rl->link);
  rl_schedule(rl);
}

/* Start one connection of rl to the current address: the socket, the
 * non-blocking connect, the watch for EPOLLOUT and the connect timeout.
 * The connection (owned by rl from now on), or NULL with the errno in
 * *err (nothing is left behind). */
static struct redis_conn *conn_start(struct redis_link *rl, int kind,
                                     int *err) {
  const struct redis_target *t = &rl->eng->targets[rl->target];
  struct redis_conn *c = calloc(1, sizeof *c);
  if (c == NULL || (c->reader = redisReaderCreate()) == NULL) {
    free(c);
    *err = ENOMEM;
    return NULL;
  }
  int fd =
      socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    goto fail;
  }
  if (wsv__tp_init(&c->tp, rl->loop, &conn_ops, fd) != 0) {
    *err = ENOMEM;
    goto fail;
  }
  wsv__rt_nodelay(fd);
  /* A Redis that vanishes without a reset is noticed in about 25 s. */
  int one = 1, idle = 10, intvl = 5, cnt = 3;
  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  int r;
  do
    r = connect(fd, (const struct sockaddr *)&t->ss, t->len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    *err = errno;
    goto fail;
  }
  if (wsv__tp_watch(&c->tp, EPOLLOUT) != 0) {
    *err = errno;
    goto fail;
  }
  if (wsv__tp_timer(&c->tp, rl->eng->connect_timeout_ms) != 0) {
    *err = ENOMEM;
    goto fail;
  }
  c->rl = rl;
  c->kind = (uint8_t)kind;
  c->phase = RC_CONNECTING;
  return c;
fail:
  if (fd >= 0) {
    wsv__tp_unwatch(&c->tp); /* nothing when not watched */
    close(fd);
  }
  redisReaderFree(c->reader);
  free(c);
  return NULL;
}

/* Connect both connections to the current address; a failure to start
 * one fails the link (and so schedules a retry). */
static void rl_connect(struct redis_link *rl) {
  for (int k = 0; k < 2; k++) {
    int err = 0;
    rl->c[k] = conn_start(rl, k, &err);
    if (rl->c[k] == NULL) {
      rl_fail(rl, "cannot connect: %s", wsv__rt_errno_text(err));
      return;
    }
  }
}

static void rl_on_retry(struct wsv_timer *t, void *user) {
  (void)t;
  rl_connect(user);
}

/* TCP is connected (or failed): send AUTH, or PING when there is no
 * password, so that the link is up only once Redis itself answered. */
static void conn_connected(struct redis_conn *c) {
  struct redis_link *rl = c->rl;
  const struct redis_engine *e = rl->eng;
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(c->tp.w.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
    err = errno;
  if (err != 0) {
    rl_fail(rl, "cannot connect: %s", wsv__rt_errno_text(err));
    return;
  }
  const char *argv[3];
  size_t lens[3];
  int argc = 0;
  if (e->password == NULL) {
    argv[argc++] = "PING";
  } else {
    argv[argc++] = "AUTH";
    if (e->user != NULL)
      argv[argc++] = e->user;
    argv[argc++] = e->password;
  }
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  c->phase = RC_HELLO;
  (void)wsv__tp_interest(&c->tp, EPOLLIN);
  if (conn_queue(c, argc, argv, lens, 0) != 0)
    rl_fail(rl, "out of memory");
}

/* An error reply in use: logged at most once per REDIS_ERR_LOG_MS (with
 * the number left out since), quoted. */
static void rl_log_error_reply(struct redis_link *rl, const char *what,
                               const redisReply *r) {
  uint64_t now = wsv_loop_now(rl->loop);
  if (now < rl->err_next) {
    rl->err_quiet++;
    return;
  }
  char text[128];
  (void)wsv_str_escape(text, sizeof text, r->str, r->len, 120, 0);
  if (rl->err_quiet > 0)
    rl_log(rl, WSV_LOG_WARN, "broker: redis %s: %s failed: %s (and %u more)",
           rl_name(rl), what, text, (unsigned)rl->err_quiet);
  else
    rl_log(rl, WSV_LOG_WARN, "broker: redis %s: %s failed: %s", rl_name(rl),
           what, text);
  rl->err_quiet = 0;
  rl->err_next = now + REDIS_ERR_LOG_MS;
}

/* The answer to AUTH or PING: an error keeps the link down (logged once
 * by rl_fail); otherwise the connection is ready, and the link is up when
 * both are. */
static void conn_hello_reply(struct redis_conn *c, const redisReply *r) {
  struct redis_link *rl = c->rl;
  const char *what = rl->eng->password != NULL ? "AUTH" : "PING";
  if (r->type == REDIS_REPLY_ERROR) {
    char text[128];
    (void)wsv_str_escape(text, sizeof text, r->str, r->len, 120, 0);
    rl_fail(rl, "%s failed: %s", what, text);
    return;
  }
  c->phase = RC_READY;
  (void)wsv__tp_timer(&c->tp, 0);
  for (int k = 0; k < 2; k++)
    if (rl->c[k] == NULL || rl->c[k]->phase != RC_READY)
      return;
  rl->up = 1;
  rl->backoff = rl->eng->backoff_min_ms;
  rl->why[0] = '\0';
  rl_log(rl, WSV_LOG_INFO, "broker: redis %s: connected", rl_name(rl));
  rl->eng->ops->up(rl->link);
}

/* A reply on the subscribed connection: a message goes to the broker;
 * the confirmations of SUBSCRIBE and UNSUBSCRIBE are ignored. */
static void conn_sub_reply(struct redis_conn *c, const redisReply *r) {
  struct redis_link *rl = c->rl;
  if (r->type == REDIS_REPLY_ERROR) {
    rl_log_error_reply(rl, "SUBSCRIBE", r);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
    return;
  const redisReply *kind = r->element[0];
  const redisReply *ch = r->element[1];
  const redisReply *msg = r->element[2];
  if (kind->type != REDIS_REPLY_STRING || kind->len != 7 ||
      memcmp(kind->str, "message", 7) != 0 || ch->type != REDIS_REPLY_STRING ||
      msg->type != REDIS_REPLY_STRING)
    return;
  rl->eng->ops->message(rl->link, ch->str, ch->len, msg->str, msg->len);
}

/* One reply on c, by its phase and kind.  May drop c (c->rl is then
 * NULL). */
static void conn_reply(struct redis_conn *c, const redisReply *r) {
  if (c->phase == RC_HELLO)
    conn_hello_reply(c, r);
  else if (c->kind == RC_SUB)
    conn_sub_reply(c, r);
  else if (r->type == REDIS_REPLY_ERROR)
    rl_log_error_reply(c->rl, "PUBLISH", r);
  /* else PUBLISH's count of receivers: not needed */
}

/* Read once into the loop's buffer, feed hiredis' reader and handle every
 * whole reply.  EOF and errors fail the link. */
static void conn_read(struct redis_conn *c) {
  struct wsv_loop *loop = c->tp.loop;
  ssize_t n = wsv__tp_read(&c->tp, loop->rbuf, loop->rbuf_cap);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n == 0) {
    rl_fail(c->rl, "connection lost: the server closed the connection");
    return;
  }
  if (n < 0) {
    rl_fail(c->rl, "connection lost: %s", wsv__rt_errno_text(errno));
    return;
  }
  if (redisReaderFeed(c->reader, (const char *)loop->rbuf, (size_t)n) !=
      REDIS_OK) {
    rl_fail(c->rl, "out of memory reading a reply");
    return;
  }
  while (c->rl != NULL) {
    void *reply = NULL;
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
      rl_fail(c->rl, "bad reply: %s", c->reader->errstr);
      return;
    }
    if (reply == NULL)
      return; /* a reply not yet whole */
    conn_reply(c, reply);
    freeReplyObject(reply);
  }
}

static void conn_on_event(struct wsv__tp *tp, uint32_t events) {
  struct redis_conn *c = (struct redis_conn *)tp;
  if (c->rl == NULL)
    return;
  if (c->phase == RC_CONNECTING) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      conn_connected(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    conn_read(c);
  if (c->rl != NULL && (events & EPOLLOUT))
    conn_flush(c);
}

static void conn_on_flush(struct wsv__tp *tp) {
  conn_flush((struct redis_conn *)tp);
}

/* The connect timeout: TCP, then AUTH or PING, must be done by then. */
static void conn_on_timeout(struct wsv__tp *tp) {
  struct redis_conn *c = (struct redis_conn *)tp;
  if (c->rl != NULL)
    rl_fail(c->rl, c->phase == RC_CONNECTING
                       ? "cannot connect: connection timed out"
                       : "no answer to AUTH or PING in time");
}

/* The transport is retired and no list holds it: free the connection. */
static void conn_on_free(struct wsv__tp *tp) {
  struct redis_conn *c = (struct redis_conn *)tp;
  wsv__tp_release(&c->tp);
  conn_queue_clear(c);
  redisReaderFree(c->reader);
  free(c);
}

/* ---- the engine's functions ------------------------------------------------
 */

/* open: the link's state in *conn; the first attempt starts now (a
 * failure to start it is a retry later, not an error).  0, or
 * WSV_ERR_NOMEM. */
static int redis_open(void *engine, struct wsv_loop *loop,
                      struct wsv_broker_link *link, void **conn) {
  const struct redis_engine *e = engine;
  if (wsv__rt_loop_rbuf(loop, REDIS_RBUF) != 0)
    return WSV_ERR_NOMEM;
  struct redis_link *rl = calloc(1, sizeof *rl);
  if (rl == NULL)
    return WSV_ERR_NOMEM;
  rl->eng = e;
  rl->loop = loop;
  rl->link = link;
  rl->backoff = e->backoff_min_ms;
  wsv__rt_timer_init(&rl->retry, loop, rl_on_retry, rl);
  if (wsv_random_os(NULL, (uint8_t *)&rl->rng, sizeof rl->rng) != 0)
    rl->rng = wsv__rt_now_ms();
  rl->rng ^= (uintptr_t)rl;
  if (rl->rng == 0)
    rl->rng = 0x9e3779b97f4a7c15u;
  *conn = rl;
  rl_connect(rl);
  return 0;
}

/* Queue `name channel` on the subscribed connection.  A failure fails the
 * link too (so that the broker subscribes everything again once it is
 * back): 0, WSV_ERR_CLOSED (not up) or WSV_ERR_NOMEM. */
static int redis_sub_command(struct redis_link *rl, const char *name,
                             const void *channel, size_t len) {
  if (!rl->up)
    return WSV_ERR_CLOSED;
  const char *argv[2] = {name, channel};
  size_t lens[2] = {strlen(name), len};
  int rc = conn_queue(rl->c[RC_SUB], 2, argv, lens, 0);
  if (rc != 0)
    rl_fail(rl, "out of memory queueing %s", name);
  return rc;
}

static int redis_subscribe(void *conn, const void *channel, size_t len) {
  return redis_sub_command(conn, "SUBSCRIBE", channel, len);
}

static int redis_unsubscribe(void *conn, const void *channel, size_t len) {
  return redis_sub_command(conn, "UNSUBSCRIBE", channel, len);
}

/* publish: PUBLISH channel msg queued on `pub`.  0, WSV_ERR_CLOSED (not
 * up), WSV_ERR_NOBUF (the queue would pass max_queue), WSV_ERR_NOMEM. */
static int redis_publish(void *conn, const void *channel, size_t len,
                         const void *msg, size_t mlen) {
  struct redis_link *rl = conn;
  if (!rl->up)
    return WSV_ERR_CLOSED;
  const char *argv[3] = {"PUBLISH", channel, msg};
  size_t lens[3] = {7, len, mlen};
  return conn_queue(rl->c[RC_PUB], 3, argv, lens, 1);
}

/* close: drop the connections (freed at the end of the iteration: the
 * loop's hooks must still run, as they do for an extension's close),
 * stop the retry timer, free the link.  No link callback runs. */
static void redis_close(void *conn) {
  struct redis_link *rl = conn;
  if (rl == NULL)
    return;
  rl_drop(rl);
  wsv_timer_stop(&rl->retry);
  free(rl);
}

const struct wsv_broker_engine wsv__redis_engine_type = {
    "redis",       redis_open,  redis_subscribe,       redis_unsubscribe,
    redis_publish, redis_close, wsv__redis_engine_free};
