# Shared setup for the relay's namespace tests (sourced).  Topology:
#
#   pnr-cl (client side)            pnr-rl (relay, haproxy)             pnr-co (connector side)
#   10.201.1.2, 10.201.1.3 ---veth--- 10.201.1.1 | 10.201.2.1 ---veth--- 10.201.2.2
#
# The client and the connector have no route to each other: everything
# they exchange goes through the relay.  Only 10.201.0.0/16 is used.
set -u
B=${1:?build dir}
BIN=${PN_BIN:-$B/src/app/postern}
# The relay role alone when the full binary is not built (another role mid-edit).
[ -x "$BIN" ] || BIN=$B/tests/relay/pn-relay-daemon
PEER=$B/tests/relay/pn-relay-peer
PKI_TOOL=$B/tests/relay/pn-relay-testpki
T=$(mktemp -d /tmp/pnr-test.XXXXXX)
# Namespaces named per run (pnr-*-<pid>), so two runs of these tests (two
# build directories, two engineers) never tear down each other's topology.
NCL=pnr-cl-$$ NRL=pnr-rl-$$ NCO=pnr-co-$$
PIDS=()
FAILS=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in $NCL $NRL $NCO; do ip netns del $n 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
	local d=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/       /' "$T/out" | tail -15; fi
}

topo_up() {
	for n in $NCL $NRL $NCO; do ip netns del $n 2>/dev/null; ip netns add $n; ip -n $n link set lo up; done
	ip link add pnr-cl0 netns $NCL type veth peer name pnr-rl0 netns $NRL
	ip link add pnr-co0 netns $NCO type veth peer name pnr-rl1 netns $NRL
	ip -n $NCL addr add 10.201.1.2/24 dev pnr-cl0
	ip -n $NCL addr add 10.201.1.3/24 dev pnr-cl0
	ip -n $NRL addr add 10.201.1.1/24 dev pnr-rl0
	ip -n $NRL addr add 10.201.2.1/24 dev pnr-rl1
	ip -n $NCO addr add 10.201.2.2/24 dev pnr-co0
	for l in "$NCL pnr-cl0" "$NRL pnr-rl0" "$NRL pnr-rl1" "$NCO pnr-co0"; do
		set -- $l; ip -n $1 link set $2 up
	done
	$PKI_TOOL "$T" || { echo "pki tool failed"; exit 1; }
}

# relay_up [extra args]: relay in pnr-rl on UDP 3478, TLS 4443, WS path /postern
relay_up() {
	# Under ASan, a small quarantine keeps RSS meaningful for the memory checks.
	ip netns exec $NRL env ASAN_OPTIONS="quarantine_size_mb=16:${ASAN_OPTIONS:-}" \
		"$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" \
		--udp 0.0.0.0:3478 --tls 0.0.0.0:4443 --ws-path /postern --stats-interval 0 "$@" \
		>"$T/relay.log" 2>&1 &
	RELAY_PID=$!
	PIDS+=($RELAY_PID)
	for i in $(seq 150); do grep -q " ready " "$T/relay.log" && return 0; sleep 0.1; done
	echo "relay did not start"; cat "$T/relay.log"; exit 1
}

# connector_up: connector peer in pnr-co registered with the relay (UDP + TLS)
# connector_up [extra peer args, e.g. a second --relay]: waits for every relay
connector_up() {
	local want=$((1 + $# / 2))
	ip netns exec $NCO "$PEER" connector --pki "$T" --cred conn \
		--relay tls=10.201.2.1:4443,udp=10.201.2.1:3478 "$@" >"$T/conn.log" 2>&1 &
	CONN_PID=$!
	PIDS+=($CONN_PID)
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

finish() {
	# Stop the relay cleanly: it must exit 0, and sanitizer builds must
	# report no leak or error on its way out.
	kill -TERM $RELAY_PID
	for i in $(seq 50); do kill -0 $RELAY_PID 2>/dev/null || break; sleep 0.1; done
	wait $RELAY_PID; local rc=$?
	[ $rc -eq 0 ] && ok "relay stopped cleanly" || bad "relay exit status $rc"
	if grep -q "Sanitizer" "$T/relay.log"; then bad "sanitizer report from the relay"; grep -A15 "Sanitizer" "$T/relay.log" | head -40; fi
	if [ "$FAILS" -eq 0 ]; then echo "all passed"; exit 0; fi
	echo "$FAILS failed"; grep -v " stats " "$T/relay.log" | tail -20; exit 1
}
