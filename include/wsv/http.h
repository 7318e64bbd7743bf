/*
 * wsv/http.h - the HTTP/1.1 text code of the core, for callers that speak
 * HTTP around a WebSocket themselves (the wsv command's probe does): a
 * strict, incremental response-head parser, field lookups and comma-list
 * iteration (RFC 9110 §5.3, §5.6.1), the reason phrases wsv sends, and
 * the escaping wsv uses to quote untrusted bytes in a one-line message.
 *
 * The handshakes (wsv/hs_server.h, wsv/hs_client.h) use these same
 * functions; nothing here allocates, keeps state between calls or does
 * I/O.  Views (struct wsv_str, struct wsv_header) point into the caller's
 * buffers and stay valid as long as those bytes do.
 */
#ifndef WSV_HTTP_H
#define WSV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the head parser -------------------------------------------------------
 * Model (as picohttpparser): the caller keeps every byte received so far
 * in one contiguous buffer and appends to it; each call passes the whole
 * buffer again.  The parser remembers how far it has scanned, so the total
 * work stays linear however the bytes are split.  Nothing is allocated:
 * header names and values are views into the caller's buffer.
 *
 * Strictness (RFC 9112): CRLF line endings only (a bare LF or bare CR is an
 * error, reported as soon as it is seen); no obs-fold (a line starting with
 * SP/HTAB); no whitespace between a field name and the colon; field names
 * are RFC 9110 tokens; values may hold HTAB, SP, VCHAR and obs-text but no
 * other control byte (NUL, DEL, ...); leading and trailing SP/HTAB of a
 * value are trimmed.  A status line is HTTP-version SP 3DIGIT [SP
 * reason-phrase] (the SP before an empty reason may be missing). */

/* One head being parsed, owned by the caller.  Zero it, set `headers`,
 * `max_headers` and `max_bytes`, then call the parser. */
struct wsv_http_head {
  /* request line (requests: the core's server handshake only) */
  struct wsv_str method;
  struct wsv_str target;
  /* status line (responses only): the 3 digits (0..999), the phrase */
  int status;
  struct wsv_str reason;
  /* both: HTTP/major.minor, one digit each */
  int major, minor;
  /* header storage, supplied by the caller before the first call:
   * `headers` points to `max_headers` entries; `nheaders` is set on
   * success. */
  struct wsv_header *headers;
  size_t max_headers;
  size_t nheaders;
  /* limit on the head's size in bytes, start line and final CRLF
   * included */
  size_t max_bytes;
  /* private: resume point of the scan for the end of the head.  Set it to
   * 0 before the first call (zeroing the whole struct is simplest); when
   * it is 0 the parser resets the other private fields itself. */
  size_t _scanned;
  size_t _line;   /* private: offset where the current line starts */
  size_t _fields; /* private: header lines completed so far */
  int _state;     /* private: scanner state */
};

/* wsv_http_parse_response - parse a response head ("HTTP/1.1 101
 * Switching Protocols" CRLF fields CRLF) from buf[0..len), the whole
 * buffer received so far.
 * Returns the head's length in bytes (> 0, status line through the blank
 * line) when it is complete: status, reason, major, minor, headers[0..
 * nheaders) are then views into `buf` (set again on every completing
 * call, so the caller may move its buffer between calls);
 * WSV_ERR_AGAIN when more bytes are needed (len < max_bytes);
 * WSV_ERR_HTTP_TOO_LARGE when the head is not complete within max_bytes
 * (capped at INT_MAX), or has more than max_headers fields;
 * WSV_ERR_HTTP_SYNTAX for anything the rules above refuse, reported at
 * the first byte that breaks them (the status line's shape once its CRLF
 * arrives), before the head is complete;
 * WSV_ERR_INVAL if `len` is smaller than on the previous call.
 * Errors are sticky: later calls return the same code.  Bytes after the
 * head, or at or beyond max_bytes, are not looked at. */
WSV_EXTERN int wsv_http_parse_response(struct wsv_http_head *h, const char *buf,
                                       size_t len);

/* ---- fields ------------------------------------------------------------- */

/* wsv_str_ieq - 1 if the view `s` equals the NUL-terminated `name`
 * without regard to ASCII case ("Upgrade" == "UPGRADE"), else 0.  No
 * locale; bytes above 0x7F compare exactly. */
WSV_EXTERN int wsv_str_ieq(struct wsv_str s, const char *name);

/* wsv_http_count - how many of hs[0..n) are named `name` (any case).
 * When `first` is not NULL it receives the value of the first one, or
 * {NULL,0} when there is none.  Returns the count. */
WSV_EXTERN size_t wsv_http_count(const struct wsv_header *hs, size_t n,
                                 const char *name, struct wsv_str *first);

/* wsv_http_list_next - iterate over the comma-separated elements of every
 * field of hs[0..n) named `name` (any case), in order, as one list (RFC
 * 9110 §5.3): empty elements are skipped, surrounding SP/HTAB trimmed; a
 * comma inside a quoted-string ("a,b", with backslash escapes) does not
 * split.  Start with *pos = 0; each call returns 1 and sets *elem (a view
 * into a field value), or returns 0 at the end.  `pos` encodes field index
 * and offset (half of size_t's bits each; an offset or index too large for
 * its half ends the list): treat it as opaque.  Linear over the whole
 * list. */
WSV_EXTERN int wsv_http_list_next(const struct wsv_header *hs, size_t n,
                                  const char *name, size_t *pos,
                                  struct wsv_str *elem);

/* wsv_http_list_has - 1 if the comma list of the fields named `name`
 * (as wsv_http_list_next reads it) holds an element equal to `token`
 * (any case), else 0. */
WSV_EXTERN int wsv_http_list_has(const struct wsv_header *hs, size_t n,
                                 const char *name, const char *token);

/* ---- reason phrases ----------------------------------------------------- */

/* wsv_http_reason - the reason phrase wsv sends with `status`: the RFC
 * 9110 §15 phrase for the statuses wsv uses (101, 200, 201, 204, 301, 302,
 * 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409, 410, 413, 414,
 * 421, 426, 429, 431, 500, 501, 502, 503, 504), and otherwise the name of
 * its class: "Informational" (1xx), "Success" (2xx), "Redirection" (3xx),
 * "Client Error" (4xx), "Server Error" (5xx), and "Unknown" outside
 * 100..599.  Returns a static string, never NULL or empty. */
WSV_EXTERN const char *wsv_http_reason(int status);

/* ---- base64 ------------------------------------------------------------- */

/* wsv_base64_encode - write in[0..len) as RFC 4648 §4 base64 with padding
 * and a NUL into out[0..cap), for Basic credentials (Authorization,
 * Proxy-Authorization) and for showing binary data as text.  `in` may be
 * NULL when len is 0.  Returns the length without the NUL, 4 * ceil(len /
 * 3); when cap is at most that length nothing is written (call with out
 * NULL and cap 0 to learn the size).  A len whose encoding would not fit
 * in a size_t returns SIZE_MAX and writes nothing. */
WSV_EXTERN size_t wsv_base64_encode(const void *in, size_t len, char *out,
                                    size_t cap);

/* ---- quoting untrusted bytes -------------------------------------------- */

/* Flags of wsv_str_escape.  WSV_ESCAPE_HEX: write a byte outside
 * printable ASCII as \xNN (uppercase hex), and '"' and '\' as \" and \\,
 * so the text can go between quotes unambiguously; without it such a
 * byte becomes '?', and '"' and '\' stay as they are. */
#define WSV_ESCAPE_HEX 1u

/* wsv_str_escape - write src[0..len) into dst[0..cap) as printable ASCII
 * (0x20..0x7E), for a log line or an error message: at most `max` bytes
 * of src are taken (SIZE_MAX: all), each printable byte as itself and
 * the others as `flags` says.  When bytes are left out - src is longer
 * than `max`, or the text does not fit in cap - 1 bytes - it ends with
 * "..." instead, and no escape is ever cut in two.  dst is always
 * NUL-terminated when cap > 0 (with cap < 4 a cut text is just dots).
 * src may be NULL when len is 0; dst may be NULL when cap is 0.
 * Returns the length written, without the NUL. */
WSV_EXTERN size_t wsv_str_escape(char *dst, size_t cap, const char *src,
                                 size_t len, size_t max, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* WSV_HTTP_H */
