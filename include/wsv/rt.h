/*
 * wsv/rt.h - the wsv runtime (Linux): an epoll event loop per thread with
 * timers, fd watches, signals and cross-thread posts; a WebSocket server
 * (threads with SO_REUSEPORT listeners, plain-HTTP hook, publish/subscribe,
 * back-pressure, graceful shutdown, TLS) and a WebSocket client (ws://
 * and wss:// URLs, version negotiation).  It drives the sans-I/O core (wsv.h)
 * and adds nothing to the protocol.
 *
 * A chat server in a few lines:
 *
 *   static void on_open(struct wsv_ws *ws, void *user) {
 *     wsv_ws_subscribe(ws, wsv_ws_path(ws));
 *   }
 *   static void on_message(struct wsv_ws *ws, int opcode, const void *data,
 *                          size_t len, void *user) {
 *     wsv_ws_publish(ws, wsv_ws_path(ws), opcode, data, len, 0);
 *   }
 *   ...
 *   struct wsv_server_config cfg;
 *   wsv_server_config_init(&cfg);
 *   cfg.port = 8080;
 *   cfg.handle_signals = 1;          // Ctrl-C: close 1001, then return
 *   cfg.callbacks.open = on_open;
 *   cfg.callbacks.message = on_message;
 *   struct wsv_server *srv;
 *   if (wsv_server_new(&srv, &cfg) != 0) ...
 *   int rc = wsv_server_run(srv);    // until stopped
 *   wsv_server_free(srv);
 *
 * Threads.  A loop, and everything on it (watches, timers, connections),
 * belongs to the thread that runs it: call the functions taking a loop, a
 * watch, a timer or a struct wsv_ws only from that thread (or before the
 * loop first runs), unless a function says it is thread-safe.  The
 * thread-safe ones are wsv_loop_post, wsv_loop_stop, wsv_server_stop and
 * wsv_server_publish; wsv_loop_stop and wsv_server_stop are also
 * async-signal-safe.  To act on a connection from another thread, post a
 * function to its loop (wsv_ws_loop) and look the connection up there.
 *
 * Errors.  Functions return 0 (or a documented positive value) on success
 * and a negative WSV_ERR_* (wsv/error.h) on failure.  When a system call
 * is what failed, the code keeps its cause: wsv_err_from_errno's code for
 * the errno (WSV_ERR_EADDRINUSE, WSV_ERR_EACCES, WSV_ERR_ECONNREFUSED,
 * WSV_ERR_EMFILE, ...; WSV_ERR_NOMEM for ENOMEM, WSV_ERR_SYSTEM for an
 * errno without a code of its own), WSV_ERR_RESOLVE for a host name that
 * does not resolve, WSV_ERR_TLS_VERIFY for a peer certificate that fails
 * verification and WSV_ERR_TLS for any other TLS failure.  `errno` is left
 * as the system call set it, and the configured log callback (if any)
 * receives a line with the details, e.g. "bind 127.0.0.1:8080: Address
 * already in use".  WSV_ERR_INVAL is for bad arguments and settings only.
 *
 * Memory.  The runtime allocates with malloc.  The core objects of open
 * connections (struct wsv_conn and its buffers) allocate through their
 * loop's allocator: malloc with a small cache of big freed buffers (a
 * steady stream of large messages reuses them instead of faulting in
 * fresh pages), given back after 2 s without use, with malloc_trim once
 * 16 MiB were freed.  Nothing is global: every allocation belongs to a
 * loop, a server or a connection.
 *
 * SIGPIPE.  Sockets are written with MSG_NOSIGNAL (TLS too: OpenSSL writes
 * through a socket BIO of ours), so a peer that reset its connection never
 * raises SIGPIPE; the process-wide disposition is not touched.  (fds the
 * application watches are the application's to write.)
 *
 * TLS (OpenSSL 3).  A server with tls_cert_file and tls_key_file speaks
 * only TLS 1.2 and 1.3 (1.2 with ECDHE and AEAD ciphers only), agrees to
 * ALPN "http/1.1" when offered, refuses renegotiation, and answers a
 * plaintext request on its port with "400 Bad Request" ("this port speaks
 * TLS") and a graceful close.  A wss:// client verifies the certificate
 * (the system's CA store, or tls_cafile) and the host name or IP address,
 * sends SNI for names and ALPN "http/1.1".  Handshakes never block the
 * loop and count against handshake_timeout_ms.  A graceful close sends
 * close_notify.  A TLS failure is reported in English through the fail
 * callback (client, before the 101: WSV_ERR_TLS_VERIFY and e.g. "TLS:
 * certificate verify failed: hostname mismatch", or WSV_ERR_TLS) or, once
 * open, as close code 1015 in the close callback (1015 is never sent on
 * the wire; wsv_ws_error says WSV_ERR_TLS).
 */
#ifndef WSV_RT_H
#define WSV_RT_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/broker.h"
#include "wsv/common.h"
#include "wsv/conn.h"
#include "wsv/error.h"
#include "wsv/export.h"
#include "wsv/frame.h"
#include "wsv/hs_client.h"
#include "wsv/hs_server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Logging ===============================================================
 * Levels of the log callback, most severe first. */
enum wsv_log_level {
  WSV_LOG_ERROR = 0, /* something failed that the caller should see */
  WSV_LOG_WARN = 1,  /* e.g. EMFILE on accept, a slow consumer closed */
  WSV_LOG_INFO = 2,  /* e.g. the client's version retry, shutdown begun */
  WSV_LOG_DEBUG = 3  /* e.g. each rejected handshake and its reason */
};

/* The log callback: one line of English, no trailing newline, valid only
 * during the call.  Called on the thread where the event happened (so it
 * may be called from several server threads at once). */
typedef void (*wsv_log_fn)(void *user, int level, const char *text);

/* ==== The event loop ========================================================
 * One epoll instance, a min-heap of timers, an eventfd for wake-ups and
 * posts.  Level-triggered.  Time is CLOCK_MONOTONIC in milliseconds. */
struct wsv_loop;

/* wsv_loop_new - create a loop (epoll fd, eventfd, timer heap).
 * Returns 0 and sets *out; WSV_ERR_INVAL if out is NULL; WSV_ERR_NOMEM if
 * memory or file descriptors ran out (errno tells which). */
WSV_EXTERN int wsv_loop_new(struct wsv_loop **out);

/* wsv_loop_free - free the loop.  Functions still queued by wsv_loop_post
 * are called first (so they can free what they carry), with the loop
 * valid but not running.  Client connections still on the loop are then
 * dropped: their close callback (code 1006) or fail callback runs.
 * Watches, timers and signal handles the application left must be freed
 * by it before (wsv_io_stop, wsv_timer_free, wsv_signal_stop).  The loop must
 * not be running, and no other thread may post to it any more.  NULL is fine.
 * Loops owned by a server are freed by wsv_server_free, never by this. */
WSV_EXTERN void wsv_loop_free(struct wsv_loop *loop);

/* wsv_loop_run - run the loop on the calling thread until wsv_loop_stop.
 * EINTR is retried.  Returns 0 once stopped; WSV_ERR_STATE if the loop is
 * already running; WSV_ERR_INVAL if loop is NULL or epoll_wait failed
 * unexpectedly.  A stop requested before run is not forgotten: run then
 * returns after one iteration.  The loop can be run again afterwards.
 * (The loop does not stop by itself when it has nothing left to do.) */
WSV_EXTERN int wsv_loop_run(struct wsv_loop *loop);

/* wsv_loop_run_once - one iteration: wait at most timeout_ms for events
 * (-1: until something happens; 0: do not block), dispatch them and the
 * timers that are due, then write pending output.  For tests and for
 * embedding in another loop (wsv_loop_fd).  Returns the number of fd
 * events and timers handled (0 on a timeout), or the errors of
 * wsv_loop_run.  Does not consume a pending stop request. */
WSV_EXTERN int wsv_loop_run_once(struct wsv_loop *loop, int timeout_ms);

/* wsv_loop_stop - ask wsv_loop_run to return after the current
 * iteration.  Thread-safe and async-signal-safe (an atomic flag and an
 * eventfd write).  NULL is ignored. */
WSV_EXTERN void wsv_loop_stop(struct wsv_loop *loop);

/* wsv_loop_now - the loop's idea of the time: CLOCK_MONOTONIC in
 * milliseconds, refreshed once per iteration (and by wsv_loop_update). */
WSV_EXTERN uint64_t wsv_loop_now(const struct wsv_loop *loop);

/* wsv_loop_update - refresh the loop's time now (after a long callback). */
WSV_EXTERN void wsv_loop_update(struct wsv_loop *loop);

/* wsv_loop_fd - the epoll fd, readable when the loop has work: for
 * embedding in another loop (then call wsv_loop_run_once(loop, 0)). */
WSV_EXTERN int wsv_loop_fd(const struct wsv_loop *loop);

/* wsv_loop_in_thread - nonzero when called on the thread running `loop`
 * (or, for a loop not running, always 1: it may be set up from any one
 * thread). */
WSV_EXTERN int wsv_loop_in_thread(const struct wsv_loop *loop);

/* A function to run on a loop's thread (see wsv_loop_post). */
typedef void (*wsv_post_fn)(struct wsv_loop *loop, void *user);

/* wsv_loop_post - run fn(loop, user) on the loop's thread, at its next
 * iteration, after the fd events of that iteration.  Thread-safe (a mutex
 * held only to link one node; an eventfd write wakes the loop).  Posts
 * from one thread run in the order they were made.  Calls from the loop's
 * own thread are fine too (fn runs on the next iteration, never inside
 * this call).  Allocates one small node per call, so not
 * async-signal-safe.  Returns 0; WSV_ERR_INVAL if loop or fn is NULL;
 * WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_loop_post(struct wsv_loop *loop, wsv_post_fn fn, void *user);

/* ---- fd watches ------------------------------------------------------------
 * Watch any fd (stdin, a pipe to a child, a socket of your own) for
 * readiness.  Event bits for wsv_io_start / wsv_io_set and the callback: */
#define WSV_IO_READ 1u  /* readable (EPOLLIN), also at EOF */
#define WSV_IO_WRITE 2u /* writable (EPOLLOUT) */
#define WSV_IO_ERROR                                                           \
  4u /* error or hang-up (EPOLLERR / EPOLLHUP); only                           \
        reported, never requested */

struct wsv_io;

/* The watch callback: `events` holds the WSV_IO_* bits that are ready.
 * It may call wsv_io_set, wsv_io_stop (also on this watch) and anything
 * else on the loop. */
typedef void (*wsv_io_fn)(struct wsv_io *io, int fd, unsigned events,
                          void *user);

/* wsv_io_start - watch `fd` for `events` (WSV_IO_READ and/or WSV_IO_WRITE;
 * 0 registers it with nothing requested yet).  The fd must not already be
 * watched by this loop; it is not made non-blocking (do that yourself if
 * you read until EAGAIN) and stays yours to close, after wsv_io_stop.
 * Regular files cannot be watched (epoll refuses them).
 * Returns 0 and sets *out; WSV_ERR_INVAL (NULL argument, bad bits, or
 * epoll_ctl refused the fd: EPERM for a regular file, EEXIST, EBADF);
 * WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_io_start(struct wsv_loop *loop, struct wsv_io **out, int fd,
                            unsigned events, wsv_io_fn cb, void *user);

/* wsv_io_set - change the requested events.  Returns 0, WSV_ERR_INVAL. */
WSV_EXTERN int wsv_io_set(struct wsv_io *io, unsigned events);

/* wsv_io_events - the events currently requested. */
WSV_EXTERN unsigned wsv_io_events(const struct wsv_io *io);

/* wsv_io_stop - stop watching and free the watch (the fd is not closed;
 * close it after this call).  Safe from any callback on the loop, this
 * watch's own included: no callback for it runs afterwards.  NULL is
 * fine. */
WSV_EXTERN void wsv_io_stop(struct wsv_io *io);

/* wsv_io_loop - the loop of a watch. */
WSV_EXTERN struct wsv_loop *wsv_io_loop(const struct wsv_io *io);

/* ---- timers ----------------------------------------------------------------
 * A timer is a handle that can be started and stopped many times (no
 * allocation when restarted).  Kept in a binary min-heap: start and stop
 * are O(log n), so 100k timers are cheap.  Timers due in the same
 * iteration fire in deadline order (ties in the order they were started). */
struct wsv_timer;

/* The timer callback.  It may restart, stop or free this timer. */
typedef void (*wsv_timer_fn)(struct wsv_timer *timer, void *user);

/* wsv_timer_new - create a stopped timer on `loop`.
 * Returns 0 and sets *out; WSV_ERR_INVAL (NULL argument); WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_timer_new(struct wsv_loop *loop, struct wsv_timer **out,
                             wsv_timer_fn cb, void *user);

/* wsv_timer_start - (re)arm: fire after `delay_ms`, then every
 * `repeat_ms` if that is nonzero (a repeating timer keeps its cadence:
 * each deadline is the previous one plus repeat_ms, skipping missed ones).
 * A running timer is rearmed.  Returns 0; WSV_ERR_INVAL (NULL);
 * WSV_ERR_NOMEM (the heap could not grow). */
WSV_EXTERN int wsv_timer_start(struct wsv_timer *timer, uint64_t delay_ms,
                               uint64_t repeat_ms);

/* wsv_timer_stop - disarm (a no-op when not armed).  NULL is fine. */
WSV_EXTERN void wsv_timer_stop(struct wsv_timer *timer);

/* wsv_timer_active - nonzero while armed. */
WSV_EXTERN int wsv_timer_active(const struct wsv_timer *timer);

/* wsv_timer_free - disarm and free (safe from its own callback).  NULL is
 * fine. */
WSV_EXTERN void wsv_timer_free(struct wsv_timer *timer);

/* wsv_timer_loop - the loop of a timer. */
WSV_EXTERN struct wsv_loop *wsv_timer_loop(const struct wsv_timer *timer);

/* ---- signals ---------------------------------------------------------------
 * Signals as loop events, through signalfd.  For this to work the signals
 * must be blocked in every thread of the process: wsv_signal_start blocks
 * them in the calling thread, and threads created afterwards inherit the
 * mask, so call it early, from the main thread, before creating threads
 * (wsv_server_start/run do so for their own workers).  The process-wide
 * disposition (sigaction) is never changed. */
struct wsv_signal;

/* The signal callback, once per delivered signal. */
typedef void (*wsv_signal_fn)(struct wsv_signal *sig, int signo, void *user);

/* wsv_signal_start - block signals[0..n) in the calling thread and deliver
 * them to `cb` on `loop`.  A signal may be handled by one wsv_signal per
 * process at a time.  Returns 0 and sets *out; WSV_ERR_INVAL (NULL, n 0,
 * a bad signal number, SIGKILL/SIGSTOP); WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_signal_start(struct wsv_loop *loop, struct wsv_signal **out,
                                const int *signals, size_t n, wsv_signal_fn cb,
                                void *user);

/* wsv_signal_stop - stop, free the handle and restore the calling
 * thread's mask for these signals as it was before wsv_signal_start (a
 * signal still pending is then delivered the ordinary way).  Call from
 * the thread that started it.  NULL is fine. */
WSV_EXTERN void wsv_signal_stop(struct wsv_signal *sig);

/* ==== WebSocket connections (both roles) ====================================
 * A struct wsv_ws is one connection run by the runtime: accepted by a
 * server or made by wsv_client_connect.  The runtime owns it.  It is
 * valid from the `open` callback (server) or from wsv_client_connect
 * (client) until the `close` callback returns (or, for a client whose
 * connection or handshake failed, until `fail` returns). */
struct wsv_ws;
struct wsv_server;

/* Callbacks (all optional; NULL ignores the event).  `user` is the user
 * pointer of the server or client config; per-connection data is
 * wsv_ws_user / wsv_ws_set_user.  Every callback may send, close,
 * subscribe, publish, and start or stop watches and timers.  Output
 * queued in a callback is written at the end of the loop iteration, many
 * messages in one writev. */
struct wsv_ws_callbacks {
  /* The handshake succeeded; messages may be sent from here on.  For a
   * server connection, wsv_ws_request(ws) shows the request (path, query,
   * Origin, headers) during this call. */
  void (*open)(struct wsv_ws *ws, void *user);
  /* A whole message: `opcode` WSV_OP_TEXT (valid UTF-8, not
   * NUL-terminated) or WSV_OP_BINARY.  data[0..len) is valid only during
   * the call (it may point into the loop's read buffer); copy what you
   * keep.  Sending it back (echo) during the call is fine. */
  void (*message)(struct wsv_ws *ws, int opcode, const void *data, size_t len,
                  void *user);
  /* The send buffer went below send_low_water after a send had taken it
   * above send_high_water (wsv_ws_send returned 1): send more now. */
  void (*drain)(struct wsv_ws *ws, void *user);
  /* A ping or pong arrived (opcode WSV_OP_PING / WSV_OP_PONG; pings are
   * answered automatically).  Informational. */
  void (*control)(struct wsv_ws *ws, int opcode, const void *data, size_t len,
                  void *user);
  /* The connection is gone (TCP closed); called exactly once for every
   * connection that was opened, and the last callback for it: `ws` is
   * freed when it returns.  `code` is the status code of the peer's Close
   * frame (1005 if it had none); if no Close came from the peer: the code
   * of the Close we sent when the connection failed (1002, 1007, 1008
   * slow consumer, 1009, 1011), 1015 when TLS failed (a bad record; never
   * sent on the wire), or 1006 for anything else (reset, EOF, ping
   * timeout, close timeout, shutdown timeout).  reason[0..len) is the
   * peer's reason (UTF-8, not NUL-terminated, valid during the call;
   * empty unless the peer sent one).  wsv_ws_error / wsv_ws_error_text
   * say why an abnormal close happened.
   * A completed closing handshake is a clean close however TCP then
   * ends: once the peer's Close has arrived and ours (sent first, or in
   * answer) has been written, `code` is the peer's and wsv_ws_error is 0,
   * even when the peer keeps TCP open and close_timeout_ms drops it (RFC
   * 6455 §7.1.5: the close code is the one in the Close frame received;
   * §7.1.1 lets a client close TCP itself when the server does not).
   * The close timeout is an error ("close timeout", 1006 or our failure
   * code) only while the handshake is incomplete: no Close from the peer,
   * or ours still unsent. */
  void (*close)(struct wsv_ws *ws, int code, const char *reason, size_t len,
                void *user);
  /* Client only: connecting or the opening handshake failed, so `open`
   * never came (and `close` will not).  `err` is a WSV_ERR_* code: a
   * handshake error from wsv_hs_client_parse (e.g.
   * WSV_ERR_HS_NO_COMMON_VERSION); the system call's cause when connecting
   * or reading failed (WSV_ERR_ECONNREFUSED, WSV_ERR_ENETUNREACH,
   * WSV_ERR_ECONNRESET, ...: the code of the last address tried);
   * WSV_ERR_ETIMEDOUT when the handshake timed out; WSV_ERR_TLS_VERIFY
   * when the server's certificate failed verification, WSV_ERR_TLS for any
   * other TLS failure; WSV_ERR_CLOSED when the server closed the
   * connection during the handshake (the text says more, e.g. "connect to
   * 127.0.0.1:9: Connection refused", "handshake timeout", "TLS:
   * certificate verify failed: certificate has expired");
   * WSV_ERR_NOMEM; WSV_ERR_RANDOM.  `text` is one line,
   * for a handshake error the core's reason, e.g. "server speaks 13; we
   * speak 8, 7"; valid during the call.  `ws` is freed when it returns. */
  void (*fail)(struct wsv_ws *ws, int err, const char *text, void *user);
  /* Room for new callbacks, one slot each (zeroed by the config's _init;
   * do not touch): the size and every offset stay fixed within a SONAME. */
  void (*_reserved[8])(void);
};

/* Timeouts and buffer marks shared by both roles.  0 disables a timer.
 * Filled by wsv_server_config_init and wsv_client_config_init; new fields
 * take reserved space, so the size and every field's offset stay fixed
 * within a SONAME. */
struct wsv_ws_limits {
  /* The opening handshake, from accept (server) or from the start of
   * connect (client) to the 101 (default 10000 ms).  A server drops a
   * client that has sent nothing; one that sent part of a request gets
   * "408 Request Timeout" and a graceful close.  A client reports `fail`
   * with WSV_ERR_ETIMEDOUT and the text "handshake timeout". */
  uint32_t handshake_timeout_ms;
  /* Send a ping when nothing was received for this long (default 30000
   * ms), then allow pong_timeout_ms for anything to arrive (default 10000
   * ms) before dropping the connection (close code 1006, error text "ping
   * timeout").  ping_interval_ms 0 disables both. */
  uint32_t ping_interval_ms;
  uint32_t pong_timeout_ms;
  /* After a Close was sent, or (client) after the close handshake while
   * waiting for the server to close TCP: drop TCP after this long
   * (default 5000 ms).  Also bounds how long a slow consumer's 1008 Close
   * may take to leave.  Dropping TCP after a completed handshake is a
   * clean close (the close callback gets the peer's code, no error);
   * before, it is "close timeout". */
  uint32_t close_timeout_ms;
  /* Back-pressure: wsv_ws_send returns 1 once the send buffer is above
   * send_high_water (default 1 MiB); the drain callback fires when it
   * falls below send_low_water (default 256 KiB).  The hard limit is the
   * conn config's max_output (default 16 MiB + 64 KiB): a send past it closes
   * the connection with 1008 (slow consumer) instead of growing memory. */
  size_t send_high_water;
  size_t send_low_water;
  /* Give back a quiet connection's protocol state (the core wsv_conn:
   * about 700 bytes, more with buffers) once it has been idle, in the
   * sense of wsv_conn_idle, for this long (default 2000 ms; 0: never).
   * It is made again, at no cost to the peer, when bytes arrive or a
   * message is sent.  A new connection has none until then.  A
   * connection that cannot be parked because its peer keeps a deflate
   * context gives back its own compressor at that time instead, when the
   * server's pmd_policy is WSV_PMD_ON (wsv_conn_trim in wsv/conn.h: 28 ->
   * about 18 KB per quiet connection; the next message is compressed
   * without the earlier ones). */
  uint32_t park_after_ms;
  /* Room for new fields (zeroed by the config's _init; do not touch). */
  uint64_t _reserved[4];
};

/* wsv_ws_send - queue a whole message (one frame): `opcode` WSV_OP_TEXT
 * (data must be valid UTF-8) or WSV_OP_BINARY; data[0..len) is copied
 * (`data` may be NULL when len is 0).  Written at the end of the current
 * loop iteration, together with everything else queued meanwhile
 * (wsv_ws_flush writes at once).
 * Returns 0 when queued; 1 when queued and the send buffer is now above
 * send_high_water (stop sending until the drain callback); or
 *   WSV_ERR_INVAL   NULL ws, bad opcode, invalid UTF-8 in text;
 *   WSV_ERR_STATE   the connection is not open yet (client handshake);
 *   WSV_ERR_CLOSED  a Close was sent or received, or the connection
 *                   failed or is going away;
 *   WSV_ERR_POLICY  the buffer would pass max_output: nothing was queued,
 *                   the connection is being closed with 1008;
 *   WSV_ERR_NOMEM, WSV_ERR_RANDOM (client masking key). */
WSV_EXTERN int wsv_ws_send(struct wsv_ws *ws, int opcode, const void *data,
                           size_t len);

/* wsv_ws_send_text / wsv_ws_send_binary - wsv_ws_send with WSV_OP_TEXT /
 * WSV_OP_BINARY. */
WSV_EXTERN int wsv_ws_send_text(struct wsv_ws *ws, const char *text,
                                size_t len);
WSV_EXTERN int wsv_ws_send_binary(struct wsv_ws *ws, const void *data,
                                  size_t len);

/* Zero-copy sending (large messages).  The payload of a large frame is
 * read straight into its message buffer (no copy out of the read buffer;
 * plain TCP and TLS, not HTTP/2 streams), and these calls send a buffer
 * without copying it:
 *   wsv_ws_buf_alloc - an owned buffer of `len` bytes from the
 *     connection's allocator (NULL: NULL ws, a dead connection, no
 *     memory).  Fill it, then pass it to wsv_ws_send_buf or
 *     wsv_ws_buf_free, exactly once, on the loop's thread, at the latest
 *     in the close callback (a connection holding one is not parked).
 *   wsv_ws_take_message - from the message callback only: take over the
 *     message being delivered as an owned buffer (*buf, *len).  A message
 *     that was assembled (large, fragmented, split across reads, inflated)
 *     is handed over with no copy; one lying in the read buffer is copied
 *     once.  `data` of the callback stays valid for the call.  Returns 0,
 *     WSV_ERR_INVAL (a NULL argument), WSV_ERR_STATE (not in a message
 *     callback, or already taken), WSV_ERR_NOMEM.
 *   wsv_ws_send_buf - queue buf[0..len) as a whole message (as
 *     wsv_ws_send, same returns and slow-consumer rules).  The buffer is
 *     consumed in every case (queued, or freed on an error) unless ws or
 *     buf is NULL; uncompressed it is written from where it is (a client
 *     masks it in place) and given back once written.  With
 *     permessage-deflate on, a message that is compressed is an ordinary
 *     copy.
 * An echo without a copy:
 *   uint8_t *b; size_t n;
 *   if (wsv_ws_take_message(ws, &b, &n) == 0) wsv_ws_send_buf(ws, op, b, n);
 */
WSV_EXTERN uint8_t *wsv_ws_buf_alloc(struct wsv_ws *ws, size_t len);
WSV_EXTERN void wsv_ws_buf_free(struct wsv_ws *ws, uint8_t *buf);
WSV_EXTERN int wsv_ws_take_message(struct wsv_ws *ws, uint8_t **buf,
                                   size_t *len);
WSV_EXTERN int wsv_ws_send_buf(struct wsv_ws *ws, int opcode, uint8_t *buf,
                               size_t len);

/* wsv_ws_ping - queue a ping (payload at most 125 bytes, copied).
 * Returns 0, or the errors of wsv_conn_ping / wsv_ws_send. */
WSV_EXTERN int wsv_ws_ping(struct wsv_ws *ws, const void *data, size_t len);

/* wsv_ws_pong - queue an unsolicited pong (a one-way heartbeat, RFC 6455
 * §5.5.3; pings are answered automatically, so this is never needed for
 * them).  Payload at most 125 bytes, copied.  Returns 0, or the errors
 * of wsv_ws_ping. */
WSV_EXTERN int wsv_ws_pong(struct wsv_ws *ws, const void *data, size_t len);

/* wsv_ws_close - start the closing handshake with `code` (0: a Close
 * without a code; else a code valid on the wire, e.g. 1000) and
 * reason[0..len) (UTF-8, at most 123 bytes, copied).  The close callback
 * follows once TCP is closed (at the latest after close_timeout_ms).
 * Returns 0; WSV_ERR_INVAL (NULL ws, a code or reason the core refuses);
 * WSV_ERR_CLOSED (a Close was already sent or received);
 * WSV_ERR_STATE (a client still in its handshake: use wsv_ws_abort);
 * WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_ws_close(struct wsv_ws *ws, int code, const char *reason,
                            size_t len);

/* wsv_ws_pause - back-pressure on reading: stop (paused nonzero) or
 * resume (0) reading from the peer, e.g. while what its messages feed
 * (a TCP target of a bridge, a pipe, a disk) cannot take more.  Paused,
 * the socket is not read: the peer's bytes wait in the kernel, and once
 * its buffers are full the peer's sends stop (its own back-pressure).
 *   - Messages already read when the call is made are still delivered:
 *     the rest of the current read (at most read_buffer_size bytes,
 *     decoded in one go), called from a message callback included.
 *     Over TLS, records OpenSSL has already decrypted wait with the
 *     socket and come after resuming.
 *   - Sending is unaffected.  A ping from the peer is answered once it
 *     is read, so after resuming.
 *   - The keep-alive does not count a paused time as quiet: no ping is
 *     sent while paused, a pong outstanding when the pause began is not
 *     waited for, and the quiet time restarts when reading resumes.  A
 *     peer that is gone is found out by the next ping after resuming, or
 *     at once if the socket fails (an error or a reset is still read).
 *   - The closing handshake ends a pause: once a Close is sent
 *     (wsv_ws_close, or a failure the runtime closes with), reading
 *     resumes by itself so that the peer's Close is seen; messages that
 *     come before it are delivered as usual.  A Close from the peer is
 *     only seen once reading resumes.
 *   - An idle connection's state may still be given back (park_after_ms)
 *     while paused; the pause is kept by the connection, not by it.
 * Returns 0 (also for pausing a paused connection, or resuming one not
 * paused, or resuming one that is gone or closing); WSV_ERR_INVAL (NULL
 * ws); WSV_ERR_STATE (pausing a client still in its handshake);
 * WSV_ERR_CLOSED (pausing once a Close was sent or received, or the
 * connection is gone); an errno code if epoll refused the change. */
WSV_EXTERN int wsv_ws_pause(struct wsv_ws *ws, int paused);

/* wsv_ws_paused - nonzero while reading is paused (wsv_ws_pause). */
WSV_EXTERN int wsv_ws_paused(const struct wsv_ws *ws);

/* wsv_ws_abort - drop the TCP connection now, without a closing
 * handshake (the peer sees a reset or EOF; over HTTP/2 the stream is
 * reset with RST_STREAM CANCEL and the connection goes on).  The close callback
 * (code 1006, error text "aborted") or, for a client not yet open, the fail
 * callback (WSV_ERR_CLOSED) runs at the end of the current iteration,
 * never inside this call.  NULL is fine. */
WSV_EXTERN void wsv_ws_abort(struct wsv_ws *ws);

/* wsv_ws_flush - write queued output now instead of at the end of the
 * iteration (never blocks; what does not fit waits for EPOLLOUT).
 * Returns 0; WSV_ERR_CLOSED if the socket failed (the close follows). */
WSV_EXTERN int wsv_ws_flush(struct wsv_ws *ws);

/* Accessors.  wsv_ws_user - the per-connection pointer (NULL at first);
 * wsv_ws_set_user - set it. */
WSV_EXTERN void *wsv_ws_user(const struct wsv_ws *ws);
WSV_EXTERN void wsv_ws_set_user(struct wsv_ws *ws, void *user);

/* wsv_ws_loop - the loop the connection lives on. */
WSV_EXTERN struct wsv_loop *wsv_ws_loop(const struct wsv_ws *ws);

/* wsv_ws_server - the server that accepted it, NULL for a client. */
WSV_EXTERN struct wsv_server *wsv_ws_server(const struct wsv_ws *ws);

/* wsv_ws_path - the resource path, NUL-terminated, owned by ws: for a
 * server the request's path (percent-encoded as received, no query), for
 * a client the URL's path.  Valid as long as ws. */
WSV_EXTERN const char *wsv_ws_path(const struct wsv_ws *ws);

/* wsv_ws_request - the server handshake object, to read the request with
 * the wsv_hs_server_* accessors (query, Origin, headers, subprotocol).
 * Only during the open callback of a server connection; NULL otherwise. */
WSV_EXTERN const struct wsv_hs_server *wsv_ws_request(const struct wsv_ws *ws);

/* wsv_ws_subprotocol - the agreed subprotocol (NUL-terminated, owned by
 * ws), or NULL if none. */
WSV_EXTERN const char *wsv_ws_subprotocol(const struct wsv_ws *ws);

/* wsv_ws_version - the WebSocket version in use (13, 8 or 7), 0 before
 * the handshake is done. */
WSV_EXTERN int wsv_ws_version(const struct wsv_ws *ws);

/* wsv_ws_buffered - bytes queued and not yet written to the socket. */
WSV_EXTERN size_t wsv_ws_buffered(const struct wsv_ws *ws);

/* wsv_ws_is_open - nonzero between open and the first Close (messages
 * can be sent). */
WSV_EXTERN int wsv_ws_is_open(const struct wsv_ws *ws);

/* wsv_ws_peer - the peer's address as text, "192.0.2.1:5678" or
 * "[2001:db8::1]:5678", NUL-terminated in buf[0..cap) (64 bytes always
 * suffice).  Returns the text's length; WSV_ERR_INVAL (NULL, or the socket
 * is gone); WSV_ERR_NOBUF if cap is too small. */
WSV_EXTERN int wsv_ws_peer(const struct wsv_ws *ws, char *buf, size_t cap);

/* wsv_ws_fd - the socket, or -1 once closed (for getsockopt and the like;
 * do not read, write or close it).  Over HTTP/2, the connection's socket,
 * which the other streams share. */
WSV_EXTERN int wsv_ws_fd(const struct wsv_ws *ws);

/* wsv_ws_http2 - 1 when the WebSocket rides a stream of an HTTP/2
 * connection (RFC 8441; wsv_ws_fd is then the connection's socket, shared
 * with other streams), 0 over HTTP/1.1 (or NULL). */
WSV_EXTERN int wsv_ws_http2(const struct wsv_ws *ws);

/* TLS details of a connection (see wsv_ws_tls).  The strings are static
 * or owned by the connection: valid as long as it. */
struct wsv_tls_info {
  const char *version; /* "TLSv1.3" or "TLSv1.2" */
  const char *cipher;  /* OpenSSL's name, e.g. "TLS_AES_256_GCM_SHA384" */
  const char *alpn;    /* the agreed ALPN protocol ("http/1.1") or NULL */
};

/* wsv_ws_tls - 1 and *info filled when the connection runs over TLS and
 * its TLS handshake is done; 0 for plain TCP (or before); WSV_ERR_INVAL
 * for NULL arguments. */
WSV_EXTERN int wsv_ws_tls(const struct wsv_ws *ws, struct wsv_tls_info *info);

/* wsv_ws_extensions - the extensions agreed in the opening handshake: the
 * Sec-WebSocket-Extensions value of the 101 (e.g. "permessage-deflate;
 * server_no_context_takeover"), NUL-terminated, owned by ws; NULL when
 * none (or before the 101). */
WSV_EXTERN const char *wsv_ws_extensions(const struct wsv_ws *ws);

/* wsv_ws_error - why the connection ended abnormally: the WSV_ERR_* code
 * (e.g. WSV_ERR_UTF8 when the peer sent bad text, WSV_ERR_POLICY for a
 * slow consumer, WSV_ERR_ECONNRESET for a reset and another errno's code
 * for another failed read or write, WSV_ERR_TLS for a TLS failure,
 * WSV_ERR_CLOSED for an EOF without a Close or a timeout), 0 for a clean
 * close.  wsv_ws_error_text - the same as one line of English
 * (e.g. "connection reset by peer", "ping timeout", "close timeout";
 * static, never NULL, "" for a clean close).  Meant for the close
 * callback. */
WSV_EXTERN int wsv_ws_error(const struct wsv_ws *ws);
WSV_EXTERN const char *wsv_ws_error_text(const struct wsv_ws *ws);

/* ---- publish / subscribe (server connections) ------------------------------
 * Topics are NUL-terminated byte strings (any bytes but NUL, at most 1024).
 * Each server thread keeps its own topic table; nothing is locked on the
 * hot path.  A subscription ends with wsv_ws_unsubscribe or when the
 * connection closes.  Messages are delivered with wsv_ws_send, so a
 * subscriber over max_output is closed with 1008 like any slow consumer;
 * subscribers past their Close are skipped.  Messages published from one
 * thread reach each subscriber in the order they were published. */

/* wsv_ws_subscribe - subscribe a server connection to `topic` (copied).
 * Returns 0 when subscribed, 1 if it already was; WSV_ERR_INVAL (NULL, a
 * client connection, an empty or too long topic); WSV_ERR_CLOSED (the
 * connection is closing); WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_ws_subscribe(struct wsv_ws *ws, const char *topic);

/* wsv_ws_unsubscribe - returns 1 if it was subscribed, 0 if not;
 * WSV_ERR_INVAL. */
WSV_EXTERN int wsv_ws_unsubscribe(struct wsv_ws *ws, const char *topic);

/* wsv_ws_is_subscribed - 1 if subscribed to `topic`, else 0. */
WSV_EXTERN int wsv_ws_is_subscribed(const struct wsv_ws *ws, const char *topic);

/* Flag for wsv_ws_publish: deliver to the publishing connection too (if
 * it is subscribed).  By default it is skipped. */
#define WSV_PUBLISH_SELF 1u

/* wsv_ws_publish - send a message (opcode WSV_OP_TEXT or WSV_OP_BINARY,
 * data copied) to every subscriber of `topic` on every thread of the
 * connection's server.  Subscribers on this thread get it before the call
 * returns (queued, written at the end of the iteration); the other
 * threads get one shared copy through their post queues.  Returns the
 * number of subscribers reached on this thread (>= 0); WSV_ERR_INVAL
 * (NULL, a client connection, bad opcode or topic, invalid UTF-8 in
 * text); WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_ws_publish(struct wsv_ws *ws, const char *topic, int opcode,
                              const void *data, size_t len, unsigned flags);

/* ==== Server ================================================================
 */

/* The plain-HTTP answer (see wsv_http_fn).  The runtime copies it after
 * the callback returns; the pointers need only live until then. */
struct wsv_http_response {
  int status;               /* 100..599; preset to 404 */
  const char *content_type; /* NULL: "text/plain; charset=utf-8" */
  const void *body;         /* body[0..body_len); NULL with body_len 0 */
  size_t body_len;
  /* Extra header lines, each "Name: value\r\n", or NULL.  Content-Length,
   * Content-Type and "Connection: close" are always written by the
   * runtime; do not repeat them. */
  const char *headers;
};

/* The plain-HTTP callback: a request without an Upgrade header (e.g. a
 * browser's GET / for a demo page).  Read the request through `hs` (the
 * wsv_hs_server_method, _path, _query, _header accessors; views valid
 * during the call).  Fill *res (preset: 404, text/plain, body "not
 * found").  The answer carries Content-Length and "Connection: close";
 * for HEAD the body is left out.  The connection then closes gracefully
 * (one request per connection; no keep-alive). */
typedef void (*wsv_http_fn)(const struct wsv_hs_server *hs,
                            struct wsv_http_response *res, void *user);

/* Server settings.  Fill with wsv_server_config_init, then change fields;
 * wsv_server_new copies the struct and the host string.
 * Always call wsv_server_config_init first: new fields take reserved space, so
 * the size and every field's offset stay fixed within a SONAME (README,
 * "Library contract"). */
struct wsv_server_config {
  /* Where to listen: an IPv4 or IPv6 literal ("::1", "0.0.0.0", "::"
   * for every address, dual-stack), a host name (resolved with
   * getaddrinfo, which may block: every distinct IPv4 and IPv6 address it
   * has is bound, e.g. 127.0.0.1 and ::1 for a "localhost" that has
   * both), or a comma-separated list of those ("127.0.0.1,::1": both
   * loopbacks).  At most 4 addresses, all on one port (a picked one is
   * the same on each); with more than one, IPv6 sockets are IPv6-only.  An
   * address that cannot be bound is logged (WSV_LOG_WARN) and left out
   * as long as another one is bound.  Default "127.0.0.1". */
  const char *host;
  /* The port; 0 (default) picks a free one (see wsv_server_port). */
  uint16_t port;
  /* Worker threads, each with its own loop and its own SO_REUSEPORT
   * listener (default 1; at most 256).  Thread 0 is the one that calls
   * wsv_server_run. */
  int threads;
  /* listen() backlog (default 511). */
  int backlog;
  /* Most connections at once across all threads, handshakes included
   * (0, the default: no limit but the fd limit).  Past it a new
   * connection is answered "503 Service Unavailable" with a one-line body
   * and closed gracefully, without reading its request. */
  size_t max_connections;
  /* The opening handshake: versions, unsupported_status, max_head_bytes,
   * max_headers and the accept hook (which sees path, Origin and offered
   * subprotocols, and may refuse or pick a subprotocol) are used as
   * given.  plain_http is set by the runtime: WSV_HS_PLAIN_REPORT when
   * `http` is set, else WSV_HS_PLAIN_426. */
  struct wsv_hs_server_config handshake;
  /* Plain HTTP requests; NULL answers them 426 Upgrade Required. */
  wsv_http_fn http;
  void *http_user;
  /* Every WebSocket connection's core settings (max_message, max_frame,
   * max_fragments, max_output = the send-buffer limit, auto_pong, ...).
   * `stream` must stay 0: the runtime delivers whole messages.  The
   * permessage-deflate memory fields (pmd_shared, pmd_deflate_bits,
   * pmd_mem_level, pmd_inflate_trim) are set by the runtime from
   * handshake.pmd_policy (wsv_conn_config_pmd, with one shared
   * compressor per worker thread, freed with its loop); what they hold
   * here is ignored.  pmd_shared_min is used as given. */
  struct wsv_conn_config conn;
  /* Timeouts and send-buffer marks (see struct wsv_ws_limits). */
  struct wsv_ws_limits limits;
  /* After an HTTP error answer (or the 503, 408, or a plain-HTTP answer)
   * is written: shutdown(SHUT_WR), then read and discard what the client
   * still sends for at most linger_ms (default 1000) or linger_bytes
   * (default 65536), then close, so the client reads the whole answer
   * instead of a reset. */
  uint32_t linger_ms;
  size_t linger_bytes;
  /* Nonzero: handle SIGINT and SIGTERM through a signalfd on thread 0
   * (they are blocked in the thread calling wsv_server_run/start and in
   * the workers it creates; block them in your other threads too).  The
   * first signal starts a graceful shutdown (as wsv_server_stop), a
   * second one drops every connection at once.  Default 0. */
  int handle_signals;
  /* Graceful shutdown: how long to wait for the peers' Close replies
   * after sending 1001 "going away" before dropping the rest (default
   * 1500 ms). */
  uint32_t shutdown_timeout_ms;
  /* Bytes of the per-thread read buffer shared by that thread's
   * connections (default 65536, at least 4096). */
  size_t read_buffer_size;
  /* Callbacks and their user pointer; the log callback. */
  struct wsv_ws_callbacks callbacks;
  void *user;
  wsv_log_fn log;
  void *log_user;
  /* TLS (wss:// and https://): the certificate (PEM; the chain may follow
   * the server's own certificate in the same file) and its private key
   * (PEM).  Both or neither (NULL, the default: plain TCP).  Loaded once
   * by wsv_server_new and shared by every thread.  Over the connection
   * limit, a TLS connection is closed at once instead of answered 503. */
  const char *tls_cert_file;
  const char *tls_key_file;
  /* Server-wide memory budgets, across every connection and thread (0:
   * none).
   * output_budget (default WSV_DEFAULT_OUTPUT_BUDGET, 1 GiB): the bytes
   * queued for all connections together.  Past it, the connections
   * holding the most unsent data are failed first with 1008 (their
   * unsent frames are dropped at once; a frame partly written is
   * finished; the socket is reset if the peer has not taken it by
   * limits.close_timeout_ms), until the total is back under 7/8 of the
   * budget.  Each thread sheds its own connections, once its share
   * (budget / threads) is over too.  Requires conn.max_output below
   * 4 GiB - 1 MiB.
   * input_budget (default WSV_DEFAULT_INPUT_BUDGET, 256 MiB: sixteen
   * messages of the default maximum size at once): the bytes held by
   * messages being received (assembled or inflated; a message received
   * whole in one read takes none).  A message buffer that would grow past
   * it is refused before it grows: that connection fails with close 1009
   * (error WSV_ERR_BUDGET).  Growth up to 16 KiB per message is always
   * allowed, so small messages, compressed ones included, keep flowing
   * while large ones hold the budget.  The runtime sets conn.msg_reserve
   * for this (it must be NULL when input_budget is set).
   * See also wsv_server_output_queued and wsv_server_input_held. */
  size_t output_budget;
  size_t input_budget;
  /* Publish/subscribe across instances (wsv/broker.h): NULL (default)
   * for none.  Each server thread opens its own link to it; the server
   * does not own it (wsv_broker_free after wsv_server_free). */
  struct wsv_broker *broker;
  /* HTTP/2 (RFC 9113) and WebSockets over it (RFC 8441): an enum
   * wsv_http2_mode.  WSV_HTTP2_ON (0, the default): a TLS listener
   * offers ALPN "h2" beside "http/1.1", a plain one takes h2c with prior
   * knowledge (a connection that opens with the HTTP/2 preface; no
   * "Upgrade: h2c"), and SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 is sent:
   * over one HTTP/2 connection the `http` callback answers plain
   * requests (as over HTTP/1.1) and each extended CONNECT (":protocol
   * websocket") is judged by the same handshake rules and accept hook
   * (wsv_hs_server_parse_h2) and becomes a WebSocket on its stream, many
   * at once (at most 128 streams per connection).  Each stream's
   * receive window (256 KiB) opens only as its WebSocket reads, so one
   * that is paused or slow stops its own sender and no other; the
   * limits (max message, send buffer, slow consumer) hold per
   * WebSocket.  A WebSocket ends its stream as a socket would end:
   * END_STREAM after its last bytes (the closing handshake, or the Close
   * a failure sends), RST_STREAM (CANCEL) where a socket would be reset
   * (ping or close timeout, wsv_ws_abort); a graceful shutdown sends
   * 1001 to each, then GOAWAY.  WSV_HTTP2_NO_WEBSOCKET: HTTP/2 for plain
   * requests only (the setting is not sent, so clients use HTTP/1.1 for
   * WebSockets).  WSV_HTTP2_OFF: HTTP/1.1 only.  wsv_ws_http2 tells a
   * WebSocket's transport. */
  int http2;
  /* Room for new fields (zeroed by wsv_server_config_init; do not
   * touch). */
  uint64_t _reserved[14];
};

/* struct wsv_server_config's http2. */
enum wsv_http2_mode {
  WSV_HTTP2_ON = 0,
  WSV_HTTP2_NO_WEBSOCKET = 1,
  WSV_HTTP2_OFF = 2
};

#define WSV_DEFAULT_OUTPUT_BUDGET ((size_t)1 << 30)
#define WSV_DEFAULT_INPUT_BUDGET ((size_t)256 << 20)

/* wsv_server_config_init - the defaults above (and the core's defaults in
 * handshake and conn). */
WSV_EXTERN void wsv_server_config_init(struct wsv_server_config *cfg);

/* wsv_server_new - check `cfg`, create one loop per thread, resolve the
 * host, and bind and listen on every thread's socket (so the port is known
 * and taken when this returns).  Nothing is accepted before run/start.
 * Returns 0 and sets *out;
 *   WSV_ERR_INVAL  NULL argument, a bad setting (threads, stream,
 *                  a handshake or conn config the core refuses, only one
 *                  of tls_cert_file and tls_key_file, an output_budget
 *                  with conn.max_output of 4 GiB - 1 MiB or more, an
 *                  input_budget with conn.msg_reserve set), a host with
 *                  no IPv4 or IPv6 address, or the certificate or key
 *                  cannot be loaded (the reason logged at WSV_LOG_ERROR,
 *                  e.g. "cannot load the private key k.pem: bad decrypt");
 *   WSV_ERR_RESOLVE the host does not resolve (logged);
 *   WSV_ERR_E*     a system call failed, its errno's code (errno kept,
 *                  details logged): WSV_ERR_EADDRINUSE (the port is
 *                  taken), WSV_ERR_EACCES (a port below 1024 without the
 *                  privilege), WSV_ERR_EADDRNOTAVAIL (not a local
 *                  address), WSV_ERR_EMFILE, ...;
 *   WSV_ERR_NOMEM  memory ran out. */
WSV_EXTERN int wsv_server_new(struct wsv_server **out,
                              const struct wsv_server_config *cfg);

/* wsv_server_port - the bound port (the picked one when cfg.port was 0). */
WSV_EXTERN uint16_t wsv_server_port(const struct wsv_server *srv);

/* wsv_server_address - the i-th address the server listens on (0 <=
 * i; in the order of cfg.host), as "127.0.0.1:8080" or "[::1]:8080",
 * into buf[0..cap) (NUL-terminated, cut to fit; at most 47 characters).
 * Returns 1, or 0 when there is no i-th address (or srv is NULL), so
 * `for (i = 0; wsv_server_address(srv, i, b, sizeof b); i++)` lists them. */
WSV_EXTERN int wsv_server_address(const struct wsv_server *srv, int i,
                                  char *buf, size_t cap);

/* wsv_server_run - serve on the calling thread (thread 0) plus threads-1
 * new threads, until the server stops (wsv_server_stop or a handled
 * signal, then every thread's connections are closed); joins the workers
 * and returns 0, or WSV_ERR_STATE if already running, WSV_ERR_NOMEM if a
 * thread could not be created (the others are stopped and joined). */
WSV_EXTERN int wsv_server_run(struct wsv_server *srv);

/* wsv_server_start - the same in the background: all `threads` loops run
 * on new threads and this returns at once (0, WSV_ERR_STATE,
 * WSV_ERR_NOMEM).  Wait for the end with wsv_server_join. */
WSV_EXTERN int wsv_server_start(struct wsv_server *srv);

/* wsv_server_join - wait until the threads started by wsv_server_start
 * have stopped.  Returns 0, or WSV_ERR_STATE if it was not started. */
WSV_EXTERN int wsv_server_join(struct wsv_server *srv);

/* wsv_server_stop - begin a graceful shutdown: every thread stops
 * accepting (listeners closed), drops connections still in their
 * handshake, sends Close 1001 "going away" to every open connection, waits
 * up to shutdown_timeout_ms for the Close replies, drops the rest (their
 * close callback: 1006), and then its loop returns.  Calling it again
 * while that runs drops every connection at once.  Thread-safe and
 * async-signal-safe.  A stop before run/start makes them return at once.
 * NULL is ignored. */
WSV_EXTERN void wsv_server_stop(struct wsv_server *srv);

/* wsv_server_free - free a server that is not running (stopped and
 * joined, or never started): its loops, listeners and anything left.
 * NULL is fine. */
WSV_EXTERN void wsv_server_free(struct wsv_server *srv);

/* wsv_server_threads - the number of threads; wsv_server_loop - the loop
 * of thread i (0 <= i < threads), e.g. to watch stdin or start a timer
 * there before run; NULL if i is out of range. */
WSV_EXTERN int wsv_server_threads(const struct wsv_server *srv);
WSV_EXTERN struct wsv_loop *wsv_server_loop(const struct wsv_server *srv,
                                            int i);

/* wsv_server_output_queued - bytes queued for writing across every
 * connection of the server, as counted for output_budget (0 when it is
 * 0); wsv_server_input_held - bytes held by messages being received, as
 * counted for input_budget (0 when it is 0).  Thread-safe (a relaxed
 * read: a moment's figure). */
WSV_EXTERN size_t wsv_server_output_queued(const struct wsv_server *srv);
WSV_EXTERN size_t wsv_server_input_held(const struct wsv_server *srv);

/* wsv_server_connections - connections currently held across all
 * threads (handshakes and lingering closes included).  Thread-safe. */
WSV_EXTERN size_t wsv_server_connections(const struct wsv_server *srv);

/* wsv_server_publish - wsv_ws_publish from anywhere: send to every
 * subscriber of `topic` on every thread.  Thread-safe: from a server
 * thread the local subscribers get it at once and the others through
 * posts; from any other thread every loop gets it through its post queue
 * (one shared, reference-counted copy).  Returns the number of local
 * subscribers reached (0 from a foreign thread); WSV_ERR_INVAL (NULL, bad
 * opcode or topic, invalid UTF-8 in text); WSV_ERR_NOMEM. */
WSV_EXTERN int wsv_server_publish(struct wsv_server *srv, const char *topic,
                                  int opcode, const void *data, size_t len);

/* ==== Client ================================================================
 */

/* Client settings.  Fill with wsv_client_config_init; wsv_client_connect
 * copies what it needs.
 * Always call wsv_client_config_init first: new fields take reserved space, so
 * the size and every field's offset stay fixed within a SONAME (README,
 * "Library contract"). */
struct wsv_client_config {
  /* "ws://host[:port][/path][?query]" or "wss://..." (TLS); host a
   * name, an IPv4 literal or an IPv6 literal in brackets
   * ("ws://[::1]:8080/"); port default 80 (ws) or 443 (wss); path default
   * "/". */
  const char *url;
  /* The handshake: versions (default 13, 8, 7: 13 is tried first and the
   * others only when the server asks), first_version, origin,
   * subprotocols, extensions, extra headers, limits, random source.  host,
   * port, secure and path are taken from `url` (leave them unset). */
  struct wsv_hs_client_config handshake;
  /* The connection's core settings; `stream` must stay 0. */
  struct wsv_conn_config conn;
  /* Timeouts and send-buffer marks; handshake_timeout_ms covers DNS-free
   * connect + handshake (+ the retry). */
  struct wsv_ws_limits limits;
  /* Read buffer of the connection (default 65536). */
  size_t read_buffer_size;
  struct wsv_ws_callbacks callbacks;
  void *user;
  /* The log callback: the version negotiation is reported at
   * WSV_LOG_INFO, e.g. "server speaks 8, 7; retrying with 8", and each
   * connect attempt at WSV_LOG_DEBUG. */
  wsv_log_fn log;
  void *log_user;
  /* wss:// only.  tls_insecure nonzero: accept any certificate and name
   * (testing only).  tls_cafile: a PEM file of trusted CAs used instead
   * of the system's store (e.g. a private CA); NULL (default): the
   * system's store.  The handshake's outcome is logged at WSV_LOG_DEBUG
   * ("TLS: TLSv1.3, TLS_AES_256_GCM_SHA384, ALPN http/1.1"). */
  int tls_insecure;
  const char *tls_cafile;
  /* A proxy to reach the server through, or NULL (default) to connect
   * directly.  The runtime reads no environment variable: the caller
   * picks the proxy (`wsv connect` reads ALL_PROXY, HTTPS_PROXY,
   * HTTP_PROXY and NO_PROXY).
   *   "http://[user:pass@]host[:port]"  an HTTP CONNECT tunnel (port
   *      default 8080), with Proxy-Authorization: Basic when user:pass
   *      is given;
   *   "socks5://[user:pass@]host[:port]" (or "socks5h://", the same) a
   *      SOCKS5 tunnel (RFC 1928; port default 1080), with the RFC 1929
   *      user/password method when user:pass is given.  The server's host
   *      is resolved by the proxy (a name is sent as a name, as curl's
   *      socks5h:// does; no local DNS query for it).
   * user and pass are percent-decoded.  The proxy's host is resolved
   * here; the server's host is not (the proxy resolves it).  For wss://
   * the TLS handshake runs inside the tunnel, with the server's name.  A
   * proxy that refuses (407, any non-2xx, a SOCKS5 error) or answers
   * garbage ends in `fail` with WSV_ERR_PROXY and a one-line text, e.g.
   * "proxy 127.0.0.1:3128: the proxy refused the tunnel: 407 \"Proxy
   * Authentication Required\"".  The handshake timeout covers the
   * tunnel.  The connect attempts are logged at WSV_LOG_DEBUG. */
  const char *proxy;
  /* Which HTTP carries the handshake: an enum wsv_client_http.
   * WSV_CLIENT_HTTP_AUTO (0, the default): for wss://, ALPN offers "h2"
   * and "http/1.1"; when the server picks h2 and its SETTINGS announce
   * ENABLE_CONNECT_PROTOCOL, the WebSocket is an extended CONNECT on an
   * HTTP/2 stream (RFC 8441); when it picks h2 without the setting, the
   * client tries again over HTTP/1.1 on a new connection (logged at
   * WSV_LOG_INFO); ws:// uses HTTP/1.1.  WSV_CLIENT_HTTP1: HTTP/1.1
   * only.  WSV_CLIENT_HTTP2: HTTP/2 only (over ws://, h2c with prior
   * knowledge); a server without it fails with WSV_ERR_HS_STATUS and a
   * text saying why.  The version retry works the same over HTTP/2 (a
   * 400 or 426 listing other versions: the retry is a new stream on
   * the same connection).  Through a `proxy` HTTP/1.1 is used. */
  int http;
  /* An open client WebSocket over HTTP/2 (wsv_ws_http2) on the same
   * loop, or NULL (default): the new WebSocket is then one more stream
   * of that one's connection (as a browser does for a page's
   * WebSockets to one server): no new TCP connection or TLS handshake;
   * `url` must name the same scheme, host and port (its path and query
   * are used), and TLS, proxy and resolution settings are not used.  The
   * connection closes once its last WebSocket has.  WSV_ERR_INVAL when
   * `share` is not such a WebSocket or the URL names another server. */
  struct wsv_ws *share;
  /* Room for new fields (zeroed by wsv_client_config_init; do not
   * touch). */
  uint64_t _reserved[13];
};

/* struct wsv_client_config's http. */
enum wsv_client_http {
  WSV_CLIENT_HTTP_AUTO = 0,
  WSV_CLIENT_HTTP1 = 1,
  WSV_CLIENT_HTTP2 = 2
};

/* wsv_client_config_init - the defaults above (and the core's). */
WSV_EXTERN void wsv_client_config_init(struct wsv_client_config *cfg);

/* wsv_client_connect - start connecting to cfg->url on `loop`.  The host
 * is resolved here with getaddrinfo, which may block the thread (pass an
 * IP literal to avoid it); every resolved address is tried in turn.  The
 * TCP connect and the handshake then run on the loop; the outcome is the
 * `open` or the `fail` callback, never inside this call.  On a 400/426
 * listing other versions the client reconnects once, on a new TCP
 * connection, with the highest common version (logged at WSV_LOG_INFO).
 * Returns 0 and sets *out (may be NULL) to the connection, valid until
 * `close` or `fail` returns; or
 *   WSV_ERR_INVAL  NULL loop/cfg/url, a malformed URL (wsv_url_parse's
 *                  rules; the reason is logged), a handshake config the
 *                  core refuses, a tls_cafile that cannot be loaded (the
 *                  reason is logged at WSV_LOG_ERROR);
 *   WSV_ERR_RESOLVE the host does not resolve, or has no IPv4 or IPv6
 *                  address (logged);
 *   WSV_ERR_NOMEM  memory ran out;
 *   WSV_ERR_RANDOM the random source failed.
 * A socket that cannot be made or connected is reported through `fail`
 * with its errno's code. */
WSV_EXTERN int wsv_client_connect(struct wsv_loop *loop,
                                  const struct wsv_client_config *cfg,
                                  struct wsv_ws **out);

/* wsv_client_status - during the `fail` callback of a client whose server
 * answered the handshake with a complete HTTP head: that answer's status
 * (e.g. 301, 403, 503; 101 when a 101 failed the handshake's checks).  0
 * in every other case: no answer came (connect, TLS, timeout, EOF), a
 * proxy refused the tunnel (WSV_ERR_PROXY: the text says why), outside
 * `fail`, or ws NULL.  With wsv_client_location, this is what a caller
 * needs to follow a redirect: a 301, 302, 303, 307 or 308 fails with
 * WSV_ERR_HS_STATUS; the runtime itself never follows one. */
WSV_EXTERN int wsv_client_status(const struct wsv_ws *ws);

/* wsv_client_location - during the `fail` callback, the value of the
 * Location field of a 3xx answer (see wsv_client_status) exactly as sent:
 * not resolved against the URL (it may be relative, e.g. "/other", or
 * name another scheme, e.g. "http://..."), NUL-terminated, owned by the
 * runtime and valid until `fail` returns.  NULL when the answer was not a
 * 3xx, had no Location or more than one, the value is empty or holds a
 * byte outside printable ASCII, outside `fail`, or ws NULL. */
WSV_EXTERN const char *wsv_client_location(const struct wsv_ws *ws);

#ifdef __cplusplus
}
#endif
#endif /* WSV_RT_H */
