#!/bin/bash
# The controller starts while PostgreSQL is down, answers 503
# store_unavailable, and serves normally once the database is back, without
# a restart (the schema check and migration run on the first connection).
#
#   controller (127.0.0.1:any) --Unix socket--> private PostgreSQL 15 (pg_cluster.sh)
set -u
BIN=${PN_BIN:-${1:-.}/src/app/postern}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/pn-pg-down.XXXXXX)
PID=
FAILS=0
CHECKS=0
. "$HERE/pg_cluster.sh"
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	pg_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
ok() { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
check() { local d=$1; shift; if "$@"; then ok; else fail "$d"; fi; }
req() { # req METHOD PATH [BODY]: ST, BODY_OUT
	local args=(-sS --max-time 20 --cacert "$TMP/ctl/ca.crt" --tlsv1.3 -o "$TMP/resp" -w '%{http_code}'
		-X "$1" -H "Authorization: Bearer $KEY")
	[ -n "${3:-}" ] && args+=(-H "Content-Type: application/json" --data-binary "$3")
	ST=$(curl "${args[@]}" "$URL$2" 2>/dev/null)
	BODY_OUT=$(cat "$TMP/resp" 2>/dev/null)
}

pg_available || { echo "PostgreSQL 15 not installed"; exit 1; }
pg_start || { echo "could not start PostgreSQL"; exit 1; }
"$BIN" controller init --data "$TMP/ctl" --api-listen 127.0.0.1:0 --hostname localhost \
	--store "$PG_URL" >"$TMP/init.out" 2>"$TMP/init.err" || { cat "$TMP/init.err"; exit 1; }
KEY=$(tail -1 "$TMP/init.out")

pg_kill
"$BIN" controller run --data "$TMP/ctl" >"$TMP/run.out" 2>"$TMP/run.err" &
PID=$!
for _ in $(seq 1 600); do # generous: a loaded machine, and libpq's connect attempt
	grep -q '^url=' "$TMP/run.out" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.05
done
URL=$(sed -n 's/^url=//p' "$TMP/run.out")
check "controller starts with the database down" test -n "$URL"
[ -n "$URL" ] || { cat "$TMP/run.err" >&2; exit 1; }
check "the start is logged as unreachable_at_open" grep -q unreachable_at_open "$TMP/run.err"
req GET /v1/networks
check "503 while the database is down (got $ST)" test "$ST" = 503
check "503 says store_unavailable" grep -q store_unavailable <<<"$BODY_OUT"
req POST /v1/networks '{"name":"while-down"}'
check "a change is refused with 503 (got $ST)" test "$ST" = 503

pg_start_again || { echo "PostgreSQL did not restart"; exit 1; }
for _ in $(seq 1 300); do req GET /v1/networks; [ "$ST" = 200 ] && break; sleep 0.1; done
check "API recovers without restart (got $ST)" test "$ST" = 200
check "the schema was checked on the first connection" grep -q schema_ready "$TMP/run.err"
req POST /v1/networks '{"name":"after-up"}'
check "changes are accepted again (got $ST)" test "$ST" = 201
check "nothing written while down" test "$(pg_sql "SELECT COUNT(*) FROM networks WHERE name = 'while-down'")" = 0

kill -TERM "$PID"; wait "$PID"; RC=$?; PID=
check "controller exits 0 on SIGTERM (rc=$RC)" test "$RC" -eq 0
if grep -q 'Sanitizer' "$TMP/run.err"; then
	fail "sanitizer report"; grep -A30 'Sanitizer' "$TMP/run.err" | head -60 >&2
fi
echo "pg_down_start: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
