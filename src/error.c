/* error.c - wsv_strerror, wsv_err_name, wsv_is_fatal from WSV_ERR_MAP;
 * wsv_err_from_errno from WSV_ERRNO_MAP. */
/* The errno names of WSV_ERRNO_MAP are POSIX, not ISO C. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>

#include "int.h"

const char *wsv_strerror(int err) {
  switch (err) {
  case WSV_OK:
    return "success";
#define WSV__ERR_TEXT(name, num, text)                                         \
  case WSV_ERR_##name:                                                         \
    return text;
    WSV_ERR_MAP(WSV__ERR_TEXT)
#undef WSV__ERR_TEXT
  default:
    return "unknown error";
  }
}

const char *wsv_err_name(int err) {
  switch (err) {
  case WSV_OK:
    return "WSV_OK";
#define WSV__ERR_NAME(name, num, text)                                         \
  case WSV_ERR_##name:                                                         \
    return "WSV_ERR_" #name;
    WSV_ERR_MAP(WSV__ERR_NAME)
#undef WSV__ERR_NAME
  default:
    return "WSV_ERR_UNKNOWN";
  }
}

int wsv_is_fatal(int err) {
  return err <= -100;
}

int wsv_err_from_errno(int e) {
  switch (e) {
    /* Each name of the table is also the errno macro: case EADDRINUSE. */
#define WSV__ERR_ERRNO(name, num, text)                                        \
  case name:                                                                   \
    return WSV_ERR_##name;
    WSV_ERRNO_MAP(WSV__ERR_ERRNO)
#undef WSV__ERR_ERRNO
  case ENOMEM:
    return WSV_ERR_NOMEM;
  case EINVAL:
    return WSV_ERR_INVAL;
  default:
    return WSV_ERR_SYSTEM;
  }
}

int wsv_err_close_code(int err) {
  switch (err) {
  case WSV_ERR_PROTOCOL:
    return 1002;
  case WSV_ERR_UTF8:
  case WSV_ERR_INFLATE:
    return 1007;
  case WSV_ERR_POLICY:
    return 1008;
  case WSV_ERR_TOO_BIG:
  case WSV_ERR_BUDGET:
    return 1009;
  case WSV_ERR_NOMEM:
  case WSV_ERR_RANDOM:
    return 1011;
  default:
    return 0;
  }
}
