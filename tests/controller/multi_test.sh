#!/bin/bash
# Growing from one controller to several, on a private PostgreSQL cluster:
#
#   controller A (SQLite) --migrate-store--> PostgreSQL <-- controller B (join)
#
# Covers: migrate-store gives an identical `postern ctl --json` export
# (every object list, audit, flows, status) before and after; a second
# migrate-store into the same database is refused and changes nothing;
# export-identity writes only encrypted keys (0600); join refuses a wrong
# passphrase and a database without the network; the joined controller
# serves the same network (same CA, same admin keys, changes visible both
# ways); its ca.key is written 0600 like init's.
set -u
BIN=${PN_BIN:-${1:-.}/src/app/postern}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/pg_cluster.sh"
TMP=$(mktemp -d /tmp/pn-ctl-multi.XXXXXX)
PIDS=
FAILS=0
CHECKS=0
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	pg_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
ok() { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
check() { local d=$1; shift; if "$@"; then ok; else fail "$d"; fi; }

pg_start || { echo "could not start PostgreSQL"; exit 1; }

# start NAME DATADIR -> sets URL_<NAME>, adds the pid to PIDS
start() {
	local n=$1 d=$2
	rm -f "$TMP/$n.out"
	"$BIN" controller run --data "$d" --api-listen 127.0.0.1:0 >"$TMP/$n.out" 2>>"$TMP/$n.err" &
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
	for _ in $(seq 1 200); do grep -q '^url=' "$TMP/$n.out" 2>/dev/null && break; sleep 0.05; done
	eval "URL_$n=$(sed -n 's/^url=//p' "$TMP/$n.out")"
	[ -n "$(sed -n 's/^url=//p' "$TMP/$n.out")" ] || { echo "controller $n did not start"; cat "$TMP/$n.err"; exit 1; }
}
stop() { local p; eval "p=\$PID_$1"; kill -TERM "$p"; wait "$p"; }

# export URL FILE: every list the CLI shows, as JSON
export_all() {
	local u=$1 f=$2 o
	: >"$f"
	for o in network resource group user member grant connector relay service-account admin-key credential; do
		echo "== $o" >>"$f"
		"$BIN" ctl --url "$u" --json "$o" list >>"$f" || echo "ctl $o list failed" >>"$f"
	done
	echo "== audit" >>"$f"; "$BIN" ctl --url "$u" --json audit --limit 1000 >>"$f"
	echo "== flows" >>"$f"; "$BIN" ctl --url "$u" --json flows --limit 1000 >>"$f"
	echo "== status" >>"$f"
	"$BIN" ctl --url "$u" --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("store",None); d.pop("principal",None); print(json.dumps(d, sort_keys=True))' >>"$f"
}

# ---- controller A on SQLite, with some of everything ----
"$BIN" controller init --data "$TMP/a" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
	>"$TMP/init.out" 2>"$TMP/init.err" || { cat "$TMP/init.err"; exit 1; }
KEY=$(tail -1 "$TMP/init.out")
export POSTERN_API_KEY=$KEY POSTERN_CA_CERT=$TMP/a/ca.crt
start A "$TMP/a"
C() { "$BIN" ctl --url "$URL_A" "$@" >/dev/null || fail "ctl $*"; }
C network add corp; C network add lab
C resource add db --network corp --address db.corp.example --ports tcp/5432
C resource add web --network corp --address 10.0.0.0/24 --ports tcp/80,tcp/443,icmp
C group add eng; C group add Ops; C group add admins
C user add alice --email alice@corp.example; C user add Bob; C user add carol
C member add eng --user alice; C member add eng --user Bob; C member add Ops --user carol
C grant add eng db; C grant add eng web; C grant add Ops web
C service-account add ci --group eng
C relay add r1 --udp 127.0.0.1:3478
C admin-key add viewer --role readonly
C user disable carol
TOK=$("$BIN" ctl --url "$URL_A" connector add corp c1 | tail -1)
openssl genpkey -algorithm ed25519 -out "$TMP/c.key" 2>/dev/null
openssl req -new -key "$TMP/c.key" -subj /CN=c1 -out "$TMP/c.csr" 2>/dev/null
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
	"$TOK" "$TMP/c.csr" >"$TMP/enroll.json"
ST=$(curl -sS --cacert "$TMP/a/ca.crt" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @"$TMP/enroll.json" "$URL_A/v1/enroll")
check "connector enrolled on A ($ST)" test "$ST" = 201
export_all "$URL_A" "$TMP/before.txt"
stop A

# ---- migrate-store ----
"$BIN" controller migrate-store --data "$TMP/a" --store "$PG_URL" >"$TMP/mig.out" 2>"$TMP/mig.err"
check "migrate-store exits 0 ($(tail -1 "$TMP/mig.err"))" test $? -eq 0
check "config.json names the database" grep -q '"store": "postgresql://' "$TMP/a/config.json"
check "config.json still 0600" test "$(stat -c %a "$TMP/a/config.json")" = 600
start A "$TMP/a"
grep -q 'store=postgres' "$TMP/A.err"; check "A now runs on PostgreSQL" test $? -eq 0
export_all "$URL_A" "$TMP/after.txt"
if cmp -s "$TMP/before.txt" "$TMP/after.txt"; then ok; else
	fail "ctl --json export differs after migrate-store"; diff "$TMP/before.txt" "$TMP/after.txt" | head -20 >&2
fi
check "export is not trivially empty" test "$(grep -c '"name"' "$TMP/before.txt")" -gt 15
N0=$(pg_sql "SELECT COUNT(*) FROM audit")
cp "$TMP/a/config.json" "$TMP/config.saved"
# the SQLite file is still there: a second migration into the same database is refused
python3 - "$TMP/a/config.json" <<'EOF'
import json, sys
p = sys.argv[1]; d = json.load(open(p)); d.pop("store"); open(p, "w").write(json.dumps(d))
EOF
"$BIN" controller migrate-store --data "$TMP/a" --store "$PG_URL" >/dev/null 2>&1
check "migrate-store into a database holding a network refused (exit 2)" test $? -eq 2
check "... and nothing written" test "$(pg_sql "SELECT COUNT(*) FROM audit")" = "$N0"
cp "$TMP/config.saved" "$TMP/a/config.json"

# ---- export-identity / join ----
printf 'correct horse battery staple\n' >"$TMP/pass"
printf 'wrong passphrase here\n' >"$TMP/wrong"
"$BIN" controller export-identity --data "$TMP/a" --out "$TMP/bundle.json" --passphrase-file "$TMP/pass" >/dev/null
check "export-identity exits 0" test $? -eq 0
check "bundle 0600" test "$(stat -c %a "$TMP/bundle.json")" = 600
check "bundle holds two encrypted keys" test "$(grep -c 'BEGIN ENCRYPTED PRIVATE KEY' "$TMP/bundle.json")" = 2
check "bundle holds no clear key" test "$(grep -c 'BEGIN PRIVATE KEY' "$TMP/bundle.json")" = 0
POSTERN_BUNDLE_PASSPHRASE=short "$BIN" controller export-identity --data "$TMP/a" --out "$TMP/b2.json" >/dev/null 2>&1
check "short passphrase refused (exit 2)" test $? -eq 2
"$BIN" controller join --data "$TMP/b" --bundle "$TMP/bundle.json" --passphrase-file "$TMP/wrong" >/dev/null 2>&1
check "join with a wrong passphrase fails" test $? -ne 0
check "... leaving no data dir" test ! -e "$TMP/b"
"$BIN" controller join --data "$TMP/b" --bundle "$TMP/bundle.json" --passphrase-file "$TMP/pass" \
	--store "postgresql:///nosuchdb?host=$PG_DIR/sock&user=postern" >/dev/null 2>&1
check "join to an unreachable database fails" test $? -ne 0
check "... leaving no data dir" test ! -e "$TMP/b"
"$BIN" controller join --data "$TMP/b" --bundle "$TMP/bundle.json" --passphrase-file "$TMP/pass" \
	>"$TMP/join.out" 2>"$TMP/join.err"
check "join exits 0 ($(tail -1 "$TMP/join.err"))" test $? -eq 0
check "joined dir 0700" test "$(stat -c %a "$TMP/b")" = 700
check "joined ca.key 0600" test "$(stat -c %a "$TMP/b/ca.key")" = 600
check "joined api.key 0600" test "$(stat -c %a "$TMP/b/api.key")" = 600
check "same CA" cmp -s "$TMP/a/ca.crt" "$TMP/b/ca.crt"
check "no SQLite file in the joined dir" test ! -e "$TMP/b/controller.db"
start B "$TMP/b"
export_all "$URL_B" "$TMP/b.txt"
if cmp -s "$TMP/after.txt" "$TMP/b.txt"; then ok; else
	fail "B's export differs from A's"; diff "$TMP/after.txt" "$TMP/b.txt" | head -20 >&2
fi
"$BIN" ctl --url "$URL_B" group add made-on-b >/dev/null; check "change through B" test $? -eq 0
"$BIN" ctl --url "$URL_A" group show made-on-b >/dev/null; check "... visible on A" test $? -eq 0
"$BIN" ctl --url "$URL_A" user delete Bob >/dev/null; check "change through A" test $? -eq 0
"$BIN" ctl --url "$URL_B" user show Bob >/dev/null 2>&1; check "... visible on B" test $? -eq 4
stop A; stop B; PIDS=
for n in A B; do
	if grep -q Sanitizer "$TMP/$n.err"; then fail "sanitizer report ($n)"; grep -A30 Sanitizer "$TMP/$n.err" | head -40 >&2; else ok; fi
done
echo "multi_test: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
