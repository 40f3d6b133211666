#!/bin/bash
# Scale: N concurrent TCP flows over ONE tunnel (run as root; not a test).
#
#   pnf-c 10.206.1.1 ------veth------ 10.206.1.2 pnf-s
#   flows.py run (load)                 flows.py echo :7777
#   postern client: forward             postern connector --listen-udp :4433
#     127.0.0.1:9777 -> 127.0.0.1:7777  (direct path, one QUIC tunnel)
#   stunnel4 client 127.0.0.1:9778  ->  stunnel4 server :9443 -> :7777
#                                       (one TLS connection per flow)
#
# For each row (postern, then stunnel): open N flows, CONC connecting at a
# time (setup rate, connect -> first echo p50/p99/max), hold them and read
# the resident memory (RSS, /proc/PID/status VmRSS) of the tunnel's two
# processes, 100 new flows while N are held (p50/p99), then BYTES echoed
# on every flow at once (aggregate Gbit/s, both ways), close all, and the
# RSS again after the flows closed.  Repeated ROUNDS times on the same
# processes (RSS after each round: memory that is not given back grows).
# CPU-seconds (utime+stime) of each process over the whole run.  Every
# echoed byte is checked (flows.py: a pattern per flow).  A summary line
# per row: memory per open flow, p99 of a new flow with N open, the time
# to echo BYTES on all N at once, and the RSS after each burst (round).
#
#   sudo bench/tunnel/flows.sh BUILD [N=10000] [CONC=256] [BYTES=32768]
#   env: ROWS="postern stunnel" ROUNDS=2
set -u
B=$(cd "${1:?build dir}" && pwd)
N=${2:-10000}
CONC=${3:-256}
BYTES=${4:-32768}
ROWS=${ROWS:-postern stunnel}
ROUNDS=${ROUNDS:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=$B/src/app/postern
F=$B/tests/lib/pnfixture
LOAD="python3 $ROOT/bench/tunnel/flows.py"
[ "$(id -u)" -eq 0 ] || { echo "flows: needs root (network namespaces)" >&2; exit 2; }
W=$(mktemp -d /tmp/pnf.XXXXXX)
chmod 755 "$W"
C="ip netns exec pnf-c"
S="ip netns exec pnf-s"
PIDS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in pnf-c pnf-s; do
		for p in $(ip netns pids $n 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del $n 2>/dev/null
	done
	[ -n "${KEEP_W:-}" ] && echo "flows: work dir kept: $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
# every process here holds a socket per flow
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((N + 500)) ] ||
	{ echo "flows: descriptor limit $(ulimit -n) < N + 500" >&2; exit 2; }

for n in pnf-c pnf-s; do
	ip netns del $n 2>/dev/null
	ip netns add $n
	ip -n $n link set lo up
done
ip link add pnfc0 netns pnf-c type veth peer name pnfs0 netns pnf-s
ip -n pnf-c addr add 10.206.1.1/24 dev pnfc0
ip -n pnf-s addr add 10.206.1.2/24 dev pnfs0
ip -n pnf-c link set pnfc0 up
ip -n pnf-s link set pnfs0 up
# 10,000 connections to one 127.0.0.1 port from one address: widen the
# ephemeral range so every 4-tuple is free (TIME_WAIT of earlier rounds)
for n in pnf-c pnf-s; do
	ip netns exec $n sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
	ip netns exec $n sysctl -qw net.ipv4.tcp_tw_reuse=1
	ip netns exec $n sysctl -qw net.core.somaxconn=4096
done

$S $LOAD echo 7777 >>"$W/echo.log" 2>&1 &
PIDS+=($!)

rss_kb() { sed -n 's/^VmRSS:\s*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_s() { awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat" 2>/dev/null; }
field() { sed -n "s/^$1: //p" "$2" | tail -1; }
wait_tcp() { # NS-CMD HOST PORT
	local i
	for i in $(seq 500); do
		$1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_line() { # FILE WORD SECONDS
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt $end ]; do
		grep -q "^$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# one row: $1 name, $2 port, $3 $4 pids of the tunnel's two processes
# (client side, server side)
row() {
	local name=$1 port=$2 cp=$3 sp=$4 r out rc0 rs0 rc1 rs1 rc2 rs2
	local perflow="" nf99="" echos="" after_c="" after_s=""
	rc0=$(rss_kb "$cp") rs0=$(rss_kb "$sp")
	echo "rss_kb_idle.$name: client-side $rc0 server-side $rs0"
	for r in $(seq "$ROUNDS"); do
		out=$W/$name.$r.out
		: >"$out"
		mkfifo "$W/go"
		$C $LOAD run 127.0.0.1 "$port" "$N" "$CONC" "$BYTES" <"$W/go" >"$out" 2>>"$W/load.log" &
		local lp=$!
		exec 3>"$W/go"
		if ! wait_line "$out" held 900; then
			echo "flows: $name round $r: flows not up; $(cat "$out" | tr '\n' ' ')" >&2
			exec 3>&-
			rm -f "$W/go"
			wait $lp
			return 1
		fi
		sleep 1 # let the last buffers settle
		rc1=$(rss_kb "$cp") rs1=$(rss_kb "$sp")
		echo >&3
		wait_line "$out" closed 900
		# the flows are being freed: wait until both RSS hold still (<= 20 s)
		local i a b
		for i in $(seq 40); do
			a="$(rss_kb "$cp") $(rss_kb "$sp")"
			sleep 0.5
			b="$(rss_kb "$cp") $(rss_kb "$sp")"
			[ "$a" = "$b" ] && [ "$i" -ge 4 ] && break
		done
		rc2=$(rss_kb "$cp") rs2=$(rss_kb "$sp")
		echo >&3
		exec 3>&-
		wait $lp
		rm -f "$W/go"
		echo "round.$name.$r: open $(field open "$out")/$N in $(field open_secs "$out") s," \
			"setup $(field setup_rate_per_s "$out")/s, connect->echo p50 $(field setup_p50_us "$out") us" \
			"p99 $(field setup_p99_us "$out") max $(field setup_max_us "$out");" \
			"new flow at $N open p50 $(field newflow_at_n_p50_us "$out") p99 $(field newflow_at_n_p99_us "$out") us;" \
			"echo $BYTES B x $N: $(field echo_gbps_both_ways "$out") Gbit/s in $(field echo_secs "$out") s;" \
			"failed $(field failed "$out") short $(field echo_short "$out") corrupt $(field corrupt "$out")"
		echo "rss_kb.$name.$r: client-side $rc0 -> $rc1 held -> $rc2 closed; server-side $rs0 -> $rs1 held -> $rs2 closed;" \
			"per held flow: client-side $(((rc1 - rc0) * 1024 / N)) B, server-side $(((rs1 - rs0) * 1024 / N)) B"
		[ -n "$perflow" ] || perflow="client-side $(((rc1 - rc0) * 1024 / N)) B server-side $(((rs1 - rs0) * 1024 / N)) B"
		nf99="$nf99 $(field newflow_at_n_p99_us "$out")"
		echos="$echos $(field echo_secs "$out")"
		after_c="$after_c $((rc2 / 1024))" after_s="$after_s $((rs2 / 1024))"
	done
	echo "summary.$name: per open flow (burst 1) $perflow; new flow p99 at $N open (us):$nf99;" \
		"echo $BYTES B on all $N at once (s):$echos; RSS MB after each burst: client-side" \
		"$((rc0 / 1024)) ->$after_c, server-side $((rs0 / 1024)) ->$after_s"
	echo "cpu_s.$name: client-side $(cpu_s "$cp") server-side $(cpu_s "$sp")"
}

echo "flows: N=$N CONC=$CONC BYTES=$BYTES ROUNDS=$ROUNDS; load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for name in $ROWS; do
	case $name in
	postern)
		{ $F "$W/pki" ca && $F "$W/pki" connector conn1 bench --allow 127.0.0.1/32 tcp 7777 &&
			$F "$W/pki" client bench --net bench conn1 --grant bench 127.0.0.1 tcp 7777; } \
			>"$W/pki.log" 2>&1 || { echo "flows: pnfixture failed" >&2; cat "$W/pki.log" >&2; exit 1; }
		$S "$P" connector run --state "$W/pki/conn1" --listen-udp 10.206.1.2:4433 --log warn \
			>>"$W/connector.log" 2>&1 &
		SPID=$!
		PIDS+=($SPID)
		$C "$P" client run --state "$W/pki/bench" --offline --log warn \
			--direct "$(cat "$W/pki/conn1/id")=10.206.1.2:4433" \
			--forward 127.0.0.1:9777=127.0.0.1:7777 >>"$W/client.log" 2>&1 &
		CPID=$!
		PIDS+=($CPID)
		wait_tcp "$C" 127.0.0.1 9777 || { echo "flows: postern client not up" >&2; exit 1; }
		# one flow first: the tunnel is up before the clock starts
		$C python3 "$ROOT/bench/peers/probe.py" firstbyte 127.0.0.1 9777 "$(date +%s.%N)" 20 >/dev/null
		row postern 9777 "$CPID" "$SPID"
		;;
	stunnel)
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/st.key" \
			-out "$W/st.crt" -days 2 -subj /CN=pnf 2>/dev/null
		printf 'foreground = yes\npid =\n[e]\naccept = 10.206.1.2:9443\nconnect = 127.0.0.1:7777\ncert = %s\nkey = %s\n' \
			"$W/st.crt" "$W/st.key" >"$W/sts.conf"
		printf 'foreground = yes\npid =\n[e]\nclient = yes\naccept = 127.0.0.1:9778\nconnect = 10.206.1.2:9443\n' >"$W/stc.conf"
		$S stunnel4 "$W/sts.conf" >>"$W/stunnel.log" 2>&1 &
		SPID=$!
		PIDS+=($SPID)
		$C stunnel4 "$W/stc.conf" >>"$W/stunnel.log" 2>&1 &
		CPID=$!
		PIDS+=($CPID)
		wait_tcp "$C" 127.0.0.1 9778 || { echo "flows: stunnel not up" >&2; exit 1; }
		row stunnel 9778 "$CPID" "$SPID"
		;;
	esac
	kill "$CPID" "$SPID" 2>/dev/null
	wait "$CPID" "$SPID" 2>/dev/null
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
