/*
 * connect_opts.c - the command line of `wsv connect` (its --help text and
 * parser), the proxy chosen from the options and the environment, the
 * resolution of a redirect's Location, and the exit status of a close
 * code under --exit-code=close.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsv.h"

#include "cli.h"
#include "connect.h"

const char *const connect_usage[] = {
    "usage: wsv connect [options] URL\n"
    "       wsv connect --listen ADDR [options] URL\n"
    "\n"
    "Connect to a WebSocket server (URL: ws://[user:pass@]host[:port][/path]\n"
    "[?query], or wss://... for TLS).\n"
    "Each line of standard input is sent as a text message (without its\n"
    "newline); each message received is printed on its own line.  At the\n"
    "end of input the connection is closed with 1000, and messages still\n"
    "arriving are printed until the server's Close.\n"
    "\n",
    "The handshake:\n"
    "  -H, --header 'NAME: VALUE'\n"
    "                       add a request header (repeatable); a name that\n"
    "                       is no HTTP token, a value with CR, LF or another\n"
    "                       control byte, or a header of the handshake's own\n"
    "                       (Host, Upgrade, Connection, Origin,\n"
    "                       Sec-WebSocket-*) is a usage error\n"
    "  --origin URL         send Origin: URL\n"
    "  --subprotocol NAME   offer a subprotocol (repeatable, most preferred\n"
    "                       first); -v shows the one the server chose\n"
    "  --auth USER:PASS     HTTP Basic authentication (Authorization); also\n"
    "                       taken from the URL's user:pass@ "
    "(percent-decoded);\n"
    "                       not sent again after a redirect to another host\n"
    "  --versions LIST      WebSocket versions we speak, from 13, 8, 7\n"
    "                       (default 13,8,7: 13 first, the others only if\n"
    "                       the server asks for them)\n"
    "  --no-deflate         do not offer permessage-deflate (RFC 7692;\n"
    "                       offered by default)\n"
    "  --cacert FILE        wss://: trust the CAs in FILE (PEM) instead of\n"
    "                       the system's store (e.g. a private CA)\n"
    "  -k, --insecure       wss://: accept any certificate and host name\n"
    "                       (testing only)\n"
    "  --http2              the handshake over HTTP/2 only (RFC 8441\n"
    "                       extended CONNECT; h2c with prior knowledge for\n"
    "                       ws://); fail if the server does not offer it\n"
    "  --http1.1            the handshake over HTTP/1.1 only (by default\n"
    "                       wss:// uses HTTP/2 when the server picks h2 and\n"
    "                       allows WebSockets on it, else HTTP/1.1; -v says\n"
    "                       which)\n"
    "\n",
    "The way there:\n"
    "  --proxy URL          connect through a proxy: http://[user:pass@]HOST\n"
    "                       [:PORT] (HTTP CONNECT, default port 8080, Basic\n"
    "                       proxy authentication) or socks5://[user:pass@]\n"
    "                       HOST[:PORT] (SOCKS5, default port 1080, RFC 1929\n"
    "                       login); socks5h:// is the same: with both, the\n"
    "                       proxy resolves the server's name.  wss:// runs\n"
    "                       TLS inside the tunnel.  Without --proxy:\n"
    "                       HTTPS_PROXY (wss://) or HTTP_PROXY (ws://), then\n"
    "                       ALL_PROXY (lower-case names first), unless\n"
    "                       NO_PROXY lists the host ('*' for every host)\n"
    "  --no-proxy           connect directly, whatever the environment says\n"
    "  -L, --location       follow redirects (301, 302, 303, 307, 308) of the\n"
    "                       handshake; a relative Location is resolved\n"
    "                       against the URL, http(s):// becomes ws(s)://\n"
    "  --max-redirects N    follow at most N redirects (default 10; implies\n"
    "                       -L); a loop stops at the first URL seen twice\n"
    "\n",
    "Input and output:\n"
    "  --binary             send each line as a binary message\n"
    "  --echo               send every message received back unchanged\n"
    "                       (same type) instead of printing it; the end of\n"
    "                       input then does not close the connection\n"
    "  --wait S             after the end of input, keep reading S seconds\n"
    "                       (e.g. 1 or 0.5) before closing, so that replies\n"
    "                       to the last lines are printed\n"
    "  --no-close           the end of input does not close: run until the\n"
    "                       server closes (or -n, or a signal)\n"
    "  -n, --count N        close (1000) and exit after N messages received\n"
    "  --ping-interval S    send a ping after S seconds without input from\n"
    "                       the server and drop a server that then stays\n"
    "                       silent S seconds more (default 30 and 10;\n"
    "                       0: never)\n"
    "  -P, --show-control   show pings, pongs and Close frames, received (<)\n"
    "                       and sent (>), on standard error\n"
    "  --json               print each message as one JSON object per line:\n"
    "                       {\"type\":\"text\",\"length\":N,\"text\":\"...\"} "
    "or\n"
    "                       "
    "{\"type\":\"binary\",\"length\":N,\"base64\":\"...\"}\n"
    "  --hex                print binary messages as hexadecimal (default:\n"
    "                       their raw bytes)\n"
    "  --max-message BYTES  largest message accepted (default 16M)\n"
    "  --listen ADDR        a reverse bridge instead: carry every TCP\n"
    "                       connection accepted on ADDR (tcp://HOST:PORT or\n"
    "                       unix:PATH) over its own WebSocket to URL, bytes\n"
    "                       as binary messages both ways (see wsv connect\n"
    "                       --listen ADDR --help)\n"
    "  -v, --verbose        show the connection, the proxy, the request and\n"
    "                       response heads, the TLS version and cipher, the\n"
    "                       version negotiation, the agreed extensions and\n"
    "                       subprotocol, redirects and the close on\n"
    "                       standard error\n"
    "\n",
    "When standard input is a terminal, a line starting with '/' is a\n"
    "command (a line starting with '//' sends the rest after one '/'):\n"
    "  /ping [DATA]         send a ping (DATA at most 125 bytes)\n"
    "  /pong [DATA]         send an unsolicited pong\n"
    "  /close [CODE [REASON]]  close with CODE (default 1000) and REASON\n"
    "  /quit                drop the connection at once and exit\n"
    "\n",
    "Exit status:\n"
    "  --exit-code MODE     'default' or 'close' (below)\n"
    "  0    a normal close: the server's Close with 1000 (or without a\n"
    "       code), also when the server then keeps TCP open (dropped after\n"
    "       the 5 s close timeout)\n"
    "  1    connecting, the proxy or the handshake failed (a redirect\n"
    "       without -L too), the connection broke, the server never\n"
    "       answered our Close, or it closed with another code\n"
    "  2    a usage error\n"
    "  128+N  after signal N (SIGINT or SIGTERM send a Close with 1001\n"
    "       first)\n"
    "  With --exit-code close, a Close from the server gives: 0 for 1000\n"
    "  and no code; 11-25 for 1001-1015 (code - 990); 30-127 for 4000-4097\n"
    "  (code - 3970); 3 for any other code.\n",
    NULL};

/* ---- small parsers ----------------------------------------------------------
 */

/* Seconds as "1", "0.5", "2.25" into milliseconds; 0 or -1. */
static int opts_seconds(const char *s, uint32_t *ms) {
  char *end;
  if (s == NULL || *s == '\0' || !(isdigit((unsigned char)*s) || *s == '.'))
    return -1;
  double v = strtod(s, &end);
  if (*end != '\0' || !(v >= 0.0) || v > 86400.0)
    return -1;
  *ms = (uint32_t)(v * 1000.0 + 0.5);
  return 0;
}

/* 1 if c is an RFC 9110 tchar. */
static int opts_tchar(unsigned char c) {
  return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The headers -H may not give (the handshake writes them). */
static int opts_reserved_header(const char *name, size_t n) {
  static const char *const names[] = {"Host",           "Upgrade",
                                      "Connection",     "Origin",
                                      "Content-Length", "Transfer-Encoding"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
      return 1;
  return n >= 14 && strncasecmp(name, "Sec-WebSocket-", 14) == 0;
}

/* -H "Name: value" into o->headers.  Returns -1 or the usage status. */
static int opts_header(struct connect_opts *o, const char *a) {
  const char *colon = strchr(a, ':');
  if (colon == NULL || colon == a)
    return wsv_cli_usage_error("connect", "-H needs 'Name: value' (got '%s')",
                               a);
  size_t n = (size_t)(colon - a);
  for (size_t i = 0; i < n; i++)
    if (!opts_tchar((unsigned char)a[i]))
      return wsv_cli_usage_error(
          "connect", "-H: the header name '%.*s' is not an HTTP token", (int)n,
          a);
  const char *v = colon + 1, *end;
  for (const char *p = v; *p != '\0'; p++) {
    unsigned char ch = (unsigned char)*p;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return wsv_cli_usage_error(
          "connect", "-H %.*s: the value holds %s", (int)n, a,
          ch == '\r' || ch == '\n' ? "a CR or LF" : "a control byte");
  }
  if (opts_reserved_header(a, n))
    return wsv_cli_usage_error(
        "connect",
        "-H %.*s: that header belongs to the handshake (see --origin, "
        "--subprotocol)",
        (int)n, a);
  if (o->nheaders == CONNECT_MAX_HEADERS)
    return wsv_cli_usage_error("connect", "at most %d -H options",
                               CONNECT_MAX_HEADERS);
  while (*v == ' ' || *v == '\t')
    v++;
  end = v + strlen(v);
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  struct wsv_header *h = &o->headers[o->nheaders++];
  h->name.ptr = a;
  h->name.len = n;
  h->value.ptr = v;
  h->value.len = (size_t)(end - v);
  return -1;
}

/* o->auth_hdr = "Basic " base64(cred[0..n)).  0 or -1 (no memory). */
static int opts_basic(struct connect_opts *o, const char *cred, size_t n) {
  size_t b = wsv_base64_encode(cred, n, NULL, 0);
  free(o->auth_hdr);
  o->auth_hdr = malloc(6 + b + 1);
  if (o->auth_hdr == NULL)
    return -1;
  memcpy(o->auth_hdr, "Basic ", 6);
  (void)wsv_base64_encode(cred, n, o->auth_hdr + 6, b + 1);
  return 0;
}

/* The URL's userinfo: Basic credentials (unless --auth gave some) and
 * the URL without it.  Returns -1 or the exit status. */
static int opts_url_userinfo(struct connect_opts *o, int have_auth) {
  struct wsv_url u;
  const char *why;
  size_t n = strlen(o->url);
  if (wsv_url_parse(&u, o->url, n, WSV_URL_USERINFO, &why) != WSV_OK)
    return wsv_cli_usage_error("connect", "%s: %s", o->url, why);
  if (u.userinfo.ptr == NULL)
    return -1;
  const char *colon = memchr(u.userinfo.ptr, ':', u.userinfo.len);
  size_t ul = colon != NULL ? (size_t)(colon - u.userinfo.ptr) : u.userinfo.len;
  char *cred = malloc(u.userinfo.len + 2);
  if (cred == NULL) {
    wsv_cli_say("connect", "out of memory");
    return 1;
  }
  size_t a = wsv_url_decode(u.userinfo.ptr, ul, cred, ul + 1), b = 0;
  if (a != SIZE_MAX) {
    cred[a] = ':';
    b = colon != NULL ? wsv_url_decode(colon + 1, u.userinfo.len - ul - 1,
                                       cred + a + 1, u.userinfo.len - ul)
                      : 0;
  }
  int rc = -1;
  if (a == SIZE_MAX || b == SIZE_MAX)
    rc = wsv_cli_usage_error("connect",
                             "bad percent-encoding in the URL's user:pass");
  else if (!have_auth && opts_basic(o, cred, a + 1 + b) != 0)
    rc = 1;
  memset(cred, 0, u.userinfo.len + 2);
  free(cred);
  if (rc >= 0)
    return rc;
  /* The URL without "userinfo@". */
  size_t head = (size_t)(u.userinfo.ptr - o->url);
  size_t tail = head + u.userinfo.len + 1;
  o->url_buf = malloc(n - (tail - head) + 1);
  if (o->url_buf == NULL) {
    wsv_cli_say("connect", "out of memory");
    return 1;
  }
  memcpy(o->url_buf, o->url, head);
  memcpy(o->url_buf + head, o->url + tail, n - tail + 1);
  o->url = o->url_buf;
  return -1;
}

/* ---- the parser
 * --------------------------------------------------------------- */

/* One option with a value; returns 1 (handled, *rc set), or 0. */
static int opts_valued(int argc, char **argv, int *i, struct connect_opts *o,
                       int *rc, int *have_auth) {
  const char *a = argv[*i], *v = NULL;
  int m;
  *rc = -1;
  if ((m = wsv_cli_opt(argc, argv, i, "-H", &v)) != 0 ||
      (m = wsv_cli_opt(argc, argv, i, "--header", &v)) != 0) {
    *rc = m < 0 ? wsv_cli_usage_error("connect", "-H needs 'Name: value'")
                : opts_header(o, v);
  } else if ((m = wsv_cli_opt(argc, argv, i, "--origin", &v)) != 0) {
    if (m < 0 || *v == '\0' || strpbrk(v, "\r\n") != NULL)
      *rc = wsv_cli_usage_error("connect", "--origin needs a URL");
    o->origin = v;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--subprotocol", &v)) != 0) {
    int ok = m > 0 && *v != '\0';
    for (const char *p = v; ok && *p != '\0'; p++)
      ok = opts_tchar((unsigned char)*p);
    if (!ok)
      *rc = wsv_cli_usage_error("connect",
                                "--subprotocol needs a name (an HTTP token)");
    else if (o->nsubprotocols == CONNECT_MAX_SUBPROTOCOLS)
      *rc = wsv_cli_usage_error("connect", "at most %d subprotocols",
                                CONNECT_MAX_SUBPROTOCOLS);
    else
      o->subprotocols[o->nsubprotocols++] = v;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--auth", &v)) != 0) {
    if (m < 0 || strchr(v, ':') == NULL)
      *rc = wsv_cli_usage_error("connect", "--auth needs USER:PASS");
    else if (opts_basic(o, v, strlen(v)) != 0)
      *rc = 1;
    *have_auth = 1;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--proxy", &v)) != 0) {
    if (m < 0 || *v == '\0')
      *rc = wsv_cli_usage_error(
          "connect", "--proxy needs a URL (http://HOST:PORT, socks5://...)");
    o->proxy = v;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--max-redirects", &v)) != 0) {
    uint64_t n = 0;
    if (m < 0 || wsv_cli_uint(v, 0, 100, &n) != 0)
      *rc = wsv_cli_usage_error("connect",
                                "--max-redirects needs a number 0..100");
    else
      o->max_redirects = (unsigned)n;
    o->follow = 1;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--wait", &v)) != 0) {
    if (m < 0 || opts_seconds(v, &o->wait_ms) != 0)
      *rc =
          wsv_cli_usage_error("connect", "--wait needs seconds, e.g. 1 or 0.5");
    o->wait_given = 1;
  } else if ((m = wsv_cli_opt(argc, argv, i, "-n", &v)) != 0 ||
             (m = wsv_cli_opt(argc, argv, i, "--count", &v)) != 0) {
    if (m < 0 || wsv_cli_uint(v, 1, UINT64_MAX, &o->count) != 0)
      *rc = wsv_cli_usage_error("connect", "--count needs a number >= 1");
  } else if ((m = wsv_cli_opt(argc, argv, i, "--ping-interval", &v)) != 0) {
    if (m < 0 || opts_seconds(v, &o->ping_interval_ms) != 0)
      *rc = wsv_cli_usage_error("connect",
                                "--ping-interval needs seconds, e.g. 10");
    o->ping_given = 1;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--exit-code", &v)) != 0) {
    if (m > 0 && strcmp(v, "close") == 0)
      o->exit_mode = CONNECT_EXIT_CLOSE;
    else if (m > 0 && strcmp(v, "default") == 0)
      o->exit_mode = CONNECT_EXIT_DEFAULT;
    else
      *rc = wsv_cli_usage_error("connect",
                                "--exit-code needs 'close' or 'default'");
  } else if ((m = wsv_cli_opt(argc, argv, i, "--cacert", &v)) != 0) {
    if (m < 0 || *v == '\0')
      *rc = wsv_cli_usage_error("connect", "--cacert needs a PEM file");
    o->cacert = v;
  } else if ((m = wsv_cli_opt(argc, argv, i, "--versions", &v)) != 0) {
    char err[160];
    if (m < 0)
      *rc = wsv_cli_usage_error("connect", "%s needs a list such as 13,8,7", a);
    else if (wsv_cli_versions(v, &o->versions, err, sizeof err) != 0)
      *rc = wsv_cli_usage_error("connect", "--versions: %s", err);
  } else if ((m = wsv_cli_opt(argc, argv, i, "--max-message", &v)) != 0) {
    uint64_t n = 0;
    if (m < 0 || wsv_cli_size(v, 1, UINT64_C(1) << 40, &n) != 0)
      *rc = wsv_cli_usage_error(
          "connect", "--max-message needs a size in bytes, e.g. 65536 or 16M");
    else
      o->max_message = n;
  } else {
    return 0;
  }
  return 1;
}

/* A flag; returns 1 when argv[i] was one. */
static int opts_flag(const char *a, struct connect_opts *o) {
  static const struct {
    const char *s, *l;
    size_t off;
  } flags[] = {
      {NULL, "--binary", offsetof(struct connect_opts, binary)},
      {NULL, "--echo", offsetof(struct connect_opts, echo)},
      {NULL, "--hex", offsetof(struct connect_opts, hex)},
      {"-v", "--verbose", offsetof(struct connect_opts, verbose)},
      {NULL, "--no-deflate", offsetof(struct connect_opts, no_deflate)},
      {"-k", "--insecure", offsetof(struct connect_opts, insecure)},
      {NULL, "--http1.1", offsetof(struct connect_opts, http1)},
      {NULL, "--http2", offsetof(struct connect_opts, http2)},
      {NULL, "--no-proxy", offsetof(struct connect_opts, no_proxy)},
      {"-L", "--location", offsetof(struct connect_opts, follow)},
      {NULL, "--no-close", offsetof(struct connect_opts, no_close)},
      {"-P", "--show-control", offsetof(struct connect_opts, show_control)},
      {NULL, "--json", offsetof(struct connect_opts, json)},
  };
  for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
    if ((flags[k].s != NULL && strcmp(a, flags[k].s) == 0) ||
        strcmp(a, flags[k].l) == 0) {
      *(int *)(void *)((char *)o + flags[k].off) = 1;
      return 1;
    }
  return 0;
}

int connect_parse(int argc, char **argv, struct connect_opts *o) {
  int have_auth = 0, rc;
  o->versions = WSV_VERSIONS_ALL;
  o->max_message = WSV_CONN_DEFAULT_MAX_MESSAGE;
  o->max_redirects = CONNECT_DEFAULT_REDIRECTS;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      for (size_t k = 0; connect_usage[k] != NULL; k++)
        fputs(connect_usage[k], stdout);
      return 0;
    }
    if (opts_flag(a, o))
      continue;
    if (opts_valued(argc, argv, &i, o, &rc, &have_auth)) {
      if (rc >= 0)
        return rc;
    } else if (a[0] == '-' && a[1] != '\0') {
      return wsv_cli_usage_error("connect", "unknown option '%s'", a);
    } else if (o->url != NULL) {
      return wsv_cli_usage_error("connect", "one URL only ('%s' is extra)", a);
    } else {
      o->url = a;
    }
  }
  if (o->url == NULL)
    return wsv_cli_usage_error("connect",
                               "no URL given (e.g. ws://127.0.0.1:8080/)");
  if (strncasecmp(o->url, "ws://", 5) != 0 &&
      strncasecmp(o->url, "wss://", 6) != 0)
    return wsv_cli_usage_error(
        "connect", "'%s' is not a WebSocket URL (ws://...)", o->url);
  if (o->http1 && o->http2)
    return wsv_cli_usage_error("connect",
                               "--http1.1 and --http2 exclude each other");
  if (o->insecure && o->cacert != NULL)
    return wsv_cli_usage_error("connect",
                               "--cacert and --insecure exclude each other");
  if (o->proxy != NULL && o->no_proxy)
    return wsv_cli_usage_error("connect",
                               "--proxy and --no-proxy exclude each other");
  for (size_t k = 0; k < o->nheaders; k++)
    if (have_auth && o->headers[k].name.len == 13 &&
        strncasecmp(o->headers[k].name.ptr, "Authorization", 13) == 0)
      return wsv_cli_usage_error(
          "connect", "--auth and -H 'Authorization: ...' exclude each other");
  return opts_url_userinfo(o, have_auth);
}

void connect_opts_free(struct connect_opts *o) {
  if (o->auth_hdr != NULL)
    memset(o->auth_hdr, 0, strlen(o->auth_hdr));
  free(o->auth_hdr);
  free(o->url_buf);
  o->auth_hdr = o->url_buf = NULL;
}

/* ---- the proxy
 * ------------------------------------------------------------------ */

/* The first set, non-empty variable of the two names, or NULL. */
static const char *opts_env(const char *lower, const char *upper,
                            const char **from) {
  const char *v = getenv(lower);
  if (v != NULL && *v != '\0') {
    *from = lower;
    return v;
  }
  v = getenv(upper);
  if (v != NULL && *v != '\0') {
    *from = upper;
    return v;
  }
  return NULL;
}

int connect_no_proxy_match(const char *list, const char *host) {
  size_t hl = strlen(host);
  const char *p = list;
  while (*p != '\0') {
    while (*p == ',' || *p == ' ' || *p == '\t')
      p++;
    const char *e = p;
    while (*e != '\0' && *e != ',' && *e != ' ' && *e != '\t')
      e++;
    size_t n = (size_t)(e - p);
    const char *q = p;
    if (n == 1 && *q == '*')
      return 1;
    if (n > 0 && *q == '.') {
      q++;
      n--;
    }
    if (n > 0 && *q == '[') { /* "[::1]" or "[::1]:80" */
      const char *rb = memchr(q, ']', n);
      if (rb != NULL) {
        q++;
        n = (size_t)(rb - q);
      }
    } else if (n > 0) {
      const char *colon = memchr(q, ':', n);
      if (colon != NULL &&
          memchr(colon + 1, ':', n - (size_t)(colon - q) - 1) == NULL)
        n = (size_t)(colon - q); /* "host:port"; a bare IPv6 stays whole */
    }
    if (n > 0 && n <= hl && strncasecmp(host + hl - n, q, n) == 0 &&
        (n == hl || host[hl - n - 1] == '.'))
      return 1;
    p = e;
  }
  return 0;
}

const char *connect_pick_proxy(const struct connect_opts *o, const char *url,
                               const char **from) {
  const char *src = NULL, *v;
  if (from == NULL)
    from = &src;
  *from = NULL;
  if (o->no_proxy)
    return NULL;
  if (o->proxy != NULL) {
    *from = "--proxy";
    return o->proxy;
  }
  struct wsv_url u;
  if (wsv_url_parse(&u, url, strlen(url), 0, NULL) != WSV_OK)
    return NULL; /* the client reports the URL */
  const char *np = opts_env("no_proxy", "NO_PROXY", &src);
  if (np != NULL) {
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)u.host.len, u.host.ptr);
    if (connect_no_proxy_match(np, host))
      return NULL;
  }
  v = u.secure ? opts_env("https_proxy", "HTTPS_PROXY", from)
               : opts_env("http_proxy", "HTTP_PROXY", from);
  if (v == NULL)
    v = opts_env("all_proxy", "ALL_PROXY", from);
  return v;
}

/* ---- redirects
 * ------------------------------------------------------------------- */

/* The length of a URI scheme followed by ':' at the start of s, or 0. */
static size_t opts_scheme_len(const char *s) {
  size_t i = 0;
  if (!isalpha((unsigned char)s[0]))
    return 0;
  while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
         s[i] == '.')
    i++;
  return s[i] == ':' ? i : 0;
}

char *connect_redirect(const char *base, const char *location, char *why,
                       size_t cap) {
  size_t ll = strcspn(location, "#"); /* a fragment is not sent */
  size_t sl = opts_scheme_len(location);
  size_t bl = strlen(base);
  size_t bs = opts_scheme_len(base); /* "ws" or "wss" */
  const char *auth = base + bs + 3;
  size_t al = strcspn(auth, "/?#");
  const char *path = auth + al;
  size_t pl = strcspn(path, "?#");
  char *out = malloc(bl + ll + 8);
  if (out == NULL) {
    snprintf(why, cap, "out of memory");
    return NULL;
  }
  if (ll == 0) {
    snprintf(why, cap, "the Location is empty");
  } else if (sl > 0) {
    static const struct {
      const char *from, *to;
    } map[] = {{"ws", "ws"}, {"wss", "wss"}, {"http", "ws"}, {"https", "wss"}};
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
      if (strlen(map[k].from) == sl &&
          strncasecmp(location, map[k].from, sl) == 0) {
        snprintf(out, bl + ll + 8, "%s%.*s", map[k].to, (int)(ll - sl),
                 location + sl);
        return out;
      }
    snprintf(why, cap,
             "the Location's scheme '%.*s' is not ws, wss, http or https",
             (int)(sl > 20 ? 20 : sl), location);
  } else if (location[0] == '/' && location[1] == '/') {
    snprintf(out, bl + ll + 8, "%.*s:%.*s", (int)bs, base, (int)ll, location);
    return out;
  } else if (location[0] == '/') {
    snprintf(out, bl + ll + 8, "%.*s%.*s", (int)(path - base), base, (int)ll,
             location);
    return out;
  } else if (location[0] == '?') {
    snprintf(out, bl + ll + 8, "%.*s%.*s", (int)(path + pl - base), base,
             (int)ll, location);
    return out;
  } else {
    /* a relative path: replace the base path's last segment */
    size_t dir = pl;
    while (dir > 0 && path[dir - 1] != '/')
      dir--;
    if (dir == 0)
      snprintf(out, bl + ll + 8, "%.*s/%.*s", (int)(path - base), base, (int)ll,
               location);
    else
      snprintf(out, bl + ll + 8, "%.*s%.*s", (int)(path + dir - base), base,
               (int)ll, location);
    return out;
  }
  free(out);
  return NULL;
}

int connect_exit(int code) {
  if (code == 1000 || code == 1005)
    return 0;
  if (code >= 1001 && code <= 1015)
    return code - 990;
  if (code >= 4000 && code <= 4097)
    return code - 3970;
  return 3;
}
