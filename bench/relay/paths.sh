#!/bin/bash
# Relayed-path cost profile: iperf3 through client -> relay -> connector
# over each relay transport, with the CPU cost per byte of every process
# (perf stat), the system calls per MB, and the relay's counters, so that
# runs on a loaded, shared machine compare costs rather than Gbit/s.
#
#   pnp-c 10.204.1.1 ---veth--- 10.204.1.2 pnp-r 10.204.2.2 ---veth--- 10.204.2.1 pnp-s
#   (client, iperf3 -c)         (relay: UDP :3478,              (connector, iperf3 -s)
#                                TLS + WebSocket :4433)
#
#   sudo bench/relay/paths.sh BUILD [SECS] [TRANSPORTS]     (default 5, "udp tls ws")
#   PERF_RECORD=DIR: also `perf record -g` the three processes (DIR/<t>.<role>.data)
#
# Run it in a private network namespace (unshare --net --mount) on a shared
# machine: the namespace names are fixed.
set -u
B=${1:?build dir}
SECS=${2:-5}
TRS=${3:-udp tls ws}
P=$B/src/app/postern
F=$B/tests/lib/pnfixture
W=$(mktemp -d /tmp/pnp.XXXXXX)
chmod 755 "$W"
C="ip netns exec pnp-c"
R="ip netns exec pnp-r"
S="ip netns exec pnp-s"
PIDS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in pnp-c pnp-r pnp-s; do
		for p in $(ip netns pids $n 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del $n 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT

for n in pnp-c pnp-r pnp-s; do
	ip netns del $n 2>/dev/null
	ip netns add $n && ip -n $n link set lo up
done
# side namespace, its interface and address, the router's interface and address
for l in "pnp-c pnpc0 10.204.1.1 pnpr0 10.204.1.2" "pnp-s pnps0 10.204.2.1 pnpr1 10.204.2.2"; do
	set -- $l
	ip link add "$2" netns "$1" type veth peer name "$4" netns pnp-r
	ip -n "$1" addr add "$3/24" dev "$2" && ip -n pnp-r addr add "$5/24" dev "$4"
	ip -n "$1" link set "$2" up && ip -n pnp-r link set "$4" up
	ip -n "$1" route add default via "$5"
done
$R sysctl -qw net.ipv4.ip_forward=1
# Relay only: the router forwards nothing between the sides, so NAT
# traversal cannot move the tunnel to a direct path (it would, here).
# RELAY_ONLY=0 leaves forwarding on (the "path" column: the share of the
# bytes the relay forwarded).
[ "${RELAY_ONLY:-1}" = 1 ] && $R nft -f - <<'NFT'
table ip pnp {
	chain block { type filter hook forward priority 0; policy drop; }
}
NFT

D=$W/pki
{ $F $D ca && $F $D relay relay1 &&
	$F $D connector conn1 bench --allow 127.0.0.1/32 tcp 5201 \
		--relay relay1 10.204.1.2:3478 10.204.1.2:4433 &&
	$F $D client bench --net bench conn1 --grant bench 127.0.0.1 tcp 5201 \
		--relay relay1 10.204.1.2:3478 10.204.1.2:4433; } >"$W/pki.log" 2>&1 ||
	{ echo "paths: pnfixture failed"; cat "$W/pki.log"; exit 1; }

$S iperf3 -s -p 5201 >/dev/null 2>&1 &
PIDS+=($!)
$R "$P" relay run --state "$D/relay1" --udp 10.204.1.2:3478 --tls 10.204.1.2:4433 \
	--ws-path /postern --stats-interval 0 --allow-peer 10.204.0.0/16 >"$W/relay.log" 2>&1 &
RELAY=$!
PIDS+=($RELAY)
for i in $(seq 500); do
	$C bash -c 'exec 3<>/dev/tcp/10.204.1.2/4433' 2>/dev/null && break
	sleep 0.02
done

# perf stat output -> "cpu_ms syscalls" (no hardware counters in this VM:
# CPU time, not cycles)
pstat() { awk -F, '$3 ~ /task-clock/ {c=$1} $3 ~ /raw_syscalls:sys_enter/ {s=$1} END {print c+0, s+0}' "$1"; }
stats_line() { kill -USR1 $RELAY; sleep 0.3; grep ' stats ' "$W/relay.log" | tail -1; }
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "paths: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, iperf3 ${SECS}s"
printf '%-5s %-10s %7s %6s | %-28s | %-28s | %-28s | %s\n' transport path Gbit/s "load1" \
	"client CPUns/B sys/MB" "relay CPUns/B sys/MB" "connector CPUns/B sys/MB" "relay counters (per MB)"
for t in $TRS; do
	rm -f "$D/bench/client.sock"
	$S "$P" connector run --state "$D/conn1" --log warn >"$W/conn.$t.log" 2>&1 &
	CONN=$!
	PIDS+=($CONN)
	$C "$P" client run --state "$D/bench" --offline --transport "$t" --log warn \
		--forward 127.0.0.1:9201=127.0.0.1:5201 >"$W/client.$t.log" 2>&1 &
	CLI=$!
	PIDS+=($CLI)
	ok=
	for i in $(seq 300); do
		$C timeout 2 iperf3 -c 127.0.0.1 -p 9201 -t 0.1 -J >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	[ -n "$ok" ] || { echo "$t: no tunnel"; tail -5 "$W/client.$t.log" "$W/conn.$t.log"; kill $CLI $CONN; continue; }
	s0=$(stats_line)
	perfs=()
	for role in client:$CLI relay:$RELAY connector:$CONN; do
		n=${role%%:*} pid=${role#*:}
		perf stat -x, -e task-clock,raw_syscalls:sys_enter -p "$pid" -o "$W/$t.$n.stat" \
			-- sleep $((SECS + 1)) 2>/dev/null &
		perfs+=($!)
		if [ -n "${PERF_RECORD:-}" ]; then
			mkdir -p "$PERF_RECORD"
			perf record -q -g -p "$pid" -o "$PERF_RECORD/$t.$n.data" -- sleep $((SECS + 1)) \
				>/dev/null 2>&1 &
			perfs+=($!)
		fi
	done
	sleep 0.3
	$C iperf3 -c 127.0.0.1 -p 9201 -t "$SECS" -J >"$W/iperf.$t.json" 2>&1
	for p in "${perfs[@]}"; do wait "$p"; done
	load=$(cut -d' ' -f1 /proc/loadavg)
	s1=$(stats_line)
	bytes=$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1])); print(int(j["end"]["sum_received"]["bytes"]))' "$W/iperf.$t.json" 2>/dev/null || echo 0)
	gbps=$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1])); print("%.2f" % (j["end"]["sum_received"]["bits_per_second"]/1e9))' "$W/iperf.$t.json" 2>/dev/null || echo fail)
	cols=()
	for n in client relay connector; do
		read -r cyc sys < <(pstat "$W/$t.$n.stat")
		cols+=("$(awk -v c="$cyc" -v s="$sys" -v b="$bytes" 'BEGIN { if (b > 0) printf "%8.3f %9.0f", c * 1e6 / b, s * 1e6 / b; else printf "%8s %9s", "-", "-" }')")
	done
	# the share of the bytes the relay forwarded (near 100%: relayed; near 0: direct)
	path=$(awk -v a="$(kv "$s0" fwd_bytes)" -v b="$(kv "$s1" fwd_bytes)" -v n="$bytes" \
		'BEGIN { if (n > 0) printf "relay%.0f%%", (b - a) * 100 / n; else print "-" }')
	ctr=
	for k in udp_rx_pkts tx_pkts gso_sends drop_queue tx_drops st_records st_writes st_reads; do
		a=$(kv "$s0" $k) b=$(kv "$s1" $k)
		[ -n "$a" ] && [ -n "$b" ] || continue
		ctr+="$k=$(awk -v a="$a" -v b="$b" -v n="$bytes" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }') "
	done
	printf '%-5s %-10s %7s %6s | %-28s | %-28s | %-28s | %s\n' "$t" "$path" "$gbps" "$load" "${cols[0]}" "${cols[1]}" \
		"${cols[2]}" "$ctr"
	kill $CLI $CONN
	wait $CLI $CONN 2>/dev/null
done
