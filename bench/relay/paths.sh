#!/bin/bash
# Relayed-path cost profile: iperf3 through client -> relay -> connector
# over each relay transport, with the CPU cost per byte of every process
# (perf stat), the system calls and epoll_ctl calls per MB, and the relay's counters, so that
# runs on a loaded, shared machine compare costs rather than Gbit/s.
#
#   pnp-c 10.204.1.1 ---veth--- 10.204.1.2 pnp-r 10.204.2.2 ---veth--- 10.204.2.1 pnp-s
#   (client, iperf3 -c)         (relay: UDP :3478,              (connector, iperf3 -s)
#                                TLS + WebSocket :4433)
#
#   sudo bench/relay/paths.sh BUILD [SECS] [TRANSPORTS]     (default 5, "udp tls ws")
#   PERF_RECORD=DIR: also `perf record -e cpu-clock -g` the processes (DIR/<row>.<role>.data;
#   PERF_CG="--call-graph dwarf" for stacks through the libraries)
#   PERF_EVENTS=ev,...: more perf stat events (e.g. uprobes), kept with
#   STATS_DIR=DIR (DIR/<row>.<role>.stat, with the bytes moved)
#   SYSCOUNT=DIR: `strace -c` of the processes (DIR/<row>.<role>.txt; slows them)
# Transports: udp, tls, ws (through the relay), udp1 / udp2 (UDP through a
# relay run with --workers 1 / 2), direct (client straight to the
# connector, the router forwarding), stunnel (a stunnel4 pair on the same
# path as direct, for the same columns: client = its client, connector =
# its server).  The iperf3 column is both iperf3 processes (the work every
# row shares); "sum" is all the columns: CPU time the path costs per byte.
#   REVERSE=1: iperf3 -R (a download: the connector's side sends).
#   ALT_BUILD="DIR...": every transport also with each DIR's binaries, rows
#   .alt1, .alt2... alternated (A/B in the same minutes); ROUNDS=N: the
#   whole list N times.
#
# Run it in a private network namespace (unshare --net --mount) on a shared
# machine: the namespace names are fixed.
set -u
B=${1:?build dir}
SECS=${2:-5}
TRS=${3:-udp tls ws}
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
# bytes the relay forwarded).  direct and stunnel need it on.
relay_only() { # on | off
	$R nft delete table ip pnp 2>/dev/null
	[ "$1" = on ] || return 0
	$R nft -f - <<'NFT'
table ip pnp {
	chain block { type filter hook forward priority 0; policy drop; }
}
NFT
}

D=$W/pki
{ $F $D ca && $F $D relay relay1 &&
	$F $D connector conn1 bench --allow 127.0.0.1/32 tcp 5201 \
		--relay relay1 10.204.1.2:3478 10.204.1.2:4433 &&
	$F $D client bench --net bench conn1 --grant bench 127.0.0.1 tcp 5201 \
		--relay relay1 10.204.1.2:3478 10.204.1.2:4433; } >"$W/pki.log" 2>&1 ||
	{ echo "paths: pnfixture failed"; cat "$W/pki.log"; exit 1; }
CONN_ID=$(cat "$D/conn1/id")
if [[ " $TRS " == *" stunnel "* ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/st.key" \
		-out "$W/st.crt" -days 2 -subj /CN=pnp 2>/dev/null
	printf 'foreground = yes\npid =\n[t]\naccept = 10.204.2.1:8443\nconnect = 127.0.0.1:5201\ncert = %s\nkey = %s\n' \
		"$W/st.crt" "$W/st.key" >"$W/sts.conf"
	printf 'foreground = yes\npid =\n[t]\nclient = yes\naccept = 127.0.0.1:9201\nconnect = 10.204.2.1:8443\n' >"$W/stc.conf"
fi

$S iperf3 -s -p 5201 >/dev/null 2>&1 &
IPERF_S=$!
PIDS+=($IPERF_S)

RELAY= RELAY_KEY=
relay_up() { # build workers
	[ "$RELAY_KEY" = "$1:$2" ] && return 0
	if [ -n "$RELAY" ]; then kill "$RELAY"; wait "$RELAY" 2>/dev/null; fi
	local w=()
	[ -n "$2" ] && w=(--workers "$2")
	$R "$1/src/app/postern" relay run --state "$D/relay1" --udp 10.204.1.2:3478 \
		--tls 10.204.1.2:4433 --ws-path /postern --stats-interval 0 --allow-peer 10.204.0.0/16 \
		"${w[@]}" >>"$W/relay.log" 2>&1 &
	RELAY=$!
	PIDS+=($RELAY)
	RELAY_KEY="$1:$2"
	for i in $(seq 500); do
		$C bash -c 'exec 3<>/dev/tcp/10.204.1.2/4433' 2>/dev/null && return 0
		sleep 0.02
	done
	echo "paths: relay did not come up"
	return 1
}

# perf stat output -> "cpu_ms syscalls" (no hardware counters in this VM:
# CPU time, not cycles)
pstat() { awk -F, '$3 ~ /task-clock/ {c=$1} $3 ~ /raw_syscalls:sys_enter/ {s=$1} $3 ~ /epoll_ctl/ {e=$1} END {print c+0, s+0, e+0}' "$1"; }
stats_line() {
	[ -n "$RELAY" ] || return 0
	kill -USR1 $RELAY
	sleep 0.3
	grep ' stats ' "$W/relay.log" | tail -1
}
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# one row: build transport label
run_one() {
	local b=$1 t=$2 label=$3 P=$1/src/app/postern path=() CLI CONN ok i p n
	case $t in
	direct | stunnel) relay_only off ;;
	*) [ "${RELAY_ONLY:-1}" = 1 ] && relay_only on || relay_only off ;;
	esac
	case $t in
	udp1) relay_up "$b" 1 || return; path=(--transport udp) ;;
	udp2) relay_up "$b" 2 || return; path=(--transport udp) ;;
	udp | tls | ws) relay_up "$b" "${RELAY_WORKERS:-}" || return; path=(--transport "$t") ;;
	direct) path=(--direct "$CONN_ID=10.204.2.1:4433") ;;
	esac
	rm -f "$D/bench/client.sock"
	if [ "$t" = stunnel ]; then
		$S stunnel4 "$W/sts.conf" >"$W/conn.$label.log" 2>&1 &
		CONN=$!
		$C stunnel4 "$W/stc.conf" >"$W/client.$label.log" 2>&1 &
		CLI=$!
	else
		$S "$P" connector run --state "$D/conn1" --listen-udp 10.204.2.1:4433 --log warn \
			>"$W/conn.$label.log" 2>&1 &
		CONN=$!
		$C "$P" client run --state "$D/bench" --offline "${path[@]}" --log warn \
			--forward 127.0.0.1:9201=127.0.0.1:5201 >"$W/client.$label.log" 2>&1 &
		CLI=$!
	fi
	PIDS+=($CONN $CLI)
	ok=
	for i in $(seq 150); do
		$C timeout 10 iperf3 -c 127.0.0.1 -p 9201 -n 1M -J >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		echo "$label: no tunnel"
		tail -n 5 "$W/client.$label.log" "$W/conn.$label.log"
		kill $CLI $CONN
		wait $CLI $CONN 2>/dev/null
		return
	fi
	local rpid=$RELAY
	case $t in direct | stunnel) rpid= ;; esac
	local s0 s1
	[ -n "$rpid" ] && s0=$(stats_line)
	local perfs=() roles="client:$CLI connector:$CONN iperf3s:$IPERF_S"
	[ -n "$rpid" ] && roles+=" relay:$rpid"
	rm -f "$W"/cur.*.stat
	for role in $roles; do
		n=${role%%:*} p=${role#*:}
		perf stat -x, -e task-clock,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_ctl${PERF_EVENTS:+,$PERF_EVENTS} \
			-p "$p" -o "$W/cur.$n.stat" \
			-- sleep $((SECS + 1)) 2>/dev/null &
		perfs+=($!)
		if [ -n "${SYSCOUNT:-}" ] && [ "$n" != iperf3s ]; then
			mkdir -p "$SYSCOUNT"
			timeout $((SECS + 1)) strace -c -f -p "$p" -o "$SYSCOUNT/$label.$n.txt" 2>/dev/null &
			perfs+=($!)
		fi
		if [ -n "${PERF_RECORD:-}" ] && [ "$n" != iperf3s ]; then
			mkdir -p "$PERF_RECORD"
			perf record -q -e cpu-clock ${PERF_CG:--g} -p "$p" -o "$PERF_RECORD/$label.$n.data" \
				-- sleep $((SECS + 1)) >/dev/null 2>&1 &
			perfs+=($!)
		fi
	done
	sleep 0.3
	$C perf stat -x, -e task-clock,raw_syscalls:sys_enter -o "$W/cur.iperf3c.stat" \
		iperf3 -c 127.0.0.1 -p 9201 -t "$SECS" $([ "${REVERSE:-0}" = 1 ] && echo -R) -J >"$W/iperf.$label.json" 2>&1
	for p in "${perfs[@]}"; do wait "$p"; done
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	[ -n "$rpid" ] && s1=$(stats_line)
	local bytes gbps
	bytes=$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1])); print(int(j["end"]["sum_received"]["bytes"]))' "$W/iperf.$label.json" 2>/dev/null || echo 0)
	gbps=$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1])); print("%.2f" % (j["end"]["sum_received"]["bits_per_second"]/1e9))' "$W/iperf.$label.json" 2>/dev/null || echo fail)
	local cols=() cyc sys ctl tot=0 ic is
	for n in client relay connector; do
		if [ -f "$W/cur.$n.stat" ]; then
			read -r cyc sys ctl < <(pstat "$W/cur.$n.stat")
			tot=$(awk -v a="$tot" -v c="$cyc" 'BEGIN { print a + c }')
			cols+=("$(awk -v c="$cyc" -v s="$sys" -v e="$ctl" -v b="$bytes" 'BEGIN { if (b > 0) printf "%6.3f %5.0f %4.0f", c * 1e6 / b, s * 1e6 / b, e * 1e6 / b; else printf "%6s %5s %4s", "-", "-", "-" }')")
		else
			cols+=("$(printf '%6s %5s %4s' - - -)")
		fi
	done
	read -r ic _ _ < <(pstat "$W/cur.iperf3c.stat")
	read -r is _ _ < <(pstat "$W/cur.iperf3s.stat")
	cols+=("$(awk -v c="$ic" -v s="$is" -v b="$bytes" 'BEGIN { if (b > 0) printf "%6.3f", (c + s) * 1e6 / b; else printf "%6s", "-" }')")
	cols+=("$(awk -v c="$tot" -v i="$ic" -v s="$is" -v b="$bytes" 'BEGIN { if (b > 0) printf "%6.3f", (c + i + s) * 1e6 / b; else printf "%6s", "-" }')")
	if [ -n "${STATS_DIR:-}" ]; then
		mkdir -p "$STATS_DIR"
		for n in client relay connector; do
			[ -f "$W/cur.$n.stat" ] && { echo "bytes,$bytes"; cat "$W/cur.$n.stat"; } >"$STATS_DIR/$label.$n.stat"
		done
	fi
	local path=- ctr= k a z
	if [ -n "$rpid" ]; then
		# the share of the bytes the relay forwarded (near 100%: relayed; near 0: direct)
		path=$(awk -v a="$(kv "$s0" fwd_bytes)" -v b="$(kv "$s1" fwd_bytes)" -v n="$bytes" \
			'BEGIN { if (n > 0) printf "relay%.0f%%", (b - a) * 100 / n; else print "-" }')
		for k in udp_rx_pkts tx_pkts gso_sends drop_queue tx_drops st_records st_writes st_reads handoffs; do
			a=$(kv "$s0" $k) z=$(kv "$s1" $k)
			[ -n "$a" ] && [ -n "$z" ] || continue
			ctr+="$k=$(awk -v a="$a" -v b="$z" -v n="$bytes" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }') "
		done
	fi
	printf '%-12s %-9s %6s %5s | %s | %s | %s | %s | %s | %s\n' "$label" "$path" "$gbps" "$load" \
		"${cols[0]}" "${cols[1]}" "${cols[2]}" "${cols[3]}" "${cols[4]}" "$ctr"
	kill $CLI $CONN
	wait $CLI $CONN 2>/dev/null
}

echo "paths: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, iperf3 ${SECS}s"
printf '%-12s %-9s %6s %5s | %-17s | %-17s | %-17s | %-6s | %-6s | %s\n' row path Gbit/s load1 \
	"client ns/B sys ctl" "relay (per MB)" "connector" iperf3 sum "relay counters (per MB)"
for r in $(seq "${ROUNDS:-1}"); do
	for t in $TRS; do
		run_one "$B" "$t" "$t"
		k=0
		for a in ${ALT_BUILD:-}; do
			k=$((k + 1))
			[ "$t" != stunnel ] && run_one "$a" "$t" "$t.alt$k"
		done
	done
done
echo "paths: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
