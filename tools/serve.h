/* serve.h - the command line of `wsv serve`: its options, parsed by
 * serve_opts.c (which also holds the --help text) for serve.c. */
#ifndef WSV_SERVE_H
#define WSV_SERVE_H

#include <stddef.h>
#include <stdint.h>

/* How messages are handled. */
enum serve_mode { SERVE_ECHO, SERVE_CHAT, SERVE_EXEC, SERVE_BRIDGE };

struct serve_opts {
  const char *host;
  uint16_t port;
  uint32_t versions;
  int threads;
  int mode;
  const char *exec; /* --exec CMD, or NULL */
  const char *to;   /* --to: tcp://HOST:PORT or unix:PATH (bridge.h) */
  const char *dir;  /* --dir DIR (mode SERVE_EXEC, exec NULL), or NULL */
  const char *staticdir; /* --staticdir / --web DIR, or NULL */
  size_t maxforks;       /* --maxforks: programs at once (0: no limit) */
  int binary;            /* --binary: bytes both ways, no lines */
  uint32_t closems;      /* --closems: the programs' grace (ms) */
  /* --header, --header-ws, --header-http: "Name: value\r\n" lines
   * (malloc'd, NULL when none); ws_headers and http_headers join the
   * --header lines with the mode's own at the end of parsing. */
  char *hdr_all, *hdr_ws, *hdr_http;
  char *ws_headers, *http_headers;
  int quiet;
  int verbose;
  uint64_t max_message; /* 0: the core's default */
  size_t max_connections;
  uint32_t handshake_timeout_ms; /* 0: the runtime's default */
  uint32_t close_timeout_ms;     /* 0: the runtime's default */
  const char *cert;              /* TLS, with key */
  const char *key;
  int deflate;    /* enum wsv_pmd_policy: WSV_PMD_ON unless told */
  int http2;      /* enum wsv_http2_mode: WSV_HTTP2_ON unless told */
  char *origins;  /* --origin lists joined by commas (malloc'd), or NULL */
  int sameorigin; /* --sameorigin */
  char *passenv;  /* --passenv lists joined by commas (malloc'd), or NULL */
  /* Server-wide memory budgets; UINT64_MAX: the runtime's default. */
  uint64_t output_budget;
  uint64_t input_budget;
  /* --chat across instances (wsv/broker.h): the Redis nodes, or NULL. */
  const char *broker;
  const char *broker_prefix;        /* NULL: the broker's default */
  const char *broker_user;          /* AUTH user, or NULL */
  const char *broker_password_file; /* or NULL: $WSV_BROKER_PASSWORD */
};

/* The default of --closems: a program gets this long to exit after its
 * connection ended before SIGTERM, and as long again before SIGKILL. */
#define SERVE_CLOSEMS_DEFAULT 2000

/* serve_mode_guarded - 1 when the mode runs or reaches something (a
 * program: --exec, --dir; a socket: --to), so that without --origin/--sameorigin only
 * same-origin pages may connect; 0 for echo and chat (nothing runs). */
int serve_mode_guarded(const struct serve_opts *o);

/* serve_parse - parse the command line (argv[0] is "serve") into *o,
 * which owns the malloc'd lists afterwards (serve_opts_free them, also on
 * an exit status).  Returns -1 to go on, or an exit status: 0 after --help, 2
 * after a usage error (printed). */
int serve_parse(int argc, char **argv, struct serve_opts *o);

/* serve_opts_free - free the malloc'd lists of *o (set to NULL). */
void serve_opts_free(struct serve_opts *o);

#endif
