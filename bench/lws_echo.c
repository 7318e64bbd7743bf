/*
 * lws_echo.c - a libwebsockets (Debian's 4.1.6, libwebsockets-dev) echo
 * server for bench/run: Debian ships no echo server binary, so this is the
 * smallest one written the way lws asks for it.  Every received fragment
 * is copied to a per-connection queue (with LWS_PRE headroom) and written
 * back from the writeable callback, first/final flags and type kept, so a
 * message of any size is echoed as it came.  No extensions are offered
 * (no permessage-deflate), as for every peer.  Single-threaded.
 *
 *   lws_echo PORT [--tls CERT KEY]      stops on SIGINT or SIGTERM
 *
 * --tls serves wss:// with lws's own OpenSSL integration (Debian's lws is
 * built with it): the certificate chain and private key PEM files.
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct echo_msg {
  struct echo_msg *next;
  size_t len;
  int flags; /* lws_write_ws_flags() of the fragment */
  unsigned char buf[];
};

struct echo_session {
  struct echo_msg *head, *tail;
};

static volatile int echo_stop;

static void echo_on_signal(int signo) {
  (void)signo;
  echo_stop = 1;
}

static int echo_cb(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len) {
  struct echo_session *s = user;
  switch (reason) {
  case LWS_CALLBACK_ESTABLISHED:
    s->head = s->tail = NULL;
    break;
  case LWS_CALLBACK_RECEIVE: {
    struct echo_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (m == NULL)
      return -1;
    m->next = NULL;
    m->len = len;
    m->flags = lws_write_ws_flags(
        lws_frame_is_binary(wsi) ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
        lws_is_first_fragment(wsi), lws_is_final_fragment(wsi));
    memcpy(m->buf + LWS_PRE, in, len);
    if (s->tail != NULL)
      s->tail->next = m;
    else
      s->head = m;
    s->tail = m;
    lws_callback_on_writable(wsi);
    break;
  }
  case LWS_CALLBACK_SERVER_WRITEABLE: {
    struct echo_msg *m = s->head;
    if (m == NULL)
      break;
    int w = lws_write(wsi, m->buf + LWS_PRE, m->len,
                      (enum lws_write_protocol)m->flags);
    if (w < (int)m->len)
      return -1;
    s->head = m->next;
    if (s->head == NULL)
      s->tail = NULL;
    free(m);
    if (s->head != NULL)
      lws_callback_on_writable(wsi);
    break;
  }
  case LWS_CALLBACK_CLOSED:
    while (s->head != NULL) {
      struct echo_msg *m = s->head;
      s->head = m->next;
      free(m);
    }
    s->tail = NULL;
    break;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols echo_protocols[] = {
    {"echo", echo_cb, sizeof(struct echo_session), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

int main(int argc, char **argv) {
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = argc > 1 ? atoi(argv[1]) : 8080;
  if (argc > 2 && strcmp(argv[2], "--tls") == 0) {
    if (argc < 5) {
      fprintf(stderr, "usage: lws_echo PORT [--tls CERT KEY]\n");
      return 2;
    }
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = argv[3];
    info.ssl_private_key_filepath = argv[4];
  }
  info.iface = "127.0.0.1";
  info.protocols = echo_protocols;
  info.pt_serv_buf_size = 65536;
  info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  lws_set_log_level(LLL_ERR, NULL);
  signal(SIGINT, echo_on_signal);
  signal(SIGTERM, echo_on_signal);
  struct lws_context *ctx = lws_create_context(&info);
  if (ctx == NULL) {
    fprintf(stderr, "lws_echo: cannot create the context\n");
    return 1;
  }
  printf("lws_echo: listening on 127.0.0.1:%d%s\n", info.port,
         info.ssl_cert_filepath != NULL ? " (TLS)" : "");
  fflush(stdout);
  while (!echo_stop && lws_service(ctx, 0) >= 0)
    ;
  lws_context_destroy(ctx);
  return 0;
}
