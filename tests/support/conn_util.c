/*
 * conn_util.c - the core connection tests' helpers (see conn_util.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/conn_util.h"

/* ---- counting allocator -------------------------------------------------- */

#define TA_HDR 16

static void ta_note(struct ta *t, long dlive, size_t add, size_t sub) {
  t->live += dlive;
  t->bytes = t->bytes + add - sub;
  if (t->bytes > t->peak)
    t->peak = t->bytes;
}

static void *ta_malloc(size_t n, void *user) {
  struct ta *t = user;
  unsigned char *p;

  t->allocs++;
  if (t->fail_at != 0 && t->allocs == t->fail_at)
    return NULL;
  p = malloc(n + TA_HDR);
  if (p == NULL)
    return NULL;
  memcpy(p, &n, sizeof n);
  ta_note(t, 1, n, 0);
  return p + TA_HDR;
}

static void ta_free(void *ptr, void *user) {
  struct ta *t = user;
  unsigned char *p = (unsigned char *)ptr - TA_HDR;
  size_t n;

  memcpy(&n, p, sizeof n);
  ta_note(t, -1, 0, n);
  free(p);
}

static void *ta_realloc(void *ptr, size_t n, void *user) {
  struct ta *t = user;
  unsigned char *p, *q;
  size_t old;

  if (ptr == NULL)
    return ta_malloc(n, user);
  t->allocs++;
  if (t->fail_at != 0 && t->allocs == t->fail_at)
    return NULL;
  p = (unsigned char *)ptr - TA_HDR;
  memcpy(&old, p, sizeof old);
  q = realloc(p, n + TA_HDR);
  if (q == NULL)
    return NULL;
  memcpy(q, &n, sizeof n);
  ta_note(t, 0, n, old);
  return q + TA_HDR;
}

struct wsv_mem ta_mem(struct ta *t) {
  struct wsv_mem m;

  memset(t, 0, sizeof *t);
  m.user = t;
  m.malloc = ta_malloc;
  m.realloc = ta_realloc;
  m.free = ta_free;
  return m;
}

/* ---- random hooks -------------------------------------------------------- */

const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

int rnd_fn(void *user, uint8_t *buf, size_t len) {
  struct rnd *r = user;
  uint32_t v;
  size_t i;

  if (r->fail)
    return -1;
  r->calls++;
  v = (uint32_t)(r->calls * 2654435761u) ^ 0x5bd1e995u;
  for (i = 0; i < len; i++) {
    if (r->counting)
      buf[i] = (uint8_t)(v >> (8 * (i & 3)));
    else
      buf[i] = KEY[i & 3];
  }
  return 0;
}

/* ---- bytes --------------------------------------------------------------- */

void b_put(struct bytes *b, const void *p, size_t n) {
  if (n == 0)
    return;
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

void b_free(struct bytes *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void put_frame(struct bytes *b, unsigned b0, const void *payload, size_t len,
               int masked) {
  uint8_t h[14], *tmp;
  size_t n = 2, i;

  h[0] = (uint8_t)b0;
  if (len < 126) {
    h[1] = (uint8_t)len;
  } else if (len <= 0xffff) {
    h[1] = 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    n = 4;
  } else {
    h[1] = 127;
    for (i = 0; i < 8; i++)
      h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    n = 10;
  }
  if (masked) {
    h[1] |= 0x80;
    memcpy(h + n, KEY, 4);
    n += 4;
  }
  b_put(b, h, n);
  tmp = malloc(len + 1);
  assert_non_null(tmp);
  if (len > 0)
    memcpy(tmp, payload, len);
  for (i = 0; masked && i < len; i++)
    tmp[i] ^= KEY[i & 3];
  b_put(b, tmp, len);
  free(tmp);
}

void mask_stream(const uint8_t *in, size_t len, struct bytes *out) {
  size_t i = 0, ext, n, k;
  uint64_t plen;
  uint8_t b1;

  while (i < len) {
    b_put(out, &in[i++], 1);
    if (i >= len)
      break;
    b1 = (uint8_t)(in[i++] | 0x80);
    b_put(out, &b1, 1);
    ext = (b1 & 0x7f) == 126 ? 2 : (b1 & 0x7f) == 127 ? 8 : 0;
    if (len - i < ext) {
      b_put(out, in + i, len - i);
      break;
    }
    plen = ext == 0 ? (uint64_t)(b1 & 0x7f) : 0;
    for (k = 0; k < ext; k++)
      plen = (plen << 8) | in[i + k];
    b_put(out, in + i, ext);
    i += ext;
    b_put(out, KEY, 4);
    n = (uint64_t)(len - i) < plen ? len - i : (size_t)plen;
    for (k = 0; k < n; k++) {
      uint8_t c = (uint8_t)(in[i + k] ^ KEY[k & 3]);
      b_put(out, &c, 1);
    }
    i += n;
  }
}

/* ---- event log ----------------------------------------------------------- */

void log_puts(struct log *l, const char *s, size_t n) {
  if (l->len + n + 1 > l->cap) {
    l->cap = (l->len + n + 1) * 2;
    l->s = realloc(l->s, l->cap);
    assert_non_null(l->s);
  }
  memcpy(l->s + l->len, s, n);
  l->len += n;
  l->s[l->len] = '\0';
}

WSV_PRINTF(2, 3) static void log_printf(struct log *l, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof tmp);
  log_puts(l, tmp, (size_t)n);
}

void log_data(struct log *l, const uint8_t *p, size_t n) {
  size_t i = 0, run;

  while (i < n) {
    for (run = 1; i + run < n && p[i + run] == p[i]; run++)
      ;
    if (run >= 8) {
      log_printf(l, "<%zu*%02x>", run, p[i]);
      i += run;
      continue;
    }
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != ';')
      log_printf(l, "%c", p[i]);
    else
      log_printf(l, "\\x%02x", p[i]);
    i++;
  }
}

static const char *ev_name(int type) {
  switch (type) {
  case WSV_EV_TEXT:
    return "TEXT";
  case WSV_EV_BINARY:
    return "BINARY";
  case WSV_EV_PING:
    return "PING";
  case WSV_EV_PONG:
    return "PONG";
  case WSV_EV_CLOSE:
    return "CLOSE";
  case WSV_EV_ERROR:
    return "ERROR";
  default:
    return "?";
  }
}

void log_event(struct log *l, const struct wsv_event *ev) {
  assert_non_null(ev->data);
  l->events++;
  if (ev->type == WSV_EV_TEXT || ev->type == WSV_EV_BINARY) {
    l->pieces++;
    assert_int_equal(ev->first, !l->open);
    assert_int_equal(ev->opcode,
                     ev->type == WSV_EV_TEXT ? WSV_OP_TEXT : WSV_OP_BINARY);
    if (l->open)
      assert_int_equal(ev->type, l->cur_type);
    if (l->check_views && ev->len > 0)
      assert_true(ev->data >= l->lo && ev->data + ev->len <= l->hi);
    l->open = 1;
    l->cur_type = ev->type;
    b_put(&l->cur, ev->data, ev->len);
    if (ev->last) {
      log_printf(l, "%s", ev_name(ev->type));
      if (ev->rsv != 0)
        log_printf(l, " rsv%x", ev->rsv);
      log_puts(l, ":", 1);
      log_data(l, l->cur.p, l->cur.len);
      log_puts(l, ";", 1);
      l->cur.len = 0;
      l->open = 0;
    }
    return;
  }
  if (ev->type == WSV_EV_ERROR) {
    log_printf(l, "ERROR %s %d;", wsv_err_name(ev->err) + 8, ev->close_code);
    return;
  }
  log_printf(l, "%s", ev_name(ev->type));
  if (ev->type == WSV_EV_CLOSE)
    log_printf(l, " %d", ev->close_code);
  log_puts(l, ":", 1);
  log_data(l, ev->data, ev->len);
  log_puts(l, ";", 1);
}

const char *log_str(struct log *l) {
  if (l->s == NULL)
    log_puts(l, "", 0);
  return l->s;
}

void log_free(struct log *l) {
  free(l->s);
  b_free(&l->cur);
  memset(l, 0, sizeof *l);
}

/* ---- driving a connection ------------------------------------------------ */

/* Pull every event of the current buffer into the log. */
static void pump(struct wsv_conn *c, struct log *l) {
  struct wsv_event ev;
  int t;

  while ((t = wsv_conn_next_event(c, &ev)) != WSV_EV_NONE) {
    assert_int_equal(t, ev.type);
    log_event(l, &ev);
  }
  assert_int_equal(ev.type, WSV_EV_NONE);
}

void feed(struct wsv_conn *c, const uint8_t *in, size_t len, size_t chunk,
          struct log *l) {
  size_t off = 0, n;
  uint8_t *g;

  if (chunk == 0)
    chunk = len > 0 ? len : 1;
  do {
    n = len - off < chunk ? len - off : chunk;
    if (l->no_guard) {
      g = malloc(n + 1);
      assert_non_null(g);
      memcpy(g, n > 0 ? in + off : (const uint8_t *)"", n);
    } else {
      g = guard_copy(n > 0 ? in + off : (const uint8_t *)"", n);
    }
    assert_int_equal(wsv_conn_recv(c, g, n), WSV_OK);
    l->lo = g;
    l->hi = g + n;
    pump(c, l);
    if (l->no_guard)
      free(g);
    else
      guard_free(g, n);
    off += n;
  } while (off < len);
}

void drain(struct wsv_conn *c, struct bytes *out) {
  struct wsv_iovec iov[8];
  size_t total;
  int k, i;

  while ((k = wsv_conn_output(c, iov, 8)) > 0) {
    total = 0;
    for (i = 0; i < k; i++) {
      assert_true(iov[i].len > 0);
      b_put(out, iov[i].base, iov[i].len);
      total += iov[i].len;
    }
    assert_int_equal(wsv_conn_consume_output(c, total), WSV_OK);
  }
  assert_int_equal(wsv_conn_output_size(c), 0);
  assert_false(wsv_conn_want_write(c));
}

struct wsv_conn *mkconn(int role, int stream, struct rnd *r,
                        const struct wsv_mem *mem) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;

  wsv_conn_config_init(&cfg);
  cfg.stream = stream;
  cfg.random = rnd_fn;
  cfg.random_user = r;
  assert_int_equal(wsv_conn_new(&c, role, &cfg, mem), WSV_OK);
  assert_non_null(c);
  return c;
}

void decode_output(int from, const struct bytes *out, struct log *l) {
  struct rnd r = {0, 0, 0};
  struct wsv_conn *peer = mkconn(
      from == WSV_ROLE_SERVER ? WSV_ROLE_CLIENT : WSV_ROLE_SERVER, 0, &r, NULL);

  feed(peer, out->p, out->len, 0, l);
  wsv_conn_free(peer);
}

const char *output_str(struct wsv_conn *c, int role) {
  static char buf[4096];
  struct bytes out = {0};
  struct log l = {0};

  drain(c, &out);
  decode_output(role, &out, &l);
  snprintf(buf, sizeof buf, "%s", log_str(&l));
  log_free(&l);
  b_free(&out);
  return buf;
}
