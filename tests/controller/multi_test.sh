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
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh" "${1:?build dir}" ctl-multi
BIN=$PN_BIN
. "$HERE/pg_cluster.sh"
pn_at_exit pg_stop

pg_start || { echo "could not start PostgreSQL"; exit 1; }

# start NAME DATADIR: the controller (log $W/NAME.log), sets URL_<NAME>, PID_<NAME>
start() { pn_ctl_local "$1" "$2" || pn_finish; }
stop() { local p; eval "p=\$PID_$1"; pn_stop "$p" 10; }

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
"$BIN" controller init --data "$W/a" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
	>"$W/init.out" 2>"$W/init.err" || { cat "$W/init.err"; exit 1; }
KEY=$(tail -1 "$W/init.out")
export POSTERN_API_KEY=$KEY POSTERN_CA_CERT=$W/a/ca.crt
start A "$W/a"
C() { "$BIN" ctl --url "$URL_A" "$@" >/dev/null || bad "ctl $*"; }
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
openssl genpkey -algorithm ed25519 -out "$W/c.key" 2>/dev/null
openssl req -new -key "$W/c.key" -subj /CN=c1 -out "$W/c.csr" 2>/dev/null
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
	"$TOK" "$W/c.csr" >"$W/enroll.json"
ST=$(curl -sS --cacert "$W/a/ca.crt" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @"$W/enroll.json" "$URL_A/v1/enroll")
check "connector enrolled on A ($ST)" test "$ST" = 201
export_all "$URL_A" "$W/before.txt"
stop A

# ---- migrate-store ----
"$BIN" controller migrate-store --data "$W/a" --store "$PG_URL" >"$W/mig.out" 2>"$W/mig.err"
rc=$? # (before the $(...) below, which sets $?)
check "migrate-store exits 0 ($(tail -1 "$W/mig.err"))" test $rc -eq 0
check "config.json names the database" grep -q '"store": "postgresql://' "$W/a/config.json"
check "config.json still 0600" test "$(stat -c %a "$W/a/config.json")" = 600
start A "$W/a"
grep -q 'store=postgres' "$W/A.log"; check "A now runs on PostgreSQL" test $? -eq 0
export_all "$URL_A" "$W/after.txt"
if cmp -s "$W/before.txt" "$W/after.txt"; then ok "ctl --json export identical after migrate-store"; else
	bad "ctl --json export differs after migrate-store"; diff "$W/before.txt" "$W/after.txt" | head -20 >&2
fi
check "export is not trivially empty" test "$(grep -c '"name"' "$W/before.txt")" -gt 15
N0=$(pg_sql "SELECT COUNT(*) FROM audit")
cp "$W/a/config.json" "$W/config.saved"
# the SQLite file is still there: a second migration into the same database is refused
python3 - "$W/a/config.json" <<'EOF'
import json, sys
p = sys.argv[1]; d = json.load(open(p)); d.pop("store"); open(p, "w").write(json.dumps(d))
EOF
"$BIN" controller migrate-store --data "$W/a" --store "$PG_URL" >/dev/null 2>&1
check "migrate-store into a database holding a network refused (exit 2)" test $? -eq 2
check "... and nothing written" test "$(pg_sql "SELECT COUNT(*) FROM audit")" = "$N0"
cp "$W/config.saved" "$W/a/config.json"

# ---- export-identity / join ----
printf 'correct horse battery staple\n' >"$W/pass"
printf 'wrong passphrase here\n' >"$W/wrong"
"$BIN" controller export-identity --data "$W/a" --out "$W/bundle.json" --passphrase-file "$W/pass" >/dev/null
check "export-identity exits 0" test $? -eq 0
check "bundle 0600" test "$(stat -c %a "$W/bundle.json")" = 600
check "bundle holds two encrypted keys" test "$(grep -c 'BEGIN ENCRYPTED PRIVATE KEY' "$W/bundle.json")" = 2
check "bundle holds no clear key" test "$(grep -c 'BEGIN PRIVATE KEY' "$W/bundle.json")" = 0
POSTERN_BUNDLE_PASSPHRASE=short "$BIN" controller export-identity --data "$W/a" --out "$W/b2.json" >/dev/null 2>&1
check "short passphrase refused (exit 2)" test $? -eq 2
"$BIN" controller join --data "$W/b" --bundle "$W/bundle.json" --passphrase-file "$W/wrong" >/dev/null 2>&1
check "join with a wrong passphrase fails" test $? -ne 0
check "... leaving no data dir" test ! -e "$W/b"
"$BIN" controller join --data "$W/b" --bundle "$W/bundle.json" --passphrase-file "$W/pass" \
	--store "postgresql:///nosuchdb?host=$PG_DIR/sock&user=postern" >/dev/null 2>&1
check "join to an unreachable database fails" test $? -ne 0
check "... leaving no data dir" test ! -e "$W/b"
"$BIN" controller join --data "$W/b" --bundle "$W/bundle.json" --passphrase-file "$W/pass" \
	>"$W/join.out" 2>"$W/join.err"
rc=$?
check "join exits 0 ($(tail -1 "$W/join.err"))" test $rc -eq 0
check "joined dir 0700" test "$(stat -c %a "$W/b")" = 700
check "joined ca.key 0600" test "$(stat -c %a "$W/b/ca.key")" = 600
check "joined api.key 0600" test "$(stat -c %a "$W/b/api.key")" = 600
check "same CA" cmp -s "$W/a/ca.crt" "$W/b/ca.crt"
check "no SQLite file in the joined dir" test ! -e "$W/b/controller.db"
start B "$W/b"
export_all "$URL_B" "$W/b.txt"
if cmp -s "$W/after.txt" "$W/b.txt"; then ok "B's export identical to A's"; else
	bad "B's export differs from A's"; diff "$W/after.txt" "$W/b.txt" | head -20 >&2
fi
"$BIN" ctl --url "$URL_B" group add made-on-b >/dev/null; check "change through B" test $? -eq 0
"$BIN" ctl --url "$URL_A" group show made-on-b >/dev/null; check "... visible on A" test $? -eq 0
"$BIN" ctl --url "$URL_A" user delete Bob >/dev/null; check "change through A" test $? -eq 0
"$BIN" ctl --url "$URL_B" user show Bob >/dev/null 2>&1; check "... visible on B" test $? -eq 4
stop A; stop B
pn_finish
