#!/bin/bash
# Connector failover: the client's access list names two connectors for
# network "corp"; a flow is open through one of them when that connector
# is killed with SIGKILL.  The open flow must end with an explicit error
# (reset / EOF) and not hang; new flows must succeed through the other
# connector.  Needs root (network namespaces).
#
#                        pnc-hub (router)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay)
#   (client, SOCKS5 :1080)+--- 10.203.4.2 pnc-conn1 ---- 10.203.9.2 pnc-res (echo :7)
#                         +--- 10.203.5.2 pnc-conn2 ---- 10.203.10.1 pnc-res
set -uo pipefail
BUILD=${1:?build dir}
PN_TWO_CONNECTORS=1
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-failover
source "$(dirname "$0")/../lib/fixnet.sh"

pn_topo_up
pn_resources
pn_pki_one_connector
pn_start_relay
pn_start_connector conn1
pn_start_connector conn2
# Relayed tunnels: the relay reports the dead connector at once.
pn_start_client alice --socks 127.0.0.1:1080
CHECK="python3 $PN_SRC/tests/client/sockscheck.py"

expect "flow before failure" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7)"
# A long-lived flow, echoing every 50 ms.
$C $CHECK hold 127.0.0.1:1080 10.203.9.2 7 40 >"$W/hold.out" 2>&1 &
hold=$!
pn_wait_tcp $NS_CLI 127.0.0.1 1080 2
pn_wait_log "$W/hold.out" "held: open" 5
expect "held flow open" "held: open" "$(cat "$W/hold.out")"
# Which connector carries it?
js=$($C "$PN_BIN" client status --json --state "$W/pki/alice")
victim=$(echo "$js" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tunnels"]:
    if t["state"] == "up" and t["flows"] > 0:
        print(t["connector"]); break')
for c in conn1 conn2; do [ "$(cat "$W/pki/$c/id")" = "$victim" ] && vname=$c; done
[ -n "${vname:-}" ] && ok "flow is on $vname" || { bad "find the connector of the open flow ($js)"; pn_finish; }
vpid=PID_connector_$vname
t0=$(date +%s.%N)
kill -9 "${!vpid}"
wait "$hold"
ended=$(cat "$W/hold.out")
echo "    $ended"
expect "open flow ended with an explicit error, not a hang" "ended: " "$ended"
[[ "$ended" == *"ended: timeout"* ]] && bad "open flow hung after kill -9"
# New flows go to the surviving connector.
r=$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7 2>&1)
echo "    first new flow done $(python3 -c "import time; print('%.1f' % (time.time() - $t0))") s after the kill: $r"
okn=0
for i in 1 2 3 4 5; do
	r=$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7 2>&1)
	[[ "$r" == *"echo: ok"* ]] && okn=$((okn + 1))
done
expect "new flows after kill -9 succeed via the other connector" "5/5" "$okn/5"
st=$($C "$PN_BIN" client status --state "$W/pki/alice")
echo "$st" | sed 's/^/    /'
expect "status shows the killed connector failed" "failed" "$st"
pn_finish
