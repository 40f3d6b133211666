# Postern's rows for scripts/bench.sh (sourced).  Same topology and
# services as the peers:
#   client  (pnb-c): port-forwards 127.0.0.1:9201 -> 127.0.0.1:5201 (iperf3)
#                                  127.0.0.1:9777 -> 127.0.0.1:7777 (echo)
#   relay   (pnb-r): UDP 10.204.1.2:3478, TLS 10.204.1.2:4433 (also reachable
#                    from pnb-s through the router)
#   connector (pnb-s): outbound to the relay; proxies to 127.0.0.1 in pnb-s
# Credentials and signed access lists come from tests/lib/pnfixture (the
# trust library), so no controller runs during the measurement.
# Cold start = connector + client launched from nothing to the first echoed
# byte through a fresh tunnel.  The relay is infrastructure that is already
# running (as the routed underlay is for the peers): it is started, and
# waited for, before the clock starts.

postern_build() {
	[ -n "${POSTERN_BUILT:-}" ] && return 0
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$W/build.log" 2>&1 &&
		cmake --build "$BUILD" -j"$(nproc)" --target postern pnfixture >>"$W/build.log" 2>&1 ||
		{ echo "bench: postern build failed (see $W/build.log)" >&2; return 1; }
	if "$BUILD/src/app/postern" client status --state /nonexistent 2>&1 | grep -q "no client runtime"; then
		echo "bench: postern rows skipped: the client runtime is not in this build yet" >&2
		return 1
	fi
	POSTERN_BUILT=1
}

postern_pki() {
	local F=$BUILD/tests/lib/pnfixture D=$W/pki
	[ -d "$D" ] && return 0
	$F $D ca && $F $D relay relay1 &&
		$F $D connector conn1 bench --allow 127.0.0.1/32 tcp 5201,7777 \
			--relay relay1 10.204.1.2:3478 10.204.1.2:4433 &&
		$F $D client bench --net bench conn1 --grant bench 127.0.0.1 tcp 5201,7777 \
			--relay relay1 10.204.1.2:3478 10.204.1.2:4433
}

postern_prep() { postern_build && postern_pki; }
postern_start() { # udp | tls | direct
	local P=$BUILD/src/app/postern path=(--transport "$1")
	rm -f "$W/pki/bench/client.sock"
	[ "$1" = direct ] && path=(--direct "$(cat "$W/pki/conn1/id")=10.204.2.1:4433")
	bg $S "$P" connector run --state "$W/pki/conn1" --listen-udp 10.204.2.1:4433
	bg $C "$P" client run --state "$W/pki/bench" --offline "${path[@]}" \
		--forward 127.0.0.1:9201=127.0.0.1:5201 --forward 127.0.0.1:9777=127.0.0.1:7777
}
postern_relay_up() {
	local i
	bg $R "$BUILD/src/app/postern" relay run --state "$W/pki/relay1" --udp 10.204.1.2:3478 \
		--tls 10.204.1.2:4433 --allow-peer 10.204.0.0/16
	for i in $(seq 200); do
		$C bash -c 'exec 3<>/dev/tcp/10.204.1.2/4433' 2>/dev/null && return 0
		sleep 0.02
	done
	echo "bench: relay did not come up" >&2
	return 1
}
peer_postern_relay_udp_prep() { postern_prep && postern_relay_up; }
peer_postern_relay_udp_start() { postern_start udp; }
peer_postern_relay_udp_target() { echo "127.0.0.1 9201 9777"; }
peer_postern_relay_tls_prep() { postern_prep && postern_relay_up; }
peer_postern_relay_tls_start() { postern_start tls; }
peer_postern_relay_tls_target() { echo "127.0.0.1 9201 9777"; }
peer_postern_direct_prep() { postern_prep; }
peer_postern_direct_start() { postern_start direct; }
peer_postern_direct_target() { echo "127.0.0.1 9201 9777"; }

postern_rows() {
	local r
	postern_prep || return 0
	for r in $POSTERN_ROWS; do
		measure "postern_$r"
	done
}
