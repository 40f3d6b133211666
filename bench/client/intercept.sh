#!/bin/bash
# What interception costs the kernel, without the tunnel (docs/client.md,
# "TPROXY or TUN").  Needs root; runs in a network namespace of its own:
#   bench/client/intercept.sh BUILD [SECS=3] [ROUNDS=3]
# Rows, alternating, ROUNDS times:
#   lo            a TCP stream to 127.0.0.1 (what a SOCKS/forward client's
#                 application costs the kernel)
#   tproxy        the same stream to a synthetic address, taken by an
#                 IP_TRANSPARENT listener through the client's own rules
#                 (src/client/tproxy.c: policy route to lo, nftables tproxy
#                 for new connections only)
#   tproxy-every  the same with tproxy applied to every packet (the rules
#                 before this change)
#   tproxy-syn    tproxy for SYNs only (established packets find their
#                 socket by the normal lookup)
#   tun-mtu1500, tun-mtu65535  the stream routed into a TUN device whose
#                 reader ACKs as a minimal TCP receiver (a lower bound for
#                 a TUN design, before its userspace TCP stack)
# then connections per second: conn-lo, conn-tproxy.
set -uo pipefail
BUILD=${1:?build dir}
SECS=${2:-3}
ROUNDS=${3:-3}
B=$BUILD/bench/client/pn-intercept-cost
NS=pnic-$$
[ -x "$B" ] || { echo "no $B" >&2; exit 2; }
ip netns add $NS || exit 1
trap 'ip netns del $NS' EXIT
X="ip netns exec $NS"
$X ip link set lo up
$X ip rule add to 100.96.0.0/12 lookup 28782 priority 28782
$X ip route add local default dev lo table 28782 src 127.0.0.1
rules() { # new | syn | every
	local skip=""
	[ "$1" = new ] && skip="ip daddr @v4 meta l4proto tcp socket transparent 1 accept"
	[ "$1" = syn ] && skip="ip daddr @v4 tcp flags & (syn | ack) != syn accept"
	$X nft -f - <<NFT
table inet pnic
delete table inet pnic
table inet pnic {
  set v4 { type ipv4_addr; flags interval; elements = { 100.96.0.0/12 }; }
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname != "lo" ip daddr @v4 drop
    $skip
    ip daddr @v4 meta l4proto tcp tproxy ip to 127.0.0.1:15300 accept
  }
}
NFT
}
for r in $(seq "$ROUNDS"); do
	$X "$B" lo "$SECS"
	rules new && $X "$B" tproxy "$SECS" 100.96.0.1 5201 15300
	rules every && $X "$B" tproxy "$SECS" 100.96.0.1 5201 15300 | sed 's/mode=tproxy/mode=tproxy-every/'
	rules syn && $X "$B" tproxy "$SECS" 100.96.0.1 5201 15300 | sed 's/mode=tproxy/mode=tproxy-syn/'
	$X "$B" tun "$SECS" 1500
	$X "$B" tun "$SECS" 65535
done
rules new
for r in $(seq "$ROUNDS"); do
	$X "$B" conn-lo "$SECS"
	$X "$B" conn-tproxy "$SECS" 100.96.0.1 5201 15300
done
