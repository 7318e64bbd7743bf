/* exec.h - the exec bridge of `wsv serve --exec`: a program per WebSocket
 * connection, each message a line on its standard input, each line it
 * prints a message; its own process group, ended with SIGTERM and SIGKILL
 * once the connection or the program is gone.  exec.c runs the programs;
 * exec_spawn.c starts them (argv, environment, process group). */
#ifndef WSV_EXEC_H
#define WSV_EXEC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

struct wsv_ws;
struct exec_child;

/* What every program of a server shares: read-only once serving, except
 * for the registry of programs still alive (under `mu`). */
struct exec {
  const char *cmd;  /* the --exec command, run by /bin/sh -c */
  int quiet;        /* --quiet: no line for a program that failed */
  size_t max_input; /* bytes queued for a program's stdin at most */
  size_t max_line;  /* longest line read from a program */
  /* The argv of each program: [stdbuf -oL] /bin/sh -c CMD, or with the
   * open-files limit to give back, [stdbuf -oL] /bin/sh -c
   * 'ulimit -S -n N; exec /bin/sh -c "$1"' sh CMD. */
  char *argv[8];
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

/* exec_init - set up x (zeroed by the caller) for running `cmd`: the
 * --passenv list (comma-separated names, or NULL), --quiet, --max-message
 * (0: the default) and, when the open-files limit was raised, the limit to
 * give back to the programs (else NULL).  0, or -1 out of memory. */
int exec_init(struct exec *x, const char *cmd, const char *passenv, int quiet,
              uint64_t max_message, const struct rlimit *nofile);

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

/* exec_env_new - one program's environment: WSV_PATH, WSV_QUERY, WSV_PEER
 * and WSV_VERSION of `ws`, then the base environment.  A malloc'd array
 * whose first *nadd entries are malloc'd strings, or NULL. */
char **exec_env_new(const struct exec *x, struct wsv_ws *ws, size_t *nadd);

/* exec_env_free - free what exec_env_new made (NULL is fine). */
void exec_env_free(char **env, size_t nadd);

/* exec_spawn - start a program with environment `env`, its stdin in[0]
 * and its stdout out[1], leader of a process group of its own.  Returns 0
 * and sets *pid, or an errno value. */
int exec_spawn(const struct exec *x, char **env, pid_t *pid, int in[2],
               int out[2]);

#endif
