/*
 * h2.h - HTTP/2 connections (RFC 9113) that carry WebSockets (RFC 8441),
 * through Debian's libnghttp2 (frames, HPACK, flow control); h2.c is the
 * only file that includes it.  A connection (struct wsv__h2) owns a
 * socket transport (plain: h2c with prior knowledge, or TLS with ALPN h2);
 * each WebSocket on it is a struct wsv_ws whose transport is one stream
 * (struct wsv__h2s, tp->stream set), so ws.c runs unchanged over it:
 *
 *   read    what DATA frames brought, from the stream's input buffer; the
 *           stream's flow-control window opens only as the WebSocket
 *           reads, so one that does not read (paused, or slow) stops its
 *           sender instead of growing memory.  The connection's window is
 *           opened at once: one stalled stream never stalls its siblings.
 *   writev  copied into the stream's output buffer (at most
 *           WSV__H2S_OUT_CAP bytes; the rest stays queued in the
 *           WebSocket, where its send-buffer limit and slow-consumer
 *           rules hold), sent as DATA frames as the peer's windows allow;
 *           once there is room again the WebSocket is asked to flush.
 *   close   as a socket's close: END_STREAM once the output written so
 *           far is sent (TCP's FIN: after the closing handshake, or after
 *           the Close 1002/1007/1009... a failure sends); RST_STREAM
 *           (CANCEL) where a socket would be reset (wsv__tp_reset: a ping
 *           or close timeout, wsv_ws_abort).  The connection and the
 *           other streams go on.
 *
 * The server side (h2.c, with the server's pieces from server_int.h)
 * judges each request with the core (wsv_hs_server_parse_h2): extended
 * CONNECT becomes a WebSocket, other requests go to the plain-HTTP
 * callback, refusals get their status and a one-line body.  The client
 * side (client.c) sends one extended CONNECT on a connection of its own.
 */
#ifndef WSV_RT_H2_H
#define WSV_RT_H2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "transport.h"

struct wsv_ws;
struct wsv__h2;
struct wsv__h2s;
struct srv_worker;

/* Bytes a stream buffers for sending before its WebSocket keeps the rest. */
#define WSV__H2S_OUT_CAP ((size_t)64 << 10)
/* The receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE): the
 * most input a WebSocket that does not read makes the server hold. */
#define WSV__H2S_WINDOW ((int32_t)256 << 10)
/* The most bytes of plain-HTTP answers one connection holds unsent
 * (more streams asking get 503 with Retry-After). */
#define WSV__H2_ANSWER_BUDGET ((size_t)16 << 20)
/* Streams at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
#define WSV__H2_MAX_STREAMS 128

/* The HTTP/2 client connection preface's first line and its length. */
#define WSV__H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define WSV__H2_PREFACE_LEN 24

/* ---- the stream transport, for transport.c ------------------------------
 * The contracts of the wsv__tp_* functions of the same names. */
ssize_t wsv__h2s_read(struct wsv__h2s *s, void *buf, size_t cap);
ssize_t wsv__h2s_writev(struct wsv__h2s *s, const struct iovec *iov, int k,
                        size_t total);
/* END_STREAM once the buffered output is sent. */
void wsv__h2s_end(struct wsv__h2s *s);
/* Make the coming close a RST_STREAM even after wsv__h2s_end. */
void wsv__h2s_reset(struct wsv__h2s *s);
/* Bytes buffered in the stream that nghttp2 has not taken yet. */
size_t wsv__h2s_unsent(const struct wsv__h2s *s);
/* The WebSocket lets go of the stream (its transport closes): END_STREAM
 * if wsv__h2s_end was asked and no reset, else RST_STREAM CANCEL.  The
 * stream is freed once nghttp2 is done with it. */
void wsv__h2s_detach(struct wsv__h2s *s);
/* The connection's socket transport (for the peer's address, TLS). */
const struct wsv__tp *wsv__h2s_socket(const struct wsv__h2s *s);
/* The stream's identifier. */
int32_t wsv__h2s_id(const struct wsv__h2s *s);

/* ---- server -------------------------------------------------------------
 */
/* Take over the socket of the server handshake placeholder `ws` (its TLS
 * agreed "h2", or its first bytes pre[0..n) begin with the client
 * preface: h2c with prior knowledge), and end the placeholder without
 * closing the socket.  The bytes are fed to the new connection.  0, or
 * -1 (no memory: the placeholder is ended and the socket closed). */
int wsv__rt_h2_server_take(struct wsv_ws *ws, const uint8_t *pre, size_t n);
/* Graceful shutdown of every HTTP/2 connection of the worker: new streams
 * are refused, and GOAWAY (NO_ERROR) goes out once the connection's
 * WebSockets (sent 1001 by the server) are gone. */
void wsv__rt_h2_shutdown_all(struct srv_worker *wk);
/* Close every HTTP/2 connection of the worker at once. */
void wsv__rt_h2_drop_all(struct srv_worker *wk);

#endif /* WSV_RT_H2_H */
