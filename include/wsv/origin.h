/*
 * wsv/origin.h - which web pages may open a WebSocket: an Origin policy
 * for the server's accept hook (RFC 6455 §4.2.2 step 4, §10.2; RFC 6454).
 *
 * A browser sends the Origin of the page that opens a WebSocket, and lets
 * any page open one to any server: without a check, every page the user
 * visits can talk to a server on 127.0.0.1 (cross-site WebSocket
 * hijacking).  Clients that are not browsers (scripts, wscat) usually send
 * no Origin; they are not protected by it and do not need to be.
 *
 * Sans-I/O and allocation-free once the policy is made.  A typical use:
 *
 *   struct wsv_origin_policy *pol;
 *   // same-origin pages, plus the listed ones:
 *   if (wsv_origin_policy_new(&pol, "https://app.example, *.example.org",
 *                             WSV_ORIGIN_SAME, NULL) != 0) ...
 *   static int on_accept(struct wsv_hs_server *hs, void *user) {
 *     return wsv_origin_check(user, hs, 0);   // 0, or 403 with a reason
 *   }
 *   cfg.accept = on_accept; cfg.accept_user = pol;
 *   ...
 *   wsv_origin_policy_free(pol);   // after the last handshake using it
 *
 * The allow-list: entries separated by commas (spaces around them
 * ignored), each one of
 *
 *   *                      any Origin at all (the check is off)
 *   null                   the opaque origin "null" (file: pages, sandboxed
 *                          frames, some redirects)
 *   scheme://host[:port]   that origin exactly.  Without a port, the
 *                          scheme's default: 80 for http and ws, 443 for
 *                          https and wss, none for other schemes; so
 *                          "http://a.test" and "http://a.test:80" are one
 *                          entry.  ":*" allows every port.
 *   host[:port]            that host with any scheme; without a port, on
 *                          any port (websocketd's --origin form); with one,
 *                          on that port (explicit or the scheme's default)
 *
 * A host is a name (letters, digits, '-', '.', '_', '~'), an IPv4 address
 * or an IPv6 address in brackets ("[::1]"), compared without regard to
 * case (write IPv6 addresses in the short form browsers send, RFC 5952).
 * "*.example.org" matches every name ending in ".example.org"
 * (a.example.org, b.a.example.org) but not example.org itself: list both
 * when both are meant.  Entries never carry a path, a query, user
 * information or a trailing '/'.
 *
 * The Origin value itself must be "null" or scheme://host[:port] as RFC
 * 6454 §6.2 serialises it; anything else (a path, a trailing '/') is
 * malformed and only a "*" policy lets it through.
 */
#ifndef WSV_ORIGIN_H
#define WSV_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/error.h"
#include "wsv/hs_server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of wsv_origin_policy_new. */
#define WSV_ORIGIN_SAME 1u /* also allow same-origin pages (see below) */
#define WSV_ORIGIN_REQUIRE                                                     \
  2u /* refuse a request without Origin (default: accept it, as a client       \
        that is not a browser) */
/* With WSV_ORIGIN_SAME: count a page as same-origin only when the Host
 * names the server by address (an IPv4 or IPv6 literal) or as
 * "localhost".  A page on a host name that a hostile DNS server points at
 * this machine (DNS rebinding: evil.example first resolves to the
 * attacker, then to 127.0.0.1) sends Host and Origin that agree, so
 * same-origin alone cannot tell it from the server's own page; a name the
 * server really answers to can be listed instead. */
#define WSV_ORIGIN_SAME_ADDRESS 4u

/* A parsed policy (opaque): the allow-list and the flags.  Read-only once
 * made, so one policy may serve every thread at once. */
struct wsv_origin_policy;

/* wsv_origin_list_check - is `list` (NUL-terminated) a valid allow-list
 * (grammar at the top)?  Returns 0; WSV_ERR_INVAL when it is NULL, empty,
 * holds an empty entry (",," or a trailing comma) or a malformed one; then
 * *bad (if not NULL) is the first offending entry, a view into `list`
 * ({list, 0} for an empty list).  Nothing is allocated. */
WSV_EXTERN int wsv_origin_list_check(const char *list, struct wsv_str *bad);

/* wsv_origin_policy_new - make a policy from `list` (NULL: no list, only
 * what `flags` allows) and `flags` (WSV_ORIGIN_SAME, WSV_ORIGIN_REQUIRE,
 * WSV_ORIGIN_SAME_ADDRESS).
 * The list is copied (normalised to lower case); `mem` NULL means malloc,
 * it is copied.  One allocation.  Returns 0 and sets *out; WSV_ERR_INVAL
 * for a NULL `out`, an unknown flag or a list wsv_origin_list_check
 * refuses (*out is then NULL); WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_origin_policy_new(struct wsv_origin_policy **out,
                                     const char *list, unsigned flags,
                                     const struct wsv_mem *mem);

/* wsv_origin_policy_free - free a policy (NULL is fine). */
WSV_EXTERN void wsv_origin_policy_free(struct wsv_origin_policy *pol);

/* wsv_origin_policy_any - 1 when the list holds "*" (every Origin is
 * allowed, missing or not, and wsv_origin_check never refuses), else 0. */
WSV_EXTERN int wsv_origin_policy_any(const struct wsv_origin_policy *pol);

/* wsv_origin_same - is `origin` the same origin as the server a request
 * with Host `host` reached?  1 when origin is scheme://host[:port] with
 * scheme "http" for a plain connection (tls 0) or "https" over TLS
 * (tls nonzero; a WebSocket is ws:// or wss:// and its page http:// or
 * https://), its host equal to Host's host (any case), and its port
 * (explicit, or 80/443 from the scheme) equal to Host's (explicit, or
 * 80/443 from `tls`).  0 otherwise, including for "null", a missing
 * ({NULL, 0}) or malformed value, and a Host that is not host[:port].
 * Behind a proxy that ends TLS, the Host and scheme the browser used are
 * not the ones the server sees: list the public origin instead. */
WSV_EXTERN int wsv_origin_same(struct wsv_str origin, struct wsv_str host,
                               int tls);

/* wsv_origin_allowed - does `pol` allow `origin` (the Origin value;
 * {NULL, 0} when the request has none) on a request with Host `host` over
 * a plain (tls 0) or TLS connection?  In order: "*" in the list allows
 * everything; a missing Origin is allowed unless WSV_ORIGIN_REQUIRE;
 * then the value must be well-formed and either same-origin (with
 * WSV_ORIGIN_SAME, see wsv_origin_same; with WSV_ORIGIN_SAME_ADDRESS too,
 * only for a Host that is an IP literal or "localhost") or matched by an
 * entry.
 * Returns 1 (allowed) or 0 (refused); a NULL `pol` allows everything. */
WSV_EXTERN int wsv_origin_allowed(const struct wsv_origin_policy *pol,
                                  struct wsv_str origin, struct wsv_str host,
                                  int tls);

/* wsv_origin_check - the accept-hook form: judge the request's Origin
 * (wsv_hs_server_origin: Sec-WebSocket-Origin for versions 8 and 7) and
 * Host with wsv_origin_allowed.  Returns 0 to accept, or 403 after setting
 * the reason (wsv_hs_server_set_reason) to one line naming the Origin (its
 * first 64 bytes, then "..."; bytes that are not printable ASCII are
 * escaped by set_reason): "Origin http://evil.example is not allowed",
 * "Origin x is malformed", or "Origin header is missing".  Call it from
 * the accept hook (elsewhere the reason cannot be set; the verdict is the
 * same); the hook may then replace the reason with its own.  A NULL `pol`
 * accepts (0); a NULL `hs` refuses (403).  Nothing is allocated. */
WSV_EXTERN int wsv_origin_check(const struct wsv_origin_policy *pol,
                                struct wsv_hs_server *hs, int tls);

#ifdef __cplusplus
}
#endif
#endif /* WSV_ORIGIN_H */
