/*
 * http.h - the core's internal HTTP and URI text code (src/http.c).  The
 * public half is in wsv/http.h (the response-head parser, field lookups,
 * comma lists, reason phrases, escaping; the model and the strictness
 * rules of the head parser are written there); this header adds what only
 * the core uses: the request-head parser of the server handshake, the
 * token and list lexing of the header grammars, and the RFC 3986 host
 * grammar.
 */
#ifndef WSV__HTTP_INT_H
#define WSV__HTTP_INT_H

#include "int.h"

/* wsv__http_parse_request - wsv_http_parse_response's twin for a request
 * head: the request line is method SP request-target SP "HTTP/" DIGIT "."
 * DIGIT (method a token, target printable ASCII), checked as soon as its
 * CRLF arrives; sets method and target.  Same returns and errors. */
int wsv__http_parse_request(struct wsv_http_head *h, const char *buf,
                            size_t len);

/* ---- token and list lexing (RFC 9110 §5.5, §5.6) --------------------------
 * The one definition of the pieces of the header grammars, used by the
 * head parser, both handshakes and deflate.c.  Positions are indices into
 * s[0..len); a returned index is never above len. */

/* wsv__http_tchar - 1 if c is an RFC 9110 tchar ("!#$%&'*+-.^_`|~",
 * DIGIT, ALPHA), else 0. */
int wsv__http_tchar(unsigned char c);

/* wsv__http_value_byte - 1 if c may appear in a field value (RFC 9110
 * §5.5: HTAB, SP, VCHAR, obs-text; no other control byte, no DEL). */
int wsv__http_value_byte(unsigned char c);

/* wsv__http_ows - 1 if c is SP or HTAB (OWS, RFC 9110 §5.6.3). */
int wsv__http_ows(char c);

/* wsv__http_skip_ows, wsv__http_skip_token - the index of the first byte
 * at or after i that is not OWS / not a tchar. */
size_t wsv__http_skip_ows(const char *s, size_t len, size_t i);
size_t wsv__http_skip_token(const char *s, size_t len, size_t i);

/* wsv__http_token - 1 if s[0..n) is a token (1*tchar), else 0. */
int wsv__http_token(const char *s, size_t n);

/* wsv__http_skip_quoted - the quoted-string (RFC 9110 §5.6.4) that starts
 * at s[i] == '"': returns the index after its closing quote, or 0 (never
 * a valid end) when it is not closed, a backslash ends the input, or a
 * byte is not a field-value byte (wsv__http_value_byte). */
size_t wsv__http_skip_quoted(const char *s, size_t len, size_t i);

/* wsv__http_elem_end - the end of the comma-list element starting at
 * s[i]: the index of the next ',' outside a quoted-string, or len.  The
 * quoted-strings are not checked (an unclosed one runs to the end); a
 * backslash inside one escapes the next byte. */
size_t wsv__http_elem_end(const char *s, size_t len, size_t i);

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

#endif /* WSV__HTTP_INT_H */
