#!/bin/bash
# The relay cannot read what it forwards (security.md promise 4, case 9),
# in the NAT lab (tests/lib/natlab.sh):
#
#                  pnl-hub --- pnl-rly: relay1 10.214.1.2, relay2 10.214.1.3 (tcpdump)
#   client 10.214.2.2 --+-- 10.214.3.2 connector --- 10.217.1.2 resource
#                                                    (TCP echo :8000, tcpdump)
#
# The direct path is cut at the hub, so the tunnel is relayed: first over
# relayed UDP, then (UDP from the client to the relays dropped too, the
# client restarted) over relayed TLS.  In each, an application sends lines
# holding a random canary through the client's SOCKS5 to the resource's
# echo server and reads them back, for several seconds.  While the canary
# flows, every readable mapping of the relay process is searched for it
# (/proc/PID/mem, tests/controller/memscan.py).  Must hold:
#  - the canary appears 0 times in a full capture of every packet at the
#    relay's namespace, and 0 times in the relay's memory;
#  - the relay's memory holds no byte of the client's or the connector's
#    private key (the keys a tunnel's secrets come from);
#  - controls, proving the test can fail: the canary does appear in the
#    capture of the resource's network (the plaintext side) and in the
#    connector's memory, and the relay's own private key is found in the
#    relay's memory.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" relay-canary
source "$(dirname "$0")/../lib/natlab.sh"
MEMSCAN="python3 $PN_SRC/tests/controller/memscan.py"

natlab_up open open || { bad "lab up"; pn_finish; }
natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
natlab_cut
pn_bg echo ip netns exec $NL_RES python3 "$PN_SRC/bench/peers/probe.py" echo 8000 10.217.1.2
pn_wait_tcp $NL_RES 10.217.1.2 8000 30 || bad "echo server listening"
natlab_start || { bad "relays/connector/client up"; pn_finish; }

# canary.py CANARY SECONDS: lines holding CANARY through the SOCKS5 proxy
# to the echo server at 512 KiB/s, reading the echo; prints the lines
# sent and received back (0 back: exit 1).
cat >"$W/canary.py" <<'PY'
import socket, struct, sys, time
canary, secs = sys.argv[1].encode(), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", 1080), timeout=20)
s.sendall(b"\x05\x01\x00"); assert s.recv(2) == b"\x05\x00"
s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("10.217.1.2") + struct.pack(">H", 8000))
rep = s.recv(10); assert rep[1] == 0, rep
line = b"<" + canary + b">\n"
sent = back = 0
buf = b""
end = time.time() + secs
s.settimeout(0.01)
while time.time() < end:
    s.sendall(line * 64)
    sent += 64
    try:
        while True:
            buf += s.recv(65536)
    except socket.timeout:
        pass
    back += buf.count(canary)
    buf = buf[buf.rfind(b"\n") + 1:]
    time.sleep(64 * len(line) / (512 << 10))
s.settimeout(5)
s.shutdown(socket.SHUT_WR)
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
except socket.timeout:
    pass
back += buf.count(canary)
print("sent", sent, "back", back)
sys.exit(0 if back > 0 else 1)
PY

count() { # FILE NEEDLE: occurrences of NEEDLE in FILE
	grep -a -o -F -- "$2" "$1" | wc -l
}
hits() { # NEEDLE-OR-KEYFILE PID: hits in that process's memory
	$MEMSCAN "$1" "$2" | awk '{print $2}'
}
capture() { # NAME NS: tcpdump of every interface of NS into $W/NAME.pcap
	pn_bg "$1" ip netns exec "$2" tcpdump -i any -s 0 -U -n -Z root -w "$W/$1.pcap"
	pn_wait_log "$W/$1.log" "listening on" 30 || bad "tcpdump $1 started ($(tail -2 "$W/$1.log"))"
}

# phase TRANSPORT: one canary through the relay carrying the tunnel
phase() {
	local tr=$1 canary relay rpid c_relay c_res m
	canary=PN-CANARY-$tr-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	capture "cap-relay-$tr" $NL_RELAY
	capture "cap-res-$tr" $NL_RES
	$C python3 "$W/canary.py" "$canary" 7 >"$W/canary-$tr.out" 2>&1 &
	local cpid=$!
	sleep 3
	relay=$(natlab_status | python3 -c 'import json,sys; t=json.load(sys.stdin)["tunnels"][0]; print(t["relay"], t["relay_transport"], t["path"])')
	echo "    tunnel: $relay"
	[[ "$relay" == relay[12]" $tr relay-$tr" ]] && ok "$tr: the tunnel goes through ${relay%% *} over $tr" ||
		bad "$tr: the tunnel is not relayed over $tr ($relay)"
	rpid=$PID_relay1
	[ "${relay%% *}" = relay2 ] && rpid=$PID_relay2
	m=$(hits "text:$canary" "$rpid")
	[ "$m" = 0 ] && ok "$tr: canary in the relay's memory while it flows: 0 times" ||
		bad "$tr: the canary is in the relay's memory: ${m:-scan failed} time(s)"
	m=$(hits "text:$canary" "$PID_connector")
	[ "${m:-0}" -gt 0 ] && ok "$tr: control: canary in the connector's memory $m time(s)" ||
		bad "$tr: control: canary not found in the connector's memory (the scan cannot see it)"
	wait $cpid && ok "$tr: canary flow ($(cat "$W/canary-$tr.out"))" || bad "$tr: canary flow ($(cat "$W/canary-$tr.out"))"
	sleep 0.5
	pn_stop "$(eval echo "\$PID_cap_relay_$tr")"
	pn_stop "$(eval echo "\$PID_cap_res_$tr")"
	c_relay=$(count "$W/cap-relay-$tr.pcap" "$canary")
	c_res=$(count "$W/cap-res-$tr.pcap" "$canary")
	echo "    captures: relay $(stat -c %s "$W/cap-relay-$tr.pcap") bytes, resource $(stat -c %s "$W/cap-res-$tr.pcap") bytes"
	[ "$(stat -c %s "$W/cap-relay-$tr.pcap")" -gt 1000000 ] && ok "$tr: the relay capture holds the tunnel's packets" ||
		bad "$tr: the relay capture is nearly empty"
	[ "$c_relay" = 0 ] && ok "$tr: canary in the relay's capture: 0 times" ||
		bad "$tr: the canary is in the relay's capture $c_relay time(s)"
	[ "$c_res" -gt 0 ] && ok "$tr: control: canary in the resource network's capture $c_res time(s)" ||
		bad "$tr: control: canary not found in the resource network's capture"
}
keys() { # the endpoints' private keys in neither relay's memory; control: each relay's own
	local k r pid m
	for k in alice conn1; do
		m=$($MEMSCAN "$W/pki/$k/key.pem" "$PID_relay1" "$PID_relay2" | awk '{s += $2} END {print s}')
		[ "$m" = 0 ] && ok "no byte of $k's private key in either relay's memory" ||
			bad "$k's private key is in a relay's memory (${m:-scan failed} hit(s))"
	done
	for r in relay1 relay2; do
		eval "pid=\$PID_$r"
		m=$(hits "$W/pki/$r/key.pem" "$pid")
		[ "${m:-0}" -gt 0 ] && ok "control: $r's own key is found in its memory ($m hit(s))" ||
			bad "control: $r's own key not found in its memory (the scan cannot see keys)"
	done
}

for i in $(seq 30); do $C python3 "$W/canary.py" warmup 0.2 >/dev/null 2>&1 && break; sleep 1; done
natlab_wait_path relay-udp 30 || bad "tunnel not relayed over UDP ($(natlab_p2p))"
phase udp

# Relayed TLS: UDP from the client's side to the relays dropped at the hub;
# a new client (a new tunnel) falls back to TLS.
ip netns exec $NL_HUB nft add rule inet pnlab filt ip saddr 10.214.2.0/24 ip daddr 10.214.1.0/24 meta l4proto udp drop
natlab_client || bad "client restarted"
for i in $(seq 30); do
	ip netns exec $NL_CLI python3 "$W/canary.py" warmup 0.2 >/dev/null 2>&1 && break
	sleep 1
done
natlab_wait_path relay-tls 30 || bad "tunnel not relayed over TLS ($(natlab_p2p))"
phase tls
keys
pn_finish
