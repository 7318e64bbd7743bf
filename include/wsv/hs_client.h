/*
 * wsv/hs_client.h - the client side of the WebSocket opening handshake
 * (RFC 6455 §4.1), with Sec-WebSocket-Version negotiation (§4.4).
 *
 * Sans-I/O: the object builds the request bytes and judges the response
 * bytes; the caller owns the socket.  A typical use:
 *
 *   struct wsv_hs_client_config cfg;
 *   wsv_hs_client_config_init(&cfg);
 *   cfg.host = "example.com";
 *   cfg.path = "/chat";
 *   struct wsv_hs_client *hs;
 *   int rc = wsv_hs_client_new(&hs, &cfg, NULL);
 *   again:
 *   // size the request: wsv_hs_client_request(hs, NULL, 0, &n) gives
 *   // WSV_ERR_NOBUF and n; then write it with a buffer of n + 1 bytes.
 *   // Send it, then append every byte received to one buffer `in` and
 *   // pass the whole buffer each time:
 *   rc = wsv_hs_client_parse(hs, in, in_len);
 *   // WSV_HSC_INCOMPLETE: read more and call again.
 *   // WSV_HSC_OPEN: the connection is a WebSocket; bytes from
 *   //   wsv_hs_client_head_len(hs) on are the first frames.
 *   // WSV_HSC_RETRY: close this connection, call wsv_hs_client_retry(hs),
 *   //   open a new connection and goto again (at most once).
 *   // < 0: failed; wsv_hs_client_reason(hs) says why in one line.
 *
 * The response is checked strictly: status 101 on HTTP/1.1, an Upgrade
 * list holding "websocket", a Connection list holding "Upgrade", exactly
 * one Sec-WebSocket-Accept equal to the value computed from our key, a
 * Sec-WebSocket-Protocol only if we offered subprotocols and then exactly
 * one of them, and Sec-WebSocket-Extensions only naming extensions we
 * offered.  Header names and the Upgrade/Connection tokens are compared
 * without regard to case; the accept value, subprotocols and extension
 * names exactly.
 *
 * Version negotiation: a 400 or 426 response carrying Sec-WebSocket-Version
 * (one or several fields, comma lists; elements that are not a version
 * number 0..255 are ignored) yields WSV_HSC_RETRY naming the highest version
 * both sides speak other than the one just tried.  A handshake retries at
 * most once.
 *
 * HTTP/2 (RFC 8441 §4-5): the same object speaks an extended CONNECT on an
 * HTTP/2 stream instead (the runtime owns the HTTP/2 session and HPACK):
 * wsv_hs_client_request_h2 gives the request's fields,
 * wsv_hs_client_parse_h2 judges the answer's :status and fields, and
 * wsv_hs_client_retry works as on HTTP/1.1 (open a new stream and send the
 * new fields).  There is no Sec-WebSocket-Key or -Accept.  The answer:
 *   :status 200 only (RFC 8441 §5's answer; any other 2xx is
 *     WSV_ERR_HS_STATUS), then the subprotocol, extension and
 *     permessage-deflate checks of a 101; a sec-websocket-version in it
 *     is ignored, as in a 101 on HTTP/1.1 (neither path refuses it);
 *   400 or 426 with sec-websocket-version: the negotiation above
 *     (WSV_HSC_RETRY once, or WSV_ERR_HS_NO_COMMON_VERSION, or
 *     WSV_ERR_HS_STATUS when the list holds the version we sent);
 *   anything else: WSV_ERR_HS_STATUS ("server answered :status 403").
 * The getters (status, subprotocol, extensions, pmd, version, reason)
 * work as on HTTP/1.1; wsv_hs_client_head_len is 0.
 */
#ifndef WSV_HS_CLIENT_H
#define WSV_HS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/deflate.h"
#include "wsv/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Non-negative results of wsv_hs_client_parse().  None of them is 0, so a
 * zero-initialised variable never reads as a result. */
enum wsv_hsc_result {
  WSV_HSC_INCOMPLETE = 1, /* the response head is not complete yet */
  WSV_HSC_OPEN = 2,       /* the handshake succeeded */
  WSV_HSC_RETRY = 3       /* reconnect with wsv_hs_client_retry_version() */
};

/* Default limits on the response head (as the server's request limits). */
#define WSV_HS_CLIENT_MAX_HEADER_BYTES 8192
#define WSV_HS_CLIENT_MAX_HEADERS 100

/* What the caller asks for.  Fill with wsv_hs_client_config_init(), then
 * set fields.  Every string is copied by wsv_hs_client_new(): the config
 * and what it points to need not outlive that call.
 * Always call wsv_hs_client_config_init first: new fields take reserved space,
 * so the size and every field's offset stay fixed within a SONAME (README,
 * "Library contract"). */
struct wsv_hs_client_config {
  /* The versions we speak: a set of WSV_VERSION_BIT(v) with v in 13, 8, 7.
   * Default WSV_VERSIONS_ALL (13 is tried first; 8 and 7 are only used
   * when a server asks for them). */
  uint32_t versions;
  /* The version to try first; 0 (the default) means the highest in
   * `versions`.  Must be in `versions`. */
  int first_version;
  /* The server's host name, IPv4 address or IPv6 address (with or without
   * brackets).  Required.  Sent in Host, IPv6 in brackets. */
  const char *host;
  /* The port; 0 (default) means the scheme's default.  Host carries
   * ":port" unless the port is the default (80, or 443 when `secure`). */
  uint16_t port;
  /* Nonzero for wss: changes which port is the default, and the :scheme
   * of the HTTP/2 request ("https", else "http"). */
  int secure;
  /* The resource name: path and optional "?query", starting with "/".
   * Default "/".  Printable ASCII only, no '#' (percent-encode the rest). */
  const char *path;
  /* Origin to send, or NULL (default) for none.  Sent as Origin for
   * version 13 and as Sec-WebSocket-Origin for 8 and 7. */
  const char *origin;
  /* Subprotocols to offer, most preferred first: `nsubprotocols` distinct
   * HTTP tokens.  Default none. */
  const char *const *subprotocols;
  size_t nsubprotocols;
  /* The Sec-WebSocket-Extensions offer, sent as given (for example
   * "permessage-deflate; client_max_window_bits"), or NULL / "" for none.
   * Must be a valid extension-list (RFC 6455 §9.1). */
  const char *extensions;
  /* permessage-deflate (RFC 7692): 0 (default) offers nothing; 1 offers
   * "permessage-deflate; client_max_window_bits" plus what pmd_request
   * asks for (wsv_pmd_format_offer), after `extensions` in the same field.
   * With 1, `extensions` must not name permessage-deflate itself.
   * pmd_request (all 0 by default: ask for nothing) may ask for
   * server_no_context_takeover, client_no_context_takeover (a promise
   * that we will not use context takeover), server_max_window_bits 8..14,
   * and client_max_window_bits 8..14 (a hint that we will not use a larger
   * window); window bits 0 or 15 ask for nothing, others are refused.
   * Its `enabled` field is ignored. */
  int pmd_offer;
  struct wsv_pmd_params pmd_request;
  /* Extra request header fields, sent in order after the handshake's own.
   * Names must be HTTP tokens; values must not hold CR, LF, NUL or other
   * control bytes except HTAB, nor begin or end with a space.  Refused
   * (they belong to the handshake or would give the request a body): Host,
   * Upgrade, Connection, Origin, Content-Length, Transfer-Encoding and any
   * name starting with Sec-WebSocket-. */
  const struct wsv_header *headers;
  size_t nheaders;
  /* Limits on the response head: bytes (status line through the blank
   * line) and header count.  0 means the default (8192 and 100). */
  size_t max_header_bytes;
  size_t max_headers;
  /* Source of the 16-byte key nonces; default wsv_random_os.  Called by
   * wsv_hs_client_new() and wsv_hs_client_retry() only. */
  wsv_random_fn random;
  void *random_user;
  /* Room for new fields (zeroed by wsv_hs_client_config_init; do not
   * touch). */
  uint64_t _reserved[8];
};

/* The handshake object (opaque). */
struct wsv_hs_client;

/* wsv_hs_client_config_init - set every field of `cfg` to its default
 * (described above; host is NULL and must be set). */
WSV_EXTERN void wsv_hs_client_config_init(struct wsv_hs_client_config *cfg);

/* wsv_hs_client_new - check `cfg`, copy it, and draw the first key.
 * On success *out is a new object, allocated through `mem` (NULL: libc);
 * free it with wsv_hs_client_free().  On failure *out is NULL.
 * Returns WSV_OK, or
 *   WSV_ERR_INVAL  a NULL argument, no host, a bad host, path, origin,
 *                  subprotocol, extension offer or extra header, pmd_offer
 *                  not 0/1, pmd_request window bits not 0 or 8..15,
 *                  pmd_offer with `extensions` naming permessage-deflate,
 *                  a version
 *                  set that is empty of 13/8/7 or holds other versions, a
 *                  first_version outside the set, or limits too large;
 *   WSV_ERR_NOMEM  the allocator failed;
 *   WSV_ERR_RANDOM the random hook failed. */
WSV_EXTERN int wsv_hs_client_new(struct wsv_hs_client **out,
                                 const struct wsv_hs_client_config *cfg,
                                 const struct wsv_mem *mem);

/* wsv_hs_client_free - free the object and everything it owns (the
 * strings returned by its accessors included).  NULL is allowed. */
WSV_EXTERN void wsv_hs_client_free(struct wsv_hs_client *hs);

/* wsv_hs_client_request - write the request for the current attempt (the
 * current key and version) to out[0..cap): *len request bytes followed by
 * a NUL that is not part of the request.  The same bytes come back on
 * every call until wsv_hs_client_retry().  `out` may be NULL when cap is
 * 0, to learn the size.
 * Returns WSV_OK with *len = bytes written (without the NUL), or
 *   WSV_ERR_NOBUF  cap < *len + 1; *len is the request's length, nothing
 *                  is written;
 *   WSV_ERR_INVAL  hs or len is NULL, or out is NULL while cap > 0. */
WSV_EXTERN int wsv_hs_client_request(const struct wsv_hs_client *hs, char *out,
                                     size_t cap, size_t *len);

/* wsv_hs_client_request_h2 - the extended CONNECT's fields for HTTP/2
 * (RFC 8441 §4-5), in this order: :method CONNECT, :protocol websocket,
 * :scheme ("https" when the config's `secure` is set, else "http"), :path,
 * :authority (host[:port], the port only when not the scheme's default,
 * an IPv6 address in brackets: the HTTP/1.1 Host value), then
 * sec-websocket-version (the version being tried; after a retry the retry
 * version), origin (sec-websocket-origin for versions 8 and 7) if
 * configured, sec-websocket-protocol (the offered subprotocols as one
 * list, "a, b") and sec-websocket-extensions if any, and the config's
 * extra headers in order with lowered names, leaving out keep-alive,
 * proxy-connection and te (connection-specific: HTTP/2 forbids them,
 * RFC 9113 §8.2.2; the config refuses the others already).  No Key.
 * Writes min(cap, count) fields into out (views into hs, valid until it
 * is freed or retried; `out` may be NULL when cap is 0) and returns the
 * count, or WSV_ERR_INVAL for a NULL hs (or a NULL out with cap > 0). */
WSV_EXTERN int wsv_hs_client_request_h2(const struct wsv_hs_client *hs,
                                        struct wsv_header *out, size_t cap);

/* wsv_hs_client_parse_h2 - judge the answer to wsv_hs_client_request_h2:
 * `status` (the :status) and the regular fields fields[0..n) (views read
 * during the call only; fields whose name starts with ':' are skipped, so
 * the whole decoded list may be passed).  The rules are at the top of this
 * file.  One call per answer: once it has returned, later calls return
 * the same result until wsv_hs_client_retry().
 * Returns WSV_HSC_OPEN, WSV_HSC_RETRY (call wsv_hs_client_retry() and
 * request again on a new stream), or a negative error with
 * wsv_hs_client_reason() saying why:
 *   WSV_ERR_HS_STATUS, WSV_ERR_HS_SUBPROTOCOL, WSV_ERR_HS_EXTENSION,
 *   WSV_ERR_HS_NO_COMMON_VERSION, WSV_ERR_NOMEM: as wsv_hs_client_parse;
 *   WSV_ERR_HTTP_TOO_LARGE  more than max_headers regular fields;
 *   WSV_ERR_INVAL           hs is NULL, fields is NULL while n > 0, a
 *                           field's name or value is NULL with a length,
 *                           or wsv_hs_client_parse was already fed bytes
 *                           on this attempt. */
WSV_EXTERN int wsv_hs_client_parse_h2(struct wsv_hs_client *hs, int status,
                                      const struct wsv_header *fields,
                                      size_t n);

/* wsv_hs_client_parse - judge the response received so far.  `buf` holds
 * every byte received on this attempt's connection, from the first; each
 * call passes the whole (grown) buffer again.  Only the head is read: the
 * call returns as soon as the head is complete, whatever follows it.
 * Once a result other than WSV_HSC_INCOMPLETE has been returned, every
 * later call returns that result again without looking at `buf` (until
 * wsv_hs_client_retry()).
 * Returns
 *   WSV_HSC_INCOMPLETE  more bytes are needed;
 *   WSV_HSC_OPEN        a valid 101: wsv_hs_client_head_len() bytes were
 *                       the head, any bytes after it are WebSocket data;
 *   WSV_HSC_RETRY       a 400/426 listing a version we can retry with:
 *                       see wsv_hs_client_retry_version();
 * or a negative error, with wsv_hs_client_reason() describing it:
 *   WSV_ERR_HTTP_SYNTAX       the head is not valid HTTP/1.x;
 *   WSV_ERR_HTTP_TOO_LARGE    the head is over max_header_bytes, or has
 *                             more than max_headers fields;
 *   WSV_ERR_HS_STATUS         status is not 101 (or a 101 below HTTP/1.1),
 *                             and not a version negotiation; also a 400/426
 *                             whose version list holds the version we sent;
 *   WSV_ERR_HS_UPGRADE        Upgrade missing or without "websocket";
 *   WSV_ERR_HS_CONNECTION     Connection missing or without "Upgrade";
 *   WSV_ERR_HS_ACCEPT         Sec-WebSocket-Accept missing, repeated or
 *                             not the expected value;
 *   WSV_ERR_HS_SUBPROTOCOL    a subprotocol we did not offer, none offered,
 *                             several chosen, or repeated;
 *   WSV_ERR_HS_EXTENSION      an extension we did not offer, a malformed
 *                             Sec-WebSocket-Extensions, or a
 *                             permessage-deflate answer that is not valid
 *                             for any permessage-deflate offer we sent
 *                             (whether from pmd_offer or `extensions`):
 *                             an unknown, repeated or invalid parameter,
 *                             permessage-deflate twice, or a rule of
 *                             wsv_pmd_check_response broken; the reason
 *                             names it;
 *   WSV_ERR_HS_NO_COMMON_VERSION  a 400/426 version list with nothing we can
 *                             retry with (nothing in common, only junk, or
 *                             this attempt already is the retry);
 *   WSV_ERR_NOMEM             copying the agreed extensions failed;
 *   WSV_ERR_INVAL             hs is NULL, buf is NULL while len > 0, or
 *                             len is smaller than in an earlier call. */
WSV_EXTERN int wsv_hs_client_parse(struct wsv_hs_client *hs, const char *buf,
                                   size_t len);

/* wsv_hs_client_retry - start the second attempt after WSV_HSC_RETRY: a
 * fresh key, the version wsv_hs_client_retry_version() named, the parser
 * reset.  The caller then opens a new connection, sends the new request
 * (wsv_hs_client_request) and parses the new response from its first byte.
 * Returns WSV_OK, or
 *   WSV_ERR_STATE   the last parse result was not WSV_HSC_RETRY;
 *   WSV_ERR_RANDOM  the random hook failed (the object stays in the
 *                   RETRY state and the call may be repeated);
 *   WSV_ERR_INVAL   hs is NULL. */
WSV_EXTERN int wsv_hs_client_retry(struct wsv_hs_client *hs);

/* wsv_hs_client_version - the version the current attempt sends (after
 * WSV_HSC_OPEN: the version in use). */
WSV_EXTERN int wsv_hs_client_version(const struct wsv_hs_client *hs);

/* wsv_hs_client_retry_version - after WSV_HSC_RETRY, the version to retry
 * with (in our set, never the one just tried); otherwise 0. */
WSV_EXTERN int wsv_hs_client_retry_version(const struct wsv_hs_client *hs);

/* wsv_hs_client_is_retry - nonzero when the current attempt is the retry
 * (wsv_hs_client_retry() was called). */
WSV_EXTERN int wsv_hs_client_is_retry(const struct wsv_hs_client *hs);

/* wsv_hs_client_status - the response's HTTP status code once the head is
 * complete, otherwise 0. */
WSV_EXTERN int wsv_hs_client_status(const struct wsv_hs_client *hs);

/* wsv_hs_client_head_len - the length in bytes of the response head
 * (status line through the blank line) once it is complete, otherwise 0.
 * Bytes after it in the buffer are not part of the handshake. */
WSV_EXTERN size_t wsv_hs_client_head_len(const struct wsv_hs_client *hs);

/* wsv_hs_client_reason - one line of English saying why the last parse
 * failed or asked for a retry, e.g.
 * `Sec-WebSocket-Accept is "abc", expected "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="`
 * or `server speaks 9, 10; we speak 13, 8, 7`.  Server text is quoted with
 * non-printable bytes shown as '?' and long values cut.  "" when there is
 * nothing to report.  Owned by hs; valid until the next call on hs. */
WSV_EXTERN const char *wsv_hs_client_reason(const struct wsv_hs_client *hs);

/* wsv_hs_client_key - the Sec-WebSocket-Key of the current attempt (24
 * chars, NUL-terminated, owned by hs; changes on wsv_hs_client_retry). */
WSV_EXTERN const char *wsv_hs_client_key(const struct wsv_hs_client *hs);

/* wsv_hs_key - the Sec-WebSocket-Key for a 16-byte nonce (RFC 6455 §4.1:
 * base64 of 16 random bytes, e.g. from wsv_random_os): 24 chars and a NUL
 * into out[25].  Returns 24.  For a caller that writes its own request;
 * the handshake object draws its own keys. */
WSV_EXTERN size_t wsv_hs_key(const uint8_t nonce[16], char out[25]);

/* wsv_hs_accept - the Sec-WebSocket-Accept a server answers the key
 * key[0..key_len) with (RFC 6455 §4.2.2: base64 of the SHA-1 of the key
 * followed by the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11): 28 chars
 * and a NUL into out[29].  `key` is the field value exactly as sent; it
 * is not checked.  Returns 28. */
WSV_EXTERN size_t wsv_hs_accept(const char *key, size_t key_len, char out[29]);

/* wsv_hs_client_subprotocol - after WSV_HSC_OPEN, the subprotocol the
 * server chose (one of the offered strings, NUL-terminated, owned by hs),
 * or NULL if it chose none. */
WSV_EXTERN const char *
wsv_hs_client_subprotocol(const struct wsv_hs_client *hs);

/* wsv_hs_client_extensions - after WSV_HSC_OPEN, the extensions the server
 * agreed to: the values of every Sec-WebSocket-Extensions field of the
 * response joined with ", " (NUL-terminated, owned by hs), or NULL if the
 * response had none.  Every extension named in it was offered; parameters
 * are not checked here (that belongs to the extension's own code). */
WSV_EXTERN const char *wsv_hs_client_extensions(const struct wsv_hs_client *hs);

/* wsv_hs_client_pmd - after WSV_HSC_OPEN, the permessage-deflate
 * parameters agreed (checked against our offer).  Returns 1 and fills
 * *out when the server agreed to permessage-deflate; 0 otherwise, with
 * *out zeroed (enabled 0) unless out is NULL.  Typical use:
 * wsv_hs_client_pmd(hs, &conn_cfg.pmd). */
WSV_EXTERN int wsv_hs_client_pmd(const struct wsv_hs_client *hs,
                                 struct wsv_pmd_params *out);

#ifdef __cplusplus
}
#endif
#endif /* WSV_HS_CLIENT_H */
