#!/bin/bash
# Denied peer addresses: a STUN request or BIND whose (spoofed) source is in
# a denied range gets nothing from the relay, counted as drop_denied.
#
#   pnr-cl: client 10.201.1.2 (allowed)     pnr-rl: relay            pnr-co: "private network"
#           attacker 10.201.1.3 (denied)     10.201.1.1 | 10.201.2.1    victim 10.201.2.2:9999
#   ------------------------------veth------------------------------veth----------------
#
# The attacker sends STUN requests and BINDs from a raw socket with the
# source spoofed to the victim in the relay's private network.  Run 1:
# --allow-peer 10.201.1.2/32 only: the victim receives nothing, the legit
# client is answered, the attacker's own address (private) is not, nor is
# loopback inside the relay's namespace; drop_denied counts them.  Run 2,
# the control: --allow-peer 10.201.0.0/16 (as before the filter): the same
# spoofed request reaches the victim, so run 1's silence is the filter's.
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" relay-denied
source "$(dirname "$0")/../lib/relaynet.sh"
topo_up
# the relay must take the spoofed packet in (no reverse-path filter)
ip netns exec $NRL sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.pnr-rl0.rp_filter=0

cat >"$T/udp.py" <<'PY'
import os, socket, struct, sys, time
# udp.py listen ADDR PORT SECONDS READYFILE: 1 if a datagram came within SECONDS, else 0
# udp.py stun SRC DST SECONDS: send a padded STUN Binding request from SRC (a
#   real socket), print how many bytes came back within SECONDS
# udp.py spoof SRC SPORT DST: send a STUN request and a 34-byte BIND with a
#   forged source SRC:SPORT through a raw socket
def stun_req():
    txid = os.urandom(12)
    pad = struct.pack("!HH", 0x0026, 44) + b"\0" * 44   # PADDING: 64 bytes in all
    return struct.pack("!HHI", 0x0001, len(pad), 0x2112A442) + txid + pad
cmd = sys.argv[1]
if cmd == "listen":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3]))); s.settimeout(0.2)
    n = 0; end = time.time() + float(sys.argv[4])
    open(sys.argv[5], "w").write("ready\n")
    while time.time() < end:
        try: s.recv(2048); n += 1; break
        except socket.timeout: pass
    print(n)
elif cmd == "stun":
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 0)); s.settimeout(float(sys.argv[4]))
    s.sendto(stun_req(), (sys.argv[3], 3478))
    try: print(len(s.recv(2048)))
    except socket.timeout: print(0)
elif cmd == "spoof":
    src, sport, dst = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    bind = b"\xd1" + os.urandom(33)
    for payload in (stun_req(), bind):
        udp = struct.pack("!HHHH", sport, 3478, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        r.sendto(ip + udp, (dst, 0))
PY

run_relay() { # allow ranges...
	local a args=()
	for a in "$@"; do args+=(--allow-peer "$a"); done
	pn_bg relay ip netns exec $NRL "$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" \
		--key "$T/relay.key" --udp 0.0.0.0:3478 --tls 0.0.0.0:4443 --stats-interval 0 "${args[@]}"
	RELAY_PID=$PID_relay
	pn_wait_log "$T/relay.log" " ready " 30 || { bad "relay started"; cat "$T/relay.log"; pn_finish; }
}

# stat NAME: the value in a fresh stats line (SIGUSR1; waits for the new line)
stat() {
	local n
	n=$(pn_count "$T/relay.log" " stats ")
	kill -USR1 $RELAY_PID
	pn_wait_count "$T/relay.log" " stats " $((n + 1)) 30 >/dev/null || { echo "no-stats-line"; return; }
	grep " stats " "$T/relay.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# victim_gets: how many datagrams the victim receives while the attacker
# sends one spoofed STUN request and one BIND
victim_gets() {
	rm -f "$T/victim.ready"
	ip netns exec $NCO python3 "$T/udp.py" listen 10.201.2.2 9999 8 "$T/victim.ready" >"$T/victim.out" &
	local vp=$!
	pn_wait_file "$T/victim.ready" 30 || bad "victim listening"
	ip netns exec $NCL python3 "$T/udp.py" spoof 10.201.2.2 9999 10.201.1.1
	wait $vp
	cat "$T/victim.out"
}

# ---- run 1: only the client's address is allowed
run_relay 10.201.1.2/32
pn_wait_log "$T/relay.log" "peer_filter allow=10.201.1.2/32" 5 && ok "relay logs its peer filter" ||
	bad "no peer_filter line: $(grep peer_filter "$T/relay.log")"
got=$(victim_gets)
[ "$got" = 0 ] && ok "spoofed STUN + BIND: nothing sent to the private victim" ||
	bad "the victim received $got datagrams from the relay"
got=$(ip netns exec $NCL python3 "$T/udp.py" stun 10.201.1.2 10.201.1.1 20)
[ "$got" -gt 0 ] 2>/dev/null && ok "allowed client answered ($got bytes)" || bad "allowed client: $got"
got=$(ip netns exec $NCL python3 "$T/udp.py" stun 10.201.1.3 10.201.1.1 3)
[ "$got" = 0 ] && ok "private source not allowed: no answer" || bad "denied source answered: $got"
got=$(ip netns exec $NRL python3 "$T/udp.py" stun 127.0.0.1 127.0.0.1 3)
[ "$got" = 0 ] && ok "loopback source: no answer" || bad "loopback answered: $got"
got=$(ip netns exec $NRL python3 "$T/udp.py" stun 10.201.2.1 10.201.2.1 3)
[ "$got" = 0 ] && ok "the relay's own address: no answer" || bad "own address answered: $got"
# 2 spoofed + 1 private + 1 loopback + 1 own
denied=$(stat drop_denied)
[ "$denied" = 5 ] && ok "drop_denied=5 in the stats line" || { bad "drop_denied=$denied, want 5"; grep " stats " "$T/relay.log"; }
n=$(stat stun)
[ "$n" = 1 ] && ok "stun=1 (only the allowed client)" || bad "stun=$n"
pn_stop $RELAY_PID 5 || bad "relay stopped cleanly"
mv "$T/relay.log" "$T/relay-run1.log"

# ---- run 2 (control): the whole lab allowed, as before the filter
run_relay 10.201.0.0/16
got=$(victim_gets)
[ "$got" -ge 1 ] 2>/dev/null && ok "control: with the range allowed the spoof reaches the victim ($got)" ||
	bad "control: the spoofed request did not reach the victim ($got): the test proves nothing"
[ "$(stat_of drop_denied)" = 0 ] && ok "control: drop_denied=0" || bad "control: drop_denied=$(stat drop_denied)"

pn_expect_exit 2 "allow-peer.*bad range" "a malformed range is refused" -- \
	"$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" --udp 127.0.0.1:0 \
	--allow-peer 10.1.2.3/8
relay_finish
