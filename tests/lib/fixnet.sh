# The fixture network (sourced after netns.sh, by the client integration
# tests and scripts/demo.sh): its namespace topology, credentials minted by
# pnfixture (no controller needed) and bring-up of the relay, connectors
# and clients.  Needs root.
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
# Names are shown without netns.sh's per-run tag (pnc-cli is $NS_CLI): two
# runs of these tests never share or delete each other's namespaces.

NS_HUB=pnc-hub-$PN_TAG NS_CLI=pnc-cli-$PN_TAG NS_RELAY=pnc-relay-$PN_TAG
NS_CONN1=pnc-conn1-$PN_TAG NS_CONN2=pnc-conn2-$PN_TAG NS_RES=pnc-res-$PN_TAG
NET=10.203 # pn_controller_up: the controller at $NET.0.1 on the hub
PN_FIXTURE=${PN_FIXTURE:-$B/tests/lib/pnfixture}
C="ip netns exec $NS_CLI"
H="ip netns exec $NS_HUB"

pn_topo_up() {
	pn_ns $NS_HUB $NS_CLI $NS_RELAY $NS_CONN1 $NS_CONN2 $NS_RES || return 1
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
	pn_hosts $NS_CONN1 "10.203.9.2 app.corp.example echo.corp.example secret.corp.example"
	pn_hosts $NS_CONN2 "10.203.9.2 app.corp.example echo.corp.example secret.corp.example"
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
pn_pki_one_connector() { pn_pki || { bad "pki fixture"; pn_finish; }; }

pn_start_relay() {
	pn_bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/pki/relay1" \
		--udp 10.203.2.2:3478 --tls 10.203.2.2:4433 --ws-path /postern \
		--allow-peer 10.203.0.0/16
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

pn_start_client() { # state-name args...  (PN_CLIENT_ONLINE=1: not --offline)
	local name=$1 mode=(--offline)
	shift
	# (${PN_CLIENT_ONLINE:---offline} would pass the variable's value, "1",
	# as a stray argument, which `client run` refuses.)
	[ -n "${PN_CLIENT_ONLINE:-}" ] && mode=(--log info)
	pn_bg "client-$name" ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/pki/$name" \
		"${mode[@]}" "$@"
	pn_wait_file "$W/pki/$name/client.sock" 10 || bad "client $name started"
}

# pn_xfer_up: the bulk-transfer lab (tests/tunnel it_pmtu, it_tunnel_harsh):
# the topology with software GSO on the client's, relay's and conn1's links
# (the router sees the datagrams a real link carries, not GSO batches),
# conn1's PKI, tests/tunnel/pmtuxfer.py serving on the resource's port 5201,
# the relay and conn1.
pn_xfer_up() {
	local l
	pn_topo_up || bad "topology"
	for l in "$NS_CLI cli0" "$NS_RELAY relay0" "$NS_CONN1 conn0"; do
		set -- $l
		ip -n "$1" link set dev "$2" gso_max_segs 1 || bad "gso_max_segs on $2"
	done
	pn_pki_one_connector
	pn_bg xfer ip netns exec $NS_RES python3 "$PN_SRC/tests/tunnel/pmtuxfer.py" serve 5201
	pn_wait_tcp $NS_CONN1 10.203.9.2 5201 30 || bad "transfer server up"
	pn_start_relay
	pn_start_connector conn1
}

# Client status: the JSON of client NAME (state $W/pki/NAME), its first
# tunnel's FIELD ('-' without a tunnel), and a wait for its path.
pn_client_status() { $C "$PN_BIN" client status --json --state "$W/pki/$1"; }
pn_tunnel_field() { # name field
	pn_client_status "$1" | python3 -c "import json,sys; t=json.load(sys.stdin)['tunnels']; print(t[0]['$2'] if t else '-')" 2>/dev/null
}
pn_wait_tunnel_path() { # name path seconds
	local i
	for i in $(seq $(($3 * 5))); do
		[ "$(pn_tunnel_field "$1" path)" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
