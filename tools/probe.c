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
 * With --h2 the run is probe_h2.c's (WebSockets over HTTP/2, RFC 8441):
 * the same version rows on streams of one HTTP/2 connection.
 *
 * This file owns the command: its options, the table of probes, the run
 * in order and the exit status, and the text helpers the pieces share.
 * The network is probe_net.c's, the grading probe_grade.c's, the two
 * report formats probe_report.c's (probe.h between them).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsv.h"

#include "probe.h"
#include "wsv_tool.h"

static const char probe_usage[] =
    "usage: wsv probe [--json] [--timeout MS] [--no-deflate] [-v] URL\n"
    "       wsv probe --h2 [--cacert FILE | -k] [--json] [--timeout MS]\n"
    "                 [-v] URL\n"
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
    "With --h2, the same over HTTP/2 (RFC 8441): one connection, TLS with\n"
    "ALPN h2 for wss://, cleartext h2c with prior knowledge for ws://.\n"
    "Rows: the ALPN choice, the server's SETTINGS and its\n"
    "SETTINGS_ENABLE_CONNECT_PROTOCOL, an extended CONNECT per version\n"
    "(13, 8, 7, 99, none, 013, \"13, 8\", twice; each on its own stream:\n"
    "200 accepts, 400 with sec-websocket-version refuses), then on the\n"
    "version-13 stream a masked text and a masked binary frame (echo\n"
    "expected) and a Close (the server's Close and END_STREAM expected).\n"
    "No extension is offered over HTTP/2.\n"
    "\n"
    "  URL            ws://host[:port][/path][?query]; IPv6 as [::1];\n"
    "                 wss://... with --h2\n"
    "  --json         print one JSON object instead of the table\n"
    "  --timeout MS   time allowed per handshake (default 3000); with\n"
    "                 --h2, per step (connection, handshakes, frames)\n"
    "  --no-deflate   offer no extension\n"
    "  --h2           probe WebSockets over HTTP/2 (RFC 8441)\n"
    "  --cacert FILE  wss://: trust the CAs in FILE (PEM) instead of the\n"
    "                 system's store\n"
    "  -k, --insecure wss://: accept any certificate and host name\n"
    "  -v, --verbose  print each request and response head to stderr\n"
    "  -h, --help     print this help\n"
    "\n"
    "Exit status: 0 the server conforms (no FAIL), 1 it does not,\n"
    "2 usage error, server unreachable, or the URL refuses even a\n"
    "version-13 handshake for another reason (redirect, 401, 403, 404);\n"
    "with --h2 also 2 when the server does not speak HTTP/2 (ALPN picks\n"
    "http/1.1, or no SETTINGS after the h2c preface) or does not send\n"
    "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (no WebSockets over HTTP/2).\n";

/* ---- what is sent -------------------------------------------------------- */

const struct probe_def probe_defs[] = {
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

/* ---- text helpers -------------------------------------------------------- */

void probe_appendf(char *dst, size_t cap, const char *fmt, ...) {
  size_t used = strlen(dst);
  if (used + 1 >= cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst + used, cap - used, fmt, ap);
  va_end(ap);
}

void probe_clean(char *dst, size_t cap, const char *src, size_t len) {
  (void)wsv_str_escape(dst, cap, src, len, SIZE_MAX, WSV_ESCAPE_HEX);
}

/* ---- the command --------------------------------------------------------- */

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
  struct probe_opts o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
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
    } else if (strcmp(a, "--h2") == 0) {
      o.h2 = 1;
    } else if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0) {
      o.insecure = 1;
    } else if (strcmp(a, "--cacert") == 0 || strncmp(a, "--cacert=", 9) == 0) {
      const char *val = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (val == NULL || val[0] == '\0') {
        wsv_cli_say("probe", "--cacert needs a PEM file");
        return 2;
      }
      o.cacert = val;
    } else if (strcmp(a, "--timeout") == 0 ||
               strncmp(a, "--timeout=", 10) == 0) {
      const char *val =
          a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
      if (val == NULL || probe_parse_timeout(val, &o.timeout_ms) != 0) {
        wsv_cli_say("probe", "--timeout takes milliseconds, 1 to 600000");
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
  if ((o.insecure || o.cacert != NULL) && !o.h2) {
    wsv_cli_say("probe", "--cacert and --insecure go with --h2 and wss://");
    return 2;
  }
  if (o.insecure && o.cacert != NULL) {
    wsv_cli_say("probe", "--cacert and --insecure exclude each other");
    return 2;
  }

  static struct probe_target t;
  memset(&t, 0, sizeof t);
  char err[200];
  if (probe_target_open(&t, o.url, o.h2, err, sizeof err) != 0) {
    probe_fatal(&o, err);
    return 2;
  }
  if (o.h2) {
    int rc = probe_h2_main(&o, &t);
    probe_target_close(&t);
    return rc;
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
      probe_target_close(&t);
      return 2;
    }
    probe_grade(&rs[i], &sum);
  }
  probe_target_close(&t);
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
