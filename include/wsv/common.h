/*
 * wsv/common.h - types shared by every part of the sans-I/O core: byte
 * views, the caller's allocator and the random-source hook.
 */
#ifndef WSV_COMMON_H
#define WSV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "wsv/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view of bytes owned by someone else (no terminating NUL is promised).
 * Who owns the bytes, and for how long they stay valid, is written next to
 * every function that hands one out. */
struct wsv_str {
  const char *ptr;
  size_t len;
};

/* One HTTP header field: views into the buffer the message was parsed from
 * (name without the colon; value without surrounding spaces or tabs). */
struct wsv_header {
  struct wsv_str name;
  struct wsv_str value;
};

/* A gather-write element.  Same member order and types as POSIX struct
 * iovec, so an array of these can be passed to writev() on Linux, but the
 * core does not include <sys/uio.h>. */
struct wsv_iovec {
  const void *base;
  size_t len;
};

/* The caller's allocator (as nghttp2_mem).  Every allocation the core makes
 * goes through it; pass NULL wherever a `const struct wsv_mem *` is taken to
 * use malloc/realloc/free.  The struct is copied: it need not outlive the
 * call that received it. */
struct wsv_mem {
  void *user;
  void *(*malloc)(size_t size, void *user);
  void *(*realloc)(void *ptr, size_t size, void *user);
  void (*free)(void *ptr, void *user);
};

/* The random-source hook: fill buf[0..len) with unpredictable bytes and
 * return 0, or return nonzero on failure.  Used for client handshake keys
 * and client masking keys.  wsv_random_os() is the default (getrandom(2)
 * on Linux); tests and embedded targets can supply their own. */
typedef int (*wsv_random_fn)(void *user, uint8_t *buf, size_t len);

/* wsv_random_os - the default random source: the OS CSPRNG.
 * `user` is ignored.  Returns 0, or -1 if the OS could not supply bytes. */
WSV_EXTERN int wsv_random_os(void *user, uint8_t *buf, size_t len);

/* The WebSocket protocol versions this implementation can speak.  A set of
 * versions is a bitmask of WSV_VERSION_BIT(v); 13 is RFC 6455, 8 and 7 are
 * the hybi-10 and hybi-07 drafts (the same framing). */
#define WSV_VERSION_BIT(v) (UINT32_C(1) << (v))
#define WSV_VERSIONS_ALL                                                       \
  (WSV_VERSION_BIT(13) | WSV_VERSION_BIT(8) | WSV_VERSION_BIT(7))
#define WSV_VERSIONS_DEFAULT WSV_VERSION_BIT(13)

/* wsv_version_string - the running library's version, e.g. "0.1.0"
 * (static string); wsv_version_num - the same as major * 10000 + minor *
 * 100 + patch.  WSV_VERSION_STRING and WSV_VERSION_NUM (wsv/version.h) are
 * those of the headers a program was compiled with. */
WSV_EXTERN const char *wsv_version_string(void);
WSV_EXTERN int wsv_version_num(void);

#ifdef __cplusplus
}
#endif
#endif /* WSV_COMMON_H */
