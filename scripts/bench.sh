#!/bin/bash
# Postern beside its peers, in one run, on one topology (needs root):
#
#   pnb-c 10.204.1.1/24 ---veth--- 10.204.1.2/24 pnb-r 10.204.2.2/24 ---veth--- 10.204.2.1/24 pnb-s
#   (client side)                  (router; Postern relay)                    (server side: iperf3 :5201,
#                                                                              TCP echo :7777; Postern connector)
#
# Every path carries the same traffic from pnb-c to services in pnb-s:
#   raw        routed underlay, no tunnel (the ceiling)
#   wireguard  wireguard-go, userspace WireGuard over UDP
#   nebula     nebula, userspace Noise over UDP
#   stunnel    stunnel4 TLS client proxy -> TLS server proxy (per-connection TLS over TCP)
#   postern-*  client port-forward in pnb-c -> relay in pnb-r (UDP, or TCP/TLS) -> connector in pnb-s
#   postern_p2p  client and connector each behind a NAT (endpoint-independent
#              mapping) on pnb-r: the direct path found by NAT traversal, not
#              configured (bench/peers/postern.sh draws it); also
#              time_to_direct_ms, the median over P2P_TTD_RUNS fresh tunnels
#   postern_transparent  the relay-UDP path with the client in transparent mode (no
#              forward: connections to the server's address are intercepted)
# Metrics per path:
#   tput_gbps       iperf3 single TCP stream, $SECS seconds, median of $TPUT_RUNS runs
#                   (client -> server: an upload)
#   tput_down_gbps  the same with iperf3 -R: a download (server -> client; DOWN=0 skips it)
#                   (of TPUT_RUNS x ROUNDS with ROUNDS > 1: the Postern rows are then
#                   measured ROUNDS times, alternating, and pooled)
#   client_cpu_ns_per_byte  (Postern rows) CPU time of the client process (user +
#                   system) per byte received by iperf3, over all its tput runs
#                   (client_cpu_ns_per_byte_down: over the download runs)
#   rr_p50_us       64-byte request/response round trip on one open connection (p50; p99 too)
#   newflow_p50_us  connect + one 64-byte round trip + close, over an already-warm tunnel
#                   (after 3 warm-ups; the host name resolved once, before them)
#   coldstart_ms    from launching the tunnel's processes to the first echoed byte
#   dns_a_p99_us    (postern_transparent) p99 time to answer a protected name's A query
# Every latency figure comes from one C probe, the same for every row
# (bench/tools/pnb_probe.c, built by this script in $BUILD with the Postern
# binaries; also the TCP and UDP echo servers behind every path):
# bench/peers/probe.py's own cost hid the differences between rows (on
# loopback a new flow took it 360-390 us, 300 of them its echo server's
# thread per connection, against 61-70 us for pnb_probe).
# Output: a table, then `metric: value` lines, then ratios of Postern to each peer,
# then newflow_goal.<row> (with the raw row): newflow_p50 - (raw newflow_p50 +
# the row's rr_p50), goal <= 200 us (issue 19).
#
#   scripts/bench.sh   (env: SECS=5 TPUT_RUNS=3 RR=2000 NEWFLOW=200 PEERS="raw wg nebula stunnel"
#                       POSTERN_ROWS="relay_udp relay_tls relay_ws direct transparent p2p" BUILD=out/bench KEEP_W=1
#                       P2P_TTD_RUNS=5 ROUNDS=1 FB_RUNS=50)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-5}
TPUT_RUNS=${TPUT_RUNS:-3}
RR=${RR:-2000}
NEWFLOW=${NEWFLOW:-200}
PEERS=${PEERS-"raw wg nebula stunnel"}
POSTERN_ROWS=${POSTERN_ROWS-"relay_udp relay_tls relay_ws direct transparent p2p"}
BUILD=${BUILD:-$ROOT/out/bench}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 2; }

"$ROOT/scripts/deps.sh" --bench >&2 || exit 1

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg) # the machine is shared: every figure with its load
W=$(mktemp -d /tmp/pnb.XXXXXX)
chmod 755 "$W"
C="ip netns exec pnb-c"
R="ip netns exec pnb-r"
S="ip netns exec pnb-s"
# The latency probe (echo servers, rr / newflow / firstbyte clients) is C,
# built here: probe.py's interpreter cost was of the order of the tunnels'
# it measured.  probe.py keeps dns-nx.
PROBE="$BUILD/bench/tools/pnb_probe"
PYPROBE="python3 $ROOT/bench/peers/probe.py"
PIDS=()     # processes of the path under test
SVC_PIDS=() # services for the whole run

bg() { "$@" >>"$W/bg.log" 2>&1 & PIDS+=($!); }
stop_pids() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}
cleanup() {
	stop_pids
	declare -F postern_transparent_cleanup >/dev/null && postern_transparent_cleanup
	local p n
	for p in "${SVC_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SVC_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in pnb-c pnb-r pnb-s pnb-pc pnb-pcn pnb-ps pnb-psn; do
		for p in $(ip netns pids $n 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del $n 2>/dev/null
	done
	[ -n "${KEEP_W:-}" ] && echo "bench: work dir kept: $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT

# Builds TARGETS in $BUILD (configured once per run): the probe for every
# run, Postern's binaries for its rows (postern_build).
bench_cmake_build() { # target...
	if [ -z "${BENCH_CONFIGURED:-}" ]; then
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$W/build.log" 2>&1 ||
			{ tail -20 "$W/build.log" >&2; return 1; }
		BENCH_CONFIGURED=1
	fi
	cmake --build "$BUILD" -j"$(nproc)" --target "$@" >>"$W/build.log" 2>&1 ||
		{ tail -20 "$W/build.log" >&2; return 1; }
}
bench_cmake_build pnb_probe || { echo "bench: probe build failed" >&2; exit 1; }

topology() {
	local n
	for n in pnb-c pnb-r pnb-s; do
		ip netns del $n 2>/dev/null
		ip netns add $n
		ip -n $n link set lo up
	done
	ip link add pnbc0 netns pnb-c type veth peer name pnbr0 netns pnb-r
	ip link add pnbs0 netns pnb-s type veth peer name pnbr1 netns pnb-r
	ip -n pnb-c addr add 10.204.1.1/24 dev pnbc0
	ip -n pnb-r addr add 10.204.1.2/24 dev pnbr0
	ip -n pnb-r addr add 10.204.2.2/24 dev pnbr1
	ip -n pnb-s addr add 10.204.2.1/24 dev pnbs0
	ip -n pnb-c link set pnbc0 up
	ip -n pnb-r link set pnbr0 up
	ip -n pnb-r link set pnbr1 up
	ip -n pnb-s link set pnbs0 up
	ip -n pnb-c route add default via 10.204.1.2
	ip -n pnb-s route add default via 10.204.2.2
	$R sysctl -qw net.ipv4.ip_forward=1
}

services() {
	$S iperf3 -s -p 5201 >>"$W/bg.log" 2>&1 &
	SVC_PIDS+=($!)
	$S $PROBE echo 7777 >>"$W/bg.log" 2>&1 &
	SVC_PIDS+=($!)
	$S $PROBE udp-echo 7777 >>"$W/bg.log" 2>&1 &
	SVC_PIDS+=($!)
	sleep 0.5
}

iperf_gbps() { # host port [-R] (bytes received in $W/iperf.bytes)
	$C iperf3 -c "$1" -p "$2" -t "$SECS" ${3:-} -J >"$W/iperf.json" 2>&1
	python3 -c 'import json,sys
try:
    j = json.load(open(sys.argv[1]))
    if j.get("error"): print("iperf3: " + j["error"], file=sys.stderr)
    open(sys.argv[2], "w").write("%d\n" % j["end"]["sum_received"]["bytes"])
    print("%.2f" % (j["end"]["sum_received"]["bits_per_second"]/1e9))
except Exception as e: print("fail")' "$W/iperf.json" "$W/iperf.bytes"
}
proc_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
field() { sed -n "s/^$1: //p" | head -1; }

# Median of TPUT_RUNS iperf3 runs (the machine is shared and noisy), one
# direction: suffix "" (upload) or _down (iperf3 -R).  The client of a
# Postern row is the last process its start launched: its CPU per byte.
tput_series() { # name host port suffix
	local name=$1 host=$2 tport=$3 sfx=$4 runs=() k cp="" c0 c1 flag=
	[ "$sfx" = _down ] && flag=-R
	case $name in postern_*) cp=${PIDS[-1]:-} ;; esac
	for k in $(seq "$TPUT_RUNS"); do
		[ -n "$cp" ] && c0=$(proc_cpu_ticks "$cp")
		rm -f "$W/iperf.bytes"
		runs+=("$(iperf_gbps "$host" "$tport" $flag)")
		if [ -n "$cp" ] && [ -s "$W/iperf.bytes" ]; then
			c1=$(proc_cpu_ticks "$cp")
			RES[$name.cpu_ticks$sfx]=$((${RES[$name.cpu_ticks$sfx]:-0} + c1 - c0))
			RES[$name.bytes$sfx]=$((${RES[$name.bytes$sfx]:-0} + $(cat "$W/iperf.bytes")))
		fi
	done
	# pooled over the rounds of this row (ROUNDS > 1)
	RES[$name.tput${sfx}_runs]="${RES[$name.tput${sfx}_runs]:+${RES[$name.tput${sfx}_runs]} }${runs[*]}"
	RES[$name.tput${sfx}_gbps]=$(printf '%s\n' ${RES[$name.tput${sfx}_runs]} | python3 -c 'import sys
v = sorted(float(x) for x in sys.stdin.read().split() if x != "fail")
print("%.2f" % v[len(v) // 2] if v else "fail")')
	[ -n "${RES[$name.bytes$sfx]:-}" ] && [ "${RES[$name.bytes$sfx]}" -gt 0 ] &&
		RES[$name.client_cpu_ns_per_byte$sfx]=$(python3 -c "import os, sys
print('%.2f' % (int(sys.argv[1]) / os.sysconf('SC_CLK_TCK') * 1e9 / int(sys.argv[2])))" \
			"${RES[$name.cpu_ticks$sfx]}" "${RES[$name.bytes$sfx]}")
	return 0
}

declare -A RES
ROWS=()
measure() { # name
	local name=$1 host tport eport t0 out
	"peer_${name}_prep" || { echo "bench: $name: prep failed" >&2; return; }
	read -r host tport eport < <("peer_${name}_target")
	# The probe starts first and blocks on the fifo, so its start-up is not
	# counted: the clock starts when t0 is written, once the probe says it
	# is ready (a fixed pause was too short for probe.py: the pyenv shim and
	# interpreter took 0.3-0.6 s on a quiet machine, seconds under load).
	rm -f "$W/t0"
	mkfifo "$W/t0"
	exec 3<>"$W/t0"
	# The cold start uses the Python probe for every row: with the C
	# probe's 1 ms retry loop stunnel's cold start read 9-15 s in this
	# topology (104 ms with this one in the same run; not reproduced on
	# loopback; docs/performance.md), which would flatter every other row.
	$C $PYPROBE firstbyte "$host" "$eport" - 20 <&3 >"$W/fb.out" &
	local fbpid=$! i
	for i in $(seq 600); do
		grep -q '^ready' "$W/fb.out" 2>/dev/null && break
		sleep 0.05
	done
	t0=$(date +%s.%N)
	echo "$t0" >&3
	"peer_${name}_start"
	wait $fbpid
	exec 3>&-
	out=$(cat "$W/fb.out")
	RES[$name.coldstart_ms]=$(echo "$out" | field ms)
	if [ "${RES[$name.coldstart_ms]}" = timeout ]; then
		echo "bench: $name: no first byte within 20 s; skipped" >&2
		stop_pids
		return
	fi
	tput_series "$name" "$host" "$tport" ""
	[ "${DOWN:-1}" = 0 ] || tput_series "$name" "$host" "$tport" _down
	[ -n "${BENCH_DEBUG:-}" ] && ps -o pid,stat,etime,cmd -p "$(IFS=,; echo "${PIDS[*]}")" >&2
	out=$($C $PROBE rr "$host" "$eport" "$RR" 2>&1)
	RES[$name.rr_p50_us]=$(echo "$out" | field p50_us)
	RES[$name.rr_p99_us]=$(echo "$out" | field p99_us)
	out=$($C $PROBE newflow "$host" "$eport" "$NEWFLOW" 2>&1)
	RES[$name.newflow_p50_us]=$(echo "$out" | field p50_us)
	RES[$name.newflow_p99_us]=$(echo "$out" | field p99_us)
	declare -F "peer_${name}_extra" >/dev/null && "peer_${name}_extra"
	[[ " ${ROWS[*]} " == *" $name "* ]] || ROWS+=("$name")
	stop_pids
	echo "bench: $name done" >&2
}

source "$ROOT/bench/peers/peers.sh"
source "$ROOT/bench/peers/postern.sh"

topology
services
for p in $PEERS; do measure "$p"; done
postern_rows # adds postern-relay-udp / postern-relay-tcp when they can run

METRICS="tput_gbps tput_down_gbps rr_p50_us rr_p99_us newflow_p50_us newflow_p99_us coldstart_ms"
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
echo "run: $(date -u +%Y-%m-%dT%H:%MZ), iperf3 ${SECS}s single stream up and down (median of $TPUT_RUNS), rr $RR round trips, newflow $NEWFLOW flows"
echo "load average: $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
printf '| %-19s | %9s | %9s | %9s | %9s | %14s | %14s | %12s |\n' path tput_gbps tput_down rr_p50_us rr_p99_us newflow_p50_us newflow_p99_us coldstart_ms
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' --------------------- ----------- ----------- ----------- ----------- ---------------- ---------------- --------------
for r in "${ROWS[@]}"; do
	printf '| %-19s | %9s | %9s | %9s | %9s | %14s | %14s | %12s |\n' "$r" "${RES[$r.tput_gbps]:--}" \
		"${RES[$r.tput_down_gbps]:--}" "${RES[$r.rr_p50_us]:--}" "${RES[$r.rr_p99_us]:--}" "${RES[$r.newflow_p50_us]:--}" \
		"${RES[$r.newflow_p99_us]:--}" "${RES[$r.coldstart_ms]:--}"
done
echo
for r in "${ROWS[@]}"; do
	for m in $METRICS; do echo "$m.$r: ${RES[$r.$m]:--}"; done
	echo "tput_runs_gbps.$r: ${RES[$r.tput_runs]:--}"
	[ -n "${RES[$r.tput_down_runs]:-}" ] && echo "tput_down_runs_gbps.$r: ${RES[$r.tput_down_runs]}"
	for m in client_cpu_ns_per_byte client_cpu_ns_per_byte_down; do
		[ -n "${RES[$r.$m]:-}" ] && echo "$m.$r: ${RES[$r.$m]}"
	done
done
if [ -n "${RES[postern_p2p.ttd_ms]:-}" ]; then
	# tunnel up -> direct path (the client's time_to_direct_ms)
	echo "time_to_direct_ms.postern_p2p: ${RES[postern_p2p.ttd_ms]} (p50 of: ${RES[postern_p2p.ttd_runs]}; measured row's tunnel: ${RES[postern_p2p.ttd_first_ms]:--})"
fi
for r in postern_relay_udp postern_relay_tls; do
	# first byte of FB_RUNS fresh tunnels (bench/peers/postern.sh postern_fb_runs)
	[ -n "${RES[$r.fb]:-}" ] && echo "firstbyte_fresh_ms.$r: ${RES[$r.fb]} (runs: ${RES[$r.fb_runs]})"
done
[ -n "${RES[postern_transparent.dns_a_p99_us]:-}" ] &&
	echo "dns_a_p99_us.postern_transparent: ${RES[postern_transparent.dns_a_p99_us]}"
ratio() { python3 -c "import sys
try: print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))
except Exception: print('-')" "$1" "$2"; }
# Transparent mode against the proxied client on the same path (goal >= 0.95):
# the SOCKS row when there is one, else the relay-UDP port-forward.
for base in postern_socks postern_relay_udp; do
	[ -n "${RES[$base.tput_gbps]:-}" ] && [ -n "${RES[postern_transparent.tput_gbps]:-}" ] || continue
	echo "ratio.tput_gbps.postern_transparent/$base: $(ratio "${RES[postern_transparent.tput_gbps]}" "${RES[$base.tput_gbps]}")"
	[ -n "${RES[postern_transparent.client_cpu_ns_per_byte]:-}" ] &&
		echo "ratio.client_cpu_ns_per_byte.postern_transparent/$base: $(ratio "${RES[postern_transparent.client_cpu_ns_per_byte]:-}" "${RES[$base.client_cpu_ns_per_byte]:-}")"
	break
done
for r in "${ROWS[@]}"; do
	case $r in postern*) ;; *) continue ;; esac
	for p in "${ROWS[@]}"; do
		case $p in postern*) continue ;; esac
		# tput: >1 means Postern is faster; latencies: <1 means Postern is faster.
		for m in tput_gbps tput_down_gbps rr_p50_us newflow_p50_us coldstart_ms; do
			[ -n "${RES[$r.$m]:-}" ] || continue
			echo "ratio.$m.$r/$p: $(ratio "${RES[$r.$m]:-}" "${RES[$p.$m]:-}")"
		done
	done
done
# A new flow on a warm tunnel (issue 19): at most one tunnel round trip (the
# row's rr p50) + 0.2 ms over the raw row's connect + round trip.
for r in "${ROWS[@]}"; do
	case $r in postern*) ;; *) continue ;; esac
	[ -n "${RES[raw.newflow_p50_us]:-}" ] || break
	echo "newflow_goal.$r: $(python3 -c "import sys
try:
    nf, raw, rr = (float(x) for x in sys.argv[1:4])
    x = nf - (raw + rr)
    print('newflow_p50 - (raw newflow_p50 + row rr_p50) = %.0f - (%.0f + %.0f) = %.0f us (goal <= 200: %s)'
          % (nf, raw, rr, x, 'met' if x <= 200 else 'missed'))
except Exception:
    print('-')" "${RES[$r.newflow_p50_us]:-}" "${RES[raw.newflow_p50_us]}" "${RES[$r.rr_p50_us]:-}")"
done
