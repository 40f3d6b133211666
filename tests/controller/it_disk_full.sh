#!/bin/bash
# The controller's SQLite database on a full disk (docs/security.md, case
# 21; promise 8): the data directory on a small tmpfs (in this test's own
# mount namespace), filled to the last byte.  Writes fail closed with a
# clear error (503 store_full): an admin change, a grant, a service-account
# login (which must record the credential it would issue) and a connector
# enrollment (whose token must stay unused).  Nothing is half-applied, the
# policy version does not move, reads still work, `PRAGMA integrity_check`
# stays ok; after space is freed, every write works again without a
# restart.
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" disk-full
FS=$W/fs
mkdir -p "$FS"
mount -t tmpfs -o size=16m,mode=0755 pn-diskfull "$FS" || { echo "cannot mount a tmpfs (needs root and a mount namespace)"; exit 1; }
pn_at_exit "umount -l '$FS'"
D=$FS/ctl
"$PN_BIN" controller init --data "$D" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
	>"$W/init.out" 2>"$W/init.err" || { cat "$W/init.err"; exit 1; }
KEY=$(tail -1 "$W/init.out")
pn_ctl_local ctl "$D" || pn_finish
URL=$URL_ctl
sql() { sqlite3 -cmd '.timeout 5000' "$D/controller.db" "$1"; }

# req METHOD PATH [BODY] [AUTH-HEADER] -> $ST, $BODY_OUT
req() {
	local args=(-sS --cacert "$D/ca.crt" --tlsv1.3 -o "$W/resp" -w '%{http_code}' -X "$1")
	args+=(-H "${4:-Authorization: Bearer $KEY}")
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	ST=$(curl "${args[@]}" "$URL$2" 2>/dev/null)
	BODY_OUT=$(cat "$W/resp" 2>/dev/null)
}
want() { # STATUS METHOD PATH [BODY] [AUTH]
	local s=$1
	shift
	req "$@"
	[ "$ST" = "$s" ] && ok "$1 $2 -> $ST" || bad "$1 $2 -> $ST (want $s): ${BODY_OUT:0:300}"
}
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$BODY_OUT"; }

# ---- a small network: a grant for group eng, a service account, a connector token ----
want 201 POST /v1/networks '{"name":"corp"}'
want 201 POST /v1/resources '{"name":"db","network":"corp","address":"db.corp.example","protocols":["tcp/5432"]}'
want 201 POST /v1/resources '{"name":"web","network":"corp","address":"web.corp.example","protocols":["tcp/443"]}'
want 201 POST /v1/groups '{"name":"eng"}'
want 201 POST /v1/policies '{"group":"eng","resource":"db"}'
want 201 POST /v1/service-accounts '{"name":"laptop","groups":["eng"]}'
SAKEY=$(jget api_key)
want 201 POST /v1/connectors '{"name":"c1","network":"corp"}'
TOK=$(jget enrollment_token)
openssl genpkey -algorithm ed25519 -out "$W/c.key" 2>/dev/null
openssl req -new -key "$W/c.key" -subj /CN=c -out "$W/c.csr" 2>/dev/null
CSR_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$W/c.csr")
want 201 POST /v1/client/login "{\"csr\":$CSR_JSON}" "Authorization: Bearer $SAKEY"
check "a login before the disk fills issues a credential" grep -q 'BEGIN CERTIFICATE' <<<"$BODY_OUT"

# snapshot STATE: every row of every table (sorted) and the policy version
snapshot() {
	local t
	for t in $(sql "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"); do
		echo "== $t"
		sql "SELECT * FROM \"$t\"" | sort
	done >"$W/$1.rows"
}

# ---- fill the disk ----
# Move the WAL's content into the database and truncate it, so the next
# commit must grow the WAL on the full file system.
sql 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
dd if=/dev/zero of="$FS/fill" bs=64k status=none 2>/dev/null
dd if=/dev/zero of="$FS/fill2" bs=4k status=none 2>/dev/null
dd if=/dev/zero of="$FS/fill3" bs=512 status=none 2>/dev/null
check "the file system is full ($(df -k --output=avail "$FS" | tail -1 | tr -d ' ') KiB left)" \
	test "$(df -k --output=avail "$FS" | tail -1 | tr -d ' ')" = 0
V0=$(sql "SELECT value FROM meta WHERE key='policy_version'")
NCRED0=$(sql 'SELECT COUNT(*) FROM credentials')
snapshot before

# Every write fails closed: 503 store_full.  Keep writing until the
# database runs out of room (SQLite may still fit a page or two in
# space it already holds), then require the same answer from each kind of
# write.
for i in $(seq 1 200); do
	req POST /v1/groups "{\"name\":\"g$i\"}"
	[ "$ST" != 201 ] && break
done
echo "first refused admin write after $((i - 1)) accepted: $ST ${BODY_OUT:0:200}"
check "an admin write on the full disk -> 503 store_full (got $ST)" test "$ST" = 503 -a -n "$(grep store_full <<<"$BODY_OUT")"
snapshot before
V0=$(sql "SELECT value FROM meta WHERE key='policy_version'")
want 503 POST /v1/policies '{"group":"eng","resource":"web"}'
check "... a grant: store_full" grep -q store_full <<<"$BODY_OUT"
want 503 POST /v1/service-accounts '{"name":"robot","groups":["eng"]}'
want 503 DELETE /v1/policies/"$(sql "SELECT id FROM policies LIMIT 1")"
want 503 POST /v1/client/login "{\"csr\":$CSR_JSON}" "Authorization: Bearer $SAKEY"
nocert() { ! grep -q 'BEGIN CERTIFICATE' <<<"$BODY_OUT"; }
check "a login that cannot record its credential issues none" nocert
ENROLL=$(python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' "$TOK" "$W/c.csr")
req POST /v1/enroll "$ENROLL" "X-None: 1"
check "connector enrollment on the full disk -> 503 ($ST), no credential" \
	test "$ST" = 503 -a -z "$(grep 'BEGIN CERTIFICATE' <<<"$BODY_OUT")"
ST=$(curl -sS --cacert "$D/ca.crt" -o "$W/cs" -D "$W/cs.h" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "{\"api_key\":\"$KEY\"}" "$URL/v1/console/session" 2>/dev/null)
check "console sign-in (a session row to write) -> 503, no cookie ($ST)" \
	test "$ST" = 503 -a -z "$(grep -i 'set-cookie' "$W/cs.h")"
# kill -9 while full, and a restart on the still-full disk: the
# controller comes up (WAL recovery needs no new space), reads work,
# writes are still refused
kill -9 "$PID_ctl"
wait "$PID_ctl" 2>/dev/null
pn_ctl_local ctl "$D" --api-listen 127.0.0.1:0 || pn_finish
URL=$URL_ctl
want 503 POST /v1/groups '{"name":"after-restart"}'
want 200 GET /v1/networks
check "reads still work: the resources are listed" grep -q web.corp.example <<<"$(req GET /v1/resources; echo "$BODY_OUT")"
check "a clear error in the log (store disk_full)" grep -q 'disk_full' "$W/ctl.log"
snapshot full
check "nothing was written while full (every row of every table unchanged)" cmp "$W/before.rows" "$W/full.rows"
check "policy version unchanged ($V0)" test "$(sql "SELECT value FROM meta WHERE key='policy_version'")" = "$V0"
check "no credential recorded while full" test "$(sql 'SELECT COUNT(*) FROM credentials')" = "$NCRED0"
check "integrity_check ok while full" test "$(sql 'PRAGMA integrity_check')" = ok
kill -0 "$PID_ctl" 2>/dev/null && ok "controller still running" || bad "controller died on the full disk"

# ---- space freed: everything works again, without a restart ----
rm -f "$FS/fill" "$FS/fill2" "$FS/fill3"
ok=0
for _ in $(seq 1 100); do
	req POST /v1/policies '{"group":"eng","resource":"web"}'
	[ "$ST" = 201 ] && { ok=1; break; }
	sleep 0.2
done
check "after space is freed: a grant is accepted ($ST)" test "$ok" = 1
check "... and bumps the policy version" test "$(sql "SELECT value FROM meta WHERE key='policy_version'")" -gt "$V0"
want 201 POST /v1/service-accounts '{"name":"robot","groups":["eng"]}'
want 201 POST /v1/client/login "{\"csr\":$CSR_JSON}" "Authorization: Bearer $SAKEY"
check "a login issues and records a credential again" test "$(sql 'SELECT COUNT(*) FROM credentials')" = $((NCRED0 + 1))
req POST /v1/enroll "$ENROLL" "X-None: 1"
check "the connector's token, unused while full, enrolls now ($ST)" test "$ST" = 200 -o "$ST" = 201
check "integrity_check ok" test "$(sql 'PRAGMA integrity_check')" = ok
check "foreign keys ok" test -z "$(sql 'PRAGMA foreign_key_check')"
check "every change audited and versioned" test "$(sql "SELECT CASE WHEN (SELECT value FROM meta WHERE key='policy_version') - 1 = (SELECT COUNT(*) FROM audit WHERE actor != 'init' AND kind != 'console_session') THEN 1 ELSE 0 END")" = 1
pn_stop_check ctl 10
pn_finish
