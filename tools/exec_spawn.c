/*
 * exec_spawn.c - how `wsv serve --exec` and --dir start a program: its
 * argv (under stdbuf -oL when installed, with the original open-files
 * limit given back), its base environment (PATH, LD_LIBRARY_PATH and
 * --passenv, nothing else of the server's; exec_env.c adds the
 * connection's variables), and posix_spawn into a process group of its
 * own with SIGPIPE back to the default.  exec.c runs what starts here.
 */
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "cli.h"
#include "exec.h"

/* Add the variable name[0..n) to the base environment if it is set and
 * not there yet (a name exec_env.c sets per connection is overridden
 * there). */
static void exec_env_add(struct exec *x, const char *name, size_t n) {
  for (size_t k = 0; k < x->base_env_n; k++)
    if (strncmp(x->base_env[k], name, n) == 0 && x->base_env[k][n] == '=')
      return;
  for (size_t k = 0; environ[k] != NULL; k++) {
    if (strncmp(environ[k], name, n) == 0 && environ[k][n] == '=') {
      x->base_env[x->base_env_n++] = environ[k];
      return;
    }
  }
}

/* The environment every program gets, whatever the server's holds:
 * PATH, LD_LIBRARY_PATH (when set) and the --passenv names that are set,
 * as pointers into environ (which nothing changes while serving).
 * 0, or -1 out of memory. */
static int exec_env_init(struct exec *x, const char *passenv) {
  size_t names = 2;
  for (const char *p = passenv; p != NULL && *p != '\0'; p++)
    names += *p == ',';
  if (passenv != NULL)
    names++;
  x->base_env = calloc(names + 1, sizeof *x->base_env);
  if (x->base_env == NULL)
    return -1;
  exec_env_add(x, "PATH", 4);
  exec_env_add(x, "LD_LIBRARY_PATH", 15);
  for (const char *p = passenv; p != NULL;) {
    size_t n = strcspn(p, ",");
    exec_env_add(x, p, n);
    p = p[n] == ',' ? p + n + 1 : NULL;
  }
  return 0;
}

int exec_spawn(char *const *argv, char **env, pid_t *pid, int in[2],
               int out[2], int err[2]) {
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
    rc = posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (rc == 0)
    rc = posix_spawn(pid, argv[0], &fa, &attr, argv, env);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

/* Find an executable `name` on PATH; 0 and its path in buf, or -1. */
static int exec_which(const char *name, char *buf, size_t cap) {
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

/* Set up the programs' argv: under stdbuf -oL when it is installed, so
 * that programs using C stdio send each line at once, not at exit
 * (--binary: -o0, every write at once).  When the open-files limit
 * was raised, a first shell puts the original soft limit back and execs
 * the program (same PID): posix_spawn cannot set a limit in the child, and
 * prlimit after it would race the program's own start.  --exec's command
 * runs under /bin/sh -c; --dir's file is run itself (its slot is filled
 * per program by exec_spawn_argv). */
static void exec_argv_init(struct exec *x, const struct rlimit *nofile) {
  char **a = x->argv;
  size_t k = 0;
  const char *run = x->cmd != NULL ? "exec /bin/sh -c \"$1\"" : "exec \"$1\"";
  if (exec_which("stdbuf", x->stdbuf, sizeof x->stdbuf) == 0) {
    a[k++] = x->stdbuf;
    a[k++] = (char *)(uintptr_t)(x->binary ? "-o0" : "-oL");
  }
  if (nofile != NULL) {
    snprintf(x->script, sizeof x->script, "ulimit -S -n %llu 2>/dev/null; %s",
             (unsigned long long)nofile->rlim_cur, run);
    a[k++] = (char *)(uintptr_t) "/bin/sh";
    a[k++] = (char *)(uintptr_t) "-c";
    a[k++] = x->script;
    a[k++] = (char *)(uintptr_t) "sh";
  } else if (x->cmd != NULL) {
    a[k++] = (char *)(uintptr_t) "/bin/sh";
    a[k++] = (char *)(uintptr_t) "-c";
  }
  x->prog_slot = (int)k;
  a[k++] = (char *)(uintptr_t)x->cmd;
  a[k] = NULL;
}

void exec_spawn_argv(const struct exec *x, const char *prog, char *argv[8]) {
  memcpy(argv, x->argv, 8 * sizeof argv[0]);
  if (x->cmd == NULL)
    argv[x->prog_slot] = (char *)(uintptr_t)prog;
}

int exec_spawn_setup(struct exec *x, const char *passenv,
                     const struct rlimit *nofile) {
  if (exec_env_init(x, passenv) != 0)
    return -1;
  exec_argv_init(x, nofile);
  return 0;
}
