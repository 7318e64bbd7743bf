/*
 * probe_report.c - the two report formats of `wsv probe`: the table (a
 * row per probe, the "versions" row, the answer bodies, the extensions
 * and the verdict line) and the JSON object (--json), and the message of
 * a run where nothing could be judged.
 */
#include <stdio.h>
#include <string.h>

#include "wsv.h"

#include "probe.h"

static const char *const probe_verdict_names[] = {"PASS", "WARN", "FAIL",
                                                  "N/A"};

const char *probe_verdict_name(enum probe_verdict v) {
  return probe_verdict_names[v];
}

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

void probe_print_table(const struct probe_opts *o, const struct probe_target *t,
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

/* probe_json_str: server bytes were cleaned to
 * printable ASCII already; our own texts hold one UTF-8 character, the
 * section sign, written as \u00a7; any other byte above 0x7f (from the
 * command line) is written as the Latin-1 character of that value. */
void probe_json_str(const char *s) {
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

/* A probe's JSON object opened with its name and the version values it
 * sent: `    {"name": ..., "sent": [...]`. */
static void probe_json_name_sent(const struct probe_def *d) {
  printf("    {\"name\": ");
  probe_json_str(d->name);
  printf(", \"sent\": [");
  for (size_t k = 0; k < 3 && d->values[k] != NULL; k++) {
    if (k)
      printf(", ");
    probe_json_str(d->values[k]);
  }
  printf("]");
}

static void probe_json_ints(const int *v, size_t n) {
  putchar('[');
  for (size_t i = 0; i < n; i++)
    printf("%s%d", i ? ", " : "", v[i]);
  putchar(']');
}

void probe_print_json(const struct probe_opts *o, const struct probe_target *t,
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
    probe_json_name_sent(d);
    printf(", \"upgrade_request\": %s,\n     \"connected\": %s, ",
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

void probe_fatal(const struct probe_opts *o, const char *msg) {
  wsv_cli_say("probe", "%s", msg);
  if (o->json) {
    printf("{\"url\": ");
    probe_json_str(o->url ? o->url : "");
    printf(", \"error\": ");
    probe_json_str(msg);
    printf("}\n");
  }
}

/* ---- the HTTP/2 report (--h2) -------------------------------------------- */

/* One row of the HTTP/2 table. */
struct probe_h2_row {
  const char *name;
  char sent[64];
  char status[96];
  char list[96];
  enum probe_verdict verdict;
  const char *why;
};

/* The rows in print order: the connection checks, the handshakes and the
 * "versions" row, the frames.  Returns how many (at most `cap`). */
static size_t probe_h2_rows(const struct probe_h2_report *h,
                            struct probe_h2_row *rows, size_t cap) {
  size_t n = 0;
  for (int part = 0; part < 3; part++) {
    if (part == 1) {
      for (size_t i = 0; i <= h->nrs && h->nrs > 0 && n < cap; i++) {
        struct probe_h2_row *w = &rows[n++];
        if (i < h->nrs) {
          const struct probe_result *r = &h->rs[i];
          w->name = r->def->name;
          snprintf(w->sent, sizeof w->sent, "%s", r->def->shown);
          if (r->answered)
            snprintf(w->status, sizeof w->status, "%d", r->status);
          else
            snprintf(w->status, sizeof w->status, "(no answer)");
          snprintf(w->list, sizeof w->list, "%.95s",
                   r->answered && r->has_list ? r->list_text : "-");
          w->verdict = r->verdict;
          w->why = r->why;
        } else {
          w->name = "versions";
          snprintf(w->sent, sizeof w->sent, "-");
          snprintf(w->status, sizeof w->status, "%.63s", h->sum->status_text);
          snprintf(w->list, sizeof w->list, "%.95s",
                   h->sum->nlists ? h->sum->list_text : "-");
          w->verdict = h->sum->verdict;
          w->why = h->sum->why;
        }
      }
      continue;
    }
    size_t from = part == 0 ? PROBE_H2_ALPN : PROBE_H2_TEXT;
    size_t to = part == 0 ? PROBE_H2_TEXT : PROBE_H2_CHECKS;
    for (size_t i = from; i < to && n < cap; i++) {
      const struct probe_check *k = &h->checks[i];
      if (!k->run)
        continue;
      struct probe_h2_row *w = &rows[n++];
      w->name = k->name;
      snprintf(w->sent, sizeof w->sent, "%s", k->sent);
      snprintf(w->status, sizeof w->status, "%s", k->got);
      snprintf(w->list, sizeof w->list, "-");
      w->verdict = k->verdict;
      w->why = k->why;
    }
  }
  return n;
}

void probe_h2_print_table(const struct probe_opts *o,
                          const struct probe_target *t,
                          const struct probe_h2_report *h) {
  enum { COLS = 6, MAXROWS = PROBE_H2_CHECKS + PROBE_H2_COUNT + 1 };
  static const char *const titles[COLS] = {
      "probe", "sent", "status", "sec-websocket-version", "verdict", "why"};
  struct probe_h2_row rows[MAXROWS];
  size_t n = probe_h2_rows(h, rows, MAXROWS);
  size_t w[COLS - 1];
  for (size_t c = 0; c + 1 < COLS; c++)
    w[c] = strlen(titles[c]);
  for (size_t i = 0; i < n; i++) {
    const char *cells[COLS - 1] = {rows[i].name, rows[i].sent, rows[i].status,
                                   rows[i].list,
                                   probe_verdict_names[rows[i].verdict]};
    for (size_t c = 0; c + 1 < COLS; c++)
      if (strlen(cells[c]) > w[c])
        w[c] = strlen(cells[c]);
  }
  printf("wsv probe --h2 %s (%s, %s), %d ms per step\n", o->url,
         t->addr_text[0] ? t->addr_text : "?", t->secure ? "TLS" : "h2c",
         o->timeout_ms);
  printf("(a bare \xc2\xa7 is RFC 6455, which RFC 8441 \xc2\xa7"
         "5 applies to HTTP/2)\n\n");
  for (size_t c = 0; c + 1 < COLS; c++)
    printf("%-*s  ", (int)w[c], titles[c]);
  printf("%s\n", titles[COLS - 1]);
  for (size_t i = 0; i < n; i++) {
    const char *cells[COLS - 1] = {rows[i].name, rows[i].sent, rows[i].status,
                                   rows[i].list,
                                   probe_verdict_names[rows[i].verdict]};
    for (size_t c = 0; c + 1 < COLS; c++)
      printf("%-*s  ", (int)w[c], cells[c]);
    printf("%s\n", rows[i].why);
  }
  if (h->v13_headers[0] != '\0')
    printf("\nv13 answer: %s\n", h->v13_headers);
  int bodies = 0;
  for (size_t i = 0; i < h->nrs; i++) {
    const struct probe_result *r = &h->rs[i];
    if (r->answered && r->body[0] != '\0' &&
        !(r->status >= 200 && r->status < 300)) {
      if (!bodies++)
        printf("\nanswer bodies:\n");
      printf("  %-*s  %s\n", (int)w[0], r->def->name, r->body);
    }
  }
  printf("\n");
  if (h->unknown)
    printf("conformant: unknown \xe2\x80\x94 %s\n", h->unknown_why);
  else
    printf("conformant: %s \xe2\x80\x94 %u pass, %u warn, %u fail\n",
           h->sum->fail ? "no" : "yes", h->sum->pass, h->sum->warn,
           h->sum->fail);
}

void probe_h2_print_json(const struct probe_opts *o,
                         const struct probe_target *t,
                         const struct probe_h2_report *h) {
  printf("{\n  \"url\": ");
  probe_json_str(o->url);
  printf(",\n  \"address\": ");
  probe_json_str(t->addr_text);
  printf(",\n  \"http2\": true, \"tls\": %s, \"timeout_ms\": %d,\n",
         t->secure ? "true" : "false", o->timeout_ms);
  printf("  \"checks\": [\n");
  int first = 1;
  for (size_t i = 0; i < PROBE_H2_CHECKS; i++) {
    const struct probe_check *k = &h->checks[i];
    if (!k->run)
      continue;
    printf("%s    {\"name\": ", first ? "" : ",\n");
    first = 0;
    probe_json_str(k->name);
    printf(", \"sent\": ");
    probe_json_str(k->sent);
    printf(", \"got\": ");
    probe_json_str(k->got);
    printf(", \"verdict\": \"%s\", \"why\": ", probe_verdict_names[k->verdict]);
    probe_json_str(k->why);
    printf("}");
  }
  printf("\n  ],\n  \"probes\": [\n");
  for (size_t i = 0; i < h->nrs; i++) {
    const struct probe_result *r = &h->rs[i];
    const struct probe_def *d = r->def;
    probe_json_name_sent(d);
    printf(", ");
    probe_json_opt("error", r->error[0] != '\0', r->error);
    if (r->answered) {
      printf(", \"status\": %d,\n     \"headers\": [", r->status);
      for (size_t k = 0; k < r->nheaders; k++) {
        char nm[64], v[160];
        probe_clean(nm, sizeof nm, r->headers[k].name.ptr,
                    r->headers[k].name.len);
        probe_clean(v, sizeof v, r->headers[k].value.ptr,
                    r->headers[k].value.len);
        printf("%s[", k ? ", " : "");
        probe_json_str(nm);
        printf(", ");
        probe_json_str(v);
        printf("]");
      }
      printf("],\n     ");
      probe_json_opt("sec_websocket_version", r->has_list, r->list_text);
      printf(", \"versions\": ");
      if (r->has_list)
        probe_json_ints(r->versions, r->nversions);
      else
        fputs("null", stdout);
      printf(", ");
      probe_json_opt("body", r->body[0] != '\0', r->body);
    } else {
      printf(", \"status\": null");
    }
    printf(",\n     \"verdict\": \"%s\", \"why\": ",
           probe_verdict_names[r->verdict]);
    probe_json_str(r->why);
    printf("}%s\n", i + 1 < h->nrs ? "," : "");
  }
  printf("  ],\n  \"versions\": ");
  if (h->nrs == 0) {
    fputs("null", stdout);
  } else {
    printf("{\"accepted\": [");
    static const int known[3] = {13, 8, 7};
    int f = 1;
    for (size_t k = 0; k < 3; k++)
      if (probe_set_has(&h->sum->accepted, known[k])) {
        printf("%s%d", f ? "" : ", ", known[k]);
        f = 0;
      }
    printf("], \"advertised\": ");
    if (h->sum->nlists)
      probe_json_ints(h->sum->advertised_order, h->sum->nadvertised);
    else
      fputs("null", stdout);
    printf(", \"verdict\": \"%s\", \"why\": ",
           probe_verdict_names[h->sum->verdict]);
    probe_json_str(h->sum->why);
    printf("}");
  }
  printf(",\n  \"summary\": {\"conformant\": %s, \"pass\": %u, "
         "\"warn\": %u, \"fail\": %u",
         h->sum->fail ? "false" : (h->unknown ? "null" : "true"), h->sum->pass,
         h->sum->warn, h->sum->fail);
  if (h->unknown) {
    printf(", \"inconclusive\": ");
    probe_json_str(h->unknown_why);
  }
  printf("}\n}\n");
}
