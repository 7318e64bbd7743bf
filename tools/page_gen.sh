#!/bin/sh
# page_gen.sh [HTML [C]] - embed the demo page in C: write tools/page.c (or
# C) holding tools/page.html (or HTML) as a byte array.  Run it after every
# edit of page.html; tests/cli/serve_test.py fails while page.c is stale.
set -eu
dir=$(dirname "$0")
html=${1:-$dir/page.html}
out=${2:-$dir/page.c}
tmp=$out.tmp.$$
{
  echo '/* page.c - the demo page of `wsv serve`, generated from page.html by'
  echo ' * page_gen.sh: edit page.html, then run tools/page_gen.sh. */'
  echo '#include <stddef.h>'
  echo ''
  echo '#include "cli.h"'
  echo ''
  echo '/* clang-format off */'
  echo 'const unsigned char wsv_page_html[] = {'
  od -An -v -tx1 "$html" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//' |
    tr ' ' '\n' | sed 's/^/0x/; s/$/,/' | paste -d ' ' - - - - - - - - - - - - |
    sed 's/^/  /; s/ *$//'
  echo '};'
  echo '/* clang-format on */'
  echo ''
  echo 'const size_t wsv_page_html_len = sizeof wsv_page_html;'
} >"$tmp"
mv "$tmp" "$out"
