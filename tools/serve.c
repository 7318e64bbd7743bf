/* serve.c - `wsv serve` (being written). */
#include <stdio.h>

#include "wsv_tool.h"

int wsv_cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fputs("wsv serve: not built yet\n", stderr);
  return 2;
}
