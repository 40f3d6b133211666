#!/bin/bash
# Client front ends end to end: SOCKS5 (TCP CONNECT, UDP ASSOCIATE, remote
# name resolution) and a port-forward, through a tunnel to a connector that
# proxies to a private resource network; local and connector-side denials;
# malformed SOCKS requests; `postern client status`.  Paths: relay over
# UDP, over TCP/TLS and over WebSocket, and direct UDP to the connector.  Needs root.
#
#                        pnc-hub (router)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay: UDP :3478, TLS :4433)
#   clients: SOCKS5 127.0.0.1:108x, forward 127.0.0.1:1800x -> app.corp.example:8000
#                         +--- 10.203.4.2 pnc-conn1 (connector, UDP :4433) ---- 10.203.9.2 pnc-res
#                                                  (HTTP :8000 granted, :8001 not granted,
#                                                   TCP echo :7, UDP echo :7)
# The client has no route to pnc-res; names resolve only at the connector.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-proxy
source "$(dirname "$0")/../lib/fixnet.sh"
CHECK="python3 $PN_SRC/tests/client/sockscheck.py"

# The full set of checks against one running client.
checks() { # label state-name socks-port forward-port expected-path
	local L=$1 st=$2 S=127.0.0.1:$3 F=$4 want=$5 out js
	out=$($C curl -s -m 10 --socks5-hostname $S http://app.corp.example:8000/)
	expect "$L: socks5 http by name (remote resolution)" "hello from the private resource" "$out"
	out=$($C curl -s -m 10 http://127.0.0.1:$F/)
	expect "$L: port-forward http" "hello from the private resource" "$out"
	expect "$L: socks5 tcp echo by address" "echo: ok" "$($C $CHECK tcp-echo $S 10.203.9.2 7)"
	expect "$L: socks5 tcp echo by name" "echo: ok" "$($C $CHECK tcp-echo $S echo.corp.example 7)"
	expect "$L: socks5 udp associate" "udp: 3/3" "$($C $CHECK udp-echo $S 10.203.9.2 7)"
	# Not in the client's list: refused locally.  In the client's list but
	# not the connector's: refused by the connector.  Both 0x02.
	expect "$L: not granted -> 0x02 (local)" "reply: 0x02" \
		"$($C $CHECK reply $S connect name secret.corp.example 8001)"
	expect "$L: connector denial -> 0x02" "reply: 0x02" "$($C $CHECK reply $S connect v4 10.203.9.2 8002)"
	out=$($C curl -s -m 10 -o /dev/null -w '%{http_code}' --socks5-hostname $S http://secret.corp.example:8001/ 2>&1)
	expect "$L: curl to a denied resource gets nothing" "000" "$out"
	expect "$L: BIND -> 0x07" "reply: 0x07" "$($C $CHECK reply $S bind v4 10.203.9.2 7)"
	expect "$L: unknown command -> 0x07" "reply: 0x07" "$($C $CHECK reply $S raw:9 v4 10.203.9.2 7)"
	expect "$L: unknown address type -> 0x08" "reply: 0x08" "$($C $CHECK reply $S connect raw:9 10.203.9.2 7)"
	expect "$L: no acceptable method -> 0xff" "method: 0xff" "$($C $CHECK greet $S 2)"
	expect "$L: still serving after bad requests" "echo: ok" "$($C $CHECK tcp-echo $S 10.203.9.2 7)"
	grep -q 'flow_refused.*secret.corp.example:8001.*socks_rep=0x02' "$W/client-$st.log" &&
		ok "$L: local refusal logged" || bad "$L: local refusal logged"
	grep -q 'flow_start flow=[0-9a-f]\{16\}' "$W/client-$st.log" && ok "$L: flow ids logged" ||
		bad "$L: flow ids logged"
	fid=$(sed -n 's/.*flow_start flow=\([0-9a-f]\{16\}\).*dest=10.203.9.2:7 .*/\1/p' "$W/client-$st.log" | head -1)
	grep -q "flow=$fid" "$W/connector-conn1.log" && ok "$L: connector logs the same flow id" ||
		bad "$L: connector logs the same flow id ($fid)"
	out=$($C "$PN_BIN" client status --state "$W/pki/$st")
	echo "$out" | sed 's/^/    /'
	expect "$L: status shows the tunnel up" " up " "$out"
	js=$($C "$PN_BIN" client status --json --state "$W/pki/$st")
	expect "$L: status json path" "$want" \
		"$(echo "$js" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tunnels"][0]; print(t["path"], t["flows_total"] > 0)')"
}

pn_topo_up
pn_resources || bad "resources up"
pn_pki_one_connector
pn_start_relay
pn_start_connector conn1

# Relay over UDP (the default path).  No NAT here: NAT traversal (issue
# 12) moves the tunnel onto a direct path once it is up, so the path is
# relay-udp or direct (it_nat covers which and when).
pn_start_client alice --socks 127.0.0.1:1080 --forward 127.0.0.1:18000=app.corp.example:8000
checks relay-udp alice 1080 18000 " True"
# Relay over TCP/TLS.
cp -a "$W/pki/alice" "$W/pki/alice-tls" && rm -f "$W/pki/alice-tls/client.sock"
pn_start_client alice-tls --socks 127.0.0.1:1081 --forward 127.0.0.1:18001=app.corp.example:8000 \
	--transport tls
checks relay-tls alice-tls 1081 18001 "relay-tls True"
# Relay over WebSocket (the TLS stream inside ws://relay:4433/postern).
cp -a "$W/pki/alice" "$W/pki/alice-ws" && rm -f "$W/pki/alice-ws/client.sock"
pn_start_client alice-ws --socks 127.0.0.1:1083 --forward 127.0.0.1:18003=app.corp.example:8000 \
	--transport ws
checks relay-ws alice-ws 1083 18003 "relay-ws True"

# Direct UDP to the connector's --listen-udp socket.
cp -a "$W/pki/alice" "$W/pki/alice-direct" && rm -f "$W/pki/alice-direct/client.sock"
pn_start_client alice-direct --socks 127.0.0.1:1082 --forward 127.0.0.1:18002=app.corp.example:8000 \
	$(pn_direct_args)
checks direct alice-direct 1082 18002 "direct True"

pn_finish
