#!/bin/bash
# The connector connecting to resources whose names have several
# addresses, and running out of file descriptors.  Needs root (netns).
#
#   pnd-cli 10.207.1.2 ---- 10.207.1.1 pnd-conn 10.207.9.1 ---- 10.207.9.2 pnd-res
#   (client, SOCKS5 :1080,   (connector, UDP :4433;             (sink :9000 on .100 only;
#    --direct, --offline)     names from its own hosts file)     .3: nothing listens;
#                                                                .4: SYNs dropped by nft)
#
# Names (the connector's /etc/hosts, via /etc/netns/<ns>/hosts; glibc sorts
# IPv4 addresses by common prefix with the source, so .3 and .4 come
# before .100, as the script checks):
#   refuse.corp.example  10.207.9.3 and 10.207.9.100: first address refuses
#   slow.corp.example    10.207.9.4 and 10.207.9.100: first address times out
#   dual.corp.example    fd00:207:99::2 (AAAA) and 10.207.9.100 (A)
# Each must deliver a complete upload (FIN, sha256 equal) within 9 s (the
# silent address's 10 s connect timeout, waited in full, is what the bound
# tells apart; 5 s failed at load 12 with a correct connector), and the
# connector must live on (it aborted on the first refusal, waited the full
# 10 s connect timeout on the silent address and then failed the flow).
# dual is tried without any IPv6 route, then with an IPv6 default route to
# a gateway that never answers (getaddrinfo then puts the AAAA first).
# Then the connector's RLIMIT_NOFILE is lowered (prlimit) to the
# descriptors it holds: flows by name and by address are refused with
# code "exhausted" (not resolve_failed), the connector logs one
# resource_exhausted line for the burst, and serves again once the limit
# is restored.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" dial
FIX=$BUILD/tests/lib/pnfixture
FE="python3 $PN_SRC/tests/connector/flowend.py"
NS_CLI=pnd-cli-$PN_TAG NS_CONN=pnd-conn-$PN_TAG NS_RES=pnd-res-$PN_TAG
C="ip netns exec $NS_CLI"
conn_alive() { kill -0 "$PID_connector" 2>/dev/null && ! grep -q "Assertion\|Aborted" "$W/connector.log"; }

pn_ns $NS_CLI $NS_CONN $NS_RES || pn_finish
pn_veth $NS_CLI cli0 10.207.1.2/24 $NS_CONN conn0 10.207.1.1/24
pn_veth $NS_CONN res0 10.207.9.1/24 $NS_RES r0 10.207.9.2/24
ip -n $NS_RES addr add 10.207.9.3/24 dev r0
ip -n $NS_RES addr add 10.207.9.4/24 dev r0
ip -n $NS_RES addr add 10.207.9.100/24 dev r0
ip netns exec $NS_RES nft -f - <<'EOF'
table inet pnd {
	chain input {
		type filter hook input priority 0;
		ip daddr 10.207.9.4 tcp dport 9000 drop
	}
}
EOF
mkdir -p /etc/netns/$NS_CONN
cat >/etc/netns/$NS_CONN/hosts <<'EOF'
127.0.0.1 localhost
10.207.9.100 refuse.corp.example
10.207.9.3 refuse.corp.example
10.207.9.100 slow.corp.example
10.207.9.4 slow.corp.example
10.207.9.100 dual.corp.example
fd00:207:99::2 dual.corp.example
10.207.9.100 sink.corp.example
EOF
order() { # name: the addresses in the order the connector's resolver gives them
	ip netns exec $NS_CONN python3 -c 'import socket,sys
print(" ".join(a[4][0] for a in socket.getaddrinfo(sys.argv[1], 9000, type=socket.SOCK_STREAM)))' "$1"
}

pn_bg sink ip netns exec $NS_RES $FE sink 10.207.9.100 9000 "$W/sink.jsonl"
pn_wait_tcp $NS_CONN 10.207.9.100 9000 10 || { bad "sink up"; pn_finish; }

$FIX "$W/pki" ca >/dev/null &&
	$FIX "$W/pki" connector conn1 corp --allow '**.corp.example' tcp 9000 --allow 10.207.9.0/24 tcp 9000 >/dev/null &&
	$FIX "$W/pki" client alice --net corp conn1 --grant corp refuse.corp.example tcp 9000 \
		--grant corp slow.corp.example tcp 9000 --grant corp dual.corp.example tcp 9000 \
		--grant corp sink.corp.example tcp 9000 --grant corp 10.207.9.100 tcp 9000 >/dev/null ||
	{ bad "pki fixture"; pn_finish; }
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/pki/conn1" --listen-udp 10.207.1.1:4433
pn_bg client $C "$PN_BIN" client run --state "$W/pki/alice" --offline --socks 127.0.0.1:1080 \
	--direct "$(cat "$W/pki/conn1/id")=10.207.1.1:4433"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || { bad "client SOCKS5 listening"; pn_finish; }

# upload NAME ID: a complete 1 MiB upload through the connector to NAME
upload() {
	$C $FE upload 127.0.0.1:1080 "$1" 9000 "$2" $((1 << 20)) 0 30
}
sink_end() { # id: the sink's end record
	grep "\"id\": \"$1\"" "$W/sink.jsonl" 2>/dev/null | grep '"end"'
}
complete() { # check-name name id max-seconds
	local t0 out rec sha dt
	t0=$(now)
	out=$(upload "$2" "$3")
	dt=$(since "$t0")
	rec=$(sink_end "$3")
	sha=$(echo "$out" | sed -n 's/^end: fin sha256=\([0-9a-f]*\).*/\1/p')
	if [[ "$out" == *"end: fin"* ]] && [ -n "$sha" ] && [[ "$rec" == *'"end": "fin"'* ]] &&
		[[ "$rec" == *"\"sha256\": \"$sha\""* ]] &&
		le "$dt" "$4"; then
		ok "$1: complete upload, FIN and equal sha256 at the resource in ${dt} s"
	else
		bad "$1 (${dt} s; client: $(echo "$out" | tail -1); resource: ${rec:-none})"
	fi
	conn_alive && ok "$1: connector still running" || { bad "$1: connector died"; pn_finish; }
}

o=$(order refuse.corp.example)
[[ "$o" == "10.207.9.3 "* ]] && ok "refuse.corp.example resolves refusing address first ($o)" ||
	bad "resolver order for refuse.corp.example: $o"
complete "first address refuses" refuse.corp.example refuse 9

o=$(order slow.corp.example)
[[ "$o" == "10.207.9.4 "* ]] && ok "slow.corp.example resolves silent address first ($o)" ||
	bad "resolver order for slow.corp.example: $o"
complete "first address times out (SYN dropped)" slow.corp.example slow 9

echo "# dual.corp.example, no IPv6 route: $(order dual.corp.example)"
complete "AAAA+A name, no IPv6 route" dual.corp.example dual-noroute 9

# An IPv6 route that leads nowhere: the AAAA now sorts first.
ip -n $NS_CONN -6 addr add fd00:207:1::1/64 dev res0 nodad
ip -n $NS_CONN -6 route add default via fd00:207:1::99 dev res0
o=$(order dual.corp.example)
[[ "$o" == "fd00:207:99::2 "* ]] && ok "dual.corp.example resolves AAAA first with a v6 route ($o)" ||
	bad "resolver order for dual.corp.example with a v6 route: $o"
complete "AAAA+A name, IPv6 route to a dead gateway" dual.corp.example dual-deadroute 9
grep -q "flow_start.*dest=dual.corp.example" "$W/connector.log" && ok "connector logged the dual flows" ||
	bad "connector flow_start for dual.corp.example"

# ---- descriptors exhausted ----
# The soft limit becomes the lowest free descriptor number: every new
# descriptor (a socket, /etc/hosts for the resolver) fails with EMFILE.
lowfree=$(python3 -c 'import os,sys
s=set(int(x) for x in os.listdir("/proc/%s/fd" % sys.argv[1]))
print(next(i for i in range(1 << 20) if i not in s))' $PID_connector)
hard=$(prlimit --pid $PID_connector --nofile --noheadings --output HARD --raw)
soft0=$(prlimit --pid $PID_connector --nofile --noheadings --output SOFT --raw)
echo "# connector soft RLIMIT_NOFILE $soft0 -> $lowfree (lowest free descriptor)"
prlimit --pid $PID_connector --nofile=$lowfree:$hard || bad "prlimit"
nexh=0
t_burst=$SECONDS
for i in 1 2 3 4 5 6; do
	out=$($C python3 "$PN_SRC/tests/client/sockscheck.py" reply 127.0.0.1:1080 connect name sink.corp.example 9000 2>&1)
	echo "    by name, attempt $i: $out"
	[[ "$out" == *"reply: 0x01"* ]] && nexh=$((nexh + 1))
done
out=$($C python3 "$PN_SRC/tests/client/sockscheck.py" reply 127.0.0.1:1080 connect v4 10.207.9.100 9000 2>&1)
echo "    by address: $out"
[[ "$out" == *"reply: 0x01"* ]] && nexh=$((nexh + 1))
[ $nexh -eq 7 ] && ok "flows refused while out of descriptors ($nexh of 7, SOCKS 0x01)" ||
	bad "flows refused while out of descriptors ($nexh of 7)"
n=$(grep -c "flow_denied.*exhausted\|reason=connector:exhausted" "$W/client.log")
[ "$n" -eq 7 ] && ok "client was told 'exhausted' ($n flows)" ||
	bad "client told 'exhausted' ($n; $(grep -o 'reason=connector:[a-z_]*' "$W/client.log" | sort | uniq -c | tr -s ' ' | tr '\n' ' '))"
grep -q "reason=connector:resolve_failed" "$W/client.log" && bad "an exhausted connector reported resolve_failed" ||
	ok "no flow reported as resolve_failed"
# One line per 10 s (dial.c EXH_BURST_MS): the 7 refusals take a second on a
# quiet machine, longer on a loaded one.
n=$(grep -c "resource_exhausted" "$W/connector.log")
maxn=$(( (SECONDS - t_burst) / 10 + 1 ))
[ "$n" -ge 1 ] && [ "$n" -le $maxn ] && ok "connector logged the burst $n time(s) in $((SECONDS - t_burst)) s (at most one per 10 s): $(grep -o 'resource_exhausted.*' "$W/connector.log" | head -1 | cut -c1-120)" ||
	bad "connector resource_exhausted lines: $n (want 1..$maxn for a burst of $((SECONDS - t_burst)) s)"
grep -q "resource_exhausted cause=EMFILE" "$W/connector.log" && ok "cause EMFILE logged" || bad "cause EMFILE logged"
prlimit --pid $PID_connector --nofile=$soft0:$hard
complete "after the limit is restored" sink.corp.example restored 5
pn_finish
