/* version.c - the version of the library that is running (wsv/version.h has
 * the one a program was compiled against). */
#include "int.h"

const char *wsv_version_string(void) {
  return WSV_VERSION_STRING;
}

int wsv_version_num(void) {
  return WSV_VERSION_NUM;
}
