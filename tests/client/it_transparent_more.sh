#!/bin/bash
# Transparent access, the rest of issue 13 (it_transparent.sh has the
# basics): ICMP echo end to end, records other than A/AAAA of protected
# names answered by the resource network's DNS through the tunnel, and
# IPv6 (AAAA names, an IPv6 CIDR resource, ping over IPv6).  Needs root.
#
# The fixture network (tests/lib/fixnet.sh), plus IPv6 on the link between
# conn1 and the resource network, and two real resolvers:
#   - the host's resolver: dnsmasq on the hub (10.203.0.1), named in the
#     client namespace's private resolv.conf;
#   - the resource network's DNS: dnsmasq on pnc-res (10.203.9.2), the
#     connector's only resolver: app.corp.example A 10.203.9.2 + TXT, MX
#     and _http._tcp SRV records; v6app.corp.example AAAA fd00:203:9::2.
#
#   pnc-cli (client --transparent) -- hub -- relay -- hub -- pnc-conn1 --+-- pnc-res
#                                                 10.203.9.1 / fd00:203:9::1 | 10.203.9.2 / fd00:203:9::2
#
# The connector pings with an unprivileged ICMP socket: its namespace's
# net.ipv4.ping_group_range admits root's group (the kernel's default
# admits nobody).
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-transparent-more
source "$(dirname "$0")/../lib/fixnet.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DNSQ="$PY $PN_SRC/tests/client/dnsq.py"
t_now() { echo "$EPOCHREALTIME"; }
t_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
t_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
RESOLV=/etc/netns/$NS_CLI/resolv.conf
V6RES=fd00:203:9::2

pn_topo_up
ip -n $NS_CONN1 addr add fd00:203:9::1/64 dev res1 nodad
ip -n $NS_RES addr add $V6RES/64 dev r1 nodad
pn_resources || bad "resources up"
pn_bg http6 ip netns exec $NS_RES $PY -m http.server 8000 --bind $V6RES --directory "$W/www"
ip netns exec $NS_CONN1 sysctl -qw net.ipv4.ping_group_range="0 2147483647"
pn_bg dns-res ip netns exec $NS_RES dnsmasq -k --no-resolv --no-hosts --listen-address=10.203.9.2 \
	--bind-interfaces --pid-file= --local=/corp.example/ --host-record=app.corp.example,10.203.9.2 \
	--host-record=v6app.corp.example,$V6RES --host-record=noping.corp.example,10.203.9.2 \
	--txt-record=app.corp.example,"text from the resource network" \
	--mx-host=app.corp.example,mail.corp.example,10 \
	--srv-host=_http._tcp.app.corp.example,app.corp.example,8000,0,5
pn_hosts $NS_CONN1 "# names come from the resource network's DNS"
mkdir -p /etc/netns/$NS_CONN1 && echo "nameserver 10.203.9.2" >/etc/netns/$NS_CONN1/resolv.conf
pn_bg dns-host ip netns exec $NS_HUB dnsmasq -k --no-resolv --no-hosts --listen-address=10.203.0.1 \
	--bind-interfaces --pid-file= --local=/corp.example/ --address=/public.example/198.51.100.7
mkdir -p "/etc/netns/$NS_CLI"
printf 'nameserver 10.203.0.1\n' >"$RESOLV"
if [ "$($C cat /etc/resolv.conf)" != "$(cat "$RESOLV")" ] ||
	! $C findmnt -n /etc/resolv.conf >/dev/null; then
	bad "the client namespace sees a private resolv.conf"
	pn_finish
fi
pn_wait_tcp $NS_CONN1 $V6RES 8000 30 || bad "IPv6 resource up"

F=$PN_FIXTURE D=$W/pki
$F $D ca && $F $D relay relay1 &&
	$F $D connector conn1 corp --allow '**.corp.example' tcp 8000 --allow '**.corp.example' icmp '*' \
		--allow 10.203.9.0/24 icmp '*' --allow fd00:203:9::/64 tcp 8000 \
		--allow fd00:203:9::/64 icmp '*' \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 &&
	$F $D client alice --net corp conn1 \
		--grant corp app.corp.example tcp 8000 --grant corp app.corp.example icmp '*' \
		--grant corp v6app.corp.example tcp 8000 --grant corp v6app.corp.example icmp '*' \
		--grant corp noping.corp.example tcp 8000 \
		--grant corp _http._tcp.app.corp.example tcp 8000 \
		--grant corp 10.203.9.0/24 icmp '*' \
		--grant corp fd00:203:9::/64 tcp 8000 --grant corp fd00:203:9::/64 icmp '*' \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 || bad "pki fixture"
pn_start_relay
pn_start_connector conn1

pn_start_client alice --transparent --log info
for i in $(seq 300); do
	grep -q transparent_started "$W/client-alice.log" && break
	sleep 0.1
done
grep -q 'transparent_started.*icmp=1' "$W/client-alice.log" && ok "transparent mode started with ICMP" ||
	{ bad "transparent mode started with ICMP"; tail -20 "$W/client-alice.log"; }

# --- ICMP echo ------------------------------------------------------------
# The first echo may wait for the tunnel's handshake: -w gives it time,
# and the replies must come.
ping_ok() { # label target [ping args]: three echo requests, replies
	local label=$1 out
	shift
	out=$($C ping -n -c 3 -i 0.3 -w 20 "$@" 2>&1)
	if echo "$out" | grep -q ' 0% packet loss\| 33% packet loss'; then
		ok "$label ($(echo "$out" | grep -o '[0-9]* received'))"
	else
		bad "$label"
		echo "$out" | tail -4
		grep -E 'icmp|flow_' "$W/client-alice.log" | tail -5
		grep -E 'icmp|deny' "$W/connector-conn1.log" | tail -5
	fi
}
ping_ok "ping of a protected name (IPv4 synthetic address)" -4 app.corp.example
out=$($C ping -n -c 1 -w 10 -4 app.corp.example 2>&1)
expect "the reply comes from the synthetic address" "from 100.9" "$out"
ping_ok "ping of a protected name over IPv6 (AAAA synthetic address)" -6 app.corp.example
ping_ok "ping of an IPv6-only resource by name" -6 v6app.corp.example
ping_ok "ping of a CIDR resource by IP" 10.203.9.2
ping_ok "ping of an IPv6 CIDR resource by IP" $V6RES
# Unprivileged ping too (an ICMP datagram socket, as a user would have; a
# copy of ping without its file capability).
$C sysctl -qw net.ipv4.ping_group_range="0 2147483647"
cp "$(command -v ping)" "$W/ping-nocap" && chmod 755 "$W" "$W/ping-nocap"
out=$($C setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$W/ping-nocap" -n -c 2 -w 10 -4 app.corp.example 2>&1)
expect "unprivileged ping (ICMP datagram socket) gets replies" "2 received" "$out"
grep -q 'flow_start.*via=transparent-icmp dest=app.corp.example' "$W/client-alice.log" &&
	grep -q 'proto=icmp dest=app.corp.example' "$W/connector-conn1.log" &&
	ok "ICMP flows logged at both ends, by name" || bad "ICMP flows logged at both ends"
# Not granted for ICMP (the name is protected for TCP only): refused at once.
t0=$(t_now)
out=$($C ping -n -c 1 -w 5 noping.corp.example 2>&1)
el=$(t_since "$t0")
# (iputils prints "Packet filtered" for administratively prohibited)
echo "$out" | grep -qi 'prohibited\|filtered' && t_le "$el" 3 &&
	ok "ping of a name granted without ICMP: prohibited at once (${el}s)" ||
	bad "ping not granted: ${el}s: $(echo "$out" | tail -3)"
grep -q 'flow_refused via=transparent-icmp dest=noping.corp.example' "$W/client-alice.log" &&
	ok "ICMP refusal logged" || bad "ICMP refusal logged"

# --- other record types through the tunnel --------------------------------
expect "TXT of a protected name from the resource network's DNS" \
	"TXT text from the resource network" "$($C $DNSQ 127.0.0.153 app.corp.example TXT)"
expect "MX of a protected name" "MX 10 mail.corp.example" "$($C $DNSQ 127.0.0.153 app.corp.example MX)"
expect "SRV of a protected name" "SRV 0 5 8000 app.corp.example" \
	"$($C $DNSQ 127.0.0.153 _http._tcp.app.corp.example SRV)"
expect "TXT over TCP" "TXT text from the resource network" \
	"$($C $DNSQ 127.0.0.153 app.corp.example TXT --tcp)"
expect "TXT with EDNS" "TXT text from the resource network" \
	"$($C $DNSQ 127.0.0.153 app.corp.example TXT --edns 1232)"
expect "no such record: the resource DNS's NODATA" "rcode=0 an=0" \
	"$($C $DNSQ 127.0.0.153 v6app.corp.example MX)"
expect "A still answered locally" "A 100.9" "$($C $DNSQ 127.0.0.153 app.corp.example A)"
grep -q 'proto=dns dest=app.corp.example' "$W/connector-conn1.log" &&
	ok "connector logs the DNS flows" || bad "connector logs the DNS flows"
out=$($C $DNSQ 10.203.0.1 app.corp.example TXT)
expect "(the host's resolver does not know them: NXDOMAIN there)" "rcode=3" "$out"

# --- IPv6 -------------------------------------------------------------------
out=$($C curl -6 -s -m 15 http://v6app.corp.example:8000/)
expect "IPv6-only resource by name (AAAA synthetic, connector dials IPv6)" "hello from the private resource" "$out"
out=$($C curl -s -m 15 "http://[$V6RES]:8000/")
expect "IPv6 CIDR resource by IP (TCP)" "hello from the private resource" "$out"
expect "AAAA answered locally" "AAAA fd7a:7073:746e::" "$($C $DNSQ 127.0.0.153 v6app.corp.example AAAA)"
out=$($C "$PN_BIN" client status --state "$D/alice")
expect "status lists the IPv6 CIDR" "routed fd00:203:9::/64" "$out"

pn_stop $PID_client_alice 10
grep -q transparent_stopped "$W/client-alice.log" && ok "clean stop" || bad "clean stop"

# --- systemd-resolved mode (a stand-in resolvectl) ----------------------
# No systemd-resolved can run here (it needs systemd and D-Bus); what can
# be checked is the client's side: it detects a resolved-managed host,
# makes its link (a TUN device the client holds, up, with the synthetic
# range's first address), gives resolvectl the responder and the routing
# domains, leaves resolv.conf alone, forwards to resolved's real servers,
# and undoes it all, also after kill -9.
mkdir -p "$W/resolve"
printf 'nameserver 10.203.0.1\n' >"$W/resolve/resolv.conf"
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$W/resolvectl.log" >"$W/resolvectl"
chmod 755 "$W/resolvectl"
printf '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\n' >"$RESOLV"
rsnap() {
	cat "$RESOLV"
	$C nft list ruleset
	$C ip rule show
	$C ip -6 rule show
	$C ip -br link show
	$C ip route show table all | grep -v '^multicast\|fe80' # (not the kernel's IPv6 link-local routes: late)
}
rsnap >"$W/r-before.txt"
start_resolved() {
	local n
	n=$(grep -c transparent_started "$W/client-alice.log")
	rm -f "$D/alice/client.sock"
	POSTERN_RESOLVECTL=$W/resolvectl POSTERN_RESOLVED_DIR=$W/resolve \
		pn_start_client alice --transparent --log info
	for i in $(seq 300); do
		[ "$(grep -c transparent_started "$W/client-alice.log")" -gt "$n" ] && return 0
		sleep 0.1
	done
	bad "transparent mode started (resolved)"
}
start_resolved
grep -q 'transparent_started.*dns_mode=resolved' "$W/client-alice.log" &&
	ok "resolved detected: dns_mode=resolved" || bad "resolved detected"
out=$($C ip -br addr show postern0 2>&1)
[[ "$out" == *UP* || "$out" == *UNKNOWN* ]] && [[ "$out" == *100.96.0.0/32* ]] &&
	ok "link postern0 up with the range's first address ($out)" || bad "link postern0 ($out)"
L=$(cat "$W/resolvectl.log")
expect "resolvectl: the responder as the link's DNS server" "dns postern0 127.0.0.153" "$L"
expect "resolvectl: routing domains of the protected names" \
	"domain postern0 ~app.corp.example ~v6app.corp.example ~noping.corp.example ~_http._tcp.app.corp.example" "$L"
expect "resolvectl: not the default route" "default-route postern0 false" "$L"
cmp -s "$RESOLV" <(printf '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\n') &&
	ok "resolv.conf untouched in resolved mode" || bad "resolv.conf untouched"
expect "responder answers protected names" "A 100.9" "$($C $DNSQ 127.0.0.153 app.corp.example A)"
expect "other names go to resolved's real servers" "A 198.51.100.7" "$($C $DNSQ 127.0.0.153 public.example A)"
expect "status: dns mode resolved" '"dns_mode":"resolved"' "$($C "$PN_BIN" client status --json --state "$D/alice")"
kill -9 $PID_client_alice
wait $PID_client_alice 2>/dev/null
for i in $(seq 50); do $C ip link show postern0 >/dev/null 2>&1 || break; sleep 0.1; done
$C ip link show postern0 >/dev/null 2>&1 && bad "link gone with the killed client" ||
	ok "kill -9: the link went with the client's descriptor"
start_resolved
pn_stop $PID_client_alice 10
expect "stop: resolvectl revert" "revert postern0" "$(tail -1 "$W/resolvectl.log")"
rsnap >"$W/r-after.txt"
cmp -s "$W/r-before.txt" "$W/r-after.txt" && ok "resolved mode, kill -9 + start + stop: host state identical" ||
	{ bad "resolved mode: host state differs"; diff "$W/r-before.txt" "$W/r-after.txt" | head; }
pn_finish
