#!/bin/bash
# Transparent access end to end (issue 13): `postern client run --transparent`
# in the client namespace; applications use no proxy settings.  Needs root.
#
# The fixture network (tests/lib/fixnet.sh) plus two real resolvers:
#   - the host's resolver: dnsmasq on the hub (10.203.0.1:53), named in the
#     client namespace's resolv.conf (a private file: `ip netns exec`
#     bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf in a
#     mount namespace of its own; the real host's file and ruleset are never
#     touched); it knows public.example and says NXDOMAIN for the rest of
#     corp.example;
#   - the resource network's DNS: dnsmasq on pnc-res (10.203.9.2:53),
#     the connector's only resolver (no hosts entries): app, echo, a.web,
#     b.web, secret.corp.example -> 10.203.9.2.
# Client alice: app.corp.example tcp 8000, *.web.corp.example tcp 8000,
# echo.corp.example udp 7, 10.203.9.0/24 tcp 7,8000 + udp 7.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-transparent
source "$(dirname "$0")/../lib/fixnet.sh"
# Debian's interpreter: a version manager's shim can take seconds to start
# on a loaded machine, and this test runs a few dozen short scripts.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DNSQ="$PY $PN_SRC/tests/client/dnsq.py"
t_now() { echo "$EPOCHREALTIME"; }
t_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
t_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
RESOLV=/etc/netns/$NS_CLI/resolv.conf

pn_topo_up
pn_resources || bad "resources up"
# The resource network's DNS; the connector resolves only through it.
pn_bg dns-res ip netns exec $NS_RES dnsmasq -k --no-resolv --no-hosts --listen-address=10.203.9.2 \
	--bind-interfaces --pid-file= --local=/corp.example/ --address=/app.corp.example/10.203.9.2 \
	--address=/echo.corp.example/10.203.9.2 --address=/a.web.corp.example/10.203.9.2 \
	--address=/b.web.corp.example/10.203.9.2 --address=/secret.corp.example/10.203.9.2
pn_hosts $NS_CONN1 "# names come from the resource network's DNS"
mkdir -p /etc/netns/$NS_CONN1 && echo "nameserver 10.203.9.2" >/etc/netns/$NS_CONN1/resolv.conf
# The host's resolver.
pn_bg dns-host ip netns exec $NS_HUB dnsmasq -k --no-resolv --no-hosts --listen-address=10.203.0.1 \
	--bind-interfaces --pid-file= --local=/corp.example/ --address=/public.example/198.51.100.7 \
	--txt-record=public.example,"public text"
mkdir -p "/etc/netns/$NS_CLI"
printf 'nameserver 10.203.0.1\nsearch example\noptions edns0\n' >"$RESOLV"
# Never let the client near the real host's file: the namespace must see ours.
if [ "$($C cat /etc/resolv.conf)" != "$(cat "$RESOLV")" ] ||
	! $C findmnt -n /etc/resolv.conf >/dev/null; then
	bad "the client namespace sees a private resolv.conf"
	pn_finish
fi
for i in $(seq 100); do
	$C $DNSQ 10.203.0.1 public.example A 2>/dev/null | grep -q 198.51.100.7 && break
	sleep 0.1
done

F=$PN_FIXTURE D=$W/pki
$F $D ca && $F $D relay relay1 &&
	$F $D connector conn1 corp --allow 10.203.9.2/32 tcp 7,8000 --allow 10.203.9.2/32 udp 7 \
		--allow '**.corp.example' tcp 7,8000,8001 --allow '**.corp.example' udp 7 \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 &&
	$F $D client alice --net corp conn1 \
		--grant corp app.corp.example tcp 8000 --grant corp '*.web.corp.example' tcp 8000 \
		--grant corp echo.corp.example udp 7 \
		--grant corp 10.203.9.0/24 tcp 7,8000 --grant corp 10.203.9.0/24 udp 7 \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 || bad "pki fixture"
pn_start_relay
pn_start_connector conn1

snapshot() { # the host state the client must leave as it found it
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

udp_echo() { # host port: one datagram out, its echo back
	$C $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
ok = 0
for i in range(3):
    s.sendto(b"ping %d" % i, (sys.argv[1], int(sys.argv[2])))
    try:
        d, _ = s.recvfrom(2048)
        ok += d == b"ping %d" % i
    except socket.timeout:
        pass
print("udp: %d/3" % ok)' "$1" "$2"
}

start_transparent() { # state-name: start, wait for this run's transparent_started
	local n i
	n=$(grep -c transparent_started "$W/client-$1.log" 2>/dev/null)
	rm -f "$D/$1/client.sock" # a killed run leaves it
	pn_start_client "$1" --transparent --log info ${PN_TRANSPARENT_BENCH:+--socks 127.0.0.1:1080}
	for i in $(seq 150); do
		[ "$(grep -c transparent_started "$W/client-$1.log")" -gt "${n:-0}" ] && return 0
		sleep 0.1
	done
	bad "$1: transparent mode started"
}

# --- without privileges: a clear refusal --------------------------------
out=$($C setpriv --inh-caps=-all --bounding-set=-net_admin "$PN_BIN" client run --state "$D/alice" \
	--offline --transparent 2>&1)
expect "no CAP_NET_ADMIN: clear error" "needs root or CAP_NET_ADMIN" "$out"

# --- the checks ---------------------------------------------------------
start_transparent alice
out=$($C curl -s -m 10 http://app.corp.example:8000/)
expect "curl by name, no proxy settings" "hello from the private resource" "$out"
out=$($C curl -6 -s -m 10 http://app.corp.example:8000/)
expect "curl over IPv6 (AAAA synthetic address)" "hello from the private resource" "$out"
for n in a b; do
	out=$($C curl -s -m 10 http://$n.web.corp.example:8000/)
	expect "wildcard resource: $n.web.corp.example" "hello from the private resource" "$out"
done
a1=$($C getent ahostsv4 a.web.corp.example | awk 'NR==1{print $1}')
a2=$($C getent ahostsv4 b.web.corp.example | awk 'NR==1{print $1}')
a3=$($C getent ahostsv4 a.web.corp.example | awk 'NR==1{print $1}')
[[ "$a1" == 100.9* && "$a1" != "$a2" && "$a1" == "$a3" ]] && ok "synthetic addresses: distinct, stable ($a1 $a2)" ||
	bad "synthetic addresses ($a1 $a2 $a3)"
out=$($C curl -s -m 10 http://10.203.9.2:8000/)
expect "CIDR resource by IP (TCP)" "hello from the private resource" "$out"
expect "CIDR resource by IP (UDP echo)" "udp: 3/3" "$(udp_echo 10.203.9.2 7)"
ea=$($C getent ahostsv4 echo.corp.example | awk 'NR==1{print $1}')
expect "UDP to a protected name (echo.corp.example -> $ea)" "udp: 3/3" "$(udp_echo "$ea" 7)"
# The responder itself: A/AAAA local with a short TTL.
out=$($C $DNSQ 127.0.0.153 app.corp.example A)
expect "A answered locally (synthetic, short TTL)" "A 100.9" "$out"
expect "A TTL" "ttl=5" "$out"
expect "AAAA answered locally" "AAAA fd7a:7073:746e::" "$($C $DNSQ 127.0.0.153 app.corp.example AAAA --edns 1232)"
# (other types come from the resource network's DNS through the tunnel:
# it_transparent_more.sh has records; this one has none)
want=$(ip netns exec $NS_CONN1 $DNSQ 10.203.9.2 app.corp.example MX | head -1)
got=$($C $DNSQ 127.0.0.153 app.corp.example MX | head -1)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "MX of a protected name: the resource DNS's answer ($got)" ||
	bad "MX of a protected name: got '$got', the resource DNS says '$want'"
expect "A over TCP" "A 100.9" "$($C $DNSQ 127.0.0.153 app.corp.example A --tcp)"
# 100 idle TCP clients held open: the responder keeps at most 64 and still
# answers a new one.
out=$($C $PY -c '
import socket, subprocess, sys
import time
held = [socket.create_connection(("127.0.0.153", 53), timeout=5) for i in range(100)]
print(subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout)
time.sleep(0.5)
ss = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :53 )"],
                    capture_output=True, text=True).stdout
print("server side open: %d" % len(ss.splitlines()))' $DNSQ 127.0.0.153 app.corp.example A --tcp)
expect "TCP answers with 100 idle TCP clients open" "A 100.9" "$out"
n=$(echo "$out" | sed -n 's/server side open: //p')
[ -n "$n" ] && [ "$n" -le 64 ] && ok "idle TCP clients capped ($n open at the responder)" ||
	bad "idle TCP clients capped ($n)"
# Public names: the upstream's reply, byte for byte (UDP, TCP, EDNS).
for args in "A" "A --edns 1232" "TXT --edns 4096" "A --tcp" "TXT --tcp --edns 1232"; do
	up=$($C $DNSQ 10.203.0.1 public.example $args --raw --id 777)
	via=$($C $DNSQ 127.0.0.153 public.example $args --raw --id 777)
	[ -n "$up" ] && [ "$up" = "$via" ] && ok "public name unchanged ($args)" ||
		bad "public name unchanged ($args): upstream $up, via client $via"
done
expect "public name via the system resolver" "198.51.100.7" "$($C getent ahostsv4 public.example)"
# Not granted: a protected-looking name the list lacks is the host
# resolver's business (NXDOMAIN at once); a granted name on a port the list
# does not grant is refused at once (reset), never a hang.
t0=$(t_now)
$C curl -s -m 10 http://secret.corp.example:8001/ >/dev/null 2>&1
rc=$?
el=$(t_since "$t0")
[ "$rc" -eq 6 ] && t_le "$el" 3 && ok "non-granted name: not resolved, at once (${el}s)" ||
	bad "non-granted name: curl rc=$rc in ${el}s"
t0=$(t_now)
$C curl -s -m 10 http://app.corp.example:8001/ >/dev/null 2>&1
rc=$?
el=$(t_since "$t0")
[ "$rc" -ne 0 ] && [ "$rc" -ne 28 ] && t_le "$el" 3 && ok "non-granted port: refused at once (rc=$rc, ${el}s)" ||
	bad "non-granted port: curl rc=$rc in ${el}s"
grep -q 'flow_refused.*app.corp.example' "$W/client-alice.log" && ok "refusal logged" || bad "refusal logged"
t0=$(t_now)
$C curl -s -m 10 http://100.96.200.200:8000/ >/dev/null 2>&1
rc=$?
el=$(t_since "$t0")
[ "$rc" -ne 0 ] && [ "$rc" -ne 28 ] && t_le "$el" 3 && ok "unassigned synthetic address: refused at once" ||
	bad "unassigned synthetic address: curl rc=$rc in ${el}s"
# ICMP echo to a protected address that is not granted for ICMP (alice
# has app.corp.example for TCP only): refused at once with
# "administratively prohibited", never a hang and never a fake reply from
# the host itself (it_transparent_more.sh has granted pings answered end
# to end).  A raw socket, then ping.
out=$($C $PY -c '
import socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(3)
p = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"postern"
p = p[:2] + struct.pack("!H", csum(p + b"\0")) + p[4:]
t0 = time.time()
s.sendto(p, (sys.argv[1], 0))
while True:
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        print("icmp: nothing"); break
    t, c = d[20], d[21]
    if t == 0:
        print("icmp: echo reply from %s" % a[0]); break
    if t == 3:
        print("icmp: unreachable code %d in %.2fs" % (c, time.time() - t0)); break' "$($C getent ahostsv4 app.corp.example | awk 'NR==1{print $1}')" 2>&1)
expect "ICMP echo not granted: administratively prohibited at once" "icmp: unreachable code 13" "$out"
if command -v ping >/dev/null; then
	t0=$(t_now)
	out=$($C ping -n -c 1 -W 3 app.corp.example 2>&1)
	rc=$?
	el=$(t_since "$t0")
	[ "$rc" -ne 0 ] && t_le "$el" 2 && ok "ping of a name not granted for ICMP: refused at once" ||
		bad "ping: rc=$rc in ${el}s: $out"
fi
js=$($C "$PN_BIN" client status --json --state "$D/alice")
expect "status: transparent section" '"dns_mode":"resolv.conf"' "$js"
out=$($C "$PN_BIN" client status --state "$D/alice")
expect "status lists the intercepted names" "a.web.corp.example" "$out"
expect "status lists the routed CIDR" "routed 10.203.9.0/24" "$out"
fid=$(sed -n 's/.*flow_start flow=\([0-9a-f]\{16\}\).*dest=app.corp.example:8000.*/\1/p' "$W/client-alice.log" | head -1)
[ -n "$fid" ] && grep -q "flow=$fid" "$W/connector-conn1.log" && ok "connector logs the same flow id, by name" ||
	bad "connector logs the same flow id ($fid)"
expect "resolv.conf points at the responder" "nameserver 127.0.0.153" "$(cat "$RESOLV")"

# --- optional figures (PN_TRANSPARENT_BENCH=1): SOCKS vs transparent ----
if [ -n "${PN_TRANSPARENT_BENCH:-}" ]; then
	head -c 200000000 /dev/zero >"$W/www/big"
	for i in 1 2 3; do
		s=$($C curl -s -o /dev/null -w '%{speed_download}' --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/big)
		t=$($C curl -s -o /dev/null -w '%{speed_download}' http://app.corp.example:8000/big)
		echo "bench: 200 MB download MB/s socks=$(echo "$s / 1000000" | bc) transparent=$(echo "$t / 1000000" | bc)"
	done
	$C $PY - <<'PY'
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
q = lambda i: struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + b"\x03app\x04corp\x07example\x00\x00\x01\x00\x01"
lat = []
for i in range(2000):
    t0 = time.perf_counter()
    s.sendto(q(i), ("127.0.0.153", 53))
    s.recvfrom(512)
    lat.append(time.perf_counter() - t0)
lat.sort()
print("bench: protected A query over UDP, 2000 queries: p50=%.0f us p99=%.0f us" % (lat[1000] * 1e6, lat[1980] * 1e6))
PY
	rm -f "$W/www/big"
fi

# --- clean stop: everything as before ----------------------------------
pn_stop $PID_client_alice 10
snapshot >"$W/after-stop.txt"
cmp -s "$W/before.txt" "$W/after-stop.txt" && ok "clean stop: resolv.conf, nftables, rules, routes identical" ||
	{ bad "clean stop: host state differs"; diff "$W/before.txt" "$W/after-stop.txt" | head -20; }
out=$($C getent ahostsv4 public.example)
expect "host DNS works after stop" "198.51.100.7" "$out"

# --- kill -9, start, clean stop ----------------------------------------
start_transparent alice
expect "second start works" "hello from the private resource" "$($C curl -s -m 10 http://app.corp.example:8000/)"
kill -9 $PID_client_alice
wait $PID_client_alice 2>/dev/null
expect "after kill -9 the file is still ours" "postern" "$(cat "$RESOLV")"
start_transparent alice
grep -q dns_recover "$W/client-alice.log" && ok "start after kill -9 recovers" || bad "start after kill -9 recovers"
expect "works after recovery" "hello from the private resource" "$($C curl -s -m 10 http://app.corp.example:8000/)"
expect "public name after recovery" "198.51.100.7" "$($C getent ahostsv4 public.example)"
pn_stop $PID_client_alice 10
snapshot >"$W/after-kill.txt"
cmp -s "$W/before.txt" "$W/after-kill.txt" && ok "kill -9 + start + stop: host state identical" ||
	{ bad "kill -9 + start + stop: host state differs"; diff "$W/before.txt" "$W/after-kill.txt" | head -20; }

pn_finish
