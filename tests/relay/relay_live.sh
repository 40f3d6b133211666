#!/bin/bash
# A relay list changed at the controller is applied by running clients and
# connectors, without a restart (root, network namespaces):
#
#                      hub (router; controller https://10.234.0.1:8443)
#   cli 10.234.1.2 ---+--- 10.234.2.2 relay1
#   (client "laptop", +--- 10.234.3.2 relay2 (added while everything runs)
#    SOCKS5 :1080)    +--- 10.234.4.2 conn (connector) ---- 10.234.9.2 res (echo :9000)
#
# UDP between the client's and the connector's networks is dropped at the
# hub, so the tunnel goes through a relay.  Steps:
#   1. relay1 only: a flow through the tunnel, on relay1;
#   2. relay2 added and enrolled: the push reaches the client and the
#      connector (relay_added... in their logs), the connector registers
#      with relay2, same processes (no restart);
#   3. relay1 revoked: both remove it (relay_removed), the tunnel moves to
#      relay2 and new flows complete there; relay1 then killed: flows still
#      complete (nothing depends on it any more);
#   4. the client and the connector are still the processes started in 1.
# Before this, a pushed list was only written to relays.json and used at
# the next start: step 2 fails.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" relay-live
NET=10.234

pn_star $NET || pn_finish
NS_RELAY2=pnr2-$PN_TAG
pn_ns $NS_RELAY2 || pn_finish
pn_veth $NS_HUB h-relay2 $NET.3.1/24 $NS_RELAY2 relay0 $NET.3.2/24
ip -n $NS_RELAY2 route add default via $NET.3.1
# no direct path: client <-> connector UDP dropped at the hub
ip netns exec $NS_HUB nft -f - <<NFT || bad "hub filter"
table ip pnlive {
	chain block {
		type filter hook forward priority 0;
		ip saddr $NET.1.0/24 ip daddr $NET.4.0/24 meta l4proto udp drop
		ip saddr $NET.4.0/24 ip daddr $NET.1.0/24 meta l4proto udp drop
	}
}
NFT
pn_bg echo ip netns exec $NS_RES python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'$NET.9.2'", 9000)); s.listen(64)
def serve(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b: return
            c.sendall(b)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()'
pn_wait_tcp $NS_RES $NET.9.2 9000 30 || bad "echo listening"
pn_controller_up || pn_finish
pn_provision echo $NET.9.2 tcp/9000 || pn_finish
RTOKEN=$($CTL relay add relay1 --udp $NET.2.2:3478 --tls $NET.2.2:4433 | grep '^pnt1\.')
pn_relay_enroll_up "$RTOKEN" || pn_finish
pn_connector_enroll "$TOKEN" || pn_finish
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn"
pn_wait_log "$W/connector.log" "relay_state.*relay=relay1 state=ready" 30 &&
	ok "connector registered with relay1" || bad "connector registered with relay1"
pn_client_login laptop "$SA_KEY" || pn_finish
pn_bg client $C "$PN_BIN" client run --state "$W/laptop" --socks 127.0.0.1:1080
pn_wait_tcp $NS_CLI 127.0.0.1 1080 30 || bad "client SOCKS5 listening"
CPID=$PID_client NPID=$PID_connector

# echo_ok TAG: one SOCKS5 flow echoes 64 KiB byte-exact (0/1)
echo_ok() {
	$C python3 - "$NET.9.2" "$1" <<'PY' >>"$W/echo.out" 2>&1
import os, socket, struct, sys
host, tag = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 1080), timeout=10)
s.sendall(b"\5\1\0"); assert s.recv(2) == b"\5\0"
s.sendall(b"\5\1\0\1" + socket.inet_aton(host) + struct.pack(">H", 9000))
r = b""
while len(r) < 10:
    r += s.recv(10 - len(r))
assert r[1] == 0, "socks reply %d" % r[1]
data = os.urandom(65536)
s.sendall(data)
got = b""
while len(got) < len(data):
    b = s.recv(65536)
    if not b: break
    got += b
print(tag, "echo", "ok" if got == data else "short %d" % len(got))
sys.exit(0 if got == data else 1)
PY
}
retry_echo() { # what tag: up to 30 s of attempts
	local i
	for i in $(seq 30); do echo_ok "$2$i" && { ok "$1"; return 0; }; sleep 1; done
	bad "$1: no flow echoed in 30 s ($(tail -2 "$W/echo.out"))"
}
tunnel_relay() { # the relay the client's tunnel goes through
	$C "$PN_BIN" client status --json --state "$W/laptop" 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["tunnels"]
print(t[0]["relay"] + "/" + t[0]["path"] if t else "none")' 2>/dev/null
}
wait_relay() { # relay: until the tunnel is on it (30 s)
	local i
	for i in $(seq 60); do [[ "$(tunnel_relay)" == "$1/"* ]] && return 0; sleep 0.5; done
	return 1
}

# ---- 1: relay1 only ----
retry_echo "a flow through relay1" first
wait_relay relay1 && ok "the tunnel is on relay1 ($(tunnel_relay))" || bad "the tunnel is on '$(tunnel_relay)', not relay1"

# ---- 2: relay2 added while everything runs ----
RTOKEN2=$($CTL relay add relay2 --udp $NET.3.2:3478 --tls $NET.3.2:4433 | grep '^pnt1\.')
ip netns exec $NS_RELAY2 "$PN_BIN" relay enroll --token "$RTOKEN2" --state "$W/relay2" \
	>>"$W/enroll.log" 2>&1 || bad "relay2 enroll"
pn_bg relay2 ip netns exec $NS_RELAY2 "$PN_BIN" relay run --state "$W/relay2" \
	--udp $NET.3.2:3478 --tls $NET.3.2:4433 --allow-peer $NET.0.0/16
pn_wait_tcp $NS_CLI $NET.3.2 4433 15 || bad "relay2 listening"
# the enrollment changed the list: pushed at once (or at the next push)
pn_wait_log "$W/connector.log" "relay_state.*relay=relay2 state=ready" 60 &&
	ok "the connector registered with relay2, added by a push" ||
	bad "the connector did not take relay2 ($(grep -E 'relays|policy_push' "$W/connector.log" | tail -3))"
pn_wait_log "$W/client.log" "relays_set.*added=1" 60 && ok "the client added relay2" ||
	bad "the client did not add relay2 ($(grep -E 'relays|relay_' "$W/client.log" | tail -3))"
wait_relay relay1 && ok "the tunnel stays on relay1 ($(tunnel_relay))" || bad "the tunnel moved: '$(tunnel_relay)'"
retry_echo "flows still complete after the list grew" grown

# ---- 3: relay1 revoked ----
$CTL relay revoke relay1 >>"$W/ctl.out" 2>&1 || bad "ctl relay revoke relay1 ($(tail -2 "$W/ctl.out"))"
pn_wait_log "$W/client.log" "relay_removed.*relay=relay1" 60 && ok "the client removed relay1" ||
	bad "the client did not remove relay1 ($(grep -E 'relays|relay_' "$W/client.log" | tail -3))"
pn_wait_log "$W/connector.log" "relay_removed.*relay=relay1" 60 && ok "the connector removed relay1" ||
	bad "the connector did not remove relay1"
retry_echo "a flow after relay1 was removed" moved
wait_relay relay2 && ok "the tunnel moved to relay2 ($(tunnel_relay))" || bad "the tunnel is on '$(tunnel_relay)', not relay2"
kill -9 "$PID_relay" 2>/dev/null
wait "$PID_relay" 2>/dev/null
retry_echo "flows complete with relay1 dead" after_kill
for i in 1 2 3; do check "flow $i on relay2" echo_ok final$i; done

# ---- 4: no restart ----
kill -0 "$CPID" && [ "$PID_client" = "$CPID" ] && ok "the client was not restarted" || bad "the client restarted or died"
kill -0 "$NPID" && [ "$PID_connector" = "$NPID" ] && ok "the connector was not restarted" || bad "the connector restarted or died"
pn_finish
