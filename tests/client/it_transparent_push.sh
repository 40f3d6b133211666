#!/bin/bash
# Transparent mode with a real controller: the routed address/CIDR
# resources follow the access lists the controller pushes, without a
# restart.  A CIDR resource granted live becomes interceptable (its
# routing rule and nftables set element appear, `curl` by IP reaches it);
# removed live, it is no longer intercepted (rule and element gone).  The
# host state after a clean stop is byte-identical to before.  Needs root.
#
#                        pnc-hub (router; controller https://10.203.0.1:8443, SQLite;
#                                 dnsmasq 10.203.0.1:53 as the host's resolver)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay, enrolled with a token)
#   (client --transparent)+--- 10.203.4.2 pnc-conn1 (connector, enrolled) ---- pnc-res 10.203.9.2
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-transparent-push
source "$(dirname "$0")/../lib/fixnet.sh"
RESOLV=/etc/netns/$NS_CLI/resolv.conf

pn_topo_up
pn_resources || bad "resources up"
pn_bg dns-host ip netns exec $NS_HUB dnsmasq -k --no-resolv --no-hosts --listen-address=10.203.0.1 \
	--bind-interfaces --pid-file= --local=/corp.example/ --address=/public.example/198.51.100.7
mkdir -p "/etc/netns/$NS_CLI"
printf 'nameserver 10.203.0.1\n' >"$RESOLV"
if [ "$($C cat /etc/resolv.conf)" != "$(cat "$RESOLV")" ] ||
	! $C findmnt -n /etc/resolv.conf >/dev/null; then
	bad "the client namespace sees a private resolv.conf"
	pn_finish
fi
pn_controller_up || pn_finish
pn_provision app app.corp.example tcp/8000 || pn_finish
$CTL resource add lan --network corp --address 10.203.9.0/24 --ports tcp/8000 >/dev/null ||
	bad "resource lan (CIDR, not granted yet)"
RTOKEN=$($CTL relay add relay1 --udp 10.203.2.2:3478 --tls 10.203.2.2:4433 | grep '^pnt1\.')
mkdir -p "$W/pki"
ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/pki/relay1" >>"$W/enroll.log" 2>&1 ||
	bad "relay enroll"
pn_start_relay
pn_connector_enroll "$TOKEN" conn1 $NS_CONN1
pn_bg connector-conn1 ip netns exec $NS_CONN1 "$PN_BIN" connector run --state "$W/conn1"
pn_client_login alice "$SA_KEY" "$W/pki/alice" || pn_finish

snapshot() {
	cat "$RESOLV"
	echo "--- nft"
	$C nft list ruleset
	echo "--- rules"
	$C ip rule show
	$C ip -6 rule show
	echo "--- routes"
	# (not the link-local and multicast routes the kernel adds once the
	# interface's IPv6 comes up, which can be after the first snapshot;
	# `ip route show table all` lists them too)
	$C ip route show table all | grep -v '^multicast\|fe80'
	$C ip -6 route show table all | grep -v '^multicast\|fe80'
}
snapshot >"$W/before.txt"

PN_CLIENT_ONLINE=1 pn_start_client alice --transparent
for i in $(seq 300); do
	grep -q transparent_started "$W/client-alice.log" && break
	sleep 0.1
done
grep -q transparent_started "$W/client-alice.log" || bad "transparent mode started"
acl_count() { grep -c acl_installed "$W/client-alice.log"; }
wait_for() { # seconds command...: poll until the command succeeds
	local t=$1 i
	shift
	for i in $(seq $((t * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
routed() { $C ip rule show | grep -q 'to 10.203.9.0/24 lookup 28782'; }
in_set() { $C nft list set inet postern v4 | grep -q '10.203.9.0/24'; }
not_routed() { ! routed && ! in_set; }

expect "granted name works" "hello from the private resource" "$($C curl -s -m 15 http://app.corp.example:8000/)"
not_routed && ok "CIDR not granted: not intercepted" || bad "CIDR not granted: not intercepted"

$CTL grant add eng lan >/dev/null || bad "grant lan"
wait_for 30 routed && ok "pushed grant: CIDR routed to the client" ||
	{ bad "pushed grant: CIDR routed"; tail -5 "$W/client-alice.log"; }
# the route and the set element are two steps of one update: wait for
# both (checked once right after the route, it failed once under ASan)
wait_for 30 in_set && ok "pushed grant: CIDR in the nftables set" || bad "pushed grant: CIDR in the set"
out=$($C curl -s -m 15 http://10.203.9.2:8000/)
expect "new CIDR resource reached by IP without a restart" "hello from the private resource" "$out"
grep -q 'transparent_cidrs_changed cidrs=1 before=0' "$W/client-alice.log" &&
	ok "change logged" || bad "change logged"

$CTL grant delete eng lan >/dev/null || bad "grant delete lan"
wait_for 30 not_routed && ok "removed grant: CIDR no longer intercepted (rule and element gone)" ||
	{ bad "removed grant: CIDR no longer intercepted"; $C ip rule show; }
$C curl -s -m 5 http://10.203.9.2:8000/ >/dev/null 2>&1
[ $? -ne 0 ] && ok "removed CIDR resource: not reachable through the client" ||
	bad "removed CIDR resource still reachable"
expect "the granted name still works" "hello from the private resource" \
	"$($C curl -s -m 15 http://app.corp.example:8000/)"
kill -0 "$PID_client_alice" 2>/dev/null && [ "$(grep -c transparent_started "$W/client-alice.log")" = 1 ] &&
	ok "no restart: the same process throughout" || bad "no restart"

pn_stop $PID_client_alice 10
snapshot >"$W/after-stop.txt"
cmp -s "$W/before.txt" "$W/after-stop.txt" && ok "clean stop: resolv.conf, nftables, rules, routes identical" ||
	{ bad "clean stop: host state differs"; diff "$W/before.txt" "$W/after-stop.txt" | head -20; }
pn_finish
