#!/bin/bash
# SQL-injection sweep of every route (docs/security.md, case 18), on SQLite
# and (PN_TEST_STORE=pg, it_sqli_pg.sh) PostgreSQL: sqli_sweep.py sends
# every operation of openapi.json with SQL metacharacter payloads in each
# path parameter, query parameter and body field (flow events' fields
# included), with the credentials the route wants (admin key, service
# account key, connector certificate).  No answer is a 5xx, an accepted
# payload is stored as the same text, and the tables are intact: the schema
# is unchanged and every row that existed before the sweep is still there,
# byte for byte (a checksum of each table's rows before and after).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/netns.sh" "${1:?build dir}" sqli
T0=$(now)
. "$HERE/pg_cluster.sh"
pg_test_store || exit 1
sql() {
	if [ "$STORE" = pg ]; then pg_sql "$1"; else sqlite3 -cmd '.timeout 5000' "$W/ctl/controller.db" "$1"; fi
}
tables() {
	if [ "$STORE" = pg ]; then
		sql "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
	else
		sql "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
	fi
}
schema() {
	if [ "$STORE" = pg ]; then
		sql "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
	else
		sql "SELECT type, name, sql FROM sqlite_master ORDER BY 1, 2"
	fi
}
# snapshot NAME: every table's rows in one client run ($W/NAME.dump, "== TABLE"
# before each table) and the schema ($W/NAME.schema)
snapshot() {
	local t q=""
	for t in $(tables); do q="$q SELECT '== $t'; SELECT * FROM \"$t\";"; done
	if [ "$STORE" = pg ]; then
		psql -X -q -At -h "$PG_DIR/sock" -U postern -d postern -c "$q" >"$W/$1.dump"
	else
		sqlite3 -cmd '.timeout 5000' "$W/ctl/controller.db" "$q" >"$W/$1.dump"
	fi
	schema >"$W/$1.schema"
}

"$PN_BIN" controller init --data "$W/ctl" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
	"${STORE_ARGS[@]}" >"$W/init.out" 2>"$W/init.err" || { cat "$W/init.err"; exit 1; }
KEY=$(tail -1 "$W/init.out")
pn_ctl_local ctl "$W/ctl" || pn_finish
URL=$URL_ctl
echo "controller up after $(since "$T0") s"
SWEEP="python3 $HERE/sqli_sweep.py"
SARGS=("$PN_SRC/src/controller/openapi.json" "$URL" "$W/ctl/ca.crt" "$KEY" "$W/c.key" "$W/c.csr" "$W")
openssl genpkey -algorithm ed25519 -out "$W/c.key" 2>/dev/null
openssl req -new -key "$W/c.key" -subj /CN=c -out "$W/c.csr" 2>/dev/null
# the fixtures: one of every object (and PATCH targets), a connector enrolled
$SWEEP setup "${SARGS[@]}" >"$W/setup.out" 2>&1 || { bad "fixtures: $(tail -3 "$W/setup.out")"; pn_finish; }
curl -sS --cacert "$W/ctl/ca.crt" --cert "$W/c.crt" --key "$W/c.key" -H 'Content-Type: application/json' \
	--data-binary '{"events":[{"event":"open","flow_id":"f0","verdict":"allow","dest":"db.corp.example"}]}' \
	"$URL/v1/ctl/flows" -o /dev/null 2>/dev/null
PATCH_IDS=$(cat "$W/patch_ids")
POL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["/v1/policies"])' "$W/refs.json")
echo "fixtures ready after $(since "$T0") s"
snapshot before
t0=$(now)
$SWEEP sweep "${SARGS[@]}" >"$W/sweep.out" 2>&1
RC=$?
tail -2 "$W/sweep.out"
echo "sweep ($STORE): $(since "$t0") s"
check "no 5xx, every accepted payload stored as sent ($(tail -1 "$W/sweep.out"))" test "$RC" = 0
[ "$RC" = 0 ] || grep FINDING "$W/sweep.out" | head -20
check "every route was swept ($(grep -o 'requests=[0-9]*' "$W/sweep.out"))" \
	test "$(sed -n 's/^requests=\([0-9]*\).*/\1/p' "$W/sweep.out")" -gt 1500
kill -0 "$PID_ctl" 2>/dev/null && ok "controller still running" || bad "controller died during the sweep"
snapshot after
echo "compared after $(since "$T0") s"
check "the schema is unchanged" cmp "$W/before.schema" "$W/after.schema"
# Every row that existed before is still there, unchanged (but the PATCH
# targets'); no table lost a row.  The sweep's accepted requests only add
# rows, except for bookkeeping it is expected to touch: the policy version
# (meta), last-use times, presence and SQLite's sequence counters.
python3 - "$W/before.dump" "$W/after.dump" "$PATCH_IDS" >"$W/compare.out" <<'EOF'
import hashlib, sys
def load(f):
    t, d = None, {}
    for l in open(f, encoding="utf-8", errors="replace").read().split("\n"):
        if l.startswith("== "): t = l[3:]; d[t] = []
        elif t and l: d[t].append(l)
    return d
b, a, skip = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3].split()
BOOK = {"meta", "admin_keys", "sa_keys", "connectors", "credentials", "presence", "sqlite_sequence"}
sig = lambda rows: "%d rows %s" % (len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:12])
for t in sorted(b):
    rows = a.get(t)
    if rows is None:
        print("FAIL %s: table gone" % t); continue
    gone = [r for r in set(b[t]) - set(rows) if not any(i in r for i in skip)]
    ok = len(rows) >= len(b[t]) and (t in BOOK or not gone)
    print("%s %s: %s -> %s%s" % ("ok  " if ok else "FAIL", t, sig(b[t]), sig(rows),
                                 "" if not gone or t in BOOK else ", changed or gone: %r" % gone[:3]))
EOF
while read -r v rest; do
	if [ "$v" = ok ]; then ok "rows intact: $rest"; else bad "rows intact: $rest"; fi
done <"$W/compare.out"
check "every table compared ($(wc -l <"$W/compare.out"))" test "$(wc -l <"$W/compare.out")" -gt 15
check "no admin key revoked or added" test "$(sql 'SELECT COUNT(*) FROM admin_keys WHERE revoked = 0')" = 2
check "the bootstrap key still works" test "$(curl -sS --cacert "$W/ctl/ca.crt" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $KEY" "$URL/v1/networks")" = 200
check "the grant is still there" test "$(sql "SELECT COUNT(*) FROM policies WHERE id = '$POL'")" = 1
if [ "$STORE" = sqlite ]; then
	check "integrity_check ok" test "$(sql 'PRAGMA integrity_check')" = ok
fi
pn_stop_check ctl 10
pn_finish
