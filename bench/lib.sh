# shellcheck shell=bash
# Shared by the bench scripts, sourced after scripts/lib.sh: builds what a bench needs, also
# from a clean clone.
#   GANTRY_BUILD_DIR  build directory (default build/)
build=${GANTRY_BUILD_DIR:-build}

# bench_build TARGET...: configures $build with -DGANTRY_BENCH=ON when it has no cache yet or
# was configured without it (the bench programs are not built by default), then builds only
# TARGETs. The build's output goes to $build/bench-build.log; on failure its tail is printed.
bench_build() {
  if [[ ! -f $build/CMakeCache.txt ]]; then
    local launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    log "configuring $build (-DGANTRY_BENCH=ON)"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGANTRY_BENCH=ON "${launcher[@]}" \
      >/dev/null
  elif ! grep -qx 'GANTRY_BENCH:BOOL=ON' "$build/CMakeCache.txt"; then
    log "configuring $build with -DGANTRY_BENCH=ON"
    cmake -S . -B "$build" -DGANTRY_BENCH=ON >/dev/null
  fi
  log "building $* (the first build takes minutes)"
  if ! cmake --build "$build" -j2 --target "$@" >"$build/bench-build.log" 2>&1; then
    tail -n 30 "$build/bench-build.log" >&2
    die "building $* failed (whole log: $build/bench-build.log)"
  fi
}
