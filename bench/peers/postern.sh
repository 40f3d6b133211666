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
	bench_cmake_build postern pnfixture || { echo "bench: postern build failed" >&2; return 1; }
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
# Relay rows go through the relay only: the router forwards nothing between
# pnb-c and pnb-s while they run, or NAT traversal would move the tunnel to
# a direct path within ~100 ms here (no NAT) and the row would measure that.
postern_relay_only() { # on | off
	$R nft delete table ip pnbrelay 2>/dev/null
	[ "$1" = on ] || return 0
	$R nft -f - <<-NFT
	table ip pnbrelay {
		chain block {
			type filter hook forward priority 0;
			ip saddr 10.204.1.0/24 ip daddr 10.204.2.0/24 drop
			ip saddr 10.204.2.0/24 ip daddr 10.204.1.0/24 drop
		}
	}
	NFT
}
postern_start() { # udp | tls | ws | direct
	local P=$BUILD/src/app/postern path=(--transport "$1")
	rm -f "$W/pki/bench/client.sock"
	if [ "$1" = direct ]; then postern_relay_only off; else postern_relay_only on; fi
	[ "$1" = direct ] && path=(--direct "$(cat "$W/pki/conn1/id")=10.204.2.1:4433")
	bg $S "$P" connector run --state "$W/pki/conn1" --listen-udp 10.204.2.1:4433
	bg $C "$P" client run --state "$W/pki/bench" --offline "${path[@]}" \
		--forward 127.0.0.1:9201=127.0.0.1:5201 --forward 127.0.0.1:9777=127.0.0.1:7777
}
# PN_BENCH_RELAY_WORKERS=N: the relay with --workers N (default: its own,
# one per CPU)
postern_relay_up() {
	local i
	bg $R "$BUILD/src/app/postern" relay run --state "$W/pki/relay1" --udp 10.204.1.2:3478 \
		--tls 10.204.1.2:4433 --ws-path /postern --allow-peer 10.204.0.0/16 \
		${PN_BENCH_RELAY_WORKERS:+--workers "$PN_BENCH_RELAY_WORKERS"}
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
# postern_relay_ws: the relay reached over a WebSocket (plain HTTP upgrade
# on the relay's TLS port, the relay's own TLS inside it)
peer_postern_relay_ws_prep() { postern_prep && postern_relay_up; }
peer_postern_relay_ws_start() { postern_start ws; }
peer_postern_relay_ws_target() { echo "127.0.0.1 9201 9777"; }
peer_postern_transparent_prep() {
	postern_prep && postern_relay_up || return 1
	# pnb-c's own resolver (before the client takes DNS over): answers
	# NXDOMAIN for the protected name, as a host's resolver would.  With
	# no server there, the probe's early lookups met ICMP port unreachable
	# until the router's ICMP rate limit, then waited out the stub
	# resolver's 5 s timeout (the 5.1 s cold starts).
	if [ -z "${POSTERN_DNS_UP:-}" ]; then
		$R $PYPROBE dns-nx 53 10.204.1.2 >>"$W/bg.log" 2>&1 &
		SVC_PIDS+=($!)
		POSTERN_DNS_UP=1
	fi
	local i # listening before the clock starts (probe.py's start-up: seconds under load)
	for i in $(seq 600); do
		$R ss -Hlun 'sport = :53' | grep -q 10.204.1.2 && break
		sleep 0.05
	done
	# ip netns exec bind-mounts this file over /etc/resolv.conf in pnb-c:
	# the host's own file is never touched
	mkdir -p /etc/netns/pnb-c /etc/netns/pnb-s &&
		printf 'nameserver 10.204.1.2\n' >/etc/netns/pnb-c/resolv.conf &&
		printf '127.0.0.1 localhost iperf.bench.example\n' >/etc/netns/pnb-s/hosts
}
peer_postern_transparent_start() {
	local P=$BUILD/src/app/postern
	rm -f "$W/pki/bench/client.sock"
	postern_relay_only on
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

# postern_p2p: the direct path found by NAT traversal, not configured.
# Client and connector each behind a NAT keeping ports (nftables
# masquerade: endpoint-independent mapping, filtering by conntrack), two
# relays on the router for the STUN answers that classify the NATs:
#
#   pnb-pc 10.205.1.2 -- 10.205.1.1 [pnb-pcn] 10.204.3.2 -- 10.204.3.1 |
#                                                         pnb-r  (relays 10.204.1.2, 10.204.2.2)
#   pnb-ps 10.205.2.2 -- 10.205.2.1 [pnb-psn] 10.204.4.2 -- 10.204.4.1 |
#   (connector; its own iperf3 and echo on 127.0.0.1)
#
# The tunnel starts on a relay (UDP); the row waits until the client
# reports the direct path, then measures as the other rows do.  Also
# time_to_direct_ms (the client's figure, tunnel up -> direct): its median
# over P2P_TTD_RUNS (default 5) fresh tunnels.
P2P_NS="pnb-pc pnb-pcn pnb-ps pnb-psn"
p2p_bg() { "$@" >>"$W/p2p.log" 2>&1 & PIDS+=($!); }
postern_p2p_nat() { # nat-ns host-ns wan-ip router-ip lan-prefix (x.y.z) router-if
	ip link add pnbw0 netns "$1" type veth peer name "$6" netns pnb-r
	ip link add pnbl0 netns "$1" type veth peer name pnbh0 netns "$2"
	ip -n "$1" addr add "$3/24" dev pnbw0
	ip -n pnb-r addr add "$4/24" dev "$6"
	ip -n "$1" addr add "$5.1/24" dev pnbl0
	ip -n "$2" addr add "$5.2/24" dev pnbh0
	ip -n "$1" link set pnbw0 up
	ip -n "$1" link set pnbl0 up
	ip -n "$2" link set pnbh0 up
	ip -n pnb-r link set "$6" up
	ip -n "$1" route add default via "$4"
	ip -n "$2" route add default via "$5.1"
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
	# no inbound NAT: unsolicited packets to the NAT are dropped (a home
	# router's firewall), replies pass by conntrack
	ip netns exec "$1" nft -f - <<-NFT
	table ip pnb {
		chain post { type nat hook postrouting priority 100; oifname "pnbw0" masquerade; }
		chain in { type filter hook input priority 0; iifname "pnbw0" ct state new drop; }
	}
	NFT
}
postern_p2p_prep() {
	local F=$BUILD/tests/lib/pnfixture D=$W/pki-p2p n
	local r="--relay relay1 10.204.1.2:3478 10.204.1.2:4433 --relay relay2 10.204.2.2:3478 10.204.2.2:4433"
	postern_build || return 1
	if [ ! -d "$D" ]; then
		{ $F $D ca && $F $D relay relay1 && $F $D relay relay2 &&
			$F $D connector conn1 bench --allow 127.0.0.1/32 tcp 5201,7777 $r &&
			$F $D client bench --net bench conn1 --grant bench 127.0.0.1 tcp 5201,7777 $r; } \
			>"$W/pki-p2p.log" 2>&1 || return 1
		for n in $P2P_NS; do
			ip netns del "$n" 2>/dev/null
			ip netns add "$n" && ip -n "$n" link set lo up || return 1
		done
		postern_p2p_nat pnb-pcn pnb-pc 10.204.3.2 10.204.3.1 10.205.1 pnbr3 &&
			postern_p2p_nat pnb-psn pnb-ps 10.204.4.2 10.204.4.1 10.205.2 pnbr4 || return 1
		ip netns exec pnb-ps iperf3 -s -p 5201 >>"$W/bg.log" 2>&1 &
		SVC_PIDS+=($!)
		ip netns exec pnb-ps $PROBE echo 7777 >>"$W/bg.log" 2>&1 &
		SVC_PIDS+=($!)
		sleep 0.5
	fi
: >"$W/p2p.log"
	for n in 1 2; do
		p2p_bg $R "$BUILD/src/app/postern" relay run --state "$D/relay$n" --udp 10.204.$n.2:3478 \
			--tls 10.204.$n.2:4433 --stats-interval 0 --allow-peer 10.0.0.0/8
	done
	for n in $(seq 250); do
		$R bash -c 'exec 3<>/dev/tcp/10.204.1.2/4433 && exec 4<>/dev/tcp/10.204.2.2/4433' \
			2>/dev/null && break
		sleep 0.02
	done
	p2p_bg ip netns exec pnb-ps "$BUILD/src/app/postern" connector run --state "$D/conn1"
	# registered with both relays before the clock starts (as the relay
	# rows' relay is up before theirs)
	for n in $(seq 500); do
		[ "$(grep -c "peer_up role=connector" "$W/p2p.log")" -ge 2 ] && return 0
		sleep 0.02
	done
	echo "bench: p2p connector did not register with the relays" >&2
	return 1
}
postern_p2p_client() {
	rm -f "$W/pki-p2p/bench/client.sock"
	p2p_bg ip netns exec pnb-pc "$BUILD/src/app/postern" client run --state "$W/pki-p2p/bench" \
		--offline --forward 127.0.0.1:9201=127.0.0.1:5201 --forward 127.0.0.1:9777=127.0.0.1:7777
}
postern_p2p_wait_direct() { # prints time_to_direct_ms once the tunnel is direct, or "fail"
	# A direct path with time_to_direct_ms 0 is "not recorded": never
	# printed as a figure (the client used to note the switch on its next
	# 50 ms tick, after the path already showed direct).
	local i
	for i in $(seq 600); do
		ip netns exec pnb-pc "$BUILD/src/app/postern" client status --json \
			--state "$W/pki-p2p/bench" 2>/dev/null | python3 -c '
import json, sys
try:
    for t in json.load(sys.stdin)["tunnels"]:
        v = t.get("p2p", {}).get("time_to_direct_ms", 0)
        if t["path"] == "direct" and v > 0:
            print(v); sys.exit(0)
except Exception:
    pass
sys.exit(1)' && return 0
		sleep 0.05
	done
	echo fail
}
peer_postern_p2p_prep() { postern_p2p_prep; }
peer_postern_p2p_start() {
	postern_p2p_client
	# the first byte goes over the relay; measure on the direct path
	RES[postern_p2p.ttd_first_ms]=$(postern_p2p_wait_direct)
}
peer_postern_p2p_target() { echo "127.0.0.1 9201 9777"; }
postern_p2p_ttd() { # time to direct over fresh tunnels (client restarts)
	local v=() i t
	postern_p2p_prep || return
	for i in $(seq "${P2P_TTD_RUNS:-5}"); do
		postern_p2p_client
		ip netns exec pnb-pc $PROBE firstbyte 127.0.0.1 9777 "$(date +%s.%N)" 20 >/dev/null
		v+=("$(postern_p2p_wait_direct)")
		kill "${PIDS[-1]}" 2>/dev/null
		wait "${PIDS[-1]}" 2>/dev/null
		unset 'PIDS[-1]'
	done
	stop_pids
	t=$(printf '%s\n' "${v[@]}" | python3 -c 'import sys
v = sorted(float(x) for x in sys.stdin.read().split() if x.isdigit() and int(x) > 0)
print("%d" % v[len(v) // 2] if v else "fail")')
	RES[postern_p2p.ttd_ms]=$t
	RES[postern_p2p.ttd_runs]="${v[*]}"
}

# First byte of FB_RUNS (default 50) fresh tunnels through the relay
# (transport udp or tls): relay and connector up and registered, then the
# client started FB_RUNS times; each time from its launch to the first
# echoed byte (pnb_probe firstbytes, already running), then the client is
# stopped.  Goal: max <= 3 x p50.
fb_bg() { "$@" >>"$W/fb.log" 2>&1 & PIDS+=($!); }
postern_fb_runs() { # udp|tls
	local P=$BUILD/src/app/postern n=${FB_RUNS:-50} v=() i t0 line cpid out
	[ "$n" -gt 0 ] || return 0
	: >"$W/fb.log"
	fb_bg $R "$P" relay run --state "$W/pki/relay1" --udp 10.204.1.2:3478 \
		--tls 10.204.1.2:4433 --allow-peer 10.204.0.0/16
	fb_bg $S "$P" connector run --state "$W/pki/conn1" --listen-udp 10.204.2.1:4433
	for i in $(seq 500); do
		grep -q "peer_up role=connector" "$W/fb.log" && break
		sleep 0.02
	done
	coproc FBP { $C $PROBE firstbytes 127.0.0.1 9777 20; }
	# the clock starts once the probe runs (its start-up used to be counted
	# in the first tunnel: 460-530 ms against 43-84 for the others)
	read -r -t 60 line <&"${FBP[0]}"
	for i in $(seq "$n"); do
		rm -f "$W/pki/bench/client.sock"
		t0=$(date +%s.%N)
		$C "$P" client run --state "$W/pki/bench" --offline --transport "$1" \
			--forward 127.0.0.1:9777=127.0.0.1:7777 >>"$W/fb.log" 2>&1 &
		cpid=$!
		echo "$t0" >&"${FBP[1]}"
		read -r -t 30 line <&"${FBP[0]}" || line="ms: timeout"
		v+=("${line#ms: }")
		kill "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	done
	eval "exec ${FBP[1]}>&-"
	wait "$FBP_PID" 2>/dev/null
	stop_pids
	out=$(printf '%s\n' "${v[@]}" | $PROBE stats)
	RES[postern_relay_$1.fb]="p50 $(echo "$out" | field p50) ms, p99 $(echo "$out" | field p99) ms, max $(echo "$out" | field max) ms, max/p50 $(echo "$out" | field max_over_p50) (n $(echo "$out" | field n), failures $(echo "$out" | field failures))"
	RES[postern_relay_$1.fb_runs]="${v[*]}"
}

postern_rows() { # ROUNDS > 1: the rows again, alternating, tput pooled
	local r k c0=$C
	postern_prep || return 0
	for k in $(seq "${ROUNDS:-1}"); do
		for r in $POSTERN_ROWS; do
			# the p2p row's client is behind its NAT: probes run there
			[ "$r" = p2p ] && C="ip netns exec pnb-pc"
			measure "postern_$r"
			[ "$r" = p2p ] && [ "$k" = 1 ] && postern_p2p_ttd
			case $r in relay_udp | relay_tls) [ "$k" = 1 ] && postern_fb_runs "${r#relay_}" ;; esac
			C=$c0
		done
	done
}
