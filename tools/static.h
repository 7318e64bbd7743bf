/* static.h - the files of `wsv serve --staticdir DIR` (also --web DIR):
 * plain HTTP GET and HEAD of the files under DIR, answered through the
 * runtime's plain-HTTP callback (static.c). */
#ifndef WSV_STATIC_H
#define WSV_STATIC_H

#include <pthread.h>
#include <stddef.h>

struct wsv_hs_server;
struct wsv_http_response;

/* The largest file served; a larger one gets 500 with a line saying so.
 * The runtime copies each answer into the connection's output, so the
 * memory the files take is at most this much per connection being
 * answered, plus one buffer per thread. */
#define STATIC_MAX_FILE ((size_t)8 << 20)

/* The directory and what every answer carries; read-only once serving. */
struct serve_static {
  char *root;         /* realpath of DIR (malloc'd) */
  const char *extra;  /* --header / --header-http lines, or NULL */
  /* Each thread's answer buffer (struct static_buf, static.c): the
   * runtime copies the body and headers once the callback has returned,
   * so they must outlive it; the next request on that thread reuses it. */
  pthread_key_t key;
  int key_ready;
};

/* static_init - set sd (zeroed by the caller) up for directory `dir`,
 * with the extra header lines `extra` (kept as a pointer).  0; -1 out of
 * memory; -2 when dir cannot be resolved or is no directory (errno). */
int static_init(struct serve_static *sd, const char *dir, const char *extra);

/* static_free - release what static_init set up, the calling thread's
 * buffer included (others' go with their threads). */
void static_free(struct serve_static *sd);

/* static_answer - fill *res for the plain HTTP request `hs`: 200 with the
 * file (Content-Type by extension, Last-Modified), 304 when it is not
 * newer than If-Modified-Since, 301 to "PATH/" for a directory named
 * without its slash, its index.html otherwise; 400 ('..', a bad %XX), 403
 * (a symbolic link out of DIR, a file not readable), 404 (missing, a dot
 * file, a directory without index.html), 405 (not GET or HEAD), 500 (over
 * STATIC_MAX_FILE, or out of memory), each with a one-line body.  The
 * views in *res stay valid until this thread's next call. */
void static_answer(struct serve_static *sd, const struct wsv_hs_server *hs,
                   struct wsv_http_response *res);

#endif
