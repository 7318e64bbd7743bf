/*
 * wsv/hs_server.h - the server side of the WebSocket opening handshake
 * (RFC 6455 §4.2), with Sec-WebSocket-Version negotiation (§4.4).
 *
 * Sans-I/O: the object judges the request bytes and writes the response
 * bytes; the caller owns the socket.  A typical use:
 *
 *   struct wsv_hs_server_config cfg;
 *   wsv_hs_server_config_init(&cfg);
 *   cfg.versions = WSV_VERSIONS_ALL;          // optional: 13, 8 and 7
 *   struct wsv_hs_server *hs;
 *   if (wsv_hs_server_new(&hs, &cfg, NULL) != 0) ...
 *   // Append every byte received to one buffer `in` (read at most
 *   // wsv_hs_server_want(hs) bytes) and pass the whole buffer each time:
 *   int r = wsv_hs_server_parse(hs, in, in_len);
 *   // WSV_HS_INCOMPLETE: read more and call again.
 *   // WSV_HS_ACCEPT / WSV_HS_REJECT: send wsv_hs_server_response(); on
 *   //   ACCEPT the bytes from wsv_hs_server_head_len(hs) on are the first
 *   //   frames; on REJECT close the connection once the bytes are sent
 *   //   (wsv_hs_server_close_after(hs) is 1) and read nothing more.
 *   // WSV_HS_PLAIN_HTTP: no Upgrade header; serve it as plain HTTP.
 *   wsv_hs_server_free(hs);
 *
 * What is checked, in this order; the first failure decides the answer.
 * Every answer other than 101 carries "Sec-WebSocket-Version: <list>" (every
 * supported version, highest first, e.g. "13, 8, 7"), Content-Type
 * text/plain, Content-Length, "Connection: close" and a one-line body
 * naming the failed check; bytes from the request are quoted in it only as
 * printable ASCII (at most 64, others escaped as \xNN).
 *
 *   HTTP syntax (RFC 9112: CRLF only, no obs-fold, no NUL/CTL, no space
 *     before a colon)                    400  WSV_ERR_HTTP_SYNTAX
 *   head over max_head_bytes, or more than max_headers fields
 *                                        431  WSV_ERR_HTTP_TOO_LARGE
 *     (414 URI Too Long when the limit is hit inside the request line)
 *   no Upgrade field at all (a plain HTTP request): only the Host and
 *     body rules below apply, in that order (a Host may be missing below
 *     HTTP/1.1, RFC 9112 §3.2); then     WSV_HS_PLAIN_HTTP, or with
 *     plain_http = WSV_HS_PLAIN_426:     426  WSV_ERR_HS_NOT_UPGRADE
 *   method is not GET                    400 + "Allow: GET"  WSV_ERR_HS_METHOD
 *   HTTP version below 1.1               400  WSV_ERR_HS_HTTP_VERSION
 *   target neither origin-form ("/p?q") nor an absolute http, https, ws or
 *     wss URI; or holding '#'            400  WSV_ERR_HS_TARGET
 *   Host (both paths): not exactly one, or not RFC 3986 host[:port]: a
 *     reg-name (unreserved, %XX, sub-delims; not empty), an IPv4address,
 *     or "[" IPv6address (the full grammar: at most 8 groups of 1-4 hex
 *     digits, one "::", an IPv4 tail) or IPvFuture "]"; port 1*DIGIT up
 *     to 65535 ("host:" with an empty port is refused)
 *                                        400  WSV_ERR_HS_HOST
 *   body (both paths; this server reads no request body, RFC 9112 §6.3):
 *     any Transfer-Encoding; Content-Length repeated (two lines, or a
 *     comma list, even of equal values: RFC 9110 §8.6 lets a recipient
 *     reject them and we do), not 1*DIGIT ("-1", "+0", "1e3"), or not 0
 *                                        400  WSV_ERR_HS_BODY
 *   Upgrade list not exactly one "websocket" (any case); "h2c" or
 *     "websocket, h2c" fail              400  WSV_ERR_HS_UPGRADE
 *   Connection list without "Upgrade" (any case)
 *                                        400  WSV_ERR_HS_CONNECTION
 *   Sec-WebSocket-Version missing, repeated, a list, or not one ABNF
 *     version (0..255, digits only, no leading zero)
 *                                        400  WSV_ERR_HS_VERSION
 *   version well-formed but not in `versions`, or a draft-hixie-76 request
 *     (Sec-WebSocket-Key1 without a version)
 *                       426 (or `unsupported_status` 400) + "Upgrade:
 *                       websocket"       WSV_ERR_HS_VERSION_UNSUPPORTED
 *   Sec-WebSocket-Key missing, repeated, or not canonical base64 of
 *     exactly 16 bytes                   400  WSV_ERR_HS_KEY
 *   Origin (Sec-WebSocket-Origin for versions 8 and 7) repeated;
 *     Sec-WebSocket-Protocol with an empty element, a non-token element,
 *     a duplicate, or more than 128 elements
 *                                        400  WSV_ERR_HS_HEADER
 *   the accept hook refuses              403, or the hook's 4xx/5xx,
 *                                        WSV_ERR_HS_REFUSED
 *
 * A 426 also carries "Upgrade: websocket" (RFC 9110 §15.5.22) and therefore
 * "Connection: Upgrade, close" (RFC 9110 §7.8).
 * permessage-deflate (RFC 7692; see wsv/deflate.h for the syntax and the
 * window-bits rules).  With pmd_policy ON or LEAN, once every check has
 * passed and before the accept hook runs, the server walks the
 * Sec-WebSocket-Extensions offers in order (one or several header lines,
 * comma lists) and takes the first permessage-deflate offer that is valid
 * and acceptable; an offer with an unknown, repeated or invalid parameter,
 * or with server_max_window_bits=8, is declined and the next one is
 * tried.  A bad offer never causes a 400: without an acceptable offer the
 * answer is a 101 without the extension.  The agreed answer becomes the
 * 101's Sec-WebSocket-Extensions value; wsv_hs_server_pmd() gives the
 * parameters for the connection.  The accept hook sees that result and
 * may replace it with wsv_hs_server_set_extensions() (an empty value
 * declines everything); the hook's value then wins, and
 * wsv_hs_server_pmd() reads the permessage-deflate element of the hook's
 * value.
 *
 * Accepted: "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
 * "Connection: Upgrade", "Sec-WebSocket-Accept", the chosen
 * Sec-WebSocket-Protocol and Sec-WebSocket-Extensions if any, and never
 * Sec-WebSocket-Version.  Versions 8 and 7 are answered exactly like 13.
 *
 * Views: every struct wsv_str handed out about the request points into the
 * buffer given to the wsv_hs_server_parse call that completed the head, and
 * stays valid while that buffer is unchanged (keep it until the response is
 * written).  Nothing is allocated after wsv_hs_server_new.
 *
 * HTTP/2 (RFC 8441).  wsv_hs_server_parse_h2 judges a request given as the
 * field list HPACK decoded (the runtime does HTTP/2; the core never sees
 * it), with the same object, config, accept hook and request views, so a
 * hook or a plain-HTTP handler works unchanged over both protocols.  What
 * is checked, in this order; the first failure decides.  Every rejection's
 * fields (wsv_hs_server_response_h2) carry sec-websocket-version with the
 * supported list and content-type text/plain; the body is
 * wsv_hs_server_reason() and a newline.  No 426 is ever sent over HTTP/2:
 * it means nothing without Upgrade, which HTTP/2 forbids.
 *
 *   field syntax (RFC 9113 §8.2.1, §8.3): a name with upper case or a
 *     non-token byte; a value with NUL, CR, LF or another control byte
 *     but HTAB (RFC 9110 §5.5, as HTTP/1.1 here), or with leading or
 *     trailing SP/HTAB; a pseudo-header after a regular field; an unknown
 *     or repeated pseudo-header; :method not a token; :path not printable
 *     ASCII; a connection-specific field (connection, keep-alive,
 *     proxy-connection, transfer-encoding, upgrade; te other than
 *     "trailers", any case)              400  WSV_ERR_HTTP_SYNTAX
 *   more than max_headers regular fields, or the header list (RFC 9113
 *     §6.5.2: name + value + 32 per field, pseudo-headers included) over
 *     max_head_bytes                     431  WSV_ERR_HTTP_TOO_LARGE
 *   :method missing                      400  WSV_ERR_HTTP_SYNTAX
 *   a method other than CONNECT (a plain request):
 *     :scheme missing, :path missing or empty
 *                                        400  WSV_ERR_HS_TARGET
 *     neither :authority nor host; host repeated; either not RFC 3986
 *     host[:port] (the HTTP/1.1 Host rule); host and :authority
 *     differing (compared without case)  400  WSV_ERR_HS_HOST
 *     :protocol present (it needs CONNECT) 400 + allow  WSV_ERR_HS_METHOD
 *     the body rule of HTTP/1.1 (content-length repeated, a list, not
 *     1*DIGIT, or not 0)                 400  WSV_ERR_HS_BODY
 *     then WSV_HS_PLAIN_HTTP, or with plain_http = WSV_HS_PLAIN_426
 *                                        400  WSV_ERR_HS_NOT_UPGRADE
 *                                        (the reason asks for an
 *                                        extended CONNECT)
 *   CONNECT without :protocol (a tunnel, which this server never opens)
 *                                        400 + allow  WSV_ERR_HS_METHOD
 *   :protocol not "websocket" (any case, as the Upgrade token)
 *                                        400  WSV_ERR_HS_UPGRADE
 *   :scheme missing or not http/https (any case); :path missing, not
 *     origin-form ("/..."), or holding '#'
 *                                        400  WSV_ERR_HS_TARGET
 *   :authority missing (a host field alone does not do), then the host
 *     rules above                        400  WSV_ERR_HS_HOST
 *   any content-length (the stream's data is the WebSocket)
 *                                        400  WSV_ERR_HS_BODY
 *   sec-websocket-version: as HTTP/1.1   400  WSV_ERR_HS_VERSION
 *   well-formed but unsupported          400 (never 426, whatever
 *                                        unsupported_status says)
 *                                        WSV_ERR_HS_VERSION_UNSUPPORTED
 *   (no Key: a sec-websocket-key is ignored, RFC 8441 §5)
 *   origin and sec-websocket-protocol: as HTTP/1.1
 *                                        400  WSV_ERR_HS_HEADER
 *   permessage-deflate: negotiated as on HTTP/1.1 (pmd_policy)
 *   the accept hook refuses              403, or the hook's 4xx/5xx
 *                                        (a 426 becomes 400),
 *                                        WSV_ERR_HS_REFUSED
 *
 * "allow: CONNECT"" is sent where HTTP/1.1 sends "Allow: GET" (a 405 or
 * WSV_ERR_HS_METHOD): CONNECT is the WebSocket's method on HTTP/2.
 * Accepted: :status 200 (wsv_hs_server_status), the chosen
 * sec-websocket-protocol and -extensions and the extra_headers, never
 * sec-websocket-version.  For an HTTP/2 request the views are:
 * wsv_hs_server_method = :method, _target = :path, _path and _query split
 * from :path (as an origin-form target; {NULL, 0} when :path does not
 * start with '/', e.g. "*"), _headers the regular fields only (no
 * pseudo-header), _header("host") the host field or, when there is none,
 * :authority (so code asking for the Host works on both protocols),
 * _head_len 0; wsv_hs_server_response writes nothing (0);
 * wsv_hs_server_close_after is 0 on ACCEPT and 1 on REJECT (end the
 * stream, not the connection).  The views point into the caller's field
 * bytes and stay valid while they are unchanged.
 */
#ifndef WSV_HS_SERVER_H
#define WSV_HS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/deflate.h"
#include "wsv/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The server handshake object (opaque). */
struct wsv_hs_server;

/* What wsv_hs_server_parse found. */
enum wsv_hs_result {
  WSV_HS_INCOMPLETE = 0, /* the head is not complete: read more */
  WSV_HS_ACCEPT = 1,     /* send the 101; the connection is a WebSocket */
  WSV_HS_REJECT = 2,     /* send the error answer, then close */
  WSV_HS_PLAIN_HTTP = 3  /* no Upgrade header: a plain HTTP request */
};

/* What to do with a request that has no Upgrade header at all. */
enum wsv_hs_plain {
  WSV_HS_PLAIN_REPORT = 0, /* return WSV_HS_PLAIN_HTTP (default) */
  WSV_HS_PLAIN_426 = 1     /* reject with 426 Upgrade Required */
};

/* The accept hook, called from wsv_hs_server_parse (or _parse_h2) once
 * every check has passed (wsv_hs_server_is_h2 tells which).  It may read
 * the request (wsv_hs_server_method, _path, _query,
 * _origin, _header, _list_next, _version), choose a subprotocol
 * (wsv_hs_server_select_subprotocol), set extensions
 * (wsv_hs_server_set_extensions) and a reason (wsv_hs_server_set_reason).
 * It must not call wsv_hs_server_parse, _parse_h2 or wsv_hs_server_free.
 * Return 0 to accept; a status 400..599 to refuse with that status; any
 * other value refuses with 403 Forbidden. */
typedef int (*wsv_hs_accept_fn)(struct wsv_hs_server *hs, void *user);

/* Caller-owned settings; set the defaults with wsv_hs_server_config_init,
 * then change what you need.  wsv_hs_server_new copies the struct.
 * Always call wsv_hs_server_config_init first: new fields take reserved space,
 * so the size and every field's offset stay fixed within a SONAME (README,
 * "Library contract"). */
struct wsv_hs_server_config {
  /* Versions spoken: a set of WSV_VERSION_BIT(13), (8), (7), nothing else.
   * Default WSV_VERSIONS_DEFAULT (13 only). */
  uint32_t versions;
  /* Status for a well-formed but unsupported version: 426 (default) or
   * 400. */
  int unsupported_status;
  /* A request without Upgrade: WSV_HS_PLAIN_REPORT (default) or
   * WSV_HS_PLAIN_426. */
  int plain_http;
  /* Limits: the head's size in bytes, request line and blank line included
   * (default 8192, at most INT_MAX), and the number of header fields
   * (default 100).  Both at least 1. */
  size_t max_head_bytes;
  size_t max_headers;
  /* The accept hook and its user pointer; NULL accepts every request that
   * passes the checks, with no subprotocol. */
  wsv_hs_accept_fn accept;
  void *accept_user;
  /* permessage-deflate: an enum wsv_pmd_policy, WSV_PMD_OFF (default),
   * WSV_PMD_ON or WSV_PMD_LEAN (see the top of this file and deflate.h). */
  int pmd_policy;
  /* Extra header lines for the 101 only (never for a rejection), written
   * after the core's own: each "Name: value\r\n", the name a token, the
   * value HTAB, SP, VCHAR or obs-text (no CR or LF inside), at most 4096
   * bytes in all; NULL or "" (default) for none.  Not copied: the string
   * must stay valid while objects made with this config live.  The names
   * the core writes itself (Upgrade, Connection, Sec-WebSocket-Accept,
   * -Protocol, -Extensions, -Version) and Content-Length are refused. */
  const char *extra_headers;
  /* Room for new fields (zeroed by wsv_hs_server_config_init; do not
   * touch). */
  uint64_t _reserved[7];
};

/* wsv_hs_server_config_init - fill `cfg` with the defaults above. */
WSV_EXTERN void wsv_hs_server_config_init(struct wsv_hs_server_config *cfg);

/* wsv_hs_server_new - create a handshake object for one connection.
 * `cfg` NULL means the defaults; it is copied.  `mem` NULL means malloc;
 * it is copied.  One allocation, holding max_headers header slots.
 * Returns 0 and sets *out; WSV_ERR_INVAL for a NULL `out` or a bad config
 * (a version bit other than 13, 8, 7 or no version at all;
 * unsupported_status not 400/426; plain_http unknown; a zero limit; an
 * unknown pmd_policy; extra_headers not lines as described above);
 * WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_hs_server_new(struct wsv_hs_server **out,
                                 const struct wsv_hs_server_config *cfg,
                                 const struct wsv_mem *mem);

/* wsv_hs_server_reset - make `hs` as it was when new (same config and
 * allocator), keeping its memory, so that one object can judge one
 * request after another (a server reuses it when a handshake is done).
 * Views from the previous request are invalid afterwards.  NULL is fine. */
WSV_EXTERN void wsv_hs_server_reset(struct wsv_hs_server *hs);

/* wsv_hs_server_free - free the object (NULL is fine). */
WSV_EXTERN void wsv_hs_server_free(struct wsv_hs_server *hs);

/* wsv_hs_server_parse - judge the request in buf[0..len): every byte
 * received so far, the same bytes as before plus any new ones (the buffer
 * may move between calls).  Bytes at or beyond max_head_bytes are never
 * read, nor bytes after the head's blank line.  Errors in the HTTP syntax
 * are found as soon as the offending byte arrives.
 * Returns a enum wsv_hs_result; once it is not WSV_HS_INCOMPLETE, later
 * calls return the same value without reading `buf` (a request pipelined
 * after a rejected one is never parsed).  WSV_ERR_INVAL when hs is NULL,
 * buf is NULL with len > 0, or len is smaller than on the previous call
 * (the object is unchanged). */
WSV_EXTERN int wsv_hs_server_parse(struct wsv_hs_server *hs, const char *buf,
                                   size_t len);

/* wsv_hs_server_parse_h2 - judge an HTTP/2 request (RFC 9113 §8.3, RFC
 * 8441 §4-5; the rules are in the table at the top of this file), given
 * as its decoded field list fields[0..n) in the order received:
 * pseudo-header fields (":method", ":scheme", ":authority", ":path",
 * ":protocol") first, then the regular fields, names as sent (HTTP/2
 * requires lower case).  One call per request on a new or reset object (no
 * incremental parsing: HPACK has already produced the whole list).  Views
 * (method, path, header values, ...) point into the caller's field bytes
 * and stay valid while they are unchanged; they are {NULL, 0} after a
 * field syntax or size rejection, as after an HTTP/1.1 syntax error.
 * Nothing is allocated.  Returns an enum wsv_hs_result: WSV_HS_ACCEPT for
 * an extended CONNECT with :protocol websocket that passes every check
 * (the answer is :status 200), WSV_HS_REJECT (answer
 * wsv_hs_server_status() with wsv_hs_server_response_h2()'s fields and
 * wsv_hs_server_reason() + "\n" as the body), WSV_HS_PLAIN_HTTP for any
 * other request that is well-formed (GET, HEAD, POST...: the caller serves
 * it as plain HTTP, the views work as for HTTP/1.1); WSV_ERR_INVAL (the
 * object unchanged) for a NULL hs, a NULL fields with n > 0, a field
 * whose name or value is NULL with a length, a call from the accept hook,
 * or a second call (either parse function) without wsv_hs_server_reset.
 * wsv_hs_server_parse on an object given to this function returns
 * WSV_ERR_INVAL. */
WSV_EXTERN int wsv_hs_server_parse_h2(struct wsv_hs_server *hs,
                                      const struct wsv_header *fields,
                                      size_t n);

/* wsv_hs_server_response_h2 - the answer's regular header fields for
 * HTTP/2 (the status is wsv_hs_server_status(): 200 on ACCEPT), lower-case
 * names: on ACCEPT the chosen sec-websocket-protocol and
 * sec-websocket-extensions and the config's extra_headers (as fields,
 * names lowered, values without their surrounding spaces), never
 * sec-websocket-version; on REJECT sec-websocket-version listing every
 * supported version ("13, 8, 7"), content-type "text/plain;
 * charset=utf-8", and allow "CONNECT" where HTTP/1.1 sends Allow (a 405
 * or WSV_ERR_HS_METHOD).  Writes min(cap, count) fields into out (views
 * valid while hs and the request's field bytes are unchanged; nothing is
 * allocated here: the lowered extra header names are prepared in
 * wsv_hs_server_new) and returns the count; `out` may be NULL when cap is
 * 0.  Returns 0 before a final result, for WSV_HS_PLAIN_HTTP, and for an
 * HTTP/1.1 request (use wsv_hs_server_response). */
WSV_EXTERN size_t wsv_hs_server_response_h2(const struct wsv_hs_server *hs,
                                            struct wsv_header *out,
                                            size_t cap);

/* wsv_hs_server_is_h2 - 1 when the request came through
 * wsv_hs_server_parse_h2 (HTTP/2), 0 for HTTP/1.1 (and for a NULL hs). */
WSV_EXTERN int wsv_hs_server_is_h2(const struct wsv_hs_server *hs);

/* wsv_hs_server_want - how many more bytes the caller may read before the
 * head limit: max_head_bytes minus the length last passed to parse while
 * the head is incomplete, 0 once parse has returned a final result. */
WSV_EXTERN size_t wsv_hs_server_want(const struct wsv_hs_server *hs);

/* wsv_hs_server_response - write the answer to the request into
 * out[0..cap), snprintf-style: returns the answer's full length and writes
 * min(cap, length) bytes (no NUL terminator); `out` may be NULL when cap is
 * 0.  Returns 0 (nothing to send) before a final result and for
 * WSV_HS_PLAIN_HTTP.  The 101 quotes the chosen subprotocol and extensions
 * as views, so call it while the request buffer is still valid.  Returns
 * 0 for an HTTP/2 request (wsv_hs_server_response_h2 gives its fields). */
WSV_EXTERN size_t wsv_hs_server_response(const struct wsv_hs_server *hs,
                                         char *out, size_t cap);

/* wsv_hs_server_close_after - 1 if the connection must be closed once the
 * response is sent (every rejection), else 0. */
WSV_EXTERN int wsv_hs_server_close_after(const struct wsv_hs_server *hs);

/* wsv_hs_server_error - the WSV_ERR_* code of a rejection (the failed
 * check; see the table above), WSV_ERR_HS_NOT_UPGRADE for
 * WSV_HS_PLAIN_HTTP, 0 otherwise. */
WSV_EXTERN int wsv_hs_server_error(const struct wsv_hs_server *hs);

/* wsv_hs_server_reason - the one-line text naming the failed check (the
 * error answer's body without its newline), NUL-terminated, owned by hs
 * and valid until it is freed; "" when there is no rejection. */
WSV_EXTERN const char *wsv_hs_server_reason(const struct wsv_hs_server *hs);

/* wsv_hs_server_status - the response's status code (101, or 200 for an
 * HTTP/2 request, 400, 403, 405, 414, 426, 431 or the hook's), 0 before a
 * final result and for WSV_HS_PLAIN_HTTP. */
WSV_EXTERN int wsv_hs_server_status(const struct wsv_hs_server *hs);

/* wsv_hs_server_head_len - the request head's length in bytes, request
 * line through the blank line, once it is complete (0 before, and after a
 * syntax or size error): bytes from there on are not part of the
 * handshake (on WSV_HS_ACCEPT, the first WebSocket frames). */
WSV_EXTERN size_t wsv_hs_server_head_len(const struct wsv_hs_server *hs);

/* wsv_hs_server_version - the client's Sec-WebSocket-Version when it was
 * well-formed (on WSV_HS_ACCEPT: the negotiated version, 13, 8 or 7), else
 * -1. */
WSV_EXTERN int wsv_hs_server_version(const struct wsv_hs_server *hs);

/* Request views (see "Views" above); {NULL, 0} before the head is
 * complete.  The path of an absolute-form target is extracted from it
 * ("/" when the URI has none); the query excludes the '?'. */
WSV_EXTERN struct wsv_str wsv_hs_server_method(const struct wsv_hs_server *hs);
WSV_EXTERN struct wsv_str wsv_hs_server_target(const struct wsv_hs_server *hs);
WSV_EXTERN struct wsv_str wsv_hs_server_path(const struct wsv_hs_server *hs);
WSV_EXTERN struct wsv_str wsv_hs_server_query(const struct wsv_hs_server *hs);

/* wsv_hs_server_origin - the Origin field; for a client speaking version 8
 * or 7, the Sec-WebSocket-Origin field instead.  {NULL, 0} if absent. */
WSV_EXTERN struct wsv_str wsv_hs_server_origin(const struct wsv_hs_server *hs);

/* wsv_hs_server_header - how many fields are named `name` (any case); sets
 * *value (if not NULL) to the first one's value, or {NULL, 0}.  For an
 * HTTP/2 request without a host field, "host" finds :authority (1). */
WSV_EXTERN size_t wsv_hs_server_header(const struct wsv_hs_server *hs,
                                       const char *name, struct wsv_str *value);

/* wsv_hs_server_headers - every header field in order; *n receives the
 * count (0 before the head is complete).  For HTTP/2 the regular fields
 * only, no pseudo-header. */
WSV_EXTERN const struct wsv_header *
wsv_hs_server_headers(const struct wsv_hs_server *hs, size_t *n);

/* wsv_hs_server_list_next - iterate over the comma-list elements of every
 * field named `name`, e.g. "Sec-WebSocket-Protocol" (the offered
 * subprotocols) or "Sec-WebSocket-Extensions" (the offered extensions, each
 * element with its parameters, raw).  Empty elements are skipped, spaces
 * trimmed, commas inside quoted strings kept.  Start with *pos = 0; returns
 * 1 and sets *elem, or 0 at the end. */
WSV_EXTERN int wsv_hs_server_list_next(const struct wsv_hs_server *hs,
                                       const char *name, size_t *pos,
                                       struct wsv_str *elem);

/* wsv_hs_server_select_subprotocol - choose the offered subprotocol equal
 * to `name` (exactly, case-sensitive; NUL-terminated) for the 101.  Valid
 * from the accept hook or after WSV_HS_ACCEPT.  Returns 0; WSV_ERR_INVAL if
 * `name` was not offered (nothing is chosen then: a programming error is
 * reported to the hook, never sent to the peer); WSV_ERR_STATE outside the
 * hook and before acceptance.  NULL clears the choice. */
WSV_EXTERN int wsv_hs_server_select_subprotocol(struct wsv_hs_server *hs,
                                                const char *name);

/* wsv_hs_server_subprotocol - the chosen subprotocol (a view of the offered
 * element), {NULL, 0} if none. */
WSV_EXTERN struct wsv_str
wsv_hs_server_subprotocol(const struct wsv_hs_server *hs);

/* wsv_hs_server_set_extensions - the Sec-WebSocket-Extensions value to send
 * in the 101 (e.g. from the permessage-deflate negotiation).  The bytes are
 * not copied: they must stay valid until wsv_hs_server_response is called.
 * Same states as select_subprotocol.  Returns 0; WSV_ERR_INVAL if the value
 * holds a byte other than HTAB, SP or VCHAR; WSV_ERR_STATE.  An empty value
 * sends no header. */
WSV_EXTERN int wsv_hs_server_set_extensions(struct wsv_hs_server *hs,
                                            struct wsv_str value);

/* wsv_hs_server_pmd - the permessage-deflate parameters agreed in the
 * 101 (from the built-in negotiation, or read from the value the accept
 * hook set).  Valid from the accept hook on.  Returns 1 and fills *out
 * when permessage-deflate is agreed; 0 otherwise (also before acceptance
 * and after a refusal) with *out zeroed (enabled 0) unless out is NULL. Typical
 * use: wsv_hs_server_pmd(hs, &conn_cfg.pmd). */
WSV_EXTERN int wsv_hs_server_pmd(const struct wsv_hs_server *hs,
                                 struct wsv_pmd_params *out);

/* wsv_hs_server_set_reason - the one-line reason a refusing accept hook
 * wants in the body (copied; escaped as wsv_str_escape does with
 * WSV_ESCAPE_HEX; cut with "..." to fit 200 bytes).  Only from the hook:
 * WSV_ERR_STATE otherwise.  Returns 0. */
WSV_EXTERN int wsv_hs_server_set_reason(struct wsv_hs_server *hs,
                                        const char *text);

#ifdef __cplusplus
}
#endif
#endif /* WSV_HS_SERVER_H */
