# Postern's rows for scripts/bench.sh (sourced).  Same topology and
# services as the peers:
#   client  (pnb-c): port-forwards 127.0.0.1:9201 -> 127.0.0.1:5201 (iperf3)
#                                  127.0.0.1:9777 -> 127.0.0.1:7777 (echo)
#   relay   (pnb-r): UDP 10.204.1.2:3478, TLS 10.204.1.2:4433 (also reachable
#                    from pnb-s through the router)
#   connector (pnb-s): outbound to the relay; proxies to 127.0.0.1 in pnb-s
# postern_transparent: the same path as postern_relay_udp (relay over UDP),
# but the client runs --transparent and the applications connect to a
# protected name (iperf.bench.example: a synthetic address from the
# client's responder; the connector resolves it to 127.0.0.1 in pnb-s) with
# no proxy or forward: the kernel hands the connections to the client
# (TPROXY).  Until the client is up the name does not resolve, so the cold
# start counts until the first byte through the tunnel.  Extra metric
# dns_a_p99_us: the p99 time to answer that name's A query at the
# responder (2000 queries over UDP).  pnb-c gets a private resolv.conf and
# pnb-s a hosts file (/etc/netns/pnb-*, removed by the cleanup).
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
			--allow iperf.bench.example tcp 5201,7777 \
			--relay relay1 10.204.1.2:3478 10.204.1.2:4433 &&
		$F $D client bench --net bench conn1 --grant bench 127.0.0.1 tcp 5201,7777 \
			--grant bench iperf.bench.example tcp 5201,7777 \
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
		--tls 10.204.1.2:4433
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
peer_postern_transparent_prep() {
	postern_prep && postern_relay_up || return 1
	# ip netns exec bind-mounts this file over /etc/resolv.conf in pnb-c:
	# the host's own file is never touched
	mkdir -p /etc/netns/pnb-c /etc/netns/pnb-s &&
		printf 'nameserver 10.204.1.2\n' >/etc/netns/pnb-c/resolv.conf &&
		printf '127.0.0.1 localhost iperf.bench.example\n' >/etc/netns/pnb-s/hosts
}
peer_postern_transparent_start() {
	local P=$BUILD/src/app/postern
	rm -f "$W/pki/bench/client.sock"
	bg $S "$P" connector run --state "$W/pki/conn1" --listen-udp 10.204.2.1:4433
	bg $C "$P" client run --state "$W/pki/bench" --offline --transparent --transport udp \
		--log warn
}
peer_postern_transparent_target() { echo "iperf.bench.example 5201 7777"; }
peer_postern_transparent_extra() {
	RES[postern_transparent.dns_a_p99_us]=$($C python3 - <<'PY'
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
name = b"".join(bytes([len(l)]) + l for l in b"iperf.bench.example".split(b".")) + b"\0"
lat, lost = [], 0
for i in range(2000):
    q = struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + name + b"\0\1\0\1"
    t0 = time.perf_counter()
    s.sendto(q, ("127.0.0.153", 53))
    try:
        while struct.unpack(">H", s.recvfrom(512)[0][:2])[0] != i:
            pass  # a late reply to an earlier query
    except socket.timeout:
        lost += 1  # counted as its 2 s: a lost query is a slow answer
        if lost >= 5:
            break  # the responder is not answering: no figure
    lat.append(time.perf_counter() - t0)
lat.sort()
print("%.0f" % (lat[1980] * 1e6) if lost < 5 else "fail(%d lost at query %d)" % (lost, i))
PY
)
}
postern_transparent_cleanup() {
	rm -rf /etc/netns/pnb-c /etc/netns/pnb-s
	rmdir /etc/netns 2>/dev/null || true
}
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
