/*
 * accept.c - the Sec-WebSocket-Accept value of RFC 6455 §4.2.2:
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
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
