/*
 * serve.c - `wsv serve`: a WebSocket server for people and test drivers.
 *
 * Every path echoes by default; --chat makes each path a publish/subscribe
 * topic; --exec runs a program per connection (--dir: the program the
 * path names) and bridges its standard input and output to the socket,
 * one line per message; --to bridges every connection to a TCP or Unix
 * socket of its own (bridge.c).  A browser's plain GET / gets a small page
 * (page.html) that talks to the server, or with --staticdir the files of
 * a directory (static.c).
 *
 * The runtime (wsv/rt.h) does the sockets, threads and signals.  This
 * file owns the server: its setup from the options (open-files limit,
 * port check, TLS, the startup and log lines), the echo and chat modes,
 * the page, the accept hook (Origin policy, --dir lookup, --maxforks) and
 * the --header lines.  The command line is serve_opts.c's; the programs of
 * --exec and --dir are exec.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "bridge.h"
#include "cli.h"
#include "exec.h"
#include "serve.h"
#include "static.h"
#include "wsv_tool.h"

/* The whole server: shared by every thread, read-only once running except
 * for the atomic counter and the exec bridge's registry of programs. */
struct serve {
  struct serve_opts opt;
  struct wsv_server *srv;
  atomic_ulong next_id;
  int starting; /* during wsv_server_new: keep errors, print none */
  char start_err[320];
  /* Which pages may open a WebSocket; NULL: every one. */
  struct wsv_origin_policy *origin;
  struct exec exec;          /* --exec, --dir: the programs (exec.h) */
  struct bridge_target to;   /* --to: where (bridge.h) */
  struct bridge_set bridges; /* --to: the bridges */
  struct serve_static files; /* --staticdir (root NULL without) */
  /* The demo page's and the 405's header lines, --header and
   * --header-http ones after them (malloc'd). */
  char *page_headers, *bad_method_headers;
  /* RLIMIT_NOFILE before it was raised, given back to the programs. */
  struct rlimit nofile;
  int nofile_raised;
  /* --broker: chat across instances, and -v's stats line timer. */
  struct wsv_broker *broker;
  struct wsv_timer *stats_timer;
};

/* One WebSocket connection. */
struct serve_conn {
  struct serve *st;
  unsigned long id;
  uint64_t opened_ms;
  uint64_t in;              /* messages received */
  uint64_t out;             /* messages sent (echo, exec) */
  struct exec_child *child; /* --exec: its program */
  struct bridge *bridge;    /* --to: its socket */
};

/* ---- logging ------------------------------------------------------------- */

/* The runtime's log: errors and warnings always, notices unless --quiet,
 * details with -v.  While the server is being set up, errors are kept for
 * the startup message instead. */
static void serve_on_log(void *user, int level, const char *text) {
  struct serve *st = user;
  if (st->starting && level == WSV_LOG_ERROR) {
    snprintf(st->start_err, sizeof st->start_err, "%s", text);
    return;
  }
  if (level <= WSV_LOG_WARN || (level == WSV_LOG_INFO && !st->opt.quiet) ||
      st->opt.verbose)
    wsv_cli_log("wsv: %s", text);
}

static const char *serve_mode_name(const struct serve_opts *o) {
  return o->mode == SERVE_CHAT     ? "chat"
         : o->dir != NULL          ? "dir"
         : o->mode == SERVE_EXEC   ? "exec"
         : o->mode == SERVE_BRIDGE ? "bridge"
                                   : "echo";
}

/* ---- WebSocket callbacks ------------------------------------------------- */

/* --chat: subscribe the connection to its path, or close it. */
static void serve_chat_join(struct wsv_ws *ws, unsigned long id) {
  int rc = wsv_ws_subscribe(ws, wsv_ws_path(ws));
  if (rc < 0) {
    wsv_cli_log("wsv: #%lu cannot subscribe to the path: %s", id,
                wsv_strerror(rc));
    (void)wsv_ws_close(ws, rc == WSV_ERR_INVAL ? 1008 : 1011,
                       "cannot join this path", 21);
  }
}

static void serve_on_open(struct wsv_ws *ws, void *user) {
  struct serve *st = user;
  /* Quiet echo and chat keep nothing per connection: the record only
   * feeds the open/close log lines (and --exec's child). */
  if (st->opt.quiet && !serve_mode_guarded(&st->opt)) {
    if (st->opt.mode == SERVE_CHAT)
      serve_chat_join(ws, 0);
    return;
  }
  struct serve_conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    (void)wsv_ws_close(ws, 1011, "out of memory", 13);
    return;
  }
  c->st = st;
  c->id = atomic_fetch_add(&st->next_id, 1) + 1;
  c->opened_ms = wsv_loop_now(wsv_ws_loop(ws));
  wsv_ws_set_user(ws, c);
  if (!st->opt.quiet) {
    char peer[64] = "?", path[256];
    (void)wsv_ws_peer(ws, peer, sizeof peer);
    const char *p = wsv_ws_path(ws);
    wsv_cli_printable(p, strlen(p), path, sizeof path);
    wsv_cli_log("wsv: #%lu open %s %s version %d%s", c->id, peer, path,
                wsv_ws_version(ws), wsv_ws_http2(ws) ? " over HTTP/2" : "");
  }
  if (st->opt.mode == SERVE_CHAT) {
    serve_chat_join(ws, c->id);
  } else if (st->opt.mode == SERVE_EXEC) {
    if (exec_start(&st->exec, ws, c->id, &c->out, &c->child) != 0)
      (void)wsv_ws_close(ws, 1011, "cannot run the program", 22);
  } else if (st->opt.mode == SERVE_BRIDGE) {
    (void)bridge_connect(&st->bridges, ws, c->id, &c->bridge);
  }
}

/* Echoes of at least this many bytes take over the message's buffer
 * (wsv_ws_take_message + wsv_ws_send_buf) instead of copying it. */
#define SERVE_ECHO_TAKE ((size_t)64 << 10)

static void serve_on_message(struct wsv_ws *ws, int opcode, const void *data,
                             size_t len, void *user) {
  struct serve *st = user;
  struct serve_conn *c = wsv_ws_user(ws); /* NULL when quiet */
  if (c != NULL)
    c->in++;
  switch (st->opt.mode) {
  case SERVE_CHAT:
    (void)wsv_ws_publish(ws, wsv_ws_path(ws), opcode, data, len,
                         WSV_PUBLISH_SELF);
    break;
  case SERVE_EXEC:
    if (c != NULL && c->child != NULL)
      exec_input(c->child, data, len);
    break;
  case SERVE_BRIDGE:
    if (c != NULL && c->bridge != NULL)
      bridge_input(c->bridge, opcode, data, len);
    break;
  default: {
    /* A large message goes back in its own buffer: no copy. */
    uint8_t *buf;
    size_t n;
    int rc = len >= SERVE_ECHO_TAKE && wsv_ws_take_message(ws, &buf, &n) == 0
                 ? wsv_ws_send_buf(ws, opcode, buf, n)
                 : wsv_ws_send(ws, opcode, data, len);
    if (rc >= 0 && c != NULL)
      c->out++;
    break;
  }
  }
}

static void serve_on_drain(struct wsv_ws *ws, void *user) {
  struct serve_conn *c = wsv_ws_user(ws);
  (void)user;
  if (c != NULL && c->child != NULL)
    exec_drain(c->child);
  if (c != NULL && c->bridge != NULL)
    bridge_drain(c->bridge);
}

static void serve_on_close(struct wsv_ws *ws, int code, const char *reason,
                           size_t len, void *user) {
  struct serve *st = user;
  struct serve_conn *c = wsv_ws_user(ws);
  if (c == NULL)
    return;
  if (!st->opt.quiet) {
    char why[160], extra[160] = "", counts[64];
    wsv_cli_printable(reason, len, why, sizeof why);
    if (wsv_ws_error(ws) != 0)
      snprintf(extra, sizeof extra, " (%s)", wsv_ws_error_text(ws));
    uint64_t ms = wsv_loop_now(wsv_ws_loop(ws)) - c->opened_ms;
    if (st->opt.mode == SERVE_CHAT)
      snprintf(counts, sizeof counts, "%llu messages in",
               (unsigned long long)c->in);
    else
      snprintf(counts, sizeof counts, "%llu messages in, %llu out",
               (unsigned long long)c->in, (unsigned long long)c->out);
    wsv_cli_log("wsv: #%lu close %d \"%s\"%s after %llu.%03llus, %s", c->id,
                code, why, extra, (unsigned long long)(ms / 1000),
                (unsigned long long)(ms % 1000), counts);
  }
  if (c->child != NULL)
    exec_detach(c->child);
  if (c->bridge != NULL)
    bridge_detach(c->bridge);
  free(c);
  wsv_ws_set_user(ws, NULL);
}

/* ---- plain HTTP: the page ------------------------------------------------ */

static int serve_str_is(struct wsv_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static void serve_on_http(const struct wsv_hs_server *hs,
                          struct wsv_http_response *res, void *user) {
  static const char not_found[] = "not found; the demo page is at /\n";
  static const char bad_method[] = "method not allowed; use GET\n";
  struct serve *st = user;
  struct wsv_str method = wsv_hs_server_method(hs);
  struct wsv_str path = wsv_hs_server_path(hs);
  if (st->files.root != NULL) {
    static_answer(&st->files, hs, res);
  } else if (!serve_str_is(path, "/")) {
    res->status = 404;
    res->body = not_found;
    res->body_len = sizeof not_found - 1;
    res->headers = st->opt.http_headers;
  } else if (serve_str_is(method, "GET") || serve_str_is(method, "HEAD")) {
    res->status = 200;
    res->content_type = "text/html; charset=utf-8";
    res->body = wsv_page_html;
    res->body_len = wsv_page_html_len;
    res->headers = st->page_headers;
  } else {
    res->status = 405;
    res->body = bad_method;
    res->body_len = sizeof bad_method - 1;
    res->headers = st->bad_method_headers;
  }
  if (!st->opt.quiet) {
    char m[32], p[256];
    wsv_cli_printable(method.ptr, method.len, m, sizeof m);
    wsv_cli_printable(path.ptr, path.len, p, sizeof p);
    wsv_cli_log("wsv: http %s %s %d", m, p, res->status);
  }
}

/* The header lines of the demo page and of its 405, with --header and
 * --header-http after them.  The page's X-Wsv-WebSocket-Http2 says
 * whether this server takes WebSockets over HTTP/2 (1: RFC 8441's
 * extended CONNECT is on; 0: --no-h2-websocket or --no-http2), so that the
 * page, which cannot see its WebSocket's HTTP version, can tell whether a
 * browser may send it on the page's own HTTP/2 connection.  0, or -1 out
 * of memory. */
static int serve_headers_init(struct serve *st) {
  const char *user = st->opt.http_headers != NULL ? st->opt.http_headers : "";
  if (asprintf(&st->page_headers,
               "Cache-Control: no-store\r\n"
               "X-Content-Type-Options: nosniff\r\n"
               "X-Wsv-WebSocket-Http2: %d\r\n%s",
               st->opt.http2 == WSV_HTTP2_ON, user) < 0) {
    st->page_headers = NULL;
    return -1;
  }
  if (asprintf(&st->bad_method_headers, "Allow: GET, HEAD\r\n%s", user) < 0) {
    st->bad_method_headers = NULL;
    return -1;
  }
  return 0;
}

/* ---- which pages may connect (--origin, --sameorigin) -------------------- */

/* --exec, --dir: may this request start a program?  0, or the refusal's
 * status (its reason set, a log line unless --quiet). */
static int serve_admit(struct serve *st, struct wsv_hs_server *hs) {
  struct wsv_str path = wsv_hs_server_path(hs);
  const char *why = "";
  int status = exec_admit(&st->exec, path.ptr, path.len, &why);
  if (status == 0)
    return 0;
  (void)wsv_hs_server_set_reason(hs, why);
  if (!st->opt.quiet) {
    char p[256];
    wsv_cli_printable(path.ptr, path.len, p, sizeof p);
    wsv_cli_log("wsv: %d for %s: %s", status, p, why);
  }
  return status;
}

/* The accept hook: judge the Origin, then whether a program may start.
 * A refusal is a 403 whose body names the options, and a log line (a
 * browser only shows "failed"). */
static int serve_on_accept(struct wsv_hs_server *hs, void *user) {
  struct serve *st = user;
  if (st->opt.mode == SERVE_BRIDGE && /* websockify's: binary first */
      wsv_hs_server_select_subprotocol(hs, "binary") != 0)
    (void)wsv_hs_server_select_subprotocol(hs, "base64");
  if (st->origin == NULL ||
      wsv_origin_check(st->origin, hs, st->opt.cert != NULL) == 0)
    return st->opt.mode == SERVE_EXEC ? serve_admit(st, hs) : 0;
  struct wsv_str o = wsv_hs_server_origin(hs), host = {NULL, 0};
  (void)wsv_hs_server_header(hs, "Host", &host);
  int n = o.len < 64 ? (int)o.len : 64;
  const char *more = o.len > 64 ? "..." : "";
  char reason[256];
  snprintf(reason, sizeof reason,
           "Origin %.*s%s is not allowed; allow it with --origin or "
           "--sameorigin",
           n, o.ptr != NULL ? o.ptr : "", more);
  (void)wsv_hs_server_set_reason(hs, reason);
  if (!st->opt.quiet) {
    char shown[80], h[80];
    wsv_cli_printable(o.ptr, (size_t)n, shown, sizeof shown);
    wsv_cli_printable(host.ptr, host.len, h, sizeof h);
    wsv_cli_log(
        "wsv: 403 for Origin %s%s (Host %s): not allowed; see --origin, "
        "--sameorigin",
        shown, more, h);
  }
  return 403;
}

/* Make the Origin policy: the options', or for a guarded mode
 * (serve_mode_guarded: --exec, --dir) same-origin pages only, or none
 * (every page).  0, or -1 (out of memory). */
static int serve_origin_init(struct serve *st) {
  const char *list = st->opt.origins;
  unsigned flags = st->opt.sameorigin ? WSV_ORIGIN_SAME : 0;
  if (list == NULL && !st->opt.sameorigin) {
    if (!serve_mode_guarded(&st->opt))
      return 0;
    /* The default: the server's own page, reached by address or as
     * localhost (a rebound DNS name could pose as it). */
    flags = WSV_ORIGIN_SAME | WSV_ORIGIN_SAME_ADDRESS;
  }
  if (wsv_origin_policy_new(&st->origin, list, flags, NULL) != 0)
    return -1; /* the list was checked by serve_parse */
  if (wsv_origin_policy_any(st->origin)) {
    wsv_origin_policy_free(st->origin); /* "*": no check at all */
    st->origin = NULL;
  }
  return 0;
}

/* For the startup line: which pages may connect. */
static void serve_origin_text(const struct serve *st, char *buf, size_t cap) {
  if (st->origin == NULL)
    snprintf(buf, cap, "any");
  else if (st->opt.origins == NULL)
    snprintf(buf, cap, "same-origin");
  else
    snprintf(buf, cap, "%s%.200s", st->opt.sameorigin ? "same-origin, " : "",
             st->opt.origins);
}

/* ---- open files ---------------------------------------------------------- */

/* Raise the soft RLIMIT_NOFILE to the hard one: every connection is a
 * descriptor, and 1024 is a common soft default.  The programs of --exec
 * get the original back (exec_spawn.c), since some of them close
 * every descriptor up to the limit or use select(). */
static void serve_raise_nofile(struct serve *st) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0)
    return;
  st->nofile = r;
  if (r.rlim_cur >= r.rlim_max) {
    if (st->opt.verbose)
      wsv_cli_log("wsv: open files: %llu", (unsigned long long)r.rlim_cur);
    return;
  }
  struct rlimit up = {r.rlim_max, r.rlim_max};
  if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
    wsv_cli_log("wsv: cannot raise the open files limit from %llu to %llu: %s",
                (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max,
                strerror(errno));
    return;
  }
  st->nofile_raised = 1;
  if (st->opt.verbose)
    wsv_cli_log("wsv: open files: %llu -> %llu", (unsigned long long)r.rlim_cur,
                (unsigned long long)r.rlim_max);
}

/* ---- setup --------------------------------------------------------------- */

/* Make sure descriptors 0, 1 and 2 are open, so that pipes never take
 * their numbers (the programs' stdin and stdout are set up by number). */
static void serve_fix_std_fds(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
      continue;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != fd) {
      (void)dup2(n, fd);
      close(n);
    }
  }
}

/* Is host:port already taken by a listener?  The runtime's listeners use
 * SO_REUSEPORT, so a second `wsv serve` by the same user would otherwise
 * silently share the port with the first: try a bind without it. */
static int serve_port_taken_one(const char *host, uint16_t port) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", (unsigned)port);
  if (getaddrinfo(host, ps, &hints, &res) != 0)
    return 0; /* the runtime reports it */
  int taken = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    int one = 1, zero = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
      (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    int r = bind(fd, ai->ai_addr, ai->ai_addrlen);
    int e = errno;
    close(fd);
    if (r == 0) {
      taken = 0;
      break;
    }
    if (e == EADDRINUSE)
      taken = 1;
  }
  freeaddrinfo(res);
  return taken;
}

/* The same for a comma-separated list of hosts: taken on any of them. */
static int serve_port_taken(const char *hosts, uint16_t port) {
  for (const char *p = hosts; *p != '\0';) {
    size_t n = strcspn(p, ", ");
    char one[256];
    if (n > 0 && n < sizeof one) {
      memcpy(one, p, n);
      one[n] = '\0';
      if (serve_port_taken_one(one, port))
        return 1;
    }
    p += n;
    p += strspn(p, ", ");
  }
  return 0;
}

static int serve_port_in_use(uint16_t port) {
  fprintf(stderr, "wsv serve: port %u is in use; try --port %u\n",
          (unsigned)port, port < 65535 ? (unsigned)port + 1 : 0u);
  return 1;
}

/* permessage-deflate: the policy the server answers offers with. */
static void serve_config_deflate(const struct serve *st,
                                 struct wsv_server_config *cfg) {
  cfg->handshake.pmd_policy = st->opt.deflate;
}

static void serve_config(struct serve *st, struct wsv_server_config *cfg) {
  wsv_server_config_init(cfg);
  cfg->host = st->opt.host;
  cfg->port = st->opt.port;
  cfg->threads = st->opt.threads;
  cfg->max_connections = st->opt.max_connections;
  cfg->handshake.versions = st->opt.versions;
  serve_config_deflate(st, cfg);
  if (st->opt.handshake_timeout_ms != 0)
    cfg->limits.handshake_timeout_ms = st->opt.handshake_timeout_ms;
  if (st->opt.close_timeout_ms != 0)
    cfg->limits.close_timeout_ms = st->opt.close_timeout_ms;
  cfg->http2 = st->opt.http2;
  cfg->tls_cert_file = st->opt.cert;
  cfg->tls_key_file = st->opt.key;
  if (st->opt.output_budget != UINT64_MAX)
    cfg->output_budget = (size_t)st->opt.output_budget;
  if (st->opt.input_budget != UINT64_MAX)
    cfg->input_budget = (size_t)st->opt.input_budget;
  if (st->opt.max_message != 0) {
    cfg->conn.max_message = st->opt.max_message;
    cfg->conn.max_frame = st->opt.max_message;
  }
  cfg->http = serve_on_http;
  cfg->http_user = st;
  if (st->origin != NULL || st->opt.mode == SERVE_EXEC ||
      st->opt.mode == SERVE_BRIDGE) {
    cfg->handshake.accept = serve_on_accept;
    cfg->handshake.accept_user = st;
  }
  cfg->handshake.extra_headers = st->opt.ws_headers;
  cfg->handle_signals = 1;
  cfg->callbacks.open = serve_on_open;
  cfg->callbacks.message = serve_on_message;
  cfg->callbacks.drain = serve_on_drain;
  cfg->callbacks.close = serve_on_close;
  cfg->user = st;
  cfg->log = serve_on_log;
  cfg->log_user = st;
}

/* Is a startup error about the certificate or key (not the address)? */
static int serve_is_tls_error(const char *e) {
  return strstr(e, "certificate") != NULL || strstr(e, "key") != NULL ||
         strncmp(e, "TLS", 3) == 0;
}

/* The URL line, printed once the server listens: the first address's
 * URL (127.0.0.1 for every address), then the other addresses. */
static void serve_print_url(const struct serve *st) {
  char first[48], more[160] = "";
  if (!wsv_server_address(st->srv, 0, first, sizeof first))
    snprintf(first, sizeof first, "?:%u", (unsigned)wsv_server_port(st->srv));
  const char *h = st->opt.host;
  int any = strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
  if (any)
    snprintf(first, sizeof first, "127.0.0.1:%u",
             (unsigned)wsv_server_port(st->srv));
  size_t m = 0;
  char at[48];
  for (int i = 1; wsv_server_address(st->srv, i, at, sizeof at); i++) {
    int w = snprintf(more + m, sizeof more - m, "%s%s", i == 1 ? "" : ", ", at);
    if (w < 0 || (size_t)w >= sizeof more - m)
      break;
    m += (size_t)w;
  }
  const char *s = st->opt.cert != NULL ? "s" : "";
  printf("wsv: serving on http%s://%s/ (WebSocket: ws%s://%s/)%s%s%s\n", s,
         first, s, first, any ? " on every address" : "",
         m > 0 ? ", also on " : "", more);
  fflush(stdout);
}

/* ---- --broker -------------------------------------------------------------
 */

/* The AUTH password: the first line of --broker-password-file, else
 * $WSV_BROKER_PASSWORD, else none (NULL).  Returns 0, or -1 when the file
 * cannot be read (said on stderr).  buf holds what *out points to. */
static int serve_broker_password(const struct serve *st, char *buf, size_t cap,
                                 const char **out) {
  *out = NULL;
  const char *file = st->opt.broker_password_file;
  if (file == NULL) {
    *out = getenv("WSV_BROKER_PASSWORD");
    return 0;
  }
  FILE *f = fopen(file, "r");
  if (f == NULL || fgets(buf, (int)cap, f) == NULL) {
    fprintf(stderr, "wsv serve: --broker-password-file %s: %s\n", file,
            f == NULL ? strerror(errno) : "empty");
    if (f != NULL)
      fclose(f);
    return -1;
  }
  fclose(f);
  buf[strcspn(buf, "\r\n")] = '\0';
  *out = buf;
  return 0;
}

/* Make the broker of --broker.  Returns -1 to go on, or an exit status
 * (2: a bad URL; 1: anything else), the reason said on stderr. */
static int serve_broker_init(struct serve *st) {
  if (st->opt.broker == NULL)
    return -1;
  char pw[1024];
  struct wsv_redis_config rc;
  wsv_redis_config_init(&rc);
  rc.nodes = st->opt.broker;
  rc.user = st->opt.broker_user;
  if (serve_broker_password(st, pw, sizeof pw, &rc.password) != 0)
    return 1;
  const struct wsv_broker_engine *engine = NULL;
  void *state = NULL;
  const char *why = NULL;
  int r = wsv_redis_engine(&rc, &engine, &state, &why);
  memset(pw, 0, sizeof pw); /* the engine keeps its own copy */
  if (r != 0) {
    fprintf(stderr, "wsv serve: --broker %s: %s\n", st->opt.broker,
            r == WSV_ERR_INVAL && why != NULL ? why : wsv_strerror(r));
    return r == WSV_ERR_INVAL ? 2 : 1;
  }
  struct wsv_broker_config bc;
  wsv_broker_config_init(&bc);
  bc.engine = engine;
  bc.engine_state = state;
  if (st->opt.broker_prefix != NULL)
    bc.prefix = st->opt.broker_prefix;
  bc.log = serve_on_log;
  bc.log_user = st;
  r = wsv_broker_new(&st->broker, &bc);
  if (r != 0) {
    fprintf(stderr, "wsv serve: --broker: %s\n", wsv_strerror(r));
    return 1;
  }
  return -1;
}

/* -v: what the broker did, every 10 s. */
static void serve_broker_stats(struct wsv_timer *t, void *user) {
  struct serve *st = user;
  struct wsv_broker_stats bs;
  (void)t;
  wsv_broker_stats(st->broker, &bs);
  wsv_cli_log("wsv: broker: links %d/%d up, channels %zu, published %llu, "
              "received %llu, dropped %llu, echoes %llu, unrouted %llu, "
              "reconnects %llu",
              bs.links_up, bs.links, bs.channels,
              (unsigned long long)bs.published, (unsigned long long)bs.received,
              (unsigned long long)bs.dropped, (unsigned long long)bs.echoes,
              (unsigned long long)bs.unrouted,
              (unsigned long long)bs.reconnects);
}

static int serve_main(struct serve *st, int argc, char **argv) {
  int rc = serve_parse(argc, argv, &st->opt);
  if (rc >= 0)
    return rc;
  atomic_init(&st->next_id, 0);
  serve_fix_std_fds();
  /* Writes to a program whose input is closed must fail with EPIPE, not
   * kill wsv (the programs get the default SIGPIPE back). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  (void)sigaction(SIGPIPE, &sa, NULL);
  /* Block SIGINT and SIGTERM now, so one arriving between the URL line
   * and wsv_server_run still shuts down gracefully (through the
   * runtime's signalfd) instead of killing the process. */
  sigset_t stop_sigs;
  sigemptyset(&stop_sigs);
  sigaddset(&stop_sigs, SIGINT);
  sigaddset(&stop_sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
  serve_raise_nofile(st);
  if (st->opt.mode == SERVE_BRIDGE) {
    char err[300];
    if (bridge_target_parse(st->opt.to, 0, &st->to, err, sizeof err) != 0)
      return wsv_cli_usage_error("serve", "--to %s", err);
  }
  if (serve_origin_init(st) != 0 || serve_headers_init(st) != 0 ||
      bridge_set_init(&st->bridges, &st->to, "target", st->opt.quiet,
                      st->opt.verbose) != 0) {
    fprintf(stderr, "wsv serve: out of memory\n");
    return 1;
  }
  if (st->opt.mode == SERVE_EXEC &&
      (rc = exec_init(&st->exec, &st->opt,
                      st->nofile_raised ? &st->nofile : NULL)) != 0) {
    if (rc == -2)
      fprintf(stderr, "wsv serve: --dir %s: %s\n", st->opt.dir,
              strerror(errno));
    else
      fprintf(stderr, "wsv serve: out of memory\n");
    return rc == -2 ? 2 : 1;
  }
  if (st->opt.staticdir != NULL &&
      (rc = static_init(&st->files, st->opt.staticdir, st->opt.http_headers)) !=
          0) {
    if (rc == -2)
      fprintf(stderr, "wsv serve: --staticdir %s: %s\n", st->opt.staticdir,
              strerror(errno));
    else
      fprintf(stderr, "wsv serve: out of memory\n");
    return rc == -2 ? 2 : 1;
  }

  if (st->opt.port != 0 && serve_port_taken(st->opt.host, st->opt.port))
    return serve_port_in_use(st->opt.port);
  if ((rc = serve_broker_init(st)) >= 0)
    return rc;
  struct wsv_server_config cfg;
  serve_config(st, &cfg);
  cfg.broker = st->broker;
  st->starting = 1;
  errno = 0;
  rc = wsv_server_new(&st->srv, &cfg);
  if (rc != 0) {
    if (rc == WSV_ERR_EADDRINUSE)
      rc = serve_port_in_use(st->opt.port);
    else if (rc == WSV_ERR_EACCES && st->opt.port < 1024)
      fprintf(stderr, "wsv serve: port %u needs privileges; try --port 8080\n",
              (unsigned)st->opt.port);
    else if (st->start_err[0] != '\0' && st->opt.cert != NULL &&
             serve_is_tls_error(st->start_err))
      fprintf(stderr, "wsv serve: %s\n", st->start_err);
    else if (st->start_err[0] != '\0')
      fprintf(stderr, "wsv serve: cannot listen: %s\n", st->start_err);
    else
      fprintf(stderr, "wsv serve: cannot listen on %s port %u: %s\n",
              st->opt.host, (unsigned)st->opt.port, wsv_strerror(rc));
    return 1;
  }
  st->starting = 0;
  serve_print_url(st);
  if (!st->opt.quiet) {
    char vl[32], origins[256];
    wsv_cli_version_list(st->opt.versions, vl, sizeof vl);
    serve_origin_text(st, origins, sizeof origins);
    char to[160];
    snprintf(to, sizeof to, "to %s", st->to.text);
    const char *what = st->opt.exec  ? st->opt.exec
                       : st->opt.dir ? st->opt.dir
                       : st->opt.to  ? to
                                     : NULL;
    const char *h2 = st->opt.http2 == WSV_HTTP2_OFF ? "HTTP/1.1 only"
                     : st->opt.http2 == WSV_HTTP2_NO_WEBSOCKET
                         ? "HTTP/2 without WebSockets"
                         : "HTTP/2";
    wsv_cli_log("wsv: %s%s%s%s%s, versions %s, %d thread%s%s, %s, deflate %s, "
                "origins %s%s%s; Ctrl-C stops",
                serve_mode_name(&st->opt), what ? " " : "", what ? what : "",
                st->opt.broker ? " across instances through " : "",
                st->opt.broker ? st->opt.broker : "", vl, st->opt.threads,
                st->opt.threads == 1 ? "" : "s", st->opt.cert ? ", TLS" : "",
                h2, wsv_cli_deflate_name(st->opt.deflate), origins,
                st->files.root ? ", files from " : "",
                st->files.root ? st->files.root : "");
  }
  if (st->broker != NULL && st->opt.verbose &&
      wsv_timer_new(wsv_server_loop(st->srv, 0), &st->stats_timer,
                    serve_broker_stats, st) == 0)
    (void)wsv_timer_start(st->stats_timer, 10000, 10000);
  rc = wsv_server_run(st->srv);
  wsv_timer_free(st->stats_timer);
  st->stats_timer = NULL;
  exec_sweep(&st->exec);
  bridge_sweep(&st->bridges);
  wsv_server_free(st->srv);
  if (rc != 0) {
    fprintf(stderr, "wsv serve: %s\n", wsv_strerror(rc));
    return 1;
  }
  if (!st->opt.quiet)
    wsv_cli_log("wsv: stopped");
  return 0;
}

int wsv_cmd_serve(int argc, char **argv) {
  struct serve st;
  memset(&st, 0, sizeof st);
  int rc = serve_main(&st, argc, argv);
  wsv_origin_policy_free(st.origin);
  static_free(&st.files);
  free(st.page_headers);
  free(st.bad_method_headers);
  wsv_broker_free(st.broker); /* after the server (serve_main freed it) */
  exec_free(&st.exec);
  bridge_sweep(&st.bridges);
  bridge_set_free(&st.bridges);
  serve_opts_free(&st.opt);
  return rc;
}
