/*
 * core_server.c - a tiny blocking loopback server that answers opening
 * handshakes with wsv's own server core (wsv_hs_server), so that the probe
 * test can check `wsv probe` calls the real thing conformant.
 *
 * usage: core_server [all] [400] [426plain]
 *   all       speak 13, 8 and 7 (default 13 only)
 *   400       answer an unsupported version with 400 instead of 426
 *   426plain  answer a request without Upgrade with 426 (default 200)
 *
 * It listens on 127.0.0.1 port 0, prints the port on a line of its own,
 * serves one connection at a time and exits after 30 seconds.
 */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"

static void core_serve(int fd, const struct wsv_hs_server_config *cfg) {
  struct wsv_hs_server *hs;
  if (wsv_hs_server_new(&hs, cfg, NULL) != 0)
    return;
  char in[8192];
  size_t len = 0;
  int r = WSV_HS_INCOMPLETE;
  while (r == WSV_HS_INCOMPLETE && len < sizeof in) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0)
      break;
    ssize_t n = recv(fd, in + len, sizeof in - len, 0);
    if (n <= 0)
      break;
    len += (size_t)n;
    r = wsv_hs_server_parse(hs, in, len);
  }
  char out[2048];
  size_t n = 0;
  if (r == WSV_HS_PLAIN_HTTP) {
    static const char page[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain"
                               "\r\nContent-Length: 6\r\nConnection: close"
                               "\r\n\r\nhello\n";
    n = sizeof page - 1;
    memcpy(out, page, n);
  } else if (r == WSV_HS_ACCEPT || r == WSV_HS_REJECT) {
    n = wsv_hs_server_response(hs, out, sizeof out);
    if (n > sizeof out)
      n = sizeof out;
  }
  if (n > 0)
    (void)send(fd, out, n, MSG_NOSIGNAL);
  shutdown(fd, SHUT_WR);
  /* Drain what the client still sends (its Close frame) until it leaves. */
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, 500) > 0 && recv(fd, in, sizeof in, 0) > 0) {
  }
  wsv_hs_server_free(hs);
}

int main(int argc, char **argv) {
  struct wsv_hs_server_config cfg;
  wsv_hs_server_config_init(&cfg);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "all") == 0)
      cfg.versions = WSV_VERSIONS_ALL;
    else if (strcmp(argv[i], "400") == 0)
      cfg.unsupported_status = 400;
    else if (strcmp(argv[i], "426plain") == 0)
      cfg.plain_http = WSV_HS_PLAIN_426;
  }
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(ls, 16) != 0 || getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
    perror("core_server");
    return 1;
  }
  printf("%u\n", (unsigned)ntohs(a.sin_port));
  fflush(stdout);
  time_t end = time(NULL) + 30;
  while (time(NULL) < end) {
    struct pollfd p = {ls, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0)
      continue;
    int fd = accept(ls, NULL, NULL);
    if (fd < 0)
      continue;
    core_serve(fd, &cfg);
    close(fd);
  }
  close(ls);
  return 0;
}
