# The NAT lab (sourced after netns.sh): client and connector each behind a
# NAT of a given kind, two relays on the shared segment.  Needs root.
#
#                         pnl-hub (router: the shared segment)
#      relays 10.214.1.2 (relay1), 10.214.1.3 (relay2) --- 10.214.1.1 |
#   [pnl-cnat] 10.214.2.2 ------------------------------- 10.214.2.1 |
#       | 10.215.1.1                                                  |
#   pnl-cli 10.215.1.2 (client)                                       |
#   [pnl-onat] 10.214.3.2 ------------------------------- 10.214.3.1 |
#       | 10.216.1.1
#   pnl-conn 10.216.1.2 (connector) --- 10.217.1.1 | 10.217.1.2 pnl-res
#
# natlab_up CKIND OKIND: the client's and the connector's NAT kind:
#   open     no NAT: the host itself is on the segment (10.214.2.2 / .3.2)
#   eim      nftables masquerade keeping ports (endpoint-independent mapping,
#            address-and-port-dependent filtering: conntrack)
#   sym      masquerade random,fully-random (endpoint-dependent mapping)
#   udpblock the NAT drops every forwarded UDP packet (relay over TLS only)
# Every NAT drops unsolicited packets to itself (new connections on wan0),
# like a home router's firewall.
# Controller: none; credentials come from pnfixture (offline, like the
# fixture network).  pnl-res serves $W/blob over HTTP :8000.  Names carry
# $PN_TAG: two runs never share a namespace.  natlab_cut / natlab_uncut drop
# / restore UDP between the two NATs' segment addresses at the hub (the
# direct path), leaving the relays reachable.
NL_HUB=pnl-hub-$PN_TAG NL_CNAT=pnl-cnat-$PN_TAG NL_CLI=pnl-cli-$PN_TAG
NL_ONAT=pnl-onat-$PN_TAG NL_CONN=pnl-conn-$PN_TAG NL_RES=pnl-res-$PN_TAG NL_RELAY=pnl-rly-$PN_TAG
PN_FIXTURE=${PN_FIXTURE:-$B/tests/lib/pnfixture}
C="ip netns exec $NL_CLI"

# nat_side NATNS HOSTNS SEGLINK SEGADDR LANNET KIND: one side behind a NAT
natlab_side() {
	local nat=$1 host=$2 seg=$3 lan=$5 kind=$6
	if [ "$kind" = open ]; then
		pn_ns "$host" || return 1
		pn_veth $NL_HUB "h-$seg" "10.214.$seg.1/24" "$host" wan0 "10.214.$seg.2/24"
		ip -n "$host" route add default via "10.214.$seg.1"
		return 0
	fi
	pn_ns "$nat" "$host" || return 1
	pn_veth $NL_HUB "h-$seg" "10.214.$seg.1/24" "$nat" wan0 "10.214.$seg.2/24"
	pn_veth "$nat" lan0 "$lan.1/24" "$host" eth0 "$lan.2/24"
	ip -n "$nat" route add default via "10.214.$seg.1"
	ip -n "$host" route add default via "$lan.1"
	ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1
	# NL_UDP_TIMEOUT=S: mappings expire after S s of silence
	if [ -n "${NL_UDP_TIMEOUT:-}" ]; then
		ip netns exec "$nat" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$NL_UDP_TIMEOUT"
		ip netns exec "$nat" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream="$NL_UDP_TIMEOUT"
	fi
	local masq="masquerade" fwd=""
	case $kind in
	eim) ;;
	sym) masq="masquerade random,fully-random" ;;
	udpblock) fwd="meta l4proto udp drop" ;;
	*) echo "natlab: unknown kind $kind"; return 1 ;;
	esac
	ip netns exec "$nat" nft -f - <<-NFT
	table ip pnlab {
		chain post {
			type nat hook postrouting priority 100;
			oifname "wan0" $masq
		}
		chain filt {
			type filter hook forward priority 0;
			$fwd
		}
		# Unsolicited traffic to the NAT itself is dropped before its
		# conntrack entry is confirmed, as home routers' firewalls do: else
		# an early probe from the peer leaves an entry that makes the
		# masquerade pick another port for our own first probe to it.
		chain in {
			type filter hook input priority 0;
			iifname "wan0" ct state new drop
		}
	}
	NFT
}

natlab_up() { # CKIND OKIND
	NL_CKIND=$1 NL_OKIND=$2
	pn_ns $NL_HUB $NL_RELAY $NL_RES || return 1
	ip netns exec $NL_HUB sysctl -qw net.ipv4.ip_forward=1
	pn_veth $NL_HUB h-1 10.214.1.1/24 $NL_RELAY eth0 10.214.1.2/24
	ip -n $NL_RELAY addr add 10.214.1.3/24 dev eth0
	ip -n $NL_RELAY route add default via 10.214.1.1
	natlab_side $NL_CNAT $NL_CLI 2 x 10.215.1 "$1" || return 1
	natlab_side $NL_ONAT $NL_CONN 3 x 10.216.1 "$2" || return 1
	pn_veth $NL_CONN res0 10.217.1.1/24 $NL_RES r0 10.217.1.2/24
	ip -n $NL_RES route add default via 10.217.1.1
	ip netns exec $NL_HUB nft -f - <<-NFT
	table inet pnlab {
		chain filt {
			type filter hook forward priority 0;
		}
	}
	NFT
}

natlab_cut() { # drop UDP between the two sides' segment addresses (the direct path)
	ip netns exec $NL_HUB nft add rule inet pnlab filt ip saddr 10.214.2.0/24 ip daddr 10.214.3.0/24 meta l4proto udp drop
	ip netns exec $NL_HUB nft add rule inet pnlab filt ip saddr 10.214.3.0/24 ip daddr 10.214.2.0/24 meta l4proto udp drop
}
natlab_uncut() { ip netns exec $NL_HUB nft flush chain inet pnlab filt; }

# Credentials: relay1, relay2; connector conn1 for network "corp" allowed
# 10.217.1.2 tcp 8000; client alice granted it; both know both relays.
natlab_pki() {
	local F=$PN_FIXTURE D=$W/pki r="--relay relay1 10.214.1.2:3478 10.214.1.2:4433 --relay relay2 10.214.1.3:3478 10.214.1.3:4433"
	$F $D ca && $F $D relay relay1 && $F $D relay relay2 &&
		$F $D connector conn1 corp --allow 10.217.1.2/32 tcp 8000 $r &&
		$F $D client alice --net corp conn1 --grant corp 10.217.1.2 tcp 8000 $r
}

natlab_blob() { # MiB [bytes/s]: $W/blob of random bytes served by pnl-res :8000
	mkdir -p "$W/www"
	head -c $(($1 * 1048576)) /dev/urandom >"$W/www/blob"
	echo hello >"$W/www/small" # a first flow: opens the tunnel
	BLOB_SHA=$(sha256sum <"$W/www/blob" | cut -d' ' -f1)
	pn_bg http ip netns exec $NL_RES python3 "$PN_SRC/tests/tunnel/slowserve.py" 10.217.1.2 8000 \
		"$W/www" "${2:-1000000000}"
	pn_wait_tcp $NL_RES 10.217.1.2 8000 30
}

natlab_start() { # [connector args...]: relays, connector, client (SOCKS5 127.0.0.1:1080)
	local r
	for r in 1 2; do
		pn_bg relay$r ip netns exec $NL_RELAY "$PN_BIN" relay run --state "$W/pki/relay$r" \
			--udp 10.214.1.$((r + 1)):3478 --tls 10.214.1.$((r + 1)):4433 --stats-interval 0 \
			--allow-peer 10.214.0.0/16
	done
	pn_wait_tcp $NL_HUB 10.214.1.2 4433 30 && pn_wait_tcp $NL_HUB 10.214.1.3 4433 30 || return 1
	pn_bg connector ip netns exec $NL_CONN "$PN_BIN" connector run --state "$W/pki/conn1" --log "${NL_LOG:-info}" "$@"
	pn_wait_log "$W/relay1.log" "peer_up role=connector" 30
	pn_wait_log "$W/relay2.log" "peer_up role=connector" 30
	natlab_client
}
natlab_client() { # (re)start the client: a new tunnel on its first flow
	[ -n "${PID_client:-}" ] && pn_stop "$PID_client"
	rm -f "$W/pki/alice/client.sock"
	pn_bg client ip netns exec $NL_CLI "$PN_BIN" client run --state "$W/pki/alice" --offline \
		--log "${NL_LOG:-info}" --socks 127.0.0.1:1080
	pn_wait_file "$W/pki/alice/client.sock" 30
}

natlab_status() { $C "$PN_BIN" client status --json --state "$W/pki/alice"; }
# the p2p state of the (only) tunnel: "state path nat peer_nat ttd_ms switches local->remote"
natlab_p2p() {
	natlab_status 2>/dev/null | python3 -c '
import json, sys
try:
    for t in json.load(sys.stdin)["tunnels"]:
        p = t.get("p2p", {})
        print(p.get("state", "-"), t["path"], p.get("nat", "-"), p.get("peer_nat", "-"),
              p.get("time_to_direct_ms", 0), p.get("switches", 0), p.get("local", "-") + "->" + p.get("remote", "-"))
        break
    else:
        print("none")
except Exception as e:
    print("error", e)'
}
natlab_logtime() { # FILE PATTERN: unix time of the last line matching PATTERN in a log
	grep "$2" "$1" | tail -1 | python3 -c '
import sys, datetime
l = sys.stdin.read().split(" ", 1)[0]
print(datetime.datetime.strptime(l, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() if l else 0)'
}
# Without python (its start-up takes seconds on a loaded machine): the
# (only) tunnel's path, and its time_to_direct_ms once known (else 0).
natlab_path() { natlab_status 2>/dev/null | grep -o '"path":"[a-z-]*"' | head -1 | cut -d'"' -f4; }
natlab_ttd() {
	local v
	v=$(natlab_status 2>/dev/null | grep -o '"time_to_direct_ms":[0-9]*' | head -1 | cut -d: -f2)
	echo "${v:-0}"
}
natlab_wait_path() { # PATH SECONDS: until the tunnel's path is PATH
	local end=$(($(date +%s%N) + $2 * 1000000000))
	while [ "$(date +%s%N)" -lt $end ]; do
		[ "$(natlab_path)" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
# natlab_watch_start SECONDS / natlab_watch_result: watch the client's
# status socket (tests/lib/p2pwatch.py, about every millisecond) from
# before a tunnel's first flow until it is direct.  The first status that
# shows the direct path must already carry time_to_direct_ms (the client
# used to note the switch on its next 50 ms tick: readers got 0).
# natlab_watch_result sets NL_TTD and returns 0 (direct, with the figure),
# 2 (a status showed the direct path without it) or 1 (not direct in time);
# NL_WATCH holds the watcher's line.
natlab_watch_start() {
	: >"$W/watch.out"
	python3 "$PN_SRC/tests/lib/p2pwatch.py" "$W/pki/alice/client.sock" "$1" >"$W/watch.out" 2>&1 &
	NL_WATCH_PID=$!
	pn_wait_log "$W/watch.out" ready 30
}
natlab_watch_result() {
	local rc
	wait "$NL_WATCH_PID"
	rc=$?
	NL_WATCH=$(tail -1 "$W/watch.out")
	NL_TTD=$(echo "$NL_WATCH" | sed -n 's/^direct ttd_ms=\([0-9]*\).*/\1/p')
	NL_TTD=${NL_TTD:-0}
	return $rc
}
natlab_wait_ttd() { # SECONDS: the tunnel's time_to_direct_ms, once set, or 0
	local end=$(($(date +%s%N) + $1 * 1000000000)) v
	while [ "$(date +%s%N)" -lt $end ]; do
		v=$(natlab_ttd)
		[ "$v" -gt 0 ] && { echo "$v"; return 0; }
		sleep 0.05
	done
	echo 0
	return 1
}

# natlab_udp_timeout S: UDP mappings in both NATs expire after S s of
# silence (conntrack's udp_timeout and udp_timeout_stream).  After
# natlab_up: the sysctls exist only once conntrack runs in the namespace
# (its masquerade table made it start).  Fails unless both read back S.
natlab_udp_timeout() {
	local ns k
	for ns in $NL_CNAT $NL_ONAT; do
		ip netns list | grep -q "^$ns\b" || continue
		for k in nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream; do
			ip netns exec "$ns" sysctl -qw "net.netfilter.$k=$1" &&
				[ "$(ip netns exec "$ns" sysctl -n "net.netfilter.$k")" = "$1" ] || return 1
		done
	done
}

# natlab_direct_timeout S: UDP mappings between the two sides (the direct
# path; not the relays' legs) expire after S s of silence in both NATs:
# an nftables conntrack timeout policy.  (natlab_udp_timeout lowers
# every UDP mapping, the relay sessions' too.)  After natlab_up.
natlab_direct_timeout() {
	local ns
	for ns in $NL_CNAT $NL_ONAT; do
		ip netns list | grep -q "^$ns\b" || continue
		ip netns exec "$ns" nft -f - <<-NFT || return 1
		table ip pnlabto {
			ct timeout direct {
				protocol udp;
				l3proto ip;
				policy = { unreplied : $1, replied : $1 };
			}
			chain pre {
				type filter hook prerouting priority 0;
				meta l4proto udp ip saddr != 10.214.1.0/24 ip daddr != 10.214.1.0/24 ct timeout set "direct"
			}
			chain out {
				type filter hook output priority 0;
				meta l4proto udp ip saddr != 10.214.1.0/24 ip daddr != 10.214.1.0/24 ct timeout set "direct"
			}
		}
		NFT
	done
}

# natlab_attacker: a third host on the shared segment (10.214.9.2, namespace
# $NL_ATK), for negative tests.  After natlab_up.
NL_ATK=pnl-atk-$PN_TAG
natlab_attacker() {
	pn_ns $NL_ATK || return 1
	pn_veth $NL_HUB h-9 10.214.9.1/24 $NL_ATK eth0 10.214.9.2/24 || return 1
	ip -n $NL_ATK route add default via 10.214.9.1
}
