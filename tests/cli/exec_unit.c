/* exec_unit.c - the pure parts of `wsv serve --dir`, --staticdir and the
 * programs' environment, without sockets: webpath_decode (what paths are
 * accepted and refused), webpath_program (--dir's lookup, in a directory
 * made here) and exec_env_build (the CGI/1.1 variables, HTTP_<NAME>, the
 * headers left out, the base environment overridden).  Built from
 * tools/webpath.c and tools/exec_env.c (tests/cli/CMakeLists.txt). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "webpath.h"

static int decode(const char *p, char *out) {
  return webpath_decode(p, strlen(p), out, WEBPATH_MAX + 1);
}

static void test_decode(void **state) {
  static const struct {
    const char *in, *out;
  } ok[] = {{"/", "/"},
            {"/a/b.sh", "/a/b.sh"},
            {"/a%20b", "/a b"},
            {"/a%2Fb", "/a/b"},
            {"/x/y..z/z.", "/x/y..z/z."},
            {"//a", "//a"},
            {"/caf%C3%A9", "/caf\xc3\xa9"}};
  static const struct {
    const char *in;
    int want;
  } bad[] = {{"", WEBPATH_BAD},
             {"a", WEBPATH_BAD},
             {"/a%", WEBPATH_BAD},
             {"/a%2", WEBPATH_BAD},
             {"/a%zz", WEBPATH_BAD},
             {"/a%00b", WEBPATH_BAD},
             {"/a\\b", WEBPATH_BAD},
             {"/a%5cb", WEBPATH_BAD},
             {"/..", WEBPATH_DOTDOT},
             {"/../etc/passwd", WEBPATH_DOTDOT},
             {"/a/../../b", WEBPATH_DOTDOT},
             {"/%2e%2e/x", WEBPATH_DOTDOT},
             {"/%2E%2E%2Fx", WEBPATH_DOTDOT},
             {"/..%2fx", WEBPATH_DOTDOT},
             {"/a/./b", WEBPATH_DOTDOT},
             {"/a/.", WEBPATH_DOTDOT},
             {"/.git/config", WEBPATH_DOTFILE},
             {"/a/.hidden", WEBPATH_DOTFILE},
             {"/a/%2ehidden", WEBPATH_DOTFILE}};
  char out[WEBPATH_MAX + 1];
  (void)state;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    assert_int_equal(decode(ok[i].in, out), WEBPATH_OK);
    assert_string_equal(out, ok[i].out);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int r = decode(bad[i].in, out);
    if (r != bad[i].want)
      fail_msg("%s: %d, want %d", bad[i].in, r, bad[i].want);
  }
  /* too long */
  char *big = malloc(WEBPATH_MAX + 3);
  assert_non_null(big);
  memset(big, 'a', WEBPATH_MAX + 2);
  big[0] = '/';
  big[WEBPATH_MAX + 2] = '\0';
  assert_int_equal(decode(big, out), WEBPATH_BAD);
  free(big);
}

/* A directory for --dir: prog.sh (executable), plain.txt (not), sub/x,
 * a link inside and one leading out. */
struct tree {
  char root[128];
  char real[PATH_MAX];
};

static void put(const char *dir, const char *name, mode_t mode) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("#!/bin/sh\n", f);
  fclose(f);
  assert_int_equal(chmod(p, mode), 0);
}

static int tree_setup(void **state) {
  struct tree *t = calloc(1, sizeof *t);
  char p[256];
  snprintf(t->root, sizeof t->root, "/tmp/wsv-exec-unit.XXXXXX");
  if (mkdtemp(t->root) == NULL)
    return -1;
  put(t->root, "prog.sh", 0755);
  put(t->root, "plain.txt", 0644);
  snprintf(p, sizeof p, "%s/sub", t->root);
  mkdir(p, 0755);
  put(p, "x", 0755);
  snprintf(p, sizeof p, "%s/in", t->root);
  if (symlink("prog.sh", p) != 0)
    return -1;
  snprintf(p, sizeof p, "%s/out", t->root);
  if (symlink("/bin/sh", p) != 0)
    return -1;
  if (realpath(t->root, t->real) == NULL)
    return -1;
  *state = t;
  return 0;
}

static int tree_teardown(void **state) {
  struct tree *t = *state;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
  int rc = system(cmd);
  free(t);
  return rc == 0 ? 0 : -1;
}

static void test_program(void **state) {
  struct tree *t = *state;
  char prog[PATH_MAX], script[WEBPATH_MAX + 1], want[PATH_MAX + 16];
  const char *info = NULL, *why = NULL;
  assert_int_equal(webpath_program(t->real, "/prog.sh/a/b", prog, sizeof prog,
                                   script, sizeof script, &info, &why),
                   0);
  snprintf(want, sizeof want, "%s/prog.sh", t->real);
  assert_string_equal(prog, want);
  assert_string_equal(script, "/prog.sh");
  assert_string_equal(info, "/a/b");
  assert_int_equal(webpath_program(t->real, "//sub//x", prog, sizeof prog,
                                   script, sizeof script, &info, &why),
                   0);
  assert_string_equal(script, "/sub/x");
  assert_string_equal(info, "");
  assert_int_equal(webpath_program(t->real, "/in/q", prog, sizeof prog, script,
                                   sizeof script, &info, &why),
                   0); /* a link inside the directory */
  assert_string_equal(info, "/q");
  static const char *const refused[] = {"/", "/sub", "/sub/", "/nothing",
                                        "/plain.txt", "/out", "/sub/nope/x"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    why = NULL;
    int r = webpath_program(t->real, refused[i], prog, sizeof prog, script,
                            sizeof script, &info, &why);
    if (r != 404 || why == NULL)
      fail_msg("%s: %d, want 404 with a reason", refused[i], r);
  }
  char p[PATH_MAX + 16];
  snprintf(p, sizeof p, "%s/prog.sh", t->real);
  assert_int_equal(webpath_inside(t->real, p), 1);
  snprintf(p, sizeof p, "%s/out", t->real);
  assert_int_equal(webpath_inside(t->real, p), 0);
  snprintf(p, sizeof p, "%s/../", t->real);
  assert_int_equal(webpath_inside(t->real, p), 0);
}

static struct wsv_str S(const char *s) {
  struct wsv_str v = {s, strlen(s)};
  return v;
}

static const char *get(char **env, const char *name) {
  size_t n = strlen(name);
  for (size_t k = 0; env[k] != NULL; k++)
    if (strncmp(env[k], name, n) == 0 && env[k][n] == '=')
      return env[k] + n + 1;
  return NULL;
}

static void test_env(void **state) {
  struct wsv_header h[] = {
      {S("Host"), S("example.test:8080")},
      {S("X-Foo-Bar"), S("v")},
      {S("x-twice"), S("a")},
      {S("Proxy"), S("http://evil.example")},
      {S("X_Foo_Bar"), S("underscore")},
      {S("X.Dot"), S("dot")},
      {S("X-Twice"), S("b")},
      {S("Remote-Addr"), S("spoof")},
  };
  char base0[] = "PATH=/usr/bin", base1[] = "REMOTE_ADDR=from-passenv",
       base2[] = "LANG=C";
  char *base[] = {base0, base1, base2};
  struct exec_req r;
  (void)state;
  memset(&r, 0, sizeof r);
  r.peer = "[2001:db8::1]:5678";
  r.ws_path = "/p.sh/x";
  r.version = 13;
  r.method = S("GET");
  r.target = S("/p.sh/x?a=1");
  r.query = S("a=1");
  r.host = S("example.test:8080");
  r.headers = h;
  r.nheaders = sizeof h / sizeof h[0];
  r.server_addr = "127.0.0.1";
  r.server_port = 8080;
  r.script_name = "/p.sh";
  r.path_info = "/x";
  r.unique_id = 42;
  size_t nadd = 0;
  char **env = exec_env_build(&r, base, 3, &nadd);
  assert_non_null(env);
  assert_string_equal(get(env, "REMOTE_ADDR"), "2001:db8::1");
  assert_string_equal(get(env, "REMOTE_PORT"), "5678");
  assert_string_equal(get(env, "REMOTE_HOST"), "2001:db8::1");
  assert_string_equal(get(env, "QUERY_STRING"), "a=1");
  assert_string_equal(get(env, "REQUEST_URI"), "/p.sh/x?a=1");
  assert_string_equal(get(env, "REQUEST_METHOD"), "GET");
  assert_string_equal(get(env, "SCRIPT_NAME"), "/p.sh");
  assert_string_equal(get(env, "PATH_INFO"), "/x");
  assert_string_equal(get(env, "SERVER_NAME"), "example.test");
  assert_string_equal(get(env, "SERVER_PORT"), "8080");
  assert_string_equal(get(env, "SERVER_PROTOCOL"), "HTTP/1.1");
  assert_string_equal(get(env, "UNIQUE_ID"), "42");
  assert_string_equal(get(env, "WSV_PEER"), "[2001:db8::1]:5678");
  assert_string_equal(get(env, "WSV_PATH"), "/p.sh/x");
  assert_string_equal(get(env, "HTTP_X_FOO_BAR"), "v"); /* not underscore */
  assert_string_equal(get(env, "HTTP_X_TWICE"), "a, b");
  assert_string_equal(get(env, "HTTP_HOST"), "example.test:8080");
  assert_string_equal(get(env, "HTTP_REMOTE_ADDR"), "spoof");
  assert_null(get(env, "HTTP_PROXY"));
  assert_null(get(env, "HTTP_X_DOT"));
  assert_null(get(env, "HTTPS"));
  assert_string_equal(get(env, "PATH"), "/usr/bin");
  assert_string_equal(get(env, "LANG"), "C");
  /* the request's REMOTE_ADDR wins over --passenv's; once only */
  size_t n = 0;
  for (size_t k = 0; env[k] != NULL; k++)
    n += strncmp(env[k], "REMOTE_ADDR=", 12) == 0;
  assert_int_equal(n, 1);
  exec_env_free(env, nadd);
  /* IPv4 peer, TLS, no Host: the local address names the server */
  r.peer = "192.0.2.7:1";
  r.tls = 1;
  r.host = S("");
  r.nheaders = 0;
  env = exec_env_build(&r, NULL, 0, &nadd);
  assert_non_null(env);
  assert_string_equal(get(env, "REMOTE_ADDR"), "192.0.2.7");
  assert_string_equal(get(env, "HTTPS"), "on");
  assert_string_equal(get(env, "SERVER_NAME"), "127.0.0.1");
  assert_null(get(env, "PATH"));
  exec_env_free(env, nadd);
  /* an IPv6 Host keeps its brackets */
  r.host = S("[::1]:9");
  env = exec_env_build(&r, NULL, 0, &nadd);
  assert_non_null(env);
  assert_string_equal(get(env, "SERVER_NAME"), "[::1]");
  exec_env_free(env, nadd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test_setup_teardown(test_program, tree_setup, tree_teardown),
      cmocka_unit_test(test_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
