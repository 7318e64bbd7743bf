/* connect.c - `wsv connect` (being written). */
#include <stdio.h>

#include "wsv_tool.h"

int wsv_cmd_connect(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fputs("wsv connect: not built yet\n", stderr);
  return 2;
}
