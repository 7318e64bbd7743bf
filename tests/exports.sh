#!/bin/sh
# exports.sh LIB [SYMBOL...] - the shared library exports the public API
# and nothing else: every defined dynamic symbol starts with "wsv_", none
# with "wsv__", and each SYMBOL named is present.
set -eu
lib=$1
shift
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBW]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
bad=$(echo "$syms" | grep -v '^wsv_' || true)
[ -z "$bad" ] || { echo "unexpected exports:"; echo "$bad"; exit 1; }
internal=$(echo "$syms" | grep '^wsv__' || true)
[ -z "$internal" ] || { echo "internal symbols exported:"; echo "$internal"; exit 1; }
for want in "$@"; do
  echo "$syms" | grep -qx "$want" || { echo "missing export: $want"; exit 1; }
done
echo "$(echo "$syms" | wc -l) exported symbols, all public"
