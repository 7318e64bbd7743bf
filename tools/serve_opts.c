/*
 * serve_opts.c - the command line of `wsv serve`: the --help text and the
 * option parser, with its checks of values (ports, sizes, timeouts, the
 * --origin and --passenv lists) and of options that go together or
 * exclude each other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "cli.h"
#include "serve.h"

static const char serve_usage[] =
    "usage: wsv serve [--host H] [--port P] [--versions LIST] [--threads N]\n"
    "                 [--chat | --exec CMD | --dir DIR | --to TARGET]\n"
    "                 [--max-message BYTES]\n"
    "                 [--passenv LIST] [--maxforks N] [--binary]\n"
    "                 [--closems MS] [--staticdir DIR]\n"
    "                 [--header H] [--header-ws H] [--header-http H]\n"
    "                 [--max-connections N] [--handshake-timeout MS]\n"
    "                 [--close-timeout MS]\n"
    "                 [--output-budget BYTES] [--input-budget BYTES]\n"
    "                 [--cert FILE --key FILE] [--no-deflate | --deflate "
    "MODE]\n"
    "                 [--no-http2 | --no-h2-websocket]\n"
    "                 [--origin LIST] [--sameorigin]\n"
    "                 [--broker redis://HOST:PORT[,HOST:PORT...]\n"
    "                  [--broker-prefix P] [--broker-user U]\n"
    "                  [--broker-password-file FILE]]\n"
    "                 [--quiet] [-v]\n"
    "\n"
    "Serve WebSocket connections: echo every message back (the default),\n"
    "relay it to every connection on the same path (--chat), bridge it\n"
    "to a program (--exec, or one per path with --dir), or to a TCP or\n"
    "Unix socket (--to, as websockify does).  A browser opening\n"
    "http://HOST:PORT/ gets a page that talks to the server, or the files\n"
    "of --staticdir.\n"
    "\n"
    "  --host H             address to listen on: an IP address, a host\n"
    "                       name (each of its addresses) or a comma-\n"
    "                       separated list (default 127.0.0.1,::1: both\n"
    "                       loopbacks, so localhost works over IPv4 and\n"
    "                       IPv6; 0.0.0.0 or :: for every address)\n"
    "  --port P             port (default 8080; 0 picks a free one)\n"
    "  --versions LIST      WebSocket versions to accept, from 13, 8, 7\n"
    "                       (default 13)\n"
    "  --threads N          worker threads (default 1; 0: one per CPU)\n"
    "  --chat               send every message to every connection on the\n"
    "                       same path, the sender included\n"
    "  --exec CMD           run CMD (/bin/sh -c) per connection: each\n"
    "                       message becomes a line on its standard input,\n"
    "                       each line it prints a text message, each line\n"
    "                       of its stderr a log line (with the connection's\n"
    "                       number); its exit closes the connection (1000)\n"
    "                       and what is left of its process group gets\n"
    "                       SIGTERM (SIGKILL 2 s later); the connection's\n"
    "                       end closes its input, and the group gets\n"
    "                       SIGTERM 2 s later (SIGKILL 2 s after that);\n"
    "                       --closems sets these delays\n"
    "  --to TARGET          bridge every connection to its own new\n"
    "                       connection to TARGET: tcp://HOST:PORT (or\n"
    "                       HOST:PORT; IPv6 in brackets) or unix:PATH.\n"
    "                       Binary messages carry the bytes both ways\n"
    "                       (subprotocol binary, or none); with subprotocol\n"
    "                       base64, text messages of base64.  A text\n"
    "                       message without base64 closes with 1003.  The\n"
    "                       target's end closes the WebSocket with 1000; a\n"
    "                       refused, reset or unreachable target with 1011\n"
    "                       and a reason naming it; the WebSocket's end\n"
    "                       sends the target a FIN.  Back-pressure both\n"
    "                       ways: a side that does not read slows the other\n";

/* The programs' part of the help (--dir and its friends). */
static const char serve_usage_exec[] =
    "  --dir DIR            run the program the path names under DIR:\n"
    "                       /a/b.sh/x/y runs DIR/a/b.sh (SCRIPT_NAME /a/b.sh,\n"
    "                       PATH_INFO /x/y); '..', dot files, a directory or\n"
    "                       a file that is not executable get 404 (400 for\n"
    "                       '..'), before the upgrade\n"
    "  --passenv LIST       --exec, --dir: also pass these environment\n"
    "                       variables (comma-separated names).  The program\n"
    "                       gets only PATH, LD_LIBRARY_PATH (when set),\n"
    "                       these, the CGI/1.1 variables (see below) and\n"
    "                       WSV_PATH, WSV_QUERY, WSV_PEER, WSV_VERSION\n"
    "  --maxforks N         --exec, --dir: at most N programs at once (a\n"
    "                       program counts until it has exited); past it a\n"
    "                       handshake gets 429 Too Many Requests\n"
    "  --binary             --exec, --dir: bytes both ways: each message is\n"
    "                       written to the program as it is (no newline\n"
    "                       added), its output is sent as binary messages as\n"
    "                       it comes (no line splitting)\n"
    "  --closems MS         --exec, --dir: after the connection ends, a\n"
    "                       program has MS ms to exit before SIGTERM to its\n"
    "                       group, and MS more (at least 100) before SIGKILL\n"
    "                       (default 2000; 0: SIGTERM at once)\n"
    "  --staticdir DIR      serve the files under DIR to plain HTTP GET and\n"
    "                       HEAD (index.html for a directory; instead of the\n"
    "                       demo page), in every mode; --web DIR is the same\n"
    "  --header H           'Name: value' on every answer (repeatable)\n"
    "  --header-ws H        'Name: value' on the 101 only\n"
    "  --header-http H      'Name: value' on plain HTTP answers only\n"
    "  --origin LIST        the web pages that may open a WebSocket, by\n"
    "                       the Origin their browser sends: comma-separated\n"
    "                       scheme://host[:port], host[:port] (any scheme;\n"
    "                       any port without one), *.domain (subdomains),\n"
    "                       null, or * (every page); others get 403\n"
    "  --sameorigin         allow pages served by this host:port (this\n"
    "                       server's own page); with --origin, either one\n";

/* The limits part of the help (C11 compilers need not take longer
 * strings). */
static const char serve_usage_limits[] =
    "  --max-message BYTES  largest message accepted (default 16M; K, M, G\n"
    "                       suffixes)\n"
    "  --max-connections N  most connections at once (default: no limit)\n"
    "  --output-budget BYTES\n"
    "                       most bytes queued for all connections together\n"
    "                       (default 1G; 0: none); past it the ones holding\n"
    "                       the most are closed with 1008\n"
    "  --input-budget BYTES most bytes held by messages being received, all\n"
    "                       connections together (default 256M; 0: none); a\n"
    "                       message that would pass it is refused with 1009\n"
    "  --close-timeout MS   time a Close gets to be answered, and a closed\n"
    "                       connection's last bytes to be read, before TCP\n"
    "                       is dropped (reset if data is left; default 5000)\n"
    "  --handshake-timeout MS\n"
    "                       time allowed from accept to the end of the\n"
    "                       opening handshake, TLS included (default 10000)\n"
    "  --cert FILE          TLS: serve https:// and wss:// with this\n"
    "                       certificate (PEM; the chain may follow it)\n"
    "  --key FILE           TLS: the certificate's private key (PEM); --cert\n"
    "                       and --key go together\n"
    "  --deflate MODE       permessage-deflate (RFC 7692) when a client\n"
    "                       offers it: on (the default: context kept with\n"
    "                       small windows, about 28 KB per connection,\n"
    "                       18 KB once quiet for 2 s;\n"
    "                       large messages use a 15-bit compressor shared\n"
    "                       per thread), max (15-bit windows per\n"
    "                       connection: best ratio, about 128 KB), lean\n"
    "                       (no context kept between messages: no zlib\n"
    "                       memory while idle) or off\n"
    "  --no-deflate         the same as --deflate off\n"
    "  --no-http2           HTTP/1.1 only: no ALPN h2 over TLS, no h2c\n"
    "                       (by default HTTP/2 is served too, and\n"
    "                       WebSockets ride it as RFC 8441 extended\n"
    "                       CONNECT: browsers use it over https)\n"
    "  --no-h2-websocket    serve HTTP/2 but not WebSockets over it (no\n"
    "                       SETTINGS_ENABLE_CONNECT_PROTOCOL: clients use\n"
    "                       HTTP/1.1 for WebSockets)\n"
    "  --quiet              no line per connection (and no record of\n"
    "                       its own: less memory per idle connection); a\n"
    "                       program's stderr is still logged\n"
    "  -v, --verbose        also log rejected handshakes and other details\n"
    "\n"
    "The programs of --exec and --dir get the CGI/1.1 variables of their\n"
    "request: REMOTE_ADDR, REMOTE_PORT, REMOTE_HOST (the address: no DNS),\n"
    "QUERY_STRING, REQUEST_URI, REQUEST_METHOD, SCRIPT_NAME, PATH_INFO,\n"
    "SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, SERVER_SOFTWARE,\n"
    "GATEWAY_INTERFACE, UNIQUE_ID, HTTPS=on with TLS, and HTTP_<NAME> per\n"
    "request header (upper case, '-' as '_'; repeated fields joined with\n"
    "\", \").  Left out: a header whose name holds '_' or anything but\n"
    "letters, digits and '-' (it could pose as another), and Proxy (its\n"
    "HTTP_PROXY would be taken for a proxy setting: \"httpoxy\").\n"
    "Static files: at most 8 MiB each (larger: 500); Last-Modified, and\n"
    "304 for If-Modified-Since; '..' gets 400, dot files and what is\n"
    "missing 404, a symbolic link leading out of DIR 403, a method other\n"
    "than GET or HEAD 405.\n"
    "\n"
    "Without --origin or --sameorigin, --exec, --dir, --to accept pages of "
    "their\n"
    "own origin only, reached by IP address or as localhost: any other site's\n"
    "page, opened in a browser, could run the program through it (a host\n"
    "name could be a DNS-rebinding page's: --sameorigin allows names too).\n"
    "Echo and chat accept every page (nothing runs).\n"
    "A request without Origin (not a browser) is always accepted.\n"
    "\n"
    "SIGINT or SIGTERM closes every connection with 1001 and exits 0.\n"
    "The soft limit on open files is raised to the hard limit (-v shows\n"
    "both); programs run by --exec get the original one back.\n";

/* The scale-out part of the help. */
static const char serve_usage_broker[] =
    "\n"
    "Chat across instances (--chat only): with --broker, every instance\n"
    "given the same Redis delivers each message to the subscribers of its\n"
    "path on every instance, exactly once and in order per sender.\n"
    "  --broker URL         redis://HOST:PORT[,HOST:PORT...]: the Redis\n"
    "                       nodes (one server, or Cluster nodes), tried in\n"
    "                       order; a lost node is left for the next, with\n"
    "                       retries backing off from 100 ms to 5 s\n"
    "  --broker-prefix P    prefix of the Redis channels (default \"wsv:\"),\n"
    "                       so that deployments can share one Redis\n"
    "  --broker-user U      AUTH as this ACL user (with the password)\n"
    "  --broker-password-file FILE\n"
    "                       AUTH password: the first line of FILE (else\n"
    "                       $WSV_BROKER_PASSWORD; never on the command line)\n"
    "While Redis is away each instance keeps serving its own subscribers;\n"
    "what is published meanwhile does not reach the other instances\n"
    "(at-most-once; -v logs a count of it every 10 s).\n";

/* Append `v` to the comma list *list (malloc'd, NULL when empty), for
 * options that may be given several times.  0, or -1 out of memory. */
static int serve_list_add(char **list, const char *v) {
  size_t old = *list != NULL ? strlen(*list) : 0, n = strlen(v);
  char *q = realloc(*list, old + n + 2);
  if (q == NULL)
    return -1;
  if (old > 0)
    q[old++] = ',';
  memcpy(q + old, v, n + 1);
  *list = q;
  return 0;
}

/* --passenv: comma-separated variable names (no '=', not empty). */
static int serve_passenv_ok(const char *v, const char **bad, size_t *bad_len) {
  for (;;) {
    size_t n = strcspn(v, ",");
    *bad = v;
    *bad_len = n;
    if (n == 0 || memchr(v, '=', n) != NULL)
      return 0;
    for (size_t k = 0; k < n; k++)
      if ((unsigned char)v[k] <= 0x20 || (unsigned char)v[k] >= 0x7f)
        return 0;
    if (v[n] == '\0')
      return 1;
    v += n + 1;
  }
}

/* The names an answer's header may not take from --header*: the ones the
 * core and the runtime write themselves. */
static const char *const serve_own_headers[] = {"Upgrade",
                                                "Connection",
                                                "Content-Length",
                                                "Content-Type",
                                                "Transfer-Encoding",
                                                "Sec-WebSocket-Accept",
                                                "Sec-WebSocket-Protocol",
                                                "Sec-WebSocket-Extensions",
                                                "Sec-WebSocket-Version"};

/* A header name's byte: RFC 9110 tchar. */
static int serve_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* --header*: "Name: value" (a token name, a value of visible bytes,
 * spaces and tabs, no CR or LF) appended to *list as "Name: value\r\n"
 * with the value's outer spaces trimmed.  0; -1 with a reason in why;
 * -2 out of memory. */
static int serve_header_add(char **list, const char *h, const char **why) {
  size_t n = 0;
  while (serve_tchar((unsigned char)h[n]))
    n++;
  if (n == 0 || h[n] != ':') {
    *why = "needs 'Name: value' with a token name (letters, digits, -)";
    return -1;
  }
  for (size_t k = 0; k < sizeof serve_own_headers / sizeof *serve_own_headers;
       k++)
    if (strlen(serve_own_headers[k]) == n &&
        strncasecmp(serve_own_headers[k], h, n) == 0) {
      *why = "names a header wsv writes itself";
      return -1;
    }
  const char *v = h + n + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t vl = strlen(v);
  while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
    vl--;
  for (size_t k = 0; k < vl; k++) {
    unsigned char c = (unsigned char)v[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      *why = "has a control byte (CR, LF...) in its value";
      return -1;
    }
  }
  size_t old = *list != NULL ? strlen(*list) : 0;
  if (old + n + vl + 5 > 4096) {
    *why = "makes the headers longer than 4096 bytes";
    return -1;
  }
  char *q = realloc(*list, old + n + vl + 5);
  if (q == NULL)
    return -2;
  memcpy(q + old, h, n);
  memcpy(q + old + n, ": ", 2);
  memcpy(q + old + n + 2, v, vl);
  memcpy(q + old + n + 2 + vl, "\r\n", 3);
  *list = q;
  return 0;
}

/* a followed by b (either may be NULL), malloc'd; NULL when both are
 * empty.  0, or -1 out of memory. */
static int serve_join(const char *a, const char *b, char **out) {
  size_t na = a != NULL ? strlen(a) : 0, nb = b != NULL ? strlen(b) : 0;
  *out = NULL;
  if (na + nb == 0)
    return 0;
  if ((*out = malloc(na + nb + 1)) == NULL)
    return -1;
  memcpy(*out, na ? a : "", na);
  memcpy(*out + na, nb ? b : "", nb);
  (*out)[na + nb] = '\0';
  return 0;
}

int serve_mode_guarded(const struct serve_opts *o) {
  return o->mode == SERVE_EXEC || o->mode == SERVE_BRIDGE;
}

void serve_opts_free(struct serve_opts *o) {
  free(o->origins);
  free(o->passenv);
  free(o->hdr_all);
  free(o->hdr_ws);
  free(o->hdr_http);
  free(o->ws_headers);
  free(o->http_headers);
  o->origins = o->passenv = o->hdr_all = o->hdr_ws = o->hdr_http = NULL;
  o->ws_headers = o->http_headers = NULL;
}

/* Parse the command line.  Returns -1 to go on, or an exit status. */
int serve_parse(int argc, char **argv, struct serve_opts *o) {
  o->host = "127.0.0.1,::1";
  o->port = 8080;
  o->versions = WSV_VERSIONS_DEFAULT;
  o->threads = 1;
  o->mode = SERVE_ECHO;
  o->deflate = WSV_CLI_DEFLATE_ON;
  o->output_budget = o->input_budget = UINT64_MAX;
  o->closems = SERVE_CLOSEMS_DEFAULT;
  int closems_set = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    uint64_t n;
    int m;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(serve_usage, stdout);
      fputs(serve_usage_exec, stdout);
      fputs(serve_usage_limits, stdout);
      fputs(serve_usage_broker, stdout);
      return 0;
    } else if (strcmp(a, "--chat") == 0) {
      if (o->mode == SERVE_EXEC || o->mode == SERVE_BRIDGE)
        return wsv_cli_usage_error("serve",
                                   "%s: --chat and %s exclude each other", a,
                                   o->dir != NULL            ? "--dir"
                                   : o->mode == SERVE_BRIDGE ? "--to"
                                                             : "--exec");
      o->mode = SERVE_CHAT;
    } else if (strcmp(a, "--binary") == 0) {
      o->binary = 1;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--header", &v)) != 0 ||
               (m = wsv_cli_opt(argc, argv, &i, "--header-ws", &v)) != 0 ||
               (m = wsv_cli_opt(argc, argv, &i, "--header-http", &v)) != 0) {
      const char *name = strncmp(a, "--header-ws", 11) == 0 ? "--header-ws"
                         : strncmp(a, "--header-http", 13) == 0
                             ? "--header-http"
                             : "--header";
      char **list = name[8] == '\0'  ? &o->hdr_all
                    : name[9] == 'w' ? &o->hdr_ws
                                     : &o->hdr_http;
      const char *why = "needs 'Name: value'";
      int r = m < 0 ? -1 : serve_header_add(list, v, &why);
      if (r == -2)
        return wsv_cli_usage_error("serve", "out of memory");
      if (r != 0)
        return wsv_cli_usage_error("serve", "%s: %s", name, why);
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--dir", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "--dir needs a directory");
      if (o->mode == SERVE_CHAT || o->exec != NULL || o->mode == SERVE_BRIDGE)
        return wsv_cli_usage_error(
            "serve", "--dir: --dir, --exec and --chat exclude each other");
      o->mode = SERVE_EXEC;
      o->dir = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--staticdir", &v)) != 0 ||
               (m = wsv_cli_opt(argc, argv, &i, "--web", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "%s needs a directory",
                                   strncmp(a, "--web", 5) == 0 ? "--web"
                                                               : "--staticdir");
      o->staticdir = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--maxforks", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 0, 1000000, &n) != 0)
        return wsv_cli_usage_error(
            "serve", "--maxforks needs a number from 0 (no limit) to 1000000");
      o->maxforks = (size_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--closems", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 0, 3600000, &n) != 0)
        return wsv_cli_usage_error(
            "serve", "--closems needs milliseconds from 0 to 3600000");
      o->closems = (uint32_t)n;
      closems_set = 1;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o->verbose = 1;
    } else if (strcmp(a, "--no-deflate") == 0) {
      o->deflate = WSV_CLI_DEFLATE_OFF;
    } else if (strcmp(a, "--no-http2") == 0) {
      o->http2 = WSV_HTTP2_OFF;
    } else if (strcmp(a, "--no-h2-websocket") == 0) {
      if (o->http2 != WSV_HTTP2_OFF)
        o->http2 = WSV_HTTP2_NO_WEBSOCKET;
    } else if (strcmp(a, "--sameorigin") == 0) {
      o->sameorigin = 1;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--origin", &v)) != 0) {
      struct wsv_str bad;
      if (m < 0)
        return wsv_cli_usage_error("serve",
                                   "--origin needs a list such as "
                                   "https://app.example,*.example.org");
      if (wsv_origin_list_check(v, &bad) != 0)
        return wsv_cli_usage_error(
            "serve",
            "--origin: \"%.*s\" is not an origin: use scheme://host[:port], "
            "host[:port], *.domain, null or *",
            (int)bad.len, bad.ptr);
      if (serve_list_add(&o->origins, v) != 0)
        return wsv_cli_usage_error("serve", "out of memory");
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--passenv", &v)) != 0) {
      const char *bad;
      size_t bad_len;
      if (m < 0)
        return wsv_cli_usage_error("serve",
                                   "--passenv needs names such as HOME,LANG");
      if (!serve_passenv_ok(v, &bad, &bad_len))
        return wsv_cli_usage_error(
            "serve",
            "--passenv: \"%.*s\" is not a variable name (names are "
            "separated by commas)",
            (int)bad_len, bad);
      if (serve_list_add(&o->passenv, v) != 0)
        return wsv_cli_usage_error("serve", "out of memory");
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--deflate", &v)) != 0) {
      if (m < 0 || wsv_cli_deflate_mode(v, &o->deflate) != 0)
        return wsv_cli_usage_error("serve",
                                   "--deflate needs on, max, lean or off");
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--cert", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "--cert needs a PEM file");
      o->cert = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--key", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "--key needs a PEM file");
      o->key = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--close-timeout", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 1, 3600000, &n) != 0)
        return wsv_cli_usage_error(
            "serve", "--close-timeout needs milliseconds from 1 to 3600000");
      o->close_timeout_ms = (uint32_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--handshake-timeout", &v)) !=
               0) {
      if (m < 0 || wsv_cli_uint(v, 1, 3600000, &n) != 0)
        return wsv_cli_usage_error(
            "serve",
            "--handshake-timeout needs milliseconds from 1 to 3600000");
      o->handshake_timeout_ms = (uint32_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--host", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "%s needs an address", a);
      o->host = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--port", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 0, 65535, &n) != 0)
        return wsv_cli_usage_error("serve",
                                   "--port needs a number from 0 to 65535");
      o->port = (uint16_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--versions", &v)) != 0) {
      char err[160];
      if (m < 0)
        return wsv_cli_usage_error("serve", "%s needs a list such as 13,8,7",
                                   a);
      if (wsv_cli_versions(v, &o->versions, err, sizeof err) != 0)
        return wsv_cli_usage_error("serve", "--versions: %s", err);
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 0, 256, &n) != 0)
        return wsv_cli_usage_error("serve",
                                   "--threads needs a number from 0 to 256");
      o->threads = (int)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--exec", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "%s needs a command", a);
      if (o->mode == SERVE_CHAT || o->dir != NULL || o->mode == SERVE_BRIDGE)
        return wsv_cli_usage_error(
            "serve",
            "--exec: --dir, --exec, --to and --chat exclude each other");
      o->mode = SERVE_EXEC;
      o->exec = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--to", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve",
                                   "--to needs tcp://HOST:PORT or unix:PATH");
      if (o->mode != SERVE_ECHO && o->mode != SERVE_BRIDGE)
        return wsv_cli_usage_error(
            "serve", "--to: --chat, --exec and --to exclude each other");
      o->mode = SERVE_BRIDGE;
      o->to = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--max-message", &v)) != 0) {
      if (m < 0 || wsv_cli_size(v, 1, UINT64_C(1) << 40, &n) != 0)
        return wsv_cli_usage_error(
            "serve", "--max-message needs a size in bytes, e.g. 65536 or 16M");
      o->max_message = n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--output-budget", &v)) != 0 ||
               (m = wsv_cli_opt(argc, argv, &i, "--input-budget", &v)) != 0) {
      int out = strncmp(a, "--output-budget", 15) == 0;
      if (m < 0 || wsv_cli_size(v, 0, (uint64_t)SIZE_MAX, &n) != 0)
        return wsv_cli_usage_error(
            "serve", "%s needs a size in bytes, e.g. 512M or 2G (0: no budget)",
            out ? "--output-budget" : "--input-budget");
      *(out ? &o->output_budget : &o->input_budget) = n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--broker", &v)) != 0) {
      if (m < 0 || v[0] == '\0')
        return wsv_cli_usage_error(
            "serve", "--broker needs redis://HOST:PORT[,HOST:PORT...]");
      o->broker = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--broker-prefix", &v)) != 0) {
      if (m < 0 || strlen(v) > 256)
        return wsv_cli_usage_error(
            "serve", "--broker-prefix needs a prefix of at most 256 bytes");
      o->broker_prefix = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--broker-user", &v)) != 0) {
      if (m < 0 || v[0] == '\0')
        return wsv_cli_usage_error("serve", "--broker-user needs a name");
      o->broker_user = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--broker-password-file",
                                &v)) != 0) {
      if (m < 0 || v[0] == '\0')
        return wsv_cli_usage_error("serve",
                                   "--broker-password-file needs a file");
      o->broker_password_file = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--max-connections", &v)) !=
               0) {
      if (m < 0 || wsv_cli_uint(v, 1, SIZE_MAX, &n) != 0)
        return wsv_cli_usage_error("serve",
                                   "--max-connections needs a positive number");
      o->max_connections = (size_t)n;
    } else {
      return wsv_cli_usage_error("serve", "unknown argument '%s'", a);
    }
  }
  if ((o->cert == NULL) != (o->key == NULL))
    return wsv_cli_usage_error("serve", "--cert and --key go together");
  if (o->broker != NULL && o->mode != SERVE_CHAT)
    return wsv_cli_usage_error("serve", "--broker is for --chat");
  if (o->broker == NULL &&
      (o->broker_prefix != NULL || o->broker_user != NULL ||
       o->broker_password_file != NULL))
    return wsv_cli_usage_error("serve", "--broker-* options need --broker");
  if (o->mode != SERVE_EXEC) {
    const char *only = o->passenv != NULL ? "--passenv"
                       : o->maxforks != 0 ? "--maxforks"
                       : o->binary        ? "--binary"
                       : closems_set      ? "--closems"
                                          : NULL;
    if (only != NULL)
      return wsv_cli_usage_error(
          "serve", "%s is for the programs of --exec and --dir", only);
  }
  if (serve_join(o->hdr_all, o->hdr_ws, &o->ws_headers) != 0 ||
      serve_join(o->hdr_all, o->hdr_http, &o->http_headers) != 0)
    return wsv_cli_usage_error("serve", "out of memory");
  if (o->threads == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus < 1 ? 1 : cpus > 256 ? 256 : (int)cpus;
  }
  return -1;
}
