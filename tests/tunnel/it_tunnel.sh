#!/bin/bash
# Tunnel + connector end to end in network namespaces (run as root).
#
#   pnt-cli                    pnt-con                       pnt-res
#   pn-tclient                 postern connector             echo servers
#   10.202.1.2 ---veth--- 10.202.1.1 | 10.202.2.1 ---veth--- 10.202.2.2
#       |                  UDP 4433 (conn), 4434 (impostor)   tcp/7 echo, udp/7 echo,
#       |                                                     tcp/8080 HTTP
#   10.202.3.2                           10.202.4.2
#       |                                    |
#       +--veth-- 10.202.3.1 | 10.202.4.1 --veth--+
#                 pnt-rly: postern relay (UDP 3478, TLS + WebSocket 4443)
#
# The client has no route to 10.202.2.0/24 and the connector does not
# forward packets: the resource is reachable only through the tunnel,
# re-originated by the connector.  Only 10.202.0.0/16 inside these
# namespaces is used.
#
# Checks: sha256 of a 256 MiB echo transfer over the direct UDP path, of
# one through the relay (the connector registered there), and of a
# transfer that starts on the relay and migrates to the direct path; a
# name resolved by the connector (its own /etc/hosts); HTTP; DNS flows; UDP
# datagram flows; a lossy/reordering path (netem); denials with reasons
# (outside the connector list, outside the client list); malformed and
# wrong-version stream headers; a connector credential from
# another CA; another client's access list; an expired client credential;
# a grant revoked mid-transfer closes the flow within 1 s; flow ids logged
# by both ends.
set -u
B=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$B" tunnel
BIN=$PN_BIN
CONN_BIN=$BIN
RELAY_BIN=$BIN
TC=$B/tests/tunnel/pn-tclient
PKI=$B/tests/lib/pnfixture
BYTES=${PN_TUNNEL_BYTES:-268435456}
T=$W

NS_CLI=pnt-cli-$PN_TAG NS_CON=pnt-con-$PN_TAG NS_RES=pnt-res-$PN_TAG NS_RLY=pnt-rly-$PN_TAG
pn_ns $NS_CLI $NS_CON $NS_RES $NS_RLY || exit 1
pn_veth $NS_CLI pnt-cli0 10.202.1.2/24 $NS_CON pnt-con0 10.202.1.1/24
pn_veth $NS_RES pnt-res0 10.202.2.2/24 $NS_CON pnt-con1 10.202.2.1/24
pn_veth $NS_CLI pnt-cli1 10.202.3.2/24 $NS_RLY pnt-rly0 10.202.3.1/24
pn_veth $NS_CON pnt-con2 10.202.4.2/24 $NS_RLY pnt-rly1 10.202.4.1/24
ip netns exec $NS_CON sysctl -qw net.ipv4.ip_forward=0
# the connector resolves names on its own network: its /etc/hosts
pn_hosts $NS_CON "10.202.2.2 echo.test"

# Resource: TCP echo and UDP echo (bench/peers/probe.py).
pn_bg echo ip netns exec $NS_RES python3 "$PN_SRC/bench/peers/probe.py" echo 7 10.202.2.2
pn_bg uecho ip netns exec $NS_RES python3 "$PN_SRC/bench/peers/probe.py" udp-echo 7 10.202.2.2
mkdir -p "$T/www"
echo "postern tunnel test page" >"$T/www/index.html"
pn_bg http ip netns exec $NS_RES /usr/bin/python3 -m http.server 8080 --bind 10.202.2.2 --directory "$T/www"

pn_wait_tcp $NS_RES 10.202.2.2 7 10 || { echo "echo server did not start"; exit 1; }
$PKI "$T" tunnel-net 10.202.2.2 || { echo "pki tool failed"; exit 1; }
CONN_ID=$(cat "$T/conn/id")
mkdir -p "$T/pushed"
: >"$T/revoked"

pn_bg relay ip netns exec $NS_RLY "$RELAY_BIN" relay run --ca "$T/ca.crt" --cert "$T/relay/cert.pem" \
	--key "$T/relay/key.pem" --udp 0.0.0.0:3478 --tls 0.0.0.0:4443 --ws-path /postern --stats-interval 0 \
	--allow-peer 10.202.0.0/16
pn_wait_log "$T/relay.log" " ready " 10 || bad "relay started"
pn_bg conn ip netns exec $NS_CON "$CONN_BIN" connector run --ca "$T/ca.crt" --cert "$T/conn/cert.pem" \
	--key "$T/conn/key.pem" --acl "$T/conn/acl.bin" --listen-udp 10.202.1.1:4433 \
	--relay name=r1,tls=10.202.4.1:4443,udp=10.202.4.1:3478 \
	--client-acls "$T/pushed" --revoked "$T/revoked"
# the impostor: same connector id, credential and list from another CA
pn_bg foreign ip netns exec $NS_CON "$CONN_BIN" connector run --ca "$T/foreign/ca.crt" --cert "$T/foreign/cert.pem" \
	--key "$T/foreign/key.pem" --acl "$T/foreign/acl.bin" --listen-udp 10.202.1.1:4434
pn_wait_log "$T/foreign.log" " ready " 10 || bad "impostor connector started"
pn_wait_log "$T/conn.log" " ready " 10 || { bad "connector started"; pn_finish; }

# tc WHO ACL PORT CMD... : run the test client in pnt-cli
tc() {
	local who=$1 acl=$2 port=$3; shift 3
	ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/$who/cert.pem" --key "$T/$who/key.pem" \
		--acl "$acl" --connector "$CONN_ID" --udp 10.202.1.1:$port --timeout 120 "$@"
}

# isolation: the client namespace cannot reach the resource directly
if ip netns exec $NS_CLI timeout 2 bash -c 'exec 3<>/dev/tcp/10.202.2.2/7' 2>/dev/null; then
	bad "resource reachable from the client namespace"
else
	ok "resource not reachable from the client namespace"
fi

# 1. bulk transfer: 256 MiB through the echo, hashes equal
out=$(tc cli "$T/cli/acl.bin" 4433 hash 10.202.2.2 7 $BYTES); rc=$?
echo "$out" | sed 's/^/       /'
if [ $rc -eq 0 ] && echo "$out" | grep -q "received=$BYTES "; then
	s=$(echo "$out" | sed -n 's/.*sent_sha256=\([0-9a-f]*\).*/\1/p')
	r=$(echo "$out" | sed -n 's/.*received_sha256=\([0-9a-f]*\).*/\1/p')
	[ -n "$s" ] && [ "$s" = "$r" ] && ok "256 MiB echo over the direct path: sha256 equal ($s)" ||
		bad "sha256 mismatch"
else
	bad "bulk transfer (rc=$rc)"
fi
FLOW=$(echo "$out" | sed -n 's/^flow_open flow=\([0-9a-f]*\).*/\1/p')
sleep 0.3
if [ -n "$FLOW" ] && grep -q "flow_start flow=$FLOW" "$T/conn.log" && grep -q "flow_end flow=$FLOW.*bytes_up=$BYTES bytes_down=$BYTES" "$T/conn.log"; then
	ok "connector logged the same flow id with bytes each way ($FLOW)"
else
	bad "flow id $FLOW not in the connector log"; grep flow_ "$T/conn.log" | tail -3
fi

# 2. a name resolved on the connector's network
out=$(tc cli "$T/cli/acl.bin" 4433 hash echo.test 7 1048576); rc=$?
[ $rc -eq 0 ] && ok "name resolved by the connector (echo.test), 1 MiB echo intact" || { bad "echo.test flow (rc=$rc)"; echo "$out"; }

# 2b. HTTP through the tunnel
pn_wait_tcp $NS_RES 10.202.2.2 8080 3
out=$(tc cli "$T/cli/acl.bin" 4433 http 10.202.2.2 8080 /index.html); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q 'http_status="HTTP/1.0 200 OK"' &&
	ok "HTTP GET through the tunnel: 200 OK" || { bad "HTTP GET (rc=$rc)"; echo "$out"; }

# 2c. ten clients at once (ten tunnels, one connector)
for i in $(seq 10); do
	tc cli "$T/cli/acl.bin" 4433 hash 10.202.2.2 7 4194304 >"$T/par.$i" 2>&1 &
	PAR[$i]=$!
done
nok=0
for i in $(seq 10); do wait ${PAR[$i]} && nok=$((nok + 1)); done
[ $nok -eq 10 ] && ok "10 concurrent tunnels, 4 MiB echo each: all sha256 equal" ||
	{ bad "concurrent tunnels: $nok/10"; tail -3 "$T"/par.* | head -30; }

# 3. DNS query kind
out=$(tc cli "$T/cli/acl.bin" 4433 dns echo.test); rc=$?
echo "$out" | grep -q "status=ok.*addr=10.202.2.2" && ok "DNS flow answered by the connector" || { bad "DNS flow"; echo "$out"; }

# 4. UDP flow over DATAGRAM frames
out=$(tc cli "$T/cli/acl.bin" 4433 udp 10.202.2.2 7 50); rc=$?
n=$(echo "$out" | sed -n 's/.*received=\([0-9]*\).*/\1/p')
[ $rc -eq 0 ] && [ "${n:-0}" -ge 45 ] && ok "UDP echo through datagrams ($n/50)" || { bad "UDP flow"; echo "$out"; }

# 4b. a lossy path: 5% of the tunnel's packets dropped each way (netem
# with duplication and reordering when the kernel has it, else nftables)
if ip netns exec $NS_CLI tc qdisc add dev pnt-cli0 root netem delay 5ms 2ms loss 5% duplicate 1% reorder 10% 2>/dev/null; then
	ip netns exec $NS_CON tc qdisc add dev pnt-con0 root netem delay 5ms 2ms loss 5% duplicate 1% reorder 10%
	LOSSY="netem loss 5% dup 1% reorder 10%"
else
	ip netns exec $NS_CON nft -f - <<'NFT'
table inet pntloss {
	chain in { type filter hook input priority 0; udp dport 4433 numgen random mod 100 < 5 counter drop; }
	chain out { type filter hook output priority 0; udp sport 4433 numgen random mod 100 < 5 counter drop; }
}
NFT
	LOSSY="nftables: 5% of the tunnel's UDP datagrams dropped (GSO/GRO batches as one; no netem in this kernel)"
fi
out=$(tc cli "$T/cli/acl.bin" 4433 hash 10.202.2.2 7 4194304); rc=$?
DROPS=$(ip netns exec $NS_CON nft list table inet pntloss 2>/dev/null |
	awk '{for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1)} END {if (NR) print n}')
ip netns exec $NS_CLI tc qdisc del dev pnt-cli0 root 2>/dev/null
ip netns exec $NS_CON tc qdisc del dev pnt-con0 root 2>/dev/null
ip netns exec $NS_CON nft delete table inet pntloss 2>/dev/null
[ $rc -eq 0 ] && ok "4 MiB echo with loss both ways, $LOSSY${DROPS:+, $DROPS dropped}: sha256 equal" ||
	{ bad "lossy path (rc=$rc)"; echo "$out"; }

# 5. denials with a reason, logged with the flow id
out=$(tc cli "$T/cli/acl.bin" 4433 open 10.202.2.2 9); rc=$?
FLOW=$(echo "$out" | sed -n 's/^flow_open flow=\([0-9a-f]*\).*/\1/p')
if [ $rc -eq 3 ] && echo "$out" | grep -q 'status=denied .*text="not_in_connector_acl"'; then
	ok "destination outside the connector list: denied (not_in_connector_acl)"
else
	bad "denial outside connector list"; echo "$out"
fi
sleep 0.2
grep -q "flow_deny flow=$FLOW .*reason=\"not_in_connector_acl\"" "$T/conn.log" &&
	ok "denial logged by the connector with flow id $FLOW" || bad "denial not logged"
out=$(tc cli "$T/cli/acl.bin" 4433 open 10.202.2.2 22); rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q 'text="not_in_client_acl"' &&
	ok "destination outside the client list: denied (not_in_client_acl)" || { bad "denial outside client list"; echo "$out"; }

# 6. malformed stream headers
out=$(tc cli "$T/cli/acl.bin" 4433 raw 0100050909090909); rc=$?
echo "$out" | grep -q 'status=bad_request .*text="malformed flow header"' &&
	ok "malformed stream header refused with a reason" || { bad "malformed header"; echo "$out"; }
out=$(tc cli "$T/cli/acl.bin" 4433 raw 07000100); rc=$?
echo "$out" | grep -q 'status=bad_version' &&
	ok "unknown header version refused (bad_version)" || { bad "bad version header"; echo "$out"; }

# 7. a connector credential from another CA (same id): the client refuses it
out=$(tc cli "$T/cli/acl.bin" 4434 open 10.202.2.2 7); rc=$?
[ $rc -eq 4 ] && echo "$out" | grep -q "tunnel=closed err=PN_E_UNTRUSTED" &&
	ok "impostor connector (other CA) refused by the client: PN_E_UNTRUSTED" || { bad "foreign CA connector"; echo "$out"; }

# 8. another client's access list
out=$(tc cli "$T/cli2/acl.bin" 4433 open 10.202.2.2 7); rc=$?
[ $rc -eq 4 ] && echo "$out" | grep -q 'peer_code=bad_acl text="wrong_holder"' &&
	ok "another client's access list refused (bad_acl: wrong_holder)" || { bad "other client's list"; echo "$out"; }

# 9. an expired client credential
out=$(tc old "$T/old/acl.bin" 4433 open 10.202.2.2 7); rc=$?
[ $rc -eq 4 ] && echo "$out" | grep -q "tunnel=closed" && ! echo "$out" | grep -q "tunnel=up" &&
	ok "expired client credential refused in the handshake" || { bad "expired credential"; echo "$out"; }
grep -q "tunnel_open.*user=old@test" "$T/conn.log" && bad "expired client got a tunnel" || true

# 10. through the relay (the connector registered with it), then migration
pn_wait_log "$T/conn.log" "relay_state relay=r1 state=ready" 5
RELAY="tls=10.202.3.1:4443,udp=10.202.3.1:3478"
out=$(ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/cli/cert.pem" --key "$T/cli/key.pem" \
	--acl "$T/cli/acl.bin" --connector "$CONN_ID" --relay "$RELAY" --timeout 180 \
	hash 10.202.2.2 7 $BYTES); rc=$?
FLOW=$(echo "$out" | sed -n 's/^flow_open flow=\([0-9a-f]*\).*/\1/p')
echo "$out" | grep gbps | sed 's/^/       /'
sleep 0.3
RPATH=$(grep "flow_start flow=$FLOW " "$T/conn.log" | sed -n 's/.* path=\(relay-[a-z]*\) .*/\1/p')
if [ $rc -eq 0 ] && [ -n "$RPATH" ]; then
	ok "$((BYTES >> 20)) MiB echo through the relay (path $RPATH): sha256 equal"
else
	bad "transfer through the relay (rc=$rc)"; echo "$out"; grep -E "relay|flow=$FLOW" "$T/conn.log" | tail -5
fi
# (the migration needs a transfer that outlasts 150 ms on the relay)
MBYTES=$((BYTES > 67108864 ? BYTES : 67108864))
# the client's leg over TCP/TLS only (as from a network that blocks UDP)
out=$(ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/cli/cert.pem" --key "$T/cli/key.pem" \
	--acl "$T/cli/acl.bin" --connector "$CONN_ID" --relay tls=10.202.3.1:4443 --timeout 120 \
	hash 10.202.2.2 7 16777216); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "relay=ready transport=2" &&
	ok "16 MiB echo with the client's relay leg over TLS/TCP: sha256 equal" ||
	{ bad "relay over TLS (rc=$rc)"; echo "$out"; }
# ... and inside a WebSocket (what a CDN or HTTPS proxy would carry)
out=$(ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/cli/cert.pem" --key "$T/cli/key.pem" \
	--acl "$T/cli/acl.bin" --connector "$CONN_ID" --relay ws=ws://10.202.3.1:4443/postern --timeout 120 \
	hash 10.202.2.2 7 16777216); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "relay=ready transport=4" &&
	ok "16 MiB echo with the client's relay leg over WebSocket: sha256 equal" ||
	{ bad "relay over WebSocket (rc=$rc)"; echo "$out"; }
out=$(ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/cli/cert.pem" --key "$T/cli/key.pem" \
	--acl "$T/cli/acl.bin" --connector "$CONN_ID" --relay "$RELAY" --timeout 120 \
	--migrate-udp 10.202.1.1:4433 --migrate-after 150 hash 10.202.2.2 7 $MBYTES); rc=$?
FLOW=$(echo "$out" | sed -n 's/^flow_open flow=\([0-9a-f]*\).*/\1/p')
echo "$out" | grep -E "gbps|migrate" | sed 's/^/       /'
pn_wait_log "$T/conn.log" "flow_end flow=$FLOW " 3
if [ $rc -eq 0 ] && echo "$out" | grep -q "migrate=started from=relay-" &&
	grep -q "flow_end flow=$FLOW .*path=direct" "$T/conn.log"; then
	ok "migration relay -> direct during a transfer: flow survived, sha256 equal"
	grep -q "tunnel path peer=.* path=direct (migrated)" "$T/conn.log" &&
		ok "connector logged the tunnel's move to the direct path" || bad "no path change logged"
else
	bad "migration (rc=$rc)"; echo "$out"; grep "flow=$FLOW" "$T/conn.log" | tail -3
fi

# 11. revoking the grant mid-transfer closes the flow within 1 s
tc cli "$T/cli/acl.bin" 4433 hold 10.202.2.2 7 20 >"$T/hold.out" 2>&1 &
HOLD=$!
pn_wait_log "$T/hold.out" "tunnel=up" 5
sleep 1
cp "$T/cli/acl_revoked.bin" "$T/pushed/cli.bin"
T0=$(date +%s.%N)
kill -HUP $PID_conn
wait $HOLD
T1=$(sed -n 's/^closed code=revoked t=\([0-9.]*\).*/\1/p' "$T/hold.out")
if [ -n "$T1" ]; then
	ms=$(python3 -c "print(int(($T1 - $T0) * 1000))")
	[ "$ms" -lt 1000 ] && ok "grant revoked mid-transfer: flow closed ${ms} ms after the update" ||
		bad "revocation took ${ms} ms"
else
	bad "flow not closed as revoked"; cat "$T/hold.out"
fi
grep -q 'flow_end .*reason="revoked:not_in_client_acl"' "$T/conn.log" &&
	ok "revocation logged by the connector" || bad "revocation not logged"
# and the next flow to that destination is denied
out=$(tc cli "$T/cli/acl.bin" 4433 open 10.202.2.2 7); rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q "status=denied" &&
	ok "after the update: the revoked destination is denied (older list refused)" ||
	{ echo "$out" | grep -q 'bad_acl.*stale_version' && ok "after the update: the old list is refused (stale_version)" || { bad "after revocation"; echo "$out"; }; }

# clean shutdown; sanitizer builds report leaks and errors here
pn_stop_check conn 5

pn_finish
