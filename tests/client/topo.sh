# Namespace topology shared by the client integration tests and
# scripts/demo.sh (sourced, not run).  Needs root.
#
#                       +------------------- pnc-hub (router) -------------------+
#                       | 10.203.0.1/32 (controller)                              |
#   pnc-cli 10.203.1.2 -+- 10.203.1.1     10.203.2.1 -+- 10.203.2.2 pnc-relay       |
#   (client)            |                 10.203.4.1 -+- 10.203.4.2 pnc-conn1 --+   |
#                       |                 10.203.5.1 -+- 10.203.5.2 pnc-conn2 --+   |
#                       +---------------------------------------------------------+
#   pnc-conn1 10.203.9.1 ---- 10.203.9.2 pnc-res 10.203.10.1 ---- 10.203.10.2 pnc-conn2
#
# pnc-res (the private resource network: HTTP :8000, TCP echo :7, UDP echo
# :7, a second "not granted" HTTP :8001) has routes only to the connectors'
# links: the client cannot reach it except through a connector.  The
# connectors resolve app/echo/secret.corp.example to 10.203.9.2.
#
# (Names below are shown without the per-run tag: pnc-cli is $NS_CLI.)
# Callers set: PN_BIN (postern), PN_FIXTURE (pnfixture), W (work dir).
# Processes started with pn_bg are killed by pid in pn_topo_down.

# Namespace names carry a per-run tag so that two runs of these tests
# (e.g. a release and a sanitizer build tested at the same time) never
# share or delete each other's namespaces.
PN_TAG=${PN_TAG:-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')}
NS_HUB=pnc-hub-$PN_TAG NS_CLI=pnc-cli-$PN_TAG NS_RELAY=pnc-relay-$PN_TAG
NS_CONN1=pnc-conn1-$PN_TAG NS_CONN2=pnc-conn2-$PN_TAG NS_RES=pnc-res-$PN_TAG
PN_NS="$NS_HUB $NS_CLI $NS_RELAY $NS_CONN1 $NS_CONN2 $NS_RES"
PN_PIDS=()

pn_bg() { # name cmd... : start in background, log to $W/name.log, remember pid
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PN_PIDS+=($!)
	eval "PID_${name//-/_}=$!"
}

pn_veth() { # ns1 if1 addr1 ns2 if2 addr2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

pn_topo_up() {
	local n
	pn_topo_down_ns
	for n in $PN_NS; do
		ip netns add $n
		ip -n $n link set lo up
	done
	ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
	ip -n $NS_HUB addr add 10.203.0.1/32 dev lo
	pn_veth $NS_HUB h-cli 10.203.1.1/24 $NS_CLI cli0 10.203.1.2/24
	pn_veth $NS_HUB h-relay 10.203.2.1/24 $NS_RELAY relay0 10.203.2.2/24
	pn_veth $NS_HUB h-conn1 10.203.4.1/24 $NS_CONN1 conn0 10.203.4.2/24
	pn_veth $NS_HUB h-conn2 10.203.5.1/24 $NS_CONN2 conn0 10.203.5.2/24
	pn_veth $NS_CONN1 res1 10.203.9.1/24 $NS_RES r1 10.203.9.2/24
	pn_veth $NS_CONN2 res2 10.203.10.2/24 $NS_RES r2 10.203.10.1/24
	ip -n $NS_CLI route add default via 10.203.1.1
	ip -n $NS_RELAY route add default via 10.203.2.1
	ip -n $NS_CONN1 route add default via 10.203.4.1
	ip -n $NS_CONN2 route add default via 10.203.5.1
	# Both connectors reach the resource as 10.203.9.2 (conn2 through its
	# own link: pnc-res owns that address on r1 and answers on r2 too).
	ip -n $NS_CONN2 route add 10.203.9.2/32 via 10.203.10.1
	# Names resolve on the connectors' side only (ip netns exec bind-mounts
	# /etc/netns/NS/hosts over /etc/hosts): remote name resolution.
	for n in $NS_CONN1 $NS_CONN2; do
		mkdir -p /etc/netns/$n
		printf '127.0.0.1 localhost\n10.203.9.2 app.corp.example echo.corp.example secret.corp.example\n' >/etc/netns/$n/hosts
	done
}

pn_resources() { # HTTP :8000 (granted) and :8001 (not granted), TCP+UDP echo :7
	mkdir -p "$W/www"
	echo "hello from the private resource ($NS_RES)" >"$W/www/index.html"
	pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 0.0.0.0 --directory "$W/www"
	pn_bg http2 ip netns exec $NS_RES python3 -m http.server 8001 --bind 0.0.0.0 --directory "$W/www"
	pn_bg echo ip netns exec $NS_RES python3 "$PN_SRC/bench/peers/probe.py" echo 7
	pn_bg uecho ip netns exec $NS_RES python3 "$PN_SRC/bench/peers/probe.py" udp-echo 7
	pn_wait_tcp $NS_CONN1 10.203.9.2 8000 10 && pn_wait_tcp $NS_CONN1 10.203.9.2 8001 10 &&
		pn_wait_tcp $NS_CONN1 10.203.9.2 7 10
}

pn_wait_tcp() { # ns host port [seconds]
	local i
	for i in $(seq $((${4:-10} * 20))); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

pn_wait_file() { # path [seconds]
	local i
	for i in $(seq $((${2:-10} * 20))); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

pn_topo_down_ns() {
	local n p
	for n in $PN_NS; do
		for p in $(ip netns pids $n 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del $n 2>/dev/null
		rm -rf "/etc/netns/$n"
	done
}

pn_stop_graceful() { # SIGTERM, then wait up to 5 s for each process
	local p i
	for p in "${PN_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PN_PIDS[@]}"; do
		for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	done
}

pn_topo_down() {
	local p
	for p in "${PN_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PN_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	PN_PIDS=()
	pn_topo_down_ns
}
