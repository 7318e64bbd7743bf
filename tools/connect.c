/*
 * connect.c - `wsv connect`: an interactive WebSocket client.
 *
 * Each line of standard input is sent as a message; each message received
 * is printed on its own line (or as JSON); end of input closes the
 * connection with 1000 (after --wait, never with --no-close) and waits for
 * the server's Close.  The version negotiation (a server answering
 * 400/426 with the versions it speaks, and the retry) and the proxy tunnel
 * are the runtime's; redirects are followed here (-L), each on a new
 * client; on a terminal, lines starting with '/' are commands (/ping,
 * /pong, /close, /quit).  The options are connect_opts.c's.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"
#include "wsv/utf8.h"

#include "bridge.h"
#include "cli.h"
#include "connect.h"
#include "wsv_tool.h"

struct connect {
  struct connect_opts opt;
  struct wsv_loop *loop;
  struct wsv_ws *ws;          /* NULL once closed or failed */
  struct wsv_io *in_io;       /* stdin when it can be polled */
  struct wsv_timer *in_timer; /* stdin when it cannot (a regular file) */
  int in_done;                /* end of input seen (or reading stopped) */
  int in_paused;              /* waiting for the drain callback */
  char *line;                 /* the line being read: line[0..len) */
  size_t len, cap;
  unsigned long lineno;
  int status; /* the exit status */
  int signo;  /* the signal that ended us, or 0 */
  int opened;
  int tty;                      /* stdin is a terminal: /commands */
  int quit;                     /* /quit dropped the connection */
  uint64_t received;            /* messages received */
  struct wsv_timer *wait_timer; /* --wait after the end of input */
  char *redirect;               /* the URL to follow next, or NULL */
  char err[512];                /* the runtime's last error line */
};

/* Send our Close (shown with -P).  Returns 0 or wsv_ws_close's error
 * (WSV_ERR_CLOSED when the connection is already closing: callers that
 * only want it closed ignore it). */
static int connect_close(struct connect *c, int code, const char *reason) {
  if (c->ws == NULL)
    return WSV_ERR_CLOSED;
  size_t rl = reason != NULL ? strlen(reason) : 0;
  int rc = wsv_ws_close(c->ws, code, reason, rl);
  if (rc == 0 && c->opt.show_control) {
    char shown[160];
    wsv_cli_printable(reason != NULL ? reason : "", rl, shown, sizeof shown);
    fprintf(stderr, "> close %d%s%s%s\n", code, rl ? " \"" : "", shown,
            rl ? "\"" : "");
  }
  return rc;
}

/* Bytes read from standard input at a time. */
#define CONNECT_READ_CHUNK 65536

/* The runtime's log: with -v every line ("* " in front); errors are kept
 * for the failure message either way. */
static void connect_on_log(void *user, int level, const char *text) {
  struct connect *c = user;
  if (level == WSV_LOG_ERROR && c->err[0] == '\0')
    snprintf(c->err, sizeof c->err, "%s", text);
  if (c->opt.verbose)
    fprintf(stderr, "* %s\n", text);
}

/* ---- standard input ------------------------------------------------------ */

static void connect_stop_input(struct connect *c) {
  c->in_done = 1;
  wsv_io_stop(c->in_io);
  c->in_io = NULL;
  wsv_timer_free(c->in_timer);
  c->in_timer = NULL;
}

/* Pause or resume reading stdin (back-pressure). */
static void connect_pause_input(struct connect *c, int pause) {
  c->in_paused = pause;
  if (c->in_io != NULL)
    (void)wsv_io_set(c->in_io, pause ? 0 : WSV_IO_READ);
  if (c->in_timer != NULL) {
    if (pause)
      wsv_timer_stop(c->in_timer);
    else
      (void)wsv_timer_start(c->in_timer, 0, 0);
  }
}

/* Give up: close normally, but exit 1 (after a bad line). */
static void connect_give_up(struct connect *c) {
  c->status = 1;
  connect_stop_input(c);
  (void)connect_close(c, 1000, NULL);
}

/* A terminal's command line p[0..n) (p[0] == '/').  Returns 0, or -1 when
 * input must stop. */
static int connect_command(struct connect *c, const char *p, size_t n) {
  char line[512];
  snprintf(line, sizeof line, "%.*s", (int)n, p);
  char *arg = line + strcspn(line, " \t");
  if (*arg != '\0')
    *arg++ = '\0';
  arg += strspn(arg, " \t");
  int rc = 0;
  if (strcmp(line, "/ping") == 0 || strcmp(line, "/pong") == 0) {
    int ping = line[2] == 'i';
    size_t al = strlen(arg);
    if (al > 125) {
      wsv_cli_say("connect", "%s: at most 125 bytes of data", line);
      return 0;
    }
    rc = ping ? wsv_ws_ping(c->ws, arg, al) : wsv_ws_pong(c->ws, arg, al);
    if (rc == 0 && c->opt.show_control)
      fprintf(stderr, "> %s: %s\n", ping ? "ping" : "pong", arg);
  } else if (strcmp(line, "/close") == 0) {
    uint64_t code = 1000;
    char *reason = arg + strcspn(arg, " \t");
    if (*reason != '\0')
      *reason++ = '\0';
    reason += strspn(reason, " \t");
    if (*arg != '\0' && (wsv_cli_uint(arg, 1000, 4999, &code) != 0 ||
                         wsv_close_code_valid((int)code) == 0)) {
      wsv_cli_say("connect",
                  "/close: '%s' is not a close code to send "
                  "(1000-1003, 1007-1014, 3000-4999)",
                  arg);
      return 0;
    }
    if (strlen(reason) > 123) {
      wsv_cli_say("connect", "/close: the reason is at most 123 bytes");
      return 0;
    }
    rc = connect_close(c, (int)code, reason);
    if (rc == WSV_ERR_INVAL) {
      wsv_cli_say("connect", "/close: the reason is not valid UTF-8");
      return 0;
    }
    connect_stop_input(c);
    return -1;
  } else if (strcmp(line, "/quit") == 0) {
    connect_stop_input(c);
    c->quit = 1;
    if (c->ws != NULL)
      wsv_ws_abort(c->ws);
    return -1;
  } else {
    wsv_cli_say("connect",
                "unknown command '%s' (/ping, /pong, /close, "
                "/quit; '//' sends a line starting with '/')",
                line);
    return 0;
  }
  if (rc != 0)
    wsv_cli_say("connect", "%s: %s", line, wsv_strerror(rc));
  return 0;
}

/* Send one line.  Returns 0, or -1 when input must stop. */
static int connect_send_line(struct connect *c, const char *p, size_t n) {
  c->lineno++;
  if (c->tty && n > 0 && p[0] == '/') {
    if (n < 2 || p[1] != '/')
      return connect_command(c, p, n);
    p++; /* "//x" sends "/x" */
    n--;
  }
  int op = c->opt.binary ? WSV_OP_BINARY : WSV_OP_TEXT;
  if (op == WSV_OP_TEXT && wsv_utf8_valid((const uint8_t *)p, n) != WSV_OK) {
    wsv_cli_say("connect",
                "line %lu is not valid UTF-8 (use --binary to send bytes)",
                c->lineno);
    connect_give_up(c);
    return -1;
  }
  int rc = wsv_ws_send(c->ws, op, p, n);
  if (rc < 0) {
    connect_stop_input(c); /* closing: the close callback says why */
    return -1;
  }
  if (rc == 1)
    connect_pause_input(c, 1);
  return 0;
}

static void connect_on_wait(struct wsv_timer *t, void *user) {
  struct connect *c = user;
  (void)t;
  if (c->opt.verbose)
    fputs("* --wait is over: closing with 1000\n", stderr);
  (void)connect_close(c, 1000, NULL);
}

/* End of input: send a last line without a newline, then close (unless
 * --echo or --no-close, where the server decides when to stop; after
 * --wait seconds with it). */
static void connect_input_eof(struct connect *c) {
  if (c->len > 0 && connect_send_line(c, c->line, c->len) != 0)
    return;
  c->len = 0;
  connect_stop_input(c);
  if (c->opt.echo || c->opt.no_close || c->ws == NULL)
    return;
  if (c->opt.wait_ms > 0) {
    if (c->opt.verbose)
      fprintf(stderr, "* end of input: reading %u ms more\n",
              (unsigned)c->opt.wait_ms);
    if (wsv_timer_new(c->loop, &c->wait_timer, connect_on_wait, c) == 0 &&
        wsv_timer_start(c->wait_timer, c->opt.wait_ms, 0) == 0)
      return;
  }
  if (c->opt.verbose)
    fputs("* end of input: closing with 1000\n", stderr);
  (void)connect_close(c, 1000, NULL);
}

/* Read once from stdin and send the complete lines. */
static void connect_read_input(struct connect *c) {
  size_t limit = (size_t)c->opt.max_message;
  if (wsv_cli_reserve(&c->line, &c->cap, c->len, CONNECT_READ_CHUNK) != 0) {
    wsv_cli_say("connect", "out of memory");
    connect_give_up(c);
    return;
  }
  ssize_t n = read(STDIN_FILENO, c->line + c->len, CONNECT_READ_CHUNK);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n < 0) {
    wsv_cli_say("connect", "reading standard input: %s", strerror(errno));
    connect_give_up(c);
    return;
  }
  if (n == 0) {
    connect_input_eof(c);
    return;
  }
  size_t start = 0, scan = c->len;
  c->len += (size_t)n;
  char *nl;
  while ((nl = memchr(c->line + scan, '\n', c->len - scan)) != NULL) {
    size_t end = (size_t)(nl - c->line);
    if (connect_send_line(c, c->line + start, end - start) != 0)
      return;
    start = scan = end + 1;
  }
  if (start > 0) {
    memmove(c->line, c->line + start, c->len - start);
    c->len -= start;
  }
  if (c->len > limit) {
    wsv_cli_say("connect", "line %lu is longer than %zu bytes (--max-message)",
                c->lineno + 1, limit);
    connect_give_up(c);
  }
}

static void connect_on_stdin(struct wsv_io *io, int fd, unsigned events,
                             void *user) {
  (void)io;
  (void)fd;
  (void)events;
  connect_read_input(user);
}

/* stdin that epoll refuses (a regular file, /dev/null) never blocks: read
 * a chunk per loop iteration from a zero-delay timer. */
static void connect_on_stdin_timer(struct wsv_timer *t, void *user) {
  struct connect *c = user;
  connect_read_input(c);
  if (c->in_timer == t && !c->in_paused && !c->in_done)
    (void)wsv_timer_start(t, 0, 0);
}

static void connect_start_input(struct connect *c) {
  if (wsv_io_start(c->loop, &c->in_io, STDIN_FILENO, WSV_IO_READ,
                   connect_on_stdin, c) == 0)
    return;
  c->in_io = NULL;
  if (wsv_timer_new(c->loop, &c->in_timer, connect_on_stdin_timer, c) != 0 ||
      wsv_timer_start(c->in_timer, 0, 0) != 0) {
    wsv_cli_say("connect", "cannot read standard input");
    connect_give_up(c);
  }
}

/* ---- WebSocket callbacks ------------------------------------------------- */

static void connect_on_open(struct wsv_ws *ws, void *user) {
  struct connect *c = user;
  c->opened = 1;
  if (c->opt.verbose) {
    char peer[64] = "?";
    (void)wsv_ws_peer(ws, peer, sizeof peer);
    fprintf(stderr, "* open: %s, version %d, over %s\n", peer,
            wsv_ws_version(ws), wsv_ws_http2(ws) ? "HTTP/2" : "HTTP/1.1");
    const char *ext = wsv_ws_extensions(ws);
    char shown[256];
    if (ext != NULL)
      wsv_cli_printable(ext, strlen(ext), shown, sizeof shown);
    fprintf(stderr, "* extensions: %s\n", ext != NULL ? shown : "none");
    const char *sp = wsv_ws_subprotocol(ws);
    if (sp != NULL)
      wsv_cli_printable(sp, strlen(sp), shown, sizeof shown);
    fprintf(stderr, "* subprotocol: %s\n", sp != NULL ? shown : "none");
  }
  connect_start_input(c);
}

static void connect_print_hex(const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char buf[512];
  size_t o = 0;
  for (size_t k = 0; k < n; k++) {
    buf[o++] = digits[p[k] >> 4];
    buf[o++] = digits[p[k] & 15];
    if (o == sizeof buf) {
      fwrite(buf, 1, o, stdout);
      o = 0;
    }
  }
  fwrite(buf, 1, o, stdout);
}

/* One message as a JSON object on a line of stdout. */
static void connect_print_json(int opcode, const uint8_t *p, size_t n) {
  printf("{\"type\":\"%s\",\"length\":%zu,\"%s\":\"",
         opcode == WSV_OP_TEXT ? "text" : "binary", n,
         opcode == WSV_OP_TEXT ? "text" : "base64");
  if (opcode == WSV_OP_TEXT) {
    for (size_t k = 0; k < n; k++) { /* valid UTF-8: only escapes needed */
      unsigned char ch = p[k];
      if (ch == '"' || ch == '\\')
        printf("\\%c", ch);
      else if (ch < 0x20 || ch == 0x7f)
        printf("\\u%04x", ch);
      else
        putchar(ch);
    }
  } else {
    char b64[4 * 1024 + 1];
    for (size_t k = 0; k < n; k += 3 * 1024) {
      size_t m = n - k < 3 * 1024 ? n - k : 3 * 1024;
      size_t w = wsv_base64_encode(p + k, m, b64, sizeof b64);
      fwrite(b64, 1, w, stdout);
    }
  }
  fputs("\"}", stdout);
}

static void connect_on_message(struct wsv_ws *ws, int opcode, const void *data,
                               size_t len, void *user) {
  struct connect *c = user;
  if (c->opt.count > 0 && c->received >= c->opt.count)
    return; /* after -n N: closing */
  c->received++;
  if (c->opt.echo) {
    (void)wsv_ws_send(ws, opcode, data, len);
  } else if (c->opt.json) {
    connect_print_json(opcode, data, len);
  } else if (opcode == WSV_OP_BINARY && c->opt.hex) {
    connect_print_hex(data, len);
  } else if (len > 0) {
    fwrite(data, 1, len, stdout);
  }
  if (!c->opt.echo) {
    fputc('\n', stdout);
    fflush(stdout);
  }
  if (c->opt.count > 0 && c->received == c->opt.count) {
    if (c->opt.verbose)
      fprintf(stderr, "* %llu messages: closing with 1000\n",
              (unsigned long long)c->received);
    connect_stop_input(c);
    (void)connect_close(c, 1000, NULL);
  }
}

static void connect_on_control(struct wsv_ws *ws, int opcode, const void *data,
                               size_t len, void *user) {
  struct connect *c = user;
  (void)ws;
  if (!c->opt.show_control)
    return;
  char shown[160];
  wsv_cli_printable(data, len, shown, sizeof shown);
  fprintf(stderr, "< %s: %s\n", opcode == WSV_OP_PING ? "ping" : "pong", shown);
}

static void connect_on_drain(struct wsv_ws *ws, void *user) {
  struct connect *c = user;
  (void)ws;
  if (c->in_paused && !c->in_done)
    connect_pause_input(c, 0);
}

static void connect_on_close(struct wsv_ws *ws, int code, const char *reason,
                             size_t len, void *user) {
  struct connect *c = user;
  char why[160];
  wsv_cli_printable(reason, len, why, sizeof why);
  c->ws = NULL;
  connect_stop_input(c);
  wsv_timer_free(c->wait_timer);
  c->wait_timer = NULL;
  if (c->opt.show_control && code != 1006 && code != 1015)
    fprintf(stderr, "< close %d%s%s%s\n", code, why[0] ? " \"" : "", why,
            why[0] ? "\"" : "");
  if (c->signo != 0) {
    c->status = 128 + c->signo;
  } else if (c->quit) {
    c->status = 0; /* asked for: not a failure */
  } else if (wsv_ws_error(ws) != 0) {
    const char *text = wsv_ws_error_text(ws);
    if (strstr(text, "(close ") != NULL) /* wsv_strerror names it already */
      wsv_cli_say("connect", "connection lost: %s", text);
    else
      wsv_cli_say("connect", "connection lost: %s (close %d)", text, code);
    c->status = 1;
  } else if (c->opt.exit_mode == CONNECT_EXIT_CLOSE) {
    c->status = connect_exit(code);
    if (c->opt.verbose)
      fprintf(stderr, "* closed: %d \"%s\" (exit status %d)\n", code, why,
              c->status);
  } else if (code == 1000 || code == 1005) {
    if (c->opt.verbose)
      fprintf(stderr, "* closed: %d \"%s\"\n", code, why);
  } else {
    wsv_cli_say("connect", "server closed the connection with %d%s%s%s", code,
                why[0] ? " \"" : "", why, why[0] ? "\"" : "");
    c->status = 1;
  }
  wsv_loop_stop(c->loop);
}

/* 1 for the statuses -L follows. */
static int connect_is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

static void connect_on_fail(struct wsv_ws *ws, int err, const char *text,
                            void *user) {
  struct connect *c = user;
  c->ws = NULL;
  c->status = 1;
  wsv_loop_stop(c->loop);
  if (c->signo != 0) {
    c->status = 128 + c->signo;
    return;
  }
  const char *t = text != NULL && text[0] != '\0' ? text : wsv_strerror(err);
  int st = wsv_client_status(ws);
  const char *loc = wsv_client_location(ws);
  if (connect_is_redirect(st) && loc != NULL) {
    if (c->opt.follow) {
      free(c->redirect);
      c->redirect = strdup(loc); /* NULL: reported as no memory below */
      if (c->redirect != NULL) {
        if (c->opt.verbose)
          fprintf(stderr, "* redirect: %d to %s\n", st, loc);
        return;
      }
      t = "out of memory";
    } else {
      wsv_cli_say("connect",
                  "the server redirects (%d) to %s (use -L to follow)", st,
                  loc);
      return;
    }
  }
  if (err == WSV_ERR_HS_NO_COMMON_VERSION)
    wsv_cli_say("connect", "no common WebSocket version: %s", t);
  else
    wsv_cli_say("connect", "%s", t);
}

/* SIGINT / SIGTERM: the first sends a Close with 1001 ("going away") and
 * waits for the server's; the second (or one during the handshake) drops
 * the connection at once. */
static void connect_on_signal(struct wsv_signal *sig, int signo, void *user) {
  struct connect *c = user;
  (void)sig;
  int again = c->signo != 0;
  c->signo = signo;
  connect_stop_input(c);
  if (c->ws == NULL) {
    wsv_loop_stop(c->loop);
    return;
  }
  if (again || !c->opened || wsv_ws_close(c->ws, 1001, "going away", 10) != 0)
    wsv_ws_abort(c->ws);
}

/* ---- setup --------------------------------------------------------------- */

/* 1 if a and b name the same host and port. */
static int connect_same_authority(const char *a, const char *b) {
  struct wsv_url ua, ub;
  if (wsv_url_parse(&ua, a, strlen(a), 0, NULL) != WSV_OK ||
      wsv_url_parse(&ub, b, strlen(b), 0, NULL) != WSV_OK)
    return 0;
  return ua.port == ub.port && ua.host.len == ub.host.len &&
         strncasecmp(ua.host.ptr, ub.host.ptr, ua.host.len) == 0;
}

/* The settings for one attempt at `url` (the first or a redirect's);
 * `proxy_buf` holds an environment proxy given without a scheme. */
static void connect_config(struct connect *c, struct wsv_client_config *cfg,
                           const char *url, char *proxy_buf, size_t pcap) {
  struct connect_opts *o = &c->opt;
  wsv_client_config_init(cfg);
  cfg->url = url;
  cfg->handshake.versions = o->versions;
  cfg->conn.max_message = o->max_message;
  cfg->tls_insecure = o->insecure;
  cfg->tls_cafile = o->cacert;
  cfg->handshake.pmd_offer = !o->no_deflate;
  cfg->http = o->http2   ? WSV_CLIENT_HTTP2
              : o->http1 ? WSV_CLIENT_HTTP1
                         : WSV_CLIENT_HTTP_AUTO;
  cfg->handshake.origin = o->origin;
  cfg->handshake.subprotocols = o->subprotocols;
  cfg->handshake.nsubprotocols = o->nsubprotocols;
  size_t nh = o->nheaders;
  /* Basic credentials go to the URL's host only, not to a redirect's
   * other host (as curl does without --location-trusted). */
  if (o->auth_hdr != NULL && connect_same_authority(o->url, url)) {
    o->headers[nh].name.ptr = "Authorization";
    o->headers[nh].name.len = 13;
    o->headers[nh].value.ptr = o->auth_hdr;
    o->headers[nh].value.len = strlen(o->auth_hdr);
    nh++;
  }
  cfg->handshake.headers = o->headers;
  cfg->handshake.nheaders = nh;
  if (cfg->conn.max_frame > o->max_message)
    cfg->conn.max_frame = o->max_message;
  if (o->ping_given) { /* a ping every S s; no answer within S s: gone */
    cfg->limits.ping_interval_ms = o->ping_interval_ms;
    cfg->limits.pong_timeout_ms = o->ping_interval_ms;
  }
  const char *from = NULL;
  const char *px = connect_pick_proxy(o, url, &from);
  if (px != NULL && strstr(px, "://") == NULL) { /* "host:port" */
    snprintf(proxy_buf, pcap, "http://%s", px);
    px = proxy_buf;
  }
  cfg->proxy = px;
  if (o->verbose && px != NULL)
    fprintf(stderr, "* proxy: %s (from %s)\n", px, from);
  cfg->callbacks.open = connect_on_open;
  cfg->callbacks.message = connect_on_message;
  cfg->callbacks.control = connect_on_control;
  cfg->callbacks.drain = connect_on_drain;
  cfg->callbacks.close = connect_on_close;
  cfg->callbacks.fail = connect_on_fail;
  cfg->user = c;
  cfg->log = connect_on_log;
  cfg->log_user = c;
}

/* Connect to url and run until the connection ends.  Returns 0, or -1
 * when the client could not even start (status set). */
static int connect_run(struct connect *c, const char *url) {
  struct wsv_client_config cfg;
  char proxy_buf[1024];
  connect_config(c, &cfg, url, proxy_buf, sizeof proxy_buf);
  c->err[0] = '\0';
  int rc = wsv_client_connect(c->loop, &cfg, &c->ws);
  if (rc != 0) {
    wsv_cli_say("connect", "%s", c->err[0] != '\0' ? c->err : wsv_strerror(rc));
    c->status = 1;
    return -1;
  }
  rc = wsv_loop_run(c->loop);
  if (rc != 0) {
    wsv_cli_say("connect", "%s", wsv_strerror(rc));
    c->status = 1;
    return -1;
  }
  return 0;
}

/* Connect, following redirects (-L) up to --max-redirects hops and
 * stopping at the first URL seen twice. */
static void connect_follow(struct connect *c) {
  char *seen[CONNECT_DEFAULT_REDIRECTS * 10 + 2];
  size_t nseen = 0;
  seen[nseen++] = strdup(c->opt.url);
  const char *url = c->opt.url;
  unsigned hops = 0;
  while (connect_run(c, url) == 0 && c->redirect != NULL) {
    char why[200];
    char *next = connect_redirect(url, c->redirect, why, sizeof why);
    free(c->redirect);
    c->redirect = NULL;
    c->status = 1;
    if (next == NULL) {
      wsv_cli_say("connect", "cannot follow the redirect: %s", why);
      break;
    }
    int loop = 0;
    for (size_t k = 0; k < nseen; k++)
      loop |= seen[k] != NULL && strcmp(seen[k], next) == 0;
    if (loop) {
      wsv_cli_say("connect", "redirect loop: %s was visited already", next);
      free(next);
      break;
    }
    if (++hops > c->opt.max_redirects) {
      wsv_cli_say("connect", "too many redirects (over %u, --max-redirects)",
                  c->opt.max_redirects);
      free(next);
      break;
    }
    seen[nseen++] = next;
    url = next;
    c->status = 0;
  }
  for (size_t k = 0; k < nseen; k++)
    free(seen[k]);
}

int wsv_cmd_connect(int argc, char **argv) {
  /* `wsv connect --listen ...` (the reverse bridge: local TCP connections
   * carried over WebSockets) has its own options and file: dispatch to it
   * here, before the client's parser. */
  for (int i = 1; i < argc; i++) /* the reverse bridge: bridge_listen.c */
    if (strcmp(argv[i], "--listen") == 0 ||
        strncmp(argv[i], "--listen=", 9) == 0)
      return bridge_listen_main(argc, argv);
  struct connect c;
  memset(&c, 0, sizeof c);
  int rc = connect_parse(argc, argv, &c.opt);
  if (rc >= 0) {
    connect_opts_free(&c.opt);
    return rc;
  }
  if (c.opt.verbose) {
    char vl[32];
    wsv_cli_version_list(c.opt.versions, vl, sizeof vl);
    fprintf(stderr, "* we speak %s\n", vl);
  }
  c.tty = isatty(STDIN_FILENO);
  rc = wsv_loop_new(&c.loop);
  if (rc != 0) {
    wsv_cli_say("connect", "%s", wsv_strerror(rc));
    connect_opts_free(&c.opt);
    return 1;
  }
  static const int sigs[] = {SIGINT, SIGTERM};
  struct wsv_signal *sig = NULL;
  if (wsv_signal_start(c.loop, &sig, sigs, 2, connect_on_signal, &c) != 0)
    sig = NULL; /* the default actions then apply */
  connect_follow(&c);
  connect_stop_input(&c);
  wsv_timer_free(c.wait_timer);
  wsv_signal_stop(sig);
  wsv_loop_free(c.loop);
  free(c.line);
  free(c.redirect);
  connect_opts_free(&c.opt);
  fflush(stdout);
  return c.status;
}
