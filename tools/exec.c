/*
 * exec.c - the exec bridge of `wsv serve --exec` and --dir: the life of
 * the program run for each connection.  Each message from the peer
 * becomes a line on its stdin (queued, written as the pipe takes it);
 * each line of its stdout becomes a message (text when valid UTF-8, else
 * binary; paused while the connection's send buffer is full); with
 * --binary, bytes go as they are both ways, what one read gets being one
 * binary message.  Each line of its stderr goes to the log with the
 * connection's number (cut at EXEC_ERR_LINE bytes).  Its exit closes the
 * connection with 1000; the connection's end closes its pipes.  Either
 * way its process group is then ended: SIGTERM, and SIGKILL later, on the
 * deadlines of --closems, driven by a timer per program (and a pidfd to
 * see its exit), and by exec_sweep once the server has stopped.  How a
 * program is started is exec_spawn.c's, its environment exec_env.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"
#include "wsv/utf8.h"

#include "cli.h"
#include "exec.h"
#include "serve.h"
#include "webpath.h"

/* After the connection is gone, a program gets --closems ms to exit once
 * its input is closed before SIGTERM, and as long again (at least
 * EXEC_KILL_MIN_MS) before SIGKILL; once it exited, what it left in its
 * process group gets SIGTERM at once and SIGKILL that long after. */
#define EXEC_KILL_MIN_MS 100
#define EXEC_REAP_POLL_MS 20
/* The sweep after the server stopped: deadlines at most this long. */
#define EXEC_SWEEP_TERM_MS 1000
/* Longest line of a program's stderr put in the log (longer: cut, with
 * "..."), so that the whole log line fits wsv_cli_log's 1 KiB. */
#define EXEC_ERR_LINE 960
/* Without pidfd_open (Linux < 5.3), how often a running program is
 * checked for its exit. */
#define EXEC_EXIT_POLL_MS 250
/* Bytes read from a program's output at a time. */
#define EXEC_READ_CHUNK 16384

/* Where a program (--exec) is in its life.  The program is the direct
 * child (stdbuf, which execs /bin/sh -c CMD), leader of a process group of
 * its own; whatever it starts stays in that group unless it leaves it. */
enum exec_child_phase {
  /* The connection is open and the program runs.  Its exit (seen on a
   * pidfd, or polled) ends the connection (1000) and the group. */
  EXEC_CHILD_RUNNING,
  /* The connection is gone, the program still runs: its input and output
   * are closed; SIGTERM to the group at term_at, SIGKILL at kill_at. */
  EXEC_CHILD_GRACE,
  /* The program exited and was reaped after its group got SIGTERM; what
   * is left of the group gets SIGKILL at kill_at. */
  EXEC_CHILD_GROUP,
  /* Nothing of the program is left to wait for. */
  EXEC_CHILD_DONE
};

/* The program run for one connection (--exec).  It outlives the
 * connection until its group is done (see enum exec_child_phase). */
struct exec_child {
  struct exec *x;
  struct wsv_ws *ws; /* NULL once the connection is gone */
  uint64_t *sent;    /* counts the messages sent; NULL once detached */
  unsigned long id;
  pid_t pid;
  int in_fd;  /* our end of its stdin, -1 once closed */
  int out_fd; /* our end of its stdout, -1 once closed */
  int err_fd; /* our end of its stderr, -1 once closed */
  struct wsv_io *in_io;
  struct wsv_io *out_io;
  struct wsv_io *err_io;
  int pidfd;                 /* readable once the program exits, or -1 */
  struct wsv_io *pid_io;     /* watching pidfd while RUNNING */
  struct wsv_timer *timer;   /* polling, signals and reaping */
  int phase;                 /* enum exec_child_phase */
  uint64_t term_at, kill_at; /* exec_now_ms() deadlines */
  int signalled; /* 0, then SIGTERM (1), then SIGKILL (2) sent while the
                    program itself still ran */
  int paused;    /* stdout not read until the drain callback */
  char *inq;     /* bytes for its stdin: inq[in_off..in_len) */
  size_t in_off, in_len, in_cap;
  char *line; /* a partial line of its stdout */
  size_t line_len, line_cap;
  int counted; /* counts in x->running */
  size_t err_len, err_skip; /* bytes in err_line; 1: cutting a long one */
  char err_line[EXEC_ERR_LINE];
  struct exec_child *prev, *next;
};

/* ---- the registry of programs alive -------------------------------------- */

static void exec_child_link(struct exec_child *ch) {
  struct exec *x = ch->x;
  pthread_mutex_lock(&x->mu);
  ch->next = x->children;
  if (x->children != NULL)
    x->children->prev = ch;
  x->children = ch;
  pthread_mutex_unlock(&x->mu);
}

static void exec_child_unlink(struct exec_child *ch) {
  struct exec *x = ch->x;
  pthread_mutex_lock(&x->mu);
  if (ch->prev != NULL)
    ch->prev->next = ch->next;
  else
    x->children = ch->next;
  if (ch->next != NULL)
    ch->next->prev = ch->prev;
  ch->prev = ch->next = NULL;
  pthread_mutex_unlock(&x->mu);
}

/* Stop watching *fd and close it (either may be unset already). */
static void exec_unwatch(struct wsv_io **io, int *fd) {
  wsv_io_stop(*io);
  *io = NULL;
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void exec_child_close_in(struct exec_child *ch) {
  exec_unwatch(&ch->in_io, &ch->in_fd);
  free(ch->inq);
  ch->inq = NULL;
  ch->in_off = ch->in_len = ch->in_cap = 0;
}

static void exec_child_close_out(struct exec_child *ch) {
  exec_unwatch(&ch->out_io, &ch->out_fd);
  free(ch->line);
  ch->line = NULL;
  ch->line_len = ch->line_cap = 0;
}

/* Log how a program ended, unless it exited 0 or died of the SIGPIPE that
 * closing its output after the connection ended may cause. */
static void exec_child_report(const struct exec_child *ch, int status) {
  if (ch->x->quiet)
    return;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
      WEXITSTATUS(status) != 128 + SIGPIPE)
    wsv_cli_log("wsv: #%lu program exited with status %d", ch->id,
                WEXITSTATUS(status));
  else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGPIPE)
    wsv_cli_log("wsv: #%lu program killed by signal %d (%s)%s", ch->id,
                WTERMSIG(status), strsignal(WTERMSIG(status)),
                ch->signalled ? ": it outlived its connection" : "");
}

static void exec_child_stop_pidfd(struct exec_child *ch) {
  exec_unwatch(&ch->pid_io, &ch->pidfd);
}

/* Log the line held in err_line (printable; NUL-free). */
static void exec_child_err_flush(struct exec_child *ch) {
  char shown[EXEC_ERR_LINE + 1];
  wsv_cli_printable(ch->err_line, ch->err_len, shown, sizeof shown);
  wsv_cli_log("wsv: #%lu stderr: %s%s", ch->id, shown,
              ch->err_len == sizeof ch->err_line ? "..." : "");
  ch->err_len = 0;
}

/* Read what the program wrote on stderr now (at most `rounds` reads) and
 * log each complete line; 0 at EOF or error, 1 otherwise. */
static int exec_child_err_read(struct exec_child *ch, int rounds) {
  char buf[4096];
  while (rounds-- > 0) {
    ssize_t n = read(ch->err_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 1;
    if (n <= 0)
      return 0;
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n') {
        if (!ch->err_skip)
          exec_child_err_flush(ch);
        ch->err_skip = 0;
        ch->err_len = 0;
      } else if (!ch->err_skip) {
        ch->err_line[ch->err_len++] = c;
        if (ch->err_len == sizeof ch->err_line) {
          exec_child_err_flush(ch); /* too long: the rest is dropped */
          ch->err_skip = 1;
        }
      }
    }
  }
  return 1;
}

/* Stop reading its stderr: what is there now is logged, a last partial
 * line too. */
static void exec_child_close_err(struct exec_child *ch) {
  if (ch->err_fd >= 0) {
    (void)exec_child_err_read(ch, 16);
    if (ch->err_len > 0 && !ch->err_skip)
      exec_child_err_flush(ch);
  }
  exec_unwatch(&ch->err_io, &ch->err_fd);
}

static void exec_child_free(struct exec_child *ch) {
  exec_child_close_in(ch);
  exec_child_close_out(ch);
  exec_child_close_err(ch);
  exec_child_stop_pidfd(ch);
  wsv_timer_free(ch->timer);
  if (ch->counted)
    atomic_fetch_sub(&ch->x->running, 1);
  free(ch);
}

/* The SIGKILL delay after SIGTERM. */
static uint64_t exec_kill_ms(const struct exec *x) {
  return x->closems > EXEC_KILL_MIN_MS ? x->closems : EXEC_KILL_MIN_MS;
}

/* Milliseconds of CLOCK_MONOTONIC: the deadlines work the same in the
 * loops and in the sweep after they stopped. */
static uint64_t exec_now_ms(void) {
  struct timespec ts;
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Has the program exited?  It is not reaped (WNOWAIT): as a zombie it
 * keeps its PID, which is also its group's ID, from being reused, so
 * signalling the group cannot reach an unrelated process. */
static int exec_child_has_exited(const struct exec_child *ch) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do
    r = waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT);
  while (r < 0 && errno == EINTR);
  return r < 0 || si.si_pid == ch->pid; /* ECHILD: gone already */
}

/* The program has exited: SIGTERM to what it left in its group (the
 * zombie leader still holds the group's ID), then reap it.  If anything
 * of the group is left (kill(-pgid, 0) succeeds: the ID stays in use while
 * a member lives, so it still names the same group), it gets SIGKILL
 * exec_kill_ms later; else the program is done. */
static void exec_child_end_group(struct exec_child *ch, uint64_t now) {
  (void)kill(-ch->pid, SIGTERM);
  int status = 0;
  pid_t r;
  do
    r = waitpid(ch->pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r == ch->pid)
    exec_child_report(ch, status);
  exec_child_close_err(ch);
  if (kill(-ch->pid, 0) == 0) {
    ch->phase = EXEC_CHILD_GROUP;
    ch->kill_at = now + exec_kill_ms(ch->x);
  } else {
    ch->phase = EXEC_CHILD_DONE;
  }
}

/* One step of the program's end, at time `now`: signals as the deadlines
 * pass, the reaping once it exited.  Returns 1 once it is done. */
static int exec_child_step(struct exec_child *ch, uint64_t now) {
  switch (ch->phase) {
  case EXEC_CHILD_GRACE:
    if (exec_child_has_exited(ch)) {
      exec_child_end_group(ch, now);
    } else if (ch->signalled == 0 && now >= ch->term_at) {
      (void)kill(-ch->pid, SIGTERM);
      ch->signalled = 1;
    } else if (ch->signalled == 1 && now >= ch->kill_at) {
      (void)kill(-ch->pid, SIGKILL);
      ch->signalled = 2;
    }
    break;
  case EXEC_CHILD_GROUP:
    if (kill(-ch->pid, 0) != 0) {
      ch->phase = EXEC_CHILD_DONE;
    } else if (now >= ch->kill_at) {
      (void)kill(-ch->pid, SIGKILL);
      ch->phase = EXEC_CHILD_DONE; /* nothing survives it */
    }
    break;
  default:
    break;
  }
  return ch->phase == EXEC_CHILD_DONE;
}

static void exec_child_on_exit(struct exec_child *ch);

/* The timer: the program's end once its connection is gone (or it
 * exited), and, without a pidfd, polling for its exit while it runs. */
static void exec_child_on_timer(struct wsv_timer *t, void *user) {
  struct exec_child *ch = user;
  if (ch->phase == EXEC_CHILD_RUNNING) {
    if (exec_child_has_exited(ch))
      exec_child_on_exit(ch);
    return;
  }
  if (!exec_child_step(ch, exec_now_ms()))
    return;
  wsv_timer_stop(t);
  if (ch->ws == NULL) {
    exec_child_unlink(ch);
    exec_child_free(ch); /* frees the timer: no more calls */
  }                      /* else the close callback frees it */
}

static void exec_child_timer(struct exec_child *ch, uint64_t every_ms) {
  if (wsv_timer_start(ch->timer, every_ms, every_ms) != 0) {
    /* Left to the sweep after the server stops. */
    wsv_cli_log("wsv: #%lu cannot start the program's timer", ch->id);
  }
}

/* The connection is gone: close the program's input and output (so it
 * sees EOF, and SIGPIPE if it still writes; its stderr is still read),
 * give it --closems ms to exit before its group gets SIGTERM, and
 * SIGKILL exec_kill_ms later. */
void exec_detach(struct exec_child *ch) {
  ch->ws = NULL;
  ch->sent = NULL;
  exec_child_close_in(ch);
  exec_child_close_out(ch);
  exec_child_stop_pidfd(ch);
  uint64_t now = exec_now_ms();
  if (ch->phase == EXEC_CHILD_RUNNING) {
    ch->phase = EXEC_CHILD_GRACE;
    ch->term_at = now + ch->x->closems;
    ch->kill_at = ch->term_at + exec_kill_ms(ch->x);
  }
  if (exec_child_step(ch, now)) {
    exec_child_unlink(ch);
    exec_child_free(ch);
    return;
  }
  exec_child_timer(ch, EXEC_REAP_POLL_MS);
}

/* Send one line of the program's output as a message: text when it is
 * valid UTF-8, binary otherwise. */
static int exec_child_emit(struct exec_child *ch, const char *p, size_t n) {
  int op = !ch->x->binary && wsv_utf8_valid((const uint8_t *)p, n) == WSV_OK
               ? WSV_OP_TEXT
               : WSV_OP_BINARY;
  int rc = wsv_ws_send(ch->ws, op, p, n);
  if (rc < 0)
    return rc;
  (*ch->sent)++;
  if (rc == 1 && !ch->paused) {
    ch->paused = 1;
    (void)wsv_io_set(ch->out_io, 0);
  }
  return 0;
}

/* The program's output has ended (EOF, or it exited and what it wrote is
 * read): send the last partial line and close the connection normally. */
static void exec_child_eof(struct exec_child *ch) {
  if (ch->out_fd >= 0 && ch->line_len > 0)
    (void)exec_child_emit(ch, ch->line, ch->line_len);
  exec_child_close_out(ch);
  (void)wsv_ws_close(ch->ws, 1000, NULL, 0);
}

/* Read once from the program's output and send every complete line.
 * Returns 1 when bytes were read, 0 when none are there now, -1 at EOF
 * (or a read error), -2 when the output was closed here (out of memory,
 * or the connection is closing). */
static int exec_child_read(struct exec_child *ch) {
  if (ch->out_fd < 0)
    return -2;
  if (wsv_cli_reserve(&ch->line, &ch->line_cap, ch->line_len,
                      EXEC_READ_CHUNK) != 0) {
    (void)wsv_ws_close(ch->ws, 1011, "out of memory", 13);
    exec_child_close_out(ch);
    return -2;
  }
  ssize_t n = read(ch->out_fd, ch->line + ch->line_len, EXEC_READ_CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    return -1;
  if (ch->x->binary) { /* as it comes: one read, one message */
    if (exec_child_emit(ch, ch->line, (size_t)n) < 0) {
      exec_child_close_out(ch);
      return -2;
    }
    return 1;
  }
  size_t start = 0, scan = ch->line_len;
  ch->line_len += (size_t)n;
  for (;;) {
    char *nl = memchr(ch->line + scan, '\n', ch->line_len - scan);
    size_t end;
    if (nl != NULL)
      end = (size_t)(nl - ch->line);
    else if (ch->line_len - start >= ch->x->max_line)
      end = start + ch->x->max_line; /* too long: send it in pieces */
    else
      break;
    if (exec_child_emit(ch, ch->line + start, end - start) < 0) {
      exec_child_close_out(ch); /* the connection is closing */
      return -2;
    }
    start = nl != NULL ? end + 1 : end;
    scan = start;
  }
  if (start > 0) {
    memmove(ch->line, ch->line + start, ch->line_len - start);
    ch->line_len -= start;
  }
  return 1;
}

/* The program exited while its connection is open: what it wrote is in
 * the pipe (read it, whatever the send buffer holds: at most the pipe's
 * size, so that a background writer cannot keep this loop going), then
 * the connection closes with 1000, as at EOF, even if something it
 * started still holds its output; and its group gets SIGTERM. */
static void exec_child_on_exit(struct exec_child *ch) {
  exec_child_stop_pidfd(ch);
  wsv_timer_stop(ch->timer);
  int r = 0;
  if (ch->out_fd >= 0) {
    int size = fcntl(ch->out_fd, F_GETPIPE_SZ);
    int reads = (size > 0 ? size : 1 << 20) / EXEC_READ_CHUNK + 2;
    while (reads-- > 0 && (r = exec_child_read(ch)) == 1)
      ;
  }
  if (r != -2)
    exec_child_eof(ch);
  exec_child_close_in(ch);
  exec_child_end_group(ch, exec_now_ms());
  if (ch->phase != EXEC_CHILD_DONE)
    exec_child_timer(ch, EXEC_REAP_POLL_MS);
}

/* Write what is queued for the program's stdin; 0, or -1 when its input
 * is gone (it closed stdin or exited). */
static int exec_child_write(struct exec_child *ch) {
  while (ch->in_off < ch->in_len) {
    ssize_t n = write(ch->in_fd, ch->inq + ch->in_off, ch->in_len - ch->in_off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      break;
    if (n < 0)
      return -1;
    ch->in_off += (size_t)n;
  }
  if (ch->in_off == ch->in_len)
    ch->in_off = ch->in_len = 0;
  (void)wsv_io_set(ch->in_io, ch->in_len > 0 ? WSV_IO_WRITE : 0);
  return 0;
}

/* The program's pipes and pidfd: its output is readable, its input has
 * room, or it exited. */
static void exec_child_on_io(struct wsv_io *io, int fd, unsigned events,
                             void *user) {
  struct exec_child *ch = user;
  (void)fd;
  (void)events;
  if (io == ch->pid_io) {
    exec_child_on_exit(ch);
  } else if (io == ch->out_io) {
    if (exec_child_read(ch) == -1)
      exec_child_eof(ch);
  } else if (io == ch->in_io) {
    if (exec_child_write(ch) != 0)
      exec_child_close_in(ch);
  } else if (io == ch->err_io) {
    if (exec_child_err_read(ch, 4) == 0)
      exec_child_close_err(ch);
  }
}

/* A message from the peer: one line on the program's stdin. */
void exec_input(struct exec_child *ch, const void *data, size_t len) {
  if (ch->in_fd < 0)
    return; /* the program closed its input: drop the message */
  size_t queued = ch->in_len - ch->in_off;
  size_t nl = ch->x->binary ? 0 : 1; /* the newline after a line */
  if (queued + len + 1 > ch->x->max_input) {
    (void)wsv_ws_close(ch->ws, 1008, "the program is not reading its input",
                       36);
    exec_child_close_in(ch);
    return;
  }
  if (ch->in_off > 0 && ch->in_len + len + 1 > ch->in_cap) {
    memmove(ch->inq, ch->inq + ch->in_off, queued);
    ch->in_off = 0;
    ch->in_len = queued;
  }
  if (ch->in_len + len + 1 > ch->in_cap) {
    size_t cap = ch->in_cap ? ch->in_cap : 4096;
    while (cap < ch->in_len + len + 1)
      cap *= 2;
    char *q = realloc(ch->inq, cap);
    if (q == NULL) {
      (void)wsv_ws_close(ch->ws, 1011, "out of memory", 13);
      return;
    }
    ch->inq = q;
    ch->in_cap = cap;
  }
  if (len > 0)
    memcpy(ch->inq + ch->in_len, data, len);
  ch->inq[ch->in_len + len] = '\n'; /* kept only when nl is 1 */
  ch->in_len += len + nl;
  if (exec_child_write(ch) != 0)
    exec_child_close_in(ch);
}

/* A pidfd for `pid` (Linux 5.3 and later; close-on-exec), or -1. */
static int exec_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

static int exec_set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --dir: the program for the connection's path, its SCRIPT_NAME and
 * PATH_INFO (into the caller's buffers).  0, or an HTTP status with a
 * reason in *why. */
static int exec_find(const struct exec *x, const char *path, size_t len,
                     char *prog, size_t pcap, char *script, size_t scap,
                     char *info, size_t icap, const char **why) {
  char decoded[WEBPATH_MAX + 1];
  int r = webpath_decode(path, len, decoded, sizeof decoded);
  if (x->cmd != NULL) {
    /* --exec: websocketd's SCRIPT_NAME is "/" and PATH_INFO the path
     * (decoded; as received when it does not decode: nothing is looked
     * up with it). */
    snprintf(prog, pcap, "%s", x->cmd);
    snprintf(script, scap, "/");
    if (r != WEBPATH_OK && r != WEBPATH_DOTFILE)
      snprintf(info, icap, "%.*s", (int)len, path);
    else
      snprintf(info, icap, "%s", strcmp(decoded, "/") == 0 ? "" : decoded);
    return 0;
  }
  if (r != WEBPATH_OK) {
    *why = r == WEBPATH_DOTDOT    ? "'.' and '..' are not allowed in the path"
           : r == WEBPATH_DOTFILE ? "no program at this path (dot file)"
                                  : "malformed path";
    return r == WEBPATH_DOTFILE ? 404 : 400;
  }
  const char *rest = "";
  r = webpath_program(x->dir, decoded, prog, pcap, script, scap, &rest, why);
  if (r == 0)
    snprintf(info, icap, "%s", rest);
  return r;
}

int exec_admit(struct exec *x, const char *path, size_t len,
               const char **why) {
  char prog[PATH_MAX], script[WEBPATH_MAX + 1], info[WEBPATH_MAX + 1];
  int r = x->cmd != NULL ? 0
                         : exec_find(x, path, len, prog, sizeof prog, script,
                                     sizeof script, info, sizeof info, why);
  if (r != 0)
    return r;
  if (x->maxforks != 0 && atomic_load(&x->running) >= x->maxforks) {
    *why = "too many programs running (--maxforks); try again later";
    return 429;
  }
  return 0;
}

int exec_start(struct exec *x, struct wsv_ws *ws, unsigned long id,
               uint64_t *sent, struct exec_child **child) {
  struct exec_child *ch = calloc(1, sizeof *ch);
  int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
  size_t nadd = 0;
  char **env = NULL;
  int err = ENOMEM;
  char prog[PATH_MAX], script[WEBPATH_MAX + 1], info[WEBPATH_MAX + 1];
  const char *path = wsv_ws_path(ws), *why = "";
  if (exec_find(x, path, strlen(path), prog, sizeof prog, script,
                sizeof script, info, sizeof info, &why) != 0) {
    wsv_cli_log("wsv: #%lu cannot run a program: %s", id, why);
    free(ch);
    return -1; /* removed since the handshake */
  }
  /* The slot: the accept hook checked it, but other threads may have
   * taken the last one since. */
  size_t was = atomic_fetch_add(&x->running, 1);
  if (x->maxforks != 0 && was >= x->maxforks) {
    atomic_fetch_sub(&x->running, 1);
    wsv_cli_log("wsv: #%lu too many programs running (--maxforks %zu)", id,
                x->maxforks);
    free(ch);
    return -1;
  }
  if (ch == NULL) {
    atomic_fetch_sub(&x->running, 1);
    goto fail;
  }
  ch->counted = 1;
  ch->x = x;
  ch->ws = ws;
  ch->sent = sent;
  ch->id = id;
  ch->in_fd = ch->out_fd = ch->err_fd = ch->pidfd = -1;
  ch->phase = EXEC_CHILD_RUNNING;
  if (wsv_timer_new(wsv_ws_loop(ws), &ch->timer, exec_child_on_timer, ch) != 0)
    goto fail;
  env = exec_env_new(x, ws, script, info, &nadd);
  if (env == NULL)
    goto fail;
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(er, O_CLOEXEC) != 0) {
    err = errno;
    goto fail;
  }
  if (exec_set_nonblock(in[1]) != 0 || exec_set_nonblock(out[0]) != 0 ||
      exec_set_nonblock(er[0]) != 0) {
    err = errno;
    goto fail;
  }
  char *argv[8];
  exec_spawn_argv(x, prog, argv);
  err = exec_spawn(argv, env, &ch->pid, in, out, er);
  if (err != 0)
    goto fail;
  exec_env_free(env, nadd);
  env = NULL;
  close(in[0]);
  close(out[1]);
  close(er[1]);
  ch->in_fd = in[1];
  ch->out_fd = out[0];
  ch->err_fd = er[0];
  in[0] = in[1] = out[0] = out[1] = er[0] = er[1] = -1;
  exec_child_link(ch);
  *child = ch;
  if (wsv_io_start(wsv_ws_loop(ws), &ch->out_io, ch->out_fd, WSV_IO_READ,
                   exec_child_on_io, ch) != 0 ||
      wsv_io_start(wsv_ws_loop(ws), &ch->in_io, ch->in_fd, 0, exec_child_on_io,
                   ch) != 0 ||
      wsv_io_start(wsv_ws_loop(ws), &ch->err_io, ch->err_fd, WSV_IO_READ,
                   exec_child_on_io, ch) != 0) {
    wsv_cli_log("wsv: #%lu cannot watch the program's pipes", id);
    return -1; /* the close callback detaches and reaps it */
  }
  /* Its exit ends the connection: watch a pidfd (it works on a zombie
   * too, so an exit before this point is seen), or poll without one. */
  ch->pidfd = exec_pidfd_open(ch->pid);
  if (ch->pidfd < 0 || wsv_io_start(wsv_ws_loop(ws), &ch->pid_io, ch->pidfd,
                                    WSV_IO_READ, exec_child_on_io, ch) != 0) {
    exec_child_stop_pidfd(ch);
    exec_child_timer(ch, EXEC_EXIT_POLL_MS);
  }
  return 0;
fail:
  wsv_cli_log("wsv: #%lu cannot run the program: %s", id, strerror(err));
  exec_env_free(env, nadd);
  for (int k = 0; k < 2; k++) {
    if (in[k] >= 0)
      close(in[k]);
    if (out[k] >= 0)
      close(out[k]);
    if (er[k] >= 0)
      close(er[k]);
  }
  if (ch != NULL) {
    wsv_timer_free(ch->timer);
    if (ch->counted)
      atomic_fetch_sub(&x->running, 1);
    free(ch);
  }
  return -1;
}

/* After the server stopped: the loops no longer run, so end the programs
 * still alive here, on shorter deadlines: SIGTERM to the group after
 * --closems but 1 s at most, SIGKILL as long after; what an exited
 * program left behind gets SIGKILL after 1 s at most. */
void exec_sweep(struct exec *x) {
  uint64_t t0 = exec_now_ms();
  uint64_t term = x->closems < EXEC_SWEEP_TERM_MS ? x->closems
                                                  : EXEC_SWEEP_TERM_MS;
  uint64_t kill_ms = term > EXEC_KILL_MIN_MS ? term : EXEC_KILL_MIN_MS;
  for (struct exec_child *ch = x->children; ch != NULL; ch = ch->next) {
    exec_child_close_in(ch);
    exec_child_close_out(ch);
    exec_child_close_err(ch);
    exec_child_stop_pidfd(ch);
    ch->ws = NULL;
    ch->sent = NULL;
    if (ch->phase == EXEC_CHILD_RUNNING) {
      ch->phase = EXEC_CHILD_GRACE;
      ch->term_at = ch->kill_at = UINT64_MAX;
    }
    if (ch->phase == EXEC_CHILD_GRACE) {
      if (ch->term_at > t0 + term)
        ch->term_at = t0 + term;
      if (ch->kill_at > ch->term_at + kill_ms)
        ch->kill_at = ch->term_at + kill_ms;
    } else if (ch->phase == EXEC_CHILD_GROUP &&
               ch->kill_at > t0 + kill_ms) {
      ch->kill_at = t0 + kill_ms;
    }
  }
  while (x->children != NULL) {
    uint64_t now = exec_now_ms();
    struct exec_child *next;
    for (struct exec_child *ch = x->children; ch != NULL; ch = next) {
      next = ch->next;
      if (exec_child_step(ch, now)) {
        exec_child_unlink(ch);
        exec_child_free(ch);
      }
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    (void)nanosleep(&ts, NULL);
  }
}

void exec_drain(struct exec_child *ch) {
  if (!ch->paused)
    return;
  ch->paused = 0;
  if (ch->out_io != NULL)
    (void)wsv_io_set(ch->out_io, WSV_IO_READ);
}

int exec_init(struct exec *x, const struct serve_opts *o,
              const struct rlimit *nofile) {
  x->cmd = o->exec;
  x->quiet = o->quiet;
  x->binary = o->binary;
  x->closems = o->closems;
  x->maxforks = o->maxforks;
  atomic_init(&x->running, 0);
  x->max_line = o->max_message != 0 && o->max_message < (1u << 24)
                    ? (size_t)o->max_message
                    : (size_t)1 << 24;
  x->max_input = (size_t)16 << 20;
  if (o->dir != NULL) {
    struct stat st;
    x->dir = realpath(o->dir, NULL);
    if (x->dir == NULL)
      return errno == ENOMEM ? -1 : -2;
    if (stat(x->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return -2;
    }
  }
  if (pthread_mutex_init(&x->mu, NULL) != 0)
    return -1;
  x->mu_ready = 1;
  return exec_spawn_setup(x, o->passenv, nofile);
}

void exec_free(struct exec *x) {
  if (x->mu_ready)
    pthread_mutex_destroy(&x->mu);
  x->mu_ready = 0;
  free(x->base_env);
  x->base_env = NULL;
  free(x->dir);
  x->dir = NULL;
}
