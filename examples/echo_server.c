/*
 * echo_server.c - a WebSocket echo server on the wsv runtime.
 *
 *   echo_server [PORT]      (default 8080; 0 picks a free port)
 *
 * Every text or binary message comes back unchanged.  Ctrl-C closes every
 * connection with 1001 and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>

#include <wsv/rt.h>

static void on_message(struct wsv_ws *ws, int opcode, const void *data,
                       size_t len, void *user) {
  (void)user;
  wsv_ws_send(ws, opcode, data, len);
}

int main(int argc, char **argv) {
  struct wsv_server_config cfg;
  wsv_server_config_init(&cfg);
  cfg.port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 8080);
  cfg.handle_signals = 1;
  cfg.callbacks.message = on_message;

  struct wsv_server *srv;
  int rc = wsv_server_new(&srv, &cfg);
  if (rc != 0) {
    fprintf(stderr, "echo_server: %s\n", wsv_strerror(rc));
    return 1;
  }
  printf("listening on ws://127.0.0.1:%u/\n", wsv_server_port(srv));
  fflush(stdout);
  rc = wsv_server_run(srv);
  wsv_server_free(srv);
  return rc == 0 ? 0 : 1;
}
