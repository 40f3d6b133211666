#!/bin/bash
# Relay enrollment with the real controller: a one-time token (replay
# refused), the relay running from its state directory, peers pinned to
# the controller's CA reaching each other through it, and a credential
# renewal over mutual TLS picked up by new connections.
#
#   pnr-cl (client)              pnr-rl: controller https://10.201.2.1:18443      pnr-co (connector)
#   10.201.1.2 ------veth------ 10.201.1.1 | 10.201.2.1 ------veth------ 10.201.2.2
#                               relay :3478/udp :4443/tcp (enrolled)
#
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" relay-enroll
source "$(dirname "$0")/../lib/relaynet.sh"
topo_up
CTL=https://10.201.2.1:18443
ip netns exec $NRL "$BIN" controller init --data "$T/ctl" --api-listen 10.201.2.1:18443 \
	--hostname 10.201.2.1 >"$T/init.log" 2>&1 || { cat "$T/init.log"; exit 1; }
KEY=$(grep -o 'pnak_[0-9a-f]*' "$T/init.log" | head -1)
pn_bg ctl ip netns exec $NRL "$BIN" controller run --data "$T/ctl" --api-listen 10.201.2.1:18443
pn_wait_log "$T/ctl.log" "listening" 10

ctl() { ip netns exec $NRL "$BIN" ctl --url $CTL --key "$KEY" --ca "$T/ctl/ca.crt" "$@"; }
ctl relay add r1 --udp 10.201.1.1:3478 --tls 10.201.1.1:4443 >"$T/add.log" 2>&1
TOKEN=$(grep -o 'pnt1\.[^ ]*' "$T/add.log" | head -1)
[ -n "$TOKEN" ] && ok "controller issued a relay enrollment token" || { bad "no token: $(cat $T/add.log)"; relay_finish; }

check "relay enroll with the token" ip netns exec $NRL "$BIN" relay enroll --token "$TOKEN" --state "$T/rstate"
if ip netns exec $NRL "$BIN" relay enroll --token "$TOKEN" --state "$T/rstate2" >"$T/replay.log" 2>&1; then
	bad "token replay accepted"
else
	grep -q PN_E_CTL_AUTH "$T/replay.log" && ok "token replay refused (PN_E_CTL_AUTH)" || bad "replay: $(cat $T/replay.log)"
fi
[ "$(stat -c %a "$T/rstate/key.pem")" = 600 ] && ok "relay key is 0600" || bad "key mode $(stat -c %a $T/rstate/key.pem)"

pn_bg relay ip netns exec $NRL "$BIN" relay run --state "$T/rstate" --udp 0.0.0.0:3478 --tls 0.0.0.0:4443 \
	--stats-interval 0 --renew-after 3 --allow-peer 10.201.0.0/16
RELAY_PID=$PID_relay
pn_wait_log "$T/relay.log" " ready " 10

# Peers with credentials from the controller's CA (as the controller issues them).
mkdir -p "$T/c"
$PKI_TOOL "$T/c" relay-net "$T/ctl" || { bad "pki under the controller CA"; relay_finish; }
pn_bg conn ip netns exec $NCO "$PEER" connector --pki "$T/c" --cred conn --relay tls=10.201.2.1:4443,udp=10.201.2.1:3478
pn_wait_log "$T/conn.log" "state=1" 10
kclient() { ip netns exec $NCL "$PEER" client --pki "$T/c" --cred client --acl client.acl --to conn "$@"; }
check "enrolled relay carries a session (UDP)" kclient --relay tls=10.201.1.1:4443,udp=10.201.1.1:3478 \
	--count 500 --expect-transport udp
pn_wait_log "$T/relay.log" "credential_renewed" 10
grep -q "credential_renewed" "$T/relay.log" && ok "relay renewed its credential with the controller" ||
	bad "no renewal: $(grep renew "$T/relay.log" | tail -2)"
check "new connections after the renewal (TLS)" kclient --relay tls=10.201.1.1:4443,only=tls --count 300 \
	--expect-transport tls
relay_finish
