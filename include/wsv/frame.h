/*
 * wsv/frame.h - the low-level WebSocket frame codec (RFC 6455 §5): an
 * incremental header parser, a header encoder, masking, and close-frame
 * payloads (§5.5.1, §7.4).
 *
 * Nothing here allocates or keeps global state.  Payload bytes are never
 * copied by the codec: the parser only reads headers (2 to 14 bytes), the
 * encoder only writes headers, and wsv_frame_mask() works in place.  The
 * connection layer (wsv/conn.h) is built on these functions; use them
 * directly only to write your own message layer.
 *
 * Rules the parser enforces while the header arrives, failing at the first
 * byte that breaks one (every failure maps to a close code through
 * wsv_err_close_code()):
 *
 *   RSV1/2/3 set that the caller did not allow            WSV_ERR_PROTOCOL
 *   RSV bits on a control frame (even if allowed)         WSV_ERR_PROTOCOL
 *   opcode 0x3-0x7 or 0xB-0xF                             WSV_ERR_PROTOCOL
 *   control frame with FIN clear or length over 125       WSV_ERR_PROTOCOL
 *   frame to a server not masked, to a client masked      WSV_ERR_PROTOCOL
 *   64-bit length with its top bit set                    WSV_ERR_PROTOCOL
 *   length not in its minimal form (strict, see below)   WSV_ERR_PROTOCOL
 *   length over the configured maximum frame size         WSV_ERR_TOO_BIG
 *
 * Strict length encoding: RFC 6455 §5.2 says "the minimal number of bytes
 * MUST be used to encode the length".  wsv enforces it: a 16-bit length
 * below 126 or a 64-bit length below 65536 fails with WSV_ERR_PROTOCOL
 * (close 1002).  Autobahn does not test this; some lax peers may trip it.
 *
 * The length checks compare the announced 64-bit length with the limit
 * before anything is added to it, so no "header + length" sum can wrap.
 */
#ifndef WSV_FRAME_H
#define WSV_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/common.h"
#include "wsv/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Frame opcodes (§5.2).  Everything else is reserved. */
enum wsv_opcode {
  WSV_OP_CONT = 0x0,
  WSV_OP_TEXT = 0x1,
  WSV_OP_BINARY = 0x2,
  WSV_OP_CLOSE = 0x8,
  WSV_OP_PING = 0x9,
  WSV_OP_PONG = 0xA
};

/* Nonzero for the control opcodes (0x8-0xF, reserved ones included). */
#define WSV_OP_IS_CONTROL(op) (((op)&0x8) != 0)

/* Which end of the connection we are.  Neither is 0, so a zeroed variable
 * is never a valid role. */
enum wsv_role { WSV_ROLE_SERVER = 1, WSV_ROLE_CLIENT = 2 };

/* The reserved bits, as they sit in the first header byte.  A set of
 * allowed bits (negotiated by an extension) is an OR of these. */
#define WSV_RSV1 0x40u
#define WSV_RSV2 0x20u
#define WSV_RSV3 0x10u
#define WSV_RSV_ALL 0x70u

/* Sizes: the longest header (2 + 8 length bytes + 4 mask bytes), the
 * largest control payload, the longest close reason, and the default
 * maximum frame and message size (16 MiB). */
#define WSV_FRAME_MAX_HEADER 14
#define WSV_MAX_CONTROL_PAYLOAD 125
#define WSV_MAX_CLOSE_REASON 123
#define WSV_DEFAULT_MAX_FRAME (UINT64_C(16) << 20)

/* A decoded (or to-be-encoded) frame header. */
struct wsv_frame_header {
  int fin;         /* 1 if FIN is set, else 0 */
  unsigned rsv;    /* the RSV bits, as WSV_RSV1 | WSV_RSV2 | WSV_RSV3 */
  int opcode;      /* enum wsv_opcode */
  int masked;      /* 1 if a masking key follows the length */
  uint8_t mask[4]; /* the masking key (meaningful when masked) */
  uint64_t len;    /* payload length, below 2^63 */
};

/* The incremental header parser: a small caller-owned value (no
 * allocation).  Set it up with wsv_frame_parser_init(); treat the fields as
 * private. */
struct wsv_frame_parser {
  uint64_t _max_frame;
  uint8_t _buf[WSV_FRAME_MAX_HEADER];
  uint8_t _have;  /* header bytes held */
  uint8_t _need;  /* header bytes needed for the current stage */
  uint8_t _stage; /* 0: first byte, 1: second byte, 2: the rest */
  uint8_t _role;
  uint8_t _rsv_allowed;
  int _err; /* sticky error, 0 if none */
};

/* wsv_frame_parser_init - prepare `p` to parse the headers of frames that
 * an endpoint in `role` RECEIVES: a WSV_ROLE_SERVER parser requires masked
 * frames, a WSV_ROLE_CLIENT parser requires unmasked ones.  `rsv_allowed`
 * is the set of RSV bits an extension negotiated (0 for none; bits other
 * than WSV_RSV_ALL are ignored).  `max_frame` is the largest payload length
 * accepted; 0 means WSV_DEFAULT_MAX_FRAME.  An unknown role is treated as
 * WSV_ROLE_SERVER. */
WSV_EXTERN void wsv_frame_parser_init(struct wsv_frame_parser *p, int role,
                                      unsigned rsv_allowed, uint64_t max_frame);

/* wsv_frame_parse - feed header bytes.  Reads from in[0..len) no more
 * bytes than the current header needs (never any payload byte) and never
 * reads outside that range; `in` may be NULL when len is 0.
 * Returns
 *   > 0               the header is complete: *h is filled in and the
 *                     return value is how many bytes of `in` were used for
 *                     it (the payload starts at in + return value).  The
 *                     parser is ready for the next header.
 *   WSV_ERR_AGAIN     all `len` bytes were taken and the header is still
 *                     incomplete; call again with the next bytes.  *h is
 *                     untouched.
 *   WSV_ERR_PROTOCOL  a rule in the table at the top of this file broke
 *                     (close 1002);
 *   WSV_ERR_TOO_BIG   the payload length is over max_frame (close 1009);
 *   WSV_ERR_INVAL     p or h is NULL, or in is NULL with len > 0.
 * Failures are sticky: every later call returns the same error until
 * wsv_frame_parser_init. */
WSV_EXTERN int wsv_frame_parse(struct wsv_frame_parser *p, const uint8_t *in,
                               size_t len, struct wsv_frame_header *h);

/* wsv_frame_header_size - the encoded size of a header for a payload of
 * `len` bytes, masked or not: 2, 4 or 10 bytes, plus 4 if masked. */
WSV_EXTERN size_t wsv_frame_header_size(uint64_t len, int masked);

/* wsv_frame_header_encode - write the header `h` (with h->mask when
 * h->masked) into out[0..WSV_FRAME_MAX_HEADER), always in the minimal
 * length form.  The payload is not touched: mask it with wsv_frame_mask()
 * and send it after the header (e.g. as a second iovec).
 * Returns the header length (2..14), or WSV_ERR_INVAL if out or h is
 * NULL, the opcode is reserved, h->rsv has bits outside WSV_RSV_ALL, a
 * control frame has FIN clear, RSV bits or a length over 125, or the length
 * has its top bit set. */
WSV_EXTERN int wsv_frame_header_encode(uint8_t *out,
                                       const struct wsv_frame_header *h);

/* wsv_frame_mask - XOR p[0..len) in place with the masking key (§5.3),
 * starting at key byte `phase` (0..3; only the low 2 bits are used), and
 * return the phase for the byte after the last one ((phase + len) % 4).
 * Masking and unmasking are the same operation, so a payload that arrives
 * in pieces is unmasked piece by piece by passing the returned phase to the
 * next call.  Works 16 bytes at a time with SSE2 or NEON (32 with AVX2
 * from 256 bytes), 8 elsewhere; `p` needs no alignment and may be
 * NULL when len is 0. */
WSV_EXTERN unsigned wsv_frame_mask(uint8_t *p, size_t len, const uint8_t key[4],
                                   unsigned phase);

/* wsv_close_code_valid - nonzero when `code` may appear in a Close frame
 * on the wire (§7.4): 1000-1003, 1007-1014 and 3000-4999.  Zero for
 * everything else, including 1004 (reserved), 1005 and 1006 (never sent),
 * 1015 (TLS failure, never sent), 1016-2999 (unassigned) and 5000 up. */
WSV_EXTERN int wsv_close_code_valid(int code);

/* wsv_close_payload_build - write a Close frame payload into out[0..cap):
 * the 2-byte `code` in network order followed by `reason_len` bytes of
 * `reason` (not NUL-terminated).  `code` 0 with no reason gives an empty
 * payload (a Close without a status code).  `reason` may be NULL when
 * reason_len is 0.
 * Returns the payload length (0 or 2 + reason_len, at most 125), or
 *   WSV_ERR_INVAL  the code is not valid on the wire (wsv_close_code_valid;
 *                  this refuses 1005, 1006 and 1015), a reason is given
 *                  with code 0, the reason is longer than 123 bytes or is
 *                  not valid UTF-8, or out is NULL with cap > 0;
 *   WSV_ERR_NOBUF  cap is too small (125 bytes is always enough). */
WSV_EXTERN int wsv_close_payload_build(uint8_t *out, size_t cap, int code,
                                       const void *reason, size_t reason_len);

/* wsv_close_payload_parse - check a received Close payload p[0..len).
 * On success *code is the status code (1005 if the payload is empty, as
 * §7.1.5 says to report) and *reason / *reason_len give the reason, a view
 * into p (length 0 if none; *reason is then p + len or NULL).
 * Returns WSV_OK, or
 *   WSV_ERR_PROTOCOL  a 1-byte payload, a payload over 125 bytes, or a code
 *                     not valid on the wire (close 1002);
 *   WSV_ERR_UTF8      the reason is not valid UTF-8 (close 1007);
 *   WSV_ERR_INVAL     code, reason or reason_len is NULL, or p is NULL
 *                     with len > 0.
 * On failure the outputs are untouched. */
WSV_EXTERN int wsv_close_payload_parse(const uint8_t *p, size_t len, int *code,
                                       const uint8_t **reason,
                                       size_t *reason_len);

#ifdef __cplusplus
}
#endif
#endif /* WSV_FRAME_H */
