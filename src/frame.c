/*
 * frame.c - the RFC 6455 §5 frame codec: incremental header parsing,
 * header encoding, masking, and close payloads.
 *
 * The parser takes the header in three stages (first byte, second byte,
 * then extended length and masking key) and checks each stage as soon as
 * its bytes are in, so a bad frame fails at the first byte that breaks a
 * rule.  When nothing is buffered and the whole header is in the input (the
 * common case), it is checked and decoded where it lies instead, with the
 * same checks in the same order (tests/frame_test.c compares both paths on
 * every header at every split).  No payload byte is ever read here.
 */
#include <string.h>

#include "int.h"
#include "frame_int.h"

/* Masking works in 16-byte blocks with SSE2 on x86-64 (always there) and
 * with NEON on little-endian AArch64, and in 8-byte words elsewhere.  On
 * x86-64 with GCC or clang, payloads of FRAME_MASK_AVX2_MIN bytes and up go
 * through 32-byte AVX2 blocks when the CPU has AVX2 (checked per call, or
 * not at all when the build already targets AVX2).  Below that size AVX2
 * gained nothing in measurements; above it, 1.4-2x. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define FRAME_MASK_SSE2 1
#elif defined(__ARM_NEON) && defined(__BYTE_ORDER__) &&                        \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <arm_neon.h>
#define FRAME_MASK_NEON 1
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FRAME_MASK_AVX2 1
#define FRAME_MASK_AVX2_MIN 256
#endif

/* Parser stages: which part of the header the buffered bytes complete. */
enum {
  FRAME_STAGE_BYTE0 = 0, /* waiting for FIN/RSV/opcode */
  FRAME_STAGE_BYTE1 = 1, /* waiting for MASK/7-bit length */
  FRAME_STAGE_EXT = 2,   /* waiting for the 16- or 64-bit length */
  FRAME_STAGE_KEY = 3    /* waiting for the masking key (or done) */
};

/* ---- masking ------------------------------------------------------------- */

unsigned wsv__mask_scalar(uint8_t *p, size_t len, const uint8_t key[4],
                          unsigned phase) {
  size_t i;

  phase &= 3u;
  for (i = 0; i < len; i++)
    p[i] ^= key[(phase + i) & 3u];
  return (unsigned)((phase + len) & 3u);
}

/* frame_key_word - the key rotated to `phase` (0..3): a word whose bytes in
 * memory are key[phase], key[phase+1], ... (mod 4), ready to XOR over 4
 * payload bytes that start at that phase, or to be repeated across a wider
 * word or vector.  Loaded as one word and rotated: memory byte 0 is the low
 * byte of a little-endian word and the high byte of a big-endian one, so
 * the rotation goes right on one and left on the other. */
static uint32_t frame_key_word(const uint8_t key[4], unsigned phase) {
  unsigned s = 8u * phase;
  uint32_t k;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(&k, key, 4);
  return (k >> s) | (k << ((32u - s) & 31u));
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  memcpy(&k, key, 4);
  return (k << s) | (k >> ((32u - s) & 31u));
#else
  uint8_t b[4];

  (void)s;
  b[0] = key[phase];
  b[1] = key[(phase + 1u) & 3u];
  b[2] = key[(phase + 2u) & 3u];
  b[3] = key[(phase + 3u) & 3u];
  memcpy(&k, b, 4);
  return k;
#endif
}

/* frame_mask_blocks - XOR p[i..len) with the key word k (frame_key_word,
 * for the phase at p[i]) in 16-byte blocks: 64 bytes at a time while they
 * last, then 32 and 16 without a loop, since short payloads are the common
 * case (SSE2, NEON; pairs of 8-byte words elsewhere).  Returns the index
 * after the last whole block, fewer than 16 bytes before len.  Touches p
 * only when there is a block to do, so p may be NULL when len - i is 0. */
static inline size_t frame_mask_blocks(uint8_t *p, size_t i, size_t len,
                                       uint32_t k) {
#if defined(FRAME_MASK_SSE2)
  __m128i kv = _mm_set1_epi32((int)k), a, b, c, d;

  for (; len - i >= 64; i += 64) {
    a = _mm_loadu_si128((const __m128i *)(p + i));
    b = _mm_loadu_si128((const __m128i *)(p + i + 16));
    c = _mm_loadu_si128((const __m128i *)(p + i + 32));
    d = _mm_loadu_si128((const __m128i *)(p + i + 48));
    _mm_storeu_si128((__m128i *)(p + i), _mm_xor_si128(a, kv));
    _mm_storeu_si128((__m128i *)(p + i + 16), _mm_xor_si128(b, kv));
    _mm_storeu_si128((__m128i *)(p + i + 32), _mm_xor_si128(c, kv));
    _mm_storeu_si128((__m128i *)(p + i + 48), _mm_xor_si128(d, kv));
  }
  if (len - i >= 32) {
    a = _mm_loadu_si128((const __m128i *)(p + i));
    b = _mm_loadu_si128((const __m128i *)(p + i + 16));
    _mm_storeu_si128((__m128i *)(p + i), _mm_xor_si128(a, kv));
    _mm_storeu_si128((__m128i *)(p + i + 16), _mm_xor_si128(b, kv));
    i += 32;
  }
  if (len - i >= 16) {
    a = _mm_loadu_si128((const __m128i *)(p + i));
    _mm_storeu_si128((__m128i *)(p + i), _mm_xor_si128(a, kv));
    i += 16;
  }
#elif defined(FRAME_MASK_NEON)
  /* Little-endian only (see above), so the bytes of each 32-bit lane are
   * in memory order. */
  uint8x16_t kv = vreinterpretq_u8_u32(vdupq_n_u32(k));

  for (; len - i >= 64; i += 64) {
    vst1q_u8(p + i, veorq_u8(vld1q_u8(p + i), kv));
    vst1q_u8(p + i + 16, veorq_u8(vld1q_u8(p + i + 16), kv));
    vst1q_u8(p + i + 32, veorq_u8(vld1q_u8(p + i + 32), kv));
    vst1q_u8(p + i + 48, veorq_u8(vld1q_u8(p + i + 48), kv));
  }
  if (len - i >= 32) {
    vst1q_u8(p + i, veorq_u8(vld1q_u8(p + i), kv));
    vst1q_u8(p + i + 16, veorq_u8(vld1q_u8(p + i + 16), kv));
    i += 32;
  }
  if (len - i >= 16) {
    vst1q_u8(p + i, veorq_u8(vld1q_u8(p + i), kv));
    i += 16;
  }
#else
  uint64_t k8 = ((uint64_t)k << 32) | k, w0, w1;

  for (; len - i >= 16; i += 16) {
    memcpy(&w0, p + i, 8);
    memcpy(&w1, p + i + 8, 8);
    w0 ^= k8;
    w1 ^= k8;
    memcpy(p + i, &w0, 8);
    memcpy(p + i + 8, &w1, 8);
  }
#endif
  return i;
}

/* frame_mask_tail - XOR the last p[i..len) (fewer than 16 bytes) with the
 * key: an 8-byte word, a 4-byte word, then single bytes.  `phase` is the
 * phase at p[0] and k its key word; i is a multiple of 4, so the phase at
 * p[i] is the same. */
static inline void frame_mask_tail(uint8_t *p, size_t i, size_t len, uint32_t k,
                                   const uint8_t key[4], unsigned phase) {
  uint64_t w8;
  uint32_t w4;

  if (len - i >= 8) {
    memcpy(&w8, p + i, 8);
    w8 ^= ((uint64_t)k << 32) | k;
    memcpy(p + i, &w8, 8);
    i += 8;
  }
  if (len - i >= 4) {
    memcpy(&w4, p + i, 4);
    w4 ^= k;
    memcpy(p + i, &w4, 4);
    i += 4;
  }
  for (; i < len; i++)
    p[i] ^= key[(phase + i) & 3u];
}

#if defined(FRAME_MASK_AVX2)
/* frame_mask_avx2 - wsv__mask_fast on a CPU with AVX2, k being the key word
 * for `phase`: 32-byte blocks, 128 bytes at a time while they last, then
 * at most one 16-byte block and the tail, as wsv__mask_fast does them.
 * Same contract and result as wsv__mask_fast. */
__attribute__((target("avx2"))) static unsigned
frame_mask_avx2(uint8_t *p, size_t len, const uint8_t key[4], unsigned phase,
                uint32_t k) {
  __m256i kv = _mm256_set1_epi32((int)k), a, b, c, d;
  size_t i = 0;

  for (; len - i >= 128; i += 128) {
    a = _mm256_loadu_si256((const __m256i *)(p + i));
    b = _mm256_loadu_si256((const __m256i *)(p + i + 32));
    c = _mm256_loadu_si256((const __m256i *)(p + i + 64));
    d = _mm256_loadu_si256((const __m256i *)(p + i + 96));
    _mm256_storeu_si256((__m256i *)(p + i), _mm256_xor_si256(a, kv));
    _mm256_storeu_si256((__m256i *)(p + i + 32), _mm256_xor_si256(b, kv));
    _mm256_storeu_si256((__m256i *)(p + i + 64), _mm256_xor_si256(c, kv));
    _mm256_storeu_si256((__m256i *)(p + i + 96), _mm256_xor_si256(d, kv));
  }
  for (; len - i >= 32; i += 32) {
    a = _mm256_loadu_si256((const __m256i *)(p + i));
    _mm256_storeu_si256((__m256i *)(p + i), _mm256_xor_si256(a, kv));
  }
  i = frame_mask_blocks(p, i, len, k);
  frame_mask_tail(p, i, len, k, key, phase);
  return (unsigned)((phase + len) & 3u);
}
#endif

unsigned wsv__mask_fast(uint8_t *p, size_t len, const uint8_t key[4],
                        unsigned phase) {
  uint32_t k;
  size_t i;

  phase &= 3u;
  /* Every block and word below is a multiple of 4 bytes long, so the phase
   * is the same at the start of each and one rotated key serves them all. */
  k = frame_key_word(key, phase);
#if defined(FRAME_MASK_AVX2)
  /* A tail call, so that short payloads pay one compare and no stack
   * frame.  __builtin_cpu_supports reads the CPU model that libgcc (or
   * compiler-rt) fills in once at load time: no state of ours. */
#if defined(__AVX2__)
  if (len >= FRAME_MASK_AVX2_MIN)
#else
  if (__builtin_expect(len >= FRAME_MASK_AVX2_MIN, 0) &&
      __builtin_cpu_supports("avx2"))
#endif
    return frame_mask_avx2(p, len, key, phase, k);
#endif
  i = frame_mask_blocks(p, 0, len, k);
  frame_mask_tail(p, i, len, k, key, phase);
  return (unsigned)((phase + len) & 3u);
}

unsigned wsv_frame_mask(uint8_t *p, size_t len, const uint8_t key[4],
                        unsigned phase) {
  return wsv__mask_fast(p, len, key, phase);
}

/* ---- header parsing ------------------------------------------------------ */

static int frame_opcode_valid(int op) {
  return op == WSV_OP_CONT || op == WSV_OP_TEXT || op == WSV_OP_BINARY ||
         op == WSV_OP_CLOSE || op == WSV_OP_PING || op == WSV_OP_PONG;
}

void wsv_frame_parser_init(struct wsv_frame_parser *p, int role,
                           unsigned rsv_allowed, uint64_t max_frame) {
  memset(p, 0, sizeof *p);
  p->_role =
      (uint8_t)(role == WSV_ROLE_CLIENT ? WSV_ROLE_CLIENT : WSV_ROLE_SERVER);
  p->_rsv_allowed = (uint8_t)(rsv_allowed & WSV_RSV_ALL);
  p->_max_frame = max_frame != 0 ? max_frame : WSV_DEFAULT_MAX_FRAME;
  p->_stage = FRAME_STAGE_BYTE0;
  p->_need = 1;
}

/* The number of extended length bytes the second header byte announces. */
static uint8_t frame_ext_len(uint8_t b1) {
  uint8_t len7 = (uint8_t)(b1 & 0x7f);

  if (len7 == 126)
    return 2;
  if (len7 == 127)
    return 8;
  return 0;
}

static uint8_t frame_key_len(uint8_t b1) {
  return (b1 & 0x80) ? 4 : 0;
}

/* Checks on FIN, RSV and the opcode. */
static int frame_check_byte0(const struct wsv_frame_parser *p, uint8_t b0) {
  unsigned rsv = b0 & WSV_RSV_ALL;
  int op = b0 & 0x0f;

  if ((rsv & ~(unsigned)p->_rsv_allowed) != 0)
    return WSV_ERR_PROTOCOL;
  if (!frame_opcode_valid(op))
    return WSV_ERR_PROTOCOL;
  if (WSV_OP_IS_CONTROL(op) && ((b0 & 0x80) == 0 || rsv != 0))
    return WSV_ERR_PROTOCOL;
  return WSV_OK;
}

/* Checks on the MASK bit and the 7-bit length. */
static int frame_check_byte1(const struct wsv_frame_parser *p, uint8_t b0,
                             uint8_t b1) {
  int masked = (b1 & 0x80) != 0;
  uint8_t len7 = (uint8_t)(b1 & 0x7f);

  /* A server receives masked frames only, a client unmasked ones only. */
  if (masked != (p->_role == WSV_ROLE_SERVER))
    return WSV_ERR_PROTOCOL;
  if (WSV_OP_IS_CONTROL(b0 & 0x0f) && len7 > WSV_MAX_CONTROL_PAYLOAD)
    return WSV_ERR_PROTOCOL;
  if (len7 < 126 && len7 > p->_max_frame)
    return WSV_ERR_TOO_BIG;
  return WSV_OK;
}

/* The extended length, big-endian, from the buffered header. */
static uint64_t frame_read_ext(const uint8_t *ext, uint8_t n) {
  uint64_t v = 0;
  uint8_t i;

  for (i = 0; i < n; i++)
    v = (v << 8) | ext[i];
  return v;
}

/* Checks on the 16- or 64-bit length: top bit, minimal form, the limit.
 * The limit is compared with the length alone, never with a sum.  `hdr`
 * holds the header from its first byte, the extended length included. */
static int frame_check_ext(const struct wsv_frame_parser *p,
                           const uint8_t *hdr) {
  uint8_t n = frame_ext_len(hdr[1]);
  uint64_t v = frame_read_ext(hdr + 2, n);

  if (n == 8 && (v >> 63) != 0)
    return WSV_ERR_PROTOCOL;
  if (n == 2 && v < 126)
    return WSV_ERR_PROTOCOL;
  if (n == 8 && v < 65536)
    return WSV_ERR_PROTOCOL;
  if (v > p->_max_frame)
    return WSV_ERR_TOO_BIG;
  return WSV_OK;
}

/* Check the stage the buffered bytes just completed and set up the next.
 * Returns 1 when the header is complete, 0 to go on, or an error. */
static int frame_advance(struct wsv_frame_parser *p) {
  int rc;

  switch (p->_stage) {
  case FRAME_STAGE_BYTE0:
    rc = frame_check_byte0(p, p->_buf[0]);
    p->_stage = FRAME_STAGE_BYTE1;
    p->_need = 2;
    return rc;
  case FRAME_STAGE_BYTE1:
    rc = frame_check_byte1(p, p->_buf[0], p->_buf[1]);
    if (frame_ext_len(p->_buf[1]) != 0) {
      p->_stage = FRAME_STAGE_EXT;
      p->_need = (uint8_t)(2 + frame_ext_len(p->_buf[1]));
    } else {
      p->_stage = FRAME_STAGE_KEY;
      p->_need = (uint8_t)(2 + frame_key_len(p->_buf[1]));
    }
    return rc;
  case FRAME_STAGE_EXT:
    rc = frame_check_ext(p, p->_buf);
    p->_stage = FRAME_STAGE_KEY;
    p->_need = (uint8_t)(p->_need + frame_key_len(p->_buf[1]));
    return rc;
  default:
    return 1;
  }
}

/* Decode the complete, checked header hdr[0..) into *h. */
static void frame_fill(const uint8_t *hdr, struct wsv_frame_header *h) {
  uint8_t b0 = hdr[0], b1 = hdr[1];
  uint8_t ext = frame_ext_len(b1);

  h->fin = (b0 & 0x80) != 0;
  h->rsv = b0 & WSV_RSV_ALL;
  h->opcode = b0 & 0x0f;
  h->masked = (b1 & 0x80) != 0;
  if (ext != 0)
    h->len = frame_read_ext(hdr + 2, ext);
  else
    h->len = (uint64_t)(b1 & 0x7f);
  if (h->masked)
    memcpy(h->mask, hdr + 2 + ext, 4);
  else
    memset(h->mask, 0, 4);
}

/* The fast path: no header bytes are buffered and the whole header is in
 * in[0..len).  Decodes it where it lies, with the same checks in the same
 * order as the staged path (so the same first error), and never reads past
 * the header.  Returns the header length, an error (made sticky), or 0
 * when the header is not all there (the staged path takes over). */
static int frame_parse_whole(struct wsv_frame_parser *p, const uint8_t *in,
                             size_t len, struct wsv_frame_header *h) {
  uint8_t b0, b1, ext;
  size_t hlen;
  int rc;

  if (len < 2)
    return 0;
  b0 = in[0];
  b1 = in[1];
  ext = frame_ext_len(b1);
  hlen = (size_t)2 + ext + frame_key_len(b1);
  if (len < hlen)
    return 0;
  rc = frame_check_byte0(p, b0);
  if (rc == WSV_OK)
    rc = frame_check_byte1(p, b0, b1);
  if (rc == WSV_OK && ext != 0)
    rc = frame_check_ext(p, in);
  if (rc < 0) {
    p->_err = rc;
    return rc;
  }
  frame_fill(in, h);
  return (int)hlen;
}

int wsv_frame_parse(struct wsv_frame_parser *p, const uint8_t *in, size_t len,
                    struct wsv_frame_header *h) {
  size_t used = 0, n;
  int rc;

  if (p == NULL || h == NULL || (in == NULL && len > 0))
    return WSV_ERR_INVAL;
  if (p->_err != 0)
    return p->_err;
  if (p->_have == 0) {
    rc = frame_parse_whole(p, in, len, h);
    if (rc != 0)
      return rc;
  }
  for (;;) {
    if (p->_have < p->_need) {
      n = (size_t)(p->_need - p->_have);
      if (n > len - used)
        n = len - used;
      if (n > 0)
        memcpy(p->_buf + p->_have, in + used, n);
      p->_have = (uint8_t)(p->_have + n);
      used += n;
      if (p->_have < p->_need)
        return WSV_ERR_AGAIN;
    }
    rc = frame_advance(p);
    if (rc < 0) {
      p->_err = rc;
      return rc;
    }
    if (rc == 1)
      break;
  }
  frame_fill(p->_buf, h);
  p->_have = 0;
  p->_need = 1;
  p->_stage = FRAME_STAGE_BYTE0;
  return (int)used;
}

/* ---- header encoding ----------------------------------------------------- */

size_t wsv_frame_header_size(uint64_t len, int masked) {
  size_t n = 2;

  if (len > 0xffff)
    n = 10;
  else if (len >= 126)
    n = 4;
  return masked ? n + 4 : n;
}

static int frame_header_valid(const struct wsv_frame_header *h) {
  if (h->opcode < 0 || h->opcode > 0x0f || !frame_opcode_valid(h->opcode))
    return 0;
  if ((h->rsv & ~WSV_RSV_ALL) != 0 || (h->len >> 63) != 0)
    return 0;
  if (WSV_OP_IS_CONTROL(h->opcode) &&
      (!h->fin || h->rsv != 0 || h->len > WSV_MAX_CONTROL_PAYLOAD))
    return 0;
  return 1;
}

int wsv_frame_header_encode(uint8_t *out, const struct wsv_frame_header *h) {
  unsigned m;
  size_t n = 2;
  int i;

  if (out == NULL || h == NULL || !frame_header_valid(h))
    return WSV_ERR_INVAL;
  m = h->masked ? 0x80u : 0u;
  out[0] = (uint8_t)((h->fin ? 0x80u : 0u) | h->rsv | (unsigned)h->opcode);
  if (h->len < 126) {
    out[1] = (uint8_t)(m | (unsigned)h->len);
  } else if (h->len <= 0xffff) {
    out[1] = (uint8_t)(m | 126u);
    out[2] = (uint8_t)(h->len >> 8);
    out[3] = (uint8_t)h->len;
    n = 4;
  } else {
    out[1] = (uint8_t)(m | 127u);
    for (i = 0; i < 8; i++)
      out[2 + i] = (uint8_t)(h->len >> (56 - 8 * i));
    n = 10;
  }
  if (h->masked) {
    memcpy(out + n, h->mask, 4);
    n += 4;
  }
  return (int)n;
}

/* ---- close payloads ------------------------------------------------------ */

int wsv_close_code_valid(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

int wsv_close_payload_build(uint8_t *out, size_t cap, int code,
                            const void *reason, size_t reason_len) {
  if ((out == NULL && cap > 0) || (reason == NULL && reason_len > 0))
    return WSV_ERR_INVAL;
  if (code == 0)
    return reason_len == 0 ? 0 : WSV_ERR_INVAL;
  if (!wsv_close_code_valid(code) || reason_len > WSV_MAX_CLOSE_REASON)
    return WSV_ERR_INVAL;
  if (wsv_utf8_valid(reason, reason_len) != WSV_OK)
    return WSV_ERR_INVAL;
  if (cap < 2 + reason_len)
    return WSV_ERR_NOBUF;
  out[0] = (uint8_t)((unsigned)code >> 8);
  out[1] = (uint8_t)code;
  if (reason_len > 0)
    memcpy(out + 2, reason, reason_len);
  return (int)(2 + reason_len);
}

int wsv_close_payload_parse(const uint8_t *p, size_t len, int *code,
                            const uint8_t **reason, size_t *reason_len) {
  int c;

  if (code == NULL || reason == NULL || reason_len == NULL ||
      (p == NULL && len > 0))
    return WSV_ERR_INVAL;
  if (len == 0) {
    *code = 1005;
    *reason = p;
    *reason_len = 0;
    return WSV_OK;
  }
  if (len == 1 || len > WSV_MAX_CONTROL_PAYLOAD)
    return WSV_ERR_PROTOCOL;
  c = (p[0] << 8) | p[1];
  if (!wsv_close_code_valid(c))
    return WSV_ERR_PROTOCOL;
  if (wsv_utf8_valid(p + 2, len - 2) != WSV_OK)
    return WSV_ERR_UTF8;
  *code = c;
  *reason = p + 2;
  *reason_len = len - 2;
  return WSV_OK;
}
