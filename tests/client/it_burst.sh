#!/bin/bash
# Bursts of concurrent flows through one tunnel (issue 19, scale): every
# flow of a burst echoes BYTES at the same moment, every byte is checked,
# the tunnel survives, and the memory the burst used is given back.
#   - BURSTS bursts of N flows (N open at once, then all echo at once, then
#     all closed), on the same client and connector processes;
#   - each burst: N of N open, every echoed byte equal (a pattern per flow),
#     no flow failed, the tunnel never went down (no tunnel_down logged);
#   - memory (VmRSS): per held flow at most PER_FLOW_MAX bytes in each
#     process, RSS after the last burst within FLAT_MB of that after the
#     first, and within BASE_MB of the baseline (tunnel up, no flow).
# A sanitizer build (PN_SANITIZE=ON in BUILD's cache) runs 300 flows and
# two bursts and only reports the memory figures (ASan's quarantine and
# shadow memory are not the allocator's).  Needs root (network namespaces).
#
#   pnb-c 10.207.1.1 ----------veth---------- 10.207.1.2 pnb-s
#   flows.py run (the applications)             flows.py echo :7777
#   postern client --offline: forward           postern connector
#     127.0.0.1:9777 -> 127.0.0.1:7777            --listen-udp 10.207.1.2:4433
#     (direct path: one QUIC tunnel)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-burst
LOAD="python3 $PN_SRC/bench/tunnel/flows.py"
F=$B/tests/lib/pnfixture
NSC=pnb-c-$PN_TAG NSS=pnb-s-$PN_TAG

SAN=0
grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && SAN=1
if [ $SAN = 1 ]; then
	N=${PN_BURST_FLOWS:-300} BURSTS=${PN_BURSTS:-2}
	echo "note - sanitizer build: $N flows, $BURSTS bursts, memory reported only"
else
	N=${PN_BURST_FLOWS:-1000} BURSTS=${PN_BURSTS:-3}
fi
BYTES=8192
# Bounds (release, 1,000 flows).  Before the send buffers followed what is in flight,
# 2,000 flows left 97 MB (client) and 110 MB (connector) resident after
# they closed, with 11 and 16 KB per held flow.
PER_FLOW_MAX=8192 FLAT_MB=8 BASE_MB=16

ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt $((N + 200)) ]; then
	bad "descriptor hard limit $(ulimit -Hn) < $((N + 200)): raise it to run this test"
	pn_finish
fi

pn_ns $NSC $NSS || { bad "namespaces"; pn_finish; }
pn_veth $NSC pnbc$PN_TAG 10.207.1.1/24 $NSS pnbs$PN_TAG 10.207.1.2/24 || { bad "veth"; pn_finish; }
for n in $NSC $NSS; do
	ip netns exec $n sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
	ip netns exec $n sysctl -qw net.ipv4.tcp_tw_reuse=1
	ip netns exec $n sysctl -qw net.core.somaxconn=4096
done
{ $F "$W/pki" ca && $F "$W/pki" connector conn1 burst --allow 127.0.0.1/32 tcp 7777 &&
	$F "$W/pki" client bench --net burst conn1 --grant burst 127.0.0.1 tcp 7777; } \
	>"$W/pki.log" 2>&1 || { bad "pnfixture"; pn_finish; }

pn_bg echo ip netns exec $NSS $LOAD echo 7777
pn_wait_tcp $NSS 127.0.0.1 7777 30 || bad "echo server up"
pn_bg connector ip netns exec $NSS "$PN_BIN" connector run --state "$W/pki/conn1" \
	--listen-udp 10.207.1.2:4433 --log warn
pn_bg client ip netns exec $NSC "$PN_BIN" client run --state "$W/pki/bench" --offline --log warn \
	--direct "$(cat "$W/pki/conn1/id")=10.207.1.2:4433" --forward 127.0.0.1:9777=127.0.0.1:7777
pn_wait_tcp $NSC 127.0.0.1 9777 60 || { bad "client forward up"; pn_finish; }
# one flow first: the tunnel is up (and its memory counted in the baseline)
for i in $(seq 60); do
	ip netns exec $NSC python3 "$PN_SRC/bench/peers/probe.py" firstbyte 127.0.0.1 9777 \
		"$(date +%s.%N)" 20 >/dev/null 2>&1 && break
	sleep 1
done

rss_kb() { sed -n 's/^VmRSS:\s*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }
field() { sed -n "s/^$1: //p" "$2" | tail -1; }
C0=$(rss_kb "$PID_client") S0=$(rss_kb "$PID_connector")
echo "note - baseline RSS: client $C0 kB, connector $S0 kB"

for b in $(seq "$BURSTS"); do
	out=$W/burst$b.out
	# held: RSS read while the N flows are open (flows.py waits on its stdin)
	mkfifo "$W/go$b"
	ip netns exec $NSC $LOAD run 127.0.0.1 9777 "$N" 256 "$BYTES" 10 <"$W/go$b" >"$out" 2>>"$W/load.log" &
	lp=$!
	exec 3>"$W/go$b"
	pn_wait_log "$out" "^held:" 300 || true
	sleep 1
	C1=$(rss_kb "$PID_client") S1=$(rss_kb "$PID_connector")
	echo >&3
	pn_wait_log "$out" "^closed" 400 || true
	echo >&3
	exec 3>&-
	wait $lp
	rc=$?
	# flows closed: give the processes a moment to free them (poll RSS settling)
	for i in $(seq 20); do
		c=$(rss_kb "$PID_client")
		sleep 0.5
		[ "$c" = "$(rss_kb "$PID_client")" ] && break
	done
	C2=$(rss_kb "$PID_client") S2=$(rss_kb "$PID_connector")
	eval "CA$b=$C2 SA$b=$S2"
	echo "note - burst $b: open $(field open "$out")/$N in $(field open_secs "$out") s," \
		"new flow p99 $(field newflow_at_n_p99_us "$out") us," \
		"echo $BYTES B x $N at once in $(field echo_secs "$out") s;" \
		"RSS kB client $C0 -> $C1 held -> $C2 closed, connector $S0 -> $S1 held -> $S2 closed;" \
		"per held flow client $(((C1 - C0) * 1024 / N)) B connector $(((S1 - S0) * 1024 / N)) B"
	if [ "$rc" = 0 ] && [ "$(field open "$out")" = "$N" ] && [ "$(field corrupt "$out")" = 0 ] &&
		[ "$(field echo_bytes_each_way "$out")" = $((N * BYTES)) ]; then
		ok "burst $b: $N flows open, $BYTES B echoed on all at once, every byte equal"
	else
		bad "burst $b: rc=$rc $(tr '\n' ' ' <"$out")"
	fi
	if [ $SAN = 0 ] && [ $b = 1 ]; then
		pc=$(((C1 - C0) * 1024 / N)) ps=$(((S1 - S0) * 1024 / N))
		[ $pc -le $PER_FLOW_MAX ] && [ $ps -le $PER_FLOW_MAX ] &&
			ok "memory per held flow: client $pc B, connector $ps B (<= $PER_FLOW_MAX)" ||
			bad "memory per held flow: client $pc B, connector $ps B (> $PER_FLOW_MAX)"
	fi
done
if grep -q "tunnel_down" "$W/client.log"; then
	bad "the tunnel went down: $(grep -m3 tunnel_down "$W/client.log")"
else
	ok "the tunnel stayed up through every burst"
fi
eval "CL=\$CA$BURSTS SL=\$SA$BURSTS"
if [ $SAN = 0 ]; then
	[ $((CL - CA1)) -le $((FLAT_MB * 1024)) ] && [ $((SL - SA1)) -le $((FLAT_MB * 1024)) ] &&
		ok "RSS flat across bursts: client $CA1 -> $CL kB, connector $SA1 -> $SL kB" ||
		bad "RSS grew across bursts by more than $FLAT_MB MB: client $CA1 -> $CL kB, connector $SA1 -> $SL kB"
	[ $((CL - C0)) -le $((BASE_MB * 1024)) ] && [ $((SL - S0)) -le $((BASE_MB * 1024)) ] &&
		ok "RSS back near the baseline: client $C0 -> $CL kB, connector $S0 -> $SL kB" ||
		bad "RSS not given back (> $BASE_MB MB over the baseline): client $C0 -> $CL kB, connector $S0 -> $SL kB"
fi
pn_stop_check client 10
pn_stop_check connector 10
pn_finish
