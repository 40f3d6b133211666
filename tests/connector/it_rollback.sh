#!/bin/bash
# A revocation does not come undone when the client reconnects
# (architecture §2: "a connector never goes back").
#
# A client (service account, logged in) reaches a resource through a
# connector.  The client is cut off from the controller (nftables), then
# its only grant is removed: the controller pushes the connector a complete
# set without that client, the open tunnel loses its grant (flows refused
# no_acl).  The client restarts with its old access list (it cannot fetch
# a new one): the connector must refuse that list (stale_version), every
# time it is presented, and no flow may pass.  Then the grant is restored
# and the client reconnected to the controller: its newer list is accepted
# and flows pass again.  Needs root (network namespaces, nftables).
#
#                     pnr-hub (router; controller https://10.211.0.1:8443)
#   pnr-cli 10.211.1.2 ---+
#   (client, SOCKS5 :1080,|
#    --direct to conn)    +--- 10.211.4.2 pnr-conn (connector, UDP :4433) ---- 10.211.9.2 pnr-res
#   nft: drop <-> :8443                  10.211.9.1                           (HTTP :8000)
set -uo pipefail
BUILD=${1:?build dir}
PN_BIN=${PN_BIN:-$BUILD/src/app/postern}
W=$(mktemp -d /tmp/pnr-rollback.XXXXXX)
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
NS_HUB=pnr-hub-$TAG NS_CLI=pnr-cli-$TAG NS_CONN=pnr-conn-$TAG NS_RES=pnr-res-$TAG
ALL_NS="$NS_HUB $NS_CLI $NS_CONN $NS_RES"
PIDS=()
fail=0

ok() { echo "ok   - $1"; }
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
}
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in $ALL_NS; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	[ $fail -eq 0 ] && rm -rf "$W"
}
trap cleanup EXIT
bg() { # name cmd...: background, log to $W/name.log, pid in PID_name
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
stop() { # pid: SIGTERM and wait (a clean exit is part of the contract)
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
veth() { # ns1 if1 addr1 ns2 if2 addr2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
wait_tcp() { # ns host port seconds
	local i
	for i in $(seq $(($4 * 20))); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_log() { # file pattern seconds [min count]
	local i
	for i in $(seq $(($3 * 10))); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "${4:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
finish() {
	local p f
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	for f in "$W"/connector.log "$W"/controller.log; do
		grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$f" 2>/dev/null &&
			bad "sanitizer report in $f"
	done
	if [ $fail -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do echo "== $f"; tail -30 "$f"; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
fetch() { # through the client's SOCKS5 proxy
	ip netns exec $NS_CLI curl -s -m 10 --socks5 127.0.0.1:1080 http://10.211.9.2:8000/ 2>/dev/null
}
HELLO="hello from the private resource"

for n in $ALL_NS; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
ip -n $NS_HUB addr add 10.211.0.1/32 dev lo
veth $NS_HUB h-cli 10.211.1.1/24 $NS_CLI cli0 10.211.1.2/24
veth $NS_HUB h-conn 10.211.4.1/24 $NS_CONN conn0 10.211.4.2/24
veth $NS_CONN res0 10.211.9.1/24 $NS_RES r0 10.211.9.2/24
ip -n $NS_CLI route add default via 10.211.1.1
ip -n $NS_CONN route add default via 10.211.4.1

mkdir -p "$W/www"
echo "$HELLO" >"$W/www/index.html"
bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.211.9.2 --directory "$W/www"

H="ip netns exec $NS_HUB"
$H "$PN_BIN" controller init --data "$W/ctl" --api-listen 10.211.0.1:8443 --hostname 10.211.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init"; finish; }
bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen 10.211.0.1:8443
wait_tcp $NS_CLI 10.211.0.1 8443 15 || { bad "controller up"; finish; }
export POSTERN_CONTROLLER_URL=https://10.211.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"
$CTL network add corp >/dev/null &&
	$CTL resource add app --network corp --address 10.211.9.2 --ports tcp/8000 >/dev/null &&
	$CTL group add eng >/dev/null || bad "ctl provisioning"
SA_KEY=$($CTL service-account add laptop --group eng | grep '^pnsk_')
$CTL grant add eng app >/dev/null || bad "grant"
TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
ip netns exec $NS_CONN "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn" >"$W/enroll.log" 2>&1 ||
	{ bad "connector enroll"; finish; }
CONN_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/conn/controller.json")
bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.211.4.2:4433
wait_log "$W/connector.log" "policy_push" 15 || bad "connector subscribed"

echo "$SA_KEY" >"$W/sa.key"
ip netns exec $NS_CLI "$PN_BIN" client login --controller https://10.211.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/sa.key" --state "$W/cli" >"$W/login.out" 2>&1 ||
	{ bad "client login ($(cat "$W/login.out"))"; finish; }
start_client() {
	bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
		--direct "$CONN_ID=10.211.4.2:4433"
	wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"
}
start_client
out=$(fetch)
[[ "$out" == *"$HELLO"* ]] && ok "granted flow passes" || bad "granted flow (got '${out:0:200}')"
wait_log "$W/connector.log" "acl_accepted" 5 || bad "connector accepted the client's list"
V_OLD=$(grep -o 'acl_accepted.*version=[0-9]*' "$W/connector.log" | tail -1 | grep -o '[0-9]*$')

# Cut the client off from the controller, then withdraw its only grant.
ip netns exec $NS_CLI nft -f - <<EOF || bad "nftables cut"
table inet pnr {
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 10.211.0.1 tcp dport 8443 drop
	}
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr 10.211.0.1 tcp sport 8443 drop
	}
}
EOF
ip netns exec $NS_CLI bash -c "exec 3<>/dev/tcp/10.211.0.1/8443" 2>/dev/null &
probe=$!
sleep 2
kill -0 $probe 2>/dev/null && ok "client cannot reach the controller" || bad "controller still reachable"
kill $probe 2>/dev/null
wait $probe 2>/dev/null
pushes=$(grep -c "policy_push" "$W/connector.log")
$CTL grant delete eng app >/dev/null || bad "grant delete"
wait_log "$W/connector.log" "policy_push" 10 $((pushes + 1)) || bad "removal pushed to the connector"
wait_log "$W/connector.log" "acl_withdrawn" 5 && ok "connector withdrew the open tunnel's grant" ||
	bad "connector withdrew the open tunnel's grant"
out=$(fetch)
[[ "$out" != *"$HELLO"* ]] && ok "flow on the open tunnel refused" || bad "flow passed after removal"
wait_log "$W/connector.log" "flow_deny.*reason=\"no_acl\"" 5 && ok "connector denied it: no_acl" ||
	bad "connector logged no_acl"

# The client restarts with its old list, and tries again and again.
stop "$PID_client"
accepted=$(grep -c "acl_accepted" "$W/connector.log")
start_client
for i in 1 2 3; do
	out=$(fetch)
	[[ "$out" != *"$HELLO"* ]] && ok "restarted client, attempt $i: flow refused" ||
		bad "restarted client, attempt $i: flow passed with the old list"
done
n=$(grep -c "acl_refused.*reason=stale_version" "$W/connector.log")
[ "$n" -ge 1 ] && ok "connector refused the old list $n times (stale_version)" ||
	bad "connector refused the old list (stale_version)"
[ "$(grep -c "acl_accepted" "$W/connector.log")" -eq "$accepted" ] &&
	ok "connector accepted no list of the restarted client" ||
	bad "connector accepted a list again: $(grep "acl_accepted" "$W/connector.log" | tail -1)"
grep "acl_refused.*stale_version" "$W/connector.log" | tail -1 | grep -q "version=$V_OLD " &&
	ok "the refused list is the old one (version $V_OLD)" || bad "refused list version (wanted $V_OLD)"

# Grant again and let the client reach the controller: a newer list passes.
$CTL grant add eng app >/dev/null || bad "grant add again"
ip netns exec $NS_CLI nft delete table inet pnr || bad "nftables restore"
for i in $(seq 30); do
	out=$(fetch)
	[[ "$out" == *"$HELLO"* ]] && break
	sleep 1
done
[[ "$out" == *"$HELLO"* ]] && ok "after the grant is restored, a newer list passes" ||
	bad "flow after the grant was restored (got '${out:0:200}')"
finish
