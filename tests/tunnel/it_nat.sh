#!/bin/bash
# NAT traversal in the NAT lab (tests/lib/natlab.sh: client and connector
# each behind a NAT namespace, two relays on the shared segment).
#
#   it_nat.sh BUILD CELL...   CELL: CKIND:OKIND:EXPECT (e.g. eim:eim:direct,
#                             sym:sym:relay-udp, udpblock:eim:relay-tls)
#                             or "switch"
#
# A cell opens the tunnel with a first small flow, waits for the path it
# should settle on (direct: polled, 10 s, 40 s when one side is symmetric
# (port prediction and birthday probing, spray.h: a second window comes
# 5 s after a missed one)), downloads NAT_MIB (default 64) MiB through the
# client's SOCKS5 and the tunnel: sha256 equal, and the connector's
# flow_end line for it names the expected path (relay: and the tunnel is
# still there 7 s after it came up, past the 5 s probing window).  EXPECT relay-tls: the side(s) behind
# the udpblock NAT (UDP dropped) are on a relay over TLS (or WebSocket):
# the client's tunnel path, or the connector's flow log.
# With NAT_TTD=N (direct cells): N tunnels in all (the client restarted
# for each), the time from tunnel up to the direct path of each printed
# (the client's time_to_direct_ms) with their median, asserted <= 5 s.
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
	$C curl -s --max-time 300 --socks5 127.0.0.1:1080 "$@" http://10.217.1.2:8000/blob -o "$out"
}
kick() { # a first small flow (opens the tunnel)
	$C curl -s --max-time 60 --socks5 127.0.0.1:1080 http://10.217.1.2:8000/small -o /dev/null
}
sha_ok() { # file
	local got
	got=$(sha256sum <"$1" | cut -d' ' -f1)
	[ "$got" = "$BLOB_SHA" ] && ok "sha256 equal ($(stat -c %s "$1") bytes)" ||
		bad "sha256 differs ($(stat -c %s "$1" 2>/dev/null) bytes)"
}
# bash arithmetic, not python (seconds to start on a loaded machine)
t_ns() { date +%s%N; }
t_since() { # T0 (from t_ns): seconds since, with 2 decimals
	local d=$((($(date +%s%N) - $1) / 10000000))
	printf '%d.%02d' $((d / 100)) $((d % 100))
}
lastpath() { # the path of the connector's last flow_end line
	grep "flow_end" "$W/connector.log" | tail -1 | grep -o ' path=[a-z-]*' | cut -d= -f2
}

ttd_runs() { # CK OK N: N-1 more tunnels (client restarts); prints the median
	local n=$3 v=() i st t
	v+=("$NL_TTD")
	for i in $(seq 2 "$n"); do
		natlab_client || { bad "client restart $i"; return; }
		natlab_watch_start 40 || { bad "status watcher $i"; return; }
		kick || bad "first flow of tunnel $i"
		natlab_watch_result
		case $? in
		0) v+=("$NL_TTD") ;;
		2) bad "tunnel $i: the first status showing the direct path has no time_to_direct_ms ($NL_WATCH)" ;;
		*) bad "tunnel $i: no direct path ($NL_WATCH; $(natlab_p2p))" ;;
		esac
	done
	t=$(printf '%s\n' "${v[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	echo "    time_to_direct_ms $1 x $2: ${v[*]} (p50 $t ms over ${#v[@]} tunnels)"
	[ "${#v[@]}" -eq "$n" ] && [ "$t" -le 5000 ] && ok "$1 x $2: time to direct p50 $t ms (target 1 s, asserted <= 5 s)" ||
		bad "$1 x $2: time to direct p50 ${t:-none} ms over ${#v[@]} of $n tunnels"
}

cell() { # CKIND OKIND EXPECT
	local ck=$1 okd=$2 want=$3 t0 st wait=10 p
	natlab_up "$ck" "$okd" || { bad "lab up"; pn_finish; }
	natlab_pki >"$W/pki.log" 2>&1 || { bad "pki"; pn_finish; }
	natlab_blob "${NAT_MIB:-64}" || { bad "blob server"; pn_finish; }
	natlab_start || { bad "relays/connector/client up"; pn_finish; }
	[[ "$ck $okd" == *sym* ]] && wait=40
	[ "$want" = direct ] && { natlab_watch_start $((wait + 30)) || bad "status watcher"; }
	t0=$(t_ns)
	kick && ok "first flow (tunnel up) after $(t_since "$t0") s" || bad "first flow failed"
	if [ "$want" = direct ]; then
		natlab_watch_result
		case $? in
		0) ok "$ck x $okd: direct after $(t_since "$t0") s (time_to_direct_ms=$NL_TTD in the first status showing it)" ;;
		2) bad "$ck x $okd: the first status showing the direct path has no time_to_direct_ms ($NL_WATCH)" ;;
		*) bad "$ck x $okd: no direct path ($NL_WATCH; $(natlab_p2p))" ;;
		esac
	fi
	t1=$(t_ns)
	download "$W/got" && ok "download finished ($(t_since "$t1") s)" || bad "download failed"
	sha_ok "$W/got"
	if [ "$want" != direct ]; then
		# the probing window (5 s) and slack since the tunnel came up,
		# partly spent downloading: still on the relay after it
		while [ $(($(t_ns) - t0)) -lt 7000000000 ]; do sleep 0.1; done
		[[ "$(natlab_path)" == relay-* ]] && ok "$ck x $okd: stays on the relay ($(natlab_path))" ||
			bad "$ck x $okd: path is not the relay ($(natlab_p2p))"
	fi
	p=$(lastpath)
	case $want in
	direct | relay-udp)
		[ "$p" = "$want" ] && [ "$(natlab_path)" = "$want" ] &&
			ok "the ${NAT_MIB:-64} MiB went over $want (connector: $p, client: $(natlab_path))" ||
			bad "path during the download: connector $p, client $(natlab_p2p) (wanted $want)" ;;
	relay-tls)
		if [ "$ck" = udpblock ]; then
			[[ "$(natlab_path)" == relay-tls || "$(natlab_path)" == relay-ws ]] &&
				ok "client (UDP blocked) on a relay over TLS ($(natlab_path))" ||
				bad "client path: $(natlab_p2p) (wanted relay-tls)"
		fi
		if [ "$okd" = udpblock ]; then
			[[ "$p" == relay-tls || "$p" == relay-ws ]] && ok "connector (UDP blocked) on a relay over TLS (flow_end path=$p)" ||
				bad "connector path in flow_end: $p (wanted relay-tls)"
		fi ;;
	esac
	[ -n "${NAT_TTD:-}" ] && ttd_runs "$ck" "$okd" "$NAT_TTD"
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
