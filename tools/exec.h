/* exec.h - the exec bridge of `wsv serve --exec` and --dir: a program per
 * WebSocket connection, each message a line on its standard input, each
 * line it prints a message (--binary: bytes as they come); its stderr to
 * the log; its own process group, ended with SIGTERM and SIGKILL once the
 * connection or the program is gone (--closems).  exec.c runs the
 * programs; exec_spawn.c starts them (argv, process group); exec_env.c
 * makes their environment (the CGI/1.1 variables). */
#ifndef WSV_EXEC_H
#define WSV_EXEC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "wsv/common.h"

struct wsv_ws;
struct exec_child;
struct serve_opts;

/* What every program of a server shares: read-only once serving, except
 * for the registry of programs still alive (under `mu`). */
struct exec {
  const char *cmd;  /* the --exec command, run by /bin/sh -c; or NULL */
  char *dir;        /* --dir: its realpath (malloc'd), or NULL */
  int quiet;        /* --quiet: no line for a program that failed */
  int binary;       /* --binary: no lines, binary messages */
  uint32_t closems; /* --closems: the grace before SIGTERM, then SIGKILL */
  size_t maxforks;  /* --maxforks: programs at once, 0: no limit */
  atomic_size_t running; /* programs started and not yet reaped */
  size_t max_input; /* bytes queued for a program's stdin at most */
  size_t max_line;  /* longest line read from a program */
  /* The argv of each program: [stdbuf -oL] /bin/sh -c CMD, or with the
   * open-files limit to give back, [stdbuf -oL] /bin/sh -c
   * 'ulimit -S -n N; exec /bin/sh -c "$1"' sh CMD. */
  char *argv[8];
  int prog_slot; /* --dir: the argv index that takes each program's file */
  char stdbuf[256];
  char script[96];
  /* The variables every program gets (PATH, LD_LIBRARY_PATH, --passenv),
   * pointers into environ; NULL-terminated, malloc'd. */
  char **base_env;
  size_t base_env_n;
  int mu_ready;       /* mu is initialised */
  pthread_mutex_t mu; /* guards `children` */
  struct exec_child *children;
};

/* ---- exec.c: the programs' lives ----------------------------------------- */

/* exec_init - set up x (zeroed by the caller) for the programs of the
 * options (--exec or --dir, --passenv, --quiet, --binary, --closems,
 * --maxforks, --max-message) and, when the open-files limit was raised,
 * the limit to give back to the programs (else NULL).  0; -1 out of
 * memory; -2 when --dir cannot be resolved (errno says why). */
int exec_init(struct exec *x, const struct serve_opts *o,
              const struct rlimit *nofile);

/* exec_admit - for the accept hook: may a WebSocket to `path` (as
 * received, percent-encoded) start a program?  0, or an HTTP status with
 * a one-line reason in *why: 400 or 404 (--dir: no program there), 429
 * (--maxforks programs run). */
int exec_admit(struct exec *x, const char *path, size_t len, const char **why);

/* exec_free - release what exec_init set up (after exec_sweep). */
void exec_free(struct exec *x);

/* exec_start - run the program for the new connection `ws` (number `id`
 * in the log); each message it sends is counted in *sent.  Returns 0, or
 * -1 after logging why.  *child is set once the program runs, also when
 * -1 follows: the connection's end must then exec_detach it. */
int exec_start(struct exec *x, struct wsv_ws *ws, unsigned long id,
               uint64_t *sent, struct exec_child **child);

/* exec_input - a message from the peer: one line on the program's stdin
 * (dropped once the program closed it). */
void exec_input(struct exec_child *ch, const void *data, size_t len);

/* exec_drain - the connection's send buffer has room again: read the
 * program's output again if it was paused. */
void exec_drain(struct exec_child *ch);

/* exec_detach - the connection is gone: close the program's input and
 * output, and end it (and its group) on the bridge's deadlines. */
void exec_detach(struct exec_child *ch);

/* exec_sweep - after the server stopped (no loop runs): end every program
 * still alive, on shorter deadlines, and wait for them. */
void exec_sweep(struct exec *x);

/* ---- exec_spawn.c: starting a program, for exec.c ------------------------ */

/* exec_spawn_setup - the argv and the base environment of every program.
 * 0, or -1 out of memory. */
int exec_spawn_setup(struct exec *x, const char *passenv,
                     const struct rlimit *nofile);

/* exec_spawn_argv - the argv for program `prog` (--dir's file, or NULL
 * for --exec's command) into argv[0..8), pointing into x and prog. */
void exec_spawn_argv(const struct exec *x, const char *prog, char *argv[8]);

/* ---- exec_env.c: a program's environment ---------------------------------- */

/* The facts of a request its program's variables come from (views and
 * strings owned by the caller). */
struct exec_req {
  const char *peer;    /* "addr:port" or "[v6]:port" */
  const char *ws_path; /* the path as received */
  int version;         /* WebSocket version */
  struct wsv_str method, target, query, host; /* host: the Host header */
  const struct wsv_header *headers;           /* every request header */
  size_t nheaders;
  const char *server_addr; /* local address, for a request without Host */
  unsigned server_port;    /* local port */
  int tls;
  int http2; /* over HTTP/2 (SERVER_PROTOCOL) */
  const char *script_name, *path_info;
  unsigned long long unique_id;
};

/* exec_env_build - the environment for request r: WSV_*, the CGI/1.1
 * variables and HTTP_<NAME> per header (see exec_env.c), then the base
 * entries (base[0..nbase), not copied) whose names are not set already.
 * A malloc'd NULL-terminated array whose first *nadd entries are malloc'd
 * strings, or NULL out of memory. */
char **exec_env_build(const struct exec_req *r, char *const *base,
                      size_t nbase, size_t *nadd);

/* exec_env_new - exec_env_build for the new connection `ws` (during its
 * open callback), with its SCRIPT_NAME and PATH_INFO. */
char **exec_env_new(const struct exec *x, struct wsv_ws *ws,
                    const char *script_name, const char *path_info,
                    size_t *nadd);

/* exec_env_free - free what exec_env_new made (NULL is fine). */
void exec_env_free(char **env, size_t nadd);

/* exec_spawn - start a program (argv from exec_spawn_argv) with
 * environment `env`, its stdin in[0], its stdout out[1] and its stderr
 * err[1], leader of a process group of its own.  Returns 0 and sets *pid,
 * or an errno value. */
int exec_spawn(char *const *argv, char **env, pid_t *pid, int in[2],
               int out[2], int err[2]);

#endif
