/*
 * conn_util.h - helpers shared by the core's connection tests
 * (conn_test.c, close_test.c, deflate_test.c): a counting allocator that
 * can fail the Nth allocation, random hooks, a byte builder, an event log
 * printed as a readable string, and feeding/draining a connection.
 * Linked into every test, as every .c file in tests/support is; the
 * asserts are cmocka's, so use from the test's thread.
 */
#ifndef WSV_TEST_CONN_UTIL_H
#define WSV_TEST_CONN_UTIL_H

/* The tests that include this use these too (conn_util.inc brought them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "int.h"
#include "support/guard.h"

/* ---- counting allocator -------------------------------------------------- */

struct ta {
  long live;    /* blocks allocated and not freed */
  long allocs;  /* allocation attempts (malloc and realloc) */
  long fail_at; /* fail exactly this attempt (0: never) */
  size_t bytes; /* bytes live */
  size_t peak;  /* most bytes live at once */
};

/* Clear *t and return hooks that count into it. */
struct wsv_mem ta_mem(struct ta *t);

/* ---- random hooks -------------------------------------------------------- */

/* The masking key rnd_fn gives when not counting. */
extern const uint8_t KEY[4];

struct rnd {
  int counting; /* 0: always KEY; 1: a different key per call */
  int fail;     /* nonzero: fail */
  unsigned calls;
};

int rnd_fn(void *user, uint8_t *buf, size_t len);

/* ---- bytes --------------------------------------------------------------- */

struct bytes {
  uint8_t *p;
  size_t len;
  size_t cap;
};

void b_put(struct bytes *b, const void *p, size_t n);
void b_free(struct bytes *b);

/* Append one frame: first byte b0 (FIN | RSV | opcode), minimal length
 * form, masked with KEY if `masked`. */
void put_frame(struct bytes *b, unsigned b0, const void *payload, size_t len,
               int masked);

/* Turn a stream of unmasked frames into the same frames masked with KEY
 * (as a client would send them).  Truncated frames stay truncated. */
void mask_stream(const uint8_t *in, size_t len, struct bytes *out);

/* ---- event log ----------------------------------------------------------- */

/* Events are kept as a readable string.  Data events are joined into
 * whole messages first (so assemble and stream mode give the same log),
 * while checking the first/last flags and counting pieces. */
struct log {
  char *s;
  size_t len;
  size_t cap;
  struct bytes cur; /* message being joined */
  int open;         /* a message is being joined */
  int cur_type;
  int pieces;             /* data events seen */
  int events;             /* events seen */
  int check_views;        /* data must lie in the current chunk */
  int no_guard;           /* chunks in malloc'd copies (faster) */
  const uint8_t *lo, *hi; /* the current chunk */
};

void log_puts(struct log *l, const char *s, size_t n);
/* Payloads: printable ASCII as is, other bytes as \xHH; long runs of one
 * byte as <N*c>. */
void log_data(struct log *l, const uint8_t *p, size_t n);
void log_event(struct log *l, const struct wsv_event *ev);
const char *log_str(struct log *l);
void log_free(struct log *l);

/* ---- driving a connection ------------------------------------------------ */

/* Feed in[0..len) in chunks of `chunk` bytes (0: whole), each chunk right
 * before a guard page, pulling all events after each. */
void feed(struct wsv_conn *c, const uint8_t *in, size_t len, size_t chunk,
          struct log *l);

/* Collect all queued output (writing it all). */
void drain(struct wsv_conn *c, struct bytes *out);

struct wsv_conn *mkconn(int role, int stream, struct rnd *r,
                        const struct wsv_mem *mem);

/* Describe the frames in `out` (sent by a conn in role `from`) as a log,
 * by feeding them to a peer connection. */
void decode_output(int from, const struct bytes *out, struct log *l);

/* Drain conn's output and return it decoded (a static string, valid until
 * the next call). */
const char *output_str(struct wsv_conn *c, int role);

#endif
