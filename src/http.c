/*
 * http.c - the core's HTTP and URI text code (wsv/http.h and http.h): the
 * incremental, strict HTTP/1.1 message-head parser, field and list
 * lookups, reason phrases, escaping, and the RFC 3986 host grammar.
 *
 * The scan is a byte-at-a-time state machine whose state lives in the
 * caller's struct wsv_http_head, so every byte is examined once however
 * the input is split.  Errors are reported at the first byte that makes
 * the head invalid.  When the blank line arrives, a second linear pass over
 * the (already validated) head sets the views into the current buffer.
 */
#include <limits.h>
#include <string.h>

#include "http.h"

/* Scanner states.  Negative states are sticky errors. */
enum {
  HTTP_ST_START = 0,  /* in the start line */
  HTTP_ST_START_CR,   /* start line, after CR */
  HTTP_ST_LINE_BEGIN, /* at the first byte of a header line */
  HTTP_ST_NAME,       /* inside a field name */
  HTTP_ST_VALUE,      /* after the colon */
  HTTP_ST_VALUE_CR,   /* field line, after CR */
  HTTP_ST_END_CR,     /* empty line, after CR */
  HTTP_ST_DONE,       /* the head is complete */
  HTTP_ST_ERR_SYNTAX = -1,
  HTTP_ST_ERR_LARGE = -2
};

/* ---- token and list lexing (see http.h) ---------------------------------- */

int wsv__http_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int wsv__http_value_byte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int wsv__http_ows(char c) {
  return c == ' ' || c == '\t';
}

size_t wsv__http_skip_ows(const char *s, size_t len, size_t i) {
  while (i < len && wsv__http_ows(s[i]))
    i++;
  return i;
}

size_t wsv__http_skip_token(const char *s, size_t len, size_t i) {
  while (i < len && wsv__http_tchar((unsigned char)s[i]))
    i++;
  return i;
}

int wsv__http_token(const char *s, size_t n) {
  return n > 0 && wsv__http_skip_token(s, n, 0) == n;
}

size_t wsv__http_skip_quoted(const char *s, size_t len, size_t i) {
  for (i++; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"')
      return i + 1;
    if (c == '\\') {
      if (++i == len)
        return 0;
      c = (unsigned char)s[i];
    }
    if (!wsv__http_value_byte(c))
      return 0;
  }
  return 0;
}

size_t wsv__http_elem_end(const char *s, size_t len, size_t i) {
  int quoted = 0;
  for (; i < len; i++) {
    char c = s[i];
    if (quoted && c == '\\' && i + 1 < len)
      i++;
    else if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      break;
  }
  return i;
}

/* ---- the head parser ---------------------------------------------------- */

static int http_is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* "HTTP/" DIGIT "." DIGIT at p[0..8); sets major and minor. */
static int http_parse_version(struct wsv_http_head *h, const char *p,
                              size_t len) {
  if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || !http_is_digit(p[5]) ||
      p[6] != '.' || !http_is_digit(p[7]))
    return -1;
  h->major = p[5] - '0';
  h->minor = p[7] - '0';
  return 0;
}

/* request-line = method SP request-target SP HTTP-version, in p[0..len). */
static int http_parse_request_line(struct wsv_http_head *h, const char *p,
                                   size_t len) {
  size_t i = wsv__http_skip_token(p, len, 0), t;
  if (i == 0 || i >= len || p[i] != ' ')
    return -1;
  h->method.ptr = p;
  h->method.len = i;
  t = ++i;
  while (i < len && p[i] > 0x20 && p[i] < 0x7f)
    i++;
  if (i == t || i >= len || p[i] != ' ')
    return -1;
  h->target.ptr = p + t;
  h->target.len = i - t;
  i++;
  return http_parse_version(h, p + i, len - i);
}

/* status-line = HTTP-version SP 3DIGIT [SP reason-phrase]; the SP before
 * an empty reason may be missing (seen in the wild). */
static int http_parse_status_line(struct wsv_http_head *h, const char *p,
                                  size_t len) {
  if (len < 12 || http_parse_version(h, p, 8) != 0 || p[8] != ' ' ||
      !http_is_digit(p[9]) || !http_is_digit(p[10]) || !http_is_digit(p[11]))
    return -1;
  h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  if (len == 12) {
    h->reason.ptr = p + 12;
    h->reason.len = 0;
    return 0;
  }
  if (p[12] != ' ')
    return -1;
  h->reason.ptr = p + 13;
  h->reason.len = len - 13;
  return 0;
}

static int http_parse_start(struct wsv_http_head *h, const char *p, size_t len,
                            int is_request) {
  return is_request ? http_parse_request_line(h, p, len)
                    : http_parse_status_line(h, p, len);
}

/* One byte of a start line (before its CR). */
static int http_start_byte(unsigned char c) {
  if (c == '\r')
    return HTTP_ST_START_CR;
  if (c == '\t' || (c >= 0x20 && c != 0x7f))
    return HTTP_ST_START;
  return HTTP_ST_ERR_SYNTAX; /* bare LF, NUL, other CTL, DEL */
}

/* The first byte of a field line: a name byte, or CR of the blank line.
 * SP/HTAB here is obs-fold (or whitespace after the start line). */
static int http_line_begin_byte(unsigned char c) {
  if (c == '\r')
    return HTTP_ST_END_CR;
  return wsv__http_tchar(c) ? HTTP_ST_NAME : HTTP_ST_ERR_SYNTAX;
}

/* A byte inside a field name: more tchar, or the colon.  Whitespace before
 * the colon is an error (RFC 9112 §5.1). */
static int http_name_byte(unsigned char c) {
  if (c == ':')
    return HTTP_ST_VALUE;
  return wsv__http_tchar(c) ? HTTP_ST_NAME : HTTP_ST_ERR_SYNTAX;
}

static int http_value_byte(unsigned char c) {
  if (c == '\r')
    return HTTP_ST_VALUE_CR;
  return wsv__http_value_byte(c) ? HTTP_ST_VALUE : HTTP_ST_ERR_SYNTAX;
}

/* Advance the scanner over buf[h->_scanned .. end).  Returns the new state;
 * on HTTP_ST_DONE, h->_scanned is the head's length. */
static int http_scan(struct wsv_http_head *h, const char *buf, size_t end,
                     int is_request) {
  int st = h->_state;
  size_t i = h->_scanned;
  for (; i < end && st >= 0 && st != HTTP_ST_DONE; i++) {
    unsigned char c = (unsigned char)buf[i];
    switch (st) {
    case HTTP_ST_START:
      st = http_start_byte(c);
      break;
    case HTTP_ST_START_CR:
      st = HTTP_ST_ERR_SYNTAX;
      if (c == '\n' && http_parse_start(h, buf, i - 1, is_request) == 0) {
        st = HTTP_ST_LINE_BEGIN;
        h->_line = i + 1;
      }
      break;
    case HTTP_ST_LINE_BEGIN:
      st = http_line_begin_byte(c);
      break;
    case HTTP_ST_NAME:
      st = http_name_byte(c);
      break;
    case HTTP_ST_VALUE:
      st = http_value_byte(c);
      break;
    case HTTP_ST_VALUE_CR:
      st = HTTP_ST_ERR_SYNTAX;
      if (c == '\n') {
        h->_fields++;
        h->_line = i + 1;
        st = h->_fields > h->max_headers ? HTTP_ST_ERR_LARGE
                                         : HTTP_ST_LINE_BEGIN;
      }
      break;
    default: /* HTTP_ST_END_CR */
      st = c == '\n' ? HTTP_ST_DONE : HTTP_ST_ERR_SYNTAX;
      break;
    }
  }
  h->_scanned = i; /* > 0 after an error, so the error stays sticky */
  h->_state = st;
  return st;
}

/* Second pass over a complete, validated head buf[0..len): set the start
 * line's and every field's views. */
static void http_fill(struct wsv_http_head *h, const char *buf, size_t len,
                      int is_request) {
  const char *eol = memchr(buf, '\r', len);
  size_t i = (size_t)(eol - buf) + 2, n = 0;
  (void)http_parse_start(h, buf, (size_t)(eol - buf), is_request);
  while (i + 2 < len) {
    struct wsv_header *f = &h->headers[n++];
    const char *line = buf + i;
    const char *colon = memchr(line, ':', len - i);
    const char *v = colon + 1;
    const char *e = memchr(v, '\r', (size_t)(buf + len - v));
    f->name.ptr = line;
    f->name.len = (size_t)(colon - line);
    i = (size_t)(e - buf) + 2;
    while (v < e && wsv__http_ows(*v))
      v++;
    while (e > v && wsv__http_ows(e[-1]))
      e--;
    f->value.ptr = v;
    f->value.len = (size_t)(e - v);
  }
  h->nheaders = n;
}

static int http_parse(struct wsv_http_head *h, const char *buf, size_t len,
                      int is_request) {
  size_t max = h->max_bytes < (size_t)INT_MAX ? h->max_bytes : (size_t)INT_MAX;
  size_t end = len < max ? len : max;
  int st;
  if (h->_scanned == 0) {
    h->_line = 0;
    h->_fields = 0;
    h->_state = HTTP_ST_START;
    h->nheaders = 0;
  }
  if (h->_state == HTTP_ST_ERR_SYNTAX)
    return WSV_ERR_HTTP_SYNTAX;
  if (h->_state == HTTP_ST_ERR_LARGE)
    return WSV_ERR_HTTP_TOO_LARGE;
  if (len < h->_scanned)
    return WSV_ERR_INVAL;
  st = http_scan(h, buf, end, is_request);
  if (st == HTTP_ST_DONE) {
    http_fill(h, buf, h->_scanned, is_request);
    return (int)h->_scanned;
  }
  if (st == HTTP_ST_ERR_SYNTAX)
    return WSV_ERR_HTTP_SYNTAX;
  if (st == HTTP_ST_ERR_LARGE || len >= max) {
    h->_state = HTTP_ST_ERR_LARGE;
    return WSV_ERR_HTTP_TOO_LARGE;
  }
  return WSV_ERR_AGAIN;
}

int wsv__http_parse_request(struct wsv_http_head *h, const char *buf,
                            size_t len) {
  return http_parse(h, buf, len, 1);
}

int wsv_http_parse_response(struct wsv_http_head *h, const char *buf,
                            size_t len) {
  return http_parse(h, buf, len, 0);
}

static char http_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* 1 if a[0..n) and b[0..n) are equal but for ASCII case. */
static int http_ieq_n(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (http_lower(a[i]) != http_lower(b[i]))
      return 0;
  return 1;
}

int wsv_str_ieq(struct wsv_str s, const char *name) {
  size_t i;
  if (s.len != strlen(name))
    return 0;
  for (i = 0; i < s.len; i++)
    if (http_lower(s.ptr[i]) != http_lower(name[i]))
      return 0;
  return 1;
}

size_t wsv_http_count(const struct wsv_header *hs, size_t n, const char *name,
                      struct wsv_str *first) {
  size_t i, count = 0;
  if (first != NULL) {
    first->ptr = NULL;
    first->len = 0;
  }
  size_t nl = strlen(name); /* once, not once per field */
  for (i = 0; i < n; i++) {
    if (hs[i].name.len != nl || !http_ieq_n(hs[i].name.ptr, name, nl))
      continue;
    if (count++ == 0 && first != NULL)
      *first = hs[i].value;
  }
  return count;
}

#define HTTP_POS_HALF (sizeof(size_t) * CHAR_BIT / 2)
#define HTTP_POS_MASK (((size_t)1 << HTTP_POS_HALF) - 1)

/* The trimmed element v[off..end) into *elem; 1 if it is not empty. */
static int http_trim(struct wsv_str v, size_t off, size_t end,
                     struct wsv_str *elem) {
  off = wsv__http_skip_ows(v.ptr, end, off);
  while (end > off && wsv__http_ows(v.ptr[end - 1]))
    end--;
  elem->ptr = v.ptr + off;
  elem->len = end - off;
  return end > off;
}

int wsv_http_list_next(const struct wsv_header *hs, size_t n, const char *name,
                       size_t *pos, struct wsv_str *elem) {
  size_t i = *pos >> HTTP_POS_HALF, off = *pos & HTTP_POS_MASK;
  for (; i < n && i < HTTP_POS_MASK; i++, off = 0) {
    struct wsv_str v = hs[i].value;
    if (!wsv_str_ieq(hs[i].name, name))
      continue;
    while (off < v.len) {
      size_t end = wsv__http_elem_end(v.ptr, v.len, off);
      size_t next = end < v.len ? end + 1 : end;
      int got = http_trim(v, off, end, elem);
      off = next;
      if (!got)
        continue;
      if (off == v.len) /* resume at the next field */
        *pos = (i + 1) << HTTP_POS_HALF;
      else if (off <= HTTP_POS_MASK)
        *pos = (i << HTTP_POS_HALF) | off;
      else
        return 0;
      return 1;
    }
  }
  *pos = n < HTTP_POS_MASK ? n << HTTP_POS_HALF : *pos;
  return 0;
}

int wsv_http_list_has(const struct wsv_header *hs, size_t n, const char *name,
                      const char *token) {
  size_t pos = 0;
  struct wsv_str e;
  while (wsv_http_list_next(hs, n, name, &pos, &e))
    if (wsv_str_ieq(e, token))
      return 1;
  return 0;
}

/* ---- reason phrases (see wsv/http.h) ------------------------------------ */

const char *wsv_http_reason(int status) {
  static const struct {
    int status;
    const char *text;
  } t[] = {{101, "Switching Protocols"},
           {200, "OK"},
           {201, "Created"},
           {204, "No Content"},
           {301, "Moved Permanently"},
           {302, "Found"},
           {303, "See Other"},
           {304, "Not Modified"},
           {307, "Temporary Redirect"},
           {308, "Permanent Redirect"},
           {400, "Bad Request"},
           {401, "Unauthorized"},
           {403, "Forbidden"},
           {404, "Not Found"},
           {405, "Method Not Allowed"},
           {408, "Request Timeout"},
           {409, "Conflict"},
           {410, "Gone"},
           {413, "Content Too Large"},
           {414, "URI Too Long"},
           {421, "Misdirected Request"},
           {426, "Upgrade Required"},
           {429, "Too Many Requests"},
           {431, "Request Header Fields Too Large"},
           {500, "Internal Server Error"},
           {501, "Not Implemented"},
           {502, "Bad Gateway"},
           {503, "Service Unavailable"},
           {504, "Gateway Timeout"}};
  static const char *const class_name[] = {"Informational", "Success",
                                           "Redirection", "Client Error",
                                           "Server Error"};
  size_t i;
  for (i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i].status == status)
      return t[i].text;
  if (status < 100 || status > 599)
    return "Unknown";
  return class_name[status / 100 - 1];
}

/* ---- escaping (see wsv/http.h) ------------------------------------------ */

/* Byte c as wsv_str_escape writes it, into e[0..4); returns the length. */
static size_t http_escape_byte(unsigned char c, unsigned flags, char e[4]) {
  static const char hex[] = "0123456789ABCDEF";
  int esc = (flags & WSV_ESCAPE_HEX) != 0;
  if (esc && (c == '"' || c == '\\')) {
    e[0] = '\\';
    e[1] = (char)c;
    return 2;
  }
  if (c >= 0x20 && c < 0x7f) {
    e[0] = (char)c;
    return 1;
  }
  if (!esc) {
    e[0] = '?';
    return 1;
  }
  e[0] = '\\';
  e[1] = 'x';
  e[2] = hex[c >> 4];
  e[3] = hex[c & 15];
  return 4;
}

size_t wsv_str_escape(char *dst, size_t cap, const char *src, size_t len,
                      size_t max, unsigned flags) {
  size_t m = len < max ? len : max, room, limit, total = 0, o = 0, i;
  char e[4];
  int cut;
  if (cap == 0)
    return 0;
  room = cap - 1;
  for (i = 0; i < m; i++)
    total += http_escape_byte((unsigned char)src[i], flags, e);
  cut = m < len || total > room;
  limit = !cut ? room : room >= 3 ? room - 3 : 0;
  for (i = 0; i < m; i++) {
    size_t k = http_escape_byte((unsigned char)src[i], flags, e);
    if (o + k > limit)
      break;
    memcpy(dst + o, e, k);
    o += k;
  }
  if (cut) {
    size_t d = room - o < 3 ? room - o : 3;
    memcpy(dst + o, "...", d);
    o += d;
  }
  dst[o] = '\0';
  return o;
}

/* ---- RFC 3986 hosts (see http.h) ---------------------------------------- */

static int uri_is_hex(char c) {
  return http_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
static int uri_is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || http_is_digit(c) ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

/* sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" /
 * "=" */
static int uri_is_sub_delim(char c) {
  return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, exactly p[0..n). */
static int uri_ipv4(const char *p, size_t n) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    size_t s = i;
    unsigned v = 0;
    if (part > 0) {
      if (i >= n || p[i] != '.')
        return 0;
      s = ++i;
    }
    while (i < n && http_is_digit(p[i]) && i - s < 3)
      v = v * 10 + (unsigned)(p[i++] - '0');
    if (i == s || v > 255 || (i - s > 1 && p[s] == '0'))
      return 0;
  }
  return i == n;
}

int wsv__uri_ipv6(const char *p, size_t n) {
  size_t i = 0;
  int groups = 0, elided = 0;
  if (n >= 2 && p[0] == ':' && p[1] == ':') {
    elided = 1;
    i = 2;
    if (i == n)
      return 1; /* "::" */
  } else if (n == 0 || p[0] == ':') {
    return 0;
  }
  for (;;) {
    size_t s = i;
    while (i < n && uri_is_hex(p[i]) && i - s < 5)
      i++;
    if (i < n && p[i] == '.') { /* ls32 as an IPv4address: the last piece */
      if (!uri_ipv4(p + s, n - s))
        return 0;
      groups += 2;
      break;
    }
    if (i == s || i - s > 4)
      return 0;
    groups++;
    if (i == n)
      break;
    if (p[i] != ':')
      return 0;
    if (++i == n)
      return 0; /* a trailing single ':' */
    if (p[i] == ':') {
      if (elided)
        return 0; /* a second "::" */
      elided = 1;
      if (++i == n)
        break;
    }
  }
  /* "::" stands for at least one group of zeros. */
  return elided ? groups <= 7 : groups == 8;
}

/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static int uri_ipv_future(const char *p, size_t n) {
  size_t i = 1, s;
  if (n == 0 || (p[0] != 'v' && p[0] != 'V'))
    return 0;
  while (i < n && uri_is_hex(p[i]))
    i++;
  if (i == 1 || i >= n || p[i] != '.')
    return 0;
  s = ++i;
  while (i < n &&
         (uri_is_unreserved(p[i]) || uri_is_sub_delim(p[i]) || p[i] == ':'))
    i++;
  return i == n && i > s;
}

/* *( unreserved / pct-encoded / sub-delims ), and ':' too when `colon`
 * (userinfo); may be empty. */
static int uri_chars(const char *p, size_t n, int colon) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (p[i] == '%') {
      if (n - i < 3 || !uri_is_hex(p[i + 1]) || !uri_is_hex(p[i + 2]))
        return 0;
      i += 2;
    } else if (!uri_is_unreserved(p[i]) && !uri_is_sub_delim(p[i]) &&
               !(colon && p[i] == ':')) {
      return 0;
    }
  }
  return 1;
}

int wsv__uri_userinfo(const char *p, size_t n) {
  return uri_chars(p, n, 1);
}

long wsv__uri_port(const char *p, size_t n) {
  long v = 0;
  size_t i;
  if (n == 0)
    return -1;
  for (i = 0; i < n; i++) {
    if (!http_is_digit(p[i]))
      return -1;
    v = v * 10 + (p[i] - '0');
    if (v > 65535)
      return -1;
  }
  return v;
}

int wsv__uri_host(const char *p, size_t n) {
  if (n == 0)
    return WSV_HOST_INVALID;
  if (p[0] == '[') {
    if (n < 2 || p[n - 1] != ']')
      return WSV_HOST_INVALID;
    if (wsv__uri_ipv6(p + 1, n - 2))
      return WSV_HOST_IPV6;
    return uri_ipv_future(p + 1, n - 2) ? WSV_HOST_IPV_FUTURE
                                        : WSV_HOST_INVALID;
  }
  if (uri_ipv4(p, n))
    return WSV_HOST_IPV4;
  return uri_chars(p, n, 0) ? WSV_HOST_REG_NAME : WSV_HOST_INVALID;
}

int wsv__uri_host_port(const char *p, size_t n, size_t *host_len, long *port) {
  size_t h;
  long v = -1;
  int kind;
  if (n == 0)
    return WSV_HOST_INVALID;
  if (p[0] == '[') {
    const char *rb = memchr(p, ']', n);
    if (rb == NULL)
      return WSV_HOST_INVALID;
    h = (size_t)(rb - p) + 1;
  } else {
    const char *colon = memchr(p, ':', n);
    h = colon != NULL ? (size_t)(colon - p) : n;
  }
  kind = wsv__uri_host(p, h);
  if (kind == WSV_HOST_INVALID)
    return WSV_HOST_INVALID;
  if (h < n) {
    /* "[::1]x" is no host[:port]; neither is "host:" (-1 from the port) */
    if (p[h] != ':')
      return WSV_HOST_INVALID;
    v = wsv__uri_port(p + h + 1, n - h - 1);
    if (v < 0)
      return WSV_HOST_INVALID;
  }
  if (host_len != NULL)
    *host_len = h;
  if (port != NULL)
    *port = v;
  return kind;
}
