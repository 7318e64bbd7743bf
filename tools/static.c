/*
 * static.c - `wsv serve --staticdir DIR`: the files under DIR for plain
 * HTTP GET and HEAD (static.h).  The path is decoded and checked by
 * webpath.c ('..' and dot files refused); what it reaches, links
 * followed, must be inside DIR.  A file is read whole into this thread's
 * buffer (STATIC_MAX_FILE at most), from which the runtime copies the
 * answer once the callback returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wsv.h"
#include "wsv/rt.h"

#include "static.h"
#include "webpath.h"

/* One thread's answer: the body and the header lines of its last one. */
struct static_buf {
  char *body;
  size_t cap;
  char headers[4096 + 512]; /* ours, then sd->extra (4096 at most) */
  char line[WEBPATH_MAX + 128]; /* a one-line body, or a Location */
};

static void static_buf_free(void *p) {
  struct static_buf *b = p;
  if (b != NULL)
    free(b->body);
  free(b);
}

int static_init(struct serve_static *sd, const char *dir, const char *extra) {
  struct stat st;
  sd->extra = extra;
  sd->root = realpath(dir, NULL);
  if (sd->root == NULL)
    return errno == ENOMEM ? -1 : -2;
  if (stat(sd->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -2;
  }
  if (pthread_key_create(&sd->key, static_buf_free) != 0)
    return -1;
  sd->key_ready = 1;
  return 0;
}

void static_free(struct serve_static *sd) {
  if (sd->key_ready) {
    static_buf_free(pthread_getspecific(sd->key));
    (void)pthread_setspecific(sd->key, NULL);
    pthread_key_delete(sd->key);
    sd->key_ready = 0;
  }
  free(sd->root);
  sd->root = NULL;
}

/* Content types by file name extension (any case). */
static const struct {
  const char *ext, *type;
} static_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"opus", "audio/ogg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
};

/* The Content-Type for file name `name`; application/octet-stream when
 * the extension is unknown. */
static const char *static_type(const char *name) {
  const char *slash = strrchr(name, '/');
  const char *dot = strrchr(slash != NULL ? slash : name, '.');
  if (dot != NULL)
    for (size_t k = 0; k < sizeof static_types / sizeof static_types[0]; k++)
      if (strcasecmp(dot + 1, static_types[k].ext) == 0)
        return static_types[k].type;
  return "application/octet-stream";
}

/* This thread's buffer, made on first use; NULL out of memory. */
static struct static_buf *static_buf(struct serve_static *sd) {
  struct static_buf *b = pthread_getspecific(sd->key);
  if (b == NULL) {
    b = calloc(1, sizeof *b);
    if (b != NULL && pthread_setspecific(sd->key, b) != 0) {
      free(b);
      b = NULL;
    }
  }
  return b;
}

/* The answer's header lines: `own`, then sd->extra. */
static void static_headers(struct serve_static *sd, struct static_buf *b,
                           const char *own, struct wsv_http_response *res) {
  snprintf(b->headers, sizeof b->headers, "%s%s", own,
           sd->extra != NULL ? sd->extra : "");
  res->headers = b->headers;
}

/* A short answer: `status` and the one-line body `text`. */
static void static_fail(struct serve_static *sd, struct static_buf *b,
                        struct wsv_http_response *res, int status,
                        const char *text) {
  res->status = status;
  res->content_type = NULL;
  snprintf(b->line, sizeof b->line, "%s\n", text);
  res->body = b->line;
  res->body_len = strlen(b->line);
  static_headers(sd, b,
                 status == 405 ? "Allow: GET, HEAD\r\n"
                               : "X-Content-Type-Options: nosniff\r\n",
                 res);
}

/* The HTTP-date of t (RFC 9110 §5.6.7, IMF-fixdate). */
static void static_date(time_t t, char *buf, size_t cap) {
  static const char days[][4] = {"Sun", "Mon", "Tue", "Wed",
                                 "Thu", "Fri", "Sat"};
  static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
           tm.tm_min, tm.tm_sec);
}

/* Parse an IMF-fixdate; 0 and *t, or -1 (other forms are ignored, as RFC
 * 9110 §13.1.3 allows for an invalid date). */
static int static_parse_date(struct wsv_str v, time_t *t) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char s[64], mon[4];
  int d, y, h, mi, se, used = 0;
  if (v.len == 0 || v.len >= sizeof s)
    return -1;
  memcpy(s, v.ptr, v.len);
  s[v.len] = '\0';
  if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &h, &mi,
             &se, &used) != 6 ||
      used != (int)v.len)
    return -1;
  const char *m = strstr(months, mon);
  if (m == NULL || (m - months) % 3 != 0 || strlen(mon) != 3)
    return -1;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_mday = d;
  tm.tm_mon = (int)((m - months) / 3);
  tm.tm_year = y - 1900;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  *t = timegm(&tm);
  return *t == (time_t)-1 ? -1 : 0;
}

/* Read the regular file `file` (size bytes) into b->body.  0, or an
 * errno value. */
static int static_read(struct static_buf *b, const char *file, size_t size) {
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return errno;
  if (size + 1 > b->cap) {
    char *q = realloc(b->body, size + 1);
    if (q == NULL) {
      close(fd);
      return ENOMEM;
    }
    b->body = q;
    b->cap = size + 1;
  }
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, b->body + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* shrank meanwhile: serve what is there */
    got += (size_t)n;
  }
  close(fd);
  return got == size ? 0 : EIO;
}

void static_answer(struct serve_static *sd, const struct wsv_hs_server *hs,
                   struct wsv_http_response *res) {
  static const char oom[] = "out of memory\n";
  struct static_buf *b = static_buf(sd);
  if (b == NULL) {
    res->status = 500;
    res->body = oom;
    res->body_len = sizeof oom - 1;
    return;
  }
  struct wsv_str m = wsv_hs_server_method(hs);
  if (!((m.len == 3 && memcmp(m.ptr, "GET", 3) == 0) ||
        (m.len == 4 && memcmp(m.ptr, "HEAD", 4) == 0))) {
    static_fail(sd, b, res, 405, "method not allowed; use GET or HEAD");
    return;
  }
  struct wsv_str p = wsv_hs_server_path(hs);
  char decoded[WEBPATH_MAX + 1], file[PATH_MAX + 16];
  int r = webpath_decode(p.ptr, p.len, decoded, sizeof decoded);
  if (r == WEBPATH_DOTDOT || r == WEBPATH_BAD) {
    static_fail(sd, b, res, 400,
                r == WEBPATH_DOTDOT ? "'.' and '..' are not allowed in the path"
                                    : "malformed path");
    return;
  }
  if (r == WEBPATH_DOTFILE) {
    static_fail(sd, b, res, 404, "not found");
    return;
  }
  int w = snprintf(file, sizeof file, "%s%s", sd->root, decoded);
  struct stat st;
  if (w < 0 || (size_t)w >= sizeof file - 16 || stat(file, &st) != 0) {
    static_fail(sd, b, res, 404, "not found");
    return;
  }
  if (!webpath_inside(sd->root, file)) {
    static_fail(sd, b, res, 403, "forbidden: a link leads out of the "
                                 "static directory");
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    if (decoded[strlen(decoded) - 1] != '/') {
      /* index.html's relative links need the slash */
      struct wsv_str q = wsv_hs_server_query(hs);
      /* One leading '/': "//host/dir" would be another site's address
       * (a protocol-relative reference) in Location. */
      while (p.len > 1 && p.ptr[1] == '/') {
        p.ptr++;
        p.len--;
      }
      res->status = 301;
      res->content_type = NULL;
      res->body = "moved: the directory's address ends with '/'\n";
      res->body_len = strlen(res->body);
      snprintf(b->line, sizeof b->line, "Location: %.*s/%s%.*s\r\n",
               (int)p.len, p.ptr, q.len > 0 ? "?" : "", (int)q.len,
               q.len > 0 ? q.ptr : "");
      static_headers(sd, b, b->line, res);
      return;
    }
    strcat(file, "index.html");
    if (stat(file, &st) != 0 || !webpath_inside(sd->root, file)) {
      static_fail(sd, b, res, 404, "not found (no index.html here)");
      return;
    }
  }
  if (!S_ISREG(st.st_mode)) {
    static_fail(sd, b, res, 404, "not found");
    return;
  }
  if ((uint64_t)st.st_size > STATIC_MAX_FILE) {
    static_fail(sd, b, res, 500, "file too large to serve (over 8 MiB)");
    return;
  }
  char date[64], own[160];
  static_date(st.st_mtime, date, sizeof date);
  snprintf(own, sizeof own,
           "Last-Modified: %s\r\nX-Content-Type-Options: nosniff\r\n", date);
  struct wsv_str ims;
  time_t since;
  if (wsv_hs_server_header(hs, "If-Modified-Since", &ims) == 1 &&
      static_parse_date(ims, &since) == 0 && st.st_mtime <= since) {
    res->status = 304;
    res->content_type = static_type(file);
    res->body = NULL;
    res->body_len = 0;
    static_headers(sd, b, own, res);
    return;
  }
  res->status = 200;
  res->content_type = static_type(file);
  res->body_len = (size_t)st.st_size;
  static_headers(sd, b, own, res);
  if (m.len == 4) { /* HEAD: the runtime sends no body, only its length */
    res->body = b->line;
    return;
  }
  r = static_read(b, file, (size_t)st.st_size);
  if (r != 0) {
    static_fail(sd, b, res, r == EACCES ? 403 : 500,
                r == EACCES ? "forbidden: the file is not readable"
                            : "cannot read the file");
    return;
  }
  res->body = b->body;
}
