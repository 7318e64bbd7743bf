# bench/cpu.sh - sourced by bench/run and bench/fanout: the CPU time the
# servers and the load generator use, so that every figure can be read
# beside the CPU share behind it (a generator near 100 % measures itself).

CPU_HZ=$(getconf CLK_TCK)

# cpu_ticks PID...: utime + stime of live processes, in clock ticks.
cpu_ticks() {
  local p sum=0 f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    sum=$((sum + ${f% *} + ${f#* }))
  done
  echo "$sum"
}

# cpu_children_s FILE: user + system seconds of the children this shell
# has waited for so far (bash's `times`, second line: "0m1.250s 0m3.500s").
# Call it as `cpu_children_s F; v=$(cat F)`, not inside $(...): a
# subshell has children of its own.
cpu_children_s() {
  times >"$1.times"
  tail -1 "$1.times" | awk '{
    s = 0
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] }
    printf "%.3f\n", s
  }' >"$1"
}
