#!/bin/sh
# exports.sh LIB - the shared library exports the public API and nothing
# else: every defined dynamic symbol starts with "wsv_", none with "wsv__",
# and a few known public functions are present.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBW]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
bad=$(echo "$syms" | grep -v '^wsv_' || true)
[ -z "$bad" ] || { echo "unexpected exports:"; echo "$bad"; exit 1; }
internal=$(echo "$syms" | grep '^wsv__' || true)
[ -z "$internal" ] || { echo "internal symbols exported:"; echo "$internal"; exit 1; }
for want in wsv_strerror wsv_err_name wsv_is_fatal wsv_utf8_feed wsv_random_os; do
  echo "$syms" | grep -qx "$want" || { echo "missing export: $want"; exit 1; }
done
echo "$(echo "$syms" | wc -l) exported symbols, all public"
