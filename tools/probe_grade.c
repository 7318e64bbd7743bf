/*
 * probe_grade.c - how `wsv probe` judges the answers: what it reads from
 * an answer's head (the Sec-WebSocket-Version list against the ABNF of
 * RFC 6455 §4.3, Upgrade, Connection, Sec-WebSocket-Accept, the
 * extensions), the grade of each answer (PASS, WARN, FAIL, N/A, with the
 * section that says so) and the "versions" row from all of them.
 *
 * The same rules grade the answers over HTTP/2 (r->h2, `wsv probe --h2`),
 * as RFC 8441 §5 keeps Sec-WebSocket-Version as RFC 6455 defines it; what
 * differs there: a 2xx (200) accepts instead of a 101, there is no
 * Upgrade, Connection or Accept to check, and a refusal is 400 (a 426
 * needs an Upgrade field, which HTTP/2 forbids, RFC 9113 §8.2.2).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wsv.h"

#include "probe.h"

/* ---- sets of versions ---------------------------------------------------- */

static void probe_set_add(struct probe_set *s, int v) {
  if (v >= 0 && v <= 255)
    s->bits[(unsigned)v / 64] |= UINT64_C(1) << ((unsigned)v % 64);
}

int probe_set_has(const struct probe_set *s, int v) {
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

/* ---- reading the answer -------------------------------------------------- */

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

/* Join the values of every field named `name`, each cleaned to at most
 * piece-1 characters (probe_clean), with ", " into dst[0..cap), for
 * display.  Returns 1 if there is such a field, else 0 (dst is ""). */
static int probe_join_fields(const struct wsv_header *h, size_t n,
                             const char *name, size_t piece, char *dst,
                             size_t cap) {
  char c[160];
  int any = 0;
  if (piece > sizeof c)
    piece = sizeof c;
  dst[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (!wsv_str_ieq(h[i].name, name))
      continue;
    probe_clean(c, piece, h[i].value.ptr, h[i].value.len);
    probe_appendf(dst, cap, "%s%s", any ? ", " : "", c);
    any = 1;
  }
  return any;
}

/* Pull out what the grading needs from a parsed head. */
void probe_extract(struct probe_result *r) {
  const struct wsv_header *h = r->headers;
  size_t n = r->nheaders;
  struct wsv_str v;

  /* Sec-WebSocket-Version: every field, joined for display; each comma
   * list element checked against the ABNF. */
  r->has_list = probe_join_fields(h, n, "Sec-WebSocket-Version", 128,
                                  r->list_text, sizeof r->list_text);
  for (size_t i = 0; i < n && !r->list_bad; i++) {
    if (!wsv_str_ieq(h[i].name, "Sec-WebSocket-Version"))
      continue;
    /* An element list made empty by commas alone is not 1#version. */
    struct wsv_str f = h[i].value;
    size_t k = 0;
    while (k < f.len &&
           (f.ptr[k] == ',' || f.ptr[k] == ' ' || f.ptr[k] == '\t'))
      k++;
    if (k == f.len) {
      char c[128];
      probe_clean(c, sizeof c, f.ptr, f.len);
      r->list_bad = 1;
      snprintf(r->list_bad_elem, sizeof r->list_bad_elem, "%.36s", c);
    }
  }
  size_t pos = 0;
  struct wsv_str e;
  while (wsv_http_list_next(h, n, "Sec-WebSocket-Version", &pos, &e)) {
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
  r->has_upgrade =
      probe_join_fields(h, n, "Upgrade", 96, r->upgrade, sizeof r->upgrade);
  r->upgrade_names_ws = wsv_http_list_has(h, n, "Upgrade", "websocket");
  {
    size_t p2 = 0, count = 0;
    int first_ws = 0;
    while (wsv_http_list_next(h, n, "Upgrade", &p2, &e)) {
      if (count == 0)
        first_ws = wsv_str_ieq(e, "websocket");
      count++;
    }
    r->upgrade_is_ws = count == 1 && first_ws;
  }
  if (wsv_http_count(h, n, "Connection", &v) > 0) {
    r->has_connection = 1;
    probe_clean(r->connection, sizeof r->connection, v.ptr, v.len);
  }
  r->has_ext = probe_join_fields(h, n, "Sec-WebSocket-Extensions", 160, r->ext,
                                 sizeof r->ext);
  size_t na = wsv_http_count(h, n, "Sec-WebSocket-Accept", &v);
  if (na == 0)
    r->accept_state = 0;
  else if (na > 1)
    r->accept_state = 3;
  else if (v.len == 28 && memcmp(v.ptr, r->accept_want, 28) == 0)
    r->accept_state = 1;
  else
    r->accept_state = 2;
}

/* ---- grading ------------------------------------------------------------- */

/* Record a finding: the row's verdict is the worst finding, and its "why"
 * lists every finding of that level. */
static void probe_flag(struct probe_result *r, enum probe_verdict level,
                       const char *fmt, ...) WSV_PRINTF(3, 4);
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

/* Did the server accept the handshake: 101 on HTTP/1.1, any 2xx on
 * HTTP/2 (RFC 8441 §5; RFC 9110 §9.3.6 for CONNECT)? */
static int probe_accepted(const struct probe_result *r) {
  return r->h2 ? r->status >= 200 && r->status < 300 : r->status == 101;
}

/* A PASS explanation, used only when nothing worse was found. */
static void probe_pass(struct probe_result *r, const char *text) {
  if (r->why[0] == '\0') {
    r->verdict = PROBE_PASS;
    snprintf(r->why, sizeof r->why, "%s", text);
  }
}

/* Does every extension of the 101 name one we offered (at most one
 * permessage-deflate, when this probe offered it)?  Its parameters are
 * not graded. */
static int probe_ext_offered(const struct probe_result *r) {
  size_t pos = 0, count = 0;
  struct wsv_str e;
  while (wsv_http_list_next(r->headers, r->nheaders, "Sec-WebSocket-Extensions",
                            &pos, &e)) {
    size_t n = 0;
    while (n < e.len && e.ptr[n] != ';' && e.ptr[n] != ' ' && e.ptr[n] != '\t')
      n++;
    struct wsv_str name = {e.ptr, n};
    if (!r->offer_ext || !wsv_str_ieq(name, "permessage-deflate") ||
        ++count > 1)
      return 0;
  }
  return 1;
}

/* The checks of a 101 answer a client makes (RFC 6455 §4.1, steps 2-6),
 * and §11.3.5: Sec-WebSocket-Version belongs to error answers only. */
static void probe_grade_101(struct probe_result *r) {
  if (!r->has_upgrade)
    probe_flag(r, PROBE_FAIL, "101 without Upgrade (§4.1 step 2, §4.2.2)");
  else if (!r->upgrade_is_ws)
    probe_flag(r, PROBE_FAIL, "101 Upgrade is not \"websocket\" (§4.1 step 2)");
  if (!r->has_connection ||
      !wsv_http_list_has(r->headers, r->nheaders, "Connection", "upgrade"))
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
  if (wsv_http_count(r->headers, r->nheaders, "Sec-WebSocket-Protocol", NULL) >
      0)
    probe_flag(r, PROBE_FAIL,
               "101 names a subprotocol not offered (§4.1 step 6)");
  if (r->has_list)
    probe_flag(r, PROBE_WARN,
               "101 carries Sec-WebSocket-Version, an error-only field "
               "(§11.3.5)");
}

/* The checks of a 2xx answer to an extended CONNECT (RFC 8441 §5, which
 * keeps RFC 6455's rules for the Sec-WebSocket-* fields). */
static void probe_grade_200(struct probe_result *r) {
  if (r->status != 200)
    probe_flag(r, PROBE_WARN, "%d, not 200 (RFC 8441 §5)", r->status);
  if (!probe_ext_offered(r))
    probe_flag(r, PROBE_FAIL,
               "200 names an extension not offered (§4.1 step 5, "
               "RFC 8441 §5)");
  if (wsv_http_count(r->headers, r->nheaders, "Sec-WebSocket-Protocol", NULL) >
      0)
    probe_flag(r, PROBE_FAIL,
               "200 names a subprotocol not offered (§4.1 step 6, "
               "RFC 8441 §5)");
  if (r->has_list)
    probe_flag(r, PROBE_FAIL,
               "200 carries sec-websocket-version, an error-only field "
               "(§4.2.2, §11.3.5, RFC 8441 §5)");
}

/* A 426 must name the protocols to upgrade to (RFC 9110 §15.5.22);
 * `ref` ends the text of an Upgrade field without websocket. */
static void probe_grade_426(struct probe_result *r, const char *ref) {
  if (!r->has_upgrade)
    probe_flag(r, PROBE_FAIL, "426 without Upgrade (RFC 9110 §15.5.22)");
  else if (!r->upgrade_names_ws)
    probe_flag(r, PROBE_WARN, "426 Upgrade does not name websocket%s", ref);
}

/* The status of a refusal over HTTP/2: 400 (RFC 8441 §5 keeps §4.2.2's
 * "400 or 426"; a 426 needs an Upgrade field, forbidden on HTTP/2). */
static void probe_grade_h2_status(struct probe_result *r) {
  int s = r->status;
  if (s == 426)
    probe_flag(r, PROBE_WARN,
               "426 on HTTP/2, which has no Upgrade (RFC 9113 §8.2.2); "
               "400 (RFC 8441 §5)");
  else if (s >= 300 && s < 400)
    probe_flag(r, PROBE_WARN, "redirect instead of 400 (§4.2.2, RFC 8441 §5)");
  else if (s >= 500)
    probe_flag(r, PROBE_WARN,
               "server error %d instead of 400 (§4.2.2, RFC 8441 §5)", s);
  else if (s != 400)
    probe_flag(r, PROBE_WARN, "%d instead of 400 (§4.2.2, §4.4, RFC 8441 §5)",
               s);
}

/* The checks of an answer refusing the handshake.  `missing` is the level
 * of an answer without a Sec-WebSocket-Version list; `pass` explains a
 * refusal that passes them all. */
static void probe_grade_refusal(struct probe_result *r,
                                enum probe_verdict missing, const char *pass) {
  const struct probe_def *d = r->def;
  int s = r->status;
  if (r->h2)
    probe_grade_h2_status(r);
  else if (s < 200 || (s >= 200 && s < 300))
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

  if (s == 426 && !r->h2)
    probe_grade_426(r, " (RFC 9110 §15.5.22)");
  probe_pass(r, pass);
}

void probe_grade(struct probe_result *r, struct probe_summary *sum) {
  const struct probe_def *d = r->def;
  r->verdict = PROBE_PASS;
  r->why[0] = '\0';

  if (!r->answered) {
    if (d->kind == PROBE_PLAIN)
      probe_flag(r, PROBE_WARN, "%s (an HTTP server should answer)", r->error);
    else if (r->h2)
      probe_flag(r, PROBE_FAIL, "%s (MUST answer, §4.2.2, RFC 8441 §5)",
                 r->error);
    else
      probe_flag(r, PROBE_FAIL, "%s (MUST answer, §4.2.1, §4.2.2)", r->error);
    return;
  }

  int s = r->status;
  int ok = probe_accepted(r);
  switch (d->kind) {
  case PROBE_KNOWN:
    if (ok) {
      if (r->h2) {
        probe_grade_200(r);
        probe_pass(r, "200, no sec-websocket-version (RFC 8441 §5)");
      } else {
        probe_grade_101(r);
        probe_pass(r, "101, Accept right (§4.2.2)");
      }
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
      } else if (r->h2) {
        probe_flag(r, PROBE_FAIL,
                   "refused 13 after announcing extended CONNECT (RFC 8441 "
                   "§3, §5; §4.2.1)");
      } else {
        probe_flag(r, PROBE_FAIL,
                   "refused 13, RFC 6455's version (§4.1 item 9, §4.2.1)");
      }
    } else {
      char t[96];
      snprintf(t, sizeof t, "refused %d, listed versions (§4.4)", d->version);
      probe_grade_refusal(r, PROBE_FAIL, t);
    }
    break;
  case PROBE_UNSUPPORTED:
    if (ok) {
      probe_flag(r, PROBE_FAIL,
                 "%d for unknown version %d (MUST refuse, §4.2.2 /version/)",
                 s, d->version);
    } else {
      probe_grade_refusal(r, PROBE_FAIL,
                          s == 426 && !r->h2 ? "426, list, Upgrade (§4.2.2, §4.4, "
                                     "RFC 9110 §15.5.22)"
                                   : "refused, listed versions (§4.2.2, §4.4)");
    }
    break;
  case PROBE_NONE:
    if (ok) {
      probe_flag(r, PROBE_FAIL,
                 "%d without a version (MUST refuse, §4.2.1 item 6)", s);
    } else {
      probe_grade_refusal(r, PROBE_WARN,
                          "refused, listed versions (§4.2.1, §4.4)");
    }
    break;
  case PROBE_MALFORMED:
    if (ok) {
      probe_flag(r, PROBE_FAIL,
                 "%d to a bad version field (%s); MUST refuse, §4.2.1", s,
                 d->rule);
    } else {
      probe_grade_refusal(r, PROBE_FAIL,
                          "refused, listed versions (§4.2.1, §4.2.2)");
    }
    break;
  case PROBE_PLAIN:
    if (s == 101) {
      probe_flag(r, PROBE_FAIL,
                 "101 to a request without Upgrade (RFC 9110 §7.8)");
    } else if (s == 426) {
      probe_grade_426(r, "");
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
void probe_grade_summary(struct probe_result *rs, size_t n,
                         struct probe_summary *sum) {
  struct probe_result tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.verdict = PROBE_PASS;
  int differ = 0;
  for (size_t i = 0; i < n; i++) {
    struct probe_result *r = &rs[i];
    if (!r->answered || probe_accepted(r) || !r->has_list)
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
  const char *code = n > 0 && rs[0].h2 ? "200" : "101";
  if (nacc == 0)
    snprintf(sum->status_text, sizeof sum->status_text, "%s: none", code);
  else {
    snprintf(sum->status_text, sizeof sum->status_text, "%s: ", code);
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
      if (!r->answered || probe_accepted(r) || !r->has_list)
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
    if (r->def->kind != PROBE_KNOWN || !r->answered || probe_accepted(r))
      continue;
    if (probe_set_has(&sum->advertised, r->def->version))
      probe_flag(&tmp, PROBE_FAIL, "lists %d, refused it (§4.4)",
                 r->def->version);
  }
  if (probe_set_empty(&sum->accepted))
    probe_flag(&tmp, PROBE_FAIL, "accepted no version at all");
  if (differ)
    probe_flag(&tmp, PROBE_WARN, "answers list different versions");
  probe_pass(&tmp, n > 0 && rs[0].h2
                       ? "one list; 200 exactly for listed versions (§4.4)"
                       : "one list; 101 exactly for listed versions (§4.4)");
  sum->verdict = tmp.verdict;
  snprintf(sum->why, sizeof sum->why, "%s", tmp.why);
}
