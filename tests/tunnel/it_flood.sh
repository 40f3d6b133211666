#!/bin/bash
# Unauthenticated floods while a legitimate flow runs (security.md case
# 10), in the NAT lab (tests/lib/natlab.sh) with a third host:
#
#                  pnl-hub --- relay1 10.214.1.2, relay2 10.214.1.3
#   client 10.214.2.2 --+-- 10.214.3.2 connector --- 10.217.1.2 resource
#                       +-- 10.214.9.2 attacker      (flowend.py sink :8000)
#
# 1. The tunnel relayed (direct UDP cut at the hub): the attacker floods
#    both relays' UDP ports (random bytes, BIND and DATA with random
#    session ids, STUN) at a fixed packet rate and their TLS ports with
#    connections that send a ClientHello's start and junk, at a fixed rate.
# 2. The tunnel direct (cut removed): the attacker floods the connector's
#    direct UDP socket (QUIC Initial-looking packets with random connection
#    ids, short headers, random bytes) at a fixed packet rate.
# For each, the legitimate download's throughput (tests/tunnel/flood.py
# measure, through the client's SOCKS5) is measured alternately without
# and with the flood, ROUNDS times; the medians are compared: with >= 80%
# of without.  The flood's rate is fixed (not "as fast as possible") so the
# comparison holds on a loaded 2-core machine, where the flooder's own CPU
# would otherwise be what is measured.  Also: the floods get no byte back
# from the relays and never more bytes than they sent from the connector;
# the relays' and the connector's resident memory grows by less than a
# bound; the path does not move during the direct flood.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" flood
source "$(dirname "$0")/../lib/natlab.sh"
FLOOD="python3 $PN_SRC/tests/tunnel/flood.py"
ROUNDS=3
SECS=2.5          # each throughput sample
FSECS=4           # each flood: covers the sample it goes with
PPS=3000          # flood datagrams a second
CPS=150           # flood TLS connections a second
MIN_RATIO=0.80
RSS_KIB=32768     # memory growth bound (KiB) per process over the floods
if grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	PPS=1500 CPS=80 RSS_KIB=131072
fi

natlab_up open open || { bad "lab up"; pn_finish; }
natlab_attacker || { bad "attacker namespace"; pn_finish; }
natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
natlab_cut
pn_bg sink ip netns exec $NL_RES python3 "$PN_SRC/tests/connector/flowend.py" sink 10.217.1.2 8000 "$W/sink.jsonl"
pn_wait_tcp $NL_RES 10.217.1.2 8000 30 || bad "sink listening"
natlab_start || { bad "relays/connector/client up"; pn_finish; }
A="ip netns exec $NL_ATK"

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
sample() { # one throughput sample in bytes/s (0 on failure)
	local r
	r=$($C $FLOOD measure 127.0.0.1:1080 10.217.1.2 8000 $SECS 2>&1 | sed -n 's/^rate \([0-9]*\).*/\1/p')
	echo "${r:-0}"
}
# compare NAME FLOOD-COMMAND...: ROUNDS x (a sample without, a sample with
# the flood running); medians; the flood's own output in $W/flood-NAME-i.out
compare() {
	local name=$1 i fp without=() with=() mw mf
	shift
	for i in $(seq $ROUNDS); do
		without+=("$(sample)")
		"$@" >"$W/flood-$name-$i.out" 2>&1 &
		fp=$!
		sleep 0.5 # the flood at its rate
		with+=("$(sample)")
		wait $fp
	done
	mw=$(median "${without[@]}") mf=$(median "${with[@]}")
	echo "    $name: without flood ${without[*]} B/s, with ${with[*]} B/s; medians $((mw >> 20)) / $((mf >> 20)) MiB/s"
	if [ "$mw" -gt 0 ] && le "$MIN_RATIO" "$(python3 -c "print($mf / $mw)")"; then
		ok "$name: legitimate throughput with the flood $(python3 -c "print('%.0f%%' % (100 * $mf / $mw))") of without (>= 80%)"
	else
		bad "$name: legitimate throughput with the flood ${mf} B/s vs ${mw} B/s without (< 80%)"
	fi
}
answered() { # NAME: total bytes the flood got back, and bytes sent, over its rounds
	cat "$W"/flood-"$1"-*.out | awk '/^sent/ {s += $3; a += $5} END {print a + 0, s + 0}'
}

for i in $(seq 30); do [ "$(sample)" -gt 0 ] && break; sleep 1; done
natlab_wait_path relay-udp 30 && ok "tunnel relayed ($(natlab_p2p))" || bad "tunnel not relayed ($(natlab_p2p))"
r0_1=$(rss $PID_relay1) r0_2=$(rss $PID_relay2) c0=$(rss $PID_connector)

# ---- 1. the relays ----
relay_flood() {
	$A $FLOOD flood udp-relay 10.214.1.2:3478,10.214.1.3:3478 $PPS $FSECS >"$W/fu.out" 2>&1 &
	local u=$!
	$A $FLOOD flood tls 10.214.1.2:4433,10.214.1.3:4433 $CPS $FSECS
	wait $u
	cat "$W/fu.out"
}
compare relay relay_flood
read -r ans sent < <(answered relay)
[ "$sent" -gt 0 ] && [ "$ans" = 0 ] && ok "relays answered 0 of $sent flood bytes (UDP and TLS)" ||
	bad "relays answered $ans bytes to $sent flood bytes"
grep -h '^late' "$W"/flood-relay-*.out | tr '\n' ' ' | sed 's/^/    flood batches behind its rate: /'
echo
[ "$(natlab_path)" = relay-udp ] || bad "path moved during the relay flood ($(natlab_p2p))"

# ---- 2. the connector's direct socket ----
natlab_uncut
natlab_wait_path direct 30 && ok "tunnel direct ($(natlab_p2p))" || bad "tunnel not direct ($(natlab_p2p))"
CONN_UDP=$(natlab_p2p | sed 's/.*->//')
[[ "$CONN_UDP" == 10.214.3.2:* ]] || bad "the connector's direct address ($CONN_UDP)"
sw0=$(natlab_status | grep -o '"switches":[0-9]*' | head -1)
compare connector $A $FLOOD flood udp-quic "$CONN_UDP" $PPS $FSECS
read -r ans sent < <(answered connector)
[ "$sent" -gt 0 ] && [ "$ans" -le "$sent" ] && ok "connector answered $ans of $sent flood bytes (never more)" ||
	bad "connector answered $ans bytes to $sent flood bytes"
[ "$(natlab_path)" = direct ] && [ "$(natlab_status | grep -o '"switches":[0-9]*' | head -1)" = "$sw0" ] &&
	ok "the path did not move during the flood ($(natlab_p2p))" || bad "path moved during the flood ($(natlab_p2p))"

# ---- memory ----
for p in relay1:$PID_relay1:$r0_1 relay2:$PID_relay2:$r0_2 connector:$PID_connector:$c0; do
	IFS=: read -r n pid r0 <<<"$p"
	r1=$(rss "$pid")
	[ $((r1 - r0)) -lt $RSS_KIB ] && ok "$n resident memory over the floods: $r0 -> $r1 KiB (< +$RSS_KIB)" ||
		bad "$n resident memory grew $r0 -> $r1 KiB (bound +$RSS_KIB)"
done
pn_finish
