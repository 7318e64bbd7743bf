/* probe.h - the parts of `wsv probe` shared by its source files: what a
 * probe sends (the table of probes, probe.c), what came back and how it
 * was graded (struct probe_result, filled by probe_net.c and graded by
 * probe_grade.c), the target, and the report formats (probe_report.c). */
#ifndef WSV_PROBE_H
#define WSV_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "wsv.h"

#include "cli.h"

struct addrinfo;

#define PROBE_HEAD_MAX 8192
#define PROBE_BODY_MAX 1024
#define PROBE_MAX_HEADERS 100
#define PROBE_DEFAULT_TIMEOUT_MS 3000
/* How long to wait for a body that has no Content-Length (read to EOF). */
#define PROBE_BODY_GRACE_MS 300
/* The extension offer of the version-13 probe (what browsers send). */
#define PROBE_EXT_OFFER "permessage-deflate; client_max_window_bits"

/* ---- what is sent -------------------------------------------------------- */

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

/* The probes, in the order they run (probe.c). */
#define PROBE_COUNT 9u
extern const struct probe_def probe_defs[PROBE_COUNT];

/* ---- what came back ------------------------------------------------------ */

enum probe_verdict { PROBE_PASS, PROBE_WARN, PROBE_FAIL, PROBE_NA };

/* A set of versions 0..255. */
struct probe_set {
  uint64_t bits[4];
};

struct probe_result {
  const struct probe_def *def;
  int h2;          /* over HTTP/2 (RFC 8441): 2xx accepts, 400 refuses */
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
  int accept_state; /* 0 absent, 1 right, 2 wrong, 3 repeated (HTTP/1.1) */
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
  int secure;         /* wss:// (only with --h2) */
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
  int h2;             /* --h2: probe WebSockets over HTTP/2 (probe_h2.c) */
  int insecure;       /* -k, --insecure: accept any certificate (wss://) */
  const char *cacert; /* --cacert FILE: trust these CAs (wss://), or NULL */
};

/* ---- probe.c: text helpers ----------------------------------------------- */

/* probe_appendf - append formatted text to dst (NUL-terminated, capacity
 * cap), truncating quietly. */
void probe_appendf(char *dst, size_t cap, const char *fmt, ...)
    WSV_PRINTF(3, 4);

/* probe_clean - copy bytes from the network into dst as printable ASCII
 * (the core's wsv_str_escape with WSV_ESCAPE_HEX): other bytes become
 * \xNN, '"' and '\' are escaped; the copy ends with "..." when it does not
 * fit. */
void probe_clean(char *dst, size_t cap, const char *src, size_t len);

/* ---- probe_net.c: the target and the network ----------------------------- */

/* probe_target_open - parse the URL into *t (zeroed by the caller) and
 * resolve its host: ws:// only, or also wss:// when allow_wss (--h2).  0,
 * or -1 with a one-line reason in err[0..cap). */
int probe_target_open(struct probe_target *t, const char *url, int allow_wss,
                      char *err, size_t cap);

/* probe_target_close - release what probe_target_open resolved. */
void probe_target_close(struct probe_target *t);

/* probe_now_ms - the monotonic clock in milliseconds. */
long long probe_now_ms(void);

/* probe_left_ms - milliseconds left until `deadline` (probe_now_ms time),
 * 0 when it has passed; for poll(). */
int probe_left_ms(long long deadline);

/* probe_connect - a TCP connection to the first of t's addresses that
 * answers before `deadline`; t->addr_text names it.  Returns the socket
 * (non-blocking, the caller closes it), or -1 with a one-line reason in
 * err[0..errcap). */
int probe_connect(struct probe_target *t, long long deadline, char *err,
                  size_t errcap);

/* probe_body_line - the first non-empty line of r's body (r->buf from
 * r->head_len to r->len) into r->body, if the answer's Content-Type is
 * text/plain or absent. */
void probe_body_line(struct probe_result *r);

/* probe_run - run one probe (r->def, r->offer_ext set): connect, send,
 * read the head and a short body, extract the fields.  Returns 0, or -1
 * when the connection could not be made (r->error says why). */
int probe_run(struct probe_result *r, struct probe_target *t,
              const struct probe_opts *o);

/* ---- probe_grade.c: reading and grading the answers ---------------------- */

/* probe_set_has - is v (0..255) in the set? */
int probe_set_has(const struct probe_set *s, int v);

/* probe_extract - pull out what the grading needs from a parsed head
 * (r->headers, r->nheaders, r->accept_want). */
void probe_extract(struct probe_result *r);

/* probe_grade - grade one answer; a version-13 refusal that makes the run
 * inconclusive, and the versions accepted, go into *sum. */
void probe_grade(struct probe_result *r, struct probe_summary *sum);

/* probe_grade_summary - the "versions" row, from all the answers. */
void probe_grade_summary(struct probe_result *rs, size_t n,
                         struct probe_summary *sum);

/* ---- probe_report.c: the report formats ---------------------------------- */

/* probe_print_table - the report as a table on stdout. */
void probe_print_table(const struct probe_opts *o, const struct probe_target *t,
                       struct probe_result *rs, size_t n,
                       const struct probe_summary *sum);

/* probe_print_json - the report as one JSON object on stdout. */
void probe_print_json(const struct probe_opts *o, const struct probe_target *t,
                      struct probe_result *rs, size_t n,
                      const struct probe_summary *sum);

/* probe_verdict_name - "PASS", "WARN", "FAIL" or "N/A". */
const char *probe_verdict_name(enum probe_verdict v);

/* probe_json_str - write s to stdout as a JSON string of ASCII only (the
 * section sign as \u00a7). */
void probe_json_str(const char *s);

/* probe_fatal - nothing can be judged: msg on stderr (and with --json, an
 * object holding it on stdout). */
void probe_fatal(const struct probe_opts *o, const char *msg);

/* ---- probe_h2.c: --h2, WebSockets over HTTP/2 (RFC 8441) ---------------- */

/* The rows of an HTTP/2 run that are not a handshake. */
enum probe_h2_check_id {
  PROBE_H2_ALPN,     /* "alpn" (TLS) or "preface" (h2c) */
  PROBE_H2_SETTINGS, /* the server's SETTINGS frame */
  PROBE_H2_ECP,      /* SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 */
  PROBE_H2_TEXT,     /* masked text frame on the version-13 stream */
  PROBE_H2_BINARY,   /* masked binary frame */
  PROBE_H2_CLOSE,    /* Close, the server's Close and END_STREAM */
  PROBE_H2_CHECKS
};

struct probe_check {
  const char *name;
  int run;       /* 0: not reached (not printed) */
  char sent[64]; /* what was sent or offered */
  char got[96];  /* what came back */
  enum probe_verdict verdict;
  char why[240];
};

/* The version rows over HTTP/2: probe_defs[0 .. PROBE_H2_COUNT) (no
 * plain GET). */
#define PROBE_H2_COUNT 8u

/* What an HTTP/2 run found, for the report (probe_report.c). */
struct probe_h2_report {
  struct probe_check checks[PROBE_H2_CHECKS];
  struct probe_result *rs; /* PROBE_H2_COUNT rows, or none when nrs is 0 */
  size_t nrs;
  struct probe_summary *sum;
  int unknown; /* nothing to judge: exit 2 */
  char unknown_why[240];
  char v13_headers[600]; /* the version-13 answer's fields, for display */
};

/* probe_h2_print_table, probe_h2_print_json - the HTTP/2 report on
 * stdout (probe_report.c). */
void probe_h2_print_table(const struct probe_opts *o,
                          const struct probe_target *t,
                          const struct probe_h2_report *h);
void probe_h2_print_json(const struct probe_opts *o,
                         const struct probe_target *t,
                         const struct probe_h2_report *h);

/* probe_h2_main - the whole `wsv probe --h2` run against t (opened by
 * probe_target_open): one HTTP/2 connection (TLS with ALPN h2 for wss://,
 * prior knowledge h2c for ws://), the report on stdout, and the exit
 * status: 0 conforms, 1 does not, 2 nothing to judge (unreachable, no
 * HTTP/2, no SETTINGS_ENABLE_CONNECT_PROTOCOL, or version 13 refused for
 * another reason). */
int probe_h2_main(const struct probe_opts *o, struct probe_target *t);

#endif
