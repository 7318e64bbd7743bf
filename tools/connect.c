/*
 * connect.c - `wsv connect`: an interactive WebSocket client.
 *
 * Each line of standard input is sent as a message; each message received
 * is printed on its own line; end of input closes the connection with
 * 1000 and waits for the server's Close.  The version negotiation (a
 * server answering 400/426 with the versions it speaks, and the retry) is
 * the runtime's; -v shows it.
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
#include "wsv_tool.h"

static const char connect_usage[] =
    "usage: wsv connect [--versions LIST] [--binary] [--echo] [--hex]\n"
    "                   [--max-message BYTES] [--no-deflate]\n"
    "                   [--cacert FILE | --insecure] [-v] URL\n"
    "       wsv connect --listen ADDR [options] URL\n"
    "\n"
    "Connect to a WebSocket server (URL: ws://host[:port][/path][?query],\n"
    "or wss://... for TLS).\n"
    "Each line of standard input is sent as a text message (without its\n"
    "newline); each message received is printed on its own line.  At the\n"
    "end of input the connection is closed with 1000, and messages still\n"
    "arriving are printed until the server's Close.\n"
    "\n"
    "  --versions LIST      WebSocket versions we speak, from 13, 8, 7\n"
    "                       (default 13,8,7: 13 first, the others only if\n"
    "                       the server asks for them)\n"
    "  --binary             send each line as a binary message\n"
    "  --echo               send every message received back unchanged\n"
    "                       (same type) instead of printing it; the end of\n"
    "                       input then does not close the connection\n"
    "  --hex                print binary messages as hexadecimal (default:\n"
    "                       their raw bytes)\n"
    "  --max-message BYTES  largest message accepted (default 16M)\n"
    "  --no-deflate         do not offer permessage-deflate (RFC 7692;\n"
    "                       offered by default)\n"
    "  --cacert FILE        wss://: trust the CAs in FILE (PEM) instead of\n"
    "                       the system's store (e.g. a private CA)\n"
    "  --insecure           wss://: accept any certificate and host name\n"
    "                       (testing only)\n"
    "  --listen ADDR        a reverse bridge instead: carry every TCP\n"
    "                       connection accepted on ADDR (tcp://HOST:PORT or\n"
    "                       unix:PATH) over its own WebSocket to URL, bytes\n"
    "                       as binary messages both ways (see wsv connect\n"
    "                       --listen ADDR --help)\n"
    "  -v, --verbose        show the connection, the TLS version and\n"
    "                       cipher, the version negotiation, the agreed\n"
    "                       extensions and the close on standard error\n"
    "\n"
    "Exit status: 0 after a normal close: the server's Close with 1000 (or\n"
    "without a code), also when the server then keeps TCP open (dropped\n"
    "after the 5 s close timeout); 1 if connecting or the handshake failed,\n"
    "the connection broke, the server never answered our Close, or it\n"
    "closed with another code; 2 on a usage error; 128+N after signal N\n"
    "(SIGINT or SIGTERM send a Close with 1001 first).\n";

struct connect_opts {
  const char *url;
  uint32_t versions;
  int binary;
  int echo;
  int hex;
  int verbose;
  int no_deflate;
  int insecure;
  const char *cacert;
  uint64_t max_message;
};

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
  char err[512]; /* the runtime's last error line */
};

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
  if (c->ws != NULL)
    (void)wsv_ws_close(c->ws, 1000, NULL, 0);
}

/* Send one line.  Returns 0, or -1 when input must stop. */
static int connect_send_line(struct connect *c, const char *p, size_t n) {
  c->lineno++;
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

/* End of input: send a last line without a newline, then close (unless
 * --echo, where the server decides when to stop). */
static void connect_input_eof(struct connect *c) {
  if (c->len > 0 && connect_send_line(c, c->line, c->len) != 0)
    return;
  c->len = 0;
  connect_stop_input(c);
  if (!c->opt.echo && c->ws != NULL) {
    if (c->opt.verbose)
      fputs("* end of input: closing with 1000\n", stderr);
    (void)wsv_ws_close(c->ws, 1000, NULL, 0);
  }
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
    fprintf(stderr, "* open: %s, version %d\n", peer, wsv_ws_version(ws));
    const char *ext = wsv_ws_extensions(ws);
    char shown[256];
    if (ext != NULL)
      wsv_cli_printable(ext, strlen(ext), shown, sizeof shown);
    fprintf(stderr, "* extensions: %s\n", ext != NULL ? shown : "none");
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

static void connect_on_message(struct wsv_ws *ws, int opcode, const void *data,
                               size_t len, void *user) {
  struct connect *c = user;
  if (c->opt.echo) {
    (void)wsv_ws_send(ws, opcode, data, len);
    return;
  }
  if (opcode == WSV_OP_BINARY && c->opt.hex)
    connect_print_hex(data, len);
  else if (len > 0)
    fwrite(data, 1, len, stdout);
  fputc('\n', stdout);
  fflush(stdout);
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
  if (c->signo != 0) {
    c->status = 128 + c->signo;
  } else if (wsv_ws_error(ws) != 0) {
    const char *text = wsv_ws_error_text(ws);
    if (strstr(text, "(close ") != NULL) /* wsv_strerror names it already */
      wsv_cli_say("connect", "connection lost: %s", text);
    else
      wsv_cli_say("connect", "connection lost: %s (close %d)", text, code);
    c->status = 1;
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

static void connect_on_fail(struct wsv_ws *ws, int err, const char *text,
                            void *user) {
  struct connect *c = user;
  (void)ws;
  c->ws = NULL;
  if (c->signo != 0) {
    c->status = 128 + c->signo;
  } else {
    const char *t = text != NULL && text[0] != '\0' ? text : wsv_strerror(err);
    if (err == WSV_ERR_HS_NO_COMMON_VERSION)
      wsv_cli_say("connect", "no common WebSocket version: %s", t);
    else
      wsv_cli_say("connect", "%s", t);
    c->status = 1;
  }
  wsv_loop_stop(c->loop);
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

/* Parse the command line.  Returns -1 to go on, or an exit status. */
static int connect_parse(int argc, char **argv, struct connect_opts *o) {
  o->versions = WSV_VERSIONS_ALL;
  o->max_message = WSV_CONN_DEFAULT_MAX_MESSAGE;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    int m;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(connect_usage, stdout);
      return 0;
    } else if (strcmp(a, "--binary") == 0) {
      o->binary = 1;
    } else if (strcmp(a, "--echo") == 0) {
      o->echo = 1;
    } else if (strcmp(a, "--hex") == 0) {
      o->hex = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o->verbose = 1;
    } else if (strcmp(a, "--no-deflate") == 0) {
      o->no_deflate = 1;
    } else if (strcmp(a, "--insecure") == 0 || strcmp(a, "-k") == 0) {
      o->insecure = 1;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--cacert", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("connect", "--cacert needs a PEM file");
      o->cacert = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--versions", &v)) != 0) {
      char err[160];
      if (m < 0)
        return wsv_cli_usage_error("connect", "%s needs a list such as 13,8,7",
                                   a);
      if (wsv_cli_versions(v, &o->versions, err, sizeof err) != 0)
        return wsv_cli_usage_error("connect", "--versions: %s", err);
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--max-message", &v)) != 0) {
      uint64_t n;
      if (m < 0 || wsv_cli_size(v, 1, UINT64_C(1) << 40, &n) != 0)
        return wsv_cli_usage_error(
            "connect",
            "--max-message needs a size in bytes, e.g. 65536 or 16M");
      o->max_message = n;
    } else if (a[0] == '-' && a[1] != '\0') {
      return wsv_cli_usage_error("connect", "unknown option '%s'", a);
    } else if (o->url != NULL) {
      return wsv_cli_usage_error("connect", "one URL only ('%s' is extra)", a);
    } else {
      o->url = a;
    }
  }
  if (o->url == NULL)
    return wsv_cli_usage_error("connect",
                               "no URL given (e.g. ws://127.0.0.1:8080/)");
  if (strncasecmp(o->url, "ws://", 5) != 0 &&
      strncasecmp(o->url, "wss://", 6) != 0)
    return wsv_cli_usage_error(
        "connect", "'%s' is not a WebSocket URL (ws://...)", o->url);
  if (o->insecure && o->cacert != NULL)
    return wsv_cli_usage_error("connect",
                               "--cacert and --insecure exclude each other");
  return -1;
}

static void connect_config(struct connect *c, struct wsv_client_config *cfg) {
  wsv_client_config_init(cfg);
  cfg->url = c->opt.url;
  cfg->handshake.versions = c->opt.versions;
  cfg->conn.max_message = c->opt.max_message;
  cfg->tls_insecure = c->opt.insecure;
  cfg->tls_cafile = c->opt.cacert;
  cfg->handshake.pmd_offer = !c->opt.no_deflate;
  if (cfg->conn.max_frame > c->opt.max_message)
    cfg->conn.max_frame = c->opt.max_message;
  cfg->callbacks.open = connect_on_open;
  cfg->callbacks.message = connect_on_message;
  cfg->callbacks.drain = connect_on_drain;
  cfg->callbacks.close = connect_on_close;
  cfg->callbacks.fail = connect_on_fail;
  cfg->user = c;
  cfg->log = connect_on_log;
  cfg->log_user = c;
}

int wsv_cmd_connect(int argc, char **argv) {
  for (int i = 1; i < argc; i++) /* the reverse bridge: bridge_listen.c */
    if (strcmp(argv[i], "--listen") == 0 ||
        strncmp(argv[i], "--listen=", 9) == 0)
      return bridge_listen_main(argc, argv);
  struct connect c;
  memset(&c, 0, sizeof c);
  int rc = connect_parse(argc, argv, &c.opt);
  if (rc >= 0)
    return rc;
  if (c.opt.verbose) {
    char vl[32];
    wsv_cli_version_list(c.opt.versions, vl, sizeof vl);
    fprintf(stderr, "* we speak %s\n", vl);
  }
  rc = wsv_loop_new(&c.loop);
  if (rc != 0) {
    wsv_cli_say("connect", "%s", wsv_strerror(rc));
    return 1;
  }
  static const int sigs[] = {SIGINT, SIGTERM};
  struct wsv_signal *sig = NULL;
  if (wsv_signal_start(c.loop, &sig, sigs, 2, connect_on_signal, &c) != 0)
    sig = NULL; /* the default actions then apply */
  struct wsv_client_config cfg;
  connect_config(&c, &cfg);
  rc = wsv_client_connect(c.loop, &cfg, &c.ws);
  if (rc != 0) {
    wsv_cli_say("connect", "%s", c.err[0] != '\0' ? c.err : wsv_strerror(rc));
    c.status = 1;
  } else {
    rc = wsv_loop_run(c.loop);
    if (rc != 0) {
      wsv_cli_say("connect", "%s", wsv_strerror(rc));
      c.status = 1;
    }
  }
  connect_stop_input(&c);
  wsv_signal_stop(sig);
  wsv_loop_free(c.loop);
  free(c.line);
  fflush(stdout);
  return c.status;
}
