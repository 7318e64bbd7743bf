/* bench.h - the parts of `wsv bench` shared by its source files: the
 * options, the per-thread state, the load engine (bench_run.c and
 * bench_conn.c) that the command (bench.c) starts on each thread, and the
 * figures and summary (bench_report.c). */
#ifndef WSV_BENCH_H
#define WSV_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What to measure. */
enum bench_mode {
  BENCH_ECHO = 1,
  BENCH_CONNECT = 2,
  BENCH_IDLE = 3,
  BENCH_FANOUT = 4
};

/* fanout: at most this many URLs (servers) to spread subscribers over. */
#define BENCH_TARGETS_MAX 16

/* One server of fanout: the parts of its ws:// URL. */
struct bench_target {
  char host[256]; /* numeric address */
  uint16_t port;
  char path[512];
};

/* Latency histogram: log-linear buckets (32 per power of two, so every
 * bucket is within about 3% of its values), in nanoseconds.  Recording
 * is an index computation and an increment; percentiles walk the counts.
 */
#define BENCH_HIST_SUB_BITS 5u
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS ((64u - BENCH_HIST_SUB_BITS + 1u) * BENCH_HIST_SUB)

struct bench_hist {
  uint64_t count;
  uint64_t max;
  uint64_t n[BENCH_HIST_BUCKETS];
};

/* bench_report.c */
void bench_hist_add(struct bench_hist *h, uint64_t v);
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h);
/* The value at quantile q (0..1): the middle of its bucket; 0 if empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* The command line, parsed. */
struct bench_opts {
  int mode;
  int raw; /* echo over plain TCP (a raw echo server), no WebSocket */
  int tls; /* wss:// (echo, connect) */
  const char *cacert; /* wss://: trust the CAs in this PEM file */
  int insecure;       /* wss://: accept any certificate */
  char host[256];     /* numeric address */
  uint16_t port;
  char path[512];
  uint64_t conns;    /* echo: connections; connect: cycles in flight;
                        idle: connections to hold */
  uint64_t inflight; /* echo: messages in flight per connection; idle:
                        handshakes in flight */
  uint64_t size;     /* echo: payload bytes per message */
  int binary;        /* echo: binary messages instead of text */
  double duration;   /* seconds of measurement (echo, connect) */
  double warmup;     /* seconds before measuring starts */
  uint64_t messages; /* echo: stop after this many (0: use duration) */
  double hold;       /* idle: seconds to hold after measuring */
  long pid;          /* idle: the server's process (0: unknown) */
  unsigned sources;  /* idle: source addresses 127.0.0.1.. (0: auto) */
  int threads;       /* generator threads */
  double rate;       /* fanout: publishes per second (0: --inflight) */
  unsigned ntargets; /* fanout: the URLs given (target[0] is host/port) */
  struct bench_target target[BENCH_TARGETS_MAX];
  int json;  /* print the summary as JSON */
  int quiet; /* no progress line */
};

struct bench;

/* One generator thread. */
struct bench_thread {
  struct bench *b;
  int id;
  pthread_t tid;
  uint64_t nconns;   /* connections this thread runs (or holds) */
  uint64_t messages; /* echo: this thread's share of --messages (0: none) */
  uint64_t rng;      /* xorshift state for keys and masks */
  /* Results, read by the main thread after the join. */
  uint64_t msgs;   /* echoes verified inside the measured window */
  uint64_t hs;     /* connect: cycles completed in the window */
  uint64_t opened; /* connections that reached OPEN */
  uint64_t verify_errors;
  uint64_t conn_errors;
  uint64_t unanswered;   /* messages still in flight when we gave up;
                            fanout: deliveries missing at the end */
  uint64_t losses;       /* fanout: sequence numbers skipped (after the
                            first message a connection received) */
  uint64_t pubs;         /* fanout: messages published in the window */
  uint64_t self_msgs;    /* fanout: the publisher's own copies verified */
  uint64_t cpu_ns;       /* fanout: this thread's CPU time in the window */
  uint64_t t_stop;       /* when this thread stopped counting (ns) */
  struct bench_hist lat; /* echo: round trip; connect: connect to 101 */
  char err[256];         /* the first error, one line */
  /* Progress, read by the main thread while running (relaxed). */
  _Atomic uint64_t prog;
  _Atomic int ready; /* idle: every connection opened or failed */
  /* fanout: every subscriber of this thread has passed the sequence
   * numbers below this (UINT64_MAX: the thread has none). */
  _Atomic uint64_t fan_done;
};

/* fanout: the state the threads share.  The publisher (thread 0) stores
 * the send time of message seq in stamps[seq & mask] before it raises
 * `published` (release); a subscriber that reads `published` (acquire)
 * past seq finds the time there.  The publisher keeps at most mask + 1
 * messages ahead of the slowest subscriber (the threads' fan_done), so no
 * stamp is overwritten while a subscriber may still need it. */
#define BENCH_FAN_RING 65536u
#define BENCH_FAN_JOIN_S 5u   /* most seconds for every subscriber to hear */
#define BENCH_FAN_JOIN_MS 10u /* a joining message every 10 ms meanwhile */
enum { FAN_JOINING = 0, FAN_JOINED, FAN_SILENT };
struct bench_fan {
  uint64_t t_base;            /* stamps are ns since this (CLOCK_MONOTONIC) */
  _Atomic uint64_t *stamps;   /* BENCH_FAN_RING entries */
  _Atomic uint64_t published; /* messages published so far */
  _Atomic int pub_stopped;    /* `published` is final */
  _Atomic uint64_t subs_open; /* subscribers open after the setup */
  _Atomic uint64_t joined;    /* ...that have received a message */
  _Atomic uint64_t gone;      /* ...that failed after the setup */
  _Atomic uint64_t subs_left; /* ...not finished yet */
  _Atomic int phase;          /* FAN_JOINING, FAN_JOINED or FAN_SILENT */
  _Atomic uint64_t silent;    /* FAN_SILENT: subscribers that heard
                                 nothing */
  _Atomic int pub_waiting;    /* the publisher waits for fan_done */
  int wake_fd;                /* eventfd in thread 0's loop (or -1) */
};

/* The whole run, shared by the threads. */
struct bench {
  struct bench_opts opt;
  struct sockaddr_storage addr; /* the server (fanout: target[i] is
                                   taddr[i]; taddr[0] is addr) */
  socklen_t addrlen;
  struct sockaddr_storage taddr[BENCH_TARGETS_MAX];
  socklen_t taddrlen[BENCH_TARGETS_MAX];
  struct bench_fan fan;
  uint8_t *pattern; /* the message filler, size + BENCH_PATTERN_SPAN */
  pthread_barrier_t barrier;
  uint64_t t_begin;      /* load starts (ns, CLOCK_MONOTONIC) */
  uint64_t t_measure;    /* counting starts (after the warm-up) */
  uint64_t t_end;        /* counting ends (duration mode) */
  _Atomic int release;   /* idle: close the connections now */
  _Atomic int abort_all; /* a signal: stop everything now */
  struct bench_thread *th;
};

/* Distinct message offsets into the pattern (a prime, so that offsets of
 * nearby sequence numbers differ). */
#define BENCH_PATTERN_SPAN 251u

/* bench_now_ns - CLOCK_MONOTONIC in nanoseconds (bench_run.c). */
uint64_t bench_now_ns(void);

/* bench_thread_main - the engine (bench_run.c): pthread entry point, arg
 * a struct bench_thread.  Runs the thread's part of the mode and fills its
 * results. */
void *bench_thread_main(void *arg);

/* ---- bench_report.c: the figures and the summary ------------------------- */

/* The threads' results summed up, and the memory figures of idle. */
struct bench_result {
  double window; /* seconds measured */
  uint64_t msgs, hs, opened, verify_errors, conn_errors, unanswered;
  uint64_t losses, pubs, self_msgs; /* fanout */
  uint64_t subs_open, silent;       /* fanout: subscribers open, and those
                                       that never received a message */
  double gen_cpu; /* fanout: the generator threads' CPU time over the
                     window (1.0: one core busy all the time) */
  struct bench_hist lat;
  long long rss_before, rss_after, self_before, self_after;
  char err[256];
};

/* bench_rss - the resident memory (VmRSS) of process `pid` (0: this
 * one) in bytes, or -1. */
long long bench_rss(long pid);

/* bench_collect - add up the results of b's threads (after the join). */
void bench_collect(struct bench *b, struct bench_result *r);

/* bench_report - print the summary on stdout: text, or JSON (--json). */
void bench_report(const struct bench *b, const struct bench_result *r);

#endif
