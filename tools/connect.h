/* connect.h - what the files of `wsv connect` share: the options
 * (connect_opts.c parses them, picks the proxy from the environment and
 * resolves redirects) and the client that runs them (connect.c). */
#ifndef WSV_CONNECT_H
#define WSV_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "wsv.h"

/* Limits on repeated options. */
#define CONNECT_MAX_HEADERS 64
#define CONNECT_MAX_SUBPROTOCOLS 16
/* The default of --max-redirects once -L is given. */
#define CONNECT_DEFAULT_REDIRECTS 10

/* What --exit-code says the exit status is. */
enum connect_exit_mode {
  CONNECT_EXIT_DEFAULT = 0, /* 0 for 1000/1005, 1 for any other close */
  CONNECT_EXIT_CLOSE = 1    /* mapped from the close code (connect_exit) */
};

/* The parsed command line.  Strings point into argv or into `auth_hdr`
 * and `url_buf` (owned here, freed by connect_opts_free). */
struct connect_opts {
  const char *url;  /* without userinfo (moved to the Authorization) */
  char *url_buf;    /* the URL without its userinfo, when it had one */
  uint32_t versions;
  int binary, echo, hex, verbose, no_deflate, insecure;
  int http1, http2; /* --http1.1 / --http2: force one (default: either) */
  const char *cacert;
  uint64_t max_message;
  /* the handshake */
  struct wsv_header headers[CONNECT_MAX_HEADERS + 1]; /* + Authorization */
  size_t nheaders;
  const char *subprotocols[CONNECT_MAX_SUBPROTOCOLS];
  size_t nsubprotocols;
  const char *origin;
  char *auth_hdr; /* "Basic ..." for Authorization, or NULL */
  /* the way there */
  const char *proxy; /* --proxy; NULL: from the environment */
  int no_proxy;      /* --no-proxy */
  int follow;        /* -L */
  unsigned max_redirects;
  /* input and output */
  uint32_t wait_ms;       /* --wait: after the end of input */
  int wait_given;
  uint64_t count;         /* -n: stop after this many messages (0: no) */
  int no_close;           /* --no-close */
  uint32_t ping_interval_ms; /* --ping-interval; 0: the runtime's default */
  int ping_given;
  int show_control;       /* -P */
  int json;               /* --json */
  int exit_mode;          /* enum connect_exit_mode */
};

/* connect_parse - parse argv (argv[0] is "connect") into *o (zeroed by
 * the caller).  Returns -1 to go on, or the exit status: 0 after --help,
 * 2 after a usage error (already printed).  Call connect_opts_free in
 * every case. */
int connect_parse(int argc, char **argv, struct connect_opts *o);

/* connect_opts_free - free what connect_parse allocated (the password in
 * auth_hdr is wiped). */
void connect_opts_free(struct connect_opts *o);

/* connect_pick_proxy - the proxy URL to use for `url` (a ws:// or wss://
 * URL): NULL with --no-proxy; --proxy if given; else, unless NO_PROXY /
 * no_proxy matches the URL's host, https_proxy / HTTPS_PROXY for wss://
 * or http_proxy / HTTP_PROXY for ws://, then all_proxy / ALL_PROXY (the
 * lower-case name first; an empty value counts as unset).  Upper-case
 * HTTP_PROXY is read too, unlike curl: the "httpoxy" concern (a CGI
 * server turning a request's Proxy: header into HTTP_PROXY) is about
 * programs run by a web server, not a command run by its user.  The result
 * points into o or the environment.  *from (may be NULL) gets the source's
 * name ("--proxy", "HTTPS_PROXY", ...) for -v. */
const char *connect_pick_proxy(const struct connect_opts *o, const char *url,
                               const char **from);

/* connect_no_proxy_match - 1 if the NO_PROXY list `list` (commas and/or
 * spaces; "*" matches every host; an entry matches the host itself and
 * its subdomains, a leading '.' being ignored; an entry's ":port" is
 * ignored; case-insensitive) matches `host` (IPv6 without brackets), else
 * 0. */
int connect_no_proxy_match(const char *list, const char *host);

/* connect_redirect - the URL a redirect's `location` points to from
 * `base` (the URL that was refused), in a malloc'd string, or NULL with a
 * reason in why[0..cap).  A relative reference is resolved against base
 * (RFC 3986 §5.2: "//host/p", "/p", "p", "?q"); http:// becomes ws:// and
 * https:// becomes wss://; any other scheme is refused. */
char *connect_redirect(const char *base, const char *location, char *why,
                       size_t cap);

/* connect_exit - the exit status for a close with `code` under
 * --exit-code=close: 0 for 1000 and 1005; 11..25 for 1001..1015 (code -
 * 990); 30..127 for 4000..4097 (code - 3970); 3 for any other code. */
int connect_exit(int code);

/* The usage text (--help), in parts (C99's limit on a string's length),
 * NULL-terminated. */
extern const char *const connect_usage[];

#endif
