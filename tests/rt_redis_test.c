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
  rsrv_start(&r, NULL);
  char nodes[64];
  struct tlink t;
  tl_open(&t, nodes_for(nodes, sizeof nodes, r.port), NULL, NULL, 0);
  tl_run_until(&t, &t.ups, 1, 3000);
  assert_int_equal(t.ups, 1);
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
  rsrv_start(&r, NULL);
  char nodes[64];
  struct tlink t;
  tl_open(&t, nodes_for(nodes, sizeof nodes, r.port), NULL, NULL, 4096);
  tl_run_until(&t, &t.ups, 1, 3000);
  assert_int_equal(t.ups, 1);
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
  rsrv_start(&r, NULL);
  char nodes[64];
  struct tlink t;
  tl_open(&t, nodes_for(nodes, sizeof nodes, r.port), NULL, NULL, 0);
  tl_run_until(&t, &t.ups, 1, 3000);
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
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
