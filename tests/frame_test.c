/*
 * frame_test.c - the frame codec (src/frame.c): RFC 6455 §5.7 examples,
 * every header rule accepted and rejected, fed whole and in every chunk
 * size with each chunk right before a PROT_NONE page; masking fast path vs
 * its byte-at-a-time twin; close codes and close payloads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "int.h"
#include "frame_int.h"
#include "support/guard.h"

#define S WSV_ROLE_SERVER
#define C WSV_ROLE_CLIENT

/* ---- helpers ------------------------------------------------------------- */

static const uint8_t key0[4] = {0x37, 0xfa, 0x21, 0x3d};

static void assert_hdr_equal(const struct wsv_frame_header *a,
                             const struct wsv_frame_header *b) {
  assert_int_equal(a->fin, b->fin);
  assert_int_equal(a->rsv, b->rsv);
  assert_int_equal(a->opcode, b->opcode);
  assert_int_equal(a->masked, b->masked);
  assert_memory_equal(a->mask, b->mask, 4);
  assert_true(a->len == b->len);
}

/* Feed in[0..len) to a fresh parser in chunks of `chunk` bytes, each chunk
 * copied right before a guard page.  Returns what the parser finally said:
 * the header length on success (then *h is filled), or the error. */
static int parse_chunked(int role, unsigned rsv, uint64_t max,
                         const uint8_t *in, size_t len, size_t chunk,
                         struct wsv_frame_header *h) {
  struct wsv_frame_parser p;
  size_t off = 0, n;
  uint8_t *g;
  int rc = WSV_ERR_AGAIN;

  wsv_frame_parser_init(&p, role, rsv, max);
  while (off < len) {
    n = len - off < chunk ? len - off : chunk;
    g = guard_copy(in + off, n);
    rc = wsv_frame_parse(&p, g, n, h);
    guard_free(g, n);
    if (rc == WSV_ERR_AGAIN) {
      off += n;
      continue;
    }
    if (rc < 0)
      return rc;
    /* The header ended inside this chunk: it must say exactly where. */
    return (int)(off + (size_t)rc);
  }
  return rc;
}

/* Parse whole and in every chunk size; all must agree on `want` and on
 * the header. */
static void parse_all_splits(int role, unsigned rsv, uint64_t max,
                             const uint8_t *in, size_t len, int want,
                             struct wsv_frame_header *out) {
  struct wsv_frame_header h0, h;
  size_t chunk;
  int rc;

  memset(&h0, 0, sizeof h0);
  rc = parse_chunked(role, rsv, max, in, len, len == 0 ? 1 : len, &h0);
  assert_int_equal(rc, want);
  for (chunk = 1; chunk < len; chunk++) {
    memset(&h, 0, sizeof h);
    rc = parse_chunked(role, rsv, max, in, len, chunk, &h);
    assert_int_equal(rc, want);
    if (want > 0)
      assert_hdr_equal(&h, &h0);
  }
  if (out != NULL)
    *out = h0;
}

/* Build a header by hand (independent of the encoder): `form` 0 picks the
 * minimal length form, 7/16/64 forces one. */
static size_t mkhdr(uint8_t *out, unsigned b0, int masked, int form,
                    uint64_t len, const uint8_t key[4]) {
  size_t n = 2;
  int i;

  out[0] = (uint8_t)b0;
  if (form == 0)
    form = len < 126 ? 7 : len <= 0xffff ? 16 : 64;
  if (form == 7) {
    out[1] = (uint8_t)len;
  } else if (form == 16) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    n = 4;
  } else {
    out[1] = 127;
    for (i = 0; i < 8; i++)
      out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    n = 10;
  }
  if (masked) {
    out[1] |= 0x80;
    memcpy(out + n, key, 4);
    n += 4;
  }
  return n;
}

/* ---- fast path vs staged path -------------------------------------------- */

/* Feed in[0..len) as two calls, split after `k` bytes (k == len: one call,
 * which takes the whole-header fast path; k == 1 starts on the staged
 * path).  Returns the final result, as parse_chunked. */
static int parse_split(struct wsv_frame_parser *p, const uint8_t *in,
                       size_t len, size_t k, struct wsv_frame_header *h) {
  int rc = wsv_frame_parse(p, in, k, h);

  if (rc != WSV_ERR_AGAIN)
    return rc;
  rc = wsv_frame_parse(p, in + k, len - k, h);
  return rc > 0 ? (int)k + rc : rc;
}

/* Every first and second header byte, with extended lengths around every
 * limit, for both roles and several RSV/limit settings: the fast path (the
 * whole header in one call) and the staged path (byte by byte, and every
 * two-piece split) give the same result, the same header, the same sticky
 * error, and the fast path never takes a payload byte. */
static void test_fast_path_equals_staged(void **state) {
  static const uint64_t ext16[] = {0, 1, 125, 126, 127, 1000, 0xffff};
  static const uint64_t ext64[] = {0,
                                   125,
                                   126,
                                   0xffff,
                                   0x10000,
                                   0x10001,
                                   UINT64_C(1) << 32,
                                   (UINT64_C(1) << 63) - 1,
                                   UINT64_C(1) << 63,
                                   UINT64_MAX};
  static const struct {
    unsigned rsv;
    uint64_t max;
  } cfgs[] = {{0, 0}, {WSV_RSV1, 100}, {WSV_RSV_ALL, 70000}};
  const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
  struct wsv_frame_parser fast, slow;
  struct wsv_frame_header hf, hs;
  uint8_t buf[WSV_FRAME_MAX_HEADER + 3];
  size_t ci, vi, nv, hlen, len, k;
  unsigned b0, b1;
  int role, rf, rs, i;
  long accepted = 0, rejected = 0;

  (void)state;
  for (role = S; role <= C; role++) {
    for (ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
      for (b0 = 0; b0 < 256; b0++) {
        for (b1 = 0; b1 < 256; b1++) {
          unsigned len7 = b1 & 0x7fu;
          nv = len7 == 126   ? sizeof ext16 / sizeof ext16[0]
               : len7 == 127 ? sizeof ext64 / sizeof ext64[0]
                             : 1;
          for (vi = 0; vi < nv; vi++) {
            buf[0] = (uint8_t)b0;
            buf[1] = (uint8_t)b1;
            hlen = 2;
            if (len7 == 126) {
              buf[2] = (uint8_t)(ext16[vi] >> 8);
              buf[3] = (uint8_t)ext16[vi];
              hlen = 4;
            } else if (len7 == 127) {
              for (i = 0; i < 8; i++)
                buf[2 + i] = (uint8_t)(ext64[vi] >> (56 - 8 * i));
              hlen = 10;
            }
            if (b1 & 0x80u) {
              memcpy(buf + hlen, key, 4);
              hlen += 4;
            }
            /* Three payload bytes follow: never part of the header. */
            memset(buf + hlen, 0xa5, 3);
            len = hlen + 3;
            wsv_frame_parser_init(&fast, role, cfgs[ci].rsv, cfgs[ci].max);
            memset(&hf, 0x5a, sizeof hf);
            rf = wsv_frame_parse(&fast, buf, len, &hf);
            /* Byte by byte: the staged path alone. */
            wsv_frame_parser_init(&slow, role, cfgs[ci].rsv, cfgs[ci].max);
            memset(&hs, 0x5a, sizeof hs);
            rs = WSV_ERR_AGAIN;
            for (k = 0; k < len && rs == WSV_ERR_AGAIN; k++) {
              rs = wsv_frame_parse(&slow, buf + k, 1, &hs);
              if (rs > 0)
                rs = (int)k + rs;
            }
            assert_int_equal(rf, rs);
            if (rf > 0) {
              accepted++;
              assert_int_equal(rf, (int)hlen);
              assert_hdr_equal(&hf, &hs);
              /* Ready for the next header: the same one again. */
              assert_int_equal(wsv_frame_parse(&fast, buf, len, &hf), rf);
              assert_hdr_equal(&hf, &hs);
            } else {
              rejected++;
              assert_true(rf == WSV_ERR_PROTOCOL || rf == WSV_ERR_TOO_BIG);
              assert_int_equal(wsv_frame_parse(&fast, buf, len, &hf), rf);
              assert_int_equal(wsv_frame_parse(&slow, buf, len, &hs), rf);
            }
            /* Every two-piece split. */
            for (k = 1; k < hlen; k++) {
              wsv_frame_parser_init(&slow, role, cfgs[ci].rsv, cfgs[ci].max);
              memset(&hs, 0x5a, sizeof hs);
              rs = parse_split(&slow, buf, len, k, &hs);
              assert_int_equal(rs, rf);
              if (rf > 0)
                assert_hdr_equal(&hs, &hf);
            }
          }
        }
      }
    }
  }
  assert_true(accepted > 0 && rejected > 0);
}

/* The fast path with a header that is only partly in the buffer falls
 * back to the staged path and takes every byte. */
static void test_fast_path_partial(void **state) {
  struct wsv_frame_parser p;
  struct wsv_frame_header h;
  uint8_t buf[WSV_FRAME_MAX_HEADER];
  size_t n = mkhdr(buf, 0x82, 1, 64, 70000, key0), k;

  (void)state;
  for (k = 0; k < n; k++) {
    wsv_frame_parser_init(&p, S, 0, 0);
    assert_int_equal(wsv_frame_parse(&p, buf, k, &h), WSV_ERR_AGAIN);
    assert_int_equal(wsv_frame_parse(&p, buf + k, n - k, &h), (int)(n - k));
    assert_true(h.len == 70000);
    assert_int_equal(h.opcode, WSV_OP_BINARY);
    assert_memory_equal(h.mask, key0, 4);
  }
}

/* ---- RFC 6455 §5.7 examples --------------------------------------------- */

struct rfc_example {
  const char *name;
  int role; /* the receiver */
  uint8_t bytes[16];
  size_t len;
  int fin, opcode, masked;
  const char *payload;
};

static const struct rfc_example rfc_examples[] = {
    {"unmasked Hello",
     C,
     {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
     7,
     1,
     WSV_OP_TEXT,
     0,
     "Hello"},
    {"masked Hello",
     S,
     {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
     11,
     1,
     WSV_OP_TEXT,
     1,
     "Hello"},
    {"fragment 1",
     C,
     {0x01, 0x03, 0x48, 0x65, 0x6c},
     5,
     0,
     WSV_OP_TEXT,
     0,
     "Hel"},
    {"fragment 2", C, {0x80, 0x02, 0x6c, 0x6f}, 4, 1, WSV_OP_CONT, 0, "lo"},
    {"unmasked ping",
     C,
     {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
     7,
     1,
     WSV_OP_PING,
     0,
     "Hello"},
    {"masked pong",
     S,
     {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
     11,
     1,
     WSV_OP_PONG,
     1,
     "Hello"},
};

static void test_rfc_examples_decode(void **state) {
  struct wsv_frame_header h;
  size_t i, plen, hl;
  uint8_t buf[16];

  (void)state;
  for (i = 0; i < sizeof rfc_examples / sizeof rfc_examples[0]; i++) {
    const struct rfc_example *e = &rfc_examples[i];
    plen = strlen(e->payload);
    hl = e->len - plen;
    parse_all_splits(e->role, 0, 0, e->bytes, e->len, (int)hl, &h);
    assert_int_equal(h.fin, e->fin);
    assert_int_equal(h.opcode, e->opcode);
    assert_int_equal(h.masked, e->masked);
    assert_int_equal(h.rsv, 0);
    assert_true(h.len == plen);
    memcpy(buf, e->bytes, e->len);
    if (h.masked) {
      assert_memory_equal(h.mask, key0, 4);
      wsv_frame_mask(buf + hl, plen, h.mask, 0);
    }
    assert_memory_equal(buf + hl, e->payload, plen);
  }
}

static void test_rfc_examples_encode(void **state) {
  struct wsv_frame_header h;
  uint8_t out[32];
  size_t i, plen;
  int n;

  (void)state;
  for (i = 0; i < sizeof rfc_examples / sizeof rfc_examples[0]; i++) {
    const struct rfc_example *e = &rfc_examples[i];
    plen = strlen(e->payload);
    memset(&h, 0, sizeof h);
    h.fin = e->fin;
    h.opcode = e->opcode;
    h.masked = e->masked;
    memcpy(h.mask, key0, 4);
    h.len = plen;
    n = wsv_frame_header_encode(out, &h);
    assert_int_equal(n, (int)(e->len - plen));
    assert_int_equal(wsv_frame_header_size(plen, e->masked), (size_t)n);
    memcpy(out + n, e->payload, plen);
    if (e->masked)
      wsv_frame_mask(out + n, plen, h.mask, 0);
    assert_memory_equal(out, e->bytes, e->len);
  }
}

static void test_rfc_256_and_64k(void **state) {
  static const uint8_t h256[] = {0x82, 0x7e, 0x01, 0x00};
  static const uint8_t h64k[] = {0x82, 0x7f, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x01, 0x00, 0x00};
  struct wsv_frame_header h;
  uint8_t out[WSV_FRAME_MAX_HEADER];

  (void)state;
  memset(&h, 0, sizeof h);
  h.fin = 1;
  h.opcode = WSV_OP_BINARY;
  h.len = 256;
  assert_int_equal(wsv_frame_header_encode(out, &h), 4);
  assert_memory_equal(out, h256, 4);
  h.len = 65536;
  assert_int_equal(wsv_frame_header_encode(out, &h), 10);
  assert_memory_equal(out, h64k, 10);

  parse_all_splits(C, 0, 0, h256, sizeof h256, 4, &h);
  assert_true(h.len == 256 && h.opcode == WSV_OP_BINARY && h.fin);
  parse_all_splits(C, 0, 0, h64k, sizeof h64k, 10, &h);
  assert_true(h.len == 65536 && h.opcode == WSV_OP_BINARY && h.fin);
}

/* ---- lengths (C12) ------------------------------------------------------- */

static void test_lengths_roundtrip(void **state) {
  static const uint64_t lens[] = {
      0,     1,     125,   126,      127,
      65535, 65536, 65537, 1u << 24, (UINT64_C(1) << 63) - 1};
  static const size_t want[] = {2, 2, 2, 4, 4, 4, 10, 10, 10, 10};
  struct wsv_frame_header h, d;
  uint8_t out[WSV_FRAME_MAX_HEADER];
  size_t i;
  int masked, n;

  (void)state;
  for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (masked = 0; masked <= 1; masked++) {
      memset(&h, 0, sizeof h);
      h.fin = 1;
      h.opcode = WSV_OP_BINARY;
      h.masked = masked;
      if (masked)
        memcpy(h.mask, key0, 4);
      h.len = lens[i];
      n = wsv_frame_header_encode(out, &h);
      assert_int_equal(n, (int)(want[i] + (masked ? 4u : 0u)));
      parse_all_splits(masked ? S : C, 0, UINT64_MAX, out, (size_t)n, n, &d);
      assert_hdr_equal(&d, &h);
    }
  }
}

/* ---- rules: accepted and rejected ---------------------------------------- */

static void test_opcodes(void **state) {
  uint8_t b[6];
  int op, want;
  size_t n;

  (void)state;
  for (op = 0; op < 16; op++) {
    n = mkhdr(b, 0x80u | (unsigned)op, 1, 0, 0, key0);
    want = (op <= 2 || (op >= 8 && op <= 10)) ? (int)n : WSV_ERR_PROTOCOL;
    parse_all_splits(S, 0, 0, b, n, want, NULL);
  }
  /* C5/C6 exactly as the catalogue lists them. */
  n = mkhdr(b, 0x83, 1, 0, 0, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  n = mkhdr(b, 0x8f, 1, 0, 0, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
}

static void test_rsv(void **state) {
  static const unsigned bits[] = {WSV_RSV1, WSV_RSV2, WSV_RSV3};
  static const uint8_t c4[] = {0xa2, 0x00}; /* mercurius #939 */
  uint8_t b[6];
  size_t i, n;

  (void)state;
  for (i = 0; i < 3; i++) {
    n = mkhdr(b, 0x80u | bits[i] | WSV_OP_TEXT, 1, 0, 0, key0);
    parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL); /* C3/C4 */
    parse_all_splits(S, bits[i], 0, b, n, (int)n, NULL);
    parse_all_splits(S, WSV_RSV_ALL & ~bits[i], 0, b, n, WSV_ERR_PROTOCOL,
                     NULL);
    /* Never on a control frame, allowed or not (H4). */
    n = mkhdr(b, 0x80u | bits[i] | WSV_OP_PING, 1, 0, 0, key0);
    parse_all_splits(S, WSV_RSV_ALL, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  }
  parse_all_splits(C, 0, 0, c4, 2, WSV_ERR_PROTOCOL, NULL);
  /* RSV on a continuation is a connection rule (conn_test), not a codec
   * one: the codec accepts allowed bits there. */
  n = mkhdr(b, WSV_RSV1, 1, 0, 0, key0);
  parse_all_splits(S, WSV_RSV1, 0, b, n, (int)n, NULL);
}

static void test_mask_bit(void **state) {
  uint8_t b[6];
  size_t n;

  (void)state;
  /* C1: a server refuses an unmasked frame; C2: a client a masked one. */
  n = mkhdr(b, 0x81, 0, 0, 5, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  parse_all_splits(C, 0, 0, b, n, (int)n, NULL);
  n = mkhdr(b, 0x81, 1, 0, 5, key0);
  parse_all_splits(C, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  parse_all_splits(S, 0, 0, b, n, (int)n, NULL);
}

static void test_control_rules(void **state) {
  static const int ops[] = {WSV_OP_CLOSE, WSV_OP_PING, WSV_OP_PONG};
  uint8_t b[16];
  size_t i, n;

  (void)state;
  for (i = 0; i < 3; i++) {
    unsigned op = (unsigned)ops[i];
    /* D4: never fragmented. */
    n = mkhdr(b, op, 1, 0, 0, key0);
    parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
    /* 125 is the most; 126 (F1) fails in the 7-bit byte already. */
    n = mkhdr(b, 0x80u | op, 1, 0, 125, key0);
    parse_all_splits(S, 0, 0, b, n, (int)n, NULL);
    n = mkhdr(b, 0x80u | op, 1, 16, 126, key0);
    parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
    parse_all_splits(S, 0, 0, b, 2, WSV_ERR_PROTOCOL, NULL);
    n = mkhdr(b, 0x80u | op, 1, 64, 70000, key0);
    parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  }
}

static void test_len_msb(void **state) {
  /* C7: 127 form with the top bit set fails with 1002 before the limit or
   * the masking key is looked at. */
  static const uint8_t c7[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01};
  static const uint8_t c7b[] = {0x82, 0x7f, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff};
  (void)state;
  parse_all_splits(S, 0, UINT64_MAX, c7, sizeof c7, WSV_ERR_PROTOCOL, NULL);
  parse_all_splits(C, 0, UINT64_MAX, c7b, sizeof c7b, WSV_ERR_PROTOCOL, NULL);
}

static void test_len_too_big(void **state) {
  uint8_t b[16];
  size_t n;

  (void)state;
  /* C8: 0x7fff_ffff_ffff_fffc with a mask: 1009 at once, no wrap. */
  n = mkhdr(b, 0x82, 1, 0, UINT64_C(0x7ffffffffffffffc), key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_TOO_BIG, NULL);
  /* It fails at the length, before the key: 10 bytes are enough. */
  parse_all_splits(S, 0, 0, b, 10, WSV_ERR_TOO_BIG, NULL);
  /* C9: 1 GiB announced. */
  n = mkhdr(b, 0x82, 1, 0, UINT64_C(1) << 30, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_TOO_BIG, NULL);
  /* The default limit (16 MiB) at its boundary. */
  n = mkhdr(b, 0x82, 1, 0, WSV_DEFAULT_MAX_FRAME, key0);
  parse_all_splits(S, 0, 0, b, n, (int)n, NULL);
  n = mkhdr(b, 0x82, 1, 0, WSV_DEFAULT_MAX_FRAME + 1, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_TOO_BIG, NULL);
  /* Small limits in each length form. */
  n = mkhdr(b, 0x82, 1, 0, 100, key0);
  parse_all_splits(S, 0, 100, b, n, (int)n, NULL);
  parse_all_splits(S, 0, 99, b, n, WSV_ERR_TOO_BIG, NULL);
  parse_all_splits(S, 0, 99, b, 2, WSV_ERR_TOO_BIG, NULL);
  n = mkhdr(b, 0x82, 1, 0, 300, key0);
  parse_all_splits(S, 0, 300, b, n, (int)n, NULL);
  parse_all_splits(S, 0, 299, b, n, WSV_ERR_TOO_BIG, NULL);
  n = mkhdr(b, 0x82, 0, 0, 70000, key0);
  parse_all_splits(C, 0, 70000, b, n, (int)n, NULL);
  parse_all_splits(C, 0, 69999, b, n, WSV_ERR_TOO_BIG, NULL);
}

static void test_nonminimal(void **state) {
  uint8_t b[16];
  size_t n;

  (void)state;
  /* C10 (strict): 126 form for 5 and for 125; 127 form for 200 and for
   * 65535.  The minimal forms at the same boundaries are fine. */
  n = mkhdr(b, 0x82, 1, 16, 5, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  n = mkhdr(b, 0x82, 1, 16, 125, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  n = mkhdr(b, 0x82, 1, 16, 126, key0);
  parse_all_splits(S, 0, 0, b, n, (int)n, NULL);
  n = mkhdr(b, 0x82, 1, 64, 200, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  n = mkhdr(b, 0x82, 1, 64, 65535, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
  n = mkhdr(b, 0x82, 1, 64, 65536, key0);
  parse_all_splits(S, 0, 0, b, n, (int)n, NULL);
  n = mkhdr(b, 0x82, 1, 64, 0, key0);
  parse_all_splits(S, 0, 0, b, n, WSV_ERR_PROTOCOL, NULL);
}

static void test_parser_sticky_and_args(void **state) {
  static const uint8_t bad[] = {0x83, 0x80, 1, 2, 3, 4};
  static const uint8_t good[] = {0x81, 0x80, 1, 2, 3, 4};
  struct wsv_frame_parser p;
  struct wsv_frame_header h;

  (void)state;
  wsv_frame_parser_init(&p, S, 0, 0);
  assert_int_equal(wsv_frame_parse(&p, bad, 1, &h), WSV_ERR_PROTOCOL);
  assert_int_equal(wsv_frame_parse(&p, good, sizeof good, &h),
                   WSV_ERR_PROTOCOL);
  wsv_frame_parser_init(&p, S, 0, 0);
  assert_int_equal(wsv_frame_parse(&p, NULL, 0, &h), WSV_ERR_AGAIN);
  assert_int_equal(wsv_frame_parse(&p, NULL, 1, &h), WSV_ERR_INVAL);
  assert_int_equal(wsv_frame_parse(NULL, good, 1, &h), WSV_ERR_INVAL);
  assert_int_equal(wsv_frame_parse(&p, good, 1, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_frame_parse(&p, good, sizeof good, &h), 6);
}

static void test_back_to_back(void **state) {
  /* C14: a 0-length frame, then the next frame: the parser takes exactly
   * the header and the next byte starts the next header. */
  static const uint8_t two[] = {0x82, 0x00, 0x81, 0x02, 'h', 'i'};
  struct wsv_frame_parser p;
  struct wsv_frame_header h;
  uint8_t *g = guard_copy(two, sizeof two);

  (void)state;
  wsv_frame_parser_init(&p, C, 0, 0);
  assert_int_equal(wsv_frame_parse(&p, g, sizeof two, &h), 2);
  assert_true(h.len == 0 && h.opcode == WSV_OP_BINARY);
  assert_int_equal(wsv_frame_parse(&p, g + 2, sizeof two - 2, &h), 2);
  assert_true(h.len == 2 && h.opcode == WSV_OP_TEXT);
  guard_free(g, sizeof two);
}

static void test_encode_invalid(void **state) {
  struct wsv_frame_header h;
  uint8_t out[WSV_FRAME_MAX_HEADER];

  (void)state;
  memset(&h, 0, sizeof h);
  h.fin = 1;
  h.opcode = 3;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.opcode = 16;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.opcode = -1;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.opcode = WSV_OP_PING;
  h.len = 126;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.len = 125;
  assert_int_equal(wsv_frame_header_encode(out, &h), 2);
  h.fin = 0;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.fin = 1;
  h.rsv = WSV_RSV1;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.opcode = WSV_OP_TEXT;
  assert_int_equal(wsv_frame_header_encode(out, &h), 2);
  assert_int_equal(out[0], 0xc1);
  h.rsv = 0x80;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  h.rsv = 0;
  h.len = UINT64_C(1) << 63;
  assert_int_equal(wsv_frame_header_encode(out, &h), WSV_ERR_INVAL);
  assert_int_equal(wsv_frame_header_encode(NULL, &h), WSV_ERR_INVAL);
  assert_int_equal(wsv_frame_header_encode(out, NULL), WSV_ERR_INVAL);
}

/* ---- masking (C13) ------------------------------------------------------- */

/* Keys for the masking tests: all zero and all ones (every rotation the
 * same), and three with four different bytes, so that a key rotated the
 * wrong way or by the wrong amount shows. */
static const uint8_t mask_keys[][4] = {
    {0x00, 0x00, 0x00, 0x00}, {0xff, 0xff, 0xff, 0xff},
    {0x01, 0x80, 0xfe, 0x5a}, {0x37, 0xfa, 0x21, 0x3d},
    {0x9e, 0x37, 0x79, 0xb9}, /* arbitrary, fixed so a failure repeats */
};
#define MASK_NKEYS (sizeof mask_keys / sizeof mask_keys[0])

/* Bytes around the masked range, checked to stay untouched. */
#define MASK_SLACK 16

/* mask_fill - pseudo-random bytes (xorshift32 from `seed`). */
static void mask_fill(uint8_t *p, size_t n, uint32_t seed) {
  size_t i;

  for (i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    p[i] = (uint8_t)(seed >> 24);
  }
}

/* mask_check - mask src[off..off+len) with wsv__mask_fast and with
 * wsv__mask_scalar in two copies of src[0..n) and check: the same bytes
 * and the same returned phase, (phase + len) % 4; every byte outside the
 * range untouched; and masking the range again with wsv__mask_fast, from
 * the same phase, gives src back.  With `whole`, also each masked byte
 * against the definition (RFC 6455 §5.3). */
static void mask_check(const uint8_t *src, uint8_t *a, uint8_t *b, size_t n,
                       size_t off, size_t len, const uint8_t key[4],
                       unsigned phase, int whole) {
  unsigned pa, pb;
  size_t i;

  memcpy(a, src, n);
  memcpy(b, src, n);
  pa = wsv__mask_fast(a + off, len, key, phase);
  pb = wsv__mask_scalar(b + off, len, key, phase);
  assert_int_equal(pa, pb);
  assert_int_equal(pa, (phase + len) & 3u);
  if (memcmp(a, b, n) != 0) {
    i = 0;
    while (i < n && a[i] == b[i])
      i++;
    print_error("len %zu off %zu phase %u key %02x%02x%02x%02x: "
                "first difference at buffer byte %zu\n",
                len, off, phase, key[0], key[1], key[2], key[3], i);
    fail();
  }
  assert_memory_equal(a, src, off);
  assert_memory_equal(a + off + len, src + off + len, n - off - len);
  if (whole)
    for (i = 0; i < len; i++)
      assert_int_equal(a[off + i],
                       (uint8_t)(src[off + i] ^ key[(phase + i) & 3u]));
  assert_int_equal(wsv__mask_fast(a + off, len, key, phase), pa);
  assert_memory_equal(a, src, n);
}

static void test_mask_twins(void **state) {
  /* The fast path against its byte-at-a-time twin: every length 0..300
   * (all the block and tail combinations, the AVX2 switch-over at 256),
   * at every start alignment 0..15 (the buffers are 64-byte aligned), every
   * phase (0..7: only the low two bits count) and every key.  The range has
   * at least MASK_SLACK bytes of slack on each side. */
  enum { MAXLEN = 300, N = MASK_SLACK + MAXLEN + 2 * MASK_SLACK };
  _Alignas(64) uint8_t a[N];
  _Alignas(64) uint8_t b[N];
  uint8_t src[N];
  size_t off, len, k;
  unsigned phase;

  (void)state;
  mask_fill(src, sizeof src, 0x2545f491u);
  for (k = 0; k < MASK_NKEYS; k++)
    for (len = 0; len <= MAXLEN; len++)
      for (off = MASK_SLACK; off < 2 * MASK_SLACK; off++)
        for (phase = 0; phase < 8; phase++)
          mask_check(src, a, b, off + len + MASK_SLACK, off, len, mask_keys[k],
                     phase, off == MASK_SLACK);
}

static void test_mask_twins_large(void **state) {
  /* The same for long payloads: around a page, past 64 KiB, and 1 MiB with
   * an odd tail (malloc'd buffers: 16-byte aligned, so again every start
   * alignment 0..15). */
  static const size_t lens[] = {4095, 4096, 65537, (1u << 20) + 3};
  size_t n = MASK_SLACK + lens[3] + 2 * MASK_SLACK, off, l, k;
  uint8_t *src = malloc(n), *a = malloc(n), *b = malloc(n);
  unsigned phase;

  (void)state;
  assert_non_null(src);
  assert_non_null(a);
  assert_non_null(b);
  mask_fill(src, n, 0x9e3779b9u);
  for (l = 0; l < sizeof lens / sizeof lens[0]; l++)
    for (k = 0; k < MASK_NKEYS; k++)
      for (off = MASK_SLACK; off < 2 * MASK_SLACK; off++)
        for (phase = 0; phase < 4; phase++)
          mask_check(src, a, b, off + lens[l] + MASK_SLACK, off, lens[l],
                     mask_keys[k], phase, off == MASK_SLACK && phase == 1);
  free(src);
  free(a);
  free(b);
}

static void test_mask_guard(void **state) {
  /* The fast path never reads past the end: each payload ends right at an
   * inaccessible page. */
  uint8_t src[300], want[300], *g;
  size_t len;
  unsigned phase;

  (void)state;
  mask_fill(src, sizeof src, 0x6a09e667u);
  for (len = 0; len <= sizeof src; len++) {
    for (phase = 0; phase < 4; phase++) {
      memcpy(want, src, len);
      wsv__mask_scalar(want, len, key0, phase);
      g = guard_copy(src, len);
      assert_int_equal(wsv__mask_fast(g, len, key0, phase), (phase + len) & 3u);
      assert_memory_equal(g, want, len);
      guard_free(g, len);
    }
  }
}

static void test_mask_chunked(void **state) {
  /* Unmasking a payload in pieces, carrying the phase, equals unmasking it
   * whole, for every split into two pieces and for odd piece sizes (the
   * phase at a boundary is then not a multiple of 4).  Each piece sits
   * right before a guard page. */
  uint8_t clear[100], masked[100], work[100];
  size_t len = sizeof clear, cut, chunk, off, n;
  unsigned ph;
  uint8_t *g;

  (void)state;
  for (off = 0; off < len; off++)
    clear[off] = (uint8_t)(off * 7u + 1u);
  memcpy(masked, clear, len);
  wsv__mask_scalar(masked, len, key0, 0);
  for (cut = 0; cut <= len; cut++) {
    memcpy(work, masked, len);
    ph = wsv_frame_mask(work, cut, key0, 0);
    assert_int_equal(ph, cut & 3u);
    wsv_frame_mask(work + cut, len - cut, key0, ph);
    assert_memory_equal(work, clear, len);
  }
  for (chunk = 1; chunk <= 13; chunk++) {
    memcpy(work, masked, len);
    ph = 0;
    for (off = 0; off < len; off += n) {
      n = len - off < chunk ? len - off : chunk;
      g = guard_copy(work + off, n);
      ph = wsv_frame_mask(g, n, key0, ph);
      memcpy(work + off, g, n);
      guard_free(g, n);
    }
    assert_memory_equal(work, clear, len);
  }
  assert_int_equal(wsv_frame_mask(NULL, 0, key0, 3), 3);
}

/* ---- close codes and payloads (G4-G7, F6) -------------------------------- */

static void test_close_code_valid(void **state) {
  static const int ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                           1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  static const int bad[] = {-1,   0,    999,  1004, 1005, 1006,  1015,
                            1016, 1100, 2000, 2999, 5000, 65535, 65536};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
    assert_true(wsv_close_code_valid(ok[i]));
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(wsv_close_code_valid(bad[i]));
}

static void test_close_build(void **state) {
  uint8_t out[WSV_MAX_CONTROL_PAYLOAD];
  char reason[130];
  static const int refused[] = {0,    999,  1004, 1005,  1006, 1015,
                                1016, 2999, 5000, 65535, -1000};

  (void)state;
  memset(reason, 'r', sizeof reason);
  assert_int_equal(wsv_close_payload_build(out, sizeof out, 1000, "bye", 3), 5);
  assert_memory_equal(out,
                      "\x03\xe8"
                      "bye",
                      5);
  assert_int_equal(wsv_close_payload_build(out, sizeof out, 4999, NULL, 0), 2);
  assert_memory_equal(out, "\x13\x87", 2);
  assert_int_equal(wsv_close_payload_build(out, sizeof out, 0, NULL, 0), 0);
  assert_int_equal(wsv_close_payload_build(NULL, 0, 0, NULL, 0), 0);
  /* Reason at the limit, and one over. */
  assert_int_equal(wsv_close_payload_build(out, sizeof out, 1000, reason, 123),
                   125);
  assert_int_equal(wsv_close_payload_build(out, sizeof out, 1000, reason, 124),
                   WSV_ERR_INVAL);
  /* Codes that must never be sent, a reason without a code, bad UTF-8. */
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_int_equal(
        wsv_close_payload_build(out, sizeof out, refused[i], "x", 1),
        WSV_ERR_INVAL);
  assert_int_equal(
      wsv_close_payload_build(out, sizeof out, 1000, "\xc0\xaf", 2),
      WSV_ERR_INVAL);
  assert_int_equal(
      wsv_close_payload_build(out, sizeof out, 1000, "\xe2\x82", 2),
      WSV_ERR_INVAL);
  assert_int_equal(wsv_close_payload_build(out, 4, 1000, "bye", 3),
                   WSV_ERR_NOBUF);
  assert_int_equal(wsv_close_payload_build(NULL, 4, 1000, "bye", 3),
                   WSV_ERR_INVAL);
  assert_int_equal(wsv_close_payload_build(out, 4, 1000, NULL, 3),
                   WSV_ERR_INVAL);
}

static int close_parse(const void *p, size_t len, int *code) {
  const uint8_t *r;
  size_t rl;
  uint8_t *g = guard_copy(p, len);
  int rc = wsv_close_payload_parse(g, len, code, &r, &rl);

  if (rc == WSV_OK)
    assert_true(rl == (len > 2 ? len - 2 : 0));
  guard_free(g, len);
  return rc;
}

static void test_close_parse(void **state) {
  static const int g4g5[] = {0,    999,  1004, 1005, 1006, 1016,
                             1100, 2000, 2999, 1015, 5000, 65535};
  static const int g6[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                           1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  uint8_t b[130];
  const uint8_t *r;
  size_t rl, i;
  int code = 0;

  (void)state;
  assert_int_equal(close_parse("", 0, &code), WSV_OK);
  assert_int_equal(code, 1005);                                      /* G1 */
  assert_int_equal(close_parse("\x03", 1, &code), WSV_ERR_PROTOCOL); /* G2 */
  memset(b, 'a', sizeof b);
  b[0] = 0x03;
  b[1] = 0xe8;
  assert_int_equal(close_parse(b, 125, &code), WSV_OK);
  assert_int_equal(close_parse(b, 126, &code), WSV_ERR_PROTOCOL); /* G3 */
  for (i = 0; i < sizeof g4g5 / sizeof g4g5[0]; i++) {
    b[0] = (uint8_t)(g4g5[i] >> 8);
    b[1] = (uint8_t)g4g5[i];
    assert_int_equal(close_parse(b, 2, &code), WSV_ERR_PROTOCOL);
  }
  for (i = 0; i < sizeof g6 / sizeof g6[0]; i++) {
    b[0] = (uint8_t)(g6[i] >> 8);
    b[1] = (uint8_t)g6[i];
    assert_int_equal(close_parse(b, 2, &code), WSV_OK);
    assert_int_equal(code, g6[i]);
  }
  /* G7/E8: the reason must be UTF-8, complete. */
  memcpy(b, "\x03\xe8\xce\xba\xe1\xbd\xb9", 7);
  assert_int_equal(close_parse(b, 7, &code), WSV_OK);
  assert_int_equal(close_parse(b, 6, &code), WSV_ERR_UTF8);
  memcpy(b, "\x03\xe8\xed\xa0\x80", 5);
  assert_int_equal(close_parse(b, 5, &code), WSV_ERR_UTF8);
  assert_int_equal(wsv_close_payload_parse(b, 7, NULL, &r, &rl), WSV_ERR_INVAL);
  assert_int_equal(wsv_close_payload_parse(NULL, 2, &code, &r, &rl),
                   WSV_ERR_INVAL);
  /* The reason is a view into the payload. */
  memcpy(b, "\x0b\xb8ok", 4);
  assert_int_equal(wsv_close_payload_parse(b, 4, &code, &r, &rl), WSV_OK);
  assert_int_equal(code, 3000);
  assert_ptr_equal(r, b + 2);
  assert_int_equal(rl, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc_examples_decode),
      cmocka_unit_test(test_rfc_examples_encode),
      cmocka_unit_test(test_rfc_256_and_64k),
      cmocka_unit_test(test_lengths_roundtrip),
      cmocka_unit_test(test_opcodes),
      cmocka_unit_test(test_rsv),
      cmocka_unit_test(test_mask_bit),
      cmocka_unit_test(test_control_rules),
      cmocka_unit_test(test_len_msb),
      cmocka_unit_test(test_len_too_big),
      cmocka_unit_test(test_nonminimal),
      cmocka_unit_test(test_parser_sticky_and_args),
      cmocka_unit_test(test_back_to_back),
      cmocka_unit_test(test_fast_path_equals_staged),
      cmocka_unit_test(test_fast_path_partial),
      cmocka_unit_test(test_encode_invalid),
      cmocka_unit_test(test_mask_twins),
      cmocka_unit_test(test_mask_twins_large),
      cmocka_unit_test(test_mask_guard),
      cmocka_unit_test(test_mask_chunked),
      cmocka_unit_test(test_close_code_valid),
      cmocka_unit_test(test_close_build),
      cmocka_unit_test(test_close_parse),
  };
  /* WSV_TEST_FILTER=test_name (wildcards allowed) runs a subset. */
  if (getenv("WSV_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("WSV_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
