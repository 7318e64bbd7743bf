/*
 * wsv.h - the whole sans-I/O WebSocket core of wsv (RFC 6455).
 *
 * Bytes in, events out; calls in, bytes out.  Nothing here opens a socket,
 * starts a thread, keeps global state or allocates except through the
 * caller's allocator (struct wsv_mem).  The one OS call is the default
 * random source (wsv_random_os), which the caller may replace.
 *
 * Threads: the core has no global state, so distinct objects may be used
 * from distinct threads at the same time; one object is used from one
 * thread at a time (the caller serialises calls on it).
 *
 * Parts (each header documents its functions):
 *   wsv/version.h    WSV_VERSION_MAJOR/MINOR/PATCH/NUM/STRING (generated)
 *   wsv/export.h     WSV_EXTERN, WSV_PRINTF
 *   wsv/common.h     byte views, allocator, random hook, version bits
 *   wsv/error.h      the error table: WSV_ERR_*, wsv_strerror()
 *   wsv/utf8.h       incremental UTF-8 validation
 *   wsv/hs_server.h  server opening handshake + Sec-WebSocket-Version
 *   wsv/hs_client.h  client opening handshake + version retry
 *   wsv/frame.h      frame header codec, masking, close codes
 *   wsv/conn.h       connection state machine (messages, ping, close)
 *   wsv/deflate.h    permessage-deflate (RFC 7692) negotiation helpers
 *   wsv/origin.h     Origin allow-lists and same-origin checks for the
 *                    accept hook
 *   wsv/url.h        the ws:// / wss:// URL parser (hosts by RFC 3986)
 *   wsv/http.h       HTTP/1.1 text: response heads, field lists, reason
 *                    phrases, escaping
 */
#ifndef WSV_H
#define WSV_H

#include "wsv/version.h"
#include "wsv/common.h"
#include "wsv/error.h"
#include "wsv/utf8.h"
#include "wsv/hs_server.h"
#include "wsv/hs_client.h"
#include "wsv/frame.h"
#include "wsv/conn.h"
#include "wsv/deflate.h"
#include "wsv/origin.h"
#include "wsv/url.h"
#include "wsv/http.h"

#endif /* WSV_H */
