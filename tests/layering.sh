#!/bin/sh
# layering.sh CC ROOT [loop] [tools] [core] - the layers keep to their own
# (all three checks unless some are named):
#   loop   src/rt/loop.c and src/rt/timer.c, each compiled alone, reference
#          no wsv symbol the two do not define between them but the core's
#          error table (src/error.c: wsv_err_from_errno...), and nothing
#          else libc and libpthread do not define; they include, besides
#          system headers, only the loop's own header (loop*.h) and public
#          headers that are not the runtime's (wsv/rt.h) or named ws,
#          server, client or tls.
#   tools  every file in tools/ includes "X" only for a file of tools/
#          or a public header (wsv.h, wsv/...), and no <X> that is a file
#          of src/ or src/rt/.
#   core   no core file (src/*.c, src/*.h) includes a runtime header
#          (wsv/rt.h, rt/..., rt_int.h, a file of src/rt/) or a socket,
#          epoll, thread or TLS system header.
# ROOT is the source tree (its include/, src/, tools/).  Every violation is
# printed with its file and line; the exit status is 1 if there was one.
# CC may carry flags ("cc -I build/include" for the generated wsv/version.h).
set -u
if [ $# -lt 2 ]; then
  echo "usage: layering.sh CC ROOT [loop] [tools] [core]" >&2
  exit 2
fi
cc=$1
root=$2
shift 2
checks=${*:-loop tools core}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wsv-layering.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM
failed=0
summary=""

bad() {
  echo "layering: FAIL: $*"
  failed=1
}

# The #include lines of a file: "LINE q NAME" for "NAME", "LINE a NAME"
# for <NAME>.
includes() {
  awk '{
    if (match($0, /^[ \t]*#[ \t]*include[ \t]*["<][^">]*[">]/)) {
      s = substr($0, RSTART, RLENGTH)
      sub(/^[ \t]*#[ \t]*include[ \t]*/, "", s)
      print NR, (substr(s, 1, 1) == "\"" ? "q" : "a"), substr(s, 2, length(s) - 2)
    }
  }' "$1"
}

# Where a function or variable is defined in the runtime or the core (for
# the message); empty if nowhere.
defined_in() {
  grep -l "^[A-Za-z].*[^A-Za-z0-9_]$1(" "$root"/src/rt/*.c "$root"/src/*.c \
    2>/dev/null | sed "s|^$root/||" | tr '\n' ' ' | sed 's/ $//'
}

# A public header the loop must not use: the runtime API, or one named
# for what is built on the loop.
runtime_public() {
  case $1 in
  wsv/rt.h) return 0 ;;
  esac
  n=${1##*/}
  n=${n%.h}
  case $n in
  ws | server | client | tls | rt) return 0 ;;
  esac
  return 1
}

check_loop() {
  rt=$root/src/rt
  : >"$tmp/between"
  for f in loop timer; do
    src=$rt/$f.c
    if [ ! -f "$src" ]; then
      bad "src/rt/$f.c: no such file"
      continue
    fi
    # What it includes.
    includes "$src" >"$tmp/$f.inc"
    while read -r line kind name; do
      where="src/rt/$f.c:$line"
      shown="\"$name\""
      [ "$kind" = a ] && shown="<$name>"
      case $name in
      wsv.h | wsv/*)
        if runtime_public "$name"; then
          bad "$where: includes $shown (the loop uses no runtime, WebSocket, TLS, server or client header)"
        fi
        continue
        ;;
      openssl/*)
        bad "$where: includes $shown (the loop knows nothing of TLS)"
        continue
        ;;
      esac
      base=${name##*/}
      if [ "$kind" = a ] && [ ! -f "$rt/$name" ] && [ ! -f "$root/src/$name" ]; then
        continue # a system header
      fi
      case $base in
      loop*) ;;
      *) bad "$where: includes $shown (the loop includes only its own loop*.h besides system and public core headers)" ;;
      esac
    done <"$tmp/$f.inc"
    # What it references, compiled alone.
    if ! $cc -c -std=c11 -D_GNU_SOURCE -I "$root/include" -I "$root/src" \
      -I "$rt" -o "$tmp/$f.o" "$src" 2>"$tmp/$f.err"; then
      bad "src/rt/$f.c does not compile on its own:"
      sed 's/^/  /' "$tmp/$f.err"
    fi
  done
  [ -f "$tmp/loop.o" ] && [ -f "$tmp/timer.o" ] || return
  # The one part of the core the loop may use: its error table (errno
  # values become WSV_ERR_* codes), itself libc only.
  if ! $cc -c -std=c11 -I "$root/include" -I "$root/src" -o "$tmp/error.o" \
    "$root/src/error.c" 2>"$tmp/error.err"; then
    bad "src/error.c does not compile on its own:"
    sed 's/^/  /' "$tmp/error.err"
    return
  fi
  nm --defined-only "$tmp/loop.o" "$tmp/timer.o" "$tmp/error.o" |
    awk 'NF == 3 && $2 ~ /^[A-Z]$/ {print $3}' | sort -u >"$tmp/defined"
  for f in loop timer; do
    nm -u "$tmp/$f.o" | awk '{print $NF}' | sort -u >"$tmp/$f.undef"
    grep '^wsv' "$tmp/$f.undef" | comm -23 - "$tmp/defined" >"$tmp/$f.foreign"
    while read -r sym; do
      home=$(defined_in "$sym")
      bad "src/rt/$f.c references $sym${home:+ (defined in $home)}, which neither loop.c, timer.c nor the core's error table defines"
    done <"$tmp/$f.foreign"
    grep '^wsv' "$tmp/$f.undef" >>"$tmp/between"
  done
  between=$(sort -u "$tmp/between" | tr '\n' ' ' | sed 's/ $//; s/ /, /g')
  # The rest must come from libc and libpthread: link the two alone.
  echo 'int main(void) { return 0; }' >"$tmp/main.c"
  if ! $cc -o "$tmp/loop-alone" "$tmp/main.c" "$tmp/loop.o" "$tmp/timer.o" \
    "$tmp/error.o" -lpthread 2>"$tmp/link.err"; then
    sed -n "s/.*undefined reference to [\`']\([^']*\)'.*/\1/p
            s/.*undefined symbol: \([^ ]*\).*/\1/p" "$tmp/link.err" |
      grep -v '^wsv' | sort -u >"$tmp/libc.missing"
    while read -r sym; do
      for f in loop timer; do
        grep -qx "$sym" "$tmp/$f.undef" &&
          bad "src/rt/$f.c references $sym, which is neither in loop.c, timer.c, libc nor libpthread"
      done
    done <"$tmp/libc.missing"
    if [ ! -s "$tmp/libc.missing" ] && [ ! -s "$tmp/loop.foreign" ] &&
      [ ! -s "$tmp/timer.foreign" ]; then
      bad "loop.o and timer.o do not link on their own with libc:"
      sed 's/^/  /' "$tmp/link.err"
    fi
  fi
  summary="$summary; loop.c, timer.c reference only themselves, the core's error table${between:+ ($between)} and libc"
}

check_tools() {
  n=0
  find "$root/tools" -type f \( -name '*.c' -o -name '*.h' \) | sort >"$tmp/tools"
  while read -r file; do
    n=$((n + 1))
    rel=${file#"$root"/}
    dir=${file%/*}
    includes "$file" >"$tmp/t.inc"
    while read -r line kind name; do
      where="$rel:$line"
      if [ "$kind" = a ]; then
        for d in src src/rt; do
          if [ -f "$root/$d/$name" ]; then
            bad "$where: includes <$name>, which is $d/$name (tools use only public headers and their own files)"
          fi
        done
        continue
      fi
      case $name in
      wsv.h | wsv/*)
        [ -f "$root/include/$name" ] ||
          bad "$where: includes \"$name\", which is not a public header (include/$name)"
        continue
        ;;
      /* | ../* | */../*)
        bad "$where: includes \"$name\", which is outside tools/ (tools use only public headers and their own files)"
        continue
        ;;
      esac
      if [ -f "$dir/$name" ] || [ -f "$root/tools/$name" ]; then
        continue
      fi
      from=""
      for d in src src/rt; do
        [ -f "$root/$d/$name" ] && from="$d/$name"
      done
      bad "$where: includes \"$name\", which is no file of tools/ and no public header${from:+ (it is $from)}"
    done <"$tmp/t.inc"
  done <"$tmp/tools"
  summary="$summary; $n tools files use public headers"
}

check_core() {
  n=0
  for file in "$root"/src/*.c "$root"/src/*.h; do
    [ -f "$file" ] || continue
    n=$((n + 1))
    rel=${file#"$root"/}
    includes "$file" >"$tmp/c.inc"
    while read -r line kind name; do
      shown="\"$name\""
      [ "$kind" = a ] && shown="<$name>"
      why=""
      case $name in
      wsv/rt.h | */wsv/rt.h) why="the runtime's public header" ;;
      rt/* | */rt/*) why="a runtime header" ;;
      rt_int.h | */rt_int.h) why="the runtime's internal header" ;;
      sys/socket.h | sys/epoll.h | pthread.h | netinet/* | arpa/*)
        why="a socket, epoll or thread header: I/O is the runtime's"
        ;;
      openssl/*) why="a TLS header: TLS is the runtime's" ;;
      esac
      base=${name##*/}
      if [ -z "$why" ] && [ -f "$root/src/rt/$base" ] &&
        ! { [ "$kind" = q ] && [ -f "$root/src/$name" ]; }; then
        why="a file of src/rt/"
      fi
      [ -n "$why" ] &&
        bad "$rel:$line: includes $shown, $why (the core is sans-I/O and knows no runtime)"
    done <"$tmp/c.inc"
  done
  summary="$summary; $n core files include no runtime header"
}

for c in $checks; do
  case $c in
  loop) check_loop ;;
  tools) check_tools ;;
  core) check_core ;;
  *)
    echo "layering: no check named $c (loop, tools, core)" >&2
    exit 2
    ;;
  esac
done
if [ "$failed" -ne 0 ]; then
  echo "layering: FAILED (checks: $checks)"
  exit 1
fi
echo "layering: ${summary#; }"
