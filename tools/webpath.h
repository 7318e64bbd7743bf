/* webpath.h - from a request's path to a file under a directory, for
 * `wsv serve --dir` (the program a path names) and --staticdir (the file
 * it names): percent-decoding, the refusal of '..' and dot files, and the
 * check that what a path reaches, symbolic links followed, stays inside
 * the directory.  webpath.c. */
#ifndef WSV_WEBPATH_H
#define WSV_WEBPATH_H

#include <stddef.h>

/* Longest decoded path handled (longer ones: WEBPATH_BAD). */
#define WEBPATH_MAX 2048

/* What webpath_decode found. */
enum webpath_result {
  WEBPATH_OK = 0,
  WEBPATH_BAD = -1,     /* not "/...", a bad %XX, %00, or too long */
  WEBPATH_DOTDOT = -2,  /* a "." or ".." segment, also as %2e */
  WEBPATH_DOTFILE = -3  /* a segment starting with '.' (".git") */
};

/* webpath_decode - percent-decode path[0..len) (a request's path, no
 * query) into out[0..cap) (NUL-terminated; cap at most WEBPATH_MAX + 1 is
 * enough), then check every segment, '/' separated (decoded %2F too).
 * Returns an enum webpath_result. */
int webpath_decode(const char *path, size_t len, char *out, size_t cap);

/* webpath_inside - 1 if `file` (absolute, existing), with every symbolic
 * link resolved, is `root_real` (a realpath result) or under it; 0 if it
 * is elsewhere or cannot be resolved. */
int webpath_inside(const char *root_real, const char *file);

/* webpath_program - the program a decoded path names under root_real
 * (--dir): the segments are taken one by one while they name directories;
 * the first that names a file is the program, the rest of the path its
 * PATH_INFO.  On success returns 0 and writes the program's file name
 * into prog[0..pcap), its URL part (SCRIPT_NAME, "/a/b.sh") into
 * script[0..scap) and sets *info to the rest inside `decoded` ("" or
 * "/x/y").  Else an HTTP status with a one-line reason in *why: 404 (no
 * such file, a directory, not executable, a link leading out of root). */
int webpath_program(const char *root_real, const char *decoded, char *prog,
                    size_t pcap, char *script, size_t scap, const char **info,
                    const char **why);

#endif
