# Picky warnings for every wsv target (in the spirit of curl's
# PickyWarnings.cmake).  WSV_WERROR turns them into errors (off by default;
# scripts/test and scripts/coverage pass -DWSV_WERROR=ON).
function(wsv_picky_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wmissing-prototypes -Wstrict-prototypes -Wold-style-definition
    -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wformat=2
    -Wundef -Wnull-dereference -Wimplicit-fallthrough)
  if(WSV_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
