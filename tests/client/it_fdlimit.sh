#!/bin/bash
# Running out of file descriptors (issue 10, item 11), client side.
#  1. Every role raises its soft RLIMIT_NOFILE to the hard limit at start:
#     relay, connector and client started under `prlimit --nofile=256:4096`
#     run with 4096 (read from /proc/PID/limits).
#  2. A client started with a hard limit just above what it needs idle
#     (prlimit) gets 120 connections at once on a port-forward: accept
#     fails with EMFILE.  The client must log it once per burst, with its
#     cause (resource_exhausted ... cause=EMFILE), pause accepting instead of
#     dropping the pending connections (libuv's default closes them unseen),
#     serve every one of them as descriptors come free, log
#     resource_recovered, and keep serving afterwards.
# Needs root (network namespaces).
#
#                        pnc-hub (router)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay)
#   (client, forward      +--- 10.203.4.2 pnc-conn1 ---- 10.203.9.2 pnc-res (echo :7)
#    127.0.0.1:15432 -> 10.203.9.2:7)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-fdlimit
source "$(dirname "$0")/../lib/fixnet.sh"
LOAD="python3 $PN_SRC/tests/client/flowload.py"
FWD=127.0.0.1:15432=10.203.9.2:7

soft_limit() { awk '/^Max open files/ {print $4}' "/proc/$1/limits" 2>/dev/null; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# pid of the postern process under `ip netns exec ... prlimit ...` (exec chain: same pid)
start_client_limited() { # soft hard
	pn_bg client-alice $C prlimit --nofile="$1:$2" -- "$PN_BIN" client run --state "$W/pki/alice" \
		--offline --forward "$FWD" $(pn_direct_args)
	pn_wait_file "$W/pki/alice/client.sock" 10 || bad "client started (limit $1:$2)"
}

pn_topo_up
pn_resources
pn_pki_one_connector
pn_bg relay ip netns exec $NS_RELAY prlimit --nofile=256:4096 -- "$PN_BIN" relay run \
	--state "$W/pki/relay1" --udp 10.203.2.2:3478 --tls 10.203.2.2:4433 --allow-peer 10.203.0.0/16
pn_wait_tcp $NS_CLI 10.203.2.2 4433 10 || bad "relay listening"
pn_bg connector-conn1 ip netns exec $NS_CONN1 prlimit --nofile=256:4096 -- "$PN_BIN" connector run \
	--state "$W/pki/conn1" --listen-udp "$(pn_connector_addr conn1)"
start_client_limited 256 4096
sleep 0.3
expect "relay raised its soft fd limit to the hard one" "4096" "$(soft_limit "$PID_relay")"
expect "connector raised its soft fd limit to the hard one" "4096" "$(soft_limit "$PID_connector_conn1")"
expect "client raised its soft fd limit to the hard one" "4096" "$(soft_limit "$PID_client_alice")"
expect "client logs its fd limit" "fd_limit=4096" "$(grep 'started' "$W/client-alice.log")"

# Measure what the client holds with its tunnel up and no flow open.
r=$($C $LOAD cycles forward:127.0.0.1:15432 x:0 1 1)
expect "warm-up flow" "ok=1 failed=0" "$r"
idle=$(nfds "$PID_client_alice")
echo "    client idle with its tunnel up: $idle descriptors"
kill "$PID_client_alice"
pn_wait_gone "$PID_client_alice" 5
rm -f "$W/pki/alice/client.sock"

# Room for ~25 connections at once; 120 arrive together.
lim=$((idle + 25))
start_client_limited "$lim" "$lim"
pid=$PID_client_alice
r=$($C $LOAD cycles forward:127.0.0.1:15432 x:0 1 1)
expect "warm-up flow (limit $lim)" "ok=1 failed=0" "$r"
r=$($C timeout 120 $LOAD cycles forward:127.0.0.1:15432 x:0 600 120 2>&1)
echo "    $r"
expect "600 flows, 120 at a time, with $lim descriptors: none lost" "ok=600 failed=0" "$r"
# The burst ends after 2 s without a failure.
for i in $(seq 200); do grep -q resource_recovered "$W/client-alice.log" && break; sleep 0.05; done
n_ex=$(grep -c 'resource_exhausted' "$W/client-alice.log")
n_rec=$(grep -c 'resource_recovered' "$W/client-alice.log")
echo "    client log: $n_ex resource_exhausted, $n_rec resource_recovered"
grep -m1 'resource_exhausted' "$W/client-alice.log" | sed 's/^/    /'
grep -m1 'resource_recovered' "$W/client-alice.log" | sed 's/^/    /'
expect "exhaustion logged with its cause" "cause=EMFILE" "$(grep -m1 resource_exhausted "$W/client-alice.log")"
[ "$n_ex" -ge 1 ] && [ "$n_ex" -le 3 ] && ok "logged once per burst ($n_ex lines for 600 flows)" ||
	bad "logged once per burst (got $n_ex lines)"
[ "$n_rec" -ge 1 ] && ok "end of the burst logged" || bad "end of the burst logged"
kill -0 "$pid" 2>/dev/null && ok "client still running" || bad "client still running"
r=$($C $LOAD cycles forward:127.0.0.1:15432 x:0 20 4)
expect "client serves flows afterwards" "ok=20 failed=0" "$r"
st=$($C "$PN_BIN" client status --json --state "$W/pki/alice")
expect "status counts the exhaustion" '"accept_exhausted"' "$st"
pn_finish
