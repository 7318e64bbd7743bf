/*
 * utf8.c - incremental UTF-8 validation (RFC 3629) for text messages and
 * close reasons.
 *
 * The validator is a deterministic automaton over byte classes.  Each state
 * says how many continuation bytes are still due and, right after the four
 * lead bytes with a restricted second byte (E0, ED, F0, F4), which range the
 * next byte must fall in.  Those restrictions are what reject overlong
 * forms, surrogates and code points above U+10FFFF at the first byte that
 * makes the sequence impossible, rather than at its end.
 */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "int.h"
#include "utf8_int.h"

/* Automaton states (the value kept in wsv_utf8._state). */
enum {
  UTF8_ACCEPT = 0, /* between code points */
  UTF8_NEED1 = 1,  /* one more 80..BF */
  UTF8_NEED2 = 2,  /* two more 80..BF */
  UTF8_NEED3 = 3,  /* three more 80..BF */
  UTF8_E0 = 4,     /* after E0: A0..BF (not overlong), then one more */
  UTF8_ED = 5,     /* after ED: 80..9F (not a surrogate), then one more */
  UTF8_F0 = 6,     /* after F0: 90..BF (not overlong), then two more */
  UTF8_F4 = 7,     /* after F4: 80..8F (not above U+10FFFF), then two more */
  UTF8_REJECT = 8  /* failed; sticky until wsv_utf8_init */
};

/* Byte classes: the automaton only needs to tell these ranges apart. */
enum {
  UTF8_C_ASCII = 0, /* 00..7F */
  UTF8_C_80_8F = 1, /* continuation, low */
  UTF8_C_90_9F = 2, /* continuation, middle */
  UTF8_C_A0_BF = 3, /* continuation, high */
  UTF8_C_BAD = 4,   /* C0, C1, F5..FF: never valid */
  UTF8_C_LEAD2 = 5, /* C2..DF */
  UTF8_C_E0 = 6,
  UTF8_C_LEAD3 = 7, /* E1..EC, EE, EF */
  UTF8_C_ED = 8,
  UTF8_C_F0 = 9,
  UTF8_C_LEAD4 = 10, /* F1..F3 */
  UTF8_C_F4 = 11,
  UTF8_NCLASSES = 12
};

#define R UTF8_REJECT

/* utf8_next[state][class] is the state after reading a byte of that class. */
static const uint8_t utf8_next[9][UTF8_NCLASSES] = {
    /*          ASCII 80-8F 90-9F A0-BF bad  C2-DF E0 E1-EF ED F0 F1-F3 F4 */
    /* ACCEPT */ {0, R, R, R, R, 1, 4, 2, 5, 6, 3, 7},
    /* NEED1  */ {R, 0, 0, 0, R, R, R, R, R, R, R, R},
    /* NEED2  */ {R, 1, 1, 1, R, R, R, R, R, R, R, R},
    /* NEED3  */ {R, 2, 2, 2, R, R, R, R, R, R, R, R},
    /* E0     */ {R, R, R, 1, R, R, R, R, R, R, R, R},
    /* ED     */ {R, 1, 1, R, R, R, R, R, R, R, R, R},
    /* F0     */ {R, R, 2, 2, R, R, R, R, R, R, R, R},
    /* F4     */ {R, 2, R, R, R, R, R, R, R, R, R, R},
    /* REJECT */ {R, R, R, R, R, R, R, R, R, R, R, R},
};

#undef R

static unsigned utf8_class(uint8_t b) {
  if (b < 0x80)
    return UTF8_C_ASCII;
  if (b < 0x90)
    return UTF8_C_80_8F;
  if (b < 0xa0)
    return UTF8_C_90_9F;
  if (b < 0xc0)
    return UTF8_C_A0_BF;
  if (b < 0xc2)
    return UTF8_C_BAD;
  if (b < 0xe0)
    return UTF8_C_LEAD2;
  if (b == 0xe0)
    return UTF8_C_E0;
  if (b == 0xed)
    return UTF8_C_ED;
  if (b < 0xf0)
    return UTF8_C_LEAD3;
  if (b == 0xf0)
    return UTF8_C_F0;
  if (b < 0xf4)
    return UTF8_C_LEAD4;
  if (b == 0xf4)
    return UTF8_C_F4;
  return UTF8_C_BAD;
}

size_t wsv__utf8_ascii_span_scalar(const uint8_t *p, size_t len) {
  size_t i = 0;
  uint64_t w;

  /* Eight bytes at a time: any byte with its top bit set ends the run.  On a
   * hit, the byte loop below finds it within those eight bytes. */
  while (len - i >= 8) {
    memcpy(&w, p + i, 8);
    if ((w & UINT64_C(0x8080808080808080)) != 0)
      break;
    i += 8;
  }
  while (i < len && p[i] < 0x80)
    i++;
  return i;
}

#ifdef __SSE2__
size_t wsv__utf8_ascii_span(const uint8_t *p, size_t len) {
  size_t i = 0;
  __m128i v;

  /* Sixteen bytes at a time: movemask gathers the top bit of each byte. */
  while (len - i >= 16) {
    v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    if (_mm_movemask_epi8(v) != 0)
      break;
    i += 16;
  }
  return i + wsv__utf8_ascii_span_scalar(p + i, len - i);
}
#else
size_t wsv__utf8_ascii_span(const uint8_t *p, size_t len) {
  return wsv__utf8_ascii_span_scalar(p, len);
}
#endif

void wsv_utf8_init(struct wsv_utf8 *v) {
  v->_state = UTF8_ACCEPT;
  v->_cp = 0;
}

int wsv_utf8_feed(struct wsv_utf8 *v, const uint8_t *p, size_t len,
                  size_t *bad_at) {
  uint32_t state = v->_state;
  size_t i = 0;

  if (WSV__UNLIKELY(state >= UTF8_REJECT)) {
    /* Sticky failure: nothing in this chunk is examined. */
    v->_state = UTF8_REJECT;
    if (bad_at != NULL)
      *bad_at = 0;
    return WSV_ERR_UTF8;
  }

  while (i < len) {
    if (state == UTF8_ACCEPT && p[i] < 0x80) {
      i += wsv__utf8_ascii_span(p + i, len - i);
      if (i == len)
        break;
    }
    state = utf8_next[state][utf8_class(p[i])];
    if (WSV__UNLIKELY(state == UTF8_REJECT)) {
      v->_state = UTF8_REJECT;
      if (bad_at != NULL)
        *bad_at = i;
      return WSV_ERR_UTF8;
    }
    i++;
  }

  v->_state = state;
  return WSV_OK;
}

int wsv_utf8_is_complete(const struct wsv_utf8 *v) {
  return v->_state == UTF8_ACCEPT;
}

int wsv_utf8_valid(const uint8_t *p, size_t len) {
  struct wsv_utf8 v;

  /* All ASCII (the common case): valid, nothing else to do. */
  if (len == 0 || wsv__utf8_ascii_span(p, len) == len)
    return WSV_OK;
  wsv_utf8_init(&v);
  if (wsv_utf8_feed(&v, p, len, NULL) != WSV_OK)
    return WSV_ERR_UTF8;
  return wsv_utf8_is_complete(&v) ? WSV_OK : WSV_ERR_UTF8;
}
