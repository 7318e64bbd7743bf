/*
 * h2.c - HTTP/2 connections carrying WebSockets (see h2.h): the
 * connection's socket I/O around an nghttp2 session (mem_recv of what the
 * socket gives, mem_send gathered into one write at the end of the
 * iteration), its streams' input and output buffers and flow control,
 * and the server side: each request's fields judged by the core
 * (wsv_hs_server_parse_h2), a WebSocket made for an accepted extended
 * CONNECT, the plain-HTTP callback's answer or the refusal sent
 * otherwise, and the graceful shutdown (GOAWAY once the WebSockets are
 * gone).  The client side lives in client.c (wsv__rt_h2_client_*).
 */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2.h"
#include "h2_int.h"
#include "memcache.h"
#include "server_int.h"
#include "tls.h"

static void h2srv_idle_timer(struct wsv__h2 *h);

/* Pseudo-headers a request may carry (:method, :scheme, :authority,
 * :path, :protocol): kept beyond max_headers, which counts the regular
 * fields only (as the core does). */
#define H2_PSEUDO_MAX 5

/* Bytes gathered from nghttp2 before one write to the socket. */
#define H2_OUT_BATCH ((size_t)64 << 10)

/* ---- buffers ---------------------------------------------------------- */

/* The buffers' memory comes from the loop's allocator (memcache.h), whose
 * cache keeps freed blocks of 64 KiB and more for the next one: a stream
 * busy with large messages does not map fresh pages for each. */
static void *h2_realloc(const struct h2_buf *b, void *p, size_t n) {
  return b->mem != NULL ? b->mem->realloc(p, n, b->mem->user) : realloc(p, n);
}

static void h2_release(struct h2_buf *b) {
  if (b->p != NULL) {
    if (b->mem != NULL)
      b->mem->free(b->p, b->mem->user);
    else
      free(b->p);
  }
  const struct wsv_mem *mem = b->mem;
  memset(b, 0, sizeof *b);
  b->mem = mem;
}

/* Append p[0..n) to b (growing it, doubling from 4 KiB); 0 or -1 (no
 * memory). */
static int h2_buf_add(struct h2_buf *b, const void *p, size_t n) {
  if (b->off > 0 && b->off == b->len)
    b->off = b->len = 0;
  if (b->cap - b->len < n) {
    if (b->off > 0) { /* slide the unread bytes down first */
      memmove(b->p, b->p + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    if (b->cap - b->len < n) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap - b->len < n)
        cap *= 2;
      uint8_t *q = h2_realloc(b, b->p, cap);
      if (q == NULL)
        return -1;
      b->p = q;
      b->cap = cap;
    }
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

static size_t h2_buf_size(const struct h2_buf *b) {
  return b->len - b->off;
}

/* Drop n bytes from the front; an empty buffer gives its memory back
 * (streams: an idle WebSocket holds none). */
static void h2_buf_eat(struct h2_buf *b, size_t n) {
  b->off += n;
  if (b->off >= b->len)
    h2_release(b);
}

/* The same, keeping the memory (the connection's write buffer, used
 * for every batch while it carries WebSockets). */
static void h2_buf_eat_keep(struct h2_buf *b, size_t n) {
  b->off += n;
  if (b->off >= b->len)
    b->off = b->len = 0;
}

static void h2_buf_free(struct h2_buf *b) {
  h2_release(b);
}

/* ---- streams ------------------------------------------------------------ */

static struct wsv__h2s *h2s_new(struct wsv__h2 *h, int32_t id) {
  struct wsv__h2s *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->h = h;
  s->id = id;
  s->in.mem = s->out.mem = s->hb.mem = h->out.mem;
  s->next = h->streams;
  if (h->streams != NULL)
    h->streams->prev = s;
  h->streams = s;
  h->nstreams++;
  return s;
}

static void h2s_free(struct wsv__h2s *s) {
  struct wsv__h2 *h = s->h;
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    h->streams = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  h->nstreams--;
  if (s->answer)
    h->answers -= h2_buf_size(&s->out);
  if (h->ng != NULL && !s->closed)
    (void)nghttp2_session_set_stream_user_data(h->ng, s->id, NULL);
  h2_buf_free(&s->in);
  h2_buf_free(&s->out);
  h2_buf_free(&s->hb);
  free(s);
}

int32_t wsv__h2s_id(const struct wsv__h2s *s) {
  return s->id;
}

const struct wsv__tp *wsv__h2s_socket(const struct wsv__h2s *s) {
  return &s->h->tp;
}

void wsv__rt_h2_want_flush(struct wsv__h2 *h) {
  wsv__tp_want_flush(&h->tp);
}

/* Wake the stream's WebSocket to read (input, EOF or reset). */
static void h2s_wake(struct wsv__h2s *s) {
  if (s->ws != NULL)
    wsv__tp_read_again(&s->ws->tp);
}

ssize_t wsv__h2s_read(struct wsv__h2s *s, void *buf, size_t cap) {
  size_t have = h2_buf_size(&s->in);
  if (have == 0) {
    if (s->in_rst) {
      errno = ECONNRESET;
      return -1;
    }
    if (s->in_eof)
      return 0;
    errno = EAGAIN;
    return -1;
  }
  size_t n = have < cap ? have : cap;
  memcpy(buf, s->in.p + s->in.off, n);
  h2_buf_eat(&s->in, n);
  /* The window opens as the WebSocket reads (h2.h). */
  if (!s->closed && s->h->ng != NULL) {
    (void)nghttp2_session_consume_stream(s->h->ng, s->id, n);
    wsv__rt_h2_want_flush(s->h);
  }
  if (h2_buf_size(&s->in) > 0 || s->in_eof || s->in_rst)
    h2s_wake(s); /* one read per event, as on a socket */
  return (ssize_t)n;
}

/* Let nghttp2 pull the stream's output again. */
static void h2s_resume(struct wsv__h2s *s) {
  if (s->deferred && !s->closed && s->h->ng != NULL) {
    s->deferred = 0;
    (void)nghttp2_session_resume_data(s->h->ng, s->id);
  }
  wsv__rt_h2_want_flush(s->h);
}

ssize_t wsv__h2s_writev(struct wsv__h2s *s, const struct iovec *iov, int k,
                        size_t total) {
  (void)total;
  if (s->closed || s->end) {
    errno = s->closed ? ECONNRESET : EPIPE;
    return -1;
  }
  size_t have = h2_buf_size(&s->out);
  size_t room = have < WSV__H2S_OUT_CAP ? WSV__H2S_OUT_CAP - have : 0;
  size_t done = 0;
  for (int i = 0; i < k && room > 0; i++) {
    size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
    if (n > 0 && h2_buf_add(&s->out, iov[i].iov_base, n) != 0) {
      if (done > 0)
        break;
      errno = ENOMEM;
      return -1;
    }
    done += n;
    room -= n;
  }
  if (room == 0)
    s->want_room = 1; /* flush the WebSocket again once some is sent */
  if (done > 0)
    h2s_resume(s);
  return (ssize_t)done;
}

void wsv__h2s_end(struct wsv__h2s *s) {
  if (s->end)
    return;
  s->end = 1;
  h2s_resume(s);
}

void wsv__h2s_reset(struct wsv__h2s *s) {
  s->reset = 1;
}

size_t wsv__h2s_unsent(const struct wsv__h2s *s) {
  return h2_buf_size(&s->out);
}

void wsv__h2s_detach(struct wsv__h2s *s) {
  struct wsv__h2 *h = s->h;
  if (s->ws != NULL)
    h->nws--;
  s->ws = NULL;
  h2_buf_free(&s->in);
  if (s->closed) {
    h2s_free(s);
  } else if (!s->end || s->reset) {
    h2_buf_free(&s->out);
    s->end = 1;
    if (h->ng != NULL)
      (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                      NGHTTP2_CANCEL);
    wsv__rt_h2_want_flush(h);
  }
  /* else: END_STREAM follows the buffered output; nghttp2's stream close
   * frees it (h2_on_close). */
  wsv__rt_h2_check_idle(h);
}

/* nghttp2 pulls DATA for a stream: the buffered output, then END_STREAM
 * once asked; DEFERRED while there is nothing yet. */
static ssize_t h2_read_data(nghttp2_session *ng, int32_t id, uint8_t *buf,
                            size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *user) {
  struct wsv__h2s *s = src->ptr;
  (void)ng;
  (void)id;
  (void)user;
  size_t have = h2_buf_size(&s->out);
  size_t n = have < len ? have : len;
  if (n > 0) {
    memcpy(buf, s->out.p + s->out.off, n);
    h2_buf_eat(&s->out, n);
    if (s->answer)
      s->h->answers -= n;
  }
  if (h2_buf_size(&s->out) == 0 && s->end) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  } else if (n == 0) {
    s->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (s->want_room && s->ws != NULL &&
      h2_buf_size(&s->out) < WSV__H2S_OUT_CAP / 2) {
    s->want_room = 0;
    wsv__tp_want_flush(&s->ws->tp);
  }
  return (ssize_t)n;
}

/* Fields f[0..n) as nghttp2's name/value pairs (views, copied by
 * nghttp2 when submitted). */
static void h2_nv(nghttp2_nv *nv, const struct wsv_header *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    nv[i].name = (uint8_t *)(uintptr_t)f[i].name.ptr;
    nv[i].namelen = f[i].name.len;
    nv[i].value = (uint8_t *)(uintptr_t)f[i].value.ptr;
    nv[i].valuelen = f[i].value.len;
    nv[i].flags = NGHTTP2_NV_FLAG_NONE;
  }
}

int wsv__rt_h2_submit(struct wsv__h2 *h, struct wsv__h2s *s, int status,
                      const struct wsv_header *f, size_t n, int data) {
  nghttp2_nv nv[WSV__H2_MAX_ANSWER_FIELDS + 1];
  char st[8];
  size_t k = 0;
  if (n > WSV__H2_MAX_ANSWER_FIELDS)
    n = WSV__H2_MAX_ANSWER_FIELDS;
  int len = snprintf(st, sizeof st, "%d", status);
  nv[k].name = (uint8_t *)(uintptr_t) ":status";
  nv[k].namelen = 7;
  nv[k].value = (uint8_t *)st;
  nv[k].valuelen = (size_t)len;
  nv[k].flags = NGHTTP2_NV_FLAG_NONE;
  k++;
  h2_nv(nv + k, f, n);
  k += n;
  nghttp2_data_provider prd;
  prd.source.ptr = s;
  prd.read_callback = h2_read_data;
  int rc = nghttp2_submit_response(h->ng, s->id, nv, k, data ? &prd : NULL);
  wsv__rt_h2_want_flush(h);
  return rc == 0 ? 0 : -1;
}

/* ---- nghttp2's callbacks --------------------------------------------- */

static int h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f,
                               void *user) {
  struct wsv__h2 *h = user;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  if (h->shutting) {
    (void)nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                    NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  struct wsv__h2s *s = h2s_new(h, f->hd.stream_id);
  if (s == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  (void)nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, s);
  wsv__rt_h2_check_idle(h);
  return 0;
}

/* Keep one field of a header block as "name\0value\0" in s->hb; past
 * the limits only the count grows (the core then answers 431). */
static int h2_on_header(nghttp2_session *ng, const nghttp2_frame *f,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user) {
  struct wsv__h2 *h = user;
  (void)flags;
  struct wsv__h2s *s =
      nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
  if (s == NULL || s->headed)
    return 0;
  s->nfields++;
  size_t need = namelen + valuelen + 2;
  if (s->fields_over || s->nfields > h->max_fields + H2_PSEUDO_MAX ||
      s->hb.len + need > h->max_bytes + 64) {
    s->fields_over = 1;
    return 0;
  }
  if (h2_buf_add(&s->hb, name, namelen) != 0 ||
      h2_buf_add(&s->hb, "", 1) != 0 ||
      h2_buf_add(&s->hb, value, valuelen) != 0 ||
      h2_buf_add(&s->hb, "", 1) != 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

size_t wsv__rt_h2_fields(const struct wsv__h2s *s, struct wsv_header *out,
                         size_t cap) {
  const char *hb = (const char *)s->hb.p;
  size_t k = 0;
  size_t i = 0;
  while (i < s->hb.len && k < cap) {
    size_t nl = strlen(hb + i);
    size_t vl = strlen(hb + i + nl + 1);
    out[k].name.ptr = hb + i;
    out[k].name.len = nl;
    out[k].value.ptr = hb + i + nl + 1;
    out[k].value.len = vl;
    k++;
    i += nl + vl + 2;
  }
  return k;
}

static int h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f,
                            void *user) {
  struct wsv__h2 *h = user;
  if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
    if (h->role->settings != NULL)
      h->role->settings(h);
    return 0;
  }
  struct wsv__h2s *s =
      nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
  if (s == NULL)
    return 0;
  if (f->hd.type == NGHTTP2_HEADERS && !s->headed &&
      (f->headers.cat == NGHTTP2_HCAT_REQUEST ||
       f->headers.cat == NGHTTP2_HCAT_RESPONSE)) {
    s->headed = 1;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
      s->in_eof = 1;
    h->role->headers(h, s);
    return 0;
  }
  if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    s->in_eof = 1;
    h2s_wake(s);
  }
  return 0;
}

static int h2_on_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                      const uint8_t *data, size_t len, void *user) {
  struct wsv__h2 *h = user;
  (void)flags;
  /* The connection's window opens at once (h2.h): only the stream's
   * waits for its reader. */
  (void)nghttp2_session_consume_connection(ng, len);
  struct wsv__h2s *s = nghttp2_session_get_stream_user_data(ng, id);
  if (s == NULL || s->ws == NULL) {
    /* No WebSocket reads this stream (a request body, a refused or a
     * detached stream): drop it. */
    (void)nghttp2_session_consume_stream(ng, id, len);
    wsv__rt_h2_want_flush(h);
    return 0;
  }
  if (h2_buf_add(&s->in, data, len) != 0)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  h2s_wake(s);
  wsv__rt_h2_want_flush(h);
  return 0;
}

/* A plain answer or a refusal is complete (END_STREAM sent): a client
 * that has not ended its side is asked to stop with RST_STREAM NO_ERROR
 * (RFC 9113 §8.1), so the stream does not keep one of the connection's
 * slots until it does. */
static int h2_on_frame_send(nghttp2_session *ng, const nghttp2_frame *f,
                            void *user) {
  (void)user;
  if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
      !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  struct wsv__h2s *s =
      nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
  if (s != NULL && s->answered && s->ws == NULL && !s->in_eof && !s->closed)
    (void)nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                    NGHTTP2_NO_ERROR);
  return 0;
}

/* nghttp2's text for an error it found (kept for the close's reason). */
static int h2_on_error(nghttp2_session *ng, int code, const char *msg,
                       size_t len, void *user) {
  struct wsv__h2 *h = user;
  (void)ng;
  (void)code;
  snprintf(h->err, sizeof h->err, "%.*s", (int)len, msg);
  return 0;
}

static int h2_on_close(nghttp2_session *ng, int32_t id, uint32_t code,
                       void *user) {
  struct wsv__h2 *h = user;
  struct wsv__h2s *s = nghttp2_session_get_stream_user_data(ng, id);
  (void)h;
  if (s == NULL)
    return 0;
  s->closed = 1;
  if (s->ws == NULL) {
    h2s_free(s);
  } else {
    if (code != NGHTTP2_NO_ERROR || !s->in_eof)
      s->in_rst = 1;
    s->rst_code = code;
    h2s_wake(s);
  }
  wsv__rt_h2_check_idle(h);
  return 0;
}

/* ---- the connection's socket ----------------------------------------------
 */

/* Write what nghttp2 has, gathered up to H2_OUT_BATCH per write, until it
 * has nothing more or the socket is full.  0, or -1 (the connection
 * failed and was closed). */
static int h2_write(struct wsv__h2 *h) {
  for (;;) {
    while (h2_buf_size(&h->out) < H2_OUT_BATCH) {
      const uint8_t *p = NULL;
      ssize_t n = nghttp2_session_mem_send(h->ng, &p);
      if (n < 0) {
        wsv__rt_h2_close(h, "HTTP/2 error");
        return -1;
      }
      if (n == 0)
        break;
      if (h2_buf_add(&h->out, p, (size_t)n) != 0) {
        wsv__rt_h2_close(h, "out of memory");
        return -1;
      }
    }
    size_t have = h2_buf_size(&h->out);
    if (have == 0) {
      wsv__tp_write_idle(&h->tp);
      break;
    }
    struct iovec iov = {h->out.p + h->out.off, have};
    ssize_t w = wsv__tp_writev(&h->tp, &iov, 1, have);
    if (w < 0) {
      wsv__rt_h2_close(h, wsv__tp_tls(&h->tp) != NULL && errno == EPROTO
                              ? wsv__rt_tls_error(&h->tp)
                              : wsv__rt_errno_text(errno));
      return -1;
    }
    h2_buf_eat_keep(&h->out, (size_t)w);
    if ((size_t)w < have)
      return 0; /* EPOLLOUT is armed */
  }
  if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng) &&
      h2_buf_size(&h->out) == 0) {
    /* GOAWAY done (ours after an error nghttp2 found, or the peer's). */
    wsv__rt_h2_close(h, h->err[0] != '\0' ? h->err : NULL);
    return -1;
  }
  return 0;
}

static void h2_read(struct wsv__h2 *h) {
  struct wsv_loop *loop = h->tp.loop;
  ssize_t n = wsv__tp_read(&h->tp, loop->rbuf, loop->rbuf_cap);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return;
    wsv__rt_h2_close(h, wsv__tp_tls(&h->tp) != NULL && errno == EPROTO
                            ? wsv__rt_tls_error(&h->tp)
                            : wsv__rt_errno_text(errno));
    return;
  }
  if (n == 0) {
    wsv__rt_h2_close(h, "connection closed by peer");
    return;
  }
  if (wsv__rt_h2_feed(h, loop->rbuf, (size_t)n) == 0 && h->wk != NULL &&
      h->nws == 0 && !h->shutting)
    h2srv_idle_timer(h);
}

int wsv__rt_h2_feed(struct wsv__h2 *h, const uint8_t *p, size_t n) {
  if (h->dead)
    return -1;
  ssize_t r = nghttp2_session_mem_recv(h->ng, p, n);
  if (r < 0) {
    /* nghttp2 has queued a GOAWAY for most errors: send it, then close. */
    h->why = nghttp2_strerror((int)r);
    (void)h2_write(h);
    if (!h->dead)
      wsv__rt_h2_close(h, nghttp2_strerror((int)r));
    return -1;
  }
  wsv__rt_h2_want_flush(h);
  return 0;
}

static void h2_on_event(struct wsv__tp *tp, uint32_t events) {
  struct wsv__h2 *h = (struct wsv__h2 *)(void *)tp;
  if (!wsv__rt_tls_ready(tp)) {
    if (h->role->tls_step != NULL)
      h->role->tls_step(h);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP) ||
      ((events & EPOLLOUT) && wsv__tp_read_wants_out(tp)))
    h2_read(h);
  if (!h->dead && (events & EPOLLOUT))
    (void)h2_write(h);
}

static void h2_on_flush(struct wsv__tp *tp) {
  struct wsv__h2 *h = (struct wsv__h2 *)(void *)tp;
  if (!h->dead && wsv__rt_tls_ready(tp))
    (void)h2_write(h);
}

static void h2_on_timeout(struct wsv__tp *tp) {
  struct wsv__h2 *h = (struct wsv__h2 *)(void *)tp;
  if (h->role->timeout != NULL)
    h->role->timeout(h);
  else
    wsv__rt_h2_close(h, "timeout");
}

static void h2_on_free(struct wsv__tp *tp) {
  struct wsv__h2 *h = (struct wsv__h2 *)(void *)tp;
  while (h->streams != NULL) {
    if (h->streams->ws != NULL) /* never: the close ended them (h2_close) */
      h->streams->ws->tp.h2s = NULL;
    h2s_free(h->streams);
  }
  if (h->role->gone != NULL)
    h->role->gone(h);
  nghttp2_session_del(h->ng);
  h->ng = NULL;
  h2_buf_free(&h->out);
  wsv__tp_release(&h->tp);
  free(h->host);
  free(h);
}

static const struct wsv__tp_ops h2_ops = {h2_on_event, h2_on_flush,
                                          h2_on_timeout, h2_on_free};

void wsv__rt_h2_close(struct wsv__h2 *h, const char *why) {
  if (h->dead)
    return;
  h->dead = 1;
  if (why != NULL || h->why == NULL)
    h->why = why;
  if (why != NULL)
    wsv__rt_log(h->ctx, WSV_LOG_DEBUG, "HTTP/2 connection closed: %s", why);
  /* Every WebSocket on it ends now (a paused one would not read the
   * reset); their streams detach before the connection is freed. */
  for (struct wsv__h2s *s = h->streams; s != NULL;) {
    struct wsv__h2s *next = s->next;
    s->closed = 1;
    s->in_rst = 1;
    if (s->ws != NULL)
      wsv__rt_ws_terminate(s->ws, WSV_ERR_CLOSED,
                           "the HTTP/2 connection closed");
    s = next;
  }
  wsv__tp_retire(&h->tp);
}

struct wsv__h2 *wsv__rt_h2_new(struct wsv__tp *from, int server,
                               const struct wsv__rt_ctx *ctx,
                               const struct wsv__h2_role *role,
                               size_t max_fields, size_t max_bytes) {
  struct wsv__h2 *h = calloc(1, sizeof *h);
  if (h == NULL)
    return NULL;
  if (wsv__tp_init(&h->tp, from->loop, &h2_ops, -1) != 0) {
    free(h);
    return NULL;
  }
  h->ctx = ctx;
  h->role = role;
  h->out.mem = wsv__rt_loop_mem(from->loop); /* NULL: plain malloc */
  h->max_fields = max_fields;
  h->max_bytes = max_bytes;
  nghttp2_session_callbacks *cb = NULL;
  nghttp2_option *opt = NULL;
  if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
    goto fail;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                          h2_on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
  nghttp2_session_callbacks_set_error_callback2(cb, h2_on_error);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2_on_frame_send);
  /* Windows open as the readers consume (h2.h), not as nghttp2 parses. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_session *ng = NULL;
  int rc = server ? nghttp2_session_server_new2(&ng, cb, h, opt)
                  : nghttp2_session_client_new2(&ng, cb, h, opt);
  h->ng = ng;
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  cb = NULL;
  opt = NULL;
  if (rc != 0)
    goto fail;
  /* Move the socket: its watch, its TLS. */
  int fd = from->w.fd;
  uint32_t events = EPOLLIN | (from->w.events & (uint32_t)EPOLLOUT);
  wsv__tp_unwatch(from);
  h->tp.w.fd = fd;
  h->tp.tls = wsv__tp_tls(from);
  from->tls = NULL;
  from->w.fd = -1;
  if (wsv__tp_watch(&h->tp, events) != 0) {
    /* The caller still owns nothing: the socket is ours now. */
    wsv__rt_h2_close(h, "epoll");
    return NULL;
  }
  return h;
fail:
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  nghttp2_session_del(h->ng);
  free(h);
  return NULL;
}

int wsv__rt_h2_settings(struct wsv__h2 *h, int connect_protocol) {
  nghttp2_settings_entry iv[4];
  size_t n = 0;
  iv[n].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
  iv[n++].value = WSV__H2_MAX_STREAMS;
  iv[n].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
  iv[n++].value = (uint32_t)WSV__H2S_WINDOW;
  iv[n].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
  iv[n++].value =
      (uint32_t)(h->max_bytes < UINT32_MAX ? h->max_bytes : UINT32_MAX);
  if (connect_protocol) {
    iv[n].settings_id = NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL;
    iv[n++].value = 1;
  }
  if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, n) != 0)
    return -1;
  /* The connection's window: wide, since it is opened at once. */
  (void)nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)16 << 20);
  wsv__rt_h2_want_flush(h);
  return 0;
}

int wsv__rt_h2_remote_connect_protocol(const struct wsv__h2 *h) {
  return nghttp2_session_get_remote_settings(
             h->ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1;
}

struct wsv__h2s *wsv__rt_h2_request(struct wsv__h2 *h,
                                    const struct wsv_header *f, size_t n) {
  nghttp2_nv nv[WSV__H2_MAX_ANSWER_FIELDS];
  if (n > WSV__H2_MAX_ANSWER_FIELDS)
    return NULL;
  h2_nv(nv, f, n);
  struct wsv__h2s *s = h2s_new(h, 0);
  if (s == NULL)
    return NULL;
  nghttp2_data_provider prd;
  prd.source.ptr = s;
  prd.read_callback = h2_read_data;
  int32_t id = nghttp2_submit_request(h->ng, NULL, nv, n, &prd, s);
  if (id < 0) {
    h2s_free(s);
    return NULL;
  }
  s->id = id;
  wsv__rt_h2_want_flush(h);
  return s;
}

void wsv__rt_h2_attach(struct wsv__h2s *s, struct wsv_ws *ws) {
  if (s->ws == NULL)
    s->h->nws++;
  s->ws = ws;
  ws->tp.stream = 1;
  ws->tp.h2s = s;
}

/* ---- the server side ------------------------------------------------------
 */

/* The worker's HTTP/2 connections. */
static void h2srv_link(struct wsv__h2 *h) {
  struct srv_worker *wk = h->wk;
  h->next = wk->h2;
  if (wk->h2 != NULL)
    wk->h2->prev = h;
  wk->h2 = h;
  wk->nconns++;
}

static void h2srv_gone(struct wsv__h2 *h) {
  struct srv_worker *wk = h->wk;
  if (h->prev != NULL)
    h->prev->next = h->next;
  else if (wk->h2 == h)
    wk->h2 = h->next;
  if (h->next != NULL)
    h->next->prev = h->prev;
  wsv__rt_srv_conn_gone(wk, 1);
}

/* (Re)start a server connection's idle timer. */
static void h2srv_idle_timer(struct wsv__h2 *h) {
  uint32_t ms = h->ctx->limits.handshake_timeout_ms;
  (void)wsv__tp_timer(&h->tp, ms ? ms : 10000);
}

/* A server connection without a WebSocket is idle: during a shutdown
 * GOAWAY goes out at once and the connection closes when its last
 * stream (an answer still being sent) is done; otherwise the idle timer
 * runs (the handshake timeout, restarted whenever the client sends
 * something), so a client that opens streams and stalls is dropped. */
void wsv__rt_h2_check_idle(struct wsv__h2 *h) {
  if (h->dead)
    return;
  if (h->nws == 0 && h2_buf_size(&h->out) == 0)
    h2_buf_free(&h->out); /* an idle connection keeps no write buffer */
  if (h->wk == NULL) {
    /* A client's connection ends with its WebSocket's stream. */
    if (h->nstreams == 0 && h->user == NULL && !h->goaway) {
      h->goaway = 1;
      (void)nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
      wsv__rt_h2_want_flush(h);
    }
    return;
  }
  if (h->nws > 0) {
    (void)wsv__tp_timer(&h->tp, 0);
    return;
  }
  if (h->shutting) {
    if (!h->goaway) {
      h->goaway = 1;
      (void)nghttp2_submit_goaway(
          h->ng, NGHTTP2_FLAG_NONE,
          nghttp2_session_get_last_proc_stream_id(h->ng), NGHTTP2_NO_ERROR,
          NULL, 0);
      wsv__rt_h2_want_flush(h);
    }
    if (h->nstreams == 0 && !h->terminated) {
      h->terminated = 1;
      (void)nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
      wsv__rt_h2_want_flush(h);
    }
    return;
  }
  h2srv_idle_timer(h);
}

static void h2srv_timeout(struct wsv__h2 *h) {
  if (h->nws == 0 && !h->shutting) {
    wsv__rt_log(h->ctx, WSV_LOG_DEBUG, "HTTP/2: idle connection: GOAWAY");
    h->shutting = 1;
    wsv__rt_h2_check_idle(h);
    (void)wsv__tp_timer(&h->tp, 1000); /* then close, written or not */
    return;
  }
  wsv__rt_h2_close(h, "GOAWAY not taken in time");
}

/* The strings a WebSocket keeps from its request. */
static int h2srv_names(struct wsv_ws *ws, const struct wsv_hs_server *hs,
                       const struct wsv_header *ans, size_t nans) {
  if (wsv__rt_srv_take_strings(ws, hs) != 0)
    return -1;
  for (size_t i = 0; i < nans; i++) {
    if (ans[i].name.len == 24 &&
        memcmp(ans[i].name.ptr, "sec-websocket-extensions", 24) == 0 &&
        ans[i].value.len > 0) {
      if (wsv__rt_names(ws) == NULL ||
          (ws->names->extensions =
               wsv__rt_strndup(ans[i].value.ptr, ans[i].value.len)) == NULL)
        return -1;
    }
  }
  return 0;
}

/* An accepted extended CONNECT: the 200 and a WebSocket on the stream. */
static void h2srv_accept(struct wsv__h2 *h, struct wsv__h2s *s,
                         struct srv_hs *sh) {
  struct srv_worker *wk = h->wk;
  struct wsv_server *srv = wk->srv;
  const struct wsv_hs_server *hs = sh->hs;
  struct wsv_header ans[WSV__H2_MAX_ANSWER_FIELDS];
  size_t nans = wsv_hs_server_response_h2(hs, ans, WSV__H2_MAX_ANSWER_FIELDS);
  if (nans > WSV__H2_MAX_ANSWER_FIELDS)
    nans = WSV__H2_MAX_ANSWER_FIELDS;
  struct wsv_ws *ws =
      wsv__rt_ws_new(h->tp.loop, &srv->ctx, &wsv__rt_srv_hs_ops, -1, 0);
  if (ws == NULL) {
    wsv__rt_srv_hs_put(wk, sh);
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                    NGHTTP2_INTERNAL_ERROR);
    return;
  }
  wsv__rt_h2_attach(s, ws);
  wsv__rt_srv_link(wk, ws);
  ws->phase = WS_HANDSHAKE;
  ws->hs = sh;
  struct wsv_pmd_params pmd;
  memset(&pmd, 0, sizeof pmd);
  (void)wsv_hs_server_pmd(hs, &pmd);
  wsv__rt_pmd_pack(&ws->pmd, &pmd);
  if (h2srv_names(ws, hs, ans, nans) != 0 ||
      wsv__rt_h2_submit(h, s, 200, ans, nans, 1) != 0) {
    wsv__rt_ws_terminate(ws, WSV_ERR_NOMEM, NULL);
    return;
  }
  char peer[80] = "?";
  (void)wsv__tp_peer(&h->tp, peer, sizeof peer);
  wsv__rt_log(h->ctx, WSV_LOG_DEBUG,
              "%s: WebSocket over HTTP/2 (stream %d) on %s", peer, (int)s->id,
              wsv_ws_path(ws));
  (void)wsv__rt_ws_opened(ws, NULL, 0);
  if (ws->phase != WS_DEAD)
    wsv__rt_srv_free_hs(ws);
  h2_buf_free(&s->hb); /* the request's fields: judged, kept where needed */
}

/* "Name: value\r\n" lines (a plain-HTTP callback's extra headers) as
 * fields with lower-case names, into low[0..cap) and f[k..); returns the
 * new count. */
static size_t h2srv_extra(const char *lines, char *low, size_t cap,
                          struct wsv_header *f, size_t k, size_t max) {
  size_t used = 0;
  const char *p = lines;
  while (p != NULL && *p != '\0' && k < max) {
    const char *eol = strstr(p, "\r\n");
    if (eol == NULL)
      break;
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon != NULL && colon > p && used + (size_t)(colon - p) <= cap) {
      size_t nl = (size_t)(colon - p);
      for (size_t i = 0; i < nl; i++) {
        char c = p[i];
        low[used + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
      }
      const char *v = colon + 1;
      while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      /* Connection-specific fields have no place in HTTP/2. */
      static const char *const skip[] = {"connection",        "keep-alive",
                                         "transfer-encoding", "upgrade",
                                         "content-length",    NULL};
      int bad = 0;
      for (int j = 0; skip[j] != NULL; j++)
        if (strlen(skip[j]) == nl && memcmp(low + used, skip[j], nl) == 0)
          bad = 1;
      if (!bad) {
        f[k].name.ptr = low + used;
        f[k].name.len = nl;
        f[k].value.ptr = v;
        f[k].value.len = (size_t)(ve - v);
        k++;
        used += nl;
      }
    }
    p = eol + 2;
  }
  return k;
}

/* A plain request: the plain-HTTP callback's answer, then END_STREAM. */
static void h2srv_plain(struct wsv__h2 *h, struct wsv__h2s *s,
                        const struct wsv_hs_server *hs) {
  struct wsv_http_response res;
  int head = wsv__rt_srv_http_call(h->wk->srv, hs, &res);
  s->answered = 1;
  struct wsv_header f[WSV__H2_MAX_ANSWER_FIELDS];
  char clen[24];
  char low[1024];
  size_t k = 0;
  f[k].name = (struct wsv_str){"content-type", 12};
  const char *ct =
      res.content_type != NULL ? res.content_type : "text/plain; charset=utf-8";
  f[k].value = (struct wsv_str){ct, strlen(ct)};
  k++;
  int cl = snprintf(clen, sizeof clen, "%zu", res.body_len);
  f[k].name = (struct wsv_str){"content-length", 14};
  f[k].value = (struct wsv_str){clen, (size_t)cl};
  k++;
  if (res.headers != NULL)
    k = h2srv_extra(res.headers, low, sizeof low, f, k,
                    WSV__H2_MAX_ANSWER_FIELDS);
  s->end = 1;
  int data = 0;
  if (!head && res.body_len > 0 &&
      h->answers + res.body_len > WSV__H2_ANSWER_BUDGET) {
    /* One connection may ask for many files at once: what they hold
     * unsent is bounded (per connection, as HTTP/1.1 holds one). */
    static const char busy[] =
        "too many answers in flight on this connection; retry\n";
    struct wsv_header f503[3] = {
        {{"content-type", 12}, {"text/plain; charset=utf-8", 25}},
        {{"retry-after", 11}, {"1", 1}}};
    s->answer = 1;
    if (h2_buf_add(&s->out, busy, sizeof busy - 1) == 0) {
      h->answers += sizeof busy - 1;
      (void)wsv__rt_h2_submit(h, s, 503, f503, 2, 1);
    } else {
      (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                      NGHTTP2_INTERNAL_ERROR);
    }
    return;
  }
  if (!head && res.body_len > 0) {
    s->answer = 1;
    h->answers += res.body_len;
    if (h2_buf_add(&s->out, res.body, res.body_len) != 0) {
      h->answers -= res.body_len;
      (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                      NGHTTP2_INTERNAL_ERROR);
      return;
    }
    data = 1;
  }
  (void)wsv__rt_h2_submit(h, s, res.status, f, k, data);
}

/* A refusal: its status, the core's fields, the one-line body. */
static void h2srv_reject(struct wsv__h2 *h, struct wsv__h2s *s,
                         const struct wsv_hs_server *hs) {
  struct wsv_header f[WSV__H2_MAX_ANSWER_FIELDS];
  size_t k = wsv_hs_server_response_h2(hs, f, WSV__H2_MAX_ANSWER_FIELDS - 1);
  if (k > WSV__H2_MAX_ANSWER_FIELDS - 1)
    k = WSV__H2_MAX_ANSWER_FIELDS - 1;
  const char *why = wsv_hs_server_reason(hs);
  size_t wl = strlen(why);
  s->answered = 1;
  wsv__rt_log(h->ctx, WSV_LOG_DEBUG, "HTTP/2 stream %d refused: %d %s",
              (int)s->id, wsv_hs_server_status(hs), why);
  s->end = 1;
  if (h2_buf_add(&s->out, why, wl) != 0 || h2_buf_add(&s->out, "\n", 1) != 0) {
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                    NGHTTP2_INTERNAL_ERROR);
    return;
  }
  (void)wsv__rt_h2_submit(h, s, wsv_hs_server_status(hs), f, k, 1);
}

/* A request's header block is complete: judge it. */
static void h2srv_headers(struct wsv__h2 *h, struct wsv__h2s *s) {
  struct srv_worker *wk = h->wk;
  struct srv_hs *sh = wsv__rt_srv_hs_get(wk);
  if (sh == NULL) {
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                    NGHTTP2_INTERNAL_ERROR);
    return;
  }
  /* Past a limit the kept fields (at most max_fields + H2_PSEUDO_MAX)
   * are followed by max_fields + 1 filler fields, so that the core
   * counts more regular fields than max_headers and answers 431. */
  size_t cap =
      s->fields_over ? 2 * h->max_fields + 1 + H2_PSEUDO_MAX : s->nfields;
  struct wsv_header *f = calloc(cap ? cap : 1, sizeof *f);
  if (f == NULL) {
    wsv__rt_srv_hs_put(wk, sh);
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                    NGHTTP2_INTERNAL_ERROR);
    return;
  }
  size_t n = wsv__rt_h2_fields(s, f, cap);
  for (size_t i = 0; s->fields_over && i <= h->max_fields && n < cap; i++)
    f[n++] = (struct wsv_header){{"x", 1}, {"", 0}};
  int r = wsv_hs_server_parse_h2(sh->hs, f, n);
  if (r == WSV_HS_ACCEPT) {
    h2srv_accept(h, s, sh);
    free(f);
    return;
  }
  if (r == WSV_HS_PLAIN_HTTP && wk->srv->http != NULL)
    h2srv_plain(h, s, sh->hs);
  else if (r == WSV_HS_REJECT || r == WSV_HS_PLAIN_HTTP)
    h2srv_reject(h, s, sh->hs);
  else
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                    NGHTTP2_INTERNAL_ERROR);
  free(f);
  wsv__rt_srv_hs_put(wk, sh);
  h2_buf_free(&s->hb); /* the request's fields: judged, kept where needed */
}

static const struct wsv__h2_role h2srv_role = {h2srv_headers, NULL,
                                               h2srv_timeout, h2srv_gone, NULL};

int wsv__rt_h2_server_take(struct wsv_ws *ws, const uint8_t *pre, size_t n) {
  struct srv_worker *wk = wsv__rt_worker_of(ws);
  struct wsv_server *srv = wk->srv;
  struct wsv__h2 *h =
      wsv__rt_h2_new(&ws->tp, 1, &srv->ctx, &h2srv_role,
                     srv->hs_cfg.max_headers, srv->hs_cfg.max_head_bytes);
  /* The placeholder ends either way; the socket is the connection's now
   * (or was closed with it). */
  wsv__rt_ws_terminate(ws, 0, "");
  if (h == NULL)
    return -1;
  h->wk = wk;
  atomic_fetch_add(&srv->nconns, 1);
  h2srv_link(h);
  if (wsv__rt_h2_settings(h, srv->h2_websocket) != 0) {
    wsv__rt_h2_close(h, "out of memory");
    return -1;
  }
  wsv__rt_h2_check_idle(h);
  if (n > 0 && wsv__rt_h2_feed(h, pre, n) != 0)
    return 0;
  wsv__tp_read_again(&h->tp); /* TLS may hold input already */
  return 0;
}

void wsv__rt_h2_shutdown_all(struct srv_worker *wk) {
  for (struct wsv__h2 *h = wk->h2; h != NULL; h = h->next) {
    h->shutting = 1;
    wsv__rt_h2_check_idle(h);
  }
}

void wsv__rt_h2_drop_all(struct srv_worker *wk) {
  struct wsv__h2 *h = wk->h2;
  while (h != NULL) {
    struct wsv__h2 *next = h->next;
    wsv__rt_h2_close(h, NULL);
    h = next;
  }
}
