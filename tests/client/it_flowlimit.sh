#!/bin/bash
# Per-tunnel flow limit and spill-over (issue 10, item 10).  Two connectors
# serve network "corp", each started with --max-flows 4: a client tunnel
# may carry 4 flows at once (the connector grants 4 + 1 QUIC streams and
# returns credit as flows end).  With 4 flows held open on one connector's
# tunnel, the 5th must go to the other connector's tunnel instead of being
# refused; only the 9th (both tunnels full) is refused (SOCKS 0x01, logged
# PN_E_TUN_LIMIT).  Once the held flows end, 20 flows in a row work (stream
# credit came back).  Then the client's own limit (--max-flows 2) applies
# the same way.  Needs root (network namespaces).
#
#                        pnc-hub (router)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay)
#   (client, SOCKS5 :1080)+--- 10.203.4.2 pnc-conn1 --max-flows 4 ---- 10.203.9.2 pnc-res (echo :7)
#                         +--- 10.203.5.2 pnc-conn2 --max-flows 4 ---- 10.203.10.1 pnc-res
set -uo pipefail
BUILD=${1:?build dir}
PN_TWO_CONNECTORS=1
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-flowlimit
source "$(dirname "$0")/../lib/fixnet.sh"
HOLDS=()
pn_at_exit 'for p in "${HOLDS[@]}"; do kill "$p" 2>/dev/null; done'
CHECK="python3 $PN_SRC/tests/client/sockscheck.py"

pn_topo_up
pn_resources
pn_pki_one_connector
pn_start_relay
pn_start_connector conn1 --max-flows 4
pn_start_connector conn2 --max-flows 4

# flows per connector from `client status --json`: "conn1=N conn2=M"
placement() {
	$C "$PN_BIN" client status --json --state "$W/pki/alice" | python3 -c '
import json, sys
ids = dict(a.split("=") for a in sys.argv[1:])
out = {}
for t in json.load(sys.stdin)["tunnels"]:
    out[ids.get(t["connector"], "?")] = "%d/%d" % (t["flows"], t["max_flows"])
print(" ".join("%s=%s" % (k, out.get(k, "0/-")) for k in ("conn1", "conn2")))' \
		"$(cat "$W/pki/conn1/id")=conn1" "$(cat "$W/pki/conn2/id")=conn2"
}
sorted_counts() { # "conn1=a/x conn2=b/y" -> "min max" of the flow counts
	echo "$1" | tr ' ' '\n' | sed -E 's/.*=([0-9]+)\/.*/\1/' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
hold() { # n: open one more long-lived flow and wait until it is up
	$C $CHECK hold 127.0.0.1:1080 10.203.9.2 7 60 >"$W/hold$1.out" 2>&1 &
	HOLDS+=($!)
	for i in $(seq 200); do
		grep -q "held: open\|reply:\|ended" "$W/hold$1.out" && break
		sleep 0.05
	done
	grep -q "held: open" "$W/hold$1.out"
}
release_holds() {
	local p
	for p in "${HOLDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${HOLDS[@]}"; do wait "$p" 2>/dev/null; done
	HOLDS=()
}
wait_flows_zero() {
	for i in $(seq 200); do
		[ "$(sorted_counts "$(placement)")" = "0 0" ] && return 0
		sleep 0.05
	done
	return 1
}

pn_start_client alice --socks 127.0.0.1:1080
expect "first flow" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7)"

opened=0
for n in 1 2 3 4; do hold $n && opened=$((opened + 1)); done
p=$(placement)
echo "    4 held: $p"
expect "4 flows held open" "4" "$opened"
expect "4 flows on one tunnel (limit 4 learned from the connector)" "0 4" "$(sorted_counts "$p")"
expect "tunnel reports max_flows 4" "/4" "$p"
hold 5 && ok "5th flow opened while one tunnel is full" || bad "5th flow opened ($(cat "$W/hold5.out"))"
p=$(placement)
echo "    5 held: $p"
expect "5th flow placed on the other connector" "1 4" "$(sorted_counts "$p")"
for n in 6 7 8; do hold $n || bad "flow $n opened ($(cat "$W/hold$n.out"))"; done
p=$(placement)
echo "    8 held: $p"
expect "8 flows: both tunnels full" "4 4" "$(sorted_counts "$p")"
r=$($C $CHECK reply 127.0.0.1:1080 connect v4 10.203.9.2 7)
expect "9th flow refused (every tunnel full)" "reply: 0x01" "$r"
expect "refusal logged with its cause" "reason=PN_E_TUN_LIMIT" "$(grep flow_refused "$W/client-alice.log" | tail -1)"

release_holds
wait_flows_zero || bad "held flows ended ($(placement))"
r=$($C python3 "$PN_SRC/tests/client/flowload.py" cycles socks:127.0.0.1:1080 10.203.9.2:7 40 1 2>&1)
echo "    $r"
expect "40 more flows, one at a time, after the held ones ended (stream credit returned)" "ok=40 failed=0" "$r"

# The client's own limit: --max-flows 2 (lower than the connectors' 4).
kill "$PID_client_alice"
pn_wait_gone "$PID_client_alice" 5
rm -f "$W/pki/alice/client.sock"
pn_start_client alice --socks 127.0.0.1:1080 --max-flows 2
expect "first flow (client limit 2)" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7)"
for n in 11 12 13 14; do hold $n || bad "flow $n opened under the client's limit ($(cat "$W/hold$n.out"))"; done
p=$(placement)
echo "    4 held, client --max-flows 2: $p"
expect "client limit 2: two flows per tunnel" "2 2" "$(sorted_counts "$p")"
expect "tunnel reports max_flows 2" "/2" "$p"
r=$($C $CHECK reply 127.0.0.1:1080 connect v4 10.203.9.2 7)
expect "5th flow refused under the client's limit" "reply: 0x01" "$r"
release_holds
pn_finish
