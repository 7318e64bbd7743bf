/*
 * serve.c - `wsv serve`: a WebSocket server for people and test drivers.
 *
 * Every path echoes by default; --chat makes each path a publish/subscribe
 * topic; --exec runs a program per connection and bridges its standard
 * input and output to the socket, one line per message.  A browser's
 * plain GET / gets a small page (page.html) that talks to the server.
 *
 * The runtime (wsv/rt.h) does the sockets, threads and signals; this file
 * adds the command line, the log, the page and the child processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"
#include "wsv/utf8.h"

#include "cli.h"
#include "wsv_tool.h"

static const char serve_usage[] =
    "usage: wsv serve [--host H] [--port P] [--versions LIST] [--threads N]\n"
    "                 [--chat | --exec CMD] [--max-message BYTES]\n"
    "                 [--max-connections N] [--handshake-timeout MS]\n"
    "                 [--close-timeout MS]\n"
    "                 [--output-budget BYTES] [--input-budget BYTES]\n"
    "                 [--cert FILE --key FILE] [--no-deflate | --deflate "
    "MODE]\n"
    "                 [--origin LIST] [--sameorigin] [--passenv LIST]\n"
    "                 [--quiet] [-v]\n"
    "\n"
    "Serve WebSocket connections: echo every message back (the default),\n"
    "relay it to every connection on the same path (--chat), or bridge it\n"
    "to a program (--exec).  A browser opening http://HOST:PORT/ gets a\n"
    "page that talks to the server.\n"
    "\n"
    "  --host H             address to listen on (default 127.0.0.1; 0.0.0.0\n"
    "                       or :: for every address)\n"
    "  --port P             port (default 8080; 0 picks a free one)\n"
    "  --versions LIST      WebSocket versions to accept, from 13, 8, 7\n"
    "                       (default 13)\n"
    "  --threads N          worker threads (default 1; 0: one per CPU)\n"
    "  --chat               send every message to every connection on the\n"
    "                       same path, the sender included\n"
    "  --exec CMD           run CMD (/bin/sh -c) per connection: each\n"
    "                       message becomes a line on its standard input,\n"
    "                       each line it prints a text message; its exit\n"
    "                       closes the connection (1000) and sends SIGTERM\n"
    "                       to what is left of its process group (SIGKILL\n"
    "                       2 s later); the connection's end closes its\n"
    "                       input, and the group gets SIGTERM 2 s later\n"
    "                       (SIGKILL 2 s after that)\n"
    "  --passenv LIST       --exec: also pass these environment variables\n"
    "                       (comma-separated names).  The program gets only\n"
    "                       PATH, LD_LIBRARY_PATH (when set), these, and\n"
    "                       WSV_PATH, WSV_QUERY, WSV_PEER, WSV_VERSION\n"
    "  --origin LIST        the web pages that may open a WebSocket, by\n"
    "                       the Origin their browser sends: comma-separated\n"
    "                       scheme://host[:port], host[:port] (any scheme;\n"
    "                       any port without one), *.domain (subdomains),\n"
    "                       null, or * (every page); others get 403\n"
    "  --sameorigin         allow pages served by this host:port (this\n"
    "                       server's own page); with --origin, either one\n";

/* The limits part of the help (C11 compilers need not take longer
 * strings). */
static const char serve_usage_limits[] =
    "  --max-message BYTES  largest message accepted (default 16M; K, M, G\n"
    "                       suffixes)\n"
    "  --max-connections N  most connections at once (default: no limit)\n"
    "  --output-budget BYTES\n"
    "                       most bytes queued for all connections together\n"
    "                       (default 1G; 0: none); past it the ones holding\n"
    "                       the most are closed with 1008\n"
    "  --input-budget BYTES most bytes held by messages being received, all\n"
    "                       connections together (default 256M; 0: none); a\n"
    "                       message that would pass it is refused with 1009\n"
    "  --close-timeout MS   time a Close gets to be answered, and a closed\n"
    "                       connection's last bytes to be read, before TCP\n"
    "                       is dropped (reset if data is left; default 5000)\n"
    "  --handshake-timeout MS\n"
    "                       time allowed from accept to the end of the\n"
    "                       opening handshake, TLS included (default 10000)\n"
    "  --cert FILE          TLS: serve https:// and wss:// with this\n"
    "                       certificate (PEM; the chain may follow it)\n"
    "  --key FILE           TLS: the certificate's private key (PEM); --cert\n"
    "                       and --key go together\n"
    "  --deflate MODE       permessage-deflate (RFC 7692) when a client\n"
    "                       offers it: on (the default), lean (no context\n"
    "                       kept between messages: less memory per\n"
    "                       connection) or off\n"
    "  --no-deflate         the same as --deflate off\n"
    "  --quiet              no line per connection (and no record of\n"
    "                       its own: less memory per idle connection)\n"
    "  -v, --verbose        also log rejected handshakes and other details\n"
    "\n"
    "Without --origin or --sameorigin, --exec accepts pages of its own\n"
    "origin only, reached by IP address or as localhost: any other site's\n"
    "page, opened in a browser, could run the program through it (a host\n"
    "name could be a DNS-rebinding page's: --sameorigin allows names too).\n"
    "Echo and chat accept every page (nothing runs).\n"
    "A request without Origin (not a browser) is always accepted.\n"
    "\n"
    "SIGINT or SIGTERM closes every connection with 1001 and exits 0.\n"
    "The soft limit on open files is raised to the hard limit (-v shows\n"
    "both); programs run by --exec get the original one back.\n";

/* How messages are handled. */
enum serve_mode { SERVE_ECHO, SERVE_CHAT, SERVE_EXEC };

/* After the connection is gone, a program gets this long to exit once its
 * input is closed before SIGTERM, and as long again before SIGKILL. */
#define SERVE_REAP_TERM_MS 2000
#define SERVE_REAP_KILL_MS 4000
#define SERVE_REAP_POLL_MS 20
/* Once the program exited, what it left in its process group gets
 * SIGTERM at once and SIGKILL this long after. */
#define SERVE_GROUP_KILL_MS 2000
/* Without pidfd_open (Linux < 5.3), how often a running program is
 * checked for its exit. */
#define SERVE_EXIT_POLL_MS 250
/* Bytes read from a program's output at a time. */
#define SERVE_READ_CHUNK 16384

struct serve_opts {
  const char *host;
  uint16_t port;
  uint32_t versions;
  int threads;
  int mode;
  const char *exec;
  int quiet;
  int verbose;
  uint64_t max_message; /* 0: the core's default */
  size_t max_connections;
  uint32_t handshake_timeout_ms; /* 0: the runtime's default */
  uint32_t close_timeout_ms;     /* 0: the runtime's default */
  const char *cert;              /* TLS, with key */
  const char *key;
  int deflate;    /* enum wsv_pmd_policy: WSV_PMD_ON unless told */
  char *origins;  /* --origin lists joined by commas (malloc'd), or NULL */
  int sameorigin; /* --sameorigin */
  char *passenv;  /* --passenv lists joined by commas (malloc'd), or NULL */
  /* Server-wide memory budgets; UINT64_MAX: the runtime's default. */
  uint64_t output_budget;
  uint64_t input_budget;
};

struct serve_child;

/* The whole server: shared by every thread, read-only once running except
 * for the atomic counter and the child registry (under its mutex). */
struct serve {
  struct serve_opts opt;
  struct wsv_server *srv;
  atomic_ulong next_id;
  /* The argv of each program: [stdbuf -oL] /bin/sh -c CMD, or with the
   * open-files limit to give back, [stdbuf -oL] /bin/sh -c
   * 'ulimit -S -n N; exec /bin/sh -c "$1"' sh CMD. */
  char *exec_argv[8];
  char stdbuf[256];
  char exec_script[96];
  size_t max_input; /* bytes queued for a program's stdin at most */
  size_t max_line;  /* longest line read from a program */
  int starting;     /* during wsv_server_new: keep errors, print none */
  char start_err[320];
  pthread_mutex_t mu; /* guards `children` */
  struct serve_child *children;
  /* Which pages may open a WebSocket; NULL: every one (no accept hook). */
  struct wsv_origin_policy *origin;
  /* --exec: the variables every program gets (PATH, LD_LIBRARY_PATH,
   * --passenv), pointers into environ; NULL-terminated, malloc'd. */
  char **base_env;
  size_t base_env_n;
  /* RLIMIT_NOFILE before it was raised, given back to the programs. */
  struct rlimit nofile;
  int nofile_raised;
};

/* One WebSocket connection. */
struct serve_conn {
  struct serve *st;
  unsigned long id;
  uint64_t opened_ms;
  uint64_t in;  /* messages received */
  uint64_t out; /* messages sent (echo, exec) */
  struct serve_child *child;
};

/* Where a program (--exec) is in its life.  The program is the direct
 * child (stdbuf, which execs /bin/sh -c CMD), leader of a process group of
 * its own; whatever it starts stays in that group unless it leaves it. */
enum serve_child_phase {
  /* The connection is open and the program runs.  Its exit (seen on a
   * pidfd, or polled) ends the connection (1000) and the group. */
  SERVE_CHILD_RUNNING,
  /* The connection is gone, the program still runs: its input and output
   * are closed; SIGTERM to the group at term_at, SIGKILL at kill_at. */
  SERVE_CHILD_GRACE,
  /* The program exited and was reaped after its group got SIGTERM; what
   * is left of the group gets SIGKILL at kill_at. */
  SERVE_CHILD_GROUP,
  /* Nothing of the program is left to wait for. */
  SERVE_CHILD_DONE
};

/* The program run for one connection (--exec).  It outlives the
 * connection until its group is done (see enum serve_child_phase). */
struct serve_child {
  struct serve *st;
  struct wsv_ws *ws; /* NULL once the connection is gone */
  struct serve_conn *conn;
  unsigned long id;
  pid_t pid;
  int in_fd;  /* our end of its stdin, -1 once closed */
  int out_fd; /* our end of its stdout, -1 once closed */
  struct wsv_io *in_io;
  struct wsv_io *out_io;
  int pidfd;                 /* readable once the program exits, or -1 */
  struct wsv_io *pid_io;     /* watching pidfd while RUNNING */
  struct wsv_timer *timer;   /* polling, signals and reaping */
  int phase;                 /* enum serve_child_phase */
  uint64_t term_at, kill_at; /* serve_now_ms() deadlines */
  int signalled; /* 0, then SIGTERM (1), then SIGKILL (2) sent while the
                    program itself still ran */
  int paused;    /* stdout not read until the drain callback */
  char *inq;     /* bytes for its stdin: inq[in_off..in_len) */
  size_t in_off, in_len, in_cap;
  char *line; /* a partial line of its stdout */
  size_t line_len, line_cap;
  struct serve_child *prev, *next;
};

/* ---- logging ------------------------------------------------------------ */

/* The runtime's log: errors and warnings always, notices unless --quiet,
 * details with -v.  While the server is being set up, errors are kept for
 * the startup message instead. */
static void serve_on_log(void *user, int level, const char *text) {
  struct serve *st = user;
  if (st->starting && level == WSV_LOG_ERROR) {
    snprintf(st->start_err, sizeof st->start_err, "%s", text);
    return;
  }
  if (level <= WSV_LOG_WARN || (level == WSV_LOG_INFO && !st->opt.quiet) ||
      st->opt.verbose)
    wsv_cli_log("wsv: %s", text);
}

static const char *serve_mode_name(int mode) {
  return mode == SERVE_CHAT ? "chat" : mode == SERVE_EXEC ? "exec" : "echo";
}

/* ---- the child registry ------------------------------------------------- */

static void serve_child_link(struct serve_child *ch) {
  struct serve *st = ch->st;
  pthread_mutex_lock(&st->mu);
  ch->next = st->children;
  if (st->children != NULL)
    st->children->prev = ch;
  st->children = ch;
  pthread_mutex_unlock(&st->mu);
}

static void serve_child_unlink(struct serve_child *ch) {
  struct serve *st = ch->st;
  pthread_mutex_lock(&st->mu);
  if (ch->prev != NULL)
    ch->prev->next = ch->next;
  else
    st->children = ch->next;
  if (ch->next != NULL)
    ch->next->prev = ch->prev;
  ch->prev = ch->next = NULL;
  pthread_mutex_unlock(&st->mu);
}

/* ---- a program per connection (--exec) ---------------------------------- */

static void serve_child_close_in(struct serve_child *ch) {
  wsv_io_stop(ch->in_io);
  ch->in_io = NULL;
  if (ch->in_fd >= 0)
    close(ch->in_fd);
  ch->in_fd = -1;
  free(ch->inq);
  ch->inq = NULL;
  ch->in_off = ch->in_len = ch->in_cap = 0;
}

static void serve_child_close_out(struct serve_child *ch) {
  wsv_io_stop(ch->out_io);
  ch->out_io = NULL;
  if (ch->out_fd >= 0)
    close(ch->out_fd);
  ch->out_fd = -1;
  free(ch->line);
  ch->line = NULL;
  ch->line_len = ch->line_cap = 0;
}

/* Log how a program ended, unless it exited 0 or died of the SIGPIPE that
 * closing its output after the connection ended may cause. */
static void serve_child_report(const struct serve_child *ch, int status) {
  if (ch->st->opt.quiet)
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

static void serve_child_stop_pidfd(struct serve_child *ch) {
  wsv_io_stop(ch->pid_io);
  ch->pid_io = NULL;
  if (ch->pidfd >= 0)
    close(ch->pidfd);
  ch->pidfd = -1;
}

static void serve_child_free(struct serve_child *ch) {
  serve_child_close_in(ch);
  serve_child_close_out(ch);
  serve_child_stop_pidfd(ch);
  wsv_timer_free(ch->timer);
  free(ch);
}

/* Milliseconds of CLOCK_MONOTONIC: the deadlines work the same in the
 * loops and in the sweep after they stopped. */
static uint64_t serve_now_ms(void) {
  struct timespec ts;
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Has the program exited?  It is not reaped (WNOWAIT): as a zombie it
 * keeps its PID, which is also its group's ID, from being reused, so
 * signalling the group cannot reach an unrelated process. */
static int serve_child_has_exited(const struct serve_child *ch) {
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
 * SERVE_GROUP_KILL_MS later; else the program is done. */
static void serve_child_end_group(struct serve_child *ch, uint64_t now) {
  (void)kill(-ch->pid, SIGTERM);
  int status = 0;
  pid_t r;
  do
    r = waitpid(ch->pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r == ch->pid)
    serve_child_report(ch, status);
  if (kill(-ch->pid, 0) == 0) {
    ch->phase = SERVE_CHILD_GROUP;
    ch->kill_at = now + SERVE_GROUP_KILL_MS;
  } else {
    ch->phase = SERVE_CHILD_DONE;
  }
}

/* One step of the program's end, at time `now`: signals as the deadlines
 * pass, the reaping once it exited.  Returns 1 once it is done. */
static int serve_child_step(struct serve_child *ch, uint64_t now) {
  switch (ch->phase) {
  case SERVE_CHILD_GRACE:
    if (serve_child_has_exited(ch)) {
      serve_child_end_group(ch, now);
    } else if (ch->signalled == 0 && now >= ch->term_at) {
      (void)kill(-ch->pid, SIGTERM);
      ch->signalled = 1;
    } else if (ch->signalled == 1 && now >= ch->kill_at) {
      (void)kill(-ch->pid, SIGKILL);
      ch->signalled = 2;
    }
    break;
  case SERVE_CHILD_GROUP:
    if (kill(-ch->pid, 0) != 0) {
      ch->phase = SERVE_CHILD_DONE;
    } else if (now >= ch->kill_at) {
      (void)kill(-ch->pid, SIGKILL);
      ch->phase = SERVE_CHILD_DONE; /* nothing survives it */
    }
    break;
  default:
    break;
  }
  return ch->phase == SERVE_CHILD_DONE;
}

static void serve_child_on_exit(struct serve_child *ch);

/* The timer: the program's end once its connection is gone (or it
 * exited), and, without a pidfd, polling for its exit while it runs. */
static void serve_child_on_timer(struct wsv_timer *t, void *user) {
  struct serve_child *ch = user;
  if (ch->phase == SERVE_CHILD_RUNNING) {
    if (serve_child_has_exited(ch))
      serve_child_on_exit(ch);
    return;
  }
  if (!serve_child_step(ch, serve_now_ms()))
    return;
  wsv_timer_stop(t);
  if (ch->ws == NULL) {
    serve_child_unlink(ch);
    serve_child_free(ch); /* frees the timer: no more calls */
  }                       /* else the close callback frees it */
}

static void serve_child_timer(struct serve_child *ch, uint64_t every_ms) {
  if (wsv_timer_start(ch->timer, every_ms, every_ms) != 0) {
    /* Left to the sweep after the server stops. */
    wsv_cli_log("wsv: #%lu cannot start the program's timer", ch->id);
  }
}

/* The connection is gone: close the program's input and output (so it
 * sees EOF, and SIGPIPE if it still writes), give it SERVE_REAP_TERM_MS
 * to exit before its group gets SIGTERM, and SIGKILL at
 * SERVE_REAP_KILL_MS. */
static void serve_child_detach(struct serve_child *ch) {
  ch->ws = NULL;
  ch->conn = NULL;
  serve_child_close_in(ch);
  serve_child_close_out(ch);
  serve_child_stop_pidfd(ch);
  uint64_t now = serve_now_ms();
  if (ch->phase == SERVE_CHILD_RUNNING) {
    ch->phase = SERVE_CHILD_GRACE;
    ch->term_at = now + SERVE_REAP_TERM_MS;
    ch->kill_at = now + SERVE_REAP_KILL_MS;
  }
  if (serve_child_step(ch, now)) {
    serve_child_unlink(ch);
    serve_child_free(ch);
    return;
  }
  serve_child_timer(ch, SERVE_REAP_POLL_MS);
}

/* Send one line of the program's output as a message: text when it is
 * valid UTF-8, binary otherwise. */
static int serve_child_emit(struct serve_child *ch, const char *p, size_t n) {
  int op = wsv_utf8_valid((const uint8_t *)p, n) == WSV_OK ? WSV_OP_TEXT
                                                           : WSV_OP_BINARY;
  int rc = wsv_ws_send(ch->ws, op, p, n);
  if (rc < 0)
    return rc;
  ch->conn->out++;
  if (rc == 1 && !ch->paused) {
    ch->paused = 1;
    (void)wsv_io_set(ch->out_io, 0);
  }
  return 0;
}

/* The program's output has ended (EOF, or it exited and what it wrote is
 * read): send the last partial line and close the connection normally. */
static void serve_child_eof(struct serve_child *ch) {
  if (ch->out_fd >= 0 && ch->line_len > 0)
    (void)serve_child_emit(ch, ch->line, ch->line_len);
  serve_child_close_out(ch);
  (void)wsv_ws_close(ch->ws, 1000, NULL, 0);
}

/* Read once from the program's output and send every complete line.
 * Returns 1 when bytes were read, 0 when none are there now, -1 at EOF
 * (or a read error), -2 when the output was closed here (out of memory,
 * or the connection is closing). */
static int serve_child_read(struct serve_child *ch) {
  if (ch->out_fd < 0)
    return -2;
  if (ch->line_cap - ch->line_len < SERVE_READ_CHUNK) {
    size_t cap = ch->line_cap ? ch->line_cap * 2 : 2 * SERVE_READ_CHUNK;
    while (cap - ch->line_len < SERVE_READ_CHUNK)
      cap *= 2;
    char *q = realloc(ch->line, cap);
    if (q == NULL) {
      (void)wsv_ws_close(ch->ws, 1011, "out of memory", 13);
      serve_child_close_out(ch);
      return -2;
    }
    ch->line = q;
    ch->line_cap = cap;
  }
  ssize_t n = read(ch->out_fd, ch->line + ch->line_len, SERVE_READ_CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    return -1;
  size_t start = 0, scan = ch->line_len;
  ch->line_len += (size_t)n;
  for (;;) {
    char *nl = memchr(ch->line + scan, '\n', ch->line_len - scan);
    size_t end;
    if (nl != NULL)
      end = (size_t)(nl - ch->line);
    else if (ch->line_len - start >= ch->st->max_line)
      end = start + ch->st->max_line; /* too long: send it in pieces */
    else
      break;
    if (serve_child_emit(ch, ch->line + start, end - start) < 0) {
      serve_child_close_out(ch); /* the connection is closing */
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

static void serve_child_on_out(struct wsv_io *io, int fd, unsigned events,
                               void *user) {
  struct serve_child *ch = user;
  (void)io;
  (void)fd;
  (void)events;
  if (serve_child_read(ch) == -1)
    serve_child_eof(ch);
}

/* The program exited while its connection is open: what it wrote is in
 * the pipe (read it, whatever the send buffer holds: at most the pipe's
 * size, so that a background writer cannot keep this loop going), then
 * the connection closes with 1000, as at EOF, even if something it
 * started still holds its output; and its group gets SIGTERM. */
static void serve_child_on_exit(struct serve_child *ch) {
  serve_child_stop_pidfd(ch);
  wsv_timer_stop(ch->timer);
  int r = 0;
  if (ch->out_fd >= 0) {
    int size = fcntl(ch->out_fd, F_GETPIPE_SZ);
    int reads = (size > 0 ? size : 1 << 20) / SERVE_READ_CHUNK + 2;
    while (reads-- > 0 && (r = serve_child_read(ch)) == 1)
      ;
  }
  if (r != -2)
    serve_child_eof(ch);
  serve_child_close_in(ch);
  serve_child_end_group(ch, serve_now_ms());
  if (ch->phase != SERVE_CHILD_DONE)
    serve_child_timer(ch, SERVE_REAP_POLL_MS);
}

static void serve_child_on_pidfd(struct wsv_io *io, int fd, unsigned events,
                                 void *user) {
  (void)io;
  (void)fd;
  (void)events;
  serve_child_on_exit(user);
}

/* Write what is queued for the program's stdin; 0, or -1 when its input
 * is gone (it closed stdin or exited). */
static int serve_child_write(struct serve_child *ch) {
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

static void serve_child_on_in(struct wsv_io *io, int fd, unsigned events,
                              void *user) {
  struct serve_child *ch = user;
  (void)io;
  (void)fd;
  (void)events;
  if (serve_child_write(ch) != 0)
    serve_child_close_in(ch);
}

/* A message from the peer: one line on the program's stdin. */
static void serve_child_input(struct serve_child *ch, const void *data,
                              size_t len) {
  if (ch->in_fd < 0)
    return; /* the program closed its input: drop the message */
  size_t queued = ch->in_len - ch->in_off;
  if (queued + len + 1 > ch->st->max_input) {
    (void)wsv_ws_close(ch->ws, 1008, "the program is not reading its input",
                       36);
    serve_child_close_in(ch);
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
  ch->inq[ch->in_len + len] = '\n';
  ch->in_len += len + 1;
  if (serve_child_write(ch) != 0)
    serve_child_close_in(ch);
}

/* The variables set per connection; a --passenv name among them is
 * ignored (ours win). */
static const char *const serve_conn_vars[] = {"WSV_PATH", "WSV_QUERY",
                                              "WSV_PEER", "WSV_VERSION"};
#define SERVE_CONN_VARS 4

/* Add the variable name[0..n) to the base environment if it is set and
 * not there yet. */
static void serve_env_add(struct serve *st, const char *name, size_t n) {
  for (size_t k = 0; k < SERVE_CONN_VARS; k++)
    if (strlen(serve_conn_vars[k]) == n &&
        memcmp(serve_conn_vars[k], name, n) == 0)
      return;
  for (size_t k = 0; k < st->base_env_n; k++)
    if (strncmp(st->base_env[k], name, n) == 0 && st->base_env[k][n] == '=')
      return;
  for (size_t k = 0; environ[k] != NULL; k++) {
    if (strncmp(environ[k], name, n) == 0 && environ[k][n] == '=') {
      st->base_env[st->base_env_n++] = environ[k];
      return;
    }
  }
}

/* The environment every program gets, whatever the server's holds:
 * PATH, LD_LIBRARY_PATH (when set) and the --passenv names that are set,
 * as pointers into environ (which nothing changes while serving).
 * 0, or -1 out of memory. */
static int serve_env_init(struct serve *st) {
  size_t names = 2;
  for (const char *p = st->opt.passenv; p != NULL && *p != '\0'; p++)
    names += *p == ',';
  if (st->opt.passenv != NULL)
    names++;
  st->base_env = calloc(names + 1, sizeof *st->base_env);
  if (st->base_env == NULL)
    return -1;
  serve_env_add(st, "PATH", 4);
  serve_env_add(st, "LD_LIBRARY_PATH", 15);
  for (const char *p = st->opt.passenv; p != NULL;) {
    size_t n = strcspn(p, ",");
    serve_env_add(st, p, n);
    p = p[n] == ',' ? p + n + 1 : NULL;
  }
  return 0;
}

/* A malloc'd "NAME=value" string, or NULL. */
static char *serve_env_var(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static char *serve_env_var(const char *fmt, ...) {
  char *v = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&v, fmt, ap);
  va_end(ap);
  return n < 0 ? NULL : v;
}

/* Build one program's environment: WSV_PATH, WSV_QUERY, WSV_PEER and
 * WSV_VERSION, then the base environment.  Returns a malloc'd array
 * whose first `nadd` entries are malloc'd strings, or NULL. */
static char **serve_child_env(const struct serve *st, struct wsv_ws *ws,
                              size_t *nadd) {
  char **env = calloc(SERVE_CONN_VARS + st->base_env_n + 1, sizeof *env);
  if (env == NULL)
    return NULL;
  char peer[64] = "";
  (void)wsv_ws_peer(ws, peer, sizeof peer);
  struct wsv_str q = {NULL, 0};
  const struct wsv_hs_server *hs = wsv_ws_request(ws);
  if (hs != NULL)
    q = wsv_hs_server_query(hs);
  env[0] = serve_env_var("WSV_PATH=%s", wsv_ws_path(ws));
  env[1] =
      serve_env_var("WSV_QUERY=%.*s", (int)q.len, q.ptr != NULL ? q.ptr : "");
  env[2] = serve_env_var("WSV_PEER=%s", peer);
  env[3] = serve_env_var("WSV_VERSION=%d", wsv_ws_version(ws));
  int ok = env[0] != NULL && env[1] != NULL && env[2] != NULL && env[3] != NULL;
  *nadd = SERVE_CONN_VARS;
  if (!ok) {
    for (size_t k = 0; k < SERVE_CONN_VARS; k++)
      free(env[k]);
    free(env);
    return NULL;
  }
  for (size_t k = 0; k < st->base_env_n; k++)
    env[SERVE_CONN_VARS + k] = st->base_env[k];
  env[SERVE_CONN_VARS + st->base_env_n] = NULL;
  return env;
}

static void serve_child_env_free(char **env, size_t nadd) {
  if (env == NULL)
    return;
  for (size_t k = 0; k < nadd; k++)
    free(env[k]);
  free(env);
}

/* Start the program for a new connection.  Returns 0 or an errno value. */
static int serve_child_spawn(struct serve *st, char **env, pid_t *pid,
                             int in[2], int out[2]) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc != 0)
    return rc;
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return rc;
  }
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  /* Its own process group (so a terminal's Ctrl-C reaches only wsv, which
   * then closes the program's input; and so the whole group can be
   * signalled), no blocked signals, SIGPIPE back to the default. */
  rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                           POSIX_SPAWN_SETSIGMASK |
                                           POSIX_SPAWN_SETSIGDEF);
  if (rc == 0)
    rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0)
    rc = posix_spawnattr_setsigdefault(&attr, &dflt);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (rc == 0)
    rc = posix_spawn(pid, st->exec_argv[0], &fa, &attr, st->exec_argv, env);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

/* A pidfd for `pid` (Linux 5.3 and later; close-on-exec), or -1. */
static int serve_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

static int serve_set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Run the program for `ws`.  Returns 0, or -1 after logging why. */
static int serve_child_start(struct serve *st, struct serve_conn *c,
                             struct wsv_ws *ws) {
  struct serve_child *ch = calloc(1, sizeof *ch);
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  size_t nadd = 0;
  char **env = NULL;
  int err = ENOMEM;
  if (ch == NULL)
    goto fail;
  ch->st = st;
  ch->ws = ws;
  ch->conn = c;
  ch->id = c->id;
  ch->in_fd = ch->out_fd = ch->pidfd = -1;
  ch->phase = SERVE_CHILD_RUNNING;
  if (wsv_timer_new(wsv_ws_loop(ws), &ch->timer, serve_child_on_timer, ch) != 0)
    goto fail;
  env = serve_child_env(st, ws, &nadd);
  if (env == NULL)
    goto fail;
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    err = errno;
    goto fail;
  }
  if (serve_set_nonblock(in[1]) != 0 || serve_set_nonblock(out[0]) != 0) {
    err = errno;
    goto fail;
  }
  err = serve_child_spawn(st, env, &ch->pid, in, out);
  if (err != 0)
    goto fail;
  serve_child_env_free(env, nadd);
  env = NULL;
  close(in[0]);
  close(out[1]);
  ch->in_fd = in[1];
  ch->out_fd = out[0];
  in[0] = in[1] = out[0] = out[1] = -1;
  serve_child_link(ch);
  c->child = ch;
  if (wsv_io_start(wsv_ws_loop(ws), &ch->out_io, ch->out_fd, WSV_IO_READ,
                   serve_child_on_out, ch) != 0 ||
      wsv_io_start(wsv_ws_loop(ws), &ch->in_io, ch->in_fd, 0, serve_child_on_in,
                   ch) != 0) {
    wsv_cli_log("wsv: #%lu cannot watch the program's pipes", c->id);
    return -1; /* the close callback detaches and reaps it */
  }
  /* Its exit ends the connection: watch a pidfd (it works on a zombie
   * too, so an exit before this point is seen), or poll without one. */
  ch->pidfd = serve_pidfd_open(ch->pid);
  if (ch->pidfd < 0 ||
      wsv_io_start(wsv_ws_loop(ws), &ch->pid_io, ch->pidfd, WSV_IO_READ,
                   serve_child_on_pidfd, ch) != 0) {
    serve_child_stop_pidfd(ch);
    serve_child_timer(ch, SERVE_EXIT_POLL_MS);
  }
  return 0;
fail:
  wsv_cli_log("wsv: #%lu cannot run the program: %s", c->id, strerror(err));
  serve_child_env_free(env, nadd);
  for (int k = 0; k < 2; k++) {
    if (in[k] >= 0)
      close(in[k]);
    if (out[k] >= 0)
      close(out[k]);
  }
  if (ch != NULL) {
    wsv_timer_free(ch->timer);
    free(ch);
  }
  return -1;
}

/* After the server stopped: the loops no longer run, so end the programs
 * still alive here, on shorter deadlines: SIGTERM to the group after 1 s,
 * SIGKILL after 2 s; what an exited program left behind gets SIGKILL
 * after 1 s at most. */
static void serve_sweep_children(struct serve *st) {
  uint64_t t0 = serve_now_ms();
  for (struct serve_child *ch = st->children; ch != NULL; ch = ch->next) {
    serve_child_close_in(ch);
    serve_child_close_out(ch);
    serve_child_stop_pidfd(ch);
    ch->ws = NULL;
    ch->conn = NULL;
    if (ch->phase == SERVE_CHILD_RUNNING) {
      ch->phase = SERVE_CHILD_GRACE;
      ch->term_at = ch->kill_at = UINT64_MAX;
    }
    if (ch->phase == SERVE_CHILD_GRACE) {
      if (ch->term_at > t0 + SERVE_REAP_TERM_MS / 2)
        ch->term_at = t0 + SERVE_REAP_TERM_MS / 2;
      if (ch->kill_at > t0 + SERVE_REAP_TERM_MS)
        ch->kill_at = t0 + SERVE_REAP_TERM_MS;
    } else if (ch->phase == SERVE_CHILD_GROUP &&
               ch->kill_at > t0 + SERVE_REAP_TERM_MS / 2) {
      ch->kill_at = t0 + SERVE_REAP_TERM_MS / 2;
    }
  }
  while (st->children != NULL) {
    uint64_t now = serve_now_ms();
    struct serve_child *next;
    for (struct serve_child *ch = st->children; ch != NULL; ch = next) {
      next = ch->next;
      if (serve_child_step(ch, now)) {
        serve_child_unlink(ch);
        serve_child_free(ch);
      }
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    (void)nanosleep(&ts, NULL);
  }
}

/* ---- WebSocket callbacks ------------------------------------------------- */

/* --chat: subscribe the connection to its path, or close it. */
static void serve_chat_join(struct wsv_ws *ws, unsigned long id) {
  int rc = wsv_ws_subscribe(ws, wsv_ws_path(ws));
  if (rc < 0) {
    wsv_cli_log("wsv: #%lu cannot subscribe to the path: %s", id,
              wsv_strerror(rc));
    (void)wsv_ws_close(ws, rc == WSV_ERR_INVAL ? 1008 : 1011,
                       "cannot join this path", 21);
  }
}

static void serve_on_open(struct wsv_ws *ws, void *user) {
  struct serve *st = user;
  /* Quiet echo and chat keep nothing per connection: the record only
   * feeds the open/close log lines (and --exec's child). */
  if (st->opt.quiet && st->opt.mode != SERVE_EXEC) {
    if (st->opt.mode == SERVE_CHAT)
      serve_chat_join(ws, 0);
    return;
  }
  struct serve_conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    (void)wsv_ws_close(ws, 1011, "out of memory", 13);
    return;
  }
  c->st = st;
  c->id = atomic_fetch_add(&st->next_id, 1) + 1;
  c->opened_ms = wsv_loop_now(wsv_ws_loop(ws));
  wsv_ws_set_user(ws, c);
  if (!st->opt.quiet) {
    char peer[64] = "?", path[256];
    (void)wsv_ws_peer(ws, peer, sizeof peer);
    const char *p = wsv_ws_path(ws);
    wsv_cli_printable(p, strlen(p), path, sizeof path);
    wsv_cli_log("wsv: #%lu open %s %s version %d", c->id, peer, path,
              wsv_ws_version(ws));
  }
  if (st->opt.mode == SERVE_CHAT) {
    serve_chat_join(ws, c->id);
  } else if (st->opt.mode == SERVE_EXEC) {
    if (serve_child_start(st, c, ws) != 0)
      (void)wsv_ws_close(ws, 1011, "cannot run the program", 22);
  }
}

static void serve_on_message(struct wsv_ws *ws, int opcode, const void *data,
                             size_t len, void *user) {
  struct serve *st = user;
  struct serve_conn *c = wsv_ws_user(ws); /* NULL when quiet */
  if (c != NULL)
    c->in++;
  switch (st->opt.mode) {
  case SERVE_CHAT:
    (void)wsv_ws_publish(ws, wsv_ws_path(ws), opcode, data, len,
                         WSV_PUBLISH_SELF);
    break;
  case SERVE_EXEC:
    if (c != NULL && c->child != NULL)
      serve_child_input(c->child, data, len);
    break;
  default:
    if (wsv_ws_send(ws, opcode, data, len) >= 0 && c != NULL)
      c->out++;
    break;
  }
}

static void serve_on_drain(struct wsv_ws *ws, void *user) {
  struct serve_conn *c = wsv_ws_user(ws);
  (void)user;
  if (c != NULL && c->child != NULL && c->child->paused) {
    c->child->paused = 0;
    if (c->child->out_io != NULL)
      (void)wsv_io_set(c->child->out_io, WSV_IO_READ);
  }
}

static void serve_on_close(struct wsv_ws *ws, int code, const char *reason,
                           size_t len, void *user) {
  struct serve *st = user;
  struct serve_conn *c = wsv_ws_user(ws);
  if (c == NULL)
    return;
  if (!st->opt.quiet) {
    char why[160], extra[160] = "", counts[64];
    wsv_cli_printable(reason, len, why, sizeof why);
    if (wsv_ws_error(ws) != 0)
      snprintf(extra, sizeof extra, " (%s)", wsv_ws_error_text(ws));
    uint64_t ms = wsv_loop_now(wsv_ws_loop(ws)) - c->opened_ms;
    if (st->opt.mode == SERVE_CHAT)
      snprintf(counts, sizeof counts, "%llu messages in",
               (unsigned long long)c->in);
    else
      snprintf(counts, sizeof counts, "%llu messages in, %llu out",
               (unsigned long long)c->in, (unsigned long long)c->out);
    wsv_cli_log("wsv: #%lu close %d \"%s\"%s after %llu.%03llus, %s", c->id, code,
              why, extra, (unsigned long long)(ms / 1000),
              (unsigned long long)(ms % 1000), counts);
  }
  if (c->child != NULL)
    serve_child_detach(c->child);
  free(c);
  wsv_ws_set_user(ws, NULL);
}

/* ---- plain HTTP: the page ----------------------------------------------- */

static int serve_str_is(struct wsv_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static void serve_on_http(const struct wsv_hs_server *hs,
                          struct wsv_http_response *res, void *user) {
  static const char not_found[] = "not found; the demo page is at /\n";
  static const char bad_method[] = "method not allowed; use GET\n";
  struct serve *st = user;
  struct wsv_str method = wsv_hs_server_method(hs);
  struct wsv_str path = wsv_hs_server_path(hs);
  if (!serve_str_is(path, "/")) {
    res->status = 404;
    res->body = not_found;
    res->body_len = sizeof not_found - 1;
  } else if (serve_str_is(method, "GET") || serve_str_is(method, "HEAD")) {
    res->status = 200;
    res->content_type = "text/html; charset=utf-8";
    res->body = wsv_page_html;
    res->body_len = wsv_page_html_len;
    res->headers = "Cache-Control: no-store\r\n"
                   "X-Content-Type-Options: nosniff\r\n";
  } else {
    res->status = 405;
    res->body = bad_method;
    res->body_len = sizeof bad_method - 1;
    res->headers = "Allow: GET, HEAD\r\n";
  }
  if (!st->opt.quiet) {
    char m[32], p[256];
    wsv_cli_printable(method.ptr, method.len, m, sizeof m);
    wsv_cli_printable(path.ptr, path.len, p, sizeof p);
    wsv_cli_log("wsv: http %s %s %d", m, p, res->status);
  }
}

/* ---- which pages may connect (--origin, --sameorigin) -------------------- */

/* The accept hook: judge the Origin.  A refusal is a 403 whose body names
 * the options, and a log line (a browser only shows "failed"). */
static int serve_on_accept(struct wsv_hs_server *hs, void *user) {
  struct serve *st = user;
  if (wsv_origin_check(st->origin, hs, st->opt.cert != NULL) == 0)
    return 0;
  struct wsv_str o = wsv_hs_server_origin(hs), host = {NULL, 0};
  (void)wsv_hs_server_header(hs, "Host", &host);
  int n = o.len < 64 ? (int)o.len : 64;
  const char *more = o.len > 64 ? "..." : "";
  char reason[256];
  snprintf(reason, sizeof reason,
           "Origin %.*s%s is not allowed; allow it with --origin or "
           "--sameorigin",
           n, o.ptr != NULL ? o.ptr : "", more);
  (void)wsv_hs_server_set_reason(hs, reason);
  if (!st->opt.quiet) {
    char shown[80], h[80];
    wsv_cli_printable(o.ptr, (size_t)n, shown, sizeof shown);
    wsv_cli_printable(host.ptr, host.len, h, sizeof h);
    wsv_cli_log("wsv: 403 for Origin %s%s (Host %s): not allowed; see --origin, "
              "--sameorigin",
              shown, more, h);
  }
  return 403;
}

/* Make the Origin policy: the options', or for --exec same-origin pages
 * only, or none (every page).  0, or -1 (out of memory). */
static int serve_origin_init(struct serve *st) {
  const char *list = st->opt.origins;
  unsigned flags = st->opt.sameorigin ? WSV_ORIGIN_SAME : 0;
  if (list == NULL && !st->opt.sameorigin) {
    if (st->opt.mode != SERVE_EXEC)
      return 0;
    /* The default: the server's own page, reached by address or as
     * localhost (a rebound DNS name could pose as it). */
    flags = WSV_ORIGIN_SAME | WSV_ORIGIN_SAME_ADDRESS;
  }
  if (wsv_origin_policy_new(&st->origin, list, flags, NULL) != 0)
    return -1; /* the list was checked by serve_parse */
  if (wsv_origin_policy_any(st->origin)) {
    wsv_origin_policy_free(st->origin); /* "*": no check at all */
    st->origin = NULL;
  }
  return 0;
}

/* For the startup line: which pages may connect. */
static void serve_origin_text(const struct serve *st, char *buf, size_t cap) {
  if (st->origin == NULL)
    snprintf(buf, cap, "any");
  else if (st->opt.origins == NULL)
    snprintf(buf, cap, "same-origin");
  else
    snprintf(buf, cap, "%s%.200s", st->opt.sameorigin ? "same-origin, " : "",
             st->opt.origins);
}

/* ---- open files -----------------------------------------------------------
 */

/* Raise the soft RLIMIT_NOFILE to the hard one: every connection is a
 * descriptor, and 1024 is a common soft default.  The programs of --exec
 * get the original back (serve_exec_argv), since some of them close
 * every descriptor up to the limit or use select(). */
static void serve_raise_nofile(struct serve *st) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0)
    return;
  st->nofile = r;
  if (r.rlim_cur >= r.rlim_max) {
    if (st->opt.verbose)
      wsv_cli_log("wsv: open files: %llu", (unsigned long long)r.rlim_cur);
    return;
  }
  struct rlimit up = {r.rlim_max, r.rlim_max};
  if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
    wsv_cli_log("wsv: cannot raise the open files limit from %llu to %llu: %s",
              (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max,
              strerror(errno));
    return;
  }
  st->nofile_raised = 1;
  if (st->opt.verbose)
    wsv_cli_log("wsv: open files: %llu -> %llu", (unsigned long long)r.rlim_cur,
              (unsigned long long)r.rlim_max);
}

/* ---- setup --------------------------------------------------------------- */

/* Append `v` to the comma list *list (malloc'd, NULL when empty), for
 * options that may be given several times.  0, or -1 out of memory. */
static int serve_list_add(char **list, const char *v) {
  size_t old = *list != NULL ? strlen(*list) : 0, n = strlen(v);
  char *q = realloc(*list, old + n + 2);
  if (q == NULL)
    return -1;
  if (old > 0)
    q[old++] = ',';
  memcpy(q + old, v, n + 1);
  *list = q;
  return 0;
}

/* --passenv: comma-separated variable names (no '=', not empty). */
static int serve_passenv_ok(const char *v, const char **bad, size_t *bad_len) {
  for (;;) {
    size_t n = strcspn(v, ",");
    *bad = v;
    *bad_len = n;
    if (n == 0 || memchr(v, '=', n) != NULL)
      return 0;
    for (size_t k = 0; k < n; k++)
      if ((unsigned char)v[k] <= 0x20 || (unsigned char)v[k] >= 0x7f)
        return 0;
    if (v[n] == '\0')
      return 1;
    v += n + 1;
  }
}

/* Parse the command line.  Returns -1 to go on, or an exit status. */
static int serve_parse(int argc, char **argv, struct serve_opts *o) {
  o->host = "127.0.0.1";
  o->port = 8080;
  o->versions = WSV_VERSIONS_DEFAULT;
  o->threads = 1;
  o->mode = SERVE_ECHO;
  o->deflate = WSV_CLI_DEFLATE_ON;
  o->output_budget = o->input_budget = UINT64_MAX;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    uint64_t n;
    int m;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(serve_usage, stdout);
      fputs(serve_usage_limits, stdout);
      return 0;
    } else if (strcmp(a, "--chat") == 0) {
      if (o->mode == SERVE_EXEC)
        return wsv_cli_usage_error("serve", "%s: --chat and --exec exclude each other", a);
      o->mode = SERVE_CHAT;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o->verbose = 1;
    } else if (strcmp(a, "--no-deflate") == 0) {
      o->deflate = WSV_CLI_DEFLATE_OFF;
    } else if (strcmp(a, "--sameorigin") == 0) {
      o->sameorigin = 1;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--origin", &v)) != 0) {
      struct wsv_str bad;
      if (m < 0)
        return wsv_cli_usage_error("serve", "--origin needs a list such as "
                                 "https://app.example,*.example.org");
      if (wsv_origin_list_check(v, &bad) != 0)
        return wsv_cli_usage_error("serve", 
            "--origin: \"%.*s\" is not an origin: use scheme://host[:port], "
            "host[:port], *.domain, null or *",
            (int)bad.len, bad.ptr);
      if (serve_list_add(&o->origins, v) != 0)
        return wsv_cli_usage_error("serve", "out of memory");
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--passenv", &v)) != 0) {
      const char *bad;
      size_t bad_len;
      if (m < 0)
        return wsv_cli_usage_error("serve", "--passenv needs names such as HOME,LANG");
      if (!serve_passenv_ok(v, &bad, &bad_len))
        return wsv_cli_usage_error("serve", 
            "--passenv: \"%.*s\" is not a variable name (names are "
            "separated by commas)",
            (int)bad_len, bad);
      if (serve_list_add(&o->passenv, v) != 0)
        return wsv_cli_usage_error("serve", "out of memory");
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--deflate", &v)) != 0) {
      if (m < 0 || wsv_cli_deflate_mode(v, &o->deflate) != 0)
        return wsv_cli_usage_error("serve", "--deflate needs on, lean or off");
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--cert", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "--cert needs a PEM file");
      o->cert = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--key", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "--key needs a PEM file");
      o->key = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--close-timeout", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 1, 3600000, &n) != 0)
        return wsv_cli_usage_error("serve", 
            "--close-timeout needs milliseconds from 1 to 3600000");
      o->close_timeout_ms = (uint32_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--handshake-timeout", &v)) !=
               0) {
      if (m < 0 || wsv_cli_uint(v, 1, 3600000, &n) != 0)
        return wsv_cli_usage_error("serve", 
            "--handshake-timeout needs milliseconds from 1 to 3600000");
      o->handshake_timeout_ms = (uint32_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--host", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "%s needs an address", a);
      o->host = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--port", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 0, 65535, &n) != 0)
        return wsv_cli_usage_error("serve", "--port needs a number from 0 to 65535");
      o->port = (uint16_t)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--versions", &v)) != 0) {
      char err[160];
      if (m < 0)
        return wsv_cli_usage_error("serve", "%s needs a list such as 13,8,7", a);
      if (wsv_cli_versions(v, &o->versions, err, sizeof err) != 0)
        return wsv_cli_usage_error("serve", "--versions: %s", err);
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
      if (m < 0 || wsv_cli_uint(v, 0, 256, &n) != 0)
        return wsv_cli_usage_error("serve", "--threads needs a number from 0 to 256");
      o->threads = (int)n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--exec", &v)) != 0) {
      if (m < 0 || *v == '\0')
        return wsv_cli_usage_error("serve", "%s needs a command", a);
      if (o->mode == SERVE_CHAT)
        return wsv_cli_usage_error("serve", "%s: --chat and --exec exclude each other",
                                 "--exec");
      o->mode = SERVE_EXEC;
      o->exec = v;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--max-message", &v)) != 0) {
      if (m < 0 || wsv_cli_size(v, 1, UINT64_C(1) << 40, &n) != 0)
        return wsv_cli_usage_error("serve", 
            "--max-message needs a size in bytes, e.g. 65536 or 16M");
      o->max_message = n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--output-budget", &v)) !=
                   0 ||
               (m = wsv_cli_opt(argc, argv, &i, "--input-budget", &v)) != 0) {
      int out = strncmp(a, "--output-budget", 15) == 0;
      if (m < 0 || wsv_cli_size(v, 0, (uint64_t)SIZE_MAX, &n) != 0)
        return wsv_cli_usage_error("serve", 
            "%s needs a size in bytes, e.g. 512M or 2G (0: no budget)",
            out ? "--output-budget" : "--input-budget");
      *(out ? &o->output_budget : &o->input_budget) = n;
    } else if ((m = wsv_cli_opt(argc, argv, &i, "--max-connections", &v)) !=
               0) {
      if (m < 0 || wsv_cli_uint(v, 1, SIZE_MAX, &n) != 0)
        return wsv_cli_usage_error("serve", "--max-connections needs a positive number");
      o->max_connections = (size_t)n;
    } else {
      return wsv_cli_usage_error("serve", "unknown argument '%s'", a);
    }
  }
  if ((o->cert == NULL) != (o->key == NULL))
    return wsv_cli_usage_error("serve", "--cert and --key go together");
  if (o->passenv != NULL && o->mode != SERVE_EXEC)
    return wsv_cli_usage_error("serve", "--passenv is for the programs of --exec");
  if (o->threads == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus < 1 ? 1 : cpus > 256 ? 256 : (int)cpus;
  }
  return -1;
}

/* Find an executable `name` on PATH; 0 and its path in buf, or -1. */
static int serve_which(const char *name, char *buf, size_t cap) {
  const char *path = getenv("PATH");
  if (path == NULL || *path == '\0')
    path = "/usr/bin:/bin";
  while (*path != '\0') {
    size_t n = strcspn(path, ":");
    int w = snprintf(buf, cap, "%.*s/%s", (int)n, n > 0 ? path : ".", name);
    if (w > 0 && (size_t)w < cap && access(buf, X_OK) == 0)
      return 0;
    path += n;
    if (*path == ':')
      path++;
  }
  return -1;
}

/* Make sure descriptors 0, 1 and 2 are open, so that pipes never take
 * their numbers (the programs' stdin and stdout are set up by number). */
static void serve_fix_std_fds(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
      continue;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != fd) {
      (void)dup2(n, fd);
      close(n);
    }
  }
}

/* Is host:port already taken by a listener?  The runtime's listeners use
 * SO_REUSEPORT, so a second `wsv serve` by the same user would otherwise
 * silently share the port with the first: try a bind without it. */
static int serve_port_taken(const char *host, uint16_t port) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", (unsigned)port);
  if (getaddrinfo(host, ps, &hints, &res) != 0)
    return 0; /* the runtime reports it */
  int taken = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    int one = 1, zero = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
      (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    int r = bind(fd, ai->ai_addr, ai->ai_addrlen);
    int e = errno;
    close(fd);
    if (r == 0) {
      taken = 0;
      break;
    }
    if (e == EADDRINUSE)
      taken = 1;
  }
  freeaddrinfo(res);
  return taken;
}

static int serve_port_in_use(uint16_t port) {
  fprintf(stderr, "wsv serve: port %u is in use; try --port %u\n",
          (unsigned)port, port < 65535 ? (unsigned)port + 1 : 0u);
  return 1;
}

/* permessage-deflate: the policy the server answers offers with. */
static void serve_config_deflate(const struct serve *st,
                                 struct wsv_server_config *cfg) {
  cfg->handshake.pmd_policy = st->opt.deflate;
}

static void serve_config(struct serve *st, struct wsv_server_config *cfg) {
  wsv_server_config_init(cfg);
  cfg->host = st->opt.host;
  cfg->port = st->opt.port;
  cfg->threads = st->opt.threads;
  cfg->max_connections = st->opt.max_connections;
  cfg->handshake.versions = st->opt.versions;
  serve_config_deflate(st, cfg);
  if (st->opt.handshake_timeout_ms != 0)
    cfg->limits.handshake_timeout_ms = st->opt.handshake_timeout_ms;
  if (st->opt.close_timeout_ms != 0)
    cfg->limits.close_timeout_ms = st->opt.close_timeout_ms;
  cfg->tls_cert_file = st->opt.cert;
  cfg->tls_key_file = st->opt.key;
  if (st->opt.output_budget != UINT64_MAX)
    cfg->output_budget = (size_t)st->opt.output_budget;
  if (st->opt.input_budget != UINT64_MAX)
    cfg->input_budget = (size_t)st->opt.input_budget;
  if (st->opt.max_message != 0) {
    cfg->conn.max_message = st->opt.max_message;
    cfg->conn.max_frame = st->opt.max_message;
  }
  cfg->http = serve_on_http;
  cfg->http_user = st;
  if (st->origin != NULL) {
    cfg->handshake.accept = serve_on_accept;
    cfg->handshake.accept_user = st;
  }
  cfg->handle_signals = 1;
  cfg->callbacks.open = serve_on_open;
  cfg->callbacks.message = serve_on_message;
  cfg->callbacks.drain = serve_on_drain;
  cfg->callbacks.close = serve_on_close;
  cfg->user = st;
  cfg->log = serve_on_log;
  cfg->log_user = st;
}

/* Is a startup error about the certificate or key (not the address)? */
static int serve_is_tls_error(const char *e) {
  return strstr(e, "certificate") != NULL || strstr(e, "key") != NULL ||
         strncmp(e, "TLS", 3) == 0;
}

/* Set up the program's argv: under stdbuf -oL when it is installed, so
 * that programs using C stdio send each line at once, not at exit.  When
 * the open-files limit was raised, a first shell puts the original soft
 * limit back and execs the one running CMD (same PID): posix_spawn cannot
 * set a limit in the child, and prlimit after it would race the program's
 * own start. */
static void serve_exec_argv(struct serve *st) {
  char **a = st->exec_argv;
  size_t k = 0;
  if (serve_which("stdbuf", st->stdbuf, sizeof st->stdbuf) == 0) {
    a[k++] = st->stdbuf;
    a[k++] = (char *)(uintptr_t) "-oL";
  }
  a[k++] = (char *)(uintptr_t) "/bin/sh";
  a[k++] = (char *)(uintptr_t) "-c";
  if (st->nofile_raised) {
    snprintf(st->exec_script, sizeof st->exec_script,
             "ulimit -S -n %llu 2>/dev/null; exec /bin/sh -c \"$1\"",
             (unsigned long long)st->nofile.rlim_cur);
    a[k++] = st->exec_script;
    a[k++] = (char *)(uintptr_t) "sh";
  }
  a[k++] = (char *)(uintptr_t)st->opt.exec;
  a[k] = NULL;
}

/* The URL line, printed once the server listens. */
static void serve_print_url(const struct serve *st, uint16_t port) {
  const char *h = st->opt.host;
  int any = strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
  const char *shown = any ? "127.0.0.1" : h;
  const char *lb = strchr(shown, ':') != NULL ? "[" : "";
  const char *rb = *lb != '\0' ? "]" : "";
  const char *s = st->opt.cert != NULL ? "s" : "";
  printf("wsv: serving on http%s://%s%s%s:%u/ (WebSocket: ws%s://%s%s%s:%u/)"
         "%s\n",
         s, lb, shown, rb, (unsigned)port, s, lb, shown, rb, (unsigned)port,
         any ? " on every address" : "");
  fflush(stdout);
}

static int serve_main(struct serve *st, int argc, char **argv) {
  int rc = serve_parse(argc, argv, &st->opt);
  if (rc >= 0)
    return rc;
  atomic_init(&st->next_id, 0);
  st->max_line = st->opt.max_message != 0 && st->opt.max_message < (1u << 24)
                     ? (size_t)st->opt.max_message
                     : (size_t)1 << 24;
  st->max_input = (size_t)16 << 20;
  if (pthread_mutex_init(&st->mu, NULL) != 0)
    return 1;
  serve_fix_std_fds();
  /* Writes to a program whose input is closed must fail with EPIPE, not
   * kill wsv (the programs get the default SIGPIPE back). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  (void)sigaction(SIGPIPE, &sa, NULL);
  /* Block SIGINT and SIGTERM now, so one arriving between the URL line
   * and wsv_server_run still shuts down gracefully (through the
   * runtime's signalfd) instead of killing the process. */
  sigset_t stop_sigs;
  sigemptyset(&stop_sigs);
  sigaddset(&stop_sigs, SIGINT);
  sigaddset(&stop_sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
  serve_raise_nofile(st);
  if (serve_origin_init(st) != 0 ||
      (st->opt.mode == SERVE_EXEC && serve_env_init(st) != 0)) {
    fprintf(stderr, "wsv serve: out of memory\n");
    pthread_mutex_destroy(&st->mu);
    return 1;
  }
  if (st->opt.mode == SERVE_EXEC)
    serve_exec_argv(st);

  if (st->opt.port != 0 && serve_port_taken(st->opt.host, st->opt.port)) {
    pthread_mutex_destroy(&st->mu);
    return serve_port_in_use(st->opt.port);
  }
  struct wsv_server_config cfg;
  serve_config(st, &cfg);
  st->starting = 1;
  errno = 0;
  rc = wsv_server_new(&st->srv, &cfg);
  if (rc != 0) {
    int e = errno;
    if (e == EADDRINUSE)
      rc = serve_port_in_use(st->opt.port);
    else if (e == EACCES && st->opt.port < 1024)
      fprintf(stderr, "wsv serve: port %u needs privileges; try --port 8080\n",
              (unsigned)st->opt.port);
    else if (st->start_err[0] != '\0' && st->opt.cert != NULL &&
             serve_is_tls_error(st->start_err))
      fprintf(stderr, "wsv serve: %s\n", st->start_err);
    else if (st->start_err[0] != '\0')
      fprintf(stderr, "wsv serve: cannot listen: %s\n", st->start_err);
    else
      fprintf(stderr, "wsv serve: cannot listen on %s port %u: %s\n",
              st->opt.host, (unsigned)st->opt.port, wsv_strerror(rc));
    pthread_mutex_destroy(&st->mu);
    return 1;
  }
  st->starting = 0;
  uint16_t port = wsv_server_port(st->srv);
  serve_print_url(st, port);
  if (!st->opt.quiet) {
    char vl[32], origins[256];
    wsv_cli_version_list(st->opt.versions, vl, sizeof vl);
    serve_origin_text(st, origins, sizeof origins);
    wsv_cli_log("wsv: %s%s%s, versions %s, %d thread%s%s, deflate %s, "
              "origins %s; Ctrl-C stops",
              serve_mode_name(st->opt.mode), st->opt.exec ? " " : "",
              st->opt.exec ? st->opt.exec : "", vl, st->opt.threads,
              st->opt.threads == 1 ? "" : "s", st->opt.cert ? ", TLS" : "",
              wsv_cli_deflate_name(st->opt.deflate), origins);
  }
  rc = wsv_server_run(st->srv);
  serve_sweep_children(st);
  wsv_server_free(st->srv);
  pthread_mutex_destroy(&st->mu);
  if (rc != 0) {
    fprintf(stderr, "wsv serve: %s\n", wsv_strerror(rc));
    return 1;
  }
  if (!st->opt.quiet)
    wsv_cli_log("wsv: stopped");
  return 0;
}

int wsv_cmd_serve(int argc, char **argv) {
  struct serve st;
  memset(&st, 0, sizeof st);
  int rc = serve_main(&st, argc, argv);
  wsv_origin_policy_free(st.origin);
  free(st.base_env);
  free(st.opt.origins);
  free(st.opt.passenv);
  return rc;
}
