#!/bin/bash
# The test command (README): installs dependencies, builds, and runs every
# test three ways:
#   1. release build: unit + integration tests
#   2. ASan+UBSan build (gcc): unit + integration tests
#   3. libFuzzer build (clang): a short run of every fuzz target
# Ends with one line "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc)
export PN_FUZZ_SECONDS=${PN_FUZZ_SECONDS:-15}

scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

pass=0; fail=0
stage() { # name builddir cmake-args... -- ctest-args...
  local name=$1 dir=$2; shift 2
  local cargs=() targs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift; targs=("$@")
  echo "=== $name: configure + build ($dir)"
  if ! cmake -S "$ROOT" -B "$dir" "${cargs[@]}" >"$dir.configure.log" 2>&1 ||
     ! cmake --build "$dir" -j"$JOBS" >"$dir.build.log" 2>&1; then
    tail -40 "$dir.configure.log" "$dir.build.log" 2>/dev/null
    echo "=== $name: BUILD FAILED"; fail=$((fail + 1)); return
  fi
  echo "=== $name: ctest ${targs[*]}"
  ctest --test-dir "$dir" --output-on-failure "${targs[@]}" 2>&1 | tee "$dir.ctest.log"
  local p f
  p=$(grep -Eo '[0-9]+ tests passed|[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$dir.ctest.log" | tail -1)
  local total failed
  total=$(grep -Eo 'tests failed out of [0-9]+' "$dir.ctest.log" | tail -1 | grep -Eo '[0-9]+$')
  failed=$(grep -Eo '[0-9]+ tests failed out of' "$dir.ctest.log" | tail -1 | grep -Eo '^[0-9]+')
  total=${total:-0}; failed=${failed:-0}
  if [ "$total" = 0 ] && ! grep -q "No tests were found" "$dir.ctest.log"; then
    fail=$((fail + 1)); return
  fi
  pass=$((pass + total - failed)); fail=$((fail + failed))
}

mkdir -p "$ROOT/out"
stage release "$ROOT/out/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -- -LE fuzz
stage sanitize "$ROOT/out/build-asan" -DCMAKE_BUILD_TYPE=Debug -DPN_SANITIZE=ON -- -LE "fuzz|bench"
stage fuzz "$ROOT/out/build-fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPN_FUZZ=ON -- -L fuzz

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
