/*
 * wsv/conn.h - the WebSocket connection state machine (RFC 6455 §5-§7)
 * above the frame codec: messages, fragmentation, ping/pong, and the
 * closing handshake, for either role.
 *
 * Sans-I/O, pull style (as nghttp2): the caller pushes received bytes in
 * and pulls events out one at a time; calls that send queue frames, and the
 * caller pulls the bytes to write as iovecs.  A typical loop:
 *
 *   n = read(fd, buf, sizeof buf);
 *   wsv_conn_recv(conn, buf, n);
 *   while (wsv_conn_next_event(conn, &ev) != WSV_EV_NONE) {
 *     ... handle ev (its views point into buf or into conn) ...
 *   }
 *   // buf may now be reused.
 *   while (wsv_conn_want_write(conn)) {
 *     int k = wsv_conn_output(conn, iov, 64);
 *     ssize_t w = writev(fd, (struct iovec *)iov, k);
 *     if (w <= 0) break;               // EAGAIN: wait for POLLOUT
 *     wsv_conn_consume_output(conn, (size_t)w);
 *   }
 *   if (wsv_conn_want_close_socket(conn)) close(fd);
 *
 * Input.  wsv_conn_recv() only records the buffer; wsv_conn_next_event()
 * parses it lazily, one event per call, unmasking payloads IN PLACE in the
 * caller's buffer (so the buffer must be writable).  Nothing is queued per
 * event, so any number of frames in one buffer costs no memory.
 *
 * Messages are delivered in one of two modes (config `stream`):
 *   - assemble (default): one WSV_EV_TEXT / WSV_EV_BINARY event per
 *     message with first = last = 1.  A message that is one frame whose
 *     payload is entirely in the current buffer is delivered as a view into
 *     that buffer (zero copy).  Anything else (fragmented messages, and a
 *     single frame whose payload is split across wsv_conn_recv calls) is
 *     copied into a message buffer taken from the allocator, grown as bytes
 *     arrive (never preallocated from the announced length) and bounded by
 *     max_message; it is freed at the next call.
 *   - stream: one event per piece of payload as it arrives, with `first`
 *     set on a message's first event and `last` on its last.  Pieces are
 *     views into the receive buffer; nothing is ever copied.  Empty pieces
 *     are not reported, except that the last event of a message is always
 *     reported (possibly empty).  The pieces of a text message may split a
 *     UTF-8 sequence; the message as a whole is valid.
 * Text is validated incrementally as bytes arrive, across frames and recv
 * calls: the connection fails (close 1007) at the first byte that cannot
 * be valid, and no piece containing it is delivered.
 *
 * Control frames are handled as soon as they are complete, also between
 * the fragments of a message (which is then continued).  A ping is reported
 * (WSV_EV_PING) and, if auto_pong is on, answered with a pong carrying the
 * same payload, in the order the pings came.  Every ping is answered while
 * fewer than max_pending_pongs automatic pongs are unsent (queued, none of
 * their bytes written yet); past that bound a new ping replaces the payload
 * of the newest unsent pong instead (coalescing, as RFC 6455 §5.5.3
 * allows), so a peer that floods pings and never reads makes the
 * connection hold at most max_pending_pongs pongs: with the default 16,
 * under 2.1 KiB of output and 3 KiB of memory.  A pong is only queued
 * between whole frames: it may go out between the fragments of a message
 * being sent in pieces, never inside a frame.  A pong is reported
 * (WSV_EV_PONG) and otherwise ignored.
 *
 * RSV bits: data frames may carry the bits allowed by `rsv_allowed` on a
 * message's first frame only (continuation frames with RSV bits fail with
 * 1002, as RFC 7692 §6.1); control frames never.
 *
 * Closing.  When the peer's Close arrives, WSV_EV_CLOSE reports its code
 * (1005 if it had none) and reason, and, unless we already sent a Close, a
 * Close echoing the code (no reason; empty if the peer's was empty) is
 * queued.  wsv_conn_close() sends ours and waits for the peer's.  Once a
 * Close was received, further input is discarded (no events, no pongs).
 * After we sent a Close, frames from the peer are still parsed and
 * delivered (the peer may have sent them before it saw our Close) but pings
 * are not answered.  Per §7.1.1 the server closes TCP first:
 * wsv_conn_want_close_socket() says when.  A client waits for the server to
 * close TCP (with a timeout of the runtime's choosing) once the state is
 * WSV_CONN_CLOSED.
 *
 * Failing.  A protocol violation fails the connection (§7.1.7): a Close
 * with the error's close code (1002, 1007, 1008, 1009; 1011 for an
 * allocation or random-source failure) is queued unless one was already
 * sent, a WSV_EV_ERROR event reports it, and all further input is
 * discarded.  The offending payload is never delivered.
 *
 * Output.  Sends copy the payload into the connection's output queue (a
 * client must copy anyway to mask it), so the caller's data need not
 * outlive the call; wsv_conn_send_buf queues an owned buffer instead, with
 * no copy (an echo: wsv_conn_take_message, then wsv_conn_send_buf).  Small
 * frames are packed back to back into shared blocks, so many frames go out as a
 * few iovecs in one writev.  The queued size is bounded by max_output.  A
 * client draws a fresh masking key from the random hook for every frame it
 * sends.
 *
 * permessage-deflate (RFC 7692), when config `pmd` is enabled (fill it
 * from wsv_hs_server_pmd / wsv_hs_client_pmd after the handshake):
 *   - RSV1 is allowed on a data message's first frame and means the
 *     message is compressed; RSV1 on a continuation frame or a control
 *     frame still fails with 1002, as RSV1 without pmd does.
 *   - Receiving: the payload is inflated as it arrives (the receiver
 *     appends 00 00 ff ff after the last frame).  max_message applies to
 *     the INFLATED size and is checked while inflating, in steps of at
 *     most 16 KiB: a message that inflates past it fails with 1009 after
 *     at most max_message + 1 inflated bytes, so a decompression bomb
 *     costs at most max_message of memory and the CPU to inflate that
 *     much.  On the wire a compressed message may take max_message + 1/8
 *     + 1 KiB.  Text is validated on the inflated bytes, incrementally.
 *     Assemble mode delivers the inflated message whole (never a view
 *     into the receive buffer); stream mode delivers pieces of at most
 *     16 KiB as they are inflated.  `rsv` still reports RSV1.
 *   - Corrupt compressed data (zlib reports a bad block type, Huffman
 *     table, distance beyond the agreed window, stored length, ...) fails
 *     the connection with WSV_ERR_INFLATE and close code 1007: the payload
 *     is not valid for the encoding both sides agreed on, which is what
 *     1007 "invalid frame payload data" means (RFC 6455 §7.4.1); 1002 would
 *     blame the framing, which was fine.  Node's ws does the same.
 *     Data after a deflate block with BFINAL set is ignored; the next
 *     message starts a new stream (keeping the window unless the peer
 *     agreed to no context takeover).
 *   - Sending: data messages of at least `pmd_min_size` bytes are
 *     compressed (deflate with a sync flush, the 00 00 ff ff tail
 *     stripped, RSV1 on the first frame only); smaller ones go out plain.
 *     A message sent with wsv_conn_send_fragment is compressed whenever
 *     its first piece is not also its last; each piece is flushed, so the
 *     peer can inflate every frame on arrival.  An empty compressed
 *     message is the single byte 00.  If our agreed window is 8 bits
 *     (zlib cannot compress within 256 bytes) nothing is compressed.
 *   - Memory: zlib state is created on first use (the inflater on the
 *     first compressed message received, the deflater on the first one
 *     sent) through the connection's allocator.  With no context takeover
 *     on a side, that side's state is freed after every message, so an
 *     idle connection holds none; with context takeover it is kept (about
 *     45 KiB to inflate and 270 KiB to deflate with 15-bit windows).
 *     pmd_deflate_bits / pmd_mem_level shrink our deflater, pmd_shared
 *     sends large whole messages through a compressor shared by many
 *     connections, and pmd_inflate_trim keeps only the inflater's window
 *     between messages (see those fields; wsv_conn_config_pmd sets them
 *     for a policy: ON keeps about 18 KiB to deflate and 8 KiB of window).
 *
 * Memory: an idle connection holds only its struct (744 bytes on
 * LP64); message and output buffers are taken when needed and freed when
 * empty.
 */
#ifndef WSV_CONN_H
#define WSV_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/deflate.h"
#include "wsv/error.h"
#include "wsv/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of struct wsv_conn_config. */
#define WSV_CONN_DEFAULT_MAX_MESSAGE (UINT64_C(16) << 20)
#define WSV_CONN_DEFAULT_MAX_FRAGMENTS (1u << 20)
#define WSV_CONN_DEFAULT_MAX_OUTPUT (((size_t)16 << 20) + 65536)
#define WSV_CONN_DEFAULT_PMD_MIN_SIZE 32u
#define WSV_CONN_DEFAULT_PMD_SHARED_MIN 4096u
/* What wsv_conn_config_pmd sets for WSV_PMD_ON. */
#define WSV_CONN_PMD_ON_DEFLATE_BITS 11
#define WSV_CONN_PMD_ON_MEM_LEVEL 3
#define WSV_CONN_DEFAULT_MAX_PENDING_PONGS 16u
/* The largest max_pending_pongs accepted (about 134 KiB of pongs). */
#define WSV_CONN_MAX_PENDING_PONGS_LIMIT 1024u

/* Connection settings.  Fill with wsv_conn_config_init(), then change
 * fields.  Copied by wsv_conn_new().
 * Always call wsv_conn_config_init first: new fields take reserved space, so
 * the size and every field's offset stay fixed within a SONAME (README,
 * "Library contract"). */
struct wsv_conn_config {
  /* Largest frame payload accepted (default 16 MiB).  A larger announced
   * length fails the connection with 1009 at the frame header. */
  uint64_t max_frame;
  /* Largest message accepted: the sum of its frames' payloads (default
   * 16 MiB).  Checked at each frame header against the announced length,
   * before any of the payload is taken: over it fails with 1009. */
  uint64_t max_message;
  /* Most frames one message may span (default 1,048,576: a 4 MiB message
   * in 4-byte fragments).  More fails the
   * connection with 1008 (bounds floods of tiny or empty fragments). */
  uint32_t max_fragments;
  /* Most bytes the output queue may hold (default 16 MiB + 64 KiB, so
   * that a message of the default maximum size, with its frame headers
   * and a few control frames, can always be echoed); see
   * wsv_conn_send for what happens when a send would pass it. */
  size_t max_output;
  /* Answer pings automatically (default 1).  When 0, pings are only
   * reported and the caller may answer with wsv_conn_pong(). */
  int auto_pong;
  /* With auto_pong: most automatic pongs queued and not yet started on
   * the wire (default 16, 1..WSV_CONN_MAX_PENDING_PONGS_LIMIT).  Up to it
   * every ping gets its own pong; past it the newest unsent pong takes the
   * newer ping's payload (see the top of this file).  Each unsent pong
   * costs at most 131 bytes of output (a 125-byte payload, a client's
   * mask) and one block of about 170 bytes of memory; pongs do not count
   * against max_output.  16 answers a burst of ten pings in one read one
   * by one (Autobahn 2.10, 2.11), as Node's ws and browsers do, while a
   * ping flood from a peer that never reads holds under 2.1 KiB of
   * output; 1 keeps the old behaviour (one unsent pong, coalesced). */
  unsigned max_pending_pongs;
  /* 0 (default): assemble messages; 1: stream them (see the top). */
  int stream;
  /* 1: keep one emptied output block (at most 1 KiB) for the next send
   * instead of freeing it, which saves a malloc and a free per burst of
   * small messages on a busy connection but holds that block while the
   * connection is idle.  0 (default): an idle connection holds only its
   * struct.  The runtime sets it, and frees the whole conn of a quiet
   * connection anyway (limits.park_after_ms in wsv/rt.h). */
  int keep_spare_block;
  /* RSV bits an extension negotiated (WSV_RSV1...; default 0).  wsv does
   * not interpret them (except RSV1 when `pmd` is enabled); it reports
   * them in wsv_event.rsv. */
  unsigned rsv_allowed;
  /* permessage-deflate as agreed in the handshake (default: enabled 0).
   * Window bits 8..15, 0 meaning 15; see the top of this file. */
  struct wsv_pmd_params pmd;
  /* With pmd: whole messages shorter than this are sent uncompressed
   * (default 32 bytes: deflating them saves next to nothing and would
   * create the 270 KiB deflater for chatty connections of tiny messages).
   * 0 compresses everything. */
  size_t pmd_min_size;
  /* Source of client masking keys (default wsv_random_os).  A server never
   * calls it. */
  wsv_random_fn random;
  void *random_user;
  /* A memory budget shared with other connections, for the buffer of the
   * message being received (assemble mode; NULL, the default: none).
   * Before that buffer grows from `from` to `to` bytes (to > from; `from`
   * is 0 for a new buffer), msg_reserve(msg_reserve_user, from, to) is
   * called: 0 allows it; anything else refuses it, and the connection
   * fails with WSV_ERR_BUDGET (close 1009) before any memory is taken.
   * When the buffer is given back (its message was delivered or dropped,
   * the connection failed or is freed) it is called with to = 0, and its
   * result is ignored.  So the calls for one conn add up to zero once it
   * is freed, and a caller can keep a running total across connections.
   * The buffer grows by doubling from 256 bytes, and at most 16 KiB
   * beyond what has arrived for compressed messages (inflated bytes);
   * for an uncompressed frame with at least 16 KiB still due, once a piece
   * of 16 KiB or more arrives or wsv_conn_recv_space is called, by one
   * step of at most max(what it holds, 1 MiB) (never past the frame); a
   * single-frame message received whole in one wsv_conn_recv buffer is
   * delivered in place and takes no buffer.  Called from
   * wsv_conn_next_event and wsv_conn_free only, on the caller's thread. */
  int (*msg_reserve)(void *user, size_t from, size_t to);
  void *msg_reserve_user;
  /* permessage-deflate memory (all 0 by default: one deflater with the
   * agreed window and memLevel 8, one inflater, both kept while context
   * is taken over).  wsv_conn_config_pmd() sets them for a policy.
   *
   * pmd_shared: a shared 15-bit compressor (wsv/deflate.h; not owned: it
   * must outlive the conn and be used from the conn's thread only), or
   * NULL.  A whole message sent in one call (wsv_conn_send,
   * wsv_conn_send_owned; never one sent in pieces with
   * wsv_conn_send_fragment) goes through it when
   *   - we agreed to no context takeover on our side: every such message
   *     (of at least pmd_min_size), so the conn never owns a deflater;
   *   - or we keep context, our agreed window is 15 bits and the message
   *     has at least pmd_shared_min bytes: the shared deflater is reset,
   *     primed with our own deflater's window (the stream's recent
   *     history, which the peer's 32 KiB window holds too), compresses
   *     the message with a sync flush, and then our own deflater is reset
   *     and primed with the message's last 2^bits bytes, so the next
   *     message may refer back into it.  The peer sees one continuous
   *     stream.
   * If our agreed window is below 15 bits, pmd_shared is not used (its
   * matches could reach too far back). */
  struct wsv_pmd_shared *pmd_shared;
  /* The smallest whole message sent through pmd_shared while context is
   * kept (0: WSV_CONN_DEFAULT_PMD_SHARED_MIN, 4 KiB). */
  size_t pmd_shared_min;
  /* Our own deflater's window bits: 0 uses the agreed window, 9..15 uses
   * min(this, agreed) (a smaller window than agreed is always valid for
   * the peer).  11 bits and memLevel 3 take about 18 KiB instead of
   * about 262 KiB. */
  int pmd_deflate_bits;
  /* Our own deflater's zlib memLevel: 0 means 8, else 1..9. */
  int pmd_mem_level;
  /* 1: between two compressed messages received with context takeover,
   * keep only the inflater's window (2^bits bytes, its history) and free
   * the inflater; it is made again and primed with that window when the
   * next compressed message starts (about 7 KiB less per connection, at
   * a few per cent more CPU per message).  0 (default): keep it. */
  int pmd_inflate_trim;
  uint32_t _reserved32;
  /* Room for new fields (zeroed by wsv_conn_config_init; do not touch). */
  uint64_t _reserved[4];
};

/* Protocol state, from wsv_conn_state(). */
enum wsv_conn_state {
  WSV_CONN_OPEN = 1,    /* messages flow both ways */
  WSV_CONN_CLOSING = 2, /* we sent a Close and wait for the peer's */
  WSV_CONN_CLOSED = 3,  /* the peer's Close arrived (ours is queued/sent) */
  WSV_CONN_FAILED = 4   /* failed (§7.1.7) or closed for a slow consumer */
};

/* Event types.  WSV_EV_NONE (0) means no event: all input so far has been
 * consumed. */
enum wsv_event_type {
  WSV_EV_NONE = 0,
  WSV_EV_TEXT = 1,   /* text message or piece (valid UTF-8 as a whole) */
  WSV_EV_BINARY = 2, /* binary message or piece */
  WSV_EV_PING = 3,   /* a ping arrived (data = its payload) */
  WSV_EV_PONG = 4,   /* a pong arrived (data = its payload) */
  WSV_EV_CLOSE = 5,  /* the peer's Close: close_code, data = reason */
  WSV_EV_ERROR = 6   /* the connection failed: err, close_code */
};

/* One event.  `data` points either into the buffer given to the latest
 * wsv_conn_recv() or into memory owned by the connection; either way it is
 * valid until the next call of wsv_conn_next_event(), wsv_conn_recv() or
 * wsv_conn_free() on this connection, whichever comes first (other calls,
 * such as wsv_conn_send() to echo the data, leave it valid).  `data` is
 * never NULL, even when len is 0. */
struct wsv_event {
  int type;     /* enum wsv_event_type */
  int opcode;   /* WSV_OP_TEXT/BINARY for data (never CONT), or the
                   control opcode; 0 for WSV_EV_ERROR */
  unsigned rsv; /* data: RSV bits of the message's first frame */
  int first;    /* data: 1 on a message's first event */
  int last;     /* data: 1 on a message's last event */
  const uint8_t *data;
  size_t len;
  int close_code; /* CLOSE: the peer's code, 1005 if none.  ERROR: the
                     code of the Close we queued (or would have, if one
                     had already been sent) */
  int err;        /* ERROR: the WSV_ERR_* that failed the connection */
};

/* A connection (opaque). */
struct wsv_conn;

/* wsv_conn_config_init - set every field of `cfg` to its default. */
WSV_EXTERN void wsv_conn_config_init(struct wsv_conn_config *cfg);

/* wsv_conn_config_pmd - set the permessage-deflate memory fields of a
 * server's `cfg` for `policy` (enum wsv_pmd_policy in wsv/deflate.h, the
 * one its handshake negotiated with); `shared` (may be NULL; not owned,
 * see pmd_shared) is the thread's shared compressor.
 *   WSV_PMD_ON:   pmd_deflate_bits WSV_CONN_PMD_ON_DEFLATE_BITS (11),
 *                 pmd_mem_level WSV_CONN_PMD_ON_MEM_LEVEL (3),
 *                 pmd_inflate_trim 1, pmd_shared `shared`;
 *   WSV_PMD_LEAN: pmd_shared `shared` (the rest 0);
 *   WSV_PMD_MAX, WSV_PMD_OFF or anything else: all of them 0/NULL (one
 *                 full-size deflater and inflater per connection).
 * cfg->pmd itself (what was agreed) is not touched.  NULL cfg: nothing. */
WSV_EXTERN void wsv_conn_config_pmd(struct wsv_conn_config *cfg, int policy,
                                    struct wsv_pmd_shared *shared);

/* wsv_conn_new - create a connection in `role` (WSV_ROLE_SERVER or
 * WSV_ROLE_CLIENT) right after the opening handshake.  `cfg` is copied
 * (NULL for the defaults); `mem` is copied (NULL for malloc/free) and used
 * for every allocation the connection makes.  Bytes that followed the
 * handshake in the same read are the first input: pass them to
 * wsv_conn_recv().
 * Returns WSV_OK and sets *out, or
 *   WSV_ERR_INVAL  out is NULL, role is unknown, a limit is 0,
 *                  max_pending_pongs is over
 *                  WSV_CONN_MAX_PENDING_PONGS_LIMIT,
 *                  rsv_allowed has bits outside WSV_RSV_ALL, or pmd is
 *                  enabled with window bits other than 0 or 8..15;
 *   WSV_ERR_NOMEM  the allocator failed (*out is set to NULL). */
WSV_EXTERN int wsv_conn_new(struct wsv_conn **out, int role,
                            const struct wsv_conn_config *cfg,
                            const struct wsv_mem *mem);

/* wsv_conn_free - free the connection and everything it holds (queued
 * output, message buffer).  Views from its events become invalid.  NULL is
 * ignored. */
WSV_EXTERN void wsv_conn_free(struct wsv_conn *conn);

/* wsv_conn_recv - hand the connection the next `len` received bytes.
 * The connection keeps a pointer to buf[0..len) and unmasks payloads in it
 * in place: the buffer must stay valid and must not be changed by the
 * caller until wsv_conn_next_event() has returned WSV_EV_NONE (the
 * connection then holds no pointer into it).  After the peer's Close or a
 * failure the bytes are discarded.
 * Returns WSV_OK, or
 *   WSV_ERR_STATE  the previous buffer was not fully consumed yet (call
 *                  wsv_conn_next_event until it returns WSV_EV_NONE);
 *   WSV_ERR_INVAL  conn is NULL, or buf is NULL with len > 0. */
WSV_EXTERN int wsv_conn_recv(struct wsv_conn *conn, uint8_t *buf, size_t len);

/* wsv_conn_recv_space - zero-copy receive: where the caller may read the
 * next input straight into the message buffer, instead of reading into its
 * own buffer for wsv_conn_recv.  Offered only in assemble mode, while the
 * payload of an uncompressed text or binary frame is in progress with at
 * least 16 KiB of it still due, all earlier input is parsed
 * (wsv_conn_next_event returned WSV_EV_NONE) and the connection has not
 * failed or received a Close.  Then it sets *p and *n (1 <= *n <= the
 * frame's payload still due) and returns 1: read at most *n bytes to
 * p[0..*n) and pass the count to wsv_conn_recv_commit.  Reading fewer, or
 * none (then commit nothing, or do not call it), is fine; the space
 * belongs to the connection and stays valid until the next call on it
 * other than wsv_conn_recv_space itself.  Otherwise (or when growing the
 * buffer is refused by msg_reserve or the allocator: the copying path then
 * decides) it sets *p = NULL, *n = 0 and returns 0: use wsv_conn_recv.
 * The message buffer grows as for wsv_conn_recv: within max_message,
 * through msg_reserve, and by at most max(what it holds, 1 MiB) and never
 * past the frame's announced length at a time, so a peer announcing a
 * huge frame and sending little costs little.
 * Returns 1, 0, or WSV_ERR_INVAL (a NULL argument). */
WSV_EXTERN int wsv_conn_recv_space(struct wsv_conn *conn, uint8_t **p,
                                   size_t *n);

/* wsv_conn_recv_commit - the caller read `got` bytes into the space of the
 * latest wsv_conn_recv_space: unmask them in place and validate text
 * (incrementally, in the same pass).  Events (the completed message, or
 * WSV_EV_ERROR with 1007 for invalid UTF-8, reported at the commit that
 * holds the first bad byte) come from wsv_conn_next_event, which must be
 * called until it returns WSV_EV_NONE before the next wsv_conn_recv or
 * wsv_conn_recv_space.  A message received this way is delivered from the
 * message buffer (wsv_conn_take_message can take it without a copy).
 * Returns WSV_OK (also for got = 0: nothing happens), or
 *   WSV_ERR_INVAL  conn is NULL;
 *   WSV_ERR_STATE  no space is offered now, or got is larger than it. */
WSV_EXTERN int wsv_conn_recv_commit(struct wsv_conn *conn, size_t got);

/* wsv_conn_next_event - parse input until the next event and describe it
 * in *ev (see struct wsv_event for how long its views live).
 * Returns ev->type: an enum wsv_event_type, WSV_EV_NONE when the current
 * buffer is used up (then wait for more input); or WSV_ERR_INVAL if conn
 * or ev is NULL.  Failures are reported as a WSV_EV_ERROR event, whose
 * `err` is one of
 *   WSV_ERR_PROTOCOL  a framing rule broke (close 1002);
 *   WSV_ERR_UTF8      invalid UTF-8 in a text message or close reason
 *                     (close 1007);
 *   WSV_ERR_POLICY    more than max_fragments frames in a message (1008);
 *   WSV_ERR_TOO_BIG   a frame over max_frame or a message over max_message
 *                     (close 1009; with pmd, its inflated size);
 *   WSV_ERR_INFLATE   corrupt compressed data (close 1007);
 *   WSV_ERR_BUDGET    msg_reserve refused to let the message buffer grow
 *                     (close 1009);
 *   WSV_ERR_NOMEM     the message buffer, a pong or zlib state could not
 *                     be allocated (close 1011);
 *   WSV_ERR_RANDOM    no masking key for a client's pong (close 1011).
 * After WSV_EV_ERROR every call returns WSV_EV_NONE. */
WSV_EXTERN int wsv_conn_next_event(struct wsv_conn *conn, struct wsv_event *ev);

/* wsv_conn_send - queue a whole message: `opcode` WSV_OP_TEXT or
 * WSV_OP_BINARY, payload data[0..len) (copied; `data` may be NULL when len
 * is 0).  Sent as one frame.
 * A text payload is checked to be valid UTF-8, except when data[0..len)
 * is exactly (same pointer, same length) the view of the latest event of
 * this connection and that event was a whole text message (first and last
 * set): it was checked on receipt, so an echo is not checked twice.  This
 * relies on the rules above: the view must still be valid (no
 * wsv_conn_next_event, wsv_conn_recv or wsv_conn_free since) and its bytes
 * unchanged.  Any other pointer or length, a piece of a message (stream
 * mode), a binary message's bytes, or another connection's view is
 * checked as usual.  The same holds for wsv_conn_send_fragment when the
 * message being sent stands between code points.
 * Returns WSV_OK, or
 *   WSV_ERR_INVAL   conn is NULL, data is NULL with len > 0, the opcode is
 *                   not TEXT/BINARY, or a text payload is not valid UTF-8;
 *   WSV_ERR_STATE   a fragmented send (wsv_conn_send_fragment) is open;
 *   WSV_ERR_CLOSED  a Close was sent or received, or the connection failed;
 *   WSV_ERR_NOMEM   the allocator failed (nothing was queued);
 *   WSV_ERR_RANDOM  (client) no masking key (nothing was queued);
 *   WSV_ERR_POLICY  the queue would pass max_output: the peer is not
 *                   reading fast enough.  Nothing of the message is
 *                   queued; instead the connection fails (state
 *                   WSV_CONN_FAILED) and a Close 1008 is queued after what
 *                   is already there.  The runtime may also drop the TCP
 *                   connection at once. */
WSV_EXTERN int wsv_conn_send(struct wsv_conn *conn, int opcode,
                             const void *data, size_t len);

/* wsv_conn_buf_alloc - an owned buffer of `len` bytes (0 is fine) from
 * the connection's allocator, for wsv_conn_send_buf: fill it and send it
 * to go out with no copy.  The caller owns it until it passes it to
 * wsv_conn_send_buf or wsv_conn_buf_free (exactly one of them, on this
 * connection, before wsv_conn_free).
 * Returns the buffer, or NULL (conn NULL, no memory). */
WSV_EXTERN uint8_t *wsv_conn_buf_alloc(struct wsv_conn *conn, size_t len);

/* wsv_conn_buf_free - give back an owned buffer that is not to be sent.
 * NULL conn or buf is ignored. */
WSV_EXTERN void wsv_conn_buf_free(struct wsv_conn *conn, uint8_t *buf);

/* wsv_conn_take_message - take over the message of the latest event, if
 * it was a whole text or binary message (first and last set): *buf
 * becomes an owned buffer (as from wsv_conn_buf_alloc) holding its *len
 * bytes.  A message delivered from the message buffer (assemble mode:
 * fragmented, split across reads, received with wsv_conn_recv_commit, or
 * inflated) is handed over as it is, no copy, and leaves the msg_reserve
 * budget (reported as given back); one delivered as a view of the receive
 * buffer is copied once.  The event's view stays valid and unchanged (it
 * may now be the owned buffer itself) until the usual next call.  A text
 * message taken and sent back with wsv_conn_send_buf before the next
 * wsv_conn_next_event is not validated again.  At most once per event.
 * Returns WSV_OK, or
 *   WSV_ERR_INVAL  a NULL argument;
 *   WSV_ERR_STATE  the latest event was not a whole data message, or it
 *                  was already taken (*buf = NULL);
 *   WSV_ERR_NOMEM  the copy could not be allocated. */
WSV_EXTERN int wsv_conn_take_message(struct wsv_conn *conn, uint8_t **buf,
                                     size_t *len);

/* wsv_conn_send_buf - queue a whole message from an owned buffer (from
 * wsv_conn_buf_alloc or wsv_conn_take_message of this connection):
 * buf[0..len), len at most the buffer's size.  The buffer is consumed in
 * every case (queued, or freed on an error) unless conn or buf is NULL.
 * Uncompressed, the buffer itself is queued: its frame header goes in
 * room kept in front of it, a client masks it in place with a fresh key,
 * wsv_conn_output describes it as one iovec, and it is given back to the
 * allocator once written.  When permessage-deflate compresses the message
 * (as wsv_conn_send would) the compressed copy is queued and the buffer
 * freed at once.  Text is validated (except an unchanged taken text
 * message, see wsv_conn_take_message); max_output as for wsv_conn_send.
 * Returns WSV_OK, or the errors of wsv_conn_send (WSV_ERR_INVAL also for
 * len over the buffer's size; WSV_ERR_POLICY: the slow-consumer failure). */
WSV_EXTERN int wsv_conn_send_buf(struct wsv_conn *conn, int opcode,
                                 uint8_t *buf, size_t len);

/* wsv_conn_send_fragment - queue one frame of a message sent in pieces.
 * The first call opens the message with `opcode` WSV_OP_TEXT or
 * WSV_OP_BINARY; later calls pass the same opcode (or WSV_OP_CONT) and go
 * out as continuation frames; the call with `fin` nonzero ends the
 * message.  Control frames (ping, pong, close) may be sent in between.  A
 * text message is validated across its pieces: a piece may end inside a
 * UTF-8 sequence, but not the last one.  Payload copied, as wsv_conn_send.
 * Returns WSV_OK, or the errors of wsv_conn_send, where WSV_ERR_INVAL also
 * covers an opcode that does not match the open message, and the message
 * stays open after any error. */
WSV_EXTERN int wsv_conn_send_fragment(struct wsv_conn *conn, int opcode,
                                      const void *data, size_t len, int fin);

/* wsv_conn_ping - queue a ping with payload data[0..len) (copied).
 * Returns WSV_OK, or WSV_ERR_INVAL (len > 125, conn NULL, data NULL with
 * len > 0), WSV_ERR_CLOSED, WSV_ERR_NOMEM, WSV_ERR_RANDOM, WSV_ERR_POLICY
 * (as wsv_conn_send). */
WSV_EXTERN int wsv_conn_ping(struct wsv_conn *conn, const void *data,
                             size_t len);

/* wsv_conn_pong - queue a pong (a reply when auto_pong is off, or an
 * unsolicited heartbeat).  Same arguments and errors as wsv_conn_ping. */
WSV_EXTERN int wsv_conn_pong(struct wsv_conn *conn, const void *data,
                             size_t len);

/* wsv_conn_close - start the closing handshake: queue a Close with `code`
 * and reason[0..reason_len) (copied), or an empty Close when code is 0 and
 * there is no reason.  The state becomes WSV_CONN_CLOSING; no data can be
 * sent afterwards.  The Close is queued even when the queue is at
 * max_output.
 * Returns WSV_OK, or
 *   WSV_ERR_INVAL   conn NULL, or a code/reason wsv_close_payload_build()
 *                   refuses (1005, 1006, 1015, other codes not valid on the
 *                   wire, a reason over 123 bytes or not valid UTF-8);
 *   WSV_ERR_CLOSED  a Close was already sent or received, or the
 *                   connection failed;
 *   WSV_ERR_NOMEM, WSV_ERR_RANDOM  nothing was queued; the call may be
 *                   repeated. */
WSV_EXTERN int wsv_conn_close(struct wsv_conn *conn, int code,
                              const void *reason, size_t reason_len);

/* wsv_conn_output - describe the bytes waiting to be written as up to
 * `max` iovecs, in order (struct wsv_iovec is layout-compatible with
 * struct iovec, so the array can go to writev).  The memory belongs to the
 * connection and stays valid until the next call on the connection other
 * than wsv_conn_output, wsv_conn_want_* and wsv_conn_state.
 * Returns the number of iovecs filled (0 when nothing is queued), or
 * WSV_ERR_INVAL (conn NULL, max < 0, iov NULL with max > 0). */
WSV_EXTERN int wsv_conn_output(struct wsv_conn *conn, struct wsv_iovec *iov,
                               int max);

/* wsv_conn_consume_output - the runtime wrote the first `n` bytes of the
 * output (partial writes are fine); drop them and free emptied blocks.
 * Returns WSV_OK, or WSV_ERR_INVAL (conn NULL, or n more than is queued;
 * nothing is dropped then). */
WSV_EXTERN int wsv_conn_consume_output(struct wsv_conn *conn, size_t n);

/* wsv_conn_output_size - bytes queued for writing (0 for NULL). */
WSV_EXTERN size_t wsv_conn_output_size(const struct wsv_conn *conn);

/* wsv_conn_shed - fail the connection to give its memory back at once
 * (e.g. a server over its budget for queued output drops the connections
 * holding the most): every queued frame not yet started on the wire is
 * dropped (a frame partly written is kept, so what the peer reads stays
 * well-formed), the message being received and zlib state are dropped,
 * and a Close with `code` (e.g. 1008) is queued unless one was already
 * sent.  The state becomes WSV_CONN_FAILED: no more events, sends fail
 * with WSV_ERR_CLOSED; the runtime writes what is left and then closes
 * the socket (wsv_conn_want_close_socket).  Views of the latest event stay
 * valid until the next wsv_conn_next_event or wsv_conn_recv.
 * Returns the number of queued bytes dropped (>= 0), or WSV_ERR_INVAL
 * (conn NULL, or a code wsv_close_payload_build refuses: nothing done). */
WSV_EXTERN int64_t wsv_conn_shed(struct wsv_conn *conn, int code);

/* wsv_conn_want_read - nonzero while the connection expects frames from
 * the peer (open, or closing and waiting for the peer's Close).  The
 * wsv_conn_want_* functions return 0 for NULL. */
WSV_EXTERN int wsv_conn_want_read(const struct wsv_conn *conn);

/* wsv_conn_want_write - nonzero while output is queued. */
WSV_EXTERN int wsv_conn_want_write(const struct wsv_conn *conn);

/* wsv_conn_want_close_socket - nonzero when the runtime should close the
 * TCP connection now: all output is written and either the connection
 * failed, or (server only, §7.1.1) both Close frames have been exchanged.
 * A client returns 0 after a clean close handshake: it waits for the
 * server to close TCP, closing itself only after a timeout. */
WSV_EXTERN int wsv_conn_want_close_socket(const struct wsv_conn *conn);

/* wsv_conn_idle - 1 if `conn` holds nothing beyond its role and
 * configuration: all input handed to it was parsed, no frame or message is
 * part-way in either direction, no output is queued, no Close was sent or
 * received, it has not failed, no owned buffer (wsv_conn_buf_alloc,
 * wsv_conn_take_message) is out, and it keeps no buffer or zlib stream (the
 * spare block of keep_spare_block does not count; a
 * permessage-deflate context that is taken over between messages counts as
 * state, so such a connection is idle only before its first compressed
 * message).  An idle connection behaves exactly like a new one made by
 * wsv_conn_new with the same role and config, so a server holding many
 * quiet connections may free it and make a new one when bytes arrive or a
 * message is to be sent (the runtime does so: see park_after_ms in
 * wsv/rt.h).  0 otherwise, and for NULL. */
WSV_EXTERN int wsv_conn_idle(const struct wsv_conn *conn);

/* wsv_conn_trim - give back what a quiet connection holds that the peer
 * does not depend on: the connection's own permessage-deflate compressor
 * (its zlib stream, 15-20 KB at WSV_PMD_ON, about 256 KB at full
 * settings), when no compressed message is part-way out.  The next
 * compressed message starts a new deflate stream that refers to nothing
 * sent before: valid whether or not server_no_context_takeover was
 * agreed (RFC 7692 §7.2.1 lets a compressor use the earlier messages, it
 * never obliges it to); that one message compresses without the history.
 * The decompressor, and the window the peer's context takeover needs,
 * stay.  Returns 1 if something was freed, 0 otherwise (nothing held, a
 * message part-way, the conn failed, or NULL).  The runtime calls it for
 * WSV_PMD_ON connections that stay quiet for park_after_ms (wsv/rt.h). */
WSV_EXTERN int wsv_conn_trim(struct wsv_conn *conn);

/* wsv_conn_state - the protocol state (enum wsv_conn_state), or
 * WSV_ERR_INVAL if conn is NULL. */
WSV_EXTERN int wsv_conn_state(const struct wsv_conn *conn);

#ifdef __cplusplus
}
#endif
#endif /* WSV_CONN_H */
