/* bench.c - `wsv bench` (being written). */
#include <stdio.h>

#include "wsv_tool.h"

int wsv_cmd_bench(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fputs("wsv bench: not built yet\n", stderr);
  return 2;
}
