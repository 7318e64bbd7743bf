#!/bin/sh
# readme_example.sh CC SRCDIR [GENINCDIR] - the C example in README.md
# compiles against the public headers (warnings are errors), so the README
# cannot drift from the API.  GENINCDIR holds the generated wsv/version.h
# (the build tree's include/).
set -eu
cc=$1
src=$2
gen=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{on=1; next} /^```$/{on=0} on' "$src/README.md" >"$tmp/body.c"
[ -s "$tmp/body.c" ] || { echo "no C example in README.md"; exit 1; }
{
  echo '#include <string.h>'
  echo '#include <sys/uio.h>'
  echo '#include <unistd.h>'
  grep '^#include' "$tmp/body.c"
  echo 'void readme_example(int fd);'
  echo 'void readme_example(int fd) {'
  grep -v '^#include' "$tmp/body.c"
  echo '}'
} >"$tmp/example.c"
"$cc" -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Wno-unused-result \
  -I"$src/include" ${gen:+-I"$gen"} -c "$tmp/example.c" -o "$tmp/example.o"
echo "README example compiles"
