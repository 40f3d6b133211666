#!/bin/bash
# Relays as the controller hands them out, used by the real connector and
# client (postern binaries), for two promises:
#
# 1. A wss:// relay works (issue 10 item 4).  The relay is added with
#    `--ws wss://10.206.2.2:8443/postern`; a real haproxy terminates TLS
#    there with its own certificate (its own test CA, given to both roles
#    with --wss-ca) and passes the WebSocket upgrade to the relay.  The
#    client runs with --transport ws and the connector cannot reach the
#    relay's TLS port: both reach the relay only through wss://.  A bad
#    entry added to the client's relays.json is skipped with its reason;
#    the good relay is still used.
# 2. Open relay connections carry renewed credentials (item 5), and so do
#    open tunnels.  With 10-second credentials (`controller run
#    --cred-lifetime 10s`), flows run for ~35 s, every one answered: the
#    client re-presents each renewal inside its tunnel (PN_CTL_CRED), so
#    the one tunnel outlives the login credential's expiry + the skew
#    (60 s, PN_TRUST_DEFAULT_SKEW; narrowed to 10 s for every role here
#    with the test knob PN_TEST_CLOCK_SKEW_S: the run waits it out)
#    (before, the connector ended it then and a flow started in that second
#    could be refused cred_expired).  Then the connector is restarted: the
#    client's next tunnel needs a new relay session, opened on its SAME
#    relay connection (without RENEW the relay refuses it: the client's
#    credential on that connection expired); the relay logs every
#    credential re-presented (peer_renewed) and accepts one client
#    connection (peer_up) over the whole run.
# Needs root (network namespaces).
#
#                      pnc-hub (router; controller https://10.206.0.1:8443)
#   pnc-cli 10.206.1.2 ---+--- 10.206.2.2 pnc-relay: relay udp :3478, tls :4433,
#   (client, SOCKS5 :1080)|                 ws path /postern; haproxy TLS :8443 -> :4433
#                         +--- 10.206.4.2 pnc-conn (connector; TCP to :4433 dropped) --- 10.206.9.2 pnc-res
#                                         10.206.9.1                                     (HTTP :8000)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" relay-ctl
LIFE=10
SKEW=10 # PN_TRUST_DEFAULT_SKEW, narrowed from 60 s for every role started here
export PN_TEST_CLOCK_SKEW_S=$SKEW

flow() { # -> 0 if the resource answered through the tunnel
	local out
	out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.206.9.2:8000/)
	[[ "$out" == *"hello from the private resource"* ]]
}

pn_star 10.206 || pn_finish

mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.206.9.2 --directory "$W/www"

# The proxy's own PKI: a test CA (not the Postern CA, not in the system
# store) and a certificate for the relay's public address.
pn_test_tls "$W/proxy" IP:10.206.2.2 || { bad "proxy certificate"; pn_finish; }

pn_controller_up --cred-lifetime ${LIFE}s || pn_finish
pn_provision app 10.206.9.2 tcp/8000 || pn_finish
RTOKEN=$($CTL relay add relay1 --udp 10.206.2.2:3478 --tls 10.206.2.2:4433 \
	--ws wss://10.206.2.2:8443/postern | grep '^pnt1\.')
[ -n "$RTOKEN" ] && ok "controller accepted a relay with --ws wss://" || { bad "relay add with wss://"; pn_finish; }

ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/relay" >"$W/enroll.log" 2>&1 ||
	bad "relay enroll"
pn_bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/relay" \
	--udp 10.206.2.2:3478 --tls 0.0.0.0:4433 --ws-path /postern --stats-interval 0 \
	--allow-peer 10.206.0.0/16
pn_ws_proxy_cfg "$W/haproxy.cfg" 127.0.0.1:4433 "10.206.2.2:8443 ssl crt $W/proxy.pem"
pn_bg haproxy ip netns exec $NS_RELAY haproxy -f "$W/haproxy.cfg" -db
pn_wait_tcp $NS_CLI 10.206.2.2 8443 15 || bad "haproxy listening"
# The connector reaches the relay only through the proxy (TLS port dropped).
ip netns exec $NS_RELAY nft add table inet pnc
ip netns exec $NS_RELAY nft add chain inet pnc in '{ type filter hook input priority 0; }'
ip netns exec $NS_RELAY nft add rule inet pnc in ip saddr 10.206.4.2 tcp dport 4433 drop

pn_connector_enroll "$TOKEN" || pn_finish
grep -q "wss://10.206.2.2:8443/postern" "$W/conn/relays.json" && ok "connector's relays.json holds the wss:// URL" ||
	bad "connector's relays.json: $(cat "$W/conn/relays.json")"
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --wss-ca "$W/proxy-ca.crt"
pn_wait_log "$W/connector.log" "relays count=1" 10 && ok "connector uses the wss:// relay (relays count=1)" ||
	bad "connector relays: $(grep relays "$W/connector.log")"
pn_wait_log "$W/connector.log" "relay_state.*state=ready" 30 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"
grep -q "peer_up role=connector .*ws=1" "$W/relay.log" && ok "connector came in over the WebSocket (wss:// via haproxy)" ||
	bad "connector over the WebSocket: $(grep peer_up "$W/relay.log")"

pn_client_login cli "$SA_KEY" || pn_finish
T0=$(date +%s)
# A broken entry and one the relay client cannot use, next to the good one.
python3 - "$W/cli/relays.json" <<'PY'
import json, sys
p = sys.argv[1]
l = json.load(open(p))
l.append({"name": "broken", "ws": "wss:/missing-slash"})
l.append({"name": "udponly", "udp": "10.206.2.2:3478"})
json.dump(l, open(p, "w"))
PY
pn_bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--transport ws --wss-ca "$W/proxy-ca.crt"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || { bad "client SOCKS5 listening"; pn_finish; }
grep -q "state_invalid" "$W/client.log" && bad "client: state_invalid" || ok "client started with the wss:// relay"
grep -q 'relay_skipped index=1 relay=broken err=PN_E_CONFIG why="must be ws://' "$W/client.log" &&
	ok "bad entry skipped with its reason" || bad "bad entry skipped: $(grep relay_skipped "$W/client.log")"
grep -q 'relay_skipped index=2 relay=udponly' "$W/client.log" &&
	grep -q 'relay_invalid relay=udponly err=PN_E_CONFIG why="no control stream' "$W/client.log" &&
	ok "unusable entry (UDP only: no control stream) skipped with its reason" ||
	bad "unusable entry skipped: $(grep 'relay_invalid\|relay_skipped' "$W/client.log")"

# Flows every few seconds until the first credentials are expired by more
# than the skew: every one is answered, on the one tunnel, which lives on
# under the renewals the client re-presented in it.
t_end=$((T0 + LIFE + SKEW + 15))
echo "# flows for $((t_end - $(date +%s))) s (credential lifetime $LIFE s + skew $SKEW s + 15 s)"
nflows=0 nfail=0 late_ok=0
while [ "$(date +%s)" -lt $t_end ]; do
	ts=$(date +%s)
	if flow; then
		[ "$(date +%s)" -gt $((T0 + LIFE + SKEW + 2)) ] && late_ok=$((late_ok + 1))
	else
		nfail=$((nfail + 1))
		echo "# flow failed at +$((ts - T0)) s"
	fi
	nflows=$((nflows + 1))
	sleep 4.5
	kill -0 "$PID_connector" 2>/dev/null && kill -0 "$PID_client" 2>/dev/null || { bad "a role died"; pn_finish; }
done
[ $nfail -eq 0 ] && ok "$nflows flows over $((t_end - T0)) s, all answered" || bad "$nfail of $nflows flows failed"
[ $late_ok -ge 1 ] && ok "$late_ok flows after the first credentials expired (+ skew)" ||
	bad "no flow after the first credentials expired"
n=$(grep -c "connector tunnel_cred_renewed" "$W/connector.log")
[ "$n" -ge 3 ] && ok "connector adopted $n client credentials re-presented in the tunnel" ||
	bad "client credentials re-presented and adopted: $n"
grep -q "tunnel_cred_expired\|tunnel_cred_refused" "$W/connector.log" &&
	bad "connector: $(grep -m2 'tunnel_cred_expired\|tunnel_cred_refused' "$W/connector.log")" ||
	ok "tunnel not ended at the login credential's expiry, no renewal refused"
n=$(grep -c "client tunnel_up" "$W/client.log")
[ "$n" -eq 1 ] && ok "one tunnel through the credential expiry" || bad "client tunnels up: $n"

# The connector restarts: the client's next tunnel needs a new relay
# session on its open relay connection, whose login credential expired
# long ago (RENEW replaced it).
pn_stop "$PID_connector" || bad "connector stopped on SIGTERM"
pn_bg connector2 ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --wss-ca "$W/proxy-ca.crt"
pn_wait_log "$W/connector2.log" "relay_state.*state=ready" 30 && ok "restarted connector registered" ||
	bad "restarted connector registered"
got=0
for i in 1 2 3 4 5; do
	flow && { got=1; break; }
	sleep 1
done
[ $got -eq 1 ] && ok "flow through a new tunnel $(($(date +%s) - T0)) s after login" ||
	bad "no flow after the connector restart"
# T0 is taken just after login: every tunnel up from T0 + LIFE + SKEW - 3
# on is one the old relay connection carried after its login credential
# expired (+ skew).
late=0
for ts in $(grep "client tunnel_up" "$W/client.log" | cut -d' ' -f1); do
	[ "$(date -d "$ts" +%s)" -ge $((T0 + LIFE + SKEW - 3)) ] && late=$((late + 1))
done
[ $late -ge 1 ] && ok "new tunnel (new relay session) after the first credentials expired: $late" ||
	bad "no tunnel after the first credentials expired ($(grep -c tunnel_up "$W/client.log") in all)"
c=$(grep -c "peer_up role=client" "$W/relay.log")
k=$(grep -c "peer_up role=connector" "$W/relay.log")
[ "$c" -eq 1 ] && [ "$k" -eq 2 ] && ok "one client relay connection for the whole run (no reconnect), one per connector run" ||
	bad "relay accepted $c client and $k connector connections: $(grep 'peer_up\|peer_down' "$W/relay.log")"
c=$(grep -c "peer_renewed role=client" "$W/relay.log")
k=$(grep -c "peer_renewed role=connector" "$W/relay.log")
[ "$c" -ge 3 ] && [ "$k" -ge 3 ] && ok "renewed credentials re-presented on the open connections (client $c, connector $k)" ||
	bad "renewals presented: client $c, connector $k"
grep -q "peer_renew_refused" "$W/relay.log" && bad "relay refused a renewal" || ok "no renewal refused"
grep -q "err=PN_E_EXPIRED" "$W/client.log" && bad "client saw PN_E_EXPIRED" || ok "no PN_E_EXPIRED at the client"
pn_finish
