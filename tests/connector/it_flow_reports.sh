#!/bin/bash
# Flow reports of real flows: a burst of short TCP flows through a client
# and a `postern connector run` enrolled with a real controller; every flow
# event the connector logged (flow_start / flow_end / flow_deny) must be
# stored by the controller.  Before reports were cut by size, full batches
# of 256 events exceeded the controller's 64 KiB limit, got 413 and were
# thrown away (138 of 50,536 stored in the field).  Needs root (netns).
#
#                     pnq-hub (router; controller https://10.212.0.1:8443)
#   pnq-cli 10.212.1.2 ---+
#   (client, SOCKS5 :1080,|
#    flowburst.py)        +--- 10.212.4.2 pnq-conn (connector, UDP :4433) ---- 10.212.9.2 pnq-res
#                                         10.212.9.1                   (greeter.py :7000)
set -uo pipefail
BUILD=${1:?build dir}
PN_BIN=${PN_BIN:-$BUILD/src/app/postern}
HERE=$(cd "$(dirname "$0")" && pwd)
FLOWS=${PN_FLOWS:-3000}
W=$(mktemp -d /tmp/pnq-flowrep.XXXXXX)
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
NS_HUB=pnq-hub-$TAG NS_CLI=pnq-cli-$TAG NS_CONN=pnq-conn-$TAG NS_RES=pnq-res-$TAG
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
bg() { # name cmd...: background, log to $W/name.log
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
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
wait_log() { # file pattern seconds
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
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
		for f in "$W"/*.log; do echo "== $f"; grep -v "flow_start\|flow_end\|DEBUG" "$f" | tail -20; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
stored_rows() {
	python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True,timeout=10); print(c.execute("select count(*) from flow_events").fetchone()[0])' \
		"$W/ctl/controller.db"
}
logged_events() { grep -c "connector flow_\(start\|end\|deny\) " "$W/connector.log"; }

for n in $ALL_NS; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
ip -n $NS_HUB addr add 10.212.0.1/32 dev lo
veth $NS_HUB h-cli 10.212.1.1/24 $NS_CLI cli0 10.212.1.2/24
veth $NS_HUB h-conn 10.212.4.1/24 $NS_CONN conn0 10.212.4.2/24
veth $NS_CONN res0 10.212.9.1/24 $NS_RES r0 10.212.9.2/24
ip -n $NS_CLI route add default via 10.212.1.1
ip -n $NS_CONN route add default via 10.212.4.1

bg greeter ip netns exec $NS_RES python3 "$HERE/greeter.py" 10.212.9.2 7000
H="ip netns exec $NS_HUB"
$H "$PN_BIN" controller init --data "$W/ctl" --api-listen 10.212.0.1:8443 --hostname 10.212.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init"; finish; }
bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen 10.212.0.1:8443
wait_tcp $NS_CLI 10.212.0.1 8443 15 || { bad "controller up"; finish; }
export POSTERN_CONTROLLER_URL=https://10.212.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"
$CTL network add corp >/dev/null &&
	$CTL resource add greeter --network corp --address 10.212.9.2 --ports tcp/7000 >/dev/null &&
	$CTL group add eng >/dev/null || bad "ctl provisioning"
SA_KEY=$($CTL service-account add loader --group eng | grep '^pnsk_')
$CTL grant add eng greeter >/dev/null || bad "grant"
TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
ip netns exec $NS_CONN "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn" >"$W/enroll.log" 2>&1 ||
	{ bad "connector enroll"; finish; }
CONN_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/conn/controller.json")
bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.212.4.2:4433
wait_log "$W/connector.log" "policy_push" 15 || bad "connector subscribed"
wait_tcp $NS_CONN 10.212.9.2 7000 10 || bad "resource up"
echo "$SA_KEY" >"$W/sa.key"
ip netns exec $NS_CLI "$PN_BIN" client login --controller https://10.212.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/sa.key" --state "$W/cli" >"$W/login.out" 2>&1 ||
	{ bad "client login ($(cat "$W/login.out"))"; finish; }
bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_ID=10.212.4.2:4433"
wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"

t0=$(date +%s)
out=$(ip netns exec $NS_CLI python3 "$HERE/flowburst.py" 127.0.0.1 1080 10.212.9.2 7000 "$FLOWS" 64)
t1=$(date +%s)
okf=$(echo "$out" | grep -o 'ok=[0-9]*' | cut -d= -f2)
[ "${okf:-0}" -ge $((FLOWS * 9 / 10)) ] && ok "$out of $FLOWS flows in $((t1 - t0)) s" ||
	bad "flows: $out of $FLOWS"
# Every event the connector logged reaches the controller (a partial
# batch waits at most a second; allow for a slow machine).
# The log lines and the reports race each other: wait for them to agree.
gen=0 rows=0
for i in $(seq 60); do
	rows=$(stored_rows)
	gen=$(logged_events)
	[ "$rows" = "$gen" ] && [ "$gen" -ge $((okf * 2)) ] && break
	sleep 0.5
done
[ "$rows" = "$gen" ] && [ "$gen" -ge $((okf * 2)) ] &&
	ok "controller stored $rows of $gen flow events the connector logged ($okf flows)" ||
	bad "controller stored $rows of $gen flow events the connector logged"
grep -q "report_refused\|flow_reports_dropped\|report_failed" "$W/connector.log" &&
	bad "reports refused, dropped or failed: $(grep -m3 "report_refused\|flow_reports_dropped\|report_failed" "$W/connector.log")" ||
	ok "no report refused, dropped or failed"
finish
