/*
 * proxy.c - proxy URLs and the HTTP CONNECT and SOCKS5 tunnel handshakes
 * of the client, without I/O (see proxy.h).  The CONNECT answer is read
 * with the core's response-head parser (wsv/http.h), the same one the
 * WebSocket handshake uses.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"

#include "proxy.h"

struct px_scheme {
  const char *name; /* with "://" */
  size_t len;
  int kind;
  uint16_t port; /* the default */
};

static const struct px_scheme px_schemes[] = {
    {"http://", 7, WSV__PROXY_HTTP, 8080},
    {"socks5://", 9, WSV__PROXY_SOCKS5, 1080},
    {"socks5h://", 10, WSV__PROXY_SOCKS5, 1080},
};

/* A decoded copy of s[0..n), or NULL (*bad set when it is no valid
 * percent-encoding, else out of memory). */
static char *px_decoded(const char *s, size_t n, int *bad) {
  char *out = malloc(n + 1);
  if (out == NULL)
    return NULL;
  if (wsv_url_decode(s, n, out, n + 1) == SIZE_MAX) {
    free(out);
    *bad = 1;
    return NULL;
  }
  return out;
}

/* Split the userinfo view at its first ':' into p->user and p->pass.
 * Returns NULL or the reason (*nomem set when memory ran out). */
static const char *px_userinfo(struct wsv__proxy *p, struct wsv_str ui,
                               int *nomem) {
  const char *colon = memchr(ui.ptr, ':', ui.len);
  size_t ulen = colon != NULL ? (size_t)(colon - ui.ptr) : ui.len;
  int bad = 0;
  p->user = px_decoded(ui.ptr, ulen, &bad);
  if (p->user != NULL)
    p->pass = colon != NULL ? px_decoded(colon + 1, ui.len - ulen - 1, &bad)
                            : px_decoded("", 0, &bad);
  if (bad)
    return "bad percent-encoding in the proxy's user or password";
  if (p->user == NULL || p->pass == NULL) {
    *nomem = 1;
    return "out of memory";
  }
  if (p->kind == WSV__PROXY_SOCKS5 &&
      (strlen(p->user) > 255 || strlen(p->pass) > 255))
    return "a SOCKS5 user or password is at most 255 bytes";
  if (p->user[0] == '\0' && p->kind == WSV__PROXY_SOCKS5)
    return "a SOCKS5 user name must not be empty";
  return NULL;
}

int wsv__proxy_parse(struct wsv__proxy *p, const char *url, const char **why) {
  const struct px_scheme *k = NULL;
  const char *w = NULL;
  int nomem = 0;
  memset(p, 0, sizeof *p);
  if (url == NULL)
    url = "";
  size_t n = strlen(url);
  for (size_t i = 0; i < sizeof px_schemes / sizeof px_schemes[0]; i++) {
    struct wsv_str head = {url, px_schemes[i].len};
    if (n >= head.len && wsv_str_ieq(head, px_schemes[i].name))
      k = &px_schemes[i];
  }
  if (k == NULL) {
    *why = "the proxy URL must start with http://, socks5:// or socks5h://";
    return WSV_ERR_INVAL;
  }
  /* The URL parser knows the authority's grammar: read it as http://. */
  char *copy = malloc(n - k->len + 8);
  if (copy == NULL) {
    *why = "out of memory";
    return WSV_ERR_NOMEM;
  }
  memcpy(copy, "http://", 7);
  memcpy(copy + 7, url + k->len, n - k->len + 1);
  struct wsv_url u;
  if (wsv_url_parse(&u, copy, strlen(copy), WSV_URL_HTTP | WSV_URL_USERINFO,
                    &w) != WSV_OK) {
    /* its reasons speak of "the URL": good enough for the proxy's */
  } else if ((u.path.len != 1 || u.path.ptr[0] != '/') || u.query.ptr != NULL) {
    w = "a proxy URL has no path or query (http://host:port)";
  } else {
    p->kind = k->kind;
    p->port = u.port_given ? u.port : k->port;
    p->host = malloc(u.host.len + 1);
    if (p->host == NULL) {
      nomem = 1;
      w = "out of memory";
    } else {
      memcpy(p->host, u.host.ptr, u.host.len);
      p->host[u.host.len] = '\0';
      if (u.userinfo.ptr != NULL)
        w = px_userinfo(p, u.userinfo, &nomem);
    }
  }
  free(copy);
  if (w != NULL) {
    wsv__proxy_free(p);
    *why = w;
    return nomem ? WSV_ERR_NOMEM : WSV_ERR_INVAL;
  }
  *why = NULL;
  return 0;
}

void wsv__proxy_free(struct wsv__proxy *p) {
  if (p == NULL)
    return;
  free(p->host);
  if (p->pass != NULL) /* a password is wiped: it may sit in a core dump */
    memset(p->pass, 0, strlen(p->pass));
  free(p->user);
  free(p->pass);
  memset(p, 0, sizeof *p);
}

/* ---- HTTP CONNECT ---------------------------------------------------------
 */

size_t wsv__proxy_connect_request(const struct wsv__proxy *p, const char *host,
                                  uint16_t port, char *out, size_t cap) {
  if (p == NULL || host == NULL || out == NULL)
    return 0;
  int v6 = strchr(host, ':') != NULL;
  char auth[1100] = "";
  if (p->user != NULL) {
    char cred[520], b64[700];
    int cn = snprintf(cred, sizeof cred, "%s:%s", p->user, p->pass);
    if (cn < 0 || (size_t)cn >= sizeof cred ||
        wsv_base64_encode(cred, (size_t)cn, b64, sizeof b64) >= sizeof b64)
      return 0;
    memset(cred, 0, sizeof cred);
    snprintf(auth, sizeof auth, "Proxy-Authorization: Basic %s\r\n", b64);
  }
  int len = snprintf(out, cap,
                     "CONNECT %s%s%s:%u HTTP/1.1\r\n"
                     "Host: %s%s%s:%u\r\n"
                     "%s\r\n",
                     v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)port,
                     v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)port, auth);
  memset(auth, 0, sizeof auth);
  if (len < 0 || (size_t)len >= cap)
    return 0;
  return (size_t)len;
}

int wsv__proxy_connect_answer(const char *buf, size_t len, int *status,
                              char *why, size_t cap) {
  struct wsv_header hdrs[64];
  struct wsv_http_head h;
  memset(&h, 0, sizeof h);
  h.headers = hdrs;
  h.max_headers = sizeof hdrs / sizeof hdrs[0];
  h.max_bytes = WSV__PROXY_MAX_HEAD;
  if (status != NULL)
    *status = 0;
  int r = wsv_http_parse_response(&h, buf, len);
  if (r == WSV_ERR_AGAIN)
    return 0;
  if (r < 0) {
    char shown[64];
    size_t line = 0;
    while (line < len && buf[line] != '\r' && buf[line] != '\n')
      line++;
    wsv_str_escape(shown, sizeof shown, buf, line, 40, WSV_ESCAPE_HEX);
    snprintf(why, cap, "the proxy's answer is not HTTP%s: \"%s\"",
             r == WSV_ERR_HTTP_TOO_LARGE ? " (head too large)" : "", shown);
    return WSV_ERR_PROXY;
  }
  if (status != NULL)
    *status = h.status;
  if (h.major != 1) {
    snprintf(why, cap, "the proxy answered in HTTP/%d.%d", h.major, h.minor);
    return WSV_ERR_PROXY;
  }
  if (h.status >= 200 && h.status < 300)
    return r;
  char reason[80];
  wsv_str_escape(reason, sizeof reason, h.reason.ptr, h.reason.len, 60,
                 WSV_ESCAPE_HEX);
  snprintf(why, cap, "the proxy refused the tunnel: %d \"%s\"%s", h.status,
           reason,
           h.status == 407 ? " (proxy authentication: give "
                             "user:pass@ in the proxy URL)"
                           : "");
  return WSV_ERR_PROXY;
}

/* ---- SOCKS5 ---------------------------------------------------------------
 */

size_t wsv__socks5_greeting(const struct wsv__proxy *p, uint8_t out[4]) {
  out[0] = 5;
  out[2] = 0; /* no authentication */
  if (p != NULL && p->user != NULL) {
    out[1] = 2;
    out[3] = 2; /* username/password */
    return 4;
  }
  out[1] = 1;
  return 3;
}

size_t wsv__socks5_auth(const struct wsv__proxy *p, uint8_t out[513]) {
  if (p == NULL || p->user == NULL)
    return 0;
  size_t ul = strlen(p->user), pl = strlen(p->pass);
  if (ul == 0 || ul > 255 || pl > 255)
    return 0;
  out[0] = 1;
  out[1] = (uint8_t)ul;
  memcpy(out + 2, p->user, ul);
  out[2 + ul] = (uint8_t)pl;
  memcpy(out + 3 + ul, p->pass, pl);
  return 3 + ul + pl;
}

size_t wsv__socks5_connect(const char *host, uint16_t port, uint8_t out[262]) {
  size_t n = 4;
  out[0] = 5;
  out[1] = 1; /* CONNECT */
  out[2] = 0;
  if (inet_pton(AF_INET, host, out + 4) == 1) {
    out[3] = 1;
    n += 4;
  } else if (inet_pton(AF_INET6, host, out + 4) == 1) {
    out[3] = 4;
    n += 16;
  } else {
    size_t hl = strlen(host);
    if (hl == 0 || hl > 255)
      return 0;
    out[3] = 3;
    out[4] = (uint8_t)hl;
    memcpy(out + 5, host, hl);
    n += 1 + hl;
  }
  out[n++] = (uint8_t)(port >> 8);
  out[n++] = (uint8_t)(port & 0xff);
  return n;
}

/* RFC 1928 §6's reply codes. */
static const char *px_socks5_rep(uint8_t rep) {
  static const char *const names[] = {
      "succeeded",
      "general SOCKS server failure",
      "connection not allowed by ruleset",
      "network unreachable",
      "host unreachable",
      "connection refused",
      "TTL expired",
      "command not supported",
      "address type not supported",
  };
  return rep < sizeof names / sizeof names[0] ? names[rep] : "unknown error";
}

int wsv__socks5_parse(int step, const uint8_t *in, size_t n, int offered_auth,
                      int *method, char *why, size_t cap) {
  if (n < 2)
    return 0;
  if (step == WSV__SOCKS5_METHOD) {
    if (in[0] != 5) {
      snprintf(why, cap, "the proxy is not a SOCKS5 proxy (version byte %u)",
               (unsigned)in[0]);
      return WSV_ERR_PROXY;
    }
    if (in[1] == 0xff || (in[1] != 0 && (in[1] != 2 || !offered_auth))) {
      snprintf(why, cap, "the SOCKS5 proxy accepts none of our methods%s",
               offered_auth ? "" : " (it may want user:pass@ in the URL)");
      return WSV_ERR_PROXY;
    }
    if (method != NULL)
      *method = in[1];
    return 2;
  }
  if (step == WSV__SOCKS5_AUTH) {
    if (in[0] != 1 || in[1] != 0) {
      snprintf(why, cap, "the SOCKS5 proxy refused our user and password");
      return WSV_ERR_PROXY;
    }
    return 2;
  }
  if (step != WSV__SOCKS5_REPLY) {
    snprintf(why, cap, "bad SOCKS5 step");
    return WSV_ERR_PROXY;
  }
  if (in[0] != 5) {
    snprintf(why, cap, "the SOCKS5 proxy's reply has version %u",
             (unsigned)in[0]);
    return WSV_ERR_PROXY;
  }
  if (in[1] != 0) {
    snprintf(why, cap, "the SOCKS5 proxy refused the tunnel: %s (%u)",
             px_socks5_rep(in[1]), (unsigned)in[1]);
    return WSV_ERR_PROXY;
  }
  if (n < 4)
    return 0;
  size_t need;
  if (in[2] != 0) {
    snprintf(why, cap, "the SOCKS5 proxy's reply has a reserved byte %u",
             (unsigned)in[2]);
    return WSV_ERR_PROXY;
  }
  if (in[3] == 1) {
    need = 4 + 4 + 2;
  } else if (in[3] == 4) {
    need = 4 + 16 + 2;
  } else if (in[3] == 3) {
    if (n < 5)
      return 0;
    need = 4 + 1 + (size_t)in[4] + 2;
  } else {
    snprintf(why, cap, "the SOCKS5 proxy's reply has address type %u",
             (unsigned)in[3]);
    return WSV_ERR_PROXY;
  }
  return n < need ? 0 : (int)need;
}
