/* cli.c - helpers shared by the wsv subcommands: option parsing, the usage
 * errors, messages and log lines they print on stderr, and line buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsv.h"
#include "cli.h"

static void cli_vsay(const char *cmd, const char *fmt, va_list ap)
    WSV_PRINTF(2, 0);

static void cli_vsay(const char *cmd, const char *fmt, va_list ap) {
  fprintf(stderr, "wsv %s: ", cmd);
  vfprintf(stderr, fmt, ap);
}

int wsv_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_vsay(cmd, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nRun 'wsv %s --help' for the options.\n", cmd);
  return 2;
}

void wsv_cli_say(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_vsay(cmd, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void wsv_cli_log(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
  line[len++] = '\n';
  (void)!write(STDERR_FILENO, line, len);
}

int wsv_cli_opt(int argc, char **argv, int *i, const char *name,
                const char **val) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *i += 1;
  *val = argv[*i];
  return 1;
}

int wsv_cli_versions(const char *s, uint32_t *set, char *err, size_t cap) {
  uint32_t got = 0;
  const char *p = s;
  for (;;) {
    while (*p == ' ')
      p++;
    const char *start = p;
    while (*p >= '0' && *p <= '9')
      p++;
    size_t len = (size_t)(p - start);
    int v = -1;
    if (len > 0 && len <= 3 && start[0] != '0')
      v = atoi(start);
    if (v != 13 && v != 8 && v != 7) {
      size_t bad = len > 0 ? len : strcspn(start, ", ");
      snprintf(err, cap,
               "\"%.*s\" is not a WebSocket version wsv speaks "
               "(13, 8 or 7)",
               (int)(bad > 20 ? 20 : bad), start);
      return -1;
    }
    got |= WSV_VERSION_BIT(v);
    while (*p == ' ')
      p++;
    if (*p == '\0')
      break;
    if (*p != ',') {
      snprintf(err, cap, "bad version list \"%s\": use e.g. 13,8,7", s);
      return -1;
    }
    p++;
  }
  *set = got;
  return 0;
}

void wsv_cli_version_list(uint32_t set, char *buf, size_t cap) {
  static const int all[] = {13, 8, 7};
  size_t used = 0;
  if (cap == 0)
    return;
  buf[0] = '\0';
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
    if ((set & WSV_VERSION_BIT(all[k])) == 0)
      continue;
    int n = snprintf(buf + used, cap - used, "%s%d", used ? ", " : "", all[k]);
    if (n < 0 || (size_t)n >= cap - used)
      return;
    used += (size_t)n;
  }
}

int wsv_cli_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

int wsv_cli_size(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  size_t n = strlen(s);
  unsigned shift = 0;
  if (n > 1) {
    switch (s[n - 1]) {
    case 'k':
    case 'K':
      shift = 10;
      break;
    case 'm':
    case 'M':
      shift = 20;
      break;
    case 'g':
    case 'G':
      shift = 30;
      break;
    default:
      break;
    }
  }
  char digits[32];
  size_t dn = shift ? n - 1 : n;
  if (dn == 0 || dn >= sizeof digits)
    return -1;
  memcpy(digits, s, dn);
  digits[dn] = '\0';
  uint64_t v;
  if (wsv_cli_uint(digits, 0, UINT64_MAX >> shift, &v) != 0)
    return -1;
  v <<= shift;
  if (v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

void wsv_cli_printable(const char *s, size_t n, char *buf, size_t cap) {
  size_t o = 0;
  if (cap == 0)
    return;
  for (size_t k = 0; k < n && o + 1 < cap; k++) {
    unsigned char c = (unsigned char)s[k];
    buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  buf[o] = '\0';
}

int wsv_cli_reserve(char **buf, size_t *cap, size_t len, size_t chunk) {
  if (*cap - len >= chunk)
    return 0;
  size_t n = *cap ? *cap * 2 : 2 * chunk;
  while (n - len < chunk)
    n *= 2;
  char *q = realloc(*buf, n);
  if (q == NULL)
    return -1;
  *buf = q;
  *cap = n;
  return 0;
}

int wsv_cli_deflate_mode(const char *s, int *mode) {
  if (strcmp(s, "on") == 0)
    *mode = WSV_CLI_DEFLATE_ON;
  else if (strcmp(s, "lean") == 0)
    *mode = WSV_CLI_DEFLATE_LEAN;
  else if (strcmp(s, "max") == 0)
    *mode = WSV_CLI_DEFLATE_MAX;
  else if (strcmp(s, "off") == 0)
    *mode = WSV_CLI_DEFLATE_OFF;
  else
    return -1;
  return 0;
}

const char *wsv_cli_deflate_name(int mode) {
  return mode == WSV_CLI_DEFLATE_ON     ? "on"
         : mode == WSV_CLI_DEFLATE_LEAN ? "lean"
         : mode == WSV_CLI_DEFLATE_MAX  ? "max"
                                        : "off";
}

/* The --deflate modes are the core's policy values. */
_Static_assert(WSV_CLI_DEFLATE_OFF == WSV_PMD_OFF &&
                   WSV_CLI_DEFLATE_ON == WSV_PMD_ON &&
                   WSV_CLI_DEFLATE_LEAN == WSV_PMD_LEAN &&
                   WSV_CLI_DEFLATE_MAX == WSV_PMD_MAX,
               "deflate modes");
