#!/bin/bash
# Relay workers (--workers N): the kernel spreads UDP sources and TCP
# connections over N sockets bound to the same ports, and every session
# must forward both ways whichever workers its two sides landed on.
#
#   pnr-cl: many client processes          pnr-rl: relay --workers N      pnr-co: one connector
#   (each its own UDP port and             :3478/udp :4443/tcp (TLS, WS)  (one UDP port, one
#    TLS / WebSocket connection)                                           TLS connection)
#   10.201.1.2 ------------------ 10.201.1.1 | 10.201.2.1 ------------------ 10.201.2.2
#
# For N = 1, 2, 3: phase A, the connector's data over UDP: clients over UDP
# (UDP<->UDP), TLS (TLS<->UDP) and WebSocket (WS<->UDP) at once; phase B,
# the connector over its TLS stream only: clients over UDP and TLS
# (UDP<->TLS, TLS<->TLS).  Every client checks every datagram of every
# session echoed back (client -> relay -> connector -> relay -> client).
# With N > 1 the stats show more than one worker receiving UDP, streams
# on more than one worker, and hand-offs between workers (a session's two
# sides on different workers).  With N = 1 nothing is handed off.  With
# N > 1, steering: 8 TLS / WebSocket clients with the connector on UDP,
# the connector's datagrams must reach each client stream's worker
# directly (hand-offs: a few control frames per session, not datagrams).
# Nothing is resent: a datagram lost anywhere (e.g. a receiver's socket
# buffer overflowing) stalls its session, so the load is kept within what
# slow processes drain.  A sanitizer build runs fewer datagrams per
# session, a smaller window, and starts the clients a little apart (each
# must open its sessions within the relay client's 10 s).
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" relay-workers
source "$(dirname "$0")/../lib/relaynet.sh"
# The window bounds what is in flight: at most 24 x 2 x 4 datagrams, which
# fits the relay's socket buffers and, should the connector's sessions
# fall back from UDP to its TLS stream under load, its 256 KiB egress.
COUNT=200 WINDOW=4 GAP=0
grep -q '^PN_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null && COUNT=60 WINDOW=3 GAP=0.3
NUDP=12 NTLS=6 NWS=6 SESS=2
# Phase B puts every session's datagrams into the connector's one TLS
# stream, whose egress the relay bounds (256 KiB; beyond, DATA is dropped
# like UDP and the client's window of 32 stalls): fewer sessions there.
NUDP_B=6 NTLS_B=3
topo_up

start_relay() { # N
	pn_bg relay$1 ip netns exec $NRL "$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" \
		--key "$T/relay.key" --udp 0.0.0.0:3478 --tls 0.0.0.0:4443 --ws-path /postern \
		--stats-interval 0 --allow-peer 10.201.0.0/16 --workers $1
	eval "RELAY_PID=\$PID_relay$1"
	RLOG=$T/relay$1.log
	pn_wait_log "$RLOG" " ready " 60 || { bad "relay --workers $1 did not start"; cat "$RLOG"; pn_finish; }
	grep -q "workers=$1" "$RLOG" && ok "relay up with $1 worker(s)" || bad "relay did not say workers=$1"
}

start_connector() { # name spec
	pn_bg $1 ip netns exec $NCO "$PEER" connector --pki "$T" --cred conn --relay "$2"
	eval "CPID=\$PID_$1"
	pn_wait_log "$T/$1.log" "state=1" 60 || { bad "connector $1 did not register"; cat "$T/$1.log"; pn_finish; }
}

stats_now() { # the relay's stats line after a SIGUSR1 (polls for the new line)
	local before=$(pn_count "$RLOG" " stats ") i
	kill -USR1 $RELAY_PID
	for i in $(seq 300); do [ "$(pn_count "$RLOG" " stats ")" -gt "$before" ] && break; sleep 0.1; done
	grep " stats " "$RLOG" | tail -1
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
nonzero() { echo "$1" | tr ',' '\n' | grep -vc '^0$'; } # how many workers counted something

run_clients() { # label sessions size transport count [transport count ...]: all at once
	local label=$1 sess=$2 size=$3 pids=() names=() i n tr k=0 failed=0
	shift 3
	while [ $# -gt 0 ]; do
		tr=$1 n=$2
		shift 2
		for i in $(seq $n); do
			case $tr in
			udp) spec=tls=10.201.1.1:4443,udp=10.201.1.1:3478 ;;
			tls) spec=tls=10.201.1.1:4443,only=tls ;;
			ws) spec=ws=ws://10.201.1.1:4443/postern,only=ws ;;
			esac
			k=$((k + 1))
			client --relay "$spec" --sessions $sess --count $COUNT --size $size --vary \
				--window $WINDOW --expect-transport $tr --timeout 90 >"$T/cl-$label-$k.out" 2>&1 &
			pids+=($!)
			[ "$GAP" = 0 ] || sleep $GAP
			names+=("$tr#$i")
		done
	done
	for i in "${!pids[@]}"; do
		if ! wait ${pids[$i]}; then
			failed=$((failed + 1))
			echo "       client ${names[$i]}: $(tail -3 "$T/cl-$label-$((i + 1)).out" | tr '\n' ' ')"
		fi
	done
	[ $failed -eq 0 ] && ok "$label: ${#pids[@]} clients x $sess sessions x $COUNT datagrams, every one echoed" ||
		{
			bad "$label: $failed of ${#pids[@]} clients failed"
			# Where datagrams were lost: the relay's send drops, the peers' receive buffers.
			echo "       relay: $(stats_now | tr ' ' '\n' | grep -E '^(tx_drops|drop_|handoff_drops)' | tr '\n' ' ')"
			echo "       relay ns UDP: $(ip netns exec $NRL awk '/^Udp:/' /proc/net/snmp | tail -1)"
			echo "       client ns UDP: $(ip netns exec $NCL awk '/^Udp:/' /proc/net/snmp | tail -1)"
			echo "       connector ns UDP: $(ip netns exec $NCO awk '/^Udp:/' /proc/net/snmp | tail -1)"
		}
}

for N in 1 2 3; do
	start_relay $N
	# Phase A: the connector's data over UDP.
	start_connector connA$N tls=10.201.2.1:4443,udp=10.201.2.1:3478
	run_clients "workers=$N, connector UDP" $SESS 600 udp $NUDP tls $NTLS ws $NWS
	s=$(stats_now)
	rx=$(field "$s" worker_udp_rx) st=$(field "$s" worker_streams) ho=$(field "$s" handoffs)
	echo "       workers=$N: udp rx per worker $rx, streams per worker $st, handoffs $ho, drop_queue $(field "$s" drop_queue), handoff_drops $(field "$s" handoff_drops)"
	if [ $N -eq 1 ]; then
		[ "$ho" = 0 ] && [ "$(field "$s" workers)" = 1 ] && ok "one worker: no hand-off" || bad "one worker: handoffs=$ho"
	else
		[ "$(nonzero "$rx")" -ge 2 ] && ok "UDP received by $(nonzero "$rx") of $N workers ($rx)" ||
			bad "UDP received by one worker only ($rx)"
		[ "$(nonzero "$st")" -ge 2 ] && ok "streams on $(nonzero "$st") of $N workers ($st)" ||
			bad "streams on one worker only ($st)"
		[ "${ho:-0}" -gt 0 ] && ok "sessions split across workers: $ho hand-offs to another worker's stream" ||
			bad "no hand-off: no session had its sides on different workers"
	fi
	if [ $N -gt 1 ]; then
		# Steering: the relay makes a session's id name its stream side's
		# worker and a reuseport program delivers the session's datagrams
		# there, so the connector's UDP to clients on TLS / WebSocket
		# streams is not handed off between workers (only control frames
		# are: SESSION to the connector's stream, CLOSE).  Without it about
		# half the sessions' datagrams would be (8 clients: every one on the
		# worker the kernel's hash picks for the connector has odds 1/2^8).
		grep -q "steer=1" "$RLOG" && ok "workers=$N: UDP steering attached" || bad "workers=$N: no steering ($(grep ' listening ' "$RLOG"))"
		ho0=$(field "$s" handoffs)
		run_clients "workers=$N, steering" 2 600 tls 4 ws 4
		s=$(stats_now)
		# Control frames and the first datagrams (over the connector's stream
		# until its UDP is bound) are handed off: a few per session.
		ho=$(( $(field "$s" handoffs) - ho0 )) dg=$((8 * 2 * COUNT))
		lim=$((8 * 2 * 8 + dg / 10))
		echo "       workers=$N steering: $ho hand-offs for $dg datagrams to streams; udp rx per worker $(field "$s" worker_udp_rx), streams per worker $(field "$s" worker_streams), handoffs per worker $(field "$s" worker_handoffs)"
		[ $ho -lt $lim ] && ok "workers=$N: the connector's datagrams reach the client stream's worker ($ho hand-offs < $lim)" ||
			bad "workers=$N: $ho hand-offs for $dg datagrams: the connector's UDP is not steered to the streams' workers"
	fi
	pn_stop $CPID 10
	# Phase B: the connector over its TLS stream only.
	start_connector connB$N tls=10.201.2.1:4443,only=tls
	run_clients "workers=$N, connector TLS" 1 600 udp $NUDP_B tls $NTLS_B
	s=$(stats_now)
	echo "       workers=$N: udp rx per worker $(field "$s" worker_udp_rx), streams per worker $(field "$s" worker_streams), handoffs per worker $(field "$s" worker_handoffs)"
	pn_stop $CPID 10
	pn_stop $RELAY_PID 15
	rc=$?
	[ $rc -eq 0 ] && ok "relay --workers $N stopped cleanly" || bad "relay --workers $N exit status $rc"
done
pn_finish
