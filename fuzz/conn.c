/*
 * fuzz/conn.c - libFuzzer target driving a server and a client wsv_conn
 * against each other through memory.
 *
 * Byte 0 picks each side's delivery mode (bits 0, 1) and max_pending_pongs
 * (bits 2-3: 16, 1, 2, 1024; bits 4-5 for the client); then each
 * operation is one byte
 * (bit 0: which side acts; bits 1-3: what; bits 4-7: flags) followed by its
 * arguments: send text/binary, send a fragment, ping, pong, close, or move
 * some of one side's output to the other (partial writes split frames
 * anywhere).  The oracle: every call returns exactly the code predicted
 * from the state and the arguments, and each side receives exactly what
 * the other sent, in order (messages joined from fragments, pings, pongs
 * sent by the application, close codes and reasons); every other pong
 * carries the payload of a ping the receiving side sent, and there are no
 * more of them than it sent pings (automatic pongs, some coalesced); no
 * error event ever happens between two correct peers; the msg_reserve
 * calls follow one buffer's size from 0 back to 0.
 */
#include <stdlib.h>
#include <string.h>

#include "int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- expected records, one queue per direction --------------------------- */

struct rec {
  int type; /* WSV_EV_TEXT/BINARY/PING/PONG/CLOSE */
  int code;
  uint8_t *p;
  size_t n;
};

struct queue {
  struct rec *r;
  size_t head;
  size_t n;
  size_t cap;
};

static void q_push(struct queue *q, int type, int code, const uint8_t *p,
                   size_t n) {
  struct rec *r;

  if (q->n == q->cap) {
    q->cap = q->cap ? q->cap * 2 : 16;
    q->r = realloc(q->r, q->cap * sizeof *q->r);
    if (q->r == NULL)
      abort();
  }
  r = &q->r[q->n++];
  r->type = type;
  r->code = code;
  r->n = n;
  r->p = malloc(n + 1);
  if (r->p == NULL)
    abort();
  if (n > 0)
    memcpy(r->p, p, n);
}

static void q_free(struct queue *q) {
  size_t i;

  for (i = 0; i < q->n; i++)
    free(q->r[i].p);
  free(q->r);
}

static const struct rec *q_front(const struct queue *q) {
  return q->head < q->n ? &q->r[q->head] : NULL;
}

/* ---- one side ------------------------------------------------------------ */

struct side {
  struct wsv_conn *c;
  size_t reserved; /* the message buffer as msg_reserve was told of it */
  int role;
  int closed;          /* sent or received a Close: sends are refused */
  int sent_close_code; /* what our Close said (1005 for none), or 0 */
  int got_close;
  /* A message being sent in fragments. */
  int frag_op;
  struct wsv_utf8 frag_utf8;
  uint8_t *frag;
  size_t frag_len;
  /* A message being received (joined from stream pieces). */
  uint8_t *in_msg;
  size_t in_len;
  int in_open;
  uint32_t ctr;
  /* Pings this side sent, and the automatic pongs it received for them. */
  struct queue pings;
  size_t auto_pongs;
};

static int side_random(void *user, uint8_t *buf, size_t len) {
  struct side *s = user;
  size_t i;

  s->ctr = s->ctr * 1664525u + 1013904223u;
  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)(s->ctr >> (8 * (i & 3)));
  return 0;
}

static void frag_append(struct side *s, const uint8_t *p, size_t n) {
  s->frag = realloc(s->frag, s->frag_len + n + 1);
  if (s->frag == NULL)
    abort();
  if (n > 0)
    memcpy(s->frag + s->frag_len, p, n);
  s->frag_len += n;
}

/* ---- receiving ----------------------------------------------------------- */

static void expect(struct queue *q, int type, int code, const uint8_t *p,
                   size_t n) {
  const struct rec *r = q_front(q);

  if (r == NULL || r->type != type || r->code != code || r->n != n ||
      (n > 0 && memcmp(r->p, p, n) != 0))
    abort();
  q->head++;
}

static void on_event(struct side *me, struct side *peer, struct queue *q,
                     const struct wsv_event *ev) {
  const struct rec *r;

  switch (ev->type) {
  case WSV_EV_TEXT:
  case WSV_EV_BINARY:
    if (ev->first != !me->in_open)
      abort();
    me->in_msg = realloc(me->in_msg, me->in_len + ev->len + 1);
    if (me->in_msg == NULL)
      abort();
    memcpy(me->in_msg + me->in_len, ev->data, ev->len);
    me->in_len += ev->len;
    me->in_open = 1;
    if (ev->last) {
      expect(q, ev->type, 0, me->in_msg, me->in_len);
      me->in_len = 0;
      me->in_open = 0;
    }
    break;
  case WSV_EV_PING:
    expect(q, WSV_EV_PING, 0, ev->data, ev->len);
    break;
  case WSV_EV_PONG:
    /* Automatic pongs are not in the queue; a pong the application
     * sent is, and comes in order.  Any other pong answers one of our
     * pings.  (An automatic pong taken for an application pong with the
     * same payload swaps with it: both checks still hold.) */
    r = q_front(q);
    if (r != NULL && r->type == WSV_EV_PONG && r->n == ev->len &&
        (ev->len == 0 || memcmp(r->p, ev->data, ev->len) == 0)) {
      q->head++;
    } else {
      size_t k;

      for (k = 0; k < me->pings.n; k++)
        if (me->pings.r[k].n == ev->len &&
            (ev->len == 0 || memcmp(me->pings.r[k].p, ev->data, ev->len) == 0))
          break;
      if (k == me->pings.n || ++me->auto_pongs > me->pings.n)
        abort();
    }
    break;
  case WSV_EV_CLOSE:
    r = q_front(q);
    if (r != NULL && r->type == WSV_EV_CLOSE) {
      expect(q, WSV_EV_CLOSE, ev->close_code, ev->data, ev->len);
    } else {
      /* The peer's automatic echo of our Close: after everything it sent,
       * our code, no reason. */
      if (r != NULL || me->sent_close_code == 0 ||
          ev->close_code != me->sent_close_code || ev->len != 0)
        abort();
    }
    me->closed = 1;
    me->got_close = 1;
    (void)peer;
    break;
  default:
    abort(); /* no errors between two correct peers */
  }
}

/* Move up to `max` bytes of from's output to `to`. */
static void transfer(struct side *from, struct side *to, struct queue *q,
                     size_t max) {
  struct wsv_iovec iov[8];
  struct wsv_event ev;
  uint8_t *buf;
  size_t n = 0, k;
  int cnt, i;

  cnt = wsv_conn_output(from->c, iov, 8);
  for (i = 0; i < cnt; i++)
    n += iov[i].len;
  if (n > max)
    n = max;
  if (n == 0)
    return;
  buf = malloc(n);
  if (buf == NULL)
    abort();
  for (i = 0, k = 0; k < n; i++) {
    size_t m = iov[i].len < n - k ? iov[i].len : n - k;
    memcpy(buf + k, iov[i].base, m);
    k += m;
  }
  if (wsv_conn_consume_output(from->c, n) != WSV_OK)
    abort();
  if (wsv_conn_recv(to->c, buf, n) != WSV_OK)
    abort();
  while (wsv_conn_next_event(to->c, &ev) != WSV_EV_NONE)
    on_event(to, from, q, &ev);
  free(buf);
}

/* ---- sending ------------------------------------------------------------- */

static const int close_codes[16] = {0,    1000, 1001, 1002, 1003, 1007,
                                    1011, 1014, 3000, 4999, 1005, 1006,
                                    1015, 999,  5000, 2999};

static int text_ok(const uint8_t *p, size_t n) {
  return wsv_utf8_valid(p, n) == WSV_OK;
}

static void do_send(struct side *s, struct queue *q, int op, const uint8_t *p,
                    size_t n) {
  int want, rc;

  if (s->closed)
    want = WSV_ERR_CLOSED;
  else if (s->frag_op != 0)
    want = WSV_ERR_STATE;
  else if (op == WSV_OP_TEXT && !text_ok(p, n))
    want = WSV_ERR_INVAL;
  else
    want = WSV_OK;
  rc = wsv_conn_send(s->c, op, p, n);
  if (rc != want)
    abort();
  if (rc == WSV_OK)
    q_push(q, op == WSV_OP_TEXT ? WSV_EV_TEXT : WSV_EV_BINARY, 0, p, n);
}

static void do_fragment(struct side *s, struct queue *q, int binary, int fin,
                        const uint8_t *p, size_t n) {
  struct wsv_utf8 u;
  int op, msg_op, want, rc;

  msg_op =
      s->frag_op != 0 ? s->frag_op : (binary ? WSV_OP_BINARY : WSV_OP_TEXT);
  op = s->frag_op != 0 ? WSV_OP_CONT : msg_op;
  if (s->frag_op != 0)
    u = s->frag_utf8;
  else
    wsv_utf8_init(&u);
  want = WSV_OK;
  if (s->closed)
    want = WSV_ERR_CLOSED;
  else if (msg_op == WSV_OP_TEXT && (wsv_utf8_feed(&u, p, n, NULL) != WSV_OK ||
                                     (fin && !wsv_utf8_is_complete(&u))))
    want = WSV_ERR_INVAL;
  rc = wsv_conn_send_fragment(s->c, op, p, n, fin);
  if (rc != want)
    abort();
  if (rc != WSV_OK)
    return;
  s->frag_utf8 = u;
  frag_append(s, p, n);
  s->frag_op = msg_op;
  if (fin) {
    q_push(q, msg_op == WSV_OP_TEXT ? WSV_EV_TEXT : WSV_EV_BINARY, 0, s->frag,
           s->frag_len);
    s->frag_len = 0;
    s->frag_op = 0;
  }
}

static void do_control(struct side *s, struct queue *q, int pong,
                       const uint8_t *p, size_t n) {
  int want = n > 125 ? WSV_ERR_INVAL : s->closed ? WSV_ERR_CLOSED : WSV_OK;
  int rc = pong ? wsv_conn_pong(s->c, p, n) : wsv_conn_ping(s->c, p, n);

  if (rc != want)
    abort();
  if (rc == WSV_OK)
    q_push(q, pong ? WSV_EV_PONG : WSV_EV_PING, 0, p, n);
  if (rc == WSV_OK && !pong)
    q_push(&s->pings, WSV_EV_PING, 0, p, n);
}

static void do_close(struct side *s, struct queue *q, int code,
                     const uint8_t *p, size_t n) {
  int valid = (code == 0 && n == 0) ||
              (wsv_close_code_valid(code) && n <= 123 && text_ok(p, n));
  int want = !valid ? WSV_ERR_INVAL : s->closed ? WSV_ERR_CLOSED : WSV_OK;
  int rc = wsv_conn_close(s->c, code, p, n);

  if (rc != want)
    abort();
  if (rc != WSV_OK)
    return;
  s->closed = 1;
  s->sent_close_code = code == 0 ? 1005 : code;
  q_push(q, WSV_EV_CLOSE, code == 0 ? 1005 : code, p, n);
}

/* ---- the driver ---------------------------------------------------------- */

static const unsigned pending_pongs[4] = {16, 1, 2, 1024};

/* msg_reserve: the calls must describe one buffer, growing from what it
 * was and given back whole; nothing is refused. */
static int side_reserve(void *user, size_t from, size_t to) {
  struct side *s = user;
  if (from != s->reserved || to == from)
    abort();
  s->reserved = to;
  return 0;
}

static void side_init(struct side *s, int role, int stream, unsigned pongs) {
  struct wsv_conn_config cfg;

  memset(s, 0, sizeof *s);
  s->role = role;
  s->ctr = (uint32_t)role;
  wsv_conn_config_init(&cfg);
  cfg.stream = stream;
  cfg.max_pending_pongs = pending_pongs[pongs & 3];
  cfg.random = side_random;
  cfg.random_user = s;
  cfg.msg_reserve = side_reserve;
  cfg.msg_reserve_user = s;
  if (wsv_conn_new(&s->c, role, &cfg, NULL) != WSV_OK)
    abort();
}

static void side_free(struct side *s) {
  wsv_conn_free(s->c);
  if (s->reserved != 0) /* every reservation given back */
    abort();
  free(s->frag);
  free(s->in_msg);
  q_free(&s->pings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct side sd[2];
  struct queue q[2]; /* q[i]: what side i sent, for side 1 - i */
  size_t i = 1, n;
  size_t round;

  if (size < 1)
    return 0;
  side_init(&sd[0], WSV_ROLE_SERVER, data[0] & 1, data[0] >> 2);
  side_init(&sd[1], WSV_ROLE_CLIENT, (data[0] >> 1) & 1, data[0] >> 4);
  memset(q, 0, sizeof q);
  while (i < size) {
    unsigned op = data[i++];
    int who = op & 1, what = (op >> 1) & 7;
    struct side *s = &sd[who];
    unsigned arg = i < size ? data[i++] : 0;
    const uint8_t *p = data + i;

    n = what == 3 || what == 6 ? arg % 128 : arg;
    if (n > size - i)
      n = size - i;
    switch (what) {
    case 0:
      do_send(s, &q[who], (op & 0x10) ? WSV_OP_BINARY : WSV_OP_TEXT, p, n);
      i += n;
      break;
    case 1:
    case 2:
      do_fragment(s, &q[who], (op & 0x10) != 0, (op & 0x20) != 0, p, n);
      i += n;
      break;
    case 3:
      do_control(s, &q[who], 0, p, n);
      i += n;
      break;
    case 6:
      do_control(s, &q[who], 1, p, n);
      i += n;
      break;
    case 4:
      n = (op >> 4) == 15 ? 124 : n % 32; /* sometimes too long */
      if (n > size - i)
        n = size - i;
      do_close(s, &q[who], close_codes[arg & 15], p, n);
      i += n;
      break;
    default:
      transfer(s, &sd[1 - who], &q[who], what == 7 ? SIZE_MAX : arg + 1u);
      break;
    }
  }
  /* Deliver everything still queued, both ways, until quiet (a transfer
   * moves at most 8 iovecs, and every automatic pong is one: allow a
   * round per 8 pings and then some). */
  for (round = 0; round < 16 + size / 8 && (wsv_conn_want_write(sd[0].c) ||
                                            wsv_conn_want_write(sd[1].c));
       round++) {
    transfer(&sd[0], &sd[1], &q[0], SIZE_MAX);
    transfer(&sd[1], &sd[0], &q[1], SIZE_MAX);
  }
  if (wsv_conn_want_write(sd[0].c) || wsv_conn_want_write(sd[1].c))
    abort();
  /* Everything sent arrived. */
  if (q[0].head != q[0].n || q[1].head != q[1].n)
    abort();
  /* After a complete close handshake the server closes TCP, the client
   * waits. */
  if (sd[0].got_close && sd[1].got_close &&
      (!wsv_conn_want_close_socket(sd[0].c) ||
       wsv_conn_want_close_socket(sd[1].c)))
    abort();
  side_free(&sd[0]);
  side_free(&sd[1]);
  q_free(&q[0]);
  q_free(&q[1]);
  return 0;
}
