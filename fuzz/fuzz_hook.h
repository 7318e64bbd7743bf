/*
 * fuzz/fuzz_hook.h - what the handshake fuzz targets (request.c for
 * HTTP/1.1, hs_h2.c for HTTP/2) share: the CHECK that aborts, and the
 * accept hook's decision once the target has read its own views.
 *
 * The hook's mode: 0 accept, 1 accept and choose the first offered
 * subprotocol, 2 refuse (403), 3 refuse with `status` and a reason.
 */
#ifndef WSV_FUZZ_HOOK_H
#define WSV_FUZZ_HOOK_H

#include <stdlib.h>
#include <string.h>

#include "wsv.h"

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

struct fuzz_hook {
  int mode;
  int status;
};

/* Walk the offered extensions, choose the first offered subprotocol
 * (mode 1), set a reason (mode 3), and return the hook's answer. */
static inline int fuzz_hook_decide(struct wsv_hs_server *hs,
                                   const struct fuzz_hook *h) {
  size_t pos = 0;
  struct wsv_str e;
  char name[256];
  while (wsv_hs_server_list_next(hs, "Sec-WebSocket-Extensions", &pos, &e))
    CHECK(e.len > 0);
  pos = 0;
  if (h->mode == 1 &&
      wsv_hs_server_list_next(hs, "Sec-WebSocket-Protocol", &pos, &e) &&
      e.len < sizeof name) {
    memcpy(name, e.ptr, e.len);
    name[e.len] = '\0';
    CHECK(wsv_hs_server_select_subprotocol(hs, name) == 0);
    CHECK(wsv_hs_server_subprotocol(hs).len == e.len);
  }
  if (h->mode == 3)
    CHECK(wsv_hs_server_set_reason(hs, "go \x01away\xff") == 0);
  return h->mode < 2 ? 0 : h->mode == 2 ? -1 : h->status;
}

#endif /* WSV_FUZZ_HOOK_H */
