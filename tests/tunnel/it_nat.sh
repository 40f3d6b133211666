#!/bin/bash
# NAT traversal in the NAT lab (tests/lib/natlab.sh: client and connector
# each behind a NAT namespace, two relays on the shared segment).
#
#   it_nat.sh BUILD CELL...   CELL: CKIND:OKIND:EXPECT (e.g. eim:eim:direct,
#                             sym:sym:relay) or "switch"
#
# A cell downloads NAT_MIB (default 8) MiB through the client's SOCKS5 and
# the tunnel, checks the path the tunnel settles on (direct within 10 s,
# with the time-to-direct printed; or still on the relay after the 5 s
# probing window) and sha256 equality.
# "switch" (eim x eim): the direct path is cut with nftables at the hub
# before the tunnel starts, so a 16 MiB download served at <= 800 kB/s begins
# on the relay; the cut is lifted (the client's next probing finds the
# direct path), then made again mid-transfer: the tunnel must be back on
# the relay within 3 s (from the client's log; asserted with slack), bytes
# must keep flowing after each switch, and the download be byte-exact.
set -uo pipefail
BUILD=${1:?build dir}
shift
if [ $# -gt 1 ]; then # every cell in a run of its own (own namespaces)
	rc=0
	for c in "$@"; do
		echo "=== cell $c"
		bash "$0" "$BUILD" "$c" || rc=1
	done
	exit $rc
fi
CELL=${1:?cell}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" nat
source "$(dirname "$0")/../lib/natlab.sh"

download() { # out [curl args]: through the client's SOCKS5
	local out=$1
	shift
	$C curl -s --max-time 120 --socks5 127.0.0.1:1080 "$@" http://10.217.1.2:8000/blob -o "$out"
}
sha_ok() { # file
	local got
	got=$(sha256sum <"$1" | cut -d' ' -f1)
	[ "$got" = "$BLOB_SHA" ] && ok "sha256 equal ($(stat -c %s "$1") bytes)" ||
		bad "sha256 differs ($(stat -c %s "$1" 2>/dev/null) bytes)"
}

cell() { # CKIND OKIND EXPECT
	local ck=$1 okd=$2 want=$3 t0 st
	natlab_up "$ck" "$okd" || { bad "lab up"; pn_finish; }
	natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
	natlab_blob "${NAT_MIB:-8}" || { bad "blob server"; pn_finish; }
	natlab_start || { bad "relays/connector/client up"; pn_finish; }
	t0=$(now)
	download "$W/got" &
	dl=$!
	if [ "$want" = direct ]; then
		if natlab_wait_path direct 10; then
			st=$(natlab_p2p)
			ok "$ck x $okd: direct after $(since "$t0") s (time_to_direct_ms=$(echo "$st" | cut -d' ' -f5), polled from the first flow's start)"
			echo "    p2p: $st"
		else
			bad "$ck x $okd: no direct path within 10 s ($(natlab_p2p))"
		fi
	else
		sleep 7 # the probing window (5 s) and slack
		st=$(natlab_p2p)
		echo "    p2p: $st"
		[[ "$(echo "$st" | cut -d' ' -f2)" == relay-* ]] && ok "$ck x $okd: stays on the relay" ||
			bad "$ck x $okd: path is not the relay ($st)"
	fi
	wait $dl && ok "download finished" || bad "download failed"
	sha_ok "$W/got"
	grep -h "p2p_" "$W/client.log" "$W/connector.log" | sed 's/^/    /' | head -12
}

switch() {
	local t0 t1 st a b c d
	natlab_up eim eim || { bad "lab up"; pn_finish; }
	natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
	natlab_blob 16 800000 || { bad "blob server"; pn_finish; } # <= 800 kB/s: >= 21 s
	natlab_start || { bad "relays/connector/client up"; pn_finish; }
	natlab_cut
	download "$W/got" &
	dl=$!
	natlab_wait_path relay-udp 10 && ok "flow started on the relay ($(natlab_p2p))" ||
		bad "flow on the relay ($(natlab_p2p))"
	sleep 1
	a=$(stat -c %s "$W/got" 2>/dev/null || echo 0)
	natlab_uncut
	t0=$(now)
	if natlab_wait_path direct 15; then
		d=$(python3 -c "print('%.2f' % ($(natlab_logtime "$W/client.log" 'p2p_path.*path=direct') - $t0))")
		ok "relay -> direct $d s after the cut was lifted (the client's next probing: backoff 5 s)"
	else
		bad "no direct path after the cut was lifted ($(natlab_p2p))"
	fi
	sleep 2
	b=$(stat -c %s "$W/got" 2>/dev/null || echo 0)
	[ "$b" -gt "$a" ] && ok "bytes flowed across relay -> direct ($a -> $b)" ||
		bad "no progress across relay -> direct ($a -> $b)"
	natlab_cut
	t1=$(now)
	if natlab_wait_path relay-udp 10; then
		d=$(python3 -c "print('%.2f' % ($(natlab_logtime "$W/client.log" 'p2p_path.*path=relay') - $t1))")
		le "$d" 4.5 && ok "direct -> relay $d s after the direct path was dropped (target 3 s; client log)" ||
			bad "direct -> relay took $d s (target 3 s)"
	else
		bad "no fallback to the relay ($(natlab_p2p))"
	fi
	sleep 2
	c=$(stat -c %s "$W/got" 2>/dev/null || echo 0)
	[ "$c" -gt "$b" ] && ok "bytes flowed across direct -> relay ($b -> $c)" ||
		bad "no progress across direct -> relay ($b -> $c)"
	echo "    p2p: $(natlab_p2p)"
	wait $dl && ok "download finished" || bad "download failed"
	sha_ok "$W/got"
	grep -h "p2p_path\|p2p_direct_lost" "$W/client.log" "$W/connector.log" | sed 's/^/    /' | head -20
}

case $CELL in
switch) switch ;;
*:*:*) IFS=: read -r a b c <<<"$CELL"; cell "$a" "$b" "$c" ;;
*) echo "bad cell $CELL"; exit 2 ;;
esac
pn_finish
