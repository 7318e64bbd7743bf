/*
 * deflate_test.c - permessage-deflate (RFC 7692): the element parser and
 * negotiation helpers (src/deflate.c), the server's and the client's
 * handshake rules, compression through a pair of connections (every
 * window size, context takeover on and off, sizes 0 B..1 MiB, fragments,
 * every split), the RFC 7692 §7.2.3 examples, decompression bombs,
 * corrupt data, RSV1 rules, UTF-8 after inflation, memory per connection
 * and allocation failure at every N.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "support/conn_util.h"

#define S WSV_ROLE_SERVER
#define C WSV_ROLE_CLIENT

/* ---- the element parser -------------------------------------------------- */

struct prow {
  const char *in;
  int rc; /* 1, 0 or WSV_ERR_HS_EXTENSION */
  int snct, cnct, smwb, cmwb;
};

static const struct prow parse_rows[] = {
    {"permessage-deflate", 1, 0, 0, 0, 0},
    {"  permessage-deflate  ", 1, 0, 0, 0, 0},
    {"permessage-deflate; server_no_context_takeover", 1, 1, 0, 0, 0},
    {"permessage-deflate;client_no_context_takeover", 1, 0, 1, 0, 0},
    {"permessage-deflate; server_max_window_bits=8", 1, 0, 0, 8, 0},
    {"permessage-deflate; server_max_window_bits=9", 1, 0, 0, 9, 0},
    {"permessage-deflate; server_max_window_bits=15", 1, 0, 0, 15, 0},
    {"permessage-deflate; client_max_window_bits", 1, 0, 0, 0, -1},
    {"permessage-deflate; client_max_window_bits=8", 1, 0, 0, 0, 8},
    {"permessage-deflate; client_max_window_bits=12", 1, 0, 0, 0, 12},
    {"permessage-deflate; client_max_window_bits=\"10\"", 1, 0, 0, 0, 10},
    {"permessage-deflate; client_max_window_bits=\"1\\0\"", 1, 0, 0, 0, 10},
    {"permessage-deflate ; client_max_window_bits = 10 ", 1, 0, 0, 0, 10},
    {"permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; server_max_window_bits=10; "
     "client_max_window_bits=11",
     1, 1, 1, 10, 11},
    /* Other extensions, well-formed. */
    {"x-webkit-deflate-frame", 0, 0, 0, 0, 0},
    {"Permessage-Deflate", 0, 0, 0, 0, 0},
    {"foo; bar=\"ab\"; baz", 0, 0, 0, 0, 0},
    {"foo; bar=\"a,b\"", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"", 0, 0, 0, 0, 0},
    {"   ", 0, 0, 0, 0, 0},
    /* Invalid permessage-deflate elements (A30, A31). */
    {"permessage-deflate; foo=1", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; foo", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; Server_no_context_takeover", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; server_no_context_takeover; "
     "server_no_context_takeover",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; client_no_context_takeover; "
     "client_no_context_takeover",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; server_no_context_takeover=1", WSV_ERR_HS_EXTENSION,
     0, 0, 0, 0},
    {"permessage-deflate; client_no_context_takeover=\"x\"",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; server_max_window_bits", WSV_ERR_HS_EXTENSION, 0, 0,
     0, 0},
    {"permessage-deflate; server_max_window_bits=7", WSV_ERR_HS_EXTENSION, 0, 0,
     0, 0},
    {"permessage-deflate; server_max_window_bits=16", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; server_max_window_bits=08", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; server_max_window_bits=\"\"", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; server_max_window_bits=abc", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; server_max_window_bits=", WSV_ERR_HS_EXTENSION, 0, 0,
     0, 0},
    {"permessage-deflate; server_max_window_bits=100000000000",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; client_max_window_bits; client_max_window_bits",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; client_max_window_bits=8; client_max_window_bits",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; client_max_window_bits=16", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; client_max_window_bits=0", WSV_ERR_HS_EXTENSION, 0, 0,
     0, 0},
    {"permessage-deflate; client_max_window_bits=\"10", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; client_max_window_bits=\"1 0\"", WSV_ERR_HS_EXTENSION,
     0, 0, 0, 0},
    {"permessage-deflate;", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate x", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"; permessage-deflate", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"foo; a=\"\\", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
};

static void test_parse(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof parse_rows / sizeof parse_rows[0]; i++) {
    const struct prow *r = &parse_rows[i];
    struct wsv_pmd_offer o;
    const char *why = NULL;
    int rc;

    memset(&o, 0x5a, sizeof o);
    rc = wsv_pmd_parse(r->in, strlen(r->in), &o, &why);
    if (rc != r->rc)
      fail_msg("%s: got %d, want %d (%s)", r->in, rc, r->rc, why);
    assert_non_null(why);
    if (rc < 0)
      assert_true(why[0] != '\0');
    if (rc != 1)
      continue;
    assert_int_equal(o.server_no_context_takeover, r->snct);
    assert_int_equal(o.client_no_context_takeover, r->cnct);
    assert_int_equal(o.server_max_window_bits, r->smwb);
    assert_int_equal(o.client_max_window_bits, r->cmwb);
  }
  assert_int_equal(wsv_pmd_parse(NULL, 1, NULL, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_pmd_parse(NULL, 0, NULL, NULL), 0);
}

/* A28/A29: long inputs are parsed in linear time (this would take
 * minutes if any step were quadratic). */
static void test_parse_linear(void **state) {
  size_t n = 1 << 20, i;
  char *s = malloc(n + 64);
  struct wsv_pmd_params p;

  (void)state;
  assert_non_null(s);
  memcpy(s, "a; b=\"", 6);
  for (i = 6; i < n; i += 2)
    memcpy(s + i, "\\c", 2);
  assert_int_equal(wsv_pmd_parse(s, n, NULL, NULL), WSV_ERR_HS_EXTENSION);
  for (i = 0; i + 3 <= n; i += 3)
    memcpy(s + i, "a, ", 3);
  assert_int_equal(wsv_pmd_select(s, i, WSV_PMD_ON, &p, NULL), 0);
  memcpy(s + i, "permessage-deflate", 18);
  assert_int_equal(wsv_pmd_select(s, i + 18, WSV_PMD_ON, &p, NULL), 1);
  free(s);
}

/* ---- the server's choice ------------------------------------------------- */

struct srow {
  int policy;
  const char *offers; /* the Sec-WebSocket-Extensions value */
  const char *answer; /* "" when nothing is agreed */
};

static const struct srow select_rows[] = {
    /* ON: client_max_window_bits=13 only when the offer holds it. */
    {WSV_PMD_ON, "permessage-deflate", "permessage-deflate"},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits",
     "permessage-deflate; client_max_window_bits=13"},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits=10",
     "permessage-deflate; client_max_window_bits=10"},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits=\"10\"",
     "permessage-deflate; client_max_window_bits=10"},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits=13",
     "permessage-deflate; client_max_window_bits=13"},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits=14",
     "permessage-deflate; client_max_window_bits=13"},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits=15",
     "permessage-deflate; client_max_window_bits=13"},
    {WSV_PMD_ON,
     "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
     "permessage-deflate; server_max_window_bits=10; "
     "client_max_window_bits=13"},
    /* MAX: windows as offered. */
    {WSV_PMD_MAX, "permessage-deflate", "permessage-deflate"},
    {WSV_PMD_MAX, "permessage-deflate; client_max_window_bits",
     "permessage-deflate"},
    {WSV_PMD_MAX, "permessage-deflate; client_max_window_bits=15",
     "permessage-deflate"},
    {WSV_PMD_MAX, "permessage-deflate; client_max_window_bits=10",
     "permessage-deflate; client_max_window_bits=10"},
    {WSV_PMD_MAX, "permessage-deflate; server_max_window_bits=8", ""},
    {WSV_PMD_ON, "permessage-deflate; client_max_window_bits=8",
     "permessage-deflate; client_max_window_bits=8"},
    /* A32: our compressor cannot do 8: that offer is declined. */
    {WSV_PMD_ON, "permessage-deflate; server_max_window_bits=8", ""},
    {WSV_PMD_ON,
     "permessage-deflate; server_max_window_bits=8, permessage-deflate; "
     "server_max_window_bits=9",
     "permessage-deflate; server_max_window_bits=9"},
    {WSV_PMD_ON, "permessage-deflate; server_max_window_bits=15",
     "permessage-deflate; server_max_window_bits=15"},
    {WSV_PMD_ON, "permessage-deflate; server_max_window_bits=12",
     "permessage-deflate; server_max_window_bits=12"},
    {WSV_PMD_ON, "permessage-deflate; server_no_context_takeover",
     "permessage-deflate; server_no_context_takeover"},
    {WSV_PMD_ON, "permessage-deflate; client_no_context_takeover",
     "permessage-deflate; client_no_context_takeover"},
    /* Invalid offers are skipped; the first acceptable one wins. */
    {WSV_PMD_ON, "permessage-deflate; foo=1", ""},
    {WSV_PMD_ON,
     "permessage-deflate; foo=1, permessage-deflate; "
     "client_no_context_takeover",
     "permessage-deflate; client_no_context_takeover"},
    {WSV_PMD_ON,
     "permessage-deflate; server_max_window_bits=16, permessage-deflate; "
     "server_max_window_bits=08, permessage-deflate; server_max_window_bits, "
     "permessage-deflate; server_max_window_bits=10, permessage-deflate",
     "permessage-deflate; server_max_window_bits=10"},
    {WSV_PMD_ON, "x-webkit-deflate-frame, permessage-deflate",
     "permessage-deflate"},
    {WSV_PMD_ON, "foo; a=\"x,permessage-deflate\"", ""},
    {WSV_PMD_ON, "foo; a=\"x,y\", permessage-deflate", "permessage-deflate"},
    {WSV_PMD_ON, ",, ,permessage-deflate,", "permessage-deflate"},
    {WSV_PMD_ON, "", ""},
    /* Policies. */
    {WSV_PMD_OFF, "permessage-deflate", ""},
    {WSV_PMD_LEAN, "permessage-deflate",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover"},
    {WSV_PMD_LEAN, "permessage-deflate; client_max_window_bits=12",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; client_max_window_bits=12"},
    {WSV_PMD_LEAN, "permessage-deflate; server_max_window_bits=8", ""},
};

static void test_select(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof select_rows / sizeof select_rows[0]; i++) {
    const struct srow *r = &select_rows[i];
    struct wsv_pmd_params p;
    struct wsv_pmd_offer o;
    char ans[WSV_PMD_FORMAT_MAX + 1];
    int rc = wsv_pmd_select(r->offers, strlen(r->offers), r->policy, &p, &o);

    assert_true(rc == 0 || rc == 1);
    if (rc == 1)
      (void)wsv_pmd_format_response(&p, &o, ans, sizeof ans);
    else
      ans[0] = '\0';
    if (strcmp(ans, r->answer) != 0)
      fail_msg("%d \"%s\": got \"%s\", want \"%s\"", r->policy, r->offers, ans,
               r->answer);
    if (rc == 1) {
      /* The answer re-parses as one valid element. */
      assert_int_equal(wsv_pmd_parse(ans, strlen(ans), &o, NULL), 1);
    }
  }
  assert_int_equal(wsv_pmd_select("x", 1, 7, NULL, NULL), WSV_ERR_INVAL);
}

static void test_negotiate_values(void **state) {
  struct wsv_pmd_offer o;
  struct wsv_pmd_params p;
  char buf[8];

  (void)state;
  memset(&o, 0, sizeof o);
  o.client_max_window_bits = 9;
  o.server_max_window_bits = 11;
  assert_int_equal(wsv_pmd_negotiate(&o, WSV_PMD_ON, &p), 1);
  assert_int_equal(p.enabled, 1);
  assert_int_equal(p.server_max_window_bits, 11);
  assert_int_equal(p.client_max_window_bits, 9);
  assert_int_equal(p.server_no_context_takeover, 0);
  assert_int_equal(p.client_no_context_takeover, 0);
  assert_int_equal(wsv_pmd_negotiate(&o, 4, &p), WSV_ERR_INVAL);
  assert_int_equal(wsv_pmd_negotiate(&o, -1, &p), WSV_ERR_INVAL);
  assert_int_equal(wsv_pmd_negotiate(NULL, WSV_PMD_ON, &p), WSV_ERR_INVAL);
  /* snprintf-style formatting. */
  assert_int_equal(wsv_pmd_format_response(&p, &o, buf, sizeof buf),
                   strlen("permessage-deflate; server_max_window_bits=11; "
                          "client_max_window_bits=9"));
  assert_string_equal(buf, "permess");
  assert_int_equal(wsv_pmd_format_response(&p, &o, NULL, 0), 71);
  memset(&p, 0, sizeof p);
  assert_int_equal(wsv_pmd_format_offer(&p, NULL, 0),
                   strlen("permessage-deflate; client_max_window_bits"));
  p.server_no_context_takeover = 1;
  p.client_no_context_takeover = 1;
  p.server_max_window_bits = 10;
  p.client_max_window_bits = 9;
  {
    char off[WSV_PMD_FORMAT_MAX + 1];
    (void)wsv_pmd_format_offer(&p, off, sizeof off);
    assert_string_equal(off, "permessage-deflate; client_max_window_bits=9; "
                             "server_no_context_takeover; "
                             "client_no_context_takeover; "
                             "server_max_window_bits=10");
  }
}

/* ---- the client's check -------------------------------------------------- */

struct crow {
  const char *offer; /* our offer */
  const char *resp;  /* the server's element */
  int rc;
  int snct, cnct, smwb, cmwb;
};

static const struct crow check_rows[] = {
    {"permessage-deflate; client_max_window_bits", "permessage-deflate", 0, 0,
     0, 15, 15},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; server_no_context_takeover", 0, 1, 0, 15, 15},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; client_no_context_takeover", 0, 0, 1, 15, 15},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; client_max_window_bits=10", 0, 0, 0, 15, 10},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; client_max_window_bits=8", 0, 0, 0, 15, 8},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; client_max_window_bits", WSV_ERR_HS_EXTENSION, 0, 0,
     0, 0},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; server_max_window_bits=12", 0, 0, 0, 12, 15},
    {"permessage-deflate; client_max_window_bits",
     "permessage-deflate; server_max_window_bits=8", 0, 0, 0, 8, 15},
    {"permessage-deflate", "permessage-deflate; client_max_window_bits=10",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; server_max_window_bits=10",
     "permessage-deflate; server_max_window_bits=10", 0, 0, 0, 10, 15},
    {"permessage-deflate; server_max_window_bits=10",
     "permessage-deflate; server_max_window_bits=9", 0, 0, 0, 9, 15},
    {"permessage-deflate; server_max_window_bits=10",
     "permessage-deflate; server_max_window_bits=11", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0},
    {"permessage-deflate; server_max_window_bits=10", "permessage-deflate",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; server_no_context_takeover", "permessage-deflate",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0},
    {"permessage-deflate; server_no_context_takeover",
     "permessage-deflate; server_no_context_takeover", 0, 1, 0, 15, 15},
    {"permessage-deflate; client_no_context_takeover", "permessage-deflate", 0,
     0, 1, 15, 15},
    {"permessage-deflate; client_max_window_bits=10",
     "permessage-deflate; client_max_window_bits=12", 0, 0, 0, 15, 10},
    {"permessage-deflate; client_max_window_bits=10",
     "permessage-deflate; client_max_window_bits=9", 0, 0, 0, 15, 9},
    {"permessage-deflate; client_max_window_bits=10", "permessage-deflate", 0,
     0, 0, 15, 10},
};

static void test_check_response(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof check_rows / sizeof check_rows[0]; i++) {
    const struct crow *r = &check_rows[i];
    struct wsv_pmd_offer mine, resp;
    struct wsv_pmd_params a;
    const char *why = NULL;
    int rc;

    assert_int_equal(wsv_pmd_parse(r->offer, strlen(r->offer), &mine, NULL), 1);
    assert_int_equal(wsv_pmd_parse(r->resp, strlen(r->resp), &resp, NULL), 1);
    rc = wsv_pmd_check_response(&mine, &resp, &a, &why);
    if (rc != r->rc)
      fail_msg("%s / %s: got %d (%s)", r->offer, r->resp, rc, why);
    if (rc != 0) {
      assert_true(why[0] != '\0');
      continue;
    }
    assert_int_equal(a.enabled, 1);
    assert_int_equal(a.server_no_context_takeover, r->snct);
    assert_int_equal(a.client_no_context_takeover, r->cnct);
    assert_int_equal(a.server_max_window_bits, r->smwb);
    assert_int_equal(a.client_max_window_bits, r->cmwb);
  }
}

/* ---- the server handshake ------------------------------------------------ */

#define REQ_HEAD                                                               \
  "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"          \
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"     \
  "Sec-WebSocket-Version: 13\r\n"

/* Run a request with extra header lines; return the 101's
 * Sec-WebSocket-Extensions value ("" if none) in ans. */
static void server_answer(int policy, const char *lines, wsv_hs_accept_fn hook,
                          char *ans, size_t cap, struct wsv_pmd_params *agreed,
                          int *pmd_rc) {
  struct wsv_hs_server_config cfg;
  struct wsv_hs_server *hs;
  char req[4096], resp[4096];
  const char *p, *e;
  size_t n;

  wsv_hs_server_config_init(&cfg);
  cfg.pmd_policy = policy;
  cfg.accept = hook;
  assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), 0);
  snprintf(req, sizeof req, "%s%s\r\n", REQ_HEAD, lines);
  assert_int_equal(wsv_hs_server_parse(hs, req, strlen(req)), WSV_HS_ACCEPT);
  n = wsv_hs_server_response(hs, resp, sizeof resp - 1);
  assert_true(n < sizeof resp);
  resp[n] = '\0';
  assert_memory_equal(resp, "HTTP/1.1 101 ", 13);
  ans[0] = '\0';
  p = strstr(resp, "Sec-WebSocket-Extensions: ");
  if (p != NULL) {
    p += strlen("Sec-WebSocket-Extensions: ");
    e = strstr(p, "\r\n");
    snprintf(ans, cap, "%.*s", (int)(e - p), p);
    assert_null(strstr(e, "Sec-WebSocket-Extensions"));
  }
  *pmd_rc = wsv_hs_server_pmd(hs, agreed);
  wsv_hs_server_free(hs);
}

struct hsrow {
  int policy;
  const char *lines;
  const char *answer;
};

#define EXT "Sec-WebSocket-Extensions: "

static const struct hsrow server_rows[] = {
    {WSV_PMD_ON, EXT "permessage-deflate; client_max_window_bits\r\n",
     "permessage-deflate; client_max_window_bits=13"},
    {WSV_PMD_MAX, EXT "permessage-deflate; client_max_window_bits\r\n",
     "permessage-deflate"},
    {WSV_PMD_ON, EXT "permessage-deflate\r\n", "permessage-deflate"},
    {WSV_PMD_ON, EXT "permessage-deflate; foo=1\r\n", ""},
    {WSV_PMD_ON,
     EXT "permessage-deflate; server_no_context_takeover; "
         "server_no_context_takeover\r\n",
     ""},
    {WSV_PMD_ON, EXT "permessage-deflate; server_max_window_bits=7\r\n", ""},
    {WSV_PMD_ON, EXT "permessage-deflate; server_max_window_bits=8\r\n", ""},
    {WSV_PMD_ON, EXT "permessage-deflate; server_max_window_bits=\"\"\r\n", ""},
    {WSV_PMD_ON, EXT "permessage-deflate; server_max_window_bits=abc\r\n", ""},
    /* Offers in several header lines form one list. */
    {WSV_PMD_ON,
     EXT
     "x-foo\r\n" EXT "permessage-deflate; foo\r\n" EXT
     "permessage-deflate; server_max_window_bits=10, permessage-deflate\r\n",
     "permessage-deflate; server_max_window_bits=10"},
    {WSV_PMD_LEAN, EXT "permessage-deflate\r\n",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover"},
    {WSV_PMD_OFF, EXT "permessage-deflate\r\n", ""},
    {WSV_PMD_ON, "", ""},
    {WSV_PMD_ON, EXT "permessage-deflate; a=\"\\\r\n", ""},
};

static void test_server_handshake(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof server_rows / sizeof server_rows[0]; i++) {
    const struct hsrow *r = &server_rows[i];
    struct wsv_pmd_params p;
    char ans[256];
    int rc;

    memset(&p, 0x5a, sizeof p);
    server_answer(r->policy, r->lines, NULL, ans, sizeof ans, &p, &rc);
    if (strcmp(ans, r->answer) != 0)
      fail_msg("%s: got \"%s\", want \"%s\"", r->lines, ans, r->answer);
    assert_int_equal(rc, r->answer[0] != '\0');
    assert_int_equal(p.enabled, rc);
  }
}

static const char *hook_value;

static int hook_set(struct wsv_hs_server *hs, void *user) {
  struct wsv_pmd_params p;
  struct wsv_str v;

  (void)user;
  /* The built-in result is visible to the hook. */
  assert_int_equal(wsv_hs_server_pmd(hs, &p), 1);
  v.ptr = hook_value;
  v.len = strlen(hook_value);
  assert_int_equal(wsv_hs_server_set_extensions(hs, v), 0);
  return 0;
}

static void test_server_hook_precedence(void **state) {
  struct wsv_pmd_params p;
  char ans[256];
  int rc;

  (void)state;
  hook_value = "";
  server_answer(WSV_PMD_ON, EXT "permessage-deflate\r\n", hook_set, ans,
                sizeof ans, &p, &rc);
  assert_string_equal(ans, "");
  assert_int_equal(rc, 0);
  hook_value = "permessage-deflate; server_no_context_takeover; "
               "server_max_window_bits=11";
  server_answer(WSV_PMD_ON, EXT "permessage-deflate\r\n", hook_set, ans,
                sizeof ans, &p, &rc);
  assert_string_equal(ans, hook_value);
  assert_int_equal(rc, 1);
  assert_int_equal(p.server_no_context_takeover, 1);
  assert_int_equal(p.server_max_window_bits, 11);
  assert_int_equal(p.client_max_window_bits, 15);
  assert_int_equal(wsv_hs_server_pmd(NULL, &p), 0);
  assert_int_equal(p.enabled, 0);
  {
    struct wsv_hs_server_config cfg;
    struct wsv_hs_server *hs;
    wsv_hs_server_config_init(&cfg);
    assert_int_equal(cfg.pmd_policy, WSV_PMD_OFF);
    cfg.pmd_policy = WSV_PMD_MAX;
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_OK);
    wsv_hs_server_free(hs);
    cfg.pmd_policy = 4;
    assert_int_equal(wsv_hs_server_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  }
}

/* ---- the client handshake ------------------------------------------------ */

struct cfgrow {
  int snct, cnct, smwb, cmwb; /* pmd_request */
  const char *raw;            /* cfg.extensions */
  int offer;                  /* pmd_offer */
  const char *lines;          /* response extension lines */
  int rc;
  int pmd; /* wsv_hs_client_pmd result */
  int a_snct, a_cnct, a_smwb, a_cmwb;
};

static const struct cfgrow client_rows[] = {
    {0, 0, 0, 0, NULL, 1, "", WSV_HSC_OPEN, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1, EXT "permessage-deflate\r\n", WSV_HSC_OPEN, 1, 0, 0,
     15, 15},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_no_context_takeover; "
         "client_no_context_takeover; server_max_window_bits=9; "
         "client_max_window_bits=12\r\n",
     WSV_HSC_OPEN, 1, 1, 1, 9, 12},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=\"10\"\r\n", WSV_HSC_OPEN,
     1, 0, 0, 10, 15},
    {0, 0, 0, 0, NULL, 1, EXT "permessage-deflate; client_max_window_bits\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1, EXT "permessage-deflate; foo\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_no_context_takeover; "
         "server_no_context_takeover\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=16\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=7\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=08\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1, EXT "permessage-deflate, permessage-deflate\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate\r\n" EXT "permessage-deflate\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 1, EXT "x-foo\r\n", WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, NULL, 0, EXT "permessage-deflate\r\n", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0, 0},
    /* What we asked for. */
    {0, 0, 10, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=10\r\n", WSV_HSC_OPEN, 1,
     0, 0, 10, 15},
    {0, 0, 10, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=8\r\n", WSV_HSC_OPEN, 1, 0,
     0, 8, 15},
    {0, 0, 10, 0, NULL, 1,
     EXT "permessage-deflate; server_max_window_bits=11\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 10, 0, NULL, 1, EXT "permessage-deflate\r\n", WSV_ERR_HS_EXTENSION,
     0, 0, 0, 0, 0},
    {1, 0, 0, 0, NULL, 1, EXT "permessage-deflate\r\n", WSV_ERR_HS_EXTENSION, 0,
     0, 0, 0, 0},
    {1, 0, 0, 0, NULL, 1,
     EXT "permessage-deflate; server_no_context_takeover\r\n", WSV_HSC_OPEN, 1,
     1, 0, 15, 15},
    {0, 1, 0, 0, NULL, 1, EXT "permessage-deflate\r\n", WSV_HSC_OPEN, 1, 0, 1,
     15, 15},
    {0, 0, 0, 11, NULL, 1,
     EXT "permessage-deflate; client_max_window_bits=13\r\n", WSV_HSC_OPEN, 1,
     0, 0, 15, 11},
    {0, 0, 0, 11, NULL, 1, EXT "permessage-deflate\r\n", WSV_HSC_OPEN, 1, 0, 0,
     15, 11},
    /* A raw offer is checked the same way (B4: client_max_window_bits we did
     * not offer). */
    {0, 0, 0, 0, "permessage-deflate", 0,
     EXT "permessage-deflate; client_max_window_bits=10\r\n",
     WSV_ERR_HS_EXTENSION, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, "permessage-deflate", 0, EXT "permessage-deflate\r\n",
     WSV_HSC_OPEN, 1, 0, 0, 15, 15},
    {0, 0, 0, 0,
     "permessage-deflate; server_max_window_bits=10, permessage-deflate", 0,
     EXT "permessage-deflate; server_max_window_bits=12\r\n", WSV_HSC_OPEN, 1,
     0, 0, 12, 15},
    {0, 0, 0, 0, "x-foo", 1, EXT "x-foo, permessage-deflate\r\n", WSV_HSC_OPEN,
     1, 0, 0, 15, 15},
};

static int fixed_random(void *user, uint8_t *buf, size_t len) {
  (void)user;
  memset(buf, 7, len);
  return 0;
}

static struct wsv_hs_client *client_new(const struct cfgrow *r) {
  struct wsv_hs_client_config cfg;
  struct wsv_hs_client *hs = NULL;

  wsv_hs_client_config_init(&cfg);
  cfg.host = "example.com";
  cfg.random = fixed_random;
  cfg.extensions = r->raw;
  cfg.pmd_offer = r->offer;
  cfg.pmd_request.server_no_context_takeover = r->snct;
  cfg.pmd_request.client_no_context_takeover = r->cnct;
  cfg.pmd_request.server_max_window_bits = r->smwb;
  cfg.pmd_request.client_max_window_bits = r->cmwb;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), WSV_OK);
  return hs;
}

static void test_client_handshake(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof client_rows / sizeof client_rows[0]; i++) {
    const struct cfgrow *r = &client_rows[i];
    struct wsv_hs_client *hs = client_new(r);
    struct wsv_pmd_params p;
    char accept[29], resp[2048];
    int rc;

    wsv__accept_value(wsv_hs_client_key(hs), 24, accept);
    accept[28] = '\0';
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
             accept, r->lines);
    rc = wsv_hs_client_parse(hs, resp, strlen(resp));
    if (rc != r->rc)
      fail_msg("row %zu %s: got %d (%s)", i, r->lines, rc,
               wsv_hs_client_reason(hs));
    if (rc < 0)
      assert_true(strlen(wsv_hs_client_reason(hs)) > 10);
    memset(&p, 0x5a, sizeof p);
    assert_int_equal(wsv_hs_client_pmd(hs, &p), r->pmd);
    assert_int_equal(p.enabled, r->pmd);
    if (r->pmd) {
      assert_int_equal(p.server_no_context_takeover, r->a_snct);
      assert_int_equal(p.client_no_context_takeover, r->a_cnct);
      assert_int_equal(p.server_max_window_bits, r->a_smwb);
      assert_int_equal(p.client_max_window_bits, r->a_cmwb);
    }
    wsv_hs_client_free(hs);
  }
}

static void test_client_offer_text(void **state) {
  struct cfgrow r;
  struct wsv_hs_client *hs;
  struct wsv_hs_client_config cfg;
  char req[2048];
  size_t n;

  (void)state;
  memset(&r, 0, sizeof r);
  r.offer = 1;
  hs = client_new(&r);
  assert_int_equal(wsv_hs_client_request(hs, req, sizeof req, &n), WSV_OK);
  assert_non_null(strstr(req,
                         "\r\nSec-WebSocket-Extensions: "
                         "permessage-deflate; client_max_window_bits\r\n"));
  wsv_hs_client_free(hs);
  r.raw = "x-foo; a=1";
  r.snct = 1;
  r.smwb = 10;
  r.cmwb = 12;
  hs = client_new(&r);
  assert_int_equal(wsv_hs_client_request(hs, req, sizeof req, &n), WSV_OK);
  assert_non_null(
      strstr(req, "\r\nSec-WebSocket-Extensions: x-foo; a=1, "
                  "permessage-deflate; client_max_window_bits=12; "
                  "server_no_context_takeover; server_max_window_bits=10\r\n"));
  wsv_hs_client_free(hs);
  /* Refused configurations. */
  wsv_hs_client_config_init(&cfg);
  cfg.host = "example.com";
  assert_int_equal(cfg.pmd_offer, 0);
  cfg.pmd_offer = 2;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  cfg.pmd_offer = 1;
  cfg.pmd_request.server_max_window_bits = 16;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  cfg.pmd_request.server_max_window_bits = 7;
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  cfg.pmd_request.server_max_window_bits = 0;
  cfg.extensions = "foo, permessage-deflate";
  assert_int_equal(wsv_hs_client_new(&hs, &cfg, NULL), WSV_ERR_INVAL);
  assert_int_equal(wsv_hs_client_pmd(NULL, NULL), 0);
}

/* ---- a pair of connections ----------------------------------------------- */

/* What a connection received: the latest complete message, counts, and
 * the first error. */
struct sink {
  struct bytes cur;
  struct bytes done;
  int open;
  int type;
  int rsv;
  int msgs;
  int pieces;
  int err;
  int code;
  size_t max_piece;
};

static void sink_free(struct sink *s) {
  b_free(&s->cur);
  b_free(&s->done);
  memset(s, 0, sizeof *s);
}

static void sink_event(struct sink *s, const struct wsv_event *ev) {
  switch (ev->type) {
  case WSV_EV_TEXT:
  case WSV_EV_BINARY:
    assert_int_equal(ev->first, !s->open);
    s->open = !ev->last;
    s->pieces++;
    if (ev->len > s->max_piece)
      s->max_piece = ev->len;
    if (ev->first) {
      s->cur.len = 0;
      s->type = ev->type;
      s->rsv = (int)ev->rsv;
    }
    b_put(&s->cur, ev->data, ev->len);
    if (ev->last) {
      s->done.len = 0;
      b_put(&s->done, s->cur.p != NULL ? s->cur.p : (const uint8_t *)"",
            s->cur.len);
      s->msgs++;
    }
    break;
  case WSV_EV_ERROR:
    if (s->err == 0) {
      s->err = ev->err;
      s->code = ev->close_code;
    }
    break;
  default:
    break;
  }
}

/* Feed in[0..len) in chunks (0: whole) of malloc'd copies. */
static void sink_feed(struct wsv_conn *c, const uint8_t *in, size_t len,
                      size_t chunk, struct sink *s) {
  struct wsv_event ev;
  size_t off = 0, n;
  uint8_t *g;

  if (chunk == 0)
    chunk = len > 0 ? len : 1;
  do {
    n = len - off < chunk ? len - off : chunk;
    g = malloc(n + 1);
    assert_non_null(g);
    if (n > 0)
      memcpy(g, in + off, n);
    assert_int_equal(wsv_conn_recv(c, g, n), WSV_OK);
    while (wsv_conn_next_event(c, &ev) != WSV_EV_NONE)
      sink_event(s, &ev);
    free(g);
    off += n;
  } while (off < len);
}

static struct wsv_conn *pmd_conn(int role, const struct wsv_pmd_params *pmd,
                                 int stream, uint64_t max_message,
                                 const struct wsv_mem *mem, struct rnd *r) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;

  wsv_conn_config_init(&cfg);
  cfg.stream = stream;
  cfg.random = rnd_fn;
  cfg.random_user = r;
  cfg.pmd_min_size = 0;
  if (max_message != 0)
    cfg.max_message = max_message;
  cfg.max_output = (size_t)64 << 20;
  if (pmd != NULL)
    cfg.pmd = *pmd;
  assert_int_equal(wsv_conn_new(&c, role, &cfg, mem), WSV_OK);
  return c;
}

static struct wsv_pmd_params pmd_params(int takeover, int bits) {
  struct wsv_pmd_params p;

  memset(&p, 0, sizeof p);
  p.enabled = 1;
  p.server_no_context_takeover = !takeover;
  p.client_no_context_takeover = !takeover;
  p.server_max_window_bits = bits;
  p.client_max_window_bits = bits;
  return p;
}

/* Move all of from's output to `to`. */
static void xfer(struct wsv_conn *from, struct wsv_conn *to, size_t chunk,
                 struct sink *s, struct bytes *wire) {
  struct bytes out = {0};

  drain(from, &out);
  if (wire != NULL)
    b_put(wire, out.p, out.len);
  sink_feed(to, out.p, out.len, chunk, s);
  b_free(&out);
}

/* Test data: text-like (compressible) or pseudo-random, by seed. */
static void fill(uint8_t *p, size_t n, unsigned seed, int text) {
  static const char words[] = "the quick brown fox jumps over the lazy dog ";
  uint32_t x = seed * 2654435761u + 1;
  size_t i;

  for (i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    if (text)
      p[i] = (uint8_t)
          words[((x >> 16) % 7 == 0 ? x >> 8 : i) % (sizeof words - 1)];
    else
      p[i] = (uint8_t)(x >> 16);
  }
}

static void roundtrip_one(struct wsv_conn *from, struct wsv_conn *to, int op,
                          const uint8_t *data, size_t n, size_t chunk) {
  struct sink s = {0};
  struct bytes wire = {0};

  assert_int_equal(wsv_conn_send(from, op, data, n), WSV_OK);
  xfer(from, to, chunk, &s, &wire);
  if (s.err != 0)
    fail_msg("size %zu: error %s", n, wsv_err_name(s.err));
  assert_int_equal(s.msgs, 1);
  assert_int_equal(s.type, op == WSV_OP_TEXT ? WSV_EV_TEXT : WSV_EV_BINARY);
  assert_int_equal(s.done.len, n);
  if (n > 0)
    assert_memory_equal(s.done.p, data, n);
  /* The first frame carries RSV1: it was compressed. */
  assert_true(wire.len > 0 && (wire.p[0] & 0x40) != 0);
  if (n == 0)
    assert_int_equal(wire.p[1] & 0x7f, 1); /* the single byte 00 */
  /* Stream mode: pieces of at most 16 KiB. */
  assert_true(s.pieces == 1 || s.max_piece <= 16384);
  sink_free(&s);
  b_free(&wire);
}

static void test_roundtrip_windows(void **state) {
  static const size_t sizes[] = {0,    1,     2,     5,     100,   1000,
                                 4096, 16383, 16384, 16385, 70000, 200000};
  struct rnd r = {1, 0, 0};
  uint8_t *buf = malloc((size_t)1 << 20);
  int bits, takeover, stream, text;
  size_t i;

  (void)state;
  assert_non_null(buf);
  for (bits = 9; bits <= 15; bits++) {
    for (takeover = 0; takeover <= 1; takeover++) {
      struct wsv_pmd_params p = pmd_params(takeover, bits);
      for (stream = 0; stream <= 1; stream++) {
        struct wsv_conn *sv = pmd_conn(S, &p, stream, 0, NULL, &r);
        struct wsv_conn *cl = pmd_conn(C, &p, stream, 0, NULL, &r);
        for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
          for (text = 0; text <= 1; text++) {
            fill(buf, sizes[i], (unsigned)(i + (size_t)bits), text);
            roundtrip_one(sv, cl, text ? WSV_OP_TEXT : WSV_OP_BINARY, buf,
                          sizes[i], 0);
            roundtrip_one(cl, sv, text ? WSV_OP_TEXT : WSV_OP_BINARY, buf,
                          sizes[i], 0);
            /* The same again: with context takeover it refers back. */
            roundtrip_one(cl, sv, text ? WSV_OP_TEXT : WSV_OP_BINARY, buf,
                          sizes[i], 0);
          }
        }
        wsv_conn_free(sv);
        wsv_conn_free(cl);
      }
    }
  }
  /* 1 MiB, both extremes of the window. */
  for (bits = 9; bits <= 15; bits += 6) {
    struct wsv_pmd_params p = pmd_params(1, bits);
    struct wsv_conn *sv = pmd_conn(S, &p, 0, 0, NULL, &r);
    struct wsv_conn *cl = pmd_conn(C, &p, 1, 0, NULL, &r);
    for (text = 0; text <= 1; text++) {
      fill(buf, (size_t)1 << 20, 99, text);
      roundtrip_one(sv, cl, text ? WSV_OP_TEXT : WSV_OP_BINARY, buf,
                    (size_t)1 << 20, 0);
      roundtrip_one(cl, sv, text ? WSV_OP_TEXT : WSV_OP_BINARY, buf,
                    (size_t)1 << 20, 65536);
    }
    wsv_conn_free(sv);
    wsv_conn_free(cl);
  }
  free(buf);
}

/* Small compressed messages split at every byte, in both modes. */
static void test_roundtrip_splits(void **state) {
  struct rnd r = {1, 0, 0};
  uint8_t buf[300];
  size_t n, chunk;
  int stream, takeover;

  (void)state;
  for (takeover = 0; takeover <= 1; takeover++) {
    struct wsv_pmd_params p = pmd_params(takeover, 15);
    for (stream = 0; stream <= 1; stream++) {
      struct wsv_conn *sv = pmd_conn(S, &p, stream, 0, NULL, &r);
      struct wsv_conn *cl = pmd_conn(C, &p, stream, 0, NULL, &r);
      for (n = 0; n <= sizeof buf; n += n < 20 ? 1 : 70) {
        for (chunk = 1; chunk <= 9; chunk++) {
          fill(buf, n, (unsigned)n, 1);
          roundtrip_one(cl, sv, WSV_OP_TEXT, buf, n, chunk);
          roundtrip_one(sv, cl, WSV_OP_BINARY, buf, n, chunk);
        }
      }
      wsv_conn_free(sv);
      wsv_conn_free(cl);
    }
  }
}

/* wsv_conn_send_fragment: compressed across pieces, RSV1 on the first
 * frame only, control frames in between. */
static void test_fragmented_send(void **state) {
  struct rnd r = {1, 0, 0};
  uint8_t buf[50000];
  int takeover, stream, k;

  (void)state;
  fill(buf, sizeof buf, 5, 1);
  for (takeover = 0; takeover <= 1; takeover++) {
    struct wsv_pmd_params p = pmd_params(takeover, 12);
    for (stream = 0; stream <= 1; stream++) {
      struct wsv_conn *sv = pmd_conn(S, &p, stream, 0, NULL, &r);
      struct wsv_conn *cl = pmd_conn(C, &p, stream, 0, NULL, &r);
      for (k = 0; k < 3; k++) {
        struct sink s = {0};
        struct bytes wire = {0};
        size_t off = 0, piece = k == 0 ? 1 : k == 1 ? 777 : 20000;
        while (off < sizeof buf) {
          size_t n = sizeof buf - off < piece ? sizeof buf - off : piece;
          assert_int_equal(
              wsv_conn_send_fragment(cl, WSV_OP_TEXT, buf + off, n, 0), WSV_OK);
          if (off == 0)
            assert_int_equal(wsv_conn_ping(cl, "p", 1), WSV_OK);
          off += n;
          if (piece == 1 && off >= 3000)
            break;
        }
        /* An empty last piece ends it (00). */
        assert_int_equal(wsv_conn_send_fragment(cl, WSV_OP_CONT, NULL, 0, 1),
                         WSV_OK);
        xfer(cl, sv, 0, &s, &wire);
        assert_int_equal(s.err, 0);
        assert_int_equal(s.msgs, 1);
        assert_int_equal(s.done.len, off);
        assert_memory_equal(s.done.p, buf, off);
        assert_true(wire.len > 0);
        /* TEXT, RSV1, no FIN.  (The NULL test keeps gcc -O3's
         * -Wnull-dereference quiet: cmocka's asserts are not noreturn.) */
        assert_int_equal(wire.p != NULL ? wire.p[0] : 0, 0x41);
        sink_free(&s);
        b_free(&wire);
        /* And one whose last piece has data. */
        assert_int_equal(
            wsv_conn_send_fragment(sv, WSV_OP_BINARY, buf, 1000, 0), WSV_OK);
        assert_int_equal(
            wsv_conn_send_fragment(sv, WSV_OP_BINARY, buf + 1000, 0, 0),
            WSV_OK);
        assert_int_equal(
            wsv_conn_send_fragment(sv, WSV_OP_CONT, buf + 1000, 2000, 1),
            WSV_OK);
        xfer(sv, cl, 3, &s, NULL);
        assert_int_equal(s.err, 0);
        assert_int_equal(s.done.len, 3000);
        assert_memory_equal(s.done.p, buf, 3000);
        sink_free(&s);
      }
      wsv_conn_free(sv);
      wsv_conn_free(cl);
    }
  }
}

/* pmd_min_size and the 8-bit window: plain messages. */
static void test_plain_sends(void **state) {
  struct rnd r = {1, 0, 0};
  struct wsv_pmd_params p = pmd_params(1, 15);
  struct wsv_conn_config cfg;
  struct wsv_conn *c;
  struct bytes out = {0};

  (void)state;
  wsv_conn_config_init(&cfg);
  assert_int_equal(cfg.pmd_min_size, WSV_CONN_DEFAULT_PMD_MIN_SIZE);
  assert_int_equal(cfg.pmd.enabled, 0);
  cfg.pmd = p;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT, "tiny", 4), WSV_OK);
  /* Plain: a peer without permessage-deflate reads it. */
  assert_string_equal(output_str(c, S), "TEXT:tiny;");
  assert_int_equal(wsv_conn_send(c, WSV_OP_TEXT,
                                 "0123456789012345678901234567890123456789",
                                 40),
                   WSV_OK);
  drain(c, &out);
  assert_int_equal(out.p[0], 0xc1);
  wsv_conn_free(c);
  /* Our window is 8 bits: never compress. */
  p.client_max_window_bits = 8;
  c = pmd_conn(C, &p, 0, 0, NULL, &r);
  out.len = 0;
  assert_int_equal(wsv_conn_send(c, WSV_OP_BINARY, "0123456789", 10), WSV_OK);
  drain(c, &out);
  assert_int_equal(out.p[0], 0x82);
  wsv_conn_free(c);
  /* Window bits out of range are refused. */
  cfg.pmd.server_max_window_bits = 16;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  cfg.pmd.server_max_window_bits = 7;
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_ERR_INVAL);
  cfg.pmd.server_max_window_bits = 0; /* 15 */
  assert_int_equal(wsv_conn_new(&c, S, &cfg, NULL), WSV_OK);
  wsv_conn_free(c);
  b_free(&out);
}

/* ---- RFC 7692 §7.2.3 examples -------------------------------------------- */

struct rfcrow {
  const char *name;
  const char *in; /* frames as the client receives them */
  size_t len;
  int takeover;
  const char *log;
};

#define IN(s) s, sizeof(s) - 1

static const struct rfcrow rfc_rows[] = {
    /* §7.2.3.1: "Hello" in one compressed frame. */
    {"7.2.3.1", IN("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"), 1,
     "TEXT rsv40:Hello;"},
    /* §7.2.3.1: the same, in two fragments. */
    {"7.2.3.1 fragments", IN("\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00"), 1,
     "TEXT rsv40:Hello;"},
    /* §7.2.3.2: context takeover: the second "Hello" refers back. */
    {"7.2.3.2 takeover",
     IN("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00"), 1,
     "TEXT rsv40:Hello;TEXT rsv40:Hello;"},
    /* §7.2.3.2 with no context takeover agreed: H7, the back reference
     * fails. */
    {"7.2.3.2 no takeover",
     IN("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00"), 0,
     "TEXT rsv40:Hello;ERROR INFLATE 1007;"},
    /* §7.2.3.3: a stored block ("Hello" uncompressed). */
    {"7.2.3.3 stored",
     IN("\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00"), 1,
     "TEXT rsv40:Hello;"},
    /* §7.2.3.4: a block with BFINAL set (and then the next message). */
    {"7.2.3.4 bfinal",
     IN("\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00\xc1\x05\xf2\x00\x11\x00\x00"),
     1, "TEXT rsv40:Hello;TEXT rsv40:Hello;"},
    /* §7.2.3.5: two deflate blocks in one message. */
    {"7.2.3.5 two blocks",
     IN("\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00"), 1,
     "TEXT rsv40:Hello;"},
    /* §7.2.3.6 / H8: empty messages. */
    {"empty 00", IN("\xc2\x01\x00"), 1, "BINARY rsv40:;"},
    {"empty 02 00", IN("\xc2\x02\x02\x00"), 1, "BINARY rsv40:;"},
    {"empty payload", IN("\xc2\x00\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"), 1,
     "BINARY rsv40:;TEXT rsv40:Hello;"},
    {"empty fragments", IN("\x42\x00\x00\x00\x80\x01\x00"), 1,
     "BINARY rsv40:;"},
    /* H9: uncompressed messages are fine. */
    {"H9 plain", IN("\x81\x05Hello\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"), 1,
     "TEXT:Hello;TEXT rsv40:Hello;"},
    /* H3, H4: RSV1 on a continuation or a control frame. */
    {"H3 rsv1 cont", IN("\x41\x03\xf2\x48\xcd\xc0\x04\xc9\xc9\x07\x00"), 1,
     "ERROR PROTOCOL 1002;"},
    {"H4 rsv1 ping", IN("\xc9\x00"), 1, "ERROR PROTOCOL 1002;"},
    {"H4 rsv1 close", IN("\xc8\x00"), 1, "ERROR PROTOCOL 1002;"},
    {"rsv2", IN("\xa1\x00"), 1, "ERROR PROTOCOL 1002;"},
    {"ping between",
     IN("\x41\x03\xf2\x48\xcd\x89\x01x\x80\x04\xc9\xc9\x07\x00"), 1,
     "PING:x;TEXT rsv40:Hello;"},
    /* H5: corrupt data. */
    {"H5 block type 3", IN("\xc2\x02\x07\x00"), 1, "ERROR INFLATE 1007;"},
    {"H5 stored length", IN("\xc2\x05\x00\x05\x00\x00\x00"), 1,
     "ERROR INFLATE 1007;"},
    {"H5 huffman", IN("\xc2\x05\x05\xff\xff\xff\xff"), 1,
     "ERROR INFLATE 1007;"},
    {"H5 distance", IN("\xc2\x05\xf2\x00\x11\x00\x00"), 1,
     "ERROR INFLATE 1007;"},
    /* E6: UTF-8 checked after inflating ("\xff" compressed). */
    {"E6 bad utf8", IN("\xc1\x03\xfa\x0f\x00"), 1, "ERROR UTF8 1007;"},
    {"E6 truncated utf8", IN("\xc1\x03\x3a\x0c\x00"), 1, "ERROR UTF8 1007;"},
    {"E6 split", IN("\x41\x07\x3a\x0c\x00\x00\x00\xff\xff\x80\x03\x5a\x02\x00"),
     1, "TEXT rsv40:\\xc3\\xa4;"},
};

static void test_rfc_examples(void **state) {
  size_t i, chunk;

  (void)state;
  for (i = 0; i < sizeof rfc_rows / sizeof rfc_rows[0]; i++) {
    const struct rfcrow *r = &rfc_rows[i];
    struct wsv_pmd_params p = pmd_params(r->takeover, 15);
    int stream;
    for (stream = 0; stream <= 1; stream++) {
      for (chunk = 0; chunk <= r->len; chunk++) {
        struct rnd rn = {0, 0, 0};
        struct wsv_conn *c = pmd_conn(C, &p, stream, 0, NULL, &rn);
        struct wsv_conn *sv = pmd_conn(S, &p, stream, 0, NULL, &rn);
        struct bytes masked = {0};
        struct log l = {0}, ls = {0};
        feed(c, (const uint8_t *)r->in, r->len, chunk, &l);
        if (strcmp(log_str(&l), r->log) != 0)
          fail_msg("%s (chunk %zu, stream %d): got %s, want %s", r->name, chunk,
                   stream, log_str(&l), r->log);
        /* The server receives the same frames masked. */
        mask_stream((const uint8_t *)r->in, r->len, &masked);
        feed(sv, masked.p, masked.len, chunk, &ls);
        assert_string_equal(log_str(&ls), r->log);
        b_free(&masked);
        log_free(&l);
        log_free(&ls);
        wsv_conn_free(c);
        wsv_conn_free(sv);
      }
    }
  }
}

/* Our compressor produces the RFC's bytes for "Hello". */
static void test_rfc_send(void **state) {
  struct wsv_pmd_params p = pmd_params(1, 15);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *sv = pmd_conn(S, &p, 0, 0, NULL, &r);
  struct bytes out = {0};

  (void)state;
  assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, "Hello", 5), WSV_OK);
  assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, "Hello", 5), WSV_OK);
  assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, "", 0), WSV_OK);
  drain(sv, &out);
  assert_int_equal(out.len, 9 + 7 + 3);
  assert_memory_equal(out.p,
                      "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"
                      "\xc1\x05\xf2\x00\x11\x00\x00\xc1\x01\x00",
                      out.len);
  wsv_conn_free(sv);
  /* Without context takeover both are the same. */
  p = pmd_params(0, 15);
  sv = pmd_conn(S, &p, 0, 0, NULL, &r);
  out.len = 0;
  assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, "Hello", 5), WSV_OK);
  assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, "Hello", 5), WSV_OK);
  drain(sv, &out);
  assert_memory_equal(out.p,
                      "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"
                      "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00",
                      18);
  wsv_conn_free(sv);
  b_free(&out);
}

/* ---- compressed data from zlib directly ---------------------------------- */

/* Raw-deflate `total` bytes produced by gen (zeros when NULL) with window
 * bits `bits`, sync flush, tail stripped.  *len is set. */
static uint8_t *zcompress(const uint8_t *data, size_t total, int bits,
                          size_t *len) {
  static uint8_t zeros[65536];
  z_stream z;
  size_t cap = total / 500 + 65536, off = 0;
  uint8_t *out = malloc(cap);

  assert_non_null(out);
  memset(&z, 0, sizeof z);
  assert_int_equal(
      deflateInit2(&z, 9, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  while (off < total || z.avail_in == 0) {
    size_t n = total - off < sizeof zeros ? total - off : sizeof zeros;
    int last = off + n == total;
    z.next_in = data != NULL ? (Bytef *)(uintptr_t)(data + off) : zeros;
    z.avail_in = (uInt)n;
    off += n;
    do {
      if (cap - z.total_out < 1024) {
        cap *= 2;
        out = realloc(out, cap);
        assert_non_null(out);
      }
      z.next_out = out + z.total_out;
      z.avail_out = (uInt)(cap - z.total_out);
      assert_true(deflate(&z, last ? Z_SYNC_FLUSH : Z_NO_FLUSH) !=
                  Z_STREAM_ERROR);
    } while (z.avail_out == 0 || z.avail_in > 0);
    if (last)
      break;
  }
  *len = z.total_out - 4;
  assert_memory_equal(out + *len, "\x00\x00\xff\xff", 4);
  deflateEnd(&z);
  return out;
}

/* H1, H2: a bomb fails with 1009 while memory stays near max_message. */
static void test_bomb(void **state) {
  uint64_t max = (uint64_t)1 << 20;
  size_t zlen, frag, off;
  uint8_t *z = zcompress(NULL, (size_t)256 << 20, 15, &zlen);
  struct wsv_pmd_params p = pmd_params(1, 15);
  int stream, split;

  (void)state;
  print_message("bomb: 256 MiB of zeros deflate to %zu bytes\n", zlen);
  for (stream = 0; stream <= 1; stream++) {
    for (split = 0; split <= 1; split++) {
      struct ta t;
      struct wsv_mem m = ta_mem(&t);
      struct rnd r = {0, 0, 0};
      struct wsv_conn *c = pmd_conn(C, &p, stream, max, &m, &r);
      struct bytes in = {0};
      struct sink s = {0};
      frag = split ? 1000 : zlen;
      for (off = 0; off < zlen; off += frag) {
        size_t n = zlen - off < frag ? zlen - off : frag;
        unsigned b0 =
            (off == 0 ? 0x42u : 0x00u) | (off + n == zlen ? 0x80u : 0);
        put_frame(&in, b0, z + off, n, 0);
      }
      t.peak = t.bytes;
      sink_feed(c, in.p, in.len, 0, &s);
      assert_int_equal(s.err, WSV_ERR_TOO_BIG);
      assert_int_equal(s.code, 1009);
      assert_int_equal(s.msgs, 0);
      print_message("bomb stream=%d split=%d: peak %zu bytes (max_message "
                    "%llu)\n",
                    stream, split, t.peak, (unsigned long long)max);
      assert_true(t.peak <= max + 96 * 1024);
      wsv_conn_free(c);
      assert_int_equal(t.live, 0);
      b_free(&in);
      sink_free(&s);
    }
  }
  free(z);
  /* Exactly max_message inflated is fine; one more byte is not. */
  {
    uint8_t *d = calloc(1, (size_t)max + 1);
    size_t k;
    for (k = 0; k <= 1; k++) {
      struct rnd r = {0, 0, 0};
      struct wsv_conn *c = pmd_conn(C, &p, (int)k, max, NULL, &r);
      struct bytes in = {0};
      struct sink s = {0};
      uint8_t *zz = zcompress(d, (size_t)max + k, 15, &zlen);
      put_frame(&in, 0xc2, zz, zlen, 0);
      sink_feed(c, in.p, in.len, 0, &s);
      assert_int_equal(s.err, k ? WSV_ERR_TOO_BIG : 0);
      assert_int_equal(s.msgs, k ? 0 : 1);
      free(zz);
      b_free(&in);
      sink_free(&s);
      wsv_conn_free(c);
    }
    free(d);
  }
}

/* H6: a back reference beyond the agreed window fails.  zlib (built
 * without INFLATE_STRICT) checks distances against what it still holds,
 * the window plus the current output, so the reliable case is a reference
 * into the previous message: a sender that uses a 15-bit window against a
 * receiver that agreed to 9 bits. */
static void test_window_enforced(void **state) {
  uint8_t data[1000];
  int i;

  (void)state;
  fill(data, sizeof data, 3, 0);
  for (i = 0; i < 2; i++) {
    struct wsv_pmd_params ps = pmd_params(1, 15);
    struct wsv_pmd_params pc = pmd_params(1, i == 0 ? 9 : 10);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv = pmd_conn(S, &ps, 0, 0, NULL, &r);
    struct wsv_conn *cl = pmd_conn(C, &pc, 0, 0, NULL, &r);
    struct sink s = {0};
    assert_int_equal(wsv_conn_send(sv, WSV_OP_BINARY, data, sizeof data),
                     WSV_OK);
    assert_int_equal(wsv_conn_send(sv, WSV_OP_BINARY, data, sizeof data),
                     WSV_OK);
    xfer(sv, cl, 0, &s, NULL);
    assert_int_equal(s.err, i == 0 ? WSV_ERR_INFLATE : 0);
    assert_int_equal(s.msgs, i == 0 ? 1 : 2);
    sink_free(&s);
    wsv_conn_free(sv);
    wsv_conn_free(cl);
  }
}

/* E6: invalid UTF-8 after inflation fails at the first bad piece: no piece
 * holding it is delivered. */
static void test_utf8_fail_fast(void **state) {
  uint8_t data[40000];
  size_t zlen;
  uint8_t *z;
  struct wsv_pmd_params p = pmd_params(1, 15);
  struct rnd r = {0, 0, 0};
  struct wsv_conn *c = pmd_conn(C, &p, 1, 0, NULL, &r);
  struct bytes in = {0};
  struct sink s = {0};

  (void)state;
  fill(data, sizeof data, 8, 1);
  data[20000] = 0xff;
  z = zcompress(data, sizeof data, 15, &zlen);
  put_frame(&in, 0xc1, z, zlen, 0);
  sink_feed(c, in.p, in.len, 0, &s);
  assert_int_equal(s.err, WSV_ERR_UTF8);
  assert_int_equal(s.code, 1007);
  assert_int_equal(s.pieces, 1); /* the first 16 KiB only */
  free(z);
  b_free(&in);
  sink_free(&s);
  wsv_conn_free(c);
}

/* ---- memory -------------------------------------------------------------- */

static size_t live_after(struct wsv_conn **pc, struct ta *t) {
  (void)pc;
  return t->bytes;
}

static void test_memory(void **state) {
  uint8_t msg[1024];
  int takeover;

  (void)state;
  fill(msg, sizeof msg, 1, 1);
  {
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *c = pmd_conn(S, NULL, 0, 0, &m, &r);
    print_message("memory: deflate off, idle: %zu bytes\n", t.bytes);
    wsv_conn_free(c);
  }
  for (takeover = 1; takeover >= 0; takeover--) {
    struct wsv_pmd_params p = pmd_params(takeover, 15);
    struct ta ts, tc;
    struct wsv_mem ms = ta_mem(&ts), mc = ta_mem(&tc);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv = pmd_conn(S, &p, 0, 0, &ms, &r);
    struct wsv_conn *cl = pmd_conn(C, &p, 0, 0, &mc, &r);
    struct sink s = {0};
    size_t idle = ts.bytes, after;

    assert_int_equal(idle, tc.bytes);
    assert_int_equal(wsv_conn_send(cl, WSV_OP_TEXT, msg, sizeof msg), WSV_OK);
    xfer(cl, sv, 0, &s, NULL);
    assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, msg, sizeof msg), WSV_OK);
    xfer(sv, cl, 0, &s, NULL);
    assert_int_equal(s.msgs, 2);
    /* Let the last event's buffers go. */
    assert_int_equal(wsv_conn_recv(sv, NULL, 0), WSV_OK);
    assert_int_equal(wsv_conn_recv(cl, NULL, 0), WSV_OK);
    after = live_after(&sv, &ts);
    print_message("memory: deflate agreed, context takeover %s: idle %zu "
                  "bytes; after one 1 KiB message each way %zu bytes "
                  "(peak %zu)\n",
                  takeover ? "on" : "off", idle, after, ts.peak);
    if (!takeover)
      assert_int_equal(after, idle);
    else
      assert_true(after > idle + 200000 && after < idle + 400000);
    sink_free(&s);
    wsv_conn_free(sv);
    wsv_conn_free(cl);
    assert_int_equal(ts.live, 0);
    assert_int_equal(tc.live, 0);
  }
  {
    /* Receiving only: the inflater alone. */
    struct wsv_pmd_params p = pmd_params(1, 15);
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv = pmd_conn(S, &p, 0, 0, &m, &r);
    struct wsv_conn *cl = pmd_conn(C, &p, 0, 0, NULL, &r);
    struct sink s = {0};
    size_t idle = t.bytes;
    assert_int_equal(wsv_conn_send(cl, WSV_OP_TEXT, msg, sizeof msg), WSV_OK);
    xfer(cl, sv, 0, &s, NULL);
    assert_int_equal(wsv_conn_recv(sv, NULL, 0), WSV_OK);
    print_message("memory: inflater with a 15-bit window after one message: "
                  "%zu bytes\n",
                  t.bytes - idle);
    sink_free(&s);
    wsv_conn_free(sv);
    wsv_conn_free(cl);
  }
}

/* ---- allocation failure at every N --------------------------------------- */

static void test_alloc_failure(void **state) {
  uint8_t msg[3000];
  long n;
  int takeover;

  (void)state;
  fill(msg, sizeof msg, 2, 1);
  for (takeover = 0; takeover <= 1; takeover++) {
    struct wsv_pmd_params p = pmd_params(takeover, 10);
    for (n = 1; n < 40; n++) {
      struct ta ts, tc;
      struct wsv_mem ms = ta_mem(&ts), mc = ta_mem(&tc);
      struct rnd r = {0, 0, 0};
      struct wsv_conn *sv = pmd_conn(S, &p, (int)(n & 1), 0, &ms, &r);
      struct wsv_conn *cl = pmd_conn(C, &p, 0, 0, &mc, &r);
      struct sink s = {0};
      int k, rc;
      ts.fail_at = ts.allocs + n;
      tc.fail_at = tc.allocs + n;
      for (k = 0; k < 3; k++) {
        rc = wsv_conn_send(cl, WSV_OP_TEXT, msg, sizeof msg);
        assert_true(rc == WSV_OK || rc == WSV_ERR_NOMEM);
        rc = wsv_conn_send(sv, WSV_OP_TEXT, msg, sizeof msg);
        assert_true(rc == WSV_OK || rc == WSV_ERR_NOMEM ||
                    rc == WSV_ERR_CLOSED);
        xfer(cl, sv, 0, &s, NULL);
        assert_true(s.err == 0 || s.err == WSV_ERR_NOMEM);
        if (s.msgs > 0)
          assert_memory_equal(s.done.p, msg, sizeof msg);
      }
      sink_free(&s);
      wsv_conn_free(sv);
      wsv_conn_free(cl);
      assert_int_equal(ts.live, 0);
      assert_int_equal(tc.live, 0);
    }
  }
}

/* ---- affordable deflate: the shared compressor, small windows, trim ------ */

/* A server conn with `pmd` agreed and the memory settings of `policy`. */
static struct wsv_conn *policy_conn(int role, const struct wsv_pmd_params *pmd,
                                    int policy, struct wsv_pmd_shared *shared,
                                    const struct wsv_mem *mem, struct rnd *r) {
  struct wsv_conn_config cfg;
  struct wsv_conn *c = NULL;

  wsv_conn_config_init(&cfg);
  cfg.random = rnd_fn;
  cfg.random_user = r;
  cfg.max_output = (size_t)64 << 20;
  cfg.pmd = *pmd;
  wsv_conn_config_pmd(&cfg, policy, shared);
  assert_int_equal(wsv_conn_new(&c, role, &cfg, mem), WSV_OK);
  return c;
}

/* An inflater that is not wsv's: zlib raw inflate with `bits`, fed the
 * server's unmasked frames as a browser would (context kept unless
 * `reset`).  Appends each message's bytes to *msgs, counts them. */
struct zpeer {
  z_stream z;
  int bits;
  int reset;
  int msgs;
  int compressed;
  struct bytes cur;
};

static void zpeer_init(struct zpeer *p, int bits, int reset) {
  memset(p, 0, sizeof *p);
  p->bits = bits;
  p->reset = reset;
  assert_int_equal(inflateInit2(&p->z, -bits), Z_OK);
}

static void zpeer_inflate(struct zpeer *p, const uint8_t *in, size_t n) {
  uint8_t out[16384];
  int rc;

  p->z.next_in = (Bytef *)(uintptr_t)in;
  p->z.avail_in = (uInt)n;
  do {
    p->z.next_out = out;
    p->z.avail_out = sizeof out;
    rc = inflate(&p->z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      fail_msg("zlib inflate: %d %s", rc, p->z.msg ? p->z.msg : "");
    b_put(&p->cur, out, sizeof out - p->z.avail_out);
  } while (p->z.avail_in > 0 || p->z.avail_out == 0);
}

/* Take whole frames of one or more messages from wire[0..len). */
static void zpeer_feed(struct zpeer *p, const uint8_t *w, size_t len) {
  static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
  size_t off = 0;
  int z = 0;

  while (off < len) {
    uint8_t b0 = w[off], b1 = w[off + 1];
    size_t h = 2, n = b1 & 0x7f, k;
    assert_int_equal(b1 & 0x80, 0); /* a server's frames are not masked */
    if (n == 126) {
      n = ((size_t)w[off + 2] << 8) | w[off + 3];
      h = 4;
    } else if (n == 127) {
      for (n = 0, k = 0; k < 8; k++)
        n = (n << 8) | w[off + 2 + k];
      h = 10;
    }
    if ((b0 & 0x0f) != 0) { /* a message's first frame */
      z = (b0 & 0x40) != 0;
      p->cur.len = 0;
    }
    if (z)
      zpeer_inflate(p, w + off + h, n);
    else
      b_put(&p->cur, w + off + h, n);
    if (b0 & 0x80) {
      if (z) {
        zpeer_inflate(p, tail, sizeof tail);
        p->compressed++;
        if (p->reset)
          assert_int_equal(inflateReset(&p->z), Z_OK);
      }
      p->msgs++;
    }
    off += h + n;
  }
}

static void zpeer_free(struct zpeer *p) {
  inflateEnd(&p->z);
  b_free(&p->cur);
}

/* A chat-like JSON line (small, repetitive across messages). */
static size_t chat_line(char *buf, size_t cap, unsigned i) {
  static const char *users[] = {"alice", "bob", "carol", "dave"};
  static const char *words[] = {"hello",  "deploy", "tonight", "the",
                                "build",  "is",     "green",   "again",
                                "thanks", "lunch"};
  int n =
      snprintf(buf, cap,
               "{\"type\":\"message\",\"channel\":\"general\",\"user\":"
               "\"%s\",\"ts\":%u,\"text\":\"%s %s %s %s\"}",
               users[i % 4], 1700000000u + i * 7, words[i % 10],
               words[(i * 3) % 10], words[(i * 7) % 10], words[(i / 3) % 10]);
  return (size_t)n;
}

/* Send data[0..n) from the server and check the independent peer got it. */
static void send_check(struct wsv_conn *sv, struct zpeer *p, const void *data,
                       size_t n, struct bytes *wire_total) {
  struct bytes wire = {0};
  int before = p->msgs;

  assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, data, n), WSV_OK);
  drain(sv, &wire);
  if (wire_total != NULL)
    wire_total->len += wire.len;
  zpeer_feed(p, wire.p, wire.len);
  assert_int_equal(p->msgs, before + 1);
  assert_int_equal(p->cur.len, n);
  assert_memory_equal(p->cur.p, data, n);
  b_free(&wire);
}

/* Mixed small and large messages through a 15-bit peer, byte for byte:
 * ON (11-bit own deflater, large ones through the primed shared one),
 * MAX, LEAN (all through the shared one, nothing kept); ON's ratio stays
 * within 10 % of MAX's. */
static void test_shared_mixed(void **state) {
  static const size_t big[] = {4096, 5000, 20000, 70000, 300000};
  uint8_t *buf = malloc(300000);
  char line[256];
  size_t wire_len[4] = {0};
  int policy;

  (void)state;
  assert_non_null(buf);
  for (policy = WSV_PMD_ON; policy <= WSV_PMD_MAX; policy++) {
    struct wsv_pmd_params p = pmd_params(policy != WSV_PMD_LEAN, 15);
    struct wsv_pmd_shared *sh = NULL;
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv;
    struct zpeer zp;
    struct bytes total = {0};
    size_t idle, kept = 0;
    unsigned i;

    assert_int_equal(wsv_pmd_shared_new(&sh, NULL), WSV_OK);
    assert_int_equal(wsv_pmd_shared_bytes(sh), 0);
    sv = policy_conn(S, &p, policy, sh, &m, &r);
    idle = t.bytes;
    zpeer_init(&zp, 15, policy == WSV_PMD_LEAN);
    for (i = 0; i < 400; i++) {
      size_t n = chat_line(line, sizeof line, i);
      send_check(sv, &zp, line, n, &total);
      if (i % 40 == 39) {
        /* A large message now and then: text that repeats the chat, so
         * priming with the history matters. */
        size_t k, len = big[(i / 40) % 5];
        for (k = 0; k < len; k += n)
          memcpy(buf + k, line, len - k < n ? len - k : n);
        fill(buf + len / 2, len / 4, i, 1);
        send_check(sv, &zp, buf, len, &total);
        send_check(sv, &zp, line, n, &total); /* refers back into it */
      }
      if (t.bytes - idle > kept)
        kept = t.bytes - idle;
    }
    assert_int_equal(zp.compressed, zp.msgs);
    wire_len[policy] = total.len;
    print_message("shared mixed, policy %d: %zu wire bytes, conn keeps up "
                  "to %zu bytes of zlib, shared %zu bytes\n",
                  policy, total.len, kept, wsv_pmd_shared_bytes(sh));
    if (policy == WSV_PMD_MAX) {
      assert_int_equal(wsv_pmd_shared_bytes(sh), 0); /* never used */
    } else {
      assert_true(wsv_pmd_shared_bytes(sh) > 200000);
      assert_true(kept < 32768); /* no 15-bit deflater per conn */
    }
    if (policy == WSV_PMD_LEAN)
      assert_int_equal(kept, 0); /* lean owns no deflater, ever */
    zpeer_free(&zp);
    wsv_conn_free(sv);
    assert_int_equal(t.live, 0);
    wsv_pmd_shared_free(sh);
  }
  print_message("ratio ON/MAX: %.3f\n",
                (double)wire_len[WSV_PMD_ON] / (double)wire_len[WSV_PMD_MAX]);
  assert_true(wire_len[WSV_PMD_ON] * 10 <= wire_len[WSV_PMD_MAX] * 11);
  free(buf);
}

/* The shared compressor only for whole messages at a 15-bit window:
 * fragmented sends, and a peer that limited server_max_window_bits, use
 * the conn's own deflater (min(11, N) bits), and the peer inflating with
 * exactly N bits still gets every byte. */
static void test_shared_not_used(void **state) {
  uint8_t buf[60000];
  struct rnd r = {0, 0, 0};
  int bits;

  (void)state;
  fill(buf, sizeof buf, 7, 1);
  { /* Fragmented: pieces of 20000 (each >= pmd_shared_min). */
    struct wsv_pmd_params p = pmd_params(1, 15);
    struct wsv_pmd_shared *sh = NULL;
    struct wsv_conn *sv;
    struct zpeer zp;
    struct bytes wire = {0};
    size_t off;
    assert_int_equal(wsv_pmd_shared_new(&sh, NULL), WSV_OK);
    sv = policy_conn(S, &p, WSV_PMD_ON, sh, NULL, &r);
    zpeer_init(&zp, 15, 0);
    for (off = 0; off < sizeof buf; off += 20000)
      assert_int_equal(wsv_conn_send_fragment(sv, WSV_OP_TEXT, buf + off, 20000,
                                              off + 20000 == sizeof buf),
                       WSV_OK);
    drain(sv, &wire);
    zpeer_feed(&zp, wire.p, wire.len);
    assert_int_equal(zp.msgs, 1);
    assert_int_equal(zp.cur.len, sizeof buf);
    assert_memory_equal(zp.cur.p, buf, sizeof buf);
    assert_int_equal(wsv_pmd_shared_bytes(sh), 0);
    /* A whole one after it does use it, and continues the stream. */
    send_check(sv, &zp, buf, sizeof buf, NULL);
    assert_true(wsv_pmd_shared_bytes(sh) > 0);
    b_free(&wire);
    zpeer_free(&zp);
    wsv_conn_free(sv);
    wsv_pmd_shared_free(sh);
  }
  for (bits = 9; bits <= 14; bits++) { /* server_max_window_bits=N < 15 */
    int policy;
    for (policy = WSV_PMD_ON; policy <= WSV_PMD_LEAN; policy++) {
      struct wsv_pmd_params p = pmd_params(policy == WSV_PMD_ON, bits);
      struct wsv_pmd_shared *sh = NULL;
      struct wsv_conn *sv;
      struct zpeer zp;
      int k;
      assert_int_equal(wsv_pmd_shared_new(&sh, NULL), WSV_OK);
      sv = policy_conn(S, &p, policy, sh, NULL, &r);
      zpeer_init(&zp, bits, policy == WSV_PMD_LEAN);
      for (k = 0; k < 3; k++) {
        send_check(sv, &zp, buf, sizeof buf, NULL);
        send_check(sv, &zp, buf + 100, 500, NULL);
      }
      assert_int_equal(wsv_pmd_shared_bytes(sh), 0);
      zpeer_free(&zp);
      wsv_conn_free(sv);
      wsv_pmd_shared_free(sh);
    }
  }
}

/* The inflater trimmed to its window between messages: many messages
 * with context takeover, every size, the memory between messages is the
 * window (8 KiB at 13 bits), not the whole inflater. */
static void test_inflate_trim(void **state) {
  static const size_t sizes[] = {1, 40, 300, 5000, 9000, 40000, 100};
  uint8_t buf[40000];
  int bits;

  (void)state;
  for (bits = 9; bits <= 15; bits += 2) {
    struct wsv_pmd_params p = pmd_params(1, 15);
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv, *cl;
    size_t idle, between = 0, i;
    p.client_max_window_bits = bits;
    sv = policy_conn(S, &p, WSV_PMD_ON, NULL, &m, &r);
    cl = pmd_conn(C, &p, 0, 0, NULL, &r);
    idle = t.bytes;
    for (i = 0; i < 200; i++) {
      size_t n = sizes[i % 7];
      int text = (i % 5) != 0;
      fill(buf, n, (unsigned)(i % 13), text);
      roundtrip_one(cl, sv, text ? WSV_OP_TEXT : WSV_OP_BINARY, buf, n,
                    i % 3 ? 0 : 1000);
      assert_int_equal(wsv_conn_recv(sv, NULL, 0), WSV_OK);
      if (t.bytes - idle > between)
        between = t.bytes - idle;
    }
    print_message("inflate trim, client window %d bits: up to %zu bytes "
                  "kept between messages\n",
                  bits, between);
    assert_true(between <= ((size_t)1 << bits) + 64);
    assert_false(wsv_conn_idle(sv)); /* the window is state */
    wsv_conn_free(sv);
    wsv_conn_free(cl);
    assert_int_equal(t.live, 0);
  }
}

/* wsv_conn_trim at WSV_PMD_ON: frees the own deflater between messages
 * (the allocator's live bytes drop), refuses part-way through a
 * fragmented message and when nothing is held; what follows a trim is
 * still read byte for byte by a peer that kept its context, and the first
 * message after it compresses without the history (larger than the same
 * message sent with the history kept). */
static void test_conn_trim(void **state) {
  char line[256];
  size_t n = chat_line(line, sizeof line, 3), kept, fresh;
  struct wsv_pmd_params p = pmd_params(1, 15);
  struct wsv_pmd_shared *sh = NULL;
  int trim;

  (void)state;
  assert_int_equal(wsv_conn_trim(NULL), 0);
  assert_int_equal(wsv_pmd_shared_new(&sh, NULL), WSV_OK);
  for (trim = 0; trim <= 1; trim++) {
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv = policy_conn(S, &p, WSV_PMD_ON, sh, &m, &r);
    struct zpeer zp;
    struct bytes wire = {0};
    size_t before;

    zpeer_init(&zp, 15, 0);
    assert_int_equal(wsv_conn_trim(sv), 0); /* no deflater yet */
    send_check(sv, &zp, line, n, NULL);
    before = t.bytes;
    if (trim) {
      assert_int_equal(wsv_conn_trim(sv), 1);
      assert_true(t.bytes + 8192 < before); /* the zlib stream went */
      assert_int_equal(wsv_conn_trim(sv), 0);
    }
    /* The same line again: back-references only when the history stayed. */
    assert_int_equal(wsv_conn_send(sv, WSV_OP_TEXT, line, n), WSV_OK);
    drain(sv, &wire);
    zpeer_feed(&zp, wire.p, wire.len);
    assert_int_equal(zp.cur.len, n);
    assert_memory_equal(zp.cur.p, line, n);
    if (trim)
      fresh = wire.len;
    else
      kept = wire.len;
    b_free(&wire);
    /* Part-way through a fragmented message: refused, and it completes. */
    assert_int_equal(wsv_conn_send_fragment(sv, WSV_OP_TEXT, line, n / 2, 0),
                     WSV_OK);
    assert_int_equal(wsv_conn_trim(sv), 0);
    assert_int_equal(
        wsv_conn_send_fragment(sv, WSV_OP_TEXT, line + n / 2, n - n / 2, 1),
        WSV_OK);
    drain(sv, &wire);
    zpeer_feed(&zp, wire.p, wire.len);
    assert_int_equal(zp.cur.len, n);
    assert_memory_equal(zp.cur.p, line, n);
    b_free(&wire);
    /* Trimmed between every message: all of them still read right. */
    for (unsigned i = 0; i < 50; i++) {
      char l2[256];
      size_t n2 = chat_line(l2, sizeof l2, i);
      if (trim)
        (void)wsv_conn_trim(sv);
      send_check(sv, &zp, l2, n2, NULL);
    }
    zpeer_free(&zp);
    wsv_conn_free(sv);
    assert_int_equal(t.bytes, 0);
  }
  assert_true(kept < fresh);
  wsv_pmd_shared_free(sh);
}

/* A client that agreed client_max_window_bits=13 and then refers further
 * back than 8 KiB (into its previous message) fails with 1007; one that
 * keeps to 13 bits is fine.  With and without the trim. */
static void test_window_13_enforced(void **state) {
  uint8_t data[12000];
  int over, trim;

  (void)state;
  fill(data, sizeof data, 11, 0); /* incompressible: only the repeat helps */
  for (trim = 0; trim <= 1; trim++) {
    for (over = 0; over <= 1; over++) {
      struct wsv_pmd_params ps = pmd_params(1, 15), pc;
      struct rnd r = {0, 0, 0};
      struct wsv_conn *sv, *cl;
      struct sink s = {0};
      ps.client_max_window_bits = 13;
      pc = ps;
      if (over)
        pc.client_max_window_bits = 15; /* the client breaks its word */
      sv = policy_conn(S, &ps, trim ? WSV_PMD_ON : WSV_PMD_MAX, NULL, NULL, &r);
      cl = pmd_conn(C, &pc, 0, 0, NULL, &r);
      assert_int_equal(wsv_conn_send(cl, WSV_OP_BINARY, data, sizeof data),
                       WSV_OK);
      assert_int_equal(wsv_conn_send(cl, WSV_OP_BINARY, data, sizeof data),
                       WSV_OK);
      xfer(cl, sv, 0, &s, NULL);
      assert_int_equal(s.err, over ? WSV_ERR_INFLATE : 0);
      assert_int_equal(s.msgs, over ? 1 : 2);
      if (over)
        assert_int_equal(s.code, 1007);
      sink_free(&s);
      wsv_conn_free(sv);
      wsv_conn_free(cl);
    }
  }
}

/* Allocation failure at every N on the shared path: errors, no leaks, and
 * whatever the peer got still inflates (the stream stays valid). */
static void test_shared_alloc_failure(void **state) {
  uint8_t buf[9000];
  long n;

  (void)state;
  fill(buf, sizeof buf, 3, 1);
  for (n = 1; n < 40; n++) {
    struct wsv_pmd_params p = pmd_params(1, 15);
    struct wsv_pmd_shared *sh = NULL;
    struct ta t;
    struct wsv_mem m = ta_mem(&t);
    struct rnd r = {0, 0, 0};
    struct wsv_conn *sv;
    struct zpeer zp;
    struct bytes wire = {0};
    int k, sent = 0;
    assert_int_equal(wsv_pmd_shared_new(&sh, &m), WSV_OK);
    sv = policy_conn(S, &p, WSV_PMD_ON, sh, &m, &r);
    t.fail_at = t.allocs + n;
    zpeer_init(&zp, 15, 0);
    for (k = 0; k < 4; k++) {
      int rc = wsv_conn_send(sv, WSV_OP_TEXT, k % 2 ? buf : buf + 8000,
                             k % 2 ? sizeof buf : 600);
      assert_true(rc == WSV_OK || rc == WSV_ERR_NOMEM);
      sent += rc == WSV_OK;
    }
    drain(sv, &wire);
    zpeer_feed(&zp, wire.p, wire.len);
    assert_int_equal(zp.msgs, sent);
    b_free(&wire);
    zpeer_free(&zp);
    wsv_conn_free(sv);
    wsv_pmd_shared_free(sh);
    assert_int_equal(t.live, 0);
  }
}

/* ---- end to end ---------------------------------------------------------- */

static void end_to_end(int policy, const struct wsv_pmd_params *request,
                       int expect_takeover) {
  struct wsv_hs_client_config ccfg;
  struct wsv_hs_server_config scfg;
  struct wsv_hs_client *hc;
  struct wsv_hs_server *hsv;
  struct wsv_conn_config cc, sc;
  struct wsv_conn *cl, *sv;
  struct wsv_pmd_shared *sh = NULL;
  struct rnd r = {1, 0, 0};
  char req[2048], resp[2048];
  size_t n;
  uint8_t msg[5000];
  int i;

  print_message("end to end: policy %d\n", policy);
  wsv_hs_client_config_init(&ccfg);
  ccfg.host = "example.com";
  ccfg.pmd_offer = 1;
  ccfg.pmd_request = *request;
  assert_int_equal(wsv_hs_client_new(&hc, &ccfg, NULL), WSV_OK);
  assert_int_equal(wsv_hs_client_request(hc, req, sizeof req, &n), WSV_OK);
  wsv_hs_server_config_init(&scfg);
  scfg.pmd_policy = policy;
  assert_int_equal(wsv_hs_server_new(&hsv, &scfg, NULL), 0);
  assert_int_equal(wsv_hs_server_parse(hsv, req, n), WSV_HS_ACCEPT);
  n = wsv_hs_server_response(hsv, resp, sizeof resp);
  assert_int_equal(wsv_hs_client_parse(hc, resp, n), WSV_HSC_OPEN);
  wsv_conn_config_init(&sc);
  wsv_conn_config_init(&cc);
  sc.pmd_min_size = cc.pmd_min_size = 0;
  cc.random = rnd_fn;
  cc.random_user = &r;
  assert_int_equal(wsv_hs_server_pmd(hsv, &sc.pmd), 1);
  assert_int_equal(wsv_hs_client_pmd(hc, &cc.pmd), 1);
  assert_memory_equal(&sc.pmd, &cc.pmd, sizeof sc.pmd);
  assert_int_equal(sc.pmd.server_no_context_takeover, !expect_takeover);
  assert_int_equal(wsv_pmd_shared_new(&sh, NULL), WSV_OK);
  wsv_conn_config_pmd(&sc, policy, sh);
  assert_int_equal(wsv_conn_new(&sv, S, &sc, NULL), WSV_OK);
  assert_int_equal(wsv_conn_new(&cl, C, &cc, NULL), WSV_OK);
  for (i = 0; i < 5; i++) {
    fill(msg, sizeof msg, (unsigned)i, 1);
    roundtrip_one(cl, sv, WSV_OP_TEXT, msg, sizeof msg, 0);
    roundtrip_one(sv, cl, WSV_OP_BINARY, msg, sizeof msg, 0);
  }
  wsv_conn_free(sv);
  wsv_conn_free(cl);
  wsv_pmd_shared_free(sh);
  wsv_hs_server_free(hsv);
  wsv_hs_client_free(hc);
}

static void test_end_to_end(void **state) {
  struct wsv_pmd_params req;

  (void)state;
  memset(&req, 0, sizeof req);
  end_to_end(WSV_PMD_ON, &req, 1);
  end_to_end(WSV_PMD_MAX, &req, 1);
  end_to_end(WSV_PMD_LEAN, &req, 0);
  req.server_max_window_bits = 10;
  req.client_max_window_bits = 11;
  req.client_no_context_takeover = 1;
  end_to_end(WSV_PMD_ON, &req, 1);
  end_to_end(WSV_PMD_MAX, &req, 1);
  req.server_no_context_takeover = 1;
  end_to_end(WSV_PMD_ON, &req, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_linear),
      cmocka_unit_test(test_select),
      cmocka_unit_test(test_negotiate_values),
      cmocka_unit_test(test_check_response),
      cmocka_unit_test(test_server_handshake),
      cmocka_unit_test(test_server_hook_precedence),
      cmocka_unit_test(test_client_handshake),
      cmocka_unit_test(test_client_offer_text),
      cmocka_unit_test(test_roundtrip_windows),
      cmocka_unit_test(test_roundtrip_splits),
      cmocka_unit_test(test_fragmented_send),
      cmocka_unit_test(test_plain_sends),
      cmocka_unit_test(test_rfc_examples),
      cmocka_unit_test(test_rfc_send),
      cmocka_unit_test(test_bomb),
      cmocka_unit_test(test_window_enforced),
      cmocka_unit_test(test_utf8_fail_fast),
      cmocka_unit_test(test_memory),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_end_to_end),
      cmocka_unit_test(test_shared_mixed),
      cmocka_unit_test(test_shared_not_used),
      cmocka_unit_test(test_inflate_trim),
      cmocka_unit_test(test_conn_trim),
      cmocka_unit_test(test_window_13_enforced),
      cmocka_unit_test(test_shared_alloc_failure),
  };
  if (getenv("WSV_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("WSV_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
