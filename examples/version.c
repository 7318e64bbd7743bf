/*
 * version.c - a program on the protocol core alone (libwsv, no runtime)
 * that checks it runs with a library compatible with the headers it was
 * compiled against, then prints both versions.
 *
 *   version        exit 0 when compatible, 1 when not
 *
 * The rule is the SONAME's: within 0.x the same major and minor (0.1.x
 * with 0.1.y), from 1.0 on the same major and a library at least as new.
 */
#include <stdio.h>

#include <wsv.h>

static int compatible(int built, int running) {
  if (built / 10000 == 0)
    return built / 100 == running / 100;
  return built / 10000 == running / 10000 && running >= built;
}

int main(void) {
  printf("compiled against wsv %s (%d), running with wsv %s (%d)\n",
         WSV_VERSION_STRING, WSV_VERSION_NUM, wsv_version_string(),
         wsv_version_num());
  if (!compatible(WSV_VERSION_NUM, wsv_version_num())) {
    fprintf(stderr, "version: libwsv %s does not match headers %s\n",
            wsv_version_string(), WSV_VERSION_STRING);
    return 1;
  }
  return 0;
}
