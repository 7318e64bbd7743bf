/*
 * fuzz/inflate.c - libFuzzer target: arbitrary compressed payloads through
 * a connection with permessage-deflate agreed.
 *
 * Byte 0: bit 0 role of the receiver, bit 1 stream mode, bit 2 context
 * takeover, bits 3-5 window bits (9 + value % 7).  Then frames, each one
 * byte of flags (bit 0 FIN, bit 1 RSV1, bits 2-3 opcode: continuation,
 * text, binary, ping), one length byte, and that many payload bytes.
 * The receiver echoes every message it gets; the echo goes through a peer
 * with the same agreement, which must get exactly the message back
 * (inflate(deflate(x)) == x).  Oracles: no crash, no leak, the receiver's
 * memory never passes max_message plus a fixed allowance for zlib, and
 * the only errors are protocol (1002), inflate (1007), UTF-8 (1007),
 * too big (1009) or policy (1008).
 */
#include <stdlib.h>
#include <string.h>

#include "int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_MESSAGE 65536u

struct fz_ta {
  size_t bytes, peak;
  long live;
};

static void *fz_malloc(size_t n, void *user) {
  struct fz_ta *t = user;
  size_t *p = malloc(n + sizeof(size_t) * 2);
  if (p == NULL)
    abort();
  p[0] = n;
  t->bytes += n;
  t->live++;
  if (t->bytes > t->peak)
    t->peak = t->bytes;
  return p + 2;
}

static void fz_free(void *ptr, void *user) {
  struct fz_ta *t = user;
  size_t *p = (size_t *)ptr - 2;
  t->bytes -= p[0];
  t->live--;
  free(p);
}

static void *fz_realloc(void *ptr, size_t n, void *user) {
  struct fz_ta *t = user;
  size_t *p = (size_t *)ptr - 2, old = p[0];
  size_t *q = realloc(p, n + sizeof(size_t) * 2);
  if (q == NULL)
    abort();
  q[0] = n;
  t->bytes = t->bytes - old + n;
  if (t->bytes > t->peak)
    t->peak = t->bytes;
  return q + 2;
}

static int fz_random(void *user, uint8_t *buf, size_t len) {
  (void)user;
  memset(buf, 0x5a, len);
  return 0;
}

static struct wsv_conn *fz_conn(int role, int stream,
                                const struct wsv_pmd_params *p,
                                const struct wsv_mem *m) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  wsv_conn_config_init(&cfg);
  cfg.stream = stream;
  cfg.max_message = FZ_MAX_MESSAGE;
  cfg.max_frame = FZ_MAX_MESSAGE;
  cfg.random = fz_random;
  cfg.pmd = *p;
  cfg.pmd_min_size = 0;
  if (wsv_conn_new(&c, role, &cfg, m) != WSV_OK)
    abort();
  return c;
}

struct fz_msg {
  uint8_t *p;
  size_t n;
  int open;
  int type;
};

static void fz_append(struct fz_msg *m, const struct wsv_event *ev) {
  if (ev->first) {
    m->n = 0;
    m->type = ev->type;
  }
  m->p = realloc(m->p, m->n + ev->len + 1);
  if (m->p == NULL)
    abort();
  memcpy(m->p + m->n, ev->data, ev->len);
  m->n += ev->len;
}

/* Hand the receiver's echo to the peer and check it comes back whole. */
static void fz_echo_check(struct wsv_conn *from, struct wsv_conn *peer,
                          const struct fz_msg *m) {
  struct wsv_iovec iov[16];
  struct wsv_event ev;
  struct fz_msg got = {0};
  int k, i, msgs = 0;
  while ((k = wsv_conn_output(from, iov, 16)) > 0) {
    size_t total = 0;
    for (i = 0; i < k; i++) {
      uint8_t *b = malloc(iov[i].len);
      if (b == NULL)
        abort();
      memcpy(b, iov[i].base, iov[i].len);
      total += iov[i].len;
      if (wsv_conn_recv(peer, b, iov[i].len) != WSV_OK)
        abort();
      while (wsv_conn_next_event(peer, &ev) != WSV_EV_NONE) {
        if (ev.type == WSV_EV_ERROR)
          abort(); /* our own output is always valid */
        if (ev.type == WSV_EV_TEXT || ev.type == WSV_EV_BINARY) {
          fz_append(&got, &ev);
          if (ev.last) {
            if (got.type != m->type || got.n != m->n ||
                (m->n > 0 && memcmp(got.p, m->p, m->n) != 0))
              abort();
            msgs++;
          }
        }
      }
      free(b);
    }
    if (wsv_conn_consume_output(from, total) != WSV_OK)
      abort();
  }
  if (msgs > 1)
    abort();
  free(got.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz_ta t = {0, 0, 0};
  struct wsv_mem m = {&t, fz_malloc, fz_realloc, fz_free};
  struct wsv_pmd_params p;
  struct wsv_conn *c, *peer;
  struct wsv_event ev;
  struct fz_msg msg = {0};
  uint8_t *wire;
  size_t i = 1, w = 0;
  int role, stream;

  if (size < 1)
    return 0;
  role = data[0] & 1 ? WSV_ROLE_CLIENT : WSV_ROLE_SERVER;
  stream = (data[0] >> 1) & 1;
  memset(&p, 0, sizeof p);
  p.enabled = 1;
  p.server_no_context_takeover = p.client_no_context_takeover =
      !((data[0] >> 2) & 1);
  p.server_max_window_bits = p.client_max_window_bits =
      9 + ((data[0] >> 3) & 7) % 7;
  c = fz_conn(role, stream, &p, &m);
  peer = fz_conn(role == WSV_ROLE_SERVER ? WSV_ROLE_CLIENT : WSV_ROLE_SERVER, 0,
                 &p, NULL);
  /* Build the frames (as the receiver expects them, masked for a
   * server). */
  wire = malloc(size * 4 + 16); /* 2 flag bytes become at most 8 */
  if (wire == NULL)
    abort();
  while (i + 1 < size) {
    static const uint8_t ops[4] = {0, 1, 2, 9};
    uint8_t f = data[i], n = data[i + 1];
    size_t len = n, k;
    i += 2;
    if (len > size - i)
      len = size - i;
    wire[w++] =
        (uint8_t)((f & 1 ? 0x80 : 0) | (f & 2 ? 0x40 : 0) | ops[(f >> 2) & 3]);
    wire[w++] = (uint8_t)((role == WSV_ROLE_SERVER ? 0x80 : 0) | len);
    if (len > 125) {
      wire[w - 1] = (uint8_t)((wire[w - 1] & 0x80) | 126);
      wire[w++] = 0;
      wire[w++] = (uint8_t)len;
    }
    if (role == WSV_ROLE_SERVER) {
      memset(wire + w, 0, 4); /* mask key 0 */
      w += 4;
    }
    for (k = 0; k < len; k++)
      wire[w++] = data[i + k];
    i += len;
  }
  if (wsv_conn_recv(c, wire, w) != WSV_OK)
    abort();
  while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE) {
    if (ev.type == WSV_EV_ERROR) {
      if (ev.close_code != 1002 && ev.close_code != 1007 &&
          ev.close_code != 1008 && ev.close_code != 1009)
        abort();
      continue;
    }
    if (ev.type != WSV_EV_TEXT && ev.type != WSV_EV_BINARY)
      continue;
    fz_append(&msg, &ev);
    if (!ev.last)
      continue;
    if (msg.n > FZ_MAX_MESSAGE)
      abort();
    if (wsv_conn_send(c, msg.type == WSV_EV_TEXT ? WSV_OP_TEXT : WSV_OP_BINARY,
                      msg.p, msg.n) != WSV_OK)
      abort();
    fz_echo_check(c, peer, &msg);
  }
  /* Message buffer + zlib (inflater ~40 KiB, deflater ~270 KiB for the
   * echo) + output queue of one echo. */
  if (t.peak > 2 * FZ_MAX_MESSAGE + 400000)
    abort();
  wsv_conn_free(c);
  wsv_conn_free(peer);
  if (t.live != 0)
    abort();
  free(wire);
  free(msg.p);
  return 0;
}
