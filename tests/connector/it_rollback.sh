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
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" rollback

stop() { # pid: SIGTERM and wait (a clean exit is part of the contract)
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
fetch() { # through the client's SOCKS5 proxy
	ip netns exec $NS_CLI curl -s -m 10 --socks5 127.0.0.1:1080 http://10.211.9.2:8000/ 2>/dev/null
}
HELLO="hello from the private resource"

pn_star 10.211 norelay || pn_finish

mkdir -p "$W/www"
echo "$HELLO" >"$W/www/index.html"
pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.211.9.2 --directory "$W/www"

pn_controller_up || pn_finish
pn_provision app 10.211.9.2 tcp/8000 || pn_finish
pn_connector_enroll "$TOKEN" || pn_finish
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.211.4.2:4433
pn_wait_log "$W/connector.log" "policy_push" 15 || bad "connector subscribed"

pn_client_login cli "$SA_KEY" || pn_finish
start_client() {
	pn_bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
		--direct "$CONN_ID=10.211.4.2:4433"
	pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"
}
start_client
out=$(fetch)
[[ "$out" == *"$HELLO"* ]] && ok "granted flow passes" || bad "granted flow (got '${out:0:200}')"
pn_wait_log "$W/connector.log" "acl_accepted" 5 || bad "connector accepted the client's list"
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
pn_wait_log "$W/connector.log" "policy_push" 10 $((pushes + 1)) || bad "removal pushed to the connector"
pn_wait_log "$W/connector.log" "acl_withdrawn" 5 && ok "connector withdrew the open tunnel's grant" ||
	bad "connector withdrew the open tunnel's grant"
out=$(fetch)
[[ "$out" != *"$HELLO"* ]] && ok "flow on the open tunnel refused" || bad "flow passed after removal"
pn_wait_log "$W/connector.log" "flow_deny.*reason=\"no_acl\"" 5 && ok "connector denied it: no_acl" ||
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
pn_finish
