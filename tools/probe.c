/* probe.c - `wsv probe` (being written). */
#include <stdio.h>

#include "wsv_tool.h"

int wsv_cmd_probe(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fputs("wsv probe: not built yet\n", stderr);
  return 2;
}
