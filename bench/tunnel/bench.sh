#!/bin/bash
# Tunnel throughput between two namespaces (run as root, once; not a test).
#
#   pnt-b1 (client)              pnt-b2 (connector / sink)        pnt-b3 (resource)
#   pn-tclient                   tsink UDP 4433 | connector 4434   python3 discard :8080
#   10.202.9.1 ----veth---- 10.202.9.2 | 10.202.10.1 ----veth---- 10.202.10.2
#
#   raw       iperf3 TCP over the veth (the wire's ceiling here)
#   mem       memory -> QUIC tunnel -> memory (client flow into tsink, which
#             discards): comparable with the quic-spike's GSO+GRO figure
#   tcp       memory -> tunnel -> connector -> TCP -> discard server: what a
#             client flow gets end to end (one local TCP hop)
#   spike     with QUICSPIKE=/path/to/built/quicspike (../shared/design/
#             quic-spike): its GSO mode on the same veth in the same run,
#             so load on a shared machine affects both alike
# Prints Gbit/s per run and the median of 3, then the spike's published
# figures (idle machine) for reference.
set -u
B=${1:?build dir}
BYTES=${2:-1073741824}
BIN=${PN_BIN:-$B/src/app/postern}
[ "$(basename "$BIN")" = postern ] || true
TC=$B/tests/tunnel/pn-tclient
T=$(mktemp -d /tmp/pnt-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for n in pnt-b1 pnt-b2 pnt-b3; do ip netns del $n 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
for n in pnt-b1 pnt-b2 pnt-b3; do ip netns del $n 2>/dev/null; ip netns add $n; ip -n $n link set lo up; done
ip link add pnt-b10 netns pnt-b1 type veth peer name pnt-b20 netns pnt-b2
ip link add pnt-b30 netns pnt-b3 type veth peer name pnt-b21 netns pnt-b2
ip -n pnt-b1 addr add 10.202.9.1/24 dev pnt-b10
ip -n pnt-b2 addr add 10.202.9.2/24 dev pnt-b20
ip -n pnt-b2 addr add 10.202.10.1/24 dev pnt-b21
ip -n pnt-b3 addr add 10.202.10.2/24 dev pnt-b30
for l in "pnt-b1 pnt-b10" "pnt-b2 pnt-b20" "pnt-b2 pnt-b21" "pnt-b3 pnt-b30"; do set -- $l; ip -n $1 link set $2 up; done

$B/tests/lib/pnfixture "$T" tunnel-net 10.202.10.2 >/dev/null || exit 1
CONN_ID=$(cat "$T/conn/id")
cat >"$T/discard.py" <<'PY'
import socket, threading
def sink(c):
    buf = bytearray(4 << 20)
    with c:
        while c.recv_into(buf):
            pass
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.202.10.2", 8080)); s.listen(16)
while True:
    c, _ = s.accept(); threading.Thread(target=sink, args=(c,), daemon=True).start()
PY
ip netns exec pnt-b3 /usr/bin/python3 "$T/discard.py" &
PIDS+=($!)
ip netns exec pnt-b2 $B/bench/tunnel/tsink --ca "$T/ca.crt" --cert "$T/conn/cert.pem" \
	--key "$T/conn/key.pem" --listen 10.202.9.2:4433 >"$T/tsink.log" 2>&1 &
PIDS+=($!)
ip netns exec pnt-b2 "$BIN" connector run --ca "$T/ca.crt" --cert "$T/conn/cert.pem" \
	--key "$T/conn/key.pem" --acl "$T/conn/acl.bin" --listen-udp 10.202.9.2:4434 \
	--log warn >"$T/conn.log" 2>&1 &
PIDS+=($!)
sleep 1

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_tc() { # port dest dport
	ip netns exec pnt-b1 "$TC" --ca "$T/ca.crt" --cert "$T/cli/cert.pem" --key "$T/cli/key.pem" \
		--acl "$T/cli/acl.bin" --connector "$CONN_ID" --udp 10.202.9.2:$1 --timeout 300 \
		sink $2 $3 $BYTES | sed -n 's/.* gbps=\([0-9.]*\).*/\1/p'
}
echo "bytes per run: $BYTES"
if command -v iperf3 >/dev/null; then
	ip netns exec pnt-b2 iperf3 -s -1 -B 10.202.9.2 >/dev/null 2>&1 &
	sleep 0.5
	raw=$(ip netns exec pnt-b1 iperf3 -c 10.202.9.2 -t 5 -J | python3 -c \
		'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
	echo "raw veth TCP (iperf3, 5 s): $raw Gbit/s"
fi
MODES="mem tcp"
[ -n "${QUICSPIKE:-}" ] && [ -x "$QUICSPIKE" ] && MODES="spike mem tcp"
run_spike() {
	ip netns exec pnt-b2 "$QUICSPIKE" server -a 10.202.9.2 -p 4435 -c "$T/conn/cert.pem" \
		-k "$T/conn/key.pem" -i gso >/dev/null 2>&1 &
	sleep 0.5
	ip netns exec pnt-b1 "$QUICSPIKE" client -a 10.202.9.2 -p 4435 -n $BYTES -i gso 2>/dev/null |
		sed -n 's/.* gbps=\([0-9.]*\).*/\1/p'
	wait $!
}
for mode in $MODES; do
	res=()
	for i in 1 2 3; do
		case $mode in
		spike) g=$(run_spike) ;;
		mem) g=$(run_tc 4433 10.202.10.2 7) ;;
		tcp) g=$(run_tc 4434 10.202.10.2 8080) ;;
		esac
		res+=("${g:-0}")
	done
	printf '%s: runs %s Gbit/s, median %s Gbit/s\n' $mode "${res[*]}" "$(printf '%s\n' "${res[@]}" | median)"
done
echo "quic-spike README (idle machine): raw veth TCP 16.9, stunnel 7.39, QUIC GSO+GRO 11.94 Gbit/s"
uptime
