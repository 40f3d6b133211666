#!/bin/bash
# Transparent access with a real systemd-resolved (`--dns-mode resolved`,
# issue 13).  Needs root.  Nothing is installed on the host: the Debian
# package systemd-resolved (the version of the host's libsystemd-shared) is
# downloaded once with `apt-get download` into a cache outside the clone
# ($PN_RESOLVED_CACHE, default /var/cache/postern-test/resolved) and
# unpacked there; then, in a private mount namespace (/run a tmpfs of this
# test's own) and the client's network namespace:
#   - a private system bus (dbus-daemon --config-file, policy from the
#     package) at /run/dbus/system_bus_socket;
#   - the real systemd-resolved binary, as the systemd-resolve user of a
#     private /etc/passwd (ip netns exec bind-mounts /etc/netns/NS/*), its
#     upstream the host's resolver (dnsmasq on the hub) from a private
#     /etc/systemd/resolved.conf, its stub on 127.0.0.53;
#   - /etc/resolv.conf (private) is resolved's stub file;
#   - the client in transparent mode; no relay or connector: A queries of
#     protected names are answered by the client's responder itself.
# Checks, with the real resolvectl: the link postern0's DNS server and
# routing domains, a protected name asked of resolved's stub answered
# from the synthetic range (routed to the client's responder), a public
# name still answered by the upstream, and resolved's state, the links and
# the host files back as before after a clean stop, and after kill -9 +
# start + clean stop.
set -uo pipefail
BUILD=${1:?build dir}
# /run of our own: the bus socket and resolved's runtime directory are
# never the host's.  (ip netns add makes /run/netns inside it.)
if [ -z "${PN_RESOLVED_PRIVATE:-}" ]; then
	PN_RESOLVED_PRIVATE=1 exec unshare --mount --propagation private -- bash -c \
		'mount -t tmpfs -o mode=755 pn-run /run && exec "$@"' bash "$0" "$@"
fi
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-resolved
source "$(dirname "$0")/../lib/fixnet.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DNSQ="$PY $PN_SRC/tests/client/dnsq.py"
CACHE=${PN_RESOLVED_CACHE:-/var/cache/postern-test/resolved}
RESOLV=/etc/netns/$NS_CLI/resolv.conf

# --- the package, once ---------------------------------------------------
ver=$(dpkg-query -W -f='${Version}' libsystemd-shared 2>/dev/null)
R=$CACHE/$ver/root
if [ -z "$ver" ]; then
	bad "libsystemd-shared is installed (systemd-resolved's library; scripts/deps.sh)"
	pn_finish
fi
if [ ! -x "$R/lib/systemd/systemd-resolved" ]; then
	# ctest's isolation has no route out: download from the namespace of the
	# nearest ancestor that has one (as tests/packaging/package_deb.sh does).
	has_route() { "$@" ip route show default 2>/dev/null | grep -q .; }
	NETP=()
	if ! has_route; then
		pid=$$ self=$(readlink /proc/self/ns/net)
		while pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ "${pid:-0}" -gt 1 ]; do
			if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$self" ] &&
				has_route nsenter --net="/proc/$pid/ns/net" --; then
				NETP=(nsenter --net="/proc/$pid/ns/net" --)
				break
			fi
		done
	fi
	mkdir -p "$CACHE/$ver" && rm -rf "$CACHE/$ver/dl" "$R" && mkdir -p "$CACHE/$ver/dl" &&
		(cd "$CACHE/$ver/dl" && "${NETP[@]}" apt-get download -q "systemd-resolved=$ver") \
			>"$W/download.log" 2>&1 &&
		dpkg-deb -x "$CACHE/$ver"/dl/systemd-resolved_*.deb "$R.tmp" && mv "$R.tmp" "$R" ||
		{ bad "systemd-resolved $ver downloaded and unpacked into $CACHE"; cat "$W/download.log"; pn_finish; }
fi
command -v dbus-daemon >/dev/null || { bad "dbus-daemon present (scripts/deps.sh)"; pn_finish; }

# --- the network, the host's resolver, the client's private files -------
pn_topo_up
pn_bg dns-host ip netns exec $NS_HUB dnsmasq -k --no-resolv --no-hosts --listen-address=10.203.0.1 \
	--bind-interfaces --pid-file= --local=/corp.example/ --address=/public.example/198.51.100.7
mkdir -p "/etc/netns/$NS_CLI/systemd"
printf '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\noptions edns0 trust-ad\n' >"$RESOLV"
printf '[Resolve]\nDNS=10.203.0.1\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\nDNSStubListener=yes\n' \
	>"/etc/netns/$NS_CLI/systemd/resolved.conf"
{ grep -v '^systemd-resolve:' /etc/passwd; echo 'systemd-resolve:x:990:990:systemd Resolver:/:/usr/sbin/nologin'; } \
	>"/etc/netns/$NS_CLI/passwd"
{ grep -v '^systemd-resolve:' /etc/group; echo 'systemd-resolve:x:990:'; } >"/etc/netns/$NS_CLI/group"
mkdir -p /run/dbus /run/systemd
cat >"$W/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <includedir>$R/usr/share/dbus-1/system.d</includedir>
</busconfig>
EOF
pn_bg dbus ip netns exec $NS_CLI dbus-daemon --config-file="$W/bus.conf" --nofork --nopidfile
pn_wait_file /run/dbus/system_bus_socket 30 || bad "private system bus up"
pn_bg resolved ip netns exec $NS_CLI "$R/lib/systemd/systemd-resolved"
RCTL="$C timeout 20 $R/usr/bin/resolvectl"
for i in $(seq 300); do
	$RCTL dns >/dev/null 2>&1 && [ -e /run/systemd/resolve/resolv.conf ] && break
	sleep 0.1
done
check "systemd-resolved runs on the private bus" $RCTL status
for i in $(seq 300); do
	$C $DNSQ 127.0.0.53 public.example A 2>/dev/null | grep -q 198.51.100.7 && break
	sleep 0.1
done
expect "resolved's stub answers from the upstream before the client" "A 198.51.100.7" \
	"$($C $DNSQ 127.0.0.53 public.example A 2>&1)"

F=$PN_FIXTURE D=$W/pki
$F $D ca && $F $D relay relay1 &&
	$F $D connector conn1 corp --allow '**.corp.example' tcp 8000 \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 &&
	$F $D client alice --net corp conn1 --grant corp app.corp.example tcp 8000 \
		--grant corp '*.web.corp.example' tcp 8000 \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 >"$W/pki.log" 2>&1 || bad "pki fixture"

snapshot() { # what the client must leave as it found it
	cat "$RESOLV"
	echo "--- resolved"
	$RCTL dns
	$RCTL domain
	echo "--- nft"
	$C nft list ruleset
	echo "--- rules"
	$C ip rule show
	$C ip -6 rule show
	echo "--- links and routes"
	$C ip -br link show
	$C ip -4 route show table all
	$C ip -6 route show table all | grep -v '^multicast\|fe80'
}
snapshot >"$W/before.txt"

start_client() {
	local n
	n=$(pn_count "$W/client-alice.log" transparent_started)
	rm -f "$D/alice/client.sock"
	POSTERN_RESOLVECTL=$R/usr/bin/resolvectl pn_start_client alice --transparent \
		--dns-mode resolved --log info
	pn_wait_count "$W/client-alice.log" transparent_started $((n + 1)) 30 ||
		bad "transparent mode started (resolved)"
}
start_client
expect "dns_mode=resolved" "dns_mode=resolved" "$(grep transparent_started "$W/client-alice.log" | tail -1)"
expect "resolvectl: the link's DNS server is the responder" "127.0.0.153" "$($RCTL dns postern0 2>&1)"
out=$($RCTL domain postern0 2>&1)
expect "resolvectl: routing domain of a name" "~app.corp.example" "$out"
expect "resolvectl: routing domain of a wildcard" "~web.corp.example" "$out"
expect "resolvectl: not the default route" "no" "$($RCTL default-route postern0 2>&1)"
# a protected name through resolved's stub: resolved routes it to the
# responder on the link, which answers from the synthetic range
local_answers() {
	$C "$PN_BIN" client status --json --state "$D/alice" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["transparent"]["dns"]["local"])'
}
n0=$(local_answers)
out=""
for i in $(seq 100); do
	out=$($C $DNSQ 127.0.0.53 app.corp.example A 2>&1)
	[[ "$out" == *"A 100.9"* ]] && break
	sleep 0.1
done
expect "a protected name via 127.0.0.53 gets its synthetic address" "A 100.9" "$out"
expect "a wildcard name via 127.0.0.53 too" "A 100.9" "$($C $DNSQ 127.0.0.53 x.web.corp.example A 2>&1)"
expect "the same address as the responder gives" "$($C $DNSQ 127.0.0.153 app.corp.example A 2>&1 | grep -o 'A 100[0-9.]*')" "$out"
n1=$(local_answers)
[ "${n1:-0}" -gt "${n0:-0}" ] && ok "the responder answered resolved's queries ($n0 -> $n1)" ||
	bad "the responder answered resolved's queries ($n0 -> $n1)"
expect "a public name via 127.0.0.53: the upstream's answer" "A 198.51.100.7" \
	"$($C $DNSQ 127.0.0.53 public.example A 2>&1)"
expect "a name under corp.example not protected: not ours" "rcode=3" \
	"$($C $DNSQ 127.0.0.53 other.corp.example A 2>&1)"
cmp -s "$RESOLV" <(sed -n 1,3p "$W/before.txt") && ok "resolv.conf untouched" || bad "resolv.conf untouched"

# kill -9: the link goes with the client's descriptor, resolved forgets it
kill -9 $PID_client_alice
wait $PID_client_alice 2>/dev/null
for i in $(seq 100); do $C ip link show postern0 >/dev/null 2>&1 || break; sleep 0.1; done
$C ip link show postern0 >/dev/null 2>&1 && bad "kill -9: link gone" || ok "kill -9: link gone"
out=""
for i in $(seq 100); do
	out=$($RCTL dns 2>&1)
	[[ "$out" != *postern0* ]] && break
	sleep 0.1
done
expect "kill -9: resolved forgot the link" "Global" "$out"
[[ "$out" == *postern0* ]] && bad "resolved still lists postern0: $out"
expect "kill -9: public names still resolve" "A 198.51.100.7" "$($C $DNSQ 127.0.0.53 public.example A 2>&1)"
start_client
expect "restarted: protected name via resolved" "A 100.9" "$($C $DNSQ 127.0.0.53 app.corp.example A 2>&1)"
pn_stop $PID_client_alice 10
grep -q transparent_stopped "$W/client-alice.log" && ok "clean stop" || bad "clean stop"
for i in $(seq 100); do $RCTL dns 2>&1 | grep -q postern0 || break; sleep 0.1; done
snapshot >"$W/after.txt"
cmp -s "$W/before.txt" "$W/after.txt" && ok "kill -9 + start + clean stop: resolved, files, rules identical" ||
	{ bad "host state differs"; diff "$W/before.txt" "$W/after.txt" | head -20; }
expect "after stop: public names resolve" "A 198.51.100.7" "$($C $DNSQ 127.0.0.53 public.example A 2>&1)"
expect "after stop: protected names no longer ours" "rcode=3" \
	"$($C $DNSQ 127.0.0.53 app.corp.example A 2>&1)"
pn_finish
