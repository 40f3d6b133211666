#!/bin/bash
# Scale (issue 10, "Must show"): 10,000 connect/echo/close cycles and 5,000
# concurrent flows through one client (port-forward) and one connector, with
# a real controller storing the connector's flow reports.  Afterwards:
#   - the client's and the connector's descriptor counts are back to their
#     baseline (taken with the tunnel up and no flow open);
#   - no process restarted (same pids alive, one start line each);
#   - every flow event reached the controller: a start and an end event per
#     flow the client opened (`postern ctl --json flows`, paginated), and
#     the counts are printed either way.
# Counts: PN_SCALE_CYCLES (default 10000) and PN_SCALE_CONCURRENT (default
# 5000); a sanitizer build (PN_SANITIZE=ON in BUILD's cache) uses 500 and
# 500 unless they are set, to stay within its time budget (the test runs
# alone: RUN_SERIAL).
# Needs root (network namespaces).
#
#                        pnc-hub (router; controller https://10.203.0.1:8443, SQLite)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay, enrolled)
#   client: forward       +--- 10.203.4.2 pnc-conn1 (connector, enrolled) ---- 10.203.9.2 pnc-res
#   127.0.0.1:15432 -> 10.203.9.2:9007                                     (asyncio echo :9007)
#   flowload.py (load generator, asyncio) in pnc-cli
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-scale
source "$(dirname "$0")/../lib/fixnet.sh"
LOAD="python3 $PN_SRC/tests/client/flowload.py"

if grep -q '^PN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	CYCLES=${PN_SCALE_CYCLES:-500} CONCURRENT=${PN_SCALE_CONCURRENT:-500}
	echo "note - sanitizer build: $CYCLES cycles and $CONCURRENT concurrent flows"
else
	CYCLES=${PN_SCALE_CYCLES:-10000} CONCURRENT=${PN_SCALE_CONCURRENT:-5000}
fi
# Every process here holds a socket per concurrent flow (load generator,
# client, connector, echo server): inherit the hard limit.
ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt $((CONCURRENT + 200)) ]; then
	bad "descriptor hard limit $(ulimit -Hn) < $((CONCURRENT + 200)): raise it to run this test"
	pn_finish
fi

pn_topo_up
pn_resources || bad "resources up"
pn_bg bulkecho ip netns exec $NS_RES $LOAD echo 9007
pn_wait_tcp $NS_CONN1 10.203.9.2 9007 10 || bad "echo :9007 up"
pn_controller_up || pn_finish
pn_provision bulk 10.203.9.2 tcp/9007 loadgen || pn_finish
RTOKEN=$($CTL relay add relay1 --udp 10.203.2.2:3478 --tls 10.203.2.2:4433 | grep '^pnt1\.')
mkdir -p "$W/pki"
ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/pki/relay1" >>"$W/enroll.log" 2>&1 ||
	bad "relay enroll"
pn_start_relay
pn_connector_enroll "$TOKEN" conn1 $NS_CONN1
pn_bg connector-conn1 ip netns exec $NS_CONN1 "$PN_BIN" connector run --state "$W/conn1"
pn_client_login alice "$SA_KEY" "$W/pki/alice"
PN_CLIENT_ONLINE=1 pn_start_client alice --forward 127.0.0.1:15432=10.203.9.2:9007

# The connector's process is the one inside `ip netns exec` (exec: same pid).
pids() { echo "$PID_controller $PID_relay $PID_connector_conn1 $PID_client_alice"; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
flows_total() {
	$C "$PN_BIN" client status --json --state "$W/pki/alice" |
		python3 -c 'import json,sys; print(sum(t["flows_total"] for t in json.load(sys.stdin)["tunnels"]))'
}
# Flow events stored by the controller: "start=N end=M deny=K flows_with_both=F"
stored_events() {
	python3 - "$PN_BIN" "$NS_HUB" <<'EOF'
import collections, json, subprocess, sys
binp, ns = sys.argv[1], sys.argv[2]
after, ev, both = 0, collections.Counter(), collections.defaultdict(set)
while True:
    r = subprocess.run(["ip", "netns", "exec", ns, binp, "ctl", "--json", "flows",
                        "--after", str(after), "--limit", "1000"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("query_failed rc=%d %s" % (r.returncode, r.stderr.strip()[:200]))
        sys.exit(1)
    rows = json.loads(r.stdout).get("flow_events", [])
    if not rows:
        break
    for row in rows:
        ev[row.get("event")] += 1
        both[row.get("flow_id")].add(row.get("event"))
        after = max(after, int(row["seq"]))
print("start=%d end=%d deny=%d flows_with_both=%d" % (
    ev["start"], ev["end"], ev["deny"],
    sum(1 for s in both.values() if {"start", "end"} <= s)))
EOF
}

r=$($C $LOAD cycles forward:127.0.0.1:15432 x:0 1 1)
expect "warm-up flow" "ok=1 failed=0" "$r"
sleep 1
p0=$(pids)
fd_cli0=$(nfds "$PID_client_alice") fd_con0=$(nfds "$PID_connector_conn1")
echo "    baseline descriptors: client $fd_cli0, connector $fd_con0"

t0=$SECONDS
r=$($C $LOAD cycles forward:127.0.0.1:15432 x:0 "$CYCLES" 64 2>&1)
echo "    $r"
expect "$CYCLES connect/echo/close cycles" "ok=$CYCLES failed=0" "$r"
r=$($C $LOAD concurrent forward:127.0.0.1:15432 x:0 "$CONCURRENT" 2>&1)
echo "    $r"
expect "$CONCURRENT concurrent flows, all open at once" \
	"open=$CONCURRENT echoed_while_all_open=$CONCURRENT" "$r"
echo "    load took $((SECONDS - t0)) s"

# Descriptors back to the baseline (closing takes a moment).
for i in $(seq 300); do
	fd_cli=$(nfds "$PID_client_alice") fd_con=$(nfds "$PID_connector_conn1")
	[ "$fd_cli" -le "$fd_cli0" ] && [ "$fd_con" -le "$fd_con0" ] && break
	sleep 0.1
done
echo "    descriptors after: client $fd_cli (baseline $fd_cli0), connector $fd_con (baseline $fd_con0)"
[ "$fd_cli" -le "$fd_cli0" ] && ok "client descriptors back to baseline" ||
	bad "client descriptors back to baseline ($fd_cli > $fd_cli0)"
[ "$fd_con" -le "$fd_con0" ] && ok "connector descriptors back to baseline" ||
	bad "connector descriptors back to baseline ($fd_con > $fd_con0)"

alive=0
for p in $(pids); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ "$(pids)" = "$p0" ] && [ "$alive" = 4 ] && ok "no process restarted (controller, relay, connector, client: same pids)" ||
	bad "processes alive: $alive/4 (pids $(pids), were $p0)"
expect "client started once" "1" "$(grep -c ' started ' "$W/client-alice.log")"
expect "connector started once" "1" "$(grep -c ' ready ' "$W/connector-conn1.log")"

# Every flow event stored: a start and an end per flow the client opened.
# The connector reports in batches: wait up to 60 s, or until nothing new
# arrived for 15 s.
nflows=$(flows_total)
last="" t_end=$((SECONDS + 60)) t_last=$SECONDS
while [ $SECONDS -lt $t_end ]; do
	got=$(stored_events)
	[[ "$got" == *"flows_with_both=$nflows"* ]] && break
	[ "$got" != "$last" ] && t_last=$SECONDS
	[ $((SECONDS - t_last)) -ge 15 ] && break
	last=$got
	sleep 1
done
echo "    flows opened by the client: $nflows; flow events stored by the controller: $got"
drops=$(grep -E 'report.*(drop|lost)|dropped' "$W/connector-conn1.log" | tail -2)
[ -n "$drops" ] && echo "    connector log: $drops"
expect "controller stored $nflows start events" "start=$nflows " "$got"
expect "controller stored $nflows end events" "end=$nflows " "$got"
expect "every flow has its start and end event" "flows_with_both=$nflows" "$got"
pn_finish
