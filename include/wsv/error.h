/*
 * wsv/error.h - the one error table of wsv.
 *
 * Every wsv function that can fail returns an int: 0 (WSV_OK) or a positive
 * count on success, a negative WSV_ERR_* code on failure.  The table below is
 * an X-macro (as libuv's UV_ERRNO_MAP): it generates the enum, wsv_strerror()
 * and wsv_err_name(), so a code, its name and its text can never disagree.
 *
 * Codes are stable: new codes are added, existing numbers never change.
 */
#ifndef WSV_ERROR_H
#define WSV_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, number, text).  Fatal codes (see wsv_is_fatal) are those a
 * connection cannot survive; they are listed from -100 downwards:
 *   -1 .. -99     API use, resources and the opening handshake (not fatal)
 *   -100 .. -119  the WebSocket connection failed
 *   -120 .. -199  the transport failed: TLS, name resolution
 *   -200 .. -299  a system call failed: WSV_ERR_SYSTEM, then one code per
 *                 errno value of WSV_ERRNO_MAP (as libuv's UV_E*) */
#define WSV_ERR_MAP(XX)                                                        \
  /* API use and resources */                                                  \
  XX(INVAL, -1, "invalid argument")                                            \
  XX(STATE, -2, "call not valid in the current state")                         \
  XX(NOBUF, -3, "output buffer too small")                                     \
  XX(AGAIN, -4, "more input is needed")                                        \
  /* opening handshake: request (server side) */                               \
  XX(HTTP_SYNTAX, -20, "malformed HTTP message")                               \
  XX(HTTP_TOO_LARGE, -21, "HTTP header block or header count over the limit")  \
  XX(HS_METHOD, -22, "request method is not GET")                              \
  XX(HS_TARGET, -23, "request target is not a valid resource name")            \
  XX(HS_HTTP_VERSION, -24, "HTTP version is below 1.1")                        \
  XX(HS_HOST, -25, "Host header missing, repeated or malformed")               \
  XX(HS_UPGRADE, -26, "Upgrade header lacks the websocket token")              \
  XX(HS_CONNECTION, -27, "Connection header lacks the Upgrade token")          \
  XX(HS_KEY, -28, "Sec-WebSocket-Key missing, repeated or not 16 bytes")       \
  XX(HS_VERSION, -29, "Sec-WebSocket-Version missing, repeated or malformed")  \
  XX(HS_VERSION_UNSUPPORTED, -30, "Sec-WebSocket-Version not supported")       \
  XX(HS_BODY, -31, "request carries a body or bad Content-Length")             \
  XX(HS_HEADER, -32, "malformed WebSocket header value")                       \
  XX(HS_REFUSED, -33, "refused by the accept hook")                            \
  XX(HS_NOT_UPGRADE, -34, "plain HTTP request without Upgrade")                \
  /* opening handshake: response (client side) */                              \
  XX(HS_STATUS, -40, "response status is not 101 Switching Protocols")         \
  XX(HS_ACCEPT, -41, "Sec-WebSocket-Accept missing or wrong")                  \
  XX(HS_SUBPROTOCOL, -42, "subprotocol in response was not offered")           \
  XX(HS_EXTENSION, -43, "extension in response was not offered")               \
  XX(HS_NO_COMMON_VERSION, -44, "no WebSocket version in common")              \
  /* fatal: the connection cannot go on */                                     \
  XX(NOMEM, -100, "out of memory")                                             \
  XX(RANDOM, -101, "random source failed")                                     \
  XX(PROTOCOL, -102, "protocol error (close 1002)")                            \
  XX(UTF8, -103, "invalid UTF-8 (close 1007)")                                 \
  XX(POLICY, -104, "policy violation (close 1008)")                            \
  XX(TOO_BIG, -105, "message too big (close 1009)")                            \
  XX(CLOSED, -106, "connection is closed")                                     \
  XX(INFLATE, -108, "invalid compressed data (close 1007)")                    \
  XX(BUDGET, -109, "shared memory budget exhausted (close 1009)")              \
  /* fatal: the transport failed */                                            \
  XX(TLS, -120, "TLS protocol error")                                          \
  XX(TLS_VERIFY, -121, "TLS certificate verification failed")                  \
  XX(RESOLVE, -122, "name resolution failed")                                  \
  XX(PROXY, -123, "the proxy refused or broke the tunnel")                     \
  /* fatal: a system call failed */                                            \
  XX(SYSTEM, -200, "system call failed")                                       \
  WSV_ERRNO_MAP(XX)

/* XX(NAME, number, text) for the system errors that have a code of their
 * own: WSV_ERR_<NAME> stands for errno <NAME> (wsv_err_from_errno).  The
 * numbers are wsv's, the same on every platform, never the errno values. */
#define WSV_ERRNO_MAP(XX)                                                      \
  XX(EADDRINUSE, -201, "address already in use")                               \
  XX(EADDRNOTAVAIL, -202, "address not available")                             \
  XX(EAFNOSUPPORT, -203, "address family not supported")                       \
  XX(EACCES, -204, "permission denied")                                        \
  XX(EPERM, -205, "operation not permitted")                                   \
  XX(ECONNREFUSED, -206, "connection refused")                                 \
  XX(ECONNRESET, -207, "connection reset by peer")                             \
  XX(ECONNABORTED, -208, "connection aborted")                                 \
  XX(ETIMEDOUT, -209, "connection timed out")                                  \
  XX(EHOSTUNREACH, -210, "host is unreachable")                                \
  XX(ENETUNREACH, -211, "network is unreachable")                              \
  XX(ENETDOWN, -212, "network is down")                                        \
  XX(ENOTCONN, -213, "socket is not connected")                                \
  XX(EPIPE, -214, "broken pipe")                                               \
  XX(EMFILE, -215, "too many open files")                                      \
  XX(ENFILE, -216, "too many open files in the system")                        \
  XX(ENOBUFS, -217, "no buffer space available")                               \
  XX(ENOENT, -218, "no such file or directory")

/* The error codes.  WSV_OK is 0; every WSV_ERR_* is negative. */
enum wsv_err {
  WSV_OK = 0,
#define WSV__ERR_ENUM(name, num, text) WSV_ERR_##name = (num),
  WSV_ERR_MAP(WSV__ERR_ENUM)
#undef WSV__ERR_ENUM
};

/* wsv_strerror - a one-line English description of an error code.
 * Takes any int; returns a static string (never NULL, never to be freed):
 * "success" for 0, "unknown error" for a code not in the table. */
WSV_EXTERN const char *wsv_strerror(int err);

/* wsv_err_name - the symbolic name of an error code, e.g. "WSV_ERR_UTF8".
 * Returns a static string; "WSV_OK" for 0, "WSV_ERR_UNKNOWN" otherwise. */
WSV_EXTERN const char *wsv_err_name(int err);

/* wsv_is_fatal - nonzero when a connection cannot survive this error
 * (out of memory, random source, and every error that fails the WebSocket
 * connection), that is for every code from -100 down.  Non-fatal errors
 * leave the object usable.  The transport and system codes (WSV_ERR_TLS,
 * WSV_ERR_TLS_VERIFY, WSV_ERR_RESOLVE, WSV_ERR_SYSTEM and every
 * WSV_ERR_E*) are fatal: when wsv reports one, the connection, connect
 * attempt or listener it concerns is already given up.  Fatal is not
 * permanent: whether trying again may help (WSV_ERR_ECONNREFUSED,
 * WSV_ERR_EMFILE, WSV_ERR_ETIMEDOUT ...) is the caller's call. */
WSV_EXTERN int wsv_is_fatal(int err);

/* wsv_err_from_errno - the code for errno value `e` (as the runtime uses
 * it after a failed system call):
 *   an errno of WSV_ERRNO_MAP  its WSV_ERR_E* code (EADDRINUSE gives
 *                              WSV_ERR_EADDRINUSE, ...);
 *   ENOMEM                     WSV_ERR_NOMEM;
 *   EINVAL                     WSV_ERR_INVAL;
 *   anything else              WSV_ERR_SYSTEM ("system call failed"),
 *                              0 and negative values included, so that a
 *                              failure never maps to success.
 * Pure: it reads no global state (not even errno). */
WSV_EXTERN int wsv_err_from_errno(int e);

/* wsv_err_close_code - the RFC 6455 close code to send for an error that
 * fails a WebSocket connection: 1002 for WSV_ERR_PROTOCOL, 1007 for
 * WSV_ERR_UTF8 and WSV_ERR_INFLATE, 1008 for WSV_ERR_POLICY, 1009 for
 * WSV_ERR_TOO_BIG and WSV_ERR_BUDGET, 1011 for WSV_ERR_NOMEM and
 * WSV_ERR_RANDOM; 0 for anything else, the transport and system codes
 * included (no Close frame can go over a transport that failed). */
WSV_EXTERN int wsv_err_close_code(int err);

#ifdef __cplusplus
}
#endif
#endif /* WSV_ERROR_H */
