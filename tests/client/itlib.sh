# Helpers for the client integration scripts (sourced after topo.sh).
fail=0
ok() { echo "ok   - $1"; }
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
}
expect() { # name needle haystack
	if [[ "$3" == *"$2"* ]]; then ok "$1"; else bad "$1 (wanted '$2', got '${3:0:300}')"; fi
}
finish() {
	# Stop everything gracefully, then look for sanitizer reports (ASan
	# builds): a clean shutdown is part of the contract.
	pn_stop_graceful
	local f
	for f in $(grep -l "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$W"/*.log 2>/dev/null); do
		case $f in
		*/client-*) bad "sanitizer report in $f" ;;
		# Other components' own tests own their reports; say so loudly.
		*) echo "NOTE - sanitizer report in $f (not the client): $(grep -m1 'SUMMARY' "$f")" ;;
		esac
	done
	if [ $fail -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do echo "== $f"; tail -25 "$f"; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}

# Credentials and signed access lists for: relay1; connectors conn1 (and
# conn2 with PN_TWO_CONNECTORS=1) serving network "corp"; client alice
# granted app/echo by name, 10.203.9.2 TCP 7/8000/8002 and UDP 7, and a
# name the connector does not serve; secret.corp.example:8001 not granted.
pn_pki() {
	local F=$PN_FIXTURE D=$W/pki conns=conn1
	$F $D ca || return 1
	$F $D relay relay1 || return 1
	for c in conn1 ${PN_TWO_CONNECTORS:+conn2}; do
		$F $D connector $c corp --allow 10.203.9.2/32 tcp 7,8000,5201 --allow 10.203.9.2/32 udp 7 --allow '**.corp.example' tcp 7,8000,8001 \
			--relay relay1 10.203.2.2:3478 10.203.2.2:4433 || return 1
	done
	[ -n "${PN_TWO_CONNECTORS:-}" ] && conns=conn1,conn2
	$F $D client alice --net corp $conns \
		--grant corp app.corp.example tcp 8000 --grant corp echo.corp.example tcp 7 \
		--grant corp 10.203.9.2 tcp 7,8000,8002,5201 --grant corp 10.203.9.2 udp 7 \
		--relay relay1 10.203.2.2:3478 10.203.2.2:4433 || return 1
}
pn_pki_one_connector() { pn_pki || { bad "pki fixture"; finish; }; }

pn_start_relay() {
	pn_bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/pki/relay1" \
		--udp 10.203.2.2:3478 --tls 10.203.2.2:4433 --ws-path /postern
	pn_wait_tcp $NS_CLI 10.203.2.2 4433 10 || bad "relay listening"
}

# Connectors listen for direct tunnels on their link address :4433 and
# register with the relay listed in their state (relays.json).
pn_connector_addr() { [ "$1" = conn1 ] && echo 10.203.4.2:4433 || echo 10.203.5.2:4433; }
pn_start_connector() { # name [extra connector run args...]
	local ns=$NS_CONN1 name=$1
	shift
	[ "$name" = conn2 ] && ns=$NS_CONN2
	pn_bg "connector-$name" ip netns exec "$ns" "$PN_BIN" connector run --state "$W/pki/$name" \
		--listen-udp "$(pn_connector_addr "$name")" "$@"
	# Registered once the relay logs it (or give it a moment).
	for i in $(seq 100); do
		grep -q "register" "$W/relay.log" 2>/dev/null && grep -c "register" "$W/relay.log" | grep -q . && break
		sleep 0.05
	done
	sleep 0.3
}

# "--direct" arguments reaching every connector in the pki directly.
pn_direct_args() {
	local c
	for c in conn1 ${PN_TWO_CONNECTORS:+conn2}; do
		printf -- '--direct %s=%s ' "$(cat "$W/pki/$c/id")" "$(pn_connector_addr $c)"
	done
}

# Does this build's client carry tunnels over relays?  (status JSON)
pn_relay_paths() { # state-name
	ip netns exec $NS_CLI "$PN_BIN" client status --json --state "$W/pki/$1" |
		python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("relay_paths") else 1)'
}

pn_start_client() { # state-name args...
	local name=$1
	shift
	pn_bg "client-$name" ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/pki/$name" \
		${PN_CLIENT_ONLINE:+--log info} ${PN_CLIENT_ONLINE:---offline} "$@"
	pn_wait_file "$W/pki/$name/client.sock" 10 || bad "client $name started"
}
