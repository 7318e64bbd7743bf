#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR [C_FLAGS [VERSION SOVERSION]] -
# install wsv into a temporary prefix, then build examples/ against the
# installed copy with find_package(wsv) (all four targets: wsv::wsv,
# wsv::wsv_static, wsv::wsv_rt, wsv::wsv_rt_static) and with pkg-config
# (wsv.pc for the core alone, wsv-rt.pc for the runtime), and run them: an
# echo server and a chat server answer the example client, and the
# core-only `version` program agrees with the headers.  Checks the SONAMEs
# (libwsv.so.SOVERSION) and that a core-only program needs no libwsv_rt.
# Loopback only; every server is stopped by PID.
set -u
build=$1
src=$2
cflags=${3:-}
version=${4:-}
soversion=${5:-}
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL cmake --install"; exit 1; }
for f in include/wsv.h include/wsv/rt.h include/wsv/conn.h \
         include/wsv/version.h bin/wsv share/man/man1/wsv.1; do
  [ -e "$prefix/$f" ] && ok "installed $f" || bad "installed $f"
done
for f in libwsv.a libwsv.so libwsv_rt.a libwsv_rt.so pkgconfig/wsv.pc \
         pkgconfig/wsv-rt.pc cmake/wsv/wsvConfig.cmake \
         cmake/wsv/wsvConfigVersion.cmake cmake/wsv/wsvTargets.cmake; do
  found=$(find "$prefix" -path "*/$f" | head -1)
  [ -n "$found" ] && ok "installed $f" || bad "installed $f"
done
libdir=$(dirname "$(find "$prefix" -name libwsv.so | head -1)")

# needed BIN: the shared libraries BIN names (DT_NEEDED), one a line.
needed() {
  readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# --- versions and SONAMEs --------------------------------------------------
if [ -n "$version" ]; then
  grep -q "^#define WSV_VERSION_STRING" "$prefix/include/wsv/version.h" &&
    grep -q "\"$version\"" "$prefix/include/wsv/version.h" &&
    ok "installed wsv/version.h says $version" ||
    bad "installed wsv/version.h says $version"
fi
if [ -n "$soversion" ]; then
  for lib in libwsv libwsv_rt; do
    so=$(readelf -d "$libdir/$lib.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$so" = "$lib.so.$soversion" ] && [ -e "$libdir/$lib.so.$soversion" ] &&
      [ -e "$libdir/$lib.so.$version" ] &&
      ok "$lib.so has SONAME $lib.so.$soversion (file $lib.so.$version)" ||
      bad "$lib.so has SONAME $lib.so.$soversion, not '$so'"
  done
  needed "$libdir/libwsv_rt.so" | grep -qx "libwsv.so.$soversion" &&
    ok "libwsv_rt.so needs libwsv.so.$soversion" ||
    bad "libwsv_rt.so needs libwsv.so.$soversion"
fi

# start_server BIN ARGS...: start it, wait for its "listening on" line,
# set $port.
start_server() {
  out=$tmp/server.$$.$(date +%s%N)
  "$@" >"$out" 2>&1 &
  pids="$pids $!"
  last_pid=$!
  port=""
  i=0
  while [ $i -lt 50 ] && [ -z "$port" ]; do
    port=$(sed -n 's|.*ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out" | head -1)
    [ -z "$port" ] && sleep 0.1
    i=$((i + 1))
  done
}

# stop_server: SIGTERM and expect exit 0 within 5 s.
stop_server() {
  kill -TERM "$last_pid"
  i=0
  while kill -0 "$last_pid" 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  wait "$last_pid"
}

# --- find_package(wsv) ---------------------------------------------------
if cmake -S "$src/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_C_FLAGS="$cflags" >"$tmp/ex.log" 2>&1 &&
   cmake --build "$tmp/ex" >>"$tmp/ex.log" 2>&1; then
  ok "examples build with find_package(wsv)"
  export LD_LIBRARY_PATH="$libdir"
  start_server "$tmp/ex/echo_server" 0
  if [ -n "$port" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/" "hello wsv" 2>&1)
    rc=$?
    echo "$out" | grep -q "^received: hello wsv$" && [ $rc -eq 0 ] &&
      ok "echo_server echoes to client" || { echo "$out"; bad "echo_server echoes to client"; }
    stop_server && ok "echo_server exits 0 on SIGTERM" || bad "echo_server exits 0 on SIGTERM"
  else
    bad "echo_server printed its port"
  fi
  start_server "$tmp/ex/chat_server" 0 2
  if [ -n "$port" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/room" "hi all" 2>&1)
    echo "$out" | grep -q "^received: hi all$" &&
      ok "chat_server publishes to the sender's topic" || { echo "$out"; bad "chat_server publishes"; }
    stop_server && ok "chat_server exits 0 on SIGTERM" || bad "chat_server exits 0 on SIGTERM"
  else
    bad "chat_server printed its port"
  fi
  out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:1/" x 2>&1)
  [ $? -ne 0 ] && ok "client fails on a refused connection" || bad "client fails on a refused connection"
  # wsv::wsv_rt_static: the runtime and the core linked in.
  start_server "$tmp/ex/echo_server_static" 0
  if [ -n "$port" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/" static 2>&1)
    echo "$out" | grep -q "^received: static$" &&
      ok "echo_server_static (wsv::wsv_rt_static) echoes" ||
      { echo "$out"; bad "echo_server_static echoes"; }
    stop_server
  else
    bad "echo_server_static printed its port"
  fi
  needed "$tmp/ex/echo_server_static" | grep -q '^libwsv' &&
    bad "echo_server_static needs no libwsv*.so" ||
    ok "echo_server_static needs no libwsv*.so"
  # wsv::wsv and wsv::wsv_static: the core alone.
  out=$("$tmp/ex/version" 2>&1)
  [ $? -eq 0 ] && echo "$out" | grep -q "running with wsv $version" &&
    ok "version (wsv::wsv) agrees with its headers: $out" ||
    { echo "$out"; bad "version (wsv::wsv) agrees with its headers"; }
  needed "$tmp/ex/version" | grep -q '^libwsv\.so\.' &&
    ! needed "$tmp/ex/version" | grep -q '^libwsv_rt' &&
    ok "version needs libwsv.so and not libwsv_rt.so" ||
    bad "version needs libwsv.so and not libwsv_rt.so"
  out=$("$tmp/ex/version_static" 2>&1)
  [ $? -eq 0 ] && ! needed "$tmp/ex/version_static" | grep -q '^libwsv' &&
    ok "version_static (wsv::wsv_static) runs without libwsv.so" ||
    { echo "$out"; bad "version_static (wsv::wsv_static) runs without libwsv.so"; }
else
  cat "$tmp/ex.log"
  bad "examples build with find_package(wsv)"
fi

# --- pkg-config ------------------------------------------------------------
export PKG_CONFIG_PATH="$libdir/pkgconfig"
if [ -n "$version" ]; then
  v_core=$(pkg-config --modversion wsv)
  v_rt=$(pkg-config --modversion wsv-rt)
  [ "$v_core" = "$version" ] && [ "$v_rt" = "$version" ] &&
    ok "pkg-config: wsv and wsv-rt are version $version" ||
    bad "pkg-config: wsv $v_core and wsv-rt $v_rt, not $version"
fi
# has FLAGS WORD...: every WORD is one of FLAGS' words.
has() {
  flags=" $1 "
  shift
  for w in "$@"; do
    case "$flags" in *" $w "*) ;; *) return 1 ;; esac
  done
}
core_libs=$(pkg-config --libs wsv)
rt_libs=$(pkg-config --libs wsv-rt)
has "$core_libs" -lwsv && ! has "$core_libs" -lwsv_rt &&
  ! has "$core_libs" -lssl && ! has "$core_libs" -lz &&
  ok "pkg-config --libs wsv: the core alone ($core_libs)" ||
  bad "pkg-config --libs wsv: the core alone ($core_libs)"
has "$rt_libs" -lwsv_rt -lwsv && ! has "$rt_libs" -lssl &&
  ! has "$rt_libs" -lhiredis &&
  ok "pkg-config --libs wsv-rt: runtime and core ($rt_libs)" ||
  bad "pkg-config --libs wsv-rt: runtime and core ($rt_libs)"
core_static=$(pkg-config --static --libs wsv)
rt_static=$(pkg-config --static --libs wsv-rt)
has "$core_static" -lwsv -lz && ! has "$core_static" -lssl &&
  ok "pkg-config --static --libs wsv adds zlib ($core_static)" ||
  bad "pkg-config --static --libs wsv adds zlib ($core_static)"
has "$rt_static" -lwsv_rt -lwsv -lssl -lcrypto -lhiredis -lnghttp2 -lz -pthread &&
  ok "pkg-config --static --libs wsv-rt adds OpenSSL, hiredis, nghttp2, zlib, threads ($rt_static)" ||
  bad "pkg-config --static --libs wsv-rt adds OpenSSL, hiredis, nghttp2, zlib, threads ($rt_static)"
if cc -std=c11 $cflags "$src/examples/version.c" -o "$tmp/version_pc" \
     $(pkg-config --cflags --libs wsv) 2>"$tmp/pc.log" &&
   LD_LIBRARY_PATH="$libdir" "$tmp/version_pc" >"$tmp/pc.out" 2>&1; then
  ok "version builds and runs with pkg-config wsv ($(cat "$tmp/pc.out"))"
  ! needed "$tmp/version_pc" | grep -q '^libwsv_rt' &&
    ok "version (pkg-config wsv) needs no libwsv_rt.so" ||
    bad "version (pkg-config wsv) needs no libwsv_rt.so"
else
  cat "$tmp/pc.log" "$tmp/pc.out" 2>/dev/null
  bad "version builds and runs with pkg-config wsv"
fi
pc_flags=$(pkg-config --cflags --libs wsv-rt)
if cc -std=c11 $cflags "$src/examples/echo_server.c" -o "$tmp/echo_pc" $pc_flags \
     2>"$tmp/pc.log"; then
  ok "echo_server builds with pkg-config ($pc_flags)"
  LD_LIBRARY_PATH="$libdir" start_server "$tmp/echo_pc" 0
  if [ -n "$port" ] && [ -x "$tmp/ex/client" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/" pc 2>&1)
    echo "$out" | grep -q "^received: pc$" && ok "pkg-config build echoes" || bad "pkg-config build echoes"
    stop_server
  fi
else
  cat "$tmp/pc.log"
  bad "echo_server builds with pkg-config"
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
