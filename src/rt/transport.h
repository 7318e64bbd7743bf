/*
 * transport.h - one byte stream on a loop: a TCP socket, plain or with
 * TLS (tls.c).  Its owner (a WebSocket, a server's handshake, a client's
 * connect; later a broker client or a TCP bridge) embeds a struct
 * wsv__tp and gets its events through a table of operations:
 *
 *   event  epoll's events for the socket (EPOLLIN also when TLS holds
 *          input that epoll cannot see): read with wsv__tp_read, write
 *          more on EPOLLOUT;
 *   flush  the end of the iteration, after wsv__tp_want_flush: write
 *          what was queued during the iteration (one writev);
 *   timeout  the transport's timer (wsv__tp_timer) ran out;
 *   free   the transport was retired (wsv__tp_retire) and no list of the
 *          loop holds it any more: free the owner (and so the transport).
 *
 * Reads go into the loop's shared buffer; writes are gather writes
 * (sendmsg with MSG_NOSIGNAL, or SSL_write over TLS); nothing ever waits.
 * Retiring closes nothing by itself: wsv__tp_close closes the socket at
 * once, and the free comes at the end of the iteration, so no operation
 * ever runs on freed memory.  The loop's transports share one extension
 * (their flush, read-again and retired lists, and the TLS gather buffer)
 * and one end-of-iteration hook; the loop knows nothing of them.
 */
#ifndef WSV_RT_TRANSPORT_H
#define WSV_RT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "loop_int.h"

struct wsv__tp;
struct wsv__tls;
struct wsv__h2s;

struct wsv__tp_ops {
  void (*event)(struct wsv__tp *tp, uint32_t events);
  void (*flush)(struct wsv__tp *tp);
  void (*timeout)(struct wsv__tp *tp);
  void (*free)(struct wsv__tp *tp);
};

struct wsv__tp {
  struct wsv__rt_watch w; /* w.fd: the socket, or -1 */
  struct wsv_loop *loop;
  const struct wsv__tp_ops *ops;
  /* A socket's TLS (NULL: plain TCP), or, when `stream` is set, the
   * HTTP/2 stream the transport is (h2.c; NULL once detached from it).
   * Read tls through wsv__tp_tls. */
  union {
    struct wsv__tls *tls;
    struct wsv__h2s *h2s;
  };
  struct wsv_timer timer; /* one timeout (wsv__tp_timer) */
  struct wsv__tp *flush_next;
  union {
    struct wsv__tp *again_next; /* on the read-again list */
    struct wsv__tp *dead_next;  /* retired: on the retired list */
  };
  uint8_t flushing; /* on the flush list */
  uint8_t again;    /* on the read-again list */
  uint8_t dead;     /* retired (wsv__tp_retire) */
  uint8_t watched;  /* registered with epoll (wsv__tp_watch) */
  uint8_t rd_off;   /* reading paused: EPOLLIN kept off (wsv__tp_pause_read) */
  uint8_t stream;   /* one stream of an HTTP/2 connection, not a socket */
  /* The output being written is the last: the socket is closed once it
   * is written.  A plain socket's write then says MSG_MORE, so the last
   * bytes wait for the close and leave in one segment with the FIN. */
  uint8_t last_out;
};

/* The socket's TLS state, or NULL (plain TCP, or an HTTP/2 stream). */
static inline struct wsv__tls *wsv__tp_tls(const struct wsv__tp *tp) {
  return tp->stream ? NULL : tp->tls;
}

/* Set up an embedded transport on `loop` with socket `fd` (-1: none yet)
 * and owner operations `ops` (every one set).  0, or -1 (no memory for the
 * loop's transport state).  Does not register the socket. */
int wsv__tp_init(struct wsv__tp *tp, struct wsv_loop *loop,
                 const struct wsv__tp_ops *ops, int fd);

/* Register the socket with the loop for `events` (EPOLLIN, EPOLLOUT),
 * change them, or stop watching.  0 or -1 with errno set.  A change
 * before the socket is registered (or after unwatch) does nothing; while
 * reading is paused, EPOLLIN is left out of `events`. */
int wsv__tp_watch(struct wsv__tp *tp, uint32_t events);
int wsv__tp_interest(struct wsv__tp *tp, uint32_t events);
void wsv__tp_unwatch(struct wsv__tp *tp);

/* Pause (on nonzero) or resume (0) reading: EPOLLIN off, so the peer's
 * bytes stay in the kernel (its sends stop once the buffers are full).
 * Only the owner's event operation can honour it for the rest: epoll
 * still reports EPOLLERR and EPOLLHUP, the read-again list still calls
 * it with EPOLLIN (TLS input inside OpenSSL), and a TLS read that waits
 * for writability comes as EPOLLOUT; the owner checks tp->rd_off.
 * Resuming puts EPOLLIN back and the transport on the read-again list,
 * so input already inside OpenSSL is read at the end of the iteration.
 * 0, or -1 with errno set (epoll_ctl failed). */
int wsv__tp_pause_read(struct wsv__tp *tp, int on);

/* recv(2)'s contract (n > 0, 0 at EOF, -1 with errno; EAGAIN to wait),
 * through TLS when there is some (EPROTO: see wsv__tp_error).  Over TLS,
 * input left inside OpenSSL makes the transport read again at the end of
 * the iteration. */
ssize_t wsv__tp_read(struct wsv__tp *tp, void *buf, size_t cap);
/* recv(2) on the socket itself, TLS or not (reading to discard). */
ssize_t wsv__tp_read_raw(struct wsv__tp *tp, void *buf, size_t cap);

/* One gather write of iov[0..k), `total` bytes in all (the caller has
 * summed them while filling iov): the bytes written (>= 0; fewer than
 * asked, 0 included, when the socket is full: EPOLLOUT is then asked for
 * until wsv__tp_write_idle), or -1 with errno set on a failure (EPROTO for a
 * TLS error: see wsv__tp_error). */
ssize_t wsv__tp_writev(struct wsv__tp *tp, const struct iovec *iov, int k,
                       size_t total);
/* Nothing more waits to be written: stop asking for writability. */
void wsv__tp_write_idle(struct wsv__tp *tp);
/* Nonzero when a TLS read waits for the socket to be writable (an
 * EPOLLOUT event is then for the reader). */
int wsv__tp_read_wants_out(const struct wsv__tp *tp);

/* Run the timeout operation in `ms` milliseconds (again: from now; 0:
 * not at all).  0, or -1 when the loop's timer heap cannot grow (then no
 * timeout is armed). */
int wsv__tp_timer(struct wsv__tp *tp, uint64_t ms);

/* Ask for the flush operation at the end of this iteration. */
void wsv__tp_want_flush(struct wsv__tp *tp);

/* Send TLS close_notify (if any) and shutdown(SHUT_WR). */
void wsv__tp_shutdown_write(struct wsv__tp *tp);
/* Make the coming close a reset (SO_LINGER 0). */
void wsv__tp_reset(struct wsv__tp *tp);
/* Bytes written that the peer has not acknowledged (SIOCOUTQ), or 0. */
int wsv__tp_unsent(const struct wsv__tp *tp);
/* Stop watching, send TLS close_notify (best effort) and close the
 * socket (nothing if there is none).  TLS state stays until the free. */
void wsv__tp_close(struct wsv__tp *tp);
/* Lingering close, after the answer was written and the write side shut
 * down: read and drop what the peer still sends, adding to *dropped.
 * Returns 1 while it may send more (wait for the next read event), 0 at
 * its EOF (the socket is then watched for EPOLLOUT only, so the owner
 * hears once more when the answer is out), -1 on an error or once
 * *dropped reached `limit`. */
int wsv__tp_drain(struct wsv__tp *tp, uint32_t *dropped, size_t limit);
/* Close, and free the owner at the end of the iteration (ops->free).
 * Once only; the timer stops, and the transport's operations run no more
 * except free. */
void wsv__tp_retire(struct wsv__tp *tp);
/* Free what the transport holds (TLS); for the owner's free. */
void wsv__tp_release(struct wsv__tp *tp);

/* The transport that holds the socket: tp itself, or for an HTTP/2
 * stream its connection's; NULL for a stream that was detached. */
const struct wsv__tp *wsv__tp_socket(const struct wsv__tp *tp);

/* The peer's address as "1.2.3.4:5" or "[::1]:5" into buf[0..cap).
 * Returns its length, WSV_ERR_NOBUF, or WSV_ERR_INVAL (no socket). */
int wsv__tp_peer(const struct wsv__tp *tp, char *buf, size_t cap);

/* Set TCP_NODELAY (ignoring failures on non-TCP sockets). */
void wsv__rt_nodelay(int fd);
/* Format an address as "1.2.3.4:5" or "[::1]:5" into buf[0..cap);
 * returns the length or -1. */
int wsv__rt_addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t cap);
/* The code for a failed getaddrinfo: WSV_ERR_NOMEM (EAI_MEMORY), the
 * errno's (EAI_SYSTEM), else WSV_ERR_RESOLVE. */
int wsv__rt_gai_code(int gai_error);
/* Text for an errno value of a failed read/write/connect (static). */
const char *wsv__rt_errno_text(int e);

#endif /* WSV_RT_TRANSPORT_H */
