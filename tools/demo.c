/*
 * demo.c - `wsv demo`: the sans-I/O core at work, with no sockets.
 *
 * A client and a server, each nothing but the core, exchange bytes through
 * memory.  Everything that would cross the wire is printed: the version
 * negotiation (an answer listing the server's versions, and the retry),
 * the 101, frames both ways, a ping, and the closing handshake.  Last, a
 * malformed Sec-WebSocket-Version gets its 400.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"
#include "wsv_tool.h"

static const char demo_usage[] =
    "usage: wsv demo [--server-versions LIST] [--client-first N]\n"
    "\n"
    "Run a client and a server (the wsv protocol core, no sockets) against\n"
    "each other and print every byte they exchange.\n"
    "\n"
    "  --server-versions LIST  versions the server speaks, e.g. 13 or 13,8,7\n"
    "                          (default 13)\n"
    "  --client-first N        version the client asks for first: 13, 8 or 7\n"
    "                          (default 8, so the server's list and the\n"
    "                          client's retry are shown)\n";

/* A growing byte buffer: what one side has sent and the other not read. */
struct demo_buf {
  uint8_t *p;
  size_t len, cap;
};

static void demo_buf_append(struct demo_buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (q == NULL) {
      fputs("wsv demo: out of memory\n", stderr);
      exit(1);
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

/* Parse "13,8,7" into a version set; 0 on a bad list. */
static uint32_t demo_parse_versions(const char *s) {
  uint32_t set = 0;
  while (*s != '\0') {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || (v != 13 && v != 8 && v != 7))
      return 0;
    set |= WSV_VERSION_BIT(v);
    s = end;
    if (*s == ',')
      s++;
    else if (*s != '\0')
      return 0;
  }
  return set;
}

/* Print an HTTP head (or any text) line by line behind a prefix. */
static void demo_print_http(const char *who, const char *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && p[j] != '\r' && p[j] != '\n')
      j++;
    printf("  %s %.*s\n", who, (int)(j - i), p + i);
    if (j + 1 < len && p[j] == '\r' && p[j + 1] == '\n')
      j += 2;
    else
      j++;
    i = j;
  }
}

static void demo_print_hex(const char *who, const uint8_t *p, size_t len) {
  printf("  %s %zu bytes:", who, len);
  size_t show = len < 24 ? len : 24;
  for (size_t i = 0; i < show; i++)
    printf(" %02x", p[i]);
  printf("%s\n", show < len ? " ..." : "");
}

/* Move everything `from` has queued into `wire`, printing it. */
static void demo_drain(struct wsv_conn *from, const char *who,
                       struct demo_buf *wire) {
  struct wsv_iovec iov[16];
  int n;
  while ((n = wsv_conn_output(from, iov, 16)) > 0) {
    size_t total = 0;
    size_t start = wire->len;
    for (int i = 0; i < n; i++) {
      demo_buf_append(wire, iov[i].base, iov[i].len);
      total += iov[i].len;
    }
    demo_print_hex(who, wire->p + start, total);
    wsv_conn_consume_output(from, total);
  }
}

static const char *demo_event_name(int type) {
  switch (type) {
  case WSV_EV_TEXT:
    return "text";
  case WSV_EV_BINARY:
    return "binary";
  case WSV_EV_PING:
    return "ping";
  case WSV_EV_PONG:
    return "pong";
  case WSV_EV_CLOSE:
    return "close";
  case WSV_EV_ERROR:
    return "error";
  default:
    return "?";
  }
}

/* Feed `wire` to `to`, print each event; a server echoes data messages. */
static void demo_deliver(struct wsv_conn *to, const char *name,
                         struct demo_buf *wire, int echo) {
  if (wire->len == 0)
    return;
  if (wsv_conn_recv(to, wire->p, wire->len) != WSV_OK)
    return;
  struct wsv_event ev;
  while (wsv_conn_next_event(to, &ev) > WSV_EV_NONE) {
    printf("  %s got %s", name, demo_event_name(ev.type));
    if (ev.type == WSV_EV_TEXT || ev.type == WSV_EV_PING ||
        ev.type == WSV_EV_PONG)
      printf(" \"%.*s\"", (int)ev.len, (const char *)ev.data);
    else if (ev.type == WSV_EV_BINARY)
      printf(" of %zu bytes", ev.len);
    else if (ev.type == WSV_EV_CLOSE)
      printf(" %d \"%.*s\"", ev.close_code, (int)ev.len, (const char *)ev.data);
    else if (ev.type == WSV_EV_ERROR)
      printf(" %s (close %d)", wsv_strerror(ev.err), ev.close_code);
    printf("\n");
    if (echo && (ev.type == WSV_EV_TEXT || ev.type == WSV_EV_BINARY))
      wsv_conn_send(to, ev.opcode, ev.data, ev.len);
  }
  wire->len = 0;
}

/* One round trip: client output to the server, the server's back. */
static void demo_round(struct wsv_conn *client, struct wsv_conn *server) {
  struct demo_buf wire = {0};
  demo_drain(client, "client ->", &wire);
  demo_deliver(server, "server", &wire, 1);
  demo_drain(server, "server ->", &wire);
  demo_deliver(client, "client", &wire, 0);
  free(wire.p);
}

/* Serve one handshake attempt: the server judges `req` and answers.
 * Returns the server's result; the answer is appended to `answer`. */
static int demo_server_answer(uint32_t versions, const char *req, size_t len,
                              struct demo_buf *answer) {
  struct wsv_hs_server_config cfg;
  wsv_hs_server_config_init(&cfg);
  cfg.versions = versions;
  struct wsv_hs_server *hs;
  if (wsv_hs_server_new(&hs, &cfg, NULL) != WSV_OK)
    return -1;
  int r = wsv_hs_server_parse(hs, req, len);
  size_t n = wsv_hs_server_response(hs, NULL, 0);
  char *out = malloc(n + 1);
  if (out == NULL)
    exit(1);
  wsv_hs_server_response(hs, out, n + 1);
  demo_buf_append(answer, out, n);
  free(out);
  if (r == WSV_HS_REJECT)
    printf("  (server: %s)\n", wsv_hs_server_reason(hs));
  wsv_hs_server_free(hs);
  return r;
}

/* The opening handshake with negotiation.  Returns 0 when open. */
static int demo_handshake(uint32_t server_versions, int first) {
  struct wsv_hs_client_config cc;
  wsv_hs_client_config_init(&cc);
  cc.host = "example.com";
  cc.port = 8000;
  cc.path = "/chat";
  cc.versions = WSV_VERSIONS_ALL;
  cc.first_version = first;
  struct wsv_hs_client *hc;
  int rc = wsv_hs_client_new(&hc, &cc, NULL);
  if (rc != WSV_OK) {
    fprintf(stderr, "wsv demo: client: %s\n", wsv_strerror(rc));
    return -1;
  }
  for (int attempt = 1; attempt <= 2; attempt++) {
    char req[1024];
    size_t len;
    if (wsv_hs_client_request(hc, req, sizeof req, &len) != WSV_OK)
      break;
    printf("\nattempt %d: the client asks for version %d\n", attempt,
           wsv_hs_client_version(hc));
    demo_print_http("C>", req, len);
    struct demo_buf answer = {0};
    demo_server_answer(server_versions, req, len, &answer);
    demo_print_http("S<", (const char *)answer.p, answer.len);
    int r = wsv_hs_client_parse(hc, (const char *)answer.p, answer.len);
    free(answer.p);
    if (r == WSV_HSC_OPEN) {
      printf("  client: open, version %d\n", wsv_hs_client_version(hc));
      wsv_hs_client_free(hc);
      return 0;
    }
    if (r == WSV_HSC_RETRY) {
      printf("  client: the server lists its versions; retrying with %d on "
             "a new connection\n",
             wsv_hs_client_retry_version(hc));
      if (wsv_hs_client_retry(hc) != WSV_OK)
        break;
      continue;
    }
    printf("  client: failed: %s\n", wsv_hs_client_reason(hc));
    break;
  }
  wsv_hs_client_free(hc);
  return -1;
}

/* Messages, a fragmented message, a ping and the close handshake. */
static int demo_messages(void) {
  struct wsv_conn *client, *server;
  if (wsv_conn_new(&client, WSV_ROLE_CLIENT, NULL, NULL) != WSV_OK ||
      wsv_conn_new(&server, WSV_ROLE_SERVER, NULL, NULL) != WSV_OK)
    return -1;
  static const char hello[] = "Hello, wsv";
  static const uint8_t bin[] = {0xde, 0xad, 0xbe, 0xef};

  printf("\na text message (masked by the client, echoed by the server)\n");
  wsv_conn_send(client, WSV_OP_TEXT, hello, strlen(hello));
  demo_round(client, server);

  printf("\na binary message\n");
  wsv_conn_send(client, WSV_OP_BINARY, bin, sizeof bin);
  demo_round(client, server);

  printf("\na text message in two fragments, a ping between them\n");
  wsv_conn_send_fragment(client, WSV_OP_TEXT, "fragm", 5, 0);
  wsv_conn_ping(client, "are you there?", 14);
  wsv_conn_send_fragment(client, WSV_OP_CONT, "ented", 5, 1);
  demo_round(client, server);

  printf("\nthe closing handshake (client starts, 1000 \"bye\")\n");
  wsv_conn_close(client, 1000, "bye", 3);
  demo_round(client, server);
  int ok = wsv_conn_state(client) == WSV_CONN_CLOSED &&
           wsv_conn_want_close_socket(server);
  printf("  server closes the TCP connection first: %s\n", ok ? "yes" : "no");
  wsv_conn_free(client);
  wsv_conn_free(server);
  return ok ? 0 : -1;
}

/* A request whose version is malformed: 400 with the list. */
static void demo_malformed(uint32_t server_versions) {
  static const char req[] = "GET /chat HTTP/1.1\r\n"
                            "Host: example.com:8000\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 013\r\n"
                            "\r\n";
  printf("\na malformed version (a leading zero) gets 400 and the list\n");
  demo_print_http("C>", req, sizeof req - 1);
  struct demo_buf answer = {0};
  demo_server_answer(server_versions, req, sizeof req - 1, &answer);
  demo_print_http("S<", (const char *)answer.p, answer.len);
  free(answer.p);
}

int wsv_cmd_demo(int argc, char **argv) {
  uint32_t server_versions = WSV_VERSION_BIT(13);
  int first = 8;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(demo_usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--server-versions") == 0 && i + 1 < argc) {
      server_versions = demo_parse_versions(argv[++i]);
      if (server_versions == 0) {
        fprintf(stderr, "wsv demo: --server-versions takes a list of 13, 8 "
                        "and 7, e.g. 13,8\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--client-first") == 0 && i + 1 < argc) {
      first = atoi(argv[++i]);
      if (first != 13 && first != 8 && first != 7) {
        fprintf(stderr, "wsv demo: --client-first takes 13, 8 or 7\n");
        return 2;
      }
    } else {
      fprintf(stderr, "wsv demo: unknown option '%s'\n\n%s", argv[i],
              demo_usage);
      return 2;
    }
  }
  printf("wsv %s demo: a client and a server, both the sans-I/O core, "
         "talking through memory\n",
         wsv_version_string());
  if (demo_handshake(server_versions, first) != 0) {
    printf("\nno WebSocket connection could be opened\n");
    return 1;
  }
  if (demo_messages() != 0)
    return 1;
  demo_malformed(server_versions);
  return 0;
}
