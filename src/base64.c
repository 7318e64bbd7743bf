/*
 * base64.c - RFC 4648 §4 base64 with padding.  The decoder is strict: it
 * accepts only the canonical encoding of some byte string, so every accepted
 * input re-encodes to itself.
 */
#include <limits.h>
#include <stdint.h>

#include "wsv/http.h"

#include "int.h"

static const char base64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet character, or -1 for anything else
 * (including '=', whitespace and the URL-safe '-' and '_'). */
static int base64_value(char ch) {
  unsigned char c = (unsigned char)ch;

  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

size_t wsv__base64_encode(const uint8_t *in, size_t len, char *out) {
  size_t i = 0, o = 0;
  uint32_t v;

  while (len - i >= 3) {
    v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
    out[o++] = base64_alphabet[(v >> 18) & 63];
    out[o++] = base64_alphabet[(v >> 12) & 63];
    out[o++] = base64_alphabet[(v >> 6) & 63];
    out[o++] = base64_alphabet[v & 63];
    i += 3;
  }

  if (len - i == 1) {
    v = (uint32_t)in[i] << 16;
    out[o++] = base64_alphabet[(v >> 18) & 63];
    out[o++] = base64_alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (len - i == 2) {
    v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
    out[o++] = base64_alphabet[(v >> 18) & 63];
    out[o++] = base64_alphabet[(v >> 12) & 63];
    out[o++] = base64_alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }

  return o;
}

long wsv__base64_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
  size_t pad = 0, outlen, i, o = 0;
  int a, b, c, d;
  uint32_t v;

  if (len == 0)
    return 0;
  if (len % 4 != 0)
    return -1;

  /* Padding can only be the last one or two characters; a '=' anywhere else
   * is not an alphabet character and is rejected below. */
  if (in[len - 1] == '=') {
    pad = 1;
    if (in[len - 2] == '=')
      pad = 2;
  }

  outlen = len / 4 * 3 - pad;
  if (outlen > (size_t)LONG_MAX || outlen > cap)
    return -1;

  for (i = 0; i < len; i += 4) {
    int last = i + 4 == len;

    a = base64_value(in[i]);
    b = base64_value(in[i + 1]);
    c = (last && pad == 2) ? 0 : base64_value(in[i + 2]);
    d = (last && pad >= 1) ? 0 : base64_value(in[i + 3]);
    if (a < 0 || b < 0 || c < 0 || d < 0)
      return -1;

    v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) |
        (uint32_t)d;

    if (last && pad == 2) {
      /* "xy==": only the top 2 bits of y are data; the rest must be 0. */
      if ((v & 0xffffu) != 0)
        return -1;
      out[o++] = (uint8_t)(v >> 16);
    } else if (last && pad == 1) {
      /* "xyz=": the low 2 bits of z are not data and must be 0. */
      if ((v & 0xffu) != 0)
        return -1;
      out[o++] = (uint8_t)(v >> 16);
      out[o++] = (uint8_t)(v >> 8);
    } else {
      out[o++] = (uint8_t)(v >> 16);
      out[o++] = (uint8_t)(v >> 8);
      out[o++] = (uint8_t)v;
    }
  }

  return (long)o;
}

size_t wsv_base64_encode(const void *in, size_t len, char *out, size_t cap) {
  size_t need;

  if (len / 3 >= SIZE_MAX / 4 - 1)
    return SIZE_MAX;
  need = (len + 2) / 3 * 4;
  if (out == NULL || cap <= need || (in == NULL && len > 0))
    return need;
  (void)wsv__base64_encode((const uint8_t *)in, len, out);
  out[need] = '\0';
  return need;
}
