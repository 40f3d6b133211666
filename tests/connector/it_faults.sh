#!/bin/bash
# Connector faults with a real controller, relay, connector and client
# (security.md cases 3 and 4).  Needs root (network namespaces).
#
#                      hub (router; controller https://10.231.0.1:8443)
#   cli 10.231.1.2 ---+--- 10.231.2.2 relay (enrolled)
#   (client "laptop",  +--- 10.231.4.2 conn (connector, enrolled) ---- 10.231.9.2 res
#    SOCKS5 :1080)                     10.231.9.1                     (flowend.py sink :9000,
#                                                                      tcpdump on r0)
#
# Case 4, revoke a grant during a bulk stream: an upload as fast as the
# tunnel carries it; the client's only grant deleted (DELETE
# /v1/policies/ID from a client that notes the wall-clock time just before
# sending it, its TLS connection already up: the commit comes after it).  From then to the last packet
# the connector sends to the resource on that connection (tcpdump on the
# resource's interface; the reset is that last packet): <= 1 s.  The
# resource and the application see RST, not FIN.
#
# Case 3, connector kill -9 and restart: an open upload gets RST at the
# resource and at the application; the restarted connector (same state,
# no token) registers with the relay and subscribes to the controller
# again; new flows complete byte-exact; its enrollment token, used once,
# is refused when presented again (a new enrollment with it fails 401,
# nothing is written).
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" conn-faults
FE="python3 $PN_SRC/tests/connector/flowend.py"
REVOKE_WITHIN=1.0
RST_WITHIN=5

pn_star 10.231 || pn_finish
pn_bg sink ip netns exec $NS_RES $FE sink 10.231.9.2 9000 "$W/sink.jsonl"
pn_controller_up || pn_finish
pn_provision sink 10.231.9.2 tcp/9000 || pn_finish
RTOKEN=$($CTL relay add relay1 --udp 10.231.2.2:3478 --tls 10.231.2.2:4433 | grep '^pnt1\.')
pn_relay_enroll_up "$RTOKEN" || pn_finish
pn_connector_enroll "$TOKEN" || pn_finish
start_connector() {
	pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.231.4.2:4433
}
start_connector
pn_wait_log "$W/connector.log" "relay_state.*state=ready" 30 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"
pn_client_login laptop "$SA_KEY" || pn_finish
pn_bg client $C "$PN_BIN" client run --state "$W/laptop" --socks 127.0.0.1:1080
pn_wait_tcp $NS_CLI 127.0.0.1 1080 30 || bad "client SOCKS5 listening"

rec() { # id kind: the sink's record with that key for the id
	grep "\"id\": \"$1\"" "$W/sink.jsonl" 2>/dev/null | grep "\"$2\"" | tail -1
}
field() { sed -n 's/.*"'"$2"'": "\{0,1\}\([^",}]*\).*/\1/p' <<<"$1"; } # record key: its value
# complete ID: an 8 MiB upload ends with FIN at the resource, sha256 equal (0/1)
complete() {
	local out r sha i
	out=$($C $FE upload 127.0.0.1:1080 10.231.9.2 9000 "$1" $((8 << 20)) 0 30)
	sha=$(echo "$out" | sed -n 's/^end: fin sha256=\([0-9a-f]*\).*/\1/p')
	[ -n "$sha" ] || return 1
	for i in $(seq 50); do r=$(rec "$1" end) && [ -n "$r" ] && break; sleep 0.1; done
	[ -n "$r" ] && [ "$(field "$r" end)" = fin ] && [ "$(field "$r" sha256)" = "$sha" ]
}
retry_complete() { # what id: up to 30 s of attempts
	local i
	for i in $(seq 30); do complete "$2$i" && { ok "$1: 8 MiB upload complete, FIN, sha256 equal"; return 0; }; sleep 1; done
	bad "$1: no complete upload in 30 s"
}
# upload_bg ID RATE: a long upload in the background (UP), once bytes reach the resource
upload_bg() {
	$C $FE upload 127.0.0.1:1080 10.231.9.2 9000 "$1" $((8 << 30)) "$2" 60 >"$W/$1.out" 2>&1 &
	UP=$!
	pn_wait_log "$W/$1.out" "^sent: 2" 30 && pn_wait_log "$W/sink.jsonl" "\"id\": \"$1\", \"open\"" 30 ||
		{ bad "$1: upload under way ($(tail -1 "$W/$1.out"))"; return 1; }
}
# ended ID: wait for the sink's end record and the application's end line; check both RST
ended() {
	local what=$1 id=$2 t0=$3 r
	for i in $(seq 200); do r=$(rec "$id" end) && [ -n "$r" ] && break; sleep 0.1; done
	if [ -z "$r" ]; then bad "$what: the resource's connection did not end within 20 s"; kill $UP; return 1; fi
	[ "$(field "$r" end)" = rst ] && le "$(since "$t0" "$(field "$r" t)")" $RST_WITHIN &&
		ok "$what: RST at the resource $(since "$t0" "$(field "$r" t)") s after the cause ($(field "$r" bytes) bytes in)" ||
		bad "$what: the resource saw '$(field "$r" end)' $(since "$t0" "$(field "$r" t)") s after the cause"
	wait $UP
	[[ "$(grep '^end:' "$W/$id.out")" == "end: rst"* ]] && ok "$what: RST at the application ($(grep '^end:' "$W/$id.out"))" ||
		bad "$what: the application saw '$(grep '^end:' "$W/$id.out")' (want rst)"
}

retry_complete "first flow" first

# ---- case 4: revoke the grant during a bulk stream ----
POLICY=$($CTL grant list --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["policies"][0]["id"])')
[ -n "$POLICY" ] || bad "the grant's policy id"
pn_bg tcpdump ip netns exec $NS_RES tcpdump -i r0 -s 96 -B 8192 -U -n -Z root -w "$W/res.pcap" \
	tcp port 9000 and src host 10.231.9.1
pn_wait_log "$W/tcpdump.log" "listening on" 30 || bad "tcpdump started ($(tail -2 "$W/tcpdump.log"))"
upload_bg bulk 0 || pn_finish
sleep 2 # at full speed
sport=$(ip netns exec $NS_RES ss -Htn state established '( sport = :9000 )' | awk '{print $4}' | sed 's/.*://' | head -1)
b0=$(ip netns exec $NS_RES ss -Htni '( sport = :9000 )' | grep -o 'bytes_received:[0-9]*' | head -1 | cut -d: -f2)
sleep 1
b1=$(ip netns exec $NS_RES ss -Htni '( sport = :9000 )' | grep -o 'bytes_received:[0-9]*' | head -1 | cut -d: -f2)
echo "    bulk stream at the resource: $(((${b1:-0} - ${b0:-0}) >> 20)) MiB/s"
# The DELETE itself from a client that has its TLS connection up and
# notes the wall-clock time just before it sends the request: the commit
# comes after that moment, so the interval measured from it is an upper
# bound (an interpreter or curl start-up is not in it).
cat >"$W/delete.py" <<'PY'
import socket, ssl, sys, time
ca, key, host, port, path = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=30), server_hostname=host)
req = ("DELETE %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n"
       % (path, host, port, key)).encode()
t = time.time()
s.sendall(req)
head = s.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
print("sent %.6f answered %.6f %s" % (t, time.time(), head), flush=True)
PY
t0=$(now)
$H python3 "$W/delete.py" "$POSTERN_CA_CERT" "$POSTERN_API_KEY" 10.231.0.1 8443 "/v1/policies/$POLICY" \
	>"$W/delete.out" 2>&1
read -r _ tsent _ tanswer _ code _ <"$W/delete.out"
[ "$code" = 200 ] && ok "grant deleted (HTTP $code)" || bad "grant delete: $(cat "$W/delete.out")"
ended "revocation under a bulk stream" bulk "$tsent"
sleep 2
pn_stop "$PID_tcpdump"
last=$(tcpdump -r "$W/res.pcap" -tt -n "tcp dst port 9000 and src port ${sport:-0}" 2>/dev/null | tail -1)
echo "    last packet of the flow at the resource: $last"
n_after=$(tcpdump -r "$W/res.pcap" -tt -n "tcp dst port 9000 and src port ${sport:-0}" 2>/dev/null |
	awk -v t="$(echo "$last" | cut -d' ' -f1)" '$1 > t' | wc -l)
tl=$(echo "$last" | cut -d' ' -f1)
if [ -n "$tl" ] && [ -n "$sport" ]; then
	d=$(since "$tsent" "$tl")
	echo "    DELETE sent $(since "$t0" "$tsent") s after its client started, answered $(since "$tsent" "$tanswer") s later;" \
		"last packet of the flow at the resource $d s after the request was sent"
	le "$d" $REVOKE_WITHIN && ok "last packet of the revoked flow at the resource $d s after the DELETE was sent (<= $REVOKE_WITHIN s)" ||
		bad "last packet of the revoked flow at the resource $d s after the DELETE was sent (> $REVOKE_WITHIN s)"
	[[ "$last" == *"Flags [R"* ]] && ok "the last packet is the reset ($(echo "$last" | grep -o 'Flags \[[^]]*\]'))" ||
		bad "the last packet is not a reset: $last"
else
	bad "no packet of the flow (port ${sport:-?}) in the resource's capture"
fi
grep -q "flow_end.*revoked" "$W/connector.log" && ok "connector logged the flow as revoked" || bad "connector flow_end revoked"
$CTL grant add eng sink >/dev/null || bad "grant re-added"
retry_complete "after the grant is back" back

# ---- case 3: connector kill -9 and restart ----
upload_bg cut 4194304 || pn_finish
nready=$(pn_count "$W/connector.log" "relay_state.*state=ready")
nsub=$(pn_count "$W/controller.log" "push_subscribed holder=$CONN_ID")
t0=$(now)
kill -9 "$PID_connector"
ended "connector kill -9" cut "$t0"
t1=$(now)
start_connector
pn_wait_count "$W/connector.log" "relay_state.*state=ready" $((nready + 1)) 30 &&
	ok "restarted connector registered with the relay again ($(since "$t1") s after its start)" ||
	bad "restarted connector did not register with the relay"
pn_wait_count "$W/controller.log" "push_subscribed holder=$CONN_ID" $((nsub + 1)) 30 &&
	ok "restarted connector subscribed to the controller again" ||
	bad "restarted connector did not subscribe to the controller ($(grep push_subscribed "$W/controller.log" | tail -2))"
retry_complete "after the connector restarted" again
pn_expect_exit 1 "PN_E_CTL_AUTH|401" "the used enrollment token presented again is refused" -- \
	ip netns exec $NS_CONN "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn-again"
[ ! -e "$W/conn-again/cert.pem" ] && ok "nothing enrolled with the used token" || bad "a credential was written for the used token"
kill -0 "$PID_connector" && ok "connector running" || bad "connector died"
retry_complete "after the refused token" last
pn_finish
