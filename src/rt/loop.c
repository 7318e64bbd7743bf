/*
 * loop.c - the event loop: epoll (level-triggered), an eventfd for
 * wake-ups and cross-thread posts, fd watches, signalfd handles,
 * end-of-iteration hooks and per-loop extensions.  One iteration: wait
 * (until the first timer at most; not at all when a user asked for it),
 * dispatch fd events, fire due timers, run posts, then run the hooks (the
 * transports write their queued output and finish what closed there).
 * It knows fds, timers, signals and posts, and nothing of its users.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_int.h"

#define LOOP_BATCH 256

/* One queued wsv_loop_post call. */
struct loop_post {
  wsv_post_fn fn;
  void *user;
  struct loop_post *next;
};

struct wsv_io {
  struct wsv__rt_watch w;
  struct wsv_loop *loop;
  wsv_io_fn cb;
  void *user;
  unsigned want;
};

struct wsv_signal {
  struct wsv__rt_watch w;
  struct wsv_loop *loop;
  wsv_signal_fn cb;
  void *user;
  sigset_t set;
  sigset_t old; /* the calling thread's mask before start */
};

uint64_t wsv__rt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- watches --------------------------------------------------------------
 */

int wsv__rt_watch_add(struct wsv_loop *loop, struct wsv__rt_watch *w,
                      uint32_t events) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.ptr = w;
  if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0)
    return -1;
  w->events = events;
  return 0;
}

int wsv__rt_watch_mod(struct wsv_loop *loop, struct wsv__rt_watch *w,
                      uint32_t events) {
  if (events == w->events)
    return 0;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.ptr = w;
  if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
    return -1;
  w->events = events;
  return 0;
}

void wsv__rt_watch_del(struct wsv_loop *loop, struct wsv__rt_watch *w) {
  if (w->fd >= 0)
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  w->events = 0;
  for (int i = 0; i < loop->batch_len; i++)
    if (loop->batch[i].data.ptr == w)
      loop->batch[i].data.ptr = NULL;
}

/* ---- wake-ups and posts ---------------------------------------------------
 */

void wsv__rt_loop_wake(struct wsv_loop *loop) {
  uint64_t one = 1;
  ssize_t r;
  do
    r = write(loop->wake.fd, &one, sizeof one);
  while (r < 0 && errno == EINTR);
}

/* Take the whole post queue and run it, in order. */
static void loop_run_posts(struct wsv_loop *loop) {
  pthread_mutex_lock(&loop->post_mu);
  struct loop_post *p = loop->post_head;
  loop->post_head = loop->post_tail = NULL;
  pthread_mutex_unlock(&loop->post_mu);
  while (p != NULL) {
    struct loop_post *next = p->next;
    p->fn(loop, p->user);
    free(p);
    p = next;
  }
}

static void loop_on_wake(struct wsv__rt_watch *w, uint32_t events) {
  struct wsv_loop *loop =
      (struct wsv_loop *)((char *)w - offsetof(struct wsv_loop, wake));
  uint64_t n;
  (void)events;
  while (read(w->fd, &n, sizeof n) < 0 && errno == EINTR)
    ;
  if (loop->wake_hook != NULL)
    loop->wake_hook(loop, loop->wake_user);
}

int wsv_loop_post(struct wsv_loop *loop, wsv_post_fn fn, void *user) {
  if (loop == NULL || fn == NULL)
    return WSV_ERR_INVAL;
  struct loop_post *p = malloc(sizeof *p);
  if (p == NULL)
    return WSV_ERR_NOMEM;
  p->fn = fn;
  p->user = user;
  p->next = NULL;
  pthread_mutex_lock(&loop->post_mu);
  int was_empty = loop->post_head == NULL;
  if (loop->post_tail != NULL)
    loop->post_tail->next = p;
  else
    loop->post_head = p;
  loop->post_tail = p;
  pthread_mutex_unlock(&loop->post_mu);
  if (was_empty)
    wsv__rt_loop_wake(loop);
  return 0;
}

/* ---- the loop --------------------------------------------------------------
 */

int wsv__rt_loop_rbuf(struct wsv_loop *loop, size_t size) {
  if (loop->rbuf_cap >= size)
    return 0;
  uint8_t *p = realloc(loop->rbuf, size);
  if (p == NULL)
    return -1;
  loop->rbuf = p;
  loop->rbuf_cap = size;
  return 0;
}

/* The code of the system call that just failed (errno kept). */
static int loop_errno_code(void) {
  return wsv_err_from_errno(errno);
}

int wsv_loop_new(struct wsv_loop **out) {
  if (out == NULL)
    return WSV_ERR_INVAL;
  *out = NULL;
  struct wsv_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL)
    return WSV_ERR_NOMEM;
  loop->wake.fd = -1;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epfd < 0)
    goto fail;
  loop->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  loop->wake.fn = loop_on_wake;
  if (loop->wake.fd < 0 || wsv__rt_watch_add(loop, &loop->wake, EPOLLIN) != 0)
    goto fail;
  loop->batch = malloc(LOOP_BATCH * sizeof *loop->batch);
  if (loop->batch == NULL) {
    errno = ENOMEM;
    goto fail;
  }
  loop->batch_cap = LOOP_BATCH;
  pthread_mutex_init(&loop->post_mu, NULL);
  atomic_init(&loop->stop, 0);
  atomic_init(&loop->running, 0);
  loop->now = wsv__rt_now_ms();
  *out = loop;
  return 0;
fail:;
  int rc = loop_errno_code();
  int e = errno;
  if (loop->wake.fd >= 0)
    close(loop->wake.fd);
  if (loop->epfd >= 0)
    close(loop->epfd);
  free(loop->batch);
  free(loop);
  errno = e;
  return rc;
}

/* Run every hook once; nonzero when one left work. */
static int loop_run_hooks(struct wsv_loop *loop) {
  int more = 0;
  loop->dont_wait = 0;
  for (int i = 0; i < loop->nhooks; i++)
    more |= loop->hooks[i].fn(loop, loop->hooks[i].user) != 0;
  if (more)
    loop->dont_wait = 1;
  return more || loop->dont_wait;
}

void wsv_loop_free(struct wsv_loop *loop) {
  if (loop == NULL)
    return;
  /* Posts still queued run now, so they can free what they carry; they
   * may post again, so repeat until the queue stays empty. */
  while (loop->post_head != NULL)
    loop_run_posts(loop);
  /* The extensions drop what they own (a client's connections, ...),
   * the hooks finish it, then the extensions go.  Timers and watches the
   * application left are its memory: free the heap only. */
  for (int i = loop->nexts - 1; i >= 0; i--)
    if (loop->exts[i].type->close != NULL)
      loop->exts[i].type->close(loop, loop->exts[i].p);
  while (loop_run_hooks(loop))
    ;
  for (int i = loop->nexts - 1; i >= 0; i--) {
    if (loop->exts[i].type->free != NULL)
      loop->exts[i].type->free(loop, loop->exts[i].p);
    free(loop->exts[i].p);
  }
  for (size_t i = 0; i < loop->heap_len; i++)
    loop->heap[i]->heap_idx = WSV__RT_TIMER_OFF;
  free(loop->heap);
  pthread_mutex_destroy(&loop->post_mu);
  close(loop->wake.fd);
  close(loop->epfd);
  free(loop->batch);
  free(loop->rbuf);
  free(loop);
}

int wsv__rt_loop_hook(struct wsv_loop *loop, wsv__rt_hook_fn fn, void *user) {
  if (loop->nhooks == WSV__RT_HOOKS)
    return -1;
  loop->hooks[loop->nhooks].fn = fn;
  loop->hooks[loop->nhooks].user = user;
  loop->nhooks++;
  return 0;
}

void *wsv__rt_loop_ext_find(const struct wsv_loop *loop,
                            const struct wsv__rt_ext_type *type) {
  for (int i = 0; i < loop->nexts; i++)
    if (loop->exts[i].type == type)
      return loop->exts[i].p;
  return NULL;
}

void *wsv__rt_loop_ext(struct wsv_loop *loop,
                       const struct wsv__rt_ext_type *type) {
  void *p = wsv__rt_loop_ext_find(loop, type);
  if (p != NULL || loop->nexts == WSV__RT_EXTS)
    return p;
  p = calloc(1, type->size);
  if (p == NULL)
    return NULL;
  /* Listed before init, so that init may add hooks that find it. */
  loop->exts[loop->nexts].type = type;
  loop->exts[loop->nexts].p = p;
  loop->nexts++;
  if (type->init != NULL && type->init(loop, p) != 0) {
    loop->nexts--;
    free(p);
    return NULL;
  }
  return p;
}

int wsv__rt_loop_running_here(const struct wsv_loop *loop) {
  return atomic_load(&((struct wsv_loop *)(uintptr_t)loop)->running) &&
         pthread_equal(loop->owner, pthread_self());
}

/* Dispatch the batch; an entry whose watch was deleted is NULL. */
static void loop_dispatch(struct wsv_loop *loop) {
  for (int i = 0; i < loop->batch_len; i++) {
    struct wsv__rt_watch *w = loop->batch[i].data.ptr;
    if (w != NULL)
      w->fn(w, loop->batch[i].events);
  }
  loop->batch_len = 0;
}

int wsv_loop_run_once(struct wsv_loop *loop, int timeout_ms) {
  if (loop == NULL)
    return WSV_ERR_INVAL;
  int t = wsv__rt_timers_timeout(loop);
  if (loop->dont_wait)
    t = 0;
  if (t < 0 || (timeout_ms >= 0 && timeout_ms < t))
    t = timeout_ms;
  int n = epoll_wait(loop->epfd, loop->batch, loop->batch_cap, t);
  if (n < 0) {
    if (errno != EINTR)
      return loop_errno_code();
    n = 0;
  }
  loop->now = wsv__rt_now_ms();
  loop->batch_len = n;
  loop_dispatch(loop);
  int fired = wsv__rt_timers_run(loop);
  loop_run_posts(loop);
  (void)loop_run_hooks(loop);
  return n + fired;
}

int wsv_loop_run(struct wsv_loop *loop) {
  if (loop == NULL)
    return WSV_ERR_INVAL;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&loop->running, &expected, 1))
    return WSV_ERR_STATE;
  loop->owner = pthread_self();
  int rc = 0;
  do {
    int r = wsv_loop_run_once(loop, -1);
    if (r < 0) {
      rc = r;
      break;
    }
  } while (!atomic_exchange(&loop->stop, 0));
  atomic_store(&loop->running, 0);
  return rc;
}

void wsv_loop_stop(struct wsv_loop *loop) {
  if (loop == NULL)
    return;
  atomic_store(&loop->stop, 1);
  wsv__rt_loop_wake(loop);
}

uint64_t wsv_loop_now(const struct wsv_loop *loop) {
  return loop == NULL ? 0 : loop->now;
}

void wsv_loop_update(struct wsv_loop *loop) {
  if (loop != NULL)
    loop->now = wsv__rt_now_ms();
}

int wsv_loop_fd(const struct wsv_loop *loop) {
  return loop == NULL ? -1 : loop->epfd;
}

int wsv_loop_in_thread(const struct wsv_loop *loop) {
  if (loop == NULL)
    return 0;
  if (!atomic_load(&((struct wsv_loop *)(uintptr_t)loop)->running))
    return 1;
  return pthread_equal(loop->owner, pthread_self()) != 0;
}

/* ---- fd watches ------------------------------------------------------------
 */

static uint32_t io_epoll_bits(unsigned want) {
  return ((want & WSV_IO_READ) ? (uint32_t)EPOLLIN : 0u) |
         ((want & WSV_IO_WRITE) ? (uint32_t)EPOLLOUT : 0u);
}

static void io_on_event(struct wsv__rt_watch *w, uint32_t events) {
  struct wsv_io *io = (struct wsv_io *)w;
  unsigned bits = 0;
  if (events & (EPOLLIN | EPOLLRDHUP))
    bits |= WSV_IO_READ;
  if (events & EPOLLOUT)
    bits |= WSV_IO_WRITE;
  if (events & (EPOLLERR | EPOLLHUP))
    bits |= WSV_IO_ERROR;
  io->cb(io, io->w.fd, bits, io->user);
}

int wsv_io_start(struct wsv_loop *loop, struct wsv_io **out, int fd,
                 unsigned events, wsv_io_fn cb, void *user) {
  if (loop == NULL || out == NULL || cb == NULL || fd < 0 ||
      (events & ~(WSV_IO_READ | WSV_IO_WRITE)) != 0)
    return WSV_ERR_INVAL;
  struct wsv_io *io = calloc(1, sizeof *io);
  if (io == NULL)
    return WSV_ERR_NOMEM;
  io->w.fn = io_on_event;
  io->w.fd = fd;
  io->loop = loop;
  io->cb = cb;
  io->user = user;
  io->want = events;
  /* Register with nothing requested is still a registration: epoll always
   * reports EPOLLERR/EPOLLHUP, so a zero mask is fine. */
  if (wsv__rt_watch_add(loop, &io->w, io_epoll_bits(events)) != 0) {
    int rc = loop_errno_code();
    free(io);
    return rc;
  }
  *out = io;
  return 0;
}

int wsv_io_set(struct wsv_io *io, unsigned events) {
  if (io == NULL || (events & ~(WSV_IO_READ | WSV_IO_WRITE)) != 0)
    return WSV_ERR_INVAL;
  uint32_t bits = io_epoll_bits(events);
  if (bits != io->w.events) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = bits;
    ev.data.ptr = &io->w;
    if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->w.fd, &ev) != 0)
      return loop_errno_code();
    io->w.events = bits;
  }
  io->want = events;
  return 0;
}

unsigned wsv_io_events(const struct wsv_io *io) {
  return io == NULL ? 0 : io->want;
}

void wsv_io_stop(struct wsv_io *io) {
  if (io == NULL)
    return;
  wsv__rt_watch_del(io->loop, &io->w);
  free(io);
}

struct wsv_loop *wsv_io_loop(const struct wsv_io *io) {
  return io == NULL ? NULL : io->loop;
}

/* ---- signals ----------------------------------------------------------------
 */

static void sig_on_event(struct wsv__rt_watch *w, uint32_t events) {
  struct wsv_signal *s = (struct wsv_signal *)w;
  (void)events;
  /* Read one at a time: the callback may stop (and free) the handle. */
  struct signalfd_siginfo si;
  ssize_t r = read(w->fd, &si, sizeof si);
  if (r == (ssize_t)sizeof si)
    s->cb(s, (int)si.ssi_signo, s->user);
}

int wsv_signal_start(struct wsv_loop *loop, struct wsv_signal **out,
                     const int *signals, size_t n, wsv_signal_fn cb,
                     void *user) {
  if (loop == NULL || out == NULL || signals == NULL || n == 0 || cb == NULL)
    return WSV_ERR_INVAL;
  struct wsv_signal *s = calloc(1, sizeof *s);
  if (s == NULL)
    return WSV_ERR_NOMEM;
  sigemptyset(&s->set);
  for (size_t i = 0; i < n; i++) {
    if (signals[i] == SIGKILL || signals[i] == SIGSTOP ||
        sigaddset(&s->set, signals[i]) != 0) {
      free(s);
      return WSV_ERR_INVAL;
    }
  }
  if (pthread_sigmask(SIG_BLOCK, &s->set, &s->old) != 0) {
    free(s);
    return WSV_ERR_INVAL;
  }
  s->w.fd = signalfd(-1, &s->set, SFD_NONBLOCK | SFD_CLOEXEC);
  s->w.fn = sig_on_event;
  if (s->w.fd < 0 || wsv__rt_watch_add(loop, &s->w, EPOLLIN) != 0) {
    int rc = loop_errno_code();
    if (s->w.fd >= 0)
      close(s->w.fd);
    pthread_sigmask(SIG_SETMASK, &s->old, NULL);
    free(s);
    return rc;
  }
  s->loop = loop;
  s->cb = cb;
  s->user = user;
  *out = s;
  return 0;
}

void wsv_signal_stop(struct wsv_signal *s) {
  if (s == NULL)
    return;
  wsv__rt_watch_del(s->loop, &s->w);
  close(s->w.fd);
  /* Unblock only the signals that were not blocked before. */
  sigset_t unblock;
  sigemptyset(&unblock);
  for (int sig = 1; sig < NSIG; sig++)
    if (sigismember(&s->set, sig) == 1 && sigismember(&s->old, sig) == 0)
      sigaddset(&unblock, sig);
  pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
  free(s);
}
