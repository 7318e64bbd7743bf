/*
 * probe.c - `wsv probe`: audit a server's WebSocket opening handshake and
 * its Sec-WebSocket-Version negotiation (RFC 6455 §4.2.2, §4.4).
 *
 * One fresh TCP connection per probe, plain blocking-style I/O on a
 * non-blocking socket with poll() deadlines (no event loop).  Each probe
 * sends one handshake that differs only in its Sec-WebSocket-Version field
 * (or, for the last one, a plain GET without Upgrade), reads the answer's
 * head (at most 8 KiB) and a short body, and grades the answer:
 *
 *   PASS  what RFC 6455 (and RFC 9110 for a 426) asks for;
 *   WARN  allowed, but against a SHOULD or unusual;
 *   FAIL  against a MUST;
 *   N/A   not graded (nothing to compare, or the URL refuses even 13).
 *
 * The exit status is 0 when no row FAILs, 1 when one does, 2 for a usage
 * error, an unreachable server, or a URL that refuses the version-13
 * handshake for reasons other than the version (3xx, 401, 403, 404, 407),
 * where nothing can be judged.
 *
 * The response head is parsed by the core's internal HTTP parser, and the
 * key and expected Sec-WebSocket-Accept come from the core's base64 and
 * accept helpers (internal symbols of the static library).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "wsv.h"
#include "wsv_tool.h"

#define PROBE_HEAD_MAX 8192
#define PROBE_BODY_MAX 1024
#define PROBE_MAX_HEADERS 100
#define PROBE_DEFAULT_TIMEOUT_MS 3000
/* How long to wait for a body that has no Content-Length (read to EOF). */
#define PROBE_BODY_GRACE_MS 300
/* The extension offer of the version-13 probe (what browsers send). */
#define PROBE_EXT_OFFER "permessage-deflate; client_max_window_bits"

static const char probe_usage[] =
    "usage: wsv probe [--json] [--timeout MS] [--no-deflate] [-v] URL\n"
    "\n"
    "Audit a WebSocket server's opening handshake and its\n"
    "Sec-WebSocket-Version negotiation (RFC 6455 sections 4.2.2 and 4.4).\n"
    "Nine handshakes, each on a new connection, ask for version 13, 8, 7,\n"
    "an unsupported version (99), no version, malformed versions (013,\n"
    "the list \"13, 8\", the field twice), and a plain GET without Upgrade.\n"
    "Each answer is graded PASS, WARN (against a SHOULD) or FAIL (against\n"
    "a MUST), with the section that says so.  The version-13 handshake\n"
    "also offers permessage-deflate, and the extensions the server agrees\n"
    "to are reported (not graded).\n"
    "\n"
    "  URL            ws://host[:port][/path][?query]; IPv6 as [::1]\n"
    "  --json         print one JSON object instead of the table\n"
    "  --timeout MS   time allowed per handshake (default 3000)\n"
    "  --no-deflate   offer no extension\n"
    "  -v, --verbose  print each request and response head to stderr\n"
    "  -h, --help     print this help\n"
    "\n"
    "Exit status: 0 the server conforms (no FAIL), 1 it does not,\n"
    "2 usage error, server unreachable, or the URL refuses even a\n"
    "version-13 handshake for another reason (redirect, 401, 403, 404).\n";

/* ---- what is sent --------------------------------------------------------
 */

enum probe_kind {
  PROBE_KNOWN,       /* 13, 8 or 7: a 101 is fine if the server speaks it */
  PROBE_UNSUPPORTED, /* a well-formed version nobody speaks */
  PROBE_NONE,        /* no Sec-WebSocket-Version field at all */
  PROBE_MALFORMED,   /* a value that is not one ABNF version */
  PROBE_PLAIN        /* a plain GET without Upgrade */
};

struct probe_def {
  const char *name;      /* row label */
  const char *shown;     /* the "sent" column */
  const char *values[3]; /* Sec-WebSocket-Version values, NULL-ended */
  int version;           /* the version asked for, or -1 */
  enum probe_kind kind;
  const char *rule; /* for a malformed value: the rule it breaks */
};

static const struct probe_def probe_defs[] = {
    {"v13", "13", {"13"}, 13, PROBE_KNOWN, NULL},
    {"v8", "8", {"8"}, 8, PROBE_KNOWN, NULL},
    {"v7", "7", {"7"}, 7, PROBE_KNOWN, NULL},
    {"v99", "99", {"99"}, 99, PROBE_UNSUPPORTED, NULL},
    {"none", "(none)", {NULL}, -1, PROBE_NONE, NULL},
    {"zero", "013", {"013"}, -1, PROBE_MALFORMED, "leading zero, §4.3"},
    {"list", "13, 8", {"13, 8"}, -1, PROBE_MALFORMED, "a list, §4.3"},
    {"twice",
     "13 (x2)",
     {"13", "13"},
     -1,
     PROBE_MALFORMED,
     "field twice, §11.3.5"},
    {"plain", "(plain GET)", {NULL}, -1, PROBE_PLAIN, NULL},
};

#define PROBE_COUNT (sizeof probe_defs / sizeof probe_defs[0])

/* ---- what came back ------------------------------------------------------
 */

enum probe_verdict { PROBE_PASS, PROBE_WARN, PROBE_FAIL, PROBE_NA };

static const char *const probe_verdict_names[] = {"PASS", "WARN", "FAIL",
                                                  "N/A"};

/* A set of versions 0..255. */
struct probe_set {
  uint64_t bits[4];
};

struct probe_result {
  const struct probe_def *def;
  int connected;   /* 1 once the TCP connection was made */
  int answered;    /* 1 once a whole response head was parsed */
  char error[160]; /* why there is no answer (or a partial one) */
  char key[25];
  char accept_want[29];
  char request[1024];
  size_t request_len;
  char buf[PROBE_HEAD_MAX + PROBE_BODY_MAX];
  size_t len;
  size_t head_len;
  struct wsv_header headers[PROBE_MAX_HEADERS];
  size_t nheaders;
  int status;
  int http_major, http_minor;
  char reason[64];
  /* Sec-WebSocket-Version in the answer. */
  int has_list;
  char list_text[160]; /* every field's value, joined with ", " */
  int versions[64];    /* the well-formed elements, in order */
  size_t nversions;
  int list_bad; /* an element is not an ABNF version, or empty */
  char list_bad_elem[40];
  struct probe_set list_set;
  /* Other fields of interest (cleaned for display), "" when absent. */
  int has_upgrade;
  char upgrade[96];
  int upgrade_is_ws;    /* the Upgrade list is exactly "websocket" */
  int upgrade_names_ws; /* the Upgrade list holds "websocket" */
  int has_connection;
  char connection[96];
  int accept_state; /* 0 absent, 1 right, 2 wrong, 3 repeated */
  int offer_ext;    /* this probe offers PROBE_EXT_OFFER */
  int has_ext;      /* the answer has Sec-WebSocket-Extensions */
  char ext[160];    /* its fields joined with ", " (cleaned) */
  char body[128];   /* the body's first line, if it is text */
  /* The grade. */
  enum probe_verdict verdict;
  char why[320];
};

struct probe_summary {
  int inconclusive;
  char inconclusive_why[200];
  struct probe_set accepted;
  struct probe_set advertised;
  int advertised_order[64];
  size_t nadvertised;
  size_t nlists;
  enum probe_verdict verdict;
  char why[320];
  char status_text[64];
  char list_text[160];
  unsigned pass, warn, fail;
};

struct probe_target {
  char host[256];     /* as in the URL, IPv6 without brackets */
  char host_hdr[300]; /* the Host field */
  char port[8];
  char path[2048]; /* path and query, at least "/" */
  int ipv6;
  struct addrinfo *addrs;
  char addr_text[80]; /* the address the first probe reached */
};

struct probe_opts {
  int json;
  int verbose;
  int no_deflate;
  int timeout_ms;
  const char *url;
};

/* ---- small helpers -------------------------------------------------------
 */

static void probe_set_add(struct probe_set *s, int v) {
  if (v >= 0 && v <= 255)
    s->bits[(unsigned)v / 64] |= UINT64_C(1) << ((unsigned)v % 64);
}

static int probe_set_has(const struct probe_set *s, int v) {
  if (v < 0 || v > 255)
    return 0;
  return (s->bits[(unsigned)v / 64] >> ((unsigned)v % 64)) & 1;
}

static int probe_set_eq(const struct probe_set *a, const struct probe_set *b) {
  return memcmp(a->bits, b->bits, sizeof a->bits) == 0;
}

static int probe_set_empty(const struct probe_set *s) {
  return (s->bits[0] | s->bits[1] | s->bits[2] | s->bits[3]) == 0;
}

static long long probe_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int probe_left_ms(long long deadline) {
  long long left = deadline - probe_now_ms();
  if (left < 0)
    return 0;
  return left > INT_MAX ? INT_MAX : (int)left;
}

/* Append formatted text to dst (NUL-terminated, capacity cap), truncating
 * quietly. */
static void probe_appendf(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void probe_appendf(char *dst, size_t cap, const char *fmt, ...) {
  size_t used = strlen(dst);
  if (used + 1 >= cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst + used, cap - used, fmt, ap);
  va_end(ap);
}

/* Copy bytes from the network into dst as printable ASCII: other bytes
 * become \xNN; the copy ends with "..." when it does not fit. */
static void probe_clean(char *dst, size_t cap, const char *src, size_t len) {
  size_t o = 0;
  dst[0] = '\0';
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    char tmp[5];
    size_t n = 1;
    tmp[0] = (char)c;
    if (c < 0x20 || c >= 0x7f) {
      snprintf(tmp, sizeof tmp, "\\x%02x", c);
      n = 4;
    }
    /* Keep room for "..." and the NUL. */
    if (o + n + 4 > cap) {
      if (cap >= 4)
        memcpy(dst + (o + 4 <= cap ? o : cap - 4), "...", 4);
      return;
    }
    memcpy(dst + o, tmp, n);
    o += n;
    dst[o] = '\0';
  }
}

/* 1 if s is one ABNF version (RFC 6455 §4.3): 0..255, digits only, no
 * leading zero; *out receives the number. */
static int probe_parse_version(struct wsv_str s, int *out) {
  if (s.len == 0 || s.len > 3)
    return 0;
  int v = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9')
      return 0;
    v = v * 10 + (s.ptr[i] - '0');
  }
  if (s.len > 1 && s.ptr[0] == '0')
    return 0;
  if (v > 255)
    return 0;
  *out = v;
  return 1;
}

static void probe_format_list(char *dst, size_t cap, const int *v, size_t n) {
  dst[0] = '\0';
  for (size_t i = 0; i < n; i++)
    probe_appendf(dst, cap, "%s%d", i ? ", " : "", v[i]);
}

/* ---- grading -------------------------------------------------------------
 */

/* Record a finding: the row's verdict is the worst finding, and its "why"
 * lists every finding of that level. */
static void probe_flag(struct probe_result *r, enum probe_verdict level,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void probe_flag(struct probe_result *r, enum probe_verdict level,
                       const char *fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (level > r->verdict || r->why[0] == '\0') {
    r->verdict = level;
    snprintf(r->why, sizeof r->why, "%s", text);
  } else if (level == r->verdict) {
    probe_appendf(r->why, sizeof r->why, "; %s", text);
  }
}

/* A PASS explanation, used only when nothing worse was found. */
static void probe_pass(struct probe_result *r, const char *text) {
  if (r->why[0] == '\0') {
    r->verdict = PROBE_PASS;
    snprintf(r->why, sizeof r->why, "%s", text);
  }
}

/* The checks of a 101 answer a client makes (RFC 6455 §4.1, steps 2-6),
 * and §11.3.5: Sec-WebSocket-Version belongs to error answers only. */
/* Does every extension of the 101 name one we offered (at most one
 * permessage-deflate, when this probe offered it)?  Its parameters are
 * not graded. */
static int probe_ext_offered(const struct probe_result *r) {
  size_t pos = 0, count = 0;
  struct wsv_str e;
  while (wsv__http_list_next(r->headers, r->nheaders,
                             "Sec-WebSocket-Extensions", &pos, &e)) {
    size_t n = 0;
    while (n < e.len && e.ptr[n] != ';' && e.ptr[n] != ' ' && e.ptr[n] != '\t')
      n++;
    struct wsv_str name = {e.ptr, n};
    if (!r->offer_ext || !wsv__str_ieq(name, "permessage-deflate") ||
        ++count > 1)
      return 0;
  }
  return 1;
}

static void probe_grade_101(struct probe_result *r) {
  if (!r->has_upgrade)
    probe_flag(r, PROBE_FAIL, "101 without Upgrade (§4.1 step 2, §4.2.2)");
  else if (!r->upgrade_is_ws)
    probe_flag(r, PROBE_FAIL, "101 Upgrade is not \"websocket\" (§4.1 step 2)");
  if (!r->has_connection ||
      !wsv__http_list_has(r->headers, r->nheaders, "Connection", "upgrade"))
    probe_flag(r, PROBE_FAIL,
               "101 Connection lacks \"Upgrade\" (§4.1 step 3, §4.2.2)");
  if (r->accept_state == 0)
    probe_flag(r, PROBE_FAIL, "101 without Sec-WebSocket-Accept (§4.1 step 4)");
  else if (r->accept_state == 2)
    probe_flag(r, PROBE_FAIL, "wrong Sec-WebSocket-Accept (§4.1 step 4)");
  else if (r->accept_state == 3)
    probe_flag(r, PROBE_FAIL, "Sec-WebSocket-Accept repeated (§4.1 step 4)");
  if (!probe_ext_offered(r))
    probe_flag(r, PROBE_FAIL,
               "101 names an extension not offered (§4.1 step 5)");
  if (wsv__http_count(r->headers, r->nheaders, "Sec-WebSocket-Protocol", NULL) >
      0)
    probe_flag(r, PROBE_FAIL,
               "101 names a subprotocol not offered (§4.1 step 6)");
  if (r->has_list)
    probe_flag(r, PROBE_WARN,
               "101 carries Sec-WebSocket-Version, an error-only field "
               "(§11.3.5)");
}

/* The checks of an answer refusing the handshake.  `missing` is the level
 * of an answer without a Sec-WebSocket-Version list. */
static void probe_grade_refusal(struct probe_result *r,
                                enum probe_verdict missing) {
  const struct probe_def *d = r->def;
  int s = r->status;
  if (s < 200 || (s >= 200 && s < 300))
    probe_flag(r, PROBE_FAIL,
               "%d is not an error code (MUST, §4.2.2 /version/)", s);
  else if (s >= 300 && s < 400)
    probe_flag(r, PROBE_WARN, "redirect instead of 426 or 400 (§4.2.2)");
  else if (s >= 500)
    probe_flag(r, PROBE_WARN, "server error %d instead of 426 or 400 (§4.2.2)",
               s);
  else if (s != 400 && s != 426)
    probe_flag(r, PROBE_WARN, "%d instead of 426 or 400 (§4.2.2, §4.4)", s);

  if (!r->has_list) {
    if (missing == PROBE_FAIL)
      probe_flag(r, PROBE_FAIL,
                 "no version list (MUST, §4.2.2 /version/, §4.4)");
    else
      probe_flag(r, missing, "no version list (recommended, §11.3.5)");
  } else if (r->list_bad) {
    probe_flag(r, PROBE_FAIL, "list element \"%s\" is no version 0-255 (§4.3)",
               r->list_bad_elem);
  } else if (d->version >= 0 && probe_set_has(&r->list_set, d->version)) {
    probe_flag(r, PROBE_FAIL, "lists %d, refused it (§4.4)", d->version);
  }

  if (s == 426) {
    if (!r->has_upgrade)
      probe_flag(r, PROBE_FAIL, "426 without Upgrade (RFC 9110 §15.5.22)");
    else if (!r->upgrade_names_ws)
      probe_flag(r, PROBE_WARN,
                 "426 Upgrade does not name websocket (RFC 9110 §15.5.22)");
  }
}

static void probe_grade(struct probe_result *r, struct probe_summary *sum) {
  const struct probe_def *d = r->def;
  r->verdict = PROBE_PASS;
  r->why[0] = '\0';

  if (!r->answered) {
    if (d->kind == PROBE_PLAIN)
      probe_flag(r, PROBE_WARN, "%s (an HTTP server should answer)", r->error);
    else
      probe_flag(r, PROBE_FAIL, "%s (MUST answer, §4.2.1, §4.2.2)", r->error);
    return;
  }

  int s = r->status;
  switch (d->kind) {
  case PROBE_KNOWN:
    if (s == 101) {
      probe_grade_101(r);
      probe_pass(r, "101, Accept right (§4.2.2)");
      probe_set_add(&sum->accepted, d->version);
    } else if (d->version == 13) {
      if ((s >= 300 && s < 400) || s == 401 || s == 403 || s == 404 ||
          s == 407) {
        probe_flag(r, PROBE_NA, "%d: not a WebSocket endpoint for this client?",
                   s);
        sum->inconclusive = 1;
        snprintf(sum->inconclusive_why, sizeof sum->inconclusive_why,
                 "version 13 was refused with %d %s, so the URL is not a "
                 "WebSocket endpoint for this client",
                 s, r->reason);
      } else {
        probe_flag(r, PROBE_FAIL,
                   "refused 13, RFC 6455's version (§4.1 item 9, §4.2.1)");
      }
    } else {
      probe_grade_refusal(r, PROBE_FAIL);
      char t[96];
      snprintf(t, sizeof t, "refused %d, listed versions (§4.4)", d->version);
      probe_pass(r, t);
    }
    break;
  case PROBE_UNSUPPORTED:
    if (s == 101) {
      probe_flag(r, PROBE_FAIL,
                 "101 for unknown version %d (MUST refuse, §4.2.2 /version/)",
                 d->version);
    } else {
      probe_grade_refusal(r, PROBE_FAIL);
      probe_pass(r, s == 426 ? "426, list, Upgrade (§4.2.2, §4.4, "
                               "RFC 9110 §15.5.22)"
                             : "refused, listed versions (§4.2.2, §4.4)");
    }
    break;
  case PROBE_NONE:
    if (s == 101) {
      probe_flag(r, PROBE_FAIL,
                 "101 without a version (MUST refuse, §4.2.1 item 6)");
    } else {
      probe_grade_refusal(r, PROBE_WARN);
      probe_pass(r, "refused, listed versions (§4.2.1, §4.4)");
    }
    break;
  case PROBE_MALFORMED:
    if (s == 101) {
      probe_flag(r, PROBE_FAIL,
                 "101 to a bad version field (%s); MUST refuse, §4.2.1",
                 d->rule);
    } else {
      probe_grade_refusal(r, PROBE_FAIL);
      probe_pass(r, "refused, listed versions (§4.2.1, §4.2.2)");
    }
    break;
  case PROBE_PLAIN:
    if (s == 101) {
      probe_flag(r, PROBE_FAIL,
                 "101 to a request without Upgrade (RFC 9110 §7.8)");
    } else if (s == 426) {
      if (!r->has_upgrade)
        probe_flag(r, PROBE_FAIL, "426 without Upgrade (RFC 9110 §15.5.22)");
      else if (!r->upgrade_names_ws)
        probe_flag(r, PROBE_WARN, "426 Upgrade does not name websocket");
      probe_pass(r, "426 naming websocket (RFC 9110 §15.5.22)");
    } else {
      char t[96];
      snprintf(t, sizeof t, "answered as plain HTTP (%d)", s);
      probe_pass(r, t);
    }
    break;
  }
}

/* The row derived from all answers: one advertised list, and 101 exactly
 * for the listed versions among 13, 8 and 7. */
static void probe_grade_summary(struct probe_result *rs, size_t n,
                                struct probe_summary *sum) {
  struct probe_result tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.verdict = PROBE_PASS;
  int differ = 0;
  for (size_t i = 0; i < n; i++) {
    struct probe_result *r = &rs[i];
    if (!r->answered || r->status == 101 || !r->has_list)
      continue;
    if (sum->nlists > 0 && !probe_set_eq(&r->list_set, &sum->advertised))
      differ = 1;
    sum->nlists++;
    for (size_t k = 0; k < r->nversions; k++) {
      int v = r->versions[k];
      if (!probe_set_has(&sum->advertised, v) &&
          sum->nadvertised <
              sizeof sum->advertised_order / sizeof sum->advertised_order[0]) {
        sum->advertised_order[sum->nadvertised++] = v;
        probe_set_add(&sum->advertised, v);
      }
    }
  }
  /* Which of 13, 8, 7 got a 101. */
  int acc[3];
  size_t nacc = 0;
  static const int known[3] = {13, 8, 7};
  for (size_t k = 0; k < 3; k++)
    if (probe_set_has(&sum->accepted, known[k]))
      acc[nacc++] = known[k];
  if (nacc == 0)
    snprintf(sum->status_text, sizeof sum->status_text, "101: none");
  else {
    snprintf(sum->status_text, sizeof sum->status_text, "101: ");
    for (size_t k = 0; k < nacc; k++)
      probe_appendf(sum->status_text, sizeof sum->status_text, "%s%d",
                    k ? ", " : "", acc[k]);
  }
  probe_format_list(sum->list_text, sizeof sum->list_text,
                    sum->advertised_order, sum->nadvertised);

  if (sum->nlists == 0) {
    sum->verdict = PROBE_NA;
    snprintf(sum->why, sizeof sum->why, "no answer listed versions");
    return;
  }
  /* Every version accepted must be in every list. */
  for (size_t k = 0; k < nacc; k++) {
    for (size_t i = 0; i < n; i++) {
      struct probe_result *r = &rs[i];
      if (!r->answered || r->status == 101 || !r->has_list)
        continue;
      if (!probe_set_has(&r->list_set, acc[k])) {
        probe_flag(&tmp, PROBE_FAIL,
                   "accepts %d, %s answer omits it (MUST list all, §4.4)",
                   acc[k], r->def->name);
        break;
      }
    }
  }
  /* A listed version among 13, 8, 7 that its probe saw refused. */
  for (size_t i = 0; i < n; i++) {
    struct probe_result *r = &rs[i];
    if (r->def->kind != PROBE_KNOWN || !r->answered || r->status == 101)
      continue;
    if (probe_set_has(&sum->advertised, r->def->version))
      probe_flag(&tmp, PROBE_FAIL, "lists %d, refused it (§4.4)",
                 r->def->version);
  }
  if (probe_set_empty(&sum->accepted))
    probe_flag(&tmp, PROBE_FAIL, "accepted no version at all");
  if (differ)
    probe_flag(&tmp, PROBE_WARN, "answers list different versions");
  probe_pass(&tmp, "one list; 101 exactly for listed versions (§4.4)");
  sum->verdict = tmp.verdict;
  snprintf(sum->why, sizeof sum->why, "%s", tmp.why);
}

/* ---- the URL -------------------------------------------------------------
 */

static int probe_parse_url(const char *url, struct probe_target *t, char *err,
                           size_t errcap) {
  const char *p;
  if (strncasecmp(url, "ws://", 5) == 0) {
    p = url + 5;
  } else if (strncasecmp(url, "wss://", 6) == 0) {
    snprintf(err, errcap, "wss:// is not supported yet (use ws://)");
    return -1;
  } else {
    snprintf(err, errcap, "URL must start with ws:// (got \"%.80s\")", url);
    return -1;
  }
  size_t alen = strcspn(p, "/?#");
  const char *rest = p + alen;
  if (memchr(p, '@', alen) != NULL) {
    snprintf(err, errcap, "URL must not hold user information");
    return -1;
  }
  const char *port = NULL;
  size_t hlen;
  if (alen > 0 && p[0] == '[') {
    const char *close = memchr(p, ']', alen);
    if (close == NULL) {
      snprintf(err, errcap, "unclosed '[' in the URL's host");
      return -1;
    }
    hlen = (size_t)(close - p - 1);
    if (hlen == 0 || hlen >= sizeof t->host) {
      snprintf(err, errcap, "bad IPv6 address in the URL");
      return -1;
    }
    memcpy(t->host, p + 1, hlen);
    t->host[hlen] = '\0';
    t->ipv6 = 1;
    const char *after = close + 1;
    if (after < p + alen) {
      if (*after != ':') {
        snprintf(err, errcap, "unexpected text after ']' in the URL");
        return -1;
      }
      port = after + 1;
    }
  } else {
    const char *colon = memchr(p, ':', alen);
    hlen = colon ? (size_t)(colon - p) : alen;
    if (colon)
      port = colon + 1;
    if (hlen == 0 || hlen >= sizeof t->host) {
      snprintf(err, errcap, "URL has no host");
      return -1;
    }
    memcpy(t->host, p, hlen);
    t->host[hlen] = '\0';
  }
  if (port != NULL) {
    size_t plen = (size_t)(p + alen - port);
    long v = 0;
    for (size_t i = 0; i < plen; i++) {
      if (port[i] < '0' || port[i] > '9' || v > 65535) {
        v = -1;
        break;
      }
      v = v * 10 + (port[i] - '0');
    }
    if (plen == 0 || v < 1 || v > 65535) {
      snprintf(err, errcap, "bad port in the URL");
      return -1;
    }
    snprintf(t->port, sizeof t->port, "%ld", v);
  } else {
    snprintf(t->port, sizeof t->port, "80");
  }
  for (const char *c = t->host; *c; c++) {
    unsigned char u = (unsigned char)*c;
    if (u <= 0x20 || u >= 0x7f) {
      snprintf(err, errcap, "bad character in the URL's host");
      return -1;
    }
  }
  if (strcmp(t->port, "80") == 0 && port == NULL)
    snprintf(t->host_hdr, sizeof t->host_hdr, t->ipv6 ? "[%s]" : "%s", t->host);
  else
    snprintf(t->host_hdr, sizeof t->host_hdr, t->ipv6 ? "[%s]:%s" : "%s:%s",
             t->host, t->port);
  if (strchr(rest, '#') != NULL) {
    snprintf(err, errcap,
             "a ws:// URL has no fragment (RFC 6455 §3); remove the '#...'");
    return -1;
  }
  size_t rlen = strlen(rest);
  if (rlen + 2 > sizeof t->path) {
    snprintf(err, errcap, "URL path too long");
    return -1;
  }
  for (size_t i = 0; i < rlen; i++) {
    unsigned char u = (unsigned char)rest[i];
    if (u <= 0x20 || u >= 0x7f) {
      snprintf(err, errcap,
               "URL path holds a space or non-ASCII byte; "
               "percent-encode it");
      return -1;
    }
  }
  if (rlen == 0 || rest[0] == '?')
    snprintf(t->path, sizeof t->path, "/%s", rest);
  else
    snprintf(t->path, sizeof t->path, "%s", rest);
  return 0;
}

/* ---- the network ---------------------------------------------------------
 */

static void probe_addr_text(const struct sockaddr *sa, socklen_t salen,
                            char *dst, size_t cap) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(sa, salen, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(dst, cap, "?");
    return;
  }
  snprintf(dst, cap, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
}

/* Connect to the first address that answers before `deadline`.  Returns
 * the socket (non-blocking), or -1 with err set. */
static int probe_connect(struct probe_target *t, long long deadline, char *err,
                         size_t errcap) {
  int last = 0;
  int timed_out = 0;
  for (struct addrinfo *ai = t->addrs; ai != NULL; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      probe_addr_text(ai->ai_addr, ai->ai_addrlen, t->addr_text,
                      sizeof t->addr_text);
      return fd;
    }
    if (errno != EINPROGRESS) {
      last = errno;
      close(fd);
      continue;
    }
    struct pollfd pfd = {fd, POLLOUT, 0};
    int pr;
    do
      pr = poll(&pfd, 1, probe_left_ms(deadline));
    while (pr < 0 && errno == EINTR);
    if (pr == 0) {
      timed_out = 1;
      close(fd);
      continue;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
      last = errno;
      close(fd);
      continue;
    }
    if (soerr != 0) {
      last = soerr;
      close(fd);
      continue;
    }
    probe_addr_text(ai->ai_addr, ai->ai_addrlen, t->addr_text,
                    sizeof t->addr_text);
    return fd;
  }
  if (last != 0)
    snprintf(err, errcap, "connect to %.64s port %s: %s", t->host, t->port,
             strerror(last));
  else if (timed_out)
    snprintf(err, errcap, "connect to %.64s port %s: timed out", t->host,
             t->port);
  else
    snprintf(err, errcap, "connect to %.64s port %s failed", t->host, t->port);
  return -1;
}

static int probe_send_all(int fd, const char *p, size_t len,
                          long long deadline) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {fd, POLLOUT, 0};
      int pr = poll(&pfd, 1, probe_left_ms(deadline));
      if (pr == 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      continue;
    }
    return -1;
  }
  return 0;
}

/* Read more bytes into r->buf until `deadline`.  Returns the count (> 0),
 * 0 at EOF, -1 with errno set (ETIMEDOUT at the deadline). */
static long probe_recv(int fd, struct probe_result *r, size_t cap,
                       long long deadline) {
  for (;;) {
    if (r->len >= cap)
      return 0;
    ssize_t n = recv(fd, r->buf + r->len, cap - r->len, 0);
    if (n >= 0) {
      r->len += (size_t)n;
      return (long)n;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -1;
    int left = probe_left_ms(deadline);
    if (left == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, left);
    if (pr == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (pr < 0 && errno != EINTR)
      return -1;
  }
}

static void probe_build_request(struct probe_result *r,
                                const struct probe_target *t) {
  const struct probe_def *d = r->def;
  char *out = r->request;
  size_t cap = sizeof r->request;
  out[0] = '\0';
  probe_appendf(out, cap, "GET %s HTTP/1.1\r\nHost: %s\r\n", t->path,
                t->host_hdr);
  if (d->kind == PROBE_PLAIN) {
    probe_appendf(out, cap,
                  "User-Agent: wsv-probe/%s\r\nAccept: */*\r\n"
                  "Connection: close\r\n\r\n",
                  wsv_version_string());
  } else {
    probe_appendf(out, cap,
                  "User-Agent: wsv-probe/%s\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n",
                  wsv_version_string(), r->key);
    for (size_t i = 0; i < 3 && d->values[i] != NULL; i++)
      probe_appendf(out, cap, "Sec-WebSocket-Version: %s\r\n", d->values[i]);
    if (r->offer_ext)
      probe_appendf(out, cap, "Sec-WebSocket-Extensions: %s\r\n",
                    PROBE_EXT_OFFER);
    probe_appendf(out, cap, "\r\n");
  }
  r->request_len = strlen(out);
}

/* Pull out what the grading needs from a parsed head. */
static void probe_extract(struct probe_result *r) {
  const struct wsv_header *h = r->headers;
  size_t n = r->nheaders;
  struct wsv_str v;

  /* Sec-WebSocket-Version: every field, joined for display; each comma
   * list element checked against the ABNF. */
  r->list_text[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (!wsv__str_ieq(h[i].name, "Sec-WebSocket-Version"))
      continue;
    char c[128];
    probe_clean(c, sizeof c, h[i].value.ptr, h[i].value.len);
    probe_appendf(r->list_text, sizeof r->list_text, "%s%s",
                  r->has_list ? ", " : "", c);
    r->has_list = 1;
    /* An element list made empty by commas alone is not 1#version. */
    size_t k = 0;
    while (k < h[i].value.len &&
           (h[i].value.ptr[k] == ',' || h[i].value.ptr[k] == ' ' ||
            h[i].value.ptr[k] == '\t'))
      k++;
    if (k == h[i].value.len && !r->list_bad) {
      r->list_bad = 1;
      snprintf(r->list_bad_elem, sizeof r->list_bad_elem, "%.36s", c);
    }
  }
  size_t pos = 0;
  struct wsv_str e;
  while (wsv__http_list_next(h, n, "Sec-WebSocket-Version", &pos, &e)) {
    int ver;
    if (probe_parse_version(e, &ver)) {
      if (r->nversions < sizeof r->versions / sizeof r->versions[0])
        r->versions[r->nversions++] = ver;
      probe_set_add(&r->list_set, ver);
    } else if (!r->list_bad) {
      r->list_bad = 1;
      probe_clean(r->list_bad_elem, sizeof r->list_bad_elem, e.ptr, e.len);
    }
  }

  /* Upgrade: display every field; "is ws" when the list is exactly one
   * element equal to websocket, "names ws" when it holds one. */
  r->upgrade[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (!wsv__str_ieq(h[i].name, "Upgrade"))
      continue;
    char c[96];
    probe_clean(c, sizeof c, h[i].value.ptr, h[i].value.len);
    probe_appendf(r->upgrade, sizeof r->upgrade, "%s%s",
                  r->has_upgrade ? ", " : "", c);
    r->has_upgrade = 1;
  }
  r->upgrade_names_ws = wsv__http_list_has(h, n, "Upgrade", "websocket");
  {
    size_t p2 = 0, count = 0;
    int first_ws = 0;
    while (wsv__http_list_next(h, n, "Upgrade", &p2, &e)) {
      if (count == 0)
        first_ws = wsv__str_ieq(e, "websocket");
      count++;
    }
    r->upgrade_is_ws = count == 1 && first_ws;
  }
  if (wsv__http_count(h, n, "Connection", &v) > 0) {
    r->has_connection = 1;
    probe_clean(r->connection, sizeof r->connection, v.ptr, v.len);
  }
  r->ext[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (!wsv__str_ieq(h[i].name, "Sec-WebSocket-Extensions"))
      continue;
    char c[160];
    probe_clean(c, sizeof c, h[i].value.ptr, h[i].value.len);
    probe_appendf(r->ext, sizeof r->ext, "%s%s", r->has_ext ? ", " : "", c);
    r->has_ext = 1;
  }
  size_t na = wsv__http_count(h, n, "Sec-WebSocket-Accept", &v);
  if (na == 0)
    r->accept_state = 0;
  else if (na > 1)
    r->accept_state = 3;
  else if (v.len == 28 && memcmp(v.ptr, r->accept_want, 28) == 0)
    r->accept_state = 1;
  else
    r->accept_state = 2;
}

/* The first non-empty line of a text body, if any. */
static void probe_body_line(struct probe_result *r) {
  struct wsv_str ct;
  if (wsv__http_count(r->headers, r->nheaders, "Content-Type", &ct) > 0 &&
      !(ct.len >= 10 && strncasecmp(ct.ptr, "text/plain", 10) == 0))
    return;
  const char *p = r->buf + r->head_len;
  size_t len = r->len - r->head_len;
  size_t i = 0;
  while (i < len && (p[i] == '\r' || p[i] == '\n' || p[i] == ' '))
    i++;
  size_t j = i;
  while (j < len && p[j] != '\r' && p[j] != '\n')
    j++;
  if (j > i)
    probe_clean(r->body, sizeof r->body, p + i, j - i);
}

static void probe_verbose_block(const char *prefix, const char *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && p[j] != '\n')
      j++;
    size_t end = j;
    if (end > i && p[end - 1] == '\r')
      end--;
    char line[512];
    probe_clean(line, sizeof line, p + i, end - i);
    fprintf(stderr, "%s%s\n", prefix, line);
    i = j + 1;
  }
}

/* Run one probe: connect, send, read the head and a short body.  Returns 0,
 * or -1 when the connection could not be made (r->error says why). */
static int probe_run(struct probe_result *r, struct probe_target *t,
                     const struct probe_opts *o) {
  long long deadline = probe_now_ms() + o->timeout_ms;
  uint8_t raw[16];
  if (wsv_random_os(NULL, raw, sizeof raw) != 0) {
    snprintf(r->error, sizeof r->error, "no random bytes for the key");
    return -1;
  }
  size_t kl = wsv__base64_encode(raw, sizeof raw, r->key);
  r->key[kl] = '\0';
  wsv__accept_value(r->key, kl, r->accept_want);
  r->accept_want[28] = '\0';
  probe_build_request(r, t);

  if (o->verbose)
    fprintf(stderr, "--- %s: connecting to %s port %s\n", r->def->name, t->host,
            t->port);
  int fd = probe_connect(t, deadline, r->error, sizeof r->error);
  if (fd < 0)
    return -1;
  r->connected = 1;
  if (o->verbose)
    probe_verbose_block("> ", r->request, r->request_len);
  if (probe_send_all(fd, r->request, r->request_len, deadline) != 0) {
    snprintf(r->error, sizeof r->error, "sending the request: %s",
             strerror(errno));
    close(fd);
    return 0;
  }

  struct wsv__http_head head;
  memset(&head, 0, sizeof head);
  head.headers = r->headers;
  head.max_headers = PROBE_MAX_HEADERS;
  head.max_bytes = PROBE_HEAD_MAX;
  for (;;) {
    int pr = r->len > 0 ? wsv__http_parse_response(&head, r->buf, r->len)
                        : WSV_ERR_AGAIN;
    if (pr > 0) {
      r->head_len = (size_t)pr;
      break;
    }
    if (pr == WSV_ERR_HTTP_TOO_LARGE) {
      snprintf(r->error, sizeof r->error,
               "answer head over %d bytes or %d fields", PROBE_HEAD_MAX,
               PROBE_MAX_HEADERS);
      break;
    }
    if (pr != WSV_ERR_AGAIN) {
      char c[48];
      probe_clean(c, sizeof c, r->buf, r->len < 40 ? r->len : 40);
      snprintf(r->error, sizeof r->error, "answer is not HTTP/1.x: \"%s\"", c);
      break;
    }
    long got = probe_recv(fd, r, PROBE_HEAD_MAX, deadline);
    if (got > 0)
      continue;
    if (got == 0)
      snprintf(r->error, sizeof r->error,
               r->len == 0 ? "closed without an answer"
                           : "closed in the middle of the answer");
    else if (errno == ETIMEDOUT)
      snprintf(r->error, sizeof r->error,
               r->len == 0 ? "no answer within %d ms"
                           : "answer incomplete after %d ms",
               o->timeout_ms);
    else if (errno == ECONNRESET)
      snprintf(r->error, sizeof r->error,
               r->len == 0 ? "connection reset without an answer"
                           : "connection reset in the middle of the answer");
    else
      snprintf(r->error, sizeof r->error, "reading the answer: %s",
               strerror(errno));
    break;
  }

  if (r->head_len > 0) {
    r->answered = 1;
    r->nheaders = head.nheaders;
    r->status = head.status;
    r->http_major = head.major;
    r->http_minor = head.minor;
    probe_clean(r->reason, sizeof r->reason, head.reason.ptr, head.reason.len);
    if (o->verbose)
      probe_verbose_block("< ", r->buf, r->head_len - 2);
    if (r->status == 101) {
      /* Close the WebSocket politely: a masked Close frame, code 1000. */
      uint8_t f[8] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
      if (wsv_random_os(NULL, f + 2, 4) == 0) {
        f[6] ^= f[2];
        f[7] ^= f[3];
        (void)send(fd, f, sizeof f, MSG_NOSIGNAL);
      }
    } else {
      /* Read a short body: up to Content-Length (at most 1 KiB), or up to
       * EOF for a short while when there is no length. */
      struct wsv_str cl;
      size_t want = PROBE_BODY_MAX;
      long long body_deadline = deadline;
      int have_len = 0;
      if (wsv__http_count(r->headers, r->nheaders, "Content-Length", &cl) ==
          1) {
        size_t v = 0;
        int ok = cl.len > 0 && cl.len < 10;
        for (size_t i = 0; ok && i < cl.len; i++) {
          if (cl.ptr[i] < '0' || cl.ptr[i] > '9')
            ok = 0;
          else
            v = v * 10 + (size_t)(cl.ptr[i] - '0');
        }
        if (ok) {
          have_len = 1;
          if (v < want)
            want = v;
        }
      }
      if (wsv__http_count(r->headers, r->nheaders, "Transfer-Encoding", NULL) >
          0)
        want = 0;
      if (!have_len) {
        long long g = probe_now_ms() + PROBE_BODY_GRACE_MS;
        if (g < body_deadline)
          body_deadline = g;
      }
      while (r->len < r->head_len + want &&
             probe_recv(fd, r, r->head_len + want, body_deadline) > 0) {
      }
      if (r->len > r->head_len + want)
        r->len = r->head_len + want;
      probe_body_line(r);
      if (o->verbose && r->body[0] != '\0')
        fprintf(stderr, "< (body) %s\n", r->body);
    }
    probe_extract(r);
  } else if (o->verbose) {
    fprintf(stderr, "< (%s)\n", r->error);
  }
  close(fd);
  return 0;
}

/* ---- output --------------------------------------------------------------
 */

static void probe_status_cell(const struct probe_result *r, char *dst,
                              size_t cap) {
  if (!r->connected)
    snprintf(dst, cap, "(no connection)");
  else if (!r->answered)
    snprintf(dst, cap, "(no answer)");
  else
    snprintf(dst, cap, "%d %.24s", r->status, r->reason);
}

static size_t probe_width(const char *s) {
  return strlen(s);
}

/* The extension line: what the version-13 probe offered and got. */
static void probe_print_extensions(const struct probe_opts *o,
                                   const struct probe_result *rs, size_t n) {
  const struct probe_result *r = NULL;
  for (size_t i = 0; i < n && r == NULL; i++)
    if (rs[i].offer_ext)
      r = &rs[i];
  if (o->no_deflate || r == NULL)
    printf("extensions: none offered (--no-deflate)\n");
  else if (!r->answered || r->status != 101)
    printf("extensions: offered %s; no 101 to tell\n", PROBE_EXT_OFFER);
  else if (r->has_ext)
    printf("extensions: agreed %s (offered %s)\n", r->ext, PROBE_EXT_OFFER);
  else
    printf("extensions: none agreed (offered %s)\n", PROBE_EXT_OFFER);
}

static void probe_print_table(const struct probe_opts *o,
                              const struct probe_target *t,
                              struct probe_result *rs, size_t n,
                              const struct probe_summary *sum) {
  enum { COLS = 7 };
  static const char *const titles[COLS] = {
      "probe",   "sent",    "status", "Sec-WebSocket-Version",
      "Upgrade", "verdict", "why"};
  char cells[PROBE_COUNT + 1][COLS - 1][96];
  const char *whys[PROBE_COUNT + 1];
  size_t w[COLS];
  for (size_t c = 0; c < COLS; c++)
    w[c] = probe_width(titles[c]);
  for (size_t i = 0; i <= n; i++) {
    if (i < n) {
      const struct probe_result *r = &rs[i];
      snprintf(cells[i][0], 96, "%s", r->def->name);
      snprintf(cells[i][1], 96, "%s", r->def->shown);
      probe_status_cell(r, cells[i][2], 96);
      snprintf(cells[i][3], 96, "%.95s",
               r->answered && r->has_list ? r->list_text : "-");
      snprintf(cells[i][4], 96, "%.95s",
               r->answered && r->has_upgrade ? r->upgrade : "-");
      snprintf(cells[i][5], 96, "%s", probe_verdict_names[r->verdict]);
      whys[i] = r->why;
    } else {
      snprintf(cells[i][0], 96, "versions");
      snprintf(cells[i][1], 96, "-");
      snprintf(cells[i][2], 96, "%.63s", sum->status_text);
      snprintf(cells[i][3], 96, "%.95s", sum->nlists ? sum->list_text : "-");
      snprintf(cells[i][4], 96, "-");
      snprintf(cells[i][5], 96, "%s", probe_verdict_names[sum->verdict]);
      whys[i] = sum->why;
    }
    for (size_t c = 0; c < COLS - 1; c++)
      if (probe_width(cells[i][c]) > w[c])
        w[c] = probe_width(cells[i][c]);
  }
  printf("wsv probe %s (%s), %d ms per handshake\n\n", o->url,
         t->addr_text[0] ? t->addr_text : "?", o->timeout_ms);
  for (size_t c = 0; c < COLS; c++)
    printf(c + 1 < COLS ? "%-*s  " : "%-*s\n", (int)w[c], titles[c]);
  for (size_t i = 0; i <= n; i++) {
    for (size_t c = 0; c < COLS - 1; c++)
      printf("%-*s  ", (int)w[c], cells[i][c]);
    printf("%s\n", whys[i]);
  }
  int bodies = 0;
  for (size_t i = 0; i < n; i++) {
    if (rs[i].answered && rs[i].body[0] != '\0' && rs[i].status != 101) {
      if (!bodies++)
        printf("\nanswer bodies:\n");
      printf("  %-*s  %s\n", (int)w[0], rs[i].def->name, rs[i].body);
    }
  }
  printf("\n");
  probe_print_extensions(o, rs, n);
  if (sum->inconclusive)
    printf("conformant: unknown \xe2\x80\x94 %s\n", sum->inconclusive_why);
  else
    printf("conformant: %s \xe2\x80\x94 %u pass, %u warn, %u fail\n",
           sum->fail ? "no" : "yes", sum->pass, sum->warn, sum->fail);
}

/* Write s as a JSON string of ASCII only.  Server bytes were cleaned to
 * printable ASCII already; our own texts hold one UTF-8 character, the
 * section sign, written as \u00a7; any other byte above 0x7f (from the
 * command line) is written as the Latin-1 character of that value. */
static void probe_json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      printf("\\%c", *p);
    } else if (p[0] == 0xc2 && p[1] == 0xa7) {
      fputs("\\u00a7", stdout);
      p++;
    } else if (*p < 0x20 || *p >= 0x7f) {
      printf("\\u%04x", *p);
    } else {
      putchar(*p);
    }
  }
  putchar('"');
}

static void probe_json_opt(const char *key, int present, const char *s) {
  printf("\"%s\": ", key);
  if (present)
    probe_json_str(s);
  else
    fputs("null", stdout);
}

static void probe_json_ints(const int *v, size_t n) {
  putchar('[');
  for (size_t i = 0; i < n; i++)
    printf("%s%d", i ? ", " : "", v[i]);
  putchar(']');
}

static void probe_print_json(const struct probe_opts *o,
                             const struct probe_target *t,
                             struct probe_result *rs, size_t n,
                             const struct probe_summary *sum) {
  static const char *const accept_names[] = {"missing", "ok", "wrong",
                                             "repeated"};
  printf("{\n  \"url\": ");
  probe_json_str(o->url);
  printf(",\n  \"address\": ");
  probe_json_str(t->addr_text);
  printf(",\n  \"timeout_ms\": %d,\n  \"probes\": [\n", o->timeout_ms);
  for (size_t i = 0; i < n; i++) {
    const struct probe_result *r = &rs[i];
    const struct probe_def *d = r->def;
    printf("    {\"name\": ");
    probe_json_str(d->name);
    printf(", \"sent\": [");
    for (size_t k = 0; k < 3 && d->values[k] != NULL; k++) {
      if (k)
        printf(", ");
      probe_json_str(d->values[k]);
    }
    printf("], \"upgrade_request\": %s,\n     \"connected\": %s, ",
           d->kind == PROBE_PLAIN ? "false" : "true",
           r->connected ? "true" : "false");
    probe_json_opt("error", r->error[0] != '\0', r->error);
    if (r->answered) {
      printf(", \"status\": %d, ", r->status);
      probe_json_opt("reason", 1, r->reason);
      printf(", \"http_version\": \"%d.%d\",\n     ", r->http_major,
             r->http_minor);
      probe_json_opt("sec_websocket_version", r->has_list, r->list_text);
      printf(", \"versions\": ");
      if (r->has_list)
        probe_json_ints(r->versions, r->nversions);
      else
        fputs("null", stdout);
      printf(", \"version_list_valid\": %s,\n     ",
             r->has_list ? (r->list_bad ? "false" : "true") : "null");
      probe_json_opt("upgrade", r->has_upgrade, r->upgrade);
      printf(", ");
      probe_json_opt("connection", r->has_connection, r->connection);
      printf(", ");
      probe_json_opt("accept", r->status == 101, accept_names[r->accept_state]);
      printf(", ");
      probe_json_opt("body", r->body[0] != '\0', r->body);
      printf(", ");
      probe_json_opt("sec_websocket_extensions", r->has_ext, r->ext);
    } else {
      printf(", \"status\": null");
    }
    printf(",\n     \"verdict\": \"%s\", \"why\": ",
           probe_verdict_names[r->verdict]);
    probe_json_str(r->why);
    printf("}%s\n", i + 1 < n ? "," : "");
  }
  printf("  ],\n  \"versions\": {\"accepted\": [");
  static const int known[3] = {13, 8, 7};
  int first = 1;
  for (size_t k = 0; k < 3; k++)
    if (probe_set_has(&sum->accepted, known[k])) {
      printf("%s%d", first ? "" : ", ", known[k]);
      first = 0;
    }
  printf("], \"advertised\": ");
  if (sum->nlists)
    probe_json_ints(sum->advertised_order, sum->nadvertised);
  else
    fputs("null", stdout);
  printf(", \"verdict\": \"%s\", \"why\": ", probe_verdict_names[sum->verdict]);
  probe_json_str(sum->why);
  printf("},\n  \"extensions\": {");
  const struct probe_result *xr = NULL;
  for (size_t i = 0; i < n && xr == NULL; i++)
    if (rs[i].offer_ext)
      xr = &rs[i];
  probe_json_opt("offered", xr != NULL, PROBE_EXT_OFFER);
  printf(", ");
  probe_json_opt("agreed", xr != NULL && xr->answered && xr->has_ext,
                 xr != NULL ? xr->ext : "");
  printf(", \"answered_101\": %s",
         xr != NULL && xr->answered && xr->status == 101 ? "true" : "false");
  printf("},\n  \"summary\": {\"conformant\": %s, \"pass\": %u, "
         "\"warn\": %u, \"fail\": %u",
         sum->inconclusive ? "null" : (sum->fail ? "false" : "true"), sum->pass,
         sum->warn, sum->fail);
  if (sum->inconclusive) {
    printf(", \"inconclusive\": ");
    probe_json_str(sum->inconclusive_why);
  }
  printf("}\n}\n");
}

static void probe_fatal(const struct probe_opts *o, const char *msg) {
  fprintf(stderr, "wsv probe: %s\n", msg);
  if (o->json) {
    printf("{\"url\": ");
    probe_json_str(o->url ? o->url : "");
    printf(", \"error\": ");
    probe_json_str(msg);
    printf("}\n");
  }
}

/* ---- the command ---------------------------------------------------------
 */

static int probe_parse_timeout(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 600000)
    return -1;
  *out = (int)v;
  return 0;
}

int wsv_cmd_probe(int argc, char **argv) {
  struct probe_opts o = {0, 0, 0, PROBE_DEFAULT_TIMEOUT_MS, NULL};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(probe_usage, stdout);
      return 0;
    } else if (strcmp(a, "--json") == 0) {
      o.json = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o.verbose = 1;
    } else if (strcmp(a, "--no-deflate") == 0) {
      o.no_deflate = 1;
    } else if (strcmp(a, "--timeout") == 0 ||
               strncmp(a, "--timeout=", 10) == 0) {
      const char *val =
          a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
      if (val == NULL || probe_parse_timeout(val, &o.timeout_ms) != 0) {
        fprintf(stderr, "wsv probe: --timeout takes milliseconds, 1 to "
                        "600000\n");
        return 2;
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "wsv probe: unknown option '%s'\n\n%s", a, probe_usage);
      return 2;
    } else if (o.url == NULL) {
      o.url = a;
    } else {
      fprintf(stderr, "wsv probe: one URL only\n\n%s", probe_usage);
      return 2;
    }
  }
  if (o.url == NULL) {
    fputs(probe_usage, stderr);
    return 2;
  }

  static struct probe_target t;
  memset(&t, 0, sizeof t);
  char err[200];
  if (probe_parse_url(o.url, &t, err, sizeof err) != 0) {
    probe_fatal(&o, err);
    return 2;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  int gai = getaddrinfo(t.host, t.port, &hints, &t.addrs);
  if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME) {
    hints.ai_flags = 0;
    gai = getaddrinfo(t.host, t.port, &hints, &t.addrs);
  }
  if (gai != 0) {
    snprintf(err, sizeof err, "cannot resolve %.64s: %s", t.host,
             gai_strerror(gai));
    probe_fatal(&o, err);
    return 2;
  }

  /* About 90 KB of results: static, not on the stack. */
  static struct probe_result rs[PROBE_COUNT];
  memset(rs, 0, sizeof rs);
  struct probe_summary sum;
  memset(&sum, 0, sizeof sum);
  for (size_t i = 0; i < PROBE_COUNT; i++) {
    rs[i].def = &probe_defs[i];
    rs[i].offer_ext = !o.no_deflate && probe_defs[i].version == 13;
    if (probe_run(&rs[i], &t, &o) != 0 && i == 0) {
      /* The server cannot be reached at all: nothing to judge. */
      probe_fatal(&o, rs[i].error);
      freeaddrinfo(t.addrs);
      return 2;
    }
    probe_grade(&rs[i], &sum);
  }
  freeaddrinfo(t.addrs);
  probe_grade_summary(rs, PROBE_COUNT, &sum);
  if (sum.inconclusive) {
    /* The URL refuses even a good handshake for another reason: no row
     * says anything about the version negotiation. */
    for (size_t i = 0; i < PROBE_COUNT; i++)
      rs[i].verdict = PROBE_NA;
    sum.verdict = PROBE_NA;
  }
  for (size_t i = 0; i <= PROBE_COUNT; i++) {
    enum probe_verdict v = i < PROBE_COUNT ? rs[i].verdict : sum.verdict;
    if (v == PROBE_PASS)
      sum.pass++;
    else if (v == PROBE_WARN)
      sum.warn++;
    else if (v == PROBE_FAIL)
      sum.fail++;
  }
  if (o.json)
    probe_print_json(&o, &t, rs, PROBE_COUNT, &sum);
  else
    probe_print_table(&o, &t, rs, PROBE_COUNT, &sum);
  fflush(stdout);
  if (sum.inconclusive)
    return 2;
  return sum.fail ? 1 : 0;
}
