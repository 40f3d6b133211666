#!/bin/bash
# Path MTU on vs off over the direct path (run as root, once; not a test).
#
#   pnp-b1 (client: pn-tclient) 10.202.19.1 ----veth 1500---- 10.202.19.2 pnp-b2 (tsink)
#
# memory -> QUIC tunnel -> memory (bench/tunnel/bench.sh's `mem` mode), one
# flow of BYTES, alternating:
#   on    Path MTU discovery (the default): 1,452-byte packets on this path
#   off   --pmtu-max 1200 on both ends: QUIC's 1,200-byte minimum (ngtcp2's
#         default without PMTUD)
# Three runs each; prints Gbit/s (median) and busy CPU-seconds per GB of
# the sender (pn-tclient, user+sys from time(1)) and of the receiver
# (tsink, from /proc), and the load average (the machine is shared: CPU
# per byte is the figure that survives load, throughput does not).
#
#   sudo bench/tunnel/pmtu.sh out/build [BYTES]
set -u
B=${1:?build dir}
BYTES=${2:-536870912}
TC=$B/tests/tunnel/pn-tclient
TS=$B/bench/tunnel/tsink
T=$(mktemp -d /tmp/pnp-bench.XXXXXX)
PIDS=()
N1=pnp-b1-$$ N2=pnp-b2-$$
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	ip netns del $N1 2>/dev/null
	ip netns del $N2 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
for n in $N1 $N2; do ip netns add $n && ip -n $n link set lo up || exit 1; done
ip link add pnp-a netns $N1 type veth peer name pnp-b netns $N2
ip -n $N1 addr add 10.202.19.1/24 dev pnp-a
ip -n $N2 addr add 10.202.19.2/24 dev pnp-b
ip -n $N1 link set pnp-a up
ip -n $N2 link set pnp-b up

$B/tests/lib/pnfixture "$T" tunnel-net 10.202.10.2 >/dev/null || exit 1
CONN_ID=$(cat "$T/conn/id")
start_sink() { # port extra-args...
	local port=$1
	shift
	ip netns exec $N2 "$TS" --ca "$T/ca.crt" --cert "$T/conn/cert.pem" --key "$T/conn/key.pem" \
		--listen 10.202.19.2:$port "$@" >"$T/tsink-$port.log" 2>&1 &
	PIDS+=($!)
	echo $!
}
SINK_ON=$(start_sink 4433)
SINK_OFF=$(start_sink 4434 --pmtu-max 1200)
sleep 1
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

run() { # mode: prints "gbps client_cpu_s sink_cpu_s"
	local port=4433 pid=$SINK_ON extra=() t0 t1 out
	[ "$1" = off ] && port=4434 pid=$SINK_OFF extra=(--pmtu-max 1200)
	t0=$(ticks "$pid")
	out=$(ip netns exec $N1 /usr/bin/time -f "cpu %U %S" "$TC" --ca "$T/ca.crt" \
		--cert "$T/cli/cert.pem" --key "$T/cli/key.pem" --acl "$T/cli/acl.bin" \
		--connector "$CONN_ID" --udp 10.202.19.2:$port --timeout 300 "${extra[@]}" \
		sink 10.202.10.2 7 "$BYTES" 2>&1)
	t1=$(ticks "$pid")
	awk -v hz="$HZ" -v d=$((t1 - t0)) '
		/gbps=/ { for (i = 1; i <= NF; i++) if ($i ~ /^gbps=/) { sub("gbps=", "", $i); g = $i } }
		/^cpu / { c = $2 + $3 }
		END { printf "%s %.2f %.2f\n", g ? g : 0, c, d / hz }' <<<"$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "bytes per run: $BYTES; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A G CC CS
for i in 1 2 3; do
	for mode in on off; do
		read -r g cc cs <<<"$(run $mode)"
		G[$mode]+="$g "
		CC[$mode]+="$(awk -v c="$cc" -v b="$BYTES" 'BEGIN {printf "%.2f", c / (b / 1e9)}') "
		CS[$mode]+="$(awk -v c="$cs" -v b="$BYTES" 'BEGIN {printf "%.2f", c / (b / 1e9)}') "
	done
done
for mode in on off; do
	printf 'pmtu %-3s: Gbit/s %s(median %s); CPU-s/GB sender %s(median %s), receiver %s(median %s)\n' \
		$mode "${G[$mode]}" "$(tr ' ' '\n' <<<"${G[$mode]}" | grep . | median)" \
		"${CC[$mode]}" "$(tr ' ' '\n' <<<"${CC[$mode]}" | grep . | median)" \
		"${CS[$mode]}" "$(tr ' ' '\n' <<<"${CS[$mode]}" | grep . | median)"
done
grep -h "pmtu " "$T"/tsink-*.log 2>/dev/null | head -2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
