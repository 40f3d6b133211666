#!/bin/bash
# Two controllers over one PostgreSQL behind a real haproxy (TCP, health
# checks), with a relay, a connector and a client that only know the
# haproxy address.  Shows: a grant removed through controller Y reaches
# the connector subscribed on controller X within 1 s (LISTEN/NOTIFY) and
# new flows are denied; kill -9 of the controller the connector is
# subscribed to -> the connector is subscribed to the other one within 5 s,
# renews its credential through it, receives changes, and flows work;
# PostgreSQL killed mid-traffic -> an open flow continues, new flows work,
# the API answers 503, and all recovers (no restart) when it returns.
# Needs root (network namespaces) and haproxy + postgresql (Debian).
#
#   pnf-hub: haproxy 10.207.0.1:8443 -> controller A 10.207.0.2:8443
#                                    -> controller B 10.207.0.3:8443
#            (both on one private PostgreSQL cluster, Unix socket)
#   pnf-cli 10.207.1.2 --+-- 10.207.2.2 pnf-relay
#                        +-- 10.207.4.2 pnf-conn ---- 10.207.9.2 pnf-res (HTTP :8000)
set -uo pipefail
BUILD=${1:?build dir}
PN_BIN=${PN_BIN:-$BUILD/src/app/postern}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/pg_cluster.sh"
LIFE=30 # credential lifetime (s): renewals every 15-20 s, streams recycled every 7.5 s
W=$(mktemp -d /tmp/pnf.XXXXXX)
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
NS_HUB=pnf-hub-$TAG NS_CLI=pnf-cli-$TAG NS_RELAY=pnf-relay-$TAG NS_CONN=pnf-conn-$TAG
NS_RES=pnf-res-$TAG
ALL_NS="$NS_HUB $NS_CLI $NS_RELAY $NS_CONN $NS_RES"
PIDS=()
fail=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in $ALL_NS; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	pg_stop
	[ $fail -eq 0 ] && rm -rf "$W"
}
trap cleanup EXIT
bg() { # name cmd...: background, log to $W/name.log
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
veth() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
wait_tcp() { # ns host port seconds
	for _ in $(seq $(($4 * 20))); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
count() { grep -c "$2" "$1" 2>/dev/null || true; }
wait_count() { # file pattern min seconds*100
	for _ in $(seq "$4"); do
		[ "$(count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.01
	done
	return 1
}
finish() {
	local p f
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	for f in "$W"/*.log; do
		grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$f" 2>/dev/null &&
			bad "sanitizer report in $f"
	done
	if [ $fail -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do echo "== $f"; tail -25 "$f"; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
flow() { ip netns exec $NS_CLI curl -s -m 10 --socks5 127.0.0.1:1080 http://10.207.9.2:8000/; }

pg_start || { echo "could not start PostgreSQL"; exit 1; }
for n in $ALL_NS; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
for a in 1 2 3; do ip -n $NS_HUB addr add 10.207.0.$a/32 dev lo; done
veth $NS_HUB h-cli 10.207.1.1/24 $NS_CLI cli0 10.207.1.2/24
veth $NS_HUB h-relay 10.207.2.1/24 $NS_RELAY relay0 10.207.2.2/24
veth $NS_HUB h-conn 10.207.4.1/24 $NS_CONN conn0 10.207.4.2/24
veth $NS_CONN res0 10.207.9.1/24 $NS_RES r0 10.207.9.2/24
ip -n $NS_CLI route add default via 10.207.1.1
ip -n $NS_RELAY route add default via 10.207.2.1
ip -n $NS_CONN route add default via 10.207.4.1
mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
head -c 1500000 /dev/urandom >"$W/www/big.bin"
bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.207.9.2 --directory "$W/www"

# ---- two controllers, one database, one identity ----
H="ip netns exec $NS_HUB"
$H "$PN_BIN" controller init --data "$W/a" --api-listen 10.207.0.2:8443 \
	--hostname 10.207.0.1,10.207.0.2,10.207.0.3 --store "$PG_URL" >"$W/init.out" 2>&1 ||
	{ bad "controller init ($(cat "$W/init.out"))"; finish; }
printf 'failover test passphrase\n' >"$W/pass"
"$PN_BIN" controller export-identity --data "$W/a" --out "$W/bundle.json" --passphrase-file "$W/pass" \
	>/dev/null && "$PN_BIN" controller join --data "$W/b" --bundle "$W/bundle.json" \
	--passphrase-file "$W/pass" --api-listen 10.207.0.3:8443 >/dev/null || { bad "export/join"; finish; }
bg ctlA $H "$PN_BIN" controller run --data "$W/a" --cred-lifetime ${LIFE}s
bg ctlB $H "$PN_BIN" controller run --data "$W/b" --cred-lifetime ${LIFE}s
cat >"$W/haproxy.cfg" <<EOF
global
	maxconn 2000
defaults
	mode tcp
	timeout connect 1s
	timeout client 120s
	timeout server 120s
	retries 3
	option redispatch
frontend api
	bind 10.207.0.1:8443
	default_backend controllers
backend controllers
	balance roundrobin
	default-server check inter 300 fall 2 rise 2 on-marked-down shutdown-sessions
	server a 10.207.0.2:8443
	server b 10.207.0.3:8443
EOF
bg haproxy $H haproxy -f "$W/haproxy.cfg" -db
wait_tcp $NS_CLI 10.207.0.1 8443 15 && wait_tcp $NS_HUB 10.207.0.2 8443 15 &&
	wait_tcp $NS_HUB 10.207.0.3 8443 15 || { bad "controllers and haproxy up"; finish; }
ok "two controllers behind haproxy"

LB=https://10.207.0.1:8443
export POSTERN_CA_CERT=$W/a/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl --url $LB"
$CTL network add corp >/dev/null &&
	$CTL resource add app --network corp --address 10.207.9.2 --ports tcp/8000 >/dev/null &&
	$CTL group add eng >/dev/null && $CTL grant add eng app >/dev/null || bad "provisioning via haproxy"
SA_KEY=$($CTL service-account add laptop --group eng | grep '^pnsk_')
TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
RTOKEN=$($CTL relay add relay1 --udp 10.207.2.2:3478 --tls 10.207.2.2:4433 | grep '^pnt1\.')
CONN_ID=$($CTL --json connector list | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin)["connectors"] if c["name"]=="conn1"][0])')

ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/relay" >"$W/enroll.log" 2>&1 ||
	bad "relay enroll via haproxy"
bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/relay" --udp 10.207.2.2:3478 --tls 10.207.2.2:4433
ip netns exec $NS_CONN "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn" >>"$W/enroll.log" 2>&1 ||
	{ bad "connector enroll via haproxy"; finish; }
CONN_CRED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/conn/controller.json")
bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.207.4.2:4433
echo "$SA_KEY" >"$W/sa.key"
ip netns exec $NS_CLI "$PN_BIN" client login --controller $LB --ca "$W/a/ca.crt" \
	--service-account-key "@$W/sa.key" --state "$W/cli" >"$W/login.out" 2>&1 ||
	{ bad "client login via haproxy ($(cat "$W/login.out"))"; finish; }
bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_CRED=10.207.4.2:4433"
wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"
wait_count "$W/connector.log" "policy_push" 1 1500 || bad "connector got its first state"
out=$(flow)
[[ "$out" == *"hello from the private resource"* ]] && ok "flow through the connector" ||
	bad "first flow (got '${out:0:200}')"

# which controller holds the connector's stream right now?  (streams are
# recycled every LIFE/4 s and haproxy balances round robin)
SUB="push_subscribed holder=$CONN_ID"
attached() { # -> A or B: the controller with the connector's latest subscription
	local ta tb
	ta=$(grep "$SUB" "$W/ctlA.log" 2>/dev/null | tail -1 | cut -d' ' -f1)
	tb=$(grep "$SUB" "$W/ctlB.log" 2>/dev/null | tail -1 | cut -d' ' -f1)
	if [[ "$ta" > "$tb" ]]; then echo A; else echo B; fi
}
fresh_sub() { # wait for a new subscription of the connector (either controller)
	local n=$(($(count "$W/ctlA.log" "$SUB") + $(count "$W/ctlB.log" "$SUB")))
	for _ in $(seq 1500); do
		[ $(($(count "$W/ctlA.log" "$SUB") + $(count "$W/ctlB.log" "$SUB"))) -gt "$n" ] && return 0
		sleep 0.01
	done
	return 1
}
ip_of() { [ "$1" = A ] && echo 10.207.0.2 || echo 10.207.0.3; }
other() { [ "$1" = A ] && echo B || echo A; }

# ---- a grant removed through Y reaches the connector on X within 1 s ----
fresh_sub || bad "connector resubscribes (stream recycling)"
X=$(attached); Y=$(other "$X")
N=$(count "$W/connector.log" "policy_push")
$H "$PN_BIN" ctl --url "https://$(ip_of "$Y"):8443" grant delete eng app >/dev/null || bad "grant delete via $Y"
t0=$(date +%s%N)
V=$(pg_sql "SELECT value FROM meta WHERE key='policy_version'")
for _ in $(seq 300); do grep -q "policy_push version=$V " "$W/connector.log" && break; sleep 0.01; done
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "policy_push version=$V " "$W/connector.log" && [ $ms -le 1000 ] &&
	ok "grant removed through controller $Y reached the connector on controller $X in $ms ms" ||
	bad "grant removal through $Y -> connector on $X: version $V after $ms ms"
out=$(flow)
[[ "$out" != *"hello from the private resource"* ]] && ok "new flow denied after the grant removal" ||
	bad "flow still allowed after the grant removal"
$CTL grant add eng app >/dev/null || bad "grant re-added"

# ---- kill -9 of the controller the connector is attached to ----
fresh_sub || bad "connector resubscribes (stream recycling)"
X=$(attached); Y=$(other "$X")
NY=$(count "$W/ctl$Y.log" "$SUB")
RENEW0=$(count "$W/connector.log" "cred_renewed")
eval "kill -9 \$PID_ctl$X"
t0=$(date +%s%N)
for _ in $(seq 1000); do [ "$(count "$W/ctl$Y.log" "$SUB")" -gt "$NY" ] && break; sleep 0.01; done
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(count "$W/ctl$Y.log" "$SUB")" -gt "$NY" ] && [ $ms -le 5000 ] &&
	ok "kill -9 of controller $X: connector subscribed on controller $Y after $ms ms" ||
	bad "connector resubscribed on $Y ($ms ms)"
N=$(count "$W/connector.log" "policy_push")
$CTL group add after-failover >/dev/null && ok "admin API through haproxy after the failover" ||
	bad "admin API through haproxy after the failover"
wait_count "$W/connector.log" "policy_push" $((N + 1)) 300 && ok "connector receives changes through controller $Y" ||
	bad "connector receives changes after the failover"
wait_count "$W/connector.log" "cred_renewed" $((RENEW0 + 1)) $((LIFE * 100)) &&
	ok "connector renewed its credential after the failover" || bad "connector renewal after the failover"
out=$(flow)
[[ "$out" == *"hello from the private resource"* ]] && ok "flows work after the failover" ||
	bad "flow after the failover (got '${out:0:200}')"

# ---- PostgreSQL killed mid-traffic ----
ip netns exec $NS_CLI curl -s -m 60 --limit-rate 150k --socks5 127.0.0.1:1080 \
	-o "$W/big.out" http://10.207.9.2:8000/big.bin &
DL=$!
sleep 1
pg_kill
st=$($H curl -s -o "$W/st.out" -w '%{http_code}' --cacert "$W/a/ca.crt" \
	-H "Authorization: Bearer $POSTERN_API_KEY" $LB/v1/networks)
[ "$st" = 503 ] && grep -q store_unavailable "$W/st.out" &&
	ok "database down: API through haproxy answers 503 store_unavailable" || bad "API with the database down: $st"
out=$(flow)
[[ "$out" == *"hello from the private resource"* ]] && ok "new flows work with the database down" ||
	bad "new flow with the database down (got '${out:0:200}')"
sleep 2
pg_start_again || bad "database restarted"
t0=$(date +%s%N)
for _ in $(seq 500); do
	st=$($H curl -s -o /dev/null -w '%{http_code}' --cacert "$W/a/ca.crt" \
		-H "Authorization: Bearer $POSTERN_API_KEY" $LB/v1/networks)
	[ "$st" = 200 ] && break
	sleep 0.02
done
[ "$st" = 200 ] && ok "API recovered without restart $((($(date +%s%N) - t0) / 1000000)) ms after the database" ||
	bad "API after the database returned: $st"
N=$(count "$W/connector.log" "policy_push")
$CTL group add after-db-restart >/dev/null || bad "change after the database returned"
wait_count "$W/connector.log" "policy_push" $((N + 1)) 300 &&
	ok "connector receives changes after the database returned" || bad "push after the database returned"
wait "$DL"
cmp -s "$W/big.out" "$W/www/big.bin" && ok "flow open across the database outage completed intact" ||
	bad "download across the outage ($(stat -c %s "$W/big.out" 2>/dev/null) bytes)"
finish
