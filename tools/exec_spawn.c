/*
 * exec_spawn.c - how `wsv serve --exec` starts a program: its argv (under
 * stdbuf -oL when installed, with the original open-files limit given
 * back), its environment (PATH, LD_LIBRARY_PATH, --passenv and the
 * connection's WSV_* variables, nothing else of the server's), and
 * posix_spawn into a process group of its own with SIGPIPE back to the
 * default.  exec.c runs what starts here.
 */
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "cli.h"
#include "exec.h"

/* The variables set per connection; a --passenv name among them is
 * ignored (ours win). */
static const char *const exec_conn_vars[] = {"WSV_PATH", "WSV_QUERY",
                                             "WSV_PEER", "WSV_VERSION"};
#define EXEC_CONN_VARS 4

/* Add the variable name[0..n) to the base environment if it is set and
 * not there yet. */
static void exec_env_add(struct exec *x, const char *name, size_t n) {
  for (size_t k = 0; k < EXEC_CONN_VARS; k++)
    if (strlen(exec_conn_vars[k]) == n &&
        memcmp(exec_conn_vars[k], name, n) == 0)
      return;
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

/* A malloc'd "NAME=value" string, or NULL. */
static char *exec_env_var(const char *fmt, ...) WSV_PRINTF(1, 2);

static char *exec_env_var(const char *fmt, ...) {
  char *v = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&v, fmt, ap);
  va_end(ap);
  return n < 0 ? NULL : v;
}

char **exec_env_new(const struct exec *x, struct wsv_ws *ws, size_t *nadd) {
  char **env = calloc(EXEC_CONN_VARS + x->base_env_n + 1, sizeof *env);
  if (env == NULL)
    return NULL;
  char peer[64] = "";
  (void)wsv_ws_peer(ws, peer, sizeof peer);
  struct wsv_str q = {NULL, 0};
  const struct wsv_hs_server *hs = wsv_ws_request(ws);
  if (hs != NULL)
    q = wsv_hs_server_query(hs);
  env[0] = exec_env_var("WSV_PATH=%s", wsv_ws_path(ws));
  env[1] =
      exec_env_var("WSV_QUERY=%.*s", (int)q.len, q.ptr != NULL ? q.ptr : "");
  env[2] = exec_env_var("WSV_PEER=%s", peer);
  env[3] = exec_env_var("WSV_VERSION=%d", wsv_ws_version(ws));
  int ok = env[0] != NULL && env[1] != NULL && env[2] != NULL && env[3] != NULL;
  *nadd = EXEC_CONN_VARS;
  if (!ok) {
    for (size_t k = 0; k < EXEC_CONN_VARS; k++)
      free(env[k]);
    free(env);
    return NULL;
  }
  for (size_t k = 0; k < x->base_env_n; k++)
    env[EXEC_CONN_VARS + k] = x->base_env[k];
  env[EXEC_CONN_VARS + x->base_env_n] = NULL;
  return env;
}

void exec_env_free(char **env, size_t nadd) {
  if (env == NULL)
    return;
  for (size_t k = 0; k < nadd; k++)
    free(env[k]);
  free(env);
}

int exec_spawn(const struct exec *x, char **env, pid_t *pid, int in[2],
               int out[2]) {
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
    rc = posix_spawn(pid, x->argv[0], &fa, &attr, x->argv, env);
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

/* Set up the program's argv: under stdbuf -oL when it is installed, so
 * that programs using C stdio send each line at once, not at exit.  When
 * the open-files limit was raised, a first shell puts the original soft
 * limit back and execs the one running CMD (same PID): posix_spawn cannot
 * set a limit in the child, and prlimit after it would race the program's
 * own start. */
static void exec_argv_init(struct exec *x, const struct rlimit *nofile) {
  char **a = x->argv;
  size_t k = 0;
  if (exec_which("stdbuf", x->stdbuf, sizeof x->stdbuf) == 0) {
    a[k++] = x->stdbuf;
    a[k++] = (char *)(uintptr_t) "-oL";
  }
  a[k++] = (char *)(uintptr_t) "/bin/sh";
  a[k++] = (char *)(uintptr_t) "-c";
  if (nofile != NULL) {
    snprintf(x->script, sizeof x->script,
             "ulimit -S -n %llu 2>/dev/null; exec /bin/sh -c \"$1\"",
             (unsigned long long)nofile->rlim_cur);
    a[k++] = x->script;
    a[k++] = (char *)(uintptr_t) "sh";
  }
  a[k++] = (char *)(uintptr_t)x->cmd;
  a[k] = NULL;
}

int exec_spawn_setup(struct exec *x, const char *passenv,
                     const struct rlimit *nofile) {
  if (exec_env_init(x, passenv) != 0)
    return -1;
  exec_argv_init(x, nofile);
  return 0;
}
