#!/bin/bash
# Relay benchmark: Postern relay vs coturn, same generator, same machine,
# same run.  Usage: sudo bench/relay/run.sh BUILD_DIR [SECONDS] [IDLE_SESSIONS]
#
#   pnr-bg: generator (sender A, receiver B)            pnr-br: relay under test
#   10.201.9.2 ------------------- veth ------------------- 10.201.9.1
#                                                        postern relay --workers 1 :3478/udp :4443/tcp
#                                                        postern relay --workers 2 :3480/udp :4445/tcp
#                                                        coturn        :3479/udp (relay ports 49152+)
#
# Forwarding: A -> relay -> B at full rate for SECONDS (default 5) per row;
# payload 1200 and 120 bytes; plain sendmmsg and UDP GSO senders; the
# sender sends from FLOWS (default 8) sockets, each its own source port
# with its own session (coturn: allocation), so a relay with several
# workers gets sources on each.  The same rows for the Postern relay with
# 1 and 2 workers and for coturn (its default threads), each with packets/s,
# CPU-seconds per million packets and the ratio to coturn's packets/s.
# Memory: relay RSS delta / sessions with IDLE_SESSIONS (default 10000)
# idle sessions (Postern: sessions bound on both sides; coturn: allocations
# with a channel bound).
set -u
B=${1:?build dir}
SECS=${2:-5}
IDLE=${3:-10000}
FLOWS=${FLOWS:-8}
BIN=$B/src/app/postern
GEN=$B/bench/relay/pn-relay-bench
T=$(mktemp -d /tmp/pnr-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del pnr-bg 2>/dev/null; ip netns del pnr-br 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

ip netns del pnr-bg 2>/dev/null; ip netns del pnr-br 2>/dev/null
ip netns add pnr-bg; ip netns add pnr-br
ip link add pnr-bg0 netns pnr-bg type veth peer name pnr-br0 netns pnr-br
ip -n pnr-bg addr add 10.201.9.2/24 dev pnr-bg0
ip -n pnr-br addr add 10.201.9.1/24 dev pnr-br0
for n in pnr-bg pnr-br; do ip -n $n link set lo up; done
ip -n pnr-bg link set pnr-bg0 up; ip -n pnr-br link set pnr-br0 up
$B/tests/lib/pnfixture "$T" relay-net >/dev/null || exit 1

ip netns exec pnr-br "$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" \
	--udp 10.201.9.1:3478 --tls 10.201.9.1:4443 --max-sessions-per-conn $((IDLE + 10)) \
	--max-open-rate 1000000 --ws-path /postern --stats-interval 0 --allow-peer 10.201.0.0/16 \
	--workers 1 >"$T/relay.log" 2>&1 &
RELAY=$!; PIDS+=($RELAY)
ip netns exec pnr-br "$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" \
	--udp 10.201.9.1:3480 --tls 10.201.9.1:4445 --max-sessions-per-conn 1000 \
	--max-open-rate 1000000 --stats-interval 0 --allow-peer 10.201.0.0/16 \
	--workers 2 >"$T/relay2.log" 2>&1 &
RELAY2=$!; PIDS+=($RELAY2)
ip netns exec pnr-br turnserver -n --listening-ip 10.201.9.1 --relay-ip 10.201.9.1 --listening-port 3479 \
	--user u:p --realm lab --lt-cred-mech --no-tls --no-dtls --no-cli --no-multicast-peers \
	--pidfile "$T/turn.pid" --log-file "$T/turn.log" --simple-log >"$T/turn.out" 2>&1 &
TURN=$!; PIDS+=($TURN)
sleep 1.5
for i in $(seq 300); do
	grep -q " ready " "$T/relay.log" && grep -q " ready " "$T/relay2.log" && break
	sleep 0.1
done
kill -0 $RELAY && kill -0 $RELAY2 && kill -0 $TURN ||
	{ echo "a relay or coturn did not start"; cat "$T"/relay.log "$T"/relay2.log "$T"/turn.out; exit 1; }

rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
gen() { ip netns exec pnr-bg "$GEN" "$@" --src 10.201.9.2 --seconds "$SECS" 2>>"$T/gen.err" | tee -a "$T/results" | sed -n 's/^result //p'; }
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "relay forwarding, $SECS s per row, $FLOWS flows (source ports, one session/allocation each),"
echo "$(nproc)-core machine shared by the generator (one sender and one receiver thread) and the relays"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pps = packets/s delivered to the receiver; cpu/M = the relay process's CPU-seconds (all threads)"
echo "per million packets; x turn = pps / coturn's pps in the same row"
printf "%-6s %-5s | %9s %6s %6s | %9s %6s %6s | %9s %6s\n" sender size \
	"pn w1 pps" cpu/M "x turn" "pn w2 pps" cpu/M "x turn" "turn pps" cpu/M
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
for mode in plain gso; do
	for size in 1200 120; do
		flag=; [ $mode = gso ] && flag=--gso
		p1=$(gen postern --pki "$T" --tls 10.201.9.1:4443 --udp 10.201.9.1:3478 --size $size $flag \
			--flows $FLOWS --cpu-pid $RELAY)
		p2=$(gen postern --pki "$T" --tls 10.201.9.1:4445 --udp 10.201.9.1:3480 --size $size $flag \
			--flows $FLOWS --cpu-pid $RELAY2)
		c=$(gen coturn --server 10.201.9.1:3479 --user u --pass p --realm lab --size $size $flag \
			--flows $FLOWS --sessions $FLOWS --cpu-pid $TURN)
		pp1=$(val "$p1" pps); pp2=$(val "$p2" pps); cp=$(val "$c" pps)
		printf "%-6s %-5s | %9s %6s %6s | %9s %6s %6s | %9s %6s\n" $mode $size \
			"${pp1:-fail}" "$(val "$p1" cpus_per_mpkt)" "$(ratio "$pp1" "$cp")" \
			"${pp2:-fail}" "$(val "$p2" cpus_per_mpkt)" "$(ratio "$pp2" "$cp")" \
			"${cp:-fail}" "$(val "$c" cpus_per_mpkt)"
	done
done
echo "load average at the end of the forwarding rows: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "relay client library end to end (client lib -> relay -> connector lib, one process), 1200 B"
printf "%-10s %12s %9s\n" transport pps Gbit/s
for tr in udp tls ws; do
	r=$(ip netns exec pnr-bg "$GEN" rclient --pki "$T" --tls 10.201.9.1:4443 --udp 10.201.9.1:3478 \
		--ws ws://10.201.9.1:4443/postern --only $tr --size 1200 --seconds "$SECS" 2>>"$T/gen.err" |
		tee -a "$T/results" | sed -n 's/^result //p')
	printf "%-10s %12s %9s\n" $tr "$(val "$r" pps)" "$(val "$r" gbps)"
done

idle_rss() { # name, generator args...: prints KiB per session
	local name=$1 pid=$2; shift 2
	local before after
	mkfifo "$T/hold.$name"
	before=$(rss $pid)
	ip netns exec pnr-bg "$GEN" "$@" --src 10.201.9.2 --sessions $IDLE --idle <"$T/hold.$name" >"$T/idle.$name" 2>>"$T/gen.err" &
	local g=$!
	exec 9>"$T/hold.$name"
	for i in $(seq 600); do grep -q "^ready" "$T/idle.$name" && break; kill -0 $g 2>/dev/null || break; sleep 0.2; done
	sleep 0.5
	after=$(rss $pid)
	exec 9>&-
	wait $g
	grep -q "^ready" "$T/idle.$name" || { echo "$name: setup failed: $(tail -2 $T/gen.err)"; return; }
	local n=$(sed -n 's/^ready //p' "$T/idle.$name")
	awk -v a=$after -v b=$before -v n=$n -v nm=$name \
		'BEGIN { printf "%-8s rss before %7d KiB, with %d idle sessions %7d KiB: %.2f KiB (%.0f bytes) per session\n", nm, b, n, a, (a - b) / n, (a - b) * 1024 / n }'
}
echo
echo "memory per idle session ($IDLE sessions)"
idle_rss postern $RELAY postern --pki "$T" --tls 10.201.9.1:4443 --udp 10.201.9.1:3478
idle_rss coturn $TURN coturn --server 10.201.9.1:3479 --user u --pass p --realm lab
kill -USR1 $RELAY; kill -USR1 $RELAY2; sleep 0.5
echo; echo "postern relay (1 worker) counters: $(grep ' stats ' $T/relay.log | tail -1 | cut -d' ' -f5-)"
echo "postern relay (2 workers) counters: $(grep ' stats ' $T/relay2.log | tail -1 | cut -d' ' -f5-)"
echo "raw generator lines (sent = offered, recv = delivered):"; sed "s/^/  /" "$T/results"
[ -s "$T/gen.err" ] && { echo "generator messages:"; sort "$T/gen.err" | uniq -c | head; }
exit 0
