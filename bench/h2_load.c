/*
 * h2_load.c - a WebSocket echo load generator on wsv's own runtime client
 * (libwsv_rt), to compare WebSockets over HTTP/2 (RFC 8441) with
 * WebSockets over HTTP/1.1 on the same server, TLS included (`wsv bench`
 * speaks neither TLS nor HTTP/2).  bench/h2.sh drives it.
 *
 *   h2_load URL [--http 1|2] [--ws N] [--streams K] [--inflight D]
 *           [--size S] [--binary] [--duration SEC] [--warmup SEC]
 *           [--setup SEC] [--min-messages N] [--pid PID] [--json] [-q]
 *
 *   URL          ws://HOST:PORT/PATH or wss://... (an IP literal: no DNS)
 *   --http 1|2   HTTP/1.1 (default) or HTTP/2 (RFC 8441; over ws:// h2c
 *                with prior knowledge); never "auto", so that a row can
 *                not silently measure the other one
 *   --ws N       WebSockets (default 100)
 *   --streams K  --http 2 only: WebSockets per HTTP/2 connection
 *                (default 1): the first of each K connects, the other
 *                K-1 become streams of its connection (cfg.share), so
 *                --ws 100 --streams 100 is 100 WebSockets on one TCP
 *                (and TLS) connection
 *   --inflight D messages each WebSocket keeps in flight (default 8)
 *   --size S     bytes per message, at least 24 (default 32; K, M suffixes
 *                of 1024)
 *   --binary     binary messages (default text: printable ASCII)
 *   --duration SEC  the measured time (default 5; fractions allowed)
 *   --warmup SEC    echoing before it that is not counted (default 1)
 *   --setup SEC  every WebSocket must be open within this (default 20)
 *   --min-messages N  the measured time lasts until at least N echoes
 *                have been verified, past --duration if need be (at most
 *                --setup seconds more; default 0): for smoke tests on slow
 *                or loaded machines, never for figures
 *   --pid PID    the server's process: its CPU time over the measured time
 *                is read from /proc/PID/stat
 *   --json       one JSON object on stdout instead of text
 *   -q           no progress lines on stderr
 *
 * Every message carries the WebSocket's index and its sequence number
 * (24 hex digits) and then a pattern that depends on both; each echo is
 * checked byte for byte (length, opcode, index, sequence, pattern) against
 * the oldest message that WebSocket has in flight, so a lost, reordered,
 * truncated, corrupted or cross-stream echo is counted as a verification
 * error.  Reported: messages/s and MB/s (payload echoed, one direction),
 * latency p50/p99, the TCP connections the WebSockets rode (distinct
 * sockets), the TLS version, cipher and ALPN, and the CPU time of this
 * process (getrusage) and of --pid over the measured time, so a reader can
 * see whether the generator was the bottleneck.
 * Masking keys come from a xorshift64* seeded once from the OS (no system
 * call per frame, as in `wsv bench`); handshake keys from the OS.
 * Exit status: 0 when every WebSocket opened over the asked HTTP, at least
 * one echo was measured, and there was no verification error, no
 * connection error and no unanswered message at the end; 1 otherwise; 2
 * for bad arguments.  Everything runs on one thread, one wsv_loop.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <wsv/rt.h>

#define H2L_HEAD 24        /* 8 hex digits of index, 16 of sequence */
#define H2L_SPAN 251       /* pattern offsets (a prime: offsets vary) */
#define H2L_HIST 100000    /* latency histogram: 1 us buckets up to 100 ms */
#define H2L_DRAIN_MS 5000  /* in-flight echoes after the measured time */
#define H2L_CLOSE_MS 8000  /* closing handshakes after that */

enum h2l_phase {
  H2L_CONNECTING, /* WebSockets opening */
  H2L_WARMUP,     /* echoing, not counted */
  H2L_MEASURE,    /* echoing, counted */
  H2L_DRAIN,      /* no new sends; waiting for the echoes in flight */
  H2L_CLOSING,    /* closing handshakes sent; waiting for the closes */
  H2L_DONE
};

struct h2l_opts {
  const char *url;
  int http2;              /* 0: HTTP/1.1, 1: HTTP/2 */
  unsigned ws;            /* WebSockets */
  unsigned streams;       /* per HTTP/2 connection */
  unsigned inflight;      /* per WebSocket */
  size_t size;            /* bytes per message */
  int binary;
  double duration, warmup, setup; /* seconds */
  unsigned min_messages;
  long pid;               /* the server's, 0: none */
  int json, quiet;
};

struct h2l;

/* One WebSocket: its sequence numbers and the send times of the messages
 * it has in flight (a ring of `inflight`). */
struct h2l_peer {
  struct h2l *g;
  struct wsv_ws *ws; /* NULL before connect and after close/fail */
  unsigned idx;
  int opened, ended;
  uint64_t next_send, next_recv;
  uint64_t *sent_ns;
};

/* The whole run.  Owns the peers, the pattern, the scratch buffer and
 * the timers. */
struct h2l {
  struct h2l_opts o;
  struct wsv_loop *loop;
  struct h2l_peer *peers;
  unsigned char *pattern; /* size - H2L_HEAD + H2L_SPAN bytes */
  unsigned char *scratch; /* one message */
  enum h2l_phase phase;
  int overtime; /* measuring past --duration for --min-messages */
  struct wsv_timer *phase_timer, *progress_timer;
  unsigned opened, ended, wrong_http;
  uint64_t verify_errors, conn_errors, unanswered;
  uint64_t msgs;         /* echoes verified while measuring */
  uint64_t progress_msgs; /* at the last progress line */
  uint64_t t0_ns, t1_ns;
  double cpu0, cpu1;
  long srv0, srv1; /* server ticks; -1: unknown */
  uint64_t *hist;  /* H2L_HIST + 1 buckets of microseconds */
  uint64_t lat_max_us;
  uint64_t rng; /* xorshift64* state for masking keys */
  unsigned tcp_conns;
  int have_tls; /* and the first WebSocket's TLS, copied when all opened: */
  char tls_version[32], tls_cipher[64], tls_alpn[32];
  char err[256];
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This process's user + system CPU seconds so far. */
static double self_cpu(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of process `pid` in clock ticks (all its threads), or -1
 * when /proc/PID/stat cannot be read. */
static long proc_ticks(long pid) {
  char path[64], buf[1024];
  if (pid <= 0)
    return -1;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may hold blanks */
  if (!p)
    return -1;
  unsigned long ut = 0, st = 0;
  /* after ") ": state (3), ppid ... utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
             &ut, &st) != 2)
    return -1;
  return (long)(ut + st);
}

/* Keep the first reason the run failed: "what: detail" (or "what" when
 * detail is NULL). */
static void h2l_fail(struct h2l *g, const char *what, const char *detail) {
  if (g->err[0])
    return;
  if (detail)
    snprintf(g->err, sizeof g->err, "%s: %s", what, detail);
  else
    snprintf(g->err, sizeof g->err, "%s", what);
}

/* The pattern after the head of message `seq` of WebSocket `idx` starts at
 * this offset of g->pattern. */
static size_t pat_off(unsigned idx, uint64_t seq) {
  return (size_t)((seq * 7u + idx) % H2L_SPAN);
}

/* Masking keys (cfg.conn.random): xorshift64*, seeded once from the OS,
 * as `wsv bench` does, so that the generator makes no system call per
 * frame (the runtime's default, wsv_random_os, is a getrandom(2) each).
 * Fine for a load generator; not for a real client (RFC 6455 §5.3 wants
 * keys an intermediary cannot predict). */
static int mask_random(void *user, uint8_t *buf, size_t len) {
  struct h2l *g = user;
  for (size_t i = 0; i < len; i++) {
    if (i % 8 == 0) {
      g->rng ^= g->rng >> 12, g->rng ^= g->rng << 25, g->rng ^= g->rng >> 27;
    }
    buf[i] = (uint8_t)((g->rng * 2685821657736338717ull) >> (8 * (i % 8)));
  }
  return 0;
}

static void put_hex(unsigned char *p, uint64_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--, v >>= 4)
    p[i] = (unsigned char)hex[v & 15];
}

/* Queue message next_send of `p`, sent at `now` (now_ns()).  Returns 0,
 * or -1 when the runtime refused it (counted as a connection error; the
 * close follows). */
static int send_one(struct h2l_peer *p, uint64_t now) {
  struct h2l *g = p->g;
  unsigned char *m = g->scratch;
  put_hex(m, p->idx, 8);
  put_hex(m + 8, p->next_send, 16);
  memcpy(m + H2L_HEAD, g->pattern + pat_off(p->idx, p->next_send),
         g->o.size - H2L_HEAD);
  p->sent_ns[p->next_send % g->o.inflight] = now;
  int rc = wsv_ws_send(p->ws, g->o.binary ? WSV_OP_BINARY : WSV_OP_TEXT, m,
                       g->o.size);
  if (rc < 0) {
    g->conn_errors++;
    h2l_fail(g, "send", wsv_strerror(rc));
    return -1;
  }
  p->next_send++;
  return 0;
}

/* 1 when data[0..len) is exactly message `seq` of `p`. */
static int echo_ok(const struct h2l_peer *p, int opcode, const unsigned char *d,
                   size_t len, uint64_t seq) {
  const struct h2l *g = p->g;
  unsigned char head[H2L_HEAD];
  if (len != g->o.size ||
      opcode != (g->o.binary ? WSV_OP_BINARY : WSV_OP_TEXT))
    return 0;
  put_hex(head, p->idx, 8);
  put_hex(head + 8, seq, 16);
  return memcmp(d, head, H2L_HEAD) == 0 &&
         memcmp(d + H2L_HEAD, g->pattern + pat_off(p->idx, seq),
                len - H2L_HEAD) == 0;
}

static unsigned in_flight(const struct h2l_peer *p) {
  return (unsigned)(p->next_send - p->next_recv);
}

/* Send Close 1000 on every open WebSocket; the loop stops when the last
 * close has come (or the phase timer gives up). */
static void close_all(struct h2l *g) {
  g->phase = H2L_CLOSING;
  for (unsigned i = 0; i < g->o.ws; i++) {
    struct h2l_peer *p = &g->peers[i];
    if (p->ws && p->opened)
      wsv_ws_close(p->ws, 1000, NULL, 0);
  }
  wsv_timer_start(g->phase_timer, H2L_CLOSE_MS, 0);
  if (g->ended == g->o.ws)
    wsv_loop_stop(g->loop);
}

static void maybe_drained(struct h2l *g) {
  for (unsigned i = 0; i < g->o.ws; i++)
    if (g->peers[i].ws && in_flight(&g->peers[i]))
      return;
  close_all(g);
}

/* The measured time begins: counters from zero, CPU and time marks. */
static void begin_measure(struct h2l *g) {
  g->phase = H2L_MEASURE;
  g->msgs = g->progress_msgs = 0;
  memset(g->hist, 0, (H2L_HIST + 1) * sizeof *g->hist);
  g->lat_max_us = 0;
  g->srv0 = proc_ticks(g->o.pid);
  g->cpu0 = self_cpu();
  g->t0_ns = now_ns();
  wsv_timer_start(g->phase_timer, (uint64_t)(g->o.duration * 1000 + 0.5), 0);
  if (!g->o.quiet)
    wsv_timer_start(g->progress_timer, 1000, 1000);
}

static void end_measure(struct h2l *g) {
  g->t1_ns = now_ns();
  g->cpu1 = self_cpu();
  g->srv1 = proc_ticks(g->o.pid);
  wsv_timer_stop(g->progress_timer);
  g->phase = H2L_DRAIN;
  wsv_timer_start(g->phase_timer, H2L_DRAIN_MS, 0);
  maybe_drained(g);
}

/* Every WebSocket is open: note the sockets and TLS, then start echoing. */
static void all_open(struct h2l *g) {
  int *fds = calloc(g->o.ws, sizeof *fds);
  g->tcp_conns = 0;
  for (unsigned i = 0; fds && i < g->o.ws; i++) {
    int fd = wsv_ws_fd(g->peers[i].ws), seen = 0;
    for (unsigned j = 0; j < g->tcp_conns; j++)
      seen |= fds[j] == fd;
    if (!seen)
      fds[g->tcp_conns++] = fd;
  }
  free(fds);
  struct wsv_tls_info tls;
  g->have_tls = wsv_ws_tls(g->peers[0].ws, &tls) == 1;
  if (g->have_tls) { /* the strings live only as long as the WebSocket */
    snprintf(g->tls_version, sizeof g->tls_version, "%s", tls.version);
    snprintf(g->tls_cipher, sizeof g->tls_cipher, "%s", tls.cipher);
    snprintf(g->tls_alpn, sizeof g->tls_alpn, "%s", tls.alpn ? tls.alpn : "");
  }
  if (g->wrong_http) {
    h2l_fail(g, "WebSockets did not open over the asked HTTP", NULL);
    close_all(g);
    return;
  }
  g->phase = H2L_WARMUP;
  for (unsigned i = 0; i < g->o.ws; i++)
    for (unsigned k = 0; k < g->o.inflight; k++)
      if (send_one(&g->peers[i], now_ns()) != 0)
        break;
  if (g->o.warmup > 0)
    wsv_timer_start(g->phase_timer, (uint64_t)(g->o.warmup * 1000 + 0.5), 0);
  else
    begin_measure(g);
}

static int connect_peer(struct h2l *g, struct h2l_peer *p,
                        struct wsv_ws *share);
static void give_up(struct h2l *g);

static void on_open(struct wsv_ws *ws, void *user) {
  struct h2l_peer *p = wsv_ws_user(ws);
  struct h2l *g = user;
  if (g->phase == H2L_DONE) {
    wsv_ws_abort(ws);
    return;
  }
  p->opened = 1;
  g->opened++;
  if (wsv_ws_http2(ws) != g->o.http2)
    g->wrong_http++;
  /* The first of a group: the others ride its HTTP/2 connection. */
  if (g->o.http2 && g->o.streams > 1 && p->idx % g->o.streams == 0)
    for (unsigned i = p->idx + 1;
         i < g->o.ws && i < p->idx + g->o.streams; i++)
      if (connect_peer(g, &g->peers[i], ws) != 0) {
        g->conn_errors++;
        give_up(g);
        return;
      }
  if (g->opened == g->o.ws && g->phase == H2L_CONNECTING)
    all_open(g);
}

static void on_message(struct wsv_ws *ws, int opcode, const void *data,
                       size_t len, void *user) {
  struct h2l_peer *p = wsv_ws_user(ws);
  struct h2l *g = user;
  if (!in_flight(p)) { /* nothing was asked for */
    g->verify_errors++;
    h2l_fail(g, "an unasked-for message arrived", NULL);
    return;
  }
  uint64_t seq = p->next_recv++, now = now_ns();
  if (!echo_ok(p, opcode, data, len, seq)) {
    g->verify_errors++;
    h2l_fail(g, "an echo differs from the message sent", NULL);
  } else if (g->phase == H2L_MEASURE) {
    uint64_t us = (now - p->sent_ns[seq % g->o.inflight]) / 1000;
    g->hist[us < H2L_HIST ? us : H2L_HIST]++;
    if (us > g->lat_max_us)
      g->lat_max_us = us;
    g->msgs++;
    if (g->overtime && g->msgs >= g->o.min_messages) {
      end_measure(g);
      return; /* this WebSocket has nothing more to send */
    }
  }
  if (g->phase == H2L_WARMUP || g->phase == H2L_MEASURE)
    send_one(p, now);
  else if (g->phase == H2L_DRAIN && !in_flight(p))
    maybe_drained(g);
}

/* Record the end of the measured time if it is running (the run ended
 * before its timer). */
static void mark_end(struct h2l *g) {
  if (g->phase == H2L_MEASURE) {
    g->t1_ns = now_ns();
    g->cpu1 = self_cpu();
    g->srv1 = proc_ticks(g->o.pid);
  }
}

/* Something went wrong that spoils the run (its reason is in g->err):
 * drop every WebSocket and stop the loop.  Their close and fail callbacks
 * (which run afterwards) see H2L_DONE and only forget the WebSocket. */
static void give_up(struct h2l *g) {
  if (g->phase == H2L_DONE)
    return;
  mark_end(g);
  g->phase = H2L_DONE;
  wsv_timer_stop(g->phase_timer);
  wsv_timer_stop(g->progress_timer);
  for (unsigned i = 0; i < g->o.ws; i++)
    if (g->peers[i].ws)
      wsv_ws_abort(g->peers[i].ws);
  wsv_loop_stop(g->loop);
}

static void peer_ended(struct h2l *g, struct h2l_peer *p) {
  p->ws = NULL;
  p->ended = 1;
  g->ended++;
  if (g->ended == g->o.ws) {
    mark_end(g);
    g->phase = H2L_DONE;
    wsv_timer_stop(g->phase_timer);
    wsv_timer_stop(g->progress_timer);
    wsv_loop_stop(g->loop);
  } else if (g->phase == H2L_DRAIN) {
    maybe_drained(g);
  } else if (g->phase != H2L_CLOSING) {
    give_up(g);
  }
}

static void on_close(struct wsv_ws *ws, int code, const char *reason,
                     size_t len, void *user) {
  struct h2l_peer *p = wsv_ws_user(ws);
  struct h2l *g = user;
  (void)reason;
  (void)len;
  if (g->phase == H2L_DONE) {
    p->ws = NULL;
    return;
  }
  if (g->phase != H2L_CLOSING || code != 1000 || wsv_ws_error(ws) != 0) {
    char t[160];
    snprintf(t, sizeof t, "%d %s", code, wsv_ws_error_text(ws));
    g->conn_errors++;
    h2l_fail(g, "a WebSocket closed", t);
  }
  g->unanswered += in_flight(p);
  p->next_recv = p->next_send;
  peer_ended(g, p);
}

static void on_fail(struct wsv_ws *ws, int err, const char *text,
                    void *user) {
  struct h2l_peer *p = wsv_ws_user(ws);
  struct h2l *g = user;
  char t[200];
  if (g->phase == H2L_DONE) {
    p->ws = NULL;
    return;
  }
  snprintf(t, sizeof t, "%s: %s", wsv_err_name(err), text);
  g->conn_errors++;
  h2l_fail(g, "connect", t);
  p->ws = NULL;
  give_up(g);
}

static void on_log(void *user, int level, const char *text) {
  (void)user;
  if (level <= WSV_LOG_WARN)
    fprintf(stderr, "h2_load: %s\n", text);
}

/* Start connecting `p`, as a stream of `share`'s connection when that is
 * not NULL.  Returns 0 or the runtime's error (logged). */
static int connect_peer(struct h2l *g, struct h2l_peer *p,
                        struct wsv_ws *share) {
  struct wsv_client_config cfg;
  wsv_client_config_init(&cfg);
  cfg.url = g->o.url;
  cfg.http = g->o.http2 ? WSV_CLIENT_HTTP2 : WSV_CLIENT_HTTP1;
  cfg.share = share;
  cfg.tls_insecure = 1; /* the bench's own self-signed certificate */
  cfg.limits.ping_interval_ms = 0;
  cfg.limits.handshake_timeout_ms = (uint32_t)(g->o.setup * 1000 + 0.5);
  cfg.conn.max_message = g->o.size + 1;
  cfg.conn.max_frame = g->o.size + 1;
  cfg.conn.random = mask_random;
  cfg.conn.random_user = g;
  cfg.callbacks.open = on_open;
  cfg.callbacks.message = on_message;
  cfg.callbacks.close = on_close;
  cfg.callbacks.fail = on_fail;
  cfg.user = g;
  cfg.log = on_log;
  int rc = wsv_client_connect(g->loop, &cfg, &p->ws);
  if (rc != 0) {
    p->ws = NULL;
    h2l_fail(g, "connect", wsv_strerror(rc));
    return rc;
  }
  wsv_ws_set_user(p->ws, p);
  return 0;
}

static void on_phase_timer(struct wsv_timer *t, void *user) {
  struct h2l *g = user;
  (void)t;
  switch (g->phase) {
  case H2L_CONNECTING:
    h2l_fail(g, "not every WebSocket opened in time", NULL);
    g->conn_errors++;
    give_up(g);
    break;
  case H2L_WARMUP:
    begin_measure(g);
    break;
  case H2L_MEASURE:
    if (!g->overtime && g->msgs < g->o.min_messages) {
      g->overtime = 1;
      wsv_timer_start(g->phase_timer, (uint64_t)(g->o.setup * 1000 + 0.5), 0);
    } else {
      end_measure(g);
    }
    break;
  case H2L_DRAIN: /* what is still in flight stays unanswered */
    close_all(g);
    break;
  default: /* closes that did not come */
    h2l_fail(g, "not every closing handshake ended in time", NULL);
    g->conn_errors++;
    give_up(g);
    break;
  }
}

static void on_progress(struct wsv_timer *t, void *user) {
  struct h2l *g = user;
  (void)t;
  fprintf(stderr, "h2_load: %" PRIu64 " msg/s\n", g->msgs - g->progress_msgs);
  g->progress_msgs = g->msgs;
}

static uint64_t quantile(const struct h2l *g, double q) {
  uint64_t total = 0, seen = 0;
  for (size_t i = 0; i <= H2L_HIST; i++)
    total += g->hist[i];
  if (!total)
    return 0;
  uint64_t want = (uint64_t)(q * (double)total);
  if (want >= total)
    want = total - 1;
  for (size_t i = 0; i <= H2L_HIST; i++) {
    seen += g->hist[i];
    if (seen > want)
      return i < H2L_HIST ? i : g->lat_max_us;
  }
  return g->lat_max_us;
}

static void json_str(const char *s) {
  putchar('"');
  for (; s && *s; s++) {
    if (*s == '"' || *s == '\\')
      putchar('\\');
    if ((unsigned char)*s >= 0x20)
      putchar(*s);
  }
  putchar('"');
}

/* Print the figures; returns the exit status. */
static int report(struct h2l *g) {
  const struct h2l_opts *o = &g->o;
  double secs = g->t1_ns > g->t0_ns ? (double)(g->t1_ns - g->t0_ns) / 1e9 : 0;
  double rate = secs > 0 ? (double)g->msgs / secs : 0;
  double mb = rate * (double)o->size / 1e6;
  double gen_cpu = g->cpu1 - g->cpu0;
  double srv_cpu = g->srv0 >= 0 && g->srv1 >= g->srv0
                       ? (double)(g->srv1 - g->srv0) /
                             (double)sysconf(_SC_CLK_TCK)
                       : -1;
  int ok = g->opened == o->ws && !g->wrong_http && g->msgs > 0 &&
           !g->verify_errors && !g->conn_errors && !g->unanswered;
  if (ok)
    g->err[0] = 0;
  else if (!g->err[0])
    snprintf(g->err, sizeof g->err, "%s",
             g->unanswered ? "echoes unanswered at the end"
                           : "no echo was measured");
  const char *http = o->http2 ? "h2" : "http/1.1";
  if (o->json) {
    printf("{\"url\":");
    json_str(o->url);
    printf(",\"http\":\"%s\",\"ws\":%u,\"streams\":%u,\"opened\":%u,"
           "\"tcp_connections\":%u,\"inflight\":%u,\"size\":%zu,"
           "\"binary\":%s,\"seconds\":%.3f,\"messages\":%" PRIu64
           ",\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"latency_us\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
           ",\"max\":%" PRIu64 "},\"generator_cpu_s\":%.3f,"
           "\"generator_cpu\":%.3f",
           http, o->ws, o->http2 ? o->streams : 1, g->opened, g->tcp_conns,
           o->inflight, o->size, o->binary ? "true" : "false", secs, g->msgs,
           rate, mb, quantile(g, 0.5), quantile(g, 0.99), g->lat_max_us,
           gen_cpu, secs > 0 ? gen_cpu / secs : 0);
    if (srv_cpu >= 0)
      printf(",\"server_cpu_s\":%.3f,\"server_cpu\":%.3f", srv_cpu,
             secs > 0 ? srv_cpu / secs : 0);
    printf(",\"tls\":");
    if (g->have_tls) {
      printf("{\"version\":");
      json_str(g->tls_version);
      printf(",\"cipher\":");
      json_str(g->tls_cipher);
      printf(",\"alpn\":");
      json_str(g->tls_alpn);
      printf("}");
    } else {
      printf("null");
    }
    printf(",\"wrong_http\":%u,\"verify_errors\":%" PRIu64
           ",\"conn_errors\":%" PRIu64 ",\"unanswered\":%" PRIu64
           ",\"error\":",
           g->wrong_http, g->verify_errors, g->conn_errors, g->unanswered);
    json_str(g->err);
    printf("}\n");
  } else {
    printf("%s over %s: %u WebSockets on %u TCP connection(s), %u in flight"
           " each, %zu B %s\n",
           o->url, o->http2 ? "HTTP/2" : "HTTP/1.1", g->opened, g->tcp_conns,
           o->inflight, o->size, o->binary ? "binary" : "text");
    printf("  %.3f s: %" PRIu64 " messages, %.0f msg/s, %.1f MB/s,"
           " latency p50 %" PRIu64 " us, p99 %" PRIu64 " us\n",
           secs, g->msgs, rate, mb, quantile(g, 0.5), quantile(g, 0.99));
    printf("  CPU: h2_load %.0f %%", secs > 0 ? 100 * gen_cpu / secs : 0);
    if (srv_cpu >= 0)
      printf(", server %.0f %%", secs > 0 ? 100 * srv_cpu / secs : 0);
    if (g->have_tls)
      printf("; %s %s ALPN %s", g->tls_version, g->tls_cipher,
             g->tls_alpn[0] ? g->tls_alpn : "-");
    printf("\n");
    printf("  verification errors %" PRIu64 ", connection errors %" PRIu64
           ", unanswered %" PRIu64 "%s%s\n",
           g->verify_errors, g->conn_errors, g->unanswered,
           g->err[0] ? "; " : "", g->err);
  }
  fflush(stdout);
  return ok ? 0 : 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: h2_load URL [--http 1|2] [--ws N] [--streams K] "
          "[--inflight D]\n"
          "               [--size S] [--binary] [--duration SEC] "
          "[--warmup SEC]\n"
          "               [--setup SEC] [--min-messages N] [--pid PID] "
          "[--json] [-q]\n");
}

/* "32", "1K", "1M": bytes; 0 when malformed. */
static size_t parse_size(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return 0;
  if (*end == 'K' || *end == 'k')
    v <<= 10, end++;
  else if (*end == 'M' || *end == 'm')
    v <<= 20, end++;
  return *end || v > ((size_t)1 << 30) ? 0 : (size_t)v;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return -1;
  *out = (unsigned)v;
  return 0;
}

static int parse_secs(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= 0) || v > 86400)
    return -1;
  *out = v;
  return 0;
}

/* The options that take a value, each between blanks. */
#define H2L_VALUED                                                             \
  " --http --ws --streams --inflight --size --duration --warmup --setup "     \
  "--min-messages --pid "

/* 1 when `a` is one of H2L_VALUED, as a whole word. */
static int valued(const char *a) {
  char word[32];
  int n = snprintf(word, sizeof word, " %s ", a);
  return n > 0 && (size_t)n < sizeof word && !strchr(a, ' ') &&
         strstr(H2L_VALUED, word) != NULL;
}

static int parse_args(int argc, char **argv, struct h2l_opts *o) {
  memset(o, 0, sizeof *o);
  o->ws = 100;
  o->streams = 1;
  o->inflight = 8;
  o->size = 32;
  o->duration = 5;
  o->warmup = 1;
  o->setup = 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned u;
    int bad = 0, takes = 1;
    if (!strcmp(a, "--binary")) {
      o->binary = 1, takes = 0;
    } else if (!strcmp(a, "--json")) {
      o->json = 1, takes = 0;
    } else if (!strcmp(a, "-q")) {
      o->quiet = 1, takes = 0;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage();
      exit(0);
    } else if (a[0] != '-') {
      if (o->url) {
        fprintf(stderr, "h2_load: one URL only: %s\n", a);
        return -1;
      }
      o->url = a, takes = 0;
    } else if (!valued(a)) {
      fprintf(stderr, "h2_load: unknown argument %s\n", a);
      return -1;
    } else if (!v) {
      fprintf(stderr, "h2_load: %s wants a value\n", a);
      return -1;
    } else if (!strcmp(a, "--http")) {
      bad = strcmp(v, "1") && strcmp(v, "2");
      o->http2 = !strcmp(v, "2");
    } else if (!strcmp(a, "--ws")) {
      bad = parse_uint(v, 1, 100000, &o->ws);
    } else if (!strcmp(a, "--streams")) {
      bad = parse_uint(v, 1, 128, &o->streams);
    } else if (!strcmp(a, "--inflight")) {
      bad = parse_uint(v, 1, 4096, &o->inflight);
    } else if (!strcmp(a, "--size")) {
      o->size = parse_size(v);
      bad = o->size < H2L_HEAD;
    } else if (!strcmp(a, "--duration")) {
      bad = parse_secs(v, &o->duration) || o->duration <= 0;
    } else if (!strcmp(a, "--warmup")) {
      bad = parse_secs(v, &o->warmup);
    } else if (!strcmp(a, "--setup")) {
      bad = parse_secs(v, &o->setup) || o->setup < 0.1;
    } else if (!strcmp(a, "--min-messages")) {
      bad = parse_uint(v, 0, 1000000000, &o->min_messages);
    } else if (!strcmp(a, "--pid")) {
      bad = parse_uint(v, 1, 0x7fffffff, &u);
      o->pid = (long)u;
    }
    if (bad) {
      fprintf(stderr, "h2_load: bad value for %s: %s%s\n", a, v,
              !strcmp(a, "--size") ? " (at least 24 bytes, at most 1G)" : "");
      return -1;
    }
    i += takes;
  }
  if (!o->url) {
    fprintf(stderr, "h2_load: no URL\n");
    return -1;
  }
  if (!o->http2 && o->streams > 1) {
    fprintf(stderr, "h2_load: --streams wants --http 2\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct h2l g;
  memset(&g, 0, sizeof g);
  if (parse_args(argc, argv, &g.o) != 0) {
    usage();
    return 2;
  }
  size_t plen = g.o.size - H2L_HEAD + H2L_SPAN;
  g.pattern = malloc(plen);
  g.scratch = malloc(g.o.size);
  g.peers = calloc(g.o.ws, sizeof *g.peers);
  g.hist = calloc(H2L_HIST + 1, sizeof *g.hist);
  if (!g.pattern || !g.scratch || !g.peers || !g.hist) {
    fprintf(stderr, "h2_load: out of memory\n");
    return 1;
  }
  /* A fixed pseudo-random pattern: printable ASCII for text. */
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < plen; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    g.pattern[i] = g.o.binary ? (unsigned char)x
                              : (unsigned char)(' ' + x % 95);
  }
  g.srv0 = g.srv1 = -1;
  if (wsv_random_os(NULL, (uint8_t *)&g.rng, sizeof g.rng) != 0 || !g.rng)
    g.rng = 0x9e3779b97f4a7c15ull;
  int rc = wsv_loop_new(&g.loop);
  if (rc == 0)
    rc = wsv_timer_new(g.loop, &g.phase_timer, on_phase_timer, &g);
  if (rc == 0)
    rc = wsv_timer_new(g.loop, &g.progress_timer, on_progress, &g);
  if (rc != 0) {
    fprintf(stderr, "h2_load: %s\n", wsv_strerror(rc));
    return 1;
  }
  for (unsigned i = 0; i < g.o.ws; i++) {
    struct h2l_peer *p = &g.peers[i];
    p->g = &g;
    p->idx = i;
    p->sent_ns = calloc(g.o.inflight, sizeof *p->sent_ns);
    if (!p->sent_ns) {
      fprintf(stderr, "h2_load: out of memory\n");
      return 1;
    }
  }
  wsv_timer_start(g.phase_timer, (uint64_t)(g.o.setup * 1000 + 0.5), 0);
  unsigned step = g.o.http2 ? g.o.streams : 1;
  for (unsigned i = 0; i < g.o.ws; i += step)
    if (connect_peer(&g, &g.peers[i], NULL) != 0) {
      fprintf(stderr, "h2_load: %s\n", g.err);
      return 1;
    }
  wsv_loop_run(g.loop);
  int status = report(&g);
  g.phase = H2L_DONE; /* the callbacks wsv_loop_free runs do nothing */
  wsv_timer_free(g.phase_timer);
  wsv_timer_free(g.progress_timer);
  wsv_loop_free(g.loop); /* drops what is left (their close or fail runs) */
  for (unsigned i = 0; i < g.o.ws; i++)
    free(g.peers[i].sent_ns);
  free(g.peers);
  free(g.pattern);
  free(g.scratch);
  free(g.hist);
  return status;
}
