/*
 * accept.c - the Sec-WebSocket-Accept value of RFC 6455 §4.2.2:
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), and the
 * Sec-WebSocket-Key a client sends (wsv_hs_key, wsv_hs_accept in
 * wsv/hs_client.h).
 */
#include "int.h"

void wsv__accept_value(const char *key, size_t key_len, char out[28]) {
  struct wsv__sha1_ctx c;
  uint8_t digest[20];

  /* Hash the key and the GUID as one message without concatenating them. */
  wsv__sha1_init(&c);
  wsv__sha1_update(&c, key, key_len);
  wsv__sha1_update(&c, WSV__GUID, sizeof(WSV__GUID) - 1);
  wsv__sha1_final(&c, digest);

  /* 20 bytes encode to exactly 28 characters (one '=' of padding). */
  (void)wsv__base64_encode(digest, sizeof(digest), out);
}

size_t wsv_hs_key(const uint8_t nonce[16], char out[25]) {
  size_t n = wsv__base64_encode(nonce, 16, out);
  out[n] = '\0';
  return n;
}

size_t wsv_hs_accept(const char *key, size_t key_len, char out[29]) {
  wsv__accept_value(key, key_len, out);
  out[28] = '\0';
  return 28;
}
