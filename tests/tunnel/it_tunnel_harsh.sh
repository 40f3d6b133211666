#!/bin/bash
# The design's harsh network (security case 15): loss 20%, delay 300 ms
# ± 100 (uniform), reorder 25%, duplication 1%, on every UDP packet the
# client sends and every one it receives.  This kernel has no netem and no
# nftables `queue`: iptables' NFQUEUE target on the router hands the
# client's packets to tests/tools/pn-impair (one per direction, seeded),
# which drops, holds, reorders and copies them.
#
# Direct path, then relay-UDP (direct UDP between client and connector
# blocked; second argument: one phase only): a download and an upload of SIZE bytes at once complete with
# sha256 equal; new flows open on the same tunnel afterwards; on the direct
# path the tunnel then sits idle past the 30 s idle timeout and still
# carries a flow, and a flow crosses a 5 s outage of that path (the only
# one: a tunnel opened --direct has no relay to move to); one tunnel per phase (no tunnel_close at the connector,
# no client failure); and the impairment's counters show it happened
# (drop rate near 20%, duplicates, packets out of order, none unseen).
#
# Topology: tests/lib/fixnet.sh (client -- hub router -- relay / connector
# -- resource).  SIZE: 128 KiB each way (64 KiB under sanitizers): with
# 20% loss and RTTs of 0-800 ms the tunnel (BBRv2; CUBIC carried 5-10)
# carries 9-17 KB/s each way (TCP's Mathis bound is ~9 KB/s at RTT
# 450 ms), so 128 KiB takes 15-25 s.  PN_HARSH_SIZE, PN_HARSH_IDLE
# override.  Needs root.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" harsh
source "$(dirname "$0")/../lib/fixnet.sh"
SIZE=$((128 << 10))
if grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	SIZE=$((64 << 10))
fi
SIZE=${PN_HARSH_SIZE:-$SIZE}
IDLE=${PN_HARSH_IDLE:-35}
# The phases: "direct", "relay" or both (the default; ctest runs them as
# two tests, it_harsh_direct.sh and it_harsh_relay.sh, in parallel).
PHASE=${2:-both}
IMPAIR=$BUILD/tests/tools/pn-impair
HARSH="--loss 20 --delay 300 --jitter 100 --dist uniform --reorder 25 --dup 1"
XFER="env PN_XFER_TIMEOUT=150 python3 $PN_SRC/tests/tunnel/pmtuxfer.py"
IPT="ip netns exec $NS_HUB iptables"
# The tunnel's packets: UDP (direct QUIC; relay-UDP data, BINDs and STUN).
# PN_HARSH_TCP=1 impairs the client's TCP too (its TLS control connection
# to the relay): see docs/security.md case 15 for what that shows.
MATCH="-p udp"
[ "${PN_HARSH_TCP:-0}" = 1 ] && MATCH=""

# (software GSO: the router sees the datagrams a real link carries; the
# queue would segment a GSO batch anyway)
pn_xfer_up

# impair_up PHASE: one impairer per direction of the client's link (queue
# 10: from the client, 11: to it), then the rules that feed them.
impair_up() {
	local ph=$1 q
	for q in 10 11; do
		pn_bg "impair-$ph-$q" ip netns exec $NS_HUB "$IMPAIR" --queue $q $HARSH --seed $((q * 7 + ${#ph}))
	done
	for q in 10 11; do
		pn_wait_log "$W/impair-$ph-$q.log" "impair ready" 30 || { bad "$ph: impairer $q up"; return 1; }
	done
	$IPT -A FORWARD -i h-cli $MATCH -j NFQUEUE --queue-num 10 &&
		$IPT -A FORWARD -o h-cli $MATCH -j NFQUEUE --queue-num 11 || { bad "$ph: iptables NFQUEUE rules"; return 1; }
}
# impair_down PHASE: rules off, then the impairers stop and print counters;
# checks them: the impairment really happened.
impair_down() {
	local ph=$1 q line seen pct ooo dups=0 d unseen pid
	$IPT -D FORWARD -i h-cli $MATCH -j NFQUEUE --queue-num 10
	$IPT -D FORWARD -o h-cli $MATCH -j NFQUEUE --queue-num 11
	for q in 10 11; do
		eval "pid=\$PID_impair_${ph//-/_}_$q"
		pn_stop "$pid" 10
		line=$(grep '^impair exit' "$W/impair-$ph-$q.log" | tail -1)
		echo "    $ph: queue $q: $line"
		seen=$(sed -n 's/.* seen=\([0-9]*\).*/\1/p' <<<"$line")
		pct=$(sed -n 's/.* drop_pct=\([0-9.]*\).*/\1/p' <<<"$line")
		ooo=$(sed -n 's/.* out_of_order=\([0-9]*\).*/\1/p' <<<"$line")
		d=$(sed -n 's/.* dup_sent=\([0-9]*\).*/\1/p' <<<"$line")
		unseen=$(sed -n 's/.* unseen=\([0-9-]*\).*/\1/p' <<<"$line")
		dups=$((dups + ${d:-0}))
		# 20% within 5 standard deviations of a binomial over `seen` packets
		[ "${seen:-0}" -ge 300 ] && awk -v n="$seen" -v p="${pct:-100}" \
			'BEGIN { s = 100 * sqrt(0.16 / n); exit !(p >= 20 - 5 * s && p <= 20 + 5 * s) }' &&
			ok "$ph: queue $q impaired: ${seen} packets, ${pct}% dropped" ||
			bad "$ph: queue $q: seen=${seen:-?} drop_pct=${pct:-?} (wanted >= 300 packets, 20% +- 5 sigma)"
		[ "${ooo:-0}" -ge $((${seen:-0} / 10)) ] && ok "$ph: queue $q: ${ooo} released out of order" ||
			bad "$ph: queue $q: out_of_order=${ooo:-?} of ${seen:-?}"
		[ "${unseen:-1}" -eq 0 ] 2>/dev/null && ok "$ph: queue $q: no packet passed unimpaired (unseen=0)" ||
			bad "$ph: queue $q: unseen=${unseen:-?} (queue full or socket overrun)"
	done
	[ "$dups" -ge 1 ] && ok "$ph: $dups packets duplicated" || bad "$ph: no packet duplicated"
}

flow_ok() { # port bytes: one download + upload of bytes, both intact
	local out
	out=$($C timeout 200 $XFER run 127.0.0.1 "$1" "$2" 2>&1)
	grep -q "down_sha: ok" <<<"$out" && grep -q "up_sha: ok" <<<"$out" && return 0
	echo "$out" | sed 's/^/      /' | tail -5
	return 1
}

stop_client() { # name: stop it, and wait for the connector to close its tunnel
	local n
	n=$(pn_count "$W/connector-conn1.log" "tunnel_close")
	pn_stop_check "client-$1" 10
	pn_wait_count "$W/connector-conn1.log" "tunnel_close" $((n + 1)) 45 &&
		ok "$1: the connector closed the tunnel when the client stopped" ||
		bad "$1: no tunnel_close at the connector after the client stopped"
}

phase() { # label state-name forward-port expected-path idle-seconds outage-seconds
	local L=$1 st=$2 F=$3 want=$4 idle=$5 outage=$6 out t0 secs n i opens0 opens1 closes0 closes1 fails
	opens0=$(pn_count "$W/connector-conn1.log" "tunnel_open")
	closes0=$(pn_count "$W/connector-conn1.log" "tunnel_close")
	# the first flow brings the tunnel up through the impaired link (the
	# handshake, with 20% loss each way, may take several tries)
	t0=$(now)
	for i in $(seq 60); do
		$C bash -c "exec 3<>/dev/tcp/127.0.0.1/$F" 2>/dev/null && break
		sleep 1
	done
	pn_wait_tunnel_path "$st" "$want" 90 && ok "$L: tunnel on the $want path ($(since "$t0") s)" ||
		bad "$L: tunnel on the $want path (got $(pn_tunnel_field "$st" path))"

	# the transfer: a download and an upload at once
	t0=$(now)
	out=$($C timeout 240 $XFER run 127.0.0.1 "$F" "$SIZE" 2>&1)
	secs=$(since "$t0")
	echo "$out" | sed "s/^/    $L: /"
	echo "    $L: $(awk -v b="$SIZE" -v s="$(sed -n 's/^secs: //p' <<<"$out")" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1000 }') KB/s each way"
	expect "$L: $((SIZE >> 10)) KiB download intact (${secs} s)" "down_sha: ok" "$out"
	expect "$L: $((SIZE >> 10)) KiB upload intact" "up_sha: ok" "$out"
	[ "$(pn_tunnel_field "$st" path)" = "$want" ] && ok "$L: still on the $want path" ||
		bad "$L: path moved to $(pn_tunnel_field "$st" path)"

	# new flows on the same tunnel: 5 at once, 16 KiB each way
	for i in 1 2 3 4 5; do
		flow_ok "$F" 16384 >"$W/newflow.$i" 2>&1 &
		NEWF[$i]=$!
	done
	n=0
	for i in 1 2 3 4 5; do wait ${NEWF[$i]} && n=$((n + 1)); done
	[ $n -eq 5 ] && ok "$L: 5 new flows at once after the transfer, each intact" ||
		{ bad "$L: new flows: $n of 5"; cat "$W"/newflow.*; }

	if [ "$idle" -gt 0 ]; then
		echo "    $L: idle ${idle} s (the idle timeout is 30 s)"
		sleep "$idle"
		flow_ok "$F" 16384 && ok "$L: a flow after ${idle} s idle" || bad "$L: flow after ${idle} s idle"
	fi

	if [ "$outage" -gt 0 ]; then
		# an outage mid-flow on a path with no relay to go back to (the
		# tunnel was opened --direct): silence longer than the 2.5 s that
		# moves a tunnel to its relay must not end this one
		n=$(pn_count "$W/connector-conn1.log" "flow_start")
		flow_ok "$F" 131072 >"$W/outage.out" 2>&1 &
		i=$!
		pn_wait_count "$W/connector-conn1.log" "flow_start" $((n + 2)) 60 || bad "$L: outage flow started"
		$IPT -I FORWARD 1 -i h-cli -p udp -j DROP && $IPT -I FORWARD 1 -o h-cli -p udp -j DROP
		sleep "$outage"
		$IPT -D FORWARD -i h-cli -p udp -j DROP && $IPT -D FORWARD -o h-cli -p udp -j DROP
		wait $i && ok "$L: a flow across a ${outage} s outage of the only path: intact" ||
			{ bad "$L: flow across a ${outage} s outage"; cat "$W/outage.out"; grep p2p_direct_lost "$W/client-$st.log"; }
	fi

	opens1=$(pn_count "$W/connector-conn1.log" "tunnel_open")
	closes1=$(pn_count "$W/connector-conn1.log" "tunnel_close")
	fails=$(pn_tunnel_field "$st" failures)
	[ $((opens1 - opens0)) -eq 1 ] && [ "$closes1" -eq "$closes0" ] && [ "${fails:-x}" = 0 ] &&
		ok "$L: one tunnel throughout (connector: 1 open, 0 close; client failures 0)" ||
		{
			bad "$L: tunnel survived: opens $((opens1 - opens0)), closes $((closes1 - closes0)), client failures ${fails:-?}"
			grep -E "tunnel_(open|close)|path" "$W/connector-conn1.log" | tail -5
		}
	pn_client_status "$st" | python3 -c "import json,sys; t=json.load(sys.stdin)['tunnels'][0]; print('    $L: client status:', {k: t.get(k) for k in ('path','rtt_us','flows_total','failures','last_error')})"
}

# Direct path.
if [ "$PHASE" != relay ]; then
	impair_up direct || pn_finish
	pn_start_client alice --forward 127.0.0.1:15201=10.203.9.2:5201 $(pn_direct_args)
	phase direct alice 15201 direct "$IDLE" 5
	# impairment off first: the client's CONNECTION_CLOSE reaches the
	# connector (a lost one would leave the tunnel to its idle timeout)
	impair_down direct
	stop_client alice
fi

# Relay over UDP: direct UDP between client and connector blocked.
if [ "$PHASE" != direct ]; then
	$IPT -A FORWARD -s 10.203.1.0/24 -d 10.203.4.0/24 -p udp -j DROP
	$IPT -A FORWARD -s 10.203.4.0/24 -d 10.203.1.0/24 -p udp -j DROP
	impair_up relay || pn_finish
	cp -a "$W/pki/alice" "$W/pki/alice-relay" && rm -f "$W/pki/alice-relay/client.sock"
	pn_start_client alice-relay --forward 127.0.0.1:15202=10.203.9.2:5201
	phase relay-udp alice-relay 15202 relay-udp 0 0
	impair_down relay
	stop_client alice-relay
fi

pn_stop_check connector-conn1 10
pn_finish
