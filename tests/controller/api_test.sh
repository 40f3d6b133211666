#!/bin/bash
# Controller HTTPS API integration test: a real `postern controller run` on
# loopback, driven with curl (TLS 1.3, pinned CA) and `postern ctl`.
#
#   +------------------+   HTTPS 127.0.0.1:<free port>   +-------------------------+
#   | curl, postern ctl| ------------------------------> | postern controller run  |
#   +------------------+                                 | data dir: $W/ctl      |
#                                                        +-------------------------+
#
# Covers: init refusals and file modes; CRUD for every object; validation
# (types, lengths, unknown fields, addresses, ports, malformed JSON, media
# type, oversized bodies); 401 on every endpoint without/with bad
# credentials; 403 for read-only and service-account keys on admin
# endpoints; SQL metacharacters; CLI exit codes; slow-client timeout;
# kill -9 during writes -> integrity_check ok and no half-applied change;
# one token, 50 parallel enrollments through two controllers sharing the
# database -> exactly one credential.
#
# One suite, two back ends: PN_TEST_STORE=pg (api_test_pg.sh) runs it all
# against a private PostgreSQL cluster (pg_cluster.sh) and adds: database
# killed -> 503 store_unavailable, nothing half-written, recovery without
# restart; a change through one controller reaches the other's push
# subscriber within 1 s (LISTEN/NOTIFY).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh" "${1:?build dir}" ctl-api
BIN=$PN_BIN
. "$HERE/pg_cluster.sh"
pg_test_store || exit 1
# sql QUERY: run a query on the store, print the rows
sql() {
	if [ "$STORE" = pg ]; then pg_sql "$1"; else sqlite3 "$W/ctl/controller.db" "$1"; fi
}

# the controller (log $W/ctl.log, pid PID_ctl) on its loopback port: URL, PORT
start() {
	pn_ctl_local ctl "$W/ctl" || pn_finish
	URL=$URL_ctl
	PORT=${URL##*:}
}

# req METHOD PATH [BODY] [KEY] [CONTENT-TYPE] -> $ST (status), $BODY_OUT
req() {
	local m=$1 p=$2 b=${3:-} k=${4-$KEY} ct=${5:-application/json}
	local args=(-sS --cacert "$W/ctl/ca.crt" --tlsv1.3 -o "$W/resp" -w '%{http_code}' -X "$m")
	[ -n "$k" ] && args+=(-H "Authorization: Bearer $k")
	[ -n "$b" ] && args+=(-H "Content-Type: $ct" --data-binary "$b")
	ST=$(curl "${args[@]}" "$URL$p" 2>/dev/null)
	BODY_OUT=$(cat "$W/resp" 2>/dev/null)
}
want() { # want STATUS METHOD PATH [BODY] [KEY] [CT]: the request gets STATUS
	local status=$1; shift
	req "$@"
	if [ "$ST" = "$status" ]; then ok "$1 $2 -> $ST"; else bad "$(cut -c1-200 <<<"$*") -> $ST (want $status): $(cut -c1-300 <<<"$BODY_OUT")"; fi
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1" <<<"$BODY_OUT"; }

# ---- init ----
"$BIN" controller init --data "$W/ctl" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 "${STORE_ARGS[@]}" \
	>"$W/init.out" 2>"$W/init.err" || { cat "$W/init.err"; exit 1; }
KEY=$(tail -1 "$W/init.out")
check "bootstrap key printed" grep -Eq '^pnak_[0-9a-f]{64}$' <<<"$KEY"
"$BIN" controller init --data "$W/ctl" >/dev/null 2>&1
check "init refuses an existing dir (exit 2)" test $? -eq 2
check "data dir 0700" test "$(stat -c %a "$W/ctl")" = 700
check "ca.key 0600" test "$(stat -c %a "$W/ctl/ca.key")" = 600
check "api.key 0600" test "$(stat -c %a "$W/ctl/api.key")" = 600
if [ "$STORE" = pg ]; then
	check "key stored only hashed" test "$("$PG_BIN/pg_dump" -h "$PG_DIR/sock" -U postern postern | grep -c "$KEY")" = 0
	"$BIN" controller init --data "$W/ctl2" --api-listen 127.0.0.1:0 "${STORE_ARGS[@]}" >/dev/null 2>&1
	check "init refuses a database that holds a network (exit 2)" test $? -eq 2
	check "refused init leaves no data dir" test ! -e "$W/ctl2"
else
	check "key stored only hashed" test "$(sqlite3 "$W/ctl/controller.db" .dump | grep -c "$KEY")" = 0
fi
start
# ---- slow client: a connection that never speaks is closed by the server ----
# (the server's 10 s idle timeout runs out in the background while the
# checks below run; collected before the kill -9 further down)
(
	t0=$(date +%s)
	timeout 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <&3 >/dev/null" 2>/dev/null
	echo $(($(date +%s) - t0)) >"$W/idle.s"
) &
IDLE=$!

# ---- unauthenticated / bad credentials on every endpoint ----
# Every route but the public ones, as ACCESS:METHOD:PATH, from the OpenAPI
# document (test_openapi checks it against the router's route tables, so a
# new route cannot be missed here).
ENDPOINTS=$(python3 - "$PN_SRC/src/controller/openapi.json" <<'EOF'
import json, re, sys
for p, item in json.load(open(sys.argv[1]))["paths"].items():
    for m, op in item.items():
        if op["x-postern-access"] != "PUBLIC":
            print("%s:%s:%s" % (op["x-postern-access"], m.upper(), re.sub(r"{[^}]*}", "x", p)))
EOF
)
check "routes to check from openapi.json ($(wc -w <<<"$ENDPOINTS"))" test "$(wc -w <<<"$ENDPOINTS")" -gt 50
# want_all: lines "WANT METHOD PATH BODY KEY" on stdin (BODY, KEY: - for
# none; WANT: a status, or "pass" for anything but 401 and 403), sent by one
# curl process (reusing its connection where the server keeps it open).
want_all() {
	local cfg=$W/batch.cfg n=0 i w m p b k
	local -a wants descs got
	: >"$cfg"
	while read -r w m p b k; do
		[ $n -gt 0 ] && echo next >>"$cfg"
		{
			printf 'url = "%s"\nrequest = "%s"\ncacert = "%s"\ntlsv1.3\n' "$URL$p" "$m" "$W/ctl/ca.crt"
			printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
			[ "$k" != - ] && printf 'header = "Authorization: Bearer %s"\n' "$k"
			[ "$b" != - ] && printf 'header = "Content-Type: application/json"\ndata-binary = "%s"\n' "$b"
		} >>"$cfg"
		wants[n]=$w descs[n]="$m $p (key ${k:0:12})"
		n=$((n + 1))
	done
	mapfile -t got < <(curl -s -K "$cfg" 2>/dev/null)
	for ((i = 0; i < n; i++)); do
		case "${wants[i]}:${got[i]:-none}" in
		pass:401 | pass:403 | pass:none) bad "${descs[i]} -> ${got[i]:-none} (want neither 401 nor 403)" ;;
		pass:*) ok "${descs[i]} -> ${got[i]}" ;;
		*) [ "${got[i]:-none}" = "${wants[i]}" ] && ok "${descs[i]} -> ${got[i]}" ||
			bad "${descs[i]} -> ${got[i]:-none} (want ${wants[i]})" ;;
		esac
	done
}
# (fed by process substitution: want_all's ok/bad must count in this shell)
# Every route without credentials, and with a bad key: an unknown well-formed
# one and garbage, in turn (the key is checked before the route is looked at).
BADKEYS=("pnak_$(printf '%064d' 0)" garbage)
want_all < <(i=0; for e in $ENDPOINTS; do
	e=${e#*:} && m=${e%%:*} p=${e#*:}
	body=-; [ "$m" = POST ] || [ "$m" = PATCH ] && body='{}'
	echo "401 $m $p $body -"
	echo "401 $m $p $body ${BADKEYS[i++ % 2]}"
done)
want 200 GET /v1/ca "" ""
# authentication is decided from the headers: an unauthenticated body is never parsed
want 401 POST /v1/networks '{"name":' ""
# a large unauthenticated body is answered from the headers (the server may
# close before curl finished sending, so look at the answer, not curl's status)
req POST /v1/networks "{\"name\":\"$(head -c 60000 /dev/zero | tr '\0' a)\"}" ""
check "large unauthenticated body -> 401 from headers" grep -q unauthenticated <<<"$BODY_OUT"

# ---- CRUD for every object ----
want 201 POST /v1/networks '{"name":"corp"}'; NET=$(jget '["id"]')
want 200 GET /v1/networks/corp
want 200 GET "/v1/networks/$NET"
want 200 PATCH /v1/networks/corp '{"name":"corp2"}'
want 404 GET /v1/networks/corp
want 200 GET /v1/networks/corp2
want 409 POST /v1/networks '{"name":"corp2"}'
want 201 POST /v1/networks '{"name":"tmpnet"}'
want 200 DELETE /v1/networks/tmpnet
want 404 GET /v1/networks/tmpnet
want 404 DELETE /v1/networks/tmpnet

want 201 POST /v1/resources '{"name":"db","network":"corp2","address":"DB.Corp.Example.","protocols":["tcp/5432","tcp/5432"]}'
check "address normalised" test "$(jget '["address"]')" = db.corp.example
check "protocols canonical" test "$(jget '["protocols"]')" = "['tcp/5432']"
want 201 POST /v1/resources '{"name":"web","network":"corp2","address":"**.web.corp.example","protocols":["tcp/80","tcp/8000-8100","udp","icmp"]}'
want 201 POST /v1/resources '{"name":"lan6","network":"corp2","address":"fd00:1::/64","protocols":["tcp"]}'
want 200 GET "/v1/resources?network=corp2"
check "3 resources listed" test "$(jget '["resources"].__len__()')" = 3
want 200 PATCH /v1/resources/web '{"address":"10.2.0.0/16","protocols":["udp/53"]}'
want 400 PATCH /v1/resources/web '{"network":"corp2"}'
want 409 DELETE /v1/networks/corp2   # still has resources
want 200 DELETE /v1/resources/lan6

want 201 POST /v1/groups '{"name":"eng"}'
want 200 PATCH /v1/groups/eng '{"name":"eng"}'
want 201 POST /v1/users '{"name":"alice","email":"alice@corp.example"}'
want 200 PATCH /v1/users/alice '{"disabled":true}'
check "user disabled" test "$(jget '["disabled"]')" = True
want 201 POST /v1/memberships '{"group":"eng","user":"alice"}'; MEM=$(jget '["id"]')
want 409 POST /v1/memberships '{"group":"eng","user":"alice"}'
want 200 GET "/v1/memberships?group=eng"
want 200 DELETE "/v1/memberships/$MEM"
want 201 POST /v1/policies '{"group":"eng","resource":"db"}'; POL=$(jget '["id"]')
want 409 POST /v1/policies '{"group":"eng","resource":"db"}'
want 200 GET "/v1/policies?group=eng&resource=db"
want 200 GET "/v1/policies/$POL"
want 201 POST /v1/connectors '{"name":"c1","network":"corp2"}'
check "connector token" grep -q '^pnt1\.' <<<"$(jget '["enrollment_token"]')"
want 200 POST /v1/connectors/c1/tokens '{"ttl":60}'
want 400 POST /v1/connectors/c1/tokens '{"ttl":0}'
want 200 PATCH /v1/connectors/c1 '{"name":"c1b"}'
want 200 POST /v1/connectors/c1b/revoke
want 409 POST /v1/connectors/c1b/tokens
want 200 DELETE /v1/connectors/c1b
want 201 POST /v1/relays '{"name":"r1","udp":"127.0.0.1:3478","tls":"[::1]:443","ws":"wss://relay.example:443/ws"}'
want 200 GET /v1/relays/r1
want 200 PATCH /v1/relays/r1 '{"udp":"relay.example:3478"}'
want 200 DELETE /v1/relays/r1
want 201 POST /v1/service-accounts '{"name":"ci","groups":["eng"]}'; SAKEY=$(jget '["api_key"]')
check "sa key" grep -Eq '^pnsk_[0-9a-f]{64}$' <<<"$SAKEY"
want 201 POST /v1/service-accounts/ci/keys; KID=$(jget '["key_id"]')
want 200 GET /v1/service-accounts/ci/keys
want 200 DELETE "/v1/service-accounts/ci/keys/$KID"
want 200 PATCH /v1/service-accounts/ci '{"disabled":false}'
want 201 POST /v1/admin-keys '{"name":"auditor","role":"readonly"}'; ROKEY=$(jget '["api_key"]')
want 201 POST /v1/admin-keys '{"name":"tmp","role":"admin"}'; TMPK=$(jget '["id"]')
want 200 DELETE "/v1/admin-keys/$TMPK"
want 200 GET /v1/admin-keys
want 200 GET /v1/credentials
want 200 GET /v1/audit
want 200 GET "/v1/flow-events?format=jsonl"
want 200 GET /v1/status

# ---- authorization: read-only and service-account keys ----
# READ: the read-only key passes the router, the service account does not;
# ADMIN: neither; COMPONENT and SERVICE routes: not with admin keys either.
want_all < <(for e in $ENDPOINTS; do
	acc=${e%%:*} e=${e#*:} && m=${e%%:*} p=${e#*:}
	body=-; [ "$m" = POST ] || [ "$m" = PATCH ] && body='{}'
	case $acc in
	READ) echo "pass $m $p $body $ROKEY"; echo "403 $m $p $body $SAKEY" ;;
	ADMIN) for k in "$ROKEY" "$SAKEY"; do echo "403 $m $p $body $k"; done ;;
	COMPONENT) for k in "$KEY" "$ROKEY" "$SAKEY"; do echo "403 $m $p $body $k"; done ;;
	SERVICE) for k in "$KEY" "$ROKEY"; do echo "403 $m $p $body $k"; done ;;
	*) echo "unknown $m $p $body -" ;;
	esac
done)
want 403 POST /v1/networks '{"name":' "$ROKEY"   # refused before the body is parsed

# ---- validation ----
for b in '{"name":"x y"}' '{"name":""}' '{"name":5}' "{\"name\":\"$(printf 'a%.0s' $(seq 65))\"}" \
	'{"name":"ok","extra":1}' '{}' '{"name":"a\u0000b"}'; do
	want 400 POST /v1/networks "$b"
done
for a in 'db..corp' '10.0.0.1/8' '*a.corp' 'x.*.y' 'a b' '300.1.1.1/33' '1.2.3.4/33' '10.1'; do
	want 400 POST /v1/resources "{\"name\":\"bad\",\"network\":\"corp2\",\"address\":\"$a\",\"protocols\":[\"tcp\"]}"
done
for p in '[]' '["tcp/0"]' '["tcp/70000"]' '["tcp/5-3"]' '["sctp"]' '["tcp/"]' '["tcp/1-"]' '"tcp"' '[1]'; do
	want 400 POST /v1/resources "{\"name\":\"bad\",\"network\":\"corp2\",\"address\":\"a.b\",\"protocols\":$p}"
done
want 404 POST /v1/resources '{"name":"bad","network":"nonet","address":"a.b","protocols":["tcp"]}'
want 400 POST /v1/relays '{"name":"r2","udp":"nohostport"}'
want 400 POST /v1/relays '{"name":"r2","ws":"http://x:1/"}'
want 400 POST /v1/relays '{"name":"r2"}'
want 400 POST /v1/memberships '{"group":"eng","user":"alice","service_account":"ci"}'
want 400 POST /v1/admin-keys '{"name":"k","role":"root"}'
want 400 POST /v1/networks '{"name":"x"'
want 400 POST /v1/networks '[1,2]'
want 400 POST /v1/networks '{"name":"a","name":"b"}'
want 415 POST /v1/networks '{"name":"ct"}' "$KEY" text/plain
big=$(head -c 70000 /dev/zero | tr '\0' a)
# Oversized with Content-Length: the server answers 413 from the headers alone.
# Expect: 100-continue makes curl wait for that answer before sending the body;
# without it the server's early answer races curl's upload (reset, status 000).
ST=$(printf '{"name":"%s"}' "$big" | curl -sS --cacert "$W/ctl/ca.crt" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
	--data-binary @- "$URL/v1/networks")
check "Content-Length oversized -> 413 ($ST)" test "$ST" = 413
req POST /v1/networks "" # chunked oversized body
ST=$(head -c 70000 /dev/zero | tr '\0' a | curl -sS --cacert "$W/ctl/ca.crt" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary @- "$URL/v1/networks")
check "chunked oversized -> 413 ($ST)" test "$ST" = 413
want 400 GET "/v1/audit?limit=0"
want 400 GET "/v1/audit?after=x"
want 404 GET /v1/nothing
want 404 GET /v1//networks
want 405 PUT /v1/networks '{}'
check "405 names the allowed methods" grep -q 'GET, POST' <<<"$BODY_OUT"
want 405 PATCH /v1/policies/x '{}'
# the OpenAPI document, public, is the repository's file
want 200 GET /v1/openapi.json "" ""
check "GET /v1/openapi.json serves src/controller/openapi.json" cmp -s "$W/resp" "$PN_SRC/src/controller/openapi.json"
# SQL metacharacters are data, never SQL
want 404 GET "/v1/networks/x'%20OR%20'1'='1"
want 404 GET "/v1/resources?network=x'%20OR%201=1--"
want 400 POST /v1/users "{\"name\":\"o'brien\"}"
want 201 POST /v1/users "{\"name\":\"obrien\",\"email\":\"o'brien@x.example\\\"; DROP TABLE users;--\"}"
check "tables intact" test "$(sql 'SELECT COUNT(*) FROM users')" = 2
# enrollment with garbage
want 401 POST /v1/enroll '{"token":"pnt1.zz","csr":"x"}' ""
want 401 POST /v1/enroll "{\"token\":\"$(printf '%064d' 7)\",\"csr\":\"x\"}" ""
want 400 POST /v1/enroll '{"token":"x"}' ""

# ---- console sessions: sign-out deletes one, sign-in purges expired ones ----
# csess METHOD [COOKIE [CSRF]] -> $ST; body $W/cs, headers $W/cs.h
csess() {
	local args=(-sS --cacert "$W/ctl/ca.crt" --tlsv1.3 -o "$W/cs" -D "$W/cs.h" -w '%{http_code}' -X "$1")
	[ "$1" = POST ] && args+=(-H 'Content-Type: application/json' --data-binary "{\"api_key\":\"$KEY\"}")
	[ -n "${2:-}" ] && args+=(-H "Cookie: __Host-pn_console=$2")
	[ -n "${3:-}" ] && args+=(-H "X-CSRF-Token: $3")
	ST=$(curl "${args[@]}" "$URL/v1/console/session" 2>/dev/null)
}
cookie() { grep -io 'pn_console=pncs_[0-9a-f]*' "$W/cs.h" | cut -d= -f2; }
NS0=$(sql 'SELECT COUNT(*) FROM console_sessions')
csess POST && C1=$(cookie)
csess POST && C2=$(cookie)
check "two console sessions stored" test "$(sql 'SELECT COUNT(*) FROM console_sessions')" = $((NS0 + 2))
csess GET "$C2" && CSRF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf"])' "$W/cs")
csess DELETE "$C2" "$CSRF"
check "sign-out: 200, the session row is deleted" test "$ST:$(sql 'SELECT COUNT(*) FROM console_sessions')" = "200:$((NS0 + 1))"
csess GET "$C2"
check "the signed-out cookie is refused (401)" test "$ST" = 401
sql "UPDATE console_sessions SET expires = 1" >/dev/null
csess GET "$C1"
check "an expired session's cookie is refused (401)" test "$ST" = 401
csess POST
check "the next sign-in purges expired sessions (only the new one is left)" \
	test "$ST:$(sql 'SELECT COUNT(*) FROM console_sessions'):$(sql 'SELECT COUNT(*) FROM console_sessions WHERE expires < 2')" = "201:1:0"
grep -q 'console_sessions_purged expired=' "$W/ctl.log" && ok "purge logged" || bad "purge not logged"

# ---- component status: POST /v1/ctl/status is for connectors and relays ----
want 403 POST /v1/ctl/status '{"version":"0.1.0"}' "$KEY"
want 401 POST /v1/ctl/status '{"version":"0.1.0"}' ""

# ---- CLI exit codes ----
export POSTERN_CONTROLLER_URL=$URL POSTERN_API_KEY=$KEY POSTERN_CA_CERT=$W/ctl/ca.crt
"$BIN" ctl network list >/dev/null; check "ctl ok -> 0" test $? -eq 0
"$BIN" ctl network show nope >/dev/null 2>&1; check "ctl not found -> 4" test $? -eq 4
"$BIN" ctl --key "$ROKEY" network add x >/dev/null 2>&1; check "ctl forbidden -> 3" test $? -eq 3
"$BIN" ctl --key pnak_x network list >/dev/null 2>&1; check "ctl bad key -> 3" test $? -eq 3
"$BIN" ctl network frobnicate >/dev/null 2>&1; check "ctl usage -> 2" test $? -eq 2
"$BIN" ctl resource add bad --network corp2 --address 'a..b' --ports tcp >/dev/null 2>&1
check "ctl invalid -> 1" test $? -eq 1
"$BIN" ctl resource add ssh --network corp2 --address ssh.corp.example --ports tcp/22 >/dev/null
check "ctl resource add" test $? -eq 0
"$BIN" ctl resource add --network corp2 --address 10.9.0.0/16 --ports tcp/22,icmp >/dev/null &&
	"$BIN" ctl resource show 10.9.0.0_16 >/dev/null
check "ctl resource add named after its address" test $? -eq 0
"$BIN" ctl grant add eng ssh >/dev/null && "$BIN" ctl grant delete eng ssh >/dev/null
check "ctl grant add/delete" test $? -eq 0
TOK=$("$BIN" ctl connector add corp2 c9 | tail -1)
check "ctl connector add prints token" grep -q '^pnt1\.' <<<"$TOK"
"$BIN" ctl --json group list | python3 -c 'import json,sys; json.load(sys.stdin)'
check "ctl --json parses" test $? -eq 0
"$BIN" ctl audit | grep -q 'create'; check "ctl audit" test $? -eq 0
# every CLI verb once: exit 0 expected
ctl_ok() { "$BIN" ctl "$@" >"$W/ctl.out" 2>"$W/ctl.err" && ok "ctl $*" || bad "ctl $* -> $? $(cat "$W/ctl.err")"; }
ctl_ok network add n2; ctl_ok network update n2 --name n3; ctl_ok network show n3
ctl_ok resource update ssh --ports tcp/2222 --address ssh2.corp.example; ctl_ok resource list --network corp2
ctl_ok group add ops; ctl_ok group show ops
ctl_ok user add bob --email bob@corp.example; ctl_ok user disable bob; ctl_ok user enable bob
ctl_ok member add ops --user bob; ctl_ok member list --group ops
MID=$("$BIN" ctl --json member list --group ops | python3 -c 'import json,sys; print(json.load(sys.stdin)["memberships"][0]["id"])')
ctl_ok member delete "$MID"
ctl_ok service-account add robot --group ops --group eng
ctl_ok service-account keys robot; ctl_ok service-account key-add robot
KID2=$("$BIN" ctl --json service-account keys robot | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["id"])')
ctl_ok service-account key-revoke robot "$KID2"; ctl_ok service-account revoke robot
ctl_ok service-account disable robot; ctl_ok service-account delete robot
ctl_ok relay add r9 --udp 127.0.0.1:3478 --ws wss://relay.example:443/ws; ctl_ok relay token r9
ctl_ok relay revoke r9; ctl_ok relay delete r9
ctl_ok connector token c9; ctl_ok connector list --network corp2; ctl_ok connector revoke c9
ctl_ok admin-key add ro2 --role readonly; ctl_ok admin-key list
AK=$("$BIN" ctl --json admin-key list | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin)["admin_keys"] if k["name"]=="ro2"][0])')
ctl_ok admin-key revoke "$AK"
ctl_ok credential list; ctl_ok flows --jsonl; ctl_ok flows --verdict deny; ctl_ok status
ctl_ok audit --after 1 --limit 5
ctl_ok group delete ops; ctl_ok network delete n3

# ---- slow client (started above): closed by the server ----
wait "$IDLE"
IDLE_S=$(cat "$W/idle.s" 2>/dev/null)
check "idle connection closed within 15 s (${IDLE_S:-?} s)" test "${IDLE_S:-99}" -le 15

# ---- kill -9 during writes ----
WRITERS=
for w in 1 2 3 4; do
	( for i in $(seq 1 400); do
		curl -sS --cacert "$W/ctl/ca.crt" -o /dev/null -H "Authorization: Bearer $KEY" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"name\":\"sa-$w-$i\",\"groups\":[\"eng\"]}" "$URL/v1/service-accounts" 2>/dev/null
	done ) &
	WRITERS="$WRITERS $!"
done
sleep 1.5
kill -9 "$PID_ctl"; wait "$PID_ctl" 2>/dev/null
for p in $WRITERS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; WRITERS=
N=$(sql "SELECT COUNT(*) FROM service_accounts WHERE name LIKE 'sa-%'")
echo "kill -9 after $N committed service-account creations"
check "some writes committed before kill" test "$N" -gt 0
start
if [ "$STORE" = sqlite ]; then
	check "integrity_check ok" test "$(sql 'PRAGMA integrity_check')" = ok
	check "foreign keys ok" test -z "$(sql 'PRAGMA foreign_key_check')"
fi
# the invariants every committed change keeps (both back ends)
consistent() {
	check "every service account has its key" test "$(sql "SELECT COUNT(*) FROM service_accounts s WHERE NOT EXISTS (SELECT 1 FROM sa_keys k WHERE k.service_account_id = s.id)")" = 0
	check "every service account has its membership" test "$(sql "SELECT COUNT(*) FROM service_accounts s WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.service_account_id = s.id)")" = 0
	check "every change audited and versioned" test "$(sql "SELECT CASE WHEN (SELECT value FROM meta WHERE key='policy_version') - 1 = (SELECT COUNT(*) FROM audit WHERE actor != 'init' AND kind != 'console_session') THEN 1 ELSE 0 END")" = 1
}
consistent
want 200 GET /v1/networks

# ---- two controllers on one database ----
# A second process on the same data directory and store (SQLite: the same
# file; PostgreSQL: the same database).
pn_ctl_local ctl2 "$W/ctl" --api-listen 127.0.0.1:0 "${STORE_ARGS[@]}" || pn_finish
URL2=$URL_ctl2
# enrollment race: one token, 50 parallel enrollments split over both
openssl genpkey -algorithm ed25519 -out "$W/c.key" 2>/dev/null
openssl req -new -key "$W/c.key" -subj /CN=race -out "$W/c.csr" 2>/dev/null
TOK=$("$BIN" ctl --url "$URL" connector add corp2 racer | tail -1)
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
	"$TOK" "$W/c.csr" >"$W/enroll.json"
for i in $(seq 1 50); do
	u=$URL; [ $((i % 2)) = 0 ] && u=$URL2
	curl -sS --cacert "$W/ctl/ca.crt" -o "$W/race.$i.body" -w '%{http_code}\n' -H 'Content-Type: application/json' \
		--data-binary @"$W/enroll.json" "$u/v1/enroll" >"$W/race.$i" 2>/dev/null &
done
wait $(jobs -p | grep -v -e "^$PID_ctl\$" -e "^$PID_ctl2\$") 2>/dev/null
WINS=$(cat "$W"/race.? "$W"/race.?? | grep -c '^20[01]$')
LOSSES=$(cat "$W"/race.? "$W"/race.?? | grep -c '^401$')
echo "enrollment race over two controllers: $WINS success, $LOSSES refused"
check "one token, 50 parallel enrollments, two controllers: exactly one success" test "$WINS" = 1
check "... and 49 refusals" test "$LOSSES" = 49
check "exactly one credential recorded for the racer" test "$(sql "SELECT COUNT(*) FROM credentials c JOIN connectors n ON n.id = c.holder_id WHERE n.name = 'racer'")" = 1
# push across controllers: the racer subscribes on the second controller; a
# change committed through the first reaches it (PostgreSQL: LISTEN/NOTIFY,
# goal 1 s; SQLite: the 1 s store poll)
for f in "$W"/race.*.body; do
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); open(sys.argv[2],"w").write(d["cert_pem"])' \
		"$f" "$W/c.crt" 2>/dev/null && break
done
curl -sSN --cacert "$W/ctl/ca.crt" --cert "$W/c.crt" --key "$W/c.key" "$URL2/v1/ctl/stream" \
	>"$W/sse" 2>/dev/null &
SSE=$!
pn_wait_log "$W/sse" '^event: policy' 5
check "push subscriber on the second controller gets its state" grep -q '^event: policy' "$W/sse"
VN=$(($(sql "SELECT value FROM meta WHERE key='policy_version'") + 1))
want 201 POST /v1/groups '{"name":"push-probe"}'
t0=$(date +%s%N) # the change is committed
for _ in $(seq 1 300); do grep -q "^id: $VN\$" "$W/sse" && break; sleep 0.01; done
t1=$(date +%s%N)
PUSH_MS=$(((t1 - t0) / 1000000))
LIMIT_MS=1000; [ "$STORE" = sqlite ] && LIMIT_MS=3000
echo "change committed through controller 1 -> pushed by controller 2: $PUSH_MS ms ($STORE)"
check "change via one controller pushed by the other within $LIMIT_MS ms ($PUSH_MS ms)" \
	test "$PUSH_MS" -le "$LIMIT_MS" -a -n "$(grep "^id: $VN\$" "$W/sse")"
kill "$SSE" 2>/dev/null; wait "$SSE" 2>/dev/null
pn_stop "$PID_ctl2" 10; RC=$?
check "second controller exits 0 on SIGTERM (rc=$RC)" test "$RC" -eq 0

if [ "$STORE" = pg ]; then
	# ---- PostgreSQL down: 503, nothing half-written, recovery without restart ----
	V0=$(sql "SELECT value FROM meta WHERE key='policy_version'")
	pg_kill
	want 503 GET /v1/networks
	check "503 says the store is unavailable" grep -q store_unavailable <<<"$BODY_OUT"
	want 503 POST /v1/service-accounts '{"name":"while-down","groups":["eng"]}'
	want 200 GET /v1/ca "" "" # the CA certificate needs no database
	pg_start_again
	t0=$(date +%s%N)
	for _ in $(seq 1 200); do req GET /v1/networks; [ "$ST" = 200 ] && break; sleep 0.05; done
	t1=$(date +%s%N)
	check "API recovers without restart ($(((t1 - t0) / 1000000)) ms after the database is back)" test "$ST" = 200
	check "nothing written while down" test "$(sql "SELECT COUNT(*) FROM service_accounts WHERE name = 'while-down'")" = 0
	check "policy version unchanged while down" test "$(sql "SELECT value FROM meta WHERE key='policy_version'")" = "$V0"
	want 201 POST /v1/service-accounts '{"name":"after-up","groups":["eng"]}'
	consistent
fi

# graceful stop; a sanitizer build reports leaks/errors here (pn_finish)
pn_stop "$PID_ctl" 10; RC=$?
check "controller exits 0 on SIGTERM (rc=$RC)" test "$RC" -eq 0
pn_finish
