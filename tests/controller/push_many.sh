#!/bin/bash
# 2,000 push subscribers on one controller, all from 127.0.0.1, and a grant
# removed and restored: every subscriber must receive both changes.  The
# smaller instance of bench/controller/bench_push_subscribers (which also
# prints latency and memory; docs/benchmarks.md has the 10,000 figures).
#
#   bench process (127.0.0.1): 2,000 TLS push streams, 40 client credentials + 4 connectors
#        |  loopback
#   controller child process (127.0.0.1:any, SQLite)
#
# Behaviour only (no timing assertion): the old server, a thread per
# connection with 128 connections per source address, never brings them up.
# A sanitizer build runs 500 subscribers (still far past the old per-source
# cap): its TLS handshakes alone would take minutes for 2,000.
set -u
BUILD=${1:-.}
TOOL=$BUILD/bench/controller/bench_push_subscribers
[ -x "$TOOL" ] || { echo "missing $TOOL"; exit 1; }
export PN_BENCH_TIMEOUT_S=${PN_BENCH_TIMEOUT_S:-240}
N=2000
grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && N=500
OUT=$(mktemp /tmp/pn-push-many.XXXXXX)
trap 'rm -f "$OUT"' EXIT
"$TOOL" "$N" 40 4 2 >"$OUT" 2>"$OUT.err"
RC=$?
grep -v ' INFO ' "$OUT.err" | tail -30 >&2
rm -f "$OUT.err"
cat "$OUT"
if [ "$RC" -ne 0 ]; then
	echo "FAIL: not every subscriber received every change (rc=$RC)"
	exit 1
fi
grep -q "^controller: $N push subscribers" "$OUT" || { echo "FAIL: no summary"; exit 1; }
echo "push_many: $N subscribers from one address received both changes"
