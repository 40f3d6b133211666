#!/bin/bash
# Flow reports of real flows: a burst of short TCP flows through a client
# and a `postern connector run` enrolled with a real controller; every flow
# event the connector logged (flow_start / flow_end / flow_deny) must be
# stored by the controller.  Before reports were cut by size, full batches
# of 256 events exceeded the controller's 64 KiB limit, got 413 and were
# thrown away (138 of 50,536 stored in the field).  Needs root (netns).
#
#                     pnq-hub (router; controller https://10.212.0.1:8443)
#   pnq-cli 10.212.1.2 ---+
#   (client, SOCKS5 :1080,|
#    flowburst.py)        +--- 10.212.4.2 pnq-conn (connector, UDP :4433) ---- 10.212.9.2 pnq-res
#                                         10.212.9.1                   (greeter.py :7000)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" flow-reports
HERE=$(cd "$(dirname "$0")" && pwd)
FLOWS=${PN_FLOWS:-3000}

stored_rows() {
	python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True,timeout=10); print(c.execute("select count(*) from flow_events").fetchone()[0])' \
		"$W/ctl/controller.db"
}
logged_events() { grep -c "connector flow_\(start\|end\|deny\) " "$W/connector.log"; }

pn_star 10.212 norelay || pn_finish

pn_bg greeter ip netns exec $NS_RES python3 "$HERE/greeter.py" 10.212.9.2 7000
pn_controller_up || pn_finish
pn_provision greeter 10.212.9.2 tcp/7000 loader || pn_finish
pn_connector_enroll "$TOKEN" || pn_finish
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.212.4.2:4433
pn_wait_log "$W/connector.log" "policy_push" 15 || bad "connector subscribed"
pn_wait_tcp $NS_CONN 10.212.9.2 7000 10 || bad "resource up"
pn_client_login cli "$SA_KEY" || pn_finish
pn_bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_ID=10.212.4.2:4433"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"

t0=$(date +%s)
out=$(ip netns exec $NS_CLI python3 "$HERE/flowburst.py" 127.0.0.1 1080 10.212.9.2 7000 "$FLOWS" 64)
t1=$(date +%s)
okf=$(echo "$out" | grep -o 'ok=[0-9]*' | cut -d= -f2)
[ "${okf:-0}" -ge $((FLOWS * 9 / 10)) ] && ok "$out of $FLOWS flows in $((t1 - t0)) s" ||
	bad "flows: $out of $FLOWS"
# Every event the connector logged reaches the controller (a partial
# batch waits at most a second; allow for a slow machine).
# The log lines and the reports race each other: wait for them to agree.
gen=0 rows=0
for i in $(seq 60); do
	rows=$(stored_rows)
	gen=$(logged_events)
	[ "$rows" = "$gen" ] && [ "$gen" -ge $((okf * 2)) ] && break
	sleep 0.5
done
[ "$rows" = "$gen" ] && [ "$gen" -ge $((okf * 2)) ] &&
	ok "controller stored $rows of $gen flow events the connector logged ($okf flows)" ||
	bad "controller stored $rows of $gen flow events the connector logged"
grep -q "report_refused\|flow_reports_dropped\|report_failed" "$W/connector.log" &&
	bad "reports refused, dropped or failed: $(grep -m3 "report_refused\|flow_reports_dropped\|report_failed" "$W/connector.log")" ||
	ok "no report refused, dropped or failed"
pn_finish
