#!/bin/bash
# Controller HTTPS API integration test: a real `postern controller run` on
# loopback, driven with curl (TLS 1.3, pinned CA) and `postern ctl`.
#
#   +------------------+   HTTPS 127.0.0.1:<free port>   +-------------------------+
#   | curl, postern ctl| ------------------------------> | postern controller run  |
#   +------------------+                                 | data dir: $TMP/ctl      |
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
BIN=${PN_BIN:-${1:-.}/src/app/postern}
HERE=$(cd "$(dirname "$0")" && pwd)
STORE=${PN_TEST_STORE:-sqlite}
TMP=$(mktemp -d /tmp/pn-ctl-api.XXXXXX)
PID=
PID2=
FAILS=0
CHECKS=0
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "$PID2" ] && kill "$PID2" 2>/dev/null && wait "$PID2" 2>/dev/null
	for p in ${WRITERS:-}; do kill "$p" 2>/dev/null; done
	[ "$STORE" = pg ] && pg_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
STORE_ARGS=()
if [ "$STORE" = pg ]; then
	. "$HERE/pg_cluster.sh"
	pg_start || { echo "could not start PostgreSQL"; exit 1; }
	STORE_ARGS=(--store "$PG_URL")
	echo "store: PostgreSQL $(pg_sql 'SHOW server_version') at $PG_DIR"
fi
# sql QUERY: run a query on the store, print the rows
sql() {
	if [ "$STORE" = pg ]; then pg_sql "$1"; else sqlite3 "$TMP/ctl/controller.db" "$1"; fi
}

ok() { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COND...
	local d=$1; shift
	if "$@"; then ok; else fail "$d"; fi
}

start() {
	rm -f "$TMP/run.out" # never read a previous instance's url= line
	"$BIN" controller run --data "$TMP/ctl" >"$TMP/run.out" 2>>"$TMP/run.err" &
	PID=$!
	for _ in $(seq 1 100); do
		grep -q '^url=' "$TMP/run.out" 2>/dev/null && break
		sleep 0.05
	done
	URL=$(sed -n 's/^url=//p' "$TMP/run.out")
	PORT=${URL##*:}
	[ -n "$URL" ] || { echo "controller did not start"; cat "$TMP/run.err"; exit 1; }
}

# req METHOD PATH [BODY] [KEY] [CONTENT-TYPE] -> $ST (status), $BODY_OUT
req() {
	local m=$1 p=$2 b=${3:-} k=${4-$KEY} ct=${5:-application/json}
	local args=(-sS --cacert "$TMP/ctl/ca.crt" --tlsv1.3 -o "$TMP/resp" -w '%{http_code}' -X "$m")
	[ -n "$k" ] && args+=(-H "Authorization: Bearer $k")
	[ -n "$b" ] && args+=(-H "Content-Type: $ct" --data-binary "$b")
	ST=$(curl "${args[@]}" "$URL$p" 2>/dev/null)
	BODY_OUT=$(cat "$TMP/resp" 2>/dev/null)
}
expect() { # expect STATUS METHOD PATH [BODY] [KEY] [CT]
	local want=$1; shift
	req "$@"
	if [ "$ST" = "$want" ]; then ok; else fail "$(cut -c1-200 <<<"$*") -> $ST (want $want): $(cut -c1-300 <<<"$BODY_OUT")"; fi
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1" <<<"$BODY_OUT"; }

# ---- init ----
"$BIN" controller init --data "$TMP/ctl" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 "${STORE_ARGS[@]}" \
	>"$TMP/init.out" 2>"$TMP/init.err" || { cat "$TMP/init.err"; exit 1; }
KEY=$(tail -1 "$TMP/init.out")
check "bootstrap key printed" grep -Eq '^pnak_[0-9a-f]{64}$' <<<"$KEY"
"$BIN" controller init --data "$TMP/ctl" >/dev/null 2>&1
check "init refuses an existing dir (exit 2)" test $? -eq 2
check "data dir 0700" test "$(stat -c %a "$TMP/ctl")" = 700
check "ca.key 0600" test "$(stat -c %a "$TMP/ctl/ca.key")" = 600
check "api.key 0600" test "$(stat -c %a "$TMP/ctl/api.key")" = 600
if [ "$STORE" = pg ]; then
	check "key stored only hashed" test "$("$PG_BIN/pg_dump" -h "$PG_DIR/sock" -U postern postern | grep -c "$KEY")" = 0
	"$BIN" controller init --data "$TMP/ctl2" --api-listen 127.0.0.1:0 "${STORE_ARGS[@]}" >/dev/null 2>&1
	check "init refuses a database that holds a network (exit 2)" test $? -eq 2
	check "refused init leaves no data dir" test ! -e "$TMP/ctl2"
else
	check "key stored only hashed" test "$(sqlite3 "$TMP/ctl/controller.db" .dump | grep -c "$KEY")" = 0
fi
start

# ---- unauthenticated / bad credentials on every endpoint ----
ENDPOINTS="GET:/v1/networks POST:/v1/networks GET:/v1/networks/x PATCH:/v1/networks/x
DELETE:/v1/networks/x GET:/v1/resources POST:/v1/resources GET:/v1/groups POST:/v1/groups
GET:/v1/users POST:/v1/users GET:/v1/memberships POST:/v1/memberships GET:/v1/policies
POST:/v1/policies DELETE:/v1/policies/x GET:/v1/connectors POST:/v1/connectors
POST:/v1/connectors/x/tokens POST:/v1/connectors/x/revoke GET:/v1/relays POST:/v1/relays
POST:/v1/relays/x/tokens GET:/v1/service-accounts POST:/v1/service-accounts
GET:/v1/service-accounts/x/keys POST:/v1/service-accounts/x/keys
DELETE:/v1/service-accounts/x/keys/y POST:/v1/service-accounts/x/revoke GET:/v1/admin-keys
POST:/v1/admin-keys DELETE:/v1/admin-keys/x GET:/v1/credentials POST:/v1/credentials/x/revoke
GET:/v1/audit GET:/v1/flow-events GET:/v1/status POST:/v1/client/login POST:/v1/ctl/renew
GET:/v1/ctl/state POST:/v1/ctl/flows GET:/v1/ctl/stream"
for e in $ENDPOINTS; do
	m=${e%%:*} p=${e#*:}
	body=; [ "$m" = POST ] || [ "$m" = PATCH ] && body='{}'
	expect 401 "$m" "$p" "$body" ""
	expect 401 "$m" "$p" "$body" "pnak_$(printf '%064d' 0)"
	expect 401 "$m" "$p" "$body" "garbage"
done
expect 200 GET /v1/ca "" ""
# authentication is decided from the headers: an unauthenticated body is never parsed
expect 401 POST /v1/networks '{"name":' ""
# a large unauthenticated body is answered from the headers (the server may
# close before curl finished sending, so look at the answer, not curl's status)
req POST /v1/networks "{\"name\":\"$(head -c 60000 /dev/zero | tr '\0' a)\"}" ""
check "large unauthenticated body -> 401 from headers" grep -q unauthenticated <<<"$BODY_OUT"

# ---- CRUD for every object ----
expect 201 POST /v1/networks '{"name":"corp"}'; NET=$(jget '["id"]')
expect 200 GET /v1/networks/corp
expect 200 GET "/v1/networks/$NET"
expect 200 PATCH /v1/networks/corp '{"name":"corp2"}'
expect 404 GET /v1/networks/corp
expect 200 GET /v1/networks/corp2
expect 409 POST /v1/networks '{"name":"corp2"}'
expect 201 POST /v1/networks '{"name":"tmpnet"}'
expect 200 DELETE /v1/networks/tmpnet
expect 404 GET /v1/networks/tmpnet
expect 404 DELETE /v1/networks/tmpnet

expect 201 POST /v1/resources '{"name":"db","network":"corp2","address":"DB.Corp.Example.","protocols":["tcp/5432","tcp/5432"]}'
check "address normalised" test "$(jget '["address"]')" = db.corp.example
check "protocols canonical" test "$(jget '["protocols"]')" = "['tcp/5432']"
expect 201 POST /v1/resources '{"name":"web","network":"corp2","address":"**.web.corp.example","protocols":["tcp/80","tcp/8000-8100","udp","icmp"]}'
expect 201 POST /v1/resources '{"name":"lan6","network":"corp2","address":"fd00:1::/64","protocols":["tcp"]}'
expect 200 GET "/v1/resources?network=corp2"
check "3 resources listed" test "$(jget '["resources"].__len__()')" = 3
expect 200 PATCH /v1/resources/web '{"address":"10.2.0.0/16","protocols":["udp/53"]}'
expect 400 PATCH /v1/resources/web '{"network":"corp2"}'
expect 409 DELETE /v1/networks/corp2   # still has resources
expect 200 DELETE /v1/resources/lan6

expect 201 POST /v1/groups '{"name":"eng"}'
expect 200 PATCH /v1/groups/eng '{"name":"eng"}'
expect 201 POST /v1/users '{"name":"alice","email":"alice@corp.example"}'
expect 200 PATCH /v1/users/alice '{"disabled":true}'
check "user disabled" test "$(jget '["disabled"]')" = True
expect 201 POST /v1/memberships '{"group":"eng","user":"alice"}'; MEM=$(jget '["id"]')
expect 409 POST /v1/memberships '{"group":"eng","user":"alice"}'
expect 200 GET "/v1/memberships?group=eng"
expect 200 DELETE "/v1/memberships/$MEM"
expect 201 POST /v1/policies '{"group":"eng","resource":"db"}'; POL=$(jget '["id"]')
expect 409 POST /v1/policies '{"group":"eng","resource":"db"}'
expect 200 GET "/v1/policies?group=eng&resource=db"
expect 200 GET "/v1/policies/$POL"
expect 201 POST /v1/connectors '{"name":"c1","network":"corp2"}'
check "connector token" grep -q '^pnt1\.' <<<"$(jget '["enrollment_token"]')"
expect 200 POST /v1/connectors/c1/tokens '{"ttl":60}'
expect 400 POST /v1/connectors/c1/tokens '{"ttl":0}'
expect 200 PATCH /v1/connectors/c1 '{"name":"c1b"}'
expect 200 POST /v1/connectors/c1b/revoke
expect 409 POST /v1/connectors/c1b/tokens
expect 200 DELETE /v1/connectors/c1b
expect 201 POST /v1/relays '{"name":"r1","udp":"127.0.0.1:3478","tls":"[::1]:443","ws":"wss://relay.example:443/ws"}'
expect 200 GET /v1/relays/r1
expect 200 PATCH /v1/relays/r1 '{"udp":"relay.example:3478"}'
expect 200 DELETE /v1/relays/r1
expect 201 POST /v1/service-accounts '{"name":"ci","groups":["eng"]}'; SAKEY=$(jget '["api_key"]')
check "sa key" grep -Eq '^pnsk_[0-9a-f]{64}$' <<<"$SAKEY"
expect 201 POST /v1/service-accounts/ci/keys; KID=$(jget '["key_id"]')
expect 200 GET /v1/service-accounts/ci/keys
expect 200 DELETE "/v1/service-accounts/ci/keys/$KID"
expect 200 PATCH /v1/service-accounts/ci '{"disabled":false}'
expect 201 POST /v1/admin-keys '{"name":"auditor","role":"readonly"}'; ROKEY=$(jget '["api_key"]')
expect 201 POST /v1/admin-keys '{"name":"tmp","role":"admin"}'; TMPK=$(jget '["id"]')
expect 200 DELETE "/v1/admin-keys/$TMPK"
expect 200 GET /v1/admin-keys
expect 200 GET /v1/credentials
expect 200 GET /v1/audit
expect 200 GET "/v1/flow-events?format=jsonl"
expect 200 GET /v1/status

# ---- authorization: read-only and service-account keys ----
for e in $ENDPOINTS; do
	m=${e%%:*} p=${e#*:}
	case "$p" in /v1/ctl/*|/v1/client/*) continue ;; esac
	body=; [ "$m" = POST ] || [ "$m" = PATCH ] && body='{}'
	if [ "$m" = GET ] && [ "$p" != /v1/admin-keys ]; then
		req "$m" "$p" "" "$ROKEY"
		[ "$ST" != 401 ] && [ "$ST" != 403 ] && ok || fail "readonly $m $p -> $ST"
	else
		expect 403 "$m" "$p" "$body" "$ROKEY"
	fi
	expect 403 "$m" "$p" "$body" "$SAKEY"
done
expect 403 POST /v1/networks '{"name":' "$ROKEY"   # refused before the body is parsed
for p in /v1/ctl/renew /v1/ctl/flows; do expect 403 POST $p '{}' "$KEY"; done
for p in /v1/ctl/state /v1/ctl/stream; do expect 403 GET $p "" "$KEY"; done
expect 403 POST /v1/client/login '{}' "$KEY"

# ---- validation ----
for b in '{"name":"x y"}' '{"name":""}' '{"name":5}' "{\"name\":\"$(printf 'a%.0s' $(seq 65))\"}" \
	'{"name":"ok","extra":1}' '{}' '{"name":"a\u0000b"}'; do
	expect 400 POST /v1/networks "$b"
done
for a in 'db..corp' '10.0.0.1/8' '*a.corp' 'x.*.y' 'a b' '300.1.1.1/33' '1.2.3.4/33' '10.1'; do
	expect 400 POST /v1/resources "{\"name\":\"bad\",\"network\":\"corp2\",\"address\":\"$a\",\"protocols\":[\"tcp\"]}"
done
for p in '[]' '["tcp/0"]' '["tcp/70000"]' '["tcp/5-3"]' '["sctp"]' '["tcp/"]' '["tcp/1-"]' '"tcp"' '[1]'; do
	expect 400 POST /v1/resources "{\"name\":\"bad\",\"network\":\"corp2\",\"address\":\"a.b\",\"protocols\":$p}"
done
expect 404 POST /v1/resources '{"name":"bad","network":"nonet","address":"a.b","protocols":["tcp"]}'
expect 400 POST /v1/relays '{"name":"r2","udp":"nohostport"}'
expect 400 POST /v1/relays '{"name":"r2","ws":"http://x:1/"}'
expect 400 POST /v1/relays '{"name":"r2"}'
expect 400 POST /v1/memberships '{"group":"eng","user":"alice","service_account":"ci"}'
expect 400 POST /v1/admin-keys '{"name":"k","role":"root"}'
expect 400 POST /v1/networks '{"name":"x"'
expect 400 POST /v1/networks '[1,2]'
expect 400 POST /v1/networks '{"name":"a","name":"b"}'
expect 415 POST /v1/networks '{"name":"ct"}' "$KEY" text/plain
big=$(head -c 70000 /dev/zero | tr '\0' a)
# Oversized with Content-Length: the server answers 413 from the headers alone.
# Expect: 100-continue makes curl wait for that answer before sending the body;
# without it the server's early answer races curl's upload (reset, status 000).
ST=$(printf '{"name":"%s"}' "$big" | curl -sS --cacert "$TMP/ctl/ca.crt" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
	--data-binary @- "$URL/v1/networks")
check "Content-Length oversized -> 413 ($ST)" test "$ST" = 413
req POST /v1/networks "" # chunked oversized body
ST=$(head -c 70000 /dev/zero | tr '\0' a | curl -sS --cacert "$TMP/ctl/ca.crt" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary @- "$URL/v1/networks")
check "chunked oversized -> 413 ($ST)" test "$ST" = 413
expect 400 GET "/v1/audit?limit=0"
expect 400 GET "/v1/audit?after=x"
expect 404 GET /v1/nothing
expect 404 GET /v1//networks
expect 405 PUT /v1/networks '{}'
# SQL metacharacters are data, never SQL
expect 404 GET "/v1/networks/x'%20OR%20'1'='1"
expect 404 GET "/v1/resources?network=x'%20OR%201=1--"
expect 400 POST /v1/users "{\"name\":\"o'brien\"}"
expect 201 POST /v1/users "{\"name\":\"obrien\",\"email\":\"o'brien@x.example\\\"; DROP TABLE users;--\"}"
check "tables intact" test "$(sql 'SELECT COUNT(*) FROM users')" = 2
# enrollment with garbage
expect 401 POST /v1/enroll '{"token":"pnt1.zz","csr":"x"}' ""
expect 401 POST /v1/enroll "{\"token\":\"$(printf '%064d' 7)\",\"csr\":\"x\"}" ""
expect 400 POST /v1/enroll '{"token":"x"}' ""

# ---- CLI exit codes ----
export POSTERN_CONTROLLER_URL=$URL POSTERN_API_KEY=$KEY POSTERN_CA_CERT=$TMP/ctl/ca.crt
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
ctl_ok() { "$BIN" ctl "$@" >"$TMP/ctl.out" 2>"$TMP/ctl.err" && ok || fail "ctl $* -> $? $(cat "$TMP/ctl.err")"; }
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

# ---- slow client: a connection that never speaks is closed by the server ----
t0=$(date +%s)
timeout 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <&3 >/dev/null" 2>/dev/null
t1=$(date +%s)
check "idle connection closed within 15 s ($((t1 - t0)) s)" test $((t1 - t0)) -le 15

# ---- kill -9 during writes ----
WRITERS=
for w in 1 2 3 4; do
	( for i in $(seq 1 400); do
		curl -sS --cacert "$TMP/ctl/ca.crt" -o /dev/null -H "Authorization: Bearer $KEY" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"name\":\"sa-$w-$i\",\"groups\":[\"eng\"]}" "$URL/v1/service-accounts" 2>/dev/null
	done ) &
	WRITERS="$WRITERS $!"
done
sleep 1.5
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
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
	check "every change audited and versioned" test "$(sql "SELECT CASE WHEN (SELECT value FROM meta WHERE key='policy_version') - 1 = (SELECT COUNT(*) FROM audit WHERE actor != 'init') THEN 1 ELSE 0 END")" = 1
}
consistent
expect 200 GET /v1/networks

# ---- two controllers on one database ----
# A second process on the same data directory and store (SQLite: the same
# file; PostgreSQL: the same database).
"$BIN" controller run --data "$TMP/ctl" --api-listen 127.0.0.1:0 "${STORE_ARGS[@]}" \
	>"$TMP/run2.out" 2>>"$TMP/run2.err" &
PID2=$!
for _ in $(seq 1 100); do grep -q '^url=' "$TMP/run2.out" 2>/dev/null && break; sleep 0.05; done
URL2=$(sed -n 's/^url=//p' "$TMP/run2.out")
check "second controller up" test -n "$URL2"
# enrollment race: one token, 50 parallel enrollments split over both
openssl genpkey -algorithm ed25519 -out "$TMP/c.key" 2>/dev/null
openssl req -new -key "$TMP/c.key" -subj /CN=race -out "$TMP/c.csr" 2>/dev/null
TOK=$("$BIN" ctl --url "$URL" connector add corp2 racer | tail -1)
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
	"$TOK" "$TMP/c.csr" >"$TMP/enroll.json"
for i in $(seq 1 50); do
	u=$URL; [ $((i % 2)) = 0 ] && u=$URL2
	curl -sS --cacert "$TMP/ctl/ca.crt" -o "$TMP/race.$i.body" -w '%{http_code}\n' -H 'Content-Type: application/json' \
		--data-binary @"$TMP/enroll.json" "$u/v1/enroll" >"$TMP/race.$i" 2>/dev/null &
done
wait $(jobs -p | grep -v -e "^$PID\$" -e "^$PID2\$") 2>/dev/null
WINS=$(cat "$TMP"/race.? "$TMP"/race.?? | grep -c '^20[01]$')
LOSSES=$(cat "$TMP"/race.? "$TMP"/race.?? | grep -c '^401$')
echo "enrollment race over two controllers: $WINS success, $LOSSES refused"
check "one token, 50 parallel enrollments, two controllers: exactly one success" test "$WINS" = 1
check "... and 49 refusals" test "$LOSSES" = 49
check "exactly one credential recorded for the racer" test "$(sql "SELECT COUNT(*) FROM credentials c JOIN connectors n ON n.id = c.holder_id WHERE n.name = 'racer'")" = 1
# push across controllers: the racer subscribes on the second controller; a
# change committed through the first reaches it (PostgreSQL: LISTEN/NOTIFY,
# goal 1 s; SQLite: the 1 s store poll)
for f in "$TMP"/race.*.body; do
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); open(sys.argv[2],"w").write(d["cert_pem"])' \
		"$f" "$TMP/c.crt" 2>/dev/null && break
done
curl -sSN --cacert "$TMP/ctl/ca.crt" --cert "$TMP/c.crt" --key "$TMP/c.key" "$URL2/v1/ctl/stream" \
	>"$TMP/sse" 2>/dev/null &
SSE=$!
for _ in $(seq 1 100); do grep -q '^event: policy' "$TMP/sse" && break; sleep 0.05; done
check "push subscriber on the second controller gets its state" grep -q '^event: policy' "$TMP/sse"
VN=$(($(sql "SELECT value FROM meta WHERE key='policy_version'") + 1))
expect 201 POST /v1/groups '{"name":"push-probe"}'
t0=$(date +%s%N) # the change is committed
for _ in $(seq 1 300); do grep -q "^id: $VN\$" "$TMP/sse" && break; sleep 0.01; done
t1=$(date +%s%N)
PUSH_MS=$(((t1 - t0) / 1000000))
LIMIT_MS=1000; [ "$STORE" = sqlite ] && LIMIT_MS=3000
echo "change committed through controller 1 -> pushed by controller 2: $PUSH_MS ms ($STORE)"
check "change via one controller pushed by the other within $LIMIT_MS ms ($PUSH_MS ms)" \
	test "$PUSH_MS" -le "$LIMIT_MS" -a -n "$(grep "^id: $VN\$" "$TMP/sse")"
kill "$SSE" 2>/dev/null; wait "$SSE" 2>/dev/null
kill -TERM "$PID2"; wait "$PID2"; RC=$?; PID2=
check "second controller exits 0 on SIGTERM (rc=$RC)" test "$RC" -eq 0

if [ "$STORE" = pg ]; then
	# ---- PostgreSQL down: 503, nothing half-written, recovery without restart ----
	V0=$(sql "SELECT value FROM meta WHERE key='policy_version'")
	pg_kill
	expect 503 GET /v1/networks
	check "503 says the store is unavailable" grep -q store_unavailable <<<"$BODY_OUT"
	expect 503 POST /v1/service-accounts '{"name":"while-down","groups":["eng"]}'
	expect 200 GET /v1/ca "" "" # the CA certificate needs no database
	pg_start_again
	t0=$(date +%s%N)
	for _ in $(seq 1 200); do req GET /v1/networks; [ "$ST" = 200 ] && break; sleep 0.05; done
	t1=$(date +%s%N)
	check "API recovers without restart ($(((t1 - t0) / 1000000)) ms after the database is back)" test "$ST" = 200
	check "nothing written while down" test "$(sql "SELECT COUNT(*) FROM service_accounts WHERE name = 'while-down'")" = 0
	check "policy version unchanged while down" test "$(sql "SELECT value FROM meta WHERE key='policy_version'")" = "$V0"
	expect 201 POST /v1/service-accounts '{"name":"after-up","groups":["eng"]}'
	consistent
fi

# graceful stop; a sanitizer build reports leaks/errors on stderr here
kill -TERM "$PID"; wait "$PID"; RC=$?; PID=
check "controller exits 0 on SIGTERM (rc=$RC)" test "$RC" -eq 0
if grep -q 'Sanitizer' "$TMP/run.err"; then
	fail "sanitizer report"; grep -A30 'Sanitizer' "$TMP/run.err" | head -60 >&2
else ok; fi

echo "api_test: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
