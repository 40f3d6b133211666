#!/bin/bash
# The test command (README): installs dependencies, builds, and runs every
# test three ways, and the README's demo once:
#   1. release build (gcc):        unit + integration tests
#   2. demo:                       scripts/demo.sh run from a fresh clone of the
#                                  committed HEAD (its own build, no out/ yet),
#                                  counted as one test
#   3. ASan+UBSan build (gcc):     unit + integration tests
#   4. libFuzzer build (clang):    a short run of every fuzz target
# and ends with one line "N passed, N failed".  Exits non-zero if any test
# fails, any stage fails to configure or build, or ctest itself errors.
#
# Environment:
#   PN_FUZZ_SECONDS   seconds per fuzz target (default 15)
#   PN_TEST_STAGES    stages to run (default "release demo sanitize fuzz")
#   PN_TEST_JOBS      build parallelism, and the fuzz stage's (default: nproc)
#   PN_TEST_CTEST_JOBS  ctest -j of the release and sanitize stages (default:
#                     2 x PN_TEST_JOBS): most integration tests wait on
#                     timers and the network, so twice as many run at once;
#                     the CPU-heavy ones take 2 of these slots (PROCESSORS,
#                     tests/cost.txt), those that must run alone are
#                     RUN_SERIAL (pn_integration_test ... SERIAL)
#   PN_SKIP_DEPS=1    do not run scripts/deps.sh
#   PN_TEST_ISOLATE=0 run ctest in the host's network and mount namespaces
#   PN_TEST_RETRY_MAX  tests a stage may retry once, serially (default 3; 0: none)
# Integration tests (label "integration") create network namespaces and
# need root; run as root (CI does).  As root, each ctest runs in a private
# network namespace (only lo, up) with a private /run/netns, so test runs
# on a shared machine cannot collide on namespace or interface names and
# nothing they create outlives them.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${PN_TEST_JOBS:-$(nproc)}
CTEST_JOBS=${PN_TEST_CTEST_JOBS:-$((JOBS * 2))}
STAGES=${PN_TEST_STAGES:-release demo sanitize fuzz}
export PN_FUZZ_SECONDS=${PN_FUZZ_SECONDS:-15}
# Sanitizers: fail hard, with stacks; leaks are failures too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "${PN_SKIP_DEPS:-0}" != 1 ]; then
  scripts/deps.sh || { echo "deps.sh failed"; echo "0 passed, 1 failed"; exit 1; }
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "WARNING: not root: integration tests (network namespaces) will fail"
fi
# The OpenID Provider the OIDC tests run (npm oidc-provider, pinned by
# tests/oidc/package-lock.json).
(cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error) ||
  echo "WARNING: npm ci in tests/oidc failed: the OIDC tests will fail"
# The console's browser test drives Debian's chromium with playwright-core
# (pinned by tests/console/package-lock.json).
(cd tests/console && npm ci --no-audit --no-fund --loglevel=error) ||
  echo "WARNING: npm ci in tests/console failed: the console browser test will fail"
# The OpenAPI document's validator (@apidevtools/swagger-parser, pinned by
# tests/openapi/package-lock.json).
(cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error) ||
  echo "WARNING: npm ci in tests/openapi failed: the OpenAPI validation test will fail"

pass=0; fail=0
summary=()

ISOLATE=()
if [ "$(id -u)" -eq 0 ] && [ "${PN_TEST_ISOLATE:-1}" = 1 ] && command -v unshare >/dev/null &&
   unshare --mount --net --propagation private true 2>/dev/null; then
  # shellcheck disable=SC2016 # expanded by the inner shell
  ISOLATE=(unshare --mount --net --propagation private -- bash -c
    'mkdir -p /run/netns && mount -t tmpfs -o mode=755 pn-netns /run/netns &&
     ip link set lo up && exec "$@"' isolate)
  echo "tests run in a private network namespace (PN_TEST_ISOLATE=0 to disable)"
fi

# stage NAME BUILD-DIR EMPTY-OK CTEST-J CMAKE-ARGS... -- CTEST-ARGS...
# EMPTY-OK=1: a stage that selects no tests (e.g. no fuzz targets yet)
# passes with 0 tests; otherwise finding no tests is a failure.
# STAGE_TARGETS=tests: build only the executables of the tests the stage
# runs (their names), not the whole tree.
stage() {
  local name=$1 dir=$2 empty_ok=$3 cjobs=$4; shift 4
  local cargs=() targs=() btargs=() t0=$SECONDS
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  targs=("$@")
  mkdir -p "$dir"
  echo "=== $name: configure + build ($dir)"
  if ! cmake -S "$ROOT" -B "$dir" "${cargs[@]}" >"$dir.configure.log" 2>&1; then
    tail -40 "$dir.configure.log"
    echo "=== $name: CONFIGURE FAILED (log: $dir.configure.log)"
    fail=$((fail + 1)); summary+=("$name: configure failed"); return
  fi
  if [ "${STAGE_TARGETS:-}" = tests ]; then
    # shellcheck disable=SC2207 # test names: no spaces
    btargs=(--target $(ctest --test-dir "$dir" -N "${targs[@]}" 2>/dev/null |
      sed -nE 's/^ *Test +#[0-9]+: ([^ ]+)$/\1/p'))
    [ ${#btargs[@]} -gt 1 ] || btargs=()
  fi
  echo "=== $name: build ${btargs[*]:-(all)}" >"$dir.build.log"
  local tb=$SECONDS
  if ! cmake --build "$dir" -j"$JOBS" "${btargs[@]}" >>"$dir.build.log" 2>&1; then
    grep -E 'error|Error' "$dir.build.log" | head -40
    echo "=== $name: BUILD FAILED (log: $dir.build.log)"
    fail=$((fail + 1)); summary+=("$name: build failed"); return
  fi
  if [ "$empty_ok" = 1 ]; then
    local n
    n=$(ctest --test-dir "$dir" -N "${targs[@]}" 2>/dev/null | sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')
    if [ "${n:-x}" = 0 ]; then
      echo "=== $name: no tests selected (ok)"
      summary+=("$name: no tests (ok)"); return
    fi
  fi
  echo "=== $name: built in $((SECONDS - tb)) s; ctest -j$cjobs ${targs[*]}"
  "${ISOLATE[@]}" ctest --test-dir "$dir" --output-on-failure --no-tests=error -j"$cjobs" \
    "${targs[@]}" 2>&1 | tee "$dir.ctest.log"
  local rc=${PIPESTATUS[0]}
  # ctest's summary: "NN% tests passed, F tests failed out of T"
  local line total failed
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir.ctest.log" | tail -1)
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then
    echo "=== $name: ctest produced no summary (rc=$rc)"
    fail=$((fail + 1)); summary+=("$name: ctest error rc=$rc"); return
  fi
  # One retry, serially, of what failed: an integration test that failed
  # from load on a 2-core machine passes alone; one that fails again is a
  # failure.  Either way the first failure stays in the log and summary.
  if [ "${failed:-0}" -gt 0 ] && [ "$failed" -le "${PN_TEST_RETRY_MAX:-3}" ]; then
    local names again
    names=$(sed -nE 's/^[[:space:]]+[0-9]+ - ([^ ]+) .*/\1/p' "$dir.ctest.log" | tr '\n' ' ')
    echo "=== $name: retrying serially what failed: $names"
    "${ISOLATE[@]}" ctest --test-dir "$dir" --output-on-failure --rerun-failed -j1 \
      2>&1 | tee "$dir.ctest-retry.log"
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir.ctest-retry.log" | tail -1)
    if [ -n "$line" ]; then
      again=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
      [ "$again" -lt "$failed" ] && summary+=("$name: FLAKY (failed, then passed alone): $names")
      failed=$again
      [ "$again" = 0 ] && rc=0
    fi
  fi
  pass=$((pass + total - failed)); fail=$((fail + failed))
  # ctest failing for another reason (e.g. a bad argument) with 0 test failures
  if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
    fail=$((fail + 1)); summary+=("$name: ctest rc=$rc")
  fi
  summary+=("$name: $((total - failed)) passed, $failed failed ($((SECONDS - t0))s)")
}

# The README's front door, as a newcomer runs it: a fresh clone (no out/,
# nothing built), then `bash scripts/demo.sh`.  Dependencies were installed
# above, so the demo skips that step.  The clone is of the committed HEAD
# (CI tests a clean clone anyway); uncommitted changes are not in it.
demo_stage() {
  local t0=$SECONDS d log=$ROOT/out/demo-stage.log rc
  d=$(mktemp -d /tmp/pn-demo-clone.XXXXXX)
  echo "=== demo: fresh clone of $(git -C "$ROOT" log --oneline -1 2>/dev/null) into $d"
  # (safe.directory: the checkout may belong to another user than root)
  if ! { git -c safe.directory='*' clone -q --no-checkout "$ROOT" "$d/postern" &&
         git -c safe.directory='*' -C "$d/postern" fetch -q "$ROOT" HEAD &&
         git -C "$d/postern" checkout -q --detach FETCH_HEAD; } >"$log" 2>&1; then
    cat "$log"
    echo "=== demo: CLONE FAILED"
    fail=$((fail + 1)); summary+=("demo: clone failed"); rm -rf "$d"; return
  fi
  # A run tag of its own: /etc/netns/<ns> is shared with the host.
  PN_SKIP_DEPS=1 PN_TAG=dt$$ "${ISOLATE[@]}" bash "$d/postern/scripts/demo.sh" >>"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); summary+=("demo: 1 passed, 0 failed ($((SECONDS - t0))s)")
  else
    tail -60 "$log"
    echo "=== demo: FAILED rc=$rc (log: $log)"
    fail=$((fail + 1)); summary+=("demo: 0 passed, 1 failed ($((SECONDS - t0))s)")
  fi
  rm -rf "$d"
}

mkdir -p "$ROOT/out"
for s in $STAGES; do
  case $s in
  release)
    stage release "$ROOT/out/build" 0 "$CTEST_JOBS" -DCMAKE_BUILD_TYPE=RelWithDebInfo -- -LE 'fuzz|bench' ;;
  sanitize)
    stage sanitize "$ROOT/out/build-asan" 0 "$CTEST_JOBS" -DCMAKE_BUILD_TYPE=Debug -DPN_SANITIZE=ON \
      -- -LE 'fuzz|bench' ;;
  fuzz)
    # (only the fuzz targets: the release stage built everything already;
    # each fuzzer keeps a core busy, so ctest -j is the core count)
    STAGE_TARGETS=tests stage fuzz "$ROOT/out/build-fuzz" 1 "$JOBS" -DCMAKE_C_COMPILER=clang \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPN_FUZZ=ON -- -L fuzz ;;
  demo)
    demo_stage ;;
  *)
    echo "unknown stage $s"; fail=$((fail + 1)); summary+=("$s: unknown stage") ;;
  esac
done

echo "=== summary"
[ ${#summary[@]} -gt 0 ] && printf '  %s\n' "${summary[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
