#!/bin/bash
# Relay kill -9 in the middle of a 1 GiB download through that relay
# (security.md case 1), in the NAT lab (tests/lib/natlab.sh):
#
#                  pnl-hub --- relay1 10.214.1.2, relay2 10.214.1.3
#   client 10.214.2.2 --+-- 10.214.3.2 connector --- 10.217.1.2 resource
#                                                    (flowend.py sink :8000)
#
# The direct path is cut at the hub (UDP between the two sides dropped),
# so the tunnel is relayed.  The application downloads 1 GiB (128 MiB in a
# sanitizer build) from the resource over a plain TCP stream: no length in
# the protocol, the end of the stream is the end of the file, so a FIN
# after a short transfer would be a silent truncation.  When a quarter has
# arrived, the relay carrying the tunnel (`client status` names it) is
# killed with SIGKILL.  Must hold: the download ends with every byte and
# sha256 equal, or with an explicit error (RST) at the application and at
# the resource; never a FIN after fewer bytes, never a hang.  Then new
# flows are retried until one completes byte-exact: through the other
# relay, within 15 s of the kill (the time is printed).
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" relay-kill
source "$(dirname "$0")/../lib/natlab.sh"
FE="python3 $PN_SRC/tests/connector/flowend.py"
BACK_WITHIN=15
MIB=1024
grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && MIB=128
BYTES=$((MIB << 20))

natlab_up open open || { bad "lab up"; pn_finish; }
natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
natlab_cut
pn_bg sink ip netns exec $NL_RES $FE sink 10.217.1.2 8000 "$W/sink.jsonl"
pn_wait_tcp $NL_RES 10.217.1.2 8000 30 || bad "sink listening"
natlab_start || { bad "relays/connector/client up"; pn_finish; }

rec() { # id kind: the sink's record of that kind ("sent", "end", "send_error") for the id
	grep "\"id\": \"$1\"" "$W/sink.jsonl" 2>/dev/null | grep "\"$2\"" | tail -1
}
field() { sed -n 's/.*"'"$2"'": "\{0,1\}\([^",}]*\).*/\1/p' <<<"$1"; } # record key: its value
touch "$W/go"
# small ID BYTES: a download that must complete byte-exact (0/1)
small() {
	local out r i
	$C $FE download 127.0.0.1:1080 10.217.1.2 8000 "$1" "$2" "$W/go" 20 >"$W/small.out" 2>&1
	out=$(grep '^end:' "$W/small.out")
	for i in $(seq 30); do r=$(rec "$1" sent) && [ -n "$r" ] && break; sleep 0.1; done
	[ -n "$r" ] && [ "$out" = "end: fin bytes=$2 sha256=$(field "$r" sha256)" ]
}
for i in $(seq 30); do small warm$i 65536 && break; sleep 1; done
check "a first flow through the relayed tunnel" small warm 1048576
natlab_wait_path relay-udp 10 && ok "tunnel relayed ($(natlab_p2p))" || bad "tunnel not relayed ($(natlab_p2p))"
RELAY=$(natlab_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["relay"])')
case $RELAY in
relay1) VICTIM=$PID_relay1 OTHER=relay2 ;;
relay2) VICTIM=$PID_relay2 OTHER=relay1 ;;
*) bad "the tunnel's relay is '$RELAY'"; pn_finish ;;
esac
ok "the tunnel goes through $RELAY"

# Started now, so that no interpreter start-up (seconds on a loaded
# machine) is in the measured time: from the kill on, new 1 MiB downloads
# one after the other until one is complete and exact.
$C $FE retry 127.0.0.1:1080 10.217.1.2 8000 1048576 "$W/killed" 70 >"$W/retry.out" 2>&1 &
RETRY=$!
$C $FE download 127.0.0.1:1080 10.217.1.2 8000 big $BYTES "$W/go" 120 >"$W/big.out" 2>&1 &
DL=$!
if pn_wait_count "$W/big.out" '^got: ' $((MIB / 4 / 32)) 90; then
	t0=$(now)
	kill -9 "$VICTIM"
	echo "$t0" >"$W/killed.tmp" && mv "$W/killed.tmp" "$W/killed"
	ok "$RELAY killed (SIGKILL) after $(grep '^got:' "$W/big.out" | tail -1 | cut -d' ' -f2) of $BYTES bytes"
else
	bad "download under way ($(tail -2 "$W/big.out"))"
	kill $DL $RETRY 2>/dev/null
	pn_finish
fi

# Service back through the other relay: the first new flow complete.
wait $RETRY
sed -n 's/^attempt/    attempt/p' "$W/retry.out"
back=$(sed -n 's/^back: after=\([0-9.]*\) .*/\1/p' "$W/retry.out")
if [ -n "$back" ]; then
	le "$back" $BACK_WITHIN && ok "a new flow completes byte-exact $back s after the kill (<= $BACK_WITHIN s; $(grep '^back:' "$W/retry.out"))" ||
		bad "service back only $back s after the kill (> $BACK_WITHIN s)"
else
	bad "no flow completed within 70 s of the kill ($(tail -1 "$W/retry.out"); $(natlab_p2p))"
fi
now_relay=$(natlab_status | python3 -c 'import json,sys; print([t["relay"] for t in json.load(sys.stdin)["tunnels"]])')
[[ "$now_relay" == *"'$OTHER'"* ]] && ok "the tunnel now goes through $OTHER ($now_relay)" ||
	bad "the tunnel's relay after the kill: $now_relay (want $OTHER)"

wait $DL
end=$(grep '^end:' "$W/big.out")
sent=$(rec big sent)
echo "    application: $end"
echo "    resource: $(rec big sent)$(rec big send_error)"
case $end in
"end: fin bytes=$BYTES sha256="*)
	[ -n "$sent" ] && [ "$end" = "end: fin bytes=$BYTES sha256=$(field "$sent" sha256)" ] &&
		ok "the download survived the kill: all $BYTES bytes, sha256 equal" ||
		bad "FIN after $BYTES bytes but sha256 differs from the resource's ($end; ${sent:-no sent record})"
	;;
"end: rst "* | "end: error:"*)
	ok "the cut download ended with an explicit error at the application ($end)"
	for i in $(seq 100); do [ -n "$(rec big send_error)" ] && break; sleep 0.1; done
	[ -z "$sent" ] && [ -n "$(rec big send_error)" ] &&
		ok "the resource's send failed too: $(field "$(rec big send_error)" send_error)" ||
		bad "the resource's connection was not reset (${sent:-no error recorded})"
	;;
"end: fin "*) bad "SILENT TRUNCATION: FIN at the application after fewer bytes ($end, want $BYTES)" ;;
*) bad "the download neither completed nor failed explicitly: '${end:-no end line}'" ;;
esac
grep -h "session_closed\|tunnel_down\|tunnel_close\|relay_state" "$W/client.log" "$W/connector.log" | tail -8 | sed 's/^/    /'
kill -0 "$PID_connector" && ok "connector running" || bad "connector died"
pn_finish
