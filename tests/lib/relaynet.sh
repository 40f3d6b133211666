# The relay network (sourced after netns.sh by the relay integration tests):
#
#   pnr-cl (client side)            pnr-rl (relay, haproxy)             pnr-co (connector side)
#   10.201.1.2, 10.201.1.3 ---veth--- 10.201.1.1 | 10.201.2.1 ---veth--- 10.201.2.2
#
# The client and the connector have no route to each other: everything
# they exchange goes through the relay.  Only 10.201.0.0/16 is used.  Peers
# are pn-relay-peer with credentials from `pnfixture DIR relay-net` in $T.
BIN=$PN_BIN
PEER=$B/tests/relay/pn-relay-peer
PKI_TOOL=$B/tests/lib/pnfixture
T=$W
NCL=pnr-cl-$PN_TAG NRL=pnr-rl-$PN_TAG NCO=pnr-co-$PN_TAG

topo_up() {
	pn_ns $NCL $NRL $NCO || exit 1
	pn_veth $NCL pnr-cl0 10.201.1.2/24 $NRL pnr-rl0 10.201.1.1/24
	pn_veth $NCO pnr-co0 10.201.2.2/24 $NRL pnr-rl1 10.201.2.1/24
	ip -n $NCL addr add 10.201.1.3/24 dev pnr-cl0
	$PKI_TOOL "$T" relay-net || { echo "pki tool failed"; exit 1; }
}

# relay_up [extra args]: relay in pnr-rl on UDP 3478, TLS 4443, WS path /postern
relay_up() {
	# Under ASan, a small quarantine keeps RSS meaningful for the memory checks.
	pn_bg relay ip netns exec $NRL env ASAN_OPTIONS="quarantine_size_mb=16:${ASAN_OPTIONS:-}" \
		"$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" \
		--udp 0.0.0.0:3478 --tls 0.0.0.0:4443 --ws-path /postern --stats-interval 0 \
		--allow-peer 10.201.0.0/16 "$@"
	RELAY_PID=$PID_relay
	pn_wait_log "$T/relay.log" " ready " 15 && return 0
	echo "relay did not start"; cat "$T/relay.log"; exit 1
}

# connector_up [extra peer args, e.g. a second --relay]: connector peer in
# pnr-co registered with the relay (UDP + TLS); waits for every relay
connector_up() {
	local want=$((1 + $# / 2)) i
	pn_bg conn ip netns exec $NCO "$PEER" connector --pki "$T" --cred conn \
		--relay tls=10.201.2.1:4443,udp=10.201.2.1:3478 "$@"
	CONN_PID=$PID_conn
	for i in $(seq 150); do [ "$(grep -c "state=1" "$T/conn.log")" -ge $want ] && return 0; sleep 0.1; done
	echo "connector did not register"; cat "$T/conn.log" "$T/relay.log"; exit 1
}

relay_stats() { # prints the relay's latest stats line
	kill -USR1 $RELAY_PID
	sleep 0.3
	grep " stats " "$T/relay.log" | tail -1
}

stat_of() { # name: value from the latest stats line
	relay_stats | tr ' ' '\n' | sed -n "s/^$1=//p"
}

client() { # run the test client in $NCL with args
	ip netns exec $NCL "$PEER" client --pki "$T" --cred client --acl client.acl --to conn "$@"
}

relay_finish() {
	# Stop the relay cleanly: it must exit 0 (sanitizer builds report leaks
	# and errors on the way out: pn_finish fails on them).
	pn_stop $RELAY_PID 5
	local rc=$?
	[ $rc -eq 0 ] && ok "relay stopped cleanly" || bad "relay exit status $rc"
	pn_finish
}
