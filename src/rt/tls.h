/*
 * tls.h - TLS on a transport (tls.c, the only file that includes
 * OpenSSL).  A context is an SSL_CTX and our socket BIO's method: a
 * server's is shared by its threads, a client's belongs to one
 * wsv_client_connect.  A transport's TLS state is tp->tls (NULL: plain).
 */
#ifndef WSV_RT_TLS_H
#define WSV_RT_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "transport.h"

struct wsv__rt_tls_ctx;

/* A server context from PEM files (the certificate file may hold the
 * chain); NULL with a one-line reason in err[0..cap). */
struct wsv__rt_tls_ctx *wsv__rt_tls_server_ctx(const char *cert,
                                               const char *key, char *err,
                                               size_t cap);
/* A client context: the system's CA store, or only `cafile` when given;
 * no verification at all when `insecure`.  NULL with a reason in err. */
struct wsv__rt_tls_ctx *wsv__rt_tls_client_ctx(int insecure, const char *cafile,
                                               char *err, size_t cap);
void wsv__rt_tls_ctx_free(struct wsv__rt_tls_ctx *c);
/* ALPN h2 on (nonzero) or off (the default): a server context picks h2
 * when the client offers it (else http/1.1); a client context offers
 * "h2, http/1.1" instead of "http/1.1".  For new connections only. */
void wsv__rt_tls_ctx_h2(struct wsv__rt_tls_ctx *c, int on);
/* Client: offer only http/1.1 on this connection (after wsv__rt_tls_start,
 * before the handshake).  0, or -1 (no memory). */
int wsv__rt_tls_alpn_h1(struct wsv__tp *tp);
/* The agreed ALPN protocol ("h2", "http/1.1"), "" if none or no TLS. */
const char *wsv__rt_tls_alpn(const struct wsv__tp *tp);
/* Put TLS on the transport's socket (tp->w.fd set): accept state for a
 * server context; for a client, `host` is sent as SNI (names only) and
 * checked against the certificate.  0, WSV_ERR_NOMEM or WSV_ERR_INVAL. */
int wsv__rt_tls_start(struct wsv__tp *tp, struct wsv__rt_tls_ctx *c,
                      const char *host);
/* Free tp->tls (NULL is fine). */
void wsv__rt_tls_free(struct wsv__tp *tp);
/* Nonzero when there is no TLS or its handshake is done. */
int wsv__rt_tls_ready(const struct wsv__tp *tp);
/* Drive the handshake; sets the watch's epoll interest.  Returns 1 when
 * done, 0 to wait, -1 on failure (wsv__rt_tls_error says why), and, for
 * a server, 2 when the client's first byte is not TLS (plaintext). */
int wsv__rt_tls_handshake(struct wsv__tp *tp);
/* The last error as one line, e.g. "TLS: certificate verify failed:
 * hostname mismatch" (owned by tp->tls; "TLS error" without one). */
const char *wsv__rt_tls_error(const struct wsv__tp *tp);
/* The code of the last failure: WSV_ERR_TLS_VERIFY when the peer's
 * certificate failed verification (client), else WSV_ERR_TLS. */
int wsv__rt_tls_code(const struct wsv__tp *tp);
/* recv(2) and sendmsg(2) through TLS (same contracts; EPROTO for a TLS
 * error), for transport.c.  A read that leaves input in OpenSSL's buffer
 * asks for wsv__tp_read_again. */
ssize_t wsv__rt_tls_read(struct wsv__tp *tp, void *buf, size_t cap);
ssize_t wsv__rt_tls_writev(struct wsv__tp *tp, const struct iovec *iov, int k);
/* Nonzero when a read waits for the socket to be writable. */
int wsv__rt_tls_want_out(const struct wsv__tp *tp);
/* Send close_notify once (best effort, never waits). */
void wsv__rt_tls_close_notify(struct wsv__tp *tp);
/* Fill *info; 1 for an established TLS connection, else 0. */
int wsv__rt_tls_info(const struct wsv__tp *tp, struct wsv_tls_info *info);

/* ---- from transport.c, for tls.c ----------------------------------------
 */
/* Read the transport again at the end of this iteration (input waits in
 * OpenSSL's buffer, where epoll cannot see it). */
void wsv__tp_read_again(struct wsv__tp *tp);
/* The loop's gather buffer of `size` bytes shared by its TLS transports
 * (one write at a time), made on first use; NULL when out of memory. */
uint8_t *wsv__tp_gather_buf(struct wsv__tp *tp, size_t size);

#endif /* WSV_RT_TLS_H */
