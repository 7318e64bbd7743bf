# Sources.cmake - every file the build compiles or installs, listed by hand,
# one per line, sorted, relative to the top of the repository.  A new file
# goes into its list here (a one-line change); a .c file in src/, src/rt/,
# tools/, fuzz/, tests/support/, a tests/*_test.c or an include/wsv/*.h that
# is in no list stops the configure step (wsv_check_sources, below), so a
# forgotten file cannot silently drop out of the build.

# The public headers besides include/wsv.h, installed into include/wsv/
# (wsv/version.h is generated from include/wsv/version.h.in).
set(WSV_PUBLIC_HEADERS
  include/wsv/broker.h
  include/wsv/common.h
  include/wsv/conn.h
  include/wsv/deflate.h
  include/wsv/error.h
  include/wsv/export.h
  include/wsv/frame.h
  include/wsv/hs_client.h
  include/wsv/hs_server.h
  include/wsv/http.h
  include/wsv/origin.h
  include/wsv/rt.h
  include/wsv/url.h
  include/wsv/utf8.h
)

# The sans-I/O core: libwsv (wsv_static, wsv_shared).
set(WSV_CORE_SOURCES
  src/accept.c
  src/base64.c
  src/conn.c
  src/deflate.c
  src/error.c
  src/frame.c
  src/hs_client.c
  src/hs_server.c
  src/http.c
  src/mem.c
  src/origin.c
  src/random.c
  src/sha1.c
  src/url.c
  src/utf8.c
  src/version.c
)

# The runtime: libwsv_rt (wsv_rt_static, wsv_rt_shared).
set(WSV_RT_SOURCES
  src/rt/broker.c
  src/rt/budget.c
  src/rt/client.c
  src/rt/h2.c
  src/rt/listen.c
  src/rt/loop.c
  src/rt/memcache.c
  src/rt/proxy.c
  src/rt/pubsub.c
  src/rt/redis.c
  src/rt/redis_config.c
  src/rt/server.c
  src/rt/timer.c
  src/rt/tls.c
  src/rt/transport.c
  src/rt/upgrade.c
  src/rt/util.c
  src/rt/ws.c
)

# The wsv command.
set(WSV_TOOL_SOURCES
  tools/bench.c
  tools/bench_conn.c
  tools/bench_fanout.c
  tools/bench_report.c
  tools/bench_run.c
  tools/bench_tls.c
  tools/bench_wire.c
  tools/bridge.c
  tools/bridge_listen.c
  tools/cli.c
  tools/connect.c
  tools/connect_opts.c
  tools/demo.c
  tools/exec.c
  tools/exec_env.c
  tools/exec_spawn.c
  tools/main.c
  tools/page.c
  tools/probe.c
  tools/probe_grade.c
  tools/probe_h2.c
  tools/probe_h2_net.c
  tools/probe_net.c
  tools/probe_report.c
  tools/serve.c
  tools/serve_opts.c
  tools/static.c
  tools/webpath.c
)

# Load generators of bench/ that the build makes (the echo servers there
# are built by bench/run itself): each bench/NAME.c is the executable NAME,
# on the static libraries and the public headers only (bench/load.c, the
# yardstick, uses libc alone and also builds with `cc -O2`).
set(WSV_BENCH_SOURCES
  bench/h2_load.c
  bench/load.c
)

# Unit tests (cmocka): each tests/NAME_test.c is the executable and ctest
# test NAME_test, linked with WSV_TEST_SUPPORT and the static libraries.
set(WSV_TEST_SOURCES
  tests/abi_test.c
  tests/accept_test.c
  tests/base64_test.c
  tests/close_test.c
  tests/conn_bulk_test.c
  tests/conn_test.c
  tests/deflate_test.c
  tests/error_test.c
  tests/frame_test.c
  tests/hs_client_test.c
  tests/hs_h2_test.c
  tests/hs_server_test.c
  tests/http_test.c
  tests/origin_test.c
  tests/rt_broker_test.c
  tests/rt_bulk_test.c
  tests/rt_client_test.c
  tests/rt_h2_test.c
  tests/rt_loop_test.c
  tests/rt_pause_test.c
  tests/rt_proxy_test.c
  tests/rt_pubsub_test.c
  tests/rt_redis_test.c
  tests/rt_server_test.c
  tests/rt_tls_test.c
  tests/rt_ws_test.c
  tests/sha1_test.c
  tests/url_test.c
  tests/utf8_test.c
  tests/version_test.c
)
set(WSV_TEST_SUPPORT
  tests/support/conn_util.c
  tests/support/guard.c
  tests/support/rt_fixture.c
)

# libFuzzer targets (-DWSV_FUZZ=ON): each fuzz/NAME.c is fuzz_NAME, with its
# seed corpus in fuzz/corpus/NAME/.
set(WSV_FUZZ_SOURCES
  fuzz/conn.c
  fuzz/extensions.c
  fuzz/frame.c
  fuzz/host.c
  fuzz/hs_h2.c
  fuzz/inflate.c
  fuzz/origin.c
  fuzz/proxy.c
  fuzz/redis_nodes.c
  fuzz/request.c
  fuzz/response.c
  fuzz/url.c
  fuzz/utf8.c
)

# wsv_check_sources() - fail the configure step, naming the file and the
# list, when a file on disk is in no list or a listed file is missing.  The
# globs here only check; they never feed a build (CONFIGURE_DEPENDS: a new
# file makes the next build configure again, so it is caught there too).
function(wsv_check_sources)
  set(listed ${WSV_PUBLIC_HEADERS} ${WSV_CORE_SOURCES} ${WSV_RT_SOURCES}
    ${WSV_TOOL_SOURCES} ${WSV_TEST_SOURCES} ${WSV_TEST_SUPPORT}
    ${WSV_FUZZ_SOURCES} ${WSV_BENCH_SOURCES})
  set(where
    "include/wsv/*.h" WSV_PUBLIC_HEADERS
    "src/*.c" WSV_CORE_SOURCES
    "src/rt/*.c" WSV_RT_SOURCES
    "tools/*.c" WSV_TOOL_SOURCES
    "tests/*_test.c" WSV_TEST_SOURCES
    "tests/support/*.c" WSV_TEST_SUPPORT
    "fuzz/*.c" WSV_FUZZ_SOURCES)
  set(problems "")
  list(LENGTH where n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET where ${i} pattern)
    list(GET where ${j} var)
    file(GLOB found CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
      ${PROJECT_SOURCE_DIR}/${pattern})
    foreach(f ${found})
      if(NOT f IN_LIST listed)
        string(APPEND problems
          "\n  ${f} is in no source list: add it to ${var} in cmake/Sources.cmake")
      endif()
    endforeach()
  endforeach()
  foreach(f ${listed})
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/${f})
      string(APPEND problems
        "\n  ${f} is listed in cmake/Sources.cmake but does not exist: remove or rename it there")
    endif()
  endforeach()
  if(problems)
    message(FATAL_ERROR "wsv: the source lists and the tree disagree:${problems}")
  endif()
endfunction()
