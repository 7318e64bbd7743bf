/*
 * conn.c - the connection state machine above the frame codec: bytes in ->
 * events out (lazily, one event per call), sends -> queued frames -> iovecs
 * out.  See include/wsv/conn.h for the contract.
 *
 * Input is parsed where it lies: headers go through the incremental frame
 * parser, payloads are unmasked in place and handed out as views.  Only
 * three things are ever copied: control payloads split across reads (into
 * a fixed 125-byte buffer), messages in assemble mode that are fragmented or
 * split across reads (into a message buffer), and everything we send (into
 * the output queue).
 *
 * The output queue is a list of blocks.  Frames up to CONN_BLOCK_MAX bytes
 * are packed back to back into shared blocks (each new block twice the size
 * of the last, from CONN_BLOCK_MIN), larger ones get a block of their own,
 * so a burst of small frames becomes a few iovecs.  Each automatic pong
 * lives in a block of its own ("sealed": nothing is appended to it), so
 * the newest one's payload can be replaced by a newer ping's until its
 * first byte is written; pong_unsent counts the sealed blocks not yet
 * started (they go out in order, so the one being started is always the
 * oldest of them).  With keep_spare_block one emptied block is kept for
 * reuse.
 */
#include <string.h>

#include "int.h"

#define CONN_BLOCK_MIN 512
#define CONN_BLOCK_MAX 4096
/* With keep_spare_block, an emptied block up to this size is kept for the
 * next one (one per connection), so a steady echo allocates nothing per
 * message. */
#define CONN_SPARE_MAX 1024
#define CONN_PONG_CAP (6 + WSV_MAX_CONTROL_PAYLOAD)
#define CONN_ASM_MIN 256
/* Most bytes inflated per step (stream mode delivers pieces of this size;
 * assemble mode grows its buffer by at most this much beyond what has
 * arrived). */
#define CONN_Z_CHUNK 16384
/* Zero-copy receive (wsv_conn_recv_space): offered while at least
 * CONN_DIRECT_MIN payload bytes of the frame are due; the message buffer
 * then grows by at most max(what it holds, CONN_DIRECT_STEP) at a time. */
#define CONN_DIRECT_MIN 16384
#define CONN_DIRECT_STEP ((size_t)1 << 20)
/* Committed bytes are unmasked and validated in pieces of this size, so
 * the validator reads what the unmasking just wrote while it is cached. */
#define CONN_DIRECT_PASS 16384
/* Room kept in front of an owned buffer for its frame header (at most 14
 * bytes; 16 keeps the payload aligned). */
#define CONN_OWN_ROOM 16

/* Where a compressed message being received stands (z_stage). */
enum {
  CONN_Z_FRAMES = 0, /* frames still to come (or this one's payload) */
  CONN_Z_TAIL = 1,   /* the last frame is in: 00 00 ff ff is due */
  CONN_Z_LAST = 2    /* the tail was fed (or nothing needs feeding) */
};

/* The tail a sender strips and a receiver appends (RFC 7692 §7.2.1). */
static const uint8_t conn_z_tail[4] = {0x00, 0x00, 0xff, 0xff};
/* The payload of an empty compressed message: an empty stored block
 * without its tail (§7.2.3.6). */
static const uint8_t conn_z_empty[1] = {0x00};

/* One block of the output queue. */
struct conn_block {
  struct conn_block *next;
  size_t len;     /* bytes of data[] in use */
  size_t cap;     /* bytes of data[] allocated */
  int sealed;     /* 1: holds an automatic pong; nothing is appended */
  uint32_t skip;  /* bytes of data[] before the first frame (an owned
                     buffer's unused header room); len counts them */
  uint8_t data[]; /* frames, back to back */
};

/* The block around an owned buffer (wsv_conn_buf_alloc) or a message
 * buffer (asm_buf): the payload starts CONN_OWN_ROOM bytes into data[]. */
static struct conn_block *conn_own_block(void *buf) {
  return (struct conn_block *)(void *)((uint8_t *)buf - CONN_OWN_ROOM -
                                       offsetof(struct conn_block, data));
}

struct wsv_conn {
  struct wsv_mem mem;
  struct wsv_conn_config cfg;
  int role;

  /* The buffer of the latest wsv_conn_recv() and how far it is parsed. */
  uint8_t *in;
  size_t in_len;
  size_t in_off;

  /* The frame being received. */
  struct wsv_frame_parser fp;
  struct wsv_frame_header fh;
  int in_payload;    /* 1 between a header and the end of its payload */
  uint64_t rx_left;  /* payload bytes of fh still due */
  unsigned rx_phase; /* masking key phase for the next payload byte */

  /* The message being received (msg_opcode 0: none). */
  int msg_opcode;
  unsigned msg_rsv;
  uint64_t msg_len;    /* payload bytes received so far */
  uint32_t msg_frames; /* frames so far, the first included */
  int msg_reported;    /* stream mode: an event of it was delivered */
  struct wsv_utf8 rx_utf8;
  uint8_t *asm_buf; /* assemble mode: the message so far */
  size_t asm_len;
  size_t asm_cap;
  int asm_release; /* free asm_buf at the next call (it was delivered) */
  /* Zero-copy receive: what wsv_conn_recv_commit left for the next
   * wsv_conn_next_event (0 nothing, 1 the message is complete, or the
   * error that fails the connection). */
  int direct;
  /* The view of the latest event if it was a whole data message, until
   * the next wsv_conn_next_event/wsv_conn_recv (wsv_conn_take_message). */
  const uint8_t *whole;
  size_t whole_len;
  /* Owned buffers handed out and not yet sent or given back. */
  size_t own_out;

  /* The view of the latest event if it was a whole text message (checked
   * valid UTF-8), until the next wsv_conn_next_event/wsv_conn_recv: a send
   * of exactly these bytes (an echo) need not check them again. */
  const uint8_t *txt_ok;
  size_t txt_ok_len;

  /* A control frame's payload split across reads. */
  uint8_t ctrl[WSV_MAX_CONTROL_PAYLOAD];
  size_t ctrl_len;

  /* The closing handshake. */
  int close_sent;     /* our Close is queued */
  int close_received; /* the peer's Close arrived */
  int failed;         /* failed: no more input, no more sends */
  /* Automatic pongs queued and not started (with the output queue below,
   * kept here where the struct had a hole). */
  unsigned pong_unsent;

  /* permessage-deflate (cfg.pmd): zlib streams, created on first use. */
  struct wsv__z *zin;  /* inflates the peer's messages */
  struct wsv__z *zout; /* deflates ours */
  /* cfg.pmd_inflate_trim: the peer's history while zin is freed between
   * messages (2^bits bytes allocated, z_win_len of them used). */
  uint8_t *z_win;
  size_t z_win_len;
  int msg_z;           /* the message being received is compressed */
  int z_more;          /* call conn_z_pump before reading more frames */
  int z_stage;         /* CONN_Z_* */
  int z_full;          /* the last inflate filled its output */
  int z_ended;         /* the peer's deflate stream ended (BFINAL) */
  int z_chunk_release; /* free z_chunk at the next call */
  const uint8_t *z_in; /* compressed bytes not yet inflated */
  size_t z_in_len;
  uint64_t z_total;   /* inflated bytes of the message so far */
  uint8_t *z_chunk;   /* stream mode: the piece being delivered */
  uint8_t z_spill[1]; /* catches the byte past max_message */

  /* The output queue. */
  struct conn_block *head;
  struct conn_block *tail;
  struct conn_block *pong;  /* the newest automatic pong, if not started */
  struct conn_block *spare; /* an emptied block kept for reuse, or NULL */
  size_t head_off;          /* bytes of head already written */
  size_t out_bytes;         /* bytes queued and not yet written */

  /* A message being sent in fragments (tx_opcode 0: none). */
  int tx_opcode;
  int tx_z; /* it is compressed */
  struct wsv_utf8 tx_utf8;
};

/* What an empty view points at (never written). */
static const uint8_t conn_empty[1] = {0};

/* ---- configuration and lifetime ------------------------------------------ */

void wsv_conn_config_init(struct wsv_conn_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_frame = WSV_DEFAULT_MAX_FRAME;
  cfg->max_message = WSV_CONN_DEFAULT_MAX_MESSAGE;
  cfg->max_fragments = WSV_CONN_DEFAULT_MAX_FRAGMENTS;
  cfg->max_output = WSV_CONN_DEFAULT_MAX_OUTPUT;
  cfg->auto_pong = 1;
  cfg->max_pending_pongs = WSV_CONN_DEFAULT_MAX_PENDING_PONGS;
  cfg->stream = 0;
  cfg->rsv_allowed = 0;
  cfg->pmd.enabled = 0;
  cfg->pmd_min_size = WSV_CONN_DEFAULT_PMD_MIN_SIZE;
  cfg->pmd_shared = NULL;
  cfg->pmd_shared_min = WSV_CONN_DEFAULT_PMD_SHARED_MIN;
  cfg->random = wsv_random_os;
  cfg->random_user = NULL;
}

void wsv_conn_config_pmd(struct wsv_conn_config *cfg, int policy,
                         struct wsv_pmd_shared *shared) {
  if (cfg == NULL)
    return;
  cfg->pmd_shared = NULL;
  cfg->pmd_deflate_bits = 0;
  cfg->pmd_mem_level = 0;
  cfg->pmd_inflate_trim = 0;
  if (policy == WSV_PMD_ON) {
    cfg->pmd_shared = shared;
    cfg->pmd_deflate_bits = WSV_CONN_PMD_ON_DEFLATE_BITS;
    cfg->pmd_mem_level = WSV_CONN_PMD_ON_MEM_LEVEL;
    cfg->pmd_inflate_trim = 1;
  } else if (policy == WSV_PMD_LEAN) {
    cfg->pmd_shared = shared;
  }
}

/* Window bits of a pmd config: 0 means 15; else 8..15. */
static int conn_bits_ok(int b) {
  return b == 0 || (b >= 8 && b <= 15);
}

static int conn_config_valid(const struct wsv_conn_config *cfg) {
  if (cfg->pmd.enabled && (!conn_bits_ok(cfg->pmd.server_max_window_bits) ||
                           !conn_bits_ok(cfg->pmd.client_max_window_bits)))
    return 0;
  if ((cfg->pmd_deflate_bits != 0 &&
       (cfg->pmd_deflate_bits < 9 || cfg->pmd_deflate_bits > 15)) ||
      cfg->pmd_mem_level < 0 || cfg->pmd_mem_level > 9)
    return 0;
  return cfg->max_frame > 0 && cfg->max_message > 0 && cfg->max_fragments > 0 &&
         cfg->max_output > 0 && cfg->max_pending_pongs > 0 &&
         cfg->max_pending_pongs <= WSV_CONN_MAX_PENDING_PONGS_LIMIT &&
         (cfg->rsv_allowed & ~WSV_RSV_ALL) == 0;
}

/* Our side's and the peer's compression parameters. */
static int conn_own_bits(const struct wsv_conn *c) {
  return c->role == WSV_ROLE_SERVER ? c->cfg.pmd.server_max_window_bits
                                    : c->cfg.pmd.client_max_window_bits;
}

/* Our own deflater's window: the agreed one, or the smaller one the
 * config asks for (always valid for the peer). */
static int conn_deflate_bits(const struct wsv_conn *c) {
  int b = conn_own_bits(c);

  return c->cfg.pmd_deflate_bits > 0 && c->cfg.pmd_deflate_bits < b
             ? c->cfg.pmd_deflate_bits
             : b;
}

static int conn_peer_bits(const struct wsv_conn *c) {
  return c->role == WSV_ROLE_SERVER ? c->cfg.pmd.client_max_window_bits
                                    : c->cfg.pmd.server_max_window_bits;
}

static int conn_own_reset(const struct wsv_conn *c) {
  return c->role == WSV_ROLE_SERVER ? c->cfg.pmd.server_no_context_takeover
                                    : c->cfg.pmd.client_no_context_takeover;
}

static int conn_peer_reset(const struct wsv_conn *c) {
  return c->role == WSV_ROLE_SERVER ? c->cfg.pmd.client_no_context_takeover
                                    : c->cfg.pmd.server_no_context_takeover;
}

int wsv_conn_new(struct wsv_conn **out, int role,
                 const struct wsv_conn_config *cfg, const struct wsv_mem *mem) {
  struct wsv_conn_config defaults;
  struct wsv_mem m;
  struct wsv_conn *c;

  if (out == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  if (role != WSV_ROLE_SERVER && role != WSV_ROLE_CLIENT)
    return WSV_ERR_INVAL;
  if (cfg == NULL) {
    wsv_conn_config_init(&defaults);
    cfg = &defaults;
  }
  if (!conn_config_valid(cfg))
    return WSV_ERR_INVAL;
  wsv__mem_init(&m, mem);
  c = wsv__calloc(&m, sizeof *c);
  if (c == NULL)
    return WSV_ERR_NOMEM;
  c->mem = m;
  c->cfg = *cfg;
  if (c->cfg.pmd_shared_min == 0)
    c->cfg.pmd_shared_min = WSV_CONN_DEFAULT_PMD_SHARED_MIN;
  if (c->cfg.random == NULL)
    c->cfg.random = wsv_random_os;
  c->role = role;
  if (c->cfg.pmd.enabled) {
    struct wsv_pmd_params *p = &c->cfg.pmd;
    p->enabled = 1;
    p->server_no_context_takeover = p->server_no_context_takeover != 0;
    p->client_no_context_takeover = p->client_no_context_takeover != 0;
    if (p->server_max_window_bits == 0)
      p->server_max_window_bits = 15;
    if (p->client_max_window_bits == 0)
      p->client_max_window_bits = 15;
    c->cfg.rsv_allowed |= WSV_RSV1;
  } else {
    memset(&c->cfg.pmd, 0, sizeof c->cfg.pmd);
  }
  wsv_frame_parser_init(&c->fp, role, c->cfg.rsv_allowed, cfg->max_frame);
  wsv_utf8_init(&c->rx_utf8);
  wsv_utf8_init(&c->tx_utf8);
  *out = c;
  return WSV_OK;
}

static void conn_asm_free(struct wsv_conn *c) {
  if (c->asm_cap != 0 && c->cfg.msg_reserve != NULL)
    (void)c->cfg.msg_reserve(c->cfg.msg_reserve_user, c->asm_cap, 0);
  if (c->asm_buf != NULL)
    wsv__free(&c->mem, conn_own_block(c->asm_buf));
  c->asm_buf = NULL;
  c->asm_len = 0;
  c->asm_cap = 0;
  c->asm_release = 0;
}

void wsv_conn_free(struct wsv_conn *c) {
  struct conn_block *b, *next;

  if (c == NULL)
    return;
  for (b = c->head; b != NULL; b = next) {
    next = b->next;
    wsv__free(&c->mem, b);
  }
  wsv__free(&c->mem, c->spare);
  conn_asm_free(c);
  wsv__z_free(c->zin);
  wsv__z_free(c->zout);
  wsv__free(&c->mem, c->z_win);
  wsv__free(&c->mem, c->z_chunk);
  wsv__free(&c->mem, c);
}

/* ---- the output queue ---------------------------------------------------- */

static void conn_out_link(struct wsv_conn *c, struct conn_block *b) {
  if (c->tail != NULL)
    c->tail->next = b;
  else
    c->head = b;
  c->tail = b;
}

static struct conn_block *conn_block_new(struct wsv_conn *c, size_t cap,
                                         int sealed) {
  struct conn_block *b;

  if (c->spare != NULL && c->spare->cap >= cap) {
    b = c->spare;
    c->spare = NULL;
  } else {
    if (cap > SIZE_MAX - sizeof *b)
      return NULL;
    b = wsv__malloc(&c->mem, sizeof *b + cap);
    if (b == NULL)
      return NULL;
    b->cap = cap;
  }
  b->next = NULL;
  b->len = 0;
  b->sealed = sealed;
  b->skip = 0;
  return b;
}

/* The capacity of a new shared block: double the last one, within
 * CONN_BLOCK_MIN..CONN_BLOCK_MAX, and at least `need`. */
static size_t conn_block_cap(const struct wsv_conn *c, size_t need) {
  size_t cap = CONN_BLOCK_MIN;

  if (c->tail != NULL && !c->tail->sealed)
    cap =
        c->tail->cap >= CONN_BLOCK_MAX / 2 ? CONN_BLOCK_MAX : c->tail->cap * 2;
  return need > cap ? need : cap;
}

/* The block to write `need` more bytes into at the end of the queue: the
 * tail if they fit, else a new block (linked in, still empty).  NULL when
 * the allocator fails. */
static struct conn_block *conn_out_reserve(struct wsv_conn *c, size_t need) {
  struct conn_block *t = c->tail, *b;

  if (t != NULL && !t->sealed && t->cap - t->len >= need)
    return t;
  b = conn_block_new(c, conn_block_cap(c, need), 0);
  if (b != NULL)
    conn_out_link(c, b);
  return b;
}

/* Fill in a header for a frame we send, with a fresh masking key if we are
 * a client. */
static int conn_make_header(struct wsv_conn *c, struct wsv_frame_header *h,
                            int fin, int opcode, unsigned rsv, size_t len) {
  memset(h, 0, sizeof *h);
  h->fin = fin;
  h->rsv = rsv;
  h->opcode = opcode;
  h->len = (uint64_t)len;
  h->masked = c->role == WSV_ROLE_CLIENT;
  if (h->masked && c->cfg.random(c->cfg.random_user, h->mask, 4) != 0)
    return WSV_ERR_RANDOM;
  return WSV_OK;
}

/* Encode header + payload at dst (masking the payload as the header says);
 * returns the frame's size. */
static size_t conn_write_frame(uint8_t *dst, const struct wsv_frame_header *h,
                               const uint8_t *data, size_t len) {
  size_t hlen = (size_t)wsv_frame_header_encode(dst, h);

  if (len > 0) {
    memcpy(dst + hlen, data, len);
    if (h->masked)
      (void)wsv_frame_mask(dst + hlen, len, h->mask, 0);
  }
  return hlen + len;
}

/* Queue one frame.  `limited`: subject to max_output (WSV_ERR_POLICY).
 * On any error nothing is queued. */
static int conn_put_frame(struct wsv_conn *c, int fin, int opcode, unsigned rsv,
                          const uint8_t *data, size_t len, int limited) {
  struct wsv_frame_header h;
  struct conn_block *b;
  size_t need;
  int rc;

  if (len > SIZE_MAX - WSV_FRAME_MAX_HEADER)
    return limited ? WSV_ERR_POLICY : WSV_ERR_NOMEM;
  need = wsv_frame_header_size((uint64_t)len, c->role == WSV_ROLE_CLIENT) + len;
  if (limited && (c->out_bytes > c->cfg.max_output ||
                  need > c->cfg.max_output - c->out_bytes))
    return WSV_ERR_POLICY;
  rc = conn_make_header(c, &h, fin, opcode, rsv, len);
  if (rc != WSV_OK)
    return rc;
  b = conn_out_reserve(c, need);
  if (b == NULL)
    return WSV_ERR_NOMEM;
  b->len += conn_write_frame(b->data + b->len, &h, data, len);
  c->out_bytes += need;
  return WSV_OK;
}

/* Queue an automatic pong in a block of its own at the end of the queue
 * (after whole frames only, so never inside one), or, once
 * max_pending_pongs of them are unsent, replace the payload of the newest
 * (coalescing).  On failure nothing changes. */
static int conn_queue_pong(struct wsv_conn *c, const uint8_t *data,
                           size_t len) {
  struct wsv_frame_header h;
  struct conn_block *b = c->pong;
  int rc;

  rc = conn_make_header(c, &h, 1, WSV_OP_PONG, 0, len);
  if (rc != WSV_OK)
    return rc;
  if (b == NULL || c->pong_unsent < c->cfg.max_pending_pongs) {
    b = conn_block_new(c, CONN_PONG_CAP, 1);
    if (b == NULL)
      return WSV_ERR_NOMEM;
    conn_out_link(c, b);
    c->pong = b;
    c->pong_unsent++;
  }
  c->out_bytes -= b->len;
  b->len = conn_write_frame(b->data, &h, data, len);
  c->out_bytes += b->len;
  return WSV_OK;
}

/* Queue our Close (code 0: empty payload).  Not subject to max_output. */
static int conn_queue_close(struct wsv_conn *c, int code, const void *reason,
                            size_t reason_len) {
  uint8_t payload[WSV_MAX_CONTROL_PAYLOAD];
  int n, rc;

  n = wsv_close_payload_build(payload, sizeof payload, code, reason,
                              reason_len);
  if (n < 0)
    return n;
  rc = conn_put_frame(c, 1, WSV_OP_CLOSE, 0, payload, (size_t)n, 0);
  if (rc == WSV_OK)
    c->close_sent = 1;
  return rc;
}

int wsv_conn_output(struct wsv_conn *c, struct wsv_iovec *iov, int max) {
  const struct conn_block *b;
  size_t off;
  int i = 0;

  if (c == NULL || max < 0 || (iov == NULL && max > 0))
    return WSV_ERR_INVAL;
  for (b = c->head; b != NULL && i < max; b = b->next) {
    off = b->skip + (b == c->head ? c->head_off : 0);
    iov[i].base = b->data + off;
    iov[i].len = b->len - off;
    i++;
  }
  return i;
}

int wsv_conn_consume_output(struct wsv_conn *c, size_t n) {
  struct conn_block *b;
  size_t rest;

  if (c == NULL || n > c->out_bytes)
    return WSV_ERR_INVAL;
  while (n > 0) {
    b = c->head;
    rest = b->len - b->skip - c->head_off;
    if (b->sealed && c->head_off == 0 && --c->pong_unsent == 0)
      c->pong = NULL; /* the newest pong started: none is replaceable */
    if (n < rest) {
      c->head_off += n;
      c->out_bytes -= n;
      break;
    }
    n -= rest;
    c->out_bytes -= rest;
    c->head = b->next;
    if (c->head == NULL)
      c->tail = NULL;
    c->head_off = 0;
    /* Only a block that can take the next burst is kept (not a pong's
     * small one, which would hold the place of the next shared block). */
    if (c->cfg.keep_spare_block && c->spare == NULL &&
        b->cap >= CONN_BLOCK_MIN && b->cap <= CONN_SPARE_MAX) {
      c->spare = b;
    } else {
      wsv__free(&c->mem, b);
    }
  }
  return WSV_OK;
}

size_t wsv_conn_output_size(const struct wsv_conn *c) {
  return c != NULL ? c->out_bytes : 0;
}

/* The size of the frame our encoder wrote at p (a complete header). */
static size_t conn_frame_size(const uint8_t *p) {
  uint64_t len = p[1] & 0x7f;
  size_t hlen = 2;
  int i;

  if (len == 126) {
    len = (uint64_t)p[2] << 8 | p[3];
    hlen = 4;
  } else if (len == 127) {
    len = 0;
    for (i = 0; i < 8; i++)
      len = len << 8 | p[2 + i];
    hlen = 10;
  }
  if (p[1] & 0x80)
    hlen += 4;
  return hlen + (size_t)len;
}

/* Drop every queued frame not yet started on the wire; returns the bytes
 * dropped.  Frames never span blocks, so the head block is cut at the end
 * of the frame being written (if any) and the blocks after it go. */
static size_t conn_drop_unstarted(struct wsv_conn *c) {
  struct conn_block *keep = NULL, *b, *next;
  size_t before = c->out_bytes, end = 0;

  if (c->head != NULL && c->head_off > 0) {
    keep = c->head;
    end = keep->skip;
    while (end - keep->skip < c->head_off)
      end += conn_frame_size(keep->data + end);
    keep->len = end;
    end -= keep->skip;
  }
  for (b = keep != NULL ? keep->next : c->head; b != NULL; b = next) {
    next = b->next;
    wsv__free(&c->mem, b);
  }
  /* Every automatic pong not yet started went with them. */
  c->pong = NULL;
  c->pong_unsent = 0;
  if (keep != NULL) {
    keep->next = NULL;
    c->head = c->tail = keep;
    c->out_bytes = end - c->head_off;
  } else {
    c->head = c->tail = NULL;
    c->head_off = 0;
    c->out_bytes = 0;
  }
  return before - c->out_bytes;
}

/* ---- failing ------------------------------------------------------------- */

/* Forget a compressed message being received and give the zlib streams
 * back: no more messages will flow on this connection.  With `views` the
 * stream-mode piece buffer may be the latest event's view: it is freed at
 * the next call instead. */
static void conn_z_drop(struct wsv_conn *c, int views) {
  c->msg_z = 0;
  c->z_more = 0;
  c->z_in = NULL;
  c->z_in_len = 0;
  wsv__z_free(c->zin);
  c->zin = NULL;
  wsv__z_free(c->zout);
  c->zout = NULL;
  wsv__free(&c->mem, c->z_win);
  c->z_win = NULL;
  c->z_win_len = 0;
  if (views && c->z_chunk != NULL) {
    c->z_chunk_release = 1;
    return;
  }
  wsv__free(&c->mem, c->z_chunk);
  c->z_chunk = NULL;
  c->z_chunk_release = 0;
}

/* Fail the connection (§7.1.7) from inside wsv_conn_next_event: queue a
 * Close with the error's code unless one was sent, drop the rest of the
 * input and any partial message, and describe it in *ev. */
static int conn_fail(struct wsv_conn *c, int err, struct wsv_event *ev) {
  int code = wsv_err_close_code(err);

  c->failed = 1;
  c->in_off = c->in_len;
  c->in_payload = 0;
  c->msg_opcode = 0;
  c->direct = 0;
  conn_asm_free(c);
  conn_z_drop(c, 0);
  if (!c->close_sent && code != 0)
    (void)conn_queue_close(c, code, NULL, 0);
  ev->type = WSV_EV_ERROR;
  ev->err = err;
  ev->close_code = code;
  return WSV_EV_ERROR;
}

/* A send found the output queue full: the peer is too slow.  Fail with
 * 1008.  Event views stay valid (the message buffer is freed at the next
 * wsv_conn_next_event or wsv_conn_recv). */
static void conn_overflow(struct wsv_conn *c) {
  c->failed = 1;
  c->in_off = c->in_len;
  if (c->asm_buf != NULL)
    c->asm_release = 1;
  if (!c->close_sent)
    (void)conn_queue_close(c, 1008, NULL, 0);
}

int64_t wsv_conn_shed(struct wsv_conn *c, int code) {
  uint8_t payload[WSV_MAX_CONTROL_PAYLOAD];
  size_t dropped;

  if (c == NULL ||
      wsv_close_payload_build(payload, sizeof payload, code, NULL, 0) < 0)
    return WSV_ERR_INVAL;
  dropped = conn_drop_unstarted(c);
  /* Our Close is always the last frame queued: if it was dropped unsent,
   * queue one again (now with `code`). */
  if (c->close_sent && dropped > 0)
    c->close_sent = 0;
  c->tx_opcode = 0;
  c->failed = 1;
  c->in_off = c->in_len;
  c->in_payload = 0;
  c->msg_opcode = 0;
  c->direct = 0;
  if (c->asm_buf != NULL)
    c->asm_release = 1; /* the latest event may be a view of it */
  conn_z_drop(c, 1);
  if (!c->close_sent)
    (void)conn_queue_close(c, code, NULL, 0);
  return (int64_t)dropped;
}

/* ---- receiving: frame starts --------------------------------------------- */

/* The most bytes a message may take on the wire: max_message, and for a
 * compressed message 1/8 more plus 1 KiB (incompressible data grows a
 * little when deflated); its inflated size is held to max_message. */
static uint64_t conn_wire_limit(const struct wsv_conn *c) {
  uint64_t m = c->cfg.max_message, extra = m / 8 + 1024;

  if (!c->msg_z)
    return m;
  return m > UINT64_MAX - extra ? UINT64_MAX : m + extra;
}

/* Message-level checks on a frame header that just arrived. */
static int conn_begin_frame(struct wsv_conn *c) {
  const struct wsv_frame_header *h = &c->fh;

  c->in_payload = 1;
  c->rx_left = h->len;
  c->rx_phase = 0;
  if (WSV_OP_IS_CONTROL(h->opcode)) {
    c->ctrl_len = 0;
    return WSV_OK;
  }
  if (h->opcode == WSV_OP_CONT) {
    if (c->msg_opcode == 0 || h->rsv != 0)
      return WSV_ERR_PROTOCOL;
    if (c->msg_frames >= c->cfg.max_fragments)
      return WSV_ERR_POLICY;
    c->msg_frames++;
  } else {
    if (c->msg_opcode != 0)
      return WSV_ERR_PROTOCOL;
    c->msg_opcode = h->opcode;
    c->msg_rsv = h->rsv;
    c->msg_len = 0;
    c->msg_frames = 1;
    c->msg_reported = 0;
    wsv_utf8_init(&c->rx_utf8);
    c->msg_z = c->cfg.pmd.enabled && (h->rsv & WSV_RSV1) != 0;
    c->z_stage = CONN_Z_FRAMES;
    c->z_total = 0;
    c->z_full = 0;
    c->z_ended = 0;
  }
  /* msg_len <= the limit always holds, so this cannot wrap. */
  if (h->len > conn_wire_limit(c) - c->msg_len)
    return WSV_ERR_TOO_BIG;
  return WSV_OK;
}

/* Take the payload bytes of the current frame that are in the buffer:
 * unmask them in place and advance.  Returns their count; *p points at
 * them (NULL only when there are none). */
static size_t conn_take(struct wsv_conn *c, uint8_t **p) {
  size_t avail = c->in_len - c->in_off;

  if ((uint64_t)avail > c->rx_left)
    avail = (size_t)c->rx_left;
  *p = c->in != NULL ? c->in + c->in_off : NULL;
  if (c->fh.masked)
    c->rx_phase = wsv_frame_mask(*p, avail, c->fh.mask, c->rx_phase);
  c->in_off += avail;
  c->rx_left -= avail;
  if (c->rx_left == 0)
    c->in_payload = 0;
  return avail;
}

/* ---- receiving: data frames ---------------------------------------------- */

static int conn_data_event(struct wsv_conn *c, struct wsv_event *ev,
                           const uint8_t *data, size_t len, int first,
                           int last) {
  ev->type = c->msg_opcode == WSV_OP_TEXT ? WSV_EV_TEXT : WSV_EV_BINARY;
  ev->opcode = c->msg_opcode;
  ev->rsv = c->msg_rsv;
  ev->first = first;
  ev->last = last;
  ev->data = len > 0 ? data : conn_empty;
  ev->len = len;
  if (last)
    c->msg_opcode = 0;
  if (first && last) {
    c->whole = ev->data;
    c->whole_len = len;
  }
  /* Every caller has validated the whole message when it is text and
   * both first and last (conn_data, conn_z_output/conn_z_finish). */
  if (ev->type == WSV_EV_TEXT && first && last && len > 0) {
    c->txt_ok = data;
    c->txt_ok_len = len;
  }
  return ev->type;
}

static int conn_asm_resize(struct wsv_conn *c, size_t cap);

static int conn_asm_grow(struct wsv_conn *c, size_t need) {
  size_t cap = c->asm_cap != 0 ? c->asm_cap : CONN_ASM_MIN;

  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  /* Never beyond the message limit (need itself is within it). */
  if ((uint64_t)cap > c->cfg.max_message)
    cap = (size_t)c->cfg.max_message;
  if (cap < need)
    cap = need;
  return conn_asm_resize(c, cap);
}

/* Make the message buffer `cap` bytes (more than it has). */
static int conn_asm_resize(struct wsv_conn *c, size_t cap) {
  uint8_t *nb;

  /* Ask the shared budget first: nothing is taken if it says no. */
  if (c->cfg.msg_reserve != NULL &&
      c->cfg.msg_reserve(c->cfg.msg_reserve_user, c->asm_cap, cap) != 0)
    return WSV_ERR_BUDGET;
  /* The buffer lives in a block with header room in front, so that
   * wsv_conn_take_message can hand it over to be sent as it is. */
  if (cap > SIZE_MAX - sizeof(struct conn_block) - CONN_OWN_ROOM)
    nb = NULL;
  else if (c->asm_buf == NULL)
    nb = wsv__malloc(&c->mem, sizeof(struct conn_block) + CONN_OWN_ROOM + cap);
  else
    nb = wsv__realloc(&c->mem, conn_own_block(c->asm_buf),
                      sizeof(struct conn_block) + CONN_OWN_ROOM + cap);
  if (nb != NULL)
    nb = ((struct conn_block *)(void *)nb)->data + CONN_OWN_ROOM;
  if (nb == NULL) {
    if (c->cfg.msg_reserve != NULL) /* give the reservation back */
      (void)c->cfg.msg_reserve(c->cfg.msg_reserve_user, cap, c->asm_cap);
    return WSV_ERR_NOMEM;
  }
  c->asm_buf = nb;
  c->asm_cap = cap;
  return WSV_OK;
}

static int conn_asm_append(struct wsv_conn *c, const uint8_t *p, size_t n) {
  int rc;

  if (n == 0)
    return WSV_OK;
  if (n > SIZE_MAX - c->asm_len)
    return WSV_ERR_NOMEM;
  if (n > c->asm_cap - c->asm_len) {
    rc = conn_asm_grow(c, c->asm_len + n);
    if (rc != WSV_OK)
      return rc;
  }
  memcpy(c->asm_buf + c->asm_len, p, n);
  c->asm_len += n;
  return WSV_OK;
}

static int conn_stream_piece(struct wsv_conn *c, const uint8_t *p, size_t n,
                             int done, struct wsv_event *ev) {
  int first;

  if (n == 0 && !done)
    return 0;
  first = !c->msg_reported;
  c->msg_reported = 1;
  return conn_data_event(c, ev, p, n, first, done);
}

static int conn_assemble(struct wsv_conn *c, const uint8_t *p, size_t n,
                         int done, struct wsv_event *ev) {
  int rc;

  /* One frame, all of it in this buffer: a view, no copy. */
  if (done && c->msg_frames == 1 && c->asm_len == 0 && (uint64_t)n == c->fh.len)
    return conn_data_event(c, ev, p, n, 1, 1);
  /* A large frame whose payload will mostly be read straight into the
   * buffer (wsv_conn_recv_space): once 16 KiB of it came in one piece,
   * take the first step now, so that they are not copied again when the
   * buffer grows.  If that is refused, the append below grows as usual. */
  if (c->rx_left >= CONN_DIRECT_MIN && n >= CONN_DIRECT_MIN &&
      n <= SIZE_MAX / 2 - c->asm_len) {
    size_t have = c->asm_len + n;
    size_t step = have > CONN_DIRECT_STEP ? have : CONN_DIRECT_STEP;
    size_t want =
        have + (c->rx_left < (uint64_t)step ? (size_t)c->rx_left : step);
    if (want > c->asm_cap)
      (void)conn_asm_resize(c, want);
  }
  rc = conn_asm_append(c, p, n);
  if (rc != WSV_OK)
    return rc;
  if (!done)
    return 0;
  c->asm_release = 1;
  return conn_data_event(c, ev, c->asm_buf, c->asm_len, 1, 1);
}

/* ---- receiving: compressed messages (RFC 7692 §7.2.2) --------------------
 * The payload of each frame is inflated as it arrives, in steps of at most
 * CONN_Z_CHUNK output bytes; after the last frame the tail 00 00 ff ff is
 * inflated too.  Every step's output is counted against max_message before
 * anything else happens to it (a bomb fails with 1009 after at most
 * max_message + 1 inflated bytes), then validated as UTF-8 for text, then
 * delivered as a piece (stream mode) or appended to the message buffer
 * (assemble mode, inflated straight into it).  z_in points into the
 * caller's buffer, so wsv_conn_next_event never returns WSV_EV_NONE while
 * compressed bytes are pending (z_more). */

/* cfg.pmd_inflate_trim, between messages: keep the inflater's window (the
 * peer may refer back into it) and free the rest of its state. */
static int conn_z_trim(struct wsv_conn *c) {
  int rc;

  if (c->zin == NULL)
    return WSV_OK;
  if (c->z_win == NULL) {
    c->z_win = wsv__malloc(&c->mem, (size_t)1 << wsv__z_bits(c->zin));
    if (c->z_win == NULL)
      return WSV_ERR_NOMEM;
  }
  rc = wsv__z_window(c->zin, c->z_win, &c->z_win_len);
  if (rc != WSV_OK)
    return rc;
  wsv__z_free(c->zin);
  c->zin = NULL;
  return WSV_OK;
}

/* The inflater for the next step: made on first use, and primed with the
 * window kept by conn_z_trim. */
static int conn_z_inflater(struct wsv_conn *c) {
  int rc;

  if (c->zin != NULL)
    return WSV_OK;
  rc = wsv__z_inflater_new(&c->zin, &c->mem, conn_peer_bits(c));
  if (rc == WSV_OK && c->z_win_len > 0) {
    rc = wsv__z_prime(c->zin, c->z_win, c->z_win_len);
    c->z_win_len = 0;
  }
  return rc;
}

/* The message is complete: check it, reset the inflater if the peer does
 * not keep its context, and deliver data[0..len) as its last event. */
static int conn_z_finish(struct wsv_conn *c, struct wsv_event *ev,
                         const uint8_t *data, size_t len) {
  int first = !c->msg_reported;

  if (c->msg_opcode == WSV_OP_TEXT && !wsv_utf8_is_complete(&c->rx_utf8))
    return WSV_ERR_UTF8;
  c->z_more = 0;
  c->z_in = NULL;
  c->z_in_len = 0;
  c->msg_z = 0;
  if (conn_peer_reset(c)) {
    wsv__z_free(c->zin);
    c->zin = NULL;
  } else if (c->cfg.pmd_inflate_trim) {
    int rc = conn_z_trim(c);
    if (rc != WSV_OK)
      return rc;
  }
  if (c->z_chunk != NULL)
    c->z_chunk_release = 1;
  if (c->cfg.stream) {
    c->msg_reported = 1;
    return conn_data_event(c, ev, data, len, first, 1);
  }
  c->asm_release = 1;
  return conn_data_event(c, ev, c->asm_buf, c->asm_len, 1, 1);
}

/* Where the next inflate step writes, and how much. */
static int conn_z_target(struct wsv_conn *c, uint8_t **out, size_t *cap) {
  uint64_t allow = c->cfg.max_message - c->z_total;
  size_t step = allow < CONN_Z_CHUNK ? (size_t)allow : CONN_Z_CHUNK;
  int rc;

  if (step == 0) {
    *out = c->z_spill; /* any byte landing here is one too many */
    *cap = 1;
    return WSV_OK;
  }
  if (c->cfg.stream) {
    if (c->z_chunk == NULL) {
      c->z_chunk = wsv__malloc(&c->mem, CONN_Z_CHUNK);
      if (c->z_chunk == NULL)
        return WSV_ERR_NOMEM;
    }
    c->z_chunk_release = 0;
    *out = c->z_chunk;
    *cap = step;
    return WSV_OK;
  }
  if (c->asm_cap - c->asm_len < step) {
    rc = conn_asm_grow(c, c->asm_len + step);
    if (rc != WSV_OK)
      return rc;
  }
  *out = c->asm_buf + c->asm_len;
  *cap = c->asm_cap - c->asm_len;
  if ((uint64_t)*cap > allow)
    *cap = (size_t)allow;
  return WSV_OK;
}

/* New inflated bytes out[0..n): count, validate, deliver or keep. */
static int conn_z_output(struct wsv_conn *c, struct wsv_event *ev,
                         const uint8_t *out, size_t n) {
  int last;

  if (out == c->z_spill || (uint64_t)n > c->cfg.max_message - c->z_total)
    return WSV_ERR_TOO_BIG;
  c->z_total += n;
  if (c->msg_opcode == WSV_OP_TEXT &&
      wsv_utf8_feed(&c->rx_utf8, out, n, NULL) != WSV_OK)
    return WSV_ERR_UTF8;
  if (!c->cfg.stream) {
    c->asm_len += n;
    return 0;
  }
  last = c->z_stage == CONN_Z_LAST && c->z_in_len == 0 && !c->z_full;
  if (last)
    return conn_z_finish(c, ev, out, n);
  return conn_stream_piece(c, out, n, 0, ev);
}

/* Inflate what is pending.  Returns an event type, 0 when more frame
 * payload is needed, or an error. */
static int conn_z_pump(struct wsv_conn *c, struct wsv_event *ev) {
  uint8_t *out;
  size_t cap, got;
  int rc;

  for (;;) {
    if (c->z_in_len == 0 && !c->z_full) {
      if (c->z_stage == CONN_Z_LAST)
        return conn_z_finish(c, ev, conn_empty, 0);
      if (c->z_stage != CONN_Z_TAIL) {
        c->z_more = 0;
        return 0;
      }
      c->z_stage = CONN_Z_LAST;
      if (c->z_ended)
        continue; /* the stream ended with BFINAL: no tail needed */
      c->z_in = conn_z_tail;
      c->z_in_len = sizeof conn_z_tail;
    }
    if (c->z_ended) { /* bytes after a final block are ignored */
      c->z_in_len = 0;
      c->z_full = 0;
      continue;
    }
    rc = conn_z_inflater(c);
    if (rc != WSV_OK)
      return rc;
    rc = conn_z_target(c, &out, &cap);
    if (rc != WSV_OK)
      return rc;
    rc = wsv__z_inflate(c->zin, &c->z_in, &c->z_in_len, out, cap, &got);
    if (rc < 0)
      return rc;
    c->z_full = got == cap && rc != 1;
    if (rc == 1) {
      c->z_ended = 1;
      c->z_in_len = 0;
      rc = wsv__z_inflate_restart(c->zin, !conn_peer_reset(c));
      if (rc != WSV_OK)
        return rc;
    }
    if (got > 0) {
      rc = conn_z_output(c, ev, out, got);
      if (rc != 0)
        return rc;
    }
  }
}

/* Payload bytes of a frame of a compressed message. */
static int conn_z_data(struct wsv_conn *c, struct wsv_event *ev) {
  uint8_t *p;
  size_t n = conn_take(c, &p);

  c->msg_len += n;
  c->z_in = p;
  c->z_in_len = n;
  if (!c->in_payload && c->fh.fin)
    /* A message with no compressed bytes at all is empty: the inflater
     * is not touched (an empty payload is not a valid deflate block). */
    c->z_stage = c->msg_len == 0 ? CONN_Z_LAST : CONN_Z_TAIL;
  c->z_more = 1;
  return conn_z_pump(c, ev);
}

/* Payload bytes of a data frame.  Returns an event type, 0 for no event,
 * or an error. */
static int conn_data(struct wsv_conn *c, struct wsv_event *ev) {
  uint8_t *p;
  size_t n;

  if (c->msg_z)
    return conn_z_data(c, ev);
  n = conn_take(c, &p);
  int done = !c->in_payload && c->fh.fin;

  c->msg_len += n;
  if (c->msg_opcode == WSV_OP_TEXT) {
    if (wsv_utf8_feed(&c->rx_utf8, p, n, NULL) != WSV_OK)
      return WSV_ERR_UTF8;
    if (done && !wsv_utf8_is_complete(&c->rx_utf8))
      return WSV_ERR_UTF8;
  }
  if (c->cfg.stream)
    return conn_stream_piece(c, p, n, done, ev);
  return conn_assemble(c, p, n, done, ev);
}

/* ---- receiving: control frames ------------------------------------------- */

static int conn_control_event(struct wsv_event *ev, int type, int opcode,
                              const uint8_t *data, size_t len) {
  ev->type = type;
  ev->opcode = opcode;
  ev->data = len > 0 ? data : conn_empty;
  ev->len = len;
  return type;
}

static int conn_on_ping(struct wsv_conn *c, const uint8_t *data, size_t len,
                        struct wsv_event *ev) {
  int rc;

  if (c->cfg.auto_pong && !c->close_sent) {
    rc = conn_queue_pong(c, data, len);
    if (rc != WSV_OK)
      return rc;
  }
  return conn_control_event(ev, WSV_EV_PING, WSV_OP_PING, data, len);
}

static int conn_on_close(struct wsv_conn *c, const uint8_t *data, size_t len,
                         struct wsv_event *ev) {
  const uint8_t *reason;
  size_t reason_len;
  int code, rc;

  rc = wsv_close_payload_parse(data, len, &code, &reason, &reason_len);
  if (rc != WSV_OK)
    return rc;
  c->close_received = 1; /* the rest of the input is discarded */
  c->msg_opcode = 0;
  conn_asm_free(c);
  conn_z_drop(c, 0);
  /* Echo the code (or an empty Close).  If even that cannot be queued,
   * the peer's Close still ends the connection. */
  if (!c->close_sent)
    (void)conn_queue_close(c, len == 0 ? 0 : code, NULL, 0);
  conn_control_event(ev, WSV_EV_CLOSE, WSV_OP_CLOSE, reason, reason_len);
  ev->close_code = code;
  return WSV_EV_CLOSE;
}

/* Payload bytes of a control frame: complete ones are handled from the
 * buffer itself, split ones are gathered in c->ctrl first. */
static int conn_control(struct wsv_conn *c, struct wsv_event *ev) {
  uint8_t *p;
  size_t n = conn_take(c, &p);
  const uint8_t *data = p;

  if (c->in_payload || c->ctrl_len > 0) {
    if (n > 0)
      memcpy(c->ctrl + c->ctrl_len, p, n);
    c->ctrl_len += n;
    if (c->in_payload)
      return 0;
    data = c->ctrl;
    n = c->ctrl_len;
  }
  switch (c->fh.opcode) {
  case WSV_OP_PING:
    return conn_on_ping(c, data, n, ev);
  case WSV_OP_PONG:
    return conn_control_event(ev, WSV_EV_PONG, WSV_OP_PONG, data, n);
  default:
    return conn_on_close(c, data, n, ev);
  }
}

/* ---- receiving: the driver ----------------------------------------------- */

/* Free a message buffer whose event has been superseded. */
static void conn_release(struct wsv_conn *c) {
  c->txt_ok = NULL;
  c->txt_ok_len = 0;
  c->whole = NULL;
  c->whole_len = 0;
  if (c->asm_release)
    conn_asm_free(c);
  if (c->z_chunk_release) {
    wsv__free(&c->mem, c->z_chunk);
    c->z_chunk = NULL;
    c->z_chunk_release = 0;
  }
}

int wsv_conn_recv(struct wsv_conn *c, uint8_t *buf, size_t len) {
  if (c == NULL || (buf == NULL && len > 0))
    return WSV_ERR_INVAL;
  if (c->in_off < c->in_len)
    return WSV_ERR_STATE;
  conn_release(c);
  if (c->failed || c->close_received) {
    c->in = NULL;
    c->in_len = 0;
    c->in_off = 0;
    return WSV_OK;
  }
  c->in = buf;
  c->in_len = len;
  c->in_off = 0;
  return WSV_OK;
}

/* ---- receiving: straight into the message buffer ------------------------
 * While a large uncompressed data frame's payload is due in assemble
 * mode, the caller may read it into the message buffer itself
 * (wsv_conn_recv_space) and hand over what it read (wsv_conn_recv_commit):
 * unmasked and validated there, in one pass per piece, never copied. */

/* 1 when the next input is payload of a data frame that may be read
 * straight into the message buffer. */
static int conn_direct_ok(const struct wsv_conn *c) {
  return c->in_off == c->in_len && c->in_payload && !c->failed &&
         !c->close_received && !c->cfg.stream && !c->msg_z && !c->z_more &&
         c->direct == 0 && !WSV_OP_IS_CONTROL(c->fh.opcode) &&
         c->msg_opcode != 0;
}

int wsv_conn_recv_space(struct wsv_conn *c, uint8_t **p, size_t *n) {
  size_t step, room;

  if (c == NULL || p == NULL || n == NULL)
    return WSV_ERR_INVAL;
  *p = NULL;
  *n = 0;
  if (!conn_direct_ok(c) || c->rx_left < CONN_DIRECT_MIN)
    return 0;
  /* Grow by at most what the buffer holds (doubling) or one step, never
   * by more than the frame still announces: a peer announcing a huge
   * frame and sending little makes us take little. */
  step = c->asm_len > CONN_DIRECT_STEP ? c->asm_len : CONN_DIRECT_STEP;
  room = c->rx_left < (uint64_t)step ? (size_t)c->rx_left : step;
  if (c->asm_cap - c->asm_len < room &&
      conn_asm_resize(c, c->asm_len + room) != WSV_OK &&
      c->asm_cap - c->asm_len < CONN_DIRECT_MIN)
    return 0; /* refused or no memory: the copying path decides */
  room = c->asm_cap - c->asm_len;
  if (room == 0)
    return 0;
  if ((uint64_t)room > c->rx_left)
    room = (size_t)c->rx_left;
  *p = c->asm_buf + c->asm_len;
  *n = room;
  return 1;
}

int wsv_conn_recv_commit(struct wsv_conn *c, size_t got) {
  uint8_t *p;
  size_t done, k;

  if (c == NULL)
    return WSV_ERR_INVAL;
  if (got == 0)
    return WSV_OK;
  if (!conn_direct_ok(c) || (uint64_t)got > c->rx_left ||
      got > c->asm_cap - c->asm_len)
    return WSV_ERR_STATE;
  conn_release(c);
  p = c->asm_buf + c->asm_len;
  for (done = 0; done < got; done += k) {
    k = got - done < CONN_DIRECT_PASS ? got - done : CONN_DIRECT_PASS;
    if (c->fh.masked)
      c->rx_phase = wsv_frame_mask(p + done, k, c->fh.mask, c->rx_phase);
    if (c->msg_opcode == WSV_OP_TEXT &&
        wsv_utf8_feed(&c->rx_utf8, p + done, k, NULL) != WSV_OK) {
      c->direct = WSV_ERR_UTF8; /* nothing of it is delivered */
      return WSV_OK;
    }
  }
  c->asm_len += got;
  c->msg_len += got;
  c->rx_left -= got;
  if (c->rx_left == 0) {
    c->in_payload = 0;
    if (c->fh.fin)
      c->direct =
          c->msg_opcode == WSV_OP_TEXT && !wsv_utf8_is_complete(&c->rx_utf8)
              ? WSV_ERR_UTF8
              : 1;
  }
  return WSV_OK;
}

/* Parse the next frame header from the buffer.  Returns 1 when a frame
 * has begun, 0 when the buffer ran out first, or an error. */
static int conn_header(struct wsv_conn *c) {
  int rc;

  if (c->in_off == c->in_len)
    return 0;
  rc =
      wsv_frame_parse(&c->fp, c->in + c->in_off, c->in_len - c->in_off, &c->fh);
  if (rc == WSV_ERR_AGAIN) {
    c->in_off = c->in_len;
    return 0;
  }
  if (rc < 0)
    return rc;
  c->in_off += (size_t)rc;
  rc = conn_begin_frame(c);
  return rc < 0 ? rc : 1;
}

/* The common case of the loop below, done in place: a server receives a
 * whole, masked, uncompressed text or binary message of at most 125 bytes
 * in one frame that lies complete in the buffer, with no message or
 * header part-way.  Returns the event type, or 0 when it does not apply
 * (nothing consumed, the buffer as it was): the general path then gives
 * the same event, or the error (invalid text is left to it). */
static int conn_fast_frame(struct wsv_conn *c, struct wsv_event *ev) {
  size_t avail = c->in_len - c->in_off, len;
  uint8_t *p;
  unsigned op;

  if (avail < 6)
    return 0;
  p = c->in + c->in_off;
  if (c->role != WSV_ROLE_SERVER || c->msg_opcode != 0 || c->fp._have != 0 ||
      (p[0] != 0x81 && p[0] != 0x82) || (p[1] & 0x80) == 0)
    return 0;
  len = p[1] & 0x7fu;
  if (len > 125 || avail - 6 < len || len > c->cfg.max_frame ||
      len > c->cfg.max_message)
    return 0;
  op = p[0] & 0x0fu;
  (void)wsv_frame_mask(p + 6, len, p + 2, 0);
  if (op == WSV_OP_TEXT && wsv_utf8_valid(p + 6, len) != WSV_OK) {
    (void)wsv_frame_mask(p + 6, len, p + 2, 0); /* as it was */
    return 0;
  }
  c->in_off += 6 + len;
  c->msg_opcode = (int)op;
  c->msg_rsv = 0;
  return conn_data_event(c, ev, p + 6, len, 1, 1);
}

int wsv_conn_next_event(struct wsv_conn *c, struct wsv_event *ev) {
  int rc;

  if (c == NULL || ev == NULL)
    return WSV_ERR_INVAL;
  memset(ev, 0, sizeof *ev);
  ev->data = conn_empty;
  conn_release(c);
  while (!c->failed && !c->close_received) {
    if (c->direct != 0) { /* left by wsv_conn_recv_commit */
      rc = c->direct;
      c->direct = 0;
      if (rc < 0)
        return conn_fail(c, rc, ev);
      c->asm_release = 1;
      return conn_data_event(c, ev, c->asm_buf, c->asm_len, 1, 1);
    }
    if (c->z_more) {
      rc = conn_z_pump(c, ev);
      if (rc < 0)
        return conn_fail(c, rc, ev);
      if (rc > 0)
        return rc;
      continue;
    }
    if (!c->in_payload) {
      rc = conn_fast_frame(c, ev);
      if (rc > 0)
        return rc;
      rc = conn_header(c);
      if (rc < 0)
        return conn_fail(c, rc, ev);
      if (rc == 0)
        break;
    }
    if (c->rx_left > 0 && c->in_off == c->in_len)
      break;
    if (WSV_OP_IS_CONTROL(c->fh.opcode))
      rc = conn_control(c, ev);
    else
      rc = conn_data(c, ev);
    if (rc < 0)
      return conn_fail(c, rc, ev);
    if (rc > 0)
      return rc;
  }
  /* The buffer is used up: hold no pointer into it. */
  c->in = NULL;
  c->in_len = 0;
  c->in_off = 0;
  return WSV_EV_NONE;
}

/* ---- sending ------------------------------------------------------------- */

static int conn_can_send(const struct wsv_conn *c) {
  if (c->failed || c->close_sent || c->close_received)
    return WSV_ERR_CLOSED;
  return WSV_OK;
}

/* Queue a frame that counts against max_output; a full queue fails the
 * connection (slow consumer). */
static int conn_send_limited(struct wsv_conn *c, int fin, int opcode,
                             unsigned rsv, const void *data, size_t len) {
  int rc = conn_put_frame(c, fin, opcode, rsv, data, len, 1);

  if (rc == WSV_ERR_POLICY)
    conn_overflow(c);
  return rc;
}

/* ---- sending: compressed messages (RFC 7692 §7.2.1) ---------------------
 * Each frame's payload is deflated with a sync flush, so every frame can
 * be inflated as soon as it arrives; the message's last frame drops the
 * flush's 00 00 ff ff.  An empty last frame is the single byte 00 (an
 * empty stored block without its tail), which needs no deflater. */

/* Should a message opened with this frame be compressed? */
static int conn_z_wanted(const struct wsv_conn *c, size_t len, int fin) {
  if (!c->cfg.pmd.enabled || conn_own_bits(c) < 9)
    return 0; /* zlib cannot keep to an 8-bit window: send plain */
  return !fin || len >= c->cfg.pmd_min_size;
}

/* Should this whole message go through the shared compressor?  (See
 * pmd_shared in conn.h; `whole`: one call sends all of it.) */
static int conn_z_use_shared(const struct wsv_conn *c, size_t len, int whole) {
  if (!whole || c->cfg.pmd_shared == NULL || conn_own_bits(c) != 15)
    return 0;
  return conn_own_reset(c) || len >= c->cfg.pmd_shared_min;
}

/* Compress data[0..len) (a whole message) with the shared compressor,
 * primed with our stream's history, into *buf (through c->mem); then
 * prime our own deflater with the new history, so that it continues the
 * same stream.  On failure our deflater is dropped by the caller. */
static int conn_z_shared(struct wsv_conn *c, const uint8_t *data, size_t len,
                         uint8_t **buf, size_t *blen, size_t *bcap) {
  int keep = !conn_own_reset(c), bits = conn_deflate_bits(c), rc;
  size_t w = (size_t)1 << bits, hlen = 0;
  uint8_t *hist = NULL;
  struct wsv__z *z;

  if (keep) {
    hist = wsv__malloc(&c->mem, w);
    if (hist == NULL)
      return WSV_ERR_NOMEM;
    if (c->zout != NULL && wsv__z_window(c->zout, hist, &hlen) != WSV_OK)
      hlen = 0;
  }
  rc = wsv__pmd_shared_get(c->cfg.pmd_shared, hist, hlen, &z);
  if (rc == WSV_OK)
    rc = wsv__z_deflate(z, data, len, &c->mem, buf, blen, bcap);
  if (rc == WSV_OK && keep) {
    /* The new history: the old one's tail, then the message. */
    if (len >= w) {
      memcpy(hist, data + len - w, w);
      hlen = w;
    } else {
      size_t old = hlen < w - len ? hlen : w - len;
      memmove(hist, hist + hlen - old, old);
      memcpy(hist + old, data, len);
      hlen = old + len;
    }
    if (c->zout == NULL)
      rc = wsv__z_deflater_new(&c->zout, &c->mem, bits, c->cfg.pmd_mem_level);
    if (rc == WSV_OK)
      rc = wsv__z_prime(c->zout, hist, hlen);
  }
  wsv__free(&c->mem, hist);
  return rc;
}

/* Compress and queue one frame.  On failure nothing is queued and the
 * deflater is dropped: the peer saw the stream up to the last flush, so a
 * fresh one (which refers to nothing older) continues it validly. */
static int conn_z_send(struct wsv_conn *c, int fin, int frame_op,
                       const void *data, size_t len) {
  uint8_t *buf = NULL;
  size_t blen = 0, bcap = 0;
  const uint8_t *payload = NULL;
  unsigned rsv = frame_op == WSV_OP_CONT ? 0 : WSV_RSV1;
  int rc = WSV_OK;

  if (len == 0) {
    if (fin) {
      payload = conn_z_empty;
      blen = sizeof conn_z_empty;
    }
  } else {
    if (conn_z_use_shared(c, len, fin && frame_op != WSV_OP_CONT)) {
      rc = conn_z_shared(c, data, len, &buf, &blen, &bcap);
    } else {
      if (c->zout == NULL)
        rc = wsv__z_deflater_new(&c->zout, &c->mem, conn_deflate_bits(c),
                                 c->cfg.pmd_mem_level);
      if (rc == WSV_OK)
        rc = wsv__z_deflate(c->zout, data, len, &c->mem, &buf, &blen, &bcap);
    }
    if (rc == WSV_OK && fin) {
      if (blen < 4 || memcmp(buf + blen - 4, conn_z_tail, 4) != 0)
        rc = WSV_ERR_NOMEM; /* cannot happen with zlib's sync flush */
      else
        blen -= 4;
    }
    payload = buf;
  }
  if (rc == WSV_OK)
    rc = conn_send_limited(c, fin ? 1 : 0, frame_op, rsv, payload, blen);
  wsv__free(&c->mem, buf);
  if (rc != WSV_OK || (fin && conn_own_reset(c))) {
    wsv__z_free(c->zout);
    c->zout = NULL;
  }
  return rc;
}

int wsv_conn_send_fragment(struct wsv_conn *c, int opcode, const void *data,
                           size_t len, int fin) {
  struct wsv_utf8 u;
  int msg_op, frame_op, rc;

  if (c == NULL || (data == NULL && len > 0))
    return WSV_ERR_INVAL;
  rc = conn_can_send(c);
  if (rc != WSV_OK)
    return rc;
  if (c->tx_opcode == 0) {
    if (opcode != WSV_OP_TEXT && opcode != WSV_OP_BINARY)
      return WSV_ERR_INVAL;
    msg_op = frame_op = opcode;
    wsv_utf8_init(&u);
  } else {
    if (opcode != c->tx_opcode && opcode != WSV_OP_CONT)
      return WSV_ERR_INVAL;
    msg_op = c->tx_opcode;
    frame_op = WSV_OP_CONT;
    u = c->tx_utf8;
  }
  /* Text is checked, unless it is exactly the whole text message the
   * latest event delivered (an echo: checked on receipt, still unchanged
   * under the wsv_conn_recv/wsv_event rules) and the message being sent
   * stands between code points, where valid text keeps it. */
  if (msg_op == WSV_OP_TEXT &&
      !(len > 0 && (const uint8_t *)data == c->txt_ok && len == c->txt_ok_len &&
        wsv_utf8_is_complete(&u)) &&
      (wsv_utf8_feed(&u, data, len, NULL) != WSV_OK ||
       (fin && !wsv_utf8_is_complete(&u))))
    return WSV_ERR_INVAL;
  if (c->tx_opcode == 0 ? conn_z_wanted(c, len, fin) : c->tx_z)
    rc = conn_z_send(c, fin, frame_op, data, len);
  else
    rc = conn_send_limited(c, fin ? 1 : 0, frame_op, 0, data, len);
  if (rc != WSV_OK)
    return rc;
  c->tx_utf8 = u;
  c->tx_z = fin ? 0 : c->tx_opcode == 0 ? conn_z_wanted(c, len, fin) : c->tx_z;
  c->tx_opcode = fin ? 0 : msg_op;
  return WSV_OK;
}

/* The common case of wsv_conn_send, done in place: a server's whole,
 * uncompressed message of at most 125 bytes that fits the tail block and
 * max_output.  Returns 1 if it does not apply (the caller takes the
 * general path, which gives the same bytes and the same errors), else
 * WSV_OK or WSV_ERR_INVAL (text that is not UTF-8; nothing queued). */
static int conn_send_small(struct wsv_conn *c, int opcode, const void *data,
                           size_t len) {
  struct conn_block *t = c->tail;
  uint8_t *p;

  if (len > 125 || c->role != WSV_ROLE_SERVER || c->tx_opcode != 0 ||
      conn_can_send(c) != WSV_OK ||
      (opcode != WSV_OP_TEXT && opcode != WSV_OP_BINARY) ||
      conn_z_wanted(c, len, 1) || t == NULL || t->sealed ||
      t->cap - t->len < len + 2 || c->out_bytes > c->cfg.max_output ||
      len + 2 > c->cfg.max_output - c->out_bytes)
    return 1;
  /* As in wsv_conn_send_fragment: an echo of the latest event's text was
   * checked on receipt. */
  if (opcode == WSV_OP_TEXT &&
      !(len > 0 && (const uint8_t *)data == c->txt_ok &&
        len == c->txt_ok_len) &&
      wsv_utf8_valid(data, len) != WSV_OK)
    return WSV_ERR_INVAL;
  p = t->data + t->len;
  p[0] = (uint8_t)(0x80u | (unsigned)opcode);
  p[1] = (uint8_t)len;
  if (len > 0)
    memcpy(p + 2, data, len);
  t->len += len + 2;
  c->out_bytes += len + 2;
  return WSV_OK;
}

int wsv_conn_send(struct wsv_conn *c, int opcode, const void *data,
                  size_t len) {
  int rc;

  if (c == NULL || (data == NULL && len > 0))
    return WSV_ERR_INVAL;
  rc = conn_send_small(c, opcode, data, len);
  if (rc != 1)
    return rc;
  if (conn_can_send(c) == WSV_OK && c->tx_opcode != 0)
    return WSV_ERR_STATE;
  return wsv_conn_send_fragment(c, opcode, data, len, 1);
}

/* ---- sending: owned buffers ---------------------------------------------
 * An owned buffer is the payload part of an output block, with
 * CONN_OWN_ROOM bytes in front for the frame header: sending it links the
 * block into the queue as it is. */

uint8_t *wsv_conn_buf_alloc(struct wsv_conn *c, size_t len) {
  struct conn_block *b;

  if (c == NULL || len > SIZE_MAX - sizeof *b - CONN_OWN_ROOM)
    return NULL;
  b = wsv__malloc(&c->mem, sizeof *b + CONN_OWN_ROOM + len);
  if (b == NULL)
    return NULL;
  b->next = NULL;
  b->len = 0;
  b->cap = CONN_OWN_ROOM + len;
  b->sealed = 0;
  b->skip = 0;
  c->own_out++;
  return b->data + CONN_OWN_ROOM;
}

void wsv_conn_buf_free(struct wsv_conn *c, uint8_t *buf) {
  if (c == NULL || buf == NULL)
    return;
  if (c->own_out > 0)
    c->own_out--;
  wsv__free(&c->mem, conn_own_block(buf));
}

int wsv_conn_take_message(struct wsv_conn *c, uint8_t **buf, size_t *len) {
  struct conn_block *b;
  uint8_t *p;

  if (c == NULL || buf == NULL || len == NULL)
    return WSV_ERR_INVAL;
  *buf = NULL;
  *len = 0;
  if (c->whole == NULL)
    return WSV_ERR_STATE;
  if (c->asm_release && c->whole == c->asm_buf) {
    /* The message buffer itself: it leaves the receive budget. */
    b = conn_own_block(c->asm_buf);
    b->next = NULL;
    b->len = 0;
    b->cap = CONN_OWN_ROOM + c->asm_cap;
    b->sealed = 0;
    b->skip = 0;
    if (c->cfg.msg_reserve != NULL)
      (void)c->cfg.msg_reserve(c->cfg.msg_reserve_user, c->asm_cap, 0);
    p = c->asm_buf;
    c->asm_buf = NULL;
    c->asm_len = 0;
    c->asm_cap = 0;
    c->asm_release = 0;
    c->own_out++;
  } else {
    /* A view of the receive buffer (or an inflated piece): one copy. */
    p = wsv_conn_buf_alloc(c, c->whole_len);
    if (p == NULL)
      return WSV_ERR_NOMEM;
    if (c->whole_len > 0)
      memcpy(p, c->whole, c->whole_len);
  }
  /* The view stays what it was (same bytes), so an echo of a text message
   * is still known to be valid UTF-8. */
  if (c->txt_ok == c->whole)
    c->txt_ok = p;
  *len = c->whole_len;
  c->whole = NULL;
  c->whole_len = 0;
  *buf = p;
  return WSV_OK;
}

/* wsv_conn_send_buf once buf[0..len) may go: the checks of
 * wsv_conn_send_fragment, then the block is linked in as it is. */
static int conn_send_owned(struct wsv_conn *c, int opcode, uint8_t *buf,
                           size_t len) {
  struct conn_block *b = conn_own_block(buf);
  struct wsv_frame_header h;
  size_t hlen;
  int rc;

  if ((opcode != WSV_OP_TEXT && opcode != WSV_OP_BINARY) ||
      len > b->cap - CONN_OWN_ROOM)
    return WSV_ERR_INVAL;
  rc = conn_can_send(c);
  if (rc != WSV_OK)
    return rc;
  if (c->tx_opcode != 0)
    return WSV_ERR_STATE;
  if (opcode == WSV_OP_TEXT &&
      !(len > 0 && buf == c->txt_ok && len == c->txt_ok_len) &&
      wsv_utf8_valid(buf, len) != WSV_OK)
    return WSV_ERR_INVAL;
  if (conn_z_wanted(c, len, 1))
    return conn_z_send(c, 1, opcode, buf, len); /* compressed: a copy */
  hlen = wsv_frame_header_size((uint64_t)len, c->role == WSV_ROLE_CLIENT);
  if (c->out_bytes > c->cfg.max_output ||
      hlen + len > c->cfg.max_output - c->out_bytes) {
    conn_overflow(c);
    return WSV_ERR_POLICY;
  }
  rc = conn_make_header(c, &h, 1, opcode, 0, len);
  if (rc != WSV_OK)
    return rc;
  /* A client masks the buffer in place: it is ours now. */
  if (h.masked)
    (void)wsv_frame_mask(buf, len, h.mask, 0);
  b->skip = (uint32_t)(CONN_OWN_ROOM - hlen);
  (void)wsv_frame_header_encode(b->data + b->skip, &h);
  b->len = CONN_OWN_ROOM + len;
  b->next = NULL;
  b->sealed = 0;
  conn_out_link(c, b);
  c->out_bytes += hlen + len;
  return 1; /* the queue has the block */
}

int wsv_conn_send_buf(struct wsv_conn *c, int opcode, uint8_t *buf,
                      size_t len) {
  int rc;

  if (c == NULL || buf == NULL)
    return WSV_ERR_INVAL;
  rc = conn_send_owned(c, opcode, buf, len);
  if (rc == 1) {
    if (c->own_out > 0)
      c->own_out--;
    return WSV_OK;
  }
  wsv_conn_buf_free(c, buf);
  return rc;
}

static int conn_send_control(struct wsv_conn *c, int opcode, const void *data,
                             size_t len) {
  int rc;

  if (c == NULL || (data == NULL && len > 0) || len > WSV_MAX_CONTROL_PAYLOAD)
    return WSV_ERR_INVAL;
  rc = conn_can_send(c);
  if (rc != WSV_OK)
    return rc;
  return conn_send_limited(c, 1, opcode, 0, data, len);
}

int wsv_conn_ping(struct wsv_conn *c, const void *data, size_t len) {
  return conn_send_control(c, WSV_OP_PING, data, len);
}

int wsv_conn_pong(struct wsv_conn *c, const void *data, size_t len) {
  return conn_send_control(c, WSV_OP_PONG, data, len);
}

int wsv_conn_close(struct wsv_conn *c, int code, const void *reason,
                   size_t reason_len) {
  uint8_t payload[WSV_MAX_CONTROL_PAYLOAD];
  int n, rc;

  if (c == NULL)
    return WSV_ERR_INVAL;
  n = wsv_close_payload_build(payload, sizeof payload, code, reason,
                              reason_len);
  if (n < 0)
    return n;
  rc = conn_can_send(c);
  if (rc != WSV_OK)
    return rc;
  return conn_queue_close(c, code, reason, reason_len);
}

/* ---- state --------------------------------------------------------------- */

int wsv_conn_state(const struct wsv_conn *c) {
  if (c == NULL)
    return WSV_ERR_INVAL;
  if (c->failed)
    return WSV_CONN_FAILED;
  if (c->close_received)
    return WSV_CONN_CLOSED;
  if (c->close_sent)
    return WSV_CONN_CLOSING;
  return WSV_CONN_OPEN;
}

int wsv_conn_idle(const struct wsv_conn *c) {
  if (c == NULL)
    return 0;
  /* Input: everything parsed, between frames, no partial header. */
  if (c->in_off != c->in_len || c->in_payload || c->fp._have != 0 ||
      c->fp._err != 0 || c->msg_opcode != 0 || c->z_more)
    return 0;
  /* Output and the closing handshake. */
  if (c->head != NULL || c->tx_opcode != 0 || c->close_sent ||
      c->close_received || c->failed)
    return 0;
  /* Memory: nothing held (a delivered buffer not yet released counts). */
  return c->asm_buf == NULL && c->z_chunk == NULL && c->zin == NULL &&
         c->zout == NULL && c->z_win == NULL && c->own_out == 0;
}

int wsv_conn_trim(struct wsv_conn *c) {
  /* A fresh deflater refers to nothing older, so its stream continues the
   * peer's view validly (as after a failed send, conn_z_send). */
  if (c == NULL || c->zout == NULL || c->tx_opcode != 0 || c->failed)
    return 0;
  wsv__z_free(c->zout);
  c->zout = NULL;
  return 1;
}

int wsv_conn_want_read(const struct wsv_conn *c) {
  return c != NULL && !c->failed && !c->close_received;
}

int wsv_conn_want_write(const struct wsv_conn *c) {
  return c != NULL && c->out_bytes > 0;
}

int wsv_conn_want_close_socket(const struct wsv_conn *c) {
  if (c == NULL || c->out_bytes > 0)
    return 0;
  if (c->failed)
    return 1;
  return c->role == WSV_ROLE_SERVER && c->close_received;
}
