/*
 * bench_fanout.c - `wsv bench fanout`: one publisher and N subscribers on
 * the same path of one or more chat servers (`wsv serve --chat`, alone or
 * with --broker).  The publisher (a connection of thread 0, to the first
 * URL) publishes; every subscriber verifies every message it receives
 * and measures publish-to-delivery latency.  The loop, the connections
 * and the figures are the engine's (bench_run.c, bench_conn.c,
 * bench_report.c); this file owns the messages, the window, the phases.
 *
 * Message seq: 16 bytes of header, then the shared pattern from offset
 * seq % BENCH_PATTERN_SPAN up to --size.  The header is 16 letters of
 * the base64url alphabet (valid text) carrying 96 bits: the sequence
 * number (48 bits, letters 0-7) and the send time in ns since fan.t_base
 * (48 bits, letters 8-15: 78 hours).  A subscriber checks the letters,
 * that seq was published and is past the last one it received (a gap is
 * counted as lost messages, a repeat or step back fails the connection),
 * that the time is the one the publisher recorded for seq, and the
 * pattern byte for byte.
 *
 * Pacing: --inflight K keeps at most K messages published past the
 * slowest subscriber (a window on the sequence number every subscriber
 * has passed: each thread counts its subscribers past each number in a
 * ring and publishes how far all of them are, fan_done); --rate R
 * publishes R per second on a schedule (the window then only keeps the
 * publisher within BENCH_FAN_RING of the slowest).
 *
 * Phases: open every connection; join (a message every 10 ms until every
 * subscriber has received one: a broker subscribes to its channel
 * asynchronously, and what is published before that is not delivered;
 * nothing heard within 5 s fails the run: the server is not a chat);
 * warm-up; counting; stop; drain (every subscriber to the last message).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"

#include "bench.h"
#include "bench_eng.h"

#define FAN_MASK (BENCH_FAN_RING - 1u)
#define FAN_PUB_OUT_MAX (1u << 20) /* publisher output queued at most */

static const char fan_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int fan_letter(uint8_t ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  return -1;
}

static void fan_encode(uint64_t seq, uint64_t ts, uint8_t *out) {
  for (unsigned i = 0; i < 8; i++) {
    out[i] = (uint8_t)fan_alpha[(seq >> (6u * (7u - i))) & 63u];
    out[8 + i] = (uint8_t)fan_alpha[(ts >> (6u * (7u - i))) & 63u];
  }
}

static int fan_decode(const uint8_t *in, uint64_t *seq, uint64_t *ts) {
  uint64_t s = 0, t = 0;
  for (unsigned i = 0; i < 8; i++) {
    int a = fan_letter(in[i]), b = fan_letter(in[8 + i]);
    if (a < 0 || b < 0)
      return -1;
    s = s << 6 | (uint64_t)a;
    t = t << 6 | (uint64_t)b;
  }
  *seq = s;
  *ts = t;
  return 0;
}

/* ---- the thread's state ---------------------------------------------------
 */

int fan_init(struct eng *e) {
  struct eng_fan *f = &e->fan;
  f->reached = calloc(BENCH_FAN_RING, sizeof *f->reached);
  if (f->reached == NULL)
    return -1;
  size_t j = 0;
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (e->t->id == 0 && i == 0) {
      c->is_pub = 1;
      c->target = 0;
      f->pub = c;
      continue;
    }
    size_t g = j++ * (size_t)e->o->threads + (size_t)e->t->id;
    c->target = (uint8_t)(g % e->o->ntargets);
  }
  if (e->t->id == 0 && e->b->fan.wake_fd >= 0) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, e->b->fan.wake_fd, &ev) != 0)
      return -1;
  }
  return 0;
}

void fan_cleanup(struct eng *e) {
  free(e->fan.reached);
  e->fan.reached = NULL;
}

void fan_wake(struct eng *e) {
  uint64_t v;
  ssize_t r = read(e->b->fan.wake_fd, &v, sizeof v);
  (void)r;
}

/* Tell the publisher how far this thread's subscribers are. */
static void fan_advance(struct eng *e) {
  struct eng_fan *f = &e->fan;
  struct bench_fan *bf = &e->b->fan;
  uint64_t was = f->done;
  if (f->need == 0) {
    f->done = UINT64_MAX;
  } else {
    while (f->reached[f->done & FAN_MASK] >= f->need) {
      f->reached[f->done & FAN_MASK] = 0;
      f->done++;
    }
  }
  if (f->done == was)
    return;
  atomic_store_explicit(&e->t->fan_done, f->done, memory_order_release);
  if (e->t->id != 0 && atomic_load(&bf->pub_waiting) &&
      atomic_exchange(&bf->pub_waiting, 0)) {
    uint64_t one = 1;
    ssize_t w = write(bf->wake_fd, &one, sizeof one);
    (void)w;
  }
}

void fan_finished(struct bconn *c) {
  struct eng *e = c->e;
  struct eng_fan *f = &e->fan;
  struct bench_fan *bf = &e->b->fan;
  if (!c->counted)
    return;
  c->counted = 0;
  /* Take back what it counted in the ring, so the others decide. */
  for (uint64_t q = f->done; q < c->next; q++)
    f->reached[q & FAN_MASK]--;
  f->need--;
  if (!c->heard)
    atomic_fetch_add(&bf->gone, 1);
  atomic_fetch_sub(&bf->subs_left, 1);
  fan_advance(e);
}

/* ---- messages --------------------------------------------------------------
 */

/* Publish message number f->sent (thread 0). */
static int fan_publish(struct eng *e) {
  struct eng_fan *f = &e->fan;
  struct bench_fan *bf = &e->b->fan;
  struct bconn *p = f->pub;
  uint64_t seq = f->sent;
  uint64_t ts = e->now - bf->t_base;
  atomic_store_explicit(&bf->stamps[seq & FAN_MASK], ts, memory_order_relaxed);
  f->sent++;
  atomic_store_explicit(&bf->published, f->sent, memory_order_release);
  if (e->counting && !e->stopping)
    e->t->pubs++;
  uint8_t *m = e->pat + seq % BENCH_PATTERN_SPAN;
  uint8_t save[16];
  memcpy(save, m, 16);
  fan_encode(seq, ts, m);
  int rc = wsv_conn_send(p->conn, e->op, m, (size_t)e->o->size);
  memcpy(m, save, 16);
  if (rc < 0) {
    bconn_fail(p, "publish: %s", wsv_strerror(rc));
    return -1;
  }
  return 0;
}

static int fan_bad(struct bconn *c, const char *what) {
  c->e->t->verify_errors++;
  bconn_fail(c, "%s %s: message %llu %s",
             c->is_pub ? "publisher" : "subscriber",
             c->e->o->target[c->target].path, (unsigned long long)c->cur, what);
  return -1;
}

/* The header of the message arriving on c is complete. */
static int fan_header(struct bconn *c) {
  struct eng *e = c->e;
  struct bench_fan *bf = &e->b->fan;
  if (fan_decode(c->hbuf, &c->cur, &c->cur_ts) != 0) {
    c->cur = c->next;
    return fan_bad(c, "(or the one after it) has a corrupt header");
  }
  uint64_t pub = atomic_load_explicit(&bf->published, memory_order_acquire);
  if (c->cur >= pub)
    return fan_bad(c, "arrived but was never published");
  if (c->heard && c->cur < c->next)
    return fan_bad(c, c->cur + 1 == c->next ? "arrived twice"
                                            : "arrived after a later one");
  /* The send time: a subscriber in the window is never more than the
   * ring behind; the publisher's own copy is checked while it is there. */
  if (c->counted || pub - c->cur <= BENCH_FAN_RING) {
    uint64_t ts = atomic_load_explicit(&bf->stamps[c->cur & FAN_MASK],
                                       memory_order_relaxed);
    if (ts != c->cur_ts)
      return fan_bad(c, "carries a send time that differs from the one sent");
  }
  return 0;
}

/* Message c->cur arrived whole and verified. */
static int fan_delivered(struct bconn *c) {
  struct eng *e = c->e;
  struct eng_fan *f = &e->fan;
  struct bench_fan *bf = &e->b->fan;
  struct bench_thread *t = e->t;
  uint64_t seq = c->cur;
  if (!c->heard) {
    c->heard = 1;
    if (c->counted)
      atomic_fetch_add(&bf->joined, 1);
  } else if (seq > c->next) {
    t->losses += seq - c->next;
  }
  if (c->counted)
    for (uint64_t q = c->next > f->done ? c->next : f->done; q <= seq; q++)
      f->reached[q & FAN_MASK]++;
  c->next = seq + 1;
  if (c->is_pub) {
    t->self_msgs++;
    return 0;
  }
  if (e->counting && !e->stopping) {
    uint64_t sent = bf->t_base + c->cur_ts;
    bench_hist_add(&t->lat, e->now > sent ? e->now - sent : 0);
    t->msgs++;
  }
  if (c->counted)
    fan_advance(e);
  if (e->stopping && c->state == BC_OPEN && atomic_load(&bf->pub_stopped) &&
      c->next >= atomic_load(&bf->published)) {
    bconn_begin_close(c);
    if (c->state == BC_DONE)
      return -1;
  }
  return 0;
}

int fan_piece(struct bconn *c, const struct wsv_event *ev) {
  struct eng *e = c->e;
  size_t s = (size_t)e->o->size;
  const uint8_t *d = ev->data;
  size_t n = ev->len;
  if (ev->first && c->rpos != 0)
    return fan_bad(c, "was cut short by the next one");
  if (ev->opcode != e->op) {
    c->cur = c->next;
    return fan_bad(c, "(or the one after it) is of another type");
  }
  if (c->rpos + n > s)
    return fan_bad(c, "is longer than the messages sent");
  if (c->rpos < 16) {
    size_t k = 16 - c->rpos < n ? 16 - c->rpos : n;
    memcpy(c->hbuf + c->rpos, d, k);
    c->rpos += k;
    d += k;
    n -= k;
    if (c->rpos == 16 && fan_header(c) != 0)
      return -1;
  }
  if (n > 0) {
    if (memcmp(d, e->b->pattern + c->cur % BENCH_PATTERN_SPAN + c->rpos, n) !=
        0)
      return fan_bad(c, "differs from the message published");
    c->rpos += n;
  }
  if (!ev->last)
    return 0;
  if (c->rpos != s) {
    if (c->rpos < 16)
      c->cur = c->next;
    return fan_bad(c, "is shorter than the messages sent");
  }
  c->rpos = 0;
  return fan_delivered(c);
}

/* ---- the publisher ----------------------------------------------------------
 */

/* How far every subscriber of every thread is. */
static uint64_t fan_min_done(const struct bench *b) {
  uint64_t m = UINT64_MAX;
  for (int i = 0; i < b->opt.threads; i++) {
    uint64_t d = atomic_load_explicit(&b->th[i].fan_done, memory_order_acquire);
    if (d < m)
      m = d;
  }
  return m;
}

/* Publish what the pace allows now (thread 0, loading).  Returns the
 * milliseconds the loop may wait before the next call. */
static int fan_pump(struct eng *e, uint64_t t_load) {
  struct eng_fan *f = &e->fan;
  struct bench *b = e->b;
  struct bconn *p = f->pub;
  const struct bench_opts *o = e->o;
  if (p == NULL || p->state != BC_OPEN)
    return 20;
  uint64_t cap = o->rate > 0 ? BENCH_FAN_RING : o->inflight;
  e->now = bench_now_ns();
  uint64_t due = UINT64_MAX;
  if (o->rate > 0)
    due = (uint64_t)((double)(e->now - t_load) * o->rate / 1e9) + 1u;
  int sent = 0, timeout = 20;
  for (int round = 0; round < 2; round++) {
    uint64_t done = fan_min_done(b);
    while (f->sent < due && f->sent - done < cap &&
           wsv_conn_output_size(p->conn) < FAN_PUB_OUT_MAX) {
      if (fan_publish(e) != 0)
        return 20;
      sent = 1;
    }
    if (f->sent >= due || f->sent - done < cap)
      break;
    /* The window is full: ask the other threads for a wake-up, then look
     * once more (their fan_done may have moved meanwhile). */
    if (b->fan.wake_fd < 0)
      break;
    atomic_store(&b->fan.pub_waiting, 1);
  }
  if (sent)
    (void)bconn_flush_ws(p);
  if (o->rate > 0) {
    if (f->sent < due) {
      timeout = 1; /* held by the window or the output: look again soon */
    } else {
      uint64_t next_at = t_load + (uint64_t)((double)f->sent * 1e9 / o->rate);
      uint64_t ms =
          next_at > e->now ? (next_at - e->now + 999999u) / 1000000u : 0;
      timeout = ms < 20 ? (int)ms : 20;
    }
  }
  return timeout;
}

/* ---- the phases -------------------------------------------------------------
 */

static void fan_open(struct eng *e) {
  struct bench *b = e->b;
  struct eng_fan *f = &e->fan;
  eng_open_all(e);
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (!c->is_pub && c->state == BC_OPEN) {
      c->counted = 1;
      f->need++;
    }
  }
  f->done = 0;
  atomic_store_explicit(&e->t->fan_done, f->need > 0 ? 0 : UINT64_MAX,
                        memory_order_release);
  atomic_fetch_add(&b->fan.subs_open, f->need);
  atomic_fetch_add(&b->fan.subs_left, f->need);
}

/* Until every subscriber has received a message (thread 0 publishes and
 * decides; the others read). */
static void fan_join(struct eng *e) {
  struct bench *b = e->b;
  struct bench_fan *bf = &b->fan;
  e->now = bench_now_ns();
  uint64_t end = e->now + (uint64_t)BENCH_FAN_JOIN_S * 1000000000u;
  uint64_t next = e->now;
  while (atomic_load(&bf->phase) == FAN_JOINING) {
    if (e->t->id == 0) {
      uint64_t open = atomic_load(&bf->subs_open);
      uint64_t heard = atomic_load(&bf->joined) + atomic_load(&bf->gone);
      struct bconn *p = e->fan.pub;
      if (open > 0 && heard >= open) {
        atomic_store(&bf->phase, FAN_JOINED);
        break;
      }
      if (open == 0 || p->state != BC_OPEN || e->now >= end ||
          atomic_load(&b->abort_all)) {
        if (e->t->err[0] == '\0' && p->state == BC_OPEN && open > 0)
          snprintf(e->t->err, sizeof e->t->err,
                   "%llu of %llu subscribers received nothing in %u s of "
                   "messages every %u ms (is every URL a chat: wsv serve "
                   "--chat?)",
                   (unsigned long long)(open - heard), (unsigned long long)open,
                   BENCH_FAN_JOIN_S, BENCH_FAN_JOIN_MS);
        else if (e->t->err[0] == '\0' && open == 0)
          snprintf(e->t->err, sizeof e->t->err, "no subscriber is open");
        atomic_store(&bf->silent, open > heard ? open - heard : 0);
        atomic_store(&bf->phase, FAN_SILENT);
        break;
      }
      if (e->now >= next) {
        if (fan_publish(e) == 0)
          (void)bconn_flush_ws(p);
        next += (uint64_t)BENCH_FAN_JOIN_MS * 1000000u;
      }
    }
    eng_poll(e, 2);
  }
}

/* After the stop: every subscriber to the last message, then close. */
static void fan_drain(struct eng *e, int silent) {
  struct bench *b = e->b;
  struct bench_fan *bf = &b->fan;
  struct eng_fan *f = &e->fan;
  e->drain_deadline = e->now + (uint64_t)BENCH_DRAIN_S * 1000000000u;
  int swept = 0;
  uint64_t last = 0;
  while (e->now < e->drain_deadline) {
    if (!swept && atomic_load(&bf->pub_stopped)) {
      last = atomic_load(&bf->published);
      for (size_t i = 0; i < e->n; i++) {
        struct bconn *c = &e->c[i];
        if (c->state == BC_OPEN && !c->is_pub && (silent || c->next >= last))
          bconn_begin_close(c);
      }
      swept = 1;
    }
    struct bconn *p = f->pub;
    if (p != NULL && p->state == BC_OPEN &&
        (silent || atomic_load(&bf->subs_left) == 0))
      bconn_begin_close(p);
    if (e->active == 0)
      break;
    eng_poll(e, 20);
  }
  last = atomic_load(&bf->published);
  for (size_t i = 0; i < e->n; i++) {
    struct bconn *c = &e->c[i];
    if (c->state == BC_DONE || c->state == BC_IDLE)
      continue;
    if (!c->is_pub && c->counted && c->heard && c->next < last) {
      e->t->unanswered += last - c->next;
      bconn_fail(c, "%llu messages not delivered within %u s of the stop",
                 (unsigned long long)(last - c->next), BENCH_DRAIN_S);
    } else {
      bconn_finish(c, 0); /* only the close handshake was missing */
    }
  }
}

static uint64_t fan_thread_cpu(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fan_run(struct eng *e) {
  struct bench *b = e->b;
  struct bench_fan *bf = &b->fan;
  struct bench_thread *t = e->t;
  fan_open(e);
  pthread_barrier_wait(&b->barrier); /* every thread is open */
  fan_join(e);
  pthread_barrier_wait(&b->barrier); /* joined (or not) */
  pthread_barrier_wait(&b->barrier); /* the main thread set the times */
  int silent = atomic_load(&bf->phase) != FAN_JOINED;
  e->now = bench_now_ns();
  uint64_t t_load = e->now;
  e->loading = 1;
  e->counting = 0;
  uint64_t last_prog = 0, cpu0 = 0;
  while (!silent) {
    int timeout = 20;
    if (t->id == 0) {
      if (e->fan.pub->state != BC_OPEN)
        break; /* it failed: counted, and its error kept */
      timeout = fan_pump(e, t_load);
    }
    eng_poll(e, timeout);
    if (!e->counting && e->now >= b->t_measure) {
      e->counting = 1;
      t->msgs = 0;
      t->pubs = 0;
      memset(&t->lat, 0, sizeof t->lat);
      cpu0 = fan_thread_cpu();
    }
    if (atomic_load_explicit(&b->abort_all, memory_order_relaxed) ||
        e->now >= b->t_end)
      break;
    if (t->msgs != last_prog) {
      last_prog = t->msgs;
      atomic_store_explicit(&t->prog, last_prog, memory_order_relaxed);
    }
  }
  e->stopping = 1;
  t->t_stop = e->now;
  if (e->counting)
    t->cpu_ns = fan_thread_cpu() - cpu0;
  atomic_store_explicit(&t->prog, t->msgs, memory_order_relaxed);
  if (t->id == 0)
    atomic_store(&bf->pub_stopped, 1);
  fan_drain(e, silent);
}
