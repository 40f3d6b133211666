#!/bin/bash
# How flows end at the resource: a flow cut short ends with a reset, never
# with a FIN the resource could take for a complete transfer; a complete
# transfer ends with a FIN and the resource's sha256 equals the sender's.
# The resource (tests/connector/flowend.py sink) records for each TCP
# connection whether recv returned 0 (FIN) or ECONNRESET, with the sha256
# of what it received; the application on the client side records the same
# for its end.  Real controller, relay, connector and clients; the tunnels
# are relayed.  Needs root (network namespaces).
#
#                      pnf-hub (router; controller https://10.208.0.1:8443)
#   pnf-cli 10.208.1.2 ---+--- 10.208.2.2 pnf-relay (relay, enrolled)
#   (client A "laptop"    |
#    SOCKS5 :1080, group  +--- 10.208.4.2 pnf-conn (connector, enrolled, ---- 10.208.9.2 pnf-res
#    eng, relayed;                        UDP :4433) 10.208.9.1               (sink :9000)
#    client B "robot"
#    SOCKS5 :1081, group ops, --direct to the connector, --offline)
#
# Uploads cut by, in turn:
#   revocation       `ctl grant delete eng sink` (A's only grant)
#   account disable  `ctl service-account disable robot` (B: direct and
#                    offline, so the connector's revocation ends it, not
#                    the relay's or the client's own)
#   connector kill -9
#   relay kill -9    while the tunnel is relayed: the connector must notice
#                    the relay connection's loss at once (not at the 30 s
#                    idle timeout) and reset the resource's connection
# each must end with RST at the resource AND at the application.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" flowend
PN_SRC=${PN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
FE="python3 $PN_SRC/tests/connector/flowend.py"
RST_WITHIN=5 # seconds from the cause to the reset at the resource

pn_star 10.208 || pn_finish

pn_bg sink ip netns exec $NS_RES $FE sink 10.208.9.2 9000 "$W/sink.jsonl"

pn_controller_up || pn_finish
$CTL network add corp >/dev/null &&
	$CTL resource add sink --network corp --address 10.208.9.2 --ports tcp/9000 >/dev/null &&
	$CTL group add eng >/dev/null && $CTL group add ops >/dev/null || bad "ctl provisioning"
KEY_A=$($CTL service-account add laptop --group eng | grep '^pnsk_')
KEY_B=$($CTL service-account add robot --group ops | grep '^pnsk_')
$CTL grant add eng sink >/dev/null && $CTL grant add ops sink >/dev/null || bad "grants"
TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
RTOKEN=$($CTL relay add relay1 --udp 10.208.2.2:3478 --tls 10.208.2.2:4433 | grep '^pnt1\.')

pn_relay_enroll_up "$RTOKEN"
pn_connector_enroll "$TOKEN" || pn_finish
start_connector() {
	pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.208.4.2:4433
}
start_connector
pn_wait_log "$W/connector.log" "relay_state.*state=ready" 15 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"

pn_client_login A "$KEY_A" || pn_finish
pn_bg clientA $C "$PN_BIN" client run --state "$W/A" --socks 127.0.0.1:1080
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client A SOCKS5 listening"

end_rec() { # id: the sink's end record, once there
	grep "\"id\": \"$1\"" "$W/sink.jsonl" 2>/dev/null | grep '"end"'
}
rec_field() { # record field
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# A complete transfer: FIN at the resource, sha256 equal at both ends.
complete() { # check-name proxy id
	local out rec sha
	out=$($C $FE upload "$2" 10.208.9.2 9000 "$3" $((8 << 20)) 0 30)
	rec=$(end_rec "$3")
	sha=$(echo "$out" | sed -n 's/^end: fin sha256=\([0-9a-f]*\).*/\1/p')
	if [ -n "$sha" ] && [ -n "$rec" ] && [ "$(rec_field "$rec" end)" = fin ] &&
		[ "$(rec_field "$rec" sha256)" = "$sha" ] && [[ "$out" == *"reply=sha256=$sha bytes=$((8 << 20))"* ]]; then
		ok "$1: complete 8 MiB upload ends with FIN at the resource, sha256 equal"
		return 0
	fi
	[ "${4:-}" = quiet ] || bad "$1 (client: $(echo "$out" | tail -1); resource: ${rec:-none})"
	return 1
}

# An upload cut short by "$@": RST at the resource and at the application.
UP=0
cut() { # check-name proxy cause-cmd...
	local name=$1 proxy=$2 id t0 rec out i end dt
	shift 2
	UP=$((UP + 1))
	id=cut$UP
	# 4 MB/s for up to 60 s: still running when the cause strikes
	$C $FE upload "$proxy" 10.208.9.2 9000 $id $((240 << 20)) $((4 << 20)) 60 >"$W/$id.out" 2>&1 &
	local up=$!
	pn_wait_log "$W/$id.out" "^sent: 2" 15
	grep -q "\"id\": \"$id\", \"open\"" "$W/sink.jsonl" 2>/dev/null ||
		{ bad "$name: upload under way ($(tail -1 "$W/$id.out"))"; kill $up 2>/dev/null; return; }
	t0=$(now)
	"$@"
	for i in $(seq 400); do end_rec $id >/dev/null && break; sleep 0.05; done
	rec=$(end_rec $id)
	if [ -z "$rec" ]; then
		bad "$name: the resource's connection did not end within 20 s"
		kill $up 2>/dev/null
		return
	fi
	end=$(rec_field "$rec" end)
	dt=$(since "$t0" "$(rec_field "$rec" t)")
	[ "$end" = rst ] && le "$dt" $RST_WITHIN &&
		ok "$name: RST at the resource ${dt} s after the cause ($(rec_field "$rec" bytes) bytes in)" ||
		bad "$name: resource saw '$end' ${dt} s after the cause (want rst within ${RST_WITHIN} s)"
	wait $up
	out=$(grep "^end:" "$W/$id.out")
	[[ "$out" == "end: rst"* ]] && ok "$name: RST at the application ($out)" ||
		bad "$name: application saw '$out' (want rst)"
}

complete "relayed tunnel" 127.0.0.1:1080 full1

# The resource ends its side first and reads slowly: the stream closes
# cleanly while the connector still holds bytes for it; they, then the
# FIN, must all reach it.
out=$($C $FE upload 127.0.0.1:1080 10.208.9.2 9000 early1 $((8 << 20)) 0 30)
for i in $(seq 400); do end_rec early1 >/dev/null && break; sleep 0.05; done
rec=$(end_rec early1)
sha=$(echo "$out" | sed -n 's/^end: fin sha256=\([0-9a-f]*\) reply=early/\1/p')
[ -n "$sha" ] && [ -n "$rec" ] && [ "$(rec_field "$rec" end)" = fin ] &&
	[ "$(rec_field "$rec" sha256)" = "$sha" ] && [ "$(rec_field "$rec" bytes)" = $((8 << 20)) ] &&
	ok "resource half-closed first: all 8 MiB, then FIN, sha256 equal" ||
	bad "resource half-closed first (client: $(echo "$out" | tail -1); resource: ${rec:-none})"

# 1. revocation: A's only grant removed
cut "revocation" 127.0.0.1:1080 $CTL grant delete eng sink
grep -q "flow_end.*revoked" "$W/connector.log" && ok "connector logged the flow as revoked" ||
	bad "connector flow_end revoked"
grant_back() {
	$CTL grant add eng sink >/dev/null
	for i in $(seq 20); do complete "after the grant is back" 127.0.0.1:1080 back$i quiet && break; sleep 0.5; done
	[ "$i" -lt 20 ] || bad "flows after the grant is back"
}
grant_back

# 1b. revocation after the resource sent everything and its FIN, while the
# client still holds bytes the application has not read yet (its half-
# close to the application queued behind them): the application must get
# a reset, not the bytes that made it followed by a FIN.  Small socket
# send buffers in the client's namespace keep most of the 3 MiB in the
# client (within the 4 MiB flow window) instead of in the kernel.
wmem0=$($C sysctl -n net.ipv4.tcp_wmem)
$C sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536"
$C $FE download 127.0.0.1:1080 10.208.9.2 9000 dl1 $((3 << 20)) "$W/go" 60 >"$W/dl1.out" 2>&1 &
dl=$!
pn_wait_log "$W/sink.jsonl" '"id": "dl1", "sent"' 20
# every byte acknowledged by the connector (send queue empty), then a moment
# for them and the FIN to cross the tunnel
for i in $(seq 200); do
	ip netns exec $NS_RES ss -Htn state close-wait state fin-wait-1 state fin-wait-2 'sport = :9000' |
		awk '{s += $3} END {exit !(NR > 0 && s == 0)}' && break
	sleep 0.05
done
sleep 1
t0=$(now)
$CTL grant delete eng sink >/dev/null
for i in $(seq 200); do end_rec dl1 >/dev/null && break; sleep 0.05; done
rec=$(end_rec dl1)
[ -n "$rec" ] && [ "$(rec_field "$rec" end)" = rst ] &&
	ok "download revoked after the resource's FIN: RST at the resource $(since "$t0" "$(rec_field "$rec" t)") s after" ||
	bad "download revoked after the resource's FIN: resource saw '${rec:-nothing}'"
touch "$W/go"
wait $dl
out=$(grep "^end:" "$W/dl1.out")
[[ "$out" == "end: rst"* ]] && ok "download revoked after the resource's FIN: RST at the application ($out)" ||
	bad "download revoked after the resource's FIN: application saw '$out' of $((3 << 20)) (want rst)"
$C sysctl -qw net.ipv4.tcp_wmem="$wmem0"
grant_back

# 2. service account disabled (B; logged in now: an offline client's list
# must be as new as the connector's latest for it)
pn_client_login B "$KEY_B" || pn_finish
pn_bg clientB $C "$PN_BIN" client run --state "$W/B" --socks 127.0.0.1:1081 --offline \
	--direct "$CONN_ID=10.208.4.2:4433"
pn_wait_tcp $NS_CLI 127.0.0.1 1081 15 || bad "client B SOCKS5 listening"
cut "account disable" 127.0.0.1:1081 $CTL service-account disable robot
grep -q "tunnel_revoked.*user=robot" "$W/connector.log" && ok "connector closed the disabled account's tunnel" ||
	bad "connector tunnel_revoked"

# 3. connector kill -9 (the kernel closes its sockets)
kill_connector() { kill -9 "$PID_connector"; }
cut "connector kill -9" 127.0.0.1:1080 kill_connector
n=$(grep -c "relay_state.*state=ready" "$W/connector.log")
start_connector
for i in $(seq 150); do [ "$(grep -c "relay_state.*state=ready" "$W/connector.log")" -gt "$n" ] && break; sleep 0.1; done
for i in $(seq 20); do complete "after the connector restarted" 127.0.0.1:1080 again$i quiet && break; sleep 0.5; done
[ "$i" -lt 20 ] || bad "flows after the connector restarted"

# 4. relay kill -9 while the tunnel is relayed.  There is no NAT here, so
# NAT traversal (issue 12) has moved A's tunnel onto a direct path: drop
# UDP between the client and the connector at the hub, and the tunnel
# falls back to the relay before the relay is killed.
$H nft -f - <<-NFT
table inet pnf_direct {
	chain filt {
		type filter hook forward priority 0;
		ip saddr 10.208.1.0/24 ip daddr 10.208.4.0/24 meta l4proto udp drop
		ip saddr 10.208.4.0/24 ip daddr 10.208.1.0/24 meta l4proto udp drop
	}
}
NFT
# a flow finds the direct path dead (liveness with flows: ~2.5 s) and
# completes over the relay
complete "direct path dropped: flow completes over the relay" 127.0.0.1:1080 fallback1
for i in $(seq 100); do
	$C "$PN_BIN" client status --json --state "$W/A" | grep -q '"path":"relay' && break
	sleep 0.1
done
js=$($C "$PN_BIN" client status --json --state "$W/A")
[[ "$js" == *'"path":"relay'* ]] && ok "tunnel is relayed ($(echo "$js" | grep -o '"path":"[a-z-]*"' | head -1))" ||
	bad "tunnel relayed before the relay kill ($js)"
kill_relay() { kill -9 "$PID_relay"; }
cut "relay kill -9" 127.0.0.1:1080 kill_relay
grep -q "tunnel_close.*no usable path" "$W/connector.log" &&
	ok "connector ended the tunnel on the relay's loss: $(grep -o 'tunnel_close.*no usable path.*' "$W/connector.log" | head -1)" ||
	bad "connector tunnel_close on the relay's loss"
kill -0 "$PID_connector" 2>/dev/null && ok "connector running" || bad "connector running"
pn_finish
