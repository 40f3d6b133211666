#!/bin/bash
# Path MTU (docs/tunnel.md): over 1,500-byte veths the tunnel's packets
# reach the path's ceiling (1,452-byte UDP payloads direct; 1,443-byte
# QUIC packets + the relay's 9-byte header on a relay-UDP path), and when
# a 1,280-byte black hole appears mid-transfer (nftables on the router
# drops every UDP packet longer than 1,280 bytes) a download and an upload
# running at once complete intact with no 100 ms-sampled gap over 5 s.
# Direct path first, then relay-UDP (direct UDP between client and
# connector blocked so NAT traversal cannot leave the relay).  Needs root.
#
# Topology: tests/lib/fixnet.sh (client -- hub router -- relay / connector
# -- resource).  SIZE bytes each way (64 MiB; 16 MiB under sanitizers).
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" pmtu
source "$(dirname "$0")/../lib/fixnet.sh"
SIZE=$((64 << 20))
if grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	SIZE=$((16 << 20))
fi
XFER="timeout 150 python3 $PN_SRC/tests/tunnel/pmtuxfer.py"
NFT="ip netns exec $NS_HUB nft"

# Software GSO before the wire (pn_xfer_up): UDP GSO batches would cross
# the veths as one super-packet, which nftables on the router measures (and
# drops) whole; segmented, the router sees the datagrams a real link carries.
pn_xfer_up

# Counters on the router: forwarded UDP by IP length.  A 1,452-byte UDP
# payload is 1,480 bytes of IPv4; 1,200 is 1,228.
$NFT -f - <<'EOF' || bad "nft table"
table inet pmtu {
	chain pf {
		type filter hook forward priority 0;
		meta l4proto udp meta length 1470-1480 counter comment "full"
		meta l4proto udp meta length 1281-1469 counter comment "mid"
		meta l4proto udp meta length 1200-1280 counter comment "small"
	}
}
EOF
declare -A BASE_CNT
raw_counter() { # comment: packets counted by that rule since it was added
	$NFT -a list chain inet pmtu pf | sed -n "s/.*counter packets \([0-9]*\) .*comment \"$1\".*/\1/p" | head -1
}
counter() { # comment: packets counted since the last zero (0 if no such rule yet)
	local v
	v=$(raw_counter "$1")
	echo $((${v:-0} - ${BASE_CNT[$1]:-0}))
}
hole_off() {
	local h
	h=$($NFT -a list chain inet pmtu pf | sed -n 's/.*comment "hole".*# handle \([0-9]*\).*/\1/p')
	[ -n "$h" ] && $NFT delete rule inet pmtu pf handle "$h"
}
zero() { # inline rule counters have no reset in nft 1.0.6: remember them
	local k v
	for k in full mid small hole; do
		v=$(raw_counter $k)
		BASE_CNT[$k]=${v:-0}
	done
}

status_json() { pn_client_status "$1"; }
pmtu_field() { # state field: the first tunnel's pmtu.field
	status_json "$1" | python3 -c "import json,sys; t=json.load(sys.stdin)['tunnels'][0]; print(t['pmtu']['$2'] if 'pmtu' in t else '-')" 2>/dev/null
}
path_of() { pn_tunnel_field "$1" path; }

# One phase: warm the tunnel, check the full size, then a transfer with
# the black hole switched on once a quarter of either direction has gone
# (both still moving).
phase() { # label state-name forward-port expected-path ceiling
	local L=$1 st=$2 F=$3 want=$4 ceil=$5 out full small mid sz
	# a first flow brings the tunnel up
	for i in $(seq 300); do
		$C python3 -c "import socket; socket.create_connection(('127.0.0.1', $F), timeout=2).close()" \
			2>/dev/null && break
		sleep 0.1
	done
	pn_wait_tunnel_path "$st" "$want" 60 && ok "$L: tunnel on the $want path" ||
		bad "$L: tunnel on the $want path (got $(path_of "$st"))"
	# the search ends within a few round trips of the handshake
	for i in $(seq 300); do
		[ "$(pmtu_field "$st" state)" = done ] && break
		sleep 0.1
	done
	sz=$(pmtu_field "$st" max_udp_payload)
	echo "    $L: client status pmtu: $(status_json "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0].get("pmtu"))')"
	[ "${sz:-0}" -ge $((ceil - 3)) ] 2>/dev/null && [ "$sz" -le "$ceil" ] &&
		ok "$L: client status max_udp_payload $sz (ceiling $ceil)" ||
		bad "$L: client status max_udp_payload ${sz:-none}, wanted $((ceil - 3))..$ceil"

	# a transfer on the clean path: the data packets are full size
	zero
	out=$($C $XFER run 127.0.0.1 "$F" $((SIZE / 4)))
	echo "$out" | sed 's/^/    clean: /'
	full=$(counter full) small=$(counter small) mid=$(counter mid)
	echo "    $L: clean: full=$full mid=$mid small=$small (UDP packets by IP length)"
	expect "$L: clean transfer intact" "down_sha: ok" "$out"
	[ "${full:-0}" -gt $((SIZE / 4 / 1452)) ] && [ "${full:-0}" -gt $((10 * (${small:-0} + ${mid:-0}))) ] &&
		ok "$L: data went in full-size packets" || bad "$L: data went in full-size packets"

	# the black hole, mid-transfer
	zero
	out=$($C $XFER run 127.0.0.1 "$F" "$SIZE" --at $((SIZE / 4)) "$NFT add rule inet pmtu pf meta l4proto udp meta length '>' 1280 counter drop comment '\"hole\"'")
	echo "$out" | sed 's/^/    hole: /'
	echo "    $L: hole: full=$(counter full) small=$(counter small) dropped=$(counter hole)"
	expect "$L: black hole switched on mid-transfer" "fired: yes" "$out"
	expect "$L: download intact through the black hole" "down_sha: ok" "$out"
	expect "$L: upload intact through the black hole" "up_sha: ok" "$out"
	for d in down up; do
		g=$(sed -n "s/^${d}_gap_ms: //p" <<<"$out")
		[ -n "$g" ] && [ "$g" -le 5000 ] && ok "$L: $d: longest gap ${g} ms <= 5 s" ||
			bad "$L: $d: longest gap ${g:-?} ms"
	done
	[ "$(counter hole)" -gt 0 ] && ok "$L: the black hole dropped packets" || bad "$L: the black hole dropped packets"
	sz=$(pmtu_field "$st" max_udp_payload)
	[ "${sz:-9999}" -le 1252 ] && ok "$L: client now sends <= 1252-byte packets ($sz)" ||
		bad "$L: client size after the black hole: ${sz:-none}"
	bh=$(pmtu_field "$st" black_holes)
	[ "${bh:-0}" -ge 1 ] && ok "$L: client status counts the black hole ($bh)" ||
		bad "$L: client status black_holes ${bh:-none}"
	pn_wait_log "$W/connector-conn1.log" "pmtu .*size=1200 .*black_holes=[1-9]" 10 &&
		ok "$L: connector fell back to 1200" || bad "$L: connector fell back to 1200"
	hole_off
}

# Direct path.
pn_start_client alice --forward 127.0.0.1:15201=10.203.9.2:5201 $(pn_direct_args)
phase direct alice 15201 direct 1452
pn_stop_check client-alice 10
# the connector's tunnel ends with the client's close; its log lines for
# the next phase are told apart by the count
n0=$(pn_count "$W/connector-conn1.log" "black_holes=[1-9]")

# Relay over UDP: direct UDP between client and connector blocked.
$NFT add rule inet pmtu pf ip saddr 10.203.1.0/24 ip daddr 10.203.4.0/24 meta l4proto udp drop
$NFT add rule inet pmtu pf ip saddr 10.203.4.0/24 ip daddr 10.203.1.0/24 meta l4proto udp drop
cp -a "$W/pki/alice" "$W/pki/alice-relay" && rm -f "$W/pki/alice-relay/client.sock"
pn_start_client alice-relay --forward 127.0.0.1:15202=10.203.9.2:5201
phase relay-udp alice-relay 15202 relay-udp 1443
n1=$(pn_count "$W/connector-conn1.log" "black_holes=[1-9]")
[ "$n1" -gt "$n0" ] && ok "relay-udp: connector logged its own fallback" ||
	bad "relay-udp: connector logged its own fallback ($n0 -> $n1)"

pn_finish
