/*
 * chat_server.c - a WebSocket chat on the wsv runtime: every message is
 * sent to every connection on the same path (publish/subscribe, the topic
 * is the path), including the sender.
 *
 *   chat_server [PORT] [THREADS]    (default 8080, 1 thread)
 */
#include <stdio.h>
#include <stdlib.h>

#include <wsv/rt.h>

static void on_open(struct wsv_ws *ws, void *user) {
  (void)user;
  wsv_ws_subscribe(ws, wsv_ws_path(ws));
}

static void on_message(struct wsv_ws *ws, int opcode, const void *data,
                       size_t len, void *user) {
  (void)user;
  wsv_ws_publish(ws, wsv_ws_path(ws), opcode, data, len, WSV_PUBLISH_SELF);
}

int main(int argc, char **argv) {
  struct wsv_server_config cfg;
  wsv_server_config_init(&cfg);
  cfg.port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 8080);
  cfg.threads = argc > 2 ? atoi(argv[2]) : 1;
  cfg.handle_signals = 1;
  cfg.callbacks.open = on_open;
  cfg.callbacks.message = on_message;

  struct wsv_server *srv;
  int rc = wsv_server_new(&srv, &cfg);
  if (rc != 0) {
    fprintf(stderr, "chat_server: %s\n", wsv_strerror(rc));
    return 1;
  }
  printf("listening on ws://127.0.0.1:%u/\n", wsv_server_port(srv));
  fflush(stdout);
  rc = wsv_server_run(srv);
  wsv_server_free(srv);
  return rc == 0 ? 0 : 1;
}
