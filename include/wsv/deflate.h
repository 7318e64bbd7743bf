/*
 * wsv/deflate.h - permessage-deflate (RFC 7692): the negotiation helpers
 * any embedder can use, and the parameters a connection compresses with.
 *
 * The handshake objects use these helpers themselves (hs_server.h:
 * pmd_policy, wsv_hs_server_pmd; hs_client.h: pmd_offer, pmd_request,
 * wsv_hs_client_pmd), and a connection compresses once its config's `pmd`
 * is filled from them (conn.h).  The helpers are for embedders that do
 * the HTTP part themselves.
 *
 * Syntax (RFC 6455 §9.1, RFC 7692 §5, §7).  One extension element is
 *   name *( OWS ";" OWS param [ OWS "=" OWS ( token / quoted-string ) ] )
 * The extension name and the parameter names are compared exactly (case
 * matters, as other wsv extension names).  A quoted-string value is
 * unescaped first and must then be a token (RFC 6455 §9.1), so
 * client_max_window_bits="10" means 10.  A window-bits value is a decimal
 * integer 8..15 without a leading zero ("08", "", "abc", "7", "16" are
 * invalid).  The two no_context_takeover parameters take no value.  An
 * element with a parameter that is unknown, repeated, or has an invalid
 * value is invalid: a server declines that offer (RFC 7692 §5: it answers
 * 101 without it, never 400) and a client fails the handshake.
 *
 * Window bits 8.  zlib's raw deflate cannot compress with a 256-byte
 * window (deflateInit2 refuses windowBits -8), so:
 *   - a server declines an offer holding server_max_window_bits=8 (it
 *     would have to compress within 256 bytes) and goes on to the next
 *     offer; answering 9 would break RFC 7692 §7.1.2.1;
 *   - an offer's client_max_window_bits=8 is fine: the client compresses,
 *     and we inflate with a window at least as large;
 *   - a client whose server answers client_max_window_bits=8 accepts it and
 *     then sends every message uncompressed (RSV1 clear), which RFC 7692
 *     allows; a connection whose own compression window is 8 never
 *     compresses.
 * Inflation uses the peer's agreed window, but at least 9 bits (old zlib
 * versions silently compressed with 9 when asked for 8); data that refers
 * further back than that fails the connection.
 */
#ifndef WSV_DEFLATE_H
#define WSV_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An agreed permessage-deflate configuration (what the 101 response
 * says).  Directions are named as in RFC 7692: "server_*" governs what the
 * server compresses (and the client inflates), "client_*" the other way.
 * As the client's pmd_request (hs_client.h) the same fields say what to
 * ask for: a flag set asks for it, window bits 8..14 ask for that limit,
 * 0 or 15 ask for nothing. */
struct wsv_pmd_params {
  int enabled;                    /* 0: no compression on this connection */
  int server_no_context_takeover; /* 0/1 */
  int client_no_context_takeover; /* 0/1 */
  int server_max_window_bits;     /* 8..15 as used (15 if absent) */
  int client_max_window_bits;     /* 8..15 as used (15 if absent) */
};

/* A server's permessage-deflate policy (wsv_hs_server_config.pmd_policy).
 *   OFF   never negotiate (the default of the core).
 *   ON    accept the first acceptable offer, affordably: context
 *         takeover both ways unless the offer asks for no context
 *         takeover; the server's window as the offer limits it (15
 *         otherwise); and when the offer holds client_max_window_bits
 *         (browsers and Python send it without a value) the answer limits
 *         the client to 13 bits (or the offer's value if lower), which
 *         RFC 7692 §7.1.2.2 lets the server pick: an inflater then needs
 *         an 8 KiB window instead of 32 KiB.  Without that parameter in
 *         the offer nothing is written for it and we inflate with 15.
 *         What the connection then compresses with is its own choice
 *         (wsv_conn_config_pmd in conn.h: an 11-bit deflater per
 *         connection and a shared 15-bit one for large messages).
 *   MAX   the best ratio, the most memory: windows as offered (15 when
 *         the offer does not limit them), context takeover both ways
 *         unless the offer asks otherwise.
 *   LEAN  as MAX, but the answer always carries server_no_context_takeover
 *         and client_no_context_takeover: each side's zlib state lives
 *         only while one message is compressed or inflated, so an idle
 *         connection holds no zlib memory at all.  Windows stay as
 *         offered: with no context takeover they only size the transient
 *         state, and a smaller window would cost compression on large
 *         messages for no lasting gain. */
enum wsv_pmd_policy {
  WSV_PMD_OFF = 0,
  WSV_PMD_ON = 1,
  WSV_PMD_LEAN = 2,
  WSV_PMD_MAX = 3
};

/* The client window ON answers when the offer allows it (see above). */
#define WSV_PMD_ON_CLIENT_BITS 13

/* A compressor shared by the connections of one thread (one event loop):
 * a 15-bit, memLevel 8 zlib deflater (about 262 KiB, made on first use,
 * so a thread that never compresses a large message does not pay for it)
 * that a connection borrows for the length of one whole message.  See
 * wsv_conn_config.pmd_shared (conn.h) for how a connection uses it and
 * why the peer's stream stays valid.  No global state: the caller owns
 * it, uses it from one thread at a time, and frees it after every
 * connection that points at it. */
struct wsv_pmd_shared;

/* wsv_pmd_shared_new - make a shared compressor whose zlib state (taken
 * on first use) and struct are allocated through `mem` (NULL: malloc;
 * the struct wsv_mem is copied).  Returns WSV_OK and *out, WSV_ERR_INVAL
 * for a NULL out, WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_pmd_shared_new(struct wsv_pmd_shared **out,
                                  const struct wsv_mem *mem);

/* wsv_pmd_shared_free - free it and its zlib state.  NULL is fine.  No
 * connection may use it afterwards. */
WSV_EXTERN void wsv_pmd_shared_free(struct wsv_pmd_shared *s);

/* wsv_pmd_shared_bytes - bytes of zlib state it holds now (0 before its
 * first use), for memory accounting and tests. */
WSV_EXTERN size_t wsv_pmd_shared_bytes(const struct wsv_pmd_shared *s);

/* One permessage-deflate element as written: which parameters it holds. */
struct wsv_pmd_offer {
  int server_no_context_takeover; /* 1 if present */
  int client_no_context_takeover; /* 1 if present */
  int server_max_window_bits;     /* 0 absent, else 8..15 */
  int client_max_window_bits;     /* 0 absent, -1 present without value,
                                     else 8..15 */
};

/* The longest value wsv_pmd_format_response / _format_offer write. */
#define WSV_PMD_FORMAT_MAX 128

/* wsv_pmd_parse - parse one extension element s[0..len) (one element of
 * a Sec-WebSocket-Extensions list, without the commas; surrounding spaces
 * are allowed).  Linear in len; nothing is allocated.
 * Returns
 *   1  a valid permessage-deflate element: *out (if not NULL) describes it;
 *   0  a well-formed element naming another extension (or an empty one);
 *   WSV_ERR_HS_EXTENSION  a malformed element, or permessage-deflate with
 *      an unknown, repeated or invalid parameter (or a value on a
 *      parameter that takes none);
 *   WSV_ERR_INVAL  s is NULL with len > 0.
 * If `why` is not NULL it receives a static one-line reason on error
 * ("" otherwise). */
WSV_EXTERN int wsv_pmd_parse(const char *s, size_t len,
                             struct wsv_pmd_offer *out, const char **why);

/* wsv_pmd_negotiate - the server's decision on one valid offer under
 * `policy` (enum wsv_pmd_policy).  Returns 1 and fills *out (enabled = 1)
 * when the offer is accepted, 0 when it is declined (policy OFF, or
 * server_max_window_bits=8), WSV_ERR_INVAL for NULL arguments or an
 * unknown policy. */
WSV_EXTERN int wsv_pmd_negotiate(const struct wsv_pmd_offer *offer, int policy,
                                 struct wsv_pmd_params *out);

/* wsv_pmd_select - the whole server side for a Sec-WebSocket-Extensions
 * value s[0..len) (several header lines joined with ", " are one list):
 * walks the permessage-deflate offers in order, skips invalid or declined
 * ones, and takes the first acceptable one.  Commas inside quoted strings
 * do not split.  Returns 1 and fills *agreed (and *offer, if not NULL,
 * with the chosen offer) or 0 when nothing is agreed; WSV_ERR_INVAL for
 * NULL arguments. */
WSV_EXTERN int wsv_pmd_select(const char *s, size_t len, int policy,
                              struct wsv_pmd_params *agreed,
                              struct wsv_pmd_offer *offer);

/* wsv_pmd_format_response - write the server's answer for `agreed`, e.g.
 * "permessage-deflate; server_no_context_takeover", to out[0..cap)
 * snprintf-style (NUL-terminated when cap > 0; returns the length without
 * the NUL).  `offer` (may be NULL) is the accepted offer: a
 * server_max_window_bits it held is always answered (RFC 7692 §7.1.2.1),
 * and client_max_window_bits is only written if it held that parameter
 * (§7.1.2.2).  Otherwise only limits below 15 are written.  At most
 * WSV_PMD_FORMAT_MAX bytes. */
WSV_EXTERN size_t wsv_pmd_format_response(const struct wsv_pmd_params *agreed,
                                          const struct wsv_pmd_offer *offer,
                                          char *out, size_t cap);

/* wsv_pmd_format_offer - write a client's offer for `request` (see struct
 * wsv_pmd_params) to out[0..cap), snprintf-style as above: always
 * "permessage-deflate; client_max_window_bits" (with "=N" when the request
 * limits it), plus what the request asks for.  At most WSV_PMD_FORMAT_MAX
 * bytes. */
WSV_EXTERN size_t wsv_pmd_format_offer(const struct wsv_pmd_params *request,
                                       char *out, size_t cap);

/* wsv_pmd_check_response - a client's strict check (RFC 7692 §5.1, §7) of
 * the server's permessage-deflate element `resp` (from wsv_pmd_parse)
 * against the offer it answers (`offered`, our own offer parsed the same
 * way).  Fails when the answer lacks a server_no_context_takeover or a
 * server_max_window_bits we asked for, has a server_max_window_bits above
 * the one we asked for, has client_max_window_bits although we did not
 * offer it, or has it without a value.  A client_max_window_bits above our
 * hint is allowed (the server may ignore the hint, §7.1.2.2) and we keep
 * to our hint.  Returns 0 and fills *agreed (enabled = 1;
 * client_no_context_takeover is also set when we offered it, since we then
 * promised not to use context takeover), or WSV_ERR_HS_EXTENSION with a
 * static reason in *why (if not NULL); WSV_ERR_INVAL for NULL arguments. */
WSV_EXTERN int wsv_pmd_check_response(const struct wsv_pmd_offer *offered,
                                      const struct wsv_pmd_offer *resp,
                                      struct wsv_pmd_params *agreed,
                                      const char **why);

/* wsv_pmd_offer_from_request - the offer wsv_pmd_format_offer writes for
 * `request`, as wsv_pmd_parse would read it back (for
 * wsv_pmd_check_response).  NULL arguments are ignored. */
WSV_EXTERN void wsv_pmd_offer_from_request(const struct wsv_pmd_params *request,
                                           struct wsv_pmd_offer *out);

#ifdef __cplusplus
}
#endif
#endif /* WSV_DEFLATE_H */
