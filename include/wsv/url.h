/*
 * wsv/url.h - the one URL parser of wsv: ws:// and wss:// URLs (RFC 6455
 * §3), and with a flag http:// and https://, split into the parts a client
 * needs to connect and to write its request line.
 *
 *   struct wsv_url u;
 *   const char *why;
 *   if (wsv_url_parse(&u, url, strlen(url), 0, &why) != WSV_OK) {
 *     fprintf(stderr, "%s: %s\n", url, why);   // why is a static string
 *     ...
 *   }
 *   // connect to u.host (u.host_kind says whether it is a name or an
 *   // address) on u.port; TLS when u.secure; send u.target (see below).
 *
 * The grammar (RFC 3986 §3 with RFC 6455 §3's restrictions):
 *
 *   ws-URI    = ( "ws" / "wss" ) "://" authority path-abempty [ "?" query ]
 *   authority = [ userinfo "@" ] host [ ":" port ]
 *
 * and what is checked, in this order; the first failure decides the
 * reason (each reason is one line, no trailing newline):
 *
 *   scheme not ws:// or wss:// (any case; http:// and https:// too with
 *     WSV_URL_HTTP)         "the URL must start with ws:// or wss://"
 *                           ("... ws://, wss://, http:// or https://")
 *   a byte that is a space, a control byte (0x00-0x1F, 0x7F) or not ASCII
 *     (0x80-0xFF) anywhere  "the URL holds a space, a control byte or a
 *                           non-ASCII byte (percent-encode it)"
 *   '@' before the end of the authority (the first '/', '?' or '#'),
 *     unless WSV_URL_USERINFO
 *                           "user information in the URL is not supported"
 *   userinfo (with the flag) not *( unreserved / pct-encoded /
 *     sub-delims / ":" )   "bad user information in the URL"
 *   '#' anywhere            "a WebSocket URL must not have a fragment (#)"
 *     (also for http:// URLs, which wsv uses only to reach a WebSocket)
 *   an empty host ("ws://", "ws://:80", "ws:///p")
 *                           "the URL has no host"
 *   '[' without a ']', "[]", or the inside neither an IPv6address nor
 *     an IPvFuture          "bad IPv6 literal in the URL"
 *   something other than ':' right after the ']'
 *                           "bad character after the IPv6 literal"
 *   a host that is no RFC 3986 reg-name or IPv4address ("a_b" is fine,
 *     "a%zz", "a{b}" are not)
 *                           "bad host in the URL"
 *   ':' with nothing after it
 *                           "empty port in the URL"
 *   a port that is not 1*DIGIT, or is 0, or above 65535 (leading zeros
 *     are allowed: "ws://h:0080" is port 80)
 *                           "bad port in the URL"
 *
 * The host grammar is the one of RFC 3986 §3.2.2, as the server checks a
 * Host field (wsv/hs_server.h): a reg-name (unreserved, %XX, sub-delims),
 * an IPv4address, or "[" IPv6address or IPvFuture "]".  Nothing is
 * decoded or normalised.  The path and the query may hold every printable
 * ASCII byte but '#' (the request line carries them as they are; the
 * server judges them).
 *
 * Views: every struct wsv_str in a parsed struct wsv_url points into the
 * caller's s[0..n) (or at a static string where said), and stays valid as
 * long as those bytes do.  Nothing is allocated; no state is kept.
 */
#ifndef WSV_URL_H
#define WSV_URL_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a host is (RFC 3986 §3.2.2); 0 for none or an invalid one. */
enum wsv_host_kind {
  WSV_HOST_INVALID = 0,
  WSV_HOST_REG_NAME = 1,  /* a name, e.g. "example.com", "localhost" */
  WSV_HOST_IPV4 = 2,      /* "192.0.2.1" */
  WSV_HOST_IPV6 = 3,      /* "[" IPv6address "]" */
  WSV_HOST_IPV_FUTURE = 4 /* "[v" HEXDIG "." ... "]" */
};

/* A parsed URL.  Filled by wsv_url_parse; the caller owns the struct. */
struct wsv_url {
  int secure;              /* 1 for wss:// (and https:// with WSV_URL_HTTP) */
  struct wsv_str host;     /* the host as written; an IPv6address without
                            * its brackets ("::1" for "[::1]"), an IPvFuture
                            * with them ("[v1.x]": no resolver knows it, and
                            * without brackets it would read as a name) */
  int host_kind;           /* an enum wsv_host_kind, never WSV_HOST_INVALID */
  uint16_t port;           /* the explicit port, or 80 / 443 (secure) */
  int port_given;          /* 1 when the URL named a port (even 80 or 443) */
  struct wsv_str userinfo; /* before '@', without it; {NULL,0} if none.
                            * Only with WSV_URL_USERINFO.  May be empty
                            * ("ws://@h": ptr set, len 0).  Not decoded. */
  struct wsv_str path;     /* "/..." up to the '?' or the end; {"/",1}
                            * (a static) when the URL has no path */
  struct wsv_str query;    /* after '?', without it, up to the end;
                            * {NULL,0} if there is no '?'; empty (ptr
                            * set, len 0) for a bare "?" */
  struct wsv_str target;   /* the request-target: path and "?query", as
                            * sent in the request line ("GET <target>
                            * HTTP/1.1").  A view running from the path's
                            * '/' to the end of s[0..n) when the URL has
                            * a path; {"/",1} (a static) when it has
                            * neither path nor query; {NULL,0} when it has
                            * a query but no path ("ws://h?q", whose
                            * target "/?q" is nowhere in the input): send
                            * "/?" then `query`, or let wsv_url_target
                            * write it.  When s is NUL-terminated at s[n],
                            * a non-static target (and so path + query) is
                            * a NUL-terminated string too. */
};

/* Flags of wsv_url_parse: WSV_URL_USERINFO accepts user:pass@ (else
 * refused); WSV_URL_HTTP also accepts http:// and https:// (secure for
 * https; default ports 80 and 443). */
#define WSV_URL_USERINFO 1u
#define WSV_URL_HTTP 2u

/* wsv_url_parse - parse the URL s[0..n) (no NUL needed; s may be NULL
 * when n is 0) into *u, by the rules at the top of this file.
 * `flags` is 0 or a bitwise OR of WSV_URL_* (other bits are ignored).
 * Returns WSV_OK with every field of *u set, or WSV_ERR_INVAL (a NULL
 * `u`, a NULL `s` with n > 0, or a URL the rules refuse) with *u
 * unspecified.  When `why` is not NULL, *why gets a static one-line
 * reason on failure ("bad arguments" for a NULL u or s) and NULL on
 * success. */
WSV_EXTERN int wsv_url_parse(struct wsv_url *u, const char *s, size_t n,
                             unsigned flags, const char **why);

/* wsv_url_target - write u's request-target (see `target` above; "/?q"
 * for "ws://h?q") and a NUL into out[0..cap).  Returns the target's
 * length without the NUL.  When cap is at most that length, nothing is
 * written (no cut target is ever produced): call with out NULL and cap 0
 * to learn the size, then with a buffer of length + 1 bytes.  `u` must
 * come from a successful wsv_url_parse whose input is still valid. */
WSV_EXTERN size_t wsv_url_target(const struct wsv_url *u, char *out,
                                 size_t cap);

/* wsv_url_decode - percent-decode s[0..n) (RFC 3986 §2.1: each "%" HEXDIG
 * HEXDIG becomes its byte; other bytes are copied) into out[0..cap) with a
 * NUL, e.g. a user name or password from `userinfo`.  Returns the decoded
 * length without the NUL; SIZE_MAX, writing nothing, when a '%' is not
 * followed by two hex digits, when the result would hold a NUL byte
 * ("%00": it could not be told from the end of the string), or when it
 * does not fit (cap at most the length).  The decoded length is never
 * above n, so a buffer of n + 1 bytes always fits. */
WSV_EXTERN size_t wsv_url_decode(const char *s, size_t n, char *out,
                                 size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* WSV_URL_H */
