/*
 * webpath.c - request paths to files under a directory (webpath.h): the
 * percent-decoding and segment checks every lookup starts with, the
 * realpath check against symbolic links leading out, and the program
 * lookup of `wsv serve --dir`.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "webpath.h"
#include "wsv/url.h"

int webpath_decode(const char *path, size_t len, char *out, size_t cap) {
  if (len == 0 || path[0] != '/' || cap == 0)
    return WEBPATH_BAD;
  /* A bad escape, an encoded NUL, or too long: refused whole. */
  size_t o = wsv_url_decode(path, len, out,
                            cap < WEBPATH_MAX + 1 ? cap : WEBPATH_MAX + 1);
  if (o == SIZE_MAX)
    return WEBPATH_BAD;
  /* '\\' is no separator here, but may be one for a tool the file is
   * handed to. */
  if (memchr(out, '\\', o) != NULL)
    return WEBPATH_BAD;
  /* Every segment: "." and ".." (the decoded forms too) leave or stay
   * put; a leading '.' is a dot file. */
  for (const char *s = out; *s != '\0';) {
    while (*s == '/')
      s++;
    size_t n = strcspn(s, "/");
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return WEBPATH_DOTDOT;
    if (n > 0 && s[0] == '.')
      return WEBPATH_DOTFILE;
    s += n;
  }
  return WEBPATH_OK;
}

int webpath_inside(const char *root_real, const char *file) {
  char real[PATH_MAX];
  if (realpath(file, real) == NULL)
    return 0;
  size_t n = strlen(root_real);
  if (n == 1 && root_real[0] == '/')
    return 1;
  return strncmp(real, root_real, n) == 0 &&
         (real[n] == '\0' || real[n] == '/');
}

int webpath_program(const char *root_real, const char *decoded, char *prog,
                    size_t pcap, char *script, size_t scap, const char **info,
                    const char **why) {
  size_t pl = (size_t)snprintf(prog, pcap, "%s", root_real);
  size_t sl = 0;
  const char *s = decoded;
  script[0] = '\0';
  *why = "no program at this path";
  for (;;) {
    while (*s == '/')
      s++;
    size_t n = strcspn(s, "/");
    if (n == 0)
      return 404; /* the path ends at a directory */
    if (pl + 1 + n >= pcap || sl + 1 + n >= scap) {
      *why = "path too long";
      return 404;
    }
    prog[pl++] = '/';
    memcpy(prog + pl, s, n);
    pl += n;
    prog[pl] = '\0';
    script[sl++] = '/';
    memcpy(script + sl, s, n);
    sl += n;
    script[sl] = '\0';
    s += n;
    struct stat st;
    if (stat(prog, &st) != 0)
      return 404;
    if (!webpath_inside(root_real, prog)) {
      *why = "no program at this path (a link leads out of --dir)";
      return 404;
    }
    if (S_ISDIR(st.st_mode))
      continue;
    if (!S_ISREG(st.st_mode) || access(prog, X_OK) != 0) {
      *why = "the file at this path is not an executable program";
      return 404;
    }
    *info = s;
    return 0;
  }
}
