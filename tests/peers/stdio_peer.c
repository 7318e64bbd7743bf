/*
 * stdio_peer - a WebSocket endpoint on stdin/stdout, built on the public
 * sans-I/O API of wsv only, so that another implementation can drive the
 * core through two pipes (tests/peers/python_sansio.py does).
 *
 *   stdio_peer server [--versions 13,8,7] [--status-426|--status-400]
 *       Reads a handshake request from stdin and answers it through the
 *       core.  After an error answer it prints "REJECT <status> <reason>"
 *       to stderr and exits 0.  After a 101 it prints "OPEN version=<v>
 *       path=<p>", echoes every message whole (text as text, binary as
 *       binary), lets the core answer pings, completes the closing
 *       handshake and exits 0 once the core says the socket may be closed.
 *
 *   stdio_peer client [--versions 13,8,7] [--host h] [--path /p]
 *                     [--subprotocol x]... ACTION...
 *       Sends the request and judges the answer.  A version retry prints
 *       "RETRY <v>" and exits 3 (one stdio stream cannot reconnect); a
 *       failed handshake prints "ERROR <name> <reason>" and exits 2.  Then
 *       runs the actions in order:
 *         --send-text STR          --send-text-hex HEX
 *         --send-binary-hex HEX    --send-binary-size N (byte i = i % 251)
 *         --send-text-frags A,B,C  (one text message in several frames)
 *         --send-ping STR          --expect N (wait for N data messages)
 *         --close CODE[:REASON]
 *       and reads until stdin ends (the server closes first).
 *
 * Both roles print every event to stderr, one line each:
 *   TEXT <len> <hex>, BINARY <len> <hex>, PING <len> <hex>,
 *   PONG <len> <hex>, CLOSE <code> <reason>, FAIL <close code> <error name>.
 * Exit status: 0 after a clean closing handshake or after a failure whose
 * Close was sent; 1 on an I/O problem or a premature end of input; 2 on a
 * usage error or a failed client handshake; 3 on a version retry.
 *
 * This is a test tool: it calls read() and write() itself.  The library
 * stays sans-I/O.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsv.h"

/* Exit statuses (see the top of the file). */
enum { EXIT_IO = 1, EXIT_USAGE = 2, EXIT_RETRY = 3 };

/* The size of one read from stdin. */
#define PEER_READ_SIZE 65536

/* Write all of p[0..len) to fd, retrying after EINTR and short writes.
 * Returns 0, or -1 on any other error (EPIPE included). */
static int write_all(int fd, const void *p, size_t len) {
  const char *c = p;
  while (len > 0) {
    ssize_t w = write(fd, c, len);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return -1;
    }
    c += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Read up to cap bytes from fd into p, retrying after EINTR.  Returns the
 * count, 0 at the end of input, or -1 on an error. */
static ssize_t read_some(int fd, void *p, size_t cap) {
  for (;;) {
    ssize_t r = read(fd, p, cap);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    return r;
  }
}

/* Print `tag`, a length and the bytes in hex as one stderr line. */
static void print_bytes(const char *tag, const uint8_t *p, size_t len) {
  static const char digits[] = "0123456789abcdef";
  char chunk[512];
  size_t n = 0;
  fprintf(stderr, "%s %zu ", tag, len);
  for (size_t i = 0; i < len; i++) {
    chunk[n++] = digits[p[i] >> 4];
    chunk[n++] = digits[p[i] & 0xf];
    if (n == sizeof chunk) {
      fwrite(chunk, 1, n, stderr);
      n = 0;
    }
  }
  fwrite(chunk, 1, n, stderr);
  fputc('\n', stderr);
}

/* The value of one hex digit, or -1. */
static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* Decode a hex string into a new buffer; *len receives its length.
 * Returns NULL (after a message) for an odd length or a non-hex digit. */
static uint8_t *hex_decode(const char *s, size_t *len) {
  size_t n = strlen(s);
  if (n % 2 != 0) {
    fprintf(stderr, "stdio_peer: odd hex length: %s\n", s);
    return NULL;
  }
  uint8_t *out = malloc(n / 2 + 1);
  if (out == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      fprintf(stderr, "stdio_peer: bad hex: %s\n", s);
      free(out);
      return NULL;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return out;
}

/* Parse "13,8,7" into a version set.  Returns 0 on failure. */
static uint32_t parse_versions(const char *s) {
  uint32_t set = 0;
  while (*s != '\0') {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || (v != 13 && v != 8 && v != 7)) {
      return 0;
    }
    set |= WSV_VERSION_BIT(v);
    s = end;
    if (*s == ',') {
      s++;
    } else if (*s != '\0') {
      return 0;
    }
  }
  return set;
}

/* Write everything the connection has queued to stdout.  Returns 0, or -1
 * if stdout failed. */
static int flush_output(struct wsv_conn *conn) {
  struct wsv_iovec iov[64];
  while (wsv_conn_want_write(conn)) {
    int k = wsv_conn_output(conn, iov, 64);
    size_t total = 0;
    if (k <= 0) {
      fprintf(stderr, "stdio_peer: output queue inconsistent (%d)\n", k);
      return -1;
    }
    for (int i = 0; i < k; i++) {
      if (write_all(STDOUT_FILENO, iov[i].base, iov[i].len) != 0) {
        fprintf(stderr, "stdio_peer: write: %s\n", strerror(errno));
        return -1;
      }
      total += iov[i].len;
    }
    if (wsv_conn_consume_output(conn, total) != WSV_OK) {
      fprintf(stderr, "stdio_peer: consume_output refused %zu\n", total);
      return -1;
    }
  }
  return 0;
}

/* What one endpoint has seen; shared by both roles. */
struct peer {
  struct wsv_conn *conn;
  int echo;           /* 1: echo data messages (server) */
  size_t messages;    /* data messages received */
  int close_received; /* 1 once the peer's Close arrived */
  int failed;         /* 1 once the connection failed */
};

/* Report one event and, for a server, echo data messages.  Returns 0, or
 * -1 if an echo could not be queued. */
static int handle_event(struct peer *p, const struct wsv_event *ev) {
  switch (ev->type) {
  case WSV_EV_TEXT:
  case WSV_EV_BINARY:
    print_bytes(ev->type == WSV_EV_TEXT ? "TEXT" : "BINARY", ev->data, ev->len);
    p->messages++;
    if (p->echo) {
      int rc = wsv_conn_send(p->conn, ev->opcode, ev->data, ev->len);
      if (rc != WSV_OK) {
        fprintf(stderr, "SENDERR %s\n", wsv_err_name(rc));
        return -1;
      }
    }
    break;
  case WSV_EV_PING:
    print_bytes("PING", ev->data, ev->len);
    break;
  case WSV_EV_PONG:
    print_bytes("PONG", ev->data, ev->len);
    break;
  case WSV_EV_CLOSE:
    fprintf(stderr, "CLOSE %d ", ev->close_code);
    fwrite(ev->data, 1, ev->len, stderr);
    fputc('\n', stderr);
    p->close_received = 1;
    break;
  case WSV_EV_ERROR:
    fprintf(stderr, "FAIL %d %s\n", ev->close_code, wsv_err_name(ev->err));
    p->failed = 1;
    break;
  default:
    fprintf(stderr, "stdio_peer: unknown event %d\n", ev->type);
    return -1;
  }
  return 0;
}

/* Hand buf[0..len) to the connection, handle every event it yields, then
 * write what was queued.  Returns 0, or -1 on a failure already reported. */
static int feed(struct peer *p, uint8_t *buf, size_t len) {
  struct wsv_event ev;
  int rc = wsv_conn_recv(p->conn, buf, len);
  if (rc != WSV_OK) {
    fprintf(stderr, "stdio_peer: wsv_conn_recv: %s\n", wsv_err_name(rc));
    return -1;
  }
  for (;;) {
    int t = wsv_conn_next_event(p->conn, &ev);
    if (t == WSV_EV_NONE) {
      break;
    }
    if (t < 0) {
      fprintf(stderr, "stdio_peer: next_event: %s\n", wsv_err_name(t));
      return -1;
    }
    if (handle_event(p, &ev) != 0) {
      return -1;
    }
  }
  return flush_output(p->conn);
}

/* Read one chunk from stdin and feed it.  Returns 1 after a chunk, 0 at
 * the end of input, -1 on an error. */
static int pump_once(struct peer *p, uint8_t *buf) {
  ssize_t r = read_some(STDIN_FILENO, buf, PEER_READ_SIZE);
  if (r < 0) {
    fprintf(stderr, "stdio_peer: read: %s\n", strerror(errno));
    return -1;
  }
  if (r == 0) {
    return 0;
  }
  return feed(p, buf, (size_t)r) == 0 ? 1 : -1;
}

/* ---- server ---------------------------------------------------------- */

struct server_opts {
  uint32_t versions;
  int unsupported_status;
};

/* Run the server handshake on stdin/stdout.  On success *hs_out holds the
 * accepted handshake and *buf_out and *len_out the bytes read so far (frames
 * follow the head).  Returns 0 when accepted, 1 when an error answer was
 * sent, -1 on an I/O error. */
static int server_handshake(const struct server_opts *o,
                            struct wsv_hs_server **hs_out, char **buf_out,
                            size_t *len_out) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  wsv_hs_server_config_init(&cfg);
  cfg.versions = o->versions;
  cfg.unsupported_status = o->unsupported_status;
  cfg.plain_http = WSV_HS_PLAIN_426;
  int rc = wsv_hs_server_new(&hs, &cfg, NULL);
  if (rc != WSV_OK) {
    fprintf(stderr, "stdio_peer: wsv_hs_server_new: %s\n", wsv_err_name(rc));
    return -1;
  }
  size_t cap = cfg.max_head_bytes, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) {
    wsv_hs_server_free(hs);
    return -1;
  }
  int result = WSV_HS_INCOMPLETE;
  while (result == WSV_HS_INCOMPLETE) {
    size_t want = wsv_hs_server_want(hs);
    size_t room = cap - len < want ? cap - len : want;
    ssize_t r = room > 0 ? read_some(STDIN_FILENO, buf + len, room) : 0;
    if (r <= 0) {
      fprintf(stderr, "stdio_peer: input ended inside the request head\n");
      free(buf);
      wsv_hs_server_free(hs);
      return -1;
    }
    len += (size_t)r;
    result = wsv_hs_server_parse(hs, buf, len);
    if (result < 0) {
      fprintf(stderr, "stdio_peer: parse: %s\n", wsv_err_name(result));
      free(buf);
      wsv_hs_server_free(hs);
      return -1;
    }
  }
  size_t n = wsv_hs_server_response(hs, NULL, 0);
  char *resp = malloc(n + 1);
  int ret = -1;
  if (resp != NULL && wsv_hs_server_response(hs, resp, n) == n &&
      write_all(STDOUT_FILENO, resp, n) == 0) {
    ret = result == WSV_HS_ACCEPT ? 0 : 1;
  }
  free(resp);
  if (ret == 1) {
    fprintf(stderr, "REJECT %d %s\n", wsv_hs_server_status(hs),
            wsv_hs_server_reason(hs));
  }
  if (ret != 0) {
    free(buf);
    wsv_hs_server_free(hs);
    return ret;
  }
  struct wsv_str path = wsv_hs_server_path(hs);
  fprintf(stderr, "OPEN version=%d path=%.*s\n", wsv_hs_server_version(hs),
          (int)path.len, path.ptr);
  *hs_out = hs;
  *buf_out = buf;
  *len_out = len;
  return 0;
}

/* Run the connection loop shared by both roles until the core says the
 * socket may be closed (returns 0) or stdin ends.  At the end of input a
 * client whose closing handshake is complete returns 0; anything else is
 * premature and returns EXIT_IO. */
static int run_until_closed(struct peer *p, uint8_t *buf) {
  for (;;) {
    if (wsv_conn_want_close_socket(p->conn)) {
      return 0;
    }
    int r = pump_once(p, buf);
    if (r < 0) {
      return EXIT_IO;
    }
    if (r == 0) {
      if (p->close_received && !wsv_conn_want_write(p->conn)) {
        return 0;
      }
      fprintf(stderr, "EOF before the closing handshake (state %d)\n",
              wsv_conn_state(p->conn));
      return EXIT_IO;
    }
  }
}

static int server_main(int argc, char **argv) {
  struct server_opts o = {WSV_VERSIONS_DEFAULT, 426};
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--versions") == 0 && i + 1 < argc) {
      o.versions = parse_versions(argv[++i]);
      if (o.versions == 0) {
        fprintf(stderr, "stdio_peer: bad --versions %s\n", argv[i]);
        return EXIT_USAGE;
      }
    } else if (strcmp(argv[i], "--status-426") == 0) {
      o.unsupported_status = 426;
    } else if (strcmp(argv[i], "--status-400") == 0) {
      o.unsupported_status = 400;
    } else {
      fprintf(stderr, "stdio_peer: unknown server option %s\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  struct wsv_hs_server *hs = NULL;
  char *hsbuf = NULL;
  size_t hslen = 0;
  int rc = server_handshake(&o, &hs, &hsbuf, &hslen);
  if (rc != 0) {
    return rc < 0 ? EXIT_IO : 0;
  }
  struct peer p = {NULL, 1, 0, 0, 0};
  uint8_t *buf = malloc(PEER_READ_SIZE);
  int ret = EXIT_IO;
  rc = wsv_conn_new(&p.conn, WSV_ROLE_SERVER, NULL, NULL);
  if (rc != WSV_OK) {
    fprintf(stderr, "stdio_peer: wsv_conn_new: %s\n", wsv_err_name(rc));
  } else if (buf != NULL) {
    size_t head = wsv_hs_server_head_len(hs);
    /* Frames that arrived with the head are the first input. */
    if (feed(&p, (uint8_t *)hsbuf + head, hslen - head) == 0) {
      ret = run_until_closed(&p, buf);
    }
  }
  wsv_conn_free(p.conn);
  wsv_hs_server_free(hs);
  free(hsbuf);
  free(buf);
  return ret;
}

/* ---- client ---------------------------------------------------------- */

#define MAX_SUBPROTOCOLS 8

struct client_opts {
  uint32_t versions;
  const char *host;
  const char *path;
  const char *subprotocols[MAX_SUBPROTOCOLS];
  size_t nsubprotocols;
  int first_action; /* index in argv of the first action */
};

/* Send the request, read and judge the answer.  On success *hs_out and
 * *buf_out and *len_out hold the handshake and the bytes read.  Returns 0, or
 * an exit status. */
static int client_handshake(const struct client_opts *o,
                            struct wsv_hs_client **hs_out, char **buf_out,
                            size_t *len_out) {
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs;
  wsv_hs_client_config_init(&cfg);
  cfg.versions = o->versions;
  cfg.host = o->host;
  cfg.path = o->path;
  cfg.subprotocols = o->subprotocols;
  cfg.nsubprotocols = o->nsubprotocols;
  int rc = wsv_hs_client_new(&hs, &cfg, NULL);
  if (rc != WSV_OK) {
    fprintf(stderr, "stdio_peer: wsv_hs_client_new: %s\n", wsv_err_name(rc));
    return EXIT_USAGE;
  }
  size_t n = 0;
  rc = wsv_hs_client_request(hs, NULL, 0, &n);
  char *req = rc == WSV_ERR_NOBUF ? malloc(n + 1) : NULL;
  if (req == NULL || wsv_hs_client_request(hs, req, n + 1, &n) != WSV_OK ||
      write_all(STDOUT_FILENO, req, n) != 0) {
    fprintf(stderr, "stdio_peer: could not send the request\n");
    free(req);
    wsv_hs_client_free(hs);
    return EXIT_IO;
  }
  free(req);
  size_t cap = PEER_READ_SIZE, len = 0;
  char *buf = malloc(cap);
  int result = WSV_HSC_INCOMPLETE;
  while (buf != NULL && result == WSV_HSC_INCOMPLETE && len < cap) {
    ssize_t r = read_some(STDIN_FILENO, buf + len, cap - len);
    if (r <= 0) {
      break;
    }
    len += (size_t)r;
    result = wsv_hs_client_parse(hs, buf, len);
  }
  int ret = 0;
  if (result == WSV_HSC_RETRY) {
    fprintf(stderr, "RETRY %d %s\n", wsv_hs_client_retry_version(hs),
            wsv_hs_client_reason(hs));
    ret = EXIT_RETRY;
  } else if (result < 0) {
    fprintf(stderr, "ERROR %s %s\n", wsv_err_name(result),
            wsv_hs_client_reason(hs));
    ret = EXIT_USAGE;
  } else if (result != WSV_HSC_OPEN) {
    fprintf(stderr, "stdio_peer: input ended inside the response head\n");
    ret = EXIT_IO;
  }
  if (ret != 0) {
    free(buf);
    wsv_hs_client_free(hs);
    return ret;
  }
  const char *sub = wsv_hs_client_subprotocol(hs);
  fprintf(stderr, "OPEN version=%d subprotocol=%s\n", wsv_hs_client_version(hs),
          sub != NULL ? sub : "-");
  *hs_out = hs;
  *buf_out = buf;
  *len_out = len;
  return 0;
}

/* Queue a text message sent as several frames: the comma-separated pieces
 * of `list` ("a,b,c"; an empty piece is an empty frame). */
static int send_text_frags(struct wsv_conn *conn, const char *list) {
  const char *s = list;
  for (;;) {
    const char *comma = strchr(s, ',');
    size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
    int rc = wsv_conn_send_fragment(conn, WSV_OP_TEXT, s, n, comma == NULL);
    if (rc != WSV_OK) {
      return rc;
    }
    if (comma == NULL) {
      return WSV_OK;
    }
    s = comma + 1;
  }
}

/* Queue a Close from "CODE[:REASON]". */
static int send_close(struct wsv_conn *conn, const char *spec) {
  char *end;
  long code = strtol(spec, &end, 10);
  const char *reason = *end == ':' ? end + 1 : "";
  if (end == spec || (*end != ':' && *end != '\0') || code < 0 ||
      code > 65535) {
    return WSV_ERR_INVAL;
  }
  return wsv_conn_close(conn, (int)code, reason, strlen(reason));
}

/* Queue a binary message of n bytes, byte i being i % 251. */
static int send_binary_size(struct wsv_conn *conn, const char *count) {
  char *end;
  unsigned long long n = strtoull(count, &end, 10);
  if (end == count || *end != '\0' || n > (1ull << 30)) {
    return WSV_ERR_INVAL;
  }
  uint8_t *data = malloc((size_t)n + 1);
  if (data == NULL) {
    return WSV_ERR_NOMEM;
  }
  for (size_t i = 0; i < (size_t)n; i++) {
    data[i] = (uint8_t)(i % 251);
  }
  int rc = wsv_conn_send(conn, WSV_OP_BINARY, data, (size_t)n);
  free(data);
  return rc;
}

/* Queue what one send action asks for.  Returns a WSV_* code. */
static int do_send(struct wsv_conn *conn, const char *act, const char *arg) {
  if (strcmp(act, "--send-text") == 0) {
    return wsv_conn_send(conn, WSV_OP_TEXT, arg, strlen(arg));
  }
  if (strcmp(act, "--send-ping") == 0) {
    return wsv_conn_ping(conn, arg, strlen(arg));
  }
  if (strcmp(act, "--send-text-frags") == 0) {
    return send_text_frags(conn, arg);
  }
  if (strcmp(act, "--send-binary-size") == 0) {
    return send_binary_size(conn, arg);
  }
  if (strcmp(act, "--close") == 0) {
    return send_close(conn, arg);
  }
  if (strcmp(act, "--send-text-hex") == 0 ||
      strcmp(act, "--send-binary-hex") == 0) {
    size_t n = 0;
    uint8_t *data = hex_decode(arg, &n);
    if (data == NULL) {
      return WSV_ERR_INVAL;
    }
    int op = act[7] == 't' ? WSV_OP_TEXT : WSV_OP_BINARY;
    int rc = wsv_conn_send(conn, op, data, n);
    free(data);
    return rc;
  }
  return WSV_ERR_INVAL;
}

/* Run the actions argv[first..argc) in order, then read until the server
 * ends the stream.  Returns the exit status. */
static int run_actions(struct peer *p, uint8_t *buf, int argc, char **argv,
                       int first) {
  for (int i = first; i + 1 < argc; i += 2) {
    if (wsv_conn_want_close_socket(p->conn)) {
      return 0;
    }
    if (strcmp(argv[i], "--expect") == 0) {
      size_t want = (size_t)strtoul(argv[i + 1], NULL, 10);
      while (p->messages < want) {
        int r = pump_once(p, buf);
        if (r <= 0 || p->failed || p->close_received) {
          fprintf(stderr, "stdio_peer: expected %zu messages, got %zu\n", want,
                  p->messages);
          return EXIT_IO;
        }
      }
      continue;
    }
    int rc = do_send(p->conn, argv[i], argv[i + 1]);
    if (rc != WSV_OK) {
      fprintf(stderr, "SENDERR %s %s %s\n", argv[i], argv[i + 1],
              wsv_err_name(rc));
      return EXIT_IO;
    }
    if (flush_output(p->conn) != 0) {
      return EXIT_IO;
    }
  }
  return run_until_closed(p, buf);
}

/* Parse the client's options; the actions start at o->first_action. */
static int client_options(int argc, char **argv, struct client_opts *o) {
  int i = 2;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, "stdio_peer: %s needs a value\n", a);
      return -1;
    }
    if (strcmp(a, "--versions") == 0) {
      o->versions = parse_versions(argv[++i]);
      if (o->versions == 0) {
        fprintf(stderr, "stdio_peer: bad --versions %s\n", argv[i]);
        return -1;
      }
    } else if (strcmp(a, "--host") == 0) {
      o->host = argv[++i];
    } else if (strcmp(a, "--path") == 0) {
      o->path = argv[++i];
    } else if (strcmp(a, "--subprotocol") == 0 &&
               o->nsubprotocols < MAX_SUBPROTOCOLS) {
      o->subprotocols[o->nsubprotocols++] = argv[++i];
    } else {
      break;
    }
  }
  o->first_action = i;
  for (; i < argc; i += 2) {
    static const char *const known[] = {
        "--send-text",       "--send-text-hex",
        "--send-binary-hex", "--send-binary-size",
        "--send-text-frags", "--send-ping",
        "--expect",          "--close"};
    int ok = 0;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
      ok |= strcmp(argv[i], known[k]) == 0;
    }
    if (!ok || i + 1 >= argc) {
      fprintf(stderr, "stdio_peer: bad client action %s\n", argv[i]);
      return -1;
    }
  }
  return 0;
}

static int client_main(int argc, char **argv) {
  struct client_opts o;
  memset(&o, 0, sizeof o);
  o.versions = WSV_VERSIONS_ALL;
  o.host = "localhost";
  o.path = "/";
  if (client_options(argc, argv, &o) != 0) {
    return EXIT_USAGE;
  }
  struct wsv_hs_client *hs = NULL;
  char *hsbuf = NULL;
  size_t hslen = 0;
  int rc = client_handshake(&o, &hs, &hsbuf, &hslen);
  if (rc != 0) {
    return rc;
  }
  struct peer p = {NULL, 0, 0, 0, 0};
  uint8_t *buf = malloc(PEER_READ_SIZE);
  int ret = EXIT_IO;
  rc = wsv_conn_new(&p.conn, WSV_ROLE_CLIENT, NULL, NULL);
  if (rc != WSV_OK) {
    fprintf(stderr, "stdio_peer: wsv_conn_new: %s\n", wsv_err_name(rc));
  } else if (buf != NULL) {
    size_t head = wsv_hs_client_head_len(hs);
    /* Frames that arrived with the 101 are the first input. */
    if (feed(&p, (uint8_t *)hsbuf + head, hslen - head) == 0) {
      ret = run_actions(&p, buf, argc, argv, o.first_action);
    }
  }
  wsv_conn_free(p.conn);
  wsv_hs_client_free(hs);
  free(hsbuf);
  free(buf);
  return ret;
}

int main(int argc, char **argv) {
  /* A peer that hangs up must give EPIPE, not kill the tool silently. */
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && strcmp(argv[1], "server") == 0) {
    return server_main(argc, argv);
  }
  if (argc >= 2 && strcmp(argv[1], "client") == 0) {
    return client_main(argc, argv);
  }
  fprintf(stderr, "usage: stdio_peer server [--versions 13,8,7] "
                  "[--status-426|--status-400]\n"
                  "       stdio_peer client [--versions ...] [--host h] "
                  "[--path /p] [--subprotocol x] ACTION...\n");
  return EXIT_USAGE;
}
