/*
 * deflate.c - permessage-deflate (RFC 7692): the negotiation helpers of
 * wsv/deflate.h, and the raw zlib streams conn.c compresses and inflates
 * with (int.h, wsv__z*).  The only file that includes zlib.h.
 *
 * zlib allocates through the connection's allocator: each stream keeps a
 * copy of it and zlib's zalloc/zfree hooks call wsv__malloc/wsv__free.
 */
#include <limits.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "http.h"
#include "int.h"

#define PMD_NAME "permessage-deflate"
#define PMD_NAME_LEN (sizeof PMD_NAME - 1)
#define PMD_VALUE_MAX 8 /* longest parameter value we keep */

/* ---- syntax helpers ------------------------------------------------------ */

static int pmd_is(const char *p, size_t n, const char *name) {
  return n == strlen(name) && memcmp(p, name, n) == 0;
}

/* A window-bits value: "8".."15", no leading zero.  Returns it or -1. */
static int pmd_bits(const char *v, size_t n) {
  int b;

  if (n == 1 && v[0] == '8')
    return 8;
  if (n == 1 && v[0] == '9')
    return 9;
  if (n != 2 || v[0] != '1' || v[1] < '0' || v[1] > '5')
    return -1;
  b = 10 + (v[1] - '0');
  return b;
}

/* One parameter value: token or quoted-string (unescaped; the result must
 * be a token).  At most PMD_VALUE_MAX bytes of it are copied to val;
 * *vlen is its full length.  Returns the index after it, or 0 with *why
 * set when it is malformed. */
static size_t pmd_value(const char *s, size_t len, size_t i, char *val,
                        size_t *vlen, const char **why) {
  size_t n = 0, v0, end;
  unsigned char c;

  if (i < len && s[i] == '"') {
    end = wsv__http_skip_quoted(s, len, i);
    if (end == 0) {
      *why = "malformed quoted string";
      return 0;
    }
    /* s[i + 1 .. end - 1): backslash pairs are whole (skip_quoted) */
    for (i++; i < end - 1; i++, n++) {
      c = (unsigned char)s[i];
      if (c == '\\')
        c = (unsigned char)s[++i];
      if (!wsv__http_tchar(c)) {
        *why = "quoted parameter value is not a token";
        return 0;
      }
      if (n < PMD_VALUE_MAX)
        val[n] = (char)c;
    }
    *vlen = n;
    return end;
  }
  v0 = i;
  i = wsv__http_skip_token(s, len, i);
  if (i == v0) {
    *why = "parameter value is empty or not a token";
    return 0;
  }
  *vlen = i - v0;
  memcpy(val, s + v0, *vlen < PMD_VALUE_MAX ? *vlen : PMD_VALUE_MAX);
  return i;
}

/* Apply one parameter to the offer being parsed.  Returns 0 or -1 with
 * *why set. */
static int pmd_param(struct wsv_pmd_offer *o, const char *name, size_t nlen,
                     int has_value, const char *val, size_t vlen,
                     const char **why) {
  int *flag = NULL, *bits = NULL, b;

  if (pmd_is(name, nlen, "server_no_context_takeover"))
    flag = &o->server_no_context_takeover;
  else if (pmd_is(name, nlen, "client_no_context_takeover"))
    flag = &o->client_no_context_takeover;
  else if (pmd_is(name, nlen, "server_max_window_bits"))
    bits = &o->server_max_window_bits;
  else if (pmd_is(name, nlen, "client_max_window_bits"))
    bits = &o->client_max_window_bits;
  else {
    *why = "unknown permessage-deflate parameter";
    return -1;
  }
  if (flag != NULL) {
    if (*flag) {
      *why = "repeated no_context_takeover parameter";
      return -1;
    }
    if (has_value) {
      *why = "no_context_takeover parameter with a value";
      return -1;
    }
    *flag = 1;
    return 0;
  }
  if (*bits != 0) {
    *why = "repeated max_window_bits parameter";
    return -1;
  }
  if (!has_value) {
    if (bits == &o->server_max_window_bits) {
      *why = "server_max_window_bits without a value";
      return -1;
    }
    *bits = -1;
    return 0;
  }
  b = vlen <= PMD_VALUE_MAX ? pmd_bits(val, vlen) : -1;
  if (b < 0) {
    *why = "max_window_bits value is not 8..15 (no leading zero)";
    return -1;
  }
  *bits = b;
  return 0;
}

int wsv_pmd_parse(const char *s, size_t len, struct wsv_pmd_offer *out,
                  const char **why) {
  struct wsv_pmd_offer o;
  const char *dummy;
  char val[PMD_VALUE_MAX];
  size_t i, n0, p0, plen, vlen;
  int is_pmd, has_value;

  if (why == NULL)
    why = &dummy;
  *why = "";
  if (s == NULL && len > 0)
    return WSV_ERR_INVAL;
  memset(&o, 0, sizeof o);
  i = wsv__http_skip_ows(s, len, 0);
  if (i == len)
    return 0;
  n0 = i;
  i = wsv__http_skip_token(s, len, i);
  if (i == n0) {
    *why = "extension name is not a token";
    return WSV_ERR_HS_EXTENSION;
  }
  is_pmd = i - n0 == PMD_NAME_LEN && memcmp(s + n0, PMD_NAME, i - n0) == 0;
  for (;;) {
    i = wsv__http_skip_ows(s, len, i);
    if (i == len)
      break;
    if (s[i] != ';') {
      *why = "expected ';' before an extension parameter";
      return WSV_ERR_HS_EXTENSION;
    }
    i = wsv__http_skip_ows(s, len, i + 1);
    p0 = i;
    i = wsv__http_skip_token(s, len, i);
    plen = i - p0;
    if (plen == 0) {
      *why = "extension parameter name is not a token";
      return WSV_ERR_HS_EXTENSION;
    }
    i = wsv__http_skip_ows(s, len, i);
    has_value = 0;
    vlen = 0;
    if (i < len && s[i] == '=') {
      has_value = 1;
      i = pmd_value(s, len, wsv__http_skip_ows(s, len, i + 1), val, &vlen, why);
      if (i == 0)
        return WSV_ERR_HS_EXTENSION;
    }
    if (is_pmd && pmd_param(&o, s + p0, plen, has_value, val, vlen, why) != 0)
      return WSV_ERR_HS_EXTENSION;
  }
  if (!is_pmd)
    return 0;
  if (out != NULL)
    *out = o;
  return 1;
}

/* ---- negotiation --------------------------------------------------------- */

int wsv_pmd_negotiate(const struct wsv_pmd_offer *offer, int policy,
                      struct wsv_pmd_params *out) {
  if (offer == NULL || out == NULL || policy < WSV_PMD_OFF ||
      policy > WSV_PMD_MAX)
    return WSV_ERR_INVAL;
  if (policy == WSV_PMD_OFF || offer->server_max_window_bits == 8)
    return 0;
  memset(out, 0, sizeof *out);
  out->enabled = 1;
  out->server_no_context_takeover =
      offer->server_no_context_takeover || policy == WSV_PMD_LEAN;
  out->client_no_context_takeover =
      offer->client_no_context_takeover || policy == WSV_PMD_LEAN;
  out->server_max_window_bits =
      offer->server_max_window_bits > 0 ? offer->server_max_window_bits : 15;
  out->client_max_window_bits =
      offer->client_max_window_bits > 0 ? offer->client_max_window_bits : 15;
  /* ON limits the client's window when the offer lets us (§7.1.2.2): the
   * inflater's window is most of what a connection keeps. */
  if (policy == WSV_PMD_ON && offer->client_max_window_bits != 0 &&
      out->client_max_window_bits > WSV_PMD_ON_CLIENT_BITS)
    out->client_max_window_bits = WSV_PMD_ON_CLIENT_BITS;
  return 1;
}

/* The next element of the comma list s[0..len) from *pos (commas inside
 * quoted strings do not split; empty elements are returned too).  Returns
 * 1 and the element, or 0 at the end. */
static int pmd_list_next(const char *s, size_t len, size_t *pos, const char **e,
                         size_t *elen) {
  size_t start = *pos, end;

  if (start > len)
    return 0;
  end = wsv__http_elem_end(s, len, start);
  *e = s + start;
  *elen = end - start;
  *pos = end + 1;
  return 1;
}

int wsv_pmd_select(const char *s, size_t len, int policy,
                   struct wsv_pmd_params *agreed, struct wsv_pmd_offer *offer) {
  struct wsv_pmd_offer o;
  struct wsv_pmd_params p;
  const char *e;
  size_t pos = 0, elen;

  if ((s == NULL && len > 0) || agreed == NULL || policy < WSV_PMD_OFF ||
      policy > WSV_PMD_MAX)
    return WSV_ERR_INVAL;
  if (policy == WSV_PMD_OFF)
    return 0;
  while (pmd_list_next(s, len, &pos, &e, &elen)) {
    if (wsv_pmd_parse(e, elen, &o, NULL) != 1)
      continue;
    if (wsv_pmd_negotiate(&o, policy, &p) == 1) {
      *agreed = p;
      if (offer != NULL)
        *offer = o;
      return 1;
    }
  }
  return 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* A bounded writer, snprintf-style. */
struct pmd_buf {
  char *p;
  size_t cap, len;
};

static void pmd_put(struct pmd_buf *b, const char *s) {
  size_t n = strlen(s), room;

  if (b->len + 1 < b->cap) {
    room = b->cap - 1 - b->len;
    memcpy(b->p + b->len, s, n < room ? n : room);
  }
  b->len += n;
}

static void pmd_put_bits(struct pmd_buf *b, const char *name, int bits) {
  char num[4];

  pmd_put(b, "; ");
  pmd_put(b, name);
  pmd_put(b, "=");
  if (bits >= 10) {
    num[0] = '1';
    num[1] = (char)('0' + bits - 10);
    num[2] = '\0';
  } else {
    num[0] = (char)('0' + bits);
    num[1] = '\0';
  }
  pmd_put(b, num);
}

static size_t pmd_end(struct pmd_buf *b) {
  if (b->cap > 0)
    b->p[b->len < b->cap ? b->len : b->cap - 1] = '\0';
  return b->len;
}

static int pmd_bits_ok(int b) {
  return b >= 8 && b <= 15;
}

size_t wsv_pmd_format_response(const struct wsv_pmd_params *a,
                               const struct wsv_pmd_offer *offer, char *out,
                               size_t cap) {
  struct pmd_buf b;

  b.p = out;
  b.cap = out != NULL ? cap : 0;
  b.len = 0;
  if (a == NULL)
    return pmd_end(&b);
  pmd_put(&b, PMD_NAME);
  if (a->server_no_context_takeover)
    pmd_put(&b, "; server_no_context_takeover");
  if (a->client_no_context_takeover)
    pmd_put(&b, "; client_no_context_takeover");
  if (pmd_bits_ok(a->server_max_window_bits) &&
      (a->server_max_window_bits < 15 ||
       (offer != NULL && offer->server_max_window_bits != 0)))
    pmd_put_bits(&b, "server_max_window_bits", a->server_max_window_bits);
  if (pmd_bits_ok(a->client_max_window_bits) &&
      a->client_max_window_bits < 15 &&
      (offer == NULL || offer->client_max_window_bits != 0))
    pmd_put_bits(&b, "client_max_window_bits", a->client_max_window_bits);
  return pmd_end(&b);
}

/* A window limit a request asks for: 8..14, else 0 (nothing). */
static int pmd_req_bits(int b) {
  return b >= 8 && b <= 14 ? b : 0;
}

void wsv_pmd_offer_from_request(const struct wsv_pmd_params *r,
                                struct wsv_pmd_offer *o) {
  if (r == NULL || o == NULL)
    return;
  memset(o, 0, sizeof *o);
  o->server_no_context_takeover = r->server_no_context_takeover != 0;
  o->client_no_context_takeover = r->client_no_context_takeover != 0;
  o->server_max_window_bits = pmd_req_bits(r->server_max_window_bits);
  o->client_max_window_bits = pmd_req_bits(r->client_max_window_bits);
  if (o->client_max_window_bits == 0)
    o->client_max_window_bits = -1;
}

size_t wsv_pmd_format_offer(const struct wsv_pmd_params *r, char *out,
                            size_t cap) {
  struct wsv_pmd_offer o;
  struct wsv_pmd_params none;
  struct pmd_buf b;

  b.p = out;
  b.cap = out != NULL ? cap : 0;
  b.len = 0;
  if (r == NULL) {
    memset(&none, 0, sizeof none);
    r = &none;
  }
  wsv_pmd_offer_from_request(r, &o);
  pmd_put(&b, PMD_NAME);
  if (o.client_max_window_bits > 0)
    pmd_put_bits(&b, "client_max_window_bits", o.client_max_window_bits);
  else
    pmd_put(&b, "; client_max_window_bits");
  if (o.server_no_context_takeover)
    pmd_put(&b, "; server_no_context_takeover");
  if (o.client_no_context_takeover)
    pmd_put(&b, "; client_no_context_takeover");
  if (o.server_max_window_bits > 0)
    pmd_put_bits(&b, "server_max_window_bits", o.server_max_window_bits);
  return pmd_end(&b);
}

static int pmd_refuse(const char **why, const char *text) {
  if (why != NULL)
    *why = text;
  return WSV_ERR_HS_EXTENSION;
}

int wsv_pmd_check_response(const struct wsv_pmd_offer *offered,
                           const struct wsv_pmd_offer *r,
                           struct wsv_pmd_params *a, const char **why) {
  int cb;

  if (why != NULL)
    *why = "";
  if (offered == NULL || r == NULL || a == NULL)
    return WSV_ERR_INVAL;
  if (offered->server_no_context_takeover && !r->server_no_context_takeover)
    return pmd_refuse(why, "permessage-deflate answer lacks the "
                           "server_no_context_takeover we asked for");
  if (offered->server_max_window_bits > 0) {
    if (r->server_max_window_bits == 0)
      return pmd_refuse(why, "permessage-deflate answer lacks the "
                             "server_max_window_bits we asked for");
    if (r->server_max_window_bits > offered->server_max_window_bits)
      return pmd_refuse(why, "permessage-deflate answer has a "
                             "server_max_window_bits above the one we asked "
                             "for");
  }
  if (r->client_max_window_bits != 0 && offered->client_max_window_bits == 0)
    return pmd_refuse(why, "permessage-deflate answer has "
                           "client_max_window_bits, which we did not offer");
  if (r->client_max_window_bits < 0)
    return pmd_refuse(why, "permessage-deflate answer has "
                           "client_max_window_bits without a value");
  memset(a, 0, sizeof *a);
  a->enabled = 1;
  a->server_no_context_takeover = r->server_no_context_takeover;
  a->client_no_context_takeover =
      r->client_no_context_takeover || offered->client_no_context_takeover;
  a->server_max_window_bits =
      r->server_max_window_bits > 0 ? r->server_max_window_bits : 15;
  cb = r->client_max_window_bits > 0 ? r->client_max_window_bits : 15;
  if (offered->client_max_window_bits > 0 &&
      offered->client_max_window_bits < cb)
    cb = offered->client_max_window_bits;
  a->client_max_window_bits = cb;
  return 0;
}

/* ---- zlib streams (int.h) ------------------------------------------------ */

struct wsv__z {
  z_stream s;
  struct wsv_mem mem; /* zlib's opaque points here */
  int deflating;      /* 1: deflate stream, 0: inflate stream */
  int bits;           /* window bits */
};

static voidpf pmd_zalloc(voidpf opaque, uInt items, uInt size) {
  const struct wsv_mem *m = opaque;

  if (size != 0 && items > SIZE_MAX / size)
    return Z_NULL;
  return wsv__malloc(m, (size_t)items * size);
}

static void pmd_zfree(voidpf opaque, voidpf p) {
  wsv__free(opaque, p);
}

static struct wsv__z *pmd_z_alloc(const struct wsv_mem *m, int deflating,
                                  int bits) {
  struct wsv__z *z = wsv__calloc(m, sizeof *z);

  if (z == NULL)
    return NULL;
  z->mem = *m;
  z->deflating = deflating;
  z->bits = bits;
  z->s.zalloc = pmd_zalloc;
  z->s.zfree = pmd_zfree;
  z->s.opaque = &z->mem;
  return z;
}

int wsv__z_inflater_new(struct wsv__z **out, const struct wsv_mem *m,
                        int bits) {
  struct wsv__z *z;

  *out = NULL;
  if (bits < 9)
    bits = 9; /* see wsv/deflate.h: tolerate zlib's old 8-to-9 quirk */
  z = pmd_z_alloc(m, 0, bits);
  if (z == NULL)
    return WSV_ERR_NOMEM;
  if (inflateInit2(&z->s, -bits) != Z_OK) {
    wsv__free(m, z);
    return WSV_ERR_NOMEM;
  }
  *out = z;
  return WSV_OK;
}

int wsv__z_deflater_new(struct wsv__z **out, const struct wsv_mem *m, int bits,
                        int mem_level) {
  struct wsv__z *z;

  *out = NULL;
  if (bits < 9 || bits > 15 || mem_level < 0 || mem_level > 9)
    return WSV_ERR_INVAL;
  z = pmd_z_alloc(m, 1, bits);
  if (z == NULL)
    return WSV_ERR_NOMEM;
  if (deflateInit2(&z->s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits,
                   mem_level > 0 ? mem_level : WSV__Z_MEM_LEVEL,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    wsv__free(m, z);
    return WSV_ERR_NOMEM;
  }
  *out = z;
  return WSV_OK;
}

int wsv__z_bits(const struct wsv__z *z) {
  return z->bits;
}

void wsv__z_free(struct wsv__z *z) {
  if (z == NULL)
    return;
  if (z->deflating)
    (void)deflateEnd(&z->s);
  else
    (void)inflateEnd(&z->s);
  wsv__free(&z->mem, z);
}

int wsv__z_inflate(struct wsv__z *z, const uint8_t **in, size_t *in_len,
                   uint8_t *out, size_t cap, size_t *produced) {
  uInt ain = *in_len > UINT_MAX ? UINT_MAX : (uInt)*in_len;
  uInt aout = cap > UINT_MAX ? UINT_MAX : (uInt)cap;
  int rc;

  z->s.next_in = *in;
  z->s.avail_in = ain;
  z->s.next_out = out;
  z->s.avail_out = aout;
  rc = inflate(&z->s, Z_SYNC_FLUSH);
  *in += ain - z->s.avail_in;
  *in_len -= ain - z->s.avail_in;
  *produced = aout - z->s.avail_out;
  z->s.next_in = NULL;
  z->s.next_out = NULL;
  switch (rc) {
  case Z_OK:
  case Z_BUF_ERROR: /* no progress possible: more input needed */
    return WSV_OK;
  case Z_STREAM_END:
    return 1;
  case Z_MEM_ERROR:
    return WSV_ERR_NOMEM;
  default:
    return WSV_ERR_INFLATE;
  }
}

int wsv__z_inflate_restart(struct wsv__z *z, int keep_window) {
  Bytef *dict = NULL;
  uInt dlen = 0;
  int rc = WSV_OK;

  if (keep_window) {
    dict = wsv__malloc(&z->mem, (size_t)1 << z->bits);
    if (dict == NULL)
      return WSV_ERR_NOMEM;
    if (inflateGetDictionary(&z->s, dict, &dlen) != Z_OK)
      dlen = 0;
  }
  if (inflateReset(&z->s) != Z_OK)
    rc = WSV_ERR_INFLATE;
  else if (dlen > 0 && inflateSetDictionary(&z->s, dict, dlen) != Z_OK)
    rc = WSV_ERR_INFLATE;
  wsv__free(&z->mem, dict);
  return rc;
}

/* Make room for at least `need` more bytes in the output buffer. */
static int pmd_grow(const struct wsv_mem *m, uint8_t **buf, size_t *cap,
                    size_t used, size_t need) {
  size_t ncap = *cap;
  uint8_t *nb;

  if (*cap - used >= need)
    return WSV_OK;
  if (need > SIZE_MAX / 2 - used)
    return WSV_ERR_NOMEM;
  while (ncap - used < need)
    ncap = ncap < 64 ? 64 : ncap * 2;
  nb = *buf == NULL ? wsv__malloc(m, ncap) : wsv__realloc(m, *buf, ncap);
  if (nb == NULL)
    return WSV_ERR_NOMEM;
  *buf = nb;
  *cap = ncap;
  return WSV_OK;
}

int wsv__z_deflate(struct wsv__z *z, const uint8_t *in, size_t len,
                   const struct wsv_mem *bm, uint8_t **buf, size_t *blen,
                   size_t *bcap) {
  uInt ain, aout;
  int rc;

  rc = pmd_grow(bm, buf, bcap, *blen, len + len / 8 + 64);
  if (rc != WSV_OK)
    return rc;
  for (;;) {
    if (*bcap - *blen < 64) {
      rc = pmd_grow(bm, buf, bcap, *blen, *bcap / 2 + 64);
      if (rc != WSV_OK)
        return rc;
    }
    ain = len > UINT_MAX ? UINT_MAX : (uInt)len;
    aout = *bcap - *blen > UINT_MAX ? UINT_MAX : (uInt)(*bcap - *blen);
    z->s.next_in = in;
    z->s.avail_in = ain;
    z->s.next_out = *buf + *blen;
    z->s.avail_out = aout;
    rc = deflate(&z->s, Z_SYNC_FLUSH);
    in += ain - z->s.avail_in;
    len -= ain - z->s.avail_in;
    *blen += aout - z->s.avail_out;
    z->s.next_in = NULL;
    z->s.next_out = NULL;
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return WSV_ERR_NOMEM;
    /* The flush is complete once all input is in and room was left. */
    if (len == 0 && z->s.avail_out > 0)
      return WSV_OK;
  }
}

int wsv__z_deflate_reset(struct wsv__z *z) {
  return deflateReset(&z->s) == Z_OK ? WSV_OK : WSV_ERR_NOMEM;
}

/* The last min(2^bits, seen) bytes a stream saw (dictionary included):
 * what the peer's inflater holds as its window, ours to prime another
 * stream with. */
int wsv__z_window(struct wsv__z *z, uint8_t *buf, size_t *len) {
  uInt n = 0;
  int rc = z->deflating ? deflateGetDictionary(&z->s, buf, &n)
                        : inflateGetDictionary(&z->s, buf, &n);

  *len = rc == Z_OK ? n : 0;
  return rc == Z_OK ? WSV_OK : WSV_ERR_INFLATE;
}

int wsv__z_prime(struct wsv__z *z, const uint8_t *dict, size_t len) {
  size_t w = (size_t)1 << z->bits;
  int rc;

  if (len > w) { /* only the window's worth can be referred to */
    dict += len - w;
    len = w;
  }
  if (z->deflating) {
    rc = deflateReset(&z->s);
    if (rc == Z_OK && len > 0)
      rc = deflateSetDictionary(&z->s, dict, (uInt)len);
    return rc == Z_OK ? WSV_OK : WSV_ERR_NOMEM;
  }
  rc = len > 0 ? inflateSetDictionary(&z->s, dict, (uInt)len) : Z_OK;
  return rc == Z_OK ? WSV_OK : WSV_ERR_INFLATE;
}

size_t wsv__z_bytes(const struct wsv__z *z, int mem_level) {
  size_t w = (size_t)1 << z->bits;

  if (!z->deflating) /* inflate_state (about 7 KiB) and the window */
    return 7160 + w + sizeof *z;
  if (mem_level <= 0)
    mem_level = WSV__Z_MEM_LEVEL;
  /* deflate_state, window (2w), prev (2w), head, pending (zlib's sizes) */
  return 5952 + 4 * w + ((size_t)2 << (mem_level + 7)) +
         ((size_t)4 << (mem_level + 6)) + sizeof *z;
}

/* ---- the shared compressor (wsv/deflate.h) ------------------------------- */

struct wsv_pmd_shared {
  struct wsv_mem mem;
  struct wsv__z *z; /* 15 bits, memLevel 8; made on first use */
};

int wsv_pmd_shared_new(struct wsv_pmd_shared **out, const struct wsv_mem *mem) {
  struct wsv_mem m;
  struct wsv_pmd_shared *s;

  if (out == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  wsv__mem_init(&m, mem);
  s = wsv__calloc(&m, sizeof *s);
  if (s == NULL)
    return WSV_ERR_NOMEM;
  s->mem = m;
  *out = s;
  return WSV_OK;
}

void wsv_pmd_shared_free(struct wsv_pmd_shared *s) {
  if (s == NULL)
    return;
  wsv__z_free(s->z);
  wsv__free(&s->mem, s);
}

size_t wsv_pmd_shared_bytes(const struct wsv_pmd_shared *s) {
  return s != NULL && s->z != NULL ? wsv__z_bytes(s->z, 0) : 0;
}

int wsv__pmd_shared_get(struct wsv_pmd_shared *s, const uint8_t *dict,
                        size_t len, struct wsv__z **out) {
  int rc = WSV_OK;

  *out = NULL;
  if (s->z == NULL)
    rc = wsv__z_deflater_new(&s->z, &s->mem, 15, 0);
  if (rc == WSV_OK)
    rc = wsv__z_prime(s->z, dict, len);
  if (rc == WSV_OK)
    *out = s->z;
  return rc;
}
