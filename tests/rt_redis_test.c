/*
 * rt_redis_test.c - the broker's Redis engine (src/rt/redis.c) against a
 * real redis-server: the nodes grammar (accepted and refused, with the
 * reasons), the settings it refuses, a refused connect (backoff, one log
 * line, no crash), AUTH (wrong password, ACL user, missing password),
 * messages of any bytes and size through SUBSCRIBE/PUBLISH, the output
 * bound, and a redis-server killed and restarted on the same port.
 *
 * The engine alone: its link callbacks go to this file's recorder
 * (wsv__redis_set_link_ops), not to a broker.  Each test starts its own
 * redis-server on a free loopback port with a config written to a
 * temporary directory, waits until it answers PING, and stops it by PID.
 * redis-server missing is a failure (scripts/deps installs it), not a
 * skip.  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "redis.h"
#include "support/rt_fixture.h"
#include "wsv/broker.h"

extern char **environ;

/* ---- a redis-server of the test's own ------------------------------------ */

struct rsrv {
  pid_t pid;
  uint16_t port;
  char dir[64];
  char conf[128];
  char logf[128];
};

/* A loopback port nobody listens on now. */
static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* The redis-server on PATH, or fail saying how to get one. */
static const char *redis_path(void) {
  static const char *const dirs[] = {"/usr/bin", "/usr/local/bin",
                                     "/usr/sbin"};
  static char path[64];
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(path, sizeof path, "%s/redis-server", dirs[i]);
    if (access(path, X_OK) == 0)
      return path;
  }
  fail_msg("redis-server is not installed: these tests need it "
           "(scripts/deps installs the Debian package redis-server)");
  return NULL;
}

/* One PING on a new connection: 1 when redis answered (+PONG, or an
 * error such as NOAUTH: it is up either way), else 0. */
static int redis_answers(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int ok = 0;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
    struct timeval tv = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    char buf[64];
    if (send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) ==
            (ssize_t)(sizeof ping - 1) &&
        recv(fd, buf, sizeof buf, 0) > 0 && (buf[0] == '+' || buf[0] == '-'))
      ok = 1;
  }
  close(fd);
  return ok;
}

/* Start redis-server on r->port (0: a free one) with `extra` config lines
 * (may be NULL), and wait until it answers. */
static void rsrv_start(struct rsrv *r, const char *extra) {
  const char *exe = redis_path();
  if (r->dir[0] == '\0') {
    snprintf(r->dir, sizeof r->dir, "/tmp/wsv-redis-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->conf, sizeof r->conf, "%s/redis.conf", r->dir);
    snprintf(r->logf, sizeof r->logf, "%s/redis.log", r->dir);
    FILE *f = fopen(r->conf, "w");
    assert_non_null(f);
    fprintf(f, "daemonize no\nlogfile %s\n%s\n", r->logf,
            extra != NULL ? extra : "");
    assert_int_equal(fclose(f), 0);
  }
  if (r->port == 0)
    r->port = free_port();
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)r->port);
  /* posix_spawn wants char *: copies of the words. */
  const char *words[] = {exe,      r->conf, "--port",       port,
                         "--bind", "127.0.0.1", "--save",   "",
                         "--appendonly", "no", "--dir",     r->dir};
  enum { NW = sizeof words / sizeof words[0] };
  char store[NW][128];
  char *argv[NW + 1];
  for (size_t i = 0; i < NW; i++) {
    snprintf(store[i], sizeof store[i], "%s", words[i]);
    argv[i] = store[i];
  }
  argv[NW] = NULL;
  assert_int_equal(posix_spawn(&r->pid, exe, NULL, NULL, argv, environ), 0);
  for (int i = 0; i < 500; i++) {
    if (redis_answers(r->port))
      return;
    int st;
    if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
      r->pid = 0;
      fail_msg("redis-server exited at start (see %s)", r->logf);
    }
    usleep(10000);
  }
  fail_msg("redis-server did not answer PING on port %u within 5 s",
           (unsigned)r->port);
}

/* Stop it with `sig` (SIGTERM, or SIGKILL for a crash) and reap it. */
static void rsrv_kill(struct rsrv *r, int sig) {
  if (r->pid <= 0)
    return;
  assert_int_equal(kill(r->pid, sig), 0);
  int st;
  assert_int_equal(waitpid(r->pid, &st, 0), r->pid);
  r->pid = 0;
}

/* Stop it and remove its directory. */
static void rsrv_stop(struct rsrv *r) {
  rsrv_kill(r, SIGTERM);
  if (r->dir[0] != '\0') {
    (void)unlink(r->conf);
    (void)unlink(r->logf);
    (void)rmdir(r->dir);
  }
}

/* ---- a recording link ------------------------------------------------------ */

struct tlink {
  struct wsv_loop *loop;
  const struct wsv_broker_engine *eng;
  void *state;
  void *conn;
  int ups;
  int downs;
  int msgs;
  int nlog;
  char log[4096];
  char last_ch[64];
  size_t last_ch_len;
  unsigned char *last; /* the last message's bytes (malloc) */
  size_t last_len;
  int order_bad; /* messages "n" not in order */
  int next_n;
};

static struct tlink *tl_of(struct wsv_broker_link *link) {
  return (struct tlink *)(void *)link;
}

static void tl_up(struct wsv_broker_link *link) { tl_of(link)->ups++; }

static void tl_down(struct wsv_broker_link *link) { tl_of(link)->downs++; }

static void tl_message(struct wsv_broker_link *link, const void *ch,
                       size_t len, const void *msg, size_t mlen) {
  struct tlink *t = tl_of(link);
  t->msgs++;
  if (len <= sizeof t->last_ch) {
    memcpy(t->last_ch, ch, len);
    t->last_ch_len = len;
  }
  free(t->last);
  t->last = malloc(mlen + 1);
  assert_non_null(t->last);
  memcpy(t->last, msg, mlen);
  t->last_len = mlen;
  if (mlen > 0 && mlen < 12 && t->last[0] == '#') {
    t->last[mlen] = '\0';
    if (atoi((const char *)t->last + 1) != t->next_n)
      t->order_bad++;
    t->next_n++;
  }
}

static void tl_log(struct wsv_broker_link *link, int level, const char *text) {
  struct tlink *t = tl_of(link);
  (void)level;
  t->nlog++;
  size_t have = strlen(t->log);
  snprintf(t->log + have, sizeof t->log - have, "%s\n", text);
}

static const struct wsv__redis_link_ops tl_ops = {tl_up, tl_down, tl_message,
                                                  tl_log};

/* An engine for `nodes` (fast backoff for the tests) with `user` and
 * `password` (may be NULL), opened on a new loop. */
static void tl_open(struct tlink *t, const char *nodes, const char *user,
                    const char *password, size_t max_queue) {
  memset(t, 0, sizeof *t);
  struct wsv_redis_config cfg;
  wsv_redis_config_init(&cfg);
  cfg.nodes = nodes;
  cfg.user = user;
  cfg.password = password;
  cfg.backoff_min_ms = 20;
  cfg.backoff_max_ms = 80;
  cfg.connect_timeout_ms = 2000;
  if (max_queue != 0)
    cfg.max_queue = max_queue;
  const char *why = NULL;
  assert_int_equal(wsv_redis_engine(&cfg, &t->eng, &t->state, &why), 0);
  assert_null(why);
  assert_string_equal(t->eng->name, "redis");
  wsv__redis_set_link_ops(t->state, &tl_ops);
  assert_int_equal(wsv_loop_new(&t->loop), 0);
  assert_int_equal(t->eng->open(t->state, t->loop,
                                (struct wsv_broker_link *)(void *)t, &t->conn),
                   0);
}

static void tl_close(struct tlink *t) {
  t->eng->close(t->conn);
  wsv_loop_free(t->loop); /* frees the retired connections */
  t->eng->free(t->state);
  free(t->last);
}

/* Run t's loop until *v >= want or ms passed. */
static void tl_run_until(struct tlink *t, const int *v, int want, int ms) {
  uint64_t end = wsv_loop_now(t->loop) + (uint64_t)ms;
  while (*v < want && wsv_loop_now(t->loop) < end)
    assert_true(wsv_loop_run_once(t->loop, 10) >= 0);
}

static void tl_run_for(struct tlink *t, int ms) {
  int never = 0;
  tl_run_until(t, &never, 1, ms);
}

static char *nodes_for(char *buf, size_t cap, uint16_t port) {
  snprintf(buf, cap, "redis://127.0.0.1:%u", (unsigned)port);
  return buf;
}

/* A redis-server of its own (no password) and t opened on it, up. */
static void tl_up_on(struct tlink *t, struct rsrv *r, size_t max_queue) {
  static char nodes[64];
  rsrv_start(r, NULL);
  tl_open(t, nodes_for(nodes, sizeof nodes, r->port), NULL, NULL, max_queue);
  tl_run_until(t, &t->ups, 1, 3000);
  assert_int_equal(t->ups, 1);
}

/* ---- the nodes grammar ------------------------------------------------------ */

static void test_nodes_accepted(void **state) {
  (void)state;
  struct wsv__redis_node n[WSV__REDIS_MAX_NODES];
  const char *why = "x";
  assert_int_equal(wsv__redis_parse_nodes("redis://127.0.0.1:6380", n, 16, &why),
                   1);
  assert_null(why);
  assert_string_equal(n[0].host, "127.0.0.1");
  assert_int_equal(n[0].port, 6380);
  assert_int_equal(n[0].host_kind, WSV_HOST_IPV4);

  assert_int_equal(wsv__redis_parse_nodes("redis://localhost", n, 16, &why), 1);
  assert_string_equal(n[0].host, "localhost");
  assert_int_equal(n[0].port, 6379);
  assert_int_equal(n[0].host_kind, WSV_HOST_REG_NAME);

  assert_int_equal(
      wsv__redis_parse_nodes("REDIS://[::1]:7000,redis-b.example:65535,[2001:db8::2]",
                             n, 16, &why),
      3);
  assert_string_equal(n[0].host, "::1");
  assert_int_equal(n[0].port, 7000);
  assert_int_equal(n[0].host_kind, WSV_HOST_IPV6);
  assert_string_equal(n[1].host, "redis-b.example");
  assert_int_equal(n[1].port, 65535);
  assert_string_equal(n[2].host, "2001:db8::2");
  assert_int_equal(n[2].port, 6379);

  char many[512] = "redis://";
  for (int i = 0; i < WSV__REDIS_MAX_NODES; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%sh%d:1",
             i > 0 ? "," : "", i);
  assert_int_equal(wsv__redis_parse_nodes(many, n, 16, &why), 16);
  assert_string_equal(n[15].host, "h15");
  /* One more is too many. */
  strcat(many, ",h16:1");
  assert_int_equal(wsv__redis_parse_nodes(many, n, 16, &why), WSV_ERR_INVAL);
  assert_string_equal(why, "too many nodes in the broker URL");
}

static void test_nodes_rejected(void **state) {
  (void)state;
  static const struct {
    const char *in;
    const char *why;
  } cases[] = {
      {"", "the broker URL must start with redis://"},
      {"127.0.0.1:6379", "the broker URL must start with redis://"},
      {"rediss://h:1", "the broker URL must start with redis://"},
      {"ws://h:1", "the broker URL must start with redis://"},
      {"redis://", "empty node in the broker URL"},
      {"redis://a:1,", "empty node in the broker URL"},
      {"redis://,a:1", "empty node in the broker URL"},
      {"redis://a:1,,b:2", "empty node in the broker URL"},
      {"redis://h:", "bad port in the broker URL"},
      {"redis://h:0", "bad port in the broker URL"},
      {"redis://h:65536", "bad port in the broker URL"},
      {"redis://h:123456", "bad port in the broker URL"},
      {"redis://h:+1", "bad port in the broker URL"},
      {"redis://h:6x", "bad port in the broker URL"},
      {"redis://[::1]:", "bad port in the broker URL"},
      {"redis://:6379", "no host in the broker URL"},
      {"redis://h:1/0", "a broker node is HOST:PORT, without a path or query"},
      {"redis://h?db=0", "a broker node is HOST:PORT, without a path or query"},
      {"redis://u:p@h:1",
       "the broker's user and password go in the settings, not the URL"},
      {"redis://h :1", "bad character in the broker URL"},
      {"redis://h%41:1", "bad character in the broker URL"},
      {"redis://h\x7f:1", "bad character in the broker URL"},
      {"redis://::1:6379", "an IPv6 address in the broker URL needs brackets"},
      {"redis://[::1", "bad IPv6 address in the broker URL"},
      {"redis://[::1]x", "bad host in the broker URL"},
      {"redis://[zz::1]:1", "bad host in the broker URL"},
      {"redis://[v1.x]:1", "bad host in the broker URL"},
      {"redis://a<b:1", "bad host in the broker URL"},
      {"redis://a_b!:1", NULL}, /* "_" and "!" are in a reg-name */
      {"redis://1.2.3.4.5.6.7.8.9:1", NULL}, /* a reg-name: accepted */
  };
  struct wsv__redis_node n[WSV__REDIS_MAX_NODES];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *why = NULL;
    int rc = wsv__redis_parse_nodes(cases[i].in, n, 16, &why);
    if (cases[i].why == NULL) {
      assert_int_equal(rc, 1);
      continue;
    }
    if (rc != WSV_ERR_INVAL || why == NULL || strcmp(why, cases[i].why) != 0)
      fail_msg("\"%s\": rc %d, why \"%s\", want \"%s\"", cases[i].in, rc,
               why != NULL ? why : "(null)", cases[i].why);
  }
  char longhost[300] = "redis://";
  memset(longhost + 8, 'a', 260);
  longhost[268] = '\0';
  const char *why = NULL;
  assert_int_equal(wsv__redis_parse_nodes(longhost, n, 16, &why),
                   WSV_ERR_INVAL);
  assert_string_equal(why, "broker host name too long");
  assert_int_equal(wsv__redis_parse_nodes(NULL, n, 16, &why), WSV_ERR_INVAL);
}

/* wsv_redis_engine: what it refuses, and a good one made and freed. */
static void test_engine_settings(void **state) {
  (void)state;
  struct wsv_redis_config cfg;
  wsv_redis_config_init(&cfg);
  assert_int_equal(cfg.max_queue, (size_t)8 << 20);
  assert_int_equal(cfg.connect_timeout_ms, 3000);
  assert_int_equal(cfg.backoff_min_ms, 100);
  assert_int_equal(cfg.backoff_max_ms, 5000);
  const struct wsv_broker_engine *eng = NULL;
  void *st = NULL;
  const char *why = NULL;
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, &why), WSV_ERR_INVAL);
  assert_string_equal(why, "no broker URL (redis://HOST:PORT)");
  cfg.nodes = "redis://h:99999";
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, &why), WSV_ERR_INVAL);
  assert_string_equal(why, "bad port in the broker URL");
  cfg.nodes = "redis://127.0.0.1:6379";
  cfg.user = "alice";
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, &why), WSV_ERR_INVAL);
  assert_string_equal(why, "a broker user needs a password");
  cfg.user = NULL;
  cfg.backoff_max_ms = 10;
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, &why), WSV_ERR_INVAL);
  cfg.backoff_max_ms = 5000;
  cfg.max_queue = 0;
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, &why), WSV_ERR_INVAL);
  cfg.max_queue = 1024;
  assert_int_equal(wsv_redis_engine(NULL, &eng, &st, &why), WSV_ERR_INVAL);
  cfg.nodes = "redis://no-such-host.invalid:6379";
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, &why), WSV_ERR_RESOLVE);
  assert_string_equal(why, "cannot resolve a broker host");
  cfg.nodes = "redis://127.0.0.1:6379,[::1]:6380,localhost";
  cfg.password = "secret";
  assert_int_equal(wsv_redis_engine(&cfg, &eng, &st, NULL), 0);
  assert_non_null(eng);
  assert_non_null(st);
  eng->free(st);
}

/* ---- connecting ----------------------------------------------------------- */

/* Nobody listens: the link stays down, retries with backoff, logs once. */
static void test_connect_refused(void **state) {
  (void)state;
  char nodes[64];
  struct tlink t;
  tl_open(&t, nodes_for(nodes, sizeof nodes, free_port()), NULL, NULL, 0);
  assert_int_equal(t.eng->publish(t.conn, "c", 1, "m", 1), WSV_ERR_CLOSED);
  assert_int_equal(t.eng->subscribe(t.conn, "c", 1), WSV_ERR_CLOSED);
  tl_run_for(&t, 600); /* about ten attempts at 20..80 ms (+ jitter) */
  assert_int_equal(t.ups, 0);
  assert_int_equal(t.downs, 0);
  assert_int_equal(t.nlog, 1);
  assert_non_null(strstr(t.log, ": cannot connect: connection refused"));
  assert_non_null(strstr(t.log, "broker: redis 127.0.0.1:"));
  tl_close(&t);
}

/* Without a password the link is up once both connections answered PING;
 * messages of any bytes cross, in order; unsubscribe stops them. */
static void test_up_and_messages(void **state) {
  (void)state;
  struct rsrv r = {0};
  struct tlink t;
  tl_up_on(&t, &r, 0);
  assert_non_null(strstr(t.log, ": connected"));
  static const char ch[] = "wsv:a\0b\xff\xfe";
  assert_int_equal(t.eng->subscribe(t.conn, ch, sizeof ch - 1), 0);
  tl_run_for(&t, 100); /* the confirmation */
  enum { N = 200 };
  for (int i = 0; i < N; i++) {
    char m[16];
    int n = snprintf(m, sizeof m, "#%d", i);
    assert_int_equal(t.eng->publish(t.conn, ch, sizeof ch - 1, m, (size_t)n), 0);
  }
  tl_run_until(&t, &t.msgs, N, 3000);
  assert_int_equal(t.msgs, N);
  assert_int_equal(t.order_bad, 0);
  assert_int_equal(t.last_ch_len, sizeof ch - 1);
  assert_memory_equal(t.last_ch, ch, sizeof ch - 1);
  /* 1 MiB of every byte value. */
  size_t big = (size_t)1 << 20;
  unsigned char *p = malloc(big);
  assert_non_null(p);
  for (size_t i = 0; i < big; i++)
    p[i] = (unsigned char)(i * 7 + (i >> 11));
  assert_int_equal(t.eng->publish(t.conn, ch, sizeof ch - 1, p, big), 0);
  tl_run_until(&t, &t.msgs, N + 1, 5000);
  assert_int_equal(t.msgs, N + 1);
  assert_int_equal(t.last_len, big);
  assert_memory_equal(t.last, p, big);
  free(p);
  /* An empty message crosses too. */
  assert_int_equal(t.eng->publish(t.conn, ch, sizeof ch - 1, "", 0), 0);
  tl_run_until(&t, &t.msgs, N + 2, 3000);
  assert_int_equal(t.last_len, 0);
  assert_int_equal(t.eng->unsubscribe(t.conn, ch, sizeof ch - 1), 0);
  tl_run_for(&t, 100);
  assert_int_equal(t.eng->publish(t.conn, ch, sizeof ch - 1, "x", 1), 0);
  tl_run_for(&t, 200);
  assert_int_equal(t.msgs, N + 2);
  assert_int_equal(t.downs, 0);
  tl_close(&t);
  rsrv_stop(&r);
}

/* A publish that would pass max_queue is refused (WSV_ERR_NOBUF). */
static void test_max_queue(void **state) {
  (void)state;
  struct rsrv r = {0};
  struct tlink t;
  tl_up_on(&t, &r, 4096);
  char m[1000];
  memset(m, 'm', sizeof m);
  int ok = 0, refused = 0;
  for (int i = 0; i < 10; i++) {
    int rc = t.eng->publish(t.conn, "c", 1, m, sizeof m);
    if (rc == 0)
      ok++;
    else if (rc == WSV_ERR_NOBUF)
      refused++;
  }
  assert_int_equal(ok, 3); /* 3 x 1033 bytes fit in 4096, 4 do not */
  assert_int_equal(refused, 7);
  assert_int_equal(t.eng->publish(t.conn, "c", 1, m, 5000), WSV_ERR_NOBUF);
  tl_run_for(&t, 100); /* written: room again */
  assert_int_equal(t.eng->publish(t.conn, "c", 1, m, sizeof m), 0);
  tl_close(&t);
  rsrv_stop(&r);
}

/* ---- AUTH ------------------------------------------------------------------- */

static void test_auth_wrong_password(void **state) {
  (void)state;
  struct rsrv r = {0};
  rsrv_start(&r, "requirepass secret");
  char nodes[64];
  struct tlink t;
  tl_open(&t, nodes_for(nodes, sizeof nodes, r.port), NULL, "wrong", 0);
  tl_run_for(&t, 600); /* several attempts */
  assert_int_equal(t.ups, 0);
  assert_int_equal(t.nlog, 1);
  char want[96];
  snprintf(want, sizeof want, "broker: redis 127.0.0.1:%u: AUTH failed: WRONGPASS ",
           (unsigned)r.port);
  if (strstr(t.log, want) == NULL)
    fail_msg("log: %s", t.log);
  tl_close(&t);

  /* The right one. */
  tl_open(&t, nodes, NULL, "secret", 0);
  tl_run_until(&t, &t.ups, 1, 3000);
  assert_int_equal(t.ups, 1);
  tl_close(&t);

  /* None at all: PING is refused. */
  tl_open(&t, nodes, NULL, NULL, 0);
  tl_run_for(&t, 300);
  assert_int_equal(t.ups, 0);
  assert_int_equal(t.nlog, 1);
  assert_non_null(strstr(t.log, ": PING failed: NOAUTH "));
  tl_close(&t);
  rsrv_stop(&r);
}

static void test_auth_acl_user(void **state) {
  (void)state;
  struct rsrv r = {0};
  rsrv_start(&r, "user default off\n"
                 "user alice on >pw-of-alice ~* &* +@all");
  char nodes[64];
  struct tlink t;
  tl_open(&t, nodes_for(nodes, sizeof nodes, r.port), "alice", "pw-of-alice",
          0);
  tl_run_until(&t, &t.ups, 1, 3000);
  assert_int_equal(t.ups, 1);
  assert_int_equal(t.eng->subscribe(t.conn, "c", 1), 0);
  tl_run_for(&t, 100);
  assert_int_equal(t.eng->publish(t.conn, "c", 1, "hi", 2), 0);
  tl_run_until(&t, &t.msgs, 1, 3000);
  assert_int_equal(t.msgs, 1);
  tl_close(&t);
  tl_open(&t, nodes, "alice", "nope", 0);
  tl_run_for(&t, 300);
  assert_int_equal(t.ups, 0);
  assert_int_equal(t.nlog, 1);
  assert_non_null(strstr(t.log, ": AUTH failed: WRONGPASS "));
  tl_close(&t);
  rsrv_stop(&r);
}

/* ---- faults ------------------------------------------------------------------ */

/* redis-server killed: the link goes down (once, logged once) and keeps
 * retrying; restarted on the same port: up again, and subscriptions made
 * again carry messages. */
static void test_restart(void **state) {
  (void)state;
  struct rsrv r = {0};
  struct tlink t;
  tl_up_on(&t, &r, 0);
  assert_int_equal(t.eng->subscribe(t.conn, "c", 1), 0);
  tl_run_for(&t, 100);
  assert_int_equal(t.eng->publish(t.conn, "c", 1, "#0", 2), 0);
  tl_run_until(&t, &t.msgs, 1, 3000);
  assert_int_equal(t.msgs, 1);

  rsrv_kill(&r, SIGKILL);
  tl_run_until(&t, &t.downs, 1, 3000);
  assert_int_equal(t.downs, 1);
  assert_int_equal(t.eng->publish(t.conn, "c", 1, "lost", 4), WSV_ERR_CLOSED);
  tl_run_for(&t, 400); /* retries, refused */
  assert_int_equal(t.downs, 1);
  assert_int_equal(t.ups, 1);
  int logged = t.nlog;
  assert_true(logged <= 3); /* connected, lost, refused: not per retry */
  assert_non_null(strstr(t.log, ": connection lost: "));

  rsrv_start(&r, NULL); /* same port, same directory */
  tl_run_until(&t, &t.ups, 2, 3000);
  assert_int_equal(t.ups, 2);
  assert_int_equal(t.eng->subscribe(t.conn, "c", 1), 0); /* as the broker */
  tl_run_for(&t, 100);
  assert_int_equal(t.eng->publish(t.conn, "c", 1, "#1", 2), 0);
  tl_run_until(&t, &t.msgs, 2, 3000);
  assert_int_equal(t.msgs, 2);
  assert_int_equal(t.order_bad, 0);
  tl_close(&t);
  rsrv_stop(&r);
}

/* Two nodes, the first dead: the link moves on to the second. */
static void test_next_node(void **state) {
  (void)state;
  struct rsrv r = {0};
  rsrv_start(&r, NULL);
  char nodes[96];
  snprintf(nodes, sizeof nodes, "redis://127.0.0.1:%u,127.0.0.1:%u",
           (unsigned)free_port(), (unsigned)r.port);
  struct tlink t;
  tl_open(&t, nodes, NULL, NULL, 0);
  tl_run_until(&t, &t.ups, 1, 3000);
  assert_int_equal(t.ups, 1);
  assert_non_null(strstr(t.log, ": cannot connect: connection refused"));
  tl_close(&t);
  rsrv_stop(&r);
}

/* ---- through brokers and servers ---------------------------------------------
 * Two wsv_servers in this process (1 and 2 threads), each with its own
 * broker on the same redis-server: what a client publishes on A reaches
 * B's subscribers. */

#define TOPIC_BYTES "/t\xff\xfe\x80"

/* The fixture's room chat, and "/bytes" subscribes to TOPIC_BYTES. */
static void e_open(struct wsv_ws *ws, void *user) {
  rtf_s_open(ws, user);
  if (strcmp(wsv_ws_path(ws), "/bytes") == 0 &&
      wsv_ws_subscribe(ws, TOPIC_BYTES) != 0)
    atomic_fetch_add(&rtf_srv.bad, 1);
}

/* The brokers' log lines (from the servers' threads). */
static pthread_mutex_t e_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char e_log[8192];

static void e_log_cb(void *user, int level, const char *text) {
  (void)user;
  (void)level;
  pthread_mutex_lock(&e_log_mu);
  size_t have = strlen(e_log);
  snprintf(e_log + have, sizeof e_log - have, "%s\n", text);
  pthread_mutex_unlock(&e_log_mu);
}

static int e_log_has(const char *s) {
  pthread_mutex_lock(&e_log_mu);
  int has = strstr(e_log, s) != NULL;
  pthread_mutex_unlock(&e_log_mu);
  return has;
}

static struct wsv_broker *e_broker(uint16_t port) {
  char nodes[64];
  struct wsv_redis_config rc;
  wsv_redis_config_init(&rc);
  rc.nodes = nodes_for(nodes, sizeof nodes, port);
  rc.backoff_min_ms = 20;
  rc.backoff_max_ms = 100;
  struct wsv_broker_config bc;
  wsv_broker_config_init(&bc);
  assert_int_equal(wsv_redis_engine(&rc, &bc.engine, &bc.engine_state, NULL),
                   0);
  bc.log = e_log_cb;
  struct wsv_broker *b = NULL;
  assert_int_equal(wsv_broker_new(&b, &bc), 0);
  return b;
}

static struct wsv_server *e_server(struct wsv_broker *b, int threads) {
  struct wsv_server_config cfg;
  rtf_srv_config(&cfg);
  cfg.callbacks.open = e_open;
  cfg.threads = threads;
  cfg.broker = b;
  return rtf_srv_start(&cfg);
}

/* Spin `loop` until every link of b is up (want 1) or down (want 0). */
static void e_until_links(struct wsv_loop *loop, struct wsv_broker *b,
                          int want_up, int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  struct wsv_broker_stats st;
  for (;;) {
    wsv_broker_stats(b, &st);
    if ((want_up ? st.links_up == st.links : st.links_up == 0) ||
        wsv_loop_now(loop) >= end)
      break;
    (void)wsv_loop_run_once(loop, 5);
  }
  assert_int_equal(st.links_up, want_up ? st.links : 0);
}

static void e_spin(struct wsv_loop *loop, int ms) {
  uint64_t end = wsv_loop_now(loop) + (uint64_t)ms;
  while (wsv_loop_now(loop) < end)
    (void)wsv_loop_run_once(loop, 5);
}

static void test_across_servers(void **state) {
  (void)state;
  struct rsrv r = {0};
  rsrv_start(&r, NULL);
  e_log[0] = '\0';
  struct wsv_broker *ba = e_broker(r.port), *bb = e_broker(r.port);
  struct wsv_server *a = e_server(ba, 1), *b = e_server(bb, 2);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  e_until_links(loop, ba, 1, 3000);
  e_until_links(loop, bb, 1, 3000);
  struct rtf_rec ra = {0}, rb[3], rbytes = {0};
  memset(rb, 0, sizeof rb);
  struct wsv_ws *wa = rtf_rec_connect(loop, &ra, wsv_server_port(a), "/room1");
  for (int i = 0; i < 3; i++)
    (void)rtf_rec_connect(loop, &rb[i], wsv_server_port(b), "/room1");
  (void)rtf_rec_connect(loop, &rbytes, wsv_server_port(b), "/bytes");
  rtf_until_opens(loop, 5);
  e_spin(loop, 300); /* the SUBSCRIBEs reach Redis */
  /* Text and binary, in order, each once. */
  enum { N = 40 };
  static const unsigned char bin[] = {0, 0xff, 0x80, 'x', 0};
  for (int i = 0; i < N; i++) {
    char t[16];
    int n = snprintf(t, sizeof t, "m%02d", i);
    assert_true(wsv_ws_send(wa, WSV_OP_TEXT, t, (size_t)n) >= 0);
  }
  assert_true(wsv_ws_send(wa, WSV_OP_BINARY, bin, sizeof bin) >= 0);
  struct rtf_rec *all[] = {&rb[0], &rb[1], &rb[2]};
  rtf_rec_until(loop, all, 3, N + 1, 5000);
  /* 1 MiB from A (wsv_server_publish), and a topic of bytes 0x80-0xff. */
  size_t big = (size_t)1 << 20;
  unsigned char *p = malloc(big);
  assert_non_null(p);
  for (size_t i = 0; i < big; i++)
    p[i] = (unsigned char)(i ^ (i >> 9));
  assert_true(wsv_server_publish(a, "/room1", WSV_OP_BINARY, p, big) >= 0);
  assert_true(wsv_server_publish(a, TOPIC_BYTES, WSV_OP_TEXT, "bytes", 5) >= 0);
  rtf_rec_until(loop, all, 3, N + 2, 5000);
  struct rtf_rec *one[] = {&rbytes};
  rtf_rec_until(loop, one, 1, 1, 3000);
  e_spin(loop, 200); /* a duplicate would have come by now */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(rb[i].n, N + 2);
    size_t at = 0;
    for (int j = 0; j < N; j++) {
      char t[16];
      int n = snprintf(t, sizeof t, "m%02d", j);
      assert_int_equal(rb[i].op[j], WSV_OP_TEXT);
      assert_int_equal(rb[i].len[j], (size_t)n);
      assert_memory_equal(rb[i].bytes + at, t, (size_t)n);
      at += (size_t)n;
    }
    assert_int_equal(rb[i].op[N], WSV_OP_BINARY);
    assert_int_equal(rb[i].len[N], sizeof bin);
    assert_memory_equal(rb[i].bytes + at, bin, sizeof bin);
    at += sizeof bin;
    assert_int_equal(rb[i].op[N + 1], WSV_OP_BINARY);
    assert_int_equal(rb[i].len[N + 1], big);
    assert_memory_equal(rb[i].bytes + at, p, big);
    free(rb[i].bytes);
  }
  assert_int_equal(rbytes.n, 1);
  assert_int_equal(rbytes.op[0], WSV_OP_TEXT);
  assert_memory_equal(rbytes.bytes, "bytes", 5);
  free(rbytes.bytes);
  /* A's own subscriber got the server's publishes (locally, once), not
   * its own chat (no WSV_PUBLISH_SELF). */
  assert_int_equal(ra.n, 1);
  assert_int_equal(ra.len[0], big);
  free(ra.bytes);
  free(p);
  struct wsv_broker_stats st;
  wsv_broker_stats(ba, &st);
  assert_int_equal(st.published, N + 3);
  assert_int_equal(st.dropped, 0);
  assert_int_equal(st.received, 0);
  assert_int_equal(st.echoes, N + 2); /* A holds /room1, not TOPIC_BYTES */
  wsv_broker_stats(bb, &st);
  assert_true(st.channels == 2 || st.channels == 3); /* per loop */
  assert_int_equal(st.received, (st.channels - 1) * (N + 2) + 1);
  assert_int_equal(st.published, 0);
  assert_true(e_log_has(": connected"));
  wsv_loop_free(loop);
  rtf_srv_finish(a);
  rtf_srv_finish(b);
  wsv_broker_free(ba);
  wsv_broker_free(bb);
  rsrv_stop(&r);
}

/* redis-server killed and restarted on the same port, under two servers:
 * down (published: dropped and counted; local delivery goes on), up
 * again, subscriptions back, messages cross again. */
static void test_restart_across_servers(void **state) {
  (void)state;
  struct rsrv r = {0};
  rsrv_start(&r, NULL);
  e_log[0] = '\0';
  struct wsv_broker *ba = e_broker(r.port), *bb = e_broker(r.port);
  struct wsv_server *a = e_server(ba, 1), *b = e_server(bb, 2);
  struct wsv_loop *loop;
  assert_int_equal(wsv_loop_new(&loop), 0);
  e_until_links(loop, ba, 1, 3000);
  e_until_links(loop, bb, 1, 3000);
  struct rtf_rec ra1 = {0}, ra2 = {0}, rb = {0};
  struct wsv_ws *wa = rtf_rec_connect(loop, &ra1, wsv_server_port(a), "/room2");
  (void)rtf_rec_connect(loop, &ra2, wsv_server_port(a), "/room2");
  (void)rtf_rec_connect(loop, &rb, wsv_server_port(b), "/room2");
  rtf_until_opens(loop, 3);
  e_spin(loop, 300);
  struct rtf_rec *both[] = {&ra2, &rb};
  assert_true(wsv_ws_send(wa, WSV_OP_TEXT, "before", 6) >= 0);
  rtf_rec_until(loop, both, 2, 1, 3000);
  assert_int_equal(rb.n, 1);

  rsrv_kill(&r, SIGKILL);
  e_until_links(loop, ba, 0, 3000);
  e_until_links(loop, bb, 0, 3000);
  assert_true(wsv_ws_send(wa, WSV_OP_TEXT, "lost", 4) >= 0);
  rtf_rec_until(loop, both, 1, 2, 2000); /* ra2: local delivery */
  e_spin(loop, 300);
  assert_int_equal(ra2.n, 2);
  assert_int_equal(rb.n, 1);
  struct wsv_broker_stats st;
  wsv_broker_stats(ba, &st);
  assert_int_equal(st.dropped, 1);
  assert_int_equal(st.reconnects, 1);
  assert_true(e_log_has(": connection lost: "));

  rsrv_start(&r, NULL); /* the same port */
  e_until_links(loop, ba, 1, 3000);
  e_until_links(loop, bb, 1, 3000);
  e_spin(loop, 300); /* subscribed again */
  assert_true(wsv_ws_send(wa, WSV_OP_TEXT, "after", 5) >= 0);
  rtf_rec_until(loop, both, 2, 3, 3000);
  rtf_rec_until(loop, &both[1], 1, 2, 3000);
  e_spin(loop, 200);
  assert_int_equal(ra2.n, 3);
  assert_int_equal(rb.n, 2);
  assert_memory_equal(rb.bytes, "beforeafter", 11);
  wsv_broker_stats(bb, &st);
  assert_true(st.reconnects >= 1);
  assert_int_equal(st.received, 2);
  wsv_broker_stats(ba, &st);
  assert_int_equal(st.published, 2);
  free(ra1.bytes);
  free(ra2.bytes);
  free(rb.bytes);
  wsv_loop_free(loop);
  rtf_srv_finish(a);
  rtf_srv_finish(b);
  wsv_broker_free(ba);
  wsv_broker_free(bb);
  rsrv_stop(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nodes_accepted),
      cmocka_unit_test(test_nodes_rejected),
      cmocka_unit_test(test_engine_settings),
      cmocka_unit_test(test_connect_refused),
      cmocka_unit_test(test_up_and_messages),
      cmocka_unit_test(test_max_queue),
      cmocka_unit_test(test_auth_wrong_password),
      cmocka_unit_test(test_auth_acl_user),
      cmocka_unit_test(test_restart),
      cmocka_unit_test(test_next_node),
      cmocka_unit_test(test_across_servers),
      cmocka_unit_test(test_restart_across_servers),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
