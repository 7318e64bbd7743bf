/*
 * http.h - internal incremental HTTP/1.1 message-head parser, shared by the
 * server handshake (requests) and the client handshake (responses).
 *
 * Model (as picohttpparser): the caller keeps every byte received so far in
 * one contiguous buffer and appends to it; each call passes the whole buffer
 * again.  The parser remembers how far it has scanned (`_scanned`) so the
 * total work stays linear however the bytes are split.  Nothing is
 * allocated: header names and values are views into the caller's buffer and
 * stay valid as long as that buffer does.
 *
 * Strictness (RFC 9112): CRLF line endings only (a bare LF or bare CR is an
 * error, reported as soon as it is seen); no obs-fold (a line starting with
 * SP/HTAB); no whitespace between a field name and the colon; field names
 * are RFC 9110 tokens; values may hold HTAB, SP, VCHAR and obs-text but no
 * other control byte (NUL, DEL, ...); leading and trailing SP/HTAB of a value
 * are trimmed.
 */
#ifndef WSV_HTTP_H
#define WSV_HTTP_H

#include "int.h"

struct wsv__http_head {
  /* request line (requests only) */
  struct wsv_str method;
  struct wsv_str target;
  /* status line (responses only) */
  int status;
  struct wsv_str reason;
  /* both: HTTP/major.minor */
  int major, minor;
  /* header storage, supplied by the caller before the first call:
   * `headers` points to `max_headers` entries; `nheaders` is set on success. */
  struct wsv_header *headers;
  size_t max_headers;
  size_t nheaders;
  /* limit on the head's size in bytes, request line and final CRLF included */
  size_t max_bytes;
  /* private: resume point of the scan for the end of the head.  Set it to 0
   * before the first call (zeroing the whole struct is simplest); when it is
   * 0 the parser resets the other private fields itself. */
  size_t _scanned;
  size_t _line;   /* private: offset where the current line starts */
  size_t _fields; /* private: header lines completed so far */
  int _state;     /* private: scanner state */
};

/* Parse a request head from buf[0..len).  Returns the head's length in
 * bytes (> 0, the request line through the blank line) when complete;
 * WSV_ERR_AGAIN when more bytes are needed (len < max_bytes);
 * WSV_ERR_HTTP_TOO_LARGE when the head is not complete within max_bytes, or
 * has more than max_headers fields; WSV_ERR_HTTP_SYNTAX otherwise;
 * WSV_ERR_INVAL if `len` is smaller than on the previous call.
 * Bytes after the head are not looked at, nor bytes at or beyond max_bytes
 * (max_bytes is capped at INT_MAX).  Syntax errors in the bytes seen so far
 * are reported at once, before the head is complete; the request line's
 * shape (method SP origin SP "HTTP/" DIGIT "." DIGIT) is checked as soon as
 * its CRLF arrives.  Errors are sticky: later calls return the same code.
 * Views (method, target, headers) are (re)set from `buf` on completion, so
 * the caller may move its buffer between calls. */
int wsv__http_parse_request(struct wsv__http_head *h, const char *buf,
                            size_t len);

/* Same for a response head ("HTTP/1.1 101 Switching Protocols"). */
int wsv__http_parse_response(struct wsv__http_head *h, const char *buf,
                             size_t len);

/* Case-insensitive ASCII comparison of a view with a NUL-terminated name. */
int wsv__str_ieq(struct wsv_str s, const char *name);

/* Count the fields named `name` (case-insensitive); if `first` is not NULL
 * it receives the value of the first one (or {NULL,0}). */
size_t wsv__http_count(const struct wsv_header *hs, size_t n, const char *name,
                       struct wsv_str *first);

/* Iterate over the comma-separated elements of every field named `name`,
 * in order, as one list (RFC 9110 §5.3): empty elements are skipped,
 * surrounding SP/HTAB trimmed.  A comma inside a quoted-string ("a,b", with
 * backslash escapes) does not split.  Start with *pos = 0; each call returns
 * 1 and sets *elem, or returns 0 at the end.  `pos` encodes field index and
 * offset (half of size_t's bits each; an offset or index too large for its
 * half ends the list); treat it as opaque.  Linear over the whole list. */
int wsv__http_list_next(const struct wsv_header *hs, size_t n, const char *name,
                        size_t *pos, struct wsv_str *elem);

/* 1 if the comma list in the fields named `name` holds `token`
 * (case-insensitive), else 0. */
int wsv__http_list_has(const struct wsv_header *hs, size_t n, const char *name,
                       const char *token);

/* ---- RFC 3986 hosts ------------------------------------------------------
 * The one parser in wsv for the host grammar of RFC 3986 §3.2.2, used for
 * the Host field a server receives (hs_server.c) and for the host a client
 * puts in its own Host field (hs_client.c):
 *
 *   host        = IP-literal / IPv4address / reg-name
 *   IP-literal  = "[" ( IPv6address / IPvFuture ) "]"
 *   IPvFuture   = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
 *   IPv6address = the nine alternatives of §3.2.2: eight h16 groups
 *                 (1-4 HEXDIG), or fewer with one "::" standing for one
 *                 or more zero groups; the last two groups may be an
 *                 IPv4address
 *   IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet
 *                 (0-255, no leading zero)
 *   reg-name    = *( unreserved / pct-encoded / sub-delims )
 *
 * Accepted, e.g.: "example.com", "a-b.c", "%41.test", "127.0.0.1",
 * "[::1]", "[2001:db8::1]", "[::ffff:192.0.2.1]", "[1:2:3:4:5:6:7:8]",
 * "[::]", "[v1.x]".
 * Rejected, e.g.: "" (an empty reg-name: no host at all), "[::1" (no
 * "]"), "[]", "[zz::]" (not hex), "[12345::]" (5 digits),
 * "[1:2:3:4:5:6:7:8:9]" (9 groups), "[1::2::3]" (two "::"), "[:1::]",
 * "[1.2.3.4]" (an IPv4address is no IPv6address), "[::1.2.3.256]",
 * "ho st", "a@b", "%4g", "a:b" (':' is not in a reg-name).
 * A dotted quad that is not an IPv4address, e.g. "1.2.3.256", is still
 * a valid reg-name, as RFC 3986's first-match rule says; it is accepted
 * as one.  Nothing is decoded or normalised. */

/* wsv__uri_host - classify p[0..n) as one RFC 3986 host (no port).
 * Returns an enum wsv_host_kind (wsv/url.h), WSV_HOST_INVALID (0) when
 * p[0..n) is not a host or is empty.  p may be NULL when n is 0. */
int wsv__uri_host(const char *p, size_t n);

/* wsv__uri_ipv6 - 1 if p[0..n) is an RFC 3986 IPv6address (no
 * brackets), else 0. */
int wsv__uri_ipv6(const char *p, size_t n);

/* wsv__uri_userinfo - 1 if p[0..n) is an RFC 3986 §3.2.1 userinfo,
 * *( unreserved / pct-encoded / sub-delims / ":" ) (empty is one), else
 * 0.  Used by wsv_url_parse (url.c). */
int wsv__uri_userinfo(const char *p, size_t n);

/* wsv__uri_port - p[0..n) as a port: 1*DIGIT (leading zeros allowed)
 * with a value of at most 65535.  Returns the value (0 is one), or -1
 * when p[0..n) is empty or not such a port. */
long wsv__uri_port(const char *p, size_t n);

/* wsv__uri_host_port - p[0..n) as host [ ":" port ], the value of an
 * HTTP Host field (RFC 9112 §3.2, RFC 9110 §7.2).  port is 1*DIGIT with
 * a value of at most 65535 (leading zeros allowed); an empty port after
 * the ':' ("host:"), which RFC 3986 §3.2.3 permits but asks producers to
 * omit, is rejected: no client sends it, and two spellings of one
 * authority are one too many for a strict server.  Returns the host's
 * enum wsv_host_kind (> 0), with *host_len (if not NULL) set to the
 * length of the host part (brackets included) and *port (if not NULL)
 * to the port, or -1 when there is none; returns 0 (WSV_HOST_INVALID)
 * otherwise, leaving *host_len and *port unchanged. */
int wsv__uri_host_port(const char *p, size_t n, size_t *host_len, long *port);

#endif /* WSV_HTTP_H */
