/*
 * proxy.h - the client's way to its server through a proxy (proxy.c): the
 * proxy URL, and the two tunnel handshakes as sans-I/O pieces that build
 * the bytes to send and parse the bytes received, so the client (client.c)
 * does the I/O and the tests and the fuzzer (fuzz/proxy.c) can feed them
 * any bytes in any split.
 *
 *   http://[user:pass@]host[:port]   HTTP CONNECT (RFC 9110 §9.3.6), with
 *                                    Proxy-Authorization: Basic when the URL
 *                                    carries user:pass; port default 8080
 *   socks5://[user:pass@]host[:port] SOCKS5 (RFC 1928) CONNECT, with the
 *   socks5h://...                    user/password method (RFC 1929) when
 *                                    the URL carries user:pass; port default
 *                                    1080.  Both names resolve the target
 *                                    at the proxy (curl's socks5h meaning):
 *                                    a name is sent as a name (ATYP 3), an
 *                                    IP literal as an address, so no DNS
 *                                    query for the target leaves this host.
 *
 * The user and password are percent-decoded (RFC 3986 userinfo).
 */
#ifndef WSV_RT_PROXY_H
#define WSV_RT_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* The kinds of proxy (struct wsv__proxy's kind). */
enum wsv__proxy_kind {
  WSV__PROXY_NONE = 0,
  WSV__PROXY_HTTP = 1,
  WSV__PROXY_SOCKS5 = 2
};

/* A parsed proxy URL; the strings are owned by it (wsv__proxy_free). */
struct wsv__proxy {
  int kind;      /* an enum wsv__proxy_kind */
  char *host;    /* name or address; IPv6 without brackets */
  uint16_t port; /* given or the kind's default */
  char *user;    /* decoded; NULL when the URL has no userinfo */
  char *pass;    /* decoded; "" when the userinfo has no ':' */
};

/* wsv__proxy_parse - parse `url` into *p (zeroed first).  Returns 0; or
 * WSV_ERR_INVAL with *why a static one-line reason (a scheme other than
 * http://, socks5://, socks5h://, a path other than "/", a query, bad
 * userinfo or host or port, a SOCKS5 user or password over 255 bytes or
 * an empty SOCKS5 user); or WSV_ERR_NOMEM.  On failure *p holds nothing
 * to free. */
int wsv__proxy_parse(struct wsv__proxy *p, const char *url, const char **why);

/* wsv__proxy_free - wipe the password, free p's strings and zero it (NULL
 * is fine). */
void wsv__proxy_free(struct wsv__proxy *p);

/* ---- HTTP CONNECT ------------------------------------------------------- */

/* wsv__proxy_connect_request - "CONNECT host:port HTTP/1.1", Host, and
 * Proxy-Authorization when p has a user, then the blank line, into
 * out[0..cap) (no NUL).  `host` is the target's (IPv6 without brackets).
 * Returns the length, or 0 when it does not fit (or a NULL argument). */
size_t wsv__proxy_connect_request(const struct wsv__proxy *p, const char *host,
                                  uint16_t port, char *out, size_t cap);

/* The largest CONNECT answer head accepted. */
#define WSV__PROXY_MAX_HEAD 8192

/* wsv__proxy_connect_answer - the proxy's answer in buf[0..len) (all bytes
 * received so far; pass the whole buffer each time).  Returns the head's
 * length (> 0) when it is complete with a 2xx status (the tunnel is up:
 * bytes after it belong to the tunnel); 0 when more bytes are needed; or
 * WSV_ERR_PROXY with a one-line reason in why[0..cap) (NUL-terminated):
 * any other status ("the proxy refused the tunnel: 407 \"Proxy
 * Authentication Required\" ..."), an answer that is not HTTP/1.x, or a
 * head over WSV__PROXY_MAX_HEAD.  *status (may be NULL) gets the status
 * once the head is complete, else 0.  Stateless: the result depends only
 * on buf[0..len). */
int wsv__proxy_connect_answer(const char *buf, size_t len, int *status,
                              char *why, size_t cap);

/* ---- SOCKS5 ------------------------------------------------------------- */

/* The replies a SOCKS5 client reads, in order (wsv__socks5_parse's step). */
enum wsv__socks5_step {
  WSV__SOCKS5_METHOD = 1, /* VER METHOD, after our greeting */
  WSV__SOCKS5_AUTH = 2,   /* VER STATUS (RFC 1929), after user/password */
  WSV__SOCKS5_REPLY = 3   /* VER REP RSV ATYP BND.ADDR BND.PORT */
};

/* wsv__socks5_greeting - the greeting: version 5 and the methods we
 * offer, "no authentication" (00) and, when p has a user,
 * "username/password" (02).  Writes 3 or 4 bytes to out[0..4); returns
 * how many. */
size_t wsv__socks5_greeting(const struct wsv__proxy *p, uint8_t out[4]);

/* wsv__socks5_auth - the RFC 1929 request (01, ULEN, UNAME, PLEN, PASSWD)
 * into out[0..513); returns its length, or 0 without a user. */
size_t wsv__socks5_auth(const struct wsv__proxy *p, uint8_t out[513]);

/* wsv__socks5_connect - the CONNECT request for host:port into
 * out[0..262): ATYP 1 for an IPv4 literal, 4 for an IPv6 literal (without
 * brackets), else 3 with the name.  Returns the length, or 0 for a name
 * longer than 255 bytes (or empty). */
size_t wsv__socks5_connect(const char *host, uint16_t port, uint8_t out[262]);

/* wsv__socks5_parse - the reply for `step` at the start of in[0..n).
 * Returns its length (> 0) when complete and good; 0 when more bytes are
 * needed; WSV_ERR_PROXY with a one-line reason in why[0..cap) for a
 * version other than 5 (1 for AUTH), no acceptable method (FF) or one we
 * did not offer (`offered_auth` 0 and 02 chosen), a failed login, a reply
 * code other than 0 (named: "connection refused", "host unreachable",
 * ...), a reserved byte other than 0 or an unknown address type.  For
 * METHOD, *method (may be NULL) gets the chosen method (0 or 2).
 * Stateless: the result depends only on the arguments. */
int wsv__socks5_parse(int step, const uint8_t *in, size_t n, int offered_auth,
                      int *method, char *why, size_t cap);

#endif /* WSV_RT_PROXY_H */
