/*
 * bench.c - `wsv bench`: a WebSocket load generator that verifies every
 * echo.  Three measurements:
 *   echo     N connections x D messages in flight x S bytes: messages/s,
 *            MB/s and round-trip latency percentiles;
 *   connect  full open -> handshake -> close cycles, C in flight:
 *            handshakes/s;
 *   idle     open N connections and hold them: the server's resident
 *            memory per connection (given its PID);
 *   fanout   1 publisher and N subscribers on chat servers: deliveries/s
 *            and publish-to-delivery latency (bench_fanout.c).
 * This file owns the command: the options and the URL, the server's
 * address, the threads, and the clock with its progress line.  The load
 * engine is bench_run.c (a thread) and bench_conn.c (a connection); the
 * figures and the summary are bench_report.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"

#include "bench.h"
#include "cli.h"
#include "wsv_tool.h"

static const char bench_usage[] =
    "usage: wsv bench echo    [options] [URL]\n"
    "       wsv bench connect [options] [URL]\n"
    "       wsv bench idle    [options] [--pid PID] [URL]\n"
    "       wsv bench fanout  [options] URL [URL...]\n"
    "\n"
    "Load a WebSocket server over loopback or a LAN, verifying every byte.\n"
    "URL is ws://HOST:PORT/PATH (default ws://127.0.0.1:8080/), or\n"
    "tcp://HOST:PORT for echo against a plain TCP echo server (the same\n"
    "messages without WebSocket framing, for a baseline).  HOST must be a\n"
    "numeric IPv4 or IPv6 address.  echo and connect also take\n"
    "wss://HOST:PORT/PATH (TLS 1.2 or later, a full handshake per\n"
    "connection).\n"
    "\n"
    "  echo     --conns N connections each keep --inflight D messages of\n"
    "           --size S bytes in flight (masked, as a client must); every\n"
    "           echo is checked byte for byte.  Reports messages/s, MB/s\n"
    "           (payload, 10^6 bytes, one direction) and the round-trip\n"
    "           latency p50/p99/p99.9.\n"
    "  connect  --conns C cycles in flight, each a new TCP connection,\n"
    "           the opening handshake, a Close 1000 and the server's TCP\n"
    "           close.  Reports handshakes/s and connect-to-101 latency.\n"
    "  idle     open --conns N connections (--inflight handshakes at a\n"
    "           time) and hold them; with --pid, reports the server's\n"
    "           resident memory (VmRSS) per connection beyond its\n"
    "           baseline.\n"
    "  fanout   one publisher (to the first URL) and --subs N subscribers\n"
    "           spread round-robin over the URLs, each a chat server on the\n"
    "           same path (wsv serve --chat, alone or with --broker).  Each\n"
    "           message carries its sequence number and send time; every\n"
    "           subscriber checks every message byte for byte and in order\n"
    "           (a skipped number is a lost message).  The publisher keeps\n"
    "           at most --inflight K messages past the slowest subscriber,\n"
    "           or publishes --rate R per second.  Reports deliveries/s\n"
    "           (messages received by all subscribers together), publishes/s,\n"
    "           losses, and publish-to-delivery latency p50/p99/p99.9.  It\n"
    "           first publishes every 10 ms until every subscriber has\n"
    "           received one (a broker subscribes asynchronously); none in\n"
    "           5 s fails the run (not a chat).\n"
    "\n"
    "  --conns N          connections (echo 100, connect 64, idle 1000)\n"
    "  --subs N           fanout: subscribers (1000)\n"
    "  --inflight D       echo: messages in flight per connection (8);\n"
    "                     idle: handshakes in flight (256); fanout:\n"
    "                     messages published and not yet received by\n"
    "                     every subscriber (8)\n"
    "  --rate R           fanout: publish R messages/s instead\n"
    "  --size S           echo, fanout: bytes per message (32; K, M\n"
    "                     suffixes; fanout at least 16)\n"
    "  --binary           echo, fanout: binary messages (default text)\n"
    "  --duration S       seconds to measure (10; decimals allowed)\n"
    "  --warmup S         seconds of load before measuring (0)\n"
    "  --messages N       echo: stop after N verified echoes instead\n"
    "  --threads T        generator threads, each with its own epoll\n"
    "                     loop and a share of the connections (1)\n"
    "  --pid PID          idle: the server process to measure\n"
    "  --hold S           idle: seconds to hold after measuring (0)\n"
    "  --sources K        idle: connect from 127.0.0.1..127.0.0.K (default:\n"
    "                     one per 25,000 connections)\n"
    "  --cacert FILE      wss://: trust the CAs in FILE (PEM) instead of\n"
    "                     the system's\n"
    "  -k, --insecure     wss://: accept any certificate\n"
    "  --host H, --port P instead of a URL\n"
    "  --json             print the summary as one JSON object\n"
    "  -q, --quiet        no progress line on standard error\n"
    "\n"
    "Exit status: 0 when every echo matched and no connection failed\n"
    "(fanout: and no message was lost, every subscriber heard); 1\n"
    "otherwise (or when nothing was measured); 2 on a usage error.\n";

static volatile sig_atomic_t bench_signalled;

static void bench_on_signal(int signo) {
  (void)signo;
  bench_signalled = 1;
}

/* Parse "ws://host[:port][/path][?query]", "wss://..." (echo and connect)
 * or "tcp://host:port" (read as
 * the ws:// URL it would be) with wsv_url_parse into o's host, port and
 * path.  Returns 0, or -1 with *why the reason (NULL when there is none
 * to add: another scheme, or tcp:// without a port). */
static int bench_parse_url(const char *url, struct bench_opts *o,
                           const char **why) {
  char as_ws[1024];
  const char *s = url;
  int raw = strncasecmp(url, "tcp://", 6) == 0;
  *why = NULL;
  if (!raw && strncasecmp(url, "ws://", 5) != 0 &&
      strncasecmp(url, "wss://", 6) != 0)
    return -1; /* the message names the schemes */
  if (raw) {
    int n = snprintf(as_ws, sizeof as_ws, "ws://%s", url + 6);
    if (n < 0 || (size_t)n >= sizeof as_ws)
      return -1;
    s = as_ws;
  }
  struct wsv_url u;
  if (wsv_url_parse(&u, s, strlen(s), 0, why) != WSV_OK)
    return -1;
  if ((raw && !u.port_given) || u.host.len >= sizeof o->host ||
      wsv_url_target(&u, o->path, sizeof o->path) >= sizeof o->path)
    return -1;
  memcpy(o->host, u.host.ptr, u.host.len);
  o->host[u.host.len] = '\0';
  o->port = u.port;
  o->raw = raw;
  o->tls = u.secure;
  return 0;
}

static int bench_seconds(const char *v, double max, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno != 0 || end == v || *end != '\0' || !(d >= 0) || d > max)
    return -1;
  *out = d;
  return 0;
}

/* Parse the command line.  Returns -1 to go on, or an exit status. */
static int bench_parse(int argc, char **argv, struct bench_opts *o) {
  if (argc < 2)
    return wsv_cli_usage_error(
        "bench", "which measurement: echo, connect, idle or fanout?");
  const char *m = argv[1];
  if (strcmp(m, "--help") == 0 || strcmp(m, "-h") == 0) {
    fputs(bench_usage, stdout);
    return 0;
  }
  if (strcmp(m, "echo") == 0)
    o->mode = BENCH_ECHO;
  else if (strcmp(m, "connect") == 0)
    o->mode = BENCH_CONNECT;
  else if (strcmp(m, "idle") == 0)
    o->mode = BENCH_IDLE;
  else if (strcmp(m, "fanout") == 0)
    o->mode = BENCH_FANOUT;
  else
    return wsv_cli_usage_error("bench", "unknown measurement '%s'", m);
  strcpy(o->host, "127.0.0.1");
  strcpy(o->path, "/");
  o->port = 8080;
  o->size = 32;
  o->duration = 10;
  o->threads = 1;
  uint64_t conns = 0, inflight = 0;
  int raw_flag = 0, size_given = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = NULL, *why = NULL;
    uint64_t n;
    int r;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(bench_usage, stdout);
      return 0;
    } else if (strcmp(a, "--binary") == 0) {
      o->binary = 1;
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "--raw") == 0) {
      raw_flag = 1;
    } else if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0) {
      o->insecure = 1;
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--cacert", &v)) != 0) {
      if (r < 0 || v[0] == '\0')
        return wsv_cli_usage_error("bench", "--cacert needs a PEM file");
      o->cacert = v;
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--conns", &v)) != 0 ||
               (r = wsv_cli_opt(argc, argv, &i, "--subs", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, 10000000, &conns) != 0)
        return wsv_cli_usage_error("bench", "%s needs a number from 1", a);
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--rate", &v)) != 0) {
      if (r < 0 || bench_seconds(v, 1e9, &o->rate) != 0 || o->rate <= 0)
        return wsv_cli_usage_error("bench", "--rate needs messages per second");
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--inflight", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, 65536, &inflight) != 0)
        return wsv_cli_usage_error("bench",
                                   "--inflight needs a number, 1 to 65536");
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--size", &v)) != 0) {
      if (r < 0 || wsv_cli_size(v, 1, UINT64_C(1) << 30, &o->size) != 0)
        return wsv_cli_usage_error("bench",
                                   "--size needs a size, 1 byte to 1G");
      size_given = 1;
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--duration", &v)) != 0) {
      if (r < 0 || bench_seconds(v, 86400, &o->duration) != 0 ||
          o->duration <= 0)
        return wsv_cli_usage_error("bench",
                                   "--duration needs seconds, e.g. 10 or 0.5");
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--warmup", &v)) != 0) {
      if (r < 0 || bench_seconds(v, 86400, &o->warmup) != 0)
        return wsv_cli_usage_error("bench", "--warmup needs seconds");
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--hold", &v)) != 0) {
      if (r < 0 || bench_seconds(v, 86400, &o->hold) != 0)
        return wsv_cli_usage_error("bench", "--hold needs seconds");
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--messages", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, UINT64_MAX / 2, &o->messages) != 0)
        return wsv_cli_usage_error("bench", "--messages needs a number from 1");
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, 64, &n) != 0)
        return wsv_cli_usage_error("bench",
                                   "--threads needs a number, 1 to 64");
      o->threads = (int)n;
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--pid", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, 0x7fffffff, &n) != 0)
        return wsv_cli_usage_error("bench", "--pid needs a process id");
      o->pid = (long)n;
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--sources", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, 254, &n) != 0)
        return wsv_cli_usage_error("bench",
                                   "--sources needs a number, 1 to 254");
      o->sources = (unsigned)n;
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--host", &v)) != 0) {
      if (r < 0 || strlen(v) >= sizeof o->host)
        return wsv_cli_usage_error("bench", "--host needs an address");
      strcpy(o->host, v);
    } else if ((r = wsv_cli_opt(argc, argv, &i, "--port", &v)) != 0) {
      if (r < 0 || wsv_cli_uint(v, 1, 65535, &n) != 0)
        return wsv_cli_usage_error("bench", "--port needs a port, 1 to 65535");
      o->port = (uint16_t)n;
    } else if (a[0] == '-' && a[1] != '\0') {
      return wsv_cli_usage_error("bench", "unknown option '%s'", a);
    } else if (bench_parse_url(a, o, &why) != 0) {
      return wsv_cli_usage_error("bench",
                                 "'%s' is not a ws://HOST:PORT/, "
                                 "wss://HOST:PORT/ or tcp://HOST:PORT "
                                 "URL%s%s",
                                 a, why != NULL ? ": " : "",
                                 why != NULL ? why : "");
    } else if (o->mode == BENCH_FANOUT) {
      if (o->raw)
        return wsv_cli_usage_error("bench", "fanout needs ws:// URLs");
      if (o->ntargets == BENCH_TARGETS_MAX)
        return wsv_cli_usage_error("bench", "fanout takes at most %u URLs",
                                   BENCH_TARGETS_MAX);
      struct bench_target *tg = &o->target[o->ntargets++];
      memcpy(tg->host, o->host, sizeof tg->host);
      tg->port = o->port;
      memcpy(tg->path, o->path, sizeof tg->path);
    }
  }
  if (o->ntargets == 0) { /* one server: the URL, or --host and --port */
    memcpy(o->target[0].host, o->host, sizeof o->host);
    o->target[0].port = o->port;
    memcpy(o->target[0].path, o->path, sizeof o->path);
    o->ntargets = 1;
  } else { /* fanout: the first URL is the publisher's */
    memcpy(o->host, o->target[0].host, sizeof o->host);
    o->port = o->target[0].port;
    memcpy(o->path, o->target[0].path, sizeof o->path);
  }
  if (o->mode == BENCH_FANOUT && !size_given)
    o->size = 32;
  if (o->mode == BENCH_FANOUT && o->size < 16)
    return wsv_cli_usage_error("bench", "fanout needs --size 16 or more");
  if (o->mode != BENCH_FANOUT && o->rate > 0)
    return wsv_cli_usage_error("bench", "--rate is for fanout");
  if (raw_flag)
    o->raw = 1;
  if (o->raw && o->mode != BENCH_ECHO)
    return wsv_cli_usage_error("bench",
                               "tcp:// (raw TCP) works with echo only");
  if (o->raw && o->binary)
    o->binary = 0;
  if (o->raw)
    o->tls = 0;
  if (o->tls && o->mode != BENCH_ECHO && o->mode != BENCH_CONNECT)
    return wsv_cli_usage_error("bench", "wss:// works with echo and connect");
  if ((o->cacert != NULL || o->insecure) && !o->tls)
    return wsv_cli_usage_error("bench", "--cacert and -k are for wss://");
  if (o->cacert != NULL && o->insecure)
    return wsv_cli_usage_error("bench",
                               "--cacert and --insecure exclude each other");
  o->conns = conns != 0                 ? conns
             : o->mode == BENCH_ECHO    ? 100
             : o->mode == BENCH_CONNECT ? 64
                                        : 1000; /* idle, fanout */
  o->inflight = inflight != 0 ? inflight : o->mode == BENCH_IDLE ? 256 : 8;
  if (o->mode == BENCH_ECHO && o->raw && o->inflight > 512)
    return wsv_cli_usage_error("bench",
                               "tcp:// allows at most 512 messages in flight");
  if (o->mode == BENCH_ECHO && o->size * o->inflight > (UINT64_C(1) << 32))
    return wsv_cli_usage_error("bench", "--size x --inflight is over 4 GiB");
  if ((uint64_t)o->threads > o->conns)
    o->threads = (int)o->conns;
  if (o->mode == BENCH_IDLE && o->sources == 0)
    o->sources = (unsigned)((o->conns + 24999) / 25000);
  return -1;
}

/* The address of host:port.  Returns 0, or -1 when host is not numeric. */
static int bench_addr(const char *host, uint16_t port,
                      struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof *a6;
  } else {
    return -1;
  }
  return 0;
}

/* The servers' addresses from the options.  Returns 0, or the index + 1
 * of a target whose host is not numeric. */
static int bench_resolve(struct bench *b) {
  struct bench_opts *o = &b->opt;
  if (bench_addr(o->host, o->port, &b->addr, &b->addrlen) != 0)
    return 1;
  for (unsigned i = 0; i < o->ntargets; i++)
    if (bench_addr(o->target[i].host, o->target[i].port, &b->taddr[i],
                   &b->taddrlen[i]) != 0)
      return (int)i + 1;
  const struct sockaddr_in *a4 = (const struct sockaddr_in *)&b->addr;
  if (b->addr.ss_family == AF_INET6 ||
      (b->addr.ss_family == AF_INET &&
       (ntohl(a4->sin_addr.s_addr) >> 24) != 127))
    o->sources = 1; /* extra source addresses only on IPv4 loopback */
  return 0;
}

/* Printable filler: a non-periodic sequence over a 64-letter alphabet,
 * valid UTF-8 (ASCII) for text messages. */
static uint8_t *bench_pattern(size_t size) {
  static const char alpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t n = size + BENCH_PATTERN_SPAN;
  uint8_t *p = malloc(n);
  if (p == NULL)
    return NULL;
  uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (uint8_t)alpha[(x >> 20) & 63u];
  }
  return p;
}

/* Raise the soft descriptor limit to what the connections need (at most
 * the hard limit).  Returns 0, or -1 with a message. */
static int bench_fd_limit(const struct bench_opts *o) {
  uint64_t need = o->conns + 64;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur >= need)
    return 0;
  rlim_t want = need < rl.rlim_max ? (rlim_t)need : rl.rlim_max;
  rl.rlim_cur = want;
  (void)setrlimit(RLIMIT_NOFILE, &rl);
  if (want < need) {
    fprintf(stderr,
            "wsv bench: %llu connections need %llu descriptors; the limit "
            "is %llu (raise the hard limit: ulimit -Hn)\n",
            (unsigned long long)o->conns, (unsigned long long)need,
            (unsigned long long)rl.rlim_max);
    return -1;
  }
  return 0;
}

static uint64_t bench_progress(const struct bench *b) {
  uint64_t sum = 0;
  for (int i = 0; i < b->opt.threads; i++)
    sum += atomic_load_explicit(&b->th[i].prog, memory_order_relaxed);
  return sum;
}

/* The progress line, once a second on stderr. */
static void bench_print_progress(const struct bench *b, double secs,
                                 uint64_t total, uint64_t delta, int tty) {
  const char *unit = b->opt.mode == BENCH_ECHO      ? "msg/s"
                     : b->opt.mode == BENCH_CONNECT ? "handshakes/s"
                     : b->opt.mode == BENCH_FANOUT  ? "deliveries/s"
                                                    : "open";
  if (b->opt.mode == BENCH_IDLE)
    fprintf(stderr, "%s%6.1f s  %llu connections open%s", tty ? "\r" : "", secs,
            (unsigned long long)total, tty ? "  " : "\n");
  else
    fprintf(stderr, "%s%6.1f s  %12llu %s  (%llu so far)%s", tty ? "\r" : "",
            secs, (unsigned long long)delta, unit, (unsigned long long)total,
            tty ? "  " : "\n");
}

/* Run the measured phase's clock on the main thread: set the times, then
 * print progress until the threads are done. */
static void bench_clock(struct bench *b, uint64_t start) {
  int tty = isatty(STDERR_FILENO) && !b->opt.quiet;
  uint64_t last = 0, next = start + 1000000000u;
  for (;;) {
    int done = 1;
    for (int i = 0; i < b->opt.threads && done; i++)
      if (!atomic_load(&b->th[i].ready))
        done = 0;
    if (done)
      break;
    if (bench_signalled)
      atomic_store(&b->abort_all, 1);
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    uint64_t now = bench_now_ns();
    if (now >= next) {
      uint64_t cur = bench_progress(b);
      if (!b->opt.quiet)
        bench_print_progress(b, (double)(now - start) / 1e9, cur, cur - last,
                             tty);
      last = cur;
      next += 1000000000u;
    }
  }
  if (tty)
    fputc('\n', stderr);
}

static void *bench_thread_entry(void *arg) {
  struct bench_thread *t = arg;
  bench_thread_main(t);
  atomic_store(&t->ready, 1);
  return NULL;
}

/* The idle measurement's middle: wait until every connection is open,
 * read the memory, hold, release. */
static void bench_idle_wait(struct bench *b, uint64_t start) {
  int tty = isatty(STDERR_FILENO) && !b->opt.quiet;
  uint64_t next = start + 1000000000u;
  for (;;) {
    int done = 1;
    for (int i = 0; i < b->opt.threads && done; i++)
      if (!atomic_load(&b->th[i].ready))
        done = 0;
    if (done || bench_signalled)
      break;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    uint64_t now = bench_now_ns();
    if (now >= next && !b->opt.quiet) {
      bench_print_progress(b, (double)(now - start) / 1e9, bench_progress(b), 0,
                           tty);
      next += 1000000000u;
    }
  }
  if (tty)
    fputc('\n', stderr);
}

static int bench_start_threads(struct bench *b) {
  struct bench_opts *o = &b->opt;
  uint64_t seed[64];
  if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
    seed[0] = bench_now_ns();
  for (int i = 0; i < o->threads; i++) {
    struct bench_thread *t = &b->th[i];
    t->b = b;
    t->id = i;
    t->rng = seed[i % 64] ^ (uint64_t)i;
    t->nconns = o->conns / (uint64_t)o->threads +
                ((uint64_t)i < o->conns % (uint64_t)o->threads ? 1u : 0u);
    if (o->mode == BENCH_FANOUT && i == 0)
      t->nconns++; /* the publisher */
    atomic_init(&t->fan_done, UINT64_MAX);
    if (o->messages != 0)
      t->messages = o->messages * t->nconns / o->conns;
    if (o->messages != 0 && t->messages == 0)
      t->messages = 1;
    atomic_init(&t->prog, 0);
    atomic_init(&t->ready, 0);
    if (pthread_create(&t->tid, NULL, bench_thread_entry, t) != 0) {
      fprintf(stderr, "wsv bench: cannot create a thread\n");
      atomic_store(&b->abort_all, 1);
      for (int j = 0; j < i; j++)
        pthread_join(b->th[j].tid, NULL);
      return -1;
    }
  }
  return 0;
}

int wsv_cmd_bench(int argc, char **argv) {
  struct bench *b = calloc(1, sizeof *b);
  if (b == NULL)
    return 1;
  int rc = bench_parse(argc, argv, &b->opt);
  if (rc >= 0) {
    free(b);
    return rc;
  }
  struct bench_opts *o = &b->opt;
  int bad_host = bench_resolve(b);
  if (bad_host != 0) {
    const char *h = o->ntargets > 1 ? o->target[bad_host - 1].host : o->host;
    char host[256];
    snprintf(host, sizeof host, "%s", h);
    free(b);
    return wsv_cli_usage_error(
        "bench", "'%s' is not a numeric IPv4 or IPv6 address", host);
  }
  struct bench_result *r = calloc(1, sizeof *r);
  b->th = calloc((size_t)o->threads, sizeof *b->th);
  b->pattern = bench_pattern(
      o->mode == BENCH_ECHO || o->mode == BENCH_FANOUT ? (size_t)o->size : 16u);
  b->fan.wake_fd = -1;
  if (o->mode == BENCH_FANOUT) {
    b->fan.stamps = calloc(BENCH_FAN_RING, sizeof *b->fan.stamps);
    if (o->threads > 1)
      b->fan.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  if (r == NULL || b->th == NULL || b->pattern == NULL ||
      (o->mode == BENCH_FANOUT &&
       (b->fan.stamps == NULL || (o->threads > 1 && b->fan.wake_fd < 0))) ||
      bench_fd_limit(o) != 0) {
    free(b->fan.stamps);
    if (b->fan.wake_fd >= 0)
      close(b->fan.wake_fd);
    free(r);
    free(b->th);
    free(b->pattern);
    free(b);
    return 1;
  }
  atomic_init(&b->release, 0);
  atomic_init(&b->abort_all, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = bench_on_signal;
  sigemptyset(&sa.sa_mask);
  (void)sigaction(SIGINT, &sa, NULL);
  (void)sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  (void)sigaction(SIGPIPE, &sa, NULL);
  /* The workers leave signals to this thread. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  pthread_barrier_init(&b->barrier, NULL, (unsigned)o->threads + 1u);
  b->fan.t_base = bench_now_ns();
  r->rss_before = o->pid > 0 ? bench_rss(o->pid) : -1;
  r->self_before = bench_rss(0);
  int started = bench_start_threads(b) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (started && o->mode != BENCH_IDLE) {
    pthread_barrier_wait(&b->barrier); /* connections open */
    if (o->mode == BENCH_FANOUT)
      pthread_barrier_wait(&b->barrier); /* every subscriber heard */
    uint64_t now = bench_now_ns();
    b->t_begin = now;
    b->t_measure = now + (uint64_t)(o->warmup * 1e9);
    b->t_end = b->t_measure + (uint64_t)(o->duration * 1e9);
    pthread_barrier_wait(&b->barrier);
    bench_clock(b, now);
  } else if (started) {
    uint64_t now = bench_now_ns();
    b->t_begin = b->t_measure = now;
    bench_idle_wait(b, now);
    /* Let the server finish its side of the last handshakes. */
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    r->rss_after = o->pid > 0 ? bench_rss(o->pid) : -1;
    r->self_after = bench_rss(0);
    uint64_t hold_end = bench_now_ns() + (uint64_t)(o->hold * 1e9);
    while (!bench_signalled && bench_now_ns() < hold_end) {
      struct timespec hs = {0, 50000000};
      nanosleep(&hs, NULL);
    }
    atomic_store(&b->release, 1);
  }
  if (started)
    for (int i = 0; i < o->threads; i++)
      pthread_join(b->th[i].tid, NULL);
  pthread_barrier_destroy(&b->barrier);
  bench_collect(b, r);
  bench_report(b, r);
  fflush(stdout);
  int bad = !started || r->verify_errors > 0 || r->conn_errors > 0 ||
            r->unanswered > 0 || bench_signalled;
  if (o->mode == BENCH_ECHO && r->msgs == 0)
    bad = 1;
  if (o->mode == BENCH_CONNECT && r->hs == 0)
    bad = 1;
  if (o->mode == BENCH_IDLE && r->opened < o->conns)
    bad = 1;
  if (o->mode == BENCH_FANOUT &&
      (r->msgs == 0 || r->losses > 0 || r->silent > 0))
    bad = 1;
  free(b->fan.stamps);
  if (b->fan.wake_fd >= 0)
    close(b->fan.wake_fd);
  free(r);
  free(b->th);
  free(b->pattern);
  free(b);
  return bad ? 1 : 0;
}
