/* main.c - the wsv command: dispatch to a subcommand, --help, --version. */
#include <stdio.h>
#include <string.h>

#include "wsv.h"
#include "wsv_tool.h"

static const char main_usage[] =
    "usage: wsv [--help] [--version] <command> [<args>]\n"
    "\n"
    "wsv is a WebSocket implementation (RFC 6455) and its command-line "
    "tool.\n"
    "\n"
    "commands:\n"
    "  serve    WebSocket server: echo, chat (--chat), a program per\n"
    "           connection (--exec, --dir: as websocketd), a bridge to a\n"
    "           TCP or Unix socket (--to: as websockify), static files\n"
    "           (--staticdir) or a demo page for browsers\n"
    "  connect  WebSocket client: stdin lines become messages, messages are\n"
    "           printed (as wscat, websocat); proxies, redirects, headers;\n"
    "           --listen carries local TCP connections over WebSockets;\n"
    "           negotiates the version with the server\n"
    "  demo     show the protocol core at work: a client and a server talk\n"
    "           through memory (version negotiation, 101, messages, ping,\n"
    "           close), byte for byte\n"
    "  probe    audit a server's opening handshake and its\n"
    "           Sec-WebSocket-Version negotiation\n"
    "  bench    load generator that verifies every echo: messages/s and\n"
    "           latency (echo), handshakes/s (connect), memory per idle\n"
    "           connection (idle)\n"
    "\n"
    "Run 'wsv <command> --help' for a command's options.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(main_usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
      strcmp(cmd, "help") == 0) {
    fputs(main_usage, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("wsv %s\n", wsv_version_string());
    return 0;
  }
  if (strcmp(cmd, "demo") == 0)
    return wsv_cmd_demo(argc - 1, argv + 1);
  if (strcmp(cmd, "serve") == 0)
    return wsv_cmd_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "connect") == 0)
    return wsv_cmd_connect(argc - 1, argv + 1);
  if (strcmp(cmd, "probe") == 0)
    return wsv_cmd_probe(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0)
    return wsv_cmd_bench(argc - 1, argv + 1);
  fprintf(stderr, "wsv: unknown command '%s'\n\n%s", cmd, main_usage);
  return 2;
}
