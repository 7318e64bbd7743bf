/*
 * fuzz/frame.c - libFuzzer target for the frame codec and the receive side
 * of wsv_conn.
 *
 * Input: byte 0 picks the role and configuration, byte 1 seeds the chunk
 * sizes, the rest is the byte stream a peer sent.  The stream is parsed
 * twice, whole and in pseudo-random chunks (1 byte and up), first with the
 * bare header parser, then through a connection; the two runs must produce
 * the same sequence (headers; events with their types, lengths, payload
 * hashes and close codes; the bytes queued for output).  Small limits are
 * used half the time so that the limit paths are reachable.
 */
#include <stdlib.h>
#include <string.h>

#include "int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a growable log of 64-bit values ------------------------------------- */

struct flog {
  uint64_t *v;
  size_t n;
  size_t cap;
};

static void flog_add(struct flog *l, uint64_t x) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (l->v == NULL)
      abort();
  }
  l->v[l->n++] = x;
}

static void flog_same(const struct flog *a, const struct flog *b) {
  if (a->n != b->n || (a->n > 0 && memcmp(a->v, b->v, a->n * 8) != 0))
    abort();
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

#define FNV0 UINT64_C(0xcbf29ce484222325)

/* Chunk sizes: a small PRNG, mostly tiny chunks. */
static size_t next_chunk(uint32_t *s, size_t left) {
  size_t n;

  *s = *s * 1103515245u + 12345u;
  n = (*s >> 16) % 8 == 0 ? ((*s >> 8) & 0xff) + 1 : ((*s >> 20) & 7) + 1;
  return n < left ? n : left;
}

/* ---- the bare header parser ---------------------------------------------- */

struct hp {
  struct wsv_frame_parser p;
  uint64_t skip; /* payload bytes of the last header still to skip */
  int done;
};

/* Feed a chunk: log each header, skip its payload; stop at an error. */
static void hp_feed(struct hp *h, const uint8_t *in, size_t len,
                    struct flog *l) {
  struct wsv_frame_header fh;
  size_t off = 0, n;
  int rc;

  while (!h->done && off < len) {
    if (h->skip > 0) {
      n = (uint64_t)(len - off) < h->skip ? len - off : (size_t)h->skip;
      off += n;
      h->skip -= n;
      continue;
    }
    rc = wsv_frame_parse(&h->p, in + off, len - off, &fh);
    if (rc == WSV_ERR_AGAIN)
      return;
    if (rc < 0) {
      flog_add(l, (uint64_t)(int64_t)rc);
      h->done = 1;
      return;
    }
    off += (size_t)rc;
    flog_add(l, (uint64_t)fh.fin | (uint64_t)fh.rsv << 1 |
                    (uint64_t)fh.opcode << 8 | (uint64_t)fh.masked << 12);
    flog_add(l, fh.len);
    h->skip = fh.len;
  }
}

static void run_parser(int role, unsigned rsv, uint64_t max, const uint8_t *in,
                       size_t len, uint32_t seed, struct flog *l) {
  struct hp h;
  uint8_t *copy;
  size_t off = 0, n;

  memset(&h, 0, sizeof h);
  wsv_frame_parser_init(&h.p, role, rsv, max);
  if (seed == 0) {
    hp_feed(&h, in, len, l);
    return;
  }
  while (off < len) {
    n = next_chunk(&seed, len - off);
    copy = malloc(n);
    memcpy(copy, in + off, n);
    hp_feed(&h, copy, n, l);
    free(copy);
    off += n;
  }
}

/* ---- the connection ------------------------------------------------------ */

static int fixed_random(void *user, uint8_t *buf, size_t len) {
  uint32_t *ctr = user;
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)(*ctr + i);
  (*ctr)++;
  return 0;
}

struct msg {
  uint64_t hash;
  uint64_t len;
  int open;
};

static void log_event(const struct wsv_event *ev, struct msg *m,
                      struct flog *l) {
  if (ev->len > 0 && ev->data == NULL)
    abort();
  if (ev->type == WSV_EV_TEXT || ev->type == WSV_EV_BINARY) {
    if (ev->first != !m->open)
      abort();
    if (!m->open) {
      m->hash = FNV0;
      m->len = 0;
      m->open = 1;
    }
    m->hash = fnv(m->hash, ev->data, ev->len);
    m->len += ev->len;
    if (ev->last) {
      /* Text that arrived whole must be valid UTF-8. */
      if (ev->type == WSV_EV_TEXT && ev->first &&
          wsv_utf8_valid(ev->data, ev->len) != WSV_OK)
        abort();
      flog_add(l, (uint64_t)ev->type | (uint64_t)ev->rsv << 8);
      flog_add(l, m->len);
      flog_add(l, m->hash);
      m->open = 0;
    }
    return;
  }
  flog_add(l, (uint64_t)ev->type);
  flog_add(l, (uint64_t)(int64_t)ev->close_code);
  flog_add(l, (uint64_t)(int64_t)ev->err);
  flog_add(l, fnv(FNV0, ev->data, ev->len) ^ ev->len);
  if (ev->type == WSV_EV_ERROR && ev->close_code != wsv_err_close_code(ev->err))
    abort();
  if ((ev->type == WSV_EV_PING || ev->type == WSV_EV_PONG) && ev->len > 125)
    abort();
}

static void conn_pump(struct wsv_conn *c, struct msg *m, struct flog *l) {
  struct wsv_event ev;

  while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE)
    log_event(&ev, m, l);
}

static void run_conn(int role, const struct wsv_conn_config *cfg,
                     const uint8_t *in, size_t len, uint32_t seed,
                     struct flog *l) {
  struct wsv_conn_config cc = *cfg;
  struct wsv_conn *c;
  struct wsv_iovec iov[16];
  struct msg m;
  uint32_t ctr = 0;
  uint64_t h = FNV0, total = 0;
  uint8_t *copy;
  size_t off = 0, n;
  int k, i;

  memset(&m, 0, sizeof m);
  cc.random = fixed_random;
  cc.random_user = &ctr;
  if (wsv_conn_new(&c, role, &cc, NULL) != WSV_OK)
    abort();
  do {
    n = seed == 0 ? len : next_chunk(&seed, len - off);
    copy = malloc(n + 1);
    if (n > 0)
      memcpy(copy, in + off, n);
    if (wsv_conn_recv(c, copy, n) != WSV_OK)
      abort();
    conn_pump(c, &m, l);
    free(copy);
    off += n;
  } while (off < len);
  /* The output: same bytes either way. */
  while ((k = wsv_conn_output(c, iov, 16)) > 0) {
    n = 0;
    for (i = 0; i < k; i++) {
      h = fnv(h, iov[i].base, iov[i].len);
      n += iov[i].len;
    }
    total += n;
    if (wsv_conn_consume_output(c, n) != WSV_OK)
      abort();
  }
  flog_add(l, total);
  flog_add(l, h);
  flog_add(l, (uint64_t)wsv_conn_state(c));
  flog_add(l, (uint64_t)wsv_conn_want_close_socket(c));
  wsv_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wsv_conn_config cfg;
  struct flog a = {0}, b = {0};
  uint32_t seed;
  int role;

  if (size < 2)
    return 0;
  role = (data[0] & 1) ? WSV_ROLE_CLIENT : WSV_ROLE_SERVER;
  wsv_conn_config_init(&cfg);
  cfg.stream = (data[0] >> 1) & 1;
  cfg.rsv_allowed = (data[0] & 4) ? WSV_RSV1 : 0;
  cfg.auto_pong = !((data[0] >> 3) & 1);
  if (data[0] & 0x10) {
    cfg.max_frame = 200;
    cfg.max_message = 300;
    cfg.max_fragments = 5;
  }
  if (data[0] & 0x20)
    cfg.rsv_allowed |= WSV_RSV2 | WSV_RSV3;
  seed = (uint32_t)data[1] * 2654435761u + 1u;
  data += 2;
  size -= 2;

  run_parser(role, cfg.rsv_allowed, cfg.max_frame, data, size, 0, &a);
  run_parser(role, cfg.rsv_allowed, cfg.max_frame, data, size, seed, &b);
  flog_same(&a, &b);
  a.n = b.n = 0;
  run_conn(role, &cfg, data, size, 0, &a);
  run_conn(role, &cfg, data, size, seed, &b);
  flog_same(&a, &b);
  free(a.v);
  free(b.v);
  return 0;
}
