/*
 * bench_report.c - the figures of `wsv bench`: the latency histogram the
 * threads record into, the resident memory of a process (VmRSS), the
 * threads' results summed up, and the summary in its two formats (text,
 * or one JSON object with --json).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- histogram ----------------------------------------------------------- */

static unsigned hist_index(uint64_t v) {
  if (v < BENCH_HIST_SUB)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = e - BENCH_HIST_SUB_BITS;
  return (shift + 1u) * BENCH_HIST_SUB +
         (unsigned)((v >> shift) & (BENCH_HIST_SUB - 1u));
}

void bench_hist_add(struct bench_hist *h, uint64_t v) {
  h->n[hist_index(v)]++;
  h->count++;
  if (v > h->max)
    h->max = v;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h) {
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
    into->n[i] += h->n[i];
  into->count += h->count;
  if (h->max > into->max)
    into->max = h->max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q) {
  if (h->count == 0)
    return 0;
  uint64_t want = (uint64_t)(q * (double)h->count + 0.5);
  if (want < 1)
    want = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
    seen += h->n[i];
    if (seen < want)
      continue;
    if (i < BENCH_HIST_SUB)
      return i;
    unsigned shift = i / BENCH_HIST_SUB - 1u;
    uint64_t lo = (uint64_t)(BENCH_HIST_SUB + i % BENCH_HIST_SUB) << shift;
    uint64_t mid = lo + ((UINT64_C(1) << shift) >> 1);
    return mid < h->max ? mid : h->max;
  }
  return h->max;
}

/* ---- memory -------------------------------------------------------------- */

long long bench_rss(long pid) {
  char path[64], line[256];
  if (pid > 0)
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
  else
    snprintf(path, sizeof path, "/proc/self/status");
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  long long kb = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtoll(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

/* ---- the summary --------------------------------------------------------- */

void bench_collect(struct bench *b, struct bench_result *r) {
  uint64_t t_stop = 0;
  for (int i = 0; i < b->opt.threads; i++) {
    struct bench_thread *t = &b->th[i];
    r->msgs += t->msgs;
    r->hs += t->hs;
    r->opened += t->opened;
    r->verify_errors += t->verify_errors;
    r->conn_errors += t->conn_errors;
    r->unanswered += t->unanswered;
    r->losses += t->losses;
    r->pubs += t->pubs;
    r->self_msgs += t->self_msgs;
    r->gen_cpu += (double)t->cpu_ns;
    bench_hist_merge(&r->lat, &t->lat);
    if (t->t_stop > t_stop)
      t_stop = t->t_stop;
    if (r->err[0] == '\0' && t->err[0] != '\0')
      snprintf(r->err, sizeof r->err, "%s", t->err);
  }
  r->window =
      t_stop > b->t_measure ? (double)(t_stop - b->t_measure) / 1e9 : 0.0;
  if (b->opt.mode == BENCH_FANOUT) {
    const struct bench_fan *f = &b->fan;
    r->subs_open = atomic_load(&f->subs_open);
    r->silent = atomic_load(&f->silent);
    r->gen_cpu = r->window > 0 ? r->gen_cpu / (r->window * 1e9) : 0;
  }
}

static void bench_describe(const struct bench *b, char *buf, size_t cap) {
  const struct bench_opts *o = &b->opt;
  const char *lb = strchr(o->host, ':') != NULL ? "[" : "";
  const char *rb = lb[0] != '\0' ? "]" : "";
  if (o->raw) {
    snprintf(buf, cap, "tcp://%s%s%s:%u", lb, o->host, rb, (unsigned)o->port);
    return;
  }
  size_t n = 0;
  for (unsigned i = 0; i < o->ntargets && n < cap; i++) {
    const struct bench_target *t = &o->target[i];
    lb = strchr(t->host, ':') != NULL ? "[" : "";
    rb = lb[0] != '\0' ? "]" : "";
    int k = snprintf(buf + n, cap - n, "%s%s://%s%s%s:%u%s", i ? " " : "",
                     o->tls ? "wss" : "ws", lb, t->host, rb, (unsigned)t->port,
                     t->path);
    if (k < 0)
      break;
    n += (size_t)k;
  }
}

/* The figures of a run, the same in both formats. */
struct bench_figures {
  double rate;            /* echo: messages/s; connect: handshakes/s;
                             fanout: deliveries/s */
  double pub_rate;        /* fanout: publishes/s */
  double mb;              /* echo: MB/s of payload, one direction */
  double p50, p99, p999;  /* latency in microseconds */
  double max;             /* the largest latency, in microseconds */
  int server_known;       /* idle: the server's RSS was measured */
  double server_per_conn; /* idle: its bytes per connection */
  int self_known;         /* idle: our own RSS was measured */
  double self_per_conn;   /* idle: our bytes per connection */
};

static double us(uint64_t ns) {
  return (double)ns / 1000.0;
}

static void bench_figures(const struct bench *b, const struct bench_result *r,
                          struct bench_figures *f) {
  const struct bench_opts *o = &b->opt;
  uint64_t count =
      o->mode == BENCH_ECHO || o->mode == BENCH_FANOUT ? r->msgs : r->hs;
  memset(f, 0, sizeof *f);
  f->rate = r->window > 0 ? (double)count / r->window : 0;
  f->pub_rate = r->window > 0 ? (double)r->pubs / r->window : 0;
  f->mb = f->rate * (double)o->size / 1e6;
  f->p50 = us(bench_hist_quantile(&r->lat, 0.5));
  f->p99 = us(bench_hist_quantile(&r->lat, 0.99));
  f->p999 = us(bench_hist_quantile(&r->lat, 0.999));
  f->max = us(r->lat.max);
  f->server_known = r->rss_before >= 0 && r->rss_after >= 0 && r->opened > 0;
  if (f->server_known)
    f->server_per_conn =
        (double)(r->rss_after - r->rss_before) / (double)r->opened;
  f->self_known = r->self_before >= 0 && r->self_after >= 0 && r->opened > 0;
  if (f->self_known)
    f->self_per_conn =
        (double)(r->self_after - r->self_before) / (double)r->opened;
}

static void bench_report_json(const struct bench *b,
                              const struct bench_result *r,
                              const struct bench_figures *f) {
  const struct bench_opts *o = &b->opt;
  char url[1024];
  bench_describe(b, url, sizeof url);
  static const char *const names[] = {"", "echo", "connect", "idle", "fanout"};
  printf("{\"mode\":\"%s\",\"url\":\"%s\",\"tls\":%s,\"threads\":%d,"
         "\"conns\":%llu",
         names[o->mode], url, o->tls ? "true" : "false", o->threads,
         (unsigned long long)o->conns);
  if (o->mode == BENCH_ECHO) {
    printf(",\"inflight\":%llu,\"size\":%llu,\"binary\":%s,\"raw\":%s,"
           "\"seconds\":%.3f,\"messages\":%llu,\"msgs_per_s\":%.0f,"
           "\"mb_per_s\":%.1f",
           (unsigned long long)o->inflight, (unsigned long long)o->size,
           o->binary ? "true" : "false", o->raw ? "true" : "false", r->window,
           (unsigned long long)r->msgs, f->rate, f->mb);
  } else if (o->mode == BENCH_CONNECT) {
    printf(",\"seconds\":%.3f,\"handshakes\":%llu,\"handshakes_per_s\":%.0f",
           r->window, (unsigned long long)r->hs, f->rate);
  } else if (o->mode == BENCH_FANOUT) {
    printf(",\"servers\":%u,\"subs\":%llu,\"subs_open\":%llu,"
           "\"inflight\":%llu,\"rate\":%.0f,\"size\":%llu,\"binary\":%s,"
           "\"seconds\":%.3f,\"deliveries\":%llu,\"deliveries_per_s\":%.0f,"
           "\"publishes\":%llu,\"publishes_per_s\":%.0f,\"losses\":%llu,"
           "\"silent\":%llu,\"self_copies\":%llu,\"generator_cpu\":%.3f",
           o->ntargets, (unsigned long long)o->conns,
           (unsigned long long)r->subs_open,
           (unsigned long long)(o->rate > 0 ? 0 : o->inflight), o->rate,
           (unsigned long long)o->size, o->binary ? "true" : "false", r->window,
           (unsigned long long)r->msgs, f->rate, (unsigned long long)r->pubs,
           f->pub_rate, (unsigned long long)r->losses,
           (unsigned long long)r->silent, (unsigned long long)r->self_msgs,
           r->gen_cpu);
  } else {
    printf(",\"opened\":%llu,\"pid\":%ld", (unsigned long long)r->opened,
           o->pid);
    if (f->server_known)
      printf(",\"server_rss_before\":%lld,\"server_rss_after\":%lld,"
             "\"server_bytes_per_conn\":%.1f",
             r->rss_before, r->rss_after, f->server_per_conn);
    if (f->self_known)
      printf(",\"bench_bytes_per_conn\":%.1f", f->self_per_conn);
  }
  if (o->mode != BENCH_IDLE)
    printf(",\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
           "\"max\":%.1f}",
           f->p50, f->p99, f->p999, f->max);
  printf(",\"verify_errors\":%llu,\"conn_errors\":%llu,\"unanswered\":%llu",
         (unsigned long long)r->verify_errors,
         (unsigned long long)r->conn_errors, (unsigned long long)r->unanswered);
  printf(",\"error\":\"");
  for (const char *p = r->err; *p; p++)
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if ((unsigned char)*p >= 0x20)
      putchar(*p);
  printf("\"}\n");
}

static void bench_report_text(const struct bench *b,
                              const struct bench_result *r,
                              const struct bench_figures *f) {
  const struct bench_opts *o = &b->opt;
  char url[1024];
  bench_describe(b, url, sizeof url);
  if (o->mode == BENCH_ECHO) {
    printf("wsv bench echo %s: %llu connections x %llu in flight x %llu B "
           "%s, %d thread%s\n",
           url, (unsigned long long)o->conns, (unsigned long long)o->inflight,
           (unsigned long long)o->size,
           o->raw      ? "raw"
           : o->binary ? "binary"
                       : "text",
           o->threads, o->threads == 1 ? "" : "s");
    printf("  messages    %llu in %.2f s: %.0f msg/s, %.1f MB/s\n",
           (unsigned long long)r->msgs, r->window, f->rate, f->mb);
  } else if (o->mode == BENCH_FANOUT) {
    char pace[64];
    if (o->rate > 0)
      snprintf(pace, sizeof pace, "%.0f msg/s", o->rate);
    else
      snprintf(pace, sizeof pace, "%llu in flight",
               (unsigned long long)o->inflight);
    printf("wsv bench fanout %s: 1 publisher, %llu subscribers over %u "
           "server%s, %s x %llu B %s, %d thread%s\n",
           url, (unsigned long long)o->conns, o->ntargets,
           o->ntargets == 1 ? "" : "s", pace, (unsigned long long)o->size,
           o->binary ? "binary" : "text", o->threads,
           o->threads == 1 ? "" : "s");
    printf("  deliveries  %llu in %.2f s: %.0f deliveries/s (%llu "
           "subscribers open)\n",
           (unsigned long long)r->msgs, r->window, f->rate,
           (unsigned long long)r->subs_open);
    printf("  publishes   %llu: %.0f msg/s; %llu lost, %llu subscribers "
           "heard nothing\n",
           (unsigned long long)r->pubs, f->pub_rate,
           (unsigned long long)r->losses, (unsigned long long)r->silent);
    printf("  generator   %.0f%% of a core (its threads' CPU time over the "
           "window)\n",
           r->gen_cpu * 100.0);
  } else if (o->mode == BENCH_CONNECT) {
    printf("wsv bench connect %s: %llu in flight, %d thread%s\n", url,
           (unsigned long long)o->conns, o->threads,
           o->threads == 1 ? "" : "s");
    printf("  handshakes  %llu in %.2f s: %.0f handshakes/s (open, 101, "
           "close)\n",
           (unsigned long long)r->hs, r->window, f->rate);
  } else {
    printf("wsv bench idle %s: %llu connections\n", url,
           (unsigned long long)o->conns);
    printf("  opened      %llu\n", (unsigned long long)r->opened);
    if (f->server_known)
      printf("  server RSS  %.1f MiB -> %.1f MiB: %.0f B per connection\n",
             (double)r->rss_before / 1048576.0,
             (double)r->rss_after / 1048576.0, f->server_per_conn);
    else if (o->pid == 0)
      printf("  server RSS  not measured (give --pid PID)\n");
    if (f->self_known)
      printf("  bench RSS   %.0f B per connection\n", f->self_per_conn);
  }
  if (o->mode != BENCH_IDLE)
    printf("  latency     p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max "
           "%.1f us\n",
           f->p50, f->p99, f->p999, f->max);
  printf("  errors      %llu verification, %llu connection, %llu unanswered\n",
         (unsigned long long)r->verify_errors,
         (unsigned long long)r->conn_errors, (unsigned long long)r->unanswered);
  if (r->err[0] != '\0')
    printf("  first error %s\n", r->err);
}

void bench_report(const struct bench *b, const struct bench_result *r) {
  struct bench_figures f;
  bench_figures(b, r, &f);
  if (b->opt.json)
    bench_report_json(b, r, &f);
  else
    bench_report_text(b, r, &f);
}
