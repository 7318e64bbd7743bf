/*
 * client.c - a WebSocket client on the wsv runtime: connects, sends one
 * text message, prints the first message it receives, and closes.
 *
 *   client URL [TEXT]       e.g. client ws://127.0.0.1:8080/ hello
 *
 * If the server does not speak version 13 but lists versions it does
 * speak, the client retries once with the highest common one (the log
 * line says so).  Exit status 0 when the close handshake completed.
 */
#include <stdio.h>
#include <string.h>

#include <wsv/rt.h>

struct client_state {
  const char *text;
  int status; /* exit status */
};

static void on_log(void *user, int level, const char *text) {
  (void)user;
  if (level <= WSV_LOG_INFO)
    fprintf(stderr, "client: %s\n", text);
}

static void on_open(struct wsv_ws *ws, void *user) {
  struct client_state *st = user;
  printf("open (version %d)\n", wsv_ws_version(ws));
  wsv_ws_send(ws, WSV_OP_TEXT, st->text, strlen(st->text));
}

static void on_message(struct wsv_ws *ws, int opcode, const void *data,
                       size_t len, void *user) {
  (void)opcode;
  (void)user;
  printf("received: %.*s\n", (int)len, (const char *)data);
  wsv_ws_close(ws, 1000, "bye", 3);
}

static void on_close(struct wsv_ws *ws, int code, const char *reason,
                     size_t len, void *user) {
  struct client_state *st = user;
  printf("closed: %d %.*s\n", code, (int)len, reason);
  st->status = code == 1000 ? 0 : 1;
  wsv_loop_stop(wsv_ws_loop(ws));
}

static void on_fail(struct wsv_ws *ws, int err, const char *text,
                    void *user) {
  struct client_state *st = user;
  fprintf(stderr, "client: %s: %s\n", wsv_strerror(err), text);
  st->status = 1;
  wsv_loop_stop(wsv_ws_loop(ws));
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: client URL [TEXT]\n");
    return 2;
  }
  struct client_state st = {argc > 2 ? argv[2] : "hello", 1};
  struct wsv_loop *loop;
  if (wsv_loop_new(&loop) != 0)
    return 1;

  struct wsv_client_config cfg;
  wsv_client_config_init(&cfg);
  cfg.url = argv[1];
  cfg.callbacks.open = on_open;
  cfg.callbacks.message = on_message;
  cfg.callbacks.close = on_close;
  cfg.callbacks.fail = on_fail;
  cfg.user = &st;
  cfg.log = on_log;

  int rc = wsv_client_connect(loop, &cfg, NULL);
  if (rc != 0) {
    fprintf(stderr, "client: %s\n", wsv_strerror(rc));
    wsv_loop_free(loop);
    return 1;
  }
  wsv_loop_run(loop);
  wsv_loop_free(loop);
  return st.status;
}
