#!/bin/bash
# Direct paths over time in the NAT lab (tests/lib/natlab.sh).
#
#   it_nat_paths.sh BUILD keepalive|negative|roam
#
#                     pnl-hub (router) --- relays 10.214.1.2/.3
#     [cnat] 10.214.2.2 -----+----- 10.214.3.x [onat or the connector]
#        client 10.215.1.2   +----- 10.214.9.2 pnl-atk (negative: a third host)
#
# keepalive (eim x eim, conntrack UDP timeout 10 s for the direct path in
#   both NATs, an nftables timeout policy): after a
#   first download the tunnel sits idle on its direct path.  With the
#   default 25 s keepalive both mappings expire first: the keepalive goes
#   unanswered, the tunnel falls back to the relay, the next probing round
#   finds the direct path again, and the client logs p2p_mapping_expired
#   with the adapted interval (25 s / 3).  Then 22 s idle (2.2x the
#   timeout) on the direct path: no switch, keepalives counted, a second
#   download still direct and byte-exact.
# negative (eim client x open connector): during a download on the direct
#   path, from the hub and a third host: replays of captured tunnel
#   packets, bit-flipped copies and garbage with the tunnel's CID (from the
#   third address and with the client's address forged), probe-looking
#   packets, QUIC Initials: the path does not move (no p2p_path line, same
#   switch count), the third host gets no reply larger than what it sent
#   (bytes in and out counted); then the direct path is cut at the hub
#   while packets forged as the connector's keep coming to the client:
#   the client still falls back to the relay within 4.5 s.  Download
#   byte-exact throughout; `client status` human-readable shows the pair.
# roam (eim client x open connector): mid-download on the direct path the
#   relays are stopped: the tunnel survives its relay session
#   (session_closed tunnel=kept); then the client's address changes
#   (10.215.1.2 -> .3, the old one removed): the client re-gathers
#   (p2p_interfaces), re-sends its candidates, and the tunnel moves
#   direct -> direct (the connector logs p2p_path with the new remote and
#   the open flow's id); bytes flow after each step, the download is
#   byte-exact and the tunnel never goes down.
set -uo pipefail
BUILD=${1:?build dir}
MODE=${2:?mode}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" natp
source "$(dirname "$0")/../lib/natlab.sh"

download() { # out [curl args]: through the client's SOCKS5
	local out=$1
	shift
	$C curl -s --max-time 150 --socks5 127.0.0.1:1080 "$@" http://10.217.1.2:8000/blob -o "$out"
}
sha_ok() { # file
	local got
	got=$(sha256sum <"$1" | cut -d' ' -f1)
	[ "$got" = "$BLOB_SHA" ] && ok "sha256 equal ($(stat -c %s "$1") bytes)" ||
		bad "sha256 differs ($(stat -c %s "$1" 2>/dev/null) bytes)"
}
p2pfield() { # KEY: a field of the tunnel's p2p status
	natlab_status 2>/dev/null | python3 -c '
import json, sys
try:
    print(json.load(sys.stdin)["tunnels"][0]["p2p"].get(sys.argv[1], "-"))
except Exception:
    print("-")' "$1"
}
showlogs() {
	grep -h "p2p_\|session_closed\|tunnel_down" "$W/client.log" "$W/connector.log" | sed 's/^/    /' | tail -${1:-20}
}
up() { # CKIND OKIND MIB [bytes/s]
	natlab_up "$1" "$2" || { bad "lab up"; pn_finish; }
	natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
	natlab_blob "$3" "${4:-}" || { bad "blob server"; pn_finish; }
	natlab_start || { bad "relays/connector/client up"; pn_finish; }
}

keepalive() {
	local t0 s0 k0 ka n
	up eim eim 2
	# the direct path's mappings only: the relay client refreshes its UDP
	# legs every 15 s (PN_RELAY_BIND_REFRESH_MS), too slow for 10 s
	natlab_direct_timeout 10 && ok "conntrack UDP timeout 10 s for the direct path in both NATs" ||
		bad "conntrack timeout policy not set"
	download "$W/got1" && ok "first download" || bad "first download failed"
	sha_ok "$W/got1"
	natlab_wait_path direct 20 && ok "direct path ($(natlab_p2p))" || bad "no direct path ($(natlab_p2p))"
	ct=$(ip netns exec $NL_CNAT cat /proc/net/nf_conntrack 2>/dev/null | grep "udp.*dst=10.214.3.2" | head -1)
	[ -n "$ct" ] && [ "$(echo "$ct" | awk '{print $5}')" -le 10 ] && ok "direct-path mapping times out in <= 10 s: $ct" ||
		echo "    (conntrack entry: ${ct:-none})"
	t0=$(now)
	# idle: the default 25 s keepalive comes after the 10 s mappings are gone
	if pn_wait_log "$W/client.log" "p2p_mapping_expired" 60; then
		ok "mapping expiry seen after $(since "$t0") s idle: $(grep -o 'p2p_mapping_expired.*' "$W/client.log" | tail -1)"
	else
		bad "no mapping expiry detected ($(natlab_p2p))"
		showlogs
	fi
	grep -q "p2p_direct_lost.*flows=0" "$W/client.log" && ok "the 25 s keepalive was too late: direct path lost while idle (would have stayed broken without adapting)" ||
		bad "no idle direct-path loss logged"
	natlab_wait_path direct 20 && ok "direct again" || bad "not direct again ($(natlab_p2p))"
	ka=$(p2pfield keepalive_ms)
	[ "$ka" -gt 0 ] 2>/dev/null && [ "$ka" -lt 10000 ] && ok "keepalive adapted to $ka ms (< the 10 s conntrack timeout)" ||
		bad "keepalive not adapted below 10 s ($ka)"
	s0=$(p2pfield switches) k0=$(p2pfield keepalives) n=$(grep -c p2p_direct_lost "$W/client.log")
	sleep 22 # idle, 2.2 x the mapping timeout
	[ "$(natlab_p2p | cut -d' ' -f2)" = direct ] && ok "still direct after 22 s idle" || bad "path moved ($(natlab_p2p))"
	[ "$(p2pfield switches)" = "$s0" ] && ok "no path switch while idle (switches=$s0)" ||
		bad "switches $s0 -> $(p2pfield switches)"
	[ "$(grep -c p2p_direct_lost "$W/client.log")" = "$n" ] && ok "no direct-path loss while idle" || bad "direct path lost while idle"
	[ $(($(p2pfield keepalives) - k0)) -ge 2 ] && ok "keepalives sent while idle: $(($(p2pfield keepalives) - k0))" ||
		bad "keepalives while idle: $k0 -> $(p2pfield keepalives)"
	download "$W/got2" && ok "second download" || bad "second download failed"
	sha_ok "$W/got2"
	[ "$(p2pfield switches)" = "$s0" ] && ok "second download on the same direct path" || bad "switched ($(natlab_p2p))"
	$C "$PN_BIN" client status --state "$W/pki/alice" | sed 's/^/    /'
	showlogs
}

negative() {
	local rp st0 sw0 np0 out t1 d cls sp sb ms rn rb mr fpid
	up eim open 24 600000 # >= 40 s: the flow is still open at the cut
	natlab_attacker || bad "attacker namespace"
	download "$W/got" --max-time 120 &
	dl=$!
	natlab_wait_path direct 20 && ok "direct path ($(natlab_p2p))" || bad "no direct path ($(natlab_p2p))"
	rp=$(natlab_p2p | sed 's/.*->//')
	rp=${rp##*:}
	ip netns exec $NL_HUB python3 "$PN_SRC/tests/tunnel/spoof.py" capture any 10.214.3.2 "$rp" 20 "$W/cap.txt" &&
		ok "captured tunnel packets at the hub ($(wc -l <"$W/cap.txt") packets)" || bad "capture failed"
	st0=$(natlab_p2p) sw0=$(p2pfield switches) np0=$(grep -c "p2p_path\|tunnel path" "$W/connector.log")
	out=$(ip netns exec $NL_ATK python3 "$PN_SRC/tests/tunnel/spoof.py" attack 10.214.3.2 "$rp" "$W/cap.txt")
	echo "$out" | sed 's/^/    attack: /'
	while read -r cls sp sb ms rn rb mr; do
		[ "$rb" -le "$sb" ] && [ "$mr" -le "$ms" ] &&
			ok "$cls: $sp packets ($sb bytes) from a third address: $rn replies, $rb bytes, largest $mr <= smallest sent $ms" ||
			bad "$cls: replies $rn ($rb bytes, largest $mr) for $sp packets ($sb bytes, smallest $ms)"
		case $cls in probe_like | replay | bitflip | garbage_cid) [ "$rn" = 0 ] || bad "$cls got $rn replies" ;; esac
	done <<<"$out"
	sleep 1
	[ "$(grep -c "p2p_path\|tunnel path" "$W/connector.log")" = "$np0" ] && ok "the connector's path did not move" ||
		bad "connector path moved: $(grep "p2p_path\|tunnel path" "$W/connector.log" | tail -2)"
	[ "$(natlab_p2p)" = "$st0" ] || [ "$(p2pfield switches)" = "$sw0" ] && ok "the client's path did not move ($(natlab_p2p))" ||
		bad "client path moved: $st0 -> $(natlab_p2p)"
	# the direct path dies; packets forged as the connector's keep coming
	natlab_cut
	t1=$(now)
	ip netns exec $NL_HUB python3 "$PN_SRC/tests/tunnel/spoof.py" forge "$W/cap.txt" 6 >"$W/forge.log" 2>&1 &
	fpid=$!
	if natlab_wait_path relay-udp 10; then
		d=$(python3 -c "print('%.2f' % ($(natlab_logtime "$W/client.log" 'p2p_path.*path=relay') - $t1))")
		le "$d" 4.5 && ok "forged packets from the connector's address did not keep the dead direct path: relay after $d s" ||
			bad "fallback took $d s under forged packets"
	else
		bad "no fallback while packets forged as the connector's arrived ($(natlab_p2p))"
	fi
	wait $fpid
	echo "    $(cat "$W/forge.log")"
	natlab_uncut
	wait $dl && ok "download finished" || bad "download failed"
	sha_ok "$W/got"
	$C "$PN_BIN" client status --state "$W/pki/alice" | sed 's/^/    /'
	showlogs
}

roam() {
	local a b c n0 fid
	up eim open 12 500000 # >= 24 s
	download "$W/got" --max-time 80 &
	dl=$!
	natlab_wait_path direct 20 && ok "direct path ($(natlab_p2p))" || bad "no direct path ($(natlab_p2p))"
	sleep 1
	fid=$(grep -o "flow_start flow=[0-9a-f]*" "$W/connector.log" | tail -1 | cut -d= -f2)
	# the relays go away: the tunnel, direct, does not need its session
	pn_stop "$PID_relay1"
	pn_stop "$PID_relay2"
	pn_wait_log "$W/client.log" "session_closed.*tunnel=kept" 20 &&
		ok "relay session lost, tunnel kept: $(grep -o 'session_closed.*' "$W/client.log" | tail -1)" ||
		bad "no session_closed tunnel=kept"
	pn_wait_log "$W/client.log" "p2p_relay_gone" 10 && ok "no relay fallback any more (p2p_relay_gone)" || bad "no p2p_relay_gone"
	a=$(stat -c %s "$W/got" 2>/dev/null || echo 0)
	sleep 2
	b=$(stat -c %s "$W/got" 2>/dev/null || echo 0)
	[ "$b" -gt "$a" ] && ok "bytes flowed after the relays went ($a -> $b)" || bad "no progress without the relays ($a -> $b)"
	n0=$(grep -c "p2p_path.*path=direct" "$W/connector.log")
	# the client moves: a new address on its LAN, the old one gone
	# (deleting the primary address first: secondaries go with it)
	ip -n $NL_CLI addr del 10.215.1.2/24 dev eth0
	ip -n $NL_CLI addr add 10.215.1.3/24 dev eth0
	ip -n $NL_CLI route replace default via 10.215.1.1
	pn_wait_log "$W/client.log" "p2p_interfaces" 15 && ok "client saw its new address: $(grep -o 'p2p_interfaces.*' "$W/client.log" | tail -1)" ||
		bad "client did not notice its new address"
	pn_wait_count "$W/connector.log" "p2p_path.*path=direct" $((n0 + 1)) 20 &&
		ok "direct -> direct: $(grep -o 'p2p_path.*path=direct.*' "$W/connector.log" | tail -1)" ||
		bad "connector never moved to the client's new address"
	pn_wait_count "$W/connector.log" "p2p_candidates" 2 20 && ok "candidates re-sent ($(grep -c p2p_candidates "$W/connector.log") messages at the connector)" ||
		bad "no new candidates at the connector"
	grep "p2p_path.*path=direct" "$W/connector.log" | tail -1 | grep -q "flow_ids=.*$fid" &&
		ok "connector's path change names the open flow $fid" || bad "flow $fid not in the path change line"
	sleep 2
	c=$(stat -c %s "$W/got" 2>/dev/null || echo 0)
	[ "$c" -gt "$b" ] && ok "bytes flowed across the move ($b -> $c)" || bad "no progress across the move ($b -> $c)"
	wait $dl && ok "download finished" || bad "download failed"
	sha_ok "$W/got"
	grep -q "tunnel_down" "$W/client.log" && bad "tunnel went down" || ok "tunnel never went down"
	$C "$PN_BIN" client status --state "$W/pki/alice" | sed 's/^/    /'
	showlogs
}

case $MODE in
keepalive) keepalive ;;
negative) negative ;;
roam) roam ;;
*) echo "bad mode $MODE"; exit 2 ;;
esac
pn_finish
