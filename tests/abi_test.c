/* abi_test.c - the binary layout of every public struct, pinned.
 *
 * Within a SONAME (libwsv.so.0.1 for 0.1.x) a struct's size, alignment and
 * every field's offset and size stay as they are, so a program built
 * against an older 0.1.x runs with a newer one.  The _Static_asserts below
 * record the layout on x86-64 Linux; a change that moves or resizes
 * anything fails the build of this test.
 *
 * Two kinds of struct (README, "Library contract"):
 *   - the settings callers fill (the five *_config structs, wsv_ws_limits,
 *     wsv_ws_callbacks) end with a reserved tail, zeroed by the _init
 *     functions.  A new field takes reserved space: put it just before
 *     _reserved, shrink _reserved by the bytes it takes (an 8-byte slot per
 *     pointer, size_t or uint64_t; pack smaller fields into a slot, and
 *     keep the total), give it a default in the _init function, and add its
 *     ABI_FIELD line here.  Size and every other line stay as they are.
 *   - every other public struct is frozen within a SONAME: changing it
 *     needs a new minor release (0.x) or major (1.0 on), with these lines
 *     rewritten in the same commit.
 * A struct added to a public header gets its lines here too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "wsv.h"
#include "wsv/rt.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__LP64__)
#define ABI_PINNED 1
#define ABI_STRUCT(T, size, align)                                             \
  _Static_assert(sizeof(struct T) == (size) && _Alignof(struct T) == (align),  \
                 "struct " #T ": size or alignment changed (abi_test.c)");
#define ABI_FIELD(T, f, off, size)                                             \
  _Static_assert(offsetof(struct T, f) == (off) &&                             \
                     sizeof(((struct T *)0)->f) == (size),                     \
                 "struct " #T "." #f ": moved or resized (abi_test.c)");
#else
#define ABI_PINNED 0
#define ABI_STRUCT(T, size, align)
#define ABI_FIELD(T, f, off, size)
#endif

/* On every platform: the reserved tail is the last member. */
#define ABI_TAIL_LAST(T)                                                       \
  _Static_assert(offsetof(struct T, _reserved) +                               \
                         sizeof(((struct T *)0)->_reserved) ==                 \
                     sizeof(struct T),                                         \
                 "struct " #T ": _reserved must end the struct");
ABI_TAIL_LAST(wsv_conn_config)
ABI_TAIL_LAST(wsv_hs_client_config)
ABI_TAIL_LAST(wsv_hs_server_config)
ABI_TAIL_LAST(wsv_ws_callbacks)
ABI_TAIL_LAST(wsv_ws_limits)
ABI_TAIL_LAST(wsv_server_config)
ABI_TAIL_LAST(wsv_client_config)

/* struct wsv_client_config (grows into _reserved) */
ABI_STRUCT(wsv_client_config, 744, 8)
ABI_FIELD(wsv_client_config, url, 0, 8)
ABI_FIELD(wsv_client_config, handshake, 8, 200)
ABI_FIELD(wsv_client_config, conn, 208, 176)
ABI_FIELD(wsv_client_config, limits, 384, 72)
ABI_FIELD(wsv_client_config, read_buffer_size, 456, 8)
ABI_FIELD(wsv_client_config, callbacks, 464, 112)
ABI_FIELD(wsv_client_config, user, 576, 8)
ABI_FIELD(wsv_client_config, log, 584, 8)
ABI_FIELD(wsv_client_config, log_user, 592, 8)
ABI_FIELD(wsv_client_config, tls_insecure, 600, 4)
ABI_FIELD(wsv_client_config, tls_cafile, 608, 8)
ABI_FIELD(wsv_client_config, proxy, 616, 8)
ABI_FIELD(wsv_client_config, http, 624, 4)
ABI_FIELD(wsv_client_config, share, 632, 8)
ABI_FIELD(wsv_client_config, _reserved, 640, 104)

/* struct wsv_conn_config (grows into _reserved) */
ABI_STRUCT(wsv_conn_config, 176, 8)
ABI_FIELD(wsv_conn_config, max_frame, 0, 8)
ABI_FIELD(wsv_conn_config, max_message, 8, 8)
ABI_FIELD(wsv_conn_config, max_fragments, 16, 4)
ABI_FIELD(wsv_conn_config, max_output, 24, 8)
ABI_FIELD(wsv_conn_config, auto_pong, 32, 4)
ABI_FIELD(wsv_conn_config, max_pending_pongs, 36, 4)
ABI_FIELD(wsv_conn_config, stream, 40, 4)
ABI_FIELD(wsv_conn_config, keep_spare_block, 44, 4)
ABI_FIELD(wsv_conn_config, rsv_allowed, 48, 4)
ABI_FIELD(wsv_conn_config, pmd, 52, 20)
ABI_FIELD(wsv_conn_config, pmd_min_size, 72, 8)
ABI_FIELD(wsv_conn_config, random, 80, 8)
ABI_FIELD(wsv_conn_config, random_user, 88, 8)
ABI_FIELD(wsv_conn_config, msg_reserve, 96, 8)
ABI_FIELD(wsv_conn_config, msg_reserve_user, 104, 8)
ABI_FIELD(wsv_conn_config, pmd_shared, 112, 8)
ABI_FIELD(wsv_conn_config, pmd_shared_min, 120, 8)
ABI_FIELD(wsv_conn_config, pmd_deflate_bits, 128, 4)
ABI_FIELD(wsv_conn_config, pmd_mem_level, 132, 4)
ABI_FIELD(wsv_conn_config, pmd_inflate_trim, 136, 4)
ABI_FIELD(wsv_conn_config, _reserved32, 140, 4)
ABI_FIELD(wsv_conn_config, _reserved, 144, 32)

/* struct wsv_event (frozen) */
ABI_STRUCT(wsv_event, 48, 8)
ABI_FIELD(wsv_event, type, 0, 4)
ABI_FIELD(wsv_event, opcode, 4, 4)
ABI_FIELD(wsv_event, rsv, 8, 4)
ABI_FIELD(wsv_event, first, 12, 4)
ABI_FIELD(wsv_event, last, 16, 4)
ABI_FIELD(wsv_event, data, 24, 8)
ABI_FIELD(wsv_event, len, 32, 8)
ABI_FIELD(wsv_event, close_code, 40, 4)
ABI_FIELD(wsv_event, err, 44, 4)

/* struct wsv_frame_header (frozen) */
ABI_STRUCT(wsv_frame_header, 32, 8)
ABI_FIELD(wsv_frame_header, fin, 0, 4)
ABI_FIELD(wsv_frame_header, rsv, 4, 4)
ABI_FIELD(wsv_frame_header, opcode, 8, 4)
ABI_FIELD(wsv_frame_header, masked, 12, 4)
ABI_FIELD(wsv_frame_header, mask, 16, 4)
ABI_FIELD(wsv_frame_header, len, 24, 8)

/* struct wsv_frame_parser (frozen) */
ABI_STRUCT(wsv_frame_parser, 32, 8)
ABI_FIELD(wsv_frame_parser, _max_frame, 0, 8)
ABI_FIELD(wsv_frame_parser, _buf, 8, 14)
ABI_FIELD(wsv_frame_parser, _have, 22, 1)
ABI_FIELD(wsv_frame_parser, _need, 23, 1)
ABI_FIELD(wsv_frame_parser, _stage, 24, 1)
ABI_FIELD(wsv_frame_parser, _role, 25, 1)
ABI_FIELD(wsv_frame_parser, _rsv_allowed, 26, 1)
ABI_FIELD(wsv_frame_parser, _err, 28, 4)

/* struct wsv_header (frozen) */
ABI_STRUCT(wsv_header, 32, 8)
ABI_FIELD(wsv_header, name, 0, 16)
ABI_FIELD(wsv_header, value, 16, 16)

/* struct wsv_hs_client_config (grows into _reserved) */
ABI_STRUCT(wsv_hs_client_config, 200, 8)
ABI_FIELD(wsv_hs_client_config, versions, 0, 4)
ABI_FIELD(wsv_hs_client_config, first_version, 4, 4)
ABI_FIELD(wsv_hs_client_config, host, 8, 8)
ABI_FIELD(wsv_hs_client_config, port, 16, 2)
ABI_FIELD(wsv_hs_client_config, secure, 20, 4)
ABI_FIELD(wsv_hs_client_config, path, 24, 8)
ABI_FIELD(wsv_hs_client_config, origin, 32, 8)
ABI_FIELD(wsv_hs_client_config, subprotocols, 40, 8)
ABI_FIELD(wsv_hs_client_config, nsubprotocols, 48, 8)
ABI_FIELD(wsv_hs_client_config, extensions, 56, 8)
ABI_FIELD(wsv_hs_client_config, pmd_offer, 64, 4)
ABI_FIELD(wsv_hs_client_config, pmd_request, 68, 20)
ABI_FIELD(wsv_hs_client_config, headers, 88, 8)
ABI_FIELD(wsv_hs_client_config, nheaders, 96, 8)
ABI_FIELD(wsv_hs_client_config, max_header_bytes, 104, 8)
ABI_FIELD(wsv_hs_client_config, max_headers, 112, 8)
ABI_FIELD(wsv_hs_client_config, random, 120, 8)
ABI_FIELD(wsv_hs_client_config, random_user, 128, 8)
ABI_FIELD(wsv_hs_client_config, _reserved, 136, 64)

/* struct wsv_hs_server_config (grows into _reserved) */
ABI_STRUCT(wsv_hs_server_config, 120, 8)
ABI_FIELD(wsv_hs_server_config, versions, 0, 4)
ABI_FIELD(wsv_hs_server_config, unsupported_status, 4, 4)
ABI_FIELD(wsv_hs_server_config, plain_http, 8, 4)
ABI_FIELD(wsv_hs_server_config, max_head_bytes, 16, 8)
ABI_FIELD(wsv_hs_server_config, max_headers, 24, 8)
ABI_FIELD(wsv_hs_server_config, accept, 32, 8)
ABI_FIELD(wsv_hs_server_config, accept_user, 40, 8)
ABI_FIELD(wsv_hs_server_config, pmd_policy, 48, 4)
ABI_FIELD(wsv_hs_server_config, extra_headers, 56, 8)
ABI_FIELD(wsv_hs_server_config, _reserved, 64, 56)

/* struct wsv_http_head (frozen) */
ABI_STRUCT(wsv_http_head, 128, 8)
ABI_FIELD(wsv_http_head, method, 0, 16)
ABI_FIELD(wsv_http_head, target, 16, 16)
ABI_FIELD(wsv_http_head, status, 32, 4)
ABI_FIELD(wsv_http_head, reason, 40, 16)
ABI_FIELD(wsv_http_head, major, 56, 4)
ABI_FIELD(wsv_http_head, minor, 60, 4)
ABI_FIELD(wsv_http_head, headers, 64, 8)
ABI_FIELD(wsv_http_head, max_headers, 72, 8)
ABI_FIELD(wsv_http_head, nheaders, 80, 8)
ABI_FIELD(wsv_http_head, max_bytes, 88, 8)
ABI_FIELD(wsv_http_head, _scanned, 96, 8)
ABI_FIELD(wsv_http_head, _line, 104, 8)
ABI_FIELD(wsv_http_head, _fields, 112, 8)
ABI_FIELD(wsv_http_head, _state, 120, 4)

/* struct wsv_http_response (frozen) */
ABI_STRUCT(wsv_http_response, 40, 8)
ABI_FIELD(wsv_http_response, status, 0, 4)
ABI_FIELD(wsv_http_response, content_type, 8, 8)
ABI_FIELD(wsv_http_response, body, 16, 8)
ABI_FIELD(wsv_http_response, body_len, 24, 8)
ABI_FIELD(wsv_http_response, headers, 32, 8)

/* struct wsv_iovec (frozen) */
ABI_STRUCT(wsv_iovec, 16, 8)
ABI_FIELD(wsv_iovec, base, 0, 8)
ABI_FIELD(wsv_iovec, len, 8, 8)

/* struct wsv_mem (frozen) */
ABI_STRUCT(wsv_mem, 32, 8)
ABI_FIELD(wsv_mem, user, 0, 8)
ABI_FIELD(wsv_mem, malloc, 8, 8)
ABI_FIELD(wsv_mem, realloc, 16, 8)
ABI_FIELD(wsv_mem, free, 24, 8)

/* struct wsv_pmd_offer (frozen) */
ABI_STRUCT(wsv_pmd_offer, 16, 4)
ABI_FIELD(wsv_pmd_offer, server_no_context_takeover, 0, 4)
ABI_FIELD(wsv_pmd_offer, client_no_context_takeover, 4, 4)
ABI_FIELD(wsv_pmd_offer, server_max_window_bits, 8, 4)
ABI_FIELD(wsv_pmd_offer, client_max_window_bits, 12, 4)

/* struct wsv_pmd_params (frozen) */
ABI_STRUCT(wsv_pmd_params, 20, 4)
ABI_FIELD(wsv_pmd_params, enabled, 0, 4)
ABI_FIELD(wsv_pmd_params, server_no_context_takeover, 4, 4)
ABI_FIELD(wsv_pmd_params, client_no_context_takeover, 8, 4)
ABI_FIELD(wsv_pmd_params, server_max_window_bits, 12, 4)
ABI_FIELD(wsv_pmd_params, client_max_window_bits, 16, 4)

/* struct wsv_server_config (grows into _reserved) */
ABI_STRUCT(wsv_server_config, 744, 8)
ABI_FIELD(wsv_server_config, host, 0, 8)
ABI_FIELD(wsv_server_config, port, 8, 2)
ABI_FIELD(wsv_server_config, threads, 12, 4)
ABI_FIELD(wsv_server_config, backlog, 16, 4)
ABI_FIELD(wsv_server_config, max_connections, 24, 8)
ABI_FIELD(wsv_server_config, handshake, 32, 120)
ABI_FIELD(wsv_server_config, http, 152, 8)
ABI_FIELD(wsv_server_config, http_user, 160, 8)
ABI_FIELD(wsv_server_config, conn, 168, 176)
ABI_FIELD(wsv_server_config, limits, 344, 72)
ABI_FIELD(wsv_server_config, linger_ms, 416, 4)
ABI_FIELD(wsv_server_config, linger_bytes, 424, 8)
ABI_FIELD(wsv_server_config, handle_signals, 432, 4)
ABI_FIELD(wsv_server_config, shutdown_timeout_ms, 436, 4)
ABI_FIELD(wsv_server_config, read_buffer_size, 440, 8)
ABI_FIELD(wsv_server_config, callbacks, 448, 112)
ABI_FIELD(wsv_server_config, user, 560, 8)
ABI_FIELD(wsv_server_config, log, 568, 8)
ABI_FIELD(wsv_server_config, log_user, 576, 8)
ABI_FIELD(wsv_server_config, tls_cert_file, 584, 8)
ABI_FIELD(wsv_server_config, tls_key_file, 592, 8)
ABI_FIELD(wsv_server_config, output_budget, 600, 8)
ABI_FIELD(wsv_server_config, input_budget, 608, 8)
ABI_FIELD(wsv_server_config, broker, 616, 8)
ABI_FIELD(wsv_server_config, http2, 624, 4)
ABI_FIELD(wsv_server_config, _reserved, 632, 112)

/* struct wsv_str (frozen) */
ABI_STRUCT(wsv_str, 16, 8)
ABI_FIELD(wsv_str, ptr, 0, 8)
ABI_FIELD(wsv_str, len, 8, 8)

/* struct wsv_tls_info (frozen) */
ABI_STRUCT(wsv_tls_info, 24, 8)
ABI_FIELD(wsv_tls_info, version, 0, 8)
ABI_FIELD(wsv_tls_info, cipher, 8, 8)
ABI_FIELD(wsv_tls_info, alpn, 16, 8)

/* struct wsv_url (frozen) */
ABI_STRUCT(wsv_url, 104, 8)
ABI_FIELD(wsv_url, secure, 0, 4)
ABI_FIELD(wsv_url, host, 8, 16)
ABI_FIELD(wsv_url, host_kind, 24, 4)
ABI_FIELD(wsv_url, port, 28, 2)
ABI_FIELD(wsv_url, port_given, 32, 4)
ABI_FIELD(wsv_url, userinfo, 40, 16)
ABI_FIELD(wsv_url, path, 56, 16)
ABI_FIELD(wsv_url, query, 72, 16)
ABI_FIELD(wsv_url, target, 88, 16)

/* struct wsv_utf8 (frozen) */
ABI_STRUCT(wsv_utf8, 8, 4)
ABI_FIELD(wsv_utf8, _state, 0, 4)
ABI_FIELD(wsv_utf8, _cp, 4, 4)

/* struct wsv_ws_callbacks (grows into _reserved) */
ABI_STRUCT(wsv_ws_callbacks, 112, 8)
ABI_FIELD(wsv_ws_callbacks, open, 0, 8)
ABI_FIELD(wsv_ws_callbacks, message, 8, 8)
ABI_FIELD(wsv_ws_callbacks, drain, 16, 8)
ABI_FIELD(wsv_ws_callbacks, control, 24, 8)
ABI_FIELD(wsv_ws_callbacks, close, 32, 8)
ABI_FIELD(wsv_ws_callbacks, fail, 40, 8)
ABI_FIELD(wsv_ws_callbacks, _reserved, 48, 64)

/* struct wsv_ws_limits (grows into _reserved) */
ABI_STRUCT(wsv_ws_limits, 72, 8)
ABI_FIELD(wsv_ws_limits, handshake_timeout_ms, 0, 4)
ABI_FIELD(wsv_ws_limits, ping_interval_ms, 4, 4)
ABI_FIELD(wsv_ws_limits, pong_timeout_ms, 8, 4)
ABI_FIELD(wsv_ws_limits, close_timeout_ms, 12, 4)
ABI_FIELD(wsv_ws_limits, send_high_water, 16, 8)
ABI_FIELD(wsv_ws_limits, send_low_water, 24, 8)
ABI_FIELD(wsv_ws_limits, park_after_ms, 32, 4)
ABI_FIELD(wsv_ws_limits, _reserved, 40, 32)

/* all_zero(p, n) - 1 when p[0..n) holds only zero bytes. */
static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i;

  for (i = 0; i < n; i++) {
    if (b[i] != 0)
      return 0;
  }
  return 1;
}

#define RESERVED_ZERO(s) all_zero((s)._reserved, sizeof(s)._reserved)

/* Every _init zeroes the reserved tails, whatever was in the memory. */
static void test_init_zeroes_reserved(void **state) {
  struct wsv_conn_config cc;
  struct wsv_hs_client_config hc;
  struct wsv_hs_server_config hs;
  struct wsv_server_config sc;
  struct wsv_client_config cl;

  (void)state;
  memset(&cc, 0xa5, sizeof cc);
  wsv_conn_config_init(&cc);
  assert_true(RESERVED_ZERO(cc));

  memset(&hc, 0xa5, sizeof hc);
  wsv_hs_client_config_init(&hc);
  assert_true(RESERVED_ZERO(hc));

  memset(&hs, 0xa5, sizeof hs);
  wsv_hs_server_config_init(&hs);
  assert_true(RESERVED_ZERO(hs));

  memset(&sc, 0xa5, sizeof sc);
  wsv_server_config_init(&sc);
  assert_true(RESERVED_ZERO(sc));
  assert_true(RESERVED_ZERO(sc.handshake));
  assert_true(RESERVED_ZERO(sc.conn));
  assert_true(RESERVED_ZERO(sc.limits));
  assert_true(RESERVED_ZERO(sc.callbacks));

  memset(&cl, 0xa5, sizeof cl);
  wsv_client_config_init(&cl);
  assert_true(RESERVED_ZERO(cl));
  assert_true(RESERVED_ZERO(cl.handshake));
  assert_true(RESERVED_ZERO(cl.conn));
  assert_true(RESERVED_ZERO(cl.limits));
  assert_true(RESERVED_ZERO(cl.callbacks));
}

/* The layout above is checked at compile time where it is pinned; say so
 * in the test log when it is not (another platform). */
static void test_layout_pinned(void **state) {
  (void)state;
  if (!ABI_PINNED)
    print_message("layouts are pinned on x86-64 Linux only; not checked\n");
  /* Room to grow: at least four 8-byte slots in every settings struct. */
  assert_true(sizeof(((struct wsv_ws_limits *)0)->_reserved) >= 32);
  assert_true(sizeof(((struct wsv_conn_config *)0)->_reserved) >= 32);
  assert_true(sizeof(((struct wsv_ws_callbacks *)0)->_reserved) >=
              4 * sizeof(void (*)(void)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_zeroes_reserved),
      cmocka_unit_test(test_layout_pinned),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
