/*
 * bridge_listen.c - `wsv connect --listen ADDR URL`, the reverse bridge
 * (websockify's other direction, websocat's `tcp-l:`): a local TCP (or
 * Unix) listener whose every accepted connection is carried over a new
 * WebSocket client connection to URL, binary messages both ways, with
 * bridge.c's back-pressure and close rules.  One loop on the calling
 * thread runs the listener, every client and every bridge; SIGINT and
 * SIGTERM stop accepting, close every WebSocket with 1001 and exit 0 once
 * they are closed (at most BL_STOP_MS later).
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"
#include "wsv/url.h"

#include "bridge.h"
#include "cli.h"

#define BL_STOP_MS 2000

static const char bl_usage[] =
    "usage: wsv connect --listen ADDR [--max-message BYTES]\n"
    "                   [--cacert FILE | --insecure] [--quiet] [-v] URL\n"
    "\n"
    "Listen on ADDR and carry every connection accepted there over its own\n"
    "new WebSocket connection to URL (ws:// or wss://), as websockify does\n"
    "the other way round: the bytes the local client sends become binary\n"
    "messages, the messages from the server become bytes for it.  Reading\n"
    "stops on the side whose peer does not keep up.  The local client's\n"
    "end closes the WebSocket with 1000 (\"client closed\"); the server's\n"
    "Close or a failed WebSocket ends the local connection (FIN); a text\n"
    "message closes the WebSocket with 1003.\n"
    "\n"
    "  --listen ADDR        tcp://HOST:PORT (or HOST:PORT; port 0 picks a\n"
    "                       free one: the address is printed) or unix:PATH\n"
    "  --max-message BYTES  largest message accepted (default 16M)\n"
    "  --cacert FILE        wss://: trust the CAs in FILE (PEM)\n"
    "  --insecure           wss://: accept any certificate (testing only)\n"
    "  --quiet              no line per connection\n"
    "  -v, --verbose        also the runtime's details\n"
    "\n"
    "The first line on standard output is \"wsv: listening on ADDR\".\n"
    "SIGINT or SIGTERM stops accepting, closes every WebSocket with 1001\n"
    "and exits 0.  Exit status 1 if ADDR cannot be listened on, 2 on a\n"
    "usage error.\n";

struct bl_opts {
  const char *listen;
  const char *url;
  const char *cacert;
  int insecure;
  int quiet;
  int verbose;
  uint64_t max_message;
};

/* The listener and what it made; everything on `loop`. */
struct bl {
  struct bl_opts opt;
  struct bridge_target where;
  struct bridge_set set;
  struct wsv_loop *loop;
  struct wsv_io *lio;
  int lfd;
  unsigned long next_id;
  unsigned long live; /* WebSockets not closed or failed yet */
  int stopping;
  struct wsv_timer *stop_timer;
  struct wsv_client_config cfg;
  /* The WebSockets, to close them on a signal: by bridge user pointers,
   * a small list of our own. */
  struct bl_conn *conns;
};

/* One accepted connection's WebSocket. */
struct bl_conn {
  struct bl *l;
  struct bridge *b;
  struct wsv_ws *ws;
  unsigned long id;
  struct bl_conn *prev, *next;
};

static void bl_on_log(void *user, int level, const char *text) {
  struct bl *l = user;
  if (level <= WSV_LOG_WARN || l->opt.verbose)
    wsv_cli_log("wsv: %s", text);
}

static void bl_conn_end(struct bl_conn *c) {
  struct bl *l = c->l;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  free(c);
  l->live--;
  if (l->stopping && l->live == 0)
    wsv_loop_stop(l->loop);
}

static void bl_on_open(struct wsv_ws *ws, void *user) {
  struct bl_conn *c = wsv_ws_user(ws);
  (void)user;
  if (!c->l->opt.quiet)
    wsv_cli_log("wsv: #%lu open %s", c->id, c->l->opt.url);
  bridge_opened(c->b);
}

static void bl_on_message(struct wsv_ws *ws, int opcode, const void *data,
                          size_t len, void *user) {
  struct bl_conn *c = wsv_ws_user(ws);
  (void)user;
  bridge_input(c->b, opcode, data, len);
}

static void bl_on_drain(struct wsv_ws *ws, void *user) {
  struct bl_conn *c = wsv_ws_user(ws);
  (void)user;
  bridge_drain(c->b);
}

static void bl_on_close(struct wsv_ws *ws, int code, const char *reason,
                        size_t len, void *user) {
  struct bl_conn *c = wsv_ws_user(ws);
  (void)user;
  if (!c->l->opt.quiet) {
    char why[160], extra[160] = "";
    wsv_cli_printable(reason, len, why, sizeof why);
    if (wsv_ws_error(ws) != 0)
      snprintf(extra, sizeof extra, " (%s)", wsv_ws_error_text(ws));
    wsv_cli_log("wsv: #%lu close %d \"%s\"%s", c->id, code, why, extra);
  }
  bridge_detach(c->b);
  bl_conn_end(c);
}

static void bl_on_fail(struct wsv_ws *ws, int err, const char *text,
                       void *user) {
  struct bl_conn *c = wsv_ws_user(ws);
  (void)user;
  (void)err;
  if (c == NULL) /* failed before wsv_client_connect returned? never */
    return;
  if (!c->l->opt.quiet)
    wsv_cli_log("wsv: #%lu cannot connect to %s: %s", c->id, c->l->opt.url,
                text);
  bridge_detach(c->b);
  bl_conn_end(c);
}

/* A connection came: adopt it, start its WebSocket. */
static void bl_accept_one(struct bl *l, int fd) {
  struct bl_conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    close(fd);
    return;
  }
  c->l = l;
  c->id = ++l->next_id;
  if (!l->opt.quiet) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char peer[128] = "local";
    char host[64], port[16];
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        ss.ss_family != AF_UNIX &&
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
      snprintf(peer, sizeof peer, "%s%s%s:%s", strchr(host, ':') ? "[" : "",
               host, strchr(host, ':') ? "]" : "", port);
    wsv_cli_log("wsv: #%lu accepted %s", c->id, peer);
  }
  if (bridge_adopt(&l->set, l->loop, fd, c->id, &c->b) != 0) {
    free(c);
    return;
  }
  int rc = wsv_client_connect(l->loop, &l->cfg, &c->ws);
  if (rc != 0) {
    if (!l->opt.quiet)
      wsv_cli_log("wsv: #%lu cannot connect to %s: %s", c->id, l->opt.url,
                  wsv_strerror(rc));
    bridge_detach(c->b);
    free(c);
    return;
  }
  wsv_ws_set_user(c->ws, c);
  bridge_set_ws(c->b, c->ws);
  c->next = l->conns;
  if (l->conns != NULL)
    l->conns->prev = c;
  l->conns = c;
  l->live++;
}

static void bl_on_listen(struct wsv_io *io, int fd, unsigned events,
                         void *user) {
  struct bl *l = user;
  (void)io;
  (void)events;
  for (int k = 0; k < 64; k++) {
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        wsv_cli_log("wsv: accept: %s", strerror(errno));
      return;
    }
    bl_accept_one(l, cfd);
  }
}

static void bl_on_stop_timer(struct wsv_timer *t, void *user) {
  struct bl *l = user;
  (void)t;
  wsv_loop_stop(l->loop);
}

static void bl_on_signal(struct wsv_signal *sig, int signo, void *user) {
  struct bl *l = user;
  (void)sig;
  (void)signo;
  if (l->stopping) { /* a second one: at once */
    wsv_loop_stop(l->loop);
    return;
  }
  l->stopping = 1;
  wsv_io_stop(l->lio);
  l->lio = NULL;
  for (struct bl_conn *c = l->conns; c != NULL; c = c->next) {
    if (wsv_ws_is_open(c->ws))
      (void)wsv_ws_close(c->ws, 1001, "going away", 10);
    else if (wsv_ws_version(c->ws) == 0)
      wsv_ws_abort(c->ws); /* still connecting */
  }
  if (l->live == 0)
    wsv_loop_stop(l->loop);
  else
    (void)wsv_timer_start(l->stop_timer, BL_STOP_MS, 0);
}

/* Parse the command line (argv[0] is "connect").  -1 to go on, or an exit
 * status. */
static int bl_parse(int argc, char **argv, struct bl_opts *o) {
  o->max_message = (uint64_t)16 << 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    uint64_t n;
    int m;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(bl_usage, stdout);
      return 0;
    } else if (strcmp(a, "--insecure") == 0) {
      o->insecure = 1;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o->verbose = 1;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--listen", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error(
            "connect", "--listen needs tcp://HOST:PORT or unix:PATH");
      o->listen = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--cacert", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("connect", "--cacert needs a PEM file");
      o->cacert = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--max-message", &v)) != 0) {
      if (m < 0 || wsv_cli_size(v, 1, UINT64_C(1) << 40, &n) != 0)
        return wsv_cli_usage_error(
            "connect", "--max-message needs a size in bytes, e.g. 16M");
      o->max_message = n;
    } else if (a[0] == '-' && a[1] != '\0') {
      return wsv_cli_usage_error("connect",
                                 "--listen: unknown or unsupported option "
                                 "'%s' (see wsv connect --listen x --help)",
                                 a);
    } else if (o->url == NULL) {
      o->url = a;
    } else {
      return wsv_cli_usage_error("connect", "one URL only ('%s')", a);
    }
  }
  if (o->url == NULL)
    return wsv_cli_usage_error("connect", "--listen needs a URL to carry the "
                                          "connections to");
  struct wsv_url u;
  const char *why;
  if (wsv_url_parse(&u, o->url, strlen(o->url), 0, &why) != WSV_OK)
    return wsv_cli_usage_error("connect", "%s: %s", o->url, why);
  return -1;
}

/* Bind and listen; print the address.  0, or -1 (said on stderr). */
static int bl_listen(struct bl *l) {
  struct bridge_target *w = &l->where;
  l->lfd = socket(w->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->lfd < 0) {
    wsv_cli_say("connect", "--listen %s: %s", w->text, strerror(errno));
    return -1;
  }
  int one = 1;
  if (w->family != AF_UNIX)
    (void)setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l->lfd, (struct sockaddr *)&w->addr, w->addr_len) != 0 ||
      listen(l->lfd, 128) != 0) {
    wsv_cli_say("connect", "--listen %s: %s", w->text, strerror(errno));
    return -1;
  }
  char shown[160];
  if (w->family == AF_UNIX) {
    snprintf(shown, sizeof shown, "%s", w->text);
  } else {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[64] = "?", port[16] = "?";
    if (getsockname(l->lfd, (struct sockaddr *)&ss, &sl) == 0)
      (void)getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port,
                        sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    int v6 = strchr(host, ':') != NULL;
    snprintf(shown, sizeof shown, "tcp://%s%s%s:%s", v6 ? "[" : "", host,
             v6 ? "]" : "", port);
  }
  printf("wsv: listening on %s, carrying each connection to %s\n", shown,
         l->opt.url);
  fflush(stdout);
  return 0;
}

static void bl_config(struct bl *l) {
  struct wsv_client_config *cfg = &l->cfg;
  wsv_client_config_init(cfg);
  cfg->url = l->opt.url;
  cfg->conn.max_message = l->opt.max_message;
  if (cfg->conn.max_frame > l->opt.max_message)
    cfg->conn.max_frame = l->opt.max_message;
  cfg->tls_insecure = l->opt.insecure;
  cfg->tls_cafile = l->opt.cacert;
  cfg->callbacks.open = bl_on_open;
  cfg->callbacks.message = bl_on_message;
  cfg->callbacks.drain = bl_on_drain;
  cfg->callbacks.close = bl_on_close;
  cfg->callbacks.fail = bl_on_fail;
  cfg->user = l;
  cfg->log = bl_on_log;
  cfg->log_user = l;
}

static int bl_run(struct bl *l) {
  char err[300];
  if (bridge_target_parse(l->opt.listen, 1, &l->where, err, sizeof err) != 0)
    return wsv_cli_usage_error("connect", "--listen %s", err);
  if (bridge_set_init(&l->set, NULL, "client", l->opt.quiet,
                      l->opt.verbose) != 0 ||
      wsv_loop_new(&l->loop) != 0) {
    wsv_cli_say("connect", "out of memory");
    return 1;
  }
  static const int sigs[] = {SIGINT, SIGTERM};
  struct wsv_signal *sig = NULL;
  if (wsv_signal_start(l->loop, &sig, sigs, 2, bl_on_signal, l) != 0)
    sig = NULL;
  bl_config(l);
  int status = 1;
  if (wsv_timer_new(l->loop, &l->stop_timer, bl_on_stop_timer, l) == 0 &&
      bl_listen(l) == 0 &&
      wsv_io_start(l->loop, &l->lio, l->lfd, WSV_IO_READ, bl_on_listen, l) ==
          0) {
    int rc = wsv_loop_run(l->loop);
    status = rc == 0 ? 0 : 1;
    if (rc != 0)
      wsv_cli_say("connect", "%s", wsv_strerror(rc));
  }
  /* What is left: dropped, its callbacks run, then the bridges freed. */
  wsv_io_stop(l->lio);
  l->lio = NULL;
  for (struct bl_conn *c = l->conns; c != NULL; c = c->next)
    wsv_ws_abort(c->ws);
  for (int k = 0; k < 4 && l->conns != NULL; k++)
    (void)wsv_loop_run_once(l->loop, 0);
  bridge_sweep(&l->set);
  wsv_timer_free(l->stop_timer);
  wsv_signal_stop(sig);
  wsv_loop_free(l->loop);
  if (l->lfd >= 0) {
    close(l->lfd);
    if (l->where.family == AF_UNIX && status == 0)
      (void)unlink(((struct sockaddr_un *)(void *)&l->where.addr)->sun_path);
  }
  if (status == 0 && !l->opt.quiet)
    wsv_cli_log("wsv: stopped");
  return status;
}

int bridge_listen_main(int argc, char **argv) {
  struct bl l;
  memset(&l, 0, sizeof l);
  l.lfd = -1;
  int rc = bl_parse(argc, argv, &l.opt);
  if (rc < 0)
    rc = bl_run(&l);
  bridge_set_free(&l.set);
  return rc;
}
