#!/bin/bash
# Cold start, repeated: N times connector + client launched from nothing to
# the first echoed byte through a fresh tunnel (scripts/bench.sh's
# coldstart_ms, one row, many samples).  The relay is up and waited for
# before the first clock starts, as in the bench.  Needs root; runs in its
# own namespaces (pcs-c, pcs-r, pcs-s; 10.206.1.0/24 and 10.206.2.0/24),
# which it removes on exit.
#
#   bench/peers/coldstart.sh [relay_udp|relay_tls|direct|stunnel] [N]
#   (stunnel: stunnel4's client and server proxies launched the same way, as
#   the bench's stunnel row: the same-run reference)
#   env: CLIENT_ONLY=1 (the connector is started once, registered before the
#        first clock: only the client is launched, as the bench's
#        firstbyte_fresh_ms)  CLIENT_FIRST=1 (the client launched before the
#        connector, not after)  BUILD=out/build  LOG=info (the processes' --log)  KEEP_W=1 (keep the
#        work dir: logs per run)  STRACE=1 (strace -f -tt the processes of
#        each run into the work dir)
# Prints each run's ms, then p50 / p90 / max and the load average.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${1:-relay_udp}
N=${2:-20}
BUILD=${BUILD:-$ROOT/out/build}
LOG=${LOG:-info}
P=$BUILD/src/app/postern
F=$BUILD/tests/lib/pnfixture
PROBE="python3 $ROOT/bench/peers/probe.py"
[ "$(id -u)" -eq 0 ] || { echo "coldstart: needs root" >&2; exit 2; }
[ -x "$P" ] && [ -x "$F" ] || { echo "coldstart: build postern and pnfixture in $BUILD" >&2; exit 2; }
W=$(mktemp -d /tmp/pcs.XXXXXX)
chmod 755 "$W"
C="ip netns exec pcs-c"
R="ip netns exec pcs-r"
S="ip netns exec pcs-s"
SVC=()
cleanup() {
	local p n
	for p in "${SVC[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SVC[@]}"; do wait "$p" 2>/dev/null; done
	for n in pcs-c pcs-r pcs-s; do
		for p in $(ip netns pids $n 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del $n 2>/dev/null
	done
	[ -n "${KEEP_W:-}" ] && echo "coldstart: work dir kept: $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

for n in pcs-c pcs-r pcs-s; do
	ip netns del $n 2>/dev/null
	ip netns add $n && ip -n $n link set lo up || exit 1
done
ip link add pcsc0 netns pcs-c type veth peer name pcsr0 netns pcs-r
ip link add pcss0 netns pcs-s type veth peer name pcsr1 netns pcs-r
ip -n pcs-c addr add 10.206.1.1/24 dev pcsc0
ip -n pcs-r addr add 10.206.1.2/24 dev pcsr0
ip -n pcs-r addr add 10.206.2.2/24 dev pcsr1
ip -n pcs-s addr add 10.206.2.1/24 dev pcss0
for l in "pcs-c pcsc0" "pcs-r pcsr0" "pcs-r pcsr1" "pcs-s pcss0"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
ip -n pcs-c route add default via 10.206.1.2
ip -n pcs-s route add default via 10.206.2.2
$R sysctl -qw net.ipv4.ip_forward=1
# relay rows: nothing routed between the sides (no NAT traversal to direct)
if [ "$MODE" != direct ]; then
	$R nft -f - <<-NFT
	table ip pcs {
		chain block {
			type filter hook forward priority 0;
			ip saddr 10.206.1.0/24 ip daddr 10.206.2.0/24 drop
			ip saddr 10.206.2.0/24 ip daddr 10.206.1.0/24 drop
		}
	}
	NFT
fi

D=$W/pki
{ $F $D ca && $F $D relay relay1 &&
	$F $D connector conn1 bench --allow 127.0.0.1/32 tcp 7777 \
		--relay relay1 10.206.1.2:3478 10.206.1.2:4433 &&
	$F $D client bench --net bench conn1 --grant bench 127.0.0.1 tcp 7777 \
		--relay relay1 10.206.1.2:3478 10.206.1.2:4433; } >"$W/pki.log" 2>&1 ||
	{ cat "$W/pki.log" >&2; exit 1; }

$S $PROBE echo 7777 >>"$W/svc.log" 2>&1 &
SVC+=($!)
$R "$P" relay run --state "$D/relay1" --udp 10.206.1.2:3478 --tls 10.206.1.2:4433 \
	--allow-peer 10.206.0.0/16 --log "$LOG" >>"$W/relay.log" 2>&1 &
SVC+=($!)
for i in $(seq 600); do
	$C bash -c 'exec 3<>/dev/tcp/10.206.1.2/4433' 2>/dev/null && break
	sleep 0.05
done
coproc FBP { $C $PROBE firstbytes 127.0.0.1 9777 20; }
read -r -t 60 line <&"${FBP[0]}" || { echo "coldstart: probe did not start" >&2; exit 1; }

if [ "$MODE" = stunnel ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/st.key" \
		-out "$W/st.crt" -days 2 -subj /CN=pcs 2>/dev/null
	printf 'foreground = yes\npid =\n[e]\naccept = 10.206.2.1:8444\nconnect = 127.0.0.1:7777\ncert = %s\nkey = %s\n' \
		"$W/st.crt" "$W/st.key" >"$W/sts.conf"
	printf 'foreground = yes\npid =\n[e]\nclient = yes\naccept = 127.0.0.1:9777\nconnect = 10.206.2.1:8444\n' >"$W/stc.conf"
	# stunnel's path is routed (no relay)
	$R nft delete table ip pcs 2>/dev/null
fi
case $MODE in
stunnel) ;;
relay_udp) path=(--transport udp) ;;
relay_tls) path=(--transport tls) ;;
direct) path=(--direct "$(cat "$D/conn1/id")=10.206.2.1:4433") ;;
*) echo "coldstart: mode relay_udp|relay_tls|direct|stunnel" >&2; exit 2 ;;
esac
st() { # name: strace prefix when STRACE=1
	[ -n "${STRACE:-}" ] && echo "strace --seccomp-bpf -f -tt -e trace=${STRACE_SET:-execve,openat,network,poll,epoll_wait,epoll_pwait,write,getrandom} -o $W/$1.strace"
}
conn() { # log name
	if [ "$MODE" = stunnel ]; then
		$S $(st "$1") stunnel4 "$W/sts.conf" >"$W/$1.log" 2>&1 &
		cp=$!
		return
	fi
	$S $(st "$1") "$P" connector run --state "$D/conn1" --listen-udp 10.206.2.1:4433 \
		--log "$LOG" >"$W/$1.log" 2>&1 &
	cp=$!
}
cp=""
if [ -n "${CLIENT_ONLY:-}" ]; then
	conn conn
	SVC+=("$cp")
	cp=""
	for i in $(seq 600); do
		grep -q "relay_state relay=relay1 state=ready" "$W/conn.log" && break
		sleep 0.05
	done
fi
v=()
for i in $(seq "$N"); do
	rm -f "$D/bench/client.sock"
	t0=$(date +%s.%N)
	echo "$t0" >&"${FBP[1]}"
	[ -n "${CLIENT_ONLY:-}${CLIENT_FIRST:-}" ] || conn "conn$i"
	if [ "$MODE" = stunnel ]; then
		$C $(st "client$i") stunnel4 "$W/stc.conf" >"$W/client$i.log" 2>&1 &
	else
		$C $(st "client$i") "$P" client run --state "$D/bench" --offline "${path[@]}" \
			--forward 127.0.0.1:9777=127.0.0.1:7777 --log "$LOG" >"$W/client$i.log" 2>&1 &
	fi
	clp=$!
	[ -z "${CLIENT_FIRST:-}" ] || conn "conn$i"
	read -r -t 30 line <&"${FBP[0]}" || line="ms: timeout"
	echo "$t0" >"$W/t0.$i"
	v+=("${line#ms: }")
	echo "run $i: ${line#ms: } ms"
	# under strace, the traced postern processes (strace outlives a SIGTERM)
	[ -n "${STRACE:-}" ] && kill $(pgrep -P "$clp") ${cp:+$(pgrep -P "$cp")} 2>/dev/null
	kill "$clp" $cp 2>/dev/null
	wait "$clp" $cp 2>/dev/null
done
eval "exec ${FBP[1]}>&-"
wait "$FBP_PID" 2>/dev/null
echo "mode: $MODE, n $N, load average: $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf '%s\n' "${v[@]}" | python3 -c 'import sys
v = sorted(float(x) for x in sys.stdin.read().split() if x != "timeout")
f = lambda p: v[min(len(v) - 1, int(len(v) * p))]
print("coldstart_ms: p50 %.0f, p90 %.0f, max %.0f (timeouts %d)" % (f(0.5), f(0.9), v[-1], '"$N"' - len(v)) if v else "coldstart_ms: no sample")'
